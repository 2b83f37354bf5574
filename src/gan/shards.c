/* Gradient accumulation: one update over `accumulate` equal micro-batches (shards) of the batch,
 * run one after the other. The rules (gan.h, gt_gan.accumulate) are those a data-parallel run
 * over as many ranks follows, so that both give the same bits:
 *   - random draws are made for the whole batch, as one update would, and each shard takes its
 *     rows (so draws never depend on the shard count);
 *   - each shard normalizes with its own batch statistics and takes its own penalties;
 *   - gradients are added in shard order, then scaled by 1 / shards;
 *   - every network's buffers (batch-norm running statistics, spectral norm's u, StyleGAN2's
 *     w_avg) start each shard from their values before the first, and end at the shards' mean,
 *     or exactly at the shared value where every shard ended equal (u depends on the weights
 *     only, so it advances as in one update). */
#include <string.h>

#include "core/engine.h"
#include "gan/shards.h"

/* ---- buffers ------------------------------------------------------------------------------ */

typedef struct {
    gt_params *p;
    int64_t n;          /* buffer elements (after the trainables in the flat storage) */
    gt_tensor *start;   /* the buffers before the first shard */
    gt_tensor *first;   /* shard 0's final buffers */
    gt_tensor *sum;     /* the final buffers added in shard order */
    gt_tensor *agree;   /* 1 where every shard so far ended equal to shard 0 */
} buffer_merge;

static gt_tensor *buffers_of(const buffer_merge *b) {
    return gt_view_in(gt_step_arena(), b->p->flat, b->p->numel_trainable, 1, &b->n);
}

static void buffers_begin(buffer_merge *b, gt_params *p) {
    memset(b, 0, sizeof *b);
    b->p = p;
    b->n = p->numel - p->numel_trainable;
    if (b->n > 0) b->start = gt_clone(buffers_of(b));
}

static void shard_begin(buffer_merge *b) {
    if (b->n > 0) gt_assign(buffers_of(b), b->start);
}

/* 1 where a == b, else 0 (NaN never equal). */
static gt_tensor *equal(gt_tensor *a, gt_tensor *b) {
    return gt_mul(gt_greater_equal(a, b), gt_greater_equal(b, a));
}

static void shard_end(buffer_merge *b) {
    if (b->n == 0) return;
    gt_tensor *now = gt_clone(buffers_of(b));
    if (!b->first) {
        b->first = b->sum = now;
        b->agree = gt_full(1, &b->n, 1.0f);
    } else {
        b->sum = gt_add(b->sum, now);
        b->agree = gt_mul(b->agree, equal(now, b->first));
    }
}

static void buffers_merge(buffer_merge *b, int shards) {
    if (b->n == 0) return;
    gt_tensor *mean = gt_mul_scalar(b->sum, 1.0f / (float)shards);
    gt_assign(buffers_of(b), gt_where(b->agree, b->first, mean));
}

/* ---- gradients ---------------------------------------------------------------------------- */

typedef struct {
    gt_params *p;
    gt_tensor *sum;  /* the shards' gradients added in shard order */
    double loss;     /* the shards' losses added */
} grad_sum;

static void grads_add(grad_sum *a, gt_tensor *loss) {
    gt_gan_grads_into(a->p, loss);
    a->loss += gt_item(loss);
    gt_tensor *g = gt_clone(a->p->flat_grad);
    a->sum = a->sum ? gt_add(a->sum, g) : g;
}

/* The gradient of the whole batch into the optimizer's input, and the update; the loss mean
 * and the gradient norm go to *loss and *norm. */
static bool grads_apply(grad_sum *a, gt_optim *opt, int shards, double *loss, double *norm) {
    gt_assign(a->p->flat_grad, gt_mul_scalar(a->sum, 1.0f / (float)shards));
    double n = gt_params_grad_norm(a->p), v = a->loss / shards;
    if (loss) *loss = v;
    if (norm) *norm = n;
    return gt_gan_apply_(opt, v, n);
}

/* ---- a shard's slice of the batch ------------------------------------------------------- */

typedef struct {
    int shards;
    int64_t size;                              /* rows per shard */
    const int32_t *real_labels, *fake_labels;  /* the whole batch's (NULL: unconditional) */
} shard_plan;

static gt_tensor *rows(gt_tensor *x, const shard_plan *s, int m) {
    return x ? gt_slice(x, 0, m * s->size, (m + 1) * s->size) : NULL;
}

static void use_labels(gt_gan *gan, const shard_plan *s, int m) {
    gan->real_labels = s->real_labels ? s->real_labels + m * s->size : NULL;
    gan->fake_labels = s->fake_labels ? s->fake_labels + m * s->size : NULL;
}

static void restore_labels(gt_gan *gan, const shard_plan *s) {
    gan->real_labels = s->real_labels;
    gan->fake_labels = s->fake_labels;
}

static gt_d_draws draws_rows(const gt_d_draws *d, const shard_plan *s, int m) {
    return (gt_d_draws){rows(d->real_target, s, m), rows(d->fake_target, s, m),
                        rows(d->real_noise, s, m),  rows(d->fake_noise, s, m),
                        rows(d->gp_eps, s, m),      rows(d->dragan_u, s, m),
                        rows(d->dragan_a, s, m)};
}

static shard_plan plan_of(const gt_gan *gan, int64_t batch) {
    GT_CHECK(batch % gan->accumulate == 0, "accumulate: batch %lld is not a multiple of %d",
             (long long)batch, gan->accumulate);
    return (shard_plan){gan->accumulate, batch / gan->accumulate, gan->real_labels,
                        gan->fake_labels};
}

/* ---- D -------------------------------------------------------------------------------------- */

typedef struct {
    gt_tensor *x_real;     /* the whole batch, noise added */
    gt_tensor **x_fake;    /* [shards]: each shard's fakes, detached, noise added */
    gt_d_draws dr;         /* the whole batch's draws */
} d_inputs;

/* Critic k's update over the shards; with fused penalties (scale > 0) they join each shard's
 * loss. Its logit statistics (critic 0) and penalty are the shards' means. */
static bool critic_sharded(gt_gan *gan, int k, const d_inputs *in, const shard_plan *s,
                           double fused_scale, gt_step_stats *st) {
    gt_critic *c = &gan->critic[k];
    buffer_merge bm;
    buffers_begin(&bm, &c->net->params);
    grad_sum acc = {.p = &c->net->params};
    double pen_before = st->penalty, logit[4] = {0};
    for (int m = 0; m < s->shards; m++) {
        shard_begin(&bm);
        use_labels(gan, s, m);
        gt_d_draws dr = draws_rows(&in->dr, s, m);
        gt_tensor *d_real, *d_fake;
        gt_tensor *loss = gt_critic_d_loss_(gan, k, rows(in->x_real, s, m), in->x_fake[m], &dr,
                                            fused_scale, st, &d_real, &d_fake);
        grads_add(&acc, loss);
        if (k == 0) {
            gt_step_stats one = {0};
            gt_gan_logit_stats_(d_real, d_fake, &one);
            logit[0] += one.d_real_mean, logit[1] += one.d_fake_mean;
            logit[2] += one.d_acc_real, logit[3] += one.d_acc_fake;
        }
        shard_end(&bm);
    }
    restore_labels(gan, s);
    buffers_merge(&bm, s->shards);
    st->penalty = pen_before + (st->penalty - pen_before) / s->shards;
    if (k == 0) {
        st->d_real_mean = logit[0] / s->shards, st->d_fake_mean = logit[1] / s->shards;
        st->d_acc_real = logit[2] / s->shards, st->d_acc_fake = logit[3] / s->shards;
    }
    double value, norm;
    bool ok = grads_apply(&acc, c->opt, s->shards, &value, &norm);
    st->d_loss += value;
    if (k == 0) st->d_grad_norm = norm;
    return ok;
}

/* Lazy regularization over the shards: the penalties alone, weighted by every. */
static bool lazy_sharded(gt_gan *gan, int k, const d_inputs *in, const shard_plan *s,
                         double decay, gt_step_stats *st) {
    gt_critic *c = &gan->critic[k];
    double every = (double)gan->penalty.every;
    buffer_merge bm;
    buffers_begin(&bm, &c->net->params);
    grad_sum acc = {.p = &c->net->params};
    for (int m = 0; m < s->shards; m++) {
        shard_begin(&bm);
        use_labels(gan, s, m);
        gt_d_draws dr = draws_rows(&in->dr, s, m);
        grads_add(&acc, gt_d_penalty(gan, k, rows(in->x_real, s, m), in->x_fake[m], &dr,
                                     decay * every, NULL));
        shard_end(&bm);
    }
    restore_labels(gan, s);
    buffers_merge(&bm, s->shards);
    double value;
    bool ok = grads_apply(&acc, c->opt, s->shards, &value, NULL);
    st->penalty += value / every;
    return ok;
}

/* G(z) shard by shard (G's buffers merged): the fakes [shards], still recorded. */
static gt_tensor **fakes_sharded(gt_gan *gan, gt_tensor *z, const shard_plan *s) {
    gt_tensor **fake = gt_step_alloc_((size_t)s->shards * sizeof *fake);
    buffer_merge bm;
    buffers_begin(&bm, &gan->g->params);
    for (int m = 0; m < s->shards; m++) {
        shard_begin(&bm);
        gt_fwd fg = gt_fwd_of(&gan->g->params, true);
        fg.labels = s->fake_labels ? s->fake_labels + m * s->size : NULL;
        fake[m] = gt_model_forward(gan->g, &fg, rows(z, s, m), NULL);
        shard_end(&bm);
    }
    buffers_merge(&bm, s->shards);
    return fake;
}

gt_tensor *gt_gan_d_step_sharded_(gt_gan *gan, int64_t t, int64_t d_iter, gt_tensor *real,
                                  gt_tensor *z, gt_step_stats *st) {
    shard_plan s = plan_of(gan, real->shape[0]);
    gt_tensor **fake = fakes_sharded(gan, z, &s);
    d_inputs in;
    gt_gan_draw_d(gan, t, real->ndim, real->shape, &in.dr);
    in.x_real = gt_add_noise(real, in.dr.real_noise);
    in.x_fake = gt_step_alloc_((size_t)s.shards * sizeof *in.x_fake);
    for (int m = 0; m < s.shards; m++)
        in.x_fake[m] = gt_add_noise(gt_detach(fake[m]), rows(in.dr.fake_noise, &s, m));

    const gt_penalty_spec *p = &gan->penalty;
    double decay = gt_penalty_decay(p, t);
    bool penalties = gt_penalty_any(p), lazy = p->every > 1;
    bool lazy_now = penalties && lazy && d_iter % p->every == 0;
    st->d_loss = st->penalty = 0;
    st->noise_sigma = gt_noise_sigma(&gan->noise, t);
    st->nonfinite = false;
    for (int k = 0; k < gan->n_critics && !st->nonfinite; k++) {
        bool ok = critic_sharded(gan, k, &in, &s, penalties && !lazy ? decay : 0, st);
        if (ok && lazy_now) ok = lazy_sharded(gan, k, &in, &s, decay, st);
        st->nonfinite = !ok;
    }
    return gt_concat(s.shards, fake, 0);
}

/* ---- G -------------------------------------------------------------------------------------- */

void gt_gan_g_step_sharded_(gt_gan *gan, int64_t t, gt_tensor *fake, gt_tensor *real,
                            gt_step_stats *st) {
    GT_CHECK(gan->unroll.steps == 0, "accumulate: unrolled GANs update on the whole batch");
    shard_plan s = plan_of(gan, fake->shape[0]);
    bool with_real = gt_gan_needs_real_(&gan->loss) && real;
    bool prev = gt_grad_set(false);
    gt_tensor *fake_noise = gt_gan_draw_noise(gan, t, fake->ndim, fake->shape);
    gt_tensor *real_noise = with_real ? gt_gan_draw_noise(gan, t, real->ndim, real->shape) : NULL;
    gt_grad_set(prev);
    gt_tensor *x_real = with_real ? gt_add_noise(real, real_noise) : real;
    buffer_merge bm[GT_MAX_CRITICS];
    for (int k = 0; k < gan->n_critics; k++) buffers_begin(&bm[k], &gan->critic[k].net->params);
    grad_sum acc = {.p = &gan->g->params};
    for (int m = 0; m < s.shards; m++) {
        for (int k = 0; k < gan->n_critics; k++) shard_begin(&bm[k]);
        use_labels(gan, &s, m);
        gt_tensor *x_fake = gt_add_noise(rows(fake, &s, m), rows(fake_noise, &s, m));
        grads_add(&acc, gt_g_objective_with(gan, x_fake, rows(x_real, &s, m), NULL));
        for (int k = 0; k < gan->n_critics; k++) shard_end(&bm[k]);
    }
    restore_labels(gan, &s);
    for (int k = 0; k < gan->n_critics; k++) buffers_merge(&bm[k], s.shards);
    st->nonfinite = !grads_apply(&acc, gan->opt_g, s.shards, &st->g_loss, &st->g_grad_norm);
}
