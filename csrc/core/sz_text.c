/* Text measurement and truncation per network: X's weighted count exactly as
 * twitter-text v3 (NFC, URLs with and without protocol = 23, emoji sequences
 * = 2), Mastodon's grapheme count (URL = instance value), Bluesky graphemes +
 * bytes and its link and tag facets as @atproto/api detects them, Weibo
 * half-width units, plain code points. Unicode data comes from ICU (Debian's
 * libicu); TLDs and emoji sequences from tables generated at build time
 * (csrc/gen/textdata.sh). Truncation never cuts inside a URL or a grapheme. */
#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unicode/ubrk.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>
#include <unicode/utext.h>
#include "sz_internal.h"
#include "sz_text.h"
#include "sz_textkit.h"

/* Decodes one code point; returns its byte length (1 for invalid bytes). */
static size_t next_cp(const char *s, size_t len, size_t i, unsigned *cp)
{
    const unsigned char *u = (const unsigned char *)s + i;
    size_t n = len - i;
    if (u[0] < 0x80 || n < 2) { *cp = u[0]; return 1; }
    if ((u[0] & 0xE0) == 0xC0) { *cp = (u[0] & 0x1Fu) << 6 | (u[1] & 0x3Fu); return 2; }
    if ((u[0] & 0xF0) == 0xE0 && n >= 3) {
        *cp = (u[0] & 0x0Fu) << 12 | (u[1] & 0x3Fu) << 6 | (u[2] & 0x3Fu);
        return 3;
    }
    if ((u[0] & 0xF8) == 0xF0 && n >= 4) {
        *cp = (u[0] & 0x07u) << 18 | (u[1] & 0x3Fu) << 12 | (u[2] & 0x3Fu) << 6 | (u[3] & 0x3Fu);
        return 4;
    }
    *cp = u[0];
    return 1;
}

/* Length of the URL starting at i (http:// or https:// up to white space), or 0. */
static size_t url_at(const char *s, size_t len, size_t i)
{
    size_t j;
    if (!(len - i >= 8 && strncmp(s + i, "https://", 8) == 0) &&
        !(len - i >= 7 && strncmp(s + i, "http://", 7) == 0))
        return 0;
    if (i > 0 && s[i - 1] != ' ' && s[i - 1] != '\n' && s[i - 1] != '\t' && s[i - 1] != '(')
        return 0;
    for (j = i; j < len && s[j] != ' ' && s[j] != '\n' && s[j] != '\t' && s[j] != '\r'; j++)
        ;
    return j - i;
}

size_t sz_text_url_spans(const char *s, size_t len, size_t *starts, size_t *ends, size_t max)
{
    size_t i = 0, n = 0;
    while (i < len) {
        size_t u = url_at(s, len, i);
        if (u) {
            if (n < max) {
                starts[n] = i;
                ends[n] = i + u;
            }
            n++;
            i += u;
        } else {
            i++;
        }
    }
    return n;
}

long sz_text_weight_of(sz_text_rule rule, unsigned cp)
{
    switch (rule) {
    case SZ_TEXT_X:
        /* docs.x.com counting-characters: these ranges weigh 1, the rest 2 */
        if (cp <= 0x10FF || (cp >= 0x2000 && cp <= 0x200D) || (cp >= 0x2010 && cp <= 0x201F) ||
            (cp >= 0x2032 && cp <= 0x2037))
            return 1;
        return 2;
    case SZ_TEXT_WEIBO: /* half-width counts as half a 汉字: units of halves */
        return cp < 0x80 ? 1 : 2;
    default:
        return 1;
    }
}

static long measure_x(const char *s0, size_t len0, long url_weight);
static long measure_graphemes(const char *s, size_t len, long url_weight);

/* The text's count in the network's unit. */
long sz_text_measure(const char *s, size_t len, sz_text_rule rule, long url_weight)
{
    size_t i = 0;
    long total = 0;
    if (rule == SZ_TEXT_X)
        return measure_x(s, len, url_weight);
    if (rule == SZ_TEXT_GRAPHEMES || rule == SZ_TEXT_BSKY)
        return measure_graphemes(s, len, rule == SZ_TEXT_BSKY ? -1 : url_weight);
    while (i < len) {
        unsigned cp;
        size_t u = url_weight >= 0 ? url_at(s, len, i) : 0, n;
        if (u) {
            total += url_weight;
            i += u;
            continue;
        }
        n = next_cp(s, len, i, &cp);
        total += sz_text_weight_of(rule, cp);
        i += n;
    }
    return total;
}

size_t sz_text_codepoints(const char *s, size_t len)
{
    size_t i = 0, n = 0;
    while (i < len) {
        unsigned cp;
        i += next_cp(s, len, i, &cp);
        n++;
    }
    return n;
}

/* ==== Unicode-aware counting (ICU): X per twitter-text v3, Mastodon per
 * status_length_validator.rb, Bluesky per @atproto/api. ==================== */

#if defined(__has_include)
#if __has_include("sz_textdata.h")
#include "sz_textdata.h" /* generated at build time: csrc/gen/textdata.sh */
#define SZ_HAVE_TEXTDATA 1
#endif
#endif
#ifndef SZ_HAVE_TEXTDATA
/* Without the generated tables every ASCII label of 2+ letters counts as a
 * TLD and no emoji sequence is known: X counts each code point of a sequence
 * (never less than twitter-text does). */
static const char *const SZ_TLDS[] = {NULL};
static const char *const SZ_EMOJI_SEQS[] = {NULL};
#endif
/* the generated tables are NULL-terminated arrays: their size is known here */
#define in_table(t, s, n, ci) table_has(t, sizeof t / sizeof *t - 1, s, n, ci)

/* bsearch of s[0..n) in a sorted table of nt entries; ci: ASCII case-insensitive */
static int table_has(const char *const *t, size_t nt, const char *s, size_t n, int ci)
{
    size_t lo = 0, hi = nt;
    char low[64];
    size_t k;
    if (ci) {
        if (n >= sizeof low)
            return 0;
        for (k = 0; k < n; k++)
            low[k] = (char)tolower((unsigned char)s[k]);
        s = low;
    }
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2, ml = strlen(t[mid]);
        int c = memcmp(t[mid], s, ml < n ? ml : n);
        if (c == 0)
            c = ml < n ? -1 : (ml > n ? 1 : 0);
        if (c == 0)
            return 1;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

unsigned sz_text_cp_at(const char *s, size_t len, size_t i, size_t *n)
{
    unsigned cp;
    *n = next_cp(s, len, i, &cp);
    return cp;
}

/* byte length of the code point that ends at i (as next_cp decodes it) */
size_t sz_text_prev_len(const char *s, size_t i)
{
    size_t j = i, k, n;
    unsigned cp;
    if (i == 0)
        return 0;
    for (k = 1; k <= 4 && k <= i; k++) {
        j = i - k;
        if (((unsigned char)s[j] & 0xC0) != 0x80) {
            if (next_cp(s, i, j, &cp) == k)
                return k;
            break;
        }
    }
    (void)n;
    return 1;
}

/* the code point that ends before i */
unsigned sz_text_cp_before(const char *s, size_t i)
{
    size_t n;
    if (i == 0)
        return 0;
    return sz_text_cp_at(s, i, i - sz_text_prev_len(s, i), &n);
}

int sz_text_js_space(unsigned c) /* ECMAScript \s */
{
    return c == 9 || c == 10 || c == 11 || c == 12 || c == 13 || c == 32 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
           c == 0x3000 || c == 0xFEFF;
}

static int tw_invalid(unsigned c) { return c == 0xFFFE || c == 0xFEFF || c == 0xFFFF; }
static int tw_directional(unsigned c)
{
    return (c >= 0x202A && c <= 0x202E) || c == 0x061C || c == 0x200E || c == 0x200F || (c >= 0x2066 && c <= 0x2069);
}
static int tw_space(unsigned c) /* twitter-text spaces */
{
    return (c >= 9 && c <= 13) || c == 32 || c == 0x85 || c == 0xA0 || c == 0x1680 || c == 0x180E ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}
static int ascii_punct(unsigned c) { return c < 0x80 && ispunct((int)c); }
static int tw_domain_char(unsigned c)
{
    return !ascii_punct(c) && !tw_space(c) && !tw_invalid(c) && !tw_directional(c);
}
static int tw_latin_accent(unsigned c)
{
    return (c >= 0xC0 && c <= 0xD6) || (c >= 0xD8 && c <= 0xF6) || (c >= 0xF8 && c <= 0x24F) || c == 0x253 ||
           c == 0x254 || c == 0x256 || c == 0x257 || c == 0x259 || c == 0x25B || c == 0x263 || c == 0x268 ||
           c == 0x26F || c == 0x272 || c == 0x289 || c == 0x28B || c == 0x2BB || (c >= 0x300 && c <= 0x36F) ||
           (c >= 0x1E00 && c <= 0x1EFF);
}
static int tw_path_char(unsigned c)
{
    return (c < 0x80 && (isalnum((int)c) || strchr("!*';:=+,.$/%#[]-_~@|&", (int)c))) || c == 0x2013 ||
           (c >= 0x400 && c <= 0x4FF) || tw_latin_accent(c);
}
static int tw_path_end(unsigned c)
{
    return (c < 0x80 && (isalnum((int)c) || strchr("+-=_#/", (int)c))) || (c >= 0x400 && c <= 0x4FF) ||
           tw_latin_accent(c);
}
static int tw_query_char(unsigned c) { return c < 0x80 && (isalnum((int)c) || strchr("!?*'@();:&=+$/%#[]-_.,~|", (int)c)); }
static int tw_query_end(unsigned c) { return c < 0x80 && (isalnum((int)c) || strchr("-_&=#/", (int)c)); }

/* A TLD starting at i (twitter-text: followed by none of [0-9A-Za-z@+-]). */
static size_t tld_at(const char *s, size_t len, size_t i)
{
    size_t j = i;
    while (j < len && (isalnum((unsigned char)s[j]) || s[j] == '-'))
        j++;
    if (j - i >= 5 && strncasecmp(s + i, "xn--", 4) == 0)
        return j - i;
    /* the label's alphanumeric run, then shorter prefixes ending before a non-ASCII */
    {
        size_t k = i;
        while (k < len && isalnum((unsigned char)s[k]))
            k++;
        if (k < len && (s[k] == '@' || s[k] == '+' || s[k] == '-'))
            return 0;
        if (k == i)
            return 0;
#ifdef SZ_HAVE_TEXTDATA
        return in_table(SZ_TLDS, s + i, k - i, 1) ? k - i : 0;
#else
        {
            size_t m;
            for (m = i; m < k; m++)
                if (!isalpha((unsigned char)s[m]))
                    return 0;
            return k - i >= 2 ? k - i : 0;
        }
#endif
    }
}

/* One label at st: domain chars with - or _ inside. Its end in *end, the
 * end of its last domain char in *lastc, 1 + the offset of its last '_' in
 * *under (0: none); 1 when it holds a domain char. */
#ifdef SZ_TEST_FAIL_ALLOC
unsigned long long sz_test_label_steps;
#define SZ_COUNT_STEP() (sz_test_label_steps++)
#else
#define SZ_COUNT_STEP() ((void)0)
#endif
static int tw_label(const char *s, size_t len, size_t st, size_t *end, size_t *lastc, size_t *under)
{
    size_t i = st, n;
    int ok = 0;
    *lastc = 0;
    *under = 0;
    while (i < len) {
        unsigned c = sz_text_cp_at(s, len, i, &n);
        SZ_COUNT_STEP();
        if (tw_domain_char(c)) {
            ok = 1;
            *lastc = i + n;
        } else if (!(c == '-' || c == '_') || i == st) {
            break;
        }
        if (c == '_')
            *under = i + 1;
        i += n;
    }
    *end = i;
    return ok;
}

/* One label read by tw_label, with what tw_domain asks of it. */
typedef struct tw_lab {
    size_t st, end, tld;
    unsigned char more;  /* well formed and followed by '.': the next label counts */
    unsigned char ends;  /* starts and ends with a domain char */
    unsigned char under; /* holds a '_' */
} tw_lab;

/* What tw_domain learns of a first label and of the labels after it (the
 * chain). tw_urls tries every start inside a run of letters (CJK has no
 * spaces) and after every '.': each start inside one label has the same
 * chain, and the next label's chain is this one shifted by one, so every
 * label is read once (reading them again per start was quadratic: 1 MB of
 * "a." took 13 s). */
#define TW_LABS 512
typedef struct tw_memo {
    size_t lo, hi, lastc, under; /* a first label read from lo: [lo, hi) */
    size_t h, cnt;               /* the chain: lab[h, h + cnt), at most 127 */
    tw_lab lab[TW_LABS];
} tw_memo;

static void tw_read(const char *s, size_t len, size_t st, tw_lab *l)
{
    size_t lastc, under, n;
    int ok = tw_label(s, len, st, &l->end, &lastc, &under);
    l->st = st;
    l->more = ok && lastc == l->end && l->end < len && s[l->end] == '.';
    l->tld = tld_at(s, len, st);
    l->under = under > 0;
    l->ends = l->end > st && tw_domain_char(sz_text_cp_at(s, len, st, &n)) &&
              tw_domain_char(sz_text_cp_before(s, l->end));
}

/* The chain of labels from t (after a first label's '.'): slid along the
 * last one when t is one of its labels, else read anew. */
static void tw_chain(const char *s, size_t len, size_t t, tw_memo *m)
{
    size_t k;
    for (k = 0; k < m->cnt && m->lab[m->h + k].st != t; k++)
        ;
    if (k < m->cnt) {
        m->h += k;
        m->cnt -= k;
    } else {
        m->h = 0;
        m->cnt = 0;
    }
    if (m->h + 128 > TW_LABS) {
        memmove(m->lab, m->lab + m->h, m->cnt * sizeof *m->lab);
        m->h = 0;
    }
    if (m->cnt == 0) {
        tw_read(s, len, t, &m->lab[m->h]);
        m->cnt = 1;
    }
    while (m->cnt < 127 && m->lab[m->h + m->cnt - 1].more) {
        tw_read(s, len, m->lab[m->h + m->cnt - 1].end + 1, &m->lab[m->h + m->cnt]);
        m->cnt++;
    }
}

/* Domain at q per twitter-text (subdomains, a name, a TLD); 0 if none. */
static size_t tw_domain(const char *s, size_t len, size_t q, tw_memo *m)
{
    size_t e0, lastc0, under0, j, n, fb;
    const tw_lab *l;
    if (q < len && m->lo < q && q < m->hi && tw_domain_char(sz_text_cp_at(s, len, q, &n))) {
        e0 = m->hi; /* inside the run read last: the same end */
        lastc0 = m->lastc;
        under0 = m->under;
    } else {
        if (!tw_label(s, len, q, &e0, &lastc0, &under0))
            return 0;
        m->lo = q;
        m->hi = e0;
        m->lastc = lastc0;
        m->under = under0;
    }
    if (lastc0 != e0 || e0 >= len || s[e0] != '.')
        return 0;
    /* the first label: starts and ends with a domain char */
    if (!tw_domain_char(sz_text_cp_at(s, len, q, &n)) || !tw_domain_char(sz_text_cp_before(s, e0)))
        return 0;
    tw_chain(s, len, e0 + 1, m);
    l = m->lab + m->h; /* label j (1-based after the first) is l[j - 1] */
    for (fb = 0; fb < m->cnt && l[fb].ends; fb++)
        ;
    /* the TLD at label j: labels 1..j-1 start and end with a domain char,
     * the name (label j-1, the first one when j is 1) has no '_' */
    for (j = m->cnt; j >= 1; j--)
        if (l[j - 1].tld > 0 && j - 1 <= fb && (j == 1 ? under0 <= q : !l[j - 2].under))
            return l[j - 1].st + l[j - 1].tld - q;
    return 0;
}

/* End of "/path" at i per twitter-text (balanced parentheses one level deep). */
static size_t tw_path(const char *s, size_t len, size_t i)
{
    size_t j = i, good = i, n;
    while (j < len) {
        unsigned c = sz_text_cp_at(s, len, j, &n);
        if (c == '(') { /* a balanced group: ( chars ) or ( chars ( chars ) chars ) */
            size_t k = j + 1, depth = 1, m;
            while (k < len && depth > 0) {
                unsigned d = sz_text_cp_at(s, len, k, &m);
                if (d == '(' && depth < 2)
                    depth++;
                else if (d == ')')
                    depth--;
                else if (!tw_path_char(d))
                    break;
                k += m;
            }
            if (depth != 0 || k == j + 2)
                break;
            j = k;
            good = j;
            continue;
        }
        if (!tw_path_char(c))
            break;
        j += n;
        if (tw_path_end(c))
            good = j;
    }
    return good;
}

/* URLs per twitter-text's extractUrlsWithIndices (with_bare: also without
 * protocol, ASCII domains). Returns the count, fills up to max spans. */
size_t sz_text_tw_urls(const char *s, size_t len, int with_bare, sz_span *out, size_t max)
{
    size_t p = 0, n = 0, cl;
    tw_memo m;
    m.lo = m.hi = m.h = m.cnt = 0;
    while (p < len) {
        unsigned prev = p ? sz_text_cp_before(s, p) : 0;
        size_t q = p, proto = 0, d, e;
        int ok_prev = p == 0 || tw_directional(prev) ||
                      (!(prev < 0x80 && (isalnum((int)prev) || prev == '@' || prev == '$' || prev == '#')) &&
                       prev != 0xFF20 && prev != 0xFF03 && !tw_invalid(prev));
        sz_text_cp_at(s, len, p, &cl);
        if (!ok_prev) {
            p += cl;
            continue;
        }
        if (len - q >= 8 && strncasecmp(s + q, "https://", 8) == 0)
            proto = 8;
        else if (len - q >= 7 && strncasecmp(s + q, "http://", 7) == 0)
            proto = 7;
        d = tw_domain(s, len, q + proto, &m);
        if (!d && proto) {
            proto = 0;
            d = tw_domain(s, len, q, &m);
        }
        if (!d) {
            p += cl;
            continue;
        }
        e = q + proto + d;
        if (e < len && s[e] == ':' && e + 1 < len && isdigit((unsigned char)s[e + 1])) {
            e++;
            while (e < len && isdigit((unsigned char)s[e]))
                e++;
        }
        {
            size_t pathstart = e;
            if (e < len && s[e] == '/')
                e = tw_path(s, len, e + 1);
            if (e < len && s[e] == '?') {
                size_t j = e + 1, good = e;
                while (j < len && tw_query_char((unsigned char)s[j])) {
                    j++;
                    if (tw_query_end((unsigned char)s[j - 1]))
                        good = j;
                }
                e = good;
            }
            if (proto) {
                if (n < max) {
                    out[n].a = q;
                    out[n].b = e;
                }
                n++;
            } else if (with_bare && !(p > 0 && prev < 0x80 && prev && strchr("-_./", (int)prev))) {
                /* the ASCII domain that ends the matched domain */
                size_t dend = q + d, a = dend, tstart;
                tstart = dend;
                while (tstart > q && s[tstart - 1] != '.')
                    tstart--;
                a = tstart;
                while (a > q) {
                    unsigned c = sz_text_cp_before(s, a);
                    if (!(c < 0x80 ? (isalnum((int)c) || c == '-' || c == '.') : tw_latin_accent(c)))
                        break;
                    a -= sz_text_prev_len(s, a);
                }
                while (a < tstart && s[a] == '.')
                    a++;
                {
                    size_t k;
                    for (k = a; k + 1 < tstart; k++)
                        if (s[k] == '.' && s[k + 1] == '.')
                            a = k + 2;
                }
                if (a < tstart) {
                    if (n < max) {
                        out[n].a = a;
                        out[n].b = e > pathstart ? e : dend;
                    }
                    n++;
                }
            }
        }
        p = e > p ? e : p + cl;
    }
    return n;
}

/* NFC copy (twitter-text counts the normalised text); NULL on failure. */
static char *nfc(const char *s, size_t len, size_t *outlen)
{
    UErrorCode st = U_ZERO_ERROR;
    const UNormalizer2 *nf = unorm2_getNFCInstance(&st);
    int32_t n16 = 0, m16, n8 = 0;
    UChar *a = NULL, *b = NULL;
    char *out = NULL;
    if (U_FAILURE(st) || len > (size_t)INT32_MAX / 4)
        return NULL;
    u_strFromUTF8WithSub(NULL, 0, &n16, s, (int32_t)len, 0xFFFD, NULL, &st);
    st = U_ZERO_ERROR;
    a = (UChar *)malloc(((size_t)n16 + 1) * sizeof(UChar));
    b = (UChar *)malloc(((size_t)n16 * 3 + 1) * sizeof(UChar));
    if (!a || !b)
        goto fail;
    u_strFromUTF8WithSub(a, n16 + 1, NULL, s, (int32_t)len, 0xFFFD, NULL, &st);
    m16 = unorm2_normalize(nf, a, n16, b, n16 * 3 + 1, &st);
    if (U_FAILURE(st))
        goto fail;
    u_strToUTF8(NULL, 0, &n8, b, m16, &st);
    st = U_ZERO_ERROR;
    if (!(out = (char *)malloc((size_t)n8 + 1)))
        goto fail;
    u_strToUTF8(out, n8 + 1, NULL, b, m16, &st);
    if (U_FAILURE(st)) {
        free(out);
        out = NULL;
        goto fail;
    }
    *outlen = (size_t)n8;
fail:
    free(a);
    free(b);
    return out;
}

/* Appends v to the growing array b (n used of cap); frees b and answers
 * NULL when it cannot grow. */
static size_t *push_offset(size_t *b, size_t *n, size_t *cap, size_t v)
{
    if (*n == *cap) {
        size_t *nbuf = *cap > SIZE_MAX / 2 / sizeof *b ? NULL : (size_t *)realloc(b, (*cap *= 2) * sizeof *b);
        if (!nbuf) {
            free(b);
            return NULL;
        }
        b = nbuf;
    }
    b[(*n)++] = v;
    return b;
}

/* Grapheme cluster boundaries (byte offsets, 0 and len included); NULL on
 * allocation failure. Falls back to code points if ICU fails. */
size_t *sz_text_graphemes(const char *s, size_t len, size_t *nb)
{
    UErrorCode st = U_ZERO_ERROR;
    UText *ut = NULL;
    UBreakIterator *bi = NULL;
    size_t cap = 16, n = 0, *b = (size_t *)malloc(cap * sizeof *b), i;
    if (!b)
        return NULL;
    if (len <= (size_t)INT32_MAX) {
        ut = utext_openUTF8(NULL, s, (int64_t)len, &st);
        bi = ubrk_open(UBRK_CHARACTER, "", NULL, 0, &st);
        ubrk_setUText(bi, ut, &st);
    }
    if (len <= (size_t)INT32_MAX && U_SUCCESS(st)) {
        int32_t k;
        for (k = ubrk_first(bi); b && k != UBRK_DONE; k = ubrk_next(bi))
            b = push_offset(b, &n, &cap, (size_t)k);
    } else {
        for (i = 0; b && i <= len;) {
            unsigned cp;
            b = push_offset(b, &n, &cap, i);
            i += i < len ? next_cp(s, len, i, &cp) : 1;
        }
    }
    ubrk_close(bi);
    utext_close(ut);
    *nb = n;
    return b;
}

/* the longest known emoji sequence at i (2+ code points), or 0 */
static size_t emoji_seq(const char *s, size_t len, size_t i)
{
    size_t ends[16], ne = 0, j = i, k;
    unsigned first;
    /* every sequence's second code point is not ASCII (FE0F, 200D, 20E3,
     * modifiers, regional indicators, tags): plain text is passed at once */
    j += next_cp(s, len, j, &first);
    ends[ne++] = j;
    if (j >= len || (unsigned char)s[j] < 0x80)
        return 0;
    while (j < len && ne < 16) {
        unsigned cp;
        j += next_cp(s, len, j, &cp);
        ends[ne++] = j;
    }
    for (k = ne; k-- > 1;)
        if (in_table(SZ_EMOJI_SEQS, s + i, ends[k] - i, 0))
            return ends[k] - i;
    return 0;
}


/* X: twitter-text v3 parseTweet's weightedLength on the NFC form */
static long measure_x(const char *s0, size_t len0, long url_weight)
{
    size_t len, i = 0, nu, k = 0;
    char *s = nfc(s0, len0, &len);
    sz_span *u;
    long total = 0;
    if (!s)
        return -1; /* out of memory */
    u = (sz_span *)malloc(SZ_MAX_SPANS * sizeof *u);
    if (!u) {
        free(s);
        return -1; /* out of memory */
    }
    nu = url_weight >= 0 ? sz_text_tw_urls(s, len, 1, u, SZ_MAX_SPANS) : 0;
    if (nu > SZ_MAX_SPANS)
        nu = SZ_MAX_SPANS;
    while (i < len) {
        unsigned cp;
        size_t n;
        while (k < nu && u[k].a < i)
            k++;
        if (k < nu && u[k].a == i && u[k].b > i) {
            total += url_weight;
            i = u[k].b;
            continue;
        }
        if ((n = emoji_seq(s, len, i)) > 0) {
            total += 2;
            i += n;
            continue;
        }
        i += next_cp(s, len, i, &cp);
        total += sz_text_weight_of(SZ_TEXT_X, cp);
    }
    free(u);
    free(s);
    return total;
}

/* graphemes; URLs with a protocol count url_weight (Mastodon) when >= 0 */
static long measure_graphemes(const char *s, size_t len, long url_weight)
{
    size_t nb, k, nu = 0, j = 0;
    size_t *b = sz_text_graphemes(s, len, &nb);
    sz_span *u = NULL;
    long total = 0;
    if (!b)
        return -1; /* out of memory */
    if (url_weight >= 0) {
        u = (sz_span *)malloc(SZ_MAX_SPANS * sizeof *u);
        if (!u) {
            free(b);
            return -1; /* out of memory */
        }
        nu = sz_text_tw_urls(s, len, 0, u, SZ_MAX_SPANS);
        if (nu > SZ_MAX_SPANS)
            nu = SZ_MAX_SPANS;
    }
    for (k = 0; k + 1 < nb;) {
        while (j < nu && u[j].b <= b[k])
            j++;
        if (j < nu && u[j].a <= b[k] && b[k] < u[j].b) {
            total += u[j].a == b[k] ? url_weight : 0;
            k++;
            continue;
        }
        total++;
        k++;
    }
    free(u);
    free(b);
    return total;
}

long sz_text_byte_limit(sz_text_rule rule)
{
    return rule == SZ_TEXT_BSKY ? 3000 : -1;
}

const char *sz_text_rule_name(sz_text_rule rule)
{
    static const char *const NAMES[] = {"codepoints", "weighted", "graphemes", "weibo", "graphemes_bytes"};
    return (unsigned)rule < sizeof NAMES / sizeof NAMES[0] ? NAMES[rule] : "codepoints";
}

/* s[0..n) is a TLD of the generated table (lower case); without the table,
 * any label of two or more lower-case ASCII letters */
int sz_text_is_tld(const char *s, size_t n)
{
#ifdef SZ_HAVE_TEXTDATA
    return in_table(SZ_TLDS, s, n, 0);
#else
    size_t k;
    for (k = 0; k < n; k++)
        if (!islower((unsigned char)s[k]))
            return 0;
    return n >= 2;
#endif
}
