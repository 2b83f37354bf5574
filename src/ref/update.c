/* The fused optimizer and EMA updates of the reference backend: one element at a time, the
 * formulas of cpu.h written out. These are float32 formulas by definition (PyTorch's optimizers
 * update in float32, in this order), so ref computes them in float too, not in double. */
#include <math.h>

#include "ref/kernels.h"

void gt_ref_adam_update(float *x, float *m, float *v, const float *g, int64_t n, float b1,
                        float omb1, float b2, float omb2, float wd, float eps, float bc2_sqrt,
                        float neg_step) {
    for (int64_t i = 0; i < n; i++) {
        float grad = g[i] + wd * x[i];
        m[i] = m[i] * b1 + omb1 * grad;
        v[i] = v[i] * b2 + omb2 * grad * grad;
        float denom = sqrtf(v[i]) / bc2_sqrt + eps;
        x[i] = x[i] + neg_step * m[i] / denom;
    }
}

void gt_ref_sgd_update(float *x, float *buf, const float *g, int64_t n, float wd, float carry,
                       float neg_lr) {
    for (int64_t i = 0; i < n; i++) {
        float grad = g[i] + wd * x[i];
        buf[i] = buf[i] * carry + grad;
        x[i] = x[i] + neg_lr * buf[i];
    }
}

void gt_ref_lerp(float *s, const float *c, int64_t n, float a, float b) {
    for (int64_t i = 0; i < n; i++) s[i] = a * s[i] + b * c[i];
}
