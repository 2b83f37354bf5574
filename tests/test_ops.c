/* Table-driven op tests: for every op, the forward against a naive loop in double, first-order
 * gradients against central finite differences, and second order (finite differences of
 * <grad(x), v>). Inputs are drawn away from kinks where an op has one. */
#include <math.h>
#include <stdlib.h>

#include "gradcheck.h"
#include "test.h"

/* ---- the table's vocabulary -------------------------------------------------------------- */

typedef double (*unary_ref)(double x);
typedef double (*binary_ref)(double a, double b);
typedef struct op_case op_case;
/* A custom naive forward: writes the op's output (row-major) from the inputs' data. */
typedef void (*custom_ref)(const op_case *c, gt_tensor *const *in, double *out);

struct op_case {
    const char *name;
    int n_in;
    int ndim[3];
    int64_t shape[3][GT_MAX_DIMS];
    float lo, hi;        /* inputs uniform in [lo, hi] */
    float gap;           /* inputs kept at least this far from 0 (kinks), or 0 */
    gc_fn f;
    unary_ref u;         /* reference for unary elementwise ops */
    binary_ref b;        /* reference for broadcasting binary ops */
    custom_ref ref;      /* reference for the rest */
    int iarg[8];         /* op options */
    float farg[2];
};

static const op_case *current; /* the case f reads its options from */

/* ---- references ------------------------------------------------------------------------------ */

static double r_add(double a, double b) { return a + b; }
static double r_sub(double a, double b) { return a - b; }
static double r_mul(double a, double b) { return a * b; }
static double r_div(double a, double b) { return a / b; }
static double r_max(double a, double b) { return a > b ? a : b; }
static double r_min(double a, double b) { return a < b ? a : b; }
static double r_neg(double x) { return -x; }
static double r_sqr(double x) { return x * x; }
static double r_rsqrt(double x) { return 1 / sqrt(x); }
static double r_sig(double x) { return 1 / (1 + exp(-x)); }
static double r_softplus(double x) { return log1p(exp(x)); }
static double r_logsig(double x) { return -log1p(exp(-x)); }
static double r_relu(double x) { return x > 0 ? x : 0; }
static double r_leaky(double x) { return x > 0 ? x : 0.2 * x; }
static double r_add3(double x) { return x + 3; }
static double r_mul3(double x) { return x * -1.5; }
static double r_pow3(double x) { return x * x * x; }
static double r_pow15(double x) { return pow(x, 1.5); }
static double r_clamp(double x) { return x < -0.5 ? -0.5 : x > 0.5 ? 0.5 : x; }

/* Broadcast index: the flat offset into t for output multi-index idx of an nd-dim output. */
static int64_t bcast_offset(const gt_tensor *t, int nd, const int64_t *idx) {
    int64_t off = 0, s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        int oi = i + nd - t->ndim;
        if (t->shape[i] != 1) off += idx[oi] * s;
        s *= t->shape[i];
    }
    return off;
}

static void unravel(int64_t flat, int nd, const int64_t *shape, int64_t *idx) {
    for (int i = nd - 1; i >= 0; i--) {
        idx[i] = flat % shape[i];
        flat /= shape[i];
    }
}

/* ---- op builders (f) -------------------------------------------------------------------------- */

#define I(k) in[k]
static gt_tensor *f_add(gt_tensor *const *in, const void *c) { (void)c; return gt_add(I(0), I(1)); }
static gt_tensor *f_sub(gt_tensor *const *in, const void *c) { (void)c; return gt_sub(I(0), I(1)); }
static gt_tensor *f_mul(gt_tensor *const *in, const void *c) { (void)c; return gt_mul(I(0), I(1)); }
static gt_tensor *f_div(gt_tensor *const *in, const void *c) { (void)c; return gt_div(I(0), I(1)); }
static gt_tensor *f_max2(gt_tensor *const *in, const void *c) { (void)c; return gt_maximum(I(0), I(1)); }
static gt_tensor *f_min2(gt_tensor *const *in, const void *c) { (void)c; return gt_minimum(I(0), I(1)); }
static gt_tensor *f_adds(gt_tensor *const *in, const void *c) { (void)c; return gt_add_scalar(I(0), 3); }
static gt_tensor *f_muls(gt_tensor *const *in, const void *c) { (void)c; return gt_mul_scalar(I(0), -1.5f); }
static gt_tensor *f_neg(gt_tensor *const *in, const void *c) { (void)c; return gt_neg(I(0)); }
static gt_tensor *f_exp(gt_tensor *const *in, const void *c) { (void)c; return gt_exp(I(0)); }
static gt_tensor *f_log(gt_tensor *const *in, const void *c) { (void)c; return gt_log(I(0)); }
static gt_tensor *f_sqrt(gt_tensor *const *in, const void *c) { (void)c; return gt_sqrt(I(0)); }
static gt_tensor *f_rsqrt(gt_tensor *const *in, const void *c) { (void)c; return gt_rsqrt(I(0)); }
static gt_tensor *f_pow3(gt_tensor *const *in, const void *c) { (void)c; return gt_pow(I(0), 3); }
static gt_tensor *f_pow15(gt_tensor *const *in, const void *c) { (void)c; return gt_pow(I(0), 1.5f); }
static gt_tensor *f_abs(gt_tensor *const *in, const void *c) { (void)c; return gt_abs(I(0)); }
static gt_tensor *f_square(gt_tensor *const *in, const void *c) { (void)c; return gt_square(I(0)); }
static gt_tensor *f_clamp(gt_tensor *const *in, const void *c) { (void)c; return gt_clamp(I(0), -0.5f, 0.5f); }
static gt_tensor *f_tanh(gt_tensor *const *in, const void *c) { (void)c; return gt_tanh(I(0)); }
static gt_tensor *f_sigmoid(gt_tensor *const *in, const void *c) { (void)c; return gt_sigmoid(I(0)); }
static gt_tensor *f_softplus(gt_tensor *const *in, const void *c) { (void)c; return gt_softplus(I(0)); }
static gt_tensor *f_logsig(gt_tensor *const *in, const void *c) { (void)c; return gt_log_sigmoid(I(0)); }
static gt_tensor *f_relu(gt_tensor *const *in, const void *c) { (void)c; return gt_relu(I(0)); }
static gt_tensor *f_leaky(gt_tensor *const *in, const void *c) { (void)c; return gt_leaky_relu(I(0), 0.2f); }

static gt_tensor *f_where(gt_tensor *const *in, const void *c) {
    (void)c;
    gt_tensor *mask = gt_greater(I(0), I(1)); /* a constant computed from the inputs */
    return gt_where(mask, gt_mul(I(0), I(0)), gt_mul_scalar(I(1), 3));
}
static void ref_where(const op_case *c, gt_tensor *const *in, double *out) {
    (void)c;
    for (int64_t i = 0; i < in[0]->numel; i++) {
        double a = in[0]->data[i], b = in[1]->data[i];
        out[i] = a > b ? a * a : 3 * b;
    }
}

/* Reductions: iarg[0] = number of axes (0 = all), iarg[1..] = axes, iarg[4] = keepdim. */
static gt_tensor *f_sum(gt_tensor *const *in, const void *c) {
    (void)c;
    return gt_sum(I(0), current->iarg[0], current->iarg + 1, current->iarg[4]);
}
static gt_tensor *f_mean(gt_tensor *const *in, const void *c) {
    (void)c;
    return gt_mean(I(0), current->iarg[0], current->iarg + 1, current->iarg[4]);
}
static gt_tensor *f_max(gt_tensor *const *in, const void *c) {
    (void)c;
    return gt_max(I(0), current->iarg[0], current->iarg + 1, current->iarg[4]);
}
static gt_tensor *f_var(gt_tensor *const *in, const void *c) {
    (void)c;
    return gt_var(I(0), current->iarg[0], current->iarg + 1, current->iarg[4], true);
}

/* Generic reduction reference: out index = x index with reduced axes dropped. kind: 0 sum,
 * 1 mean, 2 max, 3 unbiased var. */
static void reduce_ref(const op_case *c, gt_tensor *const *in, double *out, int kind) {
    const gt_tensor *x = in[0];
    unsigned mask = 0;
    if (c->iarg[0] == 0) mask = (1u << x->ndim) - 1;
    for (int i = 0; i < c->iarg[0]; i++) mask |= 1u << c->iarg[1 + i];
    int64_t oshape[GT_MAX_DIMS], n_out = 1, count = 1;
    int ond = 0;
    for (int i = 0; i < x->ndim; i++) {
        if (mask & (1u << i)) count *= x->shape[i];
        else { oshape[ond++] = x->shape[i]; n_out *= x->shape[i]; }
    }
    double *s1 = calloc((size_t)n_out, sizeof *s1), *s2 = calloc((size_t)n_out, sizeof *s2);
    for (int64_t o = 0; o < n_out; o++) out[o] = -INFINITY;
    for (int64_t f = 0; f < x->numel; f++) {
        int64_t idx[GT_MAX_DIMS], o = 0;
        unravel(f, x->ndim, x->shape, idx);
        for (int i = 0, j = 0; i < x->ndim; i++)
            if (!(mask & (1u << i))) o = o * oshape[j++] + idx[i];
        double v = x->data[f];
        s1[o] += v;
        s2[o] += v * v;
        if (v > out[o]) out[o] = v;
    }
    for (int64_t o = 0; o < n_out; o++) {
        if (kind == 0) out[o] = s1[o];
        if (kind == 1) out[o] = s1[o] / count;
        if (kind == 3) out[o] = (s2[o] - s1[o] * s1[o] / count) / (count - 1);
    }
    free(s1);
    free(s2);
}
static void ref_sum(const op_case *c, gt_tensor *const *in, double *o) { reduce_ref(c, in, o, 0); }
static void ref_mean(const op_case *c, gt_tensor *const *in, double *o) { reduce_ref(c, in, o, 1); }
static void ref_max(const op_case *c, gt_tensor *const *in, double *o) { reduce_ref(c, in, o, 2); }
static void ref_var(const op_case *c, gt_tensor *const *in, double *o) { reduce_ref(c, in, o, 3); }

/* softmax / log_softmax over the last axis of a 2-D input */
static gt_tensor *f_softmax(gt_tensor *const *in, const void *c) { (void)c; return gt_softmax(I(0), -1); }
static gt_tensor *f_logsoftmax(gt_tensor *const *in, const void *c) { (void)c; return gt_log_softmax(I(0), 1); }
static void softmax_ref(gt_tensor *const *in, double *out, bool log_form) {
    int64_t R = in[0]->shape[0], C = in[0]->shape[1];
    for (int64_t r = 0; r < R; r++) {
        double s = 0;
        for (int64_t j = 0; j < C; j++) s += exp(in[0]->data[r * C + j]);
        for (int64_t j = 0; j < C; j++) {
            double v = in[0]->data[r * C + j] - log(s);
            out[r * C + j] = log_form ? v : exp(v);
        }
    }
}
static void ref_softmax(const op_case *c, gt_tensor *const *in, double *o) { (void)c; softmax_ref(in, o, false); }
static void ref_logsoftmax(const op_case *c, gt_tensor *const *in, double *o) { (void)c; softmax_ref(in, o, true); }

/* Shape ops. Each result is multiplied elementwise by itself plus the input sum... no: kept
 * linear so the reference stays a pure index map; second order then checks zero Hessians. */
static gt_tensor *f_reshape(gt_tensor *const *in, const void *c) {
    (void)c;
    int64_t s[2] = {-1, 6};
    return gt_square(gt_reshape(gt_transpose(I(0), 0, 2), 2, s));
}
static gt_tensor *f_permute(gt_tensor *const *in, const void *c) {
    (void)c;
    int p[3] = {2, 0, 1};
    return gt_square(gt_contiguous(gt_permute(I(0), p)));
}
static gt_tensor *f_slice(gt_tensor *const *in, const void *c) {
    (void)c;
    return gt_square(gt_slice(gt_slice(I(0), 1, 1, 3), -1, -3, -1));
}
static gt_tensor *f_concat(gt_tensor *const *in, const void *c) {
    (void)c;
    gt_tensor *xs[3] = {I(0), gt_square(I(1)), I(0)};
    return gt_square(gt_concat(3, xs, 1));
}
static gt_tensor *f_pad(gt_tensor *const *in, const void *c) {
    (void)c;
    int64_t b[3] = {0, 1, 2}, a[3] = {1, 0, 1};
    return gt_square(gt_pad(I(0), b, a));
}
static gt_tensor *f_expand(gt_tensor *const *in, const void *c) {
    (void)c;
    int64_t s[3] = {2, 3, 4};
    return gt_square(gt_expand(I(0), 3, s));
}
static gt_tensor *f_sum_to(gt_tensor *const *in, const void *c) {
    (void)c;
    int64_t s[2] = {1, 4};
    return gt_square(gt_sum_to(I(0), 2, s));
}

/* Shape-op references read the input through an explicit index map into a squared output. */
static double xin(gt_tensor *const *in, int k, int64_t a, int64_t b, int64_t c) {
    const gt_tensor *t = in[k];
    return t->data[(a * t->shape[1] + b) * t->shape[2] + c];
}
static void ref_reshape(const op_case *cs, gt_tensor *const *in, double *o) {
    (void)cs; /* x [2,3,4] -> transpose(0,2) [4,3,2] -> [4,6] */
    int64_t n = 0;
    for (int64_t a = 0; a < 4; a++)
        for (int64_t b = 0; b < 3; b++)
            for (int64_t c = 0; c < 2; c++) { double v = xin(in, 0, c, b, a); o[n++] = v * v; }
}
static void ref_permute(const op_case *cs, gt_tensor *const *in, double *o) {
    (void)cs; /* y[i,j,k] = x[j,k,i], x [2,3,4] -> y [4,2,3] */
    int64_t n = 0;
    for (int64_t i = 0; i < 4; i++)
        for (int64_t j = 0; j < 2; j++)
            for (int64_t k = 0; k < 3; k++) { double v = xin(in, 0, j, k, i); o[n++] = v * v; }
}
static void ref_slice(const op_case *cs, gt_tensor *const *in, double *o) {
    (void)cs; /* x [2,4,5] -> [:, 1:3, 2:4] */
    int64_t n = 0;
    for (int64_t a = 0; a < 2; a++)
        for (int64_t b = 1; b < 3; b++)
            for (int64_t c = 2; c < 4; c++) { double v = xin(in, 0, a, b, c); o[n++] = v * v; }
}
static void ref_concat(const op_case *cs, gt_tensor *const *in, double *o) {
    (void)cs; /* [x0, x1^2, x0] along axis 1; x0 [2,2,3], x1 [2,1,3] */
    int64_t n = 0;
    for (int64_t a = 0; a < 2; a++)
        for (int64_t b = 0; b < 5; b++)
            for (int64_t c = 0; c < 3; c++) {
                double v = b < 2 ? xin(in, 0, a, b, c) : b == 2 ? pow(xin(in, 1, a, 0, c), 2)
                                                                : xin(in, 0, a, b - 3, c);
                o[n++] = v * v;
            }
}
static void ref_pad(const op_case *cs, gt_tensor *const *in, double *o) {
    (void)cs; /* x [2,2,3] padded to [3,3,6] with before {0,1,2} */
    int64_t n = 0;
    for (int64_t a = 0; a < 3; a++)
        for (int64_t b = 0; b < 3; b++)
            for (int64_t c = 0; c < 6; c++) {
                bool inside = a < 2 && b >= 1 && c >= 2 && c < 5;
                double v = inside ? xin(in, 0, a, b - 1, c - 2) : 0;
                o[n++] = v * v;
            }
}
static void ref_expand(const op_case *cs, gt_tensor *const *in, double *o) {
    (void)cs; /* x [3,1] -> [2,3,4] */
    int64_t n = 0;
    for (int64_t a = 0; a < 2; a++)
        for (int64_t b = 0; b < 3; b++)
            for (int64_t c = 0; c < 4; c++) { double v = in[0]->data[b]; o[n++] = v * v; }
}
static void ref_sum_to(const op_case *cs, gt_tensor *const *in, double *o) {
    (void)cs; /* x [2,3,4] -> [1,4] */
    for (int64_t c = 0; c < 4; c++) {
        double s = 0;
        for (int64_t a = 0; a < 6; a++) s += in[0]->data[a * 4 + c];
        o[c] = s * s;
    }
}

/* matmul: iarg[0] = ta, iarg[1] = tb */
static gt_tensor *f_matmul(gt_tensor *const *in, const void *c) {
    (void)c;
    return gt_matmul(I(0), I(1), current->iarg[0], current->iarg[1]);
}
static void ref_matmul(const op_case *c, gt_tensor *const *in, double *o) {
    const gt_tensor *A = in[0], *B = in[1];
    bool ta = c->iarg[0], tb = c->iarg[1];
    int nd = A->ndim;
    int64_t ar = A->shape[nd - 2], ac = A->shape[nd - 1];
    int64_t br = B->shape[B->ndim - 2], bc = B->shape[B->ndim - 1];
    int64_t M = ta ? ac : ar, K = ta ? ar : ac, N = tb ? br : bc;
    int64_t batch = A->numel / (ar * ac);
    bool shared = B->ndim == 2;
    for (int64_t z = 0; z < batch; z++) {
        const float *a = A->data + z * ar * ac, *b = B->data + (shared ? 0 : z * br * bc);
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                double s = 0;
                for (int64_t k = 0; k < K; k++)
                    s += (double)(ta ? a[k * ac + i] : a[i * ac + k]) *
                         (tb ? b[j * bc + k] : b[k * bc + j]);
                o[(z * M + i) * N + j] = s;
            }
    }
}
static gt_tensor *f_linear(gt_tensor *const *in, const void *c) {
    (void)c;
    return gt_tanh(gt_linear(I(0), I(1), I(2)));
}
static void ref_linear(const op_case *c, gt_tensor *const *in, double *o) {
    (void)c;
    int64_t N = in[0]->shape[0], D = in[0]->shape[1], O = in[1]->shape[0];
    for (int64_t n = 0; n < N; n++)
        for (int64_t j = 0; j < O; j++) {
            double s = in[2]->data[j];
            for (int64_t k = 0; k < D; k++) s += (double)in[0]->data[n * D + k] * in[1]->data[j * D + k];
            o[n * O + j] = tanh(s);
        }
}

/* Convolutions: iarg = stride, padding, dilation, groups, output_padding (same in h and w). */
static gt_conv_opts opts_of(const op_case *c) {
    gt_conv_opts o = gt_conv_opts_default();
    o.stride[0] = o.stride[1] = c->iarg[0];
    o.padding[0] = o.padding[1] = c->iarg[1];
    o.dilation[0] = o.dilation[1] = c->iarg[2];
    o.groups = c->iarg[3];
    o.output_padding[0] = o.output_padding[1] = c->iarg[4];
    return o;
}
/* Direct convolution in double: x [N,C,H,W], w [O,C/g,kh,kw] -> y [N,O,Ho,Wo]. */
static void conv_direct(const op_case *c, const gt_tensor *x, const gt_tensor *w, double *y,
                        int64_t Ho, int64_t Wo) {
    int s = c->iarg[0], p = c->iarg[1], d = c->iarg[2], g = c->iarg[3];
    int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    int64_t O = w->shape[0], cig = C / g, cog = O / g, kh = w->shape[2], kw = w->shape[3];
    for (int64_t n = 0; n < N; n++)
        for (int64_t oc = 0; oc < O; oc++)
            for (int64_t i = 0; i < Ho; i++)
                for (int64_t j = 0; j < Wo; j++) {
                    double acc = 0;
                    for (int64_t ic = 0; ic < cig; ic++)
                        for (int64_t a = 0; a < kh; a++)
                            for (int64_t b = 0; b < kw; b++) {
                                int64_t h = i * s - p + a * d, ww = j * s - p + b * d;
                                if (h < 0 || h >= H || ww < 0 || ww >= W) continue;
                                int64_t cc = (oc / cog) * cig + ic;
                                acc += (double)x->data[((n * C + cc) * H + h) * W + ww] *
                                       w->data[((oc * cig + ic) * kh + a) * kw + b];
                            }
                    y[((n * O + oc) * Ho + i) * Wo + j] = acc;
                }
}
static gt_tensor *f_conv2d(gt_tensor *const *in, const void *c) {
    (void)c;
    return gt_conv2d(I(0), I(1), NULL, opts_of(current));
}
static void ref_conv2d(const op_case *c, gt_tensor *const *in, double *o) {
    int s = c->iarg[0], p = c->iarg[1], d = c->iarg[2];
    int64_t Ho = (in[0]->shape[2] + 2 * p - d * (in[1]->shape[2] - 1) - 1) / s + 1;
    int64_t Wo = (in[0]->shape[3] + 2 * p - d * (in[1]->shape[3] - 1) - 1) / s + 1;
    conv_direct(c, in[0], in[1], o, Ho, Wo);
}
/* conv_transpose2d reference: y[n, g cog + oc, h, w] += x[n, ci, i, j] w[ci, oc, a, b] at
 * h = i s - p + a d (the scatter form of the adjoint). */
static gt_tensor *f_convT(gt_tensor *const *in, const void *c) {
    (void)c;
    return gt_conv_transpose2d(I(0), I(1), NULL, opts_of(current));
}
static void ref_convT(const op_case *c, gt_tensor *const *in, double *o) {
    int s = c->iarg[0], p = c->iarg[1], d = c->iarg[2], g = c->iarg[3], op = c->iarg[4];
    const gt_tensor *x = in[0], *w = in[1];
    int64_t N = x->shape[0], Ci = x->shape[1], H = x->shape[2], W = x->shape[3];
    int64_t cog = w->shape[1], kh = w->shape[2], kw = w->shape[3], Co = cog * g, cig = Ci / g;
    int64_t Ho = (H - 1) * s - 2 * p + d * (kh - 1) + op + 1;
    int64_t Wo = (W - 1) * s - 2 * p + d * (kw - 1) + op + 1;
    for (int64_t i = 0; i < N * Co * Ho * Wo; i++) o[i] = 0;
    for (int64_t n = 0; n < N; n++)
        for (int64_t ci = 0; ci < Ci; ci++)
            for (int64_t i = 0; i < H; i++)
                for (int64_t j = 0; j < W; j++)
                    for (int64_t oc = 0; oc < cog; oc++)
                        for (int64_t a = 0; a < kh; a++)
                            for (int64_t b = 0; b < kw; b++) {
                                int64_t h = i * s - p + a * d, ww = j * s - p + b * d;
                                if (h < 0 || h >= Ho || ww < 0 || ww >= Wo) continue;
                                int64_t co = (ci / cig) * cog + oc;
                                o[((n * Co + co) * Ho + h) * Wo + ww] +=
                                    (double)x->data[((n * Ci + ci) * H + i) * W + j] *
                                    w->data[((ci * cog + oc) * kh + a) * kw + b];
                            }
}
/* weight grad: in[0] = x [N,C,H,W], in[1] = dy [N,O,Ho,Wo]; kernel size iarg[5] */
static gt_tensor *f_wgrad(gt_tensor *const *in, const void *c) {
    (void)c;
    return gt_conv2d_weight_grad(I(0), I(1), current->iarg[5], current->iarg[5], opts_of(current));
}
static void ref_wgrad(const op_case *c, gt_tensor *const *in, double *o) {
    int s = c->iarg[0], p = c->iarg[1], d = c->iarg[2], g = c->iarg[3], k = c->iarg[5];
    const gt_tensor *x = in[0], *dy = in[1];
    int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    int64_t O = dy->shape[1], Ho = dy->shape[2], Wo = dy->shape[3], cig = C / g, cog = O / g;
    for (int64_t oc = 0; oc < O; oc++)
        for (int64_t ic = 0; ic < cig; ic++)
            for (int64_t a = 0; a < k; a++)
                for (int64_t b = 0; b < k; b++) {
                    double acc = 0;
                    for (int64_t n = 0; n < N; n++)
                        for (int64_t i = 0; i < Ho; i++)
                            for (int64_t j = 0; j < Wo; j++) {
                                int64_t h = i * s - p + a * d, ww = j * s - p + b * d;
                                if (h < 0 || h >= H || ww < 0 || ww >= W) continue;
                                int64_t cc = (oc / cog) * cig + ic;
                                acc += (double)dy->data[((n * O + oc) * Ho + i) * Wo + j] *
                                       x->data[((n * C + cc) * H + h) * W + ww];
                            }
                    o[((oc * cig + ic) * k + a) * k + b] = acc;
                }
}

/* pooling: iarg = k, s, pad */
static gt_tensor *f_avgpool(gt_tensor *const *in, const void *c) {
    (void)c;
    return gt_square(gt_avg_pool2d(I(0), current->iarg[0], current->iarg[1], current->iarg[2]));
}
static gt_tensor *f_maxpool(gt_tensor *const *in, const void *c) {
    (void)c;
    return gt_square(gt_max_pool2d(I(0), current->iarg[0], current->iarg[1], current->iarg[2]));
}
static void pool_ref(const op_case *c, gt_tensor *const *in, double *o, bool is_max) {
    int k = c->iarg[0], s = c->iarg[1], p = c->iarg[2];
    const gt_tensor *x = in[0];
    int64_t NC = x->shape[0] * x->shape[1], H = x->shape[2], W = x->shape[3];
    int64_t Ho = (H + 2 * p - k) / s + 1, Wo = (W + 2 * p - k) / s + 1;
    for (int64_t z = 0; z < NC; z++)
        for (int64_t i = 0; i < Ho; i++)
            for (int64_t j = 0; j < Wo; j++) {
                double acc = is_max ? -INFINITY : 0;
                for (int a = 0; a < k; a++)
                    for (int b = 0; b < k; b++) {
                        int64_t h = i * s - p + a, w = j * s - p + b;
                        if (h < 0 || h >= H || w < 0 || w >= W) continue;
                        double v = x->data[(z * H + h) * W + w];
                        acc = is_max ? fmax(acc, v) : acc + v;
                    }
                double v = is_max ? acc : acc / (k * k);
                o[(z * Ho + i) * Wo + j] = v * v;
            }
}
static void ref_avgpool(const op_case *c, gt_tensor *const *in, double *o) { pool_ref(c, in, o, false); }
static void ref_maxpool(const op_case *c, gt_tensor *const *in, double *o) { pool_ref(c, in, o, true); }

static gt_tensor *f_up(gt_tensor *const *in, const void *c) { (void)c; return gt_square(gt_upsample2x(I(0))); }
static gt_tensor *f_down(gt_tensor *const *in, const void *c) { (void)c; return gt_square(gt_downsample2x(I(0))); }
static void ref_up(const op_case *c, gt_tensor *const *in, double *o) {
    (void)c;
    const gt_tensor *x = in[0];
    int64_t NC = x->shape[0] * x->shape[1], H = x->shape[2], W = x->shape[3];
    for (int64_t z = 0; z < NC; z++)
        for (int64_t i = 0; i < 2 * H; i++)
            for (int64_t j = 0; j < 2 * W; j++) {
                double v = x->data[(z * H + i / 2) * W + j / 2];
                o[(z * 2 * H + i) * 2 * W + j] = v * v;
            }
}
static void ref_down(const op_case *c, gt_tensor *const *in, double *o) {
    (void)c;
    const gt_tensor *x = in[0];
    int64_t NC = x->shape[0] * x->shape[1], H = x->shape[2], W = x->shape[3];
    for (int64_t z = 0; z < NC; z++)
        for (int64_t i = 0; i < H / 2; i++)
            for (int64_t j = 0; j < W / 2; j++) {
                const float *p = x->data + (z * H + 2 * i) * W + 2 * j;
                double v = (p[0] + p[1] + p[W] + p[W + 1]) / 4.0;
                o[(z * (H / 2) + i) * (W / 2) + j] = v * v;
            }
}

static const int64_t gather_idx[6] = {5, 0, 5, 3, 11, 2};
static gt_tensor *f_gather(gt_tensor *const *in, const void *c) {
    (void)c;
    int64_t s[2] = {2, 3};
    return gt_square(gt_gather(I(0), gather_idx, 2, s));
}
static void ref_gather(const op_case *c, gt_tensor *const *in, double *o) {
    (void)c;
    for (int j = 0; j < 6; j++) o[j] = pow(in[0]->data[gather_idx[j]], 2);
}

/* Fused batch norm over [N, C, ...]: per-channel statistics over every axis but 1. */
static void channel_shape(const gt_tensor *x, int64_t *n, int64_t *c, int64_t *s) {
    *n = x->shape[0];
    *c = x->shape[1];
    *s = x->numel / (*n * *c);
}
static gt_tensor *f_bn(gt_tensor *const *in, const void *c) {
    (void)c;
    return gt_batch_norm(I(0), 1e-3f, NULL, NULL);
}
static void ref_bn(const op_case *cs, gt_tensor *const *in, double *o) {
    (void)cs;
    int64_t n, c, s;
    channel_shape(in[0], &n, &c, &s);
    const float *x = in[0]->data;
    for (int64_t j = 0; j < c; j++) {
        double m = 0, v = 0;
        for (int64_t i = 0; i < n; i++)
            for (int64_t k = 0; k < s; k++) m += x[(i * c + j) * s + k];
        m /= (double)(n * s);
        for (int64_t i = 0; i < n; i++)
            for (int64_t k = 0; k < s; k++) v += pow(x[(i * c + j) * s + k] - m, 2);
        v /= (double)(n * s);
        for (int64_t i = 0; i < n; i++)
            for (int64_t k = 0; k < s; k++)
                o[(i * c + j) * s + k] = (x[(i * c + j) * s + k] - m) / sqrt(v + 1e-3);
    }
}
/* batch_norm_backward(dy, xhat, invstd = e^r): three independent inputs. */
static gt_tensor *f_bn_bw(gt_tensor *const *in, const void *c) {
    (void)c;
    return gt_batch_norm_backward(I(0), I(1), gt_exp(I(2)));
}
static void ref_bn_bw(const op_case *cs, gt_tensor *const *in, double *o) {
    (void)cs;
    int64_t n, c, s;
    channel_shape(in[0], &n, &c, &s);
    const float *g = in[0]->data, *h = in[1]->data;
    for (int64_t j = 0; j < c; j++) {
        double mg = 0, mgh = 0, r = exp(in[2]->data[j]);
        for (int64_t i = 0; i < n; i++)
            for (int64_t k = 0; k < s; k++) {
                int64_t e = (i * c + j) * s + k;
                mg += g[e];
                mgh += (double)g[e] * h[e];
            }
        mg /= (double)(n * s);
        mgh /= (double)(n * s);
        for (int64_t i = 0; i < n; i++)
            for (int64_t k = 0; k < s; k++) {
                int64_t e = (i * c + j) * s + k;
                o[e] = r * (g[e] - mg - h[e] * mgh);
            }
    }
}
/* The layer's training-mode composite: batch_norm, then a per-channel affine map. */
static gt_tensor *f_bn_affine(gt_tensor *const *in, const void *c) {
    (void)c;
    int64_t s[4] = {1, 3, 1, 1};
    gt_tensor *y = gt_batch_norm(I(0), 1e-3f, NULL, NULL);
    return gt_tanh(gt_add(gt_mul(y, gt_reshape(I(1), 4, s)), gt_reshape(I(2), 4, s)));
}
static void ref_bn_affine(const op_case *cs, gt_tensor *const *in, double *o) {
    ref_bn(cs, in, o);
    for (int64_t e = 0; e < in[0]->numel; e++) {
        int64_t j = (e / 4) % 3;
        o[e] = tanh(o[e] * in[1]->data[j] + in[2]->data[j]);
    }
}

/* The fused layer: tanh(batch_norm_affine(x, gamma, beta)), any [N, C, ...]. */
static gt_tensor *f_bn_affine_fused(gt_tensor *const *in, const void *c) {
    (void)c;
    return gt_tanh(gt_batch_norm_affine(I(0), I(1), I(2), 1e-3f, NULL, NULL));
}
static void ref_bn_affine_fused(const op_case *cs, gt_tensor *const *in, double *o) {
    int64_t n, c, s;
    channel_shape(in[0], &n, &c, &s);
    ref_bn(cs, in, o);
    for (int64_t e = 0; e < in[0]->numel; e++) {
        int64_t j = (e / s) % c;
        o[e] = tanh(o[e] * in[1]->data[j] + in[2]->data[j]);
    }
}
/* leaky_mul(a^2, ref, 0.3): ref is a constant (its gradient is zero), a^2 keeps a Hessian. */
static gt_tensor *f_leaky_mul(gt_tensor *const *in, const void *c) {
    (void)c;
    return gt_leaky_mul(gt_mul(I(0), I(0)), gt_detach(I(1)), 0.3f);
}
static void ref_leaky_mul(const op_case *cs, gt_tensor *const *in, double *o) {
    (void)cs;
    for (int64_t e = 0; e < in[0]->numel; e++) {
        double a = in[0]->data[e];
        o[e] = a * a * (in[1]->data[e] > 0 ? 1.0 : 0.3);
    }
}

/* ---- the table ---------------------------------------------------------------------------------- */

#define SH(...) {__VA_ARGS__}
static const op_case cases[] = {
    {"add", 2, {2, 1}, {SH(3, 4), SH(4)}, -2, 2, 0, f_add, .b = r_add},
    {"sub", 2, {3, 2}, {SH(2, 3, 4), SH(3, 1)}, -2, 2, 0, f_sub, .b = r_sub},
    {"mul", 2, {2, 2}, {SH(3, 4), SH(3, 4)}, -2, 2, 0, f_mul, .b = r_mul},
    {"mul_bcast", 2, {3, 3}, {SH(2, 1, 4), SH(1, 3, 1)}, -2, 2, 0, f_mul, .b = r_mul},
    {"div", 2, {2, 2}, {SH(3, 4), SH(1, 4)}, 0.5f, 2, 0, f_div, .b = r_div},
    {"maximum", 2, {2, 2}, {SH(3, 4), SH(3, 4)}, -2, 2, 0, f_max2, .b = r_max},
    {"minimum", 2, {2, 1}, {SH(3, 4), SH(4)}, -2, 2, 0, f_min2, .b = r_min},
    {"add_scalar", 1, {2}, {SH(3, 4)}, -2, 2, 0, f_adds, .u = r_add3},
    {"mul_scalar", 1, {2}, {SH(3, 4)}, -2, 2, 0, f_muls, .u = r_mul3},
    {"neg", 1, {2}, {SH(3, 4)}, -2, 2, 0, f_neg, .u = r_neg},
    {"exp", 1, {2}, {SH(3, 4)}, -2, 2, 0, f_exp, .u = exp},
    {"log", 1, {2}, {SH(3, 4)}, 0.5f, 3, 0, f_log, .u = log},
    {"sqrt", 1, {2}, {SH(3, 4)}, 0.5f, 3, 0, f_sqrt, .u = sqrt},
    {"rsqrt", 1, {2}, {SH(3, 4)}, 0.5f, 3, 0, f_rsqrt, .u = r_rsqrt},
    {"pow3", 1, {2}, {SH(3, 4)}, -2, 2, 0, f_pow3, .u = r_pow3},
    {"pow1.5", 1, {2}, {SH(3, 4)}, 0.5f, 3, 0, f_pow15, .u = r_pow15},
    {"abs", 1, {2}, {SH(3, 4)}, -2, 2, 0.1f, f_abs, .u = fabs},
    {"square", 1, {2}, {SH(3, 4)}, -2, 2, 0, f_square, .u = r_sqr},
    {"clamp", 1, {2}, {SH(3, 4)}, -0.45f, 0.45f, 0, f_clamp, .u = r_clamp},
    {"clamp_out", 1, {2}, {SH(3, 4)}, 0.6f, 2, 0, f_clamp, .u = r_clamp},
    {"tanh", 1, {2}, {SH(3, 4)}, -2, 2, 0, f_tanh, .u = tanh},
    {"sigmoid", 1, {2}, {SH(3, 4)}, -3, 3, 0, f_sigmoid, .u = r_sig},
    {"softplus", 1, {2}, {SH(3, 4)}, -3, 3, 0, f_softplus, .u = r_softplus},
    {"log_sigmoid", 1, {2}, {SH(3, 4)}, -3, 3, 0, f_logsig, .u = r_logsig},
    {"relu", 1, {2}, {SH(3, 4)}, -2, 2, 0.1f, f_relu, .u = r_relu},
    {"leaky_relu", 1, {2}, {SH(3, 4)}, -2, 2, 0.1f, f_leaky, .u = r_leaky},
    {"leaky_mul", 2, {2, 2}, {SH(3, 4), SH(3, 4)}, -2, 2, 0.1f, f_leaky_mul, .ref = ref_leaky_mul},
    {"where", 2, {2, 2}, {SH(3, 4), SH(3, 4)}, -2, 2, 0, f_where, .ref = ref_where},
    {"sum_axis", 1, {3}, {SH(2, 3, 4)}, -2, 2, 0, f_sum, .ref = ref_sum, .iarg = {1, 1, 0, 0, 1}},
    {"sum_all", 1, {3}, {SH(2, 3, 4)}, -2, 2, 0, f_sum, .ref = ref_sum, .iarg = {0}},
    {"mean_axes", 1, {3}, {SH(2, 3, 4)}, -2, 2, 0, f_mean, .ref = ref_mean, .iarg = {2, 0, 2, 0, 0}},
    {"max_axis", 1, {3}, {SH(2, 3, 4)}, -2, 2, 0, f_max, .ref = ref_max, .iarg = {1, 2, 0, 0, 1}},
    /* adjacent axes share one max_share kernel; axes apart take the composite of four ops */
    {"max_axes_adjacent", 1, {3}, {SH(2, 3, 4)}, -2, 2, 0, f_max, .ref = ref_max, .iarg = {2, 1, 2, 0, 0}},
    {"max_axes_apart", 1, {3}, {SH(2, 3, 4)}, -2, 2, 0, f_max, .ref = ref_max, .iarg = {2, 0, 2, 0, 1}},
    {"var_axis", 1, {2}, {SH(3, 5)}, -2, 2, 0, f_var, .ref = ref_var, .iarg = {1, 1, 0, 0, 0}},
    {"softmax", 1, {2}, {SH(3, 5)}, -2, 2, 0, f_softmax, .ref = ref_softmax},
    {"log_softmax", 1, {2}, {SH(3, 5)}, -2, 2, 0, f_logsoftmax, .ref = ref_logsoftmax},
    {"reshape", 1, {3}, {SH(2, 3, 4)}, -2, 2, 0, f_reshape, .ref = ref_reshape},
    {"permute", 1, {3}, {SH(2, 3, 4)}, -2, 2, 0, f_permute, .ref = ref_permute},
    {"slice", 1, {3}, {SH(2, 4, 5)}, -2, 2, 0, f_slice, .ref = ref_slice},
    {"concat", 2, {3, 3}, {SH(2, 2, 3), SH(2, 1, 3)}, -2, 2, 0, f_concat, .ref = ref_concat},
    {"pad", 1, {3}, {SH(2, 2, 3)}, -2, 2, 0, f_pad, .ref = ref_pad},
    {"expand", 1, {2}, {SH(3, 1)}, -2, 2, 0, f_expand, .ref = ref_expand},
    {"sum_to", 1, {3}, {SH(2, 3, 4)}, -1, 1, 0, f_sum_to, .ref = ref_sum_to},
    {"matmul_nn", 2, {2, 2}, {SH(3, 4), SH(4, 5)}, -1, 1, 0, f_matmul, .ref = ref_matmul, .iarg = {0, 0}},
    {"matmul_nt", 2, {2, 2}, {SH(3, 4), SH(5, 4)}, -1, 1, 0, f_matmul, .ref = ref_matmul, .iarg = {0, 1}},
    {"matmul_tn", 2, {2, 2}, {SH(4, 3), SH(4, 5)}, -1, 1, 0, f_matmul, .ref = ref_matmul, .iarg = {1, 0}},
    {"matmul_tt", 2, {2, 2}, {SH(4, 3), SH(5, 4)}, -1, 1, 0, f_matmul, .ref = ref_matmul, .iarg = {1, 1}},
    {"matmul_batched", 2, {3, 3}, {SH(2, 3, 4), SH(2, 5, 4)}, -1, 1, 0, f_matmul, .ref = ref_matmul, .iarg = {0, 1}},
    {"matmul_sharedB", 2, {3, 2}, {SH(2, 3, 4), SH(4, 2)}, -1, 1, 0, f_matmul, .ref = ref_matmul, .iarg = {0, 0}},
    {"linear", 3, {2, 2, 1}, {SH(3, 4), SH(2, 4), SH(2)}, -1, 1, 0, f_linear, .ref = ref_linear},
    {"conv2d_s2p1", 2, {4, 4}, {SH(2, 2, 5, 5), SH(3, 2, 3, 3)}, -1, 1, 0, f_conv2d, .ref = ref_conv2d, .iarg = {2, 1, 1, 1}},
    {"conv2d_d2g2", 2, {4, 4}, {SH(1, 4, 6, 5), SH(4, 2, 2, 2)}, -1, 1, 0, f_conv2d, .ref = ref_conv2d, .iarg = {1, 2, 2, 2}},
    {"conv2d_k4s2", 2, {4, 4}, {SH(2, 1, 6, 6), SH(2, 1, 4, 4)}, -1, 1, 0, f_conv2d, .ref = ref_conv2d, .iarg = {2, 1, 1, 1}},
    {"convT_s2p1op1g2", 2, {4, 4}, {SH(2, 4, 3, 3), SH(4, 1, 3, 3)}, -1, 1, 0, f_convT, .ref = ref_convT, .iarg = {2, 1, 1, 2, 1}},
    {"convT_k4s2p1", 2, {4, 4}, {SH(1, 3, 3, 3), SH(3, 2, 4, 4)}, -1, 1, 0, f_convT, .ref = ref_convT, .iarg = {2, 1, 1, 1, 0}},
    {"conv_wgrad", 2, {4, 4}, {SH(2, 2, 5, 5), SH(2, 3, 3, 3)}, -1, 1, 0, f_wgrad, .ref = ref_wgrad, .iarg = {2, 1, 1, 1, 0, 3}},
    {"avg_pool2d", 1, {4}, {SH(1, 2, 5, 5)}, -1, 1, 0, f_avgpool, .ref = ref_avgpool, .iarg = {3, 2, 1}},
    {"max_pool2d", 1, {4}, {SH(1, 2, 4, 6)}, -1, 1, 0, f_maxpool, .ref = ref_maxpool, .iarg = {2, 2, 0}},
    {"upsample2x", 1, {4}, {SH(1, 2, 2, 3)}, -1, 1, 0, f_up, .ref = ref_up},
    {"downsample2x", 1, {4}, {SH(1, 2, 4, 2)}, -1, 1, 0, f_down, .ref = ref_down},
    {"gather", 1, {2}, {SH(3, 4)}, -1, 1, 0, f_gather, .ref = ref_gather},
    {"sum_nchw_channels", 1, {4}, {SH(3, 4, 5, 6)}, -2, 2, 0, f_sum, .ref = ref_sum, .iarg = {3, 0, 2, 3, 0}},
    {"sum_rows", 1, {2}, {SH(5, 3)}, -2, 2, 0, f_sum, .ref = ref_sum, .iarg = {1, 0, 0, 0, 1}},
    {"batch_norm_nchw", 1, {4}, {SH(4, 3, 2, 2)}, -2, 2, 0, f_bn, .ref = ref_bn},
    {"batch_norm_nc", 1, {2}, {SH(6, 3)}, -2, 2, 0, f_bn, .ref = ref_bn},
    {"batch_norm_affine", 3, {4, 1, 1}, {SH(3, 3, 2, 2), SH(3), SH(3)}, -2, 2, 0, f_bn_affine, .ref = ref_bn_affine},
    {"batch_norm_affine_fused_nchw", 3, {4, 1, 1}, {SH(3, 3, 2, 2), SH(3), SH(3)}, -2, 2, 0, f_bn_affine_fused, .ref = ref_bn_affine_fused},
    {"batch_norm_affine_fused_nc", 3, {2, 1, 1}, {SH(6, 3), SH(3), SH(3)}, -2, 2, 0, f_bn_affine_fused, .ref = ref_bn_affine_fused},
    {"batch_norm_backward_nchw", 3, {4, 4, 1}, {SH(3, 2, 2, 3), SH(3, 2, 2, 3), SH(2)}, -1, 1, 0, f_bn_bw, .ref = ref_bn_bw},
    {"batch_norm_backward_nc", 3, {2, 2, 1}, {SH(5, 3), SH(5, 3), SH(3)}, -1, 1, 0, f_bn_bw, .ref = ref_bn_bw},
};

/* ---- the driver ----------------------------------------------------------------------------------- */

static gt_arena *arena;

/* Inputs as leaves in a test arena (the checks end steps between evaluations). */
static void make_inputs(const op_case *c, gt_tensor **in, gt_rng *rng) {
    for (int k = 0; k < c->n_in; k++) {
        in[k] = gt_param_new(arena, c->ndim[k], c->shape[k]);
        gt_fill_uniform(rng, in[k], c->lo, c->hi);
        for (int64_t i = 0; c->gap > 0 && i < in[k]->numel; i++) {
            float *v = &in[k]->data[i];
            if (fabsf(*v) < c->gap) *v = *v < 0 ? *v - c->gap : *v + c->gap;
        }
    }
}

static int check_forward(const op_case *c, gt_tensor *const *in) {
    gt_tensor *y = c->f(in, NULL);
    double *want = malloc((size_t)y->numel * sizeof *want);
    if (c->u) {
        for (int64_t i = 0; i < y->numel; i++) want[i] = c->u(in[0]->data[i]);
    } else if (c->b) {
        for (int64_t i = 0; i < y->numel; i++) {
            int64_t idx[GT_MAX_DIMS];
            unravel(i, y->ndim, y->shape, idx);
            want[i] = c->b(in[0]->data[bcast_offset(in[0], y->ndim, idx)],
                           in[1]->data[bcast_offset(in[1], y->ndim, idx)]);
        }
    } else {
        c->ref(c, in, want);
    }
    float *got = malloc((size_t)y->numel * sizeof *got);
    gt_copy_to(got, y);
    int bad = 0;
    for (int64_t i = 0; i < y->numel; i++) {
        if (!(fabs(got[i] - want[i]) <= 1e-5 + 1e-5 * fabs(want[i]))) {
            if (bad++ < 3)
                fprintf(stderr, "  %s: forward element %lld: got %.7g, want %.7g\n", c->name,
                        (long long)i, got[i], want[i]);
        }
    }
    free(got);
    free(want);
    gt_step_end();
    return bad;
}

TEST(every_op_forward_first_and_second_order) {
    gt_rng rng = gt_rng_seed(42);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const op_case *c = &cases[i];
        current = c;
        arena = gt_arena_new(1 << 16);
        gt_tensor *in[3];
        make_inputs(c, in, &rng);
        int bad = check_forward(c, in);
        bad += gc_check(c->name, c->n_in, in, c->f, NULL, true, gc_tol_default());
        if (bad) fprintf(stderr, "  op case %s: %d mismatches\n", c->name, bad);
        gt_test_record(c->name, bad == 0);
        gt_arena_free(arena);
    }
}

TEST(every_registered_op_has_a_name) {
    CHECK(gt_op_count() > 30);
    for (int i = 0; i < gt_op_count(); i++) CHECK(gt_op_name(i) && gt_op_name(i)[0]);
}

int main(void) {
    int rc;
    RUN_TESTS_INTO(rc, T(every_op_forward_first_and_second_order), T(every_registered_op_has_a_name));
    gt_runtime_free();
    return rc;
}
