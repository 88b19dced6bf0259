/* C unit tests of the public, jansson-free API as a C host uses it: the
 * error model (sz_status), provider calls given as JSON text, results read
 * through sz_result's accessors, replies and descriptors as JSON text out.
 * Nothing here touches a jansson type. Run from test_core.c (main). */
#include "test_util.h"

#define TXT(s) (s), (sizeof(s) - 1) /* a JSON text literal as arguments: pointer, length */
/* sets one JSON text field of the call c: pointer and length */
#define SET(field, s) (c.field = (s), c.field##_len = strlen(c.field))

void test_api_errors(void)
{
    static const sz_status all[] = {SZ_OK, SZ_ENOMEM, SZ_EMISSING, SZ_EINVALID, SZ_EINSECURE, SZ_ECRYPTO,
                                    SZ_EREFUSED};
    size_t i, k;
    for (i = 0; i < sizeof all / sizeof *all; i++) {
        CHECK(strcmp(sz_strerror(all[i]), "Unknown status") != 0, "status %d has a text", (int)all[i]);
        for (k = 0; k < i; k++)
            CHECK(strcmp(sz_strerror(all[i]), sz_strerror(all[k])) != 0, "statuses %zu and %zu differ", i, k);
    }
    CHECK_STR(sz_strerror((sz_status)99), "Unknown status", "unknown status");
    /* out of memory says so; Gigya's own text for 500000 stays Gigya's */
    CHECK_STR(sz_strerror(SZ_ENOMEM), "Out of memory", "ENOMEM text");
    CHECK(sz_status_code(SZ_ENOMEM) == 500000 && sz_status_code(SZ_EMISSING) == 400002 &&
              sz_status_code(SZ_EINVALID) == 400006 && sz_status_code(SZ_EINSECURE) == 403006 &&
              sz_status_code(SZ_OK) == 0 && sz_status_code(SZ_EREFUSED) == 0,
          "status -> Gigya code");
    CHECK_STR(sz_gigya_message(500000), "General security warning", "Gigya's 500000");
    CHECK_STR(sz_gigya_message(403003), "Invalid request signature", "Gigya's 403003");
    /* categories: known ones map, anything else is 0, never a silent 500023 */
    CHECK(sz_category_code("rate_limited") == 400125 && sz_category_code("transient") == 500023 &&
              sz_category_code("not_connected") == 400106,
          "known categories");
    CHECK(sz_category_code("rate_limted") == 0 && sz_category_code("") == 0 && sz_category_code(NULL) == 0,
          "an unknown category is 0");
    {
        /* every failing call fills status, code and message together */
        sz_error err;
        sz_params *p = sz_params_new();
        sz_request *r;
        sz_request_opts o;
        memset(&o, 0, sizeof o);
        o.api_method = "socialize.getUserInfo";
        o.auth = SZ_AUTH_SECRET;
        o.api_key = "k";
        o.secret = SECRET;
        o.base_url = "http://gigya.test";
        CHECK(sz_request_build(&o, p, &err) == NULL && err.status == SZ_EINSECURE && err.code == 403006 &&
                  strstr(err.message, "https"),
              "secret over http: %d %d %s", (int)err.status, err.code, err.message);
        o.base_url = NULL;
        o.api_key = NULL;
        CHECK(sz_request_build(&o, p, &err) == NULL && err.status == SZ_EMISSING && err.code == 400002 &&
                  strstr(err.message, "apiKey"),
              "missing apiKey: %d %s", (int)err.status, err.message);
        CHECK(sz_sign("not base64!", "m", 1, &err) == NULL && err.status == SZ_EINVALID && err.code == 400006,
              "bad secret");
        /* NULL parameters are no parameters (examples/c found the crash) */
        o.api_key = "k";
        o.base_url = "https://gigya.test";
        r = sz_request_build(&o, NULL, &err);
        CHECK(r && strstr(sz_request_body(r, NULL), "apiKey=k"), "NULL params: %s", err.message);
        sz_request_free(r);
        CHECK(sz_params_get(NULL, "a", NULL) == NULL && sz_params_get(p, NULL, NULL) == NULL &&
                  sz_params_remove(NULL, "a") == 0,
              "NULL set or key: absent");
        sz_params_free(p);
    }
}

/* Mastodon through the public API: JSON texts in, a request or a refusal out. */
void test_api_provider_request(void)
{
    static const char user[] = "{\"instance\":\"https://m.example\",\"accessToken\":\"tok\"}";
    static const char input[] = "{\"userAction\":{\"title\":\"Level 3\",\"linkBack\":\"https://game.example/l3\"}}";
    sz_provider_call c;
    sz_request *r;
    sz_result *ref = (sz_result *)&ref; /* must be reset to NULL */
    sz_error err;
    const char *hn, *hv;
    size_t i, bl;
    int auth = 0;
    memset(&c, 0, sizeof c);
    c.provider = "mastodon";
    c.action = "publish";
    SET(input, input);
    SET(user, user);
    /* a credential text broken by the caller (an unescaped quote in a
     * password): the message names the text and the byte, never the bytes
     * around it (socialize.h: a message is "never a secret") */
    {
        static const char *broken[] = {"{\"appPassword\":\"ab\"cdSECRET\"}", "{\"accessToken\" \"tokSECRET\"}",
                                       "{\"accessToken\":\"tokSECRET\",\"accessToken\":\"x\"}",
                                       "{\"botToken\":\"SECRET\\ud800\"}"};
        size_t b;
        for (b = 0; b < sizeof broken / sizeof *broken; b++) {
            const char *w[] = {"user", "app", "setup", "step"};
            size_t k;
            for (k = 0; k < 4; k++) {
                sz_provider_call d = c;
                const char **txt = k == 0 ? &d.user : k == 1 ? &d.app : k == 2 ? &d.setup : &d.step;
                size_t *tl = k == 0 ? &d.user_len : k == 1 ? &d.app_len : k == 2 ? &d.setup_len : &d.step_len;
                *txt = broken[b];
                *tl = strlen(broken[b]);
                r = sz_provider_request(&d, &ref, &err);
                CHECK(!r && err.status == SZ_EINVALID && strstr(err.message, w[k]) && !strstr(err.message, "SECRET") &&
                          !strstr(err.message, "D800") && !strstr(err.message, "ud800"),
                      "broken %s text %zu: the message shows no byte of it: %s", w[k], b, err.message);
            }
        }
    }
    c.timestamp = 1700000000;
    r = sz_provider_request(&c, &ref, &err);
    CHECK(r && !ref && err.status == SZ_OK && err.code == 0, "mastodon publish builds (%s)", err.message);
    if (r) {
        CHECK_STR(sz_request_method(r), "POST", "method");
        CHECK_STR(sz_request_url(r), "https://m.example/api/v1/statuses", "url");
        CHECK(sz_request_body(r, &bl) && strstr(sz_request_body(r, &bl), "Level 3"), "body has the text");
        for (i = 0; i < sz_request_header_count(r); i++) {
            sz_request_header(r, i, &hn, &hv);
            auth |= strcmp(hn, "Authorization") == 0 && strcmp(hv, "Bearer tok") == 0;
        }
        CHECK(auth, "bearer token header");
    }
    sz_request_free(r);

    /* a refusal: no token -> SZ_EREFUSED, the classified result, its code in err */
    SET(user, "{\"instance\":\"https://m.example\"}");
    r = sz_provider_request(&c, &ref, &err);
    CHECK(!r && ref && err.status == SZ_EREFUSED, "no token: refused (%d)", (int)err.status);
    if (ref) {
        CHECK(!sz_result_ok(ref), "refusal is a failure");
        CHECK_STR(sz_result_category(ref), "not_connected", "category");
        CHECK(sz_result_code(ref) == 400106 && err.code == 400106, "code %d / %d", sz_result_code(ref), err.code);
        CHECK_STR(sz_result_provider(ref), "mastodon", "provider");
        CHECK(sz_result_details(ref) && strstr(sz_result_details(ref), "accessToken") &&
                  strcmp(err.message, sz_result_details(ref)) == 0,
              "details in the result and in err: %s", err.message);
        CHECK(sz_result_post_id(ref) == NULL && sz_result_retry_after(ref) == -1, "no post id, no retry");
    }
    sz_result_free(ref);
    /* the same without asking for the result: the status still says it */
    r = sz_provider_request(&c, NULL, &err);
    CHECK(!r && err.status == SZ_EREFUSED && err.code == 400106, "refusal without a result pointer");

    /* a wrong call: status, no refusal */
    c.provider = "myspace";
    r = sz_provider_request(&c, &ref, &err);
    CHECK(!r && !ref && err.status == SZ_EINVALID && strstr(err.message, "myspace"), "unknown provider: %s",
          err.message);
    c.provider = NULL;
    r = sz_provider_request(&c, &ref, &err);
    CHECK(!r && !ref && err.status == SZ_EMISSING && strstr(err.message, "provider"), "no provider");
    CHECK(!sz_provider_request(NULL, &ref, &err) && !ref && err.status == SZ_EMISSING, "no call");
    c.provider = "mastodon";
    c.action = "dance";
    r = sz_provider_request(&c, &ref, &err);
    CHECK(!r && !ref && err.status == SZ_EINVALID && strstr(err.message, "dance"), "unknown action");
    c.action = "publish";
    SET(user, "{\"instance\":\"https://m.example\",");
    r = sz_provider_request(&c, &ref, &err);
    CHECK(!r && !ref && err.status == SZ_EINVALID && strstr(err.message, "user is not valid JSON"),
          "broken user text: %s", err.message);
    SET(user, "[1]");
    r = sz_provider_request(&c, &ref, &err);
    CHECK(!r && !ref && err.status == SZ_EINVALID && strstr(err.message, "user is not a JSON object"),
          "user text not an object: %s", err.message);
    SET(user, user);
    SET(app, "{\"a\":1,\"a\":2}");
    r = sz_provider_request(&c, &ref, &err);
    CHECK(!r && !ref && err.status == SZ_EINVALID && strstr(err.message, "app"), "duplicate key: %s", err.message);
    /* a NUL byte inside a credential: refused by the network's rules, never cut */
    c.app = NULL;
    SET(user, "{\"instance\":\"https://m.example\",\"accessToken\":\"to\\u0000k\"}");
    r = sz_provider_request(&c, &ref, &err);
    CHECK(!r && !ref && err.status == SZ_EINVALID, "\\u0000 in a text is refused by the parser: %s", err.message);
    /* a bare host (the Lua front adds https://, the core does not): the
     * refusal names the connection field and its form, not only "spaces" */
    SET(user, "{\"instance\":\"m.example\",\"accessToken\":\"tok\"}");
    r = sz_provider_request(&c, &ref, &err);
    CHECK(!r && ref && err.status == SZ_EREFUSED && strstr(err.message, "mastodon.instance") &&
              strstr(err.message, "https://mastodon.social"),
          "bare host: %s", err.message);
    sz_result_free(ref);
}

/* Replies through the public API, the setup state passed on as JSON text. */
void test_api_provider_parse(void)
{
    static const char user[] = "{\"instance\":\"https://m.example\",\"accessToken\":\"tok\"}";
    sz_header h[1] = {{"X-RateLimit-Reset", "2023-11-14T22:18:20.000Z"}};
    sz_provider_call c;
    sz_result *res, *ref;
    sz_request *r;
    sz_error err;
    char *data, *all;
    size_t dl, al;
    memset(&c, 0, sizeof c);
    c.provider = "mastodon";
    c.action = "publish";
    SET(user, user);
    res = sz_provider_parse(&c, 200, NULL, 0, TXT("{\"id\":\"1100\",\"url\":\"https://m/@u/1100\"}"), 1700000000,
                            &err);
    CHECK(res && sz_result_ok(res) && err.status == SZ_OK, "200 parses to a success");
    if (res) {
        CHECK_STR(sz_result_post_id(res), "1100", "post id");
        CHECK(sz_result_category(res) == NULL && sz_result_code(res) == 0, "no category, code 0");
        all = sz_result_json(res, NULL, &al, &err);
        CHECK(all && al == strlen(all) && strstr(all, "\"postID\":\"1100\"") && all[0] == '{', "result text: %s",
              all ? all : "(null)");
        sz_free(all);
        CHECK(sz_result_json(res, "data", NULL, &err) == NULL && err.status == SZ_EMISSING, "no data member");
    }
    sz_result_free(res);

    res = sz_provider_parse(&c, 429, h, 1, TXT("{\"error\":\"Too many requests\"}"), 1700000000, &err);
    CHECK(res && !sz_result_ok(res), "429 is a failure");
    if (res) {
        CHECK_STR(sz_result_category(res), "rate_limited", "category");
        CHECK(sz_result_code(res) == 400125, "code");
        CHECK(sz_result_retry_after(res) == 300, "retry after %lld", sz_result_retry_after(res));
        CHECK(sz_result_provider_status(res) == 429, "provider status");
        CHECK_STR(sz_result_scope(res), "account", "scope");
    }
    sz_result_free(res);

    /* the setup step: the instance's limits, its data passed on as setup */
    c.action = "instance";
    res = sz_provider_parse(&c, 200, NULL, 0,
                            TXT("{\"configuration\":{\"statuses\":{\"max_characters\":20,"
                                "\"characters_reserved_per_url\":23}}}"),
                            1700000000, &err);
    data = res ? sz_result_json(res, "data", &dl, &err) : NULL;
    CHECK(data && strstr(data, "\"maxCharacters\":20"), "instance data: %s", data ? data : "(null)");
    sz_result_free(res);
    c.action = "status";
    SET(input, "{\"status\":\"a status that is longer than twenty\"}");
    c.setup = data;
    c.setup_len = dl;
    r = sz_provider_request(&c, &ref, &err);
    CHECK(!r && ref && err.status == SZ_EREFUSED && strcmp(sz_result_category(ref), "content_invalid") == 0 &&
              strstr(sz_result_details(ref), "of 20"),
          "the setup's limit applies: %s", err.message);
    sz_result_free(ref);
    sz_free(data);

    /* pointers that do not match their counts: a wrong call, never a read
     * through NULL (a host's bug, answered with a status) */
    c.action = "publish";
    c.setup = NULL;
    c.setup_len = 0;
    CHECK(sz_provider_parse(&c, 429, NULL, 3, TXT("{}"), 0, &err) == NULL && err.status == SZ_EINVALID &&
              strstr(err.message, "headers"),
          "NULL headers with a count: %s", err.message);
    CHECK(sz_provider_parse(&c, 200, NULL, 0, NULL, 5, 0, &err) == NULL && err.status == SZ_EINVALID &&
              strstr(err.message, "body"),
          "NULL body with a length: %s", err.message);
    res = sz_provider_parse(&c, 204, NULL, 0, NULL, 0, 0, &err);
    CHECK(res != NULL, "NULL body of length 0: an empty reply, classified");
    sz_result_free(res);
    c.provider = "friendster";
    CHECK(sz_provider_parse(&c, 200, NULL, 0, TXT("{}"), 0, &err) == NULL && err.status == SZ_EINVALID,
          "parse: unknown provider is a wrong call");
}

void test_api_response_info_bookmark(void)
{
    static const char body[] = "{\"errorCode\":0,\"statusCode\":200,\"UID\":\"u1\",\"data\":{\"x\":[1,2]}}";
    sz_error err;
    sz_response *r = sz_response_parse(TXT(body), 200, &err);
    sz_result *b;
    char *t, *info;
    size_t n;
    CHECK(r != NULL, "reply parses");
    if (r) {
        t = sz_response_json(r, NULL, &n, &err);
        CHECK(t && n == strlen(t) && strstr(t, "\"UID\":\"u1\"") && strstr(t, "\"statusReason\":\"OK\""),
              "reply text: %s", t ? t : "(null)");
        sz_free(t);
        t = sz_response_json(r, "data", &n, &err);
        CHECK_STR(t, "{\"x\":[1,2]}", "one member");
        sz_free(t);
        CHECK(sz_response_json(r, "nope", &n, &err) == NULL && err.status == SZ_EMISSING && strstr(err.message, "nope"),
              "absent member");
        CHECK_STR(sz_response_string(r, "UID"), "u1", "string field");
        sz_response_free(r);
    }
    info = sz_provider_info("mastodon", &n, &err);
    CHECK(info && n == strlen(info) && strstr(info, "\"name\":\"mastodon\"") && strstr(info, "\"setup\":{"),
          "provider info text");
    sz_free(info);
    /* each counter by its own name: Bluesky's (graphemes and 3000 bytes) is
     * neither "codepoints" nor Mastodon's "graphemes" */
    info = sz_provider_info("bluesky", &n, &err);
    CHECK(info && strstr(info, "\"counter\":\"graphemes_bytes\""), "bluesky counter: %s", info ? info : "(null)");
    sz_free(info);
    info = sz_provider_info("sina", &n, &err);
    CHECK(info && strstr(info, "\"counter\":\"weibo\""), "sina counter");
    sz_free(info);
    CHECK(sz_provider_info("orkut", NULL, &err) == NULL && err.status == SZ_EINVALID, "unknown network");
    CHECK(sz_provider_info(NULL, NULL, &err) == NULL && err.status == SZ_EMISSING, "no name");
    b = sz_bookmark_url("twitter", "https://g.example/?a=1", "T", NULL, NULL, NULL, &err);
    CHECK(b && sz_result_ok(b), "bookmark");
    if (b)
        CHECK_STR(sz_result_string(b, "url"), "https://x.com/intent/tweet?text=T&url=https%3A%2F%2Fg.example%2F%3Fa%3D1",
                  "bookmark url");
    sz_result_free(b);
    b = sz_bookmark_url("twitter", "javascript:alert(1)", NULL, NULL, NULL, NULL, &err);
    CHECK(b && !sz_result_ok(b) && strcmp(sz_result_category(b), "content_invalid") == 0, "bad url: a failure");
    sz_result_free(b);
    CHECK(sz_bookmark_url(NULL, "https://g.example/", NULL, NULL, NULL, NULL, &err) == NULL &&
              err.status == SZ_EMISSING,
          "no destination");
}
