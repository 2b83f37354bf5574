/* Small helpers every layer above the core shares: the one definition of pi (ISO C has no M_PI)
 * and the monotonic clock that times steps, runs and ablations. src/core/profile.c keeps its own
 * clock so that the core depends on nothing above it. */
#ifndef GT_BASE_H
#define GT_BASE_H

#define GT_PI 3.14159265358979323846

/* Seconds on the monotonic clock (an arbitrary origin: only differences mean something). */
double gt_monotonic_s(void);

#endif
