/* The runtime: the step arena every op allocates from, the tape of recorded nodes (kept as a
 * growable array that survives steps, so steady state does not allocate), and grad mode. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/internal.h"

#define GT_STEP_BLOCK_BYTES ((size_t)64 << 20)

static gt_arena *step_arena;
static gt_node **tape;
static size_t tape_len, tape_cap;
static bool grad_enabled = true;

_Noreturn void gt_fail_(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "gantry: %s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

const gt_backend *gt_be(void) { return &gt_backend_cpu; }

gt_arena *gt_step_arena(void) {
    if (!step_arena) step_arena = gt_arena_new(GT_STEP_BLOCK_BYTES);
    return step_arena;
}

void *gt_step_alloc_(size_t bytes) { return gt_arena_alloc(gt_step_arena(), bytes); }

void gt_step_end(void) {
    tape_len = 0;
    if (step_arena) gt_arena_reset(step_arena);
}

void gt_runtime_free(void) {
    gt_arena_free(step_arena);
    step_arena = NULL;
    free(tape);
    tape = NULL;
    tape_len = tape_cap = 0;
}

size_t gt_tape_length(void) { return tape_len; }
bool gt_grad_enabled(void) { return grad_enabled; }

bool gt_grad_set(bool enabled) {
    bool prev = grad_enabled;
    grad_enabled = enabled;
    return prev;
}

gt_node *const *gt_tape_(size_t *len) {
    *len = tape_len;
    return tape;
}

static void tape_push(gt_node *n) {
    if (tape_len == tape_cap) {
        size_t cap = tape_cap ? 2 * tape_cap : 1024;
        gt_node **t = realloc(tape, cap * sizeof *t);
        GT_CHECK(t != NULL, "out of memory (tape of %zu nodes)", cap);
        tape = t;
        tape_cap = cap;
    }
    tape[tape_len++] = n;
}

gt_node *gt_record_(gt_op_id op, gt_tensor *out, int n_in, gt_tensor *const *in) {
    if (gt_profiling_) gt_profile_op_(op, out, n_in, in);
    if (!grad_enabled) return NULL;
    bool any = false;
    for (int k = 0; k < n_in; k++) any = any || (in[k] && in[k]->requires_grad);
    if (!any) return NULL;
    gt_node *n = gt_step_alloc_(sizeof *n);
    *n = (gt_node){.op = op, .n_in = n_in, .out = out};
    n->in = gt_step_alloc_((size_t)n_in * sizeof *n->in);
    for (int k = 0; k < n_in; k++) n->in[k] = in[k];
    out->node = n;
    out->requires_grad = true;
    tape_push(n);
    return n;
}
