/* The feature network of the image metrics: the shipped weights' test accuracy, a real learning
 * check on a synthetic two-class problem, the weights file (round trip, wrong shapes) and the
 * shape and determinism of its features. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/data.h"
#include "eval/classifier.h"
#include "io/safetensors.h"
#include "test.h"

#define FMNIST_DIR "/usr/share/datasets/fashion-mnist"
#define PIXELS (28 * 28)

static char dir[64];

static const char *tmp_path(const char *name) {
    static char buf[4][256];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, 256, "%s/%s", dir, name);
    return p;
}

TEST(shipped_weights_accuracy) {
    if (access(FMNIST_DIR, R_OK) != 0) {
        TEST_SKIP("%s is missing (Debian package dataset-fashion-mnist)", FMNIST_DIR);
        return;
    }
    gt_error err;
    gt_dataset *test = gt_data_load_mnist_dir(FMNIST_DIR, "test", &err);
    gt_classifier *c = gt_classifier_new();
    int rc = gt_classifier_load(c, GT_CLASSIFIER_DEFAULT_PATH, &err);
    CHECK(test != NULL && rc == 0);
    /* under valgrind (make valgrind sets VALGRIND) 10,000 images take many minutes: score the
     * first 500 as a sanity check of the loaded weights instead */
    bool quick = getenv("VALGRIND") != NULL;
    if (test && rc == 0) {
        CHECK(test->n == 10000);
        if (quick) test->n = 500;
        double acc = gt_classifier_accuracy(c, test);
        printf("  shipped weights: test accuracy %.2f%% (N = %lld)\n", 100 * acc, (long long)test->n);
        CHECK(acc >= (quick ? 0.85 : 0.91));
        /* the accuracy recorded at training time is what these weights score here */
        if (!quick) CHECK_NEAR(acc, gt_classifier_test_accuracy(c), 5e-4);
    }
    gt_classifier_free(c);
    gt_dataset_free(test);
}

/* Two classes of 28x28 images: horizontal (0) or vertical (1) stripes of random phase and
 * period 4, plus uniform noise. Labels alternate. */
static gt_dataset *stripes(int64_t n, uint64_t seed) {
    gt_error err;
    gt_dataset *ds = gt_dataset_new(n, 1, 28, 28, true, "stripes", &err);
    gt_rng rng = gt_rng_seed(seed);
    int64_t shape[1] = {n * (PIXELS + 1)};
    gt_tensor *u = gt_rand_uniform(&rng, 1, shape, 0, 1);  /* noise, then one phase per image */
    for (int64_t i = 0; i < n; i++) {
        int phase = (int)(4 * u->data[n * PIXELS + i]);
        ds->labels[i] = (int32_t)(i % 2);
        for (int r = 0; r < 28; r++)
            for (int q = 0; q < 28; q++) {
                int k = (ds->labels[i] ? q : r) + phase;
                float noise = 0.6f * (u->data[i * PIXELS + r * 28 + q] - 0.5f);
                ds->x[i * PIXELS + r * 28 + q] = (k % 4 < 2 ? 0.5f : -0.5f) + noise;
            }
    }
    ds->n_classes = 2;
    gt_step_end();
    return ds;
}

/* A classifier trained for `epochs` epochs on stripes from seed 7. */
static gt_classifier *trained_on_stripes(const gt_dataset *train, const gt_dataset *test,
                                         int epochs, FILE *log) {
    gt_error err;
    gt_classifier *c = gt_classifier_new();
    CHECK(gt_classifier_train(c, train, test, epochs, 7, log, &err) == 0);
    return c;
}

TEST(learns_separable_patterns) {
    /* under valgrind (VALGRIND set) half the steps: the memory checks need no accuracy */
    bool quick = getenv("VALGRIND") != NULL;
    gt_dataset *train = stripes(quick ? 256 : 512, 1), *test = stripes(200, 2);
    FILE *log = tmpfile();
    gt_classifier *c = trained_on_stripes(train, test, 2, log);  /* 8 (4) steps of 128 */
    double acc = gt_classifier_accuracy(c, test);
    printf("  stripes: test accuracy %.1f%% after %d steps\n", 100 * acc, quick ? 4 : 8);
    CHECK(acc >= (quick ? 0.5 : 0.95));
    CHECK_NEAR(gt_classifier_test_accuracy(c), acc, 0);
    CHECK(strstr(gt_classifier_recipe(c), "--epochs 2 --seed 7") != NULL);
    char line[256] = "";
    rewind(log);
    CHECK(fgets(line, sizeof line, log) && strncmp(line, "epoch 1/2  loss ", 16) == 0);
    CHECK(fgets(line, sizeof line, log) && strstr(line, "test accuracy") != NULL);
    fclose(log);
    gt_classifier_free(c);
    gt_dataset_free(train);
    gt_dataset_free(test);
}

/* Features of the first n images of ds ([n, 128], malloc'd). */
static float *features_of(gt_classifier *c, const gt_dataset *ds, int64_t n, int32_t *pred) {
    float *f = malloc((size_t)n * GT_CLASSIFIER_FEATURES * sizeof *f);
    gt_classifier_features(c, ds->x, n, f, pred);
    return f;
}

TEST(training_is_deterministic_and_round_trips) {
    gt_dataset *train = stripes(256, 1), *test = stripes(64, 2);
    gt_classifier *a = trained_on_stripes(train, test, 1, NULL);  /* 2 steps each */
    gt_classifier *b = trained_on_stripes(train, test, 1, NULL);
    float *fa = features_of(a, test, test->n, NULL), *fb = features_of(b, test, test->n, NULL);
    size_t bytes = (size_t)test->n * GT_CLASSIFIER_FEATURES * sizeof(float);
    CHECK(memcmp(fa, fb, bytes) == 0);
    gt_error err;
    const char *p = tmp_path("stripes.safetensors");
    CHECK(gt_classifier_save(a, p, &err) == 0);
    gt_classifier *c = gt_classifier_new();
    CHECK(gt_classifier_load(c, p, &err) == 0);
    float *fc = features_of(c, test, test->n, NULL);
    CHECK(memcmp(fa, fc, bytes) == 0);
    CHECK_NEAR(gt_classifier_test_accuracy(c), gt_classifier_test_accuracy(a), 1e-4);
    CHECK(strcmp(gt_classifier_recipe(c), gt_classifier_recipe(a)) == 0);
    free(fa);
    free(fb);
    free(fc);
    gt_classifier_free(a);
    gt_classifier_free(b);
    gt_classifier_free(c);
    gt_dataset_free(train);
    gt_dataset_free(test);
}

/* A weights file with the classifier's entries, one of them (bad) given a wrong shape. */
static void write_weights(const char *path, const char *bad) {
    static const struct { const char *name; int ndim; int64_t shape[4]; } entries[] = {
        {"conv1.weight", 4, {32, 1, 3, 3}}, {"conv1.bias", 1, {32}},
        {"conv2.weight", 4, {64, 32, 3, 3}}, {"conv2.bias", 1, {64}},
        {"fc1.weight", 2, {128, 3136}}, {"fc1.bias", 1, {128}},
        {"fc2.weight", 2, {10, 128}}, {"fc2.bias", 1, {10}},
    };
    float *zeros = calloc(128 * 3136, sizeof *zeros);
    gt_st_writer *w = gt_st_writer_new();
    for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++) {
        int64_t shape[4];
        memcpy(shape, entries[i].shape, sizeof shape);
        if (strcmp(entries[i].name, bad) == 0) shape[entries[i].ndim - 1]--;
        gt_st_writer_add(w, entries[i].name, entries[i].ndim, shape, zeros);
    }
    gt_st_writer_meta(w, "format", "gantry-classifier-1");
    gt_st_writer_meta(w, "architecture", GT_CLASSIFIER_ARCH);
    gt_st_writer_meta(w, "feature_size", "128");
    gt_st_writer_meta(w, "test_accuracy", "unknown");
    gt_error err;
    CHECK(gt_st_writer_write(w, path, &err) == 0);
    gt_st_writer_free(w);
    free(zeros);
}

TEST(wrong_weights_are_errors) {
    gt_dataset *ds = stripes(8, 3);
    gt_classifier *c = gt_classifier_new();
    float *before = features_of(c, ds, ds->n, NULL);
    gt_error err;
    const char *p = tmp_path("good.safetensors");
    write_weights(p, "");
    CHECK(gt_classifier_load(c, p, &err) == 0);  /* the test's file layout is the real one */
    CHECK(gt_classifier_test_accuracy(c) < 0);
    gt_classifier_free(c);
    c = gt_classifier_new();
    p = tmp_path("bad.safetensors");
    write_weights(p, "fc1.weight");
    CHECK(gt_classifier_load(c, p, &err) < 0);
    CHECK(strstr(err.msg, "'fc1.weight'") && strstr(err.msg, "[128, 3135]") &&
          strstr(err.msg, "[128, 3136]"));
    float *after = features_of(c, ds, ds->n, NULL);  /* a failed load keeps the weights */
    CHECK(memcmp(before, after, (size_t)ds->n * GT_CLASSIFIER_FEATURES * sizeof(float)) == 0);
    CHECK(gt_classifier_load(c, tmp_path("absent.safetensors"), &err) < 0);
    CHECK(strstr(err.msg, "absent.safetensors") != NULL);
    free(before);
    free(after);
    gt_classifier_free(c);
    gt_dataset_free(ds);
}

TEST(models_dir_from_environment) {
    gt_error err;
    write_weights(tmp_path("env.safetensors"), "");
    setenv(GT_CLASSIFIER_MODELS_ENV, dir, 1);
    gt_classifier *c = gt_classifier_new();
    CHECK(gt_classifier_load(c, "no/such/place/env.safetensors", &err) == 0);
    unsetenv(GT_CLASSIFIER_MODELS_ENV);
    CHECK(gt_classifier_load(c, "no/such/place/env.safetensors", &err) < 0);
    gt_classifier_free(c);
}

TEST(features_shape_and_determinism) {
    enum { N = 700 };  /* two chunks of the batched forward: 500 + 200 */
    gt_dataset *ds = stripes(N, 4);
    gt_classifier *c = gt_classifier_new();
    size_t row = GT_CLASSIFIER_FEATURES * sizeof(float);
    float *f = malloc(N * row + sizeof(float));
    f[N * GT_CLASSIFIER_FEATURES] = 12345.0f;  /* a guard past [N, 128] */
    int32_t pred[N];
    gt_classifier_features(c, ds->x, N, f, pred);
    CHECK(f[N * GT_CLASSIFIER_FEATURES] == 12345.0f);
    bool relu = true, classes = true;
    for (int64_t i = 0; i < N * GT_CLASSIFIER_FEATURES; i++) relu = relu && f[i] >= 0;
    for (int i = 0; i < N; i++) classes = classes && pred[i] >= 0 && pred[i] < GT_CLASSIFIER_CLASSES;
    CHECK(relu && classes);
    float *again = features_of(c, ds, N, NULL);
    CHECK(memcmp(f, again, N * row) == 0);
    /* one image alone gives its row of the batch */
    float *one = features_of(c, ds, 1, NULL);
    double diff = 0;
    for (int j = 0; j < GT_CLASSIFIER_FEATURES; j++) diff = fmax(diff, fabs(one[j] - f[j]));
    CHECK_NEAR(diff, 0, 1e-5);
    free(f);
    free(again);
    free(one);
    gt_classifier_free(c);
    gt_dataset_free(ds);
}

int main(void) {
    strcpy(dir, "/tmp/gt_test_classifier_XXXXXX");
    if (!mkdtemp(dir)) return 1;
    int rc;
    RUN_TESTS_INTO(rc, T(shipped_weights_accuracy), T(learns_separable_patterns),
                   T(training_is_deterministic_and_round_trips), T(wrong_weights_are_errors),
                   T(models_dir_from_environment), T(features_shape_and_determinism));
    const char *files[] = {"stripes.safetensors", "good.safetensors", "bad.safetensors",
                           "env.safetensors"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) remove(tmp_path(files[i]));
    rmdir(dir);
    gt_runtime_free();
    return rc;
}
