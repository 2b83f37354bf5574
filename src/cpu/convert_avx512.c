/* bf16 array conversions on AVX-512F, 16 elements an instruction: the same integer rounding as
 * gt_cpu_bf16_from_f32 (nearest, ties to even, NaN quietened, overflow to inf), so the bits
 * equal the portable loop's. Not vcvtneps2bf16: that flushes denormals to zero. Compiled with
 * the AVX-512 flags (Makefile); bf16.c calls it when gt_cpu_isa_active() is AVX-512. */
#include "cpu/cpu.h"

#include <immintrin.h>

static __m256i to_bf16_16(__m512i u) {
    __m512i odd = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    __m512i rounded = _mm512_srli_epi32(
        _mm512_add_epi32(u, _mm512_add_epi32(_mm512_set1_epi32(0x7fff), odd)), 16);
    __m512i quiet = _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40));
    __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)),
                                            _mm512_set1_epi32(0x7f800000));
    return _mm512_cvtepi32_epi16(_mm512_mask_blend_epi32(nan, rounded, quiet));
}

void gt_cpu_to_bf16_avx512(uint16_t *y, const float *x, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(y + i), to_bf16_16(_mm512_loadu_si512(x + i)));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
        __m256i v = to_bf16_16(_mm512_maskz_loadu_epi32(m, x + i));
        _mm256_mask_storeu_epi16(y + i, m, v);
    }
}

void gt_cpu_from_bf16_avx512(float *y, const uint16_t *x, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(x + i)));
        _mm512_storeu_si512(y + i, _mm512_slli_epi32(w, 16));
    }
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
        __m512i w = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, x + i));
        _mm512_mask_storeu_epi32(y + i, m, _mm512_slli_epi32(w, 16));
    }
}
