/* Layers over a parameter table. A layer records the indices of its entries at build time;
 * its forward reads the tensors through a gt_fwd, whose tensor array may be the table's own
 * or stand-ins (EMA weights, unrolled D weights). Every forward is composed of core ops, so
 * all layers differentiate to any order. */
#ifndef GT_NN_LAYERS_H
#define GT_NN_LAYERS_H

#include "nn/params.h"

/* How a forward pass runs: the tensors to read (indexed like the table) and the mode. */
typedef struct gt_fwd {
    gt_tensor *const *t;   /* [params->n] */
    gt_params *params;     /* the table whose buffers (running statistics) training updates */
    bool train;            /* batch statistics and running-stat updates (batch norm) */
    /* Class labels [N] of the batch this forward runs on, for class-conditional networks
     * (conditional batch norm in G, the projection in D; src/nn/conditional.c); NULL for
     * unconditional ones. The caller sets it per forward (gt_fwd_labelled): D sees the real
     * batch's labels on reals and the drawn labels on fakes. */
    const int32_t *labels;
    /* The shard this forward's N rows are (src/gan/shards.c): rows [draw_first, draw_first + N)
     * of a batch of draw_total; per-sample draws inside the forward (StyleGAN2's noise and
     * mixing latents) take those rows of the whole batch's draw (gt_rand_normal_rows).
     * draw_total = 0: the forward's rows are the whole batch. */
    int64_t draw_first, draw_total;
} gt_fwd;

/* A forward context reading the table's own tensors. */
gt_fwd gt_fwd_of(gt_params *p, bool train);
/* A copy of f whose forwards see the class labels y [N] (NULL: none). */
gt_fwd gt_fwd_labelled(const gt_fwd *f, const int32_t *y);

/* ---- weight initialisation -------------------------------------------------------------- */
typedef enum { GT_INIT_NORMAL, GT_INIT_KAIMING, GT_INIT_XAVIER, GT_INIT_ORTHOGONAL } gt_init;
/* w ~ N(0, std^2) | Kaiming normal (fan_in, gain for leaky relu with `slope`) | Xavier uniform |
 * orthogonal rows/columns of w viewed as [shape[0], rest] (scaled by gain 1). */
void gt_init_tensor(gt_tensor *w, gt_init kind, double std, double slope, gt_rng *rng);
int gt_init_parse(const char *name, gt_init *out);   /* "normal" ... ; -1 if unknown */

/* ---- spectral normalization (Miyato et al. 2018, Algorithm 1): W_SN = W / sigma(W) ----
 * W is viewed as a matrix [rows, rest] whose rows run along rows_axis: axis 0 for linear
 * [out, in] and conv2d [C_out, C_in, k, k]; axis 1 for conv_transpose2d [C_in, C_out, k, k]
 * (PyTorch's spectral_norm uses dim = 1 for ConvTranspose), so the rows are always the output
 * channels. u [rows] is a buffer of the table ("<weight>_u", e.g. "conv1.weight_u"), drawn
 * N(0, I) and normalized at init, so checkpoints, the EMA copy and the trainer's buffer backup
 * carry it. A forward in training mode runs `iterations` power iterations from u
 * (v = normalize(W^T u), u = normalize(W v), eps 1e-12) and writes the new u into the buffer:
 * u advances on EVERY training-mode forward (as in PyTorch: D(real), D(fake), each penalty's
 * D call and G's update each advance D's u). In evaluation mode u stays, and v = normalize(W^T u).
 * Then sigma = u^T W v with u and v constants: the gradient flows through W, sigma included. */
typedef struct {
    bool on;
    int u;           /* index of the u buffer */
    int w;           /* index of the weight it normalizes */
    int rows_axis;   /* 0, or 1 for transposed convolutions */
    int iterations;  /* power iterations per training forward, >= 1 */
} gt_sn;
/* Declares "<name of entry w>_u" [rows] for the weight at index w of p. */
gt_sn gt_sn_declare(gt_params *p, int w, int rows_axis, int iterations);
/* u ~ N(0, I), then u / max(||u||, 1e-12) (in place; u contiguous). */
void gt_sn_init_u(gt_tensor *u, gt_rng *rng);
/* W / sigma(W) for the weight w read through f (the power iteration runs without recording;
 * in training mode it writes the new u into f->t[sn->u]). */
gt_tensor *gt_sn_weight(const gt_sn *sn, const gt_fwd *f, gt_tensor *w);
/* The power iteration alone, on values (nothing recorded): from u [rows], `iterations` steps
 * (0: only v = normalize(W^T u)). Returns the constant uv = u v^T laid out like w, so that
 * sigma = sum(w * uv); *u_new (when not NULL) gets the final u [rows]. */
gt_tensor *gt_sn_power_iteration(gt_tensor *w, gt_tensor *u, int rows_axis, int iterations,
                                 gt_tensor **u_new);
/* The differentiable part: w / sum(w * uv), uv a constant laid out like w. */
gt_tensor *gt_sn_apply(gt_tensor *w, gt_tensor *uv);

/* ---- linear: y = x W^T + b, W [out, in] ---- */
typedef struct { int w, b; gt_sn sn; } gt_linear_layer;  /* b = -1: no bias; sn.on: W_SN */
gt_linear_layer gt_linear_declare(gt_params *p, const char *name, int64_t in, int64_t out, bool bias);
gt_tensor *gt_linear_forward(const gt_linear_layer *l, const gt_fwd *f, gt_tensor *x);

/* ---- maxout (Goodfellow et al. 2013): y_j = max_k (x W^T + b)_{j k} over k pieces ----
 * One linear layer to out * pieces units, unit j's pieces adjacent (j pieces .. j pieces +
 * pieces - 1, as Blocks' LinearMaxout), then the max over each unit's pieces: x [N, in] ->
 * [N, out]. A composite of linear, reshape and max, so it differentiates to any order (ties
 * share the gradient equally). Spectral norm, when on, normalizes the whole [out pieces, in]
 * weight. */
typedef struct { gt_linear_layer lin; int64_t out, pieces; } gt_maxout_layer;
gt_maxout_layer gt_maxout_declare(gt_params *p, const char *name, int64_t in, int64_t out,
                                  int64_t pieces, bool bias);
gt_tensor *gt_maxout_forward(const gt_maxout_layer *l, const gt_fwd *f, gt_tensor *x);

/* ---- conv2d and conv_transpose2d (square kernels, same options both axes) ---- */
typedef struct { int w, b; int stride, padding, output_padding; gt_sn sn; } gt_conv_layer;
gt_conv_layer gt_conv2d_declare(gt_params *p, const char *name, int64_t c_in, int64_t c_out,
                                int k, int stride, int padding, bool bias);
gt_conv_layer gt_conv_transpose2d_declare(gt_params *p, const char *name, int64_t c_in,
                                          int64_t c_out, int k, int stride, int padding,
                                          int output_padding, bool bias);
gt_tensor *gt_conv2d_forward(const gt_conv_layer *l, const gt_fwd *f, gt_tensor *x);
gt_tensor *gt_conv_transpose2d_forward(const gt_conv_layer *l, const gt_fwd *f, gt_tensor *x);
/* Switch spectral normalization on for a declared layer (declares its u). */
void gt_linear_spectral_norm(gt_linear_layer *l, gt_params *p, int iterations);
void gt_conv2d_spectral_norm(gt_conv_layer *l, gt_params *p, int iterations);
void gt_conv_transpose2d_spectral_norm(gt_conv_layer *l, gt_params *p, int iterations);

/* ---- minibatch standard deviation (Karras et al. 2018, ProGAN; channel groups as StyleGAN2) ----
 * x [N, C, H, W] -> [N, C + channels, H, W] (x [N, C] -> [N, C + channels]). The batch splits
 * into N/group groups with sample i in group i mod (N/group) (strided, as ProGAN's reshape to
 * [group, N/group, ...]); per group, the biased std over its `group` members, sqrt(var + 1e-8),
 * of every feature, averaged over the C/channels channels of each channel group and over H, W;
 * each sample gets its group's values as `channels` extra feature maps. N must divide by group. */
typedef struct { int group, channels; } gt_mbstd_layer;   /* group 0: off */
gt_tensor *gt_mbstd_forward(const gt_mbstd_layer *l, gt_tensor *x);

/* ---- minibatch discrimination (Salimans et al. 2016, section 3.2) ----
 * x [N, A]; M = x T^T viewed [N, B, C] with T stored like a linear weight [B C, A];
 * c_b(i, j) = exp(-||M_i,b - M_j,b||_1), o(i)_b = sum_j c_b(i, j) over all j, j = i included
 * (the paper's formula; Salimans' Theano code excludes j = i, a constant 1 less).
 * y = [x, o] [N, A + B]. */
typedef struct { int t; int64_t kernels, dim; } gt_mbdisc_layer;
gt_mbdisc_layer gt_mbdisc_declare(gt_params *p, const char *name, int64_t in, int64_t kernels,
                                  int64_t dim);
gt_tensor *gt_mbdisc_forward(const gt_mbdisc_layer *l, const gt_fwd *f, gt_tensor *x);

/* ---- batch norm over [N, C] or [N, C, H, W] (PyTorch semantics: momentum 0.1, eps 1e-5,
 * biased batch variance to normalise, unbiased in the running estimate) ---- */
typedef struct { int weight, bias, mean, var; double momentum, eps; } gt_batchnorm_layer;
gt_batchnorm_layer gt_batchnorm_declare(gt_params *p, const char *name, int64_t channels);
gt_tensor *gt_batchnorm_forward(const gt_batchnorm_layer *l, const gt_fwd *f, gt_tensor *x);
/* x-hat alone (no affine), with the batch's statistics in training (running statistics updated)
 * or the running ones in evaluation: the normalisation conditional batch norm shares. */
gt_tensor *gt_batchnorm_normalize(const gt_batchnorm_layer *l, const gt_fwd *f, gt_tensor *x);

/* ---- layer norm over all non-batch dims, elementwise affine of that shape ---- */
typedef struct { int weight, bias; double eps; } gt_layernorm_layer;
gt_layernorm_layer gt_layernorm_declare(gt_params *p, const char *name, int ndim,
                                        const int64_t *shape);
gt_tensor *gt_layernorm_forward(const gt_layernorm_layer *l, const gt_fwd *f, gt_tensor *x);

/* ---- virtual batch norm (Salimans et al. 2016; OpenAI's improved-gan VBN class) ----
 * The reference latents z_ref [N_ref, z_dim] are a buffer of G's table, "vbn.z_ref", drawn
 * N(0, I) once at init (so checkpoints and the EMA copy carry them). G runs on [z_ref; z]
 * (gt_vbn_ref_join), every VBN layer sees x [N_ref + N, C(, H, W)] with the reference rows
 * first, and G's output drops them (gt_vbn_ref_split). Per channel c, with w = 1 / (N_ref + 1):
 *   reference rows: mu_r = mean over (N_ref, H, W) of x, s_r = the same mean of x^2;
 *   example i:      mu_i = w mean_HW(x_i) + (1 - w) mu_r, s_i = w mean_HW(x_i^2) + (1 - w) s_r
 *                   (for [N, C] features mean_HW(x_i) is x_i itself);
 *   y = gamma (x - mu) / sqrt(s - mu^2 + eps) + beta, eps 1e-5; the reference rows use
 * (mu_r, s_r) and propagate to the next layer. Training and evaluation are the same; the
 * statistics stay in the graph (gradients flow through the reference batch). gamma
 * ("<name>.gamma") starts N(1, 0.02), beta ("<name>.beta") 0, as in the reference code. */
#define GT_VBN_REF_NAME "vbn.z_ref"
typedef struct { int z; int64_t n; } gt_vbn_ref;    /* n = 0: off */
gt_vbn_ref gt_vbn_ref_declare(gt_params *p, int64_t n, int64_t z_dim);
gt_tensor *gt_vbn_ref_join(const gt_vbn_ref *r, const gt_fwd *f, gt_tensor *z); /* [z_ref; z] */
gt_tensor *gt_vbn_ref_split(const gt_vbn_ref *r, gt_tensor *y);  /* drops the first n rows */
typedef struct { int gamma, beta; int64_t n_ref; double eps; } gt_vbn_layer;
gt_vbn_layer gt_vbn_declare(gt_params *p, const char *name, int64_t channels, int64_t n_ref);
gt_tensor *gt_vbn_forward(const gt_vbn_layer *l, const gt_fwd *f, gt_tensor *x);

/* ---- self-attention (Zhang et al. 2019, SAGAN; BigGAN-PyTorch's layers.Attention) ----
 * x [N, C, H, W], C >= 8; 1x1 convs without bias: theta, phi to C/8, g to C/2, o from C/2 to C.
 * phi, g are 2x2 max-pooled (stride 2, floor) to P positions; beta [N, HW, P] =
 * softmax over P of theta^T phi; y = x + gamma o(g beta^T), gamma [1] trainable, 0 at init
 * (so a new block is the identity). Entries "<name>.theta.weight", ..., "<name>.gamma". */
typedef struct { gt_conv_layer theta, phi, g, o; int gamma; int64_t channels; } gt_attention_layer;
gt_attention_layer gt_attention_declare(gt_params *p, const char *name, int64_t channels);
void gt_attention_spectral_norm(gt_attention_layer *l, gt_params *p, int iterations);
gt_tensor *gt_attention_forward(const gt_attention_layer *l, const gt_fwd *f, gt_tensor *x);

/* ---- modulated convolution (Karras et al. 2020, StyleGAN2; src/nn/stylegan2.c) ----
 * x [N, C_in, H, W], weight [C_out, C_in, k, k] (k odd, padding k/2), styles [N, C_in]:
 * W_n = weight * styles_n (per input channel), demodulated W_n / sqrt(sum_{in,kh,kw} W_n^2 + 1e-8)
 * when asked; y_n = conv2d(x_n, W_n), computed as one conv with groups = N. */
gt_tensor *gt_modulated_conv2d(gt_tensor *x, gt_tensor *weight, gt_tensor *styles, bool demodulate);

/* ---- embedding: rows of a [num, dim] table ---- */
typedef struct { int w; } gt_embedding_layer;
gt_embedding_layer gt_embedding_declare(gt_params *p, const char *name, int64_t num, int64_t dim);
/* y [n, dim] = W[ids[i]] */
gt_tensor *gt_embedding_forward(const gt_embedding_layer *l, const gt_fwd *f, const int32_t *ids,
                                int64_t n);

/* ---- class-conditional layers (src/nn/conditional.c) ----
 * Conditional batch norm (de Vries et al. 2017; Miyato and Koyama 2018): batch norm without its
 * own affine, then y = gamma[y_i] xhat + beta[y_i] with per-class rows gamma, beta [K, C]
 * ("<name>.weight" starting at 1 and "<name>.bias" at 0, the entries of plain batch norm with a
 * class axis in front); running statistics as batch norm's. The labels come from f->labels. */
typedef struct { gt_batchnorm_layer bn; int64_t classes; } gt_cbn_layer;
gt_cbn_layer gt_cbn_declare(gt_params *p, const char *name, int64_t channels, int64_t classes);
gt_tensor *gt_cbn_forward(const gt_cbn_layer *l, const gt_fwd *f, gt_tensor *x);
/* The projection discriminator (Miyato and Koyama 2018): logit + <embed(y_i), h_i>, with h [N, F]
 * D's penultimate features and the embedding [K, F] ("<name>.weight", spectrally normalized as
 * D's other weights when sn.on). */
typedef struct { gt_embedding_layer embed; gt_sn sn; int64_t classes; } gt_projection_layer;
gt_projection_layer gt_projection_declare(gt_params *p, const char *name, int64_t classes,
                                          int64_t features, int sn_iterations /* 0: no SN */);
gt_tensor *gt_projection_forward(const gt_projection_layer *l, const gt_fwd *f, gt_tensor *h,
                                 gt_tensor *logit);

/* ---- packing (Lin et al. 2018, PacGAN): m samples judged as one ----
 * x [N, C, ...] -> [N / m, m C, ...]: samples i m .. i m + m - 1 joined on the channel axis
 * (the feature axis of [N, F]), sample j of a pack in channels j C .. j C + C - 1. A reshape,
 * so gradients flow back to each sample unchanged. N must be a multiple of m; m = 1: x. */
gt_tensor *gt_pack_samples(gt_tensor *x, int m);

/* ---- activations by name ---- */
typedef enum { GT_ACT_RELU, GT_ACT_LEAKY_RELU, GT_ACT_TANH, GT_ACT_NONE } gt_activation;
int gt_activation_parse(const char *name, gt_activation *out);  /* -1 if unknown */
gt_tensor *gt_activate(gt_tensor *x, gt_activation a);          /* leaky slope 0.2 */

#endif
