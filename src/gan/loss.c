/* GAN losses. The non-saturating BCE loss (Goodfellow et al. 2014): D minimises
 * BCE(d(x), 1) + BCE(d(x~), 0); G minimises BCE(d(x~), 1) = E sp(-d(x~)). */
#include <string.h>

#include "gan/gan.h"

gt_tensor *gt_bce_with_logits(gt_tensor *d, float target) {
    gt_tensor *pos = gt_softplus(gt_neg(d)); /* -log sigmoid(d) */
    if (target == 1.0f) return gt_mean_all(pos);
    gt_tensor *neg = gt_softplus(d); /* -log(1 - sigmoid(d)) */
    if (target == 0.0f) return gt_mean_all(neg);
    return gt_mean_all(gt_add(gt_mul_scalar(pos, target), gt_mul_scalar(neg, 1.0f - target)));
}

static gt_tensor *bce_d(gt_tensor *d_real, gt_tensor *d_fake) {
    return gt_add(gt_bce_with_logits(d_real, 1.0f), gt_bce_with_logits(d_fake, 0.0f));
}

static gt_tensor *bce_g(gt_tensor *d_fake, gt_tensor *d_real) {
    (void)d_real;
    return gt_bce_with_logits(d_fake, 1.0f);
}

static const gt_loss losses[] = {
    {"bce", bce_d, bce_g},
};

const gt_loss *gt_loss_find(const char *name) {
    for (size_t i = 0; i < sizeof losses / sizeof losses[0]; i++)
        if (strcmp(losses[i].name, name) == 0) return &losses[i];
    return NULL;
}

const char *gt_loss_names(void) { return "bce"; }
