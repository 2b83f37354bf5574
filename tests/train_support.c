#include "train_support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_support.h"
#include "train/trainer.h"

bool have_fashion_mnist(void) {
    return access(FMNIST_PATH "/train-images-idx3-ubyte.gz", R_OK) == 0 ||
           access(FMNIST_PATH "/train-images-idx3-ubyte", R_OK) == 0;
}

int train_config(gt_config *c, const char *recipe, const char *overrides, gt_error *err) {
    gt_config_defaults(c);
    if (recipe && gt_config_load_file(c, recipe, err) < 0) return -1;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", overrides ? overrides : "");
    char *save = NULL; /* strtok_r: two jobs configure at once on two threads */
    for (char *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
        if (gt_config_set(c, tok, "test", err) < 0) return -1;
    return 0;
}

const char *tiny_stylegan2_overrides(char *buf, size_t cap) {
    static char dir[64];
    if (!cli_scratch_new(dir)) return NULL;
    snprintf(buf, cap,
             "data.dataset=png data.path=%s data.channels=1 data.resolution=8 data.prefetch=false "
             "model.g.family=stylegan2 model.d.family=stylegan2 model.g.norm=none model.d.norm=none "
             "model.g.width=8 model.d.width=8 model.g.z_dim=8 train.batch=4 "
             "path_length.weight=2 path_length.every=1 penalty.r1=1",
             cli_png_folder(dir, 16, 8));
    return buf;
}

static void copy_weights(train_job *j, const gt_trainer *t) {
    const gt_params *p[2] = {&t->g.params, &t->d.params};
    j->n_weights = p[0]->numel + p[1]->numel;
    j->weights = malloc((size_t)j->n_weights * sizeof(float));
    memcpy(j->weights, p[0]->flat->data, (size_t)p[0]->numel * sizeof(float));
    memcpy(j->weights + p[0]->numel, p[1]->flat->data, (size_t)p[1]->numel * sizeof(float));
    j->n_g_grads = p[0]->numel_trainable;
    j->n_g_weights = p[0]->numel;
    j->n_grads = p[0]->numel_trainable + p[1]->numel_trainable;
    j->grads = malloc((size_t)j->n_grads * sizeof(float));
    memcpy(j->grads, p[0]->flat_grad->data, (size_t)j->n_g_grads * sizeof(float));
    memcpy(j->grads + j->n_g_grads, p[1]->flat_grad->data,
           (size_t)p[1]->numel_trainable * sizeof(float));
}

static int train_in_current_context(train_job *j, gt_error *err) {
    gt_config c;
    if (train_config(&c, j->recipe, j->overrides, err) < 0) return -1;
    gt_trainer t;
    if (gt_trainer_init(&t, &c, true, err) < 0) return -1;
    t.gan.comm = j->comm;
    t.gan.sync_bn = j->sync_bn;
    gt_step_stats st = {0};
    int rc = 0;
    for (int s = 0; s < j->steps && rc == 0; s++)
        if (!gt_trainer_step(&t, &st)) rc = gt_error_set(err, "step %d: non-finite", s);
    j->g_loss = st.g_loss;
    j->d_loss = st.d_loss;
    copy_weights(j, &t);
    gt_trainer_free(&t);
    return rc;
}

void train_job_run(train_job *j) {
    gt_error err = {{0}};
    gt_ctx *ctx = NULL, *prev = NULL;
    if (j->backend) {
        if (!(ctx = gt_ctx_new(j->backend, &err))) {
            fprintf(stderr, "  %s\n", err.msg);
            j->rc = -1;
            return;
        }
        prev = gt_ctx_use(ctx);
    }
    j->rc = train_in_current_context(j, &err);
    if (j->rc < 0) fprintf(stderr, "  %s: %s\n", j->recipe ? j->recipe : "(defaults)", err.msg);
    if (ctx) {
        gt_ctx_use(prev);
        gt_ctx_free(ctx);
    }
}

void *train_job_thread(void *arg) {
    train_job_run(arg);
    return NULL;
}

void train_job_free(train_job *j) {
    free(j->weights);
    free(j->grads);
    j->weights = j->grads = NULL;
}

double max_diff_scaled(const float *a, const float *b, int64_t from, int64_t to) {
    double worst = 0, scale = 0;
    for (int64_t i = from; i < to; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= worst)) worst = d;
        scale = fmax(scale, fabs((double)b[i]));
    }
    return scale > 0 ? worst / scale : worst;
}

void train_jobs_grad_diffs(const train_job *a, const train_job *ref, double *g, double *d) {
    *g = max_diff_scaled(a->grads, ref->grads, 0, ref->n_g_grads);
    *d = max_diff_scaled(a->grads, ref->grads, ref->n_g_grads, ref->n_grads);
}

bool train_jobs_identical(const train_job *a, const train_job *b) {
    return a->weights && b->weights && a->n_weights == b->n_weights &&
           memcmp(a->weights, b->weights, (size_t)a->n_weights * sizeof(float)) == 0;
}

double train_jobs_max_rel_diff(const train_job *a, const train_job *b) {
    if (!a->weights || !b->weights || a->n_weights != b->n_weights) return INFINITY;
    double worst = 0;
    for (int64_t i = 0; i < a->n_weights; i++) {
        double d = fabs((double)a->weights[i] - b->weights[i]) / fmax(1.0, fabs(b->weights[i]));
        if (!(d <= worst)) worst = d;
    }
    return worst;
}
