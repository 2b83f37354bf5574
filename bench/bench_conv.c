/* Benchmark of the convolution kernels on the DCGAN-28 layer shapes: median time of the
 * forward pass and of forward + backward (input and weight gradients), GFLOP/s, and the
 * same for PyTorch (bench/torch_conv.py, when /usr/bin/python3 has torch) with the ratio. */
#include "cpu/cpu.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#define REPS 15
/* Both libraries are timed this many times in turn, keeping the best (load on a shared
 * machine comes and goes). */
#define ROUNDS 2

/* One layer. A conv_transpose2d is stated by the conv geometry it is the adjoint of:
 * its input is that conv's y, its output that conv's x. */
typedef struct {
    const char *name;
    int transpose;
    gt_conv_geom g;
} bench_case;

/* A stride-s, padding-p, k x k layer from [n, c_in, h, h] to c_out channels. For a
 * transpose, its geometry is that of the conv from [n, c_out, (h-1)*s - 2p + k, same]
 * back to [n, c_in, h, h]. */
static bench_case make_case(const char *name, int transpose, int64_t n, int64_t c_in,
                            int64_t h, int64_t c_out, int64_t k, int64_t s, int64_t p) {
    bench_case b = {name, transpose, {0}};
    int64_t hi = transpose ? (h - 1) * s - 2 * p + k : h, ho = (hi + 2 * p - k) / s + 1;
    gt_conv_geom g = {n, transpose ? c_out : c_in, hi, hi, transpose ? c_in : c_out,
                      ho, ho, k, k, s, s, p, p, 1, 1, 1, 0};
    b.g = g;
    return b;
}

typedef struct { float *x, *y, *w, *gx, *gy, *gw; } bench_bufs;

static float *rand_buf(int64_t n) {
    float *a = malloc((size_t)n * sizeof *a);
    for (int64_t i = 0; i < n; i++) a[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
    return a;
}

/* Forward (and backward when bwd) of the layer: conv y = conv(x, w), or convT x = conv^T(y, w). */
static void run_layer(const bench_case *c, bench_bufs *b, int bwd) {
    const gt_conv_geom *g = &c->g;
    if (!c->transpose) {
        gt_cpu_conv2d(g, b->y, b->x, b->w);
        if (!bwd) return;
        gt_cpu_conv2d_input_grad(g, b->gx, b->gy, b->w);
        gt_cpu_conv2d_weight_grad(g, b->gw, b->x, b->gy);
    } else {
        gt_cpu_conv2d_input_grad(g, b->x, b->y, b->w);
        if (!bwd) return;
        gt_cpu_conv2d(g, b->gy, b->gx, b->w);
        gt_cpu_conv2d_weight_grad(g, b->gw, b->gx, b->y);
    }
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_ms(const bench_case *c, bench_bufs *b, int bwd) {
    double t[REPS];
    run_layer(c, b, bwd);
    for (int r = 0; r < REPS; r++) {
        double t0 = omp_get_wtime();
        run_layer(c, b, bwd);
        t[r] = (omp_get_wtime() - t0) * 1e3;
    }
    qsort(t, REPS, sizeof t[0], cmp_double);
    return t[REPS / 2];
}

/* Median forward and forward+backward milliseconds of gantry at the current thread count. */
static void time_case(const bench_case *c, double ms[2]) {
    const gt_conv_geom *g = &c->g;
    int64_t nx = g->n * g->c_in * g->h_in * g->w_in, ny = g->n * g->c_out * g->h_out * g->w_out;
    int64_t nw = g->c_out * g->c_in / g->groups * g->kh * g->kw;
    bench_bufs b = {rand_buf(nx), rand_buf(ny), rand_buf(nw), rand_buf(nx), rand_buf(ny),
                    rand_buf(nw)};
    ms[0] = median_ms(c, &b, 0);
    ms[1] = median_ms(c, &b, 1);
    free(b.x), free(b.y), free(b.w), free(b.gx), free(b.gy), free(b.gw);
}

/* As time_case, the best of 1 thread and all threads (as torch_conv.py does for PyTorch:
 * on a loaded machine one thread can win). */
static void best_time_case(const bench_case *c, double ms[3]) {
    int all = omp_get_max_threads();
    double one[2];
    time_case(c, ms);
    ms[2] = all;
    if (all == 1) return;
    omp_set_num_threads(1);
    time_case(c, one);
    omp_set_num_threads(all);
    if (one[1] < ms[1]) ms[2] = 1;
    for (int k = 0; k < 2; k++) ms[k] = one[k] < ms[k] ? one[k] : ms[k];
}

/* best = the faster of best and now, per column (fwd, f+b; threads follow f+b). */
static void keep_best(double best[3], const double now[3], int first) {
    if (first || now[1] < best[1]) best[1] = now[1], best[2] = now[2];
    if (first || now[0] < best[0]) best[0] = now[0];
}

/* Multiply-adds x 2 of one pass (forward, input grad and weight grad cost the same). */
static double pass_flops(const gt_conv_geom *g) {
    return 2.0 * (double)(g->n * g->c_out * g->h_out * g->w_out) *
           (double)(g->c_in / g->groups * g->kh * g->kw);
}

/* The torch_conv.py spec of a case: the layer as PyTorch states it. */
static void torch_spec(const bench_case *c, char *buf, size_t len) {
    const gt_conv_geom *g = &c->g;
    if (!c->transpose)
        snprintf(buf, len, "conv,%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld", (long long)g->n,
                 (long long)g->c_in, (long long)g->h_in, (long long)g->w_in,
                 (long long)g->c_out, (long long)g->kh, (long long)g->sh, (long long)g->ph);
    else
        snprintf(buf, len, "convt,%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld", (long long)g->n,
                 (long long)g->c_out, (long long)g->h_out, (long long)g->w_out,
                 (long long)g->c_in, (long long)g->kh, (long long)g->sh, (long long)g->ph);
}

/* Fills torch_ms[i] (fwd, f+b, threads of the best f+b) from bench/torch_conv.py;
 * returns 0 when torch is unavailable. */
static int torch_times(const bench_case *cases, int nc, double torch_ms[][3]) {
    if (system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") != 0) return 0;
    char cmd[2048];
    int off = snprintf(cmd, sizeof cmd, "OPENBLAS_NUM_THREADS=1 /usr/bin/python3 "
                       "bench/torch_conv.py %d", REPS);
    for (int i = 0; i < nc; i++) {
        char spec[256];
        torch_spec(&cases[i], spec, sizeof spec);
        off += snprintf(cmd + off, sizeof cmd - (size_t)off, " %s", spec);
    }
    FILE *p = popen(cmd, "r");
    if (!p) return 0;
    int got = 0;
    char line[512], spec[256];
    while (got < nc && fgets(line, sizeof line, p))
        if (sscanf(line, "%255s %lf %lf %lf", spec, &torch_ms[got][0], &torch_ms[got][1],
                   &torch_ms[got][2]) == 4)
            got++;
    return pclose(p) == 0 && got == nc;
}

int main(void) {
    bench_case cases[] = {
        make_case("conv 1->64 k4s2p1 64x1x28x28", 0, 64, 1, 28, 64, 4, 2, 1),
        make_case("conv 64->128 k4s2p1 64x64x14x14", 0, 64, 64, 14, 128, 4, 2, 1),
        make_case("convT 256->128 k4s2p1 64x256x7x7", 1, 64, 256, 7, 128, 4, 2, 1),
        make_case("convT 128->1 k4s2p1 64x128x14x14", 1, 64, 128, 14, 1, 4, 2, 1),
    };
    enum { NC = (int)(sizeof cases / sizeof cases[0]) };
    double ms[NC][3], torch_ms[NC][3], now[NC][3];
    int have_torch = 1;
    printf("bench_conv: ISA %s; median of %d runs (fewer for PyTorch calls over 0.1 s), "
           "best of 1 and %d threads and of %d rounds\n", gt_cpu_isa_name(gt_cpu_isa_active()),
           REPS, gt_cpu_threads(), ROUNDS);
    for (int r = 0; r < ROUNDS; r++) {
        for (int i = 0; i < NC; i++) {
            best_time_case(&cases[i], now[i]);
            keep_best(ms[i], now[i], r == 0);
        }
        have_torch = have_torch && torch_times(cases, NC, now);
        for (int i = 0; have_torch && i < NC; i++) keep_best(torch_ms[i], now[i], r == 0);
    }
    printf("%-34s %8s %8s %8s %8s %3s", "layer", "fwd ms", "GFLOP/s", "f+b ms", "GFLOP/s",
           "thr");
    if (have_torch)
        printf(" %9s %9s %3s %6s %6s", "torch fwd", "torch f+b", "thr", "fwd x", "f+b x");
    printf("\n");
    for (int i = 0; i < NC; i++) {
        double f = pass_flops(&cases[i].g) * 1e-6;
        printf("%-34s %8.3f %8.1f %8.3f %8.1f %3.0f", cases[i].name, ms[i][0], f / ms[i][0],
               ms[i][1], 3 * f / ms[i][1], ms[i][2]);
        if (have_torch)
            printf(" %9.3f %9.3f %3.0f %6.2f %6.2f", torch_ms[i][0], torch_ms[i][1],
                   torch_ms[i][2], ms[i][0] / torch_ms[i][0], ms[i][1] / torch_ms[i][1]);
        printf("\n");
    }
    if (!have_torch)
        printf("PyTorch: not installed\n");
    else
        printf("x = gantry time / PyTorch time (below 1: gantry faster); "
               "thr: threads of the best f+b\n");
    return 0;
}
