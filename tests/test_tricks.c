/* The GAN losses and penalties (src/gan, tricks.md sections 1-2, 4, 5, 7/12, 8, 13) against
 * PyTorch: every loss kind's D and G objectives, label targets, drift, feature matching, the
 * WGAN-GP (two- and one-sided), DRAGAN, R1 and R2 penalties alone and together (double backward
 * through conv, linear, layer norm, relu, leaky relu and tanh, and the half-resolution view), and
 * instance noise as gt_gan_d_step composes it. Values and gradients with respect to the updated
 * network's weights, on real gantry models whose weights, batches and random draws come from
 * tests/golden/tricks.gtfx (written by tests/golden/make_tricks_fixtures.py; see it for the
 * networks and the record names). Agreement: max |got - want| / max |want| <= 1e-4 per tensor.
 * GANTRY_GOLDEN_VERBOSE=1 prints every comparison's relative error.
 *
 * Also unit tests of the schedules (instance-noise sigma, cosine penalty decay), of the draws of a
 * D update (gt_gan_draw_d) and of gt_gan_check's errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "gan/gan.h"
#include "test.h"

#define RTOL 1e-4
#define NI 4 /* image batch */
#define NP 6 /* point batch */

/* ---- The networks, built once by main ----------------------------------------------------- */

static gt_fixture *FX;
static gt_arena *ARENA;
static gt_model G_IMG, G_PTS, D_A, D_B, D_C, D_D;

static gt_net_spec net_spec(gt_role role, const char *family, int64_t depth, const char *act,
                            const char *norm, int c, int h, int w) {
    gt_net_spec s = {.role = role, .z_dim = 4, .width = 4, .depth = depth, .init_std = 0.02,
                     .c = c, .h = h, .w = w};
    strcpy(s.family, family);
    strcpy(s.activation, act);
    strcpy(s.norm, norm);
    strcpy(s.init, "normal");
    return s;
}

/* Copies "<prefix><name>" from the fixture into every entry of the table. */
static void load_params(const char *prefix, gt_params *p) {
    char key[160];
    for (int i = 0; i < p->n; i++) {
        snprintf(key, sizeof key, "%s%s", prefix, p->spec[i].name);
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
    FX = gt_fixture_load("tests/golden/tricks.gtfx");
    if (!FX) return -1;
    ARENA = gt_arena_new(1 << 20);
    gt_rng rng = gt_rng_seed(0);
    const gt_role G = GT_ROLE_GENERATOR, D = GT_ROLE_DISCRIMINATOR;
    int rc = 0;
    rc |= build(&G_IMG, net_spec(G, "mlp", 1, "relu", "none", 1, 28, 28), "g_img.", &rng);
    rc |= build(&G_PTS, net_spec(G, "mlp", 1, "relu", "none", 2, 1, 1), "g_pts.", &rng);
    rc |= build(&D_A, net_spec(D, "dcgan", 1, "leaky_relu", "layer", 1, 28, 28), "d_a.", &rng);
    rc |= build(&D_B, net_spec(D, "mlp", 2, "tanh", "layer", 2, 1, 1), "d_b.", &rng);
    rc |= build(&D_C, net_spec(D, "mlp", 2, "relu", "none", 2, 1, 1), "d_c.", &rng);
    rc |= build(&D_D, net_spec(D, "mlp", 1, "leaky_relu", "layer", 1, 14, 14), "d_d.", &rng);
    gt_step_end();
    return rc ? -1 : 0;
}

static void teardown(void) {
    gt_model *all[] = {&G_IMG, &G_PTS, &D_A, &D_B, &D_C, &D_D};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) gt_model_release(all[i]);
    gt_arena_free(ARENA);
    gt_fixture_free(FX);
}

static gt_tensor *fx(const char *name) { return gt_fixture_get(FX, name); }

static gt_tensor *fx2(const char *prefix, const char *name) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", prefix, name);
    return gt_fixture_get(FX, key);
}

/* ---- Comparison --------------------------------------------------------------------------- */

/* got against the fixture tensor called name: the same shape (a scalar may be [] or [1]) and
 * max |got - want| <= RTOL max |want| (max |want| floored at 1e-6). */
static void expect_close(int line, const char *name, gt_tensor *got) {
    if (!got) {
        gt_test_failed_checks++;
        fprintf(stderr, "  %s:%d: %s: gantry gave NULL\n", __FILE__, line, name);
        return;
    }
    gt_tensor *want = fx(name);
    bool same = got->numel == want->numel && (got->numel == 1 || got->ndim == want->ndim);
    for (int i = 0; same && got->numel > 1 && i < got->ndim; i++) same = got->shape[i] == want->shape[i];
    if (!same) {
        gt_test_failed_checks++;
        fprintf(stderr, "  %s:%d: %s: shape differs (numel %lld, PyTorch %lld)\n", __FILE__, line, name,
                (long long)got->numel, (long long)want->numel);
        return;
    }
    size_t n = (size_t)want->numel;
    float *a = malloc(n * sizeof *a);
    if (!a) abort();
    gt_copy_to(a, got);
    double max_diff = 0, max_ref = 0;
    size_t worst = 0;
    bool nan = false;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)want->data[i]);
        max_ref = fmax(max_ref, fabs((double)want->data[i]));
        if (d != d) nan = true;
        if (d > max_diff) max_diff = d, worst = i;
    }
    double rel = max_diff / fmax(max_ref, 1e-6);
    if (getenv("GANTRY_GOLDEN_VERBOSE")) fprintf(stderr, "  %-34s relative error %.3g\n", name, rel);
    if (nan || !(rel <= RTOL)) {
        gt_test_failed_checks++;
        fprintf(stderr, "  %s:%d: %s: relative error %.3g > %.1g (at %zu: gantry %.8g, PyTorch %.8g; "
                        "max |PyTorch| %.4g)%s\n",
                __FILE__, line, name, rel, RTOL, worst, a[worst], want->data[worst], max_ref,
                nan ? " [NaN]" : "");
    }
    free(a);
}
#define EXPECT_CLOSE(name, got) expect_close(__LINE__, (name), (got))

/* Compares loss with "<name>.value" and its gradients with respect to m's trainables with
 * "<name>.grad.<param>". */
static void expect_loss(int line, const char *name, gt_tensor *loss, gt_model *m) {
    char key[192];
    snprintf(key, sizeof key, "%s.value", name);
    expect_close(line, key, loss);
    if (!loss) return;
    gt_params *p = &m->params;
    gt_tensor *in[64], *g[64];
    const char *names[64];
    int n = 0;
    for (int i = 0; i < p->n && n < 64; i++)
        if (p->spec[i].kind == GT_PARAM_TRAINABLE) names[n] = p->spec[i].name, in[n++] = p->t[i];
    gt_grad(1, &loss, NULL, n, in, g, false);
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof key, "%s.grad.%s", name, names[i]);
        expect_close(line, key, g[i]);
    }
}
#define EXPECT_LOSS(name, loss, m) expect_loss(__LINE__, (name), (loss), (m))

/* ---- Helpers ------------------------------------------------------------------------------ */

static gt_gan make_gan(gt_model *g, gt_model *d, bool half_view) {
    gt_gan gan;
    gt_gan_init(&gan, g, NULL, d, NULL, 1);
    gan.critic[0].half_view = half_view;
    return gan;
}

static gt_tensor *forward(const gt_critic *c, gt_tensor *x) {
    gt_fwd f = gt_fwd_of(&c->net->params, true);
    return gt_critic_forward(c, &f, x, NULL);
}

static gt_tensor *generate(gt_model *g, gt_tensor *z) {
    gt_fwd f = gt_fwd_of(&g->params, true);
    return gt_model_forward(g, &f, z, NULL);
}

static gt_d_draws draws_of(const char *pre) {
    return (gt_d_draws){.real_target = fx2(pre, "real_target"), .fake_target = fx2(pre, "fake_target"),
                        .real_noise = fx2(pre, "real_noise"), .fake_noise = fx2(pre, "fake_noise"),
                        .gp_eps = fx2(pre, "gp_eps"), .dragan_u = fx2(pre, "dragan_u"),
                        .dragan_a = fx2(pre, "dragan_a")};
}

/* ---- gt_bce_with_logits ------------------------------------------------------------------- */

TEST(golden_bce_with_logits) {
    static const struct { const char *tag; bool tensor; float scalar; } cases[] = {
        {"t", true, 0}, {"one", false, 1.0f}, {"zero", false, 0.0f}, {"p9", false, 0.9f}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char key[64];
        gt_tensor *d = fx("bce.logits");
        gt_set_requires_grad(d, true);
        gt_tensor *v = gt_bce_with_logits(d, cases[i].tensor ? fx("bce.targets") : NULL, cases[i].scalar);
        snprintf(key, sizeof key, "bce.%s.value", cases[i].tag);
        EXPECT_CLOSE(key, v);
        gt_tensor *g = NULL;
        gt_grad(1, &v, NULL, 1, &d, &g, false);
        snprintf(key, sizeof key, "bce.%s.grad", cases[i].tag);
        EXPECT_CLOSE(key, g);
        gt_step_end();
    }
}

/* ---- D losses ----------------------------------------------------------------------------- */

typedef enum { TGT_NONE, TGT_SMOOTH, TGT_ONESIDED, TGT_UNIFORM } target_mode;

TEST(golden_d_losses) {
    static const struct { const char *name; const gt_loss_kind *kind; target_mode tgt; double drift; } cases[] = {
        {"bce", &gt_loss_bce, TGT_NONE, 0},           {"minimax", &gt_loss_minimax, TGT_NONE, 0},
        {"lsgan", &gt_loss_lsgan, TGT_NONE, 0},       {"hinge", &gt_loss_hinge, TGT_NONE, 0},
        {"wgan", &gt_loss_wgan, TGT_NONE, 0},         {"ragan", &gt_loss_ragan, TGT_NONE, 0},
        {"rpgan", &gt_loss_rpgan, TGT_NONE, 0},       {"bce_smooth", &gt_loss_bce, TGT_SMOOTH, 0},
        {"bce_onesided", &gt_loss_bce, TGT_ONESIDED, 0}, {"bce_uniform", &gt_loss_bce, TGT_UNIFORM, 0},
        {"lsgan_smooth", &gt_loss_lsgan, TGT_SMOOTH, 0}, {"lsgan_uniform", &gt_loss_lsgan, TGT_UNIFORM, 0},
        {"wgan_drift", &gt_loss_wgan, TGT_NONE, 0.05}, {"hinge_drift", &gt_loss_hinge, TGT_NONE, 0.01},
    };
    gt_critic cb = {&D_B, NULL, false, 1};
    int64_t tshape[2] = {NP, 1};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gt_loss_spec L = {.kind = cases[i].kind, .drift = cases[i].drift, .d2gan_alpha = 1, .d2gan_beta = 1,
                          .adversarial = true};
        gt_tensor *rt = NULL, *ft = NULL;
        switch (cases[i].tgt) {
        case TGT_NONE: break;
        case TGT_SMOOTH: rt = gt_full(2, tshape, 0.9f), ft = gt_full(2, tshape, 0.1f); break;
        case TGT_ONESIDED: rt = gt_full(2, tshape, 0.9f), ft = gt_full(2, tshape, 0.0f); break;
        case TGT_UNIFORM: rt = fx("pts.real_target"), ft = fx("pts.fake_target"); break;
        }
        gt_tensor *loss = gt_loss_d(&L, 0, forward(&cb, fx("pts.real")), forward(&cb, fx("pts.fake")), rt, ft);
        char key[64];
        snprintf(key, sizeof key, "lossd.%s", cases[i].name);
        EXPECT_LOSS(key, loss, &D_B);
        gt_step_end();
    }
    /* D2GAN: two critics with their own losses, alpha and beta not 1 */
    gt_loss_spec L = {.kind = &gt_loss_d2gan, .d2gan_alpha = 0.6, .d2gan_beta = 1.4, .adversarial = true};
    gt_critic cc = {&D_C, NULL, false, 1};
    EXPECT_LOSS("lossd.d2gan0", gt_loss_d(&L, 0, forward(&cb, fx("pts.real")), forward(&cb, fx("pts.fake")), NULL, NULL), &D_B);
    gt_step_end();
    EXPECT_LOSS("lossd.d2gan1", gt_loss_d(&L, 1, forward(&cc, fx("pts.real")), forward(&cc, fx("pts.fake")), NULL, NULL), &D_C);
    gt_step_end();
    /* the conv critic: bce with per-sample random targets, wgan with ProGAN's drift */
    gt_critic ca = {&D_A, NULL, false, 1};
    L = (gt_loss_spec){.kind = &gt_loss_bce, .adversarial = true};
    EXPECT_LOSS("lossd.img_bce", gt_loss_d(&L, 0, forward(&ca, fx("img.real")), forward(&ca, fx("img.fake")),
                                           fx("img.real_target"), fx("img.fake_target")), &D_A);
    gt_step_end();
    L = (gt_loss_spec){.kind = &gt_loss_wgan, .drift = 0.001, .adversarial = true};
    EXPECT_LOSS("lossd.img_wgan", gt_loss_d(&L, 0, forward(&ca, fx("img.real")), forward(&ca, fx("img.fake")), NULL, NULL), &D_A);
    gt_step_end();
}

/* ---- G losses (gt_g_objective) ---------------------------------------------------------- */

TEST(golden_g_losses) {
    static const struct { const char *name; const gt_loss_kind *kind; } cases[] = {
        {"bce", &gt_loss_bce},     {"minimax", &gt_loss_minimax}, {"lsgan", &gt_loss_lsgan},
        {"hinge", &gt_loss_hinge}, {"wgan", &gt_loss_wgan},       {"ragan", &gt_loss_ragan},
        {"rpgan", &gt_loss_rpgan}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gt_gan gan = make_gan(&G_PTS, &D_B, false);
        gan.loss.kind = cases[i].kind;
        gt_tensor *loss = gt_g_objective(&gan, generate(&G_PTS, fx("pts.z")), fx("pts.real"));
        char key[64];
        snprintf(key, sizeof key, "lossg.%s", cases[i].name);
        EXPECT_LOSS(key, loss, &G_PTS);
        gt_step_end();
    }
    /* D2GAN: G's loss summed over both critics */
    gt_gan gan = make_gan(&G_PTS, &D_B, false);
    gan.loss.kind = &gt_loss_d2gan;
    gan.loss.d2gan_alpha = 0.6;
    gan.loss.d2gan_beta = 1.4;
    gan.n_critics = 2;
    gan.critic[1] = (gt_critic){&D_C, NULL, false, 1};
    EXPECT_LOSS("lossg.d2gan", gt_g_objective(&gan, generate(&G_PTS, fx("pts.z")), NULL), &G_PTS);
    gt_step_end();
    /* an image G (tanh output) through the conv critic; G's forward itself first */
    gan = make_gan(&G_IMG, &D_A, false);
    gt_tensor *fake = generate(&G_IMG, fx("img.z"));
    EXPECT_CLOSE("img.g_fake", fake);
    EXPECT_LOSS("lossg.img_bce", gt_g_objective(&gan, fake, NULL), &G_IMG);
    gt_step_end();
}

/* ---- Feature matching ----------------------------------------------------------------------- */

TEST(golden_feature_matching) {
    static const struct { const char *name; gt_fm_kind fm; bool adversarial; double weight; } cases[] = {
        {"l1", GT_FM_L1, false, 1.0}, {"l2", GT_FM_L2, false, 1.0},
        {"l1_adv", GT_FM_L1, true, 0.7}, {"l2_adv", GT_FM_L2, true, 2.5}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gt_gan gan = make_gan(&G_PTS, &D_B, false);
        gan.loss.fm = cases[i].fm;
        gan.loss.adversarial = cases[i].adversarial;
        gan.loss.fm_weight = cases[i].weight;
        gt_tensor *loss = gt_g_objective(&gan, generate(&G_PTS, fx("pts.z")), fx("pts.real"));
        char key[64];
        snprintf(key, sizeof key, "fm.%s", cases[i].name);
        EXPECT_LOSS(key, loss, &G_PTS);
        gt_step_end();
    }
    /* two image critics, full and half view: hinge + 0.3 L2 feature matching, summed */
    gt_gan gan = make_gan(&G_IMG, &D_A, false);
    gan.loss.kind = &gt_loss_hinge;
    gan.loss.fm = GT_FM_L2;
    gan.loss.fm_weight = 0.3;
    gan.n_critics = 2;
    gan.critic[1] = (gt_critic){&D_D, NULL, true, 1};
    EXPECT_LOSS("fm.img_two_critics", gt_g_objective(&gan, generate(&G_IMG, fx("img.z")), fx("img.real")), &G_IMG);
    gt_step_end();
}

/* ---- Penalties -------------------------------------------------------------------------------- */

typedef struct { const char *name; double gp, dragan, r1, r2, scale; bool one_sided; } pen_case;
static const pen_case PEN_CASES[] = {
    {"gp", 10, 0, 0, 0, 1, false},      {"gp1", 10, 0, 0, 0, 1, true},
    {"dragan", 0, 10, 0, 0, 1, false},  {"r1", 0, 0, 10, 0, 1, false},
    {"r2", 0, 0, 0, 3, 1, false},       {"all", 2.5, 1.5, 3, 0.7, 0.6, false},
};

static void set_penalty(gt_gan *gan, const pen_case *pc) {
    gan->penalty.gp = pc->gp;
    gan->penalty.dragan = pc->dragan;
    gan->penalty.r1 = pc->r1;
    gan->penalty.r2 = pc->r2;
    gan->penalty.gp_one_sided = pc->one_sided;
}

/* Every penalty case through one critic: value, the unweighted parts, and D's gradients. */
static void penalties_through(gt_model *d, const char *net, bool half_view, const char *pre) {
    for (size_t i = 0; i < sizeof PEN_CASES / sizeof PEN_CASES[0]; i++) {
        const pen_case *pc = &PEN_CASES[i];
        gt_gan gan = make_gan(NULL, d, half_view);
        set_penalty(&gan, pc);
        gt_d_draws dr = draws_of(pre);
        double parts[4];
        gt_tensor *pen = gt_d_penalty(&gan, 0, fx2(pre, "real"), fx2(pre, "fake"), &dr, pc->scale, parts);
        char key[96];
        snprintf(key, sizeof key, "pen.%s.%s", net, pc->name);
        EXPECT_LOSS(key, pen, d);
        snprintf(key, sizeof key, "pen.%s.%s.parts", net, pc->name);
        int64_t four = 4;
        float pf[4] = {(float)parts[0], (float)parts[1], (float)parts[2], (float)parts[3]};
        EXPECT_CLOSE(key, gt_from_data(1, &four, pf));
        gt_step_end();
    }
}

TEST(golden_penalties_conv_layer_norm) { penalties_through(&D_A, "d_a", false, "img"); }
TEST(golden_penalties_mlp_tanh_layer_norm) { penalties_through(&D_B, "d_b", false, "pts"); }
TEST(golden_penalties_mlp_relu) { penalties_through(&D_C, "d_c", false, "pts"); }
TEST(golden_penalties_half_view) { penalties_through(&D_D, "d_d", true, "img"); }

TEST(penalty_off_is_null) {
    gt_gan gan = make_gan(NULL, &D_B, false);
    gt_d_draws dr = draws_of("pts");
    double parts[4] = {1, 1, 1, 1};
    CHECK(gt_d_penalty(&gan, 0, fx("pts.real"), fx("pts.fake"), &dr, 1, parts) == NULL);
    for (int i = 0; i < 4; i++) CHECK(parts[i] == 0);
    gt_step_end();
}

/* ---- Instance noise, as gt_gan_d_step composes the D objective --------------------------------- */

static gt_tensor *noised_d_objective(gt_gan *gan, const char *pre, double scale) {
    gt_d_draws dr = draws_of(pre);
    gt_tensor *x_real = gt_add_noise(fx2(pre, "real"), dr.real_noise);
    gt_tensor *x_fake = gt_add_noise(fx2(pre, "fake"), dr.fake_noise);
    gt_tensor *d_real = forward(&gan->critic[0], x_real), *d_fake = forward(&gan->critic[0], x_fake);
    bool targets = gan->loss.kind->uses_targets;
    gt_tensor *loss = gt_loss_d(&gan->loss, 0, d_real, d_fake, targets ? dr.real_target : NULL,
                                targets ? dr.fake_target : NULL);
    return gt_add(loss, gt_d_penalty(gan, 0, x_real, x_fake, &dr, scale, NULL));
}

TEST(golden_instance_noise) {
    gt_gan gan = make_gan(NULL, &D_B, false);
    gan.loss.kind = &gt_loss_wgan;
    gan.penalty.gp = 10;
    gan.penalty.r1 = 1;
    EXPECT_LOSS("noise.pts_wgan_gp", noised_d_objective(&gan, "pts", 0.8), &D_B);
    gt_step_end();

    gan = make_gan(NULL, &D_A, false);
    gan.labels.uniform = true;
    gan.penalty.dragan = 5;
    gan.penalty.r2 = 2;
    EXPECT_LOSS("noise.img_bce", noised_d_objective(&gan, "img", 0.5), &D_A);
    gt_step_end();

    gan = make_gan(NULL, &D_D, true);
    gan.loss.kind = &gt_loss_hinge;
    gan.penalty.gp = 10;
    gan.penalty.r1 = 0.5;
    gan.penalty.r2 = 0.5;
    EXPECT_LOSS("noise.img_half_hinge", noised_d_objective(&gan, "img", 1.0), &D_D);
    gt_step_end();

    /* G's side, as gt_gan_g_step: noise on the fake and (relativistic) the real batch */
    gan = make_gan(&G_PTS, &D_B, false);
    gan.loss.kind = &gt_loss_ragan;
    gt_tensor *fake = gt_add_noise(generate(&G_PTS, fx("pts.z")), fx("pts.fake_noise"));
    gt_tensor *real = gt_add_noise(fx("pts.real"), fx("pts.real_noise"));
    EXPECT_LOSS("noise.g_ragan", gt_g_objective(&gan, fake, real), &G_PTS);
    gt_step_end();
}

/* ---- Schedules -------------------------------------------------------------------------------- */

TEST(noise_sigma_schedules) {
    gt_noise_spec s = {.sigma = 0.4, .anneal = GT_ANNEAL_NONE, .steps = 1000, .fraction = 1};
    CHECK_NEAR(gt_noise_sigma(&s, 0), 0.4, 1e-12);
    CHECK_NEAR(gt_noise_sigma(&s, 500), 0.4, 1e-12);
    CHECK_NEAR(gt_noise_sigma(&s, 5000), 0.4, 1e-12);
    s.anneal = GT_ANNEAL_LINEAR; /* s0 max(0, 1 - t/T) */
    CHECK_NEAR(gt_noise_sigma(&s, 0), 0.4, 1e-12);
    CHECK_NEAR(gt_noise_sigma(&s, 250), 0.3, 1e-12);
    CHECK_NEAR(gt_noise_sigma(&s, 500), 0.2, 1e-12);
    CHECK_NEAR(gt_noise_sigma(&s, 1000), 0.0, 1e-12);
    CHECK_NEAR(gt_noise_sigma(&s, 3000), 0.0, 1e-12);
    s.anneal = GT_ANNEAL_EXPONENTIAL; /* s0 100^(-t/T) for t < T, then 0 */
    CHECK_NEAR(gt_noise_sigma(&s, 0), 0.4, 1e-12);
    CHECK_NEAR(gt_noise_sigma(&s, 500), 0.04, 1e-12);
    CHECK_NEAR(gt_noise_sigma(&s, 999), 0.4 * pow(100.0, -0.999), 1e-12);
    CHECK_NEAR(gt_noise_sigma(&s, 1000), 0.0, 1e-12);
    CHECK_NEAR(gt_noise_sigma(&s, 3000), 0.0, 1e-12);
    s.sigma = 0; /* off */
    CHECK(gt_noise_sigma(&s, 0) == 0);
    s.anneal = GT_ANNEAL_LINEAR;
    CHECK(gt_noise_sigma(&s, 10) == 0);
}

TEST(penalty_decay_cosine) {
    gt_penalty_spec p = {.r1 = 1, .decay = GT_DECAY_NONE, .decay_steps = 100, .decay_floor = 0.1};
    CHECK(gt_penalty_decay(&p, 0) == 1);
    CHECK(gt_penalty_decay(&p, 1000) == 1);
    p.decay = GT_DECAY_COSINE; /* floor + (1 - floor) (1 + cos(pi t/T)) / 2 */
    CHECK_NEAR(gt_penalty_decay(&p, 0), 1.0, 1e-12);
    CHECK_NEAR(gt_penalty_decay(&p, 50), 0.55, 1e-12);
    CHECK_NEAR(gt_penalty_decay(&p, 25), 0.1 + 0.9 * 0.5 * (1 + cos(3.14159265358979323846 / 4)), 1e-12);
    CHECK_NEAR(gt_penalty_decay(&p, 100), 0.1, 1e-12);
    CHECK_NEAR(gt_penalty_decay(&p, 500), 0.1, 1e-12);
    /* monotone non-increasing */
    double prev = 2;
    for (int t = 0; t <= 120; t += 5) {
        double v = gt_penalty_decay(&p, t);
        CHECK(v <= prev + 1e-15);
        prev = v;
    }
    CHECK(gt_penalty_any(&p));
    gt_penalty_spec none = {0};
    CHECK(!gt_penalty_any(&none));
}

/* ---- Draws of a D update ---------------------------------------------------------------------- */

static bool all_in(const gt_tensor *t, double lo, double hi) {
    for (int64_t i = 0; i < t->numel; i++)
        if (!(t->data[i] >= lo && t->data[i] < hi)) return false;
    return true;
}

static bool shape_is(const gt_tensor *t, int ndim, const int64_t *shape) {
    if (!t || t->ndim != ndim) return false;
    for (int i = 0; i < ndim; i++)
        if (t->shape[i] != shape[i]) return false;
    return true;
}

TEST(draw_d_tensors) {
    const int64_t n = 64, shape[4] = {n, 1, 4, 4}, per[4] = {n, 1, 1, 1}, tgt[2] = {n, 1};
    gt_d_draws dr;
    /* the plain GAN: nothing to draw */
    gt_gan gan = make_gan(&G_IMG, &D_A, false);
    gt_gan_draw_d(&gan, 0, 4, shape, &dr);
    CHECK(!dr.real_target && !dr.fake_target && !dr.real_noise && !dr.fake_noise && !dr.gp_eps &&
          !dr.dragan_u && !dr.dragan_a);

    /* fixed smoothed targets, no flips */
    gan.labels.real = 0.9;
    gan.labels.fake = 0.1;
    gt_gan_draw_d(&gan, 0, 4, shape, &dr);
    CHECK(shape_is(dr.real_target, 2, tgt) && shape_is(dr.fake_target, 2, tgt));
    if (dr.real_target && dr.fake_target)
        CHECK(all_in(dr.real_target, 0.9f, 0.90001) && all_in(dr.fake_target, 0.1f, 0.10001));
    CHECK(!dr.real_noise && !dr.gp_eps && !dr.dragan_u);

    /* flips: all swapped at flip = 1; at 0.5 each sample has one of the two pairs, both occur */
    gan.labels.flip = 1;
    gt_gan_draw_d(&gan, 0, 4, shape, &dr);
    CHECK(all_in(dr.real_target, 0.1f, 0.10001) && all_in(dr.fake_target, 0.9f, 0.90001));
    gan.labels.flip = 0.5;
    gt_gan_draw_d(&gan, 0, 4, shape, &dr);
    int flipped = 0;
    for (int64_t i = 0; i < n; i++) {
        float r = dr.real_target->data[i], f = dr.fake_target->data[i];
        CHECK((r == 0.9f && f == 0.1f) || (r == 0.1f && f == 0.9f));
        flipped += r == 0.1f;
    }
    CHECK(flipped > 5 && flipped < n - 5);

    /* uniform targets within their ranges; with flip = 1 they trade ranges */
    gan.labels = (gt_label_spec){.uniform = true, .real = 1, .fake = 0, .real_lo = 0.7, .real_hi = 1.2,
                                 .fake_lo = 0, .fake_hi = 0.3};
    gt_gan_draw_d(&gan, 0, 4, shape, &dr);
    CHECK(all_in(dr.real_target, 0.7, 1.2) && all_in(dr.fake_target, 0, 0.3));
    gan.labels.flip = 1;
    gt_gan_draw_d(&gan, 0, 4, shape, &dr);
    CHECK(all_in(dr.real_target, 0, 0.3) && all_in(dr.fake_target, 0.7, 1.2));

    /* hinge takes no targets even with custom labels; penalties' draws have their shapes */
    gan.loss.kind = &gt_loss_hinge;
    gan.penalty.gp = 10;
    gan.penalty.dragan = 1;
    gt_gan_draw_d(&gan, 0, 4, shape, &dr);
    CHECK(!dr.real_target && !dr.fake_target && !dr.real_noise && !dr.fake_noise);
    CHECK(shape_is(dr.gp_eps, 4, per) && all_in(dr.gp_eps, 0, 1));
    CHECK(shape_is(dr.dragan_u, 4, shape) && all_in(dr.dragan_u, 0, 1));
    CHECK(shape_is(dr.dragan_a, 4, per) && all_in(dr.dragan_a, 0, 1));

    /* instance noise: like the batch, std sigma_t, on a share of the samples, none after T */
    gan.penalty.gp = gan.penalty.dragan = 0;
    gan.noise = (gt_noise_spec){.sigma = 0.5, .anneal = GT_ANNEAL_LINEAR, .steps = 100, .fraction = 1};
    gt_gan_draw_d(&gan, 50, 4, shape, &dr);
    CHECK(shape_is(dr.real_noise, 4, shape) && shape_is(dr.fake_noise, 4, shape));
    if (dr.real_noise && dr.fake_noise) {
        double ss = 0, same = 0;
        for (int64_t i = 0; i < dr.real_noise->numel; i++) {
            ss += (double)dr.real_noise->data[i] * dr.real_noise->data[i];
            same += dr.real_noise->data[i] == dr.fake_noise->data[i];
        }
        CHECK_NEAR(sqrt(ss / (double)dr.real_noise->numel), 0.25, 0.025);
        CHECK(same < 5); /* separate draws for reals and fakes */
    }
    gan.noise.fraction = 0.5;
    gt_gan_draw_d(&gan, 0, 4, shape, &dr);
    int clean = 0;
    for (int64_t i = 0; dr.real_noise && i < n; i++) {
        int zeros = 0;
        for (int j = 0; j < 16; j++) zeros += dr.real_noise->data[i * 16 + j] == 0;
        CHECK(zeros == 0 || zeros == 16); /* whole samples are chosen */
        clean += zeros == 16;
    }
    CHECK(clean > 5 && clean < n - 5);
    gt_gan_draw_d(&gan, 100, 4, shape, &dr);
    CHECK(!dr.real_noise && !dr.fake_noise);
    CHECK(gt_gan_draw_noise(&gan, 150, 4, shape) == NULL);
    gt_step_end();
}

/* ---- gt_gan_check ------------------------------------------------------------------------------ */

static void expect_check(int line, const gt_gan *gan, int rc_want, const char *needle) {
    gt_error err = {{0}};
    int rc = gt_gan_check(gan, &err);
    if (rc != rc_want || (needle && !strstr(err.msg, needle))) {
        gt_test_failed_checks++;
        fprintf(stderr, "  %s:%d: gt_gan_check gave %d (want %d), message \"%s\" (want \"%s\")\n", __FILE__,
                line, rc, rc_want, err.msg, needle ? needle : "");
    }
}
#define EXPECT_CHECK(gan, rc, needle) expect_check(__LINE__, (gan), (rc), (needle))

TEST(gan_check_errors) {
    gt_gan gan = make_gan(&G_PTS, &D_B, false);
    EXPECT_CHECK(&gan, 0, NULL);
    /* D2GAN needs two critics */
    gan.loss.kind = &gt_loss_d2gan;
    EXPECT_CHECK(&gan, -1, "d2gan");
    gan.n_critics = 2;
    gan.critic[1] = (gt_critic){&D_C, NULL, false, 1};
    EXPECT_CHECK(&gan, 0, NULL);
    /* custom labels apply to bce, minimax and lsgan only */
    gan = make_gan(&G_PTS, &D_B, false);
    gan.loss.kind = &gt_loss_hinge;
    gan.labels.real = 0.9;
    EXPECT_CHECK(&gan, -1, "hinge");
    gan.labels.real = 1;
    gan.labels.flip = 0.05;
    EXPECT_CHECK(&gan, -1, "hinge");
    gan.labels.flip = 0;
    gan.labels.uniform = true;
    gan.loss.kind = &gt_loss_wgan;
    EXPECT_CHECK(&gan, -1, "wgan");
    gan.loss.kind = &gt_loss_lsgan;
    EXPECT_CHECK(&gan, 0, NULL);
    gan.labels.real_lo = 1.5; /* above real_hi */
    EXPECT_CHECK(&gan, -1, "minimum");
    /* G needs a loss */
    gan = make_gan(&G_PTS, &D_B, false);
    gan.loss.adversarial = false;
    EXPECT_CHECK(&gan, -1, "adversarial");
    gan.loss.fm = GT_FM_L1;
    EXPECT_CHECK(&gan, 0, NULL);
    /* the half view needs images */
    gan = make_gan(&G_PTS, &D_B, true);
    EXPECT_CHECK(&gan, -1, "half");
    gan = make_gan(&G_IMG, &D_D, true);
    EXPECT_CHECK(&gan, 0, NULL);
}

int main(void) {
    if (setup() != 0) {
        fprintf(stderr, "test_tricks: setup failed\n");
        return 1;
    }
    int rc;
    RUN_TESTS_INTO(rc, T(golden_bce_with_logits), T(golden_d_losses), T(golden_g_losses),
                   T(golden_feature_matching), T(golden_penalties_conv_layer_norm),
                   T(golden_penalties_mlp_tanh_layer_norm), T(golden_penalties_mlp_relu),
                   T(golden_penalties_half_view), T(penalty_off_is_null), T(golden_instance_noise),
                   T(noise_sigma_schedules), T(penalty_decay_cosine), T(draw_d_tensors),
                   T(gan_check_errors));
    teardown();
    gt_runtime_free();
    return rc;
}
