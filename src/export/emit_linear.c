/* Emitters of the weighted layers: dense (Gemm) and convolutions (Conv, ConvTranspose), with
 * the weights as they run in evaluation mode (equalized learning rate's scale and spectral norm
 * folded in). Also the helpers the emitters share to
 * write table entries as initializers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/emit.h"

void ox_layer_name(const ox_ctx *c, int idx, char *out, size_t cap) {
    const char *name = c->p->spec[idx].name;
    const char *dot = strrchr(name, '.');
    snprintf(out, cap, "%.*s", dot ? (int)(dot - name) : (int)strlen(name), name);
}

gt_sym ox_param(ox_ctx *c, int idx, gt_tensor *value, const char *suffix, ox_shape s) {
    if (!value) value = c->d.f->t[idx];
    if (s.ndim == 0) s = ox_shape_make(value->ndim, value->shape);
    float *host = malloc((size_t)value->numel * sizeof *host);
    if (!host) return ox_fail(c->g, "out of memory copying %s", c->p->spec[idx].name);
    gt_copy_to(host, value);
    char name[GT_PARAM_NAME_MAX + 32];
    snprintf(name, sizeof name, "%s%s", c->p->spec[idx].name, suffix);
    gt_sym v = ox_init_f32(c->g, name, s, host);
    free(host);
    return v;
}

gt_tensor *ox_effective_weight(ox_ctx *c, int w, const gt_sn *sn, float w_scale) {
    gt_tensor *t = c->d.f->t[w];
    if (sn) t = gt_sn_apply(t, gt_sn_power_iteration(t, c->d.f->t[sn->u], sn->rows_axis, 0, NULL));
    return w_scale == 1.0f ? t : gt_mul_scalar(t, w_scale);
}

/* The bias entry times b_scale as an initializer of shape s (ndim 0: its own). */
static gt_sym bias_of(ox_ctx *c, int b, float b_scale, ox_shape s) {
    gt_tensor *t = c->d.f->t[b];
    return ox_param(c, b, b_scale == 1.0f ? NULL : gt_mul_scalar(t, b_scale), "", s);
}

gt_sym ox_emit_dense(gt_describer *d, const gt_dense_desc *l, gt_sym x) {
    ox_ctx *c = ox_ctx_of(d);
    if (x < 0) return x;
    ox_shape xs = ox_shape_of(c->g, x);
    const gt_param_spec *ws = &c->p->spec[l->w];
    if (xs.ndim != 2 || xs.d[1] != ws->shape[1])
        return ox_fail(c->g, "ONNX export: layer %s expects [N, %lld] inputs", ws->name,
                       (long long)ws->shape[1]);
    gt_sym w = ox_param(c, l->w, ox_effective_weight(c, l->w, l->sn, l->w_scale), "", (ox_shape){0});
    ox_shape out = {.ndim = 2, .d = {OX_BATCH, ws->shape[0]}};
    Onnx__AttributeProto *trans_b = ox_attr_int(c->g, "transB", 1);
    if (l->b < 0) return ox_node(c->g, "Gemm", OX_IN(x, w), OX_ATTR(trans_b), out);
    gt_sym b = bias_of(c, l->b, l->b_scale, (ox_shape){0});
    return ox_node(c->g, "Gemm", OX_IN(x, w, b), OX_ATTR(trans_b), out);
}

/* Output side of a (transposed) convolution along one axis. */
static int64_t conv_side(const gt_conv_desc *l, int64_t in, int64_t k) {
    if (l->transposed) return (in - 1) * l->stride - 2 * l->padding + k + l->output_padding;
    return (in + 2 * l->padding - k) / l->stride + 1;
}

gt_sym ox_emit_conv(gt_describer *d, const gt_conv_desc *l, gt_sym x) {
    ox_ctx *c = ox_ctx_of(d);
    if (x < 0) return x;
    ox_shape xs = ox_shape_of(c->g, x);
    const gt_param_spec *ws = &c->p->spec[l->w];
    int64_t c_in = l->transposed ? ws->shape[0] : ws->shape[1];
    int64_t c_out = l->transposed ? ws->shape[1] : ws->shape[0], k = ws->shape[2];
    if (xs.ndim != 4 || xs.d[1] != c_in)
        return ox_fail(c->g, "ONNX export: layer %s expects [N, %lld, H, W] inputs", ws->name,
                       (long long)c_in);
    gt_sym w = ox_param(c, l->w, ox_effective_weight(c, l->w, l->sn, l->w_scale), "", (ox_shape){0});
    int64_t pads[4] = {l->padding, l->padding, l->padding, l->padding};
    int64_t strides[2] = {l->stride, l->stride}, kernel[2] = {k, k};
    int64_t out_pad[2] = {l->output_padding, l->output_padding};
    ox_shape out = {.ndim = 4, .d = {OX_BATCH, c_out, conv_side(l, xs.d[2], k), conv_side(l, xs.d[3], k)}};
    gt_sym in[3] = {x, w, l->b >= 0 ? bias_of(c, l->b, 1.0f, (ox_shape){0}) : -1};
    int n_in = l->b >= 0 ? 3 : 2;
    Onnx__AttributeProto *attrs[4] = {ox_attr_ints(c->g, "kernel_shape", 2, kernel),
                                      ox_attr_ints(c->g, "pads", 4, pads),
                                      ox_attr_ints(c->g, "strides", 2, strides),
                                      ox_attr_ints(c->g, "output_padding", 2, out_pad)};
    if (l->transposed) return ox_node(c->g, "ConvTranspose", n_in, in, 4, attrs, out);
    return ox_node(c->g, "Conv", n_in, in, 3, attrs, out);
}
