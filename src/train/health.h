/* Training health: stops when gradient norms stay above a bound (health.grad_norm_max), and
 * warnings when D overpowers G (its accuracy on the worse of reals and fakes
 * averages 95% or more over the last 200 steps), when a gradient norm explodes against its recent level, and
 * when sample diversity collapses (the spread of a fixed batch of samples falls far below the
 * data's). Each warning says what to try; each kind is repeated at most every 1,000 steps. */
#ifndef GT_TRAIN_HEALTH_H
#define GT_TRAIN_HEALTH_H

#include "train/trainer.h"

#define GT_HEALTH_D_WINDOW 200       /* steps over which D's accuracy is averaged */
#define GT_HEALTH_D_ACCURACY 0.95    /* average accuracy on the worse of reals and fakes */
#define GT_HEALTH_GRAD_FACTOR 100.0  /* a norm this many times its running level */
#define GT_HEALTH_DIVERSITY 0.1      /* sample spread below this share of the data's */
#define GT_HEALTH_DIVERSITY_FROM 500 /* early samples are alike anyway: check from this step */
#define GT_HEALTH_REPEAT 1000        /* steps before a kind of warning may repeat */

typedef enum { GT_WARN_D_STRONG, GT_WARN_D_GRAD, GT_WARN_G_GRAD, GT_WARN_DIVERSITY, GT_WARN_KINDS } gt_warn_kind;

typedef struct gt_health {
    double d_acc[GT_HEALTH_D_WINDOW];   /* min(accuracy on reals, on fakes) of the last steps */
    double d_acc_sum;                   /* their sum */
    double log_norm[2];                 /* running mean of log gradient norms (D, G) */
    int64_t seen;                       /* steps observed */
    int64_t last_warned[GT_WARN_KINDS]; /* step of the last warning of each kind, or -1 */
    int64_t above[2];                   /* consecutive steps with D's, G's norm above the bound */
} gt_health;

void gt_health_init(gt_health *h);
/* Looks at one step's statistics; writes at most one warning into msg and returns 1 then. */
int gt_health_step(gt_health *h, int64_t step, const gt_step_stats *st, char *msg, size_t cap);
/* The stop for exploded gradients: 1 with a message (and advice) when D's or G's gradient norm
 * was above `bound` (or not a number) in each of the last `window` steps; bound 0: never. */
int gt_health_grad_stop(gt_health *h, const gt_step_stats *st, double bound, int64_t window,
                        char *msg, size_t cap);
/* Compares the spread of samples [n, d] with the data's [m, d] (mean over dimensions of the
 * variance across examples); writes a warning and returns 1 when it collapsed (from step
 * GT_HEALTH_DIVERSITY_FROM on). */
int gt_health_diversity(gt_health *h, int64_t step, const float *samples, int64_t n,
                        const float *data, int64_t m, int64_t d, char *msg, size_t cap);

#endif
