/* TensorBoard logging of a run (train.tensorboard = true): every number of each metrics.jsonl
 * line as a scalar at the line's step, and each sample grid as an image, in a new events file
 * RUNDIR/tb/events.out.tfevents.<unix time>.<host> per session (a resumed run adds a file and
 * never rewrites an old one). View with: tensorboard --logdir RUNDIR/tb.
 *
 * A scalar's tag is its metrics.jsonl name under a group (gt_tensorboard_tag): every number of
 * an evaluation line (one holding eval_n) under eval/; *_grad_norm under grad/; *_loss and the
 * penalties (*penalty) under loss/; D's mean outputs and accuracies (d_real, d_fake,
 * d_acc_real, d_acc_fake) under d/; learning rates, speed and time (lr_g, lr_d, steps_per_s,
 * images_per_s, elapsed_s) under run/; everything else (the tricks' own values: noise_sigma,
 * pl_mean, augment_p, ada_rt, the overfitting monitor, resolution, alpha, images) under trick/.
 * JSON nulls (NaN, infinities) and strings (warnings) have no scalar. */
#ifndef GT_TRAIN_TENSORBOARD_H
#define GT_TRAIN_TENSORBOARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gantry.h"

#define GT_TENSORBOARD_DIR "tb"
#define GT_TENSORBOARD_SAMPLES_TAG "samples"

typedef struct gt_tensorboard gt_tensorboard;

/* Creates run_dir/tb if needed and a new events file in it; NULL with err naming the path. */
gt_tensorboard *gt_tensorboard_open(const char *run_dir, gt_error *err);
/* Every number of one metrics.jsonl line (a JSON object with "step") as a scalar at that step,
 * in one event, written and on disk (in the kernel's hands) when the call returns. */
int gt_tensorboard_log_metrics(gt_tensorboard *tb, const char *json_line, gt_error *err);
/* The PNG file at png_path (a sample grid) as the image GT_TENSORBOARD_SAMPLES_TAG at step; a
 * grid written again at the step just logged (the final grid of a run) is not logged twice. */
int gt_tensorboard_log_png(gt_tensorboard *tb, int64_t step, const char *png_path, gt_error *err);
void gt_tensorboard_close(gt_tensorboard *tb);
/* "group/name" for the metric `name` (see above) into buf; evaluation: the line holds eval_n. */
const char *gt_tensorboard_tag(const char *name, bool evaluation, char *buf, size_t cap);

#endif
