/* The state at the start of a step, kept so that a failed step can be undone (snapshot.h), and
 * the finiteness check of the state a step leaves. */
#include "train/snapshot.h"

#include <stdlib.h>

#include "core/engine.h"

enum { MAX_NETS = 3 };

struct gt_step_snapshot {
    gt_tensor *flat[MAX_NETS];    /* parameters and buffers of G, D, D2 */
    gt_tensor *m[MAX_NETS], *v[MAX_NETS];
    int64_t opt_step[MAX_NETS];
    gt_rng rng, tricks_rng, style_rng;
    gt_loader_state loader;
    double pl_mean;
    gt_augment_spec augment;      /* ADA's p and its window */
    int64_t images;
    int grow_level;
};

typedef struct {
    gt_params *params;
    gt_optim *opt;
} net_state;

/* G, D and D2 (when there is one) with their optimizers; returns how many. */
static int nets_of(gt_trainer *t, net_state *out) {
    out[0] = (net_state){&t->g.params, &t->opt_g};
    out[1] = (net_state){&t->d.params, &t->opt_d};
    if (t->has_d2) out[2] = (net_state){&t->d2.params, &t->opt_d2};
    return t->has_d2 ? 3 : 2;
}

static gt_tensor *copy_room(gt_arena *arena, const gt_tensor *like) {
    return like ? gt_tensor_new_in(arena, 1, &like->numel) : NULL;
}

gt_step_snapshot *gt_step_snapshot_new(gt_trainer *t) {
    gt_step_snapshot *s = calloc(1, sizeof *s);
    GT_CHECK(s, "out of memory (step snapshot)");
    net_state nets[MAX_NETS];
    for (int i = 0, n = nets_of(t, nets); i < n; i++) {
        s->flat[i] = copy_room(t->arena, nets[i].params->flat);
        s->m[i] = copy_room(t->arena, nets[i].opt->m);
        s->v[i] = copy_room(t->arena, nets[i].opt->v);
    }
    return s;
}

void gt_step_snapshot_free(gt_step_snapshot *s) { free(s); }

static void copy_if(gt_tensor *dst, const gt_tensor *src) {
    if (dst && src) gt_assign(dst, src);
}

void gt_step_snapshot_take(gt_step_snapshot *s, gt_trainer *t) {
    net_state nets[MAX_NETS];
    for (int i = 0, n = nets_of(t, nets); i < n; i++) {
        gt_assign(s->flat[i], nets[i].params->flat);
        copy_if(s->m[i], nets[i].opt->m);
        copy_if(s->v[i], nets[i].opt->v);
        s->opt_step[i] = nets[i].opt->step;
    }
    s->rng = t->rng;
    s->tricks_rng = t->gan.rng;
    s->style_rng = t->style_rng;
    if (t->loader) s->loader = gt_loader_state_get(t->loader);
    s->pl_mean = t->gan.pl_mean;
    s->augment = t->gan.augment;
    s->images = t->images;
    s->grow_level = t->grow_level;
}

void gt_step_snapshot_restore(const gt_step_snapshot *s, gt_trainer *t) {
    net_state nets[MAX_NETS];
    for (int i = 0, n = nets_of(t, nets); i < n; i++) {
        gt_assign(nets[i].params->flat, s->flat[i]);
        copy_if(nets[i].opt->m, s->m[i]);
        copy_if(nets[i].opt->v, s->v[i]);
        nets[i].opt->step = s->opt_step[i];
    }
    t->rng = s->rng;
    t->gan.rng = s->tricks_rng;
    t->style_rng = s->style_rng; /* G's style layers read it through a pointer */
    if (t->loader) gt_loader_state_set(t->loader, s->loader);
    t->gan.pl_mean = s->pl_mean;
    t->gan.augment = s->augment;
    t->images = s->images;
    t->grow_level = s->grow_level;
}

const char *gt_trainer_nonfinite_state(gt_trainer *t) {
    static const char *const what[MAX_NETS][3] = {
        {"G's parameters or buffers", "G's optimizer state (m)", "G's optimizer state (v)"},
        {"D's parameters or buffers", "D's optimizer state (m)", "D's optimizer state (v)"},
        {"D2's parameters or buffers", "D2's optimizer state (m)", "D2's optimizer state (v)"}};
    net_state nets[MAX_NETS];
    for (int i = 0, n = nets_of(t, nets); i < n; i++) {
        if (!gt_all_finite_(nets[i].params->flat)) return what[i][0];
        if (nets[i].opt->m && !gt_all_finite_(nets[i].opt->m)) return what[i][1];
        if (nets[i].opt->v && !gt_all_finite_(nets[i].opt->v)) return what[i][2];
    }
    return NULL;
}
