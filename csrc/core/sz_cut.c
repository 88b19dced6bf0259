/* sz_cut.c - where a text is cut (sz_text.h): the longest prefix that fits
 * a budget with "…" after it, at a grapheme boundary (a flag, a ZWJ
 * family, a keycap stay whole) and never inside a link, whatever the counter:
 * code points, Weibo units, a network's own weights, X, graphemes or
 * Bluesky's graphemes and bytes. Sans-IO. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "sz_internal.h"
#include "sz_text.h"
#include "sz_textkit.h"

static void mark(char *in, size_t a, size_t b, size_t len)
{
    if (b > len)
        b = len;
    for (a++; a < b; a++)
        in[a] = 1;
}

/* in[i] = 1 when a cut at byte i would split a link: a URL twitter-text
 * finds (tw >= 0; tw 1: bare domains too), any http(s):// run up to white
 * space or a control byte, whatever precedes it ("Link:https://...": broad),
 * and Bluesky's link facets as detectFacets finds them (bare domains). NULL
 * when out of memory. */
static char *link_interiors(const char *s, size_t len, int tw, int broad, int bsky)
{
    char *in = (char *)calloc(len + 1, 1);
    sz_span *u = (sz_span *)malloc(SZ_MAX_SPANS * sizeof *u);
    size_t nu, k, i;
    if (!in || !u) {
        free(in);
        free(u);
        return NULL;
    }
    nu = tw >= 0 ? sz_text_tw_urls(s, len, tw, u, SZ_MAX_SPANS) : 0;
    for (k = 0; k < nu && k < SZ_MAX_SPANS; k++)
        mark(in, u[k].a, u[k].b, len);
    free(u);
    for (i = 0; broad && i < len; i++) {
        size_t e;
        if ((s[i] | 0x20) != 'h' || !((len - i >= 8 && strncasecmp(s + i, "https://", 8) == 0) ||
                                      (len - i >= 7 && strncasecmp(s + i, "http://", 7) == 0)))
            continue;
        for (e = i; e < len && (unsigned char)s[e] > 0x20 && s[e] != 0x7f; e++)
            ;
        mark(in, i, e, len);
        i = e;
    }
    if (bsky) {
        sz_facet *fs = NULL;
        size_t nf = 0;
        if (sz_text_facets(s, len, &fs, &nf) != 0) {
            free(in);
            return NULL;
        }
        for (k = 0; k < nf; k++)
            if (fs[k].kind == SZ_FACET_LINK)
                mark(in, fs[k].start, fs[k].end, len);
        sz_text_facets_free(fs, nf);
    }
    return in;
}

/* Counters that are sums over units, left to right (code points, or URLs
 * weighing url_weight when it is >= 0): the count of a prefix is the
 * running total, so one pass finds the cut. A cut is at a grapheme
 * boundary (inside a cluster longer than 32 bytes, a chain of conjuncts or
 * marks, between its code points) and outside links; (size_t)-1 when out of
 * memory. */
static size_t cut_units(const char *s, size_t len, sz_text_rule rule, long (*weigh)(unsigned), long url_weight,
                        long budget)
{
    size_t nb = 0, *b = sz_text_graphemes(s, len, &nb), kb = 0, i = 0, best = 0, nu = 0, ku = 0;
    size_t *us = NULL, *ue = NULL;
    char *in = b ? link_interiors(s, len, 1, 1, 0) : NULL;
    long long total = 0, ell = weigh ? weigh(0x2026) : sz_text_weight_of(rule, 0x2026);
    int oom = !b || !in;
    if (!oom && url_weight >= 0 && (nu = sz_text_url_spans(s, len, NULL, NULL, 0)) > 0) {
        us = (size_t *)malloc(nu * sizeof *us);
        ue = (size_t *)malloc(nu * sizeof *ue);
        if (us && ue)
            sz_text_url_spans(s, len, us, ue, nu);
        else
            oom = 1;
    }
    while (!oom && i < len) {
        size_t step;
        long long w;
        while (ku < nu && us[ku] < i)
            ku++;
        if (ku < nu && us[ku] == i) {
            step = ue[ku] - i;
            w = url_weight;
        } else {
            unsigned cp = sz_text_cp_at(s, len, i, &step);
            w = weigh ? weigh(cp) : sz_text_weight_of(rule, cp);
        }
        total = sz_sat_add(total, w);
        if (sz_sat_add(total, ell) > budget)
            break;
        i += step;
        while (kb < nb && b[kb] < i)
            kb++;
        if (kb < nb && !in[i] && (b[kb] == i || (kb > 0 && b[kb] - b[kb - 1] > 32)))
            best = i;
    }
    free(us);
    free(ue);
    free(in);
    free(b);
    if (oom)
        return (size_t)-1;
    while (best > 0 && (s[best - 1] == ' ' || s[best - 1] == '\n'))
        best--;
    return best;
}

/* Cuts `s` so that measure(result + "…") <= budget, never inside a URL or a
 * grapheme. Returns the new byte length (0 when nothing fits), (size_t)-1
 * when out of memory. */
size_t sz_text_cut(const char *s, size_t len, sz_text_rule rule, long url_weight, long budget)
{
    if (rule == SZ_TEXT_X || rule == SZ_TEXT_GRAPHEMES || rule == SZ_TEXT_BSKY)
        return sz_text_cut_bytes(s, len, rule, url_weight, budget, -1);
    return cut_units(s, len, rule, NULL, url_weight, budget);
}

size_t sz_text_cut_weighed(const char *s, size_t len, long (*weigh)(unsigned), long budget)
{
    return cut_units(s, len, SZ_TEXT_CODEPOINTS, weigh, -1, budget);
}

/* Cuts at a grapheme boundary outside URLs so that measure(cut + "…") fits
 * `budget` and its bytes fit `byte_budget` (< 0: no byte limit); (size_t)-1
 * when out of memory. */
size_t sz_text_cut_bytes(const char *s, size_t len, sz_text_rule rule, long url_weight, long budget,
                         long byte_budget)
{
    size_t nb, *b, m = 0, k, lo, hi, best = 0;
    int oom = 0;
    /* X and Mastodon: the URLs their counters weigh (twitter-text's, checked
     * against it); Bluesky: its facets and any http(s):// run */
    int tw = url_weight >= 0 && rule != SZ_TEXT_BSKY ? rule == SZ_TEXT_X : -1;
    char *in = NULL, *buf;
    if (rule != SZ_TEXT_X && rule != SZ_TEXT_GRAPHEMES && rule != SZ_TEXT_BSKY)
        return sz_text_cut(s, len, rule, url_weight, budget); /* code points: no byte rule */
    if (!(b = sz_text_graphemes(s, len, &nb)))
        return (size_t)-1;
    if (!(buf = (char *)malloc(len + 4)) || !(in = link_interiors(s, len, tw, tw < 0, rule == SZ_TEXT_BSKY))) {
        free(b);
        free(buf);
        return (size_t)-1;
    }
    { /* a cluster longer than 32 bytes (a chain of conjuncts) may be cut between its code points */
        size_t *cb = (size_t *)malloc((len + 2) * sizeof *cb), nc = 0, i;
        if (!cb) {
            free(b);
            free(buf);
            free(in);
            return (size_t)-1;
        }
        for (k = 0; k < nb; k++) {
            cb[nc++] = b[k];
            if (k + 1 < nb && b[k + 1] - b[k] > 32)
                for (i = b[k] + sz_text_prev_len(s + b[k], 0) + 1; i < b[k + 1]; i++)
                    if (((unsigned char)s[i] & 0xC0) != 0x80)
                        cb[nc++] = i;
        }
        free(b);
        b = cb;
        nb = nc;
    }
    for (k = 0; k < nb; k++) /* keep the boundaries outside links */
        if (!in[b[k]])
            b[m++] = b[k];
#define SZ_CUT_FITS(at, ok)                                                                      \
    do {                                                                                         \
        size_t e_ = (at);                                                                        \
        long w_;                                                                                 \
        while (e_ > 0 && (s[e_ - 1] == ' ' || s[e_ - 1] == '\n'))                                \
            e_--;                                                                                \
        memcpy(buf, s, e_);                                                                      \
        memcpy(buf + e_, "\xE2\x80\xA6", 3);                                                     \
        w_ = e_ > 0 ? sz_text_measure(buf, e_ + 3, rule, url_weight) : 0;                        \
        oom |= w_ < 0;                                                                           \
        ok = e_ > 0 && w_ >= 0 && w_ <= budget && (byte_budget < 0 || (long)(e_ + 3) <= byte_budget); \
    } while (0)
    lo = 0;
    hi = m;
    while (lo + 1 < hi) { /* largest fitting boundary, the count growing with the cut */
        size_t mid = lo + (hi - lo) / 2;
        int ok;
        SZ_CUT_FITS(b[mid], ok);
        if (ok)
            lo = mid;
        else
            hi = mid;
    }
    for (k = lo + 1; k-- > 1;) { /* URLs make the count not quite monotonic */
        int ok;
        SZ_CUT_FITS(b[k], ok);
        if (ok) {
            best = b[k];
            break;
        }
    }
#undef SZ_CUT_FITS
    if (oom)
        best = (size_t)-1;
    while (best != (size_t)-1 && best > 0 && (s[best - 1] == ' ' || s[best - 1] == '\n'))
        best--;
    free(in);
    free(buf);
    free(b);
    return best;
}
