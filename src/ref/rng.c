/* Reference Philox 4x32-10 (Salmon et al., SC'11) and the uniform and normal fills of cpu.h.
 * The draws are bit-identical to src/cpu/rng.c: element i comes from counter block
 * (counter + i / 4), lane i % 4, and bits become floats by the same float operations in the
 * same order (the whole-step tests run both backends on the same seeds). */
#include "ref/kernels.h"
#include "ref/ref.h"

#include <math.h>

/* Round multipliers and Weyl key increments of Philox 4x32. */
#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static uint32_t mul_hi(uint32_t a, uint32_t b) { return (uint32_t)(((uint64_t)a * b) >> 32); }
static uint32_t mul_lo(uint32_t a, uint32_t b) { return (uint32_t)((uint64_t)a * b); }

/* One round: (c0, c1, c2, c3) -> (hi(M1 c2) ^ c1 ^ k0, lo(M1 c2), hi(M0 c0) ^ c3 ^ k1, lo(M0 c0)). */
static void philox_round(uint32_t c[4], uint32_t k0, uint32_t k1) {
    uint32_t next[4] = {
        mul_hi(PHILOX_M1, c[2]) ^ c[1] ^ k0,
        mul_lo(PHILOX_M1, c[2]),
        mul_hi(PHILOX_M0, c[0]) ^ c[3] ^ k1,
        mul_lo(PHILOX_M0, c[0]),
    };
    for (int l = 0; l < 4; l++) c[l] = next[l];
}

/* Ten rounds; the key advances by the Weyl constants between rounds. */
void gt_ref_philox4x32_10(uint32_t out[4], const uint32_t ctr[4], const uint32_t key[2]) {
    uint32_t c[4] = {ctr[0], ctr[1], ctr[2], ctr[3]};
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        philox_round(c, k0, k1);
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    for (int l = 0; l < 4; l++) out[l] = c[l];
}

/* The four words of counter block `block`: 128-bit counter (block, 0), key split lo/hi. */
static void philox_block(uint32_t out[4], uint64_t block, uint64_t key) {
    const uint32_t ctr[4] = {(uint32_t)block, (uint32_t)(block >> 32), 0, 0};
    const uint32_t k[2] = {(uint32_t)key, (uint32_t)(key >> 32)};
    gt_ref_philox4x32_10(out, ctr, k);
}

/* The top 24 bits of u as a float in [0, 1): (float)(u >> 8) * 2^-24, in float. */
static float unit_float(uint32_t u) { return (float)(u >> 8) * 0x1p-24f; }

/* y[i] = lo + (hi - lo) u_i in float, capped at the largest float below hi (rounding can
 * reach hi); lo >= hi leaves no cap. */
void gt_ref_rand_uniform(float *y, int64_t n, uint64_t key, uint64_t counter, float lo,
                         float hi) {
    float width = hi - lo, top = lo < hi ? nextafterf(hi, lo) : INFINITY;
    for (int64_t i = 0; i < n; i++) {
        uint32_t w[4];
        philox_block(w, counter + (uint64_t)(i / 4), key);
        float v = lo + width * unit_float(w[i % 4]);
        y[i] = v < top ? v : top;
    }
}

/* Box-Muller in float on the lane pairs (0, 1) and (2, 3) of a block:
 * u1 = unit + 2^-24 in (0, 1], theta = 6.28318530718f unit', r = sqrtf(-2 logf(u1)),
 * z = (r cosf(theta), r sinf(theta)). */
static void normal_pair(float z[2], uint32_t w_first, uint32_t w_second) {
    float u1 = unit_float(w_first) + 0x1p-24f;
    float theta = 6.28318530718f * unit_float(w_second);
    float rad = sqrtf(-2.0f * logf(u1));
    z[0] = rad * cosf(theta);
    z[1] = rad * sinf(theta);
}

/* y[i] = mean + std z_i in float. */
void gt_ref_rand_normal(float *y, int64_t n, uint64_t key, uint64_t counter, float mean,
                        float std) {
    for (int64_t i = 0; i < n; i++) {
        uint32_t w[4];
        float z[2];
        int lane = (int)(i % 4), first = lane & ~1;
        philox_block(w, counter + (uint64_t)(i / 4), key);
        normal_pair(z, w[first], w[first + 1]);
        y[i] = mean + std * z[lane - first];
    }
}
