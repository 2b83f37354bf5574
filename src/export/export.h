/* Exporting a trained generator: an ONNX file of G (export_onnx.c) and a self-contained web
 * page that runs it in the browser with ONNX Runtime Web (export_web.c). Both read G's EMA
 * weights when the checkpoint has them, in evaluation mode. */
#ifndef GT_EXPORT_EXPORT_H
#define GT_EXPORT_EXPORT_H

#include "train/trainer.h"

/* StyleGAN2's noise inputs: G's own constant noise maps (what gantry sample uses), maps drawn
 * N(0, 1) from a seed, or graph inputs noise_<layer> [N, 1, H, W]. */
typedef enum { GT_EXPORT_NOISE_CONST, GT_EXPORT_NOISE_SEEDED, GT_EXPORT_NOISE_INPUT } gt_export_noise;

typedef struct {
    gt_export_noise noise;
    uint64_t noise_seed;    /* GT_EXPORT_NOISE_SEEDED */
} gt_export_options;

/* What an exported G takes and gives, for the web page and for messages. */
typedef struct {
    int64_t z_dim;
    int n_classes;          /* 0: unconditional */
    bool truncation;        /* has the psi input */
    bool points;            /* output [N, 2] rather than images */
    int c, h, w;
    char family[64];
} gt_export_info;

/* Writes G of the trainer's checkpoint to path as ONNX (opset 17, batch axis "N"): inputs z
 * float [N, z_dim], label int64 [N] (conditional G), psi float [1] (StyleGAN2); output image
 * float [N, c, h, w], gantry sample's values (points [N, 2] for 2-D data). -1 with err naming
 * the layer when a layer cannot be written. info (may be NULL) gets what the file takes. */
int gt_export_onnx(gt_trainer *t, const gt_export_options *o, const char *path,
                   gt_export_info *info, gt_error *err);

/* Writes dir/index.html, dir/generator.onnx, dir/model.json and the runtime files of ONNX
 * Runtime Web copied from ort_dir (an npm package's dist/ folder): a page that draws a grid of
 * samples. -1 with err set (a missing runtime file names it). */
int gt_export_web(gt_trainer *t, const gt_export_options *o, const char *dir, const char *ort_dir,
                  gt_error *err);

#endif
