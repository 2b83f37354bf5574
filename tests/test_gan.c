/* The adversarial step against PyTorch: two full DCGAN-28 steps (width 8, batch 8) from the
 * same initial weights give the same losses, weights and batch-norm running statistics
 * (tests/golden/dcgan_step.gtfx, written by make_dcgan_step_fixtures.py). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fixture.h"
#include "gan/gan.h"
#include "test.h"

static gt_net_spec dcgan_spec(gt_role role) {
    gt_net_spec s = {.role = role, .z_dim = 16, .width = 8, .depth = 1, .init_std = 0.02,
                     .c = 1, .h = 28, .w = 28};
    strcpy(s.family, "dcgan");
    strcpy(s.activation, "relu");
    strcpy(s.norm, "batch");
    strcpy(s.init, "normal");
    return s;
}

/* Copies "<prefix><name>" from the fixture into every entry of the table. */
static void load_params(gt_fixture *fx, const char *prefix, gt_params *p) {
    char key[160];
    for (int i = 0; i < p->n; i++) {
        snprintf(key, sizeof key, "%s%s", prefix, p->spec[i].name);
        gt_tensor *t = gt_fixture_get(fx, key);
        CHECK(t->numel == p->t[i]->numel);
        if (t->numel == p->t[i]->numel) memcpy(p->t[i]->data, t->data, (size_t)t->numel * sizeof(float));
    }
}

/* A bias followed by batch norm has an exactly zero gradient, so Adam's first steps move it by
 * about +-lr in a direction set by rounding noise (in PyTorch as here); those biases, and the
 * running means that see them, are checked to an absolute 2.5 lr per step instead: each side
 * may move by a little more than lr (Adam's second update can reach 1.054 lr) in opposite
 * directions. */
static const char *const g_noise_driven[] = {"fc.bias", "fc_norm.running_mean", "deconv1.bias",
                                            "norm1.running_mean", NULL};
static const char *const d_noise_driven[] = {"conv2.bias", "norm2.running_mean", NULL};

static bool listed(const char *name, const char *const *list) {
    for (int i = 0; list[i]; i++)
        if (strcmp(name, list[i]) == 0) return true;
    return false;
}

/* Counts entries whose largest |ours - theirs|, relative to the entry's largest magnitude,
 * exceeds tol (absolute 2.5 lr per step for the noise-driven ones). */
static int compare_params(gt_fixture *fx, const char *prefix, const gt_params *p,
                          const char *const *noise_driven, double tol, double noise_abs) {
    char key[160];
    int bad = 0;
    for (int i = 0; i < p->n; i++) {
        snprintf(key, sizeof key, "%s%s", prefix, p->spec[i].name);
        gt_tensor *want = gt_fixture_get(fx, key);
        bool noisy = listed(p->spec[i].name, noise_driven);
        double scale = 1e-3, diff = 0;
        for (int64_t k = 0; k < want->numel; k++) {
            scale = fmax(scale, fabs(want->data[k]));
            diff = fmax(diff, fabs(want->data[k] - p->t[i]->data[k]));
        }
        bool ok = noisy ? diff <= noise_abs : diff / scale <= tol;
        if (!ok) fprintf(stderr, "  %s: difference %.3g (relative %.3g)\n", key, diff, diff / scale);
        bad += !ok;
    }
    return bad;
}

TEST(two_dcgan_steps_match_pytorch) {
    gt_fixture *fx = gt_fixture_load("tests/golden/dcgan_step.gtfx");
    CHECK(fx != NULL);
    if (!fx) return;
    gt_arena *arena = gt_arena_new(1 << 20);
    gt_rng rng = gt_rng_seed(0);
    gt_error err;
    gt_model g, d;
    gt_net_spec gs = dcgan_spec(GT_ROLE_GENERATOR), ds = dcgan_spec(GT_ROLE_DISCRIMINATOR);
    CHECK(gt_model_build(&g, &gs, arena, &rng, &err) == 0);
    CHECK(gt_model_build(&d, &ds, arena, &rng, &err) == 0);
    load_params(fx, "init.g.", &g.params);
    load_params(fx, "init.d.", &d.params);
    gt_optim_cfg oc = {.type = GT_OPTIM_ADAM, .lr = 2e-4, .beta1 = 0.5, .beta2 = 0.999, .eps = 1e-8,
                       .schedule = GT_SCHEDULE_CONSTANT, .total_steps = 2};
    gt_optim og, od;
    gt_optim_init(&og, &g.params, &oc, arena);
    gt_optim_init(&od, &d.params, &oc, arena);
    gt_gan gan;
    gt_gan_init(&gan, &g, &og, &d, &od, 1);
    for (int step = 0; step < 2; step++) {
        char key[32];
        snprintf(key, sizeof key, "step%d.real", step);
        gt_tensor *real = gt_fixture_get(fx, key);
        snprintf(key, sizeof key, "step%d.z", step);
        gt_tensor *z = gt_fixture_get(fx, key);
        gt_step_stats st;
        gt_tensor *fake = gt_gan_d_step(&gan, step, step, real, z, &st);
        gt_gan_g_step(&gan, step, fake, real, &st);
        snprintf(key, sizeof key, "step%d.d_loss", step);
        CHECK_NEAR(st.d_loss, gt_item(gt_fixture_get(fx, key)), 1e-5);
        snprintf(key, sizeof key, "step%d.g_loss", step);
        CHECK_NEAR(st.g_loss, gt_item(gt_fixture_get(fx, key)), 1e-5);
        gt_step_end();
    }
    CHECK(compare_params(fx, "final.g.", &g.params, g_noise_driven, 1e-4, 2 * 2.5 * 2e-4) == 0);
    CHECK(compare_params(fx, "final.d.", &d.params, d_noise_driven, 1e-4, 2 * 2.5 * 2e-4) == 0);
    gt_step_end();
    gt_model_release(&g);
    gt_model_release(&d);
    gt_arena_free(arena);
    gt_fixture_free(fx);
}

int main(void) {
    int rc;
    RUN_TESTS_INTO(rc, T(two_dcgan_steps_match_pytorch));
    gt_runtime_free();
    return rc;
}
