/* gantry eval: scores samples (from a checkpoint, or a .npy file) by protocols.md and prints
 * each metric with N and its protocol, then one JSON line. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "eval/evaluate.h"
#include "io/image.h"
#include "train/trainer.h"

#define DEFAULT_REF "/usr/share/datasets/fashion-mnist"

typedef struct {
    const char *ckpt, *samples, *mixture, *ref, *model;
    long long n, seed;
    bool ref_given, model_given;
    char run_ref[GT_CFG_STR_MAX], run_model[GT_CFG_STR_MAX]; /* a checkpoint's own choices */
    bool class_check; /* a conditional G over the classifier's classes: sample i is of class i mod 10 */
} eval_args;

static void help(void) {
    printf("usage: gantry eval --ckpt FILE [--n N] [--seed S]\n"
           "       gantry eval --samples FILE.npy [--mixture ring|grid]\n\n"
           "  --ckpt FILE       draw samples from a checkpoint (G's EMA when present)\n"
           "  --n N             samples to draw (default 10000; 2-D data: 2500 and stacked\n"
           "                    Fashion-MNIST: 26000, the protocols')\n"
           "  --seed S          seed of the latent draws (default 0)\n"
           "  --samples FILE    score a .npy of float32 (N, 1, 28, 28) in [-1, 1] or (N, 2) points\n"
           "  --mixture KIND    for (N, 2) samples: ring or grid (from --ckpt: the run's data)\n"
           "  --ref DIR         Fashion-MNIST folder whose test split is the reference (default %s;\n"
           "                    from --ckpt of a data.dataset = mnist run: its data.path)\n"
           "  --model FILE      feature network (default %s; from --ckpt: the run's\n"
           "                    train.eval_model, for mnist %s)\n\n"
           "Images: FID, KID, precision/recall and class coverage on the shipped classifier's\n"
           "128-d features against the 10,000 test images; for a class-conditional checkpoint\n"
           "of Fashion-MNIST (or digits) also the share of samples classified as the class they\n"
           "were drawn for (class accuracy; sample i is of class i mod 10). Points: modes covered, percent high\n"
           "quality, reverse KL (protocols.md).\n", DEFAULT_REF, GT_CLASSIFIER_DEFAULT_PATH,
           GT_CLASSIFIER_DIGITS_PATH);
}

static int parse(int argc, char **argv, eval_args *a) {
    *a = (eval_args){.ref = DEFAULT_REF, .model = GT_CLASSIFIER_DEFAULT_PATH, .n = -1};
    const char *v;
    for (int i = 1; i < argc; i++) {
        if (gt_cli_is_help(argv[i])) {
            help();
            return 1;
        } else if (gt_cli_option(argc, argv, &i, "--ckpt", &v)) {
            if (!(a->ckpt = v)) return gt_cli_usage("eval", "--ckpt needs a file");
        } else if (gt_cli_option(argc, argv, &i, "--samples", &v)) {
            if (!(a->samples = v)) return gt_cli_usage("eval", "--samples needs a .npy file");
        } else if (gt_cli_option(argc, argv, &i, "--mixture", &v)) {
            if (!v || (strcmp(v, "ring") != 0 && strcmp(v, "grid") != 0))
                return gt_cli_usage("eval", "--mixture must be ring or grid");
            a->mixture = v;
        } else if (gt_cli_option(argc, argv, &i, "--ref", &v)) {
            if (!(a->ref = v)) return gt_cli_usage("eval", "--ref needs a folder");
            a->ref_given = true;
        } else if (gt_cli_option(argc, argv, &i, "--model", &v)) {
            if (!(a->model = v)) return gt_cli_usage("eval", "--model needs a file");
            a->model_given = true;
        } else if (gt_cli_option(argc, argv, &i, "--n", &v)) {
            if (!gt_cli_parse_i64(v, &a->n) || a->n < 2 || a->n > 1000000)
                return gt_cli_usage("eval", "--n must be an integer from 2 to 1000000, got '%s'", v ? v : "");
        } else if (gt_cli_option(argc, argv, &i, "--seed", &v)) {
            if (!gt_cli_parse_i64(v, &a->seed))
                return gt_cli_usage("eval", "--seed must be a non-negative integer, got '%s'", v ? v : "");
        } else {
            return gt_cli_usage("eval", "unknown argument '%s'", argv[i]);
        }
    }
    if (!a->ckpt == !a->samples) return gt_cli_usage("eval", "needs exactly one of --ckpt and --samples");
    return 0;
}

/* A checkpoint's run decides the feature network and reference unless given: its
 * train.eval_model, and for MNIST-format digits the digits network and its own data. */
static void run_defaults(eval_args *a, const gt_config *cfg) {
    bool digits = strcmp(cfg->data_dataset, "mnist") == 0;
    snprintf(a->run_model, sizeof a->run_model, "%s",
             cfg->train_eval_model[0] ? cfg->train_eval_model
             : digits                 ? GT_CLASSIFIER_DIGITS_PATH
                                      : GT_CLASSIFIER_DEFAULT_PATH);
    snprintf(a->run_ref, sizeof a->run_ref, "%s", cfg->data_path);
    if (!a->model_given) a->model = a->run_model;
    if (!a->ref_given && digits) a->ref = a->run_ref;
}

/* Samples from a checkpoint: x (malloc'd) [n, c, h, w]; points also set the mixture kind. */
static float *draw(eval_args *a, int64_t *shape, int *nd, char *mixture, gt_error *err) {
    gt_config cfg;
    gt_trainer t;
    if (gt_checkpoint_config(a->ckpt, &cfg, err) < 0 || gt_trainer_init(&t, &cfg, false, err) < 0)
        return NULL;
    run_defaults(a, &cfg);
    if (gt_trainer_restore(&t, a->ckpt, err) < 0) {
        gt_trainer_free(&t);
        return NULL;
    }
    bool points = t.h == 1 && t.w == 1;
    a->class_check = gt_trainer_draws_classifier_classes(&t);
    bool stacked = strcmp(cfg.data_dataset, "stacked-fashion-mnist") == 0;
    int64_t n = a->n > 0 ? a->n : points ? 2500 : stacked ? 26000 : 10000;
    float *x = malloc((size_t)(n * gt_trainer_example_size(&t)) * sizeof *x);
    if (x) gt_trainer_sample(&t, n, (uint64_t)a->seed, x);
    shape[0] = n;
    shape[1] = t.c;
    shape[2] = t.h;
    shape[3] = t.w;
    *nd = points ? 2 : 4;
    snprintf(mixture, GT_CFG_ENUM_MAX, "%s", points ? cfg.data_dataset : "");
    gt_trainer_free(&t);
    if (!x) gt_error_set(err, "eval: out of memory for %lld samples", (long long)n);
    return x;
}

static int eval_points(const float *x, int64_t n, const char *kind) {
    gt_mode_scores s;
    gt_error err;
    if (gt_eval_points(kind, x, n, &s, &err) < 0) return gt_cli_fail("%s", err.msg);
    printf("samples       N = %lld points, %s mixture (protocols.md, sigma %g)\n", (long long)n, kind, s.sigma);
    printf("modes         %d of %d covered (a high-quality point falls to the mode)\n", s.modes_covered, s.n_modes);
    printf("high quality  %.1f%% (within 3 sigma of the nearest centre)\n", s.pct_high_quality);
    /* undefined (NaN) when no point is of high quality: JSON has no NaN, so null */
    char kl[32] = "null";
    if (isfinite(s.reverse_kl)) snprintf(kl, sizeof kl, "%.6g", s.reverse_kl);
    printf("reverse KL    %s (KL of the high-quality mode histogram to uniform)\n",
           isfinite(s.reverse_kl) ? kl : "undefined: no high-quality point");
    printf("{\"n\": %lld, \"mixture\": \"%s\", \"modes_covered\": %d, \"n_modes\": %d, "
           "\"pct_high_quality\": %.4f, \"reverse_kl\": %s}\n",
           (long long)n, kind, s.modes_covered, s.n_modes, s.pct_high_quality, kl);
    return 0;
}

static void print_agreement(const gt_class_agreement *g) {
    printf("class acc.    %.2f%% of the samples classified as the class they were drawn for; "
           "per class:", 100 * g->accuracy);
    for (int k = 0; k < 10; k++) printf(" %d: %.0f%%", k, 100 * g->per_class[k]);
    printf("\n");
}

static int eval_images(const eval_args *a, const float *x, int64_t n) {
    gt_error err;
    gt_classifier *c = gt_classifier_new();
    gt_dataset *ref = NULL;
    gt_image_scores s;
    int rc = gt_classifier_load(c, a->model, &err);
    if (rc == 0 && !(ref = gt_data_load_mnist_dir(a->ref, "test", &err))) rc = -1;
    if (rc == 0) rc = gt_eval_images(c, ref, x, n, &s, &err);
    gt_class_agreement agree = {0};
    char agree_json[48] = "";
    if (rc == 0 && a->class_check) {
        rc = gt_eval_class_agreement(c, x, NULL, n, &agree, &err);
        snprintf(agree_json, sizeof agree_json, ", \"class_accuracy\": %.6g", agree.accuracy);
    }
    if (rc == 0) {
        printf("samples       N = %lld\n", (long long)n);
        printf("reference     %s test split, N = %lld\n", ref->name, (long long)s.n_ref);
        printf("features      %s: 128-d penultimate layer, test accuracy %.2f%%\n", a->model,
               100 * gt_classifier_test_accuracy(c));
        printf("FID           %.3f (means and covariances in double; matrix square root by a "
               "symmetric eigendecomposition)\n", s.fid);
        printf("KID           %.5f +- %.5f (cubic kernel, 100 subsets of 1,000)\n", s.kid, s.kid_stderr);
        printf("precision     %.4f  recall %.4f (k = 3, Kynkaanniemi et al. 2019)\n", s.precision, s.recall);
        printf("classes       %d of 10 covered; KL of the predicted-class histogram to uniform %.4f\n",
               s.classes_covered, s.class_kl);
        if (a->class_check) print_agreement(&agree);
        printf("{\"n\": %lld, \"n_ref\": %lld, \"fid\": %.6g, \"kid\": %.6g, \"kid_stderr\": %.6g, "
               "\"precision\": %.6g, \"recall\": %.6g, \"classes_covered\": %d, \"class_kl\": %.6g%s}\n",
               (long long)n, (long long)s.n_ref, s.fid, s.kid, s.kid_stderr, s.precision, s.recall,
               s.classes_covered, s.class_kl, agree_json);
    }
    gt_dataset_free(ref);
    gt_classifier_free(c);
    return rc < 0 ? gt_cli_fail("%s", err.msg) : 0;
}

static int eval_stacked(const eval_args *a, const float *x, int64_t n) {
    gt_error err;
    gt_classifier *c = gt_classifier_new();
    gt_stacked_scores s;
    int rc = gt_classifier_load(c, a->model, &err);
    if (rc == 0) rc = gt_eval_stacked(c, x, n, &s, &err);
    if (rc == 0) {
        printf("samples       N = %lld stacked Fashion-MNIST images (three classified channels; "
               "protocol: 26,000)\n", (long long)n);
        printf("modes         %d of 1000 class triples covered\n", s.modes_covered);
        printf("reverse KL    %.4f (KL of the triple histogram to uniform)\n", s.kl);
        printf("{\"n\": %lld, \"modes_covered\": %d, \"n_modes\": 1000, \"reverse_kl\": %.6g}\n",
               (long long)n, s.modes_covered, s.kl);
    }
    gt_classifier_free(c);
    return rc < 0 ? gt_cli_fail("%s", err.msg) : 0;
}

int gt_cmd_eval(int argc, char **argv) {
    eval_args a;
    int rc = parse(argc, argv, &a);
    if (rc) return rc == 1 ? 0 : rc;
    gt_error err;
    int64_t shape[GT_MAX_DIMS];
    int nd = 0;
    char mixture[GT_CFG_ENUM_MAX] = "";
    float *x = a.ckpt ? draw(&a, shape, &nd, mixture, &err) : gt_npy_read(a.samples, &nd, shape, &err);
    if (!x) return gt_cli_fail("%s", err.msg);
    const char *src = a.ckpt ? a.ckpt : a.samples;
    if (nd == 4 && (shape[1] == 1 || shape[1] == 3) && shape[2] == 32 && shape[3] == 32) {
        /* Fashion-MNIST padded to 32x32 (data.resolution = 32): the classifier reads the centre */
        gt_eval_crop_padded(x, shape[0], (int)shape[1], 32);
        shape[2] = shape[3] = 28;
    }
    if (nd == 2 && shape[1] == 2) {
        const char *kind = a.mixture ? a.mixture : mixture;
        rc = *kind ? eval_points(x, shape[0], kind)
                   : gt_cli_usage("eval", "%s holds 2-D points: name the mixture with --mixture", src);
    } else if (nd == 4 && shape[1] == 1 && shape[2] == 28 && shape[3] == 28) {
        rc = eval_images(&a, x, shape[0]);
    } else if (nd == 4 && shape[1] == 3 && shape[2] == 28 && shape[3] == 28) {
        rc = eval_stacked(&a, x, shape[0]);
    } else {
        rc = gt_cli_fail("%s: samples must be (N, 1, 28, 28) images (or 32x32, Fashion-MNIST "
                         "padded by data.resolution = 32), (N, 3, 28, 28) stacked Fashion-MNIST or "
                         "(N, 2) points", src);
    }
    free(x);
    gt_runtime_free();
    return rc;
}
