/* Tests of src/io: atomic writes and their failures, safetensors round trip and corrupt files,
 * PNG grids, .npy headers, JSON lines, and the configuration (files, overrides, every error). */
#include <dirent.h>
#include <png.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/atomic.h"
#include "io/config.h"
#include "io/image.h"
#include "io/safetensors.h"
#include "test.h"

static char dir[64];

static const char *tmp_path(const char *name) {
    static char buf[8][256];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, 256, "%s/%s", dir, name);
    return p;
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, n, f);
    fclose(f);
}

/* The whole file into a malloc'd NUL-terminated buffer (n bytes), or NULL. */
static char *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)len + 1);
    *n = fread(buf, 1, (size_t)len, f);
    buf[*n] = '\0';
    fclose(f);
    return buf;
}

static bool file_is(const char *path, const char *text) {
    size_t n;
    char *s = read_all(path, &n);
    bool ok = s && n == strlen(text) && memcmp(s, text, n) == 0;
    free(s);
    return ok;
}

/* Files in the scratch folder whose name contains ".tmp." (left-over temporaries). */
static int temp_files(void) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

static bool has(const gt_error *e, const char *s) {
    if (strstr(e->msg, s)) return true;
    fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", e->msg, s);
    return false;
}

/* ---- atomic writes ------------------------------------------------------------------------ */

static int write_atomic(const char *path, const char *text, gt_error *err) {
    gt_atomic a;
    FILE *f = gt_atomic_open(path, &a, err);
    if (!f) return -1;
    fputs(text, f);
    return gt_atomic_commit(&a, err);
}

TEST(atomic_write_replaces) {
    gt_error e;
    const char *p = tmp_path("a.txt");
    CHECK(write_atomic(p, "first", &e) == 0);
    CHECK(write_atomic(p, "second", &e) == 0);
    CHECK(file_is(p, "second"));
    struct stat st;
    CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0644);
    CHECK(temp_files() == 0);
}

TEST(atomic_missing_dir) {
    gt_error e = {{0}};
    gt_atomic a;
    const char *p = tmp_path("no/such/dir/x.txt");
    CHECK(gt_atomic_open(p, &a, &e) == NULL);
    CHECK(has(&e, p) && has(&e, "No such file") && has(&e, "does not exist"));
}

TEST(atomic_unwritable_dir) {
    if (geteuid() == 0) return; /* root writes through permissions: covered by the cases below */
    const char *d = tmp_path("ro");
    mkdir(d, 0555);
    gt_error e = {{0}};
    gt_atomic a;
    CHECK(gt_atomic_open(tmp_path("ro/x"), &a, &e) == NULL);
    CHECK(has(&e, "not writable"));
    rmdir(d);
}

TEST(stream_disk_full) {
    FILE *f = fopen("/dev/full", "w");
    if (!f) return;
    gt_error e = {{0}};
    fputs("data", f);
    CHECK(gt_stream_close_checked(f, "/dev/full", true, &e) == -1);
    CHECK(has(&e, "/dev/full") && has(&e, "disk is full"));
}

/* A write that fails half-way (the file size limit stands in for a full disk): the earlier
 * file stays intact and no temporary file is left. */
TEST(atomic_failure_keeps_old) {
    gt_error e = {{0}};
    const char *p = tmp_path("keep.txt");
    CHECK(write_atomic(p, "old", &e) == 0);
    struct rlimit old, small;
    getrlimit(RLIMIT_FSIZE, &old);
    small = old;
    small.rlim_cur = 4096;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    CHECK(setrlimit(RLIMIT_FSIZE, &small) == 0);
    gt_atomic a;
    FILE *f = gt_atomic_open(p, &a, &e);
    for (int i = 0; f && i < 100000; i++) fputc('x', f);
    CHECK(f && gt_atomic_commit(&a, &e) == -1);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    CHECK(has(&e, p) && has(&e, "size limit"));
    CHECK(file_is(p, "old"));
    CHECK(temp_files() == 0);
    f = gt_atomic_open(p, &a, &e);
    fputs("new", f);
    gt_atomic_abort(&a);
    CHECK(file_is(p, "old") && temp_files() == 0);
}

/* ---- safetensors ---------------------------------------------------------------------------- */

TEST(safetensors_round_trip) {
    float a[24], b[3] = {1.5f, -2.0f, 3.25f}, s = 42.0f;
    for (int i = 0; i < 24; i++) a[i] = (float)i * 0.5f - 3.0f;
    int64_t sa[4] = {2, 3, 2, 2}, sb[1] = {3}, se[2] = {0, 7};
    gt_st_writer *w = gt_st_writer_new();
    gt_st_writer_add(w, "g.conv1.weight", 4, sa, a);
    gt_st_writer_add(w, "g.bias", 1, sb, b);
    gt_st_writer_add(w, "step", 0, NULL, &s);
    gt_st_writer_add(w, "empty", 2, se, NULL);
    gt_st_writer_meta(w, "config", "[train]\nsteps = 10\n");
    gt_st_writer_meta(w, "format", "gantry");
    gt_st_writer_meta(w, "format", "gantry-1");
    gt_error e = {{0}};
    const char *p = tmp_path("ck.safetensors");
    CHECK(gt_st_writer_write(w, p, &e) == 0);
    gt_st_writer_free(w);
    size_t n;
    unsigned char *raw = (unsigned char *)read_all(p, &n);
    uint64_t hl = 0;
    for (int i = 0; i < 8; i++) hl |= (uint64_t)raw[i] << (8 * i);
    CHECK(hl % 8 == 0 && n == 8 + hl + 4 * (24 + 3 + 1) && raw[8] == '{');
    free(raw);
    gt_st_file *f = gt_st_read(p, &e);
    CHECK(f != NULL);
    if (!f) return;
    CHECK(gt_st_count(f) == 4 && strcmp(gt_st_at(f, 0)->name, "g.conv1.weight") == 0);
    const gt_st_tensor *t = gt_st_find(f, "g.conv1.weight");
    CHECK(t->ndim == 4 && t->shape[1] == 3 && t->numel == 24 && memcmp(t->data, a, sizeof a) == 0);
    t = gt_st_find(f, "g.bias");
    CHECK(t->ndim == 1 && t->numel == 3 && memcmp(t->data, b, sizeof b) == 0);
    t = gt_st_find(f, "step");
    CHECK(t->ndim == 0 && t->numel == 1 && t->data[0] == 42.0f);
    t = gt_st_find(f, "empty");
    CHECK(t->ndim == 2 && t->shape[1] == 7 && t->numel == 0);
    CHECK(gt_st_find(f, "nope") == NULL && gt_st_meta(f, "nope") == NULL);
    CHECK(strcmp(gt_st_meta(f, "config"), "[train]\nsteps = 10\n") == 0);
    CHECK(strcmp(gt_st_meta(f, "format"), "gantry-1") == 0);
    gt_st_free(f);
}

/* A file with this header and `data` bytes of zeros after it. */
static void write_st(const char *path, const char *json, size_t data) {
    size_t n = strlen(json);
    unsigned char *buf = calloc(8 + n + data + 1, 1);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(buf + 8, json, n);
    write_bytes(path, buf, 8 + n + data);
    free(buf);
}

TEST(safetensors_rejects_corrupt) {
    static const struct { const char *json; size_t data; const char *expect; } cases[] = {
        {"{\"a\": x}", 0, "malformed at byte 14"},
        {"[1, 2]", 0, "not a JSON object"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}} x", 8, "malformed"},
        {"{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "tensor 'a': dtype 'F16' is not supported"},
        {"{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "tensor 'a': \"dtype\" is missing"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,64]}}", 16, "tensor 'a': data_offsets out of range: [0, 64] with 16 bytes"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,4]}}", 16, "out of range"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-4,4]}}", 16, "not two non-negative integers"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,16]}}", 16, "tensor 'a': size does not match the shape: 16 bytes, but its shape needs 4 x 3"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2,-1],\"data_offsets\":[0,8]}}", 8, "not a non-negative integer"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,8]}}", 8, "not a non-negative integer"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, "more than 6 dims"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4],\"data_offsets\":[0,4]}}", 4, "size does not match"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}", 24, "tensors 'a' and 'b' have overlapping"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
         "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "tensor 'a' appears twice"},
        {"{\"__metadata__\":{\"step\":3}}", 0, "__metadata__: the value of 'step' is not a string"},
        {"{\"__metadata__\":[]}", 0, "__metadata__ is not an object"},
        {"{\"a\":[1]}", 0, "tensor 'a': the entry is not an object"},
    };
    const char *p = tmp_path("bad.safetensors");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_st(p, cases[i].json, cases[i].data);
        gt_error e = {{0}};
        gt_st_file *f = gt_st_read(p, &e);
        CHECK(f == NULL);
        gt_st_free(f);
        if (!has(&e, cases[i].expect) || !has(&e, p)) fprintf(stderr, "  case %zu\n", i);
    }
}

TEST(safetensors_rejects_truncated) {
    gt_error e = {{0}};
    const char *p = tmp_path("cut.safetensors");
    write_bytes(p, "\x10\0\0", 3);
    CHECK(gt_st_read(p, &e) == NULL && has(&e, "truncated"));
    write_bytes(p, "\xe8\x03\0\0\0\0\0\0{}", 10);
    CHECK(gt_st_read(p, &e) == NULL && has(&e, "header length 1000, but the file has 2 bytes"));
    const uint64_t big = 100u * 1024 * 1024 + 8;  /* a sparse file: no disk used */
    unsigned char n8[8];
    for (int i = 0; i < 8; i++) n8[i] = (unsigned char)(big >> (8 * i));
    write_bytes(p, n8, 8);
    CHECK(truncate(p, (off_t)(big + 8)) == 0);
    CHECK(gt_st_read(p, &e) == NULL && has(&e, "header length 104857608 exceeds the 100 MB limit"));
    float x[64] = {0};
    int64_t shape[1] = {64};
    gt_st_writer *w = gt_st_writer_new();
    gt_st_writer_add(w, "x", 1, shape, x);
    CHECK(gt_st_writer_write(w, p, &e) == 0);
    gt_st_writer_free(w);
    struct stat st;
    CHECK(stat(p, &st) == 0 && truncate(p, st.st_size - 64) == 0); /* into the data */
    CHECK(gt_st_read(p, &e) == NULL && has(&e, "tensor 'x': data_offsets out of range"));
    CHECK(gt_st_read(tmp_path("missing.safetensors"), &e) == NULL && has(&e, "cannot open"));
}

/* ---- images, arrays, logs ---------------------------------------------------------------------- */

static unsigned char *read_png(const char *path, png_uint_32 format, int *w, int *h) {
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&img, path)) return NULL;
    img.format = format;
    unsigned char *buf = malloc(PNG_IMAGE_SIZE(img));
    if (!png_image_finish_read(&img, NULL, buf, 0, NULL)) {
        free(buf);
        return NULL;
    }
    *w = (int)img.width;
    *h = (int)img.height;
    return buf;
}

TEST(png_grid_rgb) {
    enum { N = 5, C = 3, H = 4, W = 3 };
    float x[N * C * H * W];
    for (int i = 0; i < N * C * H * W; i++) x[i] = 0.0f;
    x[0] = -1.0f;                        /* image 0, red, (0, 0) */
    x[1 * H * W + 1] = 1.0f;             /* image 0, green, (0, 1) */
    x[1 * C * H * W + 2 * H * W] = 5.0f; /* image 1, blue, (0, 0): clamped */
    x[4 * C * H * W + 11] = -3.0f;       /* image 4, red, (3, 2): clamped */
    gt_error e = {{0}};
    const char *p = tmp_path("grid.png");
    CHECK(gt_png_write_grid(p, x, N, C, H, W, 2, &e) == 0);
    int w = 0, h = 0;
    unsigned char *px = read_png(p, PNG_FORMAT_RGB, &w, &h);
    CHECK(px && w == 2 * (W + 2) + 2 && h == 3 * (H + 2) + 2);
    if (!px) return;
#define AT(yy, xx, ch) px[((yy) * w + (xx)) * 3 + (ch)]
    CHECK(AT(0, 0, 0) == 0 && AT(1, 1, 1) == 0);                  /* border */
    CHECK(AT(2, 2, 0) == 0 && AT(2, 2, 1) == 128 && AT(2, 3, 1) == 255);
    CHECK(AT(2, 7, 2) == 255 && AT(2, 7, 0) == 128);              /* image 1 at x = 2 + 5 */
    CHECK(AT(14 + 3, 2 + 2, 0) == 0 && AT(14 + 3, 2 + 2, 1) == 128); /* image 4 at y = 2 + 12 */
    CHECK(AT(14, 7, 0) == 0 && AT(14, 7, 1) == 0);                /* no image 5: background */
#undef AT
    free(px);
}

TEST(png_grid_gray_and_errors) {
    float x[2 * 2 * 2] = {-1, 0, 0.5f, 1, 0, 0, 0, 0};
    gt_error e = {{0}};
    const char *p = tmp_path("gray.png");
    CHECK(gt_png_write_grid(p, x, 2, 1, 2, 2, 8, &e) == 0);
    int w = 0, h = 0;
    unsigned char *px = read_png(p, PNG_FORMAT_GRAY, &w, &h);
    CHECK(px && w == 8 * 4 + 2 && h == 6);
    if (px) CHECK(px[2 * w + 2] == 0 && px[2 * w + 3] == 128 && px[3 * w + 2] == 191 && px[3 * w + 3] == 255);
    free(px);
    CHECK(gt_png_write_grid(p, x, 2, 2, 2, 2, 1, &e) == -1 && has(&e, "1 or 3 channels"));
    CHECK(gt_png_write_grid(tmp_path("nodir/g.png"), x, 2, 1, 2, 2, 1, &e) == -1 && has(&e, "nodir"));
}

TEST(npy_header_exact) {
    float x[6] = {1, 2, 3, 4, 5, 6};
    int64_t shape[2] = {2, 3};
    gt_error e = {{0}};
    const char *p = tmp_path("a.npy");
    CHECK(gt_npy_write(p, x, 2, shape, &e) == 0);
    size_t n;
    char *raw = read_all(p, &n);
    const char dict[] = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    CHECK(n == 128 + sizeof x && memcmp(raw, "\x93NUMPY\x01\x00\x76\x00", 10) == 0);
    CHECK(memcmp(raw + 10, dict, sizeof dict - 1) == 0 && raw[127] == '\n' && raw[126] == ' ');
    CHECK(strspn(raw + 10 + sizeof dict - 1, " ") == 127 - 10 - (sizeof dict - 1));
    CHECK(memcmp(raw + 128, x, sizeof x) == 0);
    free(raw);
    int64_t one[1] = {6};
    CHECK(gt_npy_write(p, x, 1, one, &e) == 0);
    raw = read_all(p, &n);
    CHECK(n == 128 + sizeof x && strstr(raw + 10, "'shape': (6,), }") != NULL);
    free(raw);
    CHECK(gt_npy_write(p, x, 0, NULL, &e) == 0);
    raw = read_all(p, &n);
    CHECK(n == 128 + 4 && strstr(raw + 10, "'shape': (), }") != NULL && raw[127] == '\n');
    free(raw);
}

TEST(jsonl_append_lines) {
    gt_error e = {{0}};
    const char *p = tmp_path("m.jsonl");
    CHECK(gt_jsonl_append(p, "{\"step\":1}", &e) == 0);
    CHECK(gt_jsonl_append(p, "{\"step\":2}", &e) == 0);
    CHECK(file_is(p, "{\"step\":1}\n{\"step\":2}\n"));
    CHECK(gt_jsonl_append(p, "{}\n{}", &e) == -1 && has(&e, "several lines"));
    CHECK(gt_jsonl_append(tmp_path("none/m.jsonl"), "{}", &e) == -1 && has(&e, "does not exist"));
}

/* ---- configuration ---------------------------------------------------------------------------- */

TEST(config_defaults) {
    gt_config c;
    gt_config_defaults(&c);
    CHECK(strcmp(c.data_dataset, "fashion-mnist") == 0 && c.data_resolution == 28);
    CHECK(c.g_z_dim == 100 && strcmp(c.d_activation, "leaky_relu") == 0 && c.d_init_std == 0.02);
    CHECK(c.opt_g_lr == 2e-4 && c.opt_d_beta1 == 0.5 && c.opt_d_eps == 1e-8);
    CHECK(c.train_steps == 5000 && c.train_ema && c.data_prefetch && c.train_threads == 0);
    CHECK(strcmp(c.data_path, "/usr/share/datasets/fashion-mnist") == 0);
}

TEST(config_load_and_override) {
    const char *p = tmp_path("run.ini");
    const char *text = "; a recipe\n[data]\ndataset = ring\n  n_points = 2000  ; indented\n"
                       "[model.g]\nfamily=mlp\nwidth = 128\n\n# comment\n[optim.d]\nlr = 1e-3\n"
                       "[train]\nema = false\n";
    write_bytes(p, text, strlen(text));
    gt_config c;
    gt_config_defaults(&c);
    gt_error e = {{0}};
    CHECK(gt_config_load_file(&c, p, &e) == 0);
    CHECK(strcmp(c.data_dataset, "ring") == 0 && c.data_n_points == 2000);
    CHECK(strcmp(c.g_family, "mlp") == 0 && c.g_width == 128 && c.d_width == 64);
    CHECK(c.opt_d_lr == 1e-3 && c.opt_g_lr == 2e-4 && !c.train_ema);
    CHECK(gt_config_set(&c, "model.g.width = 32", "command line", &e) == 0 && c.g_width == 32);
    CHECK(gt_config_set(&c, "optim.g.beta2=0.99", "command line", &e) == 0 && c.opt_g_beta2 == 0.99);
    CHECK(gt_config_set(&c, "data.path=/data/my images", "command line", &e) == 0);
    CHECK(strcmp(c.data_path, "/data/my images") == 0);
    CHECK(gt_config_set(&c, "train.ema=yes", "command line", &e) == 0 && c.train_ema);
    CHECK(gt_config_set(&c, "data.channels=3", "command line", &e) == 0 && c.data_channels == 3);
}

TEST(config_file_errors) {
    static const struct { const char *text, *expect[3]; } cases[] = {
        {"[data]\n[trian]\nsteps = 1\n", {"cfg.ini:2: unknown section [trian]", "the sections are: data, model.g, model.d"}},
        {"[model.g]\nwidht = 3\n", {"cfg.ini:2: unknown key 'widht' in [model.g]", "family, z_dim, width, depth"}},
        {"[train]\nsteps = many\n", {"cfg.ini:2: bad value for [train] steps = 'many': not an integer", "allowed: an integer >= 1"}},
        {"[train]\nsteps = 0\n", {"cfg.ini:2:", "out of range; allowed: an integer >= 1"}},
        {"[optim.g]\nbeta1 = 1\n", {"[optim.g] beta1 = '1': out of range", "allowed: a number >= 0 and < 1"}},
        {"[optim.g]\nlr = 0\n", {"allowed: a number > 0"}},
        {"[optim.g]\nlr = nan\n", {"not a finite number"}},
        {"[model.d]\nnorm = group\n", {"cfg.ini:2: bad value for [model.d] norm = 'group'", "allowed: one of batch|layer|none"}},
        {"[data]\nchannels = 2\n", {"allowed: one of 1|3"}},
        {"[data]\nprefetch = maybe\n", {"not a boolean; allowed: true or false"}},
        {"[train]\nsteps = 5\n\nsteps = 6\n", {"cfg.ini:4: [train] steps is set twice (first on line 2)"}},
        {"[train]\nsteps 5\n", {"cfg.ini:2: syntax error"}},
        {"[train\nsteps = 5\n", {"cfg.ini:1: syntax error"}},
        {"steps = 5\n", {"cfg.ini:1: key 'steps' appears before any [section]"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gt_config c, before;
        gt_config_defaults(&c);
        before = c;
        gt_error e = {{0}};
        CHECK(gt_config_from_string(&c, cases[i].text, "cfg.ini", &e) == -1);
        CHECK(memcmp(&c, &before, sizeof c) == 0);
        for (int j = 0; j < 3 && cases[i].expect[j]; j++)
            if (!has(&e, cases[i].expect[j])) fprintf(stderr, "  case %zu\n", i);
    }
}

TEST(config_long_line_and_file) {
    char text[400] = "[data]\npath = ";
    memset(text + strlen(text), 'a', 250);
    gt_config c;
    gt_config_defaults(&c);
    gt_error e = {{0}};
    CHECK(gt_config_from_string(&c, text, "cfg.ini", &e) == -1 && has(&e, "cfg.ini:2: the line is longer"));
    const char *p = tmp_path("bad.ini");
    write_bytes(p, "[train]\n\nbatch = -1\n", 20);
    CHECK(gt_config_load_file(&c, p, &e) == -1);
    char expect[300];
    snprintf(expect, sizeof expect, "%s:3: bad value for [train] batch = '-1'", p);
    CHECK(has(&e, expect));
    CHECK(gt_config_load_file(&c, tmp_path("none.ini"), &e) == -1 && has(&e, "config --defaults"));
}

TEST(config_set_errors) {
    gt_config c;
    gt_config_defaults(&c);
    gt_error e = {{0}};
    CHECK(gt_config_set(&c, "train.steps", "command line", &e) == -1 && has(&e, "command line: 'train.steps' is not section.key=value"));
    CHECK(gt_config_set(&c, "steps=3", "command line", &e) == -1 && has(&e, "not section.key=value"));
    CHECK(gt_config_set(&c, "model.g.widht=3", "command line", &e) == -1 && has(&e, "command line: unknown key 'widht' in [model.g]"));
    CHECK(gt_config_set(&c, "model.x.width=3", "command line", &e) == -1 && has(&e, "unknown section [model.x]"));
    CHECK(gt_config_set(&c, "train.batch=0", "command line", &e) == -1 && has(&e, "command line: bad value for [train] batch = '0'"));
    CHECK(gt_config_set(&c, "data.dataset=cifar", "command line", &e) == -1 && has(&e, "one of fashion-mnist|mnist|png|ring|grid"));
    CHECK(gt_config_set(&c, "train.steps=99999999999999999999", "command line", &e) == -1 && has(&e, "too large"));
    CHECK(c.train_batch == 64 && c.train_steps == 5000);
}

static void changed_config(gt_config *c) {
    gt_config_defaults(c);
    const char *sets[] = {"data.dataset=png", "data.path=/srv/faces", "model.d.family=mlp",
                          "optim.g.lr=3e-5", "optim.d.beta2=0.1", "train.ema_decay=0.9999",
                          "train.seed=123456789012", "train.ema=false", "model.g.init_std=0.3"};
    gt_error e;
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) CHECK(gt_config_set(c, sets[i], "t", &e) == 0);
}

TEST(config_write_round_trip) {
    gt_config c, d;
    changed_config(&c);
    gt_error e = {{0}};
    const char *p = tmp_path("config.ini");
    CHECK(gt_config_write(&c, p, &e) == 0);
    gt_config_defaults(&d);
    CHECK(gt_config_load_file(&d, p, &e) == 0);
    CHECK(memcmp(&c, &d, sizeof c) == 0);
    size_t n;
    char *text = read_all(p, &n);
    CHECK(strstr(text, "[optim.g]\n; generator optimizer (one of adam|sgd; default adam)\ntype = adam\n"));
    CHECK(strstr(text, "lr = 3e-05\n") && strstr(text, "ema_decay = 0.9999\n"));
    free(text);
}

TEST(config_string_round_trip) {
    gt_config c, d;
    changed_config(&c);
    char buf[8192];
    int n = gt_config_to_string(&c, buf, sizeof buf);
    CHECK(n > 0 && (size_t)n == strlen(buf) && !strchr(buf, ';'));
    CHECK(gt_config_to_string(&c, buf, (size_t)n) == -1);
    CHECK(gt_config_to_string(&c, buf, (size_t)n + 1) == n);
    gt_error e = {{0}};
    gt_config_defaults(&d);
    CHECK(gt_config_from_string(&d, buf, "checkpoint", &e) == 0);
    CHECK(memcmp(&c, &d, sizeof c) == 0);
}

TEST(config_print_defaults) {
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    gt_config_print_defaults(f);
    fclose(f);
    CHECK(strstr(text, "[model.g]\n") && strstr(text, "z_dim = 100\n"));
    CHECK(strstr(text, "; hidden layers (mlp) (an integer >= 1; default 3)\ndepth = 3\n"));
    CHECK(strstr(text, "; learning rate (a number > 0; default 2e-4)\nlr = 0.0002\n"));
    gt_config c, d;
    gt_config_defaults(&c);
    gt_config_defaults(&d);
    gt_error e = {{0}};
    CHECK(gt_config_from_string(&d, text, "defaults", &e) == 0 && memcmp(&c, &d, sizeof c) == 0);
    free(text);
}

static void remove_dir(const char *path) {
    DIR *d = opendir(path);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        if (remove(p) != 0) remove_dir(p);
    }
    closedir(d);
    rmdir(path);
}

int main(void) {
    strcpy(dir, "/tmp/gt_test_io_XXXXXX");
    if (!mkdtemp(dir)) return 1;
    int rc;
    RUN_TESTS_INTO(rc, T(atomic_write_replaces), T(atomic_missing_dir), T(atomic_unwritable_dir),
                   T(stream_disk_full), T(atomic_failure_keeps_old), T(safetensors_round_trip),
                   T(safetensors_rejects_corrupt), T(safetensors_rejects_truncated),
                   T(png_grid_rgb), T(png_grid_gray_and_errors), T(npy_header_exact),
                   T(jsonl_append_lines), T(config_defaults), T(config_load_and_override),
                   T(config_file_errors), T(config_long_line_and_file), T(config_set_errors),
                   T(config_write_round_trip), T(config_string_round_trip),
                   T(config_print_defaults));
    remove_dir(dir);
    return rc;
}
