/* The generator's exponential moving average: a cloned parameter table whose trainables follow
 * shadow = decay shadow + (1 - decay) current after `start` updates (a plain copy before), and
 * whose buffers (batch-norm running statistics) are copied verbatim. */
#include <string.h>

#include "core/internal.h"
#include "optim/internal.h"

/* clang reports every `omp simd` loop it leaves scalar, which all are at -O1 (sanitizer builds). */
#ifdef __clang__
#pragma clang diagnostic ignored "-Wpass-failed"
#endif

void gt_ema_init(gt_ema *e, const gt_params *src, double decay, int64_t start, gt_arena *arena) {
    GT_CHECK(decay >= 0.0 && decay <= 1.0, "ema: decay %g must lie in [0, 1]", decay);
    GT_CHECK(start >= 0, "ema: start %lld must be >= 0", (long long)start);
    gt_params_clone(&e->shadow, src, arena);
    e->decay = decay;
    e->start = start;
    e->updates = 0;
}

static void ema_blend(float *restrict s, const float *restrict c, int64_t n, double decay) {
    const float d = (float)decay, omd = (float)(1.0 - decay);
#pragma omp parallel for simd schedule(static) if (n > GT_OPTIM_PAR_MIN)
    for (int64_t i = 0; i < n; i++) s[i] = d * s[i] + omd * c[i];
}

void gt_ema_update(gt_ema *e, const gt_params *src) {
    gt_params *s = &e->shadow;
    GT_CHECK(src->n == s->n && src->numel == s->numel && src->numel_trainable == s->numel_trainable,
             "ema: the source table does not match the shadow's layout");
    int64_t nt = s->numel_trainable;
    if (e->updates < e->start)
        memcpy(s->data, src->data, (size_t)nt * sizeof(float));
    else
        ema_blend(s->data, src->data, nt, e->decay);
    memcpy(s->data + nt, src->data + nt, (size_t)(s->numel - nt) * sizeof(float));
    e->updates++;
}

void gt_ema_release(gt_ema *e) { gt_params_release(&e->shadow); }
