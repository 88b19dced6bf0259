/* libFuzzer: every network's reply classifier, and its request builder with
 * fuzzed input. Byte 0 picks the network, byte 1 the action and status.
 * When the rest holds a blank line ("\n\n"), the part before it is the
 * reply's HEADERS ("name: value" lines, at most 16, any bytes) and the part
 * after it the body; otherwise it is all body with fixed headers. Byte 1's
 * top bit then picks `now` from {1700000000, INT64_MIN, INT64_MAX, 0}.
 * The "upload" action (docs/media.md) takes the same bytes as its step
 * state too ({"item": {...}, "step": {...}}: any phase, id, segment, URL,
 * part ranges), with one item's bytes in blobs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "socialize.h"

/* a failure has a category and a code; retry_after is absent or in [0, 366 days] */
static void check_result(const sz_result *r)
{
    if (!r || (!sz_result_ok(r) && (!sz_result_category(r) || sz_result_code(r) == 0)) ||
        sz_result_retry_after(r) < -1 || sz_result_retry_after(r) > 31622400)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *actions[] = {"publish", "status", "notify", "graph", "session", "instance", "upload"};
    static const char blob[] = "\0\0\0\x18" "ftypmp42" "0123456789abcdef0123456789abcdef0123456789abcdef";
    sz_blob blobs[2] = {{blob, sizeof blob - 1}, {blob, 8}};
    static const int statuses[] = {200, 201, 400, 401, 403, 422, 429, 500};
    const char *const *names = sz_provider_names();
    size_t nnames = 0;
    sz_provider_call c;
    sz_header hs[3] = {{"x-rate-limit-reset", "1700000900"}, {"x-restli-id", "urn:li:share:1"},
                       {"x-ratelimit-reset", "2023-11-14T22:20:00Z"}};
    static const char user[] = "{\"token\":\"t\",\"tokenSecret\":\"s\",\"accessToken\":\"a\",\"pageId\":\"1\","
                               "\"personId\":\"p\",\"instance\":\"https://m.example\"}";
    static const char app[] = "{\"consumerKey\":\"k\",\"consumerSecret\":\"s\",\"safeDomain\":\"game.example\","
                              "\"botToken\":\"1:b\"}";
    sz_result *res;
    sz_request *r;
    sz_error err;
    if (size < 2)
        return 0;
    while (names[nnames])
        nnames++;
    memset(&c, 0, sizeof c);
    c.provider = names[data[0] % nnames];
    c.action = actions[(data[1] >> 3) % 7];
    if (strcmp(c.action, "upload") == 0) {
        c.step = (const char *)data + 2;
        c.step_len = size - 2;
        c.blobs = blobs;
        c.nblobs = 2;
    }
    c.timestamp = 1700000000;
    c.nonce = "n";
    {
        const char *rest = (const char *)data + 2, *blank = NULL;
        size_t rn = size - 2, i, nf = 0;
        static const long long nows[] = {1700000000LL, -9223372036854775807LL - 1, 9223372036854775807LL, 0};
        long long now = 1700000000;
        char *copy = NULL;
        sz_header fh[16];
        for (i = 0; i + 1 < rn; i++)
            if (rest[i] == '\n' && rest[i + 1] == '\n') {
                blank = rest + i;
                break;
            }
        if (blank) { /* header block: NUL-terminated copies of each line */
            size_t hl = (size_t)(blank - rest);
            char *line, *end;
            copy = malloc(hl + 1);
            if (!copy)
                return 0;
            memcpy(copy, rest, hl);
            copy[hl] = '\0';
            for (line = copy; line && *line && nf < 16; line = end) {
                char *colon;
                end = strchr(line, '\n');
                if (end)
                    *end++ = '\0';
                colon = strchr(line, ':');
                if (!colon)
                    continue;
                *colon = '\0';
                fh[nf].name = line;
                fh[nf].value = colon[1] == ' ' ? colon + 2 : colon + 1;
                nf++;
            }
            now = nows[(data[1] >> 6) & 3];
            res = sz_provider_parse(&c, statuses[data[1] & 7], fh, nf, blank + 2, rn - hl - 2, now, &err);
        } else {
            res = sz_provider_parse(&c, statuses[data[1] & 7], hs, 3, rest, rn, now, &err);
        }
        free(copy);
        if (res || !c.step || err.status != SZ_EINVALID) /* a step text that is no JSON object: refused */
            check_result(res);
        sz_result_free(res);
    }
    /* the same bytes as the call's input JSON text (parsed by the core) */
    c.input = (const char *)data + 2;
    c.input_len = size - 2;
    c.user = user;
    c.user_len = sizeof user - 1;
    c.app = app;
    c.app_len = sizeof app - 1;
    res = NULL;
    r = sz_provider_request(&c, &res, &err);
    if (r && strncmp(sz_request_url(r), "http", 4) != 0)
        __builtin_trap();
    if (!r && (err.status == SZ_OK || (err.status == SZ_EREFUSED) != (res != NULL)))
        __builtin_trap(); /* the contract of socialize.h */
    if (res)
        check_result(res);
    sz_request_free(r);
    sz_result_free(res);
    return 0;
}
