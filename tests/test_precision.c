/* train.precision = bf16 end to end: the context's precision routes matmuls and convolutions
 * (forward, input and weight gradients, transposed) to the bf16 kernels on both backends; double
 * backward under bf16 (WGAN-GP, R1 and path length, exact unrolling) agrees with FP32 within a
 * bound that follows from bf16's 8-bit significand; every recipe of configs/ trains 50 bf16 steps
 * with finite values; and a weight that is finite in FP32 but overflows to inf when rounded to
 * bf16 is caught by the step's non-finite stop.
 *
 * The bound. Rounding an operand to bf16 (8 significant bits, nearest) changes it by at most
 * 2^-9 relative, so a product of two rounded operands by at most 2^-8 (first order), and a
 * matmul or convolution output by at most 2^-8 of its sum of |terms|; FP32's own rounding is
 * 2^-24 and negligible beside it. A gradient that runs through S such products in series
 * carries at most S 2^-8 of that scale (first order, errors of one stage passed on unchanged by
 * the later, linear ones). Gradients are compared as max |bf16 - fp32| over a network divided by
 * its largest |fp32| gradient, as test_backends does (bias gradients of a penalty are small
 * differences of large sums, so an element-wise relative bound would measure cancellation). S
 * counts the products on the longest chain of a step: G's forward (L_G layers), D's forward
 * (L_D), D's backward to its input (L_D) and G's backward (L_G), and a double backward runs the
 * backward of each of these again: S = 4 (L_G + L_D). The check also asks for a difference of
 * more than 2^-20, so that bf16 did run (FP32 runs are bit-identical). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <omp.h>

#include "cli_support.h"
#include "cpu/cpu.h"
#include "gantry.h"
#include "test.h"
#include "train/trainer.h"
#include "train_support.h"

/* ---- The precision switch and the ops ------------------------------------------------------ */

TEST(precision_is_per_context) {
    CHECK(gt_precision_get() == GT_PRECISION_FP32);
    CHECK(gt_precision_set(GT_PRECISION_BF16) == GT_PRECISION_FP32);
    CHECK(gt_precision_get() == GT_PRECISION_BF16);
    gt_error err;
    gt_ctx *c = gt_ctx_new("ref", &err);
    gt_ctx *prev = gt_ctx_use(c);
    CHECK(gt_precision_get() == GT_PRECISION_FP32); /* a new context starts at FP32 */
    CHECK(!gt_precision_bf16_native());             /* ref has only plain loops */
    gt_ctx_use(prev);
    gt_ctx_free(c);
    CHECK(gt_precision_get() == GT_PRECISION_BF16);
    CHECK(gt_precision_bf16_native() == (gt_cpu_bf16_native() != 0));
    gt_precision_set(GT_PRECISION_FP32);
}

/* A step tensor of the given shape, every element v. */
static gt_tensor *filled(int ndim, const int64_t *shape, float v) { return gt_full(ndim, shape, v); }

/* 1 + 2^-10 is no bf16 value (it rounds to 1): a sum of K products with ones is K under bf16
 * and K (1 + 2^-10) under FP32. Each op, and matmul's backward, on the current backend. */
static void check_ops_round(void) {
    const float e = 1.0f + 1.0f / 1024.0f;
    int64_t sa[2] = {1, 8}, sb[2] = {8, 1}, s4[4] = {1, 1, 3, 3};
    for (int bf16 = 0; bf16 <= 1; bf16++) {
        gt_precision_set(bf16 ? GT_PRECISION_BF16 : GT_PRECISION_FP32);
        float k8 = bf16 ? 8.0f : 8.0f * e, k9 = bf16 ? 9.0f : 9.0f * e;
        CHECK(gt_item(gt_matmul(filled(2, sa, e), filled(2, sb, 1.0f), false, false)) == k8);
        gt_tensor *x = filled(4, s4, e), *w = filled(4, s4, 1.0f);
        gt_conv_opts o = gt_conv_opts_default();
        CHECK(gt_item(gt_conv2d(x, w, NULL, o)) == k9);
        gt_tensor *dy = filled(4, (int64_t[]){1, 1, 1, 1}, 1.0f);
        CHECK(gt_item(gt_sum_all(gt_conv2d_weight_grad(x, dy, 3, 3, o))) == k9);
        gt_tensor *xt = filled(4, (int64_t[]){1, 1, 1, 1}, e);
        CHECK(gt_item(gt_sum_all(gt_conv_transpose2d(xt, w, NULL, o))) == k9);
        /* backward: d sum(a b) / da = b^T, read as bf16 */
        gt_tensor *a = filled(2, sa, 1.0f), *b = filled(2, sb, e), *ga = NULL;
        gt_set_requires_grad(a, true);
        gt_tensor *y = gt_matmul(a, b, false, false);
        gt_grad(1, &y, NULL, 1, &a, &ga, false);
        CHECK(ga && gt_item(gt_sum_all(ga)) == k8);
        gt_step_end();
    }
    gt_precision_set(GT_PRECISION_FP32);
}

TEST(ops_read_bf16_operands) {
    check_ops_round();
    gt_error err;
    gt_ctx *c = gt_ctx_new("ref", &err);
    gt_ctx *prev = gt_ctx_use(c);
    check_ops_round();
    gt_ctx_use(prev);
    gt_ctx_free(c);
}

/* ---- Double backward: bf16 against FP32 ---------------------------------------------------- */

/* ||a - b|| / ||b|| over x[from, to) (2-norms; 0 when b is all 0). */
static double rel_norm_diff(const float *a, const float *b, int64_t from, int64_t to) {
    double d = 0, n = 0;
    for (int64_t i = from; i < to; i++) {
        d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        n += (double)b[i] * b[i];
    }
    return n > 0 ? sqrt(d / n) : sqrt(d);
}

/* One step of a recipe under fp32 and bf16; the two networks' gradients within S 2^-8 (S = 4
 * (L_G + L_D), the header) and not identical. */
static void compare_precisions(const char *what, const char *recipe, const char *overrides,
                               int layers_g, int layers_d) {
    char o32[1100], o16[1100];
    snprintf(o32, sizeof o32, "%s train.precision=fp32", overrides);
    snprintf(o16, sizeof o16, "%s train.precision=bf16", overrides);
    train_job f = {.recipe = recipe, .overrides = o32, .steps = 1};
    train_job b = {.recipe = recipe, .overrides = o16, .steps = 1};
    train_job_run(&f);
    train_job_run(&b);
    CHECK(f.rc == 0 && b.rc == 0);
    if (f.rc == 0 && b.rc == 0) {
        double tol = 4.0 * (layers_g + layers_d) / 256.0, floor = 1.0 / (1 << 20);
        double dg = rel_norm_diff(b.grads, f.grads, 0, f.n_g_grads);
        double dd = rel_norm_diff(b.grads, f.grads, f.n_g_grads, f.n_grads);
        printf("  %-34s G grads %.2e  D grads %.2e  (bound %.3f)\n", what, dg, dd, tol);
        CHECK(dg <= tol && dd <= tol);
        CHECK(dg > floor && dd > floor);
    }
    train_job_free(&f);
    train_job_free(&b);
}

/* D's update by plain SGD (its first step moves D by lr g, not Adam's lr sign(g)), so that G's
 * gradient, taken after D's update, sees D's weights differ only in proportion to D's gradient. */
#define SGD_D "optim.d.type=sgd "

TEST(wgan_gp_double_backward) {
    if (!have_fashion_mnist()) {
        TEST_SKIP("needs %s", FMNIST_PATH);
        return;
    }
    /* dcgan: G linear, convT, convT; D conv, conv, linear */
    compare_precisions("wgan-gp (dcgan)", "configs/wgan-gp-fmnist.ini",
                       SGD_D "train.d_steps=1 model.g.width=16 model.d.width=16 model.g.z_dim=16 "
                       "model.g.norm=none model.d.norm=none train.batch=8", 3, 3);
}

TEST(r1_and_path_length_double_backward) {
    char set[900], with[1000];
    if (!tiny_stylegan2_overrides(set, sizeof set)) return;
    snprintf(with, sizeof with, SGD_D "%s", set);
    /* 8x8 stylegan2: G's longest chain is the mapping (8 linear), a style's affine map and the
     * modulated convs at 4x4 and 8x8 (3) and toRGB: 13; D: fromRGB, the 8 -> 4 block's 2 convs,
     * the 4x4 conv and 2 linear: 6 */
    compare_precisions("stylegan2: r1 + path length", NULL, with, 13, 6);
}

TEST(exact_unrolling_double_backward) {
    /* ring MLPs: 4 linear layers each; the 3 unrolled D updates lie on G's chain too, each a D
     * forward and backward: L_D counted 4 + 3 * 4 */
    compare_precisions("unrolled, exact K = 3", "configs/unrolled-ring.ini",
                       SGD_D "unrolled.steps=3 model.g.width=32 model.d.width=32 "
                       "model.g.z_dim=16 train.batch=64", 4, 16);
}

/* ---- Overflow and the non-finite stop ------------------------------------------------------ */

/* 3.397e38 is finite in FP32 but past the midpoint between the largest bf16 (3.3895e38) and
 * 2^128, so it rounds to inf: a matmul reading it is finite under FP32 and not under bf16. */
#define OVER_BF16 3.397e38f

TEST(bf16_overflow_is_inf) {
    int64_t s[2] = {1, 1};
    gt_tensor *a = filled(2, s, OVER_BF16), *b = filled(2, s, 0.5f);
    CHECK(isfinite(gt_item(gt_matmul(a, b, false, false))));
    gt_precision_set(GT_PRECISION_BF16);
    CHECK(isinf(gt_item(gt_matmul(a, b, false, false))));
    gt_precision_set(GT_PRECISION_FP32);
    gt_step_end();
}

/* A D weight set to OVER_BF16 turns the bf16 step non-finite: the step reports it and updates
 * nothing, which is what stops a run (session.c: training stopped at the last good state). */
TEST(bf16_overflow_stops_the_step) {
    gt_config c;
    gt_error err;
    CHECK(train_config(&c, "configs/gan-ring.ini", "train.precision=bf16 model.g.width=16 "
                       "model.d.width=16 train.batch=32", &err) == 0);
    gt_trainer t;
    if (gt_trainer_init(&t, &c, true, &err) < 0) {
        CHECK(!"trainer");
        return;
    }
    gt_params *p = &t.d.params;
    int w = 0;
    while (w < p->n && p->spec[w].ndim < 2) w++;
    CHECK(w < p->n);
    float *before = malloc((size_t)p->flat->numel * sizeof(float));
    float *after = malloc((size_t)p->flat->numel * sizeof(float));
    gt_copy_to(before, p->flat);
    before[p->spec[w].offset] = OVER_BF16;
    gt_copy_from(p->flat, before);
    gt_step_stats st = {0};
    CHECK(!gt_trainer_step(&t, &st) && st.nonfinite);
    gt_copy_to(after, p->flat);
    CHECK(memcmp(before, after, (size_t)p->flat->numel * sizeof(float)) == 0);
    CHECK(t.step == 0);
    free(before), free(after);
    gt_trainer_free(&t);
}

/* ---- Every recipe, 50 bf16 steps ------------------------------------------------------------ */

/* Small networks and batches, so that 50 steps of every recipe stay quick: image recipes read a
 * folder of 16 generated PNGs (in two class folders for conditional ones) instead of their dataset (loading Fashion-MNIST alone takes about
 * a second), resized to the recipe's resolution (64 becomes 32), with the recipe's channels
 * (stacked: 3); progressive growing's per-resolution batches are left to train.batch. */
/* dir/labelled: two class folders, a and b, of 8 generated 32x32 PNGs each. */
static const char *labelled_folder(const char *dir) {
    const char *top = cli_path(dir, "labelled");
    bool ok = cli_mkdir(top);
    for (int c = 0; ok && c < 2; c++) {
        char sub[600], png[700];
        snprintf(sub, sizeof sub, "%s/%c", top, 'a' + c);
        ok = cli_mkdir(sub);
        for (int i = 0; ok && i < 8; i++) {
            snprintf(png, sizeof png, "%s/img-%d.png", sub, i);
            ok = cli_write_gray_png(png, 32, 32, (unsigned)(c * 8 + i));
        }
    }
    CHECK(ok);
    return top;
}

static void recipe_overrides(const char *path, const char *dir, char *buf, size_t cap) {
    gt_config c;
    gt_error err;
    int n = snprintf(buf, cap, "train.precision=bf16 train.batch=8 model.g.width=8 "
                     "model.d.width=8 model.g.z_dim=16 data.prefetch=false");
    if (train_config(&c, path, NULL, &err) < 0 || !strcmp(c.data_dataset, "ring") ||
        !strcmp(c.data_dataset, "grid"))
        return;
    int channels = strstr(c.data_dataset, "stacked") ? 3 : (int)c.data_channels;
    const char *png = cli_path(dir, c.train_conditional ? "labelled" : "png");
    snprintf(buf + n, cap - (size_t)n, " data.dataset=png data.path=%s data.channels=%d "
             "data.resolution=%d progressive.batch=", png, channels,
             c.data_resolution > 32 ? 32 : (int)c.data_resolution);
}

TEST(every_recipe_trains_50_bf16_steps) {
    char dir[64];
    if (!cli_scratch_new(dir)) return;
    cli_png_folder(dir, 16, 32);
    labelled_folder(dir);
    int threads = omp_get_max_threads();
    omp_set_num_threads(1); /* tiny networks: threads would only wait on each other */
    DIR *d = opendir("configs");
    CHECK(d != NULL);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".ini") != 0) continue;
        char path[300], set[600];
        snprintf(path, sizeof path, "configs/%s", e->d_name);
        recipe_overrides(path, dir, set, sizeof set);
        train_job j = {.recipe = path, .overrides = set, .steps = 50};
        train_job_run(&j);
        bool finite = j.rc == 0;
        for (int64_t i = 0; finite && i < j.n_weights; i++) finite = isfinite(j.weights[i]);
        if (!finite) printf("  %s: not finite after 50 bf16 steps (rc %d)\n", e->d_name, j.rc);
        CHECK(finite);
        train_job_free(&j);
        n++;
    }
    if (d) closedir(d);
    omp_set_num_threads(threads);
    printf("  %d recipes trained 50 bf16 steps\n", n);
    CHECK(n >= 20);
    cli_scratch_remove(dir);
}

/* ---- The command line --------------------------------------------------------------------- */

/* Without the native path (here forced by GANTRY_BF16=portable, which gantry inherits) a bf16
 * run warns and trains; with it, no warning. */
TEST(cli_warns_when_bf16_is_not_native) {
    char dir[64];
    if (!cli_scratch_new(dir)) return;
    cli_args a;
    cli_args_tiny_ring(&a, cli_path(dir, "run"));
    cli_args_add(&a, "train.steps=3", "train.precision=bf16", NULL);
    setenv("GANTRY_BF16", "portable", 1);
    cli_result r;
    cli_run(&a, &r);
    unsetenv("GANTRY_BF16");
    CHECK_RUN(&a, &r, r.code == 0 && cli_says(&r, "warning: train.precision = bf16") &&
                          cli_says(&r, "portable bf16 path"));
    cli_result_free(&r);
    if (gt_cpu_bf16_native_supported()) {
        cli_args_tiny_ring(&a, cli_path(dir, "run2"));
        cli_args_add(&a, "train.steps=3", "train.precision=bf16", NULL);
        cli_run(&a, &r);
        CHECK_RUN(&a, &r, r.code == 0 && !cli_says(&r, "portable bf16 path"));
        cli_result_free(&r);
    }
    cli_scratch_remove(dir);
}

TEST(cli_bad_precision_is_named) {
    cli_args a;
    cli_args_init(&a);
    cli_args_add(&a, "config", "train.precision=bf8", NULL);
    cli_run_fails_saying(&a, "[train] precision", "'bf8'", "fp32|bf16", NULL);
    cli_args_init(&a);
    cli_args_add(&a, "bench", "sgemm", "--precision", "fp16", NULL);
    cli_run_fails_saying(&a, "--precision", "fp32 or bf16", "'fp16'", NULL);
}

TEST(cli_bench_runs_bf16) {
    cli_args a;
    cli_args_init(&a);
    cli_args_add(&a, "bench", "sgemm", "--precision", "bf16", "--steps", "1", "--warmup", "0", NULL);
    cli_result r;
    cli_run(&a, &r);
    CHECK_RUN(&a, &r, r.code == 0 && cli_says(&r, "\"precision\": \"bf16\""));
    cli_result_free(&r);
}

int main(void) {
    int rc;
    RUN_TESTS_INTO(rc, T(precision_is_per_context), T(ops_read_bf16_operands),
                   T(wgan_gp_double_backward), T(r1_and_path_length_double_backward),
                   T(exact_unrolling_double_backward), T(bf16_overflow_is_inf),
                   T(bf16_overflow_stops_the_step), T(every_recipe_trains_50_bf16_steps),
                   T(cli_warns_when_bf16_is_not_native), T(cli_bad_precision_is_named),
                   T(cli_bench_runs_bf16));
    gt_runtime_free();
    return rc;
}
