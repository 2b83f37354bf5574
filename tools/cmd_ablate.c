/* gantry ablate: every combination of the varied keys times K seeds, each trained and scored
 * through the library (src/train/ablate.c) in a child process of its own, --jobs at a time,
 * then the ranked table of means and standard errors. This file reads the command line, runs
 * the process pool and handles Ctrl-C. */
#include <errno.h>
#include <fcntl.h>
#include <omp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/base.h"

#include "cli.h"
#include "options.h"
#include "report/report.h"
#include "train/ablate.h"

static volatile sig_atomic_t stop;
static void on_signal(int sig) {
    (void)sig;
    stop = 1;
}

static void help(void *ctx) {
    int cores = *(const int *)ctx;
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
           "Each run is trained then scored (as gantry train and gantry eval --ckpt would) in a child\n"
           "process, with its output in runs/NAME/train.log. A failed run is recorded and the\n"
           "others go on.\n"
           "Rerunning the same command skips finished runs and continues interrupted ones (a minute\n"
           "budget then starts afresh). Metrics are the mean and standard error over seeds,\n"
           "ranked by FID (images) or by modes covered, then reverse KL (2-D mixtures).\n",
           GT_ABLATE_MAX_SEEDS, cores);
}

/* --out DIR: not empty. */
static int take_out(const gt_opt *o, const char *v) {
    if (!v || !*v) return gt_cli_usage("ablate", "--out needs a folder");
    *(const char **)o->dest = v;
    return 0;
}

static int take_vary(const gt_opt *o, const char *v) {
    gt_ablate_spec *s = o->dest;
    gt_error err;
    if (s->n_vary == GT_ABLATE_MAX_KEYS)
        return gt_cli_usage("ablate", "at most %d --vary options", GT_ABLATE_MAX_KEYS);
    if (gt_ablate_parse_vary(v ? v : "", &s->vary[s->n_vary++], &err) < 0)
        return gt_cli_usage("ablate", "%s", err.msg);
    return 0;
}

static int take_set(const gt_opt *o, const char *v) {
    gt_ablate_spec *s = o->dest;
    if (s->n_sets == GT_ABLATE_MAX_SETS)
        return gt_cli_usage("ablate", "at most %d --set options", GT_ABLATE_MAX_SETS);
    if (!v || !strchr(v, '=')) return gt_cli_usage("ablate", "--set needs section.key=value");
    s->sets[s->n_sets++] = v;
    return 0;
}

static int take_budget(const gt_opt *o, const char *v) {
    gt_error err;
    return gt_ablate_parse_budget(v, o->dest, &err) < 0 ? gt_cli_usage("ablate", "%s", err.msg) : 0;
}

static int parse_args(int argc, char **argv, gt_ablate_spec *s, int cores) {
    memset(s, 0, sizeof *s);
    long long seeds = 3, jobs = 1;
    const gt_opt opts[] = {
        GT_OPT_TEXT_("--config", &s->config, "a file"),
        GT_OPT_CALL_("--out", &s->out, take_out),
        GT_OPT_CALL_("--vary", s, take_vary),
        GT_OPT_CALL_("--set", s, take_set),
        GT_OPT_CALL_("--budget", s, take_budget),
        GT_OPT_INT_("--seeds", &seeds, 1, GT_ABLATE_MAX_SEEDS, NULL),
        GT_OPT_INT_("--jobs", &jobs, 1, 256, NULL),
        GT_OPT_INT_("--eval-n", &s->eval_n, 2, 1000000, NULL),
        GT_OPT_END,
    };
    gt_opts p = {"ablate", opts, help, NULL, &cores};
    int rc = gt_opts_parse(&p, argc, argv);
    if (rc) return rc;
    s->seeds = (int)seeds;
    s->jobs = (int)jobs;
    if (!s->config) return gt_cli_usage("ablate", "needs --config BASE.ini");
    if (!s->out) return gt_cli_usage("ablate", "needs --out DIR");
    if (!s->budget_steps && !(s->budget_minutes > 0))
        return gt_cli_usage("ablate", "needs --budget: N steps or N minutes (Nm)");
    s->threads = cores / s->jobs > 1 ? cores / s->jobs : 1;
    return 0;
}

/* ---- the process pool: one child per run, --jobs at a time ---- */

typedef struct {
    pid_t pid;
    int run;
    double t0;
} slot;

static void outcome_path(const gt_ablate *ab, int i, char *path, size_t cap) {
    snprintf(path, cap, "%s/outcome.json", gt_ablate_run_dir(ab, i));
}

/* The child: output to the run's train.log, the run's work through the library, its outcome
 * to outcome.json; exits 1 when the run failed. Never returns. */
static void child(gt_ablate *ab, int i, int threads) {
    char path[4200];
    snprintf(path, sizeof path, "%s/train.log", gt_ablate_run_dir(ab, i));
    int in = open("/dev/null", O_RDONLY), log = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in >= 0) dup2(in, 0);
    if (log >= 0) {
        dup2(log, 1);
        dup2(log, 2);
    }
    omp_set_num_threads(threads);
    gt_ablate_outcome o;
    int rc = gt_ablate_execute(ab, i, &stop, &o);
    gt_error err;
    outcome_path(ab, i, path, sizeof path);
    if (gt_ablate_outcome_write(path, &o, &err) < 0) {
        fprintf(stderr, "gantry: %s\n", err.msg);
        rc = -1;
    }
    if (o.error[0]) fprintf(stderr, "gantry: %s\n", o.error);
    fflush(NULL);
    _exit(rc < 0 ? 1 : 0);
}

static int start(gt_ablate *ab, slot *sl, int i, int threads, gt_error *err) {
    char path[4200];
    outcome_path(ab, i, path, sizeof path);
    unlink(path); /* an outcome left by an interrupted ablation is not this child's */
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return gt_error_set(err, "cannot start a run: %s", strerror(errno));
    if (pid == 0) child(ab, i, threads);
    *sl = (slot){.pid = pid, .run = i, .t0 = gt_monotonic_s()};
    return 0;
}

/* Reads a finished child's outcome back and records it (not when the ablation stops: an
 * interrupted child's checkpoint is not final). */
static int finished(gt_ablate *ab, slot *sl, int status, gt_error *err) {
    sl->pid = 0;
    if (stop) return 0;
    char path[4200], failure[700] = "";
    outcome_path(ab, sl->run, path, sizeof path);
    gt_ablate_outcome o;
    gt_error read_err;
    bool read = gt_ablate_outcome_read(path, &o, &read_err) == 0;
    if (WIFSIGNALED(status))
        snprintf(failure, sizeof failure, "%s killed by signal %d (see %s/train.log)",
                 read && o.trained ? "eval" : "training", WTERMSIG(status), gt_ablate_run_dir(ab, sl->run));
    else if (!read)
        snprintf(failure, sizeof failure, "the run left no outcome (exit %d): %.500s",
                 WEXITSTATUS(status), read_err.msg);
    else if (o.failed[0])
        snprintf(failure, sizeof failure, "%s failed (exit %d): %.600s", o.failed,
                 WEXITSTATUS(status), o.error);
    return gt_ablate_record(ab, sl->run, &o, failure[0] ? failure : NULL,
                            gt_monotonic_s() - sl->t0, err);
}

static void signal_children(const slot *slots, int n) {
    for (int i = 0; i < n; i++)
        if (slots[i].pid > 0) kill(slots[i].pid, SIGTERM);
}

static int busy(const slot *slots, int n) {
    int k = 0;
    for (int i = 0; i < n; i++) k += slots[i].pid > 0;
    return k;
}

/* Waits for one child; on a stop, asks the others to stop too. */
static int reap(gt_ablate *ab, slot *slots, int n, gt_error *err) {
    int status;
    pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) {
        if (errno != EINTR) return gt_error_set(err, "waiting for a run: %s", strerror(errno));
        if (stop) signal_children(slots, n);
        return 0;
    }
    for (int i = 0; i < n; i++)
        if (slots[i].pid == pid) return finished(ab, &slots[i], status, err);
    return 0;
}

/* Keeps up to `jobs` children busy until every run is done (or failed, or the ablation stops). */
static int run_pool(gt_ablate *ab, int jobs, int threads, gt_error *err) {
    int next = 0, n_runs = gt_ablate_n_runs(ab), rc = 0;
    slot *slots = calloc((size_t)jobs, sizeof *slots);
    if (!slots) return gt_error_set(err, "out of memory");
    while (rc == 0) {
        for (int i = 0; i < jobs && rc == 0; i++)
            while (slots[i].pid <= 0 && next < n_runs && !stop && rc == 0) {
                int run = next++;
                if (gt_ablate_needs_work(ab, run)) rc = start(ab, &slots[i], run, threads, err);
            }
        /* idle slots now mean that no run is left to start (or that the ablation stops) */
        if (rc < 0 || busy(slots, jobs) == 0) break;
        if (stop) signal_children(slots, jobs);
        rc = reap(ab, slots, jobs, err);
    }
    if (rc < 0) signal_children(slots, jobs);
    while (busy(slots, jobs) > 0) {
        int status;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0 && errno == ECHILD) break;
        for (int i = 0; i < jobs; i++)
            if (pid > 0 && slots[i].pid == pid) slots[i].pid = 0;
    }
    free(slots);
    if (rc == 0 && stop)
        return gt_error_set(err,
                            "interrupted; finished runs are kept: rerun the same command to continue");
    return rc;
}

/* Every run through the pool, then the table. */
static int ablate(const gt_ablate_spec *spec, gt_ablate_table *t, gt_error *err) {
    memset(t, 0, sizeof *t);
    gt_ablate *ab = gt_ablate_plan(spec, stderr, err);
    if (!ab) return -1;
    int rc = run_pool(ab, spec->jobs, spec->threads, err);
    if (rc == 0) rc = gt_ablate_finish(ab, t, err);
    gt_ablate_free(ab);
    return rc;
}

int gt_cmd_ablate(int argc, char **argv) {
    int cores = omp_get_num_procs();
    gt_ablate_spec spec;
    int rc = parse_args(argc, argv, &spec, cores);
    if (rc) return rc == GT_OPTS_DONE ? 0 : rc;
    gt_error err;
    if (gt_ablate_validate(&spec, &err) < 0) return gt_cli_fail("%s", err.msg);
    /* Ctrl-C reaches the children too: they save checkpoints, and the next run continues them */
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    gt_ablate_table t;
    if (ablate(&spec, &t, &err) < 0) return gt_cli_fail("%s", err.msg);
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
