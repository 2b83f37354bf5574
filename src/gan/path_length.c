/* Path length regularization (Karras et al. 2020, StyleGAN2; tricks.md section 6): G's Jacobian
 * with respect to w, probed with a random image-space direction, is pushed towards a constant
 * length a (a running mean). A lazy G regularizer: a separate update every k G steps with weight
 * times k, G's Adam corrected like D's for lazy penalties (trainer.c). The gradient is taken with
 * create_graph, so G's update differentiates through it (second order through the synthesis). */
#include <math.h>

#include "core/engine.h"
#include "gan/shards.h"

gt_tensor *gt_path_length_penalty(const gt_model *g, const gt_fwd *f, gt_tensor *ws, gt_tensor *y,
                                  double decay, double *mean_io) {
    GT_CHECK(g->family->synthesis != NULL, "path length: G's family '%s' has no synthesis from w",
             g->family->name);
    gt_tensor *img = g->family->synthesis(g, f, ws);
    GT_CHECK(gt_same_shape(img, y), "path length: y must be shaped like G's images");
    gt_tensor *out = gt_sum_all(gt_mul(img, y));
    gt_tensor *grad = NULL;
    gt_grad(1, &out, NULL, 1, &ws, &grad, true);
    int axis2 = 2, axis1 = 1;
    gt_tensor *sq = gt_sum(gt_square(grad), 1, &axis2, false);          /* [N, num_ws] */
    gt_tensor *len = gt_sqrt(gt_mean(sq, 1, &axis1, false));             /* [N] */
    bool prev = gt_grad_set(false);
    double mean_len = gt_item(gt_mean_all(gt_detach(len)));
    gt_grad_set(prev);
    double a = *mean_io + decay * (mean_len - *mean_io);
    *mean_io = a;
    return gt_mean_all(gt_square(gt_add_scalar(len, (float)-a)));
}

bool gt_gan_pl_due(const gt_gan *gan, int64_t t) {
    return gan->pl.weight > 0 && gan->pl.every > 0 && t % gan->pl.every == 0;
}

gt_tensor *gt_gan_pl_loss_(gt_gan *gan, gt_tensor *z, int64_t first, int64_t total,
                          double *mean_io, double *penalty) {
    gt_model *g = gan->g;
    GT_CHECK(g->family->mapping != NULL, "path length: G's family '%s' has no mapping",
             g->family->name);
    gt_fwd f = gt_fwd_of(&g->params, true);
    f.draw_first = first, f.draw_total = total;
    gt_tensor *ws = g->family->mapping(g, &f, z);
    /* y is drawn for the image's shape, which the synthesis fixes: c x h x w of the spec */
    int64_t ys[4] = {z->shape[0], g->spec.c, g->spec.h, g->spec.w};
    bool prev = gt_grad_set(false);
    gt_tensor *y = gt_mul_scalar(gt_rand_normal_rows(&gan->rng, first, total, 4, ys, 0, 1),
                                 (float)(1.0 / sqrt((double)(g->spec.h * g->spec.w))));
    gt_grad_set(prev);
    gt_tensor *pen = gt_path_length_penalty(g, &f, ws, y, gan->pl.decay, mean_io);
    *penalty = gt_item(pen);
    return gt_mul_scalar(pen, (float)(gan->pl.weight * (double)gan->pl.every));
}

bool gt_gan_pl_update_(gt_gan *gan, double penalty, double norm, double mean) {
    gt_gan_update_hook_(gan->opt_g, &penalty);
    if (!isfinite(penalty) || !isfinite(norm) || !isfinite(mean)) return false;
    gt_optim_step(gan->opt_g);
    gan->pl_mean = mean;
    return true;
}

bool gt_gan_pl_step(gt_gan *gan, gt_tensor *z, gt_step_stats *st) {
    if (gan->accumulate > 1 || gan->comm) return gt_gan_pl_step_sharded_(gan, z, st);
    double mean = gan->pl_mean, penalty;
    gt_tensor *loss = gt_gan_pl_loss_(gan, z, 0, 0, &mean, &penalty);
    double norm = gt_gan_grads_into(&gan->g->params, loss);
    st->pl_penalty = penalty;
    st->nonfinite = !gt_gan_pl_update_(gan, penalty, norm, mean);
    return !st->nonfinite;
}
