/* Builds one Gigya REST request: URL, auth parameters, signature, body. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include "sz_internal.h"

#define SZ_MAX_HEADERS 8

struct sz_request {
    char       method[8];
    char      *url;
    char      *norm_url; /* url normalised (build_url's check), until the base string takes it */
    char      *body;
    size_t     body_len;
    char      *base_string;
    sz_params *params;
    size_t     nheaders;
    char      *hname[SZ_MAX_HEADERS];
    char      *hvalue[SZ_MAX_HEADERS];
    int        truncated;
};

void sz_request_set_truncated(sz_request *r)
{
    if (r)
        r->truncated = 1;
}

int sz_request_truncated(const sz_request *r)
{
    return r && r->truncated;
}

void sz_request_free(sz_request *r)
{
    size_t i;
    if (!r)
        return;
    sz_free_str(r->url);
    sz_free_str(r->norm_url);
    sz_free_wiped(r->body, r->body_len);
    sz_free_str(r->base_string);
    sz_params_free(r->params);
    for (i = 0; i < r->nheaders; i++) {
        free(r->hname[i]);
        sz_free_str(r->hvalue[i]);
    }
    free(r);
}

const char *sz_request_method(const sz_request *r) { return r->method; }
const char *sz_request_url(const sz_request *r) { return r->url; }
const char *sz_request_base_string(const sz_request *r)
{
    return r->base_string ? r->base_string : "";
}
const sz_params *sz_request_params(const sz_request *r) { return r->params; }
size_t sz_request_header_count(const sz_request *r) { return r->nheaders; }

const char *sz_request_body(const sz_request *r, size_t *len)
{
    if (len)
        *len = r->body_len;
    return r->body;
}

int sz_request_header(const sz_request *r, size_t i, const char **name, const char **value)
{
    if (i >= r->nheaders)
        return -1;
    *name = r->hname[i];
    *value = r->hvalue[i];
    return 0;
}

sz_request *sz_request_new(const char *method, const char *url)
{
    sz_request *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    snprintf(r->method, sizeof r->method, "%s", method);
    r->url = sz_strndup(url, strlen(url));
    if (!r->url) {
        free(r);
        return NULL;
    }
    return r;
}

int sz_request_set_body(sz_request *r, char *body, size_t len)
{
    sz_free_wiped(r->body, r->body_len);
    r->body = body;
    r->body_len = len;
    return body ? 0 : -1;
}

int sz_request_add_header(sz_request *r, const char *name, const char *value)
{
    if (r->nheaders == SZ_MAX_HEADERS)
        return -1;
    r->hname[r->nheaders] = sz_strndup(name, strlen(name));
    r->hvalue[r->nheaders] = sz_strndup(value, strlen(value));
    if (!r->hname[r->nheaders] || !r->hvalue[r->nheaders]) {
        free(r->hname[r->nheaders]);
        sz_free_str(r->hvalue[r->nheaders]);
        return -1;
    }
    r->nheaders++;
    return 0;
}

static int set_str(sz_params *p, const char *k, const char *v)
{
    return sz_params_set(p, k, strlen(k), v, strlen(v));
}

/* Printable ASCII without spaces: what may go into a header or a URL. */
static int token_ok(const char *s)
{
    size_t n = strlen(s);
    return sz_ctl_span(s, n, SZ_CTL_SPACE | SZ_CTL_8BIT) == n;
}

static int method_ok(const char *m)
{
    const char *p;
    if (!*m || *m == '.')
        return 0;
    for (p = m; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '.' || *p == '_'))
            return 0;
    return p[-1] != '.';
}

/* The request's URL; with o->base_url also *norm, the URL normalised (the
 * check of base_url's scheme, host and port: the same outcome as checking
 * base_url itself, whose authority the appended "/<method>" cannot change,
 * as it has no query or fragment), which a signed request's base string
 * reuses; *norm stays NULL otherwise. */
static char *build_url(const sz_request_opts *o, const char *method, char **norm, sz_error *err)
{
    sz_buf b;
    const char *dot = strchr(method, '.');
    char *url;
    int base = 0;
    *norm = NULL;
    sz_buf_init(&b);
    if (o->base_url && *o->base_url) {
        size_t n = strlen(o->base_url);
        if (!token_ok(o->base_url)) {
            sz_seterr(err, SZ_EINVALID,
                      "Invalid parameter value: url contains a space or control character");
            return NULL;
        }
        if (strpbrk(o->base_url, "?#")) {
            sz_seterr(err, SZ_EINVALID,
                      "Invalid parameter value: url must not have a query or fragment");
            return NULL;
        }
        base = 1; /* the URL's scheme, host and port are checked below, once it is made */
        while (n && o->base_url[n - 1] == '/')
            n--;
        sz_buf_add(&b, o->base_url, n);
        sz_buf_addc(&b, '/');
        if (!dot)
            sz_buf_adds(&b, "socialize.");
        sz_buf_adds(&b, method);
    } else {
        const char *domain = o->api_domain && *o->api_domain ? o->api_domain : "us1.gigya.com";
        const char *d;
        for (d = domain; *d; d++)
            if (!(isalnum((unsigned char)*d) || *d == '.' || *d == '-')) {
                sz_seterr(err, SZ_EINVALID,
                          "Invalid parameter value: apiDomain must be a host name");
                return NULL;
            }
        sz_buf_adds(&b, "https://");
        if (dot)
            sz_buf_add(&b, method, (size_t)(dot - method));
        else
            sz_buf_adds(&b, "socialize");
        sz_buf_addc(&b, '.');
        sz_buf_adds(&b, domain);
        sz_buf_addc(&b, '/');
        if (!dot)
            sz_buf_adds(&b, "socialize.");
        sz_buf_adds(&b, method);
    }
    url = sz_buf_finish(&b, NULL);
    if (!url) {
        sz_seterr(err, SZ_ENOMEM, "out of memory");
        return NULL;
    }
    if (base && !(*norm = sz_normalize_url(url, err))) { /* validates scheme, host, port */
        /* the error base_url itself gives, as before (its trailing slashes, cut
         * above, may have been all of "//": "http://" fails on its host) */
        char *again = sz_normalize_url(o->base_url, err);
        free(again); /* (not expected: the URL's authority is base_url's; err stands) */
        sz_free_str(url);
        return NULL;
    }
    return url;
}

static int is_https(const char *url) { return strncasecmp(url, "https://", 8) == 0; }

/* RS256 JWT: header {"alg":"RS256","kid":<userKey>,"typ":"JWT"},
 * claims {"iat":<timestamp>,"jti":<nonce>}, base64url without padding. */
static char *make_jwt(const sz_request_opts *o, sz_error *err)
{
    sz_buf hdr, claims, tok;
    BIO *bio = NULL;
    EVP_PKEY *key = NULL;
    EVP_MD_CTX *ctx = NULL;
    unsigned char *sig = NULL;
    size_t siglen = 0;
    char *out = NULL;
    sz_buf_init(&hdr);
    sz_buf_init(&claims);
    sz_buf_init(&tok);
    sz_buf_adds(&hdr, "{\"alg\":\"RS256\",\"kid\":");
    sz_json_string_buf(&hdr, o->user_key, strlen(o->user_key));
    sz_buf_adds(&hdr, ",\"typ\":\"JWT\"}");
    sz_buf_printf(&claims, "{\"iat\":%lld,\"jti\":", o->timestamp);
    sz_json_string_buf(&claims, o->nonce, strlen(o->nonce));
    sz_buf_addc(&claims, '}');
    if (hdr.failed || claims.failed)
        goto oom;
    sz_base64_encode_buf(&tok, (unsigned char *)hdr.data, hdr.len, 1);
    sz_buf_addc(&tok, '.');
    sz_base64_encode_buf(&tok, (unsigned char *)claims.data, claims.len, 1);
    if (tok.failed)
        goto oom;
    bio = BIO_new_mem_buf(o->private_key_pem, -1);
    if (bio)
        key = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"");
    if (!key || EVP_PKEY_base_id(key) != EVP_PKEY_RSA) {
        sz_seterr(err, SZ_EINVALID,
                  "Invalid parameter value: privateKey is not an RSA private key in PEM form");
        goto done;
    }
    ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestSign(ctx, NULL, &siglen, (unsigned char *)tok.data, tok.len) != 1 ||
        !(sig = malloc(siglen)) ||
        EVP_DigestSign(ctx, sig, &siglen, (unsigned char *)tok.data, tok.len) != 1) {
        sz_seterr(err, SZ_ECRYPTO, "RS256 signing failed");
        goto done;
    }
    sz_buf_addc(&tok, '.');
    sz_base64_encode_buf(&tok, sig, siglen, 1);
    out = sz_buf_finish(&tok, NULL);
    if (!out)
        goto oom;
    goto done;
oom:
    sz_seterr(err, SZ_ENOMEM, "out of memory");
done:
    free(sig);
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);
    BIO_free(bio);
    sz_buf_reset(&hdr);
    sz_buf_reset(&claims);
    sz_buf_reset(&tok);
    return out;
}

/* The signed query string (k=enc(v)&..., in the parameters' order) and,
 * appended to base, its own percent-encoding, in one pass: a byte kept as it
 * is goes to both; an encoded byte is %XY in the query and %25XY in the base
 * string; '=' and '&' are %3D and %26 there. Keys are already plain (check_params). */
static char *query_and_base(const sz_params *p, sz_buf *base, size_t *qlen)
{
    static const char HEX[] = "0123456789ABCDEF";
    size_t i, n = sz_params_count(p), qmax = 0, bmax = 0;
    char *q, *o, *bo;
    for (i = 0; i < n; i++) {
        const char *k, *v;
        size_t kl, vl;
        sz_params_at(p, i, &k, &kl, &v, &vl);
        if (vl > ((size_t)-1 / 16) - kl)
            return NULL;
        qmax += kl + 2 + vl * 3;
        bmax += kl + 6 + vl * 5;
    }
    q = malloc(qmax + 1);
    if (!q || sz_buf_reserve(base, bmax) != 0) {
        free(q);
        return NULL;
    }
    o = q;
    bo = base->data + base->len;
    for (i = 0; i < n; i++) {
        const char *k, *v;
        size_t kl, vl, j;
        sz_params_at(p, i, &k, &kl, &v, &vl);
        if (i) {
            *o++ = '&';
            memcpy(bo, "%26", 3);
            bo += 3;
        }
        memcpy(o, k, kl);
        memcpy(bo, k, kl);
        o += kl;
        bo += kl;
        *o++ = '=';
        memcpy(bo, "%3D", 3);
        bo += 3;
        for (j = 0; j < vl; j++) {
            unsigned char c = (unsigned char)v[j];
            if (sz_url_keep[c]) {
                *o++ = (char)c;
                *bo++ = (char)c;
            } else {
                o[0] = '%';
                o[1] = HEX[c >> 4];
                o[2] = HEX[c & 15];
                o += 3;
                bo[0] = '%';
                bo[1] = '2';
                bo[2] = '5';
                bo[3] = HEX[c >> 4];
                bo[4] = HEX[c & 15];
                bo += 5;
            }
        }
    }
    *o = '\0';
    base->len = (size_t)(bo - base->data);
    base->data[base->len] = '\0';
    *qlen = (size_t)(o - q);
    return q;
}

static int need(const char *v, const char *name, sz_error *err)
{
    if (v && *v)
        return 1;
    sz_seterr(err, SZ_EMISSING, "Missing required parameter: %s", name);
    return 0;
}

static int check_params(const sz_params *params, sz_error *err)
{
    static const char *const owned[] = {"sig", "nonce", "timestamp", "oauth_token", "apiKey",
                                        "userKey", "secret", NULL};
    size_t i, n = sz_params_count(params);
    for (i = 0; i < n; i++) {
        const char *k, *v;
        size_t kl, vl, j;
        sz_params_at(params, i, &k, &kl, &v, &vl);
        if (kl == 0) {
            sz_seterr(err, SZ_EINVALID, "Invalid parameter value: empty parameter name");
            return -1;
        }
        for (j = 0; j < kl; j++) {
            unsigned char c = (unsigned char)k[j];
            if (!(isalnum(c) || c == '_' || c == '-' || c == '.' || c == '~')) {
                sz_seterr(err, SZ_EINVALID,
                          "Invalid parameter value: parameter name '%.*s' has characters "
                          "outside A-Z a-z 0-9 - _ . ~", (int)(kl > 64 ? 64 : kl), k);
                return -1;
            }
        }
        for (j = 0; owned[j]; j++)
            if (strlen(owned[j]) == kl && memcmp(owned[j], k, kl) == 0) {
                sz_seterr(err, SZ_EINVALID,
                          "Invalid parameter value: %s is set by the client's authentication, "
                          "not by call parameters", owned[j]);
                return -1;
            }
        if (!sz_utf8_valid(v, vl)) {
            sz_seterr(err, SZ_EINVALID, "Invalid parameter value: %.*s is not valid UTF-8",
                      (int)(kl > 64 ? 64 : kl), k);
            return -1;
        }
    }
    {
        size_t fl;
        const char *f = sz_params_get(params, "format", &fl);
        if (f && !(fl == 4 && memcmp(f, "json", 4) == 0)) {
            sz_seterr(err, SZ_EINVALID,
                      "Invalid parameter value: format must be json (replies are parsed as JSON)");
            return -1;
        }
        f = sz_params_get(params, "httpStatusCodes", &fl);
        if (f && !(fl == 5 && memcmp(f, "false", 5) == 0)) {
            sz_seterr(err, SZ_EINVALID,
                      "Invalid parameter value: httpStatusCodes must be false");
            return -1;
        }
    }
    return 0;
}

/* take: params is the caller's to give away (sz_request_build_owned): the
 * request keeps it instead of a copy, and *taken says it did. */
static sz_request *request_build(const sz_request_opts *o, const sz_params *params, sz_params *take,
                                 int *taken, sz_error *err)
{
    sz_request *r;
    const char *method;
    char sdk[64];
    sz_clearerr(err);
    if (!o) {
        sz_seterr(err, SZ_EMISSING, "Missing required parameter: options");
        return NULL;
    }
    if (!need(o->api_method, "method", err))
        return NULL;
    method = o->api_method[0] == '/' ? o->api_method + 1 : o->api_method;
    if (!method_ok(method)) {
        sz_seterr(err, SZ_EINVALID,
                  "Invalid parameter value: method '%.64s' must look like namespace.name", method);
        return NULL;
    }
    if (check_params(params, err) != 0)
        return NULL;
    switch (o->auth) {
    case SZ_AUTH_SIGNED:
        if (!need(o->api_key, "apiKey", err) || !need(o->secret, "secret", err) ||
            !need(o->nonce, "nonce", err))
            return NULL;
        break;
    case SZ_AUTH_SECRET:
        if (!need(o->api_key, "apiKey", err) || !need(o->secret, "secret", err))
            return NULL;
        break;
    case SZ_AUTH_OAUTH2:
        if (!need(o->access_token, "accessToken", err))
            return NULL;
        break;
    case SZ_AUTH_JWT:
        if (!need(o->api_key, "apiKey", err) || !need(o->user_key, "userKey", err) ||
            !need(o->private_key_pem, "privateKey", err) || !need(o->nonce, "nonce", err))
            return NULL;
        break;
    case SZ_AUTH_NONE:
        if (!need(o->api_key, "apiKey", err))
            return NULL;
        break;
    default:
        sz_seterr(err, SZ_EINVALID, "Invalid parameter value: auth");
        return NULL;
    }
    {
        const char *vals[] = {o->api_key, o->user_key, o->access_token, o->nonce, o->sdk};
        const char *names[] = {"apiKey", "userKey", "accessToken", "nonce", "sdk"};
        size_t i;
        for (i = 0; i < 5; i++)
            if (vals[i] && !token_ok(vals[i])) {
                sz_seterr(err, SZ_EINVALID,
                          "Invalid parameter value: %s contains a space or control character",
                          names[i]);
                return NULL;
            }
    }
    r = calloc(1, sizeof *r);
    if (!r)
        goto oom;
    strcpy(r->method, "POST");
    r->url = build_url(o, method, &r->norm_url, err);
    if (!r->url)
        goto fail;
    if (o->auth != SZ_AUTH_SIGNED && !is_https(r->url)) {
        if (o->auth == SZ_AUTH_SECRET)
            sz_seterr(err, SZ_EINSECURE,
                      "Secret Sent Over Http: auth \"secret\" needs an https url");
        else
            sz_seterr(err, SZ_EINVALID,
                      "Invalid parameter value: url must be https for this auth mode");
        goto fail;
    }
    if (take) {
        r->params = take; /* freed with r from here on */
        *taken = 1;
    } else {
        r->params = sz_params_copy(params);
    }
    if (!r->params)
        goto oom;
    snprintf(sdk, sizeof sdk, "socialize_c_%s", SZ_VERSION_STRING);
    if (set_str(r->params, "format", "json") || set_str(r->params, "httpStatusCodes", "false") ||
        set_str(r->params, "sdk", o->sdk && *o->sdk ? o->sdk : sdk))
        goto oom;
    switch (o->auth) {
    case SZ_AUTH_SIGNED: {
        char ts[32], sig[29], *norm;
        size_t qlen = 0;
        sz_buf base, body;
        snprintf(ts, sizeof ts, "%lld", o->timestamp);
        if (set_str(r->params, "apiKey", o->api_key) ||
            (o->user_key && *o->user_key && set_str(r->params, "userKey", o->user_key)) ||
            set_str(r->params, "timestamp", ts) || set_str(r->params, "nonce", o->nonce))
            goto oom;
        /* the query string is built once: signed inside the base string,
         * then sent as the body with the signature appended */
        norm = r->norm_url ? r->norm_url : sz_normalize_url(r->url, err);
        r->norm_url = NULL; /* norm is freed below */
        if (!norm)
            goto fail;
        sz_buf_init(&base);
        sz_buf_add(&base, "POST&", 5);
        sz_url_encode_buf(&base, norm, strlen(norm));
        sz_buf_addc(&base, '&');
        free(norm);
        r->body = query_and_base(r->params, &base, &qlen);
        r->body_len = qlen;
        if (!r->body) {
            sz_buf_reset(&base);
            goto oom;
        }
        r->base_string = sz_buf_finish(&base, NULL);
        if (!r->base_string)
            goto oom;
        if (sz_hmac_sha1_b64(o->secret, r->base_string, strlen(r->base_string), sig, err) != 0)
            goto fail;
        if (set_str(r->params, "sig", sig))
            goto oom;
        sz_buf_init(&body);
        sz_buf_reserve(&body, qlen + 5 + 3 * 28);
        sz_buf_add(&body, r->body, qlen);
        sz_buf_add(&body, "&sig=", 5);
        sz_url_encode_buf(&body, sig, 28);
        sz_free_wiped(r->body, r->body_len);
        r->body = sz_buf_finish(&body, &r->body_len);
        if (!r->body)
            goto oom;
        break;
    }
    case SZ_AUTH_SECRET: {
        unsigned char *key;
        size_t klen;
        /* refuse a secret that could never sign, before it travels */
        if (sz_base64_decode(o->secret, strlen(o->secret), "secret", &key, &klen, err) != 0)
            goto fail;
        sz_free_wiped(key, klen); /* the decoded secret */
        if (set_str(r->params, "apiKey", o->api_key) ||
            (o->user_key && *o->user_key && set_str(r->params, "userKey", o->user_key)) ||
            set_str(r->params, "secret", o->secret))
            goto oom;
        break;
    }
    case SZ_AUTH_OAUTH2:
        if (set_str(r->params, "oauth_token", o->access_token))
            goto oom;
        break;
    case SZ_AUTH_JWT: {
        char *jwt = make_jwt(o, err), *hv;
        size_t n;
        if (!jwt)
            goto fail;
        n = strlen(jwt) + 8;
        hv = malloc(n);
        if (!hv) {
            sz_free_str(jwt);
            goto oom;
        }
        snprintf(hv, n, "Bearer %s", jwt);
        sz_free_str(jwt);
        if (sz_request_add_header(r, "Authorization", hv)) {
            sz_free_str(hv);
            goto oom;
        }
        sz_free_str(hv);
        if (set_str(r->params, "apiKey", o->api_key))
            goto oom;
        break;
    }
    case SZ_AUTH_NONE:
        if (set_str(r->params, "apiKey", o->api_key))
            goto oom;
        break;
    }
    if (sz_request_add_header(r, "Content-Type", "application/x-www-form-urlencoded"))
        goto oom;
    if (!r->body) /* signed requests have theirs already */
        r->body = sz_params_query(r->params, &r->body_len);
    if (!r->body)
        goto oom;
    return r;
oom:
    sz_seterr(err, SZ_ENOMEM, "out of memory");
fail:
    sz_request_free(r);
    return NULL;
}

sz_request *sz_request_build(const sz_request_opts *o, const sz_params *params, sz_error *err)
{
    return request_build(o, params, NULL, NULL, err);
}

sz_request *sz_request_build_owned(const sz_request_opts *o, sz_params *params, sz_error *err)
{
    int taken = 0;
    sz_request *r = request_build(o, params, params, &taken, err);
    if (!r && !taken)
        sz_params_free(params);
    return r;
}
