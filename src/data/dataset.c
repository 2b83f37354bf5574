/* The gt_dataset container: allocation with overflow checks and release. Every loader in
 * src/data/ fills one of these; the loader (loader.c) only reads it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/data.h"

gt_dataset *gt_dataset_new(int64_t n, int c, int h, int w, bool labelled, const char *name,
                              gt_error *err) {
    int64_t per = (int64_t)c * h * w;
    if (n <= 0 || per <= 0 || n > (int64_t)(SIZE_MAX / sizeof(float)) / per) {
        gt_error_set(err, "%s: cannot hold %lld examples of %dx%dx%d: the size is out of range",
                     name, (long long)n, c, h, w);
        return NULL;
    }
    gt_dataset *ds = calloc(1, sizeof *ds);
    if (ds) ds->x = malloc((size_t)(n * per) * sizeof(float));
    if (ds && labelled) ds->labels = malloc((size_t)n * sizeof(int32_t));
    if (!ds || !ds->x || (labelled && !ds->labels)) {
        gt_dataset_free(ds);
        gt_error_set(err, "%s: out of memory for %lld examples of %dx%dx%d (%.1f MiB)", name,
                     (long long)n, c, h, w, (double)(n * per) * sizeof(float) / 1048576.0);
        return NULL;
    }
    ds->n = n;
    ds->c = c;
    ds->h = h;
    ds->w = w;
    snprintf(ds->name, sizeof ds->name, "%s", name);
    return ds;
}

void gt_dataset_free(gt_dataset *ds) {
    if (!ds) return;
    free(ds->x);
    free(ds->labels);
    free(ds);
}

gt_dataset *gt_data_pad(const gt_dataset *ds, int side, float value, gt_error *err) {
    int top = (side - ds->h) / 2, left = (side - ds->w) / 2;
    if (side < ds->h || side < ds->w || (side - ds->h) % 2 || (side - ds->w) % 2) {
        gt_error_set(err, "%s: cannot pad %dx%d images evenly to %dx%d", ds->name, ds->h, ds->w,
                     side, side);
        return NULL;
    }
    gt_dataset *out = gt_dataset_new(ds->n, ds->c, side, side, ds->labels != NULL, ds->name, err);
    if (!out) return NULL;
    for (int64_t i = 0; i < ds->n * ds->c; i++) {
        float *dst = out->x + i * side * side;
        const float *src = ds->x + i * ds->h * ds->w;
        for (int p = 0; p < side * side; p++) dst[p] = value;
        for (int y = 0; y < ds->h; y++)
            memcpy(dst + (size_t)(y + top) * side + left, src + (size_t)y * ds->w,
                   (size_t)ds->w * sizeof(float));
    }
    if (ds->labels) memcpy(out->labels, ds->labels, (size_t)ds->n * sizeof(int32_t));
    out->n_classes = ds->n_classes;
    return out;
}
