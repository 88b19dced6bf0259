/* examples/c/example.c - the C library without Lua: sign a Gigya request,
 * build a Mastodon post, read the network's replies.
 *
 *   cc example.c $(pkg-config --cflags --libs socialize) -o example
 *   ./example [expected-signature [expected-base-string]]
 *
 * The core is sans-IO: it builds the HTTP requests and reads the replies;
 * sending them is the host's job (libcurl, an engine's HTTP client...).
 * Here the replies are canned. Every step prints "ok N - ..." or
 * "not ok N - ...": examples/c/run checks the signature against
 * spec/vectors/signing_vectors.json and counts the lines. */
#include <stdio.h>
#include <string.h>
#include <socialize.h>

static int n, failed;

static void report(int ok, const char *what)
{
    printf("%s %d - %s\n", ok ? "ok" : "not ok", ++n, what);
    if (!ok)
        failed++;
}

static void show_request(const sz_request *r)
{
    size_t i, len;
    const char *name, *value, *body = sz_request_body(r, &len);
    printf("    %s %s\n", sz_request_method(r), sz_request_url(r));
    for (i = 0; i < sz_request_header_count(r); i++) {
        sz_request_header(r, i, &name, &value);
        if (strcmp(name, "Authorization") == 0) /* a credential: never logged */
            printf("    %s: (%zu bytes)\n", name, strlen(value));
        else
            printf("    %s: %s\n", name, value);
    }
    if (body)
        printf("    %.*s\n", (int)len, body);
}

/* 1. Gigya: socialize.setStatus, signed with the partner secret (the first
 * vector of spec/vectors/signing_vectors.json: timestamp, nonce and sdk
 * fixed so that the signature can be checked). */
static void gigya(const char *want_sig, const char *want_base)
{
    sz_params *p = sz_params_new();
    sz_request_opts o;
    sz_request *r;
    sz_response *reply;
    sz_error err;
    const char *sig;
    static const char ok_reply[] = "{\"errorCode\":0,\"statusCode\":200,\"callId\":\"c1\"}";
    static const char err_reply[] = "{\"errorCode\":403003,\"errorMessage\":\"Invalid request signature\"}";

    if (!p || sz_params_set(p, "UID", 3, "user_123", 8) || sz_params_set(p, "status", 6, "Hello world", 11)) {
        report(0, "parameters (out of memory)");
        sz_params_free(p);
        return;
    }
    memset(&o, 0, sizeof o);
    o.api_method = "socialize.setStatus";
    o.auth = SZ_AUTH_SIGNED;
    o.api_key = "3_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_";
    o.secret = "c29jaWFsaXplLXJlZmVyZW5jZS1zZWNyZXQtMDAwMQ==";
    o.timestamp = 1700000000;          /* normally time(NULL) */
    o.nonce = "1700000000000_1234567"; /* normally unique per call */
    o.sdk = "socialize_c_1.0.0";
    r = sz_request_build(&o, p, &err);
    sz_params_free(p);
    if (!r) {
        printf("    %s (%d): %s\n", sz_strerror(err.status), err.code, err.message);
        report(0, "signed Gigya request");
        return;
    }
    show_request(r);
    sig = sz_params_get(sz_request_params(r), "sig", NULL);
    printf("    sig=%s\n", sig ? sig : "(none)");
    report(sig && (!want_sig || strcmp(sig, want_sig) == 0), "signed Gigya request: the vector's signature");
    report(!want_base || strcmp(sz_request_base_string(r), want_base) == 0,
           "signed Gigya request: the vector's base string");
    sz_request_free(r);

    /* the replies: Gigya answers its errors with HTTP 200 and an errorCode */
    reply = sz_response_parse(ok_reply, sizeof ok_reply - 1, 200, &err);
    report(reply && sz_response_error_code(reply) == 0 && strcmp(sz_response_string(reply, "callId"), "c1") == 0,
           "Gigya reply: success");
    sz_response_free(reply);
    reply = sz_response_parse(err_reply, sizeof err_reply - 1, 200, &err);
    report(reply && sz_response_error_code(reply) == 403003 && sz_response_status_code(reply) == 403,
           "Gigya reply: 403003, status 403");
    sz_response_free(reply);

    /* a wrong call says why: a status for the program, Gigya's code, a message */
    memset(&o, 0, sizeof o);
    o.api_method = "socialize.setStatus";
    r = sz_request_build(&o, NULL, &err);
    printf("    %s / %d / %s\n", sz_strerror(err.status), err.code, err.message);
    report(!r && err.status == SZ_EMISSING && err.code == 400002, "a missing apiKey is SZ_EMISSING (400002)");
}

/* 2. Direct delivery: one post to a Mastodon account. The inputs are JSON
 * texts; the app and connection come from the host's own store. */
static void mastodon(void)
{
    static const char user[] = "{\"instance\":\"https://mastodon.example\",\"accessToken\":\"user-token\"}";
    static const char input[] = "{\"userAction\":{\"title\":\"Level 3 done\","
                                "\"userMessage\":\"Beat it (finally)\",\"linkBack\":\"https://game.example/l3\"}}";
    static const char posted[] = "{\"id\":\"1100\",\"url\":\"https://mastodon.example/@u/1100\"}";
    static const char limited[] = "{\"error\":\"Too many requests\"}";
    sz_header limit_headers[] = {{"X-RateLimit-Reset", "2023-11-14T22:18:20.000Z"}};
    sz_provider_call c;
    sz_request *r;
    sz_result *res, *refusal;
    sz_error err;

    memset(&c, 0, sizeof c);
    c.provider = "mastodon";
    c.action = "publish";
    c.input = input;
    c.input_len = sizeof input - 1;
    c.user = user;
    c.user_len = sizeof user - 1;
    c.timestamp = 1700000000;
    r = sz_provider_request(&c, &refusal, &err);
    if (r)
        show_request(r);
    report(r && strcmp(sz_request_url(r), "https://mastodon.example/api/v1/statuses") == 0,
           "Mastodon post: the request to send");
    sz_request_free(r);

    /* ... the host sends it, and hands the reply back: */
    res = sz_provider_parse(&c, 200, NULL, 0, posted, sizeof posted - 1, 1700000000, &err);
    report(res && sz_result_ok(res) && strcmp(sz_result_post_id(res), "1100") == 0, "Mastodon reply: post id 1100");
    sz_result_free(res);
    res = sz_provider_parse(&c, 429, limit_headers, 1, limited, sizeof limited - 1, 1700000000, &err);
    if (res)
        printf("    %s (%d): retry after %lld s, %s\n", sz_result_category(res), sz_result_code(res),
               sz_result_retry_after(res), sz_result_details(res));
    report(res && !sz_result_ok(res) && strcmp(sz_result_category(res), "rate_limited") == 0 &&
               sz_result_retry_after(res) == 300,
           "Mastodon reply: rate_limited, retry after 300 s");
    sz_result_free(res);

    /* a call the network cannot take: nothing to send, a classified refusal */
    c.user = "{\"instance\":\"https://mastodon.example\"}";
    c.user_len = strlen(c.user);
    r = sz_provider_request(&c, &refusal, &err);
    if (refusal)
        printf("    refused: %s (%d) %s\n", sz_result_category(refusal), sz_result_code(refusal),
               sz_result_details(refusal));
    report(!r && err.status == SZ_EREFUSED && refusal && strcmp(sz_result_category(refusal), "not_connected") == 0,
           "Mastodon without a token: refused, not_connected");
    sz_result_free(refusal);
}

int main(int argc, char **argv)
{
    printf("# libsocialize %s (header %s)\n", sz_version(), SZ_VERSION_STRING);
    report(strcmp(sz_version(), SZ_VERSION_STRING) == 0, "the library is the header's version");
    gigya(argc > 1 ? argv[1] : NULL, argc > 2 ? argv[2] : NULL);
    mastodon();
    printf("example-c: %d passed, %d failed\n", n - failed, failed);
    return failed ? 1 : 0;
}
