/* Packed, cache-blocked SGEMM (GotoBLAS/BLIS style) with run-time ISA dispatch, and the
 * implicit GEMM of the convolutions (operands packed through index tables). C is cut
 * into blocks that threads own outright (no reduction over K), so the result is
 * bit-identical for any thread count; the scalar micro-kernel lives here. */
#include "cpu/cpu.h"
#include "cpu/gemm_internal.h"

#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Below this many multiply-adds the call stays on one thread. */
#define GT_SGEMM_PARALLEL_MIN ((int64_t)64 * 64 * 64)
#define GT_SGEMM_SCALAR_MR 4
#define GT_SGEMM_SCALAR_NR 8
/* Largest micro-tile of any kernel (edge tiles are staged in a buffer this big). */
#define GT_SGEMM_TILE_MAX (GT_SGEMM_AVX512_MR * GT_SGEMM_AVX512_NR)

/* Packs one sliver [kc][nr] of a gathered operand (an ISA's own; NULL: the scalar one). */
typedef void (*gt_gather_fn)(const gt_gather *g, int64_t k0, int64_t kc, int64_t j0,
                             float *dst);
/* Turns a packed sliver [kc][w] into what the kernel reads, in place (NULL: nothing to do):
 * the bf16 GEMM's rounding (portable) or bf16 pairs (native). */
typedef void (*gt_finish_fn)(float *sliver, int64_t kc, int w);

/* A micro-kernel with its tile (mr x nr) and cache blocks: a packed A sliver mr x kc
 * stays in L1, a packed B block kc x nc in L2, an A block mc x kc in L2/L3. rows, when
 * not NULL, holds kernels for the first m < mr rows of a tile (rows[mr] == kernel). */
typedef struct {
    gt_sgemm_ukernel kernel;
    const gt_sgemm_ukernel *rows;
    int mr, nr;
    int64_t kc, mc, nc;
    gt_gather_fn gather;
    gt_finish_fn finish;
    int gather_finishes; /* gather's slivers are already what the kernel reads */
} gt_sgemm_kdesc;

/* The call's arguments: C[M,N] = alpha * op(A)[M,K] op(B)[K,N] + beta * C. */
typedef struct {
    int ta, tb;
    int64_t M, N, K;
    float alpha, beta;
    const float *A, *B;
    float *C;
    int64_t lda, ldb, ldc;
} gt_sgemm_args;

/* Macro tiles of C: mc x nc each, mu x nu of them. */
typedef struct {
    int64_t mc, nc, mu, nu;
} gt_sgemm_grid;


static int64_t gt_min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t gt_round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

/* Portable 4 x 8 micro-kernel with the gt_sgemm_ukernel contract. */
static void gt_sgemm_ukernel_scalar(int64_t kc, const float *a, const float *b, float *c,
                                    int64_t ldc, float alpha, float beta) {
    float acc[GT_SGEMM_SCALAR_MR][GT_SGEMM_SCALAR_NR] = {{0}};
    for (int64_t k = 0; k < kc; k++, a += GT_SGEMM_SCALAR_MR, b += GT_SGEMM_SCALAR_NR)
        for (int i = 0; i < GT_SGEMM_SCALAR_MR; i++)
            for (int j = 0; j < GT_SGEMM_SCALAR_NR; j++) acc[i][j] += a[i] * b[j];
    for (int i = 0; i < GT_SGEMM_SCALAR_MR; i++, c += ldc)
        for (int j = 0; j < GT_SGEMM_SCALAR_NR; j++)
            c[j] = beta == 0.0f ? alpha * acc[i][j] : alpha * acc[i][j] + beta * c[j];
}

static gt_sgemm_kdesc gt_sgemm_kdesc_fp32(gt_isa isa) {
    switch (isa) {
    case GT_ISA_AVX512:
        return (gt_sgemm_kdesc){gt_sgemm_ukernels_avx512[GT_SGEMM_AVX512_MR],
                                gt_sgemm_ukernels_avx512, GT_SGEMM_AVX512_MR,
                                GT_SGEMM_AVX512_NR, 256, 14 * 24, 384, gt_gather_sliver_avx512,
                                NULL, 0};
    case GT_ISA_AVX2:
        return (gt_sgemm_kdesc){gt_sgemm_ukernel_avx2, NULL, GT_SGEMM_AVX2_MR,
                                GT_SGEMM_AVX2_NR, 256, 6 * 48, 384, NULL, NULL, 0};
    case GT_ISA_SCALAR:
        break;
    }
    return (gt_sgemm_kdesc){gt_sgemm_ukernel_scalar, NULL, GT_SGEMM_SCALAR_MR,
                            GT_SGEMM_SCALAR_NR, 256, 4 * 32, 256, NULL, NULL, 0};
}

/* The portable bf16 path's finish: the operands rounded to bf16 values, still floats, so the
 * FP32 kernels sum their (exact) products. */
static void gt_round_sliver(float *s, int64_t kc, int w) { gt_cpu_round_bf16(s, s, kc * w); }

/* The kernels of a GEMM at the given precision (bf16: native pairs or portable rounding). */
static gt_sgemm_kdesc gt_sgemm_kdesc_for(gt_isa isa, int bf16) {
    if (bf16 && gt_cpu_bf16_native())
        return (gt_sgemm_kdesc){gt_bf16_ukernels_avx512[GT_SGEMM_AVX512_MR],
                                gt_bf16_ukernels_avx512, GT_SGEMM_AVX512_MR, GT_SGEMM_AVX512_NR,
                                256, 14 * 24, 384, gt_gather_sliver_bf16_avx512,
                                gt_bf16_pair_sliver_avx512, 1};
    gt_sgemm_kdesc kd = gt_sgemm_kdesc_fp32(isa);
    if (bf16) kd.finish = gt_round_sliver;
    return kd;
}

/* Applies kd's finish to the slivers of a packed panel of rows rows (slivers of w). */
static void gt_finish_panel(const gt_sgemm_kdesc *kd, float *dst, int64_t rows, int w,
                            int64_t kc) {
    if (!kd->finish) return;
    for (int64_t r0 = 0; r0 < rows; r0 += w) kd->finish(dst + r0 * kc, kc, w);
}

/* d[k*w + 0..3] = s[0..3 rows (stride rs)][k] for k < kc: a 4-row transpose by 4x4 SSE blocks. */
static void gt_pack_rows4(float *d, const float *s, int64_t rs, int w, int64_t kc) {
    int64_t k = 0;
    for (; k + 4 <= kc; k += 4) {
        __m128 r0 = _mm_loadu_ps(s + k), r1 = _mm_loadu_ps(s + rs + k);
        __m128 r2 = _mm_loadu_ps(s + 2 * rs + k), r3 = _mm_loadu_ps(s + 3 * rs + k);
        _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
        _mm_storeu_ps(d + k * w, r0);
        _mm_storeu_ps(d + (k + 1) * w, r1);
        _mm_storeu_ps(d + (k + 2) * w, r2);
        _mm_storeu_ps(d + (k + 3) * w, r3);
    }
    for (; k < kc; k++)
        for (int r = 0; r < 4; r++) d[k * w + r] = s[r * rs + k];
}

/* One full sliver [kc][w] from w rows of src (row stride rs, contiguous along k). */
static void gt_pack_rows(float *d, const float *s, int64_t rs, int w, int64_t kc) {
    int r = 0;
    for (; r + 4 <= w; r += 4) gt_pack_rows4(d + r, s + r * rs, rs, w, kc);
    for (; r < w; r++)
        for (int64_t k = 0; k < kc; k++) d[k * w + r] = s[r * rs + k];
}

/* src (element (r, k) at src[r*rs + k*ks], r < rows, k < kc; rs or ks is 1) -> slivers of
 * w rows, each [kc][w] (sliver s holds rows s*w .. s*w + w - 1; rows past the end are
 * zero). Reads run along the unit stride (strided gathers thrash L1 when ld is 2^n). */
static void gt_pack_panel(float *dst, const float *src, int64_t rs, int64_t ks, int64_t rows,
                          int w, int64_t kc) {
    int64_t full = rows / w * w;
    if (rs == 1) {
        for (int64_t k = 0; k < kc; k++)
            for (int64_t r0 = 0; r0 < full; r0 += w)
                memcpy(dst + r0 * kc + k * w, src + k * ks + r0, (size_t)w * sizeof(float));
    } else {
        for (int64_t r0 = 0; r0 < full; r0 += w)
            gt_pack_rows(dst + r0 * kc, src + r0 * rs, rs, w, kc);
    }
    if (full == rows) return;
    float *d = dst + full * kc;
    for (int64_t k = 0; k < kc; k++)
        for (int64_t r = 0; r < w; r++)
            d[k * w + r] = full + r < rows ? src[(full + r) * rs + k * ks] : 0.0f;
}

/* op(A)[i0:i0+mc, p0:p0+kc] -> mr-row slivers, each [kc][mr]. */
static void gt_pack_a(const gt_sgemm_args *p, int64_t i0, int64_t mc, int64_t p0, int64_t kc,
                      int mr, float *dst) {
    int64_t rs = p->ta ? 1 : p->lda, ks = p->ta ? p->lda : 1;
    gt_pack_panel(dst, p->A + i0 * rs + p0 * ks, rs, ks, mc, mr, kc);
}

/* op(B)[p0:p0+kc, j0:j0+nc] -> nr-column slivers, each [kc][nr]. */
static void gt_pack_b(const gt_sgemm_args *p, int64_t p0, int64_t kc, int64_t j0, int64_t nc,
                      int nr, float *dst) {
    int64_t rs = p->tb ? p->ldb : 1, ks = p->tb ? 1 : p->ldb;
    gt_pack_panel(dst, p->B + j0 * rs + p0 * ks, rs, ks, nc, nr, kc);
}

/* The kernel for the first m rows of a tile: an exact one if the ISA has them. */
static gt_sgemm_ukernel gt_sgemm_kernel_rows(const gt_sgemm_kdesc *kd, int64_t m) {
    return kd->rows ? kd->rows[m] : kd->kernel;
}

/* A partial m x n tile of C (n < nr, or m < mr without row kernels): run the kernel on a
 * staging tile, copy back. */
static void gt_sgemm_edge(const gt_sgemm_kdesc *kd, int64_t kc, const float *a, const float *b,
                          float *c, int64_t ldc, int64_t m, int64_t n, float alpha, float beta) {
    _Alignas(64) float t[GT_SGEMM_TILE_MAX];
    memset(t, 0, sizeof t);
    if (beta != 0.0f)
        for (int64_t i = 0; i < m; i++) memcpy(t + i * kd->nr, c + i * ldc, (size_t)n * 4);
    gt_sgemm_kernel_rows(kd, m)(kc, a, b, t, kd->nr, alpha, beta);
    for (int64_t i = 0; i < m; i++) memcpy(c + i * ldc, t + i * kd->nr, (size_t)n * 4);
}

/* C[mc, nc] (row stride ldc) (+)= alpha * packed A block [mc x kc] * packed B block
 * [kc x nc]. */
static void gt_sgemm_macro(const gt_sgemm_kdesc *kd, int64_t mc, int64_t nc, int64_t kc,
                           const float *apack, const float *bpack, float *C, int64_t ldc,
                           float alpha, float beta) {
    for (int64_t ir = 0; ir < mc; ir += kd->mr) {
        int64_t m = gt_min64(kd->mr, mc - ir);
        for (int64_t jr = 0; jr < nc; jr += kd->nr) {
            int64_t n = gt_min64(kd->nr, nc - jr);
            const float *a = apack + ir * kc, *b = bpack + jr * kc;
            float *c = C + ir * ldc + jr;
            if (n == kd->nr && (m == kd->mr || kd->rows))
                gt_sgemm_kernel_rows(kd, m)(kc, a, b, c, ldc, alpha, beta);
            else
                gt_sgemm_edge(kd, kc, a, b, c, ldc, m, n, alpha, beta);
        }
    }
}

/* One macro tile C[i0:i0+mc, j0:j0+nc], all of K in kc steps (beta applied on the first). */
static void gt_sgemm_tile(const gt_sgemm_args *p, const gt_sgemm_kdesc *kd, int64_t i0,
                          int64_t mc, int64_t j0, int64_t nc, float *apack, float *bpack) {
    for (int64_t p0 = 0; p0 < p->K; p0 += kd->kc) {
        int64_t kc = gt_min64(kd->kc, p->K - p0);
        gt_pack_a(p, i0, mc, p0, kc, kd->mr, apack);
        gt_finish_panel(kd, apack, mc, kd->mr, kc);
        gt_pack_b(p, p0, kc, j0, nc, kd->nr, bpack);
        gt_finish_panel(kd, bpack, nc, kd->nr, kc);
        gt_sgemm_macro(kd, mc, nc, kc, apack, bpack, p->C + i0 * p->ldc + j0, p->ldc, p->alpha,
                       p0 == 0 ? p->beta : 1.0f);
    }
}


/* n cut into parts near-equal blocks: the block size, rounded up to a multiple of q. */
static int64_t gt_block_size(int64_t n, int64_t parts, int64_t q) {
    return gt_round_up((n + parts - 1) / parts, q);
}

/* Macro tiles for nt threads: blocks of at most the kernel's mc x nc, cut evenly, and
 * cut further (the longer side first) until there are two tiles per thread. */
static gt_sgemm_grid gt_sgemm_grid_for(const gt_sgemm_kdesc *kd, int64_t M, int64_t N, int nt) {
    int64_t pm = (M + kd->mc - 1) / kd->mc, pn = (N + kd->nc - 1) / kd->nc;
    while (nt > 1 && pm * pn < 2 * nt) {
        int n_first = N / pn >= M / pm;
        if (n_first && N / (pn + 1) >= 2 * kd->nr)
            pn++;
        else if (M / (pm + 1) >= kd->mr)
            pm++;
        else if (N / (pn + 1) >= kd->nr)
            pn++;
        else
            break;
    }
    gt_sgemm_grid g;
    g.mc = gt_block_size(M, pm, kd->mr);
    g.nc = gt_block_size(N, pn, kd->nr);
    g.mu = (M + g.mc - 1) / g.mc;
    g.nu = (N + g.nc - 1) / g.nc;
    return g;
}

/* Threads take whole macro tiles; each packs into a buffer of its own. */
static void gt_sgemm_run(gt_cpu_ws *ws, const gt_sgemm_args *p, const gt_sgemm_kdesc *kd,
                         const gt_sgemm_grid *g, int nt) {
    int64_t alen = g->mc * kd->kc, blen = gt_round_up(g->nc, kd->nr) * kd->kc;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        float *buf = gt_cpu_ws_buffer(ws, GT_WS_SLOT_THREAD + omp_get_thread_num(),
                                      (size_t)(alen + blen));
#pragma omp for schedule(dynamic, 1)
        for (int64_t u = 0; u < g->mu * g->nu; u++) {
            int64_t i0 = u / g->nu * g->mc, j0 = u % g->nu * g->nc;
            gt_sgemm_tile(p, kd, i0, gt_min64(g->mc, p->M - i0), j0,
                          gt_min64(g->nc, p->N - j0), buf, buf + alen);
        }
    }
}

/* C = beta * C (C = 0 when beta == 0): the whole product vanishes. */
static void gt_sgemm_scale(int64_t M, int64_t N, float beta, float *C, int64_t ldc) {
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++)
            C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
}

/* The GEMM at either precision. */
static void gt_gemm(gt_cpu_ws *ws, const gt_sgemm_args *a, int bf16) {
    gt_sgemm_args p = *a;
    int64_t M = p.M, N = p.N, K = p.K;
    if (M <= 0 || N <= 0) return;
    if (K <= 0 || p.alpha == 0.0f) {
        gt_sgemm_scale(M, N, p.beta, p.C, p.ldc);
        return;
    }
    gt_sgemm_kdesc kd = gt_sgemm_kdesc_for(gt_cpu_isa_active(), bf16);
    int nt = M * N * K >= GT_SGEMM_PARALLEL_MIN ? gt_cpu_threads() : 1;
    gt_sgemm_grid g = gt_sgemm_grid_for(&kd, M, N, nt);
    gt_cpu_ws *own = ws ? NULL : (ws = gt_cpu_ws_new());
    gt_sgemm_run(ws, &p, &kd, &g, nt);
    gt_cpu_ws_free(own);
}

void gt_cpu_sgemm_ws(gt_cpu_ws *ws, int ta, int tb, int64_t M, int64_t N, int64_t K,
                     float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                     float beta, float *C, int64_t ldc) {
    gt_sgemm_args p = {ta, tb, M, N, K, alpha, beta, A, B, C, lda, ldb, ldc};
    gt_gemm(ws, &p, 0);
}

void gt_cpu_sgemm_bf16_ws(gt_cpu_ws *ws, int ta, int tb, int64_t M, int64_t N, int64_t K,
                          float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                          float beta, float *C, int64_t ldc) {
    gt_sgemm_args p = {ta, tb, M, N, K, alpha, beta, A, B, C, lda, ldb, ldc};
    gt_gemm(ws, &p, 1);
}

void gt_cpu_sgemm_bf16(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha,
                       const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                       float *C, int64_t ldc) {
    gt_cpu_sgemm_bf16_ws(NULL, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void gt_cpu_sgemm(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha,
                  const float *A, int64_t lda, const float *B, int64_t ldb,
                  float beta, float *C, int64_t ldc) {
    gt_cpu_sgemm_ws(NULL, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* ---- Implicit GEMM ------------------------------------------------------------------ */


/* The windows of 16 columns jo[0 .. 15] of which the first n are real; 0 when more than two
 * segments are needed. A segment starts at its first lane and takes the lanes after it
 * while they read within 32 floats from there. */
static int gt_window_of(const int32_t *jo, int n, gt_window16 *w) {
    memset(w, 0, sizeof *w);
    for (int l = 0; l < n; l++) {
        int s = w->nseg - 1;
        int64_t d = s < 0 ? -1 : (int64_t)jo[l] - w->base[s];
        if (d < 0 || d >= 32) {
            if (w->nseg == 2) return 0;
            s = w->nseg++;
            w->base[s] = jo[l];
            d = 0;
        }
        w->lanes[s] |= (uint16_t)(1u << l);
        w->idx[s][l] = (int32_t)d;
        if (d < 16)
            w->lo[s] |= (uint16_t)(1u << d);
        else
            w->hi[s] |= (uint16_t)(1u << (d - 16));
    }
    if (!w->nseg) w->nseg = 1; /* all padding: lanes 0, reads nothing */
    return 1;
}

gt_window16 *gt_windows_new(gt_cpu_ws *ws, const int32_t *joff, int64_t n) {
    int64_t groups = gt_round_up(n, GT_IGEMM_JPAD) / 16;
    gt_window16 *w = gt_cpu_ws_scratch(ws, (size_t)(groups ? groups : 1) * sizeof *w);
    for (int64_t i = 0; i < groups; i++) {
        int64_t left = n - i * 16;
        if (!gt_window_of(joff + i * 16, (int)(left < 0 ? 0 : left > 16 ? 16 : left), &w[i])) {
            return NULL;
        }
    }
    return w;
}

/* One sliver [kc][w] of g: columns j0 .. j0+w-1, rows k0 .. k0+kc-1 (see gt_gather). */
static void gt_gather_sliver(const gt_gather *g, int64_t k0, int64_t kc, int64_t j0, int w,
                             float *dst) {
    const int32_t *jo = g->joff + j0, *jh = g->jh + j0, *jw = g->jw + j0;
    for (int64_t k = k0; k < k0 + kc; k++, dst += w) {
        const float *s = g->src + g->koff[k];
        int32_t kh = g->kh[k], kw = g->kw[k];
        for (int j = 0; j < w; j++) {
            int in = (uint32_t)(kh + jh[j]) < (uint32_t)g->h &&
                     (uint32_t)(kw + jw[j]) < (uint32_t)g->w;
            dst[j] = in ? s[jo[j]] : 0.0f;
        }
    }
}

/* Rows of A rounded up to whole slivers. */
static int64_t gt_igemm_mpad(const gt_igemm *p, const gt_sgemm_kdesc *kd) {
    return gt_round_up(p->m, kd->mr);
}

/* d[k*mr] = a[col[k]] for k < kc (0 when a is NULL: a padding row). */
static void gt_igemm_pack_row(float *d, int mr, const float *a, const int32_t *col,
                              int64_t kc) {
    if (!a) {
        for (int64_t k = 0; k < kc; k++) d[k * mr] = 0.0f;
        return;
    }
    for (int64_t k = 0; k < kc; k++) d[k * mr] = a[col[k]];
}

/* K block [p0, p0+kc) of A's sliver s (rows s*mr ..) into d [kc][mr]; rows past M are 0.
 * Reads run along k, the contiguous side of every caller's A. */
static void gt_igemm_pack_a(const gt_igemm *p, const gt_sgemm_kdesc *kd, int64_t s, int64_t p0,
                            int64_t kc, float *d) {
    for (int64_t i = 0, r = s * kd->mr; i < kd->mr; i++, r++)
        gt_igemm_pack_row(d + i, kd->mr, r < p->m ? p->a + p->arow[r] : NULL, p->acol + p0, kc);
    if (kd->finish) kd->finish(d, kc, kd->mr);
}

/* A thread's share of one product: row slivers [r0, r1) x column slivers [s0, s1).
 * own_a: the rows are the thread's alone, so it packs their A itself, block by block. */
typedef struct {
    int64_t r0, r1, s0, s1;
    int own_a;
} gt_igemm_share;

/* Thread t of nt splits the columns, or the rows when there are too few columns to go
 * round (a weight grad of few taps). */
static gt_igemm_share gt_igemm_share_of(const gt_igemm *p, const gt_sgemm_kdesc *kd, int t,
                                        int nt) {
    int64_t rs = gt_igemm_mpad(p, kd) / kd->mr, cs = (p->n + kd->nr - 1) / kd->nr;
    gt_igemm_share sh = {0, rs, 0, cs, 0};
    if (cs >= 2 * nt || rs < 2) {
        sh.s0 = cs * t / nt;
        sh.s1 = cs * (t + 1) / nt;
    } else {
        sh.r0 = rs * t / nt;
        sh.r1 = rs * (t + 1) / nt;
        sh.own_a = 1;
    }
    return sh;
}

/* Floats of A that p's threads share, packed before they start: all of it, unless each
 * packs its own rows (a large A, such as y of a weight grad, then never leaves cache). */
static int64_t gt_igemm_shared_a(const gt_igemm *p, const gt_sgemm_kdesc *kd, int nt) {
    return gt_igemm_share_of(p, kd, 0, nt).own_a ? 0 : gt_igemm_mpad(p, kd) * p->k;
}

/* Work unit u of the shared A packing of p[0 .. np-1]: one sliver of one product, all of
 * K, laid out [K block][sliver][kc][mr] (block p0 at apack + p0*mpad). */
static void gt_igemm_pack_a_unit(const gt_igemm *p, int np, const gt_sgemm_kdesc *kd, int nt,
                                 int64_t u, float *apack) {
    for (int i = 0; i < np; i++) {
        int64_t mpad = gt_igemm_mpad(&p[i], kd), len = gt_igemm_shared_a(&p[i], kd, nt);
        if (len && u < mpad / kd->mr) {
            for (int64_t p0 = 0; p0 < p[i].k; p0 += kd->kc) {
                int64_t kc = gt_min64(kd->kc, p[i].k - p0);
                gt_igemm_pack_a(&p[i], kd, u, p0, kc, apack + p0 * mpad + u * kd->mr * kc);
            }
            return;
        }
        u -= len ? mpad / kd->mr : 0;
        apack += len;
    }
}

/* The B block G[p0:p0+kc, j0:j0+nc] into bpack, nr columns at a time. */
static void gt_igemm_pack_b(const gt_igemm *p, const gt_sgemm_kdesc *kd, int64_t p0,
                            int64_t kc, int64_t j0, int64_t nc, float *bpack) {
    for (int64_t jr = 0; jr < nc; jr += kd->nr) {
        if (kd->gather)
            kd->gather(&p->b, p0, kc, j0 + jr, bpack + jr * kc);
        else
            gt_gather_sliver(&p->b, p0, kc, j0 + jr, kd->nr, bpack + jr * kc);
        if (kd->finish && !(kd->gather && kd->gather_finishes))
            kd->finish(bpack + jr * kc, kc, kd->nr);
    }
}

/* Per-thread packing buffers: B block, staging C block, and A block when owned. */
typedef struct {
    float *b, *st, *a;
} gt_igemm_bufs;

/* st[mc, nc] (row stride ld) = A[i0:i0+mc, :] G[:, j0:j0+nc] over all K blocks in order,
 * share sh's rows starting at i0. */
static void gt_igemm_block(const gt_igemm *p, const gt_sgemm_kdesc *kd, const float *apack,
                           const gt_igemm_share *sh, int64_t mc, int64_t j0, int64_t nc,
                           const gt_igemm_bufs *buf, int64_t ld) {
    int64_t mpad = gt_igemm_mpad(p, kd), i0 = sh->r0 * kd->mr;
    if (p->k == 0)
        for (int64_t i = 0; i < mc; i++) memset(buf->st + i * ld, 0, (size_t)nc * sizeof(float));
    for (int64_t p0 = 0; p0 < p->k; p0 += kd->kc) {
        int64_t kc = gt_min64(kd->kc, p->k - p0);
        const float *a = apack + p0 * mpad + i0 * kc;
        if (sh->own_a) {
            for (int64_t s = sh->r0; s < sh->r1; s++)
                gt_igemm_pack_a(p, kd, s, p0, kc, buf->a + (s - sh->r0) * kd->mr * kc);
            a = buf->a;
        }
        gt_igemm_pack_b(p, kd, p0, kc, j0, nc, buf->b);
        gt_sgemm_macro(kd, mc, nc, kc, a, buf->b, buf->st, ld, 1.0f, p0 == 0 ? 0.0f : 1.0f);
    }
}

/* C[i0:i0+mc, j0:j0+n] = st[mc, n] (row stride ld), through p->ccol: element by element,
 * or run by run (whole planes of y) when the runs are known. */
static void gt_igemm_store(const gt_igemm *p, const float *st, int64_t ld, int64_t i0,
                           int64_t mc, int64_t j0, int64_t n) {
    const int32_t *col = p->ccol + j0;
    for (int64_t i = i0; i < i0 + mc; i++, st += ld) {
        float *c = p->c + i * p->crs;
        if (!p->crun) {
            for (int64_t j = 0; j < n; j++) c[col[j]] = st[j];
            continue;
        }
        for (int64_t j = 0, r; j < n; j += r) {
            r = gt_min64(p->crun[j0 + j], n - j);
            memcpy(c + col[j], st + j, (size_t)r * sizeof *st);
        }
    }
}

/* Share sh of p, kd->nc columns at a time, each block staged in buf->st. */
static void gt_igemm_part(const gt_igemm *p, const gt_sgemm_kdesc *kd, const float *apack,
                          const gt_igemm_share *sh, const gt_igemm_bufs *buf) {
    int64_t per = kd->nc / kd->nr, i0 = sh->r0 * kd->mr;
    int64_t mc = gt_min64(sh->r1 * kd->mr, p->m) - i0;
    for (int64_t s = sh->s0; s < sh->s1 && mc > 0; s += per) {
        int64_t j0 = s * kd->nr, nc = gt_min64(per, sh->s1 - s) * kd->nr;
        gt_igemm_block(p, kd, apack, sh, mc, j0, nc, buf, kd->nc);
        gt_igemm_store(p, buf->st, kd->nc, i0, mc, j0, gt_min64(nc, p->n - j0));
    }
}

/* Thread t of nt: its share of every product, in order. */
static void gt_igemm_thread(gt_cpu_ws *ws, const gt_igemm *p, int np, const gt_sgemm_kdesc *kd,
                            const float *apack, int64_t rows, int t, int nt) {
    int64_t blen = kd->kc * kd->nc, slen = rows * kd->nc;
    float *pb = gt_cpu_ws_buffer(ws, GT_WS_SLOT_THREAD + t, (size_t)(blen + slen + rows * kd->kc));
    gt_igemm_bufs buf = {pb, pb + blen, pb + blen + slen};
    for (int i = 0; i < np; i++) {
        gt_igemm_share sh = gt_igemm_share_of(&p[i], kd, t, nt);
        gt_igemm_part(&p[i], kd, apack, &sh, &buf);
        apack += gt_igemm_shared_a(&p[i], kd, nt);
    }
}

/* Slivers of A that threads share (see gt_igemm_shared_a). */
static int64_t gt_igemm_shared_units(const gt_igemm *p, int np, const gt_sgemm_kdesc *kd,
                                     int nt) {
    int64_t units = 0;
    for (int i = 0; i < np; i++)
        units += gt_igemm_shared_a(&p[i], kd, nt) ? gt_igemm_mpad(&p[i], kd) / kd->mr : 0;
    return units;
}

void gt_igemm_run(gt_cpu_ws *ws, const gt_igemm *p, int np, int bf16) {
    gt_sgemm_kdesc kd = gt_sgemm_kdesc_for(gt_cpu_isa_active(), bf16);
    int64_t work = 0, alen = 0, rows = 0;
    for (int i = 0; i < np; i++) {
        int64_t mpad = gt_igemm_mpad(&p[i], &kd);
        work += p[i].m * p[i].n * p[i].k;
        alen += mpad * p[i].k;
        rows = mpad > rows ? mpad : rows;
    }
    int nt = work >= GT_SGEMM_PARALLEL_MIN ? gt_cpu_threads() : 1;
    float *abuf = gt_cpu_ws_buffer(ws, GT_WS_SLOT_SHARED_A, (size_t)alen + 1);
    /* The team may be smaller than asked (nested regions): the split follows the team. */
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        int team = omp_get_num_threads();
        int64_t units = gt_igemm_shared_units(p, np, &kd, team);
#pragma omp for schedule(static)
        for (int64_t u = 0; u < units; u++)
            gt_igemm_pack_a_unit(p, np, &kd, team, u, abuf);
        gt_igemm_thread(ws, p, np, &kd, abuf, rows, omp_get_thread_num(), team);
    }
}
