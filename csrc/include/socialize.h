/*
 * socialize.h - the sans-IO C core of socialize.
 *
 * The core builds and signs Gigya (SAP Customer Data Cloud) REST requests and
 * parses their replies. It never opens a socket, never reads the clock on its
 * own (timestamps and nonces are inputs) and keeps no mutable global state:
 * every function is safe to call from several threads at once as long as no
 * handle is shared between threads without a lock.
 *
 * Conventions
 *   - Every exported name starts with sz_ / SZ_.
 *   - Strings are byte strings with an explicit length where they may hold
 *     NUL; otherwise NUL-terminated UTF-8.
 *   - A function returning `char *` returns a NEW string that the caller owns
 *     and releases with sz_free(). NULL means failure; the reason is written
 *     to the optional `sz_error *err` out-parameter (may be NULL).
 *   - Handles (sz_params, sz_request, sz_response) are opaque. Each has a
 *     create/free pair; *_free(NULL) is a no-op.
 *   - The core never keeps a pointer into caller memory after a call returns:
 *     every input is copied.
 *   - Error codes are Gigya's: 400002 missing parameter, 400006 invalid
 *     parameter value, 403006 secret sent over http, 500000 internal error.
 */
#ifndef SOCIALIZE_H
#define SOCIALIZE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef SZ_API
#if defined(__GNUC__) && __GNUC__ >= 4
#define SZ_API __attribute__((visibility("default")))
#else
#define SZ_API
#endif
#endif

#define SZ_VERSION_MAJOR 0
#define SZ_VERSION_MINOR 1
#define SZ_VERSION_PATCH 0
#define SZ_VERSION_STRING "0.1.0"

/* Gigya error codes produced locally by the core. */
#define SZ_OK                   0
#define SZ_E_MISSING_PARAMETER  400002
#define SZ_E_INVALID_PARAMETER  400006
#define SZ_E_SECRET_OVER_HTTP   403006
#define SZ_E_INTERNAL           500000

/* Caller-owned error: the core fills it, never allocates it. */
typedef struct sz_error {
    int  code;          /* a Gigya error code, SZ_OK when nothing failed */
    char message[256];  /* NUL-terminated, names the parameter at fault */
} sz_error;

/* Version of the library actually linked, e.g. "0.1.0". Static storage. */
SZ_API const char *sz_version(void);

/* The Gigya message for an error code ("Invalid request signature"), or
 * "Unknown error" when the code is not known. Static storage. */
SZ_API const char *sz_strerror(int code);

/* Releases memory returned by the core. sz_free(NULL) is a no-op. */
SZ_API void sz_free(void *p);

/* ---- encodings ----------------------------------------------------------
 * sz_url_encode: RFC 3986 percent-encoding of the bytes: A-Z a-z 0-9 - _ . ~
 * are kept, every other byte becomes %XX with upper-case hex. Returns a new
 * string; *out_len (optional) receives its length.
 * sz_base64_encode: standard alphabet with '=' padding.
 * sz_base64_decode: strict standard Base64. Padding may be present (then it
 * must be correct) or absent; any other character, a misplaced '=' or a
 * length of 1 mod 4 is an error (400006, naming `what`). Returns a new buffer
 * in *out (caller frees with sz_free) and its length in *out_len. */
SZ_API char *sz_url_encode(const char *s, size_t len, size_t *out_len);
SZ_API char *sz_base64_encode(const unsigned char *data, size_t len, size_t *out_len);
SZ_API int   sz_base64_decode(const char *s, size_t len, const char *what,
                              unsigned char **out, size_t *out_len, sz_error *err);

/* 1 when the bytes are well-formed UTF-8 (no overlongs, no surrogates,
 * nothing above U+10FFFF), 0 otherwise. */
SZ_API int sz_utf8_valid(const char *s, size_t len);

/* Constant-time comparison: 1 when equal. Time depends only on the lengths. */
SZ_API int sz_consttime_equal(const char *a, size_t alen, const char *b, size_t blen);

/* ---- parameters ----------------------------------------------------------
 * A set of request parameters kept sorted by key (byte order), as Gigya's
 * signature requires. Keys and values are copied. */
typedef struct sz_params sz_params;

SZ_API sz_params *sz_params_new(void);
SZ_API void       sz_params_free(sz_params *p);
SZ_API sz_params *sz_params_copy(const sz_params *p);
/* Adds or replaces. Returns 0, or -1 on allocation failure. */
SZ_API int        sz_params_set(sz_params *p, const char *key, size_t klen,
                                const char *val, size_t vlen);
/* Returns 1 when removed, 0 when absent. */
SZ_API int        sz_params_remove(sz_params *p, const char *key);
/* Borrowed pointer valid until the next change of p, or NULL when absent. */
SZ_API const char *sz_params_get(const sz_params *p, const char *key, size_t *vlen);
SZ_API size_t     sz_params_count(const sz_params *p);
/* i-th parameter in sorted order; borrowed pointers as above. 0 or -1. */
SZ_API int        sz_params_at(const sz_params *p, size_t i, const char **key,
                               size_t *klen, const char **val, size_t *vlen);

/* key=UrlEncode(value) joined by '&' in sorted key order: Gigya's query
 * string, also the exact application/x-www-form-urlencoded POST body. */
SZ_API char *sz_params_query(const sz_params *p, size_t *out_len);

/* ---- canonical JSON ------------------------------------------------------
 * The one JSON encoder of the library: a table parameter is signed and sent
 * as the text this writer makes (the Lua binding drives it while it walks the
 * table). The caller writes one value, call by call; the text is compact:
 *   - object keys must come in strictly increasing byte order (memcmp, a
 *     prefix first), so one value has exactly one text;
 *   - keys and strings must be valid UTF-8 (sz_utf8_valid) and are written as
 *     they are, except '"', '\\' and bytes below 0x20: \b \f \n \r \t, else
 *     \u00xx (lower-case hex); '/', DEL and non-ASCII are not escaped;
 *   - sz_json_integer writes the decimal integer; sz_json_number writes an
 *     integral double in the int64 range without fraction or exponent (-0 is
 *     "0"), any other as the shortest of %.15g, %.16g, %.17g that reads back
 *     as the same double ("0.1", "1e+300"); NaN and infinities are refused;
 *   - at most SZ_JSON_MAX_DEPTH arrays and objects are open at once.
 * Each call returns 0, or the error code when the call is refused
 * (SZ_E_INVALID_PARAMETER: invalid UTF-8, NaN, too deep, keys out of order,
 * a call out of place) or memory ran out (SZ_E_INTERNAL); the writer then
 * keeps that first failure and refuses every later call until reset. w must
 * not be NULL; free and reset accept NULL. */
#define SZ_JSON_MAX_DEPTH 65
typedef struct sz_json_writer sz_json_writer;

SZ_API sz_json_writer *sz_json_writer_new(void);        /* NULL: out of memory */
SZ_API void sz_json_writer_free(sz_json_writer *w);
SZ_API void sz_json_writer_reset(sz_json_writer *w);    /* empty, for the next value */
SZ_API int  sz_json_begin_object(sz_json_writer *w);
SZ_API int  sz_json_end_object(sz_json_writer *w);
SZ_API int  sz_json_begin_array(sz_json_writer *w);
SZ_API int  sz_json_end_array(sz_json_writer *w);
SZ_API int  sz_json_key(sz_json_writer *w, const char *s, size_t len);
SZ_API int  sz_json_string(sz_json_writer *w, const char *s, size_t len);
SZ_API int  sz_json_integer(sz_json_writer *w, long long v);
SZ_API int  sz_json_number(sz_json_writer *w, double v);
SZ_API int  sz_json_bool(sz_json_writer *w, int v);
SZ_API int  sz_json_null(sz_json_writer *w);
/* The text of the complete value (borrowed, NUL-terminated, valid until the
 * next call on w), or NULL with err filled: the first failure, or 400006
 * when the value is not complete. */
SZ_API const char *sz_json_writer_text(const sz_json_writer *w, size_t *len, sz_error *err);

/* ---- signing -------------------------------------------------------------
 * sz_normalize_url: lower-case scheme and host, port kept only when not the
 * scheme's default, path as given, query and fragment dropped. Only http
 * and https URLs are accepted (400006 "url" otherwise).
 * sz_base_string: UPPER(method) & enc(normalized url) & enc(query string).
 * sz_sign: Base64(HMAC-SHA1(Base64Decode(secret_b64), message)); 400006
 * "secret" when the secret is not strict Base64 or is empty. */
SZ_API char *sz_normalize_url(const char *url, sz_error *err);
SZ_API char *sz_base_string(const char *http_method, const char *url,
                            const sz_params *params, size_t *out_len, sz_error *err);
SZ_API char *sz_sign(const char *secret_b64, const char *message, size_t len, sz_error *err);

/* ---- validators (constant-time) ------------------------------------------
 * Return 1 when valid, 0 when not (wrong signature, bad secret, or outside
 * the time window). window_seconds < 0 disables the time check; otherwise the
 * signature is invalid when |now - timestamp| > window_seconds. `now` is Unix
 * seconds supplied by the caller. A timestamp that is not a decimal integer
 * is invalid whenever a window is asked for. */
SZ_API int sz_validate_user_signature(const char *uid, const char *timestamp,
                                      const char *secret_b64, const char *signature,
                                      long long window_seconds, long long now);
SZ_API int sz_validate_friend_signature(const char *uid, const char *timestamp,
                                        const char *friend_uid, const char *secret_b64,
                                        const char *signature,
                                        long long window_seconds, long long now);
/* X-Gigya-Sig-Hmac-Sha1 = Base64(HMAC-SHA1(Base64Decode(secret), raw body)). */
SZ_API int sz_validate_webhook_signature(const char *body, size_t len,
                                         const char *secret_b64, const char *header_value);

/* ---- requests ------------------------------------------------------------ */
typedef enum sz_auth {
    SZ_AUTH_SIGNED = 0, /* apiKey [+userKey] + timestamp + nonce + sig       */
    SZ_AUTH_SECRET = 1, /* apiKey [+userKey] + secret in clear, HTTPS only   */
    SZ_AUTH_OAUTH2 = 2, /* oauth_token, HTTPS only                           */
    SZ_AUTH_JWT    = 3, /* Authorization: Bearer RS256 JWT + apiKey, HTTPS   */
    SZ_AUTH_NONE   = 4  /* apiKey only (anonymous methods), HTTPS only       */
} sz_auth;

typedef struct sz_request_opts {
    const char *api_method;  /* "socialize.setStatus", or "setStatus"        */
    const char *api_domain;  /* NULL or "" -> "us1.gigya.com"                */
    const char *base_url;    /* NULL, or "scheme://host[:port][/prefix]": the
                                request goes to base_url + "/" + api_method  */
    sz_auth     auth;
    const char *api_key;
    const char *user_key;       /* optional (signed, secret); kid for JWT    */
    const char *secret;         /* Base64 secret (signed, secret)            */
    const char *access_token;   /* OAuth2                                    */
    const char *private_key_pem;/* PKCS#8 or PKCS#1 RSA PEM (JWT)            */
    long long   timestamp;      /* Unix seconds: signed (timestamp), JWT (iat) */
    const char *nonce;          /* unique per call: signed (nonce), JWT (jti) */
    const char *sdk;            /* NULL -> "socialize_c_" SZ_VERSION_STRING  */
} sz_request_opts;

typedef struct sz_request sz_request;

/* Builds the complete HTTP request for one Gigya call. `params` is not
 * changed; the request holds its own copy with the auth parameters, format,
 * httpStatusCodes and sdk added. Parameters that the auth mode owns (sig,
 * nonce, timestamp, oauth_token, apiKey, userKey, secret) are refused with
 * 400006, as is a format other than json. Returns NULL and fills err on bad
 * input (400002 / 400006 naming the parameter, 403006 for a secret over
 * http). The result is freed with sz_request_free. */
SZ_API sz_request *sz_request_build(const sz_request_opts *opts, const sz_params *params,
                                    sz_error *err);
SZ_API void        sz_request_free(sz_request *r);
/* Borrowed strings, valid until sz_request_free. */
SZ_API const char *sz_request_method(const sz_request *r);     /* "POST" */
SZ_API const char *sz_request_url(const sz_request *r);
SZ_API const char *sz_request_body(const sz_request *r, size_t *len);
SZ_API const char *sz_request_base_string(const sz_request *r); /* "" if unsigned */
SZ_API const sz_params *sz_request_params(const sz_request *r);
SZ_API size_t      sz_request_header_count(const sz_request *r);
SZ_API int         sz_request_header(const sz_request *r, size_t i,
                                     const char **name, const char **value);

/* ---- responses -----------------------------------------------------------
 * Parses a Gigya reply body. A JSON object is kept whole; errorCode,
 * statusCode, statusReason, errorMessage, errorDetails, callId and time are
 * read from it. A reply that is not a JSON object, or an HTTP status outside
 * 2xx without an errorCode, yields a local error (500000 "Invalid response"
 * / the HTTP status) with details; the parse itself only fails (NULL) when
 * memory runs out. */
typedef struct sz_response sz_response;
struct json_t; /* jansson's type: the full reply, for bindings */

SZ_API sz_response *sz_response_parse(const char *body, size_t len, int http_status,
                                      sz_error *err);
SZ_API void         sz_response_free(sz_response *r);
SZ_API int          sz_response_error_code(const sz_response *r);
SZ_API int          sz_response_status_code(const sz_response *r);
/* Borrowed string field of the reply (errorMessage, callId...) or NULL. */
SZ_API const char  *sz_response_string(const sz_response *r, const char *field);
/* Borrowed root object of the reply (never NULL; an empty object when the
 * reply was not JSON). Valid until sz_response_free. */
SZ_API struct json_t *sz_response_json(const sz_response *r);

/* ---- provider adapters (direct delivery) ---------------------------------
 * Each adapter turns one action for one network into that network's HTTP
 * request, and the network's reply into a result object (jansson):
 *   {"ok":true,  "postID":"...", "provider":"...", "errorCode":0, ["duplicate":true], ["data":{...}]}
 *   {"ok":false, "category":"auth_expired|permission_missing|duplicate|rate_limited|
 *                 quota_exhausted|content_invalid|policy_blocked|transient|unsupported|
 *                 provider_discontinued|not_connected",
 *    "errorCode":<Gigya code>, "errorMessage", "errorDetails", ["retryAfter":s],
 *    ["providerStatus":http], ["providerCode":"..."], "provider"}
 * Actions: "publish" (input.userAction, input.userLocation), "status"
 * (input.status), "notify" (input.body, input.subject, input.recipient),
 * "graph" (Facebook: graphPath, method, graphParams), and the setup steps
 * "session" (Bluesky createSession) and "instance" (Mastodon limits). */
typedef struct sz_provider_call {
    const char    *provider;  /* "twitter", "facebook", ... */
    const char    *action;
    struct json_t *input;     /* borrowed; the call parameters for this network */
    struct json_t *app;       /* borrowed; the app's credentials and overrides */
    struct json_t *user;      /* borrowed; the user's connection (tokens, ids) */
    long long      timestamp; /* Unix seconds (OAuth 1.0a, Bluesky createdAt) */
    const char    *nonce;     /* OAuth 1.0a nonce */
    struct json_t *setup;     /* borrowed or NULL; the state the network's setup step
                                 returned ("data" of its reply: Mastodon instance
                                 limits, Bluesky session), never part of input */
} sz_provider_call;

typedef struct sz_header {
    const char *name;         /* any case */
    const char *value;
} sz_header;

/* The request to send, or NULL when nothing is to be sent: then *result (new
 * reference, caller json_decref) holds the failure - discontinued provider,
 * unsupported action, missing credentials, content the network refuses - and
 * err is set only for a bad provider or action name. */
SZ_API sz_request *sz_provider_request(const sz_provider_call *c, struct json_t **result,
                                       sz_error *err);
/* Classifies a reply; `now` (Unix seconds) turns reset times into retryAfter.
 * Returns a new reference. Never NULL for a known provider. */
SZ_API struct json_t *sz_provider_parse(const sz_provider_call *c, int http_status,
                                        const sz_header *headers, size_t nheaders,
                                        const char *body, size_t len, long long now);
/* What the front needs to know of one network, from its descriptor (new
 * reference), or NULL for an unknown name: setup step, secret, account,
 * recipient and guarded URL fields, idempotency, share intent... (docs/api.md
 * "provider_info"). */
SZ_API struct json_t *sz_provider_info(const char *name);
/* NULL-terminated, static: the networks with an adapter. */
SZ_API const char *const *sz_provider_names(void);
/* The Gigya error code reported for a category (docs/api.md). */
SZ_API int sz_category_code(const char *category);
/* RFC 5849 HMAC-SHA1 "OAuth ..." Authorization value (caller frees), without
 * body parameters (JSON bodies are not signed). NULL on bad input. */
SZ_API char *sz_oauth1_authorization(const char *method, const char *url,
                                     const char *consumer_key, const char *consumer_secret,
                                     const char *token, const char *token_secret,
                                     long long timestamp, const char *nonce);
/* Share-intent URL of one destination (postBookmark): {"ok":true,"url":...}
 * or a failure object. New reference. */
SZ_API struct json_t *sz_bookmark_url(const char *destination, const char *url,
                                      const char *title, const char *description,
                                      const char *image, const char *instance);
SZ_API const char *const *sz_bookmark_names(void);

/* ---- private-network guard (sz_guard.c): pure, no I/O, no allocation ---- */
/* A connection URL checked by sz_url_check: filled by the callee in caller
 * memory; nothing to free. host is lower-case, without brackets and without
 * one trailing dot; family is 4 or 6 for an IP literal (addr then holds its
 * 4 or 16 bytes), 0 for a name. */
typedef struct sz_url_parts {
    int           https;
    int           port;
    int           family;
    int           blocked; /* set with a reason: the URL is well-formed and
                              only its host is a blocked address or localhost */
    unsigned char addr[16];
    char          host[256];
} sz_url_parts;
/* Checks a URL the library will connect to (len bytes, NUL not special):
 * http or https only, no user information, no control byte, space, NUL,
 * backslash or non-ASCII byte, no percent-encoded or non-canonical host, a
 * port in 1-65535, an IPv6 literal without zone id; IP literals in any
 * inet_aton form and names localhost / *.localhost are refused when they
 * name a blocked address. Returns NULL when the URL may be used, else a
 * static English reason (never containing the URL). */
SZ_API const char *sz_url_check(const char *url, size_t len, sz_url_parts *out);
/* 1 when a resolved address must not be connected to: family 4 (a = 4 bytes)
 * or 6 (a = 16 bytes). Blocks 0/8, 127/8, 10/8, 172.16/12, 192.168/16,
 * 169.254/16, 100.64/10, 224/4, 240/4 (with 255.255.255.255), ::, ::1,
 * fc00::/7, fe80::/10, fec0::/10, ff00::/8, and the IPv4-mapped (::ffff:0:0/96),
 * IPv4-compatible (::/96), SIIT (::ffff:0:0:0/96), NAT64 (64:ff9b::/96,
 * 64:ff9b:1::/48) and 6to4 (2002::/16) forms of the IPv4 ranges. Any other
 * family is blocked. */
SZ_API int sz_addr_blocked(int family, const unsigned char *a);
/* Parses a dotted-decimal IPv4 or RFC 4291 IPv6 literal (brackets allowed,
 * zone ids refused) of n bytes into out; returns 4, 6, or 0 when s is not one. */
SZ_API int sz_ip_parse(const char *s, size_t n, unsigned char out[16]);

#ifdef __cplusplus
}
#endif
#endif /* SOCIALIZE_H */
