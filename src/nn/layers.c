/* Linear, convolution, embedding and activation layers over a parameter table. */
#include "nn/layers.h"

#include <string.h>

#include "core/engine.h"

gt_fwd gt_fwd_of(gt_params *p, bool train) {
    return (gt_fwd){.t = p->t, .params = p, .train = train};
}

gt_fwd gt_fwd_labelled(const gt_fwd *f, const int32_t *y) {
    gt_fwd o = *f;
    o.labels = y;
    return o;
}

gt_linear_layer gt_linear_declare(gt_params *p, const char *name, int64_t in, int64_t out,
                                  bool bias) {
    int64_t ws[2] = {out, in};
    gt_linear_layer l = {.w = gt_params_declare_part(p, name, "weight", 2, ws, GT_PARAM_TRAINABLE), .b = -1};
    if (bias) l.b = gt_params_declare_part(p, name, "bias", 1, &out, GT_PARAM_TRAINABLE);
    return l;
}

/* The layer's weight, spectrally normalized when switched on. */
static gt_tensor *weight_of(const gt_sn *sn, int w, const gt_fwd *f) {
    return sn->on ? gt_sn_weight(sn, f, f->t[w]) : f->t[w];
}

gt_tensor *gt_linear_forward(const gt_linear_layer *l, const gt_fwd *f, gt_tensor *x) {
    return gt_linear(x, weight_of(&l->sn, l->w, f), l->b >= 0 ? f->t[l->b] : NULL);
}

gt_maxout_layer gt_maxout_declare(gt_params *p, const char *name, int64_t in, int64_t out,
                                  int64_t pieces, bool bias) {
    GT_CHECK(out >= 1 && pieces >= 1, "maxout: %lld units of %lld pieces", (long long)out,
             (long long)pieces);
    return (gt_maxout_layer){.lin = gt_linear_declare(p, name, in, out * pieces, bias),
                             .out = out, .pieces = pieces};
}

gt_tensor *gt_maxout_forward(const gt_maxout_layer *l, const gt_fwd *f, gt_tensor *x) {
    gt_tensor *h = gt_linear_forward(&l->lin, f, x);                 /* [N, out pieces] */
    int64_t units[3] = {h->shape[0], l->out, l->pieces};
    int axis = 2;
    return gt_max(gt_reshape(h, 3, units), 1, &axis, false);        /* [N, out] */
}

void gt_linear_spectral_norm(gt_linear_layer *l, gt_params *p, int iterations) {
    l->sn = gt_sn_declare(p, l->w, 0, iterations);
}

void gt_conv2d_spectral_norm(gt_conv_layer *l, gt_params *p, int iterations) {
    l->sn = gt_sn_declare(p, l->w, 0, iterations);
}

/* conv_transpose2d's weight is [C_in, C_out, k, k]: its rows (output channels) are axis 1. */
void gt_conv_transpose2d_spectral_norm(gt_conv_layer *l, gt_params *p, int iterations) {
    l->sn = gt_sn_declare(p, l->w, 1, iterations);
}

static gt_conv_layer conv_declare(gt_params *p, const char *name, int64_t w0, int64_t w1,
                                  int64_t c_bias, int k, bool bias) {
    int64_t ws[4] = {w0, w1, k, k};
    gt_conv_layer l = {.w = gt_params_declare_part(p, name, "weight", 4, ws, GT_PARAM_TRAINABLE), .b = -1};
    if (bias) l.b = gt_params_declare_part(p, name, "bias", 1, &c_bias, GT_PARAM_TRAINABLE);
    return l;
}

gt_conv_layer gt_conv2d_declare(gt_params *p, const char *name, int64_t c_in, int64_t c_out,
                                int k, int stride, int padding, bool bias) {
    gt_conv_layer l = conv_declare(p, name, c_out, c_in, c_out, k, bias);
    l.stride = stride;
    l.padding = padding;
    return l;
}

gt_conv_layer gt_conv_transpose2d_declare(gt_params *p, const char *name, int64_t c_in,
                                          int64_t c_out, int k, int stride, int padding,
                                          int output_padding, bool bias) {
    gt_conv_layer l = conv_declare(p, name, c_in, c_out, c_out, k, bias);
    l.stride = stride;
    l.padding = padding;
    l.output_padding = output_padding;
    return l;
}

static gt_conv_opts conv_opts(const gt_conv_layer *l) {
    gt_conv_opts o = gt_conv_opts_default();
    o.stride[0] = o.stride[1] = l->stride;
    o.padding[0] = o.padding[1] = l->padding;
    o.output_padding[0] = o.output_padding[1] = l->output_padding;
    return o;
}

gt_tensor *gt_conv2d_forward(const gt_conv_layer *l, const gt_fwd *f, gt_tensor *x) {
    return gt_conv2d(x, weight_of(&l->sn, l->w, f), l->b >= 0 ? f->t[l->b] : NULL, conv_opts(l));
}

gt_tensor *gt_conv_transpose2d_forward(const gt_conv_layer *l, const gt_fwd *f, gt_tensor *x) {
    return gt_conv_transpose2d(x, weight_of(&l->sn, l->w, f), l->b >= 0 ? f->t[l->b] : NULL,
                               conv_opts(l));
}

gt_embedding_layer gt_embedding_declare(gt_params *p, const char *name, int64_t num, int64_t dim) {
    int64_t s[2] = {num, dim};
    return (gt_embedding_layer){.w = gt_params_declare_part(p, name, "weight", 2, s, GT_PARAM_TRAINABLE)};
}

gt_tensor *gt_embedding_forward(const gt_embedding_layer *l, const gt_fwd *f, const int32_t *ids,
                                int64_t n) {
    gt_tensor *w = f->t[l->w];
    int64_t dim = w->shape[1];
    int64_t *idx = gt_step_alloc_((size_t)(n * dim) * sizeof *idx);
    for (int64_t i = 0; i < n; i++) {
        GT_CHECK(ids[i] >= 0 && ids[i] < w->shape[0], "embedding: id %d out of [0, %lld)", ids[i],
                 (long long)w->shape[0]);
        for (int64_t j = 0; j < dim; j++) idx[i * dim + j] = ids[i] * dim + j;
    }
    int64_t s[2] = {n, dim};
    return gt_gather(w, idx, 2, s);
}

gt_tensor *gt_pack_samples(gt_tensor *x, int m) {
    if (m == 1) return x;
    GT_CHECK(m > 1 && x->ndim >= 2 && x->shape[0] % m == 0,
             "pack: %lld samples do not split into packs of %d", (long long)x->shape[0], m);
    int64_t shape[GT_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) shape[i] = x->shape[i];
    shape[0] /= m;
    shape[1] *= m;
    return gt_reshape(x, x->ndim, shape);
}

int gt_activation_parse(const char *name, gt_activation *out) {
    static const char *names[] = {"relu", "leaky_relu", "tanh", "none"};
    for (int i = 0; i < 4; i++)
        if (strcmp(name, names[i]) == 0) {
            *out = (gt_activation)i;
            return 0;
        }
    return -1;
}

gt_tensor *gt_activate(gt_tensor *x, gt_activation a) {
    switch (a) {
    case GT_ACT_RELU: return gt_relu(x);
    case GT_ACT_LEAKY_RELU: return gt_leaky_relu(x, 0.2f);
    case GT_ACT_TANH: return gt_tanh(x);
    case GT_ACT_NONE: return x;
    }
    return x;
}
