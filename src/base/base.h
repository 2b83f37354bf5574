/* Small helpers every layer above the core shares: the one definition of pi (ISO C has no M_PI),
 * the monotonic clock that times steps, runs and ablations, and the joining of a registry's
 * names. src/core/profile.c keeps its own clock so that the core depends on nothing above it. */
#ifndef GT_BASE_H
#define GT_BASE_H

#include <stddef.h>

#define GT_PI 3.14159265358979323846

/* Seconds on the monotonic clock (an arbitrary origin: only differences mean something). */
double gt_monotonic_s(void);

/* The names of a registry's n entries (name_at(i) for i < n) joined by sep into buf of cap bytes
 * (cut short if it does not fit); returns buf. The registries list their allowed values with it. */
const char *gt_join_names(char *buf, size_t cap, size_t n, const char *(*name_at)(size_t i),
                          const char *sep);

#endif
