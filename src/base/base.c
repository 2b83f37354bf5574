/* See base.h. */
#include "base/base.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
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

int gt_registry_index(const gt_registry *r, const char *name) {
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->name_at(i), name) == 0) return (int)i;
    return -1;
}

const char *gt_registry_names(gt_registry *r) {
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&lock);
    if (!r->names[0]) gt_join_names(r->names, sizeof r->names, r->n, r->name_at, "|");
    pthread_mutex_unlock(&lock);
    return r->names;
}

uint64_t gt_fnv1a64(const char *text) {
    uint64_t h = 14695981039346656037ULL;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) h = (h ^ *p) * 1099511628211ULL;
    return h;
}
