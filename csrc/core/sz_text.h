/* Text measurement per network (internal). */
#ifndef SZ_TEXT_H
#define SZ_TEXT_H
#include <stddef.h>
#include "sz_internal.h"

typedef enum sz_text_rule {
    SZ_TEXT_CODEPOINTS = 0, /* one per code point (Mastodon, LinkedIn, Telegram) */
    SZ_TEXT_X = 1,          /* X weighted count: 1 or 2 per code point, emoji sequence 2 */
    SZ_TEXT_GRAPHEMES = 2,  /* grapheme clusters, URLs with a protocol = url_weight (Mastodon) */
    SZ_TEXT_WEIBO = 3,      /* Weibo: half-units, ASCII 1, other 2 (limit 280 = 140 汉字) */
    SZ_TEXT_BSKY = 4        /* Bluesky: grapheme clusters, and at most 3000 UTF-8 bytes */
} sz_text_rule;

enum { SZ_FACET_LINK = 1, SZ_FACET_TAG = 2 };
typedef struct sz_facet {
    int    kind;       /* SZ_FACET_LINK (value: the URI) or SZ_FACET_TAG (value: the tag) */
    size_t start, end; /* UTF-8 byte offsets in the text */
    char  *value;
} sz_facet;

/* url_weight < 0: URLs are measured like any text. measure: -1 and cut:
 * (size_t)-1 when out of memory. */
SZ_HIDDEN long   sz_text_measure(const char *s, size_t len, sz_text_rule rule, long url_weight);
SZ_HIDDEN size_t sz_text_cut(const char *s, size_t len, sz_text_rule rule, long url_weight, long budget);
/* sz_text_cut for a network's own counter: each code point weighs
 * weigh(cp) (URLs too), the ellipsis weigh(0x2026). (size_t)-1: out of memory. */
SZ_HIDDEN size_t sz_text_cut_weighed(const char *s, size_t len, long (*weigh)(unsigned), long budget);
/* the weight of one code point under a rule without Unicode segmentation */
SZ_HIDDEN long   sz_text_weight_of(sz_text_rule rule, unsigned cp);
SZ_HIDDEN size_t sz_text_url_spans(const char *s, size_t len, size_t *starts, size_t *ends, size_t max);
SZ_HIDDEN size_t sz_text_codepoints(const char *s, size_t len);
/* the byte limit of a rule (Bluesky 3000), or -1 */
SZ_HIDDEN long   sz_text_byte_limit(sz_text_rule rule);
/* the rule's name, as provider_info's text.counter says it (static) */
SZ_HIDDEN const char *sz_text_rule_name(sz_text_rule rule);
/* like sz_text_cut, the result + "…" also within byte_budget bytes (< 0: none) */
SZ_HIDDEN size_t sz_text_cut_bytes(const char *s, size_t len, sz_text_rule rule, long url_weight, long budget,
                                   long byte_budget);
/* Bluesky link and tag facets as @atproto/api's detectFacets finds them (no
 * mentions); -1 when out of memory. Free with sz_text_facets_free. */
SZ_HIDDEN int    sz_text_facets(const char *s, size_t len, sz_facet **out, size_t *count);
SZ_HIDDEN void   sz_text_facets_free(sz_facet *fs, size_t n);
#endif
