/* Adam as torch.optim.Adam (PyTorch 1.13, L2 weight decay added to the gradient), in float32 with
 * PyTorch's order of operations: denom = sqrt(v) / sqrt(1 - b2^t) + eps, p += (-lr / (1 - b1^t)) m
 * / denom. Two forms: the fused loop over the flat trainables, and the same formula in ops. */
#include <math.h>

#include "optim/internal.h"

/* The float coefficients of update number t = step + 1 (PyTorch computes them in double). */
typedef struct {
    float b1, omb1, b2, omb2, wd, eps;
    float bc2_sqrt;  /* sqrt(1 - b2^t) */
    float neg_step;  /* -lr / (1 - b1^t) */
} adam_coef;

static adam_coef adam_coef_at(const gt_optim_cfg *c, int64_t step, double lr) {
    double t = (double)(step + 1);
    double bc1 = 1.0 - pow(c->beta1, t), bc2 = 1.0 - pow(c->beta2, t);
    return (adam_coef){.b1 = (float)c->beta1, .omb1 = (float)(1.0 - c->beta1),
                       .b2 = (float)c->beta2, .omb2 = (float)(1.0 - c->beta2),
                       .wd = (float)c->weight_decay, .eps = (float)c->eps,
                       .bc2_sqrt = (float)sqrt(bc2), .neg_step = (float)(-(lr / bc1))};
}

/* g + 0 x is g for finite x: no branch on the decay (PyTorch skips the term when it is 0). */
static inline void adam_elem(const adam_coef *k, float *x, float g, float *m, float *v) {
    g = g + k->wd * *x;
    float mi = *m * k->b1 + k->omb1 * g;
    float vi = *v * k->b2 + k->omb2 * g * g;
    float denom = sqrtf(vi) / k->bc2_sqrt + k->eps;
    *m = mi;
    *v = vi;
    *x = *x + k->neg_step * mi / denom;
}

/* No `omp simd` here: sqrtf may set errno, so without -fno-math-errno compilers keep this loop
 * scalar (it reads and writes 28 bytes per element, so memory bounds it anyway). */
void gt_adam_step_(gt_optim *o, double lr) {
    const adam_coef k = adam_coef_at(&o->cfg, o->step, lr);
    float *restrict x = o->params->data, *restrict m = o->m, *restrict v = o->v;
    const float *restrict g = o->params->grad;
    int64_t n = o->params->numel_trainable;
#pragma omp parallel for schedule(static) if (n > GT_OPTIM_PAR_MIN)
    for (int64_t i = 0; i < n; i++) adam_elem(&k, &x[i], g[i], &m[i], &v[i]);
}

#define ADAM_GRAPH_V_FLOOR 1e-30f

gt_tensor *gt_adam_step_graph_(const gt_optim_cfg *cfg, int64_t step, double lr, gt_tensor *p,
                               gt_tensor *g, gt_tensor **m, gt_tensor **v) {
    const adam_coef k = adam_coef_at(cfg, step, lr);
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
