/* AVX512_BF16 GEMM micro-kernels (vdpbf16ps): an m x 32 tile of row-major C (m <= 14) in 2m
 * zmm accumulators; each instruction adds the products of two consecutive k for 16 columns.
 * Packed operands are bf16 pairs (gemm_internal.h; made by gemm_avx512.c's packers): a sliver
 * [kc][w] of floats becomes [(kc + 1) / 2][w] 32-bit words, word (q, j) holding element (2q, j)
 * in its low half and (2q + 1, j) in its high half (0 past kc).
 * Compiled with the AVX-512 flags (Makefile) plus the avx512bf16 target below; only called
 * when gt_cpu_bf16_native() holds. */
#include "cpu/gemm_internal.h"

#include <immintrin.h>
#include <stddef.h>

#define GT_BF16_TARGET __attribute__((target("avx512bf16")))


#define GT_DECL(i) __m512 c##i##a = _mm512_setzero_ps(), c##i##b = _mm512_setzero_ps();
#define GT_STEP(i)                                                                        \
    {                                                                                     \
        __m512bh ai = (__m512bh)_mm512_set1_epi32((int)a[i]);                             \
        c##i##a = _mm512_dpbf16_ps(c##i##a, ai, b0);                                      \
        c##i##b = _mm512_dpbf16_ps(c##i##b, ai, b1);                                      \
    }
#define GT_STORE(i) gt_bf16_store_row(c + (i) * ldc, c##i##a, c##i##b, va, vb, beta);

/* c[0:32] = alpha * (x, y) + beta * c[0:32]; c is not read when beta == 0. */
GT_BF16_TARGET static inline void gt_bf16_store_row(float *c, __m512 x, __m512 y, __m512 va,
                                                    __m512 vb, float beta) {
    if (beta == 0.0f) {
        _mm512_storeu_ps(c, _mm512_mul_ps(x, va));
        _mm512_storeu_ps(c + 16, _mm512_mul_ps(y, va));
    } else {
        _mm512_storeu_ps(c, _mm512_fmadd_ps(x, va, _mm512_mul_ps(vb, _mm512_loadu_ps(c))));
        _mm512_storeu_ps(c + 16,
                         _mm512_fmadd_ps(y, va, _mm512_mul_ps(vb, _mm512_loadu_ps(c + 16))));
    }
}

/* The m-row kernel over (kc + 1) / 2 pair rows: a is [pairs][14] words, b [pairs][32]. */
#define GT_KERNEL(m)                                                                      \
    GT_BF16_TARGET static void gt_bf16_ukernel_##m(int64_t kc, const float *ap,           \
                                                   const float *bp, float *c, int64_t ldc, \
                                                   float alpha, float beta) {             \
        const uint32_t *a = (const uint32_t *)ap;                                         \
        const uint32_t *b = (const uint32_t *)bp;                                         \
        GT_R##m(GT_DECL) for (int64_t q = 0; q < (kc + 1) / 2; q++) {                     \
            __m512bh b0 = (__m512bh)_mm512_loadu_si512(b);                                \
            __m512bh b1 = (__m512bh)_mm512_loadu_si512(b + 16);                           \
            GT_R##m(GT_STEP) a += GT_SGEMM_AVX512_MR;                                     \
            b += GT_SGEMM_AVX512_NR;                                                      \
        }                                                                                 \
        __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);                     \
        GT_R##m(GT_STORE)                                                                 \
    }

GT_KERNEL(1) GT_KERNEL(2) GT_KERNEL(3) GT_KERNEL(4) GT_KERNEL(5) GT_KERNEL(6) GT_KERNEL(7)
GT_KERNEL(8) GT_KERNEL(9) GT_KERNEL(10) GT_KERNEL(11) GT_KERNEL(12) GT_KERNEL(13)
GT_KERNEL(14)

const gt_sgemm_ukernel gt_bf16_ukernels_avx512[GT_SGEMM_AVX512_MR + 1] = {
    NULL,                gt_bf16_ukernel_1,  gt_bf16_ukernel_2,  gt_bf16_ukernel_3,
    gt_bf16_ukernel_4,   gt_bf16_ukernel_5,  gt_bf16_ukernel_6,  gt_bf16_ukernel_7,
    gt_bf16_ukernel_8,   gt_bf16_ukernel_9,  gt_bf16_ukernel_10, gt_bf16_ukernel_11,
    gt_bf16_ukernel_12,  gt_bf16_ukernel_13, gt_bf16_ukernel_14};
