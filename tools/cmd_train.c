/* gantry train: a run from a configuration (or resumed from its checkpoint), with a live
 * progress line, metrics.jsonl, sample grids, checkpoints, and Ctrl-C saving a checkpoint. */
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "report/report.h"
#include "train/trainer.h"
#include "train/evaluator.h"
#include "train/health.h"
#include "train/outputs.h"

static volatile sig_atomic_t interrupted;
static void on_signal(int sig) {
    (void)sig;
    interrupted = 1;
}

static void help(void) {
    gt_config d;
    gt_config_defaults(&d);
    printf("usage: gantry train --config FILE [section.key=value ...] --out RUNDIR\n"
           "       gantry train --resume RUNDIR [section.key=value ...]\n\n"
           "  --config FILE     an INI configuration (configs/dcgan-fmnist.ini is the default recipe);\n"
           "                    keys not in it take their defaults (gantry config --defaults)\n"
           "  --out RUNDIR      where the run writes config.ini, metrics.jsonl, samples/ and\n"
           "                    checkpoint.safetensors (created if missing)\n"
           "  --resume RUNDIR   continue the run in RUNDIR from its checkpoint, bit for bit\n"
           "  --quiet           no progress line\n"
           "  --profile         at the end, print where the time went: each op kind's share,\n"
           "                    forward and backward, and the achieved GFLOP/s\n"
           "  section.key=value override one key, e.g. train.steps=%lld optim.g.lr=%g\n\n"
           "Ctrl-C saves a checkpoint and stops; resume with --resume RUNDIR.\n",
           (long long)d.train_steps, d.opt_g_lr);
}

typedef struct {
    const char *config, *out, *resume;
    bool quiet, profile;
    int n_overrides;
    char **overrides;
} train_args;

static int parse_args(int argc, char **argv, train_args *a) {
    memset(a, 0, sizeof *a);
    a->overrides = argv;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (gt_cli_is_help(argv[i])) {
            help();
            return 1;
        } else if (gt_cli_option(argc, argv, &i, "--config", &v)) {
            if (!(a->config = v)) return gt_cli_usage("train", "--config needs a file");
        } else if (gt_cli_option(argc, argv, &i, "--out", &v)) {
            if (!(a->out = v)) return gt_cli_usage("train", "--out needs a folder");
        } else if (gt_cli_option(argc, argv, &i, "--resume", &v)) {
            if (!(a->resume = v)) return gt_cli_usage("train", "--resume needs a run folder");
        } else if (strcmp(argv[i], "--quiet") == 0) {
            a->quiet = true;
        } else if (strcmp(argv[i], "--profile") == 0) {
            a->profile = true;
        } else if (argv[i][0] != '-' && strchr(argv[i], '=')) {
            a->overrides[a->n_overrides++] = argv[i];
        } else {
            return gt_cli_usage("train", "unknown argument '%s'", argv[i]);
        }
    }
    if (a->resume && (a->config || a->out))
        return gt_cli_usage("train", "--resume takes the run folder alone (no --config or --out)");
    if (!a->resume && (!a->config || !a->out))
        return gt_cli_usage("train", "needs --config FILE and --out RUNDIR, or --resume RUNDIR");
    return 0;
}

/* The configuration: the checkpoint's (resume) or the file's, then the overrides. */
static int resolve_config(const train_args *a, const char *ckpt, gt_config *cfg, gt_error *err) {
    gt_config_defaults(cfg);
    if (a->resume) {
        if (gt_checkpoint_config(ckpt, cfg, err) < 0) return -1;
    } else if (gt_config_load_file(cfg, a->config, err) < 0) {
        return -1;
    }
    for (int i = 0; i < a->n_overrides; i++)
        if (gt_config_set(cfg, a->overrides[i], "command line", err) < 0) return -1;
    return 0;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void progress(const gt_trainer *t, const gt_step_stats *st, double rate, bool tty) {
    double left = rate > 0 ? (double)(t->cfg.train_steps - t->step) / rate : 0;
    fprintf(stderr, "%sstep %lld/%lld  D %.4f  G %.4f  |gD| %.3g  |gG| %.3g  %.0f img/s  left %dm%02ds%s",
            tty ? "\r" : "", (long long)t->step, (long long)t->cfg.train_steps, st->d_loss,
            st->g_loss, st->d_grad_norm, st->g_grad_norm, rate * (double)t->cfg.train_batch,
            (int)(left / 60), (int)fmod(left, 60), tty ? "  " : "\n");
    fflush(stderr);
}

/* Sample grids, checkpoints and evaluations due at this step; -1 on an output error. */
static int periodic_outputs(gt_trainer *t, gt_run_eval *ev, const char *dir, gt_error *err) {
    const gt_config *c = &t->cfg;
    if (c->train_sample_every && t->step % c->train_sample_every == 0 &&
        gt_run_write_samples(t, dir, err) < 0)
        return -1;
    if (c->train_checkpoint_every && t->step % c->train_checkpoint_every == 0 &&
        gt_run_checkpoint(t, dir, err) < 0)
        return -1;
    if (c->train_eval_every && t->step % c->train_eval_every == 0 &&
        gt_run_eval_step(ev, t, dir, err) < 0)
        return -1;
    return 0;
}

/* A warning on its own line (breaking the progress line) and in metrics.jsonl. */
static int warn(const gt_trainer *t, const char *dir, const char *msg, bool tty, gt_error *err) {
    fprintf(stderr, "%sgantry: warning at step %lld: %s\n", tty ? "\n" : "", (long long)t->step, msg);
    return gt_run_log_event(dir, t->step, "warning", msg, err);
}

/* The health rules on this step, and the diversity of a fixed batch of samples against the
 * last real batch on logging steps. */
static int check_health(gt_trainer *t, gt_health *h, const gt_step_stats *st, bool log,
                        const char *dir, bool tty, gt_error *err) {
    char msg[512];
    if (gt_health_step(h, t->step, st, msg, sizeof msg) && warn(t, dir, msg, tty, err) < 0) return -1;
    if (!log) return 0;
    enum { N = 64 };
    int64_t d = gt_trainer_example_size(t);
    float *x = malloc((size_t)(N * d) * sizeof *x);
    if (!x) return gt_error_set(err, "out of memory (diversity check)");
    gt_trainer_sample(t, N, gt_seed_stream((uint64_t)t->cfg.train_seed, GT_STREAM_SAMPLES), x);
    int rc = 0;
    if (gt_health_diversity(h, t->step, x, N, t->real, t->cfg.train_batch, d, msg, sizeof msg))
        rc = warn(t, dir, msg, tty, err);
    free(x);
    return rc;
}

/* Why a run stopped on a non-finite step, and what to try. */
static int diverged(gt_trainer *t, const gt_step_stats *st, const char *dir, gt_error *err) {
    char msg[512];
    snprintf(msg, sizeof msg, "the %s loss or gradient became NaN or infinite in step %lld "
             "(D loss %g, G loss %g); training stopped at the last good state (step %lld). Try "
             "lower learning rates (optim.d.lr, optim.g.lr), a gradient penalty or spectral "
             "normalization, then continue with gantry train --resume %s",
             isfinite(st->d_loss) && isfinite(st->d_grad_norm) ? "G" : "D",
             (long long)t->step + 1, st->d_loss, st->g_loss, (long long)t->step, dir);
    if (gt_run_log_event(dir, t->step, "error", msg, err) < 0) return -1;
    return gt_error_set(err, "%s", msg);
}

/* Runs steps until the configured total, the time budget or an interrupt; returns 0, or 1
 * on an output error or a diverged step (err says which). */
static int run(gt_trainer *t, gt_run_eval *ev, const char *dir, bool quiet, gt_error *err) {
    const gt_config *c = &t->cfg;
    bool tty = isatty(2);
    double start = now_s(), last_t = start;
    int64_t last_step = t->step;
    double rate = 0;
    gt_step_stats st = {0};
    gt_health health;
    gt_health_init(&health);
    double budget = c->train_max_minutes * 60;
    while (t->step < c->train_steps && !interrupted && !(budget > 0 && now_s() - start > budget)) {
        if (!gt_trainer_step(t, &st)) {
            diverged(t, &st, dir, err);
            return 1;
        }
        bool log = t->step % c->train_log_every == 0 || t->step == c->train_steps;
        if (log) {
            double now = now_s();
            rate = (double)(t->step - last_step) / fmax(now - last_t, 1e-9);
            last_t = now;
            last_step = t->step;
            if (gt_run_log_metrics(t, dir, &st, rate, now - start, err) < 0) return 1;
            if (!quiet) progress(t, &st, rate, tty);
        }
        gt_profile_mark("logging");
        if (check_health(t, &health, &st, log, dir, tty && !quiet, err) < 0) return 1;
        gt_profile_mark("health checks");
        if (periodic_outputs(t, ev, dir, err) < 0) return 1;
        gt_profile_mark("samples, evaluation, checkpoints");
    }
    if (!quiet && tty) fputc('\n', stderr);
    return 0;
}

static int finish(gt_trainer *t, const char *dir, gt_error *err) {
    if (gt_run_checkpoint(t, dir, err) < 0 || gt_run_write_samples(t, dir, err) < 0 ||
        gt_report_run(dir, err) < 0)
        return 1;
    if (interrupted || t->step < t->cfg.train_steps)
        fprintf(stderr, "gantry: %s at step %lld; checkpoint saved. Continue with: "
                        "gantry train --resume %s\n",
                interrupted ? "interrupted" : "time budget reached", (long long)t->step, dir);
    else
        fprintf(stderr, "gantry: trained %lld steps. Report: %s/report.html  samples: %s/samples/  "
                        "metrics: %s/metrics.jsonl  checkpoint: %s/checkpoint.safetensors\n",
                (long long)t->step, dir, dir, dir, dir);
    return 0;
}

/* --profile: the time of the training loop by op kind (forward, backward) and region. */
static void print_profile(int64_t steps) {
    gt_profile_entry e[GT_PROFILE_MAX_ENTRIES];
    int n = gt_profile_entries(e, GT_PROFILE_MAX_ENTRIES);
    double total = 0, flop = 0, op_s = 0;
    for (int i = 0; i < n; i++) {
        total += e[i].fwd_s + e[i].bwd_s;
        flop += e[i].fwd_flop + e[i].bwd_flop;
        if (e[i].is_op) op_s += e[i].fwd_s + e[i].bwd_s;
    }
    if (total <= 0) return;
    fprintf(stderr, "\nprofile: %lld steps, %.2f s (%.1f ms a step); ops %.1f%%\n", (long long)steps,
            total, 1e3 * total / (double)(steps > 0 ? steps : 1), 100 * op_s / total);
    fprintf(stderr, "  %-34s %9s %6s %9s %6s %9s\n", "op kind or region", "fwd ms", "fwd %",
            "bwd ms", "bwd %", "GFLOP/s");
    for (int i = 0; i < n; i++) {
        double t = e[i].fwd_s + e[i].bwd_s, f = e[i].fwd_flop + e[i].bwd_flop;
        if (t < 0.0005 * total) continue; /* under 0.05%: noise */
        char rate[32] = "";
        if (f > 0) snprintf(rate, sizeof rate, "%.1f", f / t * 1e-9);
        fprintf(stderr, "  %-34s %9.1f %5.1f%% %9.1f %5.1f%% %9s\n", e[i].name, 1e3 * e[i].fwd_s,
                100 * e[i].fwd_s / total, 1e3 * e[i].bwd_s, 100 * e[i].bwd_s / total, rate);
    }
    fprintf(stderr, "  model FLOPs (matmul, conv): %.1f GFLOP/s over the whole loop\n",
            flop / total * 1e-9);
}

int gt_cmd_train(int argc, char **argv) {
    train_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc == 1 ? 0 : rc;
    const char *dir = a.resume ? a.resume : a.out;
    char ckpt[4096];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", dir);
    gt_config cfg;
    gt_error err;
    if (resolve_config(&a, ckpt, &cfg, &err) < 0) return gt_cli_fail("%s", err.msg);
    if (!a.resume && access(ckpt, F_OK) == 0)
        return gt_cli_fail("%s already holds a run (%s); continue it with --resume %s, or choose "
                           "another --out", dir, ckpt, dir);
    if (cfg.train_threads > 0) omp_set_num_threads((int)cfg.train_threads);
    gt_trainer t;
    if (gt_trainer_init(&t, &cfg, true, &err) < 0) return gt_cli_fail("%s", err.msg);
    /* the run folder is written only once the run is known to be good: a failed resume
     * leaves config.ini as it was */
    if ((a.resume && gt_trainer_restore(&t, ckpt, &err) < 0) ||
        gt_run_prepare_dir(dir, &cfg, &err) < 0) {
        gt_trainer_free(&t);
        gt_runtime_free();
        return gt_cli_fail("%s", err.msg);
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGXFSZ, SIG_IGN); /* a file-size limit then fails the write with a message */
    gt_run_eval ev;
    gt_run_eval_init(&ev, &cfg);
    if (!ev.enabled) fprintf(stderr, "gantry: no evaluation during training (%s)\n", ev.note);
    if (t.warnings[0]) fprintf(stderr, "gantry: warning: %s", t.warnings);
    int64_t first_step = t.step;
    if (a.profile) gt_profile_enable(true);
    rc = run(&t, &ev, dir, a.quiet, &err);
    if (a.profile) {
        print_profile(t.step - first_step);
        gt_profile_enable(false);
    }
    gt_run_eval_free(&ev);
    if (rc == 0) {
        rc = finish(&t, dir, &err);
    } else {
        gt_error ckpt_err; /* keep the state reached, whatever stopped the run */
        if (gt_run_checkpoint(&t, dir, &ckpt_err) < 0) fprintf(stderr, "gantry: %s\n", ckpt_err.msg);
    }
    if (rc) gt_cli_fail("%s", err.msg);
    gt_trainer_free(&t);
    gt_runtime_free();
    return rc;
}
