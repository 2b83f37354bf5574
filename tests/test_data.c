/* Tests of src/data/: IDX files (raw and gzip, and every way they can be broken), PNG folders
 * (colour types, bit depths, crop and resize against independent references), the synthetic
 * mixtures, and the loader's order, determinism, prefetch and resume. All data is written by
 * the tests into a temporary folder; the real Fashion-MNIST is read when it is installed. */
#include "data/data.h"
#include "test.h"

#include <dirent.h>
#include <png.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define FMNIST_DIR "/usr/share/datasets/fashion-mnist"

/* ---- Temporary files ------------------------------------------------------------------- */

static char *tmp_new(void) {
    char tmpl[] = "/tmp/gantry-data-XXXXXX";
    char *dir = mkdtemp(tmpl);
    return dir ? strdup(dir) : NULL;
}

static void tmp_remove(const char *path) {
    DIR *d = opendir(path);
    if (!d) {
        unlink(path);
        return;
    }
    for (struct dirent *e; (e = readdir(d));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        char sub[512];
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        tmp_remove(sub);
    }
    closedir(d);
    rmdir(path);
}

static void tmp_free(char *dir) {
    tmp_remove(dir);
    free(dir);
}

/* out = dir/name (out holds 512 bytes). */
static char *tmp_path(char *out, const char *dir, const char *name) {
    snprintf(out, 512, "%s/%s", dir, name);
    return out;
}

static bool has(const gt_error *e, const char *what) { return strstr(e->msg, what) != NULL; }

/* ---- IDX writers ------------------------------------------------------------------------- */

/* header (magic, dims) followed by data [len], raw or through gzwrite. */
static void write_idx(const char *path, uint32_t magic, int ndim, const uint32_t *dims,
                      const uint8_t *data, size_t len, bool gz) {
    uint8_t head[16];
    for (int i = 0; i <= ndim; i++) {
        uint32_t v = i == 0 ? magic : dims[i - 1];
        for (int b = 0; b < 4; b++) head[4 * i + b] = (uint8_t)(v >> (24 - 8 * b));
    }
    size_t hl = 4 + 4 * (size_t)ndim;
    if (gz) {
        gzFile f = gzopen(path, "wb");
        gzwrite(f, head, (unsigned)hl);
        if (len) gzwrite(f, data, (unsigned)len);
        gzclose(f);
    } else {
        FILE *f = fopen(path, "wb");
        fwrite(head, 1, hl, f);
        fwrite(data, 1, len, f);
        fclose(f);
    }
}

static long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* 3 images of 2 x 4 and their labels. */
static const uint8_t pix3[24] = {0, 255, 1, 2, 3, 4, 5, 6, 128, 127, 9, 10, 11, 12, 13, 14,
                                 200, 17, 18, 19, 20, 21, 22, 23};
static const uint8_t lab3[3] = {9, 0, 4};

static void write_pair(const char *images, const char *labels, bool gz) {
    write_idx(images, 0x803, 3, (const uint32_t[]){3, 2, 4}, pix3, sizeof pix3, gz);
    write_idx(labels, 0x801, 1, (const uint32_t[]){3}, lab3, sizeof lab3, gz);
}

static void check_pair(const gt_dataset *ds) {
    CHECK(ds && ds->n == 3 && ds->c == 1 && ds->h == 2 && ds->w == 4);
    if (!ds) return;
    CHECK(ds->labels && ds->n_classes == 10);
    CHECK(ds->x[0] == -1.0f && ds->x[1] == 1.0f);
    for (int i = 0; i < 24; i++) CHECK_NEAR(ds->x[i], pix3[i] / 127.5 - 1.0, 1e-6);
    for (int i = 0; ds->labels && i < 3; i++) CHECK(ds->labels[i] == lab3[i]);
}

/* ---- IDX tests ----------------------------------------------------------------------------- */

TEST(idx_round_trip) {
    char *dir = tmp_new(), im[512], lb[512];
    for (int gz = 0; gz < 2; gz++) {
        tmp_path(im, dir, gz ? "im.gz" : "im");
        tmp_path(lb, dir, gz ? "lb.gz" : "lb");
        write_pair(im, lb, gz);
        gt_error err = {{0}};
        gt_dataset *ds = gt_data_load_idx(im, lb, &err);
        check_pair(ds);
        CHECK(ds && strncmp(ds->name, "idx:", 4) == 0);
        gt_dataset_free(ds);
        ds = gt_data_load_idx(im, NULL, &err);
        CHECK(ds && !ds->labels && ds->n_classes == 0 && ds->n == 3);
        gt_dataset_free(ds);
    }
    tmp_free(dir);
}

TEST(idx_mnist_dir) {
    char *dir = tmp_new(), im[512], lb[512];
    write_pair(tmp_path(im, dir, "t10k-images-idx3-ubyte.gz"),
               tmp_path(lb, dir, "t10k-labels-idx1-ubyte"), true);
    gt_error err = {{0}};
    gt_dataset *ds = gt_data_load_mnist_dir(dir, "test", &err);
    check_pair(ds);
    CHECK(ds && strcmp(ds->name, strrchr(dir, '/') + 1) == 0);
    gt_dataset_free(ds);
    CHECK(!gt_data_load_mnist_dir(dir, "train", &err)); /* train files absent */
    CHECK(has(&err, "dataset-fashion-mnist") && has(&err, "train-images-idx3-ubyte"));
    CHECK(has(&err, dir));
    CHECK(!gt_data_load_mnist_dir(dir, "valid", &err) && has(&err, "\"valid\""));
    tmp_free(dir);
}

TEST(idx_missing_file) {
    gt_error err = {{0}};
    CHECK(!gt_data_load_idx("/nonexistent/train-images-idx3-ubyte", NULL, &err));
    CHECK(has(&err, "/nonexistent/train-images-idx3-ubyte"));
    CHECK(has(&err, "apt-get install dataset-fashion-mnist"));
    CHECK(!gt_data_load_mnist_dir("/nonexistent/fmnist", "train", &err));
    CHECK(has(&err, "/nonexistent/fmnist/train-images-idx3-ubyte.gz"));
    CHECK(has(&err, "apt-get install dataset-fashion-mnist"));
}

/* Raw: the data is cut short, or the header itself is. Gzip: the compressed file is cut. */
TEST(idx_truncated) {
    char *dir = tmp_new(), im[512];
    gt_error err = {{0}};
    tmp_path(im, dir, "im");
    write_idx(im, 0x803, 3, (const uint32_t[]){3, 2, 4}, pix3, 20, false);
    CHECK(!gt_data_load_idx(im, NULL, &err));
    CHECK(has(&err, im) && has(&err, "truncated") && has(&err, "promises 24") && has(&err, "20"));
    write_idx(im, 0x803, 3, (const uint32_t[]){3, 2, 4}, pix3, 0, false);
    CHECK(truncate(im, 10) == 0);
    CHECK(!gt_data_load_idx(im, NULL, &err) && has(&err, "header") && has(&err, "10 bytes"));

    static uint8_t big[4096];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (uint8_t)(i * 7919 % 251);
    write_idx(im, 0x803, 3, (const uint32_t[]){4, 32, 32}, big, sizeof big, true);
    gt_dataset *ds = gt_data_load_idx(im, NULL, &err);
    CHECK(ds && ds->n == 4 && ds->h == 32);
    gt_dataset_free(ds);
    CHECK(truncate(im, file_size(im) / 2) == 0);
    CHECK(!gt_data_load_idx(im, NULL, &err) && has(&err, im) && has(&err, "gzip"));
    CHECK(has(&err, "truncated") || has(&err, "damaged"));
    tmp_free(dir);
}

TEST(idx_extra_bytes) {
    char *dir = tmp_new(), im[512];
    gt_error err = {{0}};
    write_idx(tmp_path(im, dir, "im"), 0x803, 3, (const uint32_t[]){2, 2, 4}, pix3, 24, false);
    CHECK(!gt_data_load_idx(im, NULL, &err) && has(&err, "more follow") && has(&err, "32"));
    tmp_free(dir);
}

TEST(idx_bad_magic) {
    char *dir = tmp_new(), im[512], lb[512];
    gt_error err = {{0}};
    tmp_path(im, dir, "im");
    tmp_path(lb, dir, "lb");
    write_pair(im, lb, false);
    CHECK(!gt_data_load_idx(lb, NULL, &err)); /* a labels file where images are expected */
    CHECK(has(&err, lb) && has(&err, "0x00000803") && has(&err, "0x00000801"));
    CHECK(!gt_data_load_idx(im, im, &err) && has(&err, "0x00000801") && has(&err, "labels"));
    write_idx(im, 0x803, 3, (const uint32_t[]){3, 0, 4}, pix3, 0, false);
    CHECK(!gt_data_load_idx(im, NULL, &err) && has(&err, "offset 8") && has(&err, "is 0"));
    tmp_free(dir);
}

TEST(idx_mismatched_counts) {
    char *dir = tmp_new(), im[512], lb[512];
    gt_error err = {{0}};
    tmp_path(im, dir, "im");
    tmp_path(lb, dir, "lb");
    write_pair(im, lb, false);
    write_idx(lb, 0x801, 1, (const uint32_t[]){2}, lab3, 2, true);
    CHECK(!gt_data_load_idx(im, lb, &err));
    CHECK(has(&err, "2 labels") && has(&err, "3 images") && has(&err, im) && has(&err, lb));
    tmp_free(dir);
}

/* A flipped bit in the gzip trailer's CRC-32 is caught when the stream ends. */
TEST(idx_gzip_crc) {
    char *dir = tmp_new(), im[512];
    gt_error err = {{0}};
    write_idx(tmp_path(im, dir, "im.gz"), 0x803, 3, (const uint32_t[]){3, 2, 4}, pix3, 24, true);
    long size = file_size(im);
    FILE *f = fopen(im, "r+b");
    fseek(f, size - 8, SEEK_SET);
    int c = fgetc(f);
    fseek(f, size - 8, SEEK_SET);
    fputc(c ^ 0x10, f);
    fclose(f);
    CHECK(!gt_data_load_idx(im, NULL, &err));
    CHECK(has(&err, im) && has(&err, "damaged") && has(&err, "incorrect data check"));
    tmp_free(dir);
}

TEST(idx_fashion_mnist) {
    if (access(FMNIST_DIR, R_OK) != 0) {
        TEST_SKIP("%s absent (apt-get install dataset-fashion-mnist): the real-data case",
               FMNIST_DIR);
        return;
    }
    gt_error err = {{0}};
    const char *splits[2] = {"train", "test"};
    const int64_t sizes[2] = {60000, 10000};
    for (int s = 0; s < 2; s++) {
        gt_dataset *ds = gt_data_load_mnist_dir(FMNIST_DIR, splits[s], &err);
        CHECK(ds && ds->n == sizes[s] && ds->c == 1 && ds->h == 28 && ds->w == 28);
        if (!ds) {
            fprintf(stderr, "  %s\n", err.msg);
            continue;
        }
        CHECK(ds->n_classes == 10 && strcmp(ds->name, "fashion-mnist") == 0);
        int counts[10] = {0};
        for (int64_t i = 0; i < ds->n; i++) counts[ds->labels[i]]++;
        for (int k = 0; k < 10; k++) CHECK(counts[k] == ds->n / 10); /* balanced classes */
        float lo = 1, hi = -1;
        for (int64_t i = 0; i < ds->n * 784; i++) {
            lo = ds->x[i] < lo ? ds->x[i] : lo;
            hi = ds->x[i] > hi ? ds->x[i] : hi;
        }
        CHECK(lo == -1.0f && hi == 1.0f);
        gt_dataset_free(ds);
    }
}

/* ---- PNG writer and references ------------------------------------------------------------- */

typedef struct {
    int w, h, type, depth;
    const uint16_t *s;       /* [h, w, samples per pixel]; palette images: indices */
    const png_color *pal;    /* palette images only */
    int n_pal;
} png_spec;

static int png_samples(int type) {
    return type == PNG_COLOR_TYPE_RGB_ALPHA ? 4 : type == PNG_COLOR_TYPE_RGB ? 3
           : type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2 : 1;
}

static void write_png(const char *path, const png_spec *p) {
    FILE *f = fopen(path, "wb");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)p->w, (png_uint_32)p->h, p->depth, p->type,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (p->pal) png_set_PLTE(png, info, p->pal, p->n_pal);
    png_write_info(png, info);
    int ns = png_samples(p->type), bytes = p->depth / 8;
    uint8_t *row = malloc((size_t)p->w * ns * bytes);
    for (int y = 0; y < p->h; y++) {
        for (int i = 0; i < p->w * ns; i++) {
            uint16_t v = p->s[y * p->w * ns + i];
            if (bytes == 2) {
                row[2 * i] = (uint8_t)(v >> 8);
                row[2 * i + 1] = (uint8_t)v;
            } else {
                row[i] = (uint8_t)v;
            }
        }
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(row);
    fclose(f);
}

/* Area average of src [s, s] to [r, r] (s >= r) by supersampling: each pixel repeated r x r
 * times, each output the mean of its s x s block. */
static double ref_area(const double *src, int s, int r, int oy, int ox) {
    double sum = 0;
    for (int y = oy * s; y < (oy + 1) * s; y++) {
        for (int x = ox * s; x < (ox + 1) * s; x++) sum += src[(y / r) * s + x / r];
    }
    return sum / ((double)s * s);
}

/* Bilinear sample of src [s, s] at output (oy, ox) of [r, r], half-pixel centres, clamped. */
static double ref_bilinear(const double *src, int s, int r, int oy, int ox) {
    double c[2] = {(oy + 0.5) * s / r - 0.5, (ox + 0.5) * s / r - 0.5};
    int i0[2], i1[2];
    double f[2];
    for (int a = 0; a < 2; a++) {
        c[a] = c[a] < 0 ? 0 : c[a] > s - 1 ? s - 1 : c[a];
        i0[a] = (int)floor(c[a]);
        i1[a] = i0[a] + 1 < s ? i0[a] + 1 : i0[a];
        f[a] = c[a] - i0[a];
    }
    double top = src[i0[0] * s + i0[1]] * (1 - f[1]) + src[i0[0] * s + i1[1]] * f[1];
    double bot = src[i1[0] * s + i0[1]] * (1 - f[1]) + src[i1[0] * s + i1[1]] * f[1];
    return top * (1 - f[0]) + bot * f[0];
}

/* crop [s, s] = sample k of the centred square of p, in [0, 1]. */
static void ref_crop(const png_spec *p, int k, double *crop) {
    int s = p->w < p->h ? p->w : p->h, y0 = (p->h - s) / 2, x0 = (p->w - s) / 2;
    int ns = png_samples(p->type);
    double top = p->depth == 16 ? 65535.0 : 255.0;
    for (int y = 0; y < s; y++) {
        for (int x = 0; x < s; x++) {
            crop[y * s + x] = p->s[((y0 + y) * p->w + x0 + x) * ns + k] / top;
        }
    }
}

/* Checks image i of ds (one channel: k) against the references for p's sample k. */
static void check_resampled(const gt_dataset *ds, int64_t i, int ch, const png_spec *p, int k) {
    double crop[64 * 64];
    int s = p->w < p->h ? p->w : p->h, r = ds->h;
    ref_crop(p, k, crop);
    const float *got = ds->x + (i * ds->c + ch) * r * r;
    for (int y = 0; y < r; y++) {
        for (int x = 0; x < r; x++) {
            double v = s >= r ? ref_area(crop, s, r, y, x) : ref_bilinear(crop, s, r, y, x);
            CHECK_NEAR(got[y * r + x], 2 * v - 1, 2e-6);
        }
    }
}

/* ---- PNG tests ------------------------------------------------------------------------------ */

/* gray 8-bit 6 x 4 (wide: columns 1..4 kept), shrunk 4 -> 2 by 2 x 2 averages */
static const uint16_t gray6x4[24] = {0,  40, 80, 120, 160, 200, 10, 50, 90, 130, 170, 210,
                                     20, 60, 100, 140, 180, 220, 30, 70, 110, 150, 190, 255};
static const png_spec spec_gray = {6, 4, PNG_COLOR_TYPE_GRAY, 8, gray6x4, NULL, 0};
/* RGB 8-bit 3 x 3, shrunk 3 -> 2 (fractional area weights) */
static const uint16_t rgb3x3[27] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 40, 50, 60,
                                    70, 80, 90, 255, 255, 255, 0, 0, 0, 128, 64, 32};
static const png_spec spec_rgb = {3, 3, PNG_COLOR_TYPE_RGB, 8, rgb3x3, NULL, 0};
/* RGBA 16-bit 2 x 3 (tall: rows 0..1 kept), kept at 2 or enlarged to 4 */
static const uint16_t rgba2x3[24] = {
    0x0000, 0x1234, 0xffff, 0x0000, 0xffff, 0x8000, 0x0101, 0x7777, 0x4000, 0xc000, 0x2000, 0xffff,
    0x9999, 0x0001, 0xfffe, 0x1111, 0xaaaa, 0xbbbb, 0xcccc, 0xdddd, 0x3333, 0x4444, 0x5555, 0x6666};
static const png_spec spec_rgba = {2, 3, PNG_COLOR_TYPE_RGB_ALPHA, 16, rgba2x3, NULL, 0};
/* palette 8-bit 2 x 2 */
static const png_color pal3[3] = {{255, 0, 0}, {0, 0, 255}, {30, 60, 90}};
static const uint16_t idx2x2[4] = {0, 1, 2, 1};
static const png_spec spec_pal = {2, 2, PNG_COLOR_TYPE_PALETTE, 8, idx2x2, pal3, 3};
/* gray+alpha 8-bit 2 x 2 */
static const uint16_t ga2x2[8] = {0, 255, 100, 0, 200, 7, 255, 255};
static const png_spec spec_ga = {2, 2, PNG_COLOR_TYPE_GRAY_ALPHA, 8, ga2x2, NULL, 0};

/* The palette image's expansion to RGB, to compare through the same references. */
static const uint16_t pal_rgb[12] = {255, 0, 0, 0, 0, 255, 30, 60, 90, 0, 0, 255};
static const png_spec spec_pal_rgb = {2, 2, PNG_COLOR_TYPE_RGB, 8, pal_rgb, NULL, 0};

static char *png_folder(void) {
    char *dir = tmp_new(), p[512];
    write_png(tmp_path(p, dir, "a.png"), &spec_gray);
    write_png(tmp_path(p, dir, "b.PNG"), &spec_rgb);
    write_png(tmp_path(p, dir, "c.png"), &spec_rgba);
    write_png(tmp_path(p, dir, "d.png"), &spec_pal);
    write_png(tmp_path(p, dir, "e.png"), &spec_ga);
    FILE *f = fopen(tmp_path(p, dir, "notes.txt"), "w"); /* ignored: not *.png */
    fputs("not an image\n", f);
    fclose(f);
    return dir;
}

TEST(png_rgb) {
    char *dir = png_folder();
    gt_error err = {{0}};
    const png_spec *specs[5] = {&spec_gray, &spec_rgb, &spec_rgba, &spec_pal_rgb, &spec_ga};
    for (int r = 2; r <= 4; r += 2) { /* 2: shrink (or keep); 4: enlarge */
        gt_dataset *ds = gt_data_load_png_dir(dir, 3, r, &err);
        CHECK(ds && ds->n == 5 && ds->c == 3 && ds->h == r && ds->w == r && !ds->labels);
        CHECK(ds && strncmp(ds->name, "png:", 4) == 0);
        for (int i = 0; ds && i < 5; i++) {
            bool gray = png_samples(specs[i]->type) < 3;
            for (int ch = 0; ch < 3; ch++) check_resampled(ds, i, ch, specs[i], gray ? 0 : ch);
        }
        gt_dataset_free(ds);
    }
    tmp_free(dir);
}

/* Luminance 0.299 R + 0.587 G + 0.114 B, compared at full size (resolution 2 on 2 x 2 images). */
TEST(png_gray) {
    char *dir = tmp_new(), p[512];
    gt_error err = {{0}};
    write_png(tmp_path(p, dir, "1.png"), &spec_pal);
    write_png(tmp_path(p, dir, "2.png"), &spec_ga);
    gt_dataset *ds = gt_data_load_png_dir(dir, 1, 2, &err);
    CHECK(ds && ds->n == 2 && ds->c == 1);
    for (int i = 0; ds && i < 4; i++) {
        const uint16_t *c = pal_rgb + 3 * i;
        CHECK_NEAR(ds->x[i], 2 * (0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]) / 255 - 1, 2e-6);
        CHECK_NEAR(ds->x[4 + i], 2 * ga2x2[2 * i] / 255.0 - 1, 2e-6);
    }
    gt_dataset_free(ds);
    tmp_free(dir);
}

/* Exact values on a known pattern: 4 x 4 crop of gray6x4 averaged in 2 x 2 blocks. */
TEST(png_crop_values) {
    char *dir = tmp_new(), p[512];
    gt_error err = {{0}};
    write_png(tmp_path(p, dir, "g.png"), &spec_gray);
    gt_dataset *ds = gt_data_load_png_dir(dir, 1, 2, &err);
    const double want[4] = {(40 + 80 + 50 + 90) / 4.0, (120 + 160 + 130 + 170) / 4.0,
                            (60 + 100 + 70 + 110) / 4.0, (140 + 180 + 150 + 190) / 4.0};
    for (int i = 0; ds && i < 4; i++) CHECK_NEAR(ds->x[i], want[i] / 127.5 - 1, 2e-6);
    gt_dataset_free(ds);
    tmp_free(dir);
}

TEST(png_errors) {
    char *dir = tmp_new(), p[512], q[512];
    gt_error err = {{0}};
    CHECK(!gt_data_load_png_dir(dir, 3, 8, &err) && has(&err, "no *.png") && has(&err, dir));
    CHECK(!gt_data_load_png_dir("/nonexistent/pngs", 3, 8, &err));
    CHECK(has(&err, "/nonexistent/pngs") && has(&err, "No such file"));
    write_png(tmp_path(p, dir, "a.png"), &spec_rgba);
    CHECK(!gt_data_load_png_dir(p, 3, 8, &err) && has(&err, "Not a directory"));
    CHECK(!gt_data_load_png_dir(dir, 2, 8, &err) && has(&err, "channels 1 or 3"));
    CHECK(!gt_data_load_png_dir(dir, 3, 0, &err) && has(&err, "resolution"));
    write_png(tmp_path(q, dir, "b.png"), &spec_gray);
    CHECK(truncate(q, file_size(q) - 20) == 0); /* IDAT cut short */
    CHECK(!gt_data_load_png_dir(dir, 3, 8, &err) && has(&err, q) && has(&err, "libpng"));
    FILE *f = fopen(q, "wb");
    fputs("GIF89a, not a PNG at all", f);
    fclose(f);
    CHECK(!gt_data_load_png_dir(dir, 3, 8, &err) && has(&err, q) && has(&err, "PNG"));
    tmp_free(dir);
}

/* ---- Mixtures ---------------------------------------------------------------------------- */

/* Every point within 5 sigma of its labelled centre, spread sigma, every mode drawn. */
static void check_mixture(const char *kind, float radius, float sigma, float want_sigma) {
    gt_error err = {{0}};
    float centres[50];
    int k = gt_data_mixture_centres(kind, radius, centres, &err);
    gt_dataset *ds = gt_data_make_mixture(kind, 5000, radius, sigma, 7, &err);
    CHECK(ds && ds->n == 5000 && ds->c == 2 && ds->h == 1 && ds->w == 1 && ds->n_classes == k);
    if (!ds) return;
    CHECK(strcmp(ds->name, kind) == 0);
    int counts[25] = {0};
    double ss = 0;
    for (int64_t i = 0; i < ds->n; i++) {
        int m = ds->labels[i];
        double dx = ds->x[2 * i] - centres[2 * m], dy = ds->x[2 * i + 1] - centres[2 * m + 1];
        CHECK(m >= 0 && m < k && sqrt(dx * dx + dy * dy) < 5 * want_sigma);
        counts[m]++;
        ss += dx * dx + dy * dy;
    }
    for (int m = 0; m < k; m++) CHECK(counts[m] > 5000 / k / 2);
    CHECK_NEAR(sqrt(ss / (2.0 * ds->n)), want_sigma, 0.05 * want_sigma);
    gt_dataset_free(ds);
}

TEST(mixture_modes) {
    gt_error err = {{0}};
    float c[50];
    CHECK(gt_data_mixture_centres("ring", 0, c, &err) == 8);
    CHECK_NEAR(c[0], 1, 1e-6);
    CHECK_NEAR(c[5], 1, 1e-6); /* mode 2 at (0, 1) */
    CHECK(gt_data_mixture_centres("grid", -1, c, &err) == 25);
    CHECK(c[0] == -4 && c[1] == -4 && c[2] == -4 && c[3] == -2 && c[48] == 4 && c[49] == 4);
    check_mixture("ring", 0, 0, 0.01f);
    check_mixture("ring", 2, 0.02f, 0.02f);
    check_mixture("grid", 0, 0, 0.05f);
    CHECK(gt_data_mixture_centres("spiral", 0, c, &err) == -1 && has(&err, "spiral"));
    CHECK(!gt_data_make_mixture("spiral", 10, 0, 0, 1, &err) && has(&err, "\"ring\""));
    CHECK(!gt_data_make_mixture("ring", 0, 0, 0, 1, &err));
}

TEST(mixture_deterministic) {
    gt_error err = {{0}};
    gt_dataset *a = gt_data_make_mixture("grid", 1000, 0, 0, 42, &err);
    gt_dataset *b = gt_data_make_mixture("grid", 1000, 0, 0, 42, &err);
    gt_dataset *c = gt_data_make_mixture("grid", 1000, 0, 0, 43, &err);
    gt_dataset *d = gt_data_make_mixture("grid", 10, 0, 0, 42, &err); /* a prefix of a */
    CHECK(a && b && c && d);
    if (a && b && c && d) {
        CHECK(memcmp(a->x, b->x, 2000 * sizeof(float)) == 0);
        CHECK(memcmp(a->labels, b->labels, 1000 * sizeof(int32_t)) == 0);
        CHECK(memcmp(a->x, c->x, 2000 * sizeof(float)) != 0);
        CHECK(memcmp(a->x, d->x, 20 * sizeof(float)) == 0);
    }
    gt_dataset_free(a);
    gt_dataset_free(b);
    gt_dataset_free(c);
    gt_dataset_free(d);
}

/* ---- Loader ------------------------------------------------------------------------------- */

/* n examples of 1 x 1 x 2: x = (i, -i), label i (or unlabelled). */
static gt_dataset *index_dataset(int64_t n, bool labelled) {
    gt_error err = {{0}};
    gt_dataset *ds = gt_dataset_new(n, 1, 1, 2, labelled, "index", &err);
    for (int64_t i = 0; i < n; i++) {
        ds->x[2 * i] = (float)i;
        ds->x[2 * i + 1] = (float)-i;
        if (labelled) ds->labels[i] = (int32_t)i;
    }
    return ds;
}

/* order [nb * batch]: the example indices of the next nb batches (checking x matches labels). */
static void take(gt_loader *l, int batch, int nb, int32_t *order) {
    float x[2 * 64];
    int32_t y[64];
    for (int b = 0; b < nb; b++) {
        gt_loader_next(l, x, y);
        for (int j = 0; j < batch; j++) {
            CHECK(x[2 * j] == (float)y[j] && x[2 * j + 1] == (float)-y[j]);
            order[b * batch + j] = y[j];
        }
    }
}

TEST(loader_permutation) {
    gt_dataset *ds = index_dataset(103, true);
    gt_error err = {{0}};
    for (int pf = 0; pf < 2; pf++) {
        gt_loader *l = gt_loader_new(ds, 10, 5, pf, &err);
        int32_t order[3][100];
        for (int e = 0; e < 3; e++) {
            take(l, 10, 10, order[e]); /* 10 full batches; the 3 left over are dropped */
            int seen[103] = {0};
            for (int i = 0; i < 100; i++) seen[order[e][i]]++;
            int once = 0;
            for (int i = 0; i < 103; i++) once += seen[i] == 1;
            CHECK(once == 100);
            gt_loader_state s = gt_loader_state_get(l);
            CHECK(s.seed == 5 && s.epoch == (uint64_t)e + 1 && s.index == 0);
        }
        CHECK(memcmp(order[0], order[1], sizeof order[0]) != 0);
        CHECK(memcmp(order[1], order[2], sizeof order[0]) != 0);
        gt_loader_free(l);
    }
    gt_dataset_free(ds);
}

TEST(loader_full_epoch) {
    gt_dataset *ds = index_dataset(64, false);
    gt_error err = {{0}};
    gt_loader *l = gt_loader_new(ds, 8, 1, false, &err);
    float x[16];
    int32_t y[8];
    int seen[64] = {0}, ident = 0;
    for (int b = 0; b < 8; b++) {
        gt_loader_next(l, x, b % 2 ? y : NULL);
        for (int j = 0; j < 8; j++) {
            seen[(int)x[2 * j]]++;
            ident += (int)x[2 * j] == b * 8 + j;
            if (b % 2) CHECK(y[j] == -1);
        }
    }
    for (int i = 0; i < 64; i++) CHECK(seen[i] == 1);
    CHECK(ident < 16); /* shuffled, not the identity */
    gt_loader_free(l);
    gt_dataset_free(ds);
}

/* Same seed: same order, with and without prefetch; another seed: another order. */
TEST(loader_deterministic) {
    gt_dataset *ds = index_dataset(200, true);
    gt_error err = {{0}};
    static int32_t o[3][600];
    const uint64_t seeds[3] = {9, 9, 10};
    for (int k = 0; k < 3; k++) {
        gt_loader *l = gt_loader_new(ds, 20, seeds[k], k == 1, &err);
        take(l, 20, 30, o[k]);
        gt_loader_free(l);
    }
    CHECK(memcmp(o[0], o[1], sizeof o[0]) == 0);
    CHECK(memcmp(o[0], o[2], sizeof o[0]) != 0);
    gt_dataset_free(ds);
}

/* Resuming from a state taken mid-epoch gives the batches the first run went on to give. */
TEST(loader_resume) {
    gt_dataset *ds = index_dataset(90, true);
    gt_error err = {{0}};
    int32_t head[15 * 8], ref[13 * 8], a[13 * 8], b[13 * 8];
    for (int pf = 0; pf < 2; pf++) {
        gt_loader *l = gt_loader_new(ds, 8, 3, pf, &err); /* 11 batches per epoch */
        take(l, 8, 15, head);
        gt_loader_state s = gt_loader_state_get(l);
        CHECK(s.epoch == 1 && s.index == 4 && s.seed == 3);
        take(l, 8, 13, ref);
        gt_loader *r = gt_loader_new(ds, 8, 77, !pf, &err);
        take(r, 8, 2, a); /* a prefetched batch is pending; set discards it */
        gt_loader_state_set(r, s);
        take(r, 8, 13, a);
        CHECK(memcmp(ref, a, sizeof a) == 0);
        gt_loader_state_set(l, s); /* rewind the first loader itself */
        take(l, 8, 13, b);
        CHECK(memcmp(ref, b, sizeof b) == 0);
        gt_loader_free(r);
        gt_loader_free(l);
    }
    gt_dataset_free(ds);
}

TEST(loader_errors) {
    gt_dataset *ds = index_dataset(5, true);
    gt_error err = {{0}};
    CHECK(!gt_loader_new(ds, 6, 1, true, &err) && has(&err, "6") && has(&err, "index"));
    CHECK(!gt_loader_new(ds, 0, 1, false, &err));
    gt_loader *l = gt_loader_new(ds, 5, 1, true, &err); /* exactly one batch per epoch */
    int32_t o[10];
    take(l, 5, 2, o);
    CHECK(gt_loader_state_get(l).epoch == 2);
    gt_loader_free(l);
    gt_dataset_free(ds);
}

int main(void) {
    RUN_TESTS(T(idx_round_trip), T(idx_mnist_dir), T(idx_missing_file), T(idx_truncated),
              T(idx_extra_bytes), T(idx_bad_magic), T(idx_mismatched_counts), T(idx_gzip_crc),
              T(idx_fashion_mnist), T(png_rgb), T(png_gray), T(png_crop_values), T(png_errors),
              T(mixture_modes), T(mixture_deterministic), T(loader_permutation),
              T(loader_full_epoch), T(loader_deterministic), T(loader_resume), T(loader_errors));
}
