/* Unrolled GANs (src/gan/unroll.c, tricks.md section 10): G's loss against D after K updates of
 * D's own optimizer rule, written in ops (gt_optim_step_graph), with G's gradient through all K
 * updates (exact) or not (surrogate).
 *
 *   fd_*          the exact unrolled G gradient against central finite differences (Richardson
 *                 extrapolated) of G's unrolled loss, K = 1 and 3, D's optimizer SGD with momentum
 *                 and Adam (state from two ordinary D updates); the surrogate gradient must miss
 *                 the finite differences by far more than the tolerance (so the check can fail).
 *   golden_*      values and G gradients against PyTorch (tests/golden/unrolled.gtfx, written by
 *                 tests/golden/make_unrolled_fixtures.py: torch.optim formulas differentiated with
 *                 torch.autograd.grad(create_graph=True)), exact and surrogate, K = 1 and 3, Adam
 *                 (with and without weight decay), SGD with a momentum buffer and SGD without one
 *                 yet, a plain critic and a batch-norm critic; also D's unrolled weights after K.
 *   own_rule_*    surrogate K = 1 equals an ordinary gt_optim_step on a copy (D's own rule), and
 *                 unrolling leaves the live D weights, optimizer state and batch-norm running
 *                 statistics alone.
 *   k0_*, g_step_* with K = 0 gt_gan_g_step is the plain G step; with K > 0 it is the G step on the
 *                 unrolled objective, and D is left alone.
 * GANTRY_GOLDEN_VERBOSE=1 prints every comparison's relative error. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "gan/gan.h"
#include "test.h"

#define RTOL 1e-4 /* against PyTorch: max |got - want| / max |want| per tensor */
#define N 8       /* batch */
#define ZD 3      /* latent size */
#define WIDTH 5

/* ---- Networks and optimizer configurations, as in make_unrolled_fixtures.py ------------------ */

static gt_fixture *FX;
static gt_arena *ARENA;
static gt_model G, D, D_BN, G2, D2, D_BN2; /* the "2" models: copies for reference updates */

typedef struct {
    const char *name;
    gt_optim_cfg cfg;
    int64_t step;
} opt_case;

static const opt_case OPTS[] = {
    {"adam", {.type = GT_OPTIM_ADAM, .lr = 0.2, .beta1 = 0.5, .beta2 = 0.999, .eps = 1e-8}, 2},
    {"adam_wd",
     {.type = GT_OPTIM_ADAM, .lr = 0.15, .beta1 = 0.6, .beta2 = 0.99, .eps = 1e-8, .weight_decay = 0.05},
     5},
    {"sgd", {.type = GT_OPTIM_SGD, .lr = 0.3, .momentum = 0.9}, 3},
    {"sgd_fresh", {.type = GT_OPTIM_SGD, .lr = 0.4, .momentum = 0.5}, 0},
};

static const opt_case *opt_named(const char *name) {
    for (size_t i = 0; i < sizeof OPTS / sizeof OPTS[0]; i++)
        if (strcmp(OPTS[i].name, name) == 0) return &OPTS[i];
    abort();
}

static gt_net_spec net_spec(gt_role role, const char *norm) {
    gt_net_spec s = {.role = role, .z_dim = ZD, .width = WIDTH, .depth = 1, .init_std = 0.5,
                     .c = 2, .h = 1, .w = 1};
    strcpy(s.family, "mlp");
    strcpy(s.activation, "tanh");
    strcpy(s.norm, norm);
    strcpy(s.init, "normal");
    return s;
}

static gt_tensor *fx(const char *name) { return gt_fixture_get(FX, name); }

/* Copies "<prefix>.<name>" into every trainable of the table (buffers keep their values). */
static void load_params(const char *prefix, gt_params *p) {
    char key[160];
    for (int i = 0; i < p->n; i++) {
        if (p->spec[i].kind != GT_PARAM_TRAINABLE) continue;
        snprintf(key, sizeof key, "%s.%s", prefix, p->spec[i].name);
        gt_tensor *t = gt_fixture_get(FX, key);
        CHECK(t->numel == p->t[i]->numel);
        if (t->numel == p->t[i]->numel) memcpy(p->t[i]->data, t->data, (size_t)t->numel * sizeof(float));
    }
}

static int build(gt_model *m, gt_net_spec s, const char *prefix, gt_rng *rng) {
    gt_error err;
    if (gt_model_build(m, &s, ARENA, rng, &err) != 0) {
        fprintf(stderr, "  building %s: %s\n", prefix, err.msg);
        return -1;
    }
    load_params(prefix, &m->params);
    return 0;
}

static int setup(void) {
    FX = gt_fixture_load("tests/golden/unrolled.gtfx");
    if (!FX) return -1;
    ARENA = gt_arena_new(1 << 16);
    gt_rng rng = gt_rng_seed(0);
    const gt_role GR = GT_ROLE_GENERATOR, DR = GT_ROLE_DISCRIMINATOR;
    int rc = 0;
    rc |= build(&G, net_spec(GR, "none"), "g", &rng);
    rc |= build(&D, net_spec(DR, "none"), "d", &rng);
    rc |= build(&D_BN, net_spec(DR, "batch"), "d_bn", &rng);
    rc |= build(&G2, net_spec(GR, "none"), "g", &rng);
    rc |= build(&D2, net_spec(DR, "none"), "d", &rng);
    rc |= build(&D_BN2, net_spec(DR, "batch"), "d_bn", &rng);
    gt_step_end();
    return rc ? -1 : 0;
}

static void teardown(void) {
    gt_model *all[] = {&G, &D, &D_BN, &G2, &D2, &D_BN2};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) gt_model_release(all[i]);
    gt_arena_free(ARENA);
    gt_fixture_free(FX);
}

/* A D optimizer in the configuration of `oc` with the state "<net>.<opt>.{m,v,buf}.<param>" from
 * the fixture and oc's step count. */
static void optim_from_fixture(gt_optim *o, gt_model *d, const char *net, const opt_case *oc) {
    gt_optim_init(o, &d->params, &oc->cfg, ARENA);
    const gt_params *p = &d->params;
    char key[160];
    for (int i = 0; i < p->n; i++) {
        const gt_param_spec *s = &p->spec[i];
        if (s->kind != GT_PARAM_TRAINABLE) continue;
        bool adam = oc->cfg.type == GT_OPTIM_ADAM;
        snprintf(key, sizeof key, "%s.%s.%s.%s", net, oc->name, adam ? "m" : "buf", s->name);
        gt_tensor *m = fx(key);
        memcpy(o->m->data + s->offset, m->data, (size_t)s->numel * sizeof(float));
        if (adam) {
            snprintf(key, sizeof key, "%s.%s.v.%s", net, oc->name, s->name);
            memcpy(o->v->data + s->offset, fx(key)->data, (size_t)s->numel * sizeof(float));
        }
    }
    o->step = oc->step;
    gt_step_end();
}

static gt_gan make_gan(gt_model *g, gt_optim *opt_g, gt_model *d, gt_optim *opt_d, int k,
                       gt_unroll_mode mode) {
    gt_gan gan;
    gt_gan_init(&gan, g, opt_g, d, opt_d, 1);
    gan.unroll.steps = k;
    gan.unroll.mode = mode;
    return gan;
}

static gt_tensor *generate(gt_model *g) {
    gt_fwd f = gt_fwd_of(&g->params, true);
    return gt_model_forward(g, &f, fx("z"), NULL);
}

/* The trainables of a table and their gradients of loss (constants). */
static int trainables(gt_params *p, gt_tensor **in, const char **names) {
    int n = 0;
    for (int i = 0; i < p->n; i++)
        if (p->spec[i].kind == GT_PARAM_TRAINABLE) {
            if (names) names[n] = p->spec[i].name;
            in[n++] = p->t[i];
        }
    return n;
}

/* Gradients of loss into p->grad (as the step does); returns their L2 norm. */
static double grads_into(gt_params *p, gt_tensor *loss) {
    gt_tensor *in[32] = {0}, *g[32] = {0};
    int n = trainables(p, in, NULL);
    gt_grad(1, &loss, NULL, n, in, g, false);
    for (int i = 0; i < n; i++) gt_copy_to(in[i]->grad->data, g[i]);
    return gt_params_grad_norm(p);
}

/* ---- Comparison ------------------------------------------------------------------------------ */

/* max |got - want| / max(max |want|, floor, 1e-6) over the elements (want as floats, n of them); -1
 * when a value is not finite. */
static double rel_error_floor(const float *got, const float *want, int64_t n, double floor, int64_t *worst) {
    double max_diff = 0, max_ref = 0;
    *worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        if (!isfinite(d)) return -1;
        max_ref = fmax(max_ref, fabs((double)want[i]));
        if (d > max_diff) max_diff = d, *worst = i;
    }
    return max_diff / fmax(fmax(max_ref, floor), 1e-6);
}

static double rel_error(const float *got, const float *want, int64_t n, int64_t *worst) {
    return rel_error_floor(got, want, n, 0, worst);
}

static void expect_close_to(int line, const char *name, gt_tensor *got, const gt_tensor *want, double rtol,
                            double floor) {
    if (!got || got->numel != want->numel) {
        gt_test_failed_checks++;
        fprintf(stderr, "  %s:%d: %s: %s\n", __FILE__, line, name, got ? "numel differs" : "NULL");
        return;
    }
    float *a = malloc((size_t)got->numel * sizeof *a);
    if (!a) abort();
    gt_copy_to(a, got);
    int64_t w;
    double rel = rel_error_floor(a, want->data, want->numel, floor, &w);
    if (getenv("GANTRY_GOLDEN_VERBOSE")) fprintf(stderr, "  %-44s relative error %.3g\n", name, rel);
    if (!(rel >= 0 && rel <= rtol)) {
        gt_test_failed_checks++;
        fprintf(stderr, "  %s:%d: %s: relative error %.3g > %.1g (at %lld: gantry %.8g, want %.8g)\n",
                __FILE__, line, name, rel, rtol, (long long)w, a[w], want->data[w]);
    }
    free(a);
}

/* got against the fixture record `name`; floor: see rel_error_floor. */
static void expect_fx(int line, const char *name, gt_tensor *got, double floor) {
    expect_close_to(line, name, got, fx(name), RTOL, floor);
}
#define EXPECT_FX(name, got) expect_fx(__LINE__, (name), (got), 0)
#define EXPECT_FX_FLOOR(name, got, floor) expect_fx(__LINE__, (name), (got), (floor))

static double max_abs(const gt_tensor *t) {
    double m = 0;
    for (int64_t i = 0; i < t->numel; i++) m = fmax(m, fabs((double)t->data[i]));
    return m;
}

/* Bitwise-close comparison of two float arrays (what should be the same computation). */
static void expect_same(int line, const char *what, const float *got, const float *want, int64_t n,
                        double rtol) {
    int64_t w;
    double rel = rel_error(got, want, n, &w);
    if (!(rel >= 0 && rel <= rtol)) {
        gt_test_failed_checks++;
        fprintf(stderr, "  %s:%d: %s: relative error %.3g > %.1g (at %lld: %.9g, want %.9g)\n", __FILE__,
                line, what, rel, rtol, (long long)w, got[w], want[w]);
    }
}
#define EXPECT_SAME(what, got, want, n, rtol) expect_same(__LINE__, (what), (got), (want), (n), (rtol))

/* ---- (b) Golden: PyTorch's unrolled loss and G gradients --------------------------------------- */

static void golden_case(gt_model *d, const char *net, const char *opt) {
    const opt_case *oc = opt_named(opt);
    static const int KS[2] = {1, 3};
    for (int ki = 0; ki < 2; ki++) {
        for (int mode = 0; mode < 2; mode++) {
            gt_optim od;
            optim_from_fixture(&od, d, net, oc);
            gt_gan gan = make_gan(&G, NULL, d, &od, KS[ki], mode == 0 ? GT_UNROLL_EXACT : GT_UNROLL_SURROGATE);
            char base[96], key[192];
            snprintf(base, sizeof base, "%s.%s.k%d", net, opt, KS[ki]);
            gt_tensor *fake = generate(&G);
            gt_tensor *loss = gt_g_objective_unrolled(&gan, 0, fake, fx("real"));
            const char *m = mode == 0 ? "exact" : "surrogate";
            snprintf(key, sizeof key, "%s.%s.value", base, m);
            EXPECT_FX(key, loss);
            gt_tensor *in[16], *g[16];
            const char *names[16];
            int n = trainables(&G.params, in, names);
            gt_grad(1, &loss, NULL, n, in, g, false);
            /* G's gradients relative to the largest tensor's scale / 10 at least: batch norm in D
             * makes D(fake) invariant to a shift of all fakes, so G's output bias has a gradient
             * of 0 (PyTorch: 1e-16, float32: 1e-7) */
            double scale = 0;
            for (int i = 0; i < n; i++) {
                snprintf(key, sizeof key, "%s.%s.grad.%s", base, m, names[i]);
                scale = fmax(scale, max_abs(fx(key)));
            }
            for (int i = 0; i < n; i++) {
                snprintf(key, sizeof key, "%s.%s.grad.%s", base, m, names[i]);
                EXPECT_FX_FLOOR(key, g[i], 0.1 * scale);
            }
            /* the K-th weights themselves (the same in both modes) */
            gt_fwd dk = gt_unroll_critic(&gan, 0, 0, fx("real"), fake);
            for (int i = 0; i < d->params.n; i++) {
                if (d->params.spec[i].kind != GT_PARAM_TRAINABLE) continue;
                snprintf(key, sizeof key, "%s.dk.%s", base, d->params.spec[i].name);
                EXPECT_FX(key, dk.t[i]);
            }
            gt_step_end();
        }
    }
}

TEST(golden_adam) { golden_case(&D, "d", "adam"); }
TEST(golden_adam_weight_decay) { golden_case(&D, "d", "adam_wd"); }
TEST(golden_sgd_momentum) { golden_case(&D, "d", "sgd"); }
TEST(golden_sgd_first_update) { golden_case(&D, "d", "sgd_fresh"); }
TEST(golden_batch_norm_adam) { golden_case(&D_BN, "d_bn", "adam"); }
TEST(golden_batch_norm_sgd) { golden_case(&D_BN, "d_bn", "sgd"); }

/* ---- (a) Finite differences ------------------------------------------------------------------ */

/* G's unrolled loss at G's current weights. */
static double unrolled_loss(gt_gan *gan) {
    double v = gt_item(gt_g_objective_unrolled(gan, 0, generate(gan->g), fx("real")));
    gt_step_end();
    return v;
}

/* d loss / d x[j] by central differences at step h, x moved by h (actual float steps). */
static double central(gt_gan *gan, float *x, double h) {
    float x0 = *x, xp = (float)(x0 + h), xm = (float)(x0 - h);
    *x = xp;
    double fp = unrolled_loss(gan);
    *x = xm;
    double fm = unrolled_loss(gan);
    *x = x0;
    return (fp - fm) / ((double)xp - (double)xm);
}

#define FD_H 2e-2   /* Richardson: (4 D(h/2) - D(h)) / 3, error O(h^4) */
#define FD_TOL 3e-3 /* max |fd - analytic| / max |fd| per G tensor */
#define FD_SURROGATE_MISS 0.1 /* the surrogate must miss by at least this much (30 x FD_TOL) */

/* Checks every entry of every G tensor against finite differences of the unrolled loss: the exact
 * gradient within FD_TOL, the surrogate's beyond FD_SURROGATE_MISS (over all of G). */
static void fd_check(const char *what, gt_gan *gan) {
    gt_params *p = &G.params;
    gt_tensor *in[16], *ge[16], *gs[16];
    const char *names[16];
    int n = trainables(p, in, names);
    float *exact = malloc((size_t)p->numel_trainable * sizeof *exact);
    float *surr = malloc((size_t)p->numel_trainable * sizeof *surr);
    float *fd = malloc((size_t)p->numel_trainable * sizeof *fd);
    if (!exact || !surr || !fd) abort();
    /* analytic gradients, both modes; the loss values must not depend on the mode */
    gan->unroll.mode = GT_UNROLL_EXACT;
    gt_tensor *le = gt_g_objective_unrolled(gan, 0, generate(&G), fx("real"));
    gt_grad(1, &le, NULL, n, in, ge, false);
    gan->unroll.mode = GT_UNROLL_SURROGATE;
    gt_tensor *ls = gt_g_objective_unrolled(gan, 0, generate(&G), fx("real"));
    gt_grad(1, &ls, NULL, n, in, gs, false);
    CHECK(gt_item(le) == gt_item(ls));
    for (int i = 0, off = 0; i < n; off += (int)in[i]->numel, i++) {
        gt_copy_to(exact + off, ge[i]);
        gt_copy_to(surr + off, gs[i]);
    }
    gt_step_end();
    /* finite differences of the loss (its value is mode-independent; exact mode as used) */
    gan->unroll.mode = GT_UNROLL_EXACT;
    for (int i = 0, off = 0; i < n; off += (int)in[i]->numel, i++)
        for (int64_t e = 0; e < in[i]->numel; e++) {
            float *x = in[i]->data + e;
            double d1 = central(gan, x, FD_H), d2 = central(gan, x, FD_H / 2);
            fd[off + e] = (float)((4 * d2 - d1) / 3);
        }
    double worst_exact = 0, max_fd = 0, max_miss = 0;
    for (int i = 0, off = 0; i < n; off += (int)in[i]->numel, i++) {
        int64_t w;
        double rel = rel_error(exact + off, fd + off, in[i]->numel, &w);
        worst_exact = fmax(worst_exact, rel);
        if (getenv("GANTRY_GOLDEN_VERBOSE"))
            fprintf(stderr, "  fd %-24s %-12s exact vs fd %.3g\n", what, names[i], rel);
        if (!(rel >= 0 && rel <= FD_TOL)) {
            gt_test_failed_checks++;
            fprintf(stderr, "  %s:%d: %s: G's %s: exact gradient vs finite differences: relative "
                            "error %.3g > %.2g (at %lld: exact %.7g, fd %.7g)\n",
                    __FILE__, __LINE__, what, names[i], rel, FD_TOL, (long long)w, exact[off + w], fd[off + w]);
        }
    }
    for (int64_t j = 0; j < p->numel_trainable; j++) {
        max_fd = fmax(max_fd, fabs(fd[j]));
        max_miss = fmax(max_miss, fabs((double)surr[j] - fd[j]));
    }
    double surr_rel = max_miss / max_fd;
    if (getenv("GANTRY_GOLDEN_VERBOSE"))
        fprintf(stderr, "  fd %-24s worst exact %.3g, surrogate misses by %.3g\n", what, worst_exact, surr_rel);
    if (!(surr_rel > FD_SURROGATE_MISS)) {
        gt_test_failed_checks++;
        fprintf(stderr, "  %s:%d: %s: the surrogate gradient is within %.3g of the finite differences "
                        "(want > %.2g): this check cannot tell exact from first order\n",
                __FILE__, __LINE__, what, surr_rel, FD_SURROGATE_MISS);
    }
    free(exact);
    free(surr);
    free(fd);
}

/* D (plain critic, weights from the fixture) with the optimizer after two ordinary D updates
 * (gt_gan_d_step, at a small learning rate), then unrolled at the case's learning rate. */
static void fd_case(const char *opt) {
    const opt_case *oc = opt_named(opt);
    gt_optim_cfg cfg = oc->cfg;
    double lr = cfg.lr;
    cfg.lr = 0.01;
    load_params("d", &D.params);
    gt_optim od;
    gt_optim_init(&od, &D.params, &cfg, ARENA);
    gt_gan gan = make_gan(&G, NULL, &D, &od, 1, GT_UNROLL_EXACT);
    gt_step_stats st;
    memset(&st, 0, sizeof st);
    for (int i = 0; i < 2; i++) {
        gt_gan_d_step(&gan, 0, i, fx("real"), fx("z"), &st);
        CHECK(!st.nonfinite);
        gt_step_end();
    }
    CHECK(od.step == 2);
    od.cfg.lr = lr;
    static const int KS[2] = {1, 3};
    for (int ki = 0; ki < 2; ki++) {
        char what[64];
        snprintf(what, sizeof what, "%s K=%d", opt, KS[ki]);
        gan.unroll.steps = KS[ki];
        fd_check(what, &gan);
    }
    load_params("d", &D.params);
}

TEST(fd_exact_gradient_sgd_momentum) { fd_case("sgd"); }
TEST(fd_exact_gradient_adam) { fd_case("adam"); }

/* ---- (c) The unrolled update is D's own rule; the live critic is left alone ------------------ */

typedef struct {
    float *data, *m, *v;
    int64_t step;
} snapshot;

static snapshot snap(const gt_optim *o) {
    const gt_params *p = o->params;
    snapshot s = {malloc((size_t)p->numel * sizeof(float)), malloc((size_t)p->numel_trainable * sizeof(float)),
                  o->v ? malloc((size_t)p->numel_trainable * sizeof(float)) : NULL, o->step};
    if (!s.data || !s.m || (o->v && !s.v)) abort();
    memcpy(s.data, p->flat->data, (size_t)p->numel * sizeof(float));
    memcpy(s.m, o->m->data, (size_t)p->numel_trainable * sizeof(float));
    if (o->v) memcpy(s.v, o->v->data, (size_t)p->numel_trainable * sizeof(float));
    return s;
}

/* Whether o's parameters (buffers included) and state are bit for bit those of s. */
static bool unchanged(const gt_optim *o, const snapshot *s) {
    const gt_params *p = o->params;
    size_t nt = (size_t)p->numel_trainable * sizeof(float);
    return memcmp(s->data, p->flat->data, (size_t)p->numel * sizeof(float)) == 0 && memcmp(s->m, o->m->data, nt) == 0 &&
           (!o->v || memcmp(s->v, o->v->data, nt) == 0) && s->step == o->step;
}

static void snap_free(snapshot *s) {
    free(s->data);
    free(s->m);
    free(s->v);
}

/* Running statistics that are not the initial ones, so that a copy and a blend differ. */
static void set_running_stats(gt_params *p) {
    for (int i = 0; i < p->n; i++) {
        if (p->spec[i].kind != GT_PARAM_BUFFER) continue;
        bool var = strstr(p->spec[i].name, "running_var") != NULL;
        for (int64_t j = 0; j < p->t[i]->numel; j++) p->t[i]->data[j] = var ? 0.8f + 0.1f * (float)j : 0.05f * (float)j - 0.1f;
    }
}

static void own_rule_case(gt_model *d, gt_model *d_copy, const char *net, const char *opt) {
    const opt_case *oc = opt_named(opt);
    set_running_stats(&d->params);
    gt_optim od, o_copy;
    optim_from_fixture(&od, d, net, oc);
    /* the copy: same weights, buffers and optimizer state */
    memcpy(d_copy->params.flat->data, d->params.flat->data, (size_t)d->params.numel * sizeof(float));
    optim_from_fixture(&o_copy, d_copy, net, oc);
    snapshot before = snap(&od);

    for (int mode = 0; mode < 2; mode++) {
        gt_gan gan = make_gan(&G, NULL, d, &od, 1, mode == 0 ? GT_UNROLL_SURROGATE : GT_UNROLL_EXACT);
        gt_tensor *fake = generate(&G);
        gt_fwd f = gt_unroll_critic(&gan, 0, 0, fx("real"), fake);
        CHECK(unchanged(&od, &before));
        if (mode == 0) {
            /* the ordinary update of the copy on the same loss and data */
            gt_gan gan2 = make_gan(&G, NULL, d_copy, &o_copy, 0, GT_UNROLL_EXACT);
            gt_fwd f2 = gt_fwd_of(&d_copy->params, true);
            gt_tensor *dr = gt_critic_forward(&gan2.critic[0], &f2, fx("real"), NULL);
            gt_tensor *df = gt_critic_forward(&gan2.critic[0], &f2, gt_detach(fake), NULL);
            grads_into(&d_copy->params, gt_loss_d(&gan2.loss, 0, dr, df, NULL, NULL));
            gt_optim_step(&o_copy);
        }
        /* every entry, trainables (the update) and buffers (batch norm's blends on the copies) */
        for (int i = 0; i < d->params.n; i++) {
            char what[128];
            snprintf(what, sizeof what, "%s %s %s: unrolled K=1 vs gt_optim_step: %s", net, opt,
                     mode == 0 ? "surrogate" : "exact", d->params.spec[i].name);
            float got[64];
            if (f.t[i]->numel > 64) abort();
            gt_copy_to(got, f.t[i]);
            EXPECT_SAME(what, got, d_copy->params.t[i]->data, f.t[i]->numel, 1e-6);
        }
        /* the whole unrolled objective with a gradient through it (exact, K = 3) */
        gan.unroll.steps = 3;
        gan.unroll.mode = GT_UNROLL_EXACT;
        gt_tensor *loss = gt_g_objective_unrolled(&gan, 0, fake, fx("real"));
        gt_tensor *in[16], *g[16];
        int n = trainables(&G.params, in, NULL);
        gt_grad(1, &loss, NULL, n, in, g, false);
        CHECK(isfinite(gt_item(loss)));
        CHECK(unchanged(&od, &before));
        gt_step_end();
    }
    snap_free(&before);
}

TEST(own_rule_adam_batch_norm) { own_rule_case(&D_BN, &D_BN2, "d_bn", "adam"); }
TEST(own_rule_sgd_batch_norm) { own_rule_case(&D_BN, &D_BN2, "d_bn", "sgd"); }
TEST(own_rule_adam_weight_decay) { own_rule_case(&D, &D2, "d", "adam_wd"); }
TEST(own_rule_sgd_first_update) { own_rule_case(&D, &D2, "d", "sgd_fresh"); }

/* ---- (d) gt_gan_g_step: K = 0 is the plain step; K > 0 the step on the unrolled objective ---- */

static const gt_optim_cfg G_CFG = {.type = GT_OPTIM_ADAM, .lr = 1e-2, .beta1 = 0.5, .beta2 = 0.999, .eps = 1e-8};

/* G and G2 from the fixture, each with a fresh Adam; D with the fixture's "d.adam" state. */
static void g_step_case(int k, gt_unroll_mode mode) {
    load_params("g", &G.params);
    load_params("g", &G2.params);
    gt_optim og, og2, od;
    gt_optim_init(&og, &G.params, &G_CFG, ARENA);
    gt_optim_init(&og2, &G2.params, &G_CFG, ARENA);
    optim_from_fixture(&od, &D, "d", opt_named("adam"));
    snapshot d_before = snap(&od);
    gt_gan gan = make_gan(&G, &og, &D, &od, k, mode);
    gt_gan gan2 = make_gan(&G2, &og2, &D, &od, k, mode);
    for (int t = 0; t < 2; t++) {
        /* the step under test */
        gt_step_stats st;
        memset(&st, 0, sizeof st);
        gt_tensor *fake = generate(&G);
        gt_gan_g_step(&gan, t, fake, fx("real"), &st);
        CHECK(!st.nonfinite);
        gt_step_end();
        /* by hand: K = 0 the plain objective (and the unrolled one equals it), else the unrolled */
        gt_tensor *fake2 = generate(&G2);
        gt_tensor *loss = k == 0 ? gt_g_objective(&gan2, fake2, fx("real"))
                                 : gt_g_objective_unrolled(&gan2, t, fake2, fx("real"));
        if (k == 0) {
            gt_tensor *lu = gt_g_objective_unrolled(&gan2, t, fake2, fx("real"));
            CHECK(gt_item(lu) == gt_item(loss));
            gt_tensor *in[16], *gu[16], *gp[16];
            int n = trainables(&G2.params, in, NULL);
            gt_grad(1, &lu, NULL, n, in, gu, false);
            gt_grad(1, &loss, NULL, n, in, gp, false);
            for (int i = 0; i < n; i++) {
                float a[64], b[64];
                gt_copy_to(a, gu[i]);
                gt_copy_to(b, gp[i]);
                EXPECT_SAME("K=0: gt_g_objective_unrolled's gradient vs gt_g_objective's", a, b, gu[i]->numel, 0);
            }
        }
        double norm = grads_into(&G2.params, loss);
        CHECK_NEAR(st.g_loss, gt_item(loss), 1e-6 * fabs(gt_item(loss)));
        CHECK_NEAR(st.g_grad_norm, norm, 1e-6 * norm);
        gt_optim_step(&og2);
        gt_step_end();
        char what[64];
        snprintf(what, sizeof what, "gt_gan_g_step K=%d, G's weights after step %d", k, t);
        EXPECT_SAME(what, G.params.flat->data, G2.params.flat->data, G.params.numel, 1e-6);
        /* D itself takes no step in G's update */
        CHECK(unchanged(&od, &d_before));
    }
    snap_free(&d_before);
    load_params("g", &G.params);
    load_params("g", &G2.params);
}

TEST(k0_g_step_is_the_plain_step) { g_step_case(0, GT_UNROLL_EXACT); }
TEST(g_step_unrolled_exact) { g_step_case(3, GT_UNROLL_EXACT); }
TEST(g_step_unrolled_surrogate) { g_step_case(2, GT_UNROLL_SURROGATE); }

int main(void) {
    if (setup() != 0) {
        fprintf(stderr, "test_unrolled: setup failed\n");
        return 1;
    }
    int rc;
    RUN_TESTS_INTO(rc, T(golden_adam), T(golden_adam_weight_decay), T(golden_sgd_momentum),
                   T(golden_sgd_first_update), T(golden_batch_norm_adam), T(golden_batch_norm_sgd),
                   T(fd_exact_gradient_sgd_momentum), T(fd_exact_gradient_adam),
                   T(own_rule_adam_batch_norm), T(own_rule_sgd_batch_norm),
                   T(own_rule_adam_weight_decay), T(own_rule_sgd_first_update),
                   T(k0_g_step_is_the_plain_step), T(g_step_unrolled_exact),
                   T(g_step_unrolled_surrogate));
    teardown();
    gt_runtime_free();
    return rc;
}
