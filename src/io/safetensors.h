/* Checkpoint files in the safetensors format: an 8-byte little-endian header length N, N bytes
 * of JSON ({"__metadata__": {string: string}, name: {"dtype", "shape", "data_offsets"}}, padded
 * with spaces to a multiple of 8), then the raw little-endian tensor data. Float32 only. */
#ifndef GT_IO_SAFETENSORS_H
#define GT_IO_SAFETENSORS_H

#include <stdint.h>

#include "gantry.h"

#define GT_ST_NAME_MAX 128
#define GT_ST_HEADER_MAX (100 * 1024 * 1024)  /* a larger header is taken as corruption */

typedef struct gt_st_tensor {
    char name[GT_ST_NAME_MAX];
    int ndim;
    int64_t shape[GT_MAX_DIMS];
    const float *data;  /* numel floats, owned by the file or the writer's caller */
    int64_t numel;
} gt_st_tensor;

/* Collects entries, then writes them atomically. */
typedef struct gt_st_writer gt_st_writer;
gt_st_writer *gt_st_writer_new(void);
/* data is referenced, not copied, until gt_st_writer_write; name is copied. */
void gt_st_writer_add(gt_st_writer *w, const char *name, int ndim, const int64_t *shape,
                      const float *data);
/* t's elements (copied now, from the backend's memory) under name, with t's shape. */
void gt_st_writer_add_tensor(gt_st_writer *w, const char *name, const gt_tensor *t);
void gt_st_writer_meta(gt_st_writer *w, const char *key, const char *value);  /* both copied */
/* Writes the file atomically (an earlier file survives any failure). Names must be unique,
 * shorter than GT_ST_NAME_MAX and not "__metadata__". */
int gt_st_writer_write(gt_st_writer *w, const char *path, gt_error *err);
void gt_st_writer_free(gt_st_writer *w);

/* A file read and validated whole: every offset, size, dtype and shape is checked against the
 * file before any tensor is exposed, so a corrupt file is an error, never an out-of-bounds read. */
typedef struct gt_st_file gt_st_file;
gt_st_file *gt_st_read(const char *path, gt_error *err);
int gt_st_count(const gt_st_file *f);
const gt_st_tensor *gt_st_at(const gt_st_file *f, int i);                /* in header order */
const gt_st_tensor *gt_st_find(const gt_st_file *f, const char *name);  /* NULL if absent */
const char *gt_st_meta(const gt_st_file *f, const char *key);           /* NULL if absent */
void gt_st_free(gt_st_file *f);

#endif
