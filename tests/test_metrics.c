/* Metrics of src/eval: the symmetric eigensolver, then FID, KID and precision/recall against an
 * independent numpy/scipy computation (tests/golden/metrics.gtfx, written by
 * tests/golden/make_metric_fixtures.py), the protocol's sanity anchors, and the histogram
 * metrics (class coverage, 2-D mixture modes, stacked modes) on hand-made inputs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu/cpu.h"
#include "data/data.h"
#include "eval/evaluate.h"
#include "eval/linalg.h"
#include "eval/metrics.h"
#include "fixture.h"
#include "gantry.h"
#include "test.h"

/* n x n matrix B B^T / n + shift I, B [n, r] uniform in [-1, 1): singular when shift = 0, r < n. */
static double *random_psd(int n, int r, double shift, uint64_t seed) {
    float *b = malloc((size_t)(n * r) * sizeof *b);
    double *a = malloc((size_t)(n * n) * sizeof *a);
    gt_cpu_rand_uniform(b, n * r, seed, 0, -1.0f, 1.0f);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double s = i == j ? shift : 0.0;
            for (int k = 0; k < r; k++) s += (double)b[i * r + k] * b[j * r + k] / n;
            a[i * n + j] = s;
        }
    free(b);
    return a;
}

/* max |A - V diag(w) V^T| and max |V^T V - I|. */
static void eig_errors(const double *a, const double *w, const double *v, int n, double *rec,
                       double *orth) {
    *rec = *orth = 0.0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double s = 0.0, o = 0.0;
            for (int k = 0; k < n; k++) {
                s += v[i * n + k] * w[k] * v[j * n + k];
                o += v[k * n + i] * v[k * n + j];
            }
            *rec = fmax(*rec, fabs(s - a[i * n + j]));
            *orth = fmax(*orth, fabs(o - (i == j)));
        }
}

static void check_eig(int n, int rank, double shift, uint64_t seed) {
    double *a = random_psd(n, rank, shift, seed), *w = malloc((size_t)n * sizeof *w);
    double *v = malloc((size_t)(n * n) * sizeof *v), rec, orth;
    CHECK(gt_sym_eig(a, n, w, v) == 0);
    eig_errors(a, w, v, n, &rec, &orth);
    CHECK_NEAR(rec, 0.0, 1e-10);
    CHECK_NEAR(orth, 0.0, 1e-10);
    for (int i = 1; i < n; i++) CHECK(w[i - 1] <= w[i]);
    if (rank < n) CHECK_NEAR(w[n - rank - 1], 0.0, 1e-12); /* the null space stays at 0 */
    free(a);
    free(w);
    free(v);
}

TEST(eig_reconstructs_spd_and_singular) {
    check_eig(1, 1, 0.5, 1);
    check_eig(24, 24, 0.1, 2);
    check_eig(40, 7, 0.0, 3);
    check_eig(64, 64, 0.0, 4);
}

TEST(psd_sqrt_squares_back) {
    int n = 20;
    double *a = random_psd(n, 12, 0.0, 5), *r = malloc((size_t)(n * n) * sizeof *r), err = 0.0;
    CHECK(gt_sym_psd_sqrt(a, n, r) == 0);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double s = 0.0;
            for (int k = 0; k < n; k++) s += r[i * n + k] * r[k * n + j];
            err = fmax(err, fabs(s - a[i * n + j]));
        }
    CHECK_NEAR(err, 0.0, 1e-10);
    free(a);
    free(r);
}

static gt_fixture *metric_fixture(void) {
    gt_fixture *f = gt_fixture_load("tests/golden/metrics.gtfx");
    CHECK(f != NULL);
    return f;
}

static double scalar(gt_fixture *f, const char *name) { return gt_fixture_get(f, name)->data[0]; }

TEST(golden_gauss_stats_and_fid) {
    gt_fixture *f = metric_fixture();
    if (!f) return;
    gt_tensor *a = gt_fixture_get(f, "a"), *b = gt_fixture_get(f, "b");
    const float *mean = gt_fixture_get(f, "mean_a")->data, *cov = gt_fixture_get(f, "cov_a")->data;
    gt_gauss_stats sa, sb;
    CHECK(gt_gauss_stats_compute(&sa, a->data, a->shape[0], 16, NULL) == 0);
    CHECK(gt_gauss_stats_compute(&sb, b->data, b->shape[0], 16, NULL) == 0);
    for (int j = 0; j < 16; j++) CHECK_NEAR(sa.mean[j], mean[j], 1e-6 * (1 + fabs(mean[j])));
    for (int j = 0; j < 256; j++) CHECK_NEAR(sa.cov[j], cov[j], 1e-6 * (1 + fabs(cov[j])));
    double want = scalar(f, "fid");
    CHECK_NEAR(gt_fid(&sa, &sb), want, 1e-6 * want);
    CHECK_NEAR(gt_fid(&sa, &sa), 0.0, 1e-6);
    gt_gauss_stats_free(&sa);
    gt_gauss_stats_free(&sb);
    gt_fixture_free(f);
    gt_step_end();
}

/* Same covariance, means apart by a shift: FID = |shift|^2, through the statistics and through
 * shifted features (whose float rounding perturbs the covariance very slightly). */
TEST(fid_of_shift_is_squared_distance) {
    gt_fixture *f = metric_fixture();
    if (!f) return;
    gt_tensor *a = gt_fixture_get(f, "a");
    int64_t n = a->shape[0];
    float *shifted = malloc((size_t)(n * 16) * sizeof *shifted);
    double want = 0.0;
    for (int j = 0; j < 16; j++) want += (0.25 * j) * (0.25 * j);
    for (int64_t i = 0; i < n * 16; i++) shifted[i] = a->data[i] + 0.25f * (float)(i % 16);
    gt_gauss_stats sa, sb;
    CHECK(gt_gauss_stats_compute(&sa, a->data, n, 16, NULL) == 0);
    CHECK(gt_gauss_stats_compute(&sb, shifted, n, 16, NULL) == 0);
    CHECK_NEAR(gt_fid(&sa, &sb), want, 1e-5 * want);
    memcpy(sb.cov, sa.cov, 256 * sizeof *sb.cov);
    for (int j = 0; j < 16; j++) sb.mean[j] = sa.mean[j] + 0.25 * j;
    CHECK_NEAR(gt_fid(&sa, &sb), want, 1e-9 * want);
    gt_gauss_stats_free(&sa);
    gt_gauss_stats_free(&sb);
    free(shifted);
    gt_fixture_free(f);
    gt_step_end();
}

/* Subsets at least as large as both sets hold every sample: KID is then the full-set unbiased
 * MMD^2 whatever the seed, with zero spread over subsets. */
TEST(golden_kid_full_sets) {
    gt_fixture *f = metric_fixture();
    if (!f) return;
    gt_tensor *a = gt_fixture_get(f, "a"), *b = gt_fixture_get(f, "b");
    double want = scalar(f, "mmd2"), se;
    CHECK_NEAR(gt_kid(a->data, 500, b->data, 400, 16, 1, 1000, 7, NULL), want, 1e-5 * want);
    CHECK_NEAR(gt_kid(a->data, 500, b->data, 400, 16, 3, 500, 8, &se), want, 1e-5 * want);
    CHECK_NEAR(se, 0.0, 1e-9 * want);
    gt_fixture_free(f);
    gt_step_end();
}

/* Two independent draws of one distribution: KID within a few standard errors of 0; the same
 * seed repeats the bits, another seed draws other subsets. */
TEST(kid_same_distribution_is_near_zero) {
    int n = 1000, d = 32;
    float *x = malloc((size_t)(n * d) * sizeof *x), *y = malloc((size_t)(n * d) * sizeof *y);
    gt_cpu_rand_normal(x, n * d, 11, 0, 0.5f, 1.0f);
    gt_cpu_rand_normal(y, n * d, 12, 0, 0.5f, 1.0f);
    double se, se2, kid = gt_kid(x, n, y, n, d, 10, 200, 3, &se);
    CHECK(se > 0.0 && fabs(kid) < 4.0 * se);
    CHECK(gt_kid(x, n, y, n, d, 10, 200, 3, &se2) == kid && se2 == se);
    CHECK(gt_kid(x, n, y, n, d, 10, 200, 4, NULL) != kid);
    double self_kid = gt_kid(x, n, x, n, d, 1, 200, 3, NULL);
    for (int i = 0; i < n * d; i++) y[i] += 0.5f;
    CHECK(gt_kid(x, n, y, n, d, 10, 200, 3, NULL) > 100.0 * fabs(self_kid) + 20.0 * se);
    free(x);
    free(y);
}

TEST(golden_precision_recall) {
    gt_fixture *f = metric_fixture();
    if (!f) return;
    gt_tensor *a = gt_fixture_get(f, "a"), *b = gt_fixture_get(f, "b");
    const float *want = gt_fixture_get(f, "pr")->data;
    double p, r;
    gt_precision_recall(a->data, 500, b->data, 400, 16, 3, &p, &r);
    CHECK_NEAR(p, want[0], 1e-6);
    CHECK_NEAR(r, want[1], 1e-6);
    gt_precision_recall(a->data, 500, a->data, 500, 16, 3, &p, &r);
    CHECK(p == 1.0 && r == 1.0);
    gt_fixture_free(f);
    gt_step_end();
}

/* Every fake a hair from real sample 0: all fakes are plausible (precision 1), but they cover
 * almost none of the reals (recall near 0). */
TEST(collapsed_fakes_have_low_recall) {
    int n = 1000, d = 8;
    float *real = malloc((size_t)(n * d) * sizeof *real);
    float *fake = malloc((size_t)(n * d) * sizeof *fake);
    gt_cpu_rand_normal(real, n * d, 21, 0, 0.0f, 1.0f);
    gt_cpu_rand_normal(fake, n * d, 22, 0, 0.0f, 1e-3f);
    for (int i = 0; i < n * d; i++) fake[i] += real[i % d];
    double p, r;
    gt_precision_recall(real, n, fake, n, d, 3, &p, &r);
    CHECK(p == 1.0);
    CHECK(r <= 0.01);
    free(real);
    free(fake);
}

/* The protocol's size class (d = 128), timed: 2,000 x 2,000 here, 10,000 in the report. Under
 * valgrind (tests/run.sh sets VALGRIND) 2,000 takes minutes, so 300 keeps the same code paths. */
TEST(precision_recall_2000_by_128) {
    int n = getenv("VALGRIND") ? 300 : 2000, d = 128;
    float *real = malloc((size_t)(n * d) * sizeof *real);
    float *fake = malloc((size_t)(n * d) * sizeof *fake);
    gt_cpu_rand_normal(real, n * d, 31, 0, 0.0f, 1.0f);
    gt_cpu_rand_normal(fake, n * d, 32, 0, 0.0f, 1.0f);
    struct timespec t0, t1;
    double p, r;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    gt_precision_recall(real, n, fake, n, d, 3, &p, &r);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK(p > 0.5 && r > 0.5);
    printf("  precision/recall %d x %d x 128: %.3f s\n", n, n,
           (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    free(real);
    free(fake);
}

TEST(class_coverage_by_hand) {
    int covered;
    double kl;
    gt_class_coverage((const int32_t[]){0, 0, 1, 1}, 4, 4, &covered, &kl);
    CHECK(covered == 2);
    CHECK_NEAR(kl, log(2.0), 1e-12);
    gt_class_coverage((const int32_t[]){3, 1, 2, 0}, 4, 4, &covered, &kl);
    CHECK(covered == 4);
    CHECK_NEAR(kl, 0.0, 1e-12);
    gt_class_coverage((const int32_t[]){2, 2, 2}, 3, 10, &covered, &kl);
    CHECK(covered == 1);
    CHECK_NEAR(kl, log(10.0), 1e-12);
}

/* Ring, sigma 0.01: two points on centres 0 and 1, one 2 sigma from centre 2 (high quality),
 * one 5 sigma from centre 3 and one at the origin (both not): 3 modes, 60 %, KL = log(8/3). */
TEST(mode_metrics_by_hand) {
    float c[16];
    CHECK(gt_data_mixture_centres("ring", 0.0f, c, NULL) == 8);
    float pts[10] = {c[0], c[1], c[2], c[3], c[4] + 0.02f, c[5], c[6], c[7] - 0.05f, 0.0f, 0.0f};
    int covered;
    double pct, kl;
    gt_mode_metrics(pts, 5, c, 8, 0.01f, &covered, &pct, &kl);
    CHECK(covered == 3);
    CHECK_NEAR(pct, 60.0, 1e-12);
    CHECK_NEAR(kl, log(8.0 / 3.0), 1e-12);
    gt_mode_metrics(pts + 8, 1, c, 8, 0.01f, &covered, &pct, &kl);
    CHECK(covered == 0 && pct == 0.0 && isnan(kl));
    float grid[50];
    CHECK(gt_data_mixture_centres("grid", 0.0f, grid, NULL) == 25);
    gt_mode_metrics(grid, 25, grid, 25, 0.05f, &covered, &pct, &kl);
    CHECK(covered == 25 && pct == 100.0);
    CHECK_NEAR(kl, 0.0, 1e-12);
}

/* PacGAN's definition, modes of different std: A (0, 0) std 1, B (3, 0) std 0.1, C (10, 10)
 * std 0.5. (2.5, 0) is nearer B in plain distance but 2.5 std from A and 5 from B: A's. (3.05, 0)
 * is 0.5 std from B; (10, 12) is 4 std from C: not high quality. Counts A 2, B 1, C 0: 2 modes,
 * 75 %, KL = 2/3 log(2/3 3) + 1/3 log(1/3 3) = 2/3 log 2. */
TEST(pacgan_mode_metrics_by_hand) {
    float centres[6] = {0, 0, 3, 0, 10, 10}, sigmas[3] = {1.0f, 0.1f, 0.5f};
    float pts[8] = {0.5f, 0, 2.5f, 0, 3.05f, 0, 10, 12};
    int covered;
    double pct, kl;
    gt_mode_metrics_pacgan(pts, 4, centres, sigmas, 3, &covered, &pct, &kl);
    CHECK(covered == 2);
    CHECK_NEAR(pct, 75.0, 1e-12);
    CHECK_NEAR(kl, 2.0 / 3.0 * log(2.0), 1e-12);
    /* below 3 std, strictly: 2.999 std is high quality, 3.001 std is not */
    float edge[4] = {10, 10 + 3 * 0.4999f, 10, 10 + 3 * 0.5001f};
    gt_mode_metrics_pacgan(edge, 2, centres, sigmas, 3, &covered, &pct, &kl);
    CHECK(covered == 1 && pct == 50.0);
    CHECK_NEAR(kl, log(3.0), 1e-12);
    gt_mode_metrics_pacgan(pts + 6, 1, centres, sigmas, 3, &covered, &pct, &kl);
    CHECK(covered == 0 && pct == 0.0 && isnan(kl));
}

/* On a mixture both definitions agree away from the 3-sigma boundary, and the scores say which
 * definition gave them. */
TEST(mode_metric_definitions_on_the_ring) {
    float c[16];
    CHECK(gt_data_mixture_centres("ring", 0.0f, c, NULL) == 8);
    float pts[10] = {c[0], c[1], c[2], c[3], c[4] + 0.02f, c[5], c[6], c[7] - 0.05f, 0.0f, 0.0f};
    gt_mode_scores a, b;
    gt_error err;
    CHECK(gt_eval_points_by("ring", GT_MODE_METRIC_GANTRY, pts, 5, &a, &err) == 0);
    CHECK(gt_eval_points_by("ring", GT_MODE_METRIC_PACGAN, pts, 5, &b, &err) == 0);
    CHECK(a.metric == GT_MODE_METRIC_GANTRY && b.metric == GT_MODE_METRIC_PACGAN);
    CHECK(a.modes_covered == 3 && b.modes_covered == 3);
    CHECK(a.pct_high_quality == b.pct_high_quality);
    CHECK_NEAR(b.reverse_kl, log(8.0 / 3.0), 1e-12);
    gt_mode_metric m;
    CHECK(gt_mode_metric_parse("pacgan", &m) == 0 && m == GT_MODE_METRIC_PACGAN);
    CHECK(gt_mode_metric_parse("veegan", &m) < 0);
    CHECK(strcmp(gt_mode_metric_name(GT_MODE_METRIC_PACGAN), "pacgan") == 0);
}

/* The per-point verdicts the report draws are the ones the scores count: PacGAN's rule point
 * by point, on the hand example and on the ring. */
TEST(pacgan_verdict_per_point) {
    float centres[6] = {0, 0, 3, 0, 10, 10}, sigmas[3] = {1.0f, 0.1f, 0.5f};
    float pts[8] = {0.5f, 0, 2.5f, 0, 3.05f, 0, 10, 12};
    const int want[4] = {0, 0, 1, -1};
    for (int i = 0; i < 4; i++) CHECK(gt_mode_of_point_pacgan(pts + 2 * i, centres, sigmas, 3) == want[i]);
    gt_mixture_modes mm;
    gt_error err;
    CHECK(gt_eval_mixture_modes("ring", &mm, &err) == 0 && mm.n == 8 && mm.sigma == 0.01f);
    float ring[10] = {mm.centres[0], mm.centres[1], mm.centres[2] + 0.029f, mm.centres[3],
                      mm.centres[4] + 0.031f, mm.centres[5], 0, 0, mm.centres[14], mm.centres[15]};
    int32_t mode[5];
    gt_eval_points_modes(&mm, ring, 5, mode);
    CHECK(mode[0] == 0 && mode[1] == 1 && mode[2] == -1 && mode[3] == -1 && mode[4] == 7);
    gt_mode_scores sc;
    CHECK(gt_eval_points_by("ring", GT_MODE_METRIC_PACGAN, ring, 5, &sc, &err) == 0);
    CHECK(sc.modes_covered == 3 && sc.pct_high_quality == 60.0);
    CHECK(gt_eval_mixture_modes("grid", &mm, &err) == 0 && mm.n == 25 && mm.sigma == 0.05f);
    CHECK(gt_eval_mixture_modes("spiral", &mm, &err) < 0 && strstr(err.msg, "spiral"));
}

/* Modes 100 r + 10 g + b: (1,2,3) twice and (9,9,9) once of 1,000 modes. */
TEST(stacked_modes_by_hand) {
    int covered;
    double kl;
    gt_stacked_modes((const int32_t[]){1, 1, 9}, (const int32_t[]){2, 2, 9},
                     (const int32_t[]){3, 3, 9}, 3, &covered, &kl);
    CHECK(covered == 2);
    CHECK_NEAR(kl, 2.0 / 3.0 * log(2.0 / 3.0 * 1000.0) + 1.0 / 3.0 * log(1000.0 / 3.0), 1e-12);
}

int main(void) {
    static const gt_test_case cases[] = {
        T(eig_reconstructs_spd_and_singular),
        T(psd_sqrt_squares_back),
        T(golden_gauss_stats_and_fid),
        T(fid_of_shift_is_squared_distance),
        T(golden_kid_full_sets),
        T(kid_same_distribution_is_near_zero),
        T(golden_precision_recall),
        T(collapsed_fakes_have_low_recall),
        T(pacgan_mode_metrics_by_hand), T(pacgan_verdict_per_point),
        T(mode_metric_definitions_on_the_ring),
        T(precision_recall_2000_by_128),
        T(class_coverage_by_hand),
        T(mode_metrics_by_hand),
        T(stacked_modes_by_hand),
    };
    int rc = gt_test_run(cases, (int)(sizeof cases / sizeof cases[0]));
    gt_runtime_free();
    return rc;
}
