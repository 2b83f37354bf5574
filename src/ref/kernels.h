/* The kernels of the reference backend, shared between the files of src/ref and its table
 * (backend_ref.c). Contracts are those of src/cpu/cpu.h, argument for argument. */
#ifndef GT_REF_KERNELS_H
#define GT_REF_KERNELS_H

#include "cpu/cpu.h"

#include <stdint.h>

/* gemm_conv.c */
void gt_ref_sgemm(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                  int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);
/* sgemm with every operand rounded to bf16 first (gt_ref_bf16), products summed in double. */
void gt_ref_sgemm_bf16(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha,
                       const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                       float *C, int64_t ldc);
/* x rounded to the nearest bf16 (ties to even; NaN and inf kept; overflow to inf). */
float gt_ref_bf16(float x);
void gt_ref_conv2d(const gt_conv_geom *g, float *y, const float *x, const float *w);
void gt_ref_conv2d_input_grad(const gt_conv_geom *g, float *x, const float *y, const float *w);
void gt_ref_conv2d_weight_grad(const gt_conv_geom *g, float *w, const float *x, const float *y);

/* update.c */
void gt_ref_adam_update(float *x, float *m, float *v, const float *g, int64_t n, float b1,
                        float omb1, float b2, float omb2, float wd, float eps, float bc2_sqrt,
                        float neg_step);
void gt_ref_sgd_update(float *x, float *buf, const float *g, int64_t n, float wd, float carry,
                       float neg_lr);
void gt_ref_lerp(float *s, const float *c, int64_t n, float a, float b);

/* pool.c */
void gt_ref_avg_pool2d(const gt_pool_geom *g, float *y, const float *x);
void gt_ref_avg_pool2d_adjoint(const gt_pool_geom *g, float *x, const float *y);
void gt_ref_max_pool2d(const gt_pool_geom *g, float *y, int64_t *idx, const float *x);
void gt_ref_upsample2x(float *y, const float *x, int64_t nc, int64_t h, int64_t w);
void gt_ref_sum_pool2x(float *y, const float *x, int64_t nc, int64_t h, int64_t w);

/* ewise.c */
void gt_ref_unary(gt_unary_op op, float *y, const float *x, int64_t n, float p0, float p1);
void gt_ref_binary(gt_binary_op op, float *y, const float *a, const int64_t *astride,
                   const float *b, const int64_t *bstride, int ndim, const int64_t *shape);
void gt_ref_where(float *y, const float *mask, const float *a, const float *b, int64_t n);
void gt_ref_leaky_mul(float *y, const float *a, const float *ref, int64_t n, float slope);
void gt_ref_fill(float *y, float v, int64_t n);
void gt_ref_to_bf16(uint16_t *y, const float *x, int64_t n);   /* gt_ref_bf16's top 16 bits */
void gt_ref_from_bf16(float *y, const uint16_t *x, int64_t n);
void gt_ref_copy_strided(float *y, const float *x, const int64_t *xstride, int ndim,
                         const int64_t *shape);
void gt_ref_scatter_strided(float *y, const int64_t *ystride, const float *x, int ndim,
                            const int64_t *shape);

/* norm_reduce.c */
void gt_ref_reduce_sum(float *y, const float *x, int64_t outer, int64_t r, int64_t inner);
void gt_ref_reduce_max(float *y, const float *x, int64_t outer, int64_t r, int64_t inner);
void gt_ref_max_share(float *w, const float *x, int64_t outer, int64_t r, int64_t inner);
void gt_ref_gather(float *y, const float *x, const int64_t *idx, int64_t n);
void gt_ref_scatter_add(float *x, const float *y, const int64_t *idx, int64_t n);
void gt_ref_channel_sum(float *y, const float *x, int64_t n, int64_t c, int64_t s);
void gt_ref_batch_norm(float *xhat, float *mean, float *var, float *invstd, const float *x,
                       int64_t n, int64_t c, int64_t s, float eps);
void gt_ref_batch_norm_affine(float *y, float *xhat, float *mean, float *var, float *invstd,
                              const float *x, const float *gamma, const float *beta, int64_t n,
                              int64_t c, int64_t s, float eps);
void gt_ref_batch_norm_backward(float *dx, float *sum_dy, float *sum_dy_xhat, const float *dy,
                                const float *xhat, const float *invstd, int64_t n, int64_t c,
                                int64_t s);

/* rng.c */
void gt_ref_rand_uniform(float *y, int64_t n, uint64_t key, uint64_t counter, float lo, float hi);
void gt_ref_rand_normal(float *y, int64_t n, uint64_t key, uint64_t counter, float mean,
                        float std);

/* memory.c: a zeroed array of n doubles for the scatter-form adjoints (aborts when out of
 * memory, like the CPU kernels' scratch); release with free(). */
double *gt_ref_doubles(int64_t n);

#endif
