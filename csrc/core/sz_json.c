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
