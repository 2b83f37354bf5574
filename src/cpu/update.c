/* Fused in-place updates of optimizers and EMA: one pass over the flat parameters, in float32
 * with PyTorch's order of operations (see cpu.h). Elementwise, so any thread count gives the
 * same bits. */
#include "cpu.h"

#include <math.h>

/* clang reports every `omp simd` loop it leaves scalar, which all are at -O1 (sanitizer builds). */
#ifdef __clang__
#pragma clang diagnostic ignored "-Wpass-failed"
#endif

/* Up to this many elements an update runs on the calling thread. */
#define UPDATE_PAR_MIN ((int64_t)1 << 15)

/* g + 0 x is g for finite x: no branch on the decay (PyTorch skips the term when it is 0).
 * This file is built with -fno-math-errno (Makefile), so sqrtf is the vector square root and
 * the loop vectorises; every operation is correctly rounded, so the bits are the scalar loop's. */
void gt_cpu_adam_update(float *restrict x, float *restrict m, float *restrict v,
                        const float *restrict g, int64_t n, float b1, float omb1, float b2,
                        float omb2, float wd, float eps, float bc2_sqrt, float neg_step) {
#pragma omp parallel for simd schedule(static) if (n > UPDATE_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        float gi = g[i] + wd * x[i];
        float mi = m[i] * b1 + omb1 * gi;
        float vi = v[i] * b2 + omb2 * gi * gi;
        float denom = sqrtf(vi) / bc2_sqrt + eps;
        m[i] = mi;
        v[i] = vi;
        x[i] = x[i] + neg_step * mi / denom;
    }
}

/* Branch-free so that it vectorises: with finite values, g + 0 x is g and 0 buf + g is g. */
void gt_cpu_sgd_update(float *restrict x, float *restrict buf, const float *restrict g,
                       int64_t n, float wd, float carry, float neg_lr) {
#pragma omp parallel for simd schedule(static) if (n > UPDATE_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        float gi = g[i] + wd * x[i];
        float b = buf[i] * carry + gi;
        buf[i] = b;
        x[i] = x[i] + neg_lr * b;
    }
}

void gt_cpu_lerp(float *restrict s, const float *restrict c, int64_t n, float a, float b) {
#pragma omp parallel for simd schedule(static) if (n > UPDATE_PAR_MIN)
    for (int64_t i = 0; i < n; i++) s[i] = a * s[i] + b * c[i];
}
