/* gantry bench: times one workload of ../shared/docs/protocols.md (square SGEMM, the DCGAN-28
 * training step, the MLP ring GAN step) and prints a summary whose last line is one JSON object,
 * so that bench/run_bench.sh can set it beside the PyTorch figure measured in the same run. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "base/base.h"
#include "cli.h"
#include "options.h"
#include "cpu/cpu.h"
#include "gan/gan.h"
#include "io/config.h"
#include "train/trainer.h"

#define SGEMM_N 1024
#define MAX_LAYERS 8

/* A network's cost: the multiply-adds per example of each conv and linear layer, in order.
 * Elementwise work and normalisation are left out, as model FLOP counts usually do. */
typedef struct {
    int n;
    double macs[MAX_LAYERS];
} net_cost;

/* Everything one run holds; each workload uses its own part. */
typedef struct {
    int64_t batch;
    gt_arena *arena;  /* networks, optimizer state, the real batch */
    gt_model g, d;
    gt_optim opt_g, opt_d;
    gt_gan gan;
    gt_tensor *real;
    int64_t z_dim;
    gt_rng rng;
    float *a, *b, *c;  /* sgemm operands */
    double flop_per_step;
    int unroll;        /* the GAN workloads' unrolled D updates (0: none) */
    bool surrogate;
    gt_trainer *trainer; /* the recipe workloads: a whole trainer, stepped on its data */
    const char *precision;
} bench_run;

typedef struct {
    const char *name;
    const char *summary;
    const char *flop_note;           /* what the FLOP count covers */
    long long steps, warmup, batch;  /* defaults; batch 0: the workload has none */
    int (*setup)(bench_run *r, gt_error *err);
    void (*step)(bench_run *r);
    void (*teardown)(bench_run *r);
} workload;

/* ---- FLOP counts -------------------------------------------------------------------------- */

/* A k x k conv from c_in to c_out channels with an h x h output. A transposed conv costs the
 * same as the conv it is the adjoint of, so it is counted with input and output swapped. */
static double conv_macs(int64_t c_in, int64_t c_out, int64_t k, int64_t h) {
    return (double)(c_out * h * h) * (double)(c_in * k * k);
}

static double sum_macs(const net_cost *c, int from) {
    double s = 0;
    for (int i = from; i < c->n; i++) s += c->macs[i];
    return s;
}

/* One backward pass: weight gradients when the network is being updated, input gradients of
 * every layer but the first unless its input needs one (a fake batch that G is trained through). */
static double backward_flop(const net_cost *c, bool weights, bool first_input) {
    return 2 * ((weights ? sum_macs(c, 0) : 0) + sum_macs(c, first_input ? 0 : 1));
}

/* The step as gt_gan_d_step and gt_gan_g_step run it: D on a real and a fake batch with D's
 * gradients, then D on the fake batch again with G's gradients only (gt_grad skips D's). */
static double gan_step_flop(const net_cost *g, const net_cost *d, int64_t batch) {
    double fwd_g = 2 * sum_macs(g, 0), fwd_d = 2 * sum_macs(d, 0);
    double d_step = fwd_g + 2 * (fwd_d + backward_flop(d, true, false));
    double g_step = fwd_d + backward_flop(d, false, true) + backward_flop(g, true, false);
    return (double)batch * (d_step + g_step);
}

/* ---- GAN workloads -------------------------------------------------------------------------- */

/* The optimizer of protocols.md for both networks. */
static gt_optim_cfg adam_cfg(void) {
    return (gt_optim_cfg){.type = GT_OPTIM_ADAM, .lr = 2e-4, .beta1 = 0.5, .beta2 = 0.999,
                          .eps = 1e-8, .schedule = GT_SCHEDULE_CONSTANT};
}

/* Builds G, D, their optimizers and one fixed real batch of uniform [-1, 1] values: the data
 * does not change the cost of a step, so no dataset is needed. */
static int gan_setup(bench_run *r, const gt_net_spec *gs, const gt_net_spec *ds, gt_error *err) {
    r->arena = gt_arena_new((size_t)16 << 20);
    r->rng = gt_rng_seed(1);
    if (gt_model_build(&r->g, gs, r->arena, &r->rng, err) < 0 ||
        gt_model_build(&r->d, ds, r->arena, &r->rng, err) < 0)
        return -1;
    gt_optim_cfg o = adam_cfg();
    gt_optim_init(&r->opt_g, &r->g.params, &o, r->arena);
    gt_optim_init(&r->opt_d, &r->d.params, &o, r->arena);
    gt_gan_init(&r->gan, &r->g, &r->opt_g, &r->d, &r->opt_d, 2);
    r->gan.unroll.steps = r->unroll;
    r->gan.unroll.mode = r->surrogate ? GT_UNROLL_SURROGATE : GT_UNROLL_EXACT;
    r->z_dim = gs->z_dim;
    int64_t shape[4] = {r->batch, ds->c, ds->h, ds->w};
    bool points = ds->h == 1 && ds->w == 1;
    r->real = gt_tensor_new_in(r->arena, points ? 2 : 4, shape);
    gt_fill_uniform(&r->rng, r->real, -1.0f, 1.0f);
    return 0;
}

/* protocols.md's WGAN-GP step: the DCGAN-28 networks without batch norm in D, the Wasserstein
 * loss and a gradient penalty of weight 10 (a double backward through D), one D and one G update. */
static int wgangp28_setup(bench_run *r, gt_error *err);

static void gan_step(bench_run *r) {
    int64_t zs[2] = {r->batch, r->z_dim};
    gt_step_stats st;
    gt_tensor *fake = gt_gan_d_step(&r->gan, 0, 0, r->real, gt_rand_normal(&r->rng, 2, zs, 0, 1), &st);
    gt_gan_g_step(&r->gan, 0, fake, r->real, &st);
    gt_step_end();
}

static void gan_teardown(bench_run *r) {
    if (!r->arena) return;
    gt_model_release(&r->g);
    gt_model_release(&r->d);
    gt_arena_free(r->arena);
}

static gt_net_spec net_spec(gt_role role, const char *family, int64_t width, int64_t depth,
                            int c, int h, int w) {
    gt_net_spec s = {.role = role, .width = width, .depth = depth, .init_std = 0.02,
                     .c = c, .h = h, .w = w};
    snprintf(s.family, sizeof s.family, "%s", family);
    snprintf(s.activation, sizeof s.activation, "relu");
    snprintf(s.init, sizeof s.init, "normal");
    return s;
}

/* protocols.md's DCGAN-28 networks: the dcgan family at width 64, G with batch norm, D with
 * d_norm, and their costs.
 * G: linear 100 -> 256x7x7, convT 256 -> 128 (7 -> 14), convT 128 -> 1 (14 -> 28).
 * D: conv 1 -> 64 (28 -> 14), conv 64 -> 128 (14 -> 7), linear 6272 -> 1. */
static void dcgan28_nets(const char *d_norm, gt_net_spec *g, gt_net_spec *d, net_cost *gc,
                         net_cost *dc) {
    *g = net_spec(GT_ROLE_GENERATOR, "dcgan", 64, 0, 1, 28, 28);
    *d = net_spec(GT_ROLE_DISCRIMINATOR, "dcgan", 64, 0, 1, 28, 28);
    g->z_dim = 100;
    snprintf(g->norm, sizeof g->norm, "batch");
    snprintf(d->norm, sizeof d->norm, "%s", d_norm);
    *gc = (net_cost){3, {100.0 * 256 * 7 * 7, conv_macs(128, 256, 4, 7), conv_macs(1, 128, 4, 14)}};
    *dc = (net_cost){3, {conv_macs(1, 64, 4, 14), conv_macs(64, 128, 4, 7), 128.0 * 7 * 7}};
}

static int dcgan28_setup(bench_run *r, gt_error *err) {
    gt_net_spec g, d;
    net_cost gc, dc;
    dcgan28_nets("batch", &g, &d, &gc, &dc);
    r->flop_per_step = gan_step_flop(&gc, &dc, r->batch);
    return gan_setup(r, &g, &d, err);
}

static int wgangp28_setup(bench_run *r, gt_error *err) {
    gt_net_spec g, d;
    net_cost gc, dc;
    dcgan28_nets("none", &g, &d, &gc, &dc);
    /* The penalty: D forward at the interpolates, its input gradient (every layer), and the
     * backward of that gradient into D's weights, about twice the input gradient again. */
    double penalty = 2 * sum_macs(&dc, 0) + 3 * backward_flop(&dc, false, true);
    r->flop_per_step = gan_step_flop(&gc, &dc, r->batch) + (double)r->batch * penalty;
    if (gan_setup(r, &g, &d, err) < 0) return -1;
    r->gan.loss.kind = &gt_loss_wgan;
    r->gan.penalty.gp = 10;
    return 0;
}

/* protocols.md's ring GAN: 3 hidden layers of 128 ReLU units in G and D, z 256, 2-D points. */
static int mlp_ring_setup(bench_run *r, gt_error *err) {
    gt_net_spec g = net_spec(GT_ROLE_GENERATOR, "mlp", 128, 3, 2, 1, 1);
    gt_net_spec d = net_spec(GT_ROLE_DISCRIMINATOR, "mlp", 128, 3, 2, 1, 1);
    g.z_dim = 256;
    snprintf(g.norm, sizeof g.norm, "none");
    snprintf(d.norm, sizeof d.norm, "none");
    net_cost gc = {4, {256.0 * 128, 128.0 * 128, 128.0 * 128, 128.0 * 2}};
    net_cost dc = {4, {2.0 * 128, 128.0 * 128, 128.0 * 128, 128.0 * 1}};
    r->flop_per_step = gan_step_flop(&gc, &dc, r->batch);
    return gan_setup(r, &g, &d, err);
}

/* ---- SGEMM -------------------------------------------------------------------------------- */

static int sgemm_setup(bench_run *r, gt_error *err) {
    size_t n2 = (size_t)SGEMM_N * SGEMM_N;
    r->a = malloc(n2 * sizeof *r->a);
    r->b = malloc(n2 * sizeof *r->b);
    r->c = malloc(n2 * sizeof *r->c);
    if (!r->a || !r->b || !r->c) return gt_error_set(err, "out of memory (sgemm operands)");
    gt_cpu_rand_uniform(r->a, (int64_t)n2, 1, 0, -1.0f, 1.0f);
    gt_cpu_rand_uniform(r->b, (int64_t)n2, 2, 0, -1.0f, 1.0f);
    r->flop_per_step = 2.0 * SGEMM_N * SGEMM_N * SGEMM_N;
    return 0;
}

/* The GEMM of the run's precision (the bf16 one: operands rounded to bf16, FP32 sums). */
static void sgemm_step(bench_run *r) {
    void (*gemm)(int, int, int64_t, int64_t, int64_t, float, const float *, int64_t,
                 const float *, int64_t, float, float *, int64_t) =
        gt_precision_get() == GT_PRECISION_BF16 ? gt_cpu_sgemm_bf16 : gt_cpu_sgemm;
    gemm(0, 0, SGEMM_N, SGEMM_N, SGEMM_N, 1.0f, r->a, SGEMM_N, r->b, SGEMM_N, 0.0f, r->c, SGEMM_N);
}

static void sgemm_teardown(bench_run *r) {
    free(r->a);
    free(r->b);
    free(r->c);
}

/* ---- Recipes ------------------------------------------------------------------------------ */

/* A recipe of configs/ (found from the working directory or the installed share folder) at
 * batch r->batch, with train.precision set: the trainer's whole step, data loading, lazy
 * penalties and EMA included. Its FLOPs are not counted. */
static int recipe_setup(bench_run *r, const char *name, gt_error *err) {
    char path[512];
    snprintf(path, sizeof path, "configs/%s.ini", name);
    FILE *f = fopen(path, "r");
    if (f) fclose(f);
    else snprintf(path, sizeof path, "%s/configs/%s.ini", GT_DATADIR, name);
    gt_config c;
    gt_config_defaults(&c);
    char batch[64], prec[64];
    snprintf(batch, sizeof batch, "train.batch=%lld", (long long)r->batch);
    snprintf(prec, sizeof prec, "train.precision=%s", r->precision);
    if (gt_config_load_file(&c, path, err) < 0 || gt_config_set(&c, batch, "bench", err) < 0 ||
        gt_config_set(&c, prec, "bench", err) < 0)
        return -1;
    r->trainer = malloc(sizeof *r->trainer);
    if (!r->trainer) return gt_error_set(err, "out of memory (a trainer)");
    if (gt_trainer_init(r->trainer, &c, true, err) < 0) {
        free(r->trainer);
        r->trainer = NULL;
        return -1;
    }
    return 0;
}

static int stylegan2_32_setup(bench_run *r, gt_error *err) {
    return recipe_setup(r, "stylegan2-fmnist", err);
}
static int resnet_32_setup(bench_run *r, gt_error *err) {
    return recipe_setup(r, "sagan-fmnist", err);
}
static int pacgan_grid_setup(bench_run *r, gt_error *err) {
    return recipe_setup(r, "pacgan-grid", err);
}

static void recipe_step(bench_run *r) {
    gt_step_stats st;
    gt_trainer_step(r->trainer, &st);
}

static void recipe_teardown(bench_run *r) {
    if (!r->trainer) return;
    gt_trainer_free(r->trainer);
    free(r->trainer);
}

#define GAN_FLOP_NOTE "conv and linear layers, forward and backward"
static const workload workloads[] = {
    {"sgemm", "C = A B, square n = 1024, row-major", "2 n^3", 20, 3, 0, sgemm_setup, sgemm_step,
     sgemm_teardown},
    {"dcgan-28", "DCGAN-28 D + G step, width 64, BCE, Adam", GAN_FLOP_NOTE, 20, 3, 64,
     dcgan28_setup, gan_step, gan_teardown},
    {"wgangp-28", "DCGAN-28 step, no BN in D, WGAN loss + GP 10, Adam", GAN_FLOP_NOTE, 10, 2, 64,
     wgangp28_setup, gan_step, gan_teardown},
    {"mlp-ring", "3 x 128 ReLU MLP GAN on 2-D points, z 256, BCE, Adam", GAN_FLOP_NOTE, 200, 20,
     512, mlp_ring_setup, gan_step, gan_teardown},
    {"stylegan2-32", "configs/stylegan2-fmnist.ini's trainer step at 32x32", NULL, 10, 2, 32,
     stylegan2_32_setup, recipe_step, recipe_teardown},
    {"resnet-32", "configs/sagan-fmnist.ini's trainer step (resnet at 32x32)", NULL, 10, 2, 64,
     resnet_32_setup, recipe_step, recipe_teardown},
    {"pacgan-grid", "configs/pacgan-grid.ini's trainer step (PacGAN4: 100 packs of 4)", NULL, 200,
     20, 400, pacgan_grid_setup, recipe_step, recipe_teardown},
};
#define N_WORKLOADS (sizeof workloads / sizeof workloads[0])

/* ---- Command line ------------------------------------------------------------------------ */

typedef struct {
    const workload *w;
    long long steps, warmup, batch, threads;  /* -1: not given */
    long long unrolled;                       /* -1: not given */
    bool surrogate;
    const char *precision;                    /* NULL: not given (fp32) */
} bench_args;

static void help(void *ctx) {
    (void)ctx;
    printf("usage: gantry bench WORKLOAD [--steps N] [--warmup N] [--batch N] [--threads N]\n"
           "                    [--unrolled K [--surrogate]] [--precision fp32|bf16]\n\n"
           "Runs warm-up steps, then timed steps, and prints the median time per step, steps/s,\n"
           "model GFLOP/s and peak RSS; the last line is one JSON object.\n\n"
           "workloads (default steps / warm-up / batch):\n");
    for (size_t i = 0; i < N_WORKLOADS; i++) {
        const workload *w = &workloads[i];
        printf("  %-12s %s (%lld / %lld / ", w->name, w->summary, w->steps, w->warmup);
        if (w->batch)
            printf("%lld)\n", w->batch);
        else
            printf("none)\n");
    }
    printf("\n  --steps N    timed steps (>= 1; default per workload, above)\n"
           "  --warmup N   untimed steps first (default per workload, above)\n"
           "  --batch N    batch size of the GAN workloads (>= 1; default per workload, above)\n"
           "  --threads N  OpenMP threads (>= 1; default: OMP_NUM_THREADS, else every core: %d)\n"
           "  --unrolled K the GAN step with G's loss through K unrolled D updates (exact;\n"
           "               --surrogate: the first-order variant); GFLOP/s is then not reported\n"
           "  --precision P  fp32 (default) or bf16: matmuls and convolutions read bf16 operands\n"
           "               and sum in FP32, as train.precision (native with AVX512_BF16: %s)\n",
           omp_get_max_threads(), gt_cpu_bf16_native() ? "yes, here" : "no, portable here");
}

/* The workloads' names as "a|b|c", for messages. */
static const char *workload_names(void) {
    static char names[256];
    names[0] = '\0';
    for (size_t i = 0; i < N_WORKLOADS; i++)
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? "|" : "",
                 workloads[i].name);
    return names;
}

static const workload *find_workload(const char *name) {
    for (size_t i = 0; i < N_WORKLOADS; i++)
        if (strcmp(workloads[i].name, name) == 0) return &workloads[i];
    return NULL;
}

/* --steps N and the like: a non-negative integer. */
static int take_count(const gt_opt *o, const char *v) {
    if (gt_cli_parse_i64(v, o->dest)) return 0;
    fprintf(stderr, "gantry bench: %s needs a non-negative integer, got '%s'\n", o->name, v ? v : "");
    return 2;
}

/* WORKLOAD, once. */
static int take_workload(const char *arg, void *ctx) {
    bench_args *a = ctx;
    if (arg[0] == '-') return gt_cli_usage("bench", "unknown option '%s'", arg);
    if (a->w)
        return gt_cli_usage("bench", "one WORKLOAD only ('%s' given, then '%s')", a->w->name, arg);
    if (!(a->w = find_workload(arg)))
        return gt_cli_usage("bench", "unknown workload '%s' (allowed: %s)", arg, workload_names());
    return 0;
}

/* 0: parsed; GT_OPTS_DONE: --help was printed; 2: a usage error (already reported). */
static int parse_args(int argc, char **argv, bench_args *a) {
    *a = (bench_args){NULL, -1, -1, -1, -1, -1, false, NULL};
    const gt_opt opts[] = {
        GT_OPT_FLAG_("--surrogate", &a->surrogate),
        GT_OPT_CALL_("--steps", &a->steps, take_count),
        GT_OPT_CALL_("--warmup", &a->warmup, take_count),
        GT_OPT_CALL_("--batch", &a->batch, take_count),
        GT_OPT_CALL_("--threads", &a->threads, take_count),
        GT_OPT_CALL_("--unrolled", &a->unrolled, take_count),
        GT_OPT_TEXT_("--precision", &a->precision, "fp32 or bf16"),
        GT_OPT_END,
    };
    gt_opts p = {"bench", opts, help, take_workload, a};
    return gt_opts_parse(&p, argc, argv);
}

/* Fills defaults and rejects values the workload cannot run with. */
static int check_args(bench_args *a) {
    const workload *w = a->w;
    if (!w)
        return gt_cli_usage("bench", "needs a WORKLOAD (%s)", workload_names());
    if (a->steps == 0) return gt_cli_usage("bench", "--steps must be at least 1");
    if (a->batch == 0) return gt_cli_usage("bench", "--batch must be at least 1");
    if (a->threads == 0) return gt_cli_usage("bench", "--threads must be at least 1");
    if (a->batch > 0 && !w->batch)
        return gt_cli_usage("bench", "--batch does not apply to %s (it has no batch)", w->name);
    if ((a->unrolled >= 0 || a->surrogate) && (!w->batch || !w->flop_note))
        return gt_cli_usage("bench", "--unrolled and --surrogate apply to the GAN workloads, not %s", w->name);
    if (a->surrogate && a->unrolled < 1)
        return gt_cli_usage("bench", "--surrogate needs --unrolled K with K >= 1");
    if (a->unrolled > 100) return gt_cli_usage("bench", "--unrolled must be at most 100");
    if (a->precision && strcmp(a->precision, "fp32") != 0 && strcmp(a->precision, "bf16") != 0)
        return gt_cli_usage("bench", "--precision must be fp32 or bf16, got '%s'", a->precision);
    if (!a->precision) a->precision = "fp32";
    if (a->unrolled < 0) a->unrolled = 0;
    if (a->steps < 0) a->steps = w->steps;
    if (a->warmup < 0) a->warmup = w->warmup;
    if (a->batch < 0) a->batch = w->batch;
    if (a->threads < 0) a->threads = omp_get_max_threads();
    return 0;
}

/* ---- Timing and report ------------------------------------------------------------------- */

static double now_ms(void) { return 1e3 * gt_monotonic_s(); }

/* The process's CPU time (all its threads), in ms: with one thread, a step's CPU time is what
 * it costs when the machine is shared (time slices lost to other processes do not count). */
static double cpu_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return 1e3 * (double)t.tv_sec + 1e-6 * (double)t.tv_nsec;
}

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* Runs the warm-up, then times each step alone; ms gets the sorted wall times, cpu the sorted
 * CPU times. */
static void time_steps(const workload *w, bench_run *r, const bench_args *a, double *ms,
                       double *cpu) {
    for (long long i = 0; i < a->warmup; i++) w->step(r);
    for (long long i = 0; i < a->steps; i++) {
        double t0 = now_ms(), c0 = cpu_ms();
        w->step(r);
        ms[i] = now_ms() - t0;
        cpu[i] = cpu_ms() - c0;
    }
    qsort(ms, (size_t)a->steps, sizeof *ms, cmp_double);
    qsort(cpu, (size_t)a->steps, sizeof *cpu, cmp_double);
}

static double peak_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0; /* Linux reports kilobytes */
}

static void report(const bench_args *a, const bench_run *r, const double *ms, const double *cpu) {
    double med = ms[a->steps / 2], gflops = r->flop_per_step / (med * 1e6), rss = peak_rss_mb();
    const char *isa = gt_cpu_isa_name(gt_cpu_isa_active());
    bool bf16 = strcmp(a->precision, "bf16") == 0;
    const char *path = bf16 ? (gt_cpu_bf16_native() ? " native" : " portable") : "";
    printf("gantry bench %s: %s, %lld thread%s, %s, %s%s, %lld warm-up + %lld timed steps",
           a->w->name, a->w->summary, a->threads, a->threads == 1 ? "" : "s", isa, a->precision,
           path, a->warmup, a->steps);
    if (a->batch) printf(", batch %lld", a->batch);
    if (r->unroll) printf(", G through %d unrolled D updates (%s)", r->unroll, r->surrogate ? "surrogate" : "exact");
    printf("\n  median %.3f ms/step (min %.3f, max %.3f), %.2f steps/s; CPU %.3f ms/step\n", med,
           ms[0], ms[a->steps - 1], 1e3 / med, cpu[a->steps / 2]);
    char rate[32] = "null";
    if (r->unroll || !a->w->flop_note) {
        printf("  (%s: FLOPs not counted)\n", r->unroll ? "unrolled" : "a recipe's step");
    } else {
        printf("  %.4g GFLOP/step (%s): %.1f GFLOP/s\n", r->flop_per_step * 1e-9, a->w->flop_note,
               gflops);
        snprintf(rate, sizeof rate, "%.2f", gflops);
    }
    double step_mb = (double)gt_arena_high_water(gt_step_arena()) / 1e6;
    printf("  peak RSS %.1f MB; step memory %.1f MB at most (the step arena's peak)\n", rss,
           step_mb);
    printf("{\"workload\": \"%s\", \"impl\": \"gantry\", \"ms_per_step\": %.4f, \"steps\": %lld, "
           "\"warmup\": %lld, \"batch\": %lld, \"threads\": %lld, \"isa\": \"%s\", "
           "\"precision\": \"%s\", \"unrolled\": %d, \"surrogate\": %s, "
           "\"gflop_per_step\": %.6g, \"gflops\": %s, \"peak_rss_mb\": %.1f, "
           "\"step_peak_mb\": %.1f, \"cpu_ms_per_step\": %.4f}\n",
           a->w->name, med, a->steps, a->warmup, a->batch, a->threads, isa, a->precision, r->unroll,
           r->surrogate ? "true" : "false", r->flop_per_step * 1e-9, rate, rss, step_mb,
           cpu[a->steps / 2]);
}

int gt_cmd_bench(int argc, char **argv) {
    bench_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc == GT_OPTS_DONE ? 0 : rc;
    if ((rc = check_args(&a))) return rc;
    omp_set_num_threads((int)a.threads);
    bench_run r = {.batch = a.batch, .unroll = (int)a.unrolled, .surrogate = a.surrogate,
                   .precision = a.precision};
    gt_error err;
    double *ms = malloc((size_t)a.steps * 2 * sizeof *ms);
    if (!ms) return gt_cli_fail("out of memory (%lld step times)", a.steps);
    if (a.w->setup(&r, &err) < 0) {
        a.w->teardown(&r);
        free(ms);
        return gt_cli_fail("bench %s: %s", a.w->name, err.msg);
    }
    gt_precision_set(strcmp(a.precision, "bf16") == 0 ? GT_PRECISION_BF16 : GT_PRECISION_FP32);
    time_steps(a.w, &r, &a, ms, ms + a.steps);
    report(&a, &r, ms, ms + a.steps);
    a.w->teardown(&r);
    free(ms);
    gt_runtime_free();
    return 0;
}
