/* The reference backend table: binds the plain kernels and memory functions of src/ref to the
 * backend interface (src/core/backend.h). Ref keeps no workspace, so the workspace argument of
 * sgemm and the convolutions is ignored. */
#include "ref/kernels.h"
#include "ref/ref.h"

/* ref's bf16 is its plain loops over rounded operands: never a native path. */
static bool ref_bf16_native(void) { return false; }
static void ref_sgemm(void *ws, int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha,
                      const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                      float *C, int64_t ldc) {
    (void)ws;
    gt_ref_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
static void ref_sgemm_bf16(void *ws, int ta, int tb, int64_t M, int64_t N, int64_t K,
                           float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                           float beta, float *C, int64_t ldc) {
    (void)ws;
    gt_ref_sgemm_bf16(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
static void ref_conv2d(void *ws, const gt_conv_geom *g, float *y, const float *x,
                       const float *w) {
    (void)ws;
    gt_ref_conv2d(g, y, x, w);
}
static void ref_conv2d_input_grad(void *ws, const gt_conv_geom *g, float *x, const float *y,
                                  const float *w) {
    (void)ws;
    gt_ref_conv2d_input_grad(g, x, y, w);
}
static void ref_conv2d_weight_grad(void *ws, const gt_conv_geom *g, float *w, const float *x,
                                   const float *y) {
    (void)ws;
    gt_ref_conv2d_weight_grad(g, w, x, y);
}

const gt_backend gt_backend_ref = {
    .name = "ref",
    .host_addressable = true,
    .alloc = gt_ref_alloc,
    .free = gt_ref_free,
    .upload = gt_ref_upload,
    .download = gt_ref_download,
    .copy = gt_ref_copy,
    .workspace_new = NULL,
    .workspace_free = NULL,
    .bf16_native = ref_bf16_native,
    .sgemm = ref_sgemm,
    .sgemm_bf16 = ref_sgemm_bf16,
    .conv2d = ref_conv2d,
    .conv2d_input_grad = ref_conv2d_input_grad,
    .conv2d_weight_grad = ref_conv2d_weight_grad,
    .avg_pool2d = gt_ref_avg_pool2d,
    .avg_pool2d_adjoint = gt_ref_avg_pool2d_adjoint,
    .max_pool2d = gt_ref_max_pool2d,
    .upsample2x = gt_ref_upsample2x,
    .sum_pool2x = gt_ref_sum_pool2x,
    .unary = gt_ref_unary,
    .binary = gt_ref_binary,
    .where = gt_ref_where,
    .fill = gt_ref_fill,
    .to_bf16 = gt_ref_to_bf16,
    .from_bf16 = gt_ref_from_bf16,
    .copy_strided = gt_ref_copy_strided,
    .scatter_strided = gt_ref_scatter_strided,
    .reduce_sum = gt_ref_reduce_sum,
    .reduce_max = gt_ref_reduce_max,
    .max_share = gt_ref_max_share,
    .channel_sum = gt_ref_channel_sum,
    .batch_norm = gt_ref_batch_norm,
    .batch_norm_affine = gt_ref_batch_norm_affine,
    .batch_norm_backward = gt_ref_batch_norm_backward,
    .leaky_mul = gt_ref_leaky_mul,
    .gather = gt_ref_gather,
    .scatter_add = gt_ref_scatter_add,
    .rand_uniform = gt_ref_rand_uniform,
    .rand_normal = gt_ref_rand_normal,
    .adam_update = gt_ref_adam_update,
    .sgd_update = gt_ref_sgd_update,
    .lerp = gt_ref_lerp,
};
