/* Tensors: creation in the step or model arena, views that share data, and element access.
 * A tensor header is small and lives in the same arena as its data. */
#include <string.h>

#include "core/internal.h"

int64_t gt_shape_numel_(int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

int gt_norm_axis_(int axis, int ndim) {
    int a = axis < 0 ? axis + ndim : axis;
    GT_CHECK(a >= 0 && a < ndim, "axis %d out of range for %d dims", axis, ndim);
    return a;
}

void gt_set_contiguous_strides_(gt_tensor *t) {
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        t->stride[i] = s;
        s *= t->shape[i];
    }
}

static gt_tensor *tensor_in(gt_arena *a, int ndim, const int64_t *shape) {
    GT_CHECK(ndim >= 0 && ndim <= GT_MAX_DIMS, "ndim %d not in [0, %d]", ndim, GT_MAX_DIMS);
    gt_tensor *t = gt_arena_alloc(a, sizeof *t);
    memset(t, 0, sizeof *t);
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) {
        GT_CHECK(shape[i] >= 0, "negative size %lld in dim %d", (long long)shape[i], i);
        t->shape[i] = shape[i];
    }
    t->numel = gt_shape_numel_(ndim, shape);
    gt_set_contiguous_strides_(t);
    t->data = gt_arena_alloc(a, (size_t)t->numel * sizeof(float));
    return t;
}

/* A step tensor's header, storage record and data are taken from the step arena together, the
 * data last, so handing the data back at the top of the arena lowers its bump pointer. */
gt_tensor *gt_new_(int ndim, const int64_t *shape) {
    gt_arena *step = gt_step_arena();
    gt_storage_ *s = gt_arena_alloc(step, sizeof *s);
    gt_tensor *t = tensor_in(step, ndim, shape);
    *s = (gt_storage_){.mem = t->data, .bytes = (size_t)t->numel * sizeof(float),
                       .walk = gt_walk_id_()};
    t->store_ = s;
    if (s->walk) gt_walk_note_made_(s);
    return t;
}

void gt_storage_release_(gt_storage_ *s) {
    GT_CHECK(!s->released, "internal: step memory released twice");
    gt_arena_release_(gt_step_arena(), s->mem, s->bytes);
    s->released = true;
}

bool gt_kept_as_bf16_(const gt_tensor *t) {
    const gt_storage_ *s = t->store_;
    return s && s->half && t->data >= s->mem && t->data < s->mem + s->bytes / sizeof(float);
}

/* x's storage as bf16 in a new arena range; the float32 range goes back. */
static void keep_as_bf16(gt_storage_ *s) {
    int64_t n = (int64_t)(s->bytes / sizeof(float));
    s->half = gt_step_alloc_((size_t)n * sizeof *s->half);
    gt_be()->to_bf16(s->half, s->mem, n);
    s->halved_at = gt_write_counter_();
    gt_arena_release_(gt_step_arena(), s->mem, s->bytes);
}

void gt_forward_done_(gt_tensor *x) {
    gt_storage_ *s = x->store_;
    if (!s || s->released || s->half || s->walk != 0 || gt_in_backward_()) return;
    if (!gt_grad_enabled() && x->node == NULL) {
        gt_storage_release_(s); /* no node can have saved it */
    } else if (gt_bf16_()) {
        keep_as_bf16(s);
    }
}

gt_tensor *gt_new_like_(const gt_tensor *t) { return gt_new_(t->ndim, t->shape); }

gt_tensor *gt_tensor_new_in(gt_arena *a, int ndim, const int64_t *shape) {
    gt_tensor *t = tensor_in(a, ndim, shape);
    gt_be()->fill(t->data, 0.0f, t->numel);
    return t;
}

gt_tensor *gt_view_in(gt_arena *a, gt_tensor *base, int64_t offset, int ndim,
                      const int64_t *shape) {
    GT_CHECK(ndim >= 0 && ndim <= GT_MAX_DIMS, "ndim %d not in [0, %d]", ndim, GT_MAX_DIMS);
    int64_t n = gt_shape_numel_(ndim, shape);
    GT_CHECK(gt_is_contiguous(base) && offset >= 0 && offset + n <= base->numel,
             "view of %lld elements at %lld outside a contiguous base of %lld", (long long)n,
             (long long)offset, (long long)base->numel);
    gt_tensor *t = gt_arena_alloc(a, sizeof *t);
    memset(t, 0, sizeof *t);
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    t->numel = n;
    gt_set_contiguous_strides_(t);
    t->data = base->data + offset;
    t->store_ = base->store_;
    return t;
}

gt_tensor *gt_view_(gt_tensor *base, int ndim, const int64_t *shape, const int64_t *stride,
                    int64_t offset) {
    gt_tensor *t = gt_step_alloc_(sizeof *t);
    memset(t, 0, sizeof *t);
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    memcpy(t->stride, stride, (size_t)ndim * sizeof *stride);
    t->numel = gt_shape_numel_(ndim, shape);
    t->data = base->data + offset;
    t->store_ = base->store_;
    return t;
}

gt_tensor *gt_empty(int ndim, const int64_t *shape) { return gt_new_(ndim, shape); }

gt_tensor *gt_full(int ndim, const int64_t *shape, float value) {
    gt_tensor *t = gt_new_(ndim, shape);
    gt_be()->fill(t->data, value, t->numel);
    return t;
}

void gt_fill(gt_tensor *t, float value) {
    GT_CHECK(gt_is_contiguous(t), "fill: tensor must be contiguous");
    gt_note_write_(t, "fill");
    gt_be()->fill(t->data, value, t->numel);
}

gt_tensor *gt_zeros(int ndim, const int64_t *shape) { return gt_full(ndim, shape, 0.0f); }
gt_tensor *gt_zeros_like(const gt_tensor *t) { return gt_zeros(t->ndim, t->shape); }
gt_tensor *gt_scalar(float value) { return gt_full(0, NULL, value); }

gt_tensor *gt_from_data(int ndim, const int64_t *shape, const float *data) {
    gt_tensor *t = gt_new_(ndim, shape);
    gt_be()->upload(t->data, data, (size_t)t->numel * sizeof(float));
    return t;
}

void gt_copy_from(gt_tensor *t, const float *src) {
    GT_CHECK(gt_is_contiguous(t), "copy_from: tensor must be contiguous");
    gt_note_write_(t, "copy_from");
    gt_be()->upload(t->data, src, (size_t)t->numel * sizeof(float));
}

void gt_assign(gt_tensor *dst, const gt_tensor *src) {
    GT_CHECK(gt_is_contiguous(dst) && dst->numel == src->numel,
             "assign: destination must be contiguous with %lld elements, has %lld",
             (long long)src->numel, (long long)dst->numel);
    gt_note_write_(dst, "assign");
    if (gt_is_contiguous(src))
        gt_be()->copy(dst->data, src->data, (size_t)src->numel * sizeof(float));
    else
        gt_be()->copy_strided(dst->data, src->data, src->stride, src->ndim, src->shape);
}

gt_tensor *gt_clone(const gt_tensor *t) {
    gt_tensor *c = gt_new_(t->ndim, t->shape);
    gt_assign(c, t);
    return c;
}

gt_tensor *gt_param_new(gt_arena *model, int ndim, const int64_t *shape) {
    gt_tensor *t = gt_tensor_new_in(model, ndim, shape);
    t->grad = gt_tensor_new_in(model, ndim, shape);
    t->requires_grad = true;
    return t;
}

void gt_set_requires_grad(gt_tensor *t, bool on) {
    GT_CHECK(t->node == NULL, "requires_grad can only be set on a leaf tensor");
    t->requires_grad = on;
}

bool gt_is_contiguous(const gt_tensor *t) {
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->stride[i] != s) return false;
        s *= t->shape[i];
    }
    return true;
}

bool gt_same_shape(const gt_tensor *a, const gt_tensor *b) {
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}

const float *gt_contiguous_data_(const gt_tensor *x) {
    if (gt_is_contiguous(x)) return x->data;
    float *buf = gt_step_alloc_((size_t)x->numel * sizeof(float));
    gt_be()->copy_strided(buf, x->data, x->stride, x->ndim, x->shape);
    return buf;
}


float gt_get(const gt_tensor *t, const int64_t *index) {
    int64_t off = 0;
    for (int i = 0; i < t->ndim; i++) {
        GT_CHECK(index[i] >= 0 && index[i] < t->shape[i], "index %lld out of range in dim %d",
                 (long long)index[i], i);
        off += index[i] * t->stride[i];
    }
    float v;
    gt_be()->download(&v, t->data + off, sizeof v);
    return v;
}

float gt_item(const gt_tensor *t) {
    GT_CHECK(t->numel == 1, "gt_item needs one element, tensor has %lld", (long long)t->numel);
    int64_t zero[GT_MAX_DIMS] = {0};
    return gt_get(t, zero);
}

void gt_copy_to(float *dst, const gt_tensor *t) {
    gt_be()->download(dst, gt_contiguous_data_(t), (size_t)t->numel * sizeof(float));
}

void gt_zero_grad(gt_tensor *t) {
    if (t->grad) gt_note_write_(t->grad, "zero_grad");
    if (t->grad) gt_be()->fill(t->grad->data, 0.0f, t->grad->numel);
}
