/* Shape ops. reshape (of contiguous data), permute and slice are views that share data; pad,
 * concat and contiguous copy. Adjoint pairs keep them closed under differentiation:
 * reshape/reshape, permute/permute, slice/pad, concat/slice. */
#include <string.h>

#include "core/internal.h"

gt_tensor *gt_contiguous(gt_tensor *x) {
    if (gt_is_contiguous(x)) return x;
    gt_tensor *y = gt_new_(x->ndim, x->shape);
    gt_be()->copy_strided(y->data, x->data, x->stride, x->ndim, x->shape);
    gt_record_(GT_OP_CONTIGUOUS, y, 1, &x);
    return y;
}

/* Resolves one -1 entry and checks the element count. */
static void resolve_shape(const gt_tensor *x, int ndim, const int64_t *in, int64_t *out) {
    int64_t known = 1;
    int free_dim = -1;
    for (int i = 0; i < ndim; i++) {
        out[i] = in[i];
        if (in[i] == -1) {
            GT_CHECK(free_dim < 0, "reshape: more than one -1");
            free_dim = i;
        } else {
            known *= in[i];
        }
    }
    if (free_dim >= 0) {
        GT_CHECK(known > 0 && x->numel % known == 0, "reshape: %lld elements do not fit",
                 (long long)x->numel);
        out[free_dim] = x->numel / known;
    }
    GT_CHECK(gt_shape_numel_(ndim, out) == x->numel, "reshape: %lld elements into a shape of %lld",
             (long long)x->numel, (long long)gt_shape_numel_(ndim, out));
}

gt_tensor *gt_reshape(gt_tensor *x, int ndim, const int64_t *shape) {
    GT_CHECK(ndim >= 0 && ndim <= GT_MAX_DIMS, "reshape: %d dims", ndim);
    int64_t s[GT_MAX_DIMS];
    resolve_shape(x, ndim, shape, s);
    gt_tensor *src = x;
    if (!gt_is_contiguous(x)) {
        src = gt_new_(x->ndim, x->shape);
        gt_be()->copy_strided(src->data, x->data, x->stride, x->ndim, x->shape);
    }
    gt_tensor tmp = {.ndim = ndim};
    memcpy(tmp.shape, s, sizeof s);
    gt_set_contiguous_strides_(&tmp);
    gt_tensor *y = gt_view_(src, ndim, s, tmp.stride, 0);
    gt_record_(GT_OP_RESHAPE, y, 1, &x);
    return y;
}

gt_tensor *gt_permute(gt_tensor *x, const int *perm) {
    int64_t shape[GT_MAX_DIMS], stride[GT_MAX_DIMS];
    unsigned seen = 0;
    for (int i = 0; i < x->ndim; i++) {
        int p = gt_norm_axis_(perm[i], x->ndim);
        GT_CHECK(!(seen & (1u << p)), "permute: axis %d repeated", p);
        seen |= 1u << p;
        shape[i] = x->shape[p];
        stride[i] = x->stride[p];
    }
    gt_tensor *y = gt_view_(x, x->ndim, shape, stride, 0);
    gt_node *n = gt_record_(GT_OP_PERMUTE, y, 1, &x);
    if (n)
        for (int i = 0; i < x->ndim; i++) n->attr[i] = gt_norm_axis_(perm[i], x->ndim);
    return y;
}

gt_tensor *gt_transpose(gt_tensor *x, int a, int b) {
    int perm[GT_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) perm[i] = i;
    a = gt_norm_axis_(a, x->ndim);
    b = gt_norm_axis_(b, x->ndim);
    perm[a] = b;
    perm[b] = a;
    return gt_permute(x, perm);
}

gt_tensor *gt_slice(gt_tensor *x, int axis, int64_t start, int64_t stop) {
    int a = gt_norm_axis_(axis, x->ndim);
    int64_t size = x->shape[a];
    if (start < 0) start += size;
    if (stop < 0) stop += size;
    GT_CHECK(0 <= start && start <= stop && stop <= size, "slice [%lld, %lld) of a dim of %lld",
             (long long)start, (long long)stop, (long long)size);
    int64_t shape[GT_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[a] = stop - start;
    gt_tensor *y = gt_view_(x, x->ndim, shape, x->stride, start * x->stride[a]);
    gt_node *n = gt_record_(GT_OP_SLICE, y, 1, &x);
    if (n) {
        n->attr[0] = a;
        n->attr[1] = start;
        n->attr[2] = stop;
    }
    return y;
}

/* Copies contiguous-or-strided x into the region of y that starts at dst. */
static void write_region(float *dst, const gt_tensor *y, const gt_tensor *x) {
    gt_be()->scatter_strided(dst, y->stride, gt_contiguous_data_(x), x->ndim, x->shape);
}

gt_tensor *gt_pad(gt_tensor *x, const int64_t *before, const int64_t *after) {
    int64_t shape[GT_MAX_DIMS], off = 0;
    gt_tensor *y;
    for (int i = 0; i < x->ndim; i++) {
        GT_CHECK(before[i] >= 0 && after[i] >= 0, "pad: negative padding on axis %d", i);
        shape[i] = x->shape[i] + before[i] + after[i];
    }
    y = gt_zeros(x->ndim, shape);
    for (int i = 0; i < x->ndim; i++) off += before[i] * y->stride[i];
    write_region(y->data + off, y, x);
    gt_node *n = gt_record_(GT_OP_PAD, y, 1, &x);
    if (n)
        for (int i = 0; i < x->ndim; i++) {
            n->attr[i] = before[i];
            n->attr[GT_MAX_DIMS + i] = after[i];
        }
    return y;
}

gt_tensor *gt_concat(int n_in, gt_tensor *const *xs, int axis) {
    GT_CHECK(n_in >= 1, "concat: no inputs");
    int a = gt_norm_axis_(axis, xs[0]->ndim);
    int64_t shape[GT_MAX_DIMS];
    memcpy(shape, xs[0]->shape, sizeof shape);
    shape[a] = 0;
    for (int k = 0; k < n_in; k++) {
        GT_CHECK(xs[k]->ndim == xs[0]->ndim, "concat: input %d has %d dims, not %d", k,
                 xs[k]->ndim, xs[0]->ndim);
        for (int i = 0; i < xs[0]->ndim; i++)
            GT_CHECK(i == a || xs[k]->shape[i] == xs[0]->shape[i],
                     "concat: input %d differs in dim %d", k, i);
        shape[a] += xs[k]->shape[a];
    }
    gt_tensor *y = gt_new_(xs[0]->ndim, shape);
    int64_t off = 0;
    for (int k = 0; k < n_in; k++) {
        write_region(y->data + off * y->stride[a], y, xs[k]);
        off += xs[k]->shape[a];
    }
    gt_node *n = gt_record_(GT_OP_CONCAT, y, n_in, xs);
    if (n) n->attr[0] = a;
    return y;
}

/* ---- backward rules ------------------------------------------------------------------------------ */

void gt_bw_contiguous(const gt_node *n, gt_tensor *dy, gt_tensor **dx) {
    (void)n;
    dx[0] = dy;
}

void gt_bw_reshape(const gt_node *n, gt_tensor *dy, gt_tensor **dx) {
    dx[0] = gt_reshape(dy, n->in[0]->ndim, n->in[0]->shape);
}

void gt_bw_permute(const gt_node *n, gt_tensor *dy, gt_tensor **dx) {
    int inv[GT_MAX_DIMS];
    for (int i = 0; i < dy->ndim; i++) inv[n->attr[i]] = i;
    dx[0] = gt_permute(dy, inv);
}

void gt_bw_slice(const gt_node *n, gt_tensor *dy, gt_tensor **dx) {
    const gt_tensor *x = n->in[0];
    int64_t before[GT_MAX_DIMS] = {0}, after[GT_MAX_DIMS] = {0};
    int a = (int)n->attr[0];
    before[a] = n->attr[1];
    after[a] = x->shape[a] - n->attr[2];
    dx[0] = gt_pad(dy, before, after);
}

void gt_bw_pad(const gt_node *n, gt_tensor *dy, gt_tensor **dx) {
    gt_tensor *g = dy;
    for (int i = 0; i < dy->ndim; i++) {
        int64_t b = n->attr[i], e = n->attr[GT_MAX_DIMS + i];
        if (b || e) g = gt_slice(g, i, b, b + n->in[0]->shape[i]);
    }
    dx[0] = g;
}

void gt_bw_concat(const gt_node *n, gt_tensor *dy, gt_tensor **dx) {
    int a = (int)n->attr[0];
    int64_t off = 0;
    for (int k = 0; k < n->n_in; k++) {
        int64_t len = n->in[k]->shape[a];
        if (gt_wants_grad_(n->in[k])) dx[k] = gt_slice(dy, a, off, off + len);
        off += len;
    }
}
