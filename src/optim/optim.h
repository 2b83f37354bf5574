/* Optimizers over a parameter table (Adam and SGD with momentum, PyTorch semantics), learning-rate
 * schedules, and the generator's EMA copy. The ordinary step is one fused flat loop over the
 * trainables; the same update is also written in differentiable ops for unrolled GANs. */
#ifndef GT_OPTIM_OPTIM_H
#define GT_OPTIM_OPTIM_H

#include "gantry.h"
#include "nn/params.h"

typedef enum { GT_OPTIM_ADAM, GT_OPTIM_SGD } gt_optim_type;
typedef enum { GT_SCHEDULE_CONSTANT, GT_SCHEDULE_LINEAR, GT_SCHEDULE_COSINE } gt_schedule;

typedef struct gt_optim_cfg {
    gt_optim_type type;
    /* Adam: torch.optim.Adam semantics, weight_decay as L2 added to the gradient (not AdamW) */
    double lr, beta1, beta2, eps, weight_decay;
    /* SGD: torch.optim.SGD (buf = momentum buf + g, first step buf = g; p -= lr buf), L2 */
    double momentum;
    /* lr multiplier at update t (clamped to T): constant 1; linear 1 - t/T;
     * cosine 0.5 (1 + cos(pi t/T)) */
    gt_schedule schedule;
    int64_t total_steps;  /* T for the schedules */
    const char *name;     /* the network it updates, in messages and test hooks ("G", "D", "D2"; NULL: none) */
} gt_optim_cfg;

typedef struct gt_optim {
    gt_optim_cfg cfg;
    gt_params *params;
    /* [numel_trainable] in the model arena: Adam's moments; SGD's momentum buffer in m (v NULL) */
    gt_tensor *m, *v;
    int64_t step;  /* updates done */
} gt_optim;

/* Checks cfg (misuse aborts) and allocates zeroed state in the arena; step = 0. */
void gt_optim_init(gt_optim *o, gt_params *p, const gt_optim_cfg *cfg, gt_arena *arena);
/* The scheduled lr for the next update. */
double gt_optim_lr(const gt_optim *o);
/* One update of every trainable from p->grad: a flat, OpenMP-threaded elementwise loop (the
 * result does not depend on the thread count). */
void gt_optim_step(gt_optim *o);

/* The same update in gantry ops (differentiable). params[i], grads[i] for i < p->n (grads of
 * buffers are ignored and may be NULL); new_params[i] is the updated tensor of a trainable and
 * params[i] itself for a buffer; new_params may be params. The state advances in s, never in o.
 * Unrolled GANs differentiate through K such steps. */
typedef struct gt_optim_graph_state {
    gt_tensor **m, **v; /* [p->n] (NULL for buffers; v NULL for SGD); step arena */
    int64_t step;
} gt_optim_graph_state;
/* s: step-arena copies of o's state. */
void gt_optim_graph_state_init(gt_optim_graph_state *s, const gt_optim *o);
void gt_optim_step_graph(const gt_optim *o, gt_optim_graph_state *s, gt_tensor *const *params,
                         gt_tensor *const *grads, gt_tensor **new_params);

/* Generator EMA: shadow = decay shadow + (1 - decay) current for trainables once `start` updates
 * have been done (before that, a copy); buffers (batch-norm running statistics) copied verbatim. */
typedef struct gt_ema {
    gt_params shadow;
    double decay;
    int64_t start;
    int64_t updates;
} gt_ema;
void gt_ema_init(gt_ema *e, const gt_params *src, double decay, int64_t start, gt_arena *arena);
void gt_ema_update(gt_ema *e, const gt_params *src);
void gt_ema_release(gt_ema *e);

#endif
