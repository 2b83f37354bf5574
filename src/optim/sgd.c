/* SGD with momentum as torch.optim.SGD (no dampening, no Nesterov, L2 weight decay added to the
 * gradient): buf = g on the first update (or always, without momentum), else momentum buf + g;
 * p -= lr buf. Two forms: the fused loop over the flat trainables, and the same formula in ops. */
#include "core/engine.h"
#include "optim/internal.h"

typedef struct {
    gt_sgd_coef fused;
    float momentum;
    bool fresh;      /* the buffer restarts from the gradient */
} sgd_coef;

/* carry is momentum, or 0 when the buffer restarts from the gradient: with finite values,
 * 0 buf + g is g, so the fused update needs no branch (PyTorch's buf = g on a fresh start). */
static sgd_coef sgd_coef_at(const gt_optim_cfg *c, int64_t step, double lr) {
    bool fresh = step == 0 || c->momentum == 0.0;
    return (sgd_coef){.fused = {.wd = (float)c->weight_decay, .carry = fresh ? 0.0f : (float)c->momentum,
                                .neg_lr = (float)(-lr)},
                      .momentum = (float)c->momentum, .fresh = fresh};
}

/* The fused update over the flat trainables, by the backend (src/cpu/update.c). */
void gt_sgd_step_(gt_optim *o, double lr) {
    const sgd_coef k = sgd_coef_at(&o->cfg, o->step, lr);
    gt_params *p = o->params;
    gt_tensor *x = gt_view_in(gt_step_arena(), p->flat, 0, 1, &p->numel_trainable);
    gt_sgd_update_(x, o->m, p->flat_grad, &k.fused);
}

gt_tensor *gt_sgd_step_graph_(const gt_optim_cfg *cfg, int64_t step, double lr, gt_tensor *p,
                              gt_tensor *g, gt_tensor **buf) {
    const sgd_coef k = sgd_coef_at(cfg, step, lr);
    if (k.fused.wd != 0.0f) g = gt_add(g, gt_mul_scalar(p, k.fused.wd));
    *buf = k.fresh ? g : gt_add(gt_mul_scalar(*buf, k.momentum), g);
    return gt_add(p, gt_mul_scalar(*buf, k.fused.neg_lr));
}
