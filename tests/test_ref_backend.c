/* Tests of the reference backend (src/ref): every entry of gt_backend_ref against
 * gt_backend_cpu on seeded random inputs with awkward shapes, hand-computed exact cases (so a
 * mistake both backends share still fails), Philox known answers and bit-identical random
 * draws, and the memory functions. The largest discrepancy of each kernel family is printed.
 *
 * Tolerances, from float32 rounding (u = 2^-24, FLT_EPSILON = 2u):
 *  - CPU kernels that sum K products in float (gemm, conv, pooling sums, reduce_sum): in any
 *    order, blocking or with FMA, |fl(s) - s| <= K u sum|t| (to first order); ref sums in
 *    double and rounds once, |ref - s| <= u |s| + K 2^-53 sum|t|. So
 *        |ref - cpu| <= (K + 2) u sum|t|,
 *    and we check (K + 3) FLT_EPSILON sum|t| (twice that, covering the alpha/beta and 1/(kh kw)
 *    roundings). sum|t| is the same kernel applied to |inputs|, computed by ref.
 *  - CPU kernels that accumulate in double (channel_sum, batch norm family): both results are
 *    roundings of doubles that differ by at most m 2^-53 sum|t| (m terms), so they differ by at
 *    most one float ulp plus that: FLT_EPSILON |ref| + m DBL_EPSILON sum|t|.
 *  - libm maps: the CPU calls float libm (glibc: expf, logf, log1pf, powf, tanhf within 1-2 ulp)
 *    and composes a few float operations (sigmoid: exp, add, divide, 0.5 ulp each); ref is
 *    within 0.5 ulp (+2^-29 relative) of the exact value. A budget of 4 ulp: 4 FLT_EPSILON |ref|.
 *  - Everything else (moves, comparisons, masks, max, single float operations, which double
 *    computes and rounds to the same float), and the random draws: bit-identical. */
#include "core/backend.h"
#include "ref/ref.h"
#include "test.h"

#include <float.h>
#include <stdint.h>
#include <stdlib.h>

static const gt_backend *const REF = &gt_backend_ref, *const CPU = &gt_backend_cpu;

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;

/* Uniform in [-1, 1). */
static float frand(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng_state >> 40) / (double)(1u << 23) - 1.0);
}

static int64_t irand(int64_t n) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (int64_t)((rng_state >> 33) % (uint64_t)n);
}

static float *floats(int64_t n) { return malloc((size_t)(n > 0 ? n : 1) * sizeof(float)); }

static float *rand_array(int64_t n) {
    float *a = floats(n);
    for (int64_t i = 0; i < n; i++) a[i] = frand();
    return a;
}

static float *abs_copy(const float *a, int64_t n) {
    float *b = floats(n);
    for (int64_t i = 0; i < n; i++) b[i] = fabsf(a[i]);
    return b;
}

static float *const_array(int64_t n, float v) {
    float *a = floats(n);
    for (int64_t i = 0; i < n; i++) a[i] = v;
    return a;
}

static float *dup(const float *a, int64_t n) {
    float *b = floats(n);
    memcpy(b, a, (size_t)n * sizeof *b);
    return b;
}

/* ---- discrepancy bookkeeping ------------------------------------------------------------------ */

typedef struct {
    const char *name;
    double max_abs, max_ratio; /* largest |ref - cpu| and largest |ref - cpu| / tolerance */
    int64_t compared;
} family;

enum { F_GEMM, F_CONV, F_CONV_IN, F_CONV_W, F_POOL, F_EWISE, F_LIBM, F_MOVE, F_REDUCE, F_CHANNEL,
       F_BN, F_BN_BWD, F_RAND, F_COUNT };
static family families[F_COUNT] = {
    {"sgemm", 0, 0, 0},           {"conv2d", 0, 0, 0},       {"conv2d_input_grad", 0, 0, 0},
    {"conv2d_weight_grad", 0, 0, 0}, {"pooling", 0, 0, 0},  {"ewise exact", 0, 0, 0},
    {"ewise libm", 0, 0, 0},      {"moves/gather", 0, 0, 0}, {"reductions", 0, 0, 0},
    {"channel_sum", 0, 0, 0},     {"batch_norm fwd", 0, 0, 0}, {"batch_norm bwd", 0, 0, 0},
    {"rand", 0, 0, 0}};

/* Number of i with |ref - cpu| > tol[i] (tol NULL: bit-identical required, NaN == NaN);
 * records the largest discrepancies of family f. */
static int64_t compare(int f, const float *ref, const float *cpu, const double *tol, int64_t n) {
    int64_t bad = 0;
    family *fam = &families[f];
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)ref[i] - (double)cpu[i]);
        if (isnan(ref[i]) || isnan(cpu[i])) {
            if (!(isnan(ref[i]) && isnan(cpu[i]))) bad++;
            continue;
        }
        if (ref[i] == cpu[i]) d = 0; /* infinities of the same sign */
        if (d > fam->max_abs) fam->max_abs = d;
        if (tol) {
            if (tol[i] > 0 && d / tol[i] > fam->max_ratio) fam->max_ratio = d / tol[i];
            if (!(d <= tol[i])) bad++;
        } else if (memcmp(&ref[i], &cpu[i], sizeof(float)) != 0) {
            bad++;
        }
    }
    fam->compared += n;
    if (bad) fprintf(stderr, "  %s: %lld of %lld outside tolerance\n", fam->name, (long long)bad,
                     (long long)n);
    return bad;
}

/* tol[i] = (K + 3) FLT_EPSILON abs[i]: a float sum of K terms of magnitude sum abs[i]. */
static double *sum_tol(const float *abs, int64_t n, int64_t K) {
    double *t = malloc((size_t)(n > 0 ? n : 1) * sizeof *t);
    for (int64_t i = 0; i < n; i++) t[i] = (double)(K + 3) * FLT_EPSILON * abs[i] + 1e-30;
    return t;
}

/* tol[i] = ulps FLT_EPSILON |ref[i]| + FLT_MIN (results near underflow). */
static double *ulp_tol(const float *ref, int64_t n, double ulps) {
    double *t = malloc((size_t)(n > 0 ? n : 1) * sizeof *t);
    for (int64_t i = 0; i < n; i++) t[i] = ulps * FLT_EPSILON * fabs(ref[i]) + FLT_MIN;
    return t;
}

/* ---- sgemm ------------------------------------------------------------------------------------ */

/* One gemm problem with leading dims padded by pad (the padding NaN, never touched). */
static int gemm_case(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, float beta,
                     int64_t pad) {
    int64_t lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
    int64_t na = (ta ? K : M) * lda, nb = (tb ? N : K) * ldb, nc = M * ldc;
    float *A = rand_array(na), *B = rand_array(nb), *C0 = rand_array(nc);
    for (int64_t i = 0; i < nc; i++)
        if (i % ldc >= N || beta == 0.0f) C0[i] = NAN; /* beta 0: C is never read */
    float *Cr = dup(C0, nc), *Cc = dup(C0, nc);
    REF->sgemm(NULL, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, Cr, ldc);
    CPU->sgemm(NULL, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, Cc, ldc);
    /* sum|t| = |alpha| |op(A)| |op(B)| + |beta| |C|, by ref on absolute values */
    float *Aa = abs_copy(A, na), *Ba = abs_copy(B, nb), *Ca = abs_copy(C0, nc);
    REF->sgemm(NULL, ta, tb, M, N, K, fabsf(alpha), Aa, lda, Ba, ldb, fabsf(beta), Ca, ldc);
    double *tol = sum_tol(Ca, nc, K);
    int ok = 1;
    for (int64_t i = 0; i < nc; i++) {
        if (i % ldc < N) continue;
        if (!isnan(Cr[i]) || !isnan(Cc[i])) ok = 0; /* padding untouched */
        Cr[i] = Cc[i] = 0.0f, tol[i] = 0;
    }
    if (compare(F_GEMM, Cr, Cc, tol, nc)) ok = 0;
    free(A), free(B), free(C0), free(Cr), free(Cc), free(Aa), free(Ba), free(Ca), free(tol);
    return ok;
}

TEST(sgemm_matches_cpu) {
    static const int64_t sizes[][3] = {{7, 5, 3},   {33, 17, 65}, {64, 64, 64},
                                       {1, 100, 37}, {129, 3, 300}, {200, 150, 301}};
    for (int t = 0; t < 4; t++)
        for (int s = 0; s < 6; s++) {
            const int64_t *z = sizes[s];
            CHECK(gemm_case(t & 1, t >> 1, z[0], z[1], z[2], 1.0f, 1.0f, 0));
            CHECK(gemm_case(t & 1, t >> 1, z[0], z[1], z[2], 1.5f, -0.5f, 3));
            CHECK(gemm_case(t & 1, t >> 1, z[0], z[1], z[2], -0.75f, 0.0f, 5));
        }
    CHECK(gemm_case(0, 1, 9, 11, 0, 1.0f, 0.5f, 2)); /* K = 0: C = beta C */
    CHECK(gemm_case(1, 0, 9, 11, 7, 0.0f, 2.0f, 1)); /* alpha = 0 */
    CHECK(gemm_case(1, 1, 9, 11, 7, 0.0f, 0.0f, 1)); /* C = 0 */
}

/* [[1,2],[3,4]] [[5,6],[7,8]] = [[19,22],[43,50]]; transposes and alpha, beta by hand. */
TEST(sgemm_exact_cases) {
    const float A[4] = {1, 2, 3, 4}, B[4] = {5, 6, 7, 8};
    float C[4] = {NAN, NAN, NAN, NAN};
    REF->sgemm(NULL, 0, 0, 2, 2, 2, 1.0f, A, 2, B, 2, 0.0f, C, 2);
    CHECK(C[0] == 19 && C[1] == 22 && C[2] == 43 && C[3] == 50);
    REF->sgemm(NULL, 1, 0, 2, 2, 2, 1.0f, A, 2, B, 2, 0.0f, C, 2); /* A^T B = [[26,30],[38,44]] */
    CHECK(C[0] == 26 && C[1] == 30 && C[2] == 38 && C[3] == 44);
    REF->sgemm(NULL, 0, 1, 2, 2, 2, 1.0f, A, 2, B, 2, 0.0f, C, 2); /* A B^T = [[17,23],[39,53]] */
    CHECK(C[0] == 17 && C[1] == 23 && C[2] == 39 && C[3] == 53);
    REF->sgemm(NULL, 1, 1, 2, 2, 2, 2.0f, A, 2, B, 2, -1.0f, C, 2); /* 2 A^T B^T - C: [[23,31],[34,46]]*2 */
    CHECK(C[0] == 46 - 17 && C[1] == 62 - 23 && C[2] == 68 - 39 && C[3] == 92 - 53);
    /* a 1 x 3 times 3 x 1 with lda, ldb, ldc past the width: 1*4 + 2*5 + 3*6 = 32 */
    const float a[6] = {1, 2, 3, NAN, NAN, NAN}, b[6] = {4, NAN, 5, NAN, 6, NAN};
    float c[2] = {1, NAN};
    REF->sgemm(NULL, 0, 0, 1, 1, 3, 1.0f, a, 6, b, 2, 0.5f, c, 2);
    CHECK(c[0] == 32.5f && isnan(c[1]));
}

/* ---- convolution ------------------------------------------------------------------------------ */

static gt_conv_geom conv_geom(int64_t n, int64_t c_in, int64_t c_out, int64_t groups, int64_t h,
                              int64_t w, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                              int64_t ph, int64_t pw, int64_t dh, int64_t dw) {
    gt_conv_geom g = {n, c_in, h, w, c_out, 0, 0, kh, kw, sh, sw, ph, pw, dh, dw, groups, 0};
    g.h_out = (h + 2 * ph - dh * (kh - 1) - 1) / sh + 1;
    g.w_out = (w + 2 * pw - dw * (kw - 1) - 1) / sw + 1;
    return g;
}

static int64_t conv_nx(const gt_conv_geom *g) { return g->n * g->c_in * g->h_in * g->w_in; }
static int64_t conv_ny(const gt_conv_geom *g) { return g->n * g->c_out * g->h_out * g->w_out; }
static int64_t conv_nw(const gt_conv_geom *g) {
    return g->c_out * (g->c_in / g->groups) * g->kh * g->kw;
}

/* All three conv kernels of ref against cpu on one geometry; K per kernel is the most terms
 * one output sums: cig kh kw (forward), cog kh kw (input grad), n h_out w_out (weight grad). */
static int conv_case(const gt_conv_geom *g) {
    int64_t nx = conv_nx(g), ny = conv_ny(g), nw = conv_nw(g), bad = 0;
    int64_t cig = g->c_in / g->groups, cog = g->c_out / g->groups, kk = g->kh * g->kw;
    float *x = rand_array(nx), *w = rand_array(nw), *dy = rand_array(ny);
    float *xa = abs_copy(x, nx), *wa = abs_copy(w, nw), *dya = abs_copy(dy, ny);
    float *yr = const_array(ny, NAN), *yc = const_array(ny, NAN), *ya = floats(ny);
    REF->conv2d(NULL, g, yr, x, w), CPU->conv2d(NULL, g, yc, x, w), REF->conv2d(NULL, g, ya, xa, wa);
    double *tol = sum_tol(ya, ny, cig * kk);
    bad += compare(F_CONV, yr, yc, tol, ny);
    free(tol);
    float *xr = const_array(nx, NAN), *xc = const_array(nx, NAN), *xb = floats(nx);
    REF->conv2d_input_grad(NULL, g, xr, dy, w), CPU->conv2d_input_grad(NULL, g, xc, dy, w);
    REF->conv2d_input_grad(NULL, g, xb, dya, wa);
    tol = sum_tol(xb, nx, cog * kk);
    bad += compare(F_CONV_IN, xr, xc, tol, nx);
    free(tol);
    float *wr = const_array(nw, NAN), *wc = const_array(nw, NAN), *wb = floats(nw);
    REF->conv2d_weight_grad(NULL, g, wr, x, dy), CPU->conv2d_weight_grad(NULL, g, wc, x, dy);
    REF->conv2d_weight_grad(NULL, g, wb, xa, dya);
    tol = sum_tol(wb, nw, g->n * g->h_out * g->w_out);
    bad += compare(F_CONV_W, wr, wc, tol, nw);
    free(tol);
    /* Adjoint identities of ref itself, in double: <conv(x), dy> = <x, conv^T dy> = <w, dW>. */
    double s_y = 0, s_x = 0, s_w = 0, s_abs = 0;
    for (int64_t i = 0; i < ny; i++) s_y += (double)yr[i] * dy[i], s_abs += (double)ya[i] * dya[i];
    for (int64_t i = 0; i < nx; i++) s_x += (double)x[i] * xr[i];
    for (int64_t i = 0; i < nw; i++) s_w += (double)w[i] * wr[i];
    double adj_tol = 4 * FLT_EPSILON * s_abs + 1e-30;
    if (!(fabs(s_y - s_x) <= adj_tol && fabs(s_y - s_w) <= adj_tol)) bad++;
    free(x), free(w), free(dy), free(xa), free(wa), free(dya), free(yr), free(yc), free(ya);
    free(xr), free(xc), free(xb), free(wr), free(wc), free(wb);
    return bad == 0;
}

TEST(conv_matches_cpu) {
    const gt_conv_geom geoms[] = {
        conv_geom(2, 3, 4, 1, 7, 9, 3, 3, 1, 1, 1, 1, 1, 1),     /* plain 3x3, same padding */
        conv_geom(2, 4, 5, 1, 11, 10, 3, 3, 2, 2, 1, 1, 1, 1),   /* stride 2 */
        conv_geom(1, 3, 4, 1, 12, 11, 3, 3, 1, 1, 2, 2, 2, 2),   /* dilation 2 */
        conv_geom(2, 4, 6, 2, 9, 8, 2, 3, 2, 1, 1, 0, 1, 2),     /* groups 2, 2x3, mixed */
        conv_geom(3, 5, 7, 1, 6, 5, 1, 1, 1, 1, 0, 0, 1, 1),     /* 1x1 */
        conv_geom(2, 2, 3, 1, 13, 6, 5, 1, 3, 1, 2, 0, 1, 1),    /* 5x1, stride 3 */
        conv_geom(2, 8, 16, 1, 16, 16, 4, 4, 2, 2, 1, 1, 1, 1),  /* DCGAN layer */
        conv_geom(2, 1, 8, 1, 15, 14, 4, 4, 2, 2, 1, 1, 1, 1),   /* one input channel */
        conv_geom(2, 4, 4, 4, 10, 7, 3, 3, 1, 2, 1, 1, 1, 1),    /* depthwise */
        conv_geom(1, 6, 4, 2, 10, 13, 3, 2, 2, 3, 2, 1, 2, 1),   /* everything at once */
        conv_geom(4, 16, 8, 1, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1),    /* deeper K */
    };
    for (size_t i = 0; i < sizeof geoms / sizeof geoms[0]; i++) {
        int ok = conv_case(&geoms[i]);
        if (!ok) fprintf(stderr, "  conv geometry %zu failed\n", i);
        CHECK(ok);
    }
}

/* Small convolutions whose answers are written down. */
TEST(conv_exact_cases) {
    /* x = 1..9 (3x3), w = [[1,2],[3,4]]: y = [[37,47],[67,77]]. */
    const float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w[4] = {1, 2, 3, 4};
    gt_conv_geom g = conv_geom(1, 1, 1, 1, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1);
    float y[4], xg[9], wg[4];
    REF->conv2d(NULL, &g, y, x, w);
    CHECK(y[0] == 37 && y[1] == 47 && y[2] == 67 && y[3] == 77);
    /* conv^T of a unit impulse at output (0, 0) places w at the top left; dW = x's 2x2 corner. */
    const float e00[4] = {1, 0, 0, 0}, e11[4] = {0, 0, 0, 1};
    REF->conv2d_input_grad(NULL, &g, xg, e00, w);
    const float want_x[9] = {1, 2, 0, 3, 4, 0, 0, 0, 0};
    CHECK(memcmp(xg, want_x, sizeof xg) == 0);
    REF->conv2d_input_grad(NULL, &g, xg, e11, w);
    const float want_x11[9] = {0, 0, 0, 0, 1, 2, 0, 3, 4};
    CHECK(memcmp(xg, want_x11, sizeof xg) == 0);
    REF->conv2d_weight_grad(NULL, &g, wg, x, e00);
    CHECK(wg[0] == 1 && wg[1] == 2 && wg[2] == 4 && wg[3] == 5);
    REF->conv2d_weight_grad(NULL, &g, wg, x, e11);
    CHECK(wg[0] == 5 && wg[1] == 6 && wg[2] == 8 && wg[3] == 9);
    /* dilation 2: a 2x2 kernel of ones reads the corners, 1 + 3 + 7 + 9 = 20. */
    const float ones[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    gt_conv_geom gd = conv_geom(1, 1, 1, 1, 3, 3, 2, 2, 1, 1, 0, 0, 2, 2);
    CHECK(gd.h_out == 1 && gd.w_out == 1);
    REF->conv2d(NULL, &gd, y, x, ones);
    CHECK(y[0] == 20);
    /* 3x3 ones on a 2x2 image, padding 1, stride 2: one output, the whole image, 10. */
    gt_conv_geom gp = conv_geom(1, 1, 1, 1, 2, 2, 3, 3, 2, 2, 1, 1, 1, 1);
    CHECK(gp.h_out == 1 && gp.w_out == 1);
    REF->conv2d(NULL, &gp, y, x, ones);
    CHECK(y[0] == 10);
    /* stride 2 transpose: y = [1, 10] (1x2) with a 1x2 kernel [1, 2], stride 2 on a 1x4 image:
     * x = [1, 2, 10, 20]. */
    gt_conv_geom gs = conv_geom(1, 1, 1, 1, 1, 4, 1, 2, 1, 2, 0, 0, 1, 1);
    const float ys[2] = {1, 10}, ws[2] = {1, 2};
    CHECK(gs.w_out == 2);
    REF->conv2d_input_grad(NULL, &gs, xg, ys, ws);
    CHECK(xg[0] == 1 && xg[1] == 2 && xg[2] == 10 && xg[3] == 20);
    /* groups 2 with 1x1 kernels [2, 3]: channel 0 doubles, channel 1 triples. */
    gt_conv_geom gg = conv_geom(1, 2, 2, 2, 1, 2, 1, 1, 1, 1, 0, 0, 1, 1);
    const float xg2[4] = {1, 2, 3, 4}, wg2[2] = {2, 3};
    float yg2[4];
    REF->conv2d(NULL, &gg, yg2, xg2, wg2);
    CHECK(yg2[0] == 2 && yg2[1] == 4 && yg2[2] == 9 && yg2[3] == 12);
}

/* ---- pooling ----------------------------------------------------------------------------------- */

static gt_pool_geom pool_geom(int64_t nc, int64_t h, int64_t w, int64_t kh, int64_t kw,
                              int64_t sh, int64_t sw, int64_t ph, int64_t pw) {
    gt_pool_geom g = {nc, h, w, 0, 0, kh, kw, sh, sw, ph, pw};
    g.h_out = (h + 2 * ph - kh) / sh + 1;
    g.w_out = (w + 2 * pw - kw) / sw + 1;
    return g;
}

/* avg pool, its adjoint and max pool of ref against cpu; x has ties (values on a grid of 1/4)
 * and, when with_nan, a NaN. */
static int pool_case(const gt_pool_geom *g, int with_nan) {
    int64_t nx = g->nc * g->h_in * g->w_in, ny = g->nc * g->h_out * g->w_out, bad = 0;
    float *x = rand_array(nx), *dy = rand_array(ny);
    for (int64_t i = 0; i < nx; i++) x[i] = roundf(x[i] * 4) / 4;
    float *yr = floats(ny), *yc = floats(ny), *ya = floats(ny), *xa = abs_copy(x, nx);
    REF->avg_pool2d(g, yr, x), CPU->avg_pool2d(g, yc, x), REF->avg_pool2d(g, ya, xa);
    double *tol = sum_tol(ya, ny, g->kh * g->kw);
    bad += compare(F_POOL, yr, yc, tol, ny);
    free(tol);
    float *xr = floats(nx), *xc = floats(nx), *xb = floats(nx), *dya = abs_copy(dy, ny);
    REF->avg_pool2d_adjoint(g, xr, dy), CPU->avg_pool2d_adjoint(g, xc, dy);
    REF->avg_pool2d_adjoint(g, xb, dya);
    tol = sum_tol(xb, nx, g->kh * g->kw);
    bad += compare(F_POOL, xr, xc, tol, nx);
    free(tol);
    if (with_nan) x[nx / 2] = NAN;
    int64_t *ir = malloc((size_t)ny * sizeof *ir), *ic = malloc((size_t)ny * sizeof *ic);
    REF->max_pool2d(g, yr, ir, x), CPU->max_pool2d(g, yc, ic, x);
    bad += compare(F_POOL, yr, yc, NULL, ny);
    bad += memcmp(ir, ic, (size_t)ny * sizeof *ir) != 0;
    for (int64_t j = 0; j < ny; j++) /* y = x[idx], or a window wholly in the padding */
        if (ir[j] >= 0 ? memcmp(&yr[j], &x[ir[j]], sizeof(float)) != 0 : yr[j] != -INFINITY)
            bad++;
    free(x), free(dy), free(yr), free(yc), free(ya), free(xa), free(xr), free(xc), free(xb);
    free(dya), free(ir), free(ic);
    return bad == 0;
}

TEST(pooling_matches_cpu) {
    const gt_pool_geom geoms[] = {
        pool_geom(6, 8, 8, 2, 2, 2, 2, 0, 0),    pool_geom(3, 7, 9, 3, 3, 2, 2, 1, 1),
        pool_geom(2, 10, 5, 3, 2, 1, 2, 1, 0),   pool_geom(4, 5, 5, 4, 4, 3, 3, 2, 2),
        pool_geom(2, 4, 5, 2, 2, 1, 1, 2, 2),    /* the corner windows are all padding */
        pool_geom(40, 30, 31, 3, 3, 2, 2, 1, 1), /* big enough for the cpu's threads */
    };
    for (size_t i = 0; i < sizeof geoms / sizeof geoms[0]; i++) {
        CHECK(pool_case(&geoms[i], 0));
        CHECK(pool_case(&geoms[i], 1));
    }
    /* upsample2x and sum_pool2x, small and threaded */
    static const int64_t shapes[][3] = {{3, 6, 10}, {1, 2, 2}, {8, 64, 64}};
    for (int s = 0; s < 3; s++) {
        int64_t nc = shapes[s][0], h = shapes[s][1], w = shapes[s][2], n = nc * h * w;
        float *x = rand_array(n), *ur = floats(4 * n), *uc = floats(4 * n);
        REF->upsample2x(ur, x, nc, h, w), CPU->upsample2x(uc, x, nc, h, w);
        CHECK(compare(F_POOL, ur, uc, NULL, 4 * n) == 0);
        float *pr = floats(n / 4), *pc = floats(n / 4), *pa = floats(n / 4), *xa = abs_copy(x, n);
        REF->sum_pool2x(pr, x, nc, h, w), CPU->sum_pool2x(pc, x, nc, h, w);
        REF->sum_pool2x(pa, xa, nc, h, w);
        double *tol = sum_tol(pa, n / 4, 4);
        CHECK(compare(F_POOL, pr, pc, tol, n / 4) == 0);
        free(x), free(ur), free(uc), free(pr), free(pc), free(pa), free(xa), free(tol);
    }
}

TEST(pooling_exact_cases) {
    const float x[4] = {1, 2, 3, 4};
    /* 2x2 windows, stride 2, padding 1 on a 2x2 image: each window holds one pixel, / 4. */
    gt_pool_geom g = pool_geom(1, 2, 2, 2, 2, 2, 2, 1, 1);
    float y[4], xb[4];
    int64_t idx[4];
    REF->avg_pool2d(&g, y, x);
    CHECK(y[0] == 0.25f && y[1] == 0.5f && y[2] == 0.75f && y[3] == 1.0f);
    const float ones[4] = {1, 1, 1, 1};
    REF->avg_pool2d_adjoint(&g, xb, ones);
    CHECK(xb[0] == 0.25f && xb[1] == 0.25f && xb[2] == 0.25f && xb[3] == 0.25f);
    /* overlapping windows (2x2, stride 1) on a 3x3 image: the centre is in all four, / 4 -> 1 */
    gt_pool_geom g3 = pool_geom(1, 3, 3, 2, 2, 1, 1, 0, 0);
    float x9[9];
    REF->avg_pool2d_adjoint(&g3, x9, ones);
    CHECK(x9[4] == 1.0f && x9[0] == 0.25f && x9[1] == 0.5f);
    /* max pool: ties keep the first, a NaN wins, padding is never chosen. */
    const float tie[9] = {5, 5, 1, 5, 5, 1, 0, 0, -1};
    REF->max_pool2d(&g3, y, idx, tie);
    CHECK(idx[0] == 0 && idx[1] == 1 && idx[2] == 3 && idx[3] == 4 && y[0] == 5);
    const float neg[4] = {-3, -2, NAN, -4};
    gt_pool_geom g1 = pool_geom(1, 2, 2, 3, 3, 1, 1, 1, 1); /* every window holds the image */
    REF->max_pool2d(&g1, y, idx, neg);
    CHECK(isnan(y[0]) && idx[0] == 2);
    gt_pool_geom gpad = pool_geom(1, 2, 2, 1, 1, 1, 1, 1, 1); /* 1x1 windows, border in padding */
    float yp[16];
    int64_t ip[16];
    REF->max_pool2d(&gpad, yp, ip, neg);
    CHECK(yp[0] == -INFINITY && ip[0] == -1 && yp[5] == -3 && ip[5] == 0);
    /* upsample and 2x2 sums */
    float up[16], sp[1];
    REF->upsample2x(up, x, 1, 2, 2);
    CHECK(up[0] == 1 && up[1] == 1 && up[2] == 2 && up[4] == 1 && up[10] == 4 && up[15] == 4);
    REF->sum_pool2x(sp, x, 1, 2, 2);
    CHECK(sp[0] == 10);
}

/* ---- elementwise --------------------------------------------------------------------------- */

/* x in [-4, 4) with exact zeros, ties of the scalar parameters, and, for the maps that need
 * it, positive. */
static float *unary_input(gt_unary_op op, int64_t n) {
    float *x = rand_array(n);
    for (int64_t i = 0; i < n; i++) {
        x[i] *= 4;
        if (i % 17 == 0) x[i] = 0.0f;
        if (i % 19 == 0) x[i] = 0.5f;
        if (op == GT_UNARY_LOG || op == GT_UNARY_SQRT || op == GT_UNARY_RSQRT ||
            op == GT_UNARY_POW)
            x[i] = fabsf(x[i]) + 1e-3f;
    }
    return x;
}

static int is_libm(gt_unary_op op) {
    return op == GT_UNARY_EXP || op == GT_UNARY_LOG || op == GT_UNARY_RSQRT ||
           op == GT_UNARY_TANH || op == GT_UNARY_SIGMOID || op == GT_UNARY_SOFTPLUS ||
           op == GT_UNARY_POW;
}

static int unary_case(gt_unary_op op, int64_t n, float p0, float p1) {
    float *x = unary_input(op, n), *yr = floats(n), *yc = floats(n);
    REF->unary(op, yr, x, n, p0, p1), CPU->unary(op, yc, x, n, p0, p1);
    int exact = !is_libm(op) || (op == GT_UNARY_POW && p0 == 2.0f);
    double *tol = exact ? NULL : ulp_tol(yr, n, 4);
    int64_t bad = compare(exact ? F_EWISE : F_LIBM, yr, yc, tol, n);
    float *alias = dup(x, n); /* y may alias x */
    REF->unary(op, alias, alias, n, p0, p1);
    bad += memcmp(alias, yr, (size_t)n * sizeof *yr) != 0;
    if (bad) fprintf(stderr, "  unary op %d (p0 %g) differs\n", (int)op, (double)p0);
    free(x), free(yr), free(yc), free(tol), free(alias);
    return bad == 0;
}

TEST(unary_matches_cpu) {
    for (int op = 0; op < GT_UNARY_COUNT; op++) {
        float p0 = op == GT_UNARY_IN_RANGE || op == GT_UNARY_CLAMP ? -0.5f : 0.5f;
        float p1 = op == GT_UNARY_IN_RANGE || op == GT_UNARY_CLAMP ? 0.5f : 0.0f;
        if (op == GT_UNARY_LEAKY_SLOPE) p0 = 0.2f;
        CHECK(unary_case((gt_unary_op)op, 1001, p0, p1));
    }
    CHECK(unary_case(GT_UNARY_POW, 777, 2.0f, 0)); /* cpu squares: exact */
    CHECK(unary_case(GT_UNARY_POW, 777, 3.0f, 0));
    CHECK(unary_case(GT_UNARY_POW, 777, -1.5f, 0));
    CHECK(unary_case(GT_UNARY_EXP, 70000, 0, 0)); /* threaded on the cpu */
    CHECK(unary_case(GT_UNARY_MUL_SCALAR, 70000, -3.25f, 0));
    /* integer powers of negative bases */
    const float neg[3] = {-2, -3, -0.5f};
    float y[3];
    REF->unary(GT_UNARY_POW, y, neg, 3, 3.0f, 0);
    CHECK(y[0] == -8 && y[1] == -27 && y[2] == -0.125f);
}

TEST(unary_exact_cases) {
    const float x[6] = {-2, -0.0f, 0, 1, 3, NAN};
    float y[6];
    REF->unary(GT_UNARY_SIGN, y, x, 6, 0, 0);
    CHECK(y[0] == -1 && y[1] == 0 && y[2] == 0 && y[3] == 1 && y[4] == 1 && y[5] == 0);
    REF->unary(GT_UNARY_IN_RANGE, y, x, 6, -2, 1); /* both ends inclusive */
    CHECK(y[0] == 1 && y[1] == 1 && y[3] == 1 && y[4] == 0 && y[5] == 0);
    REF->unary(GT_UNARY_GT_SCALAR, y, x, 6, 1, 0);
    CHECK(y[3] == 0 && y[4] == 1);
    REF->unary(GT_UNARY_CLAMP, y, x, 6, -1, 2);
    CHECK(y[0] == -1 && y[3] == 1 && y[4] == 2 && isnan(y[5]));
    REF->unary(GT_UNARY_LEAKY_SLOPE, y, x, 6, 0.1f, 0);
    CHECK(y[0] == 0.1f && y[2] == 0.1f && y[3] == 1);
    REF->unary(GT_UNARY_SIGMOID, y, x, 5, 0, 0);
    CHECK(y[2] == 0.5f && fabsf(y[3] - 0.7310585786f) < 1e-7f);
    REF->unary(GT_UNARY_SOFTPLUS, y, x, 5, 0, 0);
    CHECK(fabsf(y[2] - 0.6931471806f) < 1e-7f && fabsf(y[4] - 3.0485873515f) < 3e-7f);
    const float big[2] = {-200, 200};
    REF->unary(GT_UNARY_SIGMOID, y, big, 2, 0, 0);
    CHECK(y[0] == 0 && y[1] == 1);
    REF->unary(GT_UNARY_SOFTPLUS, y, big, 2, 0, 0);
    CHECK(y[0] == 0 && y[1] == 200);
}

/* A 4-d (or more) shape with a broadcast a and a permuted b. */
static int binary_case(gt_binary_op op, int ndim, const int64_t *shape, const int64_t *as,
                       int64_t na, const int64_t *bs, int64_t nb) {
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) n *= shape[d];
    float *a = rand_array(na), *b = rand_array(nb), *yr = floats(n), *yc = floats(n);
    for (int64_t i = 0; i < nb; i += 7) b[i] = a[i % na]; /* some equal pairs */
    if (na > 3) a[3] = NAN;
    REF->binary(op, yr, a, as, b, bs, ndim, shape), CPU->binary(op, yc, a, as, b, bs, ndim, shape);
    int64_t bad = compare(F_EWISE, yr, yc, NULL, n);
    free(a), free(b), free(yr), free(yc);
    return bad == 0;
}

TEST(binary_matches_cpu) {
    /* [2,3,4,5]: a is [2,1,4,1] broadcast, b is stored as [5,4,3,2] and read transposed. */
    const int64_t s4[4] = {2, 3, 4, 5}, a4[4] = {4, 0, 1, 0}, b4[4] = {1, 2, 6, 24};
    /* [3,1,2,4,1,5]: a scalar, b contiguous with size-1 dims */
    const int64_t s6[6] = {3, 1, 2, 4, 1, 5}, a6[6] = {0, 0, 0, 0, 0, 0};
    const int64_t b6[6] = {40, 40, 20, 5, 5, 1};
    /* [4,3,64,50]: threaded; a broadcast along dim 1 and 3, b with doubled strides (a slice). */
    const int64_t sb[4] = {4, 3, 64, 50}, ab[4] = {64, 0, 1, 0}, bb[4] = {2 * 9600, 2 * 3200,
                                                                         2 * 50, 2};
    /* 0-d */
    const int64_t none[1] = {0};
    for (int op = 0; op < GT_BINARY_COUNT; op++) {
        CHECK(binary_case((gt_binary_op)op, 4, s4, a4, 2 * 4, b4, 120));
        CHECK(binary_case((gt_binary_op)op, 6, s6, a6, 1, b6, 120));
        CHECK(binary_case((gt_binary_op)op, 4, sb, ab, 4 * 64, bb, 2 * 38400));
        CHECK(binary_case((gt_binary_op)op, 0, none, none, 1, none, 1));
    }
    /* [1,2] + [[10],[20]] = [[11,12],[21,22]] */
    const float a[2] = {1, 2}, b[2] = {10, 20};
    const int64_t shape[2] = {2, 2}, as[2] = {0, 1}, bs[2] = {1, 0};
    float y[4];
    REF->binary(GT_BINARY_ADD, y, a, as, b, bs, 2, shape);
    CHECK(y[0] == 11 && y[1] == 12 && y[2] == 21 && y[3] == 22);
    const float u[3] = {1, NAN, 2}, v[3] = {NAN, 1, 2};
    const int64_t one[1] = {1}, three[1] = {3};
    REF->binary(GT_BINARY_MAX, y, u, one, v, one, 1, three);
    CHECK(isnan(y[0]) && isnan(y[1]) && y[2] == 2);
    REF->binary(GT_BINARY_GE, y, u, one, v, one, 1, three);
    CHECK(y[0] == 0 && y[1] == 0 && y[2] == 1);
    REF->binary(GT_BINARY_EQ, y, u, one, v, one, 1, three);
    CHECK(y[0] == 0 && y[2] == 1);
}

TEST(where_leaky_fill_match_cpu) {
    const int64_t n = 40000;
    float *m = rand_array(n), *a = rand_array(n), *b = rand_array(n);
    for (int64_t i = 0; i < n; i += 3) m[i] = 0.0f;
    for (int64_t i = 1; i < n; i += 5) m[i] = -0.0f; /* -0 is zero: picks b */
    m[2] = NAN;                                      /* NaN != 0: picks a */
    float *yr = floats(n), *yc = floats(n);
    REF->where(yr, m, a, b, n), CPU->where(yc, m, a, b, n);
    CHECK(compare(F_MOVE, yr, yc, NULL, n) == 0);
    CHECK(yr[0] == b[0] && yr[1] == b[1] && yr[2] == a[2]);
    REF->leaky_mul(yr, a, m, n, 0.2f), CPU->leaky_mul(yc, a, m, n, 0.2f);
    CHECK(compare(F_EWISE, yr, yc, NULL, n) == 0);
    float *alias = dup(a, n);
    REF->leaky_mul(alias, alias, m, n, 0.2f);
    CHECK(memcmp(alias, yr, (size_t)n * sizeof *yr) == 0);
    const float la[3] = {2, 3, 4}, lr[3] = {1, 0, -1};
    float ly[3];
    REF->leaky_mul(ly, la, lr, 3, 0.5f);
    CHECK(ly[0] == 2 && ly[1] == 1.5f && ly[2] == 2);
    REF->fill(yr, -1.25f, n), CPU->fill(yc, -1.25f, n);
    CHECK(compare(F_MOVE, yr, yc, NULL, n) == 0 && yr[n - 1] == -1.25f);
    free(m), free(a), free(b), free(yr), free(yc), free(alias);
}

TEST(strided_copies_match_cpu) {
    /* x stored as [6,5,4,3] read as its reverse-permuted [3,4,5,6], every other row of dim 2 */
    const int64_t shape[4] = {3, 4, 5, 6};
    const int64_t xs[4] = {1, 3, 12, 2 * 60}, n = 360, nx = 2 * 360;
    float *x = rand_array(nx), *yr = floats(n), *yc = floats(n);
    REF->copy_strided(yr, x, xs, 4, shape), CPU->copy_strided(yc, x, xs, 4, shape);
    CHECK(compare(F_MOVE, yr, yc, NULL, n) == 0);
    CHECK(yr[1] == x[2 * 60] && yr[6] == x[12] && yr[30] == x[3] && yr[120] == x[1]);
    /* scatter the contiguous [3,4,5,6] back through the same strides: untouched stays NaN */
    float *zr = const_array(nx, NAN), *zc = const_array(nx, NAN);
    REF->scatter_strided(zr, xs, yr, 4, shape), CPU->scatter_strided(zc, xs, yr, 4, shape);
    CHECK(compare(F_MOVE, zr, zc, NULL, nx) == 0);
    int64_t written = 0;
    for (int64_t i = 0; i < nx; i++) written += !isnan(zr[i]) && zr[i] == x[i];
    CHECK(written == n);
    /* a 6-d transposed copy, big enough to be threaded on the cpu */
    const int64_t s6[6] = {2, 3, 4, 8, 1, 200}, n6 = 38400;
    const int64_t x6[6] = {19200, 6400, 1, 4, 0, 32};
    float *big = rand_array(n6), *br = floats(n6), *bc = floats(n6);
    REF->copy_strided(br, big, x6, 6, s6), CPU->copy_strided(bc, big, x6, 6, s6);
    CHECK(compare(F_MOVE, br, bc, NULL, n6) == 0);
    float *sr = const_array(n6, 0), *sc = const_array(n6, 0);
    REF->scatter_strided(sr, x6, br, 6, s6), CPU->scatter_strided(sc, x6, br, 6, s6);
    CHECK(compare(F_MOVE, sr, sc, NULL, n6) == 0 && memcmp(sr, big, (size_t)n6 * 4) == 0);
    free(x), free(yr), free(yc), free(zr), free(zc), free(big), free(br), free(bc), free(sr);
    free(sc);
}

/* ---- reductions, gather, scatter_add ----------------------------------------------------------- */

static int reduce_case(int64_t outer, int64_t r, int64_t inner) {
    int64_t nx = outer * r * inner, ny = outer * inner, bad = 0;
    float *x = rand_array(nx), *xa = abs_copy(x, nx);
    float *yr = floats(ny), *yc = floats(ny), *ya = floats(ny);
    REF->reduce_sum(yr, x, outer, r, inner), CPU->reduce_sum(yc, x, outer, r, inner);
    REF->reduce_sum(ya, xa, outer, r, inner);
    double *tol = sum_tol(ya, ny, r);
    bad += compare(F_REDUCE, yr, yc, tol, ny);
    for (int64_t i = 0; i < nx; i += 7) x[i] = roundf(x[i]); /* ties at the max */
    if (nx > 5) x[5] = NAN;
    REF->reduce_max(yr, x, outer, r, inner), CPU->reduce_max(yc, x, outer, r, inner);
    bad += compare(F_REDUCE, yr, yc, NULL, ny);
    float *wr = floats(nx), *wc = floats(nx); /* max's share: bit-identical, NaN lines too */
    REF->max_share(wr, x, outer, r, inner), CPU->max_share(wc, x, outer, r, inner);
    bad += compare(F_REDUCE, wr, wc, NULL, nx);
    free(x), free(xa), free(yr), free(yc), free(ya), free(tol), free(wr), free(wc);
    return bad == 0;
}

TEST(reductions_match_cpu) {
    /* {3000, 5, 1}, {40, 16, 1}, {17, 2, 1}: short lines (maxout's), whose share runs 16 lines
     * at a time, with a remainder; {64, 17, 1} just past that path */
    static const int64_t shapes[][3] = {{1, 1000, 1}, {3, 7, 5},    {4, 33, 1300}, {2, 0, 3},
                                        {5, 1, 7},    {64, 200, 1}, {2, 3, 4000},  {3000, 5, 1},
                                        {40, 16, 1},  {17, 2, 1},   {64, 17, 1}};
    for (int s = 0; s < 11; s++) CHECK(reduce_case(shapes[s][0], shapes[s][1], shapes[s][2]));
    /* [[1,2],[3,4]] over its rows: [4, 6]; max [3, 4]; r = 0: 0 and -inf */
    const float x[4] = {1, 2, 3, 4};
    float y[2];
    REF->reduce_sum(y, x, 1, 2, 2);
    CHECK(y[0] == 4 && y[1] == 6);
    REF->reduce_max(y, x, 1, 2, 2);
    CHECK(y[0] == 3 && y[1] == 4);
    REF->reduce_sum(y, x, 2, 0, 1);
    CHECK(y[0] == 0 && y[1] == 0);
    REF->reduce_max(y, x, 2, 0, 1);
    CHECK(y[0] == -INFINITY && y[1] == -INFINITY);
    /* max's share: [1, 3, 3, 2] ties at 3, [3, -inf, 2, 0] is one winner */
    const float t[8] = {1, 3, 3, 2, 3, -INFINITY, 2, 0};
    float w[8];
    REF->max_share(w, t, 2, 4, 1);
    CHECK(w[0] == 0 && w[1] == 0.5f && w[2] == 0.5f && w[3] == 0 && w[4] == 1 && w[5] == 0);
    /* 1 + 2^-24 + ... : double accumulation keeps the small terms float summing would drop */
    float tiny[5] = {1, 0x1p-24f, 0x1p-24f, 0x1p-24f, 0x1p-24f};
    REF->reduce_sum(y, tiny, 1, 5, 1);
    CHECK(y[0] == 1 + 0x1p-22f);
}

TEST(gather_scatter_add_match_cpu) {
    const int64_t nx = 50, n = 2000;
    float *x = rand_array(nx), *y = rand_array(n), *gr = floats(n), *gc = floats(n);
    int64_t *idx = malloc((size_t)n * sizeof *idx);
    for (int64_t j = 0; j < n; j++) idx[j] = irand(nx); /* about 40 repeats of each index */
    REF->gather(gr, x, idx, n), CPU->gather(gc, x, idx, n);
    CHECK(compare(F_MOVE, gr, gc, NULL, n) == 0);
    float *sr = dup(x, nx), *sc = dup(x, nx);
    REF->scatter_add(sr, y, idx, n), CPU->scatter_add(sc, y, idx, n);
    CHECK(compare(F_MOVE, sr, sc, NULL, nx) == 0); /* sequential in j: the same float adds */
    const float v[3] = {1, 2, 4};
    const int64_t rep[3] = {1, 1, 0};
    float acc[2] = {10, 20};
    REF->scatter_add(acc, v, rep, 3);
    CHECK(acc[0] == 14 && acc[1] == 23);
    free(x), free(y), free(gr), free(gc), free(idx), free(sr), free(sc);
}

/* ---- per-channel kernels ------------------------------------------------------------------------ */

/* tol[j] = FLT_EPSILON |ref| + m DBL_EPSILON abs: both round a double of m terms (see top). */
static double *double_sum_tol(const float *ref, const float *abs, int64_t n, int64_t m) {
    double *t = malloc((size_t)(n > 0 ? n : 1) * sizeof *t);
    for (int64_t i = 0; i < n; i++)
        t[i] = FLT_EPSILON * fabs(ref[i]) + (double)m * DBL_EPSILON * abs[i] + 1e-30;
    return t;
}

/* x[i, j, k] = offset + random, so the mean is not small against the spread. */
static float *channel_input(int64_t n, int64_t c, int64_t s, float offset) {
    float *x = rand_array(n * c * s);
    for (int64_t i = 0; i < n * c * s; i++) x[i] += offset * (float)((i / s) % c + 1);
    return x;
}

static int channel_case(int64_t n, int64_t c, int64_t s, float offset) {
    int64_t m = n * s, nx = n * c * s, bad = 0;
    float *x = channel_input(n, c, s, offset), *xa = abs_copy(x, nx);
    float *yr = floats(c), *yc = floats(c), *ya = floats(c);
    REF->channel_sum(yr, x, n, c, s), CPU->channel_sum(yc, x, n, c, s);
    REF->channel_sum(ya, xa, n, c, s);
    double *tol = double_sum_tol(yr, ya, c, m);
    bad += compare(F_CHANNEL, yr, yc, tol, c);
    free(tol);
    /* statistics and xhat: one ulp apart at most, plus the spread of cancelling x - mean. */
    float *st_r = floats(3 * c), *st_c = floats(3 * c), *hr = floats(nx), *hc = floats(nx);
    const float eps = 1e-5f;
    REF->batch_norm(hr, st_r, st_r + c, st_r + 2 * c, x, n, c, s, eps);
    CPU->batch_norm(hc, st_c, st_c + c, st_c + 2 * c, x, n, c, s, eps);
    double *ts = ulp_tol(st_r, 3 * c, 1), *th = malloc((size_t)nx * sizeof *th);
    for (int64_t e = 0; e < nx; e++) { /* |x - mean| invstd errs by m 2^-53 |mean| invstd */
        int64_t j = (e / s) % c;
        th[e] = FLT_EPSILON * fabs(hr[e]) +
                (double)m * DBL_EPSILON * (fabs(x[e]) + fabs(st_r[j])) * st_r[2 * c + j] + FLT_MIN;
    }
    bad += compare(F_BN, st_r, st_c, ts, 3 * c);
    bad += compare(F_BN, hr, hc, th, nx);
    /* affine, with and without xhat; y = fl(fl(h g) + b) moves by at most |g| ulp(h) + ulps */
    float *g = rand_array(c), *b = rand_array(c), *yar = floats(nx), *yac = floats(nx);
    float *h2 = floats(nx), *st2 = floats(3 * c);
    REF->batch_norm_affine(yar, h2, st2, st2 + c, st2 + 2 * c, x, g, b, n, c, s, eps);
    CPU->batch_norm_affine(yac, NULL, st_c, st_c + c, st_c + 2 * c, x, g, b, n, c, s, eps);
    bad += memcmp(h2, hr, (size_t)nx * sizeof *hr) != 0 || memcmp(st2, st_r, 3 * sizeof(float) * (size_t)c) != 0;
    double *ty = malloc((size_t)nx * sizeof *ty);
    for (int64_t e = 0; e < nx; e++) {
        int64_t j = (e / s) % c;
        ty[e] = 2 * FLT_EPSILON * (fabs(h2[e] * g[j]) + fabs(yar[e])) + th[e] * fabs(g[j]) +
                FLT_MIN;
    }
    bad += compare(F_BN, yar, yac, ty, nx);
    float *yn = floats(nx);
    REF->batch_norm_affine(yn, NULL, st2, st2 + c, st2 + 2 * c, x, g, b, n, c, s, eps);
    bad += memcmp(yn, yar, (size_t)nx * sizeof *yn) != 0;
    /* backward: dx, sum_dy, sum_dy_xhat; and with outputs left out */
    float *dy = rand_array(nx), *dxr = floats(nx), *dxc = floats(nx);
    float *sr = floats(2 * c), *sc = floats(2 * c), *sa = floats(2 * c), *dya = abs_copy(dy, nx);
    float *ha = abs_copy(hr, nx), *inv = st_r + 2 * c;
    REF->batch_norm_backward(dxr, sr, sr + c, dy, hr, inv, n, c, s);
    CPU->batch_norm_backward(dxc, sc, sc + c, dy, hr, inv, n, c, s);
    REF->batch_norm_backward(NULL, sa, sa + c, dya, ha, inv, n, c, s);
    tol = double_sum_tol(sr, sa, 2 * c, m);
    bad += compare(F_BN_BWD, sr, sc, tol, 2 * c);
    free(tol);
    double *tx = malloc((size_t)nx * sizeof *tx);
    for (int64_t e = 0; e < nx; e++) { /* invstd (dy - sum_dy/m - xhat sum_dy_xhat/m) */
        int64_t j = (e / s) % c;
        double scale = inv[j] * (fabs(dy[e]) + (sa[j] + fabs(hr[e]) * sa[c + j]) / (double)m);
        tx[e] = FLT_EPSILON * fabs(dxr[e]) + 4.0 * (double)m * DBL_EPSILON * scale + FLT_MIN;
    }
    bad += compare(F_BN_BWD, dxr, dxc, tx, nx);
    float *d2 = floats(nx), *s2 = floats(c);
    REF->batch_norm_backward(d2, NULL, NULL, dy, hr, inv, n, c, s);
    bad += memcmp(d2, dxr, (size_t)nx * sizeof *d2) != 0;
    REF->batch_norm_backward(NULL, NULL, s2, dy, hr, inv, n, c, s);
    bad += memcmp(s2, sr + c, (size_t)c * sizeof *s2) != 0;
    free(x), free(xa), free(yr), free(yc), free(ya), free(st_r), free(st_c), free(hr), free(hc);
    free(ts), free(th), free(g), free(b), free(yar), free(yac), free(h2), free(st2), free(ty);
    free(yn), free(dy), free(dxr), free(dxc), free(sr), free(sc), free(sa), free(dya), free(ha);
    free(tx), free(d2), free(s2);
    return bad == 0;
}

TEST(channel_kernels_match_cpu) {
    static const int64_t shapes[][3] = {{8, 3, 1},  {64, 300, 1}, {4, 5, 49}, {2, 3, 17},
                                        {1, 4, 1},  {3, 2, 16},   {16, 8, 64}, {1, 3, 5}};
    for (int s = 0; s < 8; s++) {
        CHECK(channel_case(shapes[s][0], shapes[s][1], shapes[s][2], 0.0f));
        CHECK(channel_case(shapes[s][0], shapes[s][1], shapes[s][2], 10.0f));
    }
}

/* x = [1, 2, 3, 4] in one channel (s == 1), and the same as [1, 1, 4] (s > 1): mean 2.5,
 * var 1.25, xhat = (x - 2.5) / sqrt(1.25); backward of dy = xhat is 0 (the xhat direction is
 * projected out), with sum_dy = 0 and sum_dy_xhat = 4. */
TEST(channel_exact_cases) {
    const float x[4] = {1, 2, 3, 4};
    for (int layout = 0; layout < 2; layout++) {
        int64_t n = layout ? 1 : 4, s = layout ? 4 : 1;
        float h[4], st[3], y[4], dx[4], sums[2];
        REF->channel_sum(st, x, n, 1, s);
        CHECK(st[0] == 10);
        REF->batch_norm(h, st, st + 1, st + 2, x, n, 1, s, 0.0f);
        CHECK(st[0] == 2.5f && st[1] == 1.25f && st[2] == (float)(1 / sqrt(1.25)));
        for (int k = 0; k < 4; k++) CHECK(h[k] == (float)((x[k] - 2.5) / sqrt(1.25)));
        const float gamma = 2, beta = -1;
        REF->batch_norm_affine(y, NULL, st, st + 1, st + 2, x, &gamma, &beta, n, 1, s, 0.0f);
        for (int k = 0; k < 4; k++) CHECK(y[k] == h[k] * 2 - 1);
        REF->batch_norm_backward(dx, sums, sums + 1, h, h, st + 2, n, 1, s);
        CHECK(fabsf(sums[0]) < 1e-6f && fabsf(sums[1] - 4) < 1e-6f);
        for (int k = 0; k < 4; k++) CHECK(fabsf(dx[k]) < 1e-6f);
    }
}

/* ---- random numbers ------------------------------------------------------------------------------ */

/* Random123 kat_vectors for philox4x32-10: counter (4 words), key (2), output (4). */
TEST(philox_known_answers) {
    static const uint32_t kat[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d,
         0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09,
         0x94fdcceb, 0x5001e420, 0x24126ea1}};
    for (int t = 0; t < 3; t++) {
        uint32_t out[4];
        gt_ref_philox4x32_10(out, kat[t], kat[t] + 4);
        CHECK(memcmp(out, kat[t] + 6, sizeof out) == 0);
    }
    /* The first uniform of counter 0, key 0 is the top 24 bits of 0x6627e8d5 over 2^24. */
    float u[5];
    REF->rand_uniform(u, 5, 0, 0, 0.0f, 1.0f);
    CHECK(u[0] == (float)0x6627e8 / 16777216.0f && u[3] == (float)0x9b00db / 16777216.0f);
    CHECK(u[1] == (float)0xe169c5 / 16777216.0f);
}

/* Uniform and normal draws of ref and cpu: the same bits. */
TEST(rand_bit_identical) {
    static const int64_t ns[] = {1, 3, 4, 5, 1001, 100003};
    static const uint64_t counters[] = {0, 7, 0xFFFFFFFEull, (uint64_t)1 << 40};
    static const uint64_t keys[] = {0, 42, 0xDEADBEEFCAFEF00Dull};
    static const float ranges[][2] = {{0, 1}, {-2, 3}, {5, 5}, {1e-3f, 1e-3f + 1e-9f}};
    for (int in = 0; in < 6; in++)
        for (int ic = 0; ic < 4; ic++)
            for (int ik = 0; ik < 3; ik++) {
                int64_t n = ns[in];
                float *r = floats(n), *c = floats(n);
                const float *rg = ranges[(in + ic + ik) % 4];
                REF->rand_uniform(r, n, keys[ik], counters[ic], rg[0], rg[1]);
                CPU->rand_uniform(c, n, keys[ik], counters[ic], rg[0], rg[1]);
                CHECK(compare(F_RAND, r, c, NULL, n) == 0);
                for (int64_t i = 0; i < n; i++)
                    if (rg[0] < rg[1] && !(r[i] >= rg[0] && r[i] < rg[1])) {
                        CHECK(!"uniform outside [lo, hi)");
                        break;
                    }
                REF->rand_normal(r, n, keys[ik], counters[ic], 0.5f * (float)ik, 1.0f + (float)ic);
                CPU->rand_normal(c, n, keys[ik], counters[ic], 0.5f * (float)ik, 1.0f + (float)ic);
                CHECK(compare(F_RAND, r, c, NULL, n) == 0);
                free(r), free(c);
            }
    /* A draw of n values then one from counter + (n + 3) / 4 continue the same stream. */
    float whole[12], first[5], rest[4];
    REF->rand_normal(whole, 12, 9, 100, 0, 1);
    REF->rand_normal(first, 5, 9, 100, 0, 1);
    REF->rand_normal(rest, 4, 9, 100 + 2, 0, 1);
    CHECK(memcmp(whole, first, sizeof first) == 0 && memcmp(whole + 8, rest, sizeof rest) == 0);
}

/* ---- memory ------------------------------------------------------------------------------------- */

TEST(memory_functions) {
    static const size_t sizes[] = {0, 1, 63, 64, 65, 1000, 1 << 20};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t bytes = sizes[s], room = bytes ? bytes : 64;
        unsigned char *p = gt_ref_alloc(bytes);
        CHECK(p != NULL && (uintptr_t)p % 64 == 0);
        if (!p) continue;
        memset(p, 0xA5, room); /* all of it is usable (ASan checks) */
        unsigned char *host = malloc(room), *back = malloc(room);
        for (size_t i = 0; i < room; i++) host[i] = (unsigned char)(i * 31 + s);
        gt_ref_upload(p, host, bytes);
        memset(back, 0, room);
        gt_ref_download(back, p, bytes);
        CHECK(memcmp(back, host, bytes) == 0);
        unsigned char *q = gt_ref_alloc(bytes);
        CHECK(q != NULL && (uintptr_t)q % 64 == 0);
        if (q) {
            gt_ref_copy(q, p, bytes);
            gt_ref_download(back, q, bytes);
            CHECK(memcmp(back, host, bytes) == 0);
        }
        if (bytes >= 64) { /* overlapping copy within one block */
            gt_ref_copy(p + 1, p, bytes - 1);
            CHECK(p[1] == host[0] && p[bytes - 1] == host[bytes - 2]);
        }
        gt_ref_free(q);
        gt_ref_free(p);
        free(host), free(back);
    }
    CHECK(gt_ref_alloc(SIZE_MAX) == NULL);
    CHECK(gt_ref_alloc(SIZE_MAX - 10) == NULL);
    gt_ref_free(NULL);
    gt_ref_copy(NULL, NULL, 0);
}

TEST(table_is_complete) {
    CHECK(strcmp(REF->name, "ref") == 0);
    CHECK(REF->sgemm && REF->sgemm_bf16 && REF->conv2d && REF->conv2d_input_grad);
    CHECK(REF->conv2d_weight_grad && gt_backend_cpu.sgemm_bf16);
    CHECK(REF->avg_pool2d && REF->avg_pool2d_adjoint && REF->max_pool2d && REF->upsample2x);
    CHECK(REF->sum_pool2x && REF->unary && REF->binary && REF->where && REF->fill);
    CHECK(REF->copy_strided && REF->scatter_strided && REF->reduce_sum && REF->reduce_max);
    CHECK(REF->channel_sum && REF->batch_norm && REF->batch_norm_affine);
    CHECK(REF->batch_norm_backward && REF->leaky_mul && REF->gather && REF->scatter_add);
    CHECK(REF->rand_uniform && REF->rand_normal);
}

static void print_discrepancies(void) {
    printf("largest ref-vs-cpu discrepancies (|diff|, and |diff| / tolerance):\n");
    for (int f = 0; f < F_COUNT; f++)
        printf("  %-20s %10.3g  %8.3g  over %lld values\n", families[f].name,
               families[f].max_abs, families[f].max_ratio, (long long)families[f].compared);
}

int main(void) {
    int rc;
    RUN_TESTS_INTO(rc, T(table_is_complete), T(sgemm_exact_cases), T(sgemm_matches_cpu),
                   T(conv_exact_cases), T(conv_matches_cpu), T(pooling_exact_cases),
                   T(pooling_matches_cpu), T(unary_exact_cases), T(unary_matches_cpu),
                   T(binary_matches_cpu), T(where_leaky_fill_match_cpu),
                   T(strided_copies_match_cpu), T(reductions_match_cpu),
                   T(gather_scatter_add_match_cpu), T(channel_exact_cases),
                   T(channel_kernels_match_cpu), T(philox_known_answers), T(rand_bit_identical),
                   T(memory_functions));
    print_discrepancies();
    return rc;
}
