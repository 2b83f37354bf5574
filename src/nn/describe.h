/* A generator described layer by layer, for exporters (src/export/ writes ONNX from it). A
 * family's describe hook walks its generator's evaluation-mode forward in order and hands each
 * layer to the describer's emitter of that kind; values are handles (gt_sym) the describer gives
 * out. The family says which layers run on which values; the describer reads the weights through
 * d->f (G's EMA table when the run has one) and decides how to write them. An emitter that
 * cannot write a layer records an error naming it and returns a negative handle; emitters given
 * a negative handle return it unchanged, so a family walks on without checking each step. */
#ifndef GT_NN_DESCRIBE_H
#define GT_NN_DESCRIBE_H

#include "nn/model.h"

typedef int gt_sym;

/* A fully connected layer: y = x (w_scale W)^T + b_scale b, W [out, in] spectrally normalized
 * first when sn is on (b = -1: no bias). */
typedef struct {
    int w, b;
    const gt_sn *sn;   /* NULL: none */
    float w_scale, b_scale;
} gt_dense_desc;

/* A square convolution, or a transposed one (weight [C_in, C_out, k, k]), of weight w_scale W. */
typedef struct {
    int w, b;
    const gt_sn *sn;
    float w_scale;
    int stride, padding, output_padding;
    bool transposed;
} gt_conv_desc;

/* StyleGAN2's modulated layer (src/nn/stylegan2.c): styles s = style_gain affine(w) [N, C_in];
 * x upsampled 2x (nearest) first when up; y = conv(x, W s_n) (demodulated when asked, padding
 * k / 2), + strength * noise (noise < 0: none), + bias, then lrelu(0.2) * sqrt(2) when act. */
typedef struct {
    const char *name;  /* the layer's name ("b8.conv0"), for messages */
    int weight, bias, strength, noise;
    gt_dense_desc affine;
    float style_gain;
    bool demodulate, up, act;
} gt_modconv_desc;

typedef struct gt_describer gt_describer;
struct gt_describer {
    const gt_fwd *f;   /* the tensors the layers read, in evaluation mode */
    /* ---- one emitter per layer kind ---- */
    gt_sym (*dense)(gt_describer *d, const gt_dense_desc *l, gt_sym x);           /* [N, in] */
    gt_sym (*conv)(gt_describer *d, const gt_conv_desc *l, gt_sym x);             /* [N, C, H, W] */
    gt_sym (*norm)(gt_describer *d, const gt_norm_layer *n, gt_sym x);            /* batch, layer, conditional */
    gt_sym (*attention)(gt_describer *d, const gt_attention_layer *l, gt_sym x);
    gt_sym (*modulated)(gt_describer *d, const gt_modconv_desc *l, gt_sym x, gt_sym w);
    /* ---- activations and shapes ---- */
    gt_sym (*activate)(gt_describer *d, gt_activation a, gt_sym x);
    gt_sym (*leaky_relu)(gt_describer *d, float slope, float gain, gt_sym x);    /* lrelu * gain */
    gt_sym (*reshape)(gt_describer *d, gt_sym x, int ndim, const int64_t *sample); /* [N, sample] */
    gt_sym (*upsample2x)(gt_describer *d, gt_sym x);                              /* nearest */
    gt_sym (*add)(gt_describer *d, gt_sym a, gt_sym b);
    gt_sym (*blend)(gt_describer *d, gt_sym a, float wa, gt_sym b, float wb);     /* wa a + wb b */
    gt_sym (*pixel_norm)(gt_describer *d, gt_sym x);  /* x / sqrt(mean over axis 1 of x^2 + 1e-8) */
    /* ---- style-based generators ---- */
    /* w_avg + psi (w - w_avg), psi an input of the described graph; w [N, w_dim] */
    gt_sym (*truncate)(gt_describer *d, int w_avg, gt_sym w);
    /* a learned tensor [C, H, W] (entry param) repeated over the batch of `like` */
    gt_sym (*batch_constant)(gt_describer *d, int param, gt_sym like);
    /* a layer no emitter writes: records "WHAT is not supported" and returns a negative handle */
    gt_sym (*unsupported)(gt_describer *d, const char *what);
};

static inline gt_dense_desc gt_dense_of_linear(const gt_linear_layer *l) {
    return (gt_dense_desc){.w = l->w, .b = l->b, .sn = l->sn.on ? &l->sn : NULL,
                           .w_scale = 1.0f, .b_scale = 1.0f};
}

static inline gt_conv_desc gt_conv_of_layer(const gt_conv_layer *l, bool transposed) {
    return (gt_conv_desc){.w = l->w, .b = l->b, .sn = l->sn.on ? &l->sn : NULL, .w_scale = 1.0f,
                          .stride = l->stride, .padding = l->padding,
                          .output_padding = l->output_padding, .transposed = transposed};
}

static inline gt_sym gt_describe_linear(gt_describer *d, const gt_linear_layer *l, gt_sym x) {
    gt_dense_desc desc = gt_dense_of_linear(l);
    return d->dense(d, &desc, x);
}

static inline gt_sym gt_describe_conv(gt_describer *d, const gt_conv_layer *l, bool transposed,
                                      gt_sym x) {
    gt_conv_desc desc = gt_conv_of_layer(l, transposed);
    return d->conv(d, &desc, x);
}

/* G of model m on the latents z [N, z_dim] (and the labels the describer holds, for a
 * conditional G): the image [N, c, h, w] (points: [N, 2]) at the model's current growth state,
 * or a negative handle when a layer has no emitter (the describer then holds the error).
 * A family without a describe hook is reported as unsupported. */
gt_sym gt_model_describe(const gt_model *m, gt_describer *d, gt_sym z);

#endif
