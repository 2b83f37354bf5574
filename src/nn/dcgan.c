/* The DCGAN family (Radford et al. 2016) at resolutions 28, 32 and 64.
 * G: z -> linear to [4w or 8w, s0, s0] (+norm, ReLU) -> transposed convs k4 s2 p1 halving the
 *    channels and doubling the size (+norm, ReLU) -> last transposed conv to c channels, tanh.
 * D: convs k4 s2 p1 doubling the channels (leaky ReLU 0.2; norm on all but the first) ->
 *    [minibatch std maps] -> flatten -> [minibatch discrimination] -> linear to one logit.
 *    At 28 (tricks off) this is exactly the DCGAN-28 of protocols.md.
 * Spectral norm, when on, normalizes every linear and (transposed) conv weight.
 * Options: virtual batch norm in G (norm "vbn": G runs on [z_ref; z]); a self-attention block
 * after the feature map of a chosen side (after its activation), in G or D.
 * Class-conditional (spec.n_classes > 0): G's batch norms are conditional batch norms, D adds
 * the projection <embed(y), h> of its flat features h to the logit (src/nn/conditional.c). */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "core/engine.h"
#include "nn/describe.h"
#include "nn/model.h"

#define DCGAN_MAX_BLOCKS 5

typedef struct {
    int n_blocks;                        /* transposed convs (G) or convs (D) */
    int64_t s0, c0;                      /* G: the first feature map [c0, s0, s0] */
    int64_t flat;                        /* D: the last feature map flattened (mbstd maps included) */
    int64_t feat;                        /* D: features into the final linear */
    gt_batch_tricks bt;                  /* D: minibatch std and minibatch discrimination */
    gt_linear_layer fc;
    gt_norm_layer fc_norm;
    gt_conv_layer conv[DCGAN_MAX_BLOCKS];
    gt_norm_layer norm[DCGAN_MAX_BLOCKS];
    gt_vbn_ref vbn;                      /* G: virtual batch norm's reference latents (n 0: off) */
    int attn_at;                         /* self-attention after this feature map (-1: off) */
    gt_attention_layer attn;
    bool has_proj;                       /* D: class-conditional projection */
    gt_projection_layer proj;
} dcgan_arch;

/* Up/down-sampling steps between the data resolution and the 7x7 or 4x4 core, and G's first
 * channel count as a multiple of the width (28: 4w 7x7 -> 2w -> c, as in protocols.md). */
static int dcgan_layout(int64_t res, int64_t *s0, int *steps, int *c0_mult) {
    switch (res) {
    case 28: *s0 = 7; *steps = 2; *c0_mult = 4; return 0;
    case 32: *s0 = 4; *steps = 3; *c0_mult = 4; return 0;
    case 64: *s0 = 4; *steps = 4; *c0_mult = 8; return 0;
    default: return -1;
    }
}

/* Self-attention after feature map k of the n maps with the given sides and channels, where
 * sides[k] is spec->attention (a->attn_at = k; -1 when off). */
static int attention_place(const gt_net_spec *s, dcgan_arch *a, int n, const int64_t *sides,
                           const int64_t *channels, gt_error *err) {
    a->attn_at = -1;
    if (s->attention == 0) return 0;
    const char *sec = gt_net_spec_section(s);
    char list[64] = "";
    for (int k = 0; k < n; k++) {
        if (sides[k] == s->attention) a->attn_at = k;
        size_t len = strlen(list);
        snprintf(list + len, sizeof list - len, "%s%lld", k ? ", " : "", (long long)sides[k]);
    }
    if (a->attn_at < 0)
        return gt_error_set(err, "model: %s.attention = %d: no feature map of this network has "
                                 "that side (sides: %s; 0: off)", sec, s->attention, list);
    if (channels[a->attn_at] < 8)
        return gt_error_set(err, "model: %s.attention = %d: self-attention needs at least 8 "
                                 "channels, the %dx%d map has %lld (raise %s.width)", sec,
                            s->attention, s->attention, s->attention,
                            (long long)channels[a->attn_at], sec);
    return 0;
}

/* Declares the attention block when feature map k is its place. */
static void attention_declare(const gt_net_spec *s, dcgan_arch *a, gt_params *p, int k,
                              int64_t channels) {
    if (k != a->attn_at) return;
    a->attn = gt_attention_declare(p, "attn", channels);
    if (s->spectral_norm) gt_attention_spectral_norm(&a->attn, p, s->sn_iterations);
}

static gt_tensor *attention_at(const dcgan_arch *a, const gt_fwd *f, int k, gt_tensor *h) {
    return k == a->attn_at ? gt_attention_forward(&a->attn, f, h) : h;
}

static int build_generator(gt_model *m, dcgan_arch *a, int steps, int c0_mult, gt_error *err) {
    const gt_net_spec *s = &m->spec;
    gt_params *p = &m->params;
    a->c0 = s->width * c0_mult;
    a->n_blocks = steps;
    /* feature maps: the first [c0, s0, s0], then one per transposed conv but the last */
    int64_t sides[DCGAN_MAX_BLOCKS], chans[DCGAN_MAX_BLOCKS];
    for (int k = 0; k < steps; k++) {
        sides[k] = a->s0 << k;
        chans[k] = a->c0 >> k;
    }
    if (attention_place(s, a, steps, sides, chans, err) < 0) return -1;
    if (s->vbn_ref > 0) a->vbn = gt_vbn_ref_declare(p, s->vbn_ref, s->z_dim);
    int64_t c = a->c0, flat = a->c0 * a->s0 * a->s0;
    a->fc = gt_linear_declare(p, "fc", s->z_dim, flat, true);
    if (s->spectral_norm) gt_linear_spectral_norm(&a->fc, p, s->sn_iterations);
    if (gt_norm_declare_classes(&a->fc_norm, s->norm, p, "fc_norm", 1, &flat, s->n_classes,
                                "model.g", err) < 0)
        return -1;
    attention_declare(s, a, p, 0, c);
    int64_t size = a->s0;
    char name[32];
    for (int i = 0; i < steps; i++) {
        bool last = i == steps - 1;
        int64_t c_next = last ? s->c : c / 2;
        snprintf(name, sizeof name, "deconv%d", i + 1);
        a->conv[i] = gt_conv_transpose2d_declare(p, name, c, c_next, 4, 2, 1, 0, true);
        if (s->spectral_norm) gt_conv_transpose2d_spectral_norm(&a->conv[i], p, s->sn_iterations);
        size *= 2;
        if (!last) {
            int64_t shape[3] = {c_next, size, size};
            snprintf(name, sizeof name, "norm%d", i + 1);
            if (gt_norm_declare_classes(&a->norm[i], s->norm, p, name, 3, shape, s->n_classes,
                                        "model.g", err) < 0)
                return -1;
            attention_declare(s, a, p, i + 1, c_next);
        }
        c = c_next;
    }
    return 0;
}

static int build_discriminator(gt_model *m, dcgan_arch *a, int steps, gt_error *err) {
    const gt_net_spec *s = &m->spec;
    gt_params *p = &m->params;
    a->n_blocks = steps;
    int64_t sides[DCGAN_MAX_BLOCKS] = {0}, chans[DCGAN_MAX_BLOCKS] = {0}; /* steps may be 0 */
    for (int k = 0; k < steps; k++) {
        sides[k] = s->h >> (k + 1);
        chans[k] = s->width << k;
    }
    if (attention_place(s, a, steps, sides, chans, err) < 0) return -1;
    int64_t c = s->c, size = s->h;
    char name[32];
    for (int i = 0; i < steps; i++) {
        int64_t c_next = s->width << i;
        snprintf(name, sizeof name, "conv%d", i + 1);
        a->conv[i] = gt_conv2d_declare(p, name, c, c_next, 4, 2, 1, true);
        if (s->spectral_norm) gt_conv2d_spectral_norm(&a->conv[i], p, s->sn_iterations);
        size /= 2;
        int64_t shape[3] = {c_next, size, size};
        snprintf(name, sizeof name, "norm%d", i + 1);
        if (gt_norm_declare(&a->norm[i], i == 0 ? "none" : s->norm, p, name, 3, shape, err) < 0)
            return -1;
        attention_declare(s, a, p, i, c_next);
        c = c_next;
    }
    if (gt_arch_tricks_check(s, c, err) < 0) return -1;
    /* minibatch std maps join the last feature map, minibatch discrimination the flat
     * features: both just before the final linear (D's last block) */
    a->flat = (c + (s->mbstd_group > 0 ? s->mbstd_channels : 0)) * size * size;
    a->feat = a->flat + gt_batch_tricks_declare(&a->bt, s, p, a->flat);
    a->fc = gt_linear_declare(p, "fc", a->feat, 1, true);
    if (s->spectral_norm) gt_linear_spectral_norm(&a->fc, p, s->sn_iterations);
    a->has_proj = s->n_classes > 0;
    if (a->has_proj)
        a->proj = gt_projection_declare(p, "proj", s->n_classes, a->feat,
                                        s->spectral_norm ? s->sn_iterations : 0);
    return 0;
}

static int dcgan_build(gt_model *m, gt_error *err) {
    const gt_net_spec *s = &m->spec;
    int steps, c0_mult;
    dcgan_arch *a = calloc(1, sizeof *a);
    GT_CHECK(a != NULL, "out of memory (dcgan)");
    m->arch = a;
    if (s->h != s->w || dcgan_layout(s->h, &a->s0, &steps, &c0_mult) < 0)
        return gt_error_set(err, "model: dcgan supports square resolutions 28, 32 or 64, not %dx%d",
                            s->h, s->w);
    /* G makes images of 1 or 3 channels; D may see m of them packed (model.d.pack) */
    if (s->role == GT_ROLE_GENERATOR ? s->c != 1 && s->c != 3 : s->c < 1)
        return gt_error_set(err, "model: dcgan needs images with 1 or 3 channels, not %d", s->c);
    if (s->width < 1 || s->width > 4096)
        return gt_error_set(err, "model: width %lld out of range 1..4096", (long long)s->width);
    if (s->role == GT_ROLE_GENERATOR)
        return gt_arch_tricks_check(s, 1, err) < 0 ? -1 : build_generator(m, a, steps, c0_mult, err);
    return build_discriminator(m, a, steps, err);
}

/* norm(y), then act(.) written over its fresh input (gt_leaky_relu_over_). The forward reads y
 * no more once a real norm has run (gt_forward_done_: see below). */
static gt_tensor *norm_act(const gt_norm_layer *norm, const gt_fwd *f, gt_tensor *y, float slope) {
    gt_tensor *n = gt_norm_forward(norm, f, y);
    if (n != y) gt_forward_done_(y);
    return gt_leaky_relu_over_(n, slope);
}

/* A layer's input h goes to the next layer's convolution and nowhere else, so once that has
 * run the forward is done with it (gt_forward_done_): in a forward without grad its memory is
 * reused, and under bf16 it is kept for the backward as bf16. */
static gt_tensor *conv_t_then_done(const gt_conv_layer *l, const gt_fwd *f, gt_tensor *h) {
    gt_tensor *y = gt_conv_transpose2d_forward(l, f, h);
    gt_forward_done_(h);
    return y;
}

/* With VBN, G runs on [z_ref; z] and drops the reference rows at the end. */
static gt_tensor *generator_forward(const dcgan_arch *a, const gt_fwd *f, gt_tensor *z) {
    z = gt_vbn_ref_join(&a->vbn, f, z);
    gt_tensor *h = norm_act(&a->fc_norm, f, gt_linear_forward(&a->fc, f, z), 0.0f);
    int64_t shape[4] = {z->shape[0], a->c0, a->s0, a->s0};
    h = attention_at(a, f, 0, gt_reshape(h, 4, shape));
    for (int i = 0; i < a->n_blocks; i++) {
        h = conv_t_then_done(&a->conv[i], f, h);
        if (i < a->n_blocks - 1) h = attention_at(a, f, i + 1, norm_act(&a->norm[i], f, h, 0.0f));
    }
    return gt_vbn_ref_split(&a->vbn, gt_tanh(h));
}

/* D's input x is the caller's: only the layers' own activations are done with. */
static gt_tensor *discriminator_forward(const dcgan_arch *a, const gt_fwd *f, gt_tensor *x,
                                        gt_tensor **features) {
    gt_tensor *h = x;
    for (int i = 0; i < a->n_blocks; i++) {
        gt_tensor *y = gt_conv2d_forward(&a->conv[i], f, h);
        if (h != x) gt_forward_done_(h);
        h = attention_at(a, f, i, norm_act(&a->norm[i], f, y, 0.2f));
    }
    h = gt_batch_tricks_mbstd(&a->bt, h);
    int64_t flat[2] = {x->shape[0], a->flat};
    h = gt_batch_tricks_mbdisc(&a->bt, f, gt_reshape(h, 2, flat));
    if (features) *features = h;
    gt_tensor *logit = gt_linear_forward(&a->fc, f, h);
    if (a->has_proj) logit = gt_projection_forward(&a->proj, f, h, logit);
    if (!features) gt_forward_done_(h); /* the caller reads features later */
    return logit;
}

static gt_tensor *dcgan_forward(const gt_model *m, const gt_fwd *f, gt_tensor *x,
                                gt_tensor **features) {
    const dcgan_arch *a = m->arch;
    if (m->spec.role == GT_ROLE_GENERATOR) return generator_forward(a, f, x);
    return discriminator_forward(a, f, x, features);
}

/* G's forward (generator_forward) layer by layer, for exporters. */
static gt_sym attention_described(const dcgan_arch *a, gt_describer *d, int k, gt_sym h) {
    return k == a->attn_at ? d->attention(d, &a->attn, h) : h;
}

static gt_sym dcgan_describe(const gt_model *m, gt_describer *d, gt_sym z) {
    const dcgan_arch *a = m->arch;
    if (a->vbn.n > 0) return d->unsupported(d, "virtual batch norm (model.g.norm = vbn)");
    gt_sym h = d->activate(d, GT_ACT_RELU, d->norm(d, &a->fc_norm, gt_describe_linear(d, &a->fc, z)));
    int64_t shape[3] = {a->c0, a->s0, a->s0};
    h = attention_described(a, d, 0, d->reshape(d, h, 3, shape));
    for (int i = 0; i < a->n_blocks; i++) {
        h = gt_describe_conv(d, &a->conv[i], true, h);
        if (i < a->n_blocks - 1)
            h = attention_described(a, d, i + 1, d->activate(d, GT_ACT_RELU, d->norm(d, &a->norm[i], h)));
    }
    return d->activate(d, GT_ACT_TANH, h);
}

const gt_model_family gt_family_dcgan = {.name = "dcgan", .build = dcgan_build,
                                         .forward = dcgan_forward, .describe = dcgan_describe,
                                         .conditional = true};
