/* A run folder's sample files in a report: listing them by step, embedding PNG grids as data:
 * URIs, and drawing 2-D points as scatter plots scored by the eval's own rule (PacGAN's
 * definition of a high-quality point), so a caption never disagrees with `gantry eval`. */
#include "report/samples.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <ini.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/registry.h"
#include "eval/evaluate.h"
#include "io/atomic.h"
#include "io/files.h"
#include "io/image.h"
#include "report/report.h"

#define MAX_PNG_BYTES ((size_t)8 << 20) /* a grid beyond this is named, not embedded */

/* ---- listing ------------------------------------------------------------------------------- */

static int file_cmp(const void *a, const void *b) {
    const gt_sample_file *p = a, *q = b;
    return (p->step > q->step) - (p->step < q->step);
}

/* step-NNNNNN<ext> as written by gantry train; other names are not samples. */
static bool sample_parse(const char *name, const char *ext, gt_sample_file *f) {
    size_t n = strlen(name);
    if (n >= sizeof f->name || strncmp(name, "step-", 5) != 0 || !isdigit((unsigned char)name[5]))
        return false;
    char *end;
    f->step = (double)strtoll(name + 5, &end, 10);
    memcpy(f->name, name, n + 1);
    return strcmp(end, ext) == 0;
}

int gt_samples_list(const char *rundir, const char *ext, gt_sample_file **files, int *n) {
    char path[GT_PATH_MAX + 32];
    *files = NULL;
    *n = 0;
    snprintf(path, sizeof path, "%s/samples", rundir);
    DIR *d = opendir(path);
    if (!d) return 0;
    int cap = 0, rc = 0;
    for (struct dirent *e; rc == 0 && (e = readdir(d));) {
        gt_sample_file f;
        if (!sample_parse(e->d_name, ext, &f)) continue;
        if (*n == cap) {
            gt_sample_file *more = realloc(*files, (size_t)(cap = cap ? 2 * cap : 64) * sizeof *more);
            if (!more) {
                rc = -1;
                break;
            }
            *files = more;
        }
        (*files)[(*n)++] = f;
    }
    closedir(d);
    if (*n) qsort(*files, (size_t)*n, sizeof **files, file_cmp);
    return rc;
}

int gt_samples_pick(int n, int max, int *pick) {
    if (n <= max) {
        for (int i = 0; i < n; i++) pick[i] = i;
        return n;
    }
    for (int i = 0; i < max; i++) pick[i] = (int)((long long)i * (n - 1) / (max - 1));
    return max;
}

/* ---- PNG grids ----------------------------------------------------------------------------- */

/* Standard base64 on one line (RFC 4648, with padding), as a data: URI needs. */
static void base64_write(FILE *out, const unsigned char *p, size_t n) {
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char buf[4096]; /* a multiple of 4: a group never straddles two flushes */
    size_t k = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n) v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n) v |= p[i + 2];
        buf[k++] = abc[v >> 18 & 63];
        buf[k++] = abc[v >> 12 & 63];
        buf[k++] = i + 1 < n ? abc[v >> 6 & 63] : '=';
        buf[k++] = i + 2 < n ? abc[v & 63] : '=';
        if (k == sizeof buf) {
            fwrite(buf, 1, k, out);
            k = 0;
        }
    }
    fwrite(buf, 1, k, out);
}

void gt_report_png(FILE *out, const char *path, const char *cls, double step) {
    size_t n = 0;
    unsigned char *png = (unsigned char *)gt_read_file(path, MAX_PNG_BYTES, &n);
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (png && n >= 8 && memcmp(png, sig, 8) == 0) {
        fprintf(out, "<img class=\"%s\" alt=\"samples at step %.0f\" src=\"data:image/png;base64,",
                cls, step);
        base64_write(out, png, n);
        fputs("\">", out);
    } else {
        const char *base = strrchr(path, '/');
        fputs("<p class=\"note\">", out);
        gt_html_escape(out, base ? base + 1 : path);
        fprintf(out, ": %s</p>", png ? "not a PNG file" : strerror(errno));
    }
    free(png);
}

/* ---- 2-D points ---------------------------------------------------------------------------- */

bool gt_report_is_mixture(const char *kind) {
    gt_mixture_modes mm;
    gt_error err;
    return kind[0] && gt_eval_mixture_modes(kind, &mm, &err) == 0;
}

/* The half-width of a mixture's plots (its registry entry's, as the trainer's thumbnails). */
static double plot_extent(const char *kind) {
    const gt_dataset_kind *k = gt_dataset_kind_find(kind);
    return k && k->plot_extent > 0 ? k->plot_extent : 1.5;
}

static bool points_note(FILE *out, const char *path, const char *why) {
    const char *base = strrchr(path, '/');
    fputs("<p class=\"note\">", out);
    gt_html_escape(out, base ? base + 1 : path);
    fputs(": ", out);
    gt_html_escape(out, why);
    fputs("</p>\n", out);
    return false;
}

bool gt_report_points(FILE *out, const char *path, const char *kind, const char *label,
                      const char *title, int side, bool legend) {
    gt_error err = {{0}};
    gt_mixture_modes mm;
    if (gt_eval_mixture_modes(kind, &mm, &err) < 0) return points_note(out, path, err.msg);
    int nd = 0;
    int64_t shape[GT_MAX_DIMS];
    float *pts = gt_npy_read(path, &nd, shape, &err);
    if (!pts) return points_note(out, path, err.msg);
    gt_mode_scores scores;
    int32_t *mode = NULL;
    bool ok = nd == 2 && shape[1] == 2 && shape[0] >= 1;
    if (!ok) snprintf(err.msg, sizeof err.msg, "not an [n, 2] array of points");
    if (ok && !(mode = malloc((size_t)shape[0] * sizeof *mode))) {
        snprintf(err.msg, sizeof err.msg, "out of memory for %lld points", (long long)shape[0]);
        ok = false;
    }
    if (ok) ok = gt_eval_points_by(kind, GT_MODE_METRIC_PACGAN, pts, shape[0], &scores, &err) == 0;
    if (ok) {
        gt_eval_points_modes(&mm, pts, shape[0], mode);
        gt_scatter s = {.title = title, .pts = pts, .mode = mode, .n = shape[0],
                        .centres = mm.centres, .n_modes = mm.n, .sigma = mm.sigma,
                        .extent = plot_extent(kind), .side = side,
                        .legend = legend};
        fputs("<figure class=\"points\">", out);
        gt_svg_scatter(out, &s);
        fputs("<figcaption>", out);
        gt_html_escape(out, label);
        fprintf(out, ": %d of %d modes captured, %.1f%% high quality (%lld points)</figcaption>"
                     "</figure>\n",
                scores.modes_covered, scores.n_modes, scores.pct_high_quality,
                (long long)scores.n);
    }
    free(mode);
    free(pts);
    return ok ? true : points_note(out, path, err.msg);
}

/* ---- a run's configuration ----------------------------------------------------------------- */

typedef struct {
    char *buf;
    size_t cap;
} dataset_key;

static int on_dataset_key(void *user, const char *section, const char *key, const char *value) {
    dataset_key *d = user;
    if (!strcmp(section, "data") && !strcmp(key, "dataset")) snprintf(d->buf, d->cap, "%s", value);
    return 1;
}

void gt_report_run_dataset(const char *rundir, char *buf, size_t cap) {
    char path[GT_PATH_MAX + 32];
    dataset_key d = {buf, cap};
    buf[0] = '\0';
    snprintf(path, sizeof path, "%s/config.ini", rundir);
    ini_parse(path, on_dataset_key, &d);
}
