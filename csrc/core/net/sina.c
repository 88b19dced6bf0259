/* Sina Weibo: statuses/share.json (a URL on the safe domain, the real IP); OAuth 2.0.
 * A picture (one: JPEG, PNG or GIF under 5 MB, providers.md 5) goes in the
 * same call as the multipart part "pic"; without one the body is a form. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "sz_netkit.h"

/* open.weibo.com Error_code; providers.md 5 */
static const code_cat CODES_WEIBO[] = {
    {21301, 21301, "auth_expired"}, {21314, 21319, "auth_expired"}, {21327, 21327, "auth_expired"},
    {21332, 21332, "auth_expired"},
    {10004, 10005, "permission_missing"}, {10014, 10014, "permission_missing"},
    {20017, 20017, "duplicate"}, {20019, 20019, "duplicate"}, {20111, 20111, "duplicate"},
    {10022, 10024, "rate_limited"}, {20016, 20016, "rate_limited"},
    {20005, 20006, "content_invalid"}, {20008, 20008, "content_invalid"},
    {20012, 20012, "content_invalid"}, {10017, 10017, "content_invalid"},
    {20031, 20031, "policy_blocked"}, {10001, 10003, "transient"}, {0, 0, NULL}
};

static int host_under(const char *link, const char *domain)
{
    const char *h = strstr(link, "://"), *e;
    size_t hl, dl = strlen(domain);
    if (!h)
        return 0;
    h += 3;
    for (e = h; *e && *e != '/' && *e != ':' && *e != '?' && *e != '#'; e++)
        ;
    hl = (size_t)(e - h);
    if (hl == dl && strncasecmp(h, domain, dl) == 0)
        return 1;
    return hl > dl && h[hl - dl - 1] == '.' && strncasecmp(h + hl - dl, domain, dl) == 0;
}

/* A #topic# tag: '#', then at least one character that is neither '#' nor a
 * line break, then '#', in the text outside its URLs (a '#' in a URL is a
 * fragment, not a tag). Past the URLs counted, the rest is taken as text. */
#define SINA_MAX_URLS 32
static int has_topic(const char *s)
{
    size_t len = strlen(s), st[SINA_MAX_URLS], en[SINA_MAX_URLS], i, k = 0;
    size_t nu = sz_text_url_spans(s, len, st, en, SINA_MAX_URLS);
    int in_tag = 0, body = 0;
    if (nu > SINA_MAX_URLS)
        nu = SINA_MAX_URLS;
    for (i = 0; i < len; i++) {
        if (k < nu && i == st[k]) {
            i = en[k++] - 1;
            body = in_tag; /* a URL inside a tag is part of its text */
            continue;
        }
        if (s[i] == '#') {
            if (in_tag && body)
                return 1;
            in_tag = 1; /* a new opening '#' (or the first) */
            body = 0;
        } else if (s[i] == '\n' || s[i] == '\r') {
            in_tag = 0;
        } else if (in_tag) {
            body = 1;
        }
    }
    return 0;
}

#define WB_PIC_MAX (5LL * 1024 * 1024)

/* share.json with its one picture, multipart (the same fields, then "pic"). */
static sz_request *build_pic(ctx *x, const char *url, const char *token, const char *status, const char *rip)
{
    static const char *const TYPES[][2] = {{"image/jpeg", "jpg"}, {"image/png", "png"}, {"image/gif", "gif"},
                                           {NULL, NULL}};
    size_t n = media_count(x);
    sz_multipart mp;
    sz_media m;
    char fn[32];
    int t;
    if (n > 1) {
        x->result = fail("content_invalid", "sina: %zu media items; Weibo takes one picture", n);
        return NULL;
    }
    if (media_at(x, 0, &m) != 0 || (strcmp(m.kind, "image") != 0 && strcmp(m.kind, "gif") != 0)) {
        x->result = fail("content_invalid", "sina: mediaItems[%d]: Weibo takes a picture, not a %.20s",
                         m.index, m.obj ? m.kind : "non-object");
        return NULL;
    }
    for (t = 0; TYPES[t][0] && !(m.mime && strcmp(m.mime, TYPES[t][0]) == 0); t++)
        ;
    if (!TYPES[t][0]) {
        x->result = fail("content_invalid", "sina: mediaItems[%d] is %.40s; Weibo takes JPEG, PNG or GIF",
                         m.index, m.mime ? m.mime : "of no known type");
        return NULL;
    }
    if (!m.data) {
        x->result = fail("content_invalid", "sina: mediaItems[%d] has no bytes (Weibo takes the picture itself, "
                                            "never its URL)", m.index);
        return NULL;
    }
    if ((long long)m.len >= WB_PIC_MAX) {
        x->result = fail("content_invalid", "sina: mediaItems[%d] is %zu bytes; a picture must be under %lld",
                         m.index, m.len, WB_PIC_MAX);
        return NULL;
    }
    snprintf(fn, sizeof fn, "pic.%s", TYPES[t][1]);
    multipart_begin(&mp, x->c->nonce);
    multipart_field(&mp, "access_token", token);
    multipart_field(&mp, "status", status);
    multipart_field(&mp, "rip", rip);
    multipart_file(&mp, "pic", fn, m.mime, m.data, m.len);
    return multipart_finish(&mp, "POST", url);
}

static sz_request *build_sina(ctx *x)
{
    const char *act = x->c->action, *safe = jstr(x->app, "safeDomain");
    const char *rip = jstr(x->in, "rip");
    char *root = base_url(x->nt, x->app, NULL, NULL), *status = NULL;
    sz_params *p = sz_params_new();
    sz_request *r = NULL;
    sz_buf url;
    action a;
    sz_buf_init(&url);
    NEED(x->user, accessToken, "OAuth 2.0 access token");
    if (!rip)
        rip = jstr(x->user, "ip");
    if (!safe || !*safe) {
        x->result = fail("not_connected", "sina: the provider config needs safeDomain (the app's "
                                          "registered safe domain)");
        goto done;
    }
    if (!rip || !*rip) {
        x->result = fail("content_invalid", "sina: Weibo requires rip, the user's real IP "
                                            "(parameter rip, or ip in the connection)");
        goto done;
    }
    if (strcmp(act, "status") == 0) {
        const char *s = jstr(x->in, "status");
        size_t st[8], en[8], n = s ? sz_text_url_spans(s, strlen(s), st, en, 8) : 0, i;
        int found = 0;
        for (i = 0; i < n && i < 8; i++) {
            char *u = sz_strndup(s + st[i], en[i] - st[i]);
            found |= u && host_under(u, safe);
            free(u);
        }
        if (!found) {
            x->result = fail("content_invalid", "sina: the status must contain a URL on the safe domain %s", safe);
            goto done;
        }
    } else {
        const char *link = jstr(json_object_get(x->in, "userAction"), "linkBack");
        if (!link || !host_under(link, safe)) {
            x->result = fail("content_invalid", "sina: linkBack must be a URL on the safe domain %s", safe);
            goto done;
        }
    }
    if (!(status = text_of(x, &a)))
        goto done;
    if (has_topic(status)) {
        x->result = fail("content_invalid", "sina: share.json refuses #topic# tags");
        goto done;
    }
    sz_buf_printf(&url, "%s/2/statuses/share.json", root);
    if (url.failed)
        goto done;
    if (strcmp(act, "publish") == 0 && media_count(x)) {
        r = build_pic(x, url.data, accessToken, status, rip);
        goto done;
    }
    if (!p || pset(p, "access_token", accessToken) || pset(p, "status", status) || pset(p, "rip", rip))
        goto done;
    r = req_form("POST", url.data, p);
done:
    free(root);
    free(status);
    sz_params_free(p);
    sz_buf_reset(&url);
    return r;
}

static json_t *parse_sina(const sz_call_json *c, int status, const sz_header *h, size_t nh,
                          json_t *j, long long now)
{
    json_t *ec = json_object_get(j, "error_code");
    long long sc = 0;
    long code = json_is_integer(ec) ? (long)json_integer_value(ec)
                                    : (json_is_string(ec) && sz_parse_uint(json_string_value(ec), &sc) == 0
                                           ? (long)sc : 0);
    char cb[32];
    const char *cat;
    json_t *r;
    (void)c;
    (void)h;
    (void)nh;
    (void)now;
    if (!code && status >= 200 && status < 300) {
        char idb[32];
        json_t *pics = json_object_get(j, "pic_ids"), *ids = json_array(), *v;
        size_t i;
        r = success(jstr(j, "idstr") ? jstr(j, "idstr") : jid(j, "id", idb, sizeof idb));
        json_array_foreach(pics, i, v) if (json_is_string(v) && i < 18)
            json_array_append(ids, v);
        if (json_array_size(ids))
            json_object_set_new(r, "mediaIDs", ids);
        else
            sz_json_free(ids);
        return r;
    }
    if (code == 20032) { /* published, server sync delayed */
        r = success(NULL);
        json_object_set_new(r, "errorDetails", json_string("20032: published, server sync may be delayed"));
        return r;
    }
    snprintf(cb, sizeof cb, "%ld", code);
    cat = code ? lookup(CODES_WEIBO, code) : NULL;
    r = classify(cat ? cat : by_status(status), status, code ? cb : NULL, jstr(j, "error"));
    set_scope(r, code == 10022 ? "app" : "account");
    return r;
}

const sz_net sz_net_sina = {
    .name = "sina", .display = "Weibo", .rank = 5, .note = "statuses/share.json", .gigya = 1,
    .base_url = "https://api.weibo.com", .version = "2",
    .text = {280, SZ_TEXT_WEIBO, -1, " ", "userMessage,title;linkBack"},
    /* OAuth 2.0 (open.weibo.com/wiki/Oauth2): a web app's code grant gives
     * an access token with expires_in and the account's uid, no refresh
     * token (reconnect when it expires); identity by users/show.json?uid=
     * with "Authorization: OAuth2 <token>"; revoke by revokeoauth2 with the
     * access_token parameter */
    .oauth = {.authorize = "https://api.weibo.com/oauth2/authorize",
              .token = "https://api.weibo.com/oauth2/access_token",
              .revoke = "https://api.weibo.com/oauth2/revokeoauth2",
              .identity = "https://api.weibo.com/2/users/show.json", .id_path = "idstr",
              .nick_path = "screen_name", .token_field = "accessToken", .account_field = "userId",
              .token_account = "uid", .identity_query = "uid", .auth_scheme = "OAuth2",
              .revoke_param = "access_token", .revoke_grant = 1},
    .auth = SZ_AUTH_TOKEN_PARAM,
    .auth_fields = {"accessToken", "safeDomain"},
    .secret_fields = {"accessToken", "refreshToken", "clientSecret"},
    .account_fields = {"userId", "accessToken"},
    .no_notify = "Weibo offers no notification API",
    .app_key_fields = {"baseUrl"},
    .intent = "https://service.weibo.com/share/share.php?url={u}&title={t}&pic={i}",
    .media = {.images = 1, .max_image = WB_PIC_MAX - 1, .max_video = WB_PIC_MAX - 1,
              .mimes = "image/jpeg,image/png,image/gif"},
    .id_optional = 1, .rate_scope = "account", .codes = CODES_WEIBO,
    .no_readback = "statuses/user_timeline needs a permission above the basic one the connect flow has (which covers statuses/share)",
    .build = build_sina, .parse = parse_sina,
};
