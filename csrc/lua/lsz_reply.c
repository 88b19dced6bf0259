/* socialize.core - the usual Gigya reply read straight into a Lua table
 * (lsz_push_reply_fast, used by parse_response). Part of the binding
 * (lsocialize_core.c). */

#include "lsz_core.h"

/* ---- a Gigya reply straight into a Lua table -------------------------------
 * The usual reply (HTTP 2xx, a JSON object with "errorCode":0) is pushed in
 * one pass without a jansson tree: the same table parse_response makes
 * (statusCode 200 and statusReason "OK" added when absent). Anything else, or
 * anything this reader is not sure of (a \u escape, a real number, a number
 * of 16+ characters, a duplicate key, an escape in a key, depth > 32, more
 * than 64 keys in an object), gives 0 with the stack as it was: the caller
 * takes the full path (sz_response_parse), which decides and explains. */

typedef struct rd {
    const unsigned char *p, *end;
    int saw_ok; /* the top level's "errorCode" was the integer 0 */
} rd;

#define RD_MAX_DEPTH 32
#define RD_MAX_KEYS  64

static void rd_ws(rd *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

/* A string at r->p ('"'); pushes it unless key_only (then *k, *kn only).
 * Escapes other than \u are decoded; keys take none. */
static int rd_string(lua_State *L, rd *r, int key, const unsigned char **k, size_t *kn)
{
    const unsigned char *p = r->p + 1, *run = p;
    int hi = 0, esc = 0;
    while (p < r->end && *p != '"') {
        if (*p < 0x20)
            return -1;
        if (*p >= 0x80)
            hi = 1;
        if (*p == '\\') {
            if (key || p + 1 >= r->end || !strchr("\"\\/bfnrt", (int)p[1]) || p[1] == 0)
                return -1;
            esc = 1;
            p++;
        }
        p++;
    }
    if (p >= r->end || (hi && !sz_utf8_valid((const char *)run, (size_t)(p - run))))
        return -1;
    r->p = p + 1;
    if (key) {
        *k = run;
        *kn = (size_t)(p - run);
        return 0;
    }
    if (!esc) {
        lua_pushlstring(L, (const char *)run, (size_t)(p - run));
        return 0;
    } else {
        char buf[512];
        size_t n = 0;
        const unsigned char *q;
        if (p - run > (long)sizeof buf)
            return -1;
        for (q = run; q < p; q++) {
            unsigned char c = *q;
            if (c == '\\') {
                c = *++q;
                c = c == 'b' ? '\b' : c == 'f' ? '\f' : c == 'n' ? '\n' : c == 'r' ? '\r' : c == 't' ? '\t' : c;
            }
            buf[n++] = (char)c;
        }
        lua_pushlstring(L, buf, n);
        sz_wipe(buf, n); /* a reply may carry tokens */
        return 0;
    }
}

static int rd_value(lua_State *L, rd *r, int depth);

/* After a member or an element: ',' (0: more follow, the blanks after it
 * skipped), the closing byte (1: consumed), else -1. */
static int rd_sep(rd *r, unsigned char close)
{
    rd_ws(r);
    if (r->p >= r->end)
        return -1;
    if (*r->p == close) {
        r->p++;
        return 1;
    }
    if (*r->p != ',')
        return -1;
    r->p++;
    rd_ws(r);
    return 0;
}

static int rd_object(lua_State *L, rd *r, int depth)
{
    const unsigned char *keys[RD_MAX_KEYS];
    size_t klen[RD_MAX_KEYS], nk = 0, i;
    int sep;
    r->p++;
    /* a reply's top level has six to eight members (callId, errorCode, apiVersion,
     * statusCode, statusReason, time, a result or two): room for them, no rehash */
    lua_createtable(L, 0, depth == 1 ? 8 : 4);
    rd_ws(r);
    if (r->p < r->end && *r->p == '}') {
        r->p++;
        return 0;
    }
    for (;;) {
        const unsigned char *k;
        size_t kn;
        if (r->p >= r->end || *r->p != '"' || nk == RD_MAX_KEYS || rd_string(L, r, 1, &k, &kn) != 0)
            return -1;
        for (i = 0; i < nk; i++)
            if (klen[i] == kn && memcmp(keys[i], k, kn) == 0)
                return -1;
        keys[nk] = k;
        klen[nk++] = kn;
        rd_ws(r);
        if (r->p >= r->end || *r->p != ':')
            return -1;
        r->p++;
        rd_ws(r);
        lua_pushlstring(L, (const char *)k, kn);
        if (depth == 1 && kn == 9 && memcmp(k, "errorCode", 9) == 0) {
            if (r->end - r->p < 1 || r->p[0] != '0' ||
                (r->end - r->p > 1 && r->p[1] >= '0' && r->p[1] <= '9') ||
                (r->end - r->p > 1 && (r->p[1] == '.' || r->p[1] == 'e' || r->p[1] == 'E')))
                return -1; /* not the integer 0: the full path */
            r->saw_ok = 1;
        }
        if (rd_value(L, r, depth + 1) != 0)
            return -1;
        lua_rawset(L, -3);
        if ((sep = rd_sep(r, '}')) != 0)
            return sep > 0 ? 0 : -1;
    }
}

static int rd_array(lua_State *L, rd *r, int depth)
{
    int i = 0, sep;
    r->p++;
    lua_createtable(L, 2, 0);
    rd_ws(r);
    if (r->p < r->end && *r->p == ']') {
        r->p++;
        return 0;
    }
    for (;;) {
        if (rd_value(L, r, depth + 1) != 0)
            return -1;
        lua_rawseti(L, -2, ++i);
        if ((sep = rd_sep(r, ']')) != 0)
            return sep > 0 ? 0 : -1;
    }
}

static int rd_value(lua_State *L, rd *r, int depth)
{
    const unsigned char *p = r->p;
    if (depth > RD_MAX_DEPTH || p >= r->end || !lua_checkstack(L, 4))
        return -1;
    switch (*p) {
    case '{': return rd_object(L, r, depth);
    case '[': return rd_array(L, r, depth);
    case '"': return rd_string(L, r, 0, NULL, NULL);
    case 't':
        if (r->end - p < 4 || memcmp(p, "true", 4) != 0)
            return -1;
        r->p += 4;
        lua_pushboolean(L, 1);
        return 0;
    case 'f':
        if (r->end - p < 5 || memcmp(p, "false", 5) != 0)
            return -1;
        r->p += 5;
        lua_pushboolean(L, 0);
        return 0;
    case 'n':
        if (r->end - p < 4 || memcmp(p, "null", 4) != 0)
            return -1;
        r->p += 4;
        lua_pushlightuserdata(L, NULL);
        return 0;
    default: { /* an integer: -?(0|[1-9][0-9]*), at most 15 characters */
        long long v = 0;
        int neg = 0, nd = 0;
        if (*p == '-') {
            neg = 1;
            p++;
        }
        if (p >= r->end || *p < '0' || *p > '9' || (*p == '0' && p + 1 < r->end && p[1] >= '0' && p[1] <= '9'))
            return -1;
        while (p < r->end && *p >= '0' && *p <= '9') {
            if (++nd > 14)
                return -1;
            v = v * 10 + (*p++ - '0');
        }
        if (p < r->end && (*p == '.' || *p == 'e' || *p == 'E'))
            return -1; /* a real: the full path */
        r->p = p;
#if LUA_VERSION_NUM >= 503
        lua_pushinteger(L, (lua_Integer)(neg ? -v : v));
#else
        lua_pushnumber(L, (lua_Number)(neg ? -v : v));
#endif
        return 0;
    }
    }
}

int lsz_push_reply_fast(lua_State *L, const char *body, size_t len, int status)
{
    rd r;
    int top = lua_gettop(L);
    if (status < 200 || status > 299)
        return 0;
    r.p = (const unsigned char *)body;
    r.end = r.p + len;
    r.saw_ok = 0;
    rd_ws(&r);
    if (r.p >= r.end || *r.p != '{' || rd_object(L, &r, 1) != 0)
        goto no;
    rd_ws(&r);
    if (r.p != r.end || !r.saw_ok)
        goto no;
    lua_getfield(L, -1, "statusCode");
    if (lua_isnil(L, -1)) {
        lua_pushinteger(L, 200);
        lua_setfield(L, -3, "statusCode");
    }
    lua_getfield(L, -2, "statusReason");
    if (lua_isnil(L, -1)) {
        lua_pushliteral(L, "OK");
        lua_setfield(L, -4, "statusReason");
    }
    lua_pop(L, 2);
    return 1;
no:
    lua_settop(L, top);
    return 0;
}
