/* One evaluation as a struct (evaluate.h): scoring samples by their shape, and the result as
 * JSON for eval's last line, an ablation's child and the ablation table. */
#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

#include "eval/evaluate.h"

/* The orientation check: its detector learns on the reference folder's training split. */
static int check_orientation(gt_classifier *c, const float *x, int64_t n, const gt_eval_setup *s,
                             gt_eval_result *out, gt_error *err) {
    gt_dataset *train = gt_data_load_mnist_dir(s->ref, "train", err);
    gt_dataset *test = train ? gt_data_load_mnist_dir(s->ref, "test", err) : NULL;
    int rc = test ? gt_eval_orientation(c, train, test, x, n, s->orientation, &out->orientation, err)
                  : -1;
    out->has_orientation = rc == 0;
    gt_dataset_free(test);
    gt_dataset_free(train);
    return rc;
}

static int score_images(const float *x, int64_t n, const gt_eval_setup *s, gt_eval_result *out,
                        gt_error *err) {
    gt_classifier *c = gt_classifier_new();
    gt_dataset *ref = NULL;
    int rc = gt_classifier_load(c, s->model, err);
    if (rc == 0 && !(ref = gt_data_load_mnist_dir(s->ref, "test", err))) rc = -1;
    if (rc == 0) rc = gt_eval_images(c, ref, x, n, &out->images, err);
    if (rc == 0 && s->orientation) rc = check_orientation(c, x, n, s, out, err);
    if (rc == 0 && s->class_check) {
        out->has_agreement = true;
        rc = gt_eval_class_agreement(c, x, NULL, n, &out->agreement, err);
    }
    if (rc == 0) {
        snprintf(out->ref_name, sizeof out->ref_name, "%s", ref->name);
        out->feature_accuracy = gt_classifier_test_accuracy(c);
    }
    gt_dataset_free(ref);
    gt_classifier_free(c);
    return rc;
}

/* Stacked samples: the modes of their class triples, and the quality of their channels as
 * Fashion-MNIST images. x [n, 3, 28, 28] read as [3n, 1, 28, 28] is the channel images in sample
 * order; the first GT_EVAL_CHANNEL_IMAGES of them are scored like eval's default 10,000
 * samples (FID's bias depends on the count), against the reference's test split. */
static int score_stacked(const float *x, int64_t n, const gt_eval_setup *s, gt_eval_result *out,
                         gt_error *err) {
    gt_classifier *c = gt_classifier_new();
    gt_dataset *ref = NULL;
    int rc = gt_classifier_load(c, s->model, err);
    if (rc == 0) rc = gt_eval_stacked(c, x, n, &out->stacked, err);
    if (rc == 0 && !(ref = gt_data_load_mnist_dir(s->ref, "test", err))) rc = -1;
    int64_t channels = 3 * n < GT_EVAL_CHANNEL_IMAGES ? 3 * n : GT_EVAL_CHANNEL_IMAGES;
    if (rc == 0) rc = gt_eval_images(c, ref, x, channels, &out->images, err);
    if (rc == 0) snprintf(out->ref_name, sizeof out->ref_name, "%s", ref->name);
    gt_dataset_free(ref);
    gt_classifier_free(c);
    return rc;
}

int gt_eval_samples(float *x, int nd, const int64_t *shape, const gt_eval_setup *setup,
                    gt_eval_result *out, gt_error *err) {
    memset(out, 0, sizeof *out);
    out->n = shape[0];
    snprintf(out->model, sizeof out->model, "%s", setup->model ? setup->model : "");
    bool image = nd == 4 && (shape[1] == 1 || shape[1] == 3);
    int64_t side = image && shape[2] == 32 && shape[3] == 32 ? 32 : image ? shape[2] : 0;
    if (side == 32) /* Fashion-MNIST padded to 32x32 (data.resolution = 32): the centre */
        gt_eval_crop_padded(x, shape[0], (int)shape[1], 32);
    bool square28 = image && (side == 32 || (shape[2] == 28 && shape[3] == 28));
    if (setup->orientation && !(square28 && shape[1] == 1))
        return gt_error_set(err, "the orientation check takes (N, 1, 28, 28) images");
    if (nd == 2 && shape[1] == 2) {
        out->kind = GT_EVAL_POINTS;
        snprintf(out->mixture, sizeof out->mixture, "%s", setup->mixture ? setup->mixture : "");
        return gt_eval_points_by(out->mixture, setup->mode_metric, x, out->n, &out->points, err);
    }
    if (square28 && shape[1] == 1) {
        out->kind = GT_EVAL_IMAGES;
        return score_images(x, out->n, setup, out, err);
    }
    if (square28 && shape[1] == 3) {
        out->kind = GT_EVAL_STACKED;
        return score_stacked(x, out->n, setup, out, err);
    }
    return gt_error_set(err, "samples must be (N, 1, 28, 28) images (or 32x32, Fashion-MNIST "
                             "padded by data.resolution = 32), (N, 3, 28, 28) stacked "
                             "Fashion-MNIST or (N, 2) points");
}

static cJSON *orientation_json(const gt_orientation_scores *o) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "detector_accuracy", o->detector_accuracy);
    cJSON_AddNumberToObject(j, "rotated", o->rotated);
    cJSON_AddNumberToObject(j, "ref_rotated", o->ref_rotated);
    cJSON_AddNumberToObject(j, "mirrored", o->mirrored);
    cJSON_AddNumberToObject(j, "ref_mirrored", o->ref_mirrored);
    cJSON_AddNumberToObject(j, "n_handed", (double)o->n_handed);
    cJSON_AddNumberToObject(j, "n_ref_handed", (double)o->n_ref_handed);
    cJSON *classes = cJSON_AddArrayToObject(j, "handed_classes");
    for (int c = 0; c < GT_CLASSIFIER_CLASSES; c++)
        if (o->handed_classes >> c & 1u) cJSON_AddItemToArray(classes, cJSON_CreateNumber(c));
    return j;
}

/* n_ref, then FID, KID, its standard error, precision and recall, their names prefixed (stacked
 * samples' channels: "channel_"). */
static void add_image_scores(cJSON *j, const gt_image_scores *s, const char *prefix) {
    const struct { const char *name; double value; } fields[] = {
        {"fid", s->fid}, {"kid", s->kid}, {"kid_stderr", s->kid_stderr},
        {"precision", s->precision}, {"recall", s->recall}};
    cJSON_AddNumberToObject(j, "n_ref", (double)s->n_ref);
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "%s%s", prefix, fields[i].name);
        cJSON_AddNumberToObject(j, name, fields[i].value);
    }
}

cJSON *gt_eval_result_json(const gt_eval_result *r) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "n", (double)r->n);
    if (r->kind == GT_EVAL_POINTS) {
        const gt_mode_scores *s = &r->points;
        cJSON_AddStringToObject(j, "mixture", r->mixture);
        cJSON_AddStringToObject(j, "mode_metric", gt_mode_metric_name(s->metric));
        cJSON_AddNumberToObject(j, "modes_covered", s->modes_covered);
        cJSON_AddNumberToObject(j, "n_modes", s->n_modes);
        cJSON_AddNumberToObject(j, "pct_high_quality", s->pct_high_quality);
        /* undefined (NaN) when no point is of high quality: JSON has no NaN, so null */
        cJSON_AddItemToObject(j, "reverse_kl", isfinite(s->reverse_kl)
                                                   ? cJSON_CreateNumber(s->reverse_kl)
                                                   : cJSON_CreateNull());
    } else if (r->kind == GT_EVAL_STACKED) {
        const gt_image_scores *s = &r->images;
        cJSON_AddNumberToObject(j, "modes_covered", r->stacked.modes_covered);
        cJSON_AddNumberToObject(j, "n_modes", 1000);
        cJSON_AddNumberToObject(j, "reverse_kl", r->stacked.kl);
        cJSON_AddNumberToObject(j, "channel_n", (double)s->n);
        add_image_scores(j, s, "channel_");
    } else {
        const gt_image_scores *s = &r->images;
        add_image_scores(j, s, "");
        cJSON_AddNumberToObject(j, "classes_covered", s->classes_covered);
        cJSON_AddNumberToObject(j, "class_kl", s->class_kl);
        if (r->has_agreement) cJSON_AddNumberToObject(j, "class_accuracy", r->agreement.accuracy);
        if (r->has_orientation) cJSON_AddItemToObject(j, "orientation", orientation_json(&r->orientation));
    }
    return j;
}

/* A number field; NaN for null or absent (reverse_kl of a mixture with no high-quality point). */
static double number(const cJSON *j, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* An integer field from 0 to max into *out; -1 with err when it is missing, fractional or out
 * of range (a cast of NaN or of 1e300 to an integer is undefined). */
static int integer(const cJSON *j, const char *name, double max, int64_t *out, gt_error *err) {
    double v = number(j, name);
    if (!(v >= 0 && v <= max) || v != floor(v))
        return gt_error_set(err, "an evaluation result's \"%s\" is missing or not an integer from 0 "
                                 "to %.0f", name, max);
    *out = (int64_t)v;
    return 0;
}

#define COUNT_MAX 9007199254740992.0 /* 2^53: sample counts */
#define SMALL_MAX 1000000.0          /* modes and classes */

static int points_from_json(const cJSON *j, gt_eval_result *r, gt_error *err) {
    int64_t covered, modes;
    if (integer(j, "modes_covered", SMALL_MAX, &covered, err) < 0 ||
        integer(j, "n_modes", SMALL_MAX, &modes, err) < 0)
        return -1;
    r->kind = GT_EVAL_POINTS;
    r->points = (gt_mode_scores){.n = r->n, .modes_covered = (int)covered, .n_modes = (int)modes,
                                 .pct_high_quality = number(j, "pct_high_quality"),
                                 .reverse_kl = number(j, "reverse_kl")};
    /* absent in results written before the choice existed: gantry's */
    const cJSON *metric = cJSON_GetObjectItemCaseSensitive(j, "mode_metric");
    if (cJSON_IsString(metric) && gt_mode_metric_parse(metric->valuestring, &r->points.metric) < 0)
        return gt_error_set(err, "an evaluation result's \"mode_metric\" must be gantry or "
                                 "pacgan, not \"%s\"", metric->valuestring);
    return 0;
}

static int stacked_from_json(const cJSON *j, gt_eval_result *r, gt_error *err) {
    int64_t covered;
    if (integer(j, "modes_covered", SMALL_MAX, &covered, err) < 0) return -1;
    r->kind = GT_EVAL_STACKED;
    r->stacked = (gt_stacked_scores){.n = r->n, .modes_covered = (int)covered,
                                     .kl = number(j, "reverse_kl")};
    /* the channels' scores: NaN in results written before they were scored */
    double channels = number(j, "channel_n"), n_ref = number(j, "n_ref");
    r->images = (gt_image_scores){.n = isfinite(channels) ? (int64_t)channels : 0,
                                  .n_ref = isfinite(n_ref) ? (int64_t)n_ref : 0,
                                  .fid = number(j, "channel_fid"), .kid = number(j, "channel_kid"),
                                  .kid_stderr = number(j, "channel_kid_stderr"),
                                  .precision = number(j, "channel_precision"),
                                  .recall = number(j, "channel_recall")};
    return 0;
}

static int orientation_from_json(const cJSON *j, gt_eval_result *r, gt_error *err) {
    gt_orientation_scores *o = &r->orientation;
    int64_t n_handed, n_ref_handed;
    const cJSON *classes = cJSON_GetObjectItemCaseSensitive(j, "handed_classes");
    if (!cJSON_IsObject(j) || !cJSON_IsArray(classes) ||
        integer(j, "n_handed", COUNT_MAX, &n_handed, err) < 0 ||
        integer(j, "n_ref_handed", COUNT_MAX, &n_ref_handed, err) < 0)
        return gt_error_set(err, "an evaluation result's \"orientation\" must be an object with "
                                 "\"handed_classes\", \"n_handed\" and \"n_ref_handed\"");
    *o = (gt_orientation_scores){.n = r->n, .n_ref = r->images.n_ref,
                                 .detector_accuracy = number(j, "detector_accuracy"),
                                 .rotated = number(j, "rotated"), .ref_rotated = number(j, "ref_rotated"),
                                 .mirrored = number(j, "mirrored"), .ref_mirrored = number(j, "ref_mirrored"),
                                 .n_handed = n_handed, .n_ref_handed = n_ref_handed};
    const cJSON *c;
    cJSON_ArrayForEach(c, classes) {
        if (!cJSON_IsNumber(c) || c->valuedouble < 0 || c->valuedouble >= GT_CLASSIFIER_CLASSES ||
            c->valuedouble != floor(c->valuedouble))
            return gt_error_set(err, "an evaluation result's \"handed_classes\" must list classes "
                                     "0 to %d", GT_CLASSIFIER_CLASSES - 1);
        o->handed_classes |= 1u << (int)c->valuedouble;
    }
    r->has_orientation = true;
    return 0;
}

static int images_from_json(const cJSON *j, gt_eval_result *r, gt_error *err) {
    int64_t n_ref, classes;
    if (integer(j, "n_ref", COUNT_MAX, &n_ref, err) < 0 ||
        integer(j, "classes_covered", SMALL_MAX, &classes, err) < 0)
        return -1;
    r->kind = GT_EVAL_IMAGES;
    r->images = (gt_image_scores){.n = r->n, .n_ref = n_ref, .fid = number(j, "fid"),
                                  .kid = number(j, "kid"), .kid_stderr = number(j, "kid_stderr"),
                                  .precision = number(j, "precision"), .recall = number(j, "recall"),
                                  .classes_covered = (int)classes, .class_kl = number(j, "class_kl")};
    r->has_agreement = !isnan(number(j, "class_accuracy"));
    r->agreement.accuracy = number(j, "class_accuracy");
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(j, "orientation");
    return o ? orientation_from_json(o, r, err) : 0;
}

int gt_eval_result_from_json(const cJSON *j, gt_eval_result *r, gt_error *err) {
    memset(r, 0, sizeof *r);
    if (!cJSON_IsObject(j) || !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(j, "n")))
        return gt_error_set(err, "an evaluation result must be a JSON object with \"n\"");
    if (integer(j, "n", COUNT_MAX, &r->n, err) < 0) return -1;
    const cJSON *mixture = cJSON_GetObjectItemCaseSensitive(j, "mixture");
    if (cJSON_IsString(mixture)) {
        snprintf(r->mixture, sizeof r->mixture, "%s", mixture->valuestring);
        return points_from_json(j, r, err);
    }
    return isnan(number(j, "fid")) ? stacked_from_json(j, r, err) : images_from_json(j, r, err);
}
