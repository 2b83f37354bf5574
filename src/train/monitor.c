/* The overfitting monitor (monitor.h). */
#include "train/monitor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine.h"
#include "train/trainer.h"

/* A network's buffers (batch-norm statistics, spectral norm's u) copied to the host, to put
 * back after forwards that must leave no trace (sampling ends the step, so not in the arena). */
static float *save_buffers(gt_params *p) {
    int64_t n = p->numel - p->numel_trainable;
    float *saved = n > 0 ? malloc((size_t)n * sizeof *saved) : NULL;
    if (saved) gt_copy_to(saved, gt_view_in(gt_step_arena(), p->flat, p->numel_trainable, 1, &n));
    return saved;
}

static void restore_buffers(gt_params *p, float *saved) {
    int64_t n = p->numel - p->numel_trainable;
    if (saved) gt_copy_from(gt_view_in(gt_step_arena(), p->flat, p->numel_trainable, 1, &n), saved);
    free(saved);
}

typedef struct {
    double mean, positive; /* mean logit, share of logits > 0 */
} reading;

/* D (training mode) on examples x [n, c, h, w] with labels (NULL: none), in chunks. */
static reading judge(gt_trainer *t, const float *x, const int32_t *labels, int64_t n, int64_t chunk) {
    gt_critic *c = &t->gan.critic[0];
    int64_t per = gt_trainer_example_size(t);
    double sum = 0, positive = 0;
    int64_t count = 0;
    for (int64_t at = 0; at < n; at += chunk) {
        int64_t shape[4] = {chunk, t->c, t->h, t->w};
        gt_fwd f = gt_fwd_of(&c->net->params, true);
        f.labels = labels ? labels + at : NULL;
        gt_tensor *logits = gt_critic_forward(c, &f, gt_from_data(4, shape, x + at * per), NULL);
        float *v = gt_step_alloc_((size_t)logits->numel * sizeof *v); /* one per pack */
        gt_copy_to(v, logits);
        for (int64_t i = 0; i < logits->numel; i++) {
            sum += v[i];
            positive += v[i] > 0;
        }
        count += logits->numel;
    }
    return (reading){sum / (double)count, positive / (double)count};
}

void gt_trainer_monitor(gt_trainer *t, gt_overfit *out) {
    *out = (gt_overfit){0};
    if (!t->holdout || t->progressive || t->h * t->w == 1) return;
    /* as many of each kind as the smaller set holds, at most GT_MONITOR_EXAMPLES */
    int64_t n = t->holdout->n < t->data->n ? t->holdout->n : t->data->n;
    if (n > GT_MONITOR_EXAMPLES) n = GT_MONITOR_EXAMPLES;
    int64_t pack = t->cfg.d_pack, chunk = t->cfg.train_batch < n ? t->cfg.train_batch : n / pack * pack;
    n = chunk > 0 ? n / chunk * chunk : 0;
    if (n < 2 || chunk < 2) return;
    bool prev = gt_grad_set(false);
    float *d_saved = save_buffers(&t->d.params), *g_saved = save_buffers(&t->g.params);
    float *fake = malloc((size_t)(n * gt_trainer_example_size(t)) * sizeof *fake);
    int32_t *fake_labels = t->conditional ? malloc((size_t)n * sizeof *fake_labels) : NULL;
    if (fake && (!t->conditional || fake_labels)) {
        for (int64_t i = 0; fake_labels && i < n; i++) fake_labels[i] = (int32_t)(i % t->n_classes);
        gt_trainer_sample_classes(t, n, gt_seed_stream((uint64_t)t->cfg.train_seed, GT_STREAM_SAMPLES + 200),
                                  fake_labels, fake);
        reading tr = judge(t, t->data->x, t->conditional ? t->data->labels : NULL, n, chunk);
        reading ho = judge(t, t->holdout->x, t->conditional ? t->holdout->labels : NULL, n, chunk);
        reading fk = judge(t, fake, fake_labels, n, chunk);
        double margin = tr.mean - fk.mean;
        *out = (gt_overfit){.valid = true, .d_train = tr.mean, .d_holdout = ho.mean, .d_fake = fk.mean,
                            .acc_train = tr.positive, .acc_holdout = ho.positive,
                            .acc_fake = 1 - fk.positive,
                            .separation = margin > 0 ? (tr.mean - ho.mean) / margin : 0};
    }
    free(fake);
    free(fake_labels);
    restore_buffers(&t->d.params, d_saved);
    restore_buffers(&t->g.params, g_saved);
    gt_step_end();
    gt_grad_set(prev);
}

bool gt_overfit_warning(const gt_overfit *o, double threshold, char *msg, size_t cap) {
    if (!o->valid || threshold <= 0 || !(o->separation > threshold)) return false;
    snprintf(msg, cap, "D is overfitting: it scores held-out real images %.0f%% of the way from its "
             "training images (mean logit %.3g) to the fakes (%.3g): %.3g. It is memorizing the "
             "training set; try augmentation (augment.policy = diffaugment or ada), more data, a "
             "smaller D or a gradient penalty",
             100 * o->separation, o->d_train, o->d_fake, o->d_holdout);
    return true;
}
