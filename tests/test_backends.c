/* The backend table proved by a second backend: whole training steps under `cpu` (SIMD, threads,
 * float sums in blocked order) and `ref` (plain loops, double sums) agree on losses, gradients and
 * updated weights, for a DCGAN step, a WGAN-GP step (double backward), an exactly unrolled step
 * (differentiating through K optimizer updates) and a StyleGAN2 step with path length
 * regularization and R1.
 *
 * Tolerances. One float32 sum of K terms has relative error up to about K eps (eps = 2^-24 =
 * 6e-8) of the sum of |terms|, and typically sqrt(K) eps; the largest sums here are convolution
 * and matmul reductions of K <= 2,000 terms, so each op agrees within ~1e-5 of its output's
 * scale, and a few dozen ops in series (forward, backward, and the backward of the backward)
 * compound that to ~1e-4. Gradients are compared against 1e-3 of the largest gradient of their
 * network: bias gradients of a penalty are small differences of large float32 sums (see
 * test_arch_gp.c), so an element-wise relative bound would measure cancellation, not the
 * backends. Weights after one update move by at most lr (Adam's step is lr m / sqrt(v)), and
 * the update amplifies a gradient difference only where |g| is at the noise floor: there m /
 * sqrt(v) is +-1 whatever the size of g, so an element whose true gradient is 0 (a conv bias
 * before batch norm) moves by +-lr in either backend with the sign of its rounding noise. Weights
 * are compared with 1e-5 absolute (a twentieth of lr = 2e-4), except trainables whose gradient
 * is below 1e-4 of their network's largest in both backends, which may differ by 2 lr per step.
 * Buffers (batch-norm running statistics) inherit those moves: G's step runs D, updated, in
 * training mode, so D's statistics see weights that differ by up to 2 lr; they are allowed the
 * same 2 lr per step (measured: 4e-5 on a running mean after one DCGAN step). Losses: 1e-4
 * relative. The test runs one step, so the gradients compared are those that made the update. */
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "gantry.h"
#include "test.h"
#include "train_support.h"

#define GRAD_TOL 1e-3
#define WEIGHT_TOL 1e-5
#define LOSS_TOL 1e-4
#define NOISE_FLOOR 1e-4
#define LR 2e-4

/* The largest weight difference beyond what the comment above allows, over one network:
 * weights w [numel] (trainables first), gradients g [trainables]. */
static double weight_excess(const float *wc, const float *wr, int64_t numel, const float *gc,
                            const float *gr, int64_t trainables, int steps) {
    double gmax = 0, worst = 0;
    for (int64_t i = 0; i < trainables; i++) gmax = fmax(gmax, fabs((double)gr[i]));
    for (int64_t i = 0; i < numel; i++) {
        double d = fabs((double)wc[i] - wr[i]), allowed = WEIGHT_TOL;
        if (i >= trainables)
            allowed = 2 * LR * steps + WEIGHT_TOL * fmax(1.0, fabs((double)wr[i]));
        else if (fabs((double)gc[i]) < NOISE_FLOOR * gmax && fabs((double)gr[i]) < NOISE_FLOOR * gmax)
            allowed = 2 * LR * steps + WEIGHT_TOL;
        worst = fmax(worst, d / allowed);
    }
    return worst; /* <= 1 when every weight is within its allowance */
}

static void compare_backends(const char *what, const char *recipe, const char *overrides, int steps) {
    train_job cpu = {.recipe = recipe, .overrides = overrides, .steps = steps, .backend = "cpu"};
    train_job ref = cpu;
    ref.backend = "ref";
    train_job_run(&cpu);
    train_job_run(&ref);
    CHECK(cpu.rc == 0 && ref.rc == 0);
    if (cpu.rc == 0 && ref.rc == 0) {
        double dg = max_diff_scaled(ref.grads, cpu.grads, 0, cpu.n_g_grads);
        double dd = max_diff_scaled(ref.grads, cpu.grads, cpu.n_g_grads, cpu.n_grads);
        int64_t gw = cpu.n_g_weights, gg = cpu.n_g_grads;
        double dw = fmax(weight_excess(cpu.weights, ref.weights, gw, cpu.grads, ref.grads, gg, steps),
                         weight_excess(cpu.weights + gw, ref.weights + gw, cpu.n_weights - gw,
                                       cpu.grads + gg, ref.grads + gg, cpu.n_grads - gg, steps));
        double lg = fabs(cpu.g_loss - ref.g_loss) / fmax(1e-6, fabs(ref.g_loss));
        double ld = fabs(cpu.d_loss - ref.d_loss) / fmax(1e-6, fabs(ref.d_loss));
        printf("  %-28s G grads %.1e  D grads %.1e  weights %.2f of allowed  losses %.1e %.1e\n",
               what, dg, dd, dw, lg, ld);
        CHECK(dg <= GRAD_TOL && dd <= GRAD_TOL);
        CHECK(dw <= 1.0);
        CHECK(lg <= LOSS_TOL && ld <= LOSS_TOL);
        CHECK(!train_jobs_identical(&cpu, &ref) || cpu.n_weights == 0); /* two real backends ran */
    }
    train_job_free(&cpu);
    train_job_free(&ref);
}

static bool need_fashion_mnist(void) {
    if (have_fashion_mnist()) return true;
    TEST_SKIP("needs %s (Debian package dataset-fashion-mnist)", FMNIST_PATH);
    return false;
}

TEST(dcgan_step_agrees) {
    if (!need_fashion_mnist()) return;
    compare_backends("dcgan", "configs/dcgan-fmnist.ini",
                     "model.g.width=8 model.d.width=8 model.g.z_dim=16 train.batch=8", 1);
}

TEST(wgan_gp_step_agrees) {
    if (!need_fashion_mnist()) return;
    compare_backends("wgan-gp (double backward)", "configs/wgan-gp-fmnist.ini",
                     "model.g.width=8 model.d.width=8 model.g.z_dim=16 train.batch=8", 1);
}

TEST(unrolled_step_agrees) {
    compare_backends("unrolled, exact K = 3", "configs/unrolled-ring.ini",
                     "unrolled.steps=3 model.g.width=32 model.d.width=32 model.g.z_dim=16 "
                     "train.batch=64",
                     1);
}

TEST(stylegan2_path_length_step_agrees) {
    char set[900];
    if (!tiny_stylegan2_overrides(set, sizeof set)) return;
    compare_backends("stylegan2 + path length + r1", NULL, set, 1);
}

/* GANTRY_BACKEND picks the default context's backend (the tests' switch). */
TEST(environment_variable_picks_the_default) {
    const char *old = getenv("GANTRY_BACKEND");
    setenv("GANTRY_BACKEND", "ref", 1);
    gt_error err;
    gt_ctx *c = gt_ctx_new(NULL, &err);
    CHECK(c && strcmp(gt_ctx_backend(c), "ref") == 0);
    gt_ctx_free(c);
    if (old) setenv("GANTRY_BACKEND", old, 1);
    else unsetenv("GANTRY_BACKEND");
}

int main(void) {
    RUN_TESTS(T(dcgan_step_agrees), T(wgan_gp_step_agrees), T(unrolled_step_agrees),
              T(stylegan2_path_length_step_agrees), T(environment_variable_picks_the_default));
}
