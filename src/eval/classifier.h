/* The feature network of the image metrics (docs/protocols.md, "Quality on images"): a small CNN
 * for 28x28 gray images in [-1, 1], trained on Fashion-MNIST with gantry itself. Its 128-d
 * penultimate activations are the features of FID, KID and precision/recall; its predicted
 * classes give class coverage. Weights live in a gt_params table and travel as safetensors. */
#ifndef GT_EVAL_CLASSIFIER_H
#define GT_EVAL_CLASSIFIER_H

#include <stdint.h>
#include <stdio.h>

#include "data/data.h"
#include "gantry.h"

#define GT_CLASSIFIER_FEATURES 128
#define GT_CLASSIFIER_CLASSES 10
#define GT_CLASSIFIER_SIDE 28
/* Stored in the weights file and printed beside every score computed from its features. */
#define GT_CLASSIFIER_ARCH                                                                     \
    "conv3x3(1->32,p1)+relu+maxpool2, conv3x3(32->64,p1)+relu+maxpool2, "                      \
    "linear(3136->128)+relu [features], linear(128->10)"
/* The shipped weights, relative to the repository root; see docs/classifier.md. */
#define GT_CLASSIFIER_DEFAULT_PATH "models/fmnist-classifier.safetensors"
/* The digits network, for MNIST-format digits (not shipped: Debian has no MNIST package; train
 * it with gantry classifier train --data DIR --out this path). */
#define GT_CLASSIFIER_DIGITS_PATH "models/mnist-classifier.safetensors"
/* A directory searched for a weights file's base name when the given path does not exist. */
#define GT_CLASSIFIER_MODELS_ENV "GANTRY_MODELS"

typedef struct gt_classifier gt_classifier;

/* Freshly initialised weights (Kaiming normal, zero biases; deterministic). */
gt_classifier *gt_classifier_new(void);
void gt_classifier_free(gt_classifier *c);

/* Reads weights from path, or from $GANTRY_MODELS/<base name of path> when path does not
 * exist. Every tensor's name and shape and the metadata (format, architecture, feature size)
 * are checked; on error c keeps its previous weights. */
int gt_classifier_load(gt_classifier *c, const char *path, gt_error *err);
/* Writes weights and metadata (architecture, feature size, test accuracy, training recipe)
 * atomically. */
int gt_classifier_save(const gt_classifier *c, const char *path, gt_error *err);

/* x [n, 1, 28, 28] in [-1, 1] -> features [n, 128] and pred_class [n]; either output may be
 * NULL. Runs in chunks of 500 without grad and calls gt_step_end() after each chunk, so the
 * caller must hold no step-arena tensors across the call. */
void gt_classifier_features(gt_classifier *c, const float *x, int64_t n, float *features,
                            int32_t *pred_class);
/* Fraction of ds (28x28x1, labelled) classified correctly. */
double gt_classifier_accuracy(gt_classifier *c, const gt_dataset *ds);

/* Cross-entropy training with Adam (lr 1e-3), batch 128, shuffled by gt_loader from seed, from
 * weights initialised by seed. After each epoch writes "epoch, mean loss, test accuracy" to log
 * (may be NULL). Records the final test accuracy and the recipe for gt_classifier_save. */
int gt_classifier_train(gt_classifier *c, const gt_dataset *train, const gt_dataset *test,
                        int epochs, uint64_t seed, FILE *log, gt_error *err);

/* What the weights file said (or training recorded): test accuracy in [0, 1], or a negative
 * value when unknown, and the recipe ("" when unknown). */
double gt_classifier_test_accuracy(const gt_classifier *c);
const char *gt_classifier_recipe(const gt_classifier *c);

#endif
