/* The reference backend: every kernel of the backend table (src/core/backend.h) written as
 * plain loops that read like the maths of src/cpu/cpu.h, with every sum accumulated in double
 * and rounded to float once. No SIMD, no OpenMP, no threads. It is the standard the other
 * backends are measured against, and its random draws are bit-identical to the CPU backend's. */
#ifndef GT_REF_H
#define GT_REF_H

#include "core/backend.h"

#include <stddef.h>
#include <stdint.h>

extern const gt_backend gt_backend_ref;

/* ---- Memory (the table entries alloc, free, upload, download, copy) -------------------------
 * Ref memory is host memory; the transfers are plain copies. */
/* A 64-byte aligned block of at least `bytes` bytes (bytes 0 gives a valid 64-byte block);
 * NULL when out of memory. Release with gt_ref_free. */
void *gt_ref_alloc(size_t bytes);
/* Releases a block of gt_ref_alloc; NULL is ignored. */
void gt_ref_free(void *p);
/* host -> backend memory. */
void gt_ref_upload(void *dst, const void *host, size_t bytes);
/* backend memory -> host. */
void gt_ref_download(void *host, const void *src, size_t bytes);
/* Within backend memory (the ranges may overlap). */
void gt_ref_copy(void *dst, const void *src, size_t bytes);

/* Philox 4x32-10 on a 128-bit counter ctr[0..3] and a 64-bit key key[0..1] (low word first),
 * written out plainly; external for known-answer tests. */
void gt_ref_philox4x32_10(uint32_t out[4], const uint32_t ctr[4], const uint32_t key[2]);

#endif
