/* C unit tests: fuzzer regressions, saturation, NUL bytes, allocation
 * failures (cstrict). Run from test_core.c (main). */
#include <malloc.h>
#include "test_util.h"

/* Inputs the fuzzers found (fuzz/): each once crashed, leaked or overflowed. */
void test_fuzz_regressions(void)
{
    const char *bodies[] = {"{\"errorCode\":{\"facebook\":\"1_2\"}}", "{\"errorCode\":\"abc\"}", "{\"errorCode\":1e300}", "{\"errorCode\":-9223372036854775807}",
                            "{\"errorCode\":\"99999999999\"}", "{\"a\":\"\\u0" "\xc9\x9a" "9\"}"};
    size_t i;
    for (i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        sz_error err;
        sz_response *r = sz_response_parse(bodies[i], strlen(bodies[i]), 200, &err);
        const char *d;
        CHECK(r != NULL, "regression body %zu parses to a response", i);
        if (!r)
            continue;
        CHECK(json_is_integer(json_object_get(sz_response_root(r), "errorCode")), "errorCode is a number (%zu)", i);
        d = sz_response_string(r, "errorDetails");
        if (d) {
            const char *p;
            for (p = d; *p; p++)
                CHECK((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f, "details are printable ASCII");
        }
        sz_response_free(r);
    }
    {
        /* a missing credential after the endpoint was resolved: no leak (LSan) */
        const char *provs[] = {"facebook", "linkedin", "vkontakte", "sina", "telegram", "bluesky", "mastodon"};
        json_t *in = json_pack("{s:{}}", "userAction"), *empty = json_object(), *res;
        for (i = 0; i < sizeof provs / sizeof provs[0]; i++) {
            sz_call_json c;
            sz_error err;
            memset(&c, 0, sizeof c);
            c.provider = provs[i];
            c.action = strcmp(provs[i], "bluesky") == 0 ? "session" : "publish";
            c.input = in;
            c.app = empty;
            c.user = empty;
            res = NULL;
            CHECK(sz_provider_request_json(&c, &res, &err) == NULL && res, "%s without credentials", provs[i]);
            json_decref(res);
        }
        /* an empty userAction on a network that joins text parts */
        {
            json_t *u = json_pack("{s:s, s:s}", "accessToken", "t", "instance", "https://m.example");
            sz_call_json c;
            sz_error err;
            sz_request *r;
            memset(&c, 0, sizeof c);
            c.provider = "mastodon";
            c.action = "publish";
            c.input = in;
            c.app = empty;
            c.user = u;
            res = NULL;
            r = sz_provider_request_json(&c, &res, &err);
            CHECK(r == NULL && res, "mastodon with nothing to post is refused");
            sz_request_free(r);
            json_decref(res);
            json_decref(u);
        }
        json_decref(in);
        json_decref(empty);
    }
}

/* ---- cstrict: saturation, NUL, allocation failures (issue 9 items 2, 6, 7) ---- */

long long sz_sat_add(long long a, long long b);
long long sz_sat_sub(long long a, long long b);
long long sz_sat_mul(long long a, long long b);
long long sz_sat_from_double(double d);
int sz_parse_uint(const char *s, long long *out);

/* The allocator hook compiled into the core for test_core only
 * (-DSZ_TEST_FAIL_ALLOC): with fail_at >= 0, the fail_at-th allocation
 * (counting from 0) returns NULL, every other one succeeds. */
static long fail_at = -1, alloc_count;

static int alloc_fails(void)
{
    return fail_at >= 0 && alloc_count++ == fail_at;
}
void *sz_test_malloc(size_t n) { return alloc_fails() ? NULL : malloc(n); }
void *sz_test_calloc(size_t n, size_t m) { return alloc_fails() ? NULL : calloc(n, m); }
void *sz_test_realloc(void *p, size_t n) { return alloc_fails() ? NULL : realloc(p, n); }

/* test_wiping: while wipe_markers is set, a block freed by the core (or by
 * jansson when its allocator is hooked) that still holds one of them is
 * counted. */
static const char *const *wipe_markers;
static long wipe_left;
void sz_test_free(void *p)
{
    size_t i, n;
    if (p && wipe_markers) {
        n = malloc_usable_size(p);
        for (i = 0; wipe_markers[i]; i++)
            if (memmem(p, n, wipe_markers[i], strlen(wipe_markers[i]))) {
                wipe_left++;
                if (getenv("SZ_DEBUG"))
                    fprintf(stderr, "freed unwiped (%zu bytes): %.*s\n", n, (int)(n < 120 ? n : 120), (char *)p);
                break;
            }
    }
    free(p);
}

void test_cstrict_saturation(void)
{
    static const char *hostile[] = {"-9223372036854775808", "9223372036854775807", "99999999999999999999999",
                                    "-5", "+5", "  1700000900 ", "1e400", "abc", "", "0x10", "17000009.5"};
    static const char *nets[][3] = {{"twitter", "x-rate-limit-reset", "{\"title\":\"Too Many Requests\"}"},
                                    {"bluesky", "ratelimit-reset", "{\"error\":\"RateLimitExceeded\"}"},
                                    {"mastodon", "x-ratelimit-reset", "{\"error\":\"slow\"}"}};
    static const long long nows[] = {1700000000LL, 0, -9223372036854775807LL - 1, 9223372036854775807LL};
    sz_call_json c;
    size_t i, n, k;
    long long v;
    json_t *r;
    volatile double zero = 0.0, big = 1e308;
    CHECK(sz_sat_sub(-9223372036854775807LL - 1, 1700000000) == -9223372036854775807LL - 1, "sat_sub min");
    CHECK(sz_sat_sub(9223372036854775807LL, -1) == 9223372036854775807LL, "sat_sub max");
    CHECK(sz_sat_mul(9223372036854775807LL, 60) == 9223372036854775807LL, "sat_mul max");
    CHECK(sz_sat_mul(-9223372036854775807LL, 60) == -9223372036854775807LL - 1, "sat_mul min");
    CHECK(sz_sat_mul(-3, -4) == 12 && sz_sat_mul(-3, 4) == -12 && sz_sat_add(2, 3) == 5, "sat small");
    CHECK(sz_sat_from_double(zero / zero) == 0 && sz_sat_from_double(big * 10) == 9223372036854775807LL &&
              sz_sat_from_double(-big * 10) == -9223372036854775807LL - 1 && sz_sat_from_double(1.5) == 1,
          "sat_from_double");
    CHECK(sz_parse_uint(" 42\t", &v) == 0 && v == 42, "parse_uint spaces");
    CHECK(sz_parse_uint("99999999999999999999999", &v) == 0 && v == 9223372036854775807LL, "parse_uint saturates");
    CHECK(sz_parse_uint("+5", &v) == -1 && sz_parse_uint("-5", &v) == -1 && sz_parse_uint("", &v) == -1 &&
              sz_parse_uint("1e3", &v) == -1 && sz_parse_uint(NULL, &v) == -1,
          "parse_uint refuses");
    memset(&c, 0, sizeof c);
    c.action = "publish";
    for (n = 0; n < 3; n++)
        for (i = 0; i < sizeof hostile / sizeof *hostile; i++)
            for (k = 0; k < 4; k++) {
                sz_header h = {nets[n][1], hostile[i]};
                json_t *ra;
                c.provider = nets[n][0];
                r = sz_provider_parse_json(&c, 429, &h, 1, nets[n][2], strlen(nets[n][2]), nows[k]);
                ra = json_object_get(r, "retryAfter");
                CHECK(!ra || (json_integer_value(ra) >= 0 && json_integer_value(ra) <= 31622400),
                      "%s %s now=%lld: retryAfter %lld", nets[n][0], hostile[i], nows[k],
                      (long long)json_integer_value(ra));
                json_decref(r);
            }
    {
        sz_header h = {"x-business-use-case-usage", "{\"1\":[{\"estimated_time_to_regain_access\":9223372036854775807}]}"};
        const char *b = "{\"error\":{\"code\":80001}}";
        c.provider = "facebook";
        r = sz_provider_parse_json(&c, 400, &h, 1, b, strlen(b), 1700000000);
        CHECK(json_integer_value(json_object_get(r, "retryAfter")) == 31622400, "facebook minutes saturate");
        json_decref(r);
    }
    {
        const char *b = "{\"ok\":false,\"error_code\":-9223372036854775808,\"parameters\":{\"retry_after\":9223372036854775807}}";
        c.provider = "telegram";
        r = sz_provider_parse_json(&c, 429, NULL, 0, b, strlen(b), 0);
        CHECK(json_integer_value(json_object_get(r, "retryAfter")) == 31622400, "telegram retry_after capped");
        json_decref(r);
        b = "{\"error_code\":\"99999999999999999999\",\"error\":\"x\"}";
        c.provider = "sina";
        r = sz_provider_parse_json(&c, 400, NULL, 0, b, strlen(b), 0);
        CHECK(json_is_false(json_object_get(r, "ok")), "sina huge string code");
        json_decref(r);
        c.provider = "linkedin";
        r = sz_provider_parse_json(&c, 429, NULL, 0, "{}", 2, -9223372036854775807LL - 1);
        CHECK(json_integer_value(json_object_get(r, "retryAfter")) > 0, "linkedin now=INT64_MIN");
        json_decref(r);
    }
    {
        /* an instance's INT64 limits: the defaults stay */
        json_t *in = json_pack("{s:s, s:{s:I, s:I}}", "status", "hi https://game.example/x", "limits",
                               "maxCharacters", (json_int_t)9223372036854775807LL, "charactersReservedPerUrl",
                               (json_int_t)9223372036854775807LL);
        json_t *user = json_pack("{s:s, s:s}", "instance", "https://m.example", "accessToken", "a"), *res = NULL;
        sz_request *rq;
        sz_error err;
        c.provider = "mastodon";
        c.action = "status";
        c.input = in;
        c.user = user;
        rq = sz_provider_request_json(&c, &res, &err);
        CHECK(rq != NULL, "mastodon with INT64_MAX limits builds");
        sz_request_free(rq);
        json_decref(res);
        json_object_set_new(json_object_get(in, "limits"), "charactersReservedPerUrl",
                            json_integer(-9223372036854775807LL - 1));
        rq = sz_provider_request_json(&c, &res, &err);
        CHECK(rq != NULL, "mastodon with INT64_MIN url weight builds");
        sz_request_free(rq);
        json_decref(in);
        json_decref(user);
        c.input = c.user = NULL;
    }
    /* validators: |now - timestamp| never overflows */
    {
        char sig[29];
        sz_error err;
        const char *ts = "-999999999999999999";
        char *s = sz_sign(SECRET, "-999999999999999999_u", 21, &err);
        CHECK(s != NULL, "sign");
        snprintf(sig, sizeof sig, "%s", s ? s : "");
        sz_free(s);
        CHECK(sz_validate_user_signature("u", ts, SECRET, sig, -1, 0) == 1, "sig without window");
        CHECK(sz_validate_user_signature("u", ts, SECRET, sig, 100, 9223372036854775807LL) == 0,
              "now INT64_MAX, ts -1e18: outside, no overflow");
    }
    /* a call without an action is classified, never dereferenced */
    c.provider = "twitter";
    c.action = NULL;
    r = sz_provider_parse_json(&c, 200, NULL, 0, "{}", 2, 0);
    CHECK(r && json_is_false(json_object_get(r, "ok")), "parse without action fails cleanly");
    json_decref(r);
}

void test_cstrict_nul_inputs(void)
{
    /* a credential or text with NUL inside is refused (400006), never cut */
    static const char *cases[][3] = {{"telegram", "app", "botToken"},   {"facebook", "user", "accessToken"},
                                     {"twitter", "app", "consumerSecret"}, {"linkedin", "user", "accessToken"},
                                     {"mastodon", "user", "instance"},  {"vkontakte", "user", "accessToken"},
                                     {"sina", "user", "accessToken"},   {"bluesky", "user", "appPassword"}};
    size_t i;
    for (i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *app = json_pack("{s:s, s:s, s:s, s:s}", "consumerKey", "k", "consumerSecret", "s", "botToken", "1:b",
                                "safeDomain", "game.example");
        json_t *user = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "token", "t", "tokenSecret", "s",
                                 "accessToken", "a", "pageId", "1", "personId", "p", "instance", "https://m.example",
                                 "chatId", "5", "ownerId", "1");
        json_t *in = json_pack("{s:s, s:s}", "status", "hi https://game.example/x", "rip", "1.2.3.4"), *res = NULL;
        sz_call_json c;
        sz_request *r;
        sz_error err;
        json_object_set_new(user, "identifier", json_string("i"));
        json_object_set_new(strcmp(cases[i][1], "app") == 0 ? app : user, cases[i][2],
                            json_stringn("secret\0evil", 11));
        memset(&c, 0, sizeof c);
        c.provider = cases[i][0];
        c.action = strcmp(cases[i][0], "bluesky") == 0 ? "session" : "status";
        c.input = in;
        c.app = app;
        c.user = user;
        c.nonce = "n";
        r = sz_provider_request_json(&c, &res, &err);
        CHECK(r == NULL && json_integer_value(json_object_get(res, "errorCode")) == 400006 &&
                  strstr(json_string_value(json_object_get(res, "errorDetails")), cases[i][2]),
              "%s: NUL in %s refused", cases[i][0], cases[i][2]);
        sz_request_free(r);
        json_decref(res);
        json_decref(in);
        json_decref(app);
        json_decref(user);
    }
}

static int same_request(const sz_request *a, const sz_request *b)
{
    size_t i, al, bl;
    const char *ab = sz_request_body(a, &al), *bb = sz_request_body(b, &bl);
    if (strcmp(sz_request_method(a), sz_request_method(b)) || strcmp(sz_request_url(a), sz_request_url(b)) ||
        (!ab) != (!bb) || (ab && (al != bl || memcmp(ab, bb, al))) ||
        sz_request_header_count(a) != sz_request_header_count(b))
        return 0;
    for (i = 0; i < sz_request_header_count(a); i++) {
        const char *an, *av, *bn, *bv;
        sz_request_header(a, i, &an, &av);
        sz_request_header(b, i, &bn, &bv);
        if (strcmp(an, bn) || strcmp(av, bv))
            return 0;
    }
    return 1;
}

/* Every allocation of every network's build is failed in turn: the result is
 * the complete request or no request at all (never one without its
 * Authorization, access_token or bot token); ASan/LSan check the rest. */
void test_alloc_failures(void)
{
    const char *const *names = sz_provider_names();
    static const char *actions[] = {"publish", "status", "graph", "session", "instance"};
    json_t *in = json_pack("{s:{s:s, s:s, s:s, s:s}, s:s, s:s, s:{s:f, s:f, s:s}, s:{s:s, s:s},"
                           " s:s, s:s, s:{s:s, s:i}}",
                           "userAction", "title", "T\xc3\xa9st", "linkBack", "https://game.example/x",
                           "userMessage", "msg https://game.example/m", "description", "d",
                           "status", "status https://game.example/s", "rip", "1.2.3.4",
                           "userLocation", "latitude", 1.5, "longitude", 2.5, "placeID", "p",
                           "session", "accessJwt", "a", "did", "did:plc:x",
                           "graphPath", "/me/feed", "method", "GET", "graphParams", "fields", "id", "limit", 5);
    json_t *app = json_pack("{s:s, s:s, s:s, s:s, s:s}", "consumerKey", "ck", "consumerSecret", "cs",
                            "appSecret", "as", "safeDomain", "game.example", "botToken", "1:b");
    json_t *user = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:s}", "token", "t",
                             "tokenSecret", "ts", "accessToken", "at", "pageId", "9", "personId", "p",
                             "userId", 7, "instance", "https://m.example", "identifier", "i",
                             "appPassword", "pw", "chatId", "-1");
    size_t n, a;
    long runs = 0, fails = 0;
    for (n = 0; names[n]; n++)
        for (a = 0; a < sizeof actions / sizeof *actions; a++) {
            sz_call_json c;
            sz_request *ref, *r;
            json_t *res = NULL;
            sz_error err;
            long k;
            memset(&c, 0, sizeof c);
            c.provider = names[n];
            c.action = actions[a];
            c.input = in;
            c.app = app;
            c.user = user;
            c.timestamp = 1700000000;
            c.nonce = "n1";
            c.setup = json_object_get(in, "session"); /* Bluesky's session; other networks ignore it */
            ref = sz_provider_request_json(&c, &res, &err);
            json_decref(res);
            if (!ref)
                continue;
            json_set_alloc_funcs(sz_test_malloc, free);
            for (k = 0;; k++) {
                int injected;
                res = NULL;
                memset(&err, 0, sizeof err);
                fail_at = k;
                alloc_count = 0;
                r = sz_provider_request_json(&c, &res, &err);
                injected = alloc_count > k;
                fail_at = -1;
                runs++;
                if (r) {
                    if (getenv("SZ_DEBUG") && !same_request(r, ref)) {
                        size_t q, bl;
                        const char *hn, *hv, *bd = sz_request_body(r, &bl);
                        fprintf(stderr, "URL %s\nBODY %.*s\n", sz_request_url(r), (int)bl, bd ? bd : "");
                        for (q = 0; q < sz_request_header_count(r); q++) {
                            sz_request_header(r, q, &hn, &hv);
                            fprintf(stderr, "H %s: %s\n", hn, hv);
                        }
                    }
                    CHECK(same_request(r, ref), "%s %s: allocation %ld failed, yet a different request was built",
                          names[n], actions[a], k);
                } else {
                    fails++;
                    CHECK(err.status == SZ_ENOMEM ? !res && err.code == 500000
                                                  : err.status == SZ_EREFUSED && res &&
                                                        json_is_false(json_object_get(res, "ok")) &&
                                                        err.code == json_integer_value(json_object_get(res, "errorCode")),
                          "%s %s: allocation %ld failed without a clean failure (status %d)", names[n], actions[a],
                          k, (int)err.status);
                }
                sz_request_free(r);
                json_decref(res);
                if (!injected)
                    break;
            }
            json_set_alloc_funcs(malloc, free);
            CHECK(k > 3, "%s %s: the allocations were counted (%ld)", names[n], actions[a], k);
            sz_request_free(ref);
        }
    CHECK(runs > 100 && fails > 50, "allocation failures injected: %ld runs, %ld failed", runs, fails);
    json_decref(in);
    json_decref(app);
    json_decref(user);
}


/* The wiping policy (socialize.h "Credentials in memory"): every block the
 * core frees, and every jansson node of a tree it releases, is checked for
 * the marked credentials; none may still hold one. Each flow is one that
 * once left a copy: the decoded secret of auth "secret", the OAuth 1.0a key
 * with the URL-encoded secrets, the bearer buffer, the JWT, the parameter
 * sets and requests, the trees of the provider calls. */
void test_wiping(void)
{
    static const char *const markers[] = {"WIPEME7Q", "PLAINMARK", NULL};
    /* a Base64 secret whose text and whose decoded bytes are both marked */
    const char *secret = "UExBSU5NQVJLLVdJUEVNRTdR"; /* "PLAINMARK-WIPEME7Q" */
    static const char *const actions[][2] = {{"twitter", "publish"}, {"telegram", "status"}, {"bluesky", "session"},
                                             {"bluesky", "publish"}, {"mastodon", "status"}, {"linkedin", "status"},
                                             {"facebook", "graph"}, {"facebook", "status"}, {"vkontakte", "status"},
                                             {"sina", "status"}, {"threads", "status"}};
    sz_request_opts o;
    sz_params *p;
    sz_request *r;
    sz_error err;
    size_t i;
    int mode;
    json_t *in, *app, *user, *user2, *sess, *res;
    json_set_alloc_funcs(sz_test_malloc, sz_test_free);
    in = json_pack("{s:s, s:s, s:{s:s, s:s}, s:s, s:s, s:{s:s}}", "status", "hi https://game.example/x", "rip", "1.2.3.4", "userAction",
                   "title", "t", "linkBack", "https://game.example/l", "graphPath", "/me/feed", "method", "GET",
                   "graphParams", "message", "m");
    app = json_pack("{s:s, s:s, s:s, s:s, s:s}", "consumerKey", "ck", "consumerSecret", "cs-WIPEME7Q", "appSecret",
                    "as-WIPEME7Q", "botToken", "1:WIPEME7Q", "safeDomain", "game.example");
    user = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "token", "t-WIPEME7Q", "tokenSecret",
                     "ts-WIPEME7Q", "accessToken", "at-WIPEME7Q", "pageId", "9", "personId", "p", "userId", "7",
                     "instance", "https://m.example", "identifier", "i", "appPassword", "pw-WIPEME7Q", "chatId", "-1");
    user2 = json_pack("{s:s}", "bearerToken", "bt-WIPEME7Q");
    sess = json_pack("{s:s, s:s}", "accessJwt", "jwt-WIPEME7Q", "did", "did:plc:x");
    wipe_markers = markers;
    wipe_left = 0;
    /* Gigya requests in every mode that carries a secret or a token */
    for (mode = 0; mode < 4; mode++) {
        p = sz_params_new();
        sz_params_set(p, "status", 6, "PLAINMARK", 9);
        memset(&o, 0, sizeof o);
        o.api_method = "socialize.setStatus";
        o.auth = mode == 0 ? SZ_AUTH_SIGNED : mode == 1 ? SZ_AUTH_SECRET : SZ_AUTH_OAUTH2;
        o.api_key = "k";
        o.secret = secret;
        o.access_token = "WIPEME7Q";
        o.nonce = "n";
        o.timestamp = 1700000000;
        if (mode == 3)
            sz_params_set(p, "status", 6, "x", 1); /* replaced: the old value is zeroed */
        r = sz_request_build(&o, p, &err);
        CHECK(r != NULL, "gigya mode %d builds: %s", mode, err.message);
        sz_request_free(r);
        sz_params_free(p);
    }
    {
        char *s = sz_sign(secret, "m", 1, &err), *q;
        sz_error e2;
        unsigned char *d;
        size_t dl;
        CHECK(s != NULL, "sign");
        free(s); /* a signature: the test's own free, not checked */
        CHECK(sz_base64_decode("UExBSU5NQVJL!!", 14, "s", &d, &dl, &e2) != 0, "a bad secret after decoding began");
        q = sz_oauth1_authorization("POST", "https://api.x.com/2/tweets", "ck", "cs-WIPEME7Q", "t", "ts-WIPEME7Q", 1,
                                    "n", &err);
        CHECK(q != NULL, "oauth1");
        free(q);
    }
    /* every network's build, with credentials marked */
    for (i = 0; i < sizeof actions / sizeof *actions; i++) {
        sz_call_json c;
        int k;
        for (k = 0; k < 2; k++) { /* k = 1: twitter with a bearer token */
            if (k && strcmp(actions[i][0], "twitter") != 0)
                continue;
            memset(&c, 0, sizeof c);
            c.provider = actions[i][0];
            c.action = actions[i][1];
            c.input = in;
            c.app = app;
            c.user = k ? user2 : user;
            c.setup = strcmp(actions[i][0], "bluesky") == 0 ? sess : NULL;
            c.timestamp = 1700000000;
            c.nonce = "n";
            res = NULL;
            r = sz_provider_request_json(&c, &res, &err);
            CHECK(r != NULL, "%s %s builds: %s", actions[i][0], actions[i][1], err.message);
            sz_request_free(r);
            sz_json_free(res);
        }
    }
    sz_json_free(in);
    sz_json_free(app);
    sz_json_free(user);
    sz_json_free(user2);
    sz_json_free(sess);
    wipe_markers = NULL;
    json_set_alloc_funcs(malloc, free);
    CHECK(wipe_left == 0, "%ld freed blocks still held a credential (SZ_DEBUG=1 shows them)", wipe_left);
}

/* The JSON writer under every allocation failure: the exact text or a
 * refusal with 500000 ("out of memory"), never a wrong text. */
void test_json_alloc_failures(void)
{
    static const char want[] = "{\"a\":[1,\"x\\u0001\",null,true,1.5],\"b\":{\"c\":{}}}";
    long k, fails = 0;
    for (k = 0;; k++) {
        sz_json_writer *w;
        const char *t;
        size_t len;
        int injected, rc = 0;
        sz_error err;
        memset(&err, 0, sizeof err);
        fail_at = k;
        alloc_count = 0;
        w = sz_json_writer_new();
        if (w) {
            rc |= sz_json_begin_object(w);
            rc |= sz_json_key(w, "a", 1);
            rc |= sz_json_begin_array(w);
            rc |= sz_json_integer(w, 1);
            rc |= sz_json_string(w, "x\x01", 2);
            rc |= sz_json_null(w);
            rc |= sz_json_bool(w, 1);
            rc |= sz_json_number(w, 1.5);
            rc |= sz_json_end_array(w);
            rc |= sz_json_key(w, "b", 1);
            rc |= sz_json_begin_object(w);
            rc |= sz_json_key(w, "c", 1);
            rc |= sz_json_begin_object(w);
            rc |= sz_json_end_object(w);
            rc |= sz_json_end_object(w);
            rc |= sz_json_end_object(w);
        }
        injected = alloc_count > k;
        fail_at = -1;
        t = w ? sz_json_writer_text(w, &len, &err) : NULL;
        if (t)
            CHECK(rc == 0 && len == strlen(want) && strcmp(t, want) == 0,
                  "allocation %ld failed, yet text %s", k, t);
        else {
            fails++;
            CHECK(!w || (rc == SZ_ENOMEM && err.status == SZ_ENOMEM && err.code == SZ_GIGYA_INTERNAL),
                  "allocation %ld failed: rc %d, code %d", k, rc, err.code);
        }
        sz_json_writer_free(w);
        if (!injected)
            break;
    }
    CHECK(k >= 3 && fails >= 3, "allocations counted (%ld) and failed (%ld)", k, fails);
}

/* HTTP Date headers (the front's clock offset) are read by the core's one
 * civil-date arithmetic; everything that is not an IMF-fixdate is -1. */
void test_http_date(void)
{
    static const struct {
        const char *s;
        long long want;
    } rows[] = {
        {"Sun, 06 Nov 1994 08:49:37 GMT", 784111777},
        {"Sun, 6 Nov 1994 08:49:37 GMT", 784111777},
        {"sun, 06 NOV 1994 08:49:37 GMT", 784111777},
        {"Thu, 29 Feb 2024 00:00:00 GMT", 1709164800},
        {"Thu, 01 Jan 1970 00:00:00 GMT", 0},
        {"Fri, 31 Dec 9999 23:59:60 GMT", 253402300800LL},
        {"Sun, 06 Nov 1994 08:49:37 UTC", -1},
        {"06 Nov 1994 08:49:37 GMT", -1},
        {"Sun, 006 Nov 1994 08:49:37 GMT", -1},
        {"Sun, 06 Xyz 1994 08:49:37 GMT", -1},
        {"Sun, 06 Nov 1994 24:00:00 GMT", -1},
        {"Sun, 00 Nov 1994 08:49:37 GMT", -1},
        {"Sun, 06 Nov 94 08:49:37 GMT", -1},
        {"Sun, 06 Nov 1994 08:49:37 GMT ", -1},
        {"Sun,06 Nov 1994 08:49:37 GMT", -1},
        {"", -1},
    };
    size_t i;
    for (i = 0; i < sizeof rows / sizeof rows[0]; i++)
        CHECK(sz_parse_http_date(rows[i].s, strlen(rows[i].s)) == rows[i].want, "'%s' -> %lld", rows[i].s,
              sz_parse_http_date(rows[i].s, strlen(rows[i].s)));
    CHECK(sz_parse_http_date(NULL, 0) == -1, "NULL");
    /* the length is the string's: a NUL inside is not an end */
    CHECK(sz_parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT\0x", 31) == -1, "a NUL and more after it");
    CHECK(sz_parse_http_date("Sun, 06 Nov 1994 08:49:37 GMTxx", 28) == -1, "cut short by the length");
}

/* sz_oauth.c: every allocation failure in a request or a reply gives a clean
 * failure (NULL: out of memory, or a refusal), never a crash, a leak or a
 * different request; a success is the whole result (a refreshToken or a
 * missingScopes lost under memory pressure would keep a spent token or
 * accept a narrow grant). Then the secrets it handled are wiped when freed. */
void test_oauth_hard(void)
{
    static const char *nets[] = {"twitter", "linkedin"};
    static const char *ops[] = {"authorize", "token", "refresh", "identity", "revoke"};
    static const char *reply = "{\"token_type\":\"bearer\",\"access_token\":\"AT-WIPEME7Q\",\"expires_in\":7200,"
                               "\"refresh_token\":\"RT-WIPEME7Q\",\"scope\":\"tweet.write users.read\"}";
    static const char *const markers[] = {"WIPEME7Q", NULL};
    json_t *app = json_pack("{s:s, s:s}", "clientId", "cid", "clientSecret", "cs-WIPEME7Q");
    json_t *args = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "redirectURI", "https://a.example/cb",
                             "state", "st", "challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "code", "c",
                             "verifier", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "refreshToken",
                             "rt-WIPEME7Q", "accessToken", "at-WIPEME7Q", "token", "tk-WIPEME7Q", "scopes",
                             "tweet.write users.read offline.access");
    size_t n, o;
    long k, runs = 0;
    for (n = 0; n < 2; n++)
        for (o = 0; o < sizeof ops / sizeof *ops; o++) {
            json_t *res = NULL;
            sz_request *ref = sz_oauth_request_json(nets[n], ops[o], app, args, &res), *r;
            CHECK(ref != NULL, "%s %s builds", nets[n], ops[o]);
            json_decref(res);
            if (!ref)
                continue;
            json_set_alloc_funcs(sz_test_malloc, free);
            for (k = 0;; k++) {
                int injected;
                res = NULL;
                fail_at = k;
                alloc_count = 0;
                r = sz_oauth_request_json(nets[n], ops[o], app, args, &res);
                injected = alloc_count > k;
                fail_at = -1;
                runs++;
                if (r)
                    CHECK(same_request(r, ref), "%s %s: allocation %ld failed, yet another request", nets[n],
                          ops[o], k);
                else
                    CHECK(!res || json_is_false(json_object_get(res, "ok")),
                          "%s %s: allocation %ld failed without a clean failure", nets[n], ops[o], k);
                sz_request_free(r);
                json_decref(res);
                if (!injected)
                    break;
            }
            json_set_alloc_funcs(malloc, free);
            sz_request_free(ref);
        }
    json_set_alloc_funcs(sz_test_malloc, free);
    for (k = 0;; k++) {
        json_t *r;
        int injected;
        fail_at = k;
        alloc_count = 0;
        r = sz_oauth_parse_json("twitter", "refresh", 200, reply, strlen(reply), 1700000000, args);
        injected = alloc_count > k;
        fail_at = -1;
        runs++;
        /* OOM while reading the reply itself reads as "not JSON": transient,
         * never expired. (jansson's lexer drops a byte of a string when its
         * buffer cannot grow: "users.read" may come out "usrs.read", which
         * only adds to missingScopes, i.e. the grant is refused.) */
        if (getenv("SZ_DEBUG") && r) { char *d = json_dumps(r, 0); fprintf(stderr, "k=%ld %s\n", k, d); free(d); }
        CHECK(!r || (json_is_true(json_object_get(r, "ok")) && S(r, "refreshToken") &&
                     json_array_size(json_object_get(r, "missingScopes")) >= 1) ||
                  (json_is_false(json_object_get(r, "ok")) && strcmp(S(r, "category"), "transient") == 0),
              "token reply: allocation %ld failed, yet a partial or wrong result", k);
        json_decref(r);
        if (!injected)
            break;
    }
    json_set_alloc_funcs(malloc, free);
    CHECK(runs > 100, "oauth: %ld allocation failures injected", runs);
    /* wiping: the token reply, the Basic credentials, the bearer header */
    json_set_alloc_funcs(sz_test_malloc, sz_test_free);
    wipe_markers = markers;
    wipe_left = 0;
    {
        json_t *r = sz_oauth_parse_json("twitter", "refresh", 200, reply, strlen(reply), 1700000000, args), *res = NULL;
        sz_request *q;
        sz_json_free(r);
        for (o = 0; o < sizeof ops / sizeof *ops; o++) {
            q = sz_oauth_request_json("twitter", ops[o], app, args, &res);
            sz_request_free(q);
            json_decref(res);
            res = NULL;
        }
    }
    wipe_markers = NULL;
    json_set_alloc_funcs(malloc, free);
    CHECK(wipe_left == 0, "oauth: %ld freed blocks still held a secret", wipe_left);
    json_decref(app);
    json_decref(args);
}
