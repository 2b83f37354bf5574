/* The overfitting monitor (data.holdout): D's outputs on training reals, on held-out reals it
 * never trained on, and on fakes. A D that memorizes its training images scores them above
 * unseen ones from the same distribution; the gap, as a share of D's real-versus-fake margin,
 * is the warning sign (Karras et al. 2020, Fig. 1: the held-out curve falls towards the fakes'). */
#ifndef GT_TRAIN_MONITOR_H
#define GT_TRAIN_MONITOR_H

#include <stdbool.h>
#include <stddef.h>

/* Examples of each kind D is shown per reading (fewer when the held-out set is smaller). */
#define GT_MONITOR_EXAMPLES 256

typedef struct gt_overfit {
    bool valid;                                 /* a reading was taken */
    double d_train, d_holdout, d_fake;          /* D's mean logit */
    double acc_train, acc_holdout, acc_fake;    /* reals with D > 0, fakes with D < 0 */
    /* (d_train - d_holdout) / (d_train - d_fake): 0 when D scores unseen reals as it scores its
     * training reals, 1 when it scores them as fakes; 0 when D does not rank reals above fakes */
    double separation;
} gt_overfit;

struct gt_trainer;
/* A reading of D (critic 0, in training mode, on un-augmented inputs) on the first
 * GT_MONITOR_EXAMPLES training and held-out examples and as many samples of G; the trainer's
 * state (buffers, generators) is left as it was. No reading (valid false) without a held-out
 * set, or while growing progressively. */
void gt_trainer_monitor(struct gt_trainer *t, gt_overfit *out);
/* Whether the reading crosses the warning threshold (data.overfit_warn); msg says what it means
 * and what to try. */
bool gt_overfit_warning(const gt_overfit *o, double threshold, char *msg, size_t cap);

#endif
