/* Limited data and a held-out set (data.limit, data.holdout): disjoint, class-balanced
 * subsets of a dataset picked in a seeded random order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/data.h"

/* A permutation of [0, n) by Fisher-Yates on Philox draws keyed by seed. */
static int64_t *seeded_order(int64_t n, uint64_t seed) {
    int64_t *order = malloc((size_t)(n > 0 ? n : 1) * sizeof *order);
    if (!order) return NULL;
    for (int64_t i = 0; i < n; i++) order[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        uint32_t r[4];
        gt_philox4x32(r, (uint64_t)i, seed);
        uint64_t draw = ((uint64_t)r[0] << 32) | r[1];
        int64_t j = (int64_t)(draw % (uint64_t)(i + 1));
        int64_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    return order;
}

/* The quota of class k when `take` examples are spread over `classes` classes. */
static int64_t quota(int64_t take, int classes, int k) {
    return take / classes + (k < take % classes ? 1 : 0);
}

/* Marks `take` unmarked examples (in `order`) with `mark`, class-balanced when labelled;
 * -1 with err when a class runs out. */
static int pick(const gt_dataset *ds, const int64_t *order, int64_t take, unsigned char mark,
                unsigned char *marks, const char *key, gt_error *err) {
    int classes = ds->labels && ds->n_classes > 0 ? ds->n_classes : 1;
    int64_t *count = calloc((size_t)classes, sizeof *count), got = 0;
    if (!count) return gt_error_set(err, "out of memory (data subsets)");
    for (int64_t i = 0; i < ds->n && got < take; i++) {
        int64_t e = order[i];
        int k = classes > 1 ? ds->labels[e] : 0;
        if (marks[e] || k < 0 || k >= classes || count[k] >= quota(take, classes, k)) continue;
        marks[e] = mark;
        count[k]++, got++;
    }
    free(count);
    if (got < take)
        return gt_error_set(err, "config: %s = %lld: %s has %lld examples%s left for it", key,
                            (long long)take, ds->name, (long long)got,
                            classes > 1 ? " (class-balanced)" : "");
    return 0;
}

/* The examples marked `mark`, in their original order. */
static gt_dataset *gather(const gt_dataset *ds, const unsigned char *marks, unsigned char mark,
                          int64_t n, const char *what, gt_error *err) {
    char name[64];
    snprintf(name, sizeof name, "%.40s (%s)", ds->name, what);
    gt_dataset *out = gt_dataset_new(n, ds->c, ds->h, ds->w, ds->labels != NULL, name, err);
    if (!out) return NULL;
    out->n_classes = ds->n_classes;
    int64_t per = (int64_t)ds->c * ds->h * ds->w, j = 0;
    for (int64_t i = 0; i < ds->n; i++) {
        if (marks[i] != mark) continue;
        memcpy(out->x + j * per, ds->x + i * per, (size_t)per * sizeof *out->x);
        if (ds->labels) out->labels[j] = ds->labels[i];
        j++;
    }
    return out;
}

int gt_data_split(const gt_dataset *ds, int64_t holdout, int64_t limit, uint64_t seed,
                  gt_dataset **train, gt_dataset **held, gt_error *err) {
    *train = *held = NULL;
    enum { UNUSED = 0, HELD = 1, TRAIN = 2 };
    int64_t *order = seeded_order(ds->n, seed);
    unsigned char *marks = calloc((size_t)(ds->n > 0 ? ds->n : 1), 1);
    int rc = order && marks ? 0 : gt_error_set(err, "out of memory (data subsets)");
    if (rc == 0 && holdout > 0) rc = pick(ds, order, holdout, HELD, marks, "data.holdout", err);
    int64_t train_n = limit > 0 ? limit : ds->n - holdout;
    if (rc == 0 && limit > 0) rc = pick(ds, order, train_n, TRAIN, marks, "data.limit", err);
    for (int64_t i = 0; rc == 0 && limit == 0 && i < ds->n; i++) /* all the others */
        if (marks[i] == UNUSED) marks[i] = TRAIN;
    if (rc == 0 && !(*train = gather(ds, marks, TRAIN, train_n, "training subset", err))) rc = -1;
    if (rc == 0 && holdout > 0 && !(*held = gather(ds, marks, HELD, holdout, "held out", err))) rc = -1;
    if (rc < 0) {
        gt_dataset_free(*train);
        *train = NULL;
    }
    free(order);
    free(marks);
    return rc;
}
