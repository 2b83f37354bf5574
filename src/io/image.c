/* Output files: PNG sample grids through libpng's simplified API, NumPy .npy arrays (format
 * version 1.0), and JSON-lines logs. Grids and arrays go through gt_atomic, so an earlier file
 * survives a failed write. */
#include "io/image.h"

#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>

#include "io/atomic.h"

#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__)
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "'<f4' data is written as raw floats");
#endif

#define NPY_ALIGN 64  /* numpy pads the header so the data starts on a 64-byte boundary */

static unsigned char to_byte(float v) {
    v = fmaxf(-1.0f, fminf(1.0f, v));  /* fminf(1, NaN) = 1: NaN never reaches the cast */
    return (unsigned char)((v + 1.0f) * 127.5f + 0.5f);
}

/* Copies image k ([c, h, w], planar) into its tile of the interleaved grid (stride bytes a row). */
static void put_tile(unsigned char *grid, size_t stride, const float *img, int c, int h, int w,
                     int x0, int y0) {
    for (int y = 0; y < h; y++) {
        unsigned char *row = grid + (size_t)(y0 + y) * stride + (size_t)x0 * c;
        for (int x = 0; x < w; x++)
            for (int ch = 0; ch < c; ch++)
                row[(size_t)x * c + ch] = to_byte(img[((size_t)ch * h + y) * w + x]);
    }
}

static int grid_args_ok(const char *path, int n, int c, int h, int w, int cols, gt_error *err) {
    if (n < 1 || (c != 1 && c != 3) || h < 1 || w < 1 || cols < 1)
        return gt_error_set(err, "cannot write '%s': a grid needs n >= 1 images of 1 or 3 channels "
                            "and cols >= 1 (got n %d, c %d, h %d, w %d, cols %d)", path, n, c, h, w,
                            cols);
    int rows = (n + cols - 1) / cols;
    double gw = (double)cols * (w + GT_GRID_BORDER) + GT_GRID_BORDER;
    double gh = (double)rows * (h + GT_GRID_BORDER) + GT_GRID_BORDER;
    if (gw * gh * c > (double)(1u << 30))
        return gt_error_set(err, "cannot write '%s': the grid of %.0f x %.0f pixels is too large "
                            "(hint: write fewer images)", path, gw, gh);
    return 0;
}

int gt_png_write_grid(const char *path, const float *x, int n, int c, int h, int w, int cols,
                      gt_error *err) {
    if (grid_args_ok(path, n, c, h, w, cols, err) != 0) return -1;
    int rows = (n + cols - 1) / cols, b = GT_GRID_BORDER;
    int gw = cols * (w + b) + b, gh = rows * (h + b) + b;
    size_t stride = (size_t)gw * c;
    unsigned char *grid = calloc((size_t)gh, stride);
    if (!grid) return gt_error_set(err, "cannot write '%s': out of memory for the grid", path);
    for (int k = 0; k < n; k++)
        put_tile(grid, stride, x + (size_t)k * c * h * w, c, h, w, b + (k % cols) * (w + b),
                 b + (k / cols) * (h + b));
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32)gw;
    img.height = (png_uint_32)gh;
    img.format = c == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
    gt_atomic a;
    FILE *f = gt_atomic_open(path, &a, err);
    int rc = -1;
    if (f && !png_image_write_to_stdio(&img, f, 0, grid, (png_int_32)stride, NULL)) {
        gt_error_set(err, "cannot write PNG '%s': %s", path, img.message);
        gt_atomic_abort(&a);
    } else if (f) {
        rc = gt_atomic_commit(&a, err);
    }
    png_image_free(&img);
    free(grid);
    return rc;
}

/* The header dict, e.g. "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", padded
 * with spaces and ended by '\n' so that 10 + its length is a multiple of 64. Returns its length. */
static size_t npy_header(char *buf, size_t cap, int ndim, const int64_t *shape) {
    int len = snprintf(buf, cap, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    for (int d = 0; d < ndim; d++)
        len += snprintf(buf + len, cap - (size_t)len, d ? ", %lld" : "%lld", (long long)shape[d]);
    len += snprintf(buf + len, cap - (size_t)len, ndim == 1 ? ",), }" : "), }");
    size_t total = ((size_t)len + 10 + 1 + NPY_ALIGN - 1) / NPY_ALIGN * NPY_ALIGN;
    size_t hlen = total - 10;
    memset(buf + len, ' ', hlen - 1 - (size_t)len);
    buf[hlen - 1] = '\n';
    return hlen;
}

int gt_npy_write(const char *path, const float *x, int ndim, const int64_t *shape, gt_error *err) {
    if (ndim < 0 || ndim > GT_MAX_DIMS)
        return gt_error_set(err, "cannot write '%s': %d dims (at most %d)", path, ndim,
                            GT_MAX_DIMS);
    int64_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0)
            return gt_error_set(err, "cannot write '%s': dim %d is negative", path, d);
        numel *= shape[d];
    }
    char header[320];  /* 6 dims of up to 20 digits: at most 246 bytes after padding */
    size_t hlen = npy_header(header, sizeof header, ndim, shape);
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                             (unsigned char)(hlen & 0xff), (unsigned char)(hlen >> 8)};
    gt_atomic a;
    FILE *f = gt_atomic_open(path, &a, err);
    if (!f) return -1;
    fwrite(pre, 1, sizeof pre, f);
    fwrite(header, 1, hlen, f);
    if (numel) fwrite(x, sizeof(float), (size_t)numel, f);
    return gt_atomic_commit(&a, err);
}

int gt_jsonl_append(const char *path, const char *json_line, gt_error *err) {
    if (strchr(json_line, '\n'))
        return gt_error_set(err, "cannot append to '%s': the record spans several lines", path);
    FILE *f = fopen(path, "a");
    if (!f)
        return gt_error_set(err, "cannot open '%s' for appending: %s%s", path, strerror(errno),
                            gt_errno_hint(errno));
    fputs(json_line, f);
    fputc('\n', f);
    return gt_stream_close_checked(f, path, false, err);
}
