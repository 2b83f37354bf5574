/* Reference backend memory: host memory in 64-byte aligned blocks, transfers as plain copies.
 * Also the zeroed double scratch of the scatter-form adjoints. */
#include "ref/kernels.h"
#include "ref/ref.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REF_ALIGN ((size_t)64)

/* bytes rounded up to a multiple of 64 (aligned_alloc requires it), at least 64. */
void *gt_ref_alloc(size_t bytes) {
    if (bytes > SIZE_MAX - REF_ALIGN) return NULL;
    size_t size = bytes == 0 ? REF_ALIGN : (bytes + REF_ALIGN - 1) / REF_ALIGN * REF_ALIGN;
    return aligned_alloc(REF_ALIGN, size);
}

void gt_ref_free(void *p) { free(p); }

/* memmove, not memcpy: copies of zero bytes may pass NULL, and ranges may overlap. */
static void move_bytes(void *dst, const void *src, size_t bytes) {
    if (bytes) memmove(dst, src, bytes);
}

void gt_ref_upload(void *dst, const void *host, size_t bytes) { move_bytes(dst, host, bytes); }
void gt_ref_download(void *host, const void *src, size_t bytes) { move_bytes(host, src, bytes); }
void gt_ref_copy(void *dst, const void *src, size_t bytes) { move_bytes(dst, src, bytes); }

double *gt_ref_doubles(int64_t n) {
    size_t count = n > 0 ? (size_t)n : 1;
    double *p = calloc(count, sizeof *p);
    if (!p) {
        fprintf(stderr, "gantry: ref: out of memory (%zu doubles)\n", count);
        abort();
    }
    return p;
}
