/* The model registry and what all families share: building (declare, finalize, initialise)
 * and optional normalisation layers. */
#include "nn/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "core/engine.h"
#include "nn/describe.h"

static const gt_model_family *const families[] = {
#define GT_FAMILY(name) &gt_family_##name,
#include "nn/families.def"
#undef GT_FAMILY
};
#define N_FAMILIES (sizeof families / sizeof families[0])

static const char *family_name_at(size_t i) { return families[i]->name; }
static gt_registry registry = {.n = N_FAMILIES, .name_at = family_name_at};

const gt_model_family *gt_model_family_find(const char *name) {
    int i = gt_registry_index(&registry, name);
    return i < 0 ? NULL : families[i];
}

const char *gt_model_family_names(void) { return gt_registry_names(&registry); }

const char *gt_net_spec_section(const gt_net_spec *s) {
    return s->section[0] ? s->section : s->role == GT_ROLE_GENERATOR ? "model.g" : "model.d";
}


/* Weights: the spec's init; biases and running means 0; running variances and the weights of
 * normalisation layers (named "...norm...") 1; spectral norm's u (named "...weight_u") drawn
 * N(0, I) and normalized, right after its weight in declaration order; VBN's reference latents
 * N(0, I) and its gamma N(1, 0.02); attention's gamma 0. */
static int init_weights(gt_model *m, gt_rng *rng, gt_error *err) {
    gt_init kind;
    if (gt_init_parse(m->spec.init, &kind) < 0)
        return gt_error_set(err, "model: init '%s' unknown (allowed: normal|kaiming|xavier|orthogonal)",
                            m->spec.init);
    double slope = m->spec.role == GT_ROLE_DISCRIMINATOR ? 0.2 : 0.0;
    gt_params *p = &m->params;
    for (int i = 0; i < p->n; i++) {
        const char *name = p->spec[i].name;
        const char *dot = strrchr(name, '.');
        const char *part = dot ? dot + 1 : name;
        bool is_norm = strstr(name, "norm") != NULL;
        if (strcmp(part, "running_var") == 0 || (is_norm && strcmp(part, "weight") == 0))
            gt_fill(p->t[i], 1.0f);
        else if (strcmp(part, "weight_u") == 0)
            gt_sn_init_u(p->t[i], rng);
        else if (strcmp(name, GT_VBN_REF_NAME) == 0)      /* VBN's reference latents */
            gt_fill_normal(rng, p->t[i], 0, 1);
        else if (is_norm && strcmp(part, "gamma") == 0)   /* VBN's scale, as its reference code */
            gt_fill_normal(rng, p->t[i], 1, 0.02f);
        else if (strcmp(part, "weight") == 0)
            gt_init_tensor(p->t[i], kind, m->spec.init_std, slope, rng);
    }
    return 0;
}

int gt_model_build(gt_model *m, const gt_net_spec *spec, gt_arena *arena, gt_rng *rng,
                   gt_error *err) {
    memset(m, 0, sizeof *m);
    m->spec = *spec;
    m->family = gt_model_family_find(spec->family);
    if (!m->family)
        return gt_error_set(err, "model: family '%s' unknown (allowed: %s)", spec->family,
                            gt_model_family_names());
    if (spec->n_classes > 0 && !m->family->conditional)
        return gt_error_set(err, "model: train.conditional = true: the %s family of %s has no "
                                 "class-conditional form (use dcgan or resnet)", spec->family,
                            spec->section[0] ? spec->section : "the network");
    if (strcmp(spec->activation, "maxout") == 0 && m->family != &gt_family_mlp)
        return gt_error_set(err, "model: %s.activation = maxout is a layer of the mlp family, not "
                                 "of %s", gt_net_spec_section(spec), spec->family);
    if (spec->no_hidden_bias && m->family != &gt_family_mlp)
        return gt_error_set(err, "model: %s.hidden_bias = false is an option of the mlp family, "
                                 "not of %s", gt_net_spec_section(spec), spec->family);
    gt_params_init(&m->params);
    int built = m->family->build(m, err);
    m->spec.family_options = NULL;  /* the caller's: the family has copied what it needs */
    if (built < 0) {
        gt_model_release(m);
        return -1;
    }
    gt_params_finalize(&m->params, arena);
    if (init_weights(m, rng, err) < 0) {
        gt_model_release(m);
        return -1;
    }
    if (m->family->init) m->family->init(m, rng);
    return 0;
}

void gt_model_release(gt_model *m) {
    gt_params_release(&m->params);
    free(m->arch);
    m->arch = NULL;
}

gt_tensor *gt_model_forward(const gt_model *m, const gt_fwd *f, gt_tensor *x, gt_tensor **features) {
    return m->family->forward(m, f, x, features);
}

gt_sym gt_model_describe(const gt_model *m, gt_describer *d, gt_sym z) {
    if (m->spec.role != GT_ROLE_GENERATOR || !m->family->describe) {
        char what[96];
        snprintf(what, sizeof what, "the %s family's %s", m->family->name,
                 m->spec.role == GT_ROLE_GENERATOR ? "generator" : "discriminator");
        return d->unsupported(d, what);
    }
    return m->family->describe(m, d, z);
}

/* ---- family state behind accessors ------------------------------------------------------------ */

bool gt_model_grows(const gt_model *m) { return m->family->growth != NULL; }

static gt_growth *growth_of(const gt_model *m) {
    GT_CHECK(m->family->growth, "model: family '%s' does not grow", m->family->name);
    return m->family->growth(m);
}

void gt_model_set_growth(gt_model *m, int res, double alpha) {
    gt_growth *g = growth_of(m);
    g->res = res;
    g->alpha = alpha;
}

int gt_model_growth_res(const gt_model *m) { return growth_of(m)->res; }
double gt_model_growth_alpha(const gt_model *m) { return growth_of(m)->alpha; }

static const gt_style_hooks *style_of(const gt_model *m) {
    GT_CHECK(m->family->style, "model: family '%s' is not style-based", m->family->name);
    return m->family->style;
}

int gt_model_style_count(const gt_model *m) { return m->family->style ? style_of(m)->count(m) : 0; }
void gt_model_set_style_rng(gt_model *m, gt_rng *rng) { style_of(m)->set_rng(m, rng); }
gt_rng *gt_model_style_rng(const gt_model *m) { return style_of(m)->rng(m); }
void gt_model_set_truncation(gt_model *m, double psi, int cutoff) { style_of(m)->set_truncation(m, psi, cutoff); }

int gt_norm_declare(gt_norm_layer *n, const char *kind, gt_params *p, const char *name, int ndim,
                    const int64_t *shape, gt_error *err) {
    memset(n, 0, sizeof *n);
    if (strcmp(kind, "none") == 0) {
        n->kind = GT_NORM_NONE;
    } else if (strcmp(kind, "batch") == 0) {
        n->kind = GT_NORM_BATCH;
        n->bn = gt_batchnorm_declare(p, name, shape[0]);
    } else if (strcmp(kind, "layer") == 0) {
        n->kind = GT_NORM_LAYER;
        n->ln = gt_layernorm_declare(p, name, ndim, shape);
    } else if (strcmp(kind, "vbn") == 0) {
        int ref = gt_params_find(p, GT_VBN_REF_NAME);
        if (ref < 0)
            return gt_error_set(err, "model: norm 'vbn' (virtual batch norm) needs a reference "
                                     "batch: it is for generators, with model.g.vbn_ref > 0");
        n->kind = GT_NORM_VIRTUAL;
        n->vbn = gt_vbn_declare(p, name, shape[0], p->spec[ref].shape[0]);
    } else {
        return gt_error_set(err, "model: norm '%s' unknown (allowed: batch|layer|none|vbn)", kind);
    }
    return 0;
}

gt_tensor *gt_norm_forward(const gt_norm_layer *n, const gt_fwd *f, gt_tensor *x) {
    switch (n->kind) {
    case GT_NORM_BATCH: return gt_batchnorm_forward(&n->bn, f, x);
    case GT_NORM_LAYER: return gt_layernorm_forward(&n->ln, f, x);
    case GT_NORM_VIRTUAL: return gt_vbn_forward(&n->vbn, f, x);
    case GT_NORM_COND: return gt_cbn_forward(&n->cbn, f, x);
    case GT_NORM_NONE: return x;
    }
    return x;
}

int gt_norm_declare_classes(gt_norm_layer *n, const char *kind, gt_params *p, const char *name,
                            int ndim, const int64_t *shape, int classes, const char *section,
                            gt_error *err) {
    if (classes <= 0) return gt_norm_declare(n, kind, p, name, ndim, shape, err);
    memset(n, 0, sizeof *n);
    if (strcmp(kind, "batch") != 0)
        return gt_error_set(err, "model: train.conditional = true gives G conditional batch norm: "
                                 "set %s.norm = batch (not %s)", section, kind);
    n->kind = GT_NORM_COND;
    n->cbn = gt_cbn_declare(p, name, shape[0], classes);
    return 0;
}

int gt_arch_tricks_check(const gt_net_spec *s, int64_t feature_channels, gt_error *err) {
    bool gen = s->role == GT_ROLE_GENERATOR;
    const char *sec = gt_net_spec_section(s);
    if (s->spectral_norm && s->sn_iterations < 1)
        return gt_error_set(err, "model: %s.sn_iterations = %d: spectral norm needs at least 1 "
                                 "power iteration per forward", sec, s->sn_iterations);
    if (gen && (s->mbstd_group > 0 || s->mbdisc_kernels > 0))
        return gt_error_set(err, "model: minibatch std and minibatch discrimination are "
                                 "discriminator layers, not for %s", sec);
    if (s->mbstd_group < 0 || s->mbdisc_kernels < 0)
        return gt_error_set(err, "model: %s.mbstd_group = %d and minibatch_discrimination = %d "
                                 "must not be negative", sec, s->mbstd_group, s->mbdisc_kernels);
    if (s->mbstd_group > 0) {
        if (s->mbstd_channels < 1 || feature_channels % s->mbstd_channels != 0)
            return gt_error_set(err, "model: %s.mbstd_channels = %d must divide the %lld channels "
                                     "of the discriminator's last feature map", sec,
                                s->mbstd_channels, (long long)feature_channels);
        if (s->batch > 0 && s->batch % s->mbstd_group != 0)
            return gt_error_set(err, "model: train.batch = %lld does not divide by %s.mbstd_group "
                                     "= %d: minibatch standard deviation splits each batch into "
                                     "groups of that size (make train.batch a multiple of it)",
                                (long long)s->batch, sec, s->mbstd_group);
    }
    bool vbn = strcmp(s->norm, "vbn") == 0;
    if (vbn && (!gen || s->vbn_ref < 1))
        return gt_error_set(err, "model: %s.norm = vbn (virtual batch norm) needs model.g.vbn_ref "
                                 "> 0, the reference batch (e.g. 64); it is for generators only",
                            sec);
    if (s->vbn_ref != 0 && !vbn)
        return gt_error_set(err, "model: %s.vbn_ref = %d is the reference batch of virtual batch "
                                 "norm: set %s.norm = vbn too (or vbn_ref = 0)",
                            sec, s->vbn_ref, sec);
    if (s->mbdisc_kernels > 0 && s->mbdisc_dim < 1)
        return gt_error_set(err, "model: %s.minibatch_discrimination_dim = %d must be at least 1",
                            sec, s->mbdisc_dim);
    return 0;
}

int64_t gt_batch_tricks_declare(gt_batch_tricks *b, const gt_net_spec *s, gt_params *p,
                                int64_t in) {
    b->mbstd = (gt_mbstd_layer){.group = s->mbstd_group, .channels = s->mbstd_channels};
    b->has_mbdisc = s->mbdisc_kernels > 0;
    if (!b->has_mbdisc) return 0;
    b->mbdisc = gt_mbdisc_declare(p, "mbdisc", in, s->mbdisc_kernels, s->mbdisc_dim);
    return s->mbdisc_kernels;
}

gt_tensor *gt_batch_tricks_mbstd(const gt_batch_tricks *b, gt_tensor *h) {
    return b->mbstd.group > 0 ? gt_mbstd_forward(&b->mbstd, h) : h;
}

gt_tensor *gt_batch_tricks_mbdisc(const gt_batch_tricks *b, const gt_fwd *f, gt_tensor *h) {
    return b->has_mbdisc ? gt_mbdisc_forward(&b->mbdisc, f, h) : h;
}

int gt_pyramid_levels(int res) {
    int k = 0;
    while ((4 << k) < res) k++;
    return (4 << k) == res ? k + 1 : -1;
}
