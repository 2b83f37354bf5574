/* Small helpers every layer above the core shares: the one definition of pi (ISO C has no M_PI),
 * the monotonic clock that times steps, runs and ablations, a string hash, and the joining of a
 * registry's names. src/core/profile.c keeps its own clock so that the core depends on nothing
 * above it. */
#ifndef GT_BASE_H
#define GT_BASE_H

#include <stddef.h>
#include <stdint.h>

#define GT_PI 3.14159265358979323846

/* Seconds on the monotonic clock (an arbitrary origin: only differences mean something). */
double gt_monotonic_s(void);

/* 64-bit FNV-1a of a string: a stable name for a configuration's text (the ranks' check that
 * they train the same run, an ablation's timing key), not a defence against forgery. */
uint64_t gt_fnv1a64(const char *text);

/* The names of n entries (name_at(i) for i < n) joined by sep into buf of cap bytes (cut short
 * if it does not fit); returns buf. */
const char *gt_join_names(char *buf, size_t cap, size_t n, const char *(*name_at)(size_t i),
                          const char *sep);

/* What the registries (datasets, model families, losses) share: n entries reached by name,
 * name_at(i) naming entry i: `static gt_registry r = {.n = N, .name_at = name_at};`. */
typedef struct gt_registry {
    size_t n;
    const char *(*name_at)(size_t i);
    char names[512]; /* "a|b|c", joined at first use */
} gt_registry;
/* The index of the entry named `name`, or -1. */
int gt_registry_index(const gt_registry *r, const char *name);
/* The names in registry order, '|'-separated (the configuration's allowed values); joined once
 * under a lock, since jobs on several threads may configure at once. */
const char *gt_registry_names(gt_registry *r);

#endif
