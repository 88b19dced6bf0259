/* socialize.curl - blocking HTTP transport over one reused libcurl easy
 * handle per session, so connections are kept alive between calls.
 *
 *   local s = require("socialize.curl").new{ timeout = 10, connect_timeout = 5,
 *                                            cafile = "/path/ca.pem" }
 *   local res, err, kind = s:request{ method = "POST", url = ..., body = ...,
 *                                     headers = { ["Content-Type"] = ... } }
 *   res = { status = 200, body = "...", headers = { date = "...", ... } }
 *   kind: "timeout" | "connect" | "tls" | "too_large" | "closed" | "other"
 *
 * No Lua function is called from a libcurl callback: bodies and headers are
 * collected in C buffers and turned into Lua values after curl returns. */
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include "lua.h"
#include "lauxlib.h"
#include "lsz_compat.h"
#include "socialize.h"
#include "sz_internal.h"

#define SESSION_MT "socialize.curl.Session"
#define DEFAULT_TIMEOUT_MS 10000L
#define DEFAULT_CONNECT_TIMEOUT_MS 5000L
#define DEFAULT_MAX_REPLY (8L * 1024 * 1024)

typedef struct session {
    CURL  *easy;
    long   timeout_ms;
    long   connect_timeout_ms;
    long   max_reply;
    char  *cafile;
    sz_buf body;
    sz_buf head;
    int    too_large;
} session;

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    session *s = ud;
    size_t len = size * n;
    if ((long)(s->body.len + len) > s->max_reply) {
        s->too_large = 1;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    sz_buf_add(&s->body, p, len);
    return s->body.failed ? 0 : len;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    session *s = ud;
    size_t len = size * n;
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) /* a new response (after 1xx) */
        s->head.len = 0;
    if (s->head.len + len > 64 * 1024)
        return 0;
    sz_buf_add(&s->head, p, len);
    return s->head.failed ? 0 : len;
}

static session *check_session(lua_State *L)
{
    session *s = luaL_checkudata(L, 1, SESSION_MT);
    if (!s->easy)
        luaL_argerror(L, 1, "session is closed");
    return s;
}

static long ms_field(lua_State *L, int t, const char *k, long dflt)
{
    long v = dflt;
    lua_getfield(L, t, k);
    if (!lua_isnil(L, -1)) {
        lua_Number x = luaL_checknumber(L, -1);
        if (x <= 0)
            luaL_error(L, "%s must be a positive number of seconds", k);
        v = (long)(x * 1000 + 0.5);
        if (v < 1)
            v = 1;
    }
    lua_pop(L, 1);
    return v;
}

/* curl.new{ timeout = seconds, connect_timeout = seconds, cafile = path,
 *           max_reply = bytes } */
static int l_new(lua_State *L)
{
    session *s;
    const char *cafile = NULL;
    long timeout = DEFAULT_TIMEOUT_MS, cto = DEFAULT_CONNECT_TIMEOUT_MS, max = DEFAULT_MAX_REPLY;
    if (!lua_isnoneornil(L, 1)) {
        luaL_checktype(L, 1, LUA_TTABLE);
        timeout = ms_field(L, 1, "timeout", timeout);
        cto = ms_field(L, 1, "connect_timeout", cto);
        lua_getfield(L, 1, "max_reply");
        if (!lua_isnil(L, -1))
            max = (long)luaL_checknumber(L, -1);
        lua_pop(L, 1);
        lua_getfield(L, 1, "cafile");
        if (!lua_isnil(L, -1))
            cafile = luaL_checkstring(L, -1);
        lua_pop(L, 1);
    }
    /* allocate the box first, so a Lua error cannot leak the handle */
    s = lua_newuserdata(L, sizeof *s);
    memset(s, 0, sizeof *s);
    luaL_getmetatable(L, SESSION_MT);
    lua_setmetatable(L, -2);
    s->timeout_ms = timeout;
    s->connect_timeout_ms = cto;
    s->max_reply = max;
    if (cafile && !(s->cafile = sz_strndup(cafile, strlen(cafile))))
        return luaL_error(L, "out of memory");
    s->easy = curl_easy_init();
    if (!s->easy)
        return luaL_error(L, "curl_easy_init failed");
    return 1;
}

static const char *classify(CURLcode rc, session *s)
{
    if (s->too_large)
        return "too_large";
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT: return "timeout";
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT: return "connect";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM: return "tls";
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE: return "closed";
    default: return "other";
    }
}

/* Pushes the collected headers as a table with lower-cased names; a repeated
 * header keeps its values joined with ", ". */
static void push_headers(lua_State *L, session *s)
{
    size_t i = 0;
    const char *h = s->head.data ? s->head.data : "";
    lua_newtable(L);
    while (i < s->head.len) {
        const char *line = h + i, *eol = memchr(line, '\n', s->head.len - i), *colon;
        size_t ll = eol ? (size_t)(eol - line) : s->head.len - i, k;
        i += ll + 1;
        if (ll && line[ll - 1] == '\r')
            ll--;
        colon = memchr(line, ':', ll);
        if (!colon || colon == line)
            continue;
        {
            char name[128];
            size_t nl = (size_t)(colon - line);
            const char *v = colon + 1, *end = line + ll;
            if (nl >= sizeof name)
                continue;
            for (k = 0; k < nl; k++)
                name[k] = (char)((line[k] >= 'A' && line[k] <= 'Z') ? line[k] + 32 : line[k]);
            name[nl] = '\0';
            while (v < end && (*v == ' ' || *v == '\t'))
                v++;
            while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
                end--;
            lua_getfield(L, -1, name);
            if (lua_isstring(L, -1)) {
                lua_pushliteral(L, ", ");
                lua_pushlstring(L, v, (size_t)(end - v));
                lua_concat(L, 3);
            } else {
                lua_pop(L, 1);
                lua_pushlstring(L, v, (size_t)(end - v));
            }
            lua_setfield(L, -2, name);
        }
    }
}

/* s:request{ method, url, body, headers, timeout } */
static int l_request(lua_State *L)
{
    session *s = check_session(L);
    const char *method, *url, *body = NULL;
    size_t blen = 0;
    struct curl_slist *hl = NULL, *tmp;
    CURLcode rc;
    long status = 0, timeout;
    char errbuf[CURL_ERROR_SIZE];
    int hl_failed = 0;
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_getfield(L, 2, "url");
    url = luaL_checkstring(L, -1);
    lua_getfield(L, 2, "method");
    method = luaL_optstring(L, -1, "POST");
    lua_getfield(L, 2, "body");
    if (!lua_isnil(L, -1))
        body = luaL_checklstring(L, -1, &blen);
    timeout = ms_field(L, 2, "timeout", s->timeout_ms);
    lua_getfield(L, 2, "headers");
    /* Validate every header before building the list: nothing may raise
     * while the list is owned. */
    if (lua_istable(L, -1)) {
        lua_pushnil(L);
        while (lua_next(L, -2) != 0) {
            size_t kl, vl, j;
            const char *k, *v;
            if (lua_type(L, -2) != LUA_TSTRING || !lua_isstring(L, -1))
                return luaL_error(L, "header names and values must be strings");
            k = lua_tolstring(L, -2, &kl);
            v = lua_tolstring(L, -1, &vl);
            for (j = 0; j < kl; j++)
                if (k[j] <= 0x20 || k[j] == ':' || k[j] == 0x7f)
                    return luaL_error(L, "invalid header name");
            for (j = 0; j < vl; j++)
                if (v[j] == '\r' || v[j] == '\n' || v[j] == '\0')
                    return luaL_error(L, "header %s contains CR, LF or NUL", k);
            lua_pop(L, 1);
        }
    }
    if (strpbrk(url, "\r\n ") != NULL)
        return luaL_error(L, "url contains CR, LF or a space");
    if (lua_istable(L, -1)) {
        lua_pushnil(L);
        while (lua_next(L, -2) != 0) {
            sz_buf line;
            sz_buf_init(&line);
            sz_buf_adds(&line, lua_tostring(L, -2));
            sz_buf_adds(&line, ": ");
            sz_buf_adds(&line, lua_tostring(L, -1));
            tmp = line.failed ? NULL : curl_slist_append(hl, line.data);
            sz_buf_reset(&line);
            if (!tmp) {
                hl_failed = 1;
                lua_pop(L, 2);
                break;
            }
            hl = tmp;
            lua_pop(L, 1);
        }
    }
    if (!hl_failed) {
        tmp = curl_slist_append(hl, "Expect:"); /* no 100-continue round trip */
        if (tmp)
            hl = tmp;
        else
            hl_failed = 1;
    }
    if (hl_failed) {
        curl_slist_free_all(hl);
        lua_pushnil(L);
        lua_pushliteral(L, "out of memory");
        lua_pushliteral(L, "other");
        return 3;
    }
    sz_buf_reset(&s->body);
    sz_buf_reset(&s->head);
    s->too_large = 0;
    errbuf[0] = '\0';
    curl_easy_reset(s->easy); /* keeps the connection cache: keep-alive */
    curl_easy_setopt(s->easy, CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(s->easy, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(s->easy, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(s->easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(s->easy, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(s->easy, CURLOPT_SSL_VERIFYHOST, 2L);
    if (s->cafile)
        curl_easy_setopt(s->easy, CURLOPT_CAINFO, s->cafile);
    curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(s->easy, CURLOPT_CONNECTTIMEOUT_MS,
                     s->connect_timeout_ms < timeout ? s->connect_timeout_ms : timeout);
    curl_easy_setopt(s->easy, CURLOPT_USERAGENT, "socialize/" SZ_VERSION_STRING);
    curl_easy_setopt(s->easy, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(s->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(s->easy, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(s->easy, CURLOPT_ERRORBUFFER, errbuf);
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(s->easy, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE, (long)blen);
        curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, body ? body : "");
        if (strcmp(method, "POST") != 0)
            curl_easy_setopt(s->easy, CURLOPT_CUSTOMREQUEST, method);
    }
    rc = curl_easy_perform(s->easy);
    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hl);
    if (rc != CURLE_OK) {
        lua_pushnil(L);
        if (s->too_large)
            lua_pushfstring(L, "reply larger than %d bytes", (int)s->max_reply);
        else
            lua_pushstring(L, errbuf[0] ? errbuf : curl_easy_strerror(rc));
        lua_pushstring(L, classify(rc, s));
        sz_buf_reset(&s->body);
        sz_buf_reset(&s->head);
        return 3;
    }
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, (lua_Integer)status);
    lua_setfield(L, -2, "status");
    lua_pushlstring(L, s->body.data ? s->body.data : "", s->body.len);
    lua_setfield(L, -2, "body");
    push_headers(L, s);
    lua_setfield(L, -2, "headers");
    sz_buf_reset(&s->body);
    sz_buf_reset(&s->head);
    return 1;
}

static int l_close(lua_State *L)
{
    session *s = luaL_checkudata(L, 1, SESSION_MT);
    if (s->easy) {
        curl_easy_cleanup(s->easy);
        s->easy = NULL;
    }
    free(s->cafile);
    s->cafile = NULL;
    sz_buf_reset(&s->body);
    sz_buf_reset(&s->head);
    return 0;
}

static int l_tostring(lua_State *L)
{
    session *s = luaL_checkudata(L, 1, SESSION_MT);
    lua_pushfstring(L, "socialize.curl.Session (%s)", s->easy ? "open" : "closed");
    return 1;
}

static const luaL_Reg session_methods[] = {
    {"request", l_request},
    {"close", l_close},
    {NULL, NULL}
};

static const luaL_Reg funcs[] = {
    {"new", l_new},
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
    lua_pushstring(L, curl_version_info(CURLVERSION_NOW)->version);
    lua_setfield(L, -2, "curl_version");
    lua_pushliteral(L, SZ_VERSION_STRING);
    lua_setfield(L, -2, "_VERSION");
    return 1;
}
