/* Private to src/train: the lock of a run folder, dir/lock, so that two processes never train
 * in one folder (their metrics would interleave and their checkpoints overwrite each other). The
 * holder keeps an advisory lock (flock) on the file, which the kernel drops when the process
 * ends however it ends, and writes its process id into it for the message that refuses a second
 * run; a released lock is an empty file. A file that names a process but is not locked was left
 * by a run that died: it is taken over, with a notice. */
#ifndef GT_TRAIN_RUN_LOCK_H
#define GT_TRAIN_RUN_LOCK_H

#include <stdio.h>

#include "gantry.h"

typedef struct gt_run_lock {
    int fd;   /* -1: not held */
} gt_run_lock;

/* Takes dir/lock (dir must exist); a notice goes to log when a dead run's lock is taken over.
 * -1 with err naming the holder's process id when another process holds it. */
int gt_run_lock_take(gt_run_lock *l, const char *dir, FILE *log, gt_error *err);
/* Empties and releases the lock (nothing when not held). */
void gt_run_lock_release(gt_run_lock *l);

#endif
