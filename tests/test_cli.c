/* End-to-end tests of the gantry command line: each case runs the real binary ($GANTRY_BIN, or
 * build/gantry) in its own scratch folder on tiny problems (the ring with small MLPs, and a
 * DCGAN on a folder of 28x28 PNGs written here), and checks exit codes, messages and files:
 * outputs of a run, bit-exact resume (also after Ctrl-C), samples, configuration errors, help,
 * and every bad input of issue 3 (missing or corrupt data, corrupt checkpoints, a mismatched
 * architecture, unwritable folders, a full disk) with nothing lost. */
#include <cjson/cJSON.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_support.h"
#include "test.h"

#define CKPT "checkpoint.safetensors"

static const char *next_line(const char *p) {
    const char *nl = strchr(p, '\n');
    return nl ? nl + 1 : NULL;
}

/* The value of a "key   value" line of `gantry info` into val; false when there is none. */
static bool info_field(const char *text, const char *key, char *val, size_t cap) {
    size_t k = strlen(key);
    for (const char *p = text; p; p = next_line(p)) {
        if (strncmp(p, key, k) != 0 || p[k] != ' ') continue;
        p += k + strspn(p + k, " ");
        size_t n = strcspn(p, "\n");
        snprintf(val, cap, "%.*s", (int)n, p);
        return true;
    }
    return false;
}

/* The step a checkpoint holds, read through `gantry info`; -1 when it cannot be read. */
static long long checkpoint_step(const char *ckpt) {
    cli_args a;
    cli_args_init(&a);
    cli_args_add(&a, "info", ckpt, NULL);
    cli_result r;
    cli_run(&a, &r);
    char val[64];
    long long step = r.code == 0 && info_field(r.text, "step", val, sizeof val) ? atoll(val) : -1;
    CHECK_RUN(&a, &r, step >= 0);
    cli_result_free(&r);
    return step;
}

/* ---- the two tiny problems ---- */

/* One thread: tiny steps under OpenMP's barriers crawl on a busy 2-core machine (20x slower
 * with 2 threads there). The bit-exact tests ask for 2 explicitly (a later override wins), so
 * that the multi-threaded kernels are covered on any machine. */
#define ONE_THREAD "train.threads=1"
#define TWO_THREADS "train.threads=2"

/* The ring recipe with 2 x 16 MLPs, z 8, batch 64: milliseconds per run. The caller may add
 * overrides after these. */
static void ring_args(cli_args *a, const char *out, int steps) {
    cli_args_tiny_ring(a, out);
    cli_args_add(a, "train.log_every=10", "train.sample_every=20", "train.checkpoint_every=0",
                 NULL);
    cli_args_addf(a, "train.steps=%d", steps);
}

/* The default DCGAN recipe at width 4 (batch norm in G and D) on the PNG folder, batch 16 (5
 * batches an epoch), with the EMA from step 2. */
static void dcgan_args(cli_args *a, const char *png, const char *out, int steps) {
    cli_args_init(a);
    cli_args_add(a, "train", "--config", "configs/dcgan-fmnist.ini", "--out", out, "--quiet",
                 "data.dataset=png", "data.resolution=28", "model.g.width=4", "model.d.width=4",
                 "model.g.z_dim=16", "train.batch=16", "train.ema=true", "train.ema_start=2",
                 "train.log_every=1", "train.sample_every=0", "train.sample_n=16",
                 "train.checkpoint_every=0", ONE_THREAD, NULL);
    cli_args_addf(a, "data.path=%s", png);
    cli_args_addf(a, "train.steps=%d", steps);
}

static void resume_args(cli_args *a, const char *run, long long steps) {
    cli_args_init(a);
    cli_args_add(a, "train", "--resume", run, "--quiet", NULL);
    cli_args_addf(a, "train.steps=%lld", steps);
}

static bool scratch(char *dir) {
    bool ok = cli_scratch_new(dir);
    CHECK(ok);
    return ok;
}

/* ---- 1. a run's outputs ---- */

static bool json_number(const cJSON *o, const char *key) {
    return cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, key));
}

/* metrics.jsonl: exactly `lines` JSON objects, one a line, at steps every, 2 every, ... */
static void check_metrics(const char *path, int lines, int every) {
    char *text = cli_read_file(path, NULL);
    CHECK(text != NULL);
    int n = 0;
    for (char *line = text, *end; line && *line; line = end ? end + 1 : NULL, n++) {
        end = strchr(line, '\n');
        CHECK(end != NULL); /* every record ends its line */
        if (end) *end = '\0';
        cJSON *o = cJSON_Parse(line);
        CHECK(cJSON_IsObject(o));
        CHECK(json_number(o, "step") && json_number(o, "d_loss") && json_number(o, "g_loss"));
        const cJSON *step = cJSON_GetObjectItemCaseSensitive(o, "step");
        CHECK(cJSON_IsNumber(step) && step->valuedouble == (double)((n + 1) * every));
        cJSON_Delete(o);
    }
    CHECK(n == lines);
    free(text);
}

static void check_png(const char *path) {
    unsigned w = 0, h = 0;
    CHECK(cli_png_size(path, &w, &h) && w > 0 && h > 0);
}

/* `gantry info` lists both networks' tensors and the step. */
static void check_info(const char *ckpt, const char *step) {
    cli_args a;
    cli_args_init(&a);
    cli_args_add(&a, "info", ckpt, NULL);
    cli_result r;
    cli_run(&a, &r);
    char val[64] = "";
    CHECK_RUN(&a, &r, r.code == 0);
    CHECK_RUN(&a, &r, cli_says(&r, "\n  g.") && cli_says(&r, "\n  d."));
    CHECK_RUN(&a, &r, info_field(r.text, "step", val, sizeof val) && strcmp(val, step) == 0);
    cli_result_free(&r);
}

TEST(train_ring_writes_every_output) {
    char dir[64];
    if (!scratch(dir)) return;
    const char *run = cli_path(dir, "run");
    cli_args a;
    ring_args(&a, run, 40);
    if (cli_run_ok(&a)) {
        char *ini = cli_read_file(cli_path(run, "config.ini"), NULL);
        CHECK(ini && strstr(ini, "[train]") && strstr(ini, "\nsteps = 40\n"));
        free(ini);
        check_metrics(cli_path(run, "metrics.jsonl"), 4, 10);
        check_png(cli_path(run, "samples/step-000020.png"));
        check_png(cli_path(run, "samples/step-000040.png"));
        CHECK(cli_exists(cli_path(run, CKPT)));
        check_info(cli_path(run, CKPT), "40");
    }
    cli_scratch_remove(dir);
}

/* --profile ends the run with the time per op kind and the achieved GFLOP/s. */
TEST(train_profile_prints_op_shares) {
    char dir[64];
    if (!scratch(dir)) return;
    cli_args a;
    ring_args(&a, cli_path(dir, "run"), 10);
    cli_args_add(&a, "--profile", NULL);
    cli_result r;
    cli_run(&a, &r);
    CHECK_RUN(&a, &r, r.code == 0 && cli_says(&r, "profile: 10 steps") && cli_says(&r, "matmul") &&
                          cli_says(&r, "GFLOP/s") && cli_says(&r, "optimizer") &&
                          cli_says(&r, "fwd MB") && cli_says(&r, "step memory: "));
    cli_result_free(&r);
    cli_scratch_remove(dir);
}

/* ---- 2. bit-exact resume ---- */

/* `one` trains dir/whole for `full` steps in one go; `first` trains dir/split for fewer, and a
 * resume takes it to `full`: both checkpoints hold the same bytes. */
static void check_resume_exact(const char *dir, const cli_args *one, const cli_args *first,
                               int full) {
    const char *whole = cli_path(dir, "whole"), *split = cli_path(dir, "split");
    cli_args again;
    resume_args(&again, split, full);
    if (cli_run_ok(one) && cli_run_ok(first) && cli_run_ok(&again))
        CHECK(cli_same_bytes(cli_path(whole, CKPT), cli_path(split, CKPT)));
}

TEST(resume_ring_is_bit_exact) {
    char dir[64];
    if (!scratch(dir)) return;
    cli_args one, first;
    ring_args(&one, cli_path(dir, "whole"), 40);
    ring_args(&first, cli_path(dir, "split"), 20);
    cli_args_add(&one, TWO_THREADS, NULL);
    cli_args_add(&first, TWO_THREADS, NULL);
    check_resume_exact(dir, &one, &first, 40);
    cli_scratch_remove(dir);
}

/* Batch norm's running statistics, the EMA (started at step 2) and the data order across an
 * epoch boundary (5 batches an epoch) all have to come back from the checkpoint. */
TEST(resume_dcgan_is_bit_exact) {
    char dir[64];
    if (!scratch(dir)) return;
    const char *png = cli_png_folder(dir, 80, 28);
    cli_args one, first;
    dcgan_args(&one, png, cli_path(dir, "whole"), 12);
    dcgan_args(&first, png, cli_path(dir, "split"), 6);
    cli_args_add(&one, TWO_THREADS, NULL);
    cli_args_add(&first, TWO_THREADS, NULL);
    check_resume_exact(dir, &one, &first, 12);
    cli_scratch_remove(dir);
}

/* ---- 3. Ctrl-C ---- */

/* Waits up to ms milliseconds for a file to appear while the process runs. */
static bool wait_for(cli_proc *p, const char *path, int ms) {
    for (int t = 0; t < ms && !cli_exists(path) && cli_running(p); t += 10) cli_sleep_ms(10);
    return cli_exists(path) && cli_running(p);
}

/* Starts a long run, interrupts it once it trains; returns the step its checkpoint holds. */
static long long interrupted_run(const char *png, const char *run) {
    cli_args a;
    dcgan_args(&a, png, run, 1000000);
    cli_args_add(&a, TWO_THREADS, NULL); /* the signal may land on any thread */
    cli_proc p = cli_start(&a, -1);
    /* The first metrics line means the signal handler is in place and steps are running. */
    bool started = p.pid > 0 && wait_for(&p, cli_path(run, "metrics.jsonl"), 30000);
    CHECK(started);
    if (started) cli_sleep_ms(700);
    if (p.pid > 0) kill(p.pid, SIGINT);
    cli_result r;
    cli_finish(p, &r);
    CHECK_RUN(&a, &r, r.code == 0);
    CHECK_RUN(&a, &r, cli_says(&r, "--resume") && cli_says(&r, run));
    CHECK_RUN(&a, &r, cli_exists(cli_path(run, CKPT)));
    int code = r.code;
    cli_result_free(&r);
    return code == 0 ? checkpoint_step(cli_path(run, CKPT)) : -1;
}

/* Wherever the interrupt lands, resuming to step k + 5 gives the bytes of k + 5 steps in one. */
TEST(interrupt_saves_and_resumes_exactly) {
    char dir[64];
    if (!scratch(dir)) return;
    const char *png = cli_png_folder(dir, 80, 28), *run = cli_path(dir, "run");
    long long k = interrupted_run(png, run);
    CHECK(k > 0);
    if (k > 0) {
        cli_args again, one;
        resume_args(&again, run, k + 5);
        dcgan_args(&one, png, cli_path(dir, "whole"), (int)(k + 5));
        cli_args_add(&one, TWO_THREADS, NULL);
        if (cli_run_ok(&again) && cli_run_ok(&one))
            CHECK(cli_same_bytes(cli_path(run, CKPT), cli_path(dir, "whole/" CKPT)));
    }
    cli_scratch_remove(dir);
}

/* A run whose time budget ends it before its first log step still writes its report, from a
 * metrics.jsonl made empty at the start (a timing run of gantry ablate --budget-as-steps). */
TEST(time_budget_before_the_first_log_step) {
    char dir[64];
    if (!scratch(dir)) return;
    const char *run = cli_path(dir, "run");
    cli_args a;
    cli_args_tiny_ring(&a, run);
    cli_args_add(&a, "train.steps=100000000", "train.log_every=100000000", "train.max_minutes=0.005",
                 "train.eval_every=0", NULL);
    cli_result r;
    cli_run(&a, &r);
    CHECK_RUN(&a, &r, r.code == 0 && cli_says(&r, "time budget reached at step"));
    cli_result_free(&r);
    CHECK(cli_file_size(cli_path(run, "metrics.jsonl")) == 0 && cli_exists(cli_path(run, "report.html")));
    cli_scratch_remove(dir);
}

/* ---- 4. sample ---- */

static void sample_args(cli_args *a, const char *ckpt, const char *n, const char *out) {
    cli_args_init(a);
    cli_args_add(a, "sample", "--ckpt", ckpt, "--n", n, "--seed", "3", "--out", out, NULL);
}

/* A tiny trained DCGAN (with EMA) in dir/dcgan; returns its checkpoint, or NULL. */
static const char *trained_dcgan(const char *dir) {
    cli_args a;
    dcgan_args(&a, cli_png_folder(dir, 80, 28), cli_path(dir, "dcgan"), 4);
    return cli_run_ok(&a) ? cli_path(dir, "dcgan/" CKPT) : NULL;
}

static const char *trained_ring(const char *dir) {
    cli_args a;
    ring_args(&a, cli_path(dir, "ring"), 20);
    return cli_run_ok(&a) ? cli_path(dir, "ring/" CKPT) : NULL;
}

/* 10 images of 28x28 in a grid of 4 columns and 3 rows, 2-pixel borders around each. */
TEST(sample_png_grid) {
    char dir[64];
    if (!scratch(dir)) return;
    const char *ckpt = trained_dcgan(dir), *out = cli_path(dir, "x.png");
    cli_args a;
    unsigned w = 0, h = 0;
    if (ckpt) {
        sample_args(&a, ckpt, "10", out);
        if (cli_run_ok(&a)) CHECK(cli_png_size(out, &w, &h) && w == 4 * 30 + 2 && h == 3 * 30 + 2);
    }
    cli_scratch_remove(dir);
}

/* A .npy v1.0 file: magic, header (descr, order, shape) padded so data starts at a multiple of
 * 64, then numel float32 values (in [-1, 1] for images). */
static void check_npy(const char *path, const char *shape, size_t numel, bool images) {
    size_t n = 0;
    unsigned char *b = (unsigned char *)cli_read_file(path, &n);
    size_t hlen = b && n >= 10 ? (size_t)(b[8] | b[9] << 8) : 0;
    CHECK(b && n >= 10 && memcmp(b, "\x93NUMPY\x01\x00", 8) == 0);
    CHECK((10 + hlen) % 64 == 0 && n == 10 + hlen + numel * sizeof(float));
    if (b && n == 10 + hlen + numel * sizeof(float)) {
        char header[512], want[128];
        snprintf(header, sizeof header, "%.*s", (int)hlen, (const char *)b + 10);
        snprintf(want, sizeof want, "'shape': %s", shape);
        CHECK(strstr(header, "'descr': '<f4'") && strstr(header, "'fortran_order': False"));
        CHECK(strstr(header, want) != NULL);
        for (size_t i = 0; images && i < numel; i++) {
            float v;
            memcpy(&v, b + 10 + hlen + i * sizeof v, sizeof v);
            if (!(v >= -1.0f && v <= 1.0f)) {
                CHECK(v >= -1.0f && v <= 1.0f);
                break;
            }
        }
    }
    free(b);
}

TEST(sample_npy_images_and_points) {
    char dir[64];
    if (!scratch(dir)) return;
    const char *img = trained_dcgan(dir), *pts = trained_ring(dir);
    cli_args a;
    if (img) {
        sample_args(&a, img, "10", cli_path(dir, "x.npy"));
        if (cli_run_ok(&a)) check_npy(cli_path(dir, "x.npy"), "(10, 1, 28, 28)", 10 * 28 * 28, true);
        /* the same seed draws the same samples */
        sample_args(&a, img, "10", cli_path(dir, "y.npy"));
        if (cli_run_ok(&a)) CHECK(cli_same_bytes(cli_path(dir, "x.npy"), cli_path(dir, "y.npy")));
    }
    if (pts) {
        sample_args(&a, pts, "5", cli_path(dir, "p.npy"));
        if (cli_run_ok(&a)) check_npy(cli_path(dir, "p.npy"), "(5, 2)", 10, false);
    }
    cli_scratch_remove(dir);
}

TEST(sample_rejects_bad_options) {
    char dir[64];
    if (!scratch(dir)) return;
    const char *ckpt = trained_ring(dir), *npy = cli_path(dir, "x.npy");
    cli_args a;
    if (ckpt) {
        const char *bad_n[] = {"0", "-3", "abc", "1e3", "2000000"};
        for (size_t i = 0; i < sizeof bad_n / sizeof bad_n[0]; i++) {
            sample_args(&a, ckpt, bad_n[i], npy);
            cli_run_fails_saying(&a, "--n", NULL);
        }
        sample_args(&a, ckpt, "4", cli_path(dir, "x.jpg"));
        cli_run_fails_saying(&a, "--out", "x.jpg", NULL);
        sample_args(&a, ckpt, "4", npy);
        cli_args_add(&a, "--bogus", NULL);
        cli_run_fails_saying(&a, "--bogus", NULL);
        CHECK(!cli_exists(npy) && !cli_exists(cli_path(dir, "x.jpg")));
    }
    cli_scratch_remove(dir);
}

/* ---- 5. configuration ---- */

TEST(config_defaults_lists_every_section) {
    static const char *sections[] = {"[data]", "[model.g]", "[model.d]", "[loss]",
                                     "[optim.g]", "[optim.d]", "[train]"};
    cli_args a;
    cli_args_init(&a);
    cli_args_add(&a, "config", "--defaults", NULL);
    cli_result r;
    cli_run(&a, &r);
    CHECK_RUN(&a, &r, r.code == 0);
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++) {
        char line[32];
        snprintf(line, sizeof line, "\n%s\n", sections[i]);
        CHECK_RUN(&a, &r, cli_says(&r, line));
    }
    cli_result_free(&r);
}

/* `gantry train --config FILE` with FILE holding text fails naming each expected string;
 * the run folder is not even created. */
static void check_bad_ini(const char *dir, const char *text, const char *expect1,
                          const char *expect2) {
    const char *ini = cli_path(dir, "bad.ini"), *run = cli_path(dir, "run");
    CHECK(cli_write_file(ini, text, strlen(text)));
    cli_args a;
    cli_args_init(&a);
    cli_args_add(&a, "train", "--config", ini, "--out", run, NULL);
    cli_run_fails_saying(&a, expect1, expect2, NULL);
    CHECK(!cli_exists(run));
}

TEST(config_file_errors_name_file_line_and_key) {
    char dir[64];
    if (!scratch(dir)) return;
    const char *at4 = cli_path(dir, "bad.ini:4");
    check_bad_ini(dir, "; tiny\n[train]\nsteps = 10\nbogus_key = 3\n", at4, "bogus_key");
    check_bad_ini(dir, "; tiny\n[data]\ndataset = ring\n[trainer]\nsteps = 10\n", at4,
                  "[trainer]");
    check_bad_ini(dir, "; tiny\n[train]\nsteps = 10\nbatch = zero\n", at4, "batch");
    check_bad_ini(dir, "; tiny\n[train]\nsteps = 10\nbatch = 0\n", at4, ">= 1");
    cli_scratch_remove(dir);
}

TEST(config_command_line_errors_name_key_and_range) {
    cli_args a;
    cli_args_init(&a);
    cli_args_add(&a, "config", "optim.g.lr=-1", NULL);
    cli_run_fails_saying(&a, "[optim.g] lr", "'-1'", "> 0", NULL);
    cli_args_init(&a);
    cli_args_add(&a, "config", "train.bogus=1", NULL);
    cli_run_fails_saying(&a, "bogus", "[train]", NULL);
    cli_args_init(&a);
    cli_args_add(&a, "config", "model.g.norm=group", NULL);
    cli_run_fails_saying(&a, "norm", "batch|layer|none", NULL);
}

/* ---- 6. help ---- */

/* `gantry CMD --help`: exit 0 and the usage with each option. */
static void check_help(const char *cmd, const char *const *options) {
    cli_args a;
    cli_args_init(&a);
    cli_args_add(&a, cmd, "--help", NULL);
    cli_result r;
    cli_run(&a, &r);
    char usage[64];
    snprintf(usage, sizeof usage, "usage: gantry %s", cmd);
    CHECK_RUN(&a, &r, r.code == 0 && cli_says(&r, usage));
    for (int i = 0; options[i]; i++) CHECK_RUN(&a, &r, cli_says(&r, options[i]));
    cli_result_free(&r);
}

TEST(help_on_every_command) {
    static const char *train[] = {"--config", "--out", "--resume", "--quiet", "--profile",
                                  "section.key=value", NULL};
    static const char *sample[] = {"--ckpt", "--out", "--n", "--seed", "default 64", NULL};
    static const char *info[] = {"FILE", NULL};
    static const char *config[] = {"--defaults", "--config", NULL};
    static const char *bench[] = {"sgemm", "dcgan-28", "wgangp-28", "mlp-ring", "pacgan-grid",
                                  "--unrolled", NULL};
    static const char *top[] = {"train", "sample", "info", "config", "bench", NULL};
    check_help("train", train);
    check_help("sample", sample);
    check_help("info", info);
    check_help("config", config);
    check_help("bench", bench);
    cli_args a;
    cli_args_init(&a);
    cli_args_add(&a, "--help", NULL);
    cli_result r;
    cli_run(&a, &r);
    CHECK_RUN(&a, &r, r.code == 0 && cli_says(&r, "usage: gantry COMMAND"));
    for (int i = 0; top[i]; i++) CHECK_RUN(&a, &r, cli_says(&r, top[i]));
    cli_result_free(&r);
    cli_args_init(&a);
    cli_args_add(&a, "frobnicate", NULL);
    cli_run_fails_saying(&a, "frobnicate", NULL);
}

/* A recipe workload runs the recipe's trainer step; an unknown workload's error lists the
 * workloads (from the same table as the help). */
TEST(bench_runs_a_recipe_workload) {
    cli_args a;
    cli_args_init(&a);
    cli_args_add(&a, "bench", "pacgan-grid", "--steps", "2", "--warmup", "1", "--threads", "1", NULL);
    cli_result r;
    cli_run(&a, &r);
    CHECK_RUN(&a, &r, r.code == 0 && cli_says(&r, "\"workload\": \"pacgan-grid\"") &&
                          cli_says(&r, "\"batch\": 400"));
    cli_result_free(&r);
    cli_args_init(&a);
    cli_args_add(&a, "bench", "pacgan", NULL);
    cli_run_fails_saying(&a, "unknown workload 'pacgan'", "resnet-32|pacgan-grid", NULL);
}

/* Points far from every mode: no high-quality point, so the reverse KL is undefined and the
 * JSON line says null (JSON has no NaN; gantry ablate must be able to read it). */
TEST(eval_points_without_quality_prints_null) {
    char dir[64];
    if (!scratch(dir)) return;
    const char *npy = cli_path(dir, "far.npy");
    char header[128];
    int hl = snprintf(header, sizeof header, "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 2), }");
    while ((hl + 10 + 1) % 64) header[hl++] = ' ';
    header[hl++] = '\n';
    unsigned char buf[256];
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)(hl & 0xff);
    buf[9] = (unsigned char)(hl >> 8);
    memcpy(buf + 10, header, (size_t)hl);
    float pts[8] = {9, 9, -9, 9, 9, -9, -9, -9};
    memcpy(buf + 10 + hl, pts, sizeof pts);
    bool ok = cli_write_file(npy, buf, 10 + (size_t)hl + sizeof pts);
    CHECK(ok);
    cli_args a;
    cli_args_init(&a);
    cli_args_add(&a, "eval", "--samples", npy, "--mixture", "ring", NULL);
    cli_result r;
    cli_run(&a, &r);
    CHECK_RUN(&a, &r, r.code == 0 && cli_says(&r, "\"modes_covered\": 0") &&
                          cli_says(&r, "\"reverse_kl\": null}"));
    cli_result_free(&r);
    cli_scratch_remove(dir);
}

/* 32x32 images (Fashion-MNIST padded by data.resolution = 32): eval scores their centre 28x28. */
TEST(eval_reads_padded_32x32_images) {
    char dir[64];
    if (!scratch(dir)) return;
    const char *npy = cli_path(dir, "pad.npy");
    enum { N = 64, PX = 32 * 32 };
    char header[128];
    int hl = snprintf(header, sizeof header, "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, 1, 32, 32), }", N);
    while ((hl + 10 + 1) % 64) header[hl++] = ' ';
    header[hl++] = '\n';
    size_t len = 10 + (size_t)hl + (size_t)N * PX * sizeof(float);
    unsigned char *buf = malloc(len);
    CHECK(buf != NULL);
    if (!buf) return;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)(hl & 0xff);
    buf[9] = (unsigned char)(hl >> 8);
    memcpy(buf + 10, header, (size_t)hl);
    float *px = (float *)(void *)(buf + 10 + hl);
    for (int i = 0; i < N * PX; i++) {
        float v = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
        memcpy(&px[i], &v, sizeof v);
    }
    bool ok = cli_write_file(npy, buf, len);
    free(buf);
    CHECK(ok);
    cli_args a;
    cli_args_init(&a);
    cli_args_add(&a, "eval", "--samples", npy, NULL);
    cli_result r;
    cli_run(&a, &r);
    CHECK_RUN(&a, &r, r.code == 0 && cli_says(&r, "\"n\": 64") && cli_says(&r, "\"fid\": "));
    cli_result_free(&r);
    cli_scratch_remove(dir);
}

/* ---- 6b. MNIST-format digits: a feature network of one's own ---- */

/* An MNIST-format folder (raw IDX) of n images per split: class k is a bright bar in row band
 * k with a little per-image noise, so a classifier can learn the classes in one epoch. */
static bool write_digits_split(const char *dir, const char *prefix, int n) {
    size_t px = 28 * 28, len = 16 + (size_t)n * px;
    unsigned char *img = calloc(len, 1), lab[8 + 2000];
    if (!img || n > 2000) {
        free(img);
        return false;
    }
    const unsigned char ih[16] = {0, 0, 8, 3, 0, 0, (unsigned char)(n >> 8), (unsigned char)n, 0, 0, 0, 28, 0, 0, 0, 28};
    const unsigned char lh[8] = {0, 0, 8, 1, 0, 0, (unsigned char)(n >> 8), (unsigned char)n};
    memcpy(img, ih, 16);
    memcpy(lab, lh, 8);
    for (int i = 0; i < n; i++) {
        int k = i % 10;
        lab[8 + i] = (unsigned char)k;
        unsigned char *p = img + 16 + (size_t)i * px;
        for (int r = 2 + 2 * k; r < 4 + 2 * k; r++)
            for (int c = 4; c < 24; c++) p[r * 28 + c] = (unsigned char)(200 + (i * 7 + c) % 50);
    }
    char ip[600], lp[600];
    snprintf(ip, sizeof ip, "%s/%s-images-idx3-ubyte", dir, prefix);
    snprintf(lp, sizeof lp, "%s/%s-labels-idx1-ubyte", dir, prefix);
    bool ok = cli_write_file(ip, img, len) && cli_write_file(lp, lab, 8 + (size_t)n);
    free(img);
    return ok;
}

/* Digits have no shipped feature network: gantry classifier train makes one, a run with
 * data.dataset = mnist evaluates with it (train.eval_model), and gantry eval --ckpt picks the
 * run's network and reference split by itself. */
TEST(digits_evaluate_with_their_own_classifier) {
    char dir[64];
    if (!scratch(dir)) return;
    const char *digits = cli_path(dir, "digits"), *model = cli_path(dir, "digits.safetensors");
    const char *run = cli_path(dir, "run");
    bool ok = cli_mkdir(digits) && write_digits_split(digits, "train", 600) &&
              write_digits_split(digits, "t10k", 300);
    CHECK(ok);
    cli_args a;
    cli_args_init(&a);
    cli_args_add(&a, "classifier", "train", "--data", digits, "--out", model, "--epochs", "1", NULL);
    if (ok && cli_run_ok(&a)) {
        dcgan_args(&a, digits, run, 4);
        cli_args_add(&a, "data.dataset=mnist", "train.eval_every=2", "train.eval_n=300", NULL);
        cli_args_addf(&a, "train.eval_model=%s", model);
        if (cli_run_ok(&a)) {
            char *m = cli_read_file(cli_path(run, "metrics.jsonl"), NULL);
            CHECK(m && strstr(m, "\"fid\": ") && strstr(m, "\"classes_covered\": "));
            free(m);
            cli_args e;
            cli_args_init(&e);
            cli_args_add(&e, "eval", "--ckpt", cli_path(run, CKPT), "--n", "300", NULL);
            cli_result r;
            cli_run(&e, &r);
            CHECK_RUN(&e, &r, r.code == 0 && cli_says(&r, model) && cli_says(&r, "FID") &&
                                  cli_says(&r, "N = 300"));
            cli_result_free(&r);
        }
    }
    cli_scratch_remove(dir);
}

/* ---- 7. bad inputs: a clear message, a non-zero exit, nothing lost ---- */

TEST(missing_dataset_names_package_and_path) {
    char dir[64];
    if (!scratch(dir)) return;
    cli_args a;
    cli_args_init(&a);
    cli_args_add(&a, "train", "--config", "configs/dcgan-fmnist.ini", "--out", cli_path(dir, "run"),
                 "data.dataset=fashion-mnist", "data.path=/nonexistent/fashion-mnist", NULL);
    cli_run_fails_saying(&a, "dataset-fashion-mnist", "/nonexistent/fashion-mnist", NULL);
    cli_scratch_remove(dir);
}

static void put_be32(unsigned char *p, unsigned v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (24 - 8 * i));
}

/* An MNIST folder whose images file promises 100 images of 28x28 but holds 1000 pixels. */
static const char *make_truncated_idx(const char *dir) {
    const char *idx = cli_path(dir, "idx");
    unsigned char images[16 + 1000] = {0}, labels[8 + 100] = {0};
    put_be32(images, 0x803);
    put_be32(images + 4, 100);
    put_be32(images + 8, 28);
    put_be32(images + 12, 28);
    put_be32(labels, 0x801);
    put_be32(labels + 4, 100);
    CHECK(cli_mkdir(idx));
    CHECK(cli_write_file(cli_path(idx, "train-images-idx3-ubyte"), images, sizeof images));
    CHECK(cli_write_file(cli_path(idx, "train-labels-idx1-ubyte"), labels, sizeof labels));
    return idx;
}

TEST(truncated_idx_names_the_file) {
    char dir[64];
    if (!scratch(dir)) return;
    const char *idx = make_truncated_idx(dir);
    cli_args a;
    cli_args_init(&a);
    cli_args_add(&a, "train", "--config", "configs/dcgan-fmnist.ini", "--out", cli_path(dir, "run"),
                 "data.dataset=mnist", NULL);
    cli_args_addf(&a, "data.path=%s", idx);
    cli_run_fails_saying(&a, cli_path(idx, "train-images-idx3-ubyte"), NULL);
    cli_scratch_remove(dir);
}

/* Cuts a file to half its size. */
static bool truncate_half(const char *path) {
    size_t n = 0;
    char *b = cli_read_file(path, &n);
    bool ok = b && cli_write_file(path, b, n / 2);
    free(b);
    return ok;
}

TEST(truncated_png_names_the_file) {
    char dir[64];
    if (!scratch(dir)) return;
    const char *png = cli_png_folder(dir, 80, 28), *bad = cli_path(png, "img-0040.png");
    CHECK(truncate_half(bad));
    cli_args a;
    dcgan_args(&a, png, cli_path(dir, "run"), 4);
    cli_run_fails_saying(&a, bad, NULL);
    cli_scratch_remove(dir);
}

/* Resuming from (and inspecting) a checkpoint cut in half fails naming it, and leaves it be. */
TEST(truncated_checkpoint_on_resume) {
    char dir[64];
    if (!scratch(dir)) return;
    const char *ckpt = trained_ring(dir), *run = cli_path(dir, "ring");
    size_t n = 0;
    char *half = ckpt && truncate_half(ckpt) ? cli_read_file(ckpt, &n) : NULL;
    CHECK(half != NULL);
    if (half) {
        cli_args a;
        resume_args(&a, run, 40);
        cli_run_fails_saying(&a, ckpt, NULL);
        cli_args_init(&a);
        cli_args_add(&a, "info", ckpt, NULL);
        cli_run_fails_saying(&a, ckpt, NULL);
        CHECK(cli_has_bytes(ckpt, half, n));
    }
    free(half);
    cli_scratch_remove(dir);
}

/* Noise, and a plausible header length followed by text that is not JSON. */
TEST(garbage_checkpoint_for_sample) {
    char dir[64];
    if (!scratch(dir)) return;
    unsigned char noise[4096];
    unsigned s = 1;
    for (size_t i = 0; i < sizeof noise; i++) {
        s = s * 1103515245u + 12345u;
        noise[i] = (unsigned char)(s >> 16);
    }
    static const char not_json[] = "\x18\0\0\0\0\0\0\0{\"__metadata__\": [1, 2, ";
    const char *ckpt = cli_path(dir, "garbage.safetensors"), *out = cli_path(dir, "x.png");
    cli_args a;
    sample_args(&a, ckpt, "4", out);
    CHECK(cli_write_file(ckpt, noise, sizeof noise));
    cli_run_fails_saying(&a, ckpt, NULL);
    CHECK(cli_write_file(ckpt, not_json, sizeof not_json - 1));
    cli_run_fails_saying(&a, ckpt, NULL);
    CHECK(!cli_exists(out));
    cli_scratch_remove(dir);
}

/* The text between `open` and the next `close` after it, or "" when absent. */
static void between(const char *text, const char *open, char close, char *out, size_t cap) {
    const char *p = strstr(text, open);
    const char *q = p ? strchr(p + strlen(open), close) : NULL;
    int n = q ? (int)(q - p - strlen(open)) : 0;
    snprintf(out, cap, "%.*s", n, q ? p + strlen(open) : "");
}

/* `gantry info`'s shape of a tensor ("[16, 100, 7, 7]") as the error writes it ("16x100x7x7"). */
static void info_shape(const char *info, const char *tensor, char *out, size_t cap) {
    char key[160], shape[96];
    snprintf(key, sizeof key, "\n  %s ", tensor);
    between(info, key, ']', shape, sizeof shape);
    const char *s = strchr(shape, '[');
    size_t n = 0;
    for (s = s ? s + 1 : ""; *s && n + 1 < cap; s++)
        if (*s != ' ') out[n++] = *s == ',' ? 'x' : *s;
    out[n] = '\0';
}

/* The error names a tensor of G, the checkpoint's shape of it (as `gantry info` shows) and the
 * shape the new width needs, which differs. */
static void check_mismatch_message(const cli_args *a, const cli_result *r, const char *ckpt) {
    char tensor[128], got[96], want[96], stored[96];
    between(r->text, "tensor '", '\'', tensor, sizeof tensor);
    between(r->text, "has shape [", ']', got, sizeof got);
    between(r->text, "needs [", ']', want, sizeof want);
    cli_args i;
    cli_args_init(&i);
    cli_args_add(&i, "info", ckpt, NULL);
    cli_result info;
    cli_run(&i, &info);
    info_shape(info.text, tensor, stored, sizeof stored);
    CHECK_RUN(a, r, strncmp(tensor, "g.", 2) == 0 && *got && *want && strcmp(got, want) != 0);
    CHECK_RUN(a, r, strcmp(got, stored) == 0);
    cli_result_free(&info);
}

TEST(architecture_mismatch_on_resume) {
    char dir[64];
    if (!scratch(dir)) return;
    const char *ckpt = trained_dcgan(dir), *run = cli_path(dir, "dcgan");
    static const char *kept[] = {CKPT, "config.ini", "metrics.jsonl"};
    char *before[3] = {NULL, NULL, NULL};
    size_t len[3] = {0, 0, 0};
    for (int i = 0; ckpt && i < 3; i++) before[i] = cli_read_file(cli_path(run, kept[i]), &len[i]);
    if (ckpt) {
        cli_args a;
        resume_args(&a, run, 8);
        cli_args_add(&a, "model.g.width=8", NULL);
        cli_result r;
        cli_run(&a, &r);
        CHECK_RUN(&a, &r, r.code != 0 && r.code < 128 && cli_says(&r, ckpt));
        check_mismatch_message(&a, &r, ckpt);
        cli_result_free(&r);
    }
    /* The failed resume leaves the run folder as it was: the checkpoint, and also the record
     * of its configuration and its log. */
    for (int i = 0; ckpt && i < 3; i++) {
        bool same = before[i] && cli_has_bytes(cli_path(run, kept[i]), before[i], len[i]);
        if (!same) fprintf(stderr, "  %s changed\n", kept[i]);
        CHECK(same);
    }
    for (int i = 0; i < 3; i++) free(before[i]);
    cli_scratch_remove(dir);
}

TEST(output_folder_that_cannot_be_made) {
    char dir[64];
    if (!scratch(dir)) return;
    const char *file = cli_path(dir, "file"), *under = cli_path(dir, "file/run");
    CHECK(cli_write_file(file, "x", 1));
    cli_args a;
    ring_args(&a, "/proc/gantry-test", 4);
    cli_run_fails_saying(&a, "/proc/gantry-test", NULL);
    ring_args(&a, under, 4);
    cli_run_fails_saying(&a, under, NULL);
    const char *ckpt = trained_ring(dir), *png = cli_path(dir, "file/x.npy");
    if (ckpt) {
        sample_args(&a, ckpt, "4", png);
        cli_run_fails_saying(&a, png, NULL);
    }
    cli_scratch_remove(dir);
}

/* The ring at width 64: a checkpoint of ~110 KB, far larger than the other files of the run,
 * so that a file-size limit of half of it lets config.ini, metrics and samples through and
 * stops the checkpoint. */
static const char *finished_wide_ring(const char *dir) {
    cli_args a;
    ring_args(&a, cli_path(dir, "ring"), 20);
    cli_args_add(&a, "model.g.width=64", "model.d.width=64", NULL);
    return cli_run_ok(&a) ? cli_path(dir, "ring/" CKPT) : NULL;
}

/* Resuming a finished run for more steps on a "full disk" (RLIMIT_FSIZE; the CLI ignores
 * SIGXFSZ so the write fails with EFBIG): the error names the checkpoint, the earlier one is
 * intact and usable, and no temporary file is left behind. */
TEST(full_disk_keeps_the_earlier_checkpoint) {
    char dir[64];
    if (!scratch(dir)) return;
    const char *ckpt = finished_wide_ring(dir), *run = cli_path(dir, "ring");
    size_t n = 0;
    char *before = ckpt ? cli_read_file(ckpt, &n) : NULL;
    if (before) {
        cli_args a;
        resume_args(&a, run, 40);
        cli_result r;
        cli_finish(cli_start(&a, (long long)n / 2), &r);
        CHECK_RUN(&a, &r, r.code != 0 && r.code < 128 && cli_says(&r, ckpt));
        cli_result_free(&r);
        CHECK(cli_has_bytes(ckpt, before, n));
        CHECK(cli_count_names(run, ".tmp") == 0);
        CHECK(cli_count_names(cli_path(run, "samples"), ".tmp") == 0);
        CHECK(cli_run_ok(&a)); /* with room again, the run goes on from the earlier checkpoint */
    }
    free(before);
    cli_scratch_remove(dir);
}

int main(void) {
    RUN_TESTS(T(train_ring_writes_every_output), T(resume_ring_is_bit_exact),
              T(resume_dcgan_is_bit_exact), T(interrupt_saves_and_resumes_exactly), T(time_budget_before_the_first_log_step),
              T(train_profile_prints_op_shares), T(sample_png_grid),
              T(digits_evaluate_with_their_own_classifier), T(eval_points_without_quality_prints_null),
              T(bench_runs_a_recipe_workload),
              T(eval_reads_padded_32x32_images), T(sample_npy_images_and_points), T(sample_rejects_bad_options),
              T(config_defaults_lists_every_section), T(config_file_errors_name_file_line_and_key),
              T(config_command_line_errors_name_key_and_range), T(help_on_every_command),
              T(missing_dataset_names_package_and_path), T(truncated_idx_names_the_file),
              T(truncated_png_names_the_file), T(truncated_checkpoint_on_resume),
              T(garbage_checkpoint_for_sample), T(architecture_mismatch_on_resume),
              T(output_folder_that_cannot_be_made), T(full_disk_keeps_the_earlier_checkpoint));
}
