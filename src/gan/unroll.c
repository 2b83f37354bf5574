/* Unrolled GANs (Metz et al. 2017, tricks.md section 10), done exactly: D's weights are copied
 * into the step's graph and updated K times by D's own optimizer rule written in ops
 * (gt_optim_step_graph: Adam with its moments, or SGD); G's loss is taken against the K-th D, and
 * in the exact mode the gradients of the unrolled updates are themselves recorded
 * (create_graph), so G's gradient flows through all K updates. The surrogate mode records
 * nothing of the updates: G then sees only the K-th D's answer, the first-order variant most
 * implementations use. */
#include "core/engine.h"
#include "gan/gan.h"

/* The starting point: the live trainables (their values at this step), and buffers copied into
 * the step arena so that the unrolled forwards' running-statistic updates stay there. */
static gt_tensor **start_weights(const gt_params *p) {
    gt_tensor **w = gt_step_alloc_((size_t)p->n * sizeof *w);
    for (int i = 0; i < p->n; i++) {
        const gt_param_spec *s = &p->spec[i];
        w[i] = s->kind == GT_PARAM_TRAINABLE ? p->t[i] : gt_clone(p->t[i]);
    }
    return w;
}

/* The real batch of unrolled update k and its labels: a fresh one when the trainer supplies them. */
static gt_tensor *unroll_real(const gt_gan *gan, gt_tensor *real, const int32_t **labels) {
    const gt_unroll_spec *u = &gan->unroll;
    *labels = gan->real_labels;
    return u->next_real ? u->next_real(u->next_real_ctx, labels) : real;
}

/* D's adversarial loss at weights f, with the draws and noise of an ordinary D update. */
static gt_tensor *unrolled_d_loss(gt_gan *gan, int k, int64_t t, const gt_fwd *f, gt_tensor *real,
                                  const int32_t *real_labels, gt_tensor *fake) {
    gt_d_draws dr;
    gt_gan_draw_d(gan, t, real->ndim, real->shape, &dr);
    const gt_critic *c = &gan->critic[k];
    gt_fwd fr = gt_fwd_labelled(f, real_labels), ff = gt_fwd_labelled(f, gan->fake_labels);
    gt_tensor *d_real = gt_critic_forward(c, &fr, gt_add_noise(real, dr.real_noise), NULL);
    gt_tensor *d_fake = gt_critic_forward(c, &ff, gt_add_noise(fake, dr.fake_noise), NULL);
    return gt_loss_d(&gan->loss, k, d_real, d_fake, dr.real_target, dr.fake_target);
}

gt_fwd gt_unroll_critic(gt_gan *gan, int k, int64_t t, gt_tensor *real, gt_tensor *fake) {
    const gt_critic *c = &gan->critic[k];
    gt_params *p = &c->net->params;
    bool exact = gan->unroll.mode == GT_UNROLL_EXACT;
    gt_tensor **w = start_weights(p);
    gt_tensor **train = gt_step_alloc_((size_t)p->n * sizeof *train);
    gt_tensor **grads = gt_step_alloc_((size_t)p->n * sizeof *grads);
    gt_tensor **found = gt_step_alloc_((size_t)p->n * sizeof *found);
    gt_optim_graph_state s;
    gt_optim_graph_state_init(&s, c->opt);
    for (int step = 0; step < gan->unroll.steps; step++) {
        gt_fwd f = {.t = w, .params = p, .train = true};
        const int32_t *real_labels;
        gt_tensor *r = unroll_real(gan, real, &real_labels);
        gt_tensor *loss = unrolled_d_loss(gan, k, t, &f, r, real_labels, fake);
        int n = 0;
        for (int i = 0; i < p->n; i++)
            if (p->spec[i].kind == GT_PARAM_TRAINABLE) train[n++] = w[i];
        gt_grad(1, &loss, NULL, n, train, found, exact);
        for (int i = 0, j = 0; i < p->n; i++)
            grads[i] = p->spec[i].kind == GT_PARAM_TRAINABLE ? found[j++] : NULL;
        gt_tensor **next = gt_step_alloc_((size_t)p->n * sizeof *next);
        gt_optim_step_graph(c->opt, &s, w, grads, next);
        w = next;
    }
    return (gt_fwd){.t = w, .params = p, .train = true};
}

gt_tensor *gt_g_objective_unrolled(gt_gan *gan, int64_t t, gt_tensor *fake, gt_tensor *real) {
    GT_CHECK(real != NULL, "gt_g_objective_unrolled: unrolling needs the real batch");
    gt_fwd unrolled[GT_MAX_CRITICS];
    const gt_fwd *fwds[GT_MAX_CRITICS];
    for (int k = 0; k < gan->n_critics; k++) {
        unrolled[k] = gt_unroll_critic(gan, k, t, real, fake);
        fwds[k] = &unrolled[k];
    }
    return gt_g_objective_with(gan, fake, real, fwds);
}
