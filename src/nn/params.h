/* A network's parameter table: every trainable tensor and every buffer (batch-norm running
 * statistics, spectral-norm vectors) of one network, stored contiguously in the model arena so
 * that optimizers, EMA and checkpoints are flat loops. Layers refer to their tensors by index,
 * and a forward pass reads them through an array of tensors, so other tensors can stand in
 * (the EMA copy of G, D's weights after K differentiable optimizer steps). */
#ifndef GT_NN_PARAMS_H
#define GT_NN_PARAMS_H

#include "gantry.h"

#define GT_PARAM_NAME_MAX 64

typedef enum { GT_PARAM_TRAINABLE, GT_PARAM_BUFFER } gt_param_kind;

typedef struct gt_param_spec {
    char name[GT_PARAM_NAME_MAX];   /* "conv1.weight", unique within the table */
    int ndim;
    int64_t shape[GT_MAX_DIMS];
    gt_param_kind kind;
    int64_t offset;                 /* into data (and grad, for trainables) */
    int64_t numel;
} gt_param_spec;

typedef struct gt_params {
    int n;                          /* entries */
    int cap;
    gt_param_spec *spec;            /* [n] */
    gt_tensor **t;                  /* [n] views into flat; trainables have ->grad into flat_grad */
    gt_tensor *flat;                /* [numel]: trainables first, then buffers */
    gt_tensor *flat_grad;           /* [numel_trainable] */
    int64_t numel, numel_trainable;
    bool finalized;
} gt_params;

/* Phase 1, while a model is built: declare entries; returns the entry's index. */
void gt_params_init(gt_params *p);
int gt_params_declare(gt_params *p, const char *name, int ndim, const int64_t *shape,
                      gt_param_kind kind);
/* Declares "<layer>.<part>" (e.g. "conv1" + "weight"). */
int gt_params_declare_part(gt_params *p, const char *layer, const char *part, int ndim,
                           const int64_t *shape, gt_param_kind kind);
/* Phase 2: allocate contiguous storage (zeroed) in the arena and create the tensors. */
void gt_params_finalize(gt_params *p, gt_arena *arena);
/* Frees the spec and tensor arrays (storage belongs to the arena). */
void gt_params_release(gt_params *p);
/* dst: a table with src's entries, its own storage in the arena, data copied from src. */
void gt_params_clone(gt_params *dst, const gt_params *src, gt_arena *arena);
int gt_params_find(const gt_params *p, const char *name);  /* index or -1 */
void gt_params_zero_grad(gt_params *p);
double gt_params_grad_norm(const gt_params *p);  /* L2 norm of all trainables' gradients */

#endif
