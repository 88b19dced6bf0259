/* sz_json.c - the one JSON encoder of the library: the string escaper and
 * number formatter (sz_json_string_buf, sz_number_buf) and the canonical
 * writer built on them (sz_json_writer, socialize.h). The Lua binding drives
 * the writer while it walks a table, so the bytes of a table parameter that
 * is signed and sent come from here and nowhere else. Sans-IO. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sz_internal.h"

void sz_json_string_buf(sz_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t i, run = 0;
    sz_buf_addc(b, '"');
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[7];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        sz_buf_add(b, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"':  esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default:
            u[0] = '\\'; u[1] = 'u'; u[2] = '0'; u[3] = '0';
            u[4] = hex[c >> 4]; u[5] = hex[c & 15]; u[6] = '\0';
            esc = u;
        }
        sz_buf_adds(b, esc);
    }
    sz_buf_add(b, s + run, len - run);
    sz_buf_addc(b, '"');
}

int sz_number_buf(sz_buf *b, double v)
{
    char tmp[64];
    int prec;
    char *p;
    if (isnan(v) || isinf(v))
        return -1;
    if (v == floor(v) && v >= -9223372036854775808.0 && v < 9223372036854775808.0) {
        sz_buf_printf(b, "%lld", (long long)v);
        return 0;
    }
    for (prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        for (p = tmp; *p; p++) /* whatever the host's locale says */
            if (*p == ',')
                *p = '.';
        if (strtod(tmp, NULL) == v)
            break;
    }
    sz_buf_adds(b, tmp);
    return 0;
}

/* ---- the canonical writer ----------------------------------------------- */

/* One open array or object. For an object, its last key is kept in
 * w->keys[key_at, key_at + key_len) to check the order of the next one. */
typedef struct level {
    char   object;    /* 1 object, 0 array */
    char   want_value; /* object: a key was written, its value not yet */
    size_t count;     /* members written */
    size_t key_at, key_len;
} level;

struct sz_json_writer {
    sz_buf      out;
    sz_buf      keys;
    level      *stack;  /* grown as containers open, up to max_depth */
    int         cap;
    int         max_depth;
    int         depth;  /* open containers */
    int         done;   /* one complete value written */
    sz_status   status; /* the first failure: SZ_EINVALID / SZ_ENOMEM */
    const char *why;    /* its static reason */
};

sz_json_writer *sz_json_writer_new_max(int max_depth)
{
    sz_json_writer *w = calloc(1, sizeof *w);
    if (w) {
        sz_buf_init(&w->out);
        sz_buf_init(&w->keys);
        w->max_depth = max_depth;
    }
    return w;
}

sz_json_writer *sz_json_writer_new(void)
{
    return sz_json_writer_new_max(SZ_JSON_MAX_DEPTH);
}

void sz_json_writer_free(sz_json_writer *w)
{
    if (!w)
        return;
    sz_buf_reset(&w->out);
    sz_buf_reset(&w->keys);
    free(w->stack);
    free(w);
}

void sz_json_writer_reset(sz_json_writer *w)
{
    if (!w)
        return;
    /* keep the memory for the next value, unless it failed */
    if (w->out.failed || w->keys.failed) {
        sz_buf_reset(&w->out);
        sz_buf_reset(&w->keys);
    }
    w->out.len = 0;
    w->keys.len = 0;
    if (w->out.data)
        w->out.data[0] = '\0';
    w->depth = 0;
    w->done = 0;
    w->status = SZ_OK;
    w->why = NULL;
}

static sz_status refuse(sz_json_writer *w, sz_status status, const char *why)
{
    if (!w->status) {
        w->status = status;
        w->why = why;
    }
    return w->status;
}

/* Checks that a value may come now and writes the separator before it. */
static sz_status before_value(sz_json_writer *w)
{
    level *l;
    if (w->status)
        return w->status;
    if (w->done)
        return refuse(w, SZ_EINVALID, "a value after the complete value");
    if (!w->depth)
        return 0;
    l = &w->stack[w->depth - 1];
    if (l->object) {
        if (!l->want_value)
            return refuse(w, SZ_EINVALID, "an object member without a key");
        l->want_value = 0;
    } else if (l->count) {
        sz_buf_addc(&w->out, ',');
    }
    l->count++;
    return 0;
}

/* After a scalar or a closed container: the value is complete at depth 0. */
static sz_status after_value(sz_json_writer *w)
{
    if (w->out.failed || w->keys.failed)
        return refuse(w, SZ_ENOMEM, "out of memory");
    if (!w->depth)
        w->done = 1;
    return 0;
}

static sz_status begin(sz_json_writer *w, int object)
{
    level *l;
    sz_status rc = before_value(w);
    if (rc)
        return rc;
    if (w->depth >= w->max_depth)
        return refuse(w, SZ_EINVALID, "nested too deeply");
    if (w->depth == w->cap) {
        int cap = w->cap ? (w->cap > w->max_depth / 2 ? w->max_depth : w->cap * 2) : 16;
        level *st = realloc(w->stack, (size_t)cap * sizeof *st);
        if (!st)
            return refuse(w, SZ_ENOMEM, "out of memory");
        w->stack = st;
        w->cap = cap;
    }
    l = &w->stack[w->depth++];
    memset(l, 0, sizeof *l);
    l->object = (char)object;
    l->key_at = w->keys.len;
    sz_buf_addc(&w->out, object ? '{' : '[');
    return after_value(w);
}

static sz_status end(sz_json_writer *w, int object)
{
    level *l;
    if (w->status)
        return w->status;
    if (!w->depth || w->stack[w->depth - 1].object != object)
        return refuse(w, SZ_EINVALID,
                      object ? "an object closed that is not open" : "an array closed that is not open");
    l = &w->stack[w->depth - 1];
    if (l->want_value)
        return refuse(w, SZ_EINVALID, "a key without a value");
    w->keys.len = l->key_at;
    w->depth--;
    sz_buf_addc(&w->out, object ? '}' : ']');
    return after_value(w);
}

sz_status sz_json_begin_object(sz_json_writer *w) { return begin(w, 1); }
sz_status sz_json_end_object(sz_json_writer *w) { return end(w, 1); }
sz_status sz_json_begin_array(sz_json_writer *w) { return begin(w, 0); }
sz_status sz_json_end_array(sz_json_writer *w) { return end(w, 0); }

int sz_json_key_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c)
        return c;
    return an < bn ? -1 : an > bn;
}

sz_status sz_json_key(sz_json_writer *w, const char *s, size_t len)
{
    level *l;
    if (w->status)
        return w->status;
    if (!w->depth || !w->stack[w->depth - 1].object || w->stack[w->depth - 1].want_value)
        return refuse(w, SZ_EINVALID, "a key where no key may come");
    if (!s && len)
        return refuse(w, SZ_EINVALID, "a key is NULL");
    if (!s)
        s = ""; /* NULL, 0: the empty key */
    if (!sz_utf8_valid(s, len))
        return refuse(w, SZ_EINVALID, "a key is not valid UTF-8");
    l = &w->stack[w->depth - 1];
    if (l->count && sz_json_key_cmp(w->keys.data + l->key_at, l->key_len, s, len) >= 0)
        return refuse(w, SZ_EINVALID, "keys out of order or repeated");
    w->keys.len = l->key_at;
    sz_buf_add(&w->keys, s, len);
    l->key_len = len;
    if (l->count)
        sz_buf_addc(&w->out, ',');
    sz_json_string_buf(&w->out, s, len);
    sz_buf_addc(&w->out, ':');
    l->want_value = 1;
    if (w->out.failed || w->keys.failed)
        return refuse(w, SZ_ENOMEM, "out of memory");
    return 0;
}

sz_status sz_json_string(sz_json_writer *w, const char *s, size_t len)
{
    sz_status rc;
    if (w->status)
        return w->status;
    if (!s && len)
        return refuse(w, SZ_EINVALID, "a string is NULL");
    if (!sz_utf8_valid(s, len))
        return refuse(w, SZ_EINVALID, "a string is not valid UTF-8");
    if ((rc = before_value(w)) != 0)
        return rc;
    sz_json_string_buf(&w->out, s ? s : "", len);
    return after_value(w);
}

sz_status sz_json_integer(sz_json_writer *w, long long v)
{
    sz_status rc = before_value(w);
    if (rc)
        return rc;
    sz_buf_printf(&w->out, "%lld", v);
    return after_value(w);
}

sz_status sz_json_number(sz_json_writer *w, double v)
{
    sz_status rc;
    if (w->status)
        return w->status;
    if (isnan(v) || isinf(v))
        return refuse(w, SZ_EINVALID, "a number is NaN or infinite");
    if ((rc = before_value(w)) != 0)
        return rc;
    sz_number_buf(&w->out, v);
    return after_value(w);
}

sz_status sz_json_bool(sz_json_writer *w, int v)
{
    sz_status rc = before_value(w);
    if (rc)
        return rc;
    sz_buf_adds(&w->out, v ? "true" : "false");
    return after_value(w);
}

sz_status sz_json_null(sz_json_writer *w)
{
    sz_status rc = before_value(w);
    if (rc)
        return rc;
    sz_buf_adds(&w->out, "null");
    return after_value(w);
}

const char *sz_json_writer_text(const sz_json_writer *w, size_t *len, sz_error *err)
{
    if (len)
        *len = 0;
    if (w->status == SZ_ENOMEM)
        sz_seterr(err, w->status, "out of memory");
    else if (w->status)
        sz_seterr(err, w->status, "Invalid parameter value: JSON refused: %s", w->why);
    else if (!w->done)
        sz_seterr(err, SZ_EINVALID, "Invalid parameter value: JSON incomplete");
    if (w->status || !w->done)
        return NULL;
    if (len)
        *len = w->out.len;
    return w->out.data;
}

/* ---- a UserAction JSON string's shape, without building anything ----------
 * sz_user_action_plain answers 1 only when the string is certainly what the
 * full check accepts (jansson with JSON_REJECT_DUPLICATES decodes it to an
 * object, and the object has the UserAction shape of docs/api.md); 0 means
 * "not sure": the caller then runs the full check, which says why. It is
 * therefore stricter than jansson: no \u0000, no escape in a key, numbers of
 * at most 15 characters, at most 32 levels and 64 keys per object, JSON
 * whitespace only. One pass, no allocation. */

typedef struct ua_scan {
    const unsigned char *p, *end;
    int allow_data;
} ua_scan;

enum { UA_ANY, UA_ROOT, UA_MEDIA, UA_ITEM };
#define UA_MAX_DEPTH 32
#define UA_MAX_KEYS  64

static void ua_ws(ua_scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int ua_hex4(const unsigned char *p, unsigned *v)
{
    int i;
    *v = 0;
    for (i = 0; i < 4; i++) {
        unsigned c = p[i], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return -1;
        *v = (*v << 4) | d;
    }
    return 0;
}

/* 1 for the bytes a string's plain run stops at: '"', '\\', controls, 8-bit */
static const unsigned char UA_CLASS[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    ['"'] = 1, ['\\'] = 1,
    [0x80] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

/* A string at s->p ('"'); its raw bytes in *b, *n. *esc: it held an escape. */
static int ua_string(ua_scan *s, const unsigned char **b, size_t *n, int *esc)
{
    const unsigned char *p = s->p + 1, *run = p;
    int hi = 0; /* 8-bit bytes seen: checked as UTF-8 at the end */
    *esc = 0;
    for (;;) {
        unsigned c;
        while (p < s->end && !UA_CLASS[*p]) /* the plain ASCII run */
            p++;
        if (p >= s->end)
            return -1;
        c = *p;
        if (c == '"')
            break;
        if (c < 0x20)
            return -1;
        if (c >= 0x80) {
            hi = 1;
            p++;
            continue;
        }
        *esc = 1;
        if (p + 1 >= s->end)
            return -1;
        c = p[1];
        if (c == 'u') {
            unsigned u, lo;
            if (s->end - p < 6 || ua_hex4(p + 2, &u) != 0 || u == 0 || (u >= 0xDC00 && u <= 0xDFFF))
                return -1;
            p += 6;
            if (u >= 0xD800 && u <= 0xDBFF) { /* a surrogate pair, or nothing */
                if (s->end - p < 6 || p[0] != '\\' || p[1] != 'u' || ua_hex4(p + 2, &lo) != 0 ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    return -1;
                p += 6;
            }
            continue;
        }
        if (!strchr("\"\\/bfnrt", (int)c) || c == 0)
            return -1;
        p += 2;
    }
    if (hi && !sz_utf8_valid((const char *)run, (size_t)(p - run)))
        return -1;
    *b = run;
    *n = (size_t)(p - run);
    s->p = p + 1;
    return 0;
}

static int ua_number(ua_scan *s)
{
    const unsigned char *p = s->p, *start = p, *e;
    if (p < s->end && *p == '-')
        p++;
    if (p >= s->end)
        return -1;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (p < s->end && *p >= '0' && *p <= '9')
            p++;
    else
        return -1;
    if (p < s->end && *p == '.') {
        p++;
        if (p >= s->end || *p < '0' || *p > '9')
            return -1;
        while (p < s->end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < s->end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < s->end && (*p == '+' || *p == '-'))
            p++;
        e = p;
        if (p >= s->end || *p < '0' || *p > '9')
            return -1;
        while (p < s->end && *p >= '0' && *p <= '9')
            if (++p - e > 2) /* at most two exponent digits: no real overflow */
                return -1;
    }
    if (p - start > 15) /* no integer overflow in jansson, a real far from it */
        return -1;
    s->p = p;
    return 0;
}

static int ua_word(ua_scan *s, const char *w, size_t n)
{
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n) != 0)
        return -1;
    s->p += n;
    return 0;
}

static int is_key(const unsigned char *k, size_t n, const char *name)
{
    return strlen(name) == n && memcmp(k, name, n) == 0;
}

/* the kind of a value about to be read: '{', '[', '"', or 0 (a scalar) */
static int ua_value(ua_scan *s, int role, int depth, const unsigned char **kind, size_t *kind_len);

static int ua_object(ua_scan *s, int role, int depth, const unsigned char **kind, size_t *kind_len)
{
    const unsigned char *keys[UA_MAX_KEYS];
    size_t klen[UA_MAX_KEYS], nk = 0, i;
    int type_seen = 0;
    s->p++; /* '{' */
    ua_ws(s);
    if (s->p < s->end && *s->p == '}') {
        s->p++;
        return role == UA_ROOT || role == UA_ITEM ? -1 : 0; /* empty UserAction; an item without type */
    }
    for (;;) {
        const unsigned char *k;
        size_t kn;
        int esc, sub = UA_ANY;
        if (s->p >= s->end || *s->p != '"' || ua_string(s, &k, &kn, &esc) != 0 || esc || nk == UA_MAX_KEYS)
            return -1;
        for (i = 0; i < nk; i++)
            if (klen[i] == kn && memcmp(keys[i], k, kn) == 0)
                return -1; /* a duplicate: jansson refuses it */
        keys[nk] = k;
        klen[nk++] = kn;
        ua_ws(s);
        if (s->p >= s->end || *s->p != ':')
            return -1;
        s->p++;
        ua_ws(s);
        if (s->p >= s->end)
            return -1;
        if (role == UA_ROOT) {
            if (is_key(k, kn, "title") || is_key(k, kn, "subtitle") || is_key(k, kn, "description") ||
                is_key(k, kn, "linkBack") || is_key(k, kn, "userMessage")) {
                if (*s->p != '"')
                    return -1;
            } else if (is_key(k, kn, "mediaItems")) {
                if (*s->p != '[')
                    return -1;
                sub = UA_MEDIA;
            } else if (is_key(k, kn, "actionLinks")) {
                if (*s->p != '[' && *s->p != '{')
                    return -1;
            }
        } else if (role == UA_ITEM) {
            if (is_key(k, kn, "data") && !s->allow_data)
                return -1;
            if (is_key(k, kn, "type")) {
                const unsigned char *t;
                size_t tn;
                if (*s->p != '"' || ua_string(s, &t, &tn, &esc) != 0 || esc ||
                    !(is_key(t, tn, "image") || is_key(t, tn, "flash") || is_key(t, tn, "mp3") ||
                      is_key(t, tn, "video")))
                    return -1;
                if (*kind && !(*kind_len == tn && memcmp(*kind, t, tn) == 0))
                    return -1; /* mixed media types */
                *kind = t;
                *kind_len = tn;
                type_seen = 1;
                goto next;
            }
        }
        if (ua_value(s, sub, depth + 1, kind, kind_len) != 0)
            return -1;
    next:
        ua_ws(s);
        if (s->p >= s->end)
            return -1;
        if (*s->p == '}') {
            s->p++;
            return role == UA_ITEM && !type_seen ? -1 : 0;
        }
        if (*s->p != ',')
            return -1;
        s->p++;
        ua_ws(s);
    }
}

static int ua_array(ua_scan *s, int role, int depth, const unsigned char **kind, size_t *kind_len)
{
    s->p++; /* '[' */
    ua_ws(s);
    if (s->p < s->end && *s->p == ']') {
        s->p++;
        return 0;
    }
    for (;;) {
        if (s->p >= s->end)
            return -1;
        if (role == UA_MEDIA && *s->p != '{')
            return -1; /* an item that is not an object */
        if (ua_value(s, role == UA_MEDIA ? UA_ITEM : UA_ANY, depth + 1, kind, kind_len) != 0)
            return -1;
        ua_ws(s);
        if (s->p >= s->end)
            return -1;
        if (*s->p == ']') {
            s->p++;
            return 0;
        }
        if (*s->p != ',')
            return -1;
        s->p++;
        ua_ws(s);
    }
}

static int ua_value(ua_scan *s, int role, int depth, const unsigned char **kind, size_t *kind_len)
{
    const unsigned char *b;
    size_t n;
    int esc;
    if (depth > UA_MAX_DEPTH || s->p >= s->end)
        return -1;
    switch (*s->p) {
    case '{': return ua_object(s, role, depth, kind, kind_len);
    case '[': return ua_array(s, role, depth, kind, kind_len);
    case '"': return ua_string(s, &b, &n, &esc);
    case 't': return ua_word(s, "true", 4);
    case 'f': return ua_word(s, "false", 5);
    case 'n': return ua_word(s, "null", 4);
    default: return ua_number(s);
    }
}

int sz_user_action_plain(const char *json, size_t len, int allow_data)
{
    ua_scan s;
    const unsigned char *kind = NULL;
    size_t kind_len = 0;
    s.p = (const unsigned char *)json;
    s.end = s.p + len;
    s.allow_data = allow_data;
    ua_ws(&s);
    if (s.p >= s.end || *s.p != '{' || ua_object(&s, UA_ROOT, 1, &kind, &kind_len) != 0)
        return 0;
    ua_ws(&s);
    return s.p == s.end;
}
