/* gantry sample, info and config: drawing from a checkpoint, inspecting one, and printing
 * configurations. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "options.h"
#include "io/image.h"
#include "io/safetensors.h"
#include "train/trainer.h"

static void sample_help(void *ctx) {
    (void)ctx;
    printf("usage: gantry sample --ckpt FILE --out FILE.png|FILE.npy [--n N] [--seed S]\n\n"
           "  --ckpt FILE   a checkpoint written by gantry train (RUNDIR/checkpoint.safetensors)\n"
           "  --out FILE    .png: a grid of images (a scatter plot for 2-D data);\n"
           "                .npy: float32 (N, C, H, W) in [-1, 1], or (N, 2) for 2-D data\n"
           "  --n N         how many samples (default 64)\n"
           "  --seed S      seed of the latent draws (default 0)\n"
           "  --truncation PSI         (stylegan2) w = w_avg + PSI (w - w_avg); 0 gives w_avg's image\n"
           "  --truncation-cutoff L    truncate only the first L style layers (default: all)\n"
           "  --style-mix              (stylegan2) a K x K grid from K = --n latents: cell (i, j)\n"
           "                           has w_i's coarse styles and w_j's fine ones (diagonal: w_i)\n"
           "  --mix-cutoff L           the coarse styles are the first L layers (default: half)\n"
           "  --class K     (conditional checkpoints) every sample of class K, 0 .. classes - 1;\n"
           "                without it a conditional G cycles through the classes\n"
           "  --latents FILE  G's latents from a float32 .npy [N, z_dim] instead of drawing them\n"
           "                (N samples; to compare with an exported G for the same latents)\n"
           "  --labels FILE   (conditional, with --latents) the classes, a float32 .npy [N] of\n"
           "                whole numbers 0 .. classes - 1\n"
           "Samples come from G's EMA weights when the checkpoint has them, in evaluation mode.\n");
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

int gt_cli_open_checkpoint(const char *path, gt_trainer *t, gt_error *err) {
    gt_config cfg;
    if (gt_checkpoint_config(path, &cfg, err) < 0) return -1;
    if (gt_trainer_init(t, &cfg, false, err) < 0) return -1;
    if (gt_trainer_restore(t, path, err) < 0) {
        gt_trainer_free(t);
        return -1;
    }
    return 0;
}

/* Fixed inputs for G (--latents, --labels): z [n, z_dim] and labels [n] (NULL: none). */
typedef struct { float *z; int32_t *labels; } fixed_inputs;

static void fixed_inputs_free(fixed_inputs *in) {
    free(in->z);
    free(in->labels);
}

/* The latents file: float32 [N, z_dim] of G's z_dim; N goes to *n. */
static int read_latents(const gt_trainer *t, const char *path, fixed_inputs *in, long long *n,
                        gt_error *err) {
    int ndim;
    int64_t shape[8];
    in->z = gt_npy_read(path, &ndim, shape, err);
    if (!in->z) return -1;
    if (ndim != 2 || shape[1] != t->cfg.g_z_dim || shape[0] < 1)
        return gt_error_set(err, "%s: latents must be float32 [N, %lld] (N >= 1, G's z_dim %lld), "
                                 "got %d dimensions%s", path, (long long)t->cfg.g_z_dim,
                            (long long)t->cfg.g_z_dim, ndim, ndim == 2 ? " of another width" : "");
    *n = shape[0];
    return 0;
}

/* The labels file: float32 [n] of whole class indices of G's classes. */
static int read_labels(const gt_trainer *t, const char *path, long long n, fixed_inputs *in,
                       gt_error *err) {
    int ndim;
    int64_t shape[8];
    float *y = gt_npy_read(path, &ndim, shape, err);
    if (!y) return -1;
    int rc = 0;
    if (ndim != 1 || shape[0] != n)
        rc = gt_error_set(err, "%s: labels must be float32 [%lld], one per latent", path, n);
    in->labels = rc ? NULL : malloc((size_t)n * sizeof *in->labels);
    if (!rc && !in->labels) rc = gt_error_set(err, "out of memory for %lld labels", n);
    for (long long i = 0; !rc && i < n; i++) {
        if (!(y[i] >= 0 && y[i] < (float)t->n_classes && y[i] == (float)(int32_t)y[i]))
            rc = gt_error_set(err, "%s: label %lld is %g; expected a whole number 0 .. %d (G's "
                                   "classes)", path, i, (double)y[i], t->n_classes - 1);
        else
            in->labels[i] = (int32_t)y[i];
    }
    free(y);
    return rc;
}

static int write_samples(gt_trainer *t, const char *out, long long n, long long seed,
                         long long mix_cutoff, long long cls, const fixed_inputs *in,
                         gt_error *err) {
    bool points = t->h == 1 && t->w == 1;
    long long k = n;
    if (mix_cutoff > -2) n = k * k; /* a style mixing grid */
    float *x = malloc((size_t)(n * gt_trainer_example_size(t)) * sizeof *x);
    if (!x) return gt_error_set(err, "out of memory for %lld samples", n);
    int rc = 0;
    if (mix_cutoff > -2)
        rc = gt_trainer_style_mix(t, (int)k, (uint64_t)seed,
                                  mix_cutoff < 0 ? gt_model_style_count(&t->g) / 2 : (int)mix_cutoff, x, err);
    else if (in->z)
        gt_trainer_sample_latents(t, n, in->z, in->labels, x);
    else if (cls >= 0) {
        int32_t *y = malloc((size_t)n * sizeof *y);
        if (!y) {
            free(x);
            return gt_error_set(err, "out of memory for %lld labels", n);
        }
        for (long long i = 0; i < n; i++) y[i] = (int32_t)cls;
        gt_trainer_sample_classes(t, n, (uint64_t)seed, y, x);
        free(y);
    } else {
        gt_trainer_sample(t, n, (uint64_t)seed, x);
    }
    if (rc < 0) {
        free(x);
        return rc;
    }
    if (ends_with(out, ".npy")) {
        int64_t shape[4] = {n, t->c, t->h, t->w};
        rc = gt_npy_write(out, x, points ? 2 : 4, shape, err);
    } else if (points) {
        rc = gt_error_set(err, "%s: 2-D samples are written as .npy (a plot: see samples/ of the run)", out);
    } else {
        int cols = 1;
        while ((long long)cols * cols < n) cols++;
        if (mix_cutoff > -2) cols = (int)k;
        rc = gt_png_write_grid(out, x, (int)n, t->c, t->h, t->w, cols, err);
    }
    free(x);
    return rc;
}

/* --truncation PSI: a number in -10 .. 10. */
typedef struct { double psi; bool on; } truncation;
static int take_truncation(const gt_opt *o, const char *v) {
    truncation *t = o->dest;
    char *end = NULL;
    t->psi = v ? strtod(v, &end) : 0;
    if (!v || !*v || *end || !(t->psi >= -10 && t->psi <= 10))
        return gt_cli_usage("sample", "--truncation must be a number (psi, e.g. 0.7), got '%s'",
                            v ? v : "");
    t->on = true;
    return 0;
}

int gt_cmd_sample(int argc, char **argv) {
    const char *ckpt = NULL, *out = NULL, *latents = NULL, *labels = NULL;
    long long n = 64, seed = 0, cutoff = -1, mix_cutoff = -2; /* -2: no style mixing grid */
    long long cls = -1;                                       /* -1: no --class */
    truncation trunc = {1.0, false};
    bool style_mix = false;
    const gt_opt opts[] = {
        GT_OPT_TEXT_("--ckpt", &ckpt, "a file"),
        GT_OPT_TEXT_("--out", &out, "a file"),
        GT_OPT_INT_("--n", &n, 1, 1000000, NULL),
        GT_OPT_INT_("--seed", &seed, 0, 0, NULL),
        GT_OPT_CALL_("--truncation", &trunc, take_truncation),
        GT_OPT_INT_("--truncation-cutoff", &cutoff, 0, 64, "an integer from 0 to the style layers"),
        GT_OPT_INT_("--class", &cls, 0, 0, "a non-negative integer (a class index)"),
        GT_OPT_FLAG_("--style-mix", &style_mix),
        GT_OPT_INT_("--mix-cutoff", &mix_cutoff, 0, 64, "an integer from 0 to the style layers"),
        GT_OPT_TEXT_("--latents", &latents, "a .npy file"),
        GT_OPT_TEXT_("--labels", &labels, "a .npy file"),
        GT_OPT_END,
    };
    gt_opts p = {"sample", opts, sample_help, NULL, NULL};
    int rc = gt_opts_parse(&p, argc, argv);
    if (rc) return rc == GT_OPTS_DONE ? 0 : rc;
    if (style_mix && mix_cutoff == -2) mix_cutoff = -1; /* the default crossover: half */
    double psi = trunc.psi;
    bool truncate = trunc.on;
    if (mix_cutoff > -2 && n > 64)
        return gt_cli_usage("sample", "--style-mix draws an N x N grid: --n must be at most 64");
    if (!ckpt || !out) return gt_cli_usage("sample", "needs --ckpt FILE and --out FILE");
    if (latents && (mix_cutoff > -2 || cls >= 0))
        return gt_cli_usage("sample", "--latents gives every sample's latent: it goes with neither "
                                      "--style-mix nor --class (use --labels for classes)");
    if (labels && !latents) return gt_cli_usage("sample", "--labels goes with --latents");
    if (!ends_with(out, ".png") && !ends_with(out, ".npy"))
        return gt_cli_usage("sample", "--out must end in .png or .npy, got '%s'", out);
    gt_trainer t;
    gt_error err;
    if (gt_cli_open_checkpoint(ckpt, &t, &err) < 0) return gt_cli_fail("%s", err.msg);
    if ((truncate || cutoff >= 0) && !t.style) {
        int rc = gt_cli_fail("--truncation needs a style-based generator (model.g.family = "
                             "stylegan2); this checkpoint's is %s", t.cfg.g_family);
        gt_trainer_free(&t);
        return rc;
    }
    if (cutoff > gt_model_style_count(&t.g)) {
        gt_trainer_free(&t);
        return gt_cli_usage("sample", "--truncation-cutoff %lld: G has %d style layers", cutoff,
                            gt_model_style_count(&t.g));
    }
    if (cls >= 0 && (!t.conditional || mix_cutoff > -2)) {
        int rc = gt_cli_fail("--class needs a class-conditional checkpoint (train.conditional = "
                             "true)%s", mix_cutoff > -2 ? " and no --style-mix" : "; this one is not");
        gt_trainer_free(&t);
        return rc;
    }
    if (cls >= t.n_classes && t.conditional) {
        int rc = gt_cli_fail("--class %lld is out of range: this checkpoint's G has %d classes "
                             "(0 .. %d)", cls, t.n_classes, t.n_classes - 1);
        gt_trainer_free(&t);
        return rc;
    }
    if (t.style) gt_model_set_truncation(&t.g, psi, (int)cutoff);
    fixed_inputs in = {NULL, NULL};
    if (labels && !t.conditional) {
        gt_trainer_free(&t);
        return gt_cli_fail("--labels needs a class-conditional checkpoint (train.conditional = "
                           "true); this one is not");
    }
    rc = latents ? read_latents(&t, latents, &in, &n, &err) : 0;
    if (!rc && labels) rc = read_labels(&t, labels, n, &in, &err);
    if (!rc) rc = write_samples(&t, out, n, seed, mix_cutoff, cls, &in, &err);
    fixed_inputs_free(&in);
    gt_trainer_free(&t);
    gt_runtime_free();
    if (rc < 0) return gt_cli_fail("%s", err.msg);
    printf("wrote %lld samples to %s\n", mix_cutoff > -2 ? n * n : n, out);
    return 0;
}

/* ---- info ---- */

static void print_meta(const gt_st_file *f, const char *key) {
    const char *v = gt_st_meta(f, key);
    if (v) printf("%-14s %s\n", key, v);
}

int gt_cmd_info(int argc, char **argv) {
    if (argc != 2 || gt_cli_is_help(argv[1])) {
        printf("usage: gantry info FILE\n\n  Shows a checkpoint's configuration, step, and every "
               "tensor with its shape.\n");
        return argc == 2 ? 0 : 2;
    }
    gt_error err;
    gt_st_file *f = gt_st_read(argv[1], &err);
    if (!f) return gt_cli_fail("%s", err.msg);
    printf("file           %s\n", argv[1]);
    const char *keys[] = {"format", "step", "opt_g.step", "opt_d.step", "ema.updates", "rng.key",
                          "rng.counter", "loader.seed", "loader.epoch", "loader.index"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) print_meta(f, keys[i]);
    int64_t total = 0;
    printf("\ntensors (%d):\n", gt_st_count(f));
    for (int i = 0; i < gt_st_count(f); i++) {
        const gt_st_tensor *s = gt_st_at(f, i);
        printf("  %-40s [", s->name);
        for (int d = 0; d < s->ndim; d++) printf("%s%lld", d ? ", " : "", (long long)s->shape[d]);
        printf("]\n");
        total += s->numel;
    }
    printf("  total %lld floats\n", (long long)total);
    const char *cfg = gt_st_meta(f, "config");
    if (cfg) printf("\nconfiguration:\n%s", cfg);
    gt_st_free(f);
    return 0;
}

/* ---- config ---- */

static void config_help(void *ctx) {
    (void)ctx;
    printf("usage: gantry config --defaults\n"
           "       gantry config --config FILE [section.key=value ...]\n\n"
           "  --defaults      every section and key with its default, allowed values and meaning\n"
           "  --config FILE   print the configuration FILE and the overrides resolve to\n");
}

static int print_defaults(const gt_opt *o, const char *v) {
    (void)o, (void)v;
    gt_config_print_defaults(stdout);
    return GT_OPTS_DONE;
}

/* --config FILE and the overrides apply in the order given. */
static int load_config(const gt_opt *o, const char *file) {
    gt_error err;
    if (!file) return gt_cli_usage("config", "--config needs a file");
    return gt_config_load_file(o->dest, file, &err) < 0 ? gt_cli_fail("%s", err.msg) : 0;
}

static int take_override(const char *arg, void *cfg) {
    gt_error err;
    if (arg[0] == '-' || !strchr(arg, '=')) return gt_cli_usage("config", "unknown argument '%s'", arg);
    return gt_config_set(cfg, arg, "command line", &err) < 0 ? gt_cli_fail("%s", err.msg) : 0;
}

int gt_cmd_config(int argc, char **argv) {
    gt_config cfg;
    gt_config_defaults(&cfg);
    const gt_opt opts[] = {
        GT_OPT_ACTION_("--defaults", NULL, print_defaults),
        GT_OPT_CALL_("--config", &cfg, load_config),
        GT_OPT_END,
    };
    gt_opts p = {"config", opts, config_help, take_override, &cfg};
    int rc = gt_opts_parse(&p, argc, argv);
    if (rc) return rc == GT_OPTS_DONE ? 0 : rc;
    static char text[64 * 1024];
    if (gt_config_to_string(&cfg, text, sizeof text) < 0) return gt_cli_fail("configuration too large");
    fputs(text, stdout);
    return 0;
}
