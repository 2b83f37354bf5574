/* The runner behind tests/test.h: runs each case, reports failures, ends with the tally. */
#include "test.h"

#include "train/registries.h"

int gt_test_failed_checks = 0;
static int passed, failed;

void gt_test_record(const char *name, bool ok) {
    if (ok) {
        passed++;
    } else {
        failed++;
        fprintf(stderr, "FAIL %s\n", name);
    }
}

int gt_test_run(const gt_test_case *cases, int n) {
    gt_registries_install(); /* the configuration's dataset, family and loss names */
    for (int i = 0; i < n; i++) {
        int before = gt_test_failed_checks;
        cases[i].fn();
        gt_test_record(cases[i].name, gt_test_failed_checks == before);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
