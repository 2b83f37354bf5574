/* Tests of the bf16 kernels: the float32 -> bf16 conversion (ties to even, denormals, inf,
 * NaN, overflow) against hand-made cases and the ref backend's independent rounding; the bf16
 * GEMM's native (AVX512_BF16) and portable paths against each other and against a double
 * reference on bf16-rounded operands, over odd sizes, all transposes and alpha/beta, bit for bit
 * across thread counts; the bf16 convolutions of both backends against each other.
 *
 * Tolerances: with the operands rounded to bf16, each product a b is exact in float32 (8 + 8
 * significant bits fit in 24), so the kernels differ from the exact sum S = sum_k a_k b_k only by
 * float32 additions: any order of K additions is within (K - 1) u sum |a_k b_k| of S (u = 2^-24),
 * and alpha and beta add two more roundings. The double reference is within 2^-53 K of S. So each
 * path is within (K + 3) 2u sum|alpha a b| + |beta c| of the reference (a factor 2 to spare), and
 * the two paths within twice that of each other. */
#include "core/backend.h"
#include "cpu/cpu.h"
#include "gemm_case.h"
#include "ref/kernels.h"
#include "ref/ref.h"
#include "test.h"

#include <float.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>

static uint64_t rng_state = 0x243F6A8885A308D3ull;

static uint64_t next_u64(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return rng_state;
}

/* Uniform in [-1, 1) on a 2^-23 grid: most values are not bf16 values. */
static float rand_unit(void) {
    return (float)((next_u64() >> 40) & 0xFFFFFF) / (float)0x800000 - 1.0f;
}

static float from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t to_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* ---- Conversion ------------------------------------------------------------------------- */

static uint16_t bf(uint32_t bits) { return gt_cpu_bf16_from_f32(from_bits(bits)); }

TEST(conversion_ties_to_even) {
    CHECK(bf(0x3f800000) == 0x3f80);           /* 1.0 exactly */
    CHECK(bf(0x3f807fff) == 0x3f80);           /* below the midpoint: down */
    CHECK(bf(0x3f808000) == 0x3f80);           /* tie, even kept part: down */
    CHECK(bf(0x3f808001) == 0x3f81);           /* above the midpoint: up */
    CHECK(bf(0x3f818000) == 0x3f82);           /* tie, odd kept part: up to even */
    CHECK(bf(0xbf818000) == 0xbf82);           /* the same for negatives */
    CHECK(bf(0x3f7fffff) == 0x3f80);           /* a carry into the exponent */
    CHECK(gt_cpu_bf16_to_f32(0x3f80) == 1.0f && gt_cpu_bf16_to_f32(0xc040) == -3.0f);
}

TEST(conversion_denormals_and_zero) {
    CHECK(bf(0x00000000) == 0x0000 && bf(0x80000000) == 0x8000); /* signed zeros kept */
    CHECK(bf(0x00007fff) == 0x0000);           /* the smallest denormals round to zero */
    CHECK(bf(0x00008000) == 0x0000);           /* tie to even zero */
    CHECK(bf(0x00018000) == 0x0002);           /* tie to even, up */
    CHECK(bf(0x0000c000) == 0x0001);           /* the smallest bf16 denormal */
    CHECK(bf(0x007fffff) == 0x0080);           /* the largest denormal rounds to 2^-126 */
    CHECK(bf(0x80018000) == 0x8002);
}

TEST(conversion_inf_nan_overflow) {
    CHECK(bf(0x7f800000) == 0x7f80 && bf(0xff800000) == 0xff80); /* inf stays inf */
    CHECK(bf(0x7f7f7fff) == 0x7f7f);           /* below the midpoint: the largest bf16 */
    CHECK(bf(0x7f7f8000) == 0x7f80);           /* at it: overflow to inf (ties to even) */
    CHECK(bf(0x7f7fffff) == 0x7f80);           /* FLT_MAX overflows to inf */
    CHECK(bf(0xff7fffff) == 0xff80);
    uint16_t n1 = bf(0x7f800001), n2 = bf(0xffc00000), n3 = bf(0x7fa00000);
    CHECK(isnan(gt_cpu_bf16_to_f32(n1)) && (n1 & 0x40)); /* a payload in the dropped half */
    CHECK(n2 == 0xffc0);                                   /* sign kept */
    CHECK(n3 == 0x7fe0);                                   /* signalling NaN quietened */
}

/* The CPU's bit trick against ref's nearest-of-two-neighbours rounding: every upper half with
 * dropped halves at and around the midpoint, the extremes and a random one. */
TEST(conversion_matches_ref_rounding) {
    static const uint32_t lows[] = {0x0000, 0x0001, 0x7fff, 0x8000, 0x8001, 0xffff};
    int bad = 0;
    for (uint32_t hi = 0; hi < 0x10000; hi++)
        for (int l = 0; l <= 6; l++) {
            uint32_t u = hi << 16 | (l < 6 ? lows[l] : (uint32_t)(next_u64() >> 48));
            float x = from_bits(u), c = gt_cpu_bf16_to_f32(gt_cpu_bf16_from_f32(x));
            float r = gt_ref_bf16(x);
            bad += isnan(x) ? !(isnan(c) && isnan(r)) : to_bits(c) != to_bits(r);
        }
    CHECK(bad == 0);
    float v[5] = {1.00390625f, -2.0f, 3.4e38f, NAN, 1e-40f}, w[5]; /* 1 + 2^-8: a tie */
    gt_cpu_round_bf16(w, v, 5);
    CHECK(w[0] == 1.0f && w[1] == -2.0f && isinf(w[2]) && isnan(w[3]));
    CHECK(to_bits(w[4]) == to_bits(gt_ref_bf16(1e-40f)));
}

/* The backends' array conversions (activations kept as bf16): the CPU's loops (the portable
 * one, vectorised by the compiler and threaded, and the AVX-512 one) give the scalar
 * conversion's bits on every upper half around its midpoints, ref the same for numbers and a
 * NaN for NaNs; widening back is exact. Lengths past one thread's block and short tails. */
TEST(array_conversions_match_scalar_and_ref) {
    static const uint32_t lows[] = {0x0000, 0x0001, 0x7fff, 0x8000, 0x8001, 0xffff};
    int64_t n = (int64_t)0x10000 * 6 + 13;
    float *x = malloc((size_t)n * sizeof *x), *back = malloc((size_t)n * sizeof *back);
    uint16_t *c = malloc((size_t)n * sizeof *c), *r = malloc((size_t)n * sizeof *r);
    for (int64_t i = 0; i < n; i++)
        x[i] = from_bits(i < 0x60000 ? (uint32_t)(i / 6) << 16 | lows[i % 6]
                                     : (uint32_t)(next_u64() >> 32));
    gt_ref_to_bf16(r, x, n);
    int bad = 0;
    /* every ISA path this CPU runs (AVX-512 has its own loop), against the scalar rounding */
    for (int isa = GT_ISA_SCALAR; isa <= GT_ISA_AVX512; isa++) {
        if (!gt_cpu_isa_force((gt_isa)isa)) continue;
        gt_cpu_to_bf16(c, x, n);
        for (int64_t i = 0; i < n; i++) bad += c[i] != gt_cpu_bf16_from_f32(x[i]);
        gt_cpu_from_bf16(back, c, n);
        for (int64_t i = 0; i < n; i++) bad += to_bits(back[i]) != (uint32_t)c[i] << 16;
        for (int64_t len = 0; len < 40; len++) { /* tails shorter than a vector */
            uint16_t t[40];
            gt_cpu_to_bf16(t, x + 7, len);
            for (int64_t i = 0; i < len; i++) bad += t[i] != c[7 + i];
        }
    }
    for (int isa = GT_ISA_AVX512; isa >= GT_ISA_SCALAR; isa--) /* back to the best */
        if (gt_cpu_isa_force((gt_isa)isa)) break;
    CHECK(bad == 0);
    for (int64_t i = 0; i < n; i++) /* c: the last path's */
        bad += isnan(x[i]) ? !isnan(gt_cpu_bf16_to_f32(r[i])) : c[i] != r[i];
    gt_ref_from_bf16(back, r, n);
    for (int64_t i = 0; i < n; i++) bad += to_bits(back[i]) != (uint32_t)r[i] << 16;
    CHECK(bad == 0);
    free(x);
    free(back);
    free(c);
    free(r);
}

/* ---- GEMM ------------------------------------------------------------------------------- */

/* The reference reads the operands rounded to bf16, as the kernels do. */
static float round_bf16(float x) { return gt_cpu_bf16_to_f32(gt_cpu_bf16_from_f32(x)); }


/* The bf16 GEMM of a backend's table on a copy of C0 (caller frees). */
static float *run_case(const gt_backend *be, const gemm_case *g) {
    size_t bytes = (size_t)(g->M * g->ldc) * sizeof(float);
    float *C = malloc(bytes);
    memcpy(C, g->C0, bytes);
    be->sgemm_bf16(NULL, g->ta, g->tb, g->M, g->N, g->K, g->alpha, g->A, g->lda, g->B, g->ldb,
                   g->beta, C, g->ldc);
    return C;
}

/* C within scale * tol of the reference, and C's padding (NaN or not) left alone. */
static int check_case(const gemm_case *g, const float *C, float scale, const char *what) {
    int bad = 0;
    for (int64_t i = 0; i < g->M * g->ldc; i++) {
        if (i % g->ldc >= g->N) {
            bad += memcmp(&C[i], &g->C0[i], sizeof(float)) != 0;
        } else if (!(fabsf(C[i] - g->ref[i]) <= scale * g->tol[i])) {
            if (!bad)
                fprintf(stderr, "  %s ta=%d tb=%d M=%lld N=%lld K=%lld at %lld: %g vs %g\n", what,
                        g->ta, g->tb, (long long)g->M, (long long)g->N, (long long)g->K,
                        (long long)i, (double)C[i], (double)g->ref[i]);
            bad++;
        }
    }
    return bad == 0;
}

/* Native (when the CPU has it), portable and ref against the reference; native and portable
 * against each other within twice the bound (their own reference: portable's C). */
static void check_paths(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha,
                        float beta, int64_t pad) {
    gemm_case g = gemm_case_make(ta, tb, M, N, K, alpha, beta, pad, rand_unit, round_bf16);
    CHECK(gt_cpu_bf16_force(0));
    float *Cp = run_case(&gt_backend_cpu, &g);
    CHECK(check_case(&g, Cp, 1.0f, "portable"));
    if (gt_cpu_bf16_force(1)) {
        float *Cn = run_case(&gt_backend_cpu, &g);
        CHECK(check_case(&g, Cn, 1.0f, "native"));
        gemm_case gp = g;
        gp.ref = Cp;
        CHECK(check_case(&gp, Cn, 2.0f, "native vs portable"));
        free(Cn);
    }
    gt_cpu_bf16_force(-1);
    if (M * N * K <= 40000) {
        float *Cr = run_case(&gt_backend_ref, &g);
        CHECK(check_case(&g, Cr, 1.0f, "ref"));
        free(Cr);
    }
    free(Cp);
    gemm_case_free(&g);
}

static const int64_t sizes[] = {1, 7, 16, 17, 31, 33, 64, 100, 129, 257};
#define NSIZES ((int)(sizeof sizes / sizeof sizes[0]))

TEST(gemm_square_all_transposes) {
    for (int s = 0; s < NSIZES; s++)
        for (int t = 0; t < 4; t++) check_paths(t & 1, t >> 1, sizes[s], sizes[s], sizes[s], 1.0f, 0.0f, 0);
}

TEST(gemm_mixed_alpha_beta_padded) {
    for (int s = 0; s < NSIZES; s++)
        for (int t = 0; t < 4; t++)
            check_paths(t & 1, t >> 1, sizes[s], sizes[(s + 3) % NSIZES], sizes[(s + 7) % NSIZES],
                        -0.75f, t == 2 ? 0.0f : 1.5f, 1 + s % 5);
    check_paths(0, 1, 30, 70, 513, 1.0f, 1.0f, 3); /* odd K over two K blocks */
    check_paths(0, 0, 5, 9, 0, 1.0f, 2.0f, 2);     /* K = 0: C = beta C */
}

/* The operands are rounded: 1 + 2^-10 is not a bf16 value (it rounds to 1), so the bf16
 * product of K such ones is K where the float32 one is K (1 + 2^-10). */
TEST(gemm_rounds_operands) {
    float a[8], b[8], c = 0.0f, cf = 0.0f;
    for (int k = 0; k < 8; k++) a[k] = 1.0f + 1.0f / 1024.0f, b[k] = 1.0f;
    for (int native = 0; native <= 1; native++) {
        if (!gt_cpu_bf16_force(native)) continue;
        gt_cpu_sgemm_bf16(0, 0, 1, 1, 8, 1.0f, a, 8, b, 1, 0.0f, &c, 1);
        CHECK(c == 8.0f);
    }
    gt_cpu_bf16_force(-1);
    gt_cpu_sgemm(0, 0, 1, 1, 8, 1.0f, a, 8, b, 1, 0.0f, &cf, 1);
    CHECK(cf == 8.0f + 8.0f / 1024.0f);
}

/* Bit-identical output for 1, 2 and 3 threads, on each path. */
TEST(gemm_deterministic_across_threads) {
    gemm_case g = gemm_case_make(0, 1, 301, 517, 300, 1.0f, 0.5f, 2, rand_unit, round_bf16);
    int saved = omp_get_max_threads();
    for (int native = 0; native <= 1; native++) {
        if (!gt_cpu_bf16_force(native)) continue;
        omp_set_num_threads(1);
        float *C1 = run_case(&gt_backend_cpu, &g);
        CHECK(check_case(&g, C1, 1.0f, native ? "native" : "portable"));
        for (int nt = 2; nt <= 3; nt++) {
            omp_set_num_threads(nt);
            float *Cn = run_case(&gt_backend_cpu, &g);
            CHECK(memcmp(C1, Cn, (size_t)(g.M * g.ldc) * sizeof(float)) == 0);
            free(Cn);
        }
        free(C1);
    }
    omp_set_num_threads(saved);
    gt_cpu_bf16_force(-1);
    gemm_case_free(&g);
}

/* GANTRY_BF16=portable turns the native path off; forcing beats the environment. */
TEST(dispatch_env_and_forcing) {
    setenv("GANTRY_BF16", "portable", 1);
    CHECK(!gt_cpu_bf16_native());
    unsetenv("GANTRY_BF16");
    CHECK(gt_cpu_bf16_native() == gt_cpu_bf16_native_supported());
    CHECK(gt_cpu_bf16_force(0) && !gt_cpu_bf16_native());
    CHECK(gt_cpu_bf16_force(1) == gt_cpu_bf16_native_supported());
    gt_cpu_bf16_force(-1);
    fprintf(stderr, "  bf16 native path on this CPU: %s\n",
            gt_cpu_bf16_native_supported() ? "yes (AVX512_BF16)" : "no (portable only)");
}

/* ---- Convolutions ------------------------------------------------------------------------ */

static gt_conv_geom conv_geom(int64_t n, int64_t c_in, int64_t c_out, int64_t groups,
                              int64_t h, int64_t w, int64_t k, int64_t s, int64_t p) {
    gt_conv_geom g = {.n = n, .c_in = c_in, .h_in = h, .w_in = w, .c_out = c_out, .kh = k,
                      .kw = k, .sh = s, .sw = s, .ph = p, .pw = p, .dh = 1, .dw = 1,
                      .groups = groups, .bf16 = 1};
    g.h_out = (h + 2 * p - (k - 1) - 1) / s + 1;
    g.w_out = (w + 2 * p - (k - 1) - 1) / s + 1;
    return g;
}

static float *rand_array(int64_t n) {
    float *a = malloc((size_t)n * sizeof *a);
    for (int64_t i = 0; i < n; i++) a[i] = rand_unit();
    return a;
}

static float *abs_copy(const float *a, int64_t n) {
    float *b = malloc((size_t)n * sizeof *b);
    for (int64_t i = 0; i < n; i++) b[i] = fabsf(a[i]);
    return b;
}

/* Kernel k (0 forward, 1 input grad, 2 weight grad) of a backend: out from the operands. */
static void conv_run(const gt_backend *be, int k, const gt_conv_geom *g, float *out,
                     const float *p, const float *q) {
    if (k == 0) be->conv2d(NULL, g, out, p, q);
    if (k == 1) be->conv2d_input_grad(NULL, g, out, p, q);
    if (k == 2) be->conv2d_weight_grad(NULL, g, out, p, q);
}

/* One kernel on the cpu backend (each path) against ref: within (taps + 3) 2u sum |terms|,
 * the sums of |terms| from ref on the operands' magnitudes (|bf16(v)| = bf16(|v|)). */
static int conv_kernel_check(const gt_conv_geom *g, int k, int64_t n_out, int64_t taps,
                             const float *p, int64_t np, const float *q, int64_t nq) {
    float *ref = malloc((size_t)n_out * 4), *mag = malloc((size_t)n_out * 4);
    float *pa = abs_copy(p, np), *qa = abs_copy(q, nq), *got = malloc((size_t)n_out * 4);
    conv_run(&gt_backend_ref, k, g, ref, p, q);
    conv_run(&gt_backend_ref, k, g, mag, pa, qa);
    int bad = 0;
    for (int native = 0; native <= 1; native++) {
        if (!gt_cpu_bf16_force(native)) continue;
        conv_run(&gt_backend_cpu, k, g, got, p, q);
        for (int64_t i = 0; i < n_out; i++)
            bad += !(fabsf(got[i] - ref[i]) <= (float)(taps + 3) * FLT_EPSILON * mag[i] + 1e-30f);
    }
    gt_cpu_bf16_force(-1);
    free(ref), free(mag), free(pa), free(qa), free(got);
    return bad;
}

/* Forward, input grad and weight grad of g: bf16 on cpu (both paths) against ref. */
static int conv_check(const gt_conv_geom *g) {
    int64_t nx = g->n * g->c_in * g->h_in * g->w_in, ny = g->n * g->c_out * g->h_out * g->w_out;
    int64_t cig = g->c_in / g->groups, cog = g->c_out / g->groups;
    int64_t nw = g->c_out * cig * g->kh * g->kw, kk = g->kh * g->kw;
    float *x = rand_array(nx), *y = rand_array(ny), *w = rand_array(nw);
    int bad = conv_kernel_check(g, 0, ny, cig * kk, x, nx, w, nw);
    bad += conv_kernel_check(g, 1, nx, cog * kk, y, ny, w, nw);
    bad += conv_kernel_check(g, 2, nw, g->n * g->h_out * g->w_out, x, nx, y, ny);
    free(x), free(y), free(w);
    return bad;
}

/* The paths of conv.c: plain, strided with >= 32 taps (phase-split copy), input grad by
 * phases (>= 32 input channels per group) and by columns, grouped, a transposed-conv shape. */
TEST(conv_bf16_matches_ref) {
    const gt_conv_geom gs[] = {
        conv_geom(2, 3, 5, 1, 7, 9, 3, 1, 1),   conv_geom(2, 8, 6, 1, 9, 8, 4, 2, 1),
        conv_geom(1, 32, 4, 1, 7, 7, 3, 2, 1),  conv_geom(2, 64, 6, 2, 6, 5, 3, 1, 1),
        conv_geom(3, 4, 8, 4, 5, 6, 1, 1, 0),   conv_geom(2, 5, 33, 1, 4, 4, 4, 2, 1),
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof gs / sizeof gs[0]; i++) bad += conv_check(&gs[i]);
    CHECK(bad == 0);
}

int main(void) {
    RUN_TESTS(T(dispatch_env_and_forcing), T(conversion_ties_to_even),
              T(conversion_denormals_and_zero), T(conversion_inf_nan_overflow),
              T(conversion_matches_ref_rounding), T(array_conversions_match_scalar_and_ref),
              T(gemm_square_all_transposes),
              T(gemm_mixed_alpha_beta_padded), T(gemm_rounds_operands),
              T(gemm_deterministic_across_threads), T(conv_bf16_matches_ref));
}
