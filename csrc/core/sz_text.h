/* Text measurement per network (internal). */
#ifndef SZ_TEXT_H
#define SZ_TEXT_H
#include <stddef.h>
#include "sz_internal.h"

typedef enum sz_text_rule {
    SZ_TEXT_CODEPOINTS = 0, /* one per code point (Mastodon, LinkedIn, Telegram) */
    SZ_TEXT_X = 1,          /* X weighted count: 1 or 2 per code point, emoji sequence 2 */
    SZ_TEXT_GRAPHEMES = 2,  /* Bluesky: approximate graphemes */
    SZ_TEXT_WEIBO = 3       /* Weibo: half-units, ASCII 1, other 2 (limit 280 = 140 汉字) */
} sz_text_rule;

/* url_weight < 0: URLs are measured like any text. */
SZ_HIDDEN long   sz_text_measure(const char *s, size_t len, sz_text_rule rule, long url_weight);
SZ_HIDDEN size_t sz_text_cut(const char *s, size_t len, sz_text_rule rule, long url_weight, long budget);
SZ_HIDDEN size_t sz_text_url_spans(const char *s, size_t len, size_t *starts, size_t *ends, size_t max);
SZ_HIDDEN size_t sz_text_codepoints(const char *s, size_t len);
#endif
