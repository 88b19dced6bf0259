/* The outbox methods of socialize.store (sz_store.h, docs/delivery.md):
 *
 *   local id, existed = s:enqueue{ UID = u, method = m, params = json_text,
 *       providers = {...}, key = k?, window = s?, now = t, runAt = t? }
 *   local list = s:claim(worker, now, lease_seconds, limit)
 *   s:record(jobID, provider, worker, now, { state = "sent", postID = ... })
 *   local res, n = s:record_many(worker, now, { { jobID =, provider =, state =, ... }, ... })
 *   s:progress(jobID, provider, worker, now, lease_seconds, postID)
 *   s:job(id), s:jobs{ UID?, status?, limit? }, s:cancel(id, now),
 *   s:retry(id, provider?, now), s:resolve(id, provider, "sent"|"resend", now),
 *   s:resume(UID, provider, now), s:prune(before)
 *
 * Failures return nil, message, name (as the other methods: "job_unknown",
 * "job_sending", "bad_state", "lease_lost", "bad_input", ...). Wrong
 * argument types raise before anything is written. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>

#include "lsz_compat.h"
#include "lsz_outbox.h"

static sz_store *store_of(lua_State *L)
{
    sz_lstore *s = luaL_checkudata(L, 1, SZ_LSTORE_MT);
    if (!s->st) luaL_error(L, "the store is closed");
    s->L = L;
    return s->st;
}

static int64_t arg_time(lua_State *L, int i)
{
    return lua_isnoneornil(L, i) ? (int64_t)time(NULL) : sz_lstore_sat((double)luaL_checknumber(L, i));
}

static const char *arg_str(lua_State *L, int i, int required)
{
    if (!required && lua_isnoneornil(L, i)) return NULL;
    size_t n;
    const char *s = luaL_checklstring(L, i, &n);
    if (strlen(s) != n) luaL_argerror(L, i, "holds a NUL byte");
    return s;
}

/* t[name]: a string without NUL (or nil). The string is left on the stack
 * (nil is popped): one an __index made is held by nothing else, and the
 * collector would free it while it is read (a later field may run Lua
 * code). The caller counts on one slot per string. */
static const char *field_str(lua_State *L, int t, const char *name, size_t *len)
{
    luaL_checkstack(L, 2, name);
    lua_getfield(L, t, name);
    const char *v = NULL;
    size_t n = 0;
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "%s: a string expected", name);
        v = lua_tolstring(L, -1, &n);
        if (!len && strlen(v) != n) luaL_error(L, "%s: holds a NUL byte", name);
    } else {
        lua_pop(L, 1);
    }
    if (len) *len = n;
    return v;
}

static void set_str(lua_State *L, const char *k, const char *v)
{
    if (!v) return;
    lua_pushstring(L, v);
    lua_setfield(L, -2, k);
}

static void set_int(lua_State *L, const char *k, int64_t v, int always)
{
    if (!v && !always) return;
    lua_pushinteger(L, (lua_Integer)v);
    lua_setfield(L, -2, k);
}

static void push_delivery(lua_State *L, const sz_delivery_out *d)
{
    lua_createtable(L, 0, 20);
    set_str(L, "jobID", d->job_id), set_str(L, "provider", d->provider), set_str(L, "state", d->state);
    set_int(L, "attempts", d->attempts, 1), set_int(L, "nextAt", d->next_at, 0);
    set_str(L, "leaseOwner", d->lease_owner), set_int(L, "leaseUntil", d->lease_until, 0);
    set_str(L, "idempotencyKey", d->idem_key), set_str(L, "postID", d->post_id);
    set_int(L, "errorCode", d->error_code, 0), set_str(L, "category", d->error_category);
    set_str(L, "reason", d->error_reason), set_int(L, "sentAt", d->sent_at, 0);
    set_int(L, "waitUntil", d->wait_until, 0), set_int(L, "updatedAt", d->updated_at, 1);
    set_str(L, "prevState", d->prev_state), set_str(L, "UID", d->uid), set_str(L, "method", d->method);
    if (d->params_json) lua_pushlstring(L, d->params_json, d->params_len), lua_setfield(L, -2, "params");
}

static void push_job(lua_State *L, const sz_job_out *j, int with_params)
{
    lua_createtable(L, 0, 10);
    set_str(L, "jobID", j->id), set_str(L, "UID", j->uid), set_str(L, "method", j->method);
    set_str(L, "key", j->dedup_key), set_str(L, "status", j->status);
    set_int(L, "createdAt", j->created_at, 1), set_int(L, "runAt", j->run_at, 1);
    set_int(L, "updatedAt", j->updated_at, 1);
    if (with_params && j->params_json) lua_pushlstring(L, j->params_json, j->params_len), lua_setfield(L, -2, "params");
    lua_createtable(L, (int)j->ndeliveries, 0);
    for (size_t i = 0; i < j->ndeliveries; i++) {
        push_delivery(L, &j->deliveries[i]);
        lua_rawseti(L, -2, (int)i + 1);
    }
    lua_setfield(L, -2, "deliveries");
}

static int l_enqueue(lua_State *L)
{
    sz_store *st = store_of(L);
    luaL_checktype(L, 2, LUA_TTABLE);
    sz_job_in j;
    memset(&j, 0, sizeof j);
    lua_getfield(L, 2, "tx"); /* the host's transaction to write in (lsz_txn.c) */
    if (!lua_isnil(L, -1)) {
        int k = sz_ltx_check(L, -1, lua_touserdata(L, 1));
        sz_store_err te = {k == SZ_LTX_ENDED ? SZ_STORE_NO_TXN : SZ_STORE_BAD_INPUT, ""};
        if (k != SZ_LTX_LIVE) {
            strcpy(te.msg, k == SZ_LTX_OTHER    ? "tx: a transaction of another store"
                           : k == SZ_LTX_ENDED ? "tx: the transaction has ended"
                                               : "tx: not a transaction (the tx given to store:transaction's function)");
            return sz_lstore_fail(L, &te);
        }
        j.join_txn = 1;
    }
    lua_pop(L, 1);
    j.uid = field_str(L, 2, "UID", NULL);
    j.method = field_str(L, 2, "method", NULL);
    j.params_json = field_str(L, 2, "params", &j.params_len);
    j.dedup_key = field_str(L, 2, "key", NULL);
    j.dedup_window = sz_lstore_opt_int(L, 2, "window", 0);
    j.now = sz_lstore_opt_int(L, 2, "now", (int64_t)time(NULL));
    j.run_at = sz_lstore_opt_int(L, 2, "runAt", j.now);
    lua_getfield(L, 2, "providers");
    int pi = lua_gettop(L);
    luaL_argcheck(L, lua_type(L, pi) == LUA_TTABLE, 2, "providers: a list of names expected");
    size_t n = sz_rawlen(L, pi);
    if (n > SZ_OUTBOX_MAX_PROVIDERS) luaL_error(L, "providers: %d at most", SZ_OUTBOX_MAX_PROVIDERS);
    const char *names[SZ_OUTBOX_MAX_PROVIDERS];
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, pi, (int)i + 1);
        if (lua_type(L, -1) != LUA_TSTRING || strlen(lua_tostring(L, -1)) != sz_rawlen(L, -1))
            luaL_error(L, "providers[%d]: a name expected", (int)i + 1);
        names[i] = lua_tostring(L, -1);
        lua_pop(L, 1); /* kept alive by the list */
    }
    j.providers = names;
    j.nproviders = n;
    char id[40];
    sz_store_err e = {SZ_STORE_OK, ""};
    int r = sz_store_outbox_enqueue(st, &j, id, sizeof id, &e);
    if (r < 0) return sz_lstore_fail(L, &e);
    lua_pushstring(L, id);
    lua_pushboolean(L, r == 1);
    return 2;
}

static int l_claim(lua_State *L)
{
    sz_store *st = store_of(L);
    const char *worker = arg_str(L, 2, 1);
    int64_t now = arg_time(L, 3);
    int64_t lease = sz_lstore_sat((double)luaL_optnumber(L, 4, 60));
    int64_t limit = sz_lstore_sat((double)luaL_optnumber(L, 5, 10));
    if (limit > SZ_OUTBOX_MAX_CLAIM) limit = SZ_OUTBOX_MAX_CLAIM;
    sz_store_err e = {SZ_STORE_OK, ""};
    sz_delivery_out *d;
    size_t n;
    if (sz_store_outbox_claim(st, worker, now, lease, (int)(limit < 0 ? 0 : limit), &d, &n, &e) < 0) return sz_lstore_fail(L, &e);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        push_delivery(L, &d[i]);
        lua_rawseti(L, -2, (int)i + 1);
    }
    sz_store_outbox_free_deliveries(d, n);
    return 1;
}

/* the outcome table at t (its strings left on the stack: field_str) */
static void read_outcome(lua_State *L, int t, sz_outcome *o)
{
    memset(o, 0, sizeof *o);
    o->state = field_str(L, t, "state", NULL);
    o->post_id = field_str(L, t, "postID", NULL);
    o->next_at = sz_lstore_opt_int(L, t, "nextAt", 0);
    o->wait_until = sz_lstore_opt_int(L, t, "waitUntil", 0);
    o->error_code = sz_lstore_opt_int(L, t, "errorCode", 0);
    o->error_category = field_str(L, t, "category", NULL);
    o->error_reason = field_str(L, t, "reason", NULL);
    lua_getfield(L, t, "release");
    o->release = lua_toboolean(L, -1);
    lua_pop(L, 1);
}

static int l_record(lua_State *L)
{
    sz_store *st = store_of(L);
    const char *job = arg_str(L, 2, 1), *prov = arg_str(L, 3, 1), *worker = arg_str(L, 4, 1);
    int64_t now = arg_time(L, 5);
    luaL_checktype(L, 6, LUA_TTABLE);
    sz_outcome o;
    read_outcome(L, 6, &o);
    sz_store_err e = {SZ_STORE_OK, ""};
    if (sz_store_outbox_record(st, job, prov, worker, now, &o, &e) < 0) return sz_lstore_fail(L, &e);
    lua_pushboolean(L, 1);
    return 1;
}

/* s:progress(jobID, provider, worker, now, lease_seconds, postID) -> true | nil, message, name:
 * a delivery's progress while it is still being sent, its lease extended */
static int l_progress(lua_State *L)
{
    sz_store *st = store_of(L);
    const char *job = arg_str(L, 2, 1), *prov = arg_str(L, 3, 1), *worker = arg_str(L, 4, 1);
    int64_t now = arg_time(L, 5);
    int64_t lease = sz_lstore_sat((double)luaL_checknumber(L, 6));
    const char *post_id = arg_str(L, 7, 1);
    sz_store_err e = {SZ_STORE_OK, ""};
    if (sz_store_outbox_progress(st, job, prov, worker, now, lease, post_id, &e) < 0) return sz_lstore_fail(L, &e);
    lua_pushboolean(L, 1);
    return 1;
}

/* outcomes[i]: a table whose fields have their types (the error names the
 * element, before anything is written) */
static void check_item(lua_State *L, int list, int i)
{
    static const char *const STR[] = {"jobID", "provider", "state", "postID", "category", "reason"};
    static const char *const NUM[] = {"nextAt", "waitUntil", "errorCode"};
    lua_rawgeti(L, list, i);
    if (lua_type(L, -1) != LUA_TTABLE) luaL_error(L, "outcomes[%d]: a table expected", i);
    for (size_t k = 0; k < sizeof STR / sizeof STR[0]; k++) {
        lua_getfield(L, -1, STR[k]);
        int ty = lua_type(L, -1);
        if (ty != LUA_TNIL && (ty != LUA_TSTRING || strlen(lua_tostring(L, -1)) != sz_rawlen(L, -1)))
            luaL_error(L, "outcomes[%d].%s: a string without NUL expected", i, STR[k]);
        lua_pop(L, 1);
    }
    for (size_t k = 0; k < sizeof NUM / sizeof NUM[0]; k++) {
        lua_getfield(L, -1, NUM[k]);
        if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TNUMBER) luaL_error(L, "outcomes[%d].%s: a number expected", i, NUM[k]);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

/* s:record_many(worker, now, { { jobID =, provider =, state =, ... }, ... })
 * -> { true | "lease_lost", ... }, the number written | nil, message, name */
static int l_record_many(lua_State *L)
{
    sz_store *st = store_of(L);
    const char *worker = arg_str(L, 2, 1);
    int64_t now = arg_time(L, 3);
    luaL_checktype(L, 4, LUA_TTABLE);
    size_t n = sz_rawlen(L, 4);
    if (n > SZ_OUTBOX_MAX_CLAIM) luaL_error(L, "outcomes: %d at most", SZ_OUTBOX_MAX_CLAIM);
    for (size_t i = 0; i < n; i++) check_item(L, 4, (int)i + 1);
    luaL_checkstack(L, (int)n * 8 + 8, "outcomes"); /* each item and its strings stay on the stack */
    sz_outcome_item items[SZ_OUTBOX_MAX_CLAIM];
    int res[SZ_OUTBOX_MAX_CLAIM];
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, 4, (int)i + 1); /* kept on the stack: its strings stay alive */
        int t = lua_gettop(L);
        items[i].job_id = field_str(L, t, "jobID", NULL);
        items[i].provider = field_str(L, t, "provider", NULL);
        read_outcome(L, t, &items[i].outcome);
    }
    sz_store_err e = {SZ_STORE_OK, ""};
    int w = sz_store_outbox_record_many(st, worker, now, items, n, res, &e);
    if (w < 0) return sz_lstore_fail(L, &e);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        if (res[i] == SZ_STORE_OK) lua_pushboolean(L, 1);
        else lua_pushliteral(L, "lease_lost");
        lua_rawseti(L, -2, (int)i + 1);
    }
    lua_pushinteger(L, w);
    return 2;
}

static int l_job(lua_State *L)
{
    sz_store *st = store_of(L);
    const char *id = arg_str(L, 2, 1);
    sz_store_err e = {SZ_STORE_OK, ""};
    sz_job_out *j;
    int r = sz_store_outbox_job(st, id, &j, &e);
    if (r < 0) return sz_lstore_fail(L, &e);
    if (r == 0) {
        lua_pushnil(L);
        return 1;
    }
    push_job(L, j, 1);
    sz_store_outbox_free_job(j);
    return 1;
}

static int l_jobs(lua_State *L)
{
    sz_store *st = store_of(L);
    const char *uid = NULL, *status = NULL;
    int64_t limit = 50;
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        uid = field_str(L, 2, "UID", NULL);
        status = field_str(L, 2, "status", NULL);
        limit = sz_lstore_opt_int(L, 2, "limit", 50);
    }
    if (limit > 1000) limit = 1000;
    sz_store_err e = {SZ_STORE_OK, ""};
    sz_job_out **list;
    size_t n;
    if (sz_store_outbox_list(st, uid, status, (int)(limit < 1 ? 1 : limit), &list, &n, &e) < 0) return sz_lstore_fail(L, &e);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        push_job(L, list[i], 0);
        lua_rawseti(L, -2, (int)i + 1);
    }
    sz_store_outbox_free_jobs(list, n);
    return 1;
}

/* a count, or the store's failure (nil, message, name) */
static int count_or_fail(lua_State *L, long long n, const sz_store_err *e)
{
    if (n < 0) return sz_lstore_fail(L, e);
    lua_pushinteger(L, (lua_Integer)n);
    return 1;
}

static int l_cancel(lua_State *L)
{
    sz_store *st = store_of(L);
    const char *id = arg_str(L, 2, 1);
    sz_store_err e = {SZ_STORE_OK, ""};
    long long n = sz_store_outbox_cancel(st, id, arg_time(L, 3), &e);
    return count_or_fail(L, n, &e);
}

static int l_retry(lua_State *L)
{
    sz_store *st = store_of(L);
    const char *id = arg_str(L, 2, 1), *prov = arg_str(L, 3, 0);
    sz_store_err e = {SZ_STORE_OK, ""};
    long long n = sz_store_outbox_retry(st, id, prov, arg_time(L, 4), &e);
    return count_or_fail(L, n, &e);
}

static int l_resolve(lua_State *L)
{
    sz_store *st = store_of(L);
    const char *id = arg_str(L, 2, 1), *prov = arg_str(L, 3, 1), *decision = arg_str(L, 4, 1);
    sz_store_err e = {SZ_STORE_OK, ""};
    if (sz_store_outbox_resolve(st, id, prov, decision, arg_time(L, 5), &e) < 0) return sz_lstore_fail(L, &e);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_resume(lua_State *L)
{
    sz_store *st = store_of(L);
    const char *uid = arg_str(L, 2, 1), *prov = arg_str(L, 3, 1);
    sz_store_err e = {SZ_STORE_OK, ""};
    long long n = sz_store_outbox_resume(st, uid, prov, arg_time(L, 4), &e);
    return count_or_fail(L, n, &e);
}

static int l_prune(lua_State *L)
{
    sz_store *st = store_of(L);
    int64_t before = sz_lstore_sat((double)luaL_checknumber(L, 2));
    sz_store_err e = {SZ_STORE_OK, ""};
    long long n = sz_store_outbox_prune(st, before, &e);
    return count_or_fail(L, n, &e);
}

void sz_lstore_outbox_methods(lua_State *L)
{
    static const luaL_Reg M[] = {{"enqueue", l_enqueue}, {"claim", l_claim},   {"record", l_record},
                                 {"record_many", l_record_many},
                                 {"job", l_job},         {"jobs", l_jobs},     {"cancel", l_cancel},
                                 {"retry", l_retry},     {"resolve", l_resolve}, {"prune", l_prune},
                                 {"resume", l_resume},
                                 {"progress", l_progress},
                                 {NULL, NULL}};
    sz_setfuncs(L, M, 0);
}
