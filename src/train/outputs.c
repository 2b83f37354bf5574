/* A run's folder: its configuration, metrics log, sample grids and checkpoint. */
#include "train/outputs.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/registry.h"
#include "io/atomic.h"
#include "io/image.h"

#define PATH_MAX_LEN 4096

int gt_run_make_dir(const char *path, gt_error *err) {
    char buf[PATH_MAX_LEN];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return gt_error_set(err, "%s: path too long", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return gt_error_set(err, "%s: cannot create folder: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0755) < 0 && errno != EEXIST)
        return gt_error_set(err, "%s: cannot create folder: %s", buf, strerror(errno));
    return 0;
}

int gt_run_prepare_dir(const char *dir, const gt_config *cfg, gt_error *err) {
    char path[PATH_MAX_LEN];
    if (gt_run_make_dir(dir, err) < 0) return -1;
    snprintf(path, sizeof path, "%s/samples", dir);
    if (gt_run_make_dir(path, err) < 0) return -1;
    /* there from the start (empty until the first log step), so that a run stopped before it,
     * by its time budget or a signal, still has the metrics its report reads */
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    FILE *f = fopen(path, "a");
    if (!f) return gt_error_set(err, "%s: cannot create: %s", path, strerror(errno));
    fclose(f);
    snprintf(path, sizeof path, "%s/config.ini", dir);
    return gt_config_write(cfg, path, err);
}

const char *gt_run_json_number(char *buf, double v) {
    if (!isfinite(v)) return "null";
    snprintf(buf, 32, "%.6g", v);
    return buf;
}

int gt_run_append_metrics(const char *dir, gt_tensorboard *tb, const char *line, gt_error *err) {
    char path[PATH_MAX_LEN];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    if (gt_jsonl_append(path, line, err) < 0) return -1;
    return tb ? gt_tensorboard_log_metrics(tb, line, err) : 0;
}

int gt_run_log_metrics(const gt_trainer *t, const char *dir, gt_tensorboard *tb,
                       const gt_step_stats *st, double rate, double elapsed, gt_error *err) {
    char line[1800], b[9][32], tricks[900] = "";
    size_t n = 0;
    if (gt_penalty_any(&t->gan.penalty) || t->gan.noise.sigma > 0)
        n += (size_t)snprintf(tricks, sizeof tricks, "\"penalty\": %s, \"noise_sigma\": %.4g, ",
                              gt_run_json_number(b[6], st->penalty), st->noise_sigma);
    if (t->gan.pl.weight > 0) /* the last lazy PLR update's E (l - a)^2 and the running mean a */
        n += (size_t)snprintf(tricks + n, sizeof tricks - n, "\"pl_penalty\": %s, \"pl_mean\": %s, ",
                              gt_run_json_number(b[7], st->pl_penalty),
                              gt_run_json_number(b[8], t->gan.pl_mean));
    if (t->gan.augment.policy == GT_AUGMENT_ADA) /* ADA's p and the last window's r_t */
        n += (size_t)snprintf(tricks + n, sizeof tricks - n, "\"augment_p\": %.6g, \"ada_rt\": %.4g, ",
                              t->gan.augment.p, t->gan.augment.last_rt);
    if (t->overfit.valid) /* the overfitting monitor (data.holdout) */
        n += (size_t)snprintf(tricks + n, sizeof tricks - n,
                              "\"d_train_real\": %.4g, \"d_holdout_real\": %.4g, \"d_monitor_fake\": %.4g, "
                              "\"acc_train_real\": %.4g, \"acc_holdout_real\": %.4g, "
                              "\"acc_monitor_fake\": %.4g, \"overfit\": %.4g, ",
                              t->overfit.d_train, t->overfit.d_holdout, t->overfit.d_fake,
                              t->overfit.acc_train, t->overfit.acc_holdout, t->overfit.acc_fake,
                              t->overfit.separation);
    if (t->progressive) { /* where the growth schedule is */
        gt_grow_state g = gt_grow_at(&t->grow, t->images);
        snprintf(tricks + n, sizeof tricks - n, "\"resolution\": %d, \"alpha\": %.4g, \"images\": %lld, ",
                 g.res, g.alpha, (long long)t->images);
    }
    snprintf(line, sizeof line,
             "{\"step\": %lld, \"d_loss\": %s, \"g_loss\": %s, \"d_grad_norm\": %s, "
             "\"g_grad_norm\": %s, \"d_real\": %s, \"d_fake\": %s, \"d_acc_real\": %.4g, "
             "\"d_acc_fake\": %.4g, \"lr_g\": %.6g, \"lr_d\": %.6g, \"steps_per_s\": %.4g, "
             "\"images_per_s\": %.4g, %s\"elapsed_s\": %.3f}",
             (long long)t->step, gt_run_json_number(b[0], st->d_loss),
             gt_run_json_number(b[1], st->g_loss),
             gt_run_json_number(b[2], st->d_grad_norm), gt_run_json_number(b[3], st->g_grad_norm),
             gt_run_json_number(b[4], st->d_real_mean), gt_run_json_number(b[5], st->d_fake_mean),
             st->d_acc_real, st->d_acc_fake, gt_optim_lr(&t->opt_g), gt_optim_lr(&t->opt_d), rate,
             rate * (double)t->cfg.train_batch, tricks, elapsed);
    return gt_run_append_metrics(dir, tb, line, err);
}

int gt_run_log_event(const char *dir, int64_t step, const char *kind, const char *msg,
                     gt_error *err) {
    char path[PATH_MAX_LEN], line[2048];
    int n = snprintf(line, sizeof line, "{\"step\": %lld, \"%s\": \"", (long long)step, kind);
    /* messages are gantry's own prose: escape only what JSON strings cannot hold */
    for (const char *p = msg; *p && n < (int)sizeof line - 8; p++) {
        if (*p == '"' || *p == '\\') line[n++] = '\\';
        line[n++] = (*p == '\n' || *p == '\t') ? ' ' : *p;
    }
    snprintf(line + n, sizeof line - (size_t)n, "\"}");
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    return gt_jsonl_append(path, line, err);
}

/* The half-width of a mixture's scatter plot (its registry entry's). */
static float plot_extent(const gt_config *cfg) {
    const gt_dataset_kind *k = gt_dataset_kind_find(cfg->data_dataset);
    return k && k->plot_extent > 0 ? k->plot_extent : 1.5f;
}

/* Points drawn as white dots on a 256 x 256 canvas covering [-e, e]^2. */
static int write_scatter(const char *path, const float *pts, int64_t n, float extent, gt_error *err) {
    enum { SIDE = 256 };
    float *img = malloc(SIDE * SIDE * sizeof *img);
    if (!img) return gt_error_set(err, "%s: out of memory for the scatter plot", path);
    for (int i = 0; i < SIDE * SIDE; i++) img[i] = -1.0f;
    for (int64_t k = 0; k < n; k++) {
        int x = (int)((pts[2 * k] / extent + 1) * 0.5f * (SIDE - 1));
        int y = (int)((1 - pts[2 * k + 1] / extent) * 0.5f * (SIDE - 1));
        if (x >= 0 && x < SIDE && y >= 0 && y < SIDE) img[y * SIDE + x] = 1.0f;
    }
    int rc = gt_png_write_grid(path, img, 1, 1, SIDE, SIDE, 1, err);
    free(img);
    return rc;
}

/* dir/samples/step-NNNNNN.npy: the points themselves, [n, 2] float32, for the report's scatter
 * plots (the PNG above is only a thumbnail). */
static int write_points(const char *dir, int64_t step, const float *pts, int64_t n, gt_error *err) {
    char path[PATH_MAX_LEN];
    snprintf(path, sizeof path, "%s/samples/step-%06lld.npy", dir, (long long)step);
    const int64_t shape[2] = {n, 2};
    return gt_npy_write(path, pts, 2, shape, err);
}

int gt_run_write_samples(gt_trainer *t, const char *dir, gt_tensorboard *tb, gt_error *err) {
    char path[PATH_MAX_LEN];
    snprintf(path, sizeof path, "%s/samples/step-%06lld.png", dir, (long long)t->step);
    int64_t n = t->cfg.train_sample_n;
    bool points = t->h == 1 && t->w == 1;
    if (points) n = n < 1000 ? 1000 : n;
    /* conditional: one row per class, train.sample_n / classes columns (at least one) */
    int64_t per_class = t->conditional ? (n / t->n_classes > 0 ? n / t->n_classes : 1) : 0;
    if (t->conditional) n = per_class * t->n_classes;
    float *x = malloc((size_t)(n * gt_trainer_example_size(t)) * sizeof *x);
    int32_t *y = t->conditional ? malloc((size_t)n * sizeof *y) : NULL;
    if (!x || (t->conditional && !y)) {
        free(x);
        free(y);
        return gt_error_set(err, "%s: out of memory for %lld samples", path, (long long)n);
    }
    for (int64_t i = 0; y && i < n; i++) y[i] = (int32_t)(i / per_class);
    gt_trainer_sample_classes(t, n, gt_seed_stream((uint64_t)t->cfg.train_seed, GT_STREAM_SAMPLES),
                              y, x);
    free(y);
    int rc;
    if (t->conditional && !points) {
        rc = gt_png_write_grid(path, x, (int)n, t->c, t->h, t->w, (int)per_class, err);
    } else if (points) {
        rc = write_scatter(path, x, n, plot_extent(&t->cfg), err);
        if (rc == 0) rc = write_points(dir, t->step, x, n, err);
    } else {
        int cols = (int)ceil(sqrt((double)n));
        rc = gt_png_write_grid(path, x, (int)n, t->c, t->h, t->w, cols, err);
    }
    free(x);
    if (rc == 0 && tb) rc = gt_tensorboard_log_png(tb, t->step, path, err);
    return rc;
}

int gt_run_checkpoint(const gt_trainer *t, const char *dir, gt_error *err) {
    char path[PATH_MAX_LEN];
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", dir);
    return gt_trainer_save(t, path, err);
}

int gt_run_save_last_good(const gt_trainer *t, const char *dir, gt_error *err) {
    char path[PATH_MAX_LEN];
    snprintf(path, sizeof path, "%s/" GT_RUN_LAST_GOOD, dir);
    return gt_trainer_save(t, path, err);
}

/* The whole of a file (NUL-terminated, malloc'd) and its length; NULL with *len 0 when absent. */
static char *read_all(const char *path, size_t *len, gt_error *err) {
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno != ENOENT) gt_error_set(err, "cannot read '%s': %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16;
    char *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + *len, 1, cap - *len - 1, f)) > 0) {
        *len += n;
        char *bigger = *len + 1 == cap ? realloc(buf, cap *= 2) : buf;
        if (!bigger) free(buf);
        buf = bigger;
    }
    const char *failure = !buf ? "out of memory" : ferror(f) ? "read error" : NULL;
    fclose(f);
    if (failure) {
        free(buf);
        *len = 0;
        gt_error_set(err, "cannot read '%s': %s", path, failure);
        return NULL;
    }
    buf[*len] = '\0';
    return buf;
}

/* Whether a line of metrics.jsonl belongs to the run up to `step`: a complete JSON object
 * whose "step" is at most that. */
static bool line_kept(const char *line, size_t len, bool complete, int64_t step) {
    if (!complete) return false;
    cJSON *o = cJSON_ParseWithLength(line, len);
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "step");
    bool keep = cJSON_IsObject(o) && cJSON_IsNumber(s) && s->valuedouble <= (double)step;
    cJSON_Delete(o);
    return keep;
}

/* Splits text into the lines kept (to `kept`) and the others (to `dropped`, each with its
 * newline); returns how many were dropped. With NULL streams it only counts. */
static int split_lines(const char *text, size_t len, int64_t step, FILE *kept, FILE *dropped) {
    int moved = 0;
    for (size_t at = 0; at < len;) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - text) : len;
        if (end > at) {
            bool keep = line_kept(text + at, end - at, nl != NULL, step);
            FILE *to = keep ? kept : dropped;
            if (to) {
                fwrite(text + at, 1, end - at, to);
                fputc('\n', to);
            }
            moved += !keep;
        }
        at = end + 1;
    }
    return moved;
}

int gt_run_reconcile_metrics(const char *dir, int64_t step, int *moved, gt_error *err) {
    char path[PATH_MAX_LEN], side[PATH_MAX_LEN];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    snprintf(side, sizeof side, "%s/" GT_RUN_METRICS_DROPPED, dir);
    *moved = 0;
    err->msg[0] = '\0';
    size_t len;
    char *text = read_all(path, &len, err);
    if (!text) return err->msg[0] ? -1 : 0;
    if (split_lines(text, len, step, NULL, NULL) == 0) { /* most resumes: nothing to move */
        free(text);
        return 0;
    }
    gt_atomic a;
    FILE *kept = gt_atomic_open(path, &a, err);
    FILE *dropped = kept ? fopen(side, "a") : NULL;
    if (kept && !dropped) {
        gt_error_set(err, "cannot open '%s' for appending: %s%s", side, strerror(errno),
                     gt_errno_hint(errno));
        gt_atomic_abort(&a);
    }
    int rc = -1;
    if (dropped) {
        *moved = split_lines(text, len, step, kept, dropped);
        /* the dropped lines are safe before metrics.jsonl loses them */
        if (gt_stream_close_checked(dropped, side, true, err) < 0) gt_atomic_abort(&a);
        else rc = gt_atomic_commit(&a, err);
    }
    free(text);
    return rc;
}
