/* A tiny test harness. CHECK records one assertion; the cases counted in the
 * summary line "c-core: N passed, N failed" are test functions (RUN) and
 * table rows (TAP_ROW): a case passes when none of its CHECKs failed. */
#ifndef SZ_TAP_H
#define SZ_TAP_H
#include <stdio.h>
#include <string.h>

/* One set of counters for every file of the tests: defined in the file that
 * has main() (#define TAP_MAIN before including), declared everywhere else. */
extern int tap_pass, tap_fail;      /* assertions */
extern int tap_cases_pass, tap_cases_fail;
#ifdef TAP_MAIN
int tap_pass, tap_fail;
int tap_cases_pass, tap_cases_fail;
#endif

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

/* Runs a block as one case: a test function, or one row of a table. */
#define TAP_CASE(name, block)                                                \
    do {                                                                     \
        int before_ = tap_fail;                                              \
        block;                                                               \
        if (tap_fail == before_)                                             \
            tap_cases_pass++;                                                \
        else {                                                               \
            tap_cases_fail++;                                                \
            fprintf(stderr, "not ok: %s\n", (name));                         \
        }                                                                    \
    } while (0)
#define RUN(fn) TAP_CASE(#fn, fn())

static int tap_done(const char *suite)
{
    if (tap_fail && !tap_cases_fail)
        tap_cases_fail = 1; /* an assertion outside any case failed: never report all green */
    printf("%s: %d assertions held, %d did not\n", suite, tap_pass, tap_fail);
    printf("%s: %d passed, %d failed\n", suite, tap_cases_pass, tap_cases_fail);
    return tap_fail ? 1 : 0;
}
#endif
