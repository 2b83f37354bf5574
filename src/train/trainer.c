/* Building and stepping a GAN run from its configuration. */
#include "train/trainer.h"
#include "train/registries.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine.h"
#include "data/registry.h"
#include "nn/stylegan2.h"
#include "train/snapshot.h"

uint64_t gt_seed_stream(uint64_t seed, uint64_t stream) {
    /* splitmix64 of (seed, stream): distinct, well-mixed Philox keys */
    uint64_t z = seed * 0x9E3779B97F4A7C15ull + stream * 0xD1B54A32D192ED03ull + 1;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* The training split of data.dataset (validated against the registry by the configuration). */
static gt_dataset *load_data(const gt_config *c, gt_error *err) {
    const gt_dataset_kind *k = gt_dataset_kind_find(c->data_dataset);
    if (!k) {
        gt_error_set(err, "config: data.dataset = %s unknown (allowed: %s)", c->data_dataset,
                      gt_dataset_kind_names());
        return NULL;
    }
    return k->load_train(c, gt_seed_stream((uint64_t)c->train_seed, GT_STREAM_DATA), err);
}

void gt_config_example_shape(const gt_config *cfg, int *c, int *h, int *w) {
    const gt_dataset_kind *k = gt_dataset_kind_find(cfg->data_dataset);
    if (k) {
        k->shape(cfg, c, h, w);
    } else { /* unknown data fails when loaded; the networks still get a shape */
        gt_data_idx_shape(cfg, c, h, w);
    }
}

/* The loaded data must have the shape the configuration implies (checkpoints rely on it). */
static int set_accumulation(gt_trainer *t, gt_error *err);
static int setup_augment(gt_trainer *t, gt_error *err);

static int check_data_shape(const gt_trainer *t, gt_error *err) {
    const gt_dataset *ds = t->data;
    if (ds->c == t->c && ds->h == t->h && ds->w == t->w) return 0;
    return gt_error_set(err, "data %s: examples are %dx%dx%d, the configuration implies %dx%dx%d "
                             "(IDX data: 28x28 single-channel images, padded to 32x32 with data.resolution = 32)",
                        ds->name, ds->c, ds->h, ds->w, t->c, t->h, t->w);
}

static gt_net_spec net_spec(const gt_config *c, const gt_trainer *ds, gt_role role) {
    bool g = role == GT_ROLE_GENERATOR;
    /* D sees packs: d_pack samples on the channel axis, train.batch / d_pack of them */
    gt_net_spec s = {.role = role, .z_dim = c->g_z_dim, .width = g ? c->g_width : c->d_width,
                     .depth = g ? c->g_depth : c->d_depth,
                     .init_std = g ? c->g_init_std : c->d_init_std,
                     .c = g ? ds->c : ds->c * (int)c->d_pack, .h = ds->h, .w = ds->w,
                     .spectral_norm = g ? c->g_spectral_norm : c->d_spectral_norm,
                     .sn_iterations = (int)(g ? c->g_sn_iterations : c->d_sn_iterations),
                     .mbstd_group = g ? 0 : (int)c->d_mbstd_group,
                     .mbstd_channels = (int)c->d_mbstd_channels,
                     .maxout_pieces = g ? 0 : (int)c->d_maxout_pieces,
                     .no_hidden_bias = g && !c->g_hidden_bias,
                     .mbdisc_kernels = g ? 0 : (int)c->d_minibatch_discrimination,
                     .mbdisc_dim = (int)c->d_minibatch_discrimination_dim,
                     .batch = g ? c->train_batch : c->train_batch / c->d_pack,
                     .vbn_ref = g ? (int)c->g_vbn_ref : 0,
                     .attention = (int)(g ? c->g_attention : c->d_attention),
                     .n_classes = ds->n_classes};
    snprintf(s.section, sizeof s.section, "%s", g ? "model.g" : "model.d");
    snprintf(s.family, sizeof s.family, "%s", g ? c->g_family : c->d_family);
    snprintf(s.activation, sizeof s.activation, "%s", g ? c->g_activation : c->d_activation);
    snprintf(s.norm, sizeof s.norm, "%s", g ? c->g_norm : c->d_norm);
    snprintf(s.init, sizeof s.init, "%s", g ? c->g_init : c->d_init);
    return s;
}

/* The second discriminator; a half view sees images of half the side. */
static gt_net_spec d2_spec(const gt_config *c, const gt_trainer *ds) {
    bool half = strcmp(c->d2_view, "half") == 0 && ds->h > 1;
    gt_net_spec s = {.role = GT_ROLE_DISCRIMINATOR, .width = c->d2_width, .depth = c->d2_depth,
                     .init_std = c->d2_init_std, .c = ds->c * (int)c->d_pack,
                     .h = half ? ds->h / 2 : ds->h,
                     .w = half ? ds->w / 2 : ds->w, .spectral_norm = c->d2_spectral_norm,
                     .sn_iterations = (int)c->d2_sn_iterations, .mbstd_group = (int)c->d2_mbstd_group,
                     .mbstd_channels = (int)c->d2_mbstd_channels,
                     .mbdisc_kernels = (int)c->d2_minibatch_discrimination,
                     .mbdisc_dim = (int)c->d2_minibatch_discrimination_dim,
                     .batch = c->train_batch / c->d_pack,
                     .n_classes = ds->n_classes};
    snprintf(s.section, sizeof s.section, "%s", "model.d2");
    snprintf(s.family, sizeof s.family, "%s", c->d2_family);
    snprintf(s.activation, sizeof s.activation, "%s", c->d2_activation);
    snprintf(s.norm, sizeof s.norm, "%s", c->d2_norm);
    snprintf(s.init, sizeof s.init, "%s", c->d2_init);
    return s;
}

typedef enum { NET_G, NET_D, NET_D2 } net_id;

static gt_optim_cfg optim_cfg(const gt_config *c, net_id n) {
#define PICK(key) (n == NET_G ? c->opt_g_##key : n == NET_D ? c->opt_d_##key : c->opt_d2_##key)
    const char *type = PICK(type), *sched = PICK(schedule);
    gt_optim_cfg o = {
        .type = strcmp(type, "sgd") == 0 ? GT_OPTIM_SGD : GT_OPTIM_ADAM,
        .lr = PICK(lr), .beta1 = PICK(beta1), .beta2 = PICK(beta2), .eps = PICK(eps),
        .weight_decay = PICK(weight_decay), .momentum = PICK(momentum),
        .schedule = strcmp(sched, "linear") == 0   ? GT_SCHEDULE_LINEAR
                    : strcmp(sched, "cosine") == 0 ? GT_SCHEDULE_COSINE
                                                   : GT_SCHEDULE_CONSTANT,
        /* D takes d_steps updates per G step; both schedules span the run */
        .total_steps = c->train_steps * (n == NET_G ? 1 : c->train_d_steps),
        .name = n == NET_G ? "G" : n == NET_D ? "D" : "D2",
    };
#undef PICK
    bool lazy = n != NET_G && c->pen_every > 1 &&
                (c->pen_gp > 0 || c->pen_dragan > 0 || c->pen_r1 > 0 || c->pen_r2 > 0);
    if (lazy) { /* k main updates and one penalty update per k iterations (StyleGAN2) */
        double ratio = (double)c->pen_every / (double)(c->pen_every + 1);
        o.lr *= ratio;
        o.beta1 = pow(o.beta1, ratio);
        o.beta2 = pow(o.beta2, ratio);
        o.total_steps += o.total_steps / c->pen_every;
    }
    if (n == NET_G && c->pl_weight > 0 && c->pl_every > 1) { /* lazy path length: the same */
        double ratio = (double)c->pl_every / (double)(c->pl_every + 1);
        o.lr *= ratio;
        o.beta1 = pow(o.beta1, ratio);
        o.beta2 = pow(o.beta2, ratio);
        o.total_steps += o.total_steps / c->pl_every;
    }
    return o;
}

/* The tricks of the [loss], [penalty] and [noise] sections. */
static void configure_tricks(gt_gan *gan, const gt_config *c) {
    gan->loss.kind = gt_loss_find(c->loss_type);
    gan->loss.drift = c->loss_drift;
    gan->loss.d2gan_alpha = c->loss_d2gan_alpha;
    gan->loss.d2gan_beta = c->loss_d2gan_beta;
    gan->loss.fm = strcmp(c->loss_feature_matching, "l1") == 0   ? GT_FM_L1
                   : strcmp(c->loss_feature_matching, "l2") == 0 ? GT_FM_L2
                                                                 : GT_FM_NONE;
    gan->loss.fm_weight = c->loss_feature_matching_weight;
    gan->loss.adversarial = c->loss_adversarial;
    gan->labels = (gt_label_spec){.uniform = strcmp(c->loss_labels, "uniform") == 0,
                                  .real = c->loss_real_label, .fake = c->loss_fake_label,
                                  .real_lo = c->loss_real_label_min, .real_hi = c->loss_real_label_max,
                                  .fake_lo = c->loss_fake_label_min, .fake_hi = c->loss_fake_label_max,
                                  .flip = c->loss_label_flip};
    gan->penalty = (gt_penalty_spec){
        .gp = c->pen_gp, .dragan = c->pen_dragan, .r1 = c->pen_r1, .r2 = c->pen_r2,
        .gp_one_sided = strcmp(c->pen_gp_side, "one") == 0, .gp_center = c->pen_gp_center,
        .dragan_c = c->pen_dragan_c, .every = c->pen_every,
        .decay = strcmp(c->pen_decay, "cosine") == 0 ? GT_DECAY_COSINE : GT_DECAY_NONE,
        .decay_steps = c->pen_decay_steps ? c->pen_decay_steps : c->train_steps,
        .decay_floor = c->pen_decay_floor};
    gan->noise = (gt_noise_spec){
        .sigma = c->noise_sigma,
        .anneal = strcmp(c->noise_anneal, "linear") == 0        ? GT_ANNEAL_LINEAR
                  : strcmp(c->noise_anneal, "exponential") == 0 ? GT_ANNEAL_EXPONENTIAL
                                                                : GT_ANNEAL_NONE,
        .steps = c->noise_steps ? c->noise_steps : c->train_steps,
        .fraction = c->noise_fraction};
    gan->pl = (gt_pl_spec){.weight = c->pl_weight, .decay = c->pl_decay, .every = c->pl_every,
                           .batch_shrink = c->pl_batch_shrink};
}

/* The [augment] section: the policy, its functions, ADA's p and its controller. */
static int setup_augment(gt_trainer *t, gt_error *err) {
    const gt_config *c = &t->cfg;
    gt_augment_spec *a = &t->gan.augment;
    *a = (gt_augment_spec){.policy = strcmp(c->aug_policy, "diffaugment") == 0 ? GT_AUGMENT_DIFF
                                     : strcmp(c->aug_policy, "ada") == 0       ? GT_AUGMENT_ADA
                                                                               : GT_AUGMENT_NONE,
                           .p = c->aug_p, .adaptive = c->aug_adaptive, .target = c->aug_target,
                           .kimg = c->aug_ada_kimg, .interval = (int)c->aug_interval};
    if (!gt_augment_on(a)) return 0;
    if (t->h == 1 && t->w == 1)
        return gt_error_set(err, "config: augment.policy = %s augments images; data.dataset = %s "
                                 "gives 2-D points (set augment.policy = none)", c->aug_policy,
                            c->data_dataset);
    if (c->unroll_steps > 0)
        return gt_error_set(err, "config: augment.policy = %s with unrolled.steps = %lld: the "
                                 "unrolled critics' look-ahead updates are not augmented yet; set "
                                 "one of them to its default", c->aug_policy, (long long)c->unroll_steps);
    return gt_augment_parse_ops(a->policy, a->policy == GT_AUGMENT_ADA ? c->aug_ada : c->aug_diffaugment,
                                &a->ops, err);
}

/* A style-based G: its generator of noise and mixing; path length regularization's checks. */
static int setup_style(gt_trainer *t, gt_error *err) {
    const gt_config *c = &t->cfg;
    t->style = t->g.family->mapping != NULL;
    if (t->style) {
        t->style_rng = gt_rng_seed(gt_seed_stream((uint64_t)c->train_seed, GT_STREAM_STYLE));
        gt_model_set_style_rng(&t->g, &t->style_rng);
    }
    if (c->pl_weight > 0 && !t->style)
        return gt_error_set(err, "config: path_length.weight = %g needs a style-based generator "
                                 "(model.g.family = stylegan2, not %s)", c->pl_weight, c->g_family);
    if (c->pl_weight > 0 && c->train_batch / c->pl_batch_shrink < 1)
        return gt_error_set(err, "config: train.batch = %lld / path_length.batch_shrink = %lld "
                                 "leaves no latents for the path length update",
                            (long long)c->train_batch, (long long)c->pl_batch_shrink);
    return 0;
}

static int batch_shape(const gt_trainer *t, int64_t n, int64_t *shape);

/* The batch of the current step: train.batch, or the schedule's at the current resolution. */
static int64_t current_batch(const gt_trainer *t) {
    return t->progressive ? t->grow.batch[gt_grow_at(&t->grow, t->images).level] : t->cfg.train_batch;
}

/* The next real batch of the loader: its first `batch` examples (all of them unless growing
 * progressively), brought to the schedule's resolution and cross-fade when growing. */
static gt_tensor *real_batch(gt_trainer *t, int64_t batch) {
    int64_t shape[4];
    int nd = batch_shape(t, batch, shape);
    gt_loader_next(t->loader, t->real, t->conditional ? t->real_labels : NULL);
    if (t->conditional) { /* the step's copy: a fresh unrolled batch must not overwrite it */
        int32_t *y = gt_step_alloc_((size_t)batch * sizeof *y);
        memcpy(y, t->real_labels, (size_t)batch * sizeof *y);
        t->gan.real_labels = y;
    }
    gt_tensor *real = gt_from_data(nd, shape, t->real);
    return t->progressive ? gt_grow_reals(real, gt_grow_at(&t->grow, t->images)) : real;
}

/* A fresh real batch for an unrolled D update (unrolled.fresh_batches), with its labels; the
 * step's own real labels stay as they were. */
static gt_tensor *next_real_batch(void *ctx, const int32_t **labels) {
    gt_trainer *t = ctx;
    const int32_t *own = t->gan.real_labels;
    gt_tensor *real = real_batch(t, current_batch(t));
    *labels = t->gan.real_labels;
    t->gan.real_labels = own;
    return real;
}

/* Labels of n fakes, uniform over the classes, drawn from the latent stream (step arena). */
static const int32_t *draw_fake_labels(gt_trainer *t, int64_t n) {
    int32_t *y = gt_step_alloc_((size_t)n * sizeof *y);
    float *u = gt_step_alloc_((size_t)n * sizeof *u);
    gt_copy_to(u, gt_rand_uniform(&t->rng, 1, &n, 0.0f, 1.0f));
    for (int64_t i = 0; i < n; i++) {
        int k = (int)(u[i] * (float)t->n_classes);
        y[i] = k < t->n_classes ? k : t->n_classes - 1;
    }
    return y;
}

/* train.conditional: the class count (train.classes, or the data's, loaded first), which the
 * checkpoint records through t->cfg. */
static int setup_conditional(gt_trainer *t, bool with_data, gt_error *err) {
    gt_config *c = &t->cfg;
    t->conditional = c->train_conditional;
    if (!t->conditional) {
        if (c->train_classes != 0)
            return gt_error_set(err, "config: train.classes = %lld is for conditional runs: set "
                                     "train.conditional = true (or train.classes = 0)",
                                (long long)c->train_classes);
        return 0;
    }
    if (with_data) {
        if (!(t->data = load_data(c, err))) return -1;
        if (!t->data->labels || t->data->n_classes < 1)
            return gt_error_set(err, "config: train.conditional = true needs class labels, and "
                                     "data %s has none (IDX data needs its labels file; a PNG "
                                     "folder needs one sub-folder of images per class)", t->data->name);
        if (c->train_classes > 0 && c->train_classes != t->data->n_classes)
            return gt_error_set(err, "config: train.classes = %lld but data %s has %d classes "
                                     "(0: take the data's)", (long long)c->train_classes,
                                t->data->name, t->data->n_classes);
        c->train_classes = t->data->n_classes;
    }
    if (c->train_classes < 1)
        return gt_error_set(err, "config: train.conditional = true without data needs "
                                 "train.classes, the number of classes");
    t->n_classes = (int)c->train_classes;
    return 0;
}

/* Advice the configuration deserves (tricks.md: batch norm couples the samples a gradient
 * penalty treats one by one). */
static void collect_warnings(gt_trainer *t) {
    const gt_config *c = &t->cfg;
    bool penalty = gt_penalty_any(&t->gan.penalty);
    bool bn = strcmp(c->d_norm, "batch") == 0 || (t->has_d2 && strcmp(c->d2_norm, "batch") == 0);
    size_t n = 0;
    if (penalty && bn)
        n += (size_t)snprintf(t->warnings, sizeof t->warnings,
                              "a gradient penalty with batch norm in the discriminator: batch "
                              "norm couples the samples that the penalty treats one by one "
                              "(Gulrajani et al. 2017); set model.d.norm = layer or none\n");
    if (strcmp(c->train_precision, "bf16") == 0 && !gt_precision_bf16_native())
        snprintf(t->warnings + n, sizeof t->warnings - n,
                 "train.precision = bf16: the %s backend has no native bf16 products here (the "
                 "CPU lacks AVX512_BF16, or GANTRY_BF16=portable): the portable bf16 path runs, "
                 "with the same rounding, slower\n",
                 gt_ctx_backend(gt_ctx_current()));
}

/* model.d.pack: the batch splits into whole packs, and the D sees no class labels. (Micro-batches
 * are checked by set_accumulation, ranks' shards by the session.) */
static int check_packing(const gt_trainer *t, gt_error *err) {
    const gt_config *c = &t->cfg;
    int64_t m = c->d_pack;
    if (m == 1) return 0;
    if (c->train_batch % m != 0)
        return gt_error_set(err, "config: train.batch = %lld is not a multiple of model.d.pack = "
                                 "%lld (D judges whole packs of reals and of fakes)",
                            (long long)c->train_batch, (long long)m);
    if (c->train_conditional)
        return gt_error_set(err, "config: model.d.pack = %lld with train.conditional = true: a "
                                 "pack holds samples of different classes, which the projection "
                                 "discriminator cannot take; set model.d.pack = 1", (long long)m);
    if (gt_model_family_find(c->d_family) && gt_model_family_find(c->d_family)->growth)
        return gt_error_set(err, "config: model.d.pack = %lld with progressive growing (model.d."
                                 "family = %s): its per-resolution batches are not packed yet; set "
                                 "model.d.pack = 1", (long long)m, c->d_family);
    return 0;
}

static int build_networks(gt_trainer *t, gt_error *err) {
    const gt_config *c = &t->cfg;
    gt_rng init = gt_rng_seed(gt_seed_stream((uint64_t)c->train_seed, GT_STREAM_INIT));
    gt_net_spec gs = net_spec(c, t, GT_ROLE_GENERATOR);
    gt_stylegan2_options sg = {.mapping_layers = (int)c->g_mapping_layers, .w_dim = c->g_w_dim,
                               .mapping_lr_mul = c->g_mapping_lr_mul,
                               .style_mixing = c->g_style_mixing};
    /* The options are the stylegan2 family's type: only its entry reads them. */
    if (gt_model_family_find(gs.family) == &gt_family_stylegan2) gs.family_options = &sg;
    gt_net_spec ds = net_spec(c, t, GT_ROLE_DISCRIMINATOR);
    if (check_packing(t, err) < 0) return -1;
    if (gt_model_build(&t->g, &gs, t->arena, &init, err) < 0) return -1;
    if (gt_model_build(&t->d, &ds, t->arena, &init, err) < 0) return -1;
    t->has_d2 = strcmp(c->d2_family, "none") != 0;
    gt_net_spec d2s = d2_spec(c, t);
    if (t->has_d2 && gt_model_build(&t->d2, &d2s, t->arena, &init, err) < 0) {
        gt_error inner = *err;
        return gt_error_set(err, "config: [model.d2] (%dx%d input): %s", d2s.h, d2s.w, inner.msg);
    }
    gt_optim_cfg og = optim_cfg(c, NET_G), od = optim_cfg(c, NET_D), od2 = optim_cfg(c, NET_D2);
    gt_optim_init(&t->opt_g, &t->g.params, &og, t->arena);
    gt_optim_init(&t->opt_d, &t->d.params, &od, t->arena);
    if (t->has_d2) gt_optim_init(&t->opt_d2, &t->d2.params, &od2, t->arena);
    t->has_ema = c->train_ema;
    if (t->has_ema)
        gt_ema_init(&t->ema, &t->g.params, c->train_ema_decay, c->train_ema_start, t->arena);
    gt_gan_init(&t->gan, &t->g, &t->opt_g, &t->d, &t->opt_d,
                gt_seed_stream((uint64_t)c->train_seed, GT_STREAM_TRICKS));
    if (t->has_d2) {
        t->gan.critic[1] = (gt_critic){&t->d2, &t->opt_d2, strcmp(c->d2_view, "half") == 0,
                                       (int)c->d_pack};
        t->gan.n_critics = 2;
    }
    t->gan.critic[0].pack = (int)c->d_pack;
    configure_tricks(&t->gan, c);
    if (setup_style(t, err) < 0) return -1;
    t->gan.unroll = (gt_unroll_spec){
        .steps = (int)c->unroll_steps,
        .mode = strcmp(c->unroll_mode, "surrogate") == 0 ? GT_UNROLL_SURROGATE : GT_UNROLL_EXACT,
        .next_real = c->unroll_fresh_batches ? next_real_batch : NULL,
        .next_real_ctx = t};
    if (setup_augment(t, err) < 0) return -1;
    if (gt_gan_check(&t->gan, err) < 0) return -1;
    collect_warnings(t);
    return 0;
}

int gt_trainer_check_shards(const gt_trainer *t, int shards, const char *what, gt_error *err) {
    const gt_config *c = &t->cfg;
    if (c->train_batch % shards != 0 || c->train_batch / shards < 2)
        return gt_error_set(err, "config: train.batch = %lld with %s: the batch must split into "
                                 "%d equal shards of at least 2 examples (batch statistics)",
                            (long long)c->train_batch, what, shards);
    if (c->train_batch / shards % c->d_pack != 0)
        return gt_error_set(err, "config: train.batch = %lld with %s gives shards of %lld, which "
                                 "do not split into packs of model.d.pack = %lld (a pack must not "
                                 "straddle shards)", (long long)c->train_batch, what,
                            (long long)(c->train_batch / shards), (long long)c->d_pack);
    int64_t pl_batch = c->train_batch / c->pl_batch_shrink;
    if (c->pl_weight > 0 && pl_batch % shards != 0)
        return gt_error_set(err, "config: train.batch / path_length.batch_shrink = %lld latents "
                                 "with %s: they must split into %d equal shards",
                            (long long)pl_batch, what, shards);
    if (c->unroll_steps > 0)
        return gt_error_set(err, "config: unrolled.steps = %lld with %s: unrolled critics update "
                                 "on the whole batch; set one of them to its default",
                            (long long)c->unroll_steps, what);
    if (t->progressive)
        return gt_error_set(err, "config: progressive growing with %s: its per-resolution "
                                 "batches are not split yet", what);
    return 0;
}

/* train.accumulate: micro-batches of equal size, with the rules of gt_trainer_check_shards. */
static int set_accumulation(gt_trainer *t, gt_error *err) {
    const gt_config *c = &t->cfg;
    int64_t m = c->train_accumulate;
    if (m == 1) return 0;
    if (c->train_sync_bn)
        return gt_error_set(err, "config: train.sync_bn = true with train.accumulate = %lld: "
                                 "synchronized batch norm takes the statistics of every shard at "
                                 "once, which micro-batches run one after the other cannot give; "
                                 "set one of them to its default", (long long)m);
    char what[64];
    snprintf(what, sizeof what, "train.accumulate = %lld", (long long)m);
    if (gt_trainer_check_shards(t, (int)m, what, err) < 0) return -1;
    t->gan.accumulate = (int)m;
    return 0;
}

/* The data, its loader and the staging buffer for real batches. */
/* data.limit and data.holdout: the training subset replaces the data, the held-out set is
 * kept for the overfitting monitor. */
static int split_data(gt_trainer *t, gt_error *err) {
    const gt_config *c = &t->cfg;
    if (c->data_limit == 0 && c->data_holdout == 0) return 0;
    gt_dataset *train, *held;
    if (gt_data_split(t->data, c->data_holdout, c->data_limit, (uint64_t)c->data_subset_seed,
                      &train, &held, err) < 0)
        return -1;
    gt_dataset_free(t->data);
    t->data = train;
    t->holdout = held;
    return 0;
}

static int attach_data(gt_trainer *t, gt_error *err) {
    const gt_config *cfg = &t->cfg;
    if (!t->data) t->data = load_data(cfg, err);  /* conditional runs load it first */
    if (!t->data || check_data_shape(t, err) < 0 || split_data(t, err) < 0) return -1;
    t->loader = gt_loader_new(t->data, (int)cfg->train_batch,
                              gt_seed_stream((uint64_t)cfg->train_seed, GT_STREAM_DATA),
                              cfg->data_prefetch, err);
    if (!t->loader) return -1;
    t->real = malloc((size_t)(cfg->train_batch * gt_trainer_example_size(t)) * sizeof(float));
    t->real_labels = malloc((size_t)cfg->train_batch * sizeof(int32_t));
    GT_CHECK(t->real_labels, "out of memory (labels)");
    t->snapshot = gt_step_snapshot_new(t);
    GT_CHECK(t->real, "out of memory (real batch)");
    return 0;
}

/* Progressive growing: on when G's and D's families are progressive (both or neither). */
static int setup_growing(gt_trainer *t, gt_error *err) {
    const gt_config *c = &t->cfg;
    bool g = gt_model_grows(&t->g), d = gt_model_grows(&t->d);
    if (g != d)
        return gt_error_set(err, "config: model.g.family = %s and model.d.family = %s: progressive "
                                 "growing needs both networks progressive", c->g_family, c->d_family);
    t->progressive = g;
    if (!g) return 0;
    if (t->has_d2)
        return gt_error_set(err, "config: model.d2.family = %s: progressive growing works with "
                                 "one discriminator (set model.d2.family = none)", c->d2_family);
    if (gt_grow_sched_init(&t->grow, c, t->h, c->train_batch, (int)c->d_mbstd_group, err) < 0)
        return -1;
    t->grow_level = gt_grow_at(&t->grow, 0).level;
    return 0;
}

int gt_trainer_init(gt_trainer *t, const gt_config *cfg, bool load_data, gt_error *err) {
    gt_registries_install(); /* links the registries (and their constructor) into every trainer */
    memset(t, 0, sizeof *t);
    t->cfg = *cfg;
    gt_config_example_shape(cfg, &t->c, &t->h, &t->w);
    t->arena = gt_arena_new((size_t)16 << 20);
    t->rng = gt_rng_seed(gt_seed_stream((uint64_t)cfg->train_seed, GT_STREAM_LATENT));
    if (setup_conditional(t, load_data, err) < 0 || build_networks(t, err) < 0 ||
        setup_growing(t, err) < 0 || set_accumulation(t, err) < 0 ||
        (load_data && attach_data(t, err) < 0)) {
        gt_trainer_free(t);
        return -1;
    }
    return 0;
}

int64_t gt_trainer_example_size(const gt_trainer *t) { return (int64_t)t->c * t->h * t->w; }

/* The shape of a batch of n examples: [n, c, h, w] for images, [n, 2] for points. */
static int batch_shape(const gt_trainer *t, int64_t n, int64_t *shape) {
    shape[0] = n;
    shape[1] = t->c;
    if (t->h == 1 && t->w == 1) return 2;
    shape[2] = t->h;
    shape[3] = t->w;
    return 4;
}

/* Sets G's and D's resolution and alpha to the schedule's at the images shown so far. */
static gt_grow_state grow_apply(gt_trainer *t) {
    gt_grow_state gs = gt_grow_at(&t->grow, t->images);
    gt_model_set_growth(&t->g, gs.res, gs.alpha);
    gt_model_set_growth(&t->d, gs.res, gs.alpha);
    return gs;
}

/* Zeroes an optimizer's moments and step count (a new resolution, ProGAN's reset). */
static void optim_reset(gt_optim *o) {
    if (o->m) gt_fill(o->m, 0.0f);
    if (o->v) gt_fill(o->v, 0.0f);
    o->step = 0;
}

/* Before a step while growing: the networks' resolution and alpha, and the optimizers' reset
 * when a new resolution begins. */
static void grow_step(gt_trainer *t) {
    gt_grow_state gs = grow_apply(t);
    if (gs.level == t->grow_level) return;
    if (t->cfg.prog_reset_optim) {
        optim_reset(&t->opt_g);
        optim_reset(&t->opt_d);
    }
    t->grow_level = gs.level;
}

static bool trainer_step(gt_trainer *t, gt_step_stats *st);

/* A step runs its matmuls and convolutions at train.precision; sampling and evaluation, between
 * steps, stay FP32. */
bool gt_trainer_step(gt_trainer *t, gt_step_stats *st) {
    bool bf16 = strcmp(t->cfg.train_precision, "bf16") == 0;
    gt_precision prev = gt_precision_set(bf16 ? GT_PRECISION_BF16 : GT_PRECISION_FP32);
    bool ok = trainer_step(t, st);
    gt_precision_set(prev);
    return ok;
}

static bool trainer_step(gt_trainer *t, gt_step_stats *st) {
    GT_CHECK(t->loader != NULL, "trainer: stepping a trainer built without data");
    gt_profile_mark("other");
    gt_step_snapshot_take(t->snapshot, t);
    gt_profile_mark("step snapshot");
    if (t->progressive) grow_step(t);
    int64_t batch = current_batch(t), zs[2] = {batch, t->cfg.g_z_dim};
    gt_tensor *fake = NULL, *real = NULL;
    st->nonfinite = false;
    t->diverged_what = "D's loss, penalty or gradient";
    for (int64_t k = 0; k < t->cfg.train_d_steps && !st->nonfinite; k++) {
        gt_profile_mark("other");
        real = real_batch(t, batch);
        gt_profile_mark("data");
        gt_tensor *z = gt_rand_normal(&t->rng, 2, zs, 0, 1);
        if (t->conditional) t->gan.fake_labels = draw_fake_labels(t, batch);
        fake = gt_gan_d_step(&t->gan, t->step, t->step * t->cfg.train_d_steps + k, real, z, st);
    }
    if (!st->nonfinite) {
        t->diverged_what = "G's loss or gradient";
        gt_gan_g_step(&t->gan, t->step, fake, real, st);
    }
    if (!st->nonfinite && gt_gan_pl_due(&t->gan, t->step)) { /* lazy path length update */
        t->diverged_what = "G's path length penalty or gradient";
        int64_t ps[2] = {batch / t->gan.pl.batch_shrink, t->cfg.g_z_dim};
        gt_gan_pl_step(&t->gan, gt_rand_normal(&t->rng, 2, ps, 0, 1), st);
    }
    gt_profile_mark("other");
    if (!st->nonfinite) { /* the updated weights, buffers and moments */
        t->diverged_what = gt_trainer_nonfinite_state(t);
        st->nonfinite = t->diverged_what != NULL;
    }
    gt_profile_mark("finiteness check");
    gt_step_end();
    t->gan.real_labels = t->gan.fake_labels = NULL;  /* they lived in the step arena */
    if (st->nonfinite) {
        gt_step_snapshot_restore(t->snapshot, t);
        return false;
    }
    gt_profile_mark("other");
    if (t->has_ema) gt_ema_update(&t->ema, &t->g.params);
    gt_profile_mark("ema");
    t->step++;
    t->images += batch * t->cfg.train_d_steps;
    return true;
}

void gt_trainer_sample(gt_trainer *t, int64_t n, uint64_t seed, float *out) {
    gt_trainer_sample_classes(t, n, seed, NULL, out);
}

bool gt_trainer_draws_classifier_classes(const gt_trainer *t) {
    const gt_dataset_kind *k = gt_dataset_kind_find(t->cfg.data_dataset);
    return t->conditional && t->n_classes == 10 && k && k->classifier_classes;
}

/* Balanced labels for a conditional G without given ones (sample i: class i mod n_classes);
 * NULL (nothing to free) otherwise. */
static int32_t *balanced_labels(const gt_trainer *t, int64_t n, const int32_t *labels) {
    GT_CHECK(t->conditional || !labels, "sampling: class labels for an unconditional G");
    if (!t->conditional || labels) return NULL;
    int32_t *balanced = malloc((size_t)n * sizeof *balanced);
    GT_CHECK(balanced, "out of memory (labels)");
    for (int64_t i = 0; i < n; i++) balanced[i] = (int32_t)(i % t->n_classes);
    return balanced;
}

const gt_params *gt_trainer_sampling_params(gt_trainer *t) {
    if (t->progressive) grow_apply(t);
    return t->has_ema ? &t->ema.shadow : &t->g.params;
}

/* G in evaluation mode on latents from rng (z NULL) or on the given rows of z [n, z_dim]. */
static void sample_from(gt_trainer *t, int64_t n, gt_rng *rng, const float *z,
                        const int32_t *labels, float *out) {
    int32_t *balanced = balanced_labels(t, n, labels);
    if (balanced) labels = balanced;
    gt_fwd f = gt_fwd_of((gt_params *)gt_trainer_sampling_params(t), false);
    int64_t per = gt_trainer_example_size(t), chunk = 256;
    bool prev = gt_grad_set(false);
    for (int64_t i = 0; i < n; i += chunk) {
        int64_t m = n - i < chunk ? n - i : chunk, zs[2] = {m, t->cfg.g_z_dim};
        f.labels = labels ? labels + i : NULL;
        gt_tensor *zt = z ? gt_from_data(2, zs, z + i * t->cfg.g_z_dim) : gt_rand_normal(rng, 2, zs, 0, 1);
        gt_tensor *x = gt_model_forward(&t->g, &f, zt, NULL);
        while (t->progressive && x->shape[2] < t->h) x = gt_upsample2x(x);
        gt_copy_to(out + i * per, x);
        gt_step_end();
    }
    gt_grad_set(prev);
    free(balanced);
}

void gt_trainer_sample_classes(gt_trainer *t, int64_t n, uint64_t seed, const int32_t *labels,
                               float *out) {
    gt_rng rng = gt_rng_seed(seed);
    sample_from(t, n, &rng, NULL, labels, out);
}

void gt_trainer_sample_latents(gt_trainer *t, int64_t n, const float *z, const int32_t *labels,
                               float *out) {
    sample_from(t, n, NULL, z, labels, out);
}

void gt_trainer_free(gt_trainer *t) {
    gt_loader_free(t->loader);
    if (t->has_ema) gt_ema_release(&t->ema);
    gt_model_release(&t->g);
    gt_model_release(&t->d);
    if (t->has_d2) gt_model_release(&t->d2);
    gt_step_snapshot_free(t->snapshot);
    gt_arena_free(t->arena);
    gt_dataset_free(t->data);
    gt_dataset_free(t->holdout);
    free(t->real);
    free(t->real_labels);
    memset(t, 0, sizeof *t);
}
