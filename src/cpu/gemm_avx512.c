/* AVX-512 SGEMM micro-kernel: a 14 x 32 tile of row-major C held in 28 zmm registers,
 * one broadcast of packed A and two loads of packed B per k step. Compiled with
 * -mavx512f (see Makefile); only called after gt_cpu_isa_supported(GT_ISA_AVX512). */
#include "cpu/gemm_internal.h"

#include <immintrin.h>

#define GT_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13)
#define GT_DECL(i) __m512 c##i##a = _mm512_setzero_ps(), c##i##b = _mm512_setzero_ps();
#define GT_STEP(i)                                          \
    {                                                       \
        __m512 ai = _mm512_set1_ps(a[i]);                   \
        c##i##a = _mm512_fmadd_ps(ai, b0, c##i##a);         \
        c##i##b = _mm512_fmadd_ps(ai, b1, c##i##b);         \
    }
#define GT_PREFETCH(i)                                                   \
    _mm_prefetch((const char *)(c + (i) * ldc), _MM_HINT_T0);            \
    _mm_prefetch((const char *)(c + (i) * ldc + 31), _MM_HINT_T0);
#define GT_STORE(i) gt_store_row(c + (i) * ldc, c##i##a, c##i##b, va, vb, beta);

/* c[0:32] = alpha * (x, y) + beta * c[0:32]; c is not read when beta == 0. */
static inline void gt_store_row(float *c, __m512 x, __m512 y, __m512 va, __m512 vb,
                                float beta) {
    if (beta == 0.0f) {
        _mm512_storeu_ps(c, _mm512_mul_ps(x, va));
        _mm512_storeu_ps(c + 16, _mm512_mul_ps(y, va));
    } else {
        _mm512_storeu_ps(c, _mm512_fmadd_ps(x, va, _mm512_mul_ps(vb, _mm512_loadu_ps(c))));
        _mm512_storeu_ps(c + 16,
                         _mm512_fmadd_ps(y, va, _mm512_mul_ps(vb, _mm512_loadu_ps(c + 16))));
    }
}

void gt_sgemm_ukernel_avx512(int64_t kc, const float *a, const float *b, float *c,
                             int64_t ldc, float alpha, float beta) {
    GT_ROWS(GT_PREFETCH)
    GT_ROWS(GT_DECL)
    for (int64_t k = 0; k < kc; k++) {
        __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
        GT_ROWS(GT_STEP)
        a += GT_SGEMM_AVX512_MR;
        b += GT_SGEMM_AVX512_NR;
    }
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    GT_ROWS(GT_STORE)
}
