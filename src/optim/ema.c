/* The generator's exponential moving average: a cloned parameter table whose trainables follow
 * shadow = decay shadow + (1 - decay) current after `start` updates (a plain copy before), and
 * whose buffers (batch-norm running statistics) are copied verbatim. */
#include <string.h>

#include "core/engine.h"
#include "optim/internal.h"

void gt_ema_init(gt_ema *e, const gt_params *src, double decay, int64_t start, gt_arena *arena) {
    GT_CHECK(decay >= 0.0 && decay <= 1.0, "ema: decay %g must lie in [0, 1]", decay);
    GT_CHECK(start >= 0, "ema: start %lld must be >= 0", (long long)start);
    gt_params_clone(&e->shadow, src, arena);
    e->decay = decay;
    e->start = start;
    e->updates = 0;
}

/* Views of the trainable and buffer ranges of a table's flat storage (step arena). */
static gt_tensor *trainables(const gt_params *p) {
    return gt_view_in(gt_step_arena(), p->flat, 0, 1, &p->numel_trainable);
}
static gt_tensor *buffers(const gt_params *p) {
    int64_t n = p->numel - p->numel_trainable;
    return gt_view_in(gt_step_arena(), p->flat, p->numel_trainable, 1, &n);
}

void gt_ema_update(gt_ema *e, const gt_params *src) {
    gt_params *s = &e->shadow;
    GT_CHECK(src->n == s->n && src->numel == s->numel && src->numel_trainable == s->numel_trainable,
             "ema: the source table does not match the shadow's layout");
    if (e->updates < e->start)
        gt_assign(trainables(s), trainables(src));
    else
        gt_lerp_(trainables(s), trainables(src), (float)e->decay, (float)(1.0 - e->decay));
    gt_assign(buffers(s), buffers(src));
    e->updates++;
}

void gt_ema_release(gt_ema *e) { gt_params_release(&e->shadow); }
