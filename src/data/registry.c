/* The dataset registry (registry.h). */
#include "data/registry.h"

#include <string.h>

static const gt_dataset_kind *const kinds[] = {
    &gt_dataset_fashion_mnist, &gt_dataset_mnist, &gt_dataset_png,
    &gt_dataset_ring,          &gt_dataset_grid,  &gt_dataset_stacked_fashion_mnist,
};
#define N_KINDS (sizeof kinds / sizeof kinds[0])

const gt_dataset_kind *gt_dataset_kind_find(const char *name) {
    for (size_t i = 0; i < N_KINDS; i++)
        if (strcmp(kinds[i]->name, name) == 0) return kinds[i];
    return NULL;
}

const char *gt_dataset_kind_names(void) {
    static char names[512];
    if (!names[0])
        for (size_t i = 0, n = 0; i < N_KINDS; i++)
            n += (size_t)snprintf(names + n, sizeof names - n, "%s%s", i ? "|" : "", kinds[i]->name);
    return names;
}

gt_dataset *gt_dataset_load_reference(const gt_dataset_kind *k, const gt_config *cfg,
                                      const char *dir, gt_error *err) {
    return gt_data_load_mnist_dir(k->own_reference ? cfg->data_path : dir, "test", err);
}
