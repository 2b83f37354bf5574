/* GEMM test problems shared by test_gemm and test_bf16: padded random operands and a
 * double-accumulated reference with a rounding bound per element. */
#ifndef GT_TESTS_GEMM_CASE_H
#define GT_TESTS_GEMM_CASE_H

#include <stdint.h>

/* A problem with padded operands: op(A) M x K, op(B) K x N, C M x N, ld = width + pad. */
typedef struct {
    int ta, tb;
    int64_t M, N, K, lda, ldb, ldc;
    float alpha, beta;
    float *A, *B, *C0, *ref, *tol;
} gemm_case;

/* Operands from rand_unit (the caller's stream; padding NaN, and C0 all NaN when beta = 0);
 * ref = alpha op(A) op(B) + beta C0 in double over the operands as round_operand leaves them
 * (NULL: as they are), tol = (K + 3) FLT_EPSILON of the sum of |terms| per element. */
gemm_case gemm_case_make(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, float beta,
                         int64_t pad, float (*rand_unit)(void), float (*round_operand)(float));
void gemm_case_free(gemm_case *g);

#endif
