/* TensorBoard logging of a run (tensorboard.h): metrics.jsonl lines become scalar summaries
 * under their group, sample grids image summaries, in the run's events file (io/tfevents.h). */
#include "train/tensorboard.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "io/files.h"
#include "io/tfevents.h"
#include "train/outputs.h"

struct gt_tensorboard {
    gt_tfevents file;
    int64_t last_image_step;  /* the step of the last grid logged (-1: none) */
};

gt_tensorboard *gt_tensorboard_open(const char *run_dir, gt_error *err) {
    char dir[GT_PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s/" GT_TENSORBOARD_DIR, run_dir) >= (int)sizeof dir) {
        gt_error_set(err, "%s: path too long for the TensorBoard folder", run_dir);
        return NULL;
    }
    if (gt_run_make_dir(dir, err) < 0) return NULL;
    gt_tensorboard *tb = malloc(sizeof *tb);
    if (!tb) {
        gt_error_set(err, "%s: out of memory for the TensorBoard writer", dir);
        return NULL;
    }
    tb->last_image_step = -1;
    if (gt_tfevents_open(&tb->file, dir, err) < 0) {
        free(tb);
        return NULL;
    }
    return tb;
}

void gt_tensorboard_close(gt_tensorboard *tb) {
    if (!tb) return;
    gt_tfevents_close(&tb->file);
    free(tb);
}

/* ---- scalars ---------------------------------------------------------------------------- */

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static bool is_one_of(const char *name, const char *const *names) {
    for (; *names; names++)
        if (strcmp(name, *names) == 0) return true;
    return false;
}

static const char *group_of(const char *name, bool evaluation) {
    static const char *const d_readings[] = {"d_real", "d_fake", "d_acc_real", "d_acc_fake", NULL};
    static const char *const run_numbers[] = {"lr_g", "lr_d", "steps_per_s", "images_per_s",
                                              "elapsed_s", NULL};
    if (evaluation) return "eval";
    if (ends_with(name, "_grad_norm")) return "grad";
    if (ends_with(name, "_loss") || ends_with(name, "penalty")) return "loss";
    if (is_one_of(name, d_readings)) return "d";
    if (is_one_of(name, run_numbers)) return "run";
    return "trick";
}

const char *gt_tensorboard_tag(const char *name, bool evaluation, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/%s", group_of(name, evaluation), name);
    return buf;
}

int gt_tensorboard_log_metrics(gt_tensorboard *tb, const char *json_line, gt_error *err) {
    cJSON *o = cJSON_Parse(json_line);
    const cJSON *step = cJSON_GetObjectItemCaseSensitive(o, "step");
    if (!cJSON_IsObject(o) || !cJSON_IsNumber(step)) {
        cJSON_Delete(o);
        return gt_error_set(err, "%s: a metrics line that is not a JSON object with a step: %.200s",
                            tb->file.path, json_line);
    }
    bool evaluation = cJSON_GetObjectItemCaseSensitive(o, "eval_n") != NULL;
    gt_pb summary;
    gt_pb_init(&summary);
    int values = 0;
    for (const cJSON *item = o->child; item; item = item->next) {
        if (item == step || !cJSON_IsNumber(item)) continue;
        char tag[256];
        gt_tf_summary_scalar(&summary, gt_tensorboard_tag(item->string, evaluation, tag, sizeof tag),
                             (float)item->valuedouble);
        values++;
    }
    int rc = values ? gt_tfevents_write_summary(&tb->file, (int64_t)step->valuedouble, &summary, err) : 0;
    gt_pb_free(&summary);
    cJSON_Delete(o);
    return rc;
}

/* ---- images ----------------------------------------------------------------------------- */

/* Width, height and Summary.Image colorspace from a PNG's IHDR chunk (signature, length 13,
 * "IHDR", width and height big-endian, bit depth, colour type). */
static bool png_header(const unsigned char *p, size_t n, int *w, int *h, int *colorspace) {
    static const unsigned char signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (n < 33 || memcmp(p, signature, 8) != 0 || memcmp(p + 12, "IHDR", 4) != 0) return false;
    uint32_t width = (uint32_t)p[16] << 24 | (uint32_t)p[17] << 16 | (uint32_t)p[18] << 8 | p[19];
    uint32_t height = (uint32_t)p[20] << 24 | (uint32_t)p[21] << 16 | (uint32_t)p[22] << 8 | p[23];
    switch (p[25]) { /* PNG colour type */
    case 0: *colorspace = GT_TF_GRAY; break;
    case 2: *colorspace = GT_TF_RGB; break;
    case 4: *colorspace = GT_TF_GRAY_ALPHA; break;
    case 6: *colorspace = GT_TF_RGBA; break;
    default: return false;  /* palette images: gantry writes none */
    }
    if (width == 0 || height == 0 || width > INT32_MAX || height > INT32_MAX) return false;
    *w = (int)width;
    *h = (int)height;
    return true;
}

int gt_tensorboard_log_png(gt_tensorboard *tb, int64_t step, const char *png_path, gt_error *err) {
    if (step == tb->last_image_step) return 0;
    size_t len;
    unsigned char *png = (unsigned char *)gt_read_file(png_path, (size_t)1 << 30, &len);
    if (!png)
        return gt_error_set(err, "cannot read the sample grid '%s' for TensorBoard: %s", png_path,
                            strerror(errno));
    int w, h, colorspace, rc;
    if (!png_header(png, len, &w, &h, &colorspace)) {
        rc = gt_error_set(err, "'%s' does not start as a PNG of a gray or RGB image (with or "
                               "without alpha) does: TensorBoard needs its size", png_path);
    } else {
        gt_pb summary;
        gt_pb_init(&summary);
        gt_tf_summary_image(&summary, GT_TENSORBOARD_SAMPLES_TAG, h, w, colorspace, png, len);
        rc = gt_tfevents_write_summary(&tb->file, step, &summary, err);
        gt_pb_free(&summary);
        if (rc == 0) tb->last_image_step = step;
    }
    free(png);
    return rc;
}
