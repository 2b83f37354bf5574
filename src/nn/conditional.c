/* Class-conditional layers: conditional batch norm for G (per-class gamma and beta rows in place
 * of batch norm's affine) and the projection discriminator's inner product of a class embedding
 * with D's penultimate features (Miyato and Koyama 2018, "cGANs with Projection Discriminator").
 * The labels of a forward come through gt_fwd.labels. Composed of core ops (gather, batch norm):
 * both differentiate to any order. */
#include "core/engine.h"
#include "nn/layers.h"

gt_cbn_layer gt_cbn_declare(gt_params *p, const char *name, int64_t channels, int64_t classes) {
    GT_CHECK(classes >= 1, "conditional batch norm: %lld classes", (long long)classes);
    int64_t s[2] = {classes, channels};
    gt_cbn_layer l = {.classes = classes};
    l.bn = (gt_batchnorm_layer){
        .weight = gt_params_declare_part(p, name, "weight", 2, s, GT_PARAM_TRAINABLE),
        .bias = gt_params_declare_part(p, name, "bias", 2, s, GT_PARAM_TRAINABLE),
        .mean = gt_params_declare_part(p, name, "running_mean", 1, &channels, GT_PARAM_BUFFER),
        .var = gt_params_declare_part(p, name, "running_var", 1, &channels, GT_PARAM_BUFFER),
        .momentum = 0.1,
        .eps = 1e-5,
    };
    return l;
}

/* Rows y[i] of table [K, D]: [N, D]. */
static gt_tensor *rows_of(gt_tensor *table, const int32_t *y, int64_t n) {
    int64_t k = table->shape[0], d = table->shape[1];
    int64_t *idx = gt_step_alloc_((size_t)(n * d) * sizeof *idx);
    for (int64_t i = 0; i < n; i++) {
        GT_CHECK(y[i] >= 0 && y[i] < k, "conditional layer: label %d of sample %lld out of [0, %lld)",
                 y[i], (long long)i, (long long)k);
        for (int64_t j = 0; j < d; j++) idx[i * d + j] = y[i] * d + j;
    }
    int64_t s[2] = {n, d};
    return gt_gather(table, idx, 2, s);
}

gt_tensor *gt_cbn_forward(const gt_cbn_layer *l, const gt_fwd *f, gt_tensor *x) {
    GT_CHECK(x->ndim == 2 || x->ndim == 4, "conditional batch norm: x must be [N, C] or [N, C, H, W]");
    GT_CHECK(f->labels != NULL, "conditional batch norm: the forward has no class labels "
                                "(set gt_fwd.labels, e.g. with gt_fwd_labelled)");
    const gt_batchnorm_layer *b = &l->bn;
    int64_t n = x->shape[0], c = x->shape[1];
    gt_tensor *xhat = gt_batchnorm_normalize(b, f, x);
    int64_t s[4] = {n, c, 1, 1};
    gt_tensor *gamma = gt_reshape(rows_of(f->t[b->weight], f->labels, n), x->ndim, s);
    gt_tensor *beta = gt_reshape(rows_of(f->t[b->bias], f->labels, n), x->ndim, s);
    return gt_add(gt_mul(xhat, gamma), beta);
}

gt_projection_layer gt_projection_declare(gt_params *p, const char *name, int64_t classes,
                                          int64_t features, int sn_iterations) {
    GT_CHECK(classes >= 1, "projection: %lld classes", (long long)classes);
    gt_projection_layer l = {.embed = gt_embedding_declare(p, name, classes, features),
                             .classes = classes};
    if (sn_iterations > 0) l.sn = gt_sn_declare(p, l.embed.w, 0, sn_iterations);
    return l;
}

gt_tensor *gt_projection_forward(const gt_projection_layer *l, const gt_fwd *f, gt_tensor *h,
                                 gt_tensor *logit) {
    GT_CHECK(f->labels != NULL, "projection discriminator: the forward has no class labels "
                                "(set gt_fwd.labels, e.g. with gt_fwd_labelled)");
    GT_CHECK(h->ndim == 2, "projection: features must be [N, F]");
    gt_tensor *w = f->t[l->embed.w];
    if (l->sn.on) w = gt_sn_weight(&l->sn, f, w);
    int axis = 1;
    gt_tensor *e = rows_of(w, f->labels, h->shape[0]);             /* [N, F] */
    return gt_add(logit, gt_sum(gt_mul(e, h), 1, &axis, true));    /* [N, 1] */
}
