/* Collective ops: all_sum, the sum of a tensor over the ranks of data-parallel training
 * (gt_ranks_use). The exchange is an all-gather of every rank's tensor, and each rank adds the
 * gathered tensors in rank order itself, so the result has the same bits on every rank and does
 * not depend on how the transport would have reduced them. */
#include "core/context.h"
#include "core/internal.h"

/* x from every rank: [size, numel], row r rank r's. A failed exchange unwinds to gt_try. */
static gt_tensor *gather_ranks(const gt_comm *comm, gt_tensor *x) {
    int64_t n = x->numel, shape[2] = {comm->size, n};
    float *mine = gt_step_alloc_((size_t)n * sizeof *mine);
    float *all = gt_step_alloc_((size_t)(n * comm->size) * sizeof *all);
    gt_copy_to(mine, x);
    gt_error err = {{0}};
    if (comm->allgather(comm->ctx, mine, n, all, &err) < 0)
        gt_unwind_("all_sum over %d ranks (%lld floats each): %s", comm->size, (long long)n,
                   err.msg);
    return gt_from_data(2, shape, all);
}

gt_tensor *gt_all_sum(gt_tensor *x) {
    const gt_comm *comm = gt_ctx_()->ranks;
    if (!comm || comm->size == 1) return x;
    bool prev = gt_grad_set(false);
    gt_tensor *all = gather_ranks(comm, x); /* [size, numel] */
    int64_t n = x->numel;
    gt_tensor *sum = gt_slice(all, 0, 0, 1);
    for (int r = 1; r < comm->size; r++) sum = gt_add(sum, gt_slice(all, 0, r, r + 1));
    gt_tensor *y = gt_new_(x->ndim, x->shape);
    gt_assign(y, gt_reshape(sum, 1, &n));
    gt_grad_set(prev);
    gt_record_(GT_OP_ALL_SUM, y, 1, &x);
    return y;
}

/* y = sum over ranks of x_r, on every rank: the gradient for rank r's x is the sum over ranks of
 * dL/dy as each rank sees it, itself an all_sum (and so on to any order, as long as every rank
 * walks the same graph). */
void gt_bw_all_sum(const gt_node *n, gt_tensor *dy, gt_tensor **dx) {
    (void)n;
    dx[0] = gt_all_sum(dy);
}
