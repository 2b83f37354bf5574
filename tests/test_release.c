/* Memory handed back before the step ends: the arena's released ranges are reused (best fit),
 * merged with their neighbours and, at the top of the block being filled, lower the bump
 * pointer; the backward walk hands back the gradients it has finished with, so a deep chain's
 * backward holds a few layers' gradients, and the gradients it returns are the same bits as a
 * walk that keeps everything (create_graph). Under AddressSanitizer a released range is
 * poisoned, so a gradient handed back too early is an error where it is read. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine.h"
#include "core/internal.h"
#include "cpu/cpu.h"
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
    CHECK(gt_arena_high_water(a) == 28 * KB);           /* the most live in any step */
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

/* ---- activations the forward is done with (gt_forward_done_) ---- */

enum { IMGS = 8, CH = 16, SIDE = 12 };

static gt_tensor *leaf4(gt_arena *a, gt_rng *rng, int64_t n, int64_t c, int64_t h, float scale) {
    int64_t shape[4] = {n, c, h, h};
    gt_tensor *t = gt_param_new(a, 4, shape);
    gt_tensor *v = gt_rand_normal(rng, 4, shape, 0.0f, scale);
    memcpy(t->data, v->data, (size_t)t->numel * sizeof(float));
    return t;
}

/* Fills what the step arena has taken back with NaN (two activations' worth, best fit takes
 * the released ranges first), so a rule that read a kept tensor's float32 range would see it. */
static void poison_released(const gt_tensor *like) {
    for (int i = 0; i < 2; i++) gt_full(like->ndim, like->shape, NAN);
}

/* Three 3x3 convolutions with leaky ReLU between, as a network's forward writes them; `done`:
 * each activation is given up once the next convolution has read it. */
static gt_tensor *conv_chain(gt_tensor *x, gt_tensor *const *w, bool done) {
    gt_conv_opts o = gt_conv_opts_default();
    o.padding[0] = o.padding[1] = 1;
    gt_tensor *h = x;
    for (int i = 0; i < 3; i++) {
        gt_tensor *y = gt_conv2d(h, w[i], NULL, o);
        if (done && h != x) gt_forward_done_(h);
        h = i < 2 ? gt_leaky_relu_over_(y, 0.2f) : y;
    }
    return h;
}

/* The chain's output, gradients in x and the weights, and a gradient penalty's gradient in the
 * first weight (second order through the kept activations), into out; the step's live bytes
 * after the forward into *live. */
static int64_t run_chain(gt_tensor *x, gt_tensor *const *w, bool done, float *out, size_t *live) {
    gt_tensor *y = conv_chain(x, w, done);
    *live = gt_arena_live(gt_step_arena());
    poison_released(x);
    gt_tensor *loss = gt_sum_all(gt_square(y));
    gt_tensor *in[4] = {x, w[0], w[1], w[2]}, *g[4];
    gt_grad(1, &loss, NULL, 4, in, g, true);
    gt_tensor *penalty = gt_sum_all(gt_square(g[0])), *second = NULL;
    gt_grad(1, &penalty, NULL, 1, &w[0], &second, false);
    gt_tensor *parts[6] = {y, g[0], g[1], g[2], g[3], second};
    int64_t n = 0;
    for (int k = 0; k < 6; k++) {
        gt_copy_to(out + n, parts[k]);
        n += parts[k]->numel;
    }
    return n;
}

static void chain_params(gt_arena *a, gt_tensor **x, gt_tensor **w) {
    gt_rng rng = gt_rng_seed(21);
    *x = leaf4(a, &rng, IMGS, CH, SIDE, 1.0f);
    for (int i = 0; i < 3; i++) w[i] = leaf4(a, &rng, CH, CH, 3, 0.1f);
    gt_step_end(); /* the random draws were step tensors */
}

/* Under bf16 the convolutions read their operands rounded to bf16 and leaky ReLU's backward
 * reads only signs, so keeping the activations as bf16 changes no bit: values, first- and
 * second-order gradients (the create_graph walk widens them for good, the first-order one
 * for each rule) are those of the chain that keeps them in float32, and the forward holds
 * half the activation bytes. In FP32 giving them up changes nothing at all. */
TEST(activations_kept_as_bf16_where_the_kernels_round_anyway) {
    gt_arena *model = gt_arena_new(1 << 20);
    gt_tensor *x, *w[3];
    chain_params(model, &x, w);
    int64_t cap = 4 * IMGS * CH * SIDE * SIDE + 4 * CH * CH * 9;
    float *kept = malloc((size_t)cap * sizeof *kept), *plain = malloc((size_t)cap * sizeof *plain);
    size_t act = (size_t)IMGS * CH * SIDE * SIDE * sizeof(float);
    for (int prec = 0; prec < 2; prec++) {
        gt_precision was = gt_precision_set(prec ? GT_PRECISION_BF16 : GT_PRECISION_FP32);
        size_t live_plain, live_kept;
        int64_t n = run_chain(x, w, false, plain, &live_plain);
        gt_step_end();
        CHECK(run_chain(x, w, true, kept, &live_kept) == n);
        gt_step_end();
        CHECK(memcmp(kept, plain, (size_t)n * sizeof *kept) == 0);
        if (prec) CHECK(live_plain - live_kept >= act && live_plain - live_kept <= act + 4096);
        else CHECK(live_kept == live_plain);
        gt_precision_set(was);
    }
    free(kept);
    free(plain);
    gt_arena_free(model);
}

/* Without grad nothing saved the activations: their memory goes back as soon as the next
 * layer has read them, and the output is the same. */
TEST(forward_without_grad_hands_back_what_it_is_done_with) {
    gt_arena *model = gt_arena_new(1 << 20);
    gt_tensor *x, *w[3];
    chain_params(model, &x, w);
    bool was = gt_grad_set(false);
    gt_tensor *plain = conv_chain(x, w, false);
    size_t live_plain = gt_arena_live(gt_step_arena());
    float *want = malloc((size_t)plain->numel * sizeof *want);
    gt_copy_to(want, plain);
    gt_step_end();
    gt_tensor *y = conv_chain(x, w, true);
    size_t act = (size_t)IMGS * CH * SIDE * SIDE * sizeof(float);
    CHECK(live_plain - gt_arena_live(gt_step_arena()) >= 2 * act);
    CHECK(memcmp(y->data, want, (size_t)y->numel * sizeof *want) == 0);
    gt_step_end();
    gt_grad_set(was);
    free(want);
    gt_arena_free(model);
}

/* Batch norm keeps its normalised input xhat as bf16 under that precision; its gradient in x
 * then differs from the float32-xhat one by the rounding of xhat alone. The backward is
 * dx = invstd gamma (dy - mean(dy) - xhat mean(dy xhat)); with xhat' = xhat (1 + e), |e| <=
 * 2^-9 (half bf16's unit roundoff 2^-8), the change is invstd |gamma| |xhat e mean(dy xhat) +
 * xhat' mean(dy xhat e)| <= invstd |gamma| 2^-9 |xhat| (|mean(dy xhat)| + (1 + 2^-9)
 * mean|dy xhat|), per element; float32 rounding of the sums adds far less than the bound's
 * factor 2 kept for it. The input is a bf16 grid, so the forward itself is exact in both. */
TEST(batch_norm_keeps_xhat_as_bf16_within_its_rounding) {
    gt_arena *model = gt_arena_new(1 << 20);
    gt_rng rng = gt_rng_seed(31);
    gt_tensor *x = leaf4(model, &rng, IMGS, CH, SIDE, 2.0f);
    gt_cpu_round_bf16(x->data, x->data, x->numel);
    int64_t c = CH;
    gt_tensor *gamma = gt_param_new(model, 1, &c), *beta = gt_param_new(model, 1, &c);
    for (int64_t i = 0; i < c; i++) gamma->data[i] = 0.5f + 0.1f * (float)i, beta->data[i] = 0.1f;
    gt_tensor *dy = leaf4(model, &rng, IMGS, CH, SIDE, 1.0f);
    float *dx[2];
    for (int prec = 0; prec < 2; prec++) {
        gt_precision was = gt_precision_set(prec ? GT_PRECISION_BF16 : GT_PRECISION_FP32);
        gt_tensor *y = gt_batch_norm_affine(x, gamma, beta, 1e-5f, NULL, NULL);
        poison_released(x);
        gt_tensor *g = NULL;
        gt_grad(1, &y, &dy, 1, &x, &g, false);
        dx[prec] = malloc((size_t)x->numel * sizeof(float));
        gt_copy_to(dx[prec], g);
        gt_step_end();
        gt_precision_set(was);
    }
    int64_t s = SIDE * SIDE, bad = 0;
    double max_rel = 0;
    for (int64_t ch = 0; ch < c; ch++) {
        double mean = 0, var = 0, m1 = 0, m2 = 0;
        for (int64_t n = 0; n < IMGS; n++)
            for (int64_t k = 0; k < s; k++) mean += x->data[(n * c + ch) * s + k];
        mean /= (double)(IMGS * s);
        for (int64_t n = 0; n < IMGS; n++)
            for (int64_t k = 0; k < s; k++) {
                double d = x->data[(n * c + ch) * s + k] - mean;
                var += d * d;
            }
        double invstd = 1.0 / sqrt(var / (double)(IMGS * s) + 1e-5);
        for (int64_t n = 0; n < IMGS; n++)
            for (int64_t k = 0; k < s; k++) {
                int64_t i = (n * c + ch) * s + k;
                double xh = (x->data[i] - mean) * invstd;
                m1 += dy->data[i] * xh;
                m2 += fabs(dy->data[i] * xh);
            }
        m1 /= (double)(IMGS * s);
        m2 /= (double)(IMGS * s);
        for (int64_t n = 0; n < IMGS; n++)
            for (int64_t k = 0; k < s; k++) {
                int64_t i = (n * c + ch) * s + k;
                double xh = fabs((x->data[i] - mean) * invstd);
                double bound = 2.0 * invstd * gamma->data[ch] * ldexp(1.0, -9) * xh *
                               (fabs(m1) + (1.0 + ldexp(1.0, -9)) * m2) + 1e-6;
                double diff = fabs((double)dx[1][i] - dx[0][i]);
                bad += diff > bound;
                if (bound > 0) max_rel = fmax(max_rel, diff / bound);
            }
    }
    CHECK(bad == 0);
    CHECK(max_rel > 0); /* xhat really was rounded */
    free(dx[0]);
    free(dx[1]);
    gt_arena_free(model);
}

int main(void) {
    RUN_TESTS(T(released_ranges_are_reused_merged_and_lower_the_top),
              T(backward_hands_back_the_gradients_it_is_done_with),
              T(returned_gradients_and_seeds_outlive_the_walk),
              T(activations_kept_as_bf16_where_the_kernels_round_anyway),
              T(forward_without_grad_hands_back_what_it_is_done_with),
              T(batch_norm_keeps_xhat_as_bf16_within_its_rounding));
}
