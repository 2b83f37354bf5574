/* gantry ablate's engine (ablate.h): the plan of runs, the children that train and score them,
 * the per-run state that lets an interrupted ablation resume, and the aggregated table. */
#include "train/ablate_internal.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/atomic.h"
#include "io/config.h"
#include "io/files.h"
#include "train/score.h"
#include "train/session.h"
#include "train/trainer.h"

#define MAX_OVERRIDES (GT_ABLATE_MAX_SETS + GT_ABLATE_MAX_KEYS * GT_ABLATE_CHOICE_KEYS + 4)

/* ---- the plan --------------------------------------------------------------------------------- */

typedef struct run {
    int combo, seed;
    char name[GT_ABLATE_RUN_NAME_MAX_ + 16]; /* folder under runs/: "optim.d.lr=1e-4-s0" */
    char dir[GT_PATH_MAX];
    char signature[4096]; /* what makes the run (train.threads aside) */
    long long steps;      /* --budget-as-steps: its combination's steps (else 0) */
    bool trained;         /* its checkpoint is final */
    cJSON *result;        /* eval's JSON object; NULL until scored */
    char error[700];      /* why it failed, with the tail of the child's output */
} run;

void gt_ablate_combination_name(const gt_ablate_spec *s, int c, char *name, size_t cap) {
    size_t n = 0;
    for (int k = 0; k < s->n_vary && n < cap; k++)
        n += (size_t)snprintf(name + n, cap - n, "%s%s=%s", k ? "," : "", s->vary[k].key,
                              gt_ablate_combo_value_(s, c, k));
    if (!n) snprintf(name, cap, "base");
    gt_ablate_make_safe_(name);
}

static void run_name(const gt_ablate_spec *s, int c, int seed, char *name, size_t cap) {
    gt_ablate_combination_name(s, c, name, cap);
    size_t n = strlen(name);
    snprintf(name + n, cap - n, "-s%d", seed);
}

typedef struct {
    char text[MAX_OVERRIDES][GT_ABLATE_CHOICE_MAX + GT_ABLATE_NAME_MAX];
    int n;
} overrides;

/* Appends "key=value", or key alone when it is a whole assignment already (value NULL). */
static void add_override(overrides *o, const char *key, const char *value) {
    snprintf(o->text[o->n++], sizeof o->text[0], "%s%s%s", key, value ? "=" : "", value ? value : "");
}

/* The training overrides of a run, in the order that lets a --set train.threads win. */
static void run_overrides(const gt_ablate_spec *s, const run *r, bool threads, overrides *o) {
    char num[64];
    o->n = 0;
    bool by_clock = s->budget_minutes > 0 && !(s->timing_seconds > 0);
    long long steps = r->steps > 0 ? r->steps : by_clock ? GT_ABLATE_STEPS_UNLIMITED_ : s->budget_steps;
    snprintf(num, sizeof num, "%lld", steps);
    add_override(o, "train.steps", num);
    if (by_clock) {
        snprintf(num, sizeof num, "%.17g", s->budget_minutes);
        add_override(o, "train.max_minutes", num);
    }
    snprintf(num, sizeof num, "%d", s->threads);
    if (threads) add_override(o, "train.threads", num);
    for (int i = 0; i < s->n_sets; i++) add_override(o, s->sets[i], NULL);
    for (int k = 0; k < s->n_vary; k++) {
        const gt_ablate_vary *v = &s->vary[k];
        if (!v->choice) {
            add_override(o, v->key, gt_ablate_combo_value_(s, r->combo, k));
            continue;
        }
        char assignment[GT_ABLATE_CHOICE_MAX];
        const char *p = v->assign[gt_ablate_value_index_(s, r->combo, k)];
        while ((p = gt_ablate_next_assignment_(p, assignment, sizeof assignment)))
            add_override(o, assignment, NULL);
    }
    snprintf(num, sizeof num, "%d", r->seed);
    add_override(o, "train.seed", num);
}

/* The base config and the overrides without train.threads, which changes the speed of a run
 * but not what it is: a resumed ablation may use other --jobs. */
static void run_signature(const gt_ablate_spec *s, run *r) {
    overrides o;
    run_overrides(s, r, false, &o);
    size_t n = (size_t)snprintf(r->signature, sizeof r->signature, "--config %s", s->config);
    for (int i = 0; i < o.n && n < sizeof r->signature; i++)
        if (strncmp(o.text[i], "train.threads=", 14) != 0)
            n += (size_t)snprintf(r->signature + n, sizeof r->signature - n, " %s", o.text[i]);
}

static int make_dir(const char *path, gt_error *err) {
    char buf[GT_PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1;; p++) {
        if (*p && *p != '/') continue;
        char c = *p;
        *p = '\0';
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return gt_error_set(err, "%s: cannot create folder: %s", buf, strerror(errno));
        if (!(*p = c)) return 0;
    }
}

static void state_path(const run *r, char *path, size_t cap) {
    snprintf(path, cap, "%s/ablate.json", r->dir);
}

/* "--n N", "--mode-metric pacgan", both or "" (eval's defaults): recorded with a result so that
 * a new --eval-n or --mode-metric rescores. */
static void eval_args_text(const gt_ablate_spec *s, char *buf, size_t cap) {
    char n[32] = "";
    if (s->eval_n > 0) snprintf(n, sizeof n, "--n %lld", s->eval_n);
    bool pacgan = s->mode_metric == GT_MODE_METRIC_PACGAN;
    snprintf(buf, cap, "%s%s%s", n, n[0] && pacgan ? " " : "", pacgan ? "--mode-metric pacgan" : "");
}

/* (ablate_internal.h) */
int gt_ablate_write_json_(const char *path, const cJSON *j, gt_error *err) {
    char *text = cJSON_Print(j);
    if (!text) return gt_error_set(err, "%s: out of memory", path);
    gt_atomic a;
    FILE *f = gt_atomic_open(path, &a, err);
    if (f) fprintf(f, "%s\n", text);
    free(text);
    return f ? gt_atomic_commit(&a, err) : -1;
}

/* runs/NAME/ablate.json: the run's signature, whether training finished, eval's result, and
 * why its last attempt failed ("" when it did not): a merge reads every run's outcome here. */
static int save_state(const gt_ablate_spec *s, const run *r, gt_error *err) {
    char path[GT_PATH_MAX + 16], eval_args[64];
    state_path(r, path, sizeof path);
    eval_args_text(s, eval_args, sizeof eval_args);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "signature", r->signature);
    cJSON_AddBoolToObject(j, "trained", r->trained);
    cJSON_AddStringToObject(j, "eval_args", eval_args);
    cJSON_AddItemToObject(j, "result",
                          r->result ? cJSON_Duplicate(r->result, true) : cJSON_CreateNull());
    cJSON_AddStringToObject(j, "error", r->error);
    int rc = gt_ablate_write_json_(path, j, err);
    cJSON_Delete(j);
    return rc;
}

/* A copy of a state file's result when it was scored as this ablation scores (the same --eval-n
 * and --mode-metric), else NULL: another scoring is scored again. */
static cJSON *result_scored_alike(const gt_ablate_spec *s, const cJSON *state) {
    char eval_args[64];
    eval_args_text(s, eval_args, sizeof eval_args);
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(state, "eval_args");
    const cJSON *result = cJSON_GetObjectItemCaseSensitive(state, "result");
    if (!cJSON_IsString(args) || strcmp(args->valuestring, eval_args) != 0 || !cJSON_IsObject(result))
        return NULL;
    return cJSON_Duplicate(result, true);
}

/* What an earlier ablation left in the run's folder: a state made with other settings is an
 * error (its checkpoint is not this run's), a finished training and a result are kept. */
static int load_state(const gt_ablate_spec *s, run *r, gt_error *err) {
    char path[GT_PATH_MAX + 16];
    state_path(r, path, sizeof path);
    char *text = gt_read_file(path, (size_t)1 << 20, NULL);
    if (!text) return 0;
    cJSON *j = cJSON_Parse(text);
    free(text);
    const cJSON *sig = cJSON_GetObjectItemCaseSensitive(j, "signature");
    if (!cJSON_IsString(sig) || strcmp(sig->valuestring, r->signature) != 0) {
        gt_error_set(err,
                     "%s was made by an ablation with other settings (%.300s; now %.300s): "
                     "choose another --out",
                     r->dir, cJSON_IsString(sig) ? sig->valuestring : "unreadable", r->signature);
        cJSON_Delete(j);
        return -1;
    }
    r->trained = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "trained"));
    gt_ablate_string_(j, "error", r->error, sizeof r->error);
    if (r->trained) r->result = result_scored_alike(s, j);
    cJSON_Delete(j);
    return 0;
}

static void free_runs(run *runs, int n) {
    for (int i = 0; runs && i < n; i++) cJSON_Delete(runs[i].result);
    free(runs);
}

/* --budget-as-steps: run r's steps, its combination's (the first seed looks them up). */
static int timed_steps(const gt_ablate_spec *s, const run *runs, run *r, gt_error *err) {
    if (r->seed > 0) {
        r->steps = runs[r->combo * s->seeds].steps;
        return 0;
    }
    double per_minute;
    int found = gt_ablate_timed_steps(s, r->combo, &r->steps, &per_minute, err);
    if (found < 0) return -1;
    if (!found) {
        char name[GT_ABLATE_RUN_NAME_MAX_ + 16];
        gt_ablate_combination_name(s, r->combo, name, sizeof name);
        return gt_error_set(err,
                            "%s: combination %s has not been timed (%s/timing.json has no rate "
                            "for it): run the same gantry ablate without --shard, or with "
                            "--time-only, to time it first",
                            s->out, name, s->out);
    }
    return 0;
}

/* Every combination times every seed, with folders made and earlier state read, or NULL. */
static run *plan(const gt_ablate_spec *s, int *n_runs, gt_error *err) {
    int n = gt_ablate_n_combos_(s) * s->seeds;
    run *runs = calloc((size_t)n, sizeof *runs);
    if (!runs) {
        gt_error_set(err, "out of memory for %d runs", n);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        run *r = &runs[i];
        r->combo = i / s->seeds;
        r->seed = i % s->seeds;
        run_name(s, r->combo, r->seed, r->name, sizeof r->name);
        snprintf(r->dir, sizeof r->dir, "%s/runs/%s", s->out, r->name);
        if (s->timing_seconds > 0 && timed_steps(s, runs, r, err) < 0) {
            free_runs(runs, n);
            return NULL;
        }
        run_signature(s, r);
        if (make_dir(r->dir, err) < 0 || load_state(s, r, err) < 0) {
            free_runs(runs, n);
            return NULL;
        }
    }
    *n_runs = n;
    return runs;
}

/* ---- the plan on disk: DIR/plan.json ------------------------------------------------------------ */

static bool is_threads_set(const char *assignment) {
    char key[GT_CFG_STR_MAX];
    gt_ablate_key_of_(assignment, key, sizeof key);
    return strcmp(key, "train.threads") == 0;
}

/* The spec as JSON; without_threads leaves out a --set train.threads, which changes a run's
 * speed but not its numbers (shards may differ in it). */
static cJSON *plan_json(const gt_ablate_spec *s, bool without_threads) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "config", s->config);
    cJSON *vary = cJSON_AddArrayToObject(j, "vary");
    for (int k = 0; k < s->n_vary; k++) {
        cJSON *v = cJSON_CreateObject(), *values = cJSON_CreateArray();
        cJSON_AddStringToObject(v, "key", s->vary[k].key);
        for (int i = 0; i < s->vary[k].n_values; i++)
            cJSON_AddItemToArray(values, cJSON_CreateString(s->vary[k].values[i]));
        cJSON_AddItemToObject(v, "values", values);
        if (s->vary[k].choice) { /* --choose: each label's assignments */
            cJSON *assign = cJSON_AddArrayToObject(v, "assign");
            for (int i = 0; i < s->vary[k].n_values; i++)
                cJSON_AddItemToArray(assign, cJSON_CreateString(s->vary[k].assign[i]));
        }
        cJSON_AddItemToArray(vary, v);
    }
    cJSON *sets = cJSON_AddArrayToObject(j, "set");
    for (int i = 0; i < s->n_sets; i++)
        if (!without_threads || !is_threads_set(s->sets[i]))
            cJSON_AddItemToArray(sets, cJSON_CreateString(s->sets[i]));
    cJSON_AddNumberToObject(j, "seeds", s->seeds);
    cJSON_AddNumberToObject(j, "budget_steps", (double)s->budget_steps);
    cJSON_AddNumberToObject(j, "budget_minutes", s->budget_minutes);
    cJSON_AddNumberToObject(j, "eval_n", (double)s->eval_n);
    if (s->timing_seconds > 0) { /* absent: a budget in steps or on the clock */
        cJSON_AddNumberToObject(j, "budget_as_steps_seconds", s->timing_seconds);
        cJSON_AddNumberToObject(j, "budget_as_steps_threads", s->timing_threads);
        if (s->equal_step_cost) cJSON_AddTrueToObject(j, "equal_step_cost"); /* absent: false */
    }
    if (s->mode_metric != GT_MODE_METRIC_GANTRY) /* absent: gantry's, as plans before the choice */
        cJSON_AddStringToObject(j, "mode_metric", gt_mode_metric_name(s->mode_metric));
    return j;
}

static void plan_path(const char *dir, char *path, size_t cap) { snprintf(path, cap, "%s/plan.json", dir); }

/* A string member copied into buf; false when absent, not a string or too long. */
static bool take_string(const cJSON *o, const char *name, char *buf, size_t cap) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!cJSON_IsString(item) || strlen(item->valuestring) >= cap) return false;
    memcpy(buf, item->valuestring, strlen(item->valuestring) + 1);
    return true;
}

static bool parse_plan_vary(const cJSON *item, gt_ablate_vary *v) {
    memset(v, 0, sizeof *v);
    const cJSON *values = cJSON_GetObjectItemCaseSensitive(item, "values"), *value;
    if (!take_string(item, "key", v->key, sizeof v->key) || !cJSON_IsArray(values) ||
        cJSON_GetArraySize(values) < 2 || cJSON_GetArraySize(values) > GT_ABLATE_MAX_VALUES)
        return false;
    cJSON_ArrayForEach(value, values) {
        if (!cJSON_IsString(value) || strlen(value->valuestring) >= GT_ABLATE_NAME_MAX) return false;
        strcpy(v->values[v->n_values++], value->valuestring);
    }
    const cJSON *assign = cJSON_GetObjectItemCaseSensitive(item, "assign");
    if (!assign) return true;
    if (!cJSON_IsArray(assign) || cJSON_GetArraySize(assign) != v->n_values) return false;
    v->choice = true;
    int i = 0;
    cJSON_ArrayForEach(value, assign) {
        if (!cJSON_IsString(value) || strlen(value->valuestring) >= GT_ABLATE_CHOICE_MAX) return false;
        strcpy(v->assign[i++], value->valuestring);
    }
    return true;
}

static bool parse_plan_lists(const cJSON *j, gt_ablate_saved_plan *p) {
    const cJSON *vary = cJSON_GetObjectItemCaseSensitive(j, "vary");
    const cJSON *sets = cJSON_GetObjectItemCaseSensitive(j, "set"), *item;
    if (!cJSON_IsArray(vary) || cJSON_GetArraySize(vary) > GT_ABLATE_MAX_KEYS || !cJSON_IsArray(sets) ||
        cJSON_GetArraySize(sets) > GT_ABLATE_MAX_SETS)
        return false;
    cJSON_ArrayForEach(item, vary) if (!parse_plan_vary(item, &p->spec.vary[p->spec.n_vary++])) return false;
    cJSON_ArrayForEach(item, sets) {
        if (!cJSON_IsString(item) || strlen(item->valuestring) >= sizeof p->sets[0]) return false;
        strcpy(p->sets[p->spec.n_sets], item->valuestring);
        p->spec.sets[p->spec.n_sets] = p->sets[p->spec.n_sets];
        p->spec.n_sets++;
    }
    return true;
}

/* A JSON number that fits a count (a NaN or a huge number would not convert): else 0. */
static double finite_or_zero(double x) { return isfinite(x) && fabs(x) < 1e15 ? x : 0; }

/* plan.json's object into p (out set to dir); false when a field is missing or wrong. */
static bool parse_plan(const cJSON *j, const char *dir, gt_ablate_saved_plan *p) {
    memset(p, 0, sizeof *p);
    if (!take_string(j, "config", p->config, sizeof p->config) || strlen(dir) >= sizeof p->out ||
        !parse_plan_lists(j, p))
        return false;
    strcpy(p->out, dir);
    gt_ablate_spec *s = &p->spec;
    s->config = p->config;
    s->out = p->out;
    s->seeds = gt_ablate_integer_(j, "seeds");
    s->budget_steps = (long long)finite_or_zero(gt_ablate_number_(j, "budget_steps"));
    s->budget_minutes = finite_or_zero(gt_ablate_number_(j, "budget_minutes"));
    s->eval_n = (long long)finite_or_zero(gt_ablate_number_(j, "eval_n"));
    s->timing_seconds = finite_or_zero(gt_ablate_number_(j, "budget_as_steps_seconds"));
    s->timing_threads = gt_ablate_integer_(j, "budget_as_steps_threads");
    s->equal_step_cost = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "equal_step_cost"));
    s->jobs = s->threads = 1;
    const cJSON *metric = cJSON_GetObjectItemCaseSensitive(j, "mode_metric");
    if (metric && (!cJSON_IsString(metric) || gt_mode_metric_parse(metric->valuestring, &s->mode_metric) < 0))
        return false;
    return s->seeds >= 1 && s->seeds <= GT_ABLATE_MAX_SEEDS && s->eval_n >= 0 &&
           (s->budget_steps > 0 || s->budget_minutes > 0) &&
           (s->timing_seconds == 0 || (s->timing_threads >= 1 && s->timing_threads <= 1024));
}

int gt_ablate_load_plan(const char *dir, gt_ablate_saved_plan *saved, gt_error *err) {
    char path[GT_PATH_MAX + 16];
    plan_path(dir, path, sizeof path);
    char *text = gt_read_file(path, (size_t)1 << 20, NULL);
    if (!text)
        return gt_error_set(err,
                            "%s: cannot read the ablation's plan (%s): give the --out folder of a "
                            "gantry ablate (whole or --shard) that has started",
                            path, strerror(errno));
    cJSON *j = cJSON_Parse(text);
    free(text);
    bool ok = cJSON_IsObject(j) && parse_plan(j, dir, saved);
    cJSON_Delete(j);
    if (!ok)
        return gt_error_set(err, "%s: not a plan that gantry ablate wrote (a field is missing or wrong)",
                            path);
    return 0;
}

/* A shard's spec against the plan.json another shard wrote: the same ablation, threads aside. */
static int check_plan(const gt_ablate_spec *s, const char *path, gt_error *err) {
    gt_ablate_saved_plan *saved = malloc(sizeof *saved);
    if (!saved) return gt_error_set(err, "out of memory");
    int rc = gt_ablate_load_plan(s->out, saved, err);
    if (rc == 0) {
        cJSON *mine = plan_json(s, true), *theirs = plan_json(&saved->spec, true);
        if (!cJSON_Compare(mine, theirs, true))
            rc = gt_error_set(err,
                              "%s holds the plan of an ablation with other settings (--config, "
                              "--vary, --set, --seeds, --budget or --eval-n differ): every shard "
                              "must run the same command; remove it to plan afresh",
                              path);
        cJSON_Delete(mine);
        cJSON_Delete(theirs);
    }
    free(saved);
    return rc;
}

/* Writes DIR/plan.json atomically (every writer writes the same bytes, so concurrent shards
 * cannot corrupt it); a shard only checks a plan that is there already. */
static int save_plan(const gt_ablate_spec *s, gt_error *err) {
    char path[GT_PATH_MAX + 16];
    plan_path(s->out, path, sizeof path);
    if (make_dir(s->out, err) < 0) return -1;
    if (s->shards > 0 && access(path, F_OK) == 0) return check_plan(s, path, err);
    cJSON *j = plan_json(s, false);
    int rc = gt_ablate_write_json_(path, j, err);
    cJSON_Delete(j);
    return rc;
}

/* ---- one run, in whatever process the caller chooses ------------------------------------------ */

struct gt_ablate {
    const gt_ablate_spec *s;
    run *runs;
    int n_runs, done;
    int n_mine; /* runs in the spec's shard (n_runs without shards) */
    FILE *log;
};

/* The run's configuration: the base file's (or, resuming, its checkpoint's) keys, then the
 * run's overrides, as `gantry train` would resolve them. */
static int run_config(const gt_ablate_spec *s, const run *r, const char *ckpt, bool resume,
                      gt_config *cfg, gt_error *err) {
    overrides o;
    run_overrides(s, r, true, &o);
    gt_config_defaults(cfg);
    if (resume ? gt_checkpoint_config(ckpt, cfg, err) < 0 : gt_config_load_file(cfg, s->config, err) < 0)
        return -1;
    for (int i = 0; i < o.n; i++)
        if (gt_config_set(cfg, o.text[i], "command line", err) < 0) return -1;
    return 0;
}

/* Trains the run to its budget, continuing an interrupted training; the state file records
 * that training started (its signature) and, once the budget is reached, that it finished. */
static int train_run(const gt_ablate_spec *s, run *r, const volatile sig_atomic_t *stop,
                     gt_error *err) {
    char ckpt[GT_PATH_MAX + 32];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", r->dir);
    /* a checkpoint without a finished training is an interrupted run: continue it */
    bool resume = access(ckpt, F_OK) == 0;
    gt_config cfg;
    if (save_state(s, r, err) < 0 || run_config(s, r, ckpt, resume, &cfg, err) < 0) return -1;
    gt_train_request req = {.dir = r->dir, .cfg = &cfg, .resume = resume, .quiet = true,
                            .log = stderr, .stop = stop};
    gt_train_outcome trained;
    if (gt_train_run(&req, &trained, err) < 0) return -1;
    r->trained = trained.finished;
    return r->trained ? save_state(s, r, err) : 0;
}

int gt_ablate_execute(gt_ablate *ab, int i, const volatile sig_atomic_t *stop,
                      gt_ablate_outcome *out) {
    const gt_ablate_spec *s = ab->s;
    run *r = &ab->runs[i];
    gt_error err;
    memset(out, 0, sizeof *out);
    if (!r->trained && train_run(s, r, stop, &err) < 0) {
        snprintf(out->failed, sizeof out->failed, "training");
        snprintf(out->error, sizeof out->error, "%s", err.msg);
        return -1;
    }
    out->trained = r->trained;
    if (!r->trained || (stop && *stop)) return 0;
    char ckpt[GT_PATH_MAX + 32];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", r->dir);
    gt_score_request req = {.n = s->eval_n, .seed = 0, .mode_metric = s->mode_metric};
    if (gt_score_checkpoint(ckpt, &req, &out->result, &err) < 0) {
        snprintf(out->failed, sizeof out->failed, "eval");
        snprintf(out->error, sizeof out->error, "%s", err.msg);
        return -1;
    }
    out->scored = true;
    return 0;
}

int gt_ablate_outcome_write(const char *path, const gt_ablate_outcome *o, gt_error *err) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddBoolToObject(j, "trained", o->trained);
    cJSON_AddStringToObject(j, "failed", o->failed);
    cJSON_AddStringToObject(j, "error", o->error);
    cJSON_AddItemToObject(j, "result", o->scored ? gt_eval_result_json(&o->result) : cJSON_CreateNull());
    int rc = gt_ablate_write_json_(path, j, err);
    cJSON_Delete(j);
    return rc;
}

int gt_ablate_outcome_read(const char *path, gt_ablate_outcome *o, gt_error *err) {
    memset(o, 0, sizeof *o);
    char *text = gt_read_file(path, (size_t)1 << 20, NULL);
    if (!text) return gt_error_set(err, "%s: cannot read the run's outcome: %s", path, strerror(errno));
    cJSON *j = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return gt_error_set(err, "%s: the run's outcome is not a JSON object", path);
    }
    o->trained = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "trained"));
    gt_ablate_string_(j, "failed", o->failed, sizeof o->failed);
    gt_ablate_string_(j, "error", o->error, sizeof o->error);
    const cJSON *result = cJSON_GetObjectItemCaseSensitive(j, "result");
    int rc = 0;
    if (cJSON_IsObject(result)) {
        o->scored = true;
        rc = gt_eval_result_from_json(result, &o->result, err);
    }
    cJSON_Delete(j);
    return rc;
}

/* ---- --reuse: runs another ablation has finished -------------------------------------------- */

/* Links the finished run of an earlier ablation (--reuse) with r's configuration into r's
 * folder and records it as trained, with its result when it was scored the same way. */
static int reuse_run(gt_ablate *ab, run *r, gt_error *err) {
    const gt_ablate_spec *s = ab->s;
    gt_config cfg;
    char *want = NULL, from[GT_PATH_MAX + 256];
    if (run_config(s, r, NULL, false, &cfg, err) < 0 || gt_ablate_config_text_(&cfg, &want, err) < 0)
        return -1;
    cJSON *state = NULL;
    int found = gt_ablate_find_reusable_(s->reuse, s->n_reuse, want, from, sizeof from, &state);
    free(want);
    if (!found) return 0;
    int rc = gt_ablate_link_run_(from, r->dir, err);
    if (rc == 0) {
        r->trained = true;
        r->error[0] = '\0';
        r->result = result_scored_alike(s, state);
        fprintf(ab->log, "gantry ablate: %s: the same configuration as %s: reused%s\n", r->name, from,
                r->result ? "" : " (to be scored)");
        rc = save_state(s, r, err);
    }
    cJSON_Delete(state);
    return rc;
}

/* ---- the caller's view of the plan ------------------------------------------------------------- */

gt_ablate *gt_ablate_plan(const gt_ablate_spec *spec, FILE *log, gt_error *err) {
    gt_ablate *ab = calloc(1, sizeof *ab);
    if (!ab) {
        gt_error_set(err, "out of memory");
        return NULL;
    }
    *ab = (gt_ablate){.s = spec, .log = log};
    if (save_plan(spec, err) < 0 || !(ab->runs = plan(spec, &ab->n_runs, err))) {
        free(ab);
        return NULL;
    }
    for (int i = 0; i < ab->n_runs; i++) ab->n_mine += gt_ablate_in_shard(ab, i);
    for (int i = 0; i < ab->n_runs && spec->n_reuse; i++)
        if (gt_ablate_in_shard(ab, i) && !ab->runs[i].trained && reuse_run(ab, &ab->runs[i], err) < 0) {
            gt_ablate_free(ab);
            return NULL;
        }
    return ab;
}

int gt_ablate_n_runs(const gt_ablate *ab) { return ab->n_runs; }
const char *gt_ablate_run_dir(const gt_ablate *ab, int i) { return ab->runs[i].dir; }

bool gt_ablate_in_shard(const gt_ablate *ab, int i) {
    return ab->s->shards <= 0 || i % ab->s->shards == ab->s->shard - 1;
}

/* Appends run names to list (cap bytes), "..." once it is full. */
static void list_run(char *list, size_t cap, size_t *len, const char *name) {
    if (*len + strlen(name) + 8 >= cap) {
        if (*len + 5 < cap) *len += (size_t)snprintf(list + *len, cap - *len, ", ...");
        *len = cap;
        return;
    }
    *len += (size_t)snprintf(list + *len, cap - *len, "%s%s", *len ? ", " : "", name);
}

int gt_ablate_check_complete(const gt_ablate *ab, gt_error *err) {
    char list[480] = "";
    size_t len = 0;
    int missing = 0;
    for (int i = 0; i < ab->n_runs; i++) {
        const run *r = &ab->runs[i];
        if (r->result || r->error[0]) continue;
        missing++;
        if (len < sizeof list) list_run(list, sizeof list, &len, r->name);
    }
    if (!missing) return 0;
    return gt_error_set(err,
                        "%s: %d of %d runs have no outcome yet (%s): run the shards that hold "
                        "them (gantry ablate ... --shard I/N; a rerun skips finished runs), or the "
                        "whole ablation without --shard, then merge again",
                        ab->s->out, missing, ab->n_runs, list);
}

bool gt_ablate_needs_work(gt_ablate *ab, int i) {
    const run *r = &ab->runs[i];
    if (r->trained && r->result) {
        fprintf(ab->log, "gantry ablate: [%d/%d] %s: finished earlier, kept\n", ++ab->done,
                ab->n_mine, r->name);
        return false;
    }
    return true;
}

int gt_ablate_record(gt_ablate *ab, int i, const gt_ablate_outcome *o, const char *failure,
                     double seconds, gt_error *err) {
    run *r = &ab->runs[i];
    r->trained = o->trained;
    if (!failure && !o->trained) /* the run alone was stopped (a signal to it, not to us) */
        failure = "training stopped before the budget's end (was the run signalled?); its "
                  "checkpoint is kept: rerun the ablation to continue it";
    if (failure) {
        snprintf(r->error, sizeof r->error, "%s", failure);
        fprintf(ab->log, "gantry ablate: [%d/%d] %s: %s\n", ++ab->done, ab->n_mine, r->name, r->error);
        return save_state(ab->s, r, err);
    }
    r->error[0] = '\0';
    cJSON_Delete(r->result);
    r->result = o->scored ? gt_eval_result_json(&o->result) : NULL;
    fprintf(ab->log, "gantry ablate: [%d/%d] %s: trained and scored in %.2f s\n", ++ab->done,
            ab->n_mine, r->name, seconds);
    return save_state(ab->s, r, err);
}

/* ---- aggregation ---------------------------------------------------------------------------- */


/* A count from the JSON, 0 when it is missing. */

static bool is_metric(const cJSON *item) {
    static const char *const not_metrics[] = {"n", "n_ref", "n_modes", "kid_stderr", "channel_n",
                                              "channel_kid_stderr"};
    for (size_t i = 0; i < sizeof not_metrics / sizeof not_metrics[0]; i++)
        if (strcmp(item->string, not_metrics[i]) == 0) return false;
    return cJSON_IsNumber(item) || cJSON_IsNull(item);
}

static int metric_index(const gt_ablate_table *t, const char *name) {
    for (int m = 0; m < t->n_metrics; m++)
        if (strcmp(t->metrics[m], name) == 0) return m;
    return -1;
}

/* The metrics in the order of eval's JSON line, from every scored run. */
static void collect_metrics(gt_ablate_table *t, const run *runs, int n) {
    for (int i = 0; i < n; i++) {
        const cJSON *item;
        cJSON_ArrayForEach(item, runs[i].result) {
            if (!is_metric(item) || metric_index(t, item->string) >= 0 ||
                t->n_metrics == GT_ABLATE_MAX_METRICS)
                continue;
            snprintf(t->metrics[t->n_metrics++], GT_ABLATE_NAME_MAX, "%s", item->string);
        }
    }
}

static void fill_row(gt_ablate_table *t, const gt_ablate_spec *s, const run *runs, int c) {
    gt_ablate_row *row = &t->rows[c];
    const run *seeds = &runs[c * s->seeds];
    for (int k = 0; k < s->n_vary; k++)
        snprintf(row->values[k], GT_ABLATE_NAME_MAX, "%s", gt_ablate_combo_value_(s, c, k));
    for (int i = 0; i < s->seeds; i++) {
        row->scored += seeds[i].result != NULL;
        row->failures += seeds[i].error[0] != '\0';
    }
    double x[GT_ABLATE_MAX_SEEDS];
    for (int m = 0; m < t->n_metrics; m++) {
        for (int i = 0; i < s->seeds; i++) x[i] = gt_ablate_number_(seeds[i].result, t->metrics[m]);
        row->stats[m] = gt_ablate_stat_of(x, s->seeds);
    }
}

/* <0 when row a is better in metric m; lower_better says which way; NaN ranks last. */
static int compare_metric(const gt_ablate_row *a, const gt_ablate_row *b, int m, bool lower_better) {
    if (m < 0) return 0;
    double x = a->stats[m].mean, y = b->stats[m].mean;
    if (isnan(x) || isnan(y)) return (isnan(x) != 0) - (isnan(y) != 0);
    int c = (x > y) - (x < y);
    return lower_better ? c : -c;
}

/* Images by FID; 2-D mixtures by modes covered, then reverse KL. */
static int compare_rows(const gt_ablate_table *t, const gt_ablate_row *a, const gt_ablate_row *b) {
    int fid = metric_index(t, "fid");
    if (fid >= 0) return compare_metric(a, b, fid, true);
    int c = compare_metric(a, b, metric_index(t, "modes_covered"), false);
    return c ? c : compare_metric(a, b, metric_index(t, "reverse_kl"), true);
}

static void rank_rows(gt_ablate_table *t) {
    if (metric_index(t, "fid") >= 0)
        snprintf(t->ranking, sizeof t->ranking, "ranked by FID (lower is better)");
    else if (metric_index(t, "modes_covered") >= 0)
        snprintf(t->ranking, sizeof t->ranking,
                 "ranked by modes covered (more is better), then reverse KL (lower is better)");
    else
        snprintf(t->ranking, sizeof t->ranking, "not ranked (no run was scored)");
    for (int i = 1; i < t->n_rows; i++) /* insertion sort: stable, so ties keep --vary order */
        for (int j = i; j > 0 && compare_rows(t, &t->rows[j], &t->rows[j - 1]) < 0; j--) {
            gt_ablate_row tmp = t->rows[j];
            t->rows[j] = t->rows[j - 1];
            t->rows[j - 1] = tmp;
        }
    for (int i = 0; i < t->n_rows; i++) t->rows[i].rank = i + 1;
}

static void budget_text(const gt_ablate_spec *s, char *buf, size_t cap) {
    if (s->budget_minutes > 0 && s->timing_seconds > 0)
        snprintf(buf, cap, "%g minutes as steps (timed %g s)", s->budget_minutes, s->timing_seconds);
    else if (s->budget_minutes > 0)
        snprintf(buf, cap, "%g minutes", s->budget_minutes);
    else
        snprintf(buf, cap, "%lld steps", s->budget_steps);
}

static int aggregate(const gt_ablate_spec *s, const run *runs, int n_runs, gt_ablate_table *t,
                     gt_error *err) {
    memset(t, 0, sizeof *t);
    snprintf(t->config, sizeof t->config, "%s", s->config);
    budget_text(s, t->budget, sizeof t->budget);
    t->seeds = s->seeds;
    t->eval_n = s->eval_n;
    for (int i = 0; i < n_runs && s->eval_n <= 0; i++) /* eval's default: what it reported */
        if (runs[i].result) t->eval_n = gt_ablate_integer_(runs[i].result, "n");
    t->n_keys = s->n_vary;
    for (int k = 0; k < s->n_vary; k++) snprintf(t->keys[k], GT_ABLATE_NAME_MAX, "%s", s->vary[k].key);
    for (int k = 0; k < s->n_vary; k++)
        if (s->vary[k].choice) t->choices[t->n_choices++] = s->vary[k];
    collect_metrics(t, runs, n_runs);
    t->n_rows = gt_ablate_n_combos_(s);
    if (!(t->rows = calloc((size_t)t->n_rows, sizeof *t->rows)))
        return gt_error_set(err, "out of memory");
    for (int c = 0; c < t->n_rows; c++) fill_row(t, s, runs, c);
    rank_rows(t);
    return 0;
}

/* ---- the table as Markdown and JSON ------------------------------------------------------------ */

static cJSON *runs_json(const gt_ablate_spec *s, const run *runs, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) {
        const run *r = &runs[i];
        cJSON *o = cJSON_CreateObject(), *values = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", r->name);
        cJSON_AddStringToObject(o, "dir", r->dir);
        for (int k = 0; k < s->n_vary; k++)
            cJSON_AddStringToObject(values, s->vary[k].key, gt_ablate_combo_value_(s, r->combo, k));
        cJSON_AddItemToObject(o, "values", values);
        cJSON_AddNumberToObject(o, "seed", r->seed);
        if (r->steps > 0) cJSON_AddNumberToObject(o, "steps", (double)r->steps);
        cJSON_AddItemToObject(o, "error",
                              r->error[0] ? cJSON_CreateString(r->error) : cJSON_CreateNull());
        cJSON_AddItemToObject(o, "eval",
                              r->result ? cJSON_Duplicate(r->result, true) : cJSON_CreateNull());
        cJSON_AddItemToArray(a, o);
    }
    return a;
}

static int write_results_json(const gt_ablate_spec *s, const run *runs, int n, const gt_ablate_table *t,
                              gt_error *err) {
    char path[GT_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/results.json", s->out);
    cJSON *j = gt_ablate_table_json_(t), *sets = cJSON_CreateArray();
    for (int i = 0; i < s->n_sets; i++) cJSON_AddItemToArray(sets, cJSON_CreateString(s->sets[i]));
    cJSON_AddItemToObject(j, "set", sets);
    cJSON_AddItemToObject(j, "runs", runs_json(s, runs, n));
    int rc = gt_ablate_write_json_(path, j, err);
    cJSON_Delete(j);
    return rc;
}

/* --budget-as-steps: each combination's steps, under the table. */
static void write_timed_steps(FILE *f, const gt_ablate_spec *s, const run *runs, int n) {
    fprintf(f, "\nSteps a run (%g minutes at the rate each combination made in %g s alone; "
               "timing.json):\n\n", s->budget_minutes, s->timing_seconds);
    for (int i = 0; i < n; i += s->seeds) {
        char name[GT_ABLATE_RUN_NAME_MAX_ + 16];
        gt_ablate_combination_name(s, runs[i].combo, name, sizeof name);
        fprintf(f, "- `%s`: %lld\n", name, runs[i].steps);
    }
}

/* results.md: the table, then each failed run with its message. */
static int write_results_md(const gt_ablate_spec *s, const run *runs, int n, const gt_ablate_table *t,
                            gt_error *err) {
    char path[GT_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/results.md", s->out);
    gt_atomic a;
    FILE *f = gt_atomic_open(path, &a, err);
    if (!f) return -1;
    gt_ablate_table_markdown(f, t);
    if (s->timing_seconds > 0) write_timed_steps(f, s, runs, n);
    for (int i = 0, first = 1; i < n; i++) {
        if (!runs[i].error[0]) continue;
        if (first) fprintf(f, "\nFailed runs:\n\n");
        first = 0;
        fprintf(f, "- `%s`: ", runs[i].name);
        gt_ablate_markdown_text_(f, runs[i].error);
        fputc('\n', f);
    }
    return gt_atomic_commit(&a, err);
}

/* ---- the whole ablation ------------------------------------------------------------------------ */

int gt_ablate_finish(gt_ablate *ab, gt_ablate_table *t, gt_error *err) {
    memset(t, 0, sizeof *t);
    int rc = aggregate(ab->s, ab->runs, ab->n_runs, t, err);
    if (rc == 0) rc = write_results_json(ab->s, ab->runs, ab->n_runs, t, err);
    if (rc == 0) rc = write_results_md(ab->s, ab->runs, ab->n_runs, t, err);
    return rc;
}

void gt_ablate_free(gt_ablate *ab) {
    if (!ab) return;
    free_runs(ab->runs, ab->n_runs);
    free(ab);
}
