/* The floor of target 3 (issue 15): resident memory per in-flight transfer
 * of libcurl alone, the way the transport holds one (an easy handle per
 * transfer in one multi handle, a 1 KB receive buffer, the body read in
 * place, two request headers), N POSTs at once to bench/hold_server.py,
 * measured once the server has received them all.
 *   curl_inflight URL N COUNT_FILE RELEASE_FILE [h1|h2 [CAFILE]]
 * h2: HTTP/2 multiplexed (CURLMOPT_PIPELINING = CURLPIPE_MULTIPLEX,
 * CURLOPT_PIPEWAIT = 1), by prior knowledge for an http:// URL and by ALPN
 * for https:// (bench/hold_nginx.sh serves both); h1 (the default): HTTP/1.1,
 * one connection per transfer. CAFILE: the CA for an https:// URL. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

static long rss_kb(void)
{
    char line[256];
    long v = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            v = strtol(line + 6, NULL, 10);
    fclose(f);
    return v;
}

static long count(const char *path)
{
    long n = 0;
    FILE *f = fopen(path, "r");
    if (f) {
        if (fscanf(f, "%ld", &n) != 1)
            n = 0;
        fclose(f);
    }
    return n;
}

static size_t sink(char *p, size_t s, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return s * n;
}

static const char body[] = "apiKey=3_benchApiKey&format=json&httpStatusCodes=false&nonce=0123456789abcdef"
                               "&sdk=socialize&timestamp=1700000000&UID=user_1&userAction=%7B%22title%22%3A%22Level"
                               "%203%20done%22%2C%22linkBack%22%3A%22https%3A%2F%2Fgame.example%2Fl3%22%7D"
                               "&sig=0123456789abcdefghijklmnopq%3D";

/* One transfer the way the transport sets it up. */
static CURL *setup(const char *url, struct curl_slist *hl, const char *cafile, int h2, int first)
{
    CURL *e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 1024L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)sizeof body - 1);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    if (getenv("CURL_VERBOSE"))
        curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);
    if (cafile)
        curl_easy_setopt(e, CURLOPT_CAINFO, cafile);
    if (h2) {
        /* cleartext: prior knowledge opens the connection; the transfers that
         * reuse it ask for CURL_HTTP_VERSION_2_0, since libcurl 7.88 fails a
         * prior-knowledge transfer on a reused connection ("Error in the
         * HTTP2 framing layer", curl issue 10634, fixed in 8.0) */
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, strncmp(url, "https:", 6) == 0 ? (long)CURL_HTTP_VERSION_2TLS
                                                  : first                        ? (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE
                                                                                 : (long)CURL_HTTP_VERSION_2_0);
        curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
        /* an HTTP/2 transfer sends its body through an upload buffer of
         * its own, 64 KB by default: 16 KB as the transport sets it
         * (ULBUF=65536: libcurl's default) */
        curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, getenv("ULBUF") ? strtol(getenv("ULBUF"), NULL, 10) : 16384L);
    } else {
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    }
    return e;
}

int main(int argc, char **argv)
{
    CURLM *m;
    CURL **e;
    struct curl_slist *hl = NULL;
    long n, i, before, during, base;
    int running = 1;
    FILE *rf;
    int h2;
    if (argc < 5 || argc > 7 || (argc >= 6 && strcmp(argv[5], "h1") != 0 && strcmp(argv[5], "h2") != 0))
        return 2;
    h2 = argc >= 6 && strcmp(argv[5], "h2") == 0;
    n = strtol(argv[2], NULL, 10);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    m = curl_multi_init();
    if (h2) {
        curl_multi_setopt(m, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
        /* libcurl's own cap of streams per connection (100 by default); the
         * server's SETTINGS cap it further */
        curl_multi_setopt(m, CURLMOPT_MAX_CONCURRENT_STREAMS, 100000L);
        /* at most this many connections to the host (default: no limit):
         * without it, a transfer that finds every connection full opens a
         * new one at once, before any has learnt that it multiplexes */
        if (getenv("H2_CONNS"))
            curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, strtol(getenv("H2_CONNS"), NULL, 10));
    }
    e = calloc((size_t)n, sizeof *e);
    hl = curl_slist_append(hl, "Content-Type: application/x-www-form-urlencoded");
    hl = curl_slist_append(hl, "Expect:");
    if (h2) { /* warm-up: one transfer answered, so that the connection is known to multiplex */
        CURL *w = setup(argv[1], hl, argc == 7 ? argv[6] : NULL, h2, 1);
        rf = fopen(argv[4], "w");
        if (rf)
            fclose(rf);
        curl_multi_add_handle(m, w);
        for (i = 0; i < 1000 && running; i++) {
            curl_multi_perform(m, &running);
            curl_multi_poll(m, NULL, 0, 10, NULL);
        }
        curl_multi_remove_handle(m, w);
        curl_easy_cleanup(w);
        remove(argv[4]);
        curl_multi_poll(m, NULL, 0, 300, NULL); /* the server sees the release file gone */
    }
    base = count(argv[3]);
    before = rss_kb();
    for (i = 0; i < n; i++) {
        e[i] = setup(argv[1], hl, argc == 7 ? argv[6] : NULL, h2, 0);
        curl_multi_add_handle(m, e[i]);
    }
    for (i = 0; i < 6000 && count(argv[3]) - base < n; i++) {
        curl_multi_perform(m, &running);
        curl_multi_poll(m, NULL, 0, 10, NULL);
    }
    during = rss_kb();
    printf("libcurl alone, %s: %ld transfers in flight (received by the server: %ld), RSS %ld -> %ld kB: %.1f kB per transfer\n",
           h2 ? "HTTP/2 multiplexed" : "HTTP/1.1", n, count(argv[3]) - base, before, during, (double)(during - before) / (double)n);
    fflush(stdout);
    rf = fopen(argv[4], "w");
    if (rf)
        fclose(rf);
    while (running) {
        curl_multi_perform(m, &running);
        curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    for (i = 0; i < n; i++) {
        curl_multi_remove_handle(m, e[i]);
        curl_easy_cleanup(e[i]);
    }
    free(e);
    curl_slist_free_all(hl);
    curl_multi_cleanup(m);
    curl_global_cleanup();
    return 0;
}
