/* The parameter table (see params.h): declared entries, then one contiguous allocation with
 * trainables first (so the optimizer walks one flat range) and buffers after. */
#include "nn/params.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine.h"

void gt_params_init(gt_params *p) { memset(p, 0, sizeof *p); }

int gt_params_declare(gt_params *p, const char *name, int ndim, const int64_t *shape,
                      gt_param_kind kind) {
    GT_CHECK(!p->finalized, "params: '%s' declared after finalize", name);
    GT_CHECK(strlen(name) < GT_PARAM_NAME_MAX, "params: name '%s' too long", name);
    GT_CHECK(gt_params_find(p, name) < 0, "params: '%s' declared twice", name);
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 32;
        p->spec = realloc(p->spec, (size_t)p->cap * sizeof *p->spec);
        GT_CHECK(p->spec != NULL, "out of memory (parameter table)");
    }
    gt_param_spec *s = &p->spec[p->n];
    memset(s, 0, sizeof *s);
    strcpy(s->name, name);
    s->ndim = ndim;
    memcpy(s->shape, shape, (size_t)ndim * sizeof *shape);
    s->kind = kind;
    s->numel = gt_shape_numel_(ndim, shape);
    return p->n++;
}

int gt_params_declare_part(gt_params *p, const char *layer, const char *part, int ndim,
                           const int64_t *shape, gt_param_kind kind) {
    char name[GT_PARAM_NAME_MAX];
    int n = snprintf(name, sizeof name, "%s.%s", layer, part);
    GT_CHECK(n > 0 && (size_t)n < sizeof name, "params: name '%s.%s' too long", layer, part);
    return gt_params_declare(p, name, ndim, shape, kind);
}

static gt_tensor *view_of(gt_arena *a, gt_tensor *base, const gt_param_spec *s) {
    return gt_view_in(a, base, s->offset, s->ndim, s->shape);
}

void gt_params_finalize(gt_params *p, gt_arena *arena) {
    GT_CHECK(!p->finalized, "params: finalized twice");
    int64_t off = 0;
    for (int pass = 0; pass < 2; pass++) {
        gt_param_kind want = pass == 0 ? GT_PARAM_TRAINABLE : GT_PARAM_BUFFER;
        for (int i = 0; i < p->n; i++) {
            if (p->spec[i].kind != want) continue;
            p->spec[i].offset = off;
            off += p->spec[i].numel;
        }
        if (pass == 0) p->numel_trainable = off;
    }
    p->numel = off;
    p->flat = gt_tensor_new_in(arena, 1, &p->numel);               /* zeroed */
    p->flat_grad = gt_tensor_new_in(arena, 1, &p->numel_trainable);
    p->t = malloc((size_t)(p->n ? p->n : 1) * sizeof *p->t);
    GT_CHECK(p->t != NULL, "out of memory (parameter tensors)");
    for (int i = 0; i < p->n; i++) {
        p->t[i] = view_of(arena, p->flat, &p->spec[i]);
        if (p->spec[i].kind == GT_PARAM_TRAINABLE) {
            p->t[i]->requires_grad = true;
            p->t[i]->grad = view_of(arena, p->flat_grad, &p->spec[i]);
        }
    }
    p->finalized = true;
}

void gt_params_clone(gt_params *dst, const gt_params *src, gt_arena *arena) {
    GT_CHECK(src->finalized, "params: clone of an unfinalized table");
    gt_params_init(dst);
    for (int i = 0; i < src->n; i++)
        gt_params_declare(dst, src->spec[i].name, src->spec[i].ndim, src->spec[i].shape,
                          src->spec[i].kind);
    gt_params_finalize(dst, arena);
    gt_assign(dst->flat, src->flat);
}

void gt_params_release(gt_params *p) {
    free(p->spec);
    free(p->t);
    memset(p, 0, sizeof *p);
}

int gt_params_find(const gt_params *p, const char *name) {
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->spec[i].name, name) == 0) return i;
    return -1;
}

void gt_params_zero_grad(gt_params *p) { gt_fill(p->flat_grad, 0.0f); }

/* Summed in double, in order, on a host copy (the step's scratch holds it). */
double gt_params_grad_norm(const gt_params *p) {
    float *g = gt_step_alloc_((size_t)p->numel_trainable * sizeof *g);
    gt_copy_to(g, p->flat_grad);
    double s = 0;
    for (int64_t i = 0; i < p->numel_trainable; i++) s += (double)g[i] * g[i];
    return sqrt(s);
}
