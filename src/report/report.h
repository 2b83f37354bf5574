/* Self-contained HTML reports: a run folder's report.html (header, resolved configuration,
 * training and evaluation curves as inline SVG, sample grids embedded as data: URIs), and the
 * pieces another report (the ablation's) shares with it: the page frame, escaping, line charts. */
#ifndef GT_REPORT_REPORT_H
#define GT_REPORT_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "gantry.h"

/* One line chart of n_series series over a shared x: y[s][i] is series s at x[i], x ascending.
 * Non-finite values are skipped and the line joins their neighbours, so NaN also marks "not
 * logged at this x" (an evaluation every 1,000 steps beside a loss every 50); on a log_y chart
 * values <= 0 are skipped too. Series with few points get a marker on each point. */
typedef struct gt_chart {
    const char *title;
    const char *x_label;
    const double *x; /* [n] */
    const double *const *y; /* [n_series][n] */
    const char *const *names; /* [n_series] legend entries */
    int n, n_series;
    bool log_y;
} gt_chart;

/* Writes the chart as an inline <svg> element (560 x 300 px): axes with tick labels, light grid
 * lines, a legend above the plot, "no data" when nothing is drawable. */
void gt_svg_chart(FILE *out, const gt_chart *c);

/* Writes s with &, <, >, " and ' escaped, for element content and quoted attribute values. */
void gt_html_escape(FILE *out, const char *s);
/* The page up to and including <body>: a Content-Security-Policy that forbids every network
 * request, and the inline style sheet the reports share. */
void gt_html_begin(FILE *out, const char *title);
void gt_html_end(FILE *out);

/* Writes rundir/report.html atomically from rundir/metrics.jsonl, config.ini and samples/.
 * A missing folder or metrics.jsonl is an error naming the path; a missing config.ini or
 * samples folder, unreadable lines of metrics.jsonl (the line being written while a run trains)
 * and unreadable grids are noted in the page. */
int gt_report_run(const char *rundir, gt_error *err);
/* Writes dir/report.html of an ablation from dir/results.json (what gantry ablate wrote):
 * the ranked table and a chart of each metric across the combinations. */
int gt_report_ablation(const char *dir, gt_error *err);

#endif
