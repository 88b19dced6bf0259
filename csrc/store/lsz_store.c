/* socialize.store - the Lua binding of the store (sz_store.h).
 *
 *   local store = require("socialize.store")
 *   local s, err, code = store.open("sqlite:/var/lib/app/socialize.db", { keys = { b64key } })
 *
 * Failures return nil, message, name (a name of sz_store_code_name:
 * "store_busy", "key_mismatch", ...). "Not found" is nil with no message.
 * Wrong argument types raise, before anything is allocated. Every call
 * blocks on the engine's I/O (docs/store.md). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <lauxlib.h>
#include <lua.h>

#include "lsz_compat.h"
#include "lsz_outbox.h"
#include "sz_store_int.h"

#define MT SZ_LSTORE_MT

typedef sz_lstore lstore;

int sz_lstore_fail(lua_State *L, const sz_store_err *e)
{
    lua_pushnil(L);
    lua_pushstring(L, e->msg);
    lua_pushstring(L, sz_store_code_name(e->code));
    return 3;
}

static lstore *self(lua_State *L)
{
    lstore *s = luaL_checkudata(L, 1, MT);
    if (!s->st) luaL_error(L, "the store is closed");
    s->L = L;
    return s;
}

/* t[name]: a string without NUL, or NULL. The string is left on the stack
 * (nil is popped): one an __index made is held by nothing else, and the
 * collector would free it while it is read (the record's next field may run
 * Lua code). */
static const char *opt_field(lua_State *L, int t, const char *name)
{
    luaL_checkstack(L, 2, name);
    lua_getfield(L, t, name);
    const char *v = NULL;
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "%s: a string expected", name);
        v = lua_tostring(L, -1);
        if (strlen(v) != sz_rawlen(L, -1)) luaL_error(L, "%s: holds a NUL byte", name);
        return v;
    }
    lua_pop(L, 1);
    return v;
}

/* a number saturated to +-9e15 (NaN: 0): never an undefined conversion */
int64_t sz_lstore_sat(double d)
{
    return d != d ? 0 : d > 9e15 ? (int64_t)9e15 : d < -9e15 ? (int64_t)-9e15 : (int64_t)d;
}

static int64_t arg_i64(lua_State *L, int i, int64_t dflt)
{
    return lua_isnoneornil(L, i) ? dflt : sz_lstore_sat((double)luaL_checknumber(L, i));
}

int64_t sz_lstore_opt_int(lua_State *L, int t, const char *name, int64_t dflt)
{
    lua_getfield(L, t, name);
    int64_t v = dflt;
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TNUMBER) luaL_error(L, "%s: a number expected", name);
        v = sz_lstore_sat((double)lua_tonumber(L, -1));
    }
    lua_pop(L, 1);
    return v;
}

/* ---- JSON for fields (plain data: strings, numbers, booleans, tables) ---- */
static json_t *to_json(lua_State *L, int i, int depth, const char **why)
{
    switch (lua_type(L, i)) {
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, i, &n);
        json_t *j = json_stringn(s, n);
        if (!j) *why = "a string is not UTF-8";
        return j;
    }
    case LUA_TNUMBER: {
        double d = lua_tonumber(L, i);
        if (d != d || d > 1e300 || d < -1e300) {
            *why = "a number is not finite";
            return NULL;
        }
        if (d == (double)(json_int_t)d && d < 9e15 && d > -9e15) return json_integer((json_int_t)d);
        return json_real(d);
    }
    case LUA_TBOOLEAN: return json_boolean(lua_toboolean(L, i));
    case LUA_TTABLE: break;
    default: *why = "a value is not a string, number, boolean or table"; return NULL;
    }
    if (depth > 8) {
        *why = "nested deeper than 8";
        return NULL;
    }
    if (i < 0) i = lua_gettop(L) + i + 1;
    size_t n = sz_rawlen(L, i);
    luaL_checkstack(L, 4, "fields");
    if (n) { /* a list: 1..n in order, and no other key */
        size_t keys = 0;
        lua_pushnil(L);
        while (lua_next(L, i)) keys++, lua_pop(L, 1);
        if (keys != n) {
            *why = "a list mixes keys";
            return NULL;
        }
        json_t *a = json_array();
        for (size_t k = 1; a && k <= n; k++) {
            lua_rawgeti(L, i, (int)k);
            json_t *v = to_json(L, -1, depth + 1, why);
            lua_pop(L, 1);
            if (!v || json_array_append_new(a, v)) {
                json_decref(a);
                return NULL;
            }
        }
        return a;
    }
    json_t *o = json_object();
    if (!o) return NULL;
    lua_pushnil(L);
    while (lua_next(L, i)) {
        int named = lua_type(L, -2) == LUA_TSTRING && strlen(lua_tostring(L, -2)) == sz_rawlen(L, -2);
        json_t *v = named ? to_json(L, -1, depth + 1, why) : NULL;
        if (!named) *why = "a key is not a string, or holds a NUL byte";
        if (!v || json_object_set_new(o, lua_tostring(L, -2), v)) {
            lua_pop(L, 2);
            json_decref(o);
            if (!*why) *why = "a key is not UTF-8";
            return NULL;
        }
        lua_pop(L, 1);
    }
    return o;
}

static void push_json(lua_State *L, json_t *j, int depth)
{
    luaL_checkstack(L, 3, "fields");
    if (json_is_object(j) && depth < 10) {
        const char *k;
        json_t *v;
        lua_newtable(L);
        json_object_foreach(j, k, v) {
            push_json(L, v, depth + 1);
            lua_setfield(L, -2, k);
        }
    } else if (json_is_array(j) && depth < 10) {
        lua_newtable(L);
        for (size_t i = 0; i < json_array_size(j); i++) {
            push_json(L, json_array_get(j, i), depth + 1);
            lua_rawseti(L, -2, (int)i + 1);
        }
    } else if (json_is_string(j)) {
        lua_pushlstring(L, json_string_value(j), json_string_length(j));
    } else if (json_is_integer(j)) {
        lua_pushinteger(L, (lua_Integer)json_integer_value(j));
    } else if (json_is_real(j)) {
        lua_pushnumber(L, json_real_value(j));
    } else if (json_is_boolean(j)) {
        lua_pushboolean(L, json_is_true(j));
    } else {
        lua_pushnil(L);
    }
}

/* ---- records ---- */
static const char *const ID_NAMES[3][2] = {{"UID", "provider"}, {"provider", "instance"}, {"provider", "key"}};

/* Reads the record at index 2; the secrets array is a userdata left on the stack. */
static void read_record(lua_State *L, sz_rec_kind kind, sz_record *r, char **fields, sz_store_err *e)
{
    luaL_checktype(L, 2, LUA_TTABLE);
    memset(r, 0, sizeof *r);
    r->id1 = opt_field(L, 2, ID_NAMES[kind][0]);
    r->id2 = opt_field(L, 2, ID_NAMES[kind][1]);
    r->account = opt_field(L, 2, "account");
    r->scopes = opt_field(L, 2, "scopes");
    r->lease = opt_field(L, 2, "lease");
    r->expires_at = sz_lstore_opt_int(L, 2, "expiresAt", 0);
    r->updated_at = sz_lstore_opt_int(L, 2, "updatedAt", (int64_t)time(NULL));
    lua_getfield(L, 2, "secrets");
    int si = lua_gettop(L);
    size_t n = 0;
    /* the pairs copied into a table of our own (on the stack until the call
     * returns): the pointers below stay valid whatever a metamethod or a
     * finalizer does to the caller's table meanwhile */
    lua_newtable(L);
    int ai = lua_gettop(L);
    if (!lua_isnil(L, si)) {
        luaL_argcheck(L, lua_type(L, si) == LUA_TTABLE, 2, "secrets: a table expected");
        lua_pushnil(L);
        while (lua_next(L, si)) {
            if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
                luaL_error(L, "secrets: names and values must be strings");
            if (strlen(lua_tostring(L, -2)) != sz_rawlen(L, -2)) luaL_error(L, "secrets: a name holds a NUL byte");
            if (++n > SZ_STORE_MAX_SECRETS) luaL_error(L, "secrets: %d at most", SZ_STORE_MAX_SECRETS);
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_rawset(L, ai); /* leaves the key for lua_next */
        }
    }
    sz_secret *sec = lua_newuserdata(L, (n ? n : 1) * sizeof *sec);
    size_t k = 0;
    int top = lua_gettop(L);
    lua_pushnil(L);
    while (k < n && lua_next(L, ai)) {
        sec[k].name = lua_tostring(L, -2);
        sec[k].value = lua_tolstring(L, -1, &sec[k].len);
        k++;
        lua_pop(L, 1);
    }
    lua_settop(L, top); /* the last key, if the loop stopped at n */
    n = k;
    r->secrets = sec;
    r->nsecrets = n;
    lua_getfield(L, 2, "fields");
    *fields = NULL;
    if (!lua_isnil(L, -1)) {
        luaL_argcheck(L, lua_type(L, -1) == LUA_TTABLE, 2, "fields: a table expected");
        const char *why = NULL;
        json_t *j = to_json(L, -1, 0, &why);
        if (j && !json_is_object(j)) {
            json_decref(j);
            j = NULL;
            why = "not a table of named fields";
        }
        if (j) *fields = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(j);
        if (!*fields) sz_store_seterr(e, SZ_STORE_BAD_INPUT, "fields: %s", why ? why : "out of memory");
    }
    lua_pop(L, 1);
}

static int put_kind(lua_State *L, sz_rec_kind kind)
{
    lstore *s = self(L);
    sz_record r;
    char *fields;
    sz_store_err e = {SZ_STORE_OK, ""};
    read_record(L, kind, &r, &fields, &e);
    if (e.code) return sz_lstore_fail(L, &e);
    r.fields_json = fields;
    int rc = sz_store_put(s->st, kind, &r, &e);
    free(fields);
    if (rc < 0) return sz_lstore_fail(L, &e);
    lua_pushboolean(L, 1);
    return 1;
}

static void push_record(lua_State *L, sz_rec_kind kind, const sz_record_out *o)
{
    lua_createtable(L, 0, 8);
    lua_pushstring(L, o->id1), lua_setfield(L, -2, ID_NAMES[kind][0]);
    lua_pushstring(L, o->id2), lua_setfield(L, -2, ID_NAMES[kind][1]);
    lua_pushstring(L, o->account ? o->account : ""), lua_setfield(L, -2, "account");
    lua_pushstring(L, o->scopes ? o->scopes : ""), lua_setfield(L, -2, "scopes");
    if (o->expires_at) lua_pushinteger(L, (lua_Integer)o->expires_at), lua_setfield(L, -2, "expiresAt");
    lua_pushinteger(L, (lua_Integer)o->updated_at), lua_setfield(L, -2, "updatedAt");
    json_t *j = o->fields_json ? json_loads(o->fields_json, 0, NULL) : NULL;
    if (j) push_json(L, j, 0);
    else lua_newtable(L);
    json_decref(j);
    lua_setfield(L, -2, "fields");
    lua_createtable(L, 0, (int)o->nsecrets);
    for (size_t i = 0; i < o->nsecrets; i++) {
        lua_pushlstring(L, o->secrets[i].value, o->secrets[i].len);
        lua_setfield(L, -2, o->secrets[i].name);
    }
    lua_setfield(L, -2, "secrets");
}

static const char *arg_id(lua_State *L, int i, int required)
{
    if (!required && lua_isnoneornil(L, i)) return NULL;
    size_t n;
    const char *s = luaL_checklstring(L, i, &n);
    if (strlen(s) != n) luaL_argerror(L, i, "holds a NUL byte");
    return s;
}

static int get_kind(lua_State *L, sz_rec_kind kind)
{
    lstore *s = self(L);
    const char *a = arg_id(L, 2, 1), *b = arg_id(L, 3, 1);
    sz_store_err e = {SZ_STORE_OK, ""};
    sz_record_out *o;
    int rc = sz_store_get(s->st, kind, a, b, &o, &e);
    if (rc < 0) return sz_lstore_fail(L, &e);
    if (rc == 0) {
        lua_pushnil(L);
        return 1;
    }
    lua_checkstack(L, 8);
    push_record(L, kind, o); /* may raise on memory only: then o leaks once */
    sz_store_free(o);
    return 1;
}

static int del_kind(lua_State *L, sz_rec_kind kind)
{
    lstore *s = self(L);
    const char *a = arg_id(L, 2, 1), *b = arg_id(L, 3, 0);
    sz_store_err e = {SZ_STORE_OK, ""};
    long long n = sz_store_delete(s->st, kind, a, b, &e);
    if (n < 0) return sz_lstore_fail(L, &e);
    lua_pushinteger(L, (lua_Integer)n);
    return 1;
}

static int l_put_connection(lua_State *L) { return put_kind(L, SZ_REC_CONNECTION); }
static int l_get_connection(lua_State *L) { return get_kind(L, SZ_REC_CONNECTION); }
static int l_delete_connection(lua_State *L) { return del_kind(L, SZ_REC_CONNECTION); }
static int l_put_app(lua_State *L) { return put_kind(L, SZ_REC_APP); }
static int l_get_app(lua_State *L) { return get_kind(L, SZ_REC_APP); }
static int l_delete_app(lua_State *L) { return del_kind(L, SZ_REC_APP); }
static int l_put_session(lua_State *L) { return put_kind(L, SZ_REC_SESSION); }
static int l_get_session(lua_State *L) { return get_kind(L, SZ_REC_SESSION); }
static int l_delete_session(lua_State *L) { return del_kind(L, SZ_REC_SESSION); }

static int l_list_connections(lua_State *L)
{
    lstore *s = self(L);
    const char *uid = arg_id(L, 2, 1);
    sz_store_err e = {SZ_STORE_OK, ""};
    sz_record_out **list;
    size_t n;
    if (sz_store_list(s->st, SZ_REC_CONNECTION, uid, &list, &n, &e) < 0) return sz_lstore_fail(L, &e);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        push_record(L, SZ_REC_CONNECTION, list[i]);
        lua_rawseti(L, -2, (int)i + 1);
    }
    sz_store_free_list(list, n);
    return 1;
}

static int l_put_state(lua_State *L)
{
    lstore *s = self(L);
    luaL_checktype(L, 2, LUA_TTABLE);
    sz_state st;
    memset(&st, 0, sizeof st);
    st.state = opt_field(L, 2, "state");
    st.uid = opt_field(L, 2, "UID");
    st.provider = opt_field(L, 2, "provider");
    st.redirect = opt_field(L, 2, "redirect");
    st.expires_at = sz_lstore_opt_int(L, 2, "expiresAt", 0);
    lua_getfield(L, 2, "verifier");
    if (!lua_isnil(L, -1)) {
        luaL_argcheck(L, lua_type(L, -1) == LUA_TSTRING, 2, "verifier: a string expected");
        st.verifier = lua_tolstring(L, -1, &st.verifier_len);
    }
    sz_store_err e = {SZ_STORE_OK, ""};
    if (sz_store_put_state(s->st, &st, &e) < 0) return sz_lstore_fail(L, &e);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_take_state(lua_State *L)
{
    lstore *s = self(L);
    const char *state = arg_id(L, 2, 1);
    int64_t now = arg_i64(L, 3, (int64_t)time(NULL));
    sz_store_err e = {SZ_STORE_OK, ""};
    sz_state_out *o;
    if (sz_store_take_state(s->st, state, now, &o, &e) < 0) return sz_lstore_fail(L, &e);
    lua_createtable(L, 0, 6);
    lua_pushstring(L, o->state), lua_setfield(L, -2, "state");
    lua_pushstring(L, o->uid), lua_setfield(L, -2, "UID");
    lua_pushstring(L, o->provider), lua_setfield(L, -2, "provider");
    lua_pushstring(L, o->redirect ? o->redirect : ""), lua_setfield(L, -2, "redirect");
    lua_pushinteger(L, (lua_Integer)o->expires_at), lua_setfield(L, -2, "expiresAt");
    if (o->verifier) lua_pushlstring(L, o->verifier, o->verifier_len), lua_setfield(L, -2, "verifier");
    sz_store_free_state(o);
    return 1;
}

static int l_purge(lua_State *L)
{
    lstore *s = self(L);
    int64_t now = arg_i64(L, 2, (int64_t)time(NULL));
    sz_store_err e = {SZ_STORE_OK, ""};
    long long n = sz_store_purge(s->st, now, &e);
    if (n < 0) return sz_lstore_fail(L, &e);
    lua_pushinteger(L, (lua_Integer)n);
    return 1;
}

static int l_block(lua_State *L)
{
    lstore *s = self(L);
    const char *p = arg_id(L, 2, 1), *k = arg_id(L, 3, 0);
    int64_t until = sz_lstore_sat((double)luaL_checknumber(L, 4));
    sz_store_err e = {SZ_STORE_OK, ""};
    if (sz_store_block(s->st, p, k, until, &e) < 0) return sz_lstore_fail(L, &e);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_blocked(lua_State *L)
{
    lstore *s = self(L);
    const char *p = arg_id(L, 2, 1), *k = arg_id(L, 3, 0);
    int64_t now = arg_i64(L, 4, (int64_t)time(NULL));
    const char *k2 = arg_id(L, 5, 0); /* a second key: the later of the two */
    sz_store_err e = {SZ_STORE_OK, ""};
    int64_t until = sz_store_blocked2(s->st, p, k, k2, now, &e);
    if (until < 0) return sz_lstore_fail(L, &e);
    if (until == 0) lua_pushnil(L);
    else lua_pushinteger(L, (lua_Integer)until);
    return 1;
}

/* store:blocked_list(now?, max?) -> { {provider =, key =, ["until"] =}, ... } */
static int l_blocked_list(lua_State *L)
{
    lstore *s = self(L);
    int64_t now = arg_i64(L, 2, (int64_t)time(NULL)), max = arg_i64(L, 3, 10000);
    sz_store_err e = {SZ_STORE_OK, ""};
    sz_blocked_entry *list;
    size_t n;
    if (sz_store_blocked_list(s->st, now, max > 0 ? (size_t)(max > 100000 ? 100000 : max) : 0, &list, &n, &e) < 0)
        return sz_lstore_fail(L, &e);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_createtable(L, 0, 3);
        lua_pushstring(L, list[i].provider), lua_setfield(L, -2, "provider");
        lua_pushstring(L, list[i].key), lua_setfield(L, -2, "key");
        lua_pushinteger(L, (lua_Integer)list[i].until), lua_setfield(L, -2, "until");
        lua_rawseti(L, -2, (int)i + 1);
    }
    sz_store_free_blocked(list, n);
    return 1;
}

/* store:unblock(provider?, key?) -> how many entries were cleared */
static int l_unblock(lua_State *L)
{
    lstore *s = self(L);
    const char *p = arg_id(L, 2, 0), *k = arg_id(L, 3, 0);
    sz_store_err e = {SZ_STORE_OK, ""};
    long long c = sz_store_unblock(s->st, p, k, &e);
    if (c < 0) return sz_lstore_fail(L, &e);
    lua_pushinteger(L, (lua_Integer)c);
    return 1;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int l_now_ms(lua_State *L)
{
    lua_pushnumber(L, (lua_Number)now_ms());
    return 1;
}

static int l_sleep(lua_State *L)
{
    double sec = luaL_checknumber(L, 1);
    if (!(sec > 0)) return 0;
    if (sec > 1) sec = 1;
    struct timespec ts = {(time_t)sec, (long)((sec - (double)(time_t)sec) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
    return 0;
}

static int l_lock(lua_State *L)
{
    lstore *s = self(L);
    const char *uid = arg_id(L, 2, 1), *p = arg_id(L, 3, 1);
    int64_t now = arg_i64(L, 4, (int64_t)now_ms());
    int64_t ttl = arg_i64(L, 5, 30000);
    char token[40];
    sz_store_err e = {SZ_STORE_OK, ""};
    if (sz_store_lock(s->st, uid, p, now, ttl, token, sizeof token, &e) < 0) return sz_lstore_fail(L, &e);
    lua_pushstring(L, token);
    return 1;
}

static int l_unlock(lua_State *L)
{
    lstore *s = self(L);
    const char *uid = arg_id(L, 2, 1), *p = arg_id(L, 3, 1), *t = arg_id(L, 4, 1);
    sz_store_err e = {SZ_STORE_OK, ""};
    if (sz_store_unlock(s->st, uid, p, t, &e) < 0) return sz_lstore_fail(L, &e);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_rotate(lua_State *L)
{
    lstore *s = self(L);
    sz_store_err e = {SZ_STORE_OK, ""};
    long long n = sz_store_rotate(s->st, &e);
    if (n < 0) return sz_lstore_fail(L, &e);
    lua_pushinteger(L, (lua_Integer)n);
    return 1;
}

static int l_info(lua_State *L)
{
    lstore *s = self(L);
    lua_createtable(L, 0, 5);
    lua_pushstring(L, sz_store_engine(s->st)), lua_setfield(L, -2, "engine");
    lua_pushinteger(L, sz_store_schema_version(s->st)), lua_setfield(L, -2, "schema");
    lua_createtable(L, (int)s->st->nkeys, 0);
    for (size_t i = 0; i < s->st->nkeys; i++) lua_pushstring(L, s->st->keys[i].id), lua_rawseti(L, -2, (int)i + 1);
    lua_setfield(L, -2, "keyIds");
    lua_pushboolean(L, s->st->plaintext && s->st->nkeys == 0), lua_setfield(L, -2, "plaintext");
    int sync = sz_store_outbox_sync(s->st);
    double w = sz_store_outbox_sync_window(s->st);
    if (sync == SZ_SYNC_WINDOW && w == (double)(long long)w)
        lua_pushinteger(L, (lua_Integer)w); /* 1, not 1.0 */
    else if (sync == SZ_SYNC_WINDOW)
        lua_pushnumber(L, (lua_Number)w);
    else
        lua_pushstring(L, sync == SZ_SYNC_NORMAL ? "normal" : "full");
    lua_setfield(L, -2, "outboxSync");
    return 1;
}

/* Test hook: SQLite's PRAGMA synchronous now (1 NORMAL, 2 FULL) and how
 * many transactions committed with FULL since open; nil on PostgreSQL */
static int l_sync_level(lua_State *L)
{
    lstore *s = self(L);
    int level = sz_store_sync_level(s->st);
    if (level < 0) return 0;
    lua_pushinteger(L, level);
    lua_pushinteger(L, (lua_Integer)sz_store_synced_commits(s->st));
    return 2;
}

static int hook_call(void *ud)
{
    lstore *s = ud;
    lua_State *L = s->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->hook);
    int r = lua_pcall(L, 0, 1, 0);
    int stop = r != 0 || (lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1));
    lua_pop(L, 1);
    return stop;
}

/* Test hook: fn() runs inside each write transaction before COMMIT;
 * returning false (or raising) rolls back. nil removes it. */
static int l_set_before_commit(lua_State *L)
{
    lstore *s = self(L);
    if (s->hook != LUA_NOREF) luaL_unref(L, LUA_REGISTRYINDEX, s->hook);
    s->hook = LUA_NOREF;
    if (lua_isnoneornil(L, 2)) {
        sz_store_set_before_commit(s->st, NULL, NULL);
        return 0;
    }
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_pushvalue(L, 2);
    s->hook = luaL_ref(L, LUA_REGISTRYINDEX);
    sz_store_set_before_commit(s->st, hook_call, s);
    return 0;
}

static int l_close(lua_State *L)
{
    lstore *s = luaL_checkudata(L, 1, MT);
    if (s->st) sz_store_close(s->st);
    s->st = NULL;
    if (s->hook != LUA_NOREF) luaL_unref(L, LUA_REGISTRYINDEX, s->hook);
    s->hook = LUA_NOREF;
    return 0;
}

/* store.open(url, { keys = {...}, plaintext = bool, busyTimeout = ms, maxPages = n,
 *                   outboxSync = "full" | "normal" | seconds (default 1) }) */
static int l_open(lua_State *L)
{
    const char *url = arg_id(L, 1, 1);
    const char *keys[SZ_STORE_MAX_KEYS + 1];
    sz_store_opts o;
    memset(&o, 0, sizeof o);
    o.keys = keys;
    o.outbox_sync = SZ_SYNC_WINDOW, o.outbox_sync_window = 1.0; /* the default: docs/store.md "Durability" */
    int have_keys = 0;
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        lua_getfield(L, 2, "plaintext");
        o.plaintext = lua_toboolean(L, -1);
        lua_pop(L, 1);
        o.busy_timeout_ms = (int)sz_lstore_opt_int(L, 2, "busyTimeout", 0);
        o.max_pages = sz_lstore_opt_int(L, 2, "maxPages", 0);
        lua_getfield(L, 2, "outboxSync");
        if (lua_type(L, -1) == LUA_TNUMBER) {
            double w = (double)lua_tonumber(L, -1);
            if (!(w > 0 && w <= SZ_SYNC_WINDOW_MAX)) /* NaN, infinities, 0 and negatives fail */
                luaL_argerror(L, 2, "outboxSync: \"full\", \"normal\" or seconds (0 < N <= 3600) expected");
            o.outbox_sync_window = w;
        } else if (!lua_isnil(L, -1)) {
            const char *sync = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
            if (strcmp(sync, "normal") == 0)
                o.outbox_sync = SZ_SYNC_NORMAL;
            else if (strcmp(sync, "full") == 0)
                o.outbox_sync = SZ_SYNC_FULL;
            else
                luaL_argerror(L, 2, "outboxSync: \"full\", \"normal\" or seconds (0 < N <= 3600) expected");
        }
        lua_pop(L, 1);
        lua_getfield(L, 2, "keys");
        if (!lua_isnil(L, -1)) {
            luaL_argcheck(L, lua_type(L, -1) == LUA_TTABLE, 2, "keys: a list of Base64 strings expected");
            size_t n = sz_rawlen(L, -1);
            if (n > SZ_STORE_MAX_KEYS) luaL_error(L, "keys: %d at most", SZ_STORE_MAX_KEYS);
            for (size_t i = 0; i < n; i++) {
                lua_rawgeti(L, -1, (int)i + 1);
                if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "keys[%d]: a string expected", (int)i + 1);
                keys[i] = lua_tostring(L, -1);
                lua_pop(L, 1); /* kept alive by the keys table */
            }
            o.nkeys = n;
            have_keys = 1;
        }
    }
    char envbuf[SZ_STORE_MAX_KEYS * 48];
    if (!have_keys) { /* SOCIALIZE_STORE_KEY: one key, or several separated by commas */
        const char *env = getenv("SOCIALIZE_STORE_KEY");
        if (env && *env && strlen(env) < sizeof envbuf) {
            strcpy(envbuf, env);
            for (char *p = strtok(envbuf, ", "); p && o.nkeys < SZ_STORE_MAX_KEYS; p = strtok(NULL, ", "))
                keys[o.nkeys++] = p;
        }
    }
    lstore *s = lua_newuserdata(L, sizeof *s);
    s->st = NULL;
    s->L = L;
    s->hook = LUA_NOREF;
    luaL_getmetatable(L, MT);
    lua_setmetatable(L, -2);
    sz_store_err e = {SZ_STORE_OK, ""};
    s->st = sz_store_open(url, &o, &e);
    memset(envbuf, 0, sizeof envbuf);
    if (!s->st) return sz_lstore_fail(L, &e);
    return 1;
}

/* with_lock(UID, provider, fn, opts): takes the lease (waiting with backoff,
 * bounded by opts.wait ms), re-reads the connection, calls fn(connection,
 * lease) and gives the lease back, even when fn raises. Written in Lua so
 * that fn may yield (cosockets) and opts.sleep may be ngx.sleep.
 * opts.unprotected: fn is called without pcall (Lua 5.1, where a yield
 * cannot cross pcall): should it raise, the lease is not given back and
 * runs out by its ttl. */
static const char WITH_LOCK[] =
    "local now_ms, csleep = ...\n"
    "local unpack, select, pcall, error, random, min = table.unpack or unpack, select, pcall, error, math.random, math.min\n"
    "local function pack(...) return { n = select('#', ...), ... } end\n"
    "return function(self, uid, provider, fn, opts)\n"
    "  opts = opts or {}\n"
    "  local ttl, wait = opts.ttl or 30000, opts.wait or 10000\n"
    "  local sleep, clock = opts.sleep or csleep, opts.now_ms or now_ms\n"
    "  local start, delay, token, err, code = clock(), 0.001\n"
    "  while true do\n"
    "    token, err, code = self:lock(uid, provider, clock(), ttl)\n"
    "    if token then break end\n"
    "    if code ~= 'lock_busy' then return nil, err, code end\n"
    "    if clock() - start >= wait then\n"
    "      return nil, 'timed out waiting for the lock on this connection', 'lock_timeout' end\n"
    "    sleep(delay * (0.5 + random())); delay = min(delay * 2, 0.05)\n"
    "  end\n"
    "  local conn, gerr, gcode = self:get_connection(uid, provider)\n"
    "  if gerr then self:unlock(uid, provider, token); return nil, gerr, gcode end\n"
    "  local res\n"
    "  if opts.unprotected then res = pack(true, fn(conn, token))\n"
    "  else res = pack(pcall(fn, conn, token)) end\n"
    "  local ok, uerr, ucode = self:unlock(uid, provider, token)\n"
    "  if not res[1] then error(res[2], 0) end\n"
    "  if not ok then return nil, uerr, ucode end\n"
    "  return unpack(res, 2, res.n)\n"
    "end\n";

static const luaL_Reg METHODS[] = {
    {"put_connection", l_put_connection}, {"get_connection", l_get_connection},
    {"list_connections", l_list_connections}, {"delete_connection", l_delete_connection},
    {"put_app", l_put_app}, {"get_app", l_get_app}, {"delete_app", l_delete_app},
    {"put_session", l_put_session}, {"get_session", l_get_session}, {"delete_session", l_delete_session},
    {"put_state", l_put_state}, {"take_state", l_take_state}, {"purge", l_purge},
    {"block", l_block}, {"blocked", l_blocked}, {"blocked_list", l_blocked_list}, {"unblock", l_unblock}, {"lock", l_lock}, {"unlock", l_unlock},
    {"rotate", l_rotate}, {"info", l_info}, {"close", l_close}, {"_before_commit", l_set_before_commit},
    {"_sync_level", l_sync_level},
    {NULL, NULL}};

SZ_LUAOPEN int luaopen_socialize_store(lua_State *L)
{
    static const luaL_Reg FUNCS[] = {{"open", l_open}, {"now_ms", l_now_ms}, {"sleep", l_sleep}, {NULL, NULL}};
    if (luaL_newmetatable(L, MT)) {
        lua_newtable(L);
        sz_setfuncs(L, METHODS, 0);
        if (luaL_loadbuffer(L, WITH_LOCK, sizeof WITH_LOCK - 1, "=socialize.store.with_lock") != 0)
            return lua_error(L);
        lua_pushcfunction(L, l_now_ms);
        lua_pushcfunction(L, l_sleep);
        lua_call(L, 2, 1);
        lua_setfield(L, -2, "with_lock");
        sz_lstore_outbox_methods(L); /* lsz_outbox.c */
        sz_lstore_txn_methods(L);    /* lsz_txn.c */
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, l_close);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    sz_newlib(L, FUNCS);
    return 1;
}
