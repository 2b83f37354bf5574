/* The ablation table outside the runner: statistics over seeds, cell and column texts, the
 * table as Markdown and JSON, and loading it back from results.json (for reports). */
#include "train/ablate.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/files.h"

/* ---- helpers shared with the runner ---- */

double gt_ablate_number_(const cJSON *o, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

int gt_ablate_integer_(const cJSON *o, const char *name) {
    double v = gt_ablate_number_(o, name);
    return isfinite(v) && fabs(v) < 1e9 ? (int)v : 0;
}

void gt_ablate_string_(const cJSON *o, const char *name, char *buf, size_t cap) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    snprintf(buf, cap, "%s", cJSON_IsString(v) ? v->valuestring : "");
}

void gt_ablate_markdown_text_(FILE *out, const char *s) {
    for (; *s; s++) fprintf(out, *s == '|' ? "\\|" : "%c", *s);
}

gt_ablate_stat gt_ablate_stat_of(const double *x, int n) {
    gt_ablate_stat st = {.mean = NAN, .se = NAN, .n = 0};
    double sum = 0, sq = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i])) {
            sum += x[i];
            st.n++;
        }
    if (st.n == 0) return st;
    st.mean = sum / st.n;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i])) sq += (x[i] - st.mean) * (x[i] - st.mean);
    if (st.n > 1) st.se = sqrt(sq / (st.n - 1)) / sqrt((double)st.n);
    return st;
}

/* Fields of eval's JSON that describe the evaluation rather than score the samples. */
/* ---- the table as Markdown and JSON ---- */

const char *gt_ablate_metric_label(const char *metric) {
    static const char *const labels[][2] = {
        {"fid", "FID"},
        {"kid", "KID"},
        {"precision", "precision"},
        {"recall", "recall"},
        {"classes_covered", "classes covered"},
        {"class_kl", "class KL"},
        {"class_accuracy", "class accuracy"},
        {"modes_covered", "modes covered"},
        {"pct_high_quality", "% high quality"},
        {"reverse_kl", "reverse KL"},
        {"channel_fid", "channel FID"},
        {"channel_kid", "channel KID"},
        {"channel_precision", "channel precision"},
        {"channel_recall", "channel recall"},
    };
    for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++)
        if (strcmp(metric, labels[i][0]) == 0) return labels[i][1];
    return metric;
}

void gt_ablate_cell(const gt_ablate_stat *s, int scored, char *buf, size_t cap) {
    int n = 0;
    if (s->n == 0)
        n = snprintf(buf, cap, "-");
    else if (s->n == 1)
        n = snprintf(buf, cap, "%.4g", s->mean);
    else
        n = snprintf(buf, cap, "%.4g ± %.2g", s->mean, s->se);
    if (s->n > 0 && s->n < scored && n > 0 && (size_t)n < cap)
        snprintf(buf + n, cap - (size_t)n, " (n=%d)", s->n);
}

/* A value in a table cell: '|' would end the cell. */

void gt_ablate_table_markdown(FILE *out, const gt_ablate_table *t) {
    fprintf(out, "## Ablation of %s: %s per run, %d seed%s, eval N = %lld\n\n", t->config, t->budget,
            t->seeds, t->seeds == 1 ? "" : "s", t->eval_n);
    fprintf(out,
            "Each metric is the mean ± standard error over seeds (sample std / sqrt(n); "
            "NaN values skipped, (n=...) where fewer seeds counted); %s.\n\n| rank |",
            t->ranking);
    for (int k = 0; k < t->n_keys; k++) fprintf(out, " %s |", t->keys[k]);
    for (int m = 0; m < t->n_metrics; m++) fprintf(out, " %s |", gt_ablate_metric_label(t->metrics[m]));
    fprintf(out, " seeds | failures |\n|---:|");
    for (int i = 0; i < t->n_keys + t->n_metrics; i++)
        fprintf(out, "%s", i < t->n_keys ? "---|" : "---:|");
    fprintf(out, "---:|---:|\n");
    for (int r = 0; r < t->n_rows; r++) {
        const gt_ablate_row *row = &t->rows[r];
        fprintf(out, "| %d |", row->rank);
        for (int k = 0; k < t->n_keys; k++) {
            fputc(' ', out);
            gt_ablate_markdown_text_(out, row->values[k]);
            fprintf(out, " |");
        }
        char cell[96];
        for (int m = 0; m < t->n_metrics; m++) {
            gt_ablate_cell(&row->stats[m], row->scored, cell, sizeof cell);
            fprintf(out, " %s |", cell);
        }
        fprintf(out, " %d | %d |\n", row->scored, row->failures);
    }
    for (int c = 0; c < t->n_choices; c++) { /* what each --choose label sets */
        const gt_ablate_vary *v = &t->choices[c];
        fprintf(out, "\n`%s`: ", v->key);
        for (int j = 0; j < v->n_values; j++) {
            fprintf(out, "%s%s = ", j ? "; " : "", v->values[j]);
            if (!v->assign[j][0]) fputs("the base configuration", out);
            for (const char *p = v->assign[j]; *p; p++)
                if (*p == ';') fputs(", ", out);
                else fputc(*p, out);
        }
        fputs(".\n", out);
    }
}

cJSON *gt_ablate_table_json_(const gt_ablate_table *t) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "config", t->config);
    cJSON_AddStringToObject(j, "budget", t->budget);
    cJSON_AddNumberToObject(j, "seeds", t->seeds);
    cJSON_AddNumberToObject(j, "eval_n", (double)t->eval_n);
    cJSON_AddStringToObject(j, "ranking", t->ranking);
    cJSON *keys = cJSON_AddArrayToObject(j, "keys"), *metrics = cJSON_AddArrayToObject(j, "metrics");
    cJSON *rows = cJSON_AddArrayToObject(j, "rows");
    for (int k = 0; k < t->n_keys; k++) cJSON_AddItemToArray(keys, cJSON_CreateString(t->keys[k]));
    for (int m = 0; m < t->n_metrics; m++)
        cJSON_AddItemToArray(metrics, cJSON_CreateString(t->metrics[m]));
    for (int r = 0; r < t->n_rows; r++) {
        const gt_ablate_row *row = &t->rows[r];
        cJSON *o = cJSON_CreateObject(), *values = cJSON_AddArrayToObject(o, "values");
        cJSON_AddNumberToObject(o, "rank", row->rank);
        for (int k = 0; k < t->n_keys; k++)
            cJSON_AddItemToArray(values, cJSON_CreateString(row->values[k]));
        cJSON_AddNumberToObject(o, "scored", row->scored);
        cJSON_AddNumberToObject(o, "failures", row->failures);
        cJSON *stats = cJSON_AddObjectToObject(o, "stats");
        for (int m = 0; m < t->n_metrics; m++) {
            cJSON *st = cJSON_AddObjectToObject(stats, t->metrics[m]);
            cJSON_AddNumberToObject(st, "mean", row->stats[m].mean); /* NaN is written as null */
            cJSON_AddNumberToObject(st, "se", row->stats[m].se);
            cJSON_AddNumberToObject(st, "n", row->stats[m].n);
        }
        cJSON_AddItemToArray(rows, o);
    }
    cJSON *choices = cJSON_AddObjectToObject(j, "choices"); /* label -> "k=v;k=v" per --choose */
    for (int c = 0; c < t->n_choices; c++) {
        cJSON *o = cJSON_AddArrayToObject(choices, t->choices[c].key);
        for (int i = 0; i < t->choices[c].n_values; i++) {
            cJSON *alt = cJSON_CreateObject();
            cJSON_AddStringToObject(alt, "label", t->choices[c].values[i]);
            cJSON_AddStringToObject(alt, "assign", t->choices[c].assign[i]);
            cJSON_AddItemToArray(o, alt);
        }
    }
    return j;
}

/* results.json's "choices" back into t (what the table shows under it). */
static void load_choices(gt_ablate_table *t, const cJSON *choices) {
    const cJSON *axis, *alt;
    cJSON_ArrayForEach(axis, choices) {
        if (t->n_choices == GT_ABLATE_MAX_KEYS || !cJSON_IsArray(axis)) continue;
        gt_ablate_vary *v = &t->choices[t->n_choices++];
        memset(v, 0, sizeof *v);
        v->choice = true;
        snprintf(v->key, sizeof v->key, "%s", axis->string);
        cJSON_ArrayForEach(alt, axis) {
            if (v->n_values == GT_ABLATE_MAX_VALUES) break;
            gt_ablate_string_(alt, "label", v->values[v->n_values], sizeof v->values[0]);
            gt_ablate_string_(alt, "assign", v->assign[v->n_values], sizeof v->assign[0]);
            v->n_values++;
        }
    }
}

/* ---- loading the table (for reports) ------------------------------------------------------ */

static void load_names(const cJSON *a, char (*names)[GT_ABLATE_NAME_MAX], int max, int *n) {
    const cJSON *v;
    *n = 0;
    cJSON_ArrayForEach(v, a) {
        if (cJSON_IsString(v) && *n < max) snprintf(names[(*n)++], GT_ABLATE_NAME_MAX, "%s", v->valuestring);
    }
}

static void load_row(const gt_ablate_table *t, const cJSON *o, gt_ablate_row *row) {
    int n = 0;
    load_names(cJSON_GetObjectItemCaseSensitive(o, "values"), row->values, GT_ABLATE_MAX_KEYS, &n);
    row->rank = gt_ablate_integer_(o, "rank");
    row->scored = gt_ablate_integer_(o, "scored");
    row->failures = gt_ablate_integer_(o, "failures");
    const cJSON *stats = cJSON_GetObjectItemCaseSensitive(o, "stats");
    for (int m = 0; m < t->n_metrics; m++) {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(stats, t->metrics[m]);
        row->stats[m] = (gt_ablate_stat){gt_ablate_number_(st, "mean"), gt_ablate_number_(st, "se"), gt_ablate_integer_(st, "n")};
    }
}

/* The row whose values are the run's values of the varied keys; -1 when none is. */
static int run_row(const gt_ablate_table *t, const cJSON *values) {
    for (int r = 0; r < t->n_rows; r++) {
        int k = 0;
        for (; k < t->n_keys; k++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(values, t->keys[k]);
            if (!cJSON_IsString(v) || strcmp(v->valuestring, t->rows[r].values[k])) break;
        }
        if (k == t->n_keys) return r;
    }
    return -1;
}

static void load_run(const gt_ablate_table *t, const cJSON *o, gt_ablate_run_entry *run) {
    gt_ablate_string_(o, "name", run->name, sizeof run->name);
    run->seed = gt_ablate_integer_(o, "seed");
    run->row = run_row(t, cJSON_GetObjectItemCaseSensitive(o, "values"));
    const cJSON *eval = cJSON_GetObjectItemCaseSensitive(o, "eval");
    for (int m = 0; m < t->n_metrics; m++) run->metrics[m] = gt_ablate_number_(eval, t->metrics[m]);
}

/* results.json's runs (older files may have none). */
static int load_runs(gt_ablate_table *t, const cJSON *runs) {
    t->n_runs = cJSON_IsArray(runs) ? cJSON_GetArraySize(runs) : 0;
    if (t->n_runs == 0) return 0;
    if (!(t->runs = calloc((size_t)t->n_runs, sizeof *t->runs))) return -1;
    const cJSON *o;
    int i = 0;
    cJSON_ArrayForEach(o, runs) load_run(t, o, &t->runs[i++]);
    return 0;
}

int gt_ablate_table_load(const char *results_json, gt_ablate_table *t, gt_error *err) {
    memset(t, 0, sizeof *t);
    char *text = gt_read_file(results_json, (size_t)64 << 20, NULL);
    if (!text) return gt_error_set(err, "%s: cannot read: %s", results_json, strerror(errno));
    cJSON *j = cJSON_Parse(text);
    free(text);
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(j, "rows");
    if (!cJSON_IsArray(rows)) {
        cJSON_Delete(j);
        return gt_error_set(err, "%s: not the results.json of gantry ablate (no rows)", results_json);
    }
    gt_ablate_string_(j, "config", t->config, sizeof t->config);
    gt_ablate_string_(j, "budget", t->budget, sizeof t->budget);
    gt_ablate_string_(j, "ranking", t->ranking, sizeof t->ranking);
    t->seeds = gt_ablate_integer_(j, "seeds");
    t->eval_n = gt_ablate_integer_(j, "eval_n");
    load_names(cJSON_GetObjectItemCaseSensitive(j, "keys"), t->keys, GT_ABLATE_MAX_KEYS, &t->n_keys);
    load_names(cJSON_GetObjectItemCaseSensitive(j, "metrics"), t->metrics, GT_ABLATE_MAX_METRICS,
               &t->n_metrics);
    load_choices(t, cJSON_GetObjectItemCaseSensitive(j, "choices"));
    t->n_rows = cJSON_GetArraySize(rows);
    t->rows = calloc((size_t)t->n_rows + 1, sizeof *t->rows);
    const cJSON *o;
    int r = 0;
    if (t->rows) cJSON_ArrayForEach(o, rows) load_row(t, o, &t->rows[r++]);
    bool ok = t->rows && load_runs(t, cJSON_GetObjectItemCaseSensitive(j, "runs")) == 0;
    cJSON_Delete(j);
    if (!ok) gt_ablate_table_free(t);
    return ok ? 0 : gt_error_set(err, "%s: out of memory", results_json);
}

void gt_ablate_table_free(gt_ablate_table *t) {
    free(t->rows);
    free(t->runs);
    t->rows = NULL;
    t->runs = NULL;
    t->n_rows = t->n_runs = 0;
}

