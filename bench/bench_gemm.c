/* GEMM benchmark: measures this machine's FP32 FMA peak (AVX-512, else AVX2) and, with
 * AVX512_BF16, its vdpbf16ps peak, on one and on all threads; then square NN GFLOP/s (median of
 * runs) of gt_cpu_sgemm and of the bf16 GEMM (gt_cpu_sgemm_bf16, on its active path) and the
 * share of each one's peak for n = 64 .. 2048; one-thread rows also by CPU time. The bf16 peak counts 4 flops per lane of a
 * vdpbf16ps (two multiply-adds), the FP32 one 2 per lane of an FMA. */
#include "cpu/cpu.h"

#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define PEAK_ITERS 20000000L
#define RUNS 7

/* The FMA chains of the peak loops live in named registers, not an array. */
#define CHAINS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define NCHAINS 12

/* 12 independent zmm FMA chains; returns the flops done (a sum stored to *sink). */
__attribute__((target("avx512f,fma"))) static double fma_loop_avx512(float *sink) {
    __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f), sum = _mm512_setzero_ps();
#define DECL512(i) __m512 acc##i = _mm512_set1_ps((float)(i));
#define FMA512(i) acc##i = _mm512_fmadd_ps(acc##i, x, y);
#define SUM512(i) sum = _mm512_add_ps(sum, acc##i);
    CHAINS(DECL512)
    for (long it = 0; it < PEAK_ITERS; it++) { CHAINS(FMA512) }
    CHAINS(SUM512)
    *sink = _mm512_reduce_add_ps(sum);
    return (double)PEAK_ITERS * NCHAINS * 16 * 2;
}

/* 12 independent ymm FMA chains; returns the flops done (a sum stored to *sink). */
__attribute__((target("avx2,fma"))) static double fma_loop_avx2(float *sink) {
    __m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f), sum = _mm256_setzero_ps();
#define DECL256(i) __m256 acc##i = _mm256_set1_ps((float)(i));
#define FMA256(i) acc##i = _mm256_fmadd_ps(acc##i, x, y);
#define SUM256(i) sum = _mm256_add_ps(sum, acc##i);
    CHAINS(DECL256)
    for (long it = 0; it < PEAK_ITERS; it++) { CHAINS(FMA256) }
    CHAINS(SUM256)
    float t[8];
    _mm256_storeu_ps(t, sum);
    *sink = t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
    return (double)PEAK_ITERS * NCHAINS * 8 * 2;
}

/* 12 independent zmm vdpbf16ps chains; returns the flops done (a sum stored to *sink). */
__attribute__((target("avx512f,avx512bf16"))) static double dp_loop_bf16(float *sink) {
    __m512bh x = (__m512bh)_mm512_set1_epi32(0x3f7f3f7f), y = (__m512bh)_mm512_set1_epi32(0x33d633d6);
    __m512 sum = _mm512_setzero_ps();
#define DECLBF(i) __m512 acc##i = _mm512_set1_ps((float)(i));
#define DPBF(i) acc##i = _mm512_dpbf16_ps(acc##i, x, y);
#define SUMBF(i) sum = _mm512_add_ps(sum, acc##i);
    CHAINS(DECLBF)
    for (long it = 0; it < PEAK_ITERS; it++) { CHAINS(DPBF) }
    CHAINS(SUMBF)
    *sink = _mm512_reduce_add_ps(sum);
    return (double)PEAK_ITERS * NCHAINS * 16 * 4;
}

/* The loops measure_peak can time. */
enum { PEAK_AVX2, PEAK_AVX512, PEAK_BF16 };

static double peak_loop(int kind, float *sink) {
    if (kind == PEAK_BF16) return dp_loop_bf16(sink);
    return kind == PEAK_AVX512 ? fma_loop_avx512(sink) : fma_loop_avx2(sink);
}

static double thread_cpu_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Peak GFLOP/s of nt threads running the FMA loop at once: the sum of each thread's rate
 * over its own CPU time (so another process sharing a core cannot hide the peak), best of 7. */
static double measure_peak(int nt, int kind) {
    double best = 0;
    volatile float keep = 0;
    for (int r = 0; r < 7; r++) {
        double rate = 0;
#pragma omp parallel num_threads(nt) reduction(+ : rate)
        {
            float sink;
            double t0 = thread_cpu_seconds();
            double flops = peak_loop(kind, &sink);
            rate += flops / (thread_cpu_seconds() - t0) * 1e-9;
            keep += sink * 0.0f;
        }
        best = rate > best ? rate : best;
    }
    return best;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef void gemm_fn(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha,
                     const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                     float *C, int64_t ldc);

static double process_cpu_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Median GFLOP/s of RUNS timings of n x n x n gemm (each repeats the call reps times): g[0] by
 * wall time, g[1] by the process's CPU time (one thread: immune to other processes' time slices;
 * more threads count their waits too, so it is only reported for one). */
static void bench_gemm(gemm_fn *gemm, int64_t n, const float *A, const float *B, float *C,
                       double g[2]) {
    double flop = 2.0 * (double)n * (double)n * (double)n, w[RUNS], c[RUNS];
    int reps = (int)(1e9 / flop) + 1;
    gemm(0, 0, n, n, n, 1.0f, A, n, B, n, 0.0f, C, n);
    for (int r = 0; r < RUNS; r++) {
        double t0 = omp_get_wtime(), c0 = process_cpu_seconds();
        for (int i = 0; i < reps; i++) gemm(0, 0, n, n, n, 1.0f, A, n, B, n, 0.0f, C, n);
        w[r] = flop * reps / (omp_get_wtime() - t0) * 1e-9;
        c[r] = flop * reps / (process_cpu_seconds() - c0) * 1e-9;
    }
    qsort(w, RUNS, sizeof w[0], cmp_double);
    qsort(c, RUNS, sizeof c[0], cmp_double);
    g[0] = w[RUNS / 2], g[1] = c[RUNS / 2];
}

/* The table of one GEMM: n, threads, GFLOP/s and the share of its peak (peak[t] for the
 * thread counts threads[t]). */
static void bench_table(const char *name, gemm_fn *gemm, const double *peak, const int *threads,
                        const float *A, const float *B, float *C) {
    static const int64_t sizes[] = {64, 128, 256, 512, 1024, 2048};
    printf("%-6s %6s %8s %12s %8s %12s %8s\n", "gemm", "n", "threads", "GFLOP/s", "%peak",
           "CPU GFLOP/s", "%peak");
    for (int t = 0; t < 2; t++) {
        omp_set_num_threads(threads[t]);
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            double g[2];
            bench_gemm(gemm, sizes[s], A, B, C, g);
            printf("%-6s %6lld %8d %12.1f %7.1f%%", name, (long long)sizes[s], threads[t], g[0],
                   100.0 * g[0] / peak[t]);
            if (threads[t] == 1) printf(" %12.1f %7.1f%%", g[1], 100.0 * g[1] / peak[t]);
            printf("\n");
        }
    }
}

int main(void) {
    int nmax = omp_get_max_threads(), avx512 = __builtin_cpu_supports("avx512f");
    int kind = avx512 ? PEAK_AVX512 : PEAK_AVX2, bf16 = gt_cpu_bf16_native_supported();
    double peak[2] = {measure_peak(1, kind), measure_peak(nmax, kind)};
    int threads[2] = {1, nmax};
    printf("sgemm isa %s; FP32 %s FMA peak: %.1f GFLOP/s (1 thread), %.1f GFLOP/s (%d threads)\n",
           gt_cpu_isa_name(gt_cpu_isa_active()), avx512 ? "AVX-512" : "AVX2", peak[0], peak[1],
           nmax);
    double bpeak[2] = {peak[0], peak[1]};
    if (bf16) {
        bpeak[0] = measure_peak(1, PEAK_BF16), bpeak[1] = measure_peak(nmax, PEAK_BF16);
        printf("bf16 vdpbf16ps peak: %.1f GFLOP/s (1 thread), %.1f GFLOP/s (%d threads)\n",
               bpeak[0], bpeak[1], nmax);
    }
    printf("bf16 GEMM path: %s (%%peak of bf16 rows: of the %s peak)\n",
           gt_cpu_bf16_native() ? "native" : "portable", bf16 ? "vdpbf16ps" : "FP32");
    size_t max = (size_t)(2048 * 2048);
    float *A = malloc(max * sizeof(float)), *B = malloc(max * sizeof(float)),
          *C = malloc(max * sizeof(float));
    for (size_t i = 0; i < max; i++) A[i] = (float)(i % 17) * 0.1f, B[i] = (float)(i % 13) * 0.1f;
    bench_table("fp32", gt_cpu_sgemm, peak, threads, A, B, C);
    bench_table("bf16", gt_cpu_sgemm_bf16, bf16 && gt_cpu_bf16_native() ? bpeak : peak, threads,
                A, B, C);
    free(A), free(B), free(C);
    return 0;
}
