/* gantry ablate: every combination of the varied keys times K seeds, each trained and scored
 * through the library (src/train/ablate.c) in a child process of its own, --jobs at a time,
 * then the ranked table of means and standard errors. This file reads the command line, runs
 * the process pool, handles Ctrl-C, and spreads the runs over machines: --shard I/N runs one
 * part, --merge DIR makes the table of all parts, and under mpirun (make MPI=1) rank r runs
 * part r+1 of K, then rank 0 merges (docs/scaling.md). */
#include <errno.h>
#include <fcntl.h>
#include <omp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"

#include "cli.h"
#include "cluster.h"
#include "options.h"
#include "report/report.h"
#include "train/ablate.h"
#include "train/outputs.h"

static volatile sig_atomic_t stop;
static void on_signal(int sig) {
    (void)sig;
    stop = 1;
}

static void help(void *ctx) {
    int cores = *(const int *)ctx;
    printf("usage: gantry ablate --config BASE.ini --vary 'section.key=a,b[,c]' [--vary ...]\n"
           "                     [--choose 'NAME=LABEL:section.key=v[;section.key=v...]' ...]\n"
           "                     [--set section.key=value ...] --seeds K --budget N|Nm --out DIR\n"
           "                     [--jobs J] [--eval-n N] [--mode-metric D] [--shard I/N]\n"
           "                     [--reuse DIR ...]\n"
           "                     [--budget-as-steps S [--time-only] [--timing-threads T]\n"
           "                      [--timing-calibrate] [--equal-step-cost]]\n"
           "       gantry ablate --merge DIR\n\n"
           "  --config FILE     the base configuration every run starts from (required)\n"
           "  --vary K=A,B,...  values of one key to compare; every combination of all --vary\n"
           "                    options is trained (none: the base configuration alone)\n"
           "  --choose N=L:K=V;K=V  one alternative, labelled L, of the choice N: settings of several\n"
           "                    keys compared as one axis beside the --vary ones (repeat it for\n"
           "                    each alternative; 'N=L:' alone is the base configuration), e.g.\n"
           "                    --choose penalty=none: --choose 'penalty=r3gan:penalty.r1=1;\n"
           "                    penalty.r2=1' (none by default)\n"
           "  --set K=V         an override for every run (none by default)\n"
           "  --seeds K         seeds per combination, train.seed = 0 .. K-1 (default 3, at most %d)\n"
           "  --budget N|Nm     N training steps per run, or N minutes (e.g. 10m) with train.steps\n"
           "                    so large that the clock ends the run; a schedule over train.steps\n"
           "                    (optim.*.schedule, penalty.decay, noise.anneal) is then refused\n"
           "                    unless it has its own length (penalty.decay_steps, noise.steps)\n"
           "                    or the budget is turned into steps (--budget-as-steps)\n"
           "                    (required)\n"
           "  --budget-as-steps S  with a budget in minutes: time each combination first, alone\n"
           "                    for S seconds on all %d cores (seed 0), then train every run the\n"
           "                    steps that rate makes in the budget; runs are then reproducible\n"
           "                    to the bit and may share the machine (--jobs), at the cost the\n"
           "                    timing measured. Rates are kept in DIR/timing.json (copied\n"
           "                    from --reuse folders'), so a rerun trains the same steps; run\n"
           "                    the timing with the machine otherwise idle (off by default)\n"
           "  --time-only       with --budget-as-steps: time the combinations not yet timed,\n"
           "                    print each one's steps, and train nothing\n"
           "  --timing-threads T  with --budget-as-steps: time on T threads, for a budget of T\n"
           "                    cores rather than the whole machine (default %d; a rate timed on\n"
           "                    other threads is not used)\n"
           "  --timing-calibrate  with --budget-as-steps and --reuse: before timing anything,\n"
           "                    time again the first combination whose rate a --reuse folder\n"
           "                    holds, and scale every rate timed here by its rate there over\n"
           "                    its rate now, so that a staged search timed over several days\n"
           "                    or machines keeps its first stage's speed (in timing.json)\n"
           "  --equal-step-cost  with --budget-as-steps: the combinations differ only in keys that\n"
           "                    leave a step's cost as it is (learning rates, betas, EMA's decay,\n"
           "                    initialization; checked), so every one takes the first one's\n"
           "                    rate and the same steps, not its own timing's noise (off by\n"
           "                    default)\n",
           GT_ABLATE_MAX_SEEDS, cores, cores);
    printf("  --out DIR         the ablation folder: runs/<combination>-s<seed>/, results.md and\n"
           "                    results.json (required)\n"
           "  --jobs J          runs trained at a time, each with max(1, cores / J) threads\n"
           "                    (default 1; this machine has %d cores)\n"
           "  --eval-n N        samples per gantry eval (default: eval's, 10000 images or 2500\n"
           "                    points)\n"
           "  --mode-metric D   2-D points: gantry (default) or pacgan, as gantry eval's\n"
           "  --shard I/N       train only the I-th of N disjoint parts of the runs (run i, in\n"
           "                    results.json's order from 0, belongs to part i mod N + 1), for\n"
           "                    Slurm job arrays; writes no table (default: every run)\n"
           "  --reuse DIR       an earlier ablation (repeatable): a run whose resolved configuration,\n"
           "                    seed included and train.threads aside, one of DIR's finished runs\n"
           "                    has is linked from there instead of trained (a staged search that\n"
           "                    carries a winner into the next stage)\n"
           "  --merge DIR       the table of an ablation run in parts: reads DIR/plan.json and\n"
           "                    every run's outcome, writes results.md, results.json and\n"
           "                    report.html; fails, listing them, while runs have no outcome\n\n"
           "Under mpirun -np K (a build with make MPI=1) rank r trains part r+1 of K, then rank 0\n"
           "merges. See docs/scaling.md.\n"
           "Each run is trained then scored (as gantry train and gantry eval --ckpt would) in a child\n"
           "process, with its output in runs/NAME/train.log. A failed run is recorded and the\n"
           "others go on.\n"
           "Rerunning the same command skips finished runs and continues interrupted ones (a minute\n"
           "budget then starts afresh). Metrics are the mean and standard error over seeds,\n"
           "ranked by FID (images) or by modes covered, then reverse KL (2-D mixtures).\n",
           cores);
}

/* --merge DIR: not empty. */
static int take_merge(const gt_opt *o, const char *v) {
    if (!v || !*v) return gt_cli_usage("ablate", "--merge needs the ablation's folder");
    *(const char **)o->dest = v;
    return 0;
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

static int take_choose(const gt_opt *o, const char *v) {
    gt_error err;
    if (gt_ablate_parse_choice(v ? v : "", o->dest, &err) < 0) return gt_cli_usage("ablate", "%s", err.msg);
    return 0;
}

static int take_reuse(const gt_opt *o, const char *v) {
    gt_ablate_spec *s = o->dest;
    if (s->n_reuse == GT_ABLATE_MAX_REUSE)
        return gt_cli_usage("ablate", "at most %d --reuse options", GT_ABLATE_MAX_REUSE);
    if (!v || !*v) return gt_cli_usage("ablate", "--reuse needs an ablation's folder");
    s->reuse[s->n_reuse++] = v;
    return 0;
}

static int take_shard(const gt_opt *o, const char *v) {
    gt_error err;
    return gt_ablate_parse_shard(v, o->dest, &err) < 0 ? gt_cli_usage("ablate", "%s", err.msg) : 0;
}

static int take_mode_metric(const gt_opt *o, const char *v) {
    if (!v || gt_mode_metric_parse(v, (gt_mode_metric *)o->dest) < 0)
        return gt_cli_usage("ablate", "--mode-metric must be gantry or pacgan");
    return 0;
}

static int take_budget(const gt_opt *o, const char *v) {
    gt_error err;
    return gt_ablate_parse_budget(v, o->dest, &err) < 0 ? gt_cli_usage("ablate", "%s", err.msg) : 0;
}

/* --merge DIR stands alone: the plan comes from DIR/plan.json. */
static int check_merge_alone(const gt_ablate_spec *s) {
    if (s->config || s->out || s->n_vary || s->n_sets || s->n_reuse || s->shards || s->budget_steps ||
        s->budget_minutes > 0 || s->timing_seconds > 0 || s->timing_calibrate || s->equal_step_cost)
        return gt_cli_usage("ablate", "--merge DIR takes no other option: the ablation's settings "
                                      "come from DIR/plan.json");
    return 0;
}

static int parse_args(int argc, char **argv, gt_ablate_spec *s, const char **merge, bool *time_only,
                      int cores) {
    memset(s, 0, sizeof *s);
    *merge = NULL;
    *time_only = false;
    long long seeds = 3, jobs = 1, timing = 0, timing_threads = cores;
    const gt_opt opts[] = {
        GT_OPT_TEXT_("--config", &s->config, "a file"),
        GT_OPT_CALL_("--out", &s->out, take_out),
        GT_OPT_CALL_("--vary", s, take_vary),
        GT_OPT_CALL_("--choose", s, take_choose),
        GT_OPT_CALL_("--reuse", s, take_reuse),
        GT_OPT_CALL_("--set", s, take_set),
        GT_OPT_CALL_("--budget", s, take_budget),
        GT_OPT_INT_("--seeds", &seeds, 1, GT_ABLATE_MAX_SEEDS, NULL),
        GT_OPT_INT_("--jobs", &jobs, 1, 256, NULL),
        GT_OPT_INT_("--eval-n", &s->eval_n, 2, 1000000, NULL),
        GT_OPT_CALL_("--mode-metric", &s->mode_metric, take_mode_metric),
        GT_OPT_CALL_("--shard", s, take_shard),
        GT_OPT_CALL_("--merge", merge, take_merge),
        GT_OPT_INT_("--budget-as-steps", &timing, 1, 3600, "a number of seconds from 1 to 3600"),
        GT_OPT_FLAG_("--time-only", time_only),
        GT_OPT_INT_("--timing-threads", &timing_threads, 1, 1024, NULL),
        GT_OPT_FLAG_("--timing-calibrate", &s->timing_calibrate),
        GT_OPT_FLAG_("--equal-step-cost", &s->equal_step_cost),
        GT_OPT_END,
    };
    gt_opts p = {"ablate", opts, help, NULL, &cores};
    int rc = gt_opts_parse(&p, argc, argv);
    if (rc) return rc;
    s->seeds = (int)seeds;
    s->jobs = (int)jobs;
    s->timing_seconds = (double)timing;
    s->timing_threads = (int)timing_threads;
    if (*merge) return *time_only ? gt_cli_usage("ablate", "--merge DIR takes no other option") :
                                    check_merge_alone(s);
    if (*time_only && !timing) return gt_cli_usage("ablate", "--time-only needs --budget-as-steps S");
    if (timing_threads != cores && !timing)
        return gt_cli_usage("ablate", "--timing-threads needs --budget-as-steps S");
    if (s->equal_step_cost && !timing)
        return gt_cli_usage("ablate", "--equal-step-cost needs --budget-as-steps S");
    if (s->timing_calibrate && (!timing || !s->n_reuse))
        return gt_cli_usage("ablate", "--timing-calibrate needs --budget-as-steps S and a --reuse "
                                      "folder whose timing.json holds one of the combinations");
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

/* A child's input from /dev/null, its output and errors to the file at path. */
static void output_to(const char *path) {
    int in = open("/dev/null", O_RDONLY), log = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in >= 0) dup2(in, 0);
    if (log >= 0) {
        dup2(log, 1);
        dup2(log, 2);
    }
}

/* The child: output to the run's train.log, the run's work through the library, its outcome
 * to outcome.json; exits 1 when the run failed. Never returns. */
static void child(gt_ablate *ab, int i, int threads) {
    char path[4200];
    snprintf(path, sizeof path, "%s/train.log", gt_ablate_run_dir(ab, i));
    output_to(path);
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
                if (gt_ablate_in_shard(ab, run) && gt_ablate_needs_work(ab, run))
                    rc = start(ab, &slots[i], run, threads, err);
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

/* ---- --budget-as-steps: the timing runs, one at a time, each in a child ---- */

/* The child: output to log_path, combination c timed and recorded (as the calibration, or as
 * its rate) through the library; exits 1 when the timing failed. Never returns. */
static void timing_child(const gt_ablate_spec *spec, int c, bool calibration, const char *log_path) {
    output_to(log_path);
    omp_set_num_threads(spec->timing_threads);
    gt_error err;
    int rc = calibration ? gt_ablate_calibrate(spec, c, &stop, &err) :
                           gt_ablate_time_combination(spec, c, &stop, &err);
    if (rc < 0) fprintf(stderr, "gantry: %s\n", err.msg);
    fflush(NULL);
    _exit(rc < 0 ? 1 : 0);
}

/* Times combination c in a child and waits for it. */
static int time_one(const gt_ablate_spec *spec, int c, bool calibration, const char *name,
                    gt_error *err) {
    char log_path[4200];
    snprintf(log_path, sizeof log_path, "%s/timing/%s%s.log", spec->out, name,
             calibration ? "-calibration" : "");
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return gt_error_set(err, "cannot start a timing run: %s", strerror(errno));
    if (pid == 0) timing_child(spec, c, calibration, log_path);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return gt_error_set(err, "waiting for a timing run: %s", strerror(errno));
        else if (stop) kill(pid, SIGTERM);
    if (stop)
        return gt_error_set(err, "interrupted while timing; rerun the same command to continue");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return gt_error_set(err, "timing %s failed (see %s)", name, log_path);
    return 0;
}

/* Other processes runnable now (/proc/loadavg's running count, this one aside), the fewest of
 * five readings 20 ms apart so that a passing blip does not count; -1 where it cannot be read. */
static int others_running(void) {
    int fewest = -1;
    for (int i = 0; i < 5; i++) {
        FILE *f = fopen("/proc/loadavg", "r");
        int running = 0;
        bool read = f && fscanf(f, "%*f %*f %*f %d/", &running) == 1;
        if (f) fclose(f);
        if (!read) return -1;
        if (fewest < 0 || running - 1 < fewest) fewest = running - 1;
        nanosleep(&(struct timespec){.tv_nsec = 20000000}, NULL);
    }
    return fewest;
}

/* Says so when other processes run beside a timing about to start. */
static void warn_if_shared(void) {
    int others = others_running();
    if (others > 0)
        fprintf(stderr, "gantry ablate: warning: %d other process%s running: the timing shares the "
                        "machine and will count fewer steps than an idle machine makes\n",
                others, others == 1 ? " is" : "es are");
}

/* Copies in the rates the --reuse folders hold for combinations not yet timed here: the number
 * of combinations still without a rate, or -1. */
static int adopt_timings(const gt_ablate_spec *spec, int n, gt_error *err) {
    int untimed = 0;
    for (int c = 0; c < n; c++) {
        long long steps;
        double per_minute;
        const char *from;
        int found = gt_ablate_timed_steps(spec, c, &steps, &per_minute, err);
        if (found == 0 && (found = gt_ablate_adopt_timing(spec, c, &from, err)) > 0) {
            char name[320];
            gt_ablate_combination_name(spec, c, name, sizeof name);
            fprintf(stderr, "gantry ablate: %s: the rate timed in %s (its timing.json)\n", name, from);
        }
        if (found < 0) return -1;
        untimed += !found;
    }
    return untimed;
}

/* --timing-calibrate: times a combination with a --reuse rate again, unless DIR/timing.json
 * holds the calibration already. */
static int calibrate(const gt_ablate_spec *spec, gt_error *err) {
    int c, needed = gt_ablate_calibration_needed(spec, &c, err);
    if (needed <= 0) return needed;
    char name[320];
    gt_ablate_combination_name(spec, c, name, sizeof name);
    fprintf(stderr, "gantry ablate: calibrating: timing %s again for %g s on %d threads\n", name,
            spec->timing_seconds, spec->timing_threads);
    warn_if_shared();
    return time_one(spec, c, true, name, err);
}

/* Times every combination that neither DIR/timing.json nor a --reuse folder's has a rate for
 * (a --reuse folder's rate is copied in; with --timing-calibrate, after the calibration), and
 * says each one's steps. */
static int time_combinations(const gt_ablate_spec *spec, gt_error *err) {
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/timing", spec->out);
    if (gt_run_make_dir(dir, err) < 0) return -1;
    int n = gt_ablate_n_combinations(spec), untimed = adopt_timings(spec, n, err);
    if (untimed < 0 || (untimed > 0 && spec->timing_calibrate && calibrate(spec, err) < 0)) return -1;
    for (int c = 0; c < n; c++) {
        char name[320];
        gt_ablate_combination_name(spec, c, name, sizeof name);
        long long steps;
        double per_minute;
        int found = gt_ablate_timed_steps(spec, c, &steps, &per_minute, err);
        if (found < 0) return -1;
        if (!found) {
            fprintf(stderr, "gantry ablate: timing %s for %g s on %d threads (%d of %d)\n", name,
                    spec->timing_seconds, spec->timing_threads, c + 1, n);
            warn_if_shared();
            if (time_one(spec, c, false, name, err) < 0) return -1;
        }
        found = gt_ablate_timed_steps(spec, c, &steps, &per_minute, err);
        if (found <= 0)
            return found < 0 ? -1 : gt_error_set(err, "timing %s recorded no rate in %s/timing.json",
                                                  name, spec->out);
        fprintf(stderr, "gantry ablate: %s: %.1f steps a minute, %lld steps in %g minutes\n", name,
                per_minute, steps, spec->budget_minutes);
    }
    return gt_ablate_record_shared_rates(spec, err);
}

/* Under --shard or mpirun every combination must have a rate in DIR/timing.json already: parts
 * timing at once would time each other (and parts copying rates in would race). */
static int check_timed(const gt_ablate_spec *spec, gt_error *err) {
    for (int c = 0; c < gt_ablate_n_combinations(spec); c++) {
        long long steps;
        double per_minute;
        int found = gt_ablate_timed_steps(spec, c, &steps, &per_minute, err);
        if (found < 0) return -1;
        if (!found) {
            char name[320];
            gt_ablate_combination_name(spec, c, name, sizeof name);
            return gt_error_set(err,
                                "%s has not been timed (--budget-as-steps): time every combination "
                                "first, in one process with the machine otherwise idle, with the "
                                "same command and --time-only instead of --shard or mpirun",
                                name);
        }
    }
    return 0;
}

/* The spec's runs (its shard's, or all) through the pool, without the table. */
static int train_runs(const gt_ablate_spec *spec, FILE *log, gt_error *err) {
    gt_ablate *ab = gt_ablate_plan(spec, log, err);
    if (!ab) return -1;
    int rc = run_pool(ab, spec->jobs, spec->threads, err);
    gt_ablate_free(ab);
    return rc;
}

/* The table of every run's recorded outcome, once every run has one. */
static int merged_table(const gt_ablate_spec *spec, gt_ablate_table *t, gt_error *err) {
    memset(t, 0, sizeof *t);
    gt_ablate *ab = gt_ablate_plan(spec, stderr, err);
    if (!ab) return -1;
    int rc = gt_ablate_check_complete(ab, err);
    if (rc == 0) rc = gt_ablate_finish(ab, t, err);
    gt_ablate_free(ab);
    return rc;
}

/* The table to stdout, report.html, and the tally to stderr; 1 when no run was scored. */
static int publish(const char *out, gt_ablate_table *t) {
    gt_error err;
    gt_ablate_table_markdown(stdout, t);
    int failures = 0, scored = 0;
    for (int r = 0; r < t->n_rows; r++) {
        failures += t->rows[r].failures;
        scored += t->rows[r].scored;
    }
    gt_ablate_table_free(t);
    if (gt_report_ablation(out, &err) < 0) return gt_cli_fail("%s", err.msg);
    fprintf(stderr,
            "gantry ablate: %d run%s scored, %d failed; results in %s/results.md, %s/results.json "
            "and %s/report.html\n",
            scored, scored == 1 ? "" : "s", failures, out, out, out);
    if (scored == 0)
        return gt_cli_fail("no run could be scored (see the failures in %s/results.md)", out);
    return 0;
}

/* Every run through the pool in this process, then the table. */
static int whole_ablation(const gt_ablate_spec *spec) {
    gt_error err;
    gt_ablate_table t;
    memset(&t, 0, sizeof t);
    gt_ablate *ab = gt_ablate_plan(spec, stderr, &err);
    if (!ab) return gt_cli_fail("%s", err.msg);
    int rc = run_pool(ab, spec->jobs, spec->threads, &err);
    if (rc == 0) rc = gt_ablate_finish(ab, &t, &err);
    gt_ablate_free(ab);
    return rc < 0 ? gt_cli_fail("%s", err.msg) : publish(spec->out, &t);
}

/* --shard I/N: this part's runs, no table. */
static int shard_ablation(const gt_ablate_spec *spec) {
    gt_error err;
    if (train_runs(spec, stderr, &err) < 0) return gt_cli_fail("%s", err.msg);
    fprintf(stderr,
            "gantry ablate: shard %d/%d done; once every shard is, write the table with "
            "gantry ablate --merge %s\n",
            spec->shard, spec->shards, spec->out);
    return 0;
}

/* --merge DIR: the table of the plan in DIR/plan.json, once every run has an outcome. */
static int merge_ablation(const char *dir) {
    gt_error err;
    gt_ablate_saved_plan *saved = malloc(sizeof *saved);
    if (!saved) return gt_cli_fail("out of memory");
    gt_ablate_table t;
    int rc = gt_ablate_load_plan(dir, saved, &err);
    if (rc == 0) rc = merged_table(&saved->spec, &t, &err);
    free(saved);
    return rc < 0 ? gt_cli_fail("%s", err.msg) : publish(dir, &t);
}

/* Under mpirun: rank r trains part r+1 of K (only rank 0 logs progress), then, when every
 * rank has succeeded, rank 0 merges. A failing rank names itself; every rank then exits 1. */
static int mpi_ablation(gt_ablate_spec *spec, const gt_cluster *cl) {
    gt_error err;
    spec->shard = cl->rank + 1;
    spec->shards = cl->size;
    FILE *quiet = cl->rank == 0 ? NULL : fopen("/dev/null", "w");
    int rc = train_runs(spec, quiet ? quiet : stderr, &err);
    if (quiet) fclose(quiet);
    if (rc < 0) fprintf(stderr, "gantry: rank %d of %d: %s\n", cl->rank, cl->size, err.msg);
    char failed[256];
    if (!gt_cluster_all_ok(cl, rc == 0, failed, sizeof failed)) {
        if (cl->rank == 0)
            fprintf(stderr, "gantry: ablate: rank(s) %s failed; finished runs are kept: rerun the "
                            "same command to continue\n", failed);
        return 1;
    }
    if (cl->rank != 0) return 0;
    spec->shard = spec->shards = 0;
    gt_ablate_table t;
    return merged_table(spec, &t, &err) < 0 ? gt_cli_fail("%s", err.msg) : publish(spec->out, &t);
}

/* The command within a started cluster (a job of one process without MPI). */
static int ablate_command(int argc, char **argv, const gt_cluster *cl) {
    int cores = omp_get_num_procs();
    int cores_per_rank = cores / cl->local_size > 1 ? cores / cl->local_size : 1;
    gt_ablate_spec spec;
    const char *merge;
    bool time_only;
    int rc = parse_args(argc, argv, &spec, &merge, &time_only, cores_per_rank);
    if (rc) return rc == GT_OPTS_DONE ? 0 : rc;
    if (merge && cl->size > 1)
        return gt_cli_usage("ablate", "--merge runs in one process, not under mpirun -np %d", cl->size);
    if (merge) return merge_ablation(merge);
    if (spec.shards && cl->size > 1)
        return gt_cli_usage("ablate", "--shard and mpirun -np %d both split the runs: give one",
                            cl->size);
    gt_error err;
    if (gt_ablate_validate(&spec, &err) < 0) return gt_cli_fail("%s", err.msg);
    /* Ctrl-C reaches the children too: they save checkpoints, and the next run continues them */
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (spec.timing_seconds > 0) {
        bool parts = spec.shards || cl->size > 1;
        if (time_only && parts)
            return gt_cli_usage("ablate", "--time-only runs in one process, without --shard or mpirun");
        if ((parts ? check_timed(&spec, &err) : time_combinations(&spec, &err)) < 0)
            return gt_cli_fail("%s", err.msg);
        if (time_only) return 0;
    }
    if (cl->size > 1) return mpi_ablation(&spec, cl);
    return spec.shards ? shard_ablation(&spec) : whole_ablation(&spec);
}

int gt_cmd_ablate(int argc, char **argv) {
    gt_cluster cl;
    if (gt_cluster_start(&cl) < 0) return 1;
    int rc = ablate_command(argc, argv, &cl);
    gt_cluster_stop(&cl);
    return rc;
}
