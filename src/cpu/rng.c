/* Philox 4x32-10 counter-based generator (Salmon et al., SC'11) and the uniform and normal
 * fills of cpu.h built on it. Element i of a draw comes from block (counter + i / 4), lane i % 4,
 * so every block is computed on its own and results do not depend on the thread count. */
#include "cpu.h"

#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u
/* Up to this many values a draw runs on the calling thread. */
#define RNG_PAR_MIN ((int64_t)1 << 15)

/* Philox 4x32-10 on a full 128-bit counter ctr[0..3] and 64-bit key key[0..1] (low word
 * first). gt_cpu_philox4x32 is this with ctr = {counter lo, counter hi, 0, 0}; the full form is
 * kept external for known-answer tests. */
void gt_cpu_philox4x32_10(uint32_t out[4], const uint32_t ctr[4], const uint32_t key[2]);

static void philox_round(uint32_t c[4], uint32_t k0, uint32_t k1) {
    uint64_t p0 = (uint64_t)PHILOX_M0 * c[0], p1 = (uint64_t)PHILOX_M1 * c[2];
    uint32_t n0 = (uint32_t)(p1 >> 32) ^ c[1] ^ k0;
    uint32_t n2 = (uint32_t)(p0 >> 32) ^ c[3] ^ k1;
    c[0] = n0;
    c[1] = (uint32_t)p1;
    c[2] = n2;
    c[3] = (uint32_t)p0;
}

void gt_cpu_philox4x32_10(uint32_t out[4], const uint32_t ctr[4], const uint32_t key[2]) {
    uint32_t c[4] = {ctr[0], ctr[1], ctr[2], ctr[3]}, k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        philox_round(c, k0, k1);
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    for (int i = 0; i < 4; i++) out[i] = c[i];
}

void gt_cpu_philox4x32(uint32_t out[4], uint64_t counter, uint64_t key) {
    const uint32_t ctr[4] = {(uint32_t)counter, (uint32_t)(counter >> 32), 0, 0};
    const uint32_t k[2] = {(uint32_t)key, (uint32_t)(key >> 32)};
    gt_cpu_philox4x32_10(out, ctr, k);
}

/* Top 24 bits of u as a float in [0, 1). */
static inline float rng_unit(uint32_t u) { return (float)(u >> 8) * 0x1p-24f; }

typedef struct {
    float *y;
    int64_t n;
    uint64_t key, counter;
    float a, b, top; /* uniform: lo, hi - lo, largest float below hi; normal: mean, std */
} rng_ctx;

/* The lanes of block blk that fall inside the draw: 4, or fewer for the last block. */
static int rng_lanes(const rng_ctx *c, int64_t blk) {
    int64_t left = c->n - 4 * blk;
    return left < 4 ? (int)left : 4;
}

static void uniform_block(const rng_ctx *c, int64_t blk) {
    uint32_t w[4];
    gt_cpu_philox4x32(w, c->counter + (uint64_t)blk, c->key);
    for (int l = 0; l < rng_lanes(c, blk); l++) {
        float v = c->a + c->b * rng_unit(w[l]);
        c->y[4 * blk + l] = v < c->top ? v : c->top; /* rounding may reach hi */
    }
}

/* Box-Muller: u1 in (0, 1] keeps log finite; lanes (0, 1) and (2, 3) each give a pair. */
static void normal_block(const rng_ctx *c, int64_t blk) {
    uint32_t w[4];
    float z[4];
    gt_cpu_philox4x32(w, c->counter + (uint64_t)blk, c->key);
    for (int l = 0; l < 4; l += 2) {
        float u1 = rng_unit(w[l]) + 0x1p-24f, theta = 6.28318530718f * rng_unit(w[l + 1]);
        float rad = sqrtf(-2.0f * logf(u1));
        z[l] = rad * cosf(theta);
        z[l + 1] = rad * sinf(theta);
    }
    for (int l = 0; l < rng_lanes(c, blk); l++) c->y[4 * blk + l] = c->a + c->b * z[l];
}

static void rng_run(const rng_ctx *c, void (*block)(const rng_ctx *, int64_t)) {
    int64_t nblk = (c->n + 3) / 4;
#pragma omp parallel for schedule(static) if (c->n > RNG_PAR_MIN)
    for (int64_t b = 0; b < nblk; b++) block(c, b);
}

void gt_cpu_rand_uniform(float *y, int64_t n, uint64_t key, uint64_t counter, float lo, float hi) {
    rng_ctx c = {y, n, key, counter, lo, hi - lo, lo < hi ? nextafterf(hi, lo) : INFINITY};
    rng_run(&c, uniform_block);
}

void gt_cpu_rand_normal(float *y, int64_t n, uint64_t key, uint64_t counter, float mean,
                        float std) {
    rng_ctx c = {y, n, key, counter, mean, std, 0.0f};
    rng_run(&c, normal_block);
}
