/* Private interface between the SGEMM driver (gemm.c) and its ISA micro-kernels
 * (gemm_avx2.c, gemm_avx512.c): packed-panel layouts and the micro-kernel contract. */
#ifndef GT_GEMM_INTERNAL_H
#define GT_GEMM_INTERNAL_H

#include <stdint.h>

/* One MR x NR tile of C (row stride ldc) from packed panels over kc steps:
 *   a: [kc][MR] (a[k*MR + i] = op(A)[i, k]),  b: [kc][NR] (b[k*NR + j] = op(B)[k, j]),
 *   C = alpha * (a^T b) + beta * C; beta == 0 stores without reading C.
 * Each C element is one FMA chain over k in order, then one fixed epilogue. */
typedef void (*gt_sgemm_ukernel)(int64_t kc, const float *a, const float *b, float *c,
                                 int64_t ldc, float alpha, float beta);

/* 14 x 32 tile, 28 zmm accumulators. Entry m (1 .. 14) computes only the first m rows
 * of a tile (same packed layout), so M % 14 costs what it computes. */
#define GT_SGEMM_AVX512_MR 14
#define GT_SGEMM_AVX512_NR 32
extern const gt_sgemm_ukernel gt_sgemm_ukernels_avx512[GT_SGEMM_AVX512_MR + 1];

/* 6 x 16 tile, 12 ymm accumulators. */
#define GT_SGEMM_AVX2_MR 6
#define GT_SGEMM_AVX2_NR 16
void gt_sgemm_ukernel_avx2(int64_t kc, const float *a, const float *b, float *c,
                           int64_t ldc, float alpha, float beta);

#endif
