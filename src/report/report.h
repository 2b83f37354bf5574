/* Self-contained HTML reports: a run folder's report.html (header, resolved configuration,
 * training and evaluation curves as inline SVG, sample grids embedded as data: URIs, 2-D
 * samples as scatters over the mixture), the ablation's, and the pieces they share: the page
 * frame, escaping, and the SVG charts (lines, scatters over a mixture, points with error bars). */
#ifndef GT_REPORT_REPORT_H
#define GT_REPORT_REPORT_H

#include <stdbool.h>
#include <stdint.h>
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

/* A scatter of 2-D samples over a Gaussian mixture, as the Unrolled GAN paper draws its ring:
 * the points, each mode's centre and its 3-sigma circle, high-quality points (mode[i] >= 0:
 * within 3 sigma of the mode they fall to) told apart from the rest, and each mode marked
 * captured (a high-quality point fell to it) or missed. */
typedef struct gt_scatter {
    const char *title;      /* the heading above the plot; NULL: none (a panel of a strip) */
    const float *pts;       /* [n, 2] */
    const int32_t *mode;    /* [n]: the mode point i falls to when high quality, else -1 */
    int64_t n;
    const float *centres;   /* [n_modes, 2] */
    int n_modes;
    float sigma;            /* every mode's std */
    double extent;          /* both axes span [-extent, extent] */
    int side;               /* the plot area's side in px */
    bool legend;            /* a key to the marks under the heading */
} gt_scatter;

/* Writes the scatter as an inline <svg class="scatter"> with ticked axes labelled x and y.
 * Points outside the extent are left out and counted in a note. The element carries
 * data-points, data-high-quality, data-outside, data-modes and data-captured (the counts it
 * drew), so a reader or a test can check the picture against its caption. */
void gt_svg_scatter(FILE *out, const gt_scatter *s);

/* Points with error bars for groups along x (the combinations of an ablation, in rank order):
 * each group's mean as a dot, mean +- standard error as a bar, and each seed's value as a small
 * dot beside it. */
typedef struct gt_errorbar_chart {
    const char *title, *x_label, *y_label;
    const char *const *labels;     /* [n]: each group's name under the axis */
    const double *mean, *se;       /* [n]: a NaN mean draws nothing; a NaN se no bar */
    const double *const *values;   /* [n][n_values[i]]: the seeds' values (non-finite skipped) */
    const int *n_values;
    int n;
} gt_errorbar_chart;

/* Writes the chart as an inline <svg class="errorbars">; each group is a <g class="group">
 * with data-index (its place in the order given) and, when finite, data-mean. */
void gt_svg_errorbars(FILE *out, const gt_errorbar_chart *c);

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
 * the ranked table with one sample picture per combination (the first seed's latest grid, or
 * scatter for 2-D data, read from dir/runs/), and each metric per combination as points with
 * error bars over seeds, best first. */
int gt_report_ablation(const char *dir, gt_error *err);

#endif
