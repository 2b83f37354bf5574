/* A run folder's samples as the reports show them: samples/step-NNNNNN.png grids embedded as
 * data: URIs, and for 2-D data samples/step-NNNNNN.npy points drawn as scatter plots over the
 * mixture's modes, captioned with the modes captured and the share of high-quality points. */
#ifndef GT_REPORT_SAMPLES_H
#define GT_REPORT_SAMPLES_H

#include <stdbool.h>
#include <stdio.h>

typedef struct gt_sample_file {
    double step;
    char name[64]; /* step-NNNNNN.png or .npy, inside the run's samples/ */
} gt_sample_file;

/* rundir/samples/step-NNNNNN<ext> (ext ".png" or ".npy"), by step, into *files (malloc'd;
 * NULL and 0 when there are none or no samples folder). -1 when out of memory. */
int gt_samples_list(const char *rundir, const char *ext, gt_sample_file **files, int *n);

/* Which of n files to show, at most max (>= 2), ascending: all when few, else the first, the
 * last and evenly spaced ones between. Returns how many indices went into pick [max]. */
int gt_samples_pick(int n, int max, int *pick);

/* An <img class="cls"> holding the PNG file at path as a data: URI, or a note saying why it is
 * not there (missing, not a PNG, beyond 8 MB). */
void gt_report_png(FILE *out, const char *path, const char *cls, double step);

/* A <figure> with the scatter of path's points ([n, 2] float32 .npy) over the mixture `kind`
 * ("ring" or "grid": the eval's modes and its PacGAN rule for high quality), side px square,
 * with a heading (title, NULL for none) and a legend when asked, captioned "label: k of M
 * modes captured, p% high quality (N points)". A note in its place when the file or kind
 * cannot be drawn; returns false then. */
bool gt_report_points(FILE *out, const char *path, const char *kind, const char *label,
                      const char *title, int side, bool legend);

/* Whether `kind` (data.dataset) is a 2-D mixture the scatter can draw. */
bool gt_report_is_mixture(const char *kind);

/* data.dataset of rundir/config.ini into buf; "" when it cannot be read. */
void gt_report_run_dataset(const char *rundir, char *buf, size_t cap);

#endif
