/* URL normalisation, base string, HMAC-SHA1 signatures and validators. */
/* HMAC-SHA1 is computed over OpenSSL's SHA1_* functions (deprecated in 3.0,
 * still in every 3.x): the one-shot HMAC() of 3.0 fetches the MAC, the
 * digest and their parameters by name on every call, about as much work as
 * hashing a whole request (docs/PERFORMANCE.md). */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/sha.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/crypto.h>
#include "sz_internal.h"

char *sz_normalize_url(const char *url, sz_error *err)
{
    const char *p, *host, *hend, *port = NULL, *pend, *path, *q;
    int https;
    size_t i, portlen = 0;
    sz_buf b;
    if (!url || !*url) {
        sz_seterr(err, SZ_EMISSING, "Missing required parameter: url");
        return NULL;
    }
    if (url[sz_ctl_span(url, strlen(url), SZ_CTL_SPACE)]) {
        sz_seterr(err, SZ_EINVALID,
                  "Invalid parameter value: url contains a space or control character");
        return NULL;
    }
    if (strncasecmp(url, "https://", 8) == 0) {
        https = 1;
        host = url + 8;
    } else if (strncasecmp(url, "http://", 7) == 0) {
        https = 0;
        host = url + 7;
    } else {
        sz_seterr(err, SZ_EINVALID,
                  "Invalid parameter value: url must start with http:// or https://");
        return NULL;
    }
    /* authority ends at the first / ? or # */
    for (pend = host; *pend && *pend != '/' && *pend != '?' && *pend != '#'; pend++)
        ;
    if (memchr(host, '@', (size_t)(pend - host))) {
        sz_seterr(err, SZ_EINVALID,
                  "Invalid parameter value: url must not carry user information");
        return NULL;
    }
    if (*host == '[') {
        hend = memchr(host, ']', (size_t)(pend - host));
        if (!hend)
            goto bad;
        hend++;
    } else {
        for (hend = host; hend < pend && *hend != ':'; hend++)
            ;
    }
    if (hend == host || (*host == '[' && hend - host < 3))
        goto bad;
    if (hend < pend) {
        if (*hend != ':')
            goto bad;
        port = hend + 1;
        portlen = (size_t)(pend - port);
        if (portlen == 0 || portlen > 5)
            goto bad;
        for (i = 0; i < portlen; i++)
            if (!isdigit((unsigned char)port[i]))
                goto bad;
        if (atoi(port) > 65535 || atoi(port) == 0)
            goto bad;
        while (portlen > 1 && *port == '0') { /* 0443 is 443 */
            port++;
            portlen--;
        }
    }
    path = pend;
    for (q = path; *q && *q != '?' && *q != '#'; q++)
        ;
    sz_buf_init(&b);
    sz_buf_adds(&b, https ? "https://" : "http://");
    for (p = host; p < hend; p++)
        sz_buf_addc(&b, (char)tolower((unsigned char)*p));
    if (port && !((https && portlen == 3 && memcmp(port, "443", 3) == 0) ||
                  (!https && portlen == 2 && memcmp(port, "80", 2) == 0))) {
        sz_buf_addc(&b, ':');
        sz_buf_add(&b, port, portlen);
    }
    sz_buf_add(&b, path, (size_t)(q - path));
    p = sz_buf_finish(&b, NULL);
    if (!p)
        sz_seterr(err, SZ_ENOMEM, "out of memory");
    return (char *)p;
bad:
    sz_seterr(err, SZ_EINVALID, "Invalid parameter value: url has a bad host or port");
    return NULL;
}

char *sz_base_string(const char *http_method, const char *url, const sz_params *params,
                     size_t *out_len, sz_error *err)
{
    char *norm, *qs, *out;
    size_t qlen, i;
    sz_buf b;
    if (!http_method || !*http_method) {
        sz_seterr(err, SZ_EMISSING, "Missing required parameter: httpMethod");
        return NULL;
    }
    norm = sz_normalize_url(url, err);
    if (!norm)
        return NULL;
    qs = sz_params_query(params, &qlen);
    if (!qs) {
        free(norm);
        sz_seterr(err, SZ_ENOMEM, "out of memory");
        return NULL;
    }
    sz_buf_init(&b);
    for (i = 0; http_method[i]; i++)
        sz_buf_addc(&b, (char)toupper((unsigned char)http_method[i]));
    sz_buf_addc(&b, '&');
    sz_url_encode_buf(&b, norm, strlen(norm));
    sz_buf_addc(&b, '&');
    sz_url_encode_buf(&b, qs, qlen);
    free(norm);
    sz_free_wiped(qs, qlen);
    out = sz_buf_finish(&b, out_len);
    if (!out)
        sz_seterr(err, SZ_ENOMEM, "out of memory");
    return out;
}

/* RFC 2104 HMAC-SHA1 of msg under key into mac (20 bytes); 0, or -1 when
 * SHA1 fails. Every key-derived byte is wiped. */
static int hmac_sha1(const unsigned char *key, size_t klen, const unsigned char *msg, size_t len,
                     unsigned char mac[SHA_DIGEST_LENGTH])
{
    unsigned char k[SHA_CBLOCK], pad[SHA_CBLOCK], inner[SHA_DIGEST_LENGTH];
    SHA_CTX c;
    size_t i;
    int ok;
    memset(k, 0, sizeof k);
    if (klen > SHA_CBLOCK) {
        if (!SHA1(key, klen, k))
            return -1;
    } else {
        memcpy(k, key, klen);
    }
    for (i = 0; i < SHA_CBLOCK; i++)
        pad[i] = k[i] ^ 0x36;
    ok = SHA1_Init(&c) && SHA1_Update(&c, pad, SHA_CBLOCK) && SHA1_Update(&c, msg, len) && SHA1_Final(inner, &c);
    for (i = 0; i < SHA_CBLOCK; i++)
        pad[i] = k[i] ^ 0x5c;
    ok = ok && SHA1_Init(&c) && SHA1_Update(&c, pad, SHA_CBLOCK) &&
         SHA1_Update(&c, inner, SHA_DIGEST_LENGTH) && SHA1_Final(mac, &c);
    sz_wipe(k, sizeof k);
    sz_wipe(pad, sizeof pad);
    sz_wipe(inner, sizeof inner);
    sz_wipe(&c, sizeof c);
    return ok ? 0 : -1;
}

int sz_hmac_sha1_b64(const char *secret_b64, const char *msg, size_t len, char out[29],
                     sz_error *err)
{
    unsigned char *key, mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    size_t klen;
    sz_buf b;
    if (!secret_b64 || !*secret_b64) {
        sz_seterr(err, SZ_EMISSING, "Missing required parameter: secret");
        return -1;
    }
    if (sz_base64_decode(secret_b64, strlen(secret_b64), "secret", &key, &klen, err) != 0)
        return -1;
    if (klen == 0 || hmac_sha1(key, klen, (const unsigned char *)msg, len, mac) != 0) {
        sz_free_wiped(key, klen);
        sz_seterr(err, SZ_EINVALID, "Invalid parameter value: secret is empty");
        return -1;
    }
    maclen = SHA_DIGEST_LENGTH;
    sz_free_wiped(key, klen);
    sz_buf_init(&b);
    sz_base64_encode_buf(&b, mac, maclen, 0);
    if (b.failed || b.len != 28) {
        sz_buf_reset(&b);
        sz_seterr(err, SZ_ENOMEM, "out of memory");
        return -1;
    }
    memcpy(out, b.data, 29);
    sz_buf_reset(&b);
    return 0;
}

char *sz_sign(const char *secret_b64, const char *message, size_t len, sz_error *err)
{
    char sig[29];
    if (sz_hmac_sha1_b64(secret_b64, message, len, sig, err) != 0)
        return NULL;
    return sz_strndup(sig, 28);
}

static int parse_ts(const char *ts, long long *out)
{
    long long v = 0;
    int neg = 0;
    if (!ts || !*ts)
        return -1;
    if (*ts == '-') {
        neg = 1;
        ts++;
    }
    if (!*ts || strlen(ts) > 18)
        return -1;
    for (; *ts; ts++) {
        if (!isdigit((unsigned char)*ts))
            return -1;
        v = v * 10 + (*ts - '0');
    }
    *out = neg ? -v : v;
    return 0;
}

static int check_sig(const char *msg, size_t len, const char *secret_b64, const char *signature)
{
    char expect[29];
    if (!signature || sz_hmac_sha1_b64(secret_b64, msg, len, expect, NULL) != 0)
        return 0;
    return sz_consttime_equal(expect, 28, signature, strlen(signature));
}

static int within(const char *timestamp, long long window, long long now)
{
    long long ts, d;
    if (window < 0)
        return 1;
    if (parse_ts(timestamp, &ts) != 0)
        return 0;
    d = sz_sat_sub(now, ts);
    if (d < 0)
        d = sz_sat_sub(0, d);
    return d <= window;
}

static int validate(const char *a, const char *b, const char *c, const char *timestamp,
                    const char *secret_b64, const char *signature, long long window,
                    long long now)
{
    sz_buf m;
    int ok;
    if (!a || !b || !timestamp)
        return 0;
    sz_buf_init(&m);
    sz_buf_adds(&m, a);
    sz_buf_addc(&m, '_');
    sz_buf_adds(&m, b);
    if (c) {
        sz_buf_addc(&m, '_');
        sz_buf_adds(&m, c);
    }
    /* Always compute the HMAC, so a stale timestamp costs the same time. */
    ok = !m.failed && check_sig(m.data, m.len, secret_b64, signature);
    sz_buf_reset(&m);
    return within(timestamp, window, now) & ok;
}

int sz_validate_user_signature(const char *uid, const char *timestamp, const char *secret_b64,
                               const char *signature, long long window_seconds, long long now)
{
    return validate(timestamp, uid, NULL, timestamp, secret_b64, signature, window_seconds, now);
}

int sz_validate_friend_signature(const char *uid, const char *timestamp,
                                 const char *friend_uid, const char *secret_b64,
                                 const char *signature, long long window_seconds,
                                 long long now)
{
    if (!friend_uid || !uid)
        return 0;
    return validate(timestamp, friend_uid, uid, timestamp, secret_b64, signature,
                    window_seconds, now);
}

int sz_validate_webhook_signature(const char *body, size_t len, const char *secret_b64,
                                  const char *header_value)
{
    if (!body && len)
        return 0;
    return check_sig(body ? body : "", len, secret_b64, header_value);
}

/* ---- Telegram Login Widget ----------------------------------------------- */

static int kv_cmp(const void *a, const void *b)
{
    const sz_kv *x = a, *y = b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    if (c)
        return c;
    return x->key_len < y->key_len ? -1 : x->key_len > y->key_len;
}

int sz_validate_telegram_login(const sz_kv *fields, size_t n, const char *bot_token,
                               size_t token_len, long long max_age, long long now)
{
    sz_kv sorted[SZ_TG_MAX_FIELDS];
    const sz_kv *hash = NULL, *date = NULL;
    unsigned char key[32], mac[32];
    unsigned int keylen = 0, maclen = 0;
    char hex[65], given[65];
    long long ts;
    char tsbuf[20];
    size_t i, m = 0;
    sz_buf b;
    int ok;
    if (!fields || !bot_token || !token_len || n == 0 || n > SZ_TG_MAX_FIELDS)
        return 0;
    for (i = 0; i < n; i++) {
        const sz_kv *f = &fields[i];
        if (!f->key || !f->key_len || (!f->value && f->value_len))
            return 0;
        /* a key with '=' or a line break would make the data-check string ambiguous */
        if (memchr(f->key, '=', f->key_len) || memchr(f->key, '\n', f->key_len))
            return 0;
        if (f->key_len == 4 && !memcmp(f->key, "hash", 4)) {
            if (hash)
                return 0; /* repeated */
            hash = f;
            continue;
        }
        if (f->key_len == 9 && !memcmp(f->key, "auth_date", 9))
            date = f;
        sorted[m++] = *f;
    }
    if (!hash || !date || hash->value_len != 64 || date->value_len == 0 || date->value_len >= sizeof tsbuf)
        return 0;
    qsort(sorted, m, sizeof *sorted, kv_cmp);
    for (i = 1; i < m; i++)
        if (kv_cmp(&sorted[i - 1], &sorted[i]) == 0)
            return 0; /* a repeated field: which one did Telegram sign? */
    memcpy(tsbuf, date->value, date->value_len);
    tsbuf[date->value_len] = '\0';
    if (parse_ts(tsbuf, &ts) != 0)
        return 0;
    for (i = 0; i < 64; i++)
        given[i] = (char)tolower((unsigned char)hash->value[i]);
    given[64] = '\0';
    sz_buf_init(&b);
    for (i = 0; i < m; i++) {
        if (i)
            sz_buf_addc(&b, '\n');
        sz_buf_add(&b, sorted[i].key, sorted[i].key_len);
        sz_buf_addc(&b, '=');
        if (sorted[i].value_len)
            sz_buf_add(&b, sorted[i].value, sorted[i].value_len);
    }
    /* secret_key = SHA256(bot_token); hash = hex(HMAC-SHA256(secret_key, data_check_string)) */
    ok = !b.failed && EVP_Digest(bot_token, token_len, key, &keylen, EVP_sha256(), NULL) && keylen == 32 &&
         HMAC(EVP_sha256(), key, 32, (const unsigned char *)(b.data ? b.data : ""), b.len, mac, &maclen) &&
         maclen == 32;
    sz_buf_reset(&b);
    OPENSSL_cleanse(key, sizeof key);
    if (!ok)
        return 0;
    for (i = 0; i < 32; i++) {
        static const char hx[] = "0123456789abcdef";
        hex[2 * i] = hx[mac[i] >> 4];
        hex[2 * i + 1] = hx[mac[i] & 15];
    }
    hex[64] = '\0';
    ok = sz_consttime_equal(hex, 64, given, 64);
    if (max_age >= 0) {
        long long age = sz_sat_sub(now, ts);
        /* older than max_age, or more than a minute in the future (clock skew) */
        ok &= age <= max_age && age >= -60;
    }
    return ok;
}
