/* C unit tests of the canonical JSON writer (sz_json_writer, sz_json.c):
 * escaping, numbers, nesting limit, UTF-8, key order, calls out of place.
 * Run from test_core.c (main). */
#include <math.h>
#include <limits.h>
#include "test_util.h"

/* The text of w, or "(refused <code>)" / "(incomplete)", into out. */
static const char *text_of(sz_json_writer *w, char *out, size_t n)
{
    sz_error err;
    size_t len;
    const char *t;
    memset(&err, 0, sizeof err);
    t = sz_json_writer_text(w, &len, &err);
    if (t) {
        snprintf(out, n, "%.*s", (int)len, t);
        if (strlen(out) != len) /* a NUL in the text: show where */
            snprintf(out, n, "(NUL inside %zu bytes)", len);
    } else {
        snprintf(out, n, "(refused %d: %s)", err.code, err.message);
    }
    return out;
}

/* One string value -> its JSON text. */
static const char *string_text(const char *s, size_t len, char *out, size_t n)
{
    sz_json_writer *w = sz_json_writer_new();
    sz_json_string(w, s, len);
    text_of(w, out, n);
    sz_json_writer_free(w);
    return out;
}

static const char *number_text(double v, char *out, size_t n)
{
    sz_json_writer *w = sz_json_writer_new();
    sz_json_number(w, v);
    text_of(w, out, n);
    sz_json_writer_free(w);
    return out;
}

void test_json_escaping(void)
{
    static const struct { const char *in; size_t len; const char *want; } rows[] = {
        {"", 0, "\"\""},
        {"plain", 5, "\"plain\""},
        {"q\"b\\s/", 6, "\"q\\\"b\\\\s/\""},                            /* '/' as it is */
        {"\b\f\n\r\t", 5, "\"\\b\\f\\n\\r\\t\""},
        {"\x01\x1f\x7f", 3, "\"\\u0001\\u001f\x7f\""},                   /* lower-case hex; DEL raw */
        {"a\0b", 3, "\"a\\u0000b\""},                                      /* NUL inside, by length */
        {"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9, "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\""}, /* UTF-8 raw */
        {"\xe2\x80\xa8", 3, "\"\xe2\x80\xa8\""},                             /* U+2028 raw */
    };
    size_t i;
    char out[128];
    for (i = 0; i < sizeof rows / sizeof *rows; i++)
        CHECK_STR(string_text(rows[i].in, rows[i].len, out, sizeof out), rows[i].want, "escaping");
    {
        /* keys are escaped the same way */
        sz_json_writer *w = sz_json_writer_new();
        CHECK(sz_json_begin_object(w) == 0 && sz_json_key(w, "\"\n", 2) == 0 && sz_json_null(w) == 0 &&
                  sz_json_key(w, "k", 1) == 0 && sz_json_bool(w, 1) == 0 && sz_json_end_object(w) == 0,
              "an object with an escaped key");
        CHECK_STR(text_of(w, out, sizeof out), "{\"\\\"\\n\":null,\"k\":true}", "escaped key");
        sz_json_writer_free(w);
    }
}

void test_json_numbers(void)
{
    static const struct { double v; const char *want; } rows[] = {
        {0.0, "0"},
        {-0.0, "0"},                        /* -0 is written as 0 */
        {1.0, "1"},
        {-1.0, "-1"},
        {1.5, "1.5"},
        {0.1, "0.1"},                       /* shortest that reads back */
        {1.0 / 3.0, "0.3333333333333333"},  /* 16 digits when 15 do not read back */
        {0.1 + 0.2, "0.30000000000000004"}, /* 17 when 16 do not */
        {1e300, "1e+300"},
        {-1e300, "-1e+300"},
        {1e-300, "1e-300"},
        {5e-324, "4.94065645841247e-324"},
        {9007199254740992.0, "9007199254740992"},   /* integral: no exponent */
        {-9223372036854775808.0, "-9223372036854775808"},
        {9223372036854775808.0, "9.223372036854776e+18"}, /* past int64: %g */
        {123456789012.0, "123456789012"},
    };
    size_t i;
    char out[128];
    sz_json_writer *w;
    for (i = 0; i < sizeof rows / sizeof *rows; i++) {
        CHECK_STR(number_text(rows[i].v, out, sizeof out), rows[i].want, "number");
        CHECK(strtod(out, NULL) == rows[i].v,
              "%s reads back as the same double", out);
    }
    /* NaN and infinities are refused, and the writer stays refused */
    {
        const double bad[] = {NAN, INFINITY, -INFINITY};
        for (i = 0; i < 3; i++) {
            w = sz_json_writer_new();
            CHECK(sz_json_begin_array(w) == 0, "array");
            CHECK(sz_json_number(w, bad[i]) == SZ_EINVALID, "NaN/inf %zu refused", i);
            CHECK(sz_json_end_array(w) == SZ_EINVALID, "the writer stays refused");
            text_of(w, out, sizeof out);
            CHECK(strstr(out, "refused 400006") && strstr(out, "NaN or infinite"), "reason: %s", out);
            sz_json_writer_free(w);
        }
    }
    /* integers: the whole long long range */
    w = sz_json_writer_new();
    CHECK(sz_json_begin_array(w) == 0 && sz_json_integer(w, LLONG_MIN) == 0 &&
              sz_json_integer(w, LLONG_MAX) == 0 && sz_json_integer(w, 0) == 0 && sz_json_end_array(w) == 0,
          "integers");
    CHECK_STR(text_of(w, out, sizeof out), "[-9223372036854775808,9223372036854775807,0]", "integers");
    sz_json_writer_free(w);
}

void test_json_depth(void)
{
    sz_json_writer *w = sz_json_writer_new();
    char out[256];
    int i, rc = 0;
    for (i = 0; i < SZ_JSON_MAX_DEPTH && rc == 0; i++)
        rc = (i & 1) ? sz_json_begin_array(w) : (sz_json_begin_object(w) || sz_json_key(w, "a", 1));
    CHECK(rc == 0, "%d levels open", SZ_JSON_MAX_DEPTH);
    CHECK(SZ_JSON_MAX_DEPTH == 65, "the limit the Lua front documents (depth <= 64 below the top)");
    CHECK(sz_json_begin_array(w) == SZ_EINVALID, "one more is refused");
    CHECK(sz_json_begin_object(w) == SZ_EINVALID, "and every later call");
    text_of(w, out, sizeof out);
    CHECK(strstr(out, "nested too deeply") != NULL, "reason: %s", out);
    /* reset: the same writer takes the full depth again, and closes it */
    sz_json_writer_reset(w);
    for (i = 0; i < SZ_JSON_MAX_DEPTH; i++)
        rc |= sz_json_begin_array(w);
    for (i = 0; i < SZ_JSON_MAX_DEPTH; i++)
        rc |= sz_json_end_array(w);
    CHECK(rc == 0, "after reset the writer is new");
    text_of(w, out, sizeof out);
    CHECK(strlen(out) == 2 * SZ_JSON_MAX_DEPTH && out[0] == '[' && out[2 * SZ_JSON_MAX_DEPTH - 1] == ']',
          "65 nested arrays: %s", out);
    sz_json_writer_free(w);
}

void test_json_utf8(void)
{
    static const char *const bad[] = {
        "\xff", "\xc0\xaf" /* overlong '/' */, "\xed\xa0\x80" /* surrogate */, "\xf4\x90\x80\x80" /* > U+10FFFF */,
        "\xc3" /* cut */, "a\x80",
    };
    size_t i;
    char out[256];
    for (i = 0; i < sizeof bad / sizeof *bad; i++) {
        sz_json_writer *w = sz_json_writer_new();
        CHECK(sz_json_string(w, bad[i], strlen(bad[i])) == SZ_EINVALID, "invalid UTF-8 string %zu", i);
        text_of(w, out, sizeof out);
        CHECK(strstr(out, "not valid UTF-8") != NULL, "reason: %s", out);
        sz_json_writer_reset(w);
        CHECK(sz_json_begin_object(w) == 0, "object");
        CHECK(sz_json_key(w, bad[i], strlen(bad[i])) == SZ_EINVALID, "invalid UTF-8 key %zu", i);
        text_of(w, out, sizeof out);
        CHECK(strstr(out, "key is not valid UTF-8") != NULL, "reason: %s", out);
        sz_json_writer_free(w);
    }
    CHECK_STR(string_text("\xf4\x8f\xbf\xbf", 4, out, sizeof out), "\"\xf4\x8f\xbf\xbf\"", "U+10FFFF is valid");
}

void test_json_key_order(void)
{
    char out[256];
    sz_json_writer *w = sz_json_writer_new();
    /* in order: a prefix first, byte order (upper case before lower case) */
    CHECK(sz_json_begin_object(w) == 0 && sz_json_key(w, "B", 1) == 0 && sz_json_integer(w, 1) == 0 &&
              sz_json_key(w, "a", 1) == 0 && sz_json_begin_object(w) == 0 &&
              /* a nested object has its own order: "z" then "y" would be refused, "b" < "c" is fine */
              sz_json_key(w, "b", 1) == 0 && sz_json_integer(w, 2) == 0 && sz_json_key(w, "c", 1) == 0 &&
              sz_json_begin_array(w) == 0 && sz_json_begin_object(w) == 0 && sz_json_end_object(w) == 0 &&
              sz_json_end_array(w) == 0 && sz_json_end_object(w) == 0 &&
              /* back in the outer object, its last key is "a" again */
              sz_json_key(w, "ab", 2) == 0 && sz_json_string(w, "x", 1) == 0 && sz_json_end_object(w) == 0,
          "keys in order");
    CHECK_STR(text_of(w, out, sizeof out), "{\"B\":1,\"a\":{\"b\":2,\"c\":[{}]},\"ab\":\"x\"}", "ordered object");
    {
        /* out of order or repeated, at the outer level after a nested object */
        static const char *const second[] = {"a", "A", ""};
        size_t i;
        for (i = 0; i < 3; i++) {
            sz_json_writer_reset(w);
            CHECK(sz_json_begin_object(w) == 0 && sz_json_key(w, "a", 1) == 0 && sz_json_begin_object(w) == 0 &&
                      sz_json_key(w, "z", 1) == 0 && sz_json_null(w) == 0 && sz_json_end_object(w) == 0,
                  "first member");
            CHECK(sz_json_key(w, second[i], strlen(second[i])) == SZ_EINVALID,
                  "key '%s' after 'a' refused", second[i]);
            text_of(w, out, sizeof out);
            CHECK(strstr(out, "out of order") != NULL, "reason: %s", out);
        }
        sz_json_writer_reset(w);
        CHECK(sz_json_begin_object(w) == 0 && sz_json_key(w, "a", 1) == 0 && sz_json_null(w) == 0 &&
                  sz_json_key(w, "c", 1) == 0 && sz_json_null(w) == 0 &&
                  sz_json_key(w, "b", 1) == SZ_EINVALID,
              "each key is compared with the last one, not the first");
        sz_json_writer_reset(w);
        CHECK(sz_json_begin_object(w) == 0 && sz_json_key(w, "ab", 2) == 0 && sz_json_null(w) == 0 &&
                  sz_json_key(w, "a", 1) == SZ_EINVALID,
              "a longer key before its prefix is refused");
    }
    sz_json_writer_free(w);
}

void test_json_misuse(void)
{
    char out[256];
    sz_json_writer *w = sz_json_writer_new();
    CHECK(w != NULL, "writer");
    CHECK(sz_json_writer_text(w, NULL, NULL) == NULL, "nothing written: no text");
    text_of(w, out, sizeof out);
    CHECK(strstr(out, "incomplete") != NULL, "reason: %s", out);
#define MISUSE(what, calls)                                                         \
    do {                                                                            \
        sz_json_writer_reset(w);                                                    \
        CHECK((calls) == SZ_EINVALID, "%s is refused", what);              \
        CHECK(sz_json_writer_text(w, NULL, NULL) == NULL, "%s: no text", what);        \
    } while (0)
    MISUSE("a value without a key", (sz_json_begin_object(w), sz_json_integer(w, 1)));
    MISUSE("a key in an array", (sz_json_begin_array(w), sz_json_key(w, "k", 1)));
    MISUSE("a key at the top", sz_json_key(w, "k", 1));
    MISUSE("two keys in a row", (sz_json_begin_object(w), sz_json_key(w, "a", 1), sz_json_key(w, "b", 1)));
    MISUSE("a key without its value", (sz_json_begin_object(w), sz_json_key(w, "a", 1), sz_json_end_object(w)));
    MISUSE("] closing {", (sz_json_begin_object(w), sz_json_end_array(w)));
    MISUSE("} with nothing open", sz_json_end_object(w));
    MISUSE("a second value", (sz_json_integer(w, 1), sz_json_integer(w, 2)));
    MISUSE("a NULL string", sz_json_string(w, NULL, 3));
    MISUSE("a NULL key", (sz_json_begin_object(w), sz_json_key(w, NULL, 1)));
#undef MISUSE
    /* an open container is not a value yet */
    sz_json_writer_reset(w);
    sz_json_begin_array(w);
    CHECK(sz_json_writer_text(w, NULL, NULL) == NULL, "an open array has no text");
    CHECK(sz_json_end_array(w) == 0, "closing it");
    CHECK_STR(text_of(w, out, sizeof out), "[]", "empty array");
    /* NULL, 0 is the empty key, compared like any other */
    sz_json_writer_reset(w);
    CHECK(sz_json_begin_object(w) == 0 && sz_json_key(w, NULL, 0) == 0 && sz_json_null(w) == 0 &&
              sz_json_key(w, NULL, 0) == SZ_EINVALID,
          "NULL, 0 twice is a repeated key");
    /* scalars at the top, and an empty string given as NULL, 0 */
    sz_json_writer_reset(w);
    CHECK(sz_json_string(w, NULL, 0) == 0, "NULL, 0 is the empty string");
    CHECK_STR(text_of(w, out, sizeof out), "\"\"", "empty string");
    sz_json_writer_free(w);
    sz_json_writer_free(NULL);
    sz_json_writer_reset(NULL);
}

/* The JSON the adapters send is the writer's too (sz_netkit.c dump_json):
 * lower-case \u escapes and shortest numbers, not jansson's own encoder
 * ("\u001F", 0.10000000000000001). Through the public, JSON-text API. */
static sz_request *text_call(const char *provider, const char *action, const char *in, const char *app,
                             const char *user)
{
    sz_provider_call c;
    sz_error err;
    sz_result *refusal = NULL;
    sz_request *r;
    memset(&c, 0, sizeof c);
    c.provider = provider;
    c.action = action;
    c.input = in;
    c.input_len = strlen(in);
    c.app = app;
    c.app_len = strlen(app);
    c.user = user;
    c.user_len = strlen(user);
    c.timestamp = 1700000000;
    c.nonce = "n";
    r = sz_provider_request(&c, &refusal, &err);
    CHECK(r != NULL, "%s %s built: %s", provider, action, err.message);
    sz_result_free(refusal);
    return r;
}

void test_json_provider_bodies(void)
{
    const char *body;
    size_t len;
    sz_request *r = text_call("telegram", "status", "{\"status\":\"a\\u001fb\"}", "{\"botToken\":\"1:b\"}",
                              "{\"chatId\":\"5\"}");
    body = r ? sz_request_body(r, &len) : NULL;
    CHECK(body && strstr(body, "\"a\\u001fb\""), "telegram body: %s", body ? body : "(none)");
    sz_request_free(r);
    /* a table in Facebook's graphParams goes into the query as canonical JSON */
    r = text_call("facebook", "graph",
                  "{\"graphPath\":\"/me/feed\",\"method\":\"GET\","
                  "\"graphParams\":{\"q\":{\"r\":0.1,\"z\":\"\\u001f\",\"a\":1},\"e\":{}}}",
                  "{\"appSecret\":\"as\"}", "{\"accessToken\":\"at\"}");
    CHECK(r && strstr(sz_request_url(r), "q=%7B%22a%22%3A1%2C%22r%22%3A0.1%2C%22z%22%3A%22%5Cu001f%22%7D"),
          "facebook graph query: %s", r ? sz_request_url(r) : "(none)");
    CHECK(r && strstr(sz_request_url(r), "e=%7B%7D"), "an empty object: %s", r ? sz_request_url(r) : "(none)");
    sz_request_free(r);
}

/* The JSON texts the C API hands out (sz_response_json, sz_result_json) are
 * the writer's too, for any tree jansson parsed: 1000 levels deep, more than
 * a Lua table may have (SZ_JSON_MAX_DEPTH), still come out whole. */
void test_json_deep_replies(void)
{
    enum { DEEP = 1000 };
    char *body = malloc(2 * DEEP + 64), *text;
    size_t i, n = 0, len = 0;
    sz_error err;
    sz_response *r;
    n += (size_t)sprintf(body, "{\"errorCode\":0,\"d\":");
    for (i = 0; i < DEEP; i++)
        body[n++] = '[';
    for (i = 0; i < DEEP; i++)
        body[n++] = ']';
    body[n++] = '}';
    body[n] = '\0';
    r = sz_response_parse(body, n, 200, &err);
    CHECK(r != NULL, "deep reply parsed");
    text = r ? sz_response_json(r, "d", &len, &err) : NULL;
    CHECK(text && len == 2 * DEEP && text[0] == '[' && text[2 * DEEP - 1] == ']',
          "the deep member as text: %s", text ? "wrong" : err.message);
    sz_free(text);
    sz_response_free(r);
    free(body);
}
