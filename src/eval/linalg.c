/* Symmetric eigendecomposition (cyclic Jacobi) and PSD matrix square roots in double, for FID.
 * Jacobi is chosen over Householder + QL for its accuracy on nearly singular covariances, which
 * is exactly where FID's square root is delicate. */
#include "eval/linalg.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define JACOBI_MAX_SWEEPS 100

/* Sum of squares of the strictly upper triangle and of the whole matrix. */
static void off_and_total(const double *a, int n, double *off, double *total) {
    double o = 0.0, t = 0.0;
    for (int p = 0; p < n; p++) {
        t += a[p * n + p] * a[p * n + p];
        for (int q = p + 1; q < n; q++) o += a[p * n + q] * a[p * n + q];
    }
    *off = o;
    *total = t + 2.0 * o;
}

/* One rotation in plane (p, q) that zeroes a[p,q]; applied to a from both sides and to v's
 * columns. t is the smaller root of t^2 + 2 theta t - 1 = 0, which keeps the rotation angle
 * below pi/4 (needed for convergence) and avoids cancellation. */
static void jacobi_rotate(double *a, double *v, int n, int p, int q) {
    double apq = a[p * n + q];
    double theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
    double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1.0));
    double c = 1.0 / sqrt(t * t + 1.0), s = t * c;
    for (int r = 0; r < n; r++) {
        double arp = a[r * n + p], arq = a[r * n + q];
        a[r * n + p] = c * arp - s * arq;
        a[r * n + q] = s * arp + c * arq;
    }
    for (int r = 0; r < n; r++) {
        double apr = a[p * n + r], aqr = a[q * n + r];
        a[p * n + r] = c * apr - s * aqr;
        a[q * n + r] = s * apr + c * aqr;
    }
    a[p * n + q] = a[q * n + p] = 0.0;
    for (int r = 0; r < n; r++) {
        double vrp = v[r * n + p], vrq = v[r * n + q];
        v[r * n + p] = c * vrp - s * vrq;
        v[r * n + q] = s * vrp + c * vrq;
    }
}

/* Sweeps until the off-diagonal mass is rounding noise relative to the whole matrix. */
static int jacobi_sweeps(double *a, double *v, int n) {
    for (int sweep = 0; sweep < JACOBI_MAX_SWEEPS; sweep++) {
        double off, total;
        off_and_total(a, n, &off, &total);
        if (off <= DBL_EPSILON * DBL_EPSILON * total * 0.25 || off == 0.0) return 0;
        for (int p = 0; p < n - 1; p++)
            for (int q = p + 1; q < n; q++)
                if (a[p * n + q] != 0.0) jacobi_rotate(a, v, n, p, q);
    }
    return -1;
}

/* Sorts eigenpairs by ascending eigenvalue (insertion sort: n is small, columns move whole). */
static void sort_eigenpairs(double *w, double *v, int n) {
    for (int j = 1; j < n; j++)
        for (int i = j; i > 0 && w[i - 1] > w[i]; i--) {
            double t = w[i];
            w[i] = w[i - 1];
            w[i - 1] = t;
            for (int r = 0; r < n; r++) {
                t = v[r * n + i];
                v[r * n + i] = v[r * n + i - 1];
                v[r * n + i - 1] = t;
            }
        }
}

int gt_sym_eig(const double *a, int n, double *w, double *v) {
    double *work = malloc((size_t)n * (size_t)n * sizeof *work);
    if (!work) return -1;
    /* Symmetrise so that rounding asymmetry in the caller's matrix cannot bias the result. */
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) work[i * n + j] = 0.5 * (a[i * n + j] + a[j * n + i]);
    memset(v, 0, (size_t)n * (size_t)n * sizeof *v);
    for (int i = 0; i < n; i++) v[i * n + i] = 1.0;
    int rc = jacobi_sweeps(work, v, n);
    for (int i = 0; i < n; i++) w[i] = work[i * n + i];
    free(work);
    sort_eigenpairs(w, v, n);
    return rc;
}

int gt_sym_psd_sqrt(const double *a, int n, double *out) {
    size_t nn = (size_t)n * (size_t)n;
    double *v = malloc(nn * sizeof *v), *w = malloc((size_t)n * sizeof *w);
    int rc = v && w ? gt_sym_eig(a, n, w, v) : -1;
    if (rc == 0) {
        for (int k = 0; k < n; k++) w[k] = sqrt(fmax(w[k], 0.0));
        for (int i = 0; i < n; i++)
            for (int j = i; j < n; j++) {
                double s = 0.0;
                for (int k = 0; k < n; k++) s += v[i * n + k] * w[k] * v[j * n + k];
                out[i * n + j] = out[j * n + i] = s;
            }
    }
    free(v);
    free(w);
    return rc;
}

double gt_sym_psd_sqrt_trace(const double *a, int n) {
    double *v = malloc((size_t)n * (size_t)n * sizeof *v), *w = malloc((size_t)n * sizeof *w);
    double tr = NAN;
    if (v && w && gt_sym_eig(a, n, w, v) == 0) {
        tr = 0.0;
        for (int k = 0; k < n; k++) tr += sqrt(fmax(w[k], 0.0));
    }
    free(v);
    free(w);
    return tr;
}
