/* Reading NumPy .npy files of little-endian float32 in C order (versions 1.0 to 3.0): the
 * header's dict is parsed for descr, fortran_order and shape, and the data size is checked
 * against the file before anything is read. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/image.h"

#define NPY_HEADER_MAX (1 << 20)

/* Parses "(a, b, ...)" after "'shape':"; returns ndim or -1. */
static int parse_shape(const char *hdr, int64_t *shape) {
    const char *p = strstr(hdr, "'shape'");
    if (!p || !(p = strchr(p, '('))) return -1;
    int nd = 0;
    for (p++; *p && *p != ')';) {
        while (*p == ' ' || *p == ',') p++;
        if (*p == ')') break;
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p || v < 0 || nd == GT_MAX_DIMS) return -1;
        shape[nd++] = v;
        p = end;
    }
    return *p == ')' ? nd : -1;
}

static int read_header(FILE *f, const char *path, char **hdr_out, gt_error *err) {
    unsigned char pre[10];
    if (fread(pre, 1, 8, f) != 8 || memcmp(pre, "\x93NUMPY", 6) != 0)
        return gt_error_set(err, "%s: not a .npy file (no \\x93NUMPY magic)", path);
    int major = pre[6];
    size_t len;
    if (major == 1) {
        if (fread(pre, 1, 2, f) != 2) return gt_error_set(err, "%s: truncated .npy header", path);
        len = (size_t)pre[0] | (size_t)pre[1] << 8;
    } else if (major == 2 || major == 3) {
        if (fread(pre, 1, 4, f) != 4) return gt_error_set(err, "%s: truncated .npy header", path);
        len = (size_t)pre[0] | (size_t)pre[1] << 8 | (size_t)pre[2] << 16 | (size_t)pre[3] << 24;
    } else {
        return gt_error_set(err, "%s: .npy version %d.%d, expected 1.0 to 3.0", path, major, pre[7]);
    }
    if (len > NPY_HEADER_MAX) return gt_error_set(err, "%s: .npy header of %zu bytes", path, len);
    char *hdr = malloc(len + 1);
    if (!hdr || fread(hdr, 1, len, f) != len) {
        free(hdr);
        return gt_error_set(err, "%s: truncated .npy header (%zu bytes promised)", path, len);
    }
    hdr[len] = '\0';
    *hdr_out = hdr;
    return 0;
}

float *gt_npy_read(const char *path, int *ndim, int64_t *shape, gt_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        gt_error_set(err, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    char *hdr = NULL;
    float *data = NULL;
    if (read_header(f, path, &hdr, err) < 0) goto done;
    if (!strstr(hdr, "'descr': '<f4'")) {
        gt_error_set(err, "%s: dtype is not little-endian float32 ('<f4'): %s", path, hdr);
        goto done;
    }
    if (strstr(hdr, "'fortran_order': True")) {
        gt_error_set(err, "%s: Fortran-order arrays are not supported (save with C order)", path);
        goto done;
    }
    int nd = parse_shape(hdr, shape);
    if (nd < 1) {
        gt_error_set(err, "%s: cannot read the shape in the header: %s", path, hdr);
        goto done;
    }
    int64_t n = 1;
    for (int i = 0; i < nd; i++) n *= shape[i];
    long here = ftell(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    if (size - here != n * (int64_t)sizeof(float)) {
        gt_error_set(err, "%s: the header promises %lld floats (%lld bytes), the file holds %ld bytes "
                          "of data", path, (long long)n, (long long)(n * 4), size - here);
        goto done;
    }
    fseek(f, here, SEEK_SET);
    data = malloc((size_t)(n ? n : 1) * sizeof *data);
    if (!data || fread(data, sizeof *data, (size_t)n, f) != (size_t)n) {
        gt_error_set(err, "%s: cannot read %lld floats", path, (long long)n);
        free(data);
        data = NULL;
        goto done;
    }
    *ndim = nd;
done:
    free(hdr);
    fclose(f);
    return data;
}
