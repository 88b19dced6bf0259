/* The floor of target 3 (issue 15): resident memory per in-flight transfer
 * of libcurl alone, the way the transport holds one (an easy handle per
 * transfer in one multi handle, a 1 KB receive buffer, the body read in
 * place, two request headers), N POSTs at once to bench/hold_server.py,
 * measured once the server has received them all.
 *   curl_inflight URL N COUNT_FILE RELEASE_FILE */
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

int main(int argc, char **argv)
{
    static const char body[] = "apiKey=3_benchApiKey&format=json&httpStatusCodes=false&nonce=0123456789abcdef"
                               "&sdk=socialize&timestamp=1700000000&UID=user_1&userAction=%7B%22title%22%3A%22Level"
                               "%203%20done%22%2C%22linkBack%22%3A%22https%3A%2F%2Fgame.example%2Fl3%22%7D"
                               "&sig=0123456789abcdefghijklmnopq%3D";
    CURLM *m;
    CURL **e;
    struct curl_slist *hl = NULL;
    long n, i, before, during, base;
    int running = 1;
    FILE *rf;
    if (argc != 5)
        return 2;
    n = strtol(argv[2], NULL, 10);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    m = curl_multi_init();
    e = calloc((size_t)n, sizeof *e);
    hl = curl_slist_append(hl, "Content-Type: application/x-www-form-urlencoded");
    hl = curl_slist_append(hl, "Expect:");
    base = count(argv[3]);
    before = rss_kb();
    for (i = 0; i < n; i++) {
        e[i] = curl_easy_init();
        curl_easy_setopt(e[i], CURLOPT_URL, argv[1]);
        curl_easy_setopt(e[i], CURLOPT_BUFFERSIZE, 1024L);
        curl_easy_setopt(e[i], CURLOPT_HTTPHEADER, hl);
        curl_easy_setopt(e[i], CURLOPT_POSTFIELDSIZE, (long)sizeof body - 1);
        curl_easy_setopt(e[i], CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(e[i], CURLOPT_WRITEFUNCTION, sink);
        curl_easy_setopt(e[i], CURLOPT_NOSIGNAL, 1L);
        curl_multi_add_handle(m, e[i]);
    }
    for (i = 0; i < 6000 && count(argv[3]) - base < n; i++) {
        curl_multi_perform(m, &running);
        curl_multi_poll(m, NULL, 0, 10, NULL);
    }
    during = rss_kb();
    printf("libcurl alone: %ld transfers in flight (received by the server: %ld), RSS %ld -> %ld kB: %.1f kB per transfer\n",
           n, count(argv[3]) - base, before, during, (double)(during - before) / (double)n);
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
