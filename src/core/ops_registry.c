/* The op registry, built from the single list in ops.def: names and backward rules. */
#include "core/internal.h"

static const struct {
    const char *name;
    int arity;
    gt_backward_fn backward;
} registry[GT_OP_COUNT] = {
#define GT_OP(id, nm, ar, bw) [GT_OP_##id] = {nm, ar, bw},
#include "core/ops.def"
#undef GT_OP
};

gt_backward_fn gt_op_backward_(gt_op_id op) { return registry[op].backward; }

/* add and sub pass dy on, reduced to each input's shape. */
bool gt_op_reads_input_values_(gt_op_id op) { return op != GT_OP_ADD && op != GT_OP_SUB; }

/* batch_norm_affine's first-order rule works from its saved xhat and invstd; it rebuilds them
 * from its input only when the walk records itself. */
bool gt_op_first_order_reads_input_values_(gt_op_id op) {
    return op != GT_OP_BATCH_NORM_AFFINE && gt_op_reads_input_values_(op);
}

/* These rules read their inputs or what they saved, never their output. */
bool gt_op_reads_output_values_(gt_op_id op) {
    switch (op) {
    case GT_OP_ADD:
    case GT_OP_MATMUL:
    case GT_OP_CONV2D:
    case GT_OP_CONV_TRANSPOSE2D:
    case GT_OP_BATCH_NORM_AFFINE: return false;
    default: return true;
    }
}
int gt_op_count(void) { return GT_OP_COUNT; }

const char *gt_op_name(int op) {
    GT_CHECK(op >= 0 && op < GT_OP_COUNT, "op %d out of range", op);
    return registry[op].name;
}
