/* The jansson-free public face of direct delivery (socialize.h): provider
 * calls given as JSON text, results as an opaque handle with accessors,
 * replies and descriptors as JSON text out. Each public function parses its
 * texts, calls the core's tree entry point (sz_jansson.h) and wraps what
 * comes back. Also the wiping release of JSON trees (sz_json_free). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "sz_netkit.h"

struct sz_result {
    json_t *j; /* the result object, owned */
};

/* ---- wiping release ---------------------------------------------------------- */

/* Zeroes the string values of j and of every node below it that no one else
 * holds (refcount 1: freed with j). Shared nodes are left to their other
 * holders; jansson's static true/false/null have no count to drop. */
static void wipe_tree(json_t *j, int depth)
{
    if (!j || j->refcount != 1 || depth > 4096)
        return;
    if (json_is_string(j)) {
        sz_wipe((char *)json_string_value(j), json_string_length(j));
    } else if (json_is_object(j)) {
        void *it;
        for (it = json_object_iter(j); it; it = json_object_iter_next(j, it))
            wipe_tree(json_object_iter_value(it), depth + 1);
    } else if (json_is_array(j)) {
        size_t i;
        for (i = 0; i < json_array_size(j); i++)
            wipe_tree(json_array_get(j, i), depth + 1);
    }
}

void sz_json_free(json_t *j)
{
    if (!j)
        return;
    wipe_tree(j, 0);
    json_decref(j);
}

/* ---- results ------------------------------------------------------------------ */

sz_result *sz_result_wrap(json_t *j)
{
    sz_result *r;
    if (!j)
        return NULL;
    r = malloc(sizeof *r);
    if (!r) {
        sz_json_free(j);
        return NULL;
    }
    r->j = j;
    return r;
}

void sz_result_free(sz_result *r)
{
    if (!r)
        return;
    sz_json_free(r->j);
    free(r);
}

int sz_result_ok(const sz_result *r) { return json_is_true(json_object_get(r->j, "ok")); }
const char *sz_result_string(const sz_result *r, const char *field)
{
    return field ? jstr(r->j, field) : NULL;
}
const char *sz_result_category(const sz_result *r) { return jstr(r->j, "category"); }
int sz_result_code(const sz_result *r) { return (int)json_integer_value(json_object_get(r->j, "errorCode")); }
const char *sz_result_message(const sz_result *r) { return jstr(r->j, "errorMessage"); }
const char *sz_result_details(const sz_result *r) { return jstr(r->j, "errorDetails"); }
const char *sz_result_provider(const sz_result *r) { return jstr(r->j, "provider"); }
const char *sz_result_post_id(const sz_result *r) { return jstr(r->j, "postID"); }
const char *sz_result_scope(const sz_result *r) { return jstr(r->j, "scope"); }
const char *sz_result_provider_code(const sz_result *r) { return jstr(r->j, "providerCode"); }

long long sz_result_retry_after(const sz_result *r)
{
    json_t *v = json_object_get(r->j, "retryAfter");
    return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

int sz_result_provider_status(const sz_result *r)
{
    json_int_t s = json_integer_value(json_object_get(r->j, "providerStatus"));
    return s < 0 || s > 999 ? 0 : (int)s;
}

/* j, or its member field, as a new compact JSON text (sorted keys). */
static char *json_text(json_t *j, const char *what, const char *field, size_t *len, sz_error *err)
{
    json_t *v = field ? json_object_get(j, field) : j;
    char *s;
    sz_clearerr(err);
    if (!v) {
        sz_seterr(err, SZ_EMISSING, "Missing required parameter: the %s has no %.64s", what, field);
        return NULL;
    }
    s = canon(v);
    if (!s) {
        sz_seterr(err, SZ_ENOMEM, "out of memory");
        return NULL;
    }
    if (len)
        *len = strlen(s); /* the writer writes a NUL as \u0000 */
    return s;
}

char *sz_result_json(const sz_result *r, const char *field, size_t *len, sz_error *err)
{
    return json_text(r->j, "result", field, len, err);
}

char *sz_response_json(const sz_response *r, const char *field, size_t *len, sz_error *err)
{
    return json_text(sz_response_root(r), "reply", field, len, err);
}

/* ---- provider calls from JSON text ------------------------------------------- */

/* One JSON object text of the call into *out (NULL text: {} or, for the
 * setup, none). 0, or -1 with err set; the message quotes no byte of a
 * text other than the input (app, user, setup and step hold credentials). */
static int parse_text(const char *s, size_t n, const char *what, int none_ok, json_t **out, sz_error *err)
{
    json_error_t je;
    *out = NULL;
    if (!s)
        return none_ok || (*out = json_object()) != NULL ? 0 : (sz_seterr(err, SZ_ENOMEM, "out of memory"), -1);
    *out = json_loadb(s, n, JSON_REJECT_DUPLICATES, &je);
    if (*out && json_is_object(*out))
        return 0;
    if (*out) /* an array */
        sz_seterr(err, SZ_EINVALID, "Invalid parameter value: %s is not a JSON object", what);
    else if (json_error_code(&je) == json_error_out_of_memory)
        sz_seterr(err, SZ_ENOMEM, "out of memory");
    else if (strcmp(what, "input") == 0)
        sz_seterr(err, SZ_EINVALID, "Invalid parameter value: %s is not valid JSON (%.80s at byte %d)", what,
                  je.text, je.position);
    else /* credentials: jansson's text quotes the bytes near the fault, never shown */
        sz_seterr(err, SZ_EINVALID, "Invalid parameter value: %s is not valid JSON (at byte %d)", what, je.position);
    sz_json_free(*out);
    *out = NULL;
    return -1;
}

typedef struct call_trees {
    sz_call_json c;
    json_t *in, *app, *user, *setup, *step;
} call_trees;

static void trees_free(call_trees *t)
{
    sz_json_free(t->in);
    sz_json_free(t->app);
    sz_json_free(t->user);
    sz_json_free(t->setup);
    sz_json_free(t->step);
}

/* The call's texts as trees; the names checked first (nothing parsed for a
 * wrong call). 0, or -1 with err set and nothing to free. */
static int read_call(const sz_provider_call *c, call_trees *t, sz_error *err)
{
    memset(t, 0, sizeof *t);
    if (!c) {
        sz_seterr(err, SZ_EMISSING, "Missing required parameter: provider");
        return -1;
    }
    if (!sz_call_check(c->provider, c->action, err))
        return -1;
    if (parse_text(c->input, c->input_len, "input", 0, &t->in, err) ||
        parse_text(c->app, c->app_len, "app", 0, &t->app, err) ||
        parse_text(c->user, c->user_len, "user", 0, &t->user, err) ||
        parse_text(c->setup, c->setup_len, "setup", 1, &t->setup, err) ||
        parse_text(c->step, c->step_len, "step", 1, &t->step, err)) {
        trees_free(t);
        return -1;
    }
    t->c.provider = c->provider;
    t->c.action = c->action;
    t->c.input = t->in;
    t->c.app = t->app;
    t->c.user = t->user;
    t->c.setup = t->setup;
    t->c.step = t->step;
    t->c.blobs = c->blobs;
    t->c.nblobs = c->blobs ? c->nblobs : 0;
    t->c.timestamp = c->timestamp;
    t->c.nonce = c->nonce;
    return 0;
}

sz_request *sz_provider_request(const sz_provider_call *c, sz_result **refusal, sz_error *err)
{
    call_trees t;
    json_t *res = NULL;
    sz_request *r;
    if (refusal)
        *refusal = NULL;
    sz_clearerr(err);
    if (read_call(c, &t, err) != 0)
        return NULL;
    r = sz_provider_request_json(&t.c, refusal ? &res : NULL, err);
    trees_free(&t);
    if (res && !(*refusal = sz_result_wrap(res)))
        sz_seterr(err, SZ_ENOMEM, "out of memory");
    return r;
}

sz_result *sz_provider_parse(const sz_provider_call *c, int http_status, const sz_header *headers,
                             size_t nheaders, const char *body, size_t len, long long now, sz_error *err)
{
    call_trees t;
    sz_result *r;
    sz_clearerr(err);
    if (!headers && nheaders) {
        sz_seterr(err, SZ_EINVALID, "Invalid parameter value: headers is NULL with nheaders %zu", nheaders);
        return NULL;
    }
    if (!body && len) {
        sz_seterr(err, SZ_EINVALID, "Invalid parameter value: body is NULL with len %zu", len);
        return NULL;
    }
    if (read_call(c, &t, err) != 0)
        return NULL;
    r = sz_result_wrap(sz_provider_parse_json(&t.c, http_status, headers, nheaders, body, len, now));
    trees_free(&t);
    if (!r)
        sz_seterr(err, SZ_ENOMEM, "out of memory");
    return r;
}

char *sz_provider_info(const char *name, size_t *len, sz_error *err)
{
    json_t *j;
    char *s;
    sz_clearerr(err);
    if (!name) {
        sz_seterr(err, SZ_EMISSING, "Missing required parameter: provider");
        return NULL;
    }
    if (!sz_net_find(name)) {
        sz_seterr(err, SZ_EINVALID, "Invalid parameter value: unknown provider '%.40s'", name);
        return NULL;
    }
    j = sz_provider_info_json(name);
    s = j ? json_text(j, "descriptor", NULL, len, err) : NULL;
    if (!j)
        sz_seterr(err, SZ_ENOMEM, "out of memory");
    json_decref(j);
    return s;
}

sz_result *sz_bookmark_url(const char *destination, const char *url, const char *title,
                           const char *description, const char *image, const char *instance, sz_error *err)
{
    sz_result *r;
    sz_clearerr(err);
    if (!destination) {
        sz_seterr(err, SZ_EMISSING, "Missing required parameter: destination");
        return NULL;
    }
    r = sz_result_wrap(sz_bookmark_url_json(destination, url, title, description, image, instance));
    if (!r)
        sz_seterr(err, SZ_ENOMEM, "out of memory");
    return r;
}
