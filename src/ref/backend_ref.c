/* The reference backend table: binds the plain kernels of src/ref to the backend interface
 * (src/core/backend.h). The memory functions (ref.h) join the table when it gains them. */
#include "ref/kernels.h"
#include "ref/ref.h"

const gt_backend gt_backend_ref = {
    .name = "ref",
    .sgemm = gt_ref_sgemm,
    .conv2d = gt_ref_conv2d,
    .conv2d_input_grad = gt_ref_conv2d_input_grad,
    .conv2d_weight_grad = gt_ref_conv2d_weight_grad,
    .avg_pool2d = gt_ref_avg_pool2d,
    .avg_pool2d_adjoint = gt_ref_avg_pool2d_adjoint,
    .max_pool2d = gt_ref_max_pool2d,
    .upsample2x = gt_ref_upsample2x,
    .sum_pool2x = gt_ref_sum_pool2x,
    .unary = gt_ref_unary,
    .binary = gt_ref_binary,
    .where = gt_ref_where,
    .fill = gt_ref_fill,
    .copy_strided = gt_ref_copy_strided,
    .scatter_strided = gt_ref_scatter_strided,
    .reduce_sum = gt_ref_reduce_sum,
    .reduce_max = gt_ref_reduce_max,
    .channel_sum = gt_ref_channel_sum,
    .batch_norm = gt_ref_batch_norm,
    .batch_norm_affine = gt_ref_batch_norm_affine,
    .batch_norm_backward = gt_ref_batch_norm_backward,
    .leaky_mul = gt_ref_leaky_mul,
    .gather = gt_ref_gather,
    .scatter_add = gt_ref_scatter_add,
    .rand_uniform = gt_ref_rand_uniform,
    .rand_normal = gt_ref_rand_normal,
};
