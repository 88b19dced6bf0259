/* Bluesky: com.atproto.repo.createRecord with link facets; a session
 * (setup step "session", createSession) is opened first and reused.
 *
 * Media: each image goes through com.atproto.repo.uploadBlob (the raw bytes,
 * Content-Type the item's type; the "upload" step), whose blob ref the record
 * then names. The embed (at most one per post):
 *   - images (1 to 4): app.bsky.embed.images, each {image, alt ("" when
 *     none), aspectRatio when the item's width and height are known}; a
 *     link stays in the text, a link facet;
 *   - except one image without alt text and a link: the link card
 *     (app.bsky.embed.external) with that image as its thumb (the card's
 *     picture, as Gigya's share dialogs show mediaItems[0]); an image with
 *     alt text is a post's content and keeps it (app.bsky.embed.images);
 *   - a link alone: the link card without a thumb.
 * app.bsky.embed.recordWithMedia (quotes) is not used. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "sz_netkit.h"

#define BSKY_MAX_IMAGE 1000000LL /* app.bsky.embed.images#image maxSize */
#define BSKY_MAX_IMAGES 4

/* a CID as a blob ref carries it: base32/base58 letters and digits only */
static int cid_ok(const char *s)
{
    size_t n = 0;
    if (!s)
        return 0;
    for (; s[n]; n++)
        if (n >= 128 || !((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') ||
                          (s[n] >= '0' && s[n] <= '9')))
            return 0;
    return n >= 8;
}

/* an image type a blob may have (no control characters, "image/...") */
static int image_mime(const char *m)
{
    return m && strncmp(m, "image/", 6) == 0 && m[6] && strlen(m) < 100 && !m[sz_ctl_span(m, strlen(m), SZ_CTL_SPACE)];
}

/* upload: com.atproto.repo.uploadBlob with the item's bytes as the body */
static sz_request *build_upload(ctx *x, const char *root)
{
    sz_media m;
    sz_request *r = NULL;
    sz_buf url;
    char *body;
    if (step_image(x, &m, BSKY_MAX_IMAGE, "Bluesky posts take images only", "image") != 0)
        return NULL;
    if (!image_mime(m.mime)) {
        x->result = fail("content_invalid", "bluesky: mediaItems[%d] has no image type (mime '%.40s')", m.index,
                         m.mime ? m.mime : "");
        return NULL;
    }
    sz_buf_init(&url);
    sz_buf_printf(&url, "%s/xrpc/com.atproto.repo.uploadBlob", root);
    if (!url.failed && (r = sz_request_new("POST", url.data)) != NULL) {
        if (!(body = malloc(m.len)) || (memcpy(body, m.data, m.len), sz_request_set_body(r, body, m.len) != 0) ||
            sz_request_add_header(r, "Content-Type", m.mime) != 0) {
            sz_request_free(r);
            r = NULL;
        }
    }
    sz_buf_reset(&url);
    return r;
}

/* The blob ref of an uploaded item: what its upload answered (item.blob),
 * else its id, type and size; NULL when it has none. */
static json_t *blob_of(const sz_media *m)
{
    json_t *b = json_object_get(m->obj, "blob"), *sz = json_object_get(b, "size");
    const char *link = jstr(json_object_get(b, "ref"), "$link"), *mime = jstr(b, "mimeType");
    long long size = json_is_integer(sz) ? (long long)json_integer_value(sz) : m->size;
    if (!link)
        link = m->id;
    if (!mime)
        mime = m->mime;
    if (!cid_ok(link) || !image_mime(mime) || size <= 0 || size > BSKY_MAX_IMAGE)
        return NULL;
    return json_pack("{s:s, s:{s:s}, s:s, s:I}", "$type", "blob", "ref", "$link", link, "mimeType", mime, "size",
                     (json_int_t)size);
}

/* The record's embed (see the top of the file); 0, or -1 with x->result set
 * (or not: out of memory). */
static int add_embed(ctx *x, const action *a, json_t *record)
{
    size_t n = media_count(x), k;
    json_t *images, *embed = NULL;
    sz_media m;
    if (n > BSKY_MAX_IMAGES) {
        x->result = fail("content_invalid", "bluesky: %zu media items; at most %d images per post", n,
                         BSKY_MAX_IMAGES);
        return -1;
    }
    if (n == 0 && !a->link)
        return 0;
    if (n == 0 || (n == 1 && a->link && media_at(x, 0, &m) == 0 && !m.alt)) {
        json_t *ext = json_pack("{s:s, s:s, s:s}", "uri", a->link, "title", a->title ? a->title : "",
                                "description", a->description ? a->description : "");
        if (ext && n == 1) {
            json_t *thumb = blob_of(&m);
            if (!thumb) {
                sz_json_free(ext);
                x->result = fail("content_invalid", "bluesky: mediaItems[%d] was not uploaded (no blob ref)",
                                 m.index);
                return -1;
            }
            json_object_set_new(ext, "thumb", thumb);
        }
        embed = ext ? json_pack("{s:s, s:o}", "$type", "app.bsky.embed.external", "external", ext) : NULL;
        return embed && json_object_set_new(record, "embed", embed) == 0 ? 0 : -1;
    }
    images = json_array();
    for (k = 0; images && k < n; k++) {
        json_t *img, *blob;
        if (media_at(x, k, &m) != 0 || !(blob = blob_of(&m))) {
            x->result = fail("content_invalid", "bluesky: mediaItems[%d] was not uploaded (no blob ref)",
                             m.index ? m.index : (int)k + 1);
            sz_json_free(images);
            return -1;
        }
        img = json_pack("{s:o, s:s}", "image", blob, "alt", m.alt ? m.alt : "");
        if (img && m.width > 0 && m.height > 0)
            json_object_set_new(img, "aspectRatio", json_pack("{s:I, s:I}", "width", (json_int_t)m.width, "height",
                                                              (json_int_t)m.height));
        if (!img || json_array_append_new(images, img) != 0) {
            sz_json_free(images);
            return -1;
        }
    }
    embed = images ? json_pack("{s:s, s:o}", "$type", "app.bsky.embed.images", "images", images) : NULL;
    return embed && json_object_set_new(record, "embed", embed) == 0 ? 0 : -1;
}

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
    if (strcmp(act, "refreshSession") == 0) {
        /* the refresh JWT is the bearer; it is single use (the PDS rotates it) */
        const char *rj = jstr(sess, "refreshJwt");
        if (!rj || !*rj) {
            x->result = fail("not_connected", "bluesky: no refresh token in the session");
            goto done;
        }
        sz_buf_printf(&url, "%s/xrpc/com.atproto.server.refreshSession", root);
        if (!url.failed && (r = sz_request_new("POST", url.data)) != NULL) {
            sz_buf h;
            sz_buf_init(&h);
            sz_buf_printf(&h, "Bearer %s", rj);
            if (h.failed || sz_request_add_header(r, "Authorization", h.data) != 0) {
                sz_request_free(r);
                r = NULL;
            }
            sz_buf_reset(&h);
        }
        goto done;
    }
    if (!jstr(sess, "accessJwt") || !jstr(sess, "did")) {
        x->result = fail("not_connected", "bluesky: no session (createSession first)");
        goto done;
    }
    if (strcmp(act, "upload") == 0) {
        r = root ? build_upload(x, root) : NULL;
        goto done;
    }
    if (strcmp(act, "recent") == 0) {
        /* the PDS's own records of the account (no AppView indexing lag):
         * com.atproto.repo.listRecords, newest first */
        const char *did = jstr(sess, "did"), *k;
        if (strlen(did) > 2048 || strncmp(did, "did:", 4) != 0) {
            x->result = fail("not_connected", "bluesky: the session's did is not a DID");
            goto done;
        }
        for (k = did; *k; k++)
            if (!isalnum((unsigned char)*k) && !strchr(":._-", *k)) {
                x->result = fail("not_connected", "bluesky: the session's did is not a DID");
                goto done;
            }
        sz_buf_printf(&url, "%s/xrpc/com.atproto.repo.listRecords?repo=", root);
        for (k = did; *k; k++)
            sz_buf_printf(&url, *k == ':' ? "%%3A" : "%c", *k);
        sz_buf_printf(&url, "&collection=app.bsky.feed.post&limit=%d", SZ_RECENT_COUNT);
        if (!url.failed)
            r = sz_request_new("GET", url.data);
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
        if (!bad && strcmp(act, "publish") == 0)
            bad = add_embed(x, &a, record) != 0;
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
        if (strcmp(c->action, "session") == 0 || strcmp(c->action, "refreshSession") == 0) {
            r = success(NULL);
            json_object_set_new(r, "data", json_pack("{s:s?, s:s?, s:s?}", "accessJwt", jstr(j, "accessJwt"),
                                                     "refreshJwt", jstr(j, "refreshJwt"), "did", jstr(j, "did")));
            return r;
        }
        if (strcmp(c->action, "upload") == 0) {
            json_t *b = json_object_get(j, "blob"), *sz = json_object_get(b, "size");
            const char *link = jstr(json_object_get(b, "ref"), "$link"), *mime = jstr(b, "mimeType");
            if (!cid_ok(link) || !image_mime(mime) || !json_is_integer(sz) || json_integer_value(sz) <= 0 ||
                json_integer_value(sz) > BSKY_MAX_IMAGE)
                return classify("transient", status, NULL, "uploadBlob reply has no valid blob ref");
            return media_done(json_pack("{s:s, s:{s:s, s:{s:s}, s:s, s:I}}", "id", link, "blob", "$type", "blob",
                                        "ref", "$link", link, "mimeType", mime, "size",
                                        (json_int_t)json_integer_value(sz)));
        }
        if (strcmp(c->action, "recent") == 0) /* {"records": [{uri, cid, value: {text, createdAt}}]} */
            return sz_nk_recent(json_object_get(j, "records"), "uri", "value.text", "value.createdAt");
        return success(jstr(j, "uri"));
    }
    if (err && (strcmp(err, "ExpiredToken") == 0 || strcmp(err, "InvalidToken") == 0 ||
                strcmp(err, "AuthenticationRequired") == 0 || strcmp(err, "AuthFactorTokenRequired") == 0))
        r = classify("auth_expired", status, err, jstr(j, "message"));
    else if (err && strcmp(err, "RateLimitExceeded") == 0)
        r = classify("rate_limited", status, err, jstr(j, "message"));
    else if (err && (strcmp(err, "InvalidRequest") == 0 || strcmp(err, "BlobTooLarge") == 0 ||
                     strcmp(err, "InvalidMimeType") == 0))
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
    .name = "bluesky", .display = "Bluesky", .rank = 9, .note = "com.atproto.repo.createRecord; images by com.atproto.repo.uploadBlob",
    .base_url = "https://bsky.social", .url_field = "pds", .url_example = "bsky.social",
    .text = {300, SZ_TEXT_BSKY, -1, "\n\n", "userMessage,title;linkBack"},
    .auth = SZ_AUTH_SESSION, .bearer = {"accessJwt", 1},
    .auth_fields = {"identifier", "appPassword"},
    .secret_fields = {"appPassword", "accessJwt", "refreshJwt"},
    .account_fields = {"identifier"},
    .app_key_fields = {"baseUrl"},
    .setup = {"session", "identifier", 1, 1, "refreshSession"},
    /* an unused blob is garbage-collected by the PDS: nothing to delete */
    .media = {.images = BSKY_MAX_IMAGES, .max_image = BSKY_MAX_IMAGE, .upload = 1, .alt = 1},
    .carries = "description:link card (not with images)",
    .no_notify = "chat runs on a separate service; not offered",
    .intent = "https://bsky.app/intent/compose?text={tu}",
    .rate_scope = "account",
    .readback = "GET /xrpc/com.atproto.repo.listRecords (collection app.bsky.feed.post)",
    .build = build_bluesky, .parse = parse_bluesky,
};
