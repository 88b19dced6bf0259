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


/* ---- media (docs/media.md; docs.x.com/x-api/media) ----------------------
 * An image: one POST /2/media/upload (multipart: media_category, media).
 * A GIF or a video: POST /2/media/upload/initialize (JSON), then
 * POST /2/media/upload/{id}/append per chunk of media.chunk bytes (multipart:
 * segment_index, media: only that slice), then POST .../{id}/finalize, then
 * GET /2/media/upload?command=STATUS&media_id={id} while processing_info
 * says pending or in_progress. An image or GIF with alt text ends with
 * POST /2/media/metadata. The step state: {phase, id, segment, polls}. */
#define X_MAX_POLLS 60          /* STATUS polls of one item, then a failure */
#define X_MAX_GIF 15728640LL    /* 15 MB (video: the descriptor's max_video) */
#define X_MAX_SEGMENTS 1000     /* segment_index is 0-999 */
#define X_MAX_ALT 1000          /* alt text, in characters */
#define X_CHUNK 4194304LL       /* bytes per APPEND (4 MB; X takes up to 5 MB) */

/* An X media id: 1 to 32 digits (it goes into a path). */
static int x_media_id_ok(const char *id)
{
    size_t n = id ? strspn(id, "0123456789") : 0;
    return n > 0 && n <= 32 && !id[n];
}

static int x_chunked(const char *kind)
{
    return strcmp(kind, "gif") == 0 || strcmp(kind, "video") == 0;
}

/* alt text cut to X_MAX_ALT code points (never inside a UTF-8 sequence) */
static json_t *x_alt(const char *alt)
{
    size_t i = 0, cps = 0;
    while (alt[i] && cps < X_MAX_ALT) {
        i++;
        while (((unsigned char)alt[i] & 0xC0) == 0x80)
            i++;
        cps++;
    }
    return json_stringn(alt, i);
}

static sz_request *x_upload(ctx *x, const char *root)
{
    json_t *st = step_state(x->c), *body = NULL, *item = json_object_get(x->c->step, "item");
    const char *phase = jstr(st, "phase"), *id = jstr(st, "id");
    sz_request *r = NULL;
    sz_multipart mp;
    sz_media m;
    sz_buf url;
    sz_buf_init(&url);
    if (step_item(x, &m) != 0)
        return NULL;
    if (strcmp(m.kind, "audio") == 0 || !m.data) {
        x->result = fail(m.data ? "unsupported" : "content_invalid", "twitter: mediaItems[%d]: %s", m.index,
                         m.data ? "X takes no audio" : "X uploads the bytes and the item has none");
        return NULL;
    }
    if (phase && !x_media_id_ok(id)) {
        x->result = fail("content_invalid", "twitter: mediaItems[%d]: the upload state has no media id", m.index);
        return NULL;
    }
    if (!phase) { /* every item the post will carry: a GIF or video among others is refused before any upload */
        json_t *all = json_object_get(x->c->step, "items"), *o;
        size_t k;
        json_array_foreach(all, k, o) {
            const char *kind = jstr(o, "kind");
            if (json_array_size(all) > 1 && kind && x_chunked(kind)) {
                json_int_t idx = json_integer_value(json_object_get(o, "index"));
                x->result = fail("content_invalid", "twitter: mediaItems[%d]: X takes one GIF or video alone, "
                                 "and no other media with it (%zu items)", idx > 0 && idx <= 1000 ? (int)idx : 0,
                                 json_array_size(all));
                return NULL;
            }
        }
    }
    if (!phase && x_chunked(m.kind)) {
        if (jnat(item, "size", 0) != (long long)m.len) {
            x->result = fail("content_invalid", "twitter: mediaItems[%d]: size %lld is not its %zu bytes", m.index,
                             jnat(item, "size", 0), m.len);
            return NULL;
        }
        if (strcmp(m.kind, "gif") == 0 && (long long)m.len > X_MAX_GIF) {
            x->result = fail("content_invalid", "twitter: mediaItems[%d]: a GIF is at most %lld bytes on X (%zu)",
                             m.index, X_MAX_GIF, m.len);
            return NULL;
        }
        if ((long long)m.len > x->nt->media.chunk * X_MAX_SEGMENTS) {
            x->result = fail("content_invalid", "twitter: mediaItems[%d]: %zu bytes are more than %d chunks", m.index,
                             m.len, X_MAX_SEGMENTS);
            return NULL;
        }
        sz_buf_printf(&url, "%s/2/media/upload/initialize", root);
        body = json_pack("{s:s, s:I, s:s}", "media_type",
                         m.mime ? m.mime : strcmp(m.kind, "gif") == 0 ? "image/gif" : "video/mp4", "total_bytes",
                         (json_int_t)m.len, "media_category", strcmp(m.kind, "gif") == 0 ? "tweet_gif" : "tweet_video");
        if (body && !url.failed)
            r = req_json("POST", url.data, body);
    } else if (!phase) {
        sz_buf_printf(&url, "%s/2/media/upload", root);
        multipart_begin(&mp, x->c->nonce);
        multipart_field(&mp, "media_category", "tweet_image");
        multipart_file(&mp, "media", "media", m.mime, m.data, m.len);
        r = url.failed ? NULL : multipart_finish(&mp, "POST", url.data);
        if (url.failed)
            sz_buf_reset(&mp.b);
    } else if (strcmp(phase, "append") == 0) {
        long long seg = jnat(st, "segment", 0), chunk = x->nt->media.chunk, off;
        char sb[24];
        off = seg < X_MAX_SEGMENTS ? seg * chunk : 0; /* never multiplied past the cap */
        if (seg >= X_MAX_SEGMENTS || off >= (long long)m.len) {
            x->result = fail("content_invalid", "twitter: mediaItems[%d]: segment %lld is past the end", m.index, seg);
            return NULL;
        }
        snprintf(sb, sizeof sb, "%lld", seg);
        sz_buf_printf(&url, "%s/2/media/upload/%s/append", root, id);
        multipart_begin(&mp, x->c->nonce);
        multipart_field(&mp, "segment_index", sb);
        /* only this chunk's slice of the bytes */
        multipart_file(&mp, "media", "media", "application/octet-stream", (const char *)m.data + off,
                       (size_t)((long long)m.len - off < chunk ? (long long)m.len - off : chunk));
        r = url.failed ? NULL : multipart_finish(&mp, "POST", url.data);
        if (url.failed)
            sz_buf_reset(&mp.b);
    } else if (strcmp(phase, "finalize") == 0) {
        sz_buf_printf(&url, "%s/2/media/upload/%s/finalize", root, id);
        r = url.failed ? NULL : sz_request_new("POST", url.data);
    } else if (strcmp(phase, "status") == 0) {
        sz_buf_printf(&url, "%s/2/media/upload?command=STATUS&media_id=%s", root, id);
        r = url.failed ? NULL : sz_request_new("GET", url.data);
    } else if (strcmp(phase, "metadata") == 0 && m.alt) {
        sz_buf_printf(&url, "%s/2/media/metadata", root);
        body = json_pack("{s:s, s:{s:{s:o}}}", "id", id, "metadata", "alt_text", "text", x_alt(m.alt));
        if (body && !url.failed)
            r = req_json("POST", url.data, body);
    } else {
        x->result = fail("content_invalid", "twitter: mediaItems[%d]: unknown upload phase '%.20s'", m.index, phase);
    }
    sz_json_free(body);
    sz_buf_reset(&url);
    if (r && twitter_auth(x, r) != 0) {
        sz_request_free(r);
        r = NULL;
    }
    return r;
}

/* After an upload or a STATUS reply: poll while processing, then the alt
 * text (images and GIFs), then the item is done. */
static json_t *x_after(const sz_call_json *c, int status, const char *id, json_t *pi, const char *phase)
{
    json_t *item = json_object_get(c->step, "item"), *st = step_state(c);
    const char *kind = jstr(item, "kind") ? jstr(item, "kind") : "image", *alt = jstr(item, "alt");
    const char *state = jstr(pi, "state");
    if (pi && state && strcmp(state, "succeeded") != 0) {
        long long polls = jnat(st, "polls", 0);
        polls = polls < X_MAX_POLLS ? polls + (strcmp(phase, "status") == 0) : X_MAX_POLLS;
        if (strcmp(state, "failed") == 0) {
            json_t *e = json_object_get(pi, "error");
            return classify("content_invalid", status, jstr(e, "name") ? jstr(e, "name") : "processing-failed",
                            jstr(e, "message") ? jstr(e, "message") : "X could not process the media");
        }
        if (strcmp(state, "pending") != 0 && strcmp(state, "in_progress") != 0)
            return classify("transient", status, "processing", "X answered an unknown processing state");
        if (polls >= X_MAX_POLLS)
            return classify("transient", status, "processing-timeout",
                            "X was still processing the media after 60 status polls");
        return media_next(json_pack("{s:s, s:s, s:I}", "phase", "status", "id", id, "polls", (json_int_t)polls),
                          jint(pi, "check_after_secs", 1, LLONG_MAX, 1));
    }
    if (pi && !state)
        return classify("transient", status, "processing", "X answered processing_info without a state");
    if (alt && *alt && strcmp(kind, "video") != 0 && strcmp(phase, "metadata") != 0)
        return media_next(json_pack("{s:s, s:s}", "phase", "metadata", "id", id), 0);
    return media_done(json_pack("{s:s}", "id", id));
}

static json_t *x_parse_upload(const sz_call_json *c, int status, json_t *j)
{
    json_t *st = step_state(c), *data = json_object_get(j, "data"), *item = json_object_get(c->step, "item");
    const char *phase = jstr(st, "phase"), *kind = jstr(item, "kind") ? jstr(item, "kind") : "image";
    char idb[40];
    const char *id = phase ? jstr(st, "id") : jid(data, "id", idb, sizeof idb);
    if (!x_media_id_ok(id))
        return classify("transient", status, "no-media-id", "X's upload reply has no media id");
    if (!phase && x_chunked(kind))
        return media_next(json_pack("{s:s, s:s, s:i}", "phase", "append", "id", id, "segment", 0), 0);
    if (phase && strcmp(phase, "append") == 0) {
        long long seg = jnat(st, "segment", 0), next = seg < X_MAX_SEGMENTS ? seg + 1 : X_MAX_SEGMENTS;
        if (next < X_MAX_SEGMENTS && next * X_CHUNK < jnat(item, "size", 0))
            return media_next(json_pack("{s:s, s:s, s:I}", "phase", "append", "id", id, "segment", (json_int_t)next),
                              0);
        return media_next(json_pack("{s:s, s:s}", "phase", "finalize", "id", id), 0);
    }
    /* the alt text comes after processing succeeded: a metadata reply ends
     * the item whatever it says of processing (else a network could send it
     * back to STATUS polls whose count starts over) */
    if (phase && strcmp(phase, "metadata") == 0)
        return media_done(json_pack("{s:s}", "id", id));
    return x_after(c, status, id, json_object_get(data, "processing_info"), phase ? phase : "upload");
}


/* media.media_ids of a post: up to 4 images, or one GIF or video alone. */
static int x_media(ctx *x, json_t *body)
{
    size_t n = media_count(x), k;
    json_t *ids = json_array();
    sz_media m;
    for (k = 0; ids && k < n; k++) {
        if (media_at(x, k, &m) != 0 || !x_media_id_ok(m.id)) {
            x->result = fail("content_invalid", "twitter: mediaItems[%d] was not uploaded (no X media id)",
                             media_at(x, k, &m) == 0 ? m.index : (int)k + 1);
            break;
        }
        if (strcmp(m.kind, "audio") == 0 || (x_chunked(m.kind) && n > 1)) {
            x->result = fail("content_invalid", "twitter: mediaItems[%d]: X takes one GIF or video alone, and no "
                             "audio (%zu items)", m.index, n);
            break;
        }
        if (k >= 4) {
            x->result = fail("content_invalid", "twitter: mediaItems[%d]: X takes up to 4 images (%zu items)",
                             m.index, n);
            break;
        }
        if (json_array_append_new(ids, json_string(m.id)) != 0)
            break;
    }
    if (!ids || k < n || json_object_set_new(body, "media", json_pack("{s:o}", "media_ids", ids)) != 0) {
        if (k < n)
            sz_json_free(ids);
        return -1;
    }
    return 0;
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
    if (strcmp(act, "upload") == 0) {
        r = x_upload(x, root);
        goto done;
    }
    if (strcmp(act, "recent") == 0) {
        /* GET /2/users/:id/tweets (tweet.read users.read; OAuth 1.0a: the
         * app's read permission): the latest posts, replies and reposts left out */
        char idb[32];
        const char *me = jid(x->user, "userId", idb, sizeof idb);
        if (!me || !*me || strspn(me, "0123456789") != strlen(me) || strlen(me) > 20) {
            x->result = fail("not_connected", "twitter: reading back needs the connection's numeric userId");
            goto done;
        }
        sz_buf_printf(&url, "%s/2/users/%s/tweets?max_results=%d&exclude=replies%%2Cretweets&tweet.fields=created_at",
                      root, me, SZ_RECENT_COUNT);
        if (!url.failed && (r = sz_request_new("GET", url.data)) != NULL && twitter_auth(x, r) != 0) {
            sz_request_free(r);
            r = NULL;
        }
        goto done;
    }
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
    if (strcmp(act, "publish") == 0 && media_count(x) && x_media(x, body) != 0)
        goto done;
    /* with media the text may be empty: then there is none */
    if ((*text || !media_count(x)) && json_object_set_new(body, "text", json_string(text)) != 0)
        goto done;
    if (url.failed ||
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
    if (status >= 200 && status < 300 && strcmp(c->action, "upload") == 0)
        return x_parse_upload(c, status, j);
    if (status >= 200 && status < 300 && strcmp(c->action, "recent") == 0) {
        /* {"data": [{"id", "text", "created_at"}], "meta": {...}}; no post at all: no data */
        json_t *none = json_array(), *r2 = sz_nk_recent(data ? data : none, "id", "text", "created_at");
        sz_json_free(none);
        return r2;
    }
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
    .secret_fields = {"token", "tokenSecret", "bearerToken", "consumerSecret", "refreshToken", "clientSecret"},
    .account_fields = {"userId", "token", "bearerToken"},
    .app_key_fields = {"consumerKey", "baseUrl"},
    .recipient_field = "userId", .recipient_numeric_uid = 1,
    .intent_default = 1,
    .intent = "https://x.com/intent/tweet?text={t}&url={u}",
    .media = {.images = 4, .videos = 1, .max_image = 5242880, .max_video = 536870912,
              .mimes = "image/jpeg,image/png,image/gif,image/webp,video/mp4,video/quicktime",
              .upload = 1, .alt = 1, .chunk = X_CHUNK},
    .carries = "",
    /* OAuth 2.0 with PKCE (docs.x.com .../oauth-2-0/authorization-code):
     * 2-hour tokens, single-use refresh tokens with offline.access; a
     * confidential client authenticates with HTTP Basic */
    .oauth = {.authorize = "https://x.com/i/oauth2/authorize", .token = "https://api.x.com/2/oauth2/token",
              .revoke = "https://api.x.com/2/oauth2/revoke", .scopes = "tweet.read tweet.write users.read offline.access",
              .pkce = 1, .basic = 1, .refresh = 1, .rotating = 1, .identity = "https://api.x.com/2/users/me",
              .id_path = "data.id", .nick_path = "data.username", .token_field = "bearerToken",
              .account_field = "userId"},
    /* OAuth 1.0a 3-legged (docs.x.com/resources/fundamentals/authentication/oauth-1-0a/obtaining-user-access-tokens):
     * tokens without expiry, published with as today (token, tokenSecret) */
    .oauth1 = {.request = "https://api.x.com/oauth/request_token", .authorize = "https://api.x.com/oauth/authorize",
               .access = "https://api.x.com/oauth/access_token", .account = "user_id", .nick = "screen_name",
               /* removeConnection (docs.x.com .../authentication/api-reference: POST
                * oauth/invalidate_token, signed with the user's token) */
               .invalidate = "https://api.x.com/1.1/oauth/invalidate_token"},
    .rate_scope = "account",
    .readback = "GET /2/users/:id/tweets",
    .build = build_twitter, .parse = parse_twitter,
};
