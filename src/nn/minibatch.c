/* Layers that let D look at a whole batch: minibatch standard deviation (Karras et al. 2018,
 * ProGAN, with StyleGAN2's channel groups) and minibatch discrimination (Salimans et al. 2016).
 * Both are compositions of core ops, so they differentiate to any order. */
#include "core/engine.h"
#include "nn/layers.h"

gt_tensor *gt_mbstd_forward(const gt_mbstd_layer *l, gt_tensor *x) {
    GT_CHECK(x->ndim == 2 || x->ndim == 4, "minibatch std: x must be [N, C] or [N, C, H, W]");
    GT_CHECK(l->group >= 1 && l->channels >= 1, "minibatch std: group %d, channels %d",
             l->group, l->channels);
    int64_t n = x->shape[0], c = x->shape[1], g = l->group, f = l->channels;
    int64_t h = x->ndim == 4 ? x->shape[2] : 1, w = x->ndim == 4 ? x->shape[3] : 1;
    GT_CHECK(n % g == 0,
             "minibatch std: the batch of %lld does not divide by the group size %lld "
             "(mbstd_group of [model.d] or [model.d2]; train.batch must be a multiple of it)",
             (long long)n, (long long)g);
    GT_CHECK(c % f == 0, "minibatch std: %lld channels do not divide into %lld groups "
             "(mbstd_channels)", (long long)c, (long long)f);
    int64_t m = n / g;
    /* [G, M, C, H, W]: sample i = k M + j is member k of group j = i mod M */
    int64_t grouped[5] = {g, m, c, h, w};
    int axis0 = 0, axis2 = 2;
    gt_tensor *var = gt_var(gt_reshape(x, 5, grouped), 1, &axis0, false, false); /* [M, C, H, W] */
    gt_tensor *sd = gt_sqrt(gt_add_scalar(var, 1e-8f));
    int64_t by_group[3] = {m, f, -1};
    gt_tensor *s = gt_mean(gt_reshape(sd, 3, by_group), 1, &axis2, false);        /* [M, F] */
    int64_t one[5] = {1, m, f, 1, 1}, tiled[5] = {g, m, f, h, w};
    gt_tensor *maps = gt_expand(gt_reshape(s, 5, one), 5, tiled);                 /* [G, M, F, H, W] */
    int64_t out[4] = {n, f, h, w};
    gt_tensor *parts[2] = {x, gt_reshape(maps, x->ndim, out)};
    return gt_concat(2, parts, 1);
}

gt_mbdisc_layer gt_mbdisc_declare(gt_params *p, const char *name, int64_t in, int64_t kernels,
                                  int64_t dim) {
    GT_CHECK(kernels >= 1 && dim >= 1, "minibatch discrimination: %lld kernels of dimension %lld",
             (long long)kernels, (long long)dim);
    int64_t s[2] = {kernels * dim, in};
    return (gt_mbdisc_layer){
        .t = gt_params_declare_part(p, name, "weight", 2, s, GT_PARAM_TRAINABLE),
        .kernels = kernels, .dim = dim};
}

gt_tensor *gt_mbdisc_forward(const gt_mbdisc_layer *l, const gt_fwd *f, gt_tensor *x) {
    GT_CHECK(x->ndim == 2, "minibatch discrimination: x must be [N, A]");
    int64_t n = x->shape[0];
    gt_tensor *m = gt_linear(x, f->t[l->t], NULL);                   /* [N, B C] */
    int64_t rows[4] = {n, 1, l->kernels, l->dim}, cols[4] = {1, n, l->kernels, l->dim};
    gt_tensor *diff = gt_sub(gt_reshape(m, 4, rows), gt_reshape(m, 4, cols)); /* [N, N, B, C] */
    int axis3 = 3, axis1 = 1;
    gt_tensor *l1 = gt_sum(gt_abs(diff), 1, &axis3, false);          /* [N, N, B] */
    gt_tensor *o = gt_sum(gt_exp(gt_neg(l1)), 1, &axis1, false);     /* [N, B], j = i included */
    gt_tensor *parts[2] = {x, o};
    return gt_concat(2, parts, 1);
}
