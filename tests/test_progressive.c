/* Progressive growing (Karras et al. 2018): the fade-in blend of G and D (alpha = 0 is the old
 * network, upsampled or on downsampled input; alpha = 1 is the new block alone; in between the
 * linear mix), growth keeping one parameter table, a WGAN-GP penalty through a fading D against
 * PyTorch (tests/golden/progressive.gtfx), the schedule (resolution and alpha against images
 * shown, per-resolution batches), the real images' cross-fade, padded IDX-like data, the
 * configuration errors, and through the gantry binary a run that resumes in mid-fade bit for
 * bit. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli_support.h"
#include "data/data.h"
#include "fixture.h"
#include "gan/gan.h"
#include "nn/model.h"
#include "test.h"
#include "train/progressive.h"
#include "train/trainer.h"

#define CKPT "checkpoint.safetensors"

static gt_net_spec spec(gt_role role, int c, int res, int64_t width) {
    gt_net_spec s = {.role = role, .z_dim = 8, .width = width, .c = c, .h = res, .w = res,
                     .init_std = 0.02};
    strcpy(s.family, "progressive");
    strcpy(s.activation, "leaky_relu");
    strcpy(s.norm, "none");
    strcpy(s.init, "normal");
    return s;
}

static float *values(const gt_tensor *t) {
    float *v = malloc((size_t)t->numel * sizeof *v);
    gt_copy_to(v, t);
    return v;
}

/* max |a - b| over two tensors of the same element count */
static double max_diff(const gt_tensor *a, const gt_tensor *b) {
    if (a->numel != b->numel) return INFINITY;
    float *x = values(a), *y = values(b);
    double d = 0;
    for (int64_t i = 0; i < a->numel; i++) d = fmax(d, fabs((double)x[i] - y[i]));
    free(x);
    free(y);
    return d;
}

static gt_tensor *run(gt_model *m, int res, double alpha, gt_tensor *x) {
    gt_model_set_growth(m, res, alpha);
    gt_fwd f = gt_fwd_of(&m->params, false);
    return gt_model_forward(m, &f, x, NULL);
}

/* Perturbs every entry of the table whose name starts with prefix. */
static void perturb(gt_model *m, const char *prefix) {
    for (int i = 0; i < m->params.n; i++)
        if (strncmp(m->params.spec[i].name, prefix, strlen(prefix)) == 0)
            for (int64_t j = 0; j < m->params.t[i]->numel; j++) m->params.t[i]->data[j] += 0.5f;
}

TEST(generator_blend) {
    gt_arena *a = gt_arena_new(1 << 20);
    gt_rng rng = gt_rng_seed(1);
    gt_error err;
    gt_net_spec s = spec(GT_ROLE_GENERATOR, 3, 16, 8);
    gt_model g;
    CHECK(gt_model_build(&g, &s, a, &rng, &err) == 0);
    CHECK(gt_model_growth_res(&g) == 16 && gt_model_growth_alpha(&g) == 1.0);
    bool prev = gt_grad_set(false);
    gt_tensor *z = gt_rand_normal(&rng, 2, (int64_t[]){4, 8}, 0, 1);
    gt_tensor *old = run(&g, 8, 1.0, z);
    CHECK(old->shape[2] == 8 && old->shape[3] == 8 && old->shape[1] == 3);
    gt_tensor *at0 = run(&g, 16, 0.0, z), *at1 = run(&g, 16, 1.0, z), *mid = run(&g, 16, 0.3, z);
    CHECK(at0->shape[2] == 16 && at1->shape[2] == 16);
    /* alpha = 0: the old network's output, upsampled (exactly) */
    CHECK(max_diff(at0, gt_upsample2x(old)) == 0);
    /* in between: (1 - a) old + a new */
    gt_tensor *mix = gt_add(gt_mul_scalar(at0, 0.7f), gt_mul_scalar(at1, 0.3f));
    CHECK(max_diff(mid, mix) < 1e-5);
    CHECK(max_diff(at0, at1) > 1e-3);
    /* alpha = 1: the new block alone, whatever the old to-image layer holds */
    perturb(&g, "to_rgb8.");
    CHECK(max_diff(run(&g, 16, 1.0, z), at1) == 0);
    CHECK(max_diff(run(&g, 16, 0.0, z), at0) > 1e-3);
    gt_grad_set(prev);
    gt_step_end();
    gt_model_release(&g);
    gt_arena_free(a);
}

TEST(discriminator_blend) {
    gt_arena *a = gt_arena_new(1 << 20);
    gt_rng rng = gt_rng_seed(2);
    gt_error err;
    gt_net_spec s = spec(GT_ROLE_DISCRIMINATOR, 1, 32, 8);
    s.mbstd_group = 2;
    s.mbstd_channels = 1;
    gt_model d;
    CHECK(gt_model_build(&d, &s, a, &rng, &err) == 0);
    bool prev = gt_grad_set(false);
    gt_tensor *x = gt_rand_normal(&rng, 4, (int64_t[]){4, 1, 16, 16}, 0, 1);
    gt_tensor *old = run(&d, 8, 1.0, gt_downsample2x(x));
    gt_tensor *at0 = run(&d, 16, 0.0, x), *at1 = run(&d, 16, 1.0, x);
    /* alpha = 0: the old network on the downsampled image */
    CHECK(max_diff(at0, old) == 0);
    CHECK(max_diff(at0, at1) > 1e-4);
    /* alpha = 1: the new block's path alone */
    perturb(&d, "from_rgb8.");
    CHECK(max_diff(run(&d, 16, 1.0, x), at1) == 0);
    /* the 4x4 start */
    gt_tensor *x4 = gt_rand_normal(&rng, 4, (int64_t[]){4, 1, 4, 4}, 0, 1);
    CHECK(run(&d, 4, 1.0, x4)->shape[1] == 1);
    gt_grad_set(prev);
    gt_step_end();
    gt_model_release(&d);
    gt_arena_free(a);
}

/* One table for every resolution: growing reads the same entries (the old layers' weights
 * carry over); a loss at 8x8 trains only what 8x8 uses, and at 16x16 fading both. */
TEST(growth_keeps_one_table) {
    gt_arena *a = gt_arena_new(1 << 20);
    gt_rng rng = gt_rng_seed(3);
    gt_error err;
    gt_net_spec s = spec(GT_ROLE_GENERATOR, 1, 16, 4);
    gt_model g;
    CHECK(gt_model_build(&g, &s, a, &rng, &err) == 0);
    static const char *const names[] = {"b4.fc.weight", "b4.conv.weight", "b8.conv0.weight",
                                        "b16.conv1.weight", "to_rgb4.weight", "to_rgb8.weight",
                                        "to_rgb16.bias"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) CHECK(gt_params_find(&g.params, names[i]) >= 0);
    int64_t numel = g.params.numel;
    float *before = malloc((size_t)numel * sizeof *before);
    memcpy(before, g.params.flat->data, (size_t)numel * sizeof *before);
    int b16 = gt_params_find(&g.params, "b16.conv0.weight"), b8 = gt_params_find(&g.params, "b8.conv1.weight");
    int rgb8 = gt_params_find(&g.params, "to_rgb8.weight");
    for (int k = 0; k < 2; k++) {
        gt_model_set_growth(&g, k == 0 ? 8 : 16, k == 0 ? 1.0 : 0.5);
        gt_fwd f = gt_fwd_of(&g.params, true);
        gt_rng zr = gt_rng_seed(33);  /* the step arena ends with each pass: the same z anew */
        gt_tensor *z = gt_rand_normal(&zr, 2, (int64_t[]){2, 8}, 0, 1);
        gt_params_zero_grad(&g.params);
        gt_backward(gt_mean_all(gt_square(gt_model_forward(&g, &f, z, NULL))));
        double g16 = 0, g8 = 0, grgb8 = 0;
        for (int64_t j = 0; j < g.params.t[b16]->numel; j++) g16 += fabs(g.params.t[b16]->grad->data[j]);
        for (int64_t j = 0; j < g.params.t[b8]->numel; j++) g8 += fabs(g.params.t[b8]->grad->data[j]);
        for (int64_t j = 0; j < g.params.t[rgb8]->numel; j++) grgb8 += fabs(g.params.t[rgb8]->grad->data[j]);
        CHECK(g8 > 0 && grgb8 > 0);
        CHECK(k == 0 ? g16 == 0 : g16 > 0);
        gt_step_end();
    }
    CHECK(g.params.numel == numel && memcmp(before, g.params.flat->data, (size_t)numel * sizeof *before) == 0);
    free(before);
    gt_model_release(&g);
    gt_arena_free(a);
}

/* WGAN-GP through D at 16x16 fading in with alpha 0.35 (mbstd on), against PyTorch. */
TEST(gradient_penalty_through_fading_d_matches_pytorch) {
    gt_fixture *fx = gt_fixture_load("tests/golden/progressive.gtfx");
    CHECK(fx != NULL);
    if (!fx) return;
    gt_arena *a = gt_arena_new(1 << 20);
    gt_rng rng = gt_rng_seed(0);
    gt_error err;
    gt_net_spec s = spec(GT_ROLE_DISCRIMINATOR, 3, 16, 4);
    s.mbstd_group = 2;
    s.mbstd_channels = 1;
    gt_model d;
    CHECK(gt_model_build(&d, &s, a, &rng, &err) == 0);
    char name[96];
    for (int i = 0; i < d.params.n; i++) {
        snprintf(name, sizeof name, "d.%s", d.params.spec[i].name);
        gt_tensor *w = gt_fixture_get(fx, name);
        CHECK(w->numel == d.params.t[i]->numel);
        if (w->numel == d.params.t[i]->numel) gt_copy_to(d.params.t[i]->data, w);
    }
    gt_model_set_growth(&d, 16, gt_item(gt_fixture_get(fx, "alpha")));
    CHECK_NEAR(gt_model_growth_alpha(&d), 0.35, 1e-7);
    gt_model_set_growth(&d, 16, 0.35);
    gt_tensor *real = gt_fixture_get(fx, "real"), *fake = gt_fixture_get(fx, "fake");
    gt_tensor *eps = gt_fixture_get(fx, "eps");
    gt_fwd f = gt_fwd_of(&d.params, true);
    gt_tensor *logit = gt_model_forward(&d, &f, real, NULL);
    gt_tensor *want = gt_fixture_get(fx, "logit_real");
    CHECK(max_diff(logit, want) <= 1e-4 * fmax(1.0, fabs(gt_item(gt_max(gt_abs(want), 0, NULL, false)))));
    gt_critic c = {.net = &d};
    gt_tensor *x_hat = gt_add(fake, gt_mul(eps, gt_sub(real, fake)));
    gt_tensor *sq = gt_critic_grad_sq_norm(&c, &f, x_hat);
    gt_tensor *pen = gt_mean_all(gt_square(gt_add_scalar(gt_sqrt(gt_add_scalar(sq, 1e-12f)), -1.0f)));
    double want_pen = gt_item(gt_fixture_get(fx, "penalty"));
    CHECK_NEAR(gt_item(pen), want_pen, 1e-4 * fabs(want_pen));
    gt_params_zero_grad(&d.params);
    gt_backward(pen);
    for (int i = 0; i < d.params.n; i++) {
        snprintf(name, sizeof name, "grad.%s", d.params.spec[i].name);
        gt_tensor *gw = gt_fixture_get(fx, name);
        float *ref = values(gw);
        double err_max = 0, scale = 1e-6;
        for (int64_t j = 0; j < gw->numel; j++) {
            err_max = fmax(err_max, fabs((double)d.params.t[i]->grad->data[j] - ref[j]));
            scale = fmax(scale, fabs((double)ref[j]));
        }
        free(ref);
        if (err_max / scale > 2e-4) {
            fprintf(stderr, "  %s: relative error %.3g\n", name, err_max / scale);
            CHECK(err_max / scale <= 2e-4);
        }
    }
    gt_step_end();
    gt_model_release(&d);
    gt_arena_free(a);
    gt_fixture_free(fx);
}

static gt_config grow_config(const char *set) {
    gt_config c;
    gt_config_defaults(&c);
    gt_error err;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", set);
    for (char *tok = strtok(buf, " "); tok; tok = strtok(NULL, " "))
        if (gt_config_set(&c, tok, "test", &err) < 0) fprintf(stderr, "  %s\n", err.msg);
    return c;
}

TEST(schedule_by_images_shown) {
    gt_config c = grow_config("progressive.stable_images=10 progressive.fade_images=20 train.batch=8");
    gt_grow_sched s;
    gt_error err;
    CHECK(gt_grow_sched_init(&s, &c, 32, 8, 0, &err) == 0);
    static const struct { int64_t images; int res; bool fading; double alpha; } want[] = {
        {0, 4, false, 1}, {9, 4, false, 1}, {10, 8, true, 0}, {15, 8, true, 0.25},
        {29, 8, true, 0.95}, {30, 8, false, 1}, {39, 8, false, 1}, {40, 16, true, 0},
        {50, 16, true, 0.5}, {60, 16, false, 1}, {70, 32, true, 0}, {85, 32, true, 0.75},
        {90, 32, false, 1}, {100000, 32, false, 1}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        gt_grow_state st = gt_grow_at(&s, want[i].images);
        CHECK(st.res == want[i].res && st.fading == want[i].fading && 4 << st.level == st.res);
        CHECK_NEAR(st.alpha, want[i].alpha, 1e-12);
    }
    /* a later start, no fade-in */
    c = grow_config("progressive.start=8 progressive.stable_images=5 progressive.fade_images=0");
    CHECK(gt_grow_sched_init(&s, &c, 32, 8, 0, &err) == 0);
    CHECK(gt_grow_at(&s, 0).res == 8 && gt_grow_at(&s, 5).res == 16 && !gt_grow_at(&s, 5).fading);
    CHECK(gt_grow_at(&s, 10).res == 32);
    /* per-resolution batches */
    c = grow_config("");
    snprintf(c.prog_batch, sizeof c.prog_batch, "%s", "4:8, 16:2");
    CHECK(gt_grow_sched_init(&s, &c, 32, 8, 2, &err) == 0);
    CHECK(s.batch[0] == 8 && s.batch[1] == 8 && s.batch[2] == 2 && s.batch[3] == 8);
}

TEST(schedule_errors_name_the_keys) {
    static const struct { const char *set; int res; int mbstd; const char *says; } bad[] = {
        {"progressive.batch=8-4", 32, 0, "progressive.batch"},
        {"progressive.batch=12:4", 32, 0, "resolution 12"},
        {"progressive.batch=64:4", 32, 0, "resolution 64"},
        {"progressive.batch=8:100", 32, 0, "train.batch"},
        {"progressive.batch=8:0", 32, 0, "train.batch"},
        {"progressive.batch=8:3", 32, 2, "mbstd_group"},
        {"progressive.start=64", 32, 0, "progressive.start"},
        {"", 28, 0, "data.resolution"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gt_config c = grow_config("train.batch=8");
        gt_error err = {0};
        gt_grow_sched s;
        if (bad[i].set[0] && gt_config_set(&c, bad[i].set, "test", &err) < 0) {
            CHECK(false);
            continue;
        }
        bool failed = gt_grow_sched_init(&s, &c, bad[i].res, 8, bad[i].mbstd, &err) < 0;
        CHECK(failed && strstr(err.msg, bad[i].says));
        if (!failed || !strstr(err.msg, bad[i].says))
            fprintf(stderr, "  case %zu: '%s'\n", i, failed ? err.msg : "(accepted)");
    }
}

/* Reals: box-downsampled to the resolution and, while fading, mixed with their coarser self. */
TEST(reals_cross_fade) {
    gt_rng rng = gt_rng_seed(5);
    bool prev = gt_grad_set(false);
    gt_tensor *x = gt_rand_normal(&rng, 4, (int64_t[]){2, 1, 8, 8}, 0, 1);
    float *v = values(x);
    gt_grow_state st = {.level = 1, .res = 8 >> 1, .fading = true, .alpha = 0.25};
    gt_tensor *y = gt_grow_reals(x, st);
    CHECK(y->shape[2] == 4 && y->shape[3] == 4);
    float *out = values(y);
    double err = 0;
    for (int n = 0; n < 2; n++)
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) {
                const float *b = v + n * 64;
                double fine = 0, coarse = 0;
                for (int p = 0; p < 2; p++)
                    for (int q = 0; q < 2; q++) fine += b[(2 * i + p) * 8 + 2 * j + q] / 4.0;
                for (int p = 0; p < 4; p++)
                    for (int q = 0; q < 4; q++)
                        coarse += b[(4 * (i / 2) + p) * 8 + 4 * (j / 2) + q] / 16.0;
                err = fmax(err, fabs(out[n * 16 + i * 4 + j] - (0.75 * coarse + 0.25 * fine)));
            }
    CHECK(err < 1e-5);
    st.fading = false;
    st.alpha = 1;
    st.res = 8;
    CHECK(max_diff(gt_grow_reals(x, st), x) == 0);
    free(v);
    free(out);
    gt_grad_set(prev);
    gt_step_end();
}

/* Fashion-MNIST's 28x28 on a 32x32 canvas of background. */
TEST(idx_images_padded_to_32) {
    gt_error err;
    gt_dataset *ds = gt_dataset_new(2, 1, 28, 28, true, "pad", &err);
    for (int64_t i = 0; i < 2 * 28 * 28; i++) ds->x[i] = (float)(i % 97) / 97.0f;
    ds->labels[0] = 3;
    ds->labels[1] = 7;
    ds->n_classes = 10;
    gt_dataset *p = gt_data_pad(ds, 32, -1.0f, &err);
    CHECK(p && p->h == 32 && p->w == 32 && p->n == 2 && p->labels[1] == 7 && p->n_classes == 10);
    bool ok = p != NULL;
    for (int n = 0; ok && n < 2; n++)
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 32; x++) {
                bool inside = y >= 2 && y < 30 && x >= 2 && x < 30;
                float want = inside ? ds->x[n * 784 + (y - 2) * 28 + (x - 2)] : -1.0f;
                ok = ok && p->x[n * 1024 + y * 32 + x] == want;
            }
    CHECK(ok);
    CHECK(gt_data_pad(ds, 31, -1.0f, &err) == NULL && strstr(err.msg, "31"));
    gt_dataset_free(p);
    gt_dataset_free(ds);
}

/* Configurations the trainer refuses, each naming the key to change. */
TEST(bad_configurations_name_the_keys) {
    static const struct { const char *set; const char *says; } bad[] = {
        {"model.g.family=progressive model.g.norm=none data.resolution=32", "model.d.family"},
        {"model.g.family=progressive model.d.family=progressive model.g.norm=none model.d.norm=batch",
         "model.d.norm"},
        {"model.g.family=progressive model.d.family=progressive model.d.norm=none model.g.norm=batch",
         "model.g.norm"},
        {"model.g.family=progressive model.d.family=progressive model.d.norm=none model.g.norm=none "
         "model.d.spectral_norm=true", "spectral_norm"},
        {"model.g.family=progressive model.d.family=progressive model.d.norm=none model.g.norm=none "
         "model.d2.family=mlp", "model.d2.family"},
        {"model.g.family=progressive model.d.family=progressive model.d.norm=none model.g.norm=none "
         "data.resolution=24", "data.resolution"},
        {"model.g.family=progressive model.d.family=progressive model.d.norm=none model.g.norm=none "
         "progressive.start=32", "progressive.start"},
        {"model.g.family=progressive model.d.family=progressive model.d.norm=none model.g.norm=none "
         "model.d.mbstd_group=4 progressive.batch=8:6", "mbstd_group"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char set[512];
        snprintf(set, sizeof set, "data.dataset=png data.resolution=16 model.g.width=4 "
                                  "model.d.width=4 train.batch=8 %s", bad[i].set);
        gt_config c = grow_config(set);
        gt_trainer t;
        gt_error err = {0};
        bool failed = gt_trainer_init(&t, &c, false, &err) < 0;
        CHECK(failed && strstr(err.msg, bad[i].says));
        if (!failed || !strstr(err.msg, bad[i].says))
            fprintf(stderr, "  case %zu: '%s'\n", i, failed ? err.msg : "(accepted)");
        if (!failed) gt_trainer_free(&t);
    }
    /* a good one builds, with one table for all resolutions */
    gt_config c = grow_config("data.dataset=png data.resolution=16 model.g.width=4 model.d.width=4 "
                              "model.g.family=progressive model.d.family=progressive "
                              "model.d.norm=none model.g.norm=none train.batch=8");
    gt_trainer t;
    gt_error err;
    CHECK(gt_trainer_init(&t, &c, false, &err) == 0);
    if (t.progressive) {
        CHECK(gt_model_growth_res(&t.g) == 16 && gt_params_find(&t.g.params, "to_rgb4.weight") >= 0);
        float *x = malloc(2 * 16 * 16 * sizeof *x);
        gt_trainer_sample(&t, 2, 7, x);  /* at 4x4, upsampled to 16x16 */
        bool blocks = true;
        for (int y = 0; y < 16; y++)
            for (int k = 0; k < 16; k++) blocks = blocks && x[y * 16 + k] == x[(y / 4 * 4) * 16 + k / 4 * 4];
        CHECK(blocks);
        free(x);
        gt_trainer_free(&t);
    }
}

/* ---- through the gantry binary ------------------------------------------------------------ */

/* ProGAN at 16x16, stable phases of 8 images, fade-ins of 16, batches of 4 (2 at 4x4, set per
 * resolution): 4x4 for steps 0-3, 8x8 fading in over steps 4-7 and stable for 8-9, 16x16 fading
 * in over steps 10-13 (alpha 0, 0.25, 0.5, 0.75), then stable. */
static void progan_args(cli_args *a, const char *png, const char *out, int steps) {
    cli_args_init(a);
    cli_args_add(a, "train", "--config", "configs/progan-fmnist.ini", "--out", out, "--quiet",
                 "data.dataset=png", "data.resolution=16", "model.g.width=4", "model.d.width=4",
                 "model.g.z_dim=8", "model.d.mbstd_group=2", "train.batch=4",
                 "progressive.batch=4:2", "progressive.stable_images=8",
                 "progressive.fade_images=16", "train.log_every=1", "train.sample_every=3",
                 "train.eval_every=0", "train.checkpoint_every=0", "train.threads=2", NULL);
    cli_args_addf(a, "data.path=%s", png);
    cli_args_addf(a, "train.steps=%d", steps);
}

TEST(resume_in_mid_fade_bit_exact) {
    gt_config c = grow_config("train.batch=4 progressive.batch=4:2 progressive.stable_images=8 "
                              "progressive.fade_images=16");
    gt_grow_sched s;
    gt_error err;
    CHECK(gt_grow_sched_init(&s, &c, 16, 4, 2, &err) == 0);
    int64_t images = 0;
    int split = 0;
    for (int step = 0; step < 15; step++) {
        gt_grow_state st = gt_grow_at(&s, images);
        if (split == 0 && st.res == 16 && st.fading && st.alpha > 0) split = step;
        images += s.batch[st.level];
    }
    CHECK(split == 11);  /* resumes into 16x16 fading in (alpha 0.25), after two resets */
    char dir[64];
    if (!cli_scratch_new(dir)) return;
    const char *png = cli_png_folder(dir, 32, 16);
    const char *whole = cli_path(dir, "whole"), *part = cli_path(dir, "split");
    cli_args one, first, again;
    progan_args(&one, png, whole, 15);
    progan_args(&first, png, part, split);
    cli_args_init(&again);
    cli_args_add(&again, "train", "--resume", part, "--quiet", "train.steps=15", NULL);
    if (cli_run_ok(&one) && cli_run_ok(&first) && cli_run_ok(&again)) {
        CHECK(cli_same_bytes(cli_path(whole, CKPT), cli_path(part, CKPT)));
        char *m = cli_read_file(cli_path(whole, "metrics.jsonl"), NULL);
        CHECK(m && strstr(m, "\"d_loss\": ") && !strstr(m, "null"));
        free(m);
        cli_args info;
        cli_args_init(&info);
        cli_args_add(&info, "info", cli_path(whole, CKPT), NULL);
        cli_result r;
        cli_run(&info, &r);
        CHECK_RUN(&info, &r, r.code == 0 && cli_says(&r, "g.to_rgb4.weight") &&
                                 cli_says(&r, "d.from_rgb16.weight"));
        cli_result_free(&r);
        char grid[600];
        snprintf(grid, sizeof grid, "%s/samples", whole);
        CHECK(cli_count_names(grid, ".png") >= 1);
    }
    cli_scratch_remove(dir);
}

int main(void) {
    int rc;
    RUN_TESTS_INTO(rc, T(generator_blend), T(discriminator_blend), T(growth_keeps_one_table),
                   T(gradient_penalty_through_fading_d_matches_pytorch),
                   T(schedule_by_images_shown), T(schedule_errors_name_the_keys),
                   T(reals_cross_fade), T(idx_images_padded_to_32),
                   T(bad_configurations_name_the_keys), T(resume_in_mid_fade_bit_exact));
    gt_runtime_free();
    return rc;
}
