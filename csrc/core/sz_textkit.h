/* Internal helpers of the text code shared by sz_text.c and sz_facets.c
 * (hidden: not part of the library's interface). Lengths, never NUL. */
#ifndef SZ_TEXTKIT_H
#define SZ_TEXTKIT_H
#include <stddef.h>

/* the code point at byte i of s[0..len), its byte length in *n */
unsigned sz_text_cp_at(const char *s, size_t len, size_t i, size_t *n);
/* byte length of the code point that ends at i; the code point itself */
size_t sz_text_prev_len(const char *s, size_t i);
unsigned sz_text_cp_before(const char *s, size_t i);
/* ECMAScript \s */
int sz_text_js_space(unsigned c);
/* grapheme boundaries of s[0..len) as byte offsets (malloc'd, *nb of them), NULL when out of memory */
size_t *sz_text_graphemes(const char *s, size_t len, size_t *nb);
/* a byte range [a, b) of a text */
typedef struct sz_span { size_t a, b; } sz_span;
#define SZ_MAX_SPANS 4096
/* URLs per twitter-text's extractUrlsWithIndices (with_bare: also without
 * protocol, ASCII domains). Returns the count, fills up to max spans. */
size_t sz_text_tw_urls(const char *s, size_t len, int with_bare, sz_span *out, size_t max);
/* s[0..n) is a known top-level domain */
int sz_text_is_tld(const char *s, size_t n);
#endif
