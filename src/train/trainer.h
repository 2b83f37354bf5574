/* The trainer: everything one GAN run holds (data, both networks, optimizers, EMA, random
 * generators, the step), built from a configuration, stepped, sampled, and saved to or
 * restored from a checkpoint so that a resumed run continues bit for bit. */
#ifndef GT_TRAIN_TRAINER_H
#define GT_TRAIN_TRAINER_H

#include "data/data.h"
#include "gan/gan.h"
#include "io/config.h"
#include "train/monitor.h"
#include "train/progressive.h"

typedef struct gt_step_snapshot gt_step_snapshot;

typedef struct gt_trainer {
    gt_config cfg;
    gt_arena *arena;          /* both networks, optimizer state, EMA */
    gt_model g, d, d2;        /* d2: the second discriminator, when has_d2 */
    gt_optim opt_g, opt_d, opt_d2;
    bool has_d2;
    gt_ema ema;
    bool has_ema;
    gt_gan gan;
    gt_dataset *data;         /* NULL when built without data (data.limit: the subset) */
    gt_dataset *holdout;      /* data.holdout's examples, never trained on (NULL: none) */
    gt_overfit overfit;       /* the overfitting monitor's last reading (monitor.h) */
    gt_loader *loader;
    int c, h, w;              /* one example's shape */
    gt_rng rng;               /* latent draws during training */
    int64_t step;             /* completed generator steps */
    float *real;              /* [batch, c, h, w] staging for a real batch */
    struct gt_step_snapshot *snapshot; /* the state before the current step (train/snapshot.h) */
    const char *diverged_what; /* after a failed step: what turned non-finite ("G's loss or gradient") */
    char warnings[1024];      /* advice on the configuration, one per line ("" when none) */
    /* Progressive growing (G and D of the progressive family): the schedule, the real images
     * D has seen (its clock, checkpointed) and the level the optimizers were last reset at. */
    bool progressive;
    gt_grow_sched grow;
    int64_t images;
    int grow_level;
    /* A style-based G (stylegan2): its noise inputs and style mixing draw from style_rng
     * (checkpointed; set as G's with gt_model_set_style_rng). */
    bool style;
    gt_rng style_rng;
    /* Class-conditional training (train.conditional): n_classes classes; real batches carry
     * the loader's labels, fakes take labels drawn uniformly from the latent stream (rng),
     * right after their z. Both go to the GAN (gan.real_labels, gan.fake_labels) per step. */
    bool conditional;
    int n_classes;
    int32_t *real_labels;     /* [batch] staging for the loader's labels */
} gt_trainer;

/* Builds the run described by cfg (fresh weights from train.seed). With load_data the
 * training data is loaded and batched; without it (sampling, inspection) only the networks
 * are built, for the example shape the configuration implies. */
int gt_trainer_init(gt_trainer *t, const gt_config *cfg, bool load_data, gt_error *err);
/* Whether the run's updates split into `shards` shards (accumulation, data-parallel ranks;
 * `what` names them in the message): equal shards of at least 2 examples, path length's latents
 * too, and no update that needs the whole batch (unrolled critics, progressive growing). */
int gt_trainer_check_shards(const gt_trainer *t, int shards, const char *what, gt_error *err);
/* The example shape [c, h, w] a configuration's data has (points: 2, 1, 1). */
void gt_config_example_shape(const gt_config *cfg, int *c, int *h, int *w);
/* train.d_steps D updates then one G update (and the EMA); st gets the last values. Returns
 * false when a loss or gradient turned NaN or infinite, or an update left a parameter, buffer
 * or optimizer moment non-finite (t->diverged_what says which): the step is undone, so the
 * trainer holds exactly the state at its start (weights, buffers, moments, random streams,
 * loader position), which a checkpoint then repeats bit for bit. */
bool gt_trainer_step(gt_trainer *t, gt_step_stats *st);
/* n samples from G (the EMA copy when there is one) in evaluation mode, from latents drawn
 * with `seed`: out [n, c, h, w] (images) or [n, 2] (points). While growing progressively, G
 * runs at the schedule's current resolution and alpha and its images are upsampled (nearest)
 * to the data's h x w, so grids and metrics keep one shape and show the current pixels. */
void gt_trainer_sample(gt_trainer *t, int64_t n, uint64_t seed, float *out);
/* The same with class labels [n] for a conditional G (NULL: sample i gets class i mod
 * n_classes, balanced); labels must be NULL for an unconditional one. */
void gt_trainer_sample_classes(gt_trainer *t, int64_t n, uint64_t seed, const int32_t *labels,
                               float *out);
/* The same on given latents z [n, z_dim] (row-major), for comparisons with other runtimes. */
void gt_trainer_sample_latents(gt_trainer *t, int64_t n, const float *z, const int32_t *labels,
                               float *out);
/* The table G samples from (its EMA copy when there is one), with a progressive G set to the
 * schedule's current resolution and alpha: what an exporter reads. */
const gt_params *gt_trainer_sampling_params(gt_trainer *t);
/* Whether gt_trainer_sample's samples are drawn for the metrics classifier's classes: a
 * conditional G of 10 classes trained on Fashion-MNIST or MNIST-format digits (sample i is then
 * of class i mod 10). */
bool gt_trainer_draws_classifier_classes(const gt_trainer *t);
/* The data's shape per example: c, h, w (points: 2, 1, 1). */
int64_t gt_trainer_example_size(const gt_trainer *t);
void gt_trainer_free(gt_trainer *t);

/* Checkpoints (checkpoint.c): the full state in safetensors, written atomically. */
int gt_trainer_save(const gt_trainer *t, const char *path, gt_error *err);
/* Reads the configuration stored in a checkpoint (to build the trainer it restores into). */
int gt_checkpoint_config(const char *path, gt_config *cfg, gt_error *err);
/* Restores the state into a trainer built from a compatible configuration; every tensor's
 * presence and shape is checked, and a mismatch names the tensor and both shapes. */
int gt_trainer_restore(gt_trainer *t, const char *path, gt_error *err);

/* A stream of the run's seed: init, latents, data order and fixed samples each get their own. */
uint64_t gt_seed_stream(uint64_t seed, uint64_t stream);
enum { GT_STREAM_INIT = 1, GT_STREAM_LATENT = 2, GT_STREAM_DATA = 3, GT_STREAM_SAMPLES = 4,
       GT_STREAM_TRICKS = 5 /* targets, instance noise, penalty draws */,
       GT_STREAM_STYLE = 6 /* a style-based G's noise inputs and style mixing */ };

/* Style-based G (src/train/style.c): a k x k grid [k * k, c, h, w] from k latents drawn with
 * seed, evaluation mode, G's EMA when there is one; cell (i, j) takes w_i's styles for the first
 * `cutoff` style layers (coarse) and w_j's for the rest (fine); the diagonal is w_i's image.
 * -1 with err set when G has no style layers or cutoff is outside 0 .. num_ws. */
int gt_trainer_style_mix(gt_trainer *t, int k, uint64_t seed, int cutoff, float *out, gt_error *err);

#endif
