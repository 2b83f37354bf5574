/* Whole-file reading (files.h). */
#include "io/files.h"

#include <errno.h>
#include <stdlib.h>

char *gt_read_file(const char *path, size_t max, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t n = 0, cap = 1 << 16;
    char *buf = malloc(cap + 1);
    while (buf && (n += fread(buf + n, 1, cap - n, f)) == cap && !ferror(f)) {
        char *bigger = cap < max ? realloc(buf, 2 * cap + 1) : NULL;
        if (!bigger) {
            free(buf);
            errno = cap < max ? ENOMEM : EFBIG;
        }
        buf = bigger;
        cap *= 2;
    }
    if (buf && ferror(f)) {
        free(buf);
        buf = NULL;
        errno = EIO;
    }
    fclose(f);
    if (buf) buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

