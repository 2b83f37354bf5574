/* Output files for samples and logs: PNG grids of images, NumPy .npy arrays, and JSON-lines
 * logs. Grids and arrays are written atomically; log lines are appended and flushed. */
#ifndef GT_IO_IMAGE_H
#define GT_IO_IMAGE_H

#include <stdint.h>

#include "gantry.h"

#define GT_GRID_BORDER 2  /* pixels of black around and between the tiles */

/* x: [n, c, h, w] in [-1, 1] (clamped; NaN becomes 1), c = 1 (gray) or 3 (RGB). Tiles the images
 * row by row into `cols` columns and ceil(n / cols) rows, and writes an 8-bit PNG of
 * (cols (w + B) + B) x (rows (h + B) + B) pixels, B = GT_GRID_BORDER;
 * pixel = round((v + 1) 127.5). */
int gt_png_write_grid(const char *path, const float *x, int n, int c, int h, int w, int cols,
                      gt_error *err);
/* A NumPy .npy v1.0 file of little-endian float32 ('<f4', C order) with the given shape
 * (ndim 0..GT_MAX_DIMS); x holds prod(shape) values. */
/* Reads a .npy of little-endian float32 in C order; returns malloc'd data and its shape (at
 * most GT_MAX_DIMS dims), or NULL with err naming the file and the problem. */
float *gt_npy_read(const char *path, int *ndim, int64_t *shape, gt_error *err);
int gt_npy_write(const char *path, const float *x, int ndim, const int64_t *shape, gt_error *err);
/* Appends json_line and '\n' to path (created if missing) and flushes; json_line must be one
 * line (no '\n'). */
int gt_jsonl_append(const char *path, const char *json_line, gt_error *err);

#endif
