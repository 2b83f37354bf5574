/* Evaluation during training (see evaluator.h). */
#include "train/evaluator.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/registry.h"
#include "io/image.h"
#include "train/outputs.h"

void gt_run_eval_init(gt_run_eval *e, const gt_config *cfg) {
    memset(e, 0, sizeof *e);
    if (cfg->train_eval_every == 0) {
        snprintf(e->note, sizeof e->note, "train.eval_every = 0");
        return;
    }
    const gt_dataset_kind *k = gt_dataset_kind_find(cfg->data_dataset);
    if (k && k->eval == GT_DATA_EVAL_POINTS) {
        e->enabled = e->points = true;
        return;
    }
    if (!k || k->eval == GT_DATA_EVAL_NONE) {
        snprintf(e->note, sizeof e->note, "no feature network for data.dataset = %s", cfg->data_dataset);
        return;
    }
    gt_error err;
    e->stacked = k->eval == GT_DATA_EVAL_STACKED;
    e->protocol_n = k->eval_samples;
    e->cls = gt_classifier_new();
    const char *model = cfg->train_eval_model[0] ? cfg->train_eval_model : k->feature_model;
    if (gt_classifier_load(e->cls, model, &err) < 0 ||
        (!e->stacked && !(e->ref = gt_dataset_load_reference(k, cfg, cfg->data_path, &err)))) {
        snprintf(e->note, sizeof e->note, "%s", err.msg);
        gt_run_eval_free(e);
        return;
    }
    e->enabled = true;
}

static int eval_points(gt_trainer *t, const char *dir, gt_tensorboard *tb, int64_t n,
                       const float *x, gt_error *err) {
    gt_mode_scores s;
    if (gt_eval_points(t->cfg.data_dataset, x, n, &s, err) < 0) return -1;
    char line[512], kl[32];
    snprintf(line, sizeof line,
             "{\"step\": %lld, \"eval_n\": %lld, \"modes_covered\": %d, \"n_modes\": %d, "
             "\"pct_high_quality\": %.4f, \"reverse_kl\": %s}",
             (long long)t->step, (long long)n, s.modes_covered, s.n_modes, s.pct_high_quality,
             /* undefined (NaN) when no point is of high quality: JSON null */
             gt_run_json_number(kl, s.reverse_kl));
    return gt_run_append_metrics(dir, tb, line, err);
}

/* ', "class_accuracy": A' into buf: the share of a conditional G's samples classified as the
 * class they were drawn for. */
static int class_accuracy(gt_run_eval *e, int64_t n, const float *x, char *buf, size_t cap,
                          gt_error *err) {
    gt_class_agreement g;
    if (gt_eval_class_agreement(e->cls, x, NULL, n, &g, err) < 0) return -1;
    char v[32];
    snprintf(buf, cap, ", \"class_accuracy\": %s", gt_run_json_number(v, g.accuracy));
    return 0;
}

static int eval_images(gt_run_eval *e, gt_trainer *t, const char *dir, gt_tensorboard *tb,
                       int64_t n, const float *x, gt_error *err) {
    gt_image_scores s;
    if (gt_eval_images(e->cls, e->ref, x, n, &s, err) < 0) return -1;
    char agree[48] = "";
    if (gt_trainer_draws_classifier_classes(t) && class_accuracy(e, n, x, agree, sizeof agree, err) < 0) return -1;
    char line[576], v[5][32]; /* a score that came out NaN or infinite: JSON null */
    snprintf(line, sizeof line,
             "{\"step\": %lld, \"eval_n\": %lld, \"fid\": %s, \"kid\": %s, \"precision\": %s, "
             "\"recall\": %s, \"classes_covered\": %d, \"class_kl\": %s%s}",
             (long long)t->step, (long long)n, gt_run_json_number(v[0], s.fid),
             gt_run_json_number(v[1], s.kid), gt_run_json_number(v[2], s.precision),
             gt_run_json_number(v[3], s.recall), s.classes_covered,
             gt_run_json_number(v[4], s.class_kl), agree);
    return gt_run_append_metrics(dir, tb, line, err);
}

static int eval_stacked(gt_run_eval *e, gt_trainer *t, const char *dir, gt_tensorboard *tb,
                        int64_t n, const float *x, gt_error *err) {
    gt_stacked_scores s;
    if (gt_eval_stacked(e->cls, x, n, &s, err) < 0) return -1;
    char line[256], kl[32];
    snprintf(line, sizeof line,
             "{\"step\": %lld, \"eval_n\": %lld, \"modes_covered\": %d, \"n_modes\": 1000, "
             "\"reverse_kl\": %s}", (long long)t->step, (long long)n, s.modes_covered,
             gt_run_json_number(kl, s.kl));
    return gt_run_append_metrics(dir, tb, line, err);
}

int gt_run_eval_step(gt_run_eval *e, gt_trainer *t, const char *dir, gt_tensorboard *tb,
                     gt_error *err) {
    if (!e->enabled) return 0;
    /* the protocols' sample counts for the mode metrics; eval_n for the image metrics */
    int64_t n = e->points ? 2500 : e->protocol_n > 0 ? e->protocol_n : t->cfg.train_eval_n;
    float *x = malloc((size_t)(n * gt_trainer_example_size(t)) * sizeof *x);
    if (!x) return gt_error_set(err, "eval: out of memory for %lld samples", (long long)n);
    /* fixed latents, apart from the sample grids' */
    gt_trainer_sample(t, n, gt_seed_stream((uint64_t)t->cfg.train_seed, GT_STREAM_SAMPLES + 100), x);
    if (!e->points && t->h == 32) gt_eval_crop_padded(x, n, t->c, t->h);
    int rc = e->points    ? eval_points(t, dir, tb, n, x, err)
             : e->stacked ? eval_stacked(e, t, dir, tb, n, x, err)
                          : eval_images(e, t, dir, tb, n, x, err);
    free(x);
    return rc;
}

void gt_run_eval_free(gt_run_eval *e) {
    gt_classifier_free(e->cls);
    gt_dataset_free(e->ref);
    e->cls = NULL;
    e->ref = NULL;
}
