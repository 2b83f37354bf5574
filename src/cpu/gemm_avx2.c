/* AVX2 SGEMM micro-kernel: a 6 x 16 tile of row-major C held in 12 ymm registers,
 * one broadcast of packed A and two loads of packed B per k step. Compiled with
 * -mavx2 -mfma (see Makefile); only called after gt_cpu_isa_supported(GT_ISA_AVX2). */
#include "cpu/gemm_internal.h"

#include <immintrin.h>

#define GT_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define GT_DECL(i) __m256 c##i##a = _mm256_setzero_ps(), c##i##b = _mm256_setzero_ps();
#define GT_STEP(i)                                          \
    {                                                       \
        __m256 ai = _mm256_broadcast_ss(a + (i));           \
        c##i##a = _mm256_fmadd_ps(ai, b0, c##i##a);         \
        c##i##b = _mm256_fmadd_ps(ai, b1, c##i##b);         \
    }
#define GT_PREFETCH(i)                                                   \
    _mm_prefetch((const char *)(c + (i) * ldc), _MM_HINT_T0);            \
    _mm_prefetch((const char *)(c + (i) * ldc + 15), _MM_HINT_T0);
#define GT_STORE(i) gt_store_row(c + (i) * ldc, c##i##a, c##i##b, va, vb, beta);

/* c[0:16] = alpha * (x, y) + beta * c[0:16]; c is not read when beta == 0. */
static inline void gt_store_row(float *c, __m256 x, __m256 y, __m256 va, __m256 vb,
                                float beta) {
    if (beta == 0.0f) {
        _mm256_storeu_ps(c, _mm256_mul_ps(x, va));
        _mm256_storeu_ps(c + 8, _mm256_mul_ps(y, va));
    } else {
        _mm256_storeu_ps(c, _mm256_fmadd_ps(x, va, _mm256_mul_ps(vb, _mm256_loadu_ps(c))));
        _mm256_storeu_ps(c + 8,
                         _mm256_fmadd_ps(y, va, _mm256_mul_ps(vb, _mm256_loadu_ps(c + 8))));
    }
}

void gt_sgemm_ukernel_avx2(int64_t kc, const float *a, const float *b, float *c,
                           int64_t ldc, float alpha, float beta) {
    GT_ROWS(GT_PREFETCH)
    GT_ROWS(GT_DECL)
    for (int64_t k = 0; k < kc; k++) {
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        GT_ROWS(GT_STEP)
        a += GT_SGEMM_AVX2_MR;
        b += GT_SGEMM_AVX2_NR;
    }
    __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    GT_ROWS(GT_STORE)
}
