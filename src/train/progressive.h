/* Progressive growing's schedule (Karras et al. 2018): the resolution, phase and fade-in alpha
 * as a function of the real images D has seen, the batch size at each resolution, and the real
 * images brought to the current resolution and cross-faded like G's output. */
#ifndef GT_TRAIN_PROGRESSIVE_H
#define GT_TRAIN_PROGRESSIVE_H

#include "gantry.h"
#include "io/config.h"

#define GT_GROW_MAX_LEVELS 7  /* 4x4 .. 256x256 */

typedef struct gt_grow_sched {
    int start_level, final_level;          /* level k is resolution 4 * 2^k */
    int64_t stable, fade;                  /* images per stable and per fade-in phase */
    int64_t batch[GT_GROW_MAX_LEVELS];     /* batch size per level */
} gt_grow_sched;

typedef struct gt_grow_state {
    int level, res;
    bool fading;       /* in the fade-in phase of res (alpha < 1) */
    double alpha;      /* the new block's weight: rises linearly from 0 over the fade-in, then 1 */
} gt_grow_state;

/* The schedule of the [progressive] section for data of side final_res; batch is train.batch,
 * mbstd_group D's minibatch std group (0: off). -1 with err naming the key when it is bad. */
int gt_grow_sched_init(gt_grow_sched *s, const gt_config *c, int final_res, int64_t batch,
                       int mbstd_group, gt_error *err);
/* Where the schedule is after `images` real images: the start resolution stable for `stable`
 * images; then for each next resolution, `fade` images of fade-in (alpha = images into the phase
 * / fade) and `stable` images stable; the final resolution stays from then on. */
gt_grow_state gt_grow_at(const gt_grow_sched *s, int64_t images);
/* Real images x [N, C, H, W] at the state's resolution: box-downsampled (gt_downsample2x) from
 * H to res; while fading, (1 - alpha) upsample2x(downsample2x(x_res)) + alpha x_res, the same
 * blend as G's output. */
gt_tensor *gt_grow_reals(gt_tensor *x, gt_grow_state st);

#endif
