/* Bluesky: com.atproto.repo.createRecord with link facets; a session
 * (setup step "session", createSession) is opened first and reused. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "sz_netkit.h"

static sz_request *build_bluesky(ctx *x)
{
    const char *act = x->c->action;
    char *root = base_url(x->nt, x->app, x->user, "pds"), *text = NULL, when[64];
    json_t *body = NULL, *sess = x->setup;
    sz_request *r = NULL;
    sz_buf url;
    sz_buf_init(&url);
    if (strcmp(act, "session") == 0) {
        NEED(x->user, identifier, "handle or DID");
        {
            NEED(x->user, appPassword, "app password");
            body = json_pack("{s:s, s:s}", "identifier", identifier, "password", appPassword);
            sz_buf_printf(&url, "%s/xrpc/com.atproto.server.createSession", root);
            if (body && !url.failed)
                r = req_json("POST", url.data, body);
        }
        goto done;
    }
    if (!jstr(sess, "accessJwt") || !jstr(sess, "did")) {
        x->result = fail("not_connected", "bluesky: no session (createSession first)");
        goto done;
    }
    {
        action a;
        size_t n = 0, i, tl;
        sz_facet *fs = NULL;
        json_t *facets = json_array(), *record;
        int bad;
        if (!(text = text_of(x, &a))) {
            sz_json_free(facets);
            goto done;
        }
        tl = strlen(text);
        if (tl > 3000) {
            sz_json_free(facets);
            x->result = fail("content_invalid", "bluesky: text is %zu bytes; at most 3000", tl);
            goto done;
        }
        /* links and tags are facets with UTF-8 byte offsets (@atproto/api's detection) */
        bad = !facets || sz_text_facets(text, tl, &fs, &n) != 0;
        for (i = 0; !bad && i < n; i++) {
            int link = fs[i].kind == SZ_FACET_LINK;
            json_t *f = json_pack("{s:{s:I, s:I}, s:[{s:s, s:s}]}", "index", "byteStart",
                                  (json_int_t)fs[i].start, "byteEnd", (json_int_t)fs[i].end, "features", "$type",
                                  link ? "app.bsky.richtext.facet#link" : "app.bsky.richtext.facet#tag",
                                  link ? "uri" : "tag", fs[i].value);
            bad = json_array_append_new(facets, f) != 0;
        }
        sz_text_facets_free(fs, n);
        format_iso8601(x->c->timestamp, when);
        record = json_pack("{s:s, s:s, s:s}", "$type", "app.bsky.feed.post", "text", text, "createdAt", when);
        if (!record || (json_array_size(facets) && json_object_set(record, "facets", facets) != 0))
            bad = 1;
        sz_json_free(facets);
        if (!bad && strcmp(act, "publish") == 0 && a.link) {
            json_t *ext = json_pack("{s:s, s:s, s:s}", "uri", a.link, "title", a.title ? a.title : "",
                                    "description", a.description ? a.description : "");
            bad = !ext || json_object_set_new(record, "embed", json_pack("{s:s, s:o}", "$type",
                                                                         "app.bsky.embed.external",
                                                                         "external", ext)) != 0;
        }
        if (bad) {
            sz_json_free(record);
            goto done;
        }
        body = json_pack("{s:s, s:s, s:o}", "repo", jstr(sess, "did"), "collection", "app.bsky.feed.post",
                         "record", record);
        sz_buf_printf(&url, "%s/xrpc/com.atproto.repo.createRecord", root);
        if (body && !url.failed)
            r = req_json("POST", url.data, body);
    }
done:
    free(root);
    free(text);
    sz_json_free(body);
    sz_buf_reset(&url);
    return r;
}

static json_t *parse_bluesky(const sz_call_json *c, int status, const sz_header *h, size_t nh,
                             json_t *j, long long now)
{
    const char *err = jstr(j, "error");
    json_t *r;
    if (status >= 200 && status < 300) {
        if (strcmp(c->action, "session") == 0) {
            r = success(NULL);
            json_object_set_new(r, "data", json_pack("{s:s?, s:s?, s:s?}", "accessJwt", jstr(j, "accessJwt"),
                                                     "refreshJwt", jstr(j, "refreshJwt"), "did", jstr(j, "did")));
            return r;
        }
        return success(jstr(j, "uri"));
    }
    if (err && (strcmp(err, "ExpiredToken") == 0 || strcmp(err, "InvalidToken") == 0 ||
                strcmp(err, "AuthenticationRequired") == 0 || strcmp(err, "AuthFactorTokenRequired") == 0))
        r = classify("auth_expired", status, err, jstr(j, "message"));
    else if (err && strcmp(err, "RateLimitExceeded") == 0)
        r = classify("rate_limited", status, err, jstr(j, "message"));
    else if (err && strcmp(err, "InvalidRequest") == 0)
        r = classify("content_invalid", status, err, jstr(j, "message"));
    else
        r = classify(by_status(status), status, err, jstr(j, "message"));
    if (strcmp(jstr(r, "category"), "rate_limited") == 0) {
        long long t;
        if (sz_parse_uint(header(h, nh, "ratelimit-reset"), &t) == 0)
            set_retry(r, sz_sat_sub(t, now));
    }
    set_scope(r, "account");
    return r;
}

const sz_net sz_net_bluesky = {
    .name = "bluesky", .display = "Bluesky", .rank = 9, .note = "com.atproto.repo.createRecord",
    .base_url = "https://bsky.social", .url_field = "pds", .url_example = "bsky.social",
    .text = {300, SZ_TEXT_BSKY, -1, "\n\n", "userMessage,title;linkBack"},
    .auth = SZ_AUTH_SESSION, .bearer = {"accessJwt", 1},
    .auth_fields = {"identifier", "appPassword"},
    .secret_fields = {"appPassword", "accessJwt", "refreshJwt"},
    .account_fields = {"identifier"},
    .app_key_fields = {"baseUrl"},
    .setup = {"session", "identifier", 1, 1},
    .no_notify = "chat runs on a separate service; not offered",
    .intent = "https://bsky.app/intent/compose?text={tu}",
    .rate_scope = "account",
    .build = build_bluesky, .parse = parse_bluesky,
};
