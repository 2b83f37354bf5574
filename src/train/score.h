/* Scoring a checkpoint's generator (what `gantry eval --ckpt` and each run of an ablation do):
 * samples drawn from G (its EMA when present) and scored by protocols.md, as a struct. */
#ifndef GT_TRAIN_SCORE_H
#define GT_TRAIN_SCORE_H

#include "eval/evaluate.h"

typedef struct gt_score_request {
    long long n;              /* samples; <= 0: the protocol's (10,000 images, 2,500 points,
                               * 26,000 stacked images) */
    long long seed;           /* of the latent draws */
    const char *model, *ref;  /* NULL: the run's own (train.eval_model, the digits network and
                               * data.path for MNIST-format digits, else the defaults) */
    gt_mode_metric mode_metric; /* 2-D points; PacGAN's takes its fixed latents (evaluate.h),
                                 * whatever seed says */
    const gt_orientation_cfg *orientation; /* images: the orientation check too (NULL: no) */
} gt_score_request;

#define GT_SCORE_DEFAULT_REF "/usr/share/datasets/fashion-mnist"

int gt_score_checkpoint(const char *ckpt, const gt_score_request *req, gt_eval_result *out,
                        gt_error *err);

#endif
