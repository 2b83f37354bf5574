/* Contexts: all runtime state in an object of its own, so two GANs train at once on two
 * threads, each bit-identical to the same run alone; grad mode, tapes and arenas never leak
 * from one context into another; an unknown backend is an error that lists the known ones. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "gantry.h"
#include "test.h"
#include "train_support.h"

/* A WGAN-GP ring GAN (double backward every step) and a small DCGAN on Fashion-MNIST. */
static train_job ring_gp_job(const char *backend) {
    return (train_job){.recipe = "configs/gan-ring.ini",
                       .overrides = "penalty.gp=10 loss.type=wgan model.g.width=32 "
                                    "model.d.width=32 train.batch=64 train.threads=1",
                       .steps = 40, .backend = backend};
}

static train_job dcgan_job(const char *backend) {
    return (train_job){.recipe = "configs/dcgan-fmnist.ini",
                       .overrides = "model.g.width=8 model.d.width=8 model.g.z_dim=16 "
                                    "train.batch=16 train.threads=1",
                       .steps = 5, .backend = backend};
}

TEST(two_contexts_train_two_gans_at_once_bit_identical_to_alone) {
    if (!have_fashion_mnist()) {
        TEST_SKIP("needs %s (Debian package dataset-fashion-mnist)", FMNIST_PATH);
        return;
    }
    train_job alone[2] = {ring_gp_job(NULL), dcgan_job(NULL)};
    for (int i = 0; i < 2; i++) train_job_run(&alone[i]);
    /* the same backend as the default context the runs alone used (GANTRY_BACKEND may set it) */
    const char *be = gt_backend_default();
    train_job both[2] = {ring_gp_job(be), dcgan_job(be)};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) CHECK(pthread_create(&th[i], NULL, train_job_thread, &both[i]) == 0);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 2; i++) {
        CHECK(alone[i].rc == 0 && both[i].rc == 0);
        CHECK(train_jobs_identical(&alone[i], &both[i]));
        CHECK(alone[i].g_loss == both[i].g_loss && alone[i].d_loss == both[i].d_loss);
        train_job_free(&alone[i]);
        train_job_free(&both[i]);
    }
}

/* The same job twice at once in two contexts: identical to each other (no shared scratch). */
TEST(the_same_run_twice_at_once_is_identical) {
    train_job j[2] = {ring_gp_job("cpu"), ring_gp_job("cpu")};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) CHECK(pthread_create(&th[i], NULL, train_job_thread, &j[i]) == 0);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    CHECK(j[0].rc == 0 && j[1].rc == 0 && train_jobs_identical(&j[0], &j[1]));
    for (int i = 0; i < 2; i++) train_job_free(&j[i]);
}

/* Grad mode, the tape and the step arena belong to the context that is current. */
TEST(state_belongs_to_its_context) {
    gt_error err;
    gt_ctx *a = gt_ctx_new("cpu", &err), *b = gt_ctx_new(NULL, &err);
    CHECK(a && b && strcmp(gt_ctx_backend(a), "cpu") == 0);
    gt_ctx *prev = gt_ctx_use(a);
    CHECK(gt_ctx_current() == a);
    int64_t s[1] = {4};
    gt_tensor *x = gt_full(1, s, 2.0f);
    gt_set_requires_grad(x, true);
    gt_tensor *y = gt_sum_all(gt_square(x));
    CHECK(gt_tape_length() == 2);
    gt_grad_set(false);
    gt_ctx_use(b);
    CHECK(gt_grad_enabled() && gt_tape_length() == 0 && gt_arena_used(gt_step_arena()) == 0);
    gt_ctx_use(a);
    CHECK(!gt_grad_enabled() && gt_tape_length() == 2);
    gt_grad_set(true);
    gt_tensor *g;
    gt_grad(1, &y, NULL, 1, &x, &g, false);
    CHECK(gt_item(gt_sum_all(g)) == 16.0f);
    gt_ctx_use(prev);
    CHECK(gt_ctx_current() == prev);
    gt_ctx_free(a);
    gt_ctx_free(b);
}

TEST(unknown_backend_lists_the_known_ones) {
    gt_error err = {{0}};
    CHECK(gt_ctx_new("tpu", &err) == NULL);
    CHECK(strstr(err.msg, "'tpu'") && strstr(err.msg, "cpu"));
    CHECK(gt_backend_check("cpu", &err) == 0);
    CHECK(gt_backend_count() >= 1 && strcmp(gt_backend_name(0), "cpu") == 0);
}

int main(void) {
    int rc;
    RUN_TESTS_INTO(rc, T(two_contexts_train_two_gans_at_once_bit_identical_to_alone),
                   T(the_same_run_twice_at_once_is_identical), T(state_belongs_to_its_context),
                   T(unknown_backend_lists_the_known_ones));
    gt_runtime_free();
    return rc;
}
