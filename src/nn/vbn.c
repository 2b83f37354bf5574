/* Virtual batch normalization (Salimans et al. 2016, section 3.4): each example is normalized
 * with the statistics of a fixed reference batch plus itself. The reference latents are a buffer
 * of G's table; G runs on [z_ref; z] and every VBN layer splits its input at N_ref rows. The
 * statistics are ops on the current activations, so gradients flow through them. */
#include "core/engine.h"
#include "nn/layers.h"

gt_vbn_ref gt_vbn_ref_declare(gt_params *p, int64_t n, int64_t z_dim) {
    GT_CHECK(n >= 1 && z_dim >= 1, "vbn: reference batch of %lld latents of size %lld",
             (long long)n, (long long)z_dim);
    int64_t s[2] = {n, z_dim};
    return (gt_vbn_ref){.z = gt_params_declare(p, GT_VBN_REF_NAME, 2, s, GT_PARAM_BUFFER), .n = n};
}

gt_tensor *gt_vbn_ref_join(const gt_vbn_ref *r, const gt_fwd *f, gt_tensor *z) {
    if (r->n == 0) return z;
    gt_tensor *parts[2] = {f->t[r->z], z};
    return gt_concat(2, parts, 0);
}

gt_tensor *gt_vbn_ref_split(const gt_vbn_ref *r, gt_tensor *y) {
    return r->n == 0 ? y : gt_slice(y, 0, r->n, y->shape[0]);
}

gt_vbn_layer gt_vbn_declare(gt_params *p, const char *name, int64_t channels, int64_t n_ref) {
    GT_CHECK(n_ref >= 1, "vbn: reference batch of %lld", (long long)n_ref);
    return (gt_vbn_layer){
        .gamma = gt_params_declare_part(p, name, "gamma", 1, &channels, GT_PARAM_TRAINABLE),
        .beta = gt_params_declare_part(p, name, "beta", 1, &channels, GT_PARAM_TRAINABLE),
        .n_ref = n_ref,
        .eps = 1e-5,
    };
}

/* (x - mu) / sqrt(eps + s - mu^2) */
static gt_tensor *normalize(gt_tensor *x, gt_tensor *mu, gt_tensor *s, double eps) {
    gt_tensor *var = gt_sub(s, gt_square(mu));
    return gt_mul(gt_sub(x, mu), gt_rsqrt(gt_add_scalar(var, (float)eps)));
}

gt_tensor *gt_vbn_forward(const gt_vbn_layer *l, const gt_fwd *f, gt_tensor *x) {
    GT_CHECK(x->ndim == 2 || x->ndim == 4, "vbn: x must be [N_ref + N, C] or [N_ref + N, C, H, W]");
    int64_t r = l->n_ref, n = x->shape[0] - r;
    GT_CHECK(n >= 0, "vbn: %lld rows, fewer than the reference batch of %lld "
             "(G's forward must run on [z_ref; z])", (long long)x->shape[0], (long long)r);
    bool maps = x->ndim == 4;
    int ref_axes[3] = {0, 2, 3}, hw_axes[2] = {2, 3};
    gt_tensor *xr = gt_slice(x, 0, 0, r);
    gt_tensor *mu_r = gt_mean(xr, maps ? 3 : 1, ref_axes, true);           /* [1, C(, 1, 1)] */
    gt_tensor *s_r = gt_mean(gt_square(xr), maps ? 3 : 1, ref_axes, true);
    gt_tensor *parts[2] = {normalize(xr, mu_r, s_r, l->eps), NULL};
    int np = 1;
    if (n > 0) {
        /* example i mixes its own statistics (over H, W) with weight 1 / (N_ref + 1) */
        float w = 1.0f / (float)(r + 1), wr = 1.0f - w;
        gt_tensor *xe = gt_slice(x, 0, r, x->shape[0]);
        gt_tensor *m_e = maps ? gt_mean(xe, 2, hw_axes, true) : xe;        /* [N, C(, 1, 1)] */
        gt_tensor *s_e = maps ? gt_mean(gt_square(xe), 2, hw_axes, true) : gt_square(xe);
        gt_tensor *mu = gt_add(gt_mul_scalar(m_e, w), gt_mul_scalar(mu_r, wr));
        gt_tensor *s = gt_add(gt_mul_scalar(s_e, w), gt_mul_scalar(s_r, wr));
        parts[np++] = normalize(xe, mu, s, l->eps);
    }
    gt_tensor *xhat = np == 1 ? parts[0] : gt_concat(np, parts, 0);
    int64_t c[4] = {1, x->shape[1], 1, 1};
    return gt_add(gt_mul(xhat, gt_reshape(f->t[l->gamma], x->ndim, c)),
                  gt_reshape(f->t[l->beta], x->ndim, c));
}
