/* Style mixing grids of a style-based generator (StyleGAN2's style_mixing.py, as one grid):
 * coarse styles from the rows' latents, fine styles from the columns'. */
#include <stdlib.h>

#include "train/trainer.h"

int gt_trainer_style_mix(gt_trainer *t, int k, uint64_t seed, int cutoff, float *out, gt_error *err) {
    const gt_model *g = &t->g;
    if (!g->family->mapping || !g->family->synthesis)
        return gt_error_set(err, "style mixing needs a style-based generator (model.g.family = "
                                 "stylegan2), not %s", g->family->name);
    if (cutoff < 0 || cutoff > gt_model_style_count(g))
        return gt_error_set(err, "style mixing: the crossover %d is not in 0 .. %d (G's style "
                                 "layers)", cutoff, gt_model_style_count(g));
    gt_params *p = t->has_ema ? &t->ema.shadow : &t->g.params;
    gt_fwd f = gt_fwd_of(p, false);
    bool prev = gt_grad_set(false);
    gt_rng rng = gt_rng_seed(seed);
    int64_t zs[2] = {k, t->cfg.g_z_dim}, per = gt_trainer_example_size(t);
    gt_tensor *ws = g->family->mapping(g, &f, gt_rand_normal(&rng, 2, zs, 0, 1)); /* [k, L, D] */
    int64_t d = ws->shape[2], L = gt_model_style_count(g);
    int64_t one[4] = {1, k, L, d}, col[4] = {k, 1, L, d}, grid[4] = {k, k, L, d};
    gt_tensor *rows = gt_expand(gt_reshape(ws, 4, col), 4, grid);   /* [i, j] = ws_i */
    gt_tensor *cols = gt_expand(gt_reshape(ws, 4, one), 4, grid);   /* [i, j] = ws_j */
    gt_tensor *parts[2] = {gt_slice(rows, 2, 0, cutoff), gt_slice(cols, 2, cutoff, L)};
    gt_tensor *mixed = cutoff == 0 ? cols : cutoff == L ? rows : gt_concat(2, parts, 2);
    int64_t flat[3] = {(int64_t)k * k, L, d};
    gt_tensor *all = gt_reshape(mixed, 3, flat);
    for (int64_t i = 0; i < (int64_t)k * k; i += k) {   /* one row of the grid at a time */
        gt_tensor *x = g->family->synthesis(g, &f, gt_slice(all, 0, i, i + k));
        gt_copy_to(out + i * per, x);
    }
    gt_step_end();
    gt_grad_set(prev);
    return 0;
}
