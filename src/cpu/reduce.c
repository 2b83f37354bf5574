/* Reductions of cpu.h over the middle axis of x: [outer, r, inner] -> y: [outer, inner], and the
 * flat gather / scatter-add pair. Sums accumulate in float in one fixed order (k = 0, 1, ..., r-1
 * for every output; a long contiguous line, inner == 1, in 16 interleaved partial sums added in
 * a fixed tree), so results are bit-reproducible; threads split outputs, never a sum. */
#include "cpu.h"

#include <math.h>
#include <string.h>

/* clang reports every `omp simd` loop it leaves scalar, which all are at -O1 (sanitizer builds). */
#ifdef __clang__
#pragma clang diagnostic ignored "-Wpass-failed"
#endif

/* Up to this many input elements a reduction runs on the calling thread. */
#define RED_PAR_MIN ((int64_t)1 << 15)
/* Output columns per work item when inner > 1 (the accumulator stays in L1). */
#define RED_COLS ((int64_t)1024)

/* Larger of m and v; a NaN in either wins, so NaNs are never hidden by a max. */
static inline float red_max(float m, float v) { return v > m || v != v ? v : m; }

/* Partial sums of a long contiguous line: element k goes to lane k % RED_LANES. */
#define RED_LANES 16

/* The sum of the contiguous x[0..r): in order when short, else in RED_LANES lanes (one vector,
 * independent chains) added in a fixed tree, so the order is the same on every call. */
static float sum_line(const float *x, int64_t r) {
    if (r < 2 * RED_LANES) {
        float acc = x[0];
        for (int64_t k = 1; k < r; k++) acc += x[k];
        return acc;
    }
    float acc[RED_LANES];
    memcpy(acc, x, sizeof acc);
    int64_t k = RED_LANES;
    for (; k + RED_LANES <= r; k += RED_LANES) {
#pragma omp simd
        for (int l = 0; l < RED_LANES; l++) acc[l] += x[k + l];
    }
    for (int l = 0; k + l < r; l++) acc[l] += x[k + l];
    for (int w = RED_LANES / 2; w > 0; w /= 2)
        for (int l = 0; l < w; l++) acc[l] += acc[l + w];
    return acc[0];
}

/* y[0] = reduction of the contiguous x[0..r), r >= 1. */
static float red_line(int is_max, const float *x, int64_t r) {
    if (!is_max) return sum_line(x, r);
    float acc = x[0];
    for (int64_t k = 1; k < r; k++) acc = red_max(acc, x[k]);
    return acc;
}

/* y[j] = reduction over k of x[k * inner + j] for j < len, r >= 1: rows added in order of k,
 * each row a vectorised loop over j. */
static void red_cols(int is_max, float *y, const float *x, int64_t r, int64_t inner, int64_t len) {
    memcpy(y, x, (size_t)len * sizeof *y);
    for (int64_t k = 1; k < r; k++) {
        const float *row = x + k * inner;
        if (is_max) {
#pragma omp simd
            for (int64_t j = 0; j < len; j++) y[j] = red_max(y[j], row[j]);
        } else {
#pragma omp simd
            for (int64_t j = 0; j < len; j++) y[j] += row[j];
        }
    }
}

/* How a reduction over [outer, r, inner] splits into work items (red_item, share_item): when
 * inner == 1, item t is the contiguous lines [o0, o1) = [t RED_COLS, ...); otherwise it is outer
 * row o0 = t / nb (nb column blocks a row) and columns [j0, j0 + len), at most RED_COLS. */
typedef struct {
    int64_t o0, o1, j0, len;
} red_part;

static int64_t red_items(int64_t outer, int64_t inner, int64_t *nb) {
    *nb = (inner + RED_COLS - 1) / RED_COLS;
    return inner == 1 ? (outer + RED_COLS - 1) / RED_COLS : outer * *nb;
}

static red_part red_item_part(int64_t outer, int64_t inner, int64_t nb, int64_t t) {
    if (inner == 1) {
        int64_t o1 = (t + 1) * RED_COLS < outer ? (t + 1) * RED_COLS : outer;
        return (red_part){.o0 = t * RED_COLS, .o1 = o1};
    }
    int64_t j0 = (t % nb) * RED_COLS;
    return (red_part){.o0 = t / nb, .j0 = j0, .len = inner - j0 < RED_COLS ? inner - j0 : RED_COLS};
}

static void red_item(int is_max, float *y, const float *x, int64_t outer, int64_t r,
                     int64_t inner, int64_t nb, int64_t t) {
    red_part p = red_item_part(outer, inner, nb, t);
    if (inner == 1)
        for (int64_t o = p.o0; o < p.o1; o++) y[o] = red_line(is_max, x + o * r, r);
    else
        red_cols(is_max, y + p.o0 * inner + p.j0, x + p.o0 * r * inner + p.j0, r, inner, p.len);
}

static void red_run(int is_max, float *y, const float *x, int64_t outer, int64_t r,
                    int64_t inner) {
    int64_t nb, items = red_items(outer, inner, &nb);
    if (r == 0) {
        float v = is_max ? -INFINITY : 0.0f;
        for (int64_t i = 0; i < outer * inner; i++) y[i] = v;
        return;
    }
#pragma omp parallel for schedule(static) if (outer * r * inner > RED_PAR_MIN && items > 1)
    for (int64_t t = 0; t < items; t++) red_item(is_max, y, x, outer, r, inner, nb, t);
}

void gt_cpu_reduce_sum(float *y, const float *x, int64_t outer, int64_t r, int64_t inner) {
    red_run(0, y, x, outer, r, inner);
}

/* An empty reduction (r == 0) gives -inf. */
void gt_cpu_reduce_max(float *y, const float *x, int64_t outer, int64_t r, int64_t inner) {
    red_run(1, y, x, outer, r, inner);
}

/* ---- max's gradient share ------------------------------------------------------------------ */

/* w = (x >= m) / count over one contiguous line (inner == 1), with the two quotients a line
 * can have (1 / count at its maxima, 0 / count elsewhere: 0, or NaN when the max is NaN and
 * nothing counts) divided once per line. */
static void share_line(float *w, const float *x, int64_t r) {
    float m = x[0], count = 0.0f;
    for (int64_t k = 1; k < r; k++) m = red_max(m, x[k]);
    for (int64_t k = 0; k < r; k++) count += x[k] >= m ? 1.0f : 0.0f;
    float hit = 1.0f / count, miss = 0.0f / count;
    for (int64_t k = 0; k < r; k++) w[k] = x[k] >= m ? hit : miss;
}

/* Lines of r <= SHARE_SHORT elements, SHARE_BLOCK at a time: a block is read as columns
 * (element k of every line), so each step of share_line is one vector operation across lines
 * instead of a data-dependent branch per element; the same operations in the same order per
 * line, so the same bits. */
#define SHARE_SHORT 16
#define SHARE_BLOCK 16
static void share_lines_short(float *w, const float *x, int64_t lines, int64_t r) {
    int64_t o = 0;
    for (; o + SHARE_BLOCK <= lines; o += SHARE_BLOCK) {
        float col[SHARE_SHORT][SHARE_BLOCK], m[SHARE_BLOCK], hit[SHARE_BLOCK], miss[SHARE_BLOCK];
        const float *xb = x + o * r;
        float *wb = w + o * r;
        for (int64_t k = 0; k < r; k++)
            for (int l = 0; l < SHARE_BLOCK; l++) col[k][l] = xb[l * r + k];
        for (int l = 0; l < SHARE_BLOCK; l++) m[l] = xb[l * r];
        for (int64_t k = 1; k < r; k++) {
#pragma omp simd
            for (int l = 0; l < SHARE_BLOCK; l++) m[l] = red_max(m[l], col[k][l]);
        }
        for (int l = 0; l < SHARE_BLOCK; l++) hit[l] = 0.0f;
        for (int64_t k = 0; k < r; k++) {
#pragma omp simd
            for (int l = 0; l < SHARE_BLOCK; l++) hit[l] += col[k][l] >= m[l] ? 1.0f : 0.0f;
        }
#pragma omp simd
        for (int l = 0; l < SHARE_BLOCK; l++) {
            miss[l] = 0.0f / hit[l];
            hit[l] = 1.0f / hit[l];
        }
        for (int64_t k = 0; k < r; k++) {
#pragma omp simd
            for (int l = 0; l < SHARE_BLOCK; l++) col[k][l] = col[k][l] >= m[l] ? hit[l] : miss[l];
        }
        for (int64_t k = 0; k < r; k++)
            for (int l = 0; l < SHARE_BLOCK; l++) wb[l * r + k] = col[k][l];
    }
    for (; o < lines; o++) share_line(w + o * r, x + o * r, r);
}

/* The same for columns j0 .. j0 + len of one outer row: maxima, counts and quotients per column. */
static void share_cols(float *w, const float *x, int64_t r, int64_t inner, int64_t len) {
    float m[RED_COLS], hit[RED_COLS], miss[RED_COLS];
    red_cols(1, m, x, r, inner, len);
    for (int64_t j = 0; j < len; j++) hit[j] = 0.0f;
    for (int64_t k = 0; k < r; k++) {
        const float *row = x + k * inner;
#pragma omp simd
        for (int64_t j = 0; j < len; j++) hit[j] += row[j] >= m[j] ? 1.0f : 0.0f; /* counts */
    }
    for (int64_t j = 0; j < len; j++) {
        miss[j] = 0.0f / hit[j];
        hit[j] = 1.0f / hit[j];
    }
    for (int64_t k = 0; k < r; k++) {
        const float *row = x + k * inner;
        float *out = w + k * inner;
#pragma omp simd
        for (int64_t j = 0; j < len; j++) out[j] = row[j] >= m[j] ? hit[j] : miss[j];
    }
}

static void share_item(float *w, const float *x, int64_t outer, int64_t r, int64_t inner,
                       int64_t nb, int64_t t) {
    red_part p = red_item_part(outer, inner, nb, t);
    int64_t at = p.o0 * r * inner + p.j0;
    if (inner == 1 && r <= SHARE_SHORT)
        share_lines_short(w + p.o0 * r, x + p.o0 * r, p.o1 - p.o0, r);
    else if (inner == 1)
        for (int64_t o = p.o0; o < p.o1; o++) share_line(w + o * r, x + o * r, r);
    else
        share_cols(w + at, x + at, r, inner, p.len);
}

void gt_cpu_max_share(float *w, const float *x, int64_t outer, int64_t r, int64_t inner) {
    if (r == 0) return;
    int64_t nb, items = red_items(outer, inner, &nb);
#pragma omp parallel for schedule(static) if (outer * r * inner > RED_PAR_MIN && items > 1)
    for (int64_t t = 0; t < items; t++) share_item(w, x, outer, r, inner, nb, t);
}

void gt_cpu_gather(float *y, const float *x, const int64_t *idx, int64_t n) {
#pragma omp parallel for schedule(static) if (n > RED_PAR_MIN)
    for (int64_t j = 0; j < n; j++) y[j] = x[idx[j]];
}

void gt_cpu_scatter_add(float *x, const float *y, const int64_t *idx, int64_t n) {
    for (int64_t j = 0; j < n; j++) x[idx[j]] += y[j];
}
