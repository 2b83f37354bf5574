/* ring: trains the 2-D ring GAN of configs/gan-ring.ini through libgantry's API, then samples G
 * and reports how many of the ring's 8 modes its samples cover.
 *
 *   cc -std=c11 $(pkg-config --cflags gantry) ring.c -o ring $(pkg-config --libs gantry)
 *   ./ring [RECIPE.ini [STEPS [MIN_MODES]]]
 *
 * Without arguments the recipe is built key by key (the values of configs/gan-ring.ini); with
 * one, that INI file is loaded instead, e.g. the installed copy
 * $(pkg-config --variable=datadir gantry)/configs/gan-ring.ini. Exits 0 when G's samples cover
 * at least MIN_MODES modes (default 1), 1 when they cover fewer, 2 on an error. The plain GAN
 * collapses onto a few modes; configs/unrolled-ring.ini covers 6 of 8 after 600 steps (CI
 * checks that it covers at least 5). */
#include <stdio.h>
#include <stdlib.h>

#include <gantry.h>          /* tensors, autograd, gt_error */
#include <train/trainer.h>   /* gt_trainer, and through it the config and the GAN step */
#include <data/data.h>       /* gt_data_mixture_centres */
#include <eval/metrics.h>    /* gt_mode_metrics: the mode-coverage protocol */

#define STEPS 400      /* G steps: a few seconds on one core */
#define SAMPLES 2500   /* points scored (the protocol's count) */
#define MIN_MODES 1    /* a plain GAN collapses onto 1 to 4 modes here (docs/library.md) */

/* The ring recipe, as "section.key=value" assignments. */
static const char *const ring_recipe[] = {
    "data.dataset=ring",    "data.n_points=100000",
    "model.g.family=mlp",   "model.g.z_dim=256", "model.g.width=128", "model.g.depth=3",
    "model.g.activation=relu", "model.g.norm=none", "model.g.init=xavier",
    "model.d.family=mlp",   "model.d.width=128", "model.d.depth=3",
    "model.d.activation=relu", "model.d.norm=none", "model.d.init=xavier",
    "loss.type=bce",
    "optim.g.type=adam",    "optim.g.lr=1e-4", "optim.g.beta1=0.5", "optim.g.beta2=0.999",
    "optim.d.type=adam",    "optim.d.lr=1e-4", "optim.d.beta1=0.5", "optim.d.beta2=0.999",
    "train.batch=512",      "train.seed=0",    "train.ema=false",
};

static int fail(const gt_error *err) {
    fprintf(stderr, "ring: %s\n", err->msg);
    return 2;
}

int main(int argc, char **argv) {
    gt_error err;
    gt_config cfg;
    gt_config_defaults(&cfg);
    if (argc > 1) {
        if (gt_config_load_file(&cfg, argv[1], &err) < 0) return fail(&err);
    } else {
        for (size_t i = 0; i < sizeof ring_recipe / sizeof ring_recipe[0]; i++)
            if (gt_config_set(&cfg, ring_recipe[i], "ring.c", &err) < 0) return fail(&err);
    }
    long steps = argc > 2 ? atol(argv[2]) : STEPS;
    int min_modes = argc > 3 ? atoi(argv[3]) : MIN_MODES;

    /* Data, both networks, their optimizers and the GAN step, from the configuration. */
    gt_trainer t;
    if (gt_trainer_init(&t, &cfg, true, &err) < 0) return fail(&err);
    for (long s = 1; s <= steps; s++) {
        gt_step_stats st;
        if (!gt_trainer_step(&t, &st)) {
            fprintf(stderr, "ring: step %ld: a loss or gradient is not finite\n", s);
            gt_trainer_free(&t);
            return 2;
        }
        if (s % 100 == 0 || s == steps)
            printf("step %4ld  d_loss %.4f  g_loss %.4f\n", s, st.d_loss, st.g_loss);
    }

    /* SAMPLES points from G, scored against the ring's centres: a point within 3 sigma of its
     * nearest centre is high quality and falls to that mode; a mode with one is covered. */
    float *pts = malloc(sizeof(float) * 2 * SAMPLES);
    float centres[8 * 2];
    int n_modes = gt_data_mixture_centres("ring", 0, centres, &err);
    if (!pts || n_modes != 8) {
        free(pts);
        gt_trainer_free(&t);
        return fail(&err);
    }
    gt_trainer_sample(&t, SAMPLES, 12345, pts);
    int covered;
    double pct_hq, reverse_kl;
    gt_mode_metrics(pts, SAMPLES, centres, n_modes, 0.01f, &covered, &pct_hq, &reverse_kl);
    printf("modes covered: %d of %d  (%.1f%% of samples within 3 sigma, reverse KL %.3f)\n",
           covered, n_modes, pct_hq, reverse_kl);

    /* Where G's mass went: the samples within 0.1 of each centre (mode collapse shows here). */
    int near[8] = {0};
    for (int i = 0; i < SAMPLES; i++)
        for (int k = 0; k < n_modes; k++) {
            float dx = pts[2 * i] - centres[2 * k], dy = pts[2 * i + 1] - centres[2 * k + 1];
            if (dx * dx + dy * dy < 0.1f * 0.1f) near[k]++;
        }
    printf("samples within 0.1 of each mode:");
    for (int k = 0; k < n_modes; k++) printf(" %d", near[k]);
    printf("\n");

    free(pts);
    gt_trainer_free(&t);
    gt_runtime_free();
    return covered >= min_modes ? 0 : 1;
}
