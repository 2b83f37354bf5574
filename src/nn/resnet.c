/* The residual family (SNGAN, Miyato et al. 2018, and SAGAN, Zhang et al. 2019, as in
 * BigGAN-PyTorch and Mimicry) at resolutions 32 and 64.
 * G: z -> linear to [16w, 4, 4] (64) or [8w, 4, 4] (32) -> up blocks halving the channels and
 *    doubling the side -> norm, ReLU, 3x3 conv to c channels, tanh. An up block (c_in -> c_out):
 *    h = conv3x3(ReLU(norm2(conv3x3(up(ReLU(norm1(x))))))) plus the shortcut conv1x1(up(x));
 *    up is nearest-neighbour upsampling by 2. With spec.n_classes the norms are conditional
 *    batch norms (per-class gamma and beta).
 * D: down blocks to w, 2w, 4w (, 8w) channels down to 4x4 -> ReLU -> sum over the positions ->
 *    linear to one logit (+ the projection <embed(y), h> when conditional). The first block
 *    ("optimized", SNGAN): avgpool(conv3x3(ReLU(conv3x3(x)))) + conv1x1(avgpool(x)); the others:
 *    avgpool(conv3x3(ReLU(conv3x3(ReLU(x))))) + avgpool(conv1x1(x)). No normalisation in D.
 * Spectral norm, when on, normalizes every linear and conv weight (attention's included); an
 * optional self-attention block follows the block whose output has the side spec.attention. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine.h"
#include "nn/describe.h"
#include "nn/model.h"

#define RESNET_MAX_BLOCKS 4

typedef struct {
    gt_norm_layer norm1, norm2;  /* G only */
    gt_conv_layer conv1, conv2, sc;
} resnet_block;

typedef struct {
    int n_blocks;
    int64_t c0;                  /* G: channels of the first [c0, 4, 4] map */
    int64_t feat;                /* D: features into the final linear */
    gt_linear_layer fc;
    resnet_block block[RESNET_MAX_BLOCKS];
    gt_norm_layer out_norm;      /* G */
    gt_conv_layer out_conv;      /* G */
    int attn_at;                 /* self-attention after this block (-1: off) */
    gt_attention_layer attn;
    bool has_proj;               /* D: class-conditional projection */
    gt_projection_layer proj;
} resnet_arch;

static void sn_conv(const gt_net_spec *s, gt_params *p, gt_conv_layer *l) {
    if (s->spectral_norm) gt_conv2d_spectral_norm(l, p, s->sn_iterations);
}

static gt_conv_layer conv(const gt_net_spec *s, gt_params *p, const char *blk, const char *part,
                          int64_t cin, int64_t cout, int k) {
    char name[48];
    snprintf(name, sizeof name, "%s.%s", blk, part);
    gt_conv_layer l = gt_conv2d_declare(p, name, cin, cout, k, 1, k / 2, true);
    sn_conv(s, p, &l);
    return l;
}

/* Self-attention after block k when its output side is spec.attention. */
static int attention_setup(const gt_net_spec *s, resnet_arch *a, gt_params *p, int n,
                           const int64_t *sides, const int64_t *chans, gt_error *err) {
    a->attn_at = -1;
    if (s->attention == 0) return 0;
    const char *sec = gt_net_spec_section(s);
    for (int k = 0; k < n; k++)
        if (sides[k] == s->attention) a->attn_at = k;
    if (a->attn_at < 0)
        return gt_error_set(err, "model: %s.attention = %d: no block of the resnet family ends at "
                                 "that side (0: off)", sec, s->attention);
    if (chans[a->attn_at] < 8)
        return gt_error_set(err, "model: %s.attention = %d: self-attention needs at least 8 "
                                 "channels, that block has %lld (raise %s.width)", sec,
                            s->attention, (long long)chans[a->attn_at], sec);
    (void)p;
    return 0;
}

static void attention_declare(const gt_net_spec *s, resnet_arch *a, gt_params *p, int k, int64_t c) {
    if (k != a->attn_at) return;
    a->attn = gt_attention_declare(p, "attn", c);
    if (s->spectral_norm) gt_attention_spectral_norm(&a->attn, p, s->sn_iterations);
}

static int build_generator(gt_model *m, resnet_arch *a, int steps, gt_error *err) {
    const gt_net_spec *s = &m->spec;
    gt_params *p = &m->params;
    if (strcmp(s->norm, "vbn") == 0)
        return gt_error_set(err, "model: model.g.norm = vbn is not available in the resnet family "
                                 "(batch|layer|none)");
    a->n_blocks = steps;
    a->c0 = s->width << steps;
    int64_t sides[RESNET_MAX_BLOCKS], chans[RESNET_MAX_BLOCKS];
    for (int k = 0; k < steps; k++) {
        sides[k] = (int64_t)4 << (k + 1);
        chans[k] = a->c0 >> (k + 1);
    }
    if (attention_setup(s, a, p, steps, sides, chans, err) < 0) return -1;
    a->fc = gt_linear_declare(p, "fc", s->z_dim, a->c0 * 16, true);
    if (s->spectral_norm) gt_linear_spectral_norm(&a->fc, p, s->sn_iterations);
    int64_t c = a->c0, side = 4;
    char blk[32], name[48];
    for (int i = 0; i < steps; i++) {
        resnet_block *b = &a->block[i];
        int64_t c_out = c / 2, in_shape[3] = {c, side, side}, out_shape[3] = {c_out, 2 * side, 2 * side};
        snprintf(blk, sizeof blk, "up%d", i + 1);
        snprintf(name, sizeof name, "%s.norm1", blk);
        if (gt_norm_declare_classes(&b->norm1, s->norm, p, name, 3, in_shape, s->n_classes,
                                    "model.g", err) < 0)
            return -1;
        b->conv1 = conv(s, p, blk, "conv1", c, c_out, 3);
        snprintf(name, sizeof name, "%s.norm2", blk);
        if (gt_norm_declare_classes(&b->norm2, s->norm, p, name, 3, out_shape, s->n_classes,
                                    "model.g", err) < 0)
            return -1;
        b->conv2 = conv(s, p, blk, "conv2", c_out, c_out, 3);
        b->sc = conv(s, p, blk, "sc", c, c_out, 1);
        attention_declare(s, a, p, i, c_out);
        c = c_out;
        side *= 2;
    }
    int64_t shape[3] = {c, side, side};
    if (gt_norm_declare_classes(&a->out_norm, s->norm, p, "out_norm", 3, shape, s->n_classes,
                                "model.g", err) < 0)
        return -1;
    a->out_conv = conv(s, p, "out", "conv", c, s->c, 3);
    return 0;
}

static int build_discriminator(gt_model *m, resnet_arch *a, int steps, gt_error *err) {
    const gt_net_spec *s = &m->spec;
    gt_params *p = &m->params;
    const char *sec = gt_net_spec_section(s);
    if (strcmp(s->norm, "none") != 0)
        return gt_error_set(err, "model: the resnet discriminator has no normalisation layers "
                                 "(SNGAN, SAGAN): set %s.norm = none (not %s)", sec, s->norm);
    if (s->mbstd_group > 0 || s->mbdisc_kernels > 0)
        return gt_error_set(err, "model: %s: minibatch std and minibatch discrimination are not "
                                 "available in the resnet family", sec);
    if (gt_arch_tricks_check(s, 1, err) < 0) return -1;
    a->n_blocks = steps;
    int64_t sides[RESNET_MAX_BLOCKS], chans[RESNET_MAX_BLOCKS];
    for (int k = 0; k < steps; k++) {
        sides[k] = s->h >> (k + 1);
        chans[k] = s->width << k;
    }
    if (attention_setup(s, a, p, steps, sides, chans, err) < 0) return -1;
    int64_t c = s->c;
    char blk[32];
    for (int i = 0; i < steps; i++) {
        resnet_block *b = &a->block[i];
        snprintf(blk, sizeof blk, "down%d", i + 1);
        b->conv1 = conv(s, p, blk, "conv1", c, chans[i], 3);
        b->conv2 = conv(s, p, blk, "conv2", chans[i], chans[i], 3);
        b->sc = conv(s, p, blk, "sc", c, chans[i], 1);
        attention_declare(s, a, p, i, chans[i]);
        c = chans[i];
    }
    a->feat = c;
    a->fc = gt_linear_declare(p, "fc", c, 1, true);
    if (s->spectral_norm) gt_linear_spectral_norm(&a->fc, p, s->sn_iterations);
    a->has_proj = s->n_classes > 0;
    if (a->has_proj)
        a->proj = gt_projection_declare(p, "proj", s->n_classes, c,
                                        s->spectral_norm ? s->sn_iterations : 0);
    return 0;
}

static int resnet_build(gt_model *m, gt_error *err) {
    const gt_net_spec *s = &m->spec;
    resnet_arch *a = calloc(1, sizeof *a);
    GT_CHECK(a != NULL, "out of memory (resnet)");
    m->arch = a;
    if (s->h != s->w || (s->h != 32 && s->h != 64))
        return gt_error_set(err, "model: resnet supports square resolutions 32 or 64, not %dx%d "
                                 "(Fashion-MNIST: data.resolution = 32)", s->h, s->w);
    /* G makes images of 1 or 3 channels; D may see m of them packed (model.d.pack) */
    if (s->role == GT_ROLE_GENERATOR ? s->c != 1 && s->c != 3 : s->c < 1)
        return gt_error_set(err, "model: resnet needs images with 1 or 3 channels, not %d", s->c);
    if (s->width < 1 || s->width > 4096)
        return gt_error_set(err, "model: width %lld out of range 1..4096", (long long)s->width);
    int steps = s->h == 32 ? 3 : 4;
    if (s->role == GT_ROLE_GENERATOR)
        return gt_arch_tricks_check(s, 1, err) < 0 ? -1 : build_generator(m, a, steps, err);
    return build_discriminator(m, a, steps, err);
}

static gt_tensor *attention_at(const resnet_arch *a, const gt_fwd *f, int k, gt_tensor *h) {
    return k == a->attn_at ? gt_attention_forward(&a->attn, f, h) : h;
}

/* A block's inner activations go to one convolution each, so once it has run the forward is
 * done with them (gt_forward_done_: memory back without grad, bf16 under that precision). A
 * block's input feeds the shortcut too: the loop gives it up after the block. */
static gt_tensor *conv_then_done(const gt_conv_layer *l, const gt_fwd *f, gt_tensor *h) {
    gt_tensor *y = gt_conv2d_forward(l, f, h);
    gt_forward_done_(h);
    return y;
}

static gt_tensor *up_block(const resnet_block *b, const gt_fwd *f, gt_tensor *x) {
    gt_tensor *h = gt_upsample2x(gt_relu(gt_norm_forward(&b->norm1, f, x)));
    h = gt_relu(gt_norm_forward(&b->norm2, f, conv_then_done(&b->conv1, f, h)));
    h = conv_then_done(&b->conv2, f, h);
    return gt_add(h, gt_conv2d_forward(&b->sc, f, gt_upsample2x(x)));
}

static gt_tensor *down_block(const resnet_block *b, const gt_fwd *f, gt_tensor *x, bool first) {
    gt_tensor *h = first ? x : gt_relu(x);
    gt_tensor *y = gt_conv2d_forward(&b->conv1, f, h);
    if (h != x) gt_forward_done_(h);
    h = conv_then_done(&b->conv2, f, gt_relu(y));
    h = gt_avg_pool2d(h, 2, 2, 0);
    gt_tensor *sc = first ? gt_conv2d_forward(&b->sc, f, gt_avg_pool2d(x, 2, 2, 0))
                          : gt_avg_pool2d(gt_conv2d_forward(&b->sc, f, x), 2, 2, 0);
    return gt_add(h, sc);
}

static gt_tensor *resnet_forward(const gt_model *m, const gt_fwd *f, gt_tensor *x,
                                 gt_tensor **features) {
    const resnet_arch *a = m->arch;
    if (m->spec.role == GT_ROLE_GENERATOR) {
        int64_t shape[4] = {x->shape[0], a->c0, 4, 4};
        gt_tensor *h = gt_reshape(gt_linear_forward(&a->fc, f, x), 4, shape);
        for (int i = 0; i < a->n_blocks; i++) {
            gt_tensor *out = up_block(&a->block[i], f, h);
            gt_forward_done_(h);
            h = attention_at(a, f, i, out);
        }
        h = gt_relu(gt_norm_forward(&a->out_norm, f, h));
        return gt_tanh(gt_conv2d_forward(&a->out_conv, f, h));
    }
    gt_tensor *h = x; /* the caller's: only the blocks' own outputs are given up */
    for (int i = 0; i < a->n_blocks; i++) {
        gt_tensor *out = down_block(&a->block[i], f, h, i == 0);
        if (h != x) gt_forward_done_(h);
        h = attention_at(a, f, i, out);
    }
    int axes[2] = {2, 3};
    h = gt_sum(gt_relu(h), 2, axes, false); /* [N, C] */
    if (features) *features = h;
    gt_tensor *logit = gt_linear_forward(&a->fc, f, h);
    return a->has_proj ? gt_projection_forward(&a->proj, f, h, logit) : logit;
}

/* G's forward (resnet_forward, up_block) layer by layer, for exporters. */
static gt_sym up_block_described(const resnet_block *b, gt_describer *d, gt_sym x) {
    gt_sym h = d->upsample2x(d, d->activate(d, GT_ACT_RELU, d->norm(d, &b->norm1, x)));
    h = d->activate(d, GT_ACT_RELU, d->norm(d, &b->norm2, gt_describe_conv(d, &b->conv1, false, h)));
    h = gt_describe_conv(d, &b->conv2, false, h);
    return d->add(d, h, gt_describe_conv(d, &b->sc, false, d->upsample2x(d, x)));
}

static gt_sym resnet_describe(const gt_model *m, gt_describer *d, gt_sym z) {
    const resnet_arch *a = m->arch;
    int64_t shape[3] = {a->c0, 4, 4};
    gt_sym h = d->reshape(d, gt_describe_linear(d, &a->fc, z), 3, shape);
    for (int i = 0; i < a->n_blocks; i++) {
        h = up_block_described(&a->block[i], d, h);
        if (i == a->attn_at) h = d->attention(d, &a->attn, h);
    }
    h = d->activate(d, GT_ACT_RELU, d->norm(d, &a->out_norm, h));
    return d->activate(d, GT_ACT_TANH, gt_describe_conv(d, &a->out_conv, false, h));
}

const gt_model_family gt_family_resnet = {.name = "resnet", .build = resnet_build,
                                          .forward = resnet_forward, .describe = resnet_describe,
                                          .conditional = true};
