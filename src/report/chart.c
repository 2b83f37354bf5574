/* The pieces every gantry report shares: the HTML page frame (with a Content-Security-Policy
 * that forbids every network request), escaping, and inline SVG charts on one set of axis
 * helpers: line charts with a legend, scatters of 2-D samples over a mixture's modes, and
 * points with error bars over groups. */
#include "report/report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- HTML ---------------------------------------------------------------------------------- */

void gt_html_escape(FILE *out, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&#39;", out); break;
        default: fputc(*s, out);
        }
    }
}

void gt_html_begin(FILE *out, const char *title) {
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
          "img-src data:; style-src 'unsafe-inline'\">\n<title>",
          out);
    gt_html_escape(out, title);
    fputs("</title>\n<style>\n"
          "body{font:14px/1.45 system-ui,sans-serif;color:#222;max-width:1160px;margin:20px auto;"
          "padding:0 16px}\n"
          "h1{font-size:22px;margin:0 0 10px}\n"
          "h2{font-size:17px;margin:26px 0 10px;border-bottom:1px solid #ddd;padding-bottom:4px}\n"
          "table.meta td{padding:1px 16px 1px 0;vertical-align:top}\n"
          "table.meta td:first-child{color:#666}\n"
          "details pre{background:#f6f6f6;padding:10px;font-size:12px;overflow:auto;"
          "max-height:480px}\n"
          "summary{cursor:pointer;font-weight:600}\n"
          ".charts{display:flex;flex-wrap:wrap;gap:14px}\n"
          ".charts svg{border:1px solid #e3e3e3;background:#fff}\n"
          "figure{margin:0;display:inline-block}\n"
          "figcaption{font-size:12px;color:#555;text-align:center}\n"
          "img.latest{width:560px;max-width:100%;image-rendering:pixelated;border:1px solid #ccc}\n"
          ".strip{display:flex;flex-wrap:wrap;gap:10px;margin-top:14px}\n"
          ".strip img{width:128px;image-rendering:pixelated;border:1px solid #ccc}\n"
          "figure.points{width:min-content;vertical-align:top}\n"
          "figure.points svg{border:1px solid #e3e3e3;background:#fff}\n"
          ".explain{color:#555;font-size:13px;max-width:640px}\n"
          "table.ablation{border-collapse:collapse}\n"
          "table.ablation th,table.ablation td{padding:3px 12px;border-bottom:1px solid #e6e6e6;"
          "text-align:left}\n"
          "table.ablation td.sample{padding:4px}\n"
          "table.ablation td.sample img{width:160px;image-rendering:pixelated;"
          "border:1px solid #ccc}\n"
          ".note{color:#9a5b00}\n"
          "li.warning{color:#8a5a00}\n"
          "li.error{color:#b00020}\n"
          "</style>\n</head>\n<body>\n",
          out);
}

void gt_html_end(FILE *out) { fputs("</body>\n</html>\n", out); }

/* ---- SVG line charts ----------------------------------------------------------------------- */

enum { CHART_W = 560, CHART_H = 300, PAD_L = 62, PAD_R = 18, PAD_B = 42, LEGEND_ROW = 16 };
enum { MARKER_MAX = 60 }; /* series with at most this many points show each point */

static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                      "#9467bd", "#8c564b", "#e377c2", "#17becf"};

static const char *series_color(int s) {
    return palette[s % (int)(sizeof palette / sizeof *palette)];
}

/* An axis in its own units (log10 of the value on a log axis), ending on ticks lo + k * step;
 * fine: a log axis of at most two decades, ticked at 1, 2 and 5 times each power of ten. */
typedef struct {
    double lo, hi, step;
    bool log, fine;
} axis;

typedef struct {
    axis x, y;
    double left, top, width, height; /* the plot area in px */
} frame;

static bool drawable(double v, bool log) { return isfinite(v) && (!log || v > 0); }

static double axis_units(const axis *a, double v) { return a->log ? log10(v) : v; }

/* 1, 2 or 5 times a power of ten, giving about `target` intervals over span. */
static double nice_step(double span, int target) {
    double raw = span / target, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return mag * (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10);
}

static const double one_two_five[] = {1, 2, 5};

/* The nearest of 1, 2 and 5 times a power of ten at or below v (up: at or above), log10 units. */
static double snap_125(double v, bool up) {
    double d = floor(v), best = up ? d + 1 : d;
    for (int i = 0; i < 3; i++) {
        double t = d + log10(one_two_five[i]);
        if (up ? t >= v - 1e-9 && t < best : t <= v + 1e-9 && t > best) best = t;
    }
    return best;
}

static axis axis_fit_log(double lo, double hi) {
    axis a = {.log = true, .lo = floor(lo), .hi = fmax(ceil(hi), floor(lo) + 1)};
    a.step = ceil((a.hi - a.lo) / 6); /* whole decades, at most about six labels */
    a.hi = a.lo + ceil((a.hi - a.lo) / a.step) * a.step;
    a.fine = a.hi - a.lo <= 2;
    if (a.fine) { /* a decade or two: end on the 1-2-5 ticks around the data, not on decades */
        a.lo = snap_125(lo - (hi == lo ? 0.01 : 0), false);
        a.hi = snap_125(hi + (hi == lo ? 0.01 : 0), true);
    }
    return a;
}

/* The axis over data from lo to hi (axis units; lo > hi when there is no data). */
static axis axis_fit(double lo, double hi, bool log) {
    if (!(lo <= hi)) lo = 0, hi = 1;
    if (log) return axis_fit_log(lo, hi);
    axis a = {.log = false};
    if (hi == lo) {
        double d = lo == 0 ? 1 : fabs(lo) * 0.1;
        lo -= d;
        hi += d;
    }
    a.step = nice_step(hi - lo, 5);
    a.lo = floor(lo / a.step + 1e-9) * a.step;
    a.hi = ceil(hi / a.step - 1e-9) * a.step;
    return a;
}

/* An axis over exactly [lo, hi] (a scatter's fixed extent), ticked inside it. */
static axis axis_span(double lo, double hi, int target) {
    return (axis){.lo = lo, .hi = hi, .step = nice_step(hi - lo, target)};
}

enum { TICKS_MAX = 32 };

/* The ticks in axis units. lo + k * step is counted rather than accumulated: a span tiny beside
 * its values (steps of 0.1 around 1e17) must not loop forever. */
static int axis_ticks(const axis *a, double t[TICKS_MAX]) {
    int n = 0;
    if (a->fine) {
        for (double d = floor(a->lo); d <= a->hi; d++)
            for (int i = 0; i < 3; i++) {
                double v = d + log10(one_two_five[i]);
                if (v >= a->lo - 1e-9 && v <= a->hi + 1e-9) t[n++] = v;
            }
        return n;
    }
    double first = ceil(a->lo / a->step - 1e-9) * a->step; /* lo itself on a fitted axis */
    double k = floor((a->hi - first) / a->step + 1e-9);
    for (int i = 0; k >= 1 && k <= 20 && i <= (int)k; i++) t[n++] = first + i * a->step;
    return n;
}

static void tick_label(char *buf, size_t cap, const axis *a, double t) {
    double v = a->log ? pow(10, t) : t;
    if (!a->log && fabs(t) < a->step * 1e-6) v = 0; /* not 1.1e-17 where 0 is meant */
    snprintf(buf, cap, "%.6g", v);
}

static double frame_px(const frame *f, double x) {
    return f->left + (axis_units(&f->x, x) - f->x.lo) / (f->x.hi - f->x.lo) * f->width;
}

static double frame_py(const frame *f, double y) {
    return f->top + (1 - (axis_units(&f->y, y) - f->y.lo) / (f->y.hi - f->y.lo)) * f->height;
}

/* The data ranges over drawable points; returns how many there are. */
static int data_range(const gt_chart *c, double *xlo, double *xhi, double *ylo, double *yhi) {
    int count = 0;
    *xlo = *ylo = INFINITY;
    *xhi = *yhi = -INFINITY;
    for (int s = 0; s < c->n_series; s++)
        for (int i = 0; i < c->n; i++) {
            double v = c->y[s][i];
            if (!drawable(v, c->log_y) || !isfinite(c->x[i])) continue;
            v = c->log_y ? log10(v) : v;
            *xlo = fmin(*xlo, c->x[i]);
            *xhi = fmax(*xhi, c->x[i]);
            *ylo = fmin(*ylo, v);
            *yhi = fmax(*yhi, v);
            count++;
        }
    return count;
}

/* Lays the legend out in rows from baseline `top`, writing it when out is not NULL (NULL
 * measures); returns the number of rows. Text width is estimated at 6 px a character. */
static int legend(FILE *out, const gt_chart *c, int top) {
    int x = PAD_L, row = 0;
    for (int s = 0; s < c->n_series; s++) {
        int w = 30 + 6 * (int)strlen(c->names[s]);
        if (x + w > CHART_W - PAD_R && x > PAD_L) {
            x = PAD_L;
            row++;
        }
        if (out) {
            int y = top + row * LEGEND_ROW;
            fprintf(out,
                    "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" "
                    "stroke-width=\"2.5\"/>",
                    x, y - 4, x + 18, y - 4, series_color(s));
            fprintf(out, "<text x=\"%d\" y=\"%d\">", x + 23, y);
            gt_html_escape(out, c->names[s]);
            fputs("</text>\n", out);
        }
        x += w;
    }
    return row + 1;
}

static void draw_y_ticks(FILE *out, const frame *f) {
    char label[32];
    double ticks[TICKS_MAX];
    for (int k = 0, n = axis_ticks(&f->y, ticks); k < n; k++) {
        double t = ticks[k];
        double y = f->top + (1 - (t - f->y.lo) / (f->y.hi - f->y.lo)) * f->height;
        tick_label(label, sizeof label, &f->y, t);
        fprintf(out,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e6e6e6\"/>"
                "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                f->left, y, f->left + f->width, y, f->left - 6, y + 4, label);
    }
}

static void draw_x_ticks(FILE *out, const frame *f) {
    char label[32];
    double bottom = f->top + f->height, ticks[TICKS_MAX];
    for (int k = 0, n = axis_ticks(&f->x, ticks); k < n; k++) {
        double t = ticks[k];
        double x = f->left + (t - f->x.lo) / (f->x.hi - f->x.lo) * f->width;
        tick_label(label, sizeof label, &f->x, t);
        fprintf(out,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e6e6e6\"/>"
                "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
                x, f->top, x, bottom, x, bottom + 15, label);
    }
}

static void draw_frame(FILE *out, const frame *f) {
    fprintf(out,
            "<rect class=\"frame\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
            "fill=\"none\" stroke=\"#888\"/>\n",
            f->left, f->top, f->width, f->height);
}

/* The axis titles: x centred `below` px under the plot (under its tick labels), y (when not
 * NULL) turned along the axis. */
static void draw_axis_labels(FILE *out, const frame *f, double below, const char *x_label,
                             const char *y_label) {
    fprintf(out, "<text class=\"xlabel\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#555\">",
            f->left + f->width / 2, f->top + f->height + below);
    gt_html_escape(out, x_label);
    fputs("</text>\n", out);
    if (!y_label) return;
    double x = f->left - 34, y = f->top + f->height / 2;
    fprintf(out,
            "<text class=\"ylabel\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#555\" "
            "transform=\"rotate(-90 %.1f %.1f)\">",
            x, y, x, y);
    gt_html_escape(out, y_label);
    fputs("</text>\n", out);
}

static void draw_axes(FILE *out, const frame *f, const char *x_label) {
    draw_y_ticks(out, f);
    draw_x_ticks(out, f);
    draw_frame(out, f);
    draw_axis_labels(out, f, 33, x_label, NULL);
}

/* <svg class="cls" ...> with its <title> (a tooltip and the accessible name). */
static void svg_begin(FILE *out, const char *cls, int w, int h, const char *title,
                      const char *attrs) {
    fprintf(out,
            "<svg class=\"%s\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" "
            "font-family=\"sans-serif\" font-size=\"11\" fill=\"#333\"%s%s>\n<title>",
            cls, w, h, w, h, attrs ? " " : "", attrs ? attrs : "");
    gt_html_escape(out, title);
    fputs("</title>\n", out);
}

/* The title in bold at the top left, with a note in grey after it (NULL for none). */
static void svg_heading(FILE *out, const char *title, const char *note) {
    fputs("<text class=\"heading\" x=\"12\" y=\"20\" font-size=\"14\" font-weight=\"bold\">", out);
    gt_html_escape(out, title);
    if (note) {
        fputs("<tspan font-weight=\"normal\" fill=\"#777\">", out);
        gt_html_escape(out, note);
        fputs("</tspan>", out);
    }
    fputs("</text>\n", out);
}

static void draw_series(FILE *out, const gt_chart *c, const frame *f, int s) {
    int count = 0;
    for (int i = 0; i < c->n; i++) count += drawable(c->y[s][i], c->log_y) && isfinite(c->x[i]);
    if (count == 0) return;
    fprintf(out,
            "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" stroke-linejoin=\"round\" "
            "points=\"",
            series_color(s));
    for (int i = 0; i < c->n; i++)
        if (drawable(c->y[s][i], c->log_y) && isfinite(c->x[i]))
            fprintf(out, "%.1f,%.1f ", frame_px(f, c->x[i]), frame_py(f, c->y[s][i]));
    fputs("\"/>\n", out);
    if (count > MARKER_MAX) return;
    for (int i = 0; i < c->n; i++)
        if (drawable(c->y[s][i], c->log_y) && isfinite(c->x[i]))
            fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>",
                    frame_px(f, c->x[i]), frame_py(f, c->y[s][i]), series_color(s));
    fputc('\n', out);
}

void gt_svg_chart(FILE *out, const gt_chart *c) {
    double xlo, xhi, ylo, yhi;
    int points = data_range(c, &xlo, &xhi, &ylo, &yhi);
    int rows = legend(NULL, c, 0);
    frame f = {.x = axis_fit(xlo, xhi, false), .y = axis_fit(ylo, yhi, c->log_y), .left = PAD_L};
    f.top = 34 + rows * LEGEND_ROW;
    f.width = CHART_W - PAD_L - PAD_R;
    f.height = CHART_H - f.top - PAD_B;
    svg_begin(out, "chart", CHART_W, CHART_H, c->title, NULL);
    svg_heading(out, c->title, c->log_y ? " (log scale)" : NULL);
    draw_axes(out, &f, c->x_label);
    legend(out, c, 38);
    for (int s = 0; s < c->n_series; s++) draw_series(out, c, &f, s);
    if (points == 0)
        fprintf(out,
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#999\">no data</text>\n",
                f.left + f.width / 2, f.top + f.height / 2);
    fputs("</svg>\n", out);
}


/* ---- SVG scatter of 2-D samples over a mixture ------------------------------------------- */

enum { SCATTER_PAD_L = 48, SCATTER_PAD_R = 14, SCATTER_PAD_B = 42, SCATTER_LEGEND_ROW = 16 };

static const char HQ_COLOR[] = "#1f77b4", OTHER_COLOR[] = "#d62728";
static const char CAPTURED_COLOR[] = "#2ca02c", MISSED_COLOR[] = "#888";

static bool inside_extent(const float *p, double e) {
    return isfinite(p[0]) && isfinite(p[1]) && fabs(p[0]) <= e && fabs(p[1]) <= e;
}

/* The points whose verdict is `hq` (high quality or not) as one group of dots. */
static void draw_points(FILE *out, const gt_scatter *s, const frame *f, bool hq, double r) {
    fprintf(out, "<g class=\"%s\" fill=\"%s\" fill-opacity=\"%s\">\n", hq ? "hq" : "other",
            hq ? HQ_COLOR : OTHER_COLOR, hq ? "0.75" : "0.55");
    for (int64_t i = 0; i < s->n; i++) {
        const float *p = s->pts + 2 * i;
        if ((s->mode[i] >= 0) != hq || !inside_extent(p, s->extent)) continue;
        fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\"/>", frame_px(f, p[0]),
                frame_py(f, p[1]), r);
    }
    fputs("\n</g>\n", out);
}

/* Each mode: its 3-sigma circle (to scale) and a cross on its centre, green when captured,
 * grey when missed. */
static void draw_modes(FILE *out, const gt_scatter *s, const frame *f, const bool *captured) {
    double r = 3 * s->sigma / (f->x.hi - f->x.lo) * f->width, arm = 4;
    fputs("<g class=\"modes\" fill=\"none\">\n", out);
    for (int m = 0; m < s->n_modes; m++) {
        double x = frame_px(f, s->centres[2 * m]), y = frame_py(f, s->centres[2 * m + 1]);
        const char *color = captured[m] ? CAPTURED_COLOR : MISSED_COLOR;
        const char *width = captured[m] ? "1.6" : "1";
        fprintf(out,
                "<circle class=\"mode %s\" cx=\"%.1f\" cy=\"%.1f\" r=\"%.2f\" stroke=\"%s\" "
                "stroke-width=\"%s\"/><path class=\"centre\" d=\"M%.1f %.1fh%.0fM%.1f %.1fv%.0f\" "
                "stroke=\"%s\" stroke-width=\"%s\"/>\n",
                captured[m] ? "captured" : "missed", x, y, r, color, width, x - arm, y, 2 * arm, x,
                y - arm, 2 * arm, color, width);
    }
    fputs("</g>\n", out);
}

/* The key to the marks, two rows from baseline y. */
static void scatter_legend(FILE *out, double left, double y) {
    fprintf(out,
            "<g class=\"legend\">"
            "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>"
            "<text x=\"%.1f\" y=\"%.1f\">high quality (within 3&#963; of its mode)</text>"
            "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\" fill-opacity=\"0.55\"/>"
            "<text x=\"%.1f\" y=\"%.1f\">other</text>\n",
            left + 4, y - 4, HQ_COLOR, left + 12, y, left + 244, y - 4, OTHER_COLOR, left + 252, y);
    y += SCATTER_LEGEND_ROW;
    fprintf(out,
            "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\"/>"
            "<text x=\"%.1f\" y=\"%.1f\">mode captured (3&#963; circle)</text>"
            "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"none\" stroke=\"%s\"/>"
            "<text x=\"%.1f\" y=\"%.1f\">mode missed</text></g>\n",
            left + 4, y - 4, CAPTURED_COLOR, left + 12, y, left + 244, y - 4, MISSED_COLOR,
            left + 252, y);
}

void gt_svg_scatter(FILE *out, const gt_scatter *s) {
    bool *captured = calloc((size_t)s->n_modes + 1, sizeof *captured);
    if (!captured) return;
    int64_t hq = 0, outside = 0;
    int n_captured = 0;
    for (int64_t i = 0; i < s->n; i++) {
        if (!inside_extent(s->pts + 2 * i, s->extent)) outside++;
        if (s->mode[i] < 0 || s->mode[i] >= s->n_modes) continue;
        hq++;
        captured[s->mode[i]] = true;
    }
    for (int m = 0; m < s->n_modes; m++) n_captured += captured[m];
    frame f = {.x = axis_span(-s->extent, s->extent, s->side < 250 ? 3 : 6),
               .left = SCATTER_PAD_L, .width = s->side, .height = s->side};
    f.y = f.x;
    double legend_top = s->title ? 34 : 10;
    f.top = legend_top + (s->legend ? 2 * SCATTER_LEGEND_ROW + 4 : 0);
    int w = SCATTER_PAD_L + s->side + SCATTER_PAD_R, h = (int)f.top + s->side + SCATTER_PAD_B;
    char attrs[160];
    snprintf(attrs, sizeof attrs,
             "data-points=\"%lld\" data-high-quality=\"%lld\" data-outside=\"%lld\" "
             "data-modes=\"%d\" data-captured=\"%d\"",
             (long long)s->n, (long long)hq, (long long)outside, s->n_modes, n_captured);
    svg_begin(out, "scatter", w, h, s->title ? s->title : "samples", attrs);
    if (s->title) svg_heading(out, s->title, NULL);
    if (s->legend) scatter_legend(out, f.left, legend_top + 12);
    draw_y_ticks(out, &f);
    draw_x_ticks(out, &f);
    double r = s->side < 250 ? 1.2 : 1.8;
    draw_points(out, s, &f, false, r);
    draw_points(out, s, &f, true, r);
    draw_modes(out, s, &f, captured);
    draw_frame(out, &f);
    draw_axis_labels(out, &f, 33, "x", "y");
    if (outside)
        fprintf(out,
                "<text class=\"outside\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"%s\">"
                "%lld outside</text>\n",
                f.left + f.width, f.top + f.height + 33, OTHER_COLOR, (long long)outside);
    fputs("</svg>\n", out);
    free(captured);
}

/* ---- points with error bars over groups ---------------------------------------------------- */

enum { BAR_GROUP_W = 56, LABEL_CHARS_MAX = 30 };

/* The y range over every mean +- se and every seed's value; returns how many are drawable. */
static int errorbar_range(const gt_errorbar_chart *c, double *lo, double *hi) {
    int count = 0;
    *lo = INFINITY;
    *hi = -INFINITY;
    for (int i = 0; i < c->n; i++) {
        double m = c->mean[i], e = isfinite(c->se[i]) ? c->se[i] : 0;
        if (isfinite(m)) {
            *lo = fmin(*lo, m - e);
            *hi = fmax(*hi, m + e);
            count++;
        }
        for (int k = 0; k < c->n_values[i]; k++)
            if (isfinite(c->values[i][k])) {
                *lo = fmin(*lo, c->values[i][k]);
                *hi = fmax(*hi, c->values[i][k]);
            }
    }
    return count;
}

/* A group's label under the axis, cut to LABEL_CHARS_MAX characters, turned when `turned`. */
static void group_label(FILE *out, const char *label, double x, double y, bool turned) {
    char cut[LABEL_CHARS_MAX + 1];
    size_t n = strlen(label);
    snprintf(cut, sizeof cut, "%s", label);
    if (turned)
        fprintf(out,
                "<text class=\"label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" "
                "transform=\"rotate(-35 %.1f %.1f)\">",
                x, y, x, y);
    else
        fprintf(out, "<text class=\"label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", x, y);
    gt_html_escape(out, cut);
    fputs(n > LABEL_CHARS_MAX ? "&#8230;</text>\n" : "</text>\n", out);
}

/* Group i: the seeds' values as small grey dots to the right of centre x, the mean's bar and
 * dot on it. */
static void draw_group(FILE *out, const gt_errorbar_chart *c, const frame *f, int i, double x) {
    double m = c->mean[i], e = c->se[i];
    fprintf(out, "<g class=\"group\" data-index=\"%d\"", i);
    fprintf(out, isfinite(m) ? " data-mean=\"%.6g\">" : ">", m);
    int k_n = c->n_values[i];
    for (int k = 0; k < k_n; k++) {
        double v = c->values[i][k];
        if (!isfinite(v)) continue;
        fprintf(out, "<circle class=\"seed\" cx=\"%.1f\" cy=\"%.1f\" r=\"2.2\" fill=\"#888\"/>",
                x + 9 + 3 * (k - (k_n - 1) / 2.0) / (k_n > 4 ? k_n / 4.0 : 1), frame_py(f, v));
    }
    if (isfinite(m) && isfinite(e) && e > 0) {
        double y0 = frame_py(f, m - e), y1 = frame_py(f, m + e);
        fprintf(out,
                "<path class=\"bar\" d=\"M%.1f %.1fV%.1fM%.1f %.1fh10M%.1f %.1fh10\" "
                "stroke=\"%s\" stroke-width=\"1.5\" fill=\"none\"/>",
                x, y0, y1, x - 5, y0, x - 5, y1, palette[0]);
    }
    if (isfinite(m))
        fprintf(out, "<circle class=\"mean\" cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\"/>", x,
                frame_py(f, m), palette[0]);
    fputs("</g>\n", out);
}

void gt_svg_errorbars(FILE *out, const gt_errorbar_chart *c) {
    double lo, hi;
    int points = errorbar_range(c, &lo, &hi);
    double margin = points ? 0.06 * (hi - lo) : 0; /* no dot on the frame */
    lo = lo >= 0 && lo - margin < 0 ? 0 : lo - margin; /* nor a negative tick for counts */
    hi += margin;
    size_t longest = 0;
    for (int i = 0; i < c->n; i++)
        if (strlen(c->labels[i]) > longest) longest = strlen(c->labels[i]);
    if (longest > LABEL_CHARS_MAX) longest = LABEL_CHARS_MAX + 1;
    bool turned = longest * 6.5 > BAR_GROUP_W - 4;
    int label_h = turned ? (int)(longest * 6.5 * 0.58) + 14 : 16; /* sin 35 degrees */
    int w = c->n * BAR_GROUP_W + PAD_L + PAD_R;
    if (w < CHART_W) w = CHART_W;
    frame f = {.y = axis_fit(lo, hi, false), .left = PAD_L, .top = 44};
    f.width = w - PAD_L - PAD_R;
    f.height = 190;
    f.x = (axis){.lo = 0, .hi = c->n > 0 ? c->n : 1, .step = 1};
    int h = (int)(f.top + f.height) + label_h + 30;
    svg_begin(out, "errorbars", w, h, c->title, NULL);
    svg_heading(out, c->title, " (mean \xc2\xb1 standard error; grey: each seed)");
    draw_y_ticks(out, &f);
    draw_frame(out, &f);
    double bottom = f.top + f.height;
    for (int i = 0; i < c->n; i++) {
        double x = f.left + (i + 0.5) * f.width / c->n;
        draw_group(out, c, &f, i, x);
        group_label(out, c->labels[i], x, bottom + 15, turned);
    }
    draw_axis_labels(out, &f, label_h + 20, c->x_label, c->y_label);
    if (points == 0)
        fprintf(out,
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#999\">no data</text>\n",
                f.left + f.width / 2, f.top + f.height / 2);
    fputs("</svg>\n", out);
}
