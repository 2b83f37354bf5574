/* The CPU backend's workspace: the packing buffers of SGEMM and the index tables of the
 * convolutions, kept between calls so that a training step in steady state allocates nothing.
 * A context owns one (through the backend table); the threads of one kernel call share it,
 * each using its own slot. */
#include "cpu/cpu.h"
#include "cpu/gemm_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCRATCH_BLOCK_BYTES ((size_t)1 << 20)
#define ALIGN 64

/* A block of scratch memory; blocks stay chained after a reset and are reused. */
typedef struct scratch_block {
    struct scratch_block *next;
    size_t size, used;
    unsigned char *mem;
} scratch_block;

typedef struct gt_ws_buf {
    size_t len; /* floats */
    float *data;
} gt_ws_buf;

struct gt_cpu_ws {
    gt_ws_buf *slots;            /* buffers by slot (gemm_internal.h) */
    int n_slots;
    scratch_block *first, *head; /* the scratch chain and the block being filled */
};

static void ws_oom(size_t bytes) {
    fprintf(stderr, "gantry: cpu workspace: out of memory (%zu bytes)\n", bytes);
    abort();
}

gt_cpu_ws *gt_cpu_ws_new(void) {
    gt_cpu_ws *ws = calloc(1, sizeof *ws);
    if (!ws) ws_oom(sizeof *ws);
    return ws;
}

void gt_cpu_ws_free(gt_cpu_ws *ws) {
    if (!ws) return;
    for (int i = 0; i < ws->n_slots; i++) free(ws->slots[i].data);
    free(ws->slots);
    for (scratch_block *b = ws->first, *next; b; b = next) {
        next = b->next;
        free(b->mem);
        free(b);
    }
    free(ws);
}

/* ---- buffers by slot ------------------------------------------------------------------
 * Each slot sees the same sequence of sizes in every training step (the shapes repeat), so
 * after the first step every slot holds its largest size and nothing grows again. A pool that
 * hands buffers to whichever thread asks first would not settle: which buffer meets which
 * request would depend on thread timing. */

static void slots_reserve(gt_cpu_ws *ws, int need) {
    if (need <= ws->n_slots) return;
#pragma omp critical(gt_cpu_ws_slots)
    if (need > ws->n_slots) {
        int cap = need < 16 ? 16 : 2 * need;
        gt_ws_buf *s = realloc(ws->slots, (size_t)cap * sizeof *s);
        if (!s) ws_oom((size_t)cap * sizeof *s);
        memset(s + ws->n_slots, 0, (size_t)(cap - ws->n_slots) * sizeof *s);
        ws->slots = s;
        ws->n_slots = cap;
    }
}

float *gt_cpu_ws_buffer(gt_cpu_ws *ws, int slot, size_t n) {
    slots_reserve(ws, slot + 1);
    gt_ws_buf *b = &ws->slots[slot];
    if (b->len < n) {
        size_t bytes = (n * sizeof(float) + ALIGN - 1) / ALIGN * ALIGN;
        free(b->data);
        if (!(b->data = aligned_alloc(ALIGN, bytes))) ws_oom(bytes);
        b->len = n;
    }
    return b->data;
}

/* ---- scratch: bump allocation on the calling thread, forgotten at the call's end ------- */

static scratch_block *scratch_block_new(size_t size) {
    scratch_block *b = calloc(1, sizeof *b);
    if (!b || !(b->mem = aligned_alloc(ALIGN, size))) ws_oom(size);
    b->size = size;
    return b;
}

void *gt_cpu_ws_scratch(gt_cpu_ws *ws, size_t bytes) {
    size_t need = (bytes + ALIGN - 1) / ALIGN * ALIGN;
    if (need == 0) need = ALIGN;
    scratch_block *b = ws->head ? ws->head : ws->first;
    while (b && b->used + need > b->size && b->next) {
        b = b->next;
        b->used = 0;
    }
    if (!b || b->used + need > b->size) {
        scratch_block *nb = scratch_block_new(need > SCRATCH_BLOCK_BYTES ? need : SCRATCH_BLOCK_BYTES);
        if (b) {
            nb->next = b->next;
            b->next = nb;
        } else {
            ws->first = nb;
        }
        b = nb;
    }
    ws->head = b;
    void *p = b->mem + b->used;
    b->used += need;
    return p;
}

void gt_cpu_ws_scratch_reset(gt_cpu_ws *ws) {
    for (scratch_block *b = ws->first; b; b = b->next) b->used = 0;
    ws->head = ws->first;
}
