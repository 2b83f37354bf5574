/* Augmentation (src/gan/augment.c): every function's gradients to second order, what each one
 * does to a known image, ADA's controller, and the golden values against PyTorch
 * (tests/golden/augment.gtfx, written by tests/golden/make_augment_fixtures.py). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "gan/augment.h"
#include "gradcheck.h"
#include "test.h"

/* ---- helpers ---------------------------------------------------------------------------------- */

static gt_tensor *filled(gt_arena *a, gt_rng *rng, int ndim, const int64_t *shape, bool uniform,
                         float std) {
    gt_tensor *t = gt_param_new(a, ndim, shape);
    if (uniform) gt_fill_uniform(rng, t, 0.0f, 1.0f);
    else gt_fill_normal(rng, t, 0, std);
    return t;
}

/* Draws for n samples from rng, kept outside the step arena. */
static gt_augment_draws persistent_draws(gt_arena *a, gt_rng *rng, int64_t n) {
    int64_t us[2] = {n, GT_AUGMENT_UNIFORMS}, gs[2] = {n, GT_AUGMENT_NORMALS};
    return (gt_augment_draws){filled(a, rng, 2, us, true, 1), filled(a, rng, 2, gs, false, 1)};
}

/* Sets uniform j of sample n. */
static void set_u(gt_augment_draws d, int64_t n, int j, float v) {
    d.u->data[n * GT_AUGMENT_UNIFORMS + j] = v;
}

static gt_augment_spec diff_spec(unsigned ops) {
    return (gt_augment_spec){.policy = GT_AUGMENT_DIFF, .ops = ops};
}

static gt_augment_spec ada_spec(unsigned ops, double p) {
    return (gt_augment_spec){.policy = GT_AUGMENT_ADA, .ops = ops, .p = p, .target = 0.6,
                             .kimg = 500, .interval = 4};
}

/* ---- gradients -------------------------------------------------------------------------------- */

typedef struct {
    gt_augment_spec spec;
    gt_augment_draws draws;
} aug_case;

/* augment(x)^3: the cube makes the second derivative depend on the augmentation's backward of
 * its backward (the augmentations are linear in x). */
static gt_tensor *augment_cubed(gt_tensor *const *in, const void *ctx) {
    const aug_case *c = ctx;
    gt_tensor *y = gt_augment(&c->spec, in[0], c->draws);
    return gt_mul(gt_square(y), y);
}

TEST(augmentations_differentiate_to_second_order) {
    gt_arena *a = gt_arena_new(1 << 20);
    gt_rng rng = gt_rng_seed(3);
    static const struct {
        const char *name;
        gt_augment_policy policy;
        unsigned ops;
        int channels;
    } cases[] = {
        {"diffaugment color", GT_AUGMENT_DIFF, GT_DIFF_COLOR, 3},
        {"diffaugment translation", GT_AUGMENT_DIFF, GT_DIFF_TRANSLATION, 2},
        {"diffaugment cutout", GT_AUGMENT_DIFF, GT_DIFF_CUTOUT, 1},
        {"diffaugment color + translation", GT_AUGMENT_DIFF, GT_DIFF_COLOR | GT_DIFF_TRANSLATION, 3},
        {"diffaugment translation + cutout", GT_AUGMENT_DIFF, GT_DIFF_TRANSLATION | GT_DIFF_CUTOUT, 3},
        {"diffaugment color + cutout", GT_AUGMENT_DIFF, GT_DIFF_COLOR | GT_DIFF_CUTOUT, 3},
        {"diffaugment, all three", GT_AUGMENT_DIFF, GT_DIFF_COLOR | GT_DIFF_TRANSLATION | GT_DIFF_CUTOUT, 3},
        {"ada xflip + rotate90 + translation", GT_AUGMENT_ADA, GT_ADA_XFLIP | GT_ADA_ROTATE90 | GT_ADA_TRANSLATION, 1},
        {"ada scale (bilinear, reflected)", GT_AUGMENT_ADA, GT_ADA_SCALE, 2},
        {"ada brightness + contrast (grey)", GT_AUGMENT_ADA, GT_ADA_BRIGHTNESS | GT_ADA_CONTRAST, 1},
        {"ada hue + saturation (RGB)", GT_AUGMENT_ADA, GT_ADA_HUE | GT_ADA_SATURATION | GT_ADA_CONTRAST, 3},
        {"ada cutout", GT_AUGMENT_ADA, GT_ADA_CUTOUT, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t xs[4] = {3, cases[i].channels, 6, 6};
        aug_case c = {cases[i].policy == GT_AUGMENT_DIFF ? diff_spec(cases[i].ops)
                                                         : ada_spec(cases[i].ops, 1.0 - 1e-9),
                      persistent_draws(a, &rng, 3)};
        /* images of std 0.3: the cube of an augmented pixel stays near 1, so the float32
         * objective's rounding stays far below what the finite differences resolve (at std 1
         * the color functions' gains push cubes past 100 and the numeric side drifts by more
         * than the tolerance while the analytic side matches PyTorch in double to 2e-7) */
        gt_tensor *x = filled(a, &rng, 4, xs, false, 0.3f);
        gc_tol tol = gc_tol_default();
        int bad = gc_check(cases[i].name, 1, &x, augment_cubed, &c, true, tol);
        CHECK(bad == 0);
        gt_test_record(cases[i].name, bad == 0);
    }
    gt_arena_free(a);
}

/* ---- what each function does ----------------------------------------------------------------- */

/* A 1 x 1 x 8 x 8 image whose pixel (i, j) holds 10 i + j + 1 (never 0). */
static gt_tensor *ramp(gt_arena *a) {
    int64_t s[4] = {1, 1, 8, 8};
    gt_tensor *x = gt_param_new(a, 4, s);
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++) x->data[i * 8 + j] = (float)(10 * i + j + 1);
    return x;
}

static float at(const float *y, int i, int j) { return y[i * 8 + j]; }

TEST(diffaugment_translation_shifts_with_zero_fill) {
    gt_arena *a = gt_arena_new(1 << 16);
    gt_rng rng = gt_rng_seed(1);
    gt_augment_draws d = persistent_draws(a, &rng, 1);
    /* s = round(8 / 8) = 1: shifts in {-1, 0, 1}; u3 in [2/3, 1) gives +1 rows, u4 in [0, 1/3) -1 */
    set_u(d, 0, 3, 0.9f);
    set_u(d, 0, 4, 0.1f);
    gt_augment_spec s = diff_spec(GT_DIFF_TRANSLATION);
    float y[64];
    gt_copy_to(y, gt_augment(&s, ramp(a), d));
    CHECK(at(y, 0, 1) == 10 * 1 + 0 + 1); /* y[i, j] = x[i + 1, j - 1] */
    CHECK(at(y, 6, 7) == 10 * 7 + 6 + 1);
    CHECK(at(y, 7, 3) == 0 && at(y, 2, 0) == 0); /* pulled from outside: zero */
    gt_step_end();
    gt_arena_free(a);
}

TEST(diffaugment_cutout_zeroes_half_the_side) {
    gt_arena *a = gt_arena_new(1 << 16);
    gt_rng rng = gt_rng_seed(2);
    gt_augment_draws d = persistent_draws(a, &rng, 1);
    set_u(d, 0, 5, 0.5f); /* centre floor(0.5 x 9) = 4: rows 4 - 2 .. 4 + 1 */
    set_u(d, 0, 6, 0.0f); /* centre 0: columns -2 .. 1, clipped to 0 .. 1 */
    gt_augment_spec s = diff_spec(GT_DIFF_CUTOUT);
    float y[64];
    gt_copy_to(y, gt_augment(&s, ramp(a), d));
    int zeros = 0;
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++) {
            bool cut = i >= 2 && i <= 5 && j <= 1;
            zeros += at(y, i, j) == 0;
            CHECK(cut ? at(y, i, j) == 0 : at(y, i, j) == 10 * i + j + 1);
        }
    CHECK(zeros == 8);
    gt_step_end();
    gt_arena_free(a);
}

TEST(diffaugment_color_keeps_shape_and_moves_brightness) {
    gt_arena *a = gt_arena_new(1 << 16);
    gt_rng rng = gt_rng_seed(3);
    gt_augment_draws d = persistent_draws(a, &rng, 1);
    set_u(d, 0, 0, 0.75f); /* brightness + 0.25 */
    set_u(d, 0, 1, 0.5f);  /* saturation x 1 */
    set_u(d, 0, 2, 0.5f);  /* contrast x 1 */
    gt_augment_spec s = diff_spec(GT_DIFF_COLOR);
    float y[64];
    gt_copy_to(y, gt_augment(&s, ramp(a), d));
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++) CHECK(fabsf(at(y, i, j) - (10 * i + j + 1.25f)) < 1e-4f);
    gt_step_end();
    gt_arena_free(a);
}

TEST(ada_integer_transforms_permute_pixels) {
    gt_arena *a = gt_arena_new(1 << 16);
    gt_rng rng = gt_rng_seed(4);
    gt_augment_draws d = persistent_draws(a, &rng, 1);
    float y[64];
    /* an x-flip alone: y[i, j] = x[i, 7 - j] */
    set_u(d, 0, 0, 0.0f);
    set_u(d, 0, 1, 0.2f);
    gt_augment_spec flip = ada_spec(GT_ADA_XFLIP, 0.5);
    gt_copy_to(y, gt_augment(&flip, ramp(a), d));
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++) CHECK(at(y, i, j) == 10 * i + (7 - j) + 1);
    /* one quarter turn: a permutation of the pixels (the sum and the set of values kept) */
    set_u(d, 0, 2, 0.0f);
    set_u(d, 0, 3, 0.3f); /* floor(4 x 0.3) = 1 */
    gt_augment_spec rot = ada_spec(GT_ADA_ROTATE90, 0.5);
    gt_copy_to(y, gt_augment(&rot, ramp(a), d));
    bool seen[80] = {0}, permutation = true;
    for (int k = 0; k < 64; k++) {
        int v = (int)y[k];
        permutation = permutation && y[k] == (float)v && v >= 1 && v < 80 && !seen[v];
        if (v >= 1 && v < 80) seen[v] = true;
    }
    CHECK(permutation);
    CHECK(at(y, 0, 0) != 1 || at(y, 0, 7) != 8); /* it moved */
    /* the gate: u >= p leaves the image alone */
    set_u(d, 0, 0, 0.9f);
    gt_copy_to(y, gt_augment(&flip, ramp(a), d));
    for (int k = 0; k < 64; k++) CHECK(y[k] == (float)(10 * (k / 8) + k % 8 + 1));
    gt_step_end();
    gt_arena_free(a);
}

/* ---- ADA's controller ------------------------------------------------------------------------- */

TEST(ada_p_follows_the_sign_of_r_t_minus_target) {
    gt_augment_spec s = ada_spec(GT_ADA_XFLIP, 0.1);
    s.adaptive = true;
    /* batch 50, interval 4, kimg 500: each adjustment is 50 x 4 / 500000 = 4e-4 */
    for (int k = 0; k < 3; k++) gt_augment_observe(&s, 1.0, 50);
    CHECK(s.p == 0.1 && s.window_steps == 3); /* no move inside the window */
    gt_augment_observe(&s, 0.6, 50);          /* r_t = (3 + 0.6) / 4 = 0.9 > 0.6 */
    CHECK(fabs(s.p - (0.1 + 4e-4)) < 1e-15 && fabs(s.last_rt - 0.9) < 1e-12);
    CHECK(s.window_steps == 0 && s.sign_count == 0);
    for (int k = 0; k < 4; k++) gt_augment_observe(&s, -0.5, 50); /* r_t < target: down */
    CHECK(fabs(s.p - 0.1) < 1e-15);
    /* clamped to [0, 1) however far r_t stays */
    s.kimg = 1e-3;
    for (int k = 0; k < 40; k++) gt_augment_observe(&s, 1.0, 50);
    CHECK(s.p < 1.0 && s.p > 0.999);
    for (int k = 0; k < 40; k++) gt_augment_observe(&s, -1.0, 50);
    CHECK(s.p == 0.0);
    /* a fixed p never moves */
    gt_augment_spec fixed = ada_spec(GT_ADA_XFLIP, 0.3);
    for (int k = 0; k < 8; k++) gt_augment_observe(&fixed, 1.0, 50);
    CHECK(fixed.p == 0.3);
}

TEST(unknown_functions_are_named) {
    gt_error err = {{0}};
    unsigned ops;
    CHECK(gt_augment_parse_ops(GT_AUGMENT_DIFF, "color,cutout", &ops, &err) == 0);
    CHECK(ops == (GT_DIFF_COLOR | GT_DIFF_CUTOUT));
    CHECK(gt_augment_parse_ops(GT_AUGMENT_DIFF, "color,blur", &ops, &err) == -1);
    CHECK(strstr(err.msg, "augment.diffaugment") && strstr(err.msg, "'blur'"));
    CHECK(gt_augment_parse_ops(GT_AUGMENT_ADA, "xflip,hue,spin", &ops, &err) == -1);
    CHECK(strstr(err.msg, "augment.ada") && strstr(err.msg, "'spin'") && strstr(err.msg, "rotate90"));
    CHECK(gt_augment_parse_ops(GT_AUGMENT_ADA, "", &ops, &err) == -1);
}

/* ---- against PyTorch -------------------------------------------------------------------------- */

#define GOLDEN_RTOL 1e-4

/* max |got - want| / max(1e-6, max |want|) */
static double rel_error(gt_tensor *got, gt_tensor *want) {
    int64_t n = want->numel;
    float *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)n * sizeof *b);
    gt_copy_to(a, got);
    gt_copy_to(b, want);
    double worst = 0, scale = 1e-6;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= worst)) worst = d;
        scale = fmax(scale, fabs((double)b[i]));
    }
    free(a), free(b);
    return got->numel == n ? worst / scale : INFINITY;
}

/* A persistent copy of fixture tensor `case.key`. */
static gt_tensor *fixture_leaf(gt_fixture *fx, gt_arena *a, const char *name, const char *key) {
    char full[64];
    snprintf(full, sizeof full, "%s.%s", name, key);
    gt_tensor *t = gt_fixture_get(fx, full), *leaf = gt_param_new(a, t->ndim, t->shape);
    gt_copy_to(leaf->data, t);
    return leaf;
}

static void golden_case(gt_fixture *fx, const char *name, gt_augment_spec spec) {
    gt_arena *a = gt_arena_new(1 << 18);
    gt_tensor *x = fixture_leaf(fx, a, name, "x"), *w = fixture_leaf(fx, a, name, "w");
    gt_augment_draws d = {fixture_leaf(fx, a, name, "u"), fixture_leaf(fx, a, name, "g")};
    gt_set_requires_grad(x, true);
    gt_tensor *y = gt_augment(&spec, x, d), *dx, *ddx;
    gt_tensor *l1 = gt_sum_all(gt_mul(w, gt_tanh(y)));
    gt_grad(1, &l1, NULL, 1, &x, &dx, true);
    gt_tensor *l2 = gt_sum_all(gt_square(dx));
    gt_grad(1, &l2, NULL, 1, &x, &ddx, false);
    char key[64];
    double err[3];
    const char *part[3] = {"y", "dx", "ddx"};
    gt_tensor *got[3] = {y, dx, ddx};
    for (int k = 0; k < 3; k++) {
        snprintf(key, sizeof key, "%s.%s", name, part[k]);
        err[k] = rel_error(got[k], gt_fixture_get(fx, key));
        CHECK(err[k] <= GOLDEN_RTOL);
    }
    printf("  %-17s vs PyTorch: values %.1e, gradients %.1e, second order %.1e\n", name, err[0],
           err[1], err[2]);
    gt_step_end();
    gt_arena_free(a);
}

TEST(augmentations_match_pytorch) {
    gt_fixture *fx = gt_fixture_load("tests/golden/augment.gtfx");
    CHECK(fx != NULL);
    if (!fx) return;
    const unsigned geometry = GT_ADA_XFLIP | GT_ADA_ROTATE90 | GT_ADA_TRANSLATION | GT_ADA_SCALE;
    const unsigned color = GT_ADA_BRIGHTNESS | GT_ADA_CONTRAST | GT_ADA_HUE | GT_ADA_SATURATION;
    golden_case(fx, "diff_color", diff_spec(GT_DIFF_COLOR));
    golden_case(fx, "diff_translation", diff_spec(GT_DIFF_TRANSLATION));
    golden_case(fx, "diff_cutout", diff_spec(GT_DIFF_CUTOUT));
    golden_case(fx, "diff_all", diff_spec(GT_DIFF_COLOR | GT_DIFF_TRANSLATION | GT_DIFF_CUTOUT));
    golden_case(fx, "ada_geometry", ada_spec(geometry, 0.7));
    golden_case(fx, "ada_color_grey", ada_spec(GT_ADA_BRIGHTNESS | GT_ADA_CONTRAST, 0.7));
    golden_case(fx, "ada_color_rgb", ada_spec(color, 0.7));
    golden_case(fx, "ada_cutout", ada_spec(GT_ADA_CUTOUT, 0.7));
    golden_case(fx, "ada_all", ada_spec(geometry | color | GT_ADA_CUTOUT, 0.7));
    gt_fixture_free(fx);
}

int main(void) {
    RUN_TESTS(T(augmentations_differentiate_to_second_order),
              T(diffaugment_translation_shifts_with_zero_fill),
              T(diffaugment_cutout_zeroes_half_the_side),
              T(diffaugment_color_keeps_shape_and_moves_brightness),
              T(ada_integer_transforms_permute_pixels), T(ada_p_follows_the_sign_of_r_t_minus_target),
              T(unknown_functions_are_named), T(augmentations_match_pytorch));
}
