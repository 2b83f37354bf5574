/* Atomic file replacement: write to a temporary file beside the target, check every write,
 * flush, fsync, then rename over the target. A failure at any point (a full disk, an I/O error)
 * removes the temporary file and leaves the earlier target untouched. */
#ifndef GT_IO_ATOMIC_H
#define GT_IO_ATOMIC_H

#include <stdbool.h>
#include <stdio.h>

#include "gantry.h"

#define GT_PATH_MAX 4096

typedef struct gt_atomic {
    FILE *f;                        /* the temporary file; NULL once committed or aborted */
    char path[GT_PATH_MAX];         /* the target */
    char tmp[GT_PATH_MAX + 16];     /* path + ".tmp.XXXXXX" */
} gt_atomic;

/* Creates path + ".tmp.XXXXXX" (mode 0644) and returns a stream to write the new content to,
 * or NULL with err set (the directory is missing or not writable, ...). */
FILE *gt_atomic_open(const char *path, gt_atomic *a, gt_error *err);
/* Checks that every write succeeded, flushes, fsyncs, closes and renames the temporary file
 * over the target. On failure the temporary file is removed and the target is unchanged. */
int gt_atomic_commit(gt_atomic *a, gt_error *err);
/* Closes and removes the temporary file; the target is unchanged. Safe to call twice. */
void gt_atomic_abort(gt_atomic *a);

/* Checks ferror, flushes (and fsyncs when sync), and closes f (always), naming path in err.
 * The check behind gt_atomic_commit, also used for files appended in place. */
int gt_stream_close_checked(FILE *f, const char *path, bool sync, gt_error *err);
/* A hint for an errno from a failed write or open: disk full, not writable, ... ("" if none). */
const char *gt_errno_hint(int errnum);

#endif
