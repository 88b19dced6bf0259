/* The engine of direct delivery: a UserAction becomes one network's real API
 * call, and the network's reply becomes a post ID or a classified error.
 *
 * Every network is one file under net/ holding its descriptor (sz_netkit.h);
 * the registry is generated from the files present. The engine walks the
 * registry and calls a network only through its descriptor: it checks the
 * call (names, NUL bytes, discontinued networks, actions), guards the built
 * request (URL, headers) and reads the reply's body before the network's
 * parser classifies it. Sans-IO: nothing here sends or reads a clock. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "sz_netkit.h"

/* ---- the registry ---------------------------------------------------------- */

void sz_once(int *state, void (*fn)(void))
{
    int expect = 0;
    if (__atomic_load_n(state, __ATOMIC_ACQUIRE) == 2)
        return;
    if (__atomic_compare_exchange_n(state, &expect, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        fn();
        __atomic_store_n(state, 2, __ATOMIC_RELEASE);
        return;
    }
    while (__atomic_load_n(state, __ATOMIC_ACQUIRE) != 2)
        ;
}

#define SZ_MAX_NETS 64
static const sz_net *ordered[SZ_MAX_NETS + 1];
static const char *names[SZ_MAX_NETS + 1];

static int net_before(const sz_net *a, const sz_net *b)
{
    return a->rank != b->rank ? a->rank < b->rank : strcmp(a->name, b->name) < 0;
}

/* insertion sort of the registry by (rank, name) */
static void order_nets(void)
{
    size_t n = 0, i, k;
    for (i = 0; sz_registry[i] && n < SZ_MAX_NETS; i++) {
        for (k = n; k > 0 && net_before(sz_registry[i], ordered[k - 1]); k--)
            ordered[k] = ordered[k - 1];
        ordered[k] = sz_registry[i];
        n++;
    }
    for (i = 0; i < n; i++)
        names[i] = ordered[i]->name;
}

const sz_net *const *sz_nets(void)
{
    static int state;
    sz_once(&state, order_nets);
    return ordered;
}

const sz_net *sz_net_find(const char *name)
{
    const sz_net *const *n;
    for (n = sz_nets(); name && *n; n++)
        if (strcmp((*n)->name, name) == 0)
            return *n;
    return NULL;
}

const char *const *sz_provider_names(void)
{
    sz_nets();
    return names;
}

/* ---- requests ---------------------------------------------------------------- */

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

/* 1 when a text of the call holds a NUL byte, its path in w: the input,
 * the credentials, the setup and the media step's state (its item's alt
 * text goes into a multipart body, its ids into URLs). */
int sz_call_nul(const sz_call_json *c, char *w, size_t n)
{
    static const char *const what[] = {"input", "provider config", "connection", "setup state", "step state"};
    json_t *const trees[] = {c->input, c->app, c->user, c->setup, c->step};
    size_t k;
    for (k = 0; k < 5; k++) {
        snprintf(w, n, "%s", what[k]);
        if (has_nul(trees[k], w, n, 0))
            return 1;
    }
    w[0] = '\0';
    return 0;
}

/* The descriptor's bearer token as the Authorization header; -1 with
 * x->result set when the token is missing (-1 alone: out of memory). */
static int add_bearer(ctx *x, sz_request *r)
{
    const char *tok = jstr(x->nt->bearer.from_setup ? x->setup : x->user, x->nt->bearer.field);
    sz_buf b;
    int rc;
    if (!tok || !*tok) {
        x->result = fail("not_connected", "%s: missing %s '%s' in the %s", x->nt->name,
                         x->nt->bearer.from_setup ? "session token" : "access token", x->nt->bearer.field,
                         x->nt->bearer.from_setup ? "setup state" : "connection");
        return -1;
    }
    sz_buf_init(&b);
    sz_buf_adds(&b, "Bearer ");
    sz_buf_adds(&b, tok);
    rc = b.failed ? -1 : sz_request_add_header(r, "Authorization", b.data);
    sz_buf_reset(&b); /* wipes */
    return rc;
}

static const char *const ACTIONS[] = {"publish", "status", "notify", "graph", "session", "instance",
                                      "upload", "unmedia", "recent", NULL};

const sz_net *sz_call_check(const char *provider, const char *act, sz_error *err)
{
    const sz_net *nt;
    int i;
    if (!provider || !act) {
        sz_seterr(err, SZ_EMISSING, "Missing required parameter: %s", provider ? "action" : "provider");
        return NULL;
    }
    nt = sz_net_find(provider);
    if (!nt) {
        sz_seterr(err, SZ_EINVALID, "Invalid parameter value: unknown provider '%.40s'", provider);
        return NULL;
    }
    for (i = 0; ACTIONS[i] && strcmp(ACTIONS[i], act) != 0; i++)
        ;
    if (!ACTIONS[i] && !(nt->follow_up && strcmp(nt->follow_up, act) == 0) &&
        !(nt->setup.refresh && strcmp(nt->setup.refresh, act) == 0)) {
        sz_seterr(err, SZ_EINVALID, "Invalid parameter value: unknown action '%.40s'", act);
        return NULL;
    }
    return nt;
}

/* The refusal contract (socialize.h sz_provider_request): NULL, SZ_EREFUSED
 * with the result's code and details, the result to the caller. A result
 * that could not be made is SZ_ENOMEM. */
static sz_request *refuse(json_t *res, const sz_net *nt, json_t **refusal, sz_error *err)
{
    if (!res || json_object_set_new(res, "provider", json_string(nt->name)) != 0) {
        sz_json_free(res);
        sz_seterr(err, SZ_ENOMEM, "out of memory");
        return NULL;
    }
    sz_seterr(err, SZ_EREFUSED, "%s", json_string_value(json_object_get(res, "errorDetails")) ?
              json_string_value(json_object_get(res, "errorDetails")) : "refused");
    if (err)
        err->code = (int)json_integer_value(json_object_get(res, "errorCode"));
    if (refusal)
        *refusal = res;
    else
        sz_json_free(res);
    return NULL;
}

sz_request *sz_provider_request_json(const sz_call_json *c, json_t **refusal, sz_error *err)
{
    ctx x;
    sz_request *r = NULL;
    json_t *in_copy;
    if (refusal)
        *refusal = NULL;
    sz_clearerr(err);
    memset(&x, 0, sizeof x);
    x.c = c;
    x.nt = c ? sz_call_check(c->provider, c->action, err) : NULL;
    if (!c)
        sz_seterr(err, SZ_EMISSING, "Missing required parameter: provider");
    if (!x.nt)
        return NULL;
    in_copy = c->input ? json_deep_copy(c->input) : json_object();
    x.in = in_copy;
    x.app = c->app ? c->app : NULL;
    x.user = c->user ? c->user : NULL;
    x.setup = c->setup;
    {
        char w[128];
        if (sz_call_nul(c, w, sizeof w)) {
            sz_json_free(in_copy);
            return refuse(fail("content_invalid", "%s: %s contains a NUL byte", x.nt->name, w), x.nt,
                          refusal, err);
        }
    }
    if (!in_copy) {
        sz_seterr(err, SZ_ENOMEM, "out of memory");
        return NULL;
    }
    if (x.nt->discontinued || !x.nt->build) {
        x.result = fail("provider_discontinued", "%s: %s", x.nt->name, x.nt->note);
    } else if (strcmp(c->action, "graph") == 0 && !x.nt->graph) {
        const sz_net *const *g = sz_nets();
        while (*g && !(*g)->graph)
            g++;
        x.result = fail("unsupported", "%s: graph operations are %s's", x.nt->name, *g ? (*g)->display : "no network");
    } else if (strcmp(c->action, "notify") == 0 && x.nt->no_notify) {
        x.result = fail("unsupported", "%s: %s", x.nt->name, x.nt->no_notify);
    } else if ((strcmp(c->action, "upload") == 0 && !x.nt->media.upload) ||
               (strcmp(c->action, "unmedia") == 0 && !x.nt->media.deletable)) {
        x.result = fail("unsupported", "%s: no %s step (media go %s)", x.nt->name, c->action,
                        x.nt->media.images || x.nt->media.videos ? "in the post itself" : "nowhere: none are taken");
    } else if (strcmp(c->action, "recent") == 0 && !x.nt->readback) {
        x.result = fail("unsupported", "%s: no read-back of recent posts (%s)", x.nt->name,
                        x.nt->no_readback ? x.nt->no_readback : "none");
    } else {
        r = x.nt->build(&x);
        if (!r && !x.result) { /* every other failure sets x.result */
            sz_json_free(in_copy);
            sz_seterr(err, SZ_ENOMEM, "out of memory");
            return NULL;
        }
    }
    if (r && x.nt->bearer.field && !(x.nt->setup.action && strcmp(c->action, x.nt->setup.action) == 0) &&
        !(x.nt->setup.refresh && strcmp(c->action, x.nt->setup.refresh) == 0) &&
        add_bearer(&x, r) != 0) {
        sz_request_free(r);
        r = NULL;
    }
    if (r && !url_ok(sz_request_url(r))) {
        sz_request_free(r);
        r = NULL;
        if (x.nt->url_field) /* the connection's server URL, as given (a C host's to normalise) */
            x.result = fail("content_invalid", "%s: the endpoint URL is not a plain http(s) URL: %s.%s must be "
                                               "like https://%s (a scheme, no space or control character), and "
                                               "no credential or id may hold a space or control character",
                            x.nt->name, x.nt->name, x.nt->url_field, x.nt->url_example ? x.nt->url_example : "host");
        else
            x.result = fail("content_invalid", "%s: the endpoint URL is not a plain http(s) URL "
                                               "(a credential or id has spaces or control characters)", x.nt->name);
    }
    if (r) { /* no header injection through a token or id */
        size_t h;
        for (h = 0; h < sz_request_header_count(r); h++) {
            const char *hn, *hv;
            sz_request_header(r, h, &hn, &hv);
            if (hv[sz_ctl_span(hv, strlen(hv), 0)]) {
                x.result = fail("not_connected", "%s: the %s header would carry a control character "
                                                 "(a credential has CR, LF or NUL)", x.nt->name, hn);
                sz_request_free(r);
                r = NULL;
                break;
            }
        }
    }
    sz_json_free(in_copy);
    if (!r)
        return refuse(x.result, x.nt, refusal, err);
    if (x.truncated)
        sz_request_set_truncated(r);
    return r;
}

/* ---- reply parsing --------------------------------------------------------- */

json_t *sz_provider_parse_json(const sz_call_json *c, int status, const sz_header *headers, size_t nheaders,
                               const char *body, size_t len, long long now)
{
    const net *nt = c ? sz_net_find(c->provider) : NULL;
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
    if (!is_json && len > 0 && !(status >= 200 && status < 300 && nt->raw_2xx_ok)) {
        char snippet[120];
        size_t n = len < 100 ? len : 100, k;
        for (k = 0; k < n; k++)
            snippet[k] = sz_ctl_byte((unsigned char)body[k], SZ_CTL_8BIT) ? '.' : body[k];
        snippet[n] = '\0';
        r = classify(status >= 500 || status < 200 ? "transient" : by_status(status == 200 ? 502 : status),
                     status, NULL, snippet);
        json_object_set_new(r, "errorDetails",
                            json_string(status >= 200 && status < 300 ? "reply is not JSON" : json_string_value(json_object_get(r, "errorDetails"))));
    } else if (nt->parse && !nt->discontinued) {
        r = nt->parse(c, status, headers, nheaders, j, now);
    } else {
        r = fail("provider_discontinued", "%s: %s", nt->name, nt->note);
    }
    sz_json_free(j);
    if (json_is_true(json_object_get(r, "ok")) && !jstr(r, "postID") && !json_object_get(r, "data") &&
        !nt->id_optional && !(strcmp(c->action, "graph") == 0)) {
        sz_json_free(r);
        r = classify("transient", status, NULL, "success reply without a post id");
    }
    json_object_set_new(r, "provider", json_string(nt->name));
    return r;
}

/* ---- what the front needs to know ------------------------------------------ */

static json_t *fields(const char *const *f)
{
    json_t *a = json_array();
    size_t i;
    for (i = 0; i < SZ_MAX_FIELDS && f[i]; i++)
        json_array_append_new(a, json_string(f[i]));
    return a;
}

SZ_HIDDEN json_t *sz_oauth_info_json(const sz_net *nt);

json_t *sz_provider_info_json(const char *name)
{
    static const char *const AUTH[] = {"none", "oauth1", "bearer", "token_param", "session", "url_token"};
    static const char *const IDEM[] = {"none", "header", "param"};
    const sz_net *nt = name ? sz_net_find(name) : NULL;
    json_t *r;
    if (!nt)
        return NULL;
    r = json_pack("{s:s, s:s?, s:i, s:s?, s:b, s:b, s:s?, s:s?, s:s?, s:b, s:s?,"
                  " s:{s:I, s:s, s:I, s:s?, s:s?}, s:s, s:o, s:o, s:o, s:o, s:s?, s:b, s:b,"
                  " s:{s:s, s:s?}, s:s?, s:b, s:b, s:b}",
                  "name", nt->name, "display", nt->display, "rank", nt->rank, "note", nt->note,
                  "discontinued", nt->discontinued, "gigya", nt->gigya, "baseUrl", nt->base_url,
                  "version", nt->version, "urlField", nt->url_field, "urlBareHost", nt->url_bare_host,
                  "urlExample", nt->url_example,
                  "text", "max", (json_int_t)nt->text.max, "counter", nt->text.own ? nt->text.own->name : sz_text_rule_name(nt->text.count),
                  "urlWeight", (json_int_t)nt->text.url_weight, "separator", nt->text.sep,
                  "compose", nt->text.compose,
                  "auth", AUTH[nt->auth % 6], "authFields", fields(nt->auth_fields),
                  "secretFields", fields(nt->secret_fields), "accountFields", fields(nt->account_fields),
                  "appKeyFields", fields(nt->app_key_fields), "recipientField", nt->recipient_field,
                  "recipientNumericUID", nt->recipient_numeric_uid, "subjectRequired", nt->notify_subject,
                  "idempotency", "kind", IDEM[nt->idem.kind % 3], "name", nt->idem.name,
                  "intent", nt->intent, "intentDefault", nt->intent_default, "graph", nt->graph,
                  "rawSuccess", nt->raw_2xx_ok);
    if (r) { /* a field the network does not have is absent, not null */
        const char *k;
        void *tmp;
        json_t *v;
        json_object_foreach_safe(r, tmp, k, v) if (json_is_null(v)) json_object_del(r, k);
        json_object_foreach_safe(json_object_get(r, "idempotency"), tmp, k, v)
            if (json_is_null(v)) json_object_del(json_object_get(r, "idempotency"), k);
    }
    if (r && nt->bearer.field) /* the engine's Authorization: Bearer */
        json_object_set_new(r, "bearer", json_pack("{s:s, s:b}", "field", nt->bearer.field, "fromSetup",
                                                   nt->bearer.from_setup));
    if (r) /* sendNotification: offered, or why not */
        json_object_set_new(r, "notify", json_pack("{s:b, s:s?}", "offered", !nt->no_notify && !nt->discontinued,
                                                   "why", nt->no_notify));
    if (r && nt->follow_up)
        json_object_set_new(r, "followUp", json_string(nt->follow_up));
    if (r) /* the read-back op "recent" (docs/delivery.md) */
        json_object_set_new(r, "readback", json_pack("{s:b, s:i}", "offered", nt->readback != NULL,
                                                     "count", SZ_RECENT_COUNT));
    if (r && (nt->readback || nt->no_readback))
        json_object_set_new(json_object_get(r, "readback"), nt->readback ? "endpoint" : "why",
                            json_string(nt->readback ? nt->readback : nt->no_readback));
    if (r) /* media (docs/media.md) */
        json_object_set_new(r, "media", json_pack("{s:i, s:i, s:b, s:I, s:I, s:s?, s:b, s:b, s:b, s:b, s:b, s:I}",
                                                  "images", nt->media.images, "videos", nt->media.videos,
                                                  "audio", nt->media.audio, "maxImage", (json_int_t)nt->media.max_image,
                                                  "maxVideo", (json_int_t)nt->media.max_video, "mimes", nt->media.mimes,
                                                  "byUrl", nt->media.by_url, "bytes", nt->media.bytes,
                                                  "upload", nt->media.upload, "alt", nt->media.alt,
                                                  "deletable", nt->media.deletable, "chunk", (json_int_t)nt->media.chunk));
    if (r && nt->carries)
        json_object_set_new(r, "carries", json_string(nt->carries));
    if (r && nt->oauth.authorize) /* the connect flow (sz_oauth.c) */
        json_object_set_new(r, "connect", sz_oauth_info_json(nt));
    if (r && nt->setup.action)
        json_object_set_new(r, "setup", json_pack("{s:s, s:s?, s:b, s:b}", "action", nt->setup.action,
                                                  "cacheKey", nt->setup.cache_key, "required",
                                                  nt->setup.required, "refreshOnAuthExpired",
                                                  nt->setup.refresh_on_auth_expired));
    if (r && nt->setup.action && nt->setup.refresh)
        json_object_set_new(json_object_get(r, "setup"), "refresh", json_string(nt->setup.refresh));
    return r;
}
