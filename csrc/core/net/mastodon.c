/* Mastodon: POST /api/v1/statuses with an Idempotency-Key; the instance's limits
 * are read first (setup step "instance", GET /api/v2/instance). Media
 * (mastodon/documentation content/en/methods/media.md): each item is uploaded
 * with POST /api/v2/media (multipart "file" and "description"), which answers
 * 200 with the attachment (small images are processed at once) or 202 with
 * "url": null; then GET /api/v1/media/:id is polled (206 while processing, 200
 * when done, 422 when processing failed) and the ids go in media_ids[] of the
 * status. An upload the post did not use is deleted (DELETE /api/v1/media/:id). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "sz_netkit.h"

/* polls of GET /api/v1/media/:id before the upload is given up (transient):
 * with the waits of poll_wait, about four minutes */
#define MD_MAX_POLLS 60
/* Mastodon's MediaAttachment::MAX_DESCRIPTION_LENGTH, in characters */
#define MD_MAX_ALT 1500
/* defaults of a Mastodon 4 instance: Status::MEDIA_ATTACHMENTS_LIMIT,
 * MediaAttachment::IMAGE_LIMIT (16 MB) and VIDEO_LIMIT (99 MB) */
#define MD_MAX_MEDIA 4
#define MD_IMAGE_LIMIT 16777216LL
#define MD_VIDEO_LIMIT 103809024LL

static int is_av(const char *kind)
{
    return strcmp(kind, "video") == 0 || strcmp(kind, "audio") == 0;
}

/* A media id as Mastodon makes them (digits; letters and '-', '_' tolerated),
 * safe in a URL path: else NULL. */
static const char *media_id(json_t *o)
{
    const char *id = jstr(o, "id");
    size_t n = id ? strlen(id) : 0, i;
    if (n == 0 || n > 64)
        return NULL;
    for (i = 0; i < n; i++)
        if (!isalnum((unsigned char)id[i]) && id[i] != '-' && id[i] != '_')
            return NULL;
    return id;
}

static const char *ext_of(const char *mime)
{
    static const char *const T[][2] = {{"image/jpeg", "jpg"}, {"image/png", "png"}, {"image/gif", "gif"},
                                       {"image/webp", "webp"}, {"video/mp4", "mp4"}, {"video/quicktime", "mov"},
                                       {"audio/mpeg", "mp3"}};
    size_t i;
    for (i = 0; mime && i < sizeof T / sizeof *T; i++)
        if (strcasecmp(mime, T[i][0]) == 0)
            return T[i][1];
    return "bin";
}

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* The upload step: POST /api/v2/media at first, then GET /api/v1/media/:id
 * while the instance processes it. */
static sz_request *build_upload(ctx *x, const char *root)
{
    json_t *st = step_state(x->c);
    sz_media m;
    sz_request *r = NULL;
    sz_buf url;
    if (step_item(x, &m) != 0)
        return NULL;
    sz_buf_init(&url);
    if (st) {
        const char *id = media_id(st);
        if (!id) {
            x->result = fail("content_invalid", "mastodon: mediaItems[%d]: the upload step state has no valid media id",
                             m.index);
            return NULL;
        }
        sz_buf_printf(&url, "%s/api/v1/media/%s", root, id);
        if (!url.failed)
            r = sz_request_new("GET", url.data);
    } else {
        long long lim = is_av(m.kind) ? jint(x->setup, "videoSizeLimit", 1, 1LL << 40, x->nt->media.max_video)
                                      : jint(x->setup, "imageSizeLimit", 1, 1LL << 40, x->nt->media.max_image);
        char fname[32];
        sz_multipart mp;
        if (!m.data) {
            x->result = fail("content_invalid", "mastodon: mediaItems[%d] has no bytes: Mastodon takes uploads only, "
                             "never a URL", m.index);
            return NULL;
        }
        if ((long long)m.len > lim) {
            x->result = fail("content_invalid", "mastodon: mediaItems[%d] is %lld bytes, over the instance's limit "
                             "of %lld bytes for %s", m.index, (long long)m.len, lim,
                             is_av(m.kind) ? "a video or audio" : "an image");
            return NULL;
        }
        if (m.alt && utf8_chars(m.alt) > MD_MAX_ALT) {
            x->result = fail("content_invalid", "mastodon: mediaItems[%d]: the alt text counts %lld characters of "
                             "%d allowed", m.index, (long long)utf8_chars(m.alt), MD_MAX_ALT);
            return NULL;
        }
        snprintf(fname, sizeof fname, "media%d.%s", m.index, ext_of(m.mime));
        sz_buf_printf(&url, "%s/api/v2/media", root);
        multipart_begin(&mp, x->c->nonce);
        if (m.alt)
            multipart_field(&mp, "description", m.alt);
        multipart_file(&mp, "file", fname, m.mime, m.data, m.len);
        if (url.failed)
            sz_buf_reset(&mp.b);
        else
            r = multipart_finish(&mp, "POST", url.data);
    }
    sz_buf_reset(&url);
    return r;
}

/* Deletes an upload the post did not use. */
static sz_request *build_unmedia(ctx *x, const char *root)
{
    const char *id = media_id(step_state(x->c));
    sz_request *r = NULL;
    sz_buf url;
    if (!id) {
        x->result = fail("content_invalid", "mastodon: unmedia: no valid media id in the step state");
        return NULL;
    }
    sz_buf_init(&url);
    sz_buf_printf(&url, "%s/api/v1/media/%s", root, id);
    if (!url.failed)
        r = sz_request_new("DELETE", url.data);
    sz_buf_reset(&url);
    return r;
}

/* media_ids of a publish, in item order, after the instance's rules (at most
 * max_media_attachments, a video or audio alone); NULL with x->result set
 * (NULL alone: out of memory). */
static json_t *media_ids(ctx *x)
{
    size_t n = media_count(x), k;
    long long max = jint(x->setup, "maxMediaAttachments", 1, 1000, x->nt->media.images);
    json_t *ids = json_array();
    for (k = 0; ids && k < n; k++) {
        sz_media m;
        const char *id;
        if (media_at(x, k, &m) != 0 || !(id = media_id(m.obj))) {
            x->result = fail("content_invalid", "mastodon: mediaItems[%d] was not uploaded (no media id)",
                             media_at(x, k, &m) == 0 && m.index ? m.index : (int)k + 1);
            break;
        }
        if (n > 1 && is_av(m.kind)) {
            x->result = fail("content_invalid", "mastodon: mediaItems[%d] is %s %s: it goes alone, not with %d other "
                             "items", m.index, strcmp(m.kind, "audio") ? "a" : "an", m.kind, (int)n - 1);
            break;
        }
        if (json_array_append_new(ids, json_string(id)) != 0)
            break;
    }
    if (!x->result && ids && json_array_size(ids) == n && (long long)n > max)
        x->result = fail("content_invalid", "mastodon: %d media items, the instance takes at most %lld per post",
                         (int)n, max);
    if (x->result || (ids && json_array_size(ids) != n)) {
        sz_json_free(ids);
        return NULL;
    }
    return ids;
}

/* The Idempotency-Key's content: the input, its media described by what
 * the caller gave (kind, type, size, alt and the SHA-256 of the bytes, or the
 * URL) and never by the ids the uploads got. A retry of the same post uploads
 * the same media again and gets new ids; with them in the digest each try
 * would have its own key and a post the instance made but whose reply was
 * lost would be made twice. With the same content, the retry's key is the
 * first try's and the instance returns the original status. An input without
 * media is digested as it is. Caller frees. */
static char *idem_content(ctx *x)
{
    size_t n = media_count(x), k;
    json_t *in, *items;
    char *s;
    if (!n)
        return canon(x->in);
    if (!(in = json_copy(x->in)) || !(items = json_array())) {
        sz_json_free(in);
        return NULL;
    }
    for (k = 0; k < n; k++) {
        sz_media m;
        unsigned char d[EVP_MAX_MD_SIZE];
        unsigned int dl = 0;
        char h[2 * EVP_MAX_MD_SIZE + 1] = "";
        if (media_at(x, k, &m) != 0)
            continue;
        if (m.data && EVP_Digest(m.data, m.len, d, &dl, EVP_sha256(), NULL))
            hex(d, dl, h);
        json_array_append_new(items, json_pack("{s:s, s:s*, s:I, s:s*, s:s*, s:s*}", "kind", m.kind, "mime", m.mime,
                                               "size", (json_int_t)m.size, "alt", m.alt, "sha256", h[0] ? h : NULL,
                                               "url", h[0] ? NULL : m.url));
    }
    json_object_set_new(in, "media", items);
    s = canon(in);
    sz_json_free(in);
    return s;
}

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
    if (strcmp(act, "upload") == 0 || strcmp(act, "unmedia") == 0) {
        NEED(x->user, accessToken, "access token (write:media)");
        (void)accessToken;
        r = act[0] == 'u' && act[1] == 'p' ? build_upload(x, root) : build_unmedia(x, root);
        goto done;
    }
    {
        json_t *ids = NULL;
        NEED(x->user, accessToken, "access token (write:statuses)");
        /* the instance's own limits come in the setup state (parse_mastodon) */
        if (!(text = text_of(x, &a)))
            goto done;
        if (media_count(x) && !(ids = media_ids(x)))
            goto done;
        body = json_pack("{s:s, s:s, s:o*}", "status", text, "visibility", "public", "media_ids", ids);
        sz_buf_printf(&url, "%s/api/v1/statuses", root);
        if (!body || url.failed || !(r = req_json("POST", url.data, body)))
            goto done;
        /* the same content by the same account within an hour returns the
         * original status instead of a second one (idem_content: media by
         * content, not by id) */
        cin = idem_content(x);
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

/* seconds before poll n (0-based): soon for an image, then less often */
static long long poll_wait(long long n)
{
    return n < 3 ? 1 : n < 10 ? 2 : 5;
}

/* An upload step's reply: the attachment when it is processed ("url" set),
 * else the next poll's state {id, polls}; a poll answering 422 is a
 * processing that failed, and polls are bounded (MD_MAX_POLLS). */
static json_t *parse_upload(const sz_call_json *c, int status, json_t *j)
{
    json_t *st = step_state(c), *item = json_object_get(c->step, "item"), *v;
    long long idx = json_integer_value(json_object_get(item, "index")), polls = 0;
    const char *id = media_id(j);
    char msg[480];
    if (idx < 1 || idx > 1000)
        idx = 0;
    if (st && json_is_integer(v = json_object_get(st, "polls")) && json_integer_value(v) > 0)
        polls = json_integer_value(v) < MD_MAX_POLLS ? json_integer_value(v) : MD_MAX_POLLS;
    if ((status == 200 || status == 202 || status == 206) && id && (!st || strcmp(id, media_id(st) ? media_id(st) : "") == 0)) {
        if (status == 200 && jstr(j, "url") && *jstr(j, "url"))
            return media_done(json_pack("{s:s, s:s*, s:s}", "id", id, "type", jstr(j, "type"), "url", jstr(j, "url")));
        if (st)
            polls++;
        if (polls >= MD_MAX_POLLS)
            return classify("transient", status, NULL, (snprintf(msg, sizeof msg, "mediaItems[%lld]: processing did "
                                                                 "not finish after %d polls", idx, MD_MAX_POLLS), msg));
        return media_next(json_pack("{s:s, s:I}", "id", id, "polls", (json_int_t)polls), poll_wait(polls));
    }
    if (status >= 200 && status < 300) {
        snprintf(msg, sizeof msg, "mediaItems[%lld]: the reply has no %s", idx, st ? "matching media id" : "media id");
        return classify("transient", status, NULL, msg);
    }
    snprintf(msg, sizeof msg, "mediaItems[%lld]: %s%.300s", idx, st && status == 422 ? "processing failed: " : "",
             jstr(j, "error") ? jstr(j, "error") : "");
    return classify(by_status(status), status, NULL, msg);
}

static json_t *parse_mastodon(const sz_call_json *c, int status, const sz_header *h, size_t nh,
                              json_t *j, long long now)
{
    json_t *r;
    if (strcmp(c->action, "instance") == 0 && status == 200) {
        json_t *conf = json_object_get(j, "configuration"), *st = json_object_get(conf, "statuses"),
               *ma = json_object_get(conf, "media_attachments"), *d, *v;
        r = success(NULL);
        d = json_pack("{s:O?, s:O?}", "maxCharacters", json_object_get(st, "max_characters"),
                      "charactersReservedPerUrl", json_object_get(st, "characters_reserved_per_url"));
        /* the media limits when the instance says them (integers only) */
        if (json_is_integer(v = json_object_get(st, "max_media_attachments")))
            json_object_set(d, "maxMediaAttachments", v);
        if (json_is_integer(v = json_object_get(ma, "image_size_limit")))
            json_object_set(d, "imageSizeLimit", v);
        if (json_is_integer(v = json_object_get(ma, "video_size_limit")))
            json_object_set(d, "videoSizeLimit", v);
        json_object_set_new(r, "data", d);
        return r;
    }
    if (strcmp(c->action, "upload") == 0) {
        r = parse_upload(c, status, j);
        if (json_is_true(json_object_get(r, "ok")))
            return r;
    } else if (strcmp(c->action, "unmedia") == 0 && status >= 200 && status < 300) {
        const char *id = media_id(step_state(c));
        r = success(NULL);
        json_object_set_new(r, "data", json_pack("{s:s?}", "deleted", id));
        return r;
    } else if (status >= 200 && status < 300 && jstr(j, "id")) {
        return success(jstr(j, "id"));
    } else {
        r = classify(by_status(status), status, NULL, jstr(j, "error"));
    }
    if (status == 429) {
        long long t = parse_iso8601(header(h, nh, "x-ratelimit-reset"));
        if (t >= 0)
            set_retry(r, sz_sat_sub(t, now));
    }
    set_scope(r, "account");
    return r;
}

const sz_net sz_net_mastodon = {
    .name = "mastodon", .display = "Mastodon", .rank = 8, .note = "statuses with media, limits read from the instance",
    .version = "v1", .url_field = "instance", .url_bare_host = 1, .url_example = "mastodon.social",
    .text = {500, SZ_TEXT_GRAPHEMES, 23, "\n\n", "userMessage,title,actionLinks;linkBack"},
    /* OAuth 2.0 per instance (docs.joinmastodon.org/spec/oauth, methods/apps):
     * the app registered once per instance (POST /api/v1/apps, kept in the
     * store's apps), PKCE S256 when the instance's RFC 8414 metadata lists it
     * (4.3+), client credentials in the body; tokens do not expire (no
     * refresh); identity verify_credentials; revoke /oauth/revoke. The
     * endpoints' origin is the instance's (app.baseUrl). */
    .oauth = {.authorize = "https://mastodon.social/oauth/authorize", .token = "https://mastodon.social/oauth/token",
              .revoke = "https://mastodon.social/oauth/revoke", .scopes = "write:statuses write:media read:accounts",
              .identity = "https://mastodon.social/api/v1/accounts/verify_credentials", .id_path = "id",
              .nick_path = "username", .token_field = "accessToken", .instance = "instance",
              .register_path = "https://mastodon.social/api/v1/apps",
              .discovery = "https://mastodon.social/.well-known/oauth-authorization-server"},
    .auth = SZ_AUTH_BEARER, .bearer = {"accessToken", 0},
    .auth_fields = {"accessToken"},
    .secret_fields = {"accessToken", "clientSecret"},
    .account_fields = {"accessToken"},
    .app_key_fields = {"baseUrl"},
    .idem = {SZ_IDEM_HEADER, "Idempotency-Key"},
    .setup = {"instance", "instance", 0, 0},
    .no_notify = "direct messages are not offered",
    .intent = "{instance}/share?text={tu}",
    /* 4 images (GIFs too), or one video or audio alone; the instance's own
     * limits come in the setup state (maxMediaAttachments, imageSizeLimit,
     * videoSizeLimit). Every type sz_media_sniff knows is one Mastodon takes. */
    .media = {.images = MD_MAX_MEDIA, .videos = 1, .audio = 1, .max_image = MD_IMAGE_LIMIT,
              .max_video = MD_VIDEO_LIMIT, .upload = 1, .alt = 1, .deletable = 1},
    /* carries: nothing besides text.compose's fields and the link (media are
     * the media struct's) */
    .rate_scope = "account",
    .no_readback = "not needed: an unconfirmed post is resent with the same idempotency key",
    .build = build_mastodon, .parse = parse_mastodon,
};
