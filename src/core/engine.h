/* What the layers above core (nn, optim, gan, train, eval, data, io) may use beyond the public
 * header: programmer-error checks, host scratch for one step, views into another tensor's
 * storage, and the fused in-place updates of optimizers and EMA. None of it exposes a tensor's
 * memory: the layers above read and write tensors only through ops and the copy functions of
 * gantry.h (gt_copy_to, gt_copy_from, gt_assign), so every backend's memory works for them. */
#ifndef GT_ENGINE_H
#define GT_ENGINE_H

#include <stdio.h>
#include <stdlib.h>

#include "gantry.h"

/* Programmer errors: print file:line and abort (the library never calls exit()). */
#define GT_CHECK(cond, ...)                                                          \
    do {                                                                             \
        if (!(cond)) gt_fail_(__FILE__, __LINE__, __VA_ARGS__);                      \
    } while (0)
_Noreturn void gt_fail_(const char *file, int line, const char *fmt, ...);

/* Host memory (64-byte aligned) that lives until gt_step_end: index arrays, pointer tables. */
void *gt_step_alloc_(size_t bytes);
int64_t gt_shape_numel_(int ndim, const int64_t *shape);

/* relu (slope 0) or leaky relu (slope > 0) of x, written over x's memory when x is the fresh
 * output of an op whose backward reads no output values (matmul, convolution, an add, batch
 * norm), else as gt_leaky_relu. For a network's own layers, where x is a temporary that nothing
 * reads afterwards: the step then keeps one activation buffer instead of two. x must not be read
 * again. */
gt_tensor *gt_leaky_relu_over_(gt_tensor *x, float slope);
/* The network's forward will not read x again (its consumer has run). Then, where that saves
 * memory: in a forward without grad, x's memory goes back to the step arena; under
 * train.precision = bf16, x is kept for the backward as bf16 (half the bytes) and widened back
 * for the rules that read it (autograd.c). Otherwise nothing happens. For a network's own
 * activations only, never its input or anything it returns; x and every view of it must not be
 * read again in this forward. */
void gt_forward_done_(gt_tensor *x);

/* A tensor header in arena a (without grad) viewing ndim/shape contiguous elements of base's
 * storage from element offset on; base must be contiguous and hold them. */
gt_tensor *gt_view_in(gt_arena *a, gt_tensor *base, int64_t offset, int ndim,
                      const int64_t *shape);

/* Host SGEMM for matrices that are not tensors (the metrics' feature matrices): C[M,N] =
 * alpha op(A) op(B) + beta C on host arrays, as cpu.h's sgemm. */
void gt_host_sgemm(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                   int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

/* ---- Fused in-place updates (not recorded; all tensors contiguous, same numel) ----------- */
/* Adam, PyTorch's float32 order: g' = g + wd x; m = b1 m + omb1 g'; v = b2 v + omb2 g'^2;
 * x = x + neg_step m / (sqrt(v) / bc2_sqrt + eps). */
typedef struct gt_adam_coef {
    float b1, omb1, b2, omb2, wd, eps;
    float bc2_sqrt; /* sqrt(1 - b2^t) */
    float neg_step; /* -lr / (1 - b1^t) */
} gt_adam_coef;
void gt_adam_update_(gt_tensor *x, gt_tensor *m, gt_tensor *v, const gt_tensor *g,
                     const gt_adam_coef *k);
/* SGD with momentum: g' = g + wd x; buf = carry buf + g'; x = x + neg_lr buf. */
typedef struct gt_sgd_coef {
    float wd, carry, neg_lr;
} gt_sgd_coef;
void gt_sgd_update_(gt_tensor *x, gt_tensor *buf, const gt_tensor *g, const gt_sgd_coef *k);
/* s = a s + b c (the EMA's blend). */
void gt_lerp_(gt_tensor *s, const gt_tensor *c, float a, float b);
/* Whether every element of x (contiguous) is finite: one pass summing x (a sum that holds an
 * infinity or a NaN is never finite), and a second, exact one only when that sum is not finite
 * (finite values whose sum overflows). The health check of parameters and optimizer state. */
bool gt_all_finite_(const gt_tensor *x);

#endif
