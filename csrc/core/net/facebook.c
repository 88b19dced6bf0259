/* Facebook: Graph API, Page feed posts and Graph passthrough; Page access token. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "sz_netkit.h"

/* developers.facebook.com error-handling guide; providers.md 2 */
static const code_cat CODES_FACEBOOK[] = {
    {190, 190, "auth_expired"}, {102, 102, "auth_expired"}, {2500, 2500, "auth_expired"},
    {3, 3, "permission_missing"}, {10, 10, "permission_missing"}, {200, 299, "permission_missing"},
    {506, 506, "duplicate"},
    {4, 4, "rate_limited"}, {17, 17, "rate_limited"}, {32, 32, "rate_limited"},
    {613, 613, "rate_limited"}, {80000, 80014, "rate_limited"}, {341, 341, "quota_exhausted"},
    {368, 368, "policy_blocked"}, {1609005, 1609005, "content_invalid"}, {100, 100, "content_invalid"},
    {1, 2, "transient"}, {0, 0, NULL}
};


/* appsecret_proof = hex(HMAC-SHA256(app_secret, access_token)) */
static int appsecret_proof(const char *secret, const char *token, char out[65])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)token, strlen(token),
              mac, &n))
        return -1;
    hex(mac, n, out);
    return 0;
}

static int digits(const char *s)
{
    return s && *s && strspn(s, "0123456789") == strlen(s) && strlen(s) <= 32;
}

/* The library's cap on photos per post (attached_media has no documented
 * maximum; 10 is what the Page composer shows) and the photo size limit of
 * the Page photos reference (4 MB). */
#define FB_MAX_PHOTOS 10

/* a file name for the multipart part, by the type the front sniffed */
static const char *photo_name(const char *mime)
{
    static const char *const N[][2] = {{"image/jpeg", "photo.jpg"}, {"image/png", "photo.png"},
                                       {"image/gif", "photo.gif"}, {"image/webp", "photo.webp"}};
    size_t i;
    for (i = 0; mime && i < sizeof N / sizeof N[0]; i++)
        if (strcmp(mime, N[i][0]) == 0)
            return N[i][1];
    return "photo";
}

/* upload: POST /{page-id}/photos, unpublished (the feed post attaches it):
 * multipart `source` when the caller gave the bytes, else `url` (Facebook
 * fetches it itself). */
static sz_request *build_photo(ctx *x, sz_params *p, const char *root, const char *page)
{
    sz_media m;
    sz_buf url;
    sz_request *r = NULL;
    sz_buf_init(&url);
    if (step_item(x, &m) != 0)
        return NULL;
    if (strcmp(m.kind, "image") != 0 && strcmp(m.kind, "gif") != 0) {
        x->result = fail("unsupported", "facebook: a %s is not posted to a Page (photos only)",
                         m.kind);
        return NULL;
    }
    if (!m.data && !url_ok(m.url ? m.url : "")) {
        x->result = fail("content_invalid", "facebook: the item has no bytes and no http(s) URL");
        return NULL;
    }
    sz_buf_printf(&url, "%s/%s/%s/photos", root, version(x->nt, x->app), page);
    if (url.failed)
        return NULL;
    if (m.data) {
        sz_multipart mp;
        size_t i;
        multipart_begin(&mp, x->c->nonce);
        for (i = 0; i < sz_params_count(p); i++) {
            const char *k, *v;
            size_t kl, vl;
            if (sz_params_at(p, i, &k, &kl, &v, &vl) == 0)
                multipart_field(&mp, k, v);
        }
        multipart_field(&mp, "published", "false");
        if (m.alt)
            multipart_field(&mp, "alt_text_custom", m.alt);
        multipart_file(&mp, "source", photo_name(m.mime), m.mime, m.data, m.len);
        r = multipart_finish(&mp, "POST", url.data);
    } else if (!pset(p, "url", m.url) && !pset(p, "published", "false") &&
               !(m.alt && pset(p, "alt_text_custom", m.alt))) {
        r = req_form("POST", url.data, p);
    }
    sz_buf_reset(&url);
    return r;
}

/* attached_media[i]={"media_fbid":"<id>"}: the unpublished photos, in item order */
static int attach(ctx *x, sz_params *p, size_t n)
{
    size_t k;
    if (n > FB_MAX_PHOTOS) {
        x->result = fail("content_invalid", "facebook: %zu photos: at most %d per post", n, FB_MAX_PHOTOS);
        return -1;
    }
    for (k = 0; k < n; k++) {
        sz_media m;
        char key[40], val[96];
        if (media_at(x, k, &m) != 0 || !digits(m.id)) {
            x->result = fail("content_invalid", "facebook: mediaItems[%d]: not uploaded (no numeric photo id "
                                                "to attach)", media_at(x, k, &m) == 0 && m.index ? m.index : (int)k + 1);
            return -1;
        }
        snprintf(key, sizeof key, "attached_media[%zu]", k);
        snprintf(val, sizeof val, "{\"media_fbid\":\"%s\"}", m.id);
        if (pset(p, key, val))
            return -1;
    }
    return 0;
}

static sz_request *build_facebook(ctx *x)
{
    const char *act = x->c->action, *secret = jstr(x->app, "appSecret");
    if (!secret || !*secret) /* the app secret, as the connect flow's clientSecret */
        secret = jstr(x->app, "clientSecret");
    char *root = base_url(x->nt, x->app, NULL, NULL), proof[65];
    sz_params *p = sz_params_new();
    sz_request *r = NULL;
    sz_buf url;
    sz_buf_init(&url);
    NEED(x->user, accessToken, "Page access token");
    if (!p || !root || pset(p, "access_token", accessToken))
        goto done;
    if (secret && *secret) {
        if (appsecret_proof(secret, accessToken, proof) != 0 || pset(p, "appsecret_proof", proof))
            goto done;
    }
    if (strcmp(act, "graph") == 0) {
        const char *path = jstr(x->in, "graphPath"), *m = jstr(x->in, "method");
        json_t *gp = json_object_get(x->in, "graphParams"), *v;
        const char *k;
        if (!m)
            m = "GET";
        if (!path || path[0] == '\0' || strstr(path, "..") || strpbrk(path, "?# \r\n%\\")) {
            x->result = fail("content_invalid", "facebook: graphPath must be a path like /me/feed");
            goto done;
        }
        json_object_foreach(gp, k, v) {
            char *s;
            int bad;
            if (strcmp(k, "access_token") == 0 || strcmp(k, "appsecret_proof") == 0) {
                /* the connection's credentials are not the caller's to replace */
                x->result = fail("content_invalid", "facebook: graphParams.%s is set by the library "
                                                    "from the connection", k);
                goto done;
            }
            s = json_is_string(v) ? NULL : canon(v);
            bad = !json_is_string(v) && !s;
            bad = bad || pset(p, k, s ? s : json_string_value(v));
            free(s);
            if (bad)
                goto done;
        }
        sz_buf_printf(&url, "%s/%s%s%s", root, version(x->nt, x->app), path[0] == '/' ? "" : "/", path);
        if (strcmp(m, "POST") == 0) {
            r = req_form("POST", url.data, p);
        } else {
            char *q = sz_params_query(p, NULL);
            sz_buf_addc(&url, '?');
            if (q)
                sz_buf_adds(&url, q);
            if (q && !url.failed)
                r = sz_request_new(m, url.data);
            sz_free_str(q); /* access_token, appsecret_proof */
        }
        goto done;
    }
    if (strcmp(act, "unmedia") == 0) {
        /* an unpublished photo the post did not use: DELETE /{photo-id} */
        const char *id = jstr(step_state(x->c), "id");
        char *q;
        if (!digits(id)) {
            x->result = fail("content_invalid", "facebook: unmedia needs the numeric id of the uploaded photo");
            goto done;
        }
        q = sz_params_query(p, NULL);
        sz_buf_printf(&url, "%s/%s/%s?%s", root, version(x->nt, x->app), id, q ? q : "");
        if (q && !url.failed)
            r = sz_request_new("DELETE", url.data);
        sz_free_str(q); /* access_token, appsecret_proof */
        goto done;
    }
    {
        NEED(x->user, pageId, "Facebook Page id");
        if (strspn(pageId, "0123456789") != strlen(pageId)) {
            /* the id is a path segment: no '/', '?', '#', '%' or dot segment */
            x->result = fail("content_invalid", "facebook: the connection's pageId must be a numeric Page id");
            goto done;
        }
        if (strcmp(act, "upload") == 0) {
            r = build_photo(x, p, root, pageId);
            goto done;
        }
        if (strcmp(act, "recent") == 0) {
            /* the Page's own latest posts (pages_read_engagement, asked by
             * the connect flow): GET /{page-id}/posts */
            char *q = NULL, lim[16];
            snprintf(lim, sizeof lim, "%d", SZ_RECENT_COUNT);
            if (!pset(p, "fields", "id,message,created_time") && !pset(p, "limit", lim))
                q = sz_params_query(p, NULL);
            sz_buf_printf(&url, "%s/%s/%s/posts?%s", root, version(x->nt, x->app), pageId, q ? q : "");
            if (q && !url.failed)
                r = sz_request_new("GET", url.data);
            sz_free_str(q); /* access_token, appsecret_proof */
            goto done;
        }
        {
            /* since Graph v2.9 link previews come from the page's OG tags:
             * title and description go into the message; with photos the
             * link goes into the message too (a feed post has either a link
             * or attached_media) */
            action a;
            size_t n = media_count(x);
            char *m = n ? text_link_inline(x, &a) : text_of(x, &a);
            int bad = !m || (*m && pset(p, "message", m)) ||
                      (!n && a.link_to[0] && a.link && pset(p, a.link_to, a.link));
            free(m);
            if (bad || (n && attach(x, p, n) != 0))
                goto done;
        }
        sz_buf_printf(&url, "%s/%s/%s/feed", root, version(x->nt, x->app), pageId);
        if (!url.failed)
            r = req_form("POST", url.data, p);
    }
done:
    free(root);
    sz_params_free(p);
    sz_buf_reset(&url);
    return r;
}

static json_t *parse_facebook(const sz_call_json *c, int status, const sz_header *h, size_t nh,
                              json_t *j, long long now)
{
    json_t *e = json_object_get(j, "error"), *r;
    const char *cat;
    long ec, sub;
    (void)now;
    if (!e && status >= 200 && status < 300) {
        char idb[40];
        const char *id = jid(j, "id", idb, sizeof idb);
        if (strcmp(c->action, "graph") == 0) {
            r = success(id);
            json_object_set(r, "data", j);
            return r;
        }
        if (strcmp(c->action, "upload") == 0) {
            /* the unpublished photo: its id goes into attached_media */
            if (!digits(id))
                return classify("transient", status, NULL, "facebook: photo upload reply without a numeric id");
            return media_done(json_pack("{s:s}", "id", id));
        }
        if (strcmp(c->action, "recent") == 0) /* {"data": [{id, message, created_time}], "paging"} */
            return sz_nk_recent(json_object_get(j, "data"), "id", "message", "created_time");
        if (strcmp(c->action, "unmedia") == 0) /* {"success": true} */
            return json_is_true(json_object_get(j, "success"))
                       ? success(jstr(step_state(c), "id"))
                       : classify("transient", status, NULL, "facebook: the photo was not deleted");
        return success(id);
    }
    ec = (long)json_integer_value(json_object_get(e, "code"));
    sub = (long)json_integer_value(json_object_get(e, "error_subcode"));
    cat = e ? lookup(CODES_FACEBOOK, ec) : NULL;
    if (!cat && sub == 1404078)
        cat = "auth_expired";
    r = graph_error(status, e, cat);
    if (cat && strcmp(cat, "rate_limited") == 0) {
        /* X-Business-Use-Case-Usage: estimated_time_to_regain_access in minutes */
        const char *buc = header(h, nh, "x-business-use-case-usage");
        json_t *u = buc ? json_loads(buc, 0, NULL) : NULL, *v;
        const char *k;
        long long mins = -1;
        json_object_foreach(u, k, v) {
            json_t *first = json_array_get(v, 0);
            json_t *t = json_object_get(first, "estimated_time_to_regain_access");
            if (json_is_integer(t) && json_integer_value(t) > mins)
                mins = json_integer_value(t);
        }
        sz_json_free(u);
        if (mins >= 0)
            set_retry(r, sz_sat_mul(mins, 60));
    }
    return r;
}

const sz_net sz_net_facebook = {
    .name = "facebook", .display = "Facebook", .rank = 2, .note = "Graph API, Pages", .gigya = 1,
    .base_url = "https://graph.facebook.com", .version = "v26.0",
    .text = {63206, SZ_TEXT_CODEPOINTS, -1, "\n\n", "userMessage,title,subtitle,description,actionLinks;link=linkBack"},
    .auth = SZ_AUTH_TOKEN_PARAM,
    .auth_fields = {"accessToken", "appSecret"},
    .secret_fields = {"accessToken", "appSecret", "pageToken", "clientSecret", "userToken"},
    .account_fields = {"pageId", "accessToken"},
    .app_key_fields = {"baseUrl"},
    .no_notify = "notifications need the Messenger Platform, which Gigya never used",
    .intent_default = 1,
    .intent = "https://www.facebook.com/sharer/sharer.php?u={u}",
    .readback = "GET /{page-id}/posts?fields=id,message,created_time",
    /* photos only: each is uploaded unpublished (POST /{page-id}/photos by
     * url, or multipart source for bytes), then one feed post attaches them
     * (attached_media), one photo or ten; unused uploads are deleted */
    .media = {.images = FB_MAX_PHOTOS, .videos = 0, .audio = 0, .max_image = 4LL * 1024 * 1024,
              .mimes = "image/jpeg,image/png,image/gif,image/webp", .by_url = 1, .bytes = 1,
              .upload = 1, .alt = 1, .deletable = 1},
    /* Facebook Login (developers.facebook.com/docs/facebook-login/guides/advanced/manual-flow):
     * code -> short-lived user token -> long-lived user token (fb_exchange_token, ~60 days)
     * -> GET /me/accounts: each Page's id, name and Page token (no expiry when
     * obtained from a long-lived user token), followed by paging.next; the token reply has no
 * scope: GET /me/permissions says what was granted; revoke: DELETE /me/permissions */
    .oauth = {.authorize = "https://www.facebook.com/v26.0/dialog/oauth",
              .token = "https://graph.facebook.com/v26.0/oauth/access_token",
              .revoke = "https://graph.facebook.com/v26.0/me/permissions",
              .scopes = "pages_show_list pages_manage_posts pages_read_engagement",
              .identity = "https://graph.facebook.com/v26.0/me?fields=id,name", .id_path = "id", .nick_path = "name",
              .token_field = "accessToken", .account_field = "pageId",
              .exchange = "https://graph.facebook.com/v26.0/oauth/access_token",
              .exchange_grant = "fb_exchange_token", .exchange_param = "fb_exchange_token",
              .pages = "https://graph.facebook.com/v26.0/me/accounts?fields=id,name,access_token&limit=100",
              .permissions = "https://graph.facebook.com/v26.0/me/permissions", .token_query = 1, .revoke_grant = 1},
    .graph = 1, .rate_scope = "account", .codes = CODES_FACEBOOK,
    .build = build_facebook, .parse = parse_facebook,
};
