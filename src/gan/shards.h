/* Private to src/gan: gradient accumulation over micro-batches (shards) of a step. */
#ifndef GT_GAN_SHARDS_H
#define GT_GAN_SHARDS_H

#include "gan/gan.h"

/* The sharded forms of gt_gan_d_step, gt_gan_g_step and gt_gan_pl_step (gan->accumulate > 1,
 * or ranks). */
gt_tensor *gt_gan_d_step_sharded_(gt_gan *gan, int64_t t, int64_t d_iter, gt_tensor *real,
                                  gt_tensor *z, gt_step_stats *st);
void gt_gan_g_step_sharded_(gt_gan *gan, int64_t t, gt_tensor *fake, gt_tensor *real,
                            gt_step_stats *st);
bool gt_gan_pl_step_sharded_(gt_gan *gan, gt_tensor *z, gt_step_stats *st);

/* Shared with step.c. gt_gan_write_grads_: gt_gan_grads_into without the norm (a shard's
 * gradient norm is never read: the update's is taken from the combined gradient). */
void gt_gan_write_grads_(gt_params *p, gt_tensor *loss);
gt_tensor *gt_critic_d_loss_(gt_gan *gan, int k, gt_tensor *real, gt_tensor *fake,
                             const gt_d_draws *dr, double fused_scale, gt_step_stats *st,
                             gt_tensor **d_real, gt_tensor **d_fake);
bool gt_gan_apply_(gt_optim *opt, double loss, double norm);
/* The test hook of gt_gan_set_update_hook, when one is set. */
void gt_gan_update_hook_(gt_optim *opt, double *loss);
void gt_gan_logit_stats_(gt_tensor *d_real, gt_tensor *d_fake, gt_step_stats *st);
bool gt_gan_needs_real_(const gt_loss_spec *L);
/* After a D step over `batch` samples: ADA's adjustment from critic 0's accuracy on reals. */
void gt_gan_observe_(gt_gan *gan, int64_t batch, const gt_step_stats *st);
/* Path length: the weighted loss of latents z, rows [first, first + N) of a batch of total
 * (0: z is the batch), its penalty's value and the running mean it moves; then the update, if
 * every value is finite. */
gt_tensor *gt_gan_pl_loss_(gt_gan *gan, gt_tensor *z, int64_t first, int64_t total,
                          double *mean_io, double *penalty);
bool gt_gan_pl_update_(gt_gan *gan, double penalty, double norm, double mean);
/* The critic's samples per pack (1 when packing is off). */
int gt_critic_pack_(const gt_critic *c);

#endif
