/* Private to src/train: the stop for dead training (health.stall_window): every `window` steps,
 * each network's trainable parameters are compared with their copy from `window` steps before;
 * a network none of whose parameters moved by a single bit stops the run. One comparison per
 * window, so the cost per step is a copy and a comparison divided by the window. */
#ifndef GT_TRAIN_STALL_H
#define GT_TRAIN_STALL_H

#include "train/trainer.h"

typedef struct gt_stall_watch {
    int64_t window;            /* 0: off */
    int64_t saved_at;          /* the step of the copies */
    int n;                     /* networks watched: G, D (and D2) */
    gt_tensor *saved[3];       /* their trainables at saved_at (the trainer's arena) */
} gt_stall_watch;

/* Starts watching t's networks from its current step (window 0: a watch that never stops). */
void gt_stall_watch_init(gt_stall_watch *w, gt_trainer *t, int64_t window);
/* After a step: when a window has passed, 1 with a message (and advice) if a network did not
 * change over it; the copies then move to the current step. */
int gt_stall_watch_step(gt_stall_watch *w, gt_trainer *t, char *msg, size_t cap);

#endif
