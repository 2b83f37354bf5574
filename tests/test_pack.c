/* Packing (Lin et al. 2018, PacGAN; model.d.pack): the layout of a pack, WGAN-GP and R1 on packs
 * through a maxout D against PyTorch (tests/golden/pack.gtfx, written by
 * tests/golden/make_pack_fixtures.py), the per-pack draws of a D update, micro-batches of packs
 * against the whole batch, packed runs through the trainer with the other tricks (unrolling,
 * spectral norm, minibatch std, instance noise, relativistic loss, feature matching, R1/R2,
 * DRAGAN, two critics), and the configuration's errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "gan/gan.h"
#include "test.h"
#include "train/trainer.h"
#include "train_support.h"

#define RTOL 1e-4
#define N 12 /* samples in the golden batch */
#define M 3  /* samples per pack */

/* x [6, 2] -> [2, 6]: pack i holds samples 3i, 3i + 1, 3i + 2 side by side. */
TEST(packs_join_consecutive_samples_on_the_channel_axis) {
    float v[12];
    for (int i = 0; i < 12; i++) v[i] = (float)i;
    gt_tensor *x = gt_from_data(2, (int64_t[]){6, 2}, v);
    gt_tensor *p = gt_pack_samples(x, 3);
    CHECK(p->ndim == 2 && p->shape[0] == 2 && p->shape[1] == 6);
    float got[12];
    gt_copy_to(got, p);
    for (int i = 0; i < 12; i++) CHECK(got[i] == (float)i);
    /* images: [4, 1, 2, 2] -> [2, 2, 2, 2], sample 2j + k in channel k of pack j */
    float w[16];
    for (int i = 0; i < 16; i++) w[i] = (float)i;
    gt_tensor *im = gt_pack_samples(gt_from_data(4, (int64_t[]){4, 1, 2, 2}, w), 2);
    CHECK(im->shape[0] == 2 && im->shape[1] == 2 && im->shape[2] == 2 && im->shape[3] == 2);
    float gi[16];
    gt_copy_to(gi, im);
    CHECK(gi[4] == 4.0f && gi[8] == 8.0f && gi[15] == 15.0f);
    CHECK(gt_pack_samples(x, 1) == x);
    gt_step_end();
}

/* The convolutional families take packs on the channel axis: a dcgan or resnet D on 2 packed
 * gray images has 2 input channels and gives one logit per pack; a G still makes 1 or 3. */
TEST(conv_discriminators_take_packed_channels) {
    gt_arena *a = gt_arena_new(1 << 22);
    gt_rng rng = gt_rng_seed(3);
    gt_error err;
    static const char *const families[] = {"dcgan", "resnet"};
    for (int i = 0; i < 2; i++) {
        int side = i == 0 ? 28 : 32;
        gt_net_spec s = {.role = GT_ROLE_DISCRIMINATOR, .width = 8, .init_std = 0.02, .c = 2,
                         .h = side, .w = side};
        strcpy(s.family, families[i]);
        strcpy(s.norm, "none");
        strcpy(s.init, "normal");
        gt_model d;
        bool built = gt_model_build(&d, &s, a, &rng, &err) == 0;
        if (!built) fprintf(stderr, "  %s: %s\n", families[i], err.msg);
        CHECK(built);
        if (!built) continue;
        gt_critic c = {.net = &d, .pack = 2};
        gt_fwd f = gt_fwd_of(&d.params, true);
        gt_tensor *x = gt_rand_normal(&rng, 4, (int64_t[]){6, 1, side, side}, 0, 1);
        gt_tensor *logits = gt_critic_forward(&c, &f, x, NULL);
        CHECK(logits->shape[0] == 3 && logits->numel == 3);
        gt_step_end();
        gt_model_release(&d);
        s.role = GT_ROLE_GENERATOR;
        s.z_dim = 4;
        strcpy(s.norm, "batch");
        CHECK(gt_model_build(&d, &s, a, &rng, &err) < 0 && strstr(err.msg, "1 or 3 channels, not 2"));
    }
    gt_arena_free(a);
}

/* ---- golden: WGAN-GP and R1 on packs of 3 through two maxout layers --------------------------- */

static void expect_close(const char *name, gt_tensor *got, gt_fixture *fx) {
    gt_tensor *want = gt_fixture_get(fx, name);
    CHECK(got && got->numel == want->numel);
    if (!got || got->numel != want->numel) return;
    float *a = malloc((size_t)got->numel * sizeof *a);
    gt_copy_to(a, got);
    double diff = 0, ref = 0;
    for (int64_t i = 0; i < want->numel; i++) {
        diff = fmax(diff, fabs((double)a[i] - want->data[i]));
        ref = fmax(ref, fabs((double)want->data[i]));
    }
    free(a);
    double rel = diff / fmax(ref, 1e-6);
    if (!(rel <= RTOL)) fprintf(stderr, "  %s: relative error %.3g\n", name, rel);
    CHECK(rel <= RTOL);
}

static void expect_loss(const char *name, gt_tensor *loss, gt_model *d, gt_fixture *fx) {
    char key[96];
    snprintf(key, sizeof key, "%s.value", name);
    expect_close(key, loss, fx);
    gt_params *p = &d->params;
    gt_tensor *in[16], *g[16];
    int n = 0;
    for (int i = 0; i < p->n; i++)
        if (p->spec[i].kind == GT_PARAM_TRAINABLE) in[n++] = p->t[i];
    gt_grad(1, &loss, NULL, n, in, g, false);
    for (int i = 0, k = 0; i < p->n; i++) {
        if (p->spec[i].kind != GT_PARAM_TRAINABLE) continue;
        snprintf(key, sizeof key, "%s.grad.%s", name, p->spec[i].name);
        expect_close(key, g[k++], fx);
    }
}

/* PacGAN's kind of D, small: mlp on packs of 3 points, 2 maxout layers of 4 units x 3 pieces. */
static int build_packed_d(gt_model *d, gt_arena *a, gt_fixture *fx) {
    gt_net_spec s = {.role = GT_ROLE_DISCRIMINATOR, .width = 4, .depth = 2, .init_std = 0.02,
                     .c = 2 * M, .h = 1, .w = 1, .maxout_pieces = 3};
    strcpy(s.family, "mlp");
    strcpy(s.activation, "maxout");
    strcpy(s.norm, "none");
    strcpy(s.init, "normal");
    gt_rng rng = gt_rng_seed(0);
    gt_error err;
    if (gt_model_build(d, &s, a, &rng, &err) < 0) return fprintf(stderr, "  %s\n", err.msg), -1;
    for (int i = 0; i < d->params.n; i++) {
        char key[96];
        snprintf(key, sizeof key, "d.%s", d->params.spec[i].name);
        gt_tensor *t = gt_fixture_get(fx, key);
        if (t->numel != d->params.t[i]->numel) return fprintf(stderr, "  %s: size\n", key), -1;
        memcpy(d->params.t[i]->data, t->data, (size_t)t->numel * sizeof(float));
    }
    return 0;
}

TEST(golden_wgan_gp_and_r1_on_packs) {
    gt_fixture *fx = gt_fixture_load("tests/golden/pack.gtfx");
    CHECK(fx != NULL);
    if (!fx) return;
    gt_arena *a = gt_arena_new(1 << 16);
    gt_model d;
    CHECK(build_packed_d(&d, a, fx) == 0);
    gt_gan gan;
    gt_gan_init(&gan, NULL, NULL, &d, NULL, 1);
    gan.critic[0].pack = M;
    gan.loss.kind = gt_loss_find("wgan");
    gt_tensor *real = gt_fixture_get(fx, "real"), *fake = gt_fixture_get(fx, "fake");
    gt_d_draws dr = {.gp_eps = gt_fixture_get(fx, "gp_eps")};
    gt_fwd f = gt_fwd_of(&d.params, true);
    gt_tensor *d_real = gt_critic_forward(&gan.critic[0], &f, real, NULL);
    gt_tensor *d_fake = gt_critic_forward(&gan.critic[0], &f, fake, NULL);
    CHECK(d_real->shape[0] == N / M && d_fake->shape[0] == N / M);
    gan.penalty.gp = 10;
    double parts[4];
    gt_tensor *pen = gt_d_penalty(&gan, 0, real, fake, &dr, 1.0, parts);
    expect_loss("wgan_gp", gt_add(gt_loss_d(&gan.loss, 0, d_real, d_fake, NULL, NULL), pen), &d, fx);
    gan.penalty.gp = 1;
    expect_loss("gp", gt_d_penalty(&gan, 0, real, fake, &dr, 1.0, NULL), &d, fx);
    gan.penalty.gp = 0;
    gan.penalty.r1 = 2; /* weight r1 / 2 = 1 */
    expect_loss("r1", gt_d_penalty(&gan, 0, real, fake, &dr, 1.0, NULL), &d, fx);
    gt_step_end();
    gt_model_release(&d);
    gt_arena_free(a);
    gt_fixture_free(fx);
}

/* ---- the draws of a packed D update ----------------------------------------------------------- */

/* One target per pack; one interpolation weight per pack, shared by its samples; noise per sample. */
TEST(draws_are_per_pack) {
    gt_arena *a = gt_arena_new(1 << 16);
    gt_gan gan;
    gt_gan_init(&gan, NULL, NULL, NULL, NULL, 7);
    gan.critic[0].pack = M;
    gan.labels.uniform = true;
    gan.penalty.gp = gan.penalty.dragan = 10;
    gan.noise.sigma = 0.1;
    gt_d_draws dr;
    gt_gan_draw_d(&gan, 0, 2, (int64_t[]){N, 2}, &dr);
    CHECK(dr.real_target->shape[0] == N / M && dr.fake_target->shape[0] == N / M);
    CHECK(dr.gp_eps->shape[0] == N && dr.dragan_a->shape[0] == N && dr.real_noise->shape[0] == N);
    float eps[N], a_[N];
    gt_copy_to(eps, dr.gp_eps);
    gt_copy_to(a_, dr.dragan_a);
    bool shared = true, differ = false;
    for (int i = 0; i < N; i++) {
        shared = shared && eps[i] == eps[i - i % M] && a_[i] == a_[i - i % M];
        differ = differ || eps[i] != eps[0];
    }
    CHECK(shared && differ);
    gt_step_end();
    gt_arena_free(a);
}

/* ---- through the trainer ---------------------------------------------------------------------- */

#define RING_PACK "loss.type=bce loss.labels=uniform penalty.gp=10 penalty.r1=1 model.d.pack=4 " \
                  "model.g.width=32 model.d.width=32 train.batch=64"

/* Packs must not straddle micro-batches: 2 and 4 micro-batches of packs of 4 give the whole
 * batch's gradients (to float32 rounding), with per-pack targets sliced with their packs. */
TEST(micro_batches_of_packs_give_the_batch_gradient) {
    train_job whole = {.recipe = "configs/gan-ring.ini", .overrides = RING_PACK, .steps = 1};
    train_job_run(&whole);
    static const char *const acc[] = {RING_PACK " train.accumulate=2", RING_PACK " train.accumulate=4"};
    for (int i = 0; i < 2; i++) {
        train_job part = {.recipe = "configs/gan-ring.ini", .overrides = acc[i], .steps = 1};
        train_job_run(&part);
        CHECK(whole.rc == 0 && part.rc == 0);
        if (whole.rc || part.rc) continue;
        double dg, dd;
        train_jobs_grad_diffs(&part, &whole, &dg, &dd);
        printf("  %s: G grads %.1e, D grads %.1e of the largest\n", acc[i] + strlen(RING_PACK) + 1,
               dg, dd);
        CHECK(dg <= 1e-5 && dd <= 1e-5);
        CHECK(fabs(part.d_loss - whole.d_loss) <= 1e-5 * fmax(1, fabs(whole.d_loss)));
        train_job_free(&part);
    }
    train_job_free(&whole);
}

/* A packed D differs from the unpacked one: its input is 4 points, and its loss another. */
TEST(packed_run_trains_and_differs_from_unpacked) {
    train_job packed = {.recipe = "configs/gan-ring.ini", .overrides = RING_PACK, .steps = 3};
    train_job plain = {.recipe = "configs/gan-ring.ini",
                       .overrides = "loss.type=bce loss.labels=uniform penalty.gp=10 penalty.r1=1 "
                                    "model.g.width=32 model.d.width=32 train.batch=64",
                       .steps = 3};
    train_job_run(&packed);
    train_job_run(&plain);
    CHECK(packed.rc == 0 && plain.rc == 0);
    CHECK(isfinite(packed.d_loss) && isfinite(packed.g_loss));
    /* D's first layer takes 8 inputs instead of 2: 6 x 32 more weights */
    CHECK(packed.n_weights - plain.n_weights == 6 * 32);
    train_job_free(&packed);
    train_job_free(&plain);
}

/* Packing composes with the other tricks: each combination trains two steps to finite losses. */
TEST(packing_composes_with_the_tricks) {
    static const char *const combos[] = {
        "model.d.pack=2 unrolled.steps=2 loss.type=bce",
        "model.d.pack=2 model.d.spectral_norm=true model.d.mbstd_group=4 noise.sigma=0.1 "
        "noise.fraction=0.5",
        "model.d.pack=4 loss.type=rpgan penalty.r1=1 penalty.r2=1 loss.feature_matching=l1",
        "model.d.pack=2 loss.type=d2gan model.d2.family=mlp model.d2.width=16 model.d2.depth=2 "
        "model.d2.norm=none penalty.dragan=1",
    };
    char set[512];
    for (size_t i = 0; i < sizeof combos / sizeof combos[0]; i++) {
        snprintf(set, sizeof set, "%s model.g.width=16 model.d.width=16 train.batch=32", combos[i]);
        train_job j = {.recipe = "configs/gan-ring.ini", .overrides = set, .steps = 2};
        train_job_run(&j);
        if (j.rc != 0 || !isfinite(j.d_loss) || !isfinite(j.g_loss)) fprintf(stderr, "  %s\n", set);
        CHECK(j.rc == 0 && isfinite(j.d_loss) && isfinite(j.g_loss));
        train_job_free(&j);
    }
}

static void expect_error(const char *set, const char *needle) {
    gt_config c;
    gt_error err = {{0}};
    gt_trainer t;
    int rc = train_config(&c, "configs/gan-ring.ini", set, &err);
    if (rc == 0) rc = gt_trainer_init(&t, &c, false, &err);
    if (rc == 0) gt_trainer_free(&t);
    bool named = rc < 0 && strstr(err.msg, needle) != NULL;
    if (!named) fprintf(stderr, "  '%s': got '%s', wanted '%s'\n", set, rc < 0 ? err.msg : "(no error)", needle);
    CHECK(named);
}

TEST(bad_packing_is_a_config_error) {
    expect_error("model.d.pack=3 train.batch=64", "train.batch = 64 is not a multiple of model.d.pack = 3");
    expect_error("model.d.pack=4 train.batch=64 train.accumulate=32",
                 "gives shards of 2, which do not split into packs of model.d.pack = 4");
    expect_error("model.d.pack=2 train.conditional=true train.classes=8", "model.d.pack = 2 with train.conditional");
    expect_error("model.d.pack=0", "[model.d] pack = '0': out of range");
}

int main(void) {
    int rc;
    RUN_TESTS_INTO(rc, T(packs_join_consecutive_samples_on_the_channel_axis),
                   T(conv_discriminators_take_packed_channels),
                   T(golden_wgan_gp_and_r1_on_packs), T(draws_are_per_pack),
                   T(micro_batches_of_packs_give_the_batch_gradient),
                   T(packed_run_trains_and_differs_from_unpacked),
                   T(packing_composes_with_the_tricks), T(bad_packing_is_a_config_error));
    gt_runtime_free();
    return rc;
}
