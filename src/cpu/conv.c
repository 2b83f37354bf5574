/* Convolution kernels of cpu.h: forward, input adjoint (conv_transpose) and weight adjoint
 * of a grouped, strided, padded, dilated 2-D convolution. Each runs as implicit GEMMs
 * (gemm_internal.h): the image operand is gathered through index tables straight into
 * the packed GEMM panels, so no column matrix is written and read back, and results are
 * stored straight into the output layout.
 *   forward      y_g[cog, n*hw]   = w_g[cog, cig*kk]   col_g[cig*kk, n*hw]
 *   weight grad  w_g[cog, cig*kk] = y_g[cog, n*hw]     col_g[cig*kk, n*hw]^T
 *   input grad   per phase ((ih + ph) % sh, (iw + pw) % sw) of x, the taps that reach it,
 *                so x is written once, with no col2im scatter-add:
 *                x_g[cig, phase px] = w_g^T[cig, cog*taps] ycol[cog*taps, phase px];
 *                with few input channels, col_g = w_g^T y_g and then col2im instead
 * where col is im2col of x (row (c*kh + a)*kw + b, column s*hw + p*w_out + q). */
#include "cpu/cpu.h"
#include "cpu/gemm_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Index tables of one side of a gathered operand (gt_gather): offset and position. */
typedef struct {
    int32_t *off, *h, *w;
} idx_table;

/* The workspace of the kernel call running on this thread. A call's tables come from its
 * scratch: set at the call's entry, reset at its end (a kernel never calls another), so a
 * call in steady state allocates nothing and nothing is freed piecemeal. */
static _Thread_local gt_cpu_ws *call_ws;

static void *xmalloc(size_t bytes) { return gt_cpu_ws_scratch(call_ws, bytes); }
static void release(void *p) { (void)p; } /* scratch is forgotten at the call's end */

static int32_t *ints(int64_t n) { return xmalloc((size_t)n * sizeof(int32_t)); }

static int64_t pad_cols(int64_t n) {
    return (n + GT_IGEMM_JPAD - 1) / GT_IGEMM_JPAD * GT_IGEMM_JPAD;
}

/* A table of n entries, room for pad_cols(n); entries n .. are outside every image. */
static idx_table table_new(int64_t n) {
    int64_t len = pad_cols(n);
    idx_table t = {ints(len), ints(len), ints(len)};
    for (int64_t i = n; i < len; i++) t.off[i] = 0, t.h[i] = GT_IGEMM_OUTSIDE, t.w[i] = 0;
    return t;
}

static void table_free(idx_table *t) { release(t->off), release(t->h), release(t->w); }

/* v[i] = i * step for i < n. */
static int32_t *iota(int64_t n, int64_t step) {
    int32_t *v = ints(n);
    for (int64_t i = 0; i < n; i++) v[i] = (int32_t)(i * step);
    return v;
}

static size_t numel4(int64_t a, int64_t b, int64_t c, int64_t d) {
    return a <= 0 || b <= 0 || c <= 0 || d <= 0 ? 0 : (size_t)(a * b * c * d);
}

/* The tables hold int32 offsets: x, y and w must each stay under 2^31 elements. */
static void check_size(const gt_conv_geom *g) {
    size_t lim = (size_t)1 << 31;
    if (numel4(g->n, g->c_in, g->h_in, g->w_in) < lim &&
        numel4(g->n, g->c_out, g->h_out, g->w_out) < lim &&
        numel4(g->c_out, g->c_in / g->groups, g->kh, g->kw) < lim)
        return;
    fprintf(stderr, "gantry: conv: tensors of 2^31 elements or more are not supported\n");
    abort();
}

/* Shared sizes of g. */
typedef struct {
    const gt_conv_geom *g;
    int64_t cig, cog, kk, k, hw, hwi, cols; /* cols: n*hw, the positions of y */
} conv_dims;

static conv_dims dims_of(const gt_conv_geom *g) {
    conv_dims d = {g, g->c_in / g->groups, g->c_out / g->groups, g->kh * g->kw, 0,
                   g->h_out * g->w_out, g->h_in * g->w_in, 0};
    d.k = d.cig * d.kk;
    d.cols = g->n * d.hw;
    return d;
}

/* Rows of col (taps (c, a, b) of a group): x plane offset and the tap's shift. */
static idx_table tap_table(const conv_dims *d) {
    const gt_conv_geom *g = d->g;
    idx_table t = table_new(d->k);
    for (int64_t r = 0; r < d->k; r++) {
        int64_t c = r / d->kk, a = r % d->kk / g->kw, b = r % g->kw;
        t.h[r] = (int32_t)(a * g->dh);
        t.w[r] = (int32_t)(b * g->dw);
        t.off[r] = (int32_t)(c * d->hwi + t.h[r] * g->w_in + t.w[r]);
    }
    return t;
}

/* Columns of col (positions (s, p, q) of y): the window's corner in x, and its offset. */
static idx_table pos_table(const conv_dims *d) {
    const gt_conv_geom *g = d->g;
    idx_table t = table_new(d->cols);
    int64_t j = 0;
    for (int64_t s = 0; s < g->n; s++)
        for (int64_t p = 0; p < g->h_out; p++)
            for (int64_t q = 0; q < g->w_out; q++, j++) {
                t.h[j] = (int32_t)(p * g->sh - g->ph);
                t.w[j] = (int32_t)(q * g->sw - g->pw);
                t.off[j] = (int32_t)(s * g->c_in * d->hwi + t.h[j] * g->w_in + t.w[j]);
            }
    return t;
}

/* Offset in y of position j = s*hw + pq of channel 0. */
static int32_t *y_cols(const conv_dims *d) {
    int32_t *v = ints(d->cols);
    for (int64_t s = 0, j = 0; s < d->g->n; s++)
        for (int64_t pq = 0; pq < d->hw; pq++, j++) v[j] = (int32_t)(s * d->g->c_out * d->hw + pq);
    return v;
}

/* v[j] = per - j % per for j < n: the runs of consecutive offsets of a table made of
 * contiguous stretches of per entries. */
static int32_t *runs(int64_t n, int64_t per) {
    int32_t *v = ints(n);
    for (int64_t j = 0; j < n; j += per)
        for (int64_t r = 0; r < per && j + r < n; r++) v[j + r] = (int32_t)(per - r);
    return v;
}

/* The gathered im2col of group gi's x: rows from k, columns from j (either way round). */
static gt_gather col_gather(const conv_dims *d, const float *x, int64_t gi, const idx_table *k,
                            const idx_table *j) {
    gt_gather b = {x + gi * d->cig * d->hwi, k->off, k->h, k->w, j->off, j->h, j->w,
                   (int32_t)d->g->h_in, (int32_t)d->g->w_in, NULL};
    return b;
}

/* The shapes that make every kernel a no-op fill: returns 1 after zeroing out (n floats). */
static int degenerate(float *out, size_t n, size_t other) {
    if (n != 0 && other != 0) return 0;
    if (n) memset(out, 0, n * sizeof *out);
    return 1;
}

/* ---- Forward from stride phases ---------------------------------------------------------
 * A strided forward reads x at stride s, so 16 columns of col are a gather. From a
 * zero-padded copy of x split into stride phases,
 *   xs[plane][pa][pb][r][t] = x[plane][r*sh + pa - ph][t*sw + pb - pw]  (0 outside),
 * tap (a, b) of output (p, q) is xs[a % sh][b % sw][p + a / sh][q + b / sw]: along a row of
 * y the reads are consecutive, with no bounds to check, so the packer loads windows
 * (gt_window16). Same products, same order: the results are those of the gather path. */
typedef struct {
    int64_t sh, sw, top, left, h2, w2, plane; /* plane: sh*sw*h2*w2 floats */
} split_geom;

/* Below this many floats a copy stays on one thread. */
#define GT_CONV_COPY_PAR_MIN ((int64_t)1 << 16)

static void valid_range(int64_t off, int64_t s, int64_t lim, int64_t n, int64_t *lo,
                        int64_t *hi);

/* dst[i] = the phases of plane i of src [planes][h][w] (see split_geom). */
static void split_copy(float *dst, const float *src, int64_t planes, int64_t h, int64_t w,
                       const split_geom *s) {
#pragma omp parallel for schedule(static) if (planes * s->plane > GT_CONV_COPY_PAR_MIN)
    for (int64_t i = 0; i < planes; i++) {
        const float *x = src + i * h * w;
        float *d = dst + i * s->plane;
        for (int64_t pa = 0; pa < s->sh; pa++)
            for (int64_t pb = 0; pb < s->sw; pb++) {
                int64_t t0, t1;
                valid_range(pb - s->left, s->sw, w, s->w2, &t0, &t1);
                for (int64_t r = 0; r < s->h2; r++, d += s->w2) {
                    int64_t ih = r * s->sh + pa - s->top, t = 0;
                    if (ih >= 0 && ih < h) {
                        const float *xr = x + ih * w + pb - s->left;
                        for (; t < t0; t++) d[t] = 0.0f;
                        for (; t < t1; t++) d[t] = xr[t * s->sw];
                    }
                    for (; t < s->w2; t++) d[t] = 0.0f;
                }
            }
    }
}

/* Below this GEMM depth (taps per group) the copy and its tables cost more than the
 * gathers they save (the DCGAN input layer: 16 taps). */
#define GT_CONV_SPLIT_MIN_K 32

/* y = conv(x, w) from the phases of x; returns 0 (nothing done) where it does not apply:
 * unit strides, dilation, few taps, or columns that need more than two windows. */
static int conv2d_split(const conv_dims *d, float *y, const float *x, const float *w) {
    const gt_conv_geom *g = d->g;
    if ((g->sh == 1 && g->sw == 1) || g->dh != 1 || g->dw != 1 || d->k < GT_CONV_SPLIT_MIN_K)
        return 0;
    split_geom s = {g->sh, g->sw, g->ph, g->pw, g->h_out + (g->kh - 1) / g->sh,
                    g->w_out + (g->kw - 1) / g->sw, 0};
    s.plane = g->sh * g->sw * s.h2 * s.w2;
    if (g->n * g->c_in * s.plane >= (int64_t)1 << 31) return 0;
    idx_table taps = table_new(d->k), pos = table_new(d->cols);
    for (int64_t r = 0; r < d->k; r++) {
        int64_t c = r / d->kk, a = r % d->kk / g->kw, b = r % g->kw;
        taps.off[r] = (int32_t)(c * s.plane + ((a % g->sh * g->sw + b % g->sw) * s.h2 +
                                               a / g->sh) * s.w2 + b / g->sw);
        taps.h[r] = taps.w[r] = 0;
    }
    for (int64_t j = 0; j < d->cols; j++) {
        int64_t sn = j / d->hw, p = j % d->hw / g->w_out, q = j % g->w_out;
        pos.off[j] = (int32_t)(sn * g->c_in * s.plane + p * s.w2 + q);
        pos.h[j] = pos.w[j] = 0;
    }
    gt_window16 *win = gt_windows_new(call_ws, pos.off, d->cols);
    if (!win) {
        table_free(&taps), table_free(&pos);
        return 0;
    }
    float *xs = gt_cpu_ws_buffer(call_ws, GT_WS_SLOT_SPLIT_X, (size_t)(g->n * g->c_in * s.plane));
    split_copy(xs, x, g->n * g->c_in, g->h_in, g->w_in, &s);
    int32_t *wrow = iota(d->cog, d->k), *wcol = iota(d->k, 1), *ycol = y_cols(d);
    int32_t *yrun = runs(d->cols, d->hw);
    gt_igemm *p = xmalloc((size_t)g->groups * sizeof *p);
    for (int64_t gi = 0; gi < g->groups; gi++) {
        gt_igemm e = {d->cog, d->cols, d->k, w + gi * d->cog * d->k, wrow, wcol,
                      {xs + gi * d->cig * s.plane, taps.off, taps.h, taps.w, pos.off, pos.h,
                       pos.w, 1, 1, win},
                      y + gi * d->cog * d->hw, d->hw, ycol, yrun};
        p[gi] = e;
    }
    gt_igemm_run(call_ws, p, (int)g->groups, g->bf16);
    release(p), release(wrow), release(wcol), release(ycol), release(yrun), release(win);
    table_free(&taps), table_free(&pos);
    return 1;
}

static void conv2d_body(const gt_conv_geom *g, float *y, const float *x, const float *w) {
    if (degenerate(y, numel4(g->n, g->c_out, g->h_out, g->w_out),
                   numel4(g->c_in, g->kh, g->kw, 1)))
        return;
    check_size(g);
    conv_dims d = dims_of(g);
    if (conv2d_split(&d, y, x, w)) return;
    idx_table taps = tap_table(&d), pos = pos_table(&d);
    int32_t *wrow = iota(d.cog, d.k), *wcol = iota(d.k, 1), *ycol = y_cols(&d);
    int32_t *yrun = runs(d.cols, d.hw);
    gt_igemm *p = xmalloc((size_t)g->groups * sizeof *p);
    for (int64_t gi = 0; gi < g->groups; gi++) {
        gt_igemm e = {d.cog, d.cols, d.k, w + gi * d.cog * d.k, wrow, wcol,
                      col_gather(&d, x, gi, &taps, &pos), y + gi * d.cog * d.hw, d.hw, ycol,
                      yrun};
        p[gi] = e;
    }
    gt_igemm_run(call_ws, p, (int)g->groups, g->bf16);
    release(p), release(wrow), release(wcol), release(ycol), release(yrun);
    table_free(&taps), table_free(&pos);
}

static void conv2d_weight_grad_body(const gt_conv_geom *g, float *w, const float *x, const float *y) {
    if (degenerate(w, numel4(g->c_out, g->c_in / g->groups, g->kh, g->kw),
                   numel4(g->n, g->h_out, g->w_out, 1)))
        return;
    check_size(g);
    conv_dims d = dims_of(g);
    idx_table taps = tap_table(&d), pos = pos_table(&d);
    int32_t *yrow = iota(d.cog, d.hw), *ycol = y_cols(&d), *wcol = iota(d.k, 1);
    int32_t *wrun = runs(d.k, d.k);
    gt_igemm *p = xmalloc((size_t)g->groups * sizeof *p);
    for (int64_t gi = 0; gi < g->groups; gi++) {
        gt_igemm e = {d.cog, d.k, d.cols, y + gi * d.cog * d.hw, yrow, ycol,
                      col_gather(&d, x, gi, &pos, &taps), w + gi * d.cog * d.k, d.k, wcol,
                      wrun};
        p[gi] = e;
    }
    gt_igemm_run(call_ws, p, (int)g->groups, g->bf16);
    release(p), release(yrow), release(ycol), release(wcol), release(wrun);
    table_free(&taps), table_free(&pos);
}

/* ---- Input grad by phases ------------------------------------------------------------
 * x row ih gets y row p from tap a when ih + ph = p*sh + a*dh. Write ih + ph = U*sh + r
 * (r the phase, 0 <= r < sh): the taps with a*dh = A*sh + r reach it, from p = U - A. */

/* Along one axis: the x indices of phase r, their U, and the taps of phase r with their A. */
typedef struct {
    int64_t nx, nt;
    int32_t *x, *u, *tap, *shift;
} phase_axis;

static phase_axis phase_axis_of(int64_t r, int64_t n_in, int64_t pad, int64_t s, int64_t k,
                                int64_t dil) {
    phase_axis a = {0, 0, ints(n_in), ints(n_in), ints(k), ints(k)};
    for (int64_t i = 0; i < n_in; i++)
        if ((i + pad) % s == r) a.x[a.nx] = (int32_t)i, a.u[a.nx++] = (int32_t)((i + pad) / s);
    for (int64_t t = 0; t < k; t++)
        if (t * dil % s == r) a.tap[a.nt] = (int32_t)t, a.shift[a.nt++] = (int32_t)(t * dil / s);
    return a;
}

static void phase_axis_free(phase_axis *a) { release(a->x), release(a->u), release(a->tap), release(a->shift); }

/* The tables of one phase (rows ph, columns pw of the phases): columns are the phase's
 * x pixels of every sample, rows the (o, a, b) taps reaching them. */
typedef struct {
    idx_table ycol;         /* columns: window in y */
    int32_t *xcol;          /* columns: offset in x of channel 0 */
    idx_table ytap;         /* rows: tap (o, a, b) as a shift in y */
    int32_t *wrow, *wcol;   /* w^T[c, (o, a, b)] = w[wrow[c] + wcol[(o, a, b)]] */
    int64_t n, k;
} phase_tabs;

static void phase_columns(const conv_dims *d, const phase_axis *ah, const phase_axis *aw,
                          phase_tabs *t) {
    const gt_conv_geom *g = d->g;
    int64_t per = ah->nx * aw->nx;
    t->n = g->n * per;
    t->ycol = table_new(t->n);
    t->xcol = ints(t->n);
    for (int64_t j = 0; j < t->n; j++) {
        int64_t s = j / per, i = j % per / aw->nx, l = j % aw->nx;
        t->ycol.h[j] = ah->u[i];
        t->ycol.w[j] = aw->u[l];
        t->ycol.off[j] = (int32_t)(s * g->c_out * d->hw + ah->u[i] * g->w_out + aw->u[l]);
        t->xcol[j] = (int32_t)(s * g->c_in * d->hwi + ah->x[i] * g->w_in + aw->x[l]);
    }
}

static void phase_rows(const conv_dims *d, const phase_axis *ah, const phase_axis *aw,
                       phase_tabs *t) {
    const gt_conv_geom *g = d->g;
    int64_t per = ah->nt * aw->nt;
    t->k = d->cog * per;
    t->ytap = table_new(t->k);
    t->wcol = ints(t->k);
    t->wrow = iota(d->cig, d->kk);
    for (int64_t r = 0; r < t->k; r++) {
        int64_t o = r / per, i = r % per / aw->nt, l = r % aw->nt;
        t->ytap.h[r] = -ah->shift[i];
        t->ytap.w[r] = -aw->shift[l];
        t->ytap.off[r] = (int32_t)(o * d->hw - ah->shift[i] * g->w_out - aw->shift[l]);
        t->wcol[r] = (int32_t)(o * d->cig * d->kk + ah->tap[i] * g->kw + aw->tap[l]);
    }
}

static void phase_tabs_free(phase_tabs *t) {
    table_free(&t->ycol), table_free(&t->ytap);
    release(t->xcol), release(t->wrow), release(t->wcol);
}

/* The product of group gi over phase t. */
static gt_igemm phase_product(const conv_dims *d, const phase_tabs *t, int64_t gi, float *x,
                              const float *y, const float *w) {
    gt_igemm e = {d->cig, t->n, t->k, w + gi * d->cog * d->k, t->wrow, t->wcol,
                  {y + gi * d->cog * d->hw, t->ytap.off, t->ytap.h, t->ytap.w, t->ycol.off,
                   t->ycol.h, t->ycol.w, (int32_t)d->g->h_out, (int32_t)d->g->w_out, NULL},
                  x + gi * d->cig * d->hwi, d->hwi, t->xcol, NULL};
    return e;
}

/* x = conv^T(y, w) by phases: one product per group and phase of x. */
static void input_grad_phases(const conv_dims *d, float *x, const float *y, const float *w) {
    const gt_conv_geom *g = d->g;
    int64_t nph = g->sh * g->sw;
    phase_tabs *t = xmalloc((size_t)nph * sizeof *t);
    gt_igemm *p = xmalloc((size_t)(nph * g->groups) * sizeof *p);
    for (int64_t ph = 0; ph < nph; ph++) {
        phase_axis ah = phase_axis_of(ph / g->sw, g->h_in, g->ph, g->sh, g->kh, g->dh);
        phase_axis aw = phase_axis_of(ph % g->sw, g->w_in, g->pw, g->sw, g->kw, g->dw);
        phase_columns(d, &ah, &aw, &t[ph]);
        phase_rows(d, &ah, &aw, &t[ph]);
        phase_axis_free(&ah), phase_axis_free(&aw);
        for (int64_t gi = 0; gi < g->groups; gi++)
            p[ph * g->groups + gi] = phase_product(d, &t[ph], gi, x, y, w);
    }
    gt_igemm_run(call_ws, p, (int)(nph * g->groups), g->bf16);
    for (int64_t ph = 0; ph < nph; ph++) phase_tabs_free(&t[ph]);
    release(t), release(p);
}

/* ---- Input grad by columns -------------------------------------------------------------
 * With few input channels a phase product is too thin: each gathered y value feeds cig
 * rows only. Instead col[cig*kk, m*hw] = w_g^T y_g for a chunk of m samples (y read as it
 * is, each value feeding cig*kk rows), then every x plane sums the rows of its taps. */

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

/* Output rows [p0, p1) and columns [q0, q1) of kernel tap (a, b) read inside the image. */
typedef struct { int64_t p0, p1, q0, q1, offh, offw; } tap_range;

static tap_range tap_range_of(const gt_conv_geom *g, int64_t a, int64_t b) {
    tap_range t;
    t.offh = a * g->dh - g->ph;
    t.offw = b * g->dw - g->pw;
    valid_range(t.offh, g->sh, g->h_in, g->h_out, &t.p0, &t.p1);
    valid_range(t.offw, g->sw, g->w_in, g->w_out, &t.q0, &t.q1);
    return t;
}

/* xc[(p*sh + offh)*w_in + q*sw + offw] += src[p*w_out + q] inside the image. */
static void col2im_row(const gt_conv_geom *g, float *xc, const float *src, const tap_range *t) {
    int64_t wo = g->w_out, sw = g->sw, n = t->q1 - t->q0;
    if (t->p0 >= t->p1 || n <= 0) return;
    float *d = xc + (t->p0 * g->sh + t->offh) * g->w_in + t->offw + t->q0 * sw;
    const float *s = src + t->p0 * wo + t->q0;
    for (int64_t p = t->p0; p < t->p1; p++, d += g->sh * g->w_in, s += wo)
        for (int64_t q = 0; q < n; q++) d[q * sw] += s[q];
}

/* Column buffer cap (floats) that sizes the sample chunks, and the work below which the
 * col2im stays on one thread. */
#define GT_CONV_COL_FLOATS ((int64_t)1 << 21)
#define GT_CONV_PAR_MIN ((int64_t)1 << 14)

/* The x planes of samples n0 .. n0+m-1 = col2im(col [c_in*kk, m*hw]), taps in order. */
static void col2im(const conv_dims *d, float *x, const float *col, const tap_range *taps,
                   int64_t n0, int64_t m) {
    const gt_conv_geom *g = d->g;
    int64_t ld = m * d->hw;
#pragma omp parallel for collapse(2) schedule(static) if (m * g->c_in * d->hwi > GT_CONV_PAR_MIN)
    for (int64_t s = 0; s < m; s++) {
        for (int64_t c = 0; c < g->c_in; c++) {
            float *xc = x + ((n0 + s) * g->c_in + c) * d->hwi;
            const float *cc = col + c * d->kk * ld + s * d->hw;
            memset(xc, 0, (size_t)d->hwi * sizeof *xc);
            for (int64_t r = 0; r < d->kk; r++) col2im_row(g, xc, cc + r * ld, &taps[r]);
        }
    }
}

/* A table of n entries of offset v(i) = i / per * big + i % per * small, all inside. */
static idx_table flat_table(int64_t n, int64_t per, int64_t big, int64_t small) {
    idx_table t = table_new(n);
    for (int64_t i = 0; i < n; i++)
        t.off[i] = (int32_t)(i / per * big + i % per * small), t.h[i] = 0, t.w[i] = 0;
    return t;
}

/* x = conv^T(y, w) by columns, in chunks of m samples. */
static void input_grad_cols(const conv_dims *d, float *x, const float *y, const float *w) {
    const gt_conv_geom *g = d->g;
    int64_t m = GT_CONV_COL_FLOATS / (g->c_in * d->kk * d->hw);
    m = m < 1 ? 1 : m > g->n ? g->n : m;
    float *col = xmalloc((size_t)(g->c_in * d->kk * m * d->hw) * sizeof *col);
    tap_range *taps = xmalloc((size_t)d->kk * sizeof *taps);
    for (int64_t r = 0; r < d->kk; r++) taps[r] = tap_range_of(g, r / g->kw, r % g->kw);
    idx_table yo = flat_table(d->cog, 1, d->hw, 0), yj = flat_table(m * d->hw, d->hw,
                                                                    g->c_out * d->hw, 1);
    int32_t *wrow = iota(d->k, 1), *wcol = iota(d->cog, d->k), *ccol = iota(m * d->hw, 1);
    int32_t *crun = runs(m * d->hw, m * d->hw);
    gt_igemm *p = xmalloc((size_t)g->groups * sizeof *p);
    for (int64_t n0 = 0; n0 < g->n; n0 += m) {
        int64_t mm = g->n - n0 < m ? g->n - n0 : m, ld = mm * d->hw;
        for (int64_t gi = 0; gi < g->groups; gi++) {
            gt_igemm e = {d->k, ld, d->cog, w + gi * d->cog * d->k, wrow, wcol,
                          {y + (n0 * g->c_out + gi * d->cog) * d->hw, yo.off, yo.h, yo.w,
                           yj.off, yj.h, yj.w, 1, 1, NULL},
                          col + gi * d->k * ld, ld, ccol, crun};
            p[gi] = e;
        }
        gt_igemm_run(call_ws, p, (int)g->groups, g->bf16);
        col2im(d, x, col, taps, n0, mm);
    }
    release(p), release(wrow), release(wcol), release(ccol), release(crun), release(col), release(taps);
    table_free(&yo), table_free(&yj);
}

/* Below this many input channels per group, input grad goes by columns. */
#define GT_CONV_PHASE_MIN_CIG 32

static void conv2d_input_grad_body(const gt_conv_geom *g, float *x, const float *y, const float *w) {
    if (degenerate(x, numel4(g->n, g->c_in, g->h_in, g->w_in),
                   numel4(g->c_out, g->h_out, g->w_out, 1)))
        return;
    check_size(g);
    conv_dims d = dims_of(g);
    if (d.cig < GT_CONV_PHASE_MIN_CIG)
        input_grad_cols(&d, x, y, w);
    else
        input_grad_phases(&d, x, y, w);
}

/* ---- Entry points ------------------------------------------------------------------------ */

typedef void conv_body(const gt_conv_geom *g, float *out, const float *a, const float *b);

/* Runs body with ws as the call's workspace (a workspace of its own when ws is NULL). */
static void run_in(gt_cpu_ws *ws, conv_body *body, const gt_conv_geom *g, float *out,
                   const float *a, const float *b) {
    gt_cpu_ws *own = ws ? NULL : (ws = gt_cpu_ws_new());
    call_ws = ws;
    body(g, out, a, b);
    gt_cpu_ws_scratch_reset(ws);
    call_ws = NULL;
    gt_cpu_ws_free(own);
}

void gt_cpu_conv2d_ws(gt_cpu_ws *ws, const gt_conv_geom *g, float *y, const float *x,
                      const float *w) {
    run_in(ws, conv2d_body, g, y, x, w);
}
void gt_cpu_conv2d_input_grad_ws(gt_cpu_ws *ws, const gt_conv_geom *g, float *x, const float *y,
                                 const float *w) {
    run_in(ws, conv2d_input_grad_body, g, x, y, w);
}
void gt_cpu_conv2d_weight_grad_ws(gt_cpu_ws *ws, const gt_conv_geom *g, float *w, const float *x,
                                  const float *y) {
    run_in(ws, conv2d_weight_grad_body, g, w, x, y);
}

void gt_cpu_conv2d(const gt_conv_geom *g, float *y, const float *x, const float *w) {
    gt_cpu_conv2d_ws(NULL, g, y, x, w);
}
void gt_cpu_conv2d_input_grad(const gt_conv_geom *g, float *x, const float *y, const float *w) {
    gt_cpu_conv2d_input_grad_ws(NULL, g, x, y, w);
}
void gt_cpu_conv2d_weight_grad(const gt_conv_geom *g, float *w, const float *x, const float *y) {
    gt_cpu_conv2d_weight_grad_ws(NULL, g, w, x, y);
}
