/* socialize.curl - the session's multi handles ("shards"): transfers added
 * and removed, their sockets watched, and the handles driven through
 * curl_multi_socket_action. Part of the transport (lsocialize_curl.c).
 *
 * Why several (issue 15, 10,000 calls in flight): to choose a connection
 * for a new transfer, libcurl 7.88 (lib/url.c ConnectionExists) walks every
 * connection its cache holds for the host:port, in use or not, until it
 * finds an idle one; with one multi handle that walk grows with the calls in
 * flight (HTTP/1.1 needs one connection per call). Each shard has its own
 * connection cache and carries at most SHARD_XFERS transfers, so the walk
 * is bounded. A new transfer goes to the lowest shard with room: up to
 * SHARD_XFERS in flight everything stays on the first one (its connections
 * reused as with a single multi handle), and a shard's transfers find the
 * idle connections its earlier transfers left. With curl.new{ http2 = true }
 * the https:// transfers go to shards of their own, which multiplex them
 * over HTTP/2 (lsz_shard_open); the others stay in plain shards. */

#include "lsz_curl.h"

/* CURLMOPT_SOCKETFUNCTION: keeps sh->socks in step with what libcurl
 * watches. The socket's slot index + 1 rides in its socketp. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    shard *sh = userp;
    size_t i = (size_t)(uintptr_t)socketp;
    (void)easy;
    if (i == 0) { /* new to libcurl's socket hash (its entry had no index): append, no scan */
        i = sh->nsocks + 1;
    } else if (i > sh->nsocks || sh->socks[i - 1].fd != fd) { /* a stale index: look it up */
        for (i = 0; i < sh->nsocks && sh->socks[i].fd != fd; i++)
            ;
        i++;
    }
    if (what == CURL_POLL_REMOVE) {
        if (i <= sh->nsocks) {
            sh->socks[i - 1] = sh->socks[--sh->nsocks];
            if (i - 1 < sh->nsocks) /* the moved one keeps its index in socketp */
                curl_multi_assign(sh->multi, sh->socks[i - 1].fd, (void *)(uintptr_t)i);
        }
        return 0;
    }
    if (i > sh->nsocks) {
        if (sh->nsocks == sh->capsocks) {
            size_t cap = sh->capsocks ? sh->capsocks * 2 : 16;
            sockent *n = realloc(sh->socks, cap * sizeof *n);
            if (!n)
                return -1;
            sh->socks = n;
            sh->capsocks = cap;
        }
        i = ++sh->nsocks;
        sh->socks[i - 1].fd = fd;
        curl_multi_assign(sh->multi, fd, (void *)(uintptr_t)i);
    }
    sh->socks[i - 1].what = what;
    return 0;
}

int lsz_shard_open(session *s, int h2)
{
    shard **a, *sh;
    if (s->nshards >= (size_t)-1 / sizeof *a - 1)
        return -1;
    a = realloc(s->shards, (s->nshards + 1) * sizeof *a);
    if (!a)
        return -1;
    s->shards = a;
    if (!(sh = calloc(1, sizeof *sh)))
        return -1;
    if (!(sh->multi = curl_multi_init())) {
        free(sh);
        return -1;
    }
    curl_multi_setopt(sh->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(sh->multi, CURLMOPT_SOCKETDATA, sh);
    /* libcurl's default keeps 4 connections per transfer in the handle:
     * as a batch's last transfers finish, each one returned walks the whole
     * cache and closes the oldest idle connection (a quarter of them, at
     * random by timing, to be opened again by the next batch). A fixed
     * bound, the transfers a shard carries: every connection a shard's
     * transfers need at once stays open for its next ones, and the cache
     * walk on return happens only over that bound (other hosts' too). */
    curl_multi_setopt(sh->multi, CURLMOPT_MAXCONNECTS, (long)SHARD_XFERS);
    sh->h2 = h2;
    if (h2) {
        /* HTTP/2 over TLS (curl.new{ http2 = true }, https:// transfers
         * only: the bound below would hold cleartext HTTP/1.1 transfers to
         * 8 at once per host): a shard's transfers share a few
         * connections. libcurl 7.88 opens a new connection for
         * every transfer that finds the open ones full (the server's cap of
         * streams, 100 to 128 commonly), even once the host is known to
         * multiplex: the bound makes those wait for a stream instead
         * (10,000 in flight: 94 kB per call with a TLS connection each, 19 kB
         * this way, docs/PERFORMANCE.md). 8 connections carry the shard's
         * 256 transfers down to a server cap of 32 streams; an HTTP/1.1
         * server over TLS gets 8 at once per shard. */
        curl_multi_setopt(sh->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
        curl_multi_setopt(sh->multi, CURLMOPT_MAX_CONCURRENT_STREAMS, (long)SHARD_XFERS);
        curl_multi_setopt(sh->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)H2_HOST_CONNS);
    }
    s->shards[s->nshards++] = sh;
    return 0;
}

void lsz_shards_close(session *s)
{
    size_t i;
    for (i = 0; i < s->nshards; i++) {
        shard *sh = s->shards[i];
        curl_multi_cleanup(sh->multi);
        free(sh->socks); /* after the cleanup: it may still report removals */
        free(sh);
    }
    free(s->shards);
    s->shards = NULL;
    s->nshards = 0;
}

/* The lowest shard of the transfer's kind (multiplexed or not) with room, a
 * new one when all are full; when no new one can be made (out of memory),
 * the last one, over its bound (the walk is longer, the transfer still
 * runs; of the other kind if it is the only one: the same requests, only
 * multiplexed or bounded differently). */
static shard *pick(session *s, int h2)
{
    size_t i;
    for (i = 0; i < s->nshards; i++)
        if (s->shards[i]->h2 == h2 && s->shards[i]->nactive < SHARD_XFERS)
            return s->shards[i];
    if (lsz_shard_open(s, h2) != 0 && s->nshards == 0)
        return NULL;
    return s->shards[s->nshards - 1];
}

int lsz_add(session *s, xfer *x)
{
    shard *sh = pick(s, x->h2);
    if (!sh || curl_multi_add_handle(sh->multi, x->easy) != CURLM_OK)
        return -1;
    x->sh = sh;
    sh->nactive++;
    return 0;
}

/* O(1): each in-flight transfer knows its index (x->ri); the last one
 * takes its place (a scan here made 10,000 in flight cost O(n) per reply). */
static void running_remove(session *s, xfer *x)
{
    size_t i = x->ri;
    if (i >= s->nrunning || s->running[i] != x)
        return;
    s->running[i] = s->running[--s->nrunning];
    s->running[i]->ri = i;
}

/* Marks x finished. Async transfers go to the finished list (returns 1);
 * blocking ones just complete (returns 0). */
int lsz_finish(session *s, xfer *x, CURLcode rc)
{
    x->rc = rc;
    x->done = 1;
    if (x->sh) {
        curl_multi_remove_handle(x->sh->multi, x->easy);
        x->sh->nactive--;
        x->sh = NULL;
    }
    if (x->id > 0) {
        running_remove(s, x);
        x->next = s->finished;
        s->finished = x;
        return 1;
    }
    return 0;
}

/* Runs every transfer of one shard that needs attention, as
 * curl_multi_perform would, but through curl_multi_socket_action so that
 * libcurl keeps reporting its sockets to on_socket (curl_multi_perform does
 * not, in 7.88): the due timers first, then each known socket that poll(2)
 * finds ready (or in error), with its readiness: a socket with nothing to
 * do costs nothing in libcurl, so the work per reply does not grow with the
 * transfers in flight (issue 15: 10,000 at once). */
static CURLMcode drive(shard *sh, int *running)
{
    CURLMcode rc = curl_multi_socket_action(sh->multi, CURL_SOCKET_TIMEOUT, 0, running);
    struct pollfd *p;
    size_t i, n = sh->nsocks;
    if (rc != CURLM_OK || n == 0)
        return rc;
    p = malloc(n * sizeof *p); /* sh->socks changes while libcurl runs */
    if (!p)
        return CURLM_OUT_OF_MEMORY;
    for (i = 0; i < n; i++) {
        p[i].fd = sh->socks[i].fd;
        p[i].events = (short)(((sh->socks[i].what & CURL_POLL_IN) ? POLLIN : 0)
                              | ((sh->socks[i].what & CURL_POLL_OUT) ? POLLOUT : 0));
        p[i].revents = 0;
    }
    if (poll(p, (nfds_t)n, 0) < 0) {
        for (i = 0; i < n; i++) /* cannot tell: every socket, as libcurl checks */
            p[i].revents = POLLIN | POLLOUT;
    }
    for (i = 0; i < n; i++) {
        int ev = 0;
        if (!p[i].revents)
            continue;
        if (p[i].revents & (POLLIN | POLLHUP))
            ev |= CURL_CSELECT_IN;
        if (p[i].revents & POLLOUT)
            ev |= CURL_CSELECT_OUT;
        if (p[i].revents & (POLLERR | POLLNVAL))
            ev |= CURL_CSELECT_ERR;
        curl_multi_socket_action(sh->multi, p[i].fd, ev, running);
    }
    free(p);
    return CURLM_OK;
}

/* Drives every shard with transfers once and files what finished. Returns
 * how many blocking transfers finished, or -1 when a shard could not be
 * driven (out of memory). */
static long pump(session *s)
{
    long blocking = 0;
    size_t i;
    for (i = 0; i < s->nshards; i++) {
        shard *sh = s->shards[i];
        CURLMsg *m;
        int q, running = 0;
        if (sh->nactive == 0)
            continue; /* nothing to run: its idle connections wait in its cache */
        if (drive(sh, &running) != CURLM_OK)
            blocking = -1;
        while ((m = curl_multi_info_read(sh->multi, &q)) != NULL) {
            xfer *x = NULL;
            if (m->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
            if (lsz_finish(s, x, m->data.result) == 0 && blocking >= 0)
                blocking++;
        }
    }
    return blocking;
}

void lsz_pump(session *s)
{
    (void)pump(s);
}

long lsz_timeout(session *s)
{
    long best = -1;
    size_t i;
    for (i = 0; i < s->nshards; i++) {
        long ms = -1;
        if (s->shards[i]->nactive == 0)
            continue;
        curl_multi_timeout(s->shards[i]->multi, &ms);
        if (ms >= 0 && (best < 0 || ms < best))
            best = ms;
    }
    return best;
}

/* As curl_multi_poll over every shard: waits until one of their sockets is
 * ready, their nearest timer is due, or ms milliseconds passed. */
void lsz_wait(session *s, int ms)
{
    long t = lsz_timeout(s);
    size_t i, j, n = 0;
    struct pollfd *p;
    if (t >= 0 && t < ms)
        ms = (int)t;
    if (ms <= 0)
        return;
    for (i = 0; i < s->nshards; i++)
        if (s->shards[i]->nactive > 0)
            n += s->shards[i]->nsocks;
    p = n ? malloc(n * sizeof *p) : NULL;
    if (n && !p) { /* out of memory: a short sleep, then the caller drives again */
        poll(NULL, 0, ms < 10 ? ms : 10);
        return;
    }
    for (i = 0, n = 0; i < s->nshards; i++) {
        shard *sh = s->shards[i];
        if (sh->nactive == 0)
            continue;
        for (j = 0; j < sh->nsocks; j++, n++) {
            p[n].fd = sh->socks[j].fd;
            p[n].events = (short)(((sh->socks[j].what & CURL_POLL_IN) ? POLLIN : 0)
                                  | ((sh->socks[j].what & CURL_POLL_OUT) ? POLLOUT : 0));
            p[n].revents = 0;
        }
    }
    poll(p, (nfds_t)n, ms);
    free(p);
}

/* Runs n transfers (pool[0..n-1]) to completion, in parallel (with any
 * asynchronous ones in flight, which are filed as they finish). */
void lsz_run_all(session *s, size_t n)
{
    size_t i, left = 0;
    for (i = 0; i < n; i++) {
        if (s->pool[i].done)
            continue;
        s->pool[i].id = 0;
        if (lsz_add(s, &s->pool[i]) != 0) {
            s->pool[i].done = 1;
            s->pool[i].rc = CURLE_OUT_OF_MEMORY;
            continue;
        }
        left++;
    }
    while (left > 0) {
        long k = pump(s);
        if (k < 0)
            break;
        left -= (size_t)k < left ? (size_t)k : left;
        if (left > 0)
            lsz_wait(s, 1000);
    }
    for (i = 0; i < n; i++) /* anything the loop could not finish */
        if (!s->pool[i].done)
            lsz_finish(s, &s->pool[i], CURLE_RECV_ERROR);
}
