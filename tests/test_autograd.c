/* Autograd semantics: accumulation into leaves, grad vs backward, create_graph, no-grad,
 * detach, pruning, views sharing data, arenas reusing their blocks, and the RNG state. */
#include <string.h>

#include "gantry.h"
#include "test.h"

static gt_tensor *param(gt_arena *a, int64_t n, const float *v) {
    gt_tensor *t = gt_param_new(a, 1, &n);
    memcpy(t->data, v, (size_t)n * sizeof(float));
    return t;
}

TEST(backward_accumulates_into_leaves) {
    gt_arena *a = gt_arena_new(1 << 12);
    float v[3] = {1, 2, 3};
    gt_tensor *x = param(a, 3, v);
    for (int rep = 0; rep < 2; rep++) {
        gt_backward(gt_sum_all(gt_square(x))); /* d/dx = 2x, twice */
        gt_step_end();
    }
    for (int i = 0; i < 3; i++) CHECK_NEAR(x->grad->data[i], 4 * v[i], 1e-6);
    gt_zero_grad(x);
    CHECK(x->grad->data[0] == 0);
    gt_arena_free(a);
}

TEST(grad_returns_without_touching_leaves) {
    gt_arena *a = gt_arena_new(1 << 12);
    float v[2] = {0.5f, -1.5f};
    gt_tensor *x = param(a, 2, v), *unused = param(a, 2, v);
    gt_tensor *y = gt_sum_all(gt_pow(x, 3));
    gt_tensor *in[2] = {x, unused}, *g[2];
    gt_grad(1, &y, NULL, 2, in, g, false);
    for (int i = 0; i < 2; i++) {
        CHECK_NEAR(gt_get(g[0], (int64_t[]){i}), 3 * v[i] * v[i], 1e-5);
        CHECK(gt_get(g[1], (int64_t[]){i}) == 0); /* no influence: zeros */
        CHECK(x->grad->data[i] == 0);
    }
    CHECK(!g[0]->requires_grad); /* constants without create_graph */
    gt_step_end();
    gt_arena_free(a);
}

/* f = sum x^3: grad 3x^2, and the gradient of sum(grad) is 6x. */
TEST(create_graph_gives_second_derivatives) {
    gt_arena *a = gt_arena_new(1 << 12);
    float v[3] = {0.5f, -1, 2};
    gt_tensor *x = param(a, 3, v);
    gt_tensor *y = gt_sum_all(gt_pow(x, 3)), *g;
    gt_grad(1, &y, NULL, 1, &x, &g, true);
    CHECK(g->requires_grad);
    gt_backward(gt_sum_all(g));
    for (int i = 0; i < 3; i++) CHECK_NEAR(x->grad->data[i], 6 * v[i], 1e-5);
    /* third order through two nested create_graph walks: d^3/dx^3 sum x^3 = 6 */
    gt_tensor *g1, *g2, *g3;
    gt_tensor *y2 = gt_sum_all(gt_pow(x, 3));
    gt_grad(1, &y2, NULL, 1, &x, &g1, true);
    gt_tensor *s1 = gt_sum_all(g1);
    gt_grad(1, &s1, NULL, 1, &x, &g2, true);
    gt_tensor *s2 = gt_sum_all(g2);
    gt_grad(1, &s2, NULL, 1, &x, &g3, false);
    for (int i = 0; i < 3; i++) CHECK_NEAR(gt_get(g3, (int64_t[]){i}), 6, 1e-4);
    gt_step_end();
    gt_arena_free(a);
}

TEST(no_grad_and_detach_record_nothing) {
    gt_arena *a = gt_arena_new(1 << 12);
    float v[2] = {1, 2};
    gt_tensor *x = param(a, 2, v);
    size_t before = gt_tape_length();
    bool prev = gt_grad_set(false);
    gt_tensor *y = gt_exp(x);
    gt_grad_set(prev);
    CHECK(gt_tape_length() == before && !y->requires_grad && y->node == NULL);
    gt_tensor *d = gt_detach(gt_exp(x));
    CHECK(!d->requires_grad && d->data[1] == expf(2));
    gt_backward(gt_sum_all(gt_mul(d, x))); /* d is a constant: grad = d */
    CHECK_NEAR(x->grad->data[0], expf(1), 1e-5);
    gt_step_end();
    gt_arena_free(a);
}

TEST(grad_walk_skips_branches_that_do_not_reach_inputs) {
    gt_arena *a = gt_arena_new(1 << 12);
    float v[2] = {1, 2};
    gt_tensor *x = param(a, 2, v), *w = param(a, 2, v);
    gt_tensor *y = gt_sum_all(gt_mul(gt_exp(w), x));
    size_t tape_before = gt_tape_length();
    gt_tensor *g;
    gt_grad(1, &y, NULL, 1, &x, &g, true);
    /* only d/dx = exp(w) is built: mul's backward for x, sum's expand; nothing for w's exp */
    CHECK(gt_tape_length() - tape_before <= 4);
    CHECK_NEAR(gt_get(g, (int64_t[]){1}), expf(2), 1e-5);
    gt_step_end();
    gt_arena_free(a);
}

TEST(views_share_data_and_support_five_dims) {
    int64_t s5[5] = {2, 1, 3, 2, 2};
    gt_tensor *x = gt_zeros(5, s5);
    CHECK(x->ndim == 5 && x->numel == 24);
    int64_t flat[1] = {24};
    gt_tensor *r = gt_reshape(x, 1, flat);
    CHECK(r->data == x->data);
    int perm[5] = {4, 3, 2, 1, 0};
    gt_tensor *p = gt_permute(x, perm);
    CHECK(p->data == x->data && !gt_is_contiguous(p) && p->shape[0] == 2 && p->shape[2] == 3);
    gt_tensor *sl = gt_slice(x, 2, 1, 3);
    CHECK(sl->data == x->data + x->stride[2] && sl->shape[2] == 2);
    x->data[x->stride[2] + 1] = 7;
    CHECK(gt_get(sl, (int64_t[]){0, 0, 0, 0, 1}) == 7);
    gt_tensor *c = gt_contiguous(p);
    CHECK(gt_is_contiguous(c) && c->data != x->data);
    gt_step_end();
}

TEST(step_arena_reuses_its_blocks) {
    gt_arena *a = gt_arena_new(1 << 12);
    int64_t n = 1000;
    gt_tensor *w = gt_param_new(a, 1, &n);
    gt_rng rng = gt_rng_seed(3);
    gt_fill_normal(&rng, w, 0, 1);
    size_t cap = 0;
    for (int step = 0; step < 5; step++) {
        gt_tensor *x = gt_rand_normal(&rng, 1, &n, 0, 1);
        gt_backward(gt_sum_all(gt_tanh(gt_mul(w, x))));
        gt_step_end();
        if (step == 1) cap = gt_arena_capacity(gt_step_arena());
        if (step > 1) CHECK(gt_arena_capacity(gt_step_arena()) == cap);
    }
    gt_arena_free(a);
}

TEST(arena_alignment_and_reset) {
    gt_arena *a = gt_arena_new(4096);
    void *p = gt_arena_alloc(a, 3), *q = gt_arena_alloc(a, 100), *big = gt_arena_alloc(a, 100000);
    CHECK(((uintptr_t)p % 64) == 0 && ((uintptr_t)q % 64) == 0 && ((uintptr_t)big % 64) == 0);
    size_t cap = gt_arena_capacity(a);
    gt_arena_reset(a);
    CHECK(gt_arena_used(a) == 0);
    CHECK(gt_arena_alloc(a, 3) == p);
    gt_arena_alloc(a, 100);
    gt_arena_alloc(a, 100000);
    CHECK(gt_arena_capacity(a) == cap);
    gt_arena_free(a);
}

TEST(rng_state_is_explicit_and_reproducible) {
    int64_t n = 10;
    gt_rng r1 = gt_rng_seed(9), r2 = gt_rng_seed(9);
    gt_tensor *a = gt_rand_normal(&r1, 1, &n, 0, 1);
    gt_tensor *b = gt_rand_normal(&r2, 1, &n, 0, 1);
    CHECK(memcmp(a->data, b->data, 10 * sizeof(float)) == 0);
    gt_rng saved = r1; /* a checkpoint holds exactly this */
    gt_tensor *c = gt_rand_uniform(&r1, 1, &n, -1, 1);
    gt_tensor *d = gt_rand_uniform(&saved, 1, &n, -1, 1);
    CHECK(memcmp(c->data, d->data, 10 * sizeof(float)) == 0);
    CHECK(memcmp(a->data, c->data, 10 * sizeof(float)) != 0);
    for (int i = 0; i < 10; i++) CHECK(c->data[i] >= -1 && c->data[i] < 1);
    gt_step_end();
}

/* The profiler charges each op to forward or backward, counts matmul FLOPs from the shapes
 * (2 M N K), and charges the time between ops to named regions. */
static const gt_profile_entry *entry(const gt_profile_entry *e, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (strcmp(e[i].name, name) == 0) return &e[i];
    return NULL;
}

TEST(profile_splits_forward_backward_and_counts_flops) {
    gt_profile_enable(true);
    int64_t sa[2] = {3, 5}, sb[2] = {5, 7};
    gt_tensor *a = gt_full(2, sa, 0.5f), *b = gt_full(2, sb, 0.25f);
    gt_set_requires_grad(a, true);
    gt_set_requires_grad(b, true);
    gt_profile_mark("setup");
    gt_tensor *loss = gt_sum_all(gt_matmul(a, b, false, false));
    gt_backward(loss);
    gt_profile_mark("after");
    gt_profile_entry e[GT_PROFILE_MAX_ENTRIES];
    int n = gt_profile_entries(e, GT_PROFILE_MAX_ENTRIES);
    const gt_profile_entry *mm = entry(e, n, "matmul"), *setup = entry(e, n, "setup");
    CHECK(mm && mm->is_op && mm->fwd_calls == 1 && mm->fwd_flop == 2.0 * 3 * 7 * 5);
    /* backward: dA = dY B^T and dB = A^T dY, 2 M N K each */
    CHECK(mm && mm->bwd_calls == 2 && mm->bwd_flop == 2 * 2.0 * 3 * 7 * 5);
    CHECK(setup && !setup->is_op && setup->fwd_calls == 1 && entry(e, n, "after"));
    /* memory: the product's 3 x 7 floats (64-byte aligned) and its node in the forward; dA and dB
     * (3 x 5 and 5 x 7) in backward; the peak holds all of it */
    CHECK(mm && mm->fwd_bytes >= 3 * 7 * 4 && mm->fwd_bytes < 1024);
    CHECK(mm && mm->bwd_bytes >= (3 * 5 + 5 * 7) * 4);
    CHECK(gt_profile_step_peak() >= (size_t)(mm->fwd_bytes + mm->bwd_bytes));
    /* a new step starts from an empty arena: a second product (no node now) is charged its own
     * output, and the peak stays the first step's */
    size_t peak = gt_profile_step_peak();
    double fwd = mm->fwd_bytes;
    gt_step_end();
    a = gt_full(2, sa, 0.5f);
    b = gt_full(2, sb, 0.25f);
    gt_profile_mark("setup");
    (void)gt_matmul(a, b, false, false);
    n = gt_profile_entries(e, GT_PROFILE_MAX_ENTRIES);
    mm = entry(e, n, "matmul");
    CHECK(mm && mm->fwd_calls == 2 && mm->fwd_bytes >= fwd + 3 * 7 * 4 && gt_profile_step_peak() == peak);
    gt_profile_enable(false);
    gt_tensor *more = gt_matmul(a, b, false, false);
    CHECK(more != NULL && gt_profile_entries(e, GT_PROFILE_MAX_ENTRIES) == 0);
    gt_step_end();
}

int main(void) {
    int rc;
    RUN_TESTS_INTO(rc, T(backward_accumulates_into_leaves), T(grad_returns_without_touching_leaves),
                   T(create_graph_gives_second_derivatives), T(no_grad_and_detach_record_nothing),
                   T(grad_walk_skips_branches_that_do_not_reach_inputs),
                   T(views_share_data_and_support_five_dims), T(step_arena_reuses_its_blocks),
                   T(arena_alignment_and_reset), T(rng_state_is_explicit_and_reproducible),
                   T(profile_splits_forward_backward_and_counts_flops));
    gt_runtime_free();
    return rc;
}
