/* The last good state, exactly: a step that turns non-finite (a loss, a penalty, an unrolled
 * G loss, an update that poisons the weights) stops the run with the state at the start of that
 * step in last-good.safetensors, which equals the checkpoint an uninterrupted run writes at that
 * step, tensor for tensor and counter for counter; resuming from it repeats the step bit for bit;
 * the last periodic checkpoint is never overwritten. Faults come through gt_gan_set_update_hook. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli_support.h"
#include "io/safetensors.h"
#include "test.h"
#include "train/session.h"
#include "train/trainer.h"
#include "train_support.h"

enum { FAIL_AT = 4, TOTAL = 7, CKPT_EVERY = 3 };

#define TINY_RING                                                                           \
    "model.g.width=16 model.g.depth=2 model.d.width=16 model.d.depth=2 model.g.z_dim=8 "     \
    "train.batch=64 train.threads=1 train.log_every=1 train.sample_every=0 train.eval_every=0 " \
    "train.checkpoint_every=3 "

typedef enum { FAULT_LOSS, FAULT_GRADIENT } fault_kind;

/* One fault: the update number `at` of the optimizer of network `net` gets it. */
typedef struct {
    const char *net;
    int64_t at;
    fault_kind kind;
    bool fired;
} fault;

static void inject(void *ctx, gt_optim *opt, double *loss) {
    fault *f = ctx;
    if (f->fired || !opt->cfg.name || strcmp(opt->cfg.name, f->net) != 0 || opt->step != f->at)
        return;
    f->fired = true;
    if (f->kind == FAULT_LOSS)
        *loss = NAN;
    else
        gt_fill(opt->params->flat_grad, INFINITY); /* the loss stays finite, the update does not */
}

/* Trains in dir (fresh, or resumed from `from`) with the overrides and train.steps = steps. */
static int train(const char *dir, const char *overrides, int steps, const char *from, gt_error *err) {
    gt_config cfg;
    char all[1024];
    snprintf(all, sizeof all, "%s%s train.steps=%d", TINY_RING, overrides, steps);
    if (from) {
        gt_config_defaults(&cfg);
        if (gt_checkpoint_config(from, &cfg, err) < 0) return -1;
    } else if (train_config(&cfg, "configs/gan-ring.ini", all, err) < 0) {
        return -1;
    }
    FILE *log = fopen("/dev/null", "w");
    gt_train_request req = {.dir = dir, .cfg = &cfg, .resume = from != NULL, .resume_from = from,
                            .quiet = true, .log = log};
    gt_train_outcome out;
    int rc = gt_train_run(&req, &out, err);
    fclose(log);
    return rc;
}

static const char *const COUNTERS[] = {"step", "opt_g.step", "opt_d.step", "ema.updates",
                                       "rng.key", "rng.counter", "tricks_rng.key",
                                       "tricks_rng.counter", "loader.seed", "loader.epoch",
                                       "loader.index"};

/* Every tensor and every counter of two checkpoints identical (the configuration text aside:
 * train.steps may differ); prints the first difference. */
static bool same_state(const char *a_path, const char *b_path) {
    gt_error err;
    gt_st_file *a = gt_st_read(a_path, &err), *b = a ? gt_st_read(b_path, &err) : NULL;
    bool same = a && b && gt_st_count(a) == gt_st_count(b);
    if (!a || !b) fprintf(stderr, "  %s\n", err.msg);
    for (int i = 0; same && i < gt_st_count(a); i++) {
        const gt_st_tensor *x = gt_st_at(a, i), *y = gt_st_find(b, x->name);
        same = y && x->numel == y->numel && memcmp(x->data, y->data, (size_t)x->numel * 4) == 0;
        if (!same) fprintf(stderr, "  tensor %s differs\n", x->name);
    }
    for (size_t k = 0; same && k < sizeof COUNTERS / sizeof *COUNTERS; k++) {
        const char *x = gt_st_meta(a, COUNTERS[k]), *y = gt_st_meta(b, COUNTERS[k]);
        same = x && y && strcmp(x, y) == 0;
        if (!same) fprintf(stderr, "  %s: %s against %s\n", COUNTERS[k], x ? x : "-", y ? y : "-");
    }
    gt_st_free(a);
    gt_st_free(b);
    return same;
}

static const char *meta_of(const char *path, const char *key, char *buf, size_t cap) {
    gt_error err;
    gt_st_file *f = gt_st_read(path, &err);
    const char *v = f ? gt_st_meta(f, key) : NULL;
    snprintf(buf, cap, "%s", v ? v : "(none)");
    gt_st_free(f);
    return buf;
}

/* The fault stops the run at step FAIL_AT with the uninterrupted run's state of that step in
 * last-good.safetensors, the periodic checkpoint of step 3 untouched; resuming from it ends
 * where the uninterrupted run ends. */
static void check_fault(const char *overrides, fault f, const char *says) {
    char dir[64], buf[64];
    if (!cli_scratch_new(dir)) return;
    const char *reference = cli_path(dir, "reference"), *at_fail = cli_path(dir, "at-fail");
    const char *run = cli_path(dir, "run"), *last_good = cli_path(run, "last-good.safetensors");
    gt_error err;
    CHECK(train(at_fail, overrides, FAIL_AT, NULL, &err) == 0);
    CHECK(train(reference, overrides, TOTAL, NULL, &err) == 0);
    gt_gan_set_update_hook(inject, &f);
    int rc = train(run, overrides, TOTAL, NULL, &err);
    gt_gan_set_update_hook(NULL, NULL);
    CHECK(f.fired && rc < 0 && strstr(err.msg, says) && strstr(err.msg, "--from"));
    if (rc == 0) fprintf(stderr, "  the fault (%s update %lld) did not stop the run\n", f.net, (long long)f.at);
    else if (!strstr(err.msg, says)) fprintf(stderr, "  %s\n", err.msg);
    CHECK(same_state(last_good, cli_path(at_fail, "checkpoint.safetensors")));
    CHECK(strcmp(meta_of(cli_path(run, "checkpoint.safetensors"), "step", buf, sizeof buf), "3") == 0);
    CHECK(train(run, "", TOTAL, last_good, &err) == 0);
    CHECK(same_state(cli_path(run, "checkpoint.safetensors"),
                     cli_path(reference, "checkpoint.safetensors")));
    cli_scratch_remove(dir);
}

TEST(a_non_finite_d_loss) {
    check_fault("", (fault){"D", FAIL_AT, FAULT_LOSS, false}, "D's loss, penalty or gradient");
}

/* D's update has run when G's loss fails: it must be undone too (defect 1 of issue 21). */
TEST(a_non_finite_g_loss_after_d_updated) {
    check_fault("", (fault){"G", FAIL_AT, FAULT_LOSS, false}, "G's loss or gradient");
}

/* Lazy R1 every 2 steps: before step 4, D made 4 main and 2 penalty updates; its main update of
 * step 4 is number 6 and its penalty update number 7. */
TEST(a_non_finite_lazy_penalty) {
    check_fault("penalty.r1=1 penalty.every=2", (fault){"D", FAIL_AT + FAIL_AT / 2 + 1, FAULT_LOSS, false},
                "D's loss, penalty or gradient");
}

/* G's loss through two unrolled D updates. */
TEST(a_non_finite_unrolled_g_loss) {
    check_fault("unrolled.steps=2", (fault){"G", FAIL_AT, FAULT_LOSS, false}, "G's loss or gradient");
}

/* Infinite gradients with a finite loss: Adam's update leaves G's weights NaN, which only the
 * check of the updated state sees (defect 2 of issue 21). */
TEST(an_update_that_poisons_the_weights) {
    check_fault("", (fault){"G", FAIL_AT, FAULT_GRADIENT, false}, "G's parameters");
}

static void zero_g_gradients(void *ctx, gt_optim *opt, double *loss) {
    (void)ctx, (void)loss;
    if (opt->cfg.name && strcmp(opt->cfg.name, "G") == 0) gt_fill(opt->params->flat_grad, 0.0f);
}

/* G's gradients vanish and plain SGD leaves its weights as they are: every loss stays finite,
 * and the run stops after health.stall_window steps naming G. */
TEST(a_frozen_g_stops_the_run) {
    char dir[64], buf[64];
    if (!cli_scratch_new(dir)) return;
    const char *run = cli_path(dir, "run");
    gt_error err;
    gt_gan_set_update_hook(zero_g_gradients, NULL);
    int rc = train(run, "optim.g.type=sgd optim.g.momentum=0 health.stall_window=5", TOTAL, NULL, &err);
    gt_gan_set_update_hook(NULL, NULL);
    CHECK(rc < 0 && strstr(err.msg, "G's parameters have not changed by a single bit over the last 5 steps"));
    CHECK(strcmp(meta_of(cli_path(run, "last-good.safetensors"), "step", buf, sizeof buf), "5") == 0);
    CHECK(train(cli_path(dir, "moving"), "optim.g.type=sgd optim.g.momentum=0 health.stall_window=1",
                TOTAL, NULL, &err) == 0);
    cli_scratch_remove(dir);
}

int main(void) {
    int rc;
    RUN_TESTS_INTO(rc, T(a_non_finite_d_loss), T(a_non_finite_g_loss_after_d_updated),
                   T(a_non_finite_lazy_penalty), T(a_non_finite_unrolled_g_loss),
                   T(an_update_that_poisons_the_weights), T(a_frozen_g_stops_the_run));
    gt_runtime_free();
    return rc;
}
