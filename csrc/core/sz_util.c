/* Buffers, errors, UTF-8, constant-time comparison, version and messages. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include "sz_internal.h"
#include "sz_codes.h"

const char *sz_version(void) { return SZ_VERSION_STRING; }

void sz_free(void *p) { free(p); }

void sz_buf_init(sz_buf *b) { memset(b, 0, sizeof *b); }

void sz_wipe(void *p, size_t n)
{
    if (!p || !n)
        return;
#if defined(__GNUC__)
    memset(p, 0, n);
    __asm__ __volatile__("" : : "r"(p) : "memory"); /* the memset is not dead: p "is read" */
#else
    {
        volatile unsigned char *v = p; /* a store through volatile is never removed */
        while (n--)
            *v++ = 0;
    }
#endif
}

void sz_free_wiped(void *p, size_t n)
{
    if (!p)
        return;
    sz_wipe(p, n);
    free(p);
}

void sz_free_str(char *s)
{
    if (s)
        sz_free_wiped(s, strlen(s));
}

void sz_buf_reset(sz_buf *b)
{
    sz_free_wiped(b->data, b->cap);
    sz_buf_init(b);
}

int sz_buf_reserve(sz_buf *b, size_t extra)
{
    size_t need, cap;
    char *p;
    if (b->failed)
        return -1;
    if (extra > (size_t)-1 - b->len - 1)
        goto fail;
    need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > (size_t)-1 / 2 ? need : cap * 2;
    p = malloc(cap); /* not realloc: the old copy is zeroed, never left behind */
    if (!p)
        goto fail;
    if (b->len)
        memcpy(p, b->data, b->len + 1);
    sz_free_wiped(b->data, b->cap);
    b->data = p;
    b->cap = cap;
    return 0;
fail:
    b->failed = 1;
    return -1;
}

void sz_buf_add(sz_buf *b, const void *p, size_t n)
{
    if (sz_buf_reserve(b, n) != 0)
        return;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void sz_buf_adds(sz_buf *b, const char *s) { sz_buf_add(b, s, strlen(s)); }

void sz_buf_addc(sz_buf *b, char c) { sz_buf_add(b, &c, 1); }

void sz_buf_printf(sz_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || sz_buf_reserve(b, (size_t)n) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

char *sz_buf_finish(sz_buf *b, size_t *out_len)
{
    char *d;
    if (sz_buf_reserve(b, 0) != 0) {
        sz_buf_reset(b);
        return NULL;
    }
    d = b->data;
    d[b->len] = '\0';
    if (out_len)
        *out_len = b->len;
    sz_buf_init(b);
    return d;
}

void sz_seterr(sz_error *err, sz_status status, const char *fmt, ...)
{
    va_list ap;
    if (!err)
        return;
    err->status = status;
    err->code = sz_status_code(status);
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
}

void sz_clearerr(sz_error *err)
{
    if (!err)
        return;
    err->status = SZ_OK;
    err->code = 0;
    err->message[0] = '\0';
}

const char *sz_strerror(sz_status status)
{
    switch (status) {
    case SZ_OK: return "OK";
    case SZ_ENOMEM: return "Out of memory";
    case SZ_EMISSING: return "Missing required parameter";
    case SZ_EINVALID: return "Invalid parameter value";
    case SZ_EINSECURE: return "Secret sent over http";
    case SZ_ECRYPTO: return "Signing failed";
    case SZ_EREFUSED: return "Refused by the network's rules";
    }
    return "Unknown status";
}

int sz_status_code(sz_status status)
{
    switch (status) {
    case SZ_OK: return 0;
    case SZ_ENOMEM: return SZ_GIGYA_INTERNAL;
    case SZ_EMISSING: return SZ_GIGYA_MISSING_PARAMETER;
    case SZ_EINVALID: return SZ_GIGYA_INVALID_PARAMETER;
    case SZ_EINSECURE: return SZ_GIGYA_SECRET_OVER_HTTP;
    case SZ_ECRYPTO: return SZ_GIGYA_INTERNAL;
    case SZ_EREFUSED: return 0;
    }
    return SZ_GIGYA_INTERNAL;
}

long long sz_sat_add(long long a, long long b)
{
    if (b > 0 && a > LLONG_MAX - b)
        return LLONG_MAX;
    if (b < 0 && a < LLONG_MIN - b)
        return LLONG_MIN;
    return a + b;
}

long long sz_sat_sub(long long a, long long b)
{
    if (b < 0 && a > LLONG_MAX + b)
        return LLONG_MAX;
    if (b > 0 && a < LLONG_MIN + b)
        return LLONG_MIN;
    return a - b;
}

long long sz_sat_mul(long long a, long long b)
{
    if (a == 0 || b == 0)
        return 0;
    if ((a > 0) == (b > 0)) {
        if ((a > 0 && a > LLONG_MAX / b) || (a < 0 && a < LLONG_MAX / b))
            return LLONG_MAX;
    } else if ((a > 0 && b < LLONG_MIN / a) || (a < 0 && a < LLONG_MIN / b)) {
        return LLONG_MIN;
    }
    return a * b;
}

long long sz_sat_from_double(double d)
{
    if (d != d)
        return 0;
    if (d >= 9223372036854775807.0)
        return LLONG_MAX;
    if (d <= -9223372036854775808.0)
        return LLONG_MIN;
    return (long long)d;
}

int sz_parse_uint(const char *s, long long *out)
{
    long long v = 0;
    int digits = 0;
    if (!s)
        return -1;
    while (*s == ' ' || *s == '\t')
        s++;
    for (; *s >= '0' && *s <= '9'; s++, digits++)
        v = sz_sat_add(sz_sat_mul(v, 10), *s - '0');
    while (*s == ' ' || *s == '\t')
        s++;
    if (!digits || *s)
        return -1;
    *out = v;
    return 0;
}

char *sz_strndup(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

int sz_utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned c;
        size_t n, k;
        unsigned cp;
        /* ASCII runs eight bytes at a time */
        while (len - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ULL)
                break;
            i += 8;
        }
        if (i >= len)
            break;
        c = s[i];
        if (c < 0x80) { i++; continue; }
        if (c >= 0xC2 && c <= 0xDF) { n = 1; cp = c & 0x1F; }
        else if (c >= 0xE0 && c <= 0xEF) { n = 2; cp = c & 0x0F; }
        else if (c >= 0xF0 && c <= 0xF4) { n = 3; cp = c & 0x07; }
        else return 0;
        if (len - i <= n)
            return 0;
        for (k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += n + 1;
    }
    return 1;
}

int sz_consttime_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    /* Compare over the longer length so that the time depends only on the
     * lengths, never on where the first difference is. */
    size_t n = alen > blen ? alen : blen, i;
    unsigned char diff = (unsigned char)(alen != blen);
    for (i = 0; i < n; i++) {
        unsigned char x = i < alen ? (unsigned char)a[i] : 0;
        unsigned char y = i < blen ? (unsigned char)b[i] : 0;
        diff |= (unsigned char)(x ^ y);
    }
    return diff == 0;
}

const char *sz_gigya_message(int code)
{
    switch (code) { /* the one table of codes and messages: sz_codes.h */
#define SZ_MSG(c, name, m) case c: return m;
    SZ_GIGYA_CODES(SZ_MSG)
#undef SZ_MSG
    default: return "Unknown error";
    }
}
