/* Runtime ISA selection for the CPU kernels: CPUID feature checks, the GANTRY_ISA
 * environment override (which can only lower the choice), a forcing hook for tests,
 * and the OpenMP thread count. */
#include "cpu/cpu.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* -1: no forced path; otherwise the gt_isa set by gt_cpu_isa_force. */
static int gt_isa_forced = -1;

int gt_cpu_isa_supported(gt_isa isa) {
    __builtin_cpu_init();
    switch (isa) {
    case GT_ISA_SCALAR:
        return 1;
    case GT_ISA_AVX2:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case GT_ISA_AVX512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
               gt_cpu_isa_supported(GT_ISA_AVX2);
    }
    return 0;
}

const char *gt_cpu_isa_name(gt_isa isa) {
    switch (isa) {
    case GT_ISA_SCALAR: return "scalar";
    case GT_ISA_AVX2: return "avx2";
    case GT_ISA_AVX512: return "avx512";
    }
    return "unknown";
}

/* The best ISA the CPU runs, ignoring the environment and any forcing. */
static gt_isa gt_isa_best(void) {
    if (gt_cpu_isa_supported(GT_ISA_AVX512)) return GT_ISA_AVX512;
    if (gt_cpu_isa_supported(GT_ISA_AVX2)) return GT_ISA_AVX2;
    return GT_ISA_SCALAR;
}

/* GANTRY_ISA as an ISA, or -1 when unset or unrecognised. */
static int gt_isa_from_env(void) {
    const char *s = getenv("GANTRY_ISA");
    if (!s) return -1;
    for (int i = GT_ISA_SCALAR; i <= GT_ISA_AVX512; i++)
        if (strcmp(s, gt_cpu_isa_name((gt_isa)i)) == 0) return i;
    return -1;
}

gt_isa gt_cpu_isa_active(void) {
    if (gt_isa_forced >= 0) return (gt_isa)gt_isa_forced;
    gt_isa best = gt_isa_best();
    int env = gt_isa_from_env();
    return (env >= 0 && env < (int)best) ? (gt_isa)env : best;
}

int gt_cpu_isa_force(gt_isa isa) {
    if (!gt_cpu_isa_supported(isa)) return 0;
    gt_isa_forced = (int)isa;
    return 1;
}

int gt_cpu_threads(void) { return omp_get_max_threads(); }
