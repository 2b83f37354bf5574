/* Tests of the convolution and pooling kernels of src/cpu: each against a naive direct loop
 * in double over a table of geometries, plus the adjoint identities that tie the forward
 * kernels to their adjoints, and thread-count independence of the results. */
#include "cpu/cpu.h"
#include "test.h"

#include <omp.h>
#include <stdint.h>
#include <stdlib.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

/* Uniform in [-1, 1). */
static float frand(void) {
    rng_state = rng_state * 6364136223846793005u + 1442695040888963407u;
    return (float)((double)(rng_state >> 40) / (double)(1u << 23) - 1.0);
}

static float *rand_array(int64_t n) {
    float *a = malloc((size_t)n * sizeof *a);
    for (int64_t i = 0; i < n; i++) a[i] = frand();
    return a;
}

static float *nan_array(int64_t n) {
    float *a = malloc((size_t)n * sizeof *a);
    for (int64_t i = 0; i < n; i++) a[i] = NAN;
    return a;
}

static double dot(const float *a, const float *b, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* Count of elements of got farther from ref than 1e-5 of the summed magnitudes abs. */
static int64_t mismatches(const float *got, const double *ref, const double *abs, int64_t n) {
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++)
        if (!(fabs(got[i] - ref[i]) <= 1e-5 * abs[i] + 1e-7)) bad++;
    return bad;
}

/* ---- Convolution ---------------------------------------------------------------------- */

static gt_conv_geom conv_geom(int64_t n, int64_t c_in, int64_t c_out, int64_t groups,
                              int64_t h, int64_t w, int64_t k, int64_t s, int64_t p, int64_t d) {
    gt_conv_geom g = {n, c_in, h, w, c_out, 0, 0, k, k, s, s, p, p, d, d, groups, 0};
    g.h_out = (h + 2 * p - d * (k - 1) - 1) / s + 1;
    g.w_out = (w + 2 * p - d * (k - 1) - 1) / s + 1;
    return g;
}

typedef struct { int64_t nx, ny, nw; } conv_sizes;

static conv_sizes conv_numel(const gt_conv_geom *g) {
    conv_sizes z = {g->n * g->c_in * g->h_in * g->w_in, g->n * g->c_out * g->h_out * g->w_out,
                    g->c_out * (g->c_in / g->groups) * g->kh * g->kw};
    return z;
}

/* Reference of all three kernels at once: every term w*x of the forward sum feeds y, its
 * adjoint term w*y feeds x and y*x feeds w, each with a magnitude sum for the tolerance. */
typedef struct { double *y, *ya, *x, *xa, *w, *wa; } conv_ref;

static void conv_naive(const gt_conv_geom *g, conv_ref *r, const float *x, const float *w,
                       const float *y) {
    int64_t cig = g->c_in / g->groups, cog = g->c_out / g->groups;
    for (int64_t n = 0; n < g->n; n++)
    for (int64_t o = 0; o < g->c_out; o++)
    for (int64_t p = 0; p < g->h_out; p++)
    for (int64_t q = 0; q < g->w_out; q++)
    for (int64_t i = 0; i < cig; i++)
    for (int64_t a = 0; a < g->kh; a++)
    for (int64_t b = 0; b < g->kw; b++) {
        int64_t ih = p * g->sh - g->ph + a * g->dh, iw = q * g->sw - g->pw + b * g->dw;
        if (ih < 0 || ih >= g->h_in || iw < 0 || iw >= g->w_in) continue;
        int64_t xi = ((n * g->c_in + o / cog * cig + i) * g->h_in + ih) * g->w_in + iw;
        int64_t yi = ((n * g->c_out + o) * g->h_out + p) * g->w_out + q;
        int64_t wi = ((o * cig + i) * g->kh + a) * g->kw + b;
        double xv = x[xi], wv = w[wi], yv = y[yi];
        r->y[yi] += wv * xv, r->ya[yi] += fabs(wv * xv);
        r->x[xi] += wv * yv, r->xa[xi] += fabs(wv * yv);
        r->w[wi] += yv * xv, r->wa[wi] += fabs(yv * xv);
    }
}

/* Runs the three kernels on random data against conv_naive and the adjoint identity
 * <conv(x,w), y> = <x, input_grad(y,w)> = <w, weight_grad(x,y)>; returns failures. */
static int conv_check(const gt_conv_geom *g) {
    conv_sizes z = conv_numel(g);
    float *x = rand_array(z.nx), *w = rand_array(z.nw), *y = rand_array(z.ny);
    float *cy = nan_array(z.ny), *cx = nan_array(z.nx), *cw = nan_array(z.nw);
    conv_ref r = {calloc((size_t)z.ny, 8), calloc((size_t)z.ny, 8), calloc((size_t)z.nx, 8),
                  calloc((size_t)z.nx, 8), calloc((size_t)z.nw, 8), calloc((size_t)z.nw, 8)};
    conv_naive(g, &r, x, w, y);
    gt_cpu_conv2d(g, cy, x, w);
    gt_cpu_conv2d_input_grad(g, cx, y, w);
    gt_cpu_conv2d_weight_grad(g, cw, x, y);
    int64_t bad = mismatches(cy, r.y, r.ya, z.ny) + mismatches(cx, r.x, r.xa, z.nx) +
                  mismatches(cw, r.w, r.wa, z.nw);
    double d1 = dot(cy, y, z.ny), d2 = dot(x, cx, z.nx), d3 = dot(w, cw, z.nw);
    double scale = 1e-7;
    for (int64_t i = 0; i < z.ny; i++) scale += 1e-5 * r.ya[i] * fabs(y[i]);
    int adj_ok = fabs(d1 - d2) <= scale && fabs(d1 - d3) <= scale;
    if (bad || !adj_ok)
        fprintf(stderr, "  conv n%lld c%lld->%lld g%lld %lldx%lld k%lld s%lld p%lld d%lld: "
                "%lld mismatches, adjoint %.9g %.9g %.9g\n", (long long)g->n,
                (long long)g->c_in, (long long)g->c_out, (long long)g->groups,
                (long long)g->h_in, (long long)g->w_in, (long long)g->kh, (long long)g->sh,
                (long long)g->ph, (long long)g->dh, (long long)bad, d1, d2, d3);
    free(x), free(w), free(y), free(cy), free(cx), free(cw);
    free(r.y), free(r.ya), free(r.x), free(r.xa), free(r.w), free(r.wa);
    return bad || !adj_ok;
}

/* Strides 1-3, padding 0-2, dilation 1-2, kernels 1, 3, 4, groups 1, 2 and depthwise
 * (channel multiplier 2), non-square images, batches of 1 and 3. */
TEST(conv_geometry_table) {
    static const int64_t ks[] = {1, 3, 4};
    static const int64_t chans[3][3] = {{3, 5, 1}, {4, 6, 2}, {4, 8, 4}};
    int cases = 0, failed = 0;
    for (int ki = 0; ki < 3; ki++)
    for (int64_t s = 1; s <= 3; s++)
    for (int64_t p = 0; p <= 2; p++)
    for (int64_t d = 1; d <= 2; d++)
    for (int c = 0; c < 3; c++) {
        int64_t n = cases % 2 ? 3 : 1, h = 7 + cases % 3, w = 10 - cases % 4;
        gt_conv_geom g = conv_geom(n, chans[c][0], chans[c][1], chans[c][2], h, w, ks[ki], s,
                                   p, d);
        failed += conv_check(&g);
        cases++;
    }
    CHECK(failed == 0);
}

/* Input grad goes by phases of x from 32 input channels per group (by columns below):
 * the phase path over strides 1-3, padding 0-2, dilation 1-2, kernels 1, 3, 4, groups. */
TEST(conv_phase_geometries) {
    static const int64_t ks[] = {1, 3, 4};
    int cases = 0, failed = 0;
    for (int ki = 0; ki < 3; ki++)
    for (int64_t s = 1; s <= 3; s++)
    for (int64_t p = 0; p <= 2; p++)
    for (int64_t d = 1; d <= 2; d++) {
        int64_t groups = 1 + cases % 2, h = 7 + cases % 3, w = 9 - cases % 3;
        gt_conv_geom g = conv_geom(1 + cases % 2, 32 * groups, 3 * groups, groups, h, w, ks[ki],
                                   s, p, d);
        failed += conv_check(&g);
        cases++;
    }
    CHECK(failed == 0);
}

/* Small outputs with many samples: GEMM column slivers that straddle samples, and a
 * partial last sliver. */
TEST(conv_batched_samples) {
    gt_conv_geom a = conv_geom(70, 3, 4, 1, 5, 6, 3, 2, 1, 1);
    gt_conv_geom b = conv_geom(13, 4, 6, 2, 14, 14, 4, 2, 1, 1);
    gt_conv_geom c = conv_geom(25, 6, 4, 1, 7, 7, 3, 1, 1, 1);
    CHECK(conv_check(&a) == 0);
    CHECK(conv_check(&b) == 0);
    CHECK(conv_check(&c) == 0);
}

/* 1x1 kernels with groups and several samples, and a 1x1 with stride 2 (three of the
 * four input-grad phases of x have no taps and must come out 0). */
TEST(conv_pointwise) {
    gt_conv_geom a = conv_geom(3, 8, 6, 1, 5, 7, 1, 1, 0, 1);
    gt_conv_geom b = conv_geom(2, 8, 4, 2, 6, 3, 1, 1, 0, 2);
    gt_conv_geom c = conv_geom(2, 4, 4, 1, 6, 5, 1, 2, 0, 1);
    CHECK(conv_check(&a) == 0);
    CHECK(conv_check(&b) == 0);
    CHECK(conv_check(&c) == 0);
}

/* Rectangular kernel, unequal strides, padding and dilation per axis. */
TEST(conv_anisotropic) {
    gt_conv_geom g = {2, 4, 9, 6, 6, 0, 0, 3, 2, 2, 1, 1, 0, 1, 2, 2, 0};
    g.h_out = (g.h_in + 2 * g.ph - g.dh * (g.kh - 1) - 1) / g.sh + 1;
    g.w_out = (g.w_in + 2 * g.pw - g.dw * (g.kw - 1) - 1) / g.sw + 1;
    CHECK(conv_check(&g) == 0);
}

/* The DCGAN-28 layer shapes at batch 2 (large enough to enable the threaded copies). */
TEST(conv_dcgan_shapes) {
    gt_conv_geom a = conv_geom(2, 1, 64, 1, 28, 28, 4, 2, 1, 1);
    gt_conv_geom b = conv_geom(2, 64, 32, 1, 14, 14, 4, 2, 1, 1);
    CHECK(conv_check(&a) == 0);
    CHECK(conv_check(&b) == 0);
}

/* Runs the three kernels with 1, 2 and 3 threads; returns 0 if the results are
 * bit-identical (batches and the split of work change with the thread count). */
static int thread_check(const gt_conv_geom *g) {
    conv_sizes z = conv_numel(g);
    float *x = rand_array(z.nx), *w = rand_array(z.nw), *y = rand_array(z.ny);
    float *out[3][3];
    int threads = omp_get_max_threads(), bad = 0;
    for (int t = 0; t < 3; t++) {
        omp_set_num_threads(t + 1);
        out[t][0] = nan_array(z.ny), out[t][1] = nan_array(z.nx), out[t][2] = nan_array(z.nw);
        gt_cpu_conv2d(g, out[t][0], x, w);
        gt_cpu_conv2d_input_grad(g, out[t][1], y, w);
        gt_cpu_conv2d_weight_grad(g, out[t][2], x, y);
    }
    omp_set_num_threads(threads);
    for (int t = 1; t < 3; t++) {
        bad += memcmp(out[0][0], out[t][0], (size_t)z.ny * sizeof(float)) != 0;
        bad += memcmp(out[0][1], out[t][1], (size_t)z.nx * sizeof(float)) != 0;
        bad += memcmp(out[0][2], out[t][2], (size_t)z.nw * sizeof(float)) != 0;
    }
    for (int t = 0; t < 3; t++) free(out[t][0]), free(out[t][1]), free(out[t][2]);
    free(x), free(w), free(y);
    return bad;
}

/* Threads split the GEMM columns of every kernel (groups, a single input channel, a DCGAN
 * layer whose weight grad sums many K blocks of positions), or the rows when there are
 * few columns (the weight grad of the DCGAN input layer: 16 taps). */
TEST(conv_thread_independent) {
    gt_conv_geom a = conv_geom(7, 16, 12, 2, 16, 13, 3, 1, 1, 1);
    gt_conv_geom b = conv_geom(9, 1, 13, 1, 12, 10, 4, 2, 1, 1);
    gt_conv_geom c = conv_geom(12, 64, 32, 1, 14, 14, 4, 2, 1, 1);
    gt_conv_geom d = conv_geom(8, 1, 64, 1, 28, 28, 4, 2, 1, 1);
    CHECK(thread_check(&a) == 0);
    CHECK(thread_check(&b) == 0);
    CHECK(thread_check(&c) == 0);
    CHECK(thread_check(&d) == 0);
}

/* 40 input channels of 16 taps make a GEMM depth of 640: K blocks of 256, 256 and 128,
 * summed in order. */
TEST(conv_partial_channel_block) {
    gt_conv_geom g = conv_geom(5, 40, 18, 1, 9, 9, 4, 2, 1, 1);
    CHECK(conv_check(&g) == 0);
    CHECK(thread_check(&g) == 0);
}

/* A strided forward of 32 taps or more per group packs from a zero-padded copy of x split
 * into stride phases, reading windows of 16 columns (two at most, else the gather path):
 * rows of y wider than a window, one output per sample (too many windows: gather), strides
 * per axis, padding beyond the taps' reach, an image smaller than the stride, groups. */
static const int64_t split_cases[][10] = {
    /* n, c_in, c_out, groups, h, w, k, s, p, d */
    {2, 4, 5, 1, 9, 44, 3, 2, 1, 1},  {5, 4, 6, 1, 4, 4, 4, 2, 1, 1},
    {3, 4, 3, 1, 3, 3, 3, 3, 0, 1},   {2, 6, 4, 2, 11, 9, 4, 3, 2, 1},
    {2, 4, 4, 1, 1, 5, 3, 2, 1, 1},   {4, 8, 7, 1, 8, 7, 2, 2, 2, 1},
    {3, 32, 9, 1, 14, 14, 4, 2, 1, 1},
};

static int split_check(int thread_too) {
    int failed = 0;
    for (size_t i = 0; i < sizeof split_cases / sizeof split_cases[0]; i++) {
        const int64_t *c = split_cases[i];
        gt_conv_geom g = conv_geom(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9]);
        failed += conv_check(&g);
        if (thread_too) failed += thread_check(&g);
    }
    gt_conv_geom a = {3, 4, 10, 7, 6, 0, 0, 3, 4, 2, 1, 1, 2, 1, 1, 1, 0};
    a.h_out = (a.h_in + 2 * a.ph - a.kh) / a.sh + 1;
    a.w_out = (a.w_in + 2 * a.pw - a.kw) / a.sw + 1;
    return failed + conv_check(&a);
}

/* Back to the best ISA: forcing the highest one this CPU runs. */
static void restore_isa(void) {
    for (int isa = GT_ISA_AVX512; isa >= GT_ISA_SCALAR; isa--)
        if (gt_cpu_isa_force((gt_isa)isa)) return;
}

/* Every ISA this CPU runs (each packs gathered panels its own way), on strides, dilation,
 * groups and phases of x that no tap reaches. */
TEST(conv_all_isas) {
    gt_conv_geom a = conv_geom(3, 6, 4, 2, 11, 9, 3, 3, 1, 2);
    gt_conv_geom b = conv_geom(5, 8, 20, 1, 10, 10, 4, 2, 1, 1);
    gt_conv_geom c = conv_geom(2, 3, 5, 1, 9, 8, 2, 3, 0, 1);
    gt_conv_geom e = conv_geom(2, 64, 6, 2, 9, 8, 3, 2, 1, 1);
    for (int isa = GT_ISA_SCALAR; isa <= GT_ISA_AVX512; isa++) {
        if (!gt_cpu_isa_force((gt_isa)isa)) continue;
        CHECK(conv_check(&a) == 0);
        CHECK(conv_check(&b) == 0);
        CHECK(conv_check(&c) == 0);
        CHECK(conv_check(&e) == 0);
    }
    restore_isa();
}

TEST(conv_forward_stride_phases) {
    CHECK(split_check(1) == 0);
    for (int isa = GT_ISA_SCALAR; isa <= GT_ISA_AVX512; isa++) {
        if (!gt_cpu_isa_force((gt_isa)isa)) continue;
        CHECK(split_check(0) == 0);
    }
    restore_isa();
}

/* ---- Pooling -------------------------------------------------------------------------- */

static gt_pool_geom pool_geom(int64_t nc, int64_t h, int64_t w, int64_t k, int64_t s,
                              int64_t p) {
    gt_pool_geom g = {nc, h, w, (h + 2 * p - k) / s + 1, (w + 2 * p - k) / s + 1,
                      k, k, s, s, p, p};
    return g;
}

/* Naive avg and max pooling of all planes; ties in max go to the first in row order. */
static void pool_naive(const gt_pool_geom *g, double *avg, float *mx, int64_t *idx,
                       const float *x) {
    for (int64_t i = 0; i < g->nc; i++)
    for (int64_t p = 0; p < g->h_out; p++)
    for (int64_t q = 0; q < g->w_out; q++) {
        int64_t o = (i * g->h_out + p) * g->w_out + q;
        double s = 0;
        mx[o] = -INFINITY, idx[o] = -1;
        for (int64_t a = 0; a < g->kh; a++)
        for (int64_t b = 0; b < g->kw; b++) {
            int64_t r = p * g->sh - g->ph + a, c = q * g->sw - g->pw + b;
            if (r < 0 || r >= g->h_in || c < 0 || c >= g->w_in) continue;
            int64_t xi = (i * g->h_in + r) * g->w_in + c;
            s += x[xi];
            if (idx[o] < 0 || x[xi] > mx[o]) mx[o] = x[xi], idx[o] = xi;
        }
        avg[o] = s / (double)(g->kh * g->kw);
    }
}

/* Values in {-1, -0.5, 0, 0.5} so that windows hold ties. */
static float *tie_array(int64_t n) {
    float *a = malloc((size_t)n * sizeof *a);
    for (int64_t i = 0; i < n; i++) a[i] = (float)((int)(frand() * 2.0f + 2.0f) - 2) * 0.5f;
    return a;
}

static int pool_check(const gt_pool_geom *g) {
    int64_t nx = g->nc * g->h_in * g->w_in, ny = g->nc * g->h_out * g->w_out, bad = 0;
    float *x = tie_array(nx), *y = rand_array(ny), *ay = nan_array(ny), *my = nan_array(ny);
    float *ax = nan_array(nx), *rmx = malloc((size_t)ny * sizeof *rmx);
    int64_t *idx = malloc((size_t)ny * sizeof *idx), *ridx = malloc((size_t)ny * sizeof *ridx);
    double *ravg = malloc((size_t)ny * sizeof *ravg);
    pool_naive(g, ravg, rmx, ridx, x);
    gt_cpu_avg_pool2d(g, ay, x);
    gt_cpu_max_pool2d(g, my, idx, x);
    gt_cpu_avg_pool2d_adjoint(g, ax, y);
    for (int64_t i = 0; i < ny; i++)
        bad += !(fabs(ay[i] - ravg[i]) <= 1e-6) + (my[i] != rmx[i]) + (idx[i] != ridx[i]);
    double d1 = dot(ay, y, ny), d2 = dot(x, ax, nx);
    bad += !(fabs(d1 - d2) <= 1e-5 * (1 + fabs(d1)));
    free(x), free(y), free(ay), free(my), free(ax), free(rmx), free(idx), free(ridx), free(ravg);
    return bad != 0;
}

TEST(pool_geometry_table) {
    int failed = 0;
    for (int64_t k = 1; k <= 3; k++)
    for (int64_t s = 1; s <= 2; s++)
    for (int64_t p = 0; p <= k / 2; p++) {
        gt_pool_geom g = pool_geom(3, 7, 9, k, s, p);
        failed += pool_check(&g);
    }
    gt_pool_geom big = pool_geom(40, 20, 24, 2, 2, 0);
    failed += pool_check(&big);
    CHECK(failed == 0);
}

/* upsample2x against a naive copy, sum_pool2x against a naive sum, and the identity
 * <upsample2x(x), y> = <x, sum_pool2x(y)>. */
TEST(upsample_sum_pool) {
    int64_t nc = 37, h = 6, w = 5, n = nc * h * w;
    float *x = rand_array(n), *y = rand_array(4 * n), *u = nan_array(4 * n), *s = nan_array(n);
    gt_cpu_upsample2x(u, x, nc, h, w);
    gt_cpu_sum_pool2x(s, y, nc, 2 * h, 2 * w);
    int64_t bad = 0;
    for (int64_t i = 0; i < nc; i++)
    for (int64_t r = 0; r < 2 * h; r++)
    for (int64_t c = 0; c < 2 * w; c++)
        bad += u[(i * 2 * h + r) * 2 * w + c] != x[(i * h + r / 2) * w + c / 2];
    for (int64_t i = 0; i < nc; i++)
    for (int64_t r = 0; r < h; r++)
    for (int64_t c = 0; c < w; c++) {
        const float *b = y + (i * 2 * h + 2 * r) * 2 * w + 2 * c;
        double ref = (double)b[0] + b[1] + b[2 * w] + b[2 * w + 1];
        bad += !(fabs(s[(i * h + r) * w + c] - ref) <= 1e-6);
    }
    CHECK(bad == 0);
    double d1 = dot(u, y, 4 * n), d2 = dot(x, s, n);
    CHECK_NEAR(d1, d2, 1e-5 * (1 + fabs(d1)));
    free(x), free(y), free(u), free(s);
}

int main(void) {
    RUN_TESTS(T(conv_geometry_table), T(conv_phase_geometries), T(conv_batched_samples),
              T(conv_pointwise), T(conv_anisotropic), T(conv_dcgan_shapes),
              T(conv_thread_independent), T(conv_partial_channel_block), T(conv_all_isas),
              T(conv_forward_stride_phases),
              T(pool_geometry_table), T(upsample_sum_pool));
}
