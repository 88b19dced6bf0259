/* Internal helpers shared by the core and the Lua binding. Not installed. */
#ifndef SZ_INTERNAL_H
#define SZ_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include "socialize.h"

#if defined(__GNUC__)
#define SZ_HIDDEN __attribute__((visibility("hidden")))
#define SZ_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define SZ_HIDDEN
#define SZ_PRINTF(a, b)
#endif

/* Growable byte buffer. `failed` is sticky: after an allocation failure
 * every append is a no-op, so callers check once at the end. Any buffer may
 * hold a credential: growing moves the data and zeroes the old copy, and
 * sz_buf_reset zeroes before it frees. */
typedef struct sz_buf {
    char  *data;
    size_t len;
    size_t cap;
    int    failed;
} sz_buf;

SZ_HIDDEN void  sz_buf_init(sz_buf *b);
SZ_HIDDEN void  sz_buf_reset(sz_buf *b);              /* frees */
SZ_HIDDEN int   sz_buf_reserve(sz_buf *b, size_t extra);
SZ_HIDDEN void  sz_buf_add(sz_buf *b, const void *p, size_t n);
SZ_HIDDEN void  sz_buf_adds(sz_buf *b, const char *s);
SZ_HIDDEN void  sz_buf_addc(sz_buf *b, char c);
SZ_HIDDEN void  sz_buf_printf(sz_buf *b, const char *fmt, ...) SZ_PRINTF(2, 3);
/* Returns the NUL-terminated data, transferring ownership; NULL if failed. */
SZ_HIDDEN char *sz_buf_finish(sz_buf *b, size_t *out_len);

SZ_HIDDEN void sz_url_encode_buf(sz_buf *b, const char *s, size_t len);
SZ_HIDDEN void sz_base64_encode_buf(sz_buf *b, const unsigned char *d, size_t n, int url);
/* sz_json.c, the escaper and number formatter of sz_json_writer: a JSON
 * string literal with quotes; escapes " \ and control characters only,
 * UTF-8 and '/' are written as they are. */
SZ_HIDDEN void sz_json_string_buf(sz_buf *b, const char *s, size_t len);
/* 1 when json is certainly a UserAction object the full check accepts (it
 * decodes with duplicates refused, and has the documented shape; data in a
 * media item only with allow_data); 0: not sure, run the full check. */
SZ_HIDDEN int sz_user_action_plain(const char *json, size_t len, int allow_data);
/* sz_request.c: sz_request_build that takes params over (freed, whatever happens) */
SZ_HIDDEN sz_request *sz_request_build_owned(const sz_request_opts *o, sz_params *params, sz_error *err);
/* sz_encode.c: 1 for a byte RFC 3986 percent-encoding keeps (A-Z a-z 0-9 - _ . ~) */
SZ_HIDDEN extern const unsigned char sz_url_keep[256];
/* Shortest decimal that reads back as the same double; integral values in
 * the int64 range are written without a fraction. Returns -1 for NaN/inf. */
SZ_HIDDEN int  sz_number_buf(sz_buf *b, double v);
/* A writer that takes up to max_depth open levels (sz_json_writer_new:
 * SZ_JSON_MAX_DEPTH), for trees the core parsed itself (jansson allows 2048). */
SZ_HIDDEN sz_json_writer *sz_json_writer_new_max(int max_depth);
/* The order sz_json_key wants keys in: memcmp, a prefix before the longer
 * key (<0, 0, >0), for the callers that sort an object's keys first. */
SZ_HIDDEN int  sz_json_key_cmp(const char *a, size_t an, const char *b, size_t bn);

/* The reason phrase of an HTTP status ("Not Found"): "OK" for any other
 * 2xx, else "Error". The one table of the library (sz_response.c; the Lua
 * front reads it as core.http_reason). Static storage. */
SZ_HIDDEN const char *sz_http_reason(int status);
/* An RFC 7231 IMF-fixdate (an HTTP Date header) in Unix seconds; -1 when s[0..len)
 * is not one. The core's one civil-date arithmetic (sz_netkit.c). */
SZ_HIDDEN long long sz_parse_http_date(const char *s, size_t len);

/* Fills err (when not NULL): the status, the Gigya code it maps to, the
 * message. sz_clearerr: SZ_OK, code 0, empty message. */
SZ_HIDDEN void sz_seterr(sz_error *err, sz_status status, const char *fmt, ...) SZ_PRINTF(3, 4);
SZ_HIDDEN void sz_clearerr(sz_error *err);
SZ_HIDDEN char *sz_strndup(const char *s, size_t n);

/* The wiping policy (socialize.h "Credentials in memory"): sz_wipe zeroes n
 * bytes in a way the compiler keeps; sz_free_wiped zeroes then frees (NULL
 * is a no-op); sz_free_str does it for a NUL-terminated string. */
SZ_HIDDEN void sz_wipe(void *p, size_t n);
SZ_HIDDEN void sz_free_wiped(void *p, size_t n);
SZ_HIDDEN void sz_free_str(char *s);
/* url with p as its query, after '?' (or '&' when url has one already; nothing
 * when p is empty): a NEW string, its length in *out_len (optional); the
 * query's own copy is wiped. NULL: out of memory. */
struct sz_params;
SZ_HIDDEN char *sz_url_with_query(const char *url, const struct sz_params *p, size_t *out_len);

/* Saturating arithmetic (docs/RELIABILITY.md "Numbers from a network"):
 * results are clamped to [LLONG_MIN, LLONG_MAX] instead of overflowing. */
SZ_HIDDEN long long sz_sat_add(long long a, long long b);
SZ_HIDDEN long long sz_sat_sub(long long a, long long b);
SZ_HIDDEN long long sz_sat_mul(long long a, long long b);
/* A double to long long: NaN -> 0, fraction dropped, +-inf and out-of-range
 * values clamped. */
SZ_HIDDEN long long sz_sat_from_double(double d);
/* Strict unsigned decimal header value: optional spaces/tabs around one or
 * more digits, nothing else (no sign, no fraction, no exponent). The value
 * saturates at LLONG_MAX. Returns 0, or -1 when s is not such a number. */
SZ_HIDDEN int sz_parse_uint(const char *s, long long *out);
/* Control bytes (C0 and DEL): the one test behind the checks of URLs,
 * tokens, header values and messages shown to people. `also` adds the
 * space (SZ_CTL_SPACE) and/or the bytes >= 0x80 (SZ_CTL_8BIT). */
#define SZ_CTL_SPACE 1
#define SZ_CTL_8BIT  2
/* A macro, so that the guard (compiled alone into the transport too) holds
 * no symbol of it; c (an unsigned char) is read more than once. */
#define sz_ctl_byte(c, also)                                                   \
    ((c) < 0x20 || (c) == 0x7f || ((c) == ' ' && ((also) & SZ_CTL_SPACE)) ||   \
     ((c) >= 0x80 && ((also) & SZ_CTL_8BIT)))
/* The index of the first of the n bytes at s that sz_ctl_byte refuses, or n. */
static inline size_t sz_ctl_span(const char *s, size_t n, int also)
{
    size_t i = 0;
    while (i < n && !sz_ctl_byte((unsigned char)s[i], also))
        i++;
    return i;
}
/* 1 when the n bytes hold a NUL byte. */
#define sz_has_nul(s, n) (memchr((s), 0, (n)) != NULL)

/* test_core only: every core allocation goes through a counter that can fail
 * the k-th call (csrc/test/test_hard.c test_alloc_failures), and every free
 * through a check that the block holds no marked secret (test_wiping). */
#ifdef SZ_TEST_FAIL_ALLOC
#include <stdlib.h>
void *sz_test_malloc(size_t n);
void *sz_test_calloc(size_t n, size_t m);
void *sz_test_realloc(void *p, size_t n);
void sz_test_free(void *p);
#define malloc(n) sz_test_malloc(n)
#define calloc(n, m) sz_test_calloc(n, m)
#define realloc(p, n) sz_test_realloc(p, n)
#define free(p) sz_test_free(p)
/* code points read by the URL finder's label scans (sz_text.c): linear work */
extern unsigned long long sz_test_label_steps;
#endif

/* HMAC-SHA1 of msg with the Base64-decoded secret, as Base64 into out[29].
 * Returns 0, or -1 with err filled (400006 secret). */
SZ_HIDDEN int sz_hmac_sha1_b64(const char *secret_b64, const char *msg, size_t len,
                               char out[29], sz_error *err);

/* Generic requests, for the provider adapters. The body is taken over. */
SZ_HIDDEN sz_request *sz_request_new(const char *method, const char *url);
SZ_HIDDEN int sz_request_set_body(sz_request *r, char *body, size_t len);
SZ_HIDDEN int sz_request_add_header(sz_request *r, const char *name, const char *value);
/* The text the request carries was cut to fit the network's limit (a
 * publish's result says `truncated`). */
SZ_HIDDEN void sz_request_set_truncated(sz_request *r);
SZ_HIDDEN int sz_request_truncated(const sz_request *r);

#endif
