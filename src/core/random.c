/* Random tensors from a counter-based generator (Philox 4x32-10). The state is (key, counter);
 * a draw of n values uses counter blocks [counter, counter + ceil(n/4)) and then advances it,
 * so results depend only on the seed and the order of draws, never on threads. */
#include "core/internal.h"

gt_rng gt_rng_seed(uint64_t seed) { return (gt_rng){.key = seed, .counter = 0}; }

static void advance(gt_rng *rng, int64_t n) { rng->counter += (uint64_t)(n + 3) / 4; }

void gt_fill_uniform(gt_rng *rng, gt_tensor *t, float lo, float hi) {
    GT_CHECK(gt_is_contiguous(t), "fill_uniform: tensor must be contiguous");
    gt_note_write_(t, "fill_uniform");
    gt_be()->rand_uniform(t->data, t->numel, rng->key, rng->counter, lo, hi);
    advance(rng, t->numel);
}

void gt_fill_normal(gt_rng *rng, gt_tensor *t, float mean, float std) {
    GT_CHECK(gt_is_contiguous(t), "fill_normal: tensor must be contiguous");
    gt_note_write_(t, "fill_normal");
    gt_be()->rand_normal(t->data, t->numel, rng->key, rng->counter, mean, std);
    advance(rng, t->numel);
}

gt_tensor *gt_rand_uniform(gt_rng *rng, int ndim, const int64_t *shape, float lo, float hi) {
    gt_tensor *t = gt_new_(ndim, shape);
    gt_fill_uniform(rng, t, lo, hi);
    return t;
}

gt_tensor *gt_rand_normal(gt_rng *rng, int ndim, const int64_t *shape, float mean, float std) {
    gt_tensor *t = gt_new_(ndim, shape);
    gt_fill_normal(rng, t, mean, std);
    return t;
}

gt_tensor *gt_rand_normal_rows(gt_rng *rng, int64_t first, int64_t total, int ndim,
                               const int64_t *shape, float mean, float std) {
    if (total == 0) return gt_rand_normal(rng, ndim, shape, mean, std);
    GT_CHECK(ndim >= 1 && first >= 0 && first + shape[0] <= total,
             "rand_normal_rows: rows [%lld, %lld) are not inside a draw of %lld rows",
             (long long)first, (long long)(first + (ndim >= 1 ? shape[0] : 0)), (long long)total);
    int64_t n = gt_shape_numel_(ndim, shape), per_row = shape[0] ? n / shape[0] : 0;
    /* element i of the whole draw is block counter + i / 4, lane i % 4: start at the block
     * holding the first element wanted and drop the lanes before it */
    int64_t start = first * per_row, lead = start % 4, padded = lead + n;
    gt_tensor *all = gt_new_(1, &padded);
    gt_note_write_(all, "rand_normal_rows");
    gt_be()->rand_normal(all->data, padded, rng->key, rng->counter + (uint64_t)(start / 4), mean, std);
    advance(rng, total * per_row);
    gt_tensor *mine = gt_new_(ndim, shape);
    gt_assign(mine, gt_slice(all, 0, lead, padded));
    return mine;
}
