/* gantry eval: scores samples (from a checkpoint, or a .npy file) by protocols.md and prints
 * each metric with N and its protocol, then one JSON line. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "options.h"
#include "eval/evaluate.h"
#include "io/image.h"
#include "train/score.h"

#define DEFAULT_REF GT_SCORE_DEFAULT_REF

typedef struct {
    const char *ckpt, *samples, *mixture, *ref, *model;
    long long n, seed;
    bool ref_given, model_given, orientation;
    long long orientation_images;
    gt_mode_metric mode_metric;
} eval_args;

/* The orientation check's detector: two passes over its training images (orientation.h). */
#define ORIENTATION_EPOCHS 2
#define ORIENTATION_SEED 0

static void help(void *ctx) {
    (void)ctx;
    printf("usage: gantry eval --ckpt FILE [--n N] [--seed S]\n"
           "       gantry eval --samples FILE.npy [--mixture ring|grid]\n\n"
           "  --ckpt FILE       draw samples from a checkpoint (G's EMA when present)\n"
           "  --n N             samples to draw (default 10000; 2-D data: 2500 and stacked\n"
           "                    Fashion-MNIST: 26000, the protocols')\n"
           "  --seed S          seed of the latent draws (default 0)\n"
           "  --samples FILE    score a .npy of float32 (N, 1, 28, 28) in [-1, 1] or (N, 2) points\n"
           "  --mixture KIND    for (N, 2) samples: ring or grid (from --ckpt: the run's data)\n"
           "  --mode-metric D   2-D samples: gantry (default: protocols.md, within 3 sigma of the\n"
           "                    nearest centre) or pacgan (Lin et al. 2018: nearest mode in units\n"
           "                    of its std, below 3 std; from --ckpt, 2500 samples of the fixed\n"
           "                    latents of seed %d, so --n and --seed do not apply)\n"
           "  --ref DIR         Fashion-MNIST folder whose test split is the reference (default %s;\n"
           "                    from --ckpt of a data.dataset = mnist run: its data.path)\n"
           "  --model FILE      feature network (default %s; from --ckpt: the run's\n"
           "                    train.eval_model, for mnist %s)\n"
           "  --orientation     images: also check that G does not draw turned or mirrored images\n"
           "                    more often than the data (augmentation leaks): a detector of the 8\n"
           "                    orientations learns on --ref's training split (about a minute)\n"
           "  --orientation-images N  train the detector on the first N training images (default all)\n\n"
           "Images: FID, KID, precision/recall and class coverage on the shipped classifier's\n"
           "128-d features against the 10,000 test images; for a class-conditional checkpoint\n"
           "of Fashion-MNIST (or digits) also the share of samples classified as the class they\n"
           "were drawn for (class accuracy; sample i is of class i mod 10). Points: modes covered, percent high\n"
           "quality, reverse KL (protocols.md); the JSON's mode_metric names the definition.\n",
           GT_PACGAN_LATENT_SEED, DEFAULT_REF, GT_CLASSIFIER_DEFAULT_PATH,
           GT_CLASSIFIER_DIGITS_PATH);
}

static int take_mixture(const gt_opt *o, const char *v) {
    if (!v || (strcmp(v, "ring") != 0 && strcmp(v, "grid") != 0))
        return gt_cli_usage("eval", "--mixture must be ring or grid");
    *(const char **)o->dest = v;
    return 0;
}

static int take_mode_metric(const gt_opt *o, const char *v) {
    if (!v || gt_mode_metric_parse(v, (gt_mode_metric *)o->dest) < 0)
        return gt_cli_usage("eval", "--mode-metric must be gantry or pacgan");
    return 0;
}

/* PacGAN's definition fixes the checkpoint's samples: 2,500 from its latents. */
static int check_pacgan_draws(const eval_args *a, bool seed_given) {
    if (a->mode_metric != GT_MODE_METRIC_PACGAN || !a->ckpt) return 0;
    if (seed_given)
        return gt_cli_usage("eval", "--seed with --mode-metric pacgan: PacGAN's metric draws its "
                                    "samples from fixed latents (seed %d)", GT_PACGAN_LATENT_SEED);
    if (a->n > 0 && a->n != GT_PACGAN_EVAL_SAMPLES)
        return gt_cli_usage("eval", "--n %lld with --mode-metric pacgan: PacGAN's metric scores %d "
                                    "samples", a->n, GT_PACGAN_EVAL_SAMPLES);
    return 0;
}

static int parse(int argc, char **argv, eval_args *a) {
    *a = (eval_args){.ref = DEFAULT_REF, .model = GT_CLASSIFIER_DEFAULT_PATH, .n = -1, .seed = -1};
    const char *ref = NULL, *model = NULL; /* given: the run's own are not looked up */
    const gt_opt opts[] = {
        GT_OPT_TEXT_("--ckpt", &a->ckpt, "a file"),
        GT_OPT_TEXT_("--samples", &a->samples, "a .npy file"),
        GT_OPT_CALL_("--mixture", &a->mixture, take_mixture),
        GT_OPT_TEXT_("--ref", &ref, "a folder"),
        GT_OPT_TEXT_("--model", &model, "a file"),
        GT_OPT_INT_("--n", &a->n, 2, 1000000, NULL),
        GT_OPT_INT_("--seed", &a->seed, 0, 0, NULL),
        GT_OPT_CALL_("--mode-metric", &a->mode_metric, take_mode_metric),
        GT_OPT_FLAG_("--orientation", &a->orientation),
        GT_OPT_INT_("--orientation-images", &a->orientation_images, 32, 100000000, NULL),
        GT_OPT_END,
    };
    gt_opts p = {"eval", opts, help, NULL, NULL};
    int rc = gt_opts_parse(&p, argc, argv);
    if (rc) return rc;
    if ((a->ref_given = ref != NULL)) a->ref = ref;
    if ((a->model_given = model != NULL)) a->model = model;
    if (!a->ckpt == !a->samples) return gt_cli_usage("eval", "needs exactly one of --ckpt and --samples");
    if (a->orientation_images && !a->orientation)
        return gt_cli_usage("eval", "--orientation-images needs --orientation");
    bool seed_given = a->seed >= 0;
    if (!seed_given) a->seed = 0;
    return check_pacgan_draws(a, seed_given);
}

static void print_points(const gt_eval_result *r) {
    const gt_mode_scores *s = &r->points;
    bool pacgan = s->metric == GT_MODE_METRIC_PACGAN;
    printf("samples       N = %lld points, %s mixture (protocols.md, sigma %g)\n", (long long)r->n,
           r->mixture, s->sigma);
    printf("definition    %s\n", pacgan ? "pacgan (Lin et al. 2018): nearest mode in units of its "
                                          "std, high quality below 3 std"
                                        : "gantry (protocols.md): nearest centre, high quality "
                                          "within 3 sigma");
    printf("modes         %d of %d covered (a high-quality point falls to the mode)\n", s->modes_covered, s->n_modes);
    printf("high quality  %.1f%%\n", s->pct_high_quality);
    char kl[64] = "undefined: no high-quality point";
    if (isfinite(s->reverse_kl)) snprintf(kl, sizeof kl, "%.6g", s->reverse_kl);
    printf("reverse KL    %s (KL of the high-quality mode histogram to uniform)\n", kl);
}

static void print_agreement(const gt_class_agreement *g) {
    printf("class acc.    %.2f%% of the samples classified as the class they were drawn for; "
           "per class:", 100 * g->accuracy);
    for (int k = 0; k < 10; k++) printf(" %d: %.0f%%", k, 100 * g->per_class[k]);
    printf("\n");
}

/* Classes as "5, 7, 9" (or "none"). */
static void class_list(char *buf, size_t cap, uint32_t bits) {
    buf[0] = '\0';
    for (int c = 0; c < GT_CLASSIFIER_CLASSES; c++)
        if (bits >> c & 1u) snprintf(buf + strlen(buf), cap - strlen(buf), "%s%d", buf[0] ? ", " : "", c);
    if (!buf[0]) snprintf(buf, cap, "none");
}

static void print_orientation(const gt_orientation_scores *o) {
    char classes[64];
    class_list(classes, sizeof classes, o->handed_classes);
    printf("orientation   detector right on %.1f%% of the test images' 8 orientations\n",
           100 * o->detector_accuracy);
    printf("  turned      samples %.2f%%, upright test images %.2f%% (called turned by 90, 180 or 270 degrees)\n",
           100 * o->rotated, 100 * o->ref_rotated);
    printf("  mirrored    samples %.2f%% of %lld, test images %.2f%% of %lld (classes with a clear "
           "handedness: %s)\n", 100 * o->mirrored, (long long)o->n_handed, 100 * o->ref_mirrored,
           (long long)o->n_ref_handed, classes);
}

static void print_images(const gt_eval_result *r, const char *model) {
    const gt_image_scores *s = &r->images;
    printf("samples       N = %lld\n", (long long)r->n);
    printf("reference     %s test split, N = %lld\n", r->ref_name, (long long)s->n_ref);
    printf("features      %s: 128-d penultimate layer, test accuracy %.2f%%\n", model,
           100 * r->feature_accuracy);
    printf("FID           %.3f (means and covariances in double; matrix square root by a "
           "symmetric eigendecomposition)\n", s->fid);
    printf("KID           %.5f +- %.5f (cubic kernel, 100 subsets of 1,000)\n", s->kid, s->kid_stderr);
    printf("precision     %.4f  recall %.4f (k = 3, Kynkaanniemi et al. 2019)\n", s->precision, s->recall);
    printf("classes       %d of 10 covered; KL of the predicted-class histogram to uniform %.4f\n",
           s->classes_covered, s->class_kl);
    if (r->has_agreement) print_agreement(&r->agreement);
    if (r->has_orientation) print_orientation(&r->orientation);
}

static void print_stacked(const gt_eval_result *r) {
    printf("samples       N = %lld stacked Fashion-MNIST images (three classified channels; "
           "protocol: 26,000)\n", (long long)r->n);
    printf("modes         %d of 1000 class triples covered\n", r->stacked.modes_covered);
    printf("reverse KL    %.4f (KL of the triple histogram to uniform)\n", r->stacked.kl);
    const gt_image_scores *s = &r->images;
    printf("channels      the first %lld channels as Fashion-MNIST images, against %s test split "
           "(N = %lld):\n", (long long)s->n, r->ref_name, (long long)s->n_ref);
    printf("              FID %.3f, KID %.5f +- %.5f, precision %.4f, recall %.4f\n", s->fid, s->kid,
           s->kid_stderr, s->precision, s->recall);
}

/* A .npy of samples scored with the options' feature network, reference and mixture. */
static int score_file(const eval_args *a, const gt_orientation_cfg *orient, gt_eval_result *r,
                      gt_error *err) {
    int64_t shape[GT_MAX_DIMS];
    int nd = 0;
    float *x = gt_npy_read(a->samples, &nd, shape, err);
    if (!x) return -1;
    gt_eval_setup setup = {.model = a->model, .ref = a->ref, .mixture = a->mixture,
                           .mode_metric = a->mode_metric, .orientation = orient};
    int rc = 0;
    if (nd == 2 && shape[1] == 2 && !a->mixture)
        rc = gt_cli_usage("eval", "%s holds 2-D points: name the mixture with --mixture", a->samples);
    else if (gt_eval_samples(x, nd, shape, &setup, r, err) < 0)
        rc = -1;
    free(x);
    return rc;
}

/* One JSON value in the style of metrics.jsonl: ", " and ": " between items, numbers as %.6g
 * (integers whole), null for NaN and infinities (JSON has neither). */
static void print_json_value(const cJSON *v) {
    if (cJSON_IsNumber(v)) {
        double x = v->valuedouble;
        if (!isfinite(x)) printf("null");
        else if (x == floor(x) && fabs(x) < 1e15) printf("%.0f", x);
        else printf("%.6g", x);
    } else if (cJSON_IsObject(v) || cJSON_IsArray(v)) {
        bool object = cJSON_IsObject(v);
        putchar(object ? '{' : '[');
        for (const cJSON *c = v->child; c; c = c->next) {
            if (object) printf("\"%s\": ", c->string);
            print_json_value(c);
            if (c->next) printf(", ");
        }
        putchar(object ? '}' : ']');
    } else {
        char *text = cJSON_PrintUnformatted(v); /* strings (escaped), booleans, null */
        printf("%s", text ? text : "null");
        free(text);
    }
}

/* The result as one JSON line, the last line of the output, for scripts. */
static void print_json_line(const gt_eval_result *r) {
    cJSON *j = gt_eval_result_json(r);
    print_json_value(j);
    putchar('\n');
    cJSON_Delete(j);
}

int gt_cmd_eval(int argc, char **argv) {
    eval_args a;
    int rc = parse(argc, argv, &a);
    if (rc) return rc == GT_OPTS_DONE ? 0 : rc;
    gt_error err;
    gt_eval_result r;
    gt_orientation_cfg orient_cfg = {.train_images = a.orientation_images,
                                     .epochs = ORIENTATION_EPOCHS, .seed = ORIENTATION_SEED};
    const gt_orientation_cfg *orient = a.orientation ? &orient_cfg : NULL;
    if (a.ckpt) {
        gt_score_request req = {.n = a.n, .seed = a.seed, .model = a.model_given ? a.model : NULL,
                                .ref = a.ref_given ? a.ref : NULL, .mode_metric = a.mode_metric,
                                .orientation = orient};
        rc = gt_score_checkpoint(a.ckpt, &req, &r, &err);
    } else {
        rc = score_file(&a, orient, &r, &err);
    }
    if (rc > 0) return rc;
    if (rc < 0) {
        rc = gt_cli_fail("%s%s%s", a.samples ? a.samples : "", a.samples ? ": " : "", err.msg);
    } else if (r.kind == GT_EVAL_POINTS) {
        print_points(&r);
    } else if (r.kind == GT_EVAL_STACKED) {
        print_stacked(&r);
    } else {
        print_images(&r, a.ckpt && !a.model_given ? r.model : a.model);
    }
    if (rc == 0) print_json_line(&r);
    gt_runtime_free();
    return rc;
}
