/* The adversarial step: each critic updates on a real and a fake batch (with its penalties,
 * fused into the loss or lazily in a separate update), then G updates through every critic.
 * Gradients are taken with gt_grad with respect to the updated network only, so no work is
 * spent on the other network's weight gradients. */
#include <math.h>
#include <string.h>

#include "core/engine.h"
#include "gan/gan.h"
#include "gan/shards.h"

void gt_gan_init(gt_gan *gan, gt_model *g, gt_optim *opt_g, gt_model *d, gt_optim *opt_d,
                 uint64_t seed) {
    memset(gan, 0, sizeof *gan);
    gan->g = g;
    gan->opt_g = opt_g;
    gan->n_critics = 1;
    gan->critic[0] = (gt_critic){d, opt_d, false, 1};
    gan->loss = (gt_loss_spec){.kind = &gt_loss_bce, .d2gan_alpha = 1, .d2gan_beta = 1,
                               .fm = GT_FM_NONE, .fm_weight = 1, .adversarial = true};
    gan->labels = (gt_label_spec){.real = 1, .fake = 0, .real_lo = 0.7, .real_hi = 1.2,
                                  .fake_lo = 0, .fake_hi = 0.3};
    gan->penalty = (gt_penalty_spec){.gp_center = 1, .dragan_c = 0.5, .every = 1, .decay_floor = 0.1};
    gan->noise = (gt_noise_spec){.fraction = 1};
    gan->rng = gt_rng_seed(seed);
    gan->accumulate = 1;
}

int gt_gan_check(const gt_gan *gan, gt_error *err) {
    const gt_loss_spec *L = &gan->loss;
    if (L->kind->two_critics && gan->n_critics != 2)
        return gt_error_set(err, "config: loss.type = %s needs two discriminators (set "
                                 "model.d2.family)", L->kind->name);
    if (!L->adversarial && L->fm == GT_FM_NONE)
        return gt_error_set(err, "config: loss.adversarial = false leaves G without a loss (set "
                                 "loss.feature_matching to l1 or l2)");
    const gt_label_spec *l = &gan->labels;
    bool targets = L->kind->uses_targets;
    bool custom = l->uniform || l->real != 1.0 || l->fake != 0.0 || l->flip > 0;
    if (custom && !targets)
        return gt_error_set(err, "config: loss.labels, real_label, fake_label and label_flip apply to "
                                 "the %s losses, not to loss.type = %s",
                            gt_loss_target_names(), L->kind->name);
    if (l->uniform && (l->real_lo > l->real_hi || l->fake_lo > l->fake_hi))
        return gt_error_set(err, "config: loss.real_label_min/max [%g, %g] or fake_label_min/max "
                                 "[%g, %g]: the minimum must not exceed the maximum",
                            l->real_lo, l->real_hi, l->fake_lo, l->fake_hi);
    for (int k = 0; k < gan->n_critics; k++) {
        const gt_net_spec *s = &gan->critic[k].net->spec;
        if (gan->critic[k].half_view && (s->h == 1 && s->w == 1))
            return gt_error_set(err, "config: model.d2.view = half needs image data (2-D points "
                                     "cannot be downsampled)");
        if (gt_critic_pack_(&gan->critic[k]) != gt_critic_pack_(&gan->critic[0]))
            return gt_error_set(err, "config: the discriminators pack %d and %d samples: "
                                     "model.d.pack applies to every critic",
                                gt_critic_pack_(&gan->critic[0]), gt_critic_pack_(&gan->critic[k]));
    }
    return 0;
}

int gt_critic_pack_(const gt_critic *c) { return c->pack > 1 ? c->pack : 1; }

gt_tensor *gt_critic_forward(const gt_critic *c, const gt_fwd *f, gt_tensor *x, gt_tensor **features) {
    if (c->half_view) x = gt_downsample2x(x);
    return gt_model_forward(c->net, f, gt_pack_samples(x, gt_critic_pack_(c)), features);
}

/* ---- One update ------------------------------------------------------------------------------ */

void gt_gan_write_grads_(gt_params *p, gt_tensor *loss) {
    int n = 0;
    gt_tensor **in = gt_step_alloc_((size_t)p->n * sizeof *in);
    gt_tensor **g = gt_step_alloc_((size_t)p->n * sizeof *g);
    for (int i = 0; i < p->n; i++)
        if (p->spec[i].kind == GT_PARAM_TRAINABLE) in[n++] = p->t[i];
    gt_grad(1, &loss, NULL, n, in, g, false);
    for (int i = 0; i < n; i++) gt_assign(in[i]->grad, g[i]);
}

double gt_gan_grads_into(gt_params *p, gt_tensor *loss) {
    gt_gan_write_grads_(p, loss);
    return gt_params_grad_norm(p);
}

/* The optimizer's update from the gradients in place, unless the loss or the gradient norm is
 * not finite; false when it skipped. */
static _Thread_local gt_update_hook update_hook;
static _Thread_local void *update_hook_ctx;

void gt_gan_set_update_hook(gt_update_hook hook, void *ctx) {
    update_hook = hook;
    update_hook_ctx = ctx;
}

void gt_gan_update_hook_(gt_optim *opt, double *loss) {
    if (update_hook) update_hook(update_hook_ctx, opt, loss);
}

bool gt_gan_apply_(gt_optim *opt, double loss, double norm) {
    gt_gan_update_hook_(opt, &loss);
    if (!isfinite(loss) || !isfinite(norm)) return false;
    gt_profile_mark("gradient copies");
    gt_optim_step(opt);
    gt_profile_mark("optimizer");
    return true;
}

/* Gradients of loss, then the optimizer's update unless the loss or the gradient is not finite.
 * Returns false when it skipped; *value and *norm get the loss and the gradient norm. */
static bool update(gt_optim *opt, gt_tensor *loss, double *value, double *norm) {
    double n = gt_gan_grads_into(opt->params, loss);
    double v = gt_item(loss);
    if (norm) *norm = n;
    if (value) *value = v;
    return gt_gan_apply_(opt, v, n);
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

void gt_gan_logit_stats_(gt_tensor *d_real, gt_tensor *d_fake, gt_step_stats *st) {
    st->d_real_mean = mean_of(d_real);
    st->d_fake_mean = mean_of(d_fake);
    st->d_acc_real = share_positive(d_real, false);
    st->d_acc_fake = share_positive(d_fake, true);
}

/* ---- D ----------------------------------------------------------------------------------------- */

/* Critic k's D loss on a batch; with penalties fused (scale > 0) they join it (their value is
 * added to st->penalty). d_real, d_fake: the logits. */
gt_tensor *gt_critic_d_loss_(gt_gan *gan, int k, gt_tensor *real, gt_tensor *fake,
                             const gt_d_draws *dr, double fused_scale, gt_step_stats *st,
                             gt_tensor **d_real, gt_tensor **d_fake) {
    gt_critic *c = &gan->critic[k];
    gt_fwd f = gt_fwd_of(&c->net->params, true);
    gt_fwd fr = gt_fwd_labelled(&f, gan->real_labels), ff = gt_fwd_labelled(&f, gan->fake_labels);
    *d_real = gt_critic_forward(c, &fr, real, NULL);
    *d_fake = gt_critic_forward(c, &ff, fake, NULL);
    gt_tensor *loss = gt_loss_d(&gan->loss, k, *d_real, *d_fake, dr->real_target, dr->fake_target);
    if (fused_scale > 0) {
        gt_tensor *pen = gt_d_penalty(gan, k, real, fake, dr, fused_scale, NULL);
        st->penalty += gt_item(pen);
        loss = gt_add(loss, pen);
    }
    return loss;
}

/* Critic k's update; with penalties fused (scale > 0) they join its loss. */
static bool critic_update(gt_gan *gan, int k, gt_tensor *real, gt_tensor *fake, const gt_d_draws *dr,
                          double fused_scale, gt_step_stats *st) {
    gt_tensor *d_real, *d_fake;
    gt_tensor *loss = gt_critic_d_loss_(gan, k, real, fake, dr, fused_scale, st, &d_real, &d_fake);
    double value, norm;
    bool ok = update(gan->critic[k].opt, loss, &value, &norm);
    st->d_loss += value;
    if (k == 0) {
        st->d_grad_norm = norm;
        gt_gan_logit_stats_(d_real, d_fake, st);
    }
    return ok;
}

/* Lazy regularization: a separate update on the penalties alone, weighted by k (StyleGAN2). */
static bool lazy_penalty_update(gt_gan *gan, int k, gt_tensor *real, gt_tensor *fake,
                                const gt_d_draws *dr, double decay, gt_step_stats *st) {
    double every = (double)gan->penalty.every, value;
    gt_tensor *pen = gt_d_penalty(gan, k, real, fake, dr, decay * every, NULL);
    bool ok = update(gan->critic[k].opt, pen, &value, NULL);
    st->penalty += value / every;
    return ok;
}

gt_tensor *gt_gan_d_step(gt_gan *gan, int64_t t, int64_t d_iter, gt_tensor *real, gt_tensor *z,
                         gt_step_stats *st) {
    if (gan->accumulate > 1 || gan->comm) {
        const gt_comm *prev = gt_ranks_use(gan->sync_bn ? gan->comm : gt_ranks());
        gt_tensor *fake = gt_gan_d_step_sharded_(gan, t, d_iter, real, z, st);
        gt_ranks_use(prev);
        return fake;
    }
    gt_fwd fg = gt_fwd_of(&gan->g->params, true);
    fg.labels = gan->fake_labels;
    gt_tensor *fake = gt_model_forward(gan->g, &fg, z, NULL);
    gt_d_draws dr;
    gt_gan_draw_d(gan, t, real->ndim, real->shape, &dr);
    gt_tensor *x_real = gt_gan_d_view(gan, real, dr.real_noise, dr.aug_real);
    gt_tensor *x_fake = gt_gan_d_view(gan, gt_detach(fake), dr.fake_noise, dr.aug_fake);

    const gt_penalty_spec *p = &gan->penalty;
    double decay = gt_penalty_decay(p, t);
    bool penalties = gt_penalty_any(p), lazy = p->every > 1;
    bool lazy_now = penalties && lazy && d_iter % p->every == 0;
    st->d_loss = st->penalty = 0;
    st->noise_sigma = gt_noise_sigma(&gan->noise, t);
    st->nonfinite = st->comm_failed = false;
    for (int k = 0; k < gan->n_critics && !st->nonfinite; k++) {
        bool ok = critic_update(gan, k, x_real, x_fake, &dr, penalties && !lazy ? decay : 0, st);
        if (ok && lazy_now) ok = lazy_penalty_update(gan, k, x_real, x_fake, &dr, decay, st);
        st->nonfinite = !ok;
    }
    gt_gan_observe_(gan, real->shape[0], st);
    return fake;
}

void gt_gan_observe_(gt_gan *gan, int64_t batch, const gt_step_stats *st) {
    /* r = E[sign(D(augmented real))] = P(D > 0) - P(D < 0), from critic 0's accuracy on reals
     * (logits exactly 0 count as negative; they have measure zero) */
    if (!st->nonfinite && !st->comm_failed) gt_augment_observe(&gan->augment, 2 * st->d_acc_real - 1, batch);
}

/* ---- G ----------------------------------------------------------------------------------------- */

bool gt_gan_needs_real_(const gt_loss_spec *L) {
    return L->fm != GT_FM_NONE ||
           (L->adversarial && L->kind->relativistic);
}

gt_tensor *gt_g_objective(const gt_gan *gan, gt_tensor *fake, gt_tensor *real) {
    return gt_g_objective_with(gan, fake, real, NULL);
}

gt_tensor *gt_g_objective_with(const gt_gan *gan, gt_tensor *fake, gt_tensor *real,
                               const gt_fwd *const *fwds) {
    const gt_loss_spec *L = &gan->loss;
    bool fm = L->fm != GT_FM_NONE, with_real = gt_gan_needs_real_(L);
    GT_CHECK(real || !with_real, "gt_g_objective: this loss needs the real batch");
    gt_tensor *total = NULL;
    for (int k = 0; k < gan->n_critics; k++) {
        const gt_critic *c = &gan->critic[k];
        gt_fwd own = gt_fwd_of(&c->net->params, true);
        const gt_fwd *f = fwds && fwds[k] ? fwds[k] : &own;
        gt_fwd ff = gt_fwd_labelled(f, gan->fake_labels), fr = gt_fwd_labelled(f, gan->real_labels);
        gt_tensor *f_fake = NULL, *f_real = NULL, *d_real = NULL;
        gt_tensor *d_fake = gt_critic_forward(c, &ff, fake, fm ? &f_fake : NULL);
        if (with_real) { /* constants for G */
            bool prev = gt_grad_set(false);
            d_real = gt_critic_forward(c, &fr, real, fm ? &f_real : NULL);
            gt_grad_set(prev);
        }
        gt_tensor *term = L->adversarial ? gt_loss_g(L, k, d_fake, d_real) : NULL;
        if (fm) {
            gt_tensor *m = gt_mul_scalar(gt_feature_matching(L->fm, f_real, f_fake), (float)L->fm_weight);
            term = term ? gt_add(term, m) : m;
        }
        total = total ? gt_add(total, term) : term;
    }
    return total;
}

void gt_gan_g_step(gt_gan *gan, int64_t t, gt_tensor *fake, gt_tensor *real, gt_step_stats *st) {
    if (gan->accumulate > 1 || gan->comm) {
        const gt_comm *prev = gt_ranks_use(gan->sync_bn ? gan->comm : gt_ranks());
        gt_gan_g_step_sharded_(gan, t, fake, real, st);
        gt_ranks_use(prev);
        return;
    }
    bool unroll = gan->unroll.steps > 0;
    GT_CHECK(real || !unroll, "gt_gan_g_step: unrolling needs the real batch");
    /* the unrolled critics first: their updates draw their own noise and targets */
    gt_fwd unrolled[GT_MAX_CRITICS];
    const gt_fwd *fwds[GT_MAX_CRITICS] = {0};
    for (int k = 0; unroll && k < gan->n_critics; k++) {
        unrolled[k] = gt_unroll_critic(gan, k, t, real, fake);
        fwds[k] = &unrolled[k];
    }
    gt_g_draws dr;
    gt_gan_draw_g(gan, t, fake->ndim, fake->shape, real, &dr);
    gt_tensor *x_real = dr.real_noise || dr.aug_real.u ? gt_gan_d_view(gan, real, dr.real_noise, dr.aug_real)
                                                       : real;
    gt_tensor *loss = gt_g_objective_with(gan, gt_gan_d_view(gan, fake, dr.fake_noise, dr.aug_fake),
                                          x_real, fwds);
    st->nonfinite = !update(gan->opt_g, loss, &st->g_loss, &st->g_grad_norm);
}
