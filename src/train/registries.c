/* See registries.h. The configuration (src/io) sits below the registries and cannot name them,
 * so the layer that sees them all hands their name lists down. */
#include "train/registries.h"

#include <pthread.h>

#include "data/registry.h"
#include "gan/gan.h"
#include "io/config.h"
#include "nn/model.h"

static void provide_all(void) {
    gt_config_provide_names("dataset", gt_dataset_kind_names);
    gt_config_provide_names("family", gt_model_family_names);
    gt_config_provide_names("loss", gt_loss_names);
}

void gt_registries_install(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, provide_all);
}

/* Programs that link the library get the names before main: the shared library runs this when
 * it is loaded, a static link whenever this file is linked in, which the trainer guarantees
 * (gt_trainer_init calls gt_registries_install). */
__attribute__((constructor)) static void install_at_load(void) { gt_registries_install(); }
