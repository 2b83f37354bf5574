/* StyleGAN2 (Karras et al. 2020): the modulated, demodulated convolution and path length
 * regularization through a whole tiny G against PyTorch (tests/golden/stylegan2.gtfx, first and
 * second order), w_avg tracking, truncation (psi = 0 gives w_avg's image for every z), style
 * mixing and noise drawn from the model's generator, the residual D, the configuration errors,
 * and through the gantry binary: a run with R1 and path length (both lazy), style mixing and an
 * EMA that resumes bit for bit (w_avg and the path-length mean in the checkpoint), G's Adam
 * corrected for the lazy updates, truncated samples and a style mixing grid. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli_support.h"
#include "fixture.h"
#include "gan/gan.h"
#include "io/image.h"
#include "io/safetensors.h"
#include "nn/model.h"
#include "nn/stylegan2.h"
#include "test.h"
#include "train/trainer.h"

#define CKPT "checkpoint.safetensors"

static const gt_stylegan2_options options = {.mapping_layers = 2, .mapping_lr_mul = 0.01,
                                             .style_mixing = 0.9};

static gt_net_spec spec(gt_role role, int c, int res, int64_t width) {
    gt_net_spec s = {.role = role, .z_dim = 4, .width = width, .c = c, .h = res, .w = res,
                     .init_std = 0.02, .family_options = &options};
    strcpy(s.family, "stylegan2");
    strcpy(s.activation, "leaky_relu");
    strcpy(s.norm, "none");
    strcpy(s.init, "normal");
    return s;
}

/* max |a - b| / max(1e-6, max |b|) */
static double rel_diff(const gt_tensor *a, const gt_tensor *b) {
    if (a->numel != b->numel) return INFINITY;
    float *x = malloc((size_t)a->numel * sizeof *x), *y = malloc((size_t)b->numel * sizeof *y);
    gt_copy_to(x, a);
    gt_copy_to(y, b);
    double d = 0, s = 1e-6;
    for (int64_t i = 0; i < a->numel; i++) {
        d = fmax(d, fabs((double)x[i] - y[i]));
        s = fmax(s, fabs((double)y[i]));
    }
    free(x);
    free(y);
    return d / s;
}

static bool near(const char *what, const gt_tensor *got, const gt_tensor *want, double tol) {
    double r = rel_diff(got, want);
    if (!(r <= tol)) fprintf(stderr, "  %s: relative error %.3g > %.3g\n", what, r, tol);
    return r <= tol;
}

static gt_tensor *leaf(gt_tensor *t) {
    gt_tensor *l = gt_detach(t);
    gt_set_requires_grad(l, true);
    return l;
}

TEST(modulated_conv_matches_pytorch) {
    gt_fixture *fx = gt_fixture_load("tests/golden/stylegan2.gtfx");
    CHECK(fx != NULL);
    if (!fx) return;
    static const char *const names[3] = {"x", "weight", "styles"};
    gt_tensor *in[3], *g[3], *h[3];
    char key[64];
    for (int i = 0; i < 3; i++) {
        snprintf(key, sizeof key, "modconv.%s", names[i]);
        in[i] = leaf(gt_fixture_get(fx, key));
    }
    gt_tensor *y = gt_modulated_conv2d(in[0], in[1], in[2], true);
    CHECK(near("y", y, gt_fixture_get(fx, "modconv.y"), 1e-5));
    gt_tensor *v = gt_fixture_get(fx, "modconv.v");
    gt_grad(1, &y, &v, 3, in, g, true);
    gt_tensor *s2 = NULL;
    for (int i = 0; i < 3; i++) {
        snprintf(key, sizeof key, "modconv.g%s", names[i]);
        CHECK(near(key, g[i], gt_fixture_get(fx, key), 1e-5));
        snprintf(key, sizeof key, "modconv.u%s", names[i]);
        gt_tensor *term = gt_sum_all(gt_mul(g[i], gt_fixture_get(fx, key)));
        s2 = s2 ? gt_add(s2, term) : term;
    }
    gt_grad(1, &s2, NULL, 3, in, h, false);
    for (int i = 0; i < 3; i++) {
        snprintf(key, sizeof key, "modconv.h%s", names[i]);
        CHECK(near(key, h[i], gt_fixture_get(fx, key), 1e-4));
    }
    gt_step_end();
    gt_fixture_free(fx);
}

static gt_model tiny_g(gt_arena *a, uint64_t seed, int res) {
    gt_rng rng = gt_rng_seed(seed);
    gt_error err;
    gt_net_spec s = spec(GT_ROLE_GENERATOR, 1, res, 4);
    gt_model g;
    int rc = gt_model_build(&g, &s, a, &rng, &err);
    CHECK(rc == 0);
    if (rc < 0) fprintf(stderr, "  %s\n", err.msg);
    return g;
}

TEST(path_length_matches_pytorch) {
    gt_fixture *fx = gt_fixture_load("tests/golden/stylegan2.gtfx");
    CHECK(fx != NULL);
    if (!fx) return;
    gt_arena *a = gt_arena_new(1 << 20);
    gt_model g = tiny_g(a, 1, 8);
    CHECK(gt_model_style_count(&g) == 4);
    char name[96];
    for (int i = 0; i < g.params.n; i++) {
        snprintf(name, sizeof name, "g.%s", g.params.spec[i].name);
        gt_tensor *w = gt_fixture_get(fx, name);
        CHECK(w->numel == g.params.t[i]->numel);
        if (w->numel == g.params.t[i]->numel) gt_copy_to(g.params.t[i]->data, w);
    }
    gt_fwd f = gt_fwd_of(&g.params, true);  /* no style_rng: constant noise, no mixing */
    gt_tensor *ws = g.family->mapping(&g, &f, gt_fixture_get(fx, "pl.z"));
    CHECK(near("img", g.family->synthesis(&g, &f, ws), gt_fixture_get(fx, "pl.img"), 1e-5));
    double mean = gt_item(gt_fixture_get(fx, "pl.a"));
    gt_tensor *pen = gt_path_length_penalty(&g, &f, ws, gt_fixture_get(fx, "pl.y"), 0.01, &mean);
    double want_a = gt_item(gt_fixture_get(fx, "pl.a_next"));
    double want = gt_item(gt_fixture_get(fx, "pl.penalty"));
    CHECK_NEAR(mean, want_a, 1e-6 * fabs(want_a));
    CHECK_NEAR(gt_item(pen), want, 1e-4 * fabs(want));
    gt_params_zero_grad(&g.params);
    gt_backward(pen);
    int compared = 0;
    for (int i = 0; i < g.params.n; i++) {
        if (g.params.spec[i].kind != GT_PARAM_TRAINABLE) continue;
        snprintf(name, sizeof name, "grad.%s", g.params.spec[i].name);
        CHECK(near(name, g.params.t[i]->grad, gt_fixture_get(fx, name), 5e-4));
        compared++;
    }
    CHECK(compared == 28);
    gt_step_end();
    gt_model_release(&g);
    gt_arena_free(a);
    gt_fixture_free(fx);
}

static gt_tensor *forward(gt_model *g, bool train, gt_tensor *z) {
    gt_fwd f = gt_fwd_of(&g->params, train);
    return gt_model_forward(g, &f, z, NULL);
}

TEST(w_avg_tracks_training_forwards) {
    gt_arena *a = gt_arena_new(1 << 20);
    gt_model g = tiny_g(a, 2, 8);
    int idx = gt_params_find(&g.params, "mapping.w_avg");
    CHECK(idx >= 0 && g.params.spec[idx].kind == GT_PARAM_BUFFER);
    float *avg = g.params.t[idx]->data, before[4];
    for (int j = 0; j < 4; j++) CHECK(avg[j] == 0.0f);
    for (int j = 0; j < 4; j++) avg[j] = before[j] = 0.5f * (float)j;
    gt_rng rng = gt_rng_seed(3);
    gt_tensor *z = gt_rand_normal(&rng, 2, (int64_t[]){3, 4}, 0, 1);
    forward(&g, false, z);
    CHECK(memcmp(avg, before, sizeof before) == 0);  /* evaluation leaves it */
    gt_fwd f = gt_fwd_of(&g.params, false);
    gt_tensor *w = gt_slice(g.family->mapping(&g, &f, z), 1, 0, 1);  /* [3, 1, 4] */
    float wv[12];
    gt_copy_to(wv, w);
    forward(&g, true, z);
    for (int j = 0; j < 4; j++) {
        double mean = (wv[j] + wv[4 + j] + wv[8 + j]) / 3.0;
        CHECK_NEAR(avg[j], mean + 0.995 * (before[j] - mean), 1e-5);
    }
    gt_step_end();
    gt_model_release(&g);
    gt_arena_free(a);
}

TEST(truncation_psi_zero_gives_w_avg_image) {
    gt_arena *a = gt_arena_new(1 << 20);
    gt_model g = tiny_g(a, 4, 16);
    int idx = gt_params_find(&g.params, "mapping.w_avg");
    gt_rng rng = gt_rng_seed(5);
    gt_fill_normal(&rng, g.params.t[idx], 0, 1);
    bool prev = gt_grad_set(false);
    gt_tensor *z = gt_rand_normal(&rng, 2, (int64_t[]){5, 4}, 0, 1);
    gt_tensor *free_ = forward(&g, false, z);
    gt_model_set_truncation(&g, 0, -1);
    gt_tensor *x = forward(&g, false, z);
    /* the image of w_avg itself, through the synthesis */
    int64_t one[3] = {1, 1, 4}, all[3] = {1, gt_model_style_count(&g), 4};
    gt_fwd f = gt_fwd_of(&g.params, false);
    gt_tensor *ref = g.family->synthesis(&g, &f, gt_expand(gt_reshape(g.params.t[idx], 3, one), 3, all));
    int64_t per = ref->numel;
    float *xs = malloc((size_t)x->numel * sizeof *xs), *r = malloc((size_t)per * sizeof *r);
    gt_copy_to(xs, x);
    gt_copy_to(r, ref);
    for (int n = 0; n < 5; n++) CHECK(memcmp(xs + n * per, r, (size_t)per * sizeof *r) == 0);
    CHECK(rel_diff(free_, x) > 1e-3);
    /* psi = 1 is no truncation; a cutoff keeps the later layers free */
    gt_model_set_truncation(&g, 1, -1);
    CHECK(rel_diff(forward(&g, false, z), free_) == 0);
    gt_model_set_truncation(&g, 0, 2);
    gt_tensor *cut = forward(&g, false, z);
    CHECK(rel_diff(gt_slice(cut, 0, 0, 1), gt_slice(cut, 0, 1, 2)) > 1e-4);
    free(xs);
    free(r);
    gt_grad_set(prev);
    gt_step_end();
    gt_model_release(&g);
    gt_arena_free(a);
}

/* Training forwards draw noise and mixing from the model's generator: the same state gives the
 * same image; mixing and the noise inputs change it. */
TEST(noise_and_mixing_come_from_the_style_rng) {
    gt_arena *a = gt_arena_new(1 << 20);
    gt_model g = tiny_g(a, 6, 8);
    for (int i = 0; i < g.params.n; i++)  /* noise strengths on, so noise shows */
        if (strstr(g.params.spec[i].name, "noise_strength")) gt_fill(g.params.t[i], 0.5f);
    bool prev = gt_grad_set(false);
    gt_rng zr = gt_rng_seed(7);
    gt_tensor *z = gt_rand_normal(&zr, 2, (int64_t[]){4, 4}, 0, 1);
    gt_rng r1 = gt_rng_seed(9), r2 = gt_rng_seed(9);
    gt_model_set_style_rng(&g, &r1);
    gt_tensor *x1 = forward(&g, true, z);
    gt_model_set_style_rng(&g, &r2);
    gt_tensor *x2 = forward(&g, true, z);
    CHECK(rel_diff(x1, x2) == 0 && r1.counter == r2.counter && r1.counter > 0);
    gt_tensor *x3 = forward(&g, true, z);  /* the generator moved on */
    CHECK(rel_diff(x1, x3) > 1e-4);
    gt_stylegan2_set_style_mixing(&g, 0);
    gt_rng r3 = gt_rng_seed(9);
    gt_model_set_style_rng(&g, &r3);
    CHECK(rel_diff(forward(&g, true, z), x1) > 1e-4);  /* seed 9 mixes at p = 0.9 */
    gt_model_set_style_rng(&g, NULL);
    CHECK(rel_diff(forward(&g, true, z), forward(&g, false, z)) == 0);
    gt_grad_set(prev);
    gt_step_end();
    gt_model_release(&g);
    gt_arena_free(a);
}

TEST(residual_discriminator) {
    gt_arena *a = gt_arena_new(1 << 20);
    gt_rng rng = gt_rng_seed(8);
    gt_error err;
    gt_net_spec s = spec(GT_ROLE_DISCRIMINATOR, 3, 32, 8);
    s.mbstd_group = 4;
    s.mbstd_channels = 1;
    gt_model d;
    CHECK(gt_model_build(&d, &s, a, &rng, &err) == 0);
    CHECK(gt_params_find(&d.params, "b32.skip.weight") >= 0 && gt_params_find(&d.params, "b32.skip.bias") < 0);
    gt_tensor *x = gt_rand_normal(&rng, 4, (int64_t[]){8, 3, 32, 32}, 0, 1);
    gt_fwd f = gt_fwd_of(&d.params, true);
    gt_tensor *feat = NULL;
    gt_tensor *y = gt_model_forward(&d, &f, x, &feat);
    CHECK(y->ndim == 2 && y->shape[0] == 8 && y->shape[1] == 1 && feat->shape[1] == 8);
    /* R1 through it: second order works */
    gt_critic c = {.net = &d};
    gt_tensor *r1 = gt_mean_all(gt_critic_grad_sq_norm(&c, &f, x));
    gt_params_zero_grad(&d.params);
    gt_backward(r1);
    CHECK(isfinite(gt_item(r1)) && gt_params_grad_norm(&d.params) > 0);
    gt_step_end();
    gt_model_release(&d);
    gt_arena_free(a);
}

static gt_config sg_config(const char *set) {
    gt_config c;
    gt_config_defaults(&c);
    gt_error err;
    char buf[768];
    snprintf(buf, sizeof buf, "data.dataset=png data.resolution=8 model.g.family=stylegan2 "
                              "model.d.family=stylegan2 model.g.norm=none model.d.norm=none "
                              "model.g.width=4 model.d.width=4 model.g.z_dim=4 train.batch=4 %s", set);
    for (char *tok = strtok(buf, " "); tok; tok = strtok(NULL, " "))
        if (gt_config_set(&c, tok, "test", &err) < 0) fprintf(stderr, "  %s\n", err.msg);
    return c;
}

TEST(bad_configurations_name_the_keys) {
    static const struct { const char *set; const char *says; } bad[] = {
        {"model.g.norm=batch", "model.g.norm"},
        {"model.d.norm=layer", "model.d.norm"},
        {"data.resolution=28", "data.resolution"},
        {"model.g.spectral_norm=true", "spectral_norm"},
        {"model.g.family=dcgan model.g.norm=batch data.resolution=32 path_length.weight=2",
         "path_length.weight"},
        {"path_length.weight=2 path_length.batch_shrink=8", "path_length.batch_shrink"},
        {"model.d.mbstd_group=3", "mbstd_group"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gt_config c = sg_config(bad[i].set);
        gt_trainer t;
        gt_error err = {0};
        bool failed = gt_trainer_init(&t, &c, false, &err) < 0;
        CHECK(failed && strstr(err.msg, bad[i].says));
        if (!failed || !strstr(err.msg, bad[i].says))
            fprintf(stderr, "  case %zu: '%s'\n", i, failed ? err.msg : "(accepted)");
        if (!failed) gt_trainer_free(&t);
    }
    static const char *const keys[][2] = {{"model.g.mapping_layers=0", "[model.g] mapping_layers"},
                                          {"model.g.style_mixing=1.5", "[model.g] style_mixing"},
                                          {"path_length.every=0", "[path_length] every"},
                                          {"path_length.weight=-1", "[path_length] weight"}};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        gt_config c;
        gt_config_defaults(&c);
        gt_error err = {0};
        CHECK(gt_config_set(&c, keys[i][0], "test", &err) < 0 && strstr(err.msg, keys[i][1]));
    }
    gt_config c = sg_config("path_length.weight=2");
    gt_trainer t;
    gt_error err;
    CHECK(gt_trainer_init(&t, &c, false, &err) == 0);
    if (t.style) {
        CHECK(gt_model_style_rng(&t.g) == &t.style_rng && gt_model_style_count(&t.g) == 4);
        /* G's Adam corrected for the lazy path length update: lr 4/5, beta2^(4/5) */
        CHECK_NEAR(t.opt_g.cfg.lr, 2e-4 * 0.8, 1e-12);
        CHECK_NEAR(t.opt_g.cfg.beta2, pow(0.999, 0.8), 1e-12);
        gt_trainer_free(&t);
    }
}

/* ---- through the gantry binary ------------------------------------------------------------ */

/* The recipe at 8x8, width 4: R1 every 2 D steps, path length every 2 G steps (from step 0),
 * style mixing, EMA; 7 steps resumed after 3 (the split lands between two path length updates). */
static void sg_args(cli_args *a, const char *png, const char *out, int steps) {
    cli_args_init(a);
    cli_args_add(a, "train", "--config", "configs/stylegan2-fmnist.ini", "--out", out, "--quiet",
                 "data.dataset=png", "data.resolution=8", "model.g.width=4", "model.d.width=4",
                 "model.g.z_dim=8", "model.d.mbstd_group=2", "train.batch=4", "penalty.every=2",
                 "path_length.every=2", "train.ema_start=1", "train.log_every=1",
                 "train.sample_every=3", "train.eval_every=0", "train.checkpoint_every=0",
                 "train.threads=2", NULL);
    cli_args_addf(a, "data.path=%s", png);
    cli_args_addf(a, "train.steps=%d", steps);
}

static float *read_npy(const char *path, int64_t *shape) {
    gt_error err;
    int nd;
    float *x = gt_npy_read(path, &nd, shape, &err);
    if (!x) fprintf(stderr, "  %s\n", err.msg);
    return x;
}

TEST(resume_bit_exact_and_sampling) {
    char dir[64];
    if (!cli_scratch_new(dir)) return;
    const char *png = cli_png_folder(dir, 32, 16);
    const char *whole = cli_path(dir, "whole"), *part = cli_path(dir, "split");
    cli_args one, first, again;
    sg_args(&one, png, whole, 7);
    sg_args(&first, png, part, 3);
    cli_args_init(&again);
    cli_args_add(&again, "train", "--resume", part, "--quiet", "train.steps=7", NULL);
    if (cli_run_ok(&one) && cli_run_ok(&first) && cli_run_ok(&again)) {
        const char *ck = cli_path(whole, CKPT);
        CHECK(cli_same_bytes(ck, cli_path(part, CKPT)));
        gt_error err;
        gt_st_file *f = gt_st_read(ck, &err);
        CHECK(f != NULL);
        if (f) {
            const char *mean = gt_st_meta(f, "path_length.mean");
            CHECK(mean && strtod(mean, NULL) > 0);
            CHECK(gt_st_meta(f, "style_rng.counter") != NULL);
            const gt_st_tensor *avg = gt_st_find(f, "g.mapping.w_avg");
            CHECK(avg && avg->numel == 8 && gt_st_find(f, "ema.mapping.w_avg"));
            bool moved = false;
            for (int64_t j = 0; avg && j < avg->numel; j++) moved = moved || avg->data[j] != 0;
            CHECK(moved);
            gt_st_free(f);
        }
        char *m = cli_read_file(cli_path(whole, "metrics.jsonl"), NULL);
        CHECK(m && strstr(m, "\"lr_g\": 0.00133333,") && strstr(m, "\"lr_d\": 0.00133333,") &&
              !strstr(m, "null"));
        free(m);
        /* truncation psi = 0: w_avg's image for every z */
        cli_args s;
        cli_args_init(&s);
        const char *npy = cli_path(dir, "trunc.npy");
        cli_args_add(&s, "sample", "--ckpt", ck, "--out", npy, "--n", "6", "--truncation", "0", NULL);
        if (cli_run_ok(&s)) {
            int64_t shape[4];
            float *x = read_npy(npy, shape);
            CHECK(x && shape[0] == 6 && shape[2] == 8);
            int64_t per = shape[1] * shape[2] * shape[3];
            for (int n = 1; x && n < 6; n++) CHECK(memcmp(x, x + n * per, (size_t)per * sizeof *x) == 0);
            free(x);
        }
        cli_args_init(&s);
        cli_args_add(&s, "sample", "--ckpt", ck, "--out", npy, "--n", "6", NULL);
        if (cli_run_ok(&s)) {
            int64_t shape[4];
            float *x = read_npy(npy, shape);
            CHECK(x && memcmp(x, x + 64, 64 * sizeof *x) != 0);
            free(x);
        }
        /* a 3 x 3 style mixing grid */
        const char *grid = cli_path(dir, "mix.png");
        cli_args_init(&s);
        cli_args_add(&s, "sample", "--ckpt", ck, "--out", grid, "--n", "3", "--style-mix",
                     "--mix-cutoff", "2", NULL);
        unsigned w = 0, h = 0;
        if (cli_run_ok(&s)) CHECK(cli_png_size(grid, &w, &h) && w == h && w >= 24);
        cli_args_init(&s);
        cli_args_add(&s, "sample", "--ckpt", ck, "--out", grid, "--style-mix", "--mix-cutoff",
                     "9", "--n", "2", NULL);
        cli_run_fails_saying(&s, "crossover", "0 .. 4", NULL);
    }
    cli_scratch_remove(dir);
}

int main(void) {
    int rc;
    RUN_TESTS_INTO(rc, T(modulated_conv_matches_pytorch), T(path_length_matches_pytorch),
                   T(w_avg_tracks_training_forwards), T(truncation_psi_zero_gives_w_avg_image),
                   T(noise_and_mixing_come_from_the_style_rng), T(residual_discriminator),
                   T(bad_configurations_name_the_keys), T(resume_bit_exact_and_sampling));
    gt_runtime_free();
    return rc;
}
