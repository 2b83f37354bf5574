/* Private to src/optim/: the per-algorithm updates that optim.c dispatches to, and the
 * schedule that every one of them reads. Nothing here is used outside src/optim/. */
#ifndef GT_OPTIM_INTERNAL_H
#define GT_OPTIM_INTERNAL_H

#include "optim/optim.h"


/* The lr of update number step (0-based) under cfg's schedule. */
double gt_optim_lr_at_(const gt_optim_cfg *cfg, int64_t step);

/* Fused updates of all trainables with learning rate lr; o->step is the number done before. */
void gt_adam_step_(gt_optim *o, double lr);
void gt_sgd_step_(gt_optim *o, double lr);

/* One trainable in ops: returns the new value and replaces *m (and *v) with the new state.
 * step is the number of updates done before this one. */
gt_tensor *gt_adam_step_graph_(const gt_optim_cfg *cfg, int64_t step, double lr, gt_tensor *p,
                               gt_tensor *g, gt_tensor **m, gt_tensor **v);
gt_tensor *gt_sgd_step_graph_(const gt_optim_cfg *cfg, int64_t step, double lr, gt_tensor *p,
                              gt_tensor *g, gt_tensor **buf);

#endif
