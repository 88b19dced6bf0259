/* VK: wall.post with a guid de-duplicating repeats; user token (wall scope).
 *
 * Media: each photo goes through three "upload" steps, the state saying
 * which (stage):
 *   (none)   photos.getWallUploadServer (group_id for a community wall)
 *            -> {upload_url}
 *   "upload" multipart `photo` POSTed to that upload_url (a URL from the
 *            network: http(s) only, the front's guard checks it as any)
 *            -> {server, photo, hash}
 *   "save"   photos.saveWallPhoto(photo, server, hash, user_id | group_id)
 *            -> [{id, owner_id}]: the item's id is the attachment
 *            "photo<owner_id>_<id>"
 * then wall.post names them in `attachments` (the link last). An upload URL
 * the upload server refuses (expired) restarts the item once with a new one.
 * VK's errors come with HTTP 200 ({"error": {error_code, ...}}), the upload
 * server's as {"error": "ERR_UPLOAD_...: ..."}: every step classifies them.
 * "unmedia" deletes a saved photo the post did not use (photos.delete). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "sz_netkit.h"

/* vk-api-schema errors.json; providers.md 4 */
static const code_cat CODES_VK[] = {
    {5, 5, "auth_expired"}, {27, 28, "auth_expired"},
    {7, 7, "permission_missing"}, {15, 15, "permission_missing"}, {203, 203, "permission_missing"},
    {210, 210, "permission_missing"}, {214, 214, "permission_missing"},
    {6, 6, "rate_limited"}, {9, 9, "rate_limited"}, {29, 29, "rate_limited"},
    {14, 14, "policy_blocked"}, {17, 17, "policy_blocked"},
    {100, 100, "content_invalid"}, {219, 224, "content_invalid"}, {3102, 3102, "content_invalid"},
    {1, 1, "transient"}, {10, 10, "transient"}, {0, 0, NULL}
};

#define VK_MAX_ATTACH 10             /* wall.post attachments, the link included */
#define VK_MAX_IMAGE 52428800LL      /* 50 MB per photo */
#define VK_MAX_RESTARTS 1            /* new upload URLs after an expired one */

/* The owner of the wall: ownerId (negative: a community), else userId. */
static const char *owner_of(json_t *user, char *buf, size_t n)
{
    const char *o = jid(user, "ownerId", buf, n);
    return o ? o : jid(user, "userId", buf, n);
}

/* a decimal integer, optionally negative, at most 19 digits */
static int vk_int(const char *s)
{
    size_t n = 0;
    if (s && *s == '-')
        s++;
    if (!s)
        return 0;
    for (; s[n]; n++)
        if (n >= 19 || s[n] < '0' || s[n] > '9')
            return 0;
    return n > 0;
}

/* an attachment id "photo<owner>_<id>" */
static int photo_ok(const char *s)
{
    char o[24], i[24];
    const char *u;
    size_t ol;
    if (!s || strncmp(s, "photo", 5) != 0 || !(u = strchr(s + 5, '_')))
        return 0;
    ol = (size_t)(u - (s + 5));
    if (ol == 0 || ol >= sizeof o || strlen(u + 1) >= sizeof i)
        return 0;
    memcpy(o, s + 5, ol);
    o[ol] = '\0';
    strcpy(i, u + 1);
    return vk_int(o) && vk_int(i) && i[0] != '-';
}

/* the common parameters: access_token, v; 0 or -1 (out of memory) */
static int vk_auth(ctx *x, sz_params *p, const char *token)
{
    return pset(p, "access_token", token) || pset(p, "v", version(x->nt, x->app)) ? -1 : 0;
}

/* the file name VK's upload server wants (it goes by the extension) */
static const char *photo_name(const char *mime)
{
    if (mime && strcmp(mime, "image/png") == 0)
        return "photo.png";
    if (mime && strcmp(mime, "image/gif") == 0)
        return "photo.gif";
    return "photo.jpg";
}

/* upload: the step of the state's stage (see the top of the file) */
static sz_request *build_upload(ctx *x, const char *root, const char *token, const char *owner)
{
    json_t *st = step_state(x->c);
    const char *stage = jstr(st, "stage");
    sz_params *p = NULL;
    sz_request *r = NULL;
    sz_buf url;
    sz_media m;
    int group = owner[0] == '-';
    if (step_image(x, &m, VK_MAX_IMAGE, "only photos are posted", "photo") != 0)
        return NULL;
    if (stage && strcmp(stage, "upload") == 0) {
        const char *u = jstr(st, "uploadUrl");
        sz_multipart mp;
        if (!u || !url_ok(u) || strlen(u) > 4096) {
            x->result = fail("content_invalid", "vkontakte: mediaItems[%d]: the upload URL is not a plain http(s) URL",
                             m.index);
            return NULL;
        }
        multipart_begin(&mp, x->c->nonce);
        multipart_file(&mp, "photo", photo_name(m.mime), m.mime, m.data, m.len);
        return multipart_finish(&mp, "POST", u);
    }
    sz_buf_init(&url);
    if (!(p = sz_params_new()) || vk_auth(x, p, token) != 0)
        goto done;
    if (stage && strcmp(stage, "save") == 0) {
        char sb[32];
        const char *server = jid(st, "server", sb, sizeof sb), *photo = jstr(st, "photo"), *hash = jstr(st, "hash");
        if (!vk_int(server) || !photo || !*photo || !hash || !*hash) {
            x->result = fail("content_invalid", "vkontakte: mediaItems[%d]: the upload step's state has no "
                             "server, photo and hash", m.index);
            goto done;
        }
        if (pset(p, "photo", photo) || pset(p, "server", server) || pset(p, "hash", hash) ||
            pset(p, group ? "group_id" : "user_id", group ? owner + 1 : owner))
            goto done;
        sz_buf_printf(&url, "%s/method/photos.saveWallPhoto", root);
    } else if (stage) {
        x->result = fail("content_invalid", "vkontakte: mediaItems[%d]: unknown upload stage '%.20s'", m.index, stage);
        goto done;
    } else {
        if (group && pset(p, "group_id", owner + 1))
            goto done;
        sz_buf_printf(&url, "%s/method/photos.getWallUploadServer", root);
    }
    if (!url.failed)
        r = req_form("POST", url.data, p);
done:
    sz_params_free(p);
    sz_buf_reset(&url);
    return r;
}

/* unmedia: photos.delete of a saved photo the post did not use */
static sz_request *build_unmedia(ctx *x, const char *root, const char *token)
{
    json_t *md = step_state(x->c);
    const char *id = jstr(md, "id");
    char o[24], i[24];
    sz_params *p;
    sz_request *r = NULL;
    sz_buf url;
    if (!photo_ok(id)) {
        x->result = fail("content_invalid", "vkontakte: unmedia: no photo id (photo<owner>_<id>)");
        return NULL;
    }
    {
        const char *u = strchr(id + 5, '_');
        memcpy(o, id + 5, (size_t)(u - (id + 5)));
        o[u - (id + 5)] = '\0';
        strcpy(i, u + 1);
    }
    sz_buf_init(&url);
    sz_buf_printf(&url, "%s/method/photos.delete", root);
    if ((p = sz_params_new()) && !pset(p, "owner_id", o) && !pset(p, "photo_id", i) && !vk_auth(x, p, token) &&
        !url.failed)
        r = req_form("POST", url.data, p);
    sz_params_free(p);
    sz_buf_reset(&url);
    return r;
}

/* wall.post's attachments: the photos in item order, then the link */
static int attachments(ctx *x, const action *a, sz_params *p)
{
    size_t n = media_count(x), k;
    const char *link = a->link_to[0] ? a->link : NULL; /* NULL: in the text */
    sz_buf b;
    int rc;
    if (!n)
        return link ? pset(p, a->link_to, link) : 0;
    if (n + (link ? 1 : 0) > VK_MAX_ATTACH) {
        x->result = fail("content_invalid", "vkontakte: %zu photos%s; at most %d attachments per post", n,
                         link ? " and a link" : "", VK_MAX_ATTACH);
        return -1;
    }
    sz_buf_init(&b);
    for (k = 0; k < n; k++) {
        sz_media m;
        if (media_at(x, k, &m) != 0 || !photo_ok(m.id)) {
            x->result = fail("content_invalid", "vkontakte: mediaItems[%d] was not uploaded (no photo id)",
                             m.index ? m.index : (int)k + 1);
            sz_buf_reset(&b);
            return -1;
        }
        sz_buf_printf(&b, "%s%s", k ? "," : "", m.id);
    }
    if (link)
        sz_buf_printf(&b, ",%s", link);
    rc = b.failed ? -1 : pset(p, a->link_to[0] ? a->link_to : "attachments", b.data);
    sz_buf_reset(&b);
    return rc;
}

static sz_request *build_vkontakte(ctx *x)
{
    char *root = base_url(x->nt, x->app, NULL, NULL), idb[32], guid[65], *cin = NULL;
    sz_params *p = sz_params_new();
    sz_request *r = NULL;
    sz_buf url;
    const char *owner;
    sz_buf_init(&url);
    NEED(x->user, accessToken, "user access token (wall scope)");
    owner = owner_of(x->user, idb, sizeof idb);
    if (!owner || !vk_int(owner)) {
        x->result = fail("not_connected", "vkontakte: the connection needs ownerId or userId (a number)");
        goto done;
    }
    if (!p || !root)
        goto done;
    if (strcmp(x->c->action, "upload") == 0) {
        r = build_upload(x, root, accessToken, owner);
        goto done;
    }
    if (strcmp(x->c->action, "unmedia") == 0) {
        r = build_unmedia(x, root, accessToken);
        goto done;
    }
    {
        action a;
        char *m = text_of(x, &a);
        /* at most one external URL: the link, in attachments after the photos */
        int bad = !m || (*m && pset(p, "message", m)) || attachments(x, &a, p);
        free(m);
        if (bad)
            goto done;
    }
    {
        json_t *loc = json_object_get(x->in, "userLocation"), *la = json_object_get(loc, "latitude"),
               *lo = json_object_get(loc, "longitude");
        if (json_is_number(la) && json_is_number(lo)) {
            char b1[40], b2[40];
            sz_buf t;
            int bad;
            sz_buf_init(&t);
            sz_number_buf(&t, json_number_value(la));
            bad = t.failed;
            snprintf(b1, sizeof b1, "%s", t.data ? t.data : "0");
            sz_buf_reset(&t);
            sz_number_buf(&t, json_number_value(lo));
            bad |= t.failed;
            snprintf(b2, sizeof b2, "%s", t.data ? t.data : "0");
            sz_buf_reset(&t);
            if (bad || pset(p, "lat", b1) || pset(p, "long", b2))
                goto done;
        }
    }
    /* guid de-duplicates a repeated post of the same content by the same owner */
    cin = canon(x->in);
    if (!cin)
        goto done;
    digest_hex(owner, cin, guid);
    guid[32] = '\0';
    if (pset(p, "guid", guid) || pset(p, "owner_id", owner) || pset(p, "access_token", accessToken) ||
        pset(p, "v", version(x->nt, x->app)))
        goto done;
    sz_buf_printf(&url, "%s/method/wall.post", root);
    if (!url.failed)
        r = req_form("POST", url.data, p);
done:
    free(root);
    free(cin);
    sz_params_free(p);
    sz_buf_reset(&url);
    return r;
}

/* The upload server's reply (stage "upload"): {server, photo, hash} -> the
 * "save" stage; an expired URL (its refusal) -> a new one, once. */
static json_t *parse_uploaded(const sz_call_json *c, int status, json_t *j)
{
    json_t *st = step_state(c), *rs = json_object_get(st, "restarts");
    const char *err = jstr(j, "error"), *photo = jstr(j, "photo"), *hash = jstr(j, "hash");
    char sb[32];
    const char *server = jid(j, "server", sb, sizeof sb);
    long long restarts = json_is_integer(rs) ? (long long)json_integer_value(rs) : 0;
    char msg[256];
    if (status >= 500 || status == 0 || status == 429)
        return classify(by_status(status), status, NULL, "the upload server failed");
    if (err && (strstr(err, "ERR_UPLOAD_BAD_IMAGE") || strstr(err, "ERR_UPLOAD_BAD_FILE")))
        return classify("content_invalid", status, NULL, err);
    if (status >= 200 && status < 300 && !err && vk_int(server) && hash && *hash && photo && *photo &&
        strcmp(photo, "[]") != 0) {
        json_int_t sv = (json_int_t)strtoll(server, NULL, 10);
        return media_next(json_pack("{s:s, s:I, s:s, s:s}", "stage", "save", "server", sv, "photo", photo, "hash",
                                    hash), 0);
    }
    /* a refusal of the URL itself (expired, bad signature), or no photo in
     * the reply: a new upload URL, once */
    if (restarts >= 0 && restarts < VK_MAX_RESTARTS)
        return media_next(json_pack("{s:I}", "restarts", (json_int_t)(restarts + 1)), 0);
    snprintf(msg, sizeof msg, "%.200s (after a new upload URL)", err ? err : "the upload server took no photo");
    return classify("transient", status, NULL, msg);
}

/* VK's error object (HTTP 200 as any other status) */
static json_t *vk_error(int status, json_t *e)
{
    char code[32];
    const char *cat;
    json_t *r;
    snprintf(code, sizeof code, "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(e, "error_code")));
    cat = lookup(CODES_VK, (long)json_integer_value(json_object_get(e, "error_code")));
    r = classify(cat ? cat : "transient", status, code, jstr(e, "error_msg"));
    set_scope(r, "account");
    return r;
}

static json_t *parse_vkontakte(const sz_call_json *c, int status, const sz_header *h, size_t nh,
                               json_t *j, long long now)
{
    json_t *e = json_object_get(j, "error"), *resp = json_object_get(j, "response");
    char idb[32], pid[64];
    const char *owner;
    (void)h;
    (void)nh;
    (void)now;
    if (strcmp(c->action, "upload") == 0) {
        const char *stage = jstr(step_state(c), "stage");
        if (stage && strcmp(stage, "upload") == 0)
            return parse_uploaded(c, status, j);
        if (json_is_object(e))
            return vk_error(status, e);
        if (stage && strcmp(stage, "save") == 0) {
            json_t *ph = json_array_get(resp, 0), *id = json_object_get(ph, "id"), *ow = json_object_get(ph, "owner_id");
            if (json_is_integer(id) && json_is_integer(ow) && json_integer_value(id) > 0) {
                snprintf(pid, sizeof pid, "photo%" JSON_INTEGER_FORMAT "_%" JSON_INTEGER_FORMAT,
                         json_integer_value(ow), json_integer_value(id));
                return media_done(json_pack("{s:s}", "id", pid));
            }
            return classify(by_status(status == 200 ? 502 : status), status, NULL,
                            "photos.saveWallPhoto reply has no photo");
        }
        {
            const char *u = jstr(resp, "upload_url");
            json_t *rs = json_object_get(step_state(c), "restarts");
            if (u && url_ok(u) && strlen(u) <= 4096)
                return media_next(json_pack("{s:s, s:s, s:I}", "stage", "upload", "uploadUrl", u, "restarts",
                                            json_is_integer(rs) ? json_integer_value(rs) : (json_int_t)0), 0);
            return classify(by_status(status == 200 ? 502 : status), status, NULL,
                            "photos.getWallUploadServer reply has no http(s) upload_url");
        }
    }
    if (strcmp(c->action, "unmedia") == 0 && !e) {
        if (json_is_integer(resp) && json_integer_value(resp) == 1)
            return success(photo_ok(jstr(step_state(c), "id")) ? jstr(step_state(c), "id") : "deleted");
        return classify(by_status(status == 200 ? 502 : status), status, NULL, "photos.delete reply is not 1");
    }
    if (!e && json_is_object(resp) && json_is_integer(json_object_get(resp, "post_id"))) {
        owner = owner_of(c->user, idb, sizeof idb);
        snprintf(pid, sizeof pid, "%s_%" JSON_INTEGER_FORMAT, owner ? owner : "0",
                 json_integer_value(json_object_get(resp, "post_id")));
        return success(pid);
    }
    if (!e)
        return classify(by_status(status == 200 ? 502 : status), status, NULL, "reply has neither response nor error");
    return vk_error(status, e);
}

const sz_net sz_net_vkontakte = {
    .name = "vkontakte", .display = "VK", .rank = 4, .note = "wall.post; photos by photos.getWallUploadServer and photos.saveWallPhoto", .gigya = 1,
    .base_url = "https://api.vk.com", .version = "5.199",
    .text = {16384, SZ_TEXT_CODEPOINTS, -1, "\n\n", "userMessage,title,description;attachments=linkBack"},
/* VK ID, OAuth 2.1 (id.vk.com/about/business/go/docs/ru/vkid/latest/vk-id/
     * connection/api-integration/api-description): PKCE S256 required, 1-hour
     * tokens, the callback's device_id sent with every token call, state on
     * the token calls too; refresh tokens treated as single use (unverified);
     * no revoke endpoint used (local delete) */
    .oauth = {.authorize = "https://id.vk.com/authorize", .token = "https://id.vk.com/oauth2/auth",
              .scopes = "vkid.personal_info wall photos", .pkce = 1, .refresh = 1, .rotating = 1,
              .identity = "https://id.vk.com/oauth2/user_info", .id_path = "user.user_id",
              .nick_path = "user.first_name", .token_field = "accessToken", .account_field = "userId",
              .callback_param = "device_id", .token_state = 1, .identity_post = 1},
    .auth = SZ_AUTH_TOKEN_PARAM,
    .auth_fields = {"accessToken"},
    .secret_fields = {"accessToken", "refreshToken", "clientSecret"},
    .account_fields = {"userId", "ownerId", "accessToken"},
    .app_key_fields = {"baseUrl"},
    .no_notify = "messages.send needs a community token; not offered",
    .media = {.images = VK_MAX_ATTACH, .max_image = VK_MAX_IMAGE, .mimes = "image/jpeg,image/png,image/gif",
              .upload = 1, .deletable = 1},
    .idem = {SZ_IDEM_PARAM, "guid"},
    .intent = "https://vk.com/share.php?url={u}&title={t}&comment={d}",
    .rate_scope = "account", .codes = CODES_VK,
    .no_readback = "not needed: an unconfirmed post is resent with the same idempotency key",
    .build = build_vkontakte, .parse = parse_vkontakte,
};
