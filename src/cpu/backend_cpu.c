/* The CPU backend table: binds the kernel functions of src/cpu to the backend interface
 * that the ops call (src/core/backend.h). */
#include "core/backend.h"

const gt_backend gt_backend_cpu = {
    .name = "cpu",
    .sgemm = gt_cpu_sgemm,
    .conv2d = gt_cpu_conv2d,
    .conv2d_input_grad = gt_cpu_conv2d_input_grad,
    .conv2d_weight_grad = gt_cpu_conv2d_weight_grad,
    .avg_pool2d = gt_cpu_avg_pool2d,
    .avg_pool2d_adjoint = gt_cpu_avg_pool2d_adjoint,
    .max_pool2d = gt_cpu_max_pool2d,
    .upsample2x = gt_cpu_upsample2x,
    .sum_pool2x = gt_cpu_sum_pool2x,
    .unary = gt_cpu_unary,
    .binary = gt_cpu_binary,
    .where = gt_cpu_where,
    .fill = gt_cpu_fill,
    .copy_strided = gt_cpu_copy_strided,
    .scatter_strided = gt_cpu_scatter_strided,
    .reduce_sum = gt_cpu_reduce_sum,
    .reduce_max = gt_cpu_reduce_max,
    .channel_sum = gt_cpu_channel_sum,
    .batch_norm = gt_cpu_batch_norm,
    .batch_norm_affine = gt_cpu_batch_norm_affine,
    .batch_norm_backward = gt_cpu_batch_norm_backward,
    .leaky_mul = gt_cpu_leaky_mul,
    .gather = gt_cpu_gather,
    .scatter_add = gt_cpu_scatter_add,
    .rand_uniform = gt_cpu_rand_uniform,
    .rand_normal = gt_cpu_rand_normal,
};
