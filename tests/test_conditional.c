/* Class-conditional networks (src/nn/conditional.c, train.conditional): conditional batch norm
 * and the projection discriminator against hand computations in double, the labels reaching G
 * and D (a sample's output follows its own label only), gradients of conditional batch norm to
 * second order, every forward of a GAN step seeing the labels (D's loss, the penalties, the
 * unrolled D, G's loss), and the PNG loader's class sub-folders. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli_support.h"
#include "data/data.h"
#include "gan/gan.h"
#include "gradcheck.h"
#include "nn/model.h"
#include "test.h"

static gt_tensor *leaf(gt_arena *a, gt_rng *rng, int ndim, const int64_t *shape, float std) {
    gt_tensor *t = gt_param_new(a, ndim, shape);
    gt_fill_normal(rng, t, 0, std);
    return t;
}

static gt_net_spec spec(gt_role role, int classes) {
    gt_net_spec s = {.role = role, .z_dim = 8, .width = 4, .depth = 2, .init_std = 0.02,
                     .c = 1, .h = 28, .w = 28, .n_classes = classes};
    strcpy(s.family, "dcgan");
    strcpy(s.activation, "relu");
    strcpy(s.norm, role == GT_ROLE_GENERATOR ? "batch" : "none");
    strcpy(s.init, "normal");
    return s;
}

/* Conditional batch norm, training and evaluation mode, against the formula in double:
 * y = gamma[y_i, c] (x - mu_c) / sqrt(var_c + eps) + beta[y_i, c], var biased; the running
 * statistics move as batch norm's (momentum 0.1, unbiased variance). */
TEST(conditional_batch_norm_matches_hand_computation) {
    gt_arena *a = gt_arena_new(1 << 16);
    gt_rng rng = gt_rng_seed(3);
    gt_params p;
    gt_params_init(&p);
    enum { N = 4, C = 3, S = 4, K = 3 };
    gt_cbn_layer l = gt_cbn_declare(&p, "norm1", C, K);
    gt_params_finalize(&p, a);
    gt_fill_normal(&rng, p.t[l.bn.weight], 1, 0.5f);
    gt_fill_normal(&rng, p.t[l.bn.bias], 0, 0.5f);
    gt_fill(p.t[l.bn.mean], 0);
    gt_fill(p.t[l.bn.var], 1);
    CHECK(p.spec[l.bn.weight].shape[0] == K && p.spec[l.bn.weight].shape[1] == C);
    CHECK(p.spec[l.bn.mean].kind == GT_PARAM_BUFFER && p.spec[l.bn.mean].shape[0] == C);
    int32_t y[N] = {0, 2, 1, 2};
    gt_tensor *x = leaf(a, &rng, 4, (int64_t[]){N, C, 2, 2}, 1.5f);
    gt_fwd f = gt_fwd_labelled(&(gt_fwd){.t = p.t, .params = &p, .train = true}, y);
    gt_tensor *out = gt_cbn_forward(&l, &f, x);
    const float *g = p.t[l.bn.weight]->data, *b = p.t[l.bn.bias]->data;
    double worst = 0, mean[C], var[C];
    for (int c = 0; c < C; c++) {
        double s = 0, ss = 0;
        for (int i = 0; i < N; i++)
            for (int k = 0; k < S; k++) s += x->data[(i * C + c) * S + k];
        mean[c] = s / (N * S);
        for (int i = 0; i < N; i++)
            for (int k = 0; k < S; k++) {
                double d = x->data[(i * C + c) * S + k] - mean[c];
                ss += d * d;
            }
        var[c] = ss / (N * S);
        for (int i = 0; i < N; i++)
            for (int k = 0; k < S; k++) {
                int at = (i * C + c) * S + k;
                double want = g[y[i] * C + c] * (x->data[at] - mean[c]) / sqrt(var[c] + 1e-5) +
                              b[y[i] * C + c];
                worst = fmax(worst, fabs(want - out->data[at]));
            }
        CHECK_NEAR(p.t[l.bn.mean]->data[c], 0.1 * mean[c], 1e-5);
        CHECK_NEAR(p.t[l.bn.var]->data[c], 0.9 + 0.1 * var[c] * (N * S) / (N * S - 1), 1e-5);
    }
    CHECK(worst < 1e-5);
    /* evaluation: the running statistics */
    gt_fwd fe = gt_fwd_labelled(&(gt_fwd){.t = p.t, .params = &p, .train = false}, y);
    out = gt_cbn_forward(&l, &fe, x);
    worst = 0;
    for (int i = 0; i < N; i++)
        for (int c = 0; c < C; c++)
            for (int k = 0; k < S; k++) {
                int at = (i * C + c) * S + k;
                double m = p.t[l.bn.mean]->data[c], v = p.t[l.bn.var]->data[c];
                double want = g[y[i] * C + c] * (x->data[at] - m) / sqrt(v + 1e-5) + b[y[i] * C + c];
                worst = fmax(worst, fabs(want - out->data[at]));
            }
    CHECK(worst < 1e-5);
    gt_step_end();
    gt_params_release(&p);
    gt_arena_free(a);
}

typedef struct { gt_cbn_layer l; const int32_t *y; } cbn_ctx;

static gt_tensor *cbn_fn(gt_tensor *const *in, const void *ctx) {
    const cbn_ctx *c = ctx;
    gt_tensor *t[4] = {in[1], in[2], NULL, NULL};
    int64_t s = 3;
    t[2] = gt_full(1, &s, 0.0f);
    t[3] = gt_full(1, &s, 1.0f);
    gt_fwd f = {.t = t, .params = NULL, .train = true, .labels = c->y};
    /* the running statistics land in step tensors: the check sees only the output */
    return gt_cbn_forward(&c->l, &f, in[0]);
}

TEST(conditional_batch_norm_gradients_to_second_order) {
    gt_arena *a = gt_arena_new(1 << 16);
    gt_rng rng = gt_rng_seed(5);
    static const int32_t y[5] = {1, 0, 1, 1, 0};
    cbn_ctx ctx = {.l = {.bn = {.weight = 0, .bias = 1, .mean = 2, .var = 3, .momentum = 0.1,
                                .eps = 1e-5}, .classes = 2}, .y = y};
    gt_tensor *in[3] = {leaf(a, &rng, 4, (int64_t[]){5, 3, 2, 2}, 1),
                        leaf(a, &rng, 2, (int64_t[]){2, 3}, 1), leaf(a, &rng, 2, (int64_t[]){2, 3}, 1)};
    CHECK(gc_check("conditional batch norm", 3, in, cbn_fn, &ctx, true, gc_tol_default()) == 0);
    gt_arena_free(a);
}

/* D's projection: with the rest of D fixed (no batch coupling: norm none), changing sample i's
 * label from y to y' changes its logit by <E[y] - E[y'], h_i> (h: D's features) and no other
 * logit. */
TEST(projection_matches_hand_computation) {
    gt_arena *a = gt_arena_new(1 << 20);
    gt_rng rng = gt_rng_seed(7);
    gt_error err;
    gt_net_spec s = spec(GT_ROLE_DISCRIMINATOR, 3);
    gt_model d;
    CHECK(gt_model_build(&d, &s, a, &rng, &err) == 0);
    int e = gt_params_find(&d.params, "proj.weight");
    CHECK(e >= 0 && d.params.spec[e].shape[0] == 3);
    gt_fill_normal(&rng, d.params.t[e], 0, 1);
    gt_tensor *x = gt_rand_normal(&rng, 4, (int64_t[]){4, 1, 28, 28}, 0, 1);
    int32_t y0[4] = {0, 1, 2, 0}, y1[4] = {2, 1, 0, 0};
    gt_fwd f = gt_fwd_of(&d.params, false), f0 = gt_fwd_labelled(&f, y0), f1 = gt_fwd_labelled(&f, y1);
    gt_tensor *h = NULL;
    gt_tensor *l0 = gt_model_forward(&d, &f0, x, &h);
    gt_tensor *l1 = gt_model_forward(&d, &f1, x, NULL);
    int64_t F = h->shape[1];
    CHECK(d.params.spec[e].shape[1] == F);
    const float *E = d.params.t[e]->data;
    for (int i = 0; i < 4; i++) {
        double want = 0;
        for (int64_t j = 0; j < F; j++)
            want += ((double)E[y0[i] * F + j] - E[y1[i] * F + j]) * h->data[i * F + j];
        CHECK_NEAR(l0->data[i] - l1->data[i], want, 1e-4 * (1 + fabs(want)));
    }
    CHECK(l0->data[0] != l1->data[0] && l0->data[1] == l1->data[1] && l0->data[3] == l1->data[3]);
    gt_step_end();
    /* with spectral norm the embedding is normalized too (its u is a buffer) */
    gt_model dsn;
    s.spectral_norm = true;
    s.sn_iterations = 1;
    CHECK(gt_model_build(&dsn, &s, a, &rng, &err) == 0);
    CHECK(gt_params_find(&dsn.params, "proj.weight_u") >= 0);
    gt_model_release(&dsn);
    gt_model_release(&d);
    gt_arena_free(a);
}

/* G in evaluation mode: a sample's image follows its own label, and only its own. */
TEST(generator_follows_its_labels) {
    gt_arena *a = gt_arena_new(1 << 20);
    gt_rng rng = gt_rng_seed(9);
    gt_error err;
    gt_net_spec s = spec(GT_ROLE_GENERATOR, 4);
    gt_model g;
    CHECK(gt_model_build(&g, &s, a, &rng, &err) == 0);
    int w = gt_params_find(&g.params, "norm1.weight");
    CHECK(w >= 0 && g.params.spec[w].ndim == 2 && g.params.spec[w].shape[0] == 4);
    CHECK(g.params.t[w]->data[0] == 1.0f); /* gamma starts at 1 */
    /* distinct per-class rows, as training would make them */
    for (int i = 0; i < g.params.n; i++)
        if (strstr(g.params.spec[i].name, "norm") && g.params.spec[i].ndim == 2)
            gt_fill_normal(&rng, g.params.t[i], 1, 0.3f);
    gt_tensor *z = gt_rand_normal(&rng, 2, (int64_t[]){3, 8}, 0, 1);
    int32_t y0[3] = {0, 1, 2}, y1[3] = {3, 1, 2};
    gt_fwd f = gt_fwd_of(&g.params, false), f0 = gt_fwd_labelled(&f, y0), f1 = gt_fwd_labelled(&f, y1);
    gt_tensor *a0 = gt_model_forward(&g, &f0, z, NULL), *a1 = gt_model_forward(&g, &f1, z, NULL);
    int64_t per = 28 * 28;
    CHECK(memcmp(a0->data, a1->data, per * sizeof(float)) != 0);
    CHECK(memcmp(a0->data + per, a1->data + per, 2 * per * sizeof(float)) == 0);
    gt_step_end();
    /* a G norm other than batch has no conditional form */
    strcpy(s.norm, "layer");
    gt_model bad;
    CHECK(gt_model_build(&bad, &s, a, &rng, &err) < 0 && strstr(err.msg, "model.g.norm = batch"));
    /* families without a conditional form say so */
    s = spec(GT_ROLE_GENERATOR, 4);
    strcpy(s.family, "mlp");
    CHECK(gt_model_build(&bad, &s, a, &rng, &err) < 0 && strstr(err.msg, "train.conditional"));
    gt_model_release(&g);
    gt_arena_free(a);
}

/* A full GAN step with penalties and unrolling reads the labels: the same step with other fake
 * labels (or other real labels) ends with other weights. */
static void run_step(const int32_t *yr, const int32_t *yf, float *g_out, float *d_out, int64_t *ng,
                     int64_t *nd) {
    gt_arena *a = gt_arena_new(1 << 22);
    gt_rng rng = gt_rng_seed(11);
    gt_error err;
    gt_net_spec gs = spec(GT_ROLE_GENERATOR, 3), ds = spec(GT_ROLE_DISCRIMINATOR, 3);
    strcpy(ds.norm, "layer");
    gt_model g, d;
    gt_model_build(&g, &gs, a, &rng, &err);
    gt_model_build(&d, &ds, a, &rng, &err);
    gt_optim og, od;
    gt_optim_cfg oc = {.type = GT_OPTIM_ADAM, .lr = 1e-2, .beta1 = 0.5, .beta2 = 0.999, .eps = 1e-8};
    gt_optim_init(&og, &g.params, &oc, a);
    gt_optim_init(&od, &d.params, &oc, a);
    gt_gan gan;
    gt_gan_init(&gan, &g, &og, &d, &od, 1);
    gan.penalty.gp = 1;
    gan.penalty.r1 = 1;
    gan.penalty.r2 = 1;
    gan.unroll.steps = 1;
    gan.real_labels = yr;
    gan.fake_labels = yf;
    gt_tensor *real = gt_rand_normal(&rng, 4, (int64_t[]){4, 1, 28, 28}, 0, 0.5f);
    gt_tensor *z = gt_rand_normal(&rng, 2, (int64_t[]){4, 8}, 0, 1);
    gt_step_stats st;
    gt_tensor *fake = gt_gan_d_step(&gan, 0, 0, real, z, &st);
    gt_gan_g_step(&gan, 0, fake, real, &st);
    CHECK(!st.nonfinite);
    gt_step_end();
    *ng = g.params.numel_trainable;
    *nd = d.params.numel_trainable;
    memcpy(g_out, g.params.flat->data, (size_t)*ng * sizeof(float));
    memcpy(d_out, d.params.flat->data, (size_t)*nd * sizeof(float));
    gt_model_release(&g);
    gt_model_release(&d);
    gt_arena_free(a);
}

TEST(gan_step_reads_the_labels) {
    enum { MAX = 1 << 17 };
    float *g[3], *d[3];
    int64_t ng = 0, nd = 0;
    int32_t base[4] = {0, 1, 2, 0}, other[4] = {1, 1, 2, 0};
    for (int i = 0; i < 3; i++) {
        g[i] = malloc(MAX * sizeof(float));
        d[i] = malloc(MAX * sizeof(float));
    }
    run_step(base, base, g[0], d[0], &ng, &nd);
    CHECK(ng < MAX && nd < MAX);
    run_step(other, base, g[1], d[1], &ng, &nd);  /* real labels: D's update, G's via unrolling */
    run_step(base, other, g[2], d[2], &ng, &nd);  /* fake labels: G's forward and D on fakes */
    CHECK(memcmp(d[0], d[1], (size_t)nd * sizeof(float)) != 0);
    CHECK(memcmp(g[0], g[1], (size_t)ng * sizeof(float)) != 0);
    CHECK(memcmp(d[0], d[2], (size_t)nd * sizeof(float)) != 0);
    CHECK(memcmp(g[0], g[2], (size_t)ng * sizeof(float)) != 0);
    for (int i = 0; i < 3; i++) {
        free(g[i]);
        free(d[i]);
    }
}

/* The penalty's gradient is w.r.t. the image: labels enter D but take no gradient. */
TEST(penalty_gradient_sees_the_labels) {
    gt_arena *a = gt_arena_new(1 << 20);
    gt_rng rng = gt_rng_seed(13);
    gt_error err;
    gt_net_spec s = spec(GT_ROLE_DISCRIMINATOR, 2);
    gt_model d;
    CHECK(gt_model_build(&d, &s, a, &rng, &err) == 0);
    gt_fill_normal(&rng, d.params.t[gt_params_find(&d.params, "proj.weight")], 0, 1);
    gt_critic c = {.net = &d};
    gt_tensor *x = gt_rand_normal(&rng, 4, (int64_t[]){2, 1, 28, 28}, 0, 1);
    int32_t y0[2] = {0, 0}, y1[2] = {1, 0};
    gt_fwd f = gt_fwd_of(&d.params, false), f0 = gt_fwd_labelled(&f, y0), f1 = gt_fwd_labelled(&f, y1);
    gt_tensor *n0 = gt_critic_grad_sq_norm(&c, &f0, x), *n1 = gt_critic_grad_sq_norm(&c, &f1, x);
    CHECK(n0->data[0] != n1->data[0] && n0->data[1] == n1->data[1]);
    gt_step_end();
    gt_model_release(&d);
    gt_arena_free(a);
}

/* PNG folders: class sub-folders sorted by name give the labels; a folder with images of its
 * own stays unlabelled. */
TEST(png_class_folders) {
    char dir[64];
    if (!cli_scratch_new(dir)) {
        CHECK(false);
        return;
    }
    char path[256];
    const char *cls[2] = {"boots", "apples"}; /* apples sorts first: class 0 */
    int counts[2] = {3, 2};
    bool ok = true;
    for (int c = 0; c < 2; c++) {
        snprintf(path, sizeof path, "%s/%s", dir, cls[c]);
        ok = ok && cli_mkdir(path);
        for (int i = 0; ok && i < counts[c]; i++) {
            snprintf(path, sizeof path, "%s/%s/%d.png", dir, cls[c], i);
            ok = cli_write_gray_png(path, 8, 8, (unsigned)(c * 10 + i));
        }
    }
    CHECK(ok);
    gt_error err;
    gt_dataset *ds = gt_data_load_png_dir(dir, 1, 8, &err);
    CHECK(ds != NULL);
    if (ds) {
        CHECK(ds->n == 5 && ds->n_classes == 2 && ds->labels != NULL);
        CHECK(ds->labels[0] == 0 && ds->labels[1] == 0 && ds->labels[2] == 1 && ds->labels[4] == 1);
        gt_dataset_free(ds);
    }
    snprintf(path, sizeof path, "%s/apples", dir);
    ds = gt_data_load_png_dir(path, 1, 8, &err);
    CHECK(ds && ds->labels == NULL && ds->n_classes == 0 && ds->n == 2);
    gt_dataset_free(ds);
    snprintf(path, sizeof path, "%s/empty", dir);
    cli_mkdir(path);
    ds = gt_data_load_png_dir(dir, 1, 8, &err);
    CHECK(ds == NULL && strstr(err.msg, "empty") && strstr(err.msg, "no *.png"));
    cli_scratch_remove(dir);
}

/* The resnet family at 32 and 64: shapes, conditional G and D following their labels, spectral
 * norm and self-attention declared, bad settings named. */
TEST(resnet_family) {
    gt_arena *a = gt_arena_new(1 << 22);
    gt_rng rng = gt_rng_seed(17);
    gt_error err;
    for (int res = 32; res <= 64; res *= 2) {
        gt_net_spec gs = spec(GT_ROLE_GENERATOR, 3), ds = spec(GT_ROLE_DISCRIMINATOR, 3);
        strcpy(gs.family, "resnet");
        strcpy(ds.family, "resnet");
        gs.h = gs.w = ds.h = ds.w = res;
        gs.spectral_norm = ds.spectral_norm = true;
        gs.sn_iterations = ds.sn_iterations = 1;
        ds.width = 8;
        gs.attention = ds.attention = 16;
        gt_model g, d;
        CHECK(gt_model_build(&g, &gs, a, &rng, &err) == 0);
        CHECK(gt_model_build(&d, &ds, a, &rng, &err) == 0);
        CHECK(gt_params_find(&g.params, "attn.gamma") >= 0 && gt_params_find(&d.params, "attn.gamma") >= 0);
        CHECK(gt_params_find(&g.params, "up1.conv1.weight_u") >= 0);
        CHECK(gt_params_find(&d.params, "proj.weight_u") >= 0);
        int nw = gt_params_find(&g.params, "up1.norm1.weight");
        CHECK(nw >= 0 && g.params.spec[nw].ndim == 2 && g.params.spec[nw].shape[0] == 3);
        for (int i = 0; i < g.params.n; i++)
            if (strstr(g.params.spec[i].name, "norm") && g.params.spec[i].ndim == 2)
                gt_fill_normal(&rng, g.params.t[i], 1, 0.3f);
        gt_fill_normal(&rng, d.params.t[gt_params_find(&d.params, "proj.weight")], 0, 1);
        int32_t y0[2] = {0, 1}, y1[2] = {2, 1};
        gt_tensor *z = gt_rand_normal(&rng, 2, (int64_t[]){2, 8}, 0, 1);
        gt_fwd fg = gt_fwd_of(&g.params, false), g0 = gt_fwd_labelled(&fg, y0), g1 = gt_fwd_labelled(&fg, y1);
        gt_tensor *x0 = gt_model_forward(&g, &g0, z, NULL), *x1 = gt_model_forward(&g, &g1, z, NULL);
        CHECK(x0->ndim == 4 && x0->shape[0] == 2 && x0->shape[1] == 1 && x0->shape[2] == res &&
              x0->shape[3] == res);
        int64_t per = (int64_t)res * res;
        CHECK(memcmp(x0->data, x1->data, per * sizeof(float)) != 0 &&
              memcmp(x0->data + per, x1->data + per, per * sizeof(float)) == 0);
        gt_fwd fd = gt_fwd_of(&d.params, false), d0 = gt_fwd_labelled(&fd, y0), d1 = gt_fwd_labelled(&fd, y1);
        gt_tensor *l0 = gt_model_forward(&d, &d0, x0, NULL), *l1 = gt_model_forward(&d, &d1, x0, NULL);
        CHECK(l0->ndim == 2 && l0->shape[0] == 2 && l0->shape[1] == 1);
        CHECK(l0->data[0] != l1->data[0] && l0->data[1] == l1->data[1]);
        /* a training forward (batch statistics, u advancing) runs too */
        gt_fwd gt_ = gt_fwd_labelled(&(gt_fwd){.t = g.params.t, .params = &g.params, .train = true}, y0);
        CHECK(gt_model_forward(&g, &gt_, z, NULL)->shape[2] == res);
        gt_step_end();
        gt_model_release(&g);
        gt_model_release(&d);
    }
    gt_net_spec bad = spec(GT_ROLE_DISCRIMINATOR, 0);
    strcpy(bad.family, "resnet");
    gt_model m;
    CHECK(gt_model_build(&m, &bad, a, &rng, &err) < 0 && strstr(err.msg, "32 or 64"));
    bad.h = bad.w = 32;
    strcpy(bad.norm, "batch");
    CHECK(gt_model_build(&m, &bad, a, &rng, &err) < 0 && strstr(err.msg, "norm = none"));
    strcpy(bad.norm, "none");
    bad.attention = 16;
    CHECK(gt_model_build(&m, &bad, a, &rng, &err) < 0 && strstr(err.msg, "attention"));
    bad.attention = 0;
    CHECK(gt_model_build(&m, &bad, a, &rng, &err) == 0); /* unconditional: no projection */
    CHECK(gt_params_find(&m.params, "proj.weight") < 0);
    gt_model_release(&m);
    gt_arena_free(a);
}

int main(void) {
    RUN_TESTS(T(conditional_batch_norm_matches_hand_computation),
              T(conditional_batch_norm_gradients_to_second_order),
              T(projection_matches_hand_computation), T(generator_follows_its_labels),
              T(gan_step_reads_the_labels), T(penalty_gradient_sees_the_labels),
              T(png_class_folders), T(resnet_family));
}
