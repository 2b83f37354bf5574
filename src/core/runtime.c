/* The step: the arena every op allocates from, the tape of recorded nodes (kept as a growable
 * array that survives steps, so steady state does not allocate), and grad mode; all of it in
 * the calling thread's context. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/context.h"
#include "core/internal.h"

#define GT_STEP_BLOCK_BYTES ((size_t)64 << 20)

_Noreturn void gt_fail_(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "gantry: %s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

gt_arena *gt_step_arena(void) {
    gt_ctx *c = gt_ctx_();
    if (!c->step) c->step = gt_arena_new(GT_STEP_BLOCK_BYTES);
    return c->step;
}

void *gt_step_alloc_(size_t bytes) { return gt_arena_alloc(gt_step_arena(), bytes); }

void gt_step_end(void) {
    gt_ctx *c = gt_ctx_();
    c->tape_len = 0;
    gt_write_log_clear_();
    if (c->prof.on) gt_profile_step_reset_(); /* reads the step's peak before the reset */
    if (c->step) gt_arena_reset(c->step);
}

size_t gt_tape_length(void) { return gt_ctx_()->tape_len; }
bool gt_grad_enabled(void) { return gt_ctx_()->grad_enabled; }

bool gt_grad_set(bool enabled) {
    gt_ctx *c = gt_ctx_();
    bool prev = c->grad_enabled;
    c->grad_enabled = enabled;
    return prev;
}

gt_node *const *gt_tape_(size_t *len) {
    gt_ctx *c = gt_ctx_();
    *len = c->tape_len;
    return c->tape;
}

void *gt_grow_(void *arr, size_t *cap, size_t min_cap, size_t elem, const char *what) {
    size_t n = *cap ? 2 * *cap : min_cap;
    void *grown = realloc(arr, n * elem);
    if (!grown) gt_oom_(n * elem, what);
    *cap = n;
    return grown;
}

static void tape_push(gt_ctx *c, gt_node *n) {
    if (c->tape_len == c->tape_cap)
        c->tape = gt_grow_(c->tape, &c->tape_cap, 1024, sizeof *c->tape, "the tape");
    c->tape[c->tape_len++] = n;
}

/* The node that records op, or NULL when nothing needs its gradient. */
static gt_node *record(gt_ctx *c, gt_op_id op, gt_tensor *out, int n_in, gt_tensor *const *in) {
    if (!c->grad_enabled) return NULL;
    bool any = false;
    for (int k = 0; k < n_in; k++) any = any || (in[k] && in[k]->requires_grad);
    if (!any) return NULL;
    gt_node *n = gt_step_alloc_(sizeof *n);
    *n = (gt_node){.op = op, .n_in = n_in, .out = out, .born = gt_write_counter_()};
    n->in = gt_step_alloc_((size_t)n_in * sizeof *n->in);
    for (int k = 0; k < n_in; k++) n->in[k] = in[k];
    out->node = n;
    out->requires_grad = true;
    tape_push(c, n);
    return n;
}

gt_node *gt_record_(gt_op_id op, gt_tensor *out, int n_in, gt_tensor *const *in) {
    gt_ctx *c = gt_ctx_();
    gt_node *n = record(c, op, out, n_in, in);
    if (c->prof.on) gt_profile_op_(op, out, n_in, in); /* after the node: its bytes are the op's */
    return n;
}
