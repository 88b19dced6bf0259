/* C unit tests: signing vectors, encodings, requests, JWT, responses,
 * parameters, validators. Run from test_core.c (main). */
#include "test_util.h"

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

void test_vectors(const char *path)
{
    json_error_t je;
    json_t *all = json_load_file(path, 0, &je), *v;
    size_t i;
    CHECK(json_is_array(all), "cannot read %s: %s", path, je.text);
    CHECK(json_array_size(all) >= 12, "%s has too few vectors", path);
    json_array_foreach(all, i, v) TAP_CASE(path, run_vector(v)); /* one case per vector */
    json_decref(all);
}

void test_base64(void)
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
        sz_error err = {SZ_OK, 0, ""};
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

void test_utf8_consttime(void)
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

void test_normalize_errors(void)
{
    const char *bad[] = {"ftp://x/y", "https://", "https://host:0/x", "https://host:65536/",
                         "https://host:8a/", "https://us er@host/", "https://u:p@host/",
                         "https://host/a b", "https://host/\r\nX: y", "//host/x", "https://[::1/x", ""};
    size_t i;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sz_error err = {SZ_OK, 0, ""};
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


void test_request_signed(void)
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
    sz_error err = {SZ_OK, 0, ""};
    sz_request *r = sz_request_build(o, p, &err);
    CHECK(r == NULL && err.code == code && strstr(err.message, word),
          "expected %d naming '%s', got %d '%s'", code, word, err.code, err.message);
    sz_request_free(r);
}

void test_request_errors(void)
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

void test_request_other_auth(void)
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

void test_jwt(void)
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

void test_response(void)
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
        CHECK(json_is_object(sz_response_root(r)), "root object");
        sz_response_free(r);
    }
}

void test_params(void)
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

void test_validators(void)
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
    CHECK(strcmp(sz_gigya_message(403003), "Invalid request signature") == 0, "strerror");
    CHECK(strcmp(sz_gigya_message(1), "Unknown error") == 0, "strerror unknown");
    CHECK(strcmp(sz_version(), SZ_VERSION_STRING) == 0, "version");
    {
        /* Telegram Login Widget; the hash by Python:
         * hmac.new(sha256(token).digest(), b"auth_date=1700000000\nfirst_name=Ann\nid=42", sha256) */
        static const char tok[] = "123456789:AAFakeBotTokenForTestsOnly_xyz";
        static const char h[] = "128fc79a0d103dc00a39a94f72ccc60ac6e449786390801a5ba91bee73f579b2";
        sz_kv f[4] = {{"id", 2, "42", 2}, {"hash", 4, h, 64}, {"first_name", 10, "Ann", 3},
                      {"auth_date", 9, "1700000000", 10}};
        sz_kv g[4];
        CHECK(sz_validate_telegram_login(f, 4, tok, strlen(tok), -1, 0) == 1, "tg valid, no age check");
        CHECK(sz_validate_telegram_login(f, 4, tok, strlen(tok), 86400, 1700086400) == 1, "tg age edge");
        CHECK(sz_validate_telegram_login(f, 4, tok, strlen(tok), 86400, 1700086401) == 0, "tg too old");
        CHECK(sz_validate_telegram_login(f, 4, tok, strlen(tok), 86400, 1699999939) == 0, "tg future > 60 s");
        CHECK(sz_validate_telegram_login(f, 4, tok, strlen(tok) - 1, -1, 0) == 0, "tg other token");
        CHECK(sz_validate_telegram_login(f, 3, tok, strlen(tok), -1, 0) == 0, "tg no auth_date");
        memcpy(g, f, sizeof g);
        g[2].value_len = 2;
        CHECK(sz_validate_telegram_login(g, 4, tok, strlen(tok), -1, 0) == 0, "tg changed field");
        memcpy(g, f, sizeof g);
        g[1].value_len = 63;
        CHECK(sz_validate_telegram_login(g, 4, tok, strlen(tok), -1, 0) == 0, "tg short hash");
        memcpy(g, f, sizeof g);
        g[0].key = "auth_date", g[0].key_len = 9, g[0].value = "1700000000", g[0].value_len = 10;
        CHECK(sz_validate_telegram_login(g, 4, tok, strlen(tok), -1, 0) == 0, "tg repeated field");
        CHECK(sz_validate_telegram_login(NULL, 0, tok, strlen(tok), -1, 0) == 0, "tg no data");
    }
}

