/* The registries' part in the configuration: the allowed values of data.dataset,
 * model.g/d.family and loss.type are the names the dataset, family and loss registries hold. */
#ifndef GT_TRAIN_REGISTRIES_H
#define GT_TRAIN_REGISTRIES_H

/* Provides those names to the configuration (gt_config_provide_names). It runs by itself when
 * the library is loaded (a constructor), and whenever a trainer is built; a program that reads
 * configurations without building a trainer, linked statically, calls it once first. Safe to
 * call again and from several threads. */
void gt_registries_install(void);

#endif
