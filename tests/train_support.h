/* Library-level training for tests: a trainer built from a recipe plus overrides, stepped, and
 * its weights copied out, so tests can compare whole runs bit for bit. */
#ifndef GT_TESTS_TRAIN_SUPPORT_H
#define GT_TESTS_TRAIN_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/config.h"

#define FMNIST_PATH "/usr/share/datasets/fashion-mnist"

/* One run: a recipe, overrides ("key=value key=value"), a step count and the backend of the
 * context it runs in (NULL: the calling thread's current context). */
typedef struct train_job {
    const char *recipe;
    const char *overrides;
    int steps;
    const char *backend;
    const gt_comm *comm;  /* this job's rank of a data-parallel run (NULL: one process) */
    bool sync_bn;         /* with comm: synchronized batch norm */
    /* results */
    int rc;            /* 0 when built and stepped without error */
    float *weights;    /* G's then D's parameters and buffers (malloc'd) */
    int64_t n_weights;
    float *grads;      /* G's then D's last gradients (G's step, D's last step; malloc'd) */
    int64_t n_grads;
    int64_t n_g_grads; /* how many of them are G's */
    int64_t n_g_weights; /* how many weights are G's (its trainables first, then its buffers) */
    double g_loss, d_loss;  /* the last step's losses */
} train_job;

/* Runs the job on the calling thread (in a context of its own when backend is set). */
void train_job_run(train_job *j);
/* pthread entry: train_job_run(arg). */
void *train_job_thread(void *arg);
void train_job_free(train_job *j);
/* True if the two runs ended with bit-identical weights. */
bool train_jobs_identical(const train_job *a, const train_job *b);
/* Largest |a - b| / max(1, |b|) over the weights. */
double train_jobs_max_rel_diff(const train_job *a, const train_job *b);
/* The largest difference of a's last gradients from ref's, G's (*g) and D's (*d), each relative
 * to ref's largest gradient of that network. */
void train_jobs_grad_diffs(const train_job *a, const train_job *ref, double *g, double *d);
/* Largest |a - b| over x[from, to), divided by the largest |b| there (0 when b is all 0). */
double max_diff_scaled(const float *a, const float *b, int64_t from, int64_t to);
bool have_fashion_mnist(void);
/* c = defaults, then the recipe (NULL: none), then "key=value key=value" overrides (thread-safe);
 * -1 with err set on a bad file or key. */
int train_config(gt_config *c, const char *recipe, const char *overrides, gt_error *err);
/* The overrides of a tiny StyleGAN2 run (8x8, path length every step, R1) on a folder of 16
 * generated PNGs made in a scratch folder; NULL (a failed check) when it could not be made. */
const char *tiny_stylegan2_overrides(char *buf, size_t cap);

#endif
