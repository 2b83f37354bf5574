/* Gradient penalties on a critic (tricks.md sections 5 and 7), their schedules, and the random
 * draws of a D update. Every penalty is built on the per-sample squared norm of the gradient of D
 * with respect to its input, taken with create_graph so that D's update differentiates it again
 * (double backward through every op D uses). */
#include <math.h>

#include "base/base.h"
#include "core/engine.h"
#include "gan/shards.h"

#define GP_NORM_EPS 1e-12f /* inside the square root: a finite gradient at a zero gradient */

double gt_noise_sigma(const gt_noise_spec *s, int64_t t) {
    if (s->sigma <= 0 || s->anneal == GT_ANNEAL_NONE || s->steps <= 0) return s->sigma;
    double frac = (double)t / (double)s->steps;
    if (frac >= 1) return 0;
    if (s->anneal == GT_ANNEAL_LINEAR) return s->sigma * (1 - frac);
    return s->sigma * pow(100.0, -frac);
}

double gt_penalty_decay(const gt_penalty_spec *s, int64_t t) {
    if (s->decay == GT_DECAY_NONE || s->decay_steps <= 0) return 1;
    double frac = fmin(1.0, (double)t / (double)s->decay_steps);
    return s->decay_floor + (1 - s->decay_floor) * 0.5 * (1 + cos(GT_PI * frac));
}

bool gt_penalty_any(const gt_penalty_spec *s) {
    return s->gp > 0 || s->dragan > 0 || s->r1 > 0 || s->r2 > 0;
}

/* ---- Draws ------------------------------------------------------------------------------------ */

/* [N, 1, ...] with the batch's rank: one value per sample. */
static void per_sample_shape(int ndim, const int64_t *shape, int64_t *out) {
    out[0] = shape[0];
    for (int i = 1; i < ndim; i++) out[i] = 1;
}

/* U[0, 1) per pack of m samples, repeated for each of its samples: [N, 1, ...] (m = 1: per
 * sample). The draw takes N / m values, so without packing it is the per-sample draw. */
static gt_tensor *uniform_per_pack(gt_rng *rng, int ndim, const int64_t *shape, int m) {
    int64_t packs[2] = {shape[0] / m, 1}, members[2] = {shape[0] / m, m}, out[GT_MAX_DIMS];
    per_sample_shape(ndim, shape, out);
    gt_tensor *u = gt_rand_uniform(rng, 2, packs, 0.0f, 1.0f);
    if (m > 1) u = gt_expand(u, 2, members);
    return gt_reshape(u, ndim, out);
}

gt_tensor *gt_gan_draw_noise(gt_gan *gan, int64_t t, int ndim, const int64_t *shape) {
    double sigma = gt_noise_sigma(&gan->noise, t);
    if (sigma <= 0) return NULL;
    gt_tensor *noise = gt_rand_normal(&gan->rng, ndim, shape, 0.0f, (float)sigma);
    if (gan->noise.fraction >= 1) return noise;
    int64_t ps[GT_MAX_DIMS];
    per_sample_shape(ndim, shape, ps);
    gt_tensor *u = gt_rand_uniform(&gan->rng, ndim, ps, 0.0f, 1.0f);
    gt_tensor *chosen = gt_greater(gt_scalar((float)gan->noise.fraction), u); /* u < fraction */
    return gt_mul(noise, chosen);
}


/* The plain targets 1 and 0 are left as scalars (NULL tensors): the exact plain loss. */
static bool plain_labels(const gt_label_spec *l) {
    return !l->uniform && l->real == 1.0 && l->fake == 0.0 && l->flip <= 0;
}

static void draw_targets(gt_gan *gan, int64_t n, gt_d_draws *dr) {
    const gt_label_spec *l = &gan->labels;
    int64_t shape[2] = {n, 1};
    gt_tensor *rt, *ft;
    if (l->uniform) {
        rt = gt_rand_uniform(&gan->rng, 2, shape, (float)l->real_lo, (float)l->real_hi);
        ft = gt_rand_uniform(&gan->rng, 2, shape, (float)l->fake_lo, (float)l->fake_hi);
    } else {
        rt = gt_full(2, shape, (float)l->real);
        ft = gt_full(2, shape, (float)l->fake);
    }
    if (l->flip > 0) { /* each sample's pair of targets swaps with probability flip */
        gt_tensor *u = gt_rand_uniform(&gan->rng, 2, shape, 0.0f, 1.0f);
        gt_tensor *flip = gt_greater(gt_scalar((float)l->flip), u);
        gt_tensor *swapped_real = gt_where(flip, ft, rt);
        ft = gt_where(flip, rt, ft);
        rt = swapped_real;
    }
    dr->real_target = rt;
    dr->fake_target = ft;
}

void gt_gan_draw_d(gt_gan *gan, int64_t t, int ndim, const int64_t *shape, gt_d_draws *dr) {
    *dr = (gt_d_draws){0};
    int m = gt_critic_pack_(&gan->critic[0]);
    GT_CHECK(shape[0] % m == 0, "draws: a batch of %lld does not split into packs of %d",
             (long long)shape[0], m);
    bool prev = gt_grad_set(false);
    if (gan->loss.kind->uses_targets && !plain_labels(&gan->labels)) draw_targets(gan, shape[0] / m, dr);
    dr->real_noise = gt_gan_draw_noise(gan, t, ndim, shape);
    dr->fake_noise = gt_gan_draw_noise(gan, t, ndim, shape);
    if (gan->penalty.gp > 0) dr->gp_eps = uniform_per_pack(&gan->rng, ndim, shape, m);
    if (gan->penalty.dragan > 0) {
        dr->dragan_u = gt_rand_uniform(&gan->rng, ndim, shape, 0.0f, 1.0f);
        dr->dragan_a = uniform_per_pack(&gan->rng, ndim, shape, m);
    }
    if (gt_augment_on(&gan->augment)) {
        dr->aug_real = gt_augment_draw(&gan->rng, shape[0]);
        dr->aug_fake = gt_augment_draw(&gan->rng, shape[0]);
    }
    gt_grad_set(prev);
}

void gt_gan_draw_g(gt_gan *gan, int64_t t, int ndim, const int64_t *fake_shape,
                   const gt_tensor *real, gt_g_draws *dr) {
    *dr = (gt_g_draws){0};
    bool with_real = gt_gan_needs_real_(&gan->loss) && real, prev = gt_grad_set(false);
    dr->fake_noise = gt_gan_draw_noise(gan, t, ndim, fake_shape);
    if (with_real) dr->real_noise = gt_gan_draw_noise(gan, t, real->ndim, real->shape);
    if (gt_augment_on(&gan->augment)) {
        dr->aug_fake = gt_augment_draw(&gan->rng, fake_shape[0]);
        if (with_real) dr->aug_real = gt_augment_draw(&gan->rng, real->shape[0]);
    }
    gt_grad_set(prev);
}

gt_tensor *gt_add_noise(gt_tensor *x, gt_tensor *noise) { return noise ? gt_add(x, noise) : x; }

gt_tensor *gt_gan_d_view(const gt_gan *gan, gt_tensor *x, gt_tensor *noise, gt_augment_draws aug) {
    x = gt_add_noise(x, noise);
    return aug.u ? gt_augment(&gan->augment, x, aug) : x;
}

/* ---- Penalties -------------------------------------------------------------------------------- */

gt_tensor *gt_critic_grad_sq_norm(const gt_critic *c, const gt_fwd *f, gt_tensor *x) {
    gt_tensor *leaf = gt_detach(x);
    gt_set_requires_grad(leaf, true);
    gt_tensor *out = gt_sum_all(gt_critic_forward(c, f, leaf, NULL));
    gt_tensor *g = NULL;
    gt_grad(1, &out, NULL, 1, &leaf, &g, true);
    int64_t flat[2] = {x->shape[0] / gt_critic_pack_(c), -1}; /* a pack's samples are adjacent */
    int axis = 1;
    return gt_sum(gt_square(gt_reshape(g, 2, flat)), 1, &axis, false);
}

/* E (||g|| - center)^2, or E max(0, ||g|| - center)^2 one-sided, from squared norms [N]. */
static gt_tensor *norm_penalty(gt_tensor *sq, double center, bool one_sided) {
    gt_tensor *dev = gt_add_scalar(gt_sqrt(gt_add_scalar(sq, GP_NORM_EPS)), (float)-center);
    if (one_sided) dev = gt_relu(dev);
    return gt_mean_all(gt_square(dev));
}

/* WGAN-GP: at x^ = x~ + e (x - x~) = e x + (1 - e) x~. */
static gt_tensor *wgan_gp(const gt_gan *gan, const gt_critic *c, const gt_fwd *f, gt_tensor *real,
                          gt_tensor *fake, gt_tensor *eps) {
    gt_tensor *x_hat = gt_add(fake, gt_mul(eps, gt_sub(real, fake)));
    return norm_penalty(gt_critic_grad_sq_norm(c, f, x_hat), gan->penalty.gp_center,
                        gan->penalty.gp_one_sided);
}

/* DRAGAN: x_p = x + c std(x) u, x^ = x + a (x_p - x); std over the whole batch, biased. */
static gt_tensor *dragan(const gt_gan *gan, const gt_critic *c, const gt_fwd *f, gt_tensor *real,
                         gt_tensor *u, gt_tensor *a) {
    bool prev = gt_grad_set(false);
    float std = sqrtf(gt_item(gt_var(real, 0, NULL, false, false)));
    gt_tensor *x_hat = gt_add(real, gt_mul(a, gt_mul_scalar(u, (float)gan->penalty.dragan_c * std)));
    gt_grad_set(prev);
    return norm_penalty(gt_critic_grad_sq_norm(c, f, x_hat), 1.0, false);
}

static gt_tensor *add_term(gt_tensor *sum, gt_tensor *term, double weight) {
    gt_tensor *w = gt_mul_scalar(term, (float)weight);
    return sum ? gt_add(sum, w) : w;
}

gt_tensor *gt_d_penalty(const gt_gan *gan, int k, gt_tensor *real, gt_tensor *fake,
                        const gt_d_draws *dr, double scale, double parts[4]) {
    const gt_penalty_spec *p = &gan->penalty;
    const gt_critic *c = &gan->critic[k];
    gt_fwd own = gt_fwd_of(&c->net->params, true);
    /* conditional: interpolates and perturbed reals take the real labels, fakes their own */
    gt_fwd f = gt_fwd_labelled(&own, gan->real_labels), ff = gt_fwd_labelled(&own, gan->fake_labels);
    real = gt_detach(real);
    fake = gt_detach(fake);
    gt_tensor *terms[4] = {0}, *sum = NULL;
    if (p->gp > 0) sum = add_term(sum, terms[0] = wgan_gp(gan, c, &f, real, fake, dr->gp_eps), scale * p->gp);
    if (p->dragan > 0)
        sum = add_term(sum, terms[1] = dragan(gan, c, &f, real, dr->dragan_u, dr->dragan_a), scale * p->dragan);
    if (p->r1 > 0)
        sum = add_term(sum, terms[2] = gt_mean_all(gt_critic_grad_sq_norm(c, &f, real)), scale * p->r1 / 2);
    if (p->r2 > 0)
        sum = add_term(sum, terms[3] = gt_mean_all(gt_critic_grad_sq_norm(c, &ff, fake)), scale * p->r2 / 2);
    for (int i = 0; parts && i < 4; i++) parts[i] = terms[i] ? gt_item(terms[i]) : 0;
    return sum;
}
