/* Private to src/train: the state a training step changes, copied before the step and put back
 * when it fails, so that a stopped run holds (and writes) exactly the state at the start of the
 * failing step: every network's parameters and buffers, the optimizers' moments and counts,
 * every random stream, the loader's position, path length's running mean and the growth level. */
#ifndef GT_TRAIN_SNAPSHOT_H
#define GT_TRAIN_SNAPSHOT_H

#include "train/trainer.h"

/* Room for the trainer's state in its model arena (after its networks and optimizers exist). */
gt_step_snapshot *gt_step_snapshot_new(gt_trainer *t);
void gt_step_snapshot_free(gt_step_snapshot *s);
void gt_step_snapshot_take(gt_step_snapshot *s, gt_trainer *t);
void gt_step_snapshot_restore(const gt_step_snapshot *s, gt_trainer *t);

/* The first of the trainer's parameters, buffers and optimizer moments that holds a NaN or an
 * infinity, named for a message ("G's parameters", "D's Adam v"); NULL when all are finite. */
const char *gt_trainer_nonfinite_state(gt_trainer *t);

#endif
