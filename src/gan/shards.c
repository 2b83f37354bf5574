/* Updates over shards: gradient accumulation (gan->accumulate micro-batches in one process) and
 * data-parallel ranks (gan->comm: each process one shard) follow one set of rules, so that K
 * ranks compute to the bit what one process with accumulate = K computes:
 *   - random draws are made for the whole batch, as one update would, and each shard takes its
 *     rows (so draws never depend on the shard count, and every rank's generators stay equal);
 *     draws inside a forward (StyleGAN2's noise and mixing, path length's probes) take the
 *     shard's rows of the whole batch's draw (gt_rand_normal_rows) from the generators' state
 *     before the update, so every shard ends them in the same state;
 *   - each shard normalizes with its own batch statistics and takes its own penalties;
 *   - each shard's gradients, final buffers and loss are its contribution; contributions are
 *     combined in shard order: gradients added, then scaled by 1 / shards;
 *   - every network's buffers (batch-norm running statistics, spectral norm's u, StyleGAN2's
 *     w_avg) start each shard from their values before the update and end at the shards' mean,
 *     or exactly at the shared value where every shard ended equal (u depends on the weights
 *     only, so it advances as in one update).
 * Ranks exchange their contributions with one all-gather per update (gradients, buffers and
 * losses in one message) and combine them in rank order, or, when the transport has an
 * all-to-all, reduce the gradients by slices (each rank sums one slice in rank order, then the
 * slices are all-gathered: ring all-reduce's traffic, the same bits). MPI_Allreduce is not
 * used because its summation order is the library's choice, which would make results depend
 * on it. */
#include <string.h>

#include "core/engine.h"
#include "gan/shards.h"

#define MAX_TABLES (GT_MAX_CRITICS + 1)
#define N_SCALARS 6

/* What one shard contributes to an update. */
typedef struct {
    gt_tensor *grads;             /* [the updated table's trainables], or NULL */
    gt_tensor *bufs[MAX_TABLES];  /* each moved table's buffers as the shard left them */
    double scalar[N_SCALARS];     /* its loss and statistics */
} contribution;

/* One update over shards. */
typedef struct {
    const gt_gan *gan;
    gt_params *grad_table;          /* whose gradients are taken (NULL: a forward only) */
    gt_params *table[MAX_TABLES];   /* whose buffers the shards move */
    int64_t n_buf[MAX_TABLES];
    gt_tensor *start[MAX_TABLES];   /* their buffers before the first shard */
    int n_tables;
    gt_rng *rng[2];                 /* generators the shards' forwards draw from */
    gt_rng rng_start[2];            /* their state before the first shard */
    int n_rng;
    int shards;                     /* all shards (ranks, or micro-batches) */
    int first, count;               /* the shards this process computes */
    contribution *c;                /* [shards] */
} shard_update;

static gt_tensor *buffers_of(gt_params *p, int64_t n) {
    return gt_view_in(gt_step_arena(), p->flat, p->numel_trainable, 1, &n);
}

static int shard_count(const gt_gan *gan) { return gan->comm ? gan->comm->size : gan->accumulate; }

/* The shards this process computes: its rank's, or all of them one after the other. */
static void local_shards(const gt_gan *gan, int *first, int *count) {
    *first = gan->comm ? gan->comm->rank : 0;
    *count = gan->comm ? 1 : gan->accumulate;
}

static void update_begin(shard_update *u, const gt_gan *gan, gt_params *grad_table,
                         gt_params *const *tables, int n_tables) {
    memset(u, 0, sizeof *u);
    u->gan = gan;
    u->grad_table = grad_table;
    u->n_tables = n_tables;
    u->shards = shard_count(gan);
    local_shards(gan, &u->first, &u->count);
    u->c = gt_step_alloc_((size_t)u->shards * sizeof *u->c);
    memset(u->c, 0, (size_t)u->shards * sizeof *u->c);
    for (int i = 0; i < n_tables; i++) {
        u->table[i] = tables[i];
        u->n_buf[i] = tables[i]->numel - tables[i]->numel_trainable;
        if (u->n_buf[i] > 0) u->start[i] = gt_clone(buffers_of(tables[i], u->n_buf[i]));
    }
}

/* The shards' forwards draw from rng (NULL: nothing), each from its state before the update. */
static void track_rng(shard_update *u, gt_rng *rng) {
    if (!rng) return;
    u->rng[u->n_rng] = rng;
    u->rng_start[u->n_rng++] = *rng;
}

/* G's generator of per-forward draws (noise, style mixing), or NULL. */
static gt_rng *style_rng(const gt_gan *gan) {
    return gt_model_style_count(gan->g) > 0 ? gt_model_style_rng(gan->g) : NULL;
}

/* Before a shard: every moved table's buffers and every tracked generator as they were before
 * the update. */
static void shard_begin(const shard_update *u) {
    for (int i = 0; i < u->n_tables; i++)
        if (u->n_buf[i] > 0) gt_assign(buffers_of(u->table[i], u->n_buf[i]), u->start[i]);
    for (int i = 0; i < u->n_rng; i++) *u->rng[i] = u->rng_start[i];
}

/* After shard m: its gradients of loss (when the update takes any), buffers and scalars. */
static void shard_end(shard_update *u, int m, gt_tensor *loss, const double *scalars) {
    contribution *c = &u->c[m];
    if (loss && u->grad_table) {
        gt_gan_write_grads_(u->grad_table, loss);
        c->grads = gt_clone(u->grad_table->flat_grad);
    }
    for (int i = 0; i < u->n_tables; i++)
        if (u->n_buf[i] > 0) c->bufs[i] = gt_clone(buffers_of(u->table[i], u->n_buf[i]));
    if (scalars) memcpy(c->scalar, scalars, sizeof c->scalar);
}

/* ---- the exchange between ranks ---------------------------------------------------------- */

/* Whether the gradients travel apart from the all-gather, reduced by slices. */
static bool by_slices(const shard_update *u) {
    return u->gan->comm && u->gan->comm->alltoall && u->grad_table;
}

static int64_t packet_floats(const shard_update *u) {
    int64_t n = u->grad_table && !by_slices(u) ? u->grad_table->numel_trainable : 0;
    for (int i = 0; i < u->n_tables; i++) n += u->n_buf[i];
    return n + 2 * N_SCALARS; /* a double's 8 bytes in two float slots (transports copy bytes) */
}

static void pack(const shard_update *u, const contribution *c, float *out) {
    if (u->grad_table && !by_slices(u)) {
        gt_copy_to(out, c->grads);
        out += u->grad_table->numel_trainable;
    }
    for (int i = 0; i < u->n_tables; i++) {
        if (u->n_buf[i] > 0) gt_copy_to(out, c->bufs[i]);
        out += u->n_buf[i];
    }
    memcpy(out, c->scalar, sizeof c->scalar);
}

static void unpack(const shard_update *u, const float *in, contribution *c) {
    if (u->grad_table && !by_slices(u)) {
        c->grads = gt_from_data(1, &u->grad_table->numel_trainable, in);
        in += u->grad_table->numel_trainable;
    }
    for (int i = 0; i < u->n_tables; i++) {
        if (u->n_buf[i] > 0) c->bufs[i] = gt_from_data(1, &u->n_buf[i], in);
        in += u->n_buf[i];
    }
    memcpy(c->scalar, in, sizeof c->scalar);
}

/* Every rank's contribution, from one all-gather. */
static int exchange(shard_update *u) {
    const gt_comm *comm = u->gan->comm;
    int64_t n = packet_floats(u);
    float *mine = gt_step_alloc_((size_t)n * sizeof *mine);
    float *all = gt_step_alloc_((size_t)(n * comm->size) * sizeof *all);
    pack(u, &u->c[comm->rank], mine);
    gt_gan *gan = (gt_gan *)u->gan; /* the error lands in the GAN */
    if (comm->allgather(comm->ctx, mine, n, all, &gan->comm_error) < 0) return -1;
    for (int r = 0; r < comm->size; r++) unpack(u, all + (int64_t)r * n, &u->c[r]);
    return 0;
}

/* The whole batch's gradient into the updated table, reduced by slices: rank r adds slice r of
 * every rank's gradient in rank order and scales it by 1 / K (elementwise, so each element
 * sees the same operations as in sum_gradients), then the slices are all-gathered. */
static int reduce_by_slices(shard_update *u) {
    const gt_comm *comm = u->gan->comm;
    gt_gan *gan = (gt_gan *)u->gan;
    int k = comm->size;
    int64_t n = u->grad_table->numel_trainable, b = (n + k - 1) / k;
    float *mine = gt_step_alloc_((size_t)(b * k) * sizeof *mine);
    float *got = gt_step_alloc_((size_t)(b * k) * sizeof *got);
    memset(mine, 0, (size_t)(b * k) * sizeof *mine);
    gt_copy_to(mine, u->c[comm->rank].grads);
    if (comm->alltoall(comm->ctx, mine, b, got, &gan->comm_error) < 0) return -1;
    gt_tensor *sum = gt_from_data(1, &b, got);
    for (int r = 1; r < k; r++) sum = gt_add(sum, gt_from_data(1, &b, got + (int64_t)r * b));
    float *slice = gt_step_alloc_((size_t)b * sizeof *slice);
    gt_copy_to(slice, gt_mul_scalar(sum, 1.0f / (float)k));
    if (comm->allgather(comm->ctx, slice, b, got, &gan->comm_error) < 0) return -1;
    gt_copy_from(u->grad_table->flat_grad, got); /* the first n of the b k floats */
    return 0;
}

/* ---- combining the shards, in shard order ---------------------------------------------------- */

/* 1 where a == b, else 0 (NaN never equal). */
static gt_tensor *equal(gt_tensor *a, gt_tensor *b) {
    return gt_mul(gt_greater_equal(a, b), gt_greater_equal(b, a));
}

static void merge_buffers(const shard_update *u, int i) {
    gt_tensor *first = u->c[0].bufs[i], *sum = first, *agree = gt_full(1, &u->n_buf[i], 1.0f);
    for (int m = 1; m < u->shards; m++) {
        sum = gt_add(sum, u->c[m].bufs[i]);
        agree = gt_mul(agree, equal(u->c[m].bufs[i], first));
    }
    gt_tensor *mean = gt_mul_scalar(sum, 1.0f / (float)u->shards);
    gt_assign(buffers_of(u->table[i], u->n_buf[i]), gt_where(agree, first, mean));
}

/* Combines the contributions: the update's gradient into its table, the buffers, and the
 * scalars' means into mean[]. -1 when the exchange between ranks failed. */
static int update_finish(shard_update *u, double *mean) {
    if (u->gan->comm && exchange(u) < 0) return -1;
    if (by_slices(u)) {
        if (reduce_by_slices(u) < 0) return -1;
    } else if (u->grad_table) {
        gt_tensor *sum = u->c[0].grads;
        for (int m = 1; m < u->shards; m++) sum = gt_add(sum, u->c[m].grads);
        gt_assign(u->grad_table->flat_grad, gt_mul_scalar(sum, 1.0f / (float)u->shards));
    }
    for (int i = 0; i < u->n_tables; i++)
        if (u->n_buf[i] > 0) merge_buffers(u, i);
    for (int j = 0; mean && j < N_SCALARS; j++) {
        double s = 0;
        for (int m = 0; m < u->shards; m++) s += u->c[m].scalar[j];
        mean[j] = s / u->shards;
    }
    return 0;
}

/* ---- a shard's slice of the batch ------------------------------------------------------- */

typedef struct {
    int64_t size;                              /* rows per shard */
    int shards;
    const int32_t *real_labels, *fake_labels;  /* the whole batch's (NULL: unconditional) */
} shard_rows;

static gt_tensor *rows(gt_tensor *x, const shard_rows *s, int m) {
    return x ? gt_slice(x, 0, m * s->size, (m + 1) * s->size) : NULL;
}

/* Shard m's part of a draw: of its own rows, since D's targets have one row per pack (N / pack
 * rows) where the other draws have one per sample. */
static gt_tensor *draw_rows(gt_tensor *x, const shard_rows *s, int m) {
    if (!x) return NULL;
    int64_t size = x->shape[0] / s->shards;
    return gt_slice(x, 0, m * size, (m + 1) * size);
}

static void use_labels(gt_gan *gan, const shard_rows *s, int m) {
    gan->real_labels = s->real_labels ? s->real_labels + m * s->size : NULL;
    gan->fake_labels = s->fake_labels ? s->fake_labels + m * s->size : NULL;
}

static void restore_labels(gt_gan *gan, const shard_rows *s) {
    gan->real_labels = s->real_labels;
    gan->fake_labels = s->fake_labels;
}

static gt_augment_draws aug_rows(gt_augment_draws d, const shard_rows *s, int m) {
    return d.u ? gt_augment_rows(d, m * s->size, (m + 1) * s->size) : d;
}

static gt_d_draws draws_rows(const gt_d_draws *d, const shard_rows *s, int m) {
    return (gt_d_draws){draw_rows(d->real_target, s, m), draw_rows(d->fake_target, s, m),
                        draw_rows(d->real_noise, s, m),  draw_rows(d->fake_noise, s, m),
                        draw_rows(d->gp_eps, s, m),      draw_rows(d->dragan_u, s, m),
                        draw_rows(d->dragan_a, s, m),    aug_rows(d->aug_real, s, m),
                        aug_rows(d->aug_fake, s, m)};
}

static shard_rows rows_of(const gt_gan *gan, int64_t batch) {
    int n = shard_count(gan);
    GT_CHECK(batch % n == 0, "shards: batch %lld is not a multiple of %d", (long long)batch, n);
    int pack = gt_critic_pack_(&gan->critic[0]);
    GT_CHECK(batch / n % pack == 0, "shards: a shard of %lld does not split into packs of %d",
             (long long)(batch / n), pack);
    return (shard_rows){batch / n, n, gan->real_labels, gan->fake_labels};
}

/* ---- D -------------------------------------------------------------------------------------- */

typedef struct {
    gt_tensor *x_real;     /* the whole batch as D sees it (noise, augmentation) */
    gt_tensor **x_fake;    /* [shards]: each computed shard's fakes as D sees them, detached */
    gt_d_draws dr;         /* the whole batch's draws */
} d_inputs;

enum { S_LOSS, S_PENALTY, S_REAL_MEAN, S_FAKE_MEAN, S_ACC_REAL, S_ACC_FAKE };

/* Critic k's update over the shards; with fused penalties (scale > 0) they join each shard's
 * loss. Its logit statistics (critic 0) and penalty are the shards' means. */
static bool critic_sharded(gt_gan *gan, int k, const d_inputs *in, const shard_rows *s,
                           double fused_scale, bool lazy_only, gt_step_stats *st) {
    gt_critic *c = &gan->critic[k];
    gt_params *table = &c->net->params;
    shard_update u;
    update_begin(&u, gan, table, &table, 1);
    double every = (double)gan->penalty.every;
    for (int m = u.first; m < u.first + u.count; m++) {
        shard_begin(&u);
        use_labels(gan, s, m);
        gt_d_draws dr = draws_rows(&in->dr, s, m);
        double sc[N_SCALARS] = {0};
        gt_tensor *loss;
        if (lazy_only) {
            loss = gt_d_penalty(gan, k, rows(in->x_real, s, m), in->x_fake[m], &dr, fused_scale, NULL);
        } else {
            gt_step_stats one = {0};
            gt_tensor *d_real, *d_fake;
            loss = gt_critic_d_loss_(gan, k, rows(in->x_real, s, m), in->x_fake[m], &dr,
                                     fused_scale, &one, &d_real, &d_fake);
            gt_gan_logit_stats_(d_real, d_fake, &one);
            sc[S_PENALTY] = one.penalty;
            sc[S_REAL_MEAN] = one.d_real_mean, sc[S_FAKE_MEAN] = one.d_fake_mean;
            sc[S_ACC_REAL] = one.d_acc_real, sc[S_ACC_FAKE] = one.d_acc_fake;
        }
        sc[S_LOSS] = gt_item(loss);
        shard_end(&u, m, loss, sc);
    }
    restore_labels(gan, s);
    double mean[N_SCALARS];
    if (update_finish(&u, mean) < 0) {
        st->comm_failed = true;
        return false;
    }
    double norm = gt_params_grad_norm(table);
    if (lazy_only) {
        st->penalty += mean[S_LOSS] / every;
    } else {
        st->d_loss += mean[S_LOSS];
        st->penalty += mean[S_PENALTY];
        if (k == 0) {
            st->d_grad_norm = norm;
            st->d_real_mean = mean[S_REAL_MEAN], st->d_fake_mean = mean[S_FAKE_MEAN];
            st->d_acc_real = mean[S_ACC_REAL], st->d_acc_fake = mean[S_ACC_FAKE];
        }
    }
    return gt_gan_apply_(c->opt, mean[S_LOSS], norm);
}

/* G(z) for this process's shards (G's buffers combined): fake[m] for those m, still recorded.
 * -1 when the exchange failed. */
static int fakes_sharded(gt_gan *gan, gt_tensor *z, const shard_rows *s, gt_tensor **fake) {
    shard_update u;
    gt_params *table = &gan->g->params;
    update_begin(&u, gan, NULL, &table, 1);
    track_rng(&u, style_rng(gan));
    for (int m = u.first; m < u.first + u.count; m++) {
        shard_begin(&u);
        gt_fwd fg = gt_fwd_of(&gan->g->params, true);
        fg.labels = s->fake_labels ? s->fake_labels + m * s->size : NULL;
        fg.draw_first = m * s->size, fg.draw_total = s->size * u.shards;
        fake[m] = gt_model_forward(gan->g, &fg, rows(z, s, m), NULL);
        shard_end(&u, m, NULL, NULL);
    }
    return update_finish(&u, NULL);
}

gt_tensor *gt_gan_d_step_sharded_(gt_gan *gan, int64_t t, int64_t d_iter, gt_tensor *real,
                                  gt_tensor *z, gt_step_stats *st) {
    shard_rows s = rows_of(gan, real->shape[0]);
    int shards = shard_count(gan), first, count;
    local_shards(gan, &first, &count);
    gt_tensor **fake = gt_step_alloc_((size_t)shards * sizeof *fake);
    st->d_loss = st->penalty = 0;
    st->nonfinite = st->comm_failed = false;
    if (fakes_sharded(gan, z, &s, fake) < 0) {
        st->comm_failed = true;
        return NULL;
    }
    d_inputs in;
    gt_gan_draw_d(gan, t, real->ndim, real->shape, &in.dr);
    in.x_real = gt_gan_d_view(gan, real, in.dr.real_noise, in.dr.aug_real);
    in.x_fake = gt_step_alloc_((size_t)shards * sizeof *in.x_fake);
    for (int m = first; m < first + count; m++)
        in.x_fake[m] = gt_gan_d_view(gan, gt_detach(fake[m]), rows(in.dr.fake_noise, &s, m),
                                     aug_rows(in.dr.aug_fake, &s, m));

    const gt_penalty_spec *p = &gan->penalty;
    double decay = gt_penalty_decay(p, t);
    bool penalties = gt_penalty_any(p), lazy = p->every > 1;
    bool lazy_now = penalties && lazy && d_iter % p->every == 0;
    st->noise_sigma = gt_noise_sigma(&gan->noise, t);
    for (int k = 0; k < gan->n_critics && !st->nonfinite && !st->comm_failed; k++) {
        bool ok = critic_sharded(gan, k, &in, &s, penalties && !lazy ? decay : 0, false, st);
        if (ok && lazy_now)
            ok = critic_sharded(gan, k, &in, &s, decay * (double)p->every, true, st);
        st->nonfinite = !ok && !st->comm_failed;
    }
    gt_gan_observe_(gan, real->shape[0], st);
    /* this process's fakes, in shard order, for the G update */
    return count == 1 ? fake[first] : gt_concat(count, fake + first, 0);
}

/* ---- G -------------------------------------------------------------------------------------- */

void gt_gan_g_step_sharded_(gt_gan *gan, int64_t t, gt_tensor *fake, gt_tensor *real,
                            gt_step_stats *st) {
    GT_CHECK(gan->unroll.steps == 0, "shards: unrolled GANs update on the whole batch");
    int shards = shard_count(gan);
    int64_t batch = gan->comm ? fake->shape[0] * shards : fake->shape[0];
    shard_rows s = rows_of(gan, batch);
    int64_t shape[GT_MAX_DIMS];
    memcpy(shape, fake->shape, sizeof shape);
    shape[0] = batch;
    bool with_real = gt_gan_needs_real_(&gan->loss) && real;
    gt_g_draws dr;
    gt_gan_draw_g(gan, t, fake->ndim, shape, real, &dr);
    gt_tensor *x_real = with_real ? gt_gan_d_view(gan, real, dr.real_noise, dr.aug_real) : real;
    gt_params *tables[GT_MAX_CRITICS];
    for (int k = 0; k < gan->n_critics; k++) tables[k] = &gan->critic[k].net->params;
    shard_update u;
    update_begin(&u, gan, &gan->g->params, tables, gan->n_critics);
    for (int m = u.first; m < u.first + u.count; m++) {
        shard_begin(&u);
        use_labels(gan, &s, m);
        gt_tensor *mine = gan->comm ? fake : rows(fake, &s, m);
        gt_tensor *x_fake = gt_gan_d_view(gan, mine, rows(dr.fake_noise, &s, m), aug_rows(dr.aug_fake, &s, m));
        gt_tensor *loss = gt_g_objective_with(gan, x_fake, rows(x_real, &s, m), NULL);
        double sc[N_SCALARS] = {gt_item(loss)};
        shard_end(&u, m, loss, sc);
    }
    restore_labels(gan, &s);
    double mean[N_SCALARS];
    st->comm_failed = update_finish(&u, mean) < 0;
    if (st->comm_failed) return;
    st->g_loss = mean[S_LOSS];
    st->g_grad_norm = gt_params_grad_norm(&gan->g->params);
    st->nonfinite = !gt_gan_apply_(gan->opt_g, st->g_loss, st->g_grad_norm);
}

/* ---- path length ------------------------------------------------------------------------------ */

enum { S_PL_PENALTY, S_PL_MEAN };

/* Each shard takes its rows of the latents, probes and noise, and its own path length penalty
 * against the running mean moved by its own lengths; the update's mean is the shards' mean. */
bool gt_gan_pl_step_sharded_(gt_gan *gan, gt_tensor *z, gt_step_stats *st) {
    shard_rows s = rows_of(gan, z->shape[0]);
    gt_params *table = &gan->g->params;
    shard_update u;
    update_begin(&u, gan, table, &table, 1);
    track_rng(&u, &gan->rng);
    track_rng(&u, style_rng(gan));
    for (int m = u.first; m < u.first + u.count; m++) {
        shard_begin(&u);
        double sc[N_SCALARS] = {0};
        sc[S_PL_MEAN] = gan->pl_mean;
        gt_tensor *loss = gt_gan_pl_loss_(gan, rows(z, &s, m), m * s.size, s.size * u.shards,
                                          &sc[S_PL_MEAN], &sc[S_PL_PENALTY]);
        shard_end(&u, m, loss, sc);
    }
    double mean[N_SCALARS];
    st->comm_failed = update_finish(&u, mean) < 0;
    if (st->comm_failed) return false;
    st->pl_penalty = mean[S_PL_PENALTY];
    double norm = gt_params_grad_norm(table);
    st->nonfinite = !gt_gan_pl_update_(gan, mean[S_PL_PENALTY], norm, mean[S_PL_MEAN]);
    return !st->nonfinite;
}
