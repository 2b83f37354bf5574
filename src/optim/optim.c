/* The optimizer object shared by Adam and SGD: configuration checks, state in the model arena,
 * the fused step and the differentiable step dispatched by type, and the graph state (step-arena
 * copies of the moments that an unrolled GAN advances K times). */
#include <string.h>

#include "core/engine.h"
#include "optim/internal.h"

static void check_cfg(const gt_optim_cfg *c) {
    GT_CHECK(c->type == GT_OPTIM_ADAM || c->type == GT_OPTIM_SGD, "optim: unknown type %d",
             (int)c->type);
    GT_CHECK(c->lr >= 0.0 && c->weight_decay >= 0.0,
             "optim: lr %g and weight_decay %g must be >= 0", c->lr, c->weight_decay);
    if (c->type == GT_OPTIM_ADAM) {
        GT_CHECK(c->beta1 >= 0.0 && c->beta1 < 1.0 && c->beta2 >= 0.0 && c->beta2 < 1.0,
                 "optim: Adam betas (%g, %g) must lie in [0, 1)", c->beta1, c->beta2);
        GT_CHECK(c->eps >= 0.0, "optim: Adam eps %g must be >= 0", c->eps);
    } else {
        GT_CHECK(c->momentum >= 0.0, "optim: SGD momentum %g must be >= 0", c->momentum);
    }
    GT_CHECK(c->schedule >= GT_SCHEDULE_CONSTANT && c->schedule <= GT_SCHEDULE_COSINE,
             "optim: unknown schedule %d", (int)c->schedule);
    GT_CHECK(c->schedule == GT_SCHEDULE_CONSTANT || c->total_steps > 0,
             "optim: a decaying schedule needs total_steps > 0 (got %lld)",
             (long long)c->total_steps);
}

static gt_tensor *zeroed_state(gt_arena *arena, int64_t n) {
    return gt_tensor_new_in(arena, 1, &n);
}

void gt_optim_init(gt_optim *o, gt_params *p, const gt_optim_cfg *cfg, gt_arena *arena) {
    GT_CHECK(p->finalized, "optim: the parameter table is not finalized");
    check_cfg(cfg);
    memset(o, 0, sizeof *o);
    o->cfg = *cfg;
    o->params = p;
    o->m = zeroed_state(arena, p->numel_trainable);
    if (cfg->type == GT_OPTIM_ADAM) o->v = zeroed_state(arena, p->numel_trainable);
}

void gt_optim_step(gt_optim *o) {
    double lr = gt_optim_lr(o);
    if (o->cfg.type == GT_OPTIM_ADAM)
        gt_adam_step_(o, lr);
    else
        gt_sgd_step_(o, lr);
    o->step++;
}

/* Step-arena copies of state[spec's range] for every trainable entry; NULL for buffers. */
static gt_tensor **state_tensors(const gt_params *p, gt_tensor *state) {
    gt_arena *step = gt_step_arena();
    gt_tensor **t = gt_arena_alloc(step, (size_t)(p->n ? p->n : 1) * sizeof *t);
    for (int i = 0; i < p->n; i++) {
        const gt_param_spec *s = &p->spec[i];
        t[i] = s->kind == GT_PARAM_TRAINABLE
                   ? gt_clone(gt_view_in(step, state, s->offset, s->ndim, s->shape))
                   : NULL;
    }
    return t;
}

void gt_optim_graph_state_init(gt_optim_graph_state *s, const gt_optim *o) {
    s->m = state_tensors(o->params, o->m);
    s->v = o->v ? state_tensors(o->params, o->v) : NULL;
    s->step = o->step;
}

static void check_entry(const gt_param_spec *s, const gt_tensor *t, const char *what) {
    GT_CHECK(t != NULL, "optim: no %s tensor for '%s'", what, s->name);
    bool ok = t->ndim == s->ndim;
    for (int d = 0; ok && d < s->ndim; d++) ok = t->shape[d] == s->shape[d];
    GT_CHECK(ok, "optim: the %s tensor of '%s' does not have the entry's shape", what, s->name);
}

void gt_optim_step_graph(const gt_optim *o, gt_optim_graph_state *s, gt_tensor *const *params,
                         gt_tensor *const *grads, gt_tensor **new_params) {
    const gt_params *p = o->params;
    double lr = gt_optim_lr_at_(&o->cfg, s->step);
    for (int i = 0; i < p->n; i++) {
        const gt_param_spec *spec = &p->spec[i];
        check_entry(spec, params[i], "parameter");
        if (spec->kind == GT_PARAM_BUFFER) {
            new_params[i] = params[i];
            continue;
        }
        check_entry(spec, grads[i], "gradient");
        if (o->cfg.type == GT_OPTIM_ADAM)
            new_params[i] = gt_adam_step_graph_(&o->cfg, s->step, lr, params[i], grads[i],
                                                &s->m[i], &s->v[i]);
        else
            new_params[i] = gt_sgd_step_graph_(&o->cfg, s->step, lr, params[i], grads[i], &s->m[i]);
    }
    s->step++;
}
