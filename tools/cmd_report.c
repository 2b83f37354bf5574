/* gantry report: regenerates a run folder's report.html, one self-contained page (no network
 * requests) with the run's curves, configuration and sample grids. */
#include <string.h>

#include "cli.h"
#include "report/report.h"

static void report_help(void) {
    printf("usage: gantry report RUNDIR\n\n"
           "Writes RUNDIR/report.html from the run's metrics.jsonl, config.ini and samples/, and\n"
           "prints its path. The page is one self-contained file that opens offline: a header\n"
           "(dataset, model families, step reached), the resolved configuration, loss,\n"
           "gradient-norm, D-logit and evaluation curves, and the latest sample grids.\n"
           "It can be regenerated at any time, also while the run trains.\n");
}

int gt_cmd_report(int argc, char **argv) {
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (gt_cli_is_help(argv[i])) {
            report_help();
            return 0;
        } else if (argv[i][0] == '-') {
            return gt_cli_usage("report", "unknown option '%s'", argv[i]);
        } else if (dir) {
            return gt_cli_usage("report", "one run folder expected, got '%s' and '%s'", dir,
                                argv[i]);
        }
        dir = argv[i];
    }
    if (!dir) return gt_cli_usage("report", "a run folder is needed");
    gt_error err;
    if (gt_report_run(dir, &err) < 0) return gt_cli_fail("%s", err.msg);
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--; /* the path report.c wrote, without "//" */
    printf("%.*s/report.html\n", (int)n, dir);
    return 0;
}
