/* The ONNX emitters behind a gt_describer (nn/describe.h): one per layer kind, each writing the
 * nodes and initializers of its layer into an ox_graph. The context holds what the emitters
 * share: the graph, G's table, the extra graph inputs (labels, psi, noise) and the options. */
#ifndef GT_EXPORT_EMIT_H
#define GT_EXPORT_EMIT_H

#include "export/onnx_graph.h"
#include "nn/describe.h"

typedef enum { OX_NOISE_CONST, OX_NOISE_SEEDED, OX_NOISE_INPUT } ox_noise;

typedef struct ox_ctx {
    gt_describer d;        /* first member: an emitter's gt_describer * is its ox_ctx * */
    ox_graph *g;
    const gt_params *p;    /* G's table (names of the initializers) */
    gt_sym labels;         /* int64 [N], the class input of a conditional G (-1: none) */
    gt_sym psi;            /* float [1], StyleGAN2's truncation input (-1: none) */
    ox_noise noise;        /* StyleGAN2's noise: G's buffers, drawn from a seed, or inputs */
    gt_rng noise_rng;      /* OX_NOISE_SEEDED */
} ox_ctx;

static inline ox_ctx *ox_ctx_of(gt_describer *d) { return (ox_ctx *)d; }

/* Fills c->d's emitters (c->d.f, the graph and the table are the caller's). */
void ox_emitters_install(ox_ctx *c);

/* ---- shared by the emitters ---- */
/* Table entry idx as an initializer, its value `value` (NULL: the entry itself) reshaped to s
 * (ndim 0: the entry's own shape), named after the entry (with suffix). */
gt_sym ox_param(ox_ctx *c, int idx, gt_tensor *value, const char *suffix, ox_shape s);
/* The entry's layer name: its name without the last ".part" ("fc.weight" -> "fc"). */
void ox_layer_name(const ox_ctx *c, int idx, char *out, size_t cap);
/* Dense and conv weights as they run: w_scale W, spectrally normalized in evaluation mode
 * (sigma from the stored u, no power iteration: gantry's evaluation forward). */
gt_tensor *ox_effective_weight(ox_ctx *c, int w, const gt_sn *sn, float w_scale);
/* y = x * s (s a 0-d constant); x when s is 1. */
gt_sym ox_mul_scalar(ox_ctx *c, gt_sym x, float s);
/* A batched value with one more axis of size 1 at the end, k times: [N, C] -> [N, C, 1, 1]. */
gt_sym ox_unsqueeze_tail(ox_ctx *c, gt_sym x, int k);

/* The emitters, by file. */
gt_sym ox_emit_dense(gt_describer *d, const gt_dense_desc *l, gt_sym x);          /* emit_linear.c */
gt_sym ox_emit_conv(gt_describer *d, const gt_conv_desc *l, gt_sym x);
gt_sym ox_emit_norm(gt_describer *d, const gt_norm_layer *n, gt_sym x);            /* emit_norm.c */
gt_sym ox_emit_attention(gt_describer *d, const gt_attention_layer *l, gt_sym x);  /* emit_attention.c */
gt_sym ox_emit_modulated(gt_describer *d, const gt_modconv_desc *l, gt_sym x, gt_sym w); /* emit_style.c */
gt_sym ox_emit_truncate(gt_describer *d, int w_avg, gt_sym w);
gt_sym ox_emit_batch_constant(gt_describer *d, int param, gt_sym like);
gt_sym ox_emit_pixel_norm(gt_describer *d, gt_sym x);
gt_sym ox_emit_activate(gt_describer *d, gt_activation a, gt_sym x);               /* emit_shape.c */
gt_sym ox_emit_leaky_relu(gt_describer *d, float slope, float gain, gt_sym x);
gt_sym ox_emit_reshape(gt_describer *d, gt_sym x, int ndim, const int64_t *sample);
gt_sym ox_emit_upsample2x(gt_describer *d, gt_sym x);
gt_sym ox_emit_add(gt_describer *d, gt_sym a, gt_sym b);
gt_sym ox_emit_blend(gt_describer *d, gt_sym a, float wa, gt_sym b, float wb);
gt_sym ox_emit_unsupported(gt_describer *d, const char *what);

#endif
