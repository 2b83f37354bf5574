/* The fused in-place updates of optimizers and EMA (engine.h), through the backend table. */
#include "core/internal.h"

#include <math.h>

static void check_flat(const char *what, const gt_tensor *a, const gt_tensor *b) {
    GT_CHECK(gt_is_contiguous(a) && gt_is_contiguous(b) && a->numel == b->numel,
             "%s: tensors must be contiguous with equal sizes (%lld, %lld)", what,
             (long long)a->numel, (long long)b->numel);
}

void gt_adam_update_(gt_tensor *x, gt_tensor *m, gt_tensor *v, const gt_tensor *g,
                     const gt_adam_coef *k) {
    check_flat("adam update", x, m);
    check_flat("adam update", x, v);
    check_flat("adam update", x, g);
    gt_note_write_(x, "adam update");
    gt_note_write_(m, "adam update");
    gt_note_write_(v, "adam update");
    gt_be()->adam_update(x->data, m->data, v->data, g->data, x->numel, k->b1, k->omb1, k->b2,
                         k->omb2, k->wd, k->eps, k->bc2_sqrt, k->neg_step);
}

void gt_sgd_update_(gt_tensor *x, gt_tensor *buf, const gt_tensor *g, const gt_sgd_coef *k) {
    check_flat("sgd update", x, buf);
    check_flat("sgd update", x, g);
    gt_note_write_(x, "sgd update");
    gt_note_write_(buf, "sgd update");
    gt_be()->sgd_update(x->data, buf->data, g->data, x->numel, k->wd, k->carry, k->neg_lr);
}

void gt_lerp_(gt_tensor *s, const gt_tensor *c, float a, float b) {
    check_flat("lerp", s, c);
    gt_note_write_(s, "lerp");
    gt_be()->lerp(s->data, c->data, s->numel, a, b);
}

/* The sum of x's n elements into one float, downloaded. */
static float sum_of(const float *x, int64_t n, gt_tensor *scratch) {
    float s;
    gt_be()->reduce_sum(scratch->data, x, 1, n, 1);
    gt_be()->download(&s, scratch->data, sizeof s);
    return s;
}

bool gt_all_finite_(const gt_tensor *x) {
    GT_CHECK(gt_is_contiguous(x), "all_finite: the tensor must be contiguous");
    if (x->numel == 0) return true;
    const int64_t one = 1;
    gt_tensor *sum = gt_new_(1, &one);
    if (isfinite(sum_of(x->data, x->numel, sum))) return true;
    /* x * 0 is 0 for a finite x and NaN for an infinity or a NaN: its sum is exact */
    gt_tensor *zeros = gt_new_like_(x);
    gt_be()->unary(GT_UNARY_MUL_SCALAR, zeros->data, x->data, x->numel, 0.0f, 0.0f);
    return sum_of(zeros->data, x->numel, sum) == 0.0f;
}
