/* Arenas: bump allocation in large 64-byte aligned blocks. Reset forgets allocations but keeps
 * the blocks, so a training loop that resets its step arena allocates nothing in steady state. */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

#define GT_ALIGN 64

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
    GT_CHECK(b != NULL, "out of memory (arena block header)");
    b->mem = be->alloc((size + GT_ALIGN - 1) / GT_ALIGN * GT_ALIGN);
    GT_CHECK(b->mem != NULL, "out of memory: arena block of %zu bytes", size);
    b->size = size;
    b->used = 0;
    b->next = NULL;
    return b;
}

gt_arena *gt_arena_new(size_t block_bytes) {
    gt_arena *a = calloc(1, sizeof *a);
    GT_CHECK(a != NULL, "out of memory (arena)");
    a->block_bytes = block_bytes < 4096 ? 4096 : block_bytes;
    a->be = gt_be();
    return a;
}

void gt_arena_free(gt_arena *a) {
    if (!a) return;
    for (gt_block *b = a->first; b;) {
        gt_block *next = b->next;
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
    return p;
}

void gt_arena_reset(gt_arena *a) {
    for (gt_block *b = a->first; b; b = b->next) b->used = 0;
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
