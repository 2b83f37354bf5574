/* Data-parallel ranks against gradient accumulation: K ranks, each training its shard of every
 * batch and exchanging gradients, buffers and losses (one all-gather per update, combined in
 * rank order), end bit-identical to one process with train.accumulate = K. The ranks here are
 * threads, each in a context of its own, joined by an all-gather over shared memory: the same
 * gt_comm contract MPI fills in `gantry train` under mpirun (tests/mpi/, built with MPI=1). */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "gantry.h"
#include "test.h"
#include "train_support.h"

/* ---- an all-gather between threads --------------------------------------------------------- */

typedef struct {
    pthread_barrier_t barrier;
    float *scratch;
    int64_t cap;
    int size;
} thread_group;

typedef struct {
    thread_group *group;
    gt_comm comm;
} thread_rank;

static int thread_allgather(void *ctx, const float *in, int64_t n, float *out, gt_error *err) {
    thread_rank *r = ctx;
    thread_group *g = r->group;
    pthread_barrier_wait(&g->barrier);
    if (r->comm.rank == 0 && g->cap < n * g->size) {
        free(g->scratch);
        g->cap = n * g->size;
        g->scratch = malloc((size_t)g->cap * sizeof *g->scratch);
    }
    pthread_barrier_wait(&g->barrier);
    if (!g->scratch) return gt_error_set(err, "out of memory (all-gather)");
    memcpy(g->scratch + (int64_t)r->comm.rank * n, in, (size_t)n * sizeof *in);
    pthread_barrier_wait(&g->barrier);
    memcpy(out, g->scratch, (size_t)(n * g->size) * sizeof *out);
    pthread_barrier_wait(&g->barrier);
    return 0;
}

/* Block j of every rank's in [size * n] to rank j: rank r's block for us lands in out block r. */
static int thread_alltoall(void *ctx, const float *in, int64_t n, float *out, gt_error *err) {
    thread_rank *r = ctx;
    thread_group *g = r->group;
    int64_t all = n * g->size * g->size;
    pthread_barrier_wait(&g->barrier);
    if (r->comm.rank == 0 && g->cap < all) {
        free(g->scratch);
        g->cap = all;
        g->scratch = malloc((size_t)g->cap * sizeof *g->scratch);
    }
    pthread_barrier_wait(&g->barrier);
    if (!g->scratch) return gt_error_set(err, "out of memory (all-to-all)");
    memcpy(g->scratch + (int64_t)r->comm.rank * n * g->size, in, (size_t)(n * g->size) * sizeof *in);
    pthread_barrier_wait(&g->barrier);
    for (int src = 0; src < g->size; src++)
        memcpy(out + (int64_t)src * n, g->scratch + ((int64_t)src * g->size + r->comm.rank) * n,
               (size_t)n * sizeof *out);
    pthread_barrier_wait(&g->barrier);
    return 0;
}

/* ---- runs ------------------------------------------------------------------------------------ */

/* k thread ranks of one run, each in a context of its own; `slices` adds the all-to-all. */
static void run_ranks(const char *recipe, const char *set, int k, int steps, bool slices,
                      bool sync_bn, train_job *runs) {
    thread_group g = {.size = k};
    pthread_barrier_init(&g.barrier, NULL, (unsigned)k);
    thread_rank ranks[4];
    pthread_t th[4];
    for (int r = 0; r < k; r++) {
        ranks[r] = (thread_rank){&g, {r, k, thread_allgather, slices ? thread_alltoall : NULL, &ranks[r]}};
        runs[r] = (train_job){.recipe = recipe, .overrides = set, .steps = steps, .backend = "cpu",
                              .comm = &ranks[r].comm, .sync_bn = sync_bn};
        pthread_create(&th[r], NULL, train_job_thread, &runs[r]);
    }
    for (int r = 0; r < k; r++) pthread_join(th[r], NULL);
    pthread_barrier_destroy(&g.barrier);
    free(g.scratch);
}

/* K threads as ranks on `set`, against one process with train.accumulate = K. */
static void ranks_match_accumulation_via(const char *what, const char *recipe, const char *set,
                                         int k, int steps, bool slices) {
    char acc[512];
    snprintf(acc, sizeof acc, "%s train.accumulate=%d", set, k);
    train_job one = {.recipe = recipe, .overrides = acc, .steps = steps, .backend = "cpu"};
    train_job_run(&one);
    train_job runs[4];
    run_ranks(recipe, set, k, steps, slices, false, runs);
    bool same = one.rc == 0;
    for (int r = 0; r < k; r++) same = same && runs[r].rc == 0 && train_jobs_identical(&runs[r], &one);
    printf("  %-34s %d ranks = accumulate %d after %d steps (%s): %s\n", what, k, k, steps,
           slices ? "reduced by slices" : "all-gathered", same ? "bit-identical" : "DIFFERENT");
    CHECK(same);
    CHECK(one.rc == 0 && runs[0].g_loss == one.g_loss && runs[0].d_loss == one.d_loss);
    train_job_free(&one);
    for (int r = 0; r < k; r++) train_job_free(&runs[r]);
}

/* Both exchanges: the gradients all-gathered, and reduced by slices (all-to-all). */
static void ranks_match_accumulation(const char *what, const char *recipe, const char *set, int k,
                                     int steps) {
    ranks_match_accumulation_via(what, recipe, set, k, steps, false);
    ranks_match_accumulation_via(what, recipe, set, k, steps, true);
}

TEST(ring_mlp_ranks_equal_accumulation) {
    ranks_match_accumulation("ring MLP", "configs/gan-ring.ini",
                             "model.g.width=32 model.d.width=32 train.batch=64 train.threads=1", 2, 6);
}

TEST(dcgan_wgan_gp_ranks_equal_accumulation) {
    if (!have_fashion_mnist()) {
        TEST_SKIP("needs %s", FMNIST_PATH);
        return;
    }
    ranks_match_accumulation("DCGAN-28, WGAN-GP", "configs/wgan-gp-fmnist.ini",
                             "model.g.width=8 model.d.width=8 model.g.z_dim=16 train.batch=16 "
                             "train.threads=1",
                             2, 3);
}

TEST(dcgan_batch_norm_ranks_equal_accumulation) {
    if (!have_fashion_mnist()) {
        TEST_SKIP("needs %s", FMNIST_PATH);
        return;
    }
    ranks_match_accumulation("DCGAN-28, batch norm in G and D", "configs/dcgan-fmnist.ini",
                             "model.g.width=8 model.d.width=8 model.g.z_dim=16 train.batch=16 "
                             "train.threads=1",
                             2, 3);
    /* augmentation draws for the whole batch, each shard taking its rows; ADA's p moves */
    ranks_match_accumulation("DCGAN-28, ADA (p moving)", "configs/dcgan-fmnist.ini",
                             "model.g.width=8 model.d.width=8 model.g.z_dim=16 train.batch=16 "
                             "train.threads=1 augment.policy=ada augment.p=0.5 "
                             "augment.ada_kimg=0.5 augment.interval=2",
                             2, 3);
    ranks_match_accumulation("DCGAN-28, DiffAugment, R1", "configs/dcgan-fmnist.ini",
                             "model.g.width=8 model.d.width=8 model.g.z_dim=16 train.batch=16 "
                             "train.threads=1 augment.policy=diffaugment penalty.r1=1",
                             2, 2);
    ranks_match_accumulation("DCGAN-28, 4 ranks", "configs/dcgan-fmnist.ini",
                             "model.g.width=8 model.d.width=8 model.g.z_dim=16 train.batch=16 "
                             "train.threads=1",
                             4, 2);
}

TEST(stylegan2_ranks_equal_accumulation) {
    /* noise and style mixing drawn inside G's forward, path length every step (its probes, its
     * running mean), R1, lazy regularization off and on */
    char set[1024], lazy[1100];
    if (!tiny_stylegan2_overrides(set, sizeof set)) return;
    strcat(set, " model.g.style_mixing=0.9");
    ranks_match_accumulation("StyleGAN2, path length, R1", NULL, set, 2, 3);
    snprintf(lazy, sizeof lazy, "%s penalty.every=2 path_length.every=2", set);
    ranks_match_accumulation("StyleGAN2, lazy R1 and path length", NULL, lazy, 2, 4);
}

/* Per-sample draws by rows: shards that draw their rows from the same state get the whole
 * batch's draw between them, and end in the same state as the whole draw. */
TEST(per_sample_draws_split_by_rows) {
    int64_t whole[3] = {6, 3, 5}, part[3] = {2, 3, 5}, n = 6 * 15;
    gt_rng one = gt_rng_seed(7);
    one.counter = 3;
    float want[90], got[90];
    gt_copy_to(want, gt_rand_normal(&one, 3, whole, 0.5f, 2.0f));
    bool same_state = true;
    for (int m = 0; m < 3; m++) { /* rows 2m, 2m + 1: starts at lanes 0, 2, 0 of a block */
        gt_rng r = gt_rng_seed(7);
        r.counter = 3;
        gt_copy_to(got + m * 30, gt_rand_normal_rows(&r, 2 * m, 6, 3, part, 0.5f, 2.0f));
        same_state = same_state && r.key == one.key && r.counter == one.counter;
    }
    CHECK(same_state);
    CHECK(memcmp(want, got, (size_t)n * sizeof *want) == 0);
    int64_t odd[2] = {1, 3}; /* 3 values a row: rows start mid-block at every lane */
    gt_rng a = gt_rng_seed(1), b = gt_rng_seed(1);
    float w5[15], g5[15];
    gt_copy_to(w5, gt_rand_normal(&a, 2, (int64_t[]){5, 3}, 0, 1));
    for (int r = 0; r < 5; r++) {
        gt_rng c = b;
        gt_copy_to(g5 + 3 * r, gt_rand_normal_rows(&c, r, 5, 2, odd, 0, 1));
        if (r == 4) CHECK(c.counter == a.counter);
    }
    CHECK(memcmp(w5, g5, sizeof w5) == 0);
    gt_step_end();
}

/* ---- synchronized batch norm ----------------------------------------------------------------- */

#define TINY_DCGAN "model.g.width=8 model.d.width=8 model.g.z_dim=16 train.batch=16 train.threads=1"

/* The largest difference between a and b over G's gradients and over D's, each relative to
 * that network's largest gradient. */
static double grads_diff(const train_job *a, const train_job *b) {
    double g, d;
    train_jobs_grad_diffs(a, b, &g, &d);
    return fmax(g, d);
}

/* K thread ranks with synchronized batch norm against one process on the whole batch (no
 * accumulation), after `steps` steps: the largest gradient difference (G's and D's, scaled by
 * each one's largest) and the largest weight difference (scaled by the largest weight). */
static void synced_vs_whole_batch(const char *set, int k, int steps, bool sync_bn, double *grads,
                                  double *weights) {
    train_job one = {.recipe = "configs/dcgan-fmnist.ini", .overrides = set, .steps = steps,
                     .backend = "cpu"};
    train_job_run(&one);
    train_job runs[4];
    run_ranks(one.recipe, set, k, steps, false, sync_bn, runs);
    *grads = *weights = INFINITY;
    if (one.rc == 0 && runs[0].rc == 0) {
        *grads = grads_diff(&runs[0], &one);
        *weights = max_diff_scaled(runs[0].weights, one.weights, 0, one.n_weights);
    }
    for (int r = 1; r < k; r++) /* every rank holds the same state */
        CHECK(runs[r].rc == 0 && train_jobs_identical(&runs[r], &runs[0]));
    train_job_free(&one);
    for (int r = 0; r < k; r++) train_job_free(&runs[r]);
}

/* Tolerance of one step's gradients. The two runs do the same arithmetic in a different order:
 * per-channel sums over 8 x 14 x 14 values per rank, added over the ranks, against one pass over
 * 16 x 14 x 14 (the fused kernel); 2 ranks' partial sums of the convolutions' weight gradients
 * against one GEMM over the whole batch. Each such sum of n float32 terms carries a rounding
 * error of about sqrt(n) u relative to the sum of the terms' magnitudes (u = 2^-24 = 6e-8,
 * n up to 3136: ~3e-6), and about ten layers compose it, backward and (for the penalty) double
 * backward: 1e-4 of the largest gradient leaves a factor of ~3 over that. A batch-norm
 * mistake (shard statistics instead of the whole batch's) moves the gradients by O(1) of their
 * size: the unsynchronized run is checked to be that far away. */
#define SYNCED_GRAD_TOL 1e-4

static void check_synced(const char *what, const char *set) {
    double g_sync, w_sync, g_shard, w_shard;
    synced_vs_whole_batch(set, 2, 1, true, &g_sync, &w_sync);
    synced_vs_whole_batch(set, 2, 1, false, &g_shard, &w_shard);
    printf("  %-34s 2 ranks vs the whole batch, step 1 gradients: synced %.2e, per-shard %.2e "
           "(of the largest)\n", what, g_sync, g_shard);
    CHECK(g_sync <= SYNCED_GRAD_TOL);
    CHECK(g_shard > 100 * SYNCED_GRAD_TOL); /* the test tells the two apart */
    /* Weights after 4 steps of SGD (lr 0.01, momentum 0.9): each update is lr times a gradient
     * within the tolerance above, so the weights stay within a few lr x SYNCED_GRAD_TOL x the
     * largest gradient, far below 1e-4 of the largest weight. */
    char sgd[512];
    snprintf(sgd, sizeof sgd, "%s optim.g.type=sgd optim.d.type=sgd optim.g.lr=0.01 "
             "optim.d.lr=0.01", set);
    synced_vs_whole_batch(sgd, 2, 4, true, &g_sync, &w_sync);
    printf("  %-34s after 4 SGD steps: weights within %.2e of the largest\n", what, w_sync);
    CHECK(w_sync <= 1e-4);
    /* Adam's first steps move each weight by about lr = 2e-4 whatever the gradient's size, so a
     * gradient that is 0 but for rounding (a convolution's bias before batch norm) moves its
     * weight by up to 2 lr per step either way: 4 steps, 1.6e-3 of the largest weight (1). */
    synced_vs_whole_batch(set, 2, 4, true, &g_sync, &w_sync);
    printf("  %-34s after 4 Adam steps: weights within %.2e of the largest\n", what, w_sync);
    CHECK(w_sync <= 1.6e-3);
}

TEST(synced_batch_norm_matches_whole_batch) {
    if (!have_fashion_mnist()) {
        TEST_SKIP("needs %s", FMNIST_PATH);
        return;
    }
    check_synced("DCGAN-28, batch norm in G and D", TINY_DCGAN);
    /* the penalty differentiates through D's synchronized batch norm twice */
    check_synced("DCGAN-28 + WGAN-GP through D's BN", TINY_DCGAN " loss.type=wgan penalty.gp=10");
}

/* all_sum: every rank gets the rank-ordered sum; its gradients, first and second order, are the
 * sums over the ranks. */
typedef struct {
    thread_rank *rank;
    float y[3], dx[3], ddx[3];
} all_sum_run;

static void *all_sum_thread(void *arg) {
    all_sum_run *a = arg;
    gt_error err;
    gt_ctx *ctx = gt_ctx_new("cpu", &err), *prev = gt_ctx_use(ctx);
    gt_ranks_use(&a->rank->comm);
    float r = (float)a->rank->comm.rank;
    int64_t n = 3;
    gt_tensor *x = gt_from_data(1, &n, (float[]){1 + r, 2 * r, -r});
    x->requires_grad = true;
    gt_tensor *y = gt_all_sum(x); /* x_0 + x_1 */
    gt_copy_to(a->y, y);
    /* L_r = sum((r + 1) y^2), L = L_0 + L_1: dL/dx_r = (2 + 4) y = 6 y on both ranks */
    gt_tensor *loss = gt_sum_all(gt_mul_scalar(gt_square(y), r + 1)), *dx, *ddx;
    gt_grad(1, &loss, NULL, 1, &x, &dx, true);
    gt_copy_to(a->dx, dx);
    /* H_r = sum(dx_r) = sum(6 y), H = 12 sum(y): dH/dx_r = 12 */
    gt_tensor *h = gt_sum_all(dx);
    gt_grad(1, &h, NULL, 1, &x, &ddx, false);
    gt_copy_to(a->ddx, ddx);
    gt_ranks_use(NULL);
    gt_step_end();
    gt_ctx_use(prev);
    gt_ctx_free(ctx);
    return NULL;
}

TEST(all_sum_and_its_gradient) {
    thread_group g = {.size = 2};
    pthread_barrier_init(&g.barrier, NULL, 2);
    thread_rank ranks[2];
    all_sum_run runs[2];
    pthread_t th[2];
    for (int r = 0; r < 2; r++) {
        ranks[r] = (thread_rank){&g, {r, 2, thread_allgather, NULL, &ranks[r]}};
        runs[r] = (all_sum_run){.rank = &ranks[r]};
        pthread_create(&th[r], NULL, all_sum_thread, &runs[r]);
    }
    for (int r = 0; r < 2; r++) pthread_join(th[r], NULL);
    pthread_barrier_destroy(&g.barrier);
    free(g.scratch);
    const float want_y[3] = {3, 2, -1};
    for (int r = 0; r < 2; r++)
        for (int i = 0; i < 3; i++) {
            CHECK(runs[r].y[i] == want_y[i]);
            CHECK(runs[r].dx[i] == 6 * want_y[i]);
            CHECK(runs[r].ddx[i] == 12);
        }
}

/* A failed exchange inside an op unwinds to gt_try with the transport's message. */
static int failing_allgather(void *ctx, const float *in, int64_t n, float *out, gt_error *err) {
    (void)ctx, (void)in, (void)n, (void)out;
    return gt_error_set(err, "rank 1 is gone");
}

static int sum_over_ranks(void *arg) {
    int64_t n = 4;
    gt_ranks_use(arg);
    gt_all_sum(gt_full(1, &n, 1.0f));
    return 0;
}

TEST(a_failed_exchange_unwinds_to_gt_try) {
    gt_comm broken = {0, 2, failing_allgather, NULL, NULL};
    gt_error err = {{0}};
    CHECK(gt_try(sum_over_ranks, &broken, &err) == -1);
    CHECK(strstr(err.msg, "all_sum") && strstr(err.msg, "rank 1 is gone"));
    CHECK(gt_ranks() == NULL); /* restored */
}

int main(void) {
    RUN_TESTS(T(ring_mlp_ranks_equal_accumulation), T(dcgan_wgan_gp_ranks_equal_accumulation),
              T(dcgan_batch_norm_ranks_equal_accumulation), T(all_sum_and_its_gradient), T(a_failed_exchange_unwinds_to_gt_try),
              T(stylegan2_ranks_equal_accumulation), T(per_sample_draws_split_by_rows),
              T(synced_batch_norm_matches_whole_batch));
}
