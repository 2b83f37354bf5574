/* The loss and penalty tricks through the real gantry binary: each switch, alone, changes the
 * training it is put in (so it is wired from the configuration to the step) and keeps the losses
 * finite; all of them combined train and resume bit for bit; a second critic is checkpointed;
 * lazy regularization corrects the optimizer; bad combinations fail with a message naming the
 * keys. The formulas themselves are checked against PyTorch in test_tricks.c. */
#include <stdlib.h>
#include <string.h>

#include "cli_support.h"
#include "test.h"

#define CKPT "checkpoint.safetensors"

static bool scratch(char *dir) {
    bool ok = cli_scratch_new(dir);
    CHECK(ok);
    return ok;
}

/* The tiny ring run for `steps` steps, quiet, no evaluation or samples, metrics every step. */
static void ring_run(cli_args *a, const char *out, int steps) {
    cli_args_tiny_ring(a, out);
    cli_args_add(a, "train.eval_every=0", "train.sample_every=0", "train.log_every=1",
                 "train.checkpoint_every=0", NULL);
    cli_args_addf(a, "train.steps=%d", steps);
}

/* Each trick, alone on the plain ring GAN: trains, stays finite, and changes the weights. */
TEST(each_trick_changes_training) {
    static const char *const tricks[][2] = {
        {"two-sided labels", "loss.real_label=0.9 loss.fake_label=0.1"},
        {"one-sided labels", "loss.real_label=0.9"},
        {"uniform labels", "loss.labels=uniform"},
        {"label flips", "loss.label_flip=0.2"},
        {"minimax", "loss.type=minimax"},
        {"lsgan", "loss.type=lsgan"},
        {"hinge", "loss.type=hinge"},
        {"wgan", "loss.type=wgan"},
        {"wgan drift", "loss.type=wgan loss.drift=0.001"},
        {"ragan", "loss.type=ragan"},
        {"rpgan", "loss.type=rpgan"},
        {"wgan-gp", "penalty.gp=10"},
        {"one-sided gp", "penalty.gp=10 penalty.gp_side=one"},
        {"dragan", "penalty.dragan=10"},
        {"r1", "penalty.r1=1"},
        {"r2", "penalty.r2=1"},
        {"lazy r1", "penalty.r1=1 penalty.every=2"},
        {"instance noise", "noise.sigma=0.2"},
        {"noise on half", "noise.sigma=0.2 noise.fraction=0.5 noise.anneal=exponential"},
        {"feature matching", "loss.feature_matching=l2"},
        {"feature matching alone", "loss.feature_matching=l1 loss.adversarial=false"},
        {"second critic", "model.d2.family=mlp model.d2.width=8 model.d2.depth=1"},
        {"d2gan", "loss.type=d2gan model.d2.family=mlp model.d2.width=8 model.d2.depth=1"},
        {"unrolled exact", "unrolled.steps=2"},
        {"unrolled surrogate", "unrolled.steps=2 unrolled.mode=surrogate"},
        {"unrolled fresh batches", "unrolled.steps=2 unrolled.fresh_batches=true"},
        {"unrolled sgd", "unrolled.steps=2 optim.d.type=sgd"},
    };
    char dir[64];
    if (!scratch(dir)) return;
    cli_args plain;
    ring_run(&plain, cli_path(dir, "plain"), 3);
    bool plain_ok = cli_run_ok(&plain);
    for (size_t i = 0; plain_ok && i < sizeof tricks / sizeof tricks[0]; i++) {
        char run[128];
        snprintf(run, sizeof run, "%s/trick%02zu", dir, i);
        cli_args a;
        ring_run(&a, run, 3);
        cli_args_add_words(&a, tricks[i][1]);
        bool ok = cli_run_ok(&a);
        char metrics[160], ckpt[160], plain_ckpt[160];
        snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", run);
        snprintf(ckpt, sizeof ckpt, "%s/" CKPT, run);
        snprintf(plain_ckpt, sizeof plain_ckpt, "%s/plain/" CKPT, dir);
        bool finite = ok && cli_losses_finite(metrics);
        bool changed = ok && !cli_same_bytes(ckpt, plain_ckpt);
        if (!finite || !changed) fprintf(stderr, "  trick '%s' (%s): finite %d, changed %d\n",
                                         tricks[i][0], tricks[i][1], finite, changed);
        CHECK(finite && changed);
        gt_test_record(tricks[i][0], finite && changed);
    }
    cli_scratch_remove(dir);
}

/* Every trick at once on a small DCGAN: random flipped targets, annealed noise on half of each
 * batch, WGAN-GP + DRAGAN + R1 lazily every 2 D steps with a cosine decay, feature matching
 * added to the adversarial loss, 2 D steps per G step and a half-resolution second critic.
 * The schedules are given their own lengths: by default they span train.steps, which a
 * resume to a later step changes. */
static void combined_args(cli_args *a, const char *png, const char *out, int steps) {
    cli_args_init(a);
    cli_args_add(a, "train", "--config", "configs/dcgan-fmnist.ini", "--out", out, "--quiet",
                 "data.dataset=png", "model.g.width=4", "model.d.width=4", "model.d.norm=layer",
                 "model.g.z_dim=16", "train.batch=8", "train.ema_start=2", "train.log_every=1",
                 "train.sample_every=0", "train.eval_every=0", "train.checkpoint_every=0",
                 "train.threads=2", "train.d_steps=2", "loss.labels=uniform", "loss.label_flip=0.1",
                 "noise.sigma=0.3", "noise.fraction=0.5", "noise.steps=10", "penalty.gp=1",
                 "penalty.dragan=1", "penalty.r1=1", "penalty.every=2", "penalty.decay=cosine",
                 "penalty.decay_steps=8",
                 "loss.feature_matching=l2", "loss.feature_matching_weight=0.5",
                 "model.d2.family=mlp", "model.d2.view=half", "model.d2.width=8",
                 "model.d2.depth=1", "model.d2.norm=none", NULL);
    cli_args_addf(a, "data.path=%s", png);
    cli_args_addf(a, "train.steps=%d", steps);
}

TEST(combined_tricks_resume_bit_exact) {
    char dir[64];
    if (!scratch(dir)) return;
    const char *png = cli_png_folder(dir, 48, 28);
    const char *whole = cli_path(dir, "whole"), *split = cli_path(dir, "split");
    cli_args one, first, again;
    combined_args(&one, png, whole, 8);
    combined_args(&first, png, split, 5);
    cli_args_init(&again);
    cli_args_add(&again, "train", "--resume", split, "--quiet", "train.steps=8", NULL);
    if (cli_run_ok(&one) && cli_run_ok(&first) && cli_run_ok(&again)) {
        CHECK(cli_same_bytes(cli_path(whole, CKPT), cli_path(split, CKPT)));
        CHECK(cli_losses_finite(cli_path(whole, "metrics.jsonl")));
        char *m = cli_read_file(cli_path(whole, "metrics.jsonl"), NULL);
        CHECK(m && strstr(m, "\"penalty\": ") && strstr(m, "\"noise_sigma\": "));
        free(m);
        cli_args info;
        cli_args_init(&info);
        cli_args_add(&info, "info", cli_path(whole, CKPT), NULL);
        cli_result r;
        cli_run(&info, &r);
        CHECK_RUN(&info, &r, r.code == 0 && cli_says(&r, "d2.") && cli_says(&r, "opt_d2."));
        cli_result_free(&r);
    }
    cli_scratch_remove(dir);
}

TEST(d2gan_ring_resume_bit_exact) {
    char dir[64];
    if (!scratch(dir)) return;
    const char *whole = cli_path(dir, "whole"), *split = cli_path(dir, "split");
    cli_args one, first, again;
    ring_run(&one, whole, 20);
    ring_run(&first, split, 9);
    const char *d2 = "loss.type=d2gan loss.d2gan_alpha=0.5 model.d2.family=mlp model.d2.width=8";
    cli_args_add_words(&one, d2);
    cli_args_add_words(&first, d2);
    cli_args_init(&again);
    cli_args_add(&again, "train", "--resume", split, "--quiet", "train.steps=20", NULL);
    if (cli_run_ok(&one) && cli_run_ok(&first) && cli_run_ok(&again))
        CHECK(cli_same_bytes(cli_path(whole, CKPT), cli_path(split, CKPT)));
    cli_scratch_remove(dir);
}

/* Unrolling with fresh batches draws from the data loader inside G's update: the data position
 * in the checkpoint must account for them. */
TEST(unrolled_ring_resume_bit_exact) {
    char dir[64];
    if (!scratch(dir)) return;
    const char *whole = cli_path(dir, "whole"), *split = cli_path(dir, "split");
    cli_args one, first, again;
    ring_run(&one, whole, 12);
    ring_run(&first, split, 5);
    const char *u = "unrolled.steps=3 unrolled.fresh_batches=true noise.sigma=0.1 noise.steps=20 "
                    "loss.labels=uniform";
    cli_args_add_words(&one, u);
    cli_args_add_words(&first, u);
    cli_args_init(&again);
    cli_args_add(&again, "train", "--resume", split, "--quiet", "train.steps=12", NULL);
    if (cli_run_ok(&one) && cli_run_ok(&first) && cli_run_ok(&again))
        CHECK(cli_same_bytes(cli_path(whole, CKPT), cli_path(split, CKPT)));
    cli_scratch_remove(dir);
}

/* StyleGAN2's lazy regularization: D's lr becomes lr k/(k+1) (metrics.jsonl's lr_d). */
TEST(lazy_penalty_corrects_the_optimizer) {
    char dir[64];
    if (!scratch(dir)) return;
    const char *run = cli_path(dir, "run");
    cli_args a;
    ring_run(&a, run, 2);
    cli_args_add(&a, "penalty.r1=1", "penalty.every=4", "optim.d.lr=1e-3", NULL);
    if (cli_run_ok(&a)) {
        char *m = cli_read_file(cli_path(run, "metrics.jsonl"), NULL);
        CHECK(m && strstr(m, "\"lr_d\": 0.0008,"));
        free(m);
    }
    cli_scratch_remove(dir);
}

TEST(bad_combinations_name_the_keys) {
    char dir[64];
    if (!scratch(dir)) return;
    const char *run = cli_path(dir, "run");
    cli_args a;
    ring_run(&a, run, 2);
    cli_args_add(&a, "loss.type=d2gan", NULL);
    cli_run_fails_saying(&a, "d2gan", "model.d2.family", NULL);
    ring_run(&a, run, 2);
    cli_args_add(&a, "loss.type=hinge", "loss.real_label=0.9", NULL);
    cli_run_fails_saying(&a, "real_label", "hinge", NULL);
    ring_run(&a, run, 2);
    cli_args_add(&a, "loss.adversarial=false", NULL);
    cli_run_fails_saying(&a, "loss.adversarial", "loss.feature_matching", NULL);
    ring_run(&a, run, 2);
    cli_args_add(&a, "model.d2.family=mlp", "model.d2.view=half", NULL);
    cli_run_fails_saying(&a, "model.d2.view", "image", NULL);
    ring_run(&a, run, 2);
    cli_args_add(&a, "loss.labels=uniform", "loss.real_label_min=1.2", "loss.real_label_max=0.7", NULL);
    cli_run_fails_saying(&a, "real_label_min", "maximum", NULL);
    ring_run(&a, run, 2);
    cli_args_add(&a, "loss.type=softmax", NULL);
    cli_run_fails_saying(&a, "softmax", "bce|minimax|lsgan|hinge|wgan|ragan|rpgan|d2gan", NULL);
    ring_run(&a, run, 2);
    cli_args_add(&a, "penalty.gp=-1", NULL);
    cli_run_fails_saying(&a, "[penalty] gp", "'-1'", NULL);
    ring_run(&a, run, 2);
    cli_args_add(&a, "noise.fraction=1.5", NULL);
    cli_run_fails_saying(&a, "[noise] fraction", "'1.5'", NULL);
    ring_run(&a, run, 2);
    cli_args_add(&a, "penalty.every=0", NULL);
    cli_run_fails_saying(&a, "[penalty] every", "'0'", NULL);
    cli_scratch_remove(dir);
}

/* A gradient penalty with batch norm in D trains, with a warning that says what to change. */
TEST(penalty_with_batch_norm_warns) {
    char dir[64];
    if (!scratch(dir)) return;
    const char *run = cli_path(dir, "run");
    cli_args a;
    ring_run(&a, run, 2);
    cli_args_add(&a, "penalty.gp=10", "model.d.norm=batch", NULL);
    cli_result r;
    cli_run(&a, &r);
    CHECK_RUN(&a, &r, r.code == 0 && cli_says(&r, "warning") && cli_says(&r, "batch norm") &&
                          cli_says(&r, "model.d.norm = layer"));
    cli_result_free(&r);
    cli_scratch_remove(dir);
}

int main(void) {
    RUN_TESTS(T(each_trick_changes_training), T(combined_tricks_resume_bit_exact),
              T(d2gan_ring_resume_bit_exact), T(unrolled_ring_resume_bit_exact),
              T(lazy_penalty_corrects_the_optimizer),
              T(bad_combinations_name_the_keys), T(penalty_with_batch_norm_warns));
}
