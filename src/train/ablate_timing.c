/* gantry ablate --budget Nm --budget-as-steps S (ablate.h): settings compared at equal cost, by
 * runs that are reproducible to the bit.
 *
 * A budget in minutes compares settings at equal cost, but its runs stop wherever the clock
 * finds them: they need the machine to themselves, one at a time, and cannot be repeated. Here
 * each combination is first trained alone for S seconds (its seed-0 configuration, train.steps
 * unlimited, every core), and its rate turns the budget into a number of steps:
 *
 *     steps = floor(steps in the timing run x budget seconds / S)
 *
 * The runs then train by steps. gantry's numbers do not depend on the thread count, so a run
 * made that way is the run the budget would have made on the timed machine, whatever else shares
 * the machine meanwhile (--jobs 2 at one thread each, say), and a rerun repeats it bit for bit.
 *
 * The rates are kept in DIR/timing.json, one entry per combination, keyed by a hash of the
 * combination's resolved configuration with the seed, the step count, the minutes and the thread
 * count left out (they do not change the cost of a step). A rerun trains the same steps, and a
 * --reuse folder's rate of the same configuration is copied in (with "from" naming the folder)
 * instead of timing it again, so a staged search's baseline, timed in the stage before, gets the
 * same steps and its runs are linked, not trained again; each ablation's timing.json still
 * holds every rate its runs used. */
#include "train/ablate_internal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "io/atomic.h" /* GT_PATH_MAX */
#include "io/config.h"
#include "io/files.h"
#include "train/session.h"

int gt_ablate_n_combinations(const gt_ablate_spec *s) { return gt_ablate_n_combos_(s); }

/* The base file, every --set, then combination c's values: the configuration of its runs
 * before the runner's own keys (seed, steps, minutes, threads). */
static int combo_config(const gt_ablate_spec *s, int c, gt_config *cfg, gt_error *err) {
    gt_config_defaults(cfg);
    if (gt_config_load_file(cfg, s->config, err) < 0) return -1;
    for (int i = 0; i < s->n_sets; i++)
        if (gt_config_set(cfg, s->sets[i], "--set", err) < 0) return -1;
    for (int k = 0; k < s->n_vary; k++)
        if (gt_ablate_apply_value_(cfg, &s->vary[k], gt_ablate_value_index_(s, c, k), err) < 0)
            return -1;
    return 0;
}

/* Combination c's key in timing.json: its configuration, without what leaves a step's cost as
 * it is, hashed to 16 hex digits, then the timing's thread count ("0123456789abcdef-t2"). */
#define KEY_MAX 32
static int combo_key(const gt_ablate_spec *s, int c, char key[KEY_MAX], gt_error *err) {
    gt_config cfg;
    if (combo_config(s, c, &cfg, err) < 0) return -1;
    cfg.train_seed = 0;
    cfg.train_steps = 0;
    cfg.train_max_minutes = 0;
    char *text = NULL;
    if (gt_ablate_config_text_(&cfg, &text, err) < 0) return -1; /* threads as 0 */
    snprintf(key, KEY_MAX, "%016llx-t%d", (unsigned long long)gt_fnv1a64(text), s->timing_threads);
    free(text);
    return 0;
}

static void timing_path(const char *dir, char *path, size_t cap) {
    snprintf(path, cap, "%s/timing.json", dir);
}

/* DIR/timing.json's object, or an empty one when there is none; NULL (err set) when the file
 * is there but is not a timing table. */
static cJSON *load_timing(const char *dir, gt_error *err) {
    char path[GT_PATH_MAX + 16];
    timing_path(dir, path, sizeof path);
    char *text = gt_read_file(path, (size_t)1 << 24, NULL);
    if (!text) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddArrayToObject(j, "combinations");
        return j;
    }
    cJSON *j = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "combinations"))) {
        cJSON_Delete(j);
        gt_error_set(err, "%s: not a timing table that gantry ablate wrote (no \"combinations\" "
                          "list): remove it to time the combinations again", path);
        return NULL;
    }
    return j;
}

/* The entry of timing table j with this key, or NULL. */
static const cJSON *find_entry(const cJSON *j, const char *key) {
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(j, "combinations")) {
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(e, "key");
        if (cJSON_IsString(k) && strcmp(k->valuestring, key) == 0) return e;
    }
    return NULL;
}

/* An entry's rate (steps a minute), or 0 when it has none that makes sense. */
static double entry_rate(const cJSON *e) {
    double steps = gt_ablate_number_(e, "timing_steps"), seconds = gt_ablate_number_(e, "timing_seconds");
    if (!(steps >= 1) || !(seconds > 0) || !isfinite(steps / seconds)) return 0;
    return steps * 60 / seconds;
}

int gt_ablate_timed_steps(const gt_ablate_spec *s, int c, long long *steps, double *per_minute,
                          gt_error *err) {
    char key[KEY_MAX];
    if (combo_key(s, c, key, err) < 0) return -1;
    cJSON *j = load_timing(s->out, err);
    if (!j) return -1;
    double rate = entry_rate(find_entry(j, key));
    cJSON_Delete(j);
    if (!(rate > 0)) return 0;
    *per_minute = rate;
    double n = floor(rate * s->budget_minutes);
    *steps = n < 1 ? 1 : n >= (double)GT_ABLATE_STEPS_UNLIMITED_ ? GT_ABLATE_STEPS_UNLIMITED_ - 1 : (long long)n;
    return 1;
}

/* One timing: what was timed, how, and (when it was read from a --reuse folder) where from. */
typedef struct {
    double seconds, steps;
    int threads;
    const char *from; /* NULL: timed here */
} timing;

/* Adds (or replaces) combination c's entry in DIR/timing.json, atomically. */
static int record_timing(const gt_ablate_spec *s, int c, const char *key, const timing *tm,
                         gt_error *err) {
    cJSON *j = load_timing(s->out, err);
    if (!j) return -1;
    cJSON *list = cJSON_GetObjectItemCaseSensitive(j, "combinations");
    for (int i = cJSON_GetArraySize(list) - 1; i >= 0; i--) {
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(list, i), "key");
        if (cJSON_IsString(k) && strcmp(k->valuestring, key) == 0) cJSON_DeleteItemFromArray(list, i);
    }
    char name[GT_ABLATE_RUN_NAME_MAX_ + 16];
    gt_ablate_combination_name(s, c, name, sizeof name);
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "key", key);
    cJSON_AddStringToObject(e, "combination", name);
    cJSON_AddNumberToObject(e, "timing_seconds", tm->seconds);
    cJSON_AddNumberToObject(e, "timing_steps", tm->steps);
    cJSON_AddNumberToObject(e, "threads", tm->threads);
    cJSON_AddNumberToObject(e, "steps_per_minute", tm->steps * 60 / tm->seconds);
    if (tm->from) cJSON_AddStringToObject(e, "from", tm->from);
    cJSON_AddItemToArray(list, e);
    char path[GT_PATH_MAX + 16];
    timing_path(s->out, path, sizeof path);
    int rc = gt_ablate_write_json_(path, j, err);
    cJSON_Delete(j);
    return rc;
}

int gt_ablate_adopt_timing(const gt_ablate_spec *s, int c, const char **from, gt_error *err) {
    char key[KEY_MAX];
    if (combo_key(s, c, key, err) < 0) return -1;
    for (int d = 0; d < s->n_reuse; d++) {
        gt_error ignored; /* a folder without a timing table has nothing to give */
        cJSON *j = load_timing(s->reuse[d], &ignored);
        const cJSON *e = find_entry(j, key);
        timing tm = {gt_ablate_number_(e, "timing_seconds"), gt_ablate_number_(e, "timing_steps"),
                     gt_ablate_integer_(e, "threads"), s->reuse[d]};
        bool usable = entry_rate(e) > 0;
        cJSON_Delete(j);
        if (!usable) continue;
        *from = s->reuse[d];
        return record_timing(s, c, key, &tm, err) < 0 ? -1 : 1;
    }
    return 0;
}

int gt_ablate_time_combination(const gt_ablate_spec *s, int c, const volatile sig_atomic_t *stop,
                               gt_error *err) {
    char key[KEY_MAX], name[GT_ABLATE_RUN_NAME_MAX_ + 16], dir[GT_PATH_MAX], ckpt[GT_PATH_MAX + 32];
    gt_config cfg;
    if (combo_key(s, c, key, err) < 0 || combo_config(s, c, &cfg, err) < 0) return -1;
    cfg.train_seed = 0;
    cfg.train_steps = GT_ABLATE_STEPS_UNLIMITED_;
    cfg.train_max_minutes = s->timing_seconds / 60;
    cfg.train_threads = s->timing_threads;
    gt_ablate_combination_name(s, c, name, sizeof name);
    snprintf(dir, sizeof dir, "%s/timing/%s", s->out, name);
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", dir);
    /* an interrupted earlier timing's checkpoint and metrics: this one starts afresh */
    char metrics[GT_PATH_MAX + 32];
    snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", dir);
    const char *const earlier[] = {ckpt, metrics};
    for (int i = 0; i < 2; i++)
        if (unlink(earlier[i]) < 0 && errno != ENOENT)
            return gt_error_set(err, "%s: cannot remove an earlier timing's file: %s", earlier[i],
                                strerror(errno));
    gt_train_request req = {.dir = dir, .cfg = &cfg, .quiet = true, .log = stderr, .stop = stop};
    gt_train_outcome trained;
    if (gt_train_run(&req, &trained, err) < 0) return -1;
    if (!trained.finished) return 0; /* stopped: nothing recorded */
    if (trained.steps < 1)
        return gt_error_set(err, "%s: no step finished in the %g seconds of timing: give "
                                 "--budget-as-steps more seconds", name, s->timing_seconds);
    timing tm = {s->timing_seconds, (double)trained.steps, s->timing_threads, NULL};
    if (record_timing(s, c, key, &tm, err) < 0) return -1;
    unlink(ckpt); /* only its rate counts; its log, metrics and report stay */
    return 0;
}
