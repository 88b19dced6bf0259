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

static json_t *parse_threads(const sz_call_json *c, int status, const sz_header *h, size_t nh,
                             json_t *j, long long now)
{
    json_t *e = json_object_get(j, "error"), *r;
    char idb[40];
    const char *cat = NULL, *id = jid(j, "id", idb, sizeof idb);
    long ec, sub;
    (void)h, (void)nh, (void)now;
    if (!e && status >= 200 && status < 300) {
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
    .note = "two steps: a TEXT container, then threads_publish",
    .base_url = "https://graph.threads.net", .version = "v1.0",
    .text = {500, SZ_TEXT_CODEPOINTS, -1, "\n\n", "userMessage,title;link_attachment=linkBack", &COUNT_THREADS},
    .auth = SZ_AUTH_TOKEN_PARAM,
    .auth_fields = {"accessToken", "userId"},
    .secret_fields = {"accessToken"},
    .account_fields = {"userId", "accessToken"},
    .app_key_fields = {"baseUrl"},
    .no_notify = "the Threads API has no direct messages",
    .follow_up = "publishContainer",
    .intent = "https://www.threads.com/intent/post?text={t}&url={u}",
    .rate_scope = "account", .codes = CODES_THREADS,
    .build = build_threads, .parse = parse_threads,
};
