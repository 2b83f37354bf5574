/* Augmentation of everything D sees (DiffAugment, Zhao et al. 2020; ADA, Karras et al. 2020),
 * differentiable to any order: composed of core ops whose inputs besides the images are
 * constants made from the draws, so R1, WGAN-GP and path length work through them. */
#ifndef GT_GAN_AUGMENT_H
#define GT_GAN_AUGMENT_H

#include "gantry.h"

typedef enum { GT_AUGMENT_NONE, GT_AUGMENT_DIFF, GT_AUGMENT_ADA } gt_augment_policy;

/* DiffAugment's functions, applied in this order to every sample. */
enum { GT_DIFF_COLOR = 1, GT_DIFF_TRANSLATION = 2, GT_DIFF_CUTOUT = 4 };
/* ADA's transforms, in the order of its pipeline, each applied to a sample with probability p. */
enum {
    GT_ADA_XFLIP = 1, GT_ADA_ROTATE90 = 2, GT_ADA_TRANSLATION = 4, GT_ADA_SCALE = 8,
    GT_ADA_BRIGHTNESS = 16, GT_ADA_CONTRAST = 32, GT_ADA_HUE = 64, GT_ADA_SATURATION = 128,
    GT_ADA_CUTOUT = 256
};

/* The random numbers of one augmented batch of N samples, drawn whatever the policy uses, so
 * the generator advances the same way for every setting: uniforms U[0, 1) and normals. */
#define GT_AUGMENT_UNIFORMS 16
#define GT_AUGMENT_NORMALS 8
typedef struct gt_augment_draws {
    gt_tensor *u;   /* [N, GT_AUGMENT_UNIFORMS] */
    gt_tensor *g;   /* [N, GT_AUGMENT_NORMALS] */
} gt_augment_draws;

typedef struct gt_augment_spec {
    gt_augment_policy policy;
    unsigned ops;          /* the policy's functions: GT_DIFF_* or GT_ADA_* bits */
    double p;              /* ADA: each transform's probability (adaptive: moves, checkpointed) */
    bool adaptive;         /* ADA: p follows r_t = E[sign(D(augmented real))] */
    double target;         /* r_t's target (0.6) */
    double kimg;           /* thousands of images over which p can move by 1 (500) */
    int interval;          /* D steps between adjustments (4) */
    /* the current adjustment window (checkpointed): sum over samples of sign(D(augmented
     * real)), the samples and the D steps so far; and the last window's r_t */
    double sign_sum;
    int64_t sign_count, window_steps;
    double last_rt;
} gt_augment_spec;

bool gt_augment_on(const gt_augment_spec *s);
/* Names ("color,translation,cutout"; "xflip,rotate90,...") to bits; -1 naming the unknown one. */
int gt_augment_parse_ops(gt_augment_policy policy, const char *list, unsigned *ops, gt_error *err);
/* The draws of a batch of n from rng. */
gt_augment_draws gt_augment_draw(gt_rng *rng, int64_t n);
/* Rows [from, to) of d. */
gt_augment_draws gt_augment_rows(gt_augment_draws d, int64_t from, int64_t to);
/* x [N, C, H, W] augmented per sample with d's rows N (the identity when the policy is none). */
gt_tensor *gt_augment(const gt_augment_spec *s, gt_tensor *x, gt_augment_draws d);
/* ADA: a D step saw r = E[sign(D(augmented real))] over `batch` samples; every `interval` steps
 * p moves by sign(r_t - target) x batch x interval / (kimg x 1000), clamped to [0, 1). */
void gt_augment_observe(gt_augment_spec *s, double sign_mean, int64_t batch);

#endif
