/* The pieces every gantry report shares: the HTML page frame (with a Content-Security-Policy
 * that forbids every network request), escaping, and inline SVG line charts with ticked axes
 * and a legend. */
#include "report/report.h"

#include <math.h>
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
    double k = round((a->hi - a->lo) / a->step);
    for (int i = 0; k >= 1 && k <= 20 && i <= (int)k; i++) t[n++] = a->lo + i * a->step;
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

static void draw_axes(FILE *out, const frame *f, const char *x_label) {
    char label[32];
    double bottom = f->top + f->height, ticks[TICKS_MAX];
    for (int k = 0, n = axis_ticks(&f->y, ticks); k < n; k++) {
        double t = ticks[k];
        double y = f->top + (1 - (t - f->y.lo) / (f->y.hi - f->y.lo)) * f->height;
        tick_label(label, sizeof label, &f->y, t);
        fprintf(out,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e6e6e6\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                f->left, y, f->left + f->width, y, f->left - 6, y + 4, label);
    }
    for (int k = 0, n = axis_ticks(&f->x, ticks); k < n; k++) {
        double t = ticks[k];
        double x = f->left + (t - f->x.lo) / (f->x.hi - f->x.lo) * f->width;
        tick_label(label, sizeof label, &f->x, t);
        fprintf(out,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e6e6e6\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
                x, f->top, x, bottom, x, bottom + 15, label);
    }
    fprintf(out,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
            "stroke=\"#888\"/>\n",
            f->left, f->top, f->width, f->height);
    fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#555\">",
            f->left + f->width / 2, bottom + 33);
    gt_html_escape(out, x_label);
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
    fprintf(out,
            "<svg width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" "
            "font-family=\"sans-serif\" font-size=\"11\" fill=\"#333\">\n<title>",
            CHART_W, CHART_H, CHART_W, CHART_H);
    gt_html_escape(out, c->title);
    fputs("</title>\n<text x=\"12\" y=\"20\" font-size=\"14\" font-weight=\"bold\">", out);
    gt_html_escape(out, c->title);
    fputs(c->log_y ? "<tspan font-weight=\"normal\" fill=\"#777\"> (log scale)</tspan></text>\n"
                   : "</text>\n",
          out);
    draw_axes(out, &f, c->x_label);
    legend(out, c, 38);
    for (int s = 0; s < c->n_series; s++) draw_series(out, c, &f, s);
    if (points == 0)
        fprintf(out,
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#999\">no data</text>\n",
                f.left + f.width / 2, f.top + f.height / 2);
    fputs("</svg>\n", out);
}

