/* socialize.curl - one blocking Gigya call in one C entry point (issue 15):
 *
 *   s:gigya(capi, opts, params, timeout)
 *     -> reply, date                      the reply read (core.parse_response's table)
 *      | false, date, message, code       a reply that did not read (its Gigya code)
 *      | nil, message, code               nothing built, nothing sent (code a number)
 *      | nil, message, kind, req          the transfer failed (kind a string; req =
 *                                         { url, headers } to redact its message by)
 *
 * capi is core.capi (csrc/lua/lsz_capi.h): the core builds and signs the
 * request (core.build_request's work) and reads the reply
 * (core.parse_response's), the transport sends it on the session's own easy
 * handle as s:request would, with no Lua request table, no URL or body Lua
 * string and no outcome table in between. date is the reply's Date header
 * (the one header the Gigya path reads), or nil. The core does no I/O: only
 * this file calls libcurl. The Lua side (socialize.engine, ctx.fast) takes
 * this path only for a blocking call on the built-in curl transport without
 * config.log; every other call builds the Lua request table as before. */

#include "lsz_curl.h"
#include "lsz_capi.h"

/* The C interface at index i, or NULL: a light userdata is read only when
 * it is the one socialize.core left in the registry (lsz_capi.h), so that
 * another light userdata (pointing at a few bytes, or at nothing mapped) is
 * refused unread; then its magic, version and size must match. */
static const lsz_capi *capi_at(lua_State *L, int i)
{
    const lsz_capi *c = NULL;
    int same;
    if (!lua_islightuserdata(L, i))
        return NULL;
    lua_getfield(L, LUA_REGISTRYINDEX, LSZ_CAPI_KEY);
    same = lua_islightuserdata(L, -1) && lua_rawequal(L, i, -1);
    lua_pop(L, 1);
    if (same)
        c = lua_touserdata(L, i);
    if (!c || c->magic != LSZ_CAPI_MAGIC || c->version != LSZ_CAPI_VERSION || c->size != sizeof(lsz_capi))
        return NULL;
    return c;
}

static const lsz_capi *check_capi(lua_State *L, int i)
{
    const lsz_capi *c = capi_at(L, i);
    if (!c)
        luaL_argerror(L, i, "not socialize.core's C interface (core.capi) of this version");
    return c;
}

/* curl.capi_ok(capi) -> true when s:gigya can take it */
int lsz_capi_ok(lua_State *L)
{
    lua_pushboolean(L, capi_at(L, 1) != NULL);
    return 1;
}

/* The checks s:request makes on a request table (lsz_check_request), on the
 * core's request: NULL, or the message s:request would raise with. */
static const char *request_bad(const lsz_capi *c, const sz_request *r, char *buf, size_t bn)
{
    const char *why = lsz_url_bad(c->req_url(r));
    size_t i, n = c->req_header_count(r);
    if (why || (why = lsz_method_bad(c->req_method(r))) != NULL)
        return why;
    for (i = 0; i < n; i++) {
        const char *k, *v;
        c->req_header(r, i, &k, &v);
        if (lsz_header_name_bad(k, strlen(k)))
            return "invalid header name";
        if (lsz_header_value_bad(v, strlen(v))) {
            snprintf(buf, bn, "header %s contains CR, LF or NUL", k);
            return buf;
        }
    }
    return NULL;
}

/* push_req(capi, request) (light userdata, called protected: it may raise
 * for memory while the caller owns the request) pushes { url = ...,
 * headers = { name = value } } of the request (a failed transfer's message is
 * redacted by them, as for s:request's callers). */
static int push_req(lua_State *L)
{
    const lsz_capi *c = lua_touserdata(L, 1);
    const sz_request *r = lua_touserdata(L, 2);
    size_t i, n = c->req_header_count(r);
    lua_createtable(L, 0, 2);
    lua_pushstring(L, c->req_url(r));
    lua_setfield(L, -2, "url");
    lua_createtable(L, 0, (int)n);
    for (i = 0; i < n; i++) {
        const char *k, *v;
        c->req_header(r, i, &k, &v);
        lua_pushstring(L, v);
        lua_setfield(L, -2, k);
    }
    lua_setfield(L, -2, "headers");
    return 1;
}

/* Pushes the reply's Date header (repeated ones joined with ", ", as
 * s:request's headers table has them), or nil. */
static void push_date(lua_State *L, const xfer *x)
{
    size_t at = 0, nl, vl;
    const char *name, *v;
    int found = 0;
    while (lsz_next_header(x, &at, &name, &nl, &v, &vl)) {
        if (nl != 4 || (name[0] | 32) != 'd' || (name[1] | 32) != 'a' || (name[2] | 32) != 't' ||
            (name[3] | 32) != 'e')
            continue;
        lua_pushlstring(L, v, vl);
        if (found) {
            lua_pushliteral(L, ", ");
            lua_insert(L, -2);
            lua_concat(L, 3);
        }
        found = 1;
    }
    if (!found)
        lua_pushnil(L);
}

static int fail_other(lua_State *L, const char *msg)
{
    lua_pushnil(L);
    lua_pushstring(L, msg);
    lua_pushliteral(L, "other");
    return 3;
}

/* s:gigya(capi, opts, params, timeout): see the top of this file */
int lsz_gigya(lua_State *L)
{
    session *s = luaL_checkudata(L, 1, SESSION_MT);
    const lsz_capi *c = check_capi(L, 2);
    lua_Number tsec = luaL_checknumber(L, 5);
    sz_request *r;
    lsz_xreq xr;
    xfer *x = &s->solo;
    const char *bad;
    char buf[160];
    size_t i, n;
    long status = 0;
    int nr;
    if (!s->nshards)
        luaL_argerror(L, 1, "session is closed");
    if (!(tsec > 0) || tsec == HUGE_VAL) /* as s:request's check of req.timeout */
        luaL_error(L, "timeout must be a positive number of seconds");
    lua_settop(L, 5);
    if (c->build(L, 3, 4, &r) != 0)
        return 3; /* nil, message, code: nothing built */
    lua_settop(L, 5);
    if (!s->nshards) { /* closed while the options were read (an __index on them) */
        c->req_free(r);
        return luaL_argerror(L, 1, "session is closed");
    }
    if ((bad = request_bad(c, r, buf, sizeof buf)) != NULL) {
        c->req_free(r); /* (bad is static or in buf) */
        return luaL_error(L, "%s", bad); /* as s:request raises on such a request table */
    }
    memset(&xr, 0, sizeof xr);
    xr.method = c->req_method(r);
    xr.url = c->req_url(r);
    xr.body = c->req_body(r, &xr.blen);
    xr.timeout_ms = lsz_sec_to_ms(tsec);
    xr.want = "date";
    xr.wantlen = 4;
    x->hl = NULL;
    n = c->req_header_count(r);
    for (i = 0; i < n; i++) {
        const char *k, *v;
        c->req_header(r, i, &k, &v);
        if (lsz_header_add(x, k, v) != 0)
            break;
    }
    if (i < n || lsz_setup_req(s, x, &xr, NULL) != 0) {
        curl_slist_free_all(x->hl);
        x->hl = NULL;
        c->req_free(r);
        return fail_other(L, "out of memory");
    }
    x->id = 0;
    if (!x->done)
        x->rc = curl_easy_perform(x->easy);
    x->done = 1;
    curl_slist_free_all(x->hl);
    x->hl = NULL;
    if (x->rc != CURLE_OK) {
        /* nil, message, kind, req; the request owned until its table is made */
        int st;
        lua_pushcfunction(L, push_req);
        lua_pushlightuserdata(L, (void *)c);
        lua_pushlightuserdata(L, r);
        st = lua_pcall(L, 2, 1, 0);
        c->req_free(r);
        if (st != 0)
            return lua_error(L); /* (out of memory) */
        lua_pushnil(L);
        lsz_push_error(L, x);
        lua_pushstring(L, lsz_outcome_kind(x->rc, x));
        lua_pushvalue(L, -4);
        lua_remove(L, -5);
        lsz_rbuf_free(&x->body);
        lsz_rbuf_free(&x->head);
        lsz_xfer_strings_free(x);
        return 4;
    }
    c->req_free(r); /* sent: the signed body is wiped now */
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    nr = c->push_reply(L, x->body.data ? x->body.data : "", x->body.len,
                       status > 2147483647L ? 2147483647 : status < 0 ? 0 : (int)status);
    push_date(L, x);
    lsz_rbuf_free(&x->body);
    lsz_rbuf_free(&x->head);
    lsz_xfer_strings_free(x);
    if (nr == 1)
        return 2; /* reply, date */
    /* nil, message, code, date -> false, date, message, code */
    lua_insert(L, -3);
    lua_remove(L, -4);
    lua_pushboolean(L, 0);
    lua_insert(L, -4);
    return 4;
}
