/* DIR/report.html of an ablation: one offline page with the ranked table of DIR/results.json
 * (mean and standard error of every metric over seeds), the base configuration, budget and
 * ranking rule, one picture of samples per combination (its first seed's), and a chart of each
 * metric per combination: mean, standard error and every seed's value, best first. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io/atomic.h"
#include "report/report.h"
#include "report/samples.h"
#include "train/ablate.h"

/* The run of row r with the lowest seed (the first seed's run), or NULL. */
static const gt_ablate_run_entry *first_run(const gt_ablate_table *t, int r) {
    const gt_ablate_run_entry *best = NULL;
    for (int i = 0; i < t->n_runs; i++)
        if (t->runs[i].row == r && (!best || t->runs[i].seed < best->seed)) best = &t->runs[i];
    return best;
}

/* Row r's picture: the first seed's latest samples, a scatter over the modes for 2-D data,
 * else its latest grid; a dash when it has none. */
static void write_sample_cell(FILE *out, const gt_ablate_table *t, const char *dir, int r) {
    const gt_ablate_run_entry *run = first_run(t, r);
    char rundir[GT_PATH_MAX], path[GT_PATH_MAX + 128], dataset[64], label[96];
    gt_sample_file *files = NULL;
    int n = 0;
    fputs("<td class=\"sample\">", out);
    if (run) {
        snprintf(rundir, sizeof rundir, "%s/runs/%s", dir, run->name);
        gt_report_run_dataset(rundir, dataset, sizeof dataset);
        bool points = gt_report_is_mixture(dataset);
        gt_samples_list(rundir, points ? ".npy" : ".png", &files, &n);
        if (n) {
            const gt_sample_file *f = &files[n - 1];
            snprintf(path, sizeof path, "%s/samples/%s", rundir, f->name);
            snprintf(label, sizeof label, "seed %d, step %.0f", run->seed, f->step);
            if (points)
                gt_report_points(out, path, dataset, label, NULL, 150, false);
            else
                gt_report_png(out, path, "sample", f->step);
        }
    }
    if (!n) fputs("&ndash;", out);
    fputs("</td>", out);
    free(files);
}

/* What each --choose label stands for, under the table. */
static void write_choices(FILE *out, const gt_ablate_table *t) {
    for (int c = 0; c < t->n_choices; c++) {
        const gt_ablate_vary *v = &t->choices[c];
        fputs("<p class=\"choices\"><b>", out);
        gt_html_escape(out, v->key);
        fputs("</b>:", out);
        for (int j = 0; j < v->n_values; j++) {
            fputs(j ? "; " : " ", out);
            gt_html_escape(out, v->values[j]);
            fputs(" = <code>", out);
            gt_html_escape(out, v->assign[j][0] ? v->assign[j] : "(the base configuration)");
            fputs("</code>", out);
        }
        fputs("</p>\n", out);
    }
}

static void write_table(FILE *out, const gt_ablate_table *t, const char *dir) {
    fputs("<table class=\"ablation\">\n<tr><th>rank</th>", out);
    for (int k = 0; k < t->n_keys; k++) {
        fputs("<th>", out);
        gt_html_escape(out, t->keys[k]);
        fputs("</th>", out);
    }
    for (int m = 0; m < t->n_metrics; m++) {
        fputs("<th>", out);
        gt_html_escape(out, gt_ablate_metric_label(t->metrics[m]));
        fputs("</th>", out);
    }
    fputs("<th>seeds</th><th>failures</th><th>samples of the first seed</th></tr>\n", out);
    for (int r = 0; r < t->n_rows; r++) {
        const gt_ablate_row *row = &t->rows[r];
        fprintf(out, "<tr><td>%d</td>", row->rank);
        for (int k = 0; k < t->n_keys; k++) {
            fputs("<td>", out);
            gt_html_escape(out, row->values[k]);
            fputs("</td>", out);
        }
        for (int m = 0; m < t->n_metrics; m++) {
            char cell[96];
            gt_ablate_cell(&row->stats[m], row->scored, cell, sizeof cell);
            fputs("<td>", out);
            gt_html_escape(out, cell);
            fputs("</td>", out);
        }
        fprintf(out, "<td>%d</td><td>%d</td>", row->scored, row->failures);
        write_sample_cell(out, t, dir, r);
        fputs("</tr>\n", out);
    }
    fputs("</table>\n", out);
}

/* A combination's name under the charts: its rank and values ("1. 1e-4, hinge"). */
static void row_label(const gt_ablate_table *t, int r, char *buf, size_t cap) {
    size_t n = (size_t)snprintf(buf, cap, "%d.", t->rows[r].rank);
    for (int k = 0; k < t->n_keys && n < cap; k++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%s", k ? ", " : " ", t->rows[r].values[k]);
}

/* The charts' storage: per row its label, mean, se and seeds' values of one metric. */
typedef struct {
    char (*labels)[GT_ABLATE_NAME_MAX * 2];
    const char **label_ptrs;
    double *mean, *se, *values; /* values [n_rows, seeds] */
    const double **value_ptrs;
    int *n_values;
} chart_data;

static void chart_data_free(chart_data *d) {
    free(d->labels);
    free(d->label_ptrs);
    free(d->mean);
    free(d->se);
    free(d->values);
    free(d->value_ptrs);
    free(d->n_values);
}

static bool chart_data_alloc(chart_data *d, int rows, int seeds) {
    size_t n = (size_t)rows;
    d->labels = malloc(n * sizeof *d->labels);
    d->label_ptrs = malloc(n * sizeof *d->label_ptrs);
    d->mean = malloc(n * sizeof *d->mean);
    d->se = malloc(n * sizeof *d->se);
    d->values = malloc(n * (size_t)seeds * sizeof *d->values);
    d->value_ptrs = malloc(n * sizeof *d->value_ptrs);
    d->n_values = malloc(n * sizeof *d->n_values);
    return d->labels && d->label_ptrs && d->mean && d->se && d->values && d->value_ptrs &&
           d->n_values;
}

/* Metric m of every row: mean and se from the table, each seed's value from its runs. */
static void chart_data_fill(chart_data *d, const gt_ablate_table *t, int m, int seeds) {
    for (int r = 0; r < t->n_rows; r++) {
        row_label(t, r, d->labels[r], sizeof d->labels[r]);
        d->label_ptrs[r] = d->labels[r];
        d->mean[r] = t->rows[r].stats[m].n > 0 ? t->rows[r].stats[m].mean : NAN;
        d->se[r] = t->rows[r].stats[m].se;
        d->value_ptrs[r] = d->values + (size_t)r * (size_t)seeds;
        d->n_values[r] = 0;
    }
    for (int i = 0; i < t->n_runs; i++) {
        int r = t->runs[i].row;
        if (r >= 0 && d->n_values[r] < seeds)
            d->values[(size_t)r * (size_t)seeds + (size_t)d->n_values[r]++] = t->runs[i].metrics[m];
    }
}

/* Each metric per combination, in rank order: the mean with its standard error and every
 * seed's value. */
static void write_charts(FILE *out, const gt_ablate_table *t) {
    int seeds = t->seeds > 0 ? t->seeds : 1;
    chart_data d = {0};
    if (t->n_rows < 1 || !chart_data_alloc(&d, t->n_rows, seeds)) {
        chart_data_free(&d);
        return;
    }
    char x_label[GT_ABLATE_MAX_KEYS * GT_ABLATE_NAME_MAX + 64];
    size_t n = (size_t)snprintf(x_label, sizeof x_label, "combination (rank.");
    for (int k = 0; k < t->n_keys; k++)
        n += (size_t)snprintf(x_label + n, sizeof x_label - n, "%s%s", k ? ", " : " ", t->keys[k]);
    snprintf(x_label + n, sizeof x_label - n, "), best first");
    fputs("<h2>Metrics per combination, best first</h2>\n<div class=\"charts\">\n", out);
    for (int m = 0; m < t->n_metrics; m++) {
        chart_data_fill(&d, t, m, seeds);
        const char *label = gt_ablate_metric_label(t->metrics[m]);
        gt_errorbar_chart c = {.title = label, .x_label = x_label, .y_label = label,
                               .labels = d.label_ptrs, .mean = d.mean, .se = d.se,
                               .values = d.value_ptrs, .n_values = d.n_values, .n = t->n_rows};
        gt_svg_errorbars(out, &c);
    }
    fputs("</div>\n", out);
    chart_data_free(&d);
}

static void write_page(FILE *out, const gt_ablate_table *t, const char *dir) {
    gt_html_begin(out, "gantry ablation report");
    fputs("<h1>gantry ablation report</h1>\n<table class=\"meta\">\n", out);
    const char *labels[4] = {"Ablation folder", "Base configuration", "Budget per run", "Ranking"};
    const char *values[4] = {dir, t->config, t->budget, t->ranking};
    for (int i = 0; i < 4; i++) {
        fprintf(out, "<tr><td>%s</td><td>", labels[i]);
        gt_html_escape(out, values[i]);
        fputs("</td></tr>\n", out);
    }
    fprintf(out, "<tr><td>Seeds</td><td>%d per combination</td></tr>\n", t->seeds);
    if (t->eval_n > 0) fprintf(out, "<tr><td>Evaluation</td><td>N = %lld samples</td></tr>\n", t->eval_n);
    fputs("</table>\n<h2>Ranked results (mean &plusmn; standard error over seeds)</h2>\n", out);
    write_table(out, t, dir);
    write_choices(out, t);
    write_charts(out, t);
    fputs("<p>Each run's own report: <code>runs/&lt;combination&gt;-s&lt;seed&gt;/report.html</code>.</p>\n", out);
    gt_html_end(out);
}

int gt_report_ablation(const char *dir, gt_error *err) {
    char json[4096], html[4096];
    snprintf(json, sizeof json, "%s/results.json", dir);
    snprintf(html, sizeof html, "%s/report.html", dir);
    gt_ablate_table t;
    if (gt_ablate_table_load(json, &t, err) < 0) return -1;
    gt_atomic a;
    FILE *out = gt_atomic_open(html, &a, err);
    if (!out) {
        gt_ablate_table_free(&t);
        return -1;
    }
    write_page(out, &t, dir);
    gt_ablate_table_free(&t);
    return gt_atomic_commit(&a, err);
}
