/* Emitters without weights: activations (Relu, LeakyRelu, Tanh), Reshape, nearest upsampling
 * (Resize), sums and blends (Add, Mul); the unsupported-layer report; and the table of emitters
 * a describer gets. */
#include <stdio.h>

#include "export/emit.h"

gt_sym ox_mul_scalar(ox_ctx *c, gt_sym x, float s) {
    if (x < 0 || s == 1.0f) return x;
    return ox_node(c->g, "Mul", OX_IN(x, ox_scalar(c->g, s)), OX_NO_ATTR, ox_shape_of(c->g, x));
}

gt_sym ox_unsqueeze_tail(ox_ctx *c, gt_sym x, int k) {
    if (x < 0) return x;
    ox_shape s = ox_shape_of(c->g, x);
    int64_t axes[OX_MAX_DIMS];
    for (int i = 0; i < k; i++) {
        axes[i] = s.ndim + i;
        s.d[s.ndim + i] = 1;
    }
    s.ndim += k;
    return ox_node(c->g, "Unsqueeze", OX_IN(x, ox_init_i64(c->g, "axes", k, axes)), OX_NO_ATTR, s);
}

gt_sym ox_emit_activate(gt_describer *d, gt_activation a, gt_sym x) {
    ox_ctx *c = ox_ctx_of(d);
    if (x < 0) return x;
    ox_shape s = ox_shape_of(c->g, x);
    switch (a) {
    case GT_ACT_RELU: return ox_node(c->g, "Relu", OX_IN(x), OX_NO_ATTR, s);
    case GT_ACT_LEAKY_RELU: return ox_emit_leaky_relu(d, 0.2f, 1.0f, x);
    case GT_ACT_TANH: return ox_node(c->g, "Tanh", OX_IN(x), OX_NO_ATTR, s);
    case GT_ACT_NONE: return x;
    }
    return x;
}

gt_sym ox_emit_leaky_relu(gt_describer *d, float slope, float gain, gt_sym x) {
    ox_ctx *c = ox_ctx_of(d);
    if (x < 0) return x;
    gt_sym y = ox_node(c->g, "LeakyRelu", OX_IN(x), OX_ATTR(ox_attr_float(c->g, "alpha", slope)),
                       ox_shape_of(c->g, x));
    return ox_mul_scalar(c, y, gain);
}

gt_sym ox_emit_reshape(gt_describer *d, gt_sym x, int ndim, const int64_t *sample) {
    ox_ctx *c = ox_ctx_of(d);
    if (x < 0) return x;
    if (ndim + 1 > OX_MAX_DIMS) return ox_fail(c->g, "ONNX export: a reshape to %d dimensions", ndim + 1);
    ox_shape s = {.ndim = ndim + 1, .d = {OX_BATCH}};
    int64_t target[OX_MAX_DIMS] = {0};   /* 0: keep the batch axis as it is */
    for (int i = 0; i < ndim; i++) s.d[i + 1] = target[i + 1] = sample[i];
    return ox_node(c->g, "Reshape", OX_IN(x, ox_init_i64(c->g, "shape", ndim + 1, target)),
                   OX_NO_ATTR, s);
}

/* Nearest-neighbour 2x: output pixel p reads input pixel floor(p / 2), gt_upsample2x's rule. */
gt_sym ox_emit_upsample2x(gt_describer *d, gt_sym x) {
    ox_ctx *c = ox_ctx_of(d);
    if (x < 0) return x;
    ox_shape s = ox_shape_of(c->g, x);
    if (s.ndim != 4) return ox_fail(c->g, "ONNX export: upsampling needs [N, C, H, W]");
    s.d[2] *= 2;
    s.d[3] *= 2;
    float scales[4] = {1, 1, 2, 2};
    ox_shape ss = {.ndim = 1, .d = {4}};
    gt_sym sc = ox_init_f32(c->g, "scales_2x", ss, scales);
    return ox_node(c->g, "Resize", OX_IN(x, OX_EMPTY, sc),
                   OX_ATTR(ox_attr_string(c->g, "mode", "nearest"),
                           ox_attr_string(c->g, "coordinate_transformation_mode", "asymmetric"),
                           ox_attr_string(c->g, "nearest_mode", "floor")),
                   s);
}

gt_sym ox_emit_add(gt_describer *d, gt_sym a, gt_sym b) {
    ox_ctx *c = ox_ctx_of(d);
    if (a < 0 || b < 0) return a < 0 ? a : b;
    return ox_node(c->g, "Add", OX_IN(a, b), OX_NO_ATTR, ox_shape_of(c->g, a));
}

gt_sym ox_emit_blend(gt_describer *d, gt_sym a, float wa, gt_sym b, float wb) {
    ox_ctx *c = ox_ctx_of(d);
    return ox_emit_add(d, ox_mul_scalar(c, a, wa), ox_mul_scalar(c, b, wb));
}

gt_sym ox_emit_unsupported(gt_describer *d, const char *what) {
    ox_ctx *c = ox_ctx_of(d);
    return ox_fail(c->g, "ONNX export: %s is not supported by the exporter (docs/export.md lists "
                         "what is)", what);
}

void ox_emitters_install(ox_ctx *c) {
    gt_describer *d = &c->d;
    d->dense = ox_emit_dense;
    d->conv = ox_emit_conv;
    d->norm = ox_emit_norm;
    d->attention = ox_emit_attention;
    d->modulated = ox_emit_modulated;
    d->activate = ox_emit_activate;
    d->leaky_relu = ox_emit_leaky_relu;
    d->reshape = ox_emit_reshape;
    d->upsample2x = ox_emit_upsample2x;
    d->add = ox_emit_add;
    d->blend = ox_emit_blend;
    d->pixel_norm = ox_emit_pixel_norm;
    d->truncate = ox_emit_truncate;
    d->batch_constant = ox_emit_batch_constant;
    d->unsupported = ox_emit_unsupported;
}
