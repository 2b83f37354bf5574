/* Spectral normalization (Miyato et al. 2018, Algorithm 1): W_SN = W / sigma(W), sigma estimated
 * by power iteration from a persistent u. The iteration runs on values with gantry ops under
 * gt_grad_set(false); the normalized weight is then W / sum(W * u v^T) with u v^T a constant,
 * so gradients (of any order) flow through W, sigma included, and never through u or v. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/engine.h"
#include "nn/layers.h"

#define SN_EPS 1e-12f

gt_sn gt_sn_declare(gt_params *p, int w, int rows_axis, int iterations) {
    GT_CHECK(w >= 0 && w < p->n, "spectral norm: no weight %d", w);
    const gt_param_spec *s = &p->spec[w];
    GT_CHECK(rows_axis >= 0 && rows_axis < s->ndim && s->ndim >= 2,
             "spectral norm: '%s' has %d dims, rows along axis %d", s->name, s->ndim, rows_axis);
    GT_CHECK(iterations >= 1, "spectral norm: %d power iterations (need at least 1)", iterations);
    char name[GT_PARAM_NAME_MAX + 8];
    int n = snprintf(name, sizeof name, "%s_u", s->name);
    GT_CHECK(n > 0 && n < GT_PARAM_NAME_MAX, "spectral norm: name '%s_u' too long", s->name);
    int64_t rows = s->shape[rows_axis];
    gt_sn sn = {.on = true, .w = w, .rows_axis = rows_axis, .iterations = iterations};
    sn.u = gt_params_declare(p, name, 1, &rows, GT_PARAM_BUFFER);
    return sn;
}

void gt_sn_init_u(gt_tensor *u, gt_rng *rng) {
    GT_CHECK(gt_is_contiguous(u), "spectral norm: u must be contiguous");
    gt_fill_normal(rng, u, 0, 1);
    float *host = gt_step_alloc_((size_t)u->numel * sizeof *host);
    gt_copy_to(host, u);
    double ss = 0;
    for (int64_t i = 0; i < u->numel; i++) ss += (double)host[i] * host[i];
    float norm = fmaxf((float)sqrt(ss), SN_EPS);
    for (int64_t i = 0; i < u->numel; i++) host[i] /= norm;
    gt_copy_from(u, host);
}

/* x / max(||x||_2, eps) (as PyTorch's F.normalize). */
static gt_tensor *normalize(gt_tensor *x) {
    gt_tensor *norm = gt_sqrt(gt_sum_all(gt_square(x)));
    return gt_div(x, gt_maximum(norm, gt_scalar(SN_EPS)));
}

/* Axes 0 and rows_axis swapped (the identity when rows_axis is 0). */
static void swap_perm(int ndim, int rows_axis, int *perm) {
    for (int i = 0; i < ndim; i++) perm[i] = i;
    perm[0] = rows_axis;
    perm[rows_axis] = 0;
}

gt_tensor *gt_sn_power_iteration(gt_tensor *w, gt_tensor *u, int rows_axis, int iterations,
                                 gt_tensor **u_new) {
    GT_CHECK(w->ndim >= 2 && rows_axis >= 0 && rows_axis < w->ndim,
             "spectral norm: rows axis %d of a %d-dim weight", rows_axis, w->ndim);
    int64_t rows = w->shape[rows_axis];
    GT_CHECK(u->numel == rows, "spectral norm: u has %lld entries, the weight %lld rows",
             (long long)u->numel, (long long)rows);
    bool prev = gt_grad_set(false);
    /* The power iteration stays FP32 under bf16: its u and v are state carried across steps,
     * and sigma = u^T W v divides every weight. */
    gt_precision prec = gt_precision_set(GT_PRECISION_FP32);
    int perm[GT_MAX_DIMS];
    swap_perm(w->ndim, rows_axis, perm);
    gt_tensor *wr = rows_axis == 0 ? gt_detach(w) : gt_contiguous(gt_permute(gt_detach(w), perm));
    int64_t mat[2] = {rows, -1}, col[2] = {rows, 1};
    gt_tensor *wm = gt_reshape(wr, 2, mat);                      /* [rows, rest] */
    gt_tensor *uc = gt_reshape(gt_detach(u), 2, col);            /* [rows, 1] */
    gt_tensor *v = normalize(gt_matmul(wm, uc, true, false));    /* [rest, 1] */
    for (int i = 0; i < iterations; i++) {
        if (i > 0) v = normalize(gt_matmul(wm, uc, true, false));
        uc = normalize(gt_matmul(wm, v, false, false));
    }
    /* u v^T [rows, rest], laid out like w */
    gt_tensor *uv = gt_reshape(gt_matmul(uc, v, false, true), wr->ndim, wr->shape);
    if (rows_axis != 0) uv = gt_contiguous(gt_permute(uv, perm));
    if (u_new) *u_new = gt_reshape(uc, 1, &rows);
    gt_precision_set(prec);
    gt_grad_set(prev);
    return uv;
}

gt_tensor *gt_sn_apply(gt_tensor *w, gt_tensor *uv) {
    GT_CHECK(gt_same_shape(w, uv), "spectral norm: u v^T must be laid out like the weight");
    return gt_div(w, gt_sum_all(gt_mul(w, uv)));
}

gt_tensor *gt_sn_weight(const gt_sn *sn, const gt_fwd *f, gt_tensor *w) {
    gt_tensor *u = f->t[sn->u], *u_new = NULL;
    gt_tensor *uv = gt_sn_power_iteration(w, u, sn->rows_axis, f->train ? sn->iterations : 0,
                                          f->train ? &u_new : NULL);
    if (u_new) gt_assign(u, u_new); /* the persistent u advances (training forwards only) */
    return gt_sn_apply(w, uv);
}
