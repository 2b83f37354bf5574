/* Reverse-mode autograd over the tape. The tape is in creation order, so a backward pass is a
 * reverse walk. Backward rules are written in ops: with create_graph the walk itself is recorded
 * and its results can be differentiated again (gradient penalties, path length, unrolling). */
#include <string.h>

#include "core/context.h"
#include "core/internal.h"

/* The walk state lives in the context (context.h says who takes part in a walk). */
static gt_walk *walk_state(void) { return &gt_ctx_()->walk; }

static bool depends_in(const gt_walk *w, const gt_tensor *t) {
    return w->backward_mode ? t->requires_grad : t->walk_ == w->id;
}

static bool depends(const gt_tensor *t) { return depends_in(walk_state(), t); }

bool gt_wants_grad_(const gt_tensor *x) {
    const gt_walk *w = walk_state();
    return w->active && depends_in(w, x);
}

bool gt_in_backward_(void) { return walk_state()->active; }

uint32_t gt_walk_id_(void) {
    const gt_walk *w = walk_state();
    return w->active ? w->id : 0;
}

/* ---- handing gradients back ----
 * A walk without create_graph makes memory at every node it passes: the rule's temporaries and
 * its input gradients. Once the rule has run and its input gradients are in their slots
 * (grad_acc_, summed or taken), only what a slot holds is still needed: a gradient on its way
 * to the nodes upstream, or one gt_grad returns. Each storage counts the slots that hold it or
 * a view of it (a rule may pass dy on as dx, or a view of it); memory this walk made that no
 * slot holds goes back to the step arena after each node: the node's own temporaries, the
 * input gradients it summed or did not need, and its spent output gradient. So the backward
 * holds a few layers' gradients, not all of them. Nothing else can still read that memory: a
 * rule's views die with the rule, and without create_graph no node saves anything. With
 * create_graph every gradient is part of a new graph and stays. */
static void hold(gt_tensor *g) {
    if (g->store_) g->store_->holds++;
}

static void drop(gt_tensor *g) {
    if (g->store_) g->store_->holds--;
}

static void hand_back_if_unheld(const gt_walk *w, gt_storage_ *s) {
    if (w->hands_back && s && s->walk == w->id && s->holds == 0 && !s->released)
        gt_storage_release_(s);
}

void gt_walk_note_made_(gt_storage_ *s) {
    gt_walk *w = walk_state();
    if (!w->hands_back) return;
    if (w->n_made == w->cap_made)
        w->made = gt_grow_(w->made, &w->cap_made, 256, sizeof *w->made,
                           "the backward walk's list of memory made");
    w->made[w->n_made++] = s;
}

/* Whether t's gradient is one gt_grad returns (it must outlive the walk). */
static bool is_walk_input(const gt_walk *w, const gt_tensor *t) {
    for (int i = 0; i < w->n_inputs; i++)
        if (w->inputs[i] == t) return true;
    return false;
}

/* Gradients accumulate in grad_acc_, valid only once set during this walk (tracked by the
 * pointer being reset when a tensor is marked, or by the mark itself in backward mode). */
static void accumulate(gt_tensor *t, gt_tensor *g) {
    const gt_walk *walk = walk_state();
    GT_CHECK(gt_same_shape(t, g), "internal: gradient shape differs from its tensor's shape");
    if (walk->backward_mode && t->node == NULL) {
        if (!t->grad) {
            t->grad = gt_zeros_like(t);
            hold(t->grad); /* the leaf's, for good */
        }
        const float *src = gt_contiguous_data_(g);
        int64_t one[GT_MAX_DIMS];
        for (int i = 0; i < t->ndim; i++) one[i] = t->grad->stride[i];
        gt_be()->binary(GT_BINARY_ADD, t->grad->data, t->grad->data, one, src, one, t->ndim,
                        t->shape);
        return;
    }
    gt_tensor *old = t->grad_acc_;
    t->grad_acc_ = old ? gt_add(old, g) : g;
    hold(t->grad_acc_);
    if (old) {
        drop(old);
        hand_back_if_unheld(walk, old->store_);
    }
}

/* Marks, in tape order, every output that depends on a marked input. */
static void mark_dependents(gt_node *const *tape, size_t len) {
    const gt_walk *walk = walk_state();
    for (size_t i = 0; i < len; i++) {
        gt_node *n = tape[i];
        for (int k = 0; k < n->n_in; k++) {
            if (n->in[k]->walk_ == walk->id) {
                n->out->walk_ = walk->id;
                n->out->grad_acc_ = NULL;
                break;
            }
        }
    }
}

/* Clears grad_acc_ of every node output so a backward-mode walk starts clean. */
static void clear_accumulators(gt_node *const *tape, size_t len) {
    for (size_t i = 0; i < len; i++) tape[i]->out->grad_acc_ = NULL;
}

/* ---- activations kept as bf16 ----
 * A tensor whose storage is kept as bf16 (gt_forward_done_) is widened to float32 before a
 * rule that reads it: its header points into a float32 copy for the rule. A walk that hands
 * memory back then points the header back and returns the copy; a walk with create_graph
 * leaves the header on the copy, since the nodes it records may read it later. What a rule
 * reads is the op registry's word: its inputs' values (a first-order walk of batch norm reads
 * only what it saved), its output's values, and its saved tensors; a recording walk may read
 * anything. A copy outlives its rule by one node (the walk's spares): a network's activation
 * is read by two adjacent nodes, the next layer's convolution and its own activation's
 * backward, and the second takes the first one's copy instead of widening it again. */
struct gt_widened {
    gt_tensor *t;
    float *was;              /* t->data before */
    gt_storage_ *s;
    float *copy;             /* s's values as float32 */
};

static void release_copy(gt_storage_ *s, float *copy) {
    gt_arena_release_(gt_step_arena(), copy, s->bytes);
}

/* The spares the current node did not take go back. */
static void release_spares(gt_walk *w) {
    for (int i = 0; i < w->n_spare; i++) release_copy(w->spare[i].s, w->spare[i].copy);
    w->n_spare = 0;
}

static float *take_spare(gt_walk *w, const gt_storage_ *s) {
    for (int i = 0; i < w->n_spare; i++) {
        if (w->spare[i].s != s) continue;
        float *copy = w->spare[i].copy;
        w->spare[i] = w->spare[--w->n_spare];
        return copy;
    }
    return NULL;
}

static float *copy_for(gt_walk *w, gt_storage_ *s) {
    for (size_t i = 0; i < w->n_widened; i++)
        if (w->widened[i].s == s) return w->widened[i].copy;
    float *spare = take_spare(w, s);
    if (spare) return spare;
    int64_t n = (int64_t)(s->bytes / sizeof(float));
    float *copy = gt_step_alloc_(s->bytes);
    gt_be()->from_bf16(copy, s->half, n);
    return copy;
}

static void widen(gt_walk *w, gt_tensor *t) {
    if (!t || !gt_kept_as_bf16_(t)) return;
    gt_storage_ *s = t->store_;
    float *copy = copy_for(w, s);
    if (w->n_widened == w->cap_widened)
        w->widened = gt_grow_(w->widened, &w->cap_widened, 16, sizeof *w->widened,
                              "the backward walk's list of widened tensors");
    w->widened[w->n_widened++] = (struct gt_widened){t, t->data, s, copy};
    t->data = copy + (t->data - s->mem);
}

static void widen_what_the_rule_reads(const gt_node *n) {
    gt_walk *w = walk_state();
    w->n_widened = 0;
    bool recording = !w->hands_back; /* a walk with create_graph */
    if (recording || gt_op_first_order_reads_input_values_(n->op))
        for (int k = 0; k < n->n_in; k++) widen(w, n->in[k]);
    if (recording || gt_op_reads_output_values_(n->op)) widen(w, n->out);
    widen(w, n->saved);
    widen(w, n->saved2);
    release_spares(w);
}

/* Whether a gradient the rule returned lies in the copy (a rule may pass a view on). */
static bool copy_passed_on(const struct gt_widened *e, int n_in, gt_tensor *const *d) {
    for (int k = 0; k < n_in; k++)
        if (d[k] && d[k]->data >= e->copy && d[k]->data < e->copy + e->s->bytes / sizeof(float))
            return true;
    return false;
}

/* After the rule and the sums: headers back on their bf16-kept storage and the copies kept
 * as spares for the next node, unless the walk records (then the copies stay until the step
 * ends) or a returned gradient lies in one (then it stays too). */
static void unwiden(int n_in, gt_tensor *const *d) {
    gt_walk *w = walk_state();
    if (w->hands_back) {
        for (size_t i = w->n_widened; i-- > 0;) {
            struct gt_widened *e = &w->widened[i];
            e->t->data = e->was;
            bool last = true; /* the copy is shared by the entries of one storage */
            for (size_t j = 0; j < i; j++) last = last && w->widened[j].copy != e->copy;
            if (!last || copy_passed_on(e, n_in, d)) continue;
            if (w->n_spare < GT_WALK_SPARES)
                w->spare[w->n_spare++] = (struct gt_spare_copy){e->s, e->copy};
            else
                release_copy(e->s, e->copy);
        }
    }
    w->n_widened = 0;
}

/* After node n's rule: its output gradient dy is spent (unless gt_grad returns it), and the
 * memory the rule made that no slot holds is dead. */
static void hand_back_spent(const gt_node *n, gt_tensor *dy) {
    gt_walk *w = walk_state();
    if (!w->hands_back) return;
    if (!is_walk_input(w, n->out)) {
        drop(dy);
        hand_back_if_unheld(w, dy->store_);
    }
    for (size_t i = 0; i < w->n_made; i++) hand_back_if_unheld(w, w->made[i]);
    w->n_made = 0;
}

/* Walks nodes [0, len) backwards. The tape may grow (and move) while it runs, since a
 * create_graph walk records the backward's own ops, so each node is fetched afresh. */
static void run_walk(size_t len) {
    gt_tensor *dx[8];
    walk_state()->n_spare = 0;
    for (size_t i = len; i-- > 0;) {
        size_t now;
        gt_node *n = gt_tape_(&now)[i];
        gt_tensor *dy = n->out->grad_acc_;
        if (!dy || !depends(n->out)) continue;
        gt_check_unchanged_(n);
        gt_tensor **d = n->n_in <= 8 ? dx : gt_step_alloc_((size_t)n->n_in * sizeof *d);
        memset(d, 0, (size_t)n->n_in * sizeof *d);
        widen_what_the_rule_reads(n);
        gt_op_backward_(n->op)(n, dy, d);
        for (int k = 0; k < n->n_in; k++)
            if (d[k] && depends(n->in[k])) accumulate(n->in[k], d[k]);
        unwiden(n->n_in, d);
        if (gt_profile_enabled()) gt_profile_backward_node_(n->op);
        hand_back_spent(n, dy);
    }
    release_spares(walk_state());
}

static void seed_outputs(int n_out, gt_tensor *const *outputs, gt_tensor *const *seeds) {
    for (int j = 0; j < n_out; j++) {
        if (!depends(outputs[j])) continue;
        gt_tensor *s = seeds && seeds[j] ? seeds[j] : gt_full(outputs[j]->ndim, outputs[j]->shape, 1.0f);
        accumulate(outputs[j], s);
    }
}

void gt_grad(int n_out, gt_tensor *const *outputs, gt_tensor *const *seeds, int n_in,
             gt_tensor *const *inputs, gt_tensor **grads, bool create_graph) {
    gt_walk *walk = walk_state();
    GT_CHECK(!walk->active, "gt_grad called inside a backward walk");
    size_t len;
    gt_node *const *tape = gt_tape_(&len);
    walk->id++;
    walk->backward_mode = false;
    for (int i = 0; i < n_in; i++) {
        inputs[i]->walk_ = walk->id;
        inputs[i]->grad_acc_ = NULL;
    }
    mark_dependents(tape, len);
    bool prev = gt_grad_set(create_graph);
    walk->active = true;
    walk->hands_back = !create_graph;
    walk->n_inputs = n_in;
    walk->inputs = inputs;
    walk->n_made = 0;
    seed_outputs(n_out, outputs, seeds);
    run_walk(len);
    walk->active = walk->hands_back = false;
    walk->n_inputs = 0;
    walk->inputs = NULL;
    for (int i = 0; i < n_in; i++)
        grads[i] = inputs[i]->grad_acc_ ? inputs[i]->grad_acc_ : gt_zeros_like(inputs[i]);
    for (int i = 0; i < n_in; i++) inputs[i]->grad_acc_ = NULL;
    gt_grad_set(prev);
}

void gt_backward(gt_tensor *loss) {
    gt_walk *walk = walk_state();
    GT_CHECK(!walk->active, "gt_backward called inside a backward walk");
    GT_CHECK(loss->numel == 1, "gt_backward needs a one-element loss, got %lld elements",
             (long long)loss->numel);
    if (!loss->requires_grad) return;
    size_t len;
    gt_node *const *tape = gt_tape_(&len);
    walk->id++;
    walk->backward_mode = true;
    clear_accumulators(tape, len);
    bool prev = gt_grad_set(false);
    walk->active = walk->hands_back = true;
    walk->n_made = 0;
    seed_outputs(1, &loss, NULL);
    run_walk(len);
    walk->active = walk->hands_back = false;
    clear_accumulators(tape, len);
    gt_grad_set(prev);
}

gt_tensor *gt_detach(gt_tensor *x) {
    return gt_view_(x, x->ndim, x->shape, x->stride, 0);
}
