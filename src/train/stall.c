/* Dead training: a network whose trainable parameters stopped changing (stall.h). */
#include "train/stall.h"

#include <stdio.h>

#include "core/engine.h"

/* G's, D's and D2's parameter tables, with names for messages; returns how many. */
static int watched(gt_trainer *t, gt_params **p, const char **names) {
    p[0] = &t->g.params, names[0] = "G";
    p[1] = &t->d.params, names[1] = "D";
    p[2] = &t->d2.params, names[2] = "D2";
    return t->has_d2 ? 3 : 2;
}

/* The trainable part of a parameter table's flat storage (a step-arena view). */
static gt_tensor *trainables(gt_params *p) {
    return gt_view_in(gt_step_arena(), p->flat, 0, 1, &p->numel_trainable);
}

static void save(gt_stall_watch *w, gt_trainer *t) {
    gt_params *p[3];
    const char *names[3];
    for (int i = 0, n = watched(t, p, names); i < n; i++) gt_assign(w->saved[i], trainables(p[i]));
    w->saved_at = t->step;
}

void gt_stall_watch_init(gt_stall_watch *w, gt_trainer *t, int64_t window) {
    *w = (gt_stall_watch){.window = window};
    if (window <= 0) return;
    gt_params *p[3];
    const char *names[3];
    w->n = watched(t, p, names);
    for (int i = 0; i < w->n; i++) w->saved[i] = gt_tensor_new_in(t->arena, 1, &p[i]->numel_trainable);
    save(w, t);
    gt_step_end();
}

/* Whether a equals b bit for bit (both finite: the trainer checked them): sum |a - b| is 0
 * exactly when every difference is. */
static bool unchanged(gt_tensor *a, gt_tensor *b) {
    bool prev = gt_grad_set(false);
    float moved = gt_item(gt_sum_all(gt_abs(gt_sub(a, b))));
    gt_grad_set(prev);
    return moved == 0.0f;
}

int gt_stall_watch_step(gt_stall_watch *w, gt_trainer *t, char *msg, size_t cap) {
    if (w->window <= 0 || t->step - w->saved_at < w->window) return 0;
    gt_params *p[3];
    const char *names[3];
    int stalled = -1;
    watched(t, p, names);
    for (int i = 0; i < w->n && stalled < 0; i++)
        if (unchanged(trainables(p[i]), w->saved[i])) stalled = i;
    save(w, t);
    gt_step_end();
    if (stalled < 0) return 0;
    snprintf(msg, cap, "%s's parameters have not changed by a single bit over the last %lld steps "
             "(health.stall_window): training is dead (vanished gradients or a saturated "
             "optimizer); try other learning rates or optimizer settings, or a gradient penalty",
             names[stalled], (long long)w->window);
    return 1;
}
