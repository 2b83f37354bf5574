/* GAN losses and the adversarial training step. A loss is a pair of functions from D's logits
 * to the D and G objectives; the step runs D updates on real and fake batches, then a G update,
 * taking gradients only with respect to the network being updated (gt_grad prunes the rest). */
#ifndef GT_GAN_H
#define GT_GAN_H

#include "nn/model.h"
#include "optim/optim.h"

/* D's and G's objectives from logits d_real [N, 1] and d_fake [N, 1]; each returns a scalar. */
typedef struct gt_loss {
    const char *name;
    gt_tensor *(*d_loss)(gt_tensor *d_real, gt_tensor *d_fake);
    gt_tensor *(*g_loss)(gt_tensor *d_fake, gt_tensor *d_real);
} gt_loss;

const gt_loss *gt_loss_find(const char *name);  /* NULL if unknown */
const char *gt_loss_names(void);

/* BCE with logits against target t: t sp(-d) + (1 - t) sp(d), averaged. */
gt_tensor *gt_bce_with_logits(gt_tensor *d, float target);

typedef struct gt_gan {
    gt_model *g, *d;
    gt_optim *opt_g, *opt_d;
    const gt_loss *loss;
} gt_gan;

typedef struct gt_step_stats {
    double d_loss, g_loss;
    double d_grad_norm, g_grad_norm;  /* L2 norms of the last update's gradients */
    double d_real_mean, d_fake_mean;  /* mean logits, for health checks */
    double d_acc_real, d_acc_fake;    /* share of reals with logit > 0, of fakes with logit < 0 */
    bool nonfinite;                   /* a loss or gradient was NaN or infinite: no update made */
} gt_step_stats;

/* One D update: D(real) and D(G(z)) with G's output detached; G runs in training mode (its
 * batch-norm statistics update, as in PyTorch's DCGAN example). Returns the fake batch, still
 * recorded on the tape, for a G update that reuses it. A non-finite loss or gradient skips the
 * update and sets st->nonfinite (the same holds for the G update). */
gt_tensor *gt_gan_d_step(gt_gan *gan, gt_tensor *real, gt_tensor *z, gt_step_stats *st);
/* One G update through D(fake), where fake = G(z) from gt_gan_d_step (or any G output). */
void gt_gan_g_step(gt_gan *gan, gt_tensor *fake, gt_tensor *d_real_logits, gt_step_stats *st);

#endif
