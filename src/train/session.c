/* One training run as a library call (session.h): the loop that `gantry train` and each run
 * of an ablation share. */
#include "train/session.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "core/engine.h"
#include "report/report.h"
#include "train/evaluator.h"
#include "train/health.h"
#include "train/outputs.h"
#include "train/run_lock.h"
#include "train/stall.h"
#include "train/tensorboard.h"
#include "train/trainer.h"

typedef struct {
    const gt_train_request *req;
    gt_trainer *t;
    gt_run_eval ev;
    bool tty;                 /* the log is a terminal: the progress line rewrites itself */
    bool step_failed;         /* a step unwound (out of memory, a failed exchange): the trainer may be half updated */
    bool unhealthy;           /* a step turned non-finite (the trainer holds the state at its start),
                                 or training died or blew up (health.*): last-good.safetensors */
    bool writer;              /* this process writes the run folder (rank 0, or the only one) */
    gt_tensorboard *tb;       /* train.tensorboard: the writer's events file (NULL: off) */
    int64_t overfit_warned;   /* the step of the last overfitting warning (-1: none yet) */
} session;

/* ---- data-parallel ranks ------------------------------------------------------------------ */

/* Whether any rank wants to stop (a signal, the time budget): every rank takes part in each
 * step's exchange, so they must stop at the same step. One float per rank. */
static int agree_to_stop(const session *s, bool mine, bool *any, gt_error *err) {
    const gt_comm *comm = s->req->comm;
    *any = mine;
    if (!comm) return 0;
    float flag = mine ? 1.0f : 0.0f;
    float *all = gt_step_alloc_((size_t)comm->size * sizeof *all); /* gone at the step's end */
    int rc = comm->allgather(comm->ctx, &flag, 1, all, err);
    for (int r = 0; rc == 0 && r < comm->size; r++) *any = *any || all[r] != 0.0f;
    return rc;
}

/* The ranks must train the same run: a hash of the configuration's text, compared. */
static uint64_t config_hash(const gt_config *cfg) {
    char *text = malloc(64 * 1024);
    uint64_t h = text && gt_config_to_string(cfg, text, 64 * 1024) >= 0 ? gt_fnv1a64(text) : 0;
    free(text);
    return h;
}

static int check_same_config(const gt_comm *comm, const gt_config *cfg, gt_error *err) {
    uint64_t h = config_hash(cfg);
    float mine[4], *all = malloc((size_t)(4 * comm->size) * sizeof *all);
    if (!all) return gt_error_set(err, "out of memory (configuration hashes)");
    for (int i = 0; i < 4; i++) mine[i] = (float)((h >> (16 * i)) & 0xffff); /* exact in a float */
    int rc = comm->allgather(comm->ctx, mine, 4, all, err);
    for (int r = 0; rc == 0 && r < comm->size; r++)
        if (memcmp(all + 4 * r, mine, sizeof mine) != 0)
            rc = gt_error_set(err, "rank %d and rank %d were given different configurations (the "
                                   "same recipe and overrides must go to every rank)",
                              comm->rank, r);
    free(all);
    return rc;
}

/* Data-parallel training: what the shards need, and that every rank trains the same run. */
static int attach_ranks(const gt_train_request *req, gt_trainer *t, gt_error *err) {
    const gt_comm *comm = req->comm;
    if (!comm || comm->size == 1) return 0;
    const gt_config *c = &t->cfg;
    if (c->train_accumulate != 1)
        return gt_error_set(err, "config: train.accumulate = %lld on %d ranks: each rank computes "
                                 "one shard; set train.accumulate = 1 (ranks and accumulation are "
                                 "the same arithmetic)", (long long)c->train_accumulate, comm->size);
    char what[64];
    snprintf(what, sizeof what, "%d ranks", comm->size);
    if (gt_trainer_check_shards(t, comm->size, what, err) < 0) return -1;
    if (check_same_config(comm, c, err) < 0) return -1;
    t->gan.comm = comm;
    t->gan.sync_bn = c->train_sync_bn;
    return 0;
}

/* One training step under gt_try, so that running out of memory or a failed exchange inside an
 * op (synchronized batch norm) is an error, not an abort. */
typedef struct {
    gt_trainer *t;
    gt_step_stats *st;
    bool finite;
} step_call;

static int step_in_try(void *arg) {
    step_call *c = arg;
    c->finite = gt_trainer_step(c->t, c->st);
    return 0;
}

static bool stop_requested(const session *s) { return s->req->stop && *s->req->stop; }

static void progress(const session *s, const gt_step_stats *st, double rate) {
    const gt_trainer *t = s->t;
    double left = rate > 0 ? (double)(t->cfg.train_steps - t->step) / rate : 0;
    fprintf(s->req->log, "%sstep %lld/%lld  D %.4f  G %.4f  |gD| %.3g  |gG| %.3g  %.0f img/s  left %dm%02ds%s",
            s->tty ? "\r" : "", (long long)t->step, (long long)t->cfg.train_steps, st->d_loss,
            st->g_loss, st->d_grad_norm, st->g_grad_norm, rate * (double)t->cfg.train_batch,
            (int)(left / 60), (int)fmod(left, 60), s->tty ? "  " : "\n");
    fflush(s->req->log);
}

/* Sample grids, checkpoints and evaluations due at this step; -1 on an output error. */
static int periodic_outputs(session *s, gt_error *err) {
    gt_trainer *t = s->t;
    const gt_config *c = &t->cfg;
    const char *dir = s->req->dir;
    if (c->train_sample_every && t->step % c->train_sample_every == 0 &&
        gt_run_write_samples(t, dir, s->tb, err) < 0)
        return -1;
    if (c->train_checkpoint_every && t->step % c->train_checkpoint_every == 0 &&
        gt_run_checkpoint(t, dir, err) < 0)
        return -1;
    if (c->train_eval_every && t->step % c->train_eval_every == 0 &&
        gt_run_eval_step(&s->ev, t, dir, s->tb, err) < 0)
        return -1;
    return 0;
}

/* A warning on its own line (breaking the progress line) and in metrics.jsonl. */
static int warn(const session *s, const char *msg, bool tty, gt_error *err) {
    fprintf(s->req->log, "%sgantry: warning at step %lld: %s\n", tty ? "\n" : "",
            (long long)s->t->step, msg);
    return gt_run_log_event(s->req->dir, s->t->step, "warning", msg, err);
}

/* The health rules on this step, and the diversity of a fixed batch of samples against the
 * last real batch on logging steps. */
static int check_health(session *s, gt_health *h, const gt_step_stats *st, bool log, gt_error *err) {
    gt_trainer *t = s->t;
    bool tty = s->tty && !s->req->quiet;
    char msg[512];
    if (gt_health_step(h, t->step, st, msg, sizeof msg) && warn(s, msg, tty, err) < 0) return -1;
    if (!log) return 0;
    enum { N = 64 };
    int64_t d = gt_trainer_example_size(t);
    float *x = malloc((size_t)(N * d) * sizeof *x);
    if (!x) return gt_error_set(err, "out of memory (diversity check)");
    gt_trainer_sample(t, N, gt_seed_stream((uint64_t)t->cfg.train_seed, GT_STREAM_SAMPLES), x);
    int rc = 0;
    if (gt_health_diversity(h, t->step, x, N, t->real, t->cfg.train_batch, d, msg, sizeof msg))
        rc = warn(s, msg, tty, err);
    free(x);
    return rc;
}

/* Stops the run on an unhealthy state: why (with advice) goes to the log and metrics.jsonl, the
 * trainer's state to last-good.safetensors beside the last periodic checkpoint. */
static int stop_unhealthy(const session *s, const char *why, gt_error *err) {
    const gt_trainer *t = s->t;
    const char *dir = s->req->dir;
    char msg[2048];
    snprintf(msg, sizeof msg, "%s. The state of step %lld is saved in %s/" GT_RUN_LAST_GOOD " (the "
             "last periodic checkpoint is kept); continue from it with gantry train --resume %s "
             "--from %s/" GT_RUN_LAST_GOOD " followed by the new settings",
             why, (long long)t->step, dir, dir, dir);
    if (gt_run_log_event(dir, t->step, "error", msg, err) < 0) return -1;
    if (gt_run_save_last_good(t, dir, err) < 0) return -1;
    return gt_error_set(err, "%s", msg);
}

/* data.holdout: a reading of D on training, held-out and fake images (logged with the step's
 * metrics), and a warning when D tells training reals from held-out ones. */
static int monitor_overfitting(session *s, gt_error *err) {
    gt_trainer *t = s->t;
    if (!t->holdout) return 0;
    gt_trainer_monitor(t, &t->overfit);
    char msg[512];
    if (!gt_overfit_warning(&t->overfit, t->cfg.data_overfit_warn, msg, sizeof msg) ||
        (s->overfit_warned >= 0 && t->step - s->overfit_warned < 1000))
        return 0;
    s->overfit_warned = t->step;
    return warn(s, msg, s->tty && !s->req->quiet, err);
}

/* A non-finite step: the trainer holds the state at its start. */
static int diverged(const session *s, const gt_step_stats *st, gt_error *err) {
    const gt_trainer *t = s->t;
    char why[1024];
    snprintf(why, sizeof why, "%s became NaN or infinite in step %lld (D loss %g, G loss %g); "
             "training stopped at the last good state, the start of that step. Try lower learning "
             "rates (optim.d.lr, optim.g.lr), a gradient penalty or spectral normalization",
             t->diverged_what, (long long)t->step + 1, st->d_loss, st->g_loss);
    return stop_unhealthy(s, why, err);
}

/* The stops for dead or exploded training (health.*), taken on every rank alike (each holds the
 * same state and statistics); rank 0 reports. */
static int health_stops(session *s, gt_health *h, gt_stall_watch *w, const gt_step_stats *st,
                        gt_error *err) {
    const gt_config *c = &s->t->cfg;
    char why[1024];
    if (!gt_health_grad_stop(h, st, c->health_grad_norm_max, c->health_grad_norm_window, why,
                             sizeof why) &&
        !gt_stall_watch_step(w, s->t, why, sizeof why))
        return 0;
    s->unhealthy = true;
    if (!s->writer) return gt_error_set(err, "training stopped as unhealthy (rank 0 reports why)");
    return stop_unhealthy(s, why, err);
}

/* Runs steps until the configured total, the time budget or a stop; -1 on an output error or
 * a diverged step (err says which). */
static int run_steps(session *s, gt_error *err) {
    gt_trainer *t = s->t;
    const gt_config *c = &t->cfg;
    double start = gt_monotonic_s(), last_t = start;
    int64_t last_step = t->step;
    double rate = 0;
    gt_step_stats st = {0};
    gt_health health;
    gt_health_init(&health);
    gt_stall_watch stall;
    gt_stall_watch_init(&stall, t, c->health_stall_window);
    double budget = c->train_max_minutes * 60;
    while (t->step < c->train_steps) {
        bool stop;
        if (agree_to_stop(s, stop_requested(s) || (budget > 0 && gt_monotonic_s() - start > budget),
                          &stop, err) < 0)
            return -1;
        if (stop) break;
        step_call call = {t, &st, false};
        if (gt_try(step_in_try, &call, err) < 0) {
            s->step_failed = true;
            return -1;
        }
        if (st.comm_failed) return gt_error_set(err, "%s", t->gan.comm_error.msg);
        if (!call.finite) {
            s->unhealthy = true;
            if (s->writer) diverged(s, &st, err);
            else gt_error_set(err, "a step diverged (rank 0 reports it)");
            return -1;
        }
        if (health_stops(s, &health, &stall, &st, err) < 0) return -1;
        if (!s->writer) continue; /* rank 0 alone logs, checks and writes */
        bool log = t->step % c->train_log_every == 0 || t->step == c->train_steps;
        if (log) {
            double now = gt_monotonic_s();
            rate = (double)(t->step - last_step) / fmax(now - last_t, 1e-9);
            last_t = now;
            last_step = t->step;
            if (monitor_overfitting(s, err) < 0 ||
                gt_run_log_metrics(t, s->req->dir, s->tb, &st, rate, now - start, err) < 0)
                return -1;
            if (!s->req->quiet) progress(s, &st, rate);
        }
        gt_profile_mark("logging");
        if (check_health(s, &health, &st, log, err) < 0) return -1;
        gt_profile_mark("health checks");
        if (periodic_outputs(s, err) < 0) return -1;
        gt_profile_mark("samples, evaluation, checkpoints");
    }
    if (!s->req->quiet && s->tty) fputc('\n', s->req->log);
    return 0;
}

static int finish(const session *s, gt_error *err) {
    const gt_trainer *t = s->t;
    const char *dir = s->req->dir;
    if (gt_run_checkpoint(t, dir, err) < 0 || gt_run_write_samples(s->t, dir, s->tb, err) < 0 ||
        gt_report_run(dir, err) < 0)
        return -1;
    if (stop_requested(s) || t->step < t->cfg.train_steps)
        fprintf(s->req->log, "gantry: %s at step %lld; checkpoint saved. Continue with: "
                             "gantry train --resume %s\n",
                stop_requested(s) ? "interrupted" : "time budget reached", (long long)t->step, dir);
    else
        fprintf(s->req->log, "gantry: trained %lld steps. Report: %s/report.html  samples: %s/samples/  "
                             "metrics: %s/metrics.jsonl  checkpoint: %s/checkpoint.safetensors\n",
                (long long)t->step, dir, dir, dir, dir);
    return 0;
}

/* The profile: the time of the training loop by op kind (forward, backward) and region, and the
 * step-arena memory each hands out a step. */
static void print_profile(FILE *log, int64_t steps) {
    gt_profile_entry e[GT_PROFILE_MAX_ENTRIES];
    int n = gt_profile_entries(e, GT_PROFILE_MAX_ENTRIES);
    double total = 0, flop = 0, op_s = 0, bytes = 0;
    for (int i = 0; i < n; i++) {
        total += e[i].fwd_s + e[i].bwd_s;
        flop += e[i].fwd_flop + e[i].bwd_flop;
        bytes += e[i].fwd_bytes + e[i].bwd_bytes;
        if (e[i].is_op) op_s += e[i].fwd_s + e[i].bwd_s;
    }
    if (total <= 0) return;
    double per_step = 1.0 / (double)(steps > 0 ? steps : 1), mb = per_step / 1048576.0;
    fprintf(log, "\nprofile: %lld steps, %.2f s (%.1f ms a step); ops %.1f%%\n", (long long)steps,
            total, 1e3 * total * per_step, 100 * op_s / total);
    fprintf(log, "  %-34s %9s %6s %9s %6s %9s %8s %8s\n", "op kind or region", "fwd ms", "fwd %",
            "bwd ms", "bwd %", "GFLOP/s", "fwd MB", "bwd MB");
    for (int i = 0; i < n; i++) {
        double t = e[i].fwd_s + e[i].bwd_s, f = e[i].fwd_flop + e[i].bwd_flop;
        double b = e[i].fwd_bytes + e[i].bwd_bytes;
        if (t < 0.0005 * total && b < 0.0005 * bytes) continue; /* under 0.05% of both: noise */
        char rate[32] = "";
        if (f > 0) snprintf(rate, sizeof rate, "%.1f", f / t * 1e-9);
        fprintf(log, "  %-34s %9.1f %5.1f%% %9.1f %5.1f%% %9s %8.2f %8.2f\n", e[i].name,
                1e3 * e[i].fwd_s, 100 * e[i].fwd_s / total, 1e3 * e[i].bwd_s,
                100 * e[i].bwd_s / total, rate, e[i].fwd_bytes * mb, e[i].bwd_bytes * mb);
    }
    fprintf(log, "  model FLOPs (matmul, conv): %.1f GFLOP/s over the whole loop\n",
            flop / total * 1e-9);
    fprintf(log, "  step memory: %.1f MB handed out a step (MB columns), at most %.1f MB held at "
                 "once (the step arena's peak, evaluations included)\n",
            bytes * mb, (double)gt_profile_step_peak() / 1048576.0);
}

/* gt_trainer_init under gt_try: networks too large for memory are an error, not an abort. */
typedef struct {
    gt_trainer *t;
    const gt_config *cfg;
    gt_error *err;
} init_call;

static int init_in_try(void *arg) {
    init_call *c = arg;
    return gt_trainer_init(c->t, c->cfg, true, c->err);
}

static int build_trainer(gt_trainer *t, const gt_config *cfg, gt_error *err) {
    init_call call = {t, cfg, err};
    return gt_try(init_in_try, &call, err);
}

/* The run folder, created and locked by the process that writes it; a fresh run then checks
 * again that no run finished there meanwhile. */
static int claim_dir(const gt_train_request *req, const char *ckpt, gt_run_lock *lock, gt_error *err) {
    if (gt_run_make_dir(req->dir, err) < 0 || gt_run_lock_take(lock, req->dir, req->log, err) < 0)
        return -1;
    if (!req->resume && access(ckpt, F_OK) == 0) {
        gt_run_lock_release(lock);
        return gt_error_set(err, "%s already holds a run (%s); continue it with --resume %s, or "
                                 "choose another --out", req->dir, ckpt, req->dir);
    }
    return 0;
}

/* A resumed run's metrics.jsonl cut back to its checkpoint's step (outputs.h). */
static int reconcile_metrics(const gt_train_request *req, const gt_trainer *t, gt_error *err) {
    int moved;
    if (gt_run_reconcile_metrics(req->dir, t->step, &moved, err) < 0) return -1;
    if (moved)
        fprintf(req->log, "gantry: metrics.jsonl: %d line%s logged past step %lld (after the "
                          "checkpoint) or left incomplete moved to %s/" GT_RUN_METRICS_DROPPED "\n",
                moved, moved == 1 ? "" : "s", (long long)t->step, req->dir);
    return 0;
}

/* The trainer of the request, restored when resuming, with its run folder locked and prepared. */
static int start(const gt_train_request *req, gt_trainer *t, gt_run_lock *lock, gt_error *err) {
    char ckpt[4096];
    lock->fd = -1;
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", req->dir);
    if (!req->resume && access(ckpt, F_OK) == 0)
        return gt_error_set(err, "%s already holds a run (%s); continue it with --resume %s, or "
                                 "choose another --out", req->dir, ckpt, req->dir);
    if (req->resume && req->resume_from) snprintf(ckpt, sizeof ckpt, "%s", req->resume_from);
    if (req->cfg->train_threads > 0) omp_set_num_threads((int)req->cfg->train_threads);
    if (build_trainer(t, req->cfg, err) < 0) return -1;
    /* the run folder is written only once the run is known to be good: a failed resume
     * leaves config.ini as it was */
    bool writer = !req->comm || req->comm->rank == 0;
    if ((req->resume && gt_trainer_restore(t, ckpt, err) < 0) || attach_ranks(req, t, err) < 0 ||
        (writer && claim_dir(req, ckpt, lock, err) < 0) ||
        (writer && req->resume && reconcile_metrics(req, t, err) < 0) ||
        (writer && gt_run_prepare_dir(req->dir, req->cfg, err) < 0)) {
        gt_run_lock_release(lock);
        gt_trainer_free(t);
        return -1;
    }
    return 0;
}

/* The steps, profiled on request. */
static int train(session *s, gt_error *err) {
    int64_t first_step = s->t->step;
    if (s->req->profile) gt_profile_enable(true);
    int rc = run_steps(s, err);
    if (s->req->profile) {
        print_profile(s->req->log, s->t->step - first_step);
        gt_profile_enable(false);
    }
    return rc;
}

/* The run's context, on the backend train.backend names (empty: the default). */
static gt_ctx *run_context(const gt_config *cfg, gt_error *err) {
    const char *name = cfg->train_backend[0] ? cfg->train_backend : NULL;
    gt_error why;
    gt_ctx *ctx = gt_ctx_new(name, &why);
    if (!ctx) gt_error_set(err, "train.backend: %s", why.msg);
    return ctx;
}

static int run_in_context(const gt_train_request *req, gt_train_outcome *out, gt_error *err);

/* The whole run happens in a context of its own: its tensors, tape and scratch are the run's. */
int gt_train_run(const gt_train_request *req, gt_train_outcome *out, gt_error *err) {
    memset(out, 0, sizeof *out);
    gt_ctx *ctx = run_context(req->cfg, err);
    if (!ctx) return -1;
    gt_ctx *prev = gt_ctx_use(ctx);
    int rc = run_in_context(req, out, err);
    gt_ctx_use(prev);
    gt_ctx_free(ctx);
    return rc;
}

/* The trainer's advice, one "gantry: warning:" line each. */
static void print_warnings(FILE *log, const char *w) {
    while (*w) {
        size_t len = strcspn(w, "\n");
        fprintf(log, "gantry: warning: %.*s\n", (int)len, w);
        w += len + (w[len] == '\n');
    }
}

static int run_in_context(const gt_train_request *req, gt_train_outcome *out, gt_error *err) {
    gt_trainer t;
    gt_run_lock lock;
    if (start(req, &t, &lock, err) < 0) return -1;
    session s = {.req = req, .t = &t, .tty = isatty(fileno(req->log)),
                 .writer = !req->comm || req->comm->rank == 0, .overfit_warned = -1};
    if (s.writer && t.cfg.train_tensorboard && !(s.tb = gt_tensorboard_open(req->dir, err))) {
        gt_trainer_free(&t);
        gt_run_lock_release(&lock);
        return -1;
    }
    if (s.writer) {
        gt_run_eval_init(&s.ev, &t.cfg);
        if (!s.ev.enabled) fprintf(req->log, "gantry: no evaluation during training (%s)\n", s.ev.note);
        print_warnings(req->log, t.warnings);
    }
    int rc = train(&s, err);
    if (s.writer) gt_run_eval_free(&s.ev);
    if (!s.writer) {
        /* the others hold the same state; rank 0 writes it */
    } else if (rc == 0) {
        rc = finish(&s, err);
    } else if (s.unhealthy) {
        /* its state is in last-good.safetensors, beside the last periodic checkpoint */
    } else if (!s.step_failed && !s.t->gan.comm_error.msg[0]) {
        gt_error ckpt_err; /* keep the state reached, whatever stopped the run */
        if (gt_run_checkpoint(&t, req->dir, &ckpt_err) < 0) fprintf(req->log, "gantry: %s\n", ckpt_err.msg);
    } else {
        fprintf(req->log, "gantry: the step that failed may have updated part of the networks, "
                          "so no checkpoint is written; the last periodic one stands\n");
    }
    out->steps = (long long)t.step;
    out->finished = rc == 0 && !stop_requested(&s);
    gt_tensorboard_close(s.tb);
    gt_trainer_free(&t);
    gt_run_lock_release(&lock);
    return rc;
}
