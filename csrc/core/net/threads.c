/* Threads (Meta): a post is published in two steps (providers.md 11):
 * POST /{version}/{userId}/threads creates a container (media_type=TEXT,
 * text, link_attachment), then the follow-up step "publishContainer" posts
 * its id to /{version}/{userId}/threads_publish, whose reply has the post id.
 * Threads user token (threads_basic, threads_content_publish) as a parameter;
 * Graph-style errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "sz_netkit.h"

/* developers.facebook.com/docs/graph-api/guides/error-handling (Threads
 * answers Graph errors), /docs/threads/overview (250 API posts per profile
 * per 24 h, enforced on threads_publish), multi-provider-lessons.md 2.3. */
static const code_cat CODES_THREADS[] = {
    {190, 190, "auth_expired"}, {102, 102, "auth_expired"}, {2500, 2500, "auth_expired"},
    {3, 3, "permission_missing"}, {10, 10, "permission_missing"}, {200, 299, "permission_missing"},
    {506, 506, "duplicate"},
    {4, 4, "rate_limited"}, {17, 17, "rate_limited"}, {32, 32, "rate_limited"},
    {613, 613, "rate_limited"}, {80000, 80014, "rate_limited"},
    {9, 9, "quota_exhausted"}, {341, 341, "quota_exhausted"},
    {368, 368, "policy_blocked"}, {100, 100, "content_invalid"}, {24, 24, "content_invalid"},
    {1, 2, "transient"}, {0, 0, NULL}
};

/* subcodes that say more than their code */
static const code_cat SUBCODES_THREADS[] = {
    {2207051, 2207051, "policy_blocked"},  /* "we restrict certain activity" */
    {4279013, 4279013, "policy_blocked"},  /* the user is restricted */
    {2207042, 2207042, "quota_exhausted"}, /* the daily publishing cap (250 per 24 h) */
    {460, 467, "auth_expired"},            /* password changed, session invalidated, ... */
    {0, 0, NULL}
};

/* "500 characters, with emoji counted as the number of their UTF-8 bytes":
 * a code point of the emoji and symbol blocks (and the joiners, selectors,
 * keycaps and tags of emoji sequences) weighs its UTF-8 length, any other 1.
 * The blocks are wide on purpose: counting a symbol too heavily only cuts a
 * little earlier, counting it too lightly gets the post refused. */
static long weigh_threads(unsigned cp)
{
    int emoji = (cp >= 0x1F000 && cp <= 0x1FAFF) || (cp >= 0x2190 && cp <= 0x21FF) ||
                (cp >= 0x2300 && cp <= 0x23FF) || (cp >= 0x25A0 && cp <= 0x27BF) ||
                (cp >= 0x2900 && cp <= 0x297F) || (cp >= 0x2B00 && cp <= 0x2BFF) ||
                (cp >= 0xFE00 && cp <= 0xFE0F) || (cp >= 0xE0000 && cp <= 0xE007F) ||
                (cp >= 0x2100 && cp <= 0x214F) || cp == 0x200D || cp == 0x20E3 || cp == 0x203C ||
                cp == 0x2049 || cp == 0x3030 || cp == 0x303D || cp == 0x3297 || cp == 0x3299 ||
                cp == 0xA9 || cp == 0xAE;
    if (!emoji)
        return 1;
    return cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

static const sz_counter COUNT_THREADS = {"codepoints_emoji_bytes", weigh_threads};

static int digits(const char *s)
{
    return s && *s && strspn(s, "0123456789") == strlen(s) && strlen(s) <= 32;
}

/* Media (docs/media.md): Threads fetches each item from its public URL
 * (image_url / video_url); bytes cannot be sent. Every item goes through the
 * upload step, which makes its container and polls the container's status
 * until FINISHED (videos are processed; images usually are at once):
 *   - one item: the container is the post's own (IMAGE or VIDEO, with the
 *     text and alt_text), and the publish step publishes it directly
 *     (threads_publish; no follow-up);
 *   - several (2 to 20): each is a carousel item (is_carousel_item=true), the
 *     publish step makes the CAROUSEL container (children, text) and the
 *     follow-up publishes it.
 * Whether there are several is read from the UserAction: its mediaItems with
 * an http(s) src (input.media when the front passes it). A carousel item left
 * alone (the others failed, media.partial = "allow") is posted through a new
 * IMAGE/VIDEO container from its URL. Containers cannot be deleted; unused
 * ones expire after 24 hours. */
#define TH_MAX_ITEMS 20
#define TH_MAX_POLLS 30  /* status polls per container: 30 x 10 s for a video */
#define TH_WAIT_IMAGE 1
#define TH_WAIT_VIDEO 10

static int several(json_t *in, json_t *step)
{
    json_t *a = json_object_get(in, "media"), *v;
    size_t i, n = 0;
    if (json_is_array(json_object_get(step, "items"))) /* the items the front will carry (docs/media.md) */
        return json_array_size(json_object_get(step, "items")) > 1;
    if (json_is_array(a))
        return json_array_size(a) > 1;
    a = json_object_get(json_object_get(in, "userAction"), "mediaItems");
    json_array_foreach(a, i, v) {
        const char *src = jstr(v, "src");
        if (src && url_ok(src) && !json_object_get(v, "data")) /* bytes go first, and cannot go here */
            n++;
    }
    return n > 1;
}

/* whether the UserAction has anything for the text of a media post */
static int has_text(json_t *in)
{
    static const char *const F[] = {"userMessage", "title", "linkBack"};
    json_t *ua = json_object_get(in, "userAction");
    size_t i;
    for (i = 0; i < sizeof F / sizeof F[0]; i++)
        if (jstr(ua, F[i]) && *jstr(ua, F[i]))
            return 1;
    return 0;
}

/* media_type, image_url or video_url, alt_text of one item; the refusals
 * name the item in the publish step (in the upload step the front does) */
static int item_params(ctx *x, sz_params *p, const sz_media *m)
{
    int video = strcmp(m->kind, "video") == 0;
    char w[40] = "";
    if (strcmp(x->c->action, "upload") != 0)
        snprintf(w, sizeof w, "mediaItems[%d]: ", m->index);
    if (!video && strcmp(m->kind, "image") != 0 && strcmp(m->kind, "gif") != 0) {
        x->result = fail("unsupported", "threads: %sa %s cannot be posted (images and videos only)", w, m->kind);
        return -1;
    }
    if (!m->url || !url_ok(m->url)) {
        x->result = fail("content_invalid", "threads: %sThreads takes media by public http(s) URL only (a src), "
                                            "not bytes", w);
        return -1;
    }
    if (pset(p, "media_type", video ? "VIDEO" : "IMAGE") || pset(p, video ? "video_url" : "image_url", m->url) ||
        (m->alt && pset(p, "alt_text", m->alt)))
        return -1;
    return 0;
}

/* upload: the item's container (POST /{user}/threads), then its status
 * (GET /{container}?fields=status,error_message) until FINISHED */
static sz_request *build_upload(ctx *x, sz_params *p, const char *root, const char *user, sz_buf *url)
{
    sz_media m;
    json_t *st = step_state(x->c);
    const char *cid = jstr(st, "container");
    if (step_item(x, &m) != 0)
        return NULL;
    if (st) {
        char *q;
        sz_request *r = NULL;
        if (!digits(cid)) {
            x->result = fail("content_invalid", "threads: the status step needs the numeric container id");
            return NULL;
        }
        if (pset(p, "fields", "status,error_message") || !(q = sz_params_query(p, NULL)))
            return NULL;
        sz_buf_printf(url, "%s/%s/%s?%s", root, version(x->nt, x->app), cid, q);
        if (!url->failed)
            r = sz_request_new("GET", url->data);
        sz_free_str(q); /* access_token */
        return r;
    }
    if (item_params(x, p, &m) != 0)
        return NULL;
    if (several(x->in, x->c->step)) {
        if (pset(p, "is_carousel_item", "true"))
            return NULL;
    } else if (has_text(x->in)) { /* a post of media alone has no text */
        action a;
        char *t = text_link_inline(x, &a);
        int bad = !t || (*t && pset(p, "text", t));
        free(t);
        if (bad)
            return NULL;
    }
    sz_buf_printf(url, "%s/%s/%s/threads", root, version(x->nt, x->app), user);
    return url->failed ? NULL : req_form("POST", url->data, p);
}

/* 1 when item 0 of a lone-item publish is a ready container of its own */
static int lone_ready(json_t *in)
{
    json_t *a = json_object_get(in, "media"), *o = json_array_get(a, 0);
    return json_array_size(a) == 1 && digits(jstr(o, "id")) && !json_is_true(json_object_get(o, "carousel"));
}

/* publish with media: the lone container published directly, a new
 * IMAGE/VIDEO container, or the CAROUSEL container of the items */
static int build_media_post(ctx *x, sz_params *p, const char *root, const char *user, sz_buf *url, size_t n)
{
    sz_media m;
    size_t k;
    if (n > TH_MAX_ITEMS) {
        x->result = fail("content_invalid", "threads: %zu media items: at most %d per post (a carousel)", n,
                         TH_MAX_ITEMS);
        return -1;
    }
    if (lone_ready(x->in)) {
        media_at(x, 0, &m);
        if (pset(p, "creation_id", m.id))
            return -1;
        sz_buf_printf(url, "%s/%s/%s/threads_publish", root, version(x->nt, x->app), user);
        return 0;
    }
    if (n == 1) {
        if (media_at(x, 0, &m) != 0 || item_params(x, p, &m) != 0)
            return -1;
    } else {
        sz_buf ch;
        int bad;
        sz_buf_init(&ch);
        for (k = 0; k < n; k++) {
            if (media_at(x, k, &m) != 0 || !digits(m.id) || !json_is_true(json_object_get(m.obj, "carousel"))) {
                x->result = fail("content_invalid", "threads: mediaItems[%d]: not uploaded as a carousel item "
                                                    "(no container id)", m.index ? m.index : (int)k + 1);
                sz_buf_reset(&ch);
                return -1;
            }
            sz_buf_printf(&ch, "%s%s", k ? "," : "", m.id);
        }
        bad = ch.failed || pset(p, "media_type", "CAROUSEL") || pset(p, "children", ch.data);
        sz_buf_reset(&ch);
        if (bad)
            return -1;
    }
    {
        action a;
        char *t = text_link_inline(x, &a);
        int bad = !t || (*t && pset(p, "text", t));
        free(t);
        if (bad)
            return -1;
    }
    sz_buf_printf(url, "%s/%s/%s/threads", root, version(x->nt, x->app), user);
    return 0;
}

static sz_request *build_threads(ctx *x)
{
    const char *act = x->c->action;
    char *root = base_url(x->nt, x->app, NULL, NULL), *text = NULL;
    sz_params *p = sz_params_new();
    sz_request *r = NULL;
    sz_buf url;
    sz_buf_init(&url);
    NEED(x->user, accessToken, "Threads user access token");
    {
        NEED(x->user, userId, "Threads user id");
        if (!digits(userId)) {
            /* the id is a path segment: digits only */
            x->result = fail("content_invalid", "threads: the connection's userId must be a numeric Threads user id");
            goto done;
        }
        if (!p || !root || pset(p, "access_token", accessToken))
            goto done;
        if (strcmp(act, x->nt->follow_up) == 0) {
            const char *cid = jstr(x->setup, "creationId");
            if (!digits(cid)) {
                x->result = fail("content_invalid", "threads: publishContainer needs the numeric creationId "
                                                    "of the container the create step made");
                goto done;
            }
            if (pset(p, "creation_id", cid))
                goto done;
            sz_buf_printf(&url, "%s/%s/%s/threads_publish", root, version(x->nt, x->app), userId);
        } else if (strcmp(act, "upload") == 0) {
            r = build_upload(x, p, root, userId, &url);
            goto done;
        } else if (strcmp(act, "recent") == 0) {
            /* the user's latest posts (threads_basic): GET /{user-id}/threads */
            char *q = NULL, lim[16];
            snprintf(lim, sizeof lim, "%d", SZ_RECENT_COUNT);
            if (!pset(p, "fields", "id,text,timestamp") && !pset(p, "limit", lim))
                q = sz_params_query(p, NULL);
            sz_buf_printf(&url, "%s/%s/%s/threads?%s", root, version(x->nt, x->app), userId, q ? q : "");
            if (q && !url.failed)
                r = sz_request_new("GET", url.data);
            sz_free_str(q); /* access_token */
            goto done;
        } else if (strcmp(act, "publish") == 0 && media_count(x) > 0) {
            if (build_media_post(x, p, root, userId, &url, media_count(x)) != 0)
                goto done;
        } else {
            action a;
            /* the link is an attachment (its preview), not part of the 500 */
            if (!(text = text_of(x, &a)))
                goto done;
            if (a.link && !url_ok(a.link)) {
                x->result = fail("content_invalid", "threads: linkBack must be an http(s) URL");
                goto done;
            }
            if (pset(p, "media_type", "TEXT") || (*text && pset(p, "text", text)) ||
                (a.link && pset(p, a.link_to, a.link)))
                goto done;
            sz_buf_printf(&url, "%s/%s/%s/threads", root, version(x->nt, x->app), userId);
        }
        if (!url.failed)
            r = req_form("POST", url.data, p);
    }
done:
    free(root);
    free(text);
    sz_params_free(p);
    sz_buf_reset(&url);
    return r;
}

/* an upload reply: the container made (poll its status next), or its status */
static json_t *parse_upload(const sz_call_json *c, int status, json_t *j)
{
    json_t *st = step_state(c), *item = json_object_get(c->step, "item");
    int video = jstr(item, "kind") && strcmp(jstr(item, "kind"), "video") == 0;
    long long wait = video ? TH_WAIT_VIDEO : TH_WAIT_IMAGE;
    char idb[40];
    const char *cid, *s;
    json_int_t polls;
    if (!st && json_object_get(j, "status")) /* never poll without the count of polls */
        return classify("transient", status, NULL, "threads: a status reply without the upload step's state");
    if (!st) {
        cid = jid(j, "id", idb, sizeof idb);
        if (!digits(cid))
            return classify("transient", status, NULL, "threads: container reply without a numeric id");
        return media_next(json_pack("{s:s, s:i, s:b}", "container", cid, "polls", 0, "carousel",
                                    several(c->input, c->step)), wait);
    }
    cid = jstr(st, "container");
    s = jstr(j, "status");
    polls = json_integer_value(json_object_get(st, "polls"));
    if (polls < 0 || polls > TH_MAX_POLLS)
        polls = TH_MAX_POLLS;
    polls++;
    if (!digits(cid))
        return fail("content_invalid", "threads: no container id in the step state");
    if (s && strcmp(s, "FINISHED") == 0)
        return media_done(json_pack("{s:s, s:b}", "id", cid, "carousel",
                                    json_is_true(json_object_get(st, "carousel"))));
    if (s && strcmp(s, "ERROR") == 0) {
        const char *why = jstr(j, "error_message");
        return fail("content_invalid", "threads: Threads could not process it (container status ERROR: %.200s)",
                    why && *why ? why : "no error_message");
    }
    if (s && strcmp(s, "EXPIRED") == 0)
        return fail("content_invalid", "threads: the container expired before it was published");
    if (!s || (strcmp(s, "IN_PROGRESS") != 0))
        return classify("transient", status, NULL, "threads: container status reply without a known status");
    if (polls >= TH_MAX_POLLS)
        return fail("transient", "threads: still IN_PROGRESS after %d status polls (the limit)", TH_MAX_POLLS);
    return media_next(json_pack("{s:s, s:I, s:b}", "container", cid, "polls", polls, "carousel",
                                json_is_true(json_object_get(st, "carousel"))), wait);
}

static json_t *parse_threads(const sz_call_json *c, int status, const sz_header *h, size_t nh,
                             json_t *j, long long now)
{
    json_t *e = json_object_get(j, "error"), *r;
    char idb[40];
    const char *cat = NULL, *id = jid(j, "id", idb, sizeof idb);
    long ec, sub;
    (void)h, (void)nh, (void)now;
    if (!e && status >= 200 && status < 300) {
        if (strcmp(c->action, "upload") == 0)
            return parse_upload(c, status, j);
        if (strcmp(c->action, "recent") == 0) /* {"data": [{id, text, timestamp}], "paging"} */
            return sz_nk_recent(json_object_get(j, "data"), "id", "text", "timestamp");
        if (strcmp(c->action, "publish") == 0 && lone_ready(c->input))
            return success(id); /* the lone container, published: the call's post */
        if (strcmp(c->action, "publish") == 0 || strcmp(c->action, "status") == 0) {
            /* the container: its id is the follow-up's state, not a post */
            if (!id || !*id)
                return classify("transient", status, NULL, "threads: container reply without an id");
            r = success(NULL);
            json_object_set_new(r, "data", json_pack("{s:s}", "creationId", id));
            return r;
        }
        return success(id);
    }
    ec = (long)json_integer_value(json_object_get(e, "code"));
    sub = (long)json_integer_value(json_object_get(e, "error_subcode"));
    if (e) {
        cat = sub ? lookup(SUBCODES_THREADS, sub) : NULL;
        if (!cat)
            cat = lookup(CODES_THREADS, ec);
        if (!cat && json_is_true(json_object_get(e, "is_transient")))
            cat = "transient";
    }
    return graph_error(status, e, cat);
}

const sz_net sz_net_threads = {
    .name = "threads", .display = "Threads", .rank = 11,
    .note = "two steps: a container (TEXT, IMAGE, VIDEO or CAROUSEL), then threads_publish",
    .base_url = "https://graph.threads.net", .version = "v1.0",
    .text = {500, SZ_TEXT_CODEPOINTS, -1, "\n\n", "userMessage,title;link_attachment=linkBack", &COUNT_THREADS},
    /* Threads OAuth (developers.facebook.com/docs/threads/get-started/
     * get-access-tokens-and-permissions): the code grant at graph.threads.net
     * gives a 1-hour token, exchanged at once (th_exchange_token, client
     * secret in the query) for a 60-day one, refreshed by itself
     * (th_refresh_token) a week before it runs out; comma-separated scopes;
     * no revoke endpoint (local delete) */
    .oauth = {.authorize = "https://threads.net/oauth/authorize",
              .token = "https://graph.threads.net/oauth/access_token",
              .scopes = "threads_basic threads_content_publish", .refresh = 1,
              .identity = "https://graph.threads.net/v1.0/me?fields=id,username", .id_path = "id",
              .nick_path = "username", .token_field = "accessToken", .account_field = "userId",
              .scope_sep = ',', .exchange = "https://graph.threads.net/access_token",
              .exchange_grant = "th_exchange_token", .refresh_get = "https://graph.threads.net/refresh_access_token",
              .refresh_grant = "th_refresh_token", .refresh_margin = 7 * 86400},
    .auth = SZ_AUTH_TOKEN_PARAM,
    .auth_fields = {"accessToken", "userId"},
    .secret_fields = {"accessToken", "clientSecret"},
    .account_fields = {"userId", "accessToken"},
    .app_key_fields = {"baseUrl"},
    .no_notify = "the Threads API has no direct messages",
    .follow_up = "publishContainer",
    .readback = "GET /{user-id}/threads?fields=id,text,timestamp",
    /* by public URL only (Threads fetches it); each item a container polled
     * until FINISHED (upload); 2 to 20 make a carousel. Images: JPEG/PNG up
     * to 8 MB; videos: MOV/MP4 up to 1 GB (Threads' media specifications) */
    .media = {.images = TH_MAX_ITEMS, .videos = TH_MAX_ITEMS, .audio = 0, .max_image = 8LL * 1024 * 1024,
              .max_video = 1024LL * 1024 * 1024, .mimes = "image/jpeg,image/png,video/mp4,video/quicktime",
              .by_url = 1, .bytes = 0, .upload = 1, .alt = 1, .deletable = 0},
    .intent = "https://www.threads.com/intent/post?text={t}&url={u}",
    .rate_scope = "account", .codes = CODES_THREADS,
    .build = build_threads, .parse = parse_threads,
};
