/* gantry: tensors, reverse-mode autograd with gradients of gradients, and fast CPU kernels
 * for training GANs. This header is the manual: one line of maths per op.
 *
 * Model of use
 *   - Parameters live in a model arena (gt_param_new); everything one step creates lives in the
 *     step arena, which gt_step_end() resets (keeping its blocks, so steady state never mallocs).
 *   - Ops run eagerly. When grad mode is on and an input requires a gradient, the op appends a node
 *     to the tape (creation order = topological order).
 *   - gt_grad(outputs, inputs, create_graph) returns d(sum of outputs . seeds)/d(inputs); with
 *     create_graph the backward's own ops are recorded, so the result can be differentiated again.
 *   - gt_backward(loss) accumulates d(loss)/d(leaf) into leaf->grad for every leaf needing grad.
 * Shapes are written [a, b, c]; broadcasting follows NumPy (align trailing dims, size 1 stretches).
 * Misuse (shape mismatch, bad axis) aborts with file:line and a message: it is a programming error. */
#ifndef GANTRY_H
#define GANTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GT_MAX_DIMS 6

/* ---- Errors from the environment --------------------------------------------------------
 * Files, configuration and data fail by returning -1 (or NULL) and filling a gt_error whose
 * message names the file, offset or key, what was expected, and a hint. */
typedef struct gt_error { char msg[1024]; } gt_error;
/* Formats the message into e (when e is not NULL) and returns -1. */
int gt_error_set(gt_error *e, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* ---- Arenas ------------------------------------------------------------------------------ */
typedef struct gt_arena gt_arena;
gt_arena *gt_arena_new(size_t block_bytes);  /* blocks of at least block_bytes, 64-byte aligned */
void gt_arena_free(gt_arena *a);
void *gt_arena_alloc(gt_arena *a, size_t bytes); /* 64-byte aligned, uninitialised */
void gt_arena_reset(gt_arena *a);                /* forget all allocations, keep the blocks */
size_t gt_arena_used(const gt_arena *a);         /* bytes handed out since the last reset */
size_t gt_arena_live(const gt_arena *a);         /* of those, the bytes not handed back yet */
size_t gt_arena_peak(const gt_arena *a);         /* the most bytes live at once since the reset */
size_t gt_arena_high_water(const gt_arena *a);   /* the most live at once since it was made */
size_t gt_arena_capacity(const gt_arena *a);     /* bytes held in blocks */

/* ---- Tensors ------------------------------------------------------------------------------
 * float32, row-major, up to GT_MAX_DIMS dims. Views (reshape of contiguous data, permute,
 * slice) share data with their base. Fields are read-only outside the library. A tensor's
 * elements live in its backend's memory: read them with gt_copy_to / gt_item / gt_get and write
 * them with gt_copy_from / gt_assign / gt_fill (the pointer is visible only to core and the
 * backends, which define GT_BACKEND_SIDE). */
typedef struct gt_node gt_node;
typedef struct gt_tensor gt_tensor;
struct gt_tensor {
#ifdef GT_BACKEND_SIDE
    float *data;                  /* the first element, in the backend's memory */
#else
    void *storage_;               /* private: the backend's memory (gt_copy_to, gt_copy_from) */
#endif
    int64_t shape[GT_MAX_DIMS];
    int64_t stride[GT_MAX_DIMS];  /* in elements */
    int ndim;
    int64_t numel;
    bool requires_grad;           /* a leaf that wants a gradient, or a result that depends on one */
    gt_tensor *grad;              /* leaves: gradient accumulated by gt_backward, or NULL */
    gt_node *node;                /* the tape node that produced it, or NULL for leaves */
    gt_tensor *grad_acc_;         /* private: gradient accumulated during a backward walk */
    uint32_t walk_;               /* private: the walk that last visited this tensor */
    struct gt_storage_ *store_;   /* private: its step-arena memory, shared with its views
                                     (NULL for memory of other arenas) */
};

/* A new tensor in the step arena (uninitialised / zeros / filled / copied from data). */
gt_tensor *gt_empty(int ndim, const int64_t *shape);
gt_tensor *gt_zeros(int ndim, const int64_t *shape);
gt_tensor *gt_full(int ndim, const int64_t *shape, float value);
gt_tensor *gt_from_data(int ndim, const int64_t *shape, const float *data);
gt_tensor *gt_scalar(float value);                        /* shape [] (ndim 0, numel 1) */
gt_tensor *gt_zeros_like(const gt_tensor *t);
/* A parameter: data and grad (zeroed) in the model arena, requires_grad = true. */
gt_tensor *gt_param_new(gt_arena *model, int ndim, const int64_t *shape);
/* A tensor in any arena without grad. */
gt_tensor *gt_tensor_new_in(gt_arena *a, int ndim, const int64_t *shape);
void gt_set_requires_grad(gt_tensor *t, bool on);  /* leaves only */
bool gt_is_contiguous(const gt_tensor *t);
bool gt_same_shape(const gt_tensor *a, const gt_tensor *b);
float gt_item(const gt_tensor *t);                  /* the value of a one-element tensor */
float gt_get(const gt_tensor *t, const int64_t *index); /* one element of any tensor */
void gt_copy_to(float *dst, const gt_tensor *t);    /* all elements in row-major order */
void gt_copy_from(gt_tensor *t, const float *src);  /* t (contiguous) = src, numel floats */
/* dst = src in place (same numel; dst contiguous; src any layout); not recorded. */
void gt_assign(gt_tensor *dst, const gt_tensor *src);
gt_tensor *gt_clone(const gt_tensor *t);            /* a contiguous copy, not recorded */
void gt_zero_grad(gt_tensor *t);                    /* t->grad = 0 if present */

/* ---- Contexts and backends ------------------------------------------------------------------
 * A context holds all runtime state: the backend (kernels and memory), the step arena, the tape,
 * grad mode, the backward walk, the profiler and the kernels' workspace. Every function below
 * acts on the calling thread's context. A thread that never calls gt_ctx_use works in the
 * process default context (backend from the environment variable GANTRY_BACKEND, else "cpu"),
 * which is not meant to be shared: each thread that runs ops at the same time as another uses a
 * context of its own. Tensors belong to the context (and backend) that made them. */
typedef struct gt_ctx gt_ctx;
/* A new context on the named backend (NULL: the default); NULL and err set when no backend has
 * that name. */
gt_ctx *gt_ctx_new(const char *backend, gt_error *err);
void gt_ctx_free(gt_ctx *ctx);            /* its step arena, tape and workspace; not its models */
/* Makes ctx the calling thread's context (NULL: the default) and returns the previous one. */
gt_ctx *gt_ctx_use(gt_ctx *ctx);
gt_ctx *gt_ctx_current(void);
const char *gt_ctx_backend(const gt_ctx *ctx);  /* "cpu", "ref" */
int gt_backend_count(void);
const char *gt_backend_name(int i);
const char *gt_backend_default(void);   /* GANTRY_BACKEND if set, else "cpu" */
/* 0 if a backend has that name, else -1 with a message listing the names. */
int gt_backend_check(const char *name, gt_error *err);

/* The precision of matmuls and convolutions (their forward, input-gradient and weight-gradient
 * products, transposed and modulated convolutions included), per context: FP32, or BF16 where
 * both operands are rounded to bf16 (nearest even) and products are summed in FP32; the result
 * is FP32, and every other op stays FP32. bf16 keeps FP32's exponent range, so gradients need no
 * loss scaling. A new context starts at FP32. Ops run at the precision set when they run: a
 * backward walk takes the precision of its own time, not the forward's. */
typedef enum { GT_PRECISION_FP32 = 0, GT_PRECISION_BF16 = 1 } gt_precision;
/* Sets the calling thread's context's precision; returns the previous one. */
gt_precision gt_precision_set(gt_precision p);
gt_precision gt_precision_get(void);
/* Whether the context's backend computes bf16 products natively (cpu: AVX512_BF16 present and
 * not turned off by GANTRY_BF16=portable); when not, bf16 runs a portable path with the same
 * rounding, slower. */
bool gt_precision_bf16_native(void);

/* Runs fn(arg) and returns its result; when memory runs out inside it (an arena block, the
 * tape) or a collective op's exchange fails (gt_all_sum), the work unwinds to here instead and
 * gt_try returns -1 with err saying what failed: the context's step is ended (its tensors are
 * gone), grad mode and the context's ranks are restored, and objects fn was building or
 * updating may be half done (free them, do not use them). Without an enclosing gt_try, such a
 * failure aborts with that message. */
int gt_try(int (*fn)(void *arg), void *arg, gt_error *err);

/* ---- Ranks and collective ops ---------------------------------------------------------------
 * Data-parallel training runs one model in several processes (ranks), each on one shard of the
 * batch. The library knows no transport: a program that runs several ranks (gantry train under
 * mpirun, built with MPI=1) fills in a gt_comm. */
typedef struct gt_comm {
    int rank, size;
    /* out [size * n] = every rank's in [n], in rank order (the same on every rank); -1 on a
     * failure (a rank that is gone), with err set. */
    int (*allgather)(void *ctx, const float *in, int64_t n, float *out, gt_error *err);
    /* Optional (NULL: gradients travel in the all-gather): block j of in [size * n] goes to rank
     * j, out [size * n] gets rank r's block for this rank in block r. With it the gradients
     * are reduced by slices: each rank adds one slice of every rank's gradient in rank order,
     * then the summed slices are all-gathered, about 2 n (K - 1) / K floats per rank and update
     * like a ring all-reduce, instead of (K - 1) n, and the same bits. */
    int (*alltoall)(void *ctx, const float *in, int64_t n, float *out, gt_error *err);
    void *ctx;
} gt_comm;

/* The ranks that the current context's collective ops span (NULL: this process alone, the
 * default); returns the previous ones. Synchronized batch norm sets them for a training step. */
const gt_comm *gt_ranks_use(const gt_comm *comm);
const gt_comm *gt_ranks(void);
/* y = the sum of x over the ranks, added in rank order, so every rank gets the same bits
 * whatever the transport (x itself when there is one rank). Every rank calls it in the same
 * order with the same shape. Its gradient is the sum of the ranks' gradients, itself an
 * all_sum, so it differentiates to any order. A failed exchange unwinds to gt_try. */
gt_tensor *gt_all_sum(gt_tensor *x);

/* ---- The step and grad mode ----------------------------------------------------------- */
/* Ends a step: forgets the tape and resets the step arena (tensors of the step die). */
void gt_step_end(void);
/* Releases the current context's step arena, tape and workspace memory (call at exit); the
 * context stays usable. */
void gt_runtime_free(void);
size_t gt_tape_length(void);
gt_arena *gt_step_arena(void);  /* the arena every op allocates from (to inspect its size) */
bool gt_grad_enabled(void);
/* Sets grad mode and returns the previous one:  bool prev = gt_grad_set(false); ... gt_grad_set(prev); */
bool gt_grad_set(bool enabled);

/* ---- Profiling ------------------------------------------------------------------------------ *
 * While on, the time between one op's completion and the next is charged to that op's kind, in
 * the forward or the backward (inside gt_grad / gt_backward) column, with the model FLOPs of the
 * matmuls and convolutions; code that is not an op (an optimizer update, data loading) closes its
 * interval with gt_profile_mark("region"). Off, it costs one branch per op. */
#define GT_PROFILE_MAX_ENTRIES 96
typedef struct gt_profile_entry {
    const char *name;                /* op name ("conv2d") or region name */
    bool is_op;
    double fwd_s, bwd_s;             /* seconds in the forward and in backward walks */
    int64_t fwd_calls, bwd_calls;
    double fwd_flop, bwd_flop;       /* matmul and convolution FLOPs (2 per multiply-add) */
    double fwd_bytes, bwd_bytes;     /* step-arena bytes handed out (outputs, saved state, tape) */
} gt_profile_entry;
void gt_profile_enable(bool on);      /* on: resets the counters and starts the clock */
bool gt_profile_enabled(void);
/* Charges the time since the last op or mark to `region` (a string literal; up to 32 regions). */
void gt_profile_mark(const char *region);
/* Copies the entries with any time, ops first in registry order, then regions; returns how
 * many (at most cap). */
int gt_profile_entries(gt_profile_entry *out, int cap);
/* The most step-arena bytes in use at once while profiling (a step's memory: its activations,
 * gradients and tape, all freed together at gt_step_end). */
size_t gt_profile_step_peak(void);

/* ---- Autograd ------------------------------------------------------------------------------- */
/* grads[i] = sum_j d<outputs[j], seeds[j]>/d inputs[i]; seeds NULL means ones. A grad is a zero
 * tensor where an input does not influence the outputs. With create_graph, the returned grads
 * are recorded on the tape and can be differentiated again; without it they are constants. */
void gt_grad(int n_out, gt_tensor *const *outputs, gt_tensor *const *seeds, int n_in,
             gt_tensor *const *inputs, gt_tensor **grads, bool create_graph);
/* leaf->grad += d loss / d leaf for every leaf with requires_grad reachable from loss ([] or [1]). */
void gt_backward(gt_tensor *loss);
/* The same values, cut from the graph. */
gt_tensor *gt_detach(gt_tensor *x);

/* ---- Random numbers: Philox 4x32-10, counter based ------------------------------------------
 * The whole state is (key, counter): a checkpoint holds it; results do not depend on threads. */
typedef struct gt_rng { uint64_t key, counter; } gt_rng;
gt_rng gt_rng_seed(uint64_t seed);
/* The generator itself on the host: out = Philox4x32-10(ctr, key) (shuffles, data draws). */
void gt_philox4x32_10(uint32_t out[4], const uint32_t ctr[4], const uint32_t key[2]);
/* The same with ctr = {counter low, counter high, 0, 0} and the 64-bit key split low first. */
void gt_philox4x32(uint32_t out[4], uint64_t counter, uint64_t key);
gt_tensor *gt_rand_uniform(gt_rng *rng, int ndim, const int64_t *shape, float lo, float hi); /* U[lo,hi) */
gt_tensor *gt_rand_normal(gt_rng *rng, int ndim, const int64_t *shape, float mean, float std); /* N(mean,std^2) */
/* A per-sample draw for one shard of a batch: rows [first, first + shape[0]) of the draw
 * gt_rand_normal would make for `total` rows (the same values), the generator then advanced
 * past that whole draw; total = 0 is gt_rand_normal. So shards that each draw their rows from
 * the same state get the whole batch's draw between them, and end in the same state. */
gt_tensor *gt_rand_normal_rows(gt_rng *rng, int64_t first, int64_t total, int ndim,
                               const int64_t *shape, float mean, float std);
void gt_fill(gt_tensor *t, float value);  /* in place, t contiguous */
void gt_fill_uniform(gt_rng *rng, gt_tensor *t, float lo, float hi);  /* in place, t contiguous */
void gt_fill_normal(gt_rng *rng, gt_tensor *t, float mean, float std);

/* ---- Elementwise ops (broadcasting) ------------------------------------------------------- */
gt_tensor *gt_add(gt_tensor *a, gt_tensor *b);      /* a + b */
gt_tensor *gt_sub(gt_tensor *a, gt_tensor *b);      /* a - b */
gt_tensor *gt_mul(gt_tensor *a, gt_tensor *b);      /* a * b */
gt_tensor *gt_div(gt_tensor *a, gt_tensor *b);      /* a / b */
gt_tensor *gt_maximum(gt_tensor *a, gt_tensor *b);  /* max(a, b); ties send the gradient to a */
gt_tensor *gt_minimum(gt_tensor *a, gt_tensor *b);  /* min(a, b); ties send the gradient to a */
gt_tensor *gt_add_scalar(gt_tensor *x, float s);    /* x + s */
gt_tensor *gt_mul_scalar(gt_tensor *x, float s);    /* x * s */
gt_tensor *gt_neg(gt_tensor *x);                    /* -x */
gt_tensor *gt_exp(gt_tensor *x);                    /* e^x */
gt_tensor *gt_log(gt_tensor *x);                    /* ln x */
gt_tensor *gt_sqrt(gt_tensor *x);                   /* x^(1/2) */
gt_tensor *gt_rsqrt(gt_tensor *x);                  /* x^(-1/2) */
gt_tensor *gt_pow(gt_tensor *x, float p);           /* x^p */
gt_tensor *gt_abs(gt_tensor *x);                    /* |x|, gradient sign(x) (0 at 0) */
gt_tensor *gt_square(gt_tensor *x);                 /* x^2 */
gt_tensor *gt_clamp(gt_tensor *x, float lo, float hi); /* min(max(x, lo), hi), gradient 1 inside [lo, hi] */
/* where(mask, a, b) = mask != 0 ? a : b; mask is a constant (no gradient), all shapes equal. */
gt_tensor *gt_where(gt_tensor *mask, gt_tensor *a, gt_tensor *b);
/* a (ref > 0 ? 1 : slope), ref a constant (no gradient flows to it): relu and leaky relu in one
 * pass, and their gradient; all shapes equal. */
gt_tensor *gt_leaky_mul(gt_tensor *a, gt_tensor *ref, float slope);
/* Constant masks (no gradient): 1.0 where the relation holds, else 0.0. */
gt_tensor *gt_greater(gt_tensor *a, gt_tensor *b);        /* a > b */
gt_tensor *gt_greater_equal(gt_tensor *a, gt_tensor *b);  /* a >= b */

/* ---- Activations ------------------------------------------------------------------------- */
gt_tensor *gt_relu(gt_tensor *x);                     /* max(x, 0) */
gt_tensor *gt_leaky_relu(gt_tensor *x, float slope);  /* x > 0 ? x : slope x */
gt_tensor *gt_tanh(gt_tensor *x);                     /* tanh x */
gt_tensor *gt_sigmoid(gt_tensor *x);                  /* 1 / (1 + e^-x) */
gt_tensor *gt_softplus(gt_tensor *x);                 /* ln(1 + e^x), stable */
gt_tensor *gt_log_sigmoid(gt_tensor *x);              /* -softplus(-x) */
gt_tensor *gt_softmax(gt_tensor *x, int axis);        /* e^x / sum_axis e^x */
gt_tensor *gt_log_softmax(gt_tensor *x, int axis);    /* x - ln sum_axis e^x */

/* ---- Reductions (axes: a list; negative counts from the end; n_axes = 0 means all) --------- */
gt_tensor *gt_sum(gt_tensor *x, int n_axes, const int *axes, bool keepdim);  /* sum over axes */
gt_tensor *gt_mean(gt_tensor *x, int n_axes, const int *axes, bool keepdim); /* sum / count */
/* max over axes; the gradient is shared equally among tied maxima */
gt_tensor *gt_max(gt_tensor *x, int n_axes, const int *axes, bool keepdim);
/* mean((x - mean x)^2) over axes, divided by count - 1 when unbiased */
gt_tensor *gt_var(gt_tensor *x, int n_axes, const int *axes, bool keepdim, bool unbiased);
gt_tensor *gt_sum_all(gt_tensor *x);   /* shape [] */
gt_tensor *gt_mean_all(gt_tensor *x);  /* shape [] */
/* Sums x down to a shape it was broadcast from (the adjoint of gt_expand). */
gt_tensor *gt_sum_to(gt_tensor *x, int ndim, const int64_t *shape);

/* ---- Normalisation (fused; x: [N, C, ...], statistics per channel over all other axes) ---- */
/* xhat = (x - mean) / sqrt(var + eps), var biased; mean and var ([C], constants) are returned
 * through the pointers that are not NULL (for running statistics). */
gt_tensor *gt_batch_norm(gt_tensor *x, float eps, gt_tensor **mean, gt_tensor **var);
/* y = xhat gamma + beta per channel, xhat as in gt_batch_norm; gamma, beta: [C]. One op (one
 * pass after the statistics), and one two-pass backward for x, gamma and beta. */
gt_tensor *gt_batch_norm_affine(gt_tensor *x, gt_tensor *gamma, gt_tensor *beta, float eps,
                                gt_tensor **mean, gt_tensor **var);
/* dx = invstd (dy - mean(dy) - xhat mean(dy xhat)), the input gradient of batch_norm;
 * dy, xhat: [N, C, ...], invstd: [C]. */
gt_tensor *gt_batch_norm_backward(gt_tensor *dy, gt_tensor *xhat, gt_tensor *invstd);

/* ---- Shape ops ------------------------------------------------------------------------------- */
gt_tensor *gt_reshape(gt_tensor *x, int ndim, const int64_t *shape); /* one entry may be -1 */
gt_tensor *gt_permute(gt_tensor *x, const int *perm);     /* y.shape[i] = x.shape[perm[i]] (a view) */
gt_tensor *gt_transpose(gt_tensor *x, int a, int b);      /* swaps two axes (a view) */
/* y = x[..., start:stop, ...] along axis (a view); negative start/stop count from the end */
gt_tensor *gt_slice(gt_tensor *x, int axis, int64_t start, int64_t stop);
gt_tensor *gt_concat(int n, gt_tensor *const *xs, int axis); /* joined along axis */
/* zero padding: before[i], after[i] elements added on each side of axis i (all ndim axes) */
gt_tensor *gt_pad(gt_tensor *x, const int64_t *before, const int64_t *after);
gt_tensor *gt_expand(gt_tensor *x, int ndim, const int64_t *shape); /* broadcast to shape (a copy) */
gt_tensor *gt_contiguous(gt_tensor *x);                   /* x itself if already contiguous */

/* ---- Linear algebra -------------------------------------------------------------------------- */
/* C = op(A) op(B), op = transpose of the last two axes when ta/tb. A: [..., M, K], B: [..., K, N]
 * with equal batch dims, or B two-dimensional and shared by every batch. */
gt_tensor *gt_matmul(gt_tensor *a, gt_tensor *b, bool ta, bool tb);
/* y = x W^T + b; x: [N, in], W: [out, in], b: [out] or NULL. */
gt_tensor *gt_linear(gt_tensor *x, gt_tensor *w, gt_tensor *b);

/* ---- Convolution and pooling (NCHW) ------------------------------------------------------------
 * conv2d: y[n,o,p,q] = sum_{i,a,b} w[o,i,a,b] x[n, g cig + i, s p - pad + d a, s q - pad + d b]
 * x: [N, C_in, H, W], w: [C_out, C_in/groups, kh, kw], y: [N, C_out, H_out, W_out],
 * H_out = (H + 2 pad - d (kh - 1) - 1) / s + 1. */
typedef struct gt_conv_opts {
    int stride[2], padding[2], dilation[2], groups;
    int output_padding[2];  /* conv_transpose2d only */
} gt_conv_opts;
gt_conv_opts gt_conv_opts_default(void); /* stride 1, padding 0, dilation 1, groups 1 */
gt_tensor *gt_conv2d(gt_tensor *x, gt_tensor *w, gt_tensor *bias, gt_conv_opts o);
/* conv_transpose2d: the adjoint of conv2d in x. x: [N, C_in, H, W], w: [C_in, C_out/groups, kh, kw],
 * y: [N, C_out, H_out, W_out], H_out = (H - 1) s - 2 pad + d (kh - 1) + output_padding + 1. */
gt_tensor *gt_conv_transpose2d(gt_tensor *x, gt_tensor *w, gt_tensor *bias, gt_conv_opts o);
/* The adjoint of conv2d in w: dw[o,i,a,b] = sum_{n,p,q} dy[n,o,p,q] x[n, g cig + i, ...],
 * for the conv with kernel kh x kw. It completes the trio closed under differentiation. */
gt_tensor *gt_conv2d_weight_grad(gt_tensor *x, gt_tensor *dy, int kh, int kw, gt_conv_opts o);
/* mean over each k x k window (stride s, zero padding pad counted in the divisor) */
gt_tensor *gt_avg_pool2d(gt_tensor *x, int k, int s, int pad);
gt_tensor *gt_max_pool2d(gt_tensor *x, int k, int s, int pad); /* max over each window */
gt_tensor *gt_upsample2x(gt_tensor *x);   /* nearest: y[n,c,p,q] = x[n,c,p/2,q/2] */
gt_tensor *gt_downsample2x(gt_tensor *x); /* box: mean of each 2x2 block */
/* y[j] = x.flat[idx[j]]; y has the given shape; idx is copied. */
gt_tensor *gt_gather(gt_tensor *x, const int64_t *idx, int ndim, const int64_t *shape);

/* ---- Ops registry (introspection) -------------------------------------------------------------- */
int gt_op_count(void);
const char *gt_op_name(int op);

#ifdef __cplusplus
}
#endif
#endif
