/* Gradient accumulation (train.accumulate = M): an update over M micro-batches of the batch.
 * Without batch statistics the update is the whole batch's, up to float32 summation order: the
 * mean loss of the batch is the mean of the micro-batches' mean losses, so its gradient is the
 * micro-batches' gradients added and scaled by 1/M (a WGAN-GP ring GAN: penalties and double
 * backward per micro-batch). With batch norm each micro-batch normalizes with its own
 * statistics (so the update differs from the whole batch's, as data-parallel ranks' do); a run
 * with accumulation resumes bit for bit. Combinations not split yet are refused by name. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gantry.h"
#include "test.h"
#include "train/trainer.h"
#include "train_support.h"

#define RING_GP "penalty.gp=10 loss.type=wgan model.g.width=32 model.d.width=32 train.batch=64"

/* One step, the whole batch against 2 and 4 micro-batches: the same gradients and losses to
 * float32 rounding of the different summation order (1e-5 of the largest gradient). */
TEST(micro_batches_give_the_batch_gradient_without_batch_statistics) {
    train_job whole = {.recipe = "configs/gan-ring.ini", .overrides = RING_GP, .steps = 1};
    train_job_run(&whole);
    static const char *const acc[] = {RING_GP " train.accumulate=2", RING_GP " train.accumulate=4"};
    for (int i = 0; i < 2; i++) {
        train_job part = {.recipe = "configs/gan-ring.ini", .overrides = acc[i], .steps = 1};
        train_job_run(&part);
        CHECK(whole.rc == 0 && part.rc == 0);
        if (whole.rc || part.rc) continue;
        double dg, dd;
        train_jobs_grad_diffs(&part, &whole, &dg, &dd);
        printf("  %s: G grads %.1e, D grads %.1e of the largest; losses %.3g %.3g vs %.3g %.3g\n",
               acc[i] + strlen(RING_GP) + 1, dg, dd, part.g_loss, part.d_loss, whole.g_loss,
               whole.d_loss);
        CHECK(dg <= 1e-5 && dd <= 1e-5);
        CHECK(fabs(part.g_loss - whole.g_loss) <= 1e-5 * fmax(1, fabs(whole.g_loss)));
        CHECK(fabs(part.d_loss - whole.d_loss) <= 1e-5 * fmax(1, fabs(whole.d_loss)));
        CHECK(!train_jobs_identical(&part, &whole)); /* the sums ran in another order */
        train_job_free(&part);
    }
    train_job_free(&whole);
}

static int configure(gt_config *c, const char *recipe, const char *set) {
    gt_error err = {{0}};
    if (train_config(c, recipe, set, &err) < 0) return fprintf(stderr, "  %s\n", err.msg), -1;
    return 0;
}

/* Trains `steps` steps (resuming from `from` when given), saves to `to` when given, and returns
 * G's and D's weights (malloc'd). */
static float *train_dcgan(const char *set, int steps, const char *from, const char *to, int64_t *n) {
    gt_config c;
    gt_error err = {{0}};
    gt_trainer t;
    if (configure(&c, "configs/dcgan-fmnist.ini", set) < 0 || gt_trainer_init(&t, &c, true, &err) < 0)
        return fprintf(stderr, "  %s\n", err.msg), NULL;
    if (from && gt_trainer_restore(&t, from, &err) < 0) fprintf(stderr, "  %s\n", err.msg);
    gt_step_stats st;
    for (int s = 0; s < steps; s++) CHECK(gt_trainer_step(&t, &st));
    if (to && gt_trainer_save(&t, to, &err) < 0) fprintf(stderr, "  %s\n", err.msg);
    *n = t.g.params.numel + t.d.params.numel;
    float *w = malloc((size_t)*n * sizeof *w);
    gt_copy_to(w, t.g.params.flat);
    gt_copy_to(w + t.g.params.numel, t.d.params.flat);
    gt_trainer_free(&t);
    return w;
}

/* Batch norm in G and D: 4 steps straight, and 2 + a resume + 2, give the same bytes. */
TEST(accumulated_dcgan_resumes_bit_for_bit) {
    if (!have_fashion_mnist()) {
        TEST_SKIP("needs %s (Debian package dataset-fashion-mnist)", FMNIST_PATH);
        return;
    }
    const char *set = "model.g.width=8 model.d.width=8 model.g.z_dim=16 train.batch=16 "
                      "train.accumulate=4 data.prefetch=false";
    char path[] = "/tmp/gantry-acc-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return;
    close(fd);
    int64_t n1 = 0, n2 = 0, n0 = 0;
    float *whole = train_dcgan(set, 4, NULL, NULL, &n1);
    float *first = train_dcgan(set, 2, NULL, path, &n0);
    float *resumed = train_dcgan(set, 2, path, NULL, &n2);
    CHECK(whole && resumed && n1 == n2 && memcmp(whole, resumed, (size_t)n1 * sizeof *whole) == 0);
    /* and the micro-batches matter: the whole batch at once trains otherwise */
    float *unsplit = train_dcgan("model.g.width=8 model.d.width=8 model.g.z_dim=16 train.batch=16 "
                                 "data.prefetch=false", 4, NULL, NULL, &n0);
    CHECK(unsplit && memcmp(whole, unsplit, (size_t)n1 * sizeof *whole) != 0);
    free(whole), free(first), free(resumed), free(unsplit);
    unlink(path);
}

TEST(unsupported_combinations_are_refused_by_name) {
    static const struct { const char *recipe, *set, *says; } bad[] = {
        {"configs/gan-ring.ini", "train.batch=64 train.accumulate=3", "train.accumulate"},
        {"configs/gan-ring.ini", "train.batch=64 train.accumulate=64", "at least 2"},
        {"configs/unrolled-ring.ini", "train.accumulate=2", "unrolled.steps"},
        {"configs/gan-ring.ini", "train.batch=64 train.accumulate=2 train.sync_bn=true", "train.sync_bn"},
        {"configs/gan-ring.ini",
         "data.dataset=png data.resolution=8 model.g.family=stylegan2 model.d.family=stylegan2 "
         "model.g.norm=none model.d.norm=none model.g.width=4 model.d.width=4 model.g.z_dim=4 "
         "train.batch=8 path_length.weight=2 path_length.batch_shrink=8 train.accumulate=2",
         "path_length.batch_shrink"},
        {"configs/progan-fmnist.ini", "train.accumulate=2", "progressive"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gt_config c;
        gt_error err = {{0}};
        gt_trainer t;
        if (configure(&c, bad[i].recipe, bad[i].set) < 0) {
            CHECK(false);
            continue;
        }
        bool failed = gt_trainer_init(&t, &c, false, &err) < 0;
        CHECK(failed && strstr(err.msg, bad[i].says));
        if (!failed) gt_trainer_free(&t);
        else if (!strstr(err.msg, bad[i].says)) fprintf(stderr, "  case %zu: %s\n", i, err.msg);
    }
}

int main(void) {
    RUN_TESTS(T(micro_batches_give_the_batch_gradient_without_batch_statistics),
              T(accumulated_dcgan_resumes_bit_for_bit), T(unsupported_combinations_are_refused_by_name));
}
