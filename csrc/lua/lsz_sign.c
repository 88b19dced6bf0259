/* socialize.core - encodings, signing, validators, clock, nonce, random.
 * Part of the binding (lsocialize_core.c). */

#include <time.h>
#include <errno.h>
#include <pthread.h>
#include <openssl/rand.h>
#include "lsz_core.h"

/* ---- encodings, signing, validators ---------------------------------------*/

static int l_url_encode(lua_State *L)
{
    size_t n, on;
    const char *s = luaL_checklstring(L, 1, &n);
    char *e = sz_url_encode(s, n, &on);
    if (!e)
        return lsz_push_fail(L, SZ_GIGYA_INTERNAL, "out of memory");
    lua_pushlstring(L, e, on);
    sz_free(e);
    return 1;
}

/* core.base_string(httpMethod, url, params) -> string | nil, message, code */
static int l_base_string(lua_State *L)
{
    int nm = 0, nu = 0;
    const char *m = lsz_arg_cstr(L, 1, &nm), *url = lsz_arg_cstr(L, 2, &nu);
    enc_ctx c;
    sz_params *p;
    sz_error err;
    char *b;
    size_t bl;
    luaL_checktype(L, 3, LUA_TTABLE);
    if (nm || nu)
        return lsz_push_nul_fail(L, nm ? "httpMethod" : "url");
    lsz_enc_init(&c, NULL, 0);
    p = lsz_to_params(L, 3, &c);
    lsz_enc_free(&c);
    if (!p)
        return lsz_push_fail(L, c.code, c.msg);
    b = sz_base_string(m, url, p, &bl, &err);
    sz_params_free(p);
    if (!b)
        return lsz_push_fail(L, err.code, err.message);
    lua_pushlstring(L, b, bl);
    sz_free(b);
    return 1;
}

/* core.hmac_sha1(secret_b64, message) -> base64 | nil, message, code */
static int l_hmac_sha1(lua_State *L)
{
    int nul = 0;
    const char *secret = lsz_arg_cstr(L, 1, &nul);
    size_t n;
    const char *msg = luaL_checklstring(L, 2, &n);
    sz_error err;
    char *sig;
    if (nul)
        return lsz_push_nul_fail(L, "secret");
    sig = sz_sign(secret, msg, n, &err);
    if (!sig)
        return lsz_push_fail(L, err.code, err.message);
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
    const char *uid = lsz_arg_cstr(L, 1, &bad), *ts = lsz_arg_cstr(L, 2, &bad),
               *secret = lsz_arg_cstr(L, 3, &bad), *sig = lsz_arg_cstr(L, 4, &bad);
    long long w = opt_window(L, 5, &bad), now = lsz_arg_ll(L, 6);
    lua_pushboolean(L, !bad && sz_validate_user_signature(uid, ts, secret, sig, w, now));
    return 1;
}

/* core.validate_friend(UID, timestamp, friendUID, secret, signature, window|nil, now) */
static int l_validate_friend(lua_State *L)
{
    int bad = 0;
    const char *uid = lsz_arg_cstr(L, 1, &bad), *ts = lsz_arg_cstr(L, 2, &bad),
               *fuid = lsz_arg_cstr(L, 3, &bad), *secret = lsz_arg_cstr(L, 4, &bad),
               *sig = lsz_arg_cstr(L, 5, &bad);
    long long w = opt_window(L, 6, &bad), now = lsz_arg_ll(L, 7);
    lua_pushboolean(L, !bad && sz_validate_friend_signature(uid, ts, fuid, secret, sig, w, now));
    return 1;
}

/* core.validate_webhook(rawBody, secret, headerValue) */
static int l_validate_webhook(lua_State *L)
{
    size_t n;
    int bad = 0;
    const char *body = luaL_checklstring(L, 1, &n), *secret = lsz_arg_cstr(L, 2, &bad),
               *hv = lsz_arg_cstr(L, 3, &bad);
    lua_pushboolean(L, !bad && sz_validate_webhook_signature(body, n, secret, hv));
    return 1;
}

/* core.validate_telegram_login(data, botToken, maxAge|nil, now): data a table of
 * string (or number) fields; anything else in it makes the data invalid. */
static int l_validate_telegram_login(lua_State *L)
{
    sz_kv f[SZ_TG_MAX_FIELDS];
    size_t n = 0, tl;
    int bad = 0;
    const char *tok;
    long long age, now;
    luaL_checktype(L, 1, LUA_TTABLE);
    tok = luaL_checklstring(L, 2, &tl);
    age = opt_window(L, 3, &bad);
    now = lsz_arg_ll(L, 4);
    luaL_checkstack(L, SZ_TG_MAX_FIELDS + 8, "telegram login data");
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        /* lua_tolstring on a number key would confuse lua_next: keys must be strings */
        if (lua_type(L, -2) != LUA_TSTRING || (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER) ||
            n >= SZ_TG_MAX_FIELDS) {
            lua_pop(L, 2);
            lua_pushboolean(L, 0);
            return 1;
        }
        lua_pushvalue(L, -1); /* converted copy: the table's value stays a number */
        f[n].key = lua_tolstring(L, -3, &f[n].key_len);
        f[n].value = lua_tolstring(L, -1, &f[n].value_len);
        lua_replace(L, -2); /* keep the converted string on the stack (anchors it) until the end */
        lua_insert(L, -2);  /* ... value_str, key */
        n++;
    }
    lua_pushboolean(L, !bad && sz_validate_telegram_login(f, n, tok, tl, age, now));
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
 * unique, not secret: the number is the state of a xorshift32 generator
 * (13, 17, 5: full period, every nonzero 32-bit value once before any
 * repeats), seeded once per Lua state from OpenSSL's RNG (RAND_bytes on
 * every call cost more than the rest of the request). So no two nonces of
 * one Lua state repeat within 2^32 - 1 calls, whatever the clock does (the
 * top half of a 64-bit generator could, and did: a 20,000-nonce test met a
 * repeat within one millisecond). The state is the function's upvalue (and
 * core.ffi's, whose nonce, lsz_ffi.c, takes the same generator). st[1] is
 * the fork generation it was seeded in: a child of fork() (an nginx worker
 * of a master that made a call) seeds its own, else every child drew the
 * same sequence. */
static volatile unsigned long long fork_gen = 1;
static void nonce_forked(void) { fork_gen++; }
static void nonce_atfork(void) { pthread_atfork(NULL, NULL, nonce_forked); }

/* once per process (the module is never unloaded: -z nodelete) */
void lsz_nonce_init(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, nonce_atfork);
}

int lsz_nonce_next(unsigned long long *st, char *out, size_t cap)
{
    unsigned long x;
    struct timespec ts;
    int n;
    if (st[0] == 0 || st[1] != fork_gen) {
        unsigned char r[4];
        if (RAND_bytes(r, sizeof r) != 1)
            return -1;
        st[0] = ((unsigned long long)r[0] << 24 | (unsigned long long)r[1] << 16 | (unsigned long long)r[2] << 8 | r[3]);
        if (st[0] == 0)
            st[0] = 1; /* the one state xorshift never leaves */
        st[1] = fork_gen;
    }
    x = (unsigned long)*st;
    x ^= (x << 13) & 0xFFFFFFFFUL;
    x ^= x >> 17;
    x ^= (x << 5) & 0xFFFFFFFFUL;
    *st = x;
    clock_gettime(CLOCK_REALTIME, &ts);
    n = snprintf(out, cap, "%lld_%lu", (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, x);
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

int lsz_nonce(lua_State *L)
{
    char out[64];
    int n = lsz_nonce_next(lua_touserdata(L, lua_upvalueindex(1)), out, sizeof out);
    if (n < 0)
        return luaL_error(L, "no randomness available for the nonce");
    lua_pushlstring(L, out, (size_t)n);
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

/* core.oauth1(method, url, ck, cs, token, tokenSecret, timestamp, nonce)
 *   -> "OAuth ..." | nil, message, code */
static int l_oauth1(lua_State *L)
{
    static const char *const names[] = {"method", "url", "consumerKey", "consumerSecret", "token",
                                        "tokenSecret"};
    int nul[6] = {0, 0, 0, 0, 0, 0}, nn = 0, i;
    const char *a[6], *nonce;
    long long ts;
    char *h;
    sz_error err;
    for (i = 0; i < 6; i++)
        a[i] = lsz_arg_cstr(L, i + 1, &nul[i]);
    ts = lsz_arg_ll(L, 7);
    nonce = lsz_arg_cstr(L, 8, &nn);
    for (i = 0; i < 6; i++)
        if (nul[i])
            return lsz_push_nul_fail(L, names[i]);
    if (nn)
        return lsz_push_nul_fail(L, "nonce");
    h = sz_oauth1_authorization(a[0], a[1], a[2], a[3], a[4], a[5], ts, nonce, &err);
    if (!h) /* the core says why: a method or URL the base string refuses, or memory */
        return lsz_push_fail(L, err.code, err.message);
    lua_pushstring(L, h);
    sz_free_str(h);
    return 1;
}

/* A JSON parameter's name: userAction, userLocation, graphParams,
 * actionAttributes, or <lower-case letters>UserAction. */
static int json_param_name(const char *k, size_t n)
{
    size_t i;
    if ((n == 10 && memcmp(k, "userAction", 10) == 0) || (n == 12 && memcmp(k, "userLocation", 12) == 0) ||
        (n == 11 && memcmp(k, "graphParams", 11) == 0) || (n == 16 && memcmp(k, "actionAttributes", 16) == 0))
        return 1;
    if (n <= 10 || memcmp(k + n - 10, "UserAction", 10) != 0)
        return 0;
    for (i = 0; i < n - 10; i++)
        if (k[i] < 'a' || k[i] > 'z')
            return 0;
    return 1;
}

/* s holds the six bytes \u0000 */
static int has_escaped_nul(const char *s, size_t n)
{
    const char *p = s, *end = s + n;
    while ((size_t)(end - p) >= 6 && (p = memchr(p, '\\', (size_t)(end - p) - 5)) != NULL) {
        if (memcmp(p, "\\u0000", 6) == 0)
            return 1;
        p++;
    }
    return 0;
}

/* core.plain_params(p) -> plain, tables: plain is true when every name is a
 * string without NUL and every value that is not a table is one validate.lua
 * accepts as it is (a string without NUL, and without \u0000 in a JSON
 * parameter's text; a finite number; a boolean; core.null); tables counts
 * the table values, which validate.lua checks itself. false: not sure, the
 * Lua check of every parameter says why. */
static int l_plain_params(lua_State *L)
{
    lua_Integer tables = 0;
    int plain = 1;
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_pushnil(L);
    while (plain && lua_next(L, 1) != 0) {
        size_t kl, vl;
        const char *k, *v;
        if (lua_type(L, -2) != LUA_TSTRING) {
            plain = 0;
        } else {
            k = lua_tolstring(L, -2, &kl);
            if (memchr(k, 0, kl))
                plain = 0;
            switch (lua_type(L, -1)) {
            case LUA_TSTRING:
                v = lua_tolstring(L, -1, &vl);
                if (memchr(v, 0, vl) || (json_param_name(k, kl) && has_escaped_nul(v, vl)))
                    plain = 0;
                break;
            case LUA_TNUMBER: {
                lua_Number d = lua_tonumber(L, -1);
                if (d != d || d - d != 0) /* NaN, +-inf */
                    plain = 0;
                break;
            }
            case LUA_TBOOLEAN:
                break;
            case LUA_TLIGHTUSERDATA:
                if (lua_touserdata(L, -1) != NULL)
                    plain = 0;
                break;
            case LUA_TTABLE:
                tables++;
                break;
            default:
                plain = 0;
            }
        }
        lua_pop(L, 1);
    }
    if (!plain)
        lua_settop(L, 1);
    lua_pushboolean(L, plain);
    lua_pushinteger(L, tables);
    return 2;
}

/* One parameter of a publishUserAction as publish_plain reads it: 1 when
 * validate.lua certainly accepts it as it is, and sets *uid / *ua when it is
 * a good UID / userAction; 0: not sure. */
static int publish_param(const char *k, size_t kl, lua_State *L, int direct, int *uid, int *ua)
{
    size_t vl;
    const char *v;
    int t = lua_type(L, -1);
    if (memchr(k, 0, kl))
        return 0;
    if ((kl == 3 && memcmp(k, "UID", 3) == 0) || (kl == 3 && memcmp(k, "cid", 3) == 0) ||
        (kl == 9 && memcmp(k, "shortURLs", 9) == 0) || (kl == 10 && memcmp(k, "userAction", 10) == 0)) {
        if (t != LUA_TSTRING && !(t == LUA_TTABLE && k[0] == 'u'))
            return 0;
        if (t == LUA_TTABLE)
            return !direct && (*ua = 2); /* its shape and JSON text after the walk */
        v = lua_tolstring(L, -1, &vl);
        if (memchr(v, 0, vl))
            return 0;
        switch (k[0]) {
        case 'U': /* a non-empty string */
            return (*uid = vl > 0);
        case 'c': /* at most 100 characters: certainly when at most 100 bytes */
            return vl <= 100;
        case 's':
            return (vl == 6 && memcmp(v, "always", 6) == 0) || (vl == 5 && memcmp(v, "never", 5) == 0) ||
                   (vl == 12 && memcmp(v, "whenRequired", 12) == 0);
        default: /* the one-pass scan of core.user_action_plain, and no \u0000 */
            return (*ua = vl > 0 && !has_escaped_nul(v, vl) && sz_user_action_plain(v, vl, direct));
        }
    }
    /* what check_common and the method's check read or rewrite: the full check */
    if ((kl == 16 && memcmp(k, "enabledProviders", 16) == 0) || (kl == 17 && memcmp(k, "disabledProviders", 17) == 0) ||
        (kl == 4 && memcmp(k, "tags", 4) == 0) || json_param_name(k, kl))
        return 0;
    switch (t) {
    case LUA_TSTRING:
        v = lua_tolstring(L, -1, &vl);
        return !memchr(v, 0, vl);
    case LUA_TNUMBER: {
        lua_Number d = lua_tonumber(L, -1);
        return !(d != d || d - d != 0); /* NaN, +-inf */
    }
    case LUA_TBOOLEAN:
        return 1;
    case LUA_TLIGHTUSERDATA:
        return lua_touserdata(L, -1) == NULL; /* core.null */
    default: /* a table (JSON to write and check), a function... */
        return 0;
    }
}

/* core.publish_plain(params [, direct]) -> a raw copy of params when
 * validate.check certainly accepts them for socialize.publishUserAction as
 * they are (nothing to normalise but a table userAction, which the copy
 * holds as the JSON text the full check writes for it), else false: not
 * sure, the full check runs and says why. Yes only for: no metatable; every
 * name a string without NUL; UID a non-empty string; userAction a JSON
 * string core.user_action_plain passes, without \u0000, or (not direct) a
 * table core.user_action_table passes, whose JSON text (the encoder's, as
 * core.json_encode writes it) is an object without \u0000, at most 256 kB,
 * with no metatable met; cid a string of at most 100 bytes; shortURLs one
 * of always, whenRequired, never; every other value a string without NUL, a
 * finite number, a boolean or core.null; no enabledProviders,
 * disabledProviders, tags, actionAttributes, userLocation, graphParams or
 * <provider>UserAction. A closure over the names of core.user_action_table
 * (lsz_open_user_action_table). */
int lsz_publish_plain(lua_State *L)
{
    int direct = lua_toboolean(L, 2), uid = 0, ua = 0, ok = 1, n = 0, copy;
    size_t tl = 0;
    const char *text;
    lua_settop(L, 1);
    luaL_checkstack(L, 6, "publish_plain");
    if (lua_type(L, 1) != LUA_TTABLE || lua_getmetatable(L, 1)) {
        lua_settop(L, 1);
        lua_pushboolean(L, 0);
        return 1;
    }
    lua_pushnil(L);
    while (ok && lua_next(L, 1) != 0) {
        size_t kl = 0;
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &kl) : NULL;
        ok = k && publish_param(k, kl, L, direct, &uid, &ua);
        n++;
        lua_pop(L, 1);
    }
    lua_settop(L, 1);
    if (ok && uid && ua == 2) { /* a table userAction: 2, its JSON text */
        lua_pushliteral(L, "userAction");
        lua_rawget(L, 1);
        ok = lsz_ua_table_json(L, 2);
        if (ok) {
            text = lua_tolstring(L, 3, &tl);
            ok = tl > 0 && text[0] == '{' && !has_escaped_nul(text, tl);
        }
    }
    if (!ok || !uid || !ua) {
        lua_settop(L, 1);
        lua_pushboolean(L, 0);
        return 1;
    }
    lua_createtable(L, 0, n); /* the copy */
    copy = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, 1) != 0) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, copy);
    }
    if (ua == 2) {
        lua_pushliteral(L, "userAction");
        lua_pushvalue(L, 3);
        lua_rawset(L, copy);
    }
    return 1;
}

const luaL_Reg lsz_sign_funcs[] = {
    {"url_encode", l_url_encode},
    {"base_string", l_base_string},
    {"hmac_sha1", l_hmac_sha1},
    {"validate_user", l_validate_user},
    {"validate_friend", l_validate_friend},
    {"validate_webhook", l_validate_webhook},
    {"consttime_equal", l_consttime_equal},
    {"validate_telegram_login", l_validate_telegram_login},
    {"now_ms", l_now_ms},
    {"random_hex", l_random_hex},
    {"sleep", l_sleep},
    {"oauth1", l_oauth1},
    {"plain_params", l_plain_params},
    {NULL, NULL}
};
