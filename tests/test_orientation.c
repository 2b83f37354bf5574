/* The orientation check (src/eval/orientation.c): the eight orientations are the dihedral group
 * numpy's rot90 and fliplr make; a detector trained on a few thousand Fashion-MNIST training
 * images calls upright test images upright, turned ones turned and mirrored footwear mirrored;
 * and `gantry eval --orientation` reports it in its JSON. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_support.h"
#include "data/data.h"
#include "eval/orientation.h"
#include "io/image.h"
#include "test.h"

#define FMNIST "/usr/share/datasets/fashion-mnist"
#define MODEL "models/fmnist-classifier.safetensors"
#define N_SAMPLES 2000

static bool have_data(void) {
    if (access(FMNIST, R_OK) == 0 && access(MODEL, R_OK) == 0) return true;
    TEST_SKIP("needs %s (Debian package dataset-fashion-mnist) and %s", FMNIST, MODEL);
    return false;
}

/* A 28x28 image whose every pixel differs: value = row * 28 + column. */
static void ramp(float *x) {
    for (int i = 0; i < 28 * 28; i++) x[i] = (float)i;
}

TEST(orientations_are_the_dihedral_group) {
    float x[784], a[784], b[784];
    ramp(x);
    /* one counter-clockwise quarter turn: the top-right corner becomes the top-left (rot90) */
    gt_orient_image(x, a, 1);
    CHECK(a[0] == x[27] && a[27] == x[27 * 28 + 27] && a[27 * 28] == x[0]);
    /* mirror: columns reversed */
    gt_orient_image(x, a, 4);
    CHECK(a[0] == x[27] && a[5 * 28 + 3] == x[5 * 28 + 24]);
    /* turning k times then k' times is turning k + k' times; mirroring twice is nothing */
    for (int k = 0; k < 4; k++) {
        gt_orient_image(x, a, k);
        gt_orient_image(a, b, 4 - k == 4 ? 0 : 4 - k);
        CHECK(memcmp(b, x, sizeof x) == 0);
    }
    gt_orient_image(x, a, 4);
    gt_orient_image(a, b, 4);
    CHECK(memcmp(b, x, sizeof x) == 0);
    /* the eight are distinct */
    float all[8][784];
    for (int k = 0; k < 8; k++) gt_orient_image(x, all[k], k);
    for (int i = 0; i < 8; i++)
        for (int j = i + 1; j < 8; j++) CHECK(memcmp(all[i], all[j], sizeof x) != 0);
}

/* The first n test images in orientation k. */
static float *oriented(const gt_dataset *test, int64_t n, int k) {
    float *x = malloc((size_t)n * 784 * sizeof *x);
    for (int64_t i = 0; i < n; i++) gt_orient_image(test->x + i * 784, x + i * 784, k);
    return x;
}

TEST(detector_tells_turned_and_mirrored_images) {
    if (!have_data()) return;
    gt_error err;
    gt_dataset *train = gt_data_load_mnist_dir(FMNIST, "train", &err);
    gt_dataset *test = gt_data_load_mnist_dir(FMNIST, "test", &err);
    gt_classifier *c = gt_classifier_new();
    CHECK(train && test && gt_classifier_load(c, MODEL, &err) == 0);
    if (!train || !test) return;
    gt_orientation_cfg cfg = {.train_images = 4000, .epochs = 2, .seed = 0};
    gt_orientation_detector *d = gt_orientation_detector_train(c, train, test, &cfg, &err);
    CHECK(d != NULL);
    if (!d) return;
    gt_orientation_scores up, turned, mirrored;
    float *x0 = oriented(test, N_SAMPLES, 0), *x1 = oriented(test, N_SAMPLES, 1),
          *x4 = oriented(test, N_SAMPLES, 4);
    gt_orientation_score(d, c, x0, N_SAMPLES, &up);
    gt_orientation_score(d, c, x1, N_SAMPLES, &turned);
    gt_orientation_score(d, c, x4, N_SAMPLES, &mirrored);
    gt_orientation_detector_free(d);
    printf("  detector accuracy %.3f; turned: upright %.3f, turned %.3f (data %.3f); mirrored: "
           "upright %.3f, mirrored %.3f (data %.3f); handed classes 0x%x\n", up.detector_accuracy,
           up.rotated, turned.rotated, up.ref_rotated, up.mirrored, mirrored.mirrored,
           up.ref_mirrored, up.handed_classes);
    /* bad data is an error naming it */
    gt_dataset unlabelled = *train;
    unlabelled.labels = NULL;
    CHECK(gt_orientation_detector_train(c, &unlabelled, test, &cfg, &err) == NULL &&
          strstr(err.msg, "labelled 1x28x28") != NULL);
    CHECK(up.detector_accuracy > 0.7);
    /* upright samples from the test split score like the test split they are part of */
    CHECK(up.rotated < 0.15 && up.ref_rotated < 0.15);
    CHECK(turned.rotated > 0.75);
    /* footwear has a handedness (Fashion-MNIST's shoes point left); shirts do not */
    CHECK((up.handed_classes & (1u << 7 | 1u << 9)) != 0);
    CHECK((up.handed_classes & (1u << 0)) == 0);
    CHECK(up.n_handed > 100 && up.mirrored < 0.1);
    CHECK(mirrored.mirrored > 0.8);
    free(x0);
    free(x1);
    free(x4);
    gt_classifier_free(c);
    gt_dataset_free(train);
    gt_dataset_free(test);
}

TEST(eval_orientation_json_and_bad_use) {
    if (!have_data()) return;
    char dir[64];
    if (!cli_scratch_new(dir)) return;
    gt_error err;
    gt_dataset *test = gt_data_load_mnist_dir(FMNIST, "test", &err);
    CHECK(test != NULL);
    if (!test) return;
    float *x = oriented(test, N_SAMPLES, 2); /* upside down */
    int64_t shape[4] = {N_SAMPLES, 1, 28, 28};
    const char *path = cli_path(dir, "turned.npy");
    CHECK(gt_npy_write(path, x, 4, shape, &err) == 0);
    cli_args a;
    cli_args_init(&a);
    cli_args_add(&a, "eval", "--samples", path, "--orientation", "--orientation-images", "4000", NULL);
    cli_result r;
    cli_run(&a, &r);
    CHECK_RUN(&a, &r, r.code == 0 && strstr(r.text, "turned      samples") != NULL);
    const char *line = strrchr(r.text, '{') ? strstr(r.text, "{\"n\"") : NULL;
    cJSON *j = line ? cJSON_Parse(line) : NULL;
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(j, "orientation");
    const cJSON *rot = cJSON_GetObjectItemCaseSensitive(o, "rotated");
    const cJSON *ref = cJSON_GetObjectItemCaseSensitive(o, "ref_rotated");
    CHECK_RUN(&a, &r, cJSON_IsNumber(rot) && rot->valuedouble > 0.75);
    CHECK_RUN(&a, &r, cJSON_IsNumber(ref) && ref->valuedouble < 0.15);
    CHECK(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(o, "handed_classes")));
    cJSON_Delete(j);
    cli_result_free(&r);
    /* --orientation-images alone, or the check of 2-D points, are errors naming what is wrong */
    cli_args_init(&a);
    cli_args_add(&a, "eval", "--samples", path, "--orientation-images", "4000", NULL);
    cli_run_fails_saying(&a, "--orientation-images needs --orientation", NULL);
    float pts[8] = {0};
    int64_t pshape[2] = {4, 2};
    const char *ppath = cli_path(dir, "points.npy");
    CHECK(gt_npy_write(ppath, pts, 2, pshape, &err) == 0);
    cli_args_init(&a);
    cli_args_add(&a, "eval", "--samples", ppath, "--mixture", "ring", "--orientation", NULL);
    cli_run_fails_saying(&a, "orientation check takes (N, 1, 28, 28) images", NULL);
    free(x);
    gt_dataset_free(test);
    cli_scratch_remove(dir);
}

int main(void) {
    int rc;
    RUN_TESTS_INTO(rc, T(orientations_are_the_dihedral_group),
                   T(detector_tells_turned_and_mirrored_images), T(eval_orientation_json_and_bad_use));
    gt_runtime_free();
    return rc;
}
