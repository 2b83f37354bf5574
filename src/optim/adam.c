/* Adam as torch.optim.Adam (PyTorch 1.13, L2 weight decay added to the gradient), in float32 with
 * PyTorch's order of operations: denom = sqrt(v) / sqrt(1 - b2^t) + eps, p += (-lr / (1 - b1^t)) m
 * / denom. Two forms: the fused loop over the flat trainables, and the same formula in ops. */
#include <math.h>

#include "core/engine.h"
#include "optim/internal.h"

/* The float coefficients of update number t = step + 1 (PyTorch computes them in double). */
static gt_adam_coef adam_coef_at(const gt_optim_cfg *c, int64_t step, double lr) {
    double t = (double)(step + 1);
    double bc1 = 1.0 - pow(c->beta1, t), bc2 = 1.0 - pow(c->beta2, t);
    return (gt_adam_coef){.b1 = (float)c->beta1, .omb1 = (float)(1.0 - c->beta1),
                          .b2 = (float)c->beta2, .omb2 = (float)(1.0 - c->beta2),
                          .wd = (float)c->weight_decay, .eps = (float)c->eps,
                          .bc2_sqrt = (float)sqrt(bc2), .neg_step = (float)(-(lr / bc1))};
}

/* The fused update over the flat trainables, by the backend (src/cpu/update.c). */
void gt_adam_step_(gt_optim *o, double lr) {
    const gt_adam_coef k = adam_coef_at(&o->cfg, o->step, lr);
    gt_params *p = o->params;
    gt_tensor *x = gt_view_in(gt_step_arena(), p->flat, 0, 1, &p->numel_trainable);
    gt_adam_update_(x, o->m, o->v, p->flat_grad, &k);
}

#define ADAM_GRAPH_V_FLOOR 1e-30f

gt_tensor *gt_adam_step_graph_(const gt_optim_cfg *cfg, int64_t step, double lr, gt_tensor *p,
                               gt_tensor *g, gt_tensor **m, gt_tensor **v) {
    const gt_adam_coef k = adam_coef_at(cfg, step, lr);
    if (k.wd != 0.0f) g = gt_add(g, gt_mul_scalar(p, k.wd));
    *m = gt_add(gt_mul_scalar(*m, k.b1), gt_mul_scalar(g, k.omb1));
    *v = gt_add(gt_mul_scalar(*v, k.b2), gt_mul(gt_mul_scalar(g, k.omb2), g));
    /* sqrt's derivative is infinite at 0, where an entry that never had a gradient sits (a
     * dead unit): floor v at ADAM_GRAPH_V_FLOOR, far below eps^2, so that differentiating the
     * update (unrolled GANs) stays finite; the value moves by less than 1e-7 relative */
    gt_tensor *root = gt_sqrt(gt_clamp(*v, ADAM_GRAPH_V_FLOOR, INFINITY));
    gt_tensor *denom = gt_add_scalar(gt_div(root, gt_scalar(k.bc2_sqrt)), k.eps);
    return gt_add(p, gt_div(gt_mul_scalar(*m, k.neg_step), denom));
}
