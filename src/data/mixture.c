/* The synthetic 2-D Gaussian mixtures of docs/protocols.md (ring of 8, grid of 25). Point i
 * takes one Philox block keyed by the seed at counter (i, 2^64 - 1): two lanes pick its mode,
 * two give its Gaussian offset, so every point is a function of (seed, i) alone. */
#include <math.h>
#include <string.h>

#include "base/base.h"
#include "data/registry.h"

#define MIX_PI GT_PI
#define MIX_RING_MODES 8
#define MIX_GRID_SIDE 5
#define MIX_GRID_MODES (MIX_GRID_SIDE * MIX_GRID_SIDE)

typedef struct {
    const char *kind;
    int modes;
    float radius, sigma; /* protocol defaults */
} mix_kind;

static const mix_kind mix_kinds[] = {
    {"ring", MIX_RING_MODES, 1.0f, 0.01f},
    {"grid", MIX_GRID_MODES, 4.0f, 0.05f},
};

static const mix_kind *mix_find(const char *kind, gt_error *err) {
    for (size_t i = 0; i < sizeof mix_kinds / sizeof mix_kinds[0]; i++) {
        if (strcmp(kind, mix_kinds[i].kind) == 0) return &mix_kinds[i];
    }
    gt_error_set(err, "unknown mixture \"%s\"; expected \"ring\" or \"grid\"", kind);
    return NULL;
}

/* centres [modes, 2] */
static void mix_centres(const mix_kind *k, float radius, float *centres) {
    for (int m = 0; m < k->modes; m++) {
        if (k->modes == MIX_RING_MODES) {
            double a = 2.0 * MIX_PI * m / MIX_RING_MODES;
            centres[2 * m] = (float)(radius * cos(a));
            centres[2 * m + 1] = (float)(radius * sin(a));
        } else {
            double step = 2.0 * radius / (MIX_GRID_SIDE - 1);
            centres[2 * m] = (float)(-radius + step * (m / MIX_GRID_SIDE));
            centres[2 * m + 1] = (float)(-radius + step * (m % MIX_GRID_SIDE));
        }
    }
}

int gt_data_mixture_centres(const char *kind, float radius, float *centres, gt_error *err) {
    const mix_kind *k = mix_find(kind, err);
    if (!k) return -1;
    if (centres) mix_centres(k, radius > 0 ? radius : k->radius, centres);
    return k->modes;
}

/* Point i: mode from lanes 0-1 (a 64-bit draw, bias below 2^-59), offset by Box-Muller on
 * lanes 2-3 (u1 in (0, 1] keeps the log finite). xy [2] */
static int32_t mix_point(const float *centres, int modes, float sigma, uint64_t seed, int64_t i,
                         float *xy) {
    const uint32_t ctr[4] = {(uint32_t)i, (uint32_t)((uint64_t)i >> 32), ~0u, ~0u};
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    uint32_t w[4];
    gt_philox4x32_10(w, ctr, key);
    int32_t m = (int32_t)((((uint64_t)w[0] << 32) | w[1]) % (uint64_t)modes);
    double u1 = ((w[2] >> 8) + 1) * 0x1p-24, theta = 2.0 * MIX_PI * (w[3] >> 8) * 0x1p-24;
    double r = sqrt(-2.0 * log(u1));
    xy[0] = centres[2 * m] + (float)(sigma * r * cos(theta));
    xy[1] = centres[2 * m + 1] + (float)(sigma * r * sin(theta));
    return m;
}

gt_dataset *gt_data_make_mixture(const char *kind, int64_t n, float radius, float sigma,
                                 uint64_t seed, gt_error *err) {
    const mix_kind *k = mix_find(kind, err);
    if (!k) return NULL;
    gt_dataset *ds = gt_dataset_new(n, 2, 1, 1, true, kind, err);
    if (!ds) return NULL;
    float centres[2 * MIX_GRID_MODES];
    mix_centres(k, radius > 0 ? radius : k->radius, centres);
    sigma = sigma > 0 ? sigma : k->sigma;
    for (int64_t i = 0; i < n; i++) {
        ds->labels[i] = mix_point(centres, k->modes, sigma, seed, i, ds->x + 2 * i);
    }
    ds->n_classes = k->modes;
    return ds;
}

/* ---- the registry entries (registry.h) ---- */

static void point_shape(const gt_config *cfg, int *c, int *h, int *w) {
    (void)cfg;
    *c = 2;
    *h = *w = 1;
}

static gt_dataset *load_ring(const gt_config *cfg, uint64_t seed, gt_error *err) {
    return gt_data_make_mixture("ring", cfg->data_n_points, 0, 0, seed, err);
}

static gt_dataset *load_grid(const gt_config *cfg, uint64_t seed, gt_error *err) {
    return gt_data_make_mixture("grid", cfg->data_n_points, 0, 0, seed, err);
}

/* The protocol scores 2,500 points. */
const gt_dataset_kind gt_dataset_ring = {.name = "ring", .eval = GT_DATA_EVAL_POINTS,
                                         .mixture = true, .has_classes = true,
                                         .eval_samples = 2500, .plot_extent = 1.5f,
                                         .shape = point_shape, .load_train = load_ring};
const gt_dataset_kind gt_dataset_grid = {.name = "grid", .eval = GT_DATA_EVAL_POINTS,
                                         .mixture = true, .has_classes = true,
                                         .eval_samples = 2500, .plot_extent = 6.0f,
                                         .shape = point_shape, .load_train = load_grid};
