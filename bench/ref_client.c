/* The practical ceiling for a Gigya client: plain C with one reused libcurl
 * handle (keep-alive), OpenSSL HMAC-SHA1 and jansson, doing exactly what a
 * signed publishUserAction needs: build the parameters, the base string and
 * the signature, POST the form, parse the JSON reply. The request is the one of
 * bench/request.lua: ten signed parameters and the 509-byte userAction of
 * bench/user_action.json, sent as that string (mode "string": used as is, not
 * checked) or dumped per call from a jansson object of the same content built
 * once (mode "table": json_dumps with sorted keys, as the library's canonical
 * JSON). One warm-up call precedes the N counted ones.
 *
 *   ref_client URL CALLS [string|table]   N sequential calls, prints calls/s
 *   ref_client --sign CALLS               build + sign only (query, base string,
 *                                         HMAC-SHA1, body), prints ops/s
 *   ref_client --sigonly CALLS            base string + HMAC-SHA1 only      */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

static const char *SECRET_B64 = "c29jaWFsaXplLXJlZmVyZW5jZS1zZWNyZXQtMDAwMQ==";
static char *UA_JSON;    /* bench/user_action.json */
static json_t *UA_TABLE; /* the same content as an object (mode "table") */
static int TABLE_MODE;

typedef struct { char *k, *v; } kv;
typedef struct { char *p; size_t n, cap; } buf;

static void put(buf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void enc(buf *b, const char *s)
{
    static const char H[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
            c == '_' || c == '.' || c == '~') {
            put(b, (const char *)&c, 1);
        } else {
            char e[3] = {'%', H[c >> 4], H[c & 15]};
            put(b, e, 3);
        }
    }
}

static int cmp(const void *a, const void *b) { return strcmp(((const kv *)a)->k, ((const kv *)b)->k); }

static size_t sink(char *p, size_t s, size_t n, void *ud)
{
    put(ud, p, s * n);
    return s * n;
}

/* builds the signed body for one call into body (sign_only: the signature alone) */
static void build(const char *url, unsigned char *key, int klen, long long ts, unsigned long nonce, buf *body,
                  int sign_only)
{
    char tsb[32], nb[48];
    char *uas = TABLE_MODE ? json_dumps(UA_TABLE, JSON_COMPACT | JSON_SORT_KEYS) : UA_JSON;
    kv p[10];
    buf qs = {0}, base = {0};
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mlen;
    unsigned char b64[64];
    size_t i;
    snprintf(tsb, sizeof tsb, "%lld", ts);
    snprintf(nb, sizeof nb, "%lld_%lu", ts * 1000, nonce);
    p[0] = (kv){"UID", "user_123"};
    p[1] = (kv){"apiKey", "3_benchApiKey"};
    p[2] = (kv){"format", "json"};
    p[3] = (kv){"httpStatusCodes", "false"};
    p[4] = (kv){"nonce", nb};
    p[5] = (kv){"sdk", "c_reference"};
    p[6] = (kv){"timestamp", tsb};
    p[7] = (kv){"userAction", uas};
    p[8] = (kv){"cid", "bench-campaign"};
    p[9] = (kv){"shortURLs", "never"};
    qsort(p, 10, sizeof *p, cmp);
    for (i = 0; i < 10; i++) {
        if (i)
            put(&qs, "&", 1);
        put(&qs, p[i].k, strlen(p[i].k));
        put(&qs, "=", 1);
        enc(&qs, p[i].v);
    }
    put(&base, "POST&", 5);
    enc(&base, url);
    put(&base, "&", 1);
    enc(&base, qs.p);
    HMAC(EVP_sha1(), key, klen, (unsigned char *)base.p, base.n, mac, &mlen);
    EVP_EncodeBlock(b64, mac, (int)mlen);
    body->n = 0;
    if (sign_only) {
        put(body, (char *)b64, strlen((char *)b64));
    } else {
        put(body, qs.p, qs.n);
        put(body, "&sig=", 5);
        enc(body, (char *)b64);
    }
    free(qs.p);
    free(base.p);
    if (TABLE_MODE)
        free(uas);
}

static void load_user_action(void)
{
    const char *root = getenv("SOCIALIZE_ROOT");
    char path[4096];
    FILE *f;
    long n;
    snprintf(path, sizeof path, "%s/bench/user_action.json", root ? root : ".");
    f = fopen(path, "rb");
    if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "ref_client: cannot read %s\n", path);
        exit(2);
    }
    UA_JSON = calloc(1, (size_t)n + 1);
    if (!UA_JSON || fread(UA_JSON, 1, (size_t)n, f) != (size_t)n)
        exit(2);
    fclose(f);
    UA_TABLE = json_loads(UA_JSON, 0, NULL);
    if (!UA_TABLE)
        exit(2);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    unsigned char key[64];
    int klen = EVP_DecodeBlock(key, (const unsigned char *)SECRET_B64, (int)strlen(SECRET_B64)) - 2;
    long n = argc > 2 ? atol(argv[2]) : 1000, i;
    buf body = {0}, reply = {0};
    double t0;
    if (argc < 2)
        return 2;
    load_user_action();
    TABLE_MODE = argc > 3 && strcmp(argv[3], "table") == 0;
    if (strcmp(argv[1], "--sign") == 0 || strcmp(argv[1], "--sigonly") == 0) {
        int only = strcmp(argv[1], "--sigonly") == 0;
        t0 = now();
        for (i = 0; i < n; i++)
            build("http://127.0.0.1/socialize.publishUserAction", key, klen, 1700000000, (unsigned long)i, &body,
                  only);
        printf("%.0f\n", n / (now() - t0));
        free(body.p);
        return 0;
    } else {
        CURL *c = curl_easy_init();
        struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/x-www-form-urlencoded");
        long ok = 0;
        t0 = 0;
        for (i = -1; i < n; i++) { /* i = -1: the warm-up call, not counted */
            json_t *j;
            if (i == 0)
                t0 = now();
            build(argv[1], key, klen, (long long)time(NULL), (unsigned long)rand(), &body, 0);
            reply.n = 0;
            curl_easy_setopt(c, CURLOPT_URL, argv[1]);
            curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.p);
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body.n);
            curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
            curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply);
            if (curl_easy_perform(c) != CURLE_OK)
                continue;
            j = json_loadb(reply.p, reply.n, 0, NULL);
            if (i >= 0 && json_integer_value(json_object_get(j, "errorCode")) == 0)
                ok++;
            json_decref(j);
        }
        printf("%.0f %ld\n", n / (now() - t0), ok);
        curl_slist_free_all(h);
        curl_easy_cleanup(c);
    }
    free(body.p);
    free(reply.p);
    json_decref(UA_TABLE);
    free(UA_JSON);
    return 0;
}
