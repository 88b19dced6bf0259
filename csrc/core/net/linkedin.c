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


/* ---- media (docs/media.md; learn.microsoft.com .../images-api) -----------
 * POST /rest/images?action=initializeUpload {initializeUploadRequest:{owner}}
 * answers {value:{uploadUrl, image}}; the bytes go in one PUT to uploadUrl;
 * the image URN goes in content.media (one image, with altText),
 * content.multiImage (2 to 20), or as an article's thumbnail. The step
 * state: {phase: "put", uploadUrl, image}. A video: below. */
#define LI_MAX_PIXELS 36152320LL /* "< 36,152,320 pixels" */
#define LI_MAX_URL 4096          /* an upload URL's bytes (the parts go through every step's state) */
#define LI_MAX_IMAGES 20         /* a multiImage post: 2 to 20 */

/* A PUT of len bytes (copied: the request owns its body) as an octet stream. */
static sz_request *li_put(const char *url, const void *data, size_t len)
{
    sz_request *r = sz_request_new("PUT", url);
    char *copy;
    if (!r)
        return NULL;
    copy = malloc(len + 1);
    if (!copy) {
        sz_request_free(r);
        return NULL;
    }
    if (len)
        memcpy(copy, data, len);
    /* sz_request_set_body takes copy in every case (sz_request_free frees it) */
    if (sz_request_set_body(r, copy, len) != 0 ||
        sz_request_add_header(r, "Content-Type", "application/octet-stream") != 0) {
        sz_request_free(r);
        return NULL;
    }
    return r;
}

/* An upload URL LinkedIn gave: http(s), no space or control, and on
 * linkedin.com (or on the API's own host: a sandbox, an app.baseUrl), since
 * the engine sends the member token with the PUT. */
static int li_upload_url_ok(const char *u, const char *root)
{
    const char *h, *e, *rh, *c;
    size_t hl;
    if (!u || !url_ok(u) || strlen(u) > LI_MAX_URL)
        return 0;
    h = strstr(u, "://") + 3;
    e = h + strcspn(h, "/?#");
    rh = strstr(root, "://");
    if (rh) { /* the API's own scheme and authority */
        size_t rl;
        rh += 3;
        rl = strcspn(rh, "/?#");
        if (h - u == rh - root && strncasecmp(u, root, (size_t)(h - u)) == 0 && (size_t)(e - h) == rl &&
            strncasecmp(h, rh, rl) == 0)
            return 1;
    }
    if (strncmp(u, "https://", 8) != 0 || memchr(h, '@', (size_t)(e - h)))
        return 0;
    c = memchr(h, ':', (size_t)(e - h));
    hl = c ? (size_t)(c - h) : (size_t)(e - h);
    return (hl == 12 && strncasecmp(h, "linkedin.com", 12) == 0) ||
           (hl > 13 && strncasecmp(h + hl - 13, ".linkedin.com", 13) == 0);
}

static sz_request *li_headers(ctx *x, sz_request *r)
{
    if (r && (sz_request_add_header(r, "LinkedIn-Version", version(x->nt, x->app)) ||
              sz_request_add_header(r, "X-Restli-Protocol-Version", "2.0.0"))) {
        sz_request_free(r);
        return NULL;
    }
    return r;
}


/* ---- video (learn.microsoft.com .../videos-api) ---------------------------
 * POST /rest/videos?action=initializeUpload {initializeUploadRequest: {owner,
 * fileSizeBytes, uploadCaptions, uploadThumbnail}} answers the video URN,
 * an uploadToken and uploadInstructions (byte ranges, each with its URL);
 * each range is PUT (only its slice) and answers its part id in ETag;
 * POST /rest/videos?action=finalizeUpload {finalizeUploadRequest: {video,
 * uploadToken, uploadedPartIds}}; then GET /rest/videos/{urn} until its
 * status is AVAILABLE. State: {phase, video, token, parts: [[first, last,
 * url]...], part, etags, polls}. */
/* parts of one video: each is a step, and the front allows 300 steps per
 * item (parts, finalize, 60 polls fit); 200 x LinkedIn's 4 MB parts cover
 * the 500 MB limit */
#define LI_MAX_PARTS 200
#define LI_MAX_POLLS 60
#define LI_POLL_WAIT 10

static sz_request *li_video_upload(ctx *x, const char *root, const char *owner, const sz_media *m, json_t *st)
{
    const char *phase = jstr(st, "phase"), *video = jstr(st, "video");
    json_t *body = NULL;
    sz_request *r = NULL;
    sz_buf url;
    sz_buf_init(&url);
    if (phase && (!video || strncmp(video, "urn:li:video:", 13) != 0)) {
        x->result = fail("content_invalid", "linkedin: mediaItems[%d]: the upload state has no video URN", m->index);
        return NULL;
    }
    if (!phase) {
        sz_buf_printf(&url, "%s/rest/videos?action=initializeUpload", root);
        body = json_pack("{s:{s:s, s:I, s:b, s:b}}", "initializeUploadRequest", "owner", owner, "fileSizeBytes",
                         (json_int_t)m->len, "uploadCaptions", 0, "uploadThumbnail", 0);
    } else if (strcmp(phase, "put") == 0) {
        json_t *part = json_array_get(json_object_get(st, "parts"), (size_t)jnat(st, "part", -1));
        long long first = json_integer_value(json_array_get(part, 0)), last = json_integer_value(json_array_get(part, 1));
        const char *u = json_string_value(json_array_get(part, 2));
        if (jnat(st, "part", -1) < 0 || !part || first < 0 || last < first || last >= (long long)m->len ||
            !li_upload_url_ok(u, root)) {
            x->result = fail("content_invalid", "linkedin: mediaItems[%d]: upload part %lld is refused (its byte range "
                             "or its URL, an https URL on linkedin.com)", m->index, jnat(st, "part", -1));
            return NULL;
        }
        /* only this part's slice */
        return li_put(u, (const char *)m->data + first, (size_t)(last - first) + 1);
    } else if (strcmp(phase, "finalize") == 0) {
        sz_buf_printf(&url, "%s/rest/videos?action=finalizeUpload", root);
        body = json_pack("{s:{s:s, s:s, s:O}}", "finalizeUploadRequest", "video", video, "uploadToken",
                         jstr(st, "token") ? jstr(st, "token") : "", "uploadedPartIds",
                         json_is_array(json_object_get(st, "etags")) ? json_object_get(st, "etags") : json_null());
    } else if (strcmp(phase, "status") == 0) {
        sz_buf_printf(&url, "%s/rest/videos/", root);
        sz_url_encode_buf(&url, video, strlen(video));
        r = url.failed ? NULL : li_headers(x, sz_request_new("GET", url.data));
        sz_buf_reset(&url);
        return r;
    } else {
        x->result = fail("content_invalid", "linkedin: mediaItems[%d]: unknown upload phase '%.20s'", m->index, phase);
        return NULL;
    }
    if (body && !url.failed)
        r = li_headers(x, req_json("POST", url.data, body));
    sz_json_free(body);
    sz_buf_reset(&url);
    return r;
}

/* The upload instructions as [[first, last, url]...], when they cover the
 * file's size bytes exactly, in order; else NULL. */
static json_t *li_parts(json_t *ins, long long size)
{
    json_t *parts = json_array(), *p;
    long long next = 0;
    size_t i;
    if (!json_is_array(ins) || json_array_size(ins) == 0 || json_array_size(ins) > LI_MAX_PARTS) {
        sz_json_free(parts);
        return NULL;
    }
    json_array_foreach(ins, i, p) {
        long long first = jnat(p, "firstByte", -1), last = jnat(p, "lastByte", -1);
        const char *u = jstr(p, "uploadUrl");
        if (!parts || first != next || last < first || last >= size || !u || strlen(u) > LI_MAX_URL ||
            json_array_append_new(parts, json_pack("[I, I, s]", (json_int_t)first, (json_int_t)last, u)) != 0) {
            sz_json_free(parts);
            return NULL;
        }
        next = last + 1;
    }
    if (next != size) {
        sz_json_free(parts);
        return NULL;
    }
    return parts;
}

static json_t *li_parse_video(const sz_call_json *c, int status, const sz_header *h, size_t nh, json_t *j)
{
    json_t *st = step_state(c), *v = json_object_get(j, "value"), *next;
    const char *phase = jstr(st, "phase"), *video = phase ? jstr(st, "video") : jstr(v, "video");
    long long size = jnat(json_object_get(c->step, "item"), "size", -1);
    if (!video || strncmp(video, "urn:li:video:", 13) != 0 || strlen(video) > 200)
        return classify("transient", status, "no-video", "LinkedIn's video upload reply has no video URN");
    if (!phase) {
        json_t *parts = li_parts(json_object_get(v, "uploadInstructions"), size);
        if (!parts)
            return classify("transient", status, "upload-instructions",
                            "LinkedIn's uploadInstructions do not cover the video's bytes in order");
        next = json_pack("{s:s, s:s, s:s, s:o, s:i, s:[], s:b}", "phase", "put", "video", video, "token",
                         jstr(v, "uploadToken") ? jstr(v, "uploadToken") : "", "parts", parts, "part", 0, "etags",
                         "restarted", json_is_true(json_object_get(st, "restarted")));
        return next ? media_next(next, 0) : NULL;
    }
    if (strcmp(phase, "put") == 0) {
        const char *etag = header(h, nh, "etag");
        long long part = jnat(st, "part", -1);
        if (!etag || !*etag || strlen(etag) > 512)
            return classify("transient", status, "no-etag", "LinkedIn's reply to an uploaded part has no ETag");
        /* an empty list may come back as {} (a Lua table): a list again */
        if ((next = json_deep_copy(st)) && !json_is_array(json_object_get(next, "etags")))
            json_object_set_new(next, "etags", json_array());
        if (!next || json_array_append_new(json_object_get(next, "etags"), json_string(etag)) != 0) {
            sz_json_free(next);
            return NULL;
        }
        if (part >= 0 && (size_t)part + 1 < json_array_size(json_object_get(st, "parts"))) {
            json_object_set_new(next, "part", json_integer(part + 1));
            return media_next(next, 0);
        }
        json_object_del(next, "parts");
        json_object_del(next, "part");
        json_object_set_new(next, "phase", json_string("finalize"));
        return media_next(next, 0);
    }
    if (strcmp(phase, "finalize") == 0)
        return media_next(json_pack("{s:s, s:s, s:i}", "phase", "status", "video", video, "polls", 0), 0);
    {
        const char *s = jstr(j, "status");
        long long polls = jnat(st, "polls", -1);
        polls = polls < 0 ? 1 : polls < LI_MAX_POLLS ? polls + 1 : LI_MAX_POLLS;
        if (s && strcmp(s, "AVAILABLE") == 0)
            return media_done(json_pack("{s:s}", "id", video));
        if (s && strcmp(s, "PROCESSING_FAILED") == 0)
            return classify("content_invalid", status, "PROCESSING_FAILED",
                            jstr(j, "processingFailureReason") ? jstr(j, "processingFailureReason")
                                                               : "LinkedIn could not process the video");
        if (polls >= LI_MAX_POLLS)
            return classify("transient", status, "processing-timeout",
                            "LinkedIn was still processing the video after 60 status polls");
        return media_next(json_pack("{s:s, s:s, s:I}", "phase", "status", "video", video, "polls", (json_int_t)polls),
                          LI_POLL_WAIT);
    }
}

static sz_request *li_upload(ctx *x, const char *root, const char *owner)
{
    json_t *st = step_state(x->c), *body;
    const char *phase = jstr(st, "phase");
    sz_request *r = NULL;
    sz_media m;
    sz_buf url;
    if (step_item(x, &m) != 0)
        return NULL;
    if (strcmp(m.kind, "image") != 0 && strcmp(m.kind, "gif") != 0 && strcmp(m.kind, "video") != 0) {
        x->result = fail("unsupported", "linkedin: mediaItems[%d]: LinkedIn takes images and videos", m.index);
        return NULL;
    }
    if (!m.data) {
        x->result = fail("content_invalid", "linkedin: mediaItems[%d]: LinkedIn uploads the bytes and the item has none",
                         m.index);
        return NULL;
    }
    if (strcmp(m.kind, "video") == 0)
        return li_video_upload(x, root, owner, &m, st);
    if (m.width > 0 && m.height > 0 && (m.width >= LI_MAX_PIXELS || m.height >= LI_MAX_PIXELS ||
                                        m.width * m.height >= LI_MAX_PIXELS)) {
        x->result = fail("content_invalid", "linkedin: mediaItems[%d]: %lldx%lld is not under %lld pixels", m.index,
                         m.width, m.height, LI_MAX_PIXELS);
        return NULL;
    }
    if (!phase) {
        sz_buf_init(&url);
        sz_buf_printf(&url, "%s/rest/images?action=initializeUpload", root);
        body = json_pack("{s:{s:s}}", "initializeUploadRequest", "owner", owner);
        if (body && !url.failed)
            r = li_headers(x, req_json("POST", url.data, body));
        sz_json_free(body);
        sz_buf_reset(&url);
        return r;
    }
    if (strcmp(phase, "put") != 0 || !li_upload_url_ok(jstr(st, "uploadUrl"), root)) {
        x->result = fail("content_invalid", "linkedin: mediaItems[%d]: the upload URL LinkedIn gave is refused "
                         "(an https URL on linkedin.com is expected)", m.index);
        return NULL;
    }
    return li_put(jstr(st, "uploadUrl"), m.data, m.len);
}

static json_t *li_parse_upload(const sz_call_json *c, int status, json_t *j)
{
    json_t *st = step_state(c), *v = json_object_get(j, "value");
    const char *url = jstr(v, "uploadUrl"), *image = jstr(v, "image");
    json_t *next;
    if (jstr(st, "phase")) { /* the PUT: the image named when the upload was initialized */
        const char *img = jstr(st, "image");
        if (!img || strncmp(img, "urn:li:image:", 13) != 0)
            return classify("content_invalid", status, "no-image", "the upload state has no image URN");
        return media_done(json_pack("{s:s}", "id", img));
    }
    if (!url || !image || strncmp(image, "urn:li:image:", 13) != 0 || strlen(image) > 200)
        return classify("transient", status, "no-upload-url", "LinkedIn's initializeUpload reply has no uploadUrl "
                                                            "and image URN");
    next = json_pack("{s:s, s:s, s:s}", "phase", "put", "uploadUrl", url, "image", image);
    if (next && json_is_true(json_object_get(st, "restarted"))) /* kept: a second refusal fails */
        json_object_set_new(next, "restarted", json_true());
    return next ? media_next(next, 0) : NULL;
}

/* content of a post with images: one as the article's thumbnail, else
 * content.media (one) or content.multiImage (2 to 20), with alt text. */
static int li_media(ctx *x, json_t *body, json_t *article)
{
    size_t n = media_count(x), k;
    json_t *imgs = json_array(), *content = NULL;
    sz_media m;
    for (k = 0; imgs && k < n; k++) {
        json_t *o;
        if (media_at(x, k, &m) != 0 || !m.id ||
            strncmp(m.id, strcmp(m.kind, "video") == 0 ? "urn:li:video:" : "urn:li:image:", 13) != 0) {
            x->result = fail("content_invalid", "linkedin: mediaItems[%d] was not uploaded (no image or video URN)",
                             (int)k + 1);
            break;
        }
        if (strcmp(m.kind, "video") == 0 && n > 1) {
            x->result = fail("content_invalid", "linkedin: mediaItems[%d]: a video goes alone", m.index);
            break;
        }
        if (n > LI_MAX_IMAGES) {
            x->result = fail("content_invalid", "linkedin: mediaItems[%d]: a post takes at most %d images (%zu)",
                             m.index, LI_MAX_IMAGES, n);
            break;
        }
        o = json_pack("{s:s}", "id", m.id);
        /* altText: an image's (a video has none in the Posts API) */
        if (!o || (m.alt && strcmp(m.kind, "video") != 0 && json_object_set_new(o, "altText", json_string(m.alt)) != 0) ||
            json_array_append_new(imgs, o) != 0)
            break;
    }
    if (!imgs || k < n) {
        sz_json_free(imgs);
        return -1;
    }
    if (article && n == 1 && strncmp(json_string_value(json_object_get(json_array_get(imgs, 0), "id")),
                                     "urn:li:image:", 13) == 0) {
        json_t *id = json_object_get(json_array_get(imgs, 0), "id"),
               *alt = json_object_get(json_array_get(imgs, 0), "altText");
        /* the Posts API's article: thumbnail and thumbnailAltText */
        int rc = json_object_set(article, "thumbnail", id) ||
                 (alt && json_object_set(article, "thumbnailAltText", alt));
        sz_json_free(imgs);
        return rc ? -1 : 0;
    }
    if (n == 1) {
        content = json_pack("{s:O}", "media", json_array_get(imgs, 0));
    } else {
        content = json_pack("{s:{s:O}}", "multiImage", "images", imgs);
    }
    sz_json_free(imgs);
    return content ? json_object_set_new(body, "content", content) : -1;
}

static sz_request *build_linkedin(ctx *x)
{
    const char *author = jstr(x->user, "author"), *pid = jstr(x->user, "personId");
    char *root = base_url(x->nt, x->app, NULL, NULL);
    json_t *body = NULL;
    sz_request *r = NULL;
    sz_buf url, text, au, host;
    char *raw = NULL;
    size_t nm;
    int video = 0;
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
    if (!root || au.failed)
        goto done;
    if (strcmp(x->c->action, "upload") == 0) {
        r = li_upload(x, root, au.data);
        goto done;
    }
    nm = strcmp(x->c->action, "publish") == 0 ? media_count(x) : 0;
    if (!(raw = text_of(x, &a)))
        goto done;
    if (nm == 1) {
        sz_media m0;
        video = media_at(x, 0, &m0) == 0 && strcmp(m0.kind, "video") == 0;
    }
    if ((nm > 1 || video) && a.link_to[0] && a.link) {
        /* several images or a video leave no room for the article: the link goes in the text */
        sz_buf t;
        long cps = 0;
        const char *p;
        sz_buf_init(&t);
        sz_buf_printf(&t, "%s%s%s", raw, *raw ? " " : "", a.link);
        for (p = t.data; p && *p; p++)
            cps += ((unsigned char)*p & 0xC0) != 0x80;
        free(raw);
        raw = sz_buf_finish(&t, NULL);
        a.link_to[0] = '\0';
        if (raw && cps > x->nt->text.max) {
            x->result = fail("content_invalid", "linkedin: with %s the link goes in the text, and then it is over "
                             "%ld characters", video ? "a video" : "several images", x->nt->text.max);
            goto done;
        }
        if (!raw)
            goto done;
    }
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
        if (art && nm == 1 && li_media(x, body, art) != 0) { /* the image: the article's thumbnail */
            sz_json_free(art);
            goto done;
        }
        if (!art || json_object_set_new(body, "content", json_pack("{s:o}", "article", art)) != 0)
            goto done;
    }
    else if (nm && li_media(x, body, NULL) != 0)
        goto done;
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
    if (status >= 200 && status < 300 && strcmp(c->action, "upload") == 0) {
        const char *kind = jstr(json_object_get(c->step, "item"), "kind");
        return kind && strcmp(kind, "video") == 0 ? li_parse_video(c, status, h, nh, j) : li_parse_upload(c, status, j);
    }
    if (status == 403 && strcmp(c->action, "upload") == 0 && jstr(step_state(c), "phase") &&
        strcmp(jstr(step_state(c), "phase"), "put") == 0) {
        /* an upload URL refused (expired): the item's upload starts again, once */
        if (!json_is_true(json_object_get(step_state(c), "restarted")))
            return media_next(json_pack("{s:b}", "restarted", 1), 0);
        return classify("transient", status, code ? code : "upload-refused",
                        "the upload URL was refused (expired?), again after a new upload was started");
    }
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
    /* 3-legged OAuth (learn.microsoft.com/linkedin/shared/authentication/
     * authorization-code-flow): 60-day tokens, refresh tokens only for
     * approved partners; identity from OpenID Connect's userinfo */
    .oauth = {.authorize = "https://www.linkedin.com/oauth/v2/authorization",
              .token = "https://www.linkedin.com/oauth/v2/accessToken",
              .revoke = "https://www.linkedin.com/oauth/v2/revoke", .scopes = "openid profile w_member_social",
              .refresh = 1, .identity = "https://api.linkedin.com/v2/userinfo", .id_path = "sub",
              .nick_path = "name", .token_field = "accessToken", .account_field = "personId"},
    .auth = SZ_AUTH_BEARER, .bearer = {"accessToken", 0},
    .auth_fields = {"accessToken"},
    .secret_fields = {"accessToken", "refreshToken", "clientSecret"},
    .account_fields = {"personId", "author", "accessToken"},
    .app_key_fields = {"baseUrl"},
    .no_notify = "the Messages API is restricted to approved partners",
    .intent_default = 1,
    .intent = "https://www.linkedin.com/sharing/share-offsite/?url={u}",
    .media = {.images = LI_MAX_IMAGES, .videos = 1, .max_video = 524288000 /* 500 MB */,
              .mimes = "image/jpeg,image/png,image/gif,video/mp4", .upload = 1, .alt = 1,
              .chunk = 4194304 /* the parts LinkedIn's uploadInstructions give */},
    .carries = "title:text; with a link `content.article.title`,"
               "description:with a link `content.article.description`,"
               "linkBack:`content.article.source` (with several images or a video: text)",
    .raw_2xx_ok = 1, .notify_subject = 1, .rate_scope = "app",
    .no_readback = "reading a member's posts needs r_member_social, granted to approved partners only; the connect flow asks w_member_social",
    .build = build_linkedin, .parse = parse_linkedin,
};
