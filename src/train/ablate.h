/* The experiment runner behind `gantry ablate`: every combination of the varied configuration
 * values times K seeds, each trained and scored by child processes of the gantry binary, then
 * each metric as mean and standard error over seeds, ranked, in DIR/results.md and
 * DIR/results.json. The table is also a struct (gt_ablate_table), so that a report can lay it
 * out in HTML from DIR/results.json without knowing how the runs were made. */
#ifndef GT_TRAIN_ABLATE_H
#define GT_TRAIN_ABLATE_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "gantry.h"

#define GT_ABLATE_MAX_KEYS 8      /* --vary options */
#define GT_ABLATE_MAX_VALUES 16   /* values of one --vary */
#define GT_ABLATE_MAX_SETS 32     /* --set options */
#define GT_ABLATE_MAX_METRICS 16  /* metrics of gantry eval's JSON line */
#define GT_ABLATE_NAME_MAX 64     /* a key, a value or a metric name, NUL included */
#define GT_ABLATE_MAX_SEEDS 1000

/* One --vary 'section.key=a,b,c'. */
typedef struct gt_ablate_vary {
    char key[GT_ABLATE_NAME_MAX];
    char values[GT_ABLATE_MAX_VALUES][GT_ABLATE_NAME_MAX];
    int n_values;
} gt_ablate_vary;

/* What to run. budget_steps > 0 trains that many steps; otherwise budget_minutes > 0 trains
 * that long (train.max_minutes, with train.steps so large that time ends the run). */
typedef struct gt_ablate_spec {
    const char *config;   /* the base INI */
    const char *out;      /* the ablation folder: runs/, results.md, results.json */
    const char *exe;      /* the gantry binary the children run */
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
} gt_ablate_spec;

/* Parses 'section.key=a,b[,c]' (at least two distinct values); the key and values are checked
 * against the configuration by gt_ablate_validate. */
int gt_ablate_parse_vary(const char *arg, gt_ablate_vary *v, gt_error *err);
/* "N" (steps) or "Nm" (minutes, decimals allowed) into spec's budget. */
int gt_ablate_parse_budget(const char *text, gt_ablate_spec *spec, gt_error *err);
/* Checks the counts, loads the base configuration and applies every --set and every --vary
 * value to a copy of it, so that a typo fails before anything trains, naming the key and what
 * it allows. Also rejects keys the runner sets itself (train.seed, train.steps,
 * train.max_minutes), a key both set and varied, values that would share a run folder, more
 * than 10,000 runs, and run names too long for a folder. */
int gt_ablate_validate(const gt_ablate_spec *spec, gt_error *err);

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
    int n_rows;
    gt_ablate_row *rows;                        /* best first */
} gt_ablate_table;

/* Reads the table of DIR/results.json (what gantry ablate wrote). */
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

/* ---- running ---- */

/* Trains and scores every run (skipping what an earlier, interrupted ablation finished), then
 * writes spec->out/results.md and results.json atomically and fills t (free it with
 * gt_ablate_table_free). A failed run is recorded and the others go on; -1 only for an error
 * of the ablation itself (a folder that cannot be written, runs/ holding runs made with other
 * settings) or when *stop became non-zero (running children are then asked to stop, with
 * SIGTERM, and waited for). Reaps children with waitpid(-1): call it from a process that has
 * no other children. Progress goes to log. */
int gt_ablate_run(const gt_ablate_spec *spec, const volatile sig_atomic_t *stop, FILE *log,
                  gt_ablate_table *t, gt_error *err);

/* Internal, shared by ablate.c and ablate_table.c: the table as a cJSON object (for
 * results.json), number and integer fields of a cJSON object (NaN / 0 when absent), a whole
 * text file (malloc'd, NULL on failure), and Markdown-safe table text. */
struct cJSON;
struct cJSON *gt_ablate_table_json_(const gt_ablate_table *t);
double gt_ablate_number_(const struct cJSON *o, const char *name);
int gt_ablate_integer_(const struct cJSON *o, const char *name); /* 0 when absent */
char *gt_ablate_read_text_(const char *path);
void gt_ablate_markdown_text_(FILE *out, const char *s);

#endif
