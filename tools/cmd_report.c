/* gantry report: regenerates a run folder's report.html, one self-contained page (no network
 * requests) with the run's curves, configuration and sample grids. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
           "It can be regenerated at any time, also while the run trains.\n\n"
           "Given the folder of gantry ablate --out (it holds results.json), writes that\n"
           "ablation's report.html instead: the ranked table with one sample picture per\n"
           "combination and each metric per combination with error bars over seeds.\n");
}

/* RUNDIR, once. */
static int take_dir(const char *arg, void *ctx) {
    const char **dir = ctx;
    if (arg[0] == '-') return gt_cli_usage("report", "unknown option '%s'", arg);
    if (*dir) return gt_cli_usage("report", "one run folder expected, got '%s' and '%s'", *dir, arg);
    *dir = arg;
    return 0;
}

/* An ablation's folder: results.json and no metrics.jsonl of its own. */
static bool is_ablation(const char *dir) {
    char path[4200];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    if (access(path, F_OK) == 0) return false;
    snprintf(path, sizeof path, "%s/results.json", dir);
    return access(path, F_OK) == 0;
}

int gt_cmd_report(int argc, char **argv) {
    const char *dir = NULL;
    const gt_opt none[] = {GT_OPT_END};
    gt_opts p = {"report", none, report_help, take_dir, &dir};
    int rc = gt_opts_parse(&p, argc, argv);
    if (rc) return rc == GT_OPTS_DONE ? 0 : rc;
    if (!dir) return gt_cli_usage("report", "a run folder is needed");
    gt_error err;
    if (is_ablation(dir) ? gt_report_ablation(dir, &err) < 0 : gt_report_run(dir, &err) < 0)
        return gt_cli_fail("%s", err.msg);
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--; /* the path report.c wrote, without "//" */
    printf("%.*s/report.html\n", (int)n, dir);
    return 0;
}
