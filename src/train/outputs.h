/* What a run writes into its folder: config.ini, metrics.jsonl (one JSON object per logged
 * step), samples/step-NNNNNN.png from a fixed latent batch (and .npy of the points for 2-D
 * data), and checkpoint.safetensors. */
#ifndef GT_TRAIN_OUTPUTS_H
#define GT_TRAIN_OUTPUTS_H

#include "train/tensorboard.h"
#include "train/trainer.h"

/* Creates dir and dir/samples (with parents) and writes dir/config.ini. */
/* mkdir -p dir. */
int gt_run_make_dir(const char *dir, gt_error *err);
int gt_run_prepare_dir(const char *dir, const gt_config *cfg, gt_error *err);
/* v as a JSON number ("%.6g") in buf (32 bytes), or "null" for NaN and infinities (which JSON
 * cannot hold; a line with them would not parse, and TensorBoard logging reads each line). */
const char *gt_run_json_number(char *buf, double v);
/* Appends one JSON object (one line) to dir/metrics.jsonl and, with tb (train.tensorboard; NULL:
 * off), every number in it to the run's TensorBoard events file: both logs get every number. */
int gt_run_append_metrics(const char *dir, gt_tensorboard *tb, const char *line, gt_error *err);
/* Appends one line to dir/metrics.jsonl (and tb): step, losses, gradient norms, mean logits,
 * learning rates, steps per second (rate) and elapsed seconds. */
int gt_run_log_metrics(const gt_trainer *t, const char *dir, gt_tensorboard *tb,
                       const gt_step_stats *st, double rate, double elapsed, gt_error *err);
/* Reconciles dir/metrics.jsonl with a checkpoint of `step` being resumed, so that the resumed
 * run's log reads as an uninterrupted run's: the lines past that step (logged after the
 * checkpoint by the run that stopped, which the resumed run logs again) and the lines that are
 * not a complete record (a kill in mid-line) move to dir/metrics-dropped.jsonl (appended); the
 * rest is rewritten atomically. *moved gets how many lines moved (0: the file is untouched). */
#define GT_RUN_METRICS_DROPPED "metrics-dropped.jsonl"
int gt_run_reconcile_metrics(const char *dir, int64_t step, int *moved, gt_error *err);
/* Appends {"step": N, "<kind>": "<message>"} to dir/metrics.jsonl (kind: warning, error). */
int gt_run_log_event(const char *dir, int64_t step, const char *kind, const char *msg,
                     gt_error *err);
/* dir/samples/step-NNNNNN.png: a grid of train.sample_n images (or, for 2-D data, a thumbnail
 * scatter of at least 1,000 points beside the points themselves in step-NNNNNN.npy, [n, 2]
 * float32, which the report plots) from G's EMA, always from the same latents; with tb (NULL:
 * off) also an image in the run's TensorBoard events file. */
int gt_run_write_samples(gt_trainer *t, const char *dir, gt_tensorboard *tb, gt_error *err);
/* dir/checkpoint.safetensors, atomically (an earlier checkpoint survives any failure). */
int gt_run_checkpoint(const gt_trainer *t, const char *dir, gt_error *err);
/* dir/last-good.safetensors, atomically: the state at the start of a step that diverged, kept
 * beside the last periodic checkpoint (never over it); resumable with --resume dir --from it. */
#define GT_RUN_LAST_GOOD "last-good.safetensors"
int gt_run_save_last_good(const gt_trainer *t, const char *dir, gt_error *err);

#endif
