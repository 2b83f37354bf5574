/* Registry entries of the IDX datasets (registry.h): Fashion-MNIST and MNIST-format digits,
 * 28x28 as stored or padded with background to 32x32 (data.resolution = 32). */
#include "data/registry.h"

#include "eval/classifier.h" /* the feature networks' paths */

gt_dataset *gt_data_load_idx_train(const gt_config *c, gt_error *err) {
    if (c->data_resolution != 28 && c->data_resolution != 32) {
        gt_error_set(err, "config: data.resolution = %lld: IDX images are 28x28 (28) or padded "
                          "with background to 32x32 (32)", (long long)c->data_resolution);
        return NULL;
    }
    gt_dataset *ds = gt_data_load_mnist_dir(c->data_path, "train", err);
    if (!ds || c->data_resolution == 28) return ds;
    gt_dataset *padded = gt_data_pad(ds, 32, -1.0f, err);
    gt_dataset_free(ds);
    return padded;
}

void gt_data_idx_shape(const gt_config *cfg, int *c, int *h, int *w) {
    *c = 1;
    *h = *w = cfg->data_resolution == 32 ? 32 : 28;
}

static gt_dataset *load_train(const gt_config *cfg, uint64_t seed, gt_error *err) {
    (void)seed;
    return gt_data_load_idx_train(cfg, err);
}

const gt_dataset_kind gt_dataset_fashion_mnist = {
    .name = "fashion-mnist", .eval = GT_DATA_EVAL_IMAGES, .has_classes = true,
    .classifier_classes = true, .feature_model = GT_CLASSIFIER_DEFAULT_PATH,
    .shape = gt_data_idx_shape, .load_train = load_train};

/* Digits have their own feature network, and their reference is their own test split. */
const gt_dataset_kind gt_dataset_mnist = {
    .name = "mnist", .eval = GT_DATA_EVAL_IMAGES, .has_classes = true, .classifier_classes = true,
    .feature_model = GT_CLASSIFIER_DIGITS_PATH, .own_reference = true,
    .shape = gt_data_idx_shape, .load_train = load_train};
