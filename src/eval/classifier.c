/* The Fashion-MNIST feature network: a two-conv CNN over a gt_params table, its batched
 * feature extraction, its cross-entropy training with Adam, and its safetensors file (the
 * tensors of the table plus metadata saying what the weights are and how good they are). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/engine.h"
#include "eval/classifier.h"
#include "io/safetensors.h"
#include "nn/layers.h"
#include "optim/optim.h"

#define CLS_FORMAT "gantry-classifier-1"
#define CLS_CHUNK 128      /* images per no-grad forward: bounds the step arena (about 50 MB) */
#define CLS_BATCH 128
#define CLS_LR 1e-3
#define CLS_PIXELS (GT_CLASSIFIER_SIDE * GT_CLASSIFIER_SIDE)
#define CLS_FLAT (64 * 7 * 7)  /* after two 2x2 poolings: 28 -> 14 -> 7 */

struct gt_classifier {
    gt_arena *arena;       /* parameters and gradients */
    gt_params params;
    gt_conv_layer conv1, conv2;
    gt_linear_layer fc1, fc2;
    double test_accuracy;  /* < 0: unknown */
    char recipe[512];
};

/* Kaiming normal weights for ReLU nets, zero biases: a function of seed only. */
static void init_weights(gt_classifier *c, uint64_t seed) {
    gt_rng rng = gt_rng_seed(seed);
    gt_fill(c->params.flat, 0.0f);
    for (int i = 0; i < c->params.n; i++)
        if (c->params.spec[i].ndim > 1) gt_init_tensor(c->params.t[i], GT_INIT_KAIMING, 0, 0, &rng);
    c->test_accuracy = -1;
    c->recipe[0] = '\0';
}

gt_classifier *gt_classifier_new(void) {
    gt_classifier *c = calloc(1, sizeof *c);
    GT_CHECK(c != NULL, "out of memory (classifier)");
    c->arena = gt_arena_new((size_t)1 << 22);
    gt_params_init(&c->params);
    c->conv1 = gt_conv2d_declare(&c->params, "conv1", 1, 32, 3, 1, 1, true);
    c->conv2 = gt_conv2d_declare(&c->params, "conv2", 32, 64, 3, 1, 1, true);
    c->fc1 = gt_linear_declare(&c->params, "fc1", CLS_FLAT, GT_CLASSIFIER_FEATURES, true);
    c->fc2 = gt_linear_declare(&c->params, "fc2", GT_CLASSIFIER_FEATURES, GT_CLASSIFIER_CLASSES, true);
    gt_params_finalize(&c->params, c->arena);
    init_weights(c, 0);
    return c;
}

void gt_classifier_free(gt_classifier *c) {
    if (!c) return;
    gt_params_release(&c->params);
    gt_arena_free(c->arena);
    free(c);
}

double gt_classifier_test_accuracy(const gt_classifier *c) { return c->test_accuracy; }
const char *gt_classifier_recipe(const gt_classifier *c) { return c->recipe; }

/* x [B, 1, 28, 28] -> logits [B, 10]; *features (when asked) = the [B, 128] hidden layer. */
static gt_tensor *forward(const gt_classifier *c, const gt_fwd *f, gt_tensor *x,
                          gt_tensor **features) {
    gt_tensor *h = gt_max_pool2d(gt_relu(gt_conv2d_forward(&c->conv1, f, x)), 2, 2, 0);  /* [B,32,14,14] */
    h = gt_max_pool2d(gt_relu(gt_conv2d_forward(&c->conv2, f, h)), 2, 2, 0);             /* [B,64,7,7] */
    int64_t flat[2] = {x->shape[0], CLS_FLAT};
    h = gt_relu(gt_linear_forward(&c->fc1, f, gt_reshape(h, 2, flat)));                  /* [B,128] */
    if (features) *features = h;
    return gt_linear_forward(&c->fc2, f, h);
}

/* Index of the largest of the k values (the first on ties). */
static int32_t argmax(const float *v, int k) {
    int32_t best = 0;
    for (int j = 1; j < k; j++)
        if (v[j] > v[best]) best = j;
    return best;
}

void gt_classifier_features(gt_classifier *c, const float *x, int64_t n, float *features,
                            int32_t *pred_class) {
    bool prev = gt_grad_set(false);
    gt_fwd f = gt_fwd_of(&c->params, false);
    for (int64_t start = 0; start < n; start += CLS_CHUNK) {
        int64_t m = n - start < CLS_CHUNK ? n - start : CLS_CHUNK;
        int64_t shape[4] = {m, 1, GT_CLASSIFIER_SIDE, GT_CLASSIFIER_SIDE};
        gt_tensor *feat;
        gt_tensor *logits = forward(c, &f, gt_from_data(4, shape, x + start * CLS_PIXELS), &feat); /* [m,10] */
        if (features) gt_copy_to(features + start * GT_CLASSIFIER_FEATURES, feat);
        float *lg = pred_class ? gt_step_alloc_((size_t)logits->numel * sizeof *lg) : NULL;
        if (lg) gt_copy_to(lg, logits);
        for (int64_t i = 0; pred_class && i < m; i++)
            pred_class[start + i] = argmax(lg + i * GT_CLASSIFIER_CLASSES, GT_CLASSIFIER_CLASSES);
        gt_step_end();
    }
    gt_grad_set(prev);
}

static bool is_gray28(const gt_dataset *ds) {
    return ds->c == 1 && ds->h == GT_CLASSIFIER_SIDE && ds->w == GT_CLASSIFIER_SIDE;
}

double gt_classifier_accuracy(gt_classifier *c, const gt_dataset *ds) {
    GT_CHECK(is_gray28(ds) && ds->labels, "classifier: %s is not labelled 1x28x28 images", ds->name);
    if (ds->n == 0) return 0;
    int32_t *pred = malloc((size_t)ds->n * sizeof *pred);
    GT_CHECK(pred != NULL, "out of memory (%lld predictions)", (long long)ds->n);
    gt_classifier_features(c, ds->x, ds->n, NULL, pred);
    int64_t right = 0;
    for (int64_t i = 0; i < ds->n; i++) right += pred[i] == ds->labels[i];
    free(pred);
    return (double)right / (double)ds->n;
}

/* ---- training ---- */

/* Data the network cannot take is the user's mistake (a wrong --data), so it is an error. */
static int check_data(const gt_dataset *ds, const char *role, gt_error *err) {
    if (!is_gray28(ds) || !ds->labels)
        return gt_error_set(err, "classifier: %s data %s is %dx%dx%d%s; expected labelled 1x28x28 "
                                 "images (an MNIST-format directory)", role, ds->name, ds->c, ds->h,
                            ds->w, ds->labels ? "" : " without labels");
    for (int64_t i = 0; i < ds->n; i++)
        if (ds->labels[i] < 0 || ds->labels[i] >= GT_CLASSIFIER_CLASSES)
            return gt_error_set(err, "classifier: %s data %s: label %d of example %lld is outside "
                                     "0..%d", role, ds->name, ds->labels[i], (long long)i,
                                GT_CLASSIFIER_CLASSES - 1);
    return 0;
}

/* One Adam step on a batch x [B, 1, 28, 28] with labels y [B]; returns the mean
 * cross-entropy -1/B sum_i log softmax(logits_i)[y_i], taken through a one-hot mask. */
static float train_step(gt_classifier *c, gt_optim *o, const float *x, const int32_t *y, int64_t b) {
    int64_t xs[4] = {b, 1, GT_CLASSIFIER_SIDE, GT_CLASSIFIER_SIDE}, ms[2] = {b, GT_CLASSIFIER_CLASSES};
    float *hot = gt_step_alloc_((size_t)(b * GT_CLASSIFIER_CLASSES) * sizeof *hot);
    memset(hot, 0, (size_t)(b * GT_CLASSIFIER_CLASSES) * sizeof *hot);
    for (int64_t i = 0; i < b; i++) hot[i * GT_CLASSIFIER_CLASSES + y[i]] = 1;
    gt_tensor *onehot = gt_from_data(2, ms, hot);
    gt_fwd f = gt_fwd_of(&c->params, true);
    gt_tensor *logp = gt_log_softmax(forward(c, &f, gt_from_data(4, xs, x), NULL), 1);
    gt_tensor *loss = gt_mul_scalar(gt_sum_all(gt_mul(logp, onehot)), -1.0f / (float)b);
    gt_params_zero_grad(&c->params);
    gt_backward(loss);
    float v = gt_item(loss);
    gt_optim_step(o);
    gt_step_end();
    return v;
}

/* One pass over the loader's epoch; returns the mean batch loss. */
static double train_epoch(gt_classifier *c, gt_optim *o, gt_loader *l, int64_t steps, float *x,
                          int32_t *y) {
    double sum = 0;
    for (int64_t s = 0; s < steps; s++) {
        gt_loader_next(l, x, y);
        sum += train_step(c, o, x, y, CLS_BATCH);
    }
    return sum / (double)steps;
}

static void record_recipe(gt_classifier *c, const gt_dataset *train, int epochs, uint64_t seed) {
    snprintf(c->recipe, sizeof c->recipe,
             "gantry classifier train --epochs %d --seed %llu: %s train split (%lld images), "
             "cross-entropy, Adam lr %g with cosine decay, betas 0.9/0.999 eps 1e-8, batch %d, "
             "Kaiming-normal init",
             epochs, (unsigned long long)seed, train->name, (long long)train->n, CLS_LR, CLS_BATCH);
}

int gt_classifier_train(gt_classifier *c, const gt_dataset *train, const gt_dataset *test,
                        int epochs, uint64_t seed, FILE *log, gt_error *err) {
    if (epochs < 1) return gt_error_set(err, "classifier: epochs %d must be at least 1", epochs);
    if (check_data(train, "training", err) < 0 || check_data(test, "test", err) < 0) return -1;
    gt_loader *l = gt_loader_new(train, CLS_BATCH, seed, false, err);
    if (!l) return -1;
    float *x = malloc((size_t)CLS_BATCH * CLS_PIXELS * sizeof *x);
    int32_t *y = malloc((size_t)CLS_BATCH * sizeof *y);
    GT_CHECK(x && y, "out of memory (classifier batch)");
    init_weights(c, seed);
    gt_arena *state = gt_arena_new((size_t)1 << 22);  /* Adam's moments, freed with the run */
    gt_optim o;
    /* cosine decay to 0 over the run: the last epochs settle instead of hopping around 91% */
    gt_optim_cfg cfg = {.type = GT_OPTIM_ADAM, .lr = CLS_LR, .beta1 = 0.9, .beta2 = 0.999,
                        .eps = 1e-8, .schedule = GT_SCHEDULE_COSINE,
                        .total_steps = (int64_t)epochs * (train->n / CLS_BATCH)};
    gt_optim_init(&o, &c->params, &cfg, state);
    double acc = 0;
    for (int e = 1; e <= epochs; e++) {
        double loss = train_epoch(c, &o, l, train->n / CLS_BATCH, x, y);
        acc = gt_classifier_accuracy(c, test);
        if (log) {
            fprintf(log, "epoch %d/%d  loss %.4f  test accuracy %.2f%%\n", e, epochs, loss, 100 * acc);
            fflush(log);
        }
    }
    c->test_accuracy = acc;
    record_recipe(c, train, epochs, seed);
    gt_arena_free(state);
    gt_loader_free(l);
    free(x);
    free(y);
    return 0;
}

/* ---- the weights file ---- */

int gt_classifier_save(const gt_classifier *c, const char *path, gt_error *err) {
    char feat[16], acc[32];
    snprintf(feat, sizeof feat, "%d", GT_CLASSIFIER_FEATURES);
    if (c->test_accuracy < 0) snprintf(acc, sizeof acc, "unknown");
    else snprintf(acc, sizeof acc, "%.4f", c->test_accuracy);
    gt_st_writer *w = gt_st_writer_new();
    for (int i = 0; i < c->params.n; i++)
        gt_st_writer_add_tensor(w, c->params.spec[i].name, c->params.t[i]);
    gt_st_writer_meta(w, "format", CLS_FORMAT);
    gt_st_writer_meta(w, "architecture", GT_CLASSIFIER_ARCH);
    gt_st_writer_meta(w, "feature_size", feat);
    gt_st_writer_meta(w, "test_accuracy", acc);
    gt_st_writer_meta(w, "recipe", c->recipe[0] ? c->recipe : "untrained");
    int rc = gt_st_writer_write(w, path, err);
    gt_st_writer_free(w);
    return rc;
}

#ifndef GT_DATADIR
#define GT_DATADIR "/usr/local/share/gantry"
#endif

/* path itself; when it does not exist, the same file name in $GANTRY_MODELS, then in the
 * installed models folder (GT_DATADIR/models, set by make from PREFIX). */
static gt_st_file *open_weights(const char *path, gt_error *err) {
    if (access(path, F_OK) == 0 || errno != ENOENT) return gt_st_read(path, err);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *env = getenv(GT_CLASSIFIER_MODELS_ENV);
    char alt[2][4096];
    snprintf(alt[0], sizeof alt[0], "%s/%s", env && *env ? env : "", base);
    snprintf(alt[1], sizeof alt[1], "%s/models/%s", GT_DATADIR, base);
    for (int i = env && *env ? 0 : 1; i < 2; i++)
        if (access(alt[i], F_OK) == 0) return gt_st_read(alt[i], err);
    gt_error_set(err, "classifier weights %s: no such file (nor in $%s or %s/models; retrain "
                      "with gantry classifier train)", path, GT_CLASSIFIER_MODELS_ENV, GT_DATADIR);
    return NULL;
}

static int check_meta(const gt_st_file *f, const char *path, const char *key, const char *want,
                      gt_error *err) {
    const char *v = gt_st_meta(f, key);
    if (!v || strcmp(v, want) != 0)
        return gt_error_set(err, "classifier weights %s: metadata '%s' is '%s', expected '%s' "
                                 "(not weights of this classifier?)", path, key, v ? v : "(missing)", want);
    return 0;
}

static void shape_text(char *buf, size_t cap, int ndim, const int64_t *shape) {
    buf[0] = '\0';
    for (int i = 0; i < ndim; i++)
        snprintf(buf + strlen(buf), cap - strlen(buf), "%s%lld", i ? ", " : "", (long long)shape[i]);
}

/* Every entry of the table present with its shape, and nothing else in the file. */
static int check_tensors(const gt_classifier *c, const gt_st_file *f, const char *path, gt_error *err) {
    for (int i = 0; i < c->params.n; i++) {
        const gt_param_spec *p = &c->params.spec[i];
        const gt_st_tensor *s = gt_st_find(f, p->name);
        if (!s) return gt_error_set(err, "classifier weights %s: tensor '%s' missing", path, p->name);
        bool same = s->ndim == p->ndim;
        for (int d = 0; same && d < p->ndim; d++) same = s->shape[d] == p->shape[d];
        if (same) continue;
        char got[96], want[96];
        shape_text(got, sizeof got, s->ndim, s->shape);
        shape_text(want, sizeof want, p->ndim, p->shape);
        return gt_error_set(err, "classifier weights %s: tensor '%s' has shape [%s], expected [%s]",
                            path, p->name, got, want);
    }
    if (gt_st_count(f) != c->params.n)
        return gt_error_set(err, "classifier weights %s: %d tensors, expected %d (another network?)",
                            path, gt_st_count(f), c->params.n);
    return 0;
}

/* test_accuracy: a number in [0, 1] or "unknown" (-1). */
static int read_accuracy(const gt_st_file *f, const char *path, double *out, gt_error *err) {
    const char *v = gt_st_meta(f, "test_accuracy");
    char *end = NULL;
    if (v && strcmp(v, "unknown") == 0) {
        *out = -1;
        return 0;
    }
    if (v) *out = strtod(v, &end);
    if (!v || !*v || *end || *out < 0 || *out > 1)
        return gt_error_set(err, "classifier weights %s: metadata 'test_accuracy' is '%s', expected "
                                 "a fraction in [0, 1] or 'unknown'", path, v ? v : "(missing)");
    return 0;
}

static int check_file(const gt_classifier *c, const gt_st_file *f, const char *path, double *acc,
                      gt_error *err) {
    char feat[16];
    snprintf(feat, sizeof feat, "%d", GT_CLASSIFIER_FEATURES);
    if (check_meta(f, path, "format", CLS_FORMAT, err) < 0 ||
        check_meta(f, path, "architecture", GT_CLASSIFIER_ARCH, err) < 0 ||
        check_meta(f, path, "feature_size", feat, err) < 0 || read_accuracy(f, path, acc, err) < 0)
        return -1;
    return check_tensors(c, f, path, err);
}

int gt_classifier_load(gt_classifier *c, const char *path, gt_error *err) {
    gt_st_file *f = open_weights(path, err);
    if (!f) return -1;
    double acc = -1;
    int rc = check_file(c, f, path, &acc, err);
    if (rc == 0) {
        for (int i = 0; i < c->params.n; i++)
            gt_copy_from(c->params.t[i], gt_st_find(f, c->params.spec[i].name)->data);
        const char *recipe = gt_st_meta(f, "recipe");
        snprintf(c->recipe, sizeof c->recipe, "%s", recipe ? recipe : "");
        c->test_accuracy = acc;
    }
    gt_st_free(f);
    return rc;
}
