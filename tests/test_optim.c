/* Optimizers (src/optim/): Adam and SGD against torch.optim over five updates (fixture
 * tests/golden/optim.gtfx from tests/golden/make_optim_fixtures.py), the schedules, the EMA by
 * hand, the op-written step against the fused one and its derivative against finite differences,
 * and bit-identical results with 1 and 2 OpenMP threads. GANTRY_GOLDEN_VERBOSE=1 prints the
 * relative error of every golden comparison. */
#include <omp.h>
#include <stdlib.h>

#include "fixture.h"
#include "gantry.h"
#include "optim/optim.h"
#include "test.h"

#define GOLDEN_PATH "tests/golden/optim.gtfx"
#define GOLDEN_STEPS 5
#define GOLDEN_RTOL 1e-6
#define N_GOLDEN_NAMES 3
static const char *const GOLDEN_NAMES[N_GOLDEN_NAMES] = {"w", "b", "k"};

/* Keep in step with CASES in tests/golden/make_optim_fixtures.py. */
typedef struct { const char *name; gt_optim_cfg cfg; } golden_case;
static const golden_case GOLDEN_CASES[] = {
    {"adam_b05", {.type = GT_OPTIM_ADAM, .lr = 0.01, .beta1 = 0.5, .beta2 = 0.999, .eps = 1e-8}},
    {"adam_b05_wd", {.type = GT_OPTIM_ADAM, .lr = 0.01, .beta1 = 0.5, .beta2 = 0.999, .eps = 1e-8,
                     .weight_decay = 0.1}},
    {"adam_b0", {.type = GT_OPTIM_ADAM, .lr = 0.002, .beta1 = 0.0, .beta2 = 0.9, .eps = 1e-6}},
    {"adam_b0_wd", {.type = GT_OPTIM_ADAM, .lr = 0.002, .beta1 = 0.0, .beta2 = 0.9, .eps = 1e-6,
                    .weight_decay = 0.05}},
    {"sgd_mom", {.type = GT_OPTIM_SGD, .lr = 0.05, .momentum = 0.9}},
    {"sgd_mom_wd", {.type = GT_OPTIM_SGD, .lr = 0.05, .momentum = 0.9, .weight_decay = 0.01}},
};
#define N_GOLDEN_CASES ((int)(sizeof GOLDEN_CASES / sizeof GOLDEN_CASES[0]))

static gt_fixture *golden;  /* loaded by main */

/* ---- helpers ---------------------------------------------------------------------------- */

/* A model arena and a table: w [3, 4], a buffer bn.mean [4] = 1..4, b [5], k [2, 3, 2], the
 * trainables starting from the fixture's init.NAME. */
typedef struct { gt_arena *arena; gt_params p; } model;

static void model_init(model *m) {
    static const int64_t sw[2] = {3, 4}, sbuf[1] = {4}, sb[1] = {5}, sk[3] = {2, 3, 2};
    m->arena = gt_arena_new(1 << 16);
    gt_params_init(&m->p);
    gt_params_declare(&m->p, "w", 2, sw, GT_PARAM_TRAINABLE);
    gt_params_declare(&m->p, "bn.mean", 1, sbuf, GT_PARAM_BUFFER);
    gt_params_declare(&m->p, "b", 1, sb, GT_PARAM_TRAINABLE);
    gt_params_declare(&m->p, "k", 3, sk, GT_PARAM_TRAINABLE);
    gt_params_finalize(&m->p, m->arena);
    char key[128];
    for (int i = 0; i < N_GOLDEN_NAMES; i++) {
        snprintf(key, sizeof key, "init.%s", GOLDEN_NAMES[i]);
        gt_tensor *t = m->p.t[gt_params_find(&m->p, GOLDEN_NAMES[i])];
        gt_copy_to(t->data, gt_fixture_get(golden, key));
    }
    float *buf = m->p.t[gt_params_find(&m->p, "bn.mean")]->data;
    for (int j = 0; j < 4; j++) buf[j] = (float)(j + 1);
}

static void model_free(model *m) {
    gt_params_release(&m->p);
    gt_arena_free(m->arena);
}

static bool buffer_untouched(const model *m) {
    const float *buf = m->p.t[gt_params_find(&m->p, "bn.mean")]->data;
    return buf[0] == 1.0f && buf[1] == 2.0f && buf[2] == 3.0f && buf[3] == 4.0f;
}

/* The fixture's gradient of update k (1-based) for entry `name` (a step-arena tensor). */
static gt_tensor *golden_grad(int k, const char *name) {
    char key[128];
    snprintf(key, sizeof key, "grad.%d.%s", k, name);
    return gt_fixture_get(golden, key);
}

/* max |got - want| / max |want| <= tol, for n = want->numel values of got. */
static void expect_rel(const char *what, const float *got, const gt_tensor *want, double tol) {
    int64_t n = want->numel;
    float *w = malloc((size_t)n * sizeof *w);
    CHECK(w != NULL);
    if (!w) return;
    gt_copy_to(w, want);
    double max_diff = 0.0, max_ref = 1e-30;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)w[i]);
        max_diff = d > max_diff || d != d ? d : max_diff;
        max_ref = fabs((double)w[i]) > max_ref ? fabs((double)w[i]) : max_ref;
    }
    free(w);
    double rel = max_diff / max_ref;
    if (getenv("GANTRY_GOLDEN_VERBOSE"))
        fprintf(stderr, "  %-20s relative error %.3g\n", what, rel);
    if (!(rel <= tol)) {
        gt_test_failed_checks++;
        fprintf(stderr, "  %s: relative error %.3g > %.1g\n", what, rel, tol);
    }
}

/* ---- golden: torch.optim.Adam and torch.optim.SGD ------------------------------------------- */

static void expect_golden_entries(const char *case_name, const char *tag, const gt_params *p,
                                  const float *base, bool trainable_data) {
    char key[128];
    for (int i = 0; i < N_GOLDEN_NAMES; i++) {
        const gt_param_spec *s = &p->spec[gt_params_find(p, GOLDEN_NAMES[i])];
        snprintf(key, sizeof key, "%s.%s.%s", case_name, tag, GOLDEN_NAMES[i]);
        const float *got = trainable_data ? p->flat->data + s->offset : base + s->offset;
        expect_rel(key, got, gt_fixture_get(golden, key), GOLDEN_RTOL);
    }
}

static void run_golden_case(const golden_case *c) {
    model m;
    model_init(&m);
    gt_optim o;
    gt_optim_init(&o, &m.p, &c->cfg, m.arena);
    char tag[16];
    for (int k = 1; k <= GOLDEN_STEPS; k++) {
        for (int i = 0; i < N_GOLDEN_NAMES; i++)
            gt_copy_to(m.p.t[gt_params_find(&m.p, GOLDEN_NAMES[i])]->grad->data,
                       golden_grad(k, GOLDEN_NAMES[i]));
        gt_optim_step(&o);
        snprintf(tag, sizeof tag, "%d", k);
        expect_golden_entries(c->name, tag, &m.p, NULL, true);
        gt_step_end();
    }
    expect_golden_entries(c->name, "m", &m.p, o.m->data, false);
    if (o.v) expect_golden_entries(c->name, "v", &m.p, o.v->data, false);
    CHECK(o.step == GOLDEN_STEPS);
    CHECK(buffer_untouched(&m));
    gt_step_end();
    model_free(&m);
}

TEST(golden_adam_and_sgd) {
    for (int i = 0; i < N_GOLDEN_CASES; i++) run_golden_case(&GOLDEN_CASES[i]);
}

/* ---- schedules ---------------------------------------------------------------------------- */

static double lr_at(gt_schedule s, int64_t t) {
    gt_optim o = {.cfg = {.lr = 0.1, .schedule = s, .total_steps = 100}, .step = t};
    return gt_optim_lr(&o);
}

TEST(schedules_at_several_steps) {
    CHECK_NEAR(lr_at(GT_SCHEDULE_CONSTANT, 0), 0.1, 1e-15);
    CHECK_NEAR(lr_at(GT_SCHEDULE_CONSTANT, 500), 0.1, 1e-15);
    CHECK_NEAR(lr_at(GT_SCHEDULE_LINEAR, 0), 0.1, 1e-15);
    CHECK_NEAR(lr_at(GT_SCHEDULE_LINEAR, 25), 0.075, 1e-15);
    CHECK_NEAR(lr_at(GT_SCHEDULE_LINEAR, 99), 0.001, 1e-15);
    CHECK_NEAR(lr_at(GT_SCHEDULE_LINEAR, 100), 0.0, 1e-15);
    CHECK_NEAR(lr_at(GT_SCHEDULE_LINEAR, 150), 0.0, 1e-15);
    CHECK_NEAR(lr_at(GT_SCHEDULE_COSINE, 0), 0.1, 1e-15);
    CHECK_NEAR(lr_at(GT_SCHEDULE_COSINE, 25), 0.05 * (1.0 + sqrt(0.5)), 1e-15);
    CHECK_NEAR(lr_at(GT_SCHEDULE_COSINE, 50), 0.05, 1e-15);
    CHECK_NEAR(lr_at(GT_SCHEDULE_COSINE, 75), 0.05 * (1.0 - sqrt(0.5)), 1e-15);
    CHECK_NEAR(lr_at(GT_SCHEDULE_COSINE, 100), 0.0, 1e-15);
    CHECK_NEAR(lr_at(GT_SCHEDULE_COSINE, 150), 0.0, 1e-15);
}

/* Plain SGD, lr 1 decaying linearly over 4 updates, gradient 1: steps of 1, 3/4, 1/2, 1/4, 0,
 * in both the fused and the op-written step. */
TEST(schedule_drives_the_step) {
    gt_arena *a = gt_arena_new(1 << 12);
    gt_params p;
    gt_params_init(&p);
    gt_params_declare(&p, "x", 1, (const int64_t[]){2}, GT_PARAM_TRAINABLE);
    gt_params_finalize(&p, a);
    gt_optim_cfg cfg = {.type = GT_OPTIM_SGD, .lr = 1.0, .schedule = GT_SCHEDULE_LINEAR,
                        .total_steps = 4};
    gt_optim o;
    gt_optim_init(&o, &p, &cfg, a);
    gt_optim_graph_state s;
    gt_optim_graph_state_init(&s, &o);
    gt_tensor *x = gt_zeros(1, (const int64_t[]){2}), *g = gt_full(1, (const int64_t[]){2}, 1.0f);
    static const float after[5] = {-1.0f, -1.75f, -2.25f, -2.5f, -2.5f};
    for (int k = 0; k < 5; k++) {
        p.flat_grad->data[0] = p.flat_grad->data[1] = 1.0f;
        gt_optim_step(&o);
        gt_optim_step_graph(&o, &s, &x, &g, &x);
        CHECK(p.flat->data[0] == after[k] && p.flat->data[1] == after[k]);
        CHECK(x->data[0] == after[k] && x->data[1] == after[k]);
    }
    gt_step_end();
    gt_params_release(&p);
    gt_arena_free(a);
}

/* ---- EMA ---------------------------------------------------------------------------------- */

static void set3(gt_params *p, float a, float b, float c, float buf0) {
    p->flat->data[0] = a, p->flat->data[1] = b, p->flat->data[2] = c, p->flat->data[3] = buf0;
}

static bool shadow_is(const gt_ema *e, float a, float b, float c, float buf0) {
    const float *s = e->shadow.flat->data;
    return s[0] == a && s[1] == b && s[2] == c && s[3] == buf0;
}

/* decay 0.75 and values exact in binary, so every expected value is exact. */
TEST(ema_by_hand) {
    gt_arena *a = gt_arena_new(1 << 12);
    gt_params p;
    gt_params_init(&p);
    gt_params_declare(&p, "w", 1, (const int64_t[]){3}, GT_PARAM_TRAINABLE);
    gt_params_declare(&p, "bn.mean", 1, (const int64_t[]){1}, GT_PARAM_BUFFER);
    gt_params_finalize(&p, a);
    set3(&p, 1, 2, 3, 10);
    gt_ema e, e0;
    gt_ema_init(&e, &p, 0.75, 2, a);
    gt_ema_init(&e0, &p, 0.75, 0, a);
    CHECK(shadow_is(&e, 1, 2, 3, 10) && e.shadow.flat->data != p.flat->data);
    set3(&p, 2, 4, 6, 11);
    gt_ema_update(&e, &p);  /* update 1 of start 2: a copy */
    gt_ema_update(&e0, &p); /* start 0: 0.75 (1, 2, 3) + 0.25 (2, 4, 6) */
    CHECK(shadow_is(&e, 2, 4, 6, 11));
    CHECK(shadow_is(&e0, 1.25f, 2.5f, 3.75f, 11));
    set3(&p, 4, 8, 12, 12);
    gt_ema_update(&e, &p);  /* update 2: still a copy */
    CHECK(shadow_is(&e, 4, 8, 12, 12));
    set3(&p, 0, -4, 4, 13);
    gt_ema_update(&e, &p);  /* 0.75 (4, 8, 12) + 0.25 (0, -4, 4); the buffer copied */
    CHECK(shadow_is(&e, 3, 5, 10, 13));
    CHECK(e.updates == 3);
    gt_ema_release(&e);
    gt_ema_release(&e0);
    gt_params_release(&p);
    gt_arena_free(a);
}

/* ---- the op-written step ------------------------------------------------------------------ */

/* GOLDEN_STEPS updates of the golden model, fused and in ops from the same state; parameters
 * and moments must agree to 1e-6. */
static void graph_matches_fused(const gt_optim_cfg *cfg) {
    model fm, gm;
    model_init(&fm);
    model_init(&gm);
    gt_optim fo, go;
    gt_optim_init(&fo, &fm.p, cfg, fm.arena);
    gt_optim_init(&go, &gm.p, cfg, gm.arena);
    gt_optim_graph_state s;
    gt_optim_graph_state_init(&s, &go);
    gt_tensor *cur[4], *grads[4] = {0};
    for (int i = 0; i < gm.p.n; i++) cur[i] = gm.p.t[i];
    for (int k = 1; k <= GOLDEN_STEPS; k++) {
        for (int i = 0; i < gm.p.n; i++) {
            if (gm.p.spec[i].kind == GT_PARAM_BUFFER) continue;
            grads[i] = golden_grad(k, gm.p.spec[i].name);
            gt_copy_to(fm.p.t[i]->grad->data, grads[i]);
        }
        gt_optim_step(&fo);
        gt_optim_step_graph(&go, &s, cur, grads, cur);
    }
    CHECK(s.step == fo.step && go.step == 0);
    for (int i = 0; i < gm.p.n; i++) {
        const gt_param_spec *sp = &fm.p.spec[i];
        if (sp->kind == GT_PARAM_BUFFER) {
            CHECK(cur[i] == gm.p.t[i]);
            continue;
        }
        expect_rel(sp->name, fm.p.t[i]->data, cur[i], 1e-6);
        expect_rel("m", fo.m->data + sp->offset, s.m[i], 1e-6);
        if (fo.v) expect_rel("v", fo.v->data + sp->offset, s.v[i], 1e-6);
    }
    gt_step_end();
    model_free(&fm);
    model_free(&gm);
}

TEST(graph_step_matches_fused_step) {
    graph_matches_fused(&GOLDEN_CASES[1].cfg); /* Adam with weight decay */
    graph_matches_fused(&GOLDEN_CASES[2].cfg); /* Adam, betas (0, 0.9) */
    graph_matches_fused(&GOLDEN_CASES[5].cfg); /* SGD with momentum and weight decay */
}

/* d/d(g1, g2) of sum(u * p2), p2 after two Adam steps (gradients g1 then g2) on two entries. */
typedef struct {
    gt_optim o;
    gt_tensor *p0[2], *u[2];
} unroll_case;

static gt_tensor *unrolled_objective(const unroll_case *c, gt_tensor *const *g) {
    gt_optim_graph_state s;
    gt_optim_graph_state_init(&s, &c->o);
    gt_tensor *p[2] = {c->p0[0], c->p0[1]};
    gt_optim_step_graph(&c->o, &s, p, g, p);
    gt_optim_step_graph(&c->o, &s, p, g + 2, p);
    return gt_add(gt_sum_all(gt_mul(p[0], c->u[0])), gt_sum_all(gt_mul(p[1], c->u[1])));
}

/* Each gradient element perturbed by +-h: central differences against gt_grad. */
static void check_unrolled_fd(const unroll_case *c, gt_tensor **g) {
    gt_tensor *dg[4];
    gt_tensor *f = unrolled_objective(c, g);
    gt_grad(1, &f, NULL, 4, g, dg, false);
    const float h = 1e-2f;
    bool prev = gt_grad_set(false);
    for (int i = 0; i < 4; i++) {
        for (int64_t j = 0; j < g[i]->numel; j++) {
            float keep = g[i]->data[j];
            g[i]->data[j] = keep + h;
            double fp = gt_item(unrolled_objective(c, g));
            g[i]->data[j] = keep - h;
            double fm = gt_item(unrolled_objective(c, g));
            g[i]->data[j] = keep;
            double fd = (fp - fm) / (2.0 * (double)h);
            CHECK_NEAR(dg[i]->data[j], fd, 5e-4 * (1.0 + fabs(fd)));
        }
    }
    gt_grad_set(prev);
}

TEST(graph_step_is_differentiable) {
    gt_arena *a = gt_arena_new(1 << 12);
    gt_params p;
    gt_params_init(&p);
    gt_params_declare(&p, "w", 2, (const int64_t[]){2, 3}, GT_PARAM_TRAINABLE);
    gt_params_declare(&p, "b", 1, (const int64_t[]){2}, GT_PARAM_TRAINABLE);
    gt_params_finalize(&p, a);
    unroll_case c;
    gt_optim_cfg cfg = {.type = GT_OPTIM_ADAM, .lr = 1.0, .beta1 = 0.5, .beta2 = 0.9, .eps = 1e-3,
                        .weight_decay = 0.1};
    gt_optim_init(&c.o, &p, &cfg, a);
    gt_rng rng = gt_rng_seed(7);
    gt_tensor *g[4];
    for (int i = 0; i < 2; i++) {
        c.p0[i] = gt_rand_normal(&rng, p.spec[i].ndim, p.spec[i].shape, 0.0f, 0.5f);
        c.u[i] = gt_rand_normal(&rng, p.spec[i].ndim, p.spec[i].shape, 0.0f, 1.0f);
        for (int k = 0; k < 2; k++) { /* |g| in [0.5, 1.5), random sign: away from sqrt's kink */
            gt_tensor *t = gt_rand_uniform(&rng, p.spec[i].ndim, p.spec[i].shape, 0.5f, 1.5f);
            for (int64_t j = 0; j < t->numel; j++) t->data[j] *= (j + k + i) % 3 ? 1.0f : -1.0f;
            gt_set_requires_grad(t, true);
            g[2 * k + i] = t;
        }
    }
    check_unrolled_fd(&c, g);
    gt_step_end();
    gt_params_release(&p);
    gt_arena_free(a);
}

/* ---- determinism across thread counts -------------------------------------------------------- */

#define DET_N 100003  /* above the threading threshold, and not a multiple of any vector width */

/* Three updates of one large entry (Adam or SGD), each followed by an EMA update, from data and
 * gradients of a fixed seed; p, o and e keep the results. */
static void det_run(gt_arena *a, gt_params *p, gt_optim *o, gt_ema *e, const gt_optim_cfg *cfg) {
    gt_params_init(p);
    gt_params_declare(p, "w", 1, (const int64_t[]){DET_N}, GT_PARAM_TRAINABLE);
    gt_params_finalize(p, a);
    gt_rng rng = gt_rng_seed(11);
    gt_fill_normal(&rng, p->t[0], 0.0f, 1.0f);
    gt_optim_init(o, p, cfg, a);
    gt_ema_init(e, p, 0.9, 0, a);
    for (int k = 0; k < 3; k++) {
        gt_fill_normal(&rng, p->t[0]->grad, 0.0f, 1.0f);
        gt_optim_step(o);
        gt_ema_update(e, p);
    }
}

static bool same_floats(const float *x, const float *y, int64_t n) {
    return (x == NULL && y == NULL) || (x && y && memcmp(x, y, (size_t)n * sizeof *x) == 0);
}

static void det_compare(const gt_optim_cfg *cfg) {
    gt_arena *a = gt_arena_new(1 << 22);
    gt_params p[2];
    gt_optim o[2];
    gt_ema e[2];
    int threads = omp_get_max_threads();
    for (int r = 0; r < 2; r++) {
        omp_set_num_threads(r + 1);
        det_run(a, &p[r], &o[r], &e[r], cfg);
    }
    omp_set_num_threads(threads);
    CHECK(same_floats(p[0].flat->data, p[1].flat->data, DET_N));
    CHECK(same_floats(o[0].m->data, o[1].m->data, DET_N));
    CHECK(same_floats(o[0].v ? o[0].v->data : NULL, o[1].v ? o[1].v->data : NULL, DET_N));
    CHECK(same_floats(e[0].shadow.flat->data, e[1].shadow.flat->data, DET_N));
    for (int r = 0; r < 2; r++) {
        gt_ema_release(&e[r]);
        gt_params_release(&p[r]);
    }
    gt_arena_free(a);
}

TEST(one_and_two_threads_bit_identical) {
    det_compare(&GOLDEN_CASES[1].cfg);
    det_compare(&GOLDEN_CASES[5].cfg);
}

int main(void) {
    golden = gt_fixture_load(GOLDEN_PATH);
    if (!golden) return 1;
    int rc;
    RUN_TESTS_INTO(rc, T(golden_adam_and_sgd), T(schedules_at_several_steps),
                   T(schedule_drives_the_step), T(ema_by_hand), T(graph_step_matches_fused_step),
                   T(graph_step_is_differentiable), T(one_and_two_threads_bit_identical));
    gt_fixture_free(golden);
    gt_runtime_free();
    return rc;
}
