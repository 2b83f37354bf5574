/* What the ablation's files share inside the library (not exported): ablate_spec.c's helpers
 * for ablate.c and ablate_reuse.c's for gt_ablate_plan. */
#ifndef GT_TRAIN_ABLATE_INTERNAL_H
#define GT_TRAIN_ABLATE_INTERNAL_H

#include "io/config.h"
#include "train/ablate.h"

struct cJSON;

/* train.steps under a budget in minutes, so large that the clock always ends the run; the
 * longest run folder name (before "-s<seed>"). */
#define GT_ABLATE_STEPS_UNLIMITED_ 1000000000LL
#define GT_ABLATE_RUN_NAME_MAX_ 200
/* The number of combinations of the varied values, and the value of varied key k in
 * combination c (the last key varies fastest). */
int gt_ablate_n_combos_(const gt_ablate_spec *s);
int gt_ablate_value_index_(const gt_ablate_spec *s, int c, int k);
const char *gt_ablate_combo_value_(const gt_ablate_spec *s, int c, int k);
/* Applies value j of axis v to cfg: key=value, or every assignment of a choice's alternative. */
int gt_ablate_apply_value_(gt_config *cfg, const gt_ablate_vary *v, int j, gt_error *err);
/* The first assignment of a ';'-separated list into buf; returns the rest, or NULL at its end. */
const char *gt_ablate_next_assignment_(const char *list, char *buf, size_t cap);
/* The "section.key" of an assignment "section.key=value" into key. */
void gt_ablate_key_of_(const char *assignment, char *key, size_t cap);
/* A folder name keeps letters, digits and . = + , - and maps the rest (a '/' in a path) to '_'. */
void gt_ablate_make_safe_(char *name);

/* j printed to path atomically (a temporary file, then a rename). */
int gt_ablate_write_json_(const char *path, const struct cJSON *j, gt_error *err);

/* --reuse. The configuration as canonical text for comparing runs, with train.threads as 0 (it
 * changes speed, not numbers); *text is malloc'd. */
int gt_ablate_config_text_(const gt_config *cfg, char **text, gt_error *err);
/* The first finished run (ablate.json says trained) under ablations[i]/runs/ whose config.ini
 * resolves to the text want: 1 with its folder in found and its ablate.json in *state (free
 * it with cJSON_Delete), else 0. */
int gt_ablate_find_reusable_(const char *const *ablations, int n, const char *want, char *found,
                             size_t cap, struct cJSON **state);
/* Hard-links (or copies) run folder from's files into to, ablate.json and lock aside. */
int gt_ablate_link_run_(const char *from, const char *to, gt_error *err);

#endif
