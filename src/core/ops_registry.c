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
int gt_op_count(void) { return GT_OP_COUNT; }

const char *gt_op_name(int op) {
    GT_CHECK(op >= 0 && op < GT_OP_COUNT, "op %d out of range", op);
    return registry[op].name;
}
