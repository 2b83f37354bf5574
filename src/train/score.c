/* Scoring a checkpoint's generator (score.h). */
#include "train/score.h"

#include <stdlib.h>

#include "data/registry.h"
#include "train/trainer.h"

/* The feature network and reference the run implies, unless the request names them. */
static gt_eval_setup setup_for(const gt_score_request *req, const gt_config *cfg,
                               const gt_dataset_kind *k, bool class_check) {
    gt_eval_setup s = {.model = req->model, .ref = req->ref, .class_check = class_check,
                       .mode_metric = req->mode_metric, .orientation = req->orientation};
    if (!s.model)
        s.model = cfg->train_eval_model[0] ? cfg->train_eval_model
                  : k && k->feature_model  ? k->feature_model
                                           : GT_CLASSIFIER_DEFAULT_PATH;
    if (!s.ref) s.ref = k && k->own_reference ? cfg->data_path : GT_SCORE_DEFAULT_REF;
    s.mixture = k && k->mixture ? k->name : NULL;
    return s;
}

int gt_score_checkpoint(const char *ckpt, const gt_score_request *req, gt_eval_result *out,
                        gt_error *err) {
    gt_config cfg;
    gt_trainer t;
    if (gt_checkpoint_config(ckpt, &cfg, err) < 0 || gt_trainer_init(&t, &cfg, false, err) < 0)
        return -1;
    if (gt_trainer_restore(&t, ckpt, err) < 0) {
        gt_trainer_free(&t);
        return -1;
    }
    const gt_dataset_kind *k = gt_dataset_kind_find(cfg.data_dataset);
    int64_t protocol = k && k->eval_samples > 0 ? k->eval_samples : 10000;
    int64_t n = req->n > 0 ? req->n : protocol;
    gt_eval_setup setup = setup_for(req, &cfg, k, gt_trainer_draws_classifier_classes(&t));
    bool points = t.h == 1 && t.w == 1;
    int64_t shape[4] = {n, t.c, t.h, t.w};
    float *x = malloc((size_t)(n * gt_trainer_example_size(&t)) * sizeof *x);
    bool pacgan = points && req->mode_metric == GT_MODE_METRIC_PACGAN;
    uint64_t seed = pacgan ? GT_PACGAN_LATENT_SEED : (uint64_t)req->seed;
    if (x) gt_trainer_sample(&t, n, seed, x);
    gt_trainer_free(&t);
    if (!x) return gt_error_set(err, "eval: out of memory for %lld samples", (long long)n);
    int rc = gt_eval_samples(x, points ? 2 : 4, shape, &setup, out, err);
    free(x);
    return rc;
}
