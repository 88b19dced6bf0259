/* The core's jansson-typed entry points: what the public API (socialize.h,
 * which speaks JSON text) is built on, for code compiled into the same
 * library: the Lua binding (csrc/lua/, no JSON round trip), the network
 * files and the C tests. Internal: hidden symbols, never installed. */
#ifndef SZ_JANSSON_H
#define SZ_JANSSON_H
#include <jansson.h>
#include "socialize.h"
#include "sz_internal.h"

/* One provider call with its inputs as jansson trees (borrowed: the core
 * never changes them). sz_provider_call is this with JSON texts. */
typedef struct sz_call_json {
    const char *provider;
    const char *action;
    json_t     *input;     /* NULL: {} */
    json_t     *app;
    json_t     *user;
    long long   timestamp;
    const char *nonce;
    json_t     *setup;     /* NULL: none */
    /* media (docs/media.md): the upload step's state ({item, step}) and the
     * bytes of the call's media items, blobs[k] for item index k + 1 (a
     * zero length: the item has no bytes, its URL is sent) */
    json_t      *step;     /* NULL: none */
    const sz_blob *blobs;
    size_t       nblobs;
} sz_call_json;

/* sz_provider_request on trees: the same contract, the refusal as a jansson
 * result object (new reference; sz_json_free). */
SZ_HIDDEN sz_request *sz_provider_request_json(const sz_call_json *c, json_t **refusal, sz_error *err);
/* The text a publish, status or notification would carry on that network
 * (the generic text step): {ok, provider, text, length (by the network's
 * counter), max, truncated, counter, link?}, or the failure the text step
 * gives (nothing to post, a status over the limit). NULL with err set for a
 * wrong call or no memory. */
SZ_HIDDEN json_t *sz_provider_text_json(const sz_call_json *c, sz_error *err);
/* sz_provider_parse on trees: a new result object, NULL only when memory
 * runs out. An unknown provider or a missing action is an "unsupported"
 * failure result (the Lua binding's contract). */
SZ_HIDDEN json_t *sz_provider_parse_json(const sz_call_json *c, int status, const sz_header *headers,
                                         size_t nheaders, const char *body, size_t len, long long now);
/* The descriptor of a network as an object (new reference), NULL when the
 * name is unknown or memory runs out. */
SZ_HIDDEN json_t *sz_provider_info_json(const char *name);
/* sz_bookmark_url as a result object (new reference); NULL: out of memory. */
SZ_HIDDEN json_t *sz_bookmark_url_json(const char *destination, const char *url, const char *title,
                                       const char *description, const char *image, const char *instance);
/* OAuth 2.0 connect (sz_oauth.c, docs/connections.md). */
SZ_HIDDEN int sz_oauth_pkce(const unsigned char *rnd, size_t n, char verifier[129], char challenge[44],
                            sz_error *err);
SZ_HIDDEN sz_request *sz_oauth_request_json(const char *provider, const char *op, json_t *app, json_t *args,
                                            json_t **refusal);
SZ_HIDDEN json_t *sz_oauth_parse_json(const char *provider, const char *op, int status, const char *body,
                                      size_t len, long long now, json_t *args);
/* The reply's root object, borrowed and read-only (never NULL). */
SZ_HIDDEN json_t *sz_response_root(const sz_response *r);
/* A result object wrapped as an sz_result, taking the reference; NULL (and
 * the object released) when memory runs out. */
SZ_HIDDEN sz_result *sz_result_wrap(json_t *j);

/* Releases one reference to j; when it was the last, first zeroes the
 * string values of every node no one else holds (the wiping policy of
 * socialize.h). sz_json_free(NULL) is a no-op. */
SZ_HIDDEN void sz_json_free(json_t *j);

#endif
