/* The stylegan2 family's own options (src/nn/stylegan2.c): what a StyleGAN2 generator needs
 * beyond gt_net_spec, passed to build through spec.family_options and kept by the family. */
#ifndef GT_NN_STYLEGAN2_H
#define GT_NN_STYLEGAN2_H

#include "nn/model.h"

typedef struct gt_stylegan2_options {
    int mapping_layers;     /* fully connected layers of the mapping network */
    int64_t w_dim;          /* width of the mapping network and of w (0: z_dim) */
    double mapping_lr_mul;  /* learning-rate multiplier of the mapping network (StyleGAN2: 0.01) */
    double style_mixing;    /* probability of mixing two w's in a training forward */
} gt_stylegan2_options;

/* The options of a spec without family_options: the configuration's defaults. */
extern const gt_stylegan2_options gt_stylegan2_defaults;

/* Changes the style-mixing probability of a built stylegan2 generator (its next training
 * forwards). */
void gt_stylegan2_set_style_mixing(gt_model *m, double probability);

#endif
