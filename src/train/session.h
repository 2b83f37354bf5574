/* One training run from start (or its checkpoint) to its end, as a library call: what
 * `gantry train` does and what each run of an ablation does. The run folder gets config.ini,
 * metrics.jsonl, sample grids, evaluations, report.html and the checkpoint; progress, warnings
 * and the closing line go to a stream the caller chooses. */
#ifndef GT_TRAIN_SESSION_H
#define GT_TRAIN_SESSION_H

#include <signal.h>
#include <stdio.h>

#include "gan/gan.h"
#include "io/config.h"

typedef struct gt_train_request {
    const char *dir;          /* the run folder */
    const gt_config *cfg;     /* resolved: the file's or the checkpoint's keys, then overrides */
    bool resume;              /* continue dir/checkpoint.safetensors (else it must not exist) */
    const char *resume_from;  /* with resume: continue this checkpoint instead (a diverged run's
                                 dir/last-good.safetensors); NULL: dir/checkpoint.safetensors */
    bool quiet;               /* no progress line */
    bool profile;             /* time per op kind, printed to log at the end */
    FILE *log;                /* progress, warnings, the closing line (stderr for the CLI) */
    const volatile sig_atomic_t *stop; /* non-zero: save a checkpoint and return (NULL: never) */
    /* Data-parallel ranks (gan.h; NULL: one process). Every rank trains its shard of each
     * batch and holds the same state; rank 0 alone writes the run folder (metrics, samples,
     * evaluations, checkpoints, report) and the progress line. The ranks must be given the
     * same configuration (checked at start), and decide together when to stop. */
    const gt_comm *comm;
} gt_train_request;

typedef struct gt_train_outcome {
    long long steps;          /* G steps completed, in all sessions of the run */
    bool finished;            /* reached train.steps or train.max_minutes (not stopped) */
} gt_train_outcome;

/* Trains until train.steps, the time budget or *stop, writing the run folder as it goes and a
 * final checkpoint, samples and report. -1 with err set when the run cannot start (a bad
 * configuration or checkpoint, a folder that already holds a run) or stops on an output
 * error (a checkpoint of the state reached is still written) or a diverged step (a loss,
 * gradient, parameter or optimizer state turned NaN or infinite: the state at the start of
 * that step goes to dir/last-good.safetensors, and the last periodic checkpoint stays). */
int gt_train_run(const gt_train_request *req, gt_train_outcome *out, gt_error *err);

#endif
