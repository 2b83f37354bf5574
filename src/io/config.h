/* The configuration: a struct generated from config_keys.def, filled from defaults, INI files
 * (through libinih) and "section.key=value" overrides, each value checked against the key's
 * type and allowed values; written back as INI with each key's documentation. */
#ifndef GT_IO_CONFIG_H
#define GT_IO_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "gantry.h"

#define GT_CFG_STR_MAX 256
#define GT_CFG_ENUM_MAX 64

#define GT_CFG_FIELD_INT(f) int64_t f;
#define GT_CFG_FIELD_FLOAT(f) double f;
#define GT_CFG_FIELD_BOOL(f) bool f;
#define GT_CFG_FIELD_STR(f) char f[GT_CFG_STR_MAX];
#define GT_CFG_FIELD_ENUM(f) char f[GT_CFG_ENUM_MAX];

/* One field per key, named in config_keys.def ([model.g] width is g_width, and so on). */
typedef struct gt_config {
#define GT_KEY(field, section, key, type, def, allowed, doc) GT_CFG_FIELD_##type(field)
#include "io/config_keys.def"
#undef GT_KEY
} gt_config;

/* The allowed values of an ENUM key whose list in config_keys.def reads "@registry" come from that
 * registry, which lives above io (datasets, model families, losses): names() returns them
 * '|'-separated. Provided once at start, before any configuration is read or defaulted
 * (gt_registries_install, src/train/registries.c, provides them all); a key whose registry was
 * not provided accepts nothing. */
typedef const char *(*gt_cfg_names_fn)(void);
void gt_config_provide_names(const char *registry, gt_cfg_names_fn names);

void gt_config_defaults(gt_config *c);
/* Sets the keys present in an INI file. On error c is unchanged and err names the file, the line,
 * the key and what is allowed. Lines longer than about 200 characters are an error (libinih). */
int gt_config_load_file(gt_config *c, const char *path, gt_error *err);
/* One "section.key=value" override; the section is everything before the last dot of the left
 * side ("model.g.width=64" sets [model.g] width). origin names the source ("command line"). */
int gt_config_set(gt_config *c, const char *assignment, const char *origin, gt_error *err);
/* The fully resolved configuration as INI with each key's documentation, written atomically. */
int gt_config_write(const gt_config *c, const char *path, gt_error *err);
/* Every section and key with its default, allowed values and documentation, as INI. */
void gt_config_print_defaults(FILE *out);
/* INI text without comments (for checkpoint metadata); returns its length, or -1 if it does not
 * fit in cap bytes (the terminating NUL included). */
int gt_config_to_string(const gt_config *c, char *buf, size_t cap);
/* Sets the keys present in INI text; origin names it in errors ("checkpoint x: config"). */
int gt_config_from_string(gt_config *c, const char *ini_text, const char *origin, gt_error *err);

/* One key whose value differs between two configurations, the values as INI writes them. */
typedef struct gt_config_difference {
    const char *section, *key;
    char a[GT_CFG_STR_MAX], b[GT_CFG_STR_MAX];
} gt_config_difference;
/* The next key, from key number *from on, whose value differs between a and b: 1 with d filled
 * and *from moved past it, 0 when none is left. Start with *from = 0. */
int gt_config_next_difference(const gt_config *a, const gt_config *b, int *from, gt_config_difference *d);

#endif
