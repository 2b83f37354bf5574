/* Evaluation during training: every train.eval_every steps, train.eval_n samples from G's EMA
 * are scored (Fashion-MNIST: FID, KID, precision/recall, class coverage on the shipped
 * classifier; ring and grid: the mode metrics on 2,500 points; stacked Fashion-MNIST: the class
 * triples of 26,000 samples) and appended to metrics.jsonl as one line
 * {"step": N, "eval_n": n, ...}. Other data (PNG folders, MNIST digits) has no feature network
 * yet, so evaluation is off for them. */
#ifndef GT_TRAIN_EVALUATOR_H
#define GT_TRAIN_EVALUATOR_H

#include "eval/evaluate.h"
#include "train/tensorboard.h"
#include "train/trainer.h"

typedef struct gt_run_eval {
    bool enabled;
    bool points;            /* mixtures: mode metrics */
    bool stacked;           /* stacked Fashion-MNIST: modes of class triples */
    int64_t protocol_n;     /* the dataset's protocol sample count (0: train.eval_n) */
    gt_classifier *cls;     /* images: the feature network */
    gt_dataset *ref;        /* images: the test split */
    char note[sizeof(gt_error)]; /* why evaluation is off, when it is */
} gt_run_eval;

/* Prepares evaluation for a run; loads the classifier and the reference images when needed.
 * Missing weights or reference data turn evaluation off with a note (not an error). */
void gt_run_eval_init(gt_run_eval *e, const gt_config *cfg);
/* Scores the trainer's G now and appends the line to dir/metrics.jsonl (and tb, when not NULL). */
int gt_run_eval_step(gt_run_eval *e, gt_trainer *t, const char *dir, gt_tensorboard *tb,
                     gt_error *err);
void gt_run_eval_free(gt_run_eval *e);

#endif
