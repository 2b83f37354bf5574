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
} gt_fwd;

/* A forward context reading the table's own tensors. */
gt_fwd gt_fwd_of(gt_params *p, bool train);

/* ---- weight initialisation -------------------------------------------------------------- */
typedef enum { GT_INIT_NORMAL, GT_INIT_KAIMING, GT_INIT_XAVIER, GT_INIT_ORTHOGONAL } gt_init;
/* w ~ N(0, std^2) | Kaiming normal (fan_in, gain for leaky relu with `slope`) | Xavier uniform |
 * orthogonal rows/columns of w viewed as [shape[0], rest] (scaled by gain 1). */
void gt_init_tensor(gt_tensor *w, gt_init kind, double std, double slope, gt_rng *rng);
int gt_init_parse(const char *name, gt_init *out);   /* "normal" ... ; -1 if unknown */

/* ---- linear: y = x W^T + b, W [out, in] ---- */
typedef struct { int w, b; } gt_linear_layer;          /* b = -1: no bias */
gt_linear_layer gt_linear_declare(gt_params *p, const char *name, int64_t in, int64_t out, bool bias);
gt_tensor *gt_linear_forward(const gt_linear_layer *l, const gt_fwd *f, gt_tensor *x);

/* ---- conv2d and conv_transpose2d (square kernels, same options both axes) ---- */
typedef struct { int w, b; int stride, padding, output_padding; } gt_conv_layer;
gt_conv_layer gt_conv2d_declare(gt_params *p, const char *name, int64_t c_in, int64_t c_out,
                                int k, int stride, int padding, bool bias);
gt_conv_layer gt_conv_transpose2d_declare(gt_params *p, const char *name, int64_t c_in,
                                          int64_t c_out, int k, int stride, int padding,
                                          int output_padding, bool bias);
gt_tensor *gt_conv2d_forward(const gt_conv_layer *l, const gt_fwd *f, gt_tensor *x);
gt_tensor *gt_conv_transpose2d_forward(const gt_conv_layer *l, const gt_fwd *f, gt_tensor *x);

/* ---- batch norm over [N, C] or [N, C, H, W] (PyTorch semantics: momentum 0.1, eps 1e-5,
 * biased batch variance to normalise, unbiased in the running estimate) ---- */
typedef struct { int weight, bias, mean, var; double momentum, eps; } gt_batchnorm_layer;
gt_batchnorm_layer gt_batchnorm_declare(gt_params *p, const char *name, int64_t channels);
gt_tensor *gt_batchnorm_forward(const gt_batchnorm_layer *l, const gt_fwd *f, gt_tensor *x);

/* ---- layer norm over all non-batch dims, elementwise affine of that shape ---- */
typedef struct { int weight, bias; double eps; } gt_layernorm_layer;
gt_layernorm_layer gt_layernorm_declare(gt_params *p, const char *name, int ndim,
                                        const int64_t *shape);
gt_tensor *gt_layernorm_forward(const gt_layernorm_layer *l, const gt_fwd *f, gt_tensor *x);

/* ---- embedding: rows of a [num, dim] table ---- */
typedef struct { int w; } gt_embedding_layer;
gt_embedding_layer gt_embedding_declare(gt_params *p, const char *name, int64_t num, int64_t dim);
/* y [n, dim] = W[ids[i]] */
gt_tensor *gt_embedding_forward(const gt_embedding_layer *l, const gt_fwd *f, const int32_t *ids,
                                int64_t n);

/* ---- activations by name ---- */
typedef enum { GT_ACT_RELU, GT_ACT_LEAKY_RELU, GT_ACT_TANH, GT_ACT_NONE } gt_activation;
int gt_activation_parse(const char *name, gt_activation *out);  /* -1 if unknown */
gt_tensor *gt_activate(gt_tensor *x, gt_activation a);          /* leaky slope 0.2 */

#endif
