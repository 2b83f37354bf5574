/* Tests of the elementwise, reduction and random-number kernels of cpu.h against libm and naive
 * references: every unary and binary op, broadcasting, strided copies, reductions, gathers,
 * Philox known answers, distribution moments, and independence from the thread count. */
#include "cpu/cpu.h"
#include "test.h"

#include <omp.h>
#include <stdint.h>
#include <stdlib.h>


static const float vals[] = {-100.0f, -80.0f, -20.0f, -5.5f, -2.0f, -1.0f, -0.5f, -1e-3f, 0.0f,
                             1e-3f,   0.5f,   1.0f,   2.0f,  3.7f,  5.5f,  20.0f, 80.0f,  100.0f};
#define NVALS ((int64_t)(sizeof vals / sizeof vals[0]))

static float *falloc(int64_t n) { return malloc((size_t)(n > 0 ? n : 1) * sizeof(float)); }

/* Deterministic test data in [-scale, scale). */
static void rand_fill(float *x, int64_t n, float scale, uint32_t seed) {
    uint32_t s = seed * 2654435761u + 1u;
    for (int64_t i = 0; i < n; i++) {
        s ^= s << 13, s ^= s >> 17, s ^= s << 5;
        x[i] = scale * ((float)(s >> 8) * 0x1p-23f - 1.0f);
    }
}

/* got matches a double reference within a relative tolerance (inf and NaN must match exactly). */
static int near_ref(float got, double ref, double rel) {
    if (isnan(ref)) return isnan(got);
    if (isinf((float)ref)) return got == (float)ref;
    return fabs((double)got - ref) <= rel * fabs(ref) + 1e-30;
}

static int same(float a, float b) { return (isnan(a) && isnan(b)) || a == b; }

static double ref_unary(gt_unary_op op, double x, double p0, double p1) {
    switch (op) {
    case GT_UNARY_COPY: return x;
    case GT_UNARY_NEG: return -x;
    case GT_UNARY_EXP: return exp(x);
    case GT_UNARY_LOG: return log(x);
    case GT_UNARY_SQRT: return sqrt(x);
    case GT_UNARY_RSQRT: return 1.0 / sqrt(x);
    case GT_UNARY_ABS: return fabs(x);
    case GT_UNARY_SQUARE: return x * x;
    case GT_UNARY_TANH: return tanh(x);
    case GT_UNARY_SIGMOID: return 1.0 / (1.0 + exp(-x));
    case GT_UNARY_SOFTPLUS: return x > 30 ? x + log1p(exp(-x)) : log1p(exp(x));
    case GT_UNARY_POW: return pow(x, p0);
    case GT_UNARY_ADD_SCALAR: return (float)x + (float)p0;
    case GT_UNARY_MUL_SCALAR: return (float)x * (float)p0;
    case GT_UNARY_SIGN: return x > 0 ? 1 : x < 0 ? -1 : 0;
    case GT_UNARY_IN_RANGE: return x >= p0 && x <= p1;
    case GT_UNARY_GT_SCALAR: return x > p0;
    case GT_UNARY_CLAMP: return x < p0 ? p0 : x > p1 ? p1 : x;
    case GT_UNARY_LEAKY_SLOPE: return x > 0 ? 1 : p0;
    case GT_UNARY_COUNT: break;
    }
    return NAN;
}

/* Runs op on x[0..n) and checks every output against ref_unary; returns the failures. */
static int check_unary(gt_unary_op op, const float *x, int64_t n, float p0, float p1) {
    float y[64];
    int bad = 0;
    gt_cpu_unary(op, y, x, n, p0, p1);
    for (int64_t i = 0; i < n; i++) {
        if (near_ref(y[i], ref_unary(op, x[i], p0, p1), 3e-6)) continue;
        fprintf(stderr, "  unary op %d x=%g p0=%g: got %.9g want %.9g\n", (int)op, x[i], p0, y[i],
                ref_unary(op, x[i], p0, p1));
        bad++;
    }
    return bad;
}

TEST(unary_all_ops) {
    float pos[NVALS / 2];
    for (int64_t i = 0; i < NVALS / 2; i++) pos[i] = vals[NVALS / 2 + i];
    for (int op = 0; op < GT_UNARY_COUNT; op++) {
        int positive = op == GT_UNARY_LOG || op == GT_UNARY_SQRT || op == GT_UNARY_RSQRT;
        if (positive)
            CHECK(check_unary((gt_unary_op)op, pos, NVALS / 2, 0.0f, 0.0f) == 0);
        else
            CHECK(check_unary((gt_unary_op)op, vals, NVALS, -1.5f, 4.0f) == 0);
    }
    CHECK(check_unary(GT_UNARY_CLAMP, vals, NVALS, -1.0f, 1.0f) == 0);
    CHECK(check_unary(GT_UNARY_LEAKY_SLOPE, vals, NVALS, 0.2f, 0.0f) == 0);
    CHECK(check_unary(GT_UNARY_POW, pos, NVALS / 2, 0.5f, 0.0f) == 0);
    CHECK(check_unary(GT_UNARY_POW, pos, NVALS / 2, -2.5f, 0.0f) == 0);
}

TEST(unary_pow_integral_negative_base) {
    const float x[] = {-3.0f, -2.0f, -1.5f, -1.0f, -0.25f, 0.5f, 2.0f, 3.0f};
    const float p[] = {2.0f, 3.0f, -1.0f, -2.0f, 0.0f, 1.0f, 5.0f};
    for (int i = 0; i < 7; i++) CHECK(check_unary(GT_UNARY_POW, x, 8, p[i], 0.0f) == 0);
    float y[1], m = -2.0f;
    gt_cpu_unary(GT_UNARY_POW, y, &m, 1, 3.0f, 0.0f);
    CHECK(y[0] == -8.0f);
}

TEST(unary_extremes_finite) {
    const float x[] = {-1000.0f, -100.0f, -88.0f, 88.0f, 100.0f, 1000.0f};
    float s[6], p[6], t[6];
    gt_cpu_unary(GT_UNARY_SIGMOID, s, x, 6, 0, 0);
    gt_cpu_unary(GT_UNARY_SOFTPLUS, p, x, 6, 0, 0);
    gt_cpu_unary(GT_UNARY_TANH, t, x, 6, 0, 0);
    for (int i = 0; i < 6; i++) {
        CHECK(isfinite(s[i]) && s[i] >= 0.0f && s[i] <= 1.0f);
        CHECK(isfinite(p[i]) && p[i] >= 0.0f);
        CHECK(fabsf(t[i]) == 1.0f);
    }
    CHECK(s[0] == 0.0f && s[5] == 1.0f && s[4] == 1.0f);
    CHECK(p[4] == 100.0f && p[5] == 1000.0f && p[0] == 0.0f);
    CHECK(p[1] > 0.0f && p[1] < 1e-43f);
}

TEST(unary_in_place) {
    enum { N = 100000 };
    float *x = falloc(N), *y = falloc(N);
    rand_fill(x, N, 5.0f, 1);
    gt_cpu_unary(GT_UNARY_SIGMOID, y, x, N, 0, 0);
    gt_cpu_unary(GT_UNARY_SIGMOID, x, x, N, 0, 0);
    CHECK(memcmp(x, y, N * sizeof(float)) == 0);
    gt_cpu_unary(GT_UNARY_COPY, x, x, N, 0, 0);
    CHECK(memcmp(x, y, N * sizeof(float)) == 0);
    free(x), free(y);
}

static float ref_binary(gt_binary_op op, float u, float v) {
    switch (op) {
    case GT_BINARY_ADD: return u + v;
    case GT_BINARY_SUB: return u - v;
    case GT_BINARY_MUL: return u * v;
    case GT_BINARY_DIV: return u / v;
    case GT_BINARY_MAX: return fmaxf(u, v);
    case GT_BINARY_MIN: return fminf(u, v);
    case GT_BINARY_GE: return u >= v;
    case GT_BINARY_GT: return u > v;
    case GT_BINARY_EQ: return u == v;
    case GT_BINARY_COUNT: break;
    }
    return NAN;
}

/* Naive broadcasting binary op over shape; returns the number of mismatches with the kernel. */
static int check_binary(gt_binary_op op, const float *a, const int64_t *as, const float *b,
                        const int64_t *bs, int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) n *= shape[d];
    float *y = falloc(n);
    int bad = 0;
    gt_cpu_binary(op, y, a, as, b, bs, ndim, shape);
    for (int64_t i = 0; i < n; i++) {
        int64_t rem = i, ao = 0, bo = 0;
        for (int d = ndim - 1; d >= 0; d--) {
            ao += rem % shape[d] * as[d];
            bo += rem % shape[d] * bs[d];
            rem /= shape[d];
        }
        bad += !same(y[i], ref_binary(op, a[ao], b[bo]));
    }
    free(y);
    return bad;
}

static int check_binary_all_ops(const float *a, const int64_t *as, const float *b,
                                const int64_t *bs, int ndim, const int64_t *shape) {
    int bad = 0;
    for (int op = 0; op < GT_BINARY_COUNT; op++)
        bad += check_binary((gt_binary_op)op, a, as, b, bs, ndim, shape);
    return bad;
}

TEST(binary_same_shape_and_scalars) {
    float a[NVALS * NVALS], b[NVALS * NVALS];
    for (int64_t i = 0; i < NVALS * NVALS; i++) a[i] = vals[i / NVALS], b[i] = vals[i % NVALS];
    const int64_t shape[2] = {NVALS, NVALS}, c[2] = {NVALS, 1}, z[2] = {0, 0};
    CHECK(check_binary_all_ops(a, c, b, c, 2, shape) == 0);
    CHECK(check_binary_all_ops(a, c, vals + 3, z, 2, shape) == 0);
    CHECK(check_binary_all_ops(vals + 3, z, b, c, 2, shape) == 0);
    CHECK(check_binary_all_ops(vals + 8, z, b, z, 2, shape) == 0);
    CHECK(check_binary_all_ops(vals + 4, NULL, vals + 5, NULL, 0, NULL) == 0);
}

TEST(binary_broadcast) {
    float a[240], b[240];
    rand_fill(a, 240, 3.0f, 2);
    rand_fill(b, 240, 3.0f, 3);
    b[7] = 0.0f, a[0] = b[0];
    const int64_t s2[2] = {5, 7}, c2[2] = {7, 1}, row[2] = {0, 1}, col[2] = {1, 0};
    CHECK(check_binary_all_ops(a, c2, b, row, 2, s2) == 0);
    CHECK(check_binary_all_ops(a, c2, b, col, 2, s2) == 0);
    CHECK(check_binary_all_ops(a, row, b, col, 2, s2) == 0);
    const int64_t s3[3] = {3, 4, 5}, c3[3] = {20, 5, 1}, mid[3] = {0, 1, 0};
    CHECK(check_binary_all_ops(a, c3, b, mid, 3, s3) == 0);
    CHECK(check_binary_all_ops(b, mid, a, c3, 3, s3) == 0);
    /* a: a [5,4,3,2] array seen transposed; b: [2,1,4,1]. */
    const int64_t s4[4] = {2, 3, 4, 5}, perm[4] = {1, 2, 6, 24}, b4[4] = {4, 0, 1, 0};
    CHECK(check_binary_all_ops(a, perm, b, b4, 4, s4) == 0);
    /* size-1 dims and a reversed (negative-stride) view */
    const int64_t s5[5] = {1, 4, 1, 6, 1}, a5[5] = {0, 6, 0, 1, 0}, r5[5] = {0, -6, 0, -1, 0};
    CHECK(check_binary_all_ops(a, a5, b + 23, r5, 5, s5) == 0);
}

TEST(binary_large_threaded) {
    enum { N = 120000 };
    float *a = falloc(N), *b = falloc(N);
    rand_fill(a, N, 2.0f, 4);
    rand_fill(b, N, 2.0f, 5);
    const int64_t s1[1] = {N}, one[1] = {1};
    const int64_t s2[2] = {400, 300}, c2[2] = {300, 1}, row[2] = {0, 1}, col[2] = {1, 0};
    const int64_t w2[2] = {3, 40000}, wc[2] = {40000, 1}, tr[2] = {1, 3};
    CHECK(check_binary(GT_BINARY_SUB, a, one, b, one, 1, s1) == 0);
    CHECK(check_binary(GT_BINARY_DIV, a, c2, b, row, 2, s2) == 0);
    CHECK(check_binary(GT_BINARY_MAX, a, c2, b, col, 2, s2) == 0);
    CHECK(check_binary(GT_BINARY_MUL, a, wc, b, col, 2, w2) == 0);
    CHECK(check_binary(GT_BINARY_ADD, a, tr, b, wc, 2, w2) == 0);
    free(a), free(b);
}

TEST(binary_max_min_nan) {
    const float a[2] = {NAN, 1.0f}, b[2] = {1.0f, NAN};
    const int64_t s[1] = {2}, c[1] = {1};
    float y[2];
    gt_cpu_binary(GT_BINARY_MAX, y, a, c, b, c, 1, s);
    CHECK(isnan(y[0]) && isnan(y[1]));
    gt_cpu_binary(GT_BINARY_MIN, y, a, c, b, c, 1, s);
    CHECK(isnan(y[0]) && isnan(y[1]));
}

TEST(where_and_fill) {
    enum { N = 70001 };
    float *m = falloc(N), *a = falloc(N), *b = falloc(N), *y = falloc(N);
    rand_fill(a, N, 1.0f, 6);
    rand_fill(b, N, 1.0f, 7);
    for (int64_t i = 0; i < N; i++) m[i] = i % 3 == 0 ? 0.0f : i % 3 == 1 ? -0.5f : 2.0f;
    gt_cpu_where(y, m, a, b, N);
    int bad = 0;
    for (int64_t i = 0; i < N; i++) bad += y[i] != (i % 3 ? a[i] : b[i]);
    CHECK(bad == 0);
    gt_cpu_fill(y, 2.5f, N);
    bad = 0;
    for (int64_t i = 0; i < N; i++) bad += y[i] != 2.5f;
    CHECK(bad == 0);
    gt_cpu_fill(y, 1.0f, 0);
    CHECK(y[0] == 2.5f);
    free(m), free(a), free(b), free(y);
}

/* The view of x over shape with strides st starting at offset off, copied naively. */
static void naive_view(float *y, const float *x, int64_t off, const int64_t *st, int ndim,
                       const int64_t *shape, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        int64_t rem = i, o = off;
        for (int d = ndim - 1; d >= 0; d--) {
            o += rem % shape[d] * st[d];
            rem /= shape[d];
        }
        y[i] = x[o];
    }
}

TEST(copy_strided_views) {
    float x[60], y[60], r[60];
    rand_fill(x, 60, 1.0f, 8);
    /* x: [2,3,4] permuted to [4,2,3] */
    const int64_t ps[3] = {4, 2, 3}, pst[3] = {1, 12, 4};
    gt_cpu_copy_strided(y, x, pst, 3, ps);
    naive_view(r, x, 0, pst, 3, ps, 24);
    CHECK(memcmp(y, r, 24 * sizeof(float)) == 0);
    /* x: [6,10] sliced to x[1:5, 2:10:3] */
    const int64_t ss[2] = {4, 3}, sst[2] = {10, 3};
    gt_cpu_copy_strided(y, x + 12, sst, 2, ss);
    naive_view(r, x, 12, sst, 2, ss, 12);
    CHECK(memcmp(y, r, 12 * sizeof(float)) == 0);
    /* x: [6,10] rows 1..4 whole (merges to one contiguous run) */
    const int64_t rs[2] = {4, 10}, rst[2] = {10, 1};
    gt_cpu_copy_strided(y, x + 10, rst, 2, rs);
    CHECK(memcmp(y, x + 10, 40 * sizeof(float)) == 0);
}

TEST(copy_strided_large_transpose) {
    enum { R = 300, C = 257 };
    float *x = falloc(R * C), *y = falloc(R * C), *r = falloc(R * C);
    rand_fill(x, R * C, 1.0f, 9);
    const int64_t shape[2] = {C, R}, st[2] = {1, C};
    gt_cpu_copy_strided(y, x, st, 2, shape);
    naive_view(r, x, 0, st, 2, shape, R * C);
    CHECK(memcmp(y, r, (size_t)R * C * sizeof(float)) == 0);
    free(x), free(y), free(r);
}

TEST(scatter_strided_into_slice) {
    float y[60], x[12];
    rand_fill(x, 12, 1.0f, 10);
    for (int i = 0; i < 60; i++) y[i] = -7.0f;
    const int64_t ss[2] = {4, 3}, sst[2] = {10, 3};
    gt_cpu_scatter_strided(y + 12, sst, x, 2, ss);
    int bad = 0, touched = 0;
    for (int i = 0; i < 60; i++) {
        int r = i / 10 - 1, c = i % 10 - 2;
        int in = r >= 0 && r < 4 && c >= 0 && c % 3 == 0 && c / 3 < 3;
        touched += in;
        bad += in ? y[i] != x[r * 3 + c / 3] : y[i] != -7.0f;
    }
    CHECK(bad == 0 && touched == 12);
}

/* A long contiguous line's sum in the kernel's documented order: 16 partial sums (element k in
 * lane k % 16) added in a tree of halves. */
static float lane_sum(const float *p, int64_t r) {
    float lane[16] = {0};
    for (int64_t k = 0; k < r; k++) lane[k % 16] += p[k];
    for (int w = 8; w > 0; w /= 2)
        for (int l = 0; l < w; l++) lane[l] += lane[l + w];
    return lane[0];
}

/* Naive reductions in the kernel's documented order; returns mismatches (bitwise). */
static int check_reduce(int64_t outer, int64_t r, int64_t inner, uint32_t seed) {
    int64_t n = outer * r * inner;
    float *x = falloc(n), *ys = falloc(outer * inner), *ym = falloc(outer * inner);
    int bad = 0;
    rand_fill(x, n, 4.0f, seed);
    gt_cpu_reduce_sum(ys, x, outer, r, inner);
    gt_cpu_reduce_max(ym, x, outer, r, inner);
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t j = 0; j < inner; j++) {
            const float *p = x + o * r * inner + j;
            float s = r ? p[0] : 0.0f, m = r ? p[0] : -INFINITY;
            double d = r ? p[0] : 0.0;
            for (int64_t k = 1; k < r; k++) {
                s += p[k * inner], d += p[k * inner];
                m = p[k * inner] > m ? p[k * inner] : m;
            }
            if (inner == 1 && r >= 32) s = lane_sum(p, r);
            bad += ys[o * inner + j] != s || ym[o * inner + j] != m;
            bad += fabs(ys[o * inner + j] - d) > 1e-5 * (double)r * 4.0;
        }
    }
    free(x), free(ys), free(ym);
    return bad;
}

TEST(reduce_shapes) {
    CHECK(check_reduce(1, 1, 1, 11) == 0);
    CHECK(check_reduce(1, 1000, 1, 12) == 0);
    CHECK(check_reduce(7, 13, 1, 13) == 0);
    CHECK(check_reduce(5, 31, 1, 21) == 0);  /* in order: just below the partial sums */
    CHECK(check_reduce(3, 47, 1, 22) == 0);  /* partial sums with a tail */
    CHECK(check_reduce(3000, 5, 1, 23) == 0); /* many short lines, several blocks of lines */
    CHECK(check_reduce(3, 5, 17, 14) == 0);
    CHECK(check_reduce(1, 9, 2500, 15) == 0);
    CHECK(check_reduce(4, 1, 6, 16) == 0);
    CHECK(check_reduce(2, 0, 3, 17) == 0);
    CHECK(check_reduce(1, 200000, 1, 18) == 0);
    CHECK(check_reduce(40000, 3, 1, 19) == 0);
    CHECK(check_reduce(2, 40, 3000, 20) == 0);
}

TEST(reduce_max_nan) {
    const float x[6] = {1.0f, NAN, 3.0f, 0.0f, 2.0f, NAN};
    float y[3];
    gt_cpu_reduce_max(y, x, 1, 6, 1);
    CHECK(isnan(y[0]));
    gt_cpu_reduce_max(y, x, 1, 2, 3);
    CHECK(y[0] == 1.0f && isnan(y[1]) && isnan(y[2]));
}

TEST(gather_scatter_add) {
    const float x[5] = {10, 20, 30, 40, 50}, y[6] = {1, 2, 3, 4, 5, 6};
    const int64_t idx[6] = {4, 0, 4, 2, 0, 4};
    float g[6], acc[5] = {1, 1, 1, 1, 1};
    gt_cpu_gather(g, x, idx, 6);
    for (int j = 0; j < 6; j++) CHECK(g[j] == x[idx[j]]);
    gt_cpu_scatter_add(acc, y, idx, 6);
    CHECK(acc[0] == 1 + 2 + 5 && acc[1] == 1 && acc[2] == 1 + 4 && acc[3] == 1);
    CHECK(acc[4] == 1 + 1 + 3 + 6);
}

/* Random123 kat_vectors for philox4x32-10. */
TEST(philox_known_answers) {
    static const uint32_t kat[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d,
         0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09,
         0x94fdcceb, 0x5001e420, 0x24126ea1}};
    uint32_t out[4], ref[4];
    for (int t = 0; t < 3; t++) {
        gt_cpu_philox4x32_10(out, kat[t], kat[t] + 4);
        CHECK(memcmp(out, kat[t] + 6, sizeof out) == 0);
    }
    gt_cpu_philox4x32(out, 0, 0);
    CHECK(memcmp(out, kat[0] + 6, sizeof out) == 0);
    const uint32_t ctr[4] = {0x89abcdef, 0x01234567, 0, 0}, key[2] = {0x76543210, 0xfedcba98};
    gt_cpu_philox4x32_10(ref, ctr, key);
    gt_cpu_philox4x32(out, 0x0123456789abcdefull, 0xfedcba9876543210ull);
    CHECK(memcmp(out, ref, sizeof out) == 0);
}

TEST(rand_layout) {
    float y[10], z[3];
    uint32_t w[4];
    gt_cpu_rand_uniform(y, 10, 77, 1000, 0.0f, 1.0f);
    for (int i = 0; i < 10; i++) {
        gt_cpu_philox4x32(w, 1000 + (uint64_t)i / 4, 77);
        CHECK(y[i] == (float)(w[i % 4] >> 8) * 0x1p-24f);
    }
    gt_cpu_rand_normal(y, 10, 5, 1ull << 40, 0.0f, 1.0f);
    gt_cpu_rand_normal(z, 3, 5, (1ull << 40) + 2, 0.0f, 1.0f);
    CHECK(z[0] == y[8] && z[1] == y[9]);
}

TEST(rand_uniform_moments) {
    enum { N = 1000000 };
    float *y = falloc(N);
    gt_cpu_rand_uniform(y, N, 123, 0, -2.0f, 3.0f);
    double sum = 0.0, lo = 1e9, hi = -1e9;
    for (int64_t i = 0; i < N; i++) {
        sum += y[i];
        lo = y[i] < lo ? y[i] : lo;
        hi = y[i] > hi ? y[i] : hi;
    }
    CHECK(lo >= -2.0 && hi < 3.0);
    CHECK_NEAR(sum / N, 0.5, 0.01);
    CHECK(lo < -1.99 && hi > 2.99);
    /* near 1000 float spacing is 6e-5, so lo + (hi - lo) * u rounds up to hi for ~30 of these */
    gt_cpu_rand_uniform(y, N, 9, 0, 1000.0f, 1001.0f);
    int bad = 0;
    for (int64_t i = 0; i < N; i++) bad += !(y[i] >= 1000.0f && y[i] < 1001.0f);
    CHECK(bad == 0);
    free(y);
}

TEST(rand_normal_moments) {
    enum { N = 1000000 };
    float *y = falloc(N);
    gt_cpu_rand_normal(y, N, 42, 7, 2.0f, 3.0f);
    double s1 = 0.0, s2 = 0.0;
    int finite = 1;
    for (int64_t i = 0; i < N; i++) {
        s1 += y[i], s2 += (double)y[i] * y[i];
        finite &= isfinite(y[i]) != 0;
    }
    double mean = s1 / N, sd = sqrt(s2 / N - mean * mean);
    CHECK(finite);
    CHECK_NEAR(mean, 2.0, 0.015);
    CHECK_NEAR(sd, 3.0, 0.015);
    free(y);
}

/* Each kernel below is run with 1 and 2 threads; outputs must be bitwise equal. */
static void run_threaded_kernels(float *out, const float *a, const float *b, int64_t n) {
    const int64_t s2[2] = {n / 500, 500}, c2[2] = {500, 1}, col[2] = {1, 0};
    gt_cpu_binary(GT_BINARY_DIV, out, a, c2, b, col, 2, s2);
    gt_cpu_unary(GT_UNARY_SOFTPLUS, out + n, a, n, 0, 0);
    gt_cpu_reduce_sum(out + 2 * n, a, 4, n / 400, 100);
    gt_cpu_reduce_sum(out + 2 * n + 400, a, 2, n / 2, 1);
    gt_cpu_rand_normal(out + 3 * n, n, 99, 12345, 0.0f, 1.0f);
    gt_cpu_max_share(out + 4 * n, a, n / 5, 5, 1);          /* maxout's groups of 5 */
    gt_cpu_max_share(out + 5 * n, a, 4, n / 400, 100);      /* columns */
}

TEST(thread_count_invariance) {
    enum { N = 200000 };
    float *a = falloc(N), *b = falloc(N), *o1 = falloc(6 * N), *o2 = falloc(6 * N);
    int saved = omp_get_max_threads();
    rand_fill(a, N, 3.0f, 21);
    rand_fill(b, N, 3.0f, 22);
    memset(o1, 0, 6 * N * sizeof(float));
    memset(o2, 0, 6 * N * sizeof(float));
    omp_set_num_threads(1);
    run_threaded_kernels(o1, a, b, N);
    omp_set_num_threads(2);
    run_threaded_kernels(o2, a, b, N);
    omp_set_num_threads(saved);
    CHECK(memcmp(o1, o2, 6 * N * sizeof(float)) == 0);
    free(a), free(b), free(o1), free(o2);
}

int main(void) {
    RUN_TESTS(T(unary_all_ops), T(unary_pow_integral_negative_base), T(unary_extremes_finite),
              T(unary_in_place), T(binary_same_shape_and_scalars), T(binary_broadcast),
              T(binary_large_threaded), T(binary_max_min_nan), T(where_and_fill),
              T(copy_strided_views), T(copy_strided_large_transpose),
              T(scatter_strided_into_slice), T(reduce_shapes), T(reduce_max_nan),
              T(gather_scatter_add), T(philox_known_answers), T(rand_layout),
              T(rand_uniform_moments), T(rand_normal_moments), T(thread_count_invariance));
}
