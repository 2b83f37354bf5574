/* Private core declarations: tape nodes, the op registry, recording, and small helpers shared
 * by the op files. Nothing here is part of the public API. */
#ifndef GT_INTERNAL_H
#define GT_INTERNAL_H

#include <stdio.h>
#include <stdlib.h>

/* Core and the backends see a tensor's memory pointer (gantry.h hides it from everyone else). */
#ifndef GT_BACKEND_SIDE
#define GT_BACKEND_SIDE 1
#endif
#include "core/backend.h"
#include "core/engine.h"
#include "gantry.h"

typedef enum {
#define GT_OP(id, name, arity, bw) GT_OP_##id,
#include "core/ops.def"
#undef GT_OP
    GT_OP_COUNT
} gt_op_id;

#define GT_NODE_MAX_IN 2

/* One tape entry: the op, its inputs and output, and the attributes its backward needs. */
struct gt_node {
    gt_op_id op;
    int n_in;
    gt_tensor **in;          /* n_in inputs (in the step arena) */
    gt_tensor *out;
    gt_tensor *saved;        /* a constant the backward needs (a mask), or NULL */
    gt_tensor *saved2;       /* a second one (batch_norm_affine's invstd), or NULL */
    const int64_t *idx;      /* gather/scatter indices, or NULL */
    int64_t attr[16];        /* integer attributes (axes, paddings, geometry, ...) */
    float fattr[2];          /* scalar attributes */
    uint64_t born;           /* the in-place write counter when recorded (debug builds) */
};

/* A backward rule: given the node and dy (the output's gradient, same shape), sets dx[k] for
 * every input k that needs a gradient (gt_wants_grad_), in ops so that it is recorded when
 * create_graph is on. dx[k] has exactly the shape of in[k]. */
typedef void (*gt_backward_fn)(const gt_node *n, gt_tensor *dy, gt_tensor **dx);
#define GT_OP(id, name, arity, bw) void bw(const gt_node *n, gt_tensor *dy, gt_tensor **dx);
#include "core/ops.def"
#undef GT_OP
gt_backward_fn gt_op_backward_(gt_op_id op);
/* What an op's backward rule reads besides dy: whether it reads its inputs' values (not only
 * their shapes), and whether it reads its output's values. Conservative: true unless the rule
 * is known not to; in-place writes (gt_add_into_, gt_leaky_relu_over_) and the debug build's
 * overwrite check rely on these. */
bool gt_op_reads_input_values_(gt_op_id op);
bool gt_op_reads_output_values_(gt_op_id op);
/* Whether the rule reads its inputs' values in a walk without create_graph. */
bool gt_op_first_order_reads_input_values_(gt_op_id op);

/* The calling thread's kernel table, and its workspace (the first argument of sgemm and the
 * convolutions). */
const gt_backend *gt_be(void);
void *gt_ws_(void);
/* Whether the calling thread's context runs matmuls and convolutions in bf16 (gt_precision_set). */
bool gt_bf16_(void);

/* ---- failures inside ops (context.c) ---- */
/* Unwinds to the innermost gt_try of the context with the message, or aborts with it when
 * there is none. Never call it inside an OpenMP region. */
_Noreturn void gt_unwind_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Memory for `what` (bytes) could not be had: gt_unwind_ with a message that says so. */
_Noreturn void gt_oom_(size_t bytes, const char *what);

/* ---- runtime (runtime.c) ---- */
/* Records a node for `out` if grad mode is on and an input requires grad; returns the node
 * (so the caller can set attributes) or NULL when nothing was recorded. */
gt_node *gt_record_(gt_op_id op, gt_tensor *out, int n_in, gt_tensor *const *in);
gt_node *const *gt_tape_(size_t *len);
/* arr (of *cap elements of elem bytes) reallocated to twice *cap elements (min_cap the first
 * time), *cap updated; running out of memory unwinds with a message naming `what`. */
void *gt_grow_(void *arr, size_t *cap, size_t min_cap, size_t elem, const char *what);
/* Hands [p, p + bytes) back to arena a (p and bytes as gt_arena_alloc gave and took them);
 * later allocations reuse it. Memory must not be read after its release. */
void gt_arena_release_(gt_arena *a, void *p, size_t bytes);

/* ---- in-place writes (debug.c): checked in builds with GT_DEBUG, free otherwise ---- */
#ifdef GT_DEBUG
/* Notes that t's memory is being overwritten in place (what: the writer, a string literal). */
void gt_note_write_(const gt_tensor *t, const char *what);
/* Aborts when an input or saved tensor of n was overwritten after n was recorded. */
void gt_check_unchanged_(const gt_node *n);
uint64_t gt_write_counter_(void);
void gt_write_log_clear_(void);
#else
#define gt_write_log_clear_() ((void)0)
#define gt_note_write_(t, what) ((void)(t), (void)(what))
#define gt_check_unchanged_(n) ((void)(n))
#define gt_write_counter_() ((uint64_t)0)
#endif

/* ---- elementwise (ops_ewise.c) ---- */
/* y + b written over y's memory, b broadcast to y's shape; the result is a new tensor on that
 * memory, recorded as an add (whose backward reads no values). For the fresh output of a
 * convolution or matmul, which nothing else reads (their backwards need their inputs, not their
 * outputs): the step then holds one buffer where gt_add would hold two. y must not be read
 * again. */
gt_tensor *gt_add_into_(gt_tensor *y, gt_tensor *b);

/* ---- profiling (profile.c) ---- */
/* Charges the time since the last event to op (gt_record_ calls it for every op), and in a
 * forward the step-arena growth too. */
void gt_profile_op_(gt_op_id op, const gt_tensor *out, int n_in, gt_tensor *const *in);
/* Charges the step-arena growth of one node's backward rule (its ops and gradient sums) to the
 * node's op: a backward's memory belongs to the op being differentiated. */
void gt_profile_backward_node_(gt_op_id op);
void gt_profile_step_reset_(void); /* gt_step_end: the step arena starts empty again */

/* ---- autograd (autograd.c) ---- */
bool gt_in_backward_(void);  /* a backward walk is running */
uint32_t gt_walk_id_(void);  /* the running backward walk's id, or 0 outside walks */
/* gt_new_: s was made for a tensor; a walk that hands memory back tracks it (autograd.c). */
void gt_walk_note_made_(struct gt_storage_ *s);
/* True while a backward walk runs and input x should receive a gradient. */
bool gt_wants_grad_(const gt_tensor *x);

/* ---- tensors (tensor.c) ---- */
/* The step-arena memory of a tensor made by gt_new_, shared by every view of it, with what the
 * backward walk needs to hand it back before the step ends (autograd.c): memory the walk made
 * for a gradient, once no gradient slot holds it. */
typedef struct gt_storage_ {
    float *mem;       /* the data, as gt_new_ took it */
    size_t bytes;
    uint32_t walk;    /* the backward walk that made it, 0 when made outside a walk */
    int32_t holds;    /* gradient slots (grad_acc_) of that walk holding it or a view of it */
    bool released;    /* handed back to the arena */
    uint16_t *half;   /* kept as bf16 (gt_forward_done_): mem's range is released, and a
                         tensor whose data lies in it is widened from here before a rule
                         reads it (autograd.c) */
    uint64_t halved_at; /* the in-place write counter then (debug builds) */
} gt_storage_;
/* Whether t's values now live only in its storage's bf16 copy. */
bool gt_kept_as_bf16_(const gt_tensor *t);
/* Hands memory s (of a tensor and all its views) back to the step arena: none of them may be
 * read again. */
void gt_storage_release_(gt_storage_ *s);

gt_tensor *gt_new_(int ndim, const int64_t *shape);          /* contiguous, step arena */
gt_tensor *gt_new_like_(const gt_tensor *t);                  /* contiguous, same shape */
gt_tensor *gt_view_(gt_tensor *base, int ndim, const int64_t *shape, const int64_t *stride,
                    int64_t offset);                          /* header sharing base's data */
void gt_set_contiguous_strides_(gt_tensor *t);
int gt_norm_axis_(int axis, int ndim);                        /* negative axes from the end */
/* The contiguous data of x: x->data if contiguous, else a fresh copy (not recorded). */
const float *gt_contiguous_data_(const gt_tensor *x);

/* ---- op helpers shared across op files ---- */
gt_tensor *gt_mul_const_(gt_tensor *x, gt_tensor *mask);  /* x * mask, mask constant */
gt_tensor *gt_conv_transpose2d_to_(gt_tensor *x, gt_tensor *w, gt_conv_opts o, int64_t h_out,
                                   int64_t w_out);
gt_tensor *gt_scatter_add_(gt_tensor *y, const int64_t *idx, int ndim, const int64_t *shape);
gt_tensor *gt_avg_pool2d_adjoint_(gt_tensor *y, const gt_node *pool);
gt_tensor *gt_sum_pool2x_(gt_tensor *x);
gt_tensor *gt_sum_axes_mask_(gt_tensor *x, unsigned axis_mask, bool keepdim);

#endif
