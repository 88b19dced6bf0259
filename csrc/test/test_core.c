/* Unit tests of the sans-IO core. Usage: test_core <vectors.json>... */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include "socialize.h"
#include "tap.h"

static const char *S(json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

static void run_vector(json_t *v)
{
    const char *name = S(v, "name"), *kind = S(v, "kind");
    if (strcmp(kind, "request") == 0) {
        sz_params *p = sz_params_new();
        const char *k;
        json_t *val;
        sz_error err;
        char *qs, *norm, *base, *sig;
        json_object_foreach(json_object_get(v, "params"), k, val)
            sz_params_set(p, k, strlen(k), json_string_value(val), json_string_length(val));
        qs = sz_params_query(p, NULL);
        CHECK_STR(qs, S(v, "query_string"), name);
        norm = sz_normalize_url(S(v, "url"), &err);
        CHECK_STR(norm, S(v, "normalized_url"), name);
        base = sz_base_string(S(v, "method"), S(v, "url"), p, NULL, &err);
        CHECK_STR(base, S(v, "base_string"), name);
        sig = base ? sz_sign(S(v, "secret_b64"), base, strlen(base), &err) : NULL;
        CHECK_STR(sig, S(v, "expected_sig"), name);
        sz_free(qs);
        sz_free(norm);
        sz_free(base);
        sz_free(sig);
        sz_params_free(p);
    } else if (strcmp(kind, "user_signature") == 0) {
        CHECK(sz_validate_user_signature(S(v, "UID"), S(v, "timestamp"), S(v, "secret_b64"),
                                         S(v, "expected_sig"), -1, 0) == 1, "%s", name);
        CHECK(sz_validate_user_signature(S(v, "UID"), S(v, "timestamp"), S(v, "secret_b64"),
                                         "AAAAAAAAAAAAAAAAAAAAAAAAAAA=", -1, 0) == 0, "%s wrong", name);
    } else if (strcmp(kind, "friend_signature") == 0) {
        CHECK(sz_validate_friend_signature(S(v, "UID"), S(v, "timestamp"), S(v, "friendUID"),
                                           S(v, "secret_b64"), S(v, "expected_sig"), -1, 0) == 1,
              "%s", name);
        /* swapping UID and friendUID must fail: the friend comes first */
        CHECK(sz_validate_friend_signature(S(v, "friendUID"), S(v, "timestamp"), S(v, "UID"),
                                           S(v, "secret_b64"), S(v, "expected_sig"), -1, 0) == 0,
              "%s swapped", name);
    } else if (strcmp(kind, "webhook_hmac_sha1") == 0) {
        const char *body = S(v, "body");
        CHECK(sz_validate_webhook_signature(body, strlen(body), S(v, "secret_b64"),
                                            S(v, "expected_sig")) == 1, "%s", name);
        CHECK(sz_validate_webhook_signature(body, strlen(body) ? strlen(body) - 1 : 0,
                                            S(v, "secret_b64"), S(v, "expected_sig")) ==
                  (strlen(body) == 0), "%s truncated body", name);
    } else if (strcmp(kind, "url_encode") == 0) {
        const char *in = S(v, "input");
        char *e = sz_url_encode(in, strlen(in), NULL);
        CHECK_STR(e, S(v, "expected"), name);
        sz_free(e);
    } else {
        CHECK(0, "unknown vector kind %s", kind);
    }
}

static void test_vectors(const char *path)
{
    json_error_t je;
    json_t *all = json_load_file(path, 0, &je), *v;
    size_t i;
    CHECK(json_is_array(all), "cannot read %s: %s", path, je.text);
    CHECK(json_array_size(all) >= 12, "%s has too few vectors", path);
    json_array_foreach(all, i, v) TAP_CASE(path, run_vector(v)); /* one case per vector */
    json_decref(all);
}

static void test_base64(void)
{
    struct { const char *in; int ok; const char *out; } c[] = {
        {"U29tZSBTdHJpbmc=", 1, "Some String"}, {"U29tZSBTdHJpbmc", 1, "Some String"},
        {"", 1, ""}, {"QQ==", 1, "A"}, {"QQ", 1, "A"}, {"QUI=", 1, "AB"},
        {"Q", 0, NULL}, {"QQ=", 0, NULL}, {"Q===", 0, NULL}, {"QQ==QQ==", 0, NULL},
        {"QU I=", 0, NULL}, {"QUI-", 0, NULL}, {"QUI_", 0, NULL}, {"QR==", 0, NULL},
        {"=", 0, NULL}, {"QUJD\n", 0, NULL},
    };
    size_t i;
    for (i = 0; i < sizeof c / sizeof c[0]; i++) {
        unsigned char *out = NULL;
        size_t n = 0;
        sz_error err = {0, ""};
        int rc = sz_base64_decode(c[i].in, strlen(c[i].in), "secret", &out, &n, &err);
        CHECK((rc == 0) == c[i].ok, "base64 decode [%s] rc=%d", c[i].in, rc);
        if (c[i].ok && rc == 0)
            CHECK(n == strlen(c[i].out) && memcmp(out, c[i].out, n) == 0, "base64 [%s]", c[i].in);
        if (!c[i].ok) {
            CHECK(err.code == 400006 && strstr(err.message, "secret"), "base64 error names secret: %s",
                  err.message);
        }
        sz_free(out);
    }
    {
        char *e = sz_base64_encode((const unsigned char *)"Some String", 11, NULL);
        CHECK_STR(e, "U29tZSBTdHJpbmc=", "base64 encode");
        sz_free(e);
    }
}

static void test_utf8_consttime(void)
{
    CHECK(sz_utf8_valid("plain", 5), "ascii");
    CHECK(sz_utf8_valid("\xF0\x9F\x98\x80", 4), "emoji");
    CHECK(!sz_utf8_valid("\xC0\xAF", 2), "overlong");
    CHECK(!sz_utf8_valid("\xED\xA0\x80", 3), "surrogate");
    CHECK(!sz_utf8_valid("\xF4\x90\x80\x80", 4), "above U+10FFFF");
    CHECK(!sz_utf8_valid("\xE2\x82", 2), "truncated");
    CHECK(!sz_utf8_valid("\xFF", 1), "0xFF");
    CHECK(sz_utf8_valid("a\0b", 3), "NUL is valid UTF-8");
    CHECK(sz_consttime_equal("abc", 3, "abc", 3), "equal");
    CHECK(!sz_consttime_equal("abc", 3, "abd", 3), "differs");
    CHECK(!sz_consttime_equal("abc", 3, "abc\0", 4), "length differs");
    CHECK(!sz_consttime_equal("", 0, "a", 1), "empty vs one");
    CHECK(sz_consttime_equal("", 0, "", 0), "both empty");
}

static void test_normalize_errors(void)
{
    const char *bad[] = {"ftp://x/y", "https://", "https://host:0/x", "https://host:65536/",
                         "https://host:8a/", "https://us er@host/", "https://u:p@host/",
                         "https://host/a b", "https://host/\r\nX: y", "//host/x", "https://[::1/x", ""};
    size_t i;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sz_error err = {0, ""};
        char *n = sz_normalize_url(bad[i], &err);
        CHECK(n == NULL && (err.code == 400006 || err.code == 400002) && strstr(err.message, "url"),
              "normalize should refuse [%s]: %s", bad[i], err.message);
        sz_free(n);
    }
    {
        sz_error err;
        char *n = sz_normalize_url("https://Host:00443/p", &err);
        CHECK_STR(n, "https://host/p", "leading zero port");
        sz_free(n);
    }
}

static sz_params *mk(const char *k1, const char *v1, const char *k2, const char *v2)
{
    sz_params *p = sz_params_new();
    if (k1) sz_params_set(p, k1, strlen(k1), v1, strlen(v1));
    if (k2) sz_params_set(p, k2, strlen(k2), v2, strlen(v2));
    return p;
}

static const char *SECRET = "c29jaWFsaXplLXJlZmVyZW5jZS1zZWNyZXQtMDAwMQ==";

static void test_request_signed(void)
{
    sz_request_opts o;
    sz_params *p = mk("UID", "user_123", "status", "Hello world");
    sz_request *r;
    sz_error err;
    const char *body, *n, *v;
    size_t blen;
    memset(&o, 0, sizeof o);
    o.api_method = "setStatus";
    o.auth = SZ_AUTH_SIGNED;
    o.api_key = "3_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_";
    o.secret = SECRET;
    o.timestamp = 1700000000;
    o.nonce = "1700000000000_1234567";
    o.sdk = "socialize_c_1.0.0";
    r = sz_request_build(&o, p, &err);
    CHECK(r != NULL, "signed build: %s", err.message);
    if (r) {
        CHECK_STR(sz_request_url(r), "https://socialize.us1.gigya.com/socialize.setStatus", "url");
        body = sz_request_body(r, &blen);
        /* the first shared vector, signed end to end */
        CHECK(strstr(body, "sig=2JywZGxtgRXn%2Flmu8a%2FMij%2FVNr4%3D") != NULL, "sig in body: %s", body);
        CHECK(strncmp(body, "UID=user_123&apiKey=", 20) == 0, "body sorted: %s", body);
        CHECK(strstr(body, "status=Hello%20world") != NULL, "space is %%20");
        CHECK_STR(sz_request_method(r), "POST", "method");
        CHECK(sz_request_header_count(r) == 1 && sz_request_header(r, 0, &n, &v) == 0 &&
                  strcmp(n, "Content-Type") == 0, "content type header");
        CHECK(strncmp(sz_request_base_string(r), "POST&https%3A%2F%2Fsocialize.us1", 32) == 0, "base");
        CHECK(sz_params_get(sz_request_params(r), "secret", NULL) == NULL, "secret never sent signed");
    }
    sz_request_free(r);
    /* caller params untouched */
    CHECK(sz_params_count(p) == 2, "params not modified");
    /* data centers and namespaces */
    o.api_method = "accounts.tfa.getProviders";
    o.api_domain = "eu1.gigya.com";
    r = sz_request_build(&o, p, &err);
    CHECK(r && strcmp(sz_request_url(r), "https://accounts.eu1.gigya.com/accounts.tfa.getProviders") == 0,
          "namespace url");
    sz_request_free(r);
    o.api_method = "/socialize.getUserInfo";
    o.api_domain = "cn1.gigya-api.cn";
    r = sz_request_build(&o, p, &err);
    CHECK(r && strcmp(sz_request_url(r), "https://socialize.cn1.gigya-api.cn/socialize.getUserInfo") == 0,
          "leading slash, cn1");
    sz_request_free(r);
    o.base_url = "http://127.0.0.1:18080/";
    o.api_method = "publishUserAction";
    o.user_key = "AUserKey";
    r = sz_request_build(&o, p, &err);
    CHECK(r && strcmp(sz_request_url(r), "http://127.0.0.1:18080/socialize.publishUserAction") == 0,
          "base url");
    CHECK(r && strstr(sz_request_body(r, NULL), "userKey=AUserKey") != NULL, "userKey sent");
    CHECK(r && strstr(sz_request_base_string(r), "127.0.0.1%3A18080") != NULL, "port signed");
    sz_request_free(r);
    sz_params_free(p);
}

static void expect_fail(sz_request_opts *o, sz_params *p, int code, const char *word)
{
    sz_error err = {0, ""};
    sz_request *r = sz_request_build(o, p, &err);
    CHECK(r == NULL && err.code == code && strstr(err.message, word),
          "expected %d naming '%s', got %d '%s'", code, word, err.code, err.message);
    sz_request_free(r);
}

static void test_request_errors(void)
{
    sz_request_opts o;
    sz_params *p = mk("UID", "u", NULL, NULL);
    const char *owned[] = {"sig", "nonce", "timestamp", "oauth_token", "apiKey", "userKey", "secret"};
    size_t i;
    memset(&o, 0, sizeof o);
    o.auth = SZ_AUTH_SIGNED;
    o.api_key = "k";
    o.secret = SECRET;
    o.nonce = "n";
    expect_fail(&o, p, 400002, "method");
    o.api_method = "bad method";
    expect_fail(&o, p, 400006, "method");
    o.api_method = "socialize.";
    expect_fail(&o, p, 400006, "method");
    o.api_method = "setStatus";
    o.api_key = NULL;
    expect_fail(&o, p, 400002, "apiKey");
    o.api_key = "k";
    o.secret = "not base64!";
    expect_fail(&o, p, 400006, "secret");
    o.secret = NULL;
    expect_fail(&o, p, 400002, "secret");
    o.secret = SECRET;
    o.api_domain = "evil.com/x?";
    expect_fail(&o, p, 400006, "apiDomain");
    o.api_domain = NULL;
    o.base_url = "ftp://127.0.0.1";
    expect_fail(&o, p, 400006, "url");
    o.base_url = "http://127.0.0.1/x?y=1";
    expect_fail(&o, p, 400006, "url");
    o.base_url = "http://127.0.0.1\r\nHost: x";
    expect_fail(&o, p, 400006, "url");
    o.base_url = "http://127.0.0.1:8080";
    o.api_key = "k\r\nX: y";
    expect_fail(&o, p, 400006, "apiKey");
    o.api_key = "k";
    for (i = 0; i < sizeof owned / sizeof owned[0]; i++) {
        sz_params *q = mk("UID", "u", owned[i], "x");
        expect_fail(&o, q, 400006, owned[i]);
        sz_params_free(q);
    }
    {
        sz_params *q = mk("UID", "u", "format", "xml");
        expect_fail(&o, q, 400006, "format");
        sz_params_free(q);
        q = mk("UID", "u", "bad key", "x");
        expect_fail(&o, q, 400006, "bad key");
        sz_params_free(q);
        q = mk("UID", "\xff\xfe", NULL, NULL);
        expect_fail(&o, q, 400006, "UID");
        sz_params_free(q);
        q = mk("UID", "u", "httpStatusCodes", "true");
        expect_fail(&o, q, 400006, "httpStatusCodes");
        sz_params_free(q);
    }
    o.auth = SZ_AUTH_SECRET;
    expect_fail(&o, p, 403006, "https");
    o.auth = SZ_AUTH_OAUTH2;
    o.access_token = "tok";
    expect_fail(&o, p, 400006, "https");
    o.auth = SZ_AUTH_JWT;
    expect_fail(&o, p, 400002, "userKey");
    o.auth = (sz_auth)42;
    expect_fail(&o, p, 400006, "auth");
    sz_params_free(p);
}

static void test_request_other_auth(void)
{
    sz_request_opts o;
    sz_params *p = mk("UID", "u 1", NULL, NULL);
    sz_request *r;
    sz_error err;
    memset(&o, 0, sizeof o);
    o.api_method = "socialize.getUserInfo";
    o.api_key = "APIKEY";
    o.secret = SECRET;
    o.user_key = "UKEY";
    o.auth = SZ_AUTH_SECRET;
    r = sz_request_build(&o, p, &err);
    CHECK(r != NULL, "secret mode: %s", err.message);
    if (r) {
        const char *b = sz_request_body(r, NULL);
        CHECK(strstr(b, "secret=c29jaWFsaXplLXJlZmVyZW5jZS1zZWNyZXQtMDAwMQ%3D%3D") != NULL, "secret sent");
        CHECK(strstr(b, "sig=") == NULL && strstr(b, "nonce=") == NULL, "not signed");
        CHECK(strstr(b, "userKey=UKEY") && strstr(b, "apiKey=APIKEY"), "keys");
    }
    sz_request_free(r);
    o.auth = SZ_AUTH_OAUTH2;
    o.access_token = "AT.123";
    r = sz_request_build(&o, p, &err);
    CHECK(r && strstr(sz_request_body(r, NULL), "oauth_token=AT.123") &&
              !strstr(sz_request_body(r, NULL), "apiKey="), "oauth2 body");
    sz_request_free(r);
    o.auth = SZ_AUTH_NONE;
    r = sz_request_build(&o, p, &err);
    CHECK(r && strcmp(sz_request_body(r, NULL),
                      "UID=u%201&apiKey=APIKEY&format=json&httpStatusCodes=false&sdk=socialize_c_0.1.0") == 0,
          "anonymous body: %s", r ? sz_request_body(r, NULL) : err.message);
    sz_request_free(r);
    sz_params_free(p);
}

static char *b64url_decode(const char *s, size_t n, size_t *outn)
{
    char *t = malloc(n + 4);
    size_t i;
    unsigned char *out = NULL;
    sz_error err;
    for (i = 0; i < n; i++)
        t[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
    sz_base64_decode(t, n, "jwt", &out, outn, &err);
    free(t);
    return (char *)out;
}

static void test_jwt(void)
{
    EVP_PKEY *key = EVP_RSA_gen(2048);
    BIO *bio = BIO_new(BIO_s_mem());
    char *pem, *body;
    long pemlen;
    sz_request_opts o;
    sz_params *p = mk("UID", "u", NULL, NULL);
    sz_request *r;
    sz_error err;
    const char *n, *v;
    PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL);
    pemlen = BIO_get_mem_data(bio, &pem);
    body = malloc((size_t)pemlen + 1);
    memcpy(body, pem, (size_t)pemlen);
    body[pemlen] = '\0';
    memset(&o, 0, sizeof o);
    o.api_method = "socialize.getUserInfo";
    o.api_key = "APIKEY";
    o.user_key = "UKEY";
    o.private_key_pem = body;
    o.timestamp = 1700000000;
    o.nonce = "jti-1";
    o.auth = SZ_AUTH_JWT;
    r = sz_request_build(&o, p, &err);
    CHECK(r != NULL, "jwt build: %s", err.message);
    if (r) {
        const char *tok, *d1, *d2;
        size_t hl, cl, sl;
        char *hdr, *claims, *sig;
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        CHECK(sz_request_header(r, 0, &n, &v) == 0 && strcmp(n, "Authorization") == 0 &&
                  strncmp(v, "Bearer ", 7) == 0, "bearer header");
        tok = v + 7;
        d1 = strchr(tok, '.');
        d2 = d1 ? strchr(d1 + 1, '.') : NULL;
        CHECK(d1 && d2 && !strchr(tok, '=') && !strchr(tok, '+'), "base64url without padding");
        if (d1 && d2) {
            hdr = b64url_decode(tok, (size_t)(d1 - tok), &hl);
            claims = b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), &cl);
            sig = b64url_decode(d2 + 1, strlen(d2 + 1), &sl);
            CHECK(hdr && hl == strlen("{\"alg\":\"RS256\",\"kid\":\"UKEY\",\"typ\":\"JWT\"}") &&
                      memcmp(hdr, "{\"alg\":\"RS256\",\"kid\":\"UKEY\",\"typ\":\"JWT\"}", hl) == 0, "jwt header");
            CHECK(claims && cl == strlen("{\"iat\":1700000000,\"jti\":\"jti-1\"}") &&
                      memcmp(claims, "{\"iat\":1700000000,\"jti\":\"jti-1\"}", cl) == 0, "jwt claims");
            CHECK(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
                      EVP_DigestVerify(ctx, (unsigned char *)sig, sl, (const unsigned char *)tok,
                                       (size_t)(d2 - tok)) == 1, "RS256 signature verifies");
            free(hdr);
            free(claims);
            free(sig);
        }
        EVP_MD_CTX_free(ctx);
        CHECK(strcmp(sz_request_body(r, NULL),
                     "UID=u&apiKey=APIKEY&format=json&httpStatusCodes=false&sdk=socialize_c_0.1.0") == 0,
              "jwt body has apiKey only: %s", sz_request_body(r, NULL));
    }
    sz_request_free(r);
    o.private_key_pem = "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n";
    expect_fail(&o, p, 400006, "privateKey");
    free(body);
    BIO_free(bio);
    EVP_PKEY_free(key);
    sz_params_free(p);
}

static void test_response(void)
{
    struct { const char *body; int http; int code; int status; const char *field, *value; } c[] = {
        {"{\"callId\":\"c1\",\"errorCode\":0,\"statusCode\":200,\"statusReason\":\"OK\",\"time\":\"t\"}",
         200, 0, 200, "callId", "c1"},
        {"  \n{\"errorCode\":403003,\"errorMessage\":\"Invalid request signature\",\"statusCode\":403}",
         200, 403003, 403, "errorMessage", "Invalid request signature"},
        {"{\"errorCode\":403048}", 200, 403048, 403, "errorMessage", "API Rate Limit Exceeded"},
        {"{\"errorCode\":\"400002\"}", 200, 400002, 400, "statusReason", "Bad Request"},
        {"{\"UID\":\"u\"}", 200, 0, 200, "UID", "u"},
        {"<html>bad gateway</html>", 502, 500001, 502, "errorMessage", "General Server error"},
        {"<html>bad gateway</html>", 502, 500001, 502, "errorDetails",
         "HTTP 502 Bad Gateway: reply is not a JSON object (24 bytes)"},
        {"{\"errorCode\":0,", 200, 500000, 200, "errorMessage", "Invalid response"},
        {"[1,2]", 200, 500000, 200, "statusReason", "OK"},
        {"", 0, 500000, 500, "statusReason", "Internal Server Error"},
        {"{}", 503, 500001, 0, "errorMessage", "General Server error"},
        {"{\"a\":1,\"a\":2}", 200, 500000, 200, "errorMessage", "Invalid response"},
        {"{\"errorCode\":500000}", 200, 500000, 500, "errorMessage", "General security warning"},
        {"{\"errorCode\":500001,\"statusCode\":500}", 500, 500001, 500, "statusReason", "Internal Server Error"},
    };
    size_t i;
    for (i = 0; i < sizeof c / sizeof c[0]; i++) {
        sz_error err;
        sz_response *r = sz_response_parse(c[i].body, strlen(c[i].body), c[i].http, &err);
        CHECK(r != NULL, "parse %zu", i);
        if (!r)
            continue;
        CHECK(sz_response_error_code(r) == c[i].code, "case %zu code %d want %d", i,
              sz_response_error_code(r), c[i].code);
        if (c[i].status)
            CHECK(sz_response_status_code(r) == c[i].status, "case %zu status %d want %d", i,
                  sz_response_status_code(r), c[i].status);
        CHECK_STR(sz_response_string(r, c[i].field), c[i].value, c[i].field);
        CHECK(json_is_object(sz_response_json(r)), "root object");
        sz_response_free(r);
    }
}

static void test_params(void)
{
    sz_params *p = sz_params_new();
    const char *k;
    size_t kl;
    char *q;
    sz_params_set(p, "b", 1, "2", 1);
    sz_params_set(p, "a", 1, "1", 1);
    sz_params_set(p, "B", 1, "x", 1);
    sz_params_set(p, "a", 1, "one", 3);
    CHECK(sz_params_count(p) == 3, "count");
    CHECK(sz_params_at(p, 0, &k, &kl, NULL, NULL) == 0 && k[0] == 'B', "byte order");
    CHECK(sz_params_at(p, 3, &k, &kl, NULL, NULL) == -1, "out of range");
    q = sz_params_query(p, NULL);
    CHECK_STR(q, "B=x&a=one&b=2", "query");
    sz_free(q);
    CHECK(sz_params_remove(p, "a") == 1 && sz_params_remove(p, "a") == 0, "remove");
    CHECK(sz_params_get(p, "a", NULL) == NULL, "gone");
    sz_params_free(p);
    q = sz_params_query(NULL, NULL);
    CHECK_STR(q, "", "empty query");
    sz_free(q);
    sz_params_free(NULL);
    sz_request_free(NULL);
    sz_response_free(NULL);
}

static void test_validators(void)
{
    const char *uid = "_guid_AbC123xyz==", *sig = "FkkrCThNfmRcZ3i3oGHzwF3I1wo=";
    CHECK(sz_validate_user_signature(uid, "1700000000", SECRET, sig, 180, 1700000180) == 1, "edge 180 valid");
    CHECK(sz_validate_user_signature(uid, "1700000000", SECRET, sig, 180, 1700000181) == 0, "181 expired");
    CHECK(sz_validate_user_signature(uid, "1700000000", SECRET, sig, 180, 1699999820) == 1, "-180 valid");
    CHECK(sz_validate_user_signature(uid, "1700000000", SECRET, sig, 180, 1699999819) == 0, "future");
    CHECK(sz_validate_user_signature(uid, "1700000000", SECRET, sig, -1, 0) == 1, "no window");
    CHECK(sz_validate_user_signature(uid, "17e8", SECRET, sig, 180, 0) == 0, "bad ts with window");
    CHECK(sz_validate_user_signature(uid, "1700000000", "!!", sig, -1, 0) == 0, "bad secret");
    CHECK(sz_validate_user_signature(uid, "1700000000", SECRET, NULL, -1, 0) == 0, "no signature");
    CHECK(sz_validate_user_signature(NULL, "1700000000", SECRET, sig, -1, 0) == 0, "no uid");
    CHECK(sz_validate_webhook_signature(NULL, 0, SECRET, "x") == 0, "webhook wrong");
    CHECK(strcmp(sz_strerror(403003), "Invalid request signature") == 0, "strerror");
    CHECK(strcmp(sz_strerror(1), "Unknown error") == 0, "strerror unknown");
    CHECK(strcmp(sz_version(), SZ_VERSION_STRING) == 0, "version");
}

/* Every adapter and action, success and failure paths, under ASan/LSan:
 * nothing may leak or overrun whatever the input. */
static void test_providers(void)
{
    const char *const *names = sz_provider_names();
    const char *actions[] = {"publish", "status", "notify", "graph", "session", "instance"};
    const char *bodies[] = {"", "{", "[]", "{\"error\":{\"code\":190}}", "{\"data\":{\"id\":\"1\"}}",
                            "{\"ok\":true,\"result\":{\"message_id\":1,\"chat\":{\"id\":2}}}",
                            "{\"error\":\"ExpiredToken\"}", "{\"response\":{\"post_id\":3}}",
                            "{\"message\":\"duplicate of urn:li:share:1\",\"status\":422}",
                            "{\"error_code\":20032}", "<html>"};
    int statuses[] = {200, 201, 400, 401, 403, 422, 426, 429, 500};
    json_t *in = json_pack("{s:{s:s, s:s, s:s, s:s}, s:s, s:s, s:s, s:s, s:{s:f, s:f, s:s}, s:{s:s, s:s},"
                           " s:{s:i, s:i}, s:s, s:s}",
                           "userAction", "title", "T\xc3\xa9st \xf0\x9f\x9a\x80", "linkBack", "https://game.example/x",
                           "userMessage", "msg #tag (x) @y", "description", "d",
                           "status", "status https://game.example/s", "body", "hello", "recipient", "12345",
                           "rip", "1.2.3.4", "userLocation", "latitude", 1.5, "longitude", 2.5, "placeID", "p",
                           "session", "accessJwt", "a", "did", "did:plc:x",
                           "limits", "maxCharacters", 100, "charactersReservedPerUrl", 23,
                           "graphPath", "/me/feed", "method", "POST");
    json_t *app = json_pack("{s:s, s:s, s:s, s:s, s:s}", "consumerKey", "ck", "consumerSecret", "cs",
                            "appSecret", "as", "safeDomain", "game.example", "botToken", "1:b");
    json_t *user = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:s}", "token", "t",
                             "tokenSecret", "ts", "accessToken", "at", "pageId", "9", "personId", "p",
                             "userId", 7, "instance", "https://m.example", "identifier", "i",
                             "appPassword", "pw", "chatId", "-1");
    sz_header hs[] = {{"x-rate-limit-reset", "1700000900"}, {"X-RestLi-Id", "urn:li:share:9"},
                      {"ratelimit-reset", "1700000100"}, {"x-ratelimit-reset", "2023-11-14T22:20:00.000Z"}};
    size_t a, b, k;
    int built = 0, failed = 0;
    for (; *names; names++) {
        for (a = 0; a < sizeof actions / sizeof actions[0]; a++) {
            sz_provider_call c;
            json_t *res = NULL;
            sz_error err;
            sz_request *r;
            memset(&c, 0, sizeof c);
            c.provider = *names;
            c.action = actions[a];
            c.input = in;
            c.app = app;
            c.user = user;
            c.timestamp = 1700000000;
            c.nonce = "n";
            r = sz_provider_request(&c, &res, &err);
            CHECK((r != NULL) != (res != NULL), "%s %s: a request or a result", *names, actions[a]);
            if (r) {
                built++;
                CHECK(strncmp(sz_request_url(r), "https://", 8) == 0, "%s url %s", *names, sz_request_url(r));
            } else {
                failed++;
                CHECK(json_is_false(json_object_get(res, "ok")) && json_is_string(json_object_get(res, "category")),
                      "%s %s failure has a category", *names, actions[a]);
            }
            sz_request_free(r);
            json_decref(res);
            for (b = 0; b < sizeof bodies / sizeof bodies[0]; b++)
                for (k = 0; k < sizeof statuses / sizeof statuses[0]; k++) {
                    json_t *p = sz_provider_parse(&c, statuses[k], hs, 4, bodies[b], strlen(bodies[b]), 1700000000);
                    CHECK(p && json_is_boolean(json_object_get(p, "ok")) &&
                              json_is_integer(json_object_get(p, "errorCode")),
                          "%s %s parse %d %s", *names, actions[a], statuses[k], bodies[b]);
                    json_decref(p);
                }
        }
    }
    CHECK(built >= 20 && failed >= 10, "built %d, refused %d", built, failed);
    json_decref(in);
    json_decref(app);
    json_decref(user);
    {
        char *h = sz_oauth1_authorization("POST", "https://api.x.com/2/tweets", "ck", "cs", "t", "ts", 1700000000, "n1");
        /* computed independently with Python's hmac (RFC 5849) */
        CHECK(h && strstr(h, "oauth_signature=\"rctG6fQIthpOcfILXilAkjmnfvA%3D\""), "oauth1: %s", h ? h : "(null)");
        sz_free(h);
        CHECK(sz_oauth1_authorization(NULL, "u", "a", "b", "c", "d", 1, "n") == NULL, "oauth1 refuses NULL");
    }
    {
        json_t *u = sz_bookmark_url("twitter", "https://g.example/?a=1", "T", NULL, NULL, NULL);
        CHECK_STR(json_string_value(json_object_get(u, "url")),
                  "https://x.com/intent/tweet?text=T&url=https%3A%2F%2Fg.example%2F%3Fa%3D1", "bookmark");
        json_decref(u);
    }
}

/* Inputs the fuzzers found (fuzz/): each once crashed, leaked or overflowed. */
static void test_fuzz_regressions(void)
{
    const char *bodies[] = {"{\"errorCode\":{\"facebook\":\"1_2\"}}", "{\"errorCode\":\"abc\"}", "{\"errorCode\":1e300}", "{\"errorCode\":-9223372036854775807}",
                            "{\"errorCode\":\"99999999999\"}", "{\"a\":\"\\u0" "\xc9\x9a" "9\"}"};
    size_t i;
    for (i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        sz_error err;
        sz_response *r = sz_response_parse(bodies[i], strlen(bodies[i]), 200, &err);
        const char *d;
        CHECK(r != NULL, "regression body %zu parses to a response", i);
        if (!r)
            continue;
        CHECK(json_is_integer(json_object_get(sz_response_json(r), "errorCode")), "errorCode is a number (%zu)", i);
        d = sz_response_string(r, "errorDetails");
        if (d) {
            const char *p;
            for (p = d; *p; p++)
                CHECK((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f, "details are printable ASCII");
        }
        sz_response_free(r);
    }
    {
        /* a missing credential after the endpoint was resolved: no leak (LSan) */
        const char *provs[] = {"facebook", "linkedin", "vkontakte", "sina", "telegram", "bluesky", "mastodon"};
        json_t *in = json_pack("{s:{}}", "userAction"), *empty = json_object(), *res;
        for (i = 0; i < sizeof provs / sizeof provs[0]; i++) {
            sz_provider_call c;
            sz_error err;
            memset(&c, 0, sizeof c);
            c.provider = provs[i];
            c.action = strcmp(provs[i], "bluesky") == 0 ? "session" : "publish";
            c.input = in;
            c.app = empty;
            c.user = empty;
            res = NULL;
            CHECK(sz_provider_request(&c, &res, &err) == NULL && res, "%s without credentials", provs[i]);
            json_decref(res);
        }
        /* an empty userAction on a network that joins text parts */
        {
            json_t *u = json_pack("{s:s, s:s}", "accessToken", "t", "instance", "https://m.example");
            sz_provider_call c;
            sz_error err;
            sz_request *r;
            memset(&c, 0, sizeof c);
            c.provider = "mastodon";
            c.action = "publish";
            c.input = in;
            c.app = empty;
            c.user = u;
            res = NULL;
            r = sz_provider_request(&c, &res, &err);
            CHECK(r == NULL && res, "mastodon with nothing to post is refused");
            sz_request_free(r);
            json_decref(res);
            json_decref(u);
        }
        json_decref(in);
        json_decref(empty);
    }
}

/* ---- cstrict: saturation, NUL, allocation failures (issue 9 items 2, 6, 7) ---- */

long long sz_sat_add(long long a, long long b);
long long sz_sat_sub(long long a, long long b);
long long sz_sat_mul(long long a, long long b);
long long sz_sat_from_double(double d);
int sz_parse_uint(const char *s, long long *out);

/* The allocator hook compiled into the core for test_core only
 * (-DSZ_TEST_FAIL_ALLOC): with fail_at >= 0, the fail_at-th allocation
 * (counting from 0) returns NULL, every other one succeeds. */
static long fail_at = -1, alloc_count;

static int alloc_fails(void)
{
    return fail_at >= 0 && alloc_count++ == fail_at;
}
void *sz_test_malloc(size_t n) { return alloc_fails() ? NULL : malloc(n); }
void *sz_test_calloc(size_t n, size_t m) { return alloc_fails() ? NULL : calloc(n, m); }
void *sz_test_realloc(void *p, size_t n) { return alloc_fails() ? NULL : realloc(p, n); }

static void test_cstrict_saturation(void)
{
    static const char *hostile[] = {"-9223372036854775808", "9223372036854775807", "99999999999999999999999",
                                    "-5", "+5", "  1700000900 ", "1e400", "abc", "", "0x10", "17000009.5"};
    static const char *nets[][3] = {{"twitter", "x-rate-limit-reset", "{\"title\":\"Too Many Requests\"}"},
                                    {"bluesky", "ratelimit-reset", "{\"error\":\"RateLimitExceeded\"}"},
                                    {"mastodon", "x-ratelimit-reset", "{\"error\":\"slow\"}"}};
    static const long long nows[] = {1700000000LL, 0, -9223372036854775807LL - 1, 9223372036854775807LL};
    sz_provider_call c;
    size_t i, n, k;
    long long v;
    json_t *r;
    volatile double zero = 0.0, big = 1e308;
    CHECK(sz_sat_sub(-9223372036854775807LL - 1, 1700000000) == -9223372036854775807LL - 1, "sat_sub min");
    CHECK(sz_sat_sub(9223372036854775807LL, -1) == 9223372036854775807LL, "sat_sub max");
    CHECK(sz_sat_mul(9223372036854775807LL, 60) == 9223372036854775807LL, "sat_mul max");
    CHECK(sz_sat_mul(-9223372036854775807LL, 60) == -9223372036854775807LL - 1, "sat_mul min");
    CHECK(sz_sat_mul(-3, -4) == 12 && sz_sat_mul(-3, 4) == -12 && sz_sat_add(2, 3) == 5, "sat small");
    CHECK(sz_sat_from_double(zero / zero) == 0 && sz_sat_from_double(big * 10) == 9223372036854775807LL &&
              sz_sat_from_double(-big * 10) == -9223372036854775807LL - 1 && sz_sat_from_double(1.5) == 1,
          "sat_from_double");
    CHECK(sz_parse_uint(" 42\t", &v) == 0 && v == 42, "parse_uint spaces");
    CHECK(sz_parse_uint("99999999999999999999999", &v) == 0 && v == 9223372036854775807LL, "parse_uint saturates");
    CHECK(sz_parse_uint("+5", &v) == -1 && sz_parse_uint("-5", &v) == -1 && sz_parse_uint("", &v) == -1 &&
              sz_parse_uint("1e3", &v) == -1 && sz_parse_uint(NULL, &v) == -1,
          "parse_uint refuses");
    memset(&c, 0, sizeof c);
    c.action = "publish";
    for (n = 0; n < 3; n++)
        for (i = 0; i < sizeof hostile / sizeof *hostile; i++)
            for (k = 0; k < 4; k++) {
                sz_header h = {nets[n][1], hostile[i]};
                json_t *ra;
                c.provider = nets[n][0];
                r = sz_provider_parse(&c, 429, &h, 1, nets[n][2], strlen(nets[n][2]), nows[k]);
                ra = json_object_get(r, "retryAfter");
                CHECK(!ra || (json_integer_value(ra) >= 0 && json_integer_value(ra) <= 31622400),
                      "%s %s now=%lld: retryAfter %lld", nets[n][0], hostile[i], nows[k],
                      (long long)json_integer_value(ra));
                json_decref(r);
            }
    {
        sz_header h = {"x-business-use-case-usage", "{\"1\":[{\"estimated_time_to_regain_access\":9223372036854775807}]}"};
        const char *b = "{\"error\":{\"code\":80001}}";
        c.provider = "facebook";
        r = sz_provider_parse(&c, 400, &h, 1, b, strlen(b), 1700000000);
        CHECK(json_integer_value(json_object_get(r, "retryAfter")) == 31622400, "facebook minutes saturate");
        json_decref(r);
    }
    {
        const char *b = "{\"ok\":false,\"error_code\":-9223372036854775808,\"parameters\":{\"retry_after\":9223372036854775807}}";
        c.provider = "telegram";
        r = sz_provider_parse(&c, 429, NULL, 0, b, strlen(b), 0);
        CHECK(json_integer_value(json_object_get(r, "retryAfter")) == 31622400, "telegram retry_after capped");
        json_decref(r);
        b = "{\"error_code\":\"99999999999999999999\",\"error\":\"x\"}";
        c.provider = "sina";
        r = sz_provider_parse(&c, 400, NULL, 0, b, strlen(b), 0);
        CHECK(json_is_false(json_object_get(r, "ok")), "sina huge string code");
        json_decref(r);
        c.provider = "linkedin";
        r = sz_provider_parse(&c, 429, NULL, 0, "{}", 2, -9223372036854775807LL - 1);
        CHECK(json_integer_value(json_object_get(r, "retryAfter")) > 0, "linkedin now=INT64_MIN");
        json_decref(r);
    }
    {
        /* an instance's INT64 limits: the defaults stay */
        json_t *in = json_pack("{s:s, s:{s:I, s:I}}", "status", "hi https://game.example/x", "limits",
                               "maxCharacters", (json_int_t)9223372036854775807LL, "charactersReservedPerUrl",
                               (json_int_t)9223372036854775807LL);
        json_t *user = json_pack("{s:s, s:s}", "instance", "https://m.example", "accessToken", "a"), *res = NULL;
        sz_request *rq;
        sz_error err;
        c.provider = "mastodon";
        c.action = "status";
        c.input = in;
        c.user = user;
        rq = sz_provider_request(&c, &res, &err);
        CHECK(rq != NULL, "mastodon with INT64_MAX limits builds");
        sz_request_free(rq);
        json_decref(res);
        json_object_set_new(json_object_get(in, "limits"), "charactersReservedPerUrl",
                            json_integer(-9223372036854775807LL - 1));
        rq = sz_provider_request(&c, &res, &err);
        CHECK(rq != NULL, "mastodon with INT64_MIN url weight builds");
        sz_request_free(rq);
        json_decref(in);
        json_decref(user);
        c.input = c.user = NULL;
    }
    /* validators: |now - timestamp| never overflows */
    {
        char sig[29];
        sz_error err;
        const char *ts = "-999999999999999999";
        char *s = sz_sign(SECRET, "-999999999999999999_u", 21, &err);
        CHECK(s != NULL, "sign");
        snprintf(sig, sizeof sig, "%s", s ? s : "");
        sz_free(s);
        CHECK(sz_validate_user_signature("u", ts, SECRET, sig, -1, 0) == 1, "sig without window");
        CHECK(sz_validate_user_signature("u", ts, SECRET, sig, 100, 9223372036854775807LL) == 0,
              "now INT64_MAX, ts -1e18: outside, no overflow");
    }
    /* a call without an action is classified, never dereferenced */
    c.provider = "twitter";
    c.action = NULL;
    r = sz_provider_parse(&c, 200, NULL, 0, "{}", 2, 0);
    CHECK(r && json_is_false(json_object_get(r, "ok")), "parse without action fails cleanly");
    json_decref(r);
}

static void test_cstrict_nul_inputs(void)
{
    /* a credential or text with NUL inside is refused (400006), never cut */
    static const char *cases[][3] = {{"telegram", "app", "botToken"},   {"facebook", "user", "accessToken"},
                                     {"twitter", "app", "consumerSecret"}, {"linkedin", "user", "accessToken"},
                                     {"mastodon", "user", "instance"},  {"vkontakte", "user", "accessToken"},
                                     {"sina", "user", "accessToken"},   {"bluesky", "user", "appPassword"}};
    size_t i;
    for (i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *app = json_pack("{s:s, s:s, s:s, s:s}", "consumerKey", "k", "consumerSecret", "s", "botToken", "1:b",
                                "safeDomain", "game.example");
        json_t *user = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "token", "t", "tokenSecret", "s",
                                 "accessToken", "a", "pageId", "1", "personId", "p", "instance", "https://m.example",
                                 "chatId", "5", "ownerId", "1");
        json_t *in = json_pack("{s:s, s:s}", "status", "hi https://game.example/x", "rip", "1.2.3.4"), *res = NULL;
        sz_provider_call c;
        sz_request *r;
        sz_error err;
        json_object_set_new(user, "identifier", json_string("i"));
        json_object_set_new(strcmp(cases[i][1], "app") == 0 ? app : user, cases[i][2],
                            json_stringn("secret\0evil", 11));
        memset(&c, 0, sizeof c);
        c.provider = cases[i][0];
        c.action = strcmp(cases[i][0], "bluesky") == 0 ? "session" : "status";
        c.input = in;
        c.app = app;
        c.user = user;
        c.nonce = "n";
        r = sz_provider_request(&c, &res, &err);
        CHECK(r == NULL && json_integer_value(json_object_get(res, "errorCode")) == 400006 &&
                  strstr(json_string_value(json_object_get(res, "errorDetails")), cases[i][2]),
              "%s: NUL in %s refused", cases[i][0], cases[i][2]);
        sz_request_free(r);
        json_decref(res);
        json_decref(in);
        json_decref(app);
        json_decref(user);
    }
}

static int same_request(const sz_request *a, const sz_request *b)
{
    size_t i, al, bl;
    const char *ab = sz_request_body(a, &al), *bb = sz_request_body(b, &bl);
    if (strcmp(sz_request_method(a), sz_request_method(b)) || strcmp(sz_request_url(a), sz_request_url(b)) ||
        (!ab) != (!bb) || (ab && (al != bl || memcmp(ab, bb, al))) ||
        sz_request_header_count(a) != sz_request_header_count(b))
        return 0;
    for (i = 0; i < sz_request_header_count(a); i++) {
        const char *an, *av, *bn, *bv;
        sz_request_header(a, i, &an, &av);
        sz_request_header(b, i, &bn, &bv);
        if (strcmp(an, bn) || strcmp(av, bv))
            return 0;
    }
    return 1;
}

/* Every allocation of every network's build is failed in turn: the result is
 * the complete request or no request at all (never one without its
 * Authorization, access_token or bot token); ASan/LSan check the rest. */
static void test_alloc_failures(void)
{
    const char *const *names = sz_provider_names();
    static const char *actions[] = {"publish", "status", "graph", "session", "instance"};
    json_t *in = json_pack("{s:{s:s, s:s, s:s, s:s}, s:s, s:s, s:{s:f, s:f, s:s}, s:{s:s, s:s},"
                           " s:s, s:s, s:{s:s, s:i}}",
                           "userAction", "title", "T\xc3\xa9st", "linkBack", "https://game.example/x",
                           "userMessage", "msg https://game.example/m", "description", "d",
                           "status", "status https://game.example/s", "rip", "1.2.3.4",
                           "userLocation", "latitude", 1.5, "longitude", 2.5, "placeID", "p",
                           "session", "accessJwt", "a", "did", "did:plc:x",
                           "graphPath", "/me/feed", "method", "GET", "graphParams", "fields", "id", "limit", 5);
    json_t *app = json_pack("{s:s, s:s, s:s, s:s, s:s}", "consumerKey", "ck", "consumerSecret", "cs",
                            "appSecret", "as", "safeDomain", "game.example", "botToken", "1:b");
    json_t *user = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:s}", "token", "t",
                             "tokenSecret", "ts", "accessToken", "at", "pageId", "9", "personId", "p",
                             "userId", 7, "instance", "https://m.example", "identifier", "i",
                             "appPassword", "pw", "chatId", "-1");
    size_t n, a;
    long runs = 0, fails = 0;
    for (n = 0; names[n]; n++)
        for (a = 0; a < sizeof actions / sizeof *actions; a++) {
            sz_provider_call c;
            sz_request *ref, *r;
            json_t *res = NULL;
            sz_error err;
            long k;
            memset(&c, 0, sizeof c);
            c.provider = names[n];
            c.action = actions[a];
            c.input = in;
            c.app = app;
            c.user = user;
            c.timestamp = 1700000000;
            c.nonce = "n1";
            c.setup = json_object_get(in, "session"); /* Bluesky's session; other networks ignore it */
            ref = sz_provider_request(&c, &res, &err);
            json_decref(res);
            if (!ref)
                continue;
            json_set_alloc_funcs(sz_test_malloc, free);
            for (k = 0;; k++) {
                int injected;
                res = NULL;
                memset(&err, 0, sizeof err);
                fail_at = k;
                alloc_count = 0;
                r = sz_provider_request(&c, &res, &err);
                injected = alloc_count > k;
                fail_at = -1;
                runs++;
                if (r) {
                    if (getenv("SZ_DEBUG") && !same_request(r, ref)) {
                        size_t q, bl;
                        const char *hn, *hv, *bd = sz_request_body(r, &bl);
                        fprintf(stderr, "URL %s\nBODY %.*s\n", sz_request_url(r), (int)bl, bd ? bd : "");
                        for (q = 0; q < sz_request_header_count(r); q++) {
                            sz_request_header(r, q, &hn, &hv);
                            fprintf(stderr, "H %s: %s\n", hn, hv);
                        }
                    }
                    CHECK(same_request(r, ref), "%s %s: allocation %ld failed, yet a different request was built",
                          names[n], actions[a], k);
                } else {
                    fails++;
                    CHECK(err.code == SZ_E_INTERNAL || (res && json_is_false(json_object_get(res, "ok"))),
                          "%s %s: allocation %ld failed without a clean failure", names[n], actions[a], k);
                }
                sz_request_free(r);
                json_decref(res);
                if (!injected)
                    break;
            }
            json_set_alloc_funcs(malloc, free);
            CHECK(k > 3, "%s %s: the allocations were counted (%ld)", names[n], actions[a], k);
            sz_request_free(ref);
        }
    CHECK(runs > 100 && fails > 50, "allocation failures injected: %ld runs, %ld failed", runs, fails);
    json_decref(in);
    json_decref(app);
    json_decref(user);
}

/* The private-network guard: sz_url_check and sz_addr_blocked (sz_guard.c). */
static void url_refused(const char *url, size_t len, const char *word)
{
    sz_url_parts u;
    const char *why = sz_url_check(url, len, &u);
    CHECK(why != NULL && strstr(why, word) != NULL, "url [%.*s]: got [%s] want [%s]", (int)len, url,
          why ? why : "(accepted)", word);
}

static void test_guard_urls(void)
{
    static const struct { const char *url, *word; } bad[] = {
        {"https://x@127.0.0.1", "user information"},
        {"https://a.com:443@127.0.0.1", "user information"},
        {"http://127.0.0.1:80@evil", "user information"},
        {"http://2130706433", "private"},
        {"http://0X7F000001", "private"},
        {"http://0x7f.1", "private"},
        {"http://127.1", "private"},
        {"http://0177.0.0.1", "private"},
        {"http://127.000.000.001", "private"},
        {"http://0", "private"},
        {"http://127.0.0.1.", "private"},
        {"http://[0:0:0:0:0:0:0:1]", "private"},
        {"http://[::ffff:127.0.0.1]", "private"},
        {"http://[::ffff:169.254.169.254]", "private"},
        {"http://[::127.0.0.1]", "private"},
        {"http://[::ffff:7f00:1]", "private"},
        {"http://[0::1]", "private"},
        {"http://[FC00::1]", "private"},
        {"http://[fe80::1%25eth0]", "zone id"},
        {"http://224.0.0.1", "private"},
        {"http://255.255.255.255", "private"},
        {"http://100.64.0.1", "private"},
        {"http://172.31.255.255", "private"},
        {"http://localhost", "localhost"},
        {"http://LOCALHOST.", "localhost"},
        {"http://foo.localhost", "localhost"},
        {"http://a.com\\@127.0.0.1", "backslash"},
        {"http://a.com\t", "control"},
        {"http://%31%32%37.0.0.1", "percent"},
        {"file:///etc/passwd", "https://"},
        {"gopher://a.com", "https://"},
        {"ftp://a.com", "https://"},
        {"http://", "empty host"},
        {"http://a.com:0", "port"},
        {"http://a.com:65536", "port"},
        {"http://a.com:", "port"},
        {"http://1.2.3", "dotted-decimal"},
        {"http://0x1.0x2.0x3.0x4", "dotted-decimal"},
        {"http://4294967296", "not a valid IPv4"},
        {"http://1.2.3.256", "not a valid IPv4"},
        {"http://[::1", "closing bracket"},
        {"http://[1:2:3:4:5:6:7:8:9]", "not a valid"},
        {"http://[1:2:3:4:5:6:7::8]", "not a valid"},
        {"http://[:1::2]", "not a valid"},
        {"http://[1::2:]", "not a valid"},
        {"http://[::1.2.3]", "not a valid"},
    };
    static const struct { const char *url, *host; int port, family; } good[] = {
        {"https://mastodon.social", "mastodon.social", 443, 0},
        {"HTTP://Pds.Example.COM.:8080/x?y#z", "pds.example.com", 8080, 0},
        {"https://8.8.8.8/", "8.8.8.8", 443, 4},
        {"https://[2001:db8::1]:1/", "2001:db8::1", 1, 6},
        {"https://[::ffff:8.8.8.8]", "::ffff:8.8.8.8", 443, 6},
        {"https://[1:2:3:4:5:6:7:8]", "1:2:3:4:5:6:7:8", 443, 6},
    };
    size_t i;
    sz_url_parts u;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        url_refused(bad[i].url, strlen(bad[i].url), bad[i].word);
    /* lengths, not NUL: a NUL inside is refused, not a terminator */
    url_refused("http://a.com\0@127.0.0.1", 23, "NUL");
    url_refused("http://127.0.0.1", 0, "empty");
    CHECK(sz_url_check(NULL, 3, &u) != NULL, "NULL url");
    CHECK(sz_url_check("http://a.com", 12, NULL) != NULL, "NULL out");
    CHECK(sz_url_check("http://127.0.0.1", 16, &u) && u.blocked == 1, "private literal: blocked flag");
    CHECK(sz_url_check("http://127.1", 12, &u) && u.blocked == 0, "non-canonical: not liftable");
    CHECK(sz_url_check("http://x@127.0.0.1", 18, &u) && u.blocked == 0, "userinfo: not liftable");
    for (i = 0; i < sizeof good / sizeof good[0]; i++) {
        const char *why = sz_url_check(good[i].url, strlen(good[i].url), &u);
        CHECK(why == NULL, "%s refused: %s", good[i].url, why ? why : "");
        if (why)
            continue;
        CHECK_STR(u.host, good[i].host, good[i].url);
        CHECK(u.port == good[i].port && u.family == good[i].family, "%s: port %d family %d", good[i].url,
              u.port, u.family);
    }
}

static int ip_blocked(const char *s)
{
    unsigned char a[16];
    int f = sz_ip_parse(s, strlen(s), a);
    return f ? sz_addr_blocked(f, a) : -1;
}

static void test_guard_addresses(void)
{
    static const char *const blocked[] = {
        "0.0.0.0", "0.255.255.255", "127.0.0.1", "127.255.255.255", "10.0.0.0", "10.255.255.255",
        "172.16.0.0", "172.31.255.255", "192.168.0.0", "192.168.255.255", "169.254.0.0", "169.254.255.255",
        "100.64.0.0", "100.127.255.255", "224.0.0.0", "239.255.255.255", "255.255.255.255",
        "::", "::1", "fc00::", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fe80::", "febf::1", "ff00::",
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::ffff:127.0.0.1", "::ffff:0.0.0.0", "::ffff:10.0.0.1",
        "::ffff:172.16.0.1", "::ffff:192.168.1.1", "::ffff:169.254.169.254", "::ffff:100.64.0.1",
        "::ffff:224.0.0.1", "::ffff:255.255.255.255", "::127.0.0.1", "::10.0.0.1", "::169.254.169.254",
        "::ffff:7f00:1", "64:ff9b::127.0.0.1", "2002:7f00:1::", "192.0.0.170", "198.18.0.1",
        "198.19.255.255", "2001::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "::ffff:198.18.0.1", NULL};
    static const char *const allowed[] = {
        "172.15.255.255", "172.32.0.0", "100.63.255.255", "100.128.0.0", "169.253.255.255",
        "169.255.0.0", "11.0.0.0", "9.255.255.255", "223.255.255.255", "192.167.255.255", "192.169.0.0",
        "1.1.1.1", "2001:db8::1", "fbff::1", "fe7f::1", "::ffff:8.8.8.8", "::ffff:172.32.0.0",
        "64:ff9b::808:808", "192.0.1.0", "191.255.255.255", "198.17.255.255", "198.20.0.0", "2001:1::1",
        "2001:4860:4860::8888", NULL};
    static const unsigned char any4[4] = {0, 0, 0, 0};
    size_t i;
    for (i = 0; blocked[i]; i++)
        CHECK(ip_blocked(blocked[i]) == 1, "%s should be blocked", blocked[i]);
    for (i = 0; allowed[i]; i++)
        CHECK(ip_blocked(allowed[i]) == 0, "%s should be allowed", allowed[i]);
    CHECK(sz_addr_blocked(5, any4) == 1, "unknown family is blocked");
    CHECK(sz_addr_blocked(4, NULL) == 1, "NULL address is blocked");
    CHECK(ip_blocked("127.1") == -1 && ip_blocked("::1%lo") == -1 && ip_blocked("") == -1,
          "non-literals are not addresses");
}

/* Issue 10 "Wire fidelity" items 4-8 (spec/wire_spec.lua has the full rows). */
static json_t *wire_parse(const char *provider, int status, const sz_header *h, size_t nh, const char *body)
{
    sz_provider_call c;
    json_t *in = json_object(), *r;
    memset(&c, 0, sizeof c);
    c.provider = provider;
    c.action = "publish";
    c.input = c.app = c.user = in;
    r = sz_provider_parse(&c, status, h, nh, body, strlen(body), 1700000000);
    json_decref(in);
    return r;
}

static json_t *wire_body(const char *provider, const char *action, json_t *in, json_t *app, json_t *user)
{
    sz_provider_call c;
    json_t *res = NULL, *b = NULL;
    sz_error err;
    sz_request *r;
    memset(&c, 0, sizeof c);
    c.provider = provider;
    c.action = action;
    c.input = in;
    c.app = app;
    c.user = user;
    c.timestamp = 1700000000;
    c.nonce = "n";
    r = sz_provider_request(&c, &res, &err);
    if (r) {
        b = json_loadb(sz_request_body(r, NULL), strlen(sz_request_body(r, NULL)), 0, NULL);
        if (!b) /* a form body */
            b = json_pack("{s:s}", "form", sz_request_body(r, NULL));
    } else {
        b = res ? json_incref(res) : NULL;
    }
    sz_request_free(r);
    json_decref(res);
    json_decref(in);
    json_decref(app);
    json_decref(user);
    return b;
}

static void test_wire_fidelity(void)
{
    sz_header daily[] = {{"x-rate-limit-remaining", "90"}, {"x-rate-limit-reset", "1700000900"},
                         {"x-user-limit-24hour-remaining", "0"}, {"x-user-limit-24hour-reset", "1700040000"},
                         {"x-app-limit-24hour-remaining", "0"}, {"x-app-limit-24hour-reset", "1700050000"}};
    json_t *r = wire_parse("twitter", 429, daily, 6, "{\"title\":\"Too Many Requests\"}"), *b;
    CHECK(json_integer_value(json_object_get(r, "retryAfter")) == 50000, "x: the app's daily reset, the longest");
    CHECK_STR(S(r, "scope"), "app", "x: app scope");
    json_decref(r);
    r = wire_parse("twitter", 429, daily, 4, "{\"title\":\"Too Many Requests\"}");
    CHECK(json_integer_value(json_object_get(r, "retryAfter")) == 40000, "x: the user's daily reset");
    CHECK_STR(S(r, "scope"), "account", "x: account scope");
    json_decref(r);
    r = wire_parse("twitter", 402, NULL, 0, "{\"title\":\"CreditsDepleted\",\"type\":\"https://api.twitter.com/2/problems/credits\"}");
    CHECK_STR(S(r, "category"), "quota_exhausted", "x: 402");
    CHECK(json_integer_value(json_object_get(r, "errorCode")) == 400124, "x: 402 code");
    json_decref(r);

    r = wire_parse("telegram", 400, NULL, 0,
                   "{\"ok\":false,\"error_code\":400,\"description\":\"Bad Request: group chat was upgraded to a "
                   "supergroup chat\",\"parameters\":{\"migrate_to_chat_id\":-1001234567890}}");
    CHECK_STR(S(r, "migrateToChatId"), "-1001234567890", "telegram: migrateToChatId");
    CHECK(S(r, "errorDetails") && strstr(S(r, "errorDetails"), "migrate_to_chat_id -1001234567890"), "telegram: details");
    CHECK_STR(S(r, "category"), "content_invalid", "telegram: category");
    json_decref(r);

    b = wire_body("sina", "publish",
                  json_pack("{s:s, s:{s:s, s:s}}", "rip", "1.2.3.4", "userAction", "userMessage", "Beat it #win",
                            "linkBack", "https://game.example/l3#top"),
                  json_pack("{s:s}", "safeDomain", "game.example"), json_pack("{s:s}", "accessToken", "t"));
    CHECK(S(b, "form") && strstr(S(b, "form"), "%23win%20https%3A%2F%2Fgame.example%2Fl3%23top"), "weibo: fragment");
    json_decref(b);
    b = wire_body("sina", "status", json_pack("{s:s, s:s}", "rip", "1.2.3.4", "status", "#topic# https://game.example/x#f"),
                  json_pack("{s:s}", "safeDomain", "game.example"), json_pack("{s:s}", "accessToken", "t"));
    CHECK_STR(S(b, "category"), "content_invalid", "weibo: #topic# refused");
    json_decref(b);

    b = wire_body("linkedin", "publish",
                  json_pack("{s:{s:s, s:s}}", "userAction", "userMessage", "Go #win (now) C#",
                            "linkBack", "https://www.Game.example/a_b(c)#top"),
                  json_object(), json_pack("{s:s, s:s}", "accessToken", "t", "personId", "p"));
    CHECK_STR(S(b, "commentary"), "Go #win \\(now\\) C\\#", "linkedin: little text");
    CHECK_STR(S(json_object_get(json_object_get(b, "content"), "article"), "title"), "game.example",
              "linkedin: the title falls back to the host");
    json_decref(b);
    b = wire_body("linkedin", "status", json_pack("{s:s}", "status", "see https://x.example/a_b(c)#top"), json_object(),
                  json_pack("{s:s, s:s}", "accessToken", "t", "personId", "p"));
    CHECK_STR(S(b, "commentary"), "see https://x.example/a\\_b\\(c\\)\\#top", "linkedin: URL escaped");
    json_decref(b);

    r = sz_bookmark_url("tumblr", "https://g.example/x", "T", "D", NULL, NULL);
    CHECK(S(r, "url") && strstr(S(r, "url"), "posttype=link") && strstr(S(r, "url"), "content=https%3A%2F%2Fg.example%2Fx"),
          "tumblr: content carries the URL: %s", S(r, "url") ? S(r, "url") : "(null)");
    json_decref(r);
}

/* Per-network vectors (spec/vectors/providers/<network>.json, also walked by
 * spec/provider_vectors_spec.lua): each request byte for byte or its
 * refusal, each reply's classification (expect: keys the result must hold,
 * null = absent, detailsPrefix = the start of errorDetails). */
static void check_expect(json_t *expect, json_t *got, const char *what)
{
    const char *k;
    json_t *want;
    json_object_foreach(expect, k, want) {
        json_t *g = json_object_get(got, k);
        if (strcmp(k, "detailsPrefix") == 0) {
            const char *d = json_string_value(json_object_get(got, "errorDetails"));
            CHECK(d && strncmp(d, json_string_value(want), strlen(json_string_value(want))) == 0,
                  "%s: errorDetails %s", what, d ? d : "(none)");
        } else if (json_is_null(want)) {
            CHECK(g == NULL, "%s: %s must be absent", what, k);
        } else {
            CHECK(g && json_equal(g, want), "%s: %s", what, k);
        }
    }
}

static void provider_vector_file(const char *path)
{
    json_error_t je;
    json_t *v = json_load_file(path, 0, &je), *c;
    const char *net = S(v, "network");
    long long ts = json_integer_value(json_object_get(v, "timestamp")),
              now = json_integer_value(json_object_get(v, "now"));
    size_t i;
    CHECK(v && net, "cannot read %s: %s", path, je.text);
    if (!v || !net)
        return;
    if (!ts)
        ts = 1700000000;
    if (!now)
        now = 1700000000;
    json_array_foreach(json_object_get(v, "requests"), i, c) {
        sz_provider_call call;
        json_t *res = NULL, *e = json_object_get(c, "expect");
        sz_error err;
        sz_request *r;
        memset(&call, 0, sizeof call);
        call.provider = net;
        call.action = S(c, "action");
        call.input = json_object_get(c, "input");
        call.app = json_object_get(c, "app");
        call.user = json_object_get(c, "user");
        call.setup = json_object_get(c, "setup");
        call.timestamp = ts;
        call.nonce = S(v, "nonce") ? S(v, "nonce") : "n1";
        r = sz_provider_request(&call, &res, &err);
        if (e) {
            size_t h, len = 0;
            const char *body;
            json_t *hs = json_object();
            CHECK(r != NULL, "%s %s: built", net, S(c, "name"));
            if (r) {
                CHECK_STR(sz_request_method(r), S(e, "method"), S(c, "name"));
                CHECK_STR(sz_request_url(r), S(e, "url"), S(c, "name"));
                body = sz_request_body(r, &len);
                CHECK(len == json_string_length(json_object_get(e, "body")) &&
                          memcmp(body ? body : "", S(e, "body"), len) == 0,
                      "%s %s: body %.*s", net, S(c, "name"), (int)len, body ? body : "");
                for (h = 0; h < sz_request_header_count(r); h++) {
                    const char *hn, *hv;
                    sz_request_header(r, h, &hn, &hv);
                    json_object_set_new(hs, hn, json_string(hv));
                }
                CHECK(json_equal(hs, json_object_get(e, "headers")), "%s %s: headers", net, S(c, "name"));
            }
            json_decref(hs);
        } else {
            CHECK(r == NULL && res, "%s %s: refused", net, S(c, "name"));
            check_expect(json_object_get(c, "expect_result"), res, S(c, "name"));
        }
        sz_request_free(r);
        json_decref(res);
    }
    json_array_foreach(json_object_get(v, "replies"), i, c) {
        sz_provider_call call;
        sz_header hs[16];
        size_t n = 0;
        const char *k;
        json_t *hv, *got;
        memset(&call, 0, sizeof call);
        call.provider = net;
        call.action = S(c, "action");
        call.input = json_object_get(c, "input");
        call.app = json_object_get(c, "app");
        call.user = json_object_get(c, "user");
        json_object_foreach(json_object_get(c, "headers"), k, hv) {
            if (n < 16) {
                hs[n].name = k;
                hs[n].value = json_string_value(hv);
                n++;
            }
        }
        got = sz_provider_parse(&call, (int)json_integer_value(json_object_get(c, "status")), hs, n,
                                S(c, "body"), json_string_length(json_object_get(c, "body")), now);
        check_expect(json_object_get(c, "expect"), got, S(c, "name"));
        json_decref(got);
    }
    json_decref(v);
}

static void test_provider_vectors(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int files = 0;
    CHECK(d != NULL, "cannot open %s", dir);
    while (d && (e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        char path[1024];
        if (n < 6 || strcmp(e->d_name + n - 5, ".json") != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        TAP_CASE(path, provider_vector_file(path)); /* one case per network file */
        files++;
    }
    if (d)
        closedir(d);
    CHECK(files >= 1, "no vector files in %s", dir);
}

int main(int argc, char **argv)
{
    int i;
    for (i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
            test_provider_vectors(argv[i]); /* spec/vectors/providers */
        else
            test_vectors(argv[i]); /* counts each vector as a case */
    }
    RUN(test_base64);
    RUN(test_utf8_consttime);
    RUN(test_normalize_errors);
    RUN(test_params);
    RUN(test_request_signed);
    RUN(test_request_errors);
    RUN(test_request_other_auth);
    RUN(test_jwt);
    RUN(test_response);
    RUN(test_validators);
    RUN(test_providers);
    RUN(test_fuzz_regressions);
    RUN(test_cstrict_saturation);
    RUN(test_cstrict_nul_inputs);
    RUN(test_alloc_failures);
    RUN(test_guard_urls);
    RUN(test_guard_addresses);
    RUN(test_wire_fidelity);
    return tap_done("c-core");
}
