/* Layers and model families: gradients of every layer to second order (batch norm in training
 * mode included), running statistics, initialisers, model shapes and parameter counts, and
 * errors for bad specifications. */
#include <math.h>
#include <string.h>

#include "gradcheck.h"
#include "nn/model.h"
#include "test.h"

/* ---- layer gradient checks: in[0] is the layer input, in[1..] the table's trainables ---- */

typedef struct {
    gt_params *p;
    gt_tensor *(*apply)(const gt_fwd *f, gt_tensor *x, const void *layer);
    const void *layer;
    bool train;
} layer_check;

/* The forward with the gradcheck's tensors standing in for the table's trainables. */
static gt_tensor *run_layer(gt_tensor *const *in, const void *ctx) {
    const layer_check *lc = ctx;
    gt_tensor *t[16];
    for (int i = 0, k = 1; i < lc->p->n; i++)
        t[i] = lc->p->spec[i].kind == GT_PARAM_TRAINABLE ? in[k++] : lc->p->t[i];
    gt_fwd f = {.t = t, .params = lc->p, .train = lc->train};
    return gt_square(lc->apply(&f, in[0], lc->layer));
}

static int check_layer(const char *name, gt_params *p, gt_tensor *x, const void *layer,
                       gt_tensor *(*apply)(const gt_fwd *, gt_tensor *, const void *), bool train) {
    gt_tensor *in[16] = {x};
    int n = 1;
    for (int i = 0; i < p->n; i++)
        if (p->spec[i].kind == GT_PARAM_TRAINABLE) in[n++] = p->t[i];
    layer_check lc = {p, apply, layer, train};
    return gc_check(name, n, in, run_layer, &lc, true, gc_tol_default());
}

static gt_tensor *ap_linear(const gt_fwd *f, gt_tensor *x, const void *l) { return gt_linear_forward(l, f, x); }
static gt_tensor *ap_conv(const gt_fwd *f, gt_tensor *x, const void *l) { return gt_conv2d_forward(l, f, x); }
static gt_tensor *ap_convT(const gt_fwd *f, gt_tensor *x, const void *l) { return gt_conv_transpose2d_forward(l, f, x); }
static gt_tensor *ap_bn(const gt_fwd *f, gt_tensor *x, const void *l) { return gt_batchnorm_forward(l, f, x); }
static gt_tensor *ap_ln(const gt_fwd *f, gt_tensor *x, const void *l) { return gt_layernorm_forward(l, f, x); }
static gt_tensor *ap_maxout(const gt_fwd *f, gt_tensor *x, const void *l) { return gt_maxout_forward(l, f, x); }

static gt_tensor *leaf(gt_arena *a, gt_rng *rng, int ndim, const int64_t *shape) {
    gt_tensor *t = gt_param_new(a, ndim, shape);
    gt_fill_normal(rng, t, 0, 1);
    return t;
}

static void randomize(gt_params *p, gt_rng *rng) {
    for (int i = 0; i < p->n; i++)
        if (p->spec[i].kind == GT_PARAM_TRAINABLE) gt_fill_normal(rng, p->t[i], 0, 0.5f);
}

TEST(layers_second_order) {
    gt_arena *a = gt_arena_new(1 << 16);
    gt_rng rng = gt_rng_seed(5);
    gt_params p;

    gt_params_init(&p);
    gt_linear_layer lin = gt_linear_declare(&p, "lin", 3, 2, true);
    gt_params_finalize(&p, a);
    randomize(&p, &rng);
    CHECK(check_layer("linear", &p, leaf(a, &rng, 2, (int64_t[]){4, 3}), &lin, ap_linear, true) == 0);
    gt_params_release(&p);

    gt_params_init(&p);
    gt_conv_layer conv = gt_conv2d_declare(&p, "conv", 2, 3, 4, 2, 1, true);
    gt_params_finalize(&p, a);
    randomize(&p, &rng);
    CHECK(check_layer("conv2d layer", &p, leaf(a, &rng, 4, (int64_t[]){2, 2, 4, 4}), &conv, ap_conv, true) == 0);
    gt_params_release(&p);

    gt_params_init(&p);
    gt_conv_layer ct = gt_conv_transpose2d_declare(&p, "ct", 3, 2, 4, 2, 1, 0, true);
    gt_params_finalize(&p, a);
    randomize(&p, &rng);
    CHECK(check_layer("conv_transpose2d layer", &p, leaf(a, &rng, 4, (int64_t[]){2, 3, 2, 2}), &ct, ap_convT, true) == 0);
    gt_params_release(&p);

    for (int four_d = 0; four_d < 2; four_d++) {
        gt_params_init(&p);
        gt_batchnorm_layer bn = gt_batchnorm_declare(&p, "bn", 3);
        gt_params_finalize(&p, a);
        randomize(&p, &rng);
        gt_tensor *x = four_d ? leaf(a, &rng, 4, (int64_t[]){3, 3, 2, 2}) : leaf(a, &rng, 2, (int64_t[]){5, 3});
        CHECK(check_layer(four_d ? "batchnorm2d train" : "batchnorm1d train", &p, x, &bn, ap_bn, true) == 0);
        CHECK(check_layer("batchnorm eval", &p, x, &bn, ap_bn, false) == 0);
        gt_params_release(&p);
    }

    gt_params_init(&p);
    gt_layernorm_layer ln = gt_layernorm_declare(&p, "ln", 3, (int64_t[]){2, 2, 2});
    gt_params_finalize(&p, a);
    randomize(&p, &rng);
    CHECK(check_layer("layernorm", &p, leaf(a, &rng, 4, (int64_t[]){3, 2, 2, 2}), &ln, ap_ln, true) == 0);
    gt_params_release(&p);
    gt_arena_free(a);
}

/* Maxout: y[n, j] = max_k (x W^T + b)[n, j pieces + k] against a naive loop in double, and its
 * gradients to second order in x, W and b (mixed terms included: a gradient penalty's). */
TEST(maxout_forward_and_second_order) {
    gt_arena *a = gt_arena_new(1 << 16);
    gt_rng rng = gt_rng_seed(11);
    gt_params p;
    gt_params_init(&p);
    enum { N = 4, IN = 3, OUT = 2, K = 3 };
    gt_maxout_layer mo = gt_maxout_declare(&p, "mo", IN, OUT, K, true);
    gt_params_finalize(&p, a);
    randomize(&p, &rng);
    gt_tensor *x = leaf(a, &rng, 2, (int64_t[]){N, IN});
    gt_fwd f = gt_fwd_of(&p, true);
    gt_tensor *y = gt_maxout_forward(&mo, &f, x);
    CHECK(y->ndim == 2 && y->shape[0] == N && y->shape[1] == OUT);
    const float *w = p.t[mo.lin.w]->data, *b = p.t[mo.lin.b]->data;
    double worst = 0;
    for (int n = 0; n < N; n++)
        for (int j = 0; j < OUT; j++) {
            double best = -INFINITY;
            for (int k = 0; k < K; k++) {
                int row = j * K + k;
                double v = b[row];
                for (int i = 0; i < IN; i++) v += (double)x->data[n * IN + i] * w[row * IN + i];
                best = fmax(best, v);
            }
            worst = fmax(worst, fabs(best - y->data[n * OUT + j]));
        }
    CHECK(worst < 1e-5);
    gt_step_end();
    CHECK(check_layer("maxout", &p, x, &mo, ap_maxout, true) == 0);
    gt_params_release(&p);
    gt_arena_free(a);
}

/* Running statistics follow PyTorch: momentum 0.1, unbiased variance. */
TEST(batchnorm_running_statistics) {
    gt_arena *a = gt_arena_new(1 << 12);
    gt_params p;
    gt_params_init(&p);
    gt_batchnorm_layer bn = gt_batchnorm_declare(&p, "bn", 1);
    gt_params_finalize(&p, a);
    gt_fill(p.t[bn.weight], 1);
    gt_fill(p.t[bn.var], 1);
    float xs[4] = {1, 2, 3, 6}; /* mean 3, biased var 3.5, unbiased 14/3 */
    gt_tensor *x = gt_from_data(2, (int64_t[]){4, 1}, xs);
    gt_fwd f = gt_fwd_of(&p, true);
    gt_tensor *y = gt_batchnorm_forward(&bn, &f, x);
    CHECK_NEAR(p.t[bn.mean]->data[0], 0.3, 1e-6);
    CHECK_NEAR(p.t[bn.var]->data[0], 0.9 + 0.1 * 14.0 / 3.0, 1e-6);
    CHECK_NEAR(y->data[3], 3 / sqrt(3.5 + 1e-5), 1e-5);
    f.train = false;
    y = gt_batchnorm_forward(&bn, &f, x);
    CHECK_NEAR(y->data[0], (1 - 0.3) / sqrt(0.9 + 0.1 * 14.0 / 3.0 + 1e-5), 1e-5);
    gt_step_end();
    gt_params_release(&p);
    gt_arena_free(a);
}

TEST(embedding_rows_and_gradient) {
    gt_arena *a = gt_arena_new(1 << 12);
    gt_params p;
    gt_params_init(&p);
    gt_embedding_layer e = gt_embedding_declare(&p, "emb", 4, 3);
    gt_params_finalize(&p, a);
    for (int i = 0; i < 12; i++) p.t[e.w]->data[i] = (float)i;
    int32_t ids[3] = {2, 0, 2};
    gt_fwd f = gt_fwd_of(&p, true);
    gt_tensor *y = gt_embedding_forward(&e, &f, ids, 3);
    CHECK(y->shape[0] == 3 && y->shape[1] == 3 && y->data[0] == 6 && y->data[3] == 0);
    gt_backward(gt_sum_all(y));
    CHECK(p.t[e.w]->grad->data[6] == 2 && p.t[e.w]->grad->data[0] == 1 && p.t[e.w]->grad->data[3] == 0);
    gt_step_end();
    gt_params_release(&p);
    gt_arena_free(a);
}

static double stddev(const gt_tensor *t) {
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < t->numel; i++) {
        s += t->data[i];
        s2 += (double)t->data[i] * t->data[i];
    }
    return sqrt(s2 / t->numel - (s / t->numel) * (s / t->numel));
}

TEST(initialisers) {
    gt_arena *a = gt_arena_new(1 << 20);
    gt_rng rng = gt_rng_seed(1);
    gt_tensor *w = gt_tensor_new_in(a, 4, (int64_t[]){64, 32, 4, 4});
    gt_init_tensor(w, GT_INIT_NORMAL, 0.02, 0, &rng);
    CHECK_NEAR(stddev(w), 0.02, 0.001);
    gt_init_tensor(w, GT_INIT_KAIMING, 0, 0, &rng);
    CHECK_NEAR(stddev(w), sqrt(2.0 / (32 * 16)), 0.003);
    gt_init_tensor(w, GT_INIT_XAVIER, 0, 0, &rng);
    double bound = sqrt(6.0 / (32 * 16 + 64 * 16));
    bool inside = true;
    for (int64_t i = 0; i < w->numel; i++) inside = inside && fabs(w->data[i]) <= bound;
    CHECK(inside && fabs(stddev(w) - bound / sqrt(3)) < 0.003);
    for (int tall = 0; tall < 2; tall++) {
        int64_t r = tall ? 12 : 5, c = tall ? 5 : 12;
        gt_tensor *q = gt_tensor_new_in(a, 2, (int64_t[]){r, c});
        gt_init_tensor(q, GT_INIT_ORTHOGONAL, 0, 0, &rng);
        int64_t small = tall ? c : r; /* Q^T Q = I (tall) or Q Q^T = I (wide) */
        double worst = 0;
        for (int64_t i = 0; i < small; i++)
            for (int64_t j = 0; j < small; j++) {
                double d = 0;
                for (int64_t k = 0; k < (tall ? r : c); k++)
                    d += tall ? (double)q->data[k * c + i] * q->data[k * c + j]
                              : (double)q->data[i * c + k] * q->data[j * c + k];
                worst = fmax(worst, fabs(d - (i == j)));
            }
        CHECK(worst < 1e-5);
    }
    gt_step_end();
    gt_arena_free(a);
}

static gt_net_spec spec(gt_role role, const char *family, int res, const char *norm) {
    gt_net_spec s = {.role = role, .z_dim = 100, .width = 64, .depth = 3, .init_std = 0.02,
                     .c = 1, .h = res, .w = res};
    strcpy(s.family, family);
    strcpy(s.activation, "relu");
    strcpy(s.norm, norm);
    strcpy(s.init, "normal");
    return s;
}

static int64_t trainable_count(const gt_model *m) { return m->params.numel_trainable; }

/* DCGAN-28 must be exactly protocols.md's model: the parameter counts PyTorch reports. */
TEST(dcgan28_matches_the_protocol_model) {
    gt_arena *a = gt_arena_new(1 << 20);
    gt_rng rng = gt_rng_seed(0);
    gt_error err;
    gt_model g, d;
    gt_net_spec gs = spec(GT_ROLE_GENERATOR, "dcgan", 28, "batch");
    gt_net_spec ds = spec(GT_ROLE_DISCRIMINATOR, "dcgan", 28, "batch");
    CHECK(gt_model_build(&g, &gs, a, &rng, &err) == 0);
    CHECK(gt_model_build(&d, &ds, a, &rng, &err) == 0);
    CHECK(trainable_count(&g) == 1266944 + 25088 + 524416 + 256 + 2049);
    CHECK(trainable_count(&d) == 1088 + 131200 + 256 + 6273);
    gt_tensor *z = gt_rand_normal(&rng, 2, (int64_t[]){3, 100}, 0, 1);
    gt_fwd fg = gt_fwd_of(&g.params, true), fd = gt_fwd_of(&d.params, true);
    gt_tensor *x = gt_model_forward(&g, &fg, z, NULL);
    CHECK(x->ndim == 4 && x->shape[0] == 3 && x->shape[1] == 1 && x->shape[2] == 28);
    gt_tensor *feat;
    gt_tensor *logit = gt_model_forward(&d, &fd, x, &feat);
    CHECK(logit->shape[0] == 3 && logit->shape[1] == 1 && feat->shape[1] == 6272);
    gt_step_end();
    gt_model_release(&g);
    gt_model_release(&d);
    gt_arena_free(a);
}

TEST(families_build_every_supported_shape) {
    gt_arena *a = gt_arena_new(1 << 20);
    gt_rng rng = gt_rng_seed(0);
    gt_error err;
    const char *norms[3] = {"batch", "layer", "none"};
    for (int r = 0; r < 3; r++) {
        int res = (int[]){28, 32, 64}[r];
        gt_net_spec gs = spec(GT_ROLE_GENERATOR, "dcgan", res, norms[r]);
        gt_net_spec ds = spec(GT_ROLE_DISCRIMINATOR, "dcgan", res, norms[r]);
        gs.width = ds.width = 8;
        gs.c = ds.c = 3;
        gt_model g, d;
        CHECK(gt_model_build(&g, &gs, a, &rng, &err) == 0);
        CHECK(gt_model_build(&d, &ds, a, &rng, &err) == 0);
        gt_fwd fg = gt_fwd_of(&g.params, true), fd = gt_fwd_of(&d.params, true);
        gt_tensor *x = gt_model_forward(&g, &fg, gt_rand_normal(&rng, 2, (int64_t[]){2, 100}, 0, 1), NULL);
        CHECK(x->shape[1] == 3 && x->shape[2] == res && x->shape[3] == res);
        CHECK(gt_model_forward(&d, &fd, x, NULL)->numel == 2);
        gt_step_end();
        gt_model_release(&g);
        gt_model_release(&d);
    }
    gt_net_spec gs = spec(GT_ROLE_GENERATOR, "mlp", 1, "none"), ds = gs;
    ds.role = GT_ROLE_DISCRIMINATOR;
    gs.c = ds.c = 2;
    gs.width = ds.width = 16;
    gs.z_dim = 4;
    gt_model g, d;
    CHECK(gt_model_build(&g, &gs, a, &rng, &err) == 0 && gt_model_build(&d, &ds, a, &rng, &err) == 0);
    gt_fwd fg = gt_fwd_of(&g.params, true), fd = gt_fwd_of(&d.params, true);
    gt_tensor *pts = gt_model_forward(&g, &fg, gt_rand_normal(&rng, 2, (int64_t[]){5, 4}, 0, 1), NULL);
    CHECK(pts->ndim == 2 && pts->shape[0] == 5 && pts->shape[1] == 2);
    CHECK(gt_model_forward(&d, &fd, pts, NULL)->shape[0] == 5);
    gt_step_end();
    gt_model_release(&d);
    /* PacGAN's G: hidden layers without biases (batch norm's shift stands in), output with one */
    gt_net_spec nb = gs;
    nb.no_hidden_bias = true;
    gt_model g_nb;
    CHECK(gt_model_build(&g_nb, &nb, a, &rng, &err) == 0);
    CHECK(trainable_count(&g) - trainable_count(&g_nb) == 3 * 16);
    gt_model_release(&g_nb);
    /* PacGAN's D: maxout layers of width x pieces linear units, then one logit */
    strcpy(ds.activation, "maxout");
    ds.maxout_pieces = 5;
    CHECK(gt_model_build(&d, &ds, a, &rng, &err) == 0);
    CHECK(trainable_count(&d) == (2 * 80 + 80) + 2 * (16 * 80 + 80) + (16 + 1));
    fd = gt_fwd_of(&d.params, true);
    pts = gt_rand_normal(&rng, 2, (int64_t[]){5, 2}, 0, 1); /* the step that held G's ended */
    CHECK(gt_model_forward(&d, &fd, pts, NULL)->shape[0] == 5);
    gt_step_end();
    gt_model_release(&g);
    gt_model_release(&d);
    gt_arena_free(a);
}

TEST(bad_specs_are_errors) {
    gt_arena *a = gt_arena_new(1 << 16);
    gt_rng rng = gt_rng_seed(0);
    gt_error err;
    gt_model m;
    gt_net_spec s = spec(GT_ROLE_GENERATOR, "dcgan", 30, "batch");
    CHECK(gt_model_build(&m, &s, a, &rng, &err) < 0 && strstr(err.msg, "28, 32 or 64"));
    s = spec(GT_ROLE_GENERATOR, "biggan", 28, "batch");
    CHECK(gt_model_build(&m, &s, a, &rng, &err) < 0 && strstr(err.msg, "dcgan|mlp"));
    s = spec(GT_ROLE_DISCRIMINATOR, "dcgan", 28, "group");
    CHECK(gt_model_build(&m, &s, a, &rng, &err) < 0 && strstr(err.msg, "batch|layer|none"));
    s = spec(GT_ROLE_DISCRIMINATOR, "mlp", 28, "none");
    strcpy(s.activation, "gelu");
    CHECK(gt_model_build(&m, &s, a, &rng, &err) < 0 && strstr(err.msg, "gelu"));
    strcpy(s.activation, "maxout");
    CHECK(gt_model_build(&m, &s, a, &rng, &err) < 0 && strstr(err.msg, "model.d.maxout_pieces >= 2"));
    strcpy(s.activation, "relu");
    s.maxout_pieces = 5;
    CHECK(gt_model_build(&m, &s, a, &rng, &err) < 0 && strstr(err.msg, "model.d.maxout_pieces = 5"));
    s = spec(GT_ROLE_DISCRIMINATOR, "dcgan", 28, "none");
    strcpy(s.activation, "maxout");
    s.maxout_pieces = 5;
    CHECK(gt_model_build(&m, &s, a, &rng, &err) < 0 && strstr(err.msg, "mlp family"));
    s = spec(GT_ROLE_GENERATOR, "dcgan", 28, "batch");
    s.no_hidden_bias = true;
    CHECK(gt_model_build(&m, &s, a, &rng, &err) < 0 && strstr(err.msg, "model.g.hidden_bias = false"));
    gt_arena_free(a);
}

int main(void) {
    int rc;
    RUN_TESTS_INTO(rc, T(layers_second_order), T(maxout_forward_and_second_order),
                   T(batchnorm_running_statistics),
                   T(embedding_rows_and_gradient), T(initialisers),
                   T(dcgan28_matches_the_protocol_model), T(families_build_every_supported_shape),
                   T(bad_specs_are_errors));
    gt_runtime_free();
    return rc;
}
