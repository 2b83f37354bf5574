/* report.html of a run folder: one self-contained page (inline SVG charts, the PNG sample grids
 * as base64 data: URIs or, for 2-D data, SVG scatters of the points over the mixture's modes,
 * inline CSS, and a Content-Security-Policy that forbids every fetch), so it opens offline and
 * can be archived or mailed as a single file. */
#include "report/report.h"

#include "io/files.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "io/atomic.h"
#include "report/samples.h"

/* ---- metrics.jsonl ------------------------------------------------------------------------- */

typedef struct {
    char name[64];
    double *v; /* per row: NaN when the line lacks the key, INFINITY when its value is not finite */
} column;

/* A training-health line: {"step": N, "warning": "..."} or {"step": N, "error": "..."}. */
typedef struct {
    double step;
    bool error;
    char *msg;
} event;

typedef struct {
    double *step; /* [rows], ascending after metrics_merge */
    column *col; /* [ncols], in order of first appearance */
    int rows, cap, ncols;
    event *events; /* in file order */
    int n_events;
    int unreadable; /* lines that are not a JSON object with a numeric step */
} metrics;

static void metrics_free(metrics *m) {
    for (int c = 0; c < m->ncols; c++) free(m->col[c].v);
    free(m->col);
    free(m->step);
    for (int e = 0; e < m->n_events; e++) free(m->events[e].msg);
    free(m->events);
}

static column *metrics_column(const metrics *m, const char *name) {
    for (int c = 0; c < m->ncols; c++)
        if (strcmp(m->col[c].name, name) == 0) return &m->col[c];
    return NULL;
}

static int metrics_add_row(metrics *m, double step) {
    if (m->rows == m->cap) {
        int cap = m->cap ? 2 * m->cap : 256;
        double *s = realloc(m->step, (size_t)cap * sizeof *s);
        if (!s) return -1;
        m->step = s;
        for (int c = 0; c < m->ncols; c++) {
            double *v = realloc(m->col[c].v, (size_t)cap * sizeof *v);
            if (!v) return -1;
            m->col[c].v = v;
        }
        m->cap = cap;
    }
    m->step[m->rows] = step;
    for (int c = 0; c < m->ncols; c++) m->col[c].v[m->rows] = NAN;
    m->rows++;
    return 0;
}

static column *metrics_add_column(metrics *m, const char *name) {
    column *cols = realloc(m->col, (size_t)(m->ncols + 1) * sizeof *cols);
    if (!cols) return NULL;
    m->col = cols;
    column *c = &cols[m->ncols];
    if (!(c->v = malloc((size_t)(m->cap ? m->cap : 1) * sizeof *c->v))) return NULL;
    snprintf(c->name, sizeof c->name, "%s", name);
    for (int i = 0; i < m->rows; i++) c->v[i] = NAN;
    m->ncols++;
    return c;
}

/* gantry writes non-finite values as printf does (nan, -nan, inf), which is not JSON: this copy
 * has each bare word other than true, false and null, with its sign, replaced by null. Letters
 * right after a digit or a point belong to a number (1e-05) and stay. */
static char *json_sanitize(const char *line) {
    char *out = malloc(4 * strlen(line) + 1), *o = out;
    if (!out) return NULL;
    bool in_string = false;
    for (const char *p = line; *p;) {
        if (in_string || *p == '"') {
            if (in_string && *p == '\\' && p[1])
                *o++ = *p++;
            else if (*p == '"')
                in_string = !in_string;
            *o++ = *p++;
        } else if (isalpha((unsigned char)*p) &&
                   !(o > out && (isdigit((unsigned char)o[-1]) || o[-1] == '.'))) {
            const char *w = p;
            while (isalpha((unsigned char)*p)) p++;
            size_t len = (size_t)(p - w);
            bool keep = (len == 4 && (!strncmp(w, "true", 4) || !strncmp(w, "null", 4))) ||
                        (len == 5 && !strncmp(w, "false", 5));
            if (!keep && o > out && (o[-1] == '-' || o[-1] == '+')) o--;
            memcpy(o, keep ? w : "null", keep ? len : 4);
            o += keep ? len : 4;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return out;
}

static int metrics_add_event(metrics *m, double step, const cJSON *it) {
    event *more = realloc(m->events, (size_t)(m->n_events + 1) * sizeof *more);
    if (!more) return -1;
    m->events = more;
    event *e = &more[m->n_events];
    e->step = step;
    e->error = strcmp(it->string, "error") == 0;
    if (!(e->msg = malloc(strlen(it->valuestring) + 1))) return -1;
    strcpy(e->msg, it->valuestring);
    m->n_events++;
    return 0;
}

/* Adds one line: a warning or an error becomes an event, numbers and nulls become values of a
 * row; other strings and nested objects (a protocol's name, say) are not curves. */
static int metrics_add_object(metrics *m, const cJSON *o, const cJSON *step) {
    const cJSON *it;
    cJSON_ArrayForEach(it, o) {
        if (!cJSON_IsString(it) || !it->string) continue;
        if ((!strcmp(it->string, "warning") || !strcmp(it->string, "error")) &&
            metrics_add_event(m, step->valuedouble, it) < 0)
            return -1;
    }
    if (metrics_add_row(m, step->valuedouble) < 0) return -1;
    cJSON_ArrayForEach(it, o) {
        if (it == step || !it->string || !(cJSON_IsNumber(it) || cJSON_IsNull(it))) continue;
        column *c = metrics_column(m, it->string);
        if (!c && !(c = metrics_add_column(m, it->string))) return -1;
        c->v[m->rows - 1] =
            cJSON_IsNumber(it) && isfinite(it->valuedouble) ? it->valuedouble : INFINITY;
    }
    return 0;
}

/* Blank lines are skipped. A line that does not parse is an error (*malformed set), except the
 * last one when it has no newline yet: a run may be writing it right now (it is counted).
 * Returns -1 when out of memory. */
static int metrics_add_line(metrics *m, const char *line, bool *malformed) {
    *malformed = false;
    if (line[strspn(line, " \t\r\n")] == '\0') return 0;
    char *clean = json_sanitize(line);
    if (!clean) return -1;
    cJSON *o = cJSON_Parse(clean);
    free(clean);
    const cJSON *step = cJSON_GetObjectItemCaseSensitive(o, "step");
    int rc = 0;
    if (cJSON_IsObject(o) && cJSON_IsNumber(step) && isfinite(step->valuedouble))
        rc = metrics_add_object(m, o, step);
    else if (line[strlen(line) - 1] != '\n')
        m->unreadable++;
    else
        *malformed = true;
    cJSON_Delete(o);
    return rc;
}

static int malformed_line(const char *path, long number, const char *line, gt_error *err) {
    return gt_error_set(err, "%s line %ld is not a JSON object with a numeric \"step\": '%.60s%s' "
                             "(a run killed in mid-line leaves one, which gantry train --resume "
                             "moves to metrics-dropped.jsonl; move it out of the file by hand)",
                        path, number, line, strlen(line) > 61 ? "..." : "");
}

typedef struct {
    double step;
    int row;
} row_key;

static int row_key_cmp(const void *a, const void *b) {
    const row_key *p = a, *q = b;
    if (p->step != q->step) return p->step < q->step ? -1 : 1;
    return (p->row > q->row) - (p->row < q->row);
}

/* Sorts rows by step and merges the rows of one step, later lines winning key by key: a resumed
 * run logs again the steps after its checkpoint, and an evaluation line shares its step with a
 * training line. */
static int metrics_merge(metrics *m) {
    row_key *order = malloc((size_t)m->rows * sizeof *order + 1);
    metrics out = {0};
    int rc = order ? 0 : -1;
    for (int i = 0; i < m->rows && order; i++) order[i] = (row_key){m->step[i], i};
    if (order) qsort(order, (size_t)m->rows, sizeof *order, row_key_cmp);
    for (int c = 0; c < m->ncols && rc == 0; c++)
        if (!metrics_add_column(&out, m->col[c].name)) rc = -1;
    for (int i = 0; i < m->rows && rc == 0; i++) {
        int src = order[i].row;
        if (out.rows == 0 || out.step[out.rows - 1] != order[i].step)
            rc = metrics_add_row(&out, order[i].step);
        for (int c = 0; c < m->ncols && rc == 0; c++)
            if (!isnan(m->col[c].v[src])) out.col[c].v[out.rows - 1] = m->col[c].v[src];
    }
    free(order);
    if (rc < 0) {
        metrics_free(&out);
        return -1;
    }
    out.events = m->events; /* the events move over unchanged */
    out.n_events = m->n_events;
    out.unreadable = m->unreadable;
    m->events = NULL;
    m->n_events = 0;
    metrics_free(m);
    *m = out;
    return 0;
}

static int metrics_load(metrics *m, const char *path, gt_error *err) {
    FILE *f = fopen(path, "r");
    if (!f)
        return gt_error_set(err,
                            "cannot read '%s': %s (a run folder holds the metrics.jsonl that "
                            "gantry train writes)",
                            path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;
    bool malformed = false;
    for (long number = 1; rc == 0 && getline(&line, &cap, f) >= 0; number++) {
        if (metrics_add_line(m, line, &malformed) < 0) rc = gt_error_set(err, "%s: out of memory", path);
        else if (malformed) rc = malformed_line(path, number, strtok(line, "\n"), err);
    }
    if (rc == 0 && ferror(f)) rc = gt_error_set(err, "cannot read '%s': %s", path, strerror(errno));
    free(line);
    fclose(f);
    if (rc == 0 && metrics_merge(m) < 0) rc = gt_error_set(err, "%s: out of memory", path);
    return rc;
}

/* The last finite value of a column and its step; false when there is none. */
static bool column_last(const metrics *m, const column *c, double *value, double *step) {
    for (int i = m->rows - 1; i >= 0; i--)
        if (isfinite(c->v[i])) {
            *value = c->v[i];
            *step = m->step[i];
            return true;
        }
    return false;
}

/* ---- the run ------------------------------------------------------------------------------- */

enum { MAX_GRIDS = 8 }; /* embedded sample grids or plotted point sets, the latest included */
#define MAX_CONFIG_BYTES ((size_t)1 << 20)

typedef struct {
    char dir[GT_PATH_MAX]; /* the run folder without trailing slashes */
    metrics m;
    char *config; /* config.ini's text, NULL when it cannot be read */
    char dataset[256], data_path[512], g_family[64], d_family[64], steps[32];
    gt_sample_file *grids, *points; /* samples/step-NNNNNN.png and .npy, by step */
    int n_grids, n_points;
    time_t logged; /* metrics.jsonl's modification time */
} run;

static int on_config_key(void *user, const char *section, const char *key, const char *value) {
    run *r = user;
    if (!strcmp(section, "data") && !strcmp(key, "dataset"))
        snprintf(r->dataset, sizeof r->dataset, "%s", value);
    if (!strcmp(section, "data") && !strcmp(key, "path"))
        snprintf(r->data_path, sizeof r->data_path, "%s", value);
    if (!strcmp(section, "model.g") && !strcmp(key, "family"))
        snprintf(r->g_family, sizeof r->g_family, "%s", value);
    if (!strcmp(section, "model.d") && !strcmp(key, "family"))
        snprintf(r->d_family, sizeof r->d_family, "%s", value);
    if (!strcmp(section, "train") && !strcmp(key, "steps"))
        snprintf(r->steps, sizeof r->steps, "%s", value);
    return 1;
}

static void run_load_config(run *r) {
    char path[GT_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/config.ini", r->dir);
    r->config = gt_read_file(path, MAX_CONFIG_BYTES, NULL);
    if (r->config) ini_parse_string(r->config, on_config_key, r);
}

static int run_load(run *r, const char *rundir, gt_error *err) {
    size_t n = strlen(rundir);
    while (n > 1 && rundir[n - 1] == '/') n--;
    if (n >= sizeof r->dir - 32) return gt_error_set(err, "run folder '%s': path too long", rundir);
    memcpy(r->dir, rundir, n);
    r->dir[n] = '\0';
    struct stat st;
    if (stat(r->dir, &st) < 0)
        return gt_error_set(err,
                            "cannot open run folder '%s': %s (give the folder gantry train wrote)",
                            r->dir, strerror(errno));
    if (!S_ISDIR(st.st_mode)) return gt_error_set(err, "run folder '%s' is not a folder", r->dir);
    char path[GT_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/metrics.jsonl", r->dir);
    if (metrics_load(&r->m, path, err) < 0) return -1;
    r->logged = stat(path, &st) == 0 ? st.st_mtime : 0;
    run_load_config(r);
    if (gt_samples_list(r->dir, ".png", &r->grids, &r->n_grids) < 0 ||
        gt_samples_list(r->dir, ".npy", &r->points, &r->n_points) < 0)
        return gt_error_set(err, "%s/samples: out of memory", r->dir);
    return 0;
}

static void run_free(run *r) {
    metrics_free(&r->m);
    free(r->config);
    free(r->grids);
    free(r->points);
}

/* ---- the page ------------------------------------------------------------------------------ */

static void meta_row(FILE *out, const char *label, const char *value) {
    fprintf(out, "<tr><td>%s</td><td>", label);
    gt_html_escape(out, value);
    fputs("</td></tr>\n", out);
}

static void format_time(char *buf, size_t cap, time_t t) {
    struct tm tm;
    if (!t || !gmtime_r(&t, &tm) || !strftime(buf, cap, "%Y-%m-%d %H:%M UTC", &tm))
        snprintf(buf, cap, "unknown");
}

/* Step reached (the last logged, or the last grid: a run stopped by its time limit samples
 * after its last log line), training time and speed. */
static void write_progress(FILE *out, const run *r) {
    char buf[128];
    double v, step = r->m.rows ? r->m.step[r->m.rows - 1] : -1;
    const column *c;
    if (r->n_grids) step = fmax(step, r->grids[r->n_grids - 1].step);
    if (r->n_points) step = fmax(step, r->points[r->n_points - 1].step);
    if (step < 0) {
        meta_row(out, "Step reached", "none logged yet");
    } else {
        snprintf(buf, sizeof buf, "%.0f%s%s", step, r->steps[0] ? " of " : "", r->steps);
        meta_row(out, "Step reached", buf);
    }
    if ((c = metrics_column(&r->m, "elapsed_s")) && column_last(&r->m, c, &v, &step)) {
        long s = lround(v);
        snprintf(buf, sizeof buf, "%ldh %02ldm %02lds", s / 3600, s / 60 % 60, s % 60);
        meta_row(out, "Training time", buf);
    }
    if ((c = metrics_column(&r->m, "steps_per_s")) && column_last(&r->m, c, &v, &step)) {
        double img = NAN, s2;
        const column *ci = metrics_column(&r->m, "images_per_s");
        if (ci) column_last(&r->m, ci, &img, &s2);
        if (isfinite(img))
            snprintf(buf, sizeof buf, "%.3g steps/s, %.4g images/s", v, img);
        else
            snprintf(buf, sizeof buf, "%.3g steps/s", v);
        meta_row(out, "Speed (last logged)", buf);
    }
}

static void health_summary(FILE *out, const metrics *m) {
    int errors = 0;
    for (int i = 0; i < m->n_events; i++) errors += m->events[i].error;
    int warnings = m->n_events - errors;
    char buf[96];
    if (m->n_events)
        snprintf(buf, sizeof buf, "%d warning%s, %d error%s (below)", warnings,
                 warnings == 1 ? "" : "s", errors, errors == 1 ? "" : "s");
    meta_row(out, "Training health", m->n_events ? buf : "no warnings");
}

static void write_header(FILE *out, const run *r) {
    char buf[1024], when[64];
    fputs("<h1>gantry run report</h1>\n<table class=\"meta\">\n", out);
    meta_row(out, "Run folder", r->dir);
    /* the 2-D mixtures are generated: data.path is not theirs */
    bool files = r->data_path[0] && strcmp(r->dataset, "ring") && strcmp(r->dataset, "grid");
    snprintf(buf, sizeof buf, "%s%s%s%s", r->dataset[0] ? r->dataset : "unknown", files ? " (" : "",
             files ? r->data_path : "", files ? ")" : "");
    meta_row(out, "Dataset", buf);
    snprintf(buf, sizeof buf, "G: %s, D: %s", r->g_family[0] ? r->g_family : "unknown",
             r->d_family[0] ? r->d_family : "unknown");
    meta_row(out, "Model families", buf);
    write_progress(out, r);
    health_summary(out, &r->m);
    format_time(when, sizeof when, r->logged);
    meta_row(out, "Last logged", when);
    format_time(when, sizeof when, time(NULL));
    meta_row(out, "Report written", when);
    fputs("</table>\n", out);
    if (r->m.unreadable)
        fprintf(
            out,
            "<p class=\"note\">%d line%s of metrics.jsonl could not be read and %s left out.</p>\n",
            r->m.unreadable, r->m.unreadable == 1 ? "" : "s", r->m.unreadable == 1 ? "is" : "are");
}

enum { EVENTS_SHOWN = 40 };

/* The warnings and errors logged while training: the first and the last EVENTS_SHOWN / 2 when
 * there are more (a warning can repeat for as long as its condition lasts). */
static void write_events(FILE *out, const metrics *m) {
    if (m->n_events == 0) return;
    fputs("<h2>Training health</h2>\n<ul>\n", out);
    for (int i = 0; i < m->n_events; i++) {
        if (m->n_events > EVENTS_SHOWN && i == EVENTS_SHOWN / 2) {
            fprintf(out, "<li>&hellip; %d more &hellip;</li>\n", m->n_events - EVENTS_SHOWN);
            i = m->n_events - EVENTS_SHOWN / 2;
        }
        const event *e = &m->events[i];
        const char *kind = e->error ? "error" : "warning";
        fprintf(out, "<li class=\"%s\"><b>step %.0f, %s:</b> ", kind, e->step, kind);
        gt_html_escape(out, e->msg);
        fputs("</li>\n", out);
    }
    fputs("</ul>\n", out);
}

static void write_config(FILE *out, const run *r) {
    if (!r->config) {
        fputs("<p class=\"note\">config.ini is missing or unreadable: no configuration to "
              "show.</p>\n",
              out);
        return;
    }
    fputs("<details>\n<summary>Resolved configuration (config.ini)</summary>\n<pre>", out);
    gt_html_escape(out, r->config);
    fputs("</pre>\n</details>\n", out);
}

enum { CHART_SERIES_MAX = 4 };

typedef struct {
    const char *title;
    const char *keys[CHART_SERIES_MAX]; /* NULL-terminated when shorter */
    bool log_y;
} chart_spec;

/* A chart of the spec's columns that exist; false (and no chart) when none does. Legend entries
 * note skipped non-finite values and, for evaluation metrics (with_last), the last value. */
static bool metrics_chart(FILE *out, const metrics *m, const chart_spec *spec, bool with_last) {
    char names[CHART_SERIES_MAX][160], note[96];
    const char *name_ptrs[CHART_SERIES_MAX];
    const double *ys[CHART_SERIES_MAX];
    int n = 0;
    for (int k = 0; k < CHART_SERIES_MAX && spec->keys[k]; k++) {
        const column *c = metrics_column(m, spec->keys[k]);
        if (!c) continue;
        int skipped = 0;
        double v, step;
        for (int i = 0; i < m->rows; i++) skipped += isinf(c->v[i]);
        note[0] = '\0';
        if (with_last && column_last(m, c, &v, &step))
            snprintf(note, sizeof note, ", last %.4g at step %.0f", v, step);
        if (skipped)
            snprintf(note + strlen(note), sizeof note - strlen(note), ", %d non-finite skipped",
                     skipped);
        snprintf(names[n], sizeof names[n], "%s%s", c->name, note);
        name_ptrs[n] = names[n];
        ys[n++] = c->v;
    }
    if (n == 0) return false;
    gt_chart chart = {.title = spec->title,
                      .x_label = "step",
                      .x = m->step,
                      .y = ys,
                      .names = name_ptrs,
                      .n = m->rows,
                      .n_series = n,
                      .log_y = spec->log_y};
    gt_svg_chart(out, &chart);
    return true;
}

static const chart_spec training_charts[] = {
    {"Losses", {"d_loss", "g_loss", NULL}, false},
    {"Gradient norms", {"d_grad_norm", "g_grad_norm", NULL}, true},
    {"D's mean logits", {"d_real", "d_fake", NULL}, false},
    {"D's accuracy", {"d_acc_real", "d_acc_fake", NULL}, false},
    {"Weighted penalties", {"penalty", NULL}, false},
    {"Instance noise sigma", {"noise_sigma", NULL}, false},
    {"Path length regularization", {"pl_penalty", "pl_mean", NULL}, false},
    {"ADA: augmentation probability p and r_t", {"augment_p", "ada_rt", NULL}, false},
    {"Overfitting monitor: D's mean logit on training reals, held-out reals and fakes",
     {"d_train_real", "d_holdout_real", "d_monitor_fake", NULL}, false},
    {"Overfitting monitor: D's accuracy", {"acc_train_real", "acc_holdout_real", "acc_monitor_fake", NULL}, false},
    {"Overfitting monitor: held-out reals' share of the way to the fakes", {"overfit", NULL}, false},
    {"Progressive growing: resolution", {"resolution", NULL}, false},
    {"Progressive growing: fade-in alpha", {"alpha", NULL}, false},
};

/* Keys of the training lines; every other numeric key is an evaluation metric. */
static const char *const training_keys[] = {
    "d_loss",     "g_loss",     "d_grad_norm", "g_grad_norm", "d_real",       "d_fake",
    "d_acc_real", "d_acc_fake", "lr_g",        "lr_d",        "steps_per_s",  "images_per_s",
    "elapsed_s",  "penalty",    "noise_sigma", "pl_penalty",  "pl_mean",      "resolution",
    "alpha",      "images",     "augment_p",   "ada_rt",      "d_train_real", "d_holdout_real",
    "d_monitor_fake", "acc_train_real", "acc_holdout_real", "acc_monitor_fake", "overfit"};

/* Titles of the metrics gantry evaluates; other metrics are titled by their key. */
static const struct {
    const char *key, *title;
} metric_titles[] = {
    {"fid", "FID"},
    {"kid", "KID"},
    {"precision", "Precision and recall"},
    {"classes_covered", "Classes covered"},
    {"class_kl", "KL of predicted classes to uniform"},
    {"class_accuracy", "Samples classified as the class drawn for"},
    {"modes_covered", "Modes covered"},
    {"pct_high_quality", "High-quality samples"},
    {"reverse_kl", "Reverse KL"},
};

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Sample counts (eval_n, n_modes) and standard errors describe a metric; they are not one. */
static bool is_eval_metric(const char *key) {
    for (size_t i = 0; i < sizeof training_keys / sizeof *training_keys; i++)
        if (!strcmp(key, training_keys[i])) return false;
    return strcmp(key, "n") && strncmp(key, "n_", 2) && !ends_with(key, "_n") &&
           !ends_with(key, "_stderr");
}

static void eval_chart(FILE *out, const metrics *m, const char *key) {
    chart_spec spec = {key, {key, NULL}, false};
    for (size_t i = 0; i < sizeof metric_titles / sizeof *metric_titles; i++)
        if (!strcmp(key, metric_titles[i].key)) spec.title = metric_titles[i].title;
    if (!strcmp(key, "precision")) spec.keys[1] = "recall"; /* one chart: they trade off */
    metrics_chart(out, m, &spec, true);
}

static void write_charts(FILE *out, const run *r) {
    fputs("<h2>Training</h2>\n<div class=\"charts\">\n", out);
    bool any = false;
    for (size_t i = 0; i < sizeof training_charts / sizeof *training_charts; i++)
        any |= metrics_chart(out, &r->m, &training_charts[i], false);
    fputs(any ? "</div>\n" : "</div>\n<p>No training metrics logged yet.</p>\n", out);
    fputs("<h2>Evaluation</h2>\n", out);
    int shown = 0;
    for (int c = 0; c < r->m.ncols; c++) {
        const char *key = r->m.col[c].name;
        if (!is_eval_metric(key) || (!strcmp(key, "recall") && metrics_column(&r->m, "precision")))
            continue;
        if (shown++ == 0) fputs("<div class=\"charts\">\n", out);
        eval_chart(out, &r->m, key);
    }
    fputs(shown ? "</div>\n" : "<p>No evaluation logged yet (train.eval_every).</p>\n", out);
}

static void write_grid_img(FILE *out, const run *r, const gt_sample_file *g, const char *cls) {
    char path[GT_PATH_MAX + 128];
    snprintf(path, sizeof path, "%s/samples/%s", r->dir, g->name);
    gt_report_png(out, path, cls, g->step);
}

static void write_grids(FILE *out, const run *r) {
    int pick[MAX_GRIDS], n = gt_samples_pick(r->n_grids, MAX_GRIDS, pick);
    const gt_sample_file *latest = &r->grids[pick[n - 1]];
    fputs("<figure>", out);
    write_grid_img(out, r, latest, "latest");
    fprintf(out, "<figcaption>step %.0f (latest)</figcaption></figure>\n", latest->step);
    if (n > 1) {
        fprintf(out, "<p>Earlier grids (%d of %d shown):</p>\n<div class=\"strip\">\n", n - 1,
                r->n_grids - 1);
        for (int i = 0; i < n - 1; i++) {
            fputs("<figure>", out);
            write_grid_img(out, r, &r->grids[pick[i]], "earlier");
            fprintf(out, "<figcaption>step %.0f</figcaption></figure>\n", r->grids[pick[i]].step);
        }
        fputs("</div>\n", out);
    }
}

/* 2-D data: the latest points as a large scatter over the mixture's modes, then a strip of
 * small ones at evenly spaced steps from the first to the latest (the figure of the Unrolled
 * GAN paper), from the same latents each time. */
static void write_points(FILE *out, const run *r) {
    char path[GT_PATH_MAX + 128], label[64];
    int pick[MAX_GRIDS], n = gt_samples_pick(r->n_points, MAX_GRIDS, pick);
    const gt_sample_file *latest = &r->points[r->n_points - 1];
    snprintf(path, sizeof path, "%s/samples/%s", r->dir, latest->name);
    snprintf(label, sizeof label, "step %.0f (latest)", latest->step);
    gt_report_points(out, path, r->dataset, label, "Samples of G over the modes", 400, true);
    fputs("<p class=\"explain\">High quality: within 3 standard deviations of the nearest "
          "mode; a mode is captured when a high-quality point falls to it (PacGAN&#39;s "
          "definition, <code>gantry eval --mode-metric pacgan</code>).</p>\n",
          out);
    if (n < 2) return;
    fprintf(out, "<p>Over training (%d of %d steps shown):</p>\n<div class=\"strip\">\n", n,
            r->n_points);
    for (int i = 0; i < n; i++) {
        const gt_sample_file *f = &r->points[pick[i]];
        snprintf(path, sizeof path, "%s/samples/%s", r->dir, f->name);
        snprintf(label, sizeof label, "step %.0f", f->step);
        gt_report_points(out, path, r->dataset, label, NULL, 150, false);
    }
    fputs("</div>\n", out);
}

static void write_samples(FILE *out, const run *r) {
    fputs("<h2 id=\"samples\">Samples</h2>\n", out);
    if (r->n_points && gt_report_is_mixture(r->dataset))
        write_points(out, r);
    else if (r->n_grids)
        write_grids(out, r);
    else
        fputs("<p>No sample grids yet (train.sample_every).</p>\n", out);
}

static void write_page(FILE *out, const run *r) {
    const char *base = strrchr(r->dir, '/');
    char title[GT_PATH_MAX + 32];
    snprintf(title, sizeof title, "gantry report: %s", base && base[1] ? base + 1 : r->dir);
    gt_html_begin(out, title);
    write_header(out, r);
    write_events(out, &r->m);
    write_config(out, r);
    write_charts(out, r);
    write_samples(out, r);
    gt_html_end(out);
}

int gt_report_run(const char *rundir, gt_error *err) {
    run *r = calloc(1, sizeof *r);
    if (!r) return gt_error_set(err, "out of memory for the report of '%s'", rundir);
    int rc = run_load(r, rundir, err);
    if (rc == 0) {
        char path[GT_PATH_MAX + 32];
        gt_atomic a;
        snprintf(path, sizeof path, "%s/report.html", r->dir);
        FILE *out = gt_atomic_open(path, &a, err);
        if (out) write_page(out, r);
        rc = out ? gt_atomic_commit(&a, err) : -1;
    }
    run_free(r);
    free(r);
    return rc;
}
