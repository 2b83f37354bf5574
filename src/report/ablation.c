/* DIR/report.html of an ablation: one offline page with the ranked table of DIR/results.json
 * (mean and standard error of every metric over seeds), the base configuration, budget and
 * ranking rule, and a chart of each metric across the ranked combinations. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io/atomic.h"
#include "report/report.h"
#include "train/ablate.h"

static void write_table(FILE *out, const gt_ablate_table *t) {
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
    fputs("<th>seeds</th><th>failures</th></tr>\n", out);
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
        fprintf(out, "<td>%d</td><td>%d</td></tr>\n", row->scored, row->failures);
    }
    fputs("</table>\n", out);
}

/* Each metric's mean over the combinations, best first (x = rank). */
static void write_charts(FILE *out, const gt_ablate_table *t) {
    if (t->n_rows < 2) return;
    double *x = malloc((size_t)t->n_rows * sizeof *x), *y = malloc((size_t)t->n_rows * sizeof *y);
    if (!x || !y) {
        free(x);
        free(y);
        return;
    }
    fputs("<h2>Metrics by rank</h2>\n<div class=\"charts\">\n", out);
    for (int m = 0; m < t->n_metrics; m++) {
        for (int r = 0; r < t->n_rows; r++) {
            x[r] = t->rows[r].rank;
            y[r] = t->rows[r].stats[m].n > 0 ? t->rows[r].stats[m].mean : NAN;
        }
        const double *ys[1] = {y};
        const char *names[1] = {"mean over seeds"};
        gt_chart c = {.title = gt_ablate_metric_label(t->metrics[m]), .x_label = "rank", .x = x,
                      .y = ys, .names = names, .n = t->n_rows, .n_series = 1};
        gt_svg_chart(out, &c);
    }
    fputs("</div>\n", out);
    free(x);
    free(y);
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
    write_table(out, t);
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
