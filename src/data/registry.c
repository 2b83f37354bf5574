/* The dataset registry (registry.h). */
#include "data/registry.h"

#include <pthread.h>
#include <string.h>

#include "base/base.h"

static const gt_dataset_kind *const kinds[] = {
#define GT_DATASET(name) &gt_dataset_##name,
#include "data/datasets.def"
#undef GT_DATASET
};
#define N_KINDS (sizeof kinds / sizeof kinds[0])

const gt_dataset_kind *gt_dataset_kind_find(const char *name) {
    for (size_t i = 0; i < N_KINDS; i++)
        if (strcmp(kinds[i]->name, name) == 0) return kinds[i];
    return NULL;
}

static const char *kind_name_at(size_t i) { return kinds[i]->name; }

static char names[512];
static void join_names(void) { gt_join_names(names, sizeof names, N_KINDS, kind_name_at, "|"); }

/* Joined once: jobs on several threads may configure at once. */
const char *gt_dataset_kind_names(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, join_names);
    return names;
}

gt_dataset *gt_dataset_load_reference(const gt_dataset_kind *k, const gt_config *cfg,
                                      const char *dir, gt_error *err) {
    return gt_data_load_mnist_dir(k->own_reference ? cfg->data_path : dir, "test", err);
}
