/* Sample-quality metrics (docs/protocols.md): Gaussian statistics and FID, KID, k-NN precision
 * and recall, and the histogram metrics (class coverage, 2-D mixture modes, stacked modes).
 * Pairwise work goes through the SGEMM kernel; every reduction has a fixed order, so results do
 * not depend on the thread count. */
#include "eval/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine.h"
#include "eval/linalg.h"

#define STATS_CHUNK 256   /* rows centred into double at a time for the covariance */
#define PR_BLOCK 512      /* rows of one Gram block in precision/recall: 512 x n floats */
#define PR_MAX_K 64
/* Element operations below which a parallel region costs more than it saves. */
#define PAR_MIN ((int64_t)1 << 18)

/* ---- Gaussian statistics and FID ------------------------------------------------------- */

static void feature_mean(const float *x, int64_t n, int d, double *mean) {
    memset(mean, 0, (size_t)d * sizeof *mean);
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < d; j++) mean[j] += x[i * d + j];
    for (int j = 0; j < d; j++) mean[j] /= (double)n;
}

/* cov[a, b] (b >= a) += sum over the rows of xc [rows, d] of xc[., a] xc[., b]. Threads own
 * whole rows of cov, so the sum order is fixed. */
static void add_cross_products(const double *xc, int64_t rows, int d, double *cov) {
#pragma omp parallel for schedule(dynamic, 4) if (rows * d * d > 2 * PAR_MIN)
    for (int a = 0; a < d; a++)
        for (int64_t r = 0; r < rows; r++) {
            const double *x = xc + r * d;
            double xa = x[a];
            for (int b = a; b < d; b++) cov[a * d + b] += xa * x[b];
        }
}

/* Second pass: cross products of the centred rows, a chunk at a time, then scaled by n - 1. */
static int centred_covariance(const float *x, int64_t n, int d, const double *mean, double *cov) {
    double *xc = malloc((size_t)STATS_CHUNK * (size_t)d * sizeof *xc);
    if (!xc) return -1;
    memset(cov, 0, (size_t)d * (size_t)d * sizeof *cov);
    for (int64_t i0 = 0; i0 < n; i0 += STATS_CHUNK) {
        int64_t rows = n - i0 < STATS_CHUNK ? n - i0 : STATS_CHUNK;
        for (int64_t r = 0; r < rows; r++)
            for (int j = 0; j < d; j++) xc[r * d + j] = (double)x[(i0 + r) * d + j] - mean[j];
        add_cross_products(xc, rows, d, cov);
    }
    free(xc);
    for (int a = 0; a < d; a++)
        for (int b = a; b < d; b++) cov[b * d + a] = cov[a * d + b] /= (double)(n - 1);
    return 0;
}

int gt_gauss_stats_compute(gt_gauss_stats *s, const float *feat, int64_t n, int d, gt_error *err) {
    GT_CHECK(n >= 2 && d >= 1, "gauss stats: need n >= 2 and d >= 1 (got n %lld, d %d)",
             (long long)n, d);
    s->d = d;
    s->n = n;
    s->mean = malloc((size_t)d * sizeof *s->mean);
    s->cov = malloc((size_t)d * (size_t)d * sizeof *s->cov);
    if (s->mean && s->cov) {
        feature_mean(feat, n, d, s->mean);
        if (centred_covariance(feat, n, d, s->mean, s->cov) == 0) return 0;
    }
    gt_gauss_stats_free(s);
    return gt_error_set(err, "feature statistics: out of memory for %d features (%zu bytes); "
                        "use a smaller feature layer", d, (size_t)d * (size_t)d * sizeof(double));
}

void gt_gauss_stats_free(gt_gauss_stats *s) {
    free(s->mean);
    free(s->cov);
    s->mean = s->cov = NULL;
}

/* c = a b for n x n row-major matrices (i-k-j order: the inner loop runs along rows). */
static void dmatmul(const double *a, const double *b, int n, double *c) {
    memset(c, 0, (size_t)n * (size_t)n * sizeof *c);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < n; k++) {
            double aik = a[i * n + k];
            for (int j = 0; j < n; j++) c[i * n + j] += aik * b[k * n + j];
        }
}

/* tr (Sa^1/2 Sb Sa^1/2)^1/2: the product is symmetric PSD, so its root is again an eigenproblem. */
static double sqrt_product_trace(const double *sa, const double *sb, int d) {
    size_t dd = (size_t)d * (size_t)d;
    double *root = malloc(dd * sizeof *root), *t = malloc(dd * sizeof *t);
    double *m = malloc(dd * sizeof *m), tr = NAN;
    if (root && t && m && gt_sym_psd_sqrt(sa, d, root) == 0) {
        dmatmul(root, sb, d, t);
        dmatmul(t, root, d, m);
        tr = gt_sym_psd_sqrt_trace(m, d);
    }
    free(root);
    free(t);
    free(m);
    return tr;
}

double gt_fid(const gt_gauss_stats *a, const gt_gauss_stats *b) {
    GT_CHECK(a->d == b->d, "fid: feature sizes differ (%d vs %d)", a->d, b->d);
    int d = a->d;
    double dist = 0.0, tr = 0.0;
    for (int j = 0; j < d; j++) {
        double diff = a->mean[j] - b->mean[j];
        dist += diff * diff;
        tr += a->cov[j * d + j] + b->cov[j * d + j];
    }
    return dist + tr - 2.0 * sqrt_product_trace(a->cov, b->cov, d);
}

/* ---- KID ----------------------------------------------------------------------------- */

/* A uniform draw from [0, n): 64 Philox bits modulo n (bias below n / 2^64, negligible). */
static int64_t draw_below(uint64_t key, uint64_t counter, int64_t n) {
    uint32_t w[4];
    gt_philox4x32(w, counter, key);
    return (int64_t)((((uint64_t)w[0] << 32) | w[1]) % (uint64_t)n);
}

/* rows[0..m) = m distinct rows of x [n, d] by a partial Fisher-Yates shuffle of idx [n]. The
 * stream is a function of (seed, stream) only, so each subset is reproducible on its own. */
static void draw_subset(const float *x, int64_t n, int d, int64_t m, uint64_t seed,
                        uint64_t stream, int64_t *idx, float *rows) {
    for (int64_t i = 0; i < n; i++) idx[i] = i;
    for (int64_t i = 0; i < m; i++) {
        int64_t j = i + draw_below(seed, (stream << 32) | (uint64_t)i, n - i);
        int64_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
        memcpy(rows + i * d, x + idx[i] * d, (size_t)d * sizeof *rows);
    }
}

/* sum over pairs (i, j), i != j when same, of (x_i.y_j / d + 1)^3. The Gram block comes from
 * SGEMM; the kernel is summed in double, per row in parallel, then over rows in order. */
static double kernel_sum(const float *x, int64_t m, const float *y, int64_t n, int d, int same,
                         float *gram, double *row_sums) {
    gt_host_sgemm(0, 1, m, n, d, 1.0f / (float)d, x, d, y, d, 0.0f, gram, n);
#pragma omp parallel for schedule(static) if (m * n > PAR_MIN)
    for (int64_t i = 0; i < m; i++) {
        double s = 0.0;
        for (int64_t j = 0; j < n; j++) {
            double k = (double)gram[i * n + j] + 1.0;
            s += same && i == j ? 0.0 : k * k * k;
        }
        row_sums[i] = s;
    }
    double total = 0.0;
    for (int64_t i = 0; i < m; i++) total += row_sums[i];
    return total;
}

/* Unbiased MMD^2 between x [m, d] and y [n, d] (Gretton et al. 2012, eq. 3). */
static double mmd2_unbiased(const float *x, int64_t m, const float *y, int64_t n, int d,
                            float *gram, double *row_sums) {
    double kxx = kernel_sum(x, m, x, m, d, 1, gram, row_sums);
    double kyy = kernel_sum(y, n, y, n, d, 1, gram, row_sums);
    double kxy = kernel_sum(x, m, y, n, d, 0, gram, row_sums);
    return kxx / ((double)m * (double)(m - 1)) + kyy / ((double)n * (double)(n - 1)) -
           2.0 * kxy / ((double)m * (double)n);
}

static void mean_and_stderr(const double *v, int n, double *mean, double *se) {
    double s = 0.0, ss = 0.0;
    for (int i = 0; i < n; i++) s += v[i];
    *mean = s / n;
    for (int i = 0; i < n; i++) ss += (v[i] - *mean) * (v[i] - *mean);
    *se = n > 1 ? sqrt(ss / (n - 1) / n) : NAN;
}

double gt_kid(const float *fa, int64_t na, const float *fb, int64_t nb, int d, int subsets,
              int subset_size, uint64_t seed, double *stderr_out) {
    GT_CHECK(na >= 2 && nb >= 2 && d >= 1 && subsets >= 1 && subset_size >= 2,
             "kid: need two or more samples per set and per subset, and one subset or more");
    int64_t ma = na < subset_size ? na : subset_size, mb = nb < subset_size ? nb : subset_size;
    int64_t mmax = ma > mb ? ma : mb;
    int64_t *idx = malloc((size_t)(na > nb ? na : nb) * sizeof *idx);
    float *xa = malloc((size_t)(ma * d) * sizeof *xa), *xb = malloc((size_t)(mb * d) * sizeof *xb);
    float *gram = malloc((size_t)(mmax * mmax) * sizeof *gram);
    double *row_sums = malloc((size_t)mmax * sizeof *row_sums);
    double *mmd = malloc((size_t)subsets * sizeof *mmd), kid = NAN, se = NAN;
    if (idx && xa && xb && gram && row_sums && mmd) {
        for (int s = 0; s < subsets; s++) {
            draw_subset(fa, na, d, ma, seed, 2 * (uint64_t)s, idx, xa);
            draw_subset(fb, nb, d, mb, seed, 2 * (uint64_t)s + 1, idx, xb);
            mmd[s] = mmd2_unbiased(xa, ma, xb, mb, d, gram, row_sums);
        }
        mean_and_stderr(mmd, subsets, &kid, &se);
    }
    free(idx);
    free(xa);
    free(xb);
    free(gram);
    free(row_sums);
    free(mmd);
    if (stderr_out) *stderr_out = se;
    return kid;
}

/* ---- Precision and recall --------------------------------------------------------------- */

/* A point set prepared for Gram-form distances |x - y|^2 = |x|^2 + |y|^2 - 2 x.y. */
typedef struct pr_set {
    float *x;   /* [n, d], shifted by the common origin */
    double *sq; /* [n] squared norms */
    int64_t n;
} pr_set;

/* Shifting both sets by the real mean keeps |x|^2 small, so the Gram form cancels less. */
static int pr_set_init(pr_set *s, const float *x, int64_t n, int d, const double *origin) {
    s->n = n;
    s->x = malloc((size_t)(n * d) * sizeof *s->x);
    s->sq = malloc((size_t)n * sizeof *s->sq);
    if (!s->x || !s->sq) return -1;
    for (int64_t i = 0; i < n; i++) {
        double q = 0.0;
        for (int j = 0; j < d; j++) {
            float v = (float)((double)x[i * d + j] - origin[j]);
            s->x[i * d + j] = v;
            q += (double)v * v;
        }
        s->sq[i] = q;
    }
    return 0;
}

static void pr_set_free(pr_set *s) {
    free(s->x);
    free(s->sq);
}

/* gram[rows, b.n] = a rows [i0, i0 + rows) times b^T. */
static void gram_block(const pr_set *a, int64_t i0, int64_t rows, const pr_set *b, int d,
                       float *gram) {
    gt_host_sgemm(0, 1, rows, b->n, d, 1.0f, a->x + i0 * d, d, b->x, d, 0.0f, gram, b->n);
}

/* The k-th smallest squared distance from row i to the others in g (skipping self). */
static double kth_nearest_sq(const float *g, const pr_set *s, int64_t self, int k) {
    double best[PR_MAX_K];
    int have = 0;
    for (int64_t j = 0; j < s->n; j++) {
        if (j == self) continue;
        double d2 = s->sq[self] + s->sq[j] - 2.0 * g[j];
        if (have == k && d2 >= best[k - 1]) continue;
        int p = have < k ? have++ : k - 1;
        for (; p > 0 && best[p - 1] > d2; p--) best[p] = best[p - 1];
        best[p] = d2;
    }
    return fmax(best[k - 1], 0.0);
}

/* r2[i] = squared distance from s_i to its k-th nearest other sample of s. */
static void knn_radii_sq(const pr_set *s, int d, int k, float *gram, double *r2) {
    for (int64_t i0 = 0; i0 < s->n; i0 += PR_BLOCK) {
        int64_t rows = s->n - i0 < PR_BLOCK ? s->n - i0 : PR_BLOCK;
        gram_block(s, i0, rows, s, d, gram);
#pragma omp parallel for schedule(static) if (rows * s->n > PAR_MIN)
        for (int64_t r = 0; r < rows; r++)
            r2[i0 + r] = kth_nearest_sq(gram + r * s->n, s, i0 + r, k);
    }
}

/* Share of the points of a that lie within the radius (squared: r2b) of some point of b. */
static double share_within(const pr_set *a, const pr_set *b, const double *r2b, int d,
                           float *gram) {
    int64_t hits = 0;
    for (int64_t i0 = 0; i0 < a->n; i0 += PR_BLOCK) {
        int64_t rows = a->n - i0 < PR_BLOCK ? a->n - i0 : PR_BLOCK;
        gram_block(a, i0, rows, b, d, gram);
#pragma omp parallel for schedule(static) reduction(+ : hits) if (rows * b->n > PAR_MIN)
        for (int64_t r = 0; r < rows; r++) {
            const float *g = gram + r * b->n;
            double sqa = a->sq[i0 + r];
            int64_t j = 0;
            while (j < b->n && sqa + b->sq[j] - 2.0 * g[j] > r2b[j]) j++;
            hits += j < b->n;
        }
    }
    return (double)hits / (double)a->n;
}

void gt_precision_recall(const float *real, int64_t nr, const float *fake, int64_t nf, int d,
                         int k, double *precision, double *recall) {
    GT_CHECK(k >= 1 && k <= PR_MAX_K && k < nr && k < nf && d >= 1,
             "precision/recall: need 1 <= k <= %d and more than k samples per set", PR_MAX_K);
    pr_set r = {0}, f = {0};
    double *origin = malloc((size_t)d * sizeof *origin);
    double *r2r = malloc((size_t)nr * sizeof *r2r), *r2f = malloc((size_t)nf * sizeof *r2f);
    float *gram = malloc((size_t)PR_BLOCK * (size_t)(nr > nf ? nr : nf) * sizeof *gram);
    *precision = *recall = NAN;
    if (origin && r2r && r2f && gram) {
        feature_mean(real, nr, d, origin);
        if (pr_set_init(&r, real, nr, d, origin) == 0 &&
            pr_set_init(&f, fake, nf, d, origin) == 0) {
            knn_radii_sq(&r, d, k, gram, r2r);
            knn_radii_sq(&f, d, k, gram, r2f);
            *precision = share_within(&f, &r, r2r, d, gram);
            *recall = share_within(&r, &f, r2f, d, gram);
        }
    }
    pr_set_free(&r);
    pr_set_free(&f);
    free(origin);
    free(r2r);
    free(r2f);
    free(gram);
}

/* ---- Histogram metrics ------------------------------------------------------------------ */

/* KL(p || uniform over k bins) in nats for p = counts / total; empty bins add 0 (0 log 0). */
static double kl_to_uniform(const int64_t *counts, int k, int64_t total) {
    if (total == 0) return NAN;
    double kl = 0.0;
    for (int c = 0; c < k; c++)
        if (counts[c] > 0) {
            double p = (double)counts[c] / (double)total;
            kl += p * log(p * k);
        }
    return kl;
}

static int nonzero_bins(const int64_t *counts, int k) {
    int covered = 0;
    for (int c = 0; c < k; c++) covered += counts[c] > 0;
    return covered;
}

void gt_class_coverage(const int32_t *pred, int64_t n, int n_classes, int *covered,
                       double *kl_to_uniform_out) {
    GT_CHECK(n_classes >= 1, "class coverage: n_classes %d", n_classes);
    int64_t *counts = calloc((size_t)n_classes, sizeof *counts);
    *covered = 0;
    *kl_to_uniform_out = NAN;
    if (!counts) return;
    for (int64_t i = 0; i < n; i++) {
        GT_CHECK(pred[i] >= 0 && pred[i] < n_classes,
                 "class coverage: prediction %d of sample %lld outside [0, %d)", (int)pred[i],
                 (long long)i, n_classes);
        counts[pred[i]]++;
    }
    *covered = nonzero_bins(counts, n_classes);
    *kl_to_uniform_out = kl_to_uniform(counts, n_classes, n);
    free(counts);
}

/* Index of the centre nearest to p, and the squared distance to it. */
static int nearest_centre(const float *p, const float *centres, int n_modes, double *d2_out) {
    int best = 0;
    double best_d2 = INFINITY;
    for (int m = 0; m < n_modes; m++) {
        double dx = (double)p[0] - centres[2 * m], dy = (double)p[1] - centres[2 * m + 1];
        double d2 = dx * dx + dy * dy;
        if (d2 < best_d2) {
            best_d2 = d2;
            best = m;
        }
    }
    *d2_out = best_d2;
    return best;
}

void gt_mode_metrics(const float *pts, int64_t n, const float *centres, int n_modes, float sigma,
                     int *modes_covered, double *pct_high_quality, double *reverse_kl) {
    GT_CHECK(n >= 1 && n_modes >= 1 && sigma > 0, "mode metrics: n %lld, modes %d, sigma %g",
             (long long)n, n_modes, (double)sigma);
    int64_t *counts = calloc((size_t)n_modes, sizeof *counts), hq = 0;
    *modes_covered = 0;
    *pct_high_quality = *reverse_kl = NAN;
    if (!counts) return;
    double r2 = 9.0 * (double)sigma * (double)sigma;
    for (int64_t i = 0; i < n; i++) {
        double d2;
        int m = nearest_centre(pts + 2 * i, centres, n_modes, &d2);
        if (d2 <= r2) {
            counts[m]++;
            hq++;
        }
    }
    *modes_covered = nonzero_bins(counts, n_modes);
    *pct_high_quality = 100.0 * (double)hq / (double)n;
    *reverse_kl = kl_to_uniform(counts, n_modes, hq);
    free(counts);
}

/* Index of the centre nearest to p in units of each centre's sigma, and that distance squared. */
static int nearest_scaled(const float *p, const float *centres, const float *sigmas, int n_modes,
                          double *d2_out) {
    int best = 0;
    double best_d2 = INFINITY;
    for (int m = 0; m < n_modes; m++) {
        double dx = (double)p[0] - centres[2 * m], dy = (double)p[1] - centres[2 * m + 1];
        double s2 = (double)sigmas[m] * (double)sigmas[m];
        double d2 = (dx * dx + dy * dy) / s2;
        if (d2 < best_d2) {
            best_d2 = d2;
            best = m;
        }
    }
    *d2_out = best_d2;
    return best;
}

int gt_mode_of_point_pacgan(const float *p, const float *centres, const float *sigmas,
                            int n_modes) {
    double d2;
    int m = nearest_scaled(p, centres, sigmas, n_modes, &d2);
    return d2 < 9.0 ? m : -1; /* distance < 3 sigma */
}

void gt_mode_metrics_pacgan(const float *pts, int64_t n, const float *centres, const float *sigmas,
                            int n_modes, int *modes_covered, double *pct_high_quality,
                            double *reverse_kl) {
    GT_CHECK(n >= 1 && n_modes >= 1, "mode metrics: n %lld, modes %d", (long long)n, n_modes);
    for (int m = 0; m < n_modes; m++)
        GT_CHECK(sigmas[m] > 0, "mode metrics: sigma %g of mode %d", (double)sigmas[m], m);
    int64_t *counts = calloc((size_t)n_modes, sizeof *counts), hq = 0;
    *modes_covered = 0;
    *pct_high_quality = *reverse_kl = NAN;
    if (!counts) return;
    for (int64_t i = 0; i < n; i++) {
        int m = gt_mode_of_point_pacgan(pts + 2 * i, centres, sigmas, n_modes);
        if (m >= 0) {
            counts[m]++;
            hq++;
        }
    }
    *modes_covered = nonzero_bins(counts, n_modes);
    *pct_high_quality = 100.0 * (double)hq / (double)n;
    *reverse_kl = kl_to_uniform(counts, n_modes, hq);
    free(counts);
}

void gt_stacked_modes(const int32_t *pred_r, const int32_t *pred_g, const int32_t *pred_b,
                      int64_t n, int *modes_covered, double *kl) {
    int64_t *counts = calloc(1000, sizeof *counts);
    *modes_covered = 0;
    *kl = NAN;
    if (!counts) return;
    for (int64_t i = 0; i < n; i++) {
        GT_CHECK(pred_r[i] >= 0 && pred_r[i] < 10 && pred_g[i] >= 0 && pred_g[i] < 10 &&
                 pred_b[i] >= 0 && pred_b[i] < 10, "stacked modes: class outside [0, 10) at %lld",
                 (long long)i);
        counts[100 * pred_r[i] + 10 * pred_g[i] + pred_b[i]]++;
    }
    *modes_covered = nonzero_bins(counts, 1000);
    *kl = kl_to_uniform(counts, 1000, n);
    free(counts);
}
