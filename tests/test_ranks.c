/* Data-parallel ranks against gradient accumulation: K ranks, each training its shard of every
 * batch and exchanging gradients, buffers and losses (one all-gather per update, combined in
 * rank order), end bit-identical to one process with train.accumulate = K. The ranks here are
 * threads, each in a context of its own, joined by an all-gather over shared memory: the same
 * gt_comm contract MPI fills in `gantry train` under mpirun (tests/mpi/, built with MPI=1). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "gantry.h"
#include "test.h"
#include "train/trainer.h"
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

typedef struct {
    const char *recipe, *set;
    int steps;
    const gt_comm *comm;  /* NULL: one process */
    float *weights;       /* G's and D's parameters and buffers, after the steps */
    int64_t n;
    double g_loss, d_loss;
    int rc;
} run;

static void train_run(run *r) {
    gt_error err = {{0}};
    gt_ctx *ctx = gt_ctx_new("cpu", &err), *prev = gt_ctx_use(ctx);
    gt_config c;
    r->rc = train_config(&c, r->recipe, r->set, &err);
    gt_trainer t;
    if (r->rc == 0 && (r->rc = gt_trainer_init(&t, &c, true, &err)) == 0) {
        t.gan.comm = r->comm;
        gt_step_stats st = {0};
        for (int s = 0; s < r->steps && r->rc == 0; s++)
            if (!gt_trainer_step(&t, &st)) r->rc = gt_error_set(&err, "step %d failed", s);
        r->g_loss = st.g_loss, r->d_loss = st.d_loss;
        r->n = t.g.params.numel + t.d.params.numel;
        r->weights = malloc((size_t)r->n * sizeof *r->weights);
        gt_copy_to(r->weights, t.g.params.flat);
        gt_copy_to(r->weights + t.g.params.numel, t.d.params.flat);
        gt_trainer_free(&t);
    }
    if (r->rc) fprintf(stderr, "  %s\n", err.msg);
    gt_ctx_use(prev);
    gt_ctx_free(ctx);
}

static void *train_thread(void *arg) {
    train_run(arg);
    return NULL;
}

/* K threads as ranks on `set`, against one process with train.accumulate = K. */
static void ranks_match_accumulation_via(const char *what, const char *recipe, const char *set,
                                         int k, int steps, bool slices) {
    char acc[512];
    snprintf(acc, sizeof acc, "%s train.accumulate=%d", set, k);
    run one = {.recipe = recipe, .set = acc, .steps = steps};
    train_run(&one);

    thread_group g = {.size = k};
    pthread_barrier_init(&g.barrier, NULL, (unsigned)k);
    thread_rank ranks[4];
    run runs[4];
    pthread_t th[4];
    for (int r = 0; r < k; r++) {
        ranks[r] = (thread_rank){&g, {r, k, thread_allgather, slices ? thread_alltoall : NULL, &ranks[r]}};
        runs[r] = (run){.recipe = recipe, .set = set, .steps = steps, .comm = &ranks[r].comm};
        pthread_create(&th[r], NULL, train_thread, &runs[r]);
    }
    for (int r = 0; r < k; r++) pthread_join(th[r], NULL);
    pthread_barrier_destroy(&g.barrier);
    free(g.scratch);
    bool same = one.rc == 0;
    for (int r = 0; r < k; r++)
        same = same && runs[r].rc == 0 && runs[r].n == one.n &&
               memcmp(runs[r].weights, one.weights, (size_t)one.n * sizeof *one.weights) == 0;
    printf("  %-34s %d ranks = accumulate %d after %d steps (%s): %s\n", what, k, k, steps,
           slices ? "reduced by slices" : "all-gathered", same ? "bit-identical" : "DIFFERENT");
    CHECK(same);
    CHECK(one.rc == 0 && runs[0].g_loss == one.g_loss && runs[0].d_loss == one.d_loss);
    free(one.weights);
    for (int r = 0; r < k; r++) free(runs[r].weights);
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
        printf("  skipped: needs %s\n", FMNIST_PATH);
        return;
    }
    ranks_match_accumulation("DCGAN-28, WGAN-GP", "configs/wgan-gp-fmnist.ini",
                             "model.g.width=8 model.d.width=8 model.g.z_dim=16 train.batch=16 "
                             "train.threads=1",
                             2, 3);
}

TEST(dcgan_batch_norm_ranks_equal_accumulation) {
    if (!have_fashion_mnist()) {
        printf("  skipped: needs %s\n", FMNIST_PATH);
        return;
    }
    ranks_match_accumulation("DCGAN-28, batch norm in G and D", "configs/dcgan-fmnist.ini",
                             "model.g.width=8 model.d.width=8 model.g.z_dim=16 train.batch=16 "
                             "train.threads=1",
                             2, 3);
    ranks_match_accumulation("DCGAN-28, 4 ranks", "configs/dcgan-fmnist.ini",
                             "model.g.width=8 model.d.width=8 model.g.z_dim=16 train.batch=16 "
                             "train.threads=1",
                             4, 2);
}

int main(void) {
    RUN_TESTS(T(ring_mlp_ranks_equal_accumulation), T(dcgan_wgan_gp_ranks_equal_accumulation),
              T(dcgan_batch_norm_ranks_equal_accumulation));
}
