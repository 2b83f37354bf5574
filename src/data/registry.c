/* The dataset registry (registry.h). */
#include "data/registry.h"


#include "base/base.h"

static const gt_dataset_kind *const kinds[] = {
#define GT_DATASET(name) &gt_dataset_##name,
#include "data/datasets.def"
#undef GT_DATASET
};
#define N_KINDS (sizeof kinds / sizeof kinds[0])

static const char *kind_name_at(size_t i) { return kinds[i]->name; }
static gt_registry registry = {.n = N_KINDS, .name_at = kind_name_at};

const gt_dataset_kind *gt_dataset_kind_find(const char *name) {
    int i = gt_registry_index(&registry, name);
    return i < 0 ? NULL : kinds[i];
}

const char *gt_dataset_kind_names(void) { return gt_registry_names(&registry); }

gt_dataset *gt_dataset_load_reference(const gt_dataset_kind *k, const gt_config *cfg,
                                      const char *dir, gt_error *err) {
    return gt_data_load_mnist_dir(k->own_reference ? cfg->data_path : dir, "test", err);
}
