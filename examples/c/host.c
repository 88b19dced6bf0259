/* examples/c/host.c - a game server's whole round with the C library:
 * every failure the API can report handled, every handle freed (examples/c/run
 * also runs it under valgrind when it is installed: no leak, no error).
 *
 *   cc host.c $(pkg-config --cflags --libs socialize) -o host && ./host
 *
 * 1. a Gigya request: signed; a secret over http, a bad secret, a missing
 *    apiKey refused (sz_status, Gigya's code, a message);
 * 2. Mastodon the way the Lua front drives it: the connection's instance
 *    normalised and checked by the host (the core takes it as given), the
 *    setup step ("instance": the server's limits) whose result's "data" is
 *    the setup of the publish, then the replies: a post, 401, 422, 429, 503;
 * 3. Telegram: a message, a rate limit, the supergroup migration
 *    (migrateToChatId), refusals (a bad bot token, no chat, a discontinued
 *    network) and wrong calls (an input that is no JSON object, an unknown
 *    action).
 * Replies are written by hand from the networks' documented formats. */
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

static int is(const char *a, const char *b) { return a && b && strcmp(a, b) == 0; }

/* A failure of the call itself: for people, sz_strerror's text (500000 is the
 * library's own, never Gigya's "General security warning"). */
static void show_error(const char *where, const sz_error *e)
{
    printf("    %s: %s (%d): %s\n", where, sz_strerror(e->status), e->code, e->message);
}

static void show_result(const sz_result *r)
{
    if (sz_result_ok(r))
        printf("    %s: ok%s%s\n", sz_result_provider(r), sz_result_post_id(r) ? ", post " : "",
               sz_result_post_id(r) ? sz_result_post_id(r) : "");
    else
        printf("    %s: %s (%d)%s: %s\n", sz_result_provider(r), sz_result_category(r), sz_result_code(r),
               sz_result_retry_after(r) >= 0 ? ", the reply says when to retry" : "",
               sz_result_details(r) ? sz_result_details(r) : "");
}

/* 1. Gigya */
static void gigya(void)
{
    sz_params *p = sz_params_new();
    sz_request_opts o;
    sz_request *r;
    sz_error err;

    if (!p || sz_params_set(p, "UID", 3, "player_42", 9) || sz_params_set(p, "status", 6, "Boss down", 9)) {
        sz_params_free(p);
        report(0, "Gigya parameters (out of memory)");
        return;
    }
    memset(&o, 0, sizeof o);
    o.api_method = "socialize.setStatus";
    o.api_key = "3_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_";
    o.secret = "c29jaWFsaXplLXJlZmVyZW5jZS1zZWNyZXQtMDAwMQ==";
    o.timestamp = 1700000000; /* time(NULL) */
    o.nonce = "1700000000000_42";
    r = sz_request_build(&o, p, &err);
    if (!r)
        show_error("Gigya", &err);
    report(r && sz_params_get(sz_request_params(r), "sig", NULL) != NULL, "Gigya: a signed request");
    sz_request_free(r);

    o.auth = SZ_AUTH_SECRET;
    o.base_url = "http://127.0.0.1:8080";
    r = sz_request_build(&o, p, &err);
    if (!r)
        show_error("secret over http", &err);
    report(!r && err.status == SZ_EINSECURE && err.code == SZ_GIGYA_SECRET_OVER_HTTP, "Gigya: a secret over http is SZ_EINSECURE (403006)");
    sz_request_free(r);

    o.auth = SZ_AUTH_SIGNED;
    o.base_url = NULL;
    o.secret = "not Base64!";
    r = sz_request_build(&o, p, &err);
    if (!r)
        show_error("bad secret", &err);
    report(!r && err.status == SZ_EINVALID && strstr(err.message, "secret"), "Gigya: a bad secret is SZ_EINVALID naming it");
    sz_request_free(r);
    sz_params_free(p);
}

/* The connection's instance as the core wants it: "https://host[:port]".
 * A bare host means https; a trailing '/' is dropped; a path (a profile URL)
 * and what sz_url_check refuses are refused. 0, or -1 with why. */
static int instance_root(const char *in, char *out, size_t size, const char **why)
{
    sz_url_parts parts;
    const char *rest;
    size_t len;

    *why = "not a server name";
    if (!in || !*in || strlen(in) + 9 > size)
        return -1;
    snprintf(out, size, "%s%s", strstr(in, "://") ? "" : "https://", in);
    len = strlen(out);
    if (len && out[len - 1] == '/')
        out[--len] = 0;
    rest = strstr(out, "://") + 3;
    if (strchr(rest, '/') || strchr(rest, '?') || strchr(rest, '#')) {
        *why = "a path (a profile URL?), not a server";
        return -1;
    }
    if ((*why = sz_url_check(out, len, &parts)) != NULL)
        return -1; /* also: resolve, then refuse addresses sz_addr_blocked() blocks */
    return 0;
}

static sz_provider_call call(const char *provider, const char *action, const char *input, const char *app,
                             const char *user, const char *setup)
{
    sz_provider_call c;
    memset(&c, 0, sizeof c); /* no media: step and blobs zeroed */
    c.provider = provider;
    c.action = action;
    c.input = input;
    c.input_len = input ? strlen(input) : 0;
    c.app = app;
    c.app_len = app ? strlen(app) : 0;
    c.user = user;
    c.user_len = user ? strlen(user) : 0;
    c.setup = setup;
    c.setup_len = setup ? strlen(setup) : 0;
    c.timestamp = 1700000000;
    c.nonce = "n-42";
    return c;
}

/* The request, or NULL after saying why. The refusal, when there is one, is
 * handed back in *refusal (the caller reads and frees it), or freed here when
 * refusal is NULL. */
static sz_request *build(const sz_provider_call *c, sz_result **refusal)
{
    sz_error err;
    sz_result *why = NULL;
    sz_request *r = sz_provider_request(c, &why, &err);
    if (r)
        printf("    %s %s\n", sz_request_method(r), sz_request_url(r));
    else if (err.status == SZ_EREFUSED)
        show_result(why); /* classified: not_connected, content_invalid, ... */
    else
        show_error("wrong call", &err); /* SZ_EMISSING, SZ_EINVALID, SZ_ENOMEM: no refusal */
    if (refusal)
        *refusal = why;
    else
        sz_result_free(why);
    return r;
}

static sz_result *reply(const sz_provider_call *c, int status, const sz_header *h, size_t nh, const char *body)
{
    sz_error err;
    sz_result *r = sz_provider_parse(c, status, h, nh, body, strlen(body), 1700000000, &err);
    if (r)
        show_result(r);
    else
        show_error("parse", &err);
    return r;
}

static const char UA[] = "{\"userAction\":{\"title\":\"Level 3 done\",\"userMessage\":\"Beat the boss\","
                         "\"linkBack\":\"https://game.example/l3\"}}";

static void mastodon(void)
{
    static const char limits[] = "{\"domain\":\"mastodon.example\",\"configuration\":{\"statuses\":"
                                 "{\"max_characters\":1000,\"characters_reserved_per_url\":23}}}";
    sz_header reset[] = {{"X-RateLimit-Reset", "2023-11-14T22:18:20.000Z"}};
    char root[300], user[400], *setup = NULL;
    const char *why;
    sz_provider_call c;
    sz_request *r;
    sz_result *res, *refusal;
    sz_error err;

    report(instance_root("https://mastodon.social/@me", root, sizeof root, &why) == -1,
           "Mastodon: a profile URL is not an instance (the host refuses it)");
    printf("    %s\n", why);
    report(instance_root("Mastodon.Example/", root, sizeof root, &why) == 0 && is(root, "https://Mastodon.Example"),
           "Mastodon: a bare host means https");
    snprintf(user, sizeof user, "{\"instance\":\"%s\",\"accessToken\":\"user-token\"}", root);

    /* the setup step: the instance's limits, cached per instance */
    c = call("mastodon", "instance", NULL, NULL, user, NULL);
    r = build(&c, NULL);
    sz_request_free(r);
    res = reply(&c, 200, NULL, 0, limits);
    if (res && sz_result_ok(res))
        setup = sz_result_json(res, "data", NULL, &err);
    report(setup && strstr(setup, "\"maxCharacters\":1000"), "Mastodon: the setup step's data");
    sz_result_free(res);

    c = call("mastodon", "publish", UA, NULL, user, setup);
    r = build(&c, NULL);
    report(r && is(sz_request_url(r), "https://Mastodon.Example/api/v1/statuses"), "Mastodon: the post");
    sz_request_free(r);
    res = reply(&c, 200, NULL, 0, "{\"id\":\"103254962155278888\",\"url\":\"https://mastodon.example/@p/1\"}");
    report(res && sz_result_ok(res) && is(sz_result_post_id(res), "103254962155278888"), "Mastodon: 200, the post id");
    sz_result_free(res);
    res = reply(&c, 401, NULL, 0, "{\"error\":\"The access token is invalid\"}");
    report(res && is(sz_result_category(res), "auth_expired") && sz_result_code(res) == 403009,
           "Mastodon: 401 is auth_expired (403009)");
    sz_result_free(res);
    res = reply(&c, 422, NULL, 0, "{\"error\":\"Validation failed: Text character limit of 1000 exceeded\"}");
    report(res && is(sz_result_category(res), "content_invalid"), "Mastodon: 422 is content_invalid");
    sz_result_free(res);
    res = reply(&c, 429, reset, 1, "{\"error\":\"Too many requests\"}");
    report(res && is(sz_result_category(res), "rate_limited") && sz_result_retry_after(res) == 300 &&
               is(sz_result_scope(res), "account"),
           "Mastodon: 429, retry after the reset (300 s), this account");
    sz_result_free(res);
    res = reply(&c, 503, NULL, 0, "<html>Service Unavailable</html>");
    report(res && is(sz_result_category(res), "transient"), "Mastodon: 503 is transient");
    sz_result_free(res);
    sz_free(setup);

    c = call("mastodon", "notify", "{\"body\":\"hi\",\"recipient\":\"1\"}", NULL, user, NULL);
    r = build(&c, &refusal);
    report(!r && refusal && is(sz_result_category(refusal), "unsupported"), "Mastodon: notify is refused, unsupported");
    sz_result_free(refusal);
}

static void telegram(void)
{
    static const char app[] = "{\"botToken\":\"123456:ABC-DEF_ghi\"}", user[] = "{\"chatId\":\"-100777\"}";
    sz_provider_call c = call("telegram", "publish", UA, app, user, NULL);
    sz_request *r = build(&c, NULL);
    sz_result *res, *refusal;

    report(r && is(sz_request_url(r), "https://api.telegram.org/bot123456:ABC-DEF_ghi/sendMessage"), "Telegram: the message");
    sz_request_free(r);
    res = reply(&c, 200, NULL, 0, "{\"ok\":true,\"result\":{\"message_id\":55,\"date\":1700000000,"
                                  "\"chat\":{\"id\":-100777,\"type\":\"supergroup\"},\"text\":\"x\"}}");
    report(res && sz_result_ok(res) && is(sz_result_post_id(res), "-100777:55"), "Telegram: the post id is chat:message");
    sz_result_free(res);
    res = reply(&c, 429, NULL, 0, "{\"ok\":false,\"error_code\":429,\"description\":\"Too Many Requests: retry after 35\","
                                  "\"parameters\":{\"retry_after\":35}}");
    report(res && is(sz_result_category(res), "rate_limited") && sz_result_retry_after(res) == 35,
           "Telegram: 429, retry after 35 s");
    sz_result_free(res);
    res = reply(&c, 400, NULL, 0, "{\"ok\":false,\"error_code\":400,\"description\":\"Bad Request: group chat was "
                                  "upgraded to a supergroup chat\",\"parameters\":{\"migrate_to_chat_id\":-1001234567890}}");
    report(res && is(sz_result_category(res), "content_invalid") && is(sz_result_string(res, "migrateToChatId"), "-1001234567890"),
           "Telegram: a migrated group says the new chat id (store it, retry)");
    sz_result_free(res);

    /* refused: nothing to send, a classified failure */
    c = call("telegram", "publish", UA, "{\"botToken\":\"../../getMe#\"}", user, NULL);
    report(!build(&c, &refusal) && refusal && sz_result_code(refusal) == 400006, "Telegram: a bad bot token is refused (400006)");
    sz_result_free(refusal);
    c = call("telegram", "publish", UA, app, "{}", NULL);
    report(!build(&c, &refusal) && refusal && is(sz_result_category(refusal), "not_connected"),
           "Telegram: no chatId is not_connected");
    sz_result_free(refusal);
    c = call("renren", "publish", UA, NULL, NULL, NULL);
    report(!build(&c, &refusal) && refusal && is(sz_result_category(refusal), "provider_discontinued"),
           "Renren: provider_discontinued");
    sz_result_free(refusal);

    /* wrong calls: no refusal, a status */
    c = call("telegram", "publish", "[1,2]", app, user, NULL);
    report(!build(&c, &refusal) && !refusal, "an input that is not a JSON object: a wrong call, no refusal");
    c = call("telegram", "publish", UA, "{\"botToken\":\"1:a\",\"botToken\":\"2:b\"}", user, NULL);
    report(!build(&c, &refusal) && !refusal, "a duplicate key: a wrong call");
    c = call("telegram", "dance", UA, app, user, NULL);
    report(!build(&c, &refusal) && !refusal, "an unknown action: a wrong call");
}

int main(void)
{
    printf("# libsocialize %s\n", sz_version());
    gigya();
    mastodon();
    telegram();
    printf("example-host: %d passed, %d failed\n", n - failed, failed);
    return failed ? 1 : 0;
}
