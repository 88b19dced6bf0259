/* Percent-encoding and Base64. */
#include <stdlib.h>
#include <string.h>
#include "sz_internal.h"

static const char HEX[] = "0123456789ABCDEF";

/* 1 for the bytes RFC 3986 leaves as they are: A-Z a-z 0-9 - _ . ~ */
const unsigned char sz_url_keep[256] = {
    ['-'] = 1, ['.'] = 1, ['_'] = 1, ['~'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1,
    ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
    ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1,
    ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
    ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

void sz_url_encode_buf(sz_buf *b, const char *s, size_t len)
{
    size_t i;
    char *o;
    if (sz_buf_reserve(b, len * 3) != 0)
        return;
    o = b->data + b->len;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (sz_url_keep[c]) {
            *o++ = (char)c;
        } else {
            *o++ = '%';
            *o++ = HEX[c >> 4];
            *o++ = HEX[c & 15];
        }
    }
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
}

char *sz_url_encode(const char *s, size_t len, size_t *out_len)
{
    sz_buf b;
    sz_buf_init(&b);
    sz_url_encode_buf(&b, s, len);
    return sz_buf_finish(&b, out_len);
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void sz_base64_encode_buf(sz_buf *b, const unsigned char *d, size_t n, int url)
{
    const char *alpha = url ? B64URL : B64;
    size_t i;
    char *o;
    if (sz_buf_reserve(b, (n + 2) / 3 * 4) != 0)
        return;
    o = b->data + b->len;
    for (i = 0; i + 2 < n; i += 3) {
        unsigned v = (unsigned)d[i] << 16 | (unsigned)d[i + 1] << 8 | d[i + 2];
        *o++ = alpha[v >> 18];
        *o++ = alpha[(v >> 12) & 63];
        *o++ = alpha[(v >> 6) & 63];
        *o++ = alpha[v & 63];
    }
    if (i < n) {
        unsigned v = (unsigned)d[i] << 16 | (i + 1 < n ? (unsigned)d[i + 1] << 8 : 0);
        *o++ = alpha[v >> 18];
        *o++ = alpha[(v >> 12) & 63];
        if (i + 1 < n)
            *o++ = alpha[(v >> 6) & 63];
        else if (!url)
            *o++ = '=';
        if (!url)
            *o++ = '=';
    }
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
}

char *sz_base64_encode(const unsigned char *data, size_t len, size_t *out_len)
{
    sz_buf b;
    sz_buf_init(&b);
    sz_base64_encode_buf(&b, data, len, 0);
    return sz_buf_finish(&b, out_len);
}

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

int sz_base64_decode(const char *s, size_t len, const char *what, unsigned char **out,
                     size_t *out_len, sz_error *err)
{
    size_t pad = 0, n, i, o = 0;
    unsigned char *d;
    unsigned acc = 0;
    int bits = 0;
    if (!what)
        what = "value";
    *out = NULL;
    *out_len = 0;
    while (pad < 2 && pad < len && s[len - 1 - pad] == '=')
        pad++;
    n = len - pad;
    if ((pad && len % 4 != 0) || n % 4 == 1)
        goto bad;
    d = malloc(n * 3 / 4 + 1);
    if (!d) {
        sz_seterr(err, SZ_ENOMEM, "out of memory");
        return -1;
    }
    for (i = 0; i < n; i++) {
        int v = b64val((unsigned char)s[i]);
        if (v < 0) {
            sz_free_wiped(d, o);
            goto bad;
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            d[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) { /* non-canonical trailing bits */
        sz_free_wiped(d, o);
        goto bad;
    }
    *out = d;
    *out_len = o;
    return 0;
bad:
    sz_seterr(err, SZ_EINVALID, "Invalid parameter value: %s is not valid Base64", what);
    return -1;
}
