/* Progressive growing's schedule: phases by images shown, per-resolution batch sizes parsed from
 * progressive.batch ("res:batch,..."), and the real images at the current resolution. */
#include "train/progressive.h"

#include <stdlib.h>
#include <string.h>

static int level_of(int64_t res) {
    for (int k = 0; k < GT_GROW_MAX_LEVELS; k++)
        if ((4 << k) == res) return k;
    return -1;
}

/* progressive.batch: "res:batch" pairs separated by commas (spaces allowed). */
static int parse_batches(gt_grow_sched *s, const char *text, int64_t batch, gt_error *err) {
    const char *p = text;
    while (*p) {
        while (*p == ' ' || *p == ',') p++;
        if (!*p) break;
        char *end;
        long long res = strtoll(p, &end, 10), b = 0;
        bool ok = end != p && *end == ':';
        if (ok) {
            p = end + 1;
            b = strtoll(p, &end, 10);
            ok = end != p && (*end == ',' || *end == ' ' || *end == '\0');
        }
        if (!ok)
            return gt_error_set(err, "config: progressive.batch = '%s': expected 'res:batch' pairs "
                                     "separated by commas, e.g. 4:64,8:64,16:32", text);
        int k = level_of(res);
        if (k < s->start_level || k > s->final_level)
            return gt_error_set(err, "config: progressive.batch = '%s': resolution %lld is not one "
                                     "the run grows through (%d .. %d, powers of two)", text, res,
                                4 << s->start_level, 4 << s->final_level);
        if (b < 1 || b > batch)
            return gt_error_set(err, "config: progressive.batch = '%s': batch %lld at %lldx%lld is "
                                     "not in 1 .. train.batch = %lld (each step takes the first "
                                     "examples of a train.batch-sized batch)", text, b, res, res,
                                (long long)batch);
        s->batch[k] = b;
        p = end;
    }
    return 0;
}

int gt_grow_sched_init(gt_grow_sched *s, const gt_config *c, int final_res, int64_t batch,
                       int mbstd_group, gt_error *err) {
    memset(s, 0, sizeof *s);
    s->final_level = level_of(final_res);
    s->start_level = level_of(c->prog_start);
    if (s->final_level < 1)
        return gt_error_set(err, "config: progressive growing needs square images of side 8 .. 256, "
                                 "a power of two, not %d (data.resolution)", final_res);
    if (s->start_level < 0 || s->start_level > s->final_level)
        return gt_error_set(err, "config: progressive.start = %lld must be a power of two from 4 "
                                 "up to the data's resolution %d", (long long)c->prog_start, final_res);
    s->stable = c->prog_stable_images;
    s->fade = c->prog_fade_images;
    for (int k = 0; k < GT_GROW_MAX_LEVELS; k++) s->batch[k] = batch;
    if (parse_batches(s, c->prog_batch, batch, err) < 0) return -1;
    for (int k = s->start_level; mbstd_group > 0 && k <= s->final_level; k++)
        if (s->batch[k] % mbstd_group != 0)
            return gt_error_set(err, "config: the batch of %lld at %dx%d (progressive.batch) does "
                                     "not divide by model.d.mbstd_group = %d", (long long)s->batch[k],
                                4 << k, 4 << k, mbstd_group);
    return 0;
}

gt_grow_state gt_grow_at(const gt_grow_sched *s, int64_t images) {
    int k = s->start_level;
    gt_grow_state st = {.level = k, .res = 4 << k, .fading = false, .alpha = 1.0};
    int64_t i = images - s->stable;
    while (i >= 0 && k < s->final_level) {
        k++;
        st = (gt_grow_state){.level = k, .res = 4 << k, .fading = false, .alpha = 1.0};
        if (i < s->fade) {
            st.fading = true;
            st.alpha = (double)i / (double)s->fade;
            break;
        }
        i -= s->fade + s->stable;
    }
    return st;
}

gt_tensor *gt_grow_reals(gt_tensor *x, gt_grow_state st) {
    while (x->shape[2] > st.res) x = gt_downsample2x(x);
    if (!st.fading) return x;
    gt_tensor *coarse = gt_upsample2x(gt_downsample2x(x));
    return gt_add(gt_mul_scalar(coarse, (float)(1.0 - st.alpha)), gt_mul_scalar(x, (float)st.alpha));
}
