/* A tiny test harness: CHECK records a result; the summary line is
 * "c-core: N passed, N failed". */
#ifndef SZ_TAP_H
#define SZ_TAP_H
#include <stdio.h>
#include <string.h>

static int tap_pass, tap_fail;

#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        if (cond) {                                                          \
            tap_pass++;                                                      \
        } else {                                                             \
            tap_fail++;                                                      \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);             \
            fprintf(stderr, __VA_ARGS__);                                    \
            fputc('\n', stderr);                                             \
        }                                                                    \
    } while (0)

#define CHECK_STR(got, want, what)                                           \
    do {                                                                     \
        const char *g_ = (got), *w_ = (want);                                \
        CHECK(g_ && w_ && strcmp(g_, w_) == 0, "%s: got [%s] want [%s]",     \
              (what), g_ ? g_ : "(null)", w_ ? w_ : "(null)");               \
    } while (0)

static int tap_done(const char *suite)
{
    printf("%s: %d passed, %d failed\n", suite, tap_pass, tap_fail);
    return tap_fail ? 1 : 0;
}
#endif
