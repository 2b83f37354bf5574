/* The self-attention block of SAGAN (Zhang et al. 2019), laid out as BigGAN-PyTorch's
 * layers.Attention: 1x1 convs theta, phi (to C/8) and g (to C/2), 2x2 max pooling on phi and g,
 * softmax over the pooled positions, a 1x1 conv back to C, and a residual scaled by gamma
 * (a trainable scalar starting at 0). Composed of core ops: it differentiates to any order. */
#include "core/engine.h"
#include "nn/layers.h"

#include <stdio.h>

gt_attention_layer gt_attention_declare(gt_params *p, const char *name, int64_t channels) {
    GT_CHECK(channels >= 8, "attention: %lld channels (needs at least 8)", (long long)channels);
    int64_t c8 = channels / 8, c2 = channels / 2, one = 1;
    char part[GT_PARAM_NAME_MAX];
    gt_attention_layer l = {.channels = channels};
#define CONV(field, cin, cout)                                                   \
    snprintf(part, sizeof part, "%s.%s", name, #field);                          \
    l.field = gt_conv2d_declare(p, part, cin, cout, 1, 1, 0, false)
    CONV(theta, channels, c8);
    CONV(phi, channels, c8);
    CONV(g, channels, c2);
    CONV(o, c2, channels);
#undef CONV
    l.gamma = gt_params_declare_part(p, name, "gamma", 1, &one, GT_PARAM_TRAINABLE);
    return l;
}

void gt_attention_spectral_norm(gt_attention_layer *l, gt_params *p, int iterations) {
    gt_conv2d_spectral_norm(&l->theta, p, iterations);
    gt_conv2d_spectral_norm(&l->phi, p, iterations);
    gt_conv2d_spectral_norm(&l->g, p, iterations);
    gt_conv2d_spectral_norm(&l->o, p, iterations);
}

gt_tensor *gt_attention_forward(const gt_attention_layer *l, const gt_fwd *f, gt_tensor *x) {
    GT_CHECK(x->ndim == 4 && x->shape[1] == l->channels,
             "attention: x must be [N, %lld, H, W]", (long long)l->channels);
    int64_t n = x->shape[0], h = x->shape[2], w = x->shape[3];
    GT_CHECK(h >= 2 && w >= 2, "attention: a %lldx%lld map is too small to pool", (long long)h,
             (long long)w);
    int64_t c8 = l->channels / 8, c2 = l->channels / 2;
    gt_tensor *phi = gt_max_pool2d(gt_conv2d_forward(&l->phi, f, x), 2, 2, 0);
    gt_tensor *g = gt_max_pool2d(gt_conv2d_forward(&l->g, f, x), 2, 2, 0);
    int64_t pooled = phi->shape[2] * phi->shape[3];
    int64_t ts[3] = {n, c8, h * w}, ps[3] = {n, c8, pooled}, gs[3] = {n, c2, pooled};
    gt_tensor *theta = gt_reshape(gt_conv2d_forward(&l->theta, f, x), 3, ts);  /* [N, C/8, HW] */
    /* beta[n, i, j] = softmax_j(theta_i . phi_j): position i attends to pooled position j */
    gt_tensor *beta = gt_softmax(gt_matmul(theta, gt_reshape(phi, 3, ps), true, false), 2);
    gt_tensor *og = gt_matmul(gt_reshape(g, 3, gs), beta, false, true);          /* [N, C/2, HW] */
    int64_t os[4] = {n, c2, h, w}, one[4] = {1, 1, 1, 1};
    gt_tensor *o = gt_conv2d_forward(&l->o, f, gt_reshape(og, 4, os));
    return gt_add(x, gt_mul(gt_reshape(f->t[l->gamma], 4, one), o));
}
