/* GAN losses: each critic's D loss and G's adversarial term against it, from logits [N, 1].
 * The formulas are those of tricks.md (sp(t) = ln(1 + e^t)); D2GAN's critics output
 * D_k = sp(logit_k) > 0 and take logarithms floored at D2GAN_EPS. */
#include <math.h>
#include <string.h>

#include "gan/gan.h"

#define D2GAN_EPS 1e-8f

static const char *const loss_names[] = {"bce", "minimax", "lsgan", "hinge", "wgan", "ragan", "rpgan", "d2gan"};

int gt_loss_kind_parse(const char *name) {
    for (int i = 0; i < (int)(sizeof loss_names / sizeof loss_names[0]); i++)
        if (strcmp(loss_names[i], name) == 0) return i;
    return -1;
}

const char *gt_loss_kind_name(gt_loss_kind k) { return loss_names[k]; }

bool gt_loss_uses_targets(gt_loss_kind k) {
    return k == GT_LOSS_BCE || k == GT_LOSS_MINIMAX || k == GT_LOSS_LSGAN;
}

gt_tensor *gt_bce_with_logits(gt_tensor *d, gt_tensor *t, float scalar_target) {
    gt_tensor *pos = gt_softplus(gt_neg(d)); /* -log sigmoid(d) */
    gt_tensor *neg = NULL;                   /* -log(1 - sigmoid(d)) */
    if (!t) {
        if (scalar_target == 1.0f) return gt_mean_all(pos);
        neg = gt_softplus(d);
        if (scalar_target == 0.0f) return gt_mean_all(neg);
        return gt_mean_all(gt_add(gt_mul_scalar(pos, scalar_target), gt_mul_scalar(neg, 1.0f - scalar_target)));
    }
    neg = gt_softplus(d);
    /* t pos + (1 - t) neg = neg + t (pos - neg) */
    return gt_mean_all(gt_add(neg, gt_mul(t, gt_sub(pos, neg))));
}

static gt_tensor *mean_sp(gt_tensor *x) { return gt_mean_all(gt_softplus(x)); }

/* E (d - target)^2, target a tensor or the scalar. */
static gt_tensor *mean_sq_dev(gt_tensor *d, gt_tensor *t, float scalar_target) {
    return gt_mean_all(gt_square(t ? gt_sub(d, t) : gt_add_scalar(d, -scalar_target)));
}

/* D2GAN's log D_k with D_k = sp(logit), floored. */
static gt_tensor *log_positive(gt_tensor *logit) {
    return gt_log(gt_clamp(gt_softplus(logit), D2GAN_EPS, INFINITY));
}

static gt_tensor *d2gan_d(const gt_loss_spec *L, int k, gt_tensor *d_real, gt_tensor *d_fake) {
    if (k == 0) /* E[-a log D1(x) + D1(x~)] */
        return gt_add(gt_mul_scalar(gt_mean_all(log_positive(d_real)), (float)-L->d2gan_alpha),
                      mean_sp(d_fake));
    /* E[D2(x) - b log D2(x~)] */
    return gt_sub(mean_sp(d_real), gt_mul_scalar(gt_mean_all(log_positive(d_fake)), (float)L->d2gan_beta));
}

static gt_tensor *adversarial_d(const gt_loss_spec *L, int k, gt_tensor *d_real, gt_tensor *d_fake,
                                gt_tensor *rt, gt_tensor *ft) {
    switch (L->kind) {
    case GT_LOSS_BCE:
    case GT_LOSS_MINIMAX:
        return gt_add(gt_bce_with_logits(d_real, rt, 1.0f), gt_bce_with_logits(d_fake, ft, 0.0f));
    case GT_LOSS_LSGAN:
        return gt_mul_scalar(gt_add(mean_sq_dev(d_real, rt, 1.0f), mean_sq_dev(d_fake, ft, 0.0f)), 0.5f);
    case GT_LOSS_HINGE:
        return gt_add(gt_mean_all(gt_relu(gt_add_scalar(gt_neg(d_real), 1.0f))),
                      gt_mean_all(gt_relu(gt_add_scalar(d_fake, 1.0f))));
    case GT_LOSS_WGAN:
        return gt_sub(gt_mean_all(d_fake), gt_mean_all(d_real));
    case GT_LOSS_RAGAN:
        return gt_add(mean_sp(gt_neg(gt_sub(d_real, gt_mean_all(d_fake)))),
                      mean_sp(gt_sub(d_fake, gt_mean_all(d_real))));
    case GT_LOSS_RPGAN:
        return mean_sp(gt_neg(gt_sub(d_real, d_fake)));
    case GT_LOSS_D2GAN:
        return d2gan_d(L, k, d_real, d_fake);
    }
    return NULL;
}

gt_tensor *gt_loss_d(const gt_loss_spec *L, int k, gt_tensor *d_real, gt_tensor *d_fake,
                     gt_tensor *real_target, gt_tensor *fake_target) {
    gt_tensor *loss = adversarial_d(L, k, d_real, d_fake, real_target, fake_target);
    if (L->drift > 0)
        loss = gt_add(loss, gt_mul_scalar(gt_mean_all(gt_square(d_real)), (float)L->drift));
    return loss;
}

gt_tensor *gt_loss_g(const gt_loss_spec *L, int k, gt_tensor *d_fake, gt_tensor *d_real) {
    switch (L->kind) {
    case GT_LOSS_BCE:
        return gt_bce_with_logits(d_fake, NULL, 1.0f);
    case GT_LOSS_MINIMAX: /* minimise log(1 - s(d)) = -sp(d) */
        return gt_neg(mean_sp(d_fake));
    case GT_LOSS_LSGAN:
        return gt_mul_scalar(mean_sq_dev(d_fake, NULL, 1.0f), 0.5f);
    case GT_LOSS_HINGE:
    case GT_LOSS_WGAN:
        return gt_neg(gt_mean_all(d_fake));
    case GT_LOSS_RAGAN:
        return gt_add(mean_sp(gt_neg(gt_sub(d_fake, gt_mean_all(d_real)))),
                      mean_sp(gt_sub(d_real, gt_mean_all(d_fake))));
    case GT_LOSS_RPGAN:
        return mean_sp(gt_neg(gt_sub(d_fake, d_real)));
    case GT_LOSS_D2GAN: /* -E D1(x~) + b E log D2(x~) */
        if (k == 0) return gt_neg(mean_sp(d_fake));
        return gt_mul_scalar(gt_mean_all(log_positive(d_fake)), (float)L->d2gan_beta);
    }
    return NULL;
}

gt_tensor *gt_feature_matching(gt_fm_kind kind, gt_tensor *f_real, gt_tensor *f_fake) {
    int batch = 0;
    gt_tensor *diff = gt_sub(gt_mean(f_real, 1, &batch, false), gt_mean(f_fake, 1, &batch, false));
    if (kind == GT_FM_L1) return gt_mean_all(gt_abs(diff));
    return gt_sum_all(gt_square(diff));
}
