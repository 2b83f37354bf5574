/* Arenas: bump allocation in large 64-byte aligned blocks. Reset forgets allocations but keeps
 * the blocks, so a training loop that resets its step arena allocates nothing in steady state. */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

#define GT_ALIGN 64

/* Under AddressSanitizer a reset arena's memory is poisoned and each allocation unpoisons what
 * it hands out, so a tensor used after gt_step_end is reported where it is read. */
#if defined(__SANITIZE_ADDRESS__)
#define GT_ARENA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GT_ARENA_ASAN 1
#endif
#endif
#ifdef GT_ARENA_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

typedef struct gt_block {
    struct gt_block *next;
    size_t size, used;
    unsigned char *mem;
} gt_block;

struct gt_arena {
    gt_block *head;     /* the block being filled */
    gt_block *first;    /* all blocks, in creation order */
    size_t block_bytes;
    const gt_backend *be; /* whose memory the blocks are: the context's at creation */
};

static gt_block *block_new(const gt_backend *be, size_t size) {
    gt_block *b = malloc(sizeof *b);
    if (!b) gt_oom_(sizeof *b, "an arena block header");
    b->mem = be->alloc((size + GT_ALIGN - 1) / GT_ALIGN * GT_ALIGN);
    if (!b->mem) {
        free(b);
        gt_oom_(size, "an arena block");
    }
    b->size = size;
    b->used = 0;
    b->next = NULL;
    POISON(b->mem, size);
    return b;
}

gt_arena *gt_arena_new(size_t block_bytes) {
    gt_arena *a = calloc(1, sizeof *a);
    if (!a) gt_oom_(sizeof *a, "an arena");
    a->block_bytes = block_bytes < 4096 ? 4096 : block_bytes;
    a->be = gt_be();
    /* tensor headers share the blocks with their data (tensor.c), which the host must read */
    GT_CHECK(a->be->host_addressable, "backend %s: arenas need host-addressable memory (a "
             "device backend needs a host arena for tensor headers first)", a->be->name);
    return a;
}

void gt_arena_free(gt_arena *a) {
    if (!a) return;
    for (gt_block *b = a->first; b;) {
        gt_block *next = b->next;
        UNPOISON(b->mem, b->size);
        a->be->free(b->mem);
        free(b);
        b = next;
    }
    free(a);
}

/* Walks the block chain from the current block, appending a new block when none fits. */
void *gt_arena_alloc(gt_arena *a, size_t bytes) {
    size_t need = (bytes + GT_ALIGN - 1) / GT_ALIGN * GT_ALIGN;
    if (need == 0) need = GT_ALIGN;
    gt_block *b = a->head;
    while (b && b->used + need > b->size) {
        if (!b->next) break;
        b = b->next;
        b->used = 0;
    }
    if (!b || b->used + need > b->size) {
        gt_block *nb = block_new(a->be, need > a->block_bytes ? need : a->block_bytes);
        if (b) {
            nb->next = b->next;
            b->next = nb;
        } else {
            a->first = nb;
        }
        b = nb;
    }
    a->head = b;
    void *p = b->mem + b->used;
    b->used += need;
    UNPOISON(p, need);
    return p;
}

void gt_arena_reset(gt_arena *a) {
    for (gt_block *b = a->first; b; b = b->next) {
        POISON(b->mem, b->size);
        b->used = 0;
    }
    a->head = a->first;
}

size_t gt_arena_used(const gt_arena *a) {
    size_t s = 0;
    for (gt_block *b = a->first; b; b = b->next) {
        s += b->used;
        if (b == a->head) break;
    }
    return s;
}

size_t gt_arena_capacity(const gt_arena *a) {
    size_t s = 0;
    for (gt_block *b = a->first; b; b = b->next) s += b->size;
    return s;
}
