/* The context: every piece of runtime state that ops, autograd and the profiler share. One
 * context per thread that runs ops (gt_ctx_use); two contexts never share anything mutable, so
 * two threads can train two GANs at once, each bit-identical to the same run alone. */
#ifndef GT_CONTEXT_H
#define GT_CONTEXT_H

#include <setjmp.h>

#include "core/internal.h"

#define GT_PROFILE_MAX_REGIONS 32

/* One backward walk (autograd.c). A tensor takes part when it depends on a wanted input: for
 * gt_grad, the tensors marked `walk_ == id` by a forward sweep; for gt_backward, all with
 * requires_grad. */
#define GT_WALK_SPARES 8
typedef struct gt_walk {
    uint32_t id;
    bool active, backward_mode;
    bool hands_back;              /* gradients it has finished with go back to the step arena */
    int n_inputs;                 /* gt_grad: the tensors whose gradients it returns */
    gt_tensor *const *inputs;
    struct gt_storage_ **made;    /* memory made during the current node's rule */
    size_t n_made, cap_made;
    struct gt_widened *widened;   /* tensors kept as bf16, widened for the current node */
    size_t n_widened, cap_widened;
    struct gt_spare_copy {        /* the last node's widened copies, for the next node */
        struct gt_storage_ *s;
        float *copy;
    } spare[GT_WALK_SPARES];
    int n_spare;
} gt_walk;

/* The op profiler's counters (profile.c). */
typedef struct gt_profiler {
    bool on;
    gt_profile_entry op[GT_OP_COUNT];
    gt_profile_entry region[GT_PROFILE_MAX_REGIONS];
    int n_regions;
    double last; /* seconds at the last event */
    size_t arena_last, arena_peak; /* step-arena bytes in use at the last event, and the most */
} gt_profiler;

/* In-place writes since the step began (debug builds, GT_DEBUG): what was overwritten and when,
 * so that a backward walk can tell a node whose input changed after it was recorded. */
typedef struct gt_write {
    uint64_t when;          /* the write counter after this write */
    const float *lo, *hi;   /* the memory written, [lo, hi) */
    const char *what;       /* "assign", "adam update", ... */
} gt_write;

typedef struct gt_write_log {
    uint64_t counter;       /* in-place writes so far (never reset: nodes compare against it) */
    gt_write *w;
    size_t len, cap;
} gt_write_log;

struct gt_ctx {
    const gt_backend *be;   /* the kernels and memory of this context */
    void *ws;               /* the backend's workspace (scratch it keeps between calls), or NULL */
    gt_arena *step;         /* every tensor and node of the current step */
    gt_node **tape;         /* recorded nodes in creation order; survives steps */
    size_t tape_len, tape_cap;
    bool grad_enabled;
    gt_precision precision; /* of matmuls and convolutions (gt_precision_set) */
    gt_walk walk;
    gt_profiler prof;
    gt_write_log writes;
    const gt_comm *ranks;   /* what collective ops span (gt_ranks_use), or NULL */
    jmp_buf *unwind_jmp;    /* where a failed allocation or exchange unwinds to (gt_try), or NULL */
    char unwind_msg[1024];  /* why */
};

/* The calling thread's context (the process default when the thread has none). */
gt_ctx *gt_ctx_(void);

#endif
