/* bf16 conversion (round to nearest even, NaN kept, overflow to inf) and the choice between
 * the native AVX512_BF16 and the portable path of the bf16 GEMM (GANTRY_BF16, a forcing hook
 * for tests). The GEMM itself shares gemm.c's packing and blocking. */
#include "cpu/cpu.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

uint16_t gt_cpu_bf16_from_f32(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x0040u); /* quiet NaN */
    /* Adding 0x7fff (+1 when the kept part is odd) carries into bit 16 exactly when the
     * dropped half is above the midpoint, or at it with an odd kept part; a carry out of the
     * significand bumps the exponent, and past the largest finite value it gives inf. */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float gt_cpu_bf16_to_f32(uint16_t b) {
    uint32_t u = (uint32_t)b << 16;
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

void gt_cpu_round_bf16(float *y, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = gt_cpu_bf16_to_f32(gt_cpu_bf16_from_f32(x[i]));
}

/* Conversions of whole arrays: AVX-512 where active (convert_avx512.c), else
 * gt_cpu_bf16_from_f32's bit trick written out so the compiler vectorises it (the NaN test
 * becomes a select); split over threads past this length. The same bits either way. */
enum { CONVERT_PAR_MIN = 1 << 18, CONVERT_BLOCK = 1 << 14 };

static void to_bf16_portable(uint16_t *restrict y, const float *restrict x, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], sizeof u);
        uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
        uint32_t quiet = (u >> 16) | 0x0040u;
        y[i] = (uint16_t)((u & 0x7fffffffu) > 0x7f800000u ? quiet : rounded);
    }
}

static void from_bf16_portable(float *restrict y, const uint16_t *restrict x, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)x[i] << 16;
        memcpy(&y[i], &u, sizeof u);
    }
}

static bool convert_avx512(void) { return gt_cpu_isa_active() == GT_ISA_AVX512; }
static int64_t block_len(int64_t n, int64_t b) { return n - b < CONVERT_BLOCK ? n - b : CONVERT_BLOCK; }

void gt_cpu_to_bf16(uint16_t *y, const float *x, int64_t n) {
    void (*run)(uint16_t *, const float *, int64_t) =
        convert_avx512() ? gt_cpu_to_bf16_avx512 : to_bf16_portable;
#pragma omp parallel for schedule(static) if (n > CONVERT_PAR_MIN)
    for (int64_t b = 0; b < n; b += CONVERT_BLOCK) run(y + b, x + b, block_len(n, b));
}

void gt_cpu_from_bf16(float *y, const uint16_t *x, int64_t n) {
    void (*run)(float *, const uint16_t *, int64_t) =
        convert_avx512() ? gt_cpu_from_bf16_avx512 : from_bf16_portable;
#pragma omp parallel for schedule(static) if (n > CONVERT_PAR_MIN)
    for (int64_t b = 0; b < n; b += CONVERT_BLOCK) run(y + b, x + b, block_len(n, b));
}

/* -1: no forced path; 0 portable; 1 native. */
static int gt_bf16_forced = -1;

int gt_cpu_bf16_native_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bf16") && gt_cpu_isa_supported(GT_ISA_AVX512);
}

/* GANTRY_BF16=portable lowers the choice (any other value leaves it). */
static int gt_bf16_env_portable(void) {
    const char *s = getenv("GANTRY_BF16");
    return s && strcmp(s, "portable") == 0;
}

int gt_cpu_bf16_native(void) {
    if (gt_bf16_forced >= 0) return gt_bf16_forced;
    return gt_cpu_bf16_native_supported() && gt_cpu_isa_active() == GT_ISA_AVX512 &&
           !gt_bf16_env_portable();
}

int gt_cpu_bf16_force(int native) {
    if (native == 1 && !gt_cpu_bf16_native_supported()) return 0;
    gt_bf16_forced = native < 0 ? -1 : native != 0;
    return 1;
}
