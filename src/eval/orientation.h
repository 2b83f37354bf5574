/* The orientation check of augmented training (docs/tricks.md, "Data-efficient training"):
 * does G draw rotated or mirrored images more often than the data holds them? Augmentations
 * that are not invertible from the augmented distribution (ADA's x-flip and 90-degree rotations
 * at p near 1) "leak": G learns to produce the augmented images. The check trains a small
 * detector of the eight orientations of the dihedral group (four quarter turns, each mirrored or
 * not) on the reference training split, then compares how often it calls G's samples rotated
 * or mirrored with how often it calls the upright test images so. */
#ifndef GT_EVAL_ORIENTATION_H
#define GT_EVAL_ORIENTATION_H

#include <stdint.h>

#include "data/data.h"
#include "eval/classifier.h"

/* Orientation k of a 28x28 image: (k & 3) counter-clockwise quarter turns, then, when k & 4, a
 * left-right mirror. k = 0 is the image as it is. */
#define GT_ORIENTATIONS 8
void gt_orient_image(const float *src, float *dst, int k);

typedef struct gt_orientation_cfg {
    int64_t train_images;  /* training images the detector sees (0: the whole split) */
    int epochs;            /* passes over them, each image in all eight orientations */
    uint64_t seed;         /* weights and shuffling */
} gt_orientation_cfg;

typedef struct gt_orientation_scores {
    int64_t n, n_ref;           /* samples; upright reference (test) images */
    double detector_accuracy;   /* both bits right, over the eight orientations of the test images */
    double ref_rotated;         /* share of upright test images the detector calls turned */
    double rotated;             /* the same share of the samples */
    /* The mirror check counts only images of classes with a clear handedness: those where the
     * detector tells a test image from its mirror image at least 95% of the time (chosen from
     * the data, by true label), with the class of both test images and samples taken from the
     * classifier so that both sides are selected alike. */
    uint32_t handed_classes;    /* bit c: class c counts */
    int64_t n_ref_handed, n_handed;
    double ref_mirrored, mirrored;
} gt_orientation_scores;

/* The detector, trained on train's images and scored on test's (both labelled 1x28x28 images:
 * the reference folder's splits): it fills the reference half of the scores (detector
 * accuracy, handed classes, ref_*). c classifies images into classes 0..9. NULL with err on
 * bad data. */
typedef struct gt_orientation_detector gt_orientation_detector;
gt_orientation_detector *gt_orientation_detector_train(gt_classifier *c, const gt_dataset *train,
                                                       const gt_dataset *test,
                                                       const gt_orientation_cfg *cfg, gt_error *err);
void gt_orientation_detector_free(gt_orientation_detector *d);

/* The scores of x [n, 1, 28, 28] in [-1, 1] beside the reference's. */
void gt_orientation_score(gt_orientation_detector *d, gt_classifier *c, const float *x, int64_t n,
                          gt_orientation_scores *out);

/* Both in one: train, score x, free. */
int gt_eval_orientation(gt_classifier *c, const gt_dataset *train, const gt_dataset *test,
                        const float *x, int64_t n, const gt_orientation_cfg *cfg,
                        gt_orientation_scores *out, gt_error *err);

#endif
