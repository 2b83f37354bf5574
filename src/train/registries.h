/* The registries' part in the configuration: the allowed values of data.dataset,
 * model.g/d.family and loss.type are the names the dataset, family and loss registries hold. */
#ifndef GT_TRAIN_REGISTRIES_H
#define GT_TRAIN_REGISTRIES_H

/* Provides those names to the configuration (gt_config_provide_names). Call it once before any
 * configuration is defaulted, read or printed: the CLI's main and the test runner do. Safe to
 * call again and from several threads. */
void gt_registries_install(void);

#endif
