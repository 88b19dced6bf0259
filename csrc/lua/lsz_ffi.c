/* socialize.core - the FFI path for LuaJIT (lua/socialize/ffi.lua): the
 * Gigya request built and signed by one plain C call, which LuaJIT's JIT
 * compiles into the caller's trace (a Lua C API function ends a trace).
 * Part of the binding (lsocialize_core.c): core.ffi() hands out the address
 * of LSZ_FFI_API below, nothing is exported by name. It also makes core.nonce
 * (the same generator), os.time() and core.now_ms() FFI calls.
 *
 * The path answers only for what it is sure of: anything it does not take
 * (a value that is not a string, more than LSZ_FFI_MAX_PARAMS parameters,
 * an auth mode other than signed) or refuses (a NUL byte, invalid UTF-8, a
 * request the core refuses) answers -1, and the caller builds the request
 * through core.build_request, which decides and says why with the usual
 * code and message. So no error text is made here, and a success is the
 * request core.build_request makes, byte for byte (spec/ffi_spec.lua). */

#include <time.h>
#include "lsz_core.h"

#define LSZ_FFI_OPTS        11
#define LSZ_FFI_MAX_PARAMS  64
#define LSZ_FFI_MAX_HEADERS 4

/* The options in core.build_request's order of NUL checks (its opts table:
 * method, apiDomain, url, apiKey, userKey, secret, accessToken, privateKey,
 * nonce, sdk, auth); NULL for an absent one. Keep in step with ffi.lua. */
typedef struct lsz_ffi_build_in {
    const char *opt[LSZ_FFI_OPTS];
    size_t optlen[LSZ_FFI_OPTS];
    double timestamp;
    size_t n; /* parameters: key[i] (klen[i] bytes) = val[i] (vlen[i] bytes) */
    const char *const *key;
    const size_t *klen;
    const char *const *val;
    const size_t *vlen;
} lsz_ffi_build_in;

/* The request, written into the caller's buffer one after the other:
 * method, URL, body, then each header's name and value. */
typedef struct lsz_ffi_build_out {
    char *buf;
    size_t cap;
    size_t need; /* the bytes the request takes (answer 1: buf was too small) */
    size_t method_len, url_len, body_len;
    int has_body, truncated;
    size_t nh;
    size_t hn_len[LSZ_FFI_MAX_HEADERS], hv_len[LSZ_FFI_MAX_HEADERS];
} lsz_ffi_build_out;

typedef struct lsz_ffi_api {
    int version; /* LSZ_FFI_VERSION: ffi.lua takes the path only for its own */
    int (*build)(const lsz_ffi_build_in *in, lsz_ffi_build_out *out);
    /* core.nonce from generator st (core.ffi's third result): the length
     * written to out, or -1 (no randomness: core.nonce raises) */
    int (*nonce)(void *st, char *out, size_t cap);
    double (*time)(void);   /* os.time() */
    double (*now_ms)(void); /* core.now_ms() */
} lsz_ffi_api;

#define LSZ_FFI_VERSION 3

enum { O_METHOD, O_DOMAIN, O_URL, O_KEY, O_USERKEY, O_SECRET, O_TOKEN, O_PKEY, O_NONCE, O_SDK, O_AUTH };

static void put(lsz_ffi_build_out *out, size_t *at, const char *s, size_t n)
{
    memcpy(out->buf + *at, s, n);
    *at += n;
}

/* 0: the request is in out; 1: out->cap < out->need, nothing written (a
 * larger buffer, the same inputs, again); -1: not taken or refused (the
 * caller takes core.build_request). */
static int ffi_build(const lsz_ffi_build_in *in, lsz_ffi_build_out *out)
{
    sz_request_opts o;
    sz_params *p;
    sz_request *r;
    const char *body;
    size_t i, bl, ml, ul, need, at = 0, nh;
    for (i = 0; i < LSZ_FFI_OPTS; i++)
        if (in->opt[i] && sz_has_nul(in->opt[i], in->optlen[i]))
            return -1;
    /* signed only: the other modes send a credential in the body, which
     * would then stay in the caller's buffer */
    if (in->opt[O_AUTH] && strcmp(in->opt[O_AUTH], "signed") != 0)
        return -1;
    if (in->n > LSZ_FFI_MAX_PARAMS)
        return -1;
    memset(&o, 0, sizeof o);
    o.api_method = in->opt[O_METHOD];
    o.api_domain = in->opt[O_DOMAIN];
    o.base_url = in->opt[O_URL];
    o.api_key = in->opt[O_KEY];
    o.user_key = in->opt[O_USERKEY];
    o.secret = in->opt[O_SECRET];
    o.access_token = in->opt[O_TOKEN];
    o.private_key_pem = in->opt[O_PKEY];
    o.nonce = in->opt[O_NONCE];
    o.sdk = in->opt[O_SDK];
    o.auth = SZ_AUTH_SIGNED;
    o.timestamp = sz_sat_from_double(in->timestamp);
    if (!(p = sz_params_new()))
        return -1;
    for (i = 0; i < in->n; i++) /* lsz_to_params' checks: a name without NUL, a UTF-8 value */
        if (!in->key[i] || !in->val[i] || sz_has_nul(in->key[i], in->klen[i]) ||
            !sz_utf8_valid(in->val[i], in->vlen[i]) ||
            sz_params_set(p, in->key[i], in->klen[i], in->val[i], in->vlen[i]) != 0) {
            sz_params_free(p);
            return -1;
        }
    if (!(r = sz_request_build_owned(&o, p, NULL))) /* p is the request's now */
        return -1;
    body = sz_request_body(r, &bl);
    ml = strlen(sz_request_method(r));
    ul = strlen(sz_request_url(r));
    nh = sz_request_header_count(r);
    need = ml + ul + (body ? bl : 0);
    for (i = 0; i < nh && nh <= LSZ_FFI_MAX_HEADERS; i++) {
        const char *hn, *hv;
        sz_request_header(r, i, &hn, &hv);
        need += strlen(hn) + strlen(hv);
    }
    if (nh > LSZ_FFI_MAX_HEADERS) {
        sz_request_free(r);
        return -1;
    }
    out->need = need;
    if (need > out->cap || !out->buf) {
        sz_request_free(r);
        return 1;
    }
    out->method_len = ml;
    out->url_len = ul;
    out->body_len = body ? bl : 0;
    out->has_body = body != NULL;
    out->truncated = sz_request_truncated(r) != 0;
    out->nh = nh;
    put(out, &at, sz_request_method(r), ml);
    put(out, &at, sz_request_url(r), ul);
    if (body)
        put(out, &at, body, bl);
    for (i = 0; i < nh; i++) {
        const char *hn, *hv;
        sz_request_header(r, i, &hn, &hv);
        out->hn_len[i] = strlen(hn);
        out->hv_len[i] = strlen(hv);
        put(out, &at, hn, out->hn_len[i]);
        put(out, &at, hv, out->hv_len[i]);
    }
    sz_request_free(r);
    return 0;
}

static int ffi_nonce(void *st, char *out, size_t cap)
{
    return st ? lsz_nonce_next(st, out, cap) : -1;
}

static double ffi_time(void)
{
    return (double)time(NULL);
}

static double ffi_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static const lsz_ffi_api LSZ_FFI_API = {LSZ_FFI_VERSION, ffi_build, ffi_nonce, ffi_time, ffi_now_ms};

/* core.ffi() -> the address of the entry points (a light userdata, cast by
 * ffi.lua to its lsz_ffi_api), the version, and core.nonce's generator (the
 * closure's upvalue: it lives as long as core.ffi and core.nonce do) */
int lsz_ffi(lua_State *L)
{
    lua_pushlightuserdata(L, (void *)&LSZ_FFI_API);
    lua_pushinteger(L, LSZ_FFI_VERSION);
    lua_pushlightuserdata(L, lua_touserdata(L, lua_upvalueindex(1)));
    return 3;
}
