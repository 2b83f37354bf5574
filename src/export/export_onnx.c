/* gt_export_onnx: the graph's inputs, G described through the ONNX emitters (emit.h), the
 * nearest upsampling a progressive G gets while it grows (as gantry sample does), and the file. */
#include <stdio.h>
#include <string.h>

#include "export/emit.h"
#include "export/export.h"

static void info_of(const gt_trainer *t, gt_export_info *info) {
    memset(info, 0, sizeof *info);
    info->z_dim = t->cfg.g_z_dim;
    info->n_classes = t->conditional ? t->n_classes : 0;
    info->truncation = t->style;
    info->points = t->h == 1 && t->w == 1;
    info->c = t->c;
    info->h = t->h;
    info->w = t->w;
    snprintf(info->family, sizeof info->family, "%s", t->g.family->name);
}

/* The graph inputs: z, and label and psi when G takes them. */
static gt_sym declare_inputs(ox_ctx *c, const gt_export_info *info) {
    ox_shape zs = {.ndim = 2, .d = {OX_BATCH, info->z_dim}};
    gt_sym z = ox_input(c->g, "z", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, zs);
    ox_shape per_sample = {.ndim = 1, .d = {OX_BATCH}}, one = {.ndim = 1, .d = {1}};
    c->labels = info->n_classes > 0
                    ? ox_input(c->g, "label", ONNX__TENSOR_PROTO__DATA_TYPE__INT64, per_sample)
                    : -1;
    c->psi = info->truncation ? ox_input(c->g, "psi", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, one) : -1;
    return z;
}

static ox_noise noise_kind(gt_export_noise n) {
    switch (n) {
    case GT_EXPORT_NOISE_SEEDED: return OX_NOISE_SEEDED;
    case GT_EXPORT_NOISE_INPUT: return OX_NOISE_INPUT;
    case GT_EXPORT_NOISE_CONST: return OX_NOISE_CONST;
    }
    return OX_NOISE_CONST;
}

static int write_graph(gt_trainer *t, const gt_export_options *o, const char *path,
                       const gt_export_info *info, ox_graph *g) {
    gt_fwd f = gt_fwd_of((gt_params *)gt_trainer_sampling_params(t), false);
    ox_ctx c = {.g = g, .p = &t->g.params, .noise = noise_kind(o->noise),
                .noise_rng = gt_rng_seed(o->noise_seed)};
    c.d.f = &f;
    ox_emitters_install(&c);
    gt_sym z = declare_inputs(&c, info);
    gt_sym x = gt_model_describe(&t->g, &c.d, z);
    while (x >= 0 && !info->points && ox_shape_of(g, x).d[2] < info->h) x = c.d.upsample2x(&c.d, x);
    ox_output(g, info->points ? "points" : "image", x);
    char doc[256];
    snprintf(doc, sizeof doc, "gantry generator (family %s, z_dim %lld, %d classes): inputs z%s%s, "
             "output %s", info->family, (long long)info->z_dim, info->n_classes,
             info->n_classes ? ", label" : "", info->truncation ? ", psi" : "",
             info->points ? "points [N, 2]" : "image [N, C, H, W]");
    return ox_graph_write(g, path, doc);
}

int gt_export_onnx(gt_trainer *t, const gt_export_options *o, const char *path,
                   gt_export_info *info, gt_error *err) {
    gt_export_info own;
    if (!info) info = &own;
    info_of(t, info);
    ox_graph *g = ox_graph_new(err);
    if (!g) return -1;
    bool prev = gt_grad_set(false);
    int rc = write_graph(t, o, path, info, g);
    gt_grad_set(prev);
    gt_step_end();
    ox_graph_free(g);
    return rc;
}
