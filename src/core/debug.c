/* Debug builds (GT_DEBUG, on in `make SAN=1`): in-place writes are logged, and a backward walk
 * checks that no node's input or saved tensor was overwritten after the node was recorded (the
 * role of PyTorch's version counters). Tensors share memory through views, so the log keeps
 * memory ranges, not tensors: a fused Adam update of a network's flat parameters overlaps every
 * parameter view of it. */
#include "core/context.h"

#ifdef GT_DEBUG

/* The memory t reads: from its first element to its last, whatever its strides. */
static void extent(const gt_tensor *t, const float **lo, const float **hi) {
    int64_t last = 0;
    for (int i = 0; i < t->ndim; i++)
        if (t->shape[i] > 0) last += (t->shape[i] - 1) * (t->stride[i] < 0 ? 0 : t->stride[i]);
    *lo = t->data;
    *hi = t->numel > 0 ? t->data + last + 1 : t->data;
}

uint64_t gt_write_counter_(void) { return gt_ctx_()->writes.counter; }

void gt_note_write_(const gt_tensor *t, const char *what) {
    gt_write_log *log = &gt_ctx_()->writes;
    log->counter++;
    if (log->len == log->cap) {
        size_t cap = log->cap ? 2 * log->cap : 64;
        gt_write *w = realloc(log->w, cap * sizeof *w);
        GT_CHECK(w != NULL, "out of memory (in-place write log)");
        log->w = w;
        log->cap = cap;
    }
    gt_write *w = &log->w[log->len++];
    extent(t, &w->lo, &w->hi);
    w->when = log->counter;
    w->what = what;
}

static void check_one(const gt_node *n, const gt_tensor *t, const char *role, int k) {
    if (!t) return;
    const gt_write_log *log = &gt_ctx_()->writes;
    const float *lo, *hi;
    extent(t, &lo, &hi);
    /* kept as bf16: its float32 range went back to the arena, and later writes there are to
     * other tensors */
    uint64_t until = gt_kept_as_bf16_(t) ? t->store_->halved_at : UINT64_MAX;
    for (size_t i = log->len; i-- > 0;) {
        const gt_write *w = &log->w[i];
        if (w->when <= n->born) break; /* the log is in time order */
        if (w->when > until) continue;
        GT_CHECK(w->hi <= lo || hi <= w->lo,
                 "in-place modification: %s %d of op '%s' was overwritten (by %s) after the op "
                 "was recorded, and its backward needs the old values; write the new values "
                 "to a new tensor, or finish the backward first",
                 role, k, gt_op_name((int)n->op), w->what);
    }
}

/* An input of an op whose backward reads only its shape may be overwritten (a bias added over a
 * product, then an activation over both). */
void gt_check_unchanged_(const gt_node *n) {
    if (gt_op_reads_input_values_(n->op))
        for (int k = 0; k < n->n_in; k++) check_one(n, n->in[k], "input", k);
    check_one(n, n->saved, "saved tensor", 0);
    check_one(n, n->saved2, "saved tensor", 1);
}

/* Called at gt_step_end: the step's nodes are gone, so are the writes they could see. */
void gt_write_log_clear_(void) { gt_ctx_()->writes.len = 0; }

#else
typedef int gt_debug_unused_; /* ISO C: a translation unit must not be empty */
#endif
