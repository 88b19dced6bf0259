/* What every network file (csrc/core/net/<network>.c) may use: the network
 * descriptor, the build context, and the helpers the engine shares with the
 * adapters (internal; hidden symbols). A network is one descriptor
 * `const sz_net sz_net_<name>` in one file; the registry is generated from
 * the files present (Makefile: build/gen/sz_registry.c), never kept by hand. */
#ifndef SZ_NETKIT_H
#define SZ_NETKIT_H
#include <limits.h>
#include <stdarg.h>
#include <jansson.h>
#include "socialize.h"
#include "sz_internal.h"
#include "sz_jansson.h"
#include "sz_text.h"

/* Caps on numbers read from a network (docs/RELIABILITY.md): a Mastodon
 * instance's text limit and URL weight, and any retryAfter. */
#define SZ_MAX_TEXT_LIMIT 1000000
#define SZ_MAX_URL_WEIGHT 10000
#define SZ_MAX_RETRY_AFTER 31622400 /* 366 days */

typedef struct sz_ctx sz_ctx;
typedef struct sz_net sz_net;

/* Builds the request of c->action; on a local failure sets x->result and
 * returns NULL (NULL with no result: out of memory). */
typedef sz_request *(*sz_build_fn)(sz_ctx *x);
/* Classifies a reply already read as JSON (an empty object when not JSON). */
typedef json_t *(*sz_parse_fn)(const sz_call_json *c, int status, const sz_header *h, size_t nh,
                               json_t *j, long long now);

/* Idempotency mechanism of the create call. */
typedef enum { SZ_IDEM_NONE = 0, SZ_IDEM_HEADER, SZ_IDEM_PARAM } sz_idem_kind;
/* Authentication kind. */
typedef enum {
    SZ_AUTH_OPEN = 0, SZ_AUTH_OAUTH1, SZ_AUTH_BEARER, SZ_AUTH_TOKEN_PARAM, SZ_AUTH_SESSION,
    SZ_AUTH_URL_TOKEN
} sz_auth_kind;

#define SZ_MAX_FIELDS 8

/* A network's own counter, when none of sz_text.h's fits: the weight of one
 * code point (URLs are measured like any text). */
typedef struct sz_counter {
    const char *name;           /* what provider_info says as text.counter */
    long (*weigh)(unsigned cp);
} sz_counter;

typedef struct sz_code_cat {
    long        lo, hi; /* inclusive range of the network's code */
    const char *cat;
} sz_code_cat;

struct sz_net {
    const char *name;
    const char *display;      /* the network's own name, for people */
    int         rank;         /* place in the default delivery order (lower first) */
    const char *note;         /* what is used (docs), or why it is discontinued */
    int         discontinued; /* data only: every call answers provider_discontinued */
    int         gigya;        /* one of the providers Gigya's own backend knows */
    /* endpoints */
    const char *base_url;     /* default endpoint root (app.baseUrl overrides) */
    const char *version;      /* pinned API version (app.version overrides) */
    const char *url_field;    /* connection field holding the endpoint root: under the
                                 private-network guard (NULL: fixed host) */
    int         url_bare_host; /* the url_field may be a bare host (https is meant) */
    const char *url_example;  /* a host shown in messages about the url_field */
    /* text rules */
    struct {
        long         max;        /* in the counter's unit */
        sz_text_rule count;      /* the counter (sz_text.h) */
        long         url_weight; /* what one URL counts, -1 = its length */
        const char  *sep;        /* between the text and the link */
        const char  *compose;    /* UserAction fields composing a publish's text, in
                                    order, and where the link goes (sz_compose.c) */
        const sz_counter *own;   /* the network's own counter (NULL: `count`) */
        long         notify_max; /* a notification body's limit (0: max) */
    } text;
    /* auth */
    sz_auth_kind auth;
    /* "Authorization: Bearer <token>", added by the engine to every request
     * but the setup step's: the token is this connection field, or this field
     * of the setup state (a session); NULL: the network's hook authenticates */
    struct {
        const char *field;
        int         from_setup;
    } bearer;
    const char  *auth_fields[SZ_MAX_FIELDS];    /* credential fields (connection or app) */
    const char  *secret_fields[SZ_MAX_FIELDS];  /* fields whose values are secrets */
    const char  *account_fields[SZ_MAX_FIELDS]; /* fields identifying the account, first present wins */
    const char  *app_key_fields[SZ_MAX_FIELDS]; /* provider config fields identifying the app */
    const char  *recipient_field;               /* connection field a notify recipient is read from */
    int          notify_subject;                /* sendNotification needs a subject */
    const char  *no_notify;                     /* why sendNotification is not offered
                                                   (NULL: it is) */
    int          recipient_numeric_uid;         /* a numeric UID is the recipient id itself */
    /* idempotency of the create call */
    struct {
        sz_idem_kind kind;
        const char  *name; /* header or parameter name */
    } idem;
    /* the read-back op "recent" (docs/delivery.md "Reading back"): the
     * connected account's SZ_RECENT_COUNT latest posts, with the permissions
     * the connect flow asks; NULL: not offered, no_readback says why */
    const char *readback;    /* the endpoint, for provider_info ("GET /2/users/:id/tweets") */
    const char *no_readback; /* why not (NULL: it is offered, or the network has an idempotency key) */
    /* setup step run before the action, its result cached by the front */
    struct {
        const char *action;    /* the setup action's name (NULL: none) */
        const char *cache_key; /* connection field keying the cache (app.baseUrl when absent) */
        int         required;  /* the action cannot be built without it */
        int         refresh_on_auth_expired; /* a cached state that expired: one new setup */
        /* the action renewing an expired state without the credentials (its reply
         * is the new state; built with the old state; NULL: none). The front runs
         * it under the store's lease, before falling back to a new setup */
        const char *refresh;
    } setup;
    /* follow-up step: an action run after the create call succeeded, with the
     * `data` of the create's reply as its state (setup argument); its reply is
     * the call's (Threads publishes the container it created). NULL: none. */
    const char *follow_up;
    /* share intent (postBookmark) */
    int         intent_default; /* a default postBookmark destination */
    const char *intent; /* {u} url, {t} title, {d} description, {i} image, {tu} "title url",
                           {instance} the url_field; NULL: none (discontinued: dead) */
    /* media (docs/media.md): what the network takes of mediaItems and how */
    struct {
        int         images;     /* images (GIFs included) per post; 0: none */
        int         videos;     /* videos per post (a video goes alone) */
        int         audio;      /* takes mp3 items */
        long long   max_image;  /* bytes per image (0: no limit the library knows) */
        long long   max_video;  /* bytes per video or GIF */
        const char *mimes;      /* accepted types, comma-separated (NULL: every
                                   type the library recognises of the kinds above) */
        int         by_url;     /* an http(s) src is sent as its URL, never downloaded
                                   (the network fetches it itself) */
        int         bytes;      /* with by_url: bytes (data, files) can be sent too */
        int         upload;     /* each item goes through the "upload" step first */
        int         alt;        /* takes alt text */
        int         deletable;  /* an unused upload can be deleted ("unmedia" step) */
        long long   chunk;      /* bytes per chunk of a chunked upload (0: whole) */
    } media;
    /* UserAction fields the network carries besides text.compose's and
     * linkBack, each "field" or "field:where it goes" (docs/api.md's field
     * table shows where): "description:link card,subtitle:article"; the
     * others are reported as dropped */
    const char *carries;
    /* OAuth 2.0 connect (docs/connections.md, sz_oauth.c): NULL authorize: the
     * network has no such flow. Endpoints are absolute URLs; app.baseUrl
     * replaces their origin, app.authorizeUrl/tokenUrl/revokeUrl/identityUrl
     * replace them whole. */
    struct {
        const char *authorize;     /* authorization endpoint */
        const char *token;         /* token endpoint (code and refresh grants) */
        const char *revoke;        /* RFC 7009 revocation endpoint (NULL: none) */
        const char *scopes;        /* default scopes, space-separated */
        int         pkce;          /* PKCE S256 required (sent always) */
        int         basic;         /* client auth: HTTP Basic (else in the body) */
        int         refresh;       /* the network issues refresh tokens */
        int         rotating;      /* refresh tokens are single use */
        const char *identity;      /* GET with the new token: the account */
        const char *id_path;       /* dotted path of the account id in its reply */
        const char *nick_path;     /* dotted path of the nickname (NULL: none) */
        const char *token_field;   /* the connection field of the access token */
        const char *account_field; /* the connection field of the account id */
        const char *callback_param; /* a parameter the callback carries besides code and
                                       state, kept with the connection and sent with every
                                       token call (VK ID's device_id); NULL: none */
        int         token_state;    /* token calls carry a state too (VK ID) */
        int         identity_post;  /* the identity call is a form POST of access_token
                                       and client_id (else a GET with a Bearer header) */
        const char *token_account;  /* a token reply field naming the account (Weibo's
                                       "uid"), given back as `account` */
        const char *identity_query; /* the identity GET's query parameter carrying that
                                       account (Weibo's users/show "uid"); NULL: none */
        const char *auth_scheme;    /* the identity call's Authorization scheme (NULL:
                                       "Bearer"; Weibo: "OAuth2") */
        const char *revoke_param;   /* the revoke call's token parameter (NULL: RFC 7009's
                                       "token"; Weibo: "access_token", no hint) */
        char        scope_sep;      /* the authorization URL's scope separator (0: ' ';
                                       Threads: ',') */
        const char *exchange;       /* GET after the code grant: the short-lived token
                                       exchanged for a long-lived one (Threads), with
                                       grant_type=exchange_grant, client_secret and
                                       access_token; NULL: none */
        const char *exchange_grant;
        const char *refresh_get;    /* refresh by GET with grant_type=refresh_grant and
                                       the (unexpired) access token itself, no refresh
                                       token (Threads); NULL: RFC 6749 6 */
        const char *refresh_grant;
        long long   refresh_margin; /* refresh when less than this is left (seconds;
                                       0: connect.REFRESH_MARGIN) */
        const char *instance;       /* per-instance network (Mastodon): the connect argument
                                       and connection field naming the instance; the
                                       endpoints' origin is the instance's */
        const char *register_path;  /* POST there registers the app once per instance
                                       (client_name, redirect_uris, scopes, website) */
        const char *discovery;      /* RFC 8414 metadata path: PKCE when it lists S256 */
        const char *exchange_param; /* the exchange's token parameter (NULL: access_token);
                                       when set, client_id is sent too (Facebook:
                                       fb_exchange_token) */
        const char *pages;          /* GET with the user token: the pages the user manages,
                                       one of which the connection publishes as (NULL: none) */
        int         token_query;    /* identity, pages and revoke carry access_token and
                                       appsecret_proof in the query; revoke is a DELETE */
        int         revoke_grant;   /* the revoke ends the user's whole grant to the app
                                       (every token of that user: Facebook, Weibo), not
                                       one token; not used for tokens a failed store write
                                       left unstored (it would end the user's other
                                       connections) */
        const char *permissions;    /* GET with the user token after the exchange: the
                                       permissions granted or declined (a token reply
                                       without scope; NULL: none) */
    } oauth;
    /* OAuth 1.0a 3-legged connect (RFC 5849 section 2; sz_oauth1.c): NULL
     * request: none. Signed with the app's consumerKey/consumerSecret. */
    struct {
        const char *request;   /* POST with oauth_callback: a request token */
        const char *authorize; /* where the user goes with oauth_token */
        const char *access;    /* POST with oauth_verifier: the access token */
        const char *account;   /* the reply's field of the account id (user_id) */
        const char *nick;      /* the reply's field of the nickname (screen_name) */
        const char *invalidate; /* POST signed with the user's token: the token dies
                                   (removeConnection; NULL: none) */
    } oauth1;
    /* replies */
    int graph;        /* accepts the "graph" action (Graph API passthrough) */
    int raw_2xx_ok;   /* a 2xx reply may be empty or not JSON (the id is in a header) */
    int id_optional;  /* a success may carry no post id */
    const char *rate_scope; /* whose rate limit a 429 is by default: "account" or "app" */
    const sz_code_cat *codes; /* the network's code table, or NULL */
    /* hooks: only what data cannot say */
    sz_build_fn build;
    sz_parse_fn parse;
};

/* The generated registry: every network file present, NULL-terminated, in
 * file-name order (build/gen/sz_registry.c). */
SZ_HIDDEN extern const sz_net *const sz_registry[];
/* The registry in the default delivery order (rank, then name); NULL-terminated. */
SZ_HIDDEN const sz_net *const *sz_nets(void);
/* The network of that name, or NULL. */
SZ_HIDDEN const sz_net *sz_net_find(const char *name);
/* The network of a call, after checking the provider and action names;
 * NULL with err set (SZ_EMISSING, SZ_EINVALID). */
SZ_HIDDEN const sz_net *sz_call_check(const char *provider, const char *act, sz_error *err);
/* 1 when a string (or key) of the call's input, app, user, setup or step
 * holds a NUL byte; its path ("input.userAction.title") in w. */
SZ_HIDDEN int sz_call_nul(const sz_call_json *c, char *w, size_t n);
/* Runs fn once per state (0 before), whatever the threads: the first caller
 * runs it, the others wait until it is done. */
SZ_HIDDEN void sz_once(int *state, void (*fn)(void));

struct sz_ctx {
    const sz_call_json *c;  /* c->step, c->blobs: the media (docs/media.md) */
    const sz_net *nt;
    json_t *in, *app, *user;
    json_t *setup;  /* borrowed: the setup state (c->setup), never part of input */
    json_t *result; /* set on a local failure */
    int truncated;  /* the text step cut the text (sz_nk_text) */
};

/* The UserAction for this network: <provider>UserAction overrides userAction
 * (the Lua front resolves that and passes "userAction"). */
typedef struct sz_action {
    const char *title, *subtitle, *description, *link, *message;
    json_t     *media;
    json_t     *links;       /* actionLinks (borrowed) */
    char        link_to[32]; /* the request field the link goes in ("link=linkBack"
                                in text.compose); "" when it is part of the text */
    int         truncated;   /* the text was cut to fit */
    long        length, max; /* the text's count by the network's counter, its limit */
} sz_action;

/* One media item of a publish (input.media[k], docs/media.md): what the
 * front found (kind, mime, size, alt, width, height, url) and what the
 * upload step answered (id, and anything else its "media" object said). */
typedef struct sz_media {
    const char *kind;  /* "image", "gif", "video", "audio" */
    const char *mime, *alt, *url, *id;
    long long   size, width, height;
    int         index; /* 1-based: mediaItems[index] */
    json_t     *obj;   /* the whole object (borrowed) */
    const void *data;  /* the bytes (NULL: none, the URL is sent) */
    size_t      len;
} sz_media;

/* short names inside the core's network files */
typedef sz_net net;
typedef sz_ctx ctx;
typedef sz_action action;
typedef sz_code_cat code_cat;

#define lookup(...) sz_nk_lookup(__VA_ARGS__)
#define by_status(...) sz_nk_by_status(__VA_ARGS__)
#define jstr(...) sz_nk_jstr(__VA_ARGS__)
#define jid(...) sz_nk_jid(__VA_ARGS__)
#define jint(...) sz_nk_jint(__VA_ARGS__)
#define fail(...) sz_nk_fail(__VA_ARGS__)
#define success(...) sz_nk_success(__VA_ARGS__)
#define hex(...) sz_nk_hex(__VA_ARGS__)
#define canon(...) sz_nk_canon(__VA_ARGS__)
#define digest_hex(...) sz_nk_digest_hex(__VA_ARGS__)
#define pset(...) sz_nk_pset(__VA_ARGS__)
#define base_url(...) sz_nk_base_url(__VA_ARGS__)
#define version(...) sz_nk_version(__VA_ARGS__)
#define url_ok(...) sz_nk_url_ok(__VA_ARGS__)
#define req_json(...) sz_nk_req_json(__VA_ARGS__)
#define req_form(...) sz_nk_req_form(__VA_ARGS__)
#define text_of(...) sz_nk_text(__VA_ARGS__)
#define text_link_inline(...) sz_nk_text_link_inline(__VA_ARGS__)
#define header(...) sz_nk_header(__VA_ARGS__)
#define parse_iso8601(...) sz_nk_parse_iso8601(__VA_ARGS__)
#define format_iso8601(...) sz_nk_format_iso8601(__VA_ARGS__)
#define set_retry(...) sz_nk_set_retry(__VA_ARGS__)
#define set_scope(...) sz_nk_set_scope(__VA_ARGS__)
#define details_add(...) sz_nk_details_add(__VA_ARGS__)
#define classify(...) sz_nk_classify(__VA_ARGS__)
#define graph_error(...) sz_nk_graph_error(__VA_ARGS__)
#define oauth1_header(...) sz_nk_oauth1_header(__VA_ARGS__)
#define oauth1_header_x(...) sz_nk_oauth1_header_x(__VA_ARGS__)
#define media_count(...) sz_nk_media_count(__VA_ARGS__)
#define media_at(...) sz_nk_media_at(__VA_ARGS__)
#define step_item(...) sz_nk_step_item(__VA_ARGS__)
#define step_state(...) sz_nk_step_state(__VA_ARGS__)
#define step_image(...) sz_nk_step_image(__VA_ARGS__)
#define multipart_begin(...) sz_nk_multipart_begin(__VA_ARGS__)
#define multipart_field(...) sz_nk_multipart_field(__VA_ARGS__)
#define multipart_file(...) sz_nk_multipart_file(__VA_ARGS__)
#define multipart_finish(...) sz_nk_multipart_finish(__VA_ARGS__)
#define media_done(...) sz_nk_media_done(__VA_ARGS__)
#define media_next(...) sz_nk_media_next(__VA_ARGS__)

SZ_HIDDEN const char *lookup(const code_cat *t, long code);
SZ_HIDDEN const char *by_status(int status);
SZ_HIDDEN const char *jstr(json_t *o, const char *k);
/* An integer field within [lo, hi], else dflt (absent, not an integer, out of range). */
SZ_HIDDEN long long jint(json_t *o, const char *k, long long lo, long long hi, long long dflt);
/* A non-negative integer field, else dflt. */
#define jnat(o, k, dflt) jint(o, k, 0, LLONG_MAX, dflt)
/* A string field, or a number rendered as a string, into buf. */
SZ_HIDDEN const char *jid(json_t *o, const char *k, char *buf, size_t n);
SZ_HIDDEN json_t *fail(const char *cat, const char *details, ...) SZ_PRINTF(2, 3);
SZ_HIDDEN json_t *success(const char *post_id);
SZ_HIDDEN void hex(const unsigned char *d, size_t n, char *out);
/* Canonical JSON (sorted keys, compact, raw UTF-8). Caller frees. */
SZ_HIDDEN char *canon(json_t *j);
/* Hex digest of parts joined by '\n' (deterministic idempotency keys). */
SZ_HIDDEN void digest_hex(const char *a, const char *b, char out[65]);
SZ_HIDDEN int pset(sz_params *p, const char *k, const char *v);
SZ_HIDDEN char *base_url(const net *nt, json_t *app, json_t *user, const char *user_key);
SZ_HIDDEN const char *version(const net *nt, json_t *app);
SZ_HIDDEN int url_ok(const char *u);
SZ_HIDDEN sz_request *req_json(const char *method, const char *url, json_t *body);
SZ_HIDDEN sz_request *req_form(const char *method, const char *url, sz_params *p);
/* The text of this call (the generic text step, sz_compose.c): a publish's
 * UserAction composed as text.compose says and fitted to the network's limit
 * (cut with an ellipsis, never the link); a status or notification body
 * measured and refused when over. Reads the action into a (a->link_to: where
 * the link goes when it is not in the text). The setup state's integers
 * maxCharacters / charactersReservedPerUrl, when in range, replace the limit
 * and URL weight. Returns the text, never empty unless the link goes
 * elsewhere; NULL with x->result set (NULL alone: out of memory). Caller frees. */
SZ_HIDDEN char *text_of(ctx *x, action *a);
/* text_of with the link moved into the text: text.compose's fields, then the
 * link ("...;link=linkBack" -> "...;linkBack"), for a post whose link cannot
 * go in its own field (a post with media carries no link card). */
SZ_HIDDEN char *text_link_inline(ctx *x, action *a);
/* 0 when spec is a valid text.compose, else -1 with the reason in why. */
SZ_HIDDEN int sz_nk_compose_check(const char *spec, char *why, size_t n);
SZ_HIDDEN const char *header(const sz_header *h, size_t n, const char *name);
SZ_HIDDEN long long parse_iso8601(const char *s);
/* Unix seconds -> "YYYY-MM-DDTHH:MM:SS.000Z" (UTC). */
SZ_HIDDEN void format_iso8601(long long t, char out[64]);
SZ_HIDDEN void set_retry(json_t *r, long long seconds);
SZ_HIDDEN void set_scope(json_t *r, const char *scope);
SZ_HIDDEN void details_add(json_t *r, int status, const char *code, const char *msg);
SZ_HIDDEN json_t *classify(const char *cat, int status, const char *code, const char *msg);
SZ_HIDDEN json_t *graph_error(int status, json_t *e, const char *cat);
/* NULL with err set (may be NULL): a bad url (SZ_EMISSING/SZ_EINVALID), SZ_ENOMEM, SZ_ECRYPTO. */
SZ_HIDDEN char *oauth1_header(const char *method, const char *url, const char *ck, const char *cs,
                              const char *tk, const char *ts_secret, long long ts, const char *nonce,
                              sz_error *err);
/* sz_oauth.c / sz_oauth1.c: the endpoint of an OAuth step (app[key], or url
 * with app.baseUrl's origin); the OAuth 1.0a 3-legged steps ("oauth1_*") */
SZ_HIDDEN char *sz_oauth_endpoint(const sz_net *nt, json_t *app, const char *key, const char *url, const char **why);
SZ_HIDDEN sz_request *sz_oauth1_request_json(const sz_net *nt, const char *op, json_t *app, json_t *args,
                                             json_t **refusal);
SZ_HIDDEN sz_request *sz_oauth_token_query(const char *method, const char *url, json_t *app, const char *at);
SZ_HIDDEN json_t *sz_oauth_pages_reply(const sz_net *nt, int status, json_t *j, int is_json);
SZ_HIDDEN sz_request *sz_oauth_graph_request_json(const sz_net *nt, const char *op, json_t *app, json_t *args,
                                                  json_t **refusal);
SZ_HIDDEN json_t *sz_oauth_permissions_reply(const sz_net *nt, int status, json_t *j, int is_json, const char *asked);
SZ_HIDDEN json_t *sz_oauth_missing_scopes(const char *asked, const char *granted);
SZ_HIDDEN json_t *sz_oauth1_parse_json(const sz_net *nt, const char *op, int status, const char *body, size_t len);
SZ_HIDDEN char *oauth1_header_x(const char *method, const char *url, const char *ck, const char *cs,
                                const char *tk, const char *ts_secret, long long ts, const char *nonce,
                                const char *xk, const char *xv, sz_error *err);

/* ---- read-back ("recent", sz_recent.c) ------------------------------------ */
#define SZ_RECENT_COUNT 20      /* posts asked for */
#define SZ_RECENT_MAX 100       /* posts read from a reply, the others ignored */
#define SZ_RECENT_MAX_ID 200    /* bytes of a post id; a longer one is skipped */
#define SZ_RECENT_MAX_TEXT 70000 /* bytes of a post's text; a longer one is skipped */
/* A success whose data is {"posts": [{id, text, createdAt?}], "listed": n}
 * from the items of arr (the dotted paths of their id, text and creation
 * time, ISO 8601 taken as UTC; time_path NULL: none); an item without an id
 * or text is skipped. arr not an array: a transient failure. NULL: out of
 * memory. */
SZ_HIDDEN json_t *sz_nk_recent(json_t *arr, const char *id_path, const char *text_path, const char *time_path);

/* ---- media (docs/media.md) -------------------------------------------------
 * "publish" gets input.media, the items ready to post (uploaded, or by URL);
 * "upload" runs once or more per item (networks with media.upload) with
 * c->step = {"item": {index, kind, mime, size, alt, width, height, url},
 * "step": what the previous upload reply's data said (absent at first)};
 * its parse answers success with data = {"media": {...}} when the item is
 * done (media_done), else the next step's state, "wait" seconds first when
 * the network is still processing (media_next). "unmedia" (media.deletable)
 * deletes an upload the post did not use: c->step = {"media": {...}}. */

/* How many items input.media holds. */
SZ_HIDDEN size_t sz_nk_media_count(ctx *x);
/* Item k (0-based) of input.media into m, with its bytes from c->blobs; -1
 * when absent. */
SZ_HIDDEN int sz_nk_media_at(ctx *x, size_t k, sz_media *m);
/* The upload step's item (c->step.item) into m with its bytes; -1 with
 * x->result set when there is none. */
SZ_HIDDEN int sz_nk_step_item(ctx *x, sz_media *m);
/* step_item for a network that uploads images only: the item must be an
 * image or GIF with its bytes, at most max bytes; else -1 with x->result set
 * ("...; <only>", "at most <max> bytes per <per>"). */
SZ_HIDDEN int sz_nk_step_image(ctx *x, sz_media *m, long long max, const char *only, const char *per);
/* The upload step's state (c->step.step; c->step.media for "unmedia"):
 * borrowed, NULL at the first step. */
SZ_HIDDEN json_t *sz_nk_step_state(const sz_call_json *c);
/* A multipart/form-data body. The boundary is derived from seed (the call's
 * nonce): the same call renders the same bytes. When a part's bytes hold
 * it (a caller who knows the nonce could add parts of their own), finish
 * derives another one that no part holds and writes it in place. */
#define SZ_MULTIPART_MAX_DELIMS 16
typedef struct sz_multipart {
    sz_buf      b;
    char        boundary[80];
    const char *seed;
    size_t      at[SZ_MULTIPART_MAX_DELIMS]; /* where the delimiters' boundaries are in b */
    size_t      nat;                         /* delimiters written (may pass the array) */
} sz_multipart;
SZ_HIDDEN void sz_nk_multipart_begin(sz_multipart *m, const char *seed);
SZ_HIDDEN void sz_nk_multipart_field(sz_multipart *m, const char *name, const char *value);
SZ_HIDDEN void sz_nk_multipart_file(sz_multipart *m, const char *name, const char *filename,
                                    const char *mime, const void *data, size_t len);
/* The request with the body and its Content-Type; NULL when memory ran out
 * or no boundary absent from the parts was found (the body is released
 * either way). */
SZ_HIDDEN sz_request *sz_nk_multipart_finish(sz_multipart *m, const char *method, const char *url);
/* A success that ends the item's upload: data = {"media": media} (takes media). */
SZ_HIDDEN json_t *sz_nk_media_done(json_t *media);
/* A success asking for the next upload step: data = state (taken), with
 * "wait" seconds (0: at once; saturated to [0, 60]). */
SZ_HIDDEN json_t *sz_nk_media_next(json_t *state, long long wait);

/* A required credential: on absence, a not_connected result and `goto done`
 * (every builder initialises what `done` releases before its first NEED). */
#define NEED(obj, key, what)                                                              \
    const char *key = jstr(obj, #key);                                                    \
    if (!key || !*key) {                                                                  \
        x->result = fail("not_connected", "%s: missing " what " '%s' in the %s",          \
                         x->nt->name, #key, obj == x->app ? "provider config" : "connection"); \
        goto done;                                                                        \
    }
#endif
