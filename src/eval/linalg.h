/* Dense symmetric linear algebra in double for the evaluation metrics: an eigendecomposition by
 * cyclic Jacobi rotations and the square root of a positive semi-definite matrix built on it.
 * Matrices are row-major n x n arrays of double. */
#ifndef GT_EVAL_LINALG_H
#define GT_EVAL_LINALG_H

/* A = V diag(w) V^T for symmetric a (only read, lower and upper both used). w[n] ascending,
 * v[n, n] with eigenvector j in column j. Cyclic Jacobi with Rutishauser's rotation formulas:
 * small eigenvalues come out with high relative accuracy, cost about 30 n^3 flops (fine for the
 * feature sizes of gantry's classifier, n <= 512). Returns 0, or -1 when out of memory or not
 * converged after 100 sweeps (never seen for finite input). */
int gt_sym_eig(const double *a, int n, double *w, double *v);

/* out = A^(1/2) for symmetric positive semi-definite a, through its eigendecomposition with
 * eigenvalues below 0 (rounding noise of a singular matrix) clamped to 0. Returns 0 or -1. */
int gt_sym_psd_sqrt(const double *a, int n, double *out);

/* sum_i sqrt(max(w_i, 0)) over the eigenvalues of symmetric a: tr(A^(1/2)). NaN on failure. */
double gt_sym_psd_sqrt_trace(const double *a, int n);

#endif
