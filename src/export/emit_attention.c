/* The self-attention emitter (SAGAN; nn/attention.c): 1x1 Convs theta, phi, g (phi and g
 * MaxPool'ed 2x2), Softmax over the pooled positions of theta^T phi (MatMul), g beta^T back to a
 * map, the 1x1 Conv o, and x + gamma o. */
#include "export/emit.h"

static gt_sym conv1x1(gt_describer *d, const gt_conv_layer *l, gt_sym x) {
    return gt_describe_conv(d, l, false, x);
}

static gt_sym max_pool2(ox_ctx *c, gt_sym x) {
    if (x < 0) return x;
    ox_shape s = ox_shape_of(c->g, x);
    s.d[2] /= 2;
    s.d[3] /= 2;
    int64_t k[2] = {2, 2};
    return ox_node(c->g, "MaxPool", OX_IN(x),
                   OX_ATTR(ox_attr_ints(c->g, "kernel_shape", 2, k), ox_attr_ints(c->g, "strides", 2, k)), s);
}

/* [N, C, H, W] -> [N, C, H W] */
static gt_sym flatten_positions(gt_describer *d, gt_sym x) {
    ox_shape s = ox_shape_of(ox_ctx_of(d)->g, x);
    int64_t flat[2] = {s.d[1], s.d[2] * s.d[3]};
    return d->reshape(d, x, 2, flat);
}

/* [N, A, B] -> [N, B, A] */
static gt_sym swap_last(ox_ctx *c, gt_sym x) {
    if (x < 0) return x;
    ox_shape s = ox_shape_of(c->g, x);
    int64_t perm[3] = {0, 2, 1}, t = s.d[1];
    s.d[1] = s.d[2];
    s.d[2] = t;
    return ox_node(c->g, "Transpose", OX_IN(x), OX_ATTR(ox_attr_ints(c->g, "perm", 3, perm)), s);
}

static gt_sym matmul(ox_ctx *c, gt_sym a, gt_sym b) {
    if (a < 0 || b < 0) return a < 0 ? a : b;
    ox_shape sa = ox_shape_of(c->g, a), sb = ox_shape_of(c->g, b);
    ox_shape s = {.ndim = 3, .d = {OX_BATCH, sa.d[1], sb.d[2]}};
    return ox_node(c->g, "MatMul", OX_IN(a, b), OX_NO_ATTR, s);
}

gt_sym ox_emit_attention(gt_describer *d, const gt_attention_layer *l, gt_sym x) {
    ox_ctx *c = ox_ctx_of(d);
    if (x < 0) return x;
    ox_shape xs = ox_shape_of(c->g, x);
    gt_sym theta = flatten_positions(d, conv1x1(d, &l->theta, x));             /* [N, C/8, HW] */
    gt_sym phi = flatten_positions(d, max_pool2(c, conv1x1(d, &l->phi, x)));   /* [N, C/8, P] */
    gt_sym g = flatten_positions(d, max_pool2(c, conv1x1(d, &l->g, x)));       /* [N, C/2, P] */
    gt_sym logits = matmul(c, swap_last(c, theta), phi);                       /* [N, HW, P] */
    gt_sym beta = logits < 0 ? logits
                             : ox_node(c->g, "Softmax", OX_IN(logits),
                                       OX_ATTR(ox_attr_int(c->g, "axis", 2)), ox_shape_of(c->g, logits));
    gt_sym og = matmul(c, g, swap_last(c, beta));                             /* [N, C/2, HW] */
    int64_t map[3] = {l->channels / 2, xs.d[2], xs.d[3]};
    gt_sym o = conv1x1(d, &l->o, d->reshape(d, og, 3, map));                   /* [N, C, H, W] */
    if (o < 0) return o;
    ox_shape one = {.ndim = 1, .d = {1}};
    gt_sym gamma = ox_param(c, l->gamma, NULL, "", one);
    gt_sym scaled = ox_node(c->g, "Mul", OX_IN(gamma, o), OX_NO_ATTR, xs);
    return d->add(d, x, scaled);
}
