/* Private to the config files: the key table generated from config_keys.def, and the lookup and
 * checked assignment of one key that the INI reader and the command line share. */
#ifndef GT_IO_CONFIG_TABLE_H
#define GT_IO_CONFIG_TABLE_H

#include "io/config.h"

typedef enum { GT_CFG_INT, GT_CFG_FLOAT, GT_CFG_BOOL, GT_CFG_STR, GT_CFG_ENUM } gt_cfg_type;

typedef struct gt_cfg_key {
    const char *section, *key, *def, *allowed, *doc;
    gt_cfg_type type;
    size_t offset, size;  /* of the field in gt_config */
} gt_cfg_key;

enum {
#define GT_KEY(field, ...) GT_CFG_KEY_##field,
#include "io/config_keys.def"
#undef GT_KEY
    GT_CFG_N_KEYS
};

extern const gt_cfg_key gt_cfg_keys[GT_CFG_N_KEYS];

/* 0 if some key has this section, else -1 with err "where: unknown section [s]; the sections
 * are: ...". */
int gt_cfg_check_section(const char *section, const char *where, gt_error *err);
/* The index of [section] key, or -1 with err naming where and listing the section's keys. */
int gt_cfg_resolve(const char *section, const char *key, const char *where, gt_error *err);
/* Parses value into key i of c; on a bad value c is unchanged and err says what is allowed. */
int gt_cfg_apply(gt_config *c, int i, const char *value, const char *where, gt_error *err);

#endif
