/* Reference elementwise kernels (cpu.h): unary maps computed in double and rounded once,
 * broadcasting binary ops, where, leaky_mul, fill and the strided copies, each walking a
 * multi-index over the shape (last dim fastest). */
#include "ref/kernels.h"

#include <math.h>
#include <string.h>

/* ---- unary ---------------------------------------------------------------------------------- */

/* 1 / (1 + e^-v), without overflow for either sign. */
static double sigmoid(double v) {
    double e = exp(-fabs(v));
    return v >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
}

/* log(1 + e^v) = max(v, 0) + log1p(e^-|v|). */
static double softplus(double v) { return (v > 0.0 ? v : 0.0) + log1p(exp(-fabs(v))); }

/* min(max(v, lo), hi); a NaN v stays NaN. */
static float clamp(float v, float lo, float hi) {
    float t = v < lo ? lo : v;
    return t > hi ? hi : t;
}

static float unary_one(gt_unary_op op, float x, float p0, float p1) {
    double v = x;
    switch (op) {
    case GT_UNARY_COPY: return x;
    case GT_UNARY_NEG: return -x;
    case GT_UNARY_EXP: return (float)exp(v);
    case GT_UNARY_LOG: return (float)log(v);
    case GT_UNARY_SQRT: return (float)sqrt(v);
    case GT_UNARY_RSQRT: return (float)(1.0 / sqrt(v));
    case GT_UNARY_ABS: return fabsf(x);
    case GT_UNARY_SQUARE: return (float)(v * v);
    case GT_UNARY_TANH: return (float)tanh(v);
    case GT_UNARY_SIGMOID: return (float)sigmoid(v);
    case GT_UNARY_SOFTPLUS: return (float)softplus(v);
    case GT_UNARY_POW: return (float)pow(v, (double)p0);
    case GT_UNARY_ADD_SCALAR: return (float)(v + p0);
    case GT_UNARY_MUL_SCALAR: return (float)(v * p0);
    case GT_UNARY_SIGN: return x > 0.0f ? 1.0f : x < 0.0f ? -1.0f : 0.0f;
    case GT_UNARY_IN_RANGE: return x >= p0 && x <= p1 ? 1.0f : 0.0f;
    case GT_UNARY_GT_SCALAR: return x > p0 ? 1.0f : 0.0f;
    case GT_UNARY_CLAMP: return clamp(x, p0, p1);
    case GT_UNARY_LEAKY_SLOPE: return x > 0.0f ? 1.0f : p0;
    case GT_UNARY_COUNT: break;
    }
    return x;
}

/* y[i] = op(x[i]); y may alias x (each element is read before it is written). */
void gt_ref_unary(gt_unary_op op, float *y, const float *x, int64_t n, float p0, float p1) {
    for (int64_t i = 0; i < n; i++) y[i] = unary_one(op, x[i], p0, p1);
}

/* ---- strided walks -------------------------------------------------------------------------- */

/* Offset through `stride` of the element with flat (row-major) index `flat` over shape. */
static int64_t strided_offset(int64_t flat, const int64_t *stride, int ndim,
                              const int64_t *shape) {
    int64_t off = 0;
    for (int d = ndim - 1; d >= 0; d--) {
        off += (flat % shape[d]) * stride[d];
        flat /= shape[d];
    }
    return off;
}

/* Elements of shape (1 for ndim == 0). */
static int64_t count_of(int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) n *= shape[d];
    return n;
}

/* ---- binary --------------------------------------------------------------------------------- */

/* max and min propagate a NaN from either side. */
static float binary_one(gt_binary_op op, float a, float b) {
    double u = a, v = b;
    switch (op) {
    case GT_BINARY_ADD: return (float)(u + v);
    case GT_BINARY_SUB: return (float)(u - v);
    case GT_BINARY_MUL: return (float)(u * v);
    case GT_BINARY_DIV: return (float)(u / v);
    case GT_BINARY_MAX: return isnan(a) ? a : isnan(b) ? b : a > b ? a : b;
    case GT_BINARY_MIN: return isnan(a) ? a : isnan(b) ? b : a < b ? a : b;
    case GT_BINARY_GE: return a >= b ? 1.0f : 0.0f;
    case GT_BINARY_GT: return a > b ? 1.0f : 0.0f;
    case GT_BINARY_EQ: return a == b ? 1.0f : 0.0f;
    case GT_BINARY_COUNT: break;
    }
    return a;
}

/* y (contiguous over shape) = op(a, b), a and b read through astride, bstride (0 broadcasts). */
void gt_ref_binary(gt_binary_op op, float *y, const float *a, const int64_t *astride,
                   const float *b, const int64_t *bstride, int ndim, const int64_t *shape) {
    int64_t n = count_of(ndim, shape);
    for (int64_t i = 0; i < n; i++)
        y[i] = binary_one(op, a[strided_offset(i, astride, ndim, shape)],
                          b[strided_offset(i, bstride, ndim, shape)]);
}

/* ---- where, leaky_mul, fill, strided copies ------------------------------------------------- */

void gt_ref_where(float *y, const float *mask, const float *a, const float *b, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = mask[i] != 0.0f ? a[i] : b[i];
}

/* y[i] = a[i] where ref[i] > 0, else a[i] slope; y may alias a. */
void gt_ref_leaky_mul(float *y, const float *a, const float *ref, int64_t n, float slope) {
    for (int64_t i = 0; i < n; i++) y[i] = ref[i] > 0.0f ? a[i] : a[i] * slope;
}

void gt_ref_fill(float *y, float v, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = v;
}

/* NaN becomes the quiet NaN of its sign (its payload may sit in the bits bf16 drops). */
void gt_ref_to_bf16(uint16_t *y, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float r = isnan(x[i]) ? copysignf(NAN, x[i]) : gt_ref_bf16(x[i]);
        uint32_t u;
        memcpy(&u, &r, sizeof u);
        y[i] = (uint16_t)(u >> 16);
    }
}

void gt_ref_from_bf16(float *y, const uint16_t *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)x[i] << 16;
        memcpy(&y[i], &u, sizeof u);
    }
}

/* y (contiguous over shape) = x read through xstride. */
void gt_ref_copy_strided(float *y, const float *x, const int64_t *xstride, int ndim,
                         const int64_t *shape) {
    int64_t n = count_of(ndim, shape);
    for (int64_t i = 0; i < n; i++) y[i] = x[strided_offset(i, xstride, ndim, shape)];
}

/* y written through ystride over shape = x (contiguous). */
void gt_ref_scatter_strided(float *y, const int64_t *ystride, const float *x, int ndim,
                            const int64_t *shape) {
    int64_t n = count_of(ndim, shape);
    for (int64_t i = 0; i < n; i++) y[strided_offset(i, ystride, ndim, shape)] = x[i];
}
