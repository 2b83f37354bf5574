/* The op profiler: wall time per op kind, split into forward and backward, charged at each op's
 * completion (gt_record_ is the one place every op passes through), plus named regions for the
 * work between ops. Model FLOPs come from the shapes of matmuls and convolutions. Memory is the
 * bytes the step arena hands out (memory handed back and reused counts again): in a forward,
 * since the last event (an op allocates its output, then records itself); in a backward walk,
 * during each node's rule, charged to the node's op. The peak is the arena's: the most bytes
 * live at once. */
#include <string.h>
#include <time.h>

#include "core/context.h"
#include "core/internal.h"

#define MAX_REGIONS GT_PROFILE_MAX_REGIONS

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The calling thread's profiler (in its context). */
static gt_profiler *profiler(void) { return &gt_ctx_()->prof; }

/* Bytes the calling thread's step arena has handed out since its last reset. */
static size_t arena_in_use(void) {
    gt_arena *step = gt_ctx_()->step;
    return step ? gt_arena_used(step) : 0;
}

/* Folds the step arena's high-water mark (bytes live at once) into the profile's. */
static void note_peak(gt_profiler *prof) {
    gt_arena *step = gt_ctx_()->step;
    size_t peak = step ? gt_arena_peak(step) : 0;
    if (peak > prof->arena_peak) prof->arena_peak = peak;
}

void gt_profile_enable(bool on) {
    gt_profiler *prof = profiler();
    memset(prof, 0, sizeof *prof);
    prof->on = on;
    prof->last = now_s();
    prof->arena_last = arena_in_use();
    note_peak(prof);
}

void gt_profile_step_reset_(void) {
    gt_profiler *prof = profiler();
    note_peak(prof);
    prof->arena_last = 0;
}

size_t gt_profile_step_peak(void) { return profiler()->arena_peak; }

bool gt_profile_enabled(void) { return profiler()->on; }

/* Seconds since the last event; the clock restarts. */
static double lap(gt_profiler *prof) {
    double t = now_s(), dt = t - prof->last;
    prof->last = t;
    return dt;
}

/* Step-arena bytes handed out since the last event. */
static double growth(gt_profiler *prof) {
    size_t used = arena_in_use();
    double bytes = used > prof->arena_last ? (double)(used - prof->arena_last) : 0;
    prof->arena_last = used;
    note_peak(prof);
    return bytes;
}

static void charge(gt_profile_entry *e, double dt, double flop, double bytes) {
    if (gt_in_backward_()) {
        e->bwd_s += dt;
        e->bwd_calls++;
        e->bwd_flop += flop;
    } else {
        e->fwd_s += dt;
        e->fwd_calls++;
        e->fwd_flop += flop;
        e->fwd_bytes += bytes;
    }
}

/* 2 x multiply-adds of the ops that dominate a network's cost; 0 for the others. */
static double op_flop(gt_op_id op, const gt_tensor *out, int n_in, gt_tensor *const *in) {
    if (n_in < 2 || !in[0] || !in[1]) return 0;
    switch (op) {
    case GT_OP_MATMUL: /* out [..., M, N], a holds M K per batch: K = a.numel N / out.numel */
        return 2.0 * (double)in[0]->numel * (double)out->shape[out->ndim - 1];
    case GT_OP_CONV2D: /* each output: C_in/g kh kw multiply-adds */
        return 2.0 * (double)out->numel * (double)(in[1]->numel / in[1]->shape[0]);
    case GT_OP_CONV_TRANSPOSE2D: /* each input: C_out/g kh kw */
        return 2.0 * (double)in[0]->numel * (double)(in[1]->numel / in[1]->shape[0]);
    case GT_OP_CONV2D_WEIGHT_GRAD: /* each dy element: C_in/g kh kw (out is w-shaped) */
        return 2.0 * (double)in[1]->numel * (double)(out->numel / out->shape[0]);
    default:
        return 0;
    }
}

/* op's entry, named. */
static gt_profile_entry *op_entry(gt_profiler *prof, gt_op_id op) {
    gt_profile_entry *e = &prof->op[op];
    e->name = gt_op_name((int)op);
    e->is_op = true;
    return e;
}

void gt_profile_op_(gt_op_id op, const gt_tensor *out, int n_in, gt_tensor *const *in) {
    gt_profiler *prof = profiler();
    gt_profile_entry *e = op_entry(prof, op);
    charge(e, lap(prof), op_flop(op, out, n_in, in), gt_in_backward_() ? 0 : growth(prof));
}

void gt_profile_backward_node_(gt_op_id op) {
    gt_profiler *prof = profiler();
    op_entry(prof, op)->bwd_bytes += growth(prof);
}

void gt_profile_mark(const char *region) {
    gt_profiler *prof = profiler();
    if (!prof->on) return;
    double dt = lap(prof);
    int i = 0;
    while (i < prof->n_regions && strcmp(prof->region[i].name, region) != 0) i++;
    if (i == prof->n_regions) {
        if (prof->n_regions == MAX_REGIONS) i = MAX_REGIONS - 1; /* the last region takes the rest */
        else prof->region[prof->n_regions++] = (gt_profile_entry){.name = region};
    }
    charge(&prof->region[i], dt, 0, growth(prof));
}

int gt_profile_entries(gt_profile_entry *out, int cap) {
    const gt_profiler *prof = profiler();
    int n = 0;
    for (int i = 0; i < GT_OP_COUNT && n < cap; i++)
        if (prof->op[i].fwd_calls + prof->op[i].bwd_calls > 0) out[n++] = prof->op[i];
    for (int i = 0; i < prof->n_regions && n < cap; i++) out[n++] = prof->region[i];
    return n;
}
