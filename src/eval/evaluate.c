/* Sample scoring (see evaluate.h): features of samples and references, then the metrics. */
#include "eval/evaluate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/metrics.h"

#define KID_SUBSETS 100
#define KID_SUBSET_SIZE 1000
#define PR_K 3

typedef struct {
    float *feat;
    int32_t *pred;
} features;

static int features_of(gt_classifier *c, const float *x, int64_t n, features *f, gt_error *err) {
    f->feat = malloc((size_t)(n * GT_CLASSIFIER_FEATURES) * sizeof *f->feat);
    f->pred = malloc((size_t)n * sizeof *f->pred);
    if (!f->feat || !f->pred) return gt_error_set(err, "eval: out of memory for %lld features", (long long)n);
    gt_classifier_features(c, x, n, f->feat, f->pred);
    return 0;
}

static void features_free(features *f) {
    free(f->feat);
    free(f->pred);
}

static bool all_finite(const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return false;
    return true;
}

static int score(const features *s, int64_t n, const features *r, int64_t nr, gt_image_scores *o,
                 gt_error *err) {
    const int d = GT_CLASSIFIER_FEATURES;
    gt_class_coverage(s->pred, n, 10, &o->classes_covered, &o->class_kl);
    if (!all_finite(s->feat, n * d)) { /* NaN or infinite samples: undefined, not 1 or 0 */
        o->fid = o->kid = o->kid_stderr = o->precision = o->recall = NAN;
        return 0;
    }
    gt_gauss_stats ss = {0}, rs = {0};
    if (gt_gauss_stats_compute(&ss, s->feat, n, d, err) < 0 ||
        gt_gauss_stats_compute(&rs, r->feat, nr, d, err) < 0) {
        gt_gauss_stats_free(&ss);
        gt_gauss_stats_free(&rs);
        return -1;
    }
    o->fid = gt_fid(&ss, &rs);
    gt_gauss_stats_free(&ss);
    gt_gauss_stats_free(&rs);
    o->kid = gt_kid(s->feat, n, r->feat, nr, d, KID_SUBSETS, KID_SUBSET_SIZE, 0, &o->kid_stderr);
    gt_precision_recall(r->feat, nr, s->feat, n, d, PR_K, &o->precision, &o->recall);
    return 0;
}

int gt_eval_images(gt_classifier *c, const gt_dataset *ref, const float *x, int64_t n,
                   gt_image_scores *out, gt_error *err) {
    if (ref->c != 1 || ref->h != 28 || ref->w != 28)
        return gt_error_set(err, "eval: the reference images are %dx%dx%d, the classifier takes 1x28x28",
                            ref->c, ref->h, ref->w);
    if (n <= PR_K)
        return gt_error_set(err, "eval: %lld samples; the metrics need at least %d (precision and "
                                 "recall look at %d neighbours)", (long long)n, PR_K + 1, PR_K);
    memset(out, 0, sizeof *out);
    out->n = n;
    out->n_ref = ref->n;
    features s = {0}, r = {0};
    int rc = features_of(c, x, n, &s, err);
    if (rc == 0) rc = features_of(c, ref->x, ref->n, &r, err);
    if (rc == 0) rc = score(&s, n, &r, ref->n, out, err);
    features_free(&s);
    features_free(&r);
    return rc;
}

int gt_eval_class_agreement(gt_classifier *c, const float *x, const int32_t *requested, int64_t n,
                            gt_class_agreement *out, gt_error *err) {
    if (n < 1) return gt_error_set(err, "eval: no samples to check against their classes");
    for (int64_t i = 0; requested && i < n; i++)
        if (requested[i] < 0 || requested[i] > 9)
            return gt_error_set(err, "eval: sample %lld was drawn for class %d; the classifier "
                                     "knows classes 0 .. 9", (long long)i, (int)requested[i]);
    int32_t *pred = malloc((size_t)n * sizeof *pred);
    if (!pred) return gt_error_set(err, "eval: out of memory for %lld predictions", (long long)n);
    gt_classifier_features(c, x, n, NULL, pred);
    int64_t hits = 0, asked[10] = {0}, right[10] = {0};
    for (int64_t i = 0; i < n; i++) {
        int32_t want = requested ? requested[i] : (int32_t)(i % 10);
        bool hit = pred[i] == want;
        hits += hit;
        asked[want]++;
        right[want] += hit;
    }
    free(pred);
    out->n = n;
    out->accuracy = (double)hits / (double)n;
    for (int k = 0; k < 10; k++) out->per_class[k] = asked[k] ? (double)right[k] / (double)asked[k] : NAN;
    return 0;
}

int gt_eval_stacked(gt_classifier *c, const float *x, int64_t n, gt_stacked_scores *out,
                    gt_error *err) {
    const int64_t plane = 28 * 28;
    float *channel = malloc((size_t)(n * plane) * sizeof *channel);
    int32_t *pred = malloc((size_t)(3 * n) * sizeof *pred);
    if (!channel || !pred) {
        free(channel);
        free(pred);
        return gt_error_set(err, "eval: out of memory for %lld stacked samples", (long long)n);
    }
    for (int ch = 0; ch < 3; ch++) {
        for (int64_t i = 0; i < n; i++)
            memcpy(channel + i * plane, x + (i * 3 + ch) * plane, (size_t)plane * sizeof(float));
        gt_classifier_features(c, channel, n, NULL, pred + ch * n);
    }
    out->n = n;
    gt_stacked_modes(pred, pred + n, pred + 2 * n, n, &out->modes_covered, &out->kl);
    free(channel);
    free(pred);
    return 0;
}

const char *gt_mode_metric_name(gt_mode_metric m) {
    return m == GT_MODE_METRIC_PACGAN ? "pacgan" : "gantry";
}

int gt_mode_metric_parse(const char *name, gt_mode_metric *out) {
    if (strcmp(name, "gantry") == 0) *out = GT_MODE_METRIC_GANTRY;
    else if (strcmp(name, "pacgan") == 0) *out = GT_MODE_METRIC_PACGAN;
    else return -1;
    return 0;
}

int gt_eval_mixture_modes(const char *kind, gt_mixture_modes *out, gt_error *err) {
    memset(out, 0, sizeof *out);
    int modes = gt_data_mixture_centres(kind, 0, NULL, err);
    if (modes < 0) return -1;
    if (modes > GT_MIXTURE_MAX_MODES)
        return gt_error_set(err, "mixture \"%s\": %d modes, more than %d", kind, modes,
                            GT_MIXTURE_MAX_MODES);
    out->n = gt_data_mixture_centres(kind, 0, out->centres, err);
    out->sigma = strcmp(kind, "grid") == 0 ? 0.05f : 0.01f;
    for (int m = 0; m < out->n; m++) out->sigmas[m] = out->sigma; /* every mode alike */
    return 0;
}

void gt_eval_points_modes(const gt_mixture_modes *mm, const float *pts, int64_t n,
                          int32_t *mode) {
    for (int64_t i = 0; i < n; i++)
        mode[i] = gt_mode_of_point_pacgan(pts + 2 * i, mm->centres, mm->sigmas, mm->n);
}

int gt_eval_points_by(const char *kind, gt_mode_metric metric, const float *pts, int64_t n,
                      gt_mode_scores *out, gt_error *err) {
    gt_mixture_modes mm;
    if (n < 1) return gt_error_set(err, "eval: no points to score (the samples hold 0 rows)");
    if (gt_eval_mixture_modes(kind, &mm, err) < 0) return -1;
    memset(out, 0, sizeof *out);
    out->n = n;
    out->n_modes = mm.n;
    out->sigma = mm.sigma;
    out->metric = metric;
    if (metric == GT_MODE_METRIC_PACGAN)
        gt_mode_metrics_pacgan(pts, n, mm.centres, mm.sigmas, mm.n, &out->modes_covered,
                               &out->pct_high_quality, &out->reverse_kl);
    else
        gt_mode_metrics(pts, n, mm.centres, mm.n, mm.sigma, &out->modes_covered,
                        &out->pct_high_quality, &out->reverse_kl);
    return 0;
}

int gt_eval_points(const char *kind, const float *pts, int64_t n, gt_mode_scores *out, gt_error *err) {
    return gt_eval_points_by(kind, GT_MODE_METRIC_GANTRY, pts, n, out, err);
}

void gt_eval_crop_padded(float *x, int64_t n, int c, int side) {
    int off = (side - 28) / 2; /* each read lies at or after every write before it */
    for (int64_t i = 0; i < n * c; i++)
        for (int y = 0; y < 28; y++)
            for (int k = 0; k < 28; k++)
                x[(i * 28 + y) * 28 + k] = x[(i * side + y + off) * side + k + off];
}
