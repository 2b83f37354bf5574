/* gantry report: regenerates a run folder's report.html, one self-contained page (no network
 * requests) with the run's curves, configuration and sample grids. */
#include <string.h>

#include "cli.h"
#include "options.h"
#include "report/report.h"

static void report_help(void *ctx) {
    (void)ctx;
    printf("usage: gantry report RUNDIR\n\n"
           "Writes RUNDIR/report.html from the run's metrics.jsonl, config.ini and samples/, and\n"
           "prints its path. The page is one self-contained file that opens offline: a header\n"
           "(dataset, model families, step reached), the resolved configuration, loss,\n"
           "gradient-norm, D-logit and evaluation curves, and the latest sample grids.\n"
           "It can be regenerated at any time, also while the run trains.\n");
}

/* RUNDIR, once. */
static int take_dir(const char *arg, void *ctx) {
    const char **dir = ctx;
    if (arg[0] == '-') return gt_cli_usage("report", "unknown option '%s'", arg);
    if (*dir) return gt_cli_usage("report", "one run folder expected, got '%s' and '%s'", *dir, arg);
    *dir = arg;
    return 0;
}

int gt_cmd_report(int argc, char **argv) {
    const char *dir = NULL;
    const gt_opt none[] = {GT_OPT_END};
    gt_opts p = {"report", none, report_help, take_dir, &dir};
    int rc = gt_opts_parse(&p, argc, argv);
    if (rc) return rc == GT_OPTS_DONE ? 0 : rc;
    if (!dir) return gt_cli_usage("report", "a run folder is needed");
    gt_error err;
    if (gt_report_run(dir, &err) < 0) return gt_cli_fail("%s", err.msg);
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--; /* the path report.c wrote, without "//" */
    printf("%.*s/report.html\n", (int)n, dir);
    return 0;
}
