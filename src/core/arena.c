/* Arenas: bump allocation in large 64-byte aligned blocks. Reset forgets allocations but keeps
 * the blocks, so a training loop that resets its step arena allocates nothing in steady state.
 * A range may be handed back before the reset (gt_arena_release_, which the backward walk uses
 * for gradients it has finished with): it joins a free list, sorted by address and merged with
 * its neighbours in the same block, that later allocations search (best fit) before bumping;
 * a range that ends where the current block's bump pointer stands lowers the pointer instead. */
#include <stddef.h>
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

/* A released range: [mem, mem + size) of block `in`. */
typedef struct {
    unsigned char *mem;
    size_t size;
    gt_block *in;
} gt_free_range;

struct gt_arena {
    gt_block *head;     /* the block being filled */
    gt_block *first;    /* all blocks, in creation order */
    size_t block_bytes;
    const gt_backend *be; /* whose memory the blocks are: the context's at creation */
    gt_free_range *free;  /* released ranges, sorted by address, none adjacent in one block */
    size_t n_free, cap_free;
    size_t handed;      /* bytes handed out since the reset, reused ones included */
    size_t live;        /* bytes handed out and not released */
    size_t peak;        /* the most bytes live at once since the reset */
    size_t high_water;  /* the most bytes live at once before the reset */
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
    free(a->free);
    free(a);
}

static size_t rounded(size_t bytes) {
    size_t need = (bytes + GT_ALIGN - 1) / GT_ALIGN * GT_ALIGN;
    return need == 0 ? GT_ALIGN : need;
}

static void count_out(gt_arena *a, size_t need) {
    a->handed += need;
    a->live += need;
    if (a->live > a->peak) a->peak = a->live;
}

/* The smallest released range that holds need bytes, or -1. */
static ptrdiff_t best_fit(const gt_arena *a, size_t need) {
    ptrdiff_t best = -1;
    for (size_t i = 0; i < a->n_free; i++)
        if (a->free[i].size >= need && (best < 0 || a->free[i].size < a->free[best].size))
            best = (ptrdiff_t)i;
    return best;
}

static void remove_range(gt_arena *a, size_t i) {
    memmove(a->free + i, a->free + i + 1, (a->n_free - i - 1) * sizeof *a->free);
    a->n_free--;
}

/* need bytes from the front of a released range, or NULL when none is large enough. */
static void *take_released(gt_arena *a, size_t need) {
    ptrdiff_t i = best_fit(a, need);
    if (i < 0) return NULL;
    gt_free_range *r = &a->free[i];
    void *p = r->mem;
    r->mem += need;
    r->size -= need;
    if (r->size == 0) remove_range(a, (size_t)i);
    return p;
}

/* Reuses a released range that fits, else walks the block chain from the current block,
 * appending a new block when none fits. */
void *gt_arena_alloc(gt_arena *a, size_t bytes) {
    size_t need = rounded(bytes);
    count_out(a, need);
    void *reused = take_released(a, need);
    if (reused) {
        UNPOISON(reused, need);
        return reused;
    }
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

static gt_block *block_holding(const gt_arena *a, const unsigned char *p) {
    for (gt_block *b = a->first; b; b = b->next)
        if (p >= b->mem && p < b->mem + b->size) return b;
    return NULL;
}

static void insert_range(gt_arena *a, size_t at, gt_free_range r) {
    if (a->n_free == a->cap_free)
        a->free = gt_grow_(a->free, &a->cap_free, 64, sizeof *a->free, "an arena's free list");
    memmove(a->free + at + 1, a->free + at, (a->n_free - at) * sizeof *a->free);
    a->free[at] = r;
    a->n_free++;
}

/* Index of the first released range above p. */
static size_t first_above(const gt_arena *a, const unsigned char *p) {
    size_t lo = 0, hi = a->n_free;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (a->free[mid].mem < p) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

void gt_arena_release_(gt_arena *a, void *p, size_t bytes) {
    size_t need = rounded(bytes);
    gt_free_range r = {p, need, block_holding(a, p)};
    GT_CHECK(r.in && r.mem + need <= r.in->mem + r.in->used && a->live >= need,
             "internal: arena release of %zu bytes outside what the arena handed out", need);
    POISON(p, need);
    a->live -= need;
    size_t at = first_above(a, r.mem);
    if (at > 0) { /* merge with the range below */
        gt_free_range *below = &a->free[at - 1];
        if (below->in == r.in && below->mem + below->size == r.mem) {
            r.mem = below->mem;
            r.size += below->size;
            remove_range(a, --at);
        }
    }
    if (at < a->n_free && a->free[at].in == r.in && r.mem + r.size == a->free[at].mem) {
        r.size += a->free[at].size; /* merge with the range above */
        remove_range(a, at);
    }
    if (r.in == a->head && r.mem + r.size == r.in->mem + r.in->used) {
        r.in->used -= r.size; /* the top of the block being filled: bump back down */
        return;
    }
    insert_range(a, at, r);
}

void gt_arena_reset(gt_arena *a) {
    for (gt_block *b = a->first; b; b = b->next) {
        POISON(b->mem, b->size);
        b->used = 0;
    }
    a->head = a->first;
    a->n_free = 0;
    if (a->peak > a->high_water) a->high_water = a->peak;
    a->handed = a->live = a->peak = 0;
}

size_t gt_arena_used(const gt_arena *a) { return a->handed; }
size_t gt_arena_live(const gt_arena *a) { return a->live; }
size_t gt_arena_peak(const gt_arena *a) { return a->peak; }
size_t gt_arena_high_water(const gt_arena *a) {
    return a->peak > a->high_water ? a->peak : a->high_water;
}

size_t gt_arena_capacity(const gt_arena *a) {
    size_t s = 0;
    for (gt_block *b = a->first; b; b = b->next) s += b->size;
    return s;
}
