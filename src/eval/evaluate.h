/* Scoring generated samples by protocols.md: images through the shipped classifier's features
 * against the Fashion-MNIST test split (FID, KID, precision/recall, class coverage); 2-D points
 * against the mixture's modes (modes covered, percent high quality, reverse KL). */
#ifndef GT_EVAL_EVALUATE_H
#define GT_EVAL_EVALUATE_H

#include "data/data.h"
#include "eval/classifier.h"
#include "eval/orientation.h"

typedef struct gt_image_scores {
    int64_t n, n_ref;          /* samples scored; reference images */
    double fid;                /* classifier-feature FID (means and covariances in double) */
    double kid, kid_stderr;    /* cubic-kernel KID, 100 subsets of 1,000 */
    double precision, recall;  /* Kynkaanniemi et al. 2019, k = 3 */
    int classes_covered;       /* of 10, by the classifier's predicted class */
    double class_kl;           /* KL of the predicted-class histogram to uniform */
} gt_image_scores;

/* x [n, 1, 28, 28] in [-1, 1]; ref: labelled 28x28 gray images (the test split). */
int gt_eval_images(gt_classifier *c, const gt_dataset *ref, const float *x, int64_t n,
                   gt_image_scores *out, gt_error *err);

/* A class-conditional G's samples against the classes they were drawn for (classifier classes
 * 0 .. 9): the share the classifier puts in the requested class, overall and per class
 * (NaN for a class with no sample). */
typedef struct gt_class_agreement {
    int64_t n;
    double accuracy;
    double per_class[10];
} gt_class_agreement;

/* x [n, 1, 28, 28] in [-1, 1]; requested [n], each in 0 .. 9, or NULL for class i mod 10 (the
 * classes gt_trainer_sample draws a conditional G's samples for). */
int gt_eval_class_agreement(gt_classifier *c, const float *x, const int32_t *requested, int64_t n,
                            gt_class_agreement *out, gt_error *err);

typedef struct gt_stacked_scores {
    int64_t n;
    int modes_covered;      /* of 1,000 class triples */
    double kl;              /* KL of the triple histogram to uniform */
} gt_stacked_scores;

/* Stacked Fashion-MNIST (protocol: 26,000 samples): x [n, 3, 28, 28], each channel classified
 * by the shipped classifier. gt_eval_samples also scores the first GT_EVAL_CHANNEL_IMAGES of
 * the channels as Fashion-MNIST images (FID, KID, precision and recall: channel_* in the JSON),
 * as many as eval's default samples so that their FID reads like a Fashion-MNIST FID. */
#define GT_EVAL_CHANNEL_IMAGES 10000
int gt_eval_stacked(gt_classifier *c, const float *x, int64_t n, gt_stacked_scores *out,
                    gt_error *err);

/* Which definition scores 2-D samples: gantry's (protocols.md: nearest centre, within 3 sigma
 * inclusive; gt_mode_metrics) or PacGAN's (Lin et al. 2018: nearest in units of each mode's
 * std, below 3 std; gt_mode_metrics_pacgan; from a checkpoint, the 2,500 samples come from a
 * fixed set of latents, seed GT_PACGAN_LATENT_SEED, the same for every run and step). */
typedef enum { GT_MODE_METRIC_GANTRY, GT_MODE_METRIC_PACGAN } gt_mode_metric;
#define GT_PACGAN_LATENT_SEED 2333   /* the seed of the fixed latents in PacGAN's code */
#define GT_PACGAN_EVAL_SAMPLES 2500
const char *gt_mode_metric_name(gt_mode_metric m);            /* "gantry" | "pacgan" */
int gt_mode_metric_parse(const char *name, gt_mode_metric *out); /* -1 if unknown */

typedef struct gt_mode_scores {
    int64_t n;
    int modes_covered, n_modes;
    double pct_high_quality, reverse_kl;
    float sigma;
    gt_mode_metric metric;    /* the definition that gave them */
} gt_mode_scores;

/* A mixture's modes as the scores see them: centres [n, 2] and their common std (also per
 * mode in sigmas, as gt_mode_metrics_pacgan takes it). */
#define GT_MIXTURE_MAX_MODES 25
typedef struct gt_mixture_modes {
    int n;
    float centres[2 * GT_MIXTURE_MAX_MODES];
    float sigmas[GT_MIXTURE_MAX_MODES];
    float sigma;
} gt_mixture_modes;

/* The "ring" or "grid" mixture of protocols.md (default radius and sigma); -1 with err naming
 * the kind when it is neither. */
int gt_eval_mixture_modes(const char *kind, gt_mixture_modes *out, gt_error *err);
/* Each point's verdict by PacGAN's definition (the one of GT_MODE_METRIC_PACGAN): mode[i] is
 * the mode point i falls to when it is high quality, -1 otherwise. pts [n, 2], mode [n]. */
void gt_eval_points_modes(const gt_mixture_modes *mm, const float *pts, int64_t n,
                          int32_t *mode);

/* pts [n, 2] against the "ring" or "grid" mixture of protocols.md (default radius and sigma),
 * by gantry's definition. */
int gt_eval_points(const char *kind, const float *pts, int64_t n, gt_mode_scores *out, gt_error *err);
/* The same by the given definition. */
int gt_eval_points_by(const char *kind, gt_mode_metric metric, const float *pts, int64_t n,
                      gt_mode_scores *out, gt_error *err);

/* Samples of IDX data padded to side x side (data.resolution = 32): their centre 28x28, in place,
 * which is what the metrics' classifier reads. x [n, c, side, side] becomes [n, c, 28, 28]. */
void gt_eval_crop_padded(float *x, int64_t n, int c, int side);

/* ---- one evaluation as a struct (src/eval/result.c): what `gantry eval` prints and what an
 * ablation's runs report to the table ---- */

typedef enum { GT_EVAL_IMAGES, GT_EVAL_STACKED, GT_EVAL_POINTS } gt_eval_kind;

/* How to score: the feature network and reference folder (images), the mixture (points), and
 * whether sample i was drawn for classifier class i mod 10 (a conditional G). */
typedef struct gt_eval_setup {
    const char *model, *ref, *mixture;
    bool class_check;
    gt_mode_metric mode_metric;   /* points: the definition (gantry's when zeroed) */
    const gt_orientation_cfg *orientation; /* images: also the orientation check, its detector
                                            * trained on ref's training split (NULL: no) */
} gt_eval_setup;

typedef struct gt_eval_result {
    gt_eval_kind kind;
    int64_t n;                     /* samples scored */
    gt_image_scores images;        /* kind images; kind stacked: its channel images' scores */
    bool has_agreement;            /* images of a conditional G: agreement is set */
    gt_class_agreement agreement;
    char ref_name[256];            /* images: the reference split's name */
    double feature_accuracy;       /* images: the feature network's test accuracy */
    char model[512];               /* images and stacked: the feature network's file */
    gt_stacked_scores stacked;     /* kind stacked */
    gt_mode_scores points;         /* kind points */
    char mixture[16];              /* points: ring | grid */
    bool has_orientation;          /* images scored with setup->orientation */
    gt_orientation_scores orientation;
} gt_eval_result;

/* Scores samples by their shape: x [n, 1, 28, 28] images, [n, 3, 28, 28] stacked Fashion-MNIST
 * (32x32 ones, padded IDX data, are cropped in place first), [n, 2] points of setup->mixture.
 * shape has nd entries. -1 with err naming the shape when it is none of these. */
int gt_eval_samples(float *x, int nd, const int64_t *shape, const gt_eval_setup *setup,
                    gt_eval_result *out, gt_error *err);

/* The result as the JSON object of `gantry eval`'s last line (the same keys in the same order:
 * the ablation table's metric columns follow it), and back. */
struct cJSON;
struct cJSON *gt_eval_result_json(const gt_eval_result *r);
int gt_eval_result_from_json(const struct cJSON *j, gt_eval_result *r, gt_error *err);

#endif
