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
 * holds every rate its runs used.
 *
 * A staged search whose stages are timed on different days, or machines, would compare rates
 * taken at different speeds. --timing-calibrate keeps its rates in one machine's speed: before
 * timing anything new, it times again the first combination whose rate came from a --reuse
 * folder, and every rate timed afterwards in this ablation is multiplied by
 *
 *     scale = that combination's rate in the --reuse folder / its rate now
 *
 * (timing.json's "calibration" holds both; each entry timed under it keeps its raw steps and
 * its "scale").
 *
 * Two timings of the same arithmetic differ by the machine's noise (5-8% on a shared machine,
 * two minutes each), which would hand one of two learning rates more steps than the other.
 * --equal-step-cost says the combinations differ only in keys that leave a step's cost as it is
 * (checked: learning rates, betas, EMA's decay, the initialization), and every combination then
 * takes the first one's rate: its key stands for them all. The others' own keys get that rate
 * too (gt_ablate_record_shared_rates), for the next stage of a search, which starts from
 * whichever of them won. */
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

/* Combination c's own key in timing.json: its configuration, without what leaves a step's cost
 * as it is, hashed to 16 hex digits, then the timing's thread count ("0123456789abcdef-t2"). */
#define KEY_MAX 32
static int own_key(const gt_ablate_spec *s, int c, char key[KEY_MAX], gt_error *err) {
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

/* The key combination c's rate is read under: its own, or under --equal-step-cost the first
 * combination's, which stands for them all. */
static int combo_key(const gt_ablate_spec *s, int c, char key[KEY_MAX], gt_error *err) {
    return own_key(s, s->equal_step_cost ? 0 : c, key, err);
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

/* An object's "scale" (a calibration's, or an entry timed under one), 1 when it has none. */
static double scale_of(const cJSON *o) {
    double scale = gt_ablate_number_(o, "scale");
    return scale > 0 && isfinite(scale) ? scale : 1;
}

/* An entry's rate (steps a minute, its scale applied), or 0 when it has none that makes sense. */
static double entry_rate(const cJSON *e) {
    double steps = gt_ablate_number_(e, "timing_steps"), seconds = gt_ablate_number_(e, "timing_seconds");
    if (!(steps >= 1) || !(seconds > 0) || !isfinite(steps / seconds)) return 0;
    return steps * 60 / seconds * scale_of(e);
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

/* One timing: what was timed, how, the calibration's scale it takes (1: none), (when it was
 * read from a --reuse folder) where from, and (under --equal-step-cost, for a combination other
 * than the first) whose rate it is. */
typedef struct {
    double seconds, steps, scale;
    int threads;
    const char *from;         /* NULL: timed here */
    const char *same_cost_as; /* NULL: its own */
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
    if (tm->scale != 1) cJSON_AddNumberToObject(e, "scale", tm->scale);
    cJSON_AddNumberToObject(e, "steps_per_minute", tm->steps * 60 / tm->seconds * tm->scale);
    if (tm->from) cJSON_AddStringToObject(e, "from", tm->from);
    if (tm->same_cost_as) cJSON_AddStringToObject(e, "same_cost_as", tm->same_cost_as);
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
                     scale_of(e), gt_ablate_integer_(e, "threads"), s->reuse[d], NULL};
        bool usable = entry_rate(e) > 0;
        cJSON_Delete(j);
        if (!usable) continue;
        *from = s->reuse[d];
        return record_timing(s, c, key, &tm, err) < 0 ? -1 : 1;
    }
    return 0;
}

/* Trains combination c (seed 0) for timing_seconds on timing_threads in DIR/timing/NAME+suffix,
 * afresh: 1 with *steps set, 0 when stopped, -1 on error. Only the rate counts, so the
 * checkpoint goes; the log, metrics and report stay. */
static int timing_run(const gt_ablate_spec *s, int c, const char *suffix, const volatile sig_atomic_t *stop,
                      double *steps, gt_error *err) {
    char name[GT_ABLATE_RUN_NAME_MAX_ + 16], dir[GT_PATH_MAX], ckpt[GT_PATH_MAX + 32];
    gt_config cfg;
    if (combo_config(s, c, &cfg, err) < 0) return -1;
    cfg.train_seed = 0;
    cfg.train_steps = GT_ABLATE_STEPS_UNLIMITED_;
    cfg.train_max_minutes = s->timing_seconds / 60;
    cfg.train_threads = s->timing_threads;
    gt_ablate_combination_name(s, c, name, sizeof name);
    snprintf(dir, sizeof dir, "%s/timing/%s%s", s->out, name, suffix);
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
    if (!trained.finished) return 0;
    if (trained.steps < 1)
        return gt_error_set(err, "%s: no step finished in the %g seconds of timing: give "
                                 "--budget-as-steps more seconds", name, s->timing_seconds);
    unlink(ckpt);
    *steps = (double)trained.steps;
    return 1;
}

int gt_ablate_time_combination(const gt_ablate_spec *s, int c, const volatile sig_atomic_t *stop,
                               gt_error *err) {
    char key[KEY_MAX];
    double steps;
    if (combo_key(s, c, key, err) < 0) return -1;
    int ran = timing_run(s, c, "", stop, &steps, err);
    if (ran <= 0) return ran; /* stopped: nothing recorded */
    cJSON *j = load_timing(s->out, err);
    if (!j) return -1;
    timing tm = {s->timing_seconds, steps, scale_of(cJSON_GetObjectItemCaseSensitive(j, "calibration")),
                 s->timing_threads, NULL, NULL};
    cJSON_Delete(j);
    return record_timing(s, c, key, &tm, err);
}

/* A staged search's next stage starts from this one's winner, which may be any combination: its
 * --reuse of this folder looks for the winner's own key. So under --equal-step-cost each
 * combination's own key gets an entry too, the first combination's rate with "same_cost_as"
 * naming it. */
int gt_ablate_record_shared_rates(const gt_ablate_spec *s, gt_error *err) {
    char first_key[KEY_MAX], key[KEY_MAX], first[GT_ABLATE_RUN_NAME_MAX_ + 16];
    if (!s->equal_step_cost) return 0;
    if (own_key(s, 0, first_key, err) < 0) return -1;
    gt_ablate_combination_name(s, 0, first, sizeof first);
    cJSON *j = load_timing(s->out, err); /* the rates as they were: each c adds its own key only */
    if (!j) return -1;
    const cJSON *e = find_entry(j, first_key), *from = cJSON_GetObjectItemCaseSensitive(e, "from");
    timing tm = {gt_ablate_number_(e, "timing_seconds"), gt_ablate_number_(e, "timing_steps"),
                 scale_of(e), gt_ablate_integer_(e, "threads"),
                 cJSON_IsString(from) ? from->valuestring : NULL, first};
    int rc = 0;
    for (int c = 1; rc == 0 && entry_rate(e) > 0 && c < gt_ablate_n_combos_(s); c++) {
        rc = own_key(s, c, key, err);
        if (rc == 0 && !find_entry(j, key)) rc = record_timing(s, c, key, &tm, err);
    }
    cJSON_Delete(j);
    return rc < 0 ? -1 : 0;
}

/* ---- --timing-calibrate ---- */

int gt_ablate_calibration_needed(const gt_ablate_spec *s, int *c, gt_error *err) {
    cJSON *j = load_timing(s->out, err);
    if (!j) return -1;
    bool done = cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(j, "calibration"));
    /* a rate timed here before the calibration would stay in another machine's speed */
    bool timed_here = false;
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(j, "combinations"))
        timed_here |= !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "from"));
    int n = gt_ablate_n_combos_(s), found = -1;
    for (int i = 0; i < n && !done && found < 0; i++) {
        char key[KEY_MAX];
        if (combo_key(s, i, key, err) < 0) {
            cJSON_Delete(j);
            return -1;
        }
        e = find_entry(j, key);
        if (entry_rate(e) > 0 && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "from"))) found = i;
    }
    cJSON_Delete(j);
    if (done) return 0;
    if (timed_here)
        return gt_error_set(err, "--timing-calibrate: %s/timing.json already holds rates timed without "
                                 "a calibration: remove it to time them again, calibrated", s->out);
    if (found < 0)
        return gt_error_set(err, "--timing-calibrate: no combination of %s has a rate from a --reuse "
                                 "folder to time again (give --reuse the folder of an earlier stage "
                                 "that holds one of these combinations)", s->out);
    *c = found;
    return 1;
}

int gt_ablate_calibrate(const gt_ablate_spec *s, int c, const volatile sig_atomic_t *stop, gt_error *err) {
    char key[KEY_MAX];
    double steps;
    if (combo_key(s, c, key, err) < 0) return -1;
    int ran = timing_run(s, c, "-calibration", stop, &steps, err);
    if (ran <= 0) return ran;
    cJSON *j = load_timing(s->out, err);
    if (!j) return -1;
    const cJSON *e = find_entry(j, key);
    double then = entry_rate(e), now = steps * 60 / s->timing_seconds;
    if (!(then > 0)) {
        cJSON_Delete(j);
        return gt_error_set(err, "%s/timing.json lost the rate of the combination it calibrates by", s->out);
    }
    char name[GT_ABLATE_RUN_NAME_MAX_ + 16];
    gt_ablate_combination_name(s, c, name, sizeof name);
    cJSON *cal = cJSON_CreateObject();
    cJSON_AddStringToObject(cal, "combination", name);
    cJSON_AddStringToObject(cal, "key", key);
    const cJSON *from = cJSON_GetObjectItemCaseSensitive(e, "from");
    cJSON_AddStringToObject(cal, "from", cJSON_IsString(from) ? from->valuestring : "");
    cJSON_AddNumberToObject(cal, "steps_per_minute_then", then);
    cJSON_AddNumberToObject(cal, "timing_seconds", s->timing_seconds);
    cJSON_AddNumberToObject(cal, "timing_steps", steps);
    cJSON_AddNumberToObject(cal, "steps_per_minute_now", now);
    cJSON_AddNumberToObject(cal, "scale", then / now);
    cJSON_AddItemToObject(j, "calibration", cal);
    char path[GT_PATH_MAX + 16];
    timing_path(s->out, path, sizeof path);
    int rc = gt_ablate_write_json_(path, j, err);
    cJSON_Delete(j);
    return rc;
}

/* ---- --equal-step-cost ---- */

/* Whether key is one of the NULL-terminated list's. */
static bool listed(const char *key, const char *const *list) {
    for (; *list; list++)
        if (strcmp(key, *list) == 0) return true;
    return false;
}

/* Whether section.key leaves a training step's arithmetic as it is: an optimizer's constants,
 * EMA's decay, how the weights start. */
static bool costs_nothing(const char *section, const char *key) {
    static const char *const optimizer[] = {"lr", "beta1", "beta2", "eps", "momentum", NULL};
    static const char *const model[] = {"init", "init_std", NULL};
    if (strncmp(section, "optim.", 6) == 0) return listed(key, optimizer);
    if (strncmp(section, "model.", 6) == 0) return listed(key, model);
    return strcmp(section, "train") == 0 && strcmp(key, "ema_decay") == 0;
}

/* Combination c's configuration against the first one's: 0 when every key that differs costs
 * nothing, -1 (err set) at the first that may cost something. */
static int check_costs(const gt_ablate_spec *s, int c, const gt_config *first, gt_error *err) {
    gt_config cfg;
    if (combo_config(s, c, &cfg, err) < 0) return -1;
    gt_config_difference d;
    for (int from = 0; gt_config_next_difference(first, &cfg, &from, &d);) {
        if (costs_nothing(d.section, d.key)) continue;
        char name[GT_ABLATE_RUN_NAME_MAX_ + 16];
        gt_ablate_combination_name(s, c, name, sizeof name);
        return gt_error_set(err, "--equal-step-cost: combination %s sets %s.%s, which can change a "
                                 "step's cost ('%s = %s' where the first combination has '%s = %s'); "
                                 "only the optimizers' lr, beta1, beta2, eps and momentum, "
                                 "train.ema_decay and the models' init and init_std may differ",
                            name, d.section, d.key, d.key, d.b, d.key, d.a);
    }
    return 0;
}

int gt_ablate_check_equal_step_cost(const gt_ablate_spec *s, gt_error *err) {
    gt_config first;
    if (combo_config(s, 0, &first, err) < 0) return -1;
    for (int c = 1; c < gt_ablate_n_combos_(s); c++)
        if (check_costs(s, c, &first, err) < 0) return -1;
    return 0;
}
