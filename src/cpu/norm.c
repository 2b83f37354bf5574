/* Per-channel kernels of cpu.h: channel sums and fused batch normalisation (statistics,
 * normalisation with an optional affine map, and its input gradient with the per-channel sums
 * that are the affine map's parameter gradients). x is viewed as [n, c, s]; each channel's sums run in
 * one fixed order and threads split channels, so results do not depend on the thread count.
 * Sums, statistics and the per-element arithmetic are in double: a bias before batch norm has a
 * gradient that is zero up to rounding, and double keeps that rounding (which Adam's first
 * steps amplify to +-lr) far below Adam's eps. */
#include "cpu.h"

#include <math.h>
#include <string.h>

/* clang reports every `omp simd` loop it leaves scalar, which all are at -O1 (sanitizer builds). */
#ifdef __clang__
#pragma clang diagnostic ignored "-Wpass-failed"
#endif

/* Up to this many elements a kernel runs on the calling thread. */
#define CH_PAR_MIN ((int64_t)1 << 15)
/* Partial sums per channel (s > 1): element k of a row goes to lane k % CH_LANES. */
#define CH_LANES 16
/* Channels per work item when s == 1 (columns of a row-major [n, c] matrix). */
#define CH_COLS ((int64_t)256)

/* The lanes added in a fixed tree. */
static double lanes_total(double *acc) {
    for (int w = CH_LANES / 2; w > 0; w /= 2)
        for (int l = 0; l < w; l++) acc[l] += acc[l + w];
    return acc[0];
}

/* acc[l] += sum of the row's elements k with k % CH_LANES == l, k < s, in order of k. */
static inline void lanes_add(double *acc, const float *row, int64_t s) {
    int64_t k = 0;
    for (; k + CH_LANES <= s; k += CH_LANES) {
#pragma omp simd
        for (int l = 0; l < CH_LANES; l++) acc[l] += row[k + l];
    }
    for (int l = 0; k + l < s; l++) acc[l] += row[k + l];
}

/* The same for (row[k] - m)^2 and for a[k] b[k]. */
static inline void lanes_add_sq(double *acc, const float *row, double m, int64_t s) {
    int64_t k = 0;
    for (; k + CH_LANES <= s; k += CH_LANES) {
#pragma omp simd
        for (int l = 0; l < CH_LANES; l++) {
            double d = row[k + l] - m;
            acc[l] += d * d;
        }
    }
    for (int l = 0; k + l < s; l++) {
        double d = row[k + l] - m;
        acc[l] += d * d;
    }
}

static inline void lanes_add_dot(double *acc, const float *a, const float *b, int64_t s) {
    int64_t k = 0;
    for (; k + CH_LANES <= s; k += CH_LANES) {
#pragma omp simd
        for (int l = 0; l < CH_LANES; l++) acc[l] += (double)a[k + l] * b[k + l];
    }
    for (int l = 0; k + l < s; l++) acc[l] += (double)a[k + l] * b[k + l];
}

/* Work items: one channel when s > 1, CH_COLS channels when s == 1. */
static int64_t ch_items(int64_t c, int64_t s) { return s > 1 ? c : (c + CH_COLS - 1) / CH_COLS; }

/* ---- channel sums ------------------------------------------------------------------------ */

/* Channels [c0, c0 + len) of a few elements each (1 < s < CH_LANES, as in a maxout group):
 * one double sum per channel in order of (row, element), without the lanes' fixed cost. */
static void channel_sum_short(float *y, const float *x, int64_t n, int64_t c, int64_t s,
                              int64_t c0, int64_t len) {
    enum { W = 8 }; /* channels side by side: independent chains of adds */
    for (int64_t j = c0; j < c0 + len; j += W) {
        int w = c0 + len - j < W ? (int)(c0 + len - j) : W;
        double acc[W] = {0};
        for (int64_t i = 0; i < n; i++) {
            const float *rows = x + (i * c + j) * s;
            for (int64_t k = 0; k < s; k++)
                for (int l = 0; l < w; l++) acc[l] += rows[l * s + k];
        }
        for (int l = 0; l < w; l++) y[j + l] = (float)acc[l];
    }
}

/* Work item t. s >= CH_LANES: channel t's sum over lanes; 1 < s < CH_LANES: channels from
 * t * CH_COLS, each summed in order; s == 1: columns from t * CH_COLS summed over rows in order. */
static void channel_sum_item(float *y, const float *x, int64_t n, int64_t c, int64_t s,
                             int64_t t) {
    if (s >= CH_LANES) {
        double acc[CH_LANES] = {0};
        for (int64_t i = 0; i < n; i++) lanes_add(acc, x + (i * c + t) * s, s);
        y[t] = (float)lanes_total(acc);
        return;
    }
    int64_t j0 = t * CH_COLS, len = c - j0 < CH_COLS ? c - j0 : CH_COLS;
    if (s > 1) {
        channel_sum_short(y, x, n, c, s, j0, len);
        return;
    }
    double acc[CH_COLS] = {0};
    for (int64_t i = 0; i < n; i++) {
        const float *row = x + i * c + j0;
#pragma omp simd
        for (int64_t j = 0; j < len; j++) acc[j] += row[j];
    }
    for (int64_t j = 0; j < len; j++) y[j0 + j] = (float)acc[j];
}

void gt_cpu_channel_sum(float *y, const float *x, int64_t n, int64_t c, int64_t s) {
    /* channel_sum_item's: short channels go CH_COLS to an item, as columns do */
    int64_t items = s >= CH_LANES ? c : (c + CH_COLS - 1) / CH_COLS;
    if (n == 0 || s == 0) {
        memset(y, 0, (size_t)c * sizeof *y);
        return;
    }
#pragma omp parallel for schedule(static) if (n * c * s > CH_PAR_MIN && items > 1)
    for (int64_t t = 0; t < items; t++) channel_sum_item(y, x, n, c, s, t);
}

/* ---- batch norm ---------------------------------------------------------------------------- */

typedef struct {
    float *y, *xhat, *mean, *var, *invstd;
    const float *x, *gamma, *beta;
    int64_t n, c, s;
    double eps;
} bn_fwd;

/* One row of the normalisation: xhat = (x - m) r in double, rounded; y = xhat g + b in float
 * (the same bits as a separate multiply and add). Either output may be NULL. */
static inline void bn_fwd_row(float *y, float *xhat, const float *x, double m, double r, float g,
                              float b, int64_t len) {
    if (!y) {
#pragma omp simd
        for (int64_t k = 0; k < len; k++) xhat[k] = (float)((x[k] - m) * r);
    } else if (!xhat) {
#pragma omp simd
        for (int64_t k = 0; k < len; k++) {
            float h = (float)((x[k] - m) * r), t = h * g;
            y[k] = t + b;
        }
    } else {
#pragma omp simd
        for (int64_t k = 0; k < len; k++) {
            float h = (float)((x[k] - m) * r), t = h * g;
            xhat[k] = h;
            y[k] = t + b;
        }
    }
}

/* Channel t (or the columns from t * CH_COLS): mean, then the variance about it, then xhat. */
static void bn_fwd_item(const bn_fwd *p, int64_t t) {
    int64_t n = p->n, c = p->c, s = p->s;
    double inv_count = 1.0 / (double)(n * s);
    if (s > 1) {
        double acc[CH_LANES] = {0};
        for (int64_t i = 0; i < n; i++) lanes_add(acc, p->x + (i * c + t) * s, s);
        double m = lanes_total(acc) * inv_count;
        memset(acc, 0, sizeof acc);
        for (int64_t i = 0; i < n; i++) lanes_add_sq(acc, p->x + (i * c + t) * s, m, s);
        double v = lanes_total(acc) * inv_count, r = 1.0 / sqrt(v + p->eps);
        p->mean[t] = (float)m, p->var[t] = (float)v, p->invstd[t] = (float)r;
        float g = p->y ? p->gamma[t] : 1.0f, b = p->y ? p->beta[t] : 0.0f;
        for (int64_t i = 0; i < n; i++) {
            int64_t o = (i * c + t) * s;
            bn_fwd_row(p->y ? p->y + o : NULL, p->xhat ? p->xhat + o : NULL, p->x + o, m, r, g,
                       b, s);
        }
        return;
    }
    int64_t j0 = t * CH_COLS, len = c - j0 < CH_COLS ? c - j0 : CH_COLS;
    double m[CH_COLS] = {0}, v[CH_COLS] = {0}, r[CH_COLS];
    for (int64_t i = 0; i < n; i++) {
        const float *row = p->x + i * c + j0;
#pragma omp simd
        for (int64_t j = 0; j < len; j++) m[j] += row[j];
    }
    for (int64_t j = 0; j < len; j++) m[j] *= inv_count;
    for (int64_t i = 0; i < n; i++) {
        const float *row = p->x + i * c + j0;
#pragma omp simd
        for (int64_t j = 0; j < len; j++) {
            double d = row[j] - m[j];
            v[j] += d * d;
        }
    }
    for (int64_t j = 0; j < len; j++) {
        v[j] *= inv_count;
        r[j] = 1.0 / sqrt(v[j] + p->eps);
        p->mean[j0 + j] = (float)m[j], p->var[j0 + j] = (float)v[j];
        p->invstd[j0 + j] = (float)r[j];
    }
    for (int64_t i = 0; i < n; i++) {
        const float *row = p->x + i * c + j0;
        float *hr = p->xhat ? p->xhat + i * c + j0 : NULL;
        if (!p->y) {
#pragma omp simd
            for (int64_t j = 0; j < len; j++) hr[j] = (float)((row[j] - m[j]) * r[j]);
            continue;
        }
        const float *g = p->gamma + j0, *b = p->beta + j0;
        float *yr = p->y + i * c + j0;
#pragma omp simd
        for (int64_t j = 0; j < len; j++) {
            float h = (float)((row[j] - m[j]) * r[j]), t = h * g[j];
            if (hr) hr[j] = h;
            yr[j] = t + b[j];
        }
    }
}

void gt_cpu_batch_norm(float *xhat, float *mean, float *var, float *invstd, const float *x,
                       int64_t n, int64_t c, int64_t s, float eps) {
    bn_fwd p = {NULL, xhat, mean, var, invstd, x, NULL, NULL, n, c, s, eps};
    int64_t items = ch_items(c, s);
#pragma omp parallel for schedule(static) if (n * c * s > CH_PAR_MIN && items > 1)
    for (int64_t t = 0; t < items; t++) bn_fwd_item(&p, t);
}

void gt_cpu_batch_norm_affine(float *y, float *xhat, float *mean, float *var, float *invstd,
                              const float *x, const float *gamma, const float *beta, int64_t n,
                              int64_t c, int64_t s, float eps) {
    bn_fwd p = {y, xhat, mean, var, invstd, x, gamma, beta, n, c, s, eps};
    int64_t items = ch_items(c, s);
#pragma omp parallel for schedule(static) if (n * c * s > CH_PAR_MIN && items > 1)
    for (int64_t t = 0; t < items; t++) bn_fwd_item(&p, t);
}

typedef struct {
    float *dx, *sum_dy, *sum_dy_xhat;
    const float *dy, *xhat, *invstd;
    int64_t n, c, s;
} bn_bwd;

/* Channel t (or the columns from t * CH_COLS): mean(dy) and mean(dy xhat), then dx. */
static void bn_bwd_item(const bn_bwd *p, int64_t t) {
    int64_t n = p->n, c = p->c, s = p->s;
    double inv_count = 1.0 / (double)(n * s);
    if (s > 1) {
        double a1[CH_LANES] = {0}, a2[CH_LANES] = {0};
        for (int64_t i = 0; i < n; i++) {
            int64_t o = (i * c + t) * s;
            lanes_add(a1, p->dy + o, s);
            lanes_add_dot(a2, p->dy + o, p->xhat + o, s);
        }
        double sg = lanes_total(a1), sgh = lanes_total(a2);
        if (p->sum_dy) p->sum_dy[t] = (float)sg;
        if (p->sum_dy_xhat) p->sum_dy_xhat[t] = (float)sgh;
        if (!p->dx) return;
        double r = p->invstd[t], mg = sg * inv_count, mgh = sgh * inv_count;
        for (int64_t i = 0; i < n; i++) {
            int64_t o = (i * c + t) * s;
            const float *g = p->dy + o, *h = p->xhat + o;
            float *d = p->dx + o;
#pragma omp simd
            for (int64_t k = 0; k < s; k++) d[k] = (float)(r * (g[k] - mg - h[k] * mgh));
        }
        return;
    }
    int64_t j0 = t * CH_COLS, len = c - j0 < CH_COLS ? c - j0 : CH_COLS;
    double mg[CH_COLS] = {0}, mgh[CH_COLS] = {0};
    const float *r = p->invstd + j0;
    for (int64_t i = 0; i < n; i++) {
        const float *g = p->dy + i * c + j0, *h = p->xhat + i * c + j0;
#pragma omp simd
        for (int64_t j = 0; j < len; j++) {
            mg[j] += g[j];
            mgh[j] += (double)g[j] * h[j];
        }
    }
    for (int64_t j = 0; j < len; j++) {
        if (p->sum_dy) p->sum_dy[j0 + j] = (float)mg[j];
        if (p->sum_dy_xhat) p->sum_dy_xhat[j0 + j] = (float)mgh[j];
        mg[j] *= inv_count, mgh[j] *= inv_count;
    }
    if (!p->dx) return;
    for (int64_t i = 0; i < n; i++) {
        const float *g = p->dy + i * c + j0, *h = p->xhat + i * c + j0;
        float *d = p->dx + i * c + j0;
#pragma omp simd
        for (int64_t j = 0; j < len; j++)
            d[j] = (float)(r[j] * (g[j] - mg[j] - h[j] * mgh[j]));
    }
}

void gt_cpu_batch_norm_backward(float *dx, float *sum_dy, float *sum_dy_xhat, const float *dy,
                                const float *xhat, const float *invstd, int64_t n, int64_t c,
                                int64_t s) {
    bn_bwd p = {dx, sum_dy, sum_dy_xhat, dy, xhat, invstd, n, c, s};
    int64_t items = ch_items(c, s);
#pragma omp parallel for schedule(static) if (n * c * s > CH_PAR_MIN && items > 1)
    for (int64_t t = 0; t < items; t++) bn_bwd_item(&p, t);
}
