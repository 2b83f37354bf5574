/* Tests of gt_cpu_sgemm: every ISA path against a double-accumulated reference over odd
 * shapes, all transposes, alpha/beta (beta = 0 ignores NaN in C), padded leading
 * dimensions, and bit-identical results for 1, 2 and 3 OpenMP threads. */
#include "cpu/cpu.h"
#include "gemm_case.h"
#include "test.h"

#include <float.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static float rand_unit(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((rng_state >> 40) & 0xFFFFFF) / (float)0x800000 - 1.0f;
}

/* Runs sgemm on a copy of C0; returns the result (caller frees). */
static float *run_case(const gemm_case *g) {
    size_t bytes = (size_t)(g->M * g->ldc) * sizeof(float);
    float *C = malloc(bytes);
    memcpy(C, g->C0, bytes);
    gt_cpu_sgemm(g->ta, g->tb, g->M, g->N, g->K, g->alpha, g->A, g->lda, g->B, g->ldb, g->beta,
                 C, g->ldc);
    return C;
}

/* Checks C against the reference and that C's padding (NaN or not) was left alone. */
static int check_case(const gemm_case *g, const float *C) {
    int bad = 0;
    for (int64_t i = 0; i < g->M * g->ldc; i++) {
        if (i % g->ldc >= g->N) {
            bad += memcmp(&C[i], &g->C0[i], sizeof(float)) != 0;
        } else if (!(fabsf(C[i] - g->ref[i]) <= g->tol[i])) {
            if (!bad)
                fprintf(stderr, "  %s ta=%d tb=%d M=%lld N=%lld K=%lld at (%lld,%lld): %g vs %g\n",
                        gt_cpu_isa_name(gt_cpu_isa_active()), g->ta, g->tb, (long long)g->M,
                        (long long)g->N, (long long)g->K, (long long)(i / g->ldc),
                        (long long)(i % g->ldc), (double)C[i], (double)g->ref[i]);
            bad++;
        }
    }
    return bad == 0;
}

/* The best ISA without the environment's say: forcing the highest supported one. */
static void restore_isa(void) {
    for (int i = GT_ISA_AVX512; i >= GT_ISA_SCALAR; i--)
        if (gt_cpu_isa_force((gt_isa)i)) return;
}

/* Every supported ISA on one case. */
static void check_all_isas(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha,
                           float beta, int64_t pad) {
    gemm_case g = gemm_case_make(ta, tb, M, N, K, alpha, beta, pad, rand_unit, NULL);
    for (int isa = GT_ISA_SCALAR; isa <= GT_ISA_AVX512; isa++) {
        if (!gt_cpu_isa_force((gt_isa)isa)) continue;
        float *C = run_case(&g);
        CHECK(check_case(&g, C));
        free(C);
    }
    restore_isa();
    gemm_case_free(&g);
}

static const int64_t sizes[] = {1, 7, 16, 17, 31, 33, 64, 100, 129, 257};
#define NSIZES ((int)(sizeof sizes / sizeof sizes[0]))

/* Runs before any forcing: GANTRY_ISA can lower the choice, never raise it. */
TEST(isa_env_lowers_choice) {
    gt_isa best = GT_ISA_AVX512;
    while (!gt_cpu_isa_supported(best)) best = (gt_isa)(best - 1);
    setenv("GANTRY_ISA", "scalar", 1);
    CHECK(gt_cpu_isa_active() == GT_ISA_SCALAR);
    setenv("GANTRY_ISA", "avx512", 1);
    CHECK(gt_cpu_isa_active() == best);
    setenv("GANTRY_ISA", "bogus", 1);
    CHECK(gt_cpu_isa_active() == best);
    unsetenv("GANTRY_ISA");
}

TEST(isa_names_and_forcing) {
    CHECK(gt_cpu_isa_supported(GT_ISA_SCALAR));
    CHECK(strcmp(gt_cpu_isa_name(GT_ISA_AVX512), "avx512") == 0);
    CHECK(gt_cpu_isa_force(GT_ISA_SCALAR) && gt_cpu_isa_active() == GT_ISA_SCALAR);
    restore_isa();
    CHECK(gt_cpu_isa_supported(gt_cpu_isa_active()));
    CHECK(gt_cpu_threads() >= 1);
}

TEST(square_sizes_all_transposes) {
    for (int s = 0; s < NSIZES; s++)
        for (int t = 0; t < 4; t++)
            check_all_isas(t & 1, t >> 1, sizes[s], sizes[s], sizes[s], 1.0f, 0.0f, 0);
}

TEST(mixed_sizes_alpha_beta_padded) {
    for (int s = 0; s < NSIZES; s++)
        for (int t = 0; t < 4; t++)
            check_all_isas(t & 1, t >> 1, sizes[s], sizes[(s + 3) % NSIZES],
                           sizes[(s + 7) % NSIZES], -0.75f, t == 2 ? 0.0f : 1.5f, 1 + s % 5);
}

TEST(skinny_shapes) {
    check_all_isas(0, 0, 64, 12544, 100, 1.0f, 0.0f, 0);
    check_all_isas(0, 1, 128, 3136, 1024, 1.0f, 1.0f, 3);
    check_all_isas(1, 0, 1000, 3, 40, 2.0f, 0.5f, 1);
}

TEST(degenerate_k_and_alpha) {
    check_all_isas(0, 0, 5, 9, 0, 1.0f, 2.0f, 2);
    check_all_isas(0, 0, 5, 9, 0, 1.0f, 0.0f, 0);
    check_all_isas(1, 1, 17, 33, 20, 0.0f, -1.0f, 1);
}

/* Bit-identical output for 1, 2 and 3 threads on a problem big enough to be threaded. */
TEST(deterministic_across_threads) {
    gemm_case g = gemm_case_make(0, 1, 301, 517, 300, 1.0f, 0.5f, 2, rand_unit, NULL);
    int saved = omp_get_max_threads();
    for (int isa = GT_ISA_SCALAR; isa <= GT_ISA_AVX512; isa++) {
        if (!gt_cpu_isa_force((gt_isa)isa)) continue;
        omp_set_num_threads(1);
        float *C1 = run_case(&g);
        CHECK(check_case(&g, C1));
        for (int nt = 2; nt <= 3; nt++) {
            omp_set_num_threads(nt);
            float *Cn = run_case(&g);
            CHECK(memcmp(C1, Cn, (size_t)(g.M * g.ldc) * sizeof(float)) == 0);
            free(Cn);
        }
        free(C1);
    }
    omp_set_num_threads(saved);
    restore_isa();
    gemm_case_free(&g);
}

int main(void) {
    RUN_TESTS(T(isa_env_lowers_choice), T(isa_names_and_forcing), T(square_sizes_all_transposes),
              T(mixed_sizes_alpha_beta_padded), T(skinny_shapes), T(degenerate_k_and_alpha),
              T(deterministic_across_threads));
}
