/* SGD with momentum as torch.optim.SGD (no dampening, no Nesterov, L2 weight decay added to the
 * gradient): buf = g on the first update (or always, without momentum), else momentum buf + g;
 * p -= lr buf. Two forms: the fused loop over the flat trainables, and the same formula in ops. */
#include "optim/internal.h"

/* clang reports every `omp simd` loop it leaves scalar, which all are at -O1 (sanitizer builds). */
#ifdef __clang__
#pragma clang diagnostic ignored "-Wpass-failed"
#endif

typedef struct {
    float momentum, wd, neg_lr;
    bool fresh;      /* the buffer restarts from the gradient */
    float carry;     /* momentum, or 0 when fresh */
} sgd_coef;

static sgd_coef sgd_coef_at(const gt_optim_cfg *c, int64_t step, double lr) {
    bool fresh = step == 0 || c->momentum == 0.0;
    return (sgd_coef){.momentum = (float)c->momentum, .wd = (float)c->weight_decay,
                      .neg_lr = (float)(-lr), .fresh = fresh,
                      .carry = fresh ? 0.0f : (float)c->momentum};
}

/* Branch-free so that it vectorises: with finite values, g + 0 x is g and 0 buf + g is g, so
 * this equals PyTorch's branches (no decay term, buf = g on a fresh start). */
static inline void sgd_elem(const sgd_coef *k, float *x, float g, float *buf) {
    g = g + k->wd * *x;
    float b = *buf * k->carry + g;
    *buf = b;
    *x = *x + k->neg_lr * b;
}

void gt_sgd_step_(gt_optim *o, double lr) {
    const sgd_coef k = sgd_coef_at(&o->cfg, o->step, lr);
    float *restrict x = o->params->data, *restrict buf = o->m;
    const float *restrict g = o->params->grad;
    int64_t n = o->params->numel_trainable;
#pragma omp parallel for simd schedule(static) if (n > GT_OPTIM_PAR_MIN)
    for (int64_t i = 0; i < n; i++) sgd_elem(&k, &x[i], g[i], &buf[i]);
}

gt_tensor *gt_sgd_step_graph_(const gt_optim_cfg *cfg, int64_t step, double lr, gt_tensor *p,
                              gt_tensor *g, gt_tensor **buf) {
    const sgd_coef k = sgd_coef_at(cfg, step, lr);
    if (k.wd != 0.0f) g = gt_add(g, gt_mul_scalar(p, k.wd));
    *buf = k.fresh ? g : gt_add(gt_mul_scalar(*buf, k.momentum), g);
    return gt_add(p, gt_mul_scalar(*buf, k.neg_lr));
}
