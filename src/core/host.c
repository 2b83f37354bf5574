/* Host utilities for the layers above core: the Philox generator for host-side draws (shuffles,
 * data sets) and SGEMM on host arrays (metrics). Both are the CPU backend's kernels. */
#include "core/internal.h"

void gt_philox4x32_10(uint32_t out[4], const uint32_t ctr[4], const uint32_t key[2]) {
    gt_cpu_philox4x32_10(out, ctr, key);
}

void gt_philox4x32(uint32_t out[4], uint64_t counter, uint64_t key) {
    gt_cpu_philox4x32(out, counter, key);
}

void gt_host_sgemm(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                   int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    gt_cpu_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
