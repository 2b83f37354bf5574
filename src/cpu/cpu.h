/* CPU kernels: raw pointers, sizes and strides, outputs first.
 * Kernels know nothing of tensors or graphs; every array is float32 and, unless a
 * stride says otherwise, contiguous row-major. All kernels are deterministic: threads
 * split outputs, never a reduction, so results do not depend on the thread count. */
#ifndef GT_CPU_H
#define GT_CPU_H

#include <stdint.h>
#include <stddef.h>

/* ---- ISA dispatch (gemm.c) -------------------------------------------------------- */
typedef enum { GT_ISA_SCALAR = 0, GT_ISA_AVX2 = 1, GT_ISA_AVX512 = 2 } gt_isa;
/* Best ISA this CPU supports, lowered by the environment variable GANTRY_ISA
 * (scalar|avx2|avx512) when set. */
gt_isa gt_cpu_isa_active(void);
int gt_cpu_isa_supported(gt_isa isa);
const char *gt_cpu_isa_name(gt_isa isa);
/* Force a path (tests and benchmarks); returns 0 if this CPU cannot run it. */
int gt_cpu_isa_force(gt_isa isa);

/* ---- Workspace (workspace.c) ---------------------------------------------------------
 * The packing buffers and index tables that SGEMM and the convolutions keep between calls, so
 * that steady state allocates nothing. A context owns one; the threads of a call share it, two
 * calls running at once (two contexts on two threads) need two. Kernels given NULL allocate a
 * workspace for that call alone. */
typedef struct gt_cpu_ws gt_cpu_ws;
gt_cpu_ws *gt_cpu_ws_new(void);
void gt_cpu_ws_free(gt_cpu_ws *ws);

/* ---- GEMM (gemm.c) ------------------------------------------------------------------
 * C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C, row-major.
 * op(A) = A (ta = 0, A is M x K, leading dim lda) or A^T (ta = 1, A is K x M).
 * beta == 0 means C is overwritten (never read, so NaNs in C are ignored). */
void gt_cpu_sgemm_ws(gt_cpu_ws *ws, int ta, int tb, int64_t M, int64_t N, int64_t K,
                     float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                     float beta, float *C, int64_t ldc);
void gt_cpu_sgemm(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha,
                  const float *A, int64_t lda, const float *B, int64_t ldb,
                  float beta, float *C, int64_t ldc); /* gt_cpu_sgemm_ws(NULL, ...) */

/* ---- bf16 (bf16.c, gemm.c, gemm_bf16_avx512.c) -----------------------------------------
 * bf16 is the top half of a float32: the same 8-bit exponent (so the same range: no loss
 * scaling), 8 significant bits (unit roundoff 2^-8). gt_cpu_bf16_from_f32 rounds to nearest,
 * ties to even; a NaN stays NaN (quiet, sign kept); values at or past the midpoint between the
 * largest bf16 (3.3895e38) and 2^128 round to inf, as the hardware's conversion does; denormals
 * round like any other value. */
uint16_t gt_cpu_bf16_from_f32(float x);
float gt_cpu_bf16_to_f32(uint16_t b);
/* y[i] = x[i] rounded to bf16 and widened back to float32 (exactly); y may alias x. */
void gt_cpu_round_bf16(float *y, const float *x, int64_t n);
/* Arrays to and from bf16 (the backend's to_bf16 and from_bf16), threaded when long. */
void gt_cpu_to_bf16(uint16_t *y, const float *x, int64_t n);
void gt_cpu_from_bf16(float *y, const uint16_t *x, int64_t n);
/* The same on AVX-512F, bit for bit (convert_avx512.c); the two above call them there. */
void gt_cpu_to_bf16_avx512(uint16_t *y, const float *x, int64_t n);
void gt_cpu_from_bf16_avx512(float *y, const uint16_t *x, int64_t n);
/* The bf16 GEMM: sgemm's contract, with every element of op(A) and op(B) rounded to bf16
 * first; the products (exact in float32) are summed in float32, then alpha and beta as sgemm.
 * Two paths, chosen at run time: native (vdpbf16ps, AVX512_BF16: two products per lane per
 * instruction; the instruction treats bf16 denormal operands as 0 and flushes denormal sums) and
 * portable (the FP32 kernels on the rounded operands); both round the operands identically, so
 * they differ only in the order of float32 additions (and below 2^-126). Deterministic across
 * thread counts, as sgemm. */
void gt_cpu_sgemm_bf16_ws(gt_cpu_ws *ws, int ta, int tb, int64_t M, int64_t N, int64_t K,
                          float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                          float beta, float *C, int64_t ldc);
void gt_cpu_sgemm_bf16(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha,
                       const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                       float *C, int64_t ldc); /* gt_cpu_sgemm_bf16_ws(NULL, ...) */
/* The native path runs when the CPU has AVX512_BF16, AVX-512 is the active ISA and neither
 * GANTRY_BF16=portable nor gt_cpu_bf16_force(0) asks for the portable one. */
int gt_cpu_bf16_native_supported(void);
int gt_cpu_bf16_native(void);
/* Forces the native (1) or portable (0) path, or back to the default (-1); returns 0 (and
 * changes nothing) when the CPU cannot run the native path asked for. */
int gt_cpu_bf16_force(int native);

/* ---- Convolution (conv.c) -----------------------------------------------------------
 * All three kernels are stated in terms of the forward convolution
 *   y[n, o, p, q] = sum_{i, a, b} w[o, i, a, b] * x[n, g*cig + i, p*sh - ph + a*dh, q*sw - pw + b*dw]
 * with x: [n, c_in, h_in, w_in], w: [c_out, c_in/groups, kh, kw], y: [n, c_out, h_out, w_out],
 * out-of-range x read as 0, g = o / (c_out/groups), cig = c_in/groups. */
typedef struct gt_conv_geom {
    int64_t n, c_in, h_in, w_in;
    int64_t c_out, h_out, w_out;
    int64_t kh, kw, sh, sw, ph, pw, dh, dw, groups;
    int bf16; /* 1: x, w and y read as bf16 (rounded to nearest even), sums in float32, as the
               * bf16 GEMM; 0: float32 throughout */
} gt_conv_geom;

/* Each kernel has a _ws form that takes the workspace first; the plain form passes NULL. */
void gt_cpu_conv2d_ws(gt_cpu_ws *ws, const gt_conv_geom *g, float *y, const float *x,
                      const float *w);
void gt_cpu_conv2d_input_grad_ws(gt_cpu_ws *ws, const gt_conv_geom *g, float *x, const float *y,
                                 const float *w);
void gt_cpu_conv2d_weight_grad_ws(gt_cpu_ws *ws, const gt_conv_geom *g, float *w, const float *x,
                                  const float *y);
/* y = conv(x, w); y overwritten. */
void gt_cpu_conv2d(const gt_conv_geom *g, float *y, const float *x, const float *w);
/* x = conv^T(y, w): the adjoint of conv in x (= conv_transpose2d forward); x overwritten. */
void gt_cpu_conv2d_input_grad(const gt_conv_geom *g, float *x, const float *y, const float *w);
/* w = adjoint of conv in w: w[o,i,a,b] = sum_{n,p,q} y[n,o,p,q] x[n, g*cig+i, ...]; w overwritten. */
void gt_cpu_conv2d_weight_grad(const gt_conv_geom *g, float *w, const float *x, const float *y);

/* ---- Pooling and resampling (pool.c) ------------------------------------------------
 * Planes: nc = batch * channels independent images of h x w. */
typedef struct gt_pool_geom {
    int64_t nc, h_in, w_in, h_out, w_out;
    int64_t kh, kw, sh, sw, ph, pw;
} gt_pool_geom;
/* y = average over each k window, divisor kh*kw always (padding counts as zeros). */
void gt_cpu_avg_pool2d(const gt_pool_geom *g, float *y, const float *x);
/* x = adjoint of avg_pool2d applied to y; x overwritten. */
void gt_cpu_avg_pool2d_adjoint(const gt_pool_geom *g, float *x, const float *y);
/* idx[j] = flat index into x (over all nc planes) of the max of window j (first max wins;
 * padding is never selected), y[j] = x[idx[j]]. */
void gt_cpu_max_pool2d(const gt_pool_geom *g, float *y, int64_t *idx, const float *x);
/* y: [nc, 2h, 2w] nearest-neighbour copy of x: [nc, h, w]. */
void gt_cpu_upsample2x(float *y, const float *x, int64_t nc, int64_t h, int64_t w);
/* y: [nc, h/2, w/2] = sum (not mean) of each 2x2 block of x: [nc, h, w]; h, w even. */
void gt_cpu_sum_pool2x(float *y, const float *x, int64_t nc, int64_t h, int64_t w);

/* ---- Elementwise (ewise.c) ------------------------------------------------------------ */
typedef enum {
    GT_UNARY_COPY, GT_UNARY_NEG, GT_UNARY_EXP, GT_UNARY_LOG, GT_UNARY_SQRT, GT_UNARY_RSQRT,
    GT_UNARY_ABS, GT_UNARY_SQUARE, GT_UNARY_TANH, GT_UNARY_SIGMOID, GT_UNARY_SOFTPLUS,
    GT_UNARY_POW,        /* x^p0 (x > 0 assumed unless p0 is an integer) */
    GT_UNARY_ADD_SCALAR, /* x + p0 */
    GT_UNARY_MUL_SCALAR, /* x * p0 */
    GT_UNARY_SIGN,       /* 1 if x > 0, -1 if x < 0, 0 otherwise */
    GT_UNARY_IN_RANGE,   /* 1 if p0 <= x <= p1 else 0 */
    GT_UNARY_GT_SCALAR,  /* 1 if x > p0 else 0 */
    GT_UNARY_CLAMP,      /* min(max(x, p0), p1) */
    GT_UNARY_LEAKY_SLOPE,/* 1 if x > 0 else p0 (the derivative of leaky relu) */
    GT_UNARY_COUNT
} gt_unary_op;

typedef enum {
    GT_BINARY_ADD, GT_BINARY_SUB, GT_BINARY_MUL, GT_BINARY_DIV,
    GT_BINARY_MAX, GT_BINARY_MIN,
    GT_BINARY_GE,        /* 1 if a >= b else 0 */
    GT_BINARY_GT,        /* 1 if a > b else 0 */
    GT_BINARY_EQ,        /* 1 if a == b else 0 */
    GT_BINARY_COUNT
} gt_binary_op;

/* y[i] = op(x[i]) for i < n; y may alias x. */
void gt_cpu_unary(gt_unary_op op, float *y, const float *x, int64_t n, float p0, float p1);
/* y (contiguous, shape[ndim]) = op(a, b) with a, b read through element strides
 * astride/bstride over the output's shape (stride 0 broadcasts). ndim <= 8. */
void gt_cpu_binary(gt_binary_op op, float *y, const float *a, const int64_t *astride,
                   const float *b, const int64_t *bstride, int ndim, const int64_t *shape);
/* y[i] = mask[i] != 0 ? a[i] : b[i]. */
void gt_cpu_where(float *y, const float *mask, const float *a, const float *b, int64_t n);
/* y[i] = a[i] (ref[i] > 0 ? 1 : slope), as a[i] or a[i] * slope; y may alias a. */
void gt_cpu_leaky_mul(float *y, const float *a, const float *ref, int64_t n, float slope);
void gt_cpu_fill(float *y, float v, int64_t n);
/* y (contiguous, shape[ndim]) = x read through element strides xstride. ndim <= 8. */
void gt_cpu_copy_strided(float *y, const float *x, const int64_t *xstride, int ndim,
                         const int64_t *shape);
/* y (strided by ystride over shape) = x (contiguous); used to write into views. */
void gt_cpu_scatter_strided(float *y, const int64_t *ystride, const float *x, int ndim,
                            const int64_t *shape);

/* ---- Reductions (reduce.c) -------------------------------------------------------------
 * x viewed as [outer, r, inner]; y: [outer, inner]. Summation order is fixed. */
void gt_cpu_reduce_sum(float *y, const float *x, int64_t outer, int64_t r, int64_t inner);
void gt_cpu_reduce_max(float *y, const float *x, int64_t outer, int64_t r, int64_t inner);
/* w, shaped as x: 1 / (ties at the line's max) at its maxima, 0 elsewhere (backend.h). */
void gt_cpu_max_share(float *w, const float *x, int64_t outer, int64_t r, int64_t inner);
/* Flat gathers: y[j] = x[idx[j]]; x[idx[j]] += y[j] (x not cleared; sequential in j). */
void gt_cpu_gather(float *y, const float *x, const int64_t *idx, int64_t n);
void gt_cpu_scatter_add(float *x, const float *y, const int64_t *idx, int64_t n);

/* ---- Per-channel kernels (norm.c) ----------------------------------------------------------
 * x viewed as [n, c, s] (batch, channels, the rest); results per channel j over all (i, k).
 * Threads split channels; each channel's sums run in one fixed order (s > 1: element k of every
 * row into partial sum k % 16, the 16 added in a fixed tree; s == 1: rows in order). */
/* y[j] = sum_{i,k} x[i, j, k]. */
void gt_cpu_channel_sum(float *y, const float *x, int64_t n, int64_t c, int64_t s);
/* Batch-norm statistics and normalisation: mean[j], biased var[j], invstd[j] = 1/sqrt(var + eps),
 * xhat[i, j, k] = (x[i, j, k] - mean[j]) invstd[j]. n s >= 1. */
void gt_cpu_batch_norm(float *xhat, float *mean, float *var, float *invstd, const float *x,
                       int64_t n, int64_t c, int64_t s, float eps);
/* The same followed by a per-channel affine map: y = xhat gamma[j] + beta[j] (float multiply,
 * then add); xhat may be NULL (not stored). n s >= 1. */
void gt_cpu_batch_norm_affine(float *y, float *xhat, float *mean, float *var, float *invstd,
                              const float *x, const float *gamma, const float *beta, int64_t n,
                              int64_t c, int64_t s, float eps);
/* Its input gradient: dx = invstd[j] (dy - mean_j(dy) - xhat mean_j(dy xhat)), the means over
 * (i, k) of channel j, and the sums sum_dy[j] = sum_{i,k} dy, sum_dy_xhat[j] = sum_{i,k} dy xhat
 * (beta's and gamma's gradients after an affine map). Any of dx, sum_dy, sum_dy_xhat may be
 * NULL. n s >= 1. */
void gt_cpu_batch_norm_backward(float *dx, float *sum_dy, float *sum_dy_xhat, const float *dy,
                                const float *xhat, const float *invstd, int64_t n, int64_t c,
                                int64_t s);

/* ---- Random numbers (rng.c): Philox 4x32-10 ------------------------------------------
 * Element i of a draw uses counter block (counter + i / 4), lane i % 4, so results do not
 * depend on threads. After a draw of n values the caller advances counter by (n + 3) / 4. */
void gt_cpu_philox4x32(uint32_t out[4], uint64_t counter, uint64_t key);
/* The full generator: 128-bit counter, 64-bit key (for known-answer tests). */
void gt_cpu_philox4x32_10(uint32_t out[4], const uint32_t ctr[4], const uint32_t key[2]);
/* y[i] uniform in [lo, hi). */
void gt_cpu_rand_uniform(float *y, int64_t n, uint64_t key, uint64_t counter, float lo, float hi);
/* y[i] ~ N(mean, std^2) by Box-Muller on lane pairs (0,1) and (2,3) of each block. */
void gt_cpu_rand_normal(float *y, int64_t n, uint64_t key, uint64_t counter, float mean, float std);

/* ---- Fused in-place updates (update.c), float32 in PyTorch's order --------------------------
 * Adam: g' = g + wd x; m = b1 m + omb1 g'; v = b2 v + omb2 g' g'; x += neg_step m / (sqrt(v) /
 * bc2_sqrt + eps). SGD: g' = g + wd x; buf = carry buf + g'; x += neg_lr buf. lerp: s = a s + b c. */
void gt_cpu_adam_update(float *x, float *m, float *v, const float *g, int64_t n, float b1,
                        float omb1, float b2, float omb2, float wd, float eps, float bc2_sqrt,
                        float neg_step);
void gt_cpu_sgd_update(float *x, float *buf, const float *g, int64_t n, float wd, float carry,
                       float neg_lr);
void gt_cpu_lerp(float *s, const float *c, int64_t n, float a, float b);

/* ---- Threads ---------------------------------------------------------------------------- */
int gt_cpu_threads(void);

#endif
