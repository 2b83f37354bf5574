/* Checkpoints: the whole training state in one safetensors file. Tensors: "g.*", "d.*" and
 * "d2.*" (parameters and buffers), "opt_g.m", "opt_g.v", "opt_d.m", "opt_d.v", "opt_d2.*" (when
 * the optimizer has them) and "ema.*". Metadata: the resolved configuration and every counter and generator
 * state as decimal strings (with progressive growing, "progressive.images": the schedule's clock;
 * with a style-based G, "style_rng.*" and "path_length.mean", the latter printed with 17
 * significant digits so it round-trips exactly). Restoring checks every tensor's presence and shape. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "train/trainer.h"

#define CKPT_FORMAT "gantry-checkpoint-1"
#define CONFIG_TEXT_MAX (64 * 1024)

static void add_table(gt_st_writer *w, const char *prefix, const gt_params *p) {
    char name[GT_ST_NAME_MAX];
    for (int i = 0; i < p->n; i++) {
        snprintf(name, sizeof name, "%s%s", prefix, p->spec[i].name);
        gt_st_writer_add_tensor(w, name, p->t[i]);
    }
}

static void add_moments(gt_st_writer *w, const char *prefix, const gt_optim *o) {
    char name[GT_ST_NAME_MAX];
    snprintf(name, sizeof name, "%sm", prefix);
    if (o->m) gt_st_writer_add_tensor(w, name, o->m);
    snprintf(name, sizeof name, "%sv", prefix);
    if (o->v) gt_st_writer_add_tensor(w, name, o->v);
}

static void meta_u64(gt_st_writer *w, const char *key, uint64_t v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    gt_st_writer_meta(w, key, buf);
}

static void meta_double(gt_st_writer *w, const char *key, double v) {
    char buf[40];
    snprintf(buf, sizeof buf, "%.17g", v);
    gt_st_writer_meta(w, key, buf);
}

/* ADA's probability and its controller's window, when it moves. */
static void save_augment(gt_st_writer *w, const gt_augment_spec *a) {
    if (a->policy != GT_AUGMENT_ADA) return;
    meta_double(w, "augment.p", a->p);
    meta_double(w, "augment.sign_sum", a->sign_sum);
    meta_u64(w, "augment.sign_count", (uint64_t)a->sign_count);
    meta_u64(w, "augment.window_steps", (uint64_t)a->window_steps);
    meta_double(w, "augment.last_rt", a->last_rt);
}

int gt_trainer_save(const gt_trainer *t, const char *path, gt_error *err) {
    char *config = malloc(CONFIG_TEXT_MAX);
    if (!config || gt_config_to_string(&t->cfg, config, CONFIG_TEXT_MAX) < 0) {
        free(config);
        return gt_error_set(err, "checkpoint %s: the configuration does not fit in %d bytes", path,
                            CONFIG_TEXT_MAX);
    }
    gt_st_writer *w = gt_st_writer_new();
    add_table(w, "g.", &t->g.params);
    add_table(w, "d.", &t->d.params);
    add_moments(w, "opt_g.", &t->opt_g);
    add_moments(w, "opt_d.", &t->opt_d);
    if (t->has_d2) {
        add_table(w, "d2.", &t->d2.params);
        add_moments(w, "opt_d2.", &t->opt_d2);
        meta_u64(w, "opt_d2.step", (uint64_t)t->opt_d2.step);
    }
    if (t->has_ema) add_table(w, "ema.", &t->ema.shadow);
    gt_st_writer_meta(w, "format", CKPT_FORMAT);
    gt_st_writer_meta(w, "config", config);
    meta_u64(w, "step", (uint64_t)t->step);
    meta_u64(w, "opt_g.step", (uint64_t)t->opt_g.step);
    meta_u64(w, "opt_d.step", (uint64_t)t->opt_d.step);
    meta_u64(w, "ema.updates", t->has_ema ? (uint64_t)t->ema.updates : 0);
    meta_u64(w, "rng.key", t->rng.key);
    meta_u64(w, "rng.counter", t->rng.counter);
    meta_u64(w, "tricks_rng.key", t->gan.rng.key);
    meta_u64(w, "tricks_rng.counter", t->gan.rng.counter);
    if (t->progressive) meta_u64(w, "progressive.images", (uint64_t)t->images);
    if (t->style) { /* a style-based G: its noise generator, and path length's running mean */
        char buf[40];
        meta_u64(w, "style_rng.key", t->style_rng.key);
        meta_u64(w, "style_rng.counter", t->style_rng.counter);
        snprintf(buf, sizeof buf, "%.17g", t->gan.pl_mean);
        gt_st_writer_meta(w, "path_length.mean", buf);
    }
    save_augment(w, &t->gan.augment);
    if (t->loader) {
        gt_loader_state ls = gt_loader_state_get(t->loader);
        meta_u64(w, "loader.seed", ls.seed);
        meta_u64(w, "loader.epoch", ls.epoch);
        meta_u64(w, "loader.index", ls.index);
    }
    int rc = gt_st_writer_write(w, path, err);
    gt_st_writer_free(w);
    free(config);
    return rc;
}

static int check_format(const gt_st_file *f, const char *path, gt_error *err) {
    const char *fmt = gt_st_meta(f, "format");
    const char *family = "gantry-checkpoint-";
    if (fmt && strcmp(fmt, CKPT_FORMAT) != 0 && strncmp(fmt, family, strlen(family)) == 0)
        return gt_error_set(err, "checkpoint %s: format '%.40s', and this gantry reads '%s' (a "
                                 "checkpoint from another version of gantry: use that version)",
                            path, fmt, CKPT_FORMAT);
    if (!fmt || strcmp(fmt, CKPT_FORMAT) != 0)
        return gt_error_set(err, "checkpoint %s: format '%s', expected '%s' (not a gantry checkpoint?)",
                            path, fmt ? fmt : "(missing)", CKPT_FORMAT);
    return 0;
}

int gt_checkpoint_config(const char *path, gt_config *cfg, gt_error *err) {
    gt_st_file *f = gt_st_read(path, err);
    if (!f) return -1;
    int rc = check_format(f, path, err);
    const char *text = rc == 0 ? gt_st_meta(f, "config") : NULL;
    if (rc == 0 && !text) rc = gt_error_set(err, "checkpoint %s: no 'config' metadata", path);
    if (rc == 0) {
        char origin[512];
        snprintf(origin, sizeof origin, "checkpoint %s: config", path);
        gt_config_defaults(cfg);
        rc = gt_config_from_string(cfg, text, origin, err);
    }
    gt_st_free(f);
    return rc;
}

/* Copies one tensor of the file into dst after checking it exists with the expected shape. */
static int restore_tensor(const gt_st_file *f, const char *path, const char *name, int ndim,
                          const int64_t *shape, gt_tensor *dst, gt_error *err) {
    const gt_st_tensor *s = gt_st_find(f, name);
    if (!s) return gt_error_set(err, "checkpoint %s: tensor '%s' missing (the architecture differs "
                                     "from the one that wrote it?)", path, name);
    bool same = s->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = s->shape[i] == shape[i];
    if (!same) {
        char want[96] = "", got[96] = "";
        for (int i = 0; i < ndim; i++)
            snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", i ? "x" : "", (long long)shape[i]);
        for (int i = 0; i < s->ndim; i++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", i ? "x" : "", (long long)s->shape[i]);
        return gt_error_set(err, "checkpoint %s: tensor '%s' has shape [%s], the configured "
                                 "architecture needs [%s]", path, name, got, want);
    }
    gt_copy_from(dst, s->data);
    return 0;
}

static int restore_table(const gt_st_file *f, const char *path, const char *prefix, gt_params *p,
                         gt_error *err) {
    char name[GT_ST_NAME_MAX];
    for (int i = 0; i < p->n; i++) {
        snprintf(name, sizeof name, "%s%s", prefix, p->spec[i].name);
        if (restore_tensor(f, path, name, p->spec[i].ndim, p->spec[i].shape, p->t[i], err) < 0)
            return -1;
    }
    return 0;
}

static int restore_moments(const gt_st_file *f, const char *path, const char *prefix,
                           gt_optim *o, gt_error *err) {
    char name[GT_ST_NAME_MAX];
    int64_t n = o->params->numel_trainable;
    snprintf(name, sizeof name, "%sm", prefix);
    if (o->m && restore_tensor(f, path, name, 1, &n, o->m, err) < 0) return -1;
    snprintf(name, sizeof name, "%sv", prefix);
    if (o->v && restore_tensor(f, path, name, 1, &n, o->v, err) < 0) return -1;
    return 0;
}

/* Counters (steps, updates, images, epochs) are at most 2^53: far beyond any run, and small
 * enough that the products the trainer forms from them (steps x d_steps) cannot overflow. */
#define COUNTER_MAX ((uint64_t)1 << 53)

/* A metadata value: a decimal integer from 0 to max, digits only (no sign, which strtoull
 * would wrap), without overflow. */
static int meta_in_range(const gt_st_file *f, const char *path, const char *key, uint64_t max,
                         uint64_t *out, gt_error *err) {
    const char *v = gt_st_meta(f, key);
    bool ok = v && *v && strspn(v, "0123456789") == strlen(v);
    errno = 0;
    if (ok) *out = strtoull(v, NULL, 10);
    if (!ok || errno == ERANGE || *out > max)
        return gt_error_set(err, "checkpoint %s: metadata '%s' is %.40s, expected a decimal integer "
                                 "from 0 to %" PRIu64 " (a damaged or hand-edited checkpoint?)",
                            path, key, v ? v : "missing", max);
    return 0;
}

/* A counter (COUNTER_MAX at most). */
static int meta_get(const gt_st_file *f, const char *path, const char *key, uint64_t *out,
                    gt_error *err) {
    return meta_in_range(f, path, key, COUNTER_MAX, out, err);
}

/* A generator's key or counter: any 64-bit value. */
static int meta_get_u64(const gt_st_file *f, const char *path, const char *key, uint64_t *out,
                        gt_error *err) {
    return meta_in_range(f, path, key, UINT64_MAX, out, err);
}

static int meta_get_double(const gt_st_file *f, const char *path, const char *key, double *out,
                           gt_error *err) {
    const char *v = gt_st_meta(f, key);
    char *end = NULL;
    if (v) *out = strtod(v, &end);
    if (!v || !*v || *end)
        return gt_error_set(err, "checkpoint %s: metadata '%s' is %s, expected a number", path, key,
                            v ? v : "missing");
    return 0;
}

static int restore_augment(gt_augment_spec *a, const gt_st_file *f, const char *path, gt_error *err) {
    if (a->policy != GT_AUGMENT_ADA) return 0;
    uint64_t count, steps;
    if (meta_get_double(f, path, "augment.p", &a->p, err) < 0 ||
        meta_get_double(f, path, "augment.sign_sum", &a->sign_sum, err) < 0 ||
        meta_get(f, path, "augment.sign_count", &count, err) < 0 ||
        meta_get(f, path, "augment.window_steps", &steps, err) < 0 ||
        meta_get_double(f, path, "augment.last_rt", &a->last_rt, err) < 0)
        return -1;
    if (!(a->p >= 0 && a->p < 1) || steps >= (uint64_t)a->interval)
        return gt_error_set(err, "checkpoint %s: ADA's p = %g (expected [0, 1)) or window of %" PRIu64
                                 " steps (expected < augment.interval = %d)", path, a->p, steps,
                            a->interval);
    a->sign_count = (int64_t)count;
    a->window_steps = (int64_t)steps;
    return 0;
}

static int restore_counters(gt_trainer *t, const gt_st_file *f, const char *path, gt_error *err) {
    uint64_t step, sg, sd, ema, key, ctr;
    gt_loader_state ls;
    if (meta_get(f, path, "step", &step, err) < 0 || meta_get(f, path, "opt_g.step", &sg, err) < 0 ||
        meta_get(f, path, "opt_d.step", &sd, err) < 0 || meta_get(f, path, "ema.updates", &ema, err) < 0 ||
        meta_get_u64(f, path, "rng.key", &key, err) < 0 || meta_get_u64(f, path, "rng.counter", &ctr, err) < 0)
        return -1;
    if (t->loader && (meta_get_u64(f, path, "loader.seed", &ls.seed, err) < 0 ||
                      meta_get(f, path, "loader.epoch", &ls.epoch, err) < 0 ||
                      meta_get(f, path, "loader.index", &ls.index, err) < 0))
        return -1;
    uint64_t per_epoch = (uint64_t)(t->data ? t->data->n / t->cfg.train_batch : 0);
    if (t->loader && (ls.index >= per_epoch || ls.seed != gt_loader_state_get(t->loader).seed))
        return gt_error_set(err, "checkpoint %s: data position (seed %" PRIu64 ", batch %" PRIu64
                                 ") does not fit this data (%" PRIu64 " batches per epoch)",
                            path, ls.seed, ls.index, per_epoch);
    t->step = (int64_t)step;
    t->opt_g.step = (int64_t)sg;
    t->opt_d.step = (int64_t)sd;
    if (t->has_ema) t->ema.updates = (int64_t)ema;
    t->rng = (gt_rng){.key = key, .counter = ctr};
    /* checkpoints from before the tricks existed never drew from this generator */
    if (gt_st_meta(f, "tricks_rng.key")) {
        if (meta_get_u64(f, path, "tricks_rng.key", &key, err) < 0 ||
            meta_get_u64(f, path, "tricks_rng.counter", &ctr, err) < 0)
            return -1;
        t->gan.rng = (gt_rng){.key = key, .counter = ctr};
    }
    if (t->has_d2) {
        if (meta_get(f, path, "opt_d2.step", &sd, err) < 0) return -1;
        t->opt_d2.step = (int64_t)sd;
    }
    if (t->progressive) { /* the schedule's clock; the optimizers were reset at its level */
        uint64_t images;
        if (meta_get(f, path, "progressive.images", &images, err) < 0) return -1;
        t->images = (int64_t)images;
        t->grow_level = gt_grow_at(&t->grow, t->images).level;
    }
    if (t->style) {
        const char *v = gt_st_meta(f, "path_length.mean");
        char *end = NULL;
        double a = v ? strtod(v, &end) : 0;
        if (meta_get_u64(f, path, "style_rng.key", &key, err) < 0 ||
            meta_get_u64(f, path, "style_rng.counter", &ctr, err) < 0)
            return -1;
        if (!v || !*v || *end || !isfinite(a))
            return gt_error_set(err, "checkpoint %s: metadata 'path_length.mean' is %.40s, expected a "
                                     "finite number", path, v ? v : "missing");
        t->style_rng = (gt_rng){.key = key, .counter = ctr};
        t->gan.pl_mean = a;
    }
    if (restore_augment(&t->gan.augment, f, path, err) < 0) return -1;
    if (t->loader) gt_loader_state_set(t->loader, ls);
    return 0;
}

int gt_trainer_restore(gt_trainer *t, const char *path, gt_error *err) {
    gt_st_file *f = gt_st_read(path, err);
    if (!f) return -1;
    int rc = check_format(f, path, err);
    if (rc == 0) rc = restore_table(f, path, "g.", &t->g.params, err);
    if (rc == 0) rc = restore_table(f, path, "d.", &t->d.params, err);
    if (rc == 0) rc = restore_moments(f, path, "opt_g.", &t->opt_g, err);
    if (rc == 0) rc = restore_moments(f, path, "opt_d.", &t->opt_d, err);
    if (rc == 0 && t->has_d2) rc = restore_table(f, path, "d2.", &t->d2.params, err);
    if (rc == 0 && t->has_d2) rc = restore_moments(f, path, "opt_d2.", &t->opt_d2, err);
    if (rc == 0 && t->has_ema) rc = restore_table(f, path, "ema.", &t->ema.shadow, err);
    if (rc == 0) rc = restore_counters(t, f, path, err);
    gt_st_free(f);
    return rc;
}
