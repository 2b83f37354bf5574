/* gantry ablate's options (ablate.h): --vary, --budget and --shard parsed, and the whole spec
 * checked against the configuration before anything trains. */
#include "train/ablate_internal.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/atomic.h"
#include "io/config.h"

#define GT_ABLATE_MAX_RUNS 10000


static bool has_value(const gt_ablate_vary *v, const char *value) {
    for (int i = 0; i < v->n_values; i++)
        if (strcmp(v->values[i], value) == 0) return true;
    return false;
}

int gt_ablate_parse_vary(const char *arg, gt_ablate_vary *v, gt_error *err) {
    memset(v, 0, sizeof *v);
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || !strchr(arg, '.') || strchr(arg, '.') > eq)
        return gt_error_set(
            err, "--vary '%.200s' is not section.key=a,b[,c] (e.g. optim.d.lr=1e-4,1e-3)", arg);
    if ((size_t)(eq - arg) >= sizeof v->key)
        return gt_error_set(err, "--vary '%.200s': the key is too long", arg);
    memcpy(v->key, arg, (size_t)(eq - arg));
    for (const char *p = eq + 1;; p++) {
        size_t n = strcspn(p, ",");
        if (n == 0) return gt_error_set(err, "--vary '%.200s': an empty value", arg);
        if (n >= GT_ABLATE_NAME_MAX || v->n_values == GT_ABLATE_MAX_VALUES)
            return gt_error_set(err, "--vary '%.200s': at most %d values of at most %d characters", arg,
                                GT_ABLATE_MAX_VALUES, GT_ABLATE_NAME_MAX - 1);
        char value[GT_ABLATE_NAME_MAX] = "";
        memcpy(value, p, n);
        if (has_value(v, value))
            return gt_error_set(err, "--vary '%.200s': '%s' appears twice", arg, value);
        strcpy(v->values[v->n_values++], value);
        p += n;
        if (!*p) break;
    }
    if (v->n_values < 2)
        return gt_error_set(err, "--vary '%.200s' needs at least two values (one value is a --set)",
                            arg);
    return 0;
}

/* A choice's or label's name: letters, digits, '_' and '-' (it names run folders). */
static bool is_plain_name(const char *s, size_t n) {
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-') return false;
    return true;
}

/* "section.key=value;..." (or ""): each part an assignment to a section.key, at most
 * GT_ABLATE_CHOICE_KEYS of them. */
static int check_assignments(const char *arg, const char *list, gt_error *err) {
    char a[GT_ABLATE_CHOICE_MAX];
    int n = 0;
    for (const char *p = list; (p = gt_ablate_next_assignment_(p, a, sizeof a));) {
        const char *eq = strchr(a, '='), *dot = strchr(a, '.');
        if (!eq || !dot || dot > eq || eq == a || ++n > GT_ABLATE_CHOICE_KEYS)
            return gt_error_set(err, "--choose '%.200s': after the label come at most %d "
                                     "section.key=value assignments separated by ';'",
                                arg, GT_ABLATE_CHOICE_KEYS);
    }
    return 0;
}

int gt_ablate_parse_choice(const char *arg, gt_ablate_spec *spec, gt_error *err) {
    const char *eq = strchr(arg, '='), *colon = eq ? strchr(eq, ':') : NULL;
    if (!eq || !colon || !is_plain_name(arg, (size_t)(eq - arg)) ||
        !is_plain_name(eq + 1, (size_t)(colon - eq - 1)))
        return gt_error_set(err, "--choose '%.200s' is not NAME=LABEL:section.key=value[;...] "
                                 "(NAME and LABEL of letters, digits, _ and -; e.g. "
                                 "penalty=r1:penalty.r1=1)", arg);
    size_t name_len = (size_t)(eq - arg), label_len = (size_t)(colon - eq - 1);
    if (name_len >= GT_ABLATE_NAME_MAX || label_len >= GT_ABLATE_NAME_MAX ||
        strlen(colon + 1) >= GT_ABLATE_CHOICE_MAX)
        return gt_error_set(err, "--choose '%.200s': the name or label has %d characters at most, "
                                 "the assignments %d", arg, GT_ABLATE_NAME_MAX - 1,
                            GT_ABLATE_CHOICE_MAX - 1);
    if (check_assignments(arg, colon + 1, err) < 0) return -1;
    gt_ablate_vary *v = NULL;
    for (int k = 0; k < spec->n_vary && !v; k++)
        if (strlen(spec->vary[k].key) == name_len && strncmp(spec->vary[k].key, arg, name_len) == 0)
            v = &spec->vary[k];
    if (!v) {
        if (spec->n_vary == GT_ABLATE_MAX_KEYS)
            return gt_error_set(err, "at most %d --vary and --choose axes", GT_ABLATE_MAX_KEYS);
        v = &spec->vary[spec->n_vary++];
        memset(v, 0, sizeof *v);
        memcpy(v->key, arg, name_len);
        v->choice = true;
    }
    char label[GT_ABLATE_NAME_MAX] = "";
    memcpy(label, eq + 1, label_len);
    if (has_value(v, label))
        return gt_error_set(err, "--choose %s: the label '%s' appears twice", v->key, label);
    if (v->n_values == GT_ABLATE_MAX_VALUES)
        return gt_error_set(err, "--choose %s: at most %d alternatives", v->key, GT_ABLATE_MAX_VALUES);
    strcpy(v->values[v->n_values], label);
    strcpy(v->assign[v->n_values++], colon + 1);
    return 0;
}

int gt_ablate_parse_budget(const char *text, gt_ablate_spec *spec, gt_error *err) {
    char *end = NULL;
    spec->budget_steps = 0;
    spec->budget_minutes = 0;
    if (text && isdigit((unsigned char)text[0])) {
        if (text[strlen(text) - 1] == 'm') {
            spec->budget_minutes = strtod(text, &end);
            if (*end == 'm' && !end[1] && isfinite(spec->budget_minutes) && spec->budget_minutes > 0)
                return 0;
        } else {
            spec->budget_steps = strtoll(text, &end, 10);
            if (!*end && spec->budget_steps >= 1 && spec->budget_steps < GT_ABLATE_STEPS_UNLIMITED_) return 0;
        }
    }
    spec->budget_steps = 0;
    spec->budget_minutes = 0;
    return gt_error_set(err,
                        "--budget must be a number of steps (e.g. 5000) or of minutes (e.g. 10m), "
                        "greater than 0, got '%s'",
                        text ? text : "");
}

int gt_ablate_parse_shard(const char *text, gt_ablate_spec *spec, gt_error *err) {
    char *end = NULL;
    long index = 0, count = 0;
    if (text && isdigit((unsigned char)text[0])) {
        index = strtol(text, &end, 10);
        if (*end == '/' && isdigit((unsigned char)end[1])) count = strtol(end + 1, &end, 10);
    }
    if (!end || *end || count < 1 || count > GT_ABLATE_MAX_RUNS || index < 1 || index > count)
        return gt_error_set(err,
                            "--shard must be I/N, the I-th of N disjoint parts of the runs, with "
                            "1 <= I <= N <= %d (e.g. 2/8), got '%s'",
                            GT_ABLATE_MAX_RUNS, text ? text : "");
    spec->shard = (int)index;
    spec->shards = (int)count;
    return 0;
}

/* (ablate_internal.h) */
void gt_ablate_key_of_(const char *assignment, char *key, size_t cap) {
    snprintf(key, cap, "%.*s", (int)strcspn(assignment, "="), assignment);
}

static int check_not_reserved(const char *key, const char *option, gt_error *err) {
    static const char *const reserved[] = {"train.seed", "train.steps", "train.max_minutes"};
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (strcmp(key, reserved[i]) == 0)
            return gt_error_set(err, "%s %s: the ablation sets %s itself (from --seeds and --budget)",
                                option, key, key);
    return 0;
}

/* (ablate_internal.h) */
const char *gt_ablate_next_assignment_(const char *list, char *buf, size_t cap) {
    if (!*list) return NULL;
    size_t len = strcspn(list, ";");
    snprintf(buf, cap, "%.*s", (int)len, list);
    return list + len + (list[len] == ';');
}

int gt_ablate_apply_value_(gt_config *cfg, const gt_ablate_vary *v, int j, gt_error *err) {
    char assignment[GT_ABLATE_CHOICE_MAX + GT_ABLATE_NAME_MAX + 2];
    if (!v->choice) {
        snprintf(assignment, sizeof assignment, "%s=%s", v->key, v->values[j]);
        return gt_config_set(cfg, assignment, "--vary", err);
    }
    char origin[2 * GT_ABLATE_NAME_MAX + 16];
    snprintf(origin, sizeof origin, "--choose %s=%s", v->key, v->values[j]);
    for (const char *p = v->assign[j]; (p = gt_ablate_next_assignment_(p, assignment, sizeof assignment));)
        if (gt_config_set(cfg, assignment, origin, err) < 0) return -1;
    return 0;
}

/* Applies value j of axis v to a copy of base (only to see that the configuration accepts it). */
static int try_value(const gt_config *base, const gt_ablate_vary *v, int j, gt_error *err) {
    gt_config copy = *base;
    return gt_ablate_apply_value_(&copy, v, j, err);
}

/* (ablate_internal.h) */
void gt_ablate_make_safe_(char *name) {
    for (char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr(".=+,-", *p)) *p = '_';
}

/* Two values that differ only in characters make_safe replaces would share run folders. */
static int check_folder_names(const gt_ablate_vary *v, gt_error *err) {
    char a[GT_ABLATE_NAME_MAX], b[GT_ABLATE_NAME_MAX];
    for (int i = 0; i < v->n_values; i++)
        for (int j = 0; j < i; j++) {
            strcpy(a, v->values[i]);
            strcpy(b, v->values[j]);
            gt_ablate_make_safe_(a);
            gt_ablate_make_safe_(b);
            if (strcmp(a, b) == 0)
                return gt_error_set(err, "--vary %s: '%s' and '%s' would share the run folder name '%s'",
                                    v->key, v->values[j], v->values[i], a);
        }
    return 0;
}

/* Whether an axis other than `except` sets key: a --vary of it, or a --choose assigning it. */
static bool axis_sets_key(const gt_ablate_spec *s, int except, const char *key) {
    char assignment[GT_ABLATE_CHOICE_MAX], k[GT_CFG_STR_MAX];
    for (int i = 0; i < s->n_vary; i++) {
        const gt_ablate_vary *v = &s->vary[i];
        if (i == except) continue;
        if (!v->choice && strcmp(v->key, key) == 0) return true;
        for (int j = 0; v->choice && j < v->n_values; j++)
            for (const char *p = v->assign[j]; (p = gt_ablate_next_assignment_(p, assignment, sizeof assignment));) {
                gt_ablate_key_of_(assignment, k, sizeof k);
                if (strcmp(k, key) == 0) return true;
            }
    }
    return false;
}

static bool is_set(const gt_ablate_spec *s, const char *key) {
    char k[GT_CFG_STR_MAX];
    for (int j = 0; j < s->n_sets; j++) {
        gt_ablate_key_of_(s->sets[j], k, sizeof k);
        if (strcmp(k, key) == 0) return true;
    }
    return false;
}

/* A choice: two alternatives at least, keys that no --set, --vary or other choice sets, each
 * alternative accepted by the configuration. */
static int check_choice(const gt_ablate_spec *s, int i, const gt_config *base, gt_error *err) {
    const gt_ablate_vary *v = &s->vary[i];
    if (v->n_values < 2)
        return gt_error_set(err, "--choose %s needs at least two alternatives (one is a --set)", v->key);
    char assignment[GT_ABLATE_CHOICE_MAX], key[GT_CFG_STR_MAX];
    for (int j = 0; j < v->n_values; j++) {
        for (const char *p = v->assign[j]; (p = gt_ablate_next_assignment_(p, assignment, sizeof assignment));) {
            gt_ablate_key_of_(assignment, key, sizeof key);
            if (check_not_reserved(key, "--choose", err) < 0) return -1;
            if (is_set(s, key) || axis_sets_key(s, i, key))
                return gt_error_set(err, "--choose %s=%s sets %s, which a --set, --vary or other "
                                         "--choose also sets", v->key, v->values[j], key);
        }
        if (try_value(base, v, j, err) < 0) return -1;
    }
    return check_folder_names(v, err);
}

static int check_vary(const gt_ablate_spec *s, int i, const gt_config *base, gt_error *err) {
    const gt_ablate_vary *v = &s->vary[i];
    if (v->choice) return check_choice(s, i, base, err);
    if (check_not_reserved(v->key, "--vary", err) < 0) return -1;
    for (int j = 0; j < i; j++)
        if (strcmp(s->vary[j].key, v->key) == 0)
            return gt_error_set(err, "--vary %s appears twice: give it one list of values", v->key);
    char key[GT_CFG_STR_MAX];
    for (int j = 0; j < s->n_sets; j++) {
        gt_ablate_key_of_(s->sets[j], key, sizeof key);
        if (strcmp(key, v->key) == 0)
            return gt_error_set(err, "%s is both set (--set) and varied (--vary)", v->key);
    }
    for (int j = 0; j < v->n_values; j++)
        if (try_value(base, v, j, err) < 0) return -1;
    return check_folder_names(v, err);
}

int gt_ablate_n_combos_(const gt_ablate_spec *s) {
    int n = 1;
    for (int i = 0; i < s->n_vary; i++) n *= s->vary[i].n_values;
    return n;
}

/* The value index of varied key k in combination c (the last key varies fastest). */
int gt_ablate_value_index_(const gt_ablate_spec *s, int c, int k) {
    for (int i = s->n_vary - 1; i > k; i--) c /= s->vary[i].n_values;
    return c % s->vary[k].n_values;
}

const char *gt_ablate_combo_value_(const gt_ablate_spec *s, int c, int k) {
    return s->vary[k].values[gt_ablate_value_index_(s, c, k)];
}

/* A budget in minutes leaves train.steps unlimited, so a schedule that spans train.steps would
 * never move from its start. Refuses such a configuration, naming the key and the way out. */
static int check_spans_steps(const gt_config *c, const char *where, gt_error *err) {
    const char *why = "spans train.steps, which a budget in minutes leaves unlimited, so it would "
                      "stay at its start";
    const char *sched[][2] = {{"optim.g.schedule", c->opt_g_schedule},
                              {"optim.d.schedule", c->opt_d_schedule}};
    for (int i = 0; i < 2; i++)
        if (strcmp(sched[i][1], "constant") != 0)
            return gt_error_set(err, "--budget in minutes%s: %s = %s %s: use a constant "
                                     "schedule or a budget in steps", where, sched[i][0],
                                sched[i][1], why);
    bool penalised = c->pen_gp > 0 || c->pen_dragan > 0 || c->pen_r1 > 0 || c->pen_r2 > 0;
    if (penalised && strcmp(c->pen_decay, "none") != 0 && c->pen_decay_steps == 0)
        return gt_error_set(err, "--budget in minutes%s: penalty.decay = %s with penalty.decay_steps "
                                 "= 0 %s: set penalty.decay_steps (G steps)", where, c->pen_decay, why);
    if (c->noise_sigma > 0 && strcmp(c->noise_anneal, "none") != 0 && c->noise_steps == 0)
        return gt_error_set(err, "--budget in minutes%s: noise.anneal = %s with noise.steps = 0 %s: "
                                 "set noise.steps (G steps)", where, c->noise_anneal, why);
    return 0;
}

/* check_spans_steps for every combination of the varied values. */
static int check_minute_budget(const gt_ablate_spec *s, const gt_config *base, gt_error *err) {
    for (int c = 0; c < gt_ablate_n_combos_(s); c++) {
        gt_config cfg = *base;
        char where[2 * GT_ABLATE_NAME_MAX] = "", assignment[2 * GT_ABLATE_NAME_MAX + 2];
        size_t n = 0;
        for (int k = 0; k < s->n_vary; k++) {
            snprintf(assignment, sizeof assignment, "%s=%s", s->vary[k].key, gt_ablate_combo_value_(s, c, k));
            if (gt_ablate_apply_value_(&cfg, &s->vary[k], gt_ablate_value_index_(s, c, k), err) < 0)
                return -1;
            if (n < sizeof where)
                n += (size_t)snprintf(where + n, sizeof where - n, "%s%s", n ? ", " : " (with ",
                                      assignment);
        }
        if (n && n + 1 < sizeof where) strcat(where, ")");
        if (check_spans_steps(&cfg, where, err) < 0) return -1;
    }
    return 0;
}

/* Each --reuse folder is an ablation's (it has runs/) other than --out. */
static int check_reuse(const gt_ablate_spec *s, gt_error *err) {
    for (int i = 0; i < s->n_reuse; i++) {
        char runs[GT_PATH_MAX + 8];
        snprintf(runs, sizeof runs, "%s/runs", s->reuse[i]);
        struct stat st;
        if (stat(runs, &st) < 0 || !S_ISDIR(st.st_mode))
            return gt_error_set(err, "--reuse %s: not an ablation's folder (it has no runs/ folder)",
                                s->reuse[i]);
        if (s->out && strcmp(s->reuse[i], s->out) == 0)
            return gt_error_set(err, "--reuse %s is the --out folder: its runs are kept anyway",
                                s->reuse[i]);
    }
    return 0;
}

static size_t run_name_length(const gt_ablate_spec *s) {
    size_t n = 16; /* "-s<seed>" and separators */
    for (int i = 0; i < s->n_vary; i++) {
        size_t longest = 0;
        for (int j = 0; j < s->vary[i].n_values; j++)
            if (strlen(s->vary[i].values[j]) > longest) longest = strlen(s->vary[i].values[j]);
        n += strlen(s->vary[i].key) + longest + 2;
    }
    return n;
}

int gt_ablate_validate(const gt_ablate_spec *s, gt_error *err) {
    if (s->seeds < 1 || s->seeds > GT_ABLATE_MAX_SEEDS || s->jobs < 1 || s->threads < 1)
        return gt_error_set(err, "seeds must be 1 to %d, jobs and threads at least 1",
                            GT_ABLATE_MAX_SEEDS);
    if (s->shards < 0 || s->shards > GT_ABLATE_MAX_RUNS || (s->shards && (s->shard < 1 || s->shard > s->shards)))
        return gt_error_set(err, "--shard %d/%d: must be I/N with 1 <= I <= N <= %d", s->shard,
                            s->shards, GT_ABLATE_MAX_RUNS);
    if (s->mode_metric == GT_MODE_METRIC_PACGAN && s->eval_n > 0 && s->eval_n != GT_PACGAN_EVAL_SAMPLES)
        return gt_error_set(err, "--eval-n %lld with --mode-metric pacgan: PacGAN's metric scores "
                                 "%d samples", s->eval_n, GT_PACGAN_EVAL_SAMPLES);
    gt_config base;
    gt_config_defaults(&base);
    if (gt_config_load_file(&base, s->config, err) < 0) return -1;
    char key[GT_CFG_STR_MAX];
    for (int i = 0; i < s->n_sets; i++) {
        gt_ablate_key_of_(s->sets[i], key, sizeof key);
        if (check_not_reserved(key, "--set", err) < 0 ||
            gt_config_set(&base, s->sets[i], "--set", err) < 0)
            return -1;
    }
    long long runs = s->seeds;
    for (int i = 0; i < s->n_vary; i++) {
        if (check_vary(s, i, &base, err) < 0) return -1;
        runs *= s->vary[i].n_values;
        if (runs > GT_ABLATE_MAX_RUNS)
            return gt_error_set(err, "the --vary values and --seeds make more than %d runs", GT_ABLATE_MAX_RUNS);
    }
    if (s->timing_seconds > 0 && !(s->budget_minutes > 0))
        return gt_error_set(err, "--budget-as-steps turns a budget in minutes into steps: give "
                                 "--budget in minutes (e.g. 10m)");
    /* timed steps are a step count again, which schedules can span */
    if (s->budget_minutes > 0 && !(s->timing_seconds > 0) && check_minute_budget(s, &base, err) < 0)
        return -1;
    if (s->equal_step_cost && gt_ablate_check_equal_step_cost(s, err) < 0) return -1;
    if (check_reuse(s, err) < 0) return -1;
    if (run_name_length(s) > GT_ABLATE_RUN_NAME_MAX_)
        return gt_error_set(err,
                            "the varied keys and values make run folder names longer than %d "
                            "characters: vary fewer keys or shorter values",
                            GT_ABLATE_RUN_NAME_MAX_);
    return 0;
}
