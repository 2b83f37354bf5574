/* The JSON gantry reads back: metrics.jsonl through the report (gantry report), and an
 * ablation run's outcome file (ablate.json). */
#include <stdio.h>

#include "fuzz_support.h"
#include "report/report.h"
#include "train/ablate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    gt_error err;
    fuzz_file("metrics.jsonl", data, size);
    gt_report_run(fuzz_dir(), &err);
    gt_ablate_outcome o;
    gt_ablate_outcome_read(fuzz_file("outcome.json", data, size), &o, &err);
    return 0;
}
