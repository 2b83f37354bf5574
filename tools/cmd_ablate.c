/* gantry ablate: every combination of the varied keys times K seeds, trained and scored by
 * children of this binary, then the ranked table of means and standard errors
 * (src/train/ablate.c does the work; this file reads the command line and handles Ctrl-C). */
#include <omp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "report/report.h"
#include "train/ablate.h"

static volatile sig_atomic_t stop;
static void on_signal(int sig) {
    (void)sig;
    stop = 1;
}

static void help(int cores) {
    printf("usage: gantry ablate --config BASE.ini --vary 'section.key=a,b[,c]' [--vary ...]\n"
           "                     [--set section.key=value ...] --seeds K --budget N|Nm --out DIR\n"
           "                     [--jobs J] [--eval-n N]\n\n"
           "  --config FILE     the base configuration every run starts from (required)\n"
           "  --vary K=A,B,...  values of one key to compare; every combination of all --vary\n"
           "                    options is trained (none: the base configuration alone)\n"
           "  --set K=V         an override for every run (none by default)\n"
           "  --seeds K         seeds per combination, train.seed = 0 .. K-1 (default 3, at most %d)\n"
           "  --budget N|Nm     N training steps per run, or N minutes (e.g. 10m) with train.steps\n"
           "                    so large that the clock ends the run (learning-rate schedules then\n"
           "                    barely decay) (required)\n"
           "  --out DIR         the ablation folder: runs/<combination>-s<seed>/, results.md and\n"
           "                    results.json (required)\n"
           "  --jobs J          runs trained at a time, each with max(1, cores / J) threads\n"
           "                    (default 1; this machine has %d cores)\n"
           "  --eval-n N        samples per gantry eval (default: eval's, 10000 images or 2500\n"
           "                    points)\n\n"
           "Each run is `gantry train` then `gantry eval --ckpt` in a child process, with its output\n"
           "in runs/NAME/train.log and eval.log. A failed run is recorded and the others go on.\n"
           "Rerunning the same command skips finished runs and continues interrupted ones (a minute\n"
           "budget then starts afresh). Metrics are the mean and standard error over seeds,\n"
           "ranked by FID (images) or by modes covered, then reverse KL (2-D mixtures).\n",
           GT_ABLATE_MAX_SEEDS, cores);
}

static int parse_count(const char *v, const char *option, long long lo, long long hi, long long *out) {
    if (!gt_cli_parse_i64(v, out) || *out < lo || *out > hi)
        return gt_cli_usage("ablate", "%s must be an integer from %lld to %lld, got '%s'", option, lo,
                            hi, v ? v : "");
    return 0;
}

/* One option at argv[*i] into the spec; 1 for --help, 2 for a usage error. */
static int parse_option(int argc, char **argv, int *i, gt_ablate_spec *s, int cores) {
    const char *v;
    long long n = 0;
    gt_error err;
    if (gt_cli_is_help(argv[*i])) {
        help(cores);
        return 1;
    } else if (gt_cli_option(argc, argv, i, "--config", &v)) {
        if (!(s->config = v)) return gt_cli_usage("ablate", "--config needs a file");
    } else if (gt_cli_option(argc, argv, i, "--out", &v)) {
        if (!(s->out = v) || !*v) return gt_cli_usage("ablate", "--out needs a folder");
    } else if (gt_cli_option(argc, argv, i, "--vary", &v)) {
        if (s->n_vary == GT_ABLATE_MAX_KEYS)
            return gt_cli_usage("ablate", "at most %d --vary options", GT_ABLATE_MAX_KEYS);
        if (gt_ablate_parse_vary(v ? v : "", &s->vary[s->n_vary++], &err) < 0)
            return gt_cli_usage("ablate", "%s", err.msg);
    } else if (gt_cli_option(argc, argv, i, "--set", &v)) {
        if (s->n_sets == GT_ABLATE_MAX_SETS)
            return gt_cli_usage("ablate", "at most %d --set options", GT_ABLATE_MAX_SETS);
        if (!v || !strchr(v, '=')) return gt_cli_usage("ablate", "--set needs section.key=value");
        s->sets[s->n_sets++] = v;
    } else if (gt_cli_option(argc, argv, i, "--budget", &v)) {
        if (gt_ablate_parse_budget(v, s, &err) < 0) return gt_cli_usage("ablate", "%s", err.msg);
    } else if (gt_cli_option(argc, argv, i, "--seeds", &v)) {
        if (parse_count(v, "--seeds", 1, GT_ABLATE_MAX_SEEDS, &n)) return 2;
        s->seeds = (int)n;
    } else if (gt_cli_option(argc, argv, i, "--jobs", &v)) {
        if (parse_count(v, "--jobs", 1, 256, &n)) return 2;
        s->jobs = (int)n;
    } else if (gt_cli_option(argc, argv, i, "--eval-n", &v)) {
        if (parse_count(v, "--eval-n", 2, 1000000, &s->eval_n)) return 2;
    } else {
        return gt_cli_usage("ablate", "unknown argument '%s'", argv[*i]);
    }
    return 0;
}

static int parse_args(int argc, char **argv, gt_ablate_spec *s, int cores) {
    memset(s, 0, sizeof *s);
    s->seeds = 3;
    s->jobs = 1;
    for (int i = 1; i < argc; i++) {
        int rc = parse_option(argc, argv, &i, s, cores);
        if (rc) return rc;
    }
    if (!s->config) return gt_cli_usage("ablate", "needs --config BASE.ini");
    if (!s->out) return gt_cli_usage("ablate", "needs --out DIR");
    if (!s->budget_steps && !(s->budget_minutes > 0))
        return gt_cli_usage("ablate", "needs --budget: N steps or N minutes (Nm)");
    s->threads = cores / s->jobs > 1 ? cores / s->jobs : 1;
    return 0;
}

int gt_cmd_ablate(int argc, char **argv) {
    int cores = omp_get_num_procs();
    gt_ablate_spec spec;
    int rc = parse_args(argc, argv, &spec, cores);
    if (rc) return rc == 1 ? 0 : rc;
    char exe[4096];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len < 0)
        return gt_cli_fail("cannot find the gantry binary (/proc/self/exe) to run the trainings");
    exe[len] = '\0';
    spec.exe = exe;
    gt_error err;
    if (gt_ablate_validate(&spec, &err) < 0) return gt_cli_fail("%s", err.msg);
    /* Ctrl-C reaches the children too: they save checkpoints, and the next run continues them */
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    gt_ablate_table t;
    if (gt_ablate_run(&spec, &stop, stderr, &t, &err) < 0) return gt_cli_fail("%s", err.msg);
    gt_ablate_table_markdown(stdout, &t);
    if (gt_report_ablation(spec.out, &err) < 0) {
        gt_ablate_table_free(&t);
        return gt_cli_fail("%s", err.msg);
    }
    int failures = 0, scored = 0;
    for (int r = 0; r < t.n_rows; r++) {
        failures += t.rows[r].failures;
        scored += t.rows[r].scored;
    }
    gt_ablate_table_free(&t);
    fprintf(stderr,
            "gantry ablate: %d run%s scored, %d failed; results in %s/results.md, %s/results.json "
            "and %s/report.html\n",
            scored, scored == 1 ? "" : "s", failures, spec.out, spec.out, spec.out);
    if (scored == 0)
        return gt_cli_fail("no run could be scored (see the failures in %s/results.md)", spec.out);
    return 0;
}
