/* Convolutions, pooling and resampling (NCHW). conv2d, conv_transpose2d and conv2d_weight_grad
 * form a trio whose backward rules are each other; the pooling ops pair with their adjoints
 * (avg_pool2d / avg_pool2d_adjoint, upsample2x / sum_pool2x, gather / scatter_add). */
#include <string.h>

#include "core/internal.h"

gt_conv_opts gt_conv_opts_default(void) {
    return (gt_conv_opts){.stride = {1, 1}, .padding = {0, 0}, .dilation = {1, 1}, .groups = 1};
}

static void opts_store(gt_node *n, gt_conv_opts o) {
    int64_t v[7] = {o.stride[0], o.stride[1], o.padding[0], o.padding[1],
                    o.dilation[0], o.dilation[1], o.groups};
    memcpy(n->attr, v, sizeof v);
}

static gt_conv_opts opts_load(const gt_node *n) {
    gt_conv_opts o = gt_conv_opts_default();
    o.stride[0] = (int)n->attr[0];
    o.stride[1] = (int)n->attr[1];
    o.padding[0] = (int)n->attr[2];
    o.padding[1] = (int)n->attr[3];
    o.dilation[0] = (int)n->attr[4];
    o.dilation[1] = (int)n->attr[5];
    o.groups = (int)n->attr[6];
    return o;
}

/* Output size of a convolution along one axis. */
static int64_t conv_out(int64_t in, int64_t k, int s, int p, int d) {
    return (in + 2 * p - d * (k - 1) - 1) / s + 1;
}

/* The forward convolution's geometry: x [n, c_in, h_in, w_in] -> y [n, c_out, h_out, w_out]. */
static gt_conv_geom geom_of(const int64_t *x_shape, const int64_t *y_shape, int64_t kh,
                            int64_t kw, gt_conv_opts o) {
    GT_CHECK(o.stride[0] > 0 && o.stride[1] > 0 && o.dilation[0] > 0 && o.dilation[1] > 0 &&
                 o.padding[0] >= 0 && o.padding[1] >= 0 && o.groups > 0,
             "conv: stride and dilation must be positive, padding non-negative");
    GT_CHECK(x_shape[1] % o.groups == 0 && y_shape[1] % o.groups == 0,
             "conv: channels %lld -> %lld not divisible by groups %d", (long long)x_shape[1],
             (long long)y_shape[1], o.groups);
    GT_CHECK(conv_out(x_shape[2], kh, o.stride[0], o.padding[0], o.dilation[0]) == y_shape[2] &&
                 conv_out(x_shape[3], kw, o.stride[1], o.padding[1], o.dilation[1]) == y_shape[3],
             "conv: spatial sizes %lldx%lld and %lldx%lld do not match the kernel and options",
             (long long)x_shape[2], (long long)x_shape[3], (long long)y_shape[2],
             (long long)y_shape[3]);
    return (gt_conv_geom){.n = x_shape[0], .c_in = x_shape[1], .h_in = x_shape[2],
                          .w_in = x_shape[3], .c_out = y_shape[1], .h_out = y_shape[2],
                          .w_out = y_shape[3], .kh = kh, .kw = kw, .sh = o.stride[0],
                          .sw = o.stride[1], .ph = o.padding[0], .pw = o.padding[1],
                          .dh = o.dilation[0], .dw = o.dilation[1], .groups = o.groups,
                          .bf16 = gt_bf16_()};
}

/* y + bias per channel, over the fresh convolution output y (gt_add_into_). */
static gt_tensor *add_channel_bias(gt_tensor *y, gt_tensor *bias) {
    if (!bias) return y;
    GT_CHECK(bias->numel == y->shape[1], "conv: bias has %lld elements for %lld channels",
             (long long)bias->numel, (long long)y->shape[1]);
    int64_t s[4] = {1, y->shape[1], 1, 1};
    return gt_add_into_(y, gt_reshape(bias, 4, s));
}

static gt_tensor *conv2d_nobias(gt_tensor *x, gt_tensor *w, gt_conv_opts o) {
    GT_CHECK(x->ndim == 4 && w->ndim == 4, "conv2d: x and w must be 4-D");
    GT_CHECK(w->shape[1] * o.groups == x->shape[1], "conv2d: w takes %lld x %d channels, x has %lld",
             (long long)w->shape[1], o.groups, (long long)x->shape[1]);
    int64_t ho = conv_out(x->shape[2], w->shape[2], o.stride[0], o.padding[0], o.dilation[0]);
    int64_t wo = conv_out(x->shape[3], w->shape[3], o.stride[1], o.padding[1], o.dilation[1]);
    GT_CHECK(ho > 0 && wo > 0, "conv2d: the kernel is larger than the padded input");
    int64_t ys[4] = {x->shape[0], w->shape[0], ho, wo};
    gt_conv_geom g = geom_of(x->shape, ys, w->shape[2], w->shape[3], o);
    gt_tensor *y = gt_new_(4, ys);
    gt_be()->conv2d(gt_ws_(), &g, y->data, gt_contiguous_data_(x), gt_contiguous_data_(w));
    gt_tensor *in[2] = {x, w};
    gt_node *n = gt_record_(GT_OP_CONV2D, y, 2, in);
    if (n) opts_store(n, o);
    return y;
}

gt_tensor *gt_conv2d(gt_tensor *x, gt_tensor *w, gt_tensor *bias, gt_conv_opts o) {
    return add_channel_bias(conv2d_nobias(x, w, o), bias);
}

/* conv_transpose2d to an explicit output size: x is the conv's output space [N, C_in, H, W],
 * the result its input space [N, C_out, h_out, w_out]. */
gt_tensor *gt_conv_transpose2d_to_(gt_tensor *x, gt_tensor *w, gt_conv_opts o, int64_t h_out,
                                   int64_t w_out) {
    GT_CHECK(x->ndim == 4 && w->ndim == 4, "conv_transpose2d: x and w must be 4-D");
    GT_CHECK(w->shape[0] == x->shape[1], "conv_transpose2d: w has %lld input channels, x has %lld",
             (long long)w->shape[0], (long long)x->shape[1]);
    int64_t ys[4] = {x->shape[0], w->shape[1] * o.groups, h_out, w_out};
    gt_conv_geom g = geom_of(ys, x->shape, w->shape[2], w->shape[3], o);
    gt_tensor *y = gt_new_(4, ys);
    gt_be()->conv2d_input_grad(gt_ws_(), &g, y->data, gt_contiguous_data_(x), gt_contiguous_data_(w));
    gt_tensor *in[2] = {x, w};
    gt_node *n = gt_record_(GT_OP_CONV_TRANSPOSE2D, y, 2, in);
    if (n) {
        opts_store(n, o);
        n->attr[7] = h_out;
        n->attr[8] = w_out;
    }
    return y;
}

gt_tensor *gt_conv_transpose2d(gt_tensor *x, gt_tensor *w, gt_tensor *bias, gt_conv_opts o) {
    GT_CHECK(x->ndim == 4 && w->ndim == 4, "conv_transpose2d: x and w must be 4-D");
    int64_t h = (x->shape[2] - 1) * o.stride[0] - 2 * o.padding[0] +
                o.dilation[0] * (w->shape[2] - 1) + o.output_padding[0] + 1;
    int64_t wd = (x->shape[3] - 1) * o.stride[1] - 2 * o.padding[1] +
                 o.dilation[1] * (w->shape[3] - 1) + o.output_padding[1] + 1;
    GT_CHECK(h > 0 && wd > 0, "conv_transpose2d: empty output");
    return add_channel_bias(gt_conv_transpose2d_to_(x, w, o, h, wd), bias);
}

gt_tensor *gt_conv2d_weight_grad(gt_tensor *x, gt_tensor *dy, int kh, int kw, gt_conv_opts o) {
    GT_CHECK(x->ndim == 4 && dy->ndim == 4 && x->shape[0] == dy->shape[0],
             "conv2d_weight_grad: x and dy must be 4-D with one batch size");
    gt_conv_geom g = geom_of(x->shape, dy->shape, kh, kw, o);
    int64_t ws[4] = {dy->shape[1], x->shape[1] / o.groups, kh, kw};
    gt_tensor *w = gt_new_(4, ws);
    gt_be()->conv2d_weight_grad(gt_ws_(), &g, w->data, gt_contiguous_data_(x), gt_contiguous_data_(dy));
    gt_tensor *in[2] = {x, dy};
    gt_node *n = gt_record_(GT_OP_CONV2D_WEIGHT_GRAD, w, 2, in);
    if (n) opts_store(n, o);
    return w;
}

void gt_bw_conv2d(const gt_node *n, gt_tensor *dy, gt_tensor **dx) {
    gt_tensor *x = n->in[0], *w = n->in[1];
    gt_conv_opts o = opts_load(n);
    if (gt_wants_grad_(x)) dx[0] = gt_conv_transpose2d_to_(dy, w, o, x->shape[2], x->shape[3]);
    if (gt_wants_grad_(w)) dx[1] = gt_conv2d_weight_grad(x, dy, (int)w->shape[2], (int)w->shape[3], o);
}

void gt_bw_conv_transpose2d(const gt_node *n, gt_tensor *dy, gt_tensor **dx) {
    gt_tensor *x = n->in[0], *w = n->in[1];
    gt_conv_opts o = opts_load(n);
    if (gt_wants_grad_(x)) dx[0] = conv2d_nobias(dy, w, o);
    if (gt_wants_grad_(w)) dx[1] = gt_conv2d_weight_grad(dy, x, (int)w->shape[2], (int)w->shape[3], o);
}

void gt_bw_conv2d_weight_grad(const gt_node *n, gt_tensor *dw, gt_tensor **dx) {
    gt_tensor *x = n->in[0], *g = n->in[1];
    gt_conv_opts o = opts_load(n);
    if (gt_wants_grad_(x)) dx[0] = gt_conv_transpose2d_to_(g, dw, o, x->shape[2], x->shape[3]);
    if (gt_wants_grad_(g)) dx[1] = conv2d_nobias(x, dw, o);
}

/* ---- pooling and resampling --------------------------------------------------------------------- */

static gt_pool_geom pool_geom(const int64_t *x_shape, int k, int s, int pad) {
    GT_CHECK(k > 0 && s > 0 && pad >= 0 && 2 * pad <= k, "pool: kernel %d, stride %d, pad %d", k,
             s, pad);
    gt_pool_geom g = {.nc = x_shape[0] * x_shape[1], .h_in = x_shape[2], .w_in = x_shape[3],
                      .kh = k, .kw = k, .sh = s, .sw = s, .ph = pad, .pw = pad};
    g.h_out = (g.h_in + 2 * pad - k) / s + 1;
    g.w_out = (g.w_in + 2 * pad - k) / s + 1;
    GT_CHECK(g.h_out > 0 && g.w_out > 0, "pool: kernel %d larger than the padded input", k);
    return g;
}

static void pool_store(gt_node *n, int k, int s, int pad, const int64_t *x_shape) {
    n->attr[0] = k;
    n->attr[1] = s;
    n->attr[2] = pad;
    memcpy(n->attr + 3, x_shape, 4 * sizeof *x_shape);
}

gt_tensor *gt_avg_pool2d(gt_tensor *x, int k, int s, int pad) {
    GT_CHECK(x->ndim == 4, "avg_pool2d: x must be 4-D");
    gt_pool_geom g = pool_geom(x->shape, k, s, pad);
    int64_t ys[4] = {x->shape[0], x->shape[1], g.h_out, g.w_out};
    gt_tensor *y = gt_new_(4, ys);
    gt_be()->avg_pool2d(&g, y->data, gt_contiguous_data_(x));
    gt_node *n = gt_record_(GT_OP_AVG_POOL2D, y, 1, &x);
    if (n) pool_store(n, k, s, pad, x->shape);
    return y;
}

/* The adjoint of the avg_pool2d recorded in `pool`, applied to y: back to its input's shape. */
gt_tensor *gt_avg_pool2d_adjoint_(gt_tensor *y, const gt_node *pool) {
    const int64_t *xs = pool->attr + 3;
    int k = (int)pool->attr[0], s = (int)pool->attr[1], pad = (int)pool->attr[2];
    gt_pool_geom g = pool_geom(xs, k, s, pad);
    gt_tensor *x = gt_new_(4, xs);
    gt_be()->avg_pool2d_adjoint(&g, x->data, gt_contiguous_data_(y));
    gt_node *n = gt_record_(GT_OP_AVG_POOL2D_ADJOINT, x, 1, &y);
    if (n) pool_store(n, k, s, pad, xs);
    return x;
}

void gt_bw_avg_pool2d(const gt_node *n, gt_tensor *dy, gt_tensor **dx) {
    dx[0] = gt_avg_pool2d_adjoint_(dy, n);
}

void gt_bw_avg_pool2d_adjoint(const gt_node *n, gt_tensor *dy, gt_tensor **dx) {
    dx[0] = gt_avg_pool2d(dy, (int)n->attr[0], (int)n->attr[1], (int)n->attr[2]);
}

gt_tensor *gt_max_pool2d(gt_tensor *x, int k, int s, int pad) {
    GT_CHECK(x->ndim == 4, "max_pool2d: x must be 4-D");
    gt_pool_geom g = pool_geom(x->shape, k, s, pad);
    int64_t ys[4] = {x->shape[0], x->shape[1], g.h_out, g.w_out};
    int64_t n_out = gt_shape_numel_(4, ys);
    int64_t *idx = gt_step_alloc_((size_t)n_out * sizeof *idx);
    float *scratch = gt_step_alloc_((size_t)n_out * sizeof(float));
    gt_be()->max_pool2d(&g, scratch, idx, gt_contiguous_data_(x));
    return gt_gather(x, idx, 4, ys);
}

gt_tensor *gt_upsample2x(gt_tensor *x) {
    GT_CHECK(x->ndim == 4, "upsample2x: x must be 4-D");
    int64_t ys[4] = {x->shape[0], x->shape[1], 2 * x->shape[2], 2 * x->shape[3]};
    gt_tensor *y = gt_new_(4, ys);
    gt_be()->upsample2x(y->data, gt_contiguous_data_(x), x->shape[0] * x->shape[1], x->shape[2],
                        x->shape[3]);
    gt_record_(GT_OP_UPSAMPLE2X, y, 1, &x);
    return y;
}

gt_tensor *gt_sum_pool2x_(gt_tensor *x) {
    GT_CHECK(x->ndim == 4 && x->shape[2] % 2 == 0 && x->shape[3] % 2 == 0,
             "downsample2x: x must be 4-D with even height and width");
    int64_t ys[4] = {x->shape[0], x->shape[1], x->shape[2] / 2, x->shape[3] / 2};
    gt_tensor *y = gt_new_(4, ys);
    gt_be()->sum_pool2x(y->data, gt_contiguous_data_(x), x->shape[0] * x->shape[1], x->shape[2],
                        x->shape[3]);
    gt_record_(GT_OP_SUM_POOL2X, y, 1, &x);
    return y;
}

gt_tensor *gt_downsample2x(gt_tensor *x) { return gt_mul_scalar(gt_sum_pool2x_(x), 0.25f); }

void gt_bw_upsample2x(const gt_node *n, gt_tensor *dy, gt_tensor **dx) {
    (void)n;
    dx[0] = gt_sum_pool2x_(dy);
}

void gt_bw_sum_pool2x(const gt_node *n, gt_tensor *dy, gt_tensor **dx) {
    (void)n;
    dx[0] = gt_upsample2x(dy);
}

/* ---- gather / scatter_add ---------------------------------------------------------------------- */

static const int64_t *copy_indices(const int64_t *idx, int64_t n, int64_t bound) {
    int64_t *c = gt_step_alloc_((size_t)n * sizeof *c);
    for (int64_t j = 0; j < n; j++) {
        GT_CHECK(idx[j] >= 0 && idx[j] < bound, "gather: index %lld out of [0, %lld)",
                 (long long)idx[j], (long long)bound);
        c[j] = idx[j];
    }
    return c;
}

gt_tensor *gt_gather(gt_tensor *x, const int64_t *idx, int ndim, const int64_t *shape) {
    gt_tensor *y = gt_new_(ndim, shape);
    const int64_t *own = copy_indices(idx, y->numel, x->numel);
    gt_be()->gather(y->data, gt_contiguous_data_(x), own, y->numel);
    gt_node *n = gt_record_(GT_OP_GATHER, y, 1, &x);
    if (n) n->idx = own;
    return y;
}

/* x (shape) = 0, then x.flat[idx[j]] += y.flat[j]: the adjoint of gather. */
gt_tensor *gt_scatter_add_(gt_tensor *y, const int64_t *idx, int ndim, const int64_t *shape) {
    gt_tensor *x = gt_zeros(ndim, shape);
    gt_be()->scatter_add(x->data, gt_contiguous_data_(y), idx, y->numel);
    gt_node *n = gt_record_(GT_OP_SCATTER_ADD, x, 1, &y);
    if (n) n->idx = idx;
    return x;
}

void gt_bw_gather(const gt_node *n, gt_tensor *dy, gt_tensor **dx) {
    dx[0] = gt_scatter_add_(dy, n->idx, n->in[0]->ndim, n->in[0]->shape);
}

void gt_bw_scatter_add(const gt_node *n, gt_tensor *dy, gt_tensor **dx) {
    const gt_tensor *y = n->in[0];
    dx[0] = gt_gather(dy, n->idx, y->ndim, y->shape);
}
