/* Telegram: Bot API to the connection's chat; the bot token is the app's.
 * Text: sendMessage (4096 characters). Media (docs/media.md): one item is
 * sendPhoto / sendVideo / sendAudio / sendAnimation (a GIF), several are an
 * album, sendMediaGroup (2..10 items; photos and videos may mix, audio only
 * with audio; a GIF in an album goes as a photo, albums take no animation).
 * An http(s) item is sent as its URL (Telegram fetches it: photos up to 5 MB,
 * others 20 MB); bytes are a multipart upload (photos up to 10 MB, others
 * 50 MB), an album's files as parts "file<index>" its media JSON names as
 * "attach://file<index>".
 * The caption rule: the text is the caption (of the first album item) when it
 * fits Telegram's 1024 characters; otherwise the media go without a caption
 * and the whole text (up to 4096) follows as a message of its own: the
 * create's result then carries data, and the follow-up step "sendText" posts
 * the text, its reply the call's (postID: the text message's). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "sz_netkit.h"

#define TG_CAPTION_MAX 1024
#define TG_ALBUM_MAX 10
#define TG_PHOTO_UPLOAD (10LL * 1024 * 1024)
#define TG_FILE_UPLOAD (50LL * 1024 * 1024)

/* The Bot API's type of an item: "photo", "video", "audio", "animation"
 * (a GIF alone); NULL when Telegram has none for it. */
static const char *tg_type(const sz_media *m, int album)
{
    if (strcmp(m->kind, "image") == 0)
        return "photo";
    if (strcmp(m->kind, "gif") == 0)
        return album ? "photo" : "animation";
    if (strcmp(m->kind, "video") == 0)
        return "video";
    if (strcmp(m->kind, "audio") == 0)
        return "audio";
    return NULL;
}

static const char *ext_of(const char *mime)
{
    static const char *const E[][2] = {{"image/jpeg", "jpg"}, {"image/png", "png"}, {"image/gif", "gif"},
                                       {"image/webp", "webp"}, {"video/mp4", "mp4"}, {"audio/mpeg", "mp3"},
                                       {NULL, NULL}};
    int i;
    for (i = 0; mime && E[i][0]; i++)
        if (strcmp(mime, E[i][0]) == 0)
            return E[i][1];
    return "bin";
}

/* Telegram measures a message's text (4096) and a caption (1024) in UTF-16
 * code units: a code point past the BMP (most emoji) counts 2. */
static long weigh_utf16(unsigned cp)
{
    return cp >= 0x10000 ? 2 : 1;
}

static const sz_counter COUNT_UTF16 = {"utf16", weigh_utf16};

/* The publish's text goes as the caption: it fits 1024 UTF-16 units (the
 * text is valid UTF-8: a 4-byte sequence is one code point past the BMP). */
static int caption_fits(const ctx *x, const char *text)
{
    const unsigned char *u = (const unsigned char *)text;
    long n = 0;
    (void)x;
    for (; *u && n <= TG_CAPTION_MAX; u++)
        n += (*u & 0xC0) == 0x80 ? 0 : *u >= 0xF0 ? 2 : 1;
    return n <= TG_CAPTION_MAX;
}

/* A publish with media whose text does not fit a caption: the text follows
 * (1; 0: it does not; -1: out of memory). */
static int text_follows(ctx *x)
{
    action a;
    char *text;
    int r;
    if (strcmp(x->c->action, "publish") != 0 || !media_count(x))
        return 0;
    text = text_of(x, &a);
    r = text ? *text && !caption_fits(x, text) : x->result ? 0 : -1;
    free(text);
    sz_json_free(x->result);
    x->result = NULL;
    return r;
}

/* Checks every item; 0, or -1 with x->result set. */
static int check_items(ctx *x, size_t n, int *any_bytes)
{
    size_t k;
    int audio = 0, other = 0;
    sz_media m;
    *any_bytes = 0;
    if (n > TG_ALBUM_MAX) {
        x->result = fail("content_invalid", "telegram: %zu media items; an album (sendMediaGroup) takes at most %d",
                         n, TG_ALBUM_MAX);
        return -1;
    }
    for (k = 0; k < n; k++) {
        const char *t;
        long long cap;
        if (media_at(x, k, &m) != 0) {
            x->result = fail("content_invalid", "telegram: media item %zu is not an object", k + 1);
            return -1;
        }
        if (!(t = tg_type(&m, n > 1))) {
            x->result = fail("content_invalid", "telegram: mediaItems[%d] is of kind '%.20s', which Telegram does "
                             "not take", m.index, m.kind);
            return -1;
        }
        if (!m.data && !(m.url && url_ok(m.url))) {
            x->result = fail("content_invalid", "telegram: mediaItems[%d] has neither bytes nor an http(s) URL",
                             m.index);
            return -1;
        }
        cap = strcmp(t, "photo") == 0 ? TG_PHOTO_UPLOAD : TG_FILE_UPLOAD;
        if (m.data && (long long)m.len > cap) {
            x->result = fail("content_invalid", "telegram: mediaItems[%d] is %zu bytes; a %s upload takes at most "
                             "%lld", m.index, m.len, t, cap);
            return -1;
        }
        *any_bytes |= m.data != NULL;
        if (strcmp(t, "audio") == 0)
            audio = 1;
        else
            other = 1;
    }
    if (audio && other) {
        x->result = fail("content_invalid", "telegram: mediaItems: audio cannot share an album with photos or videos");
        return -1;
    }
    return 0;
}

/* sendPhoto & co. for one item, sendMediaGroup for several. */
static sz_request *build_media(ctx *x, const char *root, const char *tok, const char *chat, const char *caption)
{
    size_t n = media_count(x), k;
    int bytes;
    sz_media m;
    sz_buf url;
    sz_request *r = NULL;
    json_t *body = NULL, *arr = NULL;
    char *mj = NULL;
    if (check_items(x, n, &bytes) != 0)
        return NULL;
    sz_buf_init(&url);
    if (n == 1) {
        const char *t, *method;
        media_at(x, 0, &m);
        t = tg_type(&m, 0);
        method = strcmp(t, "photo") == 0 ? "sendPhoto" : strcmp(t, "video") == 0 ? "sendVideo"
                 : strcmp(t, "audio") == 0 ? "sendAudio" : "sendAnimation";
        sz_buf_printf(&url, "%s/bot%s/%s", root, tok, method);
        if (url.failed)
            goto done;
        if (m.data) {
            sz_multipart mp;
            char fn[40];
            snprintf(fn, sizeof fn, "item%d.%s", m.index, ext_of(m.mime));
            multipart_begin(&mp, x->c->nonce);
            multipart_field(&mp, "chat_id", chat);
            if (caption)
                multipart_field(&mp, "caption", caption);
            multipart_file(&mp, t, fn, m.mime, m.data, m.len);
            r = multipart_finish(&mp, "POST", url.data);
        } else if ((body = json_pack("{s:s, s:s}", "chat_id", chat, t, m.url)) &&
                   (!caption || json_object_set_new(body, "caption", json_string(caption)) == 0)) {
            r = req_json("POST", url.data, body);
        }
        goto done;
    }
    sz_buf_printf(&url, "%s/bot%s/sendMediaGroup", root, tok);
    if (url.failed || !(arr = json_array()))
        goto done;
    for (k = 0; k < n; k++) {
        char ref[40];
        json_t *o;
        media_at(x, k, &m);
        snprintf(ref, sizeof ref, "attach://file%d", m.index);
        o = json_pack("{s:s, s:s}", "type", tg_type(&m, 1), "media", m.data ? ref : m.url);
        if (!o || json_array_append_new(arr, o) != 0)
            goto done;
        if (k == 0 && caption && json_object_set_new(o, "caption", json_string(caption)) != 0)
            goto done;
    }
    if (bytes) {
        sz_multipart mp;
        if (!(mj = canon(arr))) /* sorted compact JSON, as every JSON body */
            goto done;
        multipart_begin(&mp, x->c->nonce);
        multipart_field(&mp, "chat_id", chat);
        multipart_field(&mp, "media", mj);
        for (k = 0; k < n; k++) {
            char name[24], fn[40];
            media_at(x, k, &m);
            if (!m.data)
                continue;
            snprintf(name, sizeof name, "file%d", m.index);
            snprintf(fn, sizeof fn, "item%d.%s", m.index, ext_of(m.mime));
            multipart_file(&mp, name, fn, m.mime, m.data, m.len);
        }
        r = multipart_finish(&mp, "POST", url.data);
    } else if ((body = json_pack("{s:s, s:O}", "chat_id", chat, "media", arr))) {
        r = req_json("POST", url.data, body);
    }
done:
    free(mj);
    sz_json_free(arr);
    sz_json_free(body);
    sz_buf_reset(&url);
    return r;
}

static sz_request *build_telegram(ctx *x)
{
    const char *act = x->c->action;
    char *root = base_url(x->nt, x->app, NULL, NULL), *text = NULL, idb[32];
    json_t *body = NULL;
    sz_request *r = NULL;
    sz_buf url;
    const char *chat;
    action a;
    sz_buf_init(&url);
    NEED(x->app, botToken, "bot token");
    {
        /* "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11" (Bot API, Authorizing your bot):
         * a path segment of the URL, so nothing else ('/', '?', '#', '%', '.') */
        size_t d = strspn(botToken, "0123456789");
        if (d == 0 || botToken[d] != ':' || !botToken[d + 1] ||
            strspn(botToken + d + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
                strlen(botToken + d + 1)) {
            x->result = fail("content_invalid", "telegram: the provider config's botToken is not a bot token "
                                                "(digits, ':', then letters, digits, '_' or '-')");
            goto done;
        }
    }
    chat = strcmp(act, "notify") == 0 ? jid(x->in, "recipient", idb, sizeof idb)
                                      : jid(x->user, "chatId", idb, sizeof idb);
    if (!chat || !*chat) {
        x->result = fail("not_connected", "telegram: %s has no chatId",
                         strcmp(act, "notify") == 0 ? "the recipient" : "the connection");
        goto done;
    }
    if (!(text = text_of(x, &a)))
        goto done;
    if (strcmp(act, "publish") == 0 && media_count(x)) {
        r = build_media(x, root, botToken, chat, *text && caption_fits(x, text) ? text : NULL);
        goto done;
    }
    if (!*text) { /* the follow-up of a publish whose media were all it had */
        x->result = fail("content_invalid", "telegram: nothing to post (no text)");
        goto done;
    }
    body = json_pack("{s:s, s:s}", "chat_id", chat, "text", text);
    sz_buf_printf(&url, "%s/bot%s/sendMessage", root, botToken);
    if (body && !url.failed)
        r = req_json("POST", url.data, body);
done:
    free(root);
    free(text);
    sz_json_free(body);
    sz_buf_reset(&url);
    return r;
}

/* The file id of a message's media (a photo's largest size is the last). */
static const char *file_id(json_t *msg)
{
    static const char *const K[] = {"video", "audio", "animation", "document", NULL};
    json_t *p = json_object_get(msg, "photo");
    int i;
    if (json_is_array(p) && json_array_size(p))
        return jstr(json_array_get(p, json_array_size(p) - 1), "file_id");
    for (i = 0; K[i]; i++)
        if (jstr(json_object_get(msg, K[i]), "file_id"))
            return jstr(json_object_get(msg, K[i]), "file_id");
    return NULL;
}

static json_t *parse_telegram(const sz_call_json *c, int status, const sz_header *h, size_t nh,
                              json_t *j, long long now)
{
    json_t *res = json_object_get(j, "result"), *r, *ra;
    long code = (long)json_integer_value(json_object_get(j, "error_code"));
    char cb[32];
    (void)h;
    (void)nh;
    (void)now;
    if (json_is_true(json_object_get(j, "ok")) && res) {
        /* sendMediaGroup answers the album's messages: the first is the post */
        json_t *first = json_is_array(res) ? json_array_get(res, 0) : res, *ids = json_array(), *m;
        size_t i;
        char pid[64];
        int follows;
        ctx x;
        if (!json_is_object(first)) {
            sz_json_free(ids);
            return classify("transient", status, NULL, "telegram: reply without a message");
        }
        snprintf(pid, sizeof pid, "%" JSON_INTEGER_FORMAT ":%" JSON_INTEGER_FORMAT,
                 json_integer_value(json_object_get(json_object_get(first, "chat"), "id")),
                 json_integer_value(json_object_get(first, "message_id")));
        r = success(pid);
        json_array_foreach(json_is_array(res) ? res : NULL, i, m) if (file_id(m))
            json_array_append_new(ids, json_string(file_id(m)));
        if (!json_is_array(res) && file_id(res))
            json_array_append_new(ids, json_string(file_id(res)));
        if (json_array_size(ids))
            json_object_set_new(r, "mediaIDs", ids);
        else
            sz_json_free(ids);
        memset(&x, 0, sizeof x);
        x.c = c;
        x.nt = sz_net_find(c->provider);
        x.in = c->input;
        x.app = c->app;
        x.user = c->user;
        x.setup = c->setup;
        if (x.nt && (follows = text_follows(&x)) != 0) { /* the media went without their caption */
            json_t *d = follows > 0 ? json_pack("{s:s}", "mediaPostID", pid) : NULL;
            if (!d || json_object_set_new(r, "data", d) != 0) { /* the text would be lost: say so */
                sz_json_free(r);
                return classify("transient", status, NULL, "telegram: out of memory after the media were sent "
                                                           "(their text did not follow)");
            }
        }
        return r;
    }
    snprintf(cb, sizeof cb, "%ld", code);
    r = classify(by_status(code >= 100 && code <= 599 ? (int)code : status), status, code ? cb : NULL,
                 jstr(j, "description"));
    ra = json_object_get(json_object_get(j, "parameters"), "retry_after");
    if (json_is_integer(ra))
        set_retry(r, json_integer_value(ra));
    /* "group chat was upgraded to a supergroup chat": the chat has a new id
     * (ResponseParameters.migrate_to_chat_id) the caller must store; the
     * request as sent stays invalid (content_invalid), the connection works. */
    ra = json_object_get(json_object_get(j, "parameters"), "migrate_to_chat_id");
    if (json_is_integer(ra)) {
        char id[32], d[600];
        snprintf(id, sizeof id, "%" JSON_INTEGER_FORMAT, json_integer_value(ra));
        snprintf(d, sizeof d, "%s; migrate_to_chat_id %s", jstr(r, "errorDetails"), id);
        json_object_set_new(r, "errorDetails", json_string(d));
        json_object_set_new(r, "migrateToChatId", json_string(id));
    }
    if (c->action && strcmp(c->action, "sendText") == 0 && jstr(r, "errorDetails")) {
        /* the follow-up: the media are out already, only their text failed */
        char *d = sz_strndup(jstr(r, "errorDetails"), strlen(jstr(r, "errorDetails")));
        sz_buf b;
        sz_buf_init(&b);
        sz_buf_printf(&b, "the media were posted without their text; the text message failed: %s", d ? d : "");
        if (d && !b.failed)
            json_object_set_new(r, "errorDetails", json_string(b.data));
        free(d);
        sz_buf_reset(&b);
    }
    set_scope(r, "app"); /* the bot's limit */
    return r;
}

const sz_net sz_net_telegram = {
    .name = "telegram", .display = "Telegram", .rank = 10,
    .note = "Bot API sendMessage; sendPhoto, sendVideo, sendAudio, sendAnimation, sendMediaGroup",
    .base_url = "https://api.telegram.org",
    .text = {4096, SZ_TEXT_CODEPOINTS, -1, "\n\n", "userMessage,title,subtitle,description,actionLinks;linkBack", &COUNT_UTF16},
    .auth = SZ_AUTH_URL_TOKEN,
    .auth_fields = {"botToken"},
    .secret_fields = {"botToken"},
    .account_fields = {"chatId"},
    .app_key_fields = {"botToken", "baseUrl"},
    .recipient_field = "chatId", .recipient_numeric_uid = 1,
    .follow_up = "sendText",
    .intent = "https://t.me/share/url?url={u}&text={t}",
    .media = {.images = TG_ALBUM_MAX, .videos = TG_ALBUM_MAX, .audio = 1,
              .max_image = TG_PHOTO_UPLOAD, .max_video = TG_FILE_UPLOAD,
              .mimes = "image/jpeg,image/png,image/gif,image/webp,video/mp4,audio/mpeg",
              .by_url = 1, .bytes = 1},
    .rate_scope = "app",
    .no_readback = "a bot cannot read a channel's history (getUpdates carries only new updates)",
    .build = build_telegram, .parse = parse_telegram,
};
