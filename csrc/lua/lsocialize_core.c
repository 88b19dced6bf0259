/* socialize.core - Lua binding of the sans-IO core.
 *
 * Everything here is pure computation: no sockets, no blocking. Runtime
 * problems with the caller's data return (nil, code, message); only wrong
 * argument types raise. No function raises while it owns C memory. */

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/rand.h>
#include "lua.h"
#include "lauxlib.h"
#include "lsz_compat.h"
#include "socialize.h"
#include "sz_internal.h"

#define SZ_JSON_MAX_DEPTH 64

/* ---- Lua value -> JSON / parameter string --------------------------------*/

typedef struct enc_ctx {
    sz_buf  out;
    sz_buf  path;   /* "userAction.mediaItems[1].src", for messages */
    int     code;
    char    msg[256];
} enc_ctx;

static int enc_fail(enc_ctx *c, const char *what)
{
    const char *path = c->path.len ? c->path.data : "value";
    c->code = SZ_E_INVALID_PARAMETER;
    if (c->path.len > 80) /* keep the reason readable for deep paths */
        snprintf(c->msg, sizeof c->msg, "Invalid parameter value: %.60s... %s", path, what);
    else
        snprintf(c->msg, sizeof c->msg, "Invalid parameter value: %s %s", path, what);
    return -1;
}

typedef struct keyref {
    const char *s;
    size_t      n;
} keyref;

static int keyref_cmp(const void *a, const void *b)
{
    const keyref *x = a, *y = b;
    int c = memcmp(x->s, y->s, x->n < y->n ? x->n : y->n);
    if (c)
        return c;
    return x->n < y->n ? -1 : x->n > y->n;
}

static int encode_value(lua_State *L, int idx, enc_ctx *c, int depth);

/* 1 when the table at idx is a JSON array (keys exactly 1..n, n > 0, or an
 * empty table whose metatable says __jsontype = "array"), 0 for an object,
 * -1 when it mixes both or has holes. */
static int table_kind(lua_State *L, int idx, size_t *out_n)
{
    size_t n = sz_rawlen(L, idx), count = 0;
    int has_str = 0, has_num = 0;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        count++;
        if (lua_type(L, -1) == LUA_TSTRING)
            has_str = 1;
        else if (lua_type(L, -1) == LUA_TNUMBER)
            has_num = 1;
        else
            has_str = has_num = 1;
    }
    *out_n = n;
    if (count == 0) {
        int arr = 0;
        if (luaL_getmetafield(L, idx, "__jsontype")) {
            arr = lua_isstring(L, -1) && strcmp(lua_tostring(L, -1), "array") == 0;
            lua_pop(L, 1);
        }
        return arr;
    }
    if (has_str && has_num)
        return -1;
    if (has_num)
        return count == n ? 1 : -1;
    return 0;
}

static int encode_table(lua_State *L, int idx, enc_ctx *c, int depth)
{
    size_t n, i, plen = c->path.len, count = 0;
    keyref *keys;
    int kind;
    if (depth > SZ_JSON_MAX_DEPTH)
        return enc_fail(c, "is nested too deeply (or refers to itself)");
    if (!lua_checkstack(L, 4))
        return enc_fail(c, "is nested too deeply");
    kind = table_kind(L, idx, &n);
    if (kind < 0)
        return enc_fail(c, "mixes array and object keys, or is an array with holes");
    if (kind == 1) {
        sz_buf_addc(&c->out, '[');
        for (i = 1; i <= n; i++) {
            if (i > 1)
                sz_buf_addc(&c->out, ',');
            sz_buf_printf(&c->path, "[%zu]", i);
            lua_rawgeti(L, idx, (int)i);
            if (encode_value(L, lua_gettop(L), c, depth + 1) != 0)
                return -1;
            lua_pop(L, 1);
            c->path.len = plen;
            if (c->path.data)
                c->path.data[plen] = '\0';
        }
        sz_buf_addc(&c->out, ']');
        return 0;
    }
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        count++;
    }
    keys = count ? malloc(count * sizeof *keys) : NULL;
    if (count && !keys)
        return enc_fail(c, "could not be encoded (out of memory)");
    i = 0;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        /* keys are strings here (table_kind), anchored by the table */
        keys[i].s = lua_tolstring(L, -1, &keys[i].n);
        i++;
    }
    if (count > 1)
        qsort(keys, count, sizeof *keys, keyref_cmp);
    sz_buf_addc(&c->out, '{');
    for (i = 0; i < count; i++) {
        if (!sz_utf8_valid(keys[i].s, keys[i].n)) {
            free(keys);
            return enc_fail(c, "has a key that is not valid UTF-8");
        }
        if (i)
            sz_buf_addc(&c->out, ',');
        sz_json_string_buf(&c->out, keys[i].s, keys[i].n);
        sz_buf_addc(&c->out, ':');
        if (plen)
            sz_buf_addc(&c->path, '.');
        sz_buf_add(&c->path, keys[i].s, keys[i].n > 64 ? 64 : keys[i].n);
        lua_pushlstring(L, keys[i].s, keys[i].n);
        lua_rawget(L, idx);
        if (encode_value(L, lua_gettop(L), c, depth + 1) != 0) {
            free(keys);
            return -1;
        }
        lua_pop(L, 1);
        c->path.len = plen;
        if (c->path.data)
            c->path.data[plen] = '\0';
    }
    free(keys);
    sz_buf_addc(&c->out, '}');
    return 0;
}

/* A string (checked UTF-8; JSON-quoted or raw), a number (integral without
 * fraction, else shortest round-trip) or a boolean. Returns 1 when the
 * value is not one of those, else 0 or -1 (enc_fail). */
static int encode_scalar(lua_State *L, int idx, enc_ctx *c, int quote)
{
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        if (!sz_utf8_valid(s, n))
            return enc_fail(c, "is not valid UTF-8");
        if (quote)
            sz_json_string_buf(&c->out, s, n);
        else
            sz_buf_add(&c->out, s, n);
        return 0;
    }
    case LUA_TNUMBER:
        if (sz_isinteger(L, idx)) {
            sz_buf_printf(&c->out, "%lld", (long long)lua_tointeger(L, idx));
            return 0;
        }
        if (sz_number_buf(&c->out, (double)lua_tonumber(L, idx)) != 0)
            return enc_fail(c, "is NaN or infinite");
        return 0;
    case LUA_TBOOLEAN:
        sz_buf_adds(&c->out, lua_toboolean(L, idx) ? "true" : "false");
        return 0;
    default:
        return 1;
    }
}

static int encode_value(lua_State *L, int idx, enc_ctx *c, int depth)
{
    int rc = encode_scalar(L, idx, c, 1);
    if (rc != 1)
        return rc;
    switch (lua_type(L, idx)) {
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == NULL) { /* socialize.null, cjson.null */
            sz_buf_adds(&c->out, "null");
            return 0;
        }
        return enc_fail(c, "is a userdata, which has no JSON form");
    case LUA_TTABLE:
        return encode_table(L, idx, c, depth);
    default:
        return enc_fail(c, lua_type(L, idx) == LUA_TNIL ? "is nil"
                                                          : "has a type with no JSON form");
    }
}

/* Parameter value -> the exact string that is signed and sent:
 * string as is, integral number without fraction, boolean true/false,
 * table as canonical JSON. */
static int param_string(lua_State *L, int idx, enc_ctx *c)
{
    int rc = encode_scalar(L, idx, c, 0);
    if (rc != 1)
        return rc;
    if (lua_type(L, idx) == LUA_TTABLE)
        return encode_table(L, idx, c, 0);
    return enc_fail(c, "must be a string, number, boolean or table");
}

static void enc_init(enc_ctx *c, const char *root, size_t rootlen)
{
    memset(c, 0, sizeof *c);
    sz_buf_init(&c->out);
    sz_buf_init(&c->path);
    if (root) /* a name for messages only: cut at a NUL, never beyond */
        sz_buf_add(&c->path, root, strnlen(root, rootlen > 64 ? 64 : rootlen));
}

static void enc_free(enc_ctx *c)
{
    sz_buf_reset(&c->out);
    sz_buf_reset(&c->path);
}

static int push_fail(lua_State *L, int code, const char *msg)
{
    lua_pushnil(L);
    lua_pushinteger(L, code);
    lua_pushstring(L, msg);
    return 3;
}

/* ---- argument reading (docs/RELIABILITY.md "NUL bytes") ----------------------
 * Every argument's type is checked before the function allocates anything,
 * so a raise never leaks. A string that feeds the core as a C string and
 * holds a NUL byte is refused (it would be cut short), never truncated. */

/* A string argument that must not hold NUL: sets *nul when it does. */
static const char *arg_cstr(lua_State *L, int i, int *nul)
{
    size_t n;
    const char *s = luaL_checklstring(L, i, &n);
    if (sz_has_nul(s, n))
        *nul = 1;
    return s;
}

static const char *arg_optcstr(lua_State *L, int i, int *nul)
{
    if (lua_isnoneornil(L, i))
        return NULL;
    return arg_cstr(L, i, nul);
}

/* A number argument as long long, saturated (NaN -> 0). */
static long long arg_ll(lua_State *L, int i)
{
    return sz_sat_from_double((double)luaL_checknumber(L, i));
}

static int clamp_int(long long v)
{
    return v < -2147483647 ? -2147483647 : v > 2147483647 ? 2147483647 : (int)v;
}

static int push_nul_fail(lua_State *L, const char *what)
{
    lua_pushnil(L);
    lua_pushinteger(L, SZ_E_INVALID_PARAMETER);
    lua_pushfstring(L, "Invalid parameter value: %s contains a NUL byte", what);
    return 3;
}

/* Lua table -> sz_params. Returns NULL with c->code/msg set. */
static sz_params *to_params(lua_State *L, int idx, enc_ctx *c)
{
    sz_params *p = sz_params_new();
    if (!p) {
        c->code = SZ_E_INTERNAL;
        strcpy(c->msg, "out of memory");
        return NULL;
    }
    if (lua_isnoneornil(L, idx))
        return p;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        size_t kl;
        const char *k;
        if (lua_type(L, -2) != LUA_TSTRING) {
            lua_pop(L, 2);
            c->code = SZ_E_INVALID_PARAMETER;
            strcpy(c->msg, "Invalid parameter value: parameter names must be strings");
            sz_params_free(p);
            return NULL;
        }
        k = lua_tolstring(L, -2, &kl);
        if (sz_has_nul(k, kl)) {
            lua_pop(L, 2);
            c->code = SZ_E_INVALID_PARAMETER;
            strcpy(c->msg, "Invalid parameter value: a parameter name contains a NUL byte");
            sz_params_free(p);
            return NULL;
        }
        c->out.len = 0; /* reuse the buffers across parameters */
        c->path.len = 0;
        sz_buf_add(&c->path, k, kl > 64 ? 64 : kl);
        if (param_string(L, lua_gettop(L), c) != 0) {
            lua_pop(L, 2);
            sz_params_free(p);
            return NULL;
        }
        if (c->out.failed ||
            sz_params_set(p, k, kl, c->out.data ? c->out.data : "", c->out.len) != 0) {
            lua_pop(L, 2);
            c->code = SZ_E_INTERNAL;
            strcpy(c->msg, "out of memory");
            sz_params_free(p);
            return NULL;
        }
        lua_pop(L, 1);
    }
    return p;
}

/* core.json_encode(value [, name]) -> string | nil, code, message */
static int l_json_encode(lua_State *L)
{
    enc_ctx c;
    size_t nl = 0;
    const char *name;
    luaL_checkany(L, 1);
    name = luaL_optlstring(L, 2, NULL, &nl);
    enc_init(&c, name, nl);
    if (encode_value(L, 1, &c, 0) != 0 || c.out.failed) {
        enc_free(&c);
        return push_fail(L, c.code ? c.code : SZ_E_INTERNAL, c.code ? c.msg : "out of memory");
    }
    lua_pushlstring(L, c.out.data, c.out.len);
    enc_free(&c);
    return 1;
}

/* core.param_string(value [, name]) -> string | nil, code, message */
static int l_param_string(lua_State *L)
{
    enc_ctx c;
    size_t nl = 0;
    const char *name;
    luaL_checkany(L, 1);
    name = luaL_optlstring(L, 2, NULL, &nl);
    enc_init(&c, name, nl);
    if (param_string(L, 1, &c) != 0 || c.out.failed) {
        enc_free(&c);
        return push_fail(L, c.code ? c.code : SZ_E_INTERNAL, c.code ? c.msg : "out of memory");
    }
    lua_pushlstring(L, c.out.data ? c.out.data : "", c.out.len);
    enc_free(&c);
    return 1;
}

/* ---- JSON -> Lua ---------------------------------------------------------*/

static int push_json(lua_State *L, json_t *j, int depth)
{
    if (depth > 512 || !lua_checkstack(L, 3))
        return -1;
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *v;
        lua_createtable(L, 0, (int)json_object_size(j));
        json_object_foreach(j, k, v) {
            if (push_json(L, v, depth + 1) != 0)
                return -1;
            lua_setfield(L, -2, k);
        }
        return 0;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *v;
        lua_createtable(L, (int)json_array_size(j), 0);
        json_array_foreach(j, i, v) {
            if (push_json(L, v, depth + 1) != 0)
                return -1;
            lua_rawseti(L, -2, (int)i + 1);
        }
        return 0;
    }
    case JSON_STRING:
        lua_pushlstring(L, json_string_value(j), json_string_length(j));
        return 0;
    case JSON_INTEGER:
#if LUA_VERSION_NUM >= 503
        lua_pushinteger(L, (lua_Integer)json_integer_value(j));
#else
        lua_pushnumber(L, (lua_Number)json_integer_value(j));
#endif
        return 0;
    case JSON_REAL:
        lua_pushnumber(L, json_real_value(j));
        return 0;
    case JSON_TRUE:
        lua_pushboolean(L, 1);
        return 0;
    case JSON_FALSE:
        lua_pushboolean(L, 0);
        return 0;
    default:
        lua_pushlightuserdata(L, NULL);
        return 0;
    }
}

/* core.json_decode(s) -> value | nil, code, message */
static int l_json_decode(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    json_error_t je;
    json_t *j = json_loadb(s, n, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    int top = lua_gettop(L), rc;
    char msg[256];
    if (!j) {
        snprintf(msg, sizeof msg, "Invalid parameter value: JSON %s at byte %d", je.text,
                 je.position);
        return push_fail(L, SZ_E_INVALID_PARAMETER, msg);
    }
    rc = push_json(L, j, 0);
    json_decref(j);
    if (rc != 0) {
        lua_settop(L, top);
        return push_fail(L, SZ_E_INVALID_PARAMETER, "Invalid parameter value: JSON nested too deeply");
    }
    return 1;
}

/* ---- encodings, signing, validators ---------------------------------------*/

static int l_url_encode(lua_State *L)
{
    size_t n, on;
    const char *s = luaL_checklstring(L, 1, &n);
    char *e = sz_url_encode(s, n, &on);
    if (!e)
        return luaL_error(L, "out of memory");
    lua_pushlstring(L, e, on);
    sz_free(e);
    return 1;
}

/* core.base_string(httpMethod, url, params) -> string | nil, code, message */
static int l_base_string(lua_State *L)
{
    int nm = 0, nu = 0;
    const char *m = arg_cstr(L, 1, &nm), *url = arg_cstr(L, 2, &nu);
    enc_ctx c;
    sz_params *p;
    sz_error err;
    char *b;
    size_t bl;
    luaL_checktype(L, 3, LUA_TTABLE);
    if (nm || nu)
        return push_nul_fail(L, nm ? "httpMethod" : "url");
    enc_init(&c, NULL, 0);
    p = to_params(L, 3, &c);
    enc_free(&c);
    if (!p)
        return push_fail(L, c.code, c.msg);
    b = sz_base_string(m, url, p, &bl, &err);
    sz_params_free(p);
    if (!b)
        return push_fail(L, err.code, err.message);
    lua_pushlstring(L, b, bl);
    sz_free(b);
    return 1;
}

/* core.hmac_sha1(secret_b64, message) -> base64 | nil, code, message */
static int l_hmac_sha1(lua_State *L)
{
    int nul = 0;
    const char *secret = arg_cstr(L, 1, &nul);
    size_t n;
    const char *msg = luaL_checklstring(L, 2, &n);
    sz_error err;
    char *sig;
    if (nul)
        return push_nul_fail(L, "secret");
    sig = sz_sign(secret, msg, n, &err);
    if (!sig)
        return push_fail(L, err.code, err.message);
    lua_pushstring(L, sig);
    sz_free(sig);
    return 1;
}

/* -1 (no time check) for nil; sets *bad for NaN */
static long long opt_window(lua_State *L, int i, int *bad)
{
    lua_Number w;
    if (lua_isnoneornil(L, i))
        return -1;
    w = luaL_checknumber(L, i);
    if (w != w)
        *bad = 1;
    return sz_sat_from_double((double)w);
}

/* The validators answer false (never a truncated comparison) when a UID,
 * timestamp, secret or signature holds a NUL byte. */

/* core.validate_user(UID, timestamp, secret, signature, window|nil, now) */
static int l_validate_user(lua_State *L)
{
    int bad = 0;
    const char *uid = arg_cstr(L, 1, &bad), *ts = arg_cstr(L, 2, &bad),
               *secret = arg_cstr(L, 3, &bad), *sig = arg_cstr(L, 4, &bad);
    long long w = opt_window(L, 5, &bad), now = arg_ll(L, 6);
    lua_pushboolean(L, !bad && sz_validate_user_signature(uid, ts, secret, sig, w, now));
    return 1;
}

/* core.validate_friend(UID, timestamp, friendUID, secret, signature, window|nil, now) */
static int l_validate_friend(lua_State *L)
{
    int bad = 0;
    const char *uid = arg_cstr(L, 1, &bad), *ts = arg_cstr(L, 2, &bad),
               *fuid = arg_cstr(L, 3, &bad), *secret = arg_cstr(L, 4, &bad),
               *sig = arg_cstr(L, 5, &bad);
    long long w = opt_window(L, 6, &bad), now = arg_ll(L, 7);
    lua_pushboolean(L, !bad && sz_validate_friend_signature(uid, ts, fuid, secret, sig, w, now));
    return 1;
}

/* core.validate_webhook(rawBody, secret, headerValue) */
static int l_validate_webhook(lua_State *L)
{
    size_t n;
    int bad = 0;
    const char *body = luaL_checklstring(L, 1, &n), *secret = arg_cstr(L, 2, &bad),
               *hv = arg_cstr(L, 3, &bad);
    lua_pushboolean(L, !bad && sz_validate_webhook_signature(body, n, secret, hv));
    return 1;
}

/* core.consttime_equal(a, b) */
static int l_consttime_equal(lua_State *L)
{
    size_t an, bn;
    const char *a = luaL_checklstring(L, 1, &an), *b = luaL_checklstring(L, 2, &bn);
    lua_pushboolean(L, sz_consttime_equal(a, an, b, bn));
    return 1;
}

/* core.now_ms() -> wall clock in milliseconds (integer-valued number) */
static int l_now_ms(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    lua_pushnumber(L, (lua_Number)((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000));
    return 1;
}

/* core.nonce() -> "<ms>_<u32>" (the Java/Android form). A nonce must be
 * unique, not secret: the number comes from a xorshift64* generator seeded
 * once per Lua state from OpenSSL's RNG (RAND_bytes on every call cost more
 * than the rest of the request). The state is the function's upvalue. */
static int l_nonce(lua_State *L)
{
    unsigned long long *st = lua_touserdata(L, lua_upvalueindex(1)), x;
    struct timespec ts;
    char out[64];
    if (*st == 0) {
        unsigned char r[8];
        if (RAND_bytes(r, sizeof r) != 1)
            return luaL_error(L, "no randomness available for the nonce");
        memcpy(st, r, sizeof r);
        *st |= 1;
    }
    x = *st;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *st = x;
    x *= 0x2545F4914F6CDD1DULL;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(out, sizeof out, "%lld_%lu", (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000,
             (unsigned long)(x >> 32));
    lua_pushstring(L, out);
    return 1;
}

/* core.sleep(seconds): a blocking sleep, for plain Lua hosts only */
static int l_sleep(lua_State *L)
{
    lua_Number s = luaL_checknumber(L, 1);
    struct timespec ts;
    if (!(s > 0)) /* also NaN: no wait */
        return 0;
    if (s > 86400) /* at most a day: never a cast of an out-of-range double */
        s = 86400;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (lua_Number)ts.tv_sec) * 1e9);
    if (ts.tv_nsec > 999999999L)
        ts.tv_nsec = 999999999L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    return 0;
}

/* core.random_hex(nbytes) -> 2*nbytes hex characters from OpenSSL's RNG */
static int l_random_hex(lua_State *L)
{
    static const char H[] = "0123456789abcdef";
    unsigned char r[64];
    char out[129];
    lua_Integer li = luaL_checkinteger(L, 1);
    int n, i;
    luaL_argcheck(L, li > 0 && li <= 64, 1, "1 to 64 bytes");
    n = (int)li;
    if (RAND_bytes(r, n) != 1)
        return luaL_error(L, "no randomness available");
    for (i = 0; i < n; i++) {
        out[2 * i] = H[r[i] >> 4];
        out[2 * i + 1] = H[r[i] & 15];
    }
    lua_pushlstring(L, out, (size_t)n * 2);
    return 1;
}

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
    lua_createtable(L, 0, 4);
    lua_pushstring(L, sz_request_method(r));
    lua_setfield(L, -2, "method");
    lua_pushstring(L, sz_request_url(r));
    lua_setfield(L, -2, "url");
    if (body) {
        lua_pushlstring(L, body, bl);
        lua_setfield(L, -2, "body");
    }
    lua_createtable(L, 0, 4);
    for (i = 0; i < sz_request_header_count(r); i++) {
        const char *hn, *hv;
        sz_request_header(r, i, &hn, &hv);
        lua_pushstring(L, hv);
        lua_setfield(L, -2, hn);
    }
    lua_setfield(L, -2, "headers");
    sz_request_free(r);
    return 1;
}

/* core.build_request(opts, params) -> {method, url, body, headers}
 *                                   | nil, code, message
 * opts: method, apiDomain, url, auth ("signed"|"secret"|"oauth2"|"jwt"|"none"),
 *       apiKey, userKey, secret, accessToken, privateKey, timestamp, nonce, sdk */
static int l_build_request(lua_State *L)
{
    static const char *const modes[] = {"signed", "secret", "oauth2", "jwt", "none", NULL};
    sz_request_opts o;
    enc_ctx c;
    sz_params *p;
    sz_request *r;
    sz_error err;
    const char *auth, *nul = NULL;
    size_t i;
    luaL_checktype(L, 1, LUA_TTABLE);
    if (!lua_isnoneornil(L, 2))
        luaL_checktype(L, 2, LUA_TTABLE);
    luaL_checkstack(L, 16, "build_request");
    memset(&o, 0, sizeof o);
    o.api_method = opt_field(L, 1, "method", &nul);
    o.api_domain = opt_field(L, 1, "apiDomain", &nul);
    o.base_url = opt_field(L, 1, "url", &nul);
    o.api_key = opt_field(L, 1, "apiKey", &nul);
    o.user_key = opt_field(L, 1, "userKey", &nul);
    o.secret = opt_field(L, 1, "secret", &nul);
    o.access_token = opt_field(L, 1, "accessToken", &nul);
    o.private_key_pem = opt_field(L, 1, "privateKey", &nul);
    o.nonce = opt_field(L, 1, "nonce", &nul);
    o.sdk = opt_field(L, 1, "sdk", &nul);
    auth = opt_field(L, 1, "auth", &nul);
    if (nul)
        return push_nul_fail(L, nul);
    o.auth = SZ_AUTH_SIGNED;
    if (auth) {
        for (i = 0; modes[i] && strcmp(modes[i], auth) != 0; i++)
            ;
        if (!modes[i])
            return push_fail(L, SZ_E_INVALID_PARAMETER,
                             "Invalid parameter value: auth must be signed, secret, oauth2, jwt or none");
        o.auth = (sz_auth)i;
    }
    lua_getfield(L, 1, "timestamp");
    o.timestamp = sz_sat_from_double((double)lua_tonumber(L, -1));
    lua_pop(L, 1);
    enc_init(&c, NULL, 0);
    p = to_params(L, 2, &c);
    enc_free(&c);
    if (!p)
        return push_fail(L, c.code, c.msg);
    r = sz_request_build(&o, p, &err);
    sz_params_free(p);
    if (!r)
        return push_fail(L, err.code, err.message);
    return push_request(L, r);
}

/* core.parse_response(body, httpStatus) -> table (the whole reply, with
 * errorCode, statusCode, statusReason always present) */
static int l_parse_response(lua_State *L)
{
    size_t n;
    const char *body = luaL_optlstring(L, 1, "", &n);
    int status = clamp_int((long long)luaL_optinteger(L, 2, 200));
    sz_error err;
    sz_response *r = sz_response_parse(body, n, status, &err);
    int top = lua_gettop(L);
    if (!r)
        return push_fail(L, err.code, err.message);
    if (push_json(L, sz_response_json(r), 0) != 0) {
        lua_settop(L, top);
        sz_response_free(r);
        return push_fail(L, SZ_E_INTERNAL, "reply nested too deeply");
    }
    sz_response_free(r);
    return 1;
}

/* ---- Lua -> jansson (provider inputs) -------------------------------------*/

static json_t *to_json(lua_State *L, int idx, int depth)
{
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        return json_stringn(s, n); /* NULL for invalid UTF-8 */
    }
    case LUA_TNUMBER:
        if (sz_isinteger(L, idx))
            return json_integer((json_int_t)lua_tointeger(L, idx));
        {
            double d = (double)lua_tonumber(L, idx);
            if (d == (double)(json_int_t)d && d > -9.2e18 && d < 9.2e18)
                return json_integer((json_int_t)d);
            return json_real(d);
        }
    case LUA_TBOOLEAN:
        return json_boolean(lua_toboolean(L, idx));
    case LUA_TLIGHTUSERDATA:
        return lua_touserdata(L, idx) == NULL ? json_null() : NULL;
    case LUA_TTABLE: {
        size_t n, i;
        int kind;
        json_t *out;
        if (depth > SZ_JSON_MAX_DEPTH || !lua_checkstack(L, 4))
            return NULL;
        kind = table_kind(L, idx, &n);
        if (kind < 0)
            return NULL;
        if (kind == 1) {
            out = json_array();
            for (i = 1; out && i <= n; i++) {
                json_t *v;
                lua_rawgeti(L, idx, (int)i);
                v = to_json(L, lua_gettop(L), depth + 1);
                lua_pop(L, 1);
                if (!v || json_array_append_new(out, v) != 0) {
                    json_decref(out);
                    return NULL;
                }
            }
            return out;
        }
        out = json_object();
        lua_pushnil(L);
        while (out && lua_next(L, idx) != 0) {
            size_t kl;
            const char *k = lua_tolstring(L, -2, &kl);
            json_t *v = to_json(L, lua_gettop(L), depth + 1);
            lua_pop(L, 1);
            if (!v || json_object_setn_new(out, k, kl, v) != 0) {
                lua_pop(L, 1);
                json_decref(out);
                return NULL;
            }
        }
        return out;
    }
    default:
        return NULL;
    }
}

/* Optional table argument -> json_t (new reference); NULL on a bad value. */
static json_t *arg_json(lua_State *L, int idx, const char *what, int *bad)
{
    json_t *j;
    if (lua_isnoneornil(L, idx))
        return json_object();
    luaL_checktype(L, idx, LUA_TTABLE);
    j = to_json(L, idx, 0);
    if (!j) {
        *bad = 1;
        lua_pushfstring(L, "Invalid parameter value: %s has a value with no JSON form (or invalid UTF-8)", what);
    }
    return j;
}

static int push_result(lua_State *L, json_t *r)
{
    int top = lua_gettop(L);
    if (!r || push_json(L, r, 0) != 0) {
        lua_settop(L, top);
        json_decref(r);
        return luaL_error(L, "out of memory");
    }
    json_decref(r);
    return 1;
}

typedef struct pcall_args {
    sz_provider_call c;
    json_t *in, *app, *user;
} pcall_args;

static void pcall_free(pcall_args *a)
{
    json_decref(a->in);
    json_decref(a->app);
    json_decref(a->user);
}

/* The types of provider, action, input, app, user at 1..5, checked before
 * anything is allocated; NULL, or which name holds a NUL byte. */
static const char *pcall_check(lua_State *L)
{
    int i, np = 0, na = 0;
    arg_cstr(L, 1, &np);
    arg_cstr(L, 2, &na);
    for (i = 3; i <= 5; i++)
        if (!lua_isnoneornil(L, i))
            luaL_checktype(L, i, LUA_TTABLE);
    return np ? "provider" : na ? "action" : NULL;
}

/* provider, action, input, app, user at 1..5 (types checked by pcall_check) */
static int pcall_read(lua_State *L, pcall_args *a)
{
    int bad = 0;
    memset(a, 0, sizeof *a);
    a->c.provider = lua_tostring(L, 1);
    a->c.action = lua_tostring(L, 2);
    a->in = arg_json(L, 3, "input", &bad);
    if (!bad)
        a->app = arg_json(L, 4, "provider config", &bad);
    if (!bad)
        a->user = arg_json(L, 5, "connection", &bad);
    a->c.input = a->in;
    a->c.app = a->app;
    a->c.user = a->user;
    return bad ? -1 : 0;
}

/* core.provider_request(provider, action, input, app, user, timestamp, nonce, setup)
 *   -> request table | nil, result table (nothing to send). setup: the state
 *   the network's setup step returned (provider_info(name).setup), or nil. */
static int l_provider_request(lua_State *L)
{
    pcall_args a;
    json_t *res = NULL;
    sz_error err;
    sz_request *r;
    long long ts = sz_sat_from_double((double)luaL_optnumber(L, 6, 0));
    int nn = 0;
    const char *nonce = arg_optcstr(L, 7, &nn), *nul = pcall_check(L);
    json_t *setup = NULL;
    int sbad = 0;
    if (nul || nn)
        return push_nul_fail(L, nul ? nul : "nonce");
    if (!lua_isnoneornil(L, 8))
        luaL_checktype(L, 8, LUA_TTABLE);
    if (pcall_read(L, &a) != 0) {
        pcall_free(&a);
        return push_fail(L, SZ_E_INVALID_PARAMETER, lua_tostring(L, -1));
    }
    if (!lua_isnoneornil(L, 8) && !(setup = arg_json(L, 8, "setup state", &sbad))) {
        pcall_free(&a);
        return push_fail(L, SZ_E_INVALID_PARAMETER, lua_tostring(L, -1));
    }
    a.c.timestamp = ts;
    a.c.nonce = nonce;
    a.c.setup = setup;
    r = sz_provider_request(&a.c, &res, &err);
    pcall_free(&a);
    json_decref(setup);
    if (!r) {
        if (!res)
            return push_fail(L, err.code, err.message);
        lua_pushnil(L);
        return 1 + push_result(L, res);
    }
    return push_request(L, r);
}

/* core.provider_parse(provider, action, input, app, user, status, headers, body, now) -> result */
static int l_provider_parse(lua_State *L)
{
    pcall_args a;
    int status = clamp_int((long long)luaL_checkinteger(L, 6));
    size_t bl, nh = 0, i;
    const char *body = luaL_optlstring(L, 8, "", &bl), *nul;
    long long now = arg_ll(L, 9);
    sz_header hs[64];
    json_t *r;
    if (!lua_isnoneornil(L, 7))
        luaL_checktype(L, 7, LUA_TTABLE);
    nul = pcall_check(L);
    if (nul)
        return push_nul_fail(L, nul);
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
    if (pcall_read(L, &a) != 0) {
        pcall_free(&a);
        return push_fail(L, SZ_E_INVALID_PARAMETER, lua_tostring(L, -1));
    }
    (void)i;
    r = sz_provider_parse(&a.c, status, hs, nh, body, bl, now);
    pcall_free(&a);
    return push_result(L, r);
}

/* core.bookmark_url(destination, url, title, description, image, instance) -> result */
static int l_bookmark_url(lua_State *L)
{
    static const char *const names[] = {"destination", "url", "title", "description", "image",
                                        "instance"};
    int nul[6] = {0, 0, 0, 0, 0, 0}, i;
    const char *a[6];
    a[0] = arg_cstr(L, 1, &nul[0]);
    for (i = 1; i < 6; i++)
        a[i] = arg_optcstr(L, i + 1, &nul[i]);
    for (i = 0; i < 6; i++)
        if (nul[i]) { /* the same failure object as the core's */
            lua_createtable(L, 0, 6);
            lua_pushboolean(L, 0);
            lua_setfield(L, -2, "ok");
            lua_pushliteral(L, "content_invalid");
            lua_setfield(L, -2, "category");
            lua_pushinteger(L, SZ_E_INVALID_PARAMETER);
            lua_setfield(L, -2, "errorCode");
            lua_pushstring(L, sz_strerror(SZ_E_INVALID_PARAMETER));
            lua_setfield(L, -2, "errorMessage");
            lua_pushfstring(L, "%s contains a NUL byte", names[i]);
            lua_setfield(L, -2, "errorDetails");
            return 1;
        }
    return push_result(L, sz_bookmark_url(a[0], a[1], a[2], a[3], a[4], a[5]));
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

/* core.provider_info(name) -> table | nil (unknown network) */
static int l_provider_info(lua_State *L)
{
    int nul = 0;
    const char *name = arg_cstr(L, 1, &nul);
    json_t *r = nul ? NULL : sz_provider_info(name);
    if (!r) {
        lua_pushnil(L);
        return 1;
    }
    return push_result(L, r);
}
static int l_bookmark_names(lua_State *L) { return push_names(L, sz_bookmark_names()); }

static int l_category_code(lua_State *L)
{
    int nul = 0;
    const char *cat = arg_cstr(L, 1, &nul);
    lua_pushinteger(L, sz_category_code(nul ? "" : cat));
    return 1;
}

/* core.oauth1(method, url, ck, cs, token, tokenSecret, timestamp, nonce) */
static int l_oauth1(lua_State *L)
{
    static const char *const names[] = {"method", "url", "consumerKey", "consumerSecret", "token",
                                        "tokenSecret"};
    int nul[6] = {0, 0, 0, 0, 0, 0}, nn = 0, i;
    const char *a[6], *nonce;
    long long ts;
    char *h;
    for (i = 0; i < 6; i++)
        a[i] = arg_cstr(L, i + 1, &nul[i]);
    ts = arg_ll(L, 7);
    nonce = arg_cstr(L, 8, &nn);
    for (i = 0; i < 6; i++)
        if (nul[i])
            return push_nul_fail(L, names[i]);
    if (nn)
        return push_nul_fail(L, "nonce");
    h = sz_oauth1_authorization(a[0], a[1], a[2], a[3], a[4], a[5], ts, nonce);
    if (!h)
        return luaL_error(L, "oauth1 signing failed");
    lua_pushstring(L, h);
    sz_free(h);
    return 1;
}

static int l_strerror(lua_State *L)
{
    lua_pushstring(L, sz_strerror(clamp_int((long long)luaL_checkinteger(L, 1))));
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

/* core.addr_blocked(ip) -> true | false | nil, reason: whether a resolved
 * address (dotted-decimal IPv4 or IPv6 text) must not be connected to. */
static int l_addr_blocked(lua_State *L)
{
    unsigned char a[16];
    size_t n;
    const char *ip = luaL_checklstring(L, 1, &n);
    int family = sz_ip_parse(ip, n, a);
    if (!family) {
        lua_pushnil(L);
        lua_pushliteral(L, "not an IP address");
        return 2;
    }
    lua_pushboolean(L, sz_addr_blocked(family, a));
    return 1;
}

static const luaL_Reg funcs[] = {
    {"url_encode", l_url_encode},
    {"base_string", l_base_string},
    {"hmac_sha1", l_hmac_sha1},
    {"validate_user", l_validate_user},
    {"validate_friend", l_validate_friend},
    {"validate_webhook", l_validate_webhook},
    {"consttime_equal", l_consttime_equal},
    {"json_encode", l_json_encode},
    {"json_decode", l_json_decode},
    {"param_string", l_param_string},
    {"build_request", l_build_request},
    {"parse_response", l_parse_response},
    {"strerror", l_strerror},
    {"now_ms", l_now_ms},
    {"random_hex", l_random_hex},
    {"sleep", l_sleep},
    {"provider_request", l_provider_request},
    {"provider_parse", l_provider_parse},
    {"provider_names", l_provider_names},
    {"provider_info", l_provider_info},
    {"bookmark_url", l_bookmark_url},
    {"bookmark_names", l_bookmark_names},
    {"category_code", l_category_code},
    {"oauth1", l_oauth1},
    {"check_url", l_check_url},
    {"addr_blocked", l_addr_blocked},
    {NULL, NULL}
};

SZ_LUAOPEN int luaopen_socialize_core(lua_State *L)
{
    sz_newlib(L, funcs);
    {
        unsigned long long *st = lua_newuserdata(L, sizeof *st);
        *st = 0; /* seeded on first use */
        lua_pushcclosure(L, l_nonce, 1);
        lua_setfield(L, -2, "nonce");
    }
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "null");
    lua_pushstring(L, sz_version());
    lua_setfield(L, -2, "_VERSION");
    lua_pushliteral(L, "socialize.core");
    lua_setfield(L, -2, "_NAME");
    return 1;
}
