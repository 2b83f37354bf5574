/* The orientation check (orientation.h): an MLP detector of the eight orientations, trained on
 * the reference training split with gantry's own layers and Adam, and the shares of upright test
 * images and of samples it calls turned or mirrored. */
#include <stdlib.h>
#include <string.h>

#include "core/engine.h"
#include "eval/orientation.h"
#include "nn/layers.h"
#include "optim/optim.h"

#define SIDE GT_CLASSIFIER_SIDE
#define PIXELS (SIDE * SIDE)
#define HIDDEN 256
#define IMAGES_PER_BATCH 32   /* each in all eight orientations: 256 rows a step */
#define CHUNK 500             /* rows per no-grad forward */
#define LR 1e-3
#define HANDED_ACCURACY 0.95  /* a class is handed when its mirror bit is read this well */

/* ---- the eight orientations ---- */

/* One counter-clockwise quarter turn: dst[i][j] = src[j][SIDE-1-i] (numpy's rot90). */
static void quarter_turn(const float *src, float *dst) {
    for (int i = 0; i < SIDE; i++)
        for (int j = 0; j < SIDE; j++) dst[i * SIDE + j] = src[j * SIDE + (SIDE - 1 - i)];
}

static void mirror(const float *src, float *dst) {
    for (int i = 0; i < SIDE; i++)
        for (int j = 0; j < SIDE; j++) dst[i * SIDE + j] = src[i * SIDE + (SIDE - 1 - j)];
}

void gt_orient_image(const float *src, float *dst, int k) {
    float a[PIXELS], b[PIXELS];
    memcpy(a, src, sizeof a);
    for (int t = 0; t < (k & 3); t++) {
        quarter_turn(a, b);
        memcpy(a, b, sizeof a);
    }
    if (k & 4) mirror(a, dst);
    else memcpy(dst, a, sizeof a);
}

/* ---- the detector: 784 -> 256 (ReLU) -> 8 ---- */

typedef struct detector {
    gt_arena *arena;
    gt_params params;
    gt_linear_layer fc1, fc2;
} detector;

static void detector_init(detector *d, uint64_t seed) {
    d->arena = gt_arena_new((size_t)1 << 22);
    gt_params_init(&d->params);
    d->fc1 = gt_linear_declare(&d->params, "fc1", PIXELS, HIDDEN, true);
    d->fc2 = gt_linear_declare(&d->params, "fc2", HIDDEN, GT_ORIENTATIONS, true);
    gt_params_finalize(&d->params, d->arena);
    gt_rng rng = gt_rng_seed(seed);
    gt_fill(d->params.flat, 0.0f);
    for (int i = 0; i < d->params.n; i++)
        if (d->params.spec[i].ndim > 1) gt_init_tensor(d->params.t[i], GT_INIT_KAIMING, 0, 0, &rng);
}

static void detector_free(detector *d) {
    gt_params_release(&d->params);
    gt_arena_free(d->arena);
}

/* x [B, 784] -> logits [B, 8] */
static gt_tensor *detector_forward(const detector *d, const gt_fwd *f, gt_tensor *x) {
    return gt_linear_forward(&d->fc2, f, gt_relu(gt_linear_forward(&d->fc1, f, x)));
}

/* Orientation of each of the n images rows [n, 784]: the argmax of the detector's logits. */
static void detector_predict(detector *d, const float *rows, int64_t n, int32_t *out) {
    bool prev = gt_grad_set(false);
    gt_fwd f = gt_fwd_of(&d->params, false);
    for (int64_t start = 0; start < n; start += CHUNK) {
        int64_t m = n - start < CHUNK ? n - start : CHUNK, shape[2] = {m, PIXELS};
        gt_tensor *logits = detector_forward(d, &f, gt_from_data(2, shape, rows + start * PIXELS));
        float *lg = gt_step_alloc_((size_t)logits->numel * sizeof *lg);
        gt_copy_to(lg, logits);
        for (int64_t i = 0; i < m; i++) {
            int best = 0;
            for (int k = 1; k < GT_ORIENTATIONS; k++)
                if (lg[i * GT_ORIENTATIONS + k] > lg[i * GT_ORIENTATIONS + best]) best = k;
            out[start + i] = best;
        }
        gt_step_end();
    }
    gt_grad_set(prev);
}

/* One Adam step on b images, each in its eight orientations: the mean cross-entropy of the
 * orientation labels. rows and hot are scratch of 8b rows. */
static void train_step(detector *d, gt_optim *o, const float *images, int64_t b, float *rows,
                       float *hot) {
    int64_t r = b * GT_ORIENTATIONS, xs[2] = {r, PIXELS}, hs[2] = {r, GT_ORIENTATIONS};
    memset(hot, 0, (size_t)(r * GT_ORIENTATIONS) * sizeof *hot);
    for (int64_t i = 0; i < b; i++)
        for (int k = 0; k < GT_ORIENTATIONS; k++) {
            int64_t row = i * GT_ORIENTATIONS + k;
            gt_orient_image(images + i * PIXELS, rows + row * PIXELS, k);
            hot[row * GT_ORIENTATIONS + k] = 1;
        }
    gt_fwd f = gt_fwd_of(&d->params, true);
    gt_tensor *logp = gt_log_softmax(detector_forward(d, &f, gt_from_data(2, xs, rows)), 1);
    gt_tensor *loss = gt_mul_scalar(gt_sum_all(gt_mul(logp, gt_from_data(2, hs, hot))), -1.0f / (float)r);
    gt_params_zero_grad(&d->params);
    gt_backward(loss);
    gt_optim_step(o);
    gt_step_end();
}

static int detector_train(detector *d, const gt_dataset *train, const gt_orientation_cfg *cfg,
                          gt_error *err) {
    gt_dataset view = *train;  /* the first train_images images (the split is class-mixed) */
    if (cfg->train_images > 0 && cfg->train_images < view.n) view.n = cfg->train_images;
    if (view.n < IMAGES_PER_BATCH)
        return gt_error_set(err, "orientation check: %lld training images, need at least %d",
                            (long long)view.n, IMAGES_PER_BATCH);
    gt_loader *l = gt_loader_new(&view, IMAGES_PER_BATCH, cfg->seed, false, err);
    if (!l) return -1;
    int64_t steps = (int64_t)cfg->epochs * (view.n / IMAGES_PER_BATCH);
    float *images = malloc((size_t)IMAGES_PER_BATCH * PIXELS * sizeof *images);
    float *rows = malloc((size_t)IMAGES_PER_BATCH * GT_ORIENTATIONS * PIXELS * sizeof *rows);
    float *hot = malloc((size_t)IMAGES_PER_BATCH * GT_ORIENTATIONS * GT_ORIENTATIONS * sizeof *hot);
    int32_t *labels = malloc(IMAGES_PER_BATCH * sizeof *labels);
    GT_CHECK(images && rows && hot && labels, "out of memory (orientation detector batch)");
    gt_arena *state = gt_arena_new((size_t)1 << 22);
    gt_optim o;
    gt_optim_cfg oc = {.type = GT_OPTIM_ADAM, .lr = LR, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8,
                       .schedule = GT_SCHEDULE_COSINE, .total_steps = steps};
    gt_optim_init(&o, &d->params, &oc, state);
    for (int64_t s = 0; s < steps; s++) {
        gt_loader_next(l, images, labels);
        train_step(d, &o, images, IMAGES_PER_BATCH, rows, hot);
    }
    gt_arena_free(state);
    gt_loader_free(l);
    free(images);
    free(rows);
    free(hot);
    free(labels);
    return 0;
}

/* ---- the scores ---- */

/* The n images x in orientation k, predicted: out[n]. scratch holds n images. */
static void predict_oriented(detector *d, const float *x, int64_t n, int k, float *scratch,
                             int32_t *out) {
    for (int64_t i = 0; i < n; i++) gt_orient_image(x + i * PIXELS, scratch + i * PIXELS, k);
    detector_predict(d, scratch, n, out);
}

/* Accuracy over the test images' eight orientations, and the handed classes: those whose test
 * images (by true label) get the mirror bit right at least HANDED_ACCURACY of the time, upright
 * and mirrored. upright_pred[n] receives the upright images' predictions. */
static void score_reference(detector *d, const gt_dataset *test, int32_t *upright_pred,
                            gt_orientation_scores *out) {
    int64_t n = test->n, right = 0, mirror_right[GT_CLASSIFIER_CLASSES] = {0},
            count[GT_CLASSIFIER_CLASSES] = {0};
    float *scratch = malloc((size_t)n * PIXELS * sizeof *scratch);
    int32_t *pred = malloc((size_t)n * sizeof *pred);
    GT_CHECK(scratch && pred, "out of memory (orientation check of %lld images)", (long long)n);
    for (int k = 0; k < GT_ORIENTATIONS; k++) {
        predict_oriented(d, test->x, n, k, scratch, pred);
        if (k == 0) memcpy(upright_pred, pred, (size_t)n * sizeof *pred);
        for (int64_t i = 0; i < n; i++) {
            right += pred[i] == k;
            if (k != 0 && k != 4) continue;
            mirror_right[test->labels[i]] += (pred[i] & 4) == (k & 4);
            count[test->labels[i]]++;
        }
    }
    out->detector_accuracy = (double)right / (double)(n * GT_ORIENTATIONS);
    out->handed_classes = 0;
    for (int c = 0; c < GT_CLASSIFIER_CLASSES; c++)
        if (count[c] > 0 && (double)mirror_right[c] >= HANDED_ACCURACY * (double)count[c])
            out->handed_classes |= 1u << c;
    free(scratch);
    free(pred);
}

/* Shares of images called turned, and of the handed-class ones called mirrored. */
static void shares(const int32_t *pred, const int32_t *cls, int64_t n, uint32_t handed,
                   double *rotated, int64_t *n_handed, double *mirrored) {
    int64_t turned = 0, handed_n = 0, mirrored_n = 0;
    for (int64_t i = 0; i < n; i++) {
        turned += (pred[i] & 3) != 0;
        if (!(handed >> cls[i] & 1u)) continue;
        handed_n++;
        mirrored_n += (pred[i] & 4) != 0;
    }
    *rotated = n ? (double)turned / (double)n : 0;
    *n_handed = handed_n;
    *mirrored = handed_n ? (double)mirrored_n / (double)handed_n : 0;
}

static int check_images(const gt_dataset *ds, const char *role, gt_error *err) {
    if (ds->c != 1 || ds->h != SIDE || ds->w != SIDE || !ds->labels || ds->n == 0)
        return gt_error_set(err, "orientation check: the %s split %s must be labelled 1x28x28 "
                                 "images", role, ds->name);
    for (int64_t i = 0; i < ds->n; i++)
        if (ds->labels[i] < 0 || ds->labels[i] >= GT_CLASSIFIER_CLASSES)
            return gt_error_set(err, "orientation check: %s label %d of example %lld is outside "
                                     "0..%d", ds->name, ds->labels[i], (long long)i,
                                GT_CLASSIFIER_CLASSES - 1);
    return 0;
}

struct gt_orientation_detector {
    detector net;
    gt_orientation_scores ref;  /* the reference half of every score */
};

gt_orientation_detector *gt_orientation_detector_train(gt_classifier *c, const gt_dataset *train,
                                                       const gt_dataset *test,
                                                       const gt_orientation_cfg *cfg, gt_error *err) {
    if (check_images(train, "training", err) < 0 || check_images(test, "test", err) < 0) return NULL;
    if (cfg->epochs < 1) {
        gt_error_set(err, "orientation check: epochs %d must be at least 1", cfg->epochs);
        return NULL;
    }
    gt_orientation_detector *d = calloc(1, sizeof *d);
    GT_CHECK(d != NULL, "out of memory (orientation detector)");
    detector_init(&d->net, cfg->seed);
    if (detector_train(&d->net, train, cfg, err) < 0) {
        gt_orientation_detector_free(d);
        return NULL;
    }
    int64_t m = test->n;
    int32_t *pred = malloc((size_t)m * sizeof *pred), *cls = malloc((size_t)m * sizeof *cls);
    GT_CHECK(pred && cls, "out of memory (orientation check of %lld images)", (long long)m);
    score_reference(&d->net, test, pred, &d->ref);
    gt_classifier_features(c, test->x, m, NULL, cls);
    d->ref.n_ref = m;
    shares(pred, cls, m, d->ref.handed_classes, &d->ref.ref_rotated, &d->ref.n_ref_handed,
           &d->ref.ref_mirrored);
    free(pred);
    free(cls);
    return d;
}

void gt_orientation_detector_free(gt_orientation_detector *d) {
    if (!d) return;
    detector_free(&d->net);
    free(d);
}

void gt_orientation_score(gt_orientation_detector *d, gt_classifier *c, const float *x, int64_t n,
                          gt_orientation_scores *out) {
    *out = d->ref;
    out->n = n;
    int32_t *pred = malloc((size_t)(n ? n : 1) * sizeof *pred), *cls = malloc((size_t)(n ? n : 1) * sizeof *cls);
    GT_CHECK(pred && cls, "out of memory (orientation check of %lld samples)", (long long)n);
    detector_predict(&d->net, x, n, pred);
    gt_classifier_features(c, x, n, NULL, cls);
    shares(pred, cls, n, out->handed_classes, &out->rotated, &out->n_handed, &out->mirrored);
    free(pred);
    free(cls);
}

int gt_eval_orientation(gt_classifier *c, const gt_dataset *train, const gt_dataset *test,
                        const float *x, int64_t n, const gt_orientation_cfg *cfg,
                        gt_orientation_scores *out, gt_error *err) {
    memset(out, 0, sizeof *out);
    gt_orientation_detector *d = gt_orientation_detector_train(c, train, test, cfg, err);
    if (!d) return -1;
    gt_orientation_score(d, c, x, n, out);
    gt_orientation_detector_free(d);
    return 0;
}
