/* Data-efficient training in the trainer (issue 19): ADA's p resumes bit for bit from the middle
 * of an adjustment window, augmentation changes what D trains on, data.limit and data.holdout
 * give disjoint class-balanced subsets, and the overfitting monitor leaves no trace. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* mkstemp */
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"
#include "train/trainer.h"
#include "train_support.h"

#define TINY "model.g.width=8 model.d.width=8 model.g.z_dim=16 train.batch=16 data.prefetch=false"

typedef struct {
    float *w;       /* G's then D's parameters and buffers */
    int64_t n;
    gt_augment_spec aug;
} trained;

/* steps of `set` on the default recipe, from checkpoint `from` and to `to` when given; with
 * `monitor`, an overfitting reading after every step. */
static trained train(const char *set, int steps, const char *from, const char *to, bool monitor) {
    trained r = {0};
    gt_config c;
    gt_error err = {{0}};
    gt_trainer t;
    if (train_config(&c, "configs/dcgan-fmnist.ini", set, &err) < 0 ||
        gt_trainer_init(&t, &c, true, &err) < 0) {
        fprintf(stderr, "  %s\n", err.msg);
        return r;
    }
    if (from && gt_trainer_restore(&t, from, &err) < 0) fprintf(stderr, "  %s\n", err.msg);
    gt_step_stats st;
    for (int s = 0; s < steps; s++) {
        CHECK(gt_trainer_step(&t, &st));
        if (monitor) {
            gt_trainer_monitor(&t, &t.overfit);
            CHECK(t.overfit.valid);
        }
    }
    if (to && gt_trainer_save(&t, to, &err) < 0) fprintf(stderr, "  %s\n", err.msg);
    r.n = t.g.params.numel + t.d.params.numel;
    r.w = malloc((size_t)r.n * sizeof *r.w);
    gt_copy_to(r.w, t.g.params.flat);
    gt_copy_to(r.w + t.g.params.numel, t.d.params.flat);
    r.aug = t.gan.augment;
    gt_trainer_free(&t);
    return r;
}

static bool same(const trained *a, const trained *b) {
    return a->w && b->w && a->n == b->n && memcmp(a->w, b->w, (size_t)a->n * sizeof *a->w) == 0;
}

TEST(ada_resumes_bit_for_bit_inside_a_window) {
    if (!have_fashion_mnist()) {
        TEST_SKIP("needs %s", FMNIST_PATH);
        return;
    }
    /* p moves by 16 x 4 / 500 = 0.128 every 4 D steps: after 7 steps it has moved once and
     * the resume at step 3 falls in the middle of the first window */
    const char *set = TINY " augment.policy=ada augment.p=0.3 augment.ada_kimg=0.5 augment.interval=4";
    char path[] = "/tmp/gantry-ada-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return;
    close(fd);
    trained whole = train(set, 7, NULL, NULL, false), first = train(set, 3, NULL, path, false);
    trained resumed = train(set, 4, path, NULL, false);
    CHECK(first.aug.window_steps == 3 && first.aug.p == 0.3);
    CHECK(whole.aug.p != 0.3 && fabs(fabs(whole.aug.p - 0.3) - 0.128) < 1e-12);
    CHECK(same(&whole, &resumed));
    CHECK(resumed.aug.p == whole.aug.p && resumed.aug.window_steps == whole.aug.window_steps &&
          resumed.aug.sign_sum == whole.aug.sign_sum && resumed.aug.last_rt == whole.aug.last_rt);
    printf("  ADA: p 0.3 -> %.3f (r_t %.3f), 3 steps + resume + 4 = 7 steps: %s\n", whole.aug.p,
           whole.aug.last_rt, same(&whole, &resumed) ? "bit-identical" : "DIFFERENT");
    /* augmentation is on: the same run without it trains otherwise */
    trained plain = train(TINY, 7, NULL, NULL, false);
    trained diff = train(TINY " augment.policy=diffaugment", 7, NULL, NULL, false);
    CHECK(!same(&plain, &whole) && !same(&plain, &diff));
    free(whole.w), free(first.w), free(resumed.w), free(plain.w), free(diff.w);
    unlink(path);
}

TEST(the_overfitting_monitor_leaves_no_trace) {
    if (!have_fashion_mnist()) {
        TEST_SKIP("needs %s", FMNIST_PATH);
        return;
    }
    /* spectral norm in D: its u would advance on every forward the monitor makes */
    const char *set = TINY " data.holdout=64 data.limit=256 model.d.spectral_norm=true";
    trained quiet = train(set, 3, NULL, NULL, false), watched = train(set, 3, NULL, NULL, true);
    CHECK(same(&quiet, &watched));
    free(quiet.w), free(watched.w);
    /* fewer training images than held-out ones and than the monitor's 256: it reads 96 of each
     * (whole batches of 16), not past the training set's end */
    trained few = train(TINY " data.holdout=300 data.limit=100", 2, NULL, NULL, true);
    CHECK(few.w != NULL);
    free(few.w);
}

/* ---- data.limit and data.holdout --------------------------------------------------------------- */

static int class_count(const gt_dataset *ds, int k) {
    int n = 0;
    for (int64_t i = 0; i < ds->n; i++) n += ds->labels[i] == k;
    return n;
}

/* Whether example i of a appears in b (points compared exactly). */
static bool contains(const gt_dataset *b, const float *x) {
    for (int64_t j = 0; j < b->n; j++)
        if (b->x[2 * j] == x[0] && b->x[2 * j + 1] == x[1]) return true;
    return false;
}

TEST(limit_and_holdout_are_disjoint_and_class_balanced) {
    gt_error err = {{0}};
    gt_dataset *ring = gt_data_make_mixture("ring", 400, 0, 0, 7, &err), *train, *held;
    CHECK(ring != NULL);
    if (!ring) return;
    CHECK(gt_data_split(ring, 20, 44, 3, &train, &held, &err) == 0);
    CHECK(train->n == 44 && held->n == 20 && train->n_classes == 8);
    for (int k = 0; k < 8; k++) {
        CHECK(class_count(held, k) == (k < 4 ? 3 : 2));  /* 20 = 8 x 2 + 4 */
        CHECK(class_count(train, k) == (k < 4 ? 6 : 5)); /* 44 = 8 x 5 + 4 */
    }
    bool disjoint = true;
    for (int64_t i = 0; i < held->n; i++) disjoint = disjoint && !contains(train, held->x + 2 * i);
    CHECK(disjoint);
    /* the same seed, the same subsets; another seed, others */
    gt_dataset *train2, *held2, *train3, *held3;
    CHECK(gt_data_split(ring, 20, 44, 3, &train2, &held2, &err) == 0);
    CHECK(gt_data_split(ring, 20, 44, 4, &train3, &held3, &err) == 0);
    CHECK(memcmp(train->x, train2->x, (size_t)train->n * 2 * sizeof(float)) == 0);
    CHECK(memcmp(held->x, held3->x, (size_t)held->n * 2 * sizeof(float)) != 0);
    /* limit 0: every example not held out */
    gt_dataset *rest, *held4;
    CHECK(gt_data_split(ring, 20, 0, 3, &rest, &held4, &err) == 0 && rest->n == 380);
    /* more than a class holds: an error naming the key */
    gt_dataset *t5, *h5;
    CHECK(gt_data_split(ring, 0, 399, 3, &t5, &h5, &err) == -1 && t5 == NULL);
    CHECK(strstr(err.msg, "data.limit") != NULL);
    gt_dataset *list[] = {ring, train, held, train2, held2, train3, held3, rest, held4};
    for (size_t i = 0; i < sizeof list / sizeof *list; i++) gt_dataset_free(list[i]);
}

int main(void) {
    RUN_TESTS(T(ada_resumes_bit_for_bit_inside_a_window), T(the_overfitting_monitor_leaves_no_trace),
              T(limit_and_holdout_are_disjoint_and_class_balanced));
}
