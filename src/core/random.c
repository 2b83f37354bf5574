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
