/* The helpers every network file may use (sz_netkit.h): categories and
 * their Gigya codes, JSON and text helpers, request builders, reply
 * classification and reset-time parsing. Sans-IO. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "sz_netkit.h"

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

/* 0 for NULL or a name that is not a category (socialize.h): never a
 * silent "Provider error". */
int sz_category_code(const char *cat)
{
    int i;
    for (i = 0; cat && CATS[i].name; i++)
        if (strcmp(CATS[i].name, cat) == 0)
            return CATS[i].gigya;
    return 0;
}

const char *lookup(const code_cat *t, long code)
{
    for (; t->cat; t++)
        if (code >= t->lo && code <= t->hi)
            return t->cat;
    return NULL;
}

const char *by_status(int status)
{
    if (status == 401) return "auth_expired";
    if (status == 403) return "permission_missing";
    if (status == 429) return "rate_limited";
    if (status == 402) return "quota_exhausted"; /* Payment Required: paid credits spent */
    if (status == 400 || status == 413 || status == 422) return "content_invalid";
    return "transient"; /* 5xx, 408, no reply (0) and any other status */
}

const char *jstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (json_is_string(v))
        return json_string_value(v);
    return NULL;
}

long long jint(json_t *o, const char *k, long long lo, long long hi, long long dflt)
{
    json_t *v = json_object_get(o, k);
    if (json_is_integer(v) && json_integer_value(v) >= lo && json_integer_value(v) <= hi)
        return (long long)json_integer_value(v);
    return dflt;
}

/* A string field, or a number rendered as a string, into buf. */
const char *jid(json_t *o, const char *k, char *buf, size_t n)
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

json_t *fail(const char *cat, const char *details, ...)
{
    char msg[512];
    va_list ap;
    json_t *r = json_object();
    int code = sz_category_code(cat);
    json_t *d;
    size_t i;
    va_start(ap, details);
    vsnprintf(msg, sizeof msg, details, ap);
    va_end(ap);
    /* a caller's or a network's value quoted in the message never brings a
     * line break or another control character along (logs, headers) */
    for (i = 0; msg[i]; i++)
        if ((unsigned char)msg[i] < 0x20 || msg[i] == 0x7f)
            msg[i] = '?';
    d = json_string(msg);
    if (!d) { /* not UTF-8 (a value's bytes, or a character cut at 511 bytes) */
        for (i = 0; msg[i]; i++)
            if ((unsigned char)msg[i] >= 0x80)
                msg[i] = '?';
        d = json_string(msg);
    }
    json_object_set_new(r, "ok", json_false());
    json_object_set_new(r, "category", json_string(cat));
    json_object_set_new(r, "errorCode", json_integer(code));
    json_object_set_new(r, "errorMessage", json_string(sz_gigya_message(code)));
    json_object_set_new(r, "errorDetails", d);
    return r;
}

json_t *success(const char *post_id)
{
    json_t *r = json_object();
    json_object_set_new(r, "ok", json_true());
    json_object_set_new(r, "errorCode", json_integer(0));
    json_object_set_new(r, "errorMessage", json_string("OK"));
    if (post_id)
        json_object_set_new(r, "postID", json_string(post_id));
    return r;
}

void hex(const unsigned char *d, size_t n, char *out)
{
    static const char H[] = "0123456789abcdef";
    size_t i;
    for (i = 0; i < n; i++) {
        out[2 * i] = H[d[i] >> 4];
        out[2 * i + 1] = H[d[i] & 15];
    }
    out[2 * n] = '\0';
}

/* A jansson tree into the core's one JSON writer (sz_json.c): object keys
 * in the writer's byte order. Returns SZ_OK or the writer's failure. */
typedef struct tkey {
    const char *k;
    size_t      n;
    json_t     *v;
} tkey;

static int tkey_cmp(const void *a, const void *b)
{
    const tkey *x = a, *y = b;
    return sz_json_key_cmp(x->k, x->n, y->k, y->n);
}

static sz_status write_tree(sz_json_writer *w, json_t *j)
{
    size_t i, n;
    sz_status rc;
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        tkey *keys;
        void *it;
        n = json_object_size(j);
        keys = n ? malloc(n * sizeof *keys) : NULL;
        if (n && !keys)
            return SZ_ENOMEM;
        for (i = 0, it = json_object_iter(j); it && i < n; it = json_object_iter_next(j, it), i++) {
            keys[i].k = json_object_iter_key(it);
#if JANSSON_VERSION_HEX >= 0x020e00
            keys[i].n = json_object_iter_key_len(it);
#else
            keys[i].n = strlen(keys[i].k);
#endif
            keys[i].v = json_object_iter_value(it);
        }
        if (i > 1)
            qsort(keys, i, sizeof *keys, tkey_cmp);
        rc = sz_json_begin_object(w);
        for (n = i, i = 0; i < n && !rc; i++)
            if (!(rc = sz_json_key(w, keys[i].k, keys[i].n)))
                rc = write_tree(w, keys[i].v);
        free(keys);
        return rc ? rc : sz_json_end_object(w);
    }
    case JSON_ARRAY:
        rc = sz_json_begin_array(w);
        for (i = 0, n = json_array_size(j); i < n && !rc; i++)
            rc = write_tree(w, json_array_get(j, i));
        return rc ? rc : sz_json_end_array(w);
    case JSON_STRING:
        return sz_json_string(w, json_string_value(j), json_string_length(j));
    case JSON_INTEGER:
        return sz_json_integer(w, (long long)json_integer_value(j));
    case JSON_REAL:
        return sz_json_number(w, json_real_value(j));
    case JSON_TRUE:
        return sz_json_bool(w, 1);
    case JSON_FALSE:
        return sz_json_bool(w, 0);
    default:
        return sz_json_null(w);
    }
}

/* j as JSON text (sorted keys, compact, raw UTF-8), written by the core's
 * one JSON writer. Caller frees; NULL when it cannot be written. */
static char *dump_json(json_t *j, size_t *len)
{
    sz_json_writer *w = sz_json_writer_new_max(4096); /* any tree jansson parsed (2048 deep) */
    const char *t;
    size_t n = 0;
    char *out = NULL;
    if (w && j && write_tree(w, j) == 0 && (t = sz_json_writer_text(w, &n, NULL)) != NULL)
        out = sz_strndup(t, n);
    sz_json_writer_free(w);
    if (out && len)
        *len = n;
    return out;
}

/* Canonical JSON (sorted keys, compact, raw UTF-8). Caller frees. */
char *canon(json_t *j)
{
    return dump_json(j, NULL);
}

/* Hex digest of parts joined by '\n' (deterministic idempotency keys). */
void digest_hex(const char *a, const char *b, char out[65])
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

int pset(sz_params *p, const char *k, const char *v)
{
    return v ? sz_params_set(p, k, strlen(k), v, strlen(v)) : 0;
}

char *base_url(const net *nt, json_t *app, json_t *user, const char *user_key)
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

const char *version(const net *nt, json_t *app)
{
    const char *v = jstr(app, "version");
    return v ? v : nt->version;
}

int url_ok(const char *u)
{
    if (strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0)
        return 0;
    return !u[sz_ctl_span(u, strlen(u), SZ_CTL_SPACE)];
}

sz_request *req_json(const char *method, const char *url, json_t *body)
{
    sz_request *r = sz_request_new(method, url);
    char *b;
    size_t n = 0;
    if (!r)
        return NULL;
    b = dump_json(body, &n);
    if (!b || sz_request_set_body(r, b, n) ||
        sz_request_add_header(r, "Content-Type", "application/json")) {
        sz_request_free(r);
        return NULL;
    }
    return r;
}

sz_request *req_form(const char *method, const char *url, sz_params *p)
{
    sz_request *r = sz_request_new(method, url);
    size_t n;
    char *b;
    if (!r)
        return NULL;
    b = sz_params_query(p, &n);
    if (!b || sz_request_set_body(r, b, n) ||
        sz_request_add_header(r, "Content-Type", "application/x-www-form-urlencoded")) {
        sz_request_free(r);
        return NULL;
    }
    return r;
}

/* ---- OAuth 1.0a (RFC 5849) ------------------------------------------------ */

#define O1_MAX_PARAMS 128

/* One parameter, both halves already percent-encoded (RFC 5849 3.6). */
typedef struct o1_pair {
    char *k, *v;
} o1_pair;

static int o1_cmp(const void *a, const void *b)
{
    const o1_pair *x = a, *y = b;
    int c = strcmp(x->k, y->k);
    return c ? c : strcmp(x->v, y->v);
}

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* s[0..n) form-decoded ('+' is a space, %XX a byte; a broken escape stays as
 * it is), then percent-encoded as RFC 5849 3.6 says. */
static char *o1_reencode(const char *s, size_t n)
{
    sz_buf d, e;
    size_t i;
    char *out;
    int failed;
    sz_buf_init(&d);
    sz_buf_init(&e);
    sz_buf_reserve(&d, n);
    for (i = 0; i < n; i++) {
        if (s[i] == '+')
            sz_buf_addc(&d, ' ');
        else if (s[i] == '%' && i + 2 < n && hexval((unsigned char)s[i + 1]) >= 0 &&
                 hexval((unsigned char)s[i + 2]) >= 0) {
            sz_buf_addc(&d, (char)(hexval((unsigned char)s[i + 1]) * 16 + hexval((unsigned char)s[i + 2])));
            i += 2;
        } else
            sz_buf_addc(&d, s[i]);
    }
    failed = d.failed;
    if (!failed)
        sz_url_encode_buf(&e, d.data ? d.data : "", d.len);
    sz_buf_reset(&d);
    out = failed || e.failed ? NULL : sz_buf_finish(&e, NULL);
    if (!out)
        sz_buf_reset(&e);
    return out;
}

static int o1_add(o1_pair *ps, size_t *n, const char *k, size_t kl, const char *v, size_t vl)
{
    if (*n >= O1_MAX_PARAMS)
        return -2;
    ps[*n].k = o1_reencode(k, kl);
    ps[*n].v = o1_reencode(v, vl);
    if (!ps[*n].k || !ps[*n].v) {
        sz_free_str(ps[*n].k);
        sz_free_str(ps[*n].v);
        return -1;
    }
    (*n)++;
    return 0;
}

/* The signature base string (RFC 5849 3.4.1): the method, the base string
 * URI, and the parameters: the oauth_* ones and the URL's query
 * (3.4.1.3.1), each name and value encoded, sorted by name then value. A
 * request body is never a parameter here (the bodies sent are JSON or
 * multipart). NULL with err set. */
static char *o1_base(const char *method, const char *url, const char *const *kv, size_t nkv, size_t *blen,
                     sz_error *err)
{
    o1_pair ps[O1_MAX_PARAMS];
    size_t n = 0, i;
    int rc = 0;
    char *norm = sz_normalize_url(url, err), *out = NULL;
    const char *q, *qe;
    sz_buf pstr, b;
    if (!norm)
        return NULL;
    for (i = 0; rc == 0 && i + 1 < nkv; i += 2)
        rc = o1_add(ps, &n, kv[i], strlen(kv[i]), kv[i + 1], strlen(kv[i + 1]));
    q = strchr(url, '?');
    qe = q ? q + strcspn(q, "#") : NULL;
    if (q) {
        while (rc == 0 && q < qe) {
            const char *part = q + 1, *end = part, *eq;
            while (end < qe && *end != '&')
                end++;
            if (end > part) {
                eq = memchr(part, '=', (size_t)(end - part));
                rc = eq ? o1_add(ps, &n, part, (size_t)(eq - part), eq + 1, (size_t)(end - eq - 1))
                        : o1_add(ps, &n, part, (size_t)(end - part), "", 0);
            }
            q = end;
        }
    }
    sz_buf_init(&pstr);
    sz_buf_init(&b);
    if (rc == 0) {
        qsort(ps, n, sizeof *ps, o1_cmp);
        for (i = 0; i < n; i++)
            sz_buf_printf(&pstr, "%s%s=%s", i ? "&" : "", ps[i].k, ps[i].v);
        for (i = 0; method[i]; i++)
            sz_buf_addc(&b, (char)toupper((unsigned char)method[i]));
        sz_buf_addc(&b, '&');
        sz_url_encode_buf(&b, norm, strlen(norm));
        sz_buf_addc(&b, '&');
        if (!pstr.failed)
            sz_url_encode_buf(&b, pstr.data ? pstr.data : "", pstr.len);
        if (!pstr.failed)
            out = sz_buf_finish(&b, blen);
    }
    if (rc == -2)
        sz_seterr(err, SZ_EINVALID, "Invalid parameter value: url has more than %d query parameters", O1_MAX_PARAMS);
    else if (!out)
        sz_seterr(err, SZ_ENOMEM, "out of memory");
    for (i = 0; i < n; i++) { /* the token among them: wiped */
        sz_free_str(ps[i].k);
        sz_free_str(ps[i].v);
    }
    if (!out)
        sz_buf_reset(&b);
    sz_buf_reset(&pstr);
    free(norm);
    return out;
}

/* OAuth 1.0a (RFC 5849) HMAC-SHA1 Authorization header; the URL's query
 * parameters are signed, the body (JSON, multipart) is not. tk NULL: no
 * oauth_token (a request-token call); xk/xv: one more oauth_* parameter
 * (oauth_callback, oauth_verifier) signed and sent in the header, or NULL. */
char *oauth1_header_x(const char *method, const char *url, const char *ck, const char *cs, const char *tk,
                      const char *ts_secret, long long ts, const char *nonce, const char *xk, const char *xv,
                      sz_error *err)
{
    char tsb[32], *base = NULL, *out = NULL;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mlen = 0;
    sz_buf key, h, sig;
    size_t blen, i, n = 0;
    const char *kv[20];
    int xfirst = xk && strcmp(xk, "oauth_consumer_key") < 0;
    sz_buf_init(&key);
    sz_buf_init(&h);
    sz_buf_init(&sig);
    snprintf(tsb, sizeof tsb, "%lld", ts);
    if (!method || !*method) {
        sz_seterr(err, SZ_EMISSING, "Missing required parameter: httpMethod");
        return NULL;
    }
    if (xk && xfirst)
        kv[n++] = xk, kv[n++] = xv ? xv : "";
    kv[n++] = "oauth_consumer_key", kv[n++] = ck, kv[n++] = "oauth_nonce", kv[n++] = nonce;
    kv[n++] = "oauth_signature", kv[n++] = ""; /* set below; not signed */
    kv[n++] = "oauth_signature_method", kv[n++] = "HMAC-SHA1", kv[n++] = "oauth_timestamp", kv[n++] = tsb;
    if (tk)
        kv[n++] = "oauth_token", kv[n++] = tk;
    kv[n++] = "oauth_version", kv[n++] = "1.0";
    if (xk && !xfirst) { /* in name order among the others */
        size_t at = n;
        while (at >= 2 && strcmp(kv[at - 2], xk) > 0)
            at -= 2;
        memmove(kv + at + 2, kv + at, (n - at) * sizeof *kv);
        kv[at] = xk, kv[at + 1] = xv ? xv : "";
        n += 2;
    }
    {
        const char *sk[20];
        size_t m = 0;
        for (i = 0; i < n; i += 2)
            if (strcmp(kv[i], "oauth_signature") != 0)
                sk[m++] = kv[i], sk[m++] = kv[i + 1];
        base = o1_base(method, url, sk, m, &blen, err); /* a bad url: SZ_EINVALID */
    }
    if (!base)
        goto done;
    /* the key, URL-encoded secrets included, only ever in this buffer
     * (zeroed by sz_buf_reset) */
    sz_buf_reserve(&key, 3 * (strlen(cs) + strlen(ts_secret)) + 1);
    sz_url_encode_buf(&key, cs, strlen(cs));
    sz_buf_addc(&key, '&');
    sz_url_encode_buf(&key, ts_secret, strlen(ts_secret));
    if (key.failed)
        goto oom;
    if (!HMAC(EVP_sha1(), key.data, (int)key.len, (unsigned char *)base, blen, mac, &mlen)) {
        sz_seterr(err, SZ_ECRYPTO, "HMAC-SHA1 failed");
        goto done;
    }
    sz_base64_encode_buf(&sig, mac, mlen, 0);
    sz_buf_addc(&sig, '\0');
    if (sig.failed)
        goto oom;
    /* the header: the oauth_* parameters in name order */
    sz_buf_adds(&h, "OAuth ");
    for (i = 0; i < n; i += 2) {
        const char *v = strcmp(kv[i], "oauth_signature") == 0 ? sig.data : kv[i + 1];
        if (i)
            sz_buf_adds(&h, ", ");
        sz_buf_adds(&h, kv[i]);
        sz_buf_adds(&h, "=\"");
        sz_url_encode_buf(&h, v, strlen(v));
        sz_buf_addc(&h, '"');
    }
    out = sz_buf_finish(&h, NULL);
    if (out)
        goto done;
oom:
    sz_seterr(err, SZ_ENOMEM, "out of memory");
done:
    sz_buf_reset(&key);
    sz_buf_reset(&h);
    sz_buf_reset(&sig);
    sz_free_str(base);
    return out;
}

char *oauth1_header(const char *method, const char *url, const char *ck, const char *cs,
                    const char *tk, const char *ts_secret, long long ts, const char *nonce, sz_error *err)
{
    return oauth1_header_x(method, url, ck, cs, tk, ts_secret, ts, nonce, NULL, NULL, err);
}

char *sz_oauth1_authorization(const char *method, const char *url, const char *consumer_key,
                              const char *consumer_secret, const char *token,
                              const char *token_secret, long long timestamp, const char *nonce,
                              sz_error *err)
{
    const char *args[] = {method, url, consumer_key, consumer_secret, token, token_secret, nonce};
    static const char *const names[] = {"method", "url", "consumerKey", "consumerSecret", "token",
                                        "tokenSecret", "nonce"};
    size_t i;
    sz_clearerr(err);
    for (i = 0; i < sizeof args / sizeof *args; i++)
        if (!args[i]) {
            sz_seterr(err, SZ_EMISSING, "Missing required parameter: %s", names[i]);
            return NULL;
        }
    return oauth1_header(method, url, consumer_key, consumer_secret, token, token_secret, timestamp,
                         nonce, err);
}

const char *header(const sz_header *h, size_t n, const char *name)
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

/* The core's one civil-date arithmetic: days since 1970-01-01 <-> a
 * proleptic Gregorian date (H. Hinnant's days_from_civil / civil_from_days). */
static long long days_from_civil(long long y, long long m, long long d)
{
    long long era, yoe, doy, doe, mp;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    mp = m > 2 ? m - 3 : m + 9;
    doy = (153 * mp + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(long long days, long long *y, long long *m, long long *d)
{
    long long z = days + 719468, era, doe, yoe, doy, mp;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yoe + era * 400 + (*m <= 2);
}

/* "YYYY-MM-DDTHH:MM:SS" (then anything: fraction, zone, taken as UTC) with
 * every field in range; -1 otherwise. */
long long parse_iso8601(const char *s)
{
    int y, mo, d, hh, mm, ss;
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
    return days_from_civil(y, mo, d) * 86400 + hh * 3600 + mm * 60 + ss;
}

/* An RFC 7231 IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"; the day may
 * have one digit, the names any case) in Unix seconds; -1 otherwise. */
long long sz_parse_http_date(const char *s, size_t len)
{
    static const char MONTHS[] = "janfebmaraprmayjunjulaugsepoctnovdec";
    size_t i = 0, k;
    int d, mo = 0, y, hh, mm, ss;
    char mon[4];
    if (!s)
        return -1;
    while (i < len && isalpha((unsigned char)s[i]))
        i++;
    if (i == 0 || len - i < 2 || s[i] != ',' || s[i + 1] != ' ')
        return -1;
    i += 2;
    k = i;
    while (i < len && i - k < 3 && isdigit((unsigned char)s[i]))
        i++;
    if (i - k < 1 || i - k > 2)
        return -1;
    d = digits(s + k, (int)(i - k));
    /* " Mon YYYY HH:MM:SS GMT" */
    if (len - i != 22 || s[i] != ' ' || s[i + 4] != ' ' || s[i + 9] != ' ' || s[i + 12] != ':' ||
        s[i + 15] != ':' || memcmp(s + i + 18, " GMT", 4) != 0)
        return -1;
    for (k = 0; k < 3; k++)
        mon[k] = (char)tolower((unsigned char)s[i + 1 + k]);
    mon[3] = '\0';
    for (k = 0; k + 3 <= sizeof MONTHS - 1; k += 3)
        if (memcmp(MONTHS + k, mon, 3) == 0)
            mo = (int)(k / 3) + 1;
    y = digits(s + i + 5, 4);
    hh = digits(s + i + 10, 2);
    mm = digits(s + i + 13, 2);
    ss = digits(s + i + 16, 2);
    if (!mo || y < 0 || d < 1 || d > 31 || hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 60)
        return -1;
    return days_from_civil(y, mo, d) * 86400 + hh * 3600 + mm * 60 + ss;
}

/* Unix seconds -> "YYYY-MM-DDTHH:MM:SS.000Z". */
void format_iso8601(long long t, char out[64])
{
    long long days = t / 86400, secs = t % 86400, y, m, d;
    if (secs < 0) {
        secs += 86400;
        days--;
    }
    civil_from_days(days, &y, &m, &d);
    snprintf(out, 64, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.000Z", y, m, d, secs / 3600,
             secs / 60 % 60, secs % 60);
}

void set_retry(json_t *r, long long seconds)
{
    if (seconds < 0)
        seconds = 0;
    if (seconds > SZ_MAX_RETRY_AFTER)
        seconds = SZ_MAX_RETRY_AFTER;
    json_object_set_new(r, "retryAfter", json_integer(seconds));
}

/* Whose limit it is: the app's (all users wait) or this account's. */
void set_scope(json_t *r, const char *scope)
{
    if (strcmp(json_string_value(json_object_get(r, "category")), "rate_limited") == 0 ||
        strcmp(json_string_value(json_object_get(r, "category")), "quota_exhausted") == 0)
        json_object_set_new(r, "scope", json_string(scope));
}

void details_add(json_t *r, int status, const char *code, const char *msg)
{
    char d[512];
    snprintf(d, sizeof d, "HTTP %d%s%s: %.400s", status, code ? ", code " : "", code ? code : "",
             msg ? msg : "");
    json_object_set_new(r, "errorDetails", json_string(d));
    json_object_set_new(r, "providerStatus", json_integer(status));
    if (code)
        json_object_set_new(r, "providerCode", json_string(code));
}

json_t *classify(const char *cat, int status, const char *code, const char *msg)
{
    json_t *r = fail(cat, "%s", "");
    details_add(r, status, code, msg);
    return r;
}

/* Meta's Graph API error object (Facebook, Threads): the code as "code" or
 * "code/subcode", classified as cat (else by status), scope app for code 4
 * (the app's own rate limit), the fbtrace_id as traceId. */
json_t *graph_error(int status, json_t *e, const char *cat)
{
    long ec = (long)json_integer_value(json_object_get(e, "code")),
         sub = (long)json_integer_value(json_object_get(e, "error_subcode"));
    char code[48];
    json_t *r;
    snprintf(code, sizeof code, sub ? "%ld/%ld" : "%ld", ec, sub);
    r = classify(cat ? cat : by_status(status), status, e ? code : NULL, jstr(e, "message"));
    set_scope(r, ec == 4 ? "app" : "account");
    if (jstr(e, "fbtrace_id"))
        json_object_set_new(r, "traceId", json_string(jstr(e, "fbtrace_id")));
    return r;
}
