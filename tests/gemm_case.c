/* GEMM test problems (gemm_case.h). */
#include "gemm_case.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

/* rows x ld floats: the first cols of each row random, the padding NaN. */
static float *rand_matrix(int64_t rows, int64_t cols, int64_t ld, float (*rand_unit)(void)) {
    float *m = malloc((size_t)(rows * ld) * sizeof(float));
    for (int64_t i = 0; i < rows * ld; i++) m[i] = i % ld < cols ? rand_unit() : NAN;
    return m;
}

static double operand(const float *X, int64_t ld, int trans, int64_t r, int64_t c,
                      float (*round_operand)(float)) {
    float v = trans ? X[c * ld + r] : X[r * ld + c];
    return round_operand ? round_operand(v) : v;
}

static void reference(gemm_case *g, float (*round_operand)(float)) {
    for (int64_t i = 0; i < g->M; i++)
        for (int64_t j = 0; j < g->N; j++) {
            double s = 0, abs_s = 0;
            for (int64_t k = 0; k < g->K; k++) {
                double t = operand(g->A, g->lda, g->ta, i, k, round_operand) *
                           operand(g->B, g->ldb, g->tb, k, j, round_operand);
                s += t;
                abs_s += fabs(t);
            }
            double c = g->beta == 0.0f ? 0.0 : g->beta * (double)g->C0[i * g->ldc + j];
            g->ref[i * g->ldc + j] = (float)(g->alpha * s + c);
            double bound = fabs(g->alpha) * abs_s + fabs(c);
            g->tol[i * g->ldc + j] = (float)((double)(g->K + 3) * FLT_EPSILON * bound + 1e-30);
        }
}

gemm_case gemm_case_make(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, float beta,
                         int64_t pad, float (*rand_unit)(void), float (*round_operand)(float)) {
    gemm_case g = {ta, tb, M, N, K, 0, 0, N + pad, alpha, beta, 0, 0, 0, 0, 0};
    g.lda = (ta ? M : K) + pad;
    g.ldb = (tb ? K : N) + pad;
    g.A = rand_matrix(ta ? K : M, ta ? M : K, g.lda, rand_unit);
    g.B = rand_matrix(tb ? N : K, tb ? K : N, g.ldb, rand_unit);
    g.C0 = rand_matrix(M, N, g.ldc, rand_unit);
    if (beta == 0.0f)
        for (int64_t i = 0; i < M * g.ldc; i++) g.C0[i] = NAN;
    g.ref = malloc((size_t)(M * g.ldc) * sizeof(float));
    g.tol = malloc((size_t)(M * g.ldc) * sizeof(float));
    reference(&g, round_operand);
    return g;
}

void gemm_case_free(gemm_case *g) {
    free(g->A), free(g->B), free(g->C0), free(g->ref), free(g->tol);
}
