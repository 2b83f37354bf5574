/* A folder of PNG images as a dataset: every *.png decoded through libpng (any colour type and
 * bit depth), converted to 1 or 3 channels, centre-cropped to a square and resampled to the
 * model's resolution (area averaging to shrink, bilinear to enlarge), pixels in [-1, 1]. */
#include <dirent.h>
#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "data/registry.h"

#define PNG_MAX_RESOLUTION 16384
#define PNG_MAX_PIXELS ((size_t)1 << 28) /* per image; libpng's own limit is 10^6 per side */

/* A decoded image: h rows of w pixels of ch interleaved samples of depth 8 or 16 bits. */
typedef struct {
    FILE *fp;
    png_structp png;
    png_infop info;
    uint8_t *buf;    /* [h, rowbytes] */
    png_bytep *rows; /* [h] into buf */
    uint32_t w, h;
    int ch, depth;
    size_t rowbytes;
    char msg[200];   /* libpng's last error */
} png_decoder;

/* One axis of a resampling: output o = sum_t wt[o * taps + t] * input[first[o] + t]. */
typedef struct {
    int taps;
    int *first; /* [out] */
    float *wt;  /* [out, taps], zero past the taps used */
} png_axis;

static void png_on_error(png_structp png, png_const_charp msg) {
    png_decoder *d = png_get_error_ptr(png);
    snprintf(d->msg, sizeof d->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg) {
    (void)png; /* warnings (bad gamma, unknown chunks) do not stop a load */
    (void)msg;
}

/* The part of decoding that libpng may longjmp out of; everything it allocates hangs off d,
 * which lives in the caller's frame, so nothing here is lost by the jump. */
static int png_decode_body(png_decoder *d) {
    if (setjmp(png_jmpbuf(d->png))) return -1;
    png_init_io(d->png, d->fp);
    png_read_info(d->png, d->info);
    png_set_expand(d->png); /* palette -> RGB, gray < 8 bits -> 8, tRNS -> alpha */
    png_set_interlace_handling(d->png);
    png_read_update_info(d->png, d->info);
    d->w = png_get_image_width(d->png, d->info);
    d->h = png_get_image_height(d->png, d->info);
    d->ch = png_get_channels(d->png, d->info);
    d->depth = png_get_bit_depth(d->png, d->info);
    d->rowbytes = png_get_rowbytes(d->png, d->info);
    if ((size_t)d->w * d->h > PNG_MAX_PIXELS) png_error(d->png, "image too large");
    d->buf = malloc(d->rowbytes * d->h);
    d->rows = malloc(sizeof *d->rows * d->h);
    if (!d->buf || !d->rows) png_error(d->png, "out of memory");
    for (uint32_t y = 0; y < d->h; y++) d->rows[y] = d->buf + y * d->rowbytes;
    png_read_image(d->png, d->rows);
    png_read_end(d->png, NULL);
    return 0;
}

static void png_decoder_close(png_decoder *d) {
    if (d->png) png_destroy_read_struct(&d->png, &d->info, NULL);
    if (d->fp) fclose(d->fp);
    free(d->buf);
    free(d->rows);
}

static int png_decode(png_decoder *d, const char *path, gt_error *err) {
    *d = (png_decoder){0};
    d->fp = fopen(path, "rb");
    if (!d->fp) return gt_error_set(err, "%s: cannot open: %s", path, strerror(errno));
    d->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, d, png_on_error, png_on_warning);
    if (d->png) d->info = png_create_info_struct(d->png);
    if (!d->png || !d->info) snprintf(d->msg, sizeof d->msg, "out of memory");
    if (d->info && png_decode_body(d) == 0) return 0;
    gt_error_set(err, "%s: not a readable PNG image: %s (libpng, after %ld bytes); expected an "
                 "intact PNG file: re-export it or remove it from the folder", path, d->msg,
                 ftell(d->fp));
    png_decoder_close(d);
    return -1;
}

/* Sample k of pixel (y, x) in [0, 1]. */
static float png_sample(const png_decoder *d, uint32_t y, uint32_t x, int k) {
    const uint8_t *p = d->rows[y];
    if (d->depth == 16) {
        size_t i = 2 * ((size_t)x * d->ch + k);
        return (float)(p[i] << 8 | p[i + 1]) / 65535.0f;
    }
    return (float)p[(size_t)x * d->ch + k] / 255.0f;
}

/* planes [channels, h, w] from the decoded image; alpha is dropped. */
static void png_to_planes(const png_decoder *d, int channels, float *planes) {
    size_t plane = (size_t)d->w * d->h;
    bool colour = d->ch >= 3;
    for (uint32_t y = 0; y < d->h; y++) {
        for (uint32_t x = 0; x < d->w; x++) {
            float r = png_sample(d, y, x, 0);
            float g = colour ? png_sample(d, y, x, 1) : r, b = colour ? png_sample(d, y, x, 2) : r;
            size_t i = (size_t)y * d->w + x;
            if (channels == 1) {
                planes[i] = colour ? 0.299f * r + 0.587f * g + 0.114f * b : r;
            } else {
                planes[i] = r;
                planes[plane + i] = g;
                planes[2 * plane + i] = b;
            }
        }
    }
}

/* Area averaging (s >= r): output o covers input [o s/r, (o+1) s/r), each input pixel weighted
 * by its overlap. Bilinear (s < r): half-pixel centres, clamped at the edges. */
static void png_axis_weights(png_axis *a, int s, int r) {
    double scale = (double)s / r;
    for (int o = 0; o < r; o++) {
        float *wt = a->wt + (size_t)o * a->taps;
        if (s >= r) {
            double lo = o * scale, hi = (o + 1) * scale;
            int first = (int)lo;
            a->first[o] = first;
            for (int t = 0; t < a->taps && first + t < s && first + t < hi; t++) {
                double l = first + t > lo ? first + t : lo;
                double h = first + t + 1 < hi ? first + t + 1 : hi;
                wt[t] = (float)((h - l) / scale);
            }
        } else {
            double c = (o + 0.5) * scale - 0.5;
            c = c < 0 ? 0 : c > s - 1 ? s - 1 : c;
            int first = (int)c < s - 1 ? (int)c : s - 1;
            a->first[o] = first;
            wt[0] = (float)(1.0 - (c - first));
            if (first + 1 < s) wt[1] = (float)(c - first);
        }
    }
}

static int png_axis_init(png_axis *a, int s, int r) {
    a->taps = s >= r ? s / r + 2 : 2;
    a->first = malloc(sizeof *a->first * (size_t)r);
    a->wt = calloc((size_t)r * a->taps, sizeof *a->wt);
    if (!a->first || !a->wt) return -1;
    png_axis_weights(a, s, r);
    return 0;
}

/* dst[o * dstep] = sum_t wt src[(first + t) * sstep], for o < r; taps past the input are 0. */
static void png_axis_apply(const png_axis *a, int r, int s, const float *src, size_t sstep,
                           float *dst, size_t dstep) {
    for (int o = 0; o < r; o++) {
        const float *wt = a->wt + (size_t)o * a->taps;
        float acc = 0.0f;
        for (int t = 0; t < a->taps && a->first[o] + t < s; t++) {
            acc += wt[t] * src[(size_t)(a->first[o] + t) * sstep];
        }
        dst[(size_t)o * dstep] = acc;
    }
}

/* out [c, r, r] in [-1, 1] from the centred s x s square of planes [c, h, w]. */
static int png_crop_resize(const float *planes, int c, uint32_t h, uint32_t w, int r,
                           float *out) {
    int s = (int)(h < w ? h : w);
    size_t y0 = (h - (uint32_t)s) / 2, x0 = (w - (uint32_t)s) / 2;
    png_axis ax = {0};
    float *tmp = malloc(sizeof *tmp * (size_t)s * r); /* [s, r]: rows resampled */
    int rc = tmp && png_axis_init(&ax, s, r) == 0 ? 0 : -1;
    for (int k = 0; k < c && rc == 0; k++) {
        const float *crop = planes + (size_t)k * h * w + y0 * w + x0;
        float *dst = out + (size_t)k * r * r;
        for (int y = 0; y < s; y++) {
            png_axis_apply(&ax, r, s, crop + (size_t)y * w, 1, tmp + (size_t)y * r, 1);
        }
        for (int x = 0; x < r; x++) {
            png_axis_apply(&ax, r, s, tmp + x, (size_t)r, dst + x, (size_t)r);
        }
        for (int i = 0; i < r * r; i++) dst[i] = 2.0f * dst[i] - 1.0f;
    }
    free(ax.first);
    free(ax.wt);
    free(tmp);
    return rc;
}

/* Decodes path into out [channels, r, r]. */
static int png_load_one(const char *path, int channels, int r, float *out, gt_error *err) {
    png_decoder d;
    if (png_decode(&d, path, err)) return -1;
    float *planes = malloc(sizeof *planes * channels * (size_t)d.w * d.h);
    int rc = planes ? 0 : -1;
    if (planes) png_to_planes(&d, channels, planes);
    if (rc == 0) rc = png_crop_resize(planes, channels, d.h, d.w, r, out);
    if (rc) gt_error_set(err, "%s: out of memory for a %ux%u image", path, d.w, d.h);
    free(planes);
    png_decoder_close(&d);
    return rc;
}

static bool png_is_png_name(const char *name) {
    size_t len = strlen(name);
    return len > 4 && strcasecmp(name + len - 4, ".png") == 0;
}

static int png_name_cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void png_names_free(char **names, size_t n) {
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

/* The sorted names of the *.png files in dir; *n = their count (0 is an error). */
static char **png_list(const char *dir, size_t *n, gt_error *err) {
    DIR *d = opendir(dir);
    if (!d) {
        gt_error_set(err, "%s: cannot read the image folder: %s; expected a readable directory "
                     "of *.png files", dir, strerror(errno));
        return NULL;
    }
    char **names = NULL;
    size_t cap = 0;
    bool oom = false;
    *n = 0;
    for (struct dirent *e; !oom && (e = readdir(d));) {
        if (!png_is_png_name(e->d_name)) continue;
        if (*n == cap) {
            char **grown = realloc(names, sizeof *names * (2 * cap + 16));
            oom = !grown;
            names = grown ? grown : names;
            cap = grown ? 2 * cap + 16 : cap;
        }
        if (!oom) names[*n] = strdup(e->d_name);
        oom = oom || !names[*n];
        *n += oom ? 0 : 1;
    }
    closedir(d);
    if (oom || *n == 0) {
        png_names_free(names, *n);
        gt_error_set(err, oom ? "%s: out of memory listing the folder"
                              : "%s: no *.png files in the image folder; expected at least one",
                     dir);
        return NULL;
    }
    qsort(names, *n, sizeof *names, png_name_cmp);
    return names;
}

static int png_fill(gt_dataset *ds, const char *dir, char **names, gt_error *err) {
    size_t per = (size_t)ds->c * ds->h * ds->w;
    for (int64_t i = 0; i < ds->n; i++) {
        size_t len = strlen(dir) + strlen(names[i]) + 2;
        char *path = malloc(len);
        if (!path) return gt_error_set(err, "%s: out of memory", dir);
        snprintf(path, len, "%s/%s", dir, names[i]);
        int rc = png_load_one(path, ds->c, ds->h, ds->x + (size_t)i * per, err);
        free(path);
        if (rc) return -1;
    }
    return 0;
}

/* ---- class sub-folders: dir/CLASS/NAME.png, labels by the sorted sub-folder names ---- */

static bool png_is_dir(const char *dir, const char *name) {
    char path[4096];
    struct stat st;
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) return false;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Whether dir holds no *.png of its own but at least one visible sub-folder: the labelled
 * layout. The sorted sub-folder names go to *classes (count *k). */
static bool png_class_layout(const char *dir, char ***classes, size_t *k) {
    DIR *d = opendir(dir);
    if (!d) return false;
    bool has_png = false, oom = false;
    char **names = NULL;
    size_t n = 0, cap = 0;
    for (struct dirent *e; !has_png && !oom && (e = readdir(d));) {
        if (png_is_png_name(e->d_name)) has_png = true;
        if (has_png || e->d_name[0] == '.' || !png_is_dir(dir, e->d_name)) continue;
        if (n == cap) {
            char **grown = realloc(names, sizeof *names * (2 * cap + 8));
            oom = !grown;
            names = grown ? grown : names;
            cap = grown ? 2 * cap + 8 : cap;
        }
        if (!oom && !(names[n] = strdup(e->d_name))) oom = true;
        n += oom ? 0 : 1;
    }
    closedir(d);
    if (has_png || oom || n == 0) {
        png_names_free(names, n);
        return false;
    }
    qsort(names, n, sizeof *names, png_name_cmp);
    *classes = names;
    *k = n;
    return true;
}

static gt_dataset *png_load_classes(const char *dir, char **classes, size_t k, int channels,
                                    int resolution, gt_error *err) {
    size_t total = 0, *counts = calloc(k, sizeof *counts);
    char ***lists = calloc(k, sizeof *lists), path[4096];
    gt_dataset *ds = NULL;
    bool ok = counts && lists;
    if (!ok) gt_error_set(err, "%s: out of memory listing the class folders", dir);
    for (size_t c = 0; ok && c < k; c++) {
        snprintf(path, sizeof path, "%s/%s", dir, classes[c]);
        ok = (lists[c] = png_list(path, &counts[c], err)) != NULL;
        total += counts[c];
    }
    char name[64];
    snprintf(name, sizeof name, "png:%.59s", dir);
    if (ok) ds = gt_dataset_new((int64_t)total, channels, resolution, resolution, true, name, err);
    size_t per = (size_t)channels * resolution * resolution, i = 0;
    for (size_t c = 0; ds && c < k; c++) {
        for (size_t j = 0; ds && j < counts[c]; j++, i++) {
            snprintf(path, sizeof path, "%s/%s/%s", dir, classes[c], lists[c][j]);
            ds->labels[i] = (int32_t)c;
            if (png_load_one(path, channels, resolution, ds->x + i * per, err)) {
                gt_dataset_free(ds);
                ds = NULL;
            }
        }
    }
    if (ds) ds->n_classes = (int)k;
    for (size_t c = 0; lists && c < k; c++)
        if (lists[c]) png_names_free(lists[c], counts[c]);
    free(lists);
    free(counts);
    return ds;
}

gt_dataset *gt_data_load_png_dir(const char *dir, int channels, int resolution, gt_error *err) {
    if ((channels != 1 && channels != 3) || resolution < 1 || resolution > PNG_MAX_RESOLUTION) {
        gt_error_set(err, "%s: channels %d, resolution %d; expected channels 1 or 3 and a "
                     "resolution from 1 to %d", dir, channels, resolution, PNG_MAX_RESOLUTION);
        return NULL;
    }
    char **classes = NULL;
    size_t k = 0;
    if (png_class_layout(dir, &classes, &k)) {
        gt_dataset *ds = png_load_classes(dir, classes, k, channels, resolution, err);
        png_names_free(classes, k);
        return ds;
    }
    size_t n = 0;
    char **names = png_list(dir, &n, err);
    if (!names) return NULL;
    char name[64];
    snprintf(name, sizeof name, "png:%.59s", dir);
    gt_dataset *ds = gt_dataset_new((int64_t)n, channels, resolution, resolution, false, name,
                                       err);
    if (ds && png_fill(ds, dir, names, err)) {
        gt_dataset_free(ds);
        ds = NULL;
    }
    png_names_free(names, n);
    return ds;
}

/* ---- the registry entry (registry.h) ---- */

static void png_shape(const gt_config *cfg, int *c, int *h, int *w) {
    *c = (int)cfg->data_channels;
    *h = *w = (int)cfg->data_resolution;
}

static gt_dataset *png_load_train(const gt_config *cfg, uint64_t seed, gt_error *err) {
    (void)seed;
    return gt_data_load_png_dir(cfg->data_path, (int)cfg->data_channels, (int)cfg->data_resolution,
                                err);
}

/* Classes only when the folder holds one sub-folder per class; no feature network yet. */
const gt_dataset_kind gt_dataset_png = {.name = "png", .eval = GT_DATA_EVAL_NONE,
                                        .shape = png_shape, .load_train = png_load_train};
