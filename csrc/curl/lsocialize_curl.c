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
 *   local results = s:request_many{ req1, req2 }   -- in parallel (curl multi)
 *   results[i] = response table, or { error = message, kind = kind }
 *
 * One multi handle per session: its connection cache keeps connections alive
 * across calls. No Lua function is called from a libcurl callback: bodies and
 * headers are collected in C buffers and become Lua values after curl returns. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdint.h>
#include <limits.h>
#include <math.h>
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
#define MAX_BATCH 256

/* One transfer: an easy handle kept in the session's pool and reused, so
 * the multi handle's connection cache keeps connections alive. */
typedef struct xfer {
    struct xfer       *next;   /* free list / finished-async list */
    CURL              *easy;
    struct curl_slist *hl;
    lua_Integer        id;     /* > 0 for transfers started with s:start() */
    int                active; /* in the multi handle */
    sz_buf             body;
    sz_buf             head;
    long               max_reply;
    int                too_large;
    int                done;
    CURLcode           rc;
    char               errbuf[CURL_ERROR_SIZE];
    struct curl_slist *rl;     /* CURLOPT_RESOLVE entries (tests) */
    int                guard;  /* refuse blocked addresses (private-network guard) */
    char               refused[CURL_ERROR_SIZE + 300]; /* why the guard refused */
    char               ghost[256]; /* the guarded URL's host, for messages */
} xfer;

/* A socket libcurl watches, as its socket callback reported it. */
typedef struct sockent {
    curl_socket_t fd;
    int           what; /* CURL_POLL_IN / OUT / INOUT */
} sockent;

typedef struct session {
    CURLM *multi;
    sockent *socks;       /* every socket of the multi handle (any number: no FD_SETSIZE) */
    size_t nsocks, capsocks;
    xfer   solo;          /* single blocking requests: curl_easy_perform */
    xfer  *pool;          /* slots for the blocking calls */
    size_t npool;
    xfer  *spare;         /* free async transfers */
    xfer  *finished;      /* async transfers done, not yet collected */
    xfer **running;       /* async transfers in flight (for close) */
    size_t nrunning, caprunning;
    lua_Integer next_id;
    long   timeout_ms;
    long   connect_timeout_ms;
    long   max_reply;
    char  *cafile;
} session;

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    xfer *x = ud;
    size_t len = size * n;
    if ((long)(x->body.len + len) > x->max_reply) {
        x->too_large = 1;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    sz_buf_add(&x->body, p, len);
    return x->body.failed ? 0 : len;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    xfer *x = ud;
    size_t len = size * n;
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) /* a new response (after 1xx) */
        x->head.len = 0;
    if (x->head.len + len > 64 * 1024)
        return 0;
    sz_buf_add(&x->head, p, len);
    return x->head.failed ? 0 : len;
}

/* ---- private-network guard at connect time ------------------------------ */

static void refuse(xfer *x, const char *ip)
{
    snprintf(x->refused, sizeof x->refused,
             "refused: %s resolves to a loopback, private or reserved address (%s)", x->ghost, ip);
}

/* Every new connection of a guarded transfer: the resolved address is
 * checked before a socket exists; a blocked one is never connected to. */
static curl_socket_t on_opensocket(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
    xfer *x = ud;
    unsigned char b[16];
    char ip[INET6_ADDRSTRLEN] = "?";
    int family = 0;
    if (purpose != CURLSOCKTYPE_IPCXN) {
        snprintf(x->refused, sizeof x->refused, "refused: %s: not an IP connection", x->ghost);
        return CURL_SOCKET_BAD;
    }
    if (a->family == AF_INET && a->addrlen >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)&a->addr;
        memcpy(b, &in->sin_addr, 4);
        family = 4;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
    } else if (a->family == AF_INET6 && a->addrlen >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)&a->addr;
        memcpy(b, &in6->sin6_addr, 16);
        family = 6;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
    }
    if (!family || sz_addr_blocked(family, b)) {
        refuse(x, ip);
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype, a->protocol);
}

#if LIBCURL_VERSION_NUM >= 0x075000
/* Every transfer, also on a reused connection: the peer's address. */
static int on_prereq(void *ud, char *conn_primary_ip, char *conn_local_ip, int conn_primary_port,
                     int conn_local_port)
{
    xfer *x = ud;
    unsigned char b[16];
    int family;
    (void)conn_local_ip;
    (void)conn_primary_port;
    (void)conn_local_port;
    family = conn_primary_ip ? sz_ip_parse(conn_primary_ip, strlen(conn_primary_ip), b) : 0;
    if (!family || sz_addr_blocked(family, b)) {
        refuse(x, conn_primary_ip ? conn_primary_ip : "?");
        return CURL_PREREQFUNC_ABORT;
    }
    return CURL_PREREQFUNC_OK;
}
#endif

static session *check_session(lua_State *L)
{
    session *s = luaL_checkudata(L, 1, SESSION_MT);
    if (!s->multi)
        luaL_argerror(L, 1, "session is closed");
    return s;
}

/* Longest timeout handed to libcurl: one day (a larger one is clamped). */
#define MAX_TIMEOUT_MS 86400000L

/* seconds -> milliseconds in [1, MAX_TIMEOUT_MS]: never a cast of an
 * out-of-range double (undefined), never a wrap. */
static long sec_to_ms(lua_Number x)
{
    if (!(x * 1000 < (lua_Number)MAX_TIMEOUT_MS)) /* also NaN */
        return MAX_TIMEOUT_MS;
    if (!(x * 1000 >= 1))
        return 1;
    return (long)(x * 1000 + 0.5);
}

static long ms_field(lua_State *L, int t, const char *k, long dflt)
{
    long v = dflt;
    lua_getfield(L, t, k);
    if (!lua_isnil(L, -1)) {
        lua_Number x = luaL_checknumber(L, -1);
        if (!(x > 0) || x == HUGE_VAL)
            luaL_error(L, "%s must be a positive number of seconds", k);
        v = sec_to_ms(x);
    }
    lua_pop(L, 1);
    return v;
}

/* CURLMOPT_SOCKETFUNCTION: keeps s->socks in step with what libcurl
 * watches. The socket's slot index + 1 rides in its socketp. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    session *s = userp;
    size_t i = (size_t)(uintptr_t)socketp;
    (void)easy;
    if (i == 0 || i > s->nsocks || s->socks[i - 1].fd != fd) { /* not known yet */
        for (i = 0; i < s->nsocks && s->socks[i].fd != fd; i++)
            ;
        i++;
    }
    if (what == CURL_POLL_REMOVE) {
        if (i <= s->nsocks) {
            s->socks[i - 1] = s->socks[--s->nsocks];
            if (i - 1 < s->nsocks) /* the moved one keeps its index in socketp */
                curl_multi_assign(s->multi, s->socks[i - 1].fd, (void *)(uintptr_t)i);
        }
        return 0;
    }
    if (i > s->nsocks) {
        if (s->nsocks == s->capsocks) {
            size_t cap = s->capsocks ? s->capsocks * 2 : 16;
            sockent *n = realloc(s->socks, cap * sizeof *n);
            if (!n)
                return -1;
            s->socks = n;
            s->capsocks = cap;
        }
        i = ++s->nsocks;
        s->socks[i - 1].fd = fd;
        curl_multi_assign(s->multi, fd, (void *)(uintptr_t)i);
    }
    s->socks[i - 1].what = what;
    return 0;
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
        if (!lua_isnil(L, -1)) {
            lua_Number m = luaL_checknumber(L, -1);
            if (!(m >= 1)) /* also NaN */
                luaL_error(L, "max_reply must be a number >= 1");
            max = m < (lua_Number)LONG_MAX / 2 ? (long)m : LONG_MAX / 2; /* saturated */
        }
        lua_pop(L, 1);
        lua_getfield(L, 1, "cafile");
        if (!lua_isnil(L, -1))
            cafile = luaL_checkstring(L, -1);
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
    if (cafile && !(s->cafile = sz_strndup(cafile, strlen(cafile))))
        return luaL_error(L, "out of memory");
    s->multi = curl_multi_init();
    if (!s->multi)
        return luaL_error(L, "curl_multi_init failed");
    curl_multi_setopt(s->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(s->multi, CURLMOPT_SOCKETDATA, s);
    return 1;
}

static const char *classify(CURLcode rc, xfer *x)
{
    if (x->too_large)
        return "too_large";
    if (x->refused[0])
        return "connect"; /* the guard refused: nothing was sent */
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
static void push_headers(lua_State *L, xfer *x)
{
    size_t i = 0, k;
    const char *h = x->head.data ? x->head.data : "";
    lua_newtable(L);
    while (i < x->head.len) {
        const char *line = h + i, *eol = memchr(line, '\n', x->head.len - i), *colon;
        size_t ll = eol ? (size_t)(eol - line) : x->head.len - i;
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

/* Raises on a malformed request table; called before anything is owned. */
static void check_request(lua_State *L, int t)
{
    const char *url;
    size_t ulen;
    luaL_checktype(L, t, LUA_TTABLE);
    lua_getfield(L, t, "url");
    url = luaL_checklstring(L, -1, &ulen);
    if (strlen(url) != ulen)
        luaL_error(L, "url contains NUL");
    if (strpbrk(url, "\r\n ") != NULL)
        luaL_error(L, "url contains CR, LF or a space");
    lua_pop(L, 1);
    lua_getfield(L, t, "method");
    if (!lua_isnil(L, -1)) {
        const char *m = luaL_checkstring(L, -1), *p;
        for (p = m; *p; p++)
            if (*p < 'A' || *p > 'Z')
                luaL_error(L, "method must be upper-case letters");
    }
    lua_pop(L, 1);
    lua_getfield(L, t, "body");
    if (!lua_isnil(L, -1))
        luaL_checkstring(L, -1);
    lua_pop(L, 1);
    ms_field(L, t, "timeout", 1);
    lua_getfield(L, t, "resolve"); /* { "host:port:address", ... } (tests) */
    if (lua_istable(L, -1)) {
        size_t i, n = sz_rawlen(L, -1), vl;
        for (i = 1; i <= n; i++) {
            const char *v;
            lua_rawgeti(L, -1, (int)i);
            if (lua_type(L, -1) != LUA_TSTRING)
                luaL_error(L, "resolve entries must be strings");
            v = lua_tolstring(L, -1, &vl);
            if (strlen(v) != vl || strpbrk(v, "\r\n ") != NULL)
                luaL_error(L, "resolve entry contains CR, LF, NUL or a space");
            lua_pop(L, 1);
        }
    } else if (!lua_isnil(L, -1)) {
        luaL_error(L, "resolve must be a table");
    }
    lua_pop(L, 1);
    lua_getfield(L, t, "headers");
    if (lua_istable(L, -1)) {
        lua_pushnil(L);
        while (lua_next(L, -2) != 0) {
            size_t kl, vl, j;
            const char *k, *v;
            if (lua_type(L, -2) != LUA_TSTRING || !lua_isstring(L, -1))
                luaL_error(L, "header names and values must be strings");
            k = lua_tolstring(L, -2, &kl);
            v = lua_tolstring(L, -1, &vl);
            for (j = 0; j < kl; j++)
                if (k[j] <= 0x20 || k[j] == ':' || k[j] == 0x7f)
                    luaL_error(L, "invalid header name");
            for (j = 0; j < vl; j++)
                if (v[j] == '\r' || v[j] == '\n' || v[j] == '\0')
                    luaL_error(L, "header %s contains CR, LF or NUL", k);
            lua_pop(L, 1);
        }
    } else if (!lua_isnil(L, -1)) {
        luaL_error(L, "headers must be a table");
    }
    lua_pop(L, 1);
}

/* Sets up x for the (already checked) request table at t. Never raises.
 * Returns 0, or -1 when memory ran out. The strings stay anchored in t
 * until the transfer is finished. */
static int setup(lua_State *L, session *s, xfer *x, int t)
{
    const char *method, *url, *body = NULL;
    size_t blen = 0;
    long timeout;
    struct curl_slist *tmp;
    lua_getfield(L, t, "url");
    url = lua_tostring(L, -1);
    lua_getfield(L, t, "method");
    method = lua_isnil(L, -1) ? "POST" : lua_tostring(L, -1);
    lua_getfield(L, t, "body");
    if (!lua_isnil(L, -1))
        body = lua_tolstring(L, -1, &blen);
    lua_getfield(L, t, "timeout");
    timeout = lua_isnil(L, -1) ? s->timeout_ms : sec_to_ms(lua_tonumber(L, -1));
    lua_pop(L, 4); /* anchored by t */
    x->hl = NULL;
    lua_getfield(L, t, "headers");
    if (lua_istable(L, -1)) {
        lua_pushnil(L);
        while (lua_next(L, -2) != 0) {
            sz_buf line;
            sz_buf_init(&line);
            sz_buf_adds(&line, lua_tostring(L, -2));
            sz_buf_adds(&line, ": ");
            sz_buf_adds(&line, lua_tostring(L, -1));
            tmp = line.failed ? NULL : curl_slist_append(x->hl, line.data);
            sz_buf_reset(&line);
            lua_pop(L, 1);
            if (!tmp) {
                lua_pop(L, 2);
                return -1;
            }
            x->hl = tmp;
        }
    }
    lua_pop(L, 1);
    tmp = curl_slist_append(x->hl, "Expect:"); /* no 100-continue round trip */
    if (!tmp)
        return -1;
    x->hl = tmp;
    if (!x->easy) {
        /* options that never change are set once per handle; the handle is
         * reused, which also keeps its connection alive */
        if (!(x->easy = curl_easy_init()))
            return -1;
#if LIBCURL_VERSION_NUM >= 0x075500
        curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "http,https");
#else
        curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
        curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(x->easy, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(x->easy, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(x->easy, CURLOPT_SSL_VERIFYHOST, 2L);
        if (s->cafile)
            curl_easy_setopt(x->easy, CURLOPT_CAINFO, s->cafile);
        curl_easy_setopt(x->easy, CURLOPT_USERAGENT, "socialize/" SZ_VERSION_STRING);
        /* replies are small JSON: a 4 KB receive buffer instead of 16 KB */
        curl_easy_setopt(x->easy, CURLOPT_BUFFERSIZE, 4096L);
        curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(x->easy, CURLOPT_HEADERFUNCTION, on_header);
    }
    sz_buf_reset(&x->body);
    sz_buf_reset(&x->head);
    x->too_large = 0;
    x->done = 0;
    x->rc = CURLE_OK;
    x->max_reply = s->max_reply;
    x->errbuf[0] = '\0';
    curl_easy_setopt(x->easy, CURLOPT_URL, url);
    curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT_MS,
                     s->connect_timeout_ms < timeout ? s->connect_timeout_ms : timeout);
    curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->hl);
    curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(x->easy, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(x->easy, CURLOPT_PRIVATE, (char *)x);
    x->refused[0] = '\0';
    x->ghost[0] = '\0';
    lua_getfield(L, t, "guard");
    x->guard = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (x->guard) {
        /* the same strict check as the library's, again here: a guarded
         * URL that fails it is never handed to libcurl */
        sz_url_parts u;
        const char *why = sz_url_check(url, strlen(url), &u);
        snprintf(x->ghost, sizeof x->ghost, "%s", why ? "the host" : u.host);
        if (why) {
            snprintf(x->refused, sizeof x->refused, "refused: %s", why);
            x->done = 1;
            x->rc = CURLE_COULDNT_CONNECT;
        }
        curl_easy_setopt(x->easy, CURLOPT_OPENSOCKETFUNCTION, on_opensocket);
        curl_easy_setopt(x->easy, CURLOPT_OPENSOCKETDATA, x);
#if LIBCURL_VERSION_NUM >= 0x075000
        curl_easy_setopt(x->easy, CURLOPT_PREREQFUNCTION, on_prereq);
        curl_easy_setopt(x->easy, CURLOPT_PREREQDATA, x);
#endif
    } else {
        curl_easy_setopt(x->easy, CURLOPT_OPENSOCKETFUNCTION, NULL);
        curl_easy_setopt(x->easy, CURLOPT_OPENSOCKETDATA, NULL);
#if LIBCURL_VERSION_NUM >= 0x075000
        curl_easy_setopt(x->easy, CURLOPT_PREREQFUNCTION, NULL);
        curl_easy_setopt(x->easy, CURLOPT_PREREQDATA, NULL);
#endif
    }
    curl_slist_free_all(x->rl);
    x->rl = NULL;
    lua_getfield(L, t, "resolve");
    if (lua_istable(L, -1)) {
        size_t i, n = sz_rawlen(L, -1);
        for (i = 1; i <= n; i++) {
            lua_rawgeti(L, -1, (int)i);
            tmp = curl_slist_append(x->rl, lua_tostring(L, -1));
            lua_pop(L, 1);
            if (!tmp) {
                lua_pop(L, 1);
                return -1;
            }
            x->rl = tmp;
        }
    }
    lua_pop(L, 1);
    curl_easy_setopt(x->easy, CURLOPT_RESOLVE, x->rl);
    /* the method of the previous request on this handle must not leak */
    curl_easy_setopt(x->easy, CURLOPT_CUSTOMREQUEST, NULL);
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(x->easy, CURLOPT_HTTPGET, 1L);
    } else {
        /* copied: an asynchronous transfer outlives the Lua string */
        curl_easy_setopt(x->easy, CURLOPT_POST, 1L);
        curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE, (long)blen);
        curl_easy_setopt(x->easy, CURLOPT_COPYPOSTFIELDS, body ? body : "");
        if (strcmp(method, "POST") != 0)
            curl_easy_setopt(x->easy, CURLOPT_CUSTOMREQUEST, method);
    }
    return 0;
}

static void running_remove(session *s, xfer *x)
{
    size_t i;
    for (i = 0; i < s->nrunning; i++)
        if (s->running[i] == x) {
            s->running[i] = s->running[--s->nrunning];
            return;
        }
}

/* Marks x finished. Async transfers go to the finished list (returns 1);
 * blocking ones just complete (returns 0). */
static int finish(session *s, xfer *x, CURLcode rc)
{
    x->rc = rc;
    x->done = 1;
    if (x->active) {
        curl_multi_remove_handle(s->multi, x->easy);
        x->active = 0;
    }
    if (x->id > 0) {
        running_remove(s, x);
        x->next = s->finished;
        s->finished = x;
        return 1;
    }
    return 0;
}

/* Runs every transfer that needs attention, as curl_multi_perform would,
 * but through curl_multi_socket_action so that libcurl keeps reporting its
 * sockets to on_socket (curl_multi_perform does not, in 7.88): the due
 * timers first, then each known socket (readiness unknown: libcurl checks). */
static CURLMcode drive(session *s, int *running)
{
    CURLMcode rc = curl_multi_socket_action(s->multi, CURL_SOCKET_TIMEOUT, 0, running);
    curl_socket_t *fds;
    size_t i, n = s->nsocks;
    if (rc != CURLM_OK || n == 0)
        return rc;
    fds = malloc(n * sizeof *fds); /* s->socks changes while libcurl runs */
    if (!fds)
        return CURLM_OUT_OF_MEMORY;
    for (i = 0; i < n; i++)
        fds[i] = s->socks[i].fd;
    for (i = 0; i < n; i++)
        curl_multi_socket_action(s->multi, fds[i], 0, running);
    free(fds);
    return CURLM_OK;
}

/* Drives the multi handle once and files what finished. */
static void pump(session *s)
{
    CURLMsg *m;
    int q, running = 0;
    drive(s, &running);
    while ((m = curl_multi_info_read(s->multi, &q)) != NULL) {
        xfer *x = NULL;
        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        finish(s, x, m->data.result);
    }
}

/* Runs n transfers (pool[0..n-1]) to completion, in parallel. */
static void run_all(session *s, size_t n)
{
    size_t i, left = 0;
    int running = 0;
    for (i = 0; i < n; i++) {
        if (s->pool[i].done)
            continue;
        s->pool[i].id = 0;
        if (curl_multi_add_handle(s->multi, s->pool[i].easy) != CURLM_OK) {
            s->pool[i].done = 1;
            s->pool[i].rc = CURLE_OUT_OF_MEMORY;
            continue;
        }
        s->pool[i].active = 1;
        left++;
    }
    while (left > 0) {
        CURLMsg *m;
        int q;
        if (drive(s, &running) != CURLM_OK)
            break;
        while ((m = curl_multi_info_read(s->multi, &q)) != NULL) {
            xfer *x = NULL;
            if (m->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
            if (finish(s, x, m->data.result) == 0)
                left--;
        }
        if (left > 0 && curl_multi_poll(s->multi, NULL, 0, 1000, NULL) != CURLM_OK)
            break;
    }
    for (i = 0; i < n; i++) /* anything the loop could not finish */
        if (!s->pool[i].done)
            finish(s, &s->pool[i], CURLE_RECV_ERROR);
}

static int ensure_pool(session *s, size_t n)
{
    xfer *p;
    if (n <= s->npool)
        return 0;
    p = realloc(s->pool, n * sizeof *p);
    if (!p)
        return -1;
    memset(p + s->npool, 0, (n - s->npool) * sizeof *p);
    s->pool = p;
    s->npool = n;
    return 0;
}

/* Pushes the outcome of x: a response table, or nil, message, kind. */
static int push_outcome(lua_State *L, xfer *x, int as_table)
{
    long status = 0;
    curl_slist_free_all(x->hl);
    x->hl = NULL;
    if (x->rc != CURLE_OK) {
        const char *kind = classify(x->rc, x);
        if (as_table)
            lua_createtable(L, 0, 2);
        else
            lua_pushnil(L);
        if (x->too_large) {
            char n[32];
            snprintf(n, sizeof n, "%ld", x->max_reply); /* a long: %d would wrap */
            lua_pushfstring(L, "reply larger than %s bytes", n);
        } else if (x->refused[0])
            lua_pushstring(L, x->refused);
        else
            lua_pushstring(L, x->errbuf[0] ? x->errbuf : curl_easy_strerror(x->rc));
        if (as_table)
            lua_setfield(L, -2, "error");
        lua_pushstring(L, kind);
        if (as_table)
            lua_setfield(L, -2, "kind");
        sz_buf_reset(&x->body);
        sz_buf_reset(&x->head);
        return as_table ? 1 : 3;
    }
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, (lua_Integer)status);
    lua_setfield(L, -2, "status");
    lua_pushlstring(L, x->body.data ? x->body.data : "", x->body.len);
    lua_setfield(L, -2, "body");
    push_headers(L, x);
    lua_setfield(L, -2, "headers");
    sz_buf_reset(&x->body);
    sz_buf_reset(&x->head);
    return 1;
}

static int fail_all(lua_State *L, session *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        curl_slist_free_all(s->pool[i].hl);
        s->pool[i].hl = NULL;
    }
    lua_pushnil(L);
    lua_pushliteral(L, "out of memory");
    lua_pushliteral(L, "other");
    return 3;
}

/* s:request{ method, url, body, headers, timeout } -> res | nil, msg, kind
 * One blocking request on the session's own easy handle (its connection is
 * kept alive for the next one), without the multi handle's overhead. */
static int l_request(lua_State *L)
{
    session *s = check_session(L);
    check_request(L, 2);
    if (setup(L, s, &s->solo, 2) != 0) {
        curl_slist_free_all(s->solo.hl);
        s->solo.hl = NULL;
        lua_pushnil(L);
        lua_pushliteral(L, "out of memory");
        lua_pushliteral(L, "other");
        return 3;
    }
    s->solo.id = 0;
    if (!s->solo.done)
        s->solo.rc = curl_easy_perform(s->solo.easy);
    s->solo.done = 1;
    return push_outcome(L, &s->solo, 0);
}

/* s:request_many{ req1, req2, ... } -> { res_or_{error=,kind=}, ... }
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
        check_request(L, lua_gettop(L));
        lua_pop(L, 1);
    }
    if (ensure_pool(s, n) != 0)
        return fail_all(L, s, 0);
    for (i = 0; i < n; i++) {
        int rc;
        lua_rawgeti(L, 2, (int)i + 1);
        rc = setup(L, s, &s->pool[i], lua_gettop(L));
        lua_pop(L, 1); /* still anchored by the argument table */
        if (rc != 0)
            return fail_all(L, s, i + 1);
    }
    run_all(s, n);
    lua_createtable(L, (int)n, 0);
    for (i = 0; i < n; i++) {
        push_outcome(L, &s->pool[i], 1);
        lua_rawseti(L, -2, (int)i + 1);
    }
    return 1;
}

/* ---- asynchronous transfers (game loops) --------------------------------- */

/* s:start(req) -> id. The transfer runs while the host calls s:perform(). */
static int l_start(lua_State *L)
{
    session *s = check_session(L);
    xfer *x;
    check_request(L, 2);
    if (s->nrunning == s->caprunning) {
        size_t cap = s->caprunning ? s->caprunning * 2 : 16;
        xfer **r = realloc(s->running, cap * sizeof *r);
        if (!r)
            return luaL_error(L, "out of memory");
        s->running = r;
        s->caprunning = cap;
    }
    x = s->spare;
    if (x)
        s->spare = x->next;
    else if (!(x = calloc(1, sizeof *x)))
        return luaL_error(L, "out of memory");
    x->next = NULL;
    if (setup(L, s, x, 2) != 0) {
        curl_slist_free_all(x->hl);
        x->hl = NULL;
        x->next = s->spare;
        s->spare = x;
        return luaL_error(L, "out of memory");
    }
    x->id = ++s->next_id;
    s->running[s->nrunning++] = x;
    if (x->done) /* refused by the guard before any connection */
        finish(s, x, x->rc);
    else if (curl_multi_add_handle(s->multi, x->easy) != CURLM_OK)
        finish(s, x, CURLE_OUT_OF_MEMORY);
    else
        x->active = 1;
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
        pump(s);
        if (!s->finished && wait > 0) {
            curl_multi_poll(s->multi, NULL, 0, wait, NULL);
            pump(s);
        }
    }
    lua_newtable(L);
    while (s->finished) {
        xfer *x = s->finished;
        s->finished = x->next;
        push_outcome(L, x, 1);
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
        curl_multi_timeout(s->multi, &ms);
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
    size_t i;
    int n = 0;
    lua_newtable(L);
    for (i = 0; i < s->nsocks; i++) {
        int rd = (s->socks[i].what & CURL_POLL_IN) != 0, wr = (s->socks[i].what & CURL_POLL_OUT) != 0;
        if (!rd && !wr)
            continue;
        lua_createtable(L, 0, 3);
        lua_pushinteger(L, (lua_Integer)s->socks[i].fd);
        lua_setfield(L, -2, "fd");
        lua_pushboolean(L, rd);
        lua_setfield(L, -2, "read");
        lua_pushboolean(L, wr);
        lua_setfield(L, -2, "write");
        lua_rawseti(L, -2, ++n);
    }
    return 1;
}

static void free_xfer(xfer *x)
{
    if (x->easy)
        curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->hl);
    curl_slist_free_all(x->rl);
    sz_buf_reset(&x->body);
    sz_buf_reset(&x->head);
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
        sz_buf_reset(&s->pool[i].body);
        sz_buf_reset(&s->pool[i].head);
    }
    free(s->pool);
    s->pool = NULL;
    s->npool = 0;
    free_xfer(&s->solo);
    memset(&s->solo, 0, sizeof s->solo);
    for (i = 0; i < s->nrunning; i++) {
        if (s->running[i]->active)
            curl_multi_remove_handle(s->multi, s->running[i]->easy);
        free_xfer(s->running[i]);
        free(s->running[i]);
    }
    free(s->running);
    s->running = NULL;
    s->nrunning = s->caprunning = 0;
    while (s->finished) {
        xfer *x = s->finished;
        s->finished = x->next;
        free_xfer(x);
        free(x);
    }
    while (s->spare) {
        xfer *x = s->spare;
        s->spare = x->next;
        free_xfer(x);
        free(x);
    }
    if (s->multi) {
        curl_multi_cleanup(s->multi);
        s->multi = NULL;
    }
    free(s->socks); /* after the cleanup: it may still report removals */
    s->socks = NULL;
    s->nsocks = s->capsocks = 0;
    free(s->cafile);
    s->cafile = NULL;
    return 0;
}

static int l_tostring(lua_State *L)
{
    session *s = luaL_checkudata(L, 1, SESSION_MT);
    lua_pushfstring(L, "socialize.curl.Session (%s)", s->multi ? "open" : "closed");
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
    {"close", l_close},
    {NULL, NULL}
};

/* curl.parse_url(url) -> scheme, host, port | nil, message: libcurl's own
 * URL parser (curl_url), so tests can show the core's guard agrees with it. */
static int l_parse_url(lua_State *L)
{
    size_t n;
    const char *url = luaL_checklstring(L, 1, &n);
    CURLU *u;
    char *scheme = NULL, *host = NULL, *port = NULL;
    CURLUcode rc;
    if (strlen(url) != n) {
        lua_pushnil(L);
        lua_pushliteral(L, "url contains NUL");
        return 2;
    }
    if (!(u = curl_url()))
        return luaL_error(L, "out of memory");
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
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return rc == CURLUE_OK ? 3 : 2;
}

static const luaL_Reg funcs[] = {
    {"new", l_new},
    {"parse_url", l_parse_url},
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
