/* Memory handed back before the step ends: the arena's released ranges are reused (best fit),
 * merged with their neighbours and, at the top of the block being filled, lower the bump
 * pointer; the backward walk hands back the gradients it has finished with, so a deep chain's
 * backward holds a few layers' gradients, and the gradients it returns are the same bits as a
 * walk that keeps everything (create_graph). Under AddressSanitizer a released range is
 * poisoned, so a gradient handed back too early is an error where it is read. */
#include <stdlib.h>
#include <string.h>

#include "core/engine.h"
#include "core/internal.h"
#include "gantry.h"
#include "test.h"

enum { KB = 1024 };

TEST(released_ranges_are_reused_merged_and_lower_the_top) {
    gt_arena *a = gt_arena_new(1 << 20);
    unsigned char *p = gt_arena_alloc(a, 4 * KB), *q = gt_arena_alloc(a, 4 * KB);
    unsigned char *r = gt_arena_alloc(a, 4 * KB), *top = gt_arena_alloc(a, 8 * KB);
    CHECK(gt_arena_used(a) == 20 * KB && gt_arena_live(a) == 20 * KB && gt_arena_peak(a) == 20 * KB);
    gt_arena_release_(a, q, 4 * KB);
    CHECK(gt_arena_live(a) == 16 * KB && gt_arena_used(a) == 20 * KB);
    CHECK(gt_arena_alloc(a, 4 * KB) == q);             /* the hole is reused */
    gt_arena_release_(a, p, 4 * KB);
    gt_arena_release_(a, q, 4 * KB);                   /* p and q merge into one 8 KB range */
    CHECK(gt_arena_alloc(a, 8 * KB) == p);
    gt_arena_release_(a, p, 8 * KB);
    CHECK(gt_arena_alloc(a, 2 * KB) == p);             /* best fit splits the range's front */
    CHECK(gt_arena_alloc(a, 6 * KB) == p + 2 * KB);
    gt_arena_release_(a, top, 8 * KB);                 /* the top: the bump pointer moves back */
    CHECK(gt_arena_alloc(a, 16 * KB) == top);
    CHECK(gt_arena_peak(a) == 28 * KB && gt_arena_live(a) == 28 * KB);
    gt_arena_release_(a, r, 4 * KB);
    gt_arena_release_(a, top, 16 * KB);                /* r merges into the top and goes too */
    CHECK(gt_arena_alloc(a, 20 * KB) == r && gt_arena_live(a) == 28 * KB);
    gt_arena_reset(a);
    CHECK(gt_arena_used(a) == 0 && gt_arena_live(a) == 0 && gt_arena_peak(a) == 0);
    CHECK(gt_arena_alloc(a, 4 * KB) == p);             /* a reset forgets the released ranges */
    gt_arena_free(a);
}

enum { BATCH = 32, WIDTH = 256, DEPTH = 12 };

static gt_tensor *leaf(gt_arena *a, gt_rng *rng, int64_t rows, int64_t cols, float scale) {
    int64_t shape[2] = {rows, cols};
    gt_tensor *t = gt_param_new(a, 2, shape);
    gt_tensor *v = gt_rand_normal(rng, 2, shape, 0.0f, scale);
    memcpy(t->data, v->data, (size_t)t->numel * sizeof(float));
    return t;
}

/* A chain with every kind of gradient hand-off: dy passed on as dx (add: both inputs get the
 * same tensor), views of dy (reshape), a tensor used twice (summed slots), and activations. */
static gt_tensor *chain(gt_tensor *x, gt_tensor *const *w, gt_tensor **mid) {
    gt_tensor *h = x;
    for (int i = 0; i < DEPTH; i++) {
        gt_tensor *z = gt_matmul(h, w[i], false, false);
        z = gt_add(z, gt_mul(z, z)); /* z used twice, then summed slots */
        h = gt_tanh(gt_reshape(gt_add(z, h), 2, (int64_t[]){BATCH, WIDTH}));
        if (i == DEPTH / 2) *mid = h;
    }
    return gt_sum_all(gt_square(h));
}

static bool same_bits(const gt_tensor *a, const gt_tensor *b) {
    return a->numel == b->numel && memcmp(a->data, b->data, (size_t)a->numel * sizeof(float)) == 0;
}

/* gt_backward of a 12-layer chain holds a few layers' gradients at once, where a walk that
 * keeps them (create_graph) holds all; both give the same bits. */
TEST(backward_hands_back_the_gradients_it_is_done_with) {
    gt_arena *model = gt_arena_new(1 << 20);
    gt_rng rng = gt_rng_seed(11);
    gt_tensor *x = leaf(model, &rng, BATCH, WIDTH, 1.0f), *w[DEPTH], *mid = NULL;
    for (int i = 0; i < DEPTH; i++) w[i] = leaf(model, &rng, WIDTH, WIDTH, 0.05f);
    size_t layer = (size_t)BATCH * WIDTH * sizeof(float);

    gt_tensor *loss = chain(x, w, &mid);
    gt_arena *step = gt_step_arena();
    size_t forward = gt_arena_live(step);
    gt_tensor *in[DEPTH + 1], *kept[DEPTH + 1];
    in[0] = x;
    for (int i = 0; i < DEPTH; i++) in[i + 1] = w[i];
    gt_grad(1, &loss, NULL, DEPTH + 1, in, kept, true);
    size_t keeping = gt_arena_live(step) - forward;

    size_t before = gt_arena_live(step);
    gt_tensor *handed[DEPTH + 1];
    gt_grad(1, &loss, NULL, DEPTH + 1, in, handed, false);
    size_t after = gt_arena_live(step) - before;
    /* what stays is the returned gradients and small headers, not every layer's gradients */
    CHECK(after < (size_t)(DEPTH + 1) * (WIDTH * WIDTH * sizeof(float)) + 2 * layer + 64 * KB);
    CHECK(keeping > after + (size_t)DEPTH * 3 * layer);
    for (int i = 0; i <= DEPTH; i++) CHECK(same_bits(kept[i], handed[i]));
    float *want = malloc((size_t)(DEPTH + 1) * WIDTH * WIDTH * sizeof *want);
    for (int i = 0; i <= DEPTH; i++) gt_copy_to(want + (size_t)i * WIDTH * WIDTH, kept[i]);

    /* gt_backward: leaves' .grad, the same bits; the walk's own peak a weight gradient and a
     * few layers */
    for (int i = 0; i <= DEPTH; i++) gt_zero_grad(in[i]);
    gt_step_end();
    loss = chain(x, w, &mid);
    size_t fwd_live = gt_arena_live(step);
    gt_backward(loss);
    CHECK(gt_arena_peak(step) - fwd_live < WIDTH * WIDTH * sizeof(float) + 8 * layer);
    CHECK(gt_arena_live(step) - fwd_live < 2 * layer);
    for (int i = 0; i <= DEPTH; i++)
        CHECK(memcmp(in[i]->grad->data, want + (size_t)i * WIDTH * WIDTH,
                     (size_t)in[i]->numel * sizeof(float)) == 0);
    free(want);
    gt_step_end();
    gt_arena_free(model);
}

/* Gradients gt_grad returns outlive the walk even when their tensor is a node's output that
 * the walk passes (mid, upstream of the loss, downstream of x), and user seeds are never
 * handed back: the same bits as the keeping walk, and the seed still readable. */
TEST(returned_gradients_and_seeds_outlive_the_walk) {
    gt_arena *model = gt_arena_new(1 << 20);
    gt_rng rng = gt_rng_seed(12);
    gt_tensor *x = leaf(model, &rng, BATCH, WIDTH, 1.0f), *w[DEPTH], *mid = NULL;
    for (int i = 0; i < DEPTH; i++) w[i] = leaf(model, &rng, WIDTH, WIDTH, 0.05f);
    gt_tensor *loss = chain(x, w, &mid);
    gt_tensor *seed = gt_full(0, NULL, 0.5f);
    gt_tensor *in[3] = {mid, x, w[0]}, *kept[3], *handed[3];
    gt_grad(1, &loss, &seed, 3, in, kept, true);
    gt_grad(1, &loss, &seed, 3, in, handed, false);
    gt_tensor *filler = gt_full(2, (int64_t[]){BATCH, 4 * WIDTH}, 7.0f); /* reuses what was freed */
    CHECK(filler->data[0] == 7.0f && gt_item(seed) == 0.5f);
    for (int i = 0; i < 3; i++) CHECK(same_bits(kept[i], handed[i]));
    gt_step_end();
    gt_arena_free(model);
}

int main(void) {
    RUN_TESTS(T(released_ranges_are_reused_merged_and_lower_the_top),
              T(backward_hands_back_the_gradients_it_is_done_with),
              T(returned_gradients_and_seeds_outlive_the_walk));
}
