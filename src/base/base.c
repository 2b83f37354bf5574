/* See base.h. */
#include "base/base.h"

#include <stdio.h>
#include <time.h>

double gt_monotonic_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

const char *gt_join_names(char *buf, size_t cap, size_t n, const char *(*name_at)(size_t i),
                          const char *sep) {
    size_t len = 0;
    if (cap) buf[0] = '\0';
    for (size_t i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", i ? sep : "", name_at(i));
    return buf;
}
