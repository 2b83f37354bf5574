/* Gradient penalties through a discriminator with three architecture tricks at once: spectral
 * normalization on every weight, self-attention at 14x14 and minibatch standard deviation, in
 * gantry's dcgan critic, against PyTorch (tests/golden/arch_gp.gtfx, written by
 * tests/golden/make_arch_gp_fixtures.py, which describes the network). For WGAN-GP and R1:
 * the penalty's value, its gradient with respect to every trainable of D (a double backward
 * through the normalized weights, the attention's softmax and the batch statistics), and each
 * spectral norm's u after the penalty's one training-mode forward. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "gan/gan.h"
#include "test.h"

#define RTOL 1e-4
#define FIXTURES "tests/golden/arch_gp.gtfx"

static gt_fixture *FX;

/* max |got - want| / max(max |want|, floor); -1 when the sizes differ. */
static double rel_error(const gt_tensor *got, const gt_tensor *want, double floor) {
    if (got->numel != want->numel) return -1;
    float *a = malloc((size_t)got->numel * sizeof *a);
    if (!a) abort();
    gt_copy_to(a, got);
    double err = 0, scale = fmax(floor, 1e-6);
    for (int64_t i = 0; i < got->numel; i++) {
        err = fmax(err, fabs((double)a[i] - want->data[i]));
        scale = fmax(scale, fabs((double)want->data[i]));
    }
    free(a);
    return err != err ? INFINITY : err / scale;
}

static void expect_close(const char *name, const gt_tensor *got, double floor) {
    double rel = rel_error(got, gt_fixture_get(FX, name), floor);
    if (getenv("GANTRY_GOLDEN_VERBOSE")) fprintf(stderr, "  %-36s relative error %.3g\n", name, rel);
    if (!(rel >= 0 && rel <= RTOL)) {
        gt_test_failed_checks++;
        fprintf(stderr, "  %s: relative error %.3g > %.1g (-1: sizes differ)\n", name, rel, RTOL);
    }
}

/* The largest |entry| of the case's gradients in the fixture. */
static double largest_gradient(const gt_model *d, const char *which) {
    char key[192];
    double m = 0;
    for (int i = 0; i < d->params.n; i++) {
        if (d->params.spec[i].kind != GT_PARAM_TRAINABLE) continue;
        snprintf(key, sizeof key, "%s.grad.%s", which, d->params.spec[i].name);
        const gt_tensor *t = gt_fixture_get(FX, key);
        for (int64_t j = 0; j < t->numel; j++) m = fmax(m, fabs((double)t->data[j]));
    }
    return m;
}

/* The critic of the fixture: dcgan D at 28x28, width 8, SN everywhere (switched off only to
 * show that the test can fail), attention at 14, mbstd in groups of 2; the fixture's weights and
 * u's are loaded by load_critic. */
static int build_critic(gt_model *d, gt_arena *a, bool spectral_norm) {
    gt_net_spec s = {.role = GT_ROLE_DISCRIMINATOR, .z_dim = 4, .width = 8, .depth = 2,
                     .init_std = 0.02, .c = 1, .h = 28, .w = 28, .spectral_norm = spectral_norm,
                     .sn_iterations = 1, .attention = 14, .mbstd_group = 2, .mbstd_channels = 1};
    strcpy(s.family, "dcgan");
    strcpy(s.activation, "leaky_relu");
    strcpy(s.norm, "none");
    strcpy(s.init, "normal");
    gt_rng rng = gt_rng_seed(1);
    gt_error err;
    if (gt_model_build(d, &s, a, &rng, &err) != 0) {
        fprintf(stderr, "  building the critic: %s\n", err.msg);
        return -1;
    }
    return 0;
}

/* Every entry of D's table (trainables and u's) from the fixture; false when one is missing. */
static bool load_critic(gt_model *d) {
    char key[160];
    for (int i = 0; i < d->params.n; i++) {
        snprintf(key, sizeof key, "d.%s", d->params.spec[i].name);
        const gt_tensor *t = gt_fixture_has(FX, key) ? gt_fixture_get(FX, key) : NULL;
        if (!t || t->numel != d->params.t[i]->numel) {
            fprintf(stderr, "  %s: not in the fixture or of another size\n", key);
            return false;
        }
        memcpy(d->params.t[i]->data, t->data, (size_t)t->numel * sizeof(float));
    }
    return true;
}

/* The penalty of `which` ("gp": WGAN-GP 10, "r1": R1 10) through d, as a D update computes it. */
static gt_tensor *penalty(gt_model *d, const char *which) {
    gt_gan gan;
    gt_gan_init(&gan, NULL, NULL, d, NULL, 1);
    if (strcmp(which, "gp") == 0) gan.penalty.gp = 10;
    else gan.penalty.r1 = 10;
    gt_d_draws dr = {.gp_eps = gt_fixture_get(FX, "gp_eps")};
    return gt_d_penalty(&gan, 0, gt_fixture_get(FX, "real"), gt_fixture_get(FX, "fake"), &dr, 1.0, NULL);
}

/* Value, D's gradients and the advanced u's of one case. A gradient's error is measured against
 * the larger of its own scale and 1% of the case's largest gradient: the biases' gradients of an
 * input-gradient norm are small differences of large float32 sums (conv2.bias's is 6e-7 beside
 * conv1.weight's 0.7), exact only to that sums' rounding. */
static void check_case(gt_model *d, const char *which) {
    CHECK(load_critic(d));
    gt_tensor *pen = penalty(d, which);
    char key[192];
    snprintf(key, sizeof key, "%s.value", which);
    expect_close(key, pen, 0);
    double floor = 1e-2 * largest_gradient(d, which);
    gt_params *p = &d->params;
    for (int i = 0; i < p->n; i++) {
        snprintf(key, sizeof key, "%s.%s.%s", which,
                 p->spec[i].kind == GT_PARAM_TRAINABLE ? "grad" : "u", p->spec[i].name);
        if (p->spec[i].kind != GT_PARAM_TRAINABLE) {
            expect_close(key, p->t[i], 0);
            continue;
        }
        gt_tensor *g;
        gt_grad(1, &pen, NULL, 1, &p->t[i], &g, true);
        expect_close(key, g, floor);
    }
    gt_step_end();
}

TEST(penalties_through_sn_attention_mbstd_match_pytorch) {
    gt_arena *a = gt_arena_new(1 << 18);
    gt_model d;
    CHECK(build_critic(&d, a, true) == 0);
    int n_u = 0;
    for (int i = 0; i < d.params.n; i++) n_u += d.params.spec[i].kind == GT_PARAM_BUFFER;
    CHECK(n_u == 7); /* conv1, theta, phi, g, o, conv2, fc */
    check_case(&d, "gp");
    check_case(&d, "r1");
    gt_model_release(&d);
    gt_arena_free(a);
}

/* The comparison can fail: a critic whose attention gamma is 0 (the block as the identity), or
 * whose weights are not spectrally normalized, is another function and misses the fixture
 * by far more than the tolerance. */
TEST(the_comparison_sees_attention_and_sn) {
    gt_arena *a = gt_arena_new(1 << 18);
    gt_model d;
    CHECK(build_critic(&d, a, true) == 0);
    CHECK(load_critic(&d));
    CHECK(rel_error(penalty(&d, "gp"), gt_fixture_get(FX, "gp.value"), 0) <= RTOL);
    gt_step_end();
    CHECK(load_critic(&d));
    int ig = gt_params_find(&d.params, "attn.gamma");
    CHECK(ig >= 0);
    if (ig >= 0) d.params.t[ig]->data[0] = 0;
    CHECK(rel_error(penalty(&d, "gp"), gt_fixture_get(FX, "gp.value"), 0) > 10 * RTOL);
    gt_step_end();
    gt_model_release(&d);
    CHECK(build_critic(&d, a, false) == 0);
    CHECK(load_critic(&d));
    CHECK(rel_error(penalty(&d, "gp"), gt_fixture_get(FX, "gp.value"), 0) > 10 * RTOL);
    gt_step_end();
    gt_model_release(&d);
    gt_arena_free(a);
}

int main(void) {
    FX = gt_fixture_load(FIXTURES);
    if (!FX) {
        fprintf(stderr, "test_arch_gp: cannot read %s\n", FIXTURES);
        return 1;
    }
    int rc;
    RUN_TESTS_INTO(rc, T(penalties_through_sn_attention_mbstd_match_pytorch),
                   T(the_comparison_sees_attention_and_sn));
    gt_fixture_free(FX);
    return rc;
}
