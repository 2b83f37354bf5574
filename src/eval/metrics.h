/* Sample-quality metrics of docs/protocols.md on plain feature arrays: FID, KID, precision and
 * recall, class coverage, 2-D mixture mode coverage, stacked Fashion-MNIST modes. Features are
 * float [n, d] row-major; statistics that need it are accumulated in double. Misuse (n too small,
 * k out of range) aborts with file:line; running out of memory gives NaN results. */
#ifndef GT_EVAL_METRICS_H
#define GT_EVAL_METRICS_H

#include <stdint.h>

#include "gantry.h"

/* Mean and covariance of a feature set, in double. */
typedef struct gt_gauss_stats {
    int d;
    int64_t n;
    double *mean; /* [d] */
    double *cov;  /* [d, d], unbiased (divides by n - 1) */
} gt_gauss_stats;

/* Two passes (mean, then centred cross products) so large means cannot cancel the covariance.
 * Needs n >= 2. Returns 0, or -1 with err filled when out of memory. */
int gt_gauss_stats_compute(gt_gauss_stats *s, const float *feat, int64_t n, int d, gt_error *err);
void gt_gauss_stats_free(gt_gauss_stats *s);

/* FID (Heusel et al. 2017) = |mu_a - mu_b|^2 + tr Sa + tr Sb - 2 tr (Sa^1/2 Sb Sa^1/2)^1/2, the
 * symmetric form of tr (Sa Sb)^1/2; square roots by symmetric eigendecomposition, negative
 * rounding eigenvalues clamped to 0. Protocol: 10,000 samples against the 10,000 test images. */
double gt_fid(const gt_gauss_stats *a, const gt_gauss_stats *b);

/* KID (Binkowski et al. 2018): unbiased MMD^2 with k(x, y) = (x.y / d + 1)^3, averaged over
 * `subsets` draws of min(subset_size, n) samples without replacement from each set (Philox keyed
 * by seed). Protocol: subsets of 1,000 (100 subsets). *stderr_out (may be NULL) = sample standard
 * deviation over subsets / sqrt(subsets), NaN for one subset. */
double gt_kid(const float *fa, int64_t na, const float *fb, int64_t nb, int d, int subsets,
              int subset_size, uint64_t seed, double *stderr_out);

/* Improved precision and recall (Kynkaanniemi et al. 2019), k = 3 in the protocol: precision is
 * the share of fakes within the k-NN radius (k-th nearest other sample) of at least one real;
 * recall the share of reals within the k-NN radius of at least one fake. Exact distances. */
void gt_precision_recall(const float *real, int64_t nr, const float *fake, int64_t nf, int d,
                         int k, double *precision, double *recall);

/* Predicted-class histogram of n samples: classes with at least one prediction, and
 * KL(p || uniform) = sum_c p_c log(p_c n_classes) in nats (0 log 0 = 0). */
void gt_class_coverage(const int32_t *pred, int64_t n, int n_classes, int *covered,
                       double *kl_to_uniform);

/* 2-D mixtures (protocol: 2,500 points): a point is high quality if within 3 sigma of its
 * nearest centre (centres [n_modes, 2]) and then falls to that mode; a mode is covered if one
 * high-quality point falls to it. pct_high_quality in percent. reverse_kl = KL(p_gen || uniform)
 * over the histogram p_gen of high-quality points, empty modes contributing 0, the "reverse KL"
 * of the Unrolled GAN / VEEGAN / PacGAN tables; NaN when no point is high quality. */
void gt_mode_metrics(const float *pts, int64_t n, const float *centres, int n_modes, float sigma,
                     int *modes_covered, double *pct_high_quality, double *reverse_kl);
/* The same scores by PacGAN's definition (Lin et al. 2018; its MetricLogger): each point goes
 * to the mode nearest in units of that mode's standard deviation, sqrt(sum_d (p_d - c_d)^2 /
 * sigmas[m]^2), and is high quality when that distance is below 3 (strict). sigmas [n_modes].
 * With one sigma for every mode only the boundary case (exactly 3 sigma) differs from
 * gt_mode_metrics. */
void gt_mode_metrics_pacgan(const float *pts, int64_t n, const float *centres, const float *sigmas,
                            int n_modes, int *modes_covered, double *pct_high_quality,
                            double *reverse_kl);

/* PacGAN's rule for one point p [2]: the mode it falls to (nearest in units of each mode's
 * std) when it is high quality (below 3 std from it), else -1. */
int gt_mode_of_point_pacgan(const float *p, const float *centres, const float *sigmas,
                            int n_modes);

/* Stacked Fashion-MNIST (protocol: 26,000 samples): the classes predicted for the three channels
 * make mode 100 r + 10 g + b of 1,000; modes covered and KL(p || uniform) as above (VEEGAN). */
void gt_stacked_modes(const int32_t *pred_r, const int32_t *pred_g, const int32_t *pred_b,
                      int64_t n, int *modes_covered, double *kl);

#endif
