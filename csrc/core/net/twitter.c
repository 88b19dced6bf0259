/* X (Twitter): API v2 POST /2/tweets and DM events; OAuth 1.0a or a bearer token. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "sz_netkit.h"

static int twitter_auth(ctx *x, sz_request *r)
{
    const char *bearer = jstr(x->user, "bearerToken");
    const char *tk = jstr(x->user, "token"), *tsec = jstr(x->user, "tokenSecret");
    const char *ck = jstr(x->app, "consumerKey"), *cs = jstr(x->app, "consumerSecret");
    char *h;
    int rc;
    if (bearer && *bearer) {
        sz_buf b;
        sz_buf_init(&b);
        sz_buf_adds(&b, "Bearer ");
        sz_buf_adds(&b, bearer);
        rc = b.failed ? -1 : sz_request_add_header(r, "Authorization", b.data);
        sz_buf_reset(&b);
        return rc;
    }
    if (!tk || !tsec || !ck || !cs) {
        x->result = fail("not_connected", "twitter: the connection needs bearerToken, or token and "
                                          "tokenSecret with the app's consumerKey and consumerSecret");
        return -1;
    }
    h = oauth1_header(sz_request_method(r), sz_request_url(r), ck, cs, tk, tsec, x->c->timestamp,
                      x->c->nonce ? x->c->nonce : "0", NULL);
    if (!h)
        return -1;
    rc = sz_request_add_header(r, "Authorization", h);
    sz_free_str(h);
    return rc;
}

static sz_request *build_twitter(ctx *x)
{
    const char *act = x->c->action;
    char *root = base_url(x->nt, x->app, NULL, NULL), *text = NULL;
    json_t *body = json_object();
    action a;
    sz_request *r = NULL;
    sz_buf url;
    sz_buf_init(&url);
    if (strcmp(act, "notify") == 0) {
        char idb[32];
        const char *to = jid(x->in, "recipient", idb, sizeof idb), *p;
        if (!to || !*to) {
            x->result = fail("content_invalid", "twitter: the recipient has no numeric X user id");
            goto done;
        }
        for (p = to; *p; p++)
            if (!isdigit((unsigned char)*p)) {
                x->result = fail("content_invalid", "twitter: recipient '%.40s' is not a numeric X user id", to);
                goto done;
            }
        sz_buf_printf(&url, "%s/2/dm_conversations/with/%s/messages", root, to);
    } else {
        const char *place = jstr(json_object_get(x->in, "userLocation"), "placeID");
        if (place && *place && json_object_set_new(body, "geo", json_pack("{s:s}", "place_id", place)) != 0)
            goto done;
        sz_buf_printf(&url, "%s/2/tweets", root);
    }
    /* the seed: "When Twitter is the provider, only the Title and Link Back are posted" */
    if (!(text = text_of(x, &a)))
        goto done;
    if (json_object_set_new(body, "text", json_string(text)) != 0 || url.failed ||
        !(r = req_json("POST", url.data, body)))
        goto done;
    if (twitter_auth(x, r) != 0) {
        sz_request_free(r);
        r = NULL;
    }
done:
    free(root);
    free(text);
    sz_json_free(body);
    sz_buf_reset(&url);
    return r;
}

/* X's rate-limit windows (docs.x.com rate limits): the 15-minute window of
 * the endpoint, and the 24-hour caps of the user and of the app. */
static const struct {
    const char *remaining, *reset, *scope;
} X_WINDOWS[] = {
    {"x-rate-limit-remaining", "x-rate-limit-reset", "account"},
    {"x-user-limit-24hour-remaining", "x-user-limit-24hour-reset", "account"},
    {"x-app-limit-24hour-remaining", "x-app-limit-24hour-reset", "app"},
};

/* The wait of a 429: among the windows whose remaining count is 0 (or not
 * given), the one that resets last, with its scope; when no window says it
 * is exhausted, the longest of those with a reset. 0 when no reset parses. */
static int x_wait(const sz_header *h, size_t nh, long long now, long long *wait, const char **scope)
{
    long long t, left, w;
    int found = 0, exhausted = 0;
    size_t i;
    for (i = 0; i < sizeof X_WINDOWS / sizeof X_WINDOWS[0]; i++) {
        const char *rem = header(h, nh, X_WINDOWS[i].remaining);
        int out = !rem || (sz_parse_uint(rem, &left) == 0 && left == 0);
        if (sz_parse_uint(header(h, nh, X_WINDOWS[i].reset), &t) != 0)
            continue;
        w = sz_sat_sub(t, now);
        /* an exhausted window beats one that is not; then the longest wait */
        if (!found || (out && !exhausted) || (out == exhausted && w > *wait)) {
            *wait = w;
            *scope = X_WINDOWS[i].scope;
            exhausted = out;
        }
        found = 1;
    }
    return found;
}

static json_t *parse_twitter(const sz_call_json *c, int status, const sz_header *h, size_t nh,
                             json_t *j, long long now)
{
    json_t *data = json_object_get(j, "data"), *r;
    const char *detail, *type, *title;
    json_t *errs = json_object_get(j, "errors");
    if (status >= 200 && status < 300 && data) {
        if (strcmp(c->action, "notify") == 0)
            return success(jstr(data, "dm_event_id"));
        return success(jstr(data, "id"));
    }
    detail = jstr(j, "detail");
    type = jstr(j, "type");
    title = jstr(j, "title");
    if (!detail && json_is_array(errs)) {
        json_t *e0 = json_array_get(errs, 0);
        detail = jstr(e0, "detail") ? jstr(e0, "detail") : jstr(e0, "message");
        type = type ? type : jstr(e0, "type");
    }
    if (status == 403 && detail && strstr(detail, "duplicate content"))
        r = classify("duplicate", status, type, detail);
    else if ((status == 429 && type && strstr(type, "usage-capped")) || status == 402)
        /* 402: the pay-per-use credits are spent (problem type .../credits) */
        r = classify("quota_exhausted", status, type, detail ? detail : title);
    else
        r = classify(by_status(status), status, type, detail ? detail : title);
    if (status == 402)
        set_scope(r, "app");
    if (status == 429) {
        const char *scope = "account";
        long long wait = 0;
        int limited = strcmp(jstr(r, "category"), "rate_limited") == 0;
        if (x_wait(h, nh, now, &wait, &scope) && limited)
            set_retry(r, wait);
        set_scope(r, limited ? scope : "app");
    }
    return r;
}

const sz_net sz_net_twitter = {
    .name = "twitter", .display = "X", .rank = 1, .note = "X API v2", .gigya = 1,
    .base_url = "https://api.x.com", .version = "2",
    .text = {280, SZ_TEXT_X, 23, " ", "title|userMessage;linkBack", .notify_max = 10000},
    .auth = SZ_AUTH_OAUTH1,
    .auth_fields = {"token", "tokenSecret", "bearerToken", "consumerKey", "consumerSecret"},
    .secret_fields = {"token", "tokenSecret", "bearerToken", "consumerSecret"},
    .account_fields = {"userId", "token", "bearerToken"},
    .app_key_fields = {"consumerKey", "baseUrl"},
    .recipient_field = "userId", .recipient_numeric_uid = 1,
    .intent_default = 1,
    .intent = "https://x.com/intent/tweet?text={t}&url={u}",
    .rate_scope = "account",
    .build = build_twitter, .parse = parse_twitter,
};
