/* Provider adapters: a UserAction becomes one network's real API call, and
 * the network's reply becomes a post ID or a classified error.
 *
 * Each network's knowledge is data: the NETS table (endpoints, versions,
 * limits) and the per-network code tables (CODES_*). The functions below
 * only read those tables. Sans-IO: nothing here sends or reads a clock. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "sz_internal.h"
#include "sz_text.h"

/* ---- knowledge ----------------------------------------------------------- */

typedef struct net {
    const char *name;
    const char *base_url;   /* default endpoint root */
    const char *version;    /* pinned API version */
    long        max_len;    /* in the network's own unit (see rule) */
    int         rule;       /* sz_text_rule */
    long        url_weight; /* what one URL counts, -1 = its length */
    int         discontinued;
    const char *note;
} net;

static const net NETS[] = {
    {"twitter", "https://api.x.com", "2", 280, SZ_TEXT_X, 23, 0, "X API v2"},
    {"facebook", "https://graph.facebook.com", "v26.0", 63206, SZ_TEXT_CODEPOINTS, -1, 0, "Graph API, Pages"},
    {"linkedin", "https://api.linkedin.com", "202605", 3000, SZ_TEXT_CODEPOINTS, -1, 0, "Posts API"},
    {"vkontakte", "https://api.vk.com", "5.199", 16384, SZ_TEXT_CODEPOINTS, -1, 0, "wall.post"},
    {"sina", "https://api.weibo.com", "2", 280, SZ_TEXT_WEIBO, -1, 0, "statuses/share.json"},
    {"renren", NULL, NULL, 0, 0, 0, 1, "Renren stopped its service on 1 Dec 2024"},
    {"yahoo", NULL, NULL, 0, 0, 0, 1, "Yahoo's Updates and Social Directory APIs ended in 2020"},
    {"mastodon", NULL, "v1", 500, SZ_TEXT_GRAPHEMES, 23, 0, "statuses, limits read from the instance"},
    {"bluesky", "https://bsky.social", NULL, 300, SZ_TEXT_BSKY, -1, 0, "com.atproto.repo.createRecord"},
    {"telegram", "https://api.telegram.org", NULL, 4096, SZ_TEXT_CODEPOINTS, -1, 0, "Bot API sendMessage"},
    {NULL, NULL, NULL, 0, 0, 0, 0, NULL}
};

const char *const *sz_provider_names(void)
{
    static const char *const names[] = {"twitter", "facebook", "linkedin", "vkontakte", "sina",
                                        "renren", "yahoo", "mastodon", "bluesky", "telegram", NULL};
    return names;
}

typedef struct category {
    const char *name;
    int         gigya; /* Gigya error code reported for it */
} category;

/* providers.md 0.1 categories -> Gigya codes (docs/api.md "Direct delivery"). */
static const category CATS[] = {
    {"auth_expired", 403009},       /* Provider session expired */
    {"permission_missing", 403023}, /* No user permission */
    {"duplicate", 403024},          /* Provider limit reached ("Status is a duplicate") */
    {"rate_limited", 400125},       /* Frequency limit reached */
    {"quota_exhausted", 400124},    /* Limit reached */
    {"content_invalid", 400006},    /* Invalid parameter value */
    {"policy_blocked", 403037},     /* Post denied */
    {"transient", 500023},          /* Provider error */
    {"unsupported", 400096},        /* Not supported */
    {"provider_discontinued", 400096},
    {"not_connected", 400106},      /* Not connected */
    {NULL, 0}
};

int sz_category_code(const char *cat)
{
    int i;
    for (i = 0; CATS[i].name; i++)
        if (strcmp(CATS[i].name, cat) == 0)
            return CATS[i].gigya;
    return 500023;
}

typedef struct code_cat {
    long        lo, hi; /* inclusive range of the network's code */
    const char *cat;
} code_cat;

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

/* open.weibo.com Error_code; providers.md 5 */
static const code_cat CODES_WEIBO[] = {
    {21301, 21301, "auth_expired"}, {21314, 21319, "auth_expired"}, {21327, 21327, "auth_expired"},
    {21332, 21332, "auth_expired"},
    {10004, 10005, "permission_missing"}, {10014, 10014, "permission_missing"},
    {20017, 20017, "duplicate"}, {20019, 20019, "duplicate"}, {20111, 20111, "duplicate"},
    {10022, 10024, "rate_limited"}, {20016, 20016, "rate_limited"},
    {20005, 20006, "content_invalid"}, {20008, 20008, "content_invalid"},
    {20012, 20012, "content_invalid"}, {10017, 10017, "content_invalid"},
    {20031, 20031, "policy_blocked"}, {10001, 10003, "transient"}, {0, 0, NULL}
};

static const char *lookup(const code_cat *t, long code)
{
    for (; t->cat; t++)
        if (code >= t->lo && code <= t->hi)
            return t->cat;
    return NULL;
}

static const char *by_status(int status)
{
    if (status == 401) return "auth_expired";
    if (status == 403) return "permission_missing";
    if (status == 429) return "rate_limited";
    if (status == 400 || status == 413 || status == 422) return "content_invalid";
    if (status >= 500 || status == 408 || status == 0) return "transient";
    return "transient";
}

static const net *find_net(const char *name)
{
    const net *n;
    for (n = NETS; name && n->name; n++)
        if (strcmp(n->name, name) == 0)
            return n;
    return NULL;
}

/* ---- small helpers ------------------------------------------------------- */

/* Caps on numbers read from a network (docs/RELIABILITY.md): a Mastodon
 * instance's text limit and URL weight, and any retryAfter. */
#define SZ_MAX_TEXT_LIMIT 1000000
#define SZ_MAX_URL_WEIGHT 10000
#define SZ_MAX_RETRY_AFTER 31622400 /* 366 days */

static const char *jstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (json_is_string(v))
        return json_string_value(v);
    return NULL;
}

/* A string field, or a number rendered as a string, into buf. */
static const char *jid(json_t *o, const char *k, char *buf, size_t n)
{
    json_t *v = json_object_get(o, k);
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(buf, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return buf;
    }
    return NULL;
}

/* Zeroes a buffer that held a credential, then frees it. */
static void sz_buf_wipe(sz_buf *b)
{
    if (b->data)
        OPENSSL_cleanse(b->data, b->cap);
    sz_buf_reset(b);
}

static json_t *fail(const char *cat, const char *details, ...) SZ_PRINTF(2, 3);
static json_t *fail(const char *cat, const char *details, ...)
{
    char msg[512];
    va_list ap;
    json_t *r = json_object();
    int code = sz_category_code(cat);
    va_start(ap, details);
    vsnprintf(msg, sizeof msg, details, ap);
    va_end(ap);
    json_object_set_new(r, "ok", json_false());
    json_object_set_new(r, "category", json_string(cat));
    json_object_set_new(r, "errorCode", json_integer(code));
    json_object_set_new(r, "errorMessage", json_string(sz_strerror(code)));
    json_object_set_new(r, "errorDetails", json_string(msg));
    return r;
}

static json_t *success(const char *post_id)
{
    json_t *r = json_object();
    json_object_set_new(r, "ok", json_true());
    json_object_set_new(r, "errorCode", json_integer(0));
    json_object_set_new(r, "errorMessage", json_string("OK"));
    if (post_id)
        json_object_set_new(r, "postID", json_string(post_id));
    return r;
}

static void hex(const unsigned char *d, size_t n, char *out)
{
    static const char H[] = "0123456789abcdef";
    size_t i;
    for (i = 0; i < n; i++) {
        out[2 * i] = H[d[i] >> 4];
        out[2 * i + 1] = H[d[i] & 15];
    }
    out[2 * n] = '\0';
}

/* j serialised into one exact-size buffer (caller frees). Not json_dumps:
 * when its growing buffer cannot grow, jansson 2.14 drops an object key and
 * carries on, so an allocation failure would yield wrong JSON; json_dumpb
 * into a fixed buffer either writes everything or reports failure. */
static char *dump_json(json_t *j, size_t flags, size_t *len)
{
    size_t n = json_dumpb(j, NULL, 0, flags);
    char *b = n ? malloc(n + 1) : NULL;
    if (!b)
        return NULL;
    if (json_dumpb(j, b, n, flags) != n) {
        free(b);
        return NULL;
    }
    b[n] = '\0';
    if (len)
        *len = n;
    return b;
}

/* Canonical JSON (sorted keys, compact, raw UTF-8). Caller frees. */
static char *canon(json_t *j)
{
    return dump_json(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY, NULL);
}

/* Hex digest of parts joined by '\n' (deterministic idempotency keys). */
static void digest_hex(const char *a, const char *b, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(c, a ? a : "", a ? strlen(a) : 0) != 1 ||
        EVP_DigestUpdate(c, "\n", 1) != 1 ||
        EVP_DigestUpdate(c, b ? b : "", b ? strlen(b) : 0) != 1 ||
        EVP_DigestFinal_ex(c, md, &n) != 1)
        n = 0;
    EVP_MD_CTX_free(c);
    hex(md, n, out);
}

/* Joins the non-empty parts with sep. */
static void join(sz_buf *b, const char *sep, const char *const *parts, size_t n)
{
    size_t i;
    int first = 1;
    for (i = 0; i < n; i++) {
        if (!parts[i] || !*parts[i])
            continue;
        if (!first)
            sz_buf_adds(b, sep);
        sz_buf_adds(b, parts[i]);
        first = 0;
    }
    if (first)
        sz_buf_add(b, "", 0); /* an empty, NUL-terminated string */
}

/* text + " " + link, with text cut (never a URL) so the whole fits the
 * network's limit. Fails when the link alone does not fit. */
static char *fit(const net *nt, const char *text, const char *link, long url_weight, long max,
                 const char *sep, int may_cut, json_t **err)
{
    sz_buf b;
    size_t tl = text ? strlen(text) : 0;
    long lw = link && *link ? sz_text_measure(link, strlen(link), (sz_text_rule)nt->rule, url_weight) : 0,
         sw = link && *link ? sz_text_measure(sep, strlen(sep), (sz_text_rule)nt->rule, url_weight) : 0,
         linkw = lw + sw;
    long textw = sz_text_measure(text ? text : "", tl, (sz_text_rule)nt->rule, url_weight);
    long maxb = sz_text_byte_limit((sz_text_rule)nt->rule), linkb = link && *link ? (long)(strlen(link) + strlen(sep)) : 0;
    if (textw < 0 || lw < 0 || sw < 0)
        return NULL; /* out of memory */
    sz_buf_init(&b);
    if (textw + linkw > max || (maxb >= 0 && (long)tl + linkb > maxb)) {
        size_t cut;
        if (!may_cut) {
            if (textw + linkw > max)
                *err = fail("content_invalid", "text counts %ld of %ld allowed by %s", textw + linkw, max,
                            nt->name);
            else
                *err = fail("content_invalid", "text is %ld bytes of %ld allowed by %s", (long)tl + linkb, maxb,
                            nt->name);
            return NULL;
        }
        cut = linkw < max && (maxb < 0 || linkb < maxb)
                  ? sz_text_cut_bytes(text, tl, (sz_text_rule)nt->rule, url_weight, max - linkw, maxb < 0 ? -1 : maxb - linkb)
                  : 0;
        if (cut == (size_t)-1) {
            sz_buf_reset(&b);
            return NULL; /* out of memory */
        }
        if (cut == 0 && (linkw >= max || (maxb >= 0 && linkb >= maxb))) {
            *err = fail("content_invalid", "the link alone is longer than %s allows", nt->name);
            return NULL;
        }
        sz_buf_add(&b, text, cut);
        if (cut)
            sz_buf_adds(&b, "\xE2\x80\xA6"); /* … */
    } else if (text) {
        sz_buf_adds(&b, text);
    }
    if (link && *link) {
        if (b.len)
            sz_buf_adds(&b, sep);
        sz_buf_adds(&b, link);
    }
    return sz_buf_finish(&b, NULL);
}

static char *form(sz_params *p, size_t *len)
{
    return sz_params_query(p, len);
}

static int pset(sz_params *p, const char *k, const char *v)
{
    return v ? sz_params_set(p, k, strlen(k), v, strlen(v)) : 0;
}

static char *base_url(const net *nt, json_t *app, json_t *user, const char *user_key)
{
    const char *u = user_key ? jstr(user, user_key) : NULL;
    size_t n;
    if (!u)
        u = jstr(app, "baseUrl");
    if (!u)
        u = nt->base_url;
    if (!u)
        return NULL;
    n = strlen(u);
    while (n && u[n - 1] == '/')
        n--;
    return sz_strndup(u, n);
}

static const char *version(const net *nt, json_t *app)
{
    const char *v = jstr(app, "version");
    return v ? v : nt->version;
}

static int url_ok(const char *u)
{
    const char *p;
    if (strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0)
        return 0;
    for (p = u; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return 0;
    return 1;
}

static sz_request *req_json(const char *method, const char *url, json_t *body)
{
    sz_request *r = sz_request_new(method, url);
    char *b;
    size_t n = 0;
    if (!r)
        return NULL;
    b = dump_json(body, JSON_COMPACT | JSON_SORT_KEYS, &n);
    if (!b || sz_request_set_body(r, b, n) ||
        sz_request_add_header(r, "Content-Type", "application/json")) {
        sz_request_free(r);
        return NULL;
    }
    return r;
}

static sz_request *req_form(const char *method, const char *url, sz_params *p)
{
    sz_request *r = sz_request_new(method, url);
    size_t n;
    char *b;
    if (!r)
        return NULL;
    b = form(p, &n);
    if (!b || sz_request_set_body(r, b, n) ||
        sz_request_add_header(r, "Content-Type", "application/x-www-form-urlencoded")) {
        sz_request_free(r);
        return NULL;
    }
    return r;
}

/* The UserAction for this network: <provider>UserAction overrides userAction
 * (the Lua front resolves that and passes "userAction"). */
typedef struct action {
    const char *title, *subtitle, *description, *link, *message;
    json_t     *media;
} action;

static void read_action(json_t *in, action *a)
{
    json_t *ua = json_object_get(in, "userAction");
    memset(a, 0, sizeof *a);
    a->title = jstr(ua, "title");
    a->subtitle = jstr(ua, "subtitle");
    a->description = jstr(ua, "description");
    a->link = jstr(ua, "linkBack");
    a->message = jstr(ua, "userMessage");
    a->media = json_object_get(ua, "mediaItems");
    if (a->link && !*a->link)
        a->link = NULL;
}

/* The post's text parts in order (providers.md 13): userMessage, title and,
 * where the network has no link card, description; empty ones skipped. */
static void compose(sz_buf *b, const action *a, const char *sep, int with_description)
{
    const char *parts[3];
    parts[0] = a->message;
    parts[1] = a->title;
    parts[2] = a->description;
    join(b, sep, parts, with_description ? 3 : 2);
}

/* ---- builders ------------------------------------------------------------- */

typedef struct ctx {
    const sz_provider_call *c;
    const net *nt;
    json_t    *in, *app, *user;
    json_t    *result; /* set on a local failure */
} ctx;

/* A required credential: on absence, a not_connected result and `goto done`
 * (every builder initialises what `done` releases before its first NEED). */
#define NEED(obj, key, what)                                                              \
    const char *key = jstr(obj, #key);                                                    \
    if (!key || !*key) {                                                                  \
        x->result = fail("not_connected", "%s: missing " what " '%s' in the %s",          \
                         x->nt->name, #key, obj == x->app ? "provider config" : "connection"); \
        goto done;                                                                        \
    }

/* OAuth 1.0a (RFC 5849) HMAC-SHA1 Authorization header; the JSON body is not
 * part of the signature base string. */
static char *oauth1_header(const char *method, const char *url, const char *ck, const char *cs,
                           const char *tk, const char *ts_secret, long long ts, const char *nonce)
{
    sz_params *p = sz_params_new();
    char tsb[32], *base = NULL, *out = NULL, *ecs, *ets;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mlen = 0;
    sz_buf key, h, sig;
    size_t blen, i, n;
    sz_buf_init(&key);
    sz_buf_init(&h);
    sz_buf_init(&sig);
    snprintf(tsb, sizeof tsb, "%lld", ts);
    if (!p || pset(p, "oauth_consumer_key", ck) || pset(p, "oauth_nonce", nonce) ||
        pset(p, "oauth_signature_method", "HMAC-SHA1") || pset(p, "oauth_timestamp", tsb) ||
        pset(p, "oauth_token", tk) || pset(p, "oauth_version", "1.0"))
        goto done;
    base = sz_base_string(method, url, p, &blen, NULL);
    ecs = sz_url_encode(cs, strlen(cs), NULL);
    ets = sz_url_encode(ts_secret, strlen(ts_secret), NULL);
    if (!base || !ecs || !ets) {
        free(ecs);
        free(ets);
        goto done;
    }
    sz_buf_adds(&key, ecs);
    sz_buf_addc(&key, '&');
    sz_buf_adds(&key, ets);
    free(ecs);
    free(ets);
    if (key.failed || !HMAC(EVP_sha1(), key.data, (int)key.len, (unsigned char *)base, blen, mac, &mlen))
        goto done;
    sz_base64_encode_buf(&sig, mac, mlen, 0);
    if (sig.failed || pset(p, "oauth_signature", sig.data))
        goto done;
    sz_buf_adds(&h, "OAuth ");
    n = sz_params_count(p);
    for (i = 0; i < n; i++) {
        const char *k, *v;
        size_t kl, vl;
        sz_params_at(p, i, &k, &kl, &v, &vl);
        if (i)
            sz_buf_adds(&h, ", ");
        sz_buf_add(&h, k, kl);
        sz_buf_adds(&h, "=\"");
        sz_url_encode_buf(&h, v, vl);
        sz_buf_addc(&h, '"');
    }
    out = sz_buf_finish(&h, NULL);
done:
    sz_buf_wipe(&key);
    sz_buf_reset(&h);
    sz_buf_reset(&sig);
    free(base);
    sz_params_free(p);
    return out;
}

char *sz_oauth1_authorization(const char *method, const char *url, const char *consumer_key,
                              const char *consumer_secret, const char *token,
                              const char *token_secret, long long timestamp, const char *nonce)
{
    if (!method || !url || !consumer_key || !consumer_secret || !token || !token_secret || !nonce)
        return NULL;
    return oauth1_header(method, url, consumer_key, consumer_secret, token, token_secret, timestamp,
                         nonce);
}

static int twitter_auth(ctx *x, sz_request *r)
{
    const char *bearer = jstr(x->user, "bearerToken");
    const char *tk = jstr(x->user, "token"), *tsec = jstr(x->user, "tokenSecret");
    const char *ck = jstr(x->app, "consumerKey"), *cs = jstr(x->app, "consumerSecret");
    char *h;
    if (bearer && *bearer) {
        sz_buf b;
        int rc;
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
                      x->c->nonce ? x->c->nonce : "0");
    if (!h)
        return -1;
    if (sz_request_add_header(r, "Authorization", h) != 0) {
        OPENSSL_cleanse(h, strlen(h));
        free(h);
        return -1;
    }
    free(h);
    return 0;
}

static sz_request *build_twitter(ctx *x)
{
    const char *act = x->c->action;
    char *root = base_url(x->nt, x->app, NULL, NULL), *text = NULL;
    json_t *body = json_object();
    sz_request *r = NULL;
    sz_buf url;
    sz_buf_init(&url);
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
        text = fit(x->nt, jstr(x->in, "body"), NULL, 23, 10000, " ", 0, &x->result);
        if (!text)
            goto done;
        sz_buf_printf(&url, "%s/2/dm_conversations/with/%s/messages", root, to);
    } else {
        action a;
        read_action(x->in, &a);
        if (strcmp(act, "status") == 0)
            text = fit(x->nt, jstr(x->in, "status"), NULL, 23, x->nt->max_len, " ", 0, &x->result);
        else /* the seed: "When Twitter is the provider, only the Title and Link Back are posted" */
            text = fit(x->nt, a.title ? a.title : a.message, a.link, 23, x->nt->max_len, " ", 1, &x->result);
        if (!text)
            goto done;
        {
            const char *place = jstr(json_object_get(x->in, "userLocation"), "placeID");
            if (place && *place &&
                json_object_set_new(body, "geo", json_pack("{s:s}", "place_id", place)) != 0)
                goto done;
        }
        sz_buf_printf(&url, "%s/2/tweets", root);
    }
    if (!*text) {
        x->result = fail("content_invalid", "twitter: nothing to post (no title, linkBack or text)");
        goto done;
    }
    if (json_object_set_new(body, "text", json_string(text)) != 0 || url.failed ||
        !(r = req_json("POST", url.data, body)))
        goto done;
    if (twitter_auth(x, r) != 0) {
        sz_request_free(r);
        r = NULL;
    }
done:
    free(root);
    free(text);
    json_decref(body);
    sz_buf_reset(&url);
    return r;
}

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

static sz_request *build_facebook(ctx *x)
{
    const char *act = x->c->action, *secret = jstr(x->app, "appSecret");
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
        if (!path || path[0] == '\0' || strstr(path, "..") || strpbrk(path, "?# \r\n")) {
            x->result = fail("content_invalid", "facebook: graphPath must be a path like /me/feed");
            goto done;
        }
        json_object_foreach(gp, k, v) {
            char *s = json_is_string(v) ? NULL : canon(v);
            int bad = !json_is_string(v) && !s;
            bad = bad || pset(p, k, s ? s : json_string_value(v));
            free(s);
            if (bad)
                goto done;
        }
        sz_buf_printf(&url, "%s/%s%s%s", root, version(x->nt, x->app), path[0] == '/' ? "" : "/", path);
        if (strcmp(m, "POST") == 0) {
            r = req_form("POST", url.data, p);
        } else {
            char *q = form(p, NULL);
            sz_buf_addc(&url, '?');
            if (q)
                sz_buf_adds(&url, q);
            if (q && !url.failed)
                r = sz_request_new(m, url.data);
            free(q);
        }
        goto done;
    }
    {
        NEED(x->user, pageId, "Facebook Page id");
        if (strcmp(act, "notify") == 0) {
            x->result = fail("unsupported", "facebook: notifications need the Messenger Platform, "
                                            "which Gigya never used");
            goto done;
        }
        if (strcmp(act, "status") == 0) {
            if (pset(p, "message", jstr(x->in, "status")))
                goto done;
        } else {
            action a;
            sz_buf m;
            int bad;
            read_action(x->in, &a);
            /* since Graph v2.9 link previews come from the page's OG tags:
             * title and description go into the message */
            sz_buf_init(&m);
            compose(&m, &a, "\n\n", 1);
            bad = m.failed || (m.len && pset(p, "message", m.data));
            sz_buf_reset(&m);
            if (bad || (a.link && pset(p, "link", a.link)))
                goto done;
            if (!a.link && !sz_params_get(p, "message", NULL)) {
                x->result = fail("content_invalid", "facebook: nothing to post");
                goto done;
            }
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

/* LinkedIn "little text": reserved characters are backslash-escaped, URLs and
 * #hashtags stay as they are. */
static void little_text(sz_buf *b, const char *s)
{
    size_t len = strlen(s), i = 0, starts[64], ends[64], nu = sz_text_url_spans(s, len, starts, ends, 64), k = 0;
    while (i < len) {
        if (k < nu && k < 64 && i == starts[k]) {
            sz_buf_add(b, s + i, ends[k] - i);
            i = ends[k++];
            continue;
        }
        if (strchr("\\|{}@[]()<>*_~", s[i]) ||
            (s[i] == '#' && !(i + 1 < len && (isalnum((unsigned char)s[i + 1]) || (unsigned char)s[i + 1] >= 0x80))))
            sz_buf_addc(b, '\\');
        sz_buf_addc(b, s[i]);
        i++;
    }
}

static sz_request *build_linkedin(ctx *x)
{
    const char *act = x->c->action, *author = jstr(x->user, "author"), *pid = jstr(x->user, "personId");
    char *root = base_url(x->nt, x->app, NULL, NULL);
    json_t *body = NULL;
    sz_request *r = NULL;
    sz_buf url, text, au, auth;
    const char *raw;
    action a;
    sz_buf_init(&url);
    sz_buf_init(&text);
    sz_buf_init(&au);
    sz_buf_init(&auth);
    NEED(x->user, accessToken, "member access token");
    if (strcmp(act, "notify") == 0) {
        x->result = fail("unsupported", "linkedin: the Messages API is restricted to approved partners");
        goto done;
    }
    if (author && *author)
        sz_buf_adds(&au, author);
    else if (pid && *pid)
        sz_buf_printf(&au, "urn:li:person:%s", pid);
    else {
        x->result = fail("not_connected", "linkedin: the connection needs author (a URN) or personId");
        goto done;
    }
    read_action(x->in, &a);
    raw = strcmp(act, "status") == 0 ? jstr(x->in, "status") : (a.message ? a.message : a.title);
    if (raw && (long)sz_text_codepoints(raw, strlen(raw)) > x->nt->max_len) {
        x->result = fail("content_invalid", "linkedin: commentary is longer than %ld characters",
                         x->nt->max_len);
        goto done;
    }
    if ((!raw || !*raw) && !(strcmp(act, "publish") == 0 && a.link)) {
        x->result = fail("content_invalid", "linkedin: nothing to post");
        goto done;
    }
    little_text(&text, raw ? raw : "");
    if (text.failed || au.failed)
        goto done;
    body = json_pack("{s:s, s:s%, s:s, s:{s:s, s:[], s:[]}, s:s, s:b}",
                     "author", au.data, "commentary", text.data ? text.data : "", text.len,
                     "visibility", "PUBLIC", "distribution", "feedDistribution", "MAIN_FEED",
                     "targetEntities", "thirdPartyDistributionChannels",
                     "lifecycleState", "PUBLISHED", "isReshareDisabledByAuthor", 0);
    if (!body)
        goto done;
    if (strcmp(act, "publish") == 0 && a.link) {
        json_t *art = json_pack("{s:s, s:s?, s:s?}", "source", a.link, "title", a.title,
                                "description", a.description);
        if (!art || json_object_set_new(body, "content", json_pack("{s:o}", "article", art)) != 0)
            goto done;
    }
    sz_buf_printf(&url, "%s/rest/posts", root);
    sz_buf_printf(&auth, "Bearer %s", accessToken);
    if (url.failed || auth.failed || !(r = req_json("POST", url.data, body)))
        goto done;
    if (sz_request_add_header(r, "Authorization", auth.data) ||
        sz_request_add_header(r, "LinkedIn-Version", version(x->nt, x->app)) ||
        sz_request_add_header(r, "X-Restli-Protocol-Version", "2.0.0")) {
        sz_request_free(r);
        r = NULL;
    }
done:
    free(root);
    json_decref(body);
    sz_buf_reset(&url);
    sz_buf_reset(&text);
    sz_buf_reset(&au);
    sz_buf_wipe(&auth);
    return r;
}

static sz_request *build_vkontakte(ctx *x)
{
    const char *act = x->c->action;
    char *root = base_url(x->nt, x->app, NULL, NULL), idb[32], guid[65], *cin = NULL;
    sz_params *p = sz_params_new();
    sz_request *r = NULL;
    sz_buf url, m;
    const char *owner;
    sz_buf_init(&url);
    sz_buf_init(&m);
    NEED(x->user, accessToken, "user access token (wall scope)");
    owner = jid(x->user, "ownerId", idb, sizeof idb);
    if (!owner)
        owner = jid(x->user, "userId", idb, sizeof idb);
    if (strcmp(act, "notify") == 0) {
        x->result = fail("unsupported", "vkontakte: messages.send needs a community token; not offered");
        goto done;
    }
    if (!owner) {
        x->result = fail("not_connected", "vkontakte: the connection needs ownerId or userId");
        goto done;
    }
    if (!p || !root)
        goto done;
    if (strcmp(act, "status") == 0) {
        if (pset(p, "message", jstr(x->in, "status")))
            goto done;
    } else {
        action a;
        read_action(x->in, &a);
        compose(&m, &a, "\n\n", 1);
        if (m.failed || (m.len && pset(p, "message", m.data)) ||
            (a.link && pset(p, "attachments", a.link))) /* at most one external URL */
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
    if (!sz_params_get(p, "message", NULL) && !sz_params_get(p, "attachments", NULL)) {
        x->result = fail("content_invalid", "vkontakte: nothing to post");
        goto done;
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
    sz_buf_reset(&m);
    return r;
}

static int host_under(const char *link, const char *domain)
{
    const char *h = strstr(link, "://"), *e;
    size_t hl, dl = strlen(domain);
    if (!h)
        return 0;
    h += 3;
    for (e = h; *e && *e != '/' && *e != ':' && *e != '?' && *e != '#'; e++)
        ;
    hl = (size_t)(e - h);
    if (hl == dl && strncasecmp(h, domain, dl) == 0)
        return 1;
    return hl > dl && h[hl - dl - 1] == '.' && strncasecmp(h + hl - dl, domain, dl) == 0;
}

static sz_request *build_sina(ctx *x)
{
    const char *act = x->c->action, *safe = jstr(x->app, "safeDomain");
    const char *rip = jstr(x->in, "rip");
    char *root = base_url(x->nt, x->app, NULL, NULL), *status = NULL;
    sz_params *p = sz_params_new();
    sz_request *r = NULL;
    sz_buf url;
    action a;
    sz_buf_init(&url);
    NEED(x->user, accessToken, "OAuth 2.0 access token");
    if (!rip)
        rip = jstr(x->user, "ip");
    if (strcmp(act, "notify") == 0) {
        x->result = fail("unsupported", "sina: Weibo offers no notification API");
        goto done;
    }
    if (!safe || !*safe) {
        x->result = fail("not_connected", "sina: the provider config needs safeDomain (the app's "
                                          "registered safe domain)");
        goto done;
    }
    if (!rip || !*rip) {
        x->result = fail("content_invalid", "sina: Weibo requires rip, the user's real IP "
                                            "(parameter rip, or ip in the connection)");
        goto done;
    }
    read_action(x->in, &a);
    if (strcmp(act, "status") == 0) {
        const char *s = jstr(x->in, "status");
        size_t st[8], en[8], n = s ? sz_text_url_spans(s, strlen(s), st, en, 8) : 0, i;
        int found = 0;
        for (i = 0; i < n && i < 8; i++) {
            char *u = sz_strndup(s + st[i], en[i] - st[i]);
            found |= u && host_under(u, safe);
            free(u);
        }
        if (!found) {
            x->result = fail("content_invalid", "sina: the status must contain a URL on the safe domain %s", safe);
            goto done;
        }
        status = fit(x->nt, s, NULL, -1, x->nt->max_len, " ", 0, &x->result);
    } else {
        if (!a.link || !host_under(a.link, safe)) {
            x->result = fail("content_invalid", "sina: linkBack must be a URL on the safe domain %s", safe);
            goto done;
        }
        {
            sz_buf t;
            sz_buf_init(&t);
            compose(&t, &a, " ", 0);
            status = t.failed ? NULL : fit(x->nt, t.data, a.link, -1, x->nt->max_len, " ", 1, &x->result);
            sz_buf_reset(&t);
        }
    }
    if (!status)
        goto done;
    if (strchr(status, '#') && strchr(strchr(status, '#') + 1, '#')) {
        x->result = fail("content_invalid", "sina: share.json refuses #topic# tags");
        goto done;
    }
    if (!p || pset(p, "access_token", accessToken) || pset(p, "status", status) || pset(p, "rip", rip))
        goto done;
    sz_buf_printf(&url, "%s/2/statuses/share.json", root);
    if (!url.failed)
        r = req_form("POST", url.data, p);
done:
    free(root);
    free(status);
    sz_params_free(p);
    sz_buf_reset(&url);
    return r;
}

static sz_request *build_mastodon(ctx *x)
{
    const char *act = x->c->action;
    char *root = base_url(x->nt, x->app, x->user, "instance"), *text = NULL, key[65], *cin = NULL;
    json_t *lim = json_object_get(x->in, "limits"), *body = NULL;
    long max = x->nt->max_len, urlw = x->nt->url_weight;
    sz_request *r = NULL;
    sz_buf url, auth;
    sz_buf_init(&url);
    sz_buf_init(&auth);
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
    {
        NEED(x->user, accessToken, "access token (write:statuses)");
        /* the instance's own numbers, read from its reply: a value outside
         * [1, SZ_MAX_TEXT_LIMIT] (URL weight [0, SZ_MAX_URL_WEIGHT]) keeps the
         * network's default */
        if (json_is_integer(json_object_get(lim, "maxCharacters")) &&
            json_integer_value(json_object_get(lim, "maxCharacters")) >= 1 &&
            json_integer_value(json_object_get(lim, "maxCharacters")) <= SZ_MAX_TEXT_LIMIT)
            max = (long)json_integer_value(json_object_get(lim, "maxCharacters"));
        if (json_is_integer(json_object_get(lim, "charactersReservedPerUrl")) &&
            json_integer_value(json_object_get(lim, "charactersReservedPerUrl")) >= 0 &&
            json_integer_value(json_object_get(lim, "charactersReservedPerUrl")) <= SZ_MAX_URL_WEIGHT)
            urlw = (long)json_integer_value(json_object_get(lim, "charactersReservedPerUrl"));
        if (strcmp(act, "status") == 0) {
            text = fit(x->nt, jstr(x->in, "status"), NULL, urlw, max, " ", 0, &x->result);
        } else if (strcmp(act, "notify") == 0) {
            x->result = fail("unsupported", "mastodon: direct messages are not offered");
            goto done;
        } else {
            action a;
            sz_buf t;
            read_action(x->in, &a);
            sz_buf_init(&t);
            compose(&t, &a, "\n\n", 0);
            text = t.failed ? NULL : fit(x->nt, t.data, a.link, urlw, max, "\n\n", 1, &x->result);
            sz_buf_reset(&t);
        }
        if (!text)
            goto done;
        if (!*text) {
            x->result = fail("content_invalid", "mastodon: nothing to post");
            goto done;
        }
        body = json_pack("{s:s, s:s}", "status", text, "visibility", "public");
        sz_buf_printf(&url, "%s/api/v1/statuses", root);
        sz_buf_printf(&auth, "Bearer %s", accessToken);
        if (!body || url.failed || auth.failed || !(r = req_json("POST", url.data, body)))
            goto done;
        /* the same content by the same account within an hour returns the
         * original status instead of a second one */
        json_object_del(x->in, "limits");
        cin = canon(x->in);
        if (cin)
            digest_hex(accessToken, cin, key);
        if (!cin || sz_request_add_header(r, "Authorization", auth.data) ||
            sz_request_add_header(r, "Idempotency-Key", key)) {
            sz_request_free(r);
            r = NULL;
        }
    }
done:
    free(root);
    free(text);
    free(cin);
    json_decref(body);
    sz_buf_reset(&url);
    sz_buf_wipe(&auth);
    return r;
}

static void iso_time(long long t, char out[64])
{
    long long days = t / 86400, secs = t % 86400, z, era, doe, yoe, y, doy, mp, d, m;
    if (secs < 0) {
        secs += 86400;
        days--;
    }
    /* civil_from_days (H. Hinnant) */
    z = days + 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    snprintf(out, 64, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.000Z", y + (m <= 2), m, d, secs / 3600,
             secs / 60 % 60, secs % 60);
}

static sz_request *build_bluesky(ctx *x)
{
    const char *act = x->c->action;
    char *root = base_url(x->nt, x->app, x->user, "pds"), *text = NULL, when[64];
    json_t *body = NULL, *sess = json_object_get(x->in, "session");
    sz_request *r = NULL;
    sz_buf url, auth;
    sz_buf_init(&url);
    sz_buf_init(&auth);
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
    if (strcmp(act, "notify") == 0) {
        x->result = fail("unsupported", "bluesky: chat runs on a separate service; not offered");
        goto done;
    }
    if (!jstr(sess, "accessJwt") || !jstr(sess, "did")) {
        x->result = fail("not_connected", "bluesky: no session (createSession first)");
        goto done;
    }
    {
        action a;
        sz_buf t;
        size_t n = 0, i, tl;
        sz_facet *fs = NULL;
        json_t *facets = json_array(), *record;
        int bad;
        read_action(x->in, &a);
        sz_buf_init(&t);
        if (strcmp(act, "status") == 0) {
            sz_buf_adds(&t, jstr(x->in, "status") ? jstr(x->in, "status") : "");
            text = t.failed ? NULL : fit(x->nt, t.data, NULL, -1, x->nt->max_len, " ", 0, &x->result);
        } else {
            compose(&t, &a, "\n\n", 0);
            text = t.failed ? NULL : fit(x->nt, t.data, a.link, -1, x->nt->max_len, "\n\n", 1, &x->result);
        }
        sz_buf_reset(&t);
        if (!text) {
            json_decref(facets);
            goto done;
        }
        tl = strlen(text);
        if (tl == 0) {
            json_decref(facets);
            x->result = fail("content_invalid", "bluesky: nothing to post");
            goto done;
        }
        if (tl > 3000) {
            json_decref(facets);
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
        iso_time(x->c->timestamp, when);
        record = json_pack("{s:s, s:s, s:s}", "$type", "app.bsky.feed.post", "text", text, "createdAt", when);
        if (!record || (json_array_size(facets) && json_object_set(record, "facets", facets) != 0))
            bad = 1;
        json_decref(facets);
        if (!bad && strcmp(act, "publish") == 0 && a.link) {
            json_t *ext = json_pack("{s:s, s:s, s:s}", "uri", a.link, "title", a.title ? a.title : "",
                                    "description", a.description ? a.description : "");
            bad = !ext || json_object_set_new(record, "embed", json_pack("{s:s, s:o}", "$type",
                                                                         "app.bsky.embed.external",
                                                                         "external", ext)) != 0;
        }
        if (bad) {
            json_decref(record);
            goto done;
        }
        body = json_pack("{s:s, s:s, s:o}", "repo", jstr(sess, "did"), "collection", "app.bsky.feed.post",
                         "record", record);
        sz_buf_printf(&url, "%s/xrpc/com.atproto.repo.createRecord", root);
        sz_buf_printf(&auth, "Bearer %s", jstr(sess, "accessJwt"));
        if (body && !url.failed && !auth.failed && (r = req_json("POST", url.data, body)) &&
            sz_request_add_header(r, "Authorization", auth.data) != 0) {
            sz_request_free(r);
            r = NULL;
        }
    }
done:
    free(root);
    free(text);
    json_decref(body);
    sz_buf_reset(&url);
    sz_buf_wipe(&auth);
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
    sz_buf_init(&url);
    NEED(x->app, botToken, "bot token");
    chat = strcmp(act, "notify") == 0 ? jid(x->in, "recipient", idb, sizeof idb)
                                      : jid(x->user, "chatId", idb, sizeof idb);
    if (!chat || !*chat) {
        x->result = fail("not_connected", "telegram: %s has no chatId",
                         strcmp(act, "notify") == 0 ? "the recipient" : "the connection");
        goto done;
    }
    if (strcmp(act, "status") == 0) {
        text = fit(x->nt, jstr(x->in, "status"), NULL, -1, x->nt->max_len, " ", 0, &x->result);
    } else if (strcmp(act, "notify") == 0) {
        text = fit(x->nt, jstr(x->in, "body"), NULL, -1, x->nt->max_len, " ", 0, &x->result);
    } else {
        action a;
        sz_buf t;
        read_action(x->in, &a);
        sz_buf_init(&t);
        compose(&t, &a, "\n\n", 1);
        text = t.failed ? NULL : fit(x->nt, t.data, a.link, -1, x->nt->max_len, "\n\n", 1, &x->result);
        sz_buf_reset(&t);
    }
    if (!text)
        goto done;
    if (!*text) {
        x->result = fail("content_invalid", "telegram: nothing to send");
        goto done;
    }
    body = json_pack("{s:s, s:s}", "chat_id", chat, "text", text);
    sz_buf_printf(&url, "%s/bot%s/sendMessage", root, botToken);
    if (body && !url.failed)
        r = req_json("POST", url.data, body);
done:
    free(root);
    free(text);
    json_decref(body);
    sz_buf_reset(&url);
    return r;
}

/* Finds a string (or key) holding a NUL byte anywhere in j; writes its path
 * ("connection.botToken") into where. C strings would cut such a value
 * short, so it is refused instead (docs/RELIABILITY.md "NUL bytes"). */
static int has_nul(json_t *j, char *where, size_t n, int depth)
{
    size_t used = strlen(where), i;
    const char *k;
    json_t *v;
    if (depth > 64)
        return 0;
    if (json_is_string(j))
        return strlen(json_string_value(j)) != json_string_length(j);
    if (json_is_array(j)) {
        json_array_foreach(j, i, v) {
            snprintf(where + used, n - used, "[%zu]", i + 1);
            if (has_nul(v, where, n, depth + 1))
                return 1;
        }
    } else if (json_is_object(j)) {
        void *it;
        for (it = json_object_iter(j); it; it = json_object_iter_next(j, it)) {
            k = json_object_iter_key(it);
            v = json_object_iter_value(it);
            snprintf(where + used, n - used, ".%.40s", k);
#if JANSSON_VERSION_HEX >= 0x020e00
            if (strlen(k) != json_object_iter_key_len(it))
                return 1;
#endif
            if (has_nul(v, where, n, depth + 1))
                return 1;
        }
    }
    where[used] = '\0';
    return 0;
}

static const char *const ACTIONS[] = {"publish", "status", "notify", "graph", "session", "instance", NULL};

sz_request *sz_provider_request(const sz_provider_call *c, struct json_t **result, sz_error *err)
{
    ctx x;
    sz_request *r = NULL;
    int i;
    json_t *in_copy;
    if (result)
        *result = NULL;
    if (err)
        err->code = 0, err->message[0] = '\0';
    if (!c || !c->provider || !c->action) {
        sz_seterr(err, SZ_E_MISSING_PARAMETER, "Missing required parameter: provider");
        return NULL;
    }
    memset(&x, 0, sizeof x);
    x.c = c;
    x.nt = find_net(c->provider);
    if (!x.nt) {
        sz_seterr(err, SZ_E_INVALID_PARAMETER, "Invalid parameter value: unknown provider '%.40s'", c->provider);
        return NULL;
    }
    for (i = 0; ACTIONS[i] && strcmp(ACTIONS[i], c->action) != 0; i++)
        ;
    if (!ACTIONS[i]) {
        sz_seterr(err, SZ_E_INVALID_PARAMETER, "Invalid parameter value: unknown action '%.40s'", c->action);
        return NULL;
    }
    in_copy = c->input ? json_deep_copy(c->input) : json_object();
    x.in = in_copy;
    x.app = c->app ? c->app : NULL;
    x.user = c->user ? c->user : NULL;
    {
        char w[128];
        strcpy(w, "input");
        if (!has_nul(c->input, w, sizeof w, 0)) {
            strcpy(w, "provider config");
            if (!has_nul(c->app, w, sizeof w, 0)) {
                strcpy(w, "connection");
                if (!has_nul(c->user, w, sizeof w, 0))
                    w[0] = '\0';
            }
        }
        if (w[0]) {
            json_decref(in_copy);
            sz_seterr(err, SZ_E_INVALID_PARAMETER, "Invalid parameter value: %s contains a NUL byte", w);
            if (result) {
                *result = fail("content_invalid", "%s: %s contains a NUL byte", x.nt->name, w);
                json_object_set_new(*result, "provider", json_string(x.nt->name));
            }
            return NULL;
        }
    }
    if (!in_copy) {
        sz_seterr(err, SZ_E_INTERNAL, "out of memory");
        return NULL;
    }
    if (x.nt->discontinued) {
        x.result = fail("provider_discontinued", "%s: %s", x.nt->name, x.nt->note);
    } else if (strcmp(c->action, "graph") == 0 && strcmp(x.nt->name, "facebook") != 0) {
        x.result = fail("unsupported", "%s: graph operations are Facebook's", x.nt->name);
    } else {
        if (strcmp(x.nt->name, "twitter") == 0) r = build_twitter(&x);
        else if (strcmp(x.nt->name, "facebook") == 0) r = build_facebook(&x);
        else if (strcmp(x.nt->name, "linkedin") == 0) r = build_linkedin(&x);
        else if (strcmp(x.nt->name, "vkontakte") == 0) r = build_vkontakte(&x);
        else if (strcmp(x.nt->name, "sina") == 0) r = build_sina(&x);
        else if (strcmp(x.nt->name, "mastodon") == 0) r = build_mastodon(&x);
        else if (strcmp(x.nt->name, "bluesky") == 0) r = build_bluesky(&x);
        else if (strcmp(x.nt->name, "telegram") == 0) r = build_telegram(&x);
        if (!r && !x.result) { /* every other failure sets x.result */
            json_decref(in_copy);
            sz_seterr(err, SZ_E_INTERNAL, "out of memory");
            if (result && (*result = fail("transient", "%s: out of memory while building the request",
                                          x.nt->name)) != NULL)
                json_object_set_new(*result, "provider", json_string(x.nt->name));
            return NULL;
        }
    }
    if (r && !url_ok(sz_request_url(r))) {
        sz_request_free(r);
        r = NULL;
        x.result = fail("content_invalid", "%s: the endpoint URL is not a plain http(s) URL "
                                           "(a credential or id has spaces or control characters)", x.nt->name);
    }
    if (r) { /* no header injection through a token or id */
        size_t h;
        for (h = 0; h < sz_request_header_count(r); h++) {
            const char *hn, *hv, *q;
            sz_request_header(r, h, &hn, &hv);
            for (q = hv; *q; q++)
                if ((unsigned char)*q < 0x20 || *q == 0x7f)
                    break;
            if (*q) {
                x.result = fail("not_connected", "%s: the %s header would carry a control character "
                                                 "(a credential has CR, LF or NUL)", x.nt->name, hn);
                sz_request_free(r);
                r = NULL;
                break;
            }
        }
    }
    json_decref(in_copy);
    if (!r) {
        json_object_set_new(x.result, "provider", json_string(x.nt->name));
        if (result)
            *result = x.result;
        else
            json_decref(x.result);
    }
    return r;
}

/* ---- reply parsing --------------------------------------------------------- */

static const char *header(const sz_header *h, size_t n, const char *name)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (h[i].name && strcasecmp(h[i].name, name) == 0)
            return h[i].value;
    return NULL;
}

/* n decimal digits at s, or -1 */
static int digits(const char *s, int n)
{
    int v = 0, i;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* "YYYY-MM-DDTHH:MM:SS" (then anything: fraction, zone, taken as UTC) with
 * every field in range; -1 otherwise. */
static long long parse_iso8601(const char *s)
{
    int y, mo, d, hh, mm, ss;
    long long days, yy, era, yoe, doy, doe, mp;
    if (!s || strlen(s) < 19 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':')
        return -1;
    y = digits(s, 4);
    mo = digits(s + 5, 2);
    d = digits(s + 8, 2);
    hh = digits(s + 11, 2);
    mm = digits(s + 14, 2);
    ss = digits(s + 17, 2);
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || hh < 0 || hh > 23 || mm < 0 || mm > 59 ||
        ss < 0 || ss > 60)
        return -1;
    yy = y - (mo <= 2);
    era = (yy >= 0 ? yy : yy - 399) / 400;
    yoe = yy - era * 400;
    mp = mo > 2 ? mo - 3 : mo + 9;
    doy = (153 * mp + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    days = era * 146097 + doe - 719468;
    return days * 86400 + hh * 3600 + mm * 60 + ss;
}

static void set_retry(json_t *r, long long seconds)
{
    if (seconds < 0)
        seconds = 0;
    if (seconds > SZ_MAX_RETRY_AFTER)
        seconds = SZ_MAX_RETRY_AFTER;
    json_object_set_new(r, "retryAfter", json_integer(seconds));
}

/* Whose limit it is: the app's (all users wait) or this account's. */
static void set_scope(json_t *r, const char *scope)
{
    if (strcmp(json_string_value(json_object_get(r, "category")), "rate_limited") == 0 ||
        strcmp(json_string_value(json_object_get(r, "category")), "quota_exhausted") == 0)
        json_object_set_new(r, "scope", json_string(scope));
}

static void details_add(json_t *r, int status, const char *code, const char *msg)
{
    char d[512];
    snprintf(d, sizeof d, "HTTP %d%s%s: %.400s", status, code ? ", code " : "", code ? code : "",
             msg ? msg : "");
    json_object_set_new(r, "errorDetails", json_string(d));
    json_object_set_new(r, "providerStatus", json_integer(status));
    if (code)
        json_object_set_new(r, "providerCode", json_string(code));
}

static json_t *classify(const char *cat, int status, const char *code, const char *msg)
{
    json_t *r = fail(cat, "%s", "");
    details_add(r, status, code, msg);
    return r;
}

static json_t *parse_twitter(const sz_provider_call *c, int status, const sz_header *h, size_t nh,
                             json_t *j, long long now)
{
    json_t *data = json_object_get(j, "data"), *r;
    const char *detail, *type, *title;
    json_t *errs = json_object_get(j, "errors");
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
    else if (status == 429 && type && strstr(type, "usage-capped"))
        r = classify("quota_exhausted", status, type, detail ? detail : title);
    else
        r = classify(by_status(status), status, type, detail ? detail : title);
    if (status == 429) {
        const char *reset = header(h, nh, "x-rate-limit-reset");
        long long t;
        if (sz_parse_uint(reset, &t) == 0 && strcmp(jstr(r, "category"), "rate_limited") == 0)
            set_retry(r, sz_sat_sub(t, now));
        set_scope(r, strcmp(jstr(r, "category"), "quota_exhausted") == 0 ? "app" : "account");
    }
    return r;
}

static json_t *parse_facebook(const sz_provider_call *c, int status, const sz_header *h, size_t nh,
                              json_t *j, long long now)
{
    json_t *e = json_object_get(j, "error"), *r;
    char code[48];
    const char *cat;
    long ec, sub;
    (void)now;
    if (!e && status >= 200 && status < 300) {
        if (strcmp(c->action, "graph") == 0) {
            r = success(jstr(j, "id"));
            json_object_set(r, "data", j);
            return r;
        }
        return success(jstr(j, "id"));
    }
    ec = (long)json_integer_value(json_object_get(e, "code"));
    sub = (long)json_integer_value(json_object_get(e, "error_subcode"));
    snprintf(code, sizeof code, sub ? "%ld/%ld" : "%ld", ec, sub);
    cat = e ? lookup(CODES_FACEBOOK, ec) : NULL;
    if (!cat && sub == 1404078)
        cat = "auth_expired";
    r = classify(cat ? cat : by_status(status), status, e ? code : NULL, jstr(e, "message"));
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
        json_decref(u);
        if (mins >= 0)
            set_retry(r, sz_sat_mul(mins, 60));
    }
    set_scope(r, ec == 4 ? "app" : "account");
    if (jstr(e, "fbtrace_id"))
        json_object_set_new(r, "traceId", json_string(jstr(e, "fbtrace_id")));
    return r;
}

static json_t *parse_linkedin(const sz_provider_call *c, int status, const sz_header *h, size_t nh,
                              json_t *j, long long now)
{
    const char *id = header(h, nh, "x-restli-id"), *msg = jstr(j, "message"), *code = jstr(j, "code");
    char sc[32];
    json_t *r;
    (void)c;
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

static json_t *parse_vkontakte(const sz_provider_call *c, int status, const sz_header *h, size_t nh,
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

static json_t *parse_sina(const sz_provider_call *c, int status, const sz_header *h, size_t nh,
                          json_t *j, long long now)
{
    json_t *ec = json_object_get(j, "error_code");
    long long sc = 0;
    long code = json_is_integer(ec) ? (long)json_integer_value(ec)
                                    : (json_is_string(ec) && sz_parse_uint(json_string_value(ec), &sc) == 0
                                           ? (long)sc : 0);
    char cb[32];
    const char *cat;
    json_t *r;
    (void)c;
    (void)h;
    (void)nh;
    (void)now;
    if (!code && status >= 200 && status < 300) {
        char idb[32];
        return success(jstr(j, "idstr") ? jstr(j, "idstr") : jid(j, "id", idb, sizeof idb));
    }
    if (code == 20032) { /* published, server sync delayed */
        r = success(NULL);
        json_object_set_new(r, "errorDetails", json_string("20032: published, server sync may be delayed"));
        return r;
    }
    snprintf(cb, sizeof cb, "%ld", code);
    cat = code ? lookup(CODES_WEIBO, code) : NULL;
    r = classify(cat ? cat : by_status(status), status, code ? cb : NULL, jstr(j, "error"));
    set_scope(r, code == 10022 ? "app" : "account");
    return r;
}

static json_t *parse_mastodon(const sz_provider_call *c, int status, const sz_header *h, size_t nh,
                              json_t *j, long long now)
{
    json_t *r;
    if (strcmp(c->action, "instance") == 0 && status == 200) {
        json_t *st = json_object_get(json_object_get(j, "configuration"), "statuses");
        r = success(NULL);
        json_object_set_new(r, "data", json_pack("{s:O?, s:O?}", "maxCharacters",
                                                 json_object_get(st, "max_characters"),
                                                 "charactersReservedPerUrl",
                                                 json_object_get(st, "characters_reserved_per_url")));
        return r;
    }
    if (status >= 200 && status < 300 && jstr(j, "id"))
        return success(jstr(j, "id"));
    r = classify(by_status(status), status, NULL, jstr(j, "error"));
    if (status == 429) {
        long long t = parse_iso8601(header(h, nh, "x-ratelimit-reset"));
        if (t >= 0)
            set_retry(r, sz_sat_sub(t, now));
    }
    set_scope(r, "account");
    return r;
}

static json_t *parse_bluesky(const sz_provider_call *c, int status, const sz_header *h, size_t nh,
                             json_t *j, long long now)
{
    const char *err = jstr(j, "error");
    json_t *r;
    if (status >= 200 && status < 300) {
        if (strcmp(c->action, "session") == 0) {
            r = success(NULL);
            json_object_set_new(r, "data", json_pack("{s:s?, s:s?, s:s?}", "accessJwt", jstr(j, "accessJwt"),
                                                     "refreshJwt", jstr(j, "refreshJwt"), "did", jstr(j, "did")));
            return r;
        }
        return success(jstr(j, "uri"));
    }
    if (err && (strcmp(err, "ExpiredToken") == 0 || strcmp(err, "InvalidToken") == 0 ||
                strcmp(err, "AuthenticationRequired") == 0 || strcmp(err, "AuthFactorTokenRequired") == 0))
        r = classify("auth_expired", status, err, jstr(j, "message"));
    else if (err && strcmp(err, "RateLimitExceeded") == 0)
        r = classify("rate_limited", status, err, jstr(j, "message"));
    else if (err && strcmp(err, "InvalidRequest") == 0)
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

static json_t *parse_telegram(const sz_provider_call *c, int status, const sz_header *h, size_t nh,
                              json_t *j, long long now)
{
    json_t *res = json_object_get(j, "result"), *r, *ra;
    long code = (long)json_integer_value(json_object_get(j, "error_code"));
    char cb[32];
    (void)c;
    (void)h;
    (void)nh;
    (void)now;
    if (json_is_true(json_object_get(j, "ok")) && res) {
        char pid[64];
        snprintf(pid, sizeof pid, "%" JSON_INTEGER_FORMAT ":%" JSON_INTEGER_FORMAT,
                 json_integer_value(json_object_get(json_object_get(res, "chat"), "id")),
                 json_integer_value(json_object_get(res, "message_id")));
        return success(pid);
    }
    snprintf(cb, sizeof cb, "%ld", code);
    r = classify(by_status(code >= 100 && code <= 599 ? (int)code : status), status, code ? cb : NULL,
                 jstr(j, "description"));
    ra = json_object_get(json_object_get(j, "parameters"), "retry_after");
    if (json_is_integer(ra))
        set_retry(r, json_integer_value(ra));
    set_scope(r, "app"); /* the bot's limit */
    return r;
}

json_t *sz_provider_parse(const sz_provider_call *c, int status, const sz_header *headers, size_t nheaders,
                          const char *body, size_t len, long long now)
{
    const net *nt = c ? find_net(c->provider) : NULL;
    json_t *j = NULL, *r;
    json_error_t je;
    int is_json = 0;
    size_t i = 0;
    if (!nt)
        return fail("unsupported", "unknown provider");
    if (!c->action || (!body && len)) {
        r = fail("unsupported", "%s: no action or no body to classify", nt->name);
        json_object_set_new(r, "provider", json_string(nt->name));
        return r;
    }
    if (!body)
        body = "";
    while (i < len && isspace((unsigned char)body[i]))
        i++;
    if (i < len && (body[i] == '{' || body[i] == '[')) {
        j = json_loadb(body + i, len - i, 0, &je);
        is_json = j != NULL;
    }
    if (!j)
        j = json_object();
    if (!is_json && len > 0 && !(status >= 200 && status < 300 && strcmp(nt->name, "linkedin") == 0)) {
        char snippet[120];
        size_t n = len < 100 ? len : 100, k;
        for (k = 0; k < n; k++)
            snippet[k] = (body[k] >= 0x20 && body[k] < 0x7f) ? body[k] : '.';
        snippet[n] = '\0';
        r = classify(status >= 500 || status < 200 ? "transient" : by_status(status == 200 ? 502 : status),
                     status, NULL, snippet);
        json_object_set_new(r, "errorDetails",
                            json_string(status >= 200 && status < 300 ? "reply is not JSON" : json_string_value(json_object_get(r, "errorDetails"))));
    } else if (strcmp(nt->name, "twitter") == 0) r = parse_twitter(c, status, headers, nheaders, j, now);
    else if (strcmp(nt->name, "facebook") == 0) r = parse_facebook(c, status, headers, nheaders, j, now);
    else if (strcmp(nt->name, "linkedin") == 0) r = parse_linkedin(c, status, headers, nheaders, j, now);
    else if (strcmp(nt->name, "vkontakte") == 0) r = parse_vkontakte(c, status, headers, nheaders, j, now);
    else if (strcmp(nt->name, "sina") == 0) r = parse_sina(c, status, headers, nheaders, j, now);
    else if (strcmp(nt->name, "mastodon") == 0) r = parse_mastodon(c, status, headers, nheaders, j, now);
    else if (strcmp(nt->name, "bluesky") == 0) r = parse_bluesky(c, status, headers, nheaders, j, now);
    else if (strcmp(nt->name, "telegram") == 0) r = parse_telegram(c, status, headers, nheaders, j, now);
    else r = fail("provider_discontinued", "%s: %s", nt->name, nt->note);
    json_decref(j);
    if (json_is_true(json_object_get(r, "ok")) && !jstr(r, "postID") && !json_object_get(r, "data") &&
        strcmp(nt->name, "sina") != 0 && !(strcmp(c->action, "graph") == 0)) {
        json_decref(r);
        r = classify("transient", status, NULL, "success reply without a post id");
    }
    json_object_set_new(r, "provider", json_string(nt->name));
    return r;
}

/* ---- share intents (postBookmark) ------------------------------------------ */

typedef struct intent {
    const char *name;
    const char *tmpl; /* {u} url, {t} title, {d} description, {i} image, {tu} "title url" */
    int dead;
} intent;

/* providers.md 12 */
static const intent INTENTS[] = {
    {"twitter", "https://x.com/intent/tweet?text={t}&url={u}", 0},
    {"facebook", "https://www.facebook.com/sharer/sharer.php?u={u}", 0},
    {"linkedin", "https://www.linkedin.com/sharing/share-offsite/?url={u}", 0},
    {"reddit", "https://www.reddit.com/submit?url={u}&title={t}", 0},
    {"pinterest", "https://www.pinterest.com/pin/create/button/?url={u}&media={i}&description={d}", 0},
    {"tumblr", "https://www.tumblr.com/widgets/share/tool?canonicalUrl={u}&title={t}&caption={d}&posttype=link", 0},
    {"vkontakte", "https://vk.com/share.php?url={u}&title={t}&comment={d}", 0},
    {"sina", "https://service.weibo.com/share/share.php?url={u}&title={t}&pic={i}", 0},
    {"telegram", "https://t.me/share/url?url={u}&text={t}", 0},
    {"whatsapp", "https://api.whatsapp.com/send?text={tu}", 0},
    {"email", "mailto:?subject={t}&body={ud}", 0},
    {"hackernews", "https://news.ycombinator.com/submitlink?u={u}&t={t}", 0},
    {"bluesky", "https://bsky.app/intent/compose?text={tu}", 0},
    {"threads", "https://www.threads.com/intent/post?text={t}&url={u}", 0},
    {"mastodon", "{instance}/share?text={tu}", 0},
    {"pocket", NULL, 1},
    {"renren", NULL, 1},
    {"yahoo", NULL, 1},
    {NULL, NULL, 0}
};

const char *const *sz_bookmark_names(void)
{
    static const char *const names[] = {"twitter", "facebook", "linkedin", "reddit", "pinterest",
                                        "tumblr", "vkontakte", "sina", "telegram", "whatsapp", "email",
                                        "hackernews", "bluesky", "threads", "mastodon", NULL};
    return names;
}

static void add_enc(sz_buf *b, const char *s)
{
    if (s)
        sz_url_encode_buf(b, s, strlen(s));
}

json_t *sz_bookmark_url(const char *dest, const char *url, const char *title, const char *desc,
                        const char *image, const char *instance)
{
    const intent *it;
    const char *p;
    sz_buf b;
    json_t *r;
    for (it = INTENTS; it->name && strcmp(it->name, dest) != 0; it++)
        ;
    if (!it->name)
        return fail("unsupported", "unknown bookmark destination '%.40s'", dest);
    if (it->dead)
        return fail("provider_discontinued", "%s: the share service is discontinued", dest);
    if (!url || !url_ok(url))
        return fail("content_invalid", "url must be an http(s) URL");
    sz_buf_init(&b);
    for (p = it->tmpl; *p;) {
        if (strncmp(p, "{instance}", 10) == 0) {
            if (!instance || !url_ok(instance)) {
                sz_buf_reset(&b);
                return fail("content_invalid", "mastodon needs the user's instance (https://host)");
            }
            sz_buf_add(&b, instance, strlen(instance) - (instance[strlen(instance) - 1] == '/'));
            p += 10;
        } else if (strncmp(p, "{tu}", 4) == 0 || strncmp(p, "{ud}", 4) == 0) {
            int tu = p[1] == 't';
            sz_buf t;
            sz_buf_init(&t);
            if (tu && title && *title) {
                sz_buf_adds(&t, title);
                sz_buf_addc(&t, ' ');
            }
            sz_buf_adds(&t, url);
            if (!tu && desc && *desc) {
                sz_buf_addc(&t, ' ');
                sz_buf_adds(&t, desc);
            }
            add_enc(&b, t.data);
            sz_buf_reset(&t);
            p += 4;
        } else if (p[0] == '{' && p[2] == '}') {
            add_enc(&b, p[1] == 'u' ? url : p[1] == 't' ? title : p[1] == 'd' ? desc : image);
            p += 3;
        } else {
            sz_buf_addc(&b, *p++);
        }
    }
    r = success(NULL);
    json_object_set_new(r, "url", json_string(b.data ? b.data : ""));
    json_object_set_new(r, "provider", json_string(dest));
    sz_buf_reset(&b);
    return r;
}
