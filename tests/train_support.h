/* Library-level training for tests: a trainer built from a recipe plus overrides, stepped, and
 * its weights copied out, so tests can compare whole runs bit for bit. */
#ifndef GT_TESTS_TRAIN_SUPPORT_H
#define GT_TESTS_TRAIN_SUPPORT_H

#include <stdbool.h>
#include <stdint.h>

#define FMNIST_PATH "/usr/share/datasets/fashion-mnist"

/* One run: a recipe, overrides ("key=value key=value"), a step count and the backend of the
 * context it runs in (NULL: the calling thread's current context). */
typedef struct train_job {
    const char *recipe;
    const char *overrides;
    int steps;
    const char *backend;
    /* results */
    int rc;            /* 0 when built and stepped without error */
    float *weights;    /* G's then D's parameters and buffers (malloc'd) */
    int64_t n_weights;
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
bool have_fashion_mnist(void);

#endif
