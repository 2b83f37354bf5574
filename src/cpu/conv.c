/* Convolution kernels of cpu.h: forward, input adjoint (conv_transpose) and weight adjoint
 * of a grouped, strided, padded, dilated 2-D convolution, all lowered to gt_cpu_sgemm via
 * im2col / col2im over a small batch of samples whose columns sit side by side. */
#include "cpu.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Aim for GEMMs at least this wide (columns), and cap the column buffer (floats). */
#define GT_CONV_MIN_COLS 512
#define GT_CONV_MAX_COL_FLOATS ((int64_t)1 << 21)
/* Column rows built at a time (whole input channels): a block of [256, ~512] columns stays
 * in L2 between im2col and the GEMM's packing, where the full [cig*kh*kw, ~512] would not. */
#define GT_CONV_BLOCK_ROWS 256
/* Below this many floats of work an OpenMP region costs more than it saves. */
#define GT_CONV_PAR_MIN ((int64_t)1 << 14)

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

/* Per-call state. Column buffers are [k, m*hw] for a batch of m samples: row
 * r = (c*kh + a)*kw + b, column j*hw + p*w_out + q for sample n0 + j. */
typedef struct {
    const gt_conv_geom *g;
    int64_t cig, cog;   /* channels per group, in and out */
    int64_t kk, k;      /* kh*kw, and the GEMM depth cig*kh*kw */
    int64_t cb;         /* input channels per column block (GT_CONV_BLOCK_ROWS) */
    int64_t hw, hwi;    /* h_out*w_out, h_in*w_in */
    int64_t nb, nbatch; /* samples per batch, batches */
    int threads;        /* threads sharing the work, each with its own scratch */
    int pointwise;      /* 1x1, stride 1, no padding: x planes are the columns */
    tap_range *taps;    /* [kk], per kernel tap (a, b) */
    float *col, *ycat;  /* per thread: col [cb*kk, nb*hw], ycat [cog, nb*hw] (nb > 1) */
    int64_t col_len, ycat_len;
} conv_plan;

/* Samples per batch: enough for GT_CONV_MIN_COLS columns, within the buffer cap. */
static int64_t batch_size(const conv_plan *P) {
    if (P->pointwise || P->hw <= 0) return 1;
    int64_t nb = (GT_CONV_MIN_COLS + P->hw - 1) / P->hw;
    int64_t cap = GT_CONV_MAX_COL_FLOATS / (P->k * P->hw > 0 ? P->k * P->hw : 1);
    nb = nb < cap ? nb : cap;
    nb = nb < P->g->n ? nb : P->g->n;
    return nb < 1 ? 1 : nb;
}

/* Batching and threading of g. Forward and input grad (split_batches) may size batches by
 * the thread count, their results do not depend on it, and when there are at least as
 * many batches as threads they run one per thread, rounded up to a multiple of the
 * threads to balance the work. Weight grad keeps batches fixed by the geometry (they fix
 * its summation order) and splits input or output channels across threads instead. */
static void plan_batches(conv_plan *P, int split_batches) {
    int64_t n = P->g->n, t = gt_cpu_threads();
    P->nb = batch_size(P);
    P->nbatch = (n + P->nb - 1) / P->nb;
    P->threads = 1;
    if (t <= 1) return;
    if (!split_batches) {
        P->threads = P->cig >= t || P->cog >= t ? (int)t : 1;
        return;
    }
    if (P->nbatch < t) return;
    int64_t want = (P->nbatch + t - 1) / t * t;
    P->nb = (n + want - 1) / want;
    P->nbatch = (n + P->nb - 1) / P->nb;
    P->threads = (int)t;
}

/* Column and output-staging scratch, kept between calls and grown on demand: a training step
 * runs the same convolutions every time, and fresh buffers of this size would cost page faults
 * (about 8 percent of a DCGAN step) on every call. Convolutions are called from one thread at
 * a time (their own OpenMP threads share the buffer by offsets). */
enum { SCRATCH_COL, SCRATCH_YCAT, SCRATCH_KINDS };
static float *scratch_buf[SCRATCH_KINDS];
static size_t scratch_cap[SCRATCH_KINDS];

static float *scratch(int kind, size_t n) {
    if (scratch_cap[kind] < n) {
        free(scratch_buf[kind]);
        scratch_buf[kind] = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
        if (!scratch_buf[kind]) abort();
        scratch_cap[kind] = n;
    }
    return scratch_buf[kind];
}

/* Sizes, tap ranges and scratch buffers of g (see plan_batches); aborts when out of
 * memory. */
static conv_plan conv_plan_make(const gt_conv_geom *g, int split_batches) {
    conv_plan P = {0};
    P.g = g;
    P.cig = g->c_in / g->groups;
    P.cog = g->c_out / g->groups;
    P.kk = g->kh * g->kw;
    P.k = P.cig * P.kk;
    P.hw = g->h_out * g->w_out;
    P.hwi = g->h_in * g->w_in;
    P.cb = GT_CONV_BLOCK_ROWS / P.kk;
    P.cb = P.cb < 1 ? 1 : P.cb > P.cig ? P.cig : P.cb;
    P.pointwise = g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 &&
                  g->pw == 0 && g->h_out == g->h_in && g->w_out == g->w_in;
    plan_batches(&P, split_batches);
    P.col_len = P.pointwise ? 0 : P.cb * P.kk * P.nb * P.hw;
    P.ycat_len = P.nb > 1 ? P.cog * P.nb * P.hw : 0;
    P.taps = malloc((size_t)P.kk * sizeof *P.taps);
    P.col = scratch(SCRATCH_COL, (size_t)(P.col_len * P.threads + 1));
    P.ycat = scratch(SCRATCH_YCAT, (size_t)(P.ycat_len * P.threads + 1));
    if (!P.taps) abort();
    for (int64_t r = 0; r < P.kk; r++) P.taps[r] = tap_range_of(g, r / g->kw, r % g->kw);
    return P;
}

static void conv_plan_free(conv_plan *P) { free(P->taps); }

/* dst[p*w_out + q] = xc[(p*sh + offh)*w_in + q*sw + offw], 0 outside the image;
 * xc: [h_in, w_in], dst: [h_out * w_out]. */
static void im2col_row(const gt_conv_geom *g, float *dst, const float *xc, const tap_range *t) {
    int64_t wo = g->w_out, sw = g->sw, n = t->q1 - t->q0;
    if (t->p0 > 0 || t->p1 < g->h_out || n < wo)
        memset(dst, 0, (size_t)(g->h_out * wo) * sizeof *dst);
    if (t->p0 >= t->p1 || n <= 0) return;
    const float *s = xc + (t->p0 * g->sh + t->offh) * g->w_in + t->offw + t->q0 * sw;
    float *d = dst + t->p0 * wo + t->q0;
    for (int64_t p = t->p0; p < t->p1; p++, s += g->sh * g->w_in, d += wo) {
        if (sw == 1) {
            for (int64_t q = 0; q < n; q++) d[q] = s[q];
        } else {
            for (int64_t q = 0; q < n; q++) d[q] = s[q * sw];
        }
    }
}

/* xc[(p*sh + offh)*w_in + q*sw + offw] += src[p*w_out + q] inside the image. */
static void col2im_row(const gt_conv_geom *g, float *xc, const float *src, const tap_range *t) {
    int64_t wo = g->w_out, sw = g->sw, n = t->q1 - t->q0;
    if (t->p0 >= t->p1 || n <= 0) return;
    float *d = xc + (t->p0 * g->sh + t->offh) * g->w_in + t->offw + t->q0 * sw;
    const float *s = src + t->p0 * wo + t->q0;
    for (int64_t p = t->p0; p < t->p1; p++, d += g->sh * g->w_in, s += wo) {
        if (sw == 1) {
            for (int64_t q = 0; q < n; q++) d[q] += s[q];
        } else {
            for (int64_t q = 0; q < n; q++) d[q * sw] += s[q];
        }
    }
}

/* Channels [c0, c1) of group gi for one batch: the columns of samples n0 .. n0+m-1 and
 * group channels c0 .. c1-1, as rows (c - c0)*kk + r of col [(c1-c0)*kk, m*hw]. */
typedef struct { int64_t n0, m, gi, c0, c1; } col_block;

/* col = im2col of block b; x: [n, c_in, h_in, w_in]. */
static void im2col(const conv_plan *P, float *col, const float *x, const col_block *b) {
    const gt_conv_geom *g = P->g;
    int64_t ld = b->m * P->hw, nc = b->c1 - b->c0, work = b->m * nc * P->kk * P->hw;
#pragma omp parallel for collapse(2) schedule(static) if (work > GT_CONV_PAR_MIN)
    for (int64_t j = 0; j < b->m; j++) {
        for (int64_t c = 0; c < nc; c++) {
            const float *xc = x + ((b->n0 + j) * g->c_in + b->gi * P->cig + b->c0 + c) * P->hwi;
            for (int64_t r = 0; r < P->kk; r++)
                im2col_row(g, col + (c * P->kk + r) * ld + j * P->hw, xc, &P->taps[r]);
        }
    }
}

/* The x planes of block b = col2im(col [(c1-c0)*kk, m*hw]); planes overwritten. */
static void col2im(const conv_plan *P, float *x, const float *col, const col_block *b) {
    const gt_conv_geom *g = P->g;
    int64_t ld = b->m * P->hw, nc = b->c1 - b->c0, work = b->m * nc * P->kk * P->hw;
#pragma omp parallel for collapse(2) schedule(static) if (work > GT_CONV_PAR_MIN)
    for (int64_t j = 0; j < b->m; j++) {
        for (int64_t c = 0; c < nc; c++) {
            float *xc = x + ((b->n0 + j) * g->c_in + b->gi * P->cig + b->c0 + c) * P->hwi;
            memset(xc, 0, (size_t)P->hwi * sizeof *xc);
            for (int64_t r = 0; r < P->kk; r++)
                col2im_row(g, xc, col + (c * P->kk + r) * ld + j * P->hw, &P->taps[r]);
        }
    }
}

/* Offset of y[n0 + j, gi*cog + o, 0]. */
static int64_t y_at(const conv_plan *P, int64_t n, int64_t gi, int64_t o) {
    return (n * P->g->c_out + gi * P->cog + o) * P->hw;
}

/* cat[o - o0, j*hw ..] = y[n0 + j, gi*cog + o, :] for j < m, o0 <= o < o1;
 * cat: [o1 - o0, m*hw]. */
static void y_gather(const conv_plan *P, float *cat, const float *y, int64_t n0, int64_t m,
                     int64_t gi, int64_t o0, int64_t o1) {
    int64_t hw = P->hw;
#pragma omp parallel for collapse(2) schedule(static) if (m * (o1 - o0) * hw > GT_CONV_PAR_MIN)
    for (int64_t j = 0; j < m; j++)
        for (int64_t o = o0; o < o1; o++)
            memcpy(cat + ((o - o0) * m + j) * hw, y + y_at(P, n0 + j, gi, o),
                   (size_t)hw * sizeof *y);
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

/* Columns of block b: the x planes themselves when pointwise with one sample, otherwise
 * built into col. */
static const float *columns(const conv_plan *P, float *col, const float *x,
                            const col_block *b) {
    if (P->pointwise && b->m == 1)
        return x + (b->n0 * P->g->c_in + b->gi * P->cig + b->c0) * P->hwi;
    im2col(P, col, x, b);
    return col;
}

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

static size_t numel4(int64_t a, int64_t b, int64_t c, int64_t d) {
    return a <= 0 || b <= 0 || c <= 0 || d <= 0 ? 0 : (size_t)(a * b * c * d);
}

/* The operands of a batch function: out = f(in, w). */
typedef struct { float *out; const float *in, *w; } conv_io;
typedef void (*conv_batch_fn)(const conv_plan *P, int t, const conv_io *io, int64_t n0,
                              int64_t m);

/* Runs fn on every batch: P->threads at a time, each on one thread with its own scratch
 * (nested GEMMs and copies then stay on that thread), or in order. */
static void run_batches(const conv_plan *P, conv_batch_fn fn, const conv_io *io) {
    if (P->threads == 1) {
        for (int64_t n0 = 0; n0 < P->g->n; n0 += P->nb)
            fn(P, 0, io, n0, min64(P->nb, P->g->n - n0));
        return;
    }
#pragma omp parallel num_threads(P->threads)
    {
        int t = omp_get_thread_num();
        omp_set_num_threads(1);
#pragma omp for schedule(static)
        for (int64_t b = 0; b < P->nbatch; b++)
            fn(P, t, io, b * P->nb, min64(P->nb, P->g->n - b * P->nb));
    }
}

/* y[n0 + j, gi*cog + o, :] = w_g[cog, k] @ col[k, m*hw] per group, summed over blocks of
 * cb input channels (beta = 1 after the first; the blocks depend on the geometry alone). */
static void forward_batch(const conv_plan *P, int t, const conv_io *io, int64_t n0,
                          int64_t m) {
    float *col = P->col + t * P->col_len, *ycat = P->ycat + t * P->ycat_len;
    int64_t ld = m * P->hw;
    for (int64_t gi = 0; gi < P->g->groups; gi++) {
        float *out = m > 1 ? ycat : io->out + y_at(P, n0, gi, 0);
        for (int64_t c0 = 0; c0 < P->cig; c0 += P->cb) {
            col_block blk = {n0, m, gi, c0, min64(c0 + P->cb, P->cig)};
            const float *b = columns(P, col, io->in, &blk);
            gt_cpu_sgemm(0, 0, P->cog, ld, (blk.c1 - c0) * P->kk, 1.0f,
                         io->w + gi * P->cog * P->k + c0 * P->kk, P->k, b, ld,
                         c0 == 0 ? 0.0f : 1.0f, out, ld);
        }
        if (m > 1) y_scatter(P, io->out, ycat, n0, m, gi);
    }
}

void gt_cpu_conv2d(const gt_conv_geom *g, float *y, const float *x, const float *w) {
    size_t ny = numel4(g->n, g->c_out, g->h_out, g->w_out);
    if (ny == 0 || numel4(g->c_in, g->kh, g->kw, 1) == 0) {
        if (ny) memset(y, 0, ny * sizeof *y);
        return;
    }
    conv_plan P = conv_plan_make(g, 1);
    conv_io io = {y, x, w};
    run_batches(&P, forward_batch, &io);
    conv_plan_free(&P);
}

/* Per group and block of cb input channels: col[cb*kk, m*hw] = w_g[:, block]^T @
 * y_batch[cog, m*hw], then the block's x planes = col2im(col). */
static void input_grad_batch(const conv_plan *P, int t, const conv_io *io, int64_t n0,
                             int64_t m) {
    float *col = P->col + t * P->col_len, *ycat = P->ycat + t * P->ycat_len;
    int64_t ld = m * P->hw;
    for (int64_t gi = 0; gi < P->g->groups; gi++) {
        const float *b = io->in + y_at(P, n0, gi, 0);
        if (m > 1) {
            y_gather(P, ycat, io->in, n0, m, gi, 0, P->cog);
            b = ycat;
        }
        for (int64_t c0 = 0; c0 < P->cig; c0 += P->cb) {
            col_block blk = {n0, m, gi, c0, min64(c0 + P->cb, P->cig)};
            float *out = P->pointwise
                             ? io->out + (n0 * P->g->c_in + gi * P->cig + c0) * P->hwi
                             : col;
            gt_cpu_sgemm(1, 0, (blk.c1 - c0) * P->kk, ld, P->cog, 1.0f,
                         io->w + gi * P->cog * P->k + c0 * P->kk, P->k, b, ld, 0.0f, out, ld);
            if (!P->pointwise) col2im(P, io->out, col, &blk);
        }
    }
}

void gt_cpu_conv2d_input_grad(const gt_conv_geom *g, float *x, const float *y, const float *w) {
    size_t nx = numel4(g->n, g->c_in, g->h_in, g->w_in);
    if (nx == 0 || numel4(g->c_out, g->h_out, g->w_out, 1) == 0) {
        if (nx) memset(x, 0, nx * sizeof *x);
        return;
    }
    conv_plan P = conv_plan_make(g, 1);
    conv_io io = {x, y, w};
    run_batches(&P, input_grad_batch, &io);
    conv_plan_free(&P);
}

/* The share of weight_grad of one thread: rows o0 .. o1-1 and input channels c0 .. c1-1
 * of every group's w_g [cog, cig*kk]. */
typedef struct { int64_t o0, o1, c0, c1; } w_block;

/* w_g[o0:o1, c0*kk:c1*kk] (+)= y_batch[o0:o1, m*hw] @ col[.., m*hw]^T over the batches in
 * order of n (beta = 1 after the first). Each element's sum order is fixed by the geometry
 * alone: batches do not depend on threads, and gt_cpu_sgemm gives an element the same
 * result whichever block of C it is computed in. */
static void weight_grad_part(const conv_plan *P, int t, float *w, const float *x,
                             const float *y, const w_block *wb) {
    float *col = P->col + t * P->col_len, *ycat = P->ycat + t * P->ycat_len;
    int64_t rows = wb->o1 - wb->o0;
    for (int64_t n0 = 0; n0 < P->g->n; n0 += P->nb) {
        int64_t m = min64(P->nb, P->g->n - n0), ld = m * P->hw;
        for (int64_t gi = 0; gi < P->g->groups; gi++) {
            const float *a = y + y_at(P, n0, gi, wb->o0);
            if (m > 1) {
                y_gather(P, ycat, y, n0, m, gi, wb->o0, wb->o1);
                a = ycat;
            }
            for (int64_t c0 = wb->c0; c0 < wb->c1; c0 += P->cb) {
                col_block blk = {n0, m, gi, c0, min64(c0 + P->cb, wb->c1)};
                const float *b = columns(P, col, x, &blk);
                float *c = w + (gi * P->cog + wb->o0) * P->k + c0 * P->kk;
                gt_cpu_sgemm(0, 1, rows, (blk.c1 - c0) * P->kk, ld, 1.0f, a, ld, b, ld,
                             n0 == 0 ? 0.0f : 1.0f, c, P->k);
            }
        }
    }
}

/* Thread t of nt: a share of the input channels when there are enough, else of the
 * output channels (then every thread builds all columns). */
static w_block weight_grad_share(const conv_plan *P, int t, int nt) {
    w_block wb = {0, P->cog, 0, P->cig};
    if (P->cig >= nt) {
        wb.c0 = P->cig * t / nt;
        wb.c1 = P->cig * (t + 1) / nt;
    } else {
        wb.o0 = P->cog * t / nt;
        wb.o1 = P->cog * (t + 1) / nt;
    }
    return wb;
}

void gt_cpu_conv2d_weight_grad(const gt_conv_geom *g, float *w, const float *x, const float *y) {
    size_t nw = numel4(g->c_out, g->c_in / g->groups, g->kh, g->kw);
    if (nw == 0 || numel4(g->n, g->h_out, g->w_out, 1) == 0) {
        if (nw) memset(w, 0, nw * sizeof *w);
        return;
    }
    conv_plan P = conv_plan_make(g, 0);
    if (P.threads == 1) {
        w_block all = weight_grad_share(&P, 0, 1);
        weight_grad_part(&P, 0, w, x, y, &all);
    } else {
#pragma omp parallel num_threads(P.threads)
        {
            int t = omp_get_thread_num();
            w_block wb = weight_grad_share(&P, t, omp_get_num_threads());
            omp_set_num_threads(1);
            weight_grad_part(&P, t, w, x, y, &wb);
        }
    }
    conv_plan_free(&P);
}
