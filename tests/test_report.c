/* The run report: a fake run folder (config.ini, metrics.jsonl with non-finite values and
 * evaluation lines, PNG grids written with libpng, or 2-D points as .npy) becomes one
 * self-contained report.html; the chart axes, the scatter plot and the error-bar chart; the
 * errors; and, when Debian's chromium is installed, a headless render whose layout a script
 * checks against what was written. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chromium.h"
#include "cli_support.h"
#include "data/data.h"
#include "io/image.h"
#include "report/report.h"
#include "test.h"

/* A value with < and & in it must reach the page escaped. */
static const char config_text[] =
    "[data]\ndataset = png\npath = /data/shirts <small> & co\n\n"
    "[model.g]\nfamily = dcgan\n\n[model.d]\nfamily = mlp\n\n[train]\nsteps = 2500\n";

/* 50 training lines (step 50..2500) written the way gantry does (with the values a run with a
 * penalty, instance noise, path length regularization and progressive growing adds), non-finite
 * values included, an evaluation line every 500 steps, and a warning. */
static bool write_metrics(const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) return false;
    for (int i = 1; i <= 50; i++) {
        int step = 50 * i, k = step / 500;
        char d_loss[32], g_norm[32];
        snprintf(d_loss, sizeof d_loss, "%.6g", 1.2 + 0.3 * sin(i * 0.4));
        snprintf(g_norm, sizeof g_norm, "%.6g", 1e-3 * i * i);
        fprintf(f,
                "{\"step\": %d, \"d_loss\": %s, \"g_loss\": %.6g, \"d_grad_norm\": %.6g, "
                "\"g_grad_norm\": %s, \"d_real\": %s, \"d_fake\": %.6g, \"d_acc_real\": 0.8, "
                "\"d_acc_fake\": 0.7, \"lr_g\": 0.0002, \"lr_d\": 0.0002, \"steps_per_s\": 12.5, "
                "\"images_per_s\": 800, \"penalty\": 0.25, \"noise_sigma\": 0.1, "
                "\"pl_penalty\": 0.03, \"pl_mean\": 0.4, \"resolution\": %d, \"alpha\": 0.5, "
                "\"images\": %d, \"elapsed_s\": %.3f}\n",
                step, i == 20 ? "nan" : d_loss, 0.9 + 0.02 * i, 0.5 * i, i == 30 ? "inf" : g_norm,
                i == 30 ? "-nan" : "2.5", -2.0 + 0.01 * i, i < 25 ? 8 : 16, 64 * step, step / 12.5);
        if (step % 500 == 0)
            fprintf(f,
                    "{\"step\": %d, \"eval_n\": 2000, \"fid\": %.6g, \"kid\": %.6g, "
                    "\"precision\": %.4f, \"recall\": %.4f, \"protocol\": \"fid-2k\"}\n",
                    step, 200.0 / k, 0.2 / k, 0.3 + 0.1 * k, 0.1 * k);
        if (step == 1750)
            fputs("{\"step\": 1750, \"warning\": \"D overpowers G: <95%> & more\"}\n", f);
    }
    return fclose(f) == 0;
}

/* config.ini, metrics.jsonl and n_grids grids samples/step-NNNNNN.png at steps 100, 200, ... */
static bool make_run(const char *dir, int n_grids) {
    bool ok = cli_write_file(cli_path(dir, "config.ini"), config_text, strlen(config_text)) &&
              write_metrics(cli_path(dir, "metrics.jsonl")) && cli_mkdir(cli_path(dir, "samples"));
    for (int i = 1; ok && i <= n_grids; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/samples/step-%06d.png", dir, 100 * i);
        ok = cli_write_gray_png(path, 40, 40, (unsigned)i);
    }
    CHECK(ok);
    return ok;
}

/* The report of dir as text (NULL after a failed check). */
static char *make_report(const char *dir) {
    gt_error err = {{0}};
    int rc = gt_report_run(dir, &err);
    if (rc < 0) fprintf(stderr, "  %s\n", err.msg);
    CHECK(rc == 0);
    char *html = rc == 0 ? cli_read_file(cli_path(dir, "report.html"), NULL) : NULL;
    CHECK(html != NULL);
    return html;
}

static int count(const char *text, const char *part) {
    int n = 0;
    for (const char *p = text; (p = strstr(p, part)); p += strlen(part)) n++;
    return n;
}

static int base64_value(char c) {
    const char *abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = c ? strchr(abc, c) : NULL;
    return p ? (int)(p - abc) : -1;
}

/* Decodes base64 up to the first character outside the alphabet (padding included); returns
 * the byte count, or -1 when the text is not whole groups of four. */
static long base64_decode(const char *s, unsigned char *out, long cap) {
    long n = 0;
    for (; base64_value(s[0]) >= 0 && base64_value(s[1]) >= 0; s += 4) {
        int v[4] = {base64_value(s[0]), base64_value(s[1]), base64_value(s[2]), base64_value(s[3])};
        if (n + 3 > cap || (v[2] < 0 && s[2] != '=') || (v[3] < 0 && s[3] != '=')) return -1;
        out[n++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
        if (v[2] >= 0) out[n++] = (unsigned char)((v[1] & 15) << 4 | v[2] >> 2);
        if (v[3] >= 0) out[n++] = (unsigned char)((v[2] & 3) << 6 | v[3]);
        if (v[3] < 0) break;
    }
    return n;
}

/* Whether the first embedded image holds exactly the bytes of the file at path. */
static bool first_image_is(const char *html, const char *path) {
    static const char prefix[] = "data:image/png;base64,";
    const char *p = strstr(html, prefix);
    size_t len = 0;
    char *png = cli_read_file(path, &len);
    unsigned char buf[1 << 16];
    long n = p ? base64_decode(p + strlen(prefix), buf, sizeof buf) : -1;
    bool same = png && n == (long)len && memcmp(buf, png, len) == 0;
    free(png);
    return same;
}

TEST(report_of_a_run) {
    char dir[64];
    if (!cli_scratch_new(dir)) return;
    char *html = make_run(dir, 2) ? make_report(dir) : NULL;
    if (html) {
        CHECK(strstr(html, "<!DOCTYPE html>") && strstr(html, "</html>"));
        /* the header */
        CHECK(strstr(html, dir) && strstr(html, "2500 of 2500"));
        CHECK(strstr(html, "G: dcgan, D: mlp") && strstr(html, "png (/data/shirts"));
        /* training health, escaped */
        CHECK(strstr(html, "1 warning, 0 errors") && !strstr(html, "could not be read"));
        CHECK(strstr(html, "step 1750, warning:</b> D overpowers G: &lt;95%&gt; &amp; more"));
        /* the configuration, escaped */
        CHECK(strstr(html, "<details>") &&
              strstr(html, "path = /data/shirts &lt;small&gt; &amp; co"));
        CHECK(!strstr(html, "<small>"));
        /* charts: nine of training, FID, KID, precision with recall; eval_n and strings are not
         * metrics, nor are the tricks' training values (penalty, path length, growth) */
        CHECK(count(html, "<svg") == 12 && count(html, "</svg>") == 12);
        CHECK(strstr(html, ">Losses<") && strstr(html, ">Gradient norms<") &&
              strstr(html, "(log scale)"));
        const char *eval = strstr(html, "<h2>Evaluation</h2>");
        const char *train_only[] = {">D&#39;s accuracy<", ">Weighted penalties<", ">Instance noise sigma<",
                                    ">Path length regularization<",
                                    ">Progressive growing: resolution<",
                                    ">Progressive growing: fade-in alpha<"};
        for (size_t k = 0; k < sizeof train_only / sizeof *train_only; k++) {
            const char *at = strstr(html, train_only[k]);
            CHECK(at && eval && at < eval);
        }
        CHECK(eval && !strstr(eval, ">d_acc_real<") && !strstr(eval, ">images<") &&
              !strstr(eval, ">penalty<"));
        CHECK(strstr(html, ">FID<") && strstr(html, ">KID<") &&
              strstr(html, ">Precision and recall<"));
        CHECK(!strstr(html, ">eval_n<") && !strstr(html, "fid-2k"));
        CHECK(strstr(html, "d_loss, 1 non-finite skipped") &&
              strstr(html, "g_grad_norm, 1 non-finite skipped"));
        CHECK(strstr(html, "fid, last 40 at step 2500"));
        CHECK(!strstr(html, "nan,") && !strstr(html, "inf,"));
        /* the grids, embedded, latest first */
        CHECK(count(html, "src=\"data:image/png;base64,") == 2);
        CHECK(first_image_is(html, cli_path(dir, "samples/step-000200.png")));
        CHECK(strstr(html, "step 200 (latest)") &&
              strstr(html, "<figcaption>step 100</figcaption>"));
        CHECK(count(html, "<figure>") == count(html, "</figure>"));
        /* self-contained */
        CHECK(!strstr(html, "http://") && !strstr(html, "https://") &&
              !strstr(html, "src=\"file:"));
        CHECK(strstr(html, "default-src 'none'"));
        CHECK(cli_count_names(dir, ".tmp.") == 0);
    }
    free(html);
    cli_scratch_remove(dir);
}

/* Many grids: at most 8 embedded, the first and the latest among them. */
TEST(report_caps_grids) {
    char dir[64];
    if (!cli_scratch_new(dir)) return;
    char *html = make_run(dir, 20) ? make_report(dir) : NULL;
    if (html) {
        CHECK(count(html, "src=\"data:image/png;base64,") == 8);
        CHECK(strstr(html, "step 2000 (latest)") &&
              strstr(html, "<figcaption>step 100</figcaption>"));
        CHECK(strstr(html, "7 of 19 shown"));
        CHECK(first_image_is(html, cli_path(dir, "samples/step-002000.png")));
    }
    free(html);
    cli_scratch_remove(dir);
}

/* A run that has just started: no config.ini, no samples, the last line half written, a
 * resumed stretch logged twice (the later line wins). */
TEST(report_of_a_partial_run) {
    char dir[64];
    if (!cli_scratch_new(dir)) return;
    static const char log[] = "{\"step\": 10, \"d_loss\": 1.5, \"g_loss\": 0.7}\n"
                              "{\"step\": 20, \"d_loss\": 9.5, \"g_loss\": 0.8}\n\n"
                              "{\"step\": 20, \"d_loss\": 1.25, \"g_loss\": 0.8}\n"
                              "{\"step\": 30, \"d_lo";
    CHECK(cli_write_file(cli_path(dir, "metrics.jsonl"), log, strlen(log)));
    char *html = make_report(dir);
    if (html) {
        CHECK(strstr(html, "config.ini is missing") && strstr(html, "No sample grids yet"));
        CHECK(strstr(html, "1 line of metrics.jsonl could not be read"));
        CHECK(strstr(html, "No evaluation logged yet"));
        CHECK(strstr(html, "<td>20</td>") && count(html, "<svg") == 1 && strstr(html, ">Losses<"));
        /* y ticks from 0.6 to 1.6: the overridden 9.5 left no trace */
        CHECK(strstr(html, "\"end\">1.6<") && !strstr(html, "\"end\">1.8<"));
    }
    free(html);
    cli_scratch_remove(dir);
}

/* A line cut by a kill with the next one glued to it (issue 21, defect 4) is an error naming
 * the file and the line, and no report is written; so is any other line that is not a record. */
TEST(report_rejects_malformed_lines) {
    char dir[64];
    if (!cli_scratch_new(dir)) return;
    static const char *const logs[] = {
        ("{\"step\": 10, \"d_loss\": 1.5}\n{\"step\": 20, \"d_lo{\"step\": 21, \"d_loss\": 1.2}\n"
         "{\"step\": 30, \"d_loss\": 1.1}\n"),
        "{\"step\": 10, \"d_loss\": 1.5}\n[1, 2]\n",
        "{\"step\": 10, \"d_loss\": 1.5}\n{\"d_loss\": 1.5}\n"};
    for (size_t i = 0; i < sizeof logs / sizeof *logs; i++) {
        const char *path = cli_path(dir, "metrics.jsonl");
        CHECK(cli_write_file(path, logs[i], strlen(logs[i])));
        gt_error err = {{0}};
        char where[128];
        snprintf(where, sizeof where, "%s line 2 is not a JSON object", path);
        CHECK(gt_report_run(dir, &err) < 0 && strstr(err.msg, where));
        if (!strstr(err.msg, where)) fprintf(stderr, "  log %zu: '%s'\n", i, err.msg);
        CHECK(!cli_exists(cli_path(dir, "report.html")));
    }
    cli_scratch_remove(dir);
}

TEST(report_errors_name_the_path) {
    char dir[64];
    if (!cli_scratch_new(dir)) return;
    gt_error err = {{0}};
    const char *missing = cli_path(dir, "no-such-run");
    CHECK(gt_report_run(missing, &err) < 0 && strstr(err.msg, missing) &&
          strstr(err.msg, "No such file"));
    CHECK(gt_report_run(dir, &err) < 0 && strstr(err.msg, cli_path(dir, "metrics.jsonl")));
    CHECK(!cli_exists(cli_path(dir, "report.html")) && cli_count_names(dir, ".tmp.") == 0);
    cli_scratch_remove(dir);
}

/* The chart alone: decade ticks on a log axis, skipped values, and an empty chart. */
TEST(chart_axes) {
    const double x[6] = {0, 100, 200, 300, 400, 500};
    const double a[6] = {1e-3, 1e-1, NAN, -1, 10, 1000}, b[6] = {NAN, NAN, NAN, NAN, NAN, NAN};
    const double *ys[2] = {a, b};
    const char *names[2] = {"a", "b & c"};
    gt_chart c = {.title = "T<1>",
                  .x_label = "step",
                  .x = x,
                  .y = ys,
                  .names = names,
                  .n = 6,
                  .n_series = 2,
                  .log_y = true};
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return;
    gt_svg_chart(f, &c);
    c.n_series = 1;
    c.y = ys + 1;
    c.log_y = false;
    gt_svg_chart(f, &c);
    fclose(f);
    CHECK(strstr(text, ">0.001<") && strstr(text, ">1000<") && strstr(text, ">500<"));
    CHECK(count(text, "<polyline") == 1 && count(text, "<circle") == 4);
    CHECK(strstr(text, "T&lt;1&gt;") && strstr(text, "b &amp; c") && count(text, ">no data<") == 1);
    CHECK(!strstr(text, "nan") && !strstr(text, "inf"));
    free(text);
}

/* ---- 2-D runs: scatter plots over the mixture ---- */

/* The ring's centres. */
static void ring_centres(float c[16]) { CHECK(gt_data_mixture_centres("ring", 0, c, NULL) == 8); }

/* Points of step k (1, 2, ...): the centres of the first min(k, 8) modes (high quality), the
 * origin and (0.5, 0.5) (far from every mode) and (3, 0) (outside the plot). n gets the count. */
static int step_points(int k, float *pts) {
    float c[16];
    ring_centres(c);
    int modes = k < 8 ? k : 8, n = 0;
    for (int m = 0; m < modes; m++, n++) {
        pts[2 * n] = c[2 * m];
        pts[2 * n + 1] = c[2 * m + 1];
    }
    const float others[6] = {0, 0, 0.5f, 0.5f, 3, 0};
    memcpy(pts + 2 * n, others, sizeof others);
    return n + 3;
}

static const char ring_config[] =
    "[data]\ndataset = ring\n\n[model.g]\nfamily = mlp\n\n[model.d]\nfamily = mlp\n\n"
    "[train]\nsteps = 1000\n";

/* A ring run: config.ini, metrics.jsonl, and n_steps steps of samples (100, 200, ...), each
 * step-NNNNNN.npy of step_points and the PNG thumbnail gantry writes beside it. */
static bool make_ring_run(const char *dir, int n_steps) {
    bool ok = cli_write_file(cli_path(dir, "config.ini"), ring_config, strlen(ring_config)) &&
              write_metrics(cli_path(dir, "metrics.jsonl")) && cli_mkdir(cli_path(dir, "samples"));
    for (int k = 1; ok && k <= n_steps; k++) {
        char path[512];
        float pts[2 * 11];
        int64_t shape[2] = {step_points(k, pts), 2};
        gt_error err;
        snprintf(path, sizeof path, "%s/samples/step-%06d.npy", dir, 100 * k);
        ok = gt_npy_write(path, pts, 2, shape, &err) == 0;
        snprintf(path, sizeof path, "%s/samples/step-%06d.png", dir, 100 * k);
        ok = ok && cli_write_gray_png(path, 40, 40, (unsigned)k);
    }
    CHECK(ok);
    return ok;
}

/* The scatter alone: a point's coordinates, the marks, the counts and the axes. */
TEST(scatter_svg) {
    float c[16], pts[2 * 11];
    ring_centres(c);
    int n = step_points(3, pts); /* 3 centres, the origin, (0.5, 0.5), (3, 0) */
    int32_t mode[11] = {0, 1, 2, -1, -1, -1};
    gt_scatter s = {.pts = pts, .mode = mode, .n = n, .centres = c, .n_modes = 8,
                    .sigma = 0.01f, .extent = 1.5, .side = 300};
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return;
    gt_svg_scatter(f, &s);
    fclose(f);
    CHECK(count(text, "<svg class=\"scatter\"") == 1 && count(text, "</svg>") == 1);
    CHECK(strstr(text, "data-points=\"6\" data-high-quality=\"3\" data-outside=\"1\" "
                       "data-modes=\"8\" data-captured=\"3\""));
    /* 8 mode circles of radius 3 sigma = 0.03 / 3 * 300 px, 3 captured; 5 dots drawn */
    CHECK(count(text, "<circle class=\"mode ") == 8 && count(text, "class=\"mode captured\"") == 3);
    CHECK(strstr(text, "r=\"3.00\""));
    const char *hq = strstr(text, "<g class=\"hq\""), *other = strstr(text, "<g class=\"other\"");
    const char *modes = strstr(text, "<g class=\"modes\"");
    CHECK(hq && other && modes && other < hq && hq < modes);
    if (hq && other && modes) {
        char *hq_part = strndup(hq, (size_t)(modes - hq)), *other_part = strndup(other, (size_t)(hq - other));
        CHECK(count(hq_part, "<circle") == 3 && count(other_part, "<circle") == 2);
        /* the plot spans x 48..348 and y 10..310: (1, 0), mode 0's centre, is at (298, 160);
         * the origin at (198, 160), (0.5, 0.5) at (248, 110) */
        CHECK(strstr(hq_part, "cx=\"298.0\" cy=\"160.0\""));
        CHECK(strstr(other_part, "cx=\"198.0\" cy=\"160.0\"") &&
              strstr(other_part, "cx=\"248.0\" cy=\"110.0\""));
        free(hq_part);
        free(other_part);
    }
    CHECK(strstr(text, "<circle class=\"mode captured\" cx=\"298.0\" cy=\"160.0\""));
    CHECK(strstr(text, ">1 outside<"));
    /* ticks every 0.5 from -1.5 to 1.5 on both axes, and the axis titles */
    CHECK(count(text, "class=\"tick\"") == 14 && count(text, ">-1.5<") == 2 && count(text, ">0<") == 2);
    CHECK(strstr(text, "class=\"xlabel\"") && strstr(text, ">x</text>") && strstr(text, ">y</text>"));
    CHECK(!strstr(text, "nan") && !strstr(text, "inf"));
    free(text);
}

/* The error-bar chart alone: groups in the order given, a bar only where there is a standard
 * error, seeds' dots without the NaN one, the labels. */
TEST(errorbar_svg) {
    const char *labels[3] = {"1. 1e-4", "2. 1e-3 <b>", "3. 1e-2"};
    double mean[3] = {7.5, 5, NAN}, se[3] = {0.5, NAN, NAN};
    double v0[2] = {7, 8}, v1[2] = {5, NAN}, v2[2] = {NAN, NAN};
    const double *values[3] = {v0, v1, v2};
    int n_values[3] = {2, 2, 2};
    gt_errorbar_chart c = {.title = "modes covered", .x_label = "combination", .y_label = "modes",
                           .labels = labels, .mean = mean, .se = se, .values = values,
                           .n_values = n_values, .n = 3};
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return;
    gt_svg_errorbars(f, &c);
    for (int i = 0; i < 3; i++) mean[i] = se[i] = NAN;
    v0[0] = v0[1] = NAN;
    v1[0] = NAN;
    gt_svg_errorbars(f, &c);
    fclose(f);
    CHECK(count(text, "<svg class=\"errorbars\"") == 2 && count(text, "class=\"group\"") == 6);
    const char *g0 = strstr(text, "data-index=\"0\" data-mean=\"7.5\"");
    const char *g1 = strstr(text, "data-index=\"1\" data-mean=\"5\"");
    CHECK(g0 && g1 && g0 < g1 && strstr(text, "data-index=\"2\">"));
    char *first = strndup(text, (size_t)(strstr(text, "</svg>") - text));
    CHECK(count(first, "class=\"bar\"") == 1 && count(first, "class=\"mean\"") == 2 &&
          count(first, "class=\"seed\"") == 3);
    CHECK(strstr(first, ">1. 1e-4<") && strstr(first, ">2. 1e-3 &lt;b&gt;<") &&
          strstr(first, ">modes</text>") && strstr(first, ">combination</text>"));
    /* the y axis covers 7 .. 8 and 5 */
    CHECK(strstr(first, "\"end\">8<") && strstr(first, "\"end\">5<") && !strstr(first, "no data"));
    CHECK(count(text, ">no data<") == 1 && !strstr(text, "nan") && !strstr(text, "inf"));
    free(first);
    free(text);
}

/* A ring run: the latest points as a large scatter with its caption, a strip of 8 of the 10
 * steps, and no PNG thumbnails. */
TEST(report_of_a_2d_run) {
    char dir[64];
    if (!cli_scratch_new(dir)) return;
    char *html = make_ring_run(dir, 10) ? make_report(dir) : NULL;
    if (html) {
        const char *samples = strstr(html, "<h2 id=\"samples\">Samples</h2>");
        CHECK(samples && count(samples, "<svg class=\"scatter\"") == 9);
        CHECK(!strstr(html, "data:image/png"));
        CHECK(strstr(html, "step 1000 (latest): 8 of 8 modes captured, 72.7% high quality "
                           "(11 points)"));
        CHECK(strstr(html, "8 of 10 steps shown"));
        CHECK(strstr(html, "step 100: 1 of 8 modes captured, 25.0% high quality (4 points)"));
        CHECK(strstr(html, "step 600: 6 of 8 modes captured") &&
              !strstr(html, "step 500: ")); /* the strip: steps 100-400, 600-800, 1000 */
        CHECK(strstr(html, "Samples of G over the modes") && strstr(html, "mode missed"));
    }
    free(html);
    cli_scratch_remove(dir);
}

/* What the check script in chromium reports for a 2-D run's report: the scatters drawn, the
 * first's modes, dots, dots inside its frame, tick labels, mode 0's centre in px from the frame's
 * corner and the frame's side. */
static const char scatter_script[] =
    "var all = document.querySelectorAll('svg.scatter'), s = all[0];\n"
    "var frame = s.querySelector('rect.frame').getBoundingClientRect();\n"
    "var dots = s.querySelectorAll('g.hq circle, g.other circle'), inside = 0;\n"
    "dots.forEach(function (c) { var b = c.getBoundingClientRect(), x = (b.left + b.right) / 2,\n"
    "  y = (b.top + b.bottom) / 2;\n"
    "  if (x >= frame.left && x <= frame.right && y >= frame.top && y <= frame.bottom) inside++; });\n"
    "var m = s.querySelector('circle.mode').getBoundingClientRect();\n"
    "var ticks = Array.prototype.map.call(s.querySelectorAll('text.tick'),\n"
    "  function (t) { return t.textContent; }).join(',');\n"
    "return 'scatters=' + all.length + ' modes=' + s.querySelectorAll('circle.mode').length +\n"
    "  ' captured=' + s.querySelectorAll('circle.captured').length + ' dots=' + dots.length +\n"
    "  ' inside=' + inside + ' hq=' + s.querySelectorAll('g.hq circle').length +\n"
    "  ' ticks=' + ticks + ' xlabel=' + s.querySelector('text.xlabel').textContent +\n"
    "  ' mode0=' + Math.round((m.left + m.right) / 2 - frame.left) + ',' +\n"
    "  Math.round((m.top + m.bottom) / 2 - frame.top) + ' side=' + Math.round(frame.width);\n";

TEST(report_renders_in_chromium) {
    if (!chromium_present()) {
        TEST_SKIP("%s is absent (apt-get install chromium): the render check", CHROMIUM);
        return;
    }
    char dir[64], ring[64];
    if (!cli_scratch_new(dir)) return;
    if (!cli_scratch_new(ring)) {
        cli_scratch_remove(dir);
        return;
    }
    char *html = make_run(dir, 3) ? make_report(dir) : NULL;
    const char *shot = cli_path(dir, "shot.png");
    unsigned w = 0, h = 0;
    if (html) {
        CHECK(chromium_screenshot(cli_path(dir, "report.html"), shot, 1200, 2000,
                                  cli_path(dir, "profile")));
        CHECK(cli_png_size(shot, &w, &h) && w == 1200 && h == 2000);
        CHECK(cli_file_size(shot) > 20000);
    }
    free(html);
    /* a 2-D run: what the browser laid out matches what was written */
    html = make_ring_run(ring, 10) ? make_report(ring) : NULL;
    char *verdict = html ? chromium_eval(cli_path(ring, "report.html"), scatter_script, ring) : NULL;
    CHECK(!html || verdict);
    /* 8 captured modes; 11 points, one outside the plot; (1, 0) on [-1.5, 1.5] lies 5/6 of
     * the 400 px side across and half of it down */
    static const char expected[] = "scatters=9 modes=8 captured=8 dots=10 inside=10 hq=8 "
                                   "ticks=-1.5,-1,-0.5,0,0.5,1,1.5,-1.5,-1,-0.5,0,0.5,1,1.5 "
                                   "xlabel=x mode0=333,200 side=400";
    CHECK(!verdict || strcmp(verdict, expected) == 0);
    if (verdict && strcmp(verdict, expected)) fprintf(stderr, "  chromium saw: %s\n", verdict);
    shot = cli_path(ring, "shot.png");
    if (html) {
        CHECK(chromium_screenshot(cli_path(ring, "report.html"), shot, 1200, 2400,
                                  cli_path(ring, "profile")));
        CHECK(cli_file_size(shot) > 20000);
    }
    free(verdict);
    free(html);
    cli_scratch_remove(dir);
    cli_scratch_remove(ring);
}

int main(void) {
    RUN_TESTS(T(report_of_a_run), T(report_caps_grids), T(report_of_a_partial_run),
              T(report_rejects_malformed_lines),
              T(report_errors_name_the_path), T(chart_axes), T(scatter_svg), T(errorbar_svg),
              T(report_of_a_2d_run), T(report_renders_in_chromium));
}
