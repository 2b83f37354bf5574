/* Stacked Fashion-MNIST (the VEEGAN / PacGAN "Stacked MNIST" protocol on Fashion-MNIST): each
 * example is three independently drawn gray images as the R, G and B channels, so the data has
 * 10^3 = 1,000 modes, labelled 100 a + 10 b + c by the three classes. Example i draws its three
 * source images from one Philox block keyed by the seed at counter (i, 2^64 - 2), so it is a
 * function of (seed, i) alone. */
#include <string.h>

#include "data/registry.h"
#include "eval/classifier.h" /* the feature network's path */

gt_dataset *gt_data_make_stacked(const gt_dataset *base, int64_t n, uint64_t seed, gt_error *err) {
    if (base->c != 1 || !base->labels || base->n_classes != 10) {
        gt_error_set(err, "stacked data: the base data %s must be labelled gray images of 10 "
                          "classes (got %d channels, %d classes)", base->name, base->c, base->n_classes);
        return NULL;
    }
    if (n < 1) {
        gt_error_set(err, "stacked data: %lld examples requested; expected at least 1", (long long)n);
        return NULL;
    }
    gt_dataset *ds = gt_dataset_new(n, 3, base->h, base->w, true, "stacked-fashion-mnist", err);
    if (!ds) return NULL;
    ds->n_classes = 1000;
    int64_t plane = (int64_t)base->h * base->w;
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    for (int64_t i = 0; i < n; i++) {
        uint32_t ctr[4] = {(uint32_t)i, (uint32_t)((uint64_t)i >> 32), 0xFFFFFFFEu, 0xFFFFFFFFu}, r[4];
        gt_philox4x32_10(r, ctr, key);
        int32_t label = 0;
        for (int ch = 0; ch < 3; ch++) {
            int64_t src = (int64_t)(r[ch] % (uint32_t)base->n);
            memcpy(ds->x + (i * 3 + ch) * plane, base->x + src * plane, (size_t)plane * sizeof(float));
            label = label * 10 + base->labels[src];
        }
        ds->labels[i] = label;
    }
    return ds;
}

/* ---- the registry entry (registry.h) ---- */

static void stacked_shape(const gt_config *cfg, int *c, int *h, int *w) {
    gt_data_idx_shape(cfg, c, h, w);
    *c = 3;
}

static gt_dataset *stacked_load_train(const gt_config *cfg, uint64_t seed, gt_error *err) {
    gt_dataset *base = gt_data_load_idx_train(cfg, err);
    gt_dataset *ds = base ? gt_data_make_stacked(base, cfg->data_n_points, seed, err) : NULL;
    gt_dataset_free(base);
    return ds;
}

/* The protocol scores 26,000 samples, each channel by the Fashion-MNIST classifier. */
const gt_dataset_kind gt_dataset_stacked_fashion_mnist = {
    .name = "stacked-fashion-mnist", .eval = GT_DATA_EVAL_STACKED, .has_classes = true,
    .feature_model = GT_CLASSIFIER_DEFAULT_PATH, .eval_samples = 26000,
    .shape = stacked_shape, .load_train = stacked_load_train};
