/* Tests of the per-channel kernels of cpu.h (channel sums, fused batch norm and its input
 * gradient) against naive double loops, their independence from the thread count (kernels and
 * a whole batch-norm forward + backward through the ops), and the sums they serve. */
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>

#include "cpu/cpu.h"
#include "gantry.h"
#include "test.h"

static float *falloc(int64_t n) { return malloc((size_t)(n > 0 ? n : 1) * sizeof(float)); }

/* Deterministic test data in [offset - scale, offset + scale). */
static void rand_fill(float *x, int64_t n, float offset, float scale, uint32_t seed) {
    uint32_t s = seed * 2654435761u + 1u;
    for (int64_t i = 0; i < n; i++) {
        s ^= s << 13, s ^= s >> 17, s ^= s << 5;
        x[i] = offset + scale * ((float)(s >> 8) * 0x1p-23f - 1.0f);
    }
}

static int close_to(float got, double want, double tol) {
    return fabs((double)got - want) <= tol * (1.0 + fabs(want));
}

/* Every kernel on [n, c, s] against double loops; returns mismatches. */
static int check_shape(int64_t n, int64_t c, int64_t s, uint32_t seed) {
    int64_t e = n * c * s;
    float *x = falloc(e), *dy = falloc(e), *xhat = falloc(e), *dx = falloc(e);
    float *sum = falloc(c), *mean = falloc(c), *var = falloc(c), *inv = falloc(c);
    float *y = falloc(e), *h2 = falloc(e), *y2 = falloc(e), *dx2 = falloc(e), *st = falloc(8 * c);
    rand_fill(x, e, 3.0f, 2.0f, seed);
    rand_fill(dy, e, 0.5f, 1.0f, seed + 1);
    rand_fill(st + 6 * c, 2 * c, 0.0f, 1.5f, seed + 2); /* gamma, beta */
    const float *gamma = st + 6 * c, *beta = st + 7 * c;
    gt_cpu_channel_sum(sum, x, n, c, s);
    gt_cpu_batch_norm(xhat, mean, var, inv, x, n, c, s, 1e-5f);
    gt_cpu_batch_norm_backward(dx, NULL, NULL, dy, xhat, inv, n, c, s);
    /* the affine variant: y = xhat gamma + beta in float, xhat and statistics the same bits;
     * y alone (no xhat) the same; the backward's sums, and dx unchanged by asking for them */
    gt_cpu_batch_norm_affine(y, h2, st, st + c, st + 2 * c, x, gamma, beta, n, c, s, 1e-5f);
    gt_cpu_batch_norm_affine(y2, NULL, st, st + c, st + 2 * c, x, gamma, beta, n, c, s, 1e-5f);
    gt_cpu_batch_norm_backward(dx2, st + 3 * c, st + 4 * c, dy, xhat, inv, n, c, s);
    int bad = memcmp(h2, xhat, (size_t)e * sizeof *x) != 0;
    bad += memcmp(y, y2, (size_t)e * sizeof *x) != 0;
    bad += memcmp(dx2, dx, (size_t)e * sizeof *x) != 0;
    bad += memcmp(st, mean, (size_t)c * sizeof *x) != 0 || memcmp(st + c, var, (size_t)c * sizeof *x) != 0;
    bad += memcmp(st + 2 * c, inv, (size_t)c * sizeof *x) != 0;
    for (int64_t o = 0; o < e; o++) {
        int64_t j = (o / s) % c;
        float t = xhat[o] * gamma[j];
        bad += y[o] != t + beta[j];
    }
    for (int64_t j = 0; j < c; j++) {
        double g = 0, gh = 0;
        for (int64_t i = 0; i < n; i++)
            for (int64_t k = 0; k < s; k++) {
                int64_t o = (i * c + j) * s + k;
                g += dy[o], gh += (double)dy[o] * xhat[o];
            }
        bad += !close_to(st[3 * c + j], g, 1e-6) || !close_to(st[4 * c + j], gh, 1e-6);
    }
    /* sums alone, without dx */
    gt_cpu_batch_norm_backward(NULL, st + 5 * c, NULL, dy, xhat, inv, n, c, s);
    bad += memcmp(st + 5 * c, st + 3 * c, (size_t)c * sizeof *x) != 0;
    free(y), free(h2), free(y2), free(dx2), free(st);
    for (int64_t j = 0; j < c; j++) {
        double s1 = 0, m, v = 0, g = 0, gh = 0;
        for (int64_t i = 0; i < n; i++)
            for (int64_t k = 0; k < s; k++) s1 += x[(i * c + j) * s + k];
        m = s1 / (double)(n * s);
        for (int64_t i = 0; i < n; i++)
            for (int64_t k = 0; k < s; k++) v += pow(x[(i * c + j) * s + k] - m, 2);
        v /= (double)(n * s);
        double r = 1 / sqrt(v + 1e-5);
        bad += !close_to(sum[j], s1, 1e-6) || !close_to(mean[j], m, 1e-6);
        bad += !close_to(var[j], v, 1e-5) || !close_to(inv[j], r, 1e-5);
        for (int64_t i = 0; i < n; i++)
            for (int64_t k = 0; k < s; k++) {
                int64_t o = (i * c + j) * s + k;
                bad += !close_to(xhat[o], (x[o] - m) * r, 1e-5);
                g += dy[o], gh += (double)dy[o] * xhat[o];
            }
        g /= (double)(n * s), gh /= (double)(n * s);
        for (int64_t i = 0; i < n; i++)
            for (int64_t k = 0; k < s; k++) {
                int64_t o = (i * c + j) * s + k;
                bad += !close_to(dx[o], inv[j] * (dy[o] - g - xhat[o] * gh), 1e-5);
            }
    }
    free(x), free(dy), free(xhat), free(dx), free(sum), free(mean), free(var), free(inv);
    return bad;
}

TEST(kernels_match_naive_loops) {
    CHECK(check_shape(1, 1, 1, 1) == 0);
    CHECK(check_shape(4, 3, 5, 2) == 0);      /* rows shorter than the 16 partial sums */
    CHECK(check_shape(3, 2, 37, 3) == 0);     /* a tail after whole groups of 16 */
    CHECK(check_shape(64, 16, 49, 4) == 0);   /* threaded, DCGAN's 7 x 7 maps */
    CHECK(check_shape(7, 300, 1, 5) == 0);    /* [N, C]: columns, a partial block of 256 */
    CHECK(check_shape(64, 1000, 1, 6) == 0);  /* [N, C], threaded */
    CHECK(check_shape(1, 5, 3000, 7) == 0);   /* one row per channel */
    CHECK(check_shape(1, 1003, 5, 8) == 0);   /* maxout groups: short channels 256 to an item */
    CHECK(check_shape(3, 261, 15, 9) == 0);   /* short channels over rows, a partial block */
}

TEST(channel_sum_of_nothing_is_zero) {
    float y[3] = {1, 2, 3}, x[1] = {0};
    gt_cpu_channel_sum(y, x, 0, 3, 4);
    CHECK(y[0] == 0 && y[1] == 0 && y[2] == 0);
    gt_cpu_channel_sum(y, x, 2, 3, 0);
    CHECK(y[0] == 0 && y[1] == 0 && y[2] == 0);
}

/* The kernels with 1, 2 and 3 threads give the same bits. */
static void run_kernels(float *out, const float *x, const float *dy, int64_t n, int64_t c,
                        int64_t s) {
    int64_t e = n * c * s;
    gt_cpu_channel_sum(out, x, n, c, s);
    gt_cpu_batch_norm(out + 4 * c, out + c, out + 2 * c, out + 3 * c, x, n, c, s, 1e-5f);
    gt_cpu_batch_norm_backward(out + 4 * c + e, NULL, NULL, dy, out + 4 * c, out + 3 * c, n, c, s);
    /* the affine forward (gamma = x's first c values, beta = dy's) and the backward's sums */
    float *more = out + 4 * c + 2 * e;
    gt_cpu_batch_norm_affine(more, more + e, more + 2 * e, more + 2 * e + c, more + 2 * e + 2 * c,
                             x, x, dy, n, c, s, 1e-5f);
    gt_cpu_batch_norm_backward(more + 2 * e + 3 * c, more + 3 * e + 3 * c, more + 3 * e + 4 * c,
                               dy, out + 4 * c, more + 2 * e + 2 * c, n, c, s);
}

static int threads_agree(int64_t n, int64_t c, int64_t s) {
    int64_t e = n * c * s, len = 4 * c + 2 * e + 3 * e + 5 * c;
    float *x = falloc(e), *dy = falloc(e), *ref = falloc(len), *out = falloc(len);
    int saved = omp_get_max_threads(), bad = 0;
    rand_fill(x, e, -1.0f, 3.0f, 31);
    rand_fill(dy, e, 0.0f, 1.0f, 32);
    omp_set_num_threads(1);
    run_kernels(ref, x, dy, n, c, s);
    for (int t = 2; t <= 3; t++) {
        omp_set_num_threads(t);
        memset(out, 0, (size_t)len * sizeof *out);
        run_kernels(out, x, dy, n, c, s);
        bad += memcmp(ref, out, (size_t)len * sizeof *out) != 0;
    }
    omp_set_num_threads(saved);
    free(x), free(dy), free(ref), free(out);
    return bad;
}

TEST(kernels_independent_of_thread_count) {
    CHECK(threads_agree(64, 32, 196) == 0);
    CHECK(threads_agree(64, 2000, 1) == 0);
    CHECK(threads_agree(2, 20000, 5) == 0);
}

/* y = sum(batch_norm(x) * w) + sum(leaky_relu(batch_norm_affine(x, gamma, beta)) * w) through
 * the ops, then the gradients of x, gamma and beta: bitwise equal for 1 and 2 threads. */
static void bn_forward_backward(const float *xv, const float *wv, float *y, float *dx) {
    int64_t shape[4] = {32, 8, 14, 14};
    gt_arena *a = gt_arena_new(1 << 20);
    gt_tensor *x = gt_param_new(a, 4, shape);
    memcpy(x->data, xv, (size_t)x->numel * sizeof(float));
    gt_tensor *w = gt_from_data(4, shape, wv);
    int64_t c = 8;
    gt_tensor *gamma = gt_param_new(a, 1, &c), *beta = gt_param_new(a, 1, &c);
    for (int j = 0; j < 8; j++) gamma->data[j] = 0.5f + 0.25f * (float)j, beta->data[j] = 0.1f * (float)j;
    gt_tensor *mean, *var, *m2, *v2;
    gt_tensor *loss = gt_sum_all(gt_mul(gt_batch_norm(x, 1e-5f, &mean, &var), w));
    gt_tensor *z = gt_batch_norm_affine(x, gamma, beta, 1e-5f, &m2, &v2);
    gt_tensor *loss2 = gt_sum_all(gt_mul(gt_leaky_relu(z, 0.2f), w));
    gt_backward(gt_add(loss, loss2));
    y[0] = gt_item(loss);
    y[17] = gt_item(loss2);
    memcpy(y + 1, mean->data, 8 * sizeof(float));
    memcpy(y + 9, var->data, 8 * sizeof(float));
    memcpy(y + 18, gamma->grad->data, 8 * sizeof(float));
    memcpy(y + 26, beta->grad->data, 8 * sizeof(float));
    memcpy(y + 34, m2->data, 8 * sizeof(float));
    memcpy(y + 42, v2->data, 8 * sizeof(float));
    memcpy(dx, x->grad->data, (size_t)x->numel * sizeof(float));
    gt_step_end();
    gt_arena_free(a);
}

TEST(batch_norm_ops_independent_of_thread_count) {
    enum { E = 32 * 8 * 14 * 14 };
    float *x = falloc(E), *w = falloc(E), *d1 = falloc(E), *d2 = falloc(E), y1[50], y2[50];
    int saved = omp_get_max_threads();
    rand_fill(x, E, 0.5f, 2.0f, 41);
    rand_fill(w, E, 0.0f, 1.0f, 42);
    omp_set_num_threads(1);
    bn_forward_backward(x, w, y1, d1);
    omp_set_num_threads(2);
    bn_forward_backward(x, w, y2, d2);
    omp_set_num_threads(saved);
    CHECK(memcmp(y1, y2, sizeof y1) == 0);
    CHECK(memcmp(d1, d2, E * sizeof(float)) == 0);
    free(x), free(w), free(d1), free(d2);
}

int main(void) {
    int rc;
    RUN_TESTS_INTO(rc, T(kernels_match_naive_loops), T(channel_sum_of_nothing_is_zero),
                   T(kernels_independent_of_thread_count),
                   T(batch_norm_ops_independent_of_thread_count));
    gt_runtime_free();
    return rc;
}
