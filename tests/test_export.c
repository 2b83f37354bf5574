/* gantry export --format onnx checked by an independent runtime: for every generator family
 * (tiny models trained here once, on Fashion-MNIST or the ring), the exported file passes
 * Debian's onnx checker (full_check), and ONNX Runtime (onnxruntime-web under Node,
 * tests/onnx_run.js) gives the samples `gantry sample --latents` gives for the same latents,
 * within the float32 noise floor measured for that model (tolerance() says how). Also
 * StyleGAN2's truncation input and noise options; the web page (export --format web) in headless
 * Chromium (tests/web_check.js): drawn, changed by each control, and the same samples for fixed
 * latents; and the errors of export and of sample's fixed inputs. Needs node, tests/npm's
 * onnxruntime-web (npm install --prefix tests/npm), /usr/bin/python3 with python3-onnx and
 * chromium; .ci/run installs them. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli_support.h"
#include "io/image.h"
#include "test.h"

#define CKPT "checkpoint.safetensors"
#define FMNIST "/usr/share/datasets/fashion-mnist"
#define N_SAMPLES 6
#define PYTHON "/usr/bin/python3"
/* float32's unit roundoff 2^-24 */
#define UNIT_ROUNDOFF 5.9604644775390625e-08

/* Every run: one thread, nothing written but the final checkpoint. */
#define QUIET_RUN "train.sample_every=0 train.eval_every=0 train.checkpoint_every=0 train.threads=1"

typedef struct {
    const char *name;
    const char *config;     /* NULL: the tiny ring (cli_args_tiny_ring) */
    const char *overrides;
    int z_dim, classes;
} family_case;

/* One case per family and per layer kind the exporter writes: batch, layer and conditional
 * batch norm, spectral norm, self-attention, transposed convs, residual blocks,
 * progressive growing mid-fade (blend and upsampling to the data's side), StyleGAN2. */
static const family_case cases[] = {
    {"mlp-ring-points", NULL, "train.steps=20 train.ema=true", 8, 0},
    {"mlp-images-batchnorm", "configs/dcgan-fmnist.ini",
     "model.g.family=mlp model.g.depth=2 model.g.width=16 model.g.activation=leaky_relu "
     "model.g.norm=batch model.g.z_dim=8 model.d.width=4 train.batch=8 train.steps=3 "
     "train.ema=true train.ema_start=1", 8, 0},
    {"dcgan-conditional-batchnorm", "configs/dcgan-fmnist.ini",
     "train.conditional=true model.g.width=4 model.d.width=4 model.g.z_dim=16 train.batch=16 "
     "train.steps=3 train.ema=true train.ema_start=2", 16, 10},
    {"dcgan-spectral-attention-layernorm", "configs/dcgan-fmnist.ini",
     "model.g.spectral_norm=true model.g.sn_iterations=1 model.g.attention=7 model.g.norm=layer "
     "model.g.width=4 model.d.width=4 model.g.z_dim=16 train.batch=8 train.steps=3", 16, 0},
    {"resnet-sagan-conditional", "configs/sagan-fmnist.ini",
     "model.g.width=4 model.d.width=8 model.g.z_dim=8 train.batch=4 train.ema_start=1 "
     "train.steps=3", 8, 10},
    {"progressive-fading", "configs/progan-fmnist.ini",
     "model.g.width=8 model.d.width=8 model.g.z_dim=8 progressive.batch=4:4,8:4,16:4,32:4 "
     "progressive.stable_images=8 progressive.fade_images=16 train.ema_start=1 train.steps=5", 8, 0},
    {"stylegan2", "configs/stylegan2-fmnist.ini",
     "model.g.width=4 model.d.width=4 model.g.z_dim=8 train.batch=4 train.ema_start=1 "
     "train.steps=3", 8, 0},
};
#define N_CASES ((int)(sizeof cases / sizeof cases[0]))
#define STYLEGAN2_CASE (N_CASES - 1)
#define RESNET_CASE 4

/* ---- the checkpoints, trained once per binary ---- */

static char scratch[64];
static bool scratch_made, case_tried[N_CASES], case_trained[N_CASES];

static const char *scratch_dir(void) {
    if (!scratch_made) scratch_made = cli_scratch_new(scratch);
    return scratch_made ? scratch : NULL;
}

static bool fmnist_present(void) { return access(FMNIST "/train-images-idx3-ubyte.gz", R_OK) == 0; }

/* The checkpoint of case i (trained on first use), or NULL after a failed check. */
static const char *checkpoint_of(int i) {
    char run[96];
    snprintf(run, sizeof run, "%s/run-%d", scratch_dir(), i);
    static char paths[N_CASES][128];
    snprintf(paths[i], sizeof paths[i], "%s/" CKPT, run);
    if (!case_tried[i]) {
        case_tried[i] = true;
        cli_args a;
        if (cases[i].config) {
            cli_args_init(&a);
            cli_args_add(&a, "train", "--config", cases[i].config, "--out", run, "--quiet", NULL);
        } else {
            cli_args_tiny_ring(&a, run);
        }
        cli_args_add_words(&a, cases[i].overrides);
        cli_args_add_words(&a, QUIET_RUN);
        case_trained[i] = cli_run_ok(&a);
    }
    return case_trained[i] ? paths[i] : NULL;
}

/* ---- running the tools ---- */

/* Runs a shell command with its output in dir/tool.log; the exit status (-1: no status). */
static int run_tool(const char *dir, const char *cmd) {
    char full[4096];
    snprintf(full, sizeof full, "%s >%s/tool.log 2>&1", cmd, dir);
    int rc = system(full);
    return rc != -1 && WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void show_tool_log(const char *dir, const char *cmd) {
    char *log = cli_read_file(cli_path(dir, "tool.log"), NULL);
    fprintf(stderr, "  $ %s\n%s\n", cmd, log ? log : "(no output)");
    free(log);
}

/* What is missing for the runtime checks ("" when node, onnxruntime-web and python3-onnx are
 * all there), found by running each once. */
static const char *missing_tools(const char *dir) {
    static char why[256];
    if (run_tool(dir, "node --version") != 0)
        return "node not installed (Debian: apt-get install nodejs npm)";
    if (run_tool(dir, "node -e \"require(require.resolve('onnxruntime-web', {paths: ['tests/npm']}))\"") != 0)
        return "onnxruntime-web not installed (npm install --prefix tests/npm)";
    if (run_tool(dir, PYTHON " -c 'import onnx'") != 0)
        return "python3-onnx not installed (apt-get install python3-onnx)";
    why[0] = '\0';
    return why;
}

/* Whether this gantry writes ONNX at all (a build without protobuf-c says what to install). */
static bool exporter_built(const char *ckpt, const char *out) {
    cli_args a;
    cli_args_init(&a);
    cli_args_add(&a, "export", "--ckpt", ckpt, "--format", "onnx", "--out", out, NULL);
    cli_result r;
    cli_run(&a, &r);
    bool without = cli_says(&r, "built without ONNX support");
    if (without)
        CHECK_RUN(&a, &r, r.code != 0 && cli_says(&r, "libprotobuf-c-dev") &&
                              cli_says(&r, "protobuf-c-compiler"));
    else
        CHECK_RUN(&a, &r, r.code == 0);
    cli_result_free(&r);
    return !without;
}

/* ---- fixed inputs ---- */

/* n x z_dim standard normal latents from a fixed xorshift stream (Box-Muller), as .npy. */
static bool write_latents(const char *path, int n, int z_dim, uint64_t seed) {
    float *z = malloc((size_t)(n * z_dim) * sizeof *z);
    uint64_t s = seed * 2654435761u + 88172645463325252ull;
    for (int i = 0; i < n * z_dim; i++) {
        double u[2];
        for (int k = 0; k < 2; k++) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            u[k] = ((double)(s >> 11) + 0.5) / 9007199254740992.0;
        }
        z[i] = (float)(sqrt(-2 * log(u[0])) * cos(6.283185307179586 * u[1]));
    }
    int64_t shape[2] = {n, z_dim};
    gt_error err;
    bool ok = gt_npy_write(path, z, 2, shape, &err) == 0;
    free(z);
    return ok;
}

/* labels i mod classes, as a float32 .npy [n] */
static bool write_labels(const char *path, int n, int classes) {
    float y[64];
    for (int i = 0; i < n; i++) y[i] = (float)(i % classes);
    int64_t shape[1] = {n};
    gt_error err;
    return gt_npy_write(path, y, 1, shape, &err) == 0;
}

/* The values of a float32 .npy (*count of them), or NULL. */
static float *read_values(const char *path, int64_t *count) {
    int ndim;
    int64_t shape[8];
    gt_error err;
    float *x = gt_npy_read(path, &ndim, shape, &err);
    if (!x) {
        fprintf(stderr, "  %s\n", err.msg);
        return NULL;
    }
    *count = 1;
    for (int i = 0; i < ndim; i++) *count *= shape[i];
    return x;
}

static double max_abs_diff(const float *a, const float *b, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - (double)b[i]));
    return m;
}

static double max_abs(const float *a, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i]));
    return m;
}

/* ---- one comparison ---- */

typedef struct {
    const char *dir;
    const char *ckpt;
    const char *model;       /* the exported file */
    const char *z, *labels;  /* labels NULL: none */
    const char *psi;         /* "--truncation" value and psi input, NULL: 1 */
    const char *node_extra;  /* more onnx_run.js arguments ("" when none) */
} comparison;

/* gantry sample --latents on a backend into out; false after a failed check. */
static bool gantry_sample(const comparison *c, const char *backend, const char *out) {
    cli_args a;
    cli_args_init(&a);
    cli_args_add(&a, "sample", "--ckpt", c->ckpt, "--latents", c->z, "--out", out, NULL);
    if (c->labels) cli_args_add(&a, "--labels", c->labels, NULL);
    if (c->psi) cli_args_add(&a, "--truncation", c->psi, NULL);
    setenv("GANTRY_BACKEND", backend, 1);
    bool ok = cli_run_ok(&a);
    unsetenv("GANTRY_BACKEND");
    return ok;
}

/* ONNX Runtime runs, collected and then run by one node process (tests/onnx_run.js --jobs):
 * compiling the runtime's WebAssembly once rather than per file saves about 2 s of CPU a run. */
typedef struct {
    char text[16384];
    size_t used;
} runtime_jobs;

/* Adds the run of the comparison's model on its inputs, output to out. */
static void jobs_add(runtime_jobs *j, const comparison *c, const char *out) {
    int n = snprintf(j->text + j->used, sizeof j->text - j->used, "%s %s %s%s%s%s%s %s\n", c->model,
                     out, c->z, c->labels ? " --labels " : "", c->labels ? c->labels : "",
                     c->psi ? " --psi " : "", c->psi ? c->psi : "", c->node_extra);
    CHECK(n > 0 && (size_t)n < sizeof j->text - j->used);
    if (n > 0 && (size_t)n < sizeof j->text - j->used) j->used += (size_t)n;
}

/* Runs every job; false after a failed check. */
static bool jobs_run(const char *dir, const runtime_jobs *j) {
    char list[160], cmd[256];
    snprintf(list, sizeof list, "%s/jobs.txt", dir);
    snprintf(cmd, sizeof cmd, "node tests/onnx_run.js --jobs %s", list);
    bool ok = cli_write_file(list, j->text, j->used) && run_tool(dir, cmd) == 0;
    if (!ok) show_tool_log(dir, cmd);
    CHECK(ok);
    return ok;
}

/* The tolerance of ONNX Runtime against gantry's cpu backend for one model and inputs.
 * Two float32 implementations of the same network differ only by rounding. gantry's cpu and
 * ref backends are two (blocked AVX GEMMs and convolutions against plain loops), so
 * d = max |cpu - ref| over the same samples is this network's float32 noise floor at these
 * inputs; ONNX Runtime is a third, whose difference from cpu has the same origin. The bound
 * allows twice that floor for the maximum of another sample of noise of the same size, and
 * twice again for the formulations the export changes (the folded spectral norm, batch norm's
 * fused kernel, StyleGAN2's demodulation as a factor after the conv), each rounding once more:
 * 4 d. Where the backends happen to round a model identically (d ~ 0), the floor is taken as
 * 8 units of roundoff of the largest output instead of 0. */
static double tolerance(double cpu_vs_ref, double largest) {
    return 4 * fmax(cpu_vs_ref, 8 * UNIT_ROUNDOFF * largest);
}

/* Compares ONNX Runtime's samples (the .npy ort) with gantry's for the same inputs within
 * tolerance(); prints the numbers. */
static bool runtime_matches_gantry(const comparison *c, const char *ort, const char *what) {
    char cpu[160], ref[160];
    snprintf(cpu, sizeof cpu, "%s/cpu.npy", c->dir);
    snprintf(ref, sizeof ref, "%s/ref.npy", c->dir);
    if (!gantry_sample(c, "cpu", cpu) || !gantry_sample(c, "ref", ref)) return false;
    int64_t n_ort = 0, n_cpu = 0, n_ref = 0;
    float *y_ort = read_values(ort, &n_ort), *y_cpu = read_values(cpu, &n_cpu);
    float *y_ref = read_values(ref, &n_ref);
    bool ok = y_ort && y_cpu && y_ref && n_ort == n_cpu && n_cpu == n_ref && n_cpu > 0;
    CHECK(ok);
    if (ok) {
        double err = max_abs_diff(y_ort, y_cpu, n_cpu), floor_ = max_abs_diff(y_ref, y_cpu, n_cpu);
        double largest = max_abs(y_cpu, n_cpu), tol = tolerance(floor_, largest);
        printf("  %-36s max |onnx - gantry| %.3g, |ref - cpu| %.3g, tolerance %.3g (largest |x| %.3g)\n",
               what, err, floor_, tol, largest);
        ok = err <= tol && largest > 0;
        CHECK(ok);
    }
    free(y_ort);
    free(y_cpu);
    free(y_ref);
    return ok;
}

/* Exports case i's checkpoint with extra export arguments (NULL-terminated) to model. */
static bool export_onnx(const char *ckpt, const char *model, const char *noise) {
    cli_args a;
    cli_args_init(&a);
    cli_args_add(&a, "export", "--ckpt", ckpt, "--format", "onnx", "--out", model, NULL);
    if (noise) cli_args_add(&a, "--noise", noise, NULL);
    return cli_run_ok(&a);
}

/* onnx.checker (full_check) accepts each of the n files: opset 17 and the batch axis N. */
static bool checker_accepts(const char *dir, int n, const char *const *models) {
    char cmd[4096] = PYTHON " tests/onnx_tool.py check";
    for (int i = 0; i < n; i++) {
        size_t len = strlen(cmd);
        snprintf(cmd + len, sizeof cmd - len, " %s", models[i]);
    }
    bool ok = run_tool(dir, cmd) == 0;
    char *log = cli_read_file(cli_path(dir, "tool.log"), NULL);
    int accepted = 0;
    for (const char *p = log; p && (p = strstr(p, ": ok opset ai.onnx:17 ir 8")); p++) accepted++;
    ok = ok && accepted == n && strstr(log, "'N'");
    free(log);
    if (!ok) show_tool_log(dir, cmd);
    CHECK(ok);
    return ok;
}

/* What the export tests need (Fashion-MNIST, a gantry built with the exporter), or a skip
 * with the reason; the scratch folder. */
static const char *exporter_ready(void) {
    const char *dir = scratch_dir();
    if (!dir) {
        CHECK(false);
        return NULL;
    }
    if (!fmnist_present()) {
        TEST_SKIP("needs %s (Debian package dataset-fashion-mnist)", FMNIST);
        return NULL;
    }
    const char *ring = checkpoint_of(0);
    if (!ring) return NULL;
    if (!exporter_built(ring, cli_path(dir, "probe.onnx"))) {
        TEST_SKIP("gantry was built without protobuf-c (apt-get install libprotobuf-c-dev "
                  "protobuf-c-compiler)");
        return NULL;
    }
    return dir;
}

/* The same, and the tools that run the exported files (node, onnxruntime-web, python3-onnx). */
static const char *runtime_ready(void) {
    const char *dir = exporter_ready();
    if (!dir) return NULL;
    const char *why = missing_tools(dir);
    if (*why) {
        TEST_SKIP("%s", why);
        return NULL;
    }
    return dir;
}

/* ---- the tests ---- */

TEST(every_family_matches_onnx_runtime) {
    const char *dir = runtime_ready();
    if (!dir) return;
    static char model[N_CASES][128], z[N_CASES][128], y[N_CASES][128], ort[N_CASES][128];
    const char *models[N_CASES];
    bool ready[N_CASES];
    int n_ready = 0;
    runtime_jobs jobs = {.used = 0};
    for (int i = 0; i < N_CASES; i++) {
        const char *ckpt = checkpoint_of(i);
        snprintf(model[i], sizeof model[i], "%s/case-%d.onnx", dir, i);
        snprintf(z[i], sizeof z[i], "%s/z-%d.npy", dir, i);
        snprintf(y[i], sizeof y[i], "%s/y-%d.npy", dir, i);
        snprintf(ort[i], sizeof ort[i], "%s/ort-%d.npy", dir, i);
        ready[i] = ckpt && export_onnx(ckpt, model[i], NULL) &&
                   write_latents(z[i], N_SAMPLES, cases[i].z_dim, (uint64_t)i + 1) &&
                   (!cases[i].classes || write_labels(y[i], N_SAMPLES, cases[i].classes));
        CHECK(ready[i]);
        comparison c = {dir, ckpt, model[i], z[i], cases[i].classes ? y[i] : NULL, NULL, ""};
        if (ready[i]) {
            jobs_add(&jobs, &c, ort[i]);
            models[n_ready++] = model[i];
        }
    }
    bool ran = n_ready > 0 && checker_accepts(dir, n_ready, models) && jobs_run(dir, &jobs);
    for (int i = 0; i < N_CASES; i++) {
        int before = gt_test_failed_checks;
        CHECK(ready[i] && ran);
        comparison c = {dir, checkpoint_of(i), model[i], z[i], cases[i].classes ? y[i] : NULL, NULL, ""};
        if (ready[i] && ran) runtime_matches_gantry(&c, ort[i], cases[i].name);
        gt_test_record(cases[i].name, gt_test_failed_checks == before);
    }
}

/* "NAME=FILE" of each constant noise map of model as onnx_run.js --noise arguments (repeated
 * for a batch of N_SAMPLES), into args; how many maps. */
static int noise_map_args(const char *dir, const char *model, char *args, size_t cap) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, PYTHON " tests/onnx_tool.py noise %s %s %d", model, dir, N_SAMPLES);
    bool ok = run_tool(dir, cmd) == 0;
    if (!ok) show_tool_log(dir, cmd);
    CHECK(ok);
    char *maps = ok ? cli_read_file(cli_path(dir, "tool.log"), NULL) : NULL;
    int n_maps = 0;
    args[0] = '\0';
    for (char *line = maps ? strtok(maps, "\n") : NULL; line; line = strtok(NULL, "\n"), n_maps++) {
        size_t len = strlen(args);
        snprintf(args + len, cap - len, " --noise %s", line);
    }
    free(maps);
    return n_maps;
}

/* StyleGAN2: psi as an input matches --truncation; --noise input fed G's constant maps gives
 * gantry's samples; --noise seed:S bakes other maps, the same file for the same S. */
TEST(stylegan2_truncation_and_noise) {
    const char *dir = runtime_ready();
    const char *ckpt = dir ? checkpoint_of(STYLEGAN2_CASE) : NULL;
    if (!ckpt) return;
    char z[128], constant[128], input[128], seeded[2][128], noise_args[2048];
    snprintf(z, sizeof z, "%s/sg-z.npy", dir);
    snprintf(constant, sizeof constant, "%s/sg-const.onnx", dir);
    snprintf(input, sizeof input, "%s/sg-input.onnx", dir);
    for (int k = 0; k < 2; k++) snprintf(seeded[k], sizeof seeded[k], "%s/sg-seed-%d.onnx", dir, k);
    bool ok = write_latents(z, N_SAMPLES, cases[STYLEGAN2_CASE].z_dim, 7) &&
              export_onnx(ckpt, constant, NULL) && export_onnx(ckpt, input, "input") &&
              export_onnx(ckpt, seeded[0], "seed:5") && export_onnx(ckpt, seeded[1], "seed:5");
    CHECK(ok);
    if (!ok) return;
    const char *models[2] = {input, seeded[0]};
    CHECK(checker_accepts(dir, 2, models));
    CHECK(cli_same_bytes(seeded[0], seeded[1]));
    CHECK(noise_map_args(dir, constant, noise_args, sizeof noise_args) == 7); /* 32x32: 1 + 2 x 3 */
    comparison psi = {dir, ckpt, constant, z, NULL, "0.6", ""};
    comparison fed = {dir, ckpt, input, z, NULL, NULL, noise_args};
    comparison own = {dir, ckpt, constant, z, NULL, NULL, ""};
    comparison other = {dir, ckpt, seeded[0], z, NULL, NULL, ""};
    char out[4][128];
    const comparison *runs[4] = {&psi, &fed, &own, &other};
    runtime_jobs jobs = {.used = 0};
    for (int k = 0; k < 4; k++) {
        snprintf(out[k], sizeof out[k], "%s/sg-ort-%d.npy", dir, k);
        jobs_add(&jobs, runs[k], out[k]);
    }
    if (!jobs_run(dir, &jobs)) return;
    runtime_matches_gantry(&psi, out[0], "stylegan2 psi 0.6");
    runtime_matches_gantry(&fed, out[1], "stylegan2 noise as inputs");
    int64_t n1 = 0, n2 = 0;
    float *a = read_values(out[2], &n1), *b = read_values(out[3], &n2);
    CHECK(a && b && n1 == n2 && max_abs_diff(a, b, n1) > 1e-4);   /* seeded noise: other samples */
    free(a);
    free(b);
}

/* ---- the web page ---- */

/* dir/name: {"z": [[...], ...], "labels": [...]} of the latents (and labels) files, which
 * must hold n rows of z_dim (labels NULL: none). */
static bool write_latents_json(const char *path, const char *z_npy, const char *labels_npy) {
    int64_t nz = 0, ny = 0;
    float *z = read_values(z_npy, &nz), *y = labels_npy ? read_values(labels_npy, &ny) : NULL;
    int64_t n = N_SAMPLES, d = nz / N_SAMPLES;
    FILE *f = z ? fopen(path, "w") : NULL;
    if (f) {
        fputs("{\"z\": [", f);
        for (int64_t i = 0; i < n; i++) {
            fputs(i ? ", [" : "[", f);
            for (int64_t j = 0; j < d; j++) fprintf(f, "%s%.9g", j ? ", " : "", (double)z[i * d + j]);
            fputs("]", f);
        }
        fputs("]", f);
        if (y) {
            fputs(", \"labels\": [", f);
            for (int64_t i = 0; i < ny; i++) fprintf(f, "%s%d", i ? ", " : "", (int)y[i]);
            fputs("]", f);
        }
        fputs("}\n", f);
    }
    bool ok = f && fclose(f) == 0;
    free(z);
    free(y);
    return ok;
}

/* What the page reported (web_check.js), parsed; NULL after a failed check. */
static cJSON *page_report(const char *dir, const char *web, const char *latents_name, const char *shot) {
    char cmd[1024], out[160];
    snprintf(out, sizeof out, "%s/page.json", dir);
    snprintf(cmd, sizeof cmd, "node tests/web_check.js %s %s --latents %s%s%s", web, out,
             latents_name, shot ? " --screenshot " : "", shot ? shot : "");
    bool ok = run_tool(dir, cmd) == 0;
    if (!ok) show_tool_log(dir, cmd);
    CHECK(ok);
    char *text = ok ? cli_read_file(out, NULL) : NULL;
    cJSON *report = text ? cJSON_Parse(text) : NULL;
    free(text);
    CHECK(!ok || (report && cJSON_IsTrue(cJSON_GetObjectItem(report, "ok"))));
    return report;
}

static double report_number(const cJSON *report, const char *part, const char *key) {
    const cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(report, part), key);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* The page's first grid against gantry's samples (cpu) of the same latents, within the
 * tolerance of the model's float32 noise floor (tolerance()). */
static void page_matches_gantry(const comparison *c, const cJSON *report, const char *what) {
    char cpu[160], ref[160];
    snprintf(cpu, sizeof cpu, "%s/cpu.npy", c->dir);
    snprintf(ref, sizeof ref, "%s/ref.npy", c->dir);
    if (!gantry_sample(c, "cpu", cpu) || !gantry_sample(c, "ref", ref)) return;
    int64_t n_cpu = 0, n_ref = 0;
    float *y_cpu = read_values(cpu, &n_cpu), *y_ref = read_values(ref, &n_ref);
    const cJSON *values = cJSON_GetObjectItem(cJSON_GetObjectItem(report, "first"), "values");
    bool ok = y_cpu && y_ref && n_cpu == n_ref && cJSON_GetArraySize(values) == n_cpu;
    CHECK(ok);
    if (ok) {
        double err = 0, floor_ = max_abs_diff(y_cpu, y_ref, n_cpu), largest = max_abs(y_cpu, n_cpu);
        int64_t i = 0;
        for (const cJSON *v = values->child; v; v = v->next, i++)
            err = fmax(err, fabs(v->valuedouble - (double)y_cpu[i]));
        double tol = tolerance(floor_, largest);
        printf("  %-36s max |page - gantry| %.3g, |ref - cpu| %.3g, tolerance %.3g\n", what, err,
               floor_, tol);
        CHECK(err <= tol);
    }
    free(y_cpu);
    free(y_ref);
}

/* Exports case i as a web folder; its path (in dir), or NULL after a failed check. */
static const char *export_web(const char *dir, int i, const char *name) {
    const char *ckpt = checkpoint_of(i);
    const char *web = cli_path(dir, name);
    cli_args a;
    cli_args_init(&a);
    cli_args_add(&a, "export", "--ckpt", ckpt ? ckpt : "", "--format", "web", "--out", web, NULL);
    if (!ckpt || !cli_run_ok(&a)) return NULL;
    static const char *const files[] = {"index.html", "generator.onnx", "model.json", "ort.wasm.min.js",
                                        "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"};
    for (size_t k = 0; k < sizeof files / sizeof files[0]; k++) CHECK(cli_exists(cli_path(web, files[k])));
    char *page = cli_read_file(cli_path(web, "index.html"), NULL);
    CHECK(page && !strstr(page, "http://") && !strstr(page, "https://"));  /* nothing from outside */
    free(page);
    return web;
}

/* The web page in headless Chromium: a StyleGAN2 G (truncation slider), a conditional resnet
 * G (class picker) and the ring's MLP (a scatter plot of points). The grid is drawn (many
 * distinct pixel values; background, axes and points for a scatter), changes with new latents
 * and with each control, and for fixed latents holds gantry's samples. */
TEST(web_page_in_headless_chromium) {
    const char *dir = runtime_ready();
    if (!dir) return;
    if (access("/usr/bin/chromium", X_OK) != 0) {
        TEST_SKIP("chromium not installed (apt-get install chromium)");
        return;
    }
    static const struct { int i; const char *name; } pages[] = {
        {STYLEGAN2_CASE, "web-stylegan2"}, {RESNET_CASE, "web-resnet"}, {0, "web-ring"}};
    for (size_t k = 0; k < sizeof pages / sizeof pages[0]; k++) {
        int i = pages[k].i;
        bool points = i == 0;
        const char *web = export_web(dir, i, pages[k].name);
        if (!web) continue;
        char z[160], y[160], json[160];
        snprintf(z, sizeof z, "%s/web-z.npy", dir);
        snprintf(y, sizeof y, "%s/web-y.npy", dir);
        snprintf(json, sizeof json, "%s/latents.json", web);
        bool labelled = cases[i].classes > 0;
        if (!write_latents(z, N_SAMPLES, cases[i].z_dim, 11) ||
            (labelled && !write_labels(y, N_SAMPLES, cases[i].classes)) ||
            !write_latents_json(json, z, labelled ? y : NULL)) {
            CHECK(false);
            continue;
        }
        cJSON *report = page_report(dir, web, "latents.json", NULL);
        if (!report) continue;
        double enough = points ? 3 : 16;
        CHECK(report_number(report, "first", "distinct") >= enough);
        double first = report_number(report, "first", "checksum");
        double after_new = report_number(report, "after_new", "checksum");
        CHECK(first >= 0 && after_new >= 0 && first != after_new);
        CHECK(report_number(report, "after_new", "distinct") >= enough);
        if (labelled || i == STYLEGAN2_CASE) {
            const char *control = labelled ? "after_class" : "after_psi";
            double after_control = report_number(report, control, "checksum");
            CHECK(after_control >= 0 && after_control != after_new);
        }
        comparison c = {dir, checkpoint_of(i), NULL, z, labelled ? y : NULL, NULL, ""};
        page_matches_gantry(&c, report, pages[k].name);
        cJSON_Delete(report);
    }
}

TEST(export_errors_name_the_problem) {
    const char *dir = exporter_ready();
    const char *ring = dir ? checkpoint_of(0) : NULL;
    if (!ring) return;
    cli_args a;
    cli_args_init(&a);
    cli_args_add(&a, "export", "--ckpt", ring, "--format", "tflite", "--out", cli_path(dir, "x"), NULL);
    cli_run_fails_saying(&a, "--format", "tflite", NULL);
    cli_args_init(&a);
    cli_args_add(&a, "export", "--ckpt", cli_path(dir, "missing.safetensors"), "--format", "onnx",
                 "--out", cli_path(dir, "x.onnx"), NULL);
    cli_run_fails_saying(&a, "missing.safetensors", NULL);
    cli_args_init(&a);
    cli_args_add(&a, "export", "--ckpt", ring, "--format", "onnx", "--out",
                 cli_path(dir, "no-such-folder/g.onnx"), NULL);
    cli_run_fails_saying(&a, "no-such-folder", NULL);
    cli_args_init(&a);
    cli_args_add(&a, "export", "--ckpt", ring, "--format", "onnx", "--noise", "input", "--out",
                 cli_path(dir, "x.onnx"), NULL);
    cli_run_fails_saying(&a, "--noise", "StyleGAN2", NULL);
    cli_args_init(&a);
    cli_args_add(&a, "export", "--ckpt", ring, "--format", "web", "--ort-web",
                 cli_path(dir, "no-runtime-here"), "--out", cli_path(dir, "web-x"), NULL);
    cli_run_fails_saying(&a, "no-runtime-here", "onnxruntime-web", NULL);
    /* a layer the exporter does not write: virtual batch norm, named */
    const char *vbn = cli_path(dir, "vbn");
    cli_args_init(&a);
    cli_args_add(&a, "train", "--config", "configs/dcgan-vbn-fmnist.ini", "--out", vbn, "--quiet",
                 "model.g.width=4", "model.d.width=4", "model.g.vbn_ref=4", "train.batch=8",
                 "train.steps=1", NULL);
    cli_args_add_words(&a, QUIET_RUN);
    if (!cli_run_ok(&a)) return;
    cli_args_init(&a);
    cli_args_add(&a, "export", "--ckpt", cli_path(vbn, CKPT), "--format", "onnx", "--out",
                 cli_path(dir, "vbn.onnx"), NULL);
    cli_run_fails_saying(&a, "virtual batch norm", "not supported", NULL);
    CHECK(!cli_exists(cli_path(dir, "vbn.onnx")));
}

/* gantry sample --latents / --labels name the file and what they expected. */
TEST(sample_fixed_inputs_are_checked) {
    const char *dir = scratch_dir();
    const char *ring = dir ? checkpoint_of(0) : NULL;
    if (!ring) return;
    const char *wide = cli_path(dir, "wide.npy"), *labels = cli_path(dir, "labels.npy");
    CHECK(write_latents(wide, 3, 9, 1) && write_labels(labels, 3, 2));
    cli_args a;
    cli_args_init(&a);
    cli_args_add(&a, "sample", "--ckpt", ring, "--latents", wide, "--out", cli_path(dir, "s.npy"), NULL);
    cli_run_fails_saying(&a, "wide.npy", "[N, 8]", NULL);
    const char *z = cli_path(dir, "z8.npy");
    CHECK(write_latents(z, 3, 8, 1));
    cli_args_init(&a);
    cli_args_add(&a, "sample", "--ckpt", ring, "--latents", z, "--labels", labels, "--out",
                 cli_path(dir, "s.npy"), NULL);
    cli_run_fails_saying(&a, "--labels", "conditional", NULL);
    cli_args_init(&a);
    cli_args_add(&a, "sample", "--ckpt", ring, "--labels", labels, "--out", cli_path(dir, "s.npy"), NULL);
    cli_run_fails_saying(&a, "--labels goes with --latents", NULL);
    /* a conditional G's labels must be its classes */
    const char *cond = fmnist_present() ? checkpoint_of(2) : NULL;
    const char *z16 = cli_path(dir, "z16.npy"), *bad = cli_path(dir, "bad-labels.npy");
    const float y[3] = {0, 10, 2};
    int64_t three = 3;
    gt_error err;
    if (cond && write_latents(z16, 3, cases[2].z_dim, 1) && gt_npy_write(bad, y, 1, &three, &err) == 0) {
        cli_args_init(&a);
        cli_args_add(&a, "sample", "--ckpt", cond, "--latents", z16, "--labels", bad, "--out",
                     cli_path(dir, "s.npy"), NULL);
        cli_run_fails_saying(&a, "bad-labels.npy", "label 1 is 10", "0 .. 9", NULL);
    }
    /* the same latents give the same samples, whatever --seed says */
    cli_args_init(&a);
    cli_args_add(&a, "sample", "--ckpt", ring, "--latents", z, "--seed", "3", "--out",
                 cli_path(dir, "s1.npy"), NULL);
    cli_args b;
    cli_args_init(&b);
    cli_args_add(&b, "sample", "--ckpt", ring, "--latents", z, "--out", cli_path(dir, "s2.npy"), NULL);
    CHECK(cli_run_ok(&a) && cli_run_ok(&b) &&
          cli_same_bytes(cli_path(dir, "s1.npy"), cli_path(dir, "s2.npy")));
}

int main(void) {
    int rc;
    RUN_TESTS_INTO(rc, T(every_family_matches_onnx_runtime), T(stylegan2_truncation_and_noise),
                   T(web_page_in_headless_chromium), T(export_errors_name_the_problem),
                   T(sample_fixed_inputs_are_checked));
    if (scratch_made) cli_scratch_remove(scratch);
    return rc;
}
