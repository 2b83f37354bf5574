/* Learning-rate schedules: the lr of update t is cfg->lr times a multiplier, constant 1, linear
 * 1 - t/T, or cosine 0.5 (1 + cos(pi t/T)), with t clamped to T so both end at 0. */
#include <math.h>

#include "base/base.h"
#include "optim/internal.h"


static double schedule_multiplier(gt_schedule s, int64_t t, int64_t total) {
    if (s == GT_SCHEDULE_CONSTANT) return 1.0;
    double frac = t >= total ? 1.0 : (double)t / (double)total;
    if (s == GT_SCHEDULE_LINEAR) return 1.0 - frac;
    return 0.5 * (1.0 + cos(GT_PI * frac));
}

double gt_optim_lr_at_(const gt_optim_cfg *cfg, int64_t step) {
    return cfg->lr * schedule_multiplier(cfg->schedule, step, cfg->total_steps);
}

double gt_optim_lr(const gt_optim *o) { return gt_optim_lr_at_(&o->cfg, o->step); }
