/* The adversarial step: D updates on a real and a fake batch, then a G update. Gradients are
 * taken with gt_grad with respect to the updated network only, so no work is spent on the
 * other network's weight gradients. */
#include <math.h>
#include <string.h>

#include "core/internal.h"
#include "gan/gan.h"

/* grads of loss w.r.t. every trainable of p, written into p->grad; returns their L2 norm. */
static double grads_into(gt_params *p, gt_tensor *loss) {
    int n = 0;
    gt_tensor **in = gt_step_alloc_((size_t)p->n * sizeof *in);
    gt_tensor **g = gt_step_alloc_((size_t)p->n * sizeof *g);
    for (int i = 0; i < p->n; i++)
        if (p->spec[i].kind == GT_PARAM_TRAINABLE) in[n++] = p->t[i];
    gt_grad(1, &loss, NULL, n, in, g, false);
    for (int i = 0; i < n; i++) gt_copy_to(in[i]->grad->data, g[i]);
    return gt_params_grad_norm(p);
}

static double mean_of(gt_tensor *t) {
    bool prev = gt_grad_set(false);
    double v = gt_item(gt_mean_all(t));
    gt_grad_set(prev);
    return v;
}

/* Share of logits above 0 (or below 0 when negative_side): D's accuracy on that batch. */
static double share_positive(gt_tensor *logits, bool negative_side) {
    bool prev = gt_grad_set(false);
    gt_tensor *l = gt_detach(logits);
    gt_tensor *hit = gt_greater(negative_side ? gt_neg(l) : l, gt_scalar(0.0f));
    double v = gt_item(gt_mean_all(hit));
    gt_grad_set(prev);
    return v;
}

gt_tensor *gt_gan_d_step(gt_gan *gan, gt_tensor *real, gt_tensor *z, gt_step_stats *st) {
    gt_fwd fg = gt_fwd_of(&gan->g->params, true), fd = gt_fwd_of(&gan->d->params, true);
    gt_tensor *fake = gt_model_forward(gan->g, &fg, z, NULL);
    gt_tensor *d_real = gt_model_forward(gan->d, &fd, real, NULL);
    gt_tensor *d_fake = gt_model_forward(gan->d, &fd, gt_detach(fake), NULL);
    gt_tensor *loss = gan->loss->d_loss(d_real, d_fake);
    st->d_grad_norm = grads_into(&gan->d->params, loss);
    st->d_loss = gt_item(loss);
    st->nonfinite = !isfinite(st->d_loss) || !isfinite(st->d_grad_norm);
    if (!st->nonfinite) gt_optim_step(gan->opt_d);
    st->d_real_mean = mean_of(d_real);
    st->d_fake_mean = mean_of(d_fake);
    st->d_acc_real = share_positive(d_real, false);
    st->d_acc_fake = share_positive(d_fake, true);
    return fake;
}

void gt_gan_g_step(gt_gan *gan, gt_tensor *fake, gt_tensor *d_real_logits, gt_step_stats *st) {
    gt_fwd fd = gt_fwd_of(&gan->d->params, true);
    gt_tensor *d_fake = gt_model_forward(gan->d, &fd, fake, NULL);
    gt_tensor *loss = gan->loss->g_loss(d_fake, d_real_logits);
    st->g_grad_norm = grads_into(&gan->g->params, loss);
    st->g_loss = gt_item(loss);
    st->nonfinite = !isfinite(st->g_loss) || !isfinite(st->g_grad_norm);
    if (!st->nonfinite) gt_optim_step(gan->opt_g);
}
