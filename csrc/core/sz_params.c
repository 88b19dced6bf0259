/* Sorted parameter set. Binary search on byte order keeps the set sorted as
 * the signature needs; sets are small (tens of entries). Each entry's name
 * and value live in one block ("name\0value\0": one malloc per parameter). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "sz_internal.h"

typedef struct sz_param {
    char  *key; /* the block: key, NUL, val, NUL */
    size_t klen;
    char  *val; /* inside key's block */
    size_t vlen;
} sz_param;

struct sz_params {
    sz_param *items;
    size_t    n, cap;
};

sz_params *sz_params_new(void) { return calloc(1, sizeof(sz_params)); }

/* An entry's block wiped and freed (its value may be a secret). */
static void param_free(sz_param *it) { sz_free_wiped(it->key, it->klen + it->vlen + 2); }

/* The block "key\0val\0" into *it, or -1 (no memory, or a size overflow). */
static int param_fill(sz_param *it, const char *key, size_t klen, const char *val, size_t vlen)
{
    char *b;
    if (klen > SIZE_MAX / 2 - 1 || vlen > SIZE_MAX / 2 - 1)
        return -1;
    if (!(b = malloc(klen + vlen + 2)))
        return -1;
    if (klen)
        memcpy(b, key, klen);
    b[klen] = '\0';
    if (vlen)
        memcpy(b + klen + 1, val, vlen);
    b[klen + 1 + vlen] = '\0';
    it->key = b;
    it->klen = klen;
    it->val = b + klen + 1;
    it->vlen = vlen;
    return 0;
}

void sz_params_free(sz_params *p)
{
    size_t i;
    if (!p)
        return;
    for (i = 0; i < p->n; i++)
        param_free(&p->items[i]);
    free(p->items);
    free(p);
}

static int keycmp(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c)
        return c;
    return an < bn ? -1 : an > bn;
}

/* Index of key, or -(insertion point) - 1. */
static long find(const sz_params *p, const char *key, size_t klen)
{
    size_t lo = 0, hi = p->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = keycmp(p->items[mid].key, p->items[mid].klen, key, klen);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -(long)lo - 1;
}

int sz_params_set(sz_params *p, const char *key, size_t klen, const char *val, size_t vlen)
{
    long at = find(p, key, klen);
    sz_param it;
    size_t pos;
    if (param_fill(&it, key, klen, val, vlen) != 0)
        return -1;
    if (at >= 0) {
        param_free(&p->items[at]);
        p->items[at] = it;
        return 0;
    }
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        sz_param *grown = realloc(p->items, cap * sizeof *grown);
        if (!grown) {
            param_free(&it);
            return -1;
        }
        p->items = grown;
        p->cap = cap;
    }
    pos = (size_t)(-at - 1);
    memmove(p->items + pos + 1, p->items + pos, (p->n - pos) * sizeof *p->items);
    p->items[pos] = it;
    p->n++;
    return 0;
}

sz_params *sz_params_copy(const sz_params *p)
{
    sz_params *c = sz_params_new();
    size_t i;
    if (!c)
        return NULL;
    for (i = 0; p && i < p->n; i++)
        if (sz_params_set(c, p->items[i].key, p->items[i].klen, p->items[i].val,
                          p->items[i].vlen) != 0) {
            sz_params_free(c);
            return NULL;
        }
    return c;
}

int sz_params_remove(sz_params *p, const char *key)
{
    long at = p && key ? find(p, key, strlen(key)) : -1;
    if (at < 0)
        return 0;
    param_free(&p->items[at]);
    memmove(p->items + at, p->items + at + 1, (p->n - (size_t)at - 1) * sizeof *p->items);
    p->n--;
    return 1;
}

const char *sz_params_get(const sz_params *p, const char *key, size_t *vlen)
{
    long at = p && key ? find(p, key, strlen(key)) : -1;
    if (at < 0)
        return NULL;
    if (vlen)
        *vlen = p->items[at].vlen;
    return p->items[at].val;
}

size_t sz_params_count(const sz_params *p) { return p ? p->n : 0; }

int sz_params_at(const sz_params *p, size_t i, const char **key, size_t *klen,
                 const char **val, size_t *vlen)
{
    if (!p || i >= p->n)
        return -1;
    if (key) *key = p->items[i].key;
    if (klen) *klen = p->items[i].klen;
    if (val) *val = p->items[i].val;
    if (vlen) *vlen = p->items[i].vlen;
    return 0;
}

char *sz_params_query(const sz_params *p, size_t *out_len)
{
    sz_buf b;
    size_t i;
    sz_buf_init(&b);
    sz_buf_reserve(&b, 0);
    for (i = 0; p && i < p->n; i++) {
        if (i)
            sz_buf_addc(&b, '&');
        sz_buf_add(&b, p->items[i].key, p->items[i].klen);
        sz_buf_addc(&b, '=');
        sz_url_encode_buf(&b, p->items[i].val, p->items[i].vlen);
    }
    return sz_buf_finish(&b, out_len);
}

char *sz_url_with_query(const char *url, const sz_params *p, size_t *out_len)
{
    size_t n = 0;
    char *q = sz_params_query(p, &n);
    sz_buf b;
    if (!q)
        return NULL;
    sz_buf_init(&b);
    sz_buf_adds(&b, url);
    if (n) {
        sz_buf_addc(&b, strchr(url, '?') ? '&' : '?');
        sz_buf_add(&b, q, n);
    }
    sz_free_wiped(q, n); /* it may hold a secret or a token */
    return sz_buf_finish(&b, out_len);
}
