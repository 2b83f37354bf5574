/* Pooling and resampling kernels of cpu.h: average pooling and its adjoint, max pooling
 * with argmax indices, nearest 2x upsampling and its adjoint (2x2 sum pooling).
 * Each kernel splits its independent planes (or plane rows) across OpenMP threads. */
#include "cpu.h"

#include <math.h>
#include <string.h>

/* Below this many output floats an OpenMP region costs more than it saves. */
#define GT_POOL_PAR_MIN ((int64_t)1 << 14)

/* Window rows [*r0, *r1) and columns [*c0, *c1) of output (p, q), clipped to the image. */
static void pool_window(const gt_pool_geom *g, int64_t p, int64_t q, int64_t *r0, int64_t *r1,
                        int64_t *c0, int64_t *c1) {
    int64_t r = p * g->sh - g->ph, c = q * g->sw - g->pw;
    *r0 = r > 0 ? r : 0;
    *c0 = c > 0 ? c : 0;
    *r1 = r + g->kh < g->h_in ? r + g->kh : g->h_in;
    *c1 = c + g->kw < g->w_in ? c + g->kw : g->w_in;
}

/* y[p, q] = sum of the window / (kh*kw); x: [h_in, w_in], y: [h_out, w_out]. */
static void avg_pool_plane(const gt_pool_geom *g, float *y, const float *x, float inv) {
    for (int64_t p = 0; p < g->h_out; p++) {
        for (int64_t q = 0; q < g->w_out; q++) {
            int64_t r0, r1, c0, c1;
            pool_window(g, p, q, &r0, &r1, &c0, &c1);
            float s = 0.0f;
            for (int64_t r = r0; r < r1; r++)
                for (int64_t c = c0; c < c1; c++) s += x[r * g->w_in + c];
            y[p * g->w_out + q] = s * inv;
        }
    }
}

void gt_cpu_avg_pool2d(const gt_pool_geom *g, float *y, const float *x) {
    int64_t hwo = g->h_out * g->w_out, hwi = g->h_in * g->w_in;
    float inv = 1.0f / (float)(g->kh * g->kw);
#pragma omp parallel for schedule(static) if (g->nc * hwo > GT_POOL_PAR_MIN)
    for (int64_t i = 0; i < g->nc; i++) avg_pool_plane(g, y + i * hwo, x + i * hwi, inv);
}

/* x = 0, then x[window(p, q)] += y[p, q] / (kh*kw) in order of p, q. */
static void avg_pool_adjoint_plane(const gt_pool_geom *g, float *x, const float *y, float inv) {
    memset(x, 0, (size_t)(g->h_in * g->w_in) * sizeof *x);
    for (int64_t p = 0; p < g->h_out; p++) {
        for (int64_t q = 0; q < g->w_out; q++) {
            int64_t r0, r1, c0, c1;
            pool_window(g, p, q, &r0, &r1, &c0, &c1);
            float v = y[p * g->w_out + q] * inv;
            for (int64_t r = r0; r < r1; r++)
                for (int64_t c = c0; c < c1; c++) x[r * g->w_in + c] += v;
        }
    }
}

void gt_cpu_avg_pool2d_adjoint(const gt_pool_geom *g, float *x, const float *y) {
    int64_t hwo = g->h_out * g->w_out, hwi = g->h_in * g->w_in;
    float inv = 1.0f / (float)(g->kh * g->kw);
#pragma omp parallel for schedule(static) if (g->nc * hwi > GT_POOL_PAR_MIN)
    for (int64_t i = 0; i < g->nc; i++) avg_pool_adjoint_plane(g, x + i * hwi, y + i * hwo, inv);
}

/* Max of each window of plane x (flat offset base); a NaN wins over numbers, the first of
 * equal maxima wins. A window with no image element (padding only) gives -inf, idx -1. */
static void max_pool_plane(const gt_pool_geom *g, float *y, int64_t *idx, const float *x,
                           int64_t base) {
    for (int64_t p = 0; p < g->h_out; p++) {
        for (int64_t q = 0; q < g->w_out; q++) {
            int64_t r0, r1, c0, c1, best = -1;
            float m = -INFINITY;
            pool_window(g, p, q, &r0, &r1, &c0, &c1);
            for (int64_t r = r0; r < r1; r++) {
                for (int64_t c = c0; c < c1; c++) {
                    float v = x[r * g->w_in + c];
                    if (best < 0 || v > m || (isnan(v) && !isnan(m))) {
                        m = v;
                        best = r * g->w_in + c;
                    }
                }
            }
            y[p * g->w_out + q] = m;
            idx[p * g->w_out + q] = best < 0 ? -1 : base + best;
        }
    }
}

void gt_cpu_max_pool2d(const gt_pool_geom *g, float *y, int64_t *idx, const float *x) {
    int64_t hwo = g->h_out * g->w_out, hwi = g->h_in * g->w_in;
#pragma omp parallel for schedule(static) if (g->nc * hwo > GT_POOL_PAR_MIN)
    for (int64_t i = 0; i < g->nc; i++)
        max_pool_plane(g, y + i * hwo, idx + i * hwo, x + i * hwi, i * hwi);
}

/* y: [nc, 2h, 2w], x: [nc, h, w]; row 2r and 2r+1 of y repeat row r of x twice over. */
void gt_cpu_upsample2x(float *y, const float *x, int64_t nc, int64_t h, int64_t w) {
#pragma omp parallel for schedule(static) if (nc * h * w > GT_POOL_PAR_MIN)
    for (int64_t i = 0; i < nc * h; i++) {
        const float *s = x + i * w;
        float *d = y + 4 * i * w;
        for (int64_t c = 0; c < w; c++) d[2 * c] = d[2 * c + 1] = s[c];
        memcpy(d + 2 * w, d, (size_t)(2 * w) * sizeof *d);
    }
}

/* y: [nc, h/2, w/2] = x[2r, 2c] + x[2r, 2c+1] + x[2r+1, 2c] + x[2r+1, 2c+1], in that order. */
void gt_cpu_sum_pool2x(float *y, const float *x, int64_t nc, int64_t h, int64_t w) {
    int64_t ho = h / 2, wo = w / 2;
#pragma omp parallel for schedule(static) if (nc * h * w > GT_POOL_PAR_MIN)
    for (int64_t i = 0; i < nc * ho; i++) {
        const float *s0 = x + 2 * i * w, *s1 = s0 + w;
        float *d = y + i * wo;
        for (int64_t c = 0; c < wo; c++)
            d[c] = s0[2 * c] + s0[2 * c + 1] + s1[2 * c] + s1[2 * c + 1];
    }
}
