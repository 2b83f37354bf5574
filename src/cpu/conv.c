/* Convolution kernels of cpu.h: forward, input adjoint (conv_transpose) and weight adjoint
 * of a grouped, strided, padded, dilated 2-D convolution, all lowered to gt_cpu_sgemm via
 * im2col / col2im over a small batch of samples whose columns sit side by side. */
#include "cpu.h"

#include <stdlib.h>
#include <string.h>

/* Aim for GEMMs at least this wide (columns), and cap the column buffer (floats). */
#define GT_CONV_MIN_COLS 512
#define GT_CONV_MAX_COL_FLOATS ((int64_t)1 << 21)
/* Below this many floats of work an OpenMP region costs more than it saves. */
#define GT_CONV_PAR_MIN ((int64_t)1 << 14)

/* Sizes derived once per call. Column buffers are [k, m*hw] for a batch of m samples:
 * row r = (c*kh + a)*kw + b, column j*hw + p*w_out + q for sample n0 + j. */
typedef struct {
    const gt_conv_geom *g;
    int64_t cig, cog; /* channels per group, in and out */
    int64_t kk, k;    /* kh*kw, and the GEMM depth cig*kh*kw */
    int64_t hw, hwi;  /* h_out*w_out, h_in*w_in */
    int64_t nb;       /* samples per batch */
    int pointwise;    /* 1x1, stride 1, no padding: x planes are the columns */
} conv_plan;

static conv_plan conv_plan_make(const gt_conv_geom *g) {
    conv_plan P;
    P.g = g;
    P.cig = g->c_in / g->groups;
    P.cog = g->c_out / g->groups;
    P.kk = g->kh * g->kw;
    P.k = P.cig * P.kk;
    P.hw = g->h_out * g->w_out;
    P.hwi = g->h_in * g->w_in;
    P.pointwise = g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 &&
                  g->pw == 0 && g->h_out == g->h_in && g->w_out == g->w_in;
    int64_t nb = (GT_CONV_MIN_COLS + P.hw - 1) / (P.hw > 0 ? P.hw : 1);
    int64_t cap = GT_CONV_MAX_COL_FLOATS / (P.k * P.hw > 0 ? P.k * P.hw : 1);
    nb = nb < cap ? nb : cap;
    nb = nb < g->n ? nb : g->n;
    P.nb = P.pointwise || nb < 1 ? 1 : nb;
    return P;
}

/* First q >= 0 with q*s + off >= 0, and first q with q*s + off >= lim, both clamped to
 * [0, n]: outputs q in [lo, hi) read input column q*s + off inside [0, lim). */
static void valid_range(int64_t off, int64_t s, int64_t lim, int64_t n, int64_t *lo,
                        int64_t *hi) {
    int64_t a = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t b = lim - off <= 0 ? 0 : (lim - off + s - 1) / s;
    *lo = a < n ? a : n;
    *hi = b < n ? b : n;
    if (*hi < *lo) *hi = *lo;
}

/* dst[p*w_out + q] = xc[(p*sh - ph + a*dh)*w_in + q*sw - pw + b*dw] or 0; xc: [h_in, w_in]. */
static void im2col_row(const gt_conv_geom *g, float *dst, const float *xc, int64_t a,
                       int64_t b) {
    int64_t wo = g->w_out, offw = b * g->dw - g->pw, q0, q1;
    valid_range(offw, g->sw, g->w_in, wo, &q0, &q1);
    for (int64_t p = 0; p < g->h_out; p++) {
        float *d = dst + p * wo;
        int64_t ih = p * g->sh - g->ph + a * g->dh;
        if (ih < 0 || ih >= g->h_in) {
            memset(d, 0, (size_t)wo * sizeof *d);
            continue;
        }
        const float *s = xc + ih * g->w_in + offw;
        memset(d, 0, (size_t)q0 * sizeof *d);
        if (g->sw == 1) {
            memcpy(d + q0, s + q0, (size_t)(q1 - q0) * sizeof *d);
        } else {
            for (int64_t q = q0; q < q1; q++) d[q] = s[q * g->sw];
        }
        memset(d + q1, 0, (size_t)(wo - q1) * sizeof *d);
    }
}

/* xc[(p*sh - ph + a*dh)*w_in + q*sw - pw + b*dw] += src[p*w_out + q] where in range. */
static void col2im_row(const gt_conv_geom *g, float *xc, const float *src, int64_t a,
                       int64_t b) {
    int64_t wo = g->w_out, offw = b * g->dw - g->pw, q0, q1;
    valid_range(offw, g->sw, g->w_in, wo, &q0, &q1);
    for (int64_t p = 0; p < g->h_out; p++) {
        int64_t ih = p * g->sh - g->ph + a * g->dh;
        if (ih < 0 || ih >= g->h_in) continue;
        float *d = xc + ih * g->w_in + offw;
        const float *s = src + p * wo;
        if (g->sw == 1) {
            for (int64_t q = q0; q < q1; q++) d[q] += s[q];
        } else {
            for (int64_t q = q0; q < q1; q++) d[q * g->sw] += s[q];
        }
    }
}

/* col[k, m*hw] = im2col of group gi of samples n0 .. n0+m-1; x: [n, c_in, h_in, w_in]. */
static void im2col(const conv_plan *P, float *col, const float *x, int64_t n0, int64_t m,
                   int64_t gi) {
    const gt_conv_geom *g = P->g;
    int64_t ld = m * P->hw, kw = g->kw;
#pragma omp parallel for collapse(2) schedule(static) if (m * P->k * P->hw > GT_CONV_PAR_MIN)
    for (int64_t j = 0; j < m; j++) {
        for (int64_t c = 0; c < P->cig; c++) {
            const float *xc = x + ((n0 + j) * g->c_in + gi * P->cig + c) * P->hwi;
            for (int64_t r = 0; r < P->kk; r++)
                im2col_row(g, col + (c * P->kk + r) * ld + j * P->hw, xc, r / kw, r % kw);
        }
    }
}

/* x planes of group gi, samples n0 .. n0+m-1 = col2im(col[k, m*hw]); planes overwritten. */
static void col2im(const conv_plan *P, float *x, const float *col, int64_t n0, int64_t m,
                   int64_t gi) {
    const gt_conv_geom *g = P->g;
    int64_t ld = m * P->hw, kw = g->kw;
#pragma omp parallel for collapse(2) schedule(static) if (m * P->k * P->hw > GT_CONV_PAR_MIN)
    for (int64_t j = 0; j < m; j++) {
        for (int64_t c = 0; c < P->cig; c++) {
            float *xc = x + ((n0 + j) * g->c_in + gi * P->cig + c) * P->hwi;
            memset(xc, 0, (size_t)P->hwi * sizeof *xc);
            for (int64_t r = 0; r < P->kk; r++)
                col2im_row(g, xc, col + (c * P->kk + r) * ld + j * P->hw, r / kw, r % kw);
        }
    }
}

/* Offset of y[n0 + j, gi*cog + o, 0]. */
static int64_t y_at(const conv_plan *P, int64_t n, int64_t gi, int64_t o) {
    return (n * P->g->c_out + gi * P->cog + o) * P->hw;
}

/* cat[o, j*hw ..] = y[n0 + j, gi*cog + o, :] for j < m; cat: [cog, m*hw]. */
static void y_gather(const conv_plan *P, float *cat, const float *y, int64_t n0, int64_t m,
                     int64_t gi) {
    int64_t hw = P->hw;
#pragma omp parallel for collapse(2) schedule(static) if (m * P->cog * hw > GT_CONV_PAR_MIN)
    for (int64_t j = 0; j < m; j++)
        for (int64_t o = 0; o < P->cog; o++)
            memcpy(cat + (o * m + j) * hw, y + y_at(P, n0 + j, gi, o), (size_t)hw * sizeof *y);
}

/* y[n0 + j, gi*cog + o, :] = cat[o, j*hw ..] for j < m. */
static void y_scatter(const conv_plan *P, float *y, const float *cat, int64_t n0, int64_t m,
                      int64_t gi) {
    int64_t hw = P->hw;
#pragma omp parallel for collapse(2) schedule(static) if (m * P->cog * hw > GT_CONV_PAR_MIN)
    for (int64_t j = 0; j < m; j++)
        for (int64_t o = 0; o < P->cog; o++)
            memcpy(y + y_at(P, n0 + j, gi, o), cat + (o * m + j) * hw, (size_t)hw * sizeof *y);
}

/* Columns of group gi for samples n0.. (m of them): the x planes themselves when
 * pointwise with m == 1, otherwise built into col. */
static const float *columns(const conv_plan *P, float *col, const float *x, int64_t n0,
                            int64_t m, int64_t gi) {
    if (P->pointwise && m == 1) return x + (n0 * P->g->c_in + gi * P->cig) * P->hwi;
    im2col(P, col, x, n0, m, gi);
    return col;
}

/* Scratch for one batch: col [k, nb*hw] and, when nb > 1, ycat [cog, nb*hw]. */
static int scratch_alloc(const conv_plan *P, float **col, float **ycat) {
    size_t cols = (size_t)(P->nb * P->hw);
    *col = P->pointwise ? NULL : malloc((size_t)P->k * cols * sizeof **col);
    *ycat = P->nb > 1 ? malloc((size_t)P->cog * cols * sizeof **ycat) : NULL;
    if ((!P->pointwise && !*col) || (P->nb > 1 && !*ycat)) {
        free(*col);
        free(*ycat);
        return 0;
    }
    return 1;
}

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

static size_t numel4(int64_t a, int64_t b, int64_t c, int64_t d) {
    return a <= 0 || b <= 0 || c <= 0 || d <= 0 ? 0 : (size_t)(a * b * c * d);
}

/* y[n, gi*cog + o, hw] = w_g[cog, k] @ col[k, m*hw], one GEMM per group and batch. */
void gt_cpu_conv2d(const gt_conv_geom *g, float *y, const float *x, const float *w) {
    size_t ny = numel4(g->n, g->c_out, g->h_out, g->w_out);
    conv_plan P = conv_plan_make(g);
    if (ny == 0 || P.k <= 0) {
        if (ny) memset(y, 0, ny * sizeof *y);
        return;
    }
    float *col, *ycat;
    if (!scratch_alloc(&P, &col, &ycat)) abort();
    for (int64_t n0 = 0; n0 < g->n; n0 += P.nb) {
        int64_t m = min64(P.nb, g->n - n0), ld = m * P.hw;
        for (int64_t gi = 0; gi < g->groups; gi++) {
            const float *b = columns(&P, col, x, n0, m, gi);
            float *out = m > 1 ? ycat : y + y_at(&P, n0, gi, 0);
            gt_cpu_sgemm(0, 0, P.cog, ld, P.k, 1.0f, w + gi * P.cog * P.k, P.k, b, ld, 0.0f,
                         out, ld);
            if (m > 1) y_scatter(&P, y, ycat, n0, m, gi);
        }
    }
    free(col);
    free(ycat);
}

/* col[k, m*hw] = w_g^T @ y_batch[cog, m*hw], then x planes = col2im(col). */
void gt_cpu_conv2d_input_grad(const gt_conv_geom *g, float *x, const float *y, const float *w) {
    size_t nx = numel4(g->n, g->c_in, g->h_in, g->w_in);
    conv_plan P = conv_plan_make(g);
    if (nx == 0 || P.cog <= 0 || P.hw <= 0) {
        if (nx) memset(x, 0, nx * sizeof *x);
        return;
    }
    float *col, *ycat;
    if (!scratch_alloc(&P, &col, &ycat)) abort();
    for (int64_t n0 = 0; n0 < g->n; n0 += P.nb) {
        int64_t m = min64(P.nb, g->n - n0), ld = m * P.hw;
        for (int64_t gi = 0; gi < g->groups; gi++) {
            const float *b = y + y_at(&P, n0, gi, 0);
            if (m > 1) {
                y_gather(&P, ycat, y, n0, m, gi);
                b = ycat;
            }
            float *out = P.pointwise ? x + (n0 * g->c_in + gi * P.cig) * P.hwi : col;
            gt_cpu_sgemm(1, 0, P.k, ld, P.cog, 1.0f, w + gi * P.cog * P.k, P.k, b, ld, 0.0f,
                         out, ld);
            if (!P.pointwise) col2im(&P, x, col, n0, m, gi);
        }
    }
    free(col);
    free(ycat);
}

/* w_g[cog, k] (+)= y_batch[cog, m*hw] @ col[k, m*hw]^T, batches in order of n (beta = 1
 * after the first), so the sum order is fixed by the geometry alone. */
void gt_cpu_conv2d_weight_grad(const gt_conv_geom *g, float *w, const float *x, const float *y) {
    conv_plan P = conv_plan_make(g);
    size_t nw = numel4(g->c_out, P.cig, g->kh, g->kw);
    if (nw == 0 || g->n <= 0 || P.hw <= 0) {
        if (nw) memset(w, 0, nw * sizeof *w);
        return;
    }
    float *col, *ycat;
    if (!scratch_alloc(&P, &col, &ycat)) abort();
    for (int64_t n0 = 0; n0 < g->n; n0 += P.nb) {
        int64_t m = min64(P.nb, g->n - n0), ld = m * P.hw;
        for (int64_t gi = 0; gi < g->groups; gi++) {
            const float *a = y + y_at(&P, n0, gi, 0);
            if (m > 1) {
                y_gather(&P, ycat, y, n0, m, gi);
                a = ycat;
            }
            const float *b = columns(&P, col, x, n0, m, gi);
            gt_cpu_sgemm(0, 1, P.cog, P.k, ld, 1.0f, a, ld, b, ld, n0 == 0 ? 0.0f : 1.0f,
                         w + gi * P.cog * P.k, P.k);
        }
    }
    free(col);
    free(ycat);
}
