/* Golden tests: gantry against PyTorch references stored in tests/golden/NAME.gtfx (written by
 * tests/golden/make_fixtures.py). Covers the WGAN-GP double backward through a small conv D,
 * first-order gradients of single ops, and second-order gradients through conv_transpose2d and a
 * tanh/sigmoid MLP. Agreement: max|got - want| / max(1e-6, max|want|) <= 1e-4 per tensor.
 * GANTRY_GOLDEN_VERBOSE=1 in the environment prints every comparison's relative error. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* mkstemp, fdopen */
#endif
#include <stdio.h>
#include <stdlib.h>

#include "fixture.h"
#include "gantry.h"
#include "test.h"

#define GOLDEN_RTOL 1e-4

static gt_fixture *open_fixture(const char *name) {
    char path[256];
    snprintf(path, sizeof path, "tests/golden/%s.gtfx", name);
    gt_fixture *f = gt_fixture_load(path);
    CHECK(f != NULL);
    return f;
}

static int shapes_match(const gt_tensor *a, const gt_tensor *b) {
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

static void print_shape(const gt_tensor *t) {
    fprintf(stderr, "[");
    for (int i = 0; i < t->ndim; i++) fprintf(stderr, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
    fprintf(stderr, "]");
}

/* Compares got with the fixture tensor called name: shapes equal, relative error within tolerance. */
static void expect_close(const char *file, int line, gt_fixture *f, const char *name,
                         const gt_tensor *got) {
    if (!got) {
        gt_test_failed_checks++;
        fprintf(stderr, "  %s:%d: %s: gantry gave NULL\n", file, line, name);
        return;
    }
    gt_tensor *want = gt_fixture_get(f, name);
    if (!shapes_match(got, want)) {
        gt_test_failed_checks++;
        fprintf(stderr, "  %s:%d: %s: shape ", file, line, name);
        print_shape(got);
        fprintf(stderr, ", PyTorch ");
        print_shape(want);
        fprintf(stderr, "\n");
        return;
    }
    size_t n = (size_t)want->numel;
    float *a = malloc((n ? n : 1) * sizeof *a), *b = malloc((n ? n : 1) * sizeof *b);
    if (!a || !b) {
        fprintf(stderr, "  %s:%d: out of memory\n", file, line);
        abort();
    }
    gt_copy_to(a, got);
    gt_copy_to(b, want);
    double max_diff = 0.0, max_ref = 0.0;
    size_t worst = 0;
    int bad_value = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (fabs((double)b[i]) > max_ref) max_ref = fabs((double)b[i]);
        if (d != d) { /* NaN or inf - inf: report the first one */
            if (!bad_value) worst = i;
            bad_value = 1;
        } else if (d > max_diff) {
            max_diff = d;
            if (!bad_value) worst = i;
        }
    }
    double rel = max_diff / (max_ref > 1e-6 ? max_ref : 1e-6);
    if (getenv("GANTRY_GOLDEN_VERBOSE"))
        fprintf(stderr, "  %-24s relative error %.3g\n", name, rel);
    if (bad_value || !(rel <= GOLDEN_RTOL)) {
        gt_test_failed_checks++;
        fprintf(stderr, "  %s:%d: %s: relative error %.3g > %.1g (max |diff| %.4g at flat index %zu: "
                        "gantry %.8g, PyTorch %.8g; max |PyTorch| %.4g)%s\n",
                file, line, name, rel, GOLDEN_RTOL, max_diff, worst, a[worst], b[worst], max_ref,
                bad_value ? " [NaN]" : "");
    }
    free(a);
    free(b);
}
#define EXPECT_CLOSE(f, name, got) expect_close(__FILE__, __LINE__, (f), (name), (got))

/* A parameter in the model arena holding the fixture tensor's values. */
static gt_tensor *param_from(gt_arena *model, gt_fixture *f, const char *name) {
    gt_tensor *t = gt_fixture_get(f, name);
    gt_tensor *p = gt_param_new(model, t->ndim, t->shape);
    gt_copy_to(p->data, t);
    return p;
}

/* A step-arena leaf that requires a gradient. */
static gt_tensor *leaf_from(gt_fixture *f, const char *name) {
    gt_tensor *t = gt_fixture_get(f, name);
    gt_set_requires_grad(t, true);
    return t;
}

/* Checks y against <prefix>.y and d sum(y * v)/d inputs[i] against <prefix>.g<names[i]>. */
static void check_first_order(gt_fixture *f, const char *prefix, gt_tensor *y, int n,
                              gt_tensor **inputs, const char *const *names) {
    char key[128];
    snprintf(key, sizeof key, "%s.y", prefix);
    EXPECT_CLOSE(f, key, y);
    snprintf(key, sizeof key, "%s.v", prefix);
    gt_tensor *v = gt_fixture_get(f, key);
    gt_tensor *grads[8] = {0};
    gt_grad(1, &y, &v, n, inputs, grads, false);
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof key, "%s.g%s", prefix, names[i]);
        EXPECT_CLOSE(f, key, grads[i]);
    }
}

static gt_conv_opts conv_opts(int stride, int pad, int dilation, int groups, int out_pad) {
    gt_conv_opts o = gt_conv_opts_default();
    o.stride[0] = o.stride[1] = stride;
    o.padding[0] = o.padding[1] = pad;
    o.dilation[0] = o.dilation[1] = dilation;
    o.groups = groups;
    o.output_padding[0] = o.output_padding[1] = out_pad;
    return o;
}

/* ---- (a) WGAN-GP ------------------------------------------------------------------------ */

/* D: conv 1->4 k4 s2 p1, leaky 0.2, conv 4->8 k4 s2 p1, leaky 0.2, flatten, linear 72->1. */
static gt_tensor *disc(gt_tensor *x, gt_tensor *const *p) {
    gt_conv_opts o = conv_opts(2, 1, 1, 1, 0);
    gt_tensor *h = gt_leaky_relu(gt_conv2d(x, p[0], p[1], o), 0.2f);
    h = gt_leaky_relu(gt_conv2d(h, p[2], p[3], o), 0.2f);
    int64_t flat[2] = {h->shape[0], -1};
    return gt_linear(gt_reshape(h, 2, flat), p[4], p[5]);
}

TEST(golden_wgan_gp) {
    gt_fixture *f = open_fixture("wgan_gp");
    if (!f) return;
    gt_arena *model = gt_arena_new(1 << 16);
    static const char *const names[6] = {"w1", "b1", "w2", "b2", "w3", "b3"};
    static const char *const gnames[6] = {"gw1", "gb1", "gw2", "gb2", "gw3", "gb3"};
    gt_tensor *p[6];
    for (int i = 0; i < 6; i++) p[i] = param_from(model, f, names[i]);

    /* x_hat = e x + (1 - e) x_fake, a leaf that requires a gradient */
    gt_tensor *e = gt_fixture_get(f, "e");
    gt_tensor *mix = gt_add(gt_mul(e, gt_fixture_get(f, "x")),
                            gt_mul(gt_add_scalar(gt_neg(e), 1.0f), gt_fixture_get(f, "x_fake")));
    gt_tensor *x_hat = gt_detach(mix);
    gt_set_requires_grad(x_hat, true);
    EXPECT_CLOSE(f, "x_hat", x_hat);

    gt_tensor *d_out = disc(x_hat, p);
    EXPECT_CLOSE(f, "d_out", d_out);

    gt_tensor *gx = NULL;
    gt_grad(1, &d_out, NULL, 1, &x_hat, &gx, true);
    EXPECT_CLOSE(f, "grad_x_hat", gx);
    CHECK(gx && gx->requires_grad);

    /* penalty = mean_i (||gx_i||_2 - 1)^2 */
    int64_t flat[2] = {gx->shape[0], -1};
    int axis1 = 1;
    gt_tensor *norms = gt_sqrt(gt_sum(gt_square(gt_reshape(gx, 2, flat)), 1, &axis1, false));
    gt_tensor *penalty = gt_mean_all(gt_square(gt_add_scalar(norms, -1.0f)));
    EXPECT_CLOSE(f, "penalty", penalty);

    /* the same gradients twice: returned by gt_grad, then accumulated by gt_backward */
    gt_tensor *pg[6] = {0};
    gt_grad(1, &penalty, NULL, 6, p, pg, false);
    for (int i = 0; i < 6; i++) EXPECT_CLOSE(f, gnames[i], pg[i]);
    gt_backward(penalty);
    for (int i = 0; i < 6; i++) EXPECT_CLOSE(f, gnames[i], p[i]->grad);

    gt_step_end();
    gt_fixture_free(f);
    gt_arena_free(model);
}

/* ---- (b) first-order single ops --------------------------------------------------------- */

TEST(golden_conv2d) {
    gt_fixture *f = open_fixture("ops");
    if (!f) return;
    gt_tensor *in[3] = {leaf_from(f, "conv2d.x"), leaf_from(f, "conv2d.w"),
                        leaf_from(f, "conv2d.b")};
    static const char *const names[3] = {"x", "w", "b"};
    gt_tensor *y = gt_conv2d(in[0], in[1], in[2], conv_opts(2, 1, 2, 2, 0));
    check_first_order(f, "conv2d", y, 3, in, names);
    gt_step_end();
    gt_fixture_free(f);
}

TEST(golden_conv_transpose2d) {
    gt_fixture *f = open_fixture("ops");
    if (!f) return;
    gt_tensor *in[3] = {leaf_from(f, "conv_transpose2d.x"), leaf_from(f, "conv_transpose2d.w"),
                        leaf_from(f, "conv_transpose2d.b")};
    static const char *const names[3] = {"x", "w", "b"};
    gt_tensor *y = gt_conv_transpose2d(in[0], in[1], in[2], conv_opts(2, 1, 1, 2, 1));
    check_first_order(f, "conv_transpose2d", y, 3, in, names);
    gt_step_end();
    gt_fixture_free(f);
}

TEST(golden_pool2d) {
    gt_fixture *f = open_fixture("ops");
    if (!f) return;
    static const char *const names[1] = {"x"};
    gt_tensor *x = leaf_from(f, "avg_pool2d.x");
    check_first_order(f, "avg_pool2d", gt_avg_pool2d(x, 3, 2, 1), 1, &x, names);
    x = leaf_from(f, "max_pool2d_k2.x");
    check_first_order(f, "max_pool2d_k2", gt_max_pool2d(x, 2, 2, 0), 1, &x, names);
    x = leaf_from(f, "max_pool2d_k3p1.x");
    check_first_order(f, "max_pool2d_k3p1", gt_max_pool2d(x, 3, 2, 1), 1, &x, names);
    gt_step_end();
    gt_fixture_free(f);
}

TEST(golden_matmul) {
    gt_fixture *f = open_fixture("ops");
    if (!f) return;
    static const char *const names[2] = {"a", "b"};
    gt_tensor *in[2] = {leaf_from(f, "matmul_tt.a"), leaf_from(f, "matmul_tt.b")};
    check_first_order(f, "matmul_tt", gt_matmul(in[0], in[1], true, true), 2, in, names);
    in[0] = leaf_from(f, "matmul_b2d_tb.a");
    in[1] = leaf_from(f, "matmul_b2d_tb.b");
    check_first_order(f, "matmul_b2d_tb", gt_matmul(in[0], in[1], false, true), 2, in, names);
    in[0] = leaf_from(f, "matmul_ta.a");
    in[1] = leaf_from(f, "matmul_ta.b");
    check_first_order(f, "matmul_ta", gt_matmul(in[0], in[1], true, false), 2, in, names);
    gt_step_end();
    gt_fixture_free(f);
}

TEST(golden_log_softmax_softplus) {
    gt_fixture *f = open_fixture("ops");
    if (!f) return;
    static const char *const names[1] = {"x"};
    gt_tensor *x = leaf_from(f, "log_softmax.x");
    check_first_order(f, "log_softmax", gt_log_softmax(x, 1), 1, &x, names);
    x = leaf_from(f, "softplus.x"); /* includes +-40 and +-90: must not overflow */
    check_first_order(f, "softplus", gt_softplus(x), 1, &x, names);
    gt_step_end();
    gt_fixture_free(f);
}

TEST(golden_var) {
    gt_fixture *f = open_fixture("ops");
    if (!f) return;
    static const char *const names[1] = {"x"};
    gt_tensor *x = leaf_from(f, "var02.x");
    static const int axes[2] = {0, 2};
    check_first_order(f, "var02", gt_var(x, 2, axes, false, true), 1, &x, names);
    x = leaf_from(f, "var_all.x");
    static const int64_t one[1] = {1};
    gt_tensor *y = gt_reshape(gt_var(x, 0, NULL, false, true), 1, one);
    check_first_order(f, "var_all", y, 1, &x, names);
    gt_step_end();
    gt_fixture_free(f);
}

/* BCE with logits as softplus compositions: mean(t softplus(-z) + (1 - t) softplus(z)). */
TEST(golden_bce_with_logits) {
    gt_fixture *f = open_fixture("ops");
    if (!f) return;
    gt_tensor *z = leaf_from(f, "bce.z");
    gt_tensor *t = gt_fixture_get(f, "bce.t");
    gt_tensor *loss = gt_mean_all(gt_add(gt_mul(t, gt_softplus(gt_neg(z))),
                                         gt_mul(gt_add_scalar(gt_neg(t), 1.0f), gt_softplus(z))));
    EXPECT_CLOSE(f, "bce.loss", loss);
    gt_tensor *gz = NULL;
    gt_grad(1, &loss, NULL, 1, &z, &gz, false);
    EXPECT_CLOSE(f, "bce.gz", gz);
    gt_step_end();
    gt_fixture_free(f);
}

/* ---- (c) second order: d ||df/dx||^2 / d weights ------------------------------------------ */

/* Given f(x) built from leaf x, checks df/dx (<prefix>.gx), p = ||df/dx||^2 (<prefix>.p) and,
 * after gt_backward(p), x->grad (<prefix>.px when present) and each param's grad. */
static void check_second_order(gt_fixture *f, const char *prefix, gt_tensor *fx, gt_tensor *x,
                               int n, gt_tensor *const *params, const char *const *names) {
    char key[128];
    gt_tensor *gx = NULL;
    gt_grad(1, &fx, NULL, 1, &x, &gx, true);
    snprintf(key, sizeof key, "%s.gx", prefix);
    EXPECT_CLOSE(f, key, gx);
    gt_tensor *p = gt_sum_all(gt_square(gx));
    snprintf(key, sizeof key, "%s.p", prefix);
    EXPECT_CLOSE(f, key, p);
    gt_backward(p);
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof key, "%s.p%s", prefix, names[i]);
        EXPECT_CLOSE(f, key, params[i]->grad);
    }
    snprintf(key, sizeof key, "%s.px", prefix);
    if (gt_fixture_has(f, key)) EXPECT_CLOSE(f, key, x->grad);
}

/* f = sum(v * tanh(conv_transpose2d(x, w, b))), stride 2, padding 1, output padding 1 */
TEST(golden_second_order_conv_transpose2d) {
    gt_fixture *f = open_fixture("second_order");
    if (!f) return;
    gt_arena *model = gt_arena_new(1 << 16);
    gt_tensor *x = leaf_from(f, "convt.x");
    gt_tensor *params[2] = {param_from(model, f, "convt.w"), param_from(model, f, "convt.b")};
    static const char *const names[2] = {"w", "b"};
    gt_tensor *y = gt_conv_transpose2d(x, params[0], params[1], conv_opts(2, 1, 1, 1, 1));
    gt_tensor *fx = gt_sum_all(gt_mul(gt_fixture_get(f, "convt.v"), gt_tanh(y)));
    check_second_order(f, "convt", fx, x, 2, params, names);
    gt_step_end();
    gt_fixture_free(f);
    gt_arena_free(model);
}

/* f = sum(v * sigmoid(tanh(x W1^T + b1) W2^T + b2)) */
TEST(golden_second_order_mlp) {
    gt_fixture *f = open_fixture("second_order");
    if (!f) return;
    gt_arena *model = gt_arena_new(1 << 16);
    gt_tensor *x = leaf_from(f, "mlp.x");
    static const char *const names[4] = {"w1", "b1", "w2", "b2"};
    gt_tensor *params[4];
    for (int i = 0; i < 4; i++) {
        char key[32];
        snprintf(key, sizeof key, "mlp.%s", names[i]);
        params[i] = param_from(model, f, key);
    }
    gt_tensor *h = gt_tanh(gt_linear(x, params[0], params[1]));
    gt_tensor *o = gt_sigmoid(gt_linear(h, params[2], params[3]));
    gt_tensor *fx = gt_sum_all(gt_mul(gt_fixture_get(f, "mlp.v"), o));
    check_second_order(f, "mlp", fx, x, 4, params, names);
    gt_step_end();
    gt_fixture_free(f);
    gt_arena_free(model);
}

/* The reader rejects a missing file, a wrong magic and a truncated record with NULL. */
TEST(fixture_reader_rejects_bad_files) {
    fprintf(stderr, "  (three fixture error messages follow; they are expected)\n");
    CHECK(gt_fixture_load("tests/golden/no_such_fixture.gtfx") == NULL);
    char path[] = "/tmp/gantry_fixture_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    FILE *fp = fdopen(fd, "wb");
    CHECK(fp != NULL);
    if (!fp) return;
    fputs("GTFX2\n", fp);
    fclose(fp);
    CHECK(gt_fixture_load(path) == NULL);
    /* a record "a" of shape [2] with one float of data */
    static const unsigned char truncated[] = {'G', 'T', 'F', 'X', '1', '\n', 1, 0, 0, 0, 'a',
                                              1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 128, 63};
    fp = fopen(path, "wb");
    CHECK(fp != NULL);
    if (!fp) return;
    fwrite(truncated, 1, sizeof truncated, fp);
    fclose(fp);
    CHECK(gt_fixture_load(path) == NULL);
    /* the same record complete loads */
    static const unsigned char whole[] = {'G', 'T', 'F', 'X', '1', '\n', 1, 0, 0, 0, 'a',
                                          1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0,
                                          0, 0, 128, 63, 0, 0, 0, 64};
    fp = fopen(path, "wb");
    CHECK(fp != NULL);
    if (!fp) return;
    fwrite(whole, 1, sizeof whole, fp);
    fclose(fp);
    gt_fixture *f = gt_fixture_load(path);
    CHECK(f != NULL && gt_fixture_has(f, "a") && !gt_fixture_has(f, "b"));
    if (f) {
        gt_tensor *a = gt_fixture_get(f, "a");
        CHECK(a->ndim == 1 && a->shape[0] == 2);
        CHECK(gt_get(a, (const int64_t[]){0}) == 1.0f && gt_get(a, (const int64_t[]){1}) == 2.0f);
        gt_fixture_free(f);
    }
    remove(path);
    gt_step_end();
}

int main(void) {
    static const gt_test_case cases[] = {
        T(fixture_reader_rejects_bad_files),
        T(golden_wgan_gp),
        T(golden_conv2d),
        T(golden_conv_transpose2d),
        T(golden_pool2d),
        T(golden_matmul),
        T(golden_log_softmax_softplus),
        T(golden_var),
        T(golden_bce_with_logits),
        T(golden_second_order_conv_transpose2d),
        T(golden_second_order_mlp),
    };
    int rc = gt_test_run(cases, (int)(sizeof cases / sizeof cases[0]));
    gt_runtime_free();
    return rc;
}
