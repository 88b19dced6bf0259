/* VK: wall.post with a guid de-duplicating repeats; user token (wall scope). */
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


static sz_request *build_vkontakte(ctx *x)
{
    char *root = base_url(x->nt, x->app, NULL, NULL), idb[32], guid[65], *cin = NULL;
    sz_params *p = sz_params_new();
    sz_request *r = NULL;
    sz_buf url;
    const char *owner;
    sz_buf_init(&url);
    NEED(x->user, accessToken, "user access token (wall scope)");
    owner = jid(x->user, "ownerId", idb, sizeof idb);
    if (!owner)
        owner = jid(x->user, "userId", idb, sizeof idb);
    if (!owner) {
        x->result = fail("not_connected", "vkontakte: the connection needs ownerId or userId");
        goto done;
    }
    if (!p || !root)
        goto done;
    {
        action a;
        char *m = text_of(x, &a);
        int bad = !m || (*m && pset(p, "message", m)) ||
                  (a.link_to[0] && a.link && pset(p, a.link_to, a.link)); /* at most one external URL */
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

static json_t *parse_vkontakte(const sz_call_json *c, int status, const sz_header *h, size_t nh,
                               json_t *j, long long now)
{
    json_t *e = json_object_get(j, "error"), *resp = json_object_get(j, "response");
    char code[32], idb[32], pid[64];
    const char *cat, *owner;
    (void)h;
    (void)nh;
    (void)now;
    if (!e && json_is_object(resp) && json_is_integer(json_object_get(resp, "post_id"))) {
        owner = jid(c->user, "ownerId", idb, sizeof idb);
        if (!owner)
            owner = jid(c->user, "userId", idb, sizeof idb);
        snprintf(pid, sizeof pid, "%s_%" JSON_INTEGER_FORMAT, owner ? owner : "0",
                 json_integer_value(json_object_get(resp, "post_id")));
        return success(pid);
    }
    if (!e)
        return classify(by_status(status == 200 ? 502 : status), status, NULL, "reply has neither response nor error");
    snprintf(code, sizeof code, "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(e, "error_code")));
    cat = lookup(CODES_VK, (long)json_integer_value(json_object_get(e, "error_code")));
    {
        json_t *r = classify(cat ? cat : "transient", status, code, jstr(e, "error_msg"));
        set_scope(r, "account");
        return r;
    }
}

const sz_net sz_net_vkontakte = {
    .name = "vkontakte", .display = "VK", .rank = 4, .note = "wall.post", .gigya = 1,
    .base_url = "https://api.vk.com", .version = "5.199",
    .text = {16384, SZ_TEXT_CODEPOINTS, -1, "\n\n", "userMessage,title,description;attachments=linkBack"},
    .auth = SZ_AUTH_TOKEN_PARAM,
    .auth_fields = {"accessToken"},
    .secret_fields = {"accessToken"},
    .account_fields = {"userId", "ownerId", "accessToken"},
    .app_key_fields = {"baseUrl"},
    .no_notify = "messages.send needs a community token; not offered",
    .idem = {SZ_IDEM_PARAM, "guid"},
    .intent = "https://vk.com/share.php?url={u}&title={t}&comment={d}",
    .rate_scope = "account", .codes = CODES_VK,
    .build = build_vkontakte, .parse = parse_vkontakte,
};
