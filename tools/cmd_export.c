/* gantry export: G of a checkpoint as an ONNX file, or as a web page that runs it in the
 * browser (src/export/). The exporter needs protobuf-c at build time; a gantry built without it
 * says which Debian packages to install. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "options.h"
#include "train/trainer.h"
#if GANTRY_ONNX
#include "export/export.h"
#endif

static void export_help(void *ctx) {
    (void)ctx;
    printf("usage: gantry export --ckpt FILE --format onnx|web --out PATH [options]\n\n"
           "  --ckpt FILE      a checkpoint written by gantry train\n"
           "  --format onnx    PATH is the ONNX file (opset 17, batch axis N): inputs z float\n"
           "                   [N, z_dim], label int64 [N] (conditional G), psi float [1]\n"
           "                   (stylegan2 truncation, 1: none); output image [N, C, H, W], the\n"
           "                   values gantry sample gives (points [N, 2] for 2-D data)\n"
           "  --format web     PATH is a folder: index.html, generator.onnx, model.json and the\n"
           "                   ONNX Runtime Web files, viewable offline (python3 -m http.server)\n"
           "  --noise const    (stylegan2) G's own constant noise maps, as gantry sample (default)\n"
           "  --noise seed:S   noise maps drawn N(0, 1) from seed S, baked into the file\n"
           "  --noise input    noise maps as inputs noise_<layer> [N, 1, H, W]\n"
           "  --ort-web DIR    (web) onnxruntime-web's dist/ folder to copy the runtime from;\n"
           "                   default: $GANTRY_ORT_WEB, else node_modules/onnxruntime-web/dist\n"
           "                   under the current folder or tests/npm, /usr/local/lib and /usr/lib\n"
           "Weights are G's EMA copy when the checkpoint has one, in evaluation mode (batch norm\n"
           "with running statistics, spectral norm folded into the weights). docs/export.md.\n");
}

#if GANTRY_ONNX
/* --noise const | input | seed:S */
static int parse_noise(const char *v, gt_export_options *o) {
    long long seed;
    if (strcmp(v, "const") == 0) {
        o->noise = GT_EXPORT_NOISE_CONST;
    } else if (strcmp(v, "input") == 0) {
        o->noise = GT_EXPORT_NOISE_INPUT;
    } else if (strncmp(v, "seed:", 5) == 0 && gt_cli_parse_i64(v + 5, &seed)) {
        o->noise = GT_EXPORT_NOISE_SEEDED;
        o->noise_seed = (uint64_t)seed;
    } else {
        return gt_cli_usage("export", "--noise must be const, input or seed:S (S a non-negative "
                                      "integer), got '%s'", v);
    }
    return 0;
}

static int run_export(const char *ckpt, const char *format, const char *out, const char *noise,
                      const char *ort_web) {
    gt_export_options o = {GT_EXPORT_NOISE_CONST, 0};
    if (noise) {
        int rc = parse_noise(noise, &o);
        if (rc) return rc;
    }
    gt_trainer t;
    gt_error err;
    if (gt_cli_open_checkpoint(ckpt, &t, &err) < 0) return gt_cli_fail("%s", err.msg);
    if (noise && !t.style) {
        gt_trainer_free(&t);
        return gt_cli_fail("--noise is for StyleGAN2 generators; this checkpoint's G is %s",
                           t.cfg.g_family);
    }
    int rc = strcmp(format, "onnx") == 0 ? gt_export_onnx(&t, &o, out, NULL, &err)
                                         : gt_export_web(&t, &o, out, ort_web, &err);
    gt_trainer_free(&t);
    gt_runtime_free();
    if (rc < 0) return gt_cli_fail("%s", err.msg);
    printf("wrote %s (%s)\n", out, strcmp(format, "onnx") == 0 ? "ONNX, opset 17" : "web page");
    return 0;
}
#endif

int gt_cmd_export(int argc, char **argv) {
    const char *ckpt = NULL, *format = NULL, *out = NULL, *noise = NULL, *ort_web = NULL;
    const gt_opt opts[] = {
        GT_OPT_TEXT_("--ckpt", &ckpt, "a file"),
        GT_OPT_TEXT_("--format", &format, "onnx or web"),
        GT_OPT_TEXT_("--out", &out, "a file or folder"),
        GT_OPT_TEXT_("--noise", &noise, "const, input or seed:S"),
        GT_OPT_TEXT_("--ort-web", &ort_web, "a folder"),
        GT_OPT_END,
    };
    gt_opts p = {"export", opts, export_help, NULL, NULL};
    int rc = gt_opts_parse(&p, argc, argv);
    if (rc) return rc == GT_OPTS_DONE ? 0 : rc;
    if (!ckpt || !format || !out)
        return gt_cli_usage("export", "needs --ckpt FILE, --format onnx|web and --out PATH");
    if (strcmp(format, "onnx") != 0 && strcmp(format, "web") != 0)
        return gt_cli_usage("export", "--format must be onnx or web, got '%s'", format);
#if GANTRY_ONNX
    return run_export(ckpt, format, out, noise, ort_web);
#else
    return gt_cli_fail("export: this gantry was built without ONNX support, which needs "
                       "protobuf-c: install the Debian packages libprotobuf-c-dev and "
                       "protobuf-c-compiler (apt-get install libprotobuf-c-dev protobuf-c-compiler), "
                       "then rebuild (make)");
#endif
}
