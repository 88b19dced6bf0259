/*
 * socialize.h - the sans-IO C core of socialize.
 *
 * The core builds and signs Gigya (SAP Customer Data Cloud) REST requests and
 * parses their replies, and builds the requests of the social networks'
 * own APIs (direct delivery) and classifies their replies. It never opens a
 * socket, never reads the clock on its own (timestamps and nonces are
 * inputs) and keeps no mutable global state: every function is safe to call
 * from several threads at once as long as no handle is shared between
 * threads without a lock. This header needs only the C standard library:
 * no third-party type appears in it (JSON goes in and out as text).
 *
 * Link with `pkg-config --cflags --libs socialize` (libsocialize.so.0 or,
 * with --static, libsocialize.a).
 *
 * Conventions
 *   - Every exported name starts with sz_ / SZ_.
 *   - Strings are byte strings with an explicit length where they may hold
 *     NUL; otherwise NUL-terminated UTF-8. A pointer given with a length
 *     must point at that many bytes: NULL goes only with length 0 (as for
 *     memcpy; sz_provider_parse answers SZ_EINVALID, sz_provider_call's
 *     texts read NULL as {}).
 *   - A function returning `char *` returns a NEW string that the caller owns
 *     and releases with sz_free().
 *   - Failures. A function that takes an `sz_error *err` (may be NULL)
 *     returns NULL (or -1) on failure and writes why into *err: a status
 *     (sz_status: what kind of failure, for programs), the Gigya error code
 *     it maps to (what the Gigya protocol says, for replies), and a message
 *     naming the parameter at fault (for people; never a secret). A function
 *     without `err` returns NULL only when memory runs out, unless its
 *     comment says otherwise (sz_params_get: absent key).
 *   - Handles (sz_params, sz_request, sz_response, sz_result) are opaque.
 *     Each has a free function; *_free(NULL) is a no-op.
 *   - The core never keeps a pointer into caller memory after a call returns:
 *     every input is copied.
 *
 * Credentials in memory (the wiping policy)
 *   Every buffer the core allocates that may hold a credential or a value
 *   derived from one is zeroed before it is freed: parameter sets, requests
 *   (URL, body, headers, base string), the scratch buffers of signing
 *   (decoded secrets, OAuth 1.0a keys with the URL-encoded consumer and
 *   token secrets, Authorization values, JWTs), the JSON trees the core
 *   parses or builds (their string values), responses and results. A
 *   growing buffer is moved, and the old copy zeroed, never left behind by
 *   realloc. Outside this promise: the strings the core returns to you (they
 *   are yours: zero them before sz_free if they matter: sz_sign's
 *   signature is not secret, sz_oauth1_authorization's value carries the
 *   token), your own copies of the inputs, and the copies jansson and
 *   OpenSSL make inside their own code while parsing, serialising or
 *   signing (the core cannot reach them).
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

/* ---- errors ---------------------------------------------------------------
 * What went wrong, for programs. Each status maps to one Gigya error code
 * (sz_status_code), except SZ_EREFUSED, whose code is the refusal's. */
typedef enum sz_status {
    SZ_OK = 0,       /* nothing failed                                  (0)      */
    SZ_ENOMEM,       /* memory ran out                                  (500000) */
    SZ_EMISSING,     /* a required parameter is missing                 (400002) */
    SZ_EINVALID,     /* a parameter has a value the core refuses        (400006) */
    SZ_EINSECURE,    /* a secret would be sent over plain http          (403006) */
    SZ_ECRYPTO,      /* OpenSSL failed to sign with a valid key         (500000) */
    SZ_EREFUSED      /* the network will not take this call as given: a
                        classified failure result says why (provider calls) */
} sz_status;

/* Gigya error codes the core produces itself (see sz_gigya_message). 500000
 * is the code of the library's own internal errors (memory, OpenSSL): Gigya's
 * table calls it "General security warning", so print sz_strerror(status),
 * not the Gigya text, for those. */
#define SZ_GIGYA_MISSING_PARAMETER  400002
#define SZ_GIGYA_INVALID_PARAMETER  400006
#define SZ_GIGYA_SECRET_OVER_HTTP   403006
#define SZ_GIGYA_INTERNAL           500000

/* Caller-owned error: the core fills it, never allocates it. */
typedef struct sz_error {
    sz_status status;   /* SZ_OK when nothing failed */
    int  code;          /* the Gigya error code it maps to, 0 when nothing failed */
    char message[256];  /* NUL-terminated, names the parameter at fault */
} sz_error;

/* The text of a status ("Out of memory", "Invalid parameter value"...), or
 * "Unknown status". Static storage. */
SZ_API const char *sz_strerror(sz_status status);
/* The Gigya error code a status maps to (SZ_EREFUSED: 0, the refusal has
 * its own code). */
SZ_API int sz_status_code(sz_status status);
/* Gigya's message for one of its error codes ("Invalid request signature"
 * for 403003), or "Unknown error" when the code is not known. Static. */
SZ_API const char *sz_gigya_message(int code);

/* Version of the library actually linked, e.g. "0.1.0". Static storage. */
SZ_API const char *sz_version(void);

/* Releases memory returned by the core. sz_free(NULL) is a no-op. */
SZ_API void sz_free(void *p);

/* ---- encodings ----------------------------------------------------------
 * sz_url_encode: RFC 3986 percent-encoding of the bytes: A-Z a-z 0-9 - _ . ~
 * are kept, every other byte becomes %XX with upper-case hex. Returns a new
 * string; *out_len (optional) receives its length.
 * sz_base64_encode: standard alphabet with '=' padding.
 * sz_base64_decode: strict standard Base64. Padding may be present (then it
 * must be correct) or absent; any other character, a misplaced '=' or a
 * length of 1 mod 4 is an error (SZ_EINVALID, naming `what`). Returns 0 with
 * a new buffer in *out (caller frees with sz_free) and its length in
 * *out_len, or -1 (SZ_EINVALID, SZ_ENOMEM). */
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
/* Borrowed pointer valid until the next change of p, or NULL when absent
 * (or p or key is NULL). */
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
 * table), and the network adapters' bodies are written by it too. The caller
 * writes one value, call by call; the text is compact:
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
 * Each call returns SZ_OK, or SZ_EINVALID when it is refused (invalid UTF-8,
 * NaN, too deep, keys out of order, a call out of place) or SZ_ENOMEM; the
 * writer then keeps that first failure and refuses every later call until
 * reset. w must not be NULL; free and reset accept NULL. The writer's
 * buffers are zeroed before they are freed (the wiping policy above). */
#define SZ_JSON_MAX_DEPTH 65
typedef struct sz_json_writer sz_json_writer;

SZ_API sz_json_writer *sz_json_writer_new(void);        /* NULL: out of memory */
SZ_API void sz_json_writer_free(sz_json_writer *w);
SZ_API void sz_json_writer_reset(sz_json_writer *w);    /* empty, for the next value */
SZ_API sz_status sz_json_begin_object(sz_json_writer *w);
SZ_API sz_status sz_json_end_object(sz_json_writer *w);
SZ_API sz_status sz_json_begin_array(sz_json_writer *w);
SZ_API sz_status sz_json_end_array(sz_json_writer *w);
SZ_API sz_status sz_json_key(sz_json_writer *w, const char *s, size_t len);
SZ_API sz_status sz_json_string(sz_json_writer *w, const char *s, size_t len);
SZ_API sz_status sz_json_integer(sz_json_writer *w, long long v);
SZ_API sz_status sz_json_number(sz_json_writer *w, double v);
SZ_API sz_status sz_json_bool(sz_json_writer *w, int v);
SZ_API sz_status sz_json_null(sz_json_writer *w);
/* The text of the complete value (borrowed, NUL-terminated, valid until the
 * next call on w), or NULL with err filled: the first failure, or SZ_EINVALID
 * when the value is not complete. */
SZ_API const char *sz_json_writer_text(const sz_json_writer *w, size_t *len, sz_error *err);

/* ---- signing -------------------------------------------------------------
 * sz_normalize_url: lower-case scheme and host, port kept only when not the
 * scheme's default, path as given, query and fragment dropped. Only http
 * and https URLs are accepted (SZ_EMISSING / SZ_EINVALID "url" otherwise).
 * sz_base_string: UPPER(method) & enc(normalized url) & enc(query string).
 * sz_sign: Base64(HMAC-SHA1(Base64Decode(secret_b64), message));
 * SZ_EINVALID "secret" when the secret is not strict Base64 or is empty. */
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

/* Telegram Login Widget data (core.telegram.org/widgets/login#checking-authorization):
 * valid when hash = hex(HMAC-SHA256(SHA256(bot_token), data_check_string)), the
 * data_check_string being every field but hash as "key=value", sorted by key, joined
 * with "\n"; compared in constant time. With max_age >= 0, also auth_date must be at
 * most max_age seconds before now (and at most 60 s after it). A missing hash or
 * auth_date, a repeated field, a key holding '=' or '\n', or more than
 * SZ_TG_MAX_FIELDS fields: invalid. Returns 1 or 0. */
#define SZ_TG_MAX_FIELDS 32
typedef struct sz_kv {
    const char *key;
    size_t key_len;
    const char *value;
    size_t value_len;
} sz_kv;
SZ_API int sz_validate_telegram_login(const sz_kv *fields, size_t n, const char *bot_token,
                                      size_t token_len, long long max_age, long long now);

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

/* Builds the complete HTTP request for one Gigya call. `params` (NULL: no
 * parameters) is not changed; the request holds its own copy with the auth parameters, format,
 * httpStatusCodes and sdk added. Parameters that the auth mode owns (sig,
 * nonce, timestamp, oauth_token, apiKey, userKey, secret) are refused with
 * SZ_EINVALID, as is a format other than json. Returns NULL and fills err
 * on bad input (SZ_EMISSING / SZ_EINVALID naming the parameter,
 * SZ_EINSECURE for a secret over http, SZ_ECRYPTO when OpenSSL cannot sign
 * with a valid key) or SZ_ENOMEM. The result is freed with sz_request_free. */
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
 * read from it. A 2xx reply that is not a JSON object yields a local error
 * 500000 "Invalid response"; an HTTP status outside 2xx without an errorCode
 * (an HTML error page, an empty body) yields 500001 "General Server error";
 * both with details naming the HTTP status. The parse itself only fails
 * (NULL) when memory runs out (SZ_ENOMEM). */
typedef struct sz_response sz_response;

SZ_API sz_response *sz_response_parse(const char *body, size_t len, int http_status,
                                      sz_error *err);
SZ_API void         sz_response_free(sz_response *r);
SZ_API int          sz_response_error_code(const sz_response *r);
SZ_API int          sz_response_status_code(const sz_response *r);
/* Borrowed string field of the reply (errorMessage, callId...) or NULL when
 * absent or not a string. Valid until sz_response_free. */
SZ_API const char  *sz_response_string(const sz_response *r, const char *field);
/* The whole reply (field NULL), with the fields the parse added, or one
 * member of it, as compact JSON text: a NEW string (sz_free), its length in
 * *len (optional). NULL with SZ_EMISSING when the field is absent, or
 * SZ_ENOMEM. */
SZ_API char        *sz_response_json(const sz_response *r, const char *field, size_t *len,
                                     sz_error *err);

/* ---- provider adapters (direct delivery) ---------------------------------
 * Each adapter turns one action for one network into that network's HTTP
 * request, and the network's reply into a result (sz_result below).
 * Actions: "publish" (input.userAction, input.userLocation), "status"
 * (input.status), "notify" (input.body, input.subject, input.recipient),
 * "graph" (Facebook: graphPath, method, graphParams), the setup steps
 * "session" (Bluesky createSession) and "instance" (Mastodon limits), the
 * follow-up steps (sz_provider_info's "followUp": Threads "publishContainer")
 * the media steps "upload" and "unmedia" (docs/media.md) and the read-back
 * "recent" (sz_provider_info's "readback"; docs/delivery.md "Reading back");
 * docs/api.md "Direct delivery" lists every field, and "What the core leaves
 * to a C host" what the Lua front does around these calls. */
/* Bytes of one media item (borrowed). */
typedef struct sz_blob {
    const void *data;
    size_t      len;
} sz_blob;

typedef struct sz_provider_call {
    const char *provider;     /* "twitter", "facebook", ... */
    const char *action;
    /* JSON object texts (pointer + length; NULL means {}), parsed by the
     * core: the call's parameters, the app's credentials and overrides, the
     * user's connection (tokens, ids), and the state the network's setup
     * step returned (the "data" of its result: Mastodon instance limits,
     * Bluesky session; NULL when none), never part of input. */
    const char *input;  size_t input_len;
    const char *app;    size_t app_len;
    const char *user;   size_t user_len;
    const char *setup;  size_t setup_len;
    long long   timestamp;    /* Unix seconds (OAuth 1.0a, Bluesky createdAt) */
    const char *nonce;        /* OAuth 1.0a nonce */
    /* Media (docs/media.md): the "upload" and "unmedia" steps'
     * state as a JSON object text ({"item": {...}, "step": {...}}), and the
     * bytes of the media items (blobs[k] is mediaItems[k + 1]; borrowed,
     * never copied whole). Zero them when there are no media. */
    const char *step;   size_t step_len;
    const sz_blob *blobs; size_t nblobs;
} sz_provider_call;

typedef struct sz_header {
    const char *name;         /* any case */
    const char *value;
} sz_header;

/* A provider result: success (a post id, or data) or a classified failure.
 * Opaque; read with the accessors, free with sz_result_free. Every string
 * accessor returns a borrowed pointer valid until sz_result_free, or NULL
 * when the field is absent. */
typedef struct sz_result sz_result;

SZ_API void        sz_result_free(sz_result *r);
/* 1 on success, 0 on failure. */
SZ_API int         sz_result_ok(const sz_result *r);
/* The failure's category: auth_expired, permission_missing, duplicate,
 * rate_limited, quota_exhausted, content_invalid, policy_blocked, transient,
 * unsupported, provider_discontinued or not_connected. NULL on success. */
SZ_API const char *sz_result_category(const sz_result *r);
/* The Gigya error code (sz_category_code of the category; 0 on success). */
SZ_API int         sz_result_code(const sz_result *r);
SZ_API const char *sz_result_message(const sz_result *r);  /* errorMessage */
SZ_API const char *sz_result_details(const sz_result *r);  /* errorDetails */
SZ_API const char *sz_result_provider(const sz_result *r); /* the network */
SZ_API const char *sz_result_post_id(const sz_result *r);  /* postID */
/* Seconds to wait before the next try (rate limits), or -1 when the reply
 * said nothing. Saturated to [0, 31622400]. */
SZ_API long long   sz_result_retry_after(const sz_result *r);
/* Whose limit it is: "app" (every user waits) or "account"; NULL if none. */
SZ_API const char *sz_result_scope(const sz_result *r);
/* The network's own error code ("88", "190/463"...) and HTTP status (0
 * when the failure is local). */
SZ_API const char *sz_result_provider_code(const sz_result *r);
SZ_API int         sz_result_provider_status(const sz_result *r);
/* Any other top-level string field (bookmark "url", "traceId"...). */
SZ_API const char *sz_result_string(const sz_result *r, const char *field);
/* The whole result (field NULL) or one member of it (e.g. "data", the state
 * to pass as the next call's setup) as compact JSON text: a NEW string
 * (sz_free), its length in *len (optional). NULL with SZ_EMISSING when the
 * field is absent, or SZ_ENOMEM. */
SZ_API char       *sz_result_json(const sz_result *r, const char *field, size_t *len,
                                  sz_error *err);

/* Builds the request of one call. The contract:
 *   - returns the request to send (free with sz_request_free), err->status
 *     SZ_OK; or
 *   - returns NULL, and err->status says why (err is then required to know;
 *     refusal may be NULL when the failure object is not wanted):
 *       SZ_EREFUSED  the network will not take this call as given (the
 *                    provider is discontinued, the action unsupported, a
 *                    credential missing, the content refused, a value holds a
 *                    NUL byte...): *refusal receives the classified failure
 *                    (free with sz_result_free), err->code is its code;
 *       SZ_EMISSING / SZ_EINVALID  the call itself is wrong: no or unknown
 *                    provider or action, a JSON text that is not an object;
 *       SZ_ENOMEM    memory ran out.
 *     *refusal is set only with SZ_EREFUSED, NULL otherwise. */
SZ_API sz_request *sz_provider_request(const sz_provider_call *c, sz_result **refusal,
                                       sz_error *err);
/* Classifies a reply; `now` (Unix seconds) turns reset times into
 * retry_after. headers may be NULL when nheaders is 0 (an entry whose name is
 * NULL is skipped); body may be NULL when len is 0 (an empty reply). Returns
 * a new result (success or failure: what the network said), or NULL when the
 * call itself is wrong (as for sz_provider_request: SZ_EMISSING, SZ_EINVALID;
 * also SZ_EINVALID for NULL headers or body with a count) or memory runs out
 * (SZ_ENOMEM). */
SZ_API sz_result *sz_provider_parse(const sz_provider_call *c, int http_status,
                                    const sz_header *headers, size_t nheaders,
                                    const char *body, size_t len, long long now,
                                    sz_error *err);
/* What the front needs to know of one network, from its descriptor, as JSON
 * text (a NEW string; docs/api.md "provider_info"): setup step, secret,
 * account, recipient and guarded URL fields, idempotency, share intent...
 * NULL with SZ_EMISSING (no name), SZ_EINVALID (unknown network) or
 * SZ_ENOMEM. */
SZ_API char *sz_provider_info(const char *name, size_t *len, sz_error *err);
/* NULL-terminated, static: the networks with an adapter. */
SZ_API const char *const *sz_provider_names(void);
/* The Gigya error code reported for a category (docs/api.md), or 0 for
 * NULL or a name that is not a category: 0 is never a failure's code, so a
 * caller can tell a typo from a code. */
SZ_API int sz_category_code(const char *category);
/* RFC 5849 HMAC-SHA1 "OAuth ..." Authorization value (a NEW string), without
 * body parameters (JSON bodies are not signed). NULL with SZ_EMISSING
 * naming the missing argument (every one is required), or SZ_ENOMEM. */
SZ_API char *sz_oauth1_authorization(const char *method, const char *url,
                                     const char *consumer_key, const char *consumer_secret,
                                     const char *token, const char *token_secret,
                                     long long timestamp, const char *nonce, sz_error *err);
/* What a media file really is, by its first bytes (the caller's "type" and
 * a server's Content-Type are not trusted): JPEG, PNG, GIF, WebP, MP4 or
 * QuickTime video, MP3. Static strings; width and height in pixels for
 * images when the header says (0 otherwise). */
typedef struct sz_media_info {
    const char *mime;  /* "image/jpeg", "image/png", "image/gif", "image/webp",
                          "video/mp4", "video/quicktime", "audio/mpeg" */
    const char *kind;  /* "image", "gif", "video", "audio" */
    long        width, height;
} sz_media_info;
/* 0 and *mi filled, or -1 (mi zeroed) when the bytes are none of those
 * (an HTML page, a text, a truncated header). Never reads past len. */
SZ_API int sz_media_sniff(const void *data, size_t len, sz_media_info *mi);

/* Share-intent URL of one destination (postBookmark): a success result
 * with the URL in sz_result_string(r, "url"), or a failure result (unknown
 * or discontinued destination, a url that is not http(s)...). NULL with
 * SZ_EMISSING when destination is NULL, or SZ_ENOMEM. */
SZ_API sz_result *sz_bookmark_url(const char *destination, const char *url,
                                  const char *title, const char *description,
                                  const char *image, const char *instance, sz_error *err);
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
