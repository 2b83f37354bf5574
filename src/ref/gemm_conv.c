/* Reference GEMM and convolution: the sums of cpu.h written out as nested loops, each sum
 * accumulated in double and rounded to float once; under bf16 every operand is first rounded
 * to bf16 (gt_ref_bf16, written independently of the CPU backend's bit trick). */
#include "ref/kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- bf16 rounding -------------------------------------------------------------------------
 * The two bf16 values around x (its bits cut to the top 16, and the next one away from zero)
 * and the nearer of them, the one with an even last bit on a tie. The next one past the
 * largest finite bf16 is inf, taken at its would-be value 2^128 when comparing. */
static float bits_float(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static double bf16_value(uint32_t u) {
    return (u & 0x7fffffffu) == 0x7f800000u ? copysign(ldexp(1.0, 128), (double)bits_float(u))
                                           : (double)bits_float(u);
}

float gt_ref_bf16(float x) {
    if (isnan(x)) return x;
    if (isinf(x)) return x;
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    uint32_t lo = u & 0xffff0000u, hi = lo + 0x10000u;
    double dlo = fabs((double)x - bf16_value(lo)), dhi = fabs(bf16_value(hi) - (double)x);
    if (dlo < dhi || (dlo == dhi && !(lo & 0x10000u))) return bits_float(lo);
    return bits_float(hi);
}

/* An operand as the sums read it: itself, or rounded to bf16. */
static double operand(float v, int bf16) { return bf16 ? (double)gt_ref_bf16(v) : (double)v; }

/* ---- GEMM ----------------------------------------------------------------------------------
 * C[M,N] = alpha * op(A)[M,K] op(B)[K,N] + beta * C, row-major with leading dims lda, ldb, ldc.
 * Only the first N columns of each row of C are touched. */

/* The operands of one GEMM: op(A), op(B), and whether they are read as bf16. */
typedef struct {
    int ta, tb, bf16;
    const float *A, *B;
    int64_t lda, ldb;
} gemm_in;

/* Element (r, c) of op(X): X[r, c] (trans = 0) or X[c, r] (trans = 1), leading dim ld. */
static double op_at(const float *X, int64_t ld, int trans, int64_t r, int64_t c, int bf16) {
    return operand(trans ? X[c * ld + r] : X[r * ld + c], bf16);
}

/* sum_k op(A)[i, k] op(B)[k, j] in double. */
static double dot_row_col(const gemm_in *g, int64_t K, int64_t i, int64_t j) {
    double acc = 0.0;
    for (int64_t k = 0; k < K; k++)
        acc += op_at(g->A, g->lda, g->ta, i, k, g->bf16) * op_at(g->B, g->ldb, g->tb, k, j, g->bf16);
    return acc;
}

/* beta == 0: C is never read (NaNs in C are ignored). alpha == 0 or K == 0: A and B are
 * never read, C = beta C. */
static void gemm(const gemm_in *g, int64_t M, int64_t N, int64_t K, float alpha, float beta,
                 float *C, int64_t ldc) {
    for (int64_t i = 0; i < M; i++) {
        for (int64_t j = 0; j < N; j++) {
            float *c = &C[i * ldc + j];
            double prod = alpha == 0.0f ? 0.0 : dot_row_col(g, K, i, j);
            double v = (double)alpha * prod;
            if (beta != 0.0f) v += (double)beta * *c;
            *c = (float)v;
        }
    }
}

void gt_ref_sgemm(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                  int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    gemm_in g = {ta, tb, 0, A, B, lda, ldb};
    gemm(&g, M, N, K, alpha, beta, C, ldc);
}

void gt_ref_sgemm_bf16(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha,
                       const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                       float *C, int64_t ldc) {
    gemm_in g = {ta, tb, 1, A, B, lda, ldb};
    gemm(&g, M, N, K, alpha, beta, C, ldc);
}

/* ---- Convolution ---------------------------------------------------------------------------
 *   y[n, o, p, q] = sum_{i, a, b} w[o, i, a, b] x[n, g cig + i, p sh - ph + a dh, q sw - pw + b dw]
 * x: [n, c_in, h_in, w_in], w: [c_out, cig, kh, kw], y: [n, c_out, h_out, w_out],
 * cig = c_in / groups, cog = c_out / groups, g = o / cog; x outside the image reads as 0.
 * The two adjoints run the same loop nest as the forward, adding into a double copy of
 * their output, so each is the transpose of the forward by construction. */

static int64_t y_index(const gt_conv_geom *g, int64_t n, int64_t o, int64_t p, int64_t q) {
    return ((n * g->c_out + o) * g->h_out + p) * g->w_out + q;
}

static int64_t w_index(const gt_conv_geom *g, int64_t o, int64_t i, int64_t a, int64_t b) {
    return ((o * (g->c_in / g->groups) + i) * g->kh + a) * g->kw + b;
}

/* Index in x of tap (i, a, b) of output (n, o, p, q), or -1 where it falls in the padding. */
static int64_t x_index(const gt_conv_geom *g, int64_t n, int64_t o, int64_t p, int64_t q,
                       int64_t i, int64_t a, int64_t b) {
    int64_t cig = g->c_in / g->groups, cog = g->c_out / g->groups;
    int64_t c = (o / cog) * cig + i;
    int64_t ih = p * g->sh - g->ph + a * g->dh, iw = q * g->sw - g->pw + b * g->dw;
    if (ih < 0 || ih >= g->h_in || iw < 0 || iw >= g->w_in) return -1;
    return ((n * g->c_in + c) * g->h_in + ih) * g->w_in + iw;
}

/* y[n, o, p, q] as a double sum over (i, a, b). */
static double conv_at(const gt_conv_geom *g, const float *x, const float *w, int64_t n,
                      int64_t o, int64_t p, int64_t q) {
    int64_t cig = g->c_in / g->groups;
    double acc = 0.0;
    for (int64_t i = 0; i < cig; i++)
        for (int64_t a = 0; a < g->kh; a++)
            for (int64_t b = 0; b < g->kw; b++) {
                int64_t xi = x_index(g, n, o, p, q, i, a, b);
                if (xi >= 0)
                    acc += operand(w[w_index(g, o, i, a, b)], g->bf16) * operand(x[xi], g->bf16);
            }
    return acc;
}

void gt_ref_conv2d(const gt_conv_geom *g, float *y, const float *x, const float *w) {
    for (int64_t n = 0; n < g->n; n++)
        for (int64_t o = 0; o < g->c_out; o++)
            for (int64_t p = 0; p < g->h_out; p++)
                for (int64_t q = 0; q < g->w_out; q++)
                    y[y_index(g, n, o, p, q)] = (float)conv_at(g, x, w, n, o, p, q);
}

static void round_into(float *dst, const double *src, int64_t count) {
    for (int64_t k = 0; k < count; k++) dst[k] = (float)src[k];
}

/* x[n, c, h, w] = sum over every (o, p, q, a, b) whose tap reads x[n, c, h, w] of w y. */
void gt_ref_conv2d_input_grad(const gt_conv_geom *g, float *x, const float *y, const float *w) {
    int64_t cig = g->c_in / g->groups, nx = g->n * g->c_in * g->h_in * g->w_in;
    double *acc = gt_ref_doubles(nx);
    for (int64_t n = 0; n < g->n; n++)
        for (int64_t o = 0; o < g->c_out; o++)
            for (int64_t p = 0; p < g->h_out; p++)
                for (int64_t q = 0; q < g->w_out; q++)
                    for (int64_t i = 0; i < cig; i++)
                        for (int64_t a = 0; a < g->kh; a++)
                            for (int64_t b = 0; b < g->kw; b++) {
                                int64_t xi = x_index(g, n, o, p, q, i, a, b);
                                if (xi >= 0)
                                    acc[xi] += operand(w[w_index(g, o, i, a, b)], g->bf16) *
                                               operand(y[y_index(g, n, o, p, q)], g->bf16);
                            }
    round_into(x, acc, nx);
    free(acc);
}

/* w[o, i, a, b] = sum_{n, p, q} y[n, o, p, q] x[tap (i, a, b) of (n, o, p, q)]. */
static double weight_grad_at(const gt_conv_geom *g, const float *x, const float *y, int64_t o,
                             int64_t i, int64_t a, int64_t b) {
    double acc = 0.0;
    for (int64_t n = 0; n < g->n; n++)
        for (int64_t p = 0; p < g->h_out; p++)
            for (int64_t q = 0; q < g->w_out; q++) {
                int64_t xi = x_index(g, n, o, p, q, i, a, b);
                if (xi >= 0)
                    acc += operand(y[y_index(g, n, o, p, q)], g->bf16) * operand(x[xi], g->bf16);
            }
    return acc;
}

void gt_ref_conv2d_weight_grad(const gt_conv_geom *g, float *w, const float *x, const float *y) {
    int64_t cig = g->c_in / g->groups;
    for (int64_t o = 0; o < g->c_out; o++)
        for (int64_t i = 0; i < cig; i++)
            for (int64_t a = 0; a < g->kh; a++)
                for (int64_t b = 0; b < g->kw; b++)
                    w[w_index(g, o, i, a, b)] = (float)weight_grad_at(g, x, y, o, i, a, b);
}
