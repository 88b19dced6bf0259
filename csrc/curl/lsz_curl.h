/* Internal header of the libcurl transport socialize.curl
 * (lsocialize_curl.c, lsz_curl_xfer.c). Nothing here is exported: the
 * module is built with -fvisibility=hidden and only luaopen_socialize_curl
 * is visible. */
#ifndef LSZ_CURL_H
#define LSZ_CURL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <poll.h>
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
#include "socialize.h" /* the private-network guard (sz_guard.c), public API only */

#define SESSION_MT "socialize.curl.Session"
#define DEFAULT_TIMEOUT_MS 10000L
#define DEFAULT_CONNECT_TIMEOUT_MS 5000L
#define DEFAULT_MAX_REPLY (8L * 1024 * 1024)
#define MAX_BATCH 256
/* Transfers one multi handle carries at most (issue 15): libcurl 7.88 walks
 * every connection its cache holds for the host to choose one for a new
 * transfer, so the session spreads transfers over several multi handles
 * ("shards", each with its own connection cache) and the walk stays within
 * this many connections. The first shard fills first: up to this many in
 * flight, everything runs on one multi handle, as with a single one. */
#define SHARD_XFERS 256
/* connections per host in a shard with curl.new{ http2 = true } */
#define H2_HOST_CONNS 8

/* A growable byte buffer of the transport (a reply's body or head).
 * `failed` is sticky: after an allocation failure nothing more is added. */
typedef struct rbuf {
    char  *data;
    size_t len;
    size_t cap;
    int    failed;
} rbuf;

struct shard;

/* One transfer: an easy handle kept in the session's pool and reused, so
 * the multi handle's connection cache keeps connections alive. */
typedef struct xfer {
    struct xfer       *next;   /* free list / finished-async list */
    CURL              *easy;
    struct curl_slist *hl;
    lua_Integer        id;     /* > 0 for transfers started with s:start() */
    struct shard      *sh;     /* the multi handle it is in; NULL when in none */
    rbuf               body;
    rbuf               head;
    long               max_reply;
    int                too_large;
    int                done;
    CURLcode           rc;
    char               errbuf[CURL_ERROR_SIZE];
    struct curl_slist *rl;     /* CURLOPT_RESOLVE entries (tests) */
    int                guard;  /* refuse blocked addresses (private-network guard) */
    int                once;   /* never sent twice: libcurl's own resend on a reused
                                  connection that closed is refused (a create) */
    int                starts; /* requests libcurl began for this transfer (once) */
    int                resent; /* libcurl was about to send it again: refused */
    size_t             ri;      /* its index in session.running (async, in flight) */
    int                bref;    /* registry reference anchoring an async transfer's body (> 0) */
    int                refusal; /* the guard refused (the message: refused, or a fixed one) */
    char              *refused; /* why the guard refused; allocated only then */
    char              *ghost;   /* the guarded URL's host, for messages (guarded transfers only) */
    char              *want;    /* req.wantHeaders as ",a,b,"; NULL keeps every header */
    int                h2;      /* an https:// request of an http2 session: multiplexed */
} xfer;

/* A socket libcurl watches, as its socket callback reported it. */
typedef struct sockent {
    curl_socket_t fd;
    int           what; /* CURL_POLL_IN / OUT / INOUT */
} sockent;

/* One multi handle of a session, with the sockets libcurl watches for it. */
typedef struct shard {
    CURLM   *multi;
    sockent *socks;       /* every socket of the multi handle (any number: no FD_SETSIZE) */
    size_t   nsocks, capsocks;
    size_t   nactive;     /* transfers in the multi handle (at most SHARD_XFERS, see lsz_add) */
    int      h2;          /* carries only https:// transfers of an http2 session (lsz_shard_open) */
} shard;

typedef struct session {
    shard **shards;       /* at least one while the session is open; filled lowest first */
    size_t nshards;
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
    int    http2;         /* curl.new{ http2 = true }: HTTP/2 multiplexed over TLS */
} session;

/* One request as the transport sends it (lsz_setup_req): from a Lua
 * request table (lsz_setup) or from the core's request (lsz_curl_gigya.c). */
typedef struct lsz_xreq {
    const char *method, *url, *body; /* body NULL: none */
    size_t      blen;
    long        timeout_ms;
    long        max_bytes;           /* > 0: a media fetch's own cap */
    const char *want;                /* "date,retry-after", or NULL: every header */
    size_t      wantlen;
    int         media;               /* a media fetch (maxBytes given): the larger buffer */
    int         guard, once;
} lsz_xreq;

/* lsz_curl_xfer.c */
void lsz_rbuf_add(rbuf *b, const void *p, size_t n);
void lsz_rbuf_free(rbuf *b); /* frees, and empties for reuse */
void lsz_xfer_strings_free(xfer *x); /* refused, ghost, want */
/* Pushes t[k] read raw (t an absolute index): a request table's own field,
 * no metamethod run, so nothing changes it between its check and its send
 * and the string read is the one the table anchors. */
void lsz_rawfield(lua_State *L, int t, const char *k);
long lsz_ms_field(lua_State *L, int t, const char *k, long dflt);
void lsz_check_request(lua_State *L, int t);
const char *lsz_url_bad(const char *url);
const char *lsz_method_bad(const char *m);
int lsz_header_name_bad(const char *k, size_t kl);
int lsz_header_value_bad(const char *v, size_t vl);
int lsz_next_header(const xfer *x, size_t *at, const char **name, size_t *nl, const char **v, size_t *vl);
int lsz_setup(lua_State *L, session *s, xfer *x, int t);
int lsz_setup_req(session *s, xfer *x, const lsz_xreq *r, struct curl_slist *rl);
int lsz_header_add(xfer *x, const char *k, const char *v);
long lsz_sec_to_ms(lua_Number x);
const char *lsz_outcome_kind(CURLcode rc, xfer *x);
void lsz_push_error(lua_State *L, xfer *x); /* the message of a failed transfer */
int lsz_ensure_pool(session *s, size_t n);
int lsz_push_outcome(lua_State *L, xfer *x, int as_table);

/* lsz_curl_multi.c: the session's multi handles (shards) */
int lsz_shard_open(session *s, int h2);    /* one more shard: 0, or -1 (out of memory) */
int lsz_add(session *s, xfer *x);          /* into a shard with room: 0, or -1 */
int lsz_finish(session *s, xfer *x, CURLcode rc);
void lsz_pump(session *s);
void lsz_wait(session *s, int ms);         /* until a socket is ready, a timer is due, or ms */
long lsz_timeout(session *s);              /* the nearest timer of any shard, -1 when none */
void lsz_run_all(session *s, size_t n);
void lsz_shards_close(session *s);         /* after every transfer was removed */

/* lsz_curl_gigya.c: s:gigya, one blocking Gigya call through core.capi; curl.capi_ok */
int lsz_gigya(lua_State *L);
int lsz_capi_ok(lua_State *L);

/* lsz_cli.c: the `socialize` command's signal flag, TTY test and loopback listener */
void lsz_cli_open(lua_State *L);

#endif
