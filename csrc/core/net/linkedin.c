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

/* LinkedIn "little text" (learn.microsoft.com .../little-text-format): every
 * reserved character  \\ | { } @ [ ] ( ) < > # * _ ~  is backslash-escaped
 * wherever it is, "even if those characters are not used in one of the
 * supported elements". URLs too: LinkedIn reads the escapes away before it
 * links a URL, and an unescaped '(' or '_' in one cuts the post there. The
 * one element kept is a HashtagElement ('#' SINGLE_WORD) at a word start
 * outside a URL, so that hashtags stay hashtags; a caller's text never becomes
 * a mention or a template. */
#define LI_MAX_URLS 64
static void little_text(sz_buf *b, const char *s)
{
    size_t len = strlen(s), i, k = 0, starts[LI_MAX_URLS], ends[LI_MAX_URLS];
    size_t nu = sz_text_url_spans(s, len, starts, ends, LI_MAX_URLS);
    if (nu > LI_MAX_URLS)
        nu = LI_MAX_URLS;
    for (i = 0; i < len; i++) {
        unsigned char next = i + 1 < len ? (unsigned char)s[i + 1] : 0;
        int in_url;
        while (k < nu && i >= ends[k])
            k++;
        in_url = k < nu && i >= starts[k];
        if (s[i] == '#' && !in_url && (isalnum(next) || next >= 0x80) &&
            (i == 0 || strchr(" \t\r\n([{\"'", s[i - 1])))
            ; /* a hashtag */
        else if (strchr("\\|{}@[]()<>#*_~", s[i]))
            sz_buf_addc(b, '\\');
        sz_buf_addc(b, s[i]);
    }
}

/* The host of a link (lower case, without user information, port or a
 * leading "www."), for an article that has no title. */
static void link_host(sz_buf *b, const char *link)
{
    const char *h = strstr(link, "://"), *e, *at;
    size_t i;
    h = h ? h + 3 : link;
    e = h + strcspn(h, "/?#");
    for (at = h; at < e; at++)
        if (*at == '@')
            h = at + 1;
    if (*h == '[')
        e = h + strcspn(h, "]/?#") + (h[strcspn(h, "]/?#")] == ']');
    else
        for (at = h; at < e; at++)
            if (*at == ':') {
                e = at;
                break;
            }
    if (e - h > 4 && strncasecmp(h, "www.", 4) == 0)
        h += 4;
    for (i = 0; h + i < e; i++)
        sz_buf_addc(b, (char)tolower((unsigned char)h[i]));
}

static sz_request *build_linkedin(ctx *x)
{
    const char *author = jstr(x->user, "author"), *pid = jstr(x->user, "personId");
    char *root = base_url(x->nt, x->app, NULL, NULL);
    json_t *body = NULL;
    sz_request *r = NULL;
    sz_buf url, text, au, host;
    char *raw = NULL;
    action a;
    sz_buf_init(&url);
    sz_buf_init(&text);
    sz_buf_init(&au);
    sz_buf_init(&host);
    NEED(x->user, accessToken, "member access token");
    if (author && *author)
        sz_buf_adds(&au, author);
    else if (pid && *pid)
        sz_buf_printf(&au, "urn:li:person:%s", pid);
    else {
        x->result = fail("not_connected", "linkedin: the connection needs author (a URN) or personId");
        goto done;
    }
    if (!(raw = text_of(x, &a)))
        goto done;
    little_text(&text, raw);
    if (text.failed || au.failed)
        goto done;
    body = json_pack("{s:s, s:s%, s:s, s:{s:s, s:[], s:[]}, s:s, s:b}",
                     "author", au.data, "commentary", text.data ? text.data : "", text.len,
                     "visibility", "PUBLIC", "distribution", "feedDistribution", "MAIN_FEED",
                     "targetEntities", "thirdPartyDistributionChannels",
                     "lifecycleState", "PUBLISHED", "isReshareDisabledByAuthor", 0);
    if (!body)
        goto done;
    if (a.link_to[0] && a.link) {
        /* an article always has a title: the action's, its subtitle, else the link's host */
        const char *title = a.title && *a.title ? a.title : a.subtitle && *a.subtitle ? a.subtitle : NULL;
        json_t *art;
        if (!title) {
            link_host(&host, a.link);
            title = host.len ? host.data : a.link;
        }
        art = host.failed ? NULL : json_pack("{s:s, s:s}", "source", a.link, "title", title);
        /* no description: the key is absent, not null (Rest.li refuses a null
         * field); not json_pack's "s*", which drops the key when the string
         * cannot be allocated */
        if (art && a.description && json_object_set_new(art, "description", json_string(a.description)) != 0) {
            sz_json_free(art);
            art = NULL;
        }
        if (!art || json_object_set_new(body, "content", json_pack("{s:o}", "article", art)) != 0)
            goto done;
    }
    sz_buf_printf(&url, "%s/rest/posts", root);
    if (url.failed || !(r = req_json("POST", url.data, body)))
        goto done;
    if (sz_request_add_header(r, "LinkedIn-Version", version(x->nt, x->app)) ||
        sz_request_add_header(r, "X-Restli-Protocol-Version", "2.0.0")) {
        sz_request_free(r);
        r = NULL;
    }
done:
    free(root);
    free(raw);
    sz_json_free(body);
    sz_buf_reset(&url);
    sz_buf_reset(&text);
    sz_buf_reset(&au);
    sz_buf_reset(&host);
    return r;
}

static json_t *parse_linkedin(const sz_call_json *c, int status, const sz_header *h, size_t nh,
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
    .text = {3000, SZ_TEXT_CODEPOINTS, -1, "", "userMessage|title;content.article=linkBack"},
    .auth = SZ_AUTH_BEARER, .bearer = {"accessToken", 0},
    .auth_fields = {"accessToken"},
    .secret_fields = {"accessToken"},
    .account_fields = {"personId", "author", "accessToken"},
    .app_key_fields = {"baseUrl"},
    .no_notify = "the Messages API is restricted to approved partners",
    .intent_default = 1,
    .intent = "https://www.linkedin.com/sharing/share-offsite/?url={u}",
    .raw_2xx_ok = 1, .notify_subject = 1, .rate_scope = "app",
    .build = build_linkedin, .parse = parse_linkedin,
};
