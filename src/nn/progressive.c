/* The progressive family (Karras et al. 2018, ProGAN): G and D for square power-of-two images
 * from 8x8 to 256x256, grown from 4x4. Build declares the layers of EVERY resolution, so the
 * parameter table, optimizer state and checkpoints have one fixed layout for the whole run;
 * the forward runs up to the growth resolution with the newest block faded in by its alpha
 * (gt_model_set_growth).
 *
 * Level k works at r_k = 4 * 2^k with nf_k = max(1, width >> max(0, k - 2)) channels (width up
 * to 16x16, halved at each doubling above). Every layer has equalized learning rate: its weight
 * is stored N(0, 1) and multiplied at run time by gain / sqrt(fan_in), gain sqrt(2) (He) except
 * for the to-image convs and D's output (gain 1, as ProGAN's code); biases start at 0.
 *   G: z -> pixel norm -> linear to [nf_0, 4, 4] -> lrelu, PN -> conv3 -> lrelu, PN; level k:
 *      upsample2x (nearest), 2 x (conv3, lrelu 0.2, pixel norm); to_rgb_k: conv1 to c channels,
 *      no activation. At level L fading with alpha a:
 *          x = (1 - a) upsample2x(to_rgb_{L-1}(h_{L-1})) + a to_rgb_L(h_L).
 *   D mirrors it: x at r_L -> from_rgb_L (conv1, lrelu) -> level L: 2 x (conv3, lrelu) with the
 *      second to nf_{L-1} channels, downsample2x (box); while fading,
 *          h = (1 - a) lrelu(from_rgb_{L-1}(downsample2x(x))) + a h;
 *      then levels L-1 .. 1, and the 4x4 block: [minibatch std] -> conv3 -> lrelu -> linear to
 *      nf_0 -> lrelu (the features) -> linear to one logit.
 * Pixel norm: x / sqrt(mean over channels of x^2 + 1e-8). The family has no other
 * normalization (model.*.norm must be none); activations are leaky ReLU 0.2 throughout. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine.h"
#include "nn/describe.h"
#include "nn/model.h"

#define PROG_MAX_LEVELS 7   /* 4x4 .. 256x256 */

typedef struct { gt_conv_layer l; float scale; } eq_conv;
typedef struct { gt_linear_layer l; float scale; } eq_linear;

typedef struct {
    int levels;                           /* L_max + 1 */
    int64_t nf[PROG_MAX_LEVELS];
    eq_linear fc;                         /* G: z -> [nf_0, 4, 4]; D: flat 4x4 -> nf_0 */
    eq_linear out;                        /* D: nf_0 -> 1 */
    eq_conv base;                         /* the 4x4 conv */
    eq_conv conv0[PROG_MAX_LEVELS], conv1[PROG_MAX_LEVELS]; /* levels >= 1 */
    eq_conv rgb[PROG_MAX_LEVELS];         /* G: to_rgb; D: from_rgb */
    gt_mbstd_layer mbstd;                 /* D: group 0 off */
    gt_growth growth;                     /* the resolution and fade-in the forward runs at */
} prog_arch;

static float he_scale(int64_t fan_in, double gain) { return (float)(gain / sqrt((double)fan_in)); }

static eq_conv eq_conv_declare(gt_params *p, const char *name, int64_t c_in, int64_t c_out, int k,
                               double gain) {
    eq_conv c = {gt_conv2d_declare(p, name, c_in, c_out, k, 1, k / 2, true),
                 he_scale(c_in * k * k, gain)};
    return c;
}

static eq_linear eq_linear_declare(gt_params *p, const char *name, int64_t in, int64_t out,
                                   double gain) {
    eq_linear l = {gt_linear_declare(p, name, in, out, true), he_scale(in, gain)};
    return l;
}

static gt_tensor *eq_conv_forward(const eq_conv *c, const gt_fwd *f, gt_tensor *x) {
    gt_conv_opts o = gt_conv_opts_default();
    o.padding[0] = o.padding[1] = c->l.padding;
    return gt_conv2d(x, gt_mul_scalar(f->t[c->l.w], c->scale), f->t[c->l.b], o);
}

static gt_tensor *eq_linear_forward(const eq_linear *l, const gt_fwd *f, gt_tensor *x) {
    return gt_linear(x, gt_mul_scalar(f->t[l->l.w], l->scale), f->t[l->l.b]);
}

/* x / sqrt(mean_c x^2 + 1e-8) over axis 1 of [N, C] or [N, C, H, W]. */
static gt_tensor *pixel_norm(gt_tensor *x) {
    int axis = 1;
    return gt_mul(x, gt_rsqrt(gt_add_scalar(gt_mean(gt_square(x), 1, &axis, true), 1e-8f)));
}

static gt_tensor *lrelu(gt_tensor *x) { return gt_leaky_relu(x, 0.2f); }

/* (1 - a) old + a new */
static gt_tensor *fade(gt_tensor *old, gt_tensor *new_, double a) {
    return gt_add(gt_mul_scalar(old, (float)(1.0 - a)), gt_mul_scalar(new_, (float)a));
}

static int prog_build(gt_model *m, gt_error *err) {
    gt_net_spec *s = &m->spec;
    const char *sec = gt_net_spec_section(s);
    prog_arch *a = calloc(1, sizeof *a);
    GT_CHECK(a != NULL, "out of memory (progressive)");
    m->arch = a;
    a->levels = s->h == s->w && s->h >= 8 ? gt_pyramid_levels(s->h) : -1;
    if (a->levels < 2 || a->levels > PROG_MAX_LEVELS)
        return gt_error_set(err, "model: progressive needs square images of side 8, 16, 32, 64, "
                                 "128 or 256, not %dx%d (data.resolution)", s->h, s->w);
    if (s->width < 1 || s->width > 4096)
        return gt_error_set(err, "model: width %lld out of range 1..4096", (long long)s->width);
    if (strcmp(s->norm, "none") != 0)
        return gt_error_set(err, "model: %s.norm = %s: the progressive family normalizes with "
                                 "pixel norm in G and nothing in D; set %s.norm = none",
                            sec, s->norm, sec);
    if (s->spectral_norm || s->mbdisc_kernels > 0)
        return gt_error_set(err, "model: %s: the progressive family has equalized learning rate; "
                                 "spectral_norm and minibatch_discrimination are not offered with it",
                            sec);
    /* equalized learning rate: weights N(0, 1), scaled at run time */
    snprintf(s->init, sizeof s->init, "%s", "normal");
    s->init_std = 1.0;
    for (int k = 0; k < a->levels; k++) {
        int64_t c = s->width >> (k > 2 ? k - 2 : 0);
        a->nf[k] = c > 0 ? c : 1;
    }
    gt_params *p = &m->params;
    char name[32];
    bool gen = s->role == GT_ROLE_GENERATOR;
    int64_t nf0 = a->nf[0];
    if (gen) {
        if (gt_arch_tricks_check(s, 1, err) < 0) return -1;
        a->fc = eq_linear_declare(p, "b4.fc", s->z_dim, nf0 * 16, sqrt(2.0));
        a->base = eq_conv_declare(p, "b4.conv", nf0, nf0, 3, sqrt(2.0));
        for (int k = 1; k < a->levels; k++) {
            snprintf(name, sizeof name, "b%d.conv0", 4 << k);
            a->conv0[k] = eq_conv_declare(p, name, a->nf[k - 1], a->nf[k], 3, sqrt(2.0));
            snprintf(name, sizeof name, "b%d.conv1", 4 << k);
            a->conv1[k] = eq_conv_declare(p, name, a->nf[k], a->nf[k], 3, sqrt(2.0));
        }
        for (int k = 0; k < a->levels; k++) {
            snprintf(name, sizeof name, "to_rgb%d", 4 << k);
            a->rgb[k] = eq_conv_declare(p, name, a->nf[k], s->c, 1, 1.0);
        }
    } else {
        if (gt_arch_tricks_check(s, nf0, err) < 0) return -1;
        for (int k = 0; k < a->levels; k++) {
            snprintf(name, sizeof name, "from_rgb%d", 4 << k);
            a->rgb[k] = eq_conv_declare(p, name, s->c, a->nf[k], 1, sqrt(2.0));
        }
        for (int k = a->levels - 1; k >= 1; k--) {
            snprintf(name, sizeof name, "b%d.conv0", 4 << k);
            a->conv0[k] = eq_conv_declare(p, name, a->nf[k], a->nf[k], 3, sqrt(2.0));
            snprintf(name, sizeof name, "b%d.conv1", 4 << k);
            a->conv1[k] = eq_conv_declare(p, name, a->nf[k], a->nf[k - 1], 3, sqrt(2.0));
        }
        a->mbstd = (gt_mbstd_layer){.group = s->mbstd_group, .channels = s->mbstd_channels};
        int64_t extra = s->mbstd_group > 0 ? s->mbstd_channels : 0;
        a->base = eq_conv_declare(p, "b4.conv", nf0 + extra, nf0, 3, sqrt(2.0));
        a->fc = eq_linear_declare(p, "b4.fc", nf0 * 16, nf0, sqrt(2.0));
        a->out = eq_linear_declare(p, "b4.out", nf0, 1, 1.0);
    }
    a->growth = (gt_growth){.res = s->h, .alpha = 1.0};
    return 0;
}

/* The level of resolution res, checked against the model. */
static int level_at(const gt_model *m, int res) {
    const prog_arch *a = m->arch;
    int k = gt_pyramid_levels(res);
    GT_CHECK(k >= 1 && k <= a->levels, "progressive: resolution %d is not one of the model's "
             "(4 .. %d, powers of two)", res, m->spec.h);
    return k - 1;
}

static gt_tensor *generator_forward(const gt_model *m, const gt_fwd *f, gt_tensor *z) {
    const prog_arch *a = m->arch;
    int L = level_at(m, a->growth.res);
    double alpha = a->growth.alpha;
    int64_t n = z->shape[0], shape[4] = {n, a->nf[0], 4, 4};
    gt_tensor *h = gt_reshape(eq_linear_forward(&a->fc, f, pixel_norm(z)), 4, shape);
    h = pixel_norm(lrelu(h));
    h = pixel_norm(lrelu(eq_conv_forward(&a->base, f, h)));
    gt_tensor *prev = NULL;
    for (int k = 1; k <= L; k++) {
        prev = h;
        h = pixel_norm(lrelu(eq_conv_forward(&a->conv0[k], f, gt_upsample2x(h))));
        h = pixel_norm(lrelu(eq_conv_forward(&a->conv1[k], f, h)));
    }
    gt_tensor *x = eq_conv_forward(&a->rgb[L], f, h);
    if (L > 0 && alpha < 1.0)
        x = fade(gt_upsample2x(eq_conv_forward(&a->rgb[L - 1], f, prev)), x, alpha);
    return x;
}

static gt_tensor *discriminator_forward(const gt_model *m, const gt_fwd *f, gt_tensor *x,
                                        gt_tensor **features) {
    const prog_arch *a = m->arch;
    int res = a->growth.res;
    GT_CHECK(x->ndim == 4 && x->shape[2] == res && x->shape[3] == res,
             "progressive D: input of %lldx%lld, the model is at resolution %d",
             (long long)(x->ndim == 4 ? x->shape[2] : 0), (long long)(x->ndim == 4 ? x->shape[3] : 0),
             res);
    int L = level_at(m, a->growth.res);
    double alpha = a->growth.alpha;
    gt_tensor *h = lrelu(eq_conv_forward(&a->rgb[L], f, x));
    for (int k = L; k >= 1; k--) {
        h = lrelu(eq_conv_forward(&a->conv0[k], f, h));
        h = gt_downsample2x(lrelu(eq_conv_forward(&a->conv1[k], f, h)));
        if (k == L && alpha < 1.0)
            h = fade(lrelu(eq_conv_forward(&a->rgb[L - 1], f, gt_downsample2x(x))), h, alpha);
    }
    if (a->mbstd.group > 0) h = gt_mbstd_forward(&a->mbstd, h);
    h = lrelu(eq_conv_forward(&a->base, f, h));
    int64_t flat[2] = {x->shape[0], a->nf[0] * 16};
    h = lrelu(eq_linear_forward(&a->fc, f, gt_reshape(h, 2, flat)));
    if (features) *features = h;
    return eq_linear_forward(&a->out, f, h);
}

static gt_tensor *prog_forward(const gt_model *m, const gt_fwd *f, gt_tensor *x,
                               gt_tensor **features) {
    if (m->spec.role == GT_ROLE_GENERATOR) return generator_forward(m, f, x);
    return discriminator_forward(m, f, x, features);
}

/* G's forward (generator_forward) layer by layer at the current growth state, for exporters. */
static gt_sym eq_conv_described(const eq_conv *c, gt_describer *d, gt_sym x) {
    gt_conv_desc desc = gt_conv_of_layer(&c->l, false);
    desc.w_scale = c->scale;
    return d->conv(d, &desc, x);
}

static gt_sym lrelu_described(gt_describer *d, gt_sym x) { return d->leaky_relu(d, 0.2f, 1.0f, x); }

static gt_sym generator_describe(const gt_model *m, gt_describer *d, gt_sym z) {
    const prog_arch *a = m->arch;
    int L = level_at(m, a->growth.res);
    double alpha = a->growth.alpha;
    gt_dense_desc fc = gt_dense_of_linear(&a->fc.l);
    fc.w_scale = a->fc.scale;
    int64_t shape[3] = {a->nf[0], 4, 4};
    gt_sym h = d->reshape(d, d->dense(d, &fc, d->pixel_norm(d, z)), 3, shape);
    h = d->pixel_norm(d, lrelu_described(d, h));
    h = d->pixel_norm(d, lrelu_described(d, eq_conv_described(&a->base, d, h)));
    gt_sym prev = -1;
    for (int k = 1; k <= L; k++) {
        prev = h;
        h = d->pixel_norm(d, lrelu_described(d, eq_conv_described(&a->conv0[k], d, d->upsample2x(d, h))));
        h = d->pixel_norm(d, lrelu_described(d, eq_conv_described(&a->conv1[k], d, h)));
    }
    gt_sym x = eq_conv_described(&a->rgb[L], d, h);
    if (L > 0 && alpha < 1.0)
        x = d->blend(d, d->upsample2x(d, eq_conv_described(&a->rgb[L - 1], d, prev)),
                     (float)(1.0 - alpha), x, (float)alpha);
    return x;
}

static gt_growth *prog_growth(const gt_model *m) { return &((prog_arch *)m->arch)->growth; }

const gt_model_family gt_family_progressive = {.name = "progressive", .build = prog_build,
                                               .forward = prog_forward, .describe = generator_describe,
                                               .growth = prog_growth};
