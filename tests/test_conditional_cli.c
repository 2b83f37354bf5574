/* Class-conditional training through the real gantry binary (train.conditional): a PNG folder
 * of two class sub-folders trains and resumes bit for bit with every label path on (two D steps,
 * a gradient penalty, unrolling on fresh batches, EMA, sample grids of one row per class);
 * `gantry sample --class K` draws class K and refuses what it cannot do; configuration errors
 * name the keys; a conditional Fashion-MNIST run reports its samples' class accuracy. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_support.h"
#include "io/image.h"
#include "test.h"

#define CKPT "checkpoint.safetensors"
#define FMNIST "/usr/share/datasets/fashion-mnist"

/* dir/png/{coats,boots}/NN.png: 12 images each (boots sorts first: class 0). */
static const char *make_class_folders(const char *dir) {
    const char *png = cli_path(dir, "png");
    char path[600];
    bool ok = cli_mkdir(png);
    const char *cls[2] = {"coats", "boots"};
    for (int c = 0; ok && c < 2; c++) {
        snprintf(path, sizeof path, "%s/%s", png, cls[c]);
        ok = cli_mkdir(path);
        for (int i = 0; ok && i < 12; i++) {
            snprintf(path, sizeof path, "%s/%s/%02d.png", png, cls[c], i);
            ok = cli_write_gray_png(path, 28, 28, (unsigned)(c * 100 + i));
        }
    }
    CHECK(ok);
    return png;
}

static void cond_args(cli_args *a, const char *png, const char *out, int steps) {
    cli_args_init(a);
    cli_args_add(a, "train", "--config", "configs/dcgan-fmnist.ini", "--out", out, "--quiet",
                 "data.dataset=png", "train.conditional=true", "model.g.width=4",
                 "model.d.width=4", "model.d.norm=layer", "model.g.z_dim=8", "train.batch=8",
                 "train.ema_start=2", "train.log_every=1", "train.sample_every=3",
                 "train.sample_n=8", "train.eval_every=0", "train.checkpoint_every=0",
                 "train.threads=2", "train.d_steps=2", "penalty.gp=1", "penalty.r2=1",
                 "unrolled.steps=1", "unrolled.fresh_batches=true", NULL);
    cli_args_addf(a, "data.path=%s", png);
    cli_args_addf(a, "train.steps=%d", steps);
}

static void sample_args(cli_args *a, const char *ckpt, const char *out) {
    cli_args_init(a);
    cli_args_add(a, "sample", "--ckpt", ckpt, "--out", out, "--n", "6", NULL);
}

TEST(conditional_png_resume_bit_exact_and_sample_class) {
    char dir[64];
    if (!cli_scratch_new(dir)) {
        CHECK(false);
        return;
    }
    const char *png = make_class_folders(dir);
    const char *whole = cli_path(dir, "whole"), *split = cli_path(dir, "split");
    cli_args one, first, again;
    cond_args(&one, png, whole, 6);
    cond_args(&first, png, split, 3);
    cli_args_init(&again);
    cli_args_add(&again, "train", "--resume", split, "--quiet", "train.steps=6", NULL);
    if (cli_run_ok(&one) && cli_run_ok(&first) && cli_run_ok(&again)) {
        CHECK(cli_same_bytes(cli_path(whole, CKPT), cli_path(split, CKPT)));
        /* the sample grid: one row per class, 8 / 2 = 4 columns */
        unsigned w = 0, h = 0;
        CHECK(cli_png_size(cli_path(whole, "samples/step-000006.png"), &w, &h));
        CHECK(w == 4 * (28 + GT_GRID_BORDER) + GT_GRID_BORDER &&
              h == 2 * (28 + GT_GRID_BORDER) + GT_GRID_BORDER);
        const char *ck = cli_path(whole, CKPT);
        cli_args s;
        cli_result r;
        const char *c0 = cli_path(dir, "c0.npy"), *c1 = cli_path(dir, "c1.npy");
        sample_args(&s, ck, c0);
        cli_args_add(&s, "--class", "0", NULL);
        bool ok0 = cli_run_ok(&s);
        sample_args(&s, ck, c1);
        cli_args_add(&s, "--class", "1", NULL);
        bool ok1 = cli_run_ok(&s);
        CHECK(ok0 && ok1 && !cli_same_bytes(c0, c1));
        sample_args(&s, ck, cli_path(dir, "mixed.png"));
        CHECK(cli_run_ok(&s));
        sample_args(&s, ck, cli_path(dir, "bad.npy"));
        cli_args_add(&s, "--class", "2", NULL);
        cli_run_fails_saying(&s, "--class 2", "out of range", "2 classes", NULL);
        sample_args(&s, ck, cli_path(dir, "bad.npy"));
        cli_args_add(&s, "--class", "x", NULL);
        cli_run(&s, &r);
        CHECK_RUN(&s, &r, r.code != 0 && cli_says(&r, "--class must be"));
        cli_result_free(&r);
        /* the checkpoint records the class count */
        cli_args info;
        cli_args_init(&info);
        cli_args_add(&info, "info", ck, NULL);
        cli_run(&info, &r);
        CHECK_RUN(&info, &r, r.code == 0 && cli_says(&r, "classes = 2") && cli_says(&r, "proj.weight"));
        cli_result_free(&r);
    }
    cli_scratch_remove(dir);
}

/* --class on an unconditional checkpoint; configuration errors. */
TEST(conditional_errors_name_the_keys) {
    char dir[64];
    if (!cli_scratch_new(dir)) {
        CHECK(false);
        return;
    }
    const char *png = make_class_folders(dir);
    const char *run = cli_path(dir, "run"), *plain = cli_path(dir, "plain");
    cli_args a;
    /* unconditional training ignores the labels, and --class refuses its checkpoint */
    cond_args(&a, png, plain, 1);
    cli_args_add(&a, "train.conditional=false", NULL);
    if (cli_run_ok(&a)) {
        cli_args s;
        sample_args(&s, cli_path(plain, CKPT), cli_path(dir, "x.npy"));
        cli_args_add(&s, "--class", "0", NULL);
        cli_run_fails_saying(&s, "--class", "conditional", NULL);
    }
    /* data without labels */
    char flat[600];
    snprintf(flat, sizeof flat, "%s/coats", png);
    cond_args(&a, png, run, 1);
    cli_args_addf(&a, "data.path=%s", flat);
    cli_run_fails_saying(&a, "train.conditional", "labels", "sub-folder", NULL);
    cond_args(&a, png, run, 1);
    cli_args_add(&a, "model.g.norm=layer", NULL);
    cli_run_fails_saying(&a, "model.g.norm = batch", NULL);
    cond_args(&a, png, run, 1);
    cli_args_add(&a, "train.classes=3", NULL);
    cli_run_fails_saying(&a, "train.classes = 3", "2 classes", NULL);
    cond_args(&a, png, run, 1);
    cli_args_add(&a, "train.conditional=false", "train.classes=2", NULL);
    cli_run_fails_saying(&a, "train.classes", "train.conditional = true", NULL);
    cli_args_tiny_ring(&a, run);
    cli_args_add(&a, "train.conditional=true", "train.steps=1", NULL);
    cli_run_fails_saying(&a, "train.conditional", "mlp", NULL);
    cond_args(&a, png, run, 1);
    cli_args_add(&a, "train.conditional=maybe", NULL);
    cli_run_fails_saying(&a, "conditional", "maybe", NULL);
    cli_scratch_remove(dir);
}

/* configs/sagan-fmnist.ini (resnet, conditional, SN and attention in G and D) at a tiny width on
 * the class folders: trains, resumes bit for bit, samples a class. */
TEST(sagan_recipe_trains_and_resumes) {
    char dir[64];
    if (!cli_scratch_new(dir)) {
        CHECK(false);
        return;
    }
    const char *png = make_class_folders(dir);
    const char *whole = cli_path(dir, "whole"), *split = cli_path(dir, "split");
    cli_args one, first, again;
    for (int k = 0; k < 2; k++) {
        cli_args *a = k ? &first : &one;
        cli_args_init(a);
        cli_args_add(a, "train", "--config", "configs/sagan-fmnist.ini", "--out", k ? split : whole,
                     "--quiet", "data.dataset=png", "model.g.width=4", "model.d.width=8",
                     "model.g.z_dim=8", "train.batch=4", "train.ema_start=1", "train.sample_n=4",
                     "train.sample_every=2", "train.eval_every=0", "train.checkpoint_every=0",
                     "train.threads=2", NULL);
        cli_args_addf(a, "data.path=%s", png);
        cli_args_addf(a, "train.steps=%d", k ? 2 : 3);
    }
    cli_args_init(&again);
    cli_args_add(&again, "train", "--resume", split, "--quiet", "train.steps=3", NULL);
    if (cli_run_ok(&one) && cli_run_ok(&first) && cli_run_ok(&again)) {
        CHECK(cli_same_bytes(cli_path(whole, CKPT), cli_path(split, CKPT)));
        cli_args s;
        sample_args(&s, cli_path(whole, CKPT), cli_path(dir, "c1.png"));
        cli_args_add(&s, "--class", "1", NULL);
        CHECK(cli_run_ok(&s));
    }
    cli_scratch_remove(dir);
}

/* A conditional Fashion-MNIST run: gantry eval --ckpt (and the evaluation during training)
 * report the share of samples classified as the class they were drawn for. */
TEST(conditional_fmnist_reports_class_accuracy) {
    if (access(FMNIST "/t10k-images-idx3-ubyte.gz", R_OK) != 0) {
        TEST_SKIP("needs %s (Debian package dataset-fashion-mnist)", FMNIST);
        return;
    }
    char dir[64];
    if (!cli_scratch_new(dir)) {
        CHECK(false);
        return;
    }
    const char *run = cli_path(dir, "run");
    cli_args a;
    cli_args_init(&a);
    cli_args_add(&a, "train", "--config", "configs/dcgan-fmnist.ini", "--out", run, "--quiet",
                 "train.conditional=true", "model.g.width=4", "model.d.width=4", "train.batch=16",
                 "train.steps=2", "train.eval_every=2", "train.eval_n=200", "train.sample_every=0",
                 "train.checkpoint_every=0", "train.threads=2", NULL);
    if (cli_run_ok(&a)) {
        char *metrics = cli_read_file(cli_path(run, "metrics.jsonl"), NULL);
        CHECK(metrics && strstr(metrics, "\"class_accuracy\": "));
        free(metrics);
        cli_args e;
        cli_args_init(&e);
        cli_args_add(&e, "eval", "--ckpt", cli_path(run, CKPT), "--n", "200", NULL);
        cli_result r;
        cli_run(&e, &r);
        CHECK_RUN(&e, &r, r.code == 0 && strstr(r.text, "class acc.") &&
                              strstr(r.text, "\"class_accuracy\": "));
        cli_result_free(&r);
    }
    cli_scratch_remove(dir);
}

int main(void) {
    RUN_TESTS(T(conditional_png_resume_bit_exact_and_sample_class),
              T(conditional_errors_name_the_keys), T(sagan_recipe_trains_and_resumes),
              T(conditional_fmnist_reports_class_accuracy));
}
