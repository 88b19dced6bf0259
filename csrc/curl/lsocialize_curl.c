/* socialize.curl - blocking HTTP transport over one reused libcurl easy
 * handle per session, so connections are kept alive between calls.
 *
 *   local s = require("socialize.curl").new{ timeout = 10, connectTimeout = 5,
 *                                            cafile = "/path/ca.pem", maxReplyBytes = n }
 *   local res, message, kind = s:request{ method = "POST", url = ..., body = ...,
 *                                         headers = { ["Content-Type"] = ... } }
 *   res = { status = 200, body = "...", headers = { date = "...", ... } }
 *   kind: "timeout" | "connect" | "tls" | "too_large" | "closed" | "other"
 *
 *   local results = s:request_many{ req1, req2 }   -- in parallel (curl multi)
 *   results[i] = response table, or { error = message, kind = kind }
 *
 * The convention of the C modules (docs/api.md "Return conventions"): a
 * failure is nil, message, code; a transport's code is the kind above, as in
 * a transport function's (nil, message, kind) and an outcome's { error, kind }.
 * Running out of memory is such a failure (kind "other"), never a raise; only
 * a malformed argument (a request table, an option) raises. The options are
 * spelled as the client's config spells them (camelCase); an unknown one
 * raises.
 *
 * One multi handle per session, more when over SHARD_XFERS transfers are in
 * flight (lsz_curl_multi.c): their connection caches keep connections alive
 * across calls. No Lua function is called from a libcurl callback: bodies
 * and headers are collected in C buffers and become Lua values after curl
 * returns. */

#include "lsz_curl.h"

/* nil, message, "other": a failure that is no transfer's (memory, a bad URL) */
static int push_fail(lua_State *L, const char *msg)
{
    lua_pushnil(L);
    lua_pushstring(L, msg);
    lua_pushliteral(L, "other");
    return 3;
}

static session *check_session(lua_State *L)
{
    session *s = luaL_checkudata(L, 1, SESSION_MT);
    if (!s->nshards)
        luaL_argerror(L, 1, "session is closed");
    return s;
}

static const char *const OPTIONS[] = {"timeout", "connectTimeout", "cafile", "maxReplyBytes", "http2", NULL};

/* Raises on an option that is not one of OPTIONS (a misspelt or snake_case
 * name would otherwise be ignored). */
static void check_options(lua_State *L, int t)
{
    lua_pushnil(L);
    while (lua_next(L, t) != 0) {
        int i = 0;
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TSTRING)
            for (; OPTIONS[i] && strcmp(OPTIONS[i], lua_tostring(L, -1)) != 0; i++)
                ;
        if (lua_type(L, -1) != LUA_TSTRING || !OPTIONS[i])
            luaL_error(L, "curl.new: %s is not an option (timeout, connectTimeout, cafile, maxReplyBytes, http2)",
                       lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : luaL_typename(L, -1));
    }
}

/* curl.new{ timeout = seconds, connectTimeout = seconds, cafile = path,
 *           maxReplyBytes = bytes, http2 = boolean } -> session | nil, message, "other"
 * The options table's own fields, read raw: no metamethod runs, and the
 * cafile string stays anchored by the table until it is copied. */
static int l_new(lua_State *L)
{
    session *s;
    const char *cafile = NULL;
    int http2 = 0;
    long timeout = DEFAULT_TIMEOUT_MS, cto = DEFAULT_CONNECT_TIMEOUT_MS, max = DEFAULT_MAX_REPLY;
    if (!lua_isnoneornil(L, 1)) {
        luaL_checktype(L, 1, LUA_TTABLE);
        check_options(L, 1);
        timeout = lsz_ms_field(L, 1, "timeout", timeout);
        cto = lsz_ms_field(L, 1, "connectTimeout", cto);
        lsz_rawfield(L, 1, "maxReplyBytes");
        if (!lua_isnil(L, -1)) {
            lua_Number m = luaL_checknumber(L, -1);
            if (!(m >= 1)) /* also NaN */
                luaL_error(L, "maxReplyBytes must be a number >= 1");
            max = m < (lua_Number)LONG_MAX / 2 ? (long)m : LONG_MAX / 2; /* saturated */
        }
        lua_pop(L, 1);
        lsz_rawfield(L, 1, "cafile");
        if (!lua_isnil(L, -1))
            cafile = luaL_checkstring(L, -1);
        lua_pop(L, 1);
        lsz_rawfield(L, 1, "http2");
        if (!lua_isnil(L, -1) && !lua_isboolean(L, -1))
            luaL_error(L, "http2 must be a boolean");
        http2 = lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    /* allocate the box first, so a Lua error cannot leak the handles */
    s = lua_newuserdata(L, sizeof *s);
    memset(s, 0, sizeof *s);
    luaL_getmetatable(L, SESSION_MT);
    lua_setmetatable(L, -2);
    s->timeout_ms = timeout;
    s->connect_timeout_ms = cto;
    s->max_reply = max;
    s->http2 = http2;
    if (cafile && !(s->cafile = strdup(cafile)))
        return push_fail(L, "out of memory");
    if (lsz_shard_open(s, 0) != 0) /* the box's __gc frees the rest */
        return push_fail(L, "curl_multi_init failed (out of memory)");
    return 1;
}


static int fail_all(lua_State *L, session *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        curl_slist_free_all(s->pool[i].hl);
        s->pool[i].hl = NULL;
    }
    return push_fail(L, "out of memory");
}

/* s:request{ method, url, body, headers, timeout } -> res | nil, message, kind
 * One blocking request on the session's own easy handle (its connection is
 * kept alive for the next one), without the multi handle's overhead. */
static int l_request(lua_State *L)
{
    session *s = check_session(L);
    lsz_check_request(L, 2);
    if (lsz_setup(L, s, &s->solo, 2) != 0) {
        curl_slist_free_all(s->solo.hl);
        s->solo.hl = NULL;
        return push_fail(L, "out of memory");
    }
    s->solo.id = 0;
    if (!s->solo.done)
        s->solo.rc = curl_easy_perform(s->solo.easy);
    s->solo.done = 1;
    return lsz_push_outcome(L, &s->solo, 0);
}

/* s:request_many{ req1, req2, ... } -> { res_or_{error=,kind=}, ... }
 *                                    | nil, "out of memory", "other"
 * All requests run in parallel; results come back in the order given. */
static int l_request_many(lua_State *L)
{
    session *s = check_session(L);
    size_t n, i;
    luaL_checktype(L, 2, LUA_TTABLE);
    n = sz_rawlen(L, 2);
    luaL_argcheck(L, n <= MAX_BATCH, 2, "too many requests in one batch");
    for (i = 1; i <= n; i++) {
        lua_rawgeti(L, 2, (int)i);
        lsz_check_request(L, lua_gettop(L));
        lua_pop(L, 1);
    }
    if (lsz_ensure_pool(s, n) != 0)
        return fail_all(L, s, 0);
    for (i = 0; i < n; i++) {
        int rc;
        lua_rawgeti(L, 2, (int)i + 1);
        rc = lsz_setup(L, s, &s->pool[i], lua_gettop(L));
        lua_pop(L, 1); /* still anchored by the argument table */
        if (rc != 0)
            return fail_all(L, s, i + 1);
    }
    lsz_run_all(s, n);
    lua_createtable(L, (int)n, 0);
    for (i = 0; i < n; i++) {
        lsz_push_outcome(L, &s->pool[i], 1);
        lua_rawseti(L, -2, (int)i + 1);
    }
    return 1;
}

/* ---- asynchronous transfers (game loops) --------------------------------- */

/* Drops the reference that kept an asynchronous transfer's body alive. */
static void unanchor(lua_State *L, xfer *x)
{
    if (x->bref > 0)
        luaL_unref(L, LUA_REGISTRYINDEX, x->bref);
    x->bref = 0;
}

/* s:start(req) -> id | nil, "out of memory", "other". The transfer runs
 * while the host calls s:perform(). */
static int l_start(lua_State *L)
{
    session *s = check_session(L);
    xfer *x;
    lsz_check_request(L, 2);
    if (s->nrunning == s->caprunning) {
        size_t cap = s->caprunning ? s->caprunning * 2 : 16;
        xfer **r = realloc(s->running, cap * sizeof *r);
        if (!r)
            return push_fail(L, "out of memory");
        s->running = r;
        s->caprunning = cap;
    }
    x = s->spare;
    if (x)
        s->spare = x->next;
    else if (!(x = calloc(1, sizeof *x)))
        return push_fail(L, "out of memory");
    x->next = NULL;
    if (lsz_setup(L, s, x, 2) != 0) {
        curl_slist_free_all(x->hl);
        x->hl = NULL;
        x->next = s->spare;
        s->spare = x;
        return push_fail(L, "out of memory");
    }
    lsz_rawfield(L, 2, "body"); /* libcurl reads it in place (lsz_setup) */
    x->bref = luaL_ref(L, LUA_REGISTRYINDEX);
    x->id = ++s->next_id;
    x->ri = s->nrunning;
    s->running[s->nrunning++] = x;
    if (x->done) /* refused by the guard before any connection */
        lsz_finish(s, x, x->rc);
    else if (lsz_add(s, x) != 0)
        lsz_finish(s, x, CURLE_OUT_OF_MEMORY);
    lua_pushinteger(L, x->id);
    return 1;
}

/* s:perform([timeout_ms]) -> { {id = n, status/body/headers | error/kind}, ... }
 * Waits at most timeout_ms (default 0) for activity when nothing is ready. */
static int l_perform(lua_State *L)
{
    session *s = check_session(L);
    lua_Number w = luaL_optnumber(L, 2, 0);
    int wait = w >= 1 ? (w < INT_MAX ? (int)w : INT_MAX) : 0, n = 0; /* saturated; NaN: 0 */
    if (!s->finished && s->nrunning > 0) {
        lsz_pump(s);
        if (!s->finished && wait > 0) {
            lsz_wait(s, wait);
            lsz_pump(s);
        }
    }
    lua_newtable(L);
    while (s->finished) {
        xfer *x = s->finished;
        s->finished = x->next;
        lsz_push_outcome(L, x, 1);
        unanchor(L, x);
        lua_pushinteger(L, x->id);
        lua_setfield(L, -2, "id");
        lua_rawseti(L, -2, ++n);
        x->id = 0;
        x->next = s->spare;
        s->spare = x;
    }
    return 1;
}

/* s:pending() -> number of started transfers not yet returned by perform */
static int l_pending(lua_State *L)
{
    session *s = check_session(L);
    size_t n = s->nrunning;
    xfer *x;
    for (x = s->finished; x; x = x->next)
        n++;
    lua_pushinteger(L, (lua_Integer)n);
    return 1;
}

/* s:timeout() -> milliseconds until perform should be called (0: now), or
 * -1 when nothing is in flight. */
static int l_timeout(lua_State *L)
{
    session *s = check_session(L);
    long ms = -1;
    if (s->finished) {
        ms = 0;
    } else if (s->nrunning > 0) {
        ms = lsz_timeout(s);
        if (ms < 0)
            ms = 1000; /* curl has no timer set: check back within a second */
    }
    lua_pushinteger(L, (lua_Integer)ms);
    return 1;
}

/* s:fds() -> { {fd = n, read = bool, write = bool}, ... }: the sockets the
 * transfers wait on, for a host's own poller (select/epoll/libuv). */
static int l_fds(lua_State *L)
{
    session *s = check_session(L);
    size_t i, j;
    int n = 0;
    lua_newtable(L);
    for (j = 0; j < s->nshards; j++) {
        for (i = 0; i < s->shards[j]->nsocks; i++) {
            const sockent *k = &s->shards[j]->socks[i];
            int rd = (k->what & CURL_POLL_IN) != 0, wr = (k->what & CURL_POLL_OUT) != 0;
            if (!rd && !wr)
                continue;
            lua_createtable(L, 0, 3);
            lua_pushinteger(L, (lua_Integer)k->fd);
            lua_setfield(L, -2, "fd");
            lua_pushboolean(L, rd);
            lua_setfield(L, -2, "read");
            lua_pushboolean(L, wr);
            lua_setfield(L, -2, "write");
            lua_rawseti(L, -2, ++n);
        }
    }
    return 1;
}

static void free_xfer(xfer *x)
{
    if (x->easy)
        curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->hl);
    curl_slist_free_all(x->rl);
    lsz_rbuf_free(&x->body);
    lsz_rbuf_free(&x->head);
    lsz_xfer_strings_free(x);
}


static int l_close(lua_State *L)
{
    session *s = luaL_checkudata(L, 1, SESSION_MT);
    size_t i;
    for (i = 0; i < s->npool; i++) {
        if (s->pool[i].easy)
            curl_easy_cleanup(s->pool[i].easy);
        curl_slist_free_all(s->pool[i].hl);
        curl_slist_free_all(s->pool[i].rl);
        lsz_rbuf_free(&s->pool[i].body);
        lsz_rbuf_free(&s->pool[i].head);
        lsz_xfer_strings_free(&s->pool[i]);
    }
    free(s->pool);
    s->pool = NULL;
    s->npool = 0;
    free_xfer(&s->solo);
    memset(&s->solo, 0, sizeof s->solo);
    for (i = 0; i < s->nrunning; i++) {
        if (s->running[i]->sh)
            curl_multi_remove_handle(s->running[i]->sh->multi, s->running[i]->easy);
        unanchor(L, s->running[i]);
        free_xfer(s->running[i]);
        free(s->running[i]);
    }
    free(s->running);
    s->running = NULL;
    s->nrunning = s->caprunning = 0;
    while (s->finished) {
        xfer *x = s->finished;
        s->finished = x->next;
        unanchor(L, x);
        free_xfer(x);
        free(x);
    }
    while (s->spare) {
        xfer *x = s->spare;
        s->spare = x->next;
        free_xfer(x);
        free(x);
    }
    lsz_shards_close(s);
    free(s->cafile);
    s->cafile = NULL;
    return 0;
}

static int l_tostring(lua_State *L)
{
    session *s = luaL_checkudata(L, 1, SESSION_MT);
    lua_pushfstring(L, "socialize.curl.Session (%s)", s->nshards ? "open" : "closed");
    return 1;
}

static const luaL_Reg session_methods[] = {
    {"request", l_request},
    {"request_many", l_request_many},
    {"start", l_start},
    {"perform", l_perform},
    {"pending", l_pending},
    {"timeout", l_timeout},
    {"fds", l_fds},
    {"gigya", lsz_gigya},
    {"close", l_close},
    {NULL, NULL}
};

/* curl.parse_url(url) -> scheme, host, port | nil, message, "other":
 * libcurl's own URL parser (curl_url), so tests can show the core's guard
 * agrees with it. */
static int l_parse_url(lua_State *L)
{
    size_t n;
    const char *url = luaL_checklstring(L, 1, &n);
    CURLU *u;
    char *scheme = NULL, *host = NULL, *port = NULL;
    CURLUcode rc;
    if (strlen(url) != n)
        return push_fail(L, "url contains NUL");
    if (!(u = curl_url()))
        return push_fail(L, "out of memory");
    rc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (rc == CURLUE_OK)
        rc = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    if (rc == CURLUE_OK)
        rc = curl_url_get(u, CURLUPART_HOST, &host, 0);
    if (rc == CURLUE_OK)
        rc = curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
    if (rc == CURLUE_OK) {
        lua_pushstring(L, scheme);
        lua_pushstring(L, host);
        lua_pushinteger(L, (lua_Integer)atol(port));
    } else {
        lua_pushnil(L);
        lua_pushfstring(L, "curl_url: error %d", (int)rc);
        lua_pushliteral(L, "other");
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return 3;
}

static const luaL_Reg funcs[] = {
    {"new", l_new},
    {"parse_url", l_parse_url},
    {"capi_ok", lsz_capi_ok},
    {NULL, NULL}
};

SZ_LUAOPEN int luaopen_socialize_curl(lua_State *L)
{
    /* Reference-counted and thread-safe in libcurl >= 7.84. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return luaL_error(L, "curl_global_init failed");
    if (luaL_newmetatable(L, SESSION_MT)) {
        sz_newlib(L, session_methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, l_close);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, l_close);
        lua_setfield(L, -2, "__close");
        lua_pushcfunction(L, l_tostring);
        lua_setfield(L, -2, "__tostring");
        lua_pushliteral(L, SESSION_MT);
        lua_setfield(L, -2, "__name");
    }
    lua_pop(L, 1);
    sz_newlib(L, funcs);
    lsz_cli_open(L); /* the command's OS helpers (lsz_cli.c) */
    lua_pushstring(L, curl_version_info(CURLVERSION_NOW)->version);
    lua_setfield(L, -2, "curl_version");
    lua_pushliteral(L, SZ_VERSION_STRING);
    lua_setfield(L, -2, "_VERSION");
    return 1;
}
