/* Reading NumPy .npy files of little-endian float32 in C order (versions 1.0 to 3.0): the
 * header's dict is parsed for descr, fortran_order and shape, and the data size is checked
 * against the file before anything is read. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/image.h"

#define NPY_HEADER_MAX (1 << 20)

/* The value of a key of the header's dict: what follows "'key':" where that key starts an
 * entry (after '{' or ','), so a key's name inside another entry's string is not taken for it;
 * NULL when absent. */
static const char *dict_value(const char *hdr, const char *key) {
    char quoted[32];
    snprintf(quoted, sizeof quoted, "'%s'", key);
    for (const char *p = strstr(hdr, quoted); p; p = strstr(p + 1, quoted)) {
        const char *q = p;
        while (q > hdr && q[-1] == ' ') q--;
        if (q == hdr || (q[-1] != '{' && q[-1] != ',')) continue;
        const char *v = p + strlen(quoted);
        while (*v == ' ') v++;
        if (*v != ':') continue;
        for (v++; *v == ' ';) v++;
        return v;
    }
    return NULL;
}

/* Whether a dict value is exactly `word` (a quoted string's content when quoted). */
static bool value_is(const char *v, const char *word, bool quoted) {
    size_t n = strlen(word);
    if (!v) return false;
    if (quoted) {
        if (*v != '\'' && *v != '"') return false;
        return strncmp(v + 1, word, n) == 0 && v[1 + n] == v[0];
    }
    return strncmp(v, word, n) == 0 && (v[n] == ',' || v[n] == '}' || v[n] == ' ');
}

/* Parses the shape tuple "(a, b, ...)"; returns ndim or -1 (also for a dimension that does
 * not fit in 64 bits). */
static int parse_shape(const char *v, int64_t *shape) {
    if (!v || *v != '(') return -1;
    int nd = 0;
    const char *p = v + 1;
    for (;;) {
        while (*p == ' ' || *p == ',') p++;
        if (*p == ')') break;
        char *end;
        errno = 0;
        long long d = strtoll(p, &end, 10);
        if (end == p || d < 0 || errno == ERANGE || nd == GT_MAX_DIMS) return -1;
        shape[nd++] = d;
        p = end;
    }
    return nd;
}

/* The element count of a shape, or -1 when its bytes (4 each) exceed what a file can hold. */
static int64_t shape_numel(int nd, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < nd; i++) {
        if (shape[i] != 0 && n > (INT64_MAX / 4) / shape[i]) return -1;
        n *= shape[i];
    }
    return n;
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
    if (!value_is(dict_value(hdr, "descr"), "<f4", true)) {
        gt_error_set(err, "%s: dtype is not little-endian float32 ('descr': '<f4'): %s", path, hdr);
        goto done;
    }
    if (!value_is(dict_value(hdr, "fortran_order"), "False", false)) {
        gt_error_set(err, "%s: 'fortran_order' is not False: only C-order arrays are supported "
                          "(save with C order): %s", path, hdr);
        goto done;
    }
    int nd = parse_shape(dict_value(hdr, "shape"), shape);
    if (nd < 1) {
        gt_error_set(err, "%s: cannot read the shape in the header (a tuple of 1 to %d sizes): %s",
                     path, GT_MAX_DIMS, hdr);
        goto done;
    }
    int64_t n = shape_numel(nd, shape);
    if (n < 0) {
        gt_error_set(err, "%s: the shape in the header holds more than 2^61 floats: %s", path, hdr);
        goto done;
    }
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
