/* ckpt_same [--tol T] A B: exit 0 when the checkpoints hold the same tensors (names, shapes and
 * every byte of data; with --tol, every element within T x max(1, the largest |element| of that
 * tensor in B)), 1 naming the first difference, 2 on an unreadable file or bad arguments. The
 * metadata (the configuration, which records how the run was split) is not compared. For
 * tests/mpi_train.sh. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"

static double tolerance = -1; /* < 0: bit for bit */
static double worst_seen = 0;

static int differ_bits(const gt_st_tensor *a, const gt_st_tensor *b) {
    for (int64_t i = 0; i < a->numel; i++)
        if (memcmp(&a->data[i], &b->data[i], sizeof(float)) != 0)
            return printf("ckpt_same: tensor %s differs at element %lld: %.9g vs %.9g\n", a->name,
                          (long long)i, a->data[i], b->data[i]), 1;
    return 0;
}

static int differ_beyond_tolerance(const gt_st_tensor *a, const gt_st_tensor *b) {
    double scale = 1;
    for (int64_t i = 0; i < b->numel; i++) scale = fmax(scale, fabs((double)b->data[i]));
    for (int64_t i = 0; i < a->numel; i++) {
        double d = fabs((double)a->data[i] - b->data[i]) / scale;
        if (!(d <= tolerance))
            return printf("ckpt_same: tensor %s differs at element %lld by %.3g of max(1, its "
                          "largest): %.9g vs %.9g\n", a->name, (long long)i, d, a->data[i],
                          b->data[i]), 1;
        worst_seen = fmax(worst_seen, d);
    }
    return 0;
}

static int differ(const gt_st_tensor *a, const gt_st_tensor *b) {
    if (!b) return printf("ckpt_same: tensor %s is missing from the second file\n", a->name), 1;
    if (a->ndim != b->ndim || a->numel != b->numel ||
        memcmp(a->shape, b->shape, (size_t)a->ndim * sizeof *a->shape) != 0)
        return printf("ckpt_same: tensor %s has another shape\n", a->name), 1;
    return tolerance < 0 ? differ_bits(a, b) : differ_beyond_tolerance(a, b);
}

int main(int argc, char **argv) {
    if (argc == 5 && strcmp(argv[1], "--tol") == 0) {
        char *end;
        tolerance = strtod(argv[2], &end);
        if (*end || !(tolerance >= 0)) return fprintf(stderr, "ckpt_same: bad --tol %s\n", argv[2]), 2;
        argv += 2, argc -= 2;
    }
    if (argc != 3) return fprintf(stderr, "usage: ckpt_same [--tol T] A B\n"), 2;
    gt_error err;
    gt_st_file *a = gt_st_read(argv[1], &err), *b = a ? gt_st_read(argv[2], &err) : NULL;
    if (!a || !b) {
        fprintf(stderr, "ckpt_same: %s\n", err.msg);
        gt_st_free(a);
        return 2;
    }
    int rc = gt_st_count(a) == gt_st_count(b) ? 0 : (printf("ckpt_same: tensor counts differ\n"), 1);
    for (int i = 0; rc == 0 && i < gt_st_count(a); i++) {
        const gt_st_tensor *t = gt_st_at(a, i);
        rc = differ(t, gt_st_find(b, t->name));
    }
    if (rc == 0 && tolerance >= 0) printf("       largest difference %.3g (tolerance %.3g)\n", worst_seen, tolerance);
    gt_st_free(a);
    gt_st_free(b);
    return rc;
}
