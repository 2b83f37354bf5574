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
#include "train/trainer.h"
#include "train/evaluator.h"
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
           "  section.key=value override one key, e.g. train.steps=%lld optim.g.lr=%g\n\n"
           "Ctrl-C saves a checkpoint and stops; resume with --resume RUNDIR.\n",
           (long long)d.train_steps, d.opt_g_lr);
}

typedef struct {
    const char *config, *out, *resume;
    bool quiet;
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

/* Runs steps until the configured total or an interrupt; returns 0, or 1 on an output error. */
static int run(gt_trainer *t, gt_run_eval *ev, const char *dir, bool quiet, gt_error *err) {
    const gt_config *c = &t->cfg;
    bool tty = isatty(2);
    double start = now_s(), last_t = start;
    int64_t last_step = t->step;
    double rate = 0;
    gt_step_stats st = {0};
    double budget = c->train_max_minutes * 60;
    while (t->step < c->train_steps && !interrupted && !(budget > 0 && now_s() - start > budget)) {
        gt_trainer_step(t, &st);
        bool log = t->step % c->train_log_every == 0 || t->step == c->train_steps;
        if (log) {
            double now = now_s();
            rate = (double)(t->step - last_step) / fmax(now - last_t, 1e-9);
            last_t = now;
            last_step = t->step;
            if (gt_run_log_metrics(t, dir, &st, rate, now - start, err) < 0) return 1;
            if (!quiet) progress(t, &st, rate, tty);
        }
        if (c->train_sample_every && t->step % c->train_sample_every == 0 &&
            gt_run_write_samples(t, dir, err) < 0)
            return 1;
        if (c->train_checkpoint_every && t->step % c->train_checkpoint_every == 0 &&
            gt_run_checkpoint(t, dir, err) < 0)
            return 1;
        if (c->train_eval_every && t->step % c->train_eval_every == 0 &&
            gt_run_eval_step(ev, t, dir, err) < 0)
            return 1;
    }
    if (!quiet && tty) fputc('\n', stderr);
    return 0;
}

static int finish(gt_trainer *t, const char *dir, gt_error *err) {
    if (gt_run_checkpoint(t, dir, err) < 0 || gt_run_write_samples(t, dir, err) < 0) return 1;
    if (interrupted || t->step < t->cfg.train_steps)
        fprintf(stderr, "gantry: %s at step %lld; checkpoint saved. Continue with: "
                        "gantry train --resume %s\n",
                interrupted ? "interrupted" : "time budget reached", (long long)t->step, dir);
    else
        fprintf(stderr, "gantry: trained %lld steps. Samples: %s/samples/  metrics: %s/metrics.jsonl  "
                        "checkpoint: %s/checkpoint.safetensors\n", (long long)t->step, dir, dir, dir);
    return 0;
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
    rc = run(&t, &ev, dir, a.quiet, &err);
    gt_run_eval_free(&ev);
    if (rc == 0) rc = finish(&t, dir, &err);
    if (rc) gt_cli_fail("%s", err.msg);
    gt_trainer_free(&t);
    gt_runtime_free();
    return rc;
}
