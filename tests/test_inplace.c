/* Activations and biases written over a fresh op output (gt_leaky_relu_over_, gt_add_into_ via
 * gt_linear and gt_conv2d): the same values, first- and second-order gradients, bit for bit, as
 * the out-of-place ops (which test_ops checks against finite differences); the memory really
 * is reused; and producers whose backward reads their output, or leaves, are never written. */
#include <string.h>

#include "core/engine.h"
#include "gantry.h"
#include "test.h"

enum { N = 4, C = 3, H = 5, W = 5 };

static gt_tensor *leaf(gt_arena *a, gt_rng *rng, int ndim, const int64_t *shape) {
    gt_tensor *t = gt_param_new(a, ndim, shape);
    gt_tensor *v = gt_rand_normal(rng, ndim, shape, 0.0f, 1.0f);
    memcpy(t->data, v->data, (size_t)t->numel * sizeof(float));
    return t;
}

/* The layer under test: the pre-activation of one producer, then the activation. */
typedef enum { BY_LINEAR, BY_CONV, BY_BATCH_NORM, BY_TANH } producer;

typedef struct {
    gt_tensor *x, *w, *b, *gamma, *beta; /* leaves */
} layer_params;

static gt_tensor *pre_activation(producer p, const layer_params *lp) {
    switch (p) {
    case BY_LINEAR: /* x [N, C*H*W] -> [N, 6] */
        return gt_linear(gt_reshape(lp->x, 2, (int64_t[]){N, C * H * W}), lp->w, lp->b);
    case BY_CONV: return gt_conv2d(lp->x, lp->w, lp->b, gt_conv_opts_default());
    case BY_BATCH_NORM: return gt_batch_norm_affine(lp->x, lp->gamma, lp->beta, 1e-5f, NULL, NULL);
    case BY_TANH: return gt_tanh(lp->x);
    }
    return NULL;
}

static gt_tensor *layer(producer p, const layer_params *lp, float slope, bool over) {
    gt_tensor *h = pre_activation(p, lp);
    return over ? gt_leaky_relu_over_(h, slope) : gt_leaky_relu(h, slope);
}

/* The layer's output, its gradients of <y^2, 1> in x (and w where there is one), and the
 * gradient in x of <dx, dx> (second order through the activation's backward), into out. */
static int run_layer(producer p, const layer_params *lp, float slope, bool over, float *out) {
    gt_tensor *y = layer(p, lp, slope, over);
    gt_tensor *loss = gt_sum_all(gt_square(y));
    gt_tensor *in[2] = {lp->x, lp->w ? lp->w : lp->gamma}, *g[2] = {NULL, NULL};
    gt_grad(1, &loss, NULL, in[1] ? 2 : 1, in, g, true);
    gt_tensor *second = NULL, *gg = gt_sum_all(gt_square(g[0]));
    gt_grad(1, &gg, NULL, 1, &lp->x, &second, false);
    int n = 0;
    gt_tensor *parts[4] = {y, g[0], g[1], second};
    for (int k = 0; k < 4; k++) {
        if (!parts[k]) continue;
        gt_copy_to(out + n, parts[k]);
        n += (int)parts[k]->numel;
    }
    return n;
}

static bool same_bits(const float *a, const float *b, int n) {
    return memcmp(a, b, (size_t)n * sizeof(float)) == 0;
}

static layer_params params_for(producer p, gt_arena *a, gt_rng *rng) {
    layer_params lp = {0};
    lp.x = leaf(a, rng, 4, (int64_t[]){N, C, H, W});
    if (p == BY_LINEAR) {
        lp.w = leaf(a, rng, 2, (int64_t[]){6, C * H * W});
        lp.b = leaf(a, rng, 1, (int64_t[]){6});
    } else if (p == BY_CONV) {
        lp.w = leaf(a, rng, 4, (int64_t[]){4, C, 3, 3});
        lp.b = leaf(a, rng, 1, (int64_t[]){4});
    } else if (p == BY_BATCH_NORM) {
        lp.gamma = leaf(a, rng, 1, (int64_t[]){C});
        lp.beta = leaf(a, rng, 1, (int64_t[]){C});
    }
    return lp;
}

TEST(over_gives_the_out_of_place_values_and_gradients) {
    const producer ps[4] = {BY_LINEAR, BY_CONV, BY_BATCH_NORM, BY_TANH};
    const float slopes[2] = {0.0f, 0.2f};
    enum { CAP = 4 * N * C * H * W + 4096 };
    static float ref[CAP], got[CAP];
    for (int i = 0; i < 4; i++)
        for (int s = 0; s < 2; s++) {
            gt_arena *a = gt_arena_new(1 << 16);
            gt_rng rng = gt_rng_seed(7 + (uint64_t)i);
            layer_params lp = params_for(ps[i], a, &rng);
            int n_ref = run_layer(ps[i], &lp, slopes[s], false, ref);
            gt_step_end();
            int n_got = run_layer(ps[i], &lp, slopes[s], true, got);
            gt_step_end();
            CHECK(n_ref == n_got && n_ref > N * C && same_bits(ref, got, n_ref));
            gt_arena_free(a);
        }
}

/* With a producer whose backward does not read its output, y takes h's memory (and the step
 * only a tensor header); after tanh, whose backward reads its output, h keeps its values. */
TEST(over_reuses_memory_only_where_safe) {
    gt_arena *a = gt_arena_new(1 << 16);
    gt_rng rng = gt_rng_seed(3);
    layer_params lin = params_for(BY_LINEAR, a, &rng), th = params_for(BY_TANH, a, &rng);
    gt_tensor *h = pre_activation(BY_LINEAR, &lin);
    size_t before = gt_arena_used(gt_step_arena());
    gt_tensor *y = gt_leaky_relu_over_(h, 0.2f);
    CHECK(y->data == h->data && gt_arena_used(gt_step_arena()) - before < 1024);
    gt_tensor *t = pre_activation(BY_TANH, &th);
    float keep[N * C * H * W];
    gt_copy_to(keep, t);
    gt_tensor *yt = gt_leaky_relu_over_(t, 0.2f);
    CHECK(yt->data != t->data && same_bits(keep, t->data, (int)t->numel));
    /* a leaf (no producer) and a negative slope (sign not kept) are never written over */
    float xv[N * C * H * W];
    gt_copy_to(xv, lin.x);
    CHECK(gt_leaky_relu_over_(lin.x, 0.0f)->data != lin.x->data && same_bits(xv, lin.x->data, (int)lin.x->numel));
    gt_tensor *h2 = pre_activation(BY_LINEAR, &lin);
    CHECK(gt_leaky_relu_over_(h2, -0.5f)->data != h2->data);
    gt_step_end();
    gt_arena_free(a);
}

/* The bias of gt_linear and gt_conv2d goes over the product: no second output buffer. */
TEST(bias_is_added_over_the_product) {
    gt_arena *a = gt_arena_new(1 << 16);
    gt_rng rng = gt_rng_seed(5);
    layer_params lin = params_for(BY_LINEAR, a, &rng);
    gt_tensor *x2 = gt_reshape(lin.x, 2, (int64_t[]){N, C * H * W});
    size_t before = gt_arena_used(gt_step_arena());
    gt_tensor *plain = gt_linear(x2, lin.w, NULL);
    size_t one_product = gt_arena_used(gt_step_arena()) - before;
    before = gt_arena_used(gt_step_arena());
    gt_tensor *biased = gt_linear(x2, lin.w, lin.b);
    size_t with_bias = gt_arena_used(gt_step_arena()) - before;
    CHECK(with_bias < one_product + 1024);
    for (int64_t i = 0; i < biased->numel; i++)
        CHECK(biased->data[i] == plain->data[i] + lin.b->data[i % 6]);
    gt_step_end();
    gt_arena_free(a);
}

int main(void) {
    RUN_TESTS(T(over_gives_the_out_of_place_values_and_gradients), T(over_reuses_memory_only_where_safe),
              T(bias_is_added_over_the_product));
}
