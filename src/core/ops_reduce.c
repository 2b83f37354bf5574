/* Reductions and broadcasting: sum over axes (the primitive) with expand as its adjoint, and
 * the composites built from them: mean, max, variance, softmax, log-softmax. */
#include <string.h>

#include "core/internal.h"

typedef void (*reduce_kernel)(float *y, const float *x, int64_t outer, int64_t r, int64_t inner);

static unsigned axes_mask(int n_axes, const int *axes, int ndim) {
    if (n_axes == 0) return ndim ? (1u << ndim) - 1 : 0;
    unsigned m = 0;
    for (int i = 0; i < n_axes; i++) m |= 1u << gt_norm_axis_(axes[i], ndim);
    return m;
}

/* Output shape of reducing `mask` axes: kept as size 1, or dropped. */
static int reduced_shape(const gt_tensor *x, unsigned mask, bool keepdim, int64_t *shape) {
    int nd = 0;
    for (int i = 0; i < x->ndim; i++) {
        if (!(mask & (1u << i)))
            shape[nd++] = x->shape[i];
        else if (keepdim)
            shape[nd++] = 1;
    }
    return nd;
}

/* Reduces the masked axes of contiguous data one axis at a time, last axis first, each as
 * [outer, r, inner] -> [outer, inner]; returns the result (shape: x's with those axes 1). */
static const float *reduce_eval(reduce_kernel k, const gt_tensor *x, unsigned mask) {
    int64_t shape[GT_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    const float *cur = gt_contiguous_data_(x);
    for (int a = x->ndim - 1; a >= 0; a--) {
        if (!(mask & (1u << a))) continue;
        int64_t outer = gt_shape_numel_(a, shape), r = shape[a];
        int64_t inner = gt_shape_numel_(x->ndim - a - 1, shape + a + 1);
        float *next = gt_step_alloc_((size_t)(outer * inner) * sizeof(float));
        k(next, cur, outer, r, inner);
        shape[a] = 1;
        cur = next;
    }
    return cur;
}

/* Sums the masked axes of x. Size-1 axes drop out and neighbouring axes of one kind merge;
 * when that leaves [n, c, s] with n and s summed (each possibly absent), as a per-channel sum
 * over [N, C, H, W] does, one channel-sum kernel makes a single pass. */
static const float *sum_eval(const gt_tensor *x, unsigned mask) {
    int64_t g[GT_MAX_DIMS];
    bool red[GT_MAX_DIMS];
    int ng = 0;
    for (int i = 0; i < x->ndim; i++) {
        bool r = (mask & (1u << i)) != 0;
        if (x->shape[i] == 1) continue;
        if (ng > 0 && red[ng - 1] == r) {
            g[ng - 1] *= x->shape[i];
        } else {
            g[ng] = x->shape[i];
            red[ng++] = r;
        }
    }
    int64_t n = 1, c = 1, s = 1;
    int k = 0;
    if (ng == 1 && red[0]) {
        s = g[k++];
    } else {
        if (k < ng && red[k]) n = g[k++];
        if (k < ng) c = g[k++];
        if (k < ng) s = g[k++];
    }
    if (k < ng) return reduce_eval(gt_be()->reduce_sum, x, mask);
    float *y = gt_step_alloc_((size_t)c * sizeof(float));
    gt_be()->channel_sum(y, gt_contiguous_data_(x), n, c, s);
    return y;
}

gt_tensor *gt_sum_axes_mask_(gt_tensor *x, unsigned mask, bool keepdim) {
    int64_t shape[GT_MAX_DIMS];
    int nd = reduced_shape(x, mask, keepdim, shape);
    gt_tensor *y = gt_new_(nd, shape);
    const float *r = sum_eval(x, mask);
    memcpy(y->data, r, (size_t)y->numel * sizeof(float));
    gt_node *n = gt_record_(GT_OP_SUM, y, 1, &x);
    if (n) n->attr[0] = mask;
    return y;
}

gt_tensor *gt_sum(gt_tensor *x, int n_axes, const int *axes, bool keepdim) {
    return gt_sum_axes_mask_(x, axes_mask(n_axes, axes, x->ndim), keepdim);
}

static int64_t count_of(const gt_tensor *x, unsigned mask) {
    int64_t c = 1;
    for (int i = 0; i < x->ndim; i++)
        if (mask & (1u << i)) c *= x->shape[i];
    return c;
}

gt_tensor *gt_mean(gt_tensor *x, int n_axes, const int *axes, bool keepdim) {
    unsigned mask = axes_mask(n_axes, axes, x->ndim);
    return gt_mul_scalar(gt_sum_axes_mask_(x, mask, keepdim), 1.0f / (float)count_of(x, mask));
}

gt_tensor *gt_sum_all(gt_tensor *x) { return gt_sum(x, 0, NULL, false); }
gt_tensor *gt_mean_all(gt_tensor *x) { return gt_mean(x, 0, NULL, false); }

/* Whether the masked axes are adjacent, x then viewed as [outer, r, inner] with r theirs. */
static bool one_run_of_axes(const gt_tensor *x, unsigned mask, int64_t *outer, int64_t *r,
                            int64_t *inner) {
    int first = -1, last = -1;
    for (int i = 0; i < x->ndim; i++)
        if (mask & (1u << i)) {
            if (first < 0) first = i;
            else if (last != i - 1) return false;
            last = i;
        }
    if (first < 0) return false;
    *outer = gt_shape_numel_(first, x->shape);
    *r = gt_shape_numel_(last - first + 1, x->shape + first);
    *inner = gt_shape_numel_(x->ndim - last - 1, x->shape + last + 1);
    return true;
}

/* w for max: hit / count per reduced group, hit = (x >= the group's max): one kernel when the
 * axes are adjacent, else the same from a max, a comparison, a sum and a division. */
static gt_tensor *max_share(gt_tensor *x, unsigned mask) {
    int64_t outer, r, inner;
    if (one_run_of_axes(x, mask, &outer, &r, &inner) && r > 0) {
        gt_tensor *w = gt_new_(x->ndim, x->shape);
        gt_be()->max_share(w->data, gt_contiguous_data_(x), outer, r, inner);
        return w;
    }
    int64_t kshape[GT_MAX_DIMS];
    int nd = reduced_shape(x, mask, true, kshape);
    gt_tensor *m = gt_new_(nd, kshape);
    memcpy(m->data, reduce_eval(gt_be()->reduce_max, x, mask), (size_t)m->numel * sizeof(float));
    gt_tensor *hit = gt_greater_equal(x, m);
    return gt_div(hit, gt_sum_axes_mask_(hit, mask, true));
}

/* max = sum(x * w) with w a constant that shares 1 among the tied maxima of each group, so the
 * gradient (w) is PyTorch's amax rule and the op needs no backward code of its own. */
gt_tensor *gt_max(gt_tensor *x, int n_axes, const int *axes, bool keepdim) {
    unsigned mask = axes_mask(n_axes, axes, x->ndim);
    bool prev = gt_grad_set(false);
    gt_tensor *w = max_share(gt_detach(x), mask);
    gt_grad_set(prev);
    return gt_sum_axes_mask_(gt_mul(x, w), mask, keepdim);
}

gt_tensor *gt_var(gt_tensor *x, int n_axes, const int *axes, bool keepdim, bool unbiased) {
    unsigned mask = axes_mask(n_axes, axes, x->ndim);
    int64_t count = count_of(x, mask);
    GT_CHECK(!unbiased || count > 1, "var: unbiased variance needs more than one element");
    gt_tensor *d = gt_sub(x, gt_mean(x, n_axes, axes, true));
    gt_tensor *ss = gt_sum_axes_mask_(gt_square(d), mask, keepdim);
    return gt_mul_scalar(ss, 1.0f / (float)(unbiased ? count - 1 : count));
}

gt_tensor *gt_log_softmax(gt_tensor *x, int axis) {
    int a = gt_norm_axis_(axis, x->ndim);
    bool prev = gt_grad_set(false);
    gt_tensor *m = gt_max(gt_detach(x), 1, &a, true);
    gt_grad_set(prev);
    gt_tensor *z = gt_sub(x, m);
    return gt_sub(z, gt_log(gt_sum(gt_exp(z), 1, &a, true)));
}

gt_tensor *gt_softmax(gt_tensor *x, int axis) { return gt_exp(gt_log_softmax(x, axis)); }

/* ---- broadcasting to and from a shape -------------------------------------------------------- */

gt_tensor *gt_expand(gt_tensor *x, int ndim, const int64_t *shape) {
    GT_CHECK(ndim >= x->ndim, "expand: %d dims cannot expand to %d", x->ndim, ndim);
    int64_t st[GT_MAX_DIMS];
    for (int i = 0; i < ndim; i++) {
        int ix = i - (ndim - x->ndim);
        int64_t sx = ix >= 0 ? x->shape[ix] : 1;
        GT_CHECK(sx == shape[i] || sx == 1, "expand: dim %d of size %lld cannot become %lld", i,
                 (long long)sx, (long long)shape[i]);
        st[i] = (ix < 0 || sx == 1) ? 0 : x->stride[ix];
    }
    gt_tensor *y = gt_new_(ndim, shape);
    gt_be()->copy_strided(y->data, x->data, st, ndim, shape);
    gt_record_(GT_OP_EXPAND, y, 1, &x);
    return y;
}

gt_tensor *gt_sum_to(gt_tensor *x, int ndim, const int64_t *shape) {
    if (x->ndim == ndim && memcmp(x->shape, shape, (size_t)ndim * sizeof *shape) == 0) return x;
    int lead = x->ndim - ndim;
    GT_CHECK(lead >= 0, "sum_to: %d dims cannot sum to %d", x->ndim, ndim);
    unsigned mask = 0;
    for (int i = 0; i < x->ndim; i++) {
        if (i < lead) {
            mask |= 1u << i;
            continue;
        }
        int64_t s = shape[i - lead];
        GT_CHECK(s == x->shape[i] || s == 1, "sum_to: dim %d of size %lld cannot sum to %lld", i,
                 (long long)x->shape[i], (long long)s);
        if (s == 1 && x->shape[i] != 1) mask |= 1u << i;
    }
    return gt_reshape(gt_sum_axes_mask_(x, mask, true), ndim, shape);
}

/* ---- backward rules ------------------------------------------------------------------------------ */

void gt_bw_sum(const gt_node *n, gt_tensor *dy, gt_tensor **dx) {
    const gt_tensor *x = n->in[0];
    int64_t kshape[GT_MAX_DIMS];
    int nd = reduced_shape(x, (unsigned)n->attr[0], true, kshape);
    dx[0] = gt_expand(gt_reshape(dy, nd, kshape), x->ndim, x->shape);
}

void gt_bw_expand(const gt_node *n, gt_tensor *dy, gt_tensor **dx) {
    dx[0] = gt_sum_to(dy, n->in[0]->ndim, n->in[0]->shape);
}
