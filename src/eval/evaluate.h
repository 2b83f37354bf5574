/* Scoring generated samples by protocols.md: images through the shipped classifier's features
 * against the Fashion-MNIST test split (FID, KID, precision/recall, class coverage); 2-D points
 * against the mixture's modes (modes covered, percent high quality, reverse KL). */
#ifndef GT_EVAL_EVALUATE_H
#define GT_EVAL_EVALUATE_H

#include "data/data.h"
#include "eval/classifier.h"

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
 * by the shipped classifier. */
int gt_eval_stacked(gt_classifier *c, const float *x, int64_t n, gt_stacked_scores *out,
                    gt_error *err);

typedef struct gt_mode_scores {
    int64_t n;
    int modes_covered, n_modes;
    double pct_high_quality, reverse_kl;
    float sigma;
} gt_mode_scores;

/* pts [n, 2] against the "ring" or "grid" mixture of protocols.md (default radius and sigma). */
int gt_eval_points(const char *kind, const float *pts, int64_t n, gt_mode_scores *out, gt_error *err);

/* Samples of IDX data padded to side x side (data.resolution = 32): their centre 28x28, in place,
 * which is what the metrics' classifier reads. x [n, c, side, side] becomes [n, c, 28, 28]. */
void gt_eval_crop_padded(float *x, int64_t n, int c, int side);

#endif
