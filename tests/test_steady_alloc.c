/* "Steady state does no malloc": after a few warm-up steps, whole training steps of a DCGAN, a
 * WGAN-GP critic (double backward) and a StyleGAN2 with path length regularization allocate
 * nothing: the step arena, the tape and the kernels' workspace keep their memory. Every
 * allocation that gantry's code makes is counted: this binary is linked with
 * -Wl,--wrap=malloc (and calloc, realloc, aligned_alloc, posix_memalign; see the Makefile), so
 * calls from the library land in the counters below. */
#include <execinfo.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "gantry.h"
#include "test.h"
#include "train/trainer.h"
#include "train_support.h"

static atomic_long allocs;
static atomic_bool counting;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t s);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t a, size_t n);
int __real_posix_memalign(void **p, size_t a, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t s);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_aligned_alloc(size_t a, size_t n);
int __wrap_posix_memalign(void **p, size_t a, size_t n);

/* GT_ALLOC_TRACE=1 prints the call stack of each counted allocation (to find it). */
static void count(void) {
    if (!atomic_load(&counting)) return;
    atomic_fetch_add(&allocs, 1);
    if (getenv("GT_ALLOC_TRACE")) {
        atomic_store(&counting, false);
        void *frames[12];
        backtrace_symbols_fd(frames, backtrace(frames, 12), 2);
        atomic_store(&counting, true);
    }
}
void *__wrap_malloc(size_t n) { return count(), __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t s) { return count(), __real_calloc(n, s); }
void *__wrap_realloc(void *p, size_t n) { return count(), __real_realloc(p, n); }
void *__wrap_aligned_alloc(size_t a, size_t n) { return count(), __real_aligned_alloc(a, n); }
int __wrap_posix_memalign(void **p, size_t a, size_t n) { return count(), __real_posix_memalign(p, a, n); }

static long count_in_context(const char *recipe, const char *overrides, int warmup, int steps);

/* Builds the run in a context on the cpu backend (the claim is the training backend's: ref's
 * plain kernels allocate their double scratch per call), takes `warmup` steps, then counts the
 * allocations of `steps` more. */
static long allocs_in_steady_steps(const char *recipe, const char *overrides, int warmup, int steps) {
    gt_error err;
    gt_ctx *ctx = gt_ctx_new("cpu", &err);
    if (!ctx) return -1;
    gt_ctx *prev = gt_ctx_use(ctx);
    long n = count_in_context(recipe, overrides, warmup, steps);
    gt_ctx_use(prev);
    gt_ctx_free(ctx);
    return n;
}

static long count_in_context(const char *recipe, const char *overrides, int warmup, int steps) {
    gt_config c;
    gt_error err = {{0}};
    if (train_config(&c, recipe, overrides, &err) < 0) return fprintf(stderr, "  %s\n", err.msg), -1;
    gt_trainer t;
    if (gt_trainer_init(&t, &c, true, &err) < 0) return fprintf(stderr, "  %s\n", err.msg), -1;
    gt_step_stats st;
    bool ok = true;
    for (int s = 0; s < warmup; s++) ok = gt_trainer_step(&t, &st) && ok;
    atomic_store(&allocs, 0);
    atomic_store(&counting, true);
    for (int s = 0; s < steps; s++) ok = gt_trainer_step(&t, &st) && ok;
    atomic_store(&counting, false);
    gt_trainer_free(&t);
    CHECK(ok);
    long n = atomic_load(&allocs);
    if (n) fprintf(stderr, "  %s %s: %ld allocations in %d steady steps\n", recipe, overrides, n, steps);
    return n;
}

TEST(dcgan_steps_do_not_allocate) {
    if (!have_fashion_mnist()) {
        TEST_SKIP("needs %s (Debian package dataset-fashion-mnist)", FMNIST_PATH);
        return;
    }
    CHECK(allocs_in_steady_steps("configs/dcgan-fmnist.ini",
                                 "model.g.width=16 model.d.width=16 train.batch=16", 3, 4) == 0);
}

TEST(wgan_gp_steps_do_not_allocate) {
    if (!have_fashion_mnist()) {
        TEST_SKIP("needs %s (Debian package dataset-fashion-mnist)", FMNIST_PATH);
        return;
    }
    CHECK(allocs_in_steady_steps("configs/wgan-gp-fmnist.ini",
                                 "model.g.width=16 model.d.width=16 train.batch=16", 3, 4) == 0);
}

TEST(stylegan2_steps_with_path_length_do_not_allocate) {
    char set[900];
    if (!tiny_stylegan2_overrides(set, sizeof set)) return;
    CHECK(allocs_in_steady_steps(NULL, set, 3, 4) == 0);
}

int main(void) {
    RUN_TESTS(T(dcgan_steps_do_not_allocate), T(wgan_gp_steps_do_not_allocate),
              T(stylegan2_steps_with_path_length_do_not_allocate));
}
