/* The host's transaction in socialize.store (sz_txn.c, docs/delivery.md):
 *
 *   local ok, err = s:transaction(function(tx)
 *       assert(tx:exec("INSERT INTO orders (id, total) VALUES ($1, $2)", id, 1250))
 *       local rows = assert(tx:query("SELECT id, total FROM orders WHERE id = $1", id))
 *       assert(client:publishUserAction(params, { deliver = "queued", tx = tx }))
 *   end)
 *
 * fn runs inside one engine transaction: committed when it returns, rolled
 * back when it raises (raised again) or returns nil, err (answered), or when
 * a statement inside failed. Values are bound by position ($1..$n), never
 * written into the SQL; rows come back as text (or nil for NULL), by column
 * name and by position. After the transaction tx is dead: its calls answer
 * nil, message, "no_transaction". */
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lsz_compat.h"
#include "lsz_outbox.h"
#include "sz_store_int.h"

#define TX_MT "socialize.store.tx"

typedef struct {
    sz_lstore *ls;     /* NULL once ended */
    int ref;           /* the store's userdata, kept alive while the transaction is open */
    unsigned serial;
} ltx;

static int fail_msg(lua_State *L, sz_store_code code, const char *msg)
{
    sz_store_err e;
    e.code = code;
    strncpy(e.msg, msg, sizeof e.msg - 1);
    e.msg[sizeof e.msg - 1] = 0;
    return sz_lstore_fail(L, &e);
}

/* the store a live tx is of, or NULL (the transaction ended, or the store closed) */
static sz_store *tx_store(ltx *t)
{
    if (!t->ls || !t->ls->st) return NULL;
    sz_store *st = t->ls->st;
    return st->host_txn && st->host_serial == t->serial ? st : NULL;
}

static void tx_kill(lua_State *L, ltx *t)
{
    if (t->ref != LUA_NOREF) luaL_unref(L, LUA_REGISTRYINDEX, t->ref);
    t->ref = LUA_NOREF;
    t->ls = NULL;
}

int sz_ltx_check(lua_State *L, int i, const sz_lstore *owner)
{
    ltx *t = lua_touserdata(L, i);
    if (!t || !lua_getmetatable(L, i)) return SZ_LTX_NOT_TX;
    luaL_getmetatable(L, TX_MT);
    int is_tx = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    if (!is_tx) return SZ_LTX_NOT_TX;
    if (!tx_store(t)) return SZ_LTX_ENDED;
    return t->ls == owner ? SZ_LTX_LIVE : SZ_LTX_OTHER;
}

/* begin(store, outbox) -> tx | nil, message, name; outbox: the outbox's own
 * batch (sz_store_txn_begin_outbox) */
static int l_begin(lua_State *L)
{
    sz_lstore *s = luaL_checkudata(L, 1, SZ_LSTORE_MT);
    if (!s->st) luaL_error(L, "the store is closed");
    s->L = L;
    sz_store_err e = {SZ_STORE_OK, ""};
    int r = lua_toboolean(L, 2) ? sz_store_txn_begin_outbox(s->st, &e) : sz_store_txn_begin(s->st, &e);
    if (r < 0) return sz_lstore_fail(L, &e);
    ltx *t = lua_newuserdata(L, sizeof *t);
    t->ls = NULL, t->ref = LUA_NOREF, t->serial = s->st->host_serial;
    luaL_getmetatable(L, TX_MT);
    lua_setmetatable(L, -2);
    lua_pushvalue(L, 1);
    t->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    t->ls = s;
    return 1;
}

/* store:_txn_end(tx, commit) -> true | nil, message, name; tx is dead after */
static int l_end(lua_State *L)
{
    sz_lstore *s = luaL_checkudata(L, 1, SZ_LSTORE_MT);
    ltx *t = luaL_checkudata(L, 2, TX_MT);
    int commit = lua_toboolean(L, 3);
    sz_store *st = t->ls == s ? tx_store(t) : NULL;
    tx_kill(L, t);
    if (!st) return fail_msg(L, SZ_STORE_NO_TXN, "tx: the transaction has ended");
    s->L = L;
    sz_store_err e = {SZ_STORE_OK, ""};
    if (!commit) {
        sz_store_txn_rollback(st);
    } else if (sz_store_txn_commit(st, &e) < 0) {
        return sz_lstore_fail(L, &e);
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* the values from index `from` on, bound by position */
static int read_values(lua_State *L, int from, sz_sql_value *v)
{
    int n = lua_gettop(L) - from + 1;
    if (n < 0) n = 0;
    if (n > SZ_STORE_MAX_COLS) luaL_error(L, "sql: at most %d values", SZ_STORE_MAX_COLS);
    for (int i = 0; i < n; i++) {
        int k = from + i;
        memset(&v[i], 0, sizeof v[i]);
        switch (lua_type(L, k)) {
        case LUA_TNIL: v[i].type = SZ_SQL_NULL; break;
        case LUA_TBOOLEAN: v[i].type = SZ_SQL_INTEGER, v[i].integer = lua_toboolean(L, k); break;
        case LUA_TSTRING: v[i].type = SZ_SQL_TEXT, v[i].text = lua_tolstring(L, k, &v[i].len); break;
        case LUA_TNUMBER: {
            double d = (double)lua_tonumber(L, k);
            if (sz_isinteger(L, k)) {
                v[i].type = SZ_SQL_INTEGER, v[i].integer = (int64_t)lua_tointeger(L, k);
            } else if (d == d && d >= -9007199254740992.0 && d <= 9007199254740992.0 && d == (double)(int64_t)d) {
                v[i].type = SZ_SQL_INTEGER, v[i].integer = (int64_t)d;
            } else {
                v[i].type = SZ_SQL_REAL, v[i].real = d;
            }
            break;
        }
        default:
            luaL_error(L, "sql: $%d is a %s (a string, number, boolean or nil expected)", i + 1,
                       luaL_typename(L, k));
        }
    }
    return n;
}

typedef struct {
    lua_State *L;
    int names; /* stack index of the names list */
    int list;  /* stack index of the rows list */
    int nrows;
} collect;

static int add_row(void *ud, int ncol, const char *const *vals, const size_t *lens)
{
    collect *c = ud;
    lua_State *L = c->L;
    if (!lens) { /* the column names */
        lua_createtable(L, ncol, 0);
        for (int i = 0; i < ncol; i++) lua_pushstring(L, vals[i] ? vals[i] : "?"), lua_rawseti(L, -2, i + 1);
        lua_replace(L, c->names);
        return 0;
    }
    lua_createtable(L, ncol, ncol);
    for (int i = 0; i < ncol; i++) {
        if (!vals[i]) continue;
        lua_pushlstring(L, vals[i], lens[i]);
        lua_pushvalue(L, -1);
        lua_rawseti(L, -3, i + 1);
        lua_rawgeti(L, c->names, i + 1);
        lua_insert(L, -2);
        lua_rawset(L, -3);
    }
    lua_rawseti(L, c->list, ++c->nrows);
    return 0;
}

static int run(lua_State *L, int query)
{
    ltx *t = luaL_checkudata(L, 1, TX_MT);
    size_t n;
    const char *sql = luaL_checklstring(L, 2, &n);
    if (strlen(sql) != n) luaL_argerror(L, 2, "holds a NUL byte");
    sz_sql_value v[SZ_STORE_MAX_COLS];
    int nv = read_values(L, 3, v);
    sz_store *st = tx_store(t);
    if (!st) return fail_msg(L, SZ_STORE_NO_TXN, "tx: the transaction has ended");
    t->ls->L = L;
    lua_settop(L, nv + 2); /* the values stay alive below */
    collect c = {L, 0, 0, 0};
    if (query) {
        lua_checkstack(L, 8);
        lua_newtable(L);
        c.names = lua_gettop(L);
        lua_newtable(L);
        c.list = lua_gettop(L);
    }
    sz_store_err e = {SZ_STORE_OK, ""};
    long long changes = 0;
    if (sz_store_txn_exec(st, sql, v, nv, query ? add_row : NULL, &c, &changes, &e) < 0) return sz_lstore_fail(L, &e);
    if (!query) lua_pushinteger(L, (lua_Integer)changes);
    return 1;
}

/* tx:exec(sql, ...) -> the number of rows changed | nil, message, name */
static int l_exec(lua_State *L) { return run(L, 0); }
/* tx:query(sql, ...) -> { {col = "text", [1] = "text"}, ... } | nil, message, name */
static int l_query(lua_State *L) { return run(L, 1); }

/* tx:state() -> "open" | "failed" | "ended" */
static int l_state(lua_State *L)
{
    ltx *t = luaL_checkudata(L, 1, TX_MT);
    sz_store *st = tx_store(t);
    lua_pushstring(L, !st ? "ended" : st->host_txn == 2 ? "failed" : "open");
    return 1;
}

static int l_tostring(lua_State *L)
{
    ltx *t = luaL_checkudata(L, 1, TX_MT);
    sz_store *st = tx_store(t);
    lua_pushfstring(L, "socialize.store.tx (%s)", !st ? "ended" : st->host_txn == 2 ? "failed" : "open");
    return 1;
}

static int l_gc(lua_State *L)
{
    ltx *t = luaL_checkudata(L, 1, TX_MT);
    tx_kill(L, t);
    return 0;
}

/* store:transaction(fn, ...): written in Lua so that the error fn raises
 * is raised again as it was (a table stays a table). */
static const char TRANSACTION[] =
    "local begin, finish, outbox = ...\n"
    "local unpack, select, pcall, error, type = table.unpack or unpack, select, pcall, error, type\n"
    "local function pack(...) return { n = select('#', ...), ... } end\n"
    "return function(self, fn, ...)\n"
    "  if type(fn) ~= 'function' then\n"
    "    error(\"bad argument #1 to 'transaction' (function expected, got \" .. type(fn) .. ')', 2) end\n"
    "  local tx, err, code = begin(self, outbox)\n"
    "  if not tx then return nil, err, code end\n"
    "  local res = pack(pcall(fn, tx, ...))\n"
    "  if not res[1] then finish(self, tx, false); error(res[2], 0) end\n"
    "  if not res[2] and res.n >= 3 and res[3] ~= nil then\n"
    "    finish(self, tx, false)\n"
    "    return nil, unpack(res, 3, res.n)\n"
    "  end\n"
    "  local ok, cerr, ccode = finish(self, tx, true)\n"
    "  if not ok then return nil, cerr, ccode end\n"
    "  if res.n == 1 then return true end\n"
    "  return unpack(res, 2, res.n)\n"
    "end\n";

void sz_lstore_txn_methods(lua_State *L)
{
    static const luaL_Reg TX[] = {{"exec", l_exec}, {"query", l_query}, {"state", l_state}, {NULL, NULL}};
    if (luaL_newmetatable(L, TX_MT)) {
        lua_newtable(L);
        sz_setfuncs(L, TX, 0);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, l_tostring);
        lua_setfield(L, -2, "__tostring");
        lua_pushcfunction(L, l_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushliteral(L, "locked");
        lua_setfield(L, -2, "__metatable");
    }
    lua_pop(L, 1);
    /* transaction, and outbox_transaction: the outbox's own batch of
     * enqueues (client:enqueueMany), committed with the store's outboxSync */
    for (int outbox = 0; outbox <= 1; outbox++) {
        if (luaL_loadbuffer(L, TRANSACTION, sizeof TRANSACTION - 1, "=socialize.store.transaction") != 0)
            lua_error(L);
        lua_pushcfunction(L, l_begin);
        lua_pushcfunction(L, l_end);
        lua_pushboolean(L, outbox);
        lua_call(L, 3, 1);
        lua_setfield(L, -2, outbox ? "outbox_transaction" : "transaction");
    }
}
