/* Elementwise ops: broadcasting binary ops, unary maths, masks and the activations built on
 * them. Every backward rule below is written in ops, so it can be differentiated again. */
#include "core/internal.h"

/* ---- broadcasting -------------------------------------------------------------------------- */

/* out shape = NumPy broadcast of a and b (trailing dims aligned). */
static int broadcast_shape(const gt_tensor *a, const gt_tensor *b, int64_t *shape) {
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int i = 0; i < nd; i++) {
        int ia = i - (nd - a->ndim), ib = i - (nd - b->ndim);
        int64_t sa = ia >= 0 ? a->shape[ia] : 1, sb = ib >= 0 ? b->shape[ib] : 1;
        GT_CHECK(sa == sb || sa == 1 || sb == 1,
                 "cannot broadcast dim %d: sizes %lld and %lld", i, (long long)sa, (long long)sb);
        shape[i] = sa == 1 ? sb : sa;
    }
    return nd;
}

/* Element strides that read t over an output of `shape` (0 where t is broadcast). */
static void broadcast_strides(const gt_tensor *t, int nd, const int64_t *shape, int64_t *st) {
    for (int i = 0; i < nd; i++) {
        int it = i - (nd - t->ndim);
        st[i] = (it < 0 || (t->shape[it] == 1 && shape[i] != 1)) ? 0 : t->stride[it];
    }
}

/* The kernel result of op(a, b), not recorded. */
static gt_tensor *binary_eval(gt_binary_op k, const gt_tensor *a, const gt_tensor *b) {
    int64_t shape[GT_MAX_DIMS], sa[GT_MAX_DIMS], sb[GT_MAX_DIMS];
    int nd = broadcast_shape(a, b, shape);
    broadcast_strides(a, nd, shape, sa);
    broadcast_strides(b, nd, shape, sb);
    gt_tensor *y = gt_new_(nd, shape);
    gt_be()->binary(k, y->data, a->data, sa, b->data, sb, nd, shape);
    return y;
}

static gt_tensor *binary_op(gt_op_id id, gt_binary_op k, gt_tensor *a, gt_tensor *b) {
    gt_tensor *y = binary_eval(k, a, b);
    gt_tensor *in[2] = {a, b};
    gt_record_(id, y, 2, in);
    return y;
}

gt_tensor *gt_add(gt_tensor *a, gt_tensor *b) { return binary_op(GT_OP_ADD, GT_BINARY_ADD, a, b); }

gt_tensor *gt_sub(gt_tensor *a, gt_tensor *b) { return binary_op(GT_OP_SUB, GT_BINARY_SUB, a, b); }
gt_tensor *gt_mul(gt_tensor *a, gt_tensor *b) { return binary_op(GT_OP_MUL, GT_BINARY_MUL, a, b); }
gt_tensor *gt_div(gt_tensor *a, gt_tensor *b) { return binary_op(GT_OP_DIV, GT_BINARY_DIV, a, b); }
gt_tensor *gt_maximum(gt_tensor *a, gt_tensor *b) {
    return binary_op(GT_OP_MAXIMUM, GT_BINARY_MAX, a, b);
}
gt_tensor *gt_minimum(gt_tensor *a, gt_tensor *b) {
    return binary_op(GT_OP_MINIMUM, GT_BINARY_MIN, a, b);
}

/* After an op's values were written over x's memory: the result, a new tensor on that memory,
 * recorded as op (the write is logged first, so the new node does not see it as a change). */
static gt_node *record_over(gt_tensor *x, gt_op_id op, int n_in, gt_tensor *const *in,
                            const char *what, gt_tensor **out) {
    gt_note_write_(x, what);
    *out = gt_view_(x, x->ndim, x->shape, x->stride, 0);
    return gt_record_(op, *out, n_in, in);
}

gt_tensor *gt_add_into_(gt_tensor *y, gt_tensor *b) {
    int64_t shape[GT_MAX_DIMS], sy[GT_MAX_DIMS], sb[GT_MAX_DIMS];
    int nd = broadcast_shape(y, b, shape);
    GT_CHECK(nd == y->ndim && gt_shape_numel_(nd, shape) == y->numel && gt_is_contiguous(y),
             "add_into: b must broadcast to the contiguous y's own shape");
    broadcast_strides(y, nd, shape, sy);
    broadcast_strides(b, nd, shape, sb);
    gt_be()->binary(GT_BINARY_ADD, y->data, y->data, sy, b->data, sb, nd, shape);
    gt_tensor *z, *in[2] = {y, b};
    record_over(y, GT_OP_ADD, 2, in, "a bias added in place", &z);
    return z;
}

gt_tensor *gt_greater(gt_tensor *a, gt_tensor *b) { return binary_eval(GT_BINARY_GT, a, b); }
gt_tensor *gt_greater_equal(gt_tensor *a, gt_tensor *b) {
    return binary_eval(GT_BINARY_GE, a, b);
}

/* ---- unary ------------------------------------------------------------------------------------ */

/* The kernel result of op(x), not recorded. */
static gt_tensor *unary_eval(gt_unary_op k, const gt_tensor *x, float p0, float p1) {
    gt_tensor *y = gt_new_(x->ndim, x->shape);
    gt_be()->unary(k, y->data, gt_contiguous_data_(x), x->numel, p0, p1);
    return y;
}

static gt_tensor *unary_op(gt_op_id id, gt_unary_op k, gt_tensor *x, float p0, float p1) {
    gt_tensor *y = unary_eval(k, x, p0, p1);
    gt_node *n = gt_record_(id, y, 1, &x);
    if (n) {
        n->fattr[0] = p0;
        n->fattr[1] = p1;
    }
    return y;
}

gt_tensor *gt_add_scalar(gt_tensor *x, float s) {
    return unary_op(GT_OP_ADD_SCALAR, GT_UNARY_ADD_SCALAR, x, s, 0);
}
gt_tensor *gt_mul_scalar(gt_tensor *x, float s) {
    return unary_op(GT_OP_MUL_SCALAR, GT_UNARY_MUL_SCALAR, x, s, 0);
}
gt_tensor *gt_neg(gt_tensor *x) { return unary_op(GT_OP_NEG, GT_UNARY_NEG, x, 0, 0); }
gt_tensor *gt_exp(gt_tensor *x) { return unary_op(GT_OP_EXP, GT_UNARY_EXP, x, 0, 0); }
gt_tensor *gt_log(gt_tensor *x) { return unary_op(GT_OP_LOG, GT_UNARY_LOG, x, 0, 0); }
gt_tensor *gt_sqrt(gt_tensor *x) { return unary_op(GT_OP_SQRT, GT_UNARY_SQRT, x, 0, 0); }
gt_tensor *gt_rsqrt(gt_tensor *x) { return unary_op(GT_OP_RSQRT, GT_UNARY_RSQRT, x, 0, 0); }
gt_tensor *gt_pow(gt_tensor *x, float p) { return unary_op(GT_OP_POW, GT_UNARY_POW, x, p, 0); }
gt_tensor *gt_abs(gt_tensor *x) { return unary_op(GT_OP_ABS, GT_UNARY_ABS, x, 0, 0); }
gt_tensor *gt_square(gt_tensor *x) { return unary_op(GT_OP_SQUARE, GT_UNARY_SQUARE, x, 0, 0); }
gt_tensor *gt_tanh(gt_tensor *x) { return unary_op(GT_OP_TANH, GT_UNARY_TANH, x, 0, 0); }
gt_tensor *gt_sigmoid(gt_tensor *x) { return unary_op(GT_OP_SIGMOID, GT_UNARY_SIGMOID, x, 0, 0); }
gt_tensor *gt_softplus(gt_tensor *x) {
    return unary_op(GT_OP_SOFTPLUS, GT_UNARY_SOFTPLUS, x, 0, 0);
}
gt_tensor *gt_clamp(gt_tensor *x, float lo, float hi) {
    GT_CHECK(lo <= hi, "clamp: lo %g > hi %g", lo, hi);
    return unary_op(GT_OP_CLAMP, GT_UNARY_CLAMP, x, lo, hi);
}

/* ---- masks and activations -------------------------------------------------------------------- */

gt_tensor *gt_where(gt_tensor *mask, gt_tensor *a, gt_tensor *b) {
    GT_CHECK(gt_same_shape(mask, a) && gt_same_shape(a, b), "where: mask, a and b must have one shape");
    GT_CHECK(!mask->requires_grad, "where: the mask must be a constant");
    gt_tensor *y = gt_new_like_(a);
    gt_be()->where(y->data, gt_contiguous_data_(mask), gt_contiguous_data_(a),
                   gt_contiguous_data_(b), y->numel);
    gt_tensor *in[2] = {a, b};
    gt_node *n = gt_record_(GT_OP_WHERE, y, 2, in);
    if (n) n->saved = mask;
    return y;
}

gt_tensor *gt_mul_const_(gt_tensor *x, gt_tensor *mask) { return gt_mul(x, mask); }

/* One pass: y = a where ref > 0, else a slope. Its rule is itself (ref constant), so relu and
 * leaky relu, their gradients and the gradients of those are each one pass. */
gt_tensor *gt_leaky_mul(gt_tensor *a, gt_tensor *ref, float slope) {
    GT_CHECK(gt_same_shape(a, ref), "leaky_mul: a and ref must have one shape");
    gt_tensor *y = gt_new_like_(a);
    gt_be()->leaky_mul(y->data, gt_contiguous_data_(a), gt_contiguous_data_(ref), y->numel, slope);
    gt_node *n = gt_record_(GT_OP_LEAKY_MUL, y, 1, &a);
    if (n) {
        n->saved = ref;
        n->fattr[0] = slope;
    }
    return y;
}

gt_tensor *gt_relu(gt_tensor *x) { return gt_leaky_mul(x, x, 0.0f); }
gt_tensor *gt_leaky_relu(gt_tensor *x, float slope) { return gt_leaky_mul(x, x, slope); }

/* Whether x is the whole output of a recorded op whose backward reads none of its output's
 * values, so x's memory may be overwritten. */
static bool output_unread_by_backward(const gt_tensor *x) {
    const gt_node *n = x->node;
    return n && n->out == x && gt_is_contiguous(x) && !gt_op_reads_output_values_(n->op);
}

gt_tensor *gt_leaky_relu_over_(gt_tensor *x, float slope) {
    if (!(slope >= 0.0f) || !output_unread_by_backward(x)) return gt_leaky_relu(x, slope);
    gt_be()->leaky_mul(x->data, x->data, x->data, x->numel, slope);
    gt_tensor *y;
    gt_node *n = record_over(x, GT_OP_LEAKY_MUL, 1, &x, "an activation applied in place", &y);
    if (n) {
        n->saved = y; /* y > 0 exactly where x > 0 (slope >= 0): the same mask */
        n->fattr[0] = slope;
    }
    return y;
}

gt_tensor *gt_log_sigmoid(gt_tensor *x) { return gt_neg(gt_softplus(gt_neg(x))); }

/* ---- backward rules ---------------------------------------------------------------------------- */

static gt_tensor *to_shape_of(gt_tensor *g, const gt_tensor *t) {
    return gt_sum_to(g, t->ndim, t->shape);
}

void gt_bw_add(const gt_node *n, gt_tensor *dy, gt_tensor **dx) {
    if (gt_wants_grad_(n->in[0])) dx[0] = to_shape_of(dy, n->in[0]);
    if (gt_wants_grad_(n->in[1])) dx[1] = to_shape_of(dy, n->in[1]);
}

void gt_bw_sub(const gt_node *n, gt_tensor *dy, gt_tensor **dx) {
    if (gt_wants_grad_(n->in[0])) dx[0] = to_shape_of(dy, n->in[0]);
    if (gt_wants_grad_(n->in[1])) dx[1] = to_shape_of(gt_neg(dy), n->in[1]);
}

void gt_bw_mul(const gt_node *n, gt_tensor *dy, gt_tensor **dx) {
    if (gt_wants_grad_(n->in[0])) dx[0] = to_shape_of(gt_mul(dy, n->in[1]), n->in[0]);
    if (gt_wants_grad_(n->in[1])) dx[1] = to_shape_of(gt_mul(dy, n->in[0]), n->in[1]);
}

/* y = a / b: da = dy / b, db = -dy a / b^2 = -dy y / b. */
void gt_bw_div(const gt_node *n, gt_tensor *dy, gt_tensor **dx) {
    gt_tensor *a = n->in[0], *b = n->in[1];
    if (gt_wants_grad_(a)) dx[0] = to_shape_of(gt_div(dy, b), a);
    if (gt_wants_grad_(b)) dx[1] = to_shape_of(gt_neg(gt_div(gt_mul(dy, n->out), b)), b);
}

/* The gradient goes to a where mask_a holds, to b elsewhere. */
static void select_backward(const gt_node *n, gt_tensor *dy, gt_tensor **dx, gt_tensor *mask_a) {
    if (gt_wants_grad_(n->in[0])) dx[0] = to_shape_of(gt_mul_const_(dy, mask_a), n->in[0]);
    if (gt_wants_grad_(n->in[1])) {
        gt_tensor *mask_b = unary_eval(GT_UNARY_ADD_SCALAR, unary_eval(GT_UNARY_NEG, mask_a, 0, 0), 1, 0);
        dx[1] = to_shape_of(gt_mul_const_(dy, mask_b), n->in[1]);
    }
}

void gt_bw_maximum(const gt_node *n, gt_tensor *dy, gt_tensor **dx) {
    select_backward(n, dy, dx, binary_eval(GT_BINARY_GE, n->in[0], n->in[1]));
}

void gt_bw_minimum(const gt_node *n, gt_tensor *dy, gt_tensor **dx) {
    select_backward(n, dy, dx, binary_eval(GT_BINARY_GE, n->in[1], n->in[0]));
}

void gt_bw_where(const gt_node *n, gt_tensor *dy, gt_tensor **dx) {
    /* the mask as 0/1 values: a caller's mask may hold any nonzero value */
    gt_tensor *nonzero = unary_eval(GT_UNARY_ABS, n->saved, 0, 0);
    select_backward(n, dy, dx, unary_eval(GT_UNARY_GT_SCALAR, nonzero, 0.0f, 0));
}

void gt_bw_leaky_mul(const gt_node *n, gt_tensor *dy, gt_tensor **dx) {
    dx[0] = gt_leaky_mul(dy, n->saved, n->fattr[0]);
}

void gt_bw_add_scalar(const gt_node *n, gt_tensor *dy, gt_tensor **dx) {
    (void)n;
    dx[0] = dy;
}

void gt_bw_mul_scalar(const gt_node *n, gt_tensor *dy, gt_tensor **dx) {
    dx[0] = gt_mul_scalar(dy, n->fattr[0]);
}

void gt_bw_neg(const gt_node *n, gt_tensor *dy, gt_tensor **dx) {
    (void)n;
    dx[0] = gt_neg(dy);
}

void gt_bw_exp(const gt_node *n, gt_tensor *dy, gt_tensor **dx) { dx[0] = gt_mul(dy, n->out); }
void gt_bw_log(const gt_node *n, gt_tensor *dy, gt_tensor **dx) { dx[0] = gt_div(dy, n->in[0]); }

/* y = sqrt x: dx = dy / (2 y). */
void gt_bw_sqrt(const gt_node *n, gt_tensor *dy, gt_tensor **dx) {
    dx[0] = gt_div(gt_mul_scalar(dy, 0.5f), n->out);
}

/* y = x^(-1/2): dx = -dy y^3 / 2. */
void gt_bw_rsqrt(const gt_node *n, gt_tensor *dy, gt_tensor **dx) {
    dx[0] = gt_mul(dy, gt_mul_scalar(gt_pow(n->out, 3.0f), -0.5f));
}

/* y = x^p: dx = dy p x^(p-1). */
void gt_bw_pow(const gt_node *n, gt_tensor *dy, gt_tensor **dx) {
    float p = n->fattr[0];
    if (p == 0.0f) {
        dx[0] = gt_mul_scalar(dy, 0.0f);
    } else if (p == 1.0f) {
        dx[0] = dy;
    } else {
        dx[0] = gt_mul(dy, gt_mul_scalar(gt_pow(n->in[0], p - 1.0f), p));
    }
}

void gt_bw_abs(const gt_node *n, gt_tensor *dy, gt_tensor **dx) {
    dx[0] = gt_mul_const_(dy, unary_eval(GT_UNARY_SIGN, n->in[0], 0, 0));
}

void gt_bw_square(const gt_node *n, gt_tensor *dy, gt_tensor **dx) {
    dx[0] = gt_mul(dy, gt_mul_scalar(n->in[0], 2.0f));
}

void gt_bw_clamp(const gt_node *n, gt_tensor *dy, gt_tensor **dx) {
    dx[0] = gt_mul_const_(dy, unary_eval(GT_UNARY_IN_RANGE, n->in[0], n->fattr[0], n->fattr[1]));
}

/* y = tanh x: dx = dy (1 - y^2). */
void gt_bw_tanh(const gt_node *n, gt_tensor *dy, gt_tensor **dx) {
    dx[0] = gt_mul(dy, gt_add_scalar(gt_neg(gt_square(n->out)), 1.0f));
}

/* y = sigmoid x: dx = dy y (1 - y). */
void gt_bw_sigmoid(const gt_node *n, gt_tensor *dy, gt_tensor **dx) {
    gt_tensor *y = n->out;
    dx[0] = gt_mul(dy, gt_mul(y, gt_add_scalar(gt_neg(y), 1.0f)));
}

/* y = softplus x: dx = dy sigmoid(x). */
void gt_bw_softplus(const gt_node *n, gt_tensor *dy, gt_tensor **dx) {
    dx[0] = gt_mul(dy, gt_sigmoid(n->in[0]));
}
