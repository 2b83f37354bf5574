/* AVX-512 SGEMM micro-kernels: an m x 32 tile of row-major C (m <= 14) held in 2m zmm
 * registers, one broadcast of packed A and two loads of packed B per k step. The 14-row
 * kernel does the bulk; the shorter ones finish M % 14 without computing padding rows.
 * Compiled with -mavx512f (see Makefile); only called after
 * gt_cpu_isa_supported(GT_ISA_AVX512). */
#include "cpu/gemm_internal.h"

#include <immintrin.h>
#include <stddef.h>


#define GT_DECL(i) __m512 c##i##a = _mm512_setzero_ps(), c##i##b = _mm512_setzero_ps();
#define GT_STEP(i)                                          \
    {                                                       \
        __m512 ai = _mm512_set1_ps(a[i]);                   \
        c##i##a = _mm512_fmadd_ps(ai, b0, c##i##a);         \
        c##i##b = _mm512_fmadd_ps(ai, b1, c##i##b);         \
    }
#define GT_PREFETCH(i)                                                   \
    _mm_prefetch((const char *)(c + (i) * ldc), _MM_HINT_T0);            \
    _mm_prefetch((const char *)(c + (i) * ldc + 31), _MM_HINT_T0);
#define GT_STORE(i) gt_store_row(c + (i) * ldc, c##i##a, c##i##b, va, vb, beta);

/* c[0:32] = alpha * (x, y) + beta * c[0:32]; c is not read when beta == 0. */
static inline void gt_store_row(float *c, __m512 x, __m512 y, __m512 va, __m512 vb,
                                float beta) {
    if (beta == 0.0f) {
        _mm512_storeu_ps(c, _mm512_mul_ps(x, va));
        _mm512_storeu_ps(c + 16, _mm512_mul_ps(y, va));
    } else {
        _mm512_storeu_ps(c, _mm512_fmadd_ps(x, va, _mm512_mul_ps(vb, _mm512_loadu_ps(c))));
        _mm512_storeu_ps(c + 16,
                         _mm512_fmadd_ps(y, va, _mm512_mul_ps(vb, _mm512_loadu_ps(c + 16))));
    }
}

/* The m-row kernel: rows 0 .. m-1 of the 14-wide A sliver. */
#define GT_KERNEL(m)                                                                      \
    static void gt_ukernel_##m(int64_t kc, const float *a, const float *b, float *c,      \
                               int64_t ldc, float alpha, float beta) {                    \
        GT_R##m(GT_PREFETCH) GT_R##m(GT_DECL) for (int64_t k = 0; k < kc; k++) {          \
            __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);                 \
            GT_R##m(GT_STEP) a += GT_SGEMM_AVX512_MR;                                     \
            b += GT_SGEMM_AVX512_NR;                                                      \
        }                                                                                 \
        __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);                     \
        GT_R##m(GT_STORE)                                                                 \
    }

GT_KERNEL(1) GT_KERNEL(2) GT_KERNEL(3) GT_KERNEL(4) GT_KERNEL(5) GT_KERNEL(6) GT_KERNEL(7)
GT_KERNEL(8) GT_KERNEL(9) GT_KERNEL(10) GT_KERNEL(11) GT_KERNEL(12) GT_KERNEL(13)
GT_KERNEL(14)

const gt_sgemm_ukernel gt_sgemm_ukernels_avx512[GT_SGEMM_AVX512_MR + 1] = {
    NULL,           gt_ukernel_1,  gt_ukernel_2,  gt_ukernel_3,  gt_ukernel_4,
    gt_ukernel_5,   gt_ukernel_6,  gt_ukernel_7,  gt_ukernel_8,  gt_ukernel_9,
    gt_ukernel_10,  gt_ukernel_11, gt_ukernel_12, gt_ukernel_13, gt_ukernel_14};

/* ---- bf16 pairs (the native bf16 GEMM's packed layout, gemm_internal.h) -------------------
 * Integer AVX-512 only: the rounding of gt_cpu_bf16_from_f32, lane by lane. */
/* The bf16 bits (low 16 of each lane) of 16 floats: gt_cpu_bf16_from_f32, lane by lane. */
static inline __m512i gt_bf16_round16(__m512 x) {
    __m512i u = _mm512_castps_si512(x);
    __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_srli_epi32(
        _mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);
    __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)),
                                            _mm512_set1_epi32(0x7f800000));
    __m512i q = _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40));
    return _mm512_mask_mov_epi32(r, nan, q);
}

/* Pair row q of a sliver: columns j .. j+15 (mask: those < w) of rows 2q and 2q+1 (the latter
 * only when has_odd). Both rows are read before the pair row, which may overlap row 2q, is
 * written. */
static inline void gt_bf16_pair16(float *s, int64_t q, int w, int j,
                                                __mmask16 m, int has_odd) {
    const float *r0 = s + 2 * q * w + j;
    __m512i lo = gt_bf16_round16(_mm512_maskz_loadu_ps(m, r0));
    __m512i hi = has_odd ? gt_bf16_round16(_mm512_maskz_loadu_ps(m, r0 + w))
                         : _mm512_setzero_si512();
    _mm512_mask_storeu_epi32(s + q * w + j, m, _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16)));
}

void gt_bf16_pair_sliver_avx512(float *s, int64_t kc, int w) {
    for (int64_t q = 0; q < (kc + 1) / 2; q++)
        for (int j = 0; j < w; j += 16) {
            int left = w - j;
            __mmask16 m = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
            gt_bf16_pair16(s, q, w, j, m, 2 * q + 1 < kc);
        }
}

/* The validity mask of 16 columns of one row of a gathered operand. */
static inline __mmask16 gt_inside16(__m512i jh, __m512i jw, __m512i kh, __m512i kw, __m512i h,
                                    __m512i w) {
    __mmask16 in = _mm512_cmplt_epu32_mask(_mm512_add_epi32(jh, kh), h);
    return _mm512_mask_cmplt_epu32_mask(in, _mm512_add_epi32(jw, kw), w);
}

/* The runs of consecutive offsets among 16 columns of a gathered operand: their lane
 * masks and the offset lane 0 would have in each; n = 0 when there are more than 4. */
typedef struct {
    int n;
    __mmask16 lanes[4];
    int32_t base[4];
} gt_runs16;

static gt_runs16 gt_runs_of(const int32_t *jo) {
    gt_runs16 r = {0, {0}, {0}};
    for (int l = 0; l < 16; l++) {
        if (l == 0 || jo[l] != jo[l - 1] + 1) {
            if (r.n == 4) return (gt_runs16){0, {0}, {0}};
            r.base[r.n++] = jo[l] - l;
        }
        r.lanes[r.n - 1] |= (__mmask16)(1u << l);
    }
    return r;
}

/* 16 columns of the row at koff: one masked load per run when there are few (taps along a
 * kernel row, pixels along an image row), else a masked gather (about 25 cycles on Zen 4,
 * a load about 1); lanes outside the image (padding columns too) read as 0 without
 * touching memory. */
static inline __m512 gt_fetch16(const float *src, __mmask16 in, __m512i jo, int32_t koff,
                                const gt_runs16 *r) {
    if (!in) return _mm512_setzero_ps();
    if (!r->n)
        return _mm512_mask_i32gather_ps(_mm512_setzero_ps(), in,
                                        _mm512_add_epi32(jo, _mm512_set1_epi32(koff)), src, 4);
    /* the runs' lanes are disjoint: independent zero-masked loads, joined by OR (a merging
     * load would wait for the previous one) */
    const float *s = src + koff;
    __m512 v = _mm512_maskz_loadu_ps(in & r->lanes[0], s + r->base[0]);
    for (int i = 1; i < r->n; i++)
        v = _mm512_or_ps(v, _mm512_maskz_loadu_ps(in & r->lanes[i], s + r->base[i]));
    return v;
}

/* One window segment of a row: 16 lanes from the 32 floats at s (only those it reads). */
static inline __m512 gt_window_seg(const float *s, __mmask16 lo, __mmask16 hi, __m512i idx) {
    return _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(lo, s), idx,
                                  _mm512_maskz_loadu_ps(hi, s + 16));
}

/* The 16 columns of window w (registers: lanes, loads and indices of its segments) in the
 * row at s; lanes outside both segments are 0. */
typedef struct {
    int two;
    const float *b0, *b1;
    __mmask16 l0, l1, lo0, lo1, hi0, hi1;
    __m512i i0, i1;
} gt_window_regs;

static inline gt_window_regs gt_window_load(const gt_window16 *w, const float *src) {
    gt_window_regs r;
    r.two = w->nseg > 1;
    r.b0 = src + w->base[0], r.b1 = src + w->base[1];
    r.l0 = w->lanes[0], r.l1 = w->lanes[1];
    r.lo0 = w->lo[0], r.lo1 = w->lo[1], r.hi0 = w->hi[0], r.hi1 = w->hi[1];
    r.i0 = _mm512_loadu_si512(w->idx[0]), r.i1 = _mm512_loadu_si512(w->idx[1]);
    return r;
}

static inline __m512 gt_window_row(const gt_window_regs *r, int32_t koff) {
    const float *s0 = r->b0 + koff;
    __m512 v = _mm512_maskz_permutex2var_ps(r->l0, _mm512_maskz_loadu_ps(r->lo0, s0), r->i0,
                                            _mm512_maskz_loadu_ps(r->hi0, s0 + 16));
    if (r->two)
        v = _mm512_mask_mov_ps(v, r->l1, gt_window_seg(r->b1 + koff, r->lo1, r->hi1, r->i1));
    return v;
}

/* The row fetchers of one sliver (columns j0 .. j0+31): through windows, or masked loads and
 * gathers (gt_fetch16). */
typedef struct {
    const gt_gather *g;
    int win;
    gt_window_regs w0, w1;
    __m512i jo0, jo1, jh0, jh1, jw0, jw1, h, w;
    gt_runs16 r0, r1;
} gt_sliver_rows;

static inline gt_sliver_rows gt_sliver_rows_of(const gt_gather *g, int64_t j0) {
    gt_sliver_rows r;
    r.g = g;
    r.win = g->win != NULL;
    if (r.win) {
        r.w0 = gt_window_load(g->win + j0 / 16, g->src);
        r.w1 = gt_window_load(g->win + j0 / 16 + 1, g->src);
        return r;
    }
    const int32_t *jo = g->joff + j0;
    r.jo0 = _mm512_loadu_si512(jo), r.jo1 = _mm512_loadu_si512(jo + 16);
    r.jh0 = _mm512_loadu_si512(g->jh + j0), r.jh1 = _mm512_loadu_si512(g->jh + j0 + 16);
    r.jw0 = _mm512_loadu_si512(g->jw + j0), r.jw1 = _mm512_loadu_si512(g->jw + j0 + 16);
    r.h = _mm512_set1_epi32(g->h), r.w = _mm512_set1_epi32(g->w);
    r.r0 = gt_runs_of(jo), r.r1 = gt_runs_of(jo + 16);
    return r;
}

/* Row k of the sliver: columns 0 .. 15 in *lo, 16 .. 31 in *hi. Inlined into the sliver loops
 * (a call per row cost as much as the fetches). */
static inline __attribute__((always_inline)) void gt_sliver_row(const gt_sliver_rows *r, int64_t k, __m512 *lo, __m512 *hi) {
    const gt_gather *g = r->g;
    if (r->win) {
        *lo = gt_window_row(&r->w0, g->koff[k]);
        *hi = gt_window_row(&r->w1, g->koff[k]);
        return;
    }
    __m512i kh = _mm512_set1_epi32(g->kh[k]), kw = _mm512_set1_epi32(g->kw[k]);
    *lo = gt_fetch16(g->src, gt_inside16(r->jh0, r->jw0, kh, kw, r->h, r->w), r->jo0, g->koff[k],
                     &r->r0);
    *hi = gt_fetch16(g->src, gt_inside16(r->jh1, r->jw1, kh, kw, r->h, r->w), r->jo1, g->koff[k],
                     &r->r1);
}

void gt_gather_sliver_avx512(const gt_gather *g, int64_t k0, int64_t kc, int64_t j0,
                             float *dst) {
    gt_sliver_rows r = gt_sliver_rows_of(g, j0);
    for (int64_t k = k0; k < k0 + kc; k++, dst += GT_SGEMM_AVX512_NR) {
        __m512 lo, hi;
        gt_sliver_row(&r, k, &lo, &hi);
        _mm512_storeu_ps(dst, lo);
        _mm512_storeu_ps(dst + 16, hi);
    }
}

/* 16 pair words from rows 2q (a) and 2q + 1 (b) of 16 columns. */
static inline __m512i gt_bf16_pairs16(__m512 a, __m512 b) {
    return _mm512_or_si512(gt_bf16_round16(a), _mm512_slli_epi32(gt_bf16_round16(b), 16));
}

void gt_gather_sliver_bf16_avx512(const gt_gather *g, int64_t k0, int64_t kc, int64_t j0,
                                  float *dst) {
    gt_sliver_rows r = gt_sliver_rows_of(g, j0);
    for (int64_t k = k0; k < k0 + kc; k += 2, dst += GT_SGEMM_AVX512_NR) {
        __m512 alo, ahi, blo = _mm512_setzero_ps(), bhi = _mm512_setzero_ps();
        gt_sliver_row(&r, k, &alo, &ahi);
        if (k + 1 < k0 + kc) gt_sliver_row(&r, k + 1, &blo, &bhi);
        _mm512_storeu_si512(dst, gt_bf16_pairs16(alo, blo));
        _mm512_storeu_si512(dst + 16, gt_bf16_pairs16(ahi, bhi));
    }
}
