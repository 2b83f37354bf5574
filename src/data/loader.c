/* Minibatches: epoch e's order is a Fisher-Yates shuffle driven by Philox keyed by the seed with
 * counter (draw block, e), so it depends on (seed, e) only. With prefetch, one thread assembles
 * the next batch into a private buffer while the caller trains; the batches are the same. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine.h"
#include "data/data.h"

struct gt_loader {
    const gt_dataset *ds;
    int batch;
    int64_t per_epoch;    /* batches per epoch: n / batch */
    size_t ex;            /* floats per example: c * h * w */
    gt_loader_state at;   /* the next batch the caller gets */
    /* The producer's side, touched only by whoever assembles batches (the thread, if any). */
    int64_t *perm;        /* [n]: the order of epoch perm_state.epoch under perm_state.seed */
    gt_loader_state perm_state;
    bool perm_valid;
    /* Prefetch: buf holds batch `at` when full; the thread makes batch `fill` next. */
    bool prefetch, full, busy, stop;
    gt_loader_state fill;
    float *buf_x;         /* [batch, c, h, w] */
    int32_t *buf_y;       /* [batch] */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

/* perm = the order of epoch e: swap k (k = 0 .. n-2) exchanges i = n-1-k with j uniform in
 * [0, i], from the 64 bits in lanes 2(k%2), 2(k%2)+1 of Philox block k/2 at counter (k/2, e). */
static void loader_shuffle(int64_t *perm, int64_t n, uint64_t seed, uint64_t e) {
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    uint32_t w[4];
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    for (int64_t k = 0; k < n - 1; k++) {
        if (k % 2 == 0) {
            uint64_t blk = (uint64_t)k / 2;
            const uint32_t ctr[4] = {(uint32_t)blk, (uint32_t)(blk >> 32), (uint32_t)e,
                                     (uint32_t)(e >> 32)};
            gt_philox4x32_10(w, ctr, key);
        }
        int lane = 2 * (int)(k % 2);
        uint64_t u = (uint64_t)w[lane] << 32 | w[lane + 1];
        int64_t i = n - 1 - k, j = (int64_t)(u % (uint64_t)(i + 1));
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

static gt_loader_state loader_advance(const gt_loader *l, gt_loader_state s) {
    if (++s.index == (uint64_t)l->per_epoch) {
        s.index = 0;
        s.epoch++;
    }
    return s;
}

/* x [batch, c, h, w], y [batch] or NULL: batch s.index of epoch s.epoch. */
static void loader_assemble(gt_loader *l, gt_loader_state s, float *x, int32_t *y) {
    const gt_dataset *ds = l->ds;
    if (!l->perm_valid || l->perm_state.seed != s.seed || l->perm_state.epoch != s.epoch) {
        loader_shuffle(l->perm, ds->n, s.seed, s.epoch);
        l->perm_state = s;
        l->perm_valid = true;
    }
    const int64_t *order = l->perm + (int64_t)s.index * l->batch;
    for (int b = 0; b < l->batch; b++) {
        memcpy(x + (size_t)b * l->ex, ds->x + (size_t)order[b] * l->ex, l->ex * sizeof(float));
        if (y) y[b] = ds->labels ? ds->labels[order[b]] : -1;
    }
}

static void *loader_thread(void *arg) {
    gt_loader *l = arg;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (!l->stop && l->full) pthread_cond_wait(&l->cv, &l->mu);
        if (l->stop) break;
        gt_loader_state s = l->fill;
        l->busy = true;
        pthread_mutex_unlock(&l->mu);
        loader_assemble(l, s, l->buf_x, l->buf_y);
        pthread_mutex_lock(&l->mu);
        l->busy = false;
        l->full = true;
        l->fill = loader_advance(l, s);
        pthread_cond_broadcast(&l->cv);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

static int loader_start_prefetch(gt_loader *l, gt_error *err) {
    l->buf_x = malloc(sizeof *l->buf_x * l->ex * (size_t)l->batch);
    l->buf_y = malloc(sizeof *l->buf_y * (size_t)l->batch);
    if (!l->buf_x || !l->buf_y) {
        return gt_error_set(err, "%s: out of memory for a prefetch batch of %d", l->ds->name,
                            l->batch);
    }
    if (pthread_mutex_init(&l->mu, NULL)) {
        return gt_error_set(err, "%s: cannot create the prefetch lock", l->ds->name);
    }
    if (pthread_cond_init(&l->cv, NULL)) {
        pthread_mutex_destroy(&l->mu);
        return gt_error_set(err, "%s: cannot create the prefetch condition", l->ds->name);
    }
    l->fill = l->at;
    if (pthread_create(&l->thread, NULL, loader_thread, l)) {
        pthread_cond_destroy(&l->cv);
        pthread_mutex_destroy(&l->mu);
        return gt_error_set(err, "%s: cannot start the prefetch thread; retry without prefetch",
                            l->ds->name);
    }
    l->prefetch = true;
    return 0;
}

gt_loader *gt_loader_new(const gt_dataset *ds, int batch, uint64_t seed, bool prefetch,
                         gt_error *err) {
    if (batch < 1 || ds->n < batch) {
        gt_error_set(err, "%s: batch size %d; expected 1 to the number of examples, %lld "
                     "(use a smaller batch or more data)", ds->name, batch, (long long)ds->n);
        return NULL;
    }
    gt_loader *l = calloc(1, sizeof *l);
    if (l) l->perm = malloc(sizeof *l->perm * (size_t)ds->n);
    if (!l || !l->perm) {
        free(l);
        gt_error_set(err, "%s: out of memory for the loader's order of %lld examples", ds->name,
                     (long long)ds->n);
        return NULL;
    }
    l->ds = ds;
    l->batch = batch;
    l->per_epoch = ds->n / batch;
    l->ex = (size_t)ds->c * ds->h * ds->w;
    l->at = (gt_loader_state){.seed = seed};
    if (prefetch && loader_start_prefetch(l, err)) {
        gt_loader_free(l);
        return NULL;
    }
    return l;
}

void gt_loader_next(gt_loader *l, float *x, int32_t *labels) {
    if (!l->prefetch) {
        loader_assemble(l, l->at, x, labels);
        l->at = loader_advance(l, l->at);
        return;
    }
    pthread_mutex_lock(&l->mu);
    while (!l->full) pthread_cond_wait(&l->cv, &l->mu);
    memcpy(x, l->buf_x, sizeof *x * l->ex * (size_t)l->batch);
    if (labels) memcpy(labels, l->buf_y, sizeof *labels * (size_t)l->batch);
    l->full = false;
    l->at = loader_advance(l, l->at);
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

gt_loader_state gt_loader_state_get(const gt_loader *l) { return l->at; }

void gt_loader_state_set(gt_loader *l, gt_loader_state s) {
    GT_CHECK(s.index < (uint64_t)l->per_epoch,
             "loader_state_set: index %llu, but an epoch has %lld batches",
             (unsigned long long)s.index, (long long)l->per_epoch);
    if (!l->prefetch) {
        l->at = s;
        return;
    }
    pthread_mutex_lock(&l->mu);
    while (l->busy) pthread_cond_wait(&l->cv, &l->mu);
    l->at = l->fill = s;
    l->full = false;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

void gt_loader_free(gt_loader *l) {
    if (!l) return;
    if (l->prefetch) {
        pthread_mutex_lock(&l->mu);
        l->stop = true;
        pthread_cond_broadcast(&l->cv);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->thread, NULL);
        pthread_cond_destroy(&l->cv);
        pthread_mutex_destroy(&l->mu);
    }
    free(l->buf_x);
    free(l->buf_y);
    free(l->perm);
    free(l);
}
