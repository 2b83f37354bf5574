/* The backend table: the memory and every kernel the ops call, behind function pointers, so
 * another device (CUDA later) plugs in by filling its own table in its own folder and adding one
 * line to src/core/backends.def; nothing above this table changes. The argument conventions are
 * those of src/cpu/cpu.h (outputs first, raw pointers into the backend's memory); docs/backends.md
 * lists what each entry must do. */
#ifndef GT_BACKEND_H
#define GT_BACKEND_H

#include <stdbool.h>

#include "cpu/cpu.h"

/* C = alpha op(A) op(B) + beta C (cpu.h's sgemm); the first argument is the workspace. */
typedef void gt_gemm_fn(void *ws, int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha,
                        const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                        float *C, int64_t ldc);

typedef struct gt_backend {
    const char *name;
    /* Memory. Every tensor's data comes from alloc (64-byte aligned, NULL when out of memory);
     * the host reads and writes it only through upload and download. host_addressable: the
     * host may also dereference the backend's pointers (cpu, ref). */
    bool host_addressable;
    void *(*alloc)(size_t bytes);
    void (*free)(void *p);
    void (*upload)(void *dst, const void *host, size_t bytes);
    void (*download)(void *host, const void *src, size_t bytes);
    void (*copy)(void *dst, const void *src, size_t bytes);
    /* Whether sgemm_bf16 and the bf16 convolutions run natively (else a slower portable path). */
    bool (*bf16_native)(void);
    /* A context's workspace: scratch the kernels keep between calls (NULL entries: none). */
    void *(*workspace_new)(void);
    void (*workspace_free)(void *ws);
    gt_gemm_fn *sgemm;
    /* sgemm's contract with op(A) and op(B) rounded to bf16, sums in float32 (or better) */
    gt_gemm_fn *sgemm_bf16;
    /* The convolutions read their operands as bf16 when g->bf16 is set (cpu.h). */
    void (*conv2d)(void *ws, const gt_conv_geom *g, float *y, const float *x, const float *w);
    void (*conv2d_input_grad)(void *ws, const gt_conv_geom *g, float *x, const float *y,
                              const float *w);
    void (*conv2d_weight_grad)(void *ws, const gt_conv_geom *g, float *w, const float *x,
                               const float *y);
    void (*avg_pool2d)(const gt_pool_geom *g, float *y, const float *x);
    void (*avg_pool2d_adjoint)(const gt_pool_geom *g, float *x, const float *y);
    void (*max_pool2d)(const gt_pool_geom *g, float *y, int64_t *idx, const float *x);
    void (*upsample2x)(float *y, const float *x, int64_t nc, int64_t h, int64_t w);
    void (*sum_pool2x)(float *y, const float *x, int64_t nc, int64_t h, int64_t w);
    void (*unary)(gt_unary_op op, float *y, const float *x, int64_t n, float p0, float p1);
    /* y may be a itself when a is contiguous over shape (a bias added in place) */
    void (*binary)(gt_binary_op op, float *y, const float *a, const int64_t *astride,
                   const float *b, const int64_t *bstride, int ndim, const int64_t *shape);
    void (*where)(float *y, const float *mask, const float *a, const float *b, int64_t n);
    void (*fill)(float *y, float v, int64_t n);
    /* Activations stored as bf16 (train.precision = bf16): y[i] = x[i] rounded to the nearest
     * bf16, ties to even (NaN stays NaN, past the largest finite bf16 is inf), as its top 16
     * bits; and back, exactly. */
    void (*to_bf16)(uint16_t *y, const float *x, int64_t n);
    void (*from_bf16)(float *y, const uint16_t *x, int64_t n);
    void (*copy_strided)(float *y, const float *x, const int64_t *xstride, int ndim,
                         const int64_t *shape);
    void (*scatter_strided)(float *y, const int64_t *ystride, const float *x, int ndim,
                            const int64_t *shape);
    void (*reduce_sum)(float *y, const float *x, int64_t outer, int64_t r, int64_t inner);
    void (*reduce_max)(float *y, const float *x, int64_t outer, int64_t r, int64_t inner);
    /* max's gradient share: w[o, k, j] = hit / count, hit = (x[o, k, j] >= the line's max over
     * k), count = the line's hits; a line whose max is NaN gets NaN throughout (0 / 0) */
    void (*max_share)(float *w, const float *x, int64_t outer, int64_t r, int64_t inner);
    void (*channel_sum)(float *y, const float *x, int64_t n, int64_t c, int64_t s);
    void (*batch_norm)(float *xhat, float *mean, float *var, float *invstd, const float *x,
                       int64_t n, int64_t c, int64_t s, float eps);
    void (*batch_norm_affine)(float *y, float *xhat, float *mean, float *var, float *invstd,
                              const float *x, const float *gamma, const float *beta, int64_t n,
                              int64_t c, int64_t s, float eps);
    void (*batch_norm_backward)(float *dx, float *sum_dy, float *sum_dy_xhat, const float *dy,
                                const float *xhat, const float *invstd, int64_t n, int64_t c,
                                int64_t s);
    /* y = a where ref > 0, else a slope; y may be a and ref themselves (in place) */
    void (*leaky_mul)(float *y, const float *a, const float *ref, int64_t n, float slope);
    void (*gather)(float *y, const float *x, const int64_t *idx, int64_t n);
    void (*scatter_add)(float *x, const float *y, const int64_t *idx, int64_t n);
    void (*rand_uniform)(float *y, int64_t n, uint64_t key, uint64_t counter, float lo, float hi);
    void (*rand_normal)(float *y, int64_t n, uint64_t key, uint64_t counter, float mean,
                        float std);
    /* Fused in-place updates of n elements (the formulas of src/core/engine.h). */
    void (*adam_update)(float *x, float *m, float *v, const float *g, int64_t n, float b1,
                        float omb1, float b2, float omb2, float wd, float eps, float bc2_sqrt,
                        float neg_step);
    void (*sgd_update)(float *x, float *buf, const float *g, int64_t n, float wd, float carry,
                       float neg_lr);
    void (*lerp)(float *s, const float *c, int64_t n, float a, float b);
} gt_backend;

/* The registered backends (backends.def): their tables, and lookup by name. */
#define GT_BACKEND(name) extern const gt_backend gt_backend_##name;
#include "core/backends.def"
#undef GT_BACKEND
const gt_backend *gt_backend_find(const char *name);

#endif
