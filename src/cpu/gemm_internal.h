/* Private interface of the SGEMM machinery: between the driver (gemm.c), its ISA
 * micro-kernels (gemm_avx2.c, gemm_avx512.c) and the implicit GEMM that the convolutions
 * (conv.c) run on: packed-panel layouts, the micro-kernel contract, gathered operands. */
#ifndef GT_GEMM_INTERNAL_H
#define GT_GEMM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "cpu/cpu.h"

/* ---- The workspace (workspace.c) -----------------------------------------------------
 * Buffer slot s of the workspace, at least n floats, 64-byte aligned, kept for later calls
 * (grown when n is larger). Its contents do not survive another request of the same slot. The
 * slots: the shared packed A of an implicit GEMM, the phase copy of a strided conv's x, and
 * one per thread of a parallel region (GT_WS_SLOT_THREAD + omp_get_thread_num()). */
enum { GT_WS_SLOT_SHARED_A = 0, GT_WS_SLOT_SPLIT_X = 1, GT_WS_SLOT_THREAD = 2 };
float *gt_cpu_ws_buffer(gt_cpu_ws *ws, int slot, size_t n);
/* Scratch for one kernel call, on the calling thread only: 64-byte aligned bump allocation,
 * all of it forgotten by gt_cpu_ws_scratch_reset at the call's end (the blocks are kept). */
void *gt_cpu_ws_scratch(gt_cpu_ws *ws, size_t bytes);
void gt_cpu_ws_scratch_reset(gt_cpu_ws *ws);

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

/* bf16 (gemm_bf16_avx512.c): the same 14 x 32 tiles over packed slivers converted in place
 * to bf16 pairs by gt_bf16_pair_sliver_avx512 ([kc][w] floats -> [(kc+1)/2][w] words, word
 * (q, j) = elements (2q, j) low and (2q+1, j) high). */
extern const gt_sgemm_ukernel gt_bf16_ukernels_avx512[GT_SGEMM_AVX512_MR + 1];
void gt_bf16_pair_sliver_avx512(float *s, int64_t kc, int w);

/* 6 x 16 tile, 12 ymm accumulators. */
#define GT_SGEMM_AVX2_MR 6
#define GT_SGEMM_AVX2_NR 16
void gt_sgemm_ukernel_avx2(int64_t kc, const float *a, const float *b, float *c,
                           int64_t ldc, float alpha, float beta);

/* ---- Implicit GEMM (gemm.c) ---------------------------------------------------------
 * A gathered operand: G[k, j] = src[koff[k] + joff[j]] where the position it names,
 * (kh[k] + jh[j], kw[k] + jw[j]), lies inside [0, h) x [0, w); 0 elsewhere (padding).
 * The j tables hold N rounded up to GT_IGEMM_JPAD entries, those past N set to
 * GT_IGEMM_OUTSIDE in jh (so they read as 0). Offsets are int32: the caller keeps every
 * gathered array under 2^31 elements. */
#define GT_IGEMM_JPAD 32
#define GT_IGEMM_OUTSIDE (-(1 << 30))
typedef struct gt_window16 gt_window16;
typedef struct {
    const float *src;
    const int32_t *koff, *kh, *kw;
    const int32_t *joff, *jh, *jw;
    int32_t h, w;
    const gt_window16 *win; /* NULL, or windows of joff (gt_windows_new) */
} gt_gather;

/* Windows of 16 columns of a gathered operand whose every read is inside src (a padded
 * copy): lane l of segment s reads src[koff[k] + base[s] + idx[s][l]], idx in [0, 32), so
 * a row of the 16 columns is two loads and a two-source permute per segment instead of a
 * gather. nseg == 0: more than two segments (the packer gathers those columns). */
struct gt_window16 {
    int32_t nseg;
    int32_t base[2];
    uint16_t lanes[2], lo[2], hi[2]; /* lanes of each segment; loads of base+0.., base+16.. */
    int32_t idx[2][16];
};

/* Windows of columns 0 .. n-1 of joff (the columns from n up to n rounded up to
 * GT_IGEMM_JPAD read as 0): an array of GT_IGEMM_JPAD/16 * (padded n)/GT_IGEMM_JPAD
 * entries in ws's scratch, NULL when some 16 columns need more than two segments. */
gt_window16 *gt_windows_new(gt_cpu_ws *ws, const int32_t *joff, int64_t n);

/* One sliver [kc][32] of G: rows k0 .. k0+kc-1, columns j0 .. j0+31. */
void gt_gather_sliver_avx512(const gt_gather *g, int64_t k0, int64_t kc, int64_t j0,
                             float *dst);
/* The same sliver as bf16 pairs ([(kc+1)/2][32] words, the native bf16 GEMM's layout). */
void gt_gather_sliver_bf16_avx512(const gt_gather *g, int64_t k0, int64_t kc, int64_t j0,
                                  float *dst);

/* C[M, N] = A[M, K] G[K, N] with A[i, k] = a[arow[i] + acol[k]] and C[i, j] stored to
 * c[i*crs + ccol[j]] (overwritten; C = 0 when K == 0). crun, when not NULL, gives the
 * run of consecutive offsets from each j: ccol[j + r] = ccol[j] + r for r < crun[j]. */
typedef struct {
    int64_t m, n, k;
    const float *a;
    const int32_t *arow, *acol;
    gt_gather b;
    float *c;
    int64_t crs;
    const int32_t *ccol, *crun;
} gt_igemm;

/* Runs the independent products p[0 .. np-1] (their outputs disjoint) in one parallel
 * region (bf16: operands rounded to bf16 as the bf16 GEMM, cpu.h): threads split each product's columns, every element is computed the same way
 * whatever the thread count (one FMA chain per K block, blocks summed in order). */
void gt_igemm_run(gt_cpu_ws *ws, const gt_igemm *p, int np, int bf16);

/* GT_Rm(X) expands X(0) .. X(m-1): the rows of an m-row kernel. */
#define GT_R1(X) X(0)
#define GT_R2(X) GT_R1(X) X(1)
#define GT_R3(X) GT_R2(X) X(2)
#define GT_R4(X) GT_R3(X) X(3)
#define GT_R5(X) GT_R4(X) X(4)
#define GT_R6(X) GT_R5(X) X(5)
#define GT_R7(X) GT_R6(X) X(6)
#define GT_R8(X) GT_R7(X) X(7)
#define GT_R9(X) GT_R8(X) X(8)
#define GT_R10(X) GT_R9(X) X(9)
#define GT_R11(X) GT_R10(X) X(10)
#define GT_R12(X) GT_R11(X) X(11)
#define GT_R13(X) GT_R12(X) X(12)
#define GT_R14(X) GT_R13(X) X(13)

#endif
