/* The MLP family, for 2-D data (and small images, flattened): depth hidden layers of `width`
 * units with the chosen activation and optional normalisation; with activation "maxout" each
 * hidden layer is a maxout layer of `width` units (linear to width x pieces, max over pieces),
 * followed by the normalisation when one is set. G ends in a linear layer to
 * the data size (tanh for images, none for points); D ends in one logit, after the optional
 * minibatch std and minibatch discrimination features are appended to its last hidden vector.
 * Spectral norm, when on, normalizes every linear weight; with norm "vbn" (virtual batch norm)
 * G runs on [z_ref; z] and drops the reference rows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine.h"
#include "nn/describe.h"
#include "nn/model.h"

#define MLP_MAX_DEPTH 16

typedef struct {
    int depth;
    int64_t out;                           /* data size c*h*w (G) or 1 (D) */
    gt_activation act;                     /* unused with maxout */
    bool maxout;
    gt_linear_layer hidden[MLP_MAX_DEPTH];        /* without maxout */
    gt_maxout_layer maxout_layer[MLP_MAX_DEPTH];  /* with maxout */
    gt_norm_layer norm[MLP_MAX_DEPTH];
    gt_batch_tricks bt;                    /* D: minibatch std and discrimination */
    gt_linear_layer last;
    gt_vbn_ref vbn;                        /* G: virtual batch norm's reference latents */
} mlp_arch;

/* Hidden layer i's linear map (a maxout layer's is inside it). */
static gt_linear_layer *hidden_linear(mlp_arch *a, int i) {
    return a->maxout ? &a->maxout_layer[i].lin : &a->hidden[i];
}

static int mlp_build(gt_model *m, gt_error *err) {
    const gt_net_spec *s = &m->spec;
    mlp_arch *a = calloc(1, sizeof *a);
    GT_CHECK(a != NULL, "out of memory (mlp)");
    m->arch = a;
    if (s->depth < 1 || s->depth > MLP_MAX_DEPTH)
        return gt_error_set(err, "model: mlp depth %lld out of range 1..%d", (long long)s->depth,
                            MLP_MAX_DEPTH);
    if (s->width < 1)
        return gt_error_set(err, "model: mlp width %lld must be positive", (long long)s->width);
    a->maxout = strcmp(s->activation, "maxout") == 0;
    if (!a->maxout && gt_activation_parse(s->activation, &a->act) < 0)
        return gt_error_set(err, "model: activation '%s' unknown (allowed: relu|leaky_relu|tanh|"
                                 "maxout)", s->activation);
    if (a->maxout && s->maxout_pieces < 2)
        return gt_error_set(err, "model: %s.activation = maxout needs %s.maxout_pieces >= 2 (got "
                                 "%d; PacGAN's D: 5)", gt_net_spec_section(s),
                            gt_net_spec_section(s), s->maxout_pieces);
    if (!a->maxout && s->maxout_pieces != 0)
        return gt_error_set(err, "model: %s.maxout_pieces = %d is for activation = maxout (%s."
                                 "activation is %s): set it to 0 or use maxout",
                            gt_net_spec_section(s), s->maxout_pieces, gt_net_spec_section(s),
                            s->activation);
    int64_t data = (int64_t)s->c * s->h * s->w;
    bool gen = s->role == GT_ROLE_GENERATOR;
    a->depth = (int)s->depth;
    a->out = gen ? data : 1;
    int64_t in = gen ? s->z_dim : data;
    if (s->attention != 0)
        return gt_error_set(err, "model: %s.attention = %d: self-attention needs feature maps "
                                 "(family dcgan), not the mlp family",
                            gt_net_spec_section(s), s->attention);
    if (gen && s->vbn_ref > 0) a->vbn = gt_vbn_ref_declare(&m->params, s->vbn_ref, s->z_dim);
    char name[32];
    for (int i = 0; i < a->depth; i++) {
        snprintf(name, sizeof name, "fc%d", i + 1);
        bool bias = !s->no_hidden_bias;
        if (a->maxout)
            a->maxout_layer[i] = gt_maxout_declare(&m->params, name, in, s->width, s->maxout_pieces, bias);
        else
            a->hidden[i] = gt_linear_declare(&m->params, name, in, s->width, bias);
        if (s->spectral_norm) gt_linear_spectral_norm(hidden_linear(a, i), &m->params, s->sn_iterations);
        snprintf(name, sizeof name, "norm%d", i + 1);
        if (gt_norm_declare(&a->norm[i], s->norm, &m->params, name, 1, &s->width, err) < 0)
            return -1;
        in = s->width;
    }
    if (gt_arch_tricks_check(s, s->width, err) < 0) return -1;
    if (!gen) { /* minibatch std and discrimination features join the last hidden vector */
        in += s->mbstd_group > 0 ? s->mbstd_channels : 0;
        in += gt_batch_tricks_declare(&a->bt, s, &m->params, in);
    }
    a->last = gt_linear_declare(&m->params, "out", in, a->out, true);
    if (s->spectral_norm) gt_linear_spectral_norm(&a->last, &m->params, s->sn_iterations);
    return 0;
}

/* act(x) for a fresh pre-activation x: relu and leaky relu written over it (gt_leaky_relu_over_). */
static gt_tensor *activate_fresh(gt_tensor *x, gt_activation act) {
    if (act == GT_ACT_RELU) return gt_leaky_relu_over_(x, 0.0f);
    if (act == GT_ACT_LEAKY_RELU) return gt_leaky_relu_over_(x, 0.2f);
    return gt_activate(x, act);
}

/* Hidden layer i on h [N, in] -> [N, width]: act(norm(linear)), or norm(maxout). */
static gt_tensor *hidden_forward(const mlp_arch *a, int i, const gt_fwd *f, gt_tensor *h) {
    if (a->maxout) return gt_norm_forward(&a->norm[i], f, gt_maxout_forward(&a->maxout_layer[i], f, h));
    return activate_fresh(gt_norm_forward(&a->norm[i], f, gt_linear_forward(&a->hidden[i], f, h)), a->act);
}

static gt_tensor *mlp_forward(const gt_model *m, const gt_fwd *f, gt_tensor *x,
                              gt_tensor **features) {
    const mlp_arch *a = m->arch;
    const gt_net_spec *s = &m->spec;
    if (s->role == GT_ROLE_GENERATOR) x = gt_vbn_ref_join(&a->vbn, f, x); /* [z_ref; z] */
    int64_t flat[2] = {x->shape[0], -1};
    gt_tensor *h = gt_reshape(x, 2, flat);
    for (int i = 0; i < a->depth; i++) h = hidden_forward(a, i, f, h);
    if (s->role == GT_ROLE_DISCRIMINATOR)
        h = gt_batch_tricks_mbdisc(&a->bt, f, gt_batch_tricks_mbstd(&a->bt, h));
    if (features) *features = h;
    gt_tensor *y = gt_linear_forward(&a->last, f, h);
    if (s->role == GT_ROLE_DISCRIMINATOR) return y;
    y = gt_vbn_ref_split(&a->vbn, y);
    bool points = s->h == 1 && s->w == 1;
    if (points) return y;
    int64_t img[4] = {y->shape[0], s->c, s->h, s->w};
    return gt_reshape(gt_tanh(y), 4, img);
}

/* G's forward (mlp_forward) layer by layer, for exporters. */
static gt_sym mlp_describe(const gt_model *m, gt_describer *d, gt_sym z) {
    const mlp_arch *a = m->arch;
    const gt_net_spec *s = &m->spec;
    if (a->vbn.n > 0) return d->unsupported(d, "virtual batch norm (model.g.norm = vbn)");
    if (a->maxout) return d->unsupported(d, "a maxout layer (activation = maxout)");
    gt_sym h = z;
    for (int i = 0; i < a->depth; i++) {
        h = gt_describe_linear(d, &a->hidden[i], h);
        h = d->activate(d, a->act, d->norm(d, &a->norm[i], h));
    }
    gt_sym y = gt_describe_linear(d, &a->last, h);
    if (s->h == 1 && s->w == 1) return y;   /* points */
    int64_t img[3] = {s->c, s->h, s->w};
    return d->reshape(d, d->activate(d, GT_ACT_TANH, y), 3, img);
}

const gt_model_family gt_family_mlp = {.name = "mlp", .build = mlp_build, .forward = mlp_forward,
                                       .describe = mlp_describe};
