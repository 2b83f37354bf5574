/* Virtual batch normalization and the self-attention block: both against PyTorch references
 * (values and gradients, VBN's through the reference statistics), gradients to second order,
 * attention's gamma = 0 making it the identity, VBN's per-example independence and its
 * reference latents as a buffer, a WGAN-GP penalty through a D with attention, the errors, and
 * through the gantry binary: runs with each resume bit for bit and checkpoint z_ref. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli_support.h"
#include "fixture.h"
#include "gradcheck.h"
#include "nn/model.h"
#include "test.h"

#define CKPT "checkpoint.safetensors"
#define GOLDEN_RTOL 1e-4
#define FIXTURES "tests/golden/vbn_attention.gtfx"

/* max|got - want| / max(1e-6, max|want|) within rtol, same shape; prints the error otherwise. */
static bool close_to(const char *what, const gt_tensor *got, const gt_tensor *want, double rtol) {
    bool shape = got->ndim == want->ndim;
    for (int i = 0; shape && i < got->ndim; i++) shape = got->shape[i] == want->shape[i];
    if (!shape) {
        fprintf(stderr, "  %s: shapes differ\n", what);
        return false;
    }
    float *a = malloc((size_t)got->numel * sizeof *a), *b = malloc((size_t)got->numel * sizeof *b);
    gt_copy_to(a, got);
    gt_copy_to(b, want);
    double err = 0, scale = 1e-6;
    for (int64_t i = 0; i < got->numel; i++) {
        err = fmax(err, fabs((double)a[i] - b[i]));
        scale = fmax(scale, fabs((double)b[i]));
    }
    free(a);
    free(b);
    bool ok = err / scale <= rtol;
    if (!ok) fprintf(stderr, "  %s: relative error %.3g > %.3g\n", what, err / scale, rtol);
    return ok;
}

static gt_tensor *leaf(gt_arena *a, gt_rng *rng, int ndim, const int64_t *shape, float mean,
                       float std) {
    gt_tensor *t = gt_param_new(a, ndim, shape);
    gt_fill_normal(rng, t, mean, std);
    return t;
}

static void load_into(gt_fixture *fx, const char *name, gt_tensor *dst) {
    gt_copy_to(dst->data, gt_fixture_get(fx, name));
}

#define REC(part) (snprintf(key, sizeof key, "%s." part, prefix), key)

/* ---- virtual batch normalization ---------------------------------------------------------- */

static void vbn_golden_case(gt_fixture *fx, const char *prefix, int64_t n_ref) {
    char key[64];
    gt_arena *a = gt_arena_new(1 << 16);
    int64_t channels = gt_fixture_get(fx, REC("gamma"))->numel;
    gt_params p;
    gt_params_init(&p);
    gt_vbn_layer l = gt_vbn_declare(&p, "norm", channels, n_ref);
    gt_params_finalize(&p, a);
    CHECK(strcmp(p.spec[l.gamma].name, "norm.gamma") == 0);
    CHECK(strcmp(p.spec[l.beta].name, "norm.beta") == 0);
    load_into(fx, REC("gamma"), p.t[l.gamma]);
    load_into(fx, REC("beta"), p.t[l.beta]);
    for (int mode = 0; mode < 2; mode++) {  /* training and evaluation are the same */
        gt_tensor *x = gt_fixture_get(fx, REC("x"));  /* in the step arena */
        gt_set_requires_grad(x, true);
        gt_fwd f = gt_fwd_of(&p, mode == 0);
        gt_tensor *y = gt_vbn_forward(&l, &f, x);
        CHECK(close_to(REC("y"), y, gt_fixture_get(fx, REC("y")), GOLDEN_RTOL));
        gt_tensor *in[3] = {x, p.t[l.gamma], p.t[l.beta]}, *g[3];
        gt_tensor *seed = gt_fixture_get(fx, REC("gy"));
        gt_grad(1, &y, &seed, 3, in, g, false);
        CHECK(close_to(REC("gx"), g[0], gt_fixture_get(fx, REC("gx")), GOLDEN_RTOL));
        CHECK(close_to(REC("ggamma"), g[1], gt_fixture_get(fx, REC("ggamma")), GOLDEN_RTOL));
        CHECK(close_to(REC("gbeta"), g[2], gt_fixture_get(fx, REC("gbeta")), GOLDEN_RTOL));
        /* seed zero on the reference rows: their gradient comes only through the statistics */
        int64_t ref_numel = seed->numel / seed->shape[0] * n_ref;
        gt_tensor *seed_ex = gt_fixture_get(fx, REC("gy"));
        memset(seed_ex->data, 0, (size_t)ref_numel * sizeof(float));
        gt_tensor *gref;
        gt_grad(1, &y, &seed_ex, 1, in, &gref, false);
        CHECK(close_to(REC("gx_ref"), gref, gt_fixture_get(fx, REC("gx_ref")), GOLDEN_RTOL));
        double ref_grad = 0;
        for (int64_t i = 0; i < ref_numel; i++) ref_grad += fabs(gref->data[i]);
        CHECK(ref_grad > 1e-3);
        gt_step_end();
    }
    gt_params_release(&p);
    gt_arena_free(a);
}

TEST(vbn_matches_pytorch) {
    gt_fixture *fx = gt_fixture_load(FIXTURES);
    CHECK(fx != NULL);
    if (!fx) return;
    vbn_golden_case(fx, "vbn4", 4);
    vbn_golden_case(fx, "vbn2", 5);
    gt_fixture_free(fx);
}

static gt_tensor *vbn_fn(gt_tensor *const *in, const void *ctx) {
    gt_tensor *t[2] = {in[1], in[2]};
    gt_fwd f = {.t = t, .params = NULL, .train = true};
    return gt_square(gt_vbn_forward(ctx, &f, in[0]));
}

TEST(vbn_gradients_to_second_order) {
    gt_arena *a = gt_arena_new(1 << 16);
    gt_rng rng = gt_rng_seed(5);
    static const struct { int ndim; int64_t x[4]; int64_t n_ref; const char *name; } cases[] = {
        {4, {3 + 2, 2, 2, 3}, 3, "vbn [N_ref + N, C, H, W]"},
        {2, {4 + 2, 3}, 4, "vbn [N_ref + N, C]"},
        {4, {2, 2, 2, 2}, 2, "vbn, reference rows only"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        gt_vbn_layer l = {.gamma = 0, .beta = 1, .n_ref = cases[c].n_ref, .eps = 1e-5};
        int64_t ch = cases[c].x[1];
        gt_tensor *in[3] = {leaf(a, &rng, cases[c].ndim, cases[c].x, 0.2f, 1),
                            leaf(a, &rng, 1, &ch, 1, 0.3f), leaf(a, &rng, 1, &ch, 0, 0.3f)};
        int bad = gc_check(cases[c].name, 3, in, vbn_fn, &l, true, gc_tol_default());
        CHECK(bad == 0);
        gt_test_record(cases[c].name, bad == 0);
    }
    gt_arena_free(a);
}

static gt_net_spec spec(gt_role role, const char *family, int res) {
    gt_net_spec s = {.role = role, .z_dim = 8, .width = 4, .depth = 2, .init_std = 0.02,
                     .c = 1, .h = res, .w = res};
    strcpy(s.family, family);
    strcpy(s.activation, "relu");
    strcpy(s.norm, "none");
    strcpy(s.init, "normal");
    return s;
}

/* Both families: z_ref is a buffer drawn N(0, I), gamma starts near 1; an example's output does
 * not depend on the rest of its batch, nor on the mode; G's weights get a gradient. */
TEST(vbn_generators) {
    gt_arena *a = gt_arena_new(1 << 20);
    gt_rng rng = gt_rng_seed(2);
    gt_error err;
    const char *families[2] = {"dcgan", "mlp"};
    for (int k = 0; k < 2; k++) {
        gt_net_spec s = spec(GT_ROLE_GENERATOR, families[k], 28);
        strcpy(s.norm, "vbn");
        s.vbn_ref = 16;
        gt_model g;
        CHECK(gt_model_build(&g, &s, a, &rng, &err) == 0);
        int iz = gt_params_find(&g.params, "vbn.z_ref");
        CHECK(iz >= 0 && g.params.spec[iz].kind == GT_PARAM_BUFFER &&
              g.params.spec[iz].shape[0] == 16 && g.params.spec[iz].shape[1] == 8);
        double m = 0, v = 0;
        const gt_tensor *zr = g.params.t[iz];
        for (int64_t i = 0; i < zr->numel; i++) m += zr->data[i] / (double)zr->numel;
        for (int64_t i = 0; i < zr->numel; i++) v += (zr->data[i] - m) * (zr->data[i] - m);
        v /= (double)zr->numel;
        CHECK(fabs(m) < 0.3 && fabs(v - 1) < 0.4);
        int ig = gt_params_find(&g.params, "norm1.gamma");
        CHECK(ig >= 0 && fabsf(g.params.t[ig]->data[0] - 1) < 0.1f && g.params.t[ig]->data[0] != 1);
        gt_tensor *z = gt_rand_normal(&rng, 2, (int64_t[]){4, 8}, 0, 1);
        gt_fwd ft = gt_fwd_of(&g.params, true), fe = gt_fwd_of(&g.params, false);
        gt_tensor *x4 = gt_model_forward(&g, &ft, z, NULL);
        CHECK(x4->shape[0] == 4 && x4->shape[1] == 1 && x4->shape[2] == 28);
        CHECK(close_to("eval = train", gt_model_forward(&g, &fe, z, NULL), x4, 0));
        gt_tensor *x1 = gt_model_forward(&g, &ft, gt_slice(z, 0, 2, 3), NULL);
        CHECK(close_to("one example alone", x1, gt_slice(x4, 0, 2, 3), 1e-5));
        gt_params_zero_grad(&g.params);
        gt_backward(gt_sum_all(gt_square(x1)));
        CHECK(gt_params_grad_norm(&g.params) > 0);
        gt_step_end();
        gt_model_release(&g);
    }
    gt_arena_free(a);
}

/* ---- self-attention ------------------------------------------------------------------------- */

typedef struct { gt_params p; gt_attention_layer l; } attn_net;

static void attn_build(attn_net *n, int64_t channels, gt_arena *a) {
    gt_params_init(&n->p);
    n->l = gt_attention_declare(&n->p, "attn", channels);
    gt_params_finalize(&n->p, a);
}

TEST(attention_matches_pytorch) {
    gt_fixture *fx = gt_fixture_load(FIXTURES);
    CHECK(fx != NULL);
    if (!fx) return;
    const char *prefix = "attn";
    char key[64];
    gt_arena *a = gt_arena_new(1 << 16);
    attn_net n;
    attn_build(&n, 16, a);
    CHECK(n.p.n == 5 && gt_params_find(&n.p, "attn.theta.weight") >= 0 &&
          gt_params_find(&n.p, "attn.o.weight") >= 0 && gt_params_find(&n.p, "attn.gamma") >= 0);
    int idx[5] = {n.l.theta.w, n.l.phi.w, n.l.g.w, n.l.o.w, n.l.gamma};
    const char *names[5] = {"theta", "phi", "g", "o", "gamma"};
    for (int i = 0; i < 5; i++) {
        snprintf(key, sizeof key, "attn.%s", names[i]);
        load_into(fx, key, n.p.t[idx[i]]);
    }
    gt_tensor *x = gt_fixture_get(fx, REC("x"));
    gt_set_requires_grad(x, true);
    gt_fwd f = gt_fwd_of(&n.p, true);
    gt_tensor *y = gt_attention_forward(&n.l, &f, x);
    CHECK(close_to(REC("y"), y, gt_fixture_get(fx, REC("y")), GOLDEN_RTOL));
    gt_tensor *in[6] = {x}, *g[6], *seed = gt_fixture_get(fx, REC("gy"));
    for (int i = 0; i < 5; i++) in[i + 1] = n.p.t[idx[i]];
    gt_grad(1, &y, &seed, 6, in, g, false);
    CHECK(close_to(REC("gx"), g[0], gt_fixture_get(fx, REC("gx")), GOLDEN_RTOL));
    for (int i = 0; i < 5; i++) {
        snprintf(key, sizeof key, "attn.g%s", names[i]);
        CHECK(close_to(key, g[i + 1], gt_fixture_get(fx, key), GOLDEN_RTOL));
    }
    gt_step_end();
    gt_params_release(&n.p);
    gt_arena_free(a);
    gt_fixture_free(fx);
}

static gt_tensor *attn_fn(gt_tensor *const *in, const void *ctx) {
    const gt_attention_layer *l = ctx;
    gt_tensor *t[5];
    t[l->theta.w] = in[1];
    t[l->phi.w] = in[2];
    t[l->g.w] = in[3];
    t[l->o.w] = in[4];
    t[l->gamma] = in[5];
    gt_fwd f = {.t = t, .params = NULL, .train = true};
    return gt_square(gt_attention_forward(l, &f, in[0]));
}

TEST(attention_gradients_to_second_order) {
    gt_arena *a = gt_arena_new(1 << 18);
    gt_rng rng = gt_rng_seed(9);
    attn_net n;
    attn_build(&n, 8, a);
    /* few pooling windows (20; 2 pooled positions to attend to), none near a tie, and a small
     * step: max pooling's kinks stay out of the finite differences (the op's own checks are in
     * test_ops.c) */
    gt_tensor *in[6] = {leaf(a, &rng, 4, (int64_t[]){2, 8, 2, 4}, 0, 1)};
    int idx[5] = {n.l.theta.w, n.l.phi.w, n.l.g.w, n.l.o.w, n.l.gamma};
    for (int i = 0; i < 5; i++) {
        const gt_param_spec *s = &n.p.spec[idx[i]];
        in[i + 1] = leaf(a, &rng, s->ndim, s->shape, i == 4 ? 0.5f : 0, 0.4f);
    }
    gc_tol tol = gc_tol_default();
    tol.eps = 1e-3;
    int bad = gc_check("self-attention", 6, in, attn_fn, &n.l, true, tol);
    CHECK(bad == 0);
    gt_params_release(&n.p);
    gt_arena_free(a);
}

/* gamma = 0 at init: the block is exactly the identity, yet gamma gets a gradient. */
TEST(attention_starts_as_the_identity) {
    gt_arena *a = gt_arena_new(1 << 20);
    gt_rng rng = gt_rng_seed(6);
    gt_error err;
    gt_net_spec s = spec(GT_ROLE_GENERATOR, "dcgan", 28);
    s.width = 8;
    s.attention = 14;
    gt_model g;
    CHECK(gt_model_build(&g, &s, a, &rng, &err) == 0);
    int ig = gt_params_find(&g.params, "attn.gamma");
    int it = gt_params_find(&g.params, "attn.theta.weight");
    CHECK(ig >= 0 && it >= 0 && g.params.t[ig]->data[0] == 0);
    CHECK(it >= 0 && g.params.spec[it].shape[0] == 2 && g.params.spec[it].shape[1] == 16);
    const gt_attention_layer *l = NULL;
    attn_net n;
    attn_build(&n, 16, a);
    l = &n.l;
    for (int i = 0; i < n.p.n; i++)
        if (n.p.spec[i].kind == GT_PARAM_TRAINABLE && i != l->gamma)
            gt_fill_normal(&rng, n.p.t[i], 0, 0.5f);
    gt_tensor *x = gt_rand_normal(&rng, 4, (int64_t[]){2, 16, 6, 6}, 0, 1);
    gt_fwd f = gt_fwd_of(&n.p, true);
    gt_tensor *y = gt_attention_forward(l, &f, x);
    CHECK(close_to("gamma = 0: y = x", y, x, 0));
    gt_tensor *gg;
    gt_grad(1, &y, NULL, 1, &n.p.t[l->gamma], &gg, false);
    CHECK(fabsf(gg->data[0]) > 0);
    /* in the model: G's output keeps its shape */
    gt_fwd fg = gt_fwd_of(&g.params, true);
    gt_tensor *z = gt_rand_normal(&rng, 2, (int64_t[]){3, 8}, 0, 1);
    gt_tensor *img = gt_model_forward(&g, &fg, z, NULL);
    CHECK(img->shape[0] == 3 && img->shape[2] == 28);
    gt_step_end();
    gt_params_release(&n.p);
    gt_model_release(&g);
    gt_arena_free(a);
}

/* WGAN-GP through D with attention (and spectral norm on its convs, attention's included). */
TEST(gradient_penalty_through_attention) {
    gt_arena *a = gt_arena_new(1 << 20);
    gt_rng rng = gt_rng_seed(4);
    gt_error err;
    static const int sides[2] = {14, 7};
    for (int k = 0; k < 2; k++) {
        gt_net_spec s = spec(GT_ROLE_DISCRIMINATOR, "dcgan", 28);
        s.width = 8;
        s.attention = sides[k];
        s.spectral_norm = true;
        s.sn_iterations = 1;
        gt_model d;
        CHECK(gt_model_build(&d, &s, a, &rng, &err) == 0);
        CHECK(gt_params_find(&d.params, "attn.o.weight_u") >= 0);
        gt_params_zero_grad(&d.params);
        gt_fill(d.params.t[gt_params_find(&d.params, "attn.gamma")], 0.5f);
        gt_tensor *x = gt_rand_normal(&rng, 4, (int64_t[]){4, 1, 28, 28}, 0, 1);
        gt_set_requires_grad(x, true);
        gt_fwd f = gt_fwd_of(&d.params, true);
        gt_tensor *logit = gt_model_forward(&d, &f, x, NULL), *gx;
        gt_grad(1, &logit, NULL, 1, &x, &gx, true);
        int axes[3] = {1, 2, 3};
        gt_tensor *norm = gt_sqrt(gt_add_scalar(gt_sum(gt_square(gx), 3, axes, false), 1e-12f));
        gt_tensor *pen = gt_mean_all(gt_square(gt_add_scalar(norm, -1.0f)));
        gt_backward(pen);
        double gn = gt_params_grad_norm(&d.params);
        const gt_tensor *gth = d.params.t[gt_params_find(&d.params, "attn.theta.weight")]->grad;
        double gtheta = 0;
        for (int64_t i = 0; i < gth->numel; i++) gtheta += fabs(gth->data[i]);
        CHECK(isfinite(gt_item(pen)) && isfinite(gn) && gn > 0 && gtheta > 0);
        gt_step_end();
        gt_model_release(&d);
    }
    gt_arena_free(a);
}

TEST(bad_switches_are_errors) {
    gt_arena *a = gt_arena_new(1 << 18);
    gt_rng rng = gt_rng_seed(0);
    gt_error err;
    gt_model m;
    gt_net_spec s = spec(GT_ROLE_DISCRIMINATOR, "dcgan", 28);
    s.width = 8;
    s.attention = 10;
    CHECK(gt_model_build(&m, &s, a, &rng, &err) < 0 && strstr(err.msg, "model.d.attention = 10") &&
          strstr(err.msg, "sides: 14, 7"));
    s = spec(GT_ROLE_GENERATOR, "dcgan", 32);
    s.attention = 32;
    CHECK(gt_model_build(&m, &s, a, &rng, &err) < 0 && strstr(err.msg, "model.g.attention = 32") &&
          strstr(err.msg, "sides: 4, 8, 16"));
    s = spec(GT_ROLE_DISCRIMINATOR, "dcgan", 28);  /* width 4: 4 channels at 14x14 */
    s.attention = 14;
    CHECK(gt_model_build(&m, &s, a, &rng, &err) < 0 && strstr(err.msg, "at least 8 channels") &&
          strstr(err.msg, "model.d.width"));
    s = spec(GT_ROLE_GENERATOR, "mlp", 28);
    s.attention = 14;
    CHECK(gt_model_build(&m, &s, a, &rng, &err) < 0 && strstr(err.msg, "model.g.attention"));
    for (int k = 0; k < 2; k++) {
        s = spec(GT_ROLE_GENERATOR, k == 0 ? "dcgan" : "mlp", 28);
        strcpy(s.norm, "vbn");
        CHECK(gt_model_build(&m, &s, a, &rng, &err) < 0 && strstr(err.msg, "model.g.vbn_ref"));
        strcpy(s.norm, "batch");
        s.vbn_ref = 8;
        CHECK(gt_model_build(&m, &s, a, &rng, &err) < 0 && strstr(err.msg, "model.g.vbn_ref = 8") &&
              strstr(err.msg, "model.g.norm = vbn"));
    }
    s = spec(GT_ROLE_DISCRIMINATOR, "mlp", 28);
    strcpy(s.norm, "vbn");
    CHECK(gt_model_build(&m, &s, a, &rng, &err) < 0 && strstr(err.msg, "vbn_ref"));
    gt_arena_free(a);
}

/* ---- through the gantry binary ------------------------------------------------------------ */

static bool scratch(char *dir) {
    bool ok = cli_scratch_new(dir);
    CHECK(ok);
    return ok;
}

/* A small DCGAN on the PNG folder (EMA from step 2, so the EMA copy is checkpointed too). */
static void dcgan_args(cli_args *a, const char *png, const char *out, int steps, const char *set) {
    cli_args_init(a);
    cli_args_add(a, "train", "--config", "configs/dcgan-fmnist.ini", "--out", out, "--quiet",
                 "data.dataset=png", "model.g.width=4", "model.d.width=4", "model.g.z_dim=16",
                 "train.batch=8", "train.ema_start=2", "train.log_every=1",
                 "train.sample_every=0", "train.eval_every=0", "train.checkpoint_every=0",
                 "train.threads=2", NULL);
    cli_args_addf(a, "data.path=%s", png);
    cli_args_addf(a, "train.steps=%d", steps);
    cli_args_add_words(a, set);
}

/* 6 steps against 3 + resume 3: the same checkpoint bytes (z_ref, its EMA copy and all). */
static void resume_case(const char *dir, const char *png, const char *tag, const char *set,
                        const char *const *entries) {
    char whole[128], split[128];
    snprintf(whole, sizeof whole, "%s/%s-whole", dir, tag);
    snprintf(split, sizeof split, "%s/%s-split", dir, tag);
    cli_args one, first, again;
    dcgan_args(&one, png, whole, 6, set);
    dcgan_args(&first, png, split, 3, set);
    cli_args_init(&again);
    cli_args_add(&again, "train", "--resume", split, "--quiet", "train.steps=6", NULL);
    if (!(cli_run_ok(&one) && cli_run_ok(&first) && cli_run_ok(&again))) return;
    CHECK(cli_same_bytes(cli_path(whole, CKPT), cli_path(split, CKPT)));
    CHECK(cli_losses_finite(cli_path(whole, "metrics.jsonl")));
    cli_args info;
    cli_args_init(&info);
    cli_args_add(&info, "info", cli_path(whole, CKPT), NULL);
    cli_result r;
    cli_run(&info, &r);
    for (int i = 0; entries[i]; i++) CHECK_RUN(&info, &r, r.code == 0 && cli_says(&r, entries[i]));
    cli_result_free(&r);
}

TEST(runs_resume_bit_exact) {
    char dir[64];
    if (!scratch(dir)) return;
    const char *png = cli_png_folder(dir, 32, 28);
    static const char *const vbn_entries[] = {"g.vbn.z_ref", "g.norm1.gamma", NULL};
    resume_case(dir, png, "vbn", "model.g.norm=vbn model.g.vbn_ref=8", vbn_entries);
    static const char *const attn_entries[] = {"g.attn.gamma", "d.attn.o.weight_u", NULL};
    resume_case(dir, png, "attn",
                "model.g.attention=14 model.d.attention=7 model.d.spectral_norm=true "
                "model.d.norm=none loss.type=hinge", attn_entries);
    cli_scratch_remove(dir);
}

TEST(bad_configurations_name_the_keys) {
    char dir[64];
    if (!scratch(dir)) return;
    const char *png = cli_png_folder(dir, 32, 28);
    const char *run = cli_path(dir, "run");
    cli_args a;
    dcgan_args(&a, png, run, 2, "model.g.norm=vbn");
    cli_run_fails_saying(&a, "model.g.norm = vbn", "model.g.vbn_ref", NULL);
    dcgan_args(&a, png, run, 2, "model.g.vbn_ref=16");
    cli_run_fails_saying(&a, "model.g.vbn_ref = 16", "model.g.norm = vbn", NULL);
    dcgan_args(&a, png, run, 2, "model.d.norm=vbn");
    cli_run_fails_saying(&a, "[model.d] norm", "vbn", NULL);
    dcgan_args(&a, png, run, 2, "model.g.attention=10");
    cli_run_fails_saying(&a, "model.g.attention = 10", "sides: 7, 14", NULL);
    dcgan_args(&a, png, run, 2, "model.d.attention=14");
    cli_run_fails_saying(&a, "model.d.attention = 14", "at least 8 channels", NULL);
    cli_scratch_remove(dir);
}

int main(void) {
    int rc;
    RUN_TESTS_INTO(rc, T(vbn_matches_pytorch), T(vbn_gradients_to_second_order), T(vbn_generators),
                   T(attention_matches_pytorch), T(attention_gradients_to_second_order),
                   T(attention_starts_as_the_identity), T(gradient_penalty_through_attention),
                   T(bad_switches_are_errors), T(runs_resume_bit_exact),
                   T(bad_configurations_name_the_keys));
    gt_runtime_free();
    return rc;
}
