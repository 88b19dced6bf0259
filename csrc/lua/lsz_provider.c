/* socialize.core - requests and responses (build_request, parse_response),
 * the network adapters (provider_request, provider_parse, provider_info,
 * bookmarks) and the private-network guard (check_url, addr_blocked).
 * Part of the binding (lsocialize_core.c). */

#include "lsz_core.h"

/* ---- requests and responses ------------------------------------------------*/

/* A string (or number) option; sets *nul to k when it holds a NUL byte. The
 * value stays on the stack: a number converted to a string is anchored
 * nowhere else. */
static const char *opt_field(lua_State *L, int t, const char *k, const char **nul)
{
    const char *s = NULL;
    size_t n;
    lua_getfield(L, t, k);
    if (lua_isstring(L, -1)) {
        s = lua_tolstring(L, -1, &n);
        if (sz_has_nul(s, n) && !*nul)
            *nul = k;
    }
    return s;
}

/* Pushes { method, url, body (absent when none), headers = { name = value } }
 * for r, and frees r. Only pushes follow: nothing here raises but memory. */
static int push_request(lua_State *L, sz_request *r)
{
    size_t i, bl;
    const char *body = sz_request_body(r, &bl);
    /* room for the fields a caller adds (the Gigya path: timeout, wantHeaders,
     * gigya): no rehash of the table per call */
    lua_createtable(L, 0, 8);
    lua_pushstring(L, sz_request_method(r));
    lua_setfield(L, -2, "method");
    lua_pushstring(L, sz_request_url(r));
    lua_setfield(L, -2, "url");
    if (body) {
        lua_pushlstring(L, body, bl);
        lua_setfield(L, -2, "body");
    }
    lua_createtable(L, 0, (int)sz_request_header_count(r));
    for (i = 0; i < sz_request_header_count(r); i++) {
        const char *hn, *hv;
        sz_request_header(r, i, &hn, &hv);
        lua_pushstring(L, hv);
        lua_setfield(L, -2, hn);
    }
    lua_setfield(L, -2, "headers");
    if (sz_request_truncated(r)) { /* the text was cut to fit (a publish's result says so) */
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "truncated");
    }
    sz_request_free(r);
    return 1;
}

/* core.build_request's work (also the C interface's, lsz_capi.h): the
 * request for the options table at oi and the parameter table (or nil) at
 * pi, both absolute: 0 and *out, or 3 with nil, message, code pushed. The
 * option strings stay on the stack above (the caller restores the top). */
int lsz_build(lua_State *L, int oi, int pi, sz_request **out)
{
    static const char *const modes[] = {"signed", "secret", "oauth2", "jwt", "none", NULL};
    sz_request_opts o;
    enc_ctx c;
    sz_params *p;
    sz_request *r;
    sz_error err;
    const char *auth, *nul = NULL;
    size_t i;
    *out = NULL;
    luaL_checktype(L, oi, LUA_TTABLE);
    if (!lua_isnoneornil(L, pi))
        luaL_checktype(L, pi, LUA_TTABLE);
    luaL_checkstack(L, 16, "build_request");
    memset(&o, 0, sizeof o);
    o.api_method = opt_field(L, oi, "method", &nul);
    o.api_domain = opt_field(L, oi, "apiDomain", &nul);
    o.base_url = opt_field(L, oi, "url", &nul);
    o.api_key = opt_field(L, oi, "apiKey", &nul);
    o.user_key = opt_field(L, oi, "userKey", &nul);
    o.secret = opt_field(L, oi, "secret", &nul);
    o.access_token = opt_field(L, oi, "accessToken", &nul);
    o.private_key_pem = opt_field(L, oi, "privateKey", &nul);
    o.nonce = opt_field(L, oi, "nonce", &nul);
    o.sdk = opt_field(L, oi, "sdk", &nul);
    auth = opt_field(L, oi, "auth", &nul);
    if (nul)
        return lsz_push_nul_fail(L, nul);
    o.auth = SZ_AUTH_SIGNED;
    if (auth) {
        for (i = 0; modes[i] && strcmp(modes[i], auth) != 0; i++)
            ;
        if (!modes[i])
            return lsz_push_fail(L, SZ_GIGYA_INVALID_PARAMETER,
                             "Invalid parameter value: auth must be signed, secret, oauth2, jwt or none");
        o.auth = (sz_auth)i;
    }
    lua_getfield(L, oi, "timestamp");
    o.timestamp = sz_sat_from_double((double)lua_tonumber(L, -1));
    lua_pop(L, 1);
    lsz_enc_init(&c, NULL, 0);
    p = lsz_to_params(L, pi, &c);
    lsz_enc_free(&c);
    if (!p)
        return lsz_push_fail(L, c.code, c.msg);
    r = sz_request_build_owned(&o, p, &err); /* p is the request's now */
    if (!r)
        return lsz_push_fail(L, err.code, err.message);
    *out = r;
    return 0;
}

/* core.build_request(opts, params) -> {method, url, body, headers}
 *                                   | nil, message, code
 * opts: method, apiDomain, url, auth ("signed"|"secret"|"oauth2"|"jwt"|"none"),
 *       apiKey, userKey, secret, accessToken, privateKey, timestamp, nonce, sdk */
static int l_build_request(lua_State *L)
{
    sz_request *r;
    if (lsz_build(L, 1, 2, &r) != 0)
        return 3;
    return push_request(L, r);
}

/* core.parse_response's work (also the C interface's): 1 with the reply
 * table pushed, or 3 with nil, message, code. */
int lsz_reply(lua_State *L, const char *body, size_t n, int status)
{
    sz_error err;
    sz_response *r;
    int top = lua_gettop(L);
    if (lsz_push_reply_fast(L, body, n, status))
        return 1; /* the usual success reply, without a jansson tree */
    r = sz_response_parse(body, n, status, &err);
    if (!r)
        return lsz_push_fail(L, err.code, err.message);
    if (lsz_push_json(L, sz_response_root(r), 0) != 0) {
        lua_settop(L, top);
        sz_response_free(r);
        return lsz_push_fail(L, SZ_GIGYA_INTERNAL, "reply nested too deeply");
    }
    sz_response_free(r);
    return 1;
}

/* core.parse_response(body, httpStatus) -> table (the whole reply, with
 * errorCode, statusCode, statusReason always present) | nil, message, code */
static int l_parse_response(lua_State *L)
{
    size_t n;
    const char *body = luaL_optlstring(L, 1, "", &n);
    int status = lsz_clamp_int((long long)luaL_optinteger(L, 2, 200));
    return lsz_reply(L, body, n, status);
}

/* The arguments of one provider call (provider_request, provider_parse). */
typedef struct call_args {
    sz_call_json c;
    json_t *in, *app, *user;
} call_args;

static void call_args_free(call_args *a)
{
    sz_json_free(a->in);
    sz_json_free(a->app); /* credentials: zeroed (socialize.h wiping policy) */
    sz_json_free(a->user);
}

/* The types of provider, action, input, app, user at 1..5, checked before
 * anything is allocated; NULL, or which name holds a NUL byte. */
static const char *call_args_check(lua_State *L)
{
    int i, np = 0, na = 0;
    lsz_arg_cstr(L, 1, &np);
    lsz_arg_cstr(L, 2, &na);
    for (i = 3; i <= 5; i++)
        if (!lua_isnoneornil(L, i))
            luaL_checktype(L, i, LUA_TTABLE);
    return np ? "provider" : na ? "action" : NULL;
}

/* provider, action, input, app, user at 1..5 (types checked by call_args_check) */
static int call_args_read(lua_State *L, call_args *a)
{
    int bad = 0;
    memset(a, 0, sizeof *a);
    a->c.provider = lua_tostring(L, 1);
    a->c.action = lua_tostring(L, 2);
    a->in = lsz_arg_json(L, 3, "input", &bad);
    if (!bad)
        a->app = lsz_arg_json(L, 4, "provider config", &bad);
    if (!bad)
        a->user = lsz_arg_json(L, 5, "connection", &bad);
    a->c.input = a->in;
    a->c.app = a->app;
    a->c.user = a->user;
    return bad ? -1 : 0;
}

/* nil, message, code, result: nothing is to be sent, and result (the failure
 * object: ok = false, category, errorCode, errorDetails, ...) says why;
 * message and code are its errorDetails and errorCode. Takes res over. */
static int push_refusal(lua_State *L, json_t *res)
{
    json_t *d = json_object_get(res, "errorDetails"), *c = json_object_get(res, "errorCode");
    int top = lua_gettop(L);
    lua_pushnil(L);
    lua_pushstring(L, json_is_string(d) ? json_string_value(d) : "nothing to send");
    lua_pushinteger(L, json_is_integer(c) ? (lua_Integer)json_integer_value(c) : SZ_GIGYA_INTERNAL);
    if (lsz_push_json(L, res, 0) != 0) {
        lua_settop(L, top);
        sz_json_free(res);
        return lsz_push_fail(L, SZ_GIGYA_INTERNAL, "out of memory");
    }
    sz_json_free(res); /* a result may hold a session's tokens */
    return 4;
}

/* The blobs at index i: an array of strings (mediaItems' bytes, "" for an
 * item without), anchored in the Lua table; -1 with a message pushed. */
#define LSZ_MAX_BLOBS 64
static int read_blobs(lua_State *L, int i, sz_blob *b, size_t *n)
{
    size_t k, len = lua_isnoneornil(L, i) ? 0 : (size_t)sz_rawlen(L, i);
    *n = 0;
    if (lua_isnoneornil(L, i))
        return 0;
    if (len > LSZ_MAX_BLOBS) {
        lua_pushfstring(L, "Invalid parameter value: at most %d media items", LSZ_MAX_BLOBS);
        return -1;
    }
    for (k = 0; k < len; k++) {
        lua_rawgeti(L, i, (lua_Integer)k + 1);
        if (lua_type(L, -1) == LUA_TSTRING) {
            b[k].data = lua_tolstring(L, -1, &b[k].len); /* anchored in the table */
        } else if (lua_isnil(L, -1) || lua_type(L, -1) == LUA_TBOOLEAN) {
            b[k].data = NULL;
            b[k].len = 0;
        } else {
            lua_pop(L, 1);
            lua_pushfstring(L, "Invalid parameter value: media bytes %d is not a string", (int)k + 1);
            return -1;
        }
        lua_pop(L, 1);
    }
    *n = len;
    return 0;
}

/* core.provider_request(provider, action, input, app, user, timestamp, nonce, setup, step, blobs)
 *   -> request table
 *    | nil, message, code, result   nothing to send: result is the failure
 *                                   (missing credentials, content the network refuses, ...)
 *    | nil, message, code           bad input (unknown provider or action, a value
 *                                   with no JSON form, a NUL byte)
 *   setup: the state the network's setup step returned (provider_info(name).setup), or nil;
 *   step: the upload step's state ({item, step}; docs/media.md), or nil;
 *   blobs: the media items' bytes (an array of strings, "" or false for none), or nil. */
static int l_provider_request(lua_State *L)
{
    call_args a;
    sz_blob blobs[LSZ_MAX_BLOBS];
    size_t nblobs = 0;
    json_t *res = NULL, *step = NULL;
    sz_error err;
    sz_request *r;
    long long ts = sz_sat_from_double((double)luaL_optnumber(L, 6, 0));
    int nn = 0;
    const char *nonce = lsz_arg_optcstr(L, 7, &nn), *nul = call_args_check(L);
    json_t *setup = NULL;
    int sbad = 0;
    if (nul || nn)
        return lsz_push_nul_fail(L, nul ? nul : "nonce");
    if (!lua_isnoneornil(L, 8))
        luaL_checktype(L, 8, LUA_TTABLE);
    if (!lua_isnoneornil(L, 9))
        luaL_checktype(L, 9, LUA_TTABLE);
    if (!lua_isnoneornil(L, 10))
        luaL_checktype(L, 10, LUA_TTABLE);
    if (read_blobs(L, 10, blobs, &nblobs) != 0)
        return lsz_push_fail(L, SZ_GIGYA_INVALID_PARAMETER, lua_tostring(L, -1));
    if (call_args_read(L, &a) != 0) {
        call_args_free(&a);
        return lsz_push_fail(L, SZ_GIGYA_INVALID_PARAMETER, lua_tostring(L, -1));
    }
    if (!lua_isnoneornil(L, 8) && !(setup = lsz_arg_json(L, 8, "setup state", &sbad))) {
        call_args_free(&a);
        return lsz_push_fail(L, SZ_GIGYA_INVALID_PARAMETER, lua_tostring(L, -1));
    }
    if (!lua_isnoneornil(L, 9) && !(step = lsz_arg_json(L, 9, "step state", &sbad))) {
        call_args_free(&a);
        sz_json_free(setup);
        return lsz_push_fail(L, SZ_GIGYA_INVALID_PARAMETER, lua_tostring(L, -1));
    }
    a.c.timestamp = ts;
    a.c.nonce = nonce;
    a.c.setup = setup;
    a.c.step = step;
    a.c.blobs = blobs;
    a.c.nblobs = nblobs;
    r = sz_provider_request_json(&a.c, &res, &err);
    call_args_free(&a);
    sz_json_free(setup);
    sz_json_free(step);
    if (!r) {
        if (err.status == SZ_ENOMEM) { /* as before the C contract: a transient result the front retries */
            int code = sz_category_code("transient");
            lua_pushnil(L);
            lua_pushfstring(L, "%s: out of memory while building the request", lua_tostring(L, 1));
            lua_pushinteger(L, code);
            lua_createtable(L, 0, 6);
            lua_pushboolean(L, 0);
            lua_setfield(L, -2, "ok");
            lua_pushliteral(L, "transient");
            lua_setfield(L, -2, "category");
            lua_pushinteger(L, code);
            lua_setfield(L, -2, "errorCode");
            lua_pushstring(L, sz_gigya_message(code));
            lua_setfield(L, -2, "errorMessage");
            lua_pushfstring(L, "%s: out of memory while building the request", lua_tostring(L, 1));
            lua_setfield(L, -2, "errorDetails");
            lua_pushvalue(L, 1);
            lua_setfield(L, -2, "provider");
            return 4; /* nil, message, code, result: as any refusal */
        }
        if (!res)
            return lsz_push_fail(L, err.code, err.message);
        return push_refusal(L, res);
    }
    return push_request(L, r);
}

/* core.provider_parse(provider, action, input, app, user, status, headers, body, now, step)
 *   -> result (ok or a failure: the reply's classification) | nil, message, code */
static int l_provider_parse(lua_State *L)
{
    call_args a;
    int status = lsz_clamp_int((long long)luaL_checkinteger(L, 6));
    size_t bl, nh = 0, i;
    const char *body = luaL_optlstring(L, 8, "", &bl), *nul;
    long long now = lsz_arg_ll(L, 9);
    sz_header hs[64];
    json_t *r;
    if (!lua_isnoneornil(L, 7))
        luaL_checktype(L, 7, LUA_TTABLE);
    nul = call_args_check(L);
    if (nul)
        return lsz_push_nul_fail(L, nul);
    if (!lua_isnoneornil(L, 7)) {
        lua_pushnil(L);
        while (lua_next(L, 7) != 0) {
            size_t kl, vl;
            const char *k, *v;
            if (nh < 64 && lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING) {
                k = lua_tolstring(L, -2, &kl); /* anchored in the table */
                v = lua_tolstring(L, -1, &vl);
                if (!sz_has_nul(k, kl) && !sz_has_nul(v, vl)) { /* a header with NUL is ignored */
                    hs[nh].name = k;
                    hs[nh].value = v;
                    nh++;
                }
            }
            lua_pop(L, 1);
        }
    }
    if (call_args_read(L, &a) != 0) {
        call_args_free(&a);
        return lsz_push_fail(L, SZ_GIGYA_INVALID_PARAMETER, lua_tostring(L, -1));
    }
    (void)i;
    if (!lua_isnoneornil(L, 10)) {
        int sbad = 0;
        luaL_checktype(L, 10, LUA_TTABLE);
        if (!(a.c.step = lsz_arg_json(L, 10, "step state", &sbad))) {
            call_args_free(&a);
            return lsz_push_fail(L, SZ_GIGYA_INVALID_PARAMETER, lua_tostring(L, -1));
        }
    }
    r = sz_provider_parse_json(&a.c, status, hs, nh, body, bl, now);
    sz_json_free(a.c.step);
    call_args_free(&a);
    return lsz_push_result(L, r);
}

/* core.provider_text(provider, action, input, app, user, setup)
 *   -> {ok, text, length, max, truncated, counter, link?} | failure result
 *    | nil, message, code */
static int l_provider_text(lua_State *L)
{
    call_args a;
    json_t *setup = NULL, *r;
    sz_error err;
    int sbad = 0;
    const char *nul = call_args_check(L);
    if (nul)
        return lsz_push_nul_fail(L, nul);
    if (!lua_isnoneornil(L, 6))
        luaL_checktype(L, 6, LUA_TTABLE);
    if (call_args_read(L, &a) != 0) {
        call_args_free(&a);
        return lsz_push_fail(L, SZ_GIGYA_INVALID_PARAMETER, lua_tostring(L, -1));
    }
    if (!lua_isnoneornil(L, 6) && !(setup = lsz_arg_json(L, 6, "setup state", &sbad))) {
        call_args_free(&a);
        return lsz_push_fail(L, SZ_GIGYA_INVALID_PARAMETER, lua_tostring(L, -1));
    }
    a.c.setup = setup;
    r = sz_provider_text_json(&a.c, &err);
    call_args_free(&a);
    sz_json_free(setup);
    if (!r)
        return lsz_push_fail(L, err.code, err.message);
    return lsz_push_result(L, r);
}

/* core.media_sniff(bytes) -> {mime, kind, width?, height?} | nil (not a
 * type the library recognises) */
static int l_media_sniff(lua_State *L)
{
    size_t n;
    const char *b = luaL_checklstring(L, 1, &n);
    sz_media_info mi;
    if (sz_media_sniff(b, n, &mi) != 0) {
        lua_pushnil(L);
        return 1;
    }
    lua_createtable(L, 0, 4);
    lua_pushstring(L, mi.mime);
    lua_setfield(L, -2, "mime");
    lua_pushstring(L, mi.kind);
    lua_setfield(L, -2, "kind");
    if (mi.width > 0 && mi.height > 0) {
        lua_pushinteger(L, (lua_Integer)mi.width);
        lua_setfield(L, -2, "width");
        lua_pushinteger(L, (lua_Integer)mi.height);
        lua_setfield(L, -2, "height");
    }
    return 1;
}

/* core.bookmark_url(destination, url, title, description, image, instance)
 *   -> result (ok with url, or a failure) | nil, "out of memory", 500000 */
static int l_bookmark_url(lua_State *L)
{
    static const char *const names[] = {"destination", "url", "title", "description", "image",
                                        "instance"};
    int nul[6] = {0, 0, 0, 0, 0, 0}, i;
    const char *a[6];
    a[0] = lsz_arg_cstr(L, 1, &nul[0]);
    for (i = 1; i < 6; i++)
        a[i] = lsz_arg_optcstr(L, i + 1, &nul[i]);
    for (i = 0; i < 6; i++)
        if (nul[i]) { /* the same failure object as the core's */
            lua_createtable(L, 0, 6);
            lua_pushboolean(L, 0);
            lua_setfield(L, -2, "ok");
            lua_pushliteral(L, "content_invalid");
            lua_setfield(L, -2, "category");
            lua_pushinteger(L, SZ_GIGYA_INVALID_PARAMETER);
            lua_setfield(L, -2, "errorCode");
            lua_pushstring(L, sz_gigya_message(SZ_GIGYA_INVALID_PARAMETER));
            lua_setfield(L, -2, "errorMessage");
            lua_pushfstring(L, "%s contains a NUL byte", names[i]);
            lua_setfield(L, -2, "errorDetails");
            return 1;
        }
    return lsz_push_result(L, sz_bookmark_url_json(a[0], a[1], a[2], a[3], a[4], a[5]));
}

static int push_names(lua_State *L, const char *const *names)
{
    int i;
    lua_newtable(L);
    for (i = 0; names[i]; i++) {
        lua_pushstring(L, names[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static int l_provider_names(lua_State *L) { return push_names(L, sz_provider_names()); }

/* core.provider_info(name) -> table | nil, message, 400006 (unknown network) */
static int l_provider_info(lua_State *L)
{
    int nul = 0;
    const char *name = lsz_arg_cstr(L, 1, &nul);
    json_t *r = nul ? NULL : sz_provider_info_json(name);
    if (!r) {
        if (nul)
            return lsz_push_nul_fail(L, "provider");
        lua_pushnil(L);
        lua_pushfstring(L, "Invalid parameter value: unknown provider '%s'", name);
        lua_pushinteger(L, SZ_GIGYA_INVALID_PARAMETER);
        return 3;
    }
    return lsz_push_result(L, r);
}
static int l_bookmark_names(lua_State *L) { return push_names(L, sz_bookmark_names()); }

static int l_category_code(lua_State *L)
{
    int nul = 0;
    const char *cat = lsz_arg_cstr(L, 1, &nul);
    lua_pushinteger(L, sz_category_code(nul ? "" : cat));
    return 1;
}

/* core.check_url(url) -> host, port, scheme, family (4, 6 or 0 for a name)
 *                      | nil, reason, code (400002 missing, 400006 invalid), blocked
 * (blocked: the URL is well-formed and only its host is a private address
 * or localhost, which allowPrivateNetworks may allow)
 * The private-network guard for every URL the library connects to that it
 * did not choose itself (sz_url_check). */
static int l_check_url(lua_State *L)
{
    sz_url_parts u;
    size_t n;
    const char *url, *why;
    if (lua_isnoneornil(L, 1)) {
        lua_pushnil(L);
        lua_pushliteral(L, "the URL is missing");
        lua_pushinteger(L, 400002);
        return 3;
    }
    if (lua_type(L, 1) != LUA_TSTRING) {
        lua_pushnil(L);
        lua_pushliteral(L, "the URL must be a string");
        lua_pushinteger(L, 400006);
        return 3;
    }
    url = lua_tolstring(L, 1, &n);
    why = sz_url_check(url, n, &u);
    if (why) {
        lua_pushnil(L);
        lua_pushstring(L, why);
        lua_pushinteger(L, 400006);
        lua_pushboolean(L, u.blocked);
        return 4;
    }
    lua_pushstring(L, u.host);
    lua_pushinteger(L, u.port);
    lua_pushstring(L, u.https ? "https" : "http");
    lua_pushinteger(L, u.family);
    return 4;
}

/* core.addr_blocked(ip) -> true | false | nil, reason, 400006: whether a
 * resolved address (dotted-decimal IPv4 or IPv6 text) must not be connected to. */
static int l_addr_blocked(lua_State *L)
{
    unsigned char a[16];
    size_t n;
    const char *ip = luaL_checklstring(L, 1, &n);
    int family = sz_ip_parse(ip, n, a);
    if (!family) {
        lua_pushnil(L);
        lua_pushliteral(L, "not an IP address");
        lua_pushinteger(L, SZ_GIGYA_INVALID_PARAMETER);
        return 3;
    }
    lua_pushboolean(L, sz_addr_blocked(family, a));
    return 1;
}

/* ---- OAuth 2.0 connect (sz_oauth.c, docs/connections.md) ---------------- */

/* core.oauth_pkce(random_bytes) -> verifier, challenge | nil, message, code */
static int l_oauth_pkce(lua_State *L)
{
    size_t n;
    const unsigned char *rnd = (const unsigned char *)luaL_checklstring(L, 1, &n);
    char v[129], c[44];
    sz_error err;
    if (sz_oauth_pkce(rnd, n, v, c, &err) != 0)
        return lsz_push_fail(L, SZ_GIGYA_INVALID_PARAMETER, err.message);
    lua_pushstring(L, v);
    lua_pushstring(L, c);
    sz_wipe(v, sizeof v);
    return 2;
}

/* core.oauth_request(provider, op, app, args) -> {method, url, body?, headers}
 *   | failure result (ok = false, category, errorDetails) | nil, message, code
 * op: "authorize" (url: where to send the user), "token", "refresh",
 * "identity", "revoke". */
static int l_oauth_request(lua_State *L)
{
    int nul = 0, bad = 0;
    const char *prov = lsz_arg_cstr(L, 1, &nul), *op = lsz_arg_cstr(L, 2, &nul);
    json_t *app, *args, *refusal = NULL;
    sz_request *r;
    if (!lua_isnoneornil(L, 3))
        luaL_checktype(L, 3, LUA_TTABLE);
    if (!lua_isnoneornil(L, 4))
        luaL_checktype(L, 4, LUA_TTABLE);
    if (nul)
        return lsz_push_nul_fail(L, "provider or op");
    if (!(app = lsz_arg_json(L, 3, "app", &bad)))
        return lsz_push_fail(L, SZ_GIGYA_INVALID_PARAMETER, lua_tostring(L, -1));
    if (!(args = lsz_arg_json(L, 4, "args", &bad))) {
        sz_json_free(app);
        return lsz_push_fail(L, SZ_GIGYA_INVALID_PARAMETER, lua_tostring(L, -1));
    }
    r = sz_oauth_request_json(prov, op, app, args, &refusal);
    sz_json_free(app);
    sz_json_free(args);
    if (r)
        return push_request(L, r);
    if (refusal)
        return lsz_push_result(L, refusal);
    return lsz_push_fail(L, SZ_GIGYA_INTERNAL, "out of memory");
}

/* core.oauth_parse(provider, op, status, body, now, args) -> result table
 * (ok = true with the step's fields, or ok = false with category) */
static int l_oauth_parse(lua_State *L)
{
    int nul = 0, bad = 0;
    const char *prov = lsz_arg_cstr(L, 1, &nul), *op = lsz_arg_cstr(L, 2, &nul);
    int status = lsz_clamp_int((long long)luaL_checkinteger(L, 3));
    size_t bl;
    const char *body = luaL_optlstring(L, 4, "", &bl);
    long long now = lsz_arg_ll(L, 5);
    json_t *args;
    if (!lua_isnoneornil(L, 6))
        luaL_checktype(L, 6, LUA_TTABLE);
    if (nul)
        return lsz_push_nul_fail(L, "provider or op");
    if (!(args = lsz_arg_json(L, 6, "args", &bad)))
        return lsz_push_fail(L, SZ_GIGYA_INVALID_PARAMETER, lua_tostring(L, -1));
    {
        json_t *r = sz_oauth_parse_json(prov, op, status, body, bl, now, args);
        sz_json_free(args);
        return lsz_push_result(L, r);
    }
}

const luaL_Reg lsz_provider_funcs[] = {
    {"oauth_pkce", l_oauth_pkce},
    {"oauth_request", l_oauth_request},
    {"oauth_parse", l_oauth_parse},
    {"build_request", l_build_request},
    {"parse_response", l_parse_response},
    {"provider_request", l_provider_request},
    {"provider_text", l_provider_text},
    {"media_sniff", l_media_sniff},
    {"provider_parse", l_provider_parse},
    {"provider_names", l_provider_names},
    {"provider_info", l_provider_info},
    {"bookmark_url", l_bookmark_url},
    {"bookmark_names", l_bookmark_names},
    {"category_code", l_category_code},
    {"check_url", l_check_url},
    {"addr_blocked", l_addr_blocked},
    {NULL, NULL}
};
