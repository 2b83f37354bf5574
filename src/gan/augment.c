/* Augmentation (augment.h). Every function maps x [N, C, H, W] to an image of the same shape
 * with per-sample parameters read from the draws:
 *
 * DiffAugment (the authors' DiffAugment_pytorch.py), always applied, in the order color,
 * translation, cutout; uniforms u[:, 0..6]:
 *   color: x + (u0 - 0.5); then (x - mean_c) * 2 u1 + mean_c (mean over channels, per pixel);
 *          then (x - mean) * (u2 + 0.5) + mean (mean over the sample)
 *   translation: integer shifts t = floor(u (2 s + 1)) - s, s = round(side / 8), rows by u3,
 *          columns by u4: y[i, j] = x[i + t_r, j + t_c], 0 outside the image
 *   cutout: a square of round(side / 2) zeroed, centred at floor(u (side + 1 - size % 2)) by
 *          u5 (rows) and u6 (columns), clipped to the image
 *
 * ADA (Karras et al. 2020, its "bgc" pipeline and cutout), each transform applied to a sample
 * when its gate u < p; images in [-1, 1] (0 is mid grey):
 *   geometric, one resampling of the composed inverse map (centred pixel coordinates):
 *     xflip (u0 gate, u1 < 0.5 flips), rotate90 (u2 gate, floor(4 u3) quarter turns; square
 *     images only), integer translation (u4 gate, round((2 u - 1) / 8 x side) pixels by u5
 *     along columns and u6 along rows), isotropic scaling (u7 gate, 2^(0.2 g0));
 *     bilinear taps, reflected at the borders (ADA resamples with a wavelet filter; integer
 *     transforms land on pixel centres, where bilinear is exact)
 *   color, one 4x4 matrix per sample: brightness + 0.2 g1 (u8 gate), contrast x 2^(0.5 g2)
 *     (u9), hue rotation about the luma axis by (2 u11 - 1) pi (u10; RGB), saturation
 *     2^(g3) away from the luma axis (u12; RGB)
 *   cutout (u13 gate): a square of half the side zeroed around (u14, u15) of the image.
 *
 * The parameters are constants; the image flows through ops (add, mul, means, gather), so the
 * result differentiates in x to any order. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine.h"
#include "gan/augment.h"

#define PI 3.14159265358979323846

bool gt_augment_on(const gt_augment_spec *s) { return s->policy != GT_AUGMENT_NONE; }

/* ---- names ------------------------------------------------------------------------------------ */

typedef struct {
    const char *name;
    unsigned bit;
} op_name;

static const op_name diff_names[] = {
    {"color", GT_DIFF_COLOR}, {"translation", GT_DIFF_TRANSLATION}, {"cutout", GT_DIFF_CUTOUT}};
static const op_name ada_names[] = {
    {"xflip", GT_ADA_XFLIP},           {"rotate90", GT_ADA_ROTATE90},
    {"translation", GT_ADA_TRANSLATION}, {"scale", GT_ADA_SCALE},
    {"brightness", GT_ADA_BRIGHTNESS}, {"contrast", GT_ADA_CONTRAST},
    {"hue", GT_ADA_HUE},               {"saturation", GT_ADA_SATURATION},
    {"cutout", GT_ADA_CUTOUT}};

static void list_names(const op_name *names, int n, char *buf, size_t cap) {
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        size_t len = strlen(buf);
        snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", names[i].name);
    }
}

int gt_augment_parse_ops(gt_augment_policy policy, const char *list, unsigned *ops, gt_error *err) {
    const op_name *names = policy == GT_AUGMENT_ADA ? ada_names : diff_names;
    int n = policy == GT_AUGMENT_ADA ? (int)(sizeof ada_names / sizeof *ada_names)
                                     : (int)(sizeof diff_names / sizeof *diff_names);
    const char *key = policy == GT_AUGMENT_ADA ? "augment.ada" : "augment.diffaugment";
    char buf[256], known[256];
    snprintf(buf, sizeof buf, "%s", list);
    *ops = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        int i = 0;
        while (i < n && strcmp(names[i].name, tok) != 0) i++;
        if (i == n) {
            list_names(names, n, known, sizeof known);
            return gt_error_set(err, "config: %s: unknown function '%s' (expected a comma-separated "
                                     "list of: %s)", key, tok, known);
        }
        *ops |= names[i].bit;
    }
    if (*ops == 0) return gt_error_set(err, "config: %s is empty: name at least one function", key);
    return 0;
}

/* ---- draws ------------------------------------------------------------------------------------ */

gt_augment_draws gt_augment_draw(gt_rng *rng, int64_t n) {
    int64_t us[2] = {n, GT_AUGMENT_UNIFORMS}, gs[2] = {n, GT_AUGMENT_NORMALS};
    bool prev = gt_grad_set(false);
    gt_augment_draws d = {gt_rand_uniform(rng, 2, us, 0.0f, 1.0f), gt_rand_normal(rng, 2, gs, 0, 1)};
    gt_grad_set(prev);
    return d;
}

gt_augment_draws gt_augment_rows(gt_augment_draws d, int64_t from, int64_t to) {
    return (gt_augment_draws){gt_slice(d.u, 0, from, to), gt_slice(d.g, 0, from, to)};
}

/* The draws on the host: u [N][16], g [N][8]. */
typedef struct {
    float *u, *g;
    int64_t n;
} host_draws;

static host_draws to_host(gt_augment_draws d) {
    host_draws h = {gt_step_alloc_((size_t)(d.u->numel) * sizeof(float)),
                    gt_step_alloc_((size_t)(d.g->numel) * sizeof(float)), d.u->shape[0]};
    gt_copy_to(h.u, d.u);
    gt_copy_to(h.g, d.g);
    return h;
}

static float U(const host_draws *h, int64_t n, int j) { return h->u[n * GT_AUGMENT_UNIFORMS + j]; }
static float G(const host_draws *h, int64_t n, int j) { return h->g[n * GT_AUGMENT_NORMALS + j]; }

/* Per-sample values [N] as a [N, 1, 1, 1] constant. */
static gt_tensor *per_sample(const float *v, int64_t n) {
    int64_t s[4] = {n, 1, 1, 1};
    return gt_from_data(4, s, v);
}

/* ---- DiffAugment ------------------------------------------------------------------------------ */

static gt_tensor *diff_color(gt_tensor *x, const host_draws *h) {
    int64_t n = h->n;
    float *b = gt_step_alloc_((size_t)n * 3 * sizeof *b), *s = b + n, *c = b + 2 * n;
    for (int64_t i = 0; i < n; i++) {
        b[i] = U(h, i, 0) - 0.5f;
        s[i] = U(h, i, 1) * 2.0f;
        c[i] = U(h, i, 2) + 0.5f;
    }
    int channel = 1, sample[3] = {1, 2, 3};
    x = gt_add(x, per_sample(b, n));
    gt_tensor *m = gt_mean(x, 1, &channel, true);
    x = gt_add(gt_mul(gt_sub(x, m), per_sample(s, n)), m);
    m = gt_mean(x, 3, sample, true);
    return gt_add(gt_mul(gt_sub(x, m), per_sample(c, n)), m);
}

/* floor(u * k) as an int in [0, k) (u in [0, 1); a float product may round up to k). */
static int64_t uniform_int(float u, int64_t k) {
    int64_t v = (int64_t)floor((double)u * (double)k);
    return v < k ? v : k - 1;
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

/* y[i, j] = x[i + t_r, j + t_c], 0 outside: a gather from x padded by one zero on each side,
 * the source index clamped into the padding (as the reference does). */
static gt_tensor *diff_translation(gt_tensor *x, const host_draws *h) {
    int64_t n = x->shape[0], c = x->shape[1], H = x->shape[2], W = x->shape[3];
    int64_t sr = (int64_t)(H * 0.125 + 0.5), sc = (int64_t)(W * 0.125 + 0.5);
    int64_t before[4] = {0, 0, 1, 1}, after[4] = {0, 0, 1, 1}, Hp = H + 2, Wp = W + 2;
    gt_tensor *padded = gt_pad(x, before, after);
    int64_t *idx = gt_step_alloc_((size_t)x->numel * sizeof *idx);
    for (int64_t s = 0; s < n; s++) {
        int64_t tr = uniform_int(U(h, s, 3), 2 * sr + 1) - sr;
        int64_t tc = uniform_int(U(h, s, 4), 2 * sc + 1) - sc;
        for (int64_t ch = 0; ch < c; ch++)
            for (int64_t i = 0; i < H; i++)
                for (int64_t j = 0; j < W; j++) {
                    int64_t pi = clamp64(i + tr + 1, 0, H + 1), pj = clamp64(j + tc + 1, 0, W + 1);
                    idx[((s * c + ch) * H + i) * W + j] = ((s * c + ch) * Hp + pi) * Wp + pj;
                }
    }
    return gt_gather(padded, idx, 4, x->shape);
}

/* The rows [lo, hi] a cutout of `size` centred at `at` zeroes (the reference's clamped grid). */
static void cutout_span(int64_t at, int64_t size, int64_t side, int64_t *lo, int64_t *hi) {
    int64_t first = at - size / 2;
    *lo = clamp64(first, 0, side - 1);
    *hi = clamp64(first + size - 1, 0, side - 1);
}

static gt_tensor *diff_cutout(gt_tensor *x, const host_draws *h) {
    int64_t n = x->shape[0], H = x->shape[2], W = x->shape[3];
    int64_t size_r = (int64_t)(H * 0.5 + 0.5), size_c = (int64_t)(W * 0.5 + 0.5);
    float *mask = gt_step_alloc_((size_t)(n * H * W) * sizeof *mask);
    for (int64_t s = 0; s < n; s++) {
        int64_t r0, r1, c0, c1;
        cutout_span(uniform_int(U(h, s, 5), H + 1 - size_r % 2), size_r, H, &r0, &r1);
        cutout_span(uniform_int(U(h, s, 6), W + 1 - size_c % 2), size_c, W, &c0, &c1);
        for (int64_t i = 0; i < H; i++)
            for (int64_t j = 0; j < W; j++)
                mask[(s * H + i) * W + j] = (i >= r0 && i <= r1 && j >= c0 && j <= c1) ? 0.0f : 1.0f;
    }
    int64_t ms[4] = {n, 1, H, W};
    return gt_mul(x, gt_from_data(4, ms, mask));
}

static gt_tensor *diffaugment(const gt_augment_spec *s, gt_tensor *x, const host_draws *h) {
    if (s->ops & GT_DIFF_COLOR) x = diff_color(x, h);
    if (s->ops & GT_DIFF_TRANSLATION) x = diff_translation(x, h);
    if (s->ops & GT_DIFF_CUTOUT) x = diff_cutout(x, h);
    return x;
}

/* ---- ADA: geometry ---------------------------------------------------------------------------- */

/* A 2-D affine map on (row, column) coordinates centred on the image: p' = A p + t. */
typedef struct {
    double a[2][2], t[2];
} affine;

static affine identity(void) { return (affine){{{1, 0}, {0, 1}}, {0, 0}}; }

/* m then f: (f . m)(p) = f(m(p)). */
static affine then(affine m, affine f) {
    affine r;
    for (int i = 0; i < 2; i++) {
        for (int j = 0; j < 2; j++) r.a[i][j] = f.a[i][0] * m.a[0][j] + f.a[i][1] * m.a[1][j];
        r.t[i] = f.a[i][0] * m.t[0] + f.a[i][1] * m.t[1] + f.t[i];
    }
    return r;
}

/* The map from an output pixel to the source position it shows (the inverse of the transforms
 * applied to the content: flip, rotation, translation, scaling), and whether it moves anything. */
static affine source_map(const gt_augment_spec *s, const host_draws *h, int64_t n, int64_t H,
                         int64_t W, bool *moved) {
    double p = s->p;
    affine inv = identity(); /* output -> source, built from the last transform back */
    *moved = false;
    if ((s->ops & GT_ADA_SCALE) && U(h, n, 7) < p) {
        double k = 1.0 / exp2(0.2 * G(h, n, 0));
        inv = then(inv, (affine){{{k, 0}, {0, k}}, {0, 0}});
        *moved = true;
    }
    if ((s->ops & GT_ADA_TRANSLATION) && U(h, n, 4) < p) {
        double tc = round((2.0 * U(h, n, 5) - 1.0) * 0.125 * (double)W);
        double tr = round((2.0 * U(h, n, 6) - 1.0) * 0.125 * (double)H);
        inv = then(inv, (affine){{{1, 0}, {0, 1}}, {-tr, -tc}});
        *moved = *moved || tr != 0 || tc != 0;
    }
    if ((s->ops & GT_ADA_ROTATE90) && H == W && U(h, n, 2) < p) {
        int k = (int)uniform_int(U(h, n, 3), 4);
        for (int q = 0; q < k; q++) /* undo a quarter turn: (r, c) -> (c, -r) */
            inv = then(inv, (affine){{{0, 1}, {-1, 0}}, {0, 0}});
        *moved = *moved || k != 0;
    }
    if ((s->ops & GT_ADA_XFLIP) && U(h, n, 0) < p && U(h, n, 1) < 0.5f) {
        inv = then(inv, (affine){{{1, 0}, {0, -1}}, {0, 0}});
        *moved = true;
    }
    return inv;
}

/* An index reflected into [0, n) without repeating the edge (..., 2, 1, 0, 1, 2, ...). */
static int64_t reflect(int64_t i, int64_t n) {
    if (n == 1) return 0;
    int64_t period = 2 * (n - 1);
    i %= period;
    if (i < 0) i += period;
    return i < n ? i : period - i;
}

/* The four bilinear taps of every output pixel: flat indices into x and their weights. */
typedef struct {
    int64_t *idx[4];
    float *w[4]; /* [N, 1, H, W] */
} taps;

static void sample_taps(taps *tp, affine m, int64_t s, int64_t c, int64_t H, int64_t W) {
    double cr = (double)(H - 1) / 2, cc = (double)(W - 1) / 2;
    for (int64_t i = 0; i < H; i++)
        for (int64_t j = 0; j < W; j++) {
            double r = i - cr, q = j - cc;
            double sr = m.a[0][0] * r + m.a[0][1] * q + m.t[0] + cr;
            double sc = m.a[1][0] * r + m.a[1][1] * q + m.t[1] + cc;
            double r0 = floor(sr), c0 = floor(sc), fr = sr - r0, fc = sc - c0;
            int64_t rr[2] = {reflect((int64_t)r0, H), reflect((int64_t)r0 + 1, H)};
            int64_t cc2[2] = {reflect((int64_t)c0, W), reflect((int64_t)c0 + 1, W)};
            double wt[4] = {(1 - fr) * (1 - fc), (1 - fr) * fc, fr * (1 - fc), fr * fc};
            int64_t pix = (s * H + i) * W + j;
            for (int k = 0; k < 4; k++) {
                tp->w[k][pix] = (float)wt[k];
                for (int64_t ch = 0; ch < c; ch++)
                    tp->idx[k][((s * c + ch) * H + i) * W + j] =
                        ((s * c + ch) * H + rr[k / 2]) * W + cc2[k % 2];
            }
        }
}

static gt_tensor *ada_geometry(const gt_augment_spec *s, gt_tensor *x, const host_draws *h) {
    int64_t n = x->shape[0], c = x->shape[1], H = x->shape[2], W = x->shape[3];
    affine *maps = gt_step_alloc_((size_t)n * sizeof *maps);
    bool any = false;
    for (int64_t i = 0; i < n; i++) {
        bool moved;
        maps[i] = source_map(s, h, i, H, W, &moved);
        any = any || moved;
    }
    if (!any) return x;
    taps tp;
    for (int k = 0; k < 4; k++) {
        tp.idx[k] = gt_step_alloc_((size_t)x->numel * sizeof *tp.idx[k]);
        tp.w[k] = gt_step_alloc_((size_t)(n * H * W) * sizeof *tp.w[k]);
    }
    for (int64_t i = 0; i < n; i++) sample_taps(&tp, maps[i], i, c, H, W);
    int64_t ws[4] = {n, 1, H, W};
    gt_tensor *y = NULL;
    for (int k = 0; k < 4; k++) {
        gt_tensor *t = gt_mul(gt_gather(x, tp.idx[k], 4, x->shape), gt_from_data(4, ws, tp.w[k]));
        y = y ? gt_add(y, t) : t;
    }
    return y;
}

/* ---- ADA: color ------------------------------------------------------------------------------- */

/* A color transform on (r, g, b, 1): 4x4, applied as M x. */
typedef struct {
    double m[4][4];
} color4;

static color4 color_identity(void) {
    color4 c = {{{0}}};
    for (int i = 0; i < 4; i++) c.m[i][i] = 1;
    return c;
}

/* f after c: f c. */
static color4 color_then(color4 c, color4 f) {
    color4 r = {{{0}}};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            for (int k = 0; k < 4; k++) r.m[i][j] += f.m[i][k] * c.m[k][j];
    return r;
}

/* Rotation by theta about the luma axis v = (1, 1, 1) / sqrt(3) (Rodrigues). */
static color4 hue_rotation(double theta) {
    double v = 1.0 / sqrt(3.0), co = cos(theta), si = sin(theta);
    double vx[3][3] = {{0, -v, v}, {v, 0, -v}, {-v, v, 0}}; /* [v]x */
    color4 r = color_identity();
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            r.m[i][j] = (i == j ? co : 0) + si * vx[i][j] + (1 - co) * v * v;
    return r;
}

/* v v^T + (I - v v^T) s: scales the color's distance from the luma axis. */
static color4 saturation(double s) {
    color4 r = color_identity();
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) r.m[i][j] = 1.0 / 3 + ((i == j ? 1 : 0) - 1.0 / 3) * s;
    return r;
}

static color4 color_map(const gt_augment_spec *s, const host_draws *h, int64_t n, bool rgb,
                        bool *changed) {
    double p = s->p;
    color4 c = color_identity();
    *changed = false;
    if ((s->ops & GT_ADA_BRIGHTNESS) && U(h, n, 8) < p) {
        color4 t = color_identity();
        for (int i = 0; i < 3; i++) t.m[i][3] = 0.2 * G(h, n, 1);
        c = color_then(c, t), *changed = true;
    }
    if ((s->ops & GT_ADA_CONTRAST) && U(h, n, 9) < p) {
        color4 t = color_identity();
        for (int i = 0; i < 3; i++) t.m[i][i] = exp2(0.5 * G(h, n, 2));
        c = color_then(c, t), *changed = true;
    }
    if (rgb && (s->ops & GT_ADA_HUE) && U(h, n, 10) < p)
        c = color_then(c, hue_rotation((2.0 * U(h, n, 11) - 1.0) * PI)), *changed = true;
    if (rgb && (s->ops & GT_ADA_SATURATION) && U(h, n, 12) < p)
        c = color_then(c, saturation(exp2(G(h, n, 3)))), *changed = true;
    return c;
}

/* Grey images: y = a x + o per sample (the matrix's first row: its colour part is diagonal). */
static gt_tensor *apply_grey(gt_tensor *x, const color4 *c, int64_t n) {
    float *a = gt_step_alloc_((size_t)n * 2 * sizeof *a), *o = a + n;
    for (int64_t i = 0; i < n; i++) {
        a[i] = (float)c[i].m[0][0];
        o[i] = (float)c[i].m[0][3];
    }
    return gt_add(gt_mul(x, per_sample(a, n)), per_sample(o, n));
}

/* RGB images: y_c = sum_k M[c][k] x_k + M[c][3], as x [N, 1, 3, HW] x M [N, 3, 3, 1] summed
 * over the input channel. */
static gt_tensor *apply_rgb(gt_tensor *x, const color4 *c, int64_t n) {
    int64_t H = x->shape[2], W = x->shape[3];
    float *m = gt_step_alloc_((size_t)n * 12 * sizeof *m), *o = m + n * 9;
    for (int64_t i = 0; i < n; i++)
        for (int r = 0; r < 3; r++) {
            for (int k = 0; k < 3; k++) m[(i * 3 + r) * 3 + k] = (float)c[i].m[r][k];
            o[i * 3 + r] = (float)c[i].m[r][3];
        }
    int64_t xs[4] = {n, 1, 3, H * W}, ms[4] = {n, 3, 3, 1}, os[3] = {n, 3, 1};
    int axis = 2;
    gt_tensor *y = gt_sum(gt_mul(gt_reshape(x, 4, xs), gt_from_data(4, ms, m)), 1, &axis, false);
    y = gt_add(y, gt_from_data(3, os, o)); /* [N, 3, HW] */
    return gt_reshape(y, 4, x->shape);
}

static gt_tensor *ada_color(const gt_augment_spec *s, gt_tensor *x, const host_draws *h) {
    int64_t n = x->shape[0];
    bool rgb = x->shape[1] == 3, any = false;
    color4 *c = gt_step_alloc_((size_t)n * sizeof *c);
    for (int64_t i = 0; i < n; i++) {
        bool changed;
        c[i] = color_map(s, h, i, rgb, &changed);
        any = any || changed;
    }
    if (!any) return x;
    return rgb ? apply_rgb(x, c, n) : apply_grey(x, c, n);
}

/* ---- ADA: cutout ------------------------------------------------------------------------------ */

/* Zeroes the pixels whose centres lie within a quarter of the side of (u14, u15) in both axes. */
static gt_tensor *ada_cutout(const gt_augment_spec *s, gt_tensor *x, const host_draws *h) {
    int64_t n = x->shape[0], H = x->shape[2], W = x->shape[3];
    float *mask = gt_step_alloc_((size_t)(n * H * W) * sizeof *mask);
    bool any = false;
    for (int64_t i = 0; i < n; i++) {
        bool on = U(h, i, 13) < s->p;
        any = any || on;
        double cr = U(h, i, 14), cc = U(h, i, 15);
        for (int64_t r = 0; r < H; r++)
            for (int64_t q = 0; q < W; q++) {
                bool inside = fabs(((double)r + 0.5) / (double)H - cr) < 0.25 &&
                              fabs(((double)q + 0.5) / (double)W - cc) < 0.25;
                mask[(i * H + r) * W + q] = on && inside ? 0.0f : 1.0f;
            }
    }
    if (!any) return x;
    int64_t ms[4] = {n, 1, H, W};
    return gt_mul(x, gt_from_data(4, ms, mask));
}

static gt_tensor *ada(const gt_augment_spec *s, gt_tensor *x, const host_draws *h) {
    if (s->p <= 0) return x;
    x = ada_geometry(s, x, h);
    x = ada_color(s, x, h);
    if (s->ops & GT_ADA_CUTOUT) x = ada_cutout(s, x, h);
    return x;
}

/* ---- the policy ------------------------------------------------------------------------------- */

gt_tensor *gt_augment(const gt_augment_spec *s, gt_tensor *x, gt_augment_draws d) {
    if (!gt_augment_on(s)) return x;
    GT_CHECK(x->ndim == 4, "augment: x must be images [N, C, H, W]");
    GT_CHECK(d.u->shape[0] == x->shape[0] && d.g->shape[0] == x->shape[0],
             "augment: %lld draws for %lld images", (long long)d.u->shape[0],
             (long long)x->shape[0]);
    host_draws h = to_host(d);
    return s->policy == GT_AUGMENT_DIFF ? diffaugment(s, x, &h) : ada(s, x, &h);
}

void gt_augment_observe(gt_augment_spec *s, double sign_mean, int64_t batch) {
    if (s->policy != GT_AUGMENT_ADA || !s->adaptive) return;
    s->sign_sum += sign_mean * (double)batch;
    s->sign_count += batch;
    if (++s->window_steps < s->interval) return;
    double rt = s->sign_sum / (double)s->sign_count;
    double step = (double)batch * s->interval / (s->kimg * 1000.0);
    double p = s->p + (rt > s->target ? step : rt < s->target ? -step : 0);
    s->p = fmin(fmax(p, 0.0), nextafter(1.0, 0.0));
    s->last_rt = rt;
    s->sign_sum = 0;
    s->sign_count = s->window_steps = 0;
}
