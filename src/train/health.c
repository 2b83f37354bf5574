/* Training-health rules (see health.h). */
#include "train/health.h"

#include <math.h>
#include <stdio.h>

void gt_health_init(gt_health *h) {
    *h = (gt_health){0};
    for (int k = 0; k < GT_WARN_KINDS; k++) h->last_warned[k] = -1;
}

/* Whether a warning of this kind may be given at this step (and records it). */
static bool may_warn(gt_health *h, gt_warn_kind k, int64_t step) {
    if (h->last_warned[k] >= 0 && step - h->last_warned[k] < GT_HEALTH_REPEAT) return false;
    h->last_warned[k] = step;
    return true;
}

/* The mean of D's accuracy over the last GT_HEALTH_D_WINDOW steps, kept in a ring. */
static double d_accuracy_mean(gt_health *h, const gt_step_stats *st) {
    double acc = fmin(st->d_acc_real, st->d_acc_fake);
    double *slot = &h->d_acc[h->seen % GT_HEALTH_D_WINDOW];
    h->d_acc_sum += acc - (h->seen >= GT_HEALTH_D_WINDOW ? *slot : 0);
    *slot = acc;
    return h->d_acc_sum / GT_HEALTH_D_WINDOW;
}

static int warn_d_strong(gt_health *h, int64_t step, const gt_step_stats *st, char *msg, size_t cap) {
    double mean = d_accuracy_mean(h, st);
    if (h->seen + 1 < GT_HEALTH_D_WINDOW || mean < GT_HEALTH_D_ACCURACY ||
        !may_warn(h, GT_WARN_D_STRONG, step))
        return 0;
    snprintf(msg, cap, "D overpowers G: it has classified %.1f%% of reals and of fakes correctly "
             "over the last %d steps (G's gradient fades); try a lower optim.d.lr, fewer "
             "train.d_steps, label smoothing, instance noise or a gradient penalty",
             100 * mean, GT_HEALTH_D_WINDOW);
    return 1;
}

/* Updates the running mean of log norm (D: 0, G: 1) and says whether this norm is far above
 * the level before it (after 50 steps to settle); *level gets that level. */
static bool grad_exploded(gt_health *h, int which, double norm, double *level) {
    double l = log(fmax(norm, 1e-30));
    *level = h->log_norm[which];
    h->log_norm[which] = h->seen == 0 ? l : 0.98 * *level + 0.02 * l;
    return h->seen >= 50 && l >= *level + log(GT_HEALTH_GRAD_FACTOR);
}

static int warn_grad(gt_health *h, int which, int64_t step, double norm, double level, char *msg,
                     size_t cap) {
    if (!may_warn(h, which ? GT_WARN_G_GRAD : GT_WARN_D_GRAD, step)) return 0;
    snprintf(msg, cap, "%s's gradient norm exploded: %.3g, about %.0f times its recent level "
             "%.3g; try a lower learning rate, gradient clipping or spectral normalization",
             which ? "G" : "D", norm, norm / exp(level), exp(level));
    return 1;
}

int gt_health_step(gt_health *h, int64_t step, const gt_step_stats *st, char *msg, size_t cap) {
    double level_d, level_g;
    bool d_up = grad_exploded(h, 0, st->d_grad_norm, &level_d);
    bool g_up = grad_exploded(h, 1, st->g_grad_norm, &level_g);
    int strong = warn_d_strong(h, step, st, msg, cap);
    h->seen++;
    if (strong) return 1;
    if (d_up && warn_grad(h, 0, step, st->d_grad_norm, level_d, msg, cap)) return 1;
    return g_up && warn_grad(h, 1, step, st->g_grad_norm, level_g, msg, cap);
}

int gt_health_grad_stop(gt_health *h, const gt_step_stats *st, double bound, int64_t window,
                        char *msg, size_t cap) {
    if (bound <= 0) return 0;
    const double norm[2] = {st->d_grad_norm, st->g_grad_norm};
    for (int k = 0; k < 2; k++) {
        h->above[k] = norm[k] <= bound ? 0 : h->above[k] + 1; /* NaN counts as above */
        if (h->above[k] < window) continue;
        snprintf(msg, cap, "%s's gradient norm stayed above health.grad_norm_max = %g for %lld "
                 "steps (now %.3g): the run has blown up; try lower learning rates, gradient "
                 "penalties or spectral normalization", k ? "G" : "D", bound, (long long)window,
                 norm[k]);
        return 1;
    }
    return 0;
}

/* Mean over the d dimensions of the variance across the n examples. */
static double spread(const float *x, int64_t n, int64_t d) {
    double total = 0;
    for (int64_t j = 0; j < d; j++) {
        double s = 0, s2 = 0;
        for (int64_t i = 0; i < n; i++) {
            double v = x[i * d + j];
            s += v;
            s2 += v * v;
        }
        total += fmax(s2 / (double)n - (s / (double)n) * (s / (double)n), 0);
    }
    return total / (double)d;
}

int gt_health_diversity(gt_health *h, int64_t step, const float *samples, int64_t n,
                        const float *data, int64_t m, int64_t d, char *msg, size_t cap) {
    if (step < GT_HEALTH_DIVERSITY_FROM) return 0;
    double s = spread(samples, n, d), r = spread(data, m, d);
    if (!(s < GT_HEALTH_DIVERSITY * r) || !may_warn(h, GT_WARN_DIVERSITY, step)) return 0;
    snprintf(msg, cap, "sample diversity collapsed: the spread of a fixed batch of samples is "
             "%.3g, %.1f%% of the data's %.3g (mode collapse); try minibatch standard deviation, "
             "unrolled D steps, a lower optim.g.lr or more train.d_steps", s, 100 * s / r, r);
    return 1;
}
