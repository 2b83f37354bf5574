/* GAN objectives and the adversarial training step, with the loss and penalty tricks of
 * tricks.md (sections 1, 2, 4, 5, 7, 8, 12, 13) as switches that combine freely:
 *
 *   losses     bce (non-saturating), minimax, least squares, hinge, Wasserstein (+ drift),
 *              relativistic average and paired, D2GAN; D's targets fixed or random, with flips
 *   penalties  WGAN-GP, DRAGAN, R1, R2, several at once, every step or lazily every k steps,
 *              weights optionally decayed by a cosine (R3GAN)
 *   noise      instance noise on every input D sees, annealed to zero
 *   G's loss   adversarial, feature matching, or both
 *   critics    one or two discriminators (D2GAN, or a full- and a half-resolution view), each with
 *              its own network and optimizer; their losses are summed
 *
 * The random draws an update uses (targets, noise, interpolation weights) are drawn by the step
 * from the GAN's own generator; the objectives take them as arguments, so tests can supply the
 * same draws as a PyTorch reference. Gradients are taken with respect to the updated network
 * only (gt_grad prunes the other). */
#ifndef GT_GAN_H
#define GT_GAN_H

#include "gan/augment.h"
#include "nn/model.h"
#include "optim/optim.h"

/* ---- Specifications -------------------------------------------------------------------------- */

typedef struct gt_loss_kind gt_loss_kind;

typedef enum { GT_FM_NONE, GT_FM_L1, GT_FM_L2 } gt_fm_kind;

typedef struct gt_loss_spec {
    const gt_loss_kind *kind;     /* an entry of the loss registry (losses.def) */
    double drift;                 /* D's loss += drift E d(x)^2 (ProGAN: 0.001); 0: off */
    double d2gan_alpha, d2gan_beta;
    /* G's loss: adversarial (unless !adversarial) + fm_weight * feature matching, where feature
     * matching on D's penultimate features f is mean |E f(x) - E f(x~)| (L1, Salimans' code) or
     * sum (E f(x) - E f(x~))^2 (L2, the paper), E over the batch; summed over the critics. */
    gt_fm_kind fm;
    double fm_weight;
    bool adversarial;
} gt_loss_spec;

/* D's targets for reals (a) and fakes (b) in the bce, minimax and lsgan losses. */
typedef struct gt_label_spec {
    bool uniform;                 /* random targets, per sample and step, from the ranges */
    double real, fake;            /* fixed: two-sided smoothing 0.9 / 0.1, one-sided 0.9 / 0 */
    double real_lo, real_hi, fake_lo, fake_hi; /* uniform: ganhacks [0.7, 1.2] / [0, 0.3] */
    double flip;                  /* share of samples whose real and fake targets swap */
} gt_label_spec;

typedef enum { GT_DECAY_NONE, GT_DECAY_COSINE } gt_decay;

/* Penalties on D, weights 0 when off. D's loss += gp GP + dragan DRAGAN + r1/2 R1 + r2/2 R2. */
typedef struct gt_penalty_spec {
    double gp, dragan, r1, r2;
    bool gp_one_sided;            /* max(0, ||g|| - 1)^2 instead of (||g|| - 1)^2 */
    double gp_center;             /* the target norm (1) */
    double dragan_c;              /* reals perturbed by c std(x) u, u ~ U[0, 1) (0.5) */
    int64_t every;                /* lazy: a separate update every k D iterations with weight k */
    gt_decay decay;               /* cosine from the weight to floor * weight over decay_steps */
    int64_t decay_steps;
    double decay_floor;
} gt_penalty_spec;

typedef enum { GT_ANNEAL_NONE, GT_ANNEAL_LINEAR, GT_ANNEAL_EXPONENTIAL } gt_anneal;

/* Instance noise: N(0, s_t^2) added to every input D sees, on a share `fraction` of samples. */
typedef struct gt_noise_spec {
    double sigma;                 /* s_0; 0: off */
    gt_anneal anneal;             /* none: s_0; linear: s_0 max(0, 1 - t/T); exponential:
                                     s_0 100^(-t/T) for t < T, then 0 */
    int64_t steps;                /* T, in G steps */
    double fraction;
} gt_noise_spec;

/* Unrolled GANs (Metz et al. 2017): G's loss is taken against D after K more updates of D's
 * own optimizer rule, written in ops on copies of D's weights in the step's graph. exact:
 * G's gradient flows through the K updates (a gradient of gradients); surrogate: the first-order
 * variant, the updates' gradients are constants. D itself then takes only its normal step. */
typedef enum { GT_UNROLL_EXACT, GT_UNROLL_SURROGATE } gt_unroll_mode;
typedef struct gt_unroll_spec {
    int steps;                    /* K; 0: off */
    gt_unroll_mode mode;
    /* a fresh real batch for each unrolled update (from next_real, which sets *labels to its
     * class labels, NULL when unconditional); otherwise G's real batch */
    gt_tensor *(*next_real)(void *ctx, const int32_t **labels);
    void *next_real_ctx;          /* NULL next_real: always G's real batch */
} gt_unroll_spec;

/* Path length regularization (Karras et al. 2020, StyleGAN2; tricks.md section 6), for G's of a
 * style-based family: a separate G update every `every` G steps on batch / batch_shrink latents,
 * loss weight * every * E (l - a)^2 (src/gan/path_length.c). */
typedef struct gt_pl_spec {
    double weight;                /* 0: off (StyleGAN2: 2) */
    double decay;                 /* a <- a + decay (E l - a) (0.01) */
    int64_t every;                /* lazy interval k (4); G's Adam is corrected as D's */
    int64_t batch_shrink;         /* latents per update: batch / batch_shrink (2) */
} gt_pl_spec;

/* The instance-noise sigma and the penalty weight multiplier at G step t. */
double gt_noise_sigma(const gt_noise_spec *s, int64_t t);
double gt_penalty_decay(const gt_penalty_spec *s, int64_t t);
bool gt_penalty_any(const gt_penalty_spec *s);

/* ---- The GAN ---------------------------------------------------------------------------------- */

#define GT_MAX_CRITICS 2

/* Packing (Lin et al. 2018, PacGAN; model.d.pack): D judges packs of m samples, m consecutive
 * samples of a batch joined on the channel axis (gt_pack_samples), so a batch of N reals or
 * fakes gives N / m logits. Everything per "sample" of D is then per pack: D's targets, label
 * flips, the WGAN-GP and DRAGAN interpolation weights (one per pack: interpolates of whole
 * packs), the penalties' gradient norms (over the whole pack), R1 / R2's mean, the relativistic
 * pairing and the minibatch std groups. Instance noise stays per sample. All critics of a GAN
 * share one pack size (gt_gan_check). */
typedef struct gt_critic {
    gt_model *net;
    gt_optim *opt;
    bool half_view;               /* D sees its input box-downsampled by 2 */
    int pack;                     /* samples per pack m (0 or 1: off) */
} gt_critic;

typedef struct gt_gan {
    gt_model *g;
    gt_optim *opt_g;
    int n_critics;
    gt_critic critic[GT_MAX_CRITICS];
    gt_loss_spec loss;
    gt_label_spec labels;
    gt_penalty_spec penalty;
    gt_noise_spec noise;
    gt_unroll_spec unroll;
    gt_pl_spec pl;
    gt_augment_spec augment;      /* what D sees is augmented (DiffAugment, ADA); ADA's p moves */
    double pl_mean;               /* path length regularization's running mean a (checkpointed) */
    gt_rng rng;                   /* targets, noise and penalty draws (checkpointed) */
    /* Class-conditional training: the labels [N] of the current real batch and of the fakes,
     * set by the caller before gt_gan_d_step / gt_gan_g_step (NULL: unconditional). Every G and
     * D forward of the step reads them through gt_fwd.labels: G(z) the fake labels; D the real
     * labels on reals, the fake labels on fakes; WGAN-GP's interpolates and DRAGAN's perturbed
     * reals the real labels (the gradient is taken w.r.t. the image only). */
    const int32_t *real_labels, *fake_labels;
    /* Gradient accumulation (train.accumulate): each update runs over this many equal
     * micro-batches (shards) of the batch, one after the other. Each shard normalizes with its
     * own batch statistics and takes its own penalties; the gradients are added in shard order
     * and scaled by 1 / accumulate; every network's buffers start each shard from the same
     * values and end the update at the shards' mean (exactly the value where all shards agree,
     * as spectral norm's u does). 1: the whole batch at once. */
    int accumulate;
    /* Data-parallel ranks (NULL: one process): each update's shards are the ranks', this
     * process computes shard comm->rank (accumulate must be 1) and the shards' gradients,
     * buffers and losses are gathered and combined in rank order, so that K ranks compute what
     * one process with accumulate = K does, to the bit. A failed exchange stops the step
     * (gt_step_stats.comm_failed, the message in comm_error). */
    const gt_comm *comm;
    /* Synchronized batch norm (train.sync_bn): the sharded steps run with comm as the context's
     * ranks (gt_ranks_use), so batch norm in training takes the whole batch's statistics. */
    bool sync_bn;
    gt_error comm_error;
} gt_gan;

/* The plain GAN: non-saturating BCE, targets 1 and 0, no penalty, no noise, one critic. */
void gt_gan_init(gt_gan *gan, gt_model *g, gt_optim *opt_g, gt_model *d, gt_optim *opt_d,
                 uint64_t seed);
/* Checks the combination (D2GAN needs two critics, lsgan/bce targets...): -1 with err set. */
int gt_gan_check(const gt_gan *gan, gt_error *err);

/* D(x) through the critic's view (half view, then packs): logits [N / pack, 1], and the
 * penultimate features when asked. */
gt_tensor *gt_critic_forward(const gt_critic *c, const gt_fwd *f, gt_tensor *x, gt_tensor **features);

/* ---- Objectives -------------------------------------------------------------------------------- */

/* Everything random in one D update. Shapes: targets [N / pack, 1] (one per logit); noise like
 * the batch (already scaled and masked; NULL when off); gp_eps and dragan_a [N, 1, ..]
 * (U[0, 1), one draw per pack shared by its samples); dragan_u like the batch (U[0, 1)); the
 * augmentations' parameters of reals and fakes (per sample: packs are made after
 * augmentation). Unused entries are NULL. */
typedef struct gt_d_draws {
    gt_tensor *real_target, *fake_target;
    gt_tensor *real_noise, *fake_noise;
    gt_tensor *gp_eps, *dragan_u, *dragan_a;
    gt_augment_draws aug_real, aug_fake;
} gt_d_draws;
/* Everything random in one G update: instance noise and augmentation of the fakes, and of the
 * reals when the loss reads them (relativistic losses, feature matching). */
typedef struct gt_g_draws {
    gt_tensor *fake_noise, *real_noise;
    gt_augment_draws aug_fake, aug_real;
} gt_g_draws;
/* Draws what the GAN's tricks need for a batch of this shape at G step t. */
void gt_gan_draw_d(gt_gan *gan, int64_t t, int ndim, const int64_t *shape, gt_d_draws *dr);
/* The G update's draws for a batch of fakes of this shape and (when the loss reads them) the
 * reals. */
void gt_gan_draw_g(gt_gan *gan, int64_t t, int ndim, const int64_t *fake_shape,
                   const gt_tensor *real, gt_g_draws *dr);
/* Instance noise for one batch at G step t (NULL when off). */
gt_tensor *gt_gan_draw_noise(gt_gan *gan, int64_t t, int ndim, const int64_t *shape);

/* x + noise, or x when noise is NULL. */
gt_tensor *gt_add_noise(gt_tensor *x, gt_tensor *noise);
/* What D sees of a batch x: x + noise, augmented with aug (the GAN's policy; aug.u NULL: not). */
gt_tensor *gt_gan_d_view(const gt_gan *gan, gt_tensor *x, gt_tensor *noise, gt_augment_draws aug);

/* Critic k's D loss (its entry's term, plus the drift when on) from logits d_real, d_fake
 * [N, 1] and targets (read by the losses that use them). */
gt_tensor *gt_loss_d(const gt_loss_spec *L, int k, gt_tensor *d_real, gt_tensor *d_fake,
                     gt_tensor *real_target, gt_tensor *fake_target);
/* G's adversarial term against critic k (d_real is used by the relativistic losses only). */
gt_tensor *gt_loss_g(const gt_loss_spec *L, int k, gt_tensor *d_fake, gt_tensor *d_real);
/* Feature matching between real features [N, F] (constants) and fake features [N, F]. */
gt_tensor *gt_feature_matching(gt_fm_kind kind, gt_tensor *f_real, gt_tensor *f_fake);
/* BCE with logits d against targets t (a tensor broadcast to d, or NULL for the scalar): mean of
 * t sp(-d) + (1 - t) sp(d). */
gt_tensor *gt_bce_with_logits(gt_tensor *d, gt_tensor *t, float scalar_target);

/* The penalties of critic k on inputs real and fake (as D sees them: noise included), each
 * weighted, times `scale` (decay and laziness); NULL when no penalty is on. When parts is not
 * NULL it receives the unweighted GP, DRAGAN, R1, R2 values (0 when off). */
gt_tensor *gt_d_penalty(const gt_gan *gan, int k, gt_tensor *real, gt_tensor *fake,
                        const gt_d_draws *dr, double scale, double parts[4]);
/* Per-sample (per-pack when packing) squared L2 norm of d(sum D(x))/dx at x (a leaf made here),
 * kept differentiable: [N / pack]. The core of every gradient penalty. */
gt_tensor *gt_critic_grad_sq_norm(const gt_critic *c, const gt_fwd *f, gt_tensor *x);

/* ---- Updates ----------------------------------------------------------------------------------- */

/* Gradients of loss w.r.t. every trainable of p, written into p->grad (the optimizers' input);
 * returns their L2 norm. */
double gt_gan_grads_into(gt_params *p, gt_tensor *loss);

typedef struct gt_step_stats {
    double d_loss, g_loss;            /* summed over critics; d_loss includes penalties */
    double penalty;                   /* the weighted penalties in the last D update */
    double noise_sigma;
    double d_grad_norm, g_grad_norm;  /* L2 norms of the last update's gradients (critic 0) */
    double d_real_mean, d_fake_mean;  /* critic 0's mean logits, for health checks */
    double d_acc_real, d_acc_fake;    /* share of reals with logit > 0, of fakes with logit < 0 */
    bool nonfinite;                   /* a loss or gradient was NaN or infinite: no update made */
    bool comm_failed;                 /* a data-parallel exchange failed (gan->comm_error) */
    double pl_penalty;                /* the last path length penalty E (l - a)^2, unweighted */
} gt_step_stats;

/* One D update of every critic on real and G(z), at G step t and D iteration d_iter (lazy
 * penalties run when d_iter is a multiple of penalty.every). G runs in training mode (its
 * batch-norm statistics update, as in PyTorch's DCGAN example). Returns the fake batch, still
 * recorded on the tape, for the G update. A non-finite loss or gradient skips the update and
 * sets st->nonfinite (the same holds for the G update). */
gt_tensor *gt_gan_d_step(gt_gan *gan, int64_t t, int64_t d_iter, gt_tensor *real, gt_tensor *z,
                         gt_step_stats *st);
/* G's objective on fake = G(z) (and real, needed by relativistic losses and feature matching;
 * otherwise may be NULL), both as the critics see them. */
gt_tensor *gt_g_objective(const gt_gan *gan, gt_tensor *fake, gt_tensor *real);
/* The same against critics read through fwds[k] (stand-in weights; NULL: the critic's own). */
gt_tensor *gt_g_objective_with(const gt_gan *gan, gt_tensor *fake, gt_tensor *real,
                               const gt_fwd *const *fwds);
/* Critic k's weights after gan->unroll.steps differentiable updates of its optimizer on
 * (real batches, fake) from its current weights and moments: a forward context over step-arena
 * tensors (buffers copied, so running statistics of the live network do not move). With the
 * exact mode the tensors depend on fake through every update. Instance noise and D's targets
 * are drawn as in a D update; penalties are not part of the unrolled loss. */
gt_fwd gt_unroll_critic(gt_gan *gan, int k, int64_t t, gt_tensor *real, gt_tensor *fake);
/* G's unrolled objective: each critic unrolled, then gt_g_objective_with against them, on fake
 * and real as given (gt_gan_g_step adds instance noise to G's final term itself). */
gt_tensor *gt_g_objective_unrolled(gt_gan *gan, int64_t t, gt_tensor *fake, gt_tensor *real);
/* One G update through the critics, at G step t. */
void gt_gan_g_step(gt_gan *gan, int64_t t, gt_tensor *fake, gt_tensor *real, gt_step_stats *st);

/* Fault injection for tests: every update of this thread calls the hook before its finiteness
 * check, with the optimizer (opt->cfg.name says whose, opt->step how many updates it made) and
 * the loss the update follows. The hook may make *loss non-finite (a diverged loss), or write
 * non-finite values into opt->params->flat_grad (a diverged update: the loss stays finite, the
 * weights do not). NULL: none. */
typedef void (*gt_update_hook)(void *ctx, gt_optim *opt, double *loss);
void gt_gan_set_update_hook(gt_update_hook hook, void *ctx);

/* ---- Path length regularization (path_length.c) ---- */
/* G's synthesis at ws [N, num_ws, w_dim] (read through f) against y [N, c, h, w] (the draw
 * N(0, I) / sqrt(h w)): g = d sum(G(ws) y) / d ws (create_graph), lengths l [N] =
 * sqrt(mean over style layers of sum over w_dim of g^2); *mean_io (a) becomes a + decay (E l - a)
 * and the result is E (l - a)^2 with that new a, recorded for G's update (unweighted). */
gt_tensor *gt_path_length_penalty(const gt_model *g, const gt_fwd *f, gt_tensor *ws, gt_tensor *y,
                                  double decay, double *mean_io);
/* Whether G step t runs the lazy path length update (weight > 0 and t a multiple of every). */
bool gt_gan_pl_due(const gt_gan *gan, int64_t t);
/* The path length update of G on latents z (ws from G's training mapping, y drawn from the
 * GAN's generator), with weight * every; gan->pl_mean advances when the update is made. */
bool gt_gan_pl_step(gt_gan *gan, gt_tensor *z, gt_step_stats *st);

/* ---- The loss registry -------------------------------------------------------------------- */

/* One GAN loss: its name in `loss.type`, its terms, and what the step asks of it. Adding a loss
 * is its entry (with its two functions) plus its line in src/gan/losses.def. */
struct gt_loss_kind {
    const char *name;
    /* Critic k's adversarial D loss from logits [N, 1]; rt, ft: D's targets for reals and fakes
     * (NULL: the scalars 1 and 0), read only when uses_targets. */
    gt_tensor *(*d)(const gt_loss_spec *L, int k, gt_tensor *d_real, gt_tensor *d_fake,
                    gt_tensor *rt, gt_tensor *ft);
    /* G's adversarial term against critic k; d_real only when relativistic. */
    gt_tensor *(*g)(const gt_loss_spec *L, int k, gt_tensor *d_fake, gt_tensor *d_real);
    bool uses_targets;  /* reads D's targets: loss.labels, label smoothing and flips apply */
    bool relativistic;  /* G's term compares against D(real), so the G step runs D on reals */
    bool two_critics;   /* needs exactly two discriminators (model.d2) */
};

#define GT_LOSS(name) extern const gt_loss_kind gt_loss_##name;
#include "gan/losses.def"
#undef GT_LOSS

/* The entry named `name`, or NULL. */
const gt_loss_kind *gt_loss_find(const char *name);
/* The registered names, '|'-separated in registry order ("bce|minimax|..."), for the
 * configuration's allowed values of loss.type. */
const char *gt_loss_names(void);
/* The names of the losses that read D's targets, as prose ("bce, minimax and lsgan"). */
const char *gt_loss_target_names(void);

#endif
