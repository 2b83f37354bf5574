/* A tiny test harness: each tests/test_*.c is one program built from TEST cases.
 *   TEST(name) { CHECK(cond); CHECK_NEAR(a, b, tol); }
 *   int main(void) { return RUN(name1, name2, ...); }   -- or use test_main with a table.
 * Each binary prints one line per failed check and ends with "N passed, N failed, N skipped".
 * A case that cannot run here says why and returns: TEST_SKIP("needs %s", path) when something
 * CI installs is missing (with GANTRY_CI_NO_SKIPS=1 in the environment that is a failure), or
 * TEST_SKIP_BUILD(...) when the case needs another build (ASan, debug, not valgrind). */
#ifndef GT_TEST_H
#define GT_TEST_H

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

typedef struct { const char *name; void (*fn)(void); } gt_test_case;

extern int gt_test_failed_checks;

#define TEST(name) static void name(void)
#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            gt_test_failed_checks++;                                                  \
            fprintf(stderr, "  %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                             \
    } while (0)
#define CHECK_NEAR(a, b, tol)                                                             \
    do {                                                                                  \
        double a_ = (double)(a), b_ = (double)(b), t_ = (double)(tol);                    \
        if (!(fabs(a_ - b_) <= t_)) {                                                     \
            gt_test_failed_checks++;                                                      \
            fprintf(stderr, "  %s:%d: %s = %.9g, %s = %.9g, |diff| %.3g > %.3g\n", __FILE__, \
                    __LINE__, #a, a_, #b, b_, fabs(a_ - b_), t_);                         \
        }                                                                                 \
    } while (0)

/* Runs every case (a case fails if any CHECK in it failed), prints the tally of all cases
 * and sub-cases, and returns the process exit status. */
int gt_test_run(const gt_test_case *cases, int n);
/* Marks the running case skipped, printing why (see the top of this file). */
void gt_test_skip(bool build_dependent, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
#define TEST_SKIP(...) gt_test_skip(false, __VA_ARGS__)
#define TEST_SKIP_BUILD(...) gt_test_skip(true, __VA_ARGS__)
/* Counts one sub-case of a table-driven test (an op of the op table, say) in the tally. */
void gt_test_record(const char *name, bool ok);
#define RUN_TESTS_INTO(rc, ...)                                                 \
    do {                                                                        \
        static const gt_test_case cases_[] = {__VA_ARGS__};                     \
        (rc) = gt_test_run(cases_, (int)(sizeof cases_ / sizeof cases_[0]));   \
    } while (0)
#define RUN_TESTS(...)                  \
    do {                                \
        int rc_;                        \
        RUN_TESTS_INTO(rc_, __VA_ARGS__); \
        return rc_;                     \
    } while (0)
#define T(fn) {#fn, fn}

#endif
