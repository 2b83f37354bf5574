/* Reference pooling and resampling over nc independent planes of h x w (cpu.h):
 * average pooling and its adjoint, max pooling with argmax, 2x upsampling and 2x2 sum pooling.
 * Sums run in double and are rounded once. */
#include "ref/kernels.h"

#include <math.h>
#include <stdlib.h>

/* Window of output (p, q): rows [*r0, *r1), columns [*c0, *c1) of the image; the part in the
 * padding is dropped (padding reads as 0 for sums and is never a max). */
static void window_of(const gt_pool_geom *g, int64_t p, int64_t q, int64_t *r0, int64_t *r1,
                      int64_t *c0, int64_t *c1) {
    int64_t top = p * g->sh - g->ph, left = q * g->sw - g->pw;
    *r0 = top < 0 ? 0 : top;
    *c0 = left < 0 ? 0 : left;
    *r1 = top + g->kh < g->h_in ? top + g->kh : g->h_in;
    *c1 = left + g->kw < g->w_in ? left + g->kw : g->w_in;
}

/* y[i, p, q] = (sum of window (p, q) of plane i) / (kh kw). */
void gt_ref_avg_pool2d(const gt_pool_geom *g, float *y, const float *x) {
    double count = (double)(g->kh * g->kw);
    for (int64_t i = 0; i < g->nc; i++) {
        const float *plane = x + i * g->h_in * g->w_in;
        for (int64_t p = 0; p < g->h_out; p++)
            for (int64_t q = 0; q < g->w_out; q++) {
                int64_t r0, r1, c0, c1;
                window_of(g, p, q, &r0, &r1, &c0, &c1);
                double sum = 0.0;
                for (int64_t r = r0; r < r1; r++)
                    for (int64_t c = c0; c < c1; c++) sum += plane[r * g->w_in + c];
                y[(i * g->h_out + p) * g->w_out + q] = (float)(sum / count);
            }
    }
}

/* x[i, r, c] = sum over the windows (p, q) that hold (r, c) of y[i, p, q] / (kh kw): the
 * forward's loop with its reads turned into double accumulations. */
void gt_ref_avg_pool2d_adjoint(const gt_pool_geom *g, float *x, const float *y) {
    int64_t hw = g->h_in * g->w_in;
    double count = (double)(g->kh * g->kw);
    double *acc = gt_ref_doubles(hw);
    for (int64_t i = 0; i < g->nc; i++) {
        for (int64_t k = 0; k < hw; k++) acc[k] = 0.0;
        for (int64_t p = 0; p < g->h_out; p++)
            for (int64_t q = 0; q < g->w_out; q++) {
                int64_t r0, r1, c0, c1;
                window_of(g, p, q, &r0, &r1, &c0, &c1);
                double v = y[(i * g->h_out + p) * g->w_out + q] / count;
                for (int64_t r = r0; r < r1; r++)
                    for (int64_t c = c0; c < c1; c++) acc[r * g->w_in + c] += v;
            }
        for (int64_t k = 0; k < hw; k++) x[i * hw + k] = (float)acc[k];
    }
    free(acc);
}

/* Whether v replaces the current best m: a larger value, or a NaN over a number; on ties the
 * first stays. */
static int beats(float v, float m) { return v > m || (isnan(v) && !isnan(m)); }

/* idx = flat index into x (over all planes) of the first max of each window, y = x[idx];
 * a window wholly in the padding gives y = -inf, idx = -1. */
void gt_ref_max_pool2d(const gt_pool_geom *g, float *y, int64_t *idx, const float *x) {
    for (int64_t i = 0; i < g->nc; i++)
        for (int64_t p = 0; p < g->h_out; p++)
            for (int64_t q = 0; q < g->w_out; q++) {
                int64_t r0, r1, c0, c1, best = -1;
                window_of(g, p, q, &r0, &r1, &c0, &c1);
                for (int64_t r = r0; r < r1; r++)
                    for (int64_t c = c0; c < c1; c++) {
                        int64_t at = (i * g->h_in + r) * g->w_in + c;
                        if (best < 0 || beats(x[at], x[best])) best = at;
                    }
                int64_t j = (i * g->h_out + p) * g->w_out + q;
                y[j] = best < 0 ? -INFINITY : x[best];
                idx[j] = best;
            }
}

/* y[i, r, c] = x[i, r / 2, c / 2]; y: [nc, 2h, 2w], x: [nc, h, w]. */
void gt_ref_upsample2x(float *y, const float *x, int64_t nc, int64_t h, int64_t w) {
    for (int64_t i = 0; i < nc; i++)
        for (int64_t r = 0; r < 2 * h; r++)
            for (int64_t c = 0; c < 2 * w; c++)
                y[(i * 2 * h + r) * 2 * w + c] = x[(i * h + r / 2) * w + c / 2];
}

/* y[i, r, c] = sum of the 2x2 block x[i, 2r..2r+1, 2c..2c+1]; y: [nc, h/2, w/2]. */
void gt_ref_sum_pool2x(float *y, const float *x, int64_t nc, int64_t h, int64_t w) {
    int64_t ho = h / 2, wo = w / 2;
    for (int64_t i = 0; i < nc; i++)
        for (int64_t r = 0; r < ho; r++)
            for (int64_t c = 0; c < wo; c++) {
                double sum = 0.0;
                for (int64_t a = 0; a < 2; a++)
                    for (int64_t b = 0; b < 2; b++) sum += x[(i * h + 2 * r + a) * w + 2 * c + b];
                y[(i * ho + r) * wo + c] = (float)sum;
            }
}
