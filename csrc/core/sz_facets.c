/* Bluesky's link, tag and cashtag facets, found as @atproto/api's
 * detectFacets finds them (UTF-8 byte offsets). Shares the code-point and
 * grapheme helpers of sz_text.c (sz_textkit.h). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unicode/uchar.h>
#include "sz_internal.h"
#include "sz_text.h"
#include "sz_textkit.h"

/* ---- Bluesky facets per @atproto/api detectFacets ------------------------ */

static int push_facet(sz_facet **fs, size_t *n, size_t *cap, int kind, size_t a, size_t b, const char *pre,
                      const char *v, size_t vl, int upper)
{
    sz_facet *f;
    size_t pl = strlen(pre), k;
    if (*n == *cap) {
        sz_facet *nf = (sz_facet *)realloc(*fs, (*cap = *cap ? *cap * 2 : 8) * sizeof **fs);
        if (!nf)
            return -1;
        *fs = nf;
    }
    f = &(*fs)[*n];
    if (!(f->value = (char *)malloc(pl + vl + 1)))
        return -1;
    memcpy(f->value, pre, pl);
    memcpy(f->value + pl, v, vl);
    f->value[pl + vl] = 0;
    if (upper)
        for (k = pl; k < pl + vl; k++)
            f->value[k] = (char)toupper((unsigned char)f->value[k]);
    f->kind = kind;
    f->start = a;
    f->end = b;
    (*n)++;
    return 0;
}

static int tag_zw(unsigned c) { return c == 0xAD || c == 0x2060 || c == 0x200A || c == 0x200B || c == 0x200C || c == 0x200D || c == 0x20E2; }

static int bsky_tld_ok(const char *d, size_t n) /* isValidDomain: ends in ".tld", lower case */
{
    size_t i = n;
    while (i > 0 && d[i - 1] != '.')
        i--;
    if (i == 0 || i == n)
        return 0;
    return sz_text_is_tld(d + i, n - i);
}

int sz_text_facets(const char *s, size_t len, sz_facet **out, size_t *count)
{
    size_t n = 0, cap = 0, p = 0, cl;
    sz_facet *fs = NULL;
    *out = NULL;
    *count = 0;
    /* links: (^|\s|\()(https?://\S+ | domain\S*) */
    while (p < len) {
        unsigned c = sz_text_cp_at(s, len, p, &cl), pc = p ? sz_text_cp_before(s, p) : '\n';
        size_t g = p, e, de = 0;
        int bare = 0;
        if (!(p == 0 || pc == '\n' || pc == '\r' || pc == 0x2028 || pc == 0x2029 || sz_text_js_space(pc) || pc == '(')) {
            p += cl;
            continue;
        }
        (void)c;
        if ((len - g >= 8 && strncasecmp(s + g, "https://", 8) == 0 && g + 8 < len) ||
            (len - g >= 7 && strncasecmp(s + g, "http://", 7) == 0 && g + 7 < len)) {
            e = g + (s[g + 4] == ':' ? 7 : 8);
        } else if (isalpha((unsigned char)s[g])) {
            size_t d = g + 1;
            int dots = 0;
            while (d < len && isalnum((unsigned char)s[d]))
                d++;
            while (d + 1 < len && s[d] == '.' && isalnum((unsigned char)s[d + 1])) {
                d++;
                while (d < len && isalnum((unsigned char)s[d]))
                    d++;
                dots++;
            }
            if (!dots) {
                p += cl;
                continue;
            }
            de = d;
            e = d;
            bare = 1;
        } else {
            p += cl;
            continue;
        }
        {
            size_t m;
            unsigned d;
            int need = !bare;
            while (e < len && !sz_text_js_space(d = sz_text_cp_at(s, len, e, &m))) {
                e += m;
                need = 0;
            }
            if (need) { /* https:// needs one non-space */
                p += cl;
                continue;
            }
        }
        if (bare && !bsky_tld_ok(s + g, de - g)) {
            p = e;
            continue;
        }
        if (strncmp(s + g, "http", 4) != 0 && !bare) { /* HTTP:// is no link to @atproto/api */
            p = e;
            continue;
        }
        {
            size_t fe = e;
            int paren;
            if (fe > g && strchr(".,;:!?", s[fe - 1]))
                fe--;
            paren = memchr(s + g, '(', fe - g) != NULL;
            if (fe > g && s[fe - 1] == ')' && !paren)
                fe--;
            if (push_facet(&fs, &n, &cap, SZ_FACET_LINK, g, fe, bare ? "https://" : "", s + g, fe - g, 0) != 0)
                goto oom;
        }
        p = e;
    }
    /* tags: (^|\s)[#＃] then a run with a non-digit, non-punctuation character */
    for (p = 0; p < len;) {
        unsigned pc = p ? sz_text_cp_before(s, p) : ' ', c = sz_text_cp_at(s, len, p, &cl);
        size_t r, re, m, t, te;
        int any = 0;
        if (!(p == 0 || sz_text_js_space(pc)) || !(c == '#' || c == 0xFF03)) {
            p += cl;
            continue;
        }
        r = p + cl;
        if (r < len && sz_text_cp_at(s, len, r, &m) == 0xFE0F) {
            p = r;
            continue;
        }
        for (re = r; re < len;) {
            unsigned d = sz_text_cp_at(s, len, re, &m);
            if (sz_text_js_space(d) || tag_zw(d))
                break;
            if (!(d >= '0' && d <= '9') && !u_ispunct((UChar32)d))
                any = 1;
            re += m;
        }
        if (!any) {
            p = r;
            continue;
        }
        t = r;
        te = re;
        while (te > t && u_ispunct((UChar32)sz_text_cp_before(s, te)))
            te -= sz_text_prev_len(s, te);
        if (te > t) {
            size_t nb = 0, *gb = NULL;
            int ok = 1;
            if (sz_text_codepoints(s + t, te - t) > 32) { /* over 64 graphemes is no tag */
                gb = sz_text_graphemes(s + t, te - t, &nb);
                if (!gb)
                    goto oom;
                ok = nb <= 65;
                free(gb);
            }
            if (ok && push_facet(&fs, &n, &cap, SZ_FACET_TAG, p, te, "", s + t, te - t, 0) != 0)
                goto oom;
        }
        p = re;
    }
    /* cashtags: (^|\s|\()$ + a letter and up to 4 letters or digits, then an end */
    for (p = 0; p < len; p++) {
        unsigned pc = p ? sz_text_cp_before(s, p) : ' ';
        size_t e = p + 1;
        if (s[p] != '$' || !(p == 0 || sz_text_js_space(pc) || pc == '(') || e >= len || !isalpha((unsigned char)s[e]))
            continue;
        e++;
        while (e < len && e - p <= 5 && isalnum((unsigned char)s[e]))
            e++;
        if (e < len) {
            size_t m;
            unsigned d = sz_text_cp_at(s, len, e, &m);
            if (!(sz_text_js_space(d) || (d < 0x80 && strchr(".,;:!?)\"'", (int)d) && d) || d == 0x2019))
                continue;
        }
        if (push_facet(&fs, &n, &cap, SZ_FACET_TAG, p, e, "$", s + p + 1, e - p - 1, 1) != 0)
            goto oom;
    }
    { /* in text order, as @atproto/api's detectFacetsWithoutResolution sorts them
       * (a reader walking the facets in order skips one that starts behind it) */
        size_t i, k;
        for (i = 1; i < n; i++) {
            sz_facet f = fs[i];
            for (k = i; k > 0 && fs[k - 1].start > f.start; k--)
                fs[k] = fs[k - 1];
            fs[k] = f;
        }
    }
    *out = fs;
    *count = n;
    return 0;
oom:
    sz_text_facets_free(fs, n);
    return -1;
}

void sz_text_facets_free(sz_facet *fs, size_t n)
{
    size_t i;
    for (i = 0; fs && i < n; i++)
        free(fs[i].value);
    free(fs);
}
