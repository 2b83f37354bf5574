/* Fused batch normalisation: batch_norm (per-channel statistics and the normalised input),
 * batch_norm_affine (the same followed by the layer's per-channel scale and shift) and
 * batch_norm_backward (the input gradient, a two-pass kernel). Their rules are written in ops:
 * batch_norm's calls batch_norm_backward; batch_norm_backward's calls itself (the map dy -> dx
 * is self-adjoint) and composites, so gradients of gradients through batch norm still work. */
#include "core/internal.h"

/* x as [n, c, s]: the batch, the channels (axis 1), and everything after. */
static void channel_layout(const gt_tensor *x, const char *op, int64_t *n, int64_t *c,
                           int64_t *s) {
    GT_CHECK(x->ndim >= 2, "%s: x must have at least 2 dims [N, C, ...], got %d", op, x->ndim);
    *n = x->shape[0];
    *c = x->shape[1];
    *s = gt_shape_numel_(x->ndim - 2, x->shape + 2);
}

/* Every axis but the channel axis 1; returns how many. */
static int non_channel_axes(int ndim, int *axes) {
    int k = 0;
    for (int i = 0; i < ndim; i++)
        if (i != 1) axes[k++] = i;
    return k;
}

/* [C] viewed as [1, C, 1, ...] against an ndim-dim tensor. */
static gt_tensor *per_channel(gt_tensor *v, int ndim) {
    int64_t shape[GT_MAX_DIMS];
    for (int i = 0; i < ndim; i++) shape[i] = i == 1 ? v->numel : 1;
    return gt_reshape(v, ndim, shape);
}

/* Per-channel sum ([C]) or mean (kept as [1, C, 1, ...]) of x. */
static gt_tensor *channel_sum(gt_tensor *x) {
    int axes[GT_MAX_DIMS], k = non_channel_axes(x->ndim, axes);
    return gt_sum(x, k, axes, false);
}
static gt_tensor *channel_mean(gt_tensor *x) {
    int axes[GT_MAX_DIMS], k = non_channel_axes(x->ndim, axes);
    return gt_mean(x, k, axes, true);
}

gt_tensor *gt_batch_norm(gt_tensor *x, float eps, gt_tensor **mean, gt_tensor **var) {
    int64_t n, c, s;
    channel_layout(x, "batch_norm", &n, &c, &s);
    GT_CHECK(n * s > 0, "batch_norm: no values per channel in x");
    gt_tensor *y = gt_new_like_(x), *m = gt_new_(1, &c), *v = gt_new_(1, &c), *r = gt_new_(1, &c);
    gt_be()->batch_norm(y->data, m->data, v->data, r->data, gt_contiguous_data_(x), n, c, s, eps);
    gt_node *nd = gt_record_(GT_OP_BATCH_NORM, y, 1, &x);
    if (nd) {
        nd->saved = r;
        nd->fattr[0] = eps;
    }
    if (mean) *mean = m;
    if (var) *var = v;
    return y;
}

gt_tensor *gt_batch_norm_backward(gt_tensor *dy, gt_tensor *xhat, gt_tensor *invstd) {
    int64_t n, c, s;
    channel_layout(dy, "batch_norm_backward", &n, &c, &s);
    GT_CHECK(gt_same_shape(dy, xhat), "batch_norm_backward: dy and xhat must have one shape");
    GT_CHECK(invstd->ndim == 1 && invstd->numel == c,
             "batch_norm_backward: invstd must be [%lld]", (long long)c);
    GT_CHECK(n * s > 0, "batch_norm_backward: no values per channel");
    gt_tensor *dx = gt_new_like_(dy);
    gt_be()->batch_norm_backward(dx->data, NULL, NULL, gt_contiguous_data_(dy),
                                 gt_contiguous_data_(xhat), gt_contiguous_data_(invstd), n, c, s);
    gt_tensor *in[3] = {dy, xhat, invstd};
    gt_record_(GT_OP_BATCH_NORM_BACKWARD, dx, 3, in);
    return dx;
}

/* y = xhat(x): dx = batch_norm_backward(dy, y, invstd). The saved invstd is a constant; when
 * the walk records itself (create_graph) dx is differentiated again, through y and invstd
 * both, so invstd is then rebuilt from x in ops. */
void gt_bw_batch_norm(const gt_node *n, gt_tensor *dy, gt_tensor **dx) {
    gt_tensor *x = n->in[0], *invstd = n->saved;
    if (gt_grad_enabled()) {
        int axes[GT_MAX_DIMS], k = non_channel_axes(x->ndim, axes);
        invstd = gt_rsqrt(gt_add_scalar(gt_var(x, k, axes, false, false), n->fattr[0]));
    }
    dx[0] = gt_batch_norm_backward(dy, n->out, invstd);
}

/* out = r (g - mean(g) - h mean(g h)) per channel, seed u:
 *   dg = r (u - mean(u) - h mean(u h))          (= batch_norm_backward(u, h, r))
 *   dh = -r (u mean(g h) + g mean(u h))
 *   dr = sum(u out) / r                          (per channel) */
void gt_bw_batch_norm_backward(const gt_node *n, gt_tensor *u, gt_tensor **dx) {
    gt_tensor *g = n->in[0], *h = n->in[1], *r = n->in[2];
    if (gt_wants_grad_(g)) dx[0] = gt_batch_norm_backward(u, h, r);
    if (gt_wants_grad_(h)) {
        gt_tensor *t = gt_add(gt_mul(u, channel_mean(gt_mul(g, h))),
                              gt_mul(g, channel_mean(gt_mul(u, h))));
        dx[1] = gt_neg(gt_mul(t, per_channel(r, g->ndim)));
    }
    if (gt_wants_grad_(r)) dx[2] = gt_div(channel_sum(gt_mul(u, n->out)), r);
}

gt_tensor *gt_batch_norm_affine(gt_tensor *x, gt_tensor *gamma, gt_tensor *beta, float eps,
                                gt_tensor **mean, gt_tensor **var) {
    int64_t n, c, s;
    channel_layout(x, "batch_norm_affine", &n, &c, &s);
    GT_CHECK(n * s > 0, "batch_norm_affine: no values per channel in x");
    GT_CHECK(gamma->numel == c && beta->numel == c,
             "batch_norm_affine: gamma and beta must have %lld elements", (long long)c);
    bool keep = gt_grad_enabled() && (x->requires_grad || gamma->requires_grad ||
                                      beta->requires_grad);
    gt_tensor *y = gt_new_like_(x), *h = keep ? gt_new_like_(x) : NULL;
    gt_tensor *m = gt_new_(1, &c), *v = gt_new_(1, &c), *r = gt_new_(1, &c);
    gt_be()->batch_norm_affine(y->data, h ? h->data : NULL, m->data, v->data, r->data,
                               gt_contiguous_data_(x), gt_contiguous_data_(gamma),
                               gt_contiguous_data_(beta), n, c, s, eps);
    gt_tensor *in[3] = {x, gamma, beta};
    gt_node *nd = gt_record_(GT_OP_BATCH_NORM_AFFINE, y, 3, in);
    if (nd) {
        nd->saved = h;
        nd->saved2 = r;
        nd->fattr[0] = eps;
        gt_forward_done_(h); /* only the backward reads xhat: bf16 under that precision */
    }
    if (mean) *mean = m;
    if (var) *var = v;
    return y;
}

/* y = xhat gamma + beta. Since batch_norm_backward is linear in dy with a per-channel factor,
 * dx = batch_norm_backward(dy gamma, xhat, invstd) = batch_norm_backward(dy, xhat, invstd gamma);
 * dgamma = sum(dy xhat) and dbeta = sum(dy) are the sums that kernel makes anyway. A first-order
 * walk takes them all from one two-pass kernel call on the saved xhat and invstd (constants);
 * a walk that records itself rebuilds xhat and invstd from x in ops. */
void gt_bw_batch_norm_affine(const gt_node *n, gt_tensor *dy, gt_tensor **dx) {
    gt_tensor *x = n->in[0], *gamma = n->in[1], *beta = n->in[2];
    bool wx = gt_wants_grad_(x), wg = gt_wants_grad_(gamma), wb = gt_wants_grad_(beta);
    if (!gt_grad_enabled()) {
        int64_t nn, c, s;
        channel_layout(dy, "batch_norm_affine", &nn, &c, &s);
        gt_tensor *d = wx ? gt_new_like_(dy) : NULL;
        gt_tensor *sg = wb ? gt_new_(1, &c) : NULL, *sgh = wg ? gt_new_(1, &c) : NULL;
        gt_tensor *scale = gt_mul(n->saved2, gt_reshape(gamma, 1, &c));
        gt_be()->batch_norm_backward(d ? d->data : NULL, sg ? sg->data : NULL,
                                     sgh ? sgh->data : NULL, gt_contiguous_data_(dy),
                                     n->saved->data, scale->data, nn, c, s);
        if (gt_profile_enabled()) gt_profile_op_(GT_OP_BATCH_NORM_AFFINE, n->out, 3, n->in);
        dx[0] = d;
        if (wg) dx[1] = gt_reshape(sgh, gamma->ndim, gamma->shape);
        if (wb) dx[2] = gt_reshape(sg, beta->ndim, beta->shape);
        return;
    }
    gt_tensor *xhat = gt_batch_norm(x, n->fattr[0], NULL, NULL);
    if (wx) {
        int axes[GT_MAX_DIMS], k = non_channel_axes(x->ndim, axes);
        gt_tensor *invstd = gt_rsqrt(gt_add_scalar(gt_var(x, k, axes, false, false), n->fattr[0]));
        dx[0] = gt_batch_norm_backward(dy, xhat, gt_mul(invstd, gt_reshape(gamma, 1, &invstd->numel)));
    }
    if (wg) dx[1] = gt_reshape(channel_sum(gt_mul(dy, xhat)), gamma->ndim, gamma->shape);
    if (wb) dx[2] = gt_reshape(channel_sum(dy), beta->ndim, beta->shape);
}
