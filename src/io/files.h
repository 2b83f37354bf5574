/* Reading a whole file into memory: the one helper behind reports, ablation state and results. */
#ifndef GT_IO_FILES_H
#define GT_IO_FILES_H

#include <stddef.h>
#include <stdio.h>

/* The whole file, NUL-terminated (malloc'd), its length in *len when len is not NULL; NULL
 * with errno set when it cannot be read (EFBIG beyond max bytes). */
char *gt_read_file(const char *path, size_t max, size_t *len);

#endif
