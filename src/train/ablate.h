/* The experiment runner behind `gantry ablate`: every combination of the varied configuration
 * values times K seeds, each trained and scored through the library (train/session.h,
 * train/score.h) in a process of the caller's choosing, then
 * each metric as mean and standard error over seeds, ranked, in DIR/results.md and
 * DIR/results.json. The table is also a struct (gt_ablate_table), so that a report can lay it
 * out in HTML from DIR/results.json without knowing how the runs were made. */
#ifndef GT_TRAIN_ABLATE_H
#define GT_TRAIN_ABLATE_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "eval/evaluate.h"
#include "gantry.h"

#define GT_ABLATE_MAX_KEYS 8      /* --vary options */
#define GT_ABLATE_MAX_VALUES 16   /* values of one --vary */
#define GT_ABLATE_MAX_SETS 32     /* --set options */
#define GT_ABLATE_MAX_METRICS 16  /* metrics of gantry eval's JSON line */
#define GT_ABLATE_NAME_MAX 64     /* a key, a value or a metric name, NUL included */
#define GT_ABLATE_MAX_SEEDS 1000
#define GT_ABLATE_MAX_REUSE 16    /* --reuse folders */
#define GT_ABLATE_CHOICE_MAX 512  /* one --choose alternative's assignments, NUL included */
#define GT_ABLATE_CHOICE_KEYS 32  /* assignments of one alternative (a whole recipe) */

/* One --vary 'section.key=a,b,c'. */
/* One varied axis: a key and its values (--vary), or a choice among labelled alternatives
 * (--choose), each a list of assignments "section.key=value;section.key=value" ("" for the
 * base configuration), so that settings of several keys compare as one axis. */
typedef struct gt_ablate_vary {
    char key[GT_ABLATE_NAME_MAX];                            /* section.key, or the choice's name */
    char values[GT_ABLATE_MAX_VALUES][GT_ABLATE_NAME_MAX];   /* values, or the labels */
    int n_values;
    bool choice;
    char assign[GT_ABLATE_MAX_VALUES][GT_ABLATE_CHOICE_MAX]; /* a choice's assignments */
} gt_ablate_vary;

/* What to run. budget_steps > 0 trains that many steps; otherwise budget_minutes > 0 trains
 * that long (train.max_minutes, with train.steps so large that time ends the run), or, with
 * timing_seconds > 0, the steps each combination's timed rate reaches in that long
 * (--budget-as-steps; ablate_timing.c). */
typedef struct gt_ablate_spec {
    const char *config;   /* the base INI */
    const char *out;      /* the ablation folder: runs/, results.md, results.json */
    gt_ablate_vary vary[GT_ABLATE_MAX_KEYS];
    int n_vary;
    const char *sets[GT_ABLATE_MAX_SETS];  /* "section.key=value" for every run */
    int n_sets;
    int seeds;            /* train.seed 0 .. seeds-1, at most GT_ABLATE_MAX_SEEDS */
    long long budget_steps;
    double budget_minutes;
    int jobs;             /* children at a time */
    int threads;          /* train.threads and OMP_NUM_THREADS of each child */
    long long eval_n;     /* gantry eval --n; 0: eval's default */
    gt_mode_metric mode_metric; /* gantry eval --mode-metric for 2-D points (gantry's by default) */
    int shard, shards;    /* --shard I/N: only the runs whose index i (in plan order) has
                           * i % N == I - 1; shards 0: every run */
    const char *reuse[GT_ABLATE_MAX_REUSE]; /* --reuse: earlier ablations whose finished runs of
                                             * the same configuration are linked, not retrained */
    int n_reuse;
    double timing_seconds; /* --budget-as-steps: each combination timed this long (0: off) */
    int timing_threads;    /* train.threads of a timing run: the whole machine's cores */
    bool timing_calibrate; /* --timing-calibrate: rates in the speed of the --reuse folder's timing */
    bool equal_step_cost;  /* --equal-step-cost: the combinations differ only in keys that leave a
                            * step's arithmetic as it is, so all take the first one's rate */
} gt_ablate_spec;

/* Parses 'section.key=a,b[,c]' (at least two distinct values); the key and values are checked
 * against the configuration by gt_ablate_validate. */
int gt_ablate_parse_vary(const char *arg, gt_ablate_vary *v, gt_error *err);
/* Adds one alternative 'NAME=LABEL:section.key=value[;section.key=value...]' (nothing after the
 * colon: the base configuration) to the choice NAME, made on its first alternative. */
int gt_ablate_parse_choice(const char *arg, gt_ablate_spec *spec, gt_error *err);
/* "N" (steps) or "Nm" (minutes, decimals allowed) into spec's budget. */
int gt_ablate_parse_budget(const char *text, gt_ablate_spec *spec, gt_error *err);
/* "I/N" (1 <= I <= N <= 10,000) into spec's shard and shards. */
int gt_ablate_parse_shard(const char *text, gt_ablate_spec *spec, gt_error *err);
/* Checks the counts, loads the base configuration and applies every --set and every --vary
 * value to a copy of it, so that a typo fails before anything trains, naming the key and what
 * it allows. Also rejects keys the runner sets itself (train.seed, train.steps,
 * train.max_minutes), a key both set and varied, values that would share a run folder, more
 * than 10,000 runs, and run names too long for a folder. */
int gt_ablate_validate(const gt_ablate_spec *spec, gt_error *err);

/* ---- --budget-as-steps: a budget in minutes turned into steps (ablate_timing.c) ---- */

int gt_ablate_n_combinations(const gt_ablate_spec *s);
/* Combination c's folder name before "-s<seed>": "key=value,key=value", or "base" when nothing
 * varies, made safe for a folder. */
void gt_ablate_combination_name(const gt_ablate_spec *s, int c, char *name, size_t cap);
/* Combination c's steps for the budget, from its rate in DIR/timing.json (the same
 * configuration, seed, steps and threads aside): 1 with *steps and *per_minute set, 0 when it
 * has not been timed, -1 on an unreadable timing.json. */
int gt_ablate_timed_steps(const gt_ablate_spec *s, int c, long long *steps, double *per_minute,
                          gt_error *err);
/* Copies combination c's rate from the first --reuse folder whose timing.json has it into
 * DIR/timing.json: 1 with *from naming that folder, 0 when none has it, -1 on error. */
int gt_ablate_adopt_timing(const gt_ablate_spec *s, int c, const char **from, gt_error *err);
/* Trains combination c (seed 0, train.steps unlimited) for timing_seconds on timing_threads in
 * DIR/timing/NAME, afresh, and records its rate in DIR/timing.json. Stops early, recording
 * nothing, when *stop becomes non-zero. */
int gt_ablate_time_combination(const gt_ablate_spec *s, int c, const volatile sig_atomic_t *stop,
                               gt_error *err);
/* --timing-calibrate: 1 with *c set to the combination to time again (the first whose rate
 * DIR/timing.json copied from a --reuse folder) when the calibration is still to be made, 0 when
 * DIR/timing.json holds it, -1 (err set) when no combination's rate came from a --reuse folder or
 * rates were timed here before without a calibration. */
int gt_ablate_calibration_needed(const gt_ablate_spec *s, int *c, gt_error *err);
/* Times combination c again (seed 0, timing_seconds on timing_threads) in DIR/timing/NAME-calibration, and records
 * the calibration in DIR/timing.json: its rate then (from the --reuse folder) and now, and
 * scale = then / now, which every rate timed afterwards in DIR takes. Stops early, recording
 * nothing, when *stop becomes non-zero. */
int gt_ablate_calibrate(const gt_ablate_spec *s, int c, const volatile sig_atomic_t *stop, gt_error *err);
/* --equal-step-cost: 0 when every combination's configuration differs from the first one's only
 * in keys that leave a step's cost as it is (the optimizers' learning rates, betas, eps and
 * momentum, EMA's decay, the initialization); -1 (err naming the combination and key) otherwise. */
int gt_ablate_check_equal_step_cost(const gt_ablate_spec *s, gt_error *err);
/* --equal-step-cost: records the first combination's rate in DIR/timing.json under every other
 * combination's own key too (with "same_cost_as"), so that a later ablation's --reuse of DIR
 * finds the rate of whichever combination it starts from. Nothing when the first has no rate
 * yet or without the option; -1 on error. */
int gt_ablate_record_shared_rates(const gt_ablate_spec *s, gt_error *err);

/* ---- the table ---- */

/* A metric over the seeds of one combination: mean and standard error (sample standard
 * deviation / sqrt(n), NaN when n < 2) of the n seeds whose value was finite. */
typedef struct gt_ablate_stat {
    double mean, se;
    int n;
} gt_ablate_stat;

/* The stat of n values, NaN and infinite ones skipped. */
gt_ablate_stat gt_ablate_stat_of(const double *x, int n);

typedef struct gt_ablate_row {
    int rank;                                               /* 1: best */
    char values[GT_ABLATE_MAX_KEYS][GT_ABLATE_NAME_MAX];    /* one per varied key */
    gt_ablate_stat stats[GT_ABLATE_MAX_METRICS];            /* one per metric */
    int scored;                                             /* seeds that produced metrics */
    int failures;                                           /* seeds whose training or eval failed */
} gt_ablate_row;

/* One run as results.json lists it, read back for reports: its folder under DIR/runs, its seed,
 * the table row of its combination (-1 when none matches) and each of the table's metrics
 * (NaN when it was not scored). */
typedef struct gt_ablate_run_entry {
    char name[256];
    int seed, row;
    double metrics[GT_ABLATE_MAX_METRICS];
} gt_ablate_run_entry;

typedef struct gt_ablate_table {
    char config[GT_ABLATE_NAME_MAX * 4];        /* the base INI */
    char budget[GT_ABLATE_NAME_MAX];            /* "60 steps", "5 minutes" */
    long long eval_n;                           /* samples per evaluation */
    int seeds;
    int n_keys;
    char keys[GT_ABLATE_MAX_KEYS][GT_ABLATE_NAME_MAX];
    int n_metrics;                              /* in the order of eval's JSON line */
    char metrics[GT_ABLATE_MAX_METRICS][GT_ABLATE_NAME_MAX];
    char ranking[160];                          /* how rows are ranked, in words */
    int n_choices;                              /* the --choose axes among the keys, */
    gt_ablate_vary choices[GT_ABLATE_MAX_KEYS]; /* each label with its assignments */
    int n_rows;
    gt_ablate_row *rows;                        /* best first */
    int n_runs;                                 /* gt_ablate_table_load only: every run */
    gt_ablate_run_entry *runs;
} gt_ablate_table;

/* Reads the table of DIR/results.json (what gantry ablate wrote), with its runs. */
int gt_ablate_table_load(const char *results_json, gt_ablate_table *t, gt_error *err);
void gt_ablate_table_free(gt_ablate_table *t);
/* A metric's column title: "FID", "modes covered", ... (the JSON name when unknown). */
const char *gt_ablate_metric_label(const char *metric);
/* "7.5 ± 0.5"; "7.5" when there is one seed, "(n=2)" appended when fewer seeds counted than
 * scored, "-" when none. */
void gt_ablate_cell(const gt_ablate_stat *s, int scored, char *buf, size_t cap);
/* The table as Markdown: a heading naming the base config, budget, seeds and eval N, the
 * ranking rule, then one row per combination. */
void gt_ablate_table_markdown(FILE *out, const gt_ablate_table *t);

/* ---- running ----
 * The library plans the runs, does one run's work (train to the budget, continuing an
 * interrupted training, then score the checkpoint) and records its outcome; the caller decides
 * where each run's work happens (gantry ablate: one child process per run, --jobs at a time,
 * each writing its outcome to a JSON file that the parent reads back). */

typedef struct gt_ablate gt_ablate;

/* One run's work: whether training reached its budget, the evaluation when it was scored,
 * and on failure the phase ("training" or "eval") and why. */
typedef struct gt_ablate_outcome {
    bool trained, scored;
    gt_eval_result result;
    char failed[16];
    char error[sizeof(gt_error)];
} gt_ablate_outcome;

/* Every combination times every seed, with run folders made and what an earlier, interrupted
 * ablation finished read back (runs made with other settings are an error). Progress of
 * gt_ablate_needs_work and gt_ablate_record goes to log. NULL with err set on failure.
 * The plan is also saved as DIR/plan.json, for gt_ablate_load_plan: a whole ablation replaces
 * it (atomically); a shard writes it when it is missing and otherwise checks that it describes
 * the same ablation (train.threads aside), so that shards sharing DIR cannot mix settings. */
gt_ablate *gt_ablate_plan(const gt_ablate_spec *spec, FILE *log, gt_error *err);
int gt_ablate_n_runs(const gt_ablate *ab);
const char *gt_ablate_run_dir(const gt_ablate *ab, int i);
/* Whether run i belongs to the spec's shard (every run when there are no shards). */
bool gt_ablate_in_shard(const gt_ablate *ab, int i);

/* A spec read back from DIR/plan.json, with the storage its strings point into. */
typedef struct gt_ablate_saved_plan {
    gt_ablate_spec spec;  /* out is DIR; shards 0; jobs and threads 1 */
    char config[4096];
    char out[4096];
    char sets[GT_ABLATE_MAX_SETS][512];
} gt_ablate_saved_plan;

/* Reads DIR/plan.json (what gantry ablate wrote when it started) into saved. */
int gt_ablate_load_plan(const char *dir, gt_ablate_saved_plan *saved, gt_error *err);
/* 0 when every run of the plan has an outcome (a result, or a recorded failure); else -1 with
 * err listing the runs that have none. */
int gt_ablate_check_complete(const gt_ablate *ab, gt_error *err);
/* Whether run i still needs training or scoring (a finished one is logged as kept). */
bool gt_ablate_needs_work(gt_ablate *ab, int i);
/* Run i's work, in the calling process: trains (progress and warnings to stderr) unless
 * trained, then scores. Stops early, untrained, when *stop becomes non-zero. -1 when the run
 * failed (out says why). */
int gt_ablate_execute(gt_ablate *ab, int i, const volatile sig_atomic_t *stop,
                      gt_ablate_outcome *out);
/* The outcome as a JSON file (atomically) and back. */
int gt_ablate_outcome_write(const char *path, const gt_ablate_outcome *o, gt_error *err);
int gt_ablate_outcome_read(const char *path, gt_ablate_outcome *o, gt_error *err);
/* Records run i's outcome in the plan and its state file (runs/NAME/ablate.json, which also
 * keeps a failure, so that a later merge reports it); failure (NULL when it succeeded) is the
 * message for the table; seconds is how long its work took. An outcome neither trained nor
 * failed (the run alone was stopped early) is recorded as a failure that a rerun continues. */
int gt_ablate_record(gt_ablate *ab, int i, const gt_ablate_outcome *o, const char *failure,
                     double seconds, gt_error *err);
/* The table of every recorded run: writes spec->out/results.md and results.json atomically
 * and fills t (free it with gt_ablate_table_free). */
int gt_ablate_finish(gt_ablate *ab, gt_ablate_table *t, gt_error *err);
void gt_ablate_free(gt_ablate *ab);

/* Internal, shared by ablate.c and ablate_table.c: the table as a cJSON object (for
 * results.json), number and integer fields of a cJSON object (NaN / 0 when absent), and
 * Markdown-safe table text. */
struct cJSON;
struct cJSON *gt_ablate_table_json_(const gt_ablate_table *t);
double gt_ablate_number_(const struct cJSON *o, const char *name);
int gt_ablate_integer_(const struct cJSON *o, const char *name); /* 0 when absent */
/* o's string member `name` copied into buf of cap bytes, cut short if it does not fit ("" when
 * absent or not a string). */
void gt_ablate_string_(const struct cJSON *o, const char *name, char *buf, size_t cap);
void gt_ablate_markdown_text_(FILE *out, const char *s);

#endif
