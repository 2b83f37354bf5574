/* Datasets and minibatches: IDX files (MNIST, Fashion-MNIST), folders of PNG images, the
 * synthetic 2-D mixtures of docs/protocols.md, and a loader that hands out deterministic
 * shuffled batches, optionally assembled ahead of time on a prefetch thread. */
#ifndef GT_DATA_H
#define GT_DATA_H

#include <stdbool.h>
#include <stdint.h>

#include "gantry.h"

typedef struct gt_dataset {
    int64_t n;            /* examples */
    int c, h, w;          /* images: channels, height, width; 2-D points: c = 2, h = w = 1 */
    float *x;             /* [n, c, h, w], pixels scaled to [-1, 1] (points: raw coordinates) */
    int32_t *labels;      /* [n] or NULL */
    int n_classes;        /* 0 when unlabelled */
    char name[64];        /* "fashion-mnist", "png:DIR", "ring", "grid" */
} gt_dataset;

/* IDX (optionally gzip-compressed, detected by magic 1f 8b; read through zlib's gzopen/gzread)
 * images file (magic 0x00000803, u8 pixels) and optional labels file (0x00000801; labels_path
 * may be NULL). Pixels p map to p / 127.5 - 1; n_classes = largest label + 1. The name is
 * "idx:" followed by the images path. */
gt_dataset *gt_data_load_idx(const char *images_path, const char *labels_path, gt_error *err);
/* Fashion-MNIST / MNIST by directory: dir/train-images-idx3-ubyte(.gz) etc.; split "train" or
 * "test" (files t10k-*). The name is the directory's last component ("fashion-mnist"). */
gt_dataset *gt_data_load_mnist_dir(const char *dir, const char *split, gt_error *err);
/* Every *.png in dir (sorted by name for determinism) via libpng: gray, gray+alpha, RGB, RGBA,
 * palette, 8 or 16 bit all accepted; alpha is dropped; converted to `channels` (1: luminance
 * 0.299 R + 0.587 G + 0.114 B, 3: RGB, gray replicated); centre-cropped to a square and resized
 * (area averaging when shrinking, bilinear with half-pixel centres when enlarging) to
 * resolution x resolution. Unlabelled, unless dir holds no *.png of its own but sub-folders
 * (names not starting with '.'): then each sub-folder is a class, labelled by its position among
 * the sub-folder names sorted by strcmp (n_classes = their count), examples in that order, and
 * every sub-folder must hold at least one *.png. */
gt_dataset *gt_data_load_png_dir(const char *dir, int channels, int resolution, gt_error *err);
/* Synthetic mixtures of protocols.md: "ring" (8 Gaussians at radius `radius` default 1, sigma
 * 0.01; mode k at radius (cos 2 pi k/8, sin 2 pi k/8)) or "grid" (25 at {-4,-2,0,2,4}^2, sigma
 * 0.05; radius, default 4, is the outermost coordinate; mode 5 i + j at (g[i], g[j])); n points
 * drawn with Philox from seed; labels = the mode index; n_classes 8 / 25. radius/sigma <= 0
 * mean the protocol defaults. */
gt_dataset *gt_data_make_mixture(const char *kind, int64_t n, float radius, float sigma,
                                 uint64_t seed, gt_error *err);
/* The centres of a mixture (radius <= 0: the default) written to centres [k, 2] when not NULL;
 * returns k (8 or 25), or -1 with err filled for an unknown kind. */
int gt_data_mixture_centres(const char *kind, float radius, float *centres, gt_error *err);
/* Stacked data (the Stacked MNIST protocol): n examples of three images of base (gray, 10
 * classes) drawn independently by Philox from seed, as three channels; labels 100 a + 10 b + c,
 * n_classes 1000. */
gt_dataset *gt_data_make_stacked(const gt_dataset *base, int64_t n, uint64_t seed, gt_error *err);
void gt_dataset_free(gt_dataset *ds);
/* Limited data and a held-out set: *held gets `holdout` examples and *train `limit` others
 * (limit 0: all the others, as they come), class-balanced when ds is labelled (each class gets
 * n / classes, the first n % classes classes one more) and taken in a random order fixed by
 * seed, each kept in ds's order. *held is NULL when holdout is 0. -1 with err naming the key
 * when ds has too few examples (of a class). */
int gt_data_split(const gt_dataset *ds, int64_t holdout, int64_t limit, uint64_t seed,
                  gt_dataset **train, gt_dataset **held, gt_error *err);
/* A copy of ds with every image centred on a side x side canvas of `value` (the background:
 * -1 for IDX data), e.g. Fashion-MNIST's 28x28 padded by 2 pixels to 32x32: no interpolation,
 * the pixels stay exact. side - h and side - w must be even and >= 0. */
gt_dataset *gt_data_pad(const gt_dataset *ds, int side, float value, gt_error *err);

/* Minibatches in a shuffled order: the permutation of epoch e is a function of (seed, e) only
 * (Fisher-Yates driven by Philox keyed by seed, counter from e), so the order never depends on
 * threads or timing. An optional prefetch thread (pthreads) assembles the next batch while the
 * caller trains; results are identical with or without prefetch. Batches never straddle
 * epochs: the last partial batch of an epoch is dropped (n >= batch required, else error).
 * The loader reads ds while it lives; ds must outlive it. */
typedef struct gt_loader gt_loader;
/* index: position of the next batch within the epoch's order, 0 <= index < n / batch */
typedef struct gt_loader_state { uint64_t seed, epoch, index; } gt_loader_state;
gt_loader *gt_loader_new(const gt_dataset *ds, int batch, uint64_t seed, bool prefetch,
                         gt_error *err);
/* Copies the next batch: x [batch, c, h, w] and labels [batch] (labels may be NULL; they are
 * -1 when the dataset has none). */
void gt_loader_next(gt_loader *l, float *x, int32_t *labels);
gt_loader_state gt_loader_state_get(const gt_loader *l);   /* state AFTER the batches handed out so far */
void gt_loader_state_set(gt_loader *l, gt_loader_state s); /* resume exactly (discards any prefetched batch) */
void gt_loader_free(gt_loader *l);

/* ---- Your own data ---------------------------------------------------------------------- */
/* A dataset of n examples of c x h x w with x allocated (uninitialised: fill it with values in
 * [-1, 1], examples row-major), labels allocated when labelled (fill with 0 .. classes - 1), and
 * name copied (truncated to fit); NULL with err filled when a size is out of range or memory
 * runs out. Every loader in src/data/ builds its dataset with it; free with gt_dataset_free. */
gt_dataset *gt_dataset_new(int64_t n, int c, int h, int w, bool labelled, const char *name,
                              gt_error *err);

#endif
