/* gantry eval end to end: the protocol's sanity anchors (training images score an FID near 0,
 * uniform noise a very large one), mode metrics of a 2-D run, determinism between --ckpt and
 * the .npy that gantry sample writes, the class accuracy of conditional samples, and bad inputs. Runs the real binary (see cli_support.h). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_support.h"
#include "data/data.h"
#include "eval/evaluate.h"
#include "io/image.h"
#include "test.h"

#define FMNIST "/usr/share/datasets/fashion-mnist"
#define MODEL "models/fmnist-classifier.safetensors"

/* The JSON object on the last line of an output, or NULL. */
static cJSON *last_json(const cli_result *r) {
    const char *p = r->text, *last = NULL;
    for (const char *q = p; q && *q; q = strchr(q, '\n') ? strchr(q, '\n') + 1 : NULL)
        if (*q == '{') last = q;
    return last ? cJSON_Parse(last) : NULL;
}

static double json_num(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* Scores dir/name.npy; returns the JSON of the result (NULL after a failed check). */
static cJSON *eval_npy(const char *path, const char *extra) {
    cli_args a;
    cli_args_init(&a);
    cli_args_add(&a, "eval", "--samples", path, NULL);
    if (extra) cli_args_add(&a, "--mixture", extra, NULL);
    cli_result r;
    cli_run(&a, &r);
    CHECK_RUN(&a, &r, r.code == 0);
    cJSON *o = r.code == 0 ? last_json(&r) : NULL;
    CHECK_RUN(&a, &r, o != NULL);
    cli_result_free(&r);
    return o;
}

static bool have_data(void) {
    if (access(FMNIST, R_OK) == 0 && access(MODEL, R_OK) == 0) return true;
    TEST_SKIP("needs %s (Debian package dataset-fashion-mnist) and %s", FMNIST, MODEL);
    return false;
}

/* 10,000 training images against the 10,000 test images: FID close to 0; uniform noise: huge. */
TEST(fid_anchors_training_images_and_noise) {
    if (!have_data()) return;
    char dir[64];
    if (!cli_scratch_new(dir)) return;
    gt_error err;
    gt_dataset *train = gt_data_load_mnist_dir(FMNIST, "train", &err);
    CHECK(train != NULL);
    if (train) {
        int64_t shape[4] = {10000, 1, 28, 28};
        const char *real = cli_path(dir, "train.npy"), *noise = cli_path(dir, "noise.npy");
        CHECK(gt_npy_write(real, train->x, 4, shape, &err) == 0);
        gt_rng rng = gt_rng_seed(1);
        gt_tensor *u = gt_rand_uniform(&rng, 4, shape, -1, 1);
        CHECK(gt_npy_write(noise, u->data, 4, shape, &err) == 0);
        gt_step_end();
        cJSON *a = eval_npy(real, NULL), *b = eval_npy(noise, NULL);
        double fid_real = json_num(a, "fid"), fid_noise = json_num(b, "fid");
        printf("  FID: training images %.3f, uniform noise %.1f\n", fid_real, fid_noise);
        CHECK(fid_real >= 0 && fid_real < 1.0);
        CHECK(fid_noise > 100 * (fid_real + 0.1));
        /* two samples of one distribution: k = 3 balls cover about 87 percent of each other */
        CHECK(json_num(a, "classes_covered") == 10 && json_num(a, "recall") > 0.8);
        CHECK(json_num(a, "precision") > 0.8 && json_num(b, "recall") < 0.01);
        CHECK(json_num(b, "classes_covered") < 10);
        CHECK(json_num(a, "n") == 10000 && json_num(a, "n_ref") == 10000);
        cJSON_Delete(a);
        cJSON_Delete(b);
    }
    gt_dataset_free(train);
    cli_scratch_remove(dir);
}

/* A short ring run writes mode metrics to metrics.jsonl while it trains; eval --ckpt and eval
 * of the .npy that gantry sample writes with the same seed agree exactly. */
TEST(ring_checkpoint_mode_metrics_and_npy_agree) {
    char dir[64];
    if (!cli_scratch_new(dir)) return;
    const char *run = cli_path(dir, "run");
    cli_args a;
    cli_args_tiny_ring(&a, run);
    cli_args_add(&a, "train.steps=30", "train.eval_every=15", NULL);
    if (cli_run_ok(&a)) {
        /* evaluation during training: one line at steps 15 and 30 */
        char *log = cli_read_file(cli_path(run, "metrics.jsonl"), NULL);
        CHECK(log && strstr(log, "{\"step\": 15, \"eval_n\": 2500, \"modes_covered\"") &&
              strstr(log, "{\"step\": 30, \"eval_n\": 2500, \"modes_covered\""));
        free(log);
        const char *ckpt = cli_path(run, "checkpoint.safetensors");
        const char *npy = cli_path(dir, "pts.npy");
        cli_args s, e;
        cli_args_init(&s);
        cli_args_add(&s, "sample", "--ckpt", ckpt, "--n", "2500", "--seed", "4", "--out", npy, NULL);
        cli_args_init(&e);
        cli_args_add(&e, "eval", "--ckpt", ckpt, "--seed", "4", NULL);
        cli_result r;
        if (cli_run_ok(&s)) {
            cli_run(&e, &r);
            CHECK_RUN(&e, &r, r.code == 0 && cli_says(&r, "modes") && cli_says(&r, "of 8 covered"));
            cJSON *from_ckpt = last_json(&r), *from_npy = eval_npy(npy, "ring");
            CHECK(json_num(from_ckpt, "n") == 2500 && json_num(from_ckpt, "n_modes") == 8);
            const cJSON *def = cJSON_GetObjectItemCaseSensitive(from_ckpt, "mode_metric");
            CHECK(cJSON_IsString(def) && strcmp(def->valuestring, "gantry") == 0);
            CHECK(json_num(from_ckpt, "pct_high_quality") == json_num(from_npy, "pct_high_quality"));
            CHECK(json_num(from_ckpt, "modes_covered") == json_num(from_npy, "modes_covered"));
            cJSON_Delete(from_ckpt);
            cJSON_Delete(from_npy);
            cli_result_free(&r);
        }
        /* PacGAN's definition: named in the JSON, 2,500 samples of its fixed latents */
        cli_args_init(&e);
        cli_args_add(&e, "eval", "--ckpt", ckpt, "--mode-metric", "pacgan", NULL);
        cli_run(&e, &r);
        CHECK_RUN(&e, &r, r.code == 0 && cli_says(&r, "pacgan (Lin et al. 2018)"));
        cJSON *pac = last_json(&r);
        const cJSON *def = cJSON_GetObjectItemCaseSensitive(pac, "mode_metric");
        CHECK(cJSON_IsString(def) && strcmp(def->valuestring, "pacgan") == 0);
        CHECK(json_num(pac, "n") == 2500 && json_num(pac, "n_modes") == 8);
        cJSON_Delete(pac);
        cli_result_free(&r);
        cli_args_init(&e);
        cli_args_add(&e, "eval", "--ckpt", ckpt, "--mode-metric", "pacgan", "--seed", "4", NULL);
        cli_run_fails_saying(&e, "--seed", "fixed latents", NULL);
        cli_args_init(&e);
        cli_args_add(&e, "eval", "--ckpt", ckpt, "--mode-metric", "veegan", NULL);
        cli_run_fails_saying(&e, "gantry or pacgan", NULL);
    }
    cli_scratch_remove(dir);
}

/* Stacked data built from the test split: random triples cover nearly all 1,000 modes; one
 * triple repeated covers one. Their channels, scored as images, read as the test split's own
 * images (FID near 0) and as three images repeated (FID in the hundreds, recall 0). */
TEST(stacked_modes_of_real_and_collapsed_triples) {
    if (!have_data()) return;
    char dir[64];
    if (!cli_scratch_new(dir)) return;
    gt_error err;
    gt_dataset *test = gt_data_load_mnist_dir(FMNIST, "test", &err);
    gt_dataset *st = test ? gt_data_make_stacked(test, 5000, 3, &err) : NULL;
    CHECK(st != NULL && st->c == 3 && st->n_classes == 1000);
    if (st) {
        int64_t shape[4] = {5000, 3, 28, 28};
        const char *mixed = cli_path(dir, "stacked.npy"), *one = cli_path(dir, "one.npy");
        CHECK(gt_npy_write(mixed, st->x, 4, shape, &err) == 0);
        for (int64_t i = 1; i < st->n; i++) memcpy(st->x + i * 3 * 784, st->x, 3 * 784 * sizeof(float));
        CHECK(gt_npy_write(one, st->x, 4, shape, &err) == 0);
        cJSON *a = eval_npy(mixed, NULL), *b = eval_npy(one, NULL);
        printf("  stacked: %g of 1000 modes (KL %.3f); one triple: %g\n", json_num(a, "modes_covered"),
               json_num(a, "reverse_kl"), json_num(b, "modes_covered"));
        /* 5,000 uniform draws of 1,000 triples leave about 7 empty; the classifier's 8.5%
         * error moves some triples but covers about as many */
        CHECK(json_num(a, "modes_covered") >= 950 && json_num(a, "reverse_kl") < 0.3);
        CHECK(json_num(b, "modes_covered") == 1 && json_num(b, "n_modes") == 1000);
        /* their channels as images: the test split's own images score near 0, three images
         * repeated score far off, each on the first 10,000 channels */
        printf("  channel FID: %.3f (recall %.3f); one triple: %.1f (recall %.3f)\n",
               json_num(a, "channel_fid"), json_num(a, "channel_recall"), json_num(b, "channel_fid"),
               json_num(b, "channel_recall"));
        CHECK(json_num(a, "channel_n") == 10000 && json_num(a, "n_ref") == 10000);
        CHECK(json_num(a, "channel_fid") < 1 && json_num(a, "channel_recall") > 0.8);
        CHECK(json_num(b, "channel_fid") > 100 && json_num(b, "channel_recall") < 0.01);
        cJSON_Delete(a);
        cJSON_Delete(b);
    }
    gt_dataset_free(st);
    gt_dataset_free(test);
    cli_scratch_remove(dir);
}

/* Class accuracy of a conditional G's samples, on real test images standing in for samples: with
 * their true labels it is the classifier's test accuracy; with every label shifted by one it is
 * near 0; images ordered so that image i is of class i mod 10 score high with the implicit
 * labels (NULL); a label outside 0 .. 9 is an error naming it. */
TEST(class_accuracy_of_labelled_images) {
    if (!have_data()) return;
    /* the classifier runs in this process: under valgrind (tests/run.sh sets VALGRIND) that takes
     * many minutes, as for test_classifier (VALGRIND_SKIP); the SAN=1 run checks this test */
    if (getenv("VALGRIND")) {
        TEST_SKIP_BUILD("under valgrind: in-process classification (checked by the SAN=1 run)");
        return;
    }
    gt_error err;
    gt_dataset *test = gt_data_load_mnist_dir(FMNIST, "test", &err);
    gt_classifier *c = gt_classifier_new();
    CHECK(test != NULL && gt_classifier_load(c, MODEL, &err) == 0);
    if (!test) {
        gt_classifier_free(c);
        return;
    }
    gt_dataset part = *test; /* the first 2,000 test images */
    part.n = 2000;
    int64_t n = part.n, n_cyclic = 1000;
    int32_t *shifted = malloc((size_t)n * sizeof *shifted);
    float *cyclic = malloc((size_t)n_cyclic * 784 * sizeof *cyclic);
    gt_class_agreement g;
    CHECK(gt_eval_class_agreement(c, part.x, part.labels, n, &g, &err) == 0);
    double acc = gt_classifier_accuracy(c, &part);
    printf("  true labels: %.4f (the classifier's accuracy on them %.4f)\n", g.accuracy, acc);
    CHECK(g.n == n && fabs(g.accuracy - acc) < 1e-12 && acc > 0.85);
    for (int64_t i = 0; i < n; i++) shifted[i] = (test->labels[i] + 1) % 10;
    CHECK(gt_eval_class_agreement(c, part.x, shifted, n, &g, &err) == 0);
    printf("  labels shifted by one: %.4f\n", g.accuracy);
    CHECK(g.accuracy < 0.1);
    int64_t next[10] = {0};  /* the next unused test image of each class */
    for (int64_t i = 0; i < n_cyclic; i++) {
        int k = (int)(i % 10);
        while (test->labels[next[k]] != k) next[k]++;
        memcpy(cyclic + i * 784, test->x + next[k]++ * 784, 784 * sizeof(float));
    }
    CHECK(gt_eval_class_agreement(c, cyclic, NULL, n_cyclic, &g, &err) == 0);
    printf("  class i mod 10: %.4f (shirts %.2f)\n", g.accuracy, g.per_class[6]);
    CHECK(g.accuracy > 0.85);
    for (int k = 0; k < 10; k++) CHECK(g.per_class[k] > 0.5);
    shifted[3] = 10;
    CHECK(gt_eval_class_agreement(c, part.x, shifted, n, &g, &err) < 0 &&
          strstr(err.msg, "sample 3") && strstr(err.msg, "class 10"));
    free(shifted);
    free(cyclic);
    gt_classifier_free(c);
    gt_dataset_free(test);
}

TEST(bad_inputs_are_named) {
    char dir[64];
    if (!cli_scratch_new(dir)) return;
    const char *junk = cli_path(dir, "junk.npy"), *pts = cli_path(dir, "pts.npy");
    CHECK(cli_write_file(junk, "not numpy", 9));
    float p[4] = {0, 1, 1, 0};
    gt_error err;
    CHECK(gt_npy_write(pts, p, 2, (int64_t[]){2, 2}, &err) == 0);
    cli_args a;
    cli_args_init(&a);
    cli_args_add(&a, "eval", "--samples", junk, NULL);
    cli_run_fails_saying(&a, junk, "npy", NULL);
    cli_args_init(&a);
    cli_args_add(&a, "eval", "--samples", pts, NULL);
    cli_run_fails_saying(&a, "--mixture", NULL);
    cli_args_init(&a);
    cli_args_add(&a, "eval", NULL);
    cli_run_fails_saying(&a, "--ckpt", "--samples", NULL);
    cli_args_init(&a);
    cli_args_add(&a, "eval", "--samples", pts, "--mixture", "spiral", NULL);
    cli_run_fails_saying(&a, "ring or grid", NULL);
    cli_scratch_remove(dir);
}

int main(void) {
    int rc;
    RUN_TESTS_INTO(rc, T(fid_anchors_training_images_and_noise),
                   T(ring_checkpoint_mode_metrics_and_npy_agree),
                   T(stacked_modes_of_real_and_collapsed_triples),
                   T(class_accuracy_of_labelled_images), T(bad_inputs_are_named));
    gt_runtime_free();
    return rc;
}
