/* Reference reductions (x viewed as [outer, r, inner] -> y: [outer, inner]), flat gather and
 * scatter-add, and the per-channel kernels (x viewed as [n, c, s], one result per channel j
 * over all (i, k)). Every sum and statistic is accumulated in double and rounded once. */
#include "ref/kernels.h"

#include <math.h>

/* ---- reductions ------------------------------------------------------------------------------ */

static float x_at(const float *x, int64_t r, int64_t inner, int64_t o, int64_t k, int64_t j) {
    return x[(o * r + k) * inner + j];
}

/* y[o, j] = sum_k x[o, k, j]; r == 0 gives 0. */
void gt_ref_reduce_sum(float *y, const float *x, int64_t outer, int64_t r, int64_t inner) {
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < inner; j++) {
            double sum = 0.0;
            for (int64_t k = 0; k < r; k++) sum += x_at(x, r, inner, o, k, j);
            y[o * inner + j] = (float)sum;
        }
}

/* y[o, j] = max_k x[o, k, j]; a NaN anywhere gives NaN; r == 0 gives -inf. */
void gt_ref_reduce_max(float *y, const float *x, int64_t outer, int64_t r, int64_t inner) {
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < inner; j++) {
            float m = -INFINITY;
            for (int64_t k = 0; k < r; k++) {
                float v = x_at(x, r, inner, o, k, j);
                if (v > m || isnan(v)) m = v;
                if (isnan(m)) break;
            }
            y[o * inner + j] = m;
        }
}

/* w[o, k, j] = (x >= m) / count, m the line's max over k (NaN wins), count its hits; a NaN m
 * has no hits, so 0 / 0 makes the line NaN. */
void gt_ref_max_share(float *w, const float *x, int64_t outer, int64_t r, int64_t inner) {
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < inner; j++) {
            float m = -INFINITY, count = 0.0f;
            for (int64_t k = 0; k < r; k++) {
                float v = x_at(x, r, inner, o, k, j);
                if (!isnan(m) && (v > m || isnan(v))) m = v;
            }
            for (int64_t k = 0; k < r; k++) count += x_at(x, r, inner, o, k, j) >= m ? 1.0f : 0.0f;
            for (int64_t k = 0; k < r; k++)
                w[(o * r + k) * inner + j] = (x_at(x, r, inner, o, k, j) >= m ? 1.0f : 0.0f) / count;
        }
}

/* y[j] = x[idx[j]]. */
void gt_ref_gather(float *y, const float *x, const int64_t *idx, int64_t n) {
    for (int64_t j = 0; j < n; j++) y[j] = x[idx[j]];
}

/* x[idx[j]] += y[j] for j = 0, 1, ..., n-1 in order (x is not cleared): repeated indices add
 * up one float addition at a time, as the contract fixes. */
void gt_ref_scatter_add(float *x, const float *y, const int64_t *idx, int64_t n) {
    for (int64_t j = 0; j < n; j++) x[idx[j]] += y[j];
}

/* ---- per-channel kernels --------------------------------------------------------------------- */

static int64_t at3(int64_t c, int64_t s, int64_t i, int64_t j, int64_t k) {
    return (i * c + j) * s + k;
}

/* sum_{i,k} x[i, j, k] in double. */
static double channel_total(const float *x, int64_t n, int64_t c, int64_t s, int64_t j) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t k = 0; k < s; k++) sum += x[at3(c, s, i, j, k)];
    return sum;
}

void gt_ref_channel_sum(float *y, const float *x, int64_t n, int64_t c, int64_t s) {
    for (int64_t j = 0; j < c; j++) y[j] = (float)channel_total(x, n, c, s, j);
}

/* Biased variance of channel j about its mean m (two passes, double). */
static double channel_var(const float *x, int64_t n, int64_t c, int64_t s, int64_t j,
                          double m) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t k = 0; k < s; k++) {
            double d = x[at3(c, s, i, j, k)] - m;
            sum += d * d;
        }
    return sum / (double)(n * s);
}

/* Statistics of every channel, then xhat = (x - mean) invstd rounded once, and, when y is not
 * NULL, y = xhat gamma + beta as a float multiply then a float add (as cpu.h fixes). xhat may be
 * NULL when y is not. */
static void batch_norm_common(float *y, float *xhat, float *mean, float *var, float *invstd,
                              const float *x, const float *gamma, const float *beta, int64_t n,
                              int64_t c, int64_t s, float eps) {
    for (int64_t j = 0; j < c; j++) {
        double m = channel_total(x, n, c, s, j) / (double)(n * s);
        double v = channel_var(x, n, c, s, j, m);
        double r = 1.0 / sqrt(v + (double)eps);
        mean[j] = (float)m, var[j] = (float)v, invstd[j] = (float)r;
        for (int64_t i = 0; i < n; i++)
            for (int64_t k = 0; k < s; k++) {
                int64_t e = at3(c, s, i, j, k);
                float h = (float)((x[e] - m) * r);
                if (xhat) xhat[e] = h;
                if (y) {
                    float scaled = h * gamma[j];
                    y[e] = scaled + beta[j];
                }
            }
    }
}

void gt_ref_batch_norm(float *xhat, float *mean, float *var, float *invstd, const float *x,
                       int64_t n, int64_t c, int64_t s, float eps) {
    batch_norm_common(NULL, xhat, mean, var, invstd, x, NULL, NULL, n, c, s, eps);
}

void gt_ref_batch_norm_affine(float *y, float *xhat, float *mean, float *var, float *invstd,
                              const float *x, const float *gamma, const float *beta, int64_t n,
                              int64_t c, int64_t s, float eps) {
    batch_norm_common(y, xhat, mean, var, invstd, x, gamma, beta, n, c, s, eps);
}

/* sum_{i,k} a[i, j, k] b[i, j, k] in double. */
static double channel_dot(const float *a, const float *b, int64_t n, int64_t c, int64_t s,
                          int64_t j) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t k = 0; k < s; k++) {
            int64_t e = at3(c, s, i, j, k);
            sum += (double)a[e] * b[e];
        }
    return sum;
}

/* dx = invstd (dy - mean(dy) - xhat mean(dy xhat)) per channel, in double rounded once;
 * sum_dy = sum dy, sum_dy_xhat = sum dy xhat. Any of the three outputs may be NULL. */
void gt_ref_batch_norm_backward(float *dx, float *sum_dy, float *sum_dy_xhat, const float *dy,
                                const float *xhat, const float *invstd, int64_t n, int64_t c,
                                int64_t s) {
    for (int64_t j = 0; j < c; j++) {
        double sg = channel_total(dy, n, c, s, j), sgh = channel_dot(dy, xhat, n, c, s, j);
        if (sum_dy) sum_dy[j] = (float)sg;
        if (sum_dy_xhat) sum_dy_xhat[j] = (float)sgh;
        if (!dx) continue;
        double count = (double)(n * s), mg = sg / count, mgh = sgh / count, r = invstd[j];
        for (int64_t i = 0; i < n; i++)
            for (int64_t k = 0; k < s; k++) {
                int64_t e = at3(c, s, i, j, k);
                dx[e] = (float)(r * (dy[e] - mg - xhat[e] * mgh));
            }
    }
}
