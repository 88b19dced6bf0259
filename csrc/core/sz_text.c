/* Text measurement and truncation per network: X's weighted count (URL = 23),
 * Mastodon's count (URL = instance value), Bluesky graphemes + bytes, Weibo
 * half-width units, plain code points. Truncation never cuts inside a URL. */
#include <string.h>
#include "sz_internal.h"
#include "sz_text.h"

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

/* Emoji that start a sequence counted once (twitter-text emoji parsing). */
static int emoji_base(unsigned cp)
{
    return (cp >= 0x1F000 && cp <= 0x1FAFF) || (cp >= 0x2600 && cp <= 0x27BF);
}

static int sequence_part(unsigned cp)
{
    return cp == 0xFE0F || cp == 0x200D || (cp >= 0x1F3FB && cp <= 0x1F3FF) ||
           (cp >= 0xE0020 && cp <= 0xE007F);
}

static int combining(unsigned cp)
{
    return (cp >= 0x0300 && cp <= 0x036F) || (cp >= 0x1AB0 && cp <= 0x1AFF) ||
           (cp >= 0x1DC0 && cp <= 0x1DFF) || (cp >= 0x20D0 && cp <= 0x20FF) ||
           (cp >= 0xFE20 && cp <= 0xFE2F) || (cp >= 0xFE00 && cp <= 0xFE0F);
}

static long weight_of(sz_text_rule rule, unsigned cp)
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

/* Walks the text; calls back for each unit with its weight. Returns the total. */
long sz_text_measure(const char *s, size_t len, sz_text_rule rule, long url_weight)
{
    size_t i = 0;
    long total = 0;
    int in_seq = 0;
    while (i < len) {
        unsigned cp;
        size_t u = url_weight >= 0 ? url_at(s, len, i) : 0, n;
        if (u) {
            total += url_weight;
            i += u;
            in_seq = 0;
            continue;
        }
        n = next_cp(s, len, i, &cp);
        if (rule == SZ_TEXT_X || rule == SZ_TEXT_GRAPHEMES) {
            if (in_seq && sequence_part(cp)) {
                if (cp == 0x200D && i + n < len) { /* ZWJ joins the next code point too */
                    i += n;
                    n = next_cp(s, len, i, &cp);
                }
                i += n;
                continue;
            }
            if (rule == SZ_TEXT_GRAPHEMES && combining(cp) && i > 0) {
                i += n;
                continue;
            }
            in_seq = emoji_base(cp);
            total += rule == SZ_TEXT_X ? (in_seq ? 2 : weight_of(rule, cp)) : 1;
        } else {
            total += weight_of(rule, cp);
        }
        i += n;
    }
    return total;
}

/* Cuts `s` so that measure(result + "…") <= budget, never inside a URL or a
 * code point. Returns the new byte length (0 when nothing fits). */
size_t sz_text_cut(const char *s, size_t len, sz_text_rule rule, long url_weight, long budget)
{
    size_t i = 0, best = 0;
    long ell = rule == SZ_TEXT_WEIBO ? 2 : (rule == SZ_TEXT_X ? 2 : 1); /* U+2026 */
    while (i < len) {
        unsigned cp;
        size_t u = url_weight >= 0 ? url_at(s, len, i) : 0;
        size_t step = u ? u : next_cp(s, len, i, &cp);
        if (sz_text_measure(s, i + step, rule, url_weight) + ell > budget)
            break;
        i += step;
        best = i;
    }
    while (best > 0 && (s[best - 1] == ' ' || s[best - 1] == '\n'))
        best--;
    return best;
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
