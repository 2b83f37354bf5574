/* Normalisation layers: batch norm (batch statistics in training, running statistics in
 * evaluation) and layer norm. Training-mode batch norm normalises with the fused gt_batch_norm
 * op (whose backward rules are written in ops); the rest are compositions of core ops, so both
 * differentiate to any order, batch statistics included. */
#include <string.h>

#include "core/engine.h"
#include "nn/layers.h"

gt_batchnorm_layer gt_batchnorm_declare(gt_params *p, const char *name, int64_t channels) {
    gt_batchnorm_layer l = {
        .weight = gt_params_declare_part(p, name, "weight", 1, &channels, GT_PARAM_TRAINABLE),
        .bias = gt_params_declare_part(p, name, "bias", 1, &channels, GT_PARAM_TRAINABLE),
        .mean = gt_params_declare_part(p, name, "running_mean", 1, &channels, GT_PARAM_BUFFER),
        .var = gt_params_declare_part(p, name, "running_var", 1, &channels, GT_PARAM_BUFFER),
        .momentum = 0.1,
        .eps = 1e-5,
    };
    return l;
}

/* [C] viewed as [1, C] or [1, C, 1, 1] to broadcast against x. */
static gt_tensor *per_channel(gt_tensor *v, int ndim) {
    int64_t s[4] = {1, v->numel, 1, 1};
    return gt_reshape(v, ndim, s);
}

/* running = (1 - momentum) running + momentum batch, outside the graph. */
static void blend_into(gt_tensor *running, gt_tensor *batch, double momentum) {
    bool prev = gt_grad_set(false);
    gt_tensor *b = gt_reshape(gt_detach(batch), 1, &running->numel);
    gt_tensor *r = gt_add(gt_mul_scalar(running, (float)(1 - momentum)),
                          gt_mul_scalar(b, (float)momentum));
    gt_assign(running, r);
    gt_grad_set(prev);
}

/* The running statistics after a training batch of `count` values per channel: the mean, and
 * the variance made unbiased. */
static void update_running(const gt_batchnorm_layer *l, const gt_fwd *f, gt_tensor *mean,
                           gt_tensor *var, int64_t count) {
    blend_into(f->t[l->mean], mean, l->momentum);
    blend_into(f->t[l->var], gt_mul_scalar(var, (float)count / (float)(count - 1)), l->momentum);
}

static int64_t training_count(gt_tensor *x) {
    GT_CHECK(x->ndim == 2 || x->ndim == 4, "batchnorm: x must be [N, C] or [N, C, H, W]");
    int64_t count = x->numel / x->shape[1];
    GT_CHECK(count > 1, "batchnorm: training needs more than one value per channel");
    return count;
}

/* x-hat with the running statistics (evaluation). */
static gt_tensor *normalize_running(const gt_batchnorm_layer *l, const gt_fwd *f, gt_tensor *x) {
    GT_CHECK(x->ndim == 2 || x->ndim == 4, "batchnorm: x must be [N, C] or [N, C, H, W]");
    gt_tensor *mean = per_channel(f->t[l->mean], x->ndim);
    gt_tensor *var = per_channel(f->t[l->var], x->ndim);
    return gt_mul(gt_sub(x, mean), gt_rsqrt(gt_add_scalar(var, (float)l->eps)));
}

/* Every axis but the channel axis 1 of x; returns how many. */
static int non_channel_axes(const gt_tensor *x, int *axes) {
    int k = 0;
    for (int i = 0; i < x->ndim; i++)
        if (i != 1) axes[k++] = i;
    return k;
}

/* Per-channel sum of x over every rank's shard: [C]. */
static gt_tensor *channel_sum_over_ranks(gt_tensor *x) {
    int axes[GT_MAX_DIMS], k = non_channel_axes(x, axes);
    return gt_all_sum(gt_sum(x, k, axes, false));
}

/* Synchronized batch norm: x-hat with the statistics of the whole batch, every rank's shard
 * [N, C, ...] together, from per-channel sums all-summed over the ranks: the mean first, then
 * the squared deviations from it (two passes, as the fused kernel, rather than E[x^2] - E[x]^2,
 * which cancels). Made of ops, so it differentiates to any order: penalties through it are
 * exact. The batch statistics [C] (variance biased) go to *mean and *var. */
static gt_tensor *normalize_synced(const gt_batchnorm_layer *l, gt_tensor *x, gt_tensor **mean,
                                   gt_tensor **var) {
    int64_t total = training_count(x) * gt_ranks()->size; /* every shard has the same rows */
    float inv_total = 1.0f / (float)total;
    *mean = gt_mul_scalar(channel_sum_over_ranks(x), inv_total);
    gt_tensor *centered = gt_sub(x, per_channel(*mean, x->ndim));
    *var = gt_mul_scalar(channel_sum_over_ranks(gt_square(centered)), inv_total);
    gt_tensor *invstd = gt_rsqrt(gt_add_scalar(*var, (float)l->eps));
    return gt_mul(centered, per_channel(invstd, x->ndim));
}

static bool synced(void) { return gt_ranks() && gt_ranks()->size > 1; }

gt_tensor *gt_batchnorm_normalize(const gt_batchnorm_layer *l, const gt_fwd *f, gt_tensor *x) {
    if (!f->train) return normalize_running(l, f, x);
    int64_t count = training_count(x) * (synced() ? gt_ranks()->size : 1);
    gt_tensor *mean, *var;
    gt_tensor *xhat = synced() ? normalize_synced(l, x, &mean, &var)
                               : gt_batch_norm(x, (float)l->eps, &mean, &var);
    update_running(l, f, mean, var, count);
    return xhat;
}

gt_tensor *gt_batchnorm_forward(const gt_batchnorm_layer *l, const gt_fwd *f, gt_tensor *x) {
    if (f->train && synced()) {
        gt_tensor *y = gt_batchnorm_normalize(l, f, x);
        return gt_add(gt_mul(y, per_channel(f->t[l->weight], x->ndim)),
                      per_channel(f->t[l->bias], x->ndim));
    }
    if (f->train) {
        /* the fused op: batch statistics and the affine map, differentiable to any order */
        int64_t count = training_count(x);
        gt_tensor *mean, *var;
        gt_tensor *y = gt_batch_norm_affine(x, f->t[l->weight], f->t[l->bias], (float)l->eps,
                                            &mean, &var);
        update_running(l, f, mean, var, count);
        return y;
    }
    return gt_add(gt_mul(normalize_running(l, f, x), per_channel(f->t[l->weight], x->ndim)),
                  per_channel(f->t[l->bias], x->ndim));
}

gt_layernorm_layer gt_layernorm_declare(gt_params *p, const char *name, int ndim,
                                        const int64_t *shape) {
    return (gt_layernorm_layer){
        .weight = gt_params_declare_part(p, name, "weight", ndim, shape, GT_PARAM_TRAINABLE),
        .bias = gt_params_declare_part(p, name, "bias", ndim, shape, GT_PARAM_TRAINABLE),
        .eps = 1e-5,
    };
}

gt_tensor *gt_layernorm_forward(const gt_layernorm_layer *l, const gt_fwd *f, gt_tensor *x) {
    int axes[GT_MAX_DIMS];
    for (int i = 1; i < x->ndim; i++) axes[i - 1] = i;
    gt_tensor *mean = gt_mean(x, x->ndim - 1, axes, true);
    gt_tensor *var = gt_var(x, x->ndim - 1, axes, true, false);
    gt_tensor *xhat = gt_mul(gt_sub(x, mean), gt_rsqrt(gt_add_scalar(var, (float)l->eps)));
    return gt_add(gt_mul(xhat, f->t[l->weight]), f->t[l->bias]);
}
