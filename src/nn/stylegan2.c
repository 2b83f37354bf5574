/* The stylegan2 family (Karras et al. 2020, config F as in NVIDIA's stylegan2-ada-pytorch):
 * a style-based generator with a mapping network, modulated and demodulated convolutions, noise
 * inputs and skip to-image outputs, and the residual discriminator with minibatch std. Every
 * layer has equalized learning rate (weights stored N(0, 1) / lr_mul, scaled at run time by
 * lr_mul / sqrt(fan_in)); activations are leaky ReLU 0.2 times sqrt(2) (the reference's gain).
 *
 * Level k works at r_k = 4 * 2^k with nf_k = max(1, width >> max(0, k - 2)) channels (as the
 * progressive family). Square images of side 8 .. 256.
 *   Mapping: z -> z / sqrt(mean z^2 + 1e-8) -> mapping_layers x (fc w_dim, lr_mul, lrelu) = w.
 *     A training forward updates the buffer "mapping.w_avg" [w_dim]: w_avg <- mean_N(w) +
 *     0.995 (w_avg - mean_N(w)) (w_avg_beta). ws [N, num_ws, w_dim] repeats w; truncation
 *     replaces the first trunc_cutoff rows by w_avg + psi (w - w_avg).
 *   Synthesis (skip architecture), num_ws = 2 (levels): a learned constant [nf_0, 4, 4];
 *     b4: conv1 (style 0), to_rgb (style 1); level k >= 1: conv0 on the nearest-upsampled x
 *     (style 2k - 1), conv1 (style 2k), to_rgb (style 2k + 1); img = upsample2x(img) + to_rgb.
 *     The reference upsamples with a [1, 3, 3, 1] FIR filter inside a transposed conv; gantry
 *     upsamples nearest-neighbour (gt_upsample2x), then runs the 3x3 conv.
 *   A modulated layer: styles s = affine(w) [N, C_in] (fc, bias 1); W'_n = W s_n (per sample),
 *     demodulated W''_n = W'_n / sqrt(sum_{in, kh, kw} W'_n^2 + 1e-8); run as ONE grouped conv:
 *     x [N, C_in, H, W] -> [1, N C_in, H, W], W'' -> [N C_out, C_in, k, k], groups = N (all in
 *     ops, so it differentiates to any order). Then + noise_strength * noise [N, 1, H, W]
 *     (strength starts at 0; noise N(0, 1) from the model's style_rng in training forwards, else
 *     the constant buffer "<layer>.noise_const" [1, 1, H, W]), + bias, lrelu * sqrt(2).
 *     to_rgb: 1x1, styles times 1/sqrt(C_in), no demodulation, no noise, + bias, linear.
 *   Style mixing (training forwards with style_rng, probability style_mixing): a second z2, and
 *     ws[:, c:] = ws(z2)[:, c:] with the crossover c uniform in 1 .. num_ws - 1 (one per batch).
 *   D (resnet): from_rgb (1x1, lrelu) at r_L; level k = L .. 1: skip = conv1x1(down(x)) (no
 *     bias) / sqrt(2); x = lrelu(conv3(x)); x = lrelu(down(conv3(x))) (to nf_{k-1}); x = skip +
 *     x / sqrt(2) (the reference's gains); down = 2x2 box (the reference: FIR [1, 3, 3, 1]).
 *     4x4: [minibatch std] -> conv3 -> lrelu -> fc nf_0 -> lrelu (the features) -> fc 1. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine.h"
#include "nn/describe.h"
#include "nn/stylegan2.h"

#define SG_MAX_LEVELS 7       /* 4x4 .. 256x256 */
#define SG_MAX_MAPPING 16
#define SG_W_AVG_BETA 0.995f
#define SQRT2 1.41421356237309515

typedef struct { int w, b; float w_scale, b_scale; } sg_fc;   /* b = -1: no bias */
typedef struct { int w, b; int k; float scale; } sg_conv;

/* A modulated layer (conv or to_rgb). */
typedef struct {
    int weight, bias, strength, noise;  /* noise, strength: -1 for to_rgb */
    sg_fc affine;
    int64_t c_in, c_out;
    int k;
    bool demod, up, act;
    float style_gain;
} sg_layer;

typedef struct {
    int levels;
    int64_t nf[SG_MAX_LEVELS];
    /* G */
    int n_mapping;
    sg_fc mapping[SG_MAX_MAPPING];
    int w_avg, konst;
    sg_layer conv0[SG_MAX_LEVELS], conv1[SG_MAX_LEVELS], rgb[SG_MAX_LEVELS];
    /* D */
    sg_conv from_rgb, c0[SG_MAX_LEVELS], c1[SG_MAX_LEVELS], skip[SG_MAX_LEVELS], base;
    sg_fc fc, out;
    gt_mbstd_layer mbstd;
    /* G's options and run-time controls, the family's own: `spec` holds the family's part of
     * the network's spec (w_dim resolved); style_rng, num_ws and truncation are set through
     * the model's style accessors (gt_model_set_style_rng, gt_model_set_truncation). */
    gt_stylegan2_options spec;
    gt_rng *style_rng;
    int num_ws;
    double trunc_psi;
    int trunc_cutoff;
} sg_arch;

const gt_stylegan2_options gt_stylegan2_defaults = {
    .mapping_layers = 8, .w_dim = 0, .mapping_lr_mul = 0.01, .style_mixing = 0.9};

static sg_fc fc_declare(gt_params *p, const char *name, int64_t in, int64_t out, bool bias,
                        double lr_mul) {
    gt_linear_layer l = gt_linear_declare(p, name, in, out, bias);
    return (sg_fc){l.w, l.b, (float)(lr_mul / sqrt((double)in)), (float)lr_mul};
}

static gt_tensor *fc_forward(const sg_fc *l, const gt_fwd *f, gt_tensor *x) {
    gt_tensor *b = NULL;
    if (l->b >= 0) b = l->b_scale == 1.0f ? f->t[l->b] : gt_mul_scalar(f->t[l->b], l->b_scale);
    return gt_linear(x, gt_mul_scalar(f->t[l->w], l->w_scale), b);
}

static sg_conv conv_declare(gt_params *p, const char *name, int64_t c_in, int64_t c_out, int k,
                            bool bias) {
    gt_conv_layer l = gt_conv2d_declare(p, name, c_in, c_out, k, 1, k / 2, bias);
    return (sg_conv){l.w, l.b, k, (float)(1.0 / sqrt((double)(c_in * k * k)))};
}

static gt_tensor *conv_forward(const sg_conv *c, const gt_fwd *f, gt_tensor *x) {
    gt_conv_opts o = gt_conv_opts_default();
    o.padding[0] = o.padding[1] = c->k / 2;
    return gt_conv2d(x, gt_mul_scalar(f->t[c->w], c->scale), c->b >= 0 ? f->t[c->b] : NULL, o);
}

/* lrelu(x, 0.2) * gain */
static gt_tensor *lrelu_gain(gt_tensor *x, double gain) {
    gt_tensor *y = gt_leaky_relu(x, 0.2f);
    return gain == 1.0 ? y : gt_mul_scalar(y, (float)gain);
}

static sg_layer layer_declare(gt_params *p, const char *name, int64_t w_dim, int64_t c_in,
                              int64_t c_out, int k, int res, bool rgb, bool up) {
    char part[48];
    sg_layer l = {.c_in = c_in, .c_out = c_out, .k = k, .demod = !rgb, .up = up, .act = !rgb,
                  .strength = -1, .noise = -1,
                  .style_gain = rgb ? (float)(1.0 / sqrt((double)(c_in * k * k))) : 1.0f};
    snprintf(part, sizeof part, "%s.affine", name);
    l.affine = fc_declare(p, part, w_dim, c_in, true, 1.0);
    int64_t ws[4] = {c_out, c_in, k, k};
    l.weight = gt_params_declare_part(p, name, "weight", 4, ws, GT_PARAM_TRAINABLE);
    l.bias = gt_params_declare_part(p, name, "bias", 1, &c_out, GT_PARAM_TRAINABLE);
    if (!rgb) {
        int64_t one = 1, ns[4] = {1, 1, res, res};
        l.strength = gt_params_declare_part(p, name, "noise_strength", 1, &one, GT_PARAM_TRAINABLE);
        l.noise = gt_params_declare_part(p, name, "noise_const", 4, ns, GT_PARAM_BUFFER);
    }
    return l;
}

/* G's options from spec.family_options (the defaults when absent), checked. */
static int take_options(sg_arch *a, const gt_net_spec *s, gt_error *err) {
    const char *sec = gt_net_spec_section(s);
    a->spec = s->family_options ? *(const gt_stylegan2_options *)s->family_options
                                : gt_stylegan2_defaults;
    if (a->spec.mapping_layers < 1 || a->spec.mapping_layers > SG_MAX_MAPPING)
        return gt_error_set(err, "model: %s.mapping_layers = %d must be 1..%d", sec,
                            a->spec.mapping_layers, SG_MAX_MAPPING);
    if (!(a->spec.mapping_lr_mul > 0))
        return gt_error_set(err, "model: %s.mapping_lr_mul = %g must be positive", sec,
                            a->spec.mapping_lr_mul);
    if (a->spec.w_dim == 0) a->spec.w_dim = s->z_dim;
    return 0;
}

static int declare_generator(gt_model *m, sg_arch *a, gt_error *err) {
    const gt_net_spec *s = &m->spec;
    gt_params *p = &m->params;
    char name[32];
    if (gt_arch_tricks_check(s, 1, err) < 0 || take_options(a, s, err) < 0) return -1;
    int64_t wd = a->spec.w_dim;
    a->n_mapping = a->spec.mapping_layers;
    for (int i = 0; i < a->n_mapping; i++) {
        snprintf(name, sizeof name, "mapping.fc%d", i);
        a->mapping[i] = fc_declare(p, name, i == 0 ? s->z_dim : wd, wd, true, a->spec.mapping_lr_mul);
    }
    a->w_avg = gt_params_declare(p, "mapping.w_avg", 1, &wd, GT_PARAM_BUFFER);
    int64_t ks[3] = {a->nf[0], 4, 4};
    a->konst = gt_params_declare(p, "b4.const", 3, ks, GT_PARAM_TRAINABLE);
    for (int k = 0; k < a->levels; k++) {
        int res = 4 << k;
        if (k > 0) {
            snprintf(name, sizeof name, "b%d.conv0", res);
            a->conv0[k] = layer_declare(p, name, wd, a->nf[k - 1], a->nf[k], 3, res, false, true);
        }
        snprintf(name, sizeof name, "b%d.conv1", res);
        a->conv1[k] = layer_declare(p, name, wd, a->nf[k], a->nf[k], 3, res, false, false);
        snprintf(name, sizeof name, "b%d.to_rgb", res);
        a->rgb[k] = layer_declare(p, name, wd, a->nf[k], s->c, 1, res, true, false);
    }
    a->num_ws = 2 * a->levels;
    a->trunc_psi = 1.0;
    a->trunc_cutoff = -1;
    return 0;
}

static int declare_discriminator(gt_model *m, sg_arch *a, gt_error *err) {
    const gt_net_spec *s = &m->spec;
    gt_params *p = &m->params;
    char name[32];
    if (gt_arch_tricks_check(s, a->nf[0], err) < 0) return -1;
    int L = a->levels - 1;
    snprintf(name, sizeof name, "b%d.from_rgb", 4 << L);
    a->from_rgb = conv_declare(p, name, s->c, a->nf[L], 1, true);
    for (int k = L; k >= 1; k--) {
        snprintf(name, sizeof name, "b%d.conv0", 4 << k);
        a->c0[k] = conv_declare(p, name, a->nf[k], a->nf[k], 3, true);
        snprintf(name, sizeof name, "b%d.conv1", 4 << k);
        a->c1[k] = conv_declare(p, name, a->nf[k], a->nf[k - 1], 3, true);
        snprintf(name, sizeof name, "b%d.skip", 4 << k);
        a->skip[k] = conv_declare(p, name, a->nf[k], a->nf[k - 1], 1, false);
    }
    a->mbstd = (gt_mbstd_layer){.group = s->mbstd_group, .channels = s->mbstd_channels};
    int64_t extra = s->mbstd_group > 0 ? s->mbstd_channels : 0;
    a->base = conv_declare(p, "b4.conv", a->nf[0] + extra, a->nf[0], 3, true);
    a->fc = fc_declare(p, "b4.fc", a->nf[0] * 16, a->nf[0], true, 1.0);
    a->out = fc_declare(p, "b4.out", a->nf[0], 1, true, 1.0);
    return 0;
}

static int sg_build(gt_model *m, gt_error *err) {
    gt_net_spec *s = &m->spec;
    const char *sec = gt_net_spec_section(s);
    sg_arch *a = calloc(1, sizeof *a);
    GT_CHECK(a != NULL, "out of memory (stylegan2)");
    m->arch = a;
    a->levels = s->h == s->w && s->h >= 8 ? gt_pyramid_levels(s->h) : -1;
    if (a->levels < 2 || a->levels > SG_MAX_LEVELS)
        return gt_error_set(err, "model: stylegan2 needs square images of side 8, 16, 32, 64, 128 "
                                 "or 256, not %dx%d (data.resolution; Fashion-MNIST: 32)", s->h, s->w);
    if (s->width < 1 || s->width > 4096)
        return gt_error_set(err, "model: %s.width = %lld out of range 1..4096", sec, (long long)s->width);
    if (strcmp(s->norm, "none") != 0)
        return gt_error_set(err, "model: %s.norm = %s: the stylegan2 family normalizes by "
                                 "demodulation in G and not at all in D; set %s.norm = none",
                            sec, s->norm, sec);
    if (s->spectral_norm || s->mbdisc_kernels > 0 || s->vbn_ref > 0 || s->attention > 0)
        return gt_error_set(err, "model: %s: the stylegan2 family has equalized learning rate; "
                                 "spectral_norm, minibatch_discrimination, vbn_ref and attention "
                                 "are not offered with it", sec);
    snprintf(s->init, sizeof s->init, "%s", "normal");  /* equalized lr: N(0, 1), scaled at run time */
    s->init_std = 1.0;
    for (int k = 0; k < a->levels; k++) {
        int64_t c = s->width >> (k > 2 ? k - 2 : 0);
        a->nf[k] = c > 0 ? c : 1;
    }
    if (s->role == GT_ROLE_GENERATOR) return declare_generator(m, a, err);
    return declare_discriminator(m, a, err);
}

/* After the common N(0, 1) init: mapping weights / lr_mul, affine biases 1, the constant input
 * and the constant noise N(0, 1) (noise strengths and other biases stay 0). */
static void scale_mapping(const sg_arch *m, gt_params *p) {
    for (int i = 0; i < m->n_mapping; i++) {
        gt_tensor *w = p->t[m->mapping[i].w];
        float *host = gt_step_alloc_((size_t)w->numel * sizeof *host);
        gt_copy_to(host, w);
        for (int64_t j = 0; j < w->numel; j++) host[j] /= (float)m->spec.mapping_lr_mul;
        gt_copy_from(w, host);
    }
}

static void sg_init(gt_model *m, gt_rng *rng) {
    if (m->spec.role != GT_ROLE_GENERATOR) return;
    const sg_arch *a = m->arch;
    gt_params *p = &m->params;
    scale_mapping(a, p);
    gt_fill_normal(rng, p->t[a->konst], 0, 1);
    for (int k = 0; k < a->levels; k++) {
        const sg_layer *ls[3] = {k > 0 ? &a->conv0[k] : NULL, &a->conv1[k], &a->rgb[k]};
        for (int j = 0; j < 3; j++) {
            if (!ls[j]) continue;
            gt_fill(p->t[ls[j]->affine.b], 1.0f);
            if (ls[j]->noise >= 0) gt_fill_normal(rng, p->t[ls[j]->noise], 0, 1);
        }
    }
}

/* ---- G ------------------------------------------------------------------------------------ */

gt_tensor *gt_modulated_conv2d(gt_tensor *x, gt_tensor *weight, gt_tensor *styles, bool demodulate) {
    GT_CHECK(x->ndim == 4 && weight->ndim == 4 && styles->ndim == 2 &&
             styles->shape[0] == x->shape[0] && styles->shape[1] == x->shape[1] &&
             weight->shape[1] == x->shape[1] && weight->shape[2] == weight->shape[3],
             "modulated conv: x [N, C_in, H, W], weight [C_out, C_in, k, k], styles [N, C_in]");
    int64_t n = x->shape[0], ci = x->shape[1], co = weight->shape[0], k = weight->shape[2];
    int64_t w1[5] = {1, co, ci, k, k}, s1[5] = {n, 1, ci, 1, 1};
    gt_tensor *wt = gt_mul(gt_reshape(weight, 5, w1), gt_reshape(styles, 5, s1));
    if (demodulate) {                                                 /* [N, C_out, C_in, k, k] */
        int axes[3] = {2, 3, 4};
        wt = gt_mul(wt, gt_rsqrt(gt_add_scalar(gt_sum(gt_square(wt), 3, axes, true), 1e-8f)));
    }
    int64_t xg[4] = {1, n * ci, x->shape[2], x->shape[3]}, wg[4] = {n * co, ci, k, k};
    gt_conv_opts o = gt_conv_opts_default();
    o.padding[0] = o.padding[1] = (int)(k / 2);
    o.groups = (int)n;
    gt_tensor *y = gt_conv2d(gt_reshape(x, 4, xg), gt_reshape(wt, 4, wg), NULL, o);
    int64_t ys[4] = {n, co, y->shape[2], y->shape[3]};
    return gt_reshape(y, 4, ys);
}

/* ws[:, i] as [N, w_dim] */
static gt_tensor *style_row(gt_tensor *ws, int i) {
    int64_t s[2] = {ws->shape[0], ws->shape[2]};
    return gt_reshape(gt_slice(ws, 1, i, i + 1), 2, s);
}

/* A training forward with a generator draws noise and mixes styles. */
static bool random_styles(const sg_arch *a, const gt_fwd *f) { return f->train && a->style_rng; }

static gt_tensor *layer_forward(const sg_arch *a, const sg_layer *l, const gt_fwd *f, gt_tensor *x,
                                gt_tensor *w) {
    int64_t n = x->shape[0];
    gt_tensor *s = fc_forward(&l->affine, f, w);                      /* [N, C_in] */
    if (l->style_gain != 1.0f) s = gt_mul_scalar(s, l->style_gain);
    if (l->up) x = gt_upsample2x(x);
    int64_t h = x->shape[2], wd = x->shape[3];
    gt_tensor *y = gt_modulated_conv2d(x, f->t[l->weight], s, l->demod);
    if (l->noise >= 0) {
        gt_tensor *noise = f->t[l->noise];                            /* [1, 1, H, W] */
        if (random_styles(a, f)) {
            bool prev = gt_grad_set(false);
            int64_t ns[4] = {n, 1, h, wd};
            noise = gt_rand_normal_rows(a->style_rng, f->draw_first, f->draw_total, 4, ns, 0, 1);
            gt_grad_set(prev);
        }
        y = gt_add(y, gt_mul(noise, f->t[l->strength]));
    }
    int64_t bs[4] = {1, l->c_out, 1, 1};
    y = gt_add(y, gt_reshape(f->t[l->bias], 4, bs));
    return l->act ? lrelu_gain(y, SQRT2) : y;
}

/* z -> w [N, w_dim] (the mapping network alone). */
static gt_tensor *map_w(const sg_arch *a, const gt_fwd *f, gt_tensor *z) {
    int axis = 1;
    gt_tensor *x = gt_mul(z, gt_rsqrt(gt_add_scalar(gt_mean(gt_square(z), 1, &axis, true), 1e-8f)));
    for (int i = 0; i < a->n_mapping; i++) x = lrelu_gain(fc_forward(&a->mapping[i], f, x), SQRT2);
    return x;
}

/* w [N, D] -> ws [N, num_ws, D] */
static gt_tensor *broadcast(const sg_arch *a, gt_tensor *w) {
    int64_t one[3] = {w->shape[0], 1, w->shape[1]}, all[3] = {w->shape[0], a->num_ws, w->shape[1]};
    return gt_expand(gt_reshape(w, 3, one), 3, all);
}

static gt_tensor *mapping_impl(const gt_model *m, const gt_fwd *f, gt_tensor *z, bool update_avg) {
    GT_CHECK(m->spec.role == GT_ROLE_GENERATOR, "stylegan2: the mapping belongs to G");
    const sg_arch *a = m->arch;
    gt_tensor *w = map_w(a, f, z);
    gt_tensor *avg = f->t[a->w_avg];
    if (f->train && update_avg) {  /* w_avg <- mean + beta (w_avg - mean), a buffer */
        bool prev = gt_grad_set(false);
        gt_tensor *mean = gt_mean(gt_detach(w), 1, (int[]){0}, false);
        gt_tensor *next = gt_add(mean, gt_mul_scalar(gt_sub(avg, mean), SG_W_AVG_BETA));
        gt_assign(avg, next);
        gt_grad_set(prev);
    }
    gt_tensor *ws = broadcast(a, w);
    if (a->trunc_psi == 1.0) return ws;
    int cut = a->trunc_cutoff < 0 || a->trunc_cutoff > a->num_ws ? a->num_ws : a->trunc_cutoff;
    if (cut == 0) return ws;
    int64_t as[3] = {1, 1, avg->shape[0]};
    gt_tensor *avg3 = gt_reshape(avg, 3, as);
    gt_tensor *head = gt_slice(ws, 1, 0, cut);
    head = gt_add(avg3, gt_mul_scalar(gt_sub(head, avg3), (float)a->trunc_psi));
    if (cut == a->num_ws) return head;
    gt_tensor *parts[2] = {head, gt_slice(ws, 1, cut, a->num_ws)};
    return gt_concat(2, parts, 1);
}

static gt_tensor *sg_synthesis(const gt_model *m, const gt_fwd *f, gt_tensor *ws) {
    const sg_arch *a = m->arch;
    GT_CHECK(ws->ndim == 3 && ws->shape[1] == a->num_ws, "stylegan2: ws must be [N, %d, w_dim]",
             a->num_ws);
    int64_t n = ws->shape[0];
    gt_tensor *k = f->t[a->konst];
    int64_t k1[4] = {1, k->shape[0], 4, 4}, kn[4] = {n, k->shape[0], 4, 4};
    gt_tensor *x = gt_expand(gt_reshape(k, 4, k1), 4, kn);
    x = layer_forward(a, &a->conv1[0], f, x, style_row(ws, 0));
    gt_tensor *img = layer_forward(a, &a->rgb[0], f, x, style_row(ws, 1));
    for (int l = 1; l < a->levels; l++) {
        x = layer_forward(a, &a->conv0[l], f, x, style_row(ws, 2 * l - 1));
        x = layer_forward(a, &a->conv1[l], f, x, style_row(ws, 2 * l));
        img = gt_add(gt_upsample2x(img), layer_forward(a, &a->rgb[l], f, x, style_row(ws, 2 * l + 1)));
    }
    return img;
}

/* Style mixing (m: the family's state): in a training forward with style_rng, with probability
 * style_mixing, the styles from a crossover layer on come from a second latent z2. */
static gt_tensor *mix_styles(const gt_model *model, const sg_arch *m, const gt_fwd *f, gt_tensor *z,
                             gt_tensor *ws) {
    if (!random_styles(m, f) || m->spec.style_mixing <= 0 || m->num_ws < 2) return ws;
    bool prev = gt_grad_set(false);
    float u[2];
    gt_copy_to(u, gt_rand_uniform(m->style_rng, 1, (int64_t[]){2}, 0.0f, 1.0f));
    gt_tensor *z2 = u[0] < m->spec.style_mixing
                        ? gt_rand_normal_rows(m->style_rng, f->draw_first, f->draw_total, 2, z->shape, 0, 1)
                        : NULL;
    gt_grad_set(prev);
    if (!z2) return ws;
    int cut = 1 + (int)(u[1] * (float)(m->num_ws - 1));
    if (cut >= m->num_ws) cut = m->num_ws - 1;
    gt_tensor *parts[2] = {gt_slice(ws, 1, 0, cut),
                           gt_slice(mapping_impl(model, f, z2, false), 1, cut, m->num_ws)};
    return gt_concat(2, parts, 1);
}

/* The family's mapping: ws, mixed in training forwards (mix_styles). */
static gt_tensor *sg_mapping(const gt_model *m, const gt_fwd *f, gt_tensor *z) {
    return mix_styles(m, m->arch, f, z, mapping_impl(m, f, z, true));
}

/* ---- G described layer by layer, for exporters --------------------------------------------- */

static gt_dense_desc fc_described(const sg_fc *l) {
    return (gt_dense_desc){.w = l->w, .b = l->b, .w_scale = l->w_scale, .b_scale = l->b_scale};
}

static gt_sym layer_described(const gt_params *p, const sg_layer *l, gt_describer *d, gt_sym x,
                              gt_sym w) {
    gt_modconv_desc desc = {.weight = l->weight, .bias = l->bias, .strength = l->strength,
                            .noise = l->noise, .affine = fc_described(&l->affine),
                            .style_gain = l->style_gain, .demodulate = l->demod, .up = l->up,
                            .act = l->act};
    /* the layer's name: its weight's entry without ".weight" */
    char name[GT_PARAM_NAME_MAX];
    snprintf(name, sizeof name, "%.*s", (int)(strlen(p->spec[l->weight].name) - strlen(".weight")),
             p->spec[l->weight].name);
    desc.name = name;
    return d->modulated(d, &desc, x, w);
}

/* The evaluation forward (map_w, truncation of every style layer, sg_synthesis): every style
 * layer takes the same w, since an exported G neither mixes styles nor cuts truncation off. */
static gt_sym sg_describe(const gt_model *m, gt_describer *d, gt_sym z) {
    const sg_arch *a = m->arch;
    const gt_params *p = &m->params;
    gt_sym w = d->pixel_norm(d, z);
    for (int i = 0; i < a->n_mapping; i++) {
        gt_dense_desc fc = fc_described(&a->mapping[i]);
        w = d->leaky_relu(d, 0.2f, (float)SQRT2, d->dense(d, &fc, w));
    }
    w = d->truncate(d, a->w_avg, w);
    gt_sym x = d->batch_constant(d, a->konst, z);
    x = layer_described(p, &a->conv1[0], d, x, w);
    gt_sym img = layer_described(p, &a->rgb[0], d, x, w);
    for (int l = 1; l < a->levels; l++) {
        x = layer_described(p, &a->conv0[l], d, x, w);
        x = layer_described(p, &a->conv1[l], d, x, w);
        img = d->add(d, d->upsample2x(d, img), layer_described(p, &a->rgb[l], d, x, w));
    }
    return img;
}

/* ---- D ------------------------------------------------------------------------------------ */

static gt_tensor *discriminator_forward(const gt_model *m, const gt_fwd *f, gt_tensor *x,
                                        gt_tensor **features) {
    const sg_arch *a = m->arch;
    GT_CHECK(x->ndim == 4 && x->shape[2] == m->spec.h && x->shape[3] == m->spec.w,
             "stylegan2 D: input must be [N, %d, %d, %d]", m->spec.c, m->spec.h, m->spec.w);
    int L = a->levels - 1;
    const double half = sqrt(0.5);
    gt_tensor *h = lrelu_gain(conv_forward(&a->from_rgb, f, x), SQRT2);
    for (int k = L; k >= 1; k--) {
        gt_tensor *skip = gt_mul_scalar(conv_forward(&a->skip[k], f, gt_downsample2x(h)), (float)half);
        h = lrelu_gain(conv_forward(&a->c0[k], f, h), SQRT2);
        h = lrelu_gain(gt_downsample2x(conv_forward(&a->c1[k], f, h)), 1.0); /* sqrt 2 sqrt 1/2 */
        h = gt_add(skip, h);
    }
    if (a->mbstd.group > 0) h = gt_mbstd_forward(&a->mbstd, h);
    h = lrelu_gain(conv_forward(&a->base, f, h), SQRT2);
    int64_t flat[2] = {x->shape[0], a->nf[0] * 16};
    h = lrelu_gain(fc_forward(&a->fc, f, gt_reshape(h, 2, flat)), SQRT2);
    if (features) *features = h;
    return fc_forward(&a->out, f, h);
}

static gt_tensor *sg_forward(const gt_model *m, const gt_fwd *f, gt_tensor *x, gt_tensor **features) {
    if (m->spec.role == GT_ROLE_GENERATOR) return sg_synthesis(m, f, sg_mapping(m, f, x));
    return discriminator_forward(m, f, x, features);
}

/* ---- the family's state, behind the model's style accessors ------------------------------------ */

static sg_arch *state(const gt_model *m) { return m->arch; }
static int sg_style_count(const gt_model *m) { return state(m)->num_ws; }
static void sg_set_style_rng(gt_model *m, gt_rng *rng) { state(m)->style_rng = rng; }
static gt_rng *sg_style_rng(const gt_model *m) { return state(m)->style_rng; }

static void sg_set_truncation(gt_model *m, double psi, int cutoff) {
    state(m)->trunc_psi = psi;
    state(m)->trunc_cutoff = cutoff;
}

void gt_stylegan2_set_style_mixing(gt_model *m, double probability) {
    GT_CHECK(m->family == &gt_family_stylegan2, "stylegan2: not a stylegan2 model");
    state(m)->spec.style_mixing = probability;
}

static const gt_style_hooks sg_style = {.count = sg_style_count, .set_rng = sg_set_style_rng,
                                        .rng = sg_style_rng, .set_truncation = sg_set_truncation};

const gt_model_family gt_family_stylegan2 = {.name = "stylegan2", .build = sg_build,
                                             .forward = sg_forward, .init = sg_init,
                                             .mapping = sg_mapping, .synthesis = sg_synthesis,
                                             .describe = sg_describe,
                                             .style = &sg_style};
