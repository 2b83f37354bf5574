/* Emitters of the style-based generator (StyleGAN2; nn/stylegan2.c): pixel norm, truncation
 * with psi as a graph input, the learned constant repeated over the batch, and the modulated
 * layer. The modulated convolution is written the way NVIDIA's reference runs it without fused
 * modulation: the input scaled by the styles, one ordinary Conv with the shared weight, and the
 * demodulation as a per-sample, per-output-channel factor
 *   d[n, o] = 1 / sqrt(sum_i s[n, i]^2 sum_{kh, kw} W[o, i, kh, kw]^2 + 1e-8),
 * which equals gantry's per-sample weights (W s_n) demodulated, and keeps the batch dynamic
 * (a grouped conv with one group per sample would fix it). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "export/emit.h"

/* 1 / sqrt(x + eps) */
static gt_sym rsqrt_eps(ox_ctx *c, gt_sym x, float eps) {
    if (x < 0) return x;
    ox_shape s = ox_shape_of(c->g, x);
    gt_sym sum = ox_node(c->g, "Add", OX_IN(x, ox_scalar(c->g, eps)), OX_NO_ATTR, s);
    return ox_node(c->g, "Reciprocal", OX_IN(ox_node(c->g, "Sqrt", OX_IN(sum), OX_NO_ATTR, s)),
                   OX_NO_ATTR, s);
}

gt_sym ox_emit_pixel_norm(gt_describer *d, gt_sym x) {
    ox_ctx *c = ox_ctx_of(d);
    if (x < 0) return x;
    ox_shape s = ox_shape_of(c->g, x), m = s;
    m.d[1] = 1;
    int64_t axis = 1;
    gt_sym sq = ox_node(c->g, "Mul", OX_IN(x, x), OX_NO_ATTR, s);
    gt_sym mean = ox_node(c->g, "ReduceMean", OX_IN(sq),
                          OX_ATTR(ox_attr_ints(c->g, "axes", 1, &axis), ox_attr_int(c->g, "keepdims", 1)), m);
    return ox_node(c->g, "Mul", OX_IN(x, rsqrt_eps(c, mean, 1e-8f)), OX_NO_ATTR, s);
}

gt_sym ox_emit_truncate(gt_describer *d, int w_avg, gt_sym w) {
    ox_ctx *c = ox_ctx_of(d);
    if (w < 0) return w;
    if (c->psi < 0) return ox_fail(c->g, "ONNX export: truncation needs the psi input");
    ox_shape s = ox_shape_of(c->g, w);
    gt_sym avg = ox_param(c, w_avg, NULL, "", (ox_shape){0});
    gt_sym diff = ox_node(c->g, "Sub", OX_IN(w, avg), OX_NO_ATTR, s);
    gt_sym scaled = ox_node(c->g, "Mul", OX_IN(diff, c->psi), OX_NO_ATTR, s);
    return ox_node(c->g, "Add", OX_IN(avg, scaled), OX_NO_ATTR, s);
}

gt_sym ox_emit_batch_constant(gt_describer *d, int param, gt_sym like) {
    ox_ctx *c = ox_ctx_of(d);
    if (like < 0) return like;
    const gt_param_spec *ps = &c->p->spec[param];
    if (ps->ndim != 3) return ox_fail(c->g, "ONNX export: %s is not [C, H, W]", ps->name);
    int64_t one[4] = {1, ps->shape[0], ps->shape[1], ps->shape[2]};
    gt_sym k = ox_param(c, param, NULL, "", ox_shape_make(4, one));
    ox_shape n_shape = {.ndim = 1, .d = {1}};
    gt_sym n = ox_node(c->g, "Shape", OX_IN(like),
                       OX_ATTR(ox_attr_int(c->g, "start", 0), ox_attr_int(c->g, "end", 1)), n_shape);
    ox_shape target_shape = {.ndim = 1, .d = {4}};
    gt_sym target = ox_node(c->g, "Concat", OX_IN(n, ox_init_i64(c->g, "const_shape", 3, ps->shape)),
                            OX_ATTR(ox_attr_int(c->g, "axis", 0)), target_shape);
    ox_shape out = {.ndim = 4, .d = {OX_BATCH, ps->shape[0], ps->shape[1], ps->shape[2]}};
    return ox_node(c->g, "Expand", OX_IN(k, target), OX_NO_ATTR, out);
}

/* The demodulation factors [N, C_out, 1, 1] of styles s [N, C_in] for weight entry w. */
static gt_sym demodulation(ox_ctx *c, int w, gt_sym s) {
    int axes[2] = {2, 3};
    gt_tensor *wsq = gt_sum(gt_square(c->d.f->t[w]), 2, axes, false);   /* [C_out, C_in] */
    gt_sym wsq_v = ox_param(c, w, wsq, "_squared_sum", (ox_shape){0});
    ox_shape ss = ox_shape_of(c->g, s);
    gt_sym s2 = ox_node(c->g, "Mul", OX_IN(s, s), OX_NO_ATTR, ss);
    ox_shape out = {.ndim = 2, .d = {OX_BATCH, wsq->shape[0]}};
    gt_sym energy = ox_node(c->g, "Gemm", OX_IN(s2, wsq_v), OX_ATTR(ox_attr_int(c->g, "transB", 1)), out);
    return ox_unsqueeze_tail(c, rsqrt_eps(c, energy, 1e-8f), 2);
}

/* The noise map [1 or N, 1, H, W] the layer adds, as the options say. */
static gt_sym noise_of(ox_ctx *c, const gt_modconv_desc *l, int64_t h, int64_t w) {
    int64_t shape[4] = {1, 1, h, w};
    switch (c->noise) {
    case OX_NOISE_CONST: return ox_param(c, l->noise, NULL, "", (ox_shape){0});
    case OX_NOISE_SEEDED:
        return ox_param(c, l->noise, gt_rand_normal(&c->noise_rng, 4, shape, 0, 1), "_seeded", (ox_shape){0});
    case OX_NOISE_INPUT: {
        char name[GT_PARAM_NAME_MAX + 8];
        snprintf(name, sizeof name, "noise_%s", l->name);
        for (char *p = name; *p; p++)
            if (!isalnum((unsigned char)*p)) *p = '_';
        ox_shape s = {.ndim = 4, .d = {OX_BATCH, 1, h, w}};
        return ox_input(c->g, name, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, s);
    }
    }
    return -1;
}

gt_sym ox_emit_modulated(gt_describer *d, const gt_modconv_desc *l, gt_sym x, gt_sym w) {
    ox_ctx *c = ox_ctx_of(d);
    if (x < 0 || w < 0) return x < 0 ? x : w;
    gt_sym s = ox_mul_scalar(c, d->dense(d, &l->affine, w), l->style_gain);   /* [N, C_in] */
    if (l->up) x = d->upsample2x(d, x);
    if (s < 0 || x < 0) return -1;
    ox_shape xs = ox_shape_of(c->g, x);
    const gt_param_spec *ws = &c->p->spec[l->weight];
    int64_t c_out = ws->shape[0], k = ws->shape[2];
    gt_sym xm = ox_node(c->g, "Mul", OX_IN(x, ox_unsqueeze_tail(c, s, 2)), OX_NO_ATTR, xs);
    int64_t pads[4] = {k / 2, k / 2, k / 2, k / 2}, kernel[2] = {k, k};
    ox_shape ys = {.ndim = 4, .d = {OX_BATCH, c_out, xs.d[2], xs.d[3]}};
    gt_sym y = ox_node(c->g, "Conv", OX_IN(xm, ox_param(c, l->weight, NULL, "", (ox_shape){0})),
                       OX_ATTR(ox_attr_ints(c->g, "kernel_shape", 2, kernel),
                               ox_attr_ints(c->g, "pads", 4, pads)), ys);
    if (l->demodulate) y = ox_node(c->g, "Mul", OX_IN(y, demodulation(c, l->weight, s)), OX_NO_ATTR, ys);
    if (l->noise >= 0) {
        ox_shape one = {.ndim = 1, .d = {1}};
        gt_sym strength = ox_param(c, l->strength, NULL, "", one);
        gt_sym noise = noise_of(c, l, xs.d[2], xs.d[3]);
        ox_shape ns = ox_shape_of(c->g, noise);
        y = ox_node(c->g, "Add", OX_IN(y, ox_node(c->g, "Mul", OX_IN(noise, strength), OX_NO_ATTR, ns)),
                    OX_NO_ATTR, ys);
    }
    int64_t bs[4] = {1, c_out, 1, 1};
    y = ox_node(c->g, "Add", OX_IN(y, ox_param(c, l->bias, NULL, "", ox_shape_make(4, bs))), OX_NO_ATTR, ys);
    return l->act ? d->leaky_relu(d, 0.2f, (float)sqrt(2.0), y) : y;
}
