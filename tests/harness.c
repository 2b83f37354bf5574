/* The runner behind tests/test.h: runs each case, reports failures and skips, ends with the
 * tally. */
#include "test.h"

#include <stdarg.h>
#include <stdlib.h>

#include "train/registries.h"

int gt_test_failed_checks = 0;
static int passed, failed, skipped;
static bool case_skipped;

void gt_test_record(const char *name, bool ok) {
    if (ok) {
        passed++;
    } else {
        failed++;
        fprintf(stderr, "FAIL %s\n", name);
    }
}

/* CI installs everything the cases need: there, a skip for want of it is a failure. */
static bool skips_fail(void) {
    const char *v = getenv("GANTRY_CI_NO_SKIPS");
    return v && strcmp(v, "1") == 0;
}

void gt_test_skip(bool build_dependent, const char *fmt, ...) {
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (!build_dependent && skips_fail()) {
        gt_test_failed_checks++;
        fprintf(stderr, "  skipped, which CI forbids (GANTRY_CI_NO_SKIPS=1): %s\n", why);
        return;
    }
    printf("  skipped: %s\n", why);
    case_skipped = true;
}

int gt_test_run(const gt_test_case *cases, int n) {
    gt_registries_install(); /* the configuration's dataset, family and loss names */
    for (int i = 0; i < n; i++) {
        int before = gt_test_failed_checks;
        case_skipped = false;
        cases[i].fn();
        if (case_skipped && gt_test_failed_checks == before)
            skipped++;
        else
            gt_test_record(cases[i].name, gt_test_failed_checks == before);
    }
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}
