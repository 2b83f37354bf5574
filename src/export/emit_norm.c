/* The normalisation emitter in evaluation mode: batch norm as BatchNormalization with the
 * running statistics, layer norm as LayerNormalization over every non-batch axis, and
 * conditional batch norm as BatchNormalization without affine followed by the label's rows
 * (Gather) of its per-class gamma and beta. Virtual batch norm is not written. */
#include <stdio.h>
#include <stdlib.h>

#include "export/emit.h"

/* BatchNormalization of x with the layer's running statistics and the given scale and bias. */
static gt_sym batch_norm(ox_ctx *c, const gt_batchnorm_layer *b, gt_sym x, gt_sym scale, gt_sym bias) {
    gt_sym mean = ox_param(c, b->mean, NULL, "", (ox_shape){0});
    gt_sym var = ox_param(c, b->var, NULL, "", (ox_shape){0});
    return ox_node(c->g, "BatchNormalization", OX_IN(x, scale, bias, mean, var),
                   OX_ATTR(ox_attr_float(c->g, "epsilon", (float)b->eps)), ox_shape_of(c->g, x));
}

/* A constant vector of n values v. */
static gt_sym filled(ox_ctx *c, const char *name, int64_t n, float v) {
    float *x = malloc((size_t)n * sizeof *x);
    if (!x) return ox_fail(c->g, "out of memory");
    for (int64_t i = 0; i < n; i++) x[i] = v;
    ox_shape s = {.ndim = 1, .d = {n}};
    gt_sym r = ox_init_f32(c->g, name, s, x);
    free(x);
    return r;
}

/* Conditional batch norm: xhat gamma[y] + beta[y], the rows broadcast over H, W. */
static gt_sym conditional(ox_ctx *c, const gt_cbn_layer *l, gt_sym x) {
    char name[GT_PARAM_NAME_MAX];
    ox_layer_name(c, l->bn.weight, name, sizeof name);
    if (c->labels < 0)
        return ox_fail(c->g, "ONNX export: conditional batch norm %s needs the class input", name);
    const gt_param_spec *ws = &c->p->spec[l->bn.weight];
    int64_t ch = ws->shape[1];
    char what[GT_PARAM_NAME_MAX + 16];
    snprintf(what, sizeof what, "%s.ones", name);
    gt_sym ones = filled(c, what, ch, 1.0f);
    snprintf(what, sizeof what, "%s.zeros", name);
    gt_sym xhat = batch_norm(c, &l->bn, x, ones, filled(c, what, ch, 0.0f));
    ox_shape rows = {.ndim = 2, .d = {OX_BATCH, ch}};
    gt_sym gamma = ox_node(c->g, "Gather", OX_IN(ox_param(c, l->bn.weight, NULL, "", (ox_shape){0}), c->labels),
                           OX_ATTR(ox_attr_int(c->g, "axis", 0)), rows);
    gt_sym beta = ox_node(c->g, "Gather", OX_IN(ox_param(c, l->bn.bias, NULL, "", (ox_shape){0}), c->labels),
                          OX_ATTR(ox_attr_int(c->g, "axis", 0)), rows);
    int extra = ox_shape_of(c->g, x).ndim - 2;   /* [N, C] -> [N, C, 1, 1] for feature maps */
    if (extra > 0) {
        gamma = ox_unsqueeze_tail(c, gamma, extra);
        beta = ox_unsqueeze_tail(c, beta, extra);
    }
    ox_shape s = ox_shape_of(c->g, x);
    return ox_node(c->g, "Add", OX_IN(ox_node(c->g, "Mul", OX_IN(xhat, gamma), OX_NO_ATTR, s), beta),
                   OX_NO_ATTR, s);
}

gt_sym ox_emit_norm(gt_describer *d, const gt_norm_layer *n, gt_sym x) {
    ox_ctx *c = ox_ctx_of(d);
    if (x < 0) return x;
    char name[GT_PARAM_NAME_MAX], what[GT_PARAM_NAME_MAX + 64];
    switch (n->kind) {
    case GT_NORM_NONE:
        return x;
    case GT_NORM_BATCH:
        return batch_norm(c, &n->bn, x, ox_param(c, n->bn.weight, NULL, "", (ox_shape){0}),
                          ox_param(c, n->bn.bias, NULL, "", (ox_shape){0}));
    case GT_NORM_LAYER:
        return ox_node(c->g, "LayerNormalization",
                       OX_IN(x, ox_param(c, n->ln.weight, NULL, "", (ox_shape){0}),
                             ox_param(c, n->ln.bias, NULL, "", (ox_shape){0})),
                       OX_ATTR(ox_attr_int(c->g, "axis", 1),
                               ox_attr_float(c->g, "epsilon", (float)n->ln.eps)),
                       ox_shape_of(c->g, x));
    case GT_NORM_COND:
        return conditional(c, &n->cbn, x);
    case GT_NORM_VIRTUAL:
        ox_layer_name(c, n->vbn.gamma, name, sizeof name);
        snprintf(what, sizeof what, "virtual batch norm (layer %s)", name);
        return d->unsupported(d, what);
    }
    return x;
}
