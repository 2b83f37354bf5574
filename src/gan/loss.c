/* GAN losses: each critic's D loss and G's adversarial term against it, from logits [N, 1],
 * one registry entry per loss (losses.def lists them). The formulas are those of tricks.md
 * (sp(t) = ln(1 + e^t)); D2GAN's critics output D_k = sp(logit_k) > 0 and take logarithms
 * floored at D2GAN_EPS. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "gan/gan.h"

#define D2GAN_EPS 1e-8f

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

/* ---- the losses: D's term, G's term and the registry entry of each ---------------------------- */

/* bce, non-saturating: D: BCE(d(x), a) + BCE(d(x~), b); G: BCE(d(x~), 1). */
static gt_tensor *bce_d(const gt_loss_spec *L, int k, gt_tensor *d_real, gt_tensor *d_fake,
                        gt_tensor *rt, gt_tensor *ft) {
    (void)L, (void)k;
    return gt_add(gt_bce_with_logits(d_real, rt, 1.0f), gt_bce_with_logits(d_fake, ft, 0.0f));
}
static gt_tensor *bce_g(const gt_loss_spec *L, int k, gt_tensor *d_fake, gt_tensor *d_real) {
    (void)L, (void)k, (void)d_real;
    return gt_bce_with_logits(d_fake, NULL, 1.0f);
}
const gt_loss_kind gt_loss_bce = {.name = "bce", .d = bce_d, .g = bce_g, .uses_targets = true};

/* minimax, the original: D as bce; G minimises log(1 - s(d(x~))) = -E sp(d(x~)). */
static gt_tensor *minimax_g(const gt_loss_spec *L, int k, gt_tensor *d_fake, gt_tensor *d_real) {
    (void)L, (void)k, (void)d_real;
    return gt_neg(mean_sp(d_fake));
}
const gt_loss_kind gt_loss_minimax = {.name = "minimax", .d = bce_d, .g = minimax_g,
                                   .uses_targets = true};

/* lsgan (Mao et al.): D: (E(d(x) - a)^2 + E(d(x~) - b)^2) / 2; G: E(d(x~) - 1)^2 / 2. */
static gt_tensor *lsgan_d(const gt_loss_spec *L, int k, gt_tensor *d_real, gt_tensor *d_fake,
                          gt_tensor *rt, gt_tensor *ft) {
    (void)L, (void)k;
    return gt_mul_scalar(gt_add(mean_sq_dev(d_real, rt, 1.0f), mean_sq_dev(d_fake, ft, 0.0f)), 0.5f);
}
static gt_tensor *lsgan_g(const gt_loss_spec *L, int k, gt_tensor *d_fake, gt_tensor *d_real) {
    (void)L, (void)k, (void)d_real;
    return gt_mul_scalar(mean_sq_dev(d_fake, NULL, 1.0f), 0.5f);
}
const gt_loss_kind gt_loss_lsgan = {.name = "lsgan", .d = lsgan_d, .g = lsgan_g,
                                   .uses_targets = true};

/* G's term of hinge and wgan: -E d(x~). */
static gt_tensor *neg_mean_fake_g(const gt_loss_spec *L, int k, gt_tensor *d_fake, gt_tensor *d_real) {
    (void)L, (void)k, (void)d_real;
    return gt_neg(gt_mean_all(d_fake));
}

/* hinge: D: E relu(1 - d(x)) + E relu(1 + d(x~)); G: -E d(x~). */
static gt_tensor *hinge_d(const gt_loss_spec *L, int k, gt_tensor *d_real, gt_tensor *d_fake,
                          gt_tensor *rt, gt_tensor *ft) {
    (void)L, (void)k, (void)rt, (void)ft;
    return gt_add(gt_mean_all(gt_relu(gt_add_scalar(gt_neg(d_real), 1.0f))),
                  gt_mean_all(gt_relu(gt_add_scalar(d_fake, 1.0f))));
}
const gt_loss_kind gt_loss_hinge = {.name = "hinge", .d = hinge_d, .g = neg_mean_fake_g};

/* wgan: D: E d(x~) - E d(x); G: -E d(x~). */
static gt_tensor *wgan_d(const gt_loss_spec *L, int k, gt_tensor *d_real, gt_tensor *d_fake,
                         gt_tensor *rt, gt_tensor *ft) {
    (void)L, (void)k, (void)rt, (void)ft;
    return gt_sub(gt_mean_all(d_fake), gt_mean_all(d_real));
}
const gt_loss_kind gt_loss_wgan = {.name = "wgan", .d = wgan_d, .g = neg_mean_fake_g};

/* ragan, relativistic average: E sp(-(a - E b)) + E sp(b - E a); D takes (a, b) = (d(x), d(x~)),
 * G swaps them. */
static gt_tensor *ragan_term(gt_tensor *a, gt_tensor *b) {
    return gt_add(mean_sp(gt_neg(gt_sub(a, gt_mean_all(b)))), mean_sp(gt_sub(b, gt_mean_all(a))));
}
static gt_tensor *ragan_d(const gt_loss_spec *L, int k, gt_tensor *d_real, gt_tensor *d_fake,
                          gt_tensor *rt, gt_tensor *ft) {
    (void)L, (void)k, (void)rt, (void)ft;
    return ragan_term(d_real, d_fake);
}
static gt_tensor *ragan_g(const gt_loss_spec *L, int k, gt_tensor *d_fake, gt_tensor *d_real) {
    (void)L, (void)k;
    return ragan_term(d_fake, d_real);
}
const gt_loss_kind gt_loss_ragan = {.name = "ragan", .d = ragan_d, .g = ragan_g,
                                   .relativistic = true};

/* rpgan, relativistic paired: D: E sp(-(d(x_i) - d(x~_i))); G swaps x and x~. */
static gt_tensor *rpgan_d(const gt_loss_spec *L, int k, gt_tensor *d_real, gt_tensor *d_fake,
                          gt_tensor *rt, gt_tensor *ft) {
    (void)L, (void)k, (void)rt, (void)ft;
    return mean_sp(gt_neg(gt_sub(d_real, d_fake)));
}
static gt_tensor *rpgan_g(const gt_loss_spec *L, int k, gt_tensor *d_fake, gt_tensor *d_real) {
    (void)L, (void)k;
    return mean_sp(gt_neg(gt_sub(d_fake, d_real)));
}
const gt_loss_kind gt_loss_rpgan = {.name = "rpgan", .d = rpgan_d, .g = rpgan_g,
                                   .relativistic = true};

/* d2gan (Nguyen et al. 2017): two critics with positive outputs D_k = sp(logit_k). */
static gt_tensor *d2gan_d(const gt_loss_spec *L, int k, gt_tensor *d_real, gt_tensor *d_fake,
                          gt_tensor *rt, gt_tensor *ft) {
    (void)rt, (void)ft;
    if (k == 0) /* E[-a log D1(x) + D1(x~)] */
        return gt_add(gt_mul_scalar(gt_mean_all(log_positive(d_real)), (float)-L->d2gan_alpha),
                      mean_sp(d_fake));
    /* E[D2(x) - b log D2(x~)] */
    return gt_sub(mean_sp(d_real), gt_mul_scalar(gt_mean_all(log_positive(d_fake)), (float)L->d2gan_beta));
}
/* -E D1(x~) + b E log D2(x~), one term per critic. */
static gt_tensor *d2gan_g(const gt_loss_spec *L, int k, gt_tensor *d_fake, gt_tensor *d_real) {
    (void)d_real;
    if (k == 0) return gt_neg(mean_sp(d_fake));
    return gt_mul_scalar(gt_mean_all(log_positive(d_fake)), (float)L->d2gan_beta);
}
const gt_loss_kind gt_loss_d2gan = {.name = "d2gan", .d = d2gan_d, .g = d2gan_g,
                                   .two_critics = true};

/* ---- the registry --------------------------------------------------------------------------- */

static const gt_loss_kind *const losses[] = {
#define GT_LOSS(name) &gt_loss_##name,
#include "gan/losses.def"
#undef GT_LOSS
};
#define N_LOSSES (sizeof losses / sizeof losses[0])

static const char *loss_name_at(size_t i) { return losses[i]->name; }
static gt_registry registry = {.n = N_LOSSES, .name_at = loss_name_at};

const gt_loss_kind *gt_loss_find(const char *name) {
    int i = gt_registry_index(&registry, name);
    return i < 0 ? NULL : losses[i];
}

const char *gt_loss_names(void) { return gt_registry_names(&registry); }

/* "bce, minimax and lsgan": the entries with uses_targets, the last joined by "and". */
static char target_names[256];
static void join_target_names(void) {
    size_t len = 0, count = 0, seen = 0;
    for (size_t i = 0; i < N_LOSSES; i++) count += losses[i]->uses_targets;
    for (size_t i = 0; i < N_LOSSES && len < sizeof target_names; i++) {
        if (!losses[i]->uses_targets) continue;
        const char *sep = seen == 0 ? "" : seen + 1 == count ? " and " : ", ";
        len += (size_t)snprintf(target_names + len, sizeof target_names - len, "%s%s", sep,
                                losses[i]->name);
        seen++;
    }
}

const char *gt_loss_target_names(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, join_target_names);
    return target_names;
}

/* ---- D's and G's losses ---------------------------------------------------------------------- */

gt_tensor *gt_loss_d(const gt_loss_spec *L, int k, gt_tensor *d_real, gt_tensor *d_fake,
                     gt_tensor *real_target, gt_tensor *fake_target) {
    gt_tensor *loss = L->kind->d(L, k, d_real, d_fake, real_target, fake_target);
    if (L->drift > 0)
        loss = gt_add(loss, gt_mul_scalar(gt_mean_all(gt_square(d_real)), (float)L->drift));
    return loss;
}

gt_tensor *gt_loss_g(const gt_loss_spec *L, int k, gt_tensor *d_fake, gt_tensor *d_real) {
    return L->kind->g(L, k, d_fake, d_real);
}

gt_tensor *gt_feature_matching(gt_fm_kind kind, gt_tensor *f_real, gt_tensor *f_fake) {
    int batch = 0;
    gt_tensor *diff = gt_sub(gt_mean(f_real, 1, &batch, false), gt_mean(f_fake, 1, &batch, false));
    if (kind == GT_FM_L1) return gt_mean_all(gt_abs(diff));
    return gt_sum_all(gt_square(diff));
}
