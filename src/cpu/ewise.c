/* Elementwise kernels of cpu.h: unary maps, broadcasting binary ops, where, fill and strided
 * copies. Strided operands are walked row by row after dropping size-1 dims and merging dims
 * that are contiguous in every operand; large arrays are split into blocks across threads. */
#include "cpu.h"

#include <math.h>
#include <string.h>

/* clang reports every `omp simd` loop it leaves scalar, which all are at -O1 (sanitizer builds). */
#ifdef __clang__
#pragma clang diagnostic ignored "-Wpass-failed"
#endif

#define EW_MAX_DIMS 8
/* Up to this many elements run on the calling thread; an OpenMP region costs more. */
#define EW_PAR_MIN ((int64_t)1 << 15)
/* Elements per parallel work block. */
#define EW_BLOCK ((int64_t)1 << 14)

/* Up to two strided operands over a shape; the output (or input) it pairs with is contiguous. */
typedef struct {
    int nd;
    int64_t shape[EW_MAX_DIMS];
    int64_t st[2][EW_MAX_DIMS];
} ew_plan;

/* One row of a plan: contiguous offset, then offset and stride of each strided operand. */
typedef void (*ew_row_fn)(const void *ctx, int64_t off, int64_t o0, int64_t s0, int64_t o1,
                          int64_t s1, int64_t len);

static int64_t ew_min(int64_t a, int64_t b) { return a < b ? a : b; }

/* Fills p from shape and strides s0, s1 (NULL means all zero); returns the element count. */
static int64_t ew_plan_init(ew_plan *p, int ndim, const int64_t *shape, const int64_t *s0,
                            const int64_t *s1) {
    int64_t n = 1;
    p->nd = 0;
    for (int d = 0; d < ndim; d++) {
        int64_t a = s0 ? s0[d] : 0, b = s1 ? s1[d] : 0;
        int k = p->nd - 1;
        n *= shape[d];
        if (shape[d] == 1) continue;
        if (k >= 0 && p->st[0][k] == a * shape[d] && p->st[1][k] == b * shape[d]) {
            p->shape[k] *= shape[d];
        } else {
            k = p->nd++;
            p->shape[k] = shape[d];
        }
        p->st[0][k] = a;
        p->st[1][k] = b;
    }
    if (p->nd == 0) {
        p->nd = 1;
        p->shape[0] = 1;
        p->st[0][0] = p->st[1][0] = 0;
    }
    return n;
}

/* Runs fn on rows [r0, r0 + count) of p, each restricted to columns [c0, c0 + len). */
static void ew_rows(const ew_plan *p, ew_row_fn fn, const void *ctx, int64_t r0, int64_t count,
                    int64_t c0, int64_t len) {
    int last = p->nd - 1;
    int64_t idx[EW_MAX_DIMS], o0 = c0 * p->st[0][last], o1 = c0 * p->st[1][last], rem = r0;
    for (int d = last - 1; d >= 0; d--) {
        idx[d] = rem % p->shape[d];
        rem /= p->shape[d];
        o0 += idx[d] * p->st[0][d];
        o1 += idx[d] * p->st[1][d];
    }
    for (int64_t r = r0; r < r0 + count; r++) {
        fn(ctx, r * p->shape[last] + c0, o0, p->st[0][last], o1, p->st[1][last], len);
        for (int d = last - 1; d >= 0; d--) {
            o0 += p->st[0][d];
            o1 += p->st[1][d];
            if (++idx[d] < p->shape[d]) break;
            o0 -= idx[d] * p->st[0][d];
            o1 -= idx[d] * p->st[1][d];
            idx[d] = 0;
        }
    }
}

/* Runs fn over all n elements of p: on this thread when small, else in blocks of about
 * EW_BLOCK elements (whole rows, or column slices of rows longer than a block). */
static void ew_run(const ew_plan *p, int64_t n, ew_row_fn fn, const void *ctx) {
    int64_t inner = p->shape[p->nd - 1], rows = n ? n / inner : 0;
    if (n <= EW_PAR_MIN) {
        if (n > 0) ew_rows(p, fn, ctx, 0, rows, 0, inner);
    } else if (inner >= EW_BLOCK) {
        int64_t per_row = (inner + EW_BLOCK - 1) / EW_BLOCK;
#pragma omp parallel for schedule(static)
        for (int64_t t = 0; t < rows * per_row; t++) {
            int64_t c0 = (t % per_row) * EW_BLOCK;
            ew_rows(p, fn, ctx, t / per_row, 1, c0, ew_min(EW_BLOCK, inner - c0));
        }
    } else {
        int64_t step = EW_BLOCK / inner, nblk = (rows + step - 1) / step;
#pragma omp parallel for schedule(static)
        for (int64_t b = 0; b < nblk; b++)
            ew_rows(p, fn, ctx, b * step, ew_min(step, rows - b * step), 0, inner);
    }
}

/* ew_run over a flat contiguous range of n elements. */
static void ew_run_flat(int64_t n, ew_row_fn fn, const void *ctx) {
    ew_plan p;
    ew_plan_init(&p, 1, &n, NULL, NULL);
    ew_run(&p, n, fn, ctx);
}

/* ---- unary ------------------------------------------------------------------------------ */

typedef struct {
    gt_unary_op op;
    float *y;
    const float *x;
    float p0, p1;
} unary_ctx;

static inline float ew_sigmoid(float v) {
    float e = expf(-fabsf(v));
    return v >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
}

static inline float ew_softplus(float v) {
    return (v > 0.0f ? v : 0.0f) + log1pf(expf(-fabsf(v)));
}

/* powf already handles negative bases with integral exponents; squaring is the common case. */
static inline float ew_pow(float v, float p) { return p == 2.0f ? v * v : powf(v, p); }

static inline float ew_clamp(float v, float lo, float hi) {
    float t = v < lo ? lo : v;
    return t > hi ? hi : t;
}

#define EW_MAP(EXPR)                                                                         \
    do {                                                                                     \
        _Pragma("omp simd") for (int64_t i = 0; i < n; i++) {                                \
            float v = x[i];                                                                  \
            y[i] = (EXPR);                                                                   \
        }                                                                                    \
    } while (0)
/* Loops calling libm: no vector libm without -ffast-math, so no simd request. */
#define EW_MAP_LIBM(EXPR)                                                                    \
    do {                                                                                     \
        for (int64_t i = 0; i < n; i++) {                                                    \
            float v = x[i];                                                                  \
            y[i] = (EXPR);                                                                   \
        }                                                                                    \
    } while (0)

static void unary_row(const void *ctx, int64_t off, int64_t o0, int64_t s0, int64_t o1,
                      int64_t s1, int64_t n) {
    const unary_ctx *c = ctx;
    float *y = c->y + off, p0 = c->p0, p1 = c->p1;
    const float *x = c->x + off;
    (void)o0, (void)s0, (void)o1, (void)s1;
    switch (c->op) {
    case GT_UNARY_COPY: if (y != x) memcpy(y, x, (size_t)n * sizeof *y); break;
    case GT_UNARY_NEG: EW_MAP(-v); break;
    case GT_UNARY_EXP: EW_MAP_LIBM(expf(v)); break;
    case GT_UNARY_LOG: EW_MAP_LIBM(logf(v)); break;
    case GT_UNARY_SQRT: EW_MAP_LIBM(sqrtf(v)); break;
    case GT_UNARY_RSQRT: EW_MAP_LIBM(1.0f / sqrtf(v)); break;
    case GT_UNARY_ABS: EW_MAP(fabsf(v)); break;
    case GT_UNARY_SQUARE: EW_MAP(v * v); break;
    case GT_UNARY_TANH: EW_MAP_LIBM(tanhf(v)); break;
    case GT_UNARY_SIGMOID: EW_MAP_LIBM(ew_sigmoid(v)); break;
    case GT_UNARY_SOFTPLUS: EW_MAP_LIBM(ew_softplus(v)); break;
    case GT_UNARY_POW: EW_MAP_LIBM(ew_pow(v, p0)); break;
    case GT_UNARY_ADD_SCALAR: EW_MAP(v + p0); break;
    case GT_UNARY_MUL_SCALAR: EW_MAP(v * p0); break;
    case GT_UNARY_SIGN: EW_MAP(v > 0.0f ? 1.0f : v < 0.0f ? -1.0f : 0.0f); break;
    case GT_UNARY_IN_RANGE: EW_MAP(v >= p0 && v <= p1 ? 1.0f : 0.0f); break;
    case GT_UNARY_GT_SCALAR: EW_MAP(v > p0 ? 1.0f : 0.0f); break;
    case GT_UNARY_CLAMP: EW_MAP(ew_clamp(v, p0, p1)); break;
    case GT_UNARY_LEAKY_SLOPE: EW_MAP(v > 0.0f ? 1.0f : p0); break;
    case GT_UNARY_COUNT: break;
    }
}

void gt_cpu_unary(gt_unary_op op, float *y, const float *x, int64_t n, float p0, float p1) {
    unary_ctx c = {op, y, x, p0, p1};
    ew_run_flat(n, unary_row, &c);
}

/* ---- binary ----------------------------------------------------------------------------- */

typedef struct {
    gt_binary_op op;
    float *y;
    const float *a, *b;
} binary_ctx;

/* y[i] = EXPR(u = a[i * as], v = b[i * bs]), with loops for the common stride patterns. */
#define EW_ZIP(EXPR)                                                                         \
    do {                                                                                     \
        if (as == 1 && bs == 1) {                                                            \
            _Pragma("omp simd") for (int64_t i = 0; i < n; i++) {                            \
                float u = a[i], v = b[i];                                                    \
                y[i] = (EXPR);                                                               \
            }                                                                                \
        } else if (as == 1 && bs == 0) {                                                     \
            const float v = b[0];                                                            \
            _Pragma("omp simd") for (int64_t i = 0; i < n; i++) {                            \
                float u = a[i];                                                              \
                y[i] = (EXPR);                                                               \
            }                                                                                \
        } else if (as == 0 && bs == 1) {                                                     \
            const float u = a[0];                                                            \
            _Pragma("omp simd") for (int64_t i = 0; i < n; i++) {                            \
                float v = b[i];                                                              \
                y[i] = (EXPR);                                                               \
            }                                                                                \
        } else {                                                                             \
            _Pragma("omp simd") for (int64_t i = 0; i < n; i++) {                            \
                float u = a[i * as], v = b[i * bs];                                          \
                y[i] = (EXPR);                                                               \
            }                                                                                \
        }                                                                                    \
    } while (0)

/* max and min propagate NaN from either side. */
static void binary_row(const void *ctx, int64_t off, int64_t o0, int64_t as, int64_t o1,
                       int64_t bs, int64_t n) {
    const binary_ctx *c = ctx;
    float *y = c->y + off;
    const float *a = c->a + o0, *b = c->b + o1;
    switch (c->op) {
    case GT_BINARY_ADD: EW_ZIP(u + v); break;
    case GT_BINARY_SUB: EW_ZIP(u - v); break;
    case GT_BINARY_MUL: EW_ZIP(u * v); break;
    case GT_BINARY_DIV: EW_ZIP(u / v); break;
    case GT_BINARY_MAX: EW_ZIP(u > v || u != u ? u : v); break;
    case GT_BINARY_MIN: EW_ZIP(u < v || u != u ? u : v); break;
    case GT_BINARY_GE: EW_ZIP(u >= v ? 1.0f : 0.0f); break;
    case GT_BINARY_GT: EW_ZIP(u > v ? 1.0f : 0.0f); break;
    case GT_BINARY_EQ: EW_ZIP(u == v ? 1.0f : 0.0f); break;
    case GT_BINARY_COUNT: break;
    }
}

void gt_cpu_binary(gt_binary_op op, float *y, const float *a, const int64_t *astride,
                   const float *b, const int64_t *bstride, int ndim, const int64_t *shape) {
    binary_ctx c = {op, y, a, b};
    ew_plan p;
    int64_t n = ew_plan_init(&p, ndim, shape, astride, bstride);
    ew_run(&p, n, binary_row, &c);
}

/* ---- where, fill, strided copies --------------------------------------------------------- */

/* Operands of where (x is the mask), fill (v) and the strided copies (x is the source). */
typedef struct {
    float *y;
    const float *x, *a, *b;
    float v;
} move_ctx;

static void where_row(const void *ctx, int64_t off, int64_t o0, int64_t s0, int64_t o1,
                      int64_t s1, int64_t n) {
    const move_ctx *c = ctx;
    float *y = c->y + off;
    const float *m = c->x + off, *a = c->a + off, *b = c->b + off;
    (void)o0, (void)s0, (void)o1, (void)s1;
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
        float u = a[i], v = b[i]; /* both loaded, so the select vectorises */
        y[i] = m[i] != 0.0f ? u : v;
    }
}

void gt_cpu_where(float *y, const float *mask, const float *a, const float *b, int64_t n) {
    move_ctx c = {y, mask, a, b, 0.0f};
    ew_run_flat(n, where_row, &c);
}

/* y = a (ref > 0 ? 1 : slope); x is ref, v the slope. */
static void leaky_mul_row(const void *ctx, int64_t off, int64_t o0, int64_t s0, int64_t o1,
                          int64_t s1, int64_t n) {
    const move_ctx *c = ctx;
    float *y = c->y + off, v = c->v;
    const float *r = c->x + off, *a = c->a + off;
    (void)o0, (void)s0, (void)o1, (void)s1;
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
        float m = r[i] > 0.0f ? 1.0f : v; /* a select of constants, then one multiply */
        y[i] = a[i] * m;
    }
}

void gt_cpu_leaky_mul(float *y, const float *a, const float *ref, int64_t n, float slope) {
    move_ctx c = {y, ref, a, NULL, slope};
    ew_run_flat(n, leaky_mul_row, &c);
}

static void fill_row(const void *ctx, int64_t off, int64_t o0, int64_t s0, int64_t o1,
                     int64_t s1, int64_t n) {
    const move_ctx *c = ctx;
    float *y = c->y + off, v = c->v;
    (void)o0, (void)s0, (void)o1, (void)s1;
#pragma omp simd
    for (int64_t i = 0; i < n; i++) y[i] = v;
}

void gt_cpu_fill(float *y, float v, int64_t n) {
    move_ctx c = {y, NULL, NULL, NULL, v};
    ew_run_flat(n, fill_row, &c);
}

/* Contiguous y row = x row read with stride s0. */
static void gather_row(const void *ctx, int64_t off, int64_t o0, int64_t s0, int64_t o1,
                       int64_t s1, int64_t n) {
    const move_ctx *c = ctx;
    float *y = c->y + off;
    const float *x = c->x + o0;
    (void)o1, (void)s1;
    if (s0 == 1) {
        memcpy(y, x, (size_t)n * sizeof *y);
        return;
    }
#pragma omp simd
    for (int64_t i = 0; i < n; i++) y[i] = x[i * s0];
}

void gt_cpu_copy_strided(float *y, const float *x, const int64_t *xstride, int ndim,
                         const int64_t *shape) {
    move_ctx c = {y, x, NULL, NULL, 0.0f};
    ew_plan p;
    int64_t n = ew_plan_init(&p, ndim, shape, xstride, NULL);
    ew_run(&p, n, gather_row, &c);
}

/* y row written with stride s0 = contiguous x row. */
static void scatter_row(const void *ctx, int64_t off, int64_t o0, int64_t s0, int64_t o1,
                        int64_t s1, int64_t n) {
    const move_ctx *c = ctx;
    float *y = c->y + o0;
    const float *x = c->x + off;
    (void)o1, (void)s1;
    if (s0 == 1) {
        memcpy(y, x, (size_t)n * sizeof *y);
        return;
    }
#pragma omp simd
    for (int64_t i = 0; i < n; i++) y[i * s0] = x[i];
}

void gt_cpu_scatter_strided(float *y, const int64_t *ystride, const float *x, int ndim,
                            const int64_t *shape) {
    move_ctx c = {y, x, NULL, NULL, 0.0f};
    ew_plan p;
    int64_t n = ew_plan_init(&p, ndim, shape, ystride, NULL);
    ew_run(&p, n, scatter_row, &c);
}
