/* Weight initialisation: normal(0, std) (DCGAN), Kaiming normal, Xavier uniform and orthogonal,
 * with fans computed as PyTorch does (fan_in = shape[1] x receptive field). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine.h"
#include "nn/layers.h"

int gt_init_parse(const char *name, gt_init *out) {
    static const char *names[] = {"normal", "kaiming", "xavier", "orthogonal"};
    for (int i = 0; i < 4; i++)
        if (strcmp(name, names[i]) == 0) {
            *out = (gt_init)i;
            return 0;
        }
    return -1;
}

static void fans(const gt_tensor *w, double *fan_in, double *fan_out) {
    double receptive = 1;
    for (int i = 2; i < w->ndim; i++) receptive *= (double)w->shape[i];
    *fan_in = (w->ndim > 1 ? (double)w->shape[1] : 1) * receptive;
    *fan_out = (double)w->shape[0] * receptive;
}

/* Orthonormalises the rows of a [r, c] matrix in place (modified Gram-Schmidt, r <= c). */
static void orthonormal_rows(double *a, int64_t r, int64_t c) {
    for (int64_t i = 0; i < r; i++) {
        double *ai = a + i * c;
        for (int64_t j = 0; j < i; j++) {
            const double *aj = a + j * c;
            double d = 0;
            for (int64_t k = 0; k < c; k++) d += ai[k] * aj[k];
            for (int64_t k = 0; k < c; k++) ai[k] -= d * aj[k];
        }
        double n = 0;
        for (int64_t k = 0; k < c; k++) n += ai[k] * ai[k];
        n = sqrt(n);
        for (int64_t k = 0; k < c; k++) ai[k] /= n > 0 ? n : 1;
    }
}

/* w viewed as [rows, cols]: orthonormal rows if rows <= cols, else orthonormal columns. */
static void init_orthogonal(gt_tensor *w, gt_rng *rng) {
    int64_t rows = w->shape[0], cols = w->numel / rows;
    bool tall = rows > cols;
    int64_t r = tall ? cols : rows, c = tall ? rows : cols;
    gt_tensor *g = gt_rand_normal(rng, 1, &w->numel, 0, 1);
    double *a = malloc((size_t)(r * c) * sizeof *a);
    float *host = malloc((size_t)w->numel * sizeof *host);
    GT_CHECK(a != NULL && host != NULL, "out of memory (orthogonal init)");
    gt_copy_to(host, g);
    for (int64_t i = 0; i < r * c; i++) a[i] = host[i];
    orthonormal_rows(a, r, c);
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++)
            host[i * cols + j] = (float)(tall ? a[j * c + i] : a[i * c + j]);
    gt_copy_from(w, host);
    free(host);
    free(a);
}

void gt_init_tensor(gt_tensor *w, gt_init kind, double std, double slope, gt_rng *rng) {
    GT_CHECK(gt_is_contiguous(w), "init: tensor must be contiguous");
    double fan_in, fan_out;
    fans(w, &fan_in, &fan_out);
    switch (kind) {
    case GT_INIT_NORMAL:
        gt_fill_normal(rng, w, 0, (float)std);
        break;
    case GT_INIT_KAIMING:
        gt_fill_normal(rng, w, 0, (float)(sqrt(2.0 / (1 + slope * slope)) / sqrt(fan_in)));
        break;
    case GT_INIT_XAVIER: {
        float a = (float)sqrt(6.0 / (fan_in + fan_out));
        gt_fill_uniform(rng, w, -a, a);
        break;
    }
    case GT_INIT_ORTHOGONAL:
        init_orthogonal(w, rng);
        break;
    }
}
