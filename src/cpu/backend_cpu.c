/* The CPU backend table: binds the kernel functions of src/cpu to the backend interface
 * that the ops call (src/core/backend.h). Memory is host memory, 64-byte aligned. */
#include <stdlib.h>
#include <string.h>

#include "core/backend.h"

static void *cpu_alloc(size_t bytes) {
    return aligned_alloc(64, bytes ? (bytes + 63) / 64 * 64 : 64);
}
static void cpu_free(void *p) { free(p); }
static void cpu_copy(void *dst, const void *src, size_t bytes) {
    if (bytes) memmove(dst, src, bytes);
}
static bool cpu_bf16_native(void) { return gt_cpu_bf16_native() != 0; }
static void *cpu_workspace_new(void) { return gt_cpu_ws_new(); }
static void cpu_workspace_free(void *ws) { gt_cpu_ws_free(ws); }

static void cpu_sgemm(void *ws, int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha,
                      const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                      float *C, int64_t ldc) {
    gt_cpu_sgemm_ws(ws, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
static void cpu_sgemm_bf16(void *ws, int ta, int tb, int64_t M, int64_t N, int64_t K,
                           float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                           float beta, float *C, int64_t ldc) {
    gt_cpu_sgemm_bf16_ws(ws, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
static void cpu_conv2d(void *ws, const gt_conv_geom *g, float *y, const float *x,
                       const float *w) {
    gt_cpu_conv2d_ws(ws, g, y, x, w);
}
static void cpu_conv2d_input_grad(void *ws, const gt_conv_geom *g, float *x, const float *y,
                                  const float *w) {
    gt_cpu_conv2d_input_grad_ws(ws, g, x, y, w);
}
static void cpu_conv2d_weight_grad(void *ws, const gt_conv_geom *g, float *w, const float *x,
                                   const float *y) {
    gt_cpu_conv2d_weight_grad_ws(ws, g, w, x, y);
}

const gt_backend gt_backend_cpu = {
    .name = "cpu",
    .host_addressable = true,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_copy,
    .download = cpu_copy,
    .copy = cpu_copy,
    .bf16_native = cpu_bf16_native,
    .workspace_new = cpu_workspace_new,
    .workspace_free = cpu_workspace_free,
    .sgemm = cpu_sgemm,
    .sgemm_bf16 = cpu_sgemm_bf16,
    .conv2d = cpu_conv2d,
    .conv2d_input_grad = cpu_conv2d_input_grad,
    .conv2d_weight_grad = cpu_conv2d_weight_grad,
    .avg_pool2d = gt_cpu_avg_pool2d,
    .avg_pool2d_adjoint = gt_cpu_avg_pool2d_adjoint,
    .max_pool2d = gt_cpu_max_pool2d,
    .upsample2x = gt_cpu_upsample2x,
    .sum_pool2x = gt_cpu_sum_pool2x,
    .unary = gt_cpu_unary,
    .binary = gt_cpu_binary,
    .where = gt_cpu_where,
    .fill = gt_cpu_fill,
    .to_bf16 = gt_cpu_to_bf16,
    .from_bf16 = gt_cpu_from_bf16,
    .copy_strided = gt_cpu_copy_strided,
    .scatter_strided = gt_cpu_scatter_strided,
    .reduce_sum = gt_cpu_reduce_sum,
    .reduce_max = gt_cpu_reduce_max,
    .max_share = gt_cpu_max_share,
    .channel_sum = gt_cpu_channel_sum,
    .batch_norm = gt_cpu_batch_norm,
    .batch_norm_affine = gt_cpu_batch_norm_affine,
    .batch_norm_backward = gt_cpu_batch_norm_backward,
    .leaky_mul = gt_cpu_leaky_mul,
    .gather = gt_cpu_gather,
    .scatter_add = gt_cpu_scatter_add,
    .rand_uniform = gt_cpu_rand_uniform,
    .rand_normal = gt_cpu_rand_normal,
    .adam_update = gt_cpu_adam_update,
    .sgd_update = gt_cpu_sgd_update,
    .lerp = gt_cpu_lerp,
};
