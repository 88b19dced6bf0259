/* Mastodon: POST /api/v1/statuses with an Idempotency-Key; the instance's limits
 * are read first (setup step "instance", GET /api/v2/instance). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "sz_netkit.h"

static sz_request *build_mastodon(ctx *x)
{
    const char *act = x->c->action;
    char *root = base_url(x->nt, x->app, x->user, "instance"), *text = NULL, key[65], *cin = NULL;
    json_t *body = NULL;
    action a;
    sz_request *r = NULL;
    sz_buf url;
    sz_buf_init(&url);
    if (!root) {
        x->result = fail("not_connected", "mastodon: the connection needs instance (https://host)");
        goto done;
    }
    if (strcmp(act, "instance") == 0) {
        sz_buf_printf(&url, "%s/api/v2/instance", root);
        if (!url.failed)
            r = sz_request_new("GET", url.data);
        goto done;
    }
    {
        NEED(x->user, accessToken, "access token (write:statuses)");
        /* the instance's own limits come in the setup state (parse_mastodon) */
        if (!(text = text_of(x, &a)))
            goto done;
        body = json_pack("{s:s, s:s}", "status", text, "visibility", "public");
        sz_buf_printf(&url, "%s/api/v1/statuses", root);
        if (!body || url.failed || !(r = req_json("POST", url.data, body)))
            goto done;
        /* the same content by the same account within an hour returns the
         * original status instead of a second one */
        cin = canon(x->in);
        if (cin)
            digest_hex(accessToken, cin, key);
        if (!cin || sz_request_add_header(r, "Idempotency-Key", key)) {
            sz_request_free(r);
            r = NULL;
        }
    }
done:
    free(root);
    free(text);
    free(cin);
    sz_json_free(body);
    sz_buf_reset(&url);
    return r;
}

static json_t *parse_mastodon(const sz_call_json *c, int status, const sz_header *h, size_t nh,
                              json_t *j, long long now)
{
    json_t *r;
    if (strcmp(c->action, "instance") == 0 && status == 200) {
        json_t *st = json_object_get(json_object_get(j, "configuration"), "statuses");
        r = success(NULL);
        json_object_set_new(r, "data", json_pack("{s:O?, s:O?}", "maxCharacters",
                                                 json_object_get(st, "max_characters"),
                                                 "charactersReservedPerUrl",
                                                 json_object_get(st, "characters_reserved_per_url")));
        return r;
    }
    if (status >= 200 && status < 300 && jstr(j, "id"))
        return success(jstr(j, "id"));
    r = classify(by_status(status), status, NULL, jstr(j, "error"));
    if (status == 429) {
        long long t = parse_iso8601(header(h, nh, "x-ratelimit-reset"));
        if (t >= 0)
            set_retry(r, sz_sat_sub(t, now));
    }
    set_scope(r, "account");
    return r;
}

const sz_net sz_net_mastodon = {
    .name = "mastodon", .display = "Mastodon", .rank = 8, .note = "statuses, limits read from the instance",
    .version = "v1", .url_field = "instance", .url_bare_host = 1, .url_example = "mastodon.social",
    .text = {500, SZ_TEXT_GRAPHEMES, 23, "\n\n", "userMessage,title;linkBack"},
    .auth = SZ_AUTH_BEARER, .bearer = {"accessToken", 0},
    .auth_fields = {"accessToken"},
    .secret_fields = {"accessToken"},
    .account_fields = {"accessToken"},
    .app_key_fields = {"baseUrl"},
    .idem = {SZ_IDEM_HEADER, "Idempotency-Key"},
    .setup = {"instance", "instance", 0, 0},
    .no_notify = "direct messages are not offered",
    .intent = "{instance}/share?text={tu}",
    .rate_scope = "account",
    .build = build_mastodon, .parse = parse_mastodon,
};
