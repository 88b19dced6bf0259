/* LinkedIn: Posts API (POST /rest/posts), little-text commentary; member token. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "sz_netkit.h"

/* LinkedIn "little text": reserved characters are backslash-escaped, URLs and
 * #hashtags stay as they are. */
static void little_text(sz_buf *b, const char *s)
{
    size_t len = strlen(s), i = 0, starts[64], ends[64], nu = sz_text_url_spans(s, len, starts, ends, 64), k = 0;
    while (i < len) {
        if (k < nu && k < 64 && i == starts[k]) {
            sz_buf_add(b, s + i, ends[k] - i);
            i = ends[k++];
            continue;
        }
        if (strchr("\\|{}@[]()<>*_~", s[i]) ||
            (s[i] == '#' && !(i + 1 < len && (isalnum((unsigned char)s[i + 1]) || (unsigned char)s[i + 1] >= 0x80))))
            sz_buf_addc(b, '\\');
        sz_buf_addc(b, s[i]);
        i++;
    }
}

static sz_request *build_linkedin(ctx *x)
{
    const char *act = x->c->action, *author = jstr(x->user, "author"), *pid = jstr(x->user, "personId");
    char *root = base_url(x->nt, x->app, NULL, NULL);
    json_t *body = NULL;
    sz_request *r = NULL;
    sz_buf url, text, au, auth;
    const char *raw;
    action a;
    sz_buf_init(&url);
    sz_buf_init(&text);
    sz_buf_init(&au);
    sz_buf_init(&auth);
    NEED(x->user, accessToken, "member access token");
    if (strcmp(act, "notify") == 0) {
        x->result = fail("unsupported", "linkedin: the Messages API is restricted to approved partners");
        goto done;
    }
    if (author && *author)
        sz_buf_adds(&au, author);
    else if (pid && *pid)
        sz_buf_printf(&au, "urn:li:person:%s", pid);
    else {
        x->result = fail("not_connected", "linkedin: the connection needs author (a URN) or personId");
        goto done;
    }
    read_action(x->in, &a);
    raw = strcmp(act, "status") == 0 ? jstr(x->in, "status") : (a.message ? a.message : a.title);
    if (raw && (long)sz_text_codepoints(raw, strlen(raw)) > x->nt->text.max) {
        x->result = fail("content_invalid", "linkedin: commentary is longer than %ld characters",
                         x->nt->text.max);
        goto done;
    }
    if ((!raw || !*raw) && !(strcmp(act, "publish") == 0 && a.link)) {
        x->result = fail("content_invalid", "linkedin: nothing to post");
        goto done;
    }
    little_text(&text, raw ? raw : "");
    if (text.failed || au.failed)
        goto done;
    body = json_pack("{s:s, s:s%, s:s, s:{s:s, s:[], s:[]}, s:s, s:b}",
                     "author", au.data, "commentary", text.data ? text.data : "", text.len,
                     "visibility", "PUBLIC", "distribution", "feedDistribution", "MAIN_FEED",
                     "targetEntities", "thirdPartyDistributionChannels",
                     "lifecycleState", "PUBLISHED", "isReshareDisabledByAuthor", 0);
    if (!body)
        goto done;
    if (strcmp(act, "publish") == 0 && a.link) {
        json_t *art = json_pack("{s:s, s:s?, s:s?}", "source", a.link, "title", a.title,
                                "description", a.description);
        if (!art || json_object_set_new(body, "content", json_pack("{s:o}", "article", art)) != 0)
            goto done;
    }
    sz_buf_printf(&url, "%s/rest/posts", root);
    sz_buf_printf(&auth, "Bearer %s", accessToken);
    if (url.failed || auth.failed || !(r = req_json("POST", url.data, body)))
        goto done;
    if (sz_request_add_header(r, "Authorization", auth.data) ||
        sz_request_add_header(r, "LinkedIn-Version", version(x->nt, x->app)) ||
        sz_request_add_header(r, "X-Restli-Protocol-Version", "2.0.0")) {
        sz_request_free(r);
        r = NULL;
    }
done:
    free(root);
    json_decref(body);
    sz_buf_reset(&url);
    sz_buf_reset(&text);
    sz_buf_reset(&au);
    sz_buf_wipe(&auth);
    return r;
}

static json_t *parse_linkedin(const sz_provider_call *c, int status, const sz_header *h, size_t nh,
                              json_t *j, long long now)
{
    const char *id = header(h, nh, "x-restli-id"), *msg = jstr(j, "message"), *code = jstr(j, "code");
    char sc[32];
    json_t *r;
    (void)c;
    if (status >= 200 && status < 300)
        return success(id ? id : header(h, nh, "x-linkedin-id"));
    if (json_is_integer(json_object_get(j, "serviceErrorCode"))) {
        snprintf(sc, sizeof sc, "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(j, "serviceErrorCode")));
        code = sc;
    }
    if (status == 422) {
        json_t *ie = json_object_get(json_object_get(j, "errorDetails"), "inputErrors");
        size_t i;
        json_t *v;
        int dup = msg && strstr(msg, "duplicate of urn:li:");
        json_array_foreach(ie, i, v) if (jstr(v, "code") && strcmp(jstr(v, "code"), "DUPLICATE_POST") == 0) dup = 1;
        if (dup) {
            const char *u = msg ? strstr(msg, "urn:li:") : NULL;
            if (u) { /* the post exists: recover its URN */
                size_t n = strspn(u, "urn:liabcdefghijkmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-");
                char *urn = sz_strndup(u, n);
                r = success(urn);
                free(urn);
                json_object_set_new(r, "duplicate", json_true());
                return r;
            }
            return classify("duplicate", status, "DUPLICATE_POST", msg);
        }
    }
    if (status == 426)
        return classify("unsupported", status, code, msg ? msg : "LinkedIn-Version is not active");
    r = classify(by_status(status), status, code, msg);
    if (status == 429) { /* no headers: daily windows reset at midnight UTC */
        set_retry(r, 86400 - (now % 86400 + 86400) % 86400);
        set_scope(r, "app");
    }
    return r;
}

const sz_net sz_net_linkedin = {
    .name = "linkedin", .display = "LinkedIn", .rank = 3, .note = "Posts API", .gigya = 1,
    .base_url = "https://api.linkedin.com", .version = "202605",
    .text = {3000, SZ_TEXT_CODEPOINTS, -1, "", "userMessage|title"},
    .auth = SZ_AUTH_BEARER,
    .auth_fields = {"accessToken"},
    .secret_fields = {"accessToken"},
    .account_fields = {"personId", "author", "accessToken"},
    .app_key_fields = {"baseUrl"},
    .intent_default = 1,
    .intent = "https://www.linkedin.com/sharing/share-offsite/?url={u}",
    .raw_2xx_ok = 1, .notify_subject = 1, .rate_scope = "app",
    .build = build_linkedin, .parse = parse_linkedin,
};
