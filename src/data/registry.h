/* The dataset registry: each data.dataset value is one entry that answers what the trainer,
 * the evaluator and the sampler ask about it (its example shape, whether it has classes, how
 * to load its training split and its evaluation reference, whether it is a 2-D mixture), so
 * none of them names a dataset. Adding a dataset is one file defining a gt_dataset_kind and one
 * line in src/data/registry.c. */
#ifndef GT_DATA_REGISTRY_H
#define GT_DATA_REGISTRY_H

#include "data/data.h"
#include "io/config.h"

/* How a dataset's samples are scored (protocols.md). */
typedef enum {
    GT_DATA_EVAL_NONE,      /* no feature network yet */
    GT_DATA_EVAL_IMAGES,    /* FID, KID, precision/recall on the classifier's features */
    GT_DATA_EVAL_STACKED,   /* the classifier's class triples (1,000 modes) */
    GT_DATA_EVAL_POINTS,    /* a 2-D mixture's modes */
} gt_data_eval;

typedef struct gt_dataset_kind {
    const char *name;                 /* data.dataset */
    gt_data_eval eval;
    bool mixture;                     /* 2-D points: examples [2, 1, 1] */
    bool has_classes;                 /* labelled out of the box (PNG: when in class folders) */
    bool classifier_classes;          /* its 10 labels are the metrics classifier's classes */
    const char *feature_model;        /* eval's default feature network (NULL: none) */
    bool own_reference;               /* the reference split is data.path's, not Fashion-MNIST's */
    int64_t eval_samples;             /* the protocol's sample count (0: train.eval_n / --n) */
    float plot_extent;                /* mixtures: the scatter plot shows [-extent, extent]^2 */
    /* One example's shape under the configuration. */
    void (*shape)(const gt_config *cfg, int *c, int *h, int *w);
    /* The training split; seed draws synthetic data. NULL with err set on failure. */
    gt_dataset *(*load_train)(const gt_config *cfg, uint64_t seed, gt_error *err);
} gt_dataset_kind;

/* The entry named data.dataset, or NULL. */
const gt_dataset_kind *gt_dataset_kind_find(const char *name);
/* "fashion-mnist|mnist|..." in registry order (the configuration's allowed values). */
const char *gt_dataset_kind_names(void);

/* The evaluation reference of image data: the test split of data.path when own_reference,
 * else of dir. */
gt_dataset *gt_dataset_load_reference(const gt_dataset_kind *k, const gt_config *cfg,
                                      const char *dir, gt_error *err);

/* Entries (defined next to their loaders), one per line of datasets.def. */
#define GT_DATASET(name) extern const gt_dataset_kind gt_dataset_##name;
#include "data/datasets.def"
#undef GT_DATASET

/* Shared by the IDX entries: data.resolution 28 as stored or 32 padded with background. */
gt_dataset *gt_data_load_idx_train(const gt_config *cfg, gt_error *err);
void gt_data_idx_shape(const gt_config *cfg, int *c, int *h, int *w);

#endif
