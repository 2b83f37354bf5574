/* Matrix products: batched matmul with transposes (its own backward: matmuls with other
 * transposes) and the linear layer built on it. */
#include "core/internal.h"

/* Rows and columns of op(t) for the last two axes. */
static void op_dims(const gt_tensor *t, bool tr, int64_t *rows, int64_t *cols) {
    int64_t r = t->shape[t->ndim - 2], c = t->shape[t->ndim - 1];
    *rows = tr ? c : r;
    *cols = tr ? r : c;
}

/* C = op(A) op(B) for A, B with equal batch dims; every matrix row-major contiguous. */
static gt_tensor *matmul_batched(gt_tensor *a, gt_tensor *b, bool ta, bool tb) {
    int nd = a->ndim;
    GT_CHECK(nd >= 2 && b->ndim == nd, "matmul: operands need equal ranks >= 2 (%d, %d)", a->ndim,
             b->ndim);
    int64_t M, K, Kb, N;
    op_dims(a, ta, &M, &K);
    op_dims(b, tb, &Kb, &N);
    GT_CHECK(K == Kb, "matmul: inner sizes differ (%lld vs %lld)", (long long)K, (long long)Kb);
    int64_t shape[GT_MAX_DIMS];
    for (int i = 0; i < nd - 2; i++) {
        GT_CHECK(a->shape[i] == b->shape[i], "matmul: batch dim %d differs", i);
        shape[i] = a->shape[i];
    }
    shape[nd - 2] = M;
    shape[nd - 1] = N;
    gt_tensor *c = gt_new_(nd, shape);
    const float *A = gt_contiguous_data_(a), *B = gt_contiguous_data_(b);
    int64_t batch = gt_shape_numel_(nd - 2, shape);
    int64_t lda = a->shape[nd - 1], ldb = b->shape[nd - 1];
    const gt_backend *be = gt_be();
    /* the context's precision picks the kernel: FP32, or bf16 operands with FP32 sums */
    gt_gemm_fn *gemm = gt_bf16_() ? be->sgemm_bf16 : be->sgemm;
    for (int64_t i = 0; i < batch; i++)
        gemm(gt_ws_(), ta, tb, M, N, K, 1.0f, A + i * M * K, lda, B + i * K * N, ldb, 0.0f,
             c->data + i * M * N, N);
    gt_tensor *in[2] = {a, b};
    gt_node *n = gt_record_(GT_OP_MATMUL, c, 2, in);
    if (n) {
        n->attr[0] = ta;
        n->attr[1] = tb;
    }
    return c;
}

gt_tensor *gt_matmul(gt_tensor *a, gt_tensor *b, bool ta, bool tb) {
    GT_CHECK(a->ndim >= 2 && b->ndim >= 2, "matmul: operands need at least 2 dims");
    if (b->ndim == 2 && a->ndim > 2 && !ta) {
        /* a shared B: fold the batch into the rows of A */
        int64_t rows[2] = {-1, a->shape[a->ndim - 1]};
        gt_tensor *c = matmul_batched(gt_reshape(a, 2, rows), b, false, tb);
        int64_t shape[GT_MAX_DIMS];
        for (int i = 0; i < a->ndim - 1; i++) shape[i] = a->shape[i];
        shape[a->ndim - 1] = c->shape[1];
        return gt_reshape(c, a->ndim, shape);
    }
    if (a->ndim != b->ndim) {
        gt_tensor **small = a->ndim < b->ndim ? &a : &b;
        const gt_tensor *big = a->ndim < b->ndim ? b : a;
        int64_t shape[GT_MAX_DIMS];
        for (int i = 0; i < big->ndim - 2; i++) shape[i] = big->shape[i];
        shape[big->ndim - 2] = (*small)->shape[(*small)->ndim - 2];
        shape[big->ndim - 1] = (*small)->shape[(*small)->ndim - 1];
        *small = gt_expand(*small, big->ndim, shape);
    }
    return matmul_batched(a, b, ta, tb);
}

gt_tensor *gt_linear(gt_tensor *x, gt_tensor *w, gt_tensor *b) {
    gt_tensor *y = gt_matmul(x, w, false, true); /* fresh: the bias goes over it */
    return b ? gt_add_into_(y, b) : y;
}

/* C = op(A) op(B); each case's gradients are matmuls of dy with the other operand. */
void gt_bw_matmul(const gt_node *n, gt_tensor *dy, gt_tensor **dx) {
    gt_tensor *a = n->in[0], *b = n->in[1];
    bool ta = n->attr[0], tb = n->attr[1];
    if (gt_wants_grad_(a)) {
        if (!ta)
            dx[0] = tb ? gt_matmul(dy, b, false, false) : gt_matmul(dy, b, false, true);
        else
            dx[0] = tb ? gt_matmul(b, dy, true, true) : gt_matmul(b, dy, false, true);
    }
    if (gt_wants_grad_(b)) {
        if (!tb)
            dx[1] = ta ? gt_matmul(a, dy, false, false) : gt_matmul(a, dy, true, false);
        else
            dx[1] = ta ? gt_matmul(dy, a, true, true) : gt_matmul(dy, a, true, false);
    }
}
