/* socialize.curl - one transfer: the request table checked and set up on
 * an easy handle, the body, header and private-network guard callbacks, and
 * the outcome pushed as Lua values (the multi handles that run it:
 * lsz_curl_multi.c). Part of the transport (lsocialize_curl.c). */

#include "lsz_curl.h"

void lsz_rbuf_add(rbuf *b, const void *p, size_t n)
{
    if (b->failed || !n)
        return;
    if (n > b->cap - b->len) {
        size_t cap = b->cap ? b->cap : 1024;
        char *d;
        while (cap - b->len < n) {
            if (cap > (size_t)-1 / 2) {
                b->failed = 1;
                return;
            }
            cap *= 2;
        }
        d = realloc(b->data, cap);
        if (!d) {
            b->failed = 1;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void lsz_rbuf_free(rbuf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    xfer *x = ud;
    size_t len = size * n;
    if ((long)(x->body.len + len) > x->max_reply) {
        x->too_large = 1;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    lsz_rbuf_add(&x->body, p, len);
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
    lsz_rbuf_add(&x->head, p, len);
    return x->head.failed ? 0 : len;
}

/* ---- private-network guard at connect time ------------------------------ */

/* A copy of "a" "b" "c" on the heap (NULL when memory ran out). */
static char *join3(const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    char *d = malloc(la + lb + lc + 1);
    if (d) {
        memcpy(d, a, la);
        memcpy(d + la, b, lb);
        memcpy(d + la + lb, c, lc + 1);
    }
    return d;
}

/* Records the guard's refusal; the message is allocated only now (a
 * transfer carries no message buffer), a fixed one when memory ran out. */
static void refusal(xfer *x, const char *a, const char *b, const char *c)
{
    free(x->refused);
    x->refused = join3(a, b, c);
    x->refusal = 1;
}

static void refuse(xfer *x, const char *ip)
{
    char tail[INET6_ADDRSTRLEN + 64];
    snprintf(tail, sizeof tail, " resolves to a loopback, private or reserved address (%s)", ip);
    refusal(x, "refused: ", x->ghost ? x->ghost : "the host", tail);
}

void lsz_xfer_strings_free(xfer *x)
{
    free(x->refused);
    free(x->ghost);
    free(x->want);
    x->refused = x->ghost = x->want = NULL;
    x->refusal = 0;
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
        refusal(x, "refused: ", x->ghost ? x->ghost : "the host", ": not an IP connection");
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
/* Every request libcurl is about to send, also on a reused connection: the
 * peer's address (guard); and a second start of the same transfer (once):
 * libcurl resends a request on its own when a reused connection closed
 * before any reply byte, which for a create may post twice (the network
 * may have stored it before the connection dropped): refused, reported as
 * "closed" (sent, no reply). */
static int on_prereq(void *ud, char *conn_primary_ip, char *conn_local_ip, int conn_primary_port,
                     int conn_local_port)
{
    xfer *x = ud;
    unsigned char b[16];
    int family;
    (void)conn_local_ip;
    (void)conn_primary_port;
    (void)conn_local_port;
    if (x->once && x->starts++ > 0) {
        x->resent = 1;
        return CURL_PREREQFUNC_ABORT;
    }
    if (!x->guard)
        return CURL_PREREQFUNC_OK;
    family = conn_primary_ip ? sz_ip_parse(conn_primary_ip, strlen(conn_primary_ip), b) : 0;
    if (!family || sz_addr_blocked(family, b)) {
        refuse(x, conn_primary_ip ? conn_primary_ip : "?");
        return CURL_PREREQFUNC_ABORT;
    }
    return CURL_PREREQFUNC_OK;
}
#endif

/* Longest timeout handed to libcurl: one day (a larger one is clamped). */
#define MAX_TIMEOUT_MS 86400000L

/* seconds -> milliseconds in [1, MAX_TIMEOUT_MS]: never a cast of an
 * out-of-range double (undefined), never a wrap. */
long lsz_sec_to_ms(lua_Number x)
{
    if (!(x * 1000 < (lua_Number)MAX_TIMEOUT_MS)) /* also NaN */
        return MAX_TIMEOUT_MS;
    if (!(x * 1000 >= 1))
        return 1;
    return (long)(x * 1000 + 0.5);
}

void lsz_rawfield(lua_State *L, int t, const char *k)
{
    lua_pushstring(L, k);
    lua_rawget(L, t);
}

long lsz_ms_field(lua_State *L, int t, const char *k, long dflt)
{
    long v = dflt;
    lsz_rawfield(L, t, k);
    if (!lua_isnil(L, -1)) {
        lua_Number x = luaL_checknumber(L, -1);
        if (!(x > 0) || x == HUGE_VAL)
            luaL_error(L, "%s must be a positive number of seconds", k);
        v = lsz_sec_to_ms(x);
    }
    lua_pop(L, 1);
    return v;
}

/* The transport kind of a failed transfer (not to be confused with the
 * core's classification of a network's reply). */
const char *lsz_outcome_kind(CURLcode rc, xfer *x)
{
    if (x->too_large)
        return "too_large";
    if (x->resent)
        return "closed"; /* sent once, the connection closed: not sent again */
    if (x->refusal)
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

/* The next header line of x's collected head from *at: 1 with its name (the
 * bytes before its first colon, never empty) and its value (spaces and tabs
 * trimmed), its line ending dropped; 0 after the last. Lines without a name
 * (the status line, a blank line) are skipped. */
int lsz_next_header(const xfer *x, size_t *at, const char **name, size_t *nl, const char **v, size_t *vl)
{
    const char *h = x->head.data ? x->head.data : "";
    while (*at < x->head.len) {
        const char *line = h + *at, *eol = memchr(line, '\n', x->head.len - *at), *colon, *end;
        size_t ll = eol ? (size_t)(eol - line) : x->head.len - *at;
        *at += ll + 1;
        if (ll && line[ll - 1] == '\r')
            ll--;
        colon = memchr(line, ':', ll);
        if (!colon || colon == line)
            continue;
        *name = line;
        *nl = (size_t)(colon - line);
        *v = colon + 1;
        end = line + ll;
        while (*v < end && (**v == ' ' || **v == '\t'))
            (*v)++;
        while (end > *v && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        *vl = (size_t)(end - *v);
        return 1;
    }
    return 0;
}

/* Pushes the collected headers as a table with lower-cased names; a repeated
 * header keeps its values joined with ", ". */
static void push_headers(lua_State *L, xfer *x)
{
    size_t at = 0, k, nl, vl;
    const char *line, *v;
    lua_newtable(L);
    while (lsz_next_header(x, &at, &line, &nl, &v, &vl)) {
        char buf[130], *name = buf + 1;
        if (nl + 2 >= sizeof buf)
            continue;
        buf[0] = ',';
        for (k = 0; k < nl; k++)
            name[k] = (char)((line[k] >= 'A' && line[k] <= 'Z') ? line[k] + 32 : line[k]);
        name[nl] = ',';
        name[nl + 1] = '\0';
        if (x->want && !strstr(x->want, buf))
            continue; /* a header the caller does not read */
        name[nl] = '\0';
        lua_getfield(L, -1, name);
        if (lua_isstring(L, -1)) {
            lua_pushliteral(L, ", ");
            lua_pushlstring(L, v, vl);
            lua_concat(L, 3);
        } else {
            lua_pop(L, 1);
            lua_pushlstring(L, v, vl);
        }
        lua_setfield(L, -2, name);
    }
}

/* The checks of a request's parts, for a request table (lsz_check_request)
 * and for the core's request (s:gigya): the message, or NULL when good. */
const char *lsz_url_bad(const char *url)
{
    return strpbrk(url, "\r\n ") != NULL ? "url contains CR, LF or a space" : NULL;
}

const char *lsz_method_bad(const char *m)
{
    for (; *m; m++)
        if (*m < 'A' || *m > 'Z')
            return "method must be upper-case letters";
    return NULL;
}

/* a header's name (kl bytes) and value (vl bytes): 1 when bad */
int lsz_header_name_bad(const char *k, size_t kl)
{
    size_t j;
    for (j = 0; j < kl; j++)
        if (k[j] <= 0x20 || k[j] == ':' || k[j] == 0x7f)
            return 1;
    return 0;
}

int lsz_header_value_bad(const char *v, size_t vl)
{
    size_t j;
    for (j = 0; j < vl; j++)
        if (v[j] == '\r' || v[j] == '\n' || v[j] == '\0')
            return 1;
    return 0;
}

/* Raises on a malformed request table; called before anything is owned. */
void lsz_check_request(lua_State *L, int t)
{
    const char *url;
    size_t ulen;
    luaL_checktype(L, t, LUA_TTABLE);
    lsz_rawfield(L, t, "url");
    url = luaL_checklstring(L, -1, &ulen);
    if (strlen(url) != ulen)
        luaL_error(L, "url contains NUL");
    if (lsz_url_bad(url))
        luaL_error(L, "%s", lsz_url_bad(url));
    lua_pop(L, 1);
    lsz_rawfield(L, t, "method");
    if (!lua_isnil(L, -1)) {
        const char *m = luaL_checkstring(L, -1);
        if (lsz_method_bad(m))
            luaL_error(L, "%s", lsz_method_bad(m));
    }
    lua_pop(L, 1);
    lsz_rawfield(L, t, "body");
    if (!lua_isnil(L, -1))
        luaL_checkstring(L, -1);
    lua_pop(L, 1);
    lsz_ms_field(L, t, "timeout", 1);
    lsz_rawfield(L, t, "resolve"); /* { "host:port:address", ... } (tests) */
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
    lsz_rawfield(L, t, "headers");
    if (lua_istable(L, -1)) {
        lua_pushnil(L);
        while (lua_next(L, -2) != 0) {
            size_t kl, vl;
            const char *k, *v;
            if (lua_type(L, -2) != LUA_TSTRING || !lua_isstring(L, -1))
                luaL_error(L, "header names and values must be strings");
            k = lua_tolstring(L, -2, &kl);
            v = lua_tolstring(L, -1, &vl);
            if (lsz_header_name_bad(k, kl))
                luaL_error(L, "invalid header name");
            if (lsz_header_value_bad(v, vl))
                luaL_error(L, "header %s contains CR, LF or NUL", k);
            lua_pop(L, 1);
        }
    } else if (!lua_isnil(L, -1)) {
        luaL_error(L, "headers must be a table");
    }
    lua_pop(L, 1);
}

/* Whether url's scheme is https (any case, as libcurl reads it). */
static int is_https(const char *url)
{
    static const char https[] = "https://";
    size_t i;
    for (i = 0; i < sizeof https - 1; i++)
        if (!url[i] || (i < 5 ? url[i] | 0x20 : url[i]) != https[i]) /* the letters in any case */
            return 0;
    return 1;
}

/* Sets up x for a request r whose header lines are in x->hl already
 * ("Expect:" is added here) and whose resolve entries are rl (taken over).
 * Never raises. Returns 0, or -1 when memory ran out. r's strings must live
 * until the transfer is finished (the body is not copied). */
int lsz_setup_req(session *s, xfer *x, const lsz_xreq *r, struct curl_slist *rl)
{
    struct curl_slist *tmp;
    curl_slist_free_all(x->rl);
    x->rl = rl;
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
        curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(x->easy, CURLOPT_HEADERFUNCTION, on_header);
    }
    if (s->http2) {
        /* https://: HTTP/2 by ALPN (libcurl's default there), and wait for
         * a connection being set up to tell whether it multiplexes rather
         * than open one more; it goes to a multiplexing shard (lsz_add).
         * http:// stays HTTP/1.1 without waiting: a transfer waiting there
         * would start only once the first one's reply came (no ALPN to
         * tell sooner), and libcurl 7.88 fails a prior-knowledge HTTP/2
         * transfer on a reused connection. An HTTP/2 transfer sends its
         * body through libcurl's upload buffer, 64 KB by default, allocated
         * per transfer: its minimum, 16 KB (nghttp2's frame size), instead
         * (10,000 in flight: 3 kB per call less, docs/PERFORMANCE.md). */
        x->h2 = is_https(r->url);
        curl_easy_setopt(x->easy, CURLOPT_PIPEWAIT, x->h2 ? 1L : 0L);
        curl_easy_setopt(x->easy, CURLOPT_UPLOAD_BUFFERSIZE, x->h2 ? 16384L : 65536L);
    } else {
        x->h2 = 0;
    }
    lsz_rbuf_free(&x->body);
    lsz_rbuf_free(&x->head);
    x->too_large = 0;
    x->done = 0;
    x->rc = CURLE_OK;
    x->max_reply = r->max_bytes > 0 ? r->max_bytes : s->max_reply; /* a media fetch: its own cap */
    /* libcurl keeps a receive buffer per handle for the handle's life:
     * replies are small JSON, so libcurl's minimum (1 KB, instead of its
     * 16 KB default) for API calls, 16 KB for a media fetch (maxBytes) */
    curl_easy_setopt(x->easy, CURLOPT_BUFFERSIZE, r->media ? 16384L : 1024L);
    x->errbuf[0] = '\0';
    curl_easy_setopt(x->easy, CURLOPT_URL, r->url);
    curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, r->timeout_ms);
    curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT_MS,
                     s->connect_timeout_ms < r->timeout_ms ? s->connect_timeout_ms : r->timeout_ms);
    curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->hl);
    curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(x->easy, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(x->easy, CURLOPT_PRIVATE, (char *)x);
    lsz_xfer_strings_free(x);
    /* "date,retry-after": the only headers the caller reads */
    if (r->want && r->wantlen + 3 <= 128 && !memchr(r->want, 0, r->wantlen))
        x->want = join3(",", r->want, ","); /* else (or out of memory): every header, as without it */
    x->guard = r->guard;
    if (x->guard) {
        /* the same strict check as the library's, again here: a guarded
         * URL that fails it is never handed to libcurl */
        sz_url_parts u;
        const char *why = sz_url_check(r->url, strlen(r->url), &u);
        if (!why) {
            char host[256];
            snprintf(host, sizeof host, "%s", u.host);
            x->ghost = join3(host, "", ""); /* NULL (out of memory): "the host" in messages */
        } else {
            refusal(x, "refused: ", why, "");
            x->done = 1;
            x->rc = CURLE_COULDNT_CONNECT;
        }
        curl_easy_setopt(x->easy, CURLOPT_OPENSOCKETFUNCTION, on_opensocket);
        curl_easy_setopt(x->easy, CURLOPT_OPENSOCKETDATA, x);
    } else {
        curl_easy_setopt(x->easy, CURLOPT_OPENSOCKETFUNCTION, NULL);
        curl_easy_setopt(x->easy, CURLOPT_OPENSOCKETDATA, NULL);
    }
    x->once = r->once;
    x->starts = 0;
    x->resent = 0;
#if LIBCURL_VERSION_NUM >= 0x075000
    curl_easy_setopt(x->easy, CURLOPT_PREREQFUNCTION, x->guard || x->once ? on_prereq : NULL);
    curl_easy_setopt(x->easy, CURLOPT_PREREQDATA, x->guard || x->once ? x : NULL);
#endif
    curl_easy_setopt(x->easy, CURLOPT_RESOLVE, x->rl);
    /* the method of the previous request on this handle must not leak */
    curl_easy_setopt(x->easy, CURLOPT_CUSTOMREQUEST, NULL);
    if (strcmp(r->method, "GET") == 0) {
        curl_easy_setopt(x->easy, CURLOPT_HTTPGET, 1L);
    } else {
        /* not copied: the Lua string itself, anchored by the request table
         * for a blocking request and by a registry reference for an
         * asynchronous one (s:start, until s:perform returns its outcome);
         * the core's request in the one-call path (lsz_curl_gigya.c) */
        curl_easy_setopt(x->easy, CURLOPT_POST, 1L);
        curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE, (long)r->blen);
        curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, r->body ? r->body : "");
        if (strcmp(r->method, "POST") != 0)
            curl_easy_setopt(x->easy, CURLOPT_CUSTOMREQUEST, r->method);
    }
    return 0;
}

/* Sets up x for the (already checked) request table at t. Never raises.
 * Returns 0, or -1 when memory ran out. The strings stay anchored in t
 * until the transfer is finished. */
int lsz_setup(lua_State *L, session *s, xfer *x, int t)
{
    lsz_xreq r;
    struct curl_slist *tmp, *rl = NULL;
    memset(&r, 0, sizeof r);
    lsz_rawfield(L, t, "url");
    r.url = lua_tostring(L, -1);
    lsz_rawfield(L, t, "method");
    r.method = lua_isnil(L, -1) ? "POST" : lua_tostring(L, -1);
    lsz_rawfield(L, t, "body");
    if (!lua_isnil(L, -1))
        r.body = lua_tolstring(L, -1, &r.blen);
    lsz_rawfield(L, t, "timeout");
    r.timeout_ms = lua_isnil(L, -1) ? s->timeout_ms : lsz_sec_to_ms(lua_tonumber(L, -1));
    lsz_rawfield(L, t, "wantHeaders");
    if (lua_type(L, -1) == LUA_TSTRING)
        r.want = lua_tolstring(L, -1, &r.wantlen);
    lua_pop(L, 5); /* anchored by t */
    x->hl = NULL;
    lsz_rawfield(L, t, "headers");
    if (lua_istable(L, -1)) {
        lua_pushnil(L);
        while (lua_next(L, -2) != 0) {
            const char *k = lua_tostring(L, -2), *v = lua_tostring(L, -1);
            lua_pop(L, 1);
            if (lsz_header_add(x, k, v) != 0) {
                lua_pop(L, 2);
                return -1;
            }
        }
    }
    lua_pop(L, 1);
    lsz_rawfield(L, t, "maxBytes");
    r.media = !lua_isnil(L, -1);
    if (lua_type(L, -1) == LUA_TNUMBER && lua_tonumber(L, -1) >= 1) {
        double mb = lua_tonumber(L, -1);
        r.max_bytes = mb >= 2147483647.0 ? 2147483647L : (long)mb;
    }
    lsz_rawfield(L, t, "guard");
    r.guard = lua_toboolean(L, -1);
    lsz_rawfield(L, t, "once");
    r.once = lua_toboolean(L, -1);
    lua_pop(L, 3);
    lsz_rawfield(L, t, "resolve");
    if (lua_istable(L, -1)) {
        size_t i, n = sz_rawlen(L, -1);
        for (i = 1; i <= n; i++) {
            lua_rawgeti(L, -1, (int)i);
            tmp = curl_slist_append(rl, lua_tostring(L, -1));
            lua_pop(L, 1);
            if (!tmp) {
                lua_pop(L, 1);
                curl_slist_free_all(rl);
                return -1;
            }
            rl = tmp;
        }
    }
    lua_pop(L, 1);
    return lsz_setup_req(s, x, &r, rl);
}

/* Appends "k: v" to x->hl: 0, or -1 when memory ran out. */
int lsz_header_add(xfer *x, const char *k, const char *v)
{
    size_t kl = strlen(k), vl = strlen(v);
    char *line = malloc(kl + vl + 3);
    struct curl_slist *tmp = NULL;
    if (line) {
        memcpy(line, k, kl);
        memcpy(line + kl, ": ", 2);
        memcpy(line + kl + 2, v, vl + 1);
        tmp = curl_slist_append(x->hl, line);
        free(line);
    }
    if (!tmp)
        return -1;
    x->hl = tmp;
    return 0;
}

int lsz_ensure_pool(session *s, size_t n)
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

/* Pushes the message of the failed transfer x. */
void lsz_push_error(lua_State *L, xfer *x)
{
    if (x->too_large) {
        char n[32];
        snprintf(n, sizeof n, "%ld", x->max_reply); /* a long: %d would wrap */
        lua_pushfstring(L, "reply larger than %s bytes", n);
    } else if (x->resent)
        lua_pushstring(L, "the connection closed after the request was sent, before any reply; "
                          "not sent again (it may have been received)");
    else if (x->refusal)
        lua_pushstring(L, x->refused ? x->refused
                                     : "refused: a loopback, private or reserved address (out of memory)");
    else
        lua_pushstring(L, x->errbuf[0] ? x->errbuf : curl_easy_strerror(x->rc));
}

/* Pushes the outcome of x: a response table, or nil, message, kind. */
int lsz_push_outcome(lua_State *L, xfer *x, int as_table)
{
    long status = 0;
    curl_slist_free_all(x->hl);
    x->hl = NULL;
    if (x->rc != CURLE_OK) {
        const char *kind = lsz_outcome_kind(x->rc, x);
        if (as_table)
            lua_createtable(L, 0, 2);
        else
            lua_pushnil(L);
        lsz_push_error(L, x);
        if (as_table)
            lua_setfield(L, -2, "error");
        lua_pushstring(L, kind);
        if (as_table)
            lua_setfield(L, -2, "kind");
        lsz_rbuf_free(&x->body);
        lsz_rbuf_free(&x->head);
        lsz_xfer_strings_free(x);
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
    lsz_rbuf_free(&x->body);
    lsz_rbuf_free(&x->head);
    lsz_xfer_strings_free(x);
    return 1;
}
