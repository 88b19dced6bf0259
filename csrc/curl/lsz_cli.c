/* What the `socialize` command (lua/socialize/cli.lua) needs of the OS
 * and plain Lua cannot do, in the I/O module socialize.curl:
 *
 *   cli_signals(grace_s)  SIGINT and SIGTERM set a flag instead of killing
 *                         the process; the first one also arms alarm(grace_s)
 *                         (0: none), so in-flight work that outlasts the
 *                         grace period ends the process (SIGALRM); a second
 *                         signal ends it at once (the default action).
 *   cli_signaled()        the number of the first signal caught, or false.
 *   cli_isatty(fd)        whether fd (0, 1, 2) is a terminal.
 *   cli_sleep(ms)         sleeps, cut short by a caught signal.
 *   cli_listen(port)      a TCP listener on 127.0.0.1 (port 0: any free
 *                         one): a Listener, its port | nil, message.
 *   Listener:accept(timeout_ms, path, param?)
 *                         waits at most timeout_ms in all for one HTTP GET
 *                         whose path is `path` (and, given `param`, whose
 *                         query holds exactly that "name=value" pair: the
 *                         connect's state), answers it with a short page
 *                         and returns its request target ("/cb?code=..."),
 *                         or nil, "timeout" | "interrupted" | message. Other
 *                         requests (a browser's /favicon.ico, another local
 *                         process's forged callback) get a 404 and the wait
 *                         goes on. A request head is read for at most 5 s
 *                         and 8 KiB.
 *   Listener:close()
 */
#include <errno.h>
#include <stdio.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include "lua.h"
#include "lauxlib.h"
#include "lsz_compat.h"
#include "lsz_curl.h"

#define LISTENER_MT "socialize.curl.Listener"
#define HEAD_MAX 8192
#define HEAD_MS 5000

static volatile sig_atomic_t caught = 0;
static volatile sig_atomic_t grace = 0;

static void on_signal(int sig)
{
    if (caught) { /* the second one: the default action, now */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    caught = sig;
    if (grace > 0) alarm((unsigned)grace);
}

static int l_signals(lua_State *L)
{
    lua_Number g = luaL_optnumber(L, 1, 0);
    struct sigaction sa;
    if (!(g >= 0)) g = 0; /* NaN, negative */
    if (g > 86400) g = 86400;
    grace = (sig_atomic_t)g;
    caught = 0;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
        return luaL_error(L, "sigaction: %s", strerror(errno));
    lua_pushboolean(L, 1);
    return 1;
}

static int l_signaled(lua_State *L)
{
    if (caught) lua_pushinteger(L, caught);
    else lua_pushboolean(L, 0);
    return 1;
}

/* cli_sleep(ms): sleeps at most ms (bounded to a day), less when a signal
 * is caught meanwhile; true when it slept the whole time. */
static int l_sleep(lua_State *L)
{
    lua_Number ms = luaL_checknumber(L, 1);
    long long left;
    if (!(ms >= 0)) ms = 0;
    if (ms > 86400000) ms = 86400000;
    left = (long long)ms;
    while (left > 0 && !caught) {
        long long step = left > 100 ? 100 : left;
        struct timespec ts;
        ts.tv_sec = 0;
        ts.tv_nsec = (long)(step * 1000000);
        nanosleep(&ts, NULL);
        left -= step;
    }
    lua_pushboolean(L, !caught);
    return 1;
}

static int l_isatty(lua_State *L)
{
    lua_Integer fd = luaL_checkinteger(L, 1);
    lua_pushboolean(L, fd >= 0 && fd <= 2 && isatty((int)fd));
    return 1;
}

typedef struct { int fd; } listener;

static listener *check_listener(lua_State *L)
{
    return (listener *)luaL_checkudata(L, 1, LISTENER_MT);
}

static int l_listen(lua_State *L)
{
    lua_Integer port = luaL_optinteger(L, 1, 0);
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    int one = 1, fd;
    listener *li;
    if (port < 0 || port > 65535) {
        lua_pushnil(L);
        lua_pushliteral(L, "port must be 0 to 65535");
        return 2;
    }
    li = (listener *)lua_newuserdata(L, sizeof *li);
    li->fd = -1;
    luaL_getmetatable(L, LISTENER_MT);
    lua_setmetatable(L, -2);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) goto fail;
    li->fd = fd;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 8) != 0) goto fail;
    if (getsockname(fd, (struct sockaddr *)&a, &alen) != 0) goto fail;
    lua_pushinteger(L, ntohs(a.sin_port));
    return 2;
fail:
    {
        int e = errno;
        if (li->fd >= 0) close(li->fd);
        li->fd = -1;
        lua_pushnil(L);
        lua_pushfstring(L, "cannot listen on 127.0.0.1:%d: %s", (int)port, strerror(e));
        return 2;
    }
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for fd to be readable until deadline: 1 ready, 0 timeout, -1
 * interrupted by a caught signal, -2 error. */
static int wait_in(int fd, long long deadline)
{
    for (;;) {
        struct pollfd p;
        long long left = deadline - now_ms();
        int r;
        if (caught) return -1;
        if (left <= 0) return 0;
        p.fd = fd;
        p.events = POLLIN;
        p.revents = 0;
        r = poll(&p, 1, left > 1000 ? 1000 : (int)left); /* a signal is seen within 1 s */
        if (r > 0) return 1;
        if (r < 0 && errno != EINTR) return -2;
    }
}

static void send_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        s += w;
        n -= (size_t)w;
    }
}

/* Reads one request head (up to the blank line) from c: its length, or -1. */
static int read_head(int c, char *buf, long long deadline)
{
    size_t len = 0;
    long long d = now_ms() + HEAD_MS;
    if (d > deadline) d = deadline;
    while (len < HEAD_MAX - 1) {
        ssize_t r;
        if (wait_in(c, d) != 1) return -1;
        r = recv(c, buf + len, HEAD_MAX - 1 - len, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        len += (size_t)r;
        buf[len] = '\0';
        if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n")) return (int)len;
    }
    return -1;
}

static const char BODY_OK[] = "socialize: received. You can close this window and go back to the terminal.\n";

static void send_ok(int c)
{
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nCache-Control: no-store\r\n"
                     "Connection: close\r\nContent-Length: %u\r\n\r\n", (unsigned)(sizeof BODY_OK - 1));
    if (n > 0 && (size_t)n < sizeof head) send_all(c, head, (size_t)n);
    send_all(c, BODY_OK, sizeof BODY_OK - 1);
}
static const char PAGE_404[] =
    "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: 10\r\n\r\n"
    "not found\n";
static const char PAGE_400[] =
    "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: 12\r\n\r\n"
    "bad request\n";

/* Whether the query of the target [sp, end) holds the pair want[0..wn). */
static int has_pair(const char *sp, const char *end, const char *want, size_t wn)
{
    const char *q = memchr(sp, '?', (size_t)(end - sp));
    if (!q) return 0;
    for (q++; q < end && *q != '#';) {
        const char *e = q;
        while (e < end && *e != '&' && *e != '#') e++;
        if ((size_t)(e - q) == wn && memcmp(q, want, wn) == 0) return 1;
        q = e < end && *e == '&' ? e + 1 : e;
    }
    return 0;
}

static int l_accept(lua_State *L)
{
    listener *li = check_listener(L);
    lua_Number t = luaL_checknumber(L, 2);
    size_t plen, wn = 0;
    const char *path = luaL_checklstring(L, 3, &plen);
    const char *want = luaL_optlstring(L, 4, NULL, &wn);
    long long deadline;
    char buf[HEAD_MAX];
    if (li->fd < 0) return luaL_error(L, "the listener is closed");
    if (!(t >= 0)) t = 0;
    if (t > 86400000) t = 86400000;
    deadline = now_ms() + (long long)t;
    for (;;) {
        int r = wait_in(li->fd, deadline), c, n;
        char *sp, *end;
        if (r <= 0 || r == -2) {
            lua_pushnil(L);
            if (r == 0) lua_pushliteral(L, "timeout");
            else if (r == -1) lua_pushliteral(L, "interrupted");
            else lua_pushstring(L, strerror(errno));
            return 2;
        }
        c = accept(li->fd, NULL, NULL);
        if (c < 0) continue;
        n = read_head(c, buf, deadline);
        if (n < 0 || strncmp(buf, "GET ", 4) != 0) {
            if (n >= 0) send_all(c, PAGE_400, sizeof PAGE_400 - 1);
            close(c);
            continue;
        }
        sp = buf + 4;
        end = sp;
        while (*end && *end != ' ' && *end != '\r' && *end != '\n') end++;
        if ((size_t)(end - sp) >= plen && memcmp(sp, path, plen) == 0
            && (sp[plen] == '?' || sp + plen == end) && (!want || has_pair(sp, end, want, wn))) {
            send_ok(c);
            close(c);
            lua_pushlstring(L, sp, (size_t)(end - sp));
            return 1;
        }
        send_all(c, PAGE_404, sizeof PAGE_404 - 1);
        close(c);
    }
}

static int l_lclose(lua_State *L)
{
    listener *li = check_listener(L);
    if (li->fd >= 0) close(li->fd);
    li->fd = -1;
    return 0;
}

static const luaL_Reg listener_methods[] = {
    {"accept", l_accept},
    {"close", l_lclose},
    {NULL, NULL}
};

static const luaL_Reg cli_funcs[] = {
    {"cli_signals", l_signals},
    {"cli_signaled", l_signaled},
    {"cli_isatty", l_isatty},
    {"cli_sleep", l_sleep},
    {"cli_listen", l_listen},
    {NULL, NULL}
};

/* Adds the functions above to the module table on the top of the stack. */
void lsz_cli_open(lua_State *L)
{
    if (luaL_newmetatable(L, LISTENER_MT)) {
        sz_newlib(L, listener_methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, l_lclose);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    sz_setfuncs(L, cli_funcs, 0);
}
