/* libFuzzer: every network's reply classifier, and its request builder with
 * fuzzed input. Byte 0 picks the network, byte 1 the action and status. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "socialize.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *actions[] = {"publish", "status", "notify", "graph", "session", "instance"};
    static const int statuses[] = {200, 201, 400, 401, 403, 422, 429, 500};
    const char *const *names = sz_provider_names();
    size_t nnames = 0;
    sz_provider_call c;
    sz_header hs[3] = {{"x-rate-limit-reset", "1700000900"}, {"x-restli-id", "urn:li:share:1"},
                       {"x-ratelimit-reset", "2023-11-14T22:20:00Z"}};
    json_t *res, *in;
    sz_request *r;
    sz_error err;
    if (size < 2)
        return 0;
    while (names[nnames])
        nnames++;
    memset(&c, 0, sizeof c);
    c.provider = names[data[0] % nnames];
    c.action = actions[(data[1] >> 3) % 6];
    c.timestamp = 1700000000;
    c.nonce = "n";
    res = sz_provider_parse(&c, statuses[data[1] & 7], hs, 3, (const char *)data + 2, size - 2, 1700000000);
    if (!res || !json_is_integer(json_object_get(res, "errorCode")))
        __builtin_trap();
    json_decref(res);
    /* the same bytes as the call's input JSON */
    in = json_loadb((const char *)data + 2, size - 2, 0, NULL);
    if (json_is_object(in)) {
        json_t *user = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "token", "t", "tokenSecret", "s",
                                 "accessToken", "a", "pageId", "1", "personId", "p", "instance", "https://m.example");
        json_t *app = json_pack("{s:s, s:s, s:s, s:s}", "consumerKey", "k", "consumerSecret", "s",
                                "safeDomain", "game.example", "botToken", "1:b");
        c.input = in;
        c.user = user;
        c.app = app;
        res = NULL;
        r = sz_provider_request(&c, &res, &err);
        if (r && strncmp(sz_request_url(r), "http", 4) != 0)
            __builtin_trap();
        sz_request_free(r);
        json_decref(res);
        json_decref(user);
        json_decref(app);
    }
    json_decref(in);
    return 0;
}
