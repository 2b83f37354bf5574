/* Finite-difference gradient checks of first and second order (see gradcheck.h). Sums are
 * taken in double; the op itself runs in float32, so steps and tolerances suit that. */
#include "gradcheck.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

gc_tol gc_tol_default(void) { return (gc_tol){.eps = 3e-3, .atol = 3e-3, .rtol = 3e-2}; }

static double dot(const gt_tensor *a, const float *b) {
    float *tmp = malloc((size_t)a->numel * sizeof *tmp);
    gt_copy_to(tmp, a);
    double s = 0;
    for (int64_t i = 0; i < a->numel; i++) s += (double)tmp[i] * b[i];
    free(tmp);
    return s;
}

static float *random_like(const gt_tensor *t, gt_rng *rng) {
    float *v = malloc((size_t)t->numel * sizeof *v);
    gt_tensor *r = gt_rand_normal(rng, t->ndim, t->shape, 0, 1);
    gt_copy_to(v, r);
    return v;
}

/* <f(x), v> evaluated without recording. */
static double objective1(int n_in, gt_tensor *const *in, gc_fn f, const void *ctx, const float *v) {
    (void)n_in;
    bool prev = gt_grad_set(false);
    double s = dot(f(in, ctx), v);
    gt_grad_set(prev);
    gt_step_end();
    return s;
}

/* sum_k <grad_k <f(x), v>, u_k>, evaluated with a first-order walk. */
static double objective2(int n_in, gt_tensor *const *in, gc_fn f, const void *ctx, const float *v,
                         float *const *u) {
    gt_tensor *out = f(in, ctx);
    gt_tensor *seed = gt_from_data(out->ndim, out->shape, v);
    gt_tensor *g[8];
    gt_grad(1, &out, &seed, n_in, in, g, false);
    double s = 0;
    for (int k = 0; k < n_in; k++) s += dot(g[k], u[k]);
    gt_step_end();
    return s;
}

static int compare(const char *name, const char *order, int k, const float *analytic,
                   const double *numeric, int64_t n, gc_tol tol) {
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
        double a = analytic[i], m = numeric[i];
        double lim = tol.atol + tol.rtol * fmax(fabs(a), fabs(m));
        if (!(fabs(a - m) <= lim)) {
            if (bad < 3)
                fprintf(stderr, "  %s: %s gradient of input %d, element %lld: analytic %.6g, "
                        "numeric %.6g\n", name, order, k, (long long)i, a, m);
            bad++;
        }
    }
    return bad;
}

/* Central differences of obj over every element of every input. */
typedef double (*objective_fn)(void *state);
static double *numeric_grad(gt_tensor *x, double eps, objective_fn obj, void *state) {
    double *d = malloc((size_t)x->numel * sizeof *d);
    for (int64_t i = 0; i < x->numel; i++) {
        float keep = x->data[i];
        x->data[i] = keep + (float)eps;
        double hi = obj(state);
        x->data[i] = keep - (float)eps;
        double lo = obj(state);
        x->data[i] = keep;
        d[i] = (hi - lo) / (2 * eps);
    }
    return d;
}

typedef struct {
    int n_in;
    gt_tensor *const *in;
    gc_fn f;
    const void *ctx;
    const float *v;
    float *const *u;
} obj_state;

static double obj1(void *s) {
    obj_state *o = s;
    return objective1(o->n_in, o->in, o->f, o->ctx, o->v);
}
static double obj2(void *s) {
    obj_state *o = s;
    return objective2(o->n_in, o->in, o->f, o->ctx, o->v, o->u);
}

/* Analytic gradients of <f, v> (order 1) or of sum_k <grad_k, u_k> (order 2), copied out. */
static void analytic(int n_in, gt_tensor *const *in, gc_fn f, const void *ctx, const float *v,
                     float *const *u, float **res) {
    gt_tensor *out = f(in, ctx);
    gt_tensor *seed = gt_from_data(out->ndim, out->shape, v);
    gt_tensor *g[8], *h[8];
    if (!u) {
        gt_grad(1, &out, &seed, n_in, in, g, false);
    } else {
        gt_grad(1, &out, &seed, n_in, in, g, true);
        gt_tensor *s = NULL;
        for (int k = 0; k < n_in; k++) {
            gt_tensor *uk = gt_from_data(in[k]->ndim, in[k]->shape, u[k]);
            gt_tensor *term = gt_sum_all(gt_mul(g[k], uk));
            s = s ? gt_add(s, term) : term;
        }
        gt_grad(1, &s, NULL, n_in, in, h, false);
        for (int k = 0; k < n_in; k++) g[k] = h[k];
    }
    for (int k = 0; k < n_in; k++) {
        res[k] = malloc((size_t)in[k]->numel * sizeof(float));
        gt_copy_to(res[k], g[k]);
    }
    gt_step_end();
}

int gc_check(const char *name, int n_in, gt_tensor *const *in, gc_fn f, const void *ctx,
             bool second, gc_tol tol) {
    gt_rng rng = gt_rng_seed(1234);
    gt_tensor *out = f(in, ctx);
    float *v = random_like(out, &rng);
    float *u[8];
    for (int k = 0; k < n_in; k++) u[k] = random_like(in[k], &rng);
    gt_step_end();
    obj_state st = {n_in, in, f, ctx, v, u};
    int bad = 0;
    for (int order = 1; order <= (second ? 2 : 1); order++) {
        float *res[8];
        analytic(n_in, in, f, ctx, v, order == 2 ? u : NULL, res);
        for (int k = 0; k < n_in; k++) {
            double *num = numeric_grad(in[k], tol.eps, order == 1 ? obj1 : obj2, &st);
            bad += compare(name, order == 1 ? "first" : "second", k, res[k], num, in[k]->numel, tol);
            free(num);
            free(res[k]);
        }
    }
    for (int k = 0; k < n_in; k++) free(u[k]);
    free(v);
    return bad;
}
