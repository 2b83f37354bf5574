/* Integrity of what gantry reads back (issue 21, defects 5 and 6): checkpoints carry a CRC-32
 * per tensor and one over their metadata, verified on load with an error naming the tensor
 * (files without them, from other tools, stay readable); counters are range-checked; the .npy
 * reader matches its header's keys exactly and refuses shapes whose size overflows; evaluation
 * of no points or of NaN images, an INI line with a NUL byte and an absurd batch are clear
 * errors or valid JSON, never an abort. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_support.h"
#include "io/image.h"
#include "io/safetensors.h"
#include "test.h"
#include "train/ablate.h"

/* A finished 2-step tiny ring run in dir/run; returns its checkpoint's path. */
static const char *ring_checkpoint(const char *dir) {
    const char *run = cli_path(dir, "run");
    cli_args a;
    cli_args_tiny_ring(&a, run);
    cli_args_add(&a, "train.steps=2", "train.eval_every=0", "train.sample_every=0", NULL);
    CHECK(cli_run_ok(&a));
    return cli_path(run, "checkpoint.safetensors");
}

static void info_fails_saying(const char *path, const char *what, const char *detail) {
    cli_args a;
    cli_args_init(&a);
    cli_args_add(&a, "info", path, NULL);
    cli_run_fails_saying(&a, path, what, detail, NULL);
}

static char *find_bytes(char *buf, size_t len, const char *part) {
    size_t n = strlen(part);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(buf + i, part, n) == 0) return buf + i;
    return NULL;
}

/* One bit of the last tensor's data, then one digit of the step: each is caught and named. */
TEST(checksums_name_what_was_damaged) {
    char dir[64], last[GT_ST_NAME_MAX + 16];
    if (!cli_scratch_new(dir)) return;
    const char *ckpt = ring_checkpoint(dir);
    gt_error err;
    gt_st_file *f = gt_st_read(ckpt, &err);
    CHECK(f != NULL);
    if (!f) return;
    snprintf(last, sizeof last, "tensor '%s'", gt_st_at(f, gt_st_count(f) - 1)->name);
    gt_st_free(f);
    size_t len;
    char *bytes = cli_read_file(ckpt, &len), *damaged = malloc(len);
    memcpy(damaged, bytes, len);
    damaged[len - 1] ^= 0x10; /* the data section ends with the last tensor */
    CHECK(cli_write_file(ckpt, damaged, len));
    info_fails_saying(ckpt, last, "fails its checksum");
    cli_args a;
    cli_args_init(&a);
    cli_args_add(&a, "train", "--resume", cli_path(dir, "run"), "--quiet", NULL);
    cli_run_fails_saying(&a, last, "fails its checksum", NULL);
    memcpy(damaged, bytes, len);
    char *step = find_bytes(damaged, len, "\"step\":\"2\"");
    CHECK(step != NULL);
    if (step) step[8] = '3';
    CHECK(cli_write_file(ckpt, damaged, len));
    info_fails_saying(ckpt, "the metadata", "fails its checksum");
    free(bytes);
    free(damaged);
    cli_scratch_remove(dir);
}

/* A safetensors file written by another tool: no checksums, read as it is. */
TEST(files_without_checksums_stay_readable) {
    char dir[64];
    if (!cli_scratch_new(dir)) return;
    static const char header[] = "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}  ";
    const float x[2] = {1.5f, -2.0f};
    unsigned char file[8 + sizeof header - 1 + sizeof x] = {sizeof header - 1};
    memcpy(file + 8, header, sizeof header - 1);
    memcpy(file + 8 + sizeof header - 1, x, sizeof x);
    const char *path = cli_path(dir, "other.safetensors");
    CHECK(cli_write_file(path, file, sizeof file));
    gt_error err;
    gt_st_file *f = gt_st_read(path, &err);
    CHECK(f && gt_st_count(f) == 1 && gt_st_at(f, 0)->data[1] == -2.0f);
    if (!f) fprintf(stderr, "  %s\n", err.msg);
    gt_st_free(f);
    cli_scratch_remove(dir);
}

static const char *const CKPT_META[] = {"format", "config", "step", "opt_g.step", "opt_d.step",
                                        "ema.updates", "rng.key", "rng.counter", "tricks_rng.key",
                                        "tricks_rng.counter", "loader.seed", "loader.epoch",
                                        "loader.index"};

/* The checkpoint rewritten (with valid checksums) with metadata `key` set to value. */
static void rewrite_meta(const char *path, const char *key, const char *value) {
    gt_error err;
    gt_st_file *f = gt_st_read(path, &err);
    CHECK(f != NULL);
    if (!f) return;
    gt_st_writer *w = gt_st_writer_new();
    for (int i = 0; i < gt_st_count(f); i++) {
        const gt_st_tensor *t = gt_st_at(f, i);
        gt_st_writer_add(w, t->name, t->ndim, t->shape, t->data);
    }
    for (size_t k = 0; k < sizeof CKPT_META / sizeof *CKPT_META; k++)
        gt_st_writer_meta(w, CKPT_META[k], strcmp(CKPT_META[k], key) ? gt_st_meta(f, CKPT_META[k]) : value);
    CHECK(gt_st_writer_write(w, path, &err) == 0);
    gt_st_writer_free(w);
    gt_st_free(f);
}

/* step = -1 used to wrap to 2^64 - 1 and 20 digits to overflow: both are refused by name. */
TEST(counters_out_of_range_are_refused) {
    static const char *const bad[] = {"-1", "99999999999999999999", "9007199254740993", "1e3", ""};
    char dir[64];
    if (!cli_scratch_new(dir)) return;
    const char *ckpt = ring_checkpoint(dir);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        rewrite_meta(ckpt, "step", bad[i]);
        cli_args a;
        cli_args_init(&a);
        cli_args_add(&a, "train", "--resume", cli_path(dir, "run"), "--quiet", "train.steps=4", NULL);
        cli_run_fails_saying(&a, "metadata 'step'", "expected a decimal integer from 0 to 9007199254740992", NULL);
    }
    cli_scratch_remove(dir);
}

/* A checkpoint of a format version this gantry does not know is refused naming both. */
TEST(unknown_checkpoint_format_names_both_versions) {
    char dir[64];
    if (!cli_scratch_new(dir)) return;
    const char *ckpt = ring_checkpoint(dir);
    rewrite_meta(ckpt, "format", "gantry-checkpoint-2");
    cli_args a;
    cli_args_init(&a);
    cli_args_add(&a, "train", "--resume", cli_path(dir, "run"), "--quiet", "train.steps=4", NULL);
    cli_run_fails_saying(&a, "'gantry-checkpoint-2'", "reads 'gantry-checkpoint-1'", NULL);
    cli_scratch_remove(dir);
}

/* A .npy file from a header dict (padded as version 1.0 wants) and `floats` floats of data. */
static const char *npy_file(const char *dir, const char *dict, int floats) {
    char header[256];
    int n = snprintf(header, sizeof header, "%s", dict);
    while ((10 + n + 1) % 64) header[n++] = ' ';
    header[n++] = '\n';
    size_t len = 10 + (size_t)n + 4 * (size_t)floats;
    unsigned char *buf = calloc(len, 1);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)n;
    memcpy(buf + 10, header, (size_t)n);
    const char *path = cli_path(dir, "x.npy");
    CHECK(cli_write_file(path, buf, len));
    free(buf);
    return path;
}

static void npy_fails_saying(const char *dir, const char *dict, int floats, const char *says) {
    int64_t shape[GT_MAX_DIMS];
    int nd;
    gt_error err = {{0}};
    float *x = gt_npy_read(npy_file(dir, dict, floats), &nd, shape, &err);
    CHECK(!x && strstr(err.msg, says));
    if (x || !strstr(err.msg, says)) fprintf(stderr, "  %s: '%s'\n", dict, err.msg);
    free(x);
}

TEST(npy_headers_are_matched_exactly) {
    char dir[64];
    if (!cli_scratch_new(dir)) return;
    /* 2^61 x 2 floats: the byte count overflows 64 bits (undefined behaviour before) */
    npy_fails_saying(dir, "{'descr': '<f4', 'fortran_order': False, 'shape': (2305843009213693952, 2), }",
                     4, "more than 2^61 floats");
    npy_fails_saying(dir, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }",
                     4, "cannot read the shape");
    /* float64 data with the float32 descr inside another entry: no longer taken for float32 */
    npy_fails_saying(dir, "{'descr': '<f8', 'note': \"'descr': '<f4'\", 'fortran_order': False, 'shape': (2,), }",
                     4, "not little-endian float32");
    npy_fails_saying(dir, "{'descr': '<f4x', 'fortran_order': False, 'shape': (2,), }", 2,
                     "not little-endian float32");
    npy_fails_saying(dir, "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }", 2,
                     "'fortran_order' is not False");
    int64_t shape[GT_MAX_DIMS];
    int nd;
    gt_error err;
    float *x = gt_npy_read(npy_file(dir, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 2),
                           &nd, shape, &err);
    CHECK(x && nd == 1 && shape[0] == 2);
    free(x);
    cli_scratch_remove(dir);
}

/* (0, 2) points with --mixture aborted in the mode metrics. */
TEST(eval_of_no_points_is_an_error) {
    char dir[64];
    if (!cli_scratch_new(dir)) return;
    const char *npy = cli_path(dir, "none.npy");
    const int64_t shape[2] = {0, 2};
    gt_error err;
    float none = 0;
    CHECK(gt_npy_write(npy, &none, 2, shape, &err) == 0);
    cli_args a;
    cli_args_init(&a);
    cli_args_add(&a, "eval", "--samples", npy, "--mixture", "ring", NULL);
    cli_run_fails_saying(&a, npy, "no points to score", NULL);
    cli_scratch_remove(dir);
}

/* NaN images: the JSON line parses, with null for the undefined scores (precision and recall
 * were 1, FID printed as nan). */
TEST(eval_of_nan_images_gives_valid_json) {
    if (access("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", R_OK) != 0 ||
        access("models/fmnist-classifier.safetensors", R_OK) != 0) {
        TEST_SKIP("needs Fashion-MNIST and models/fmnist-classifier.safetensors");
        return;
    }
    char dir[64];
    if (!cli_scratch_new(dir)) return;
    enum { N = 16 };
    float *x = malloc(N * 784 * sizeof *x);
    for (int i = 0; i < N * 784; i++) x[i] = NAN;
    const char *npy = cli_path(dir, "nan.npy");
    const int64_t shape[4] = {N, 1, 28, 28};
    gt_error err;
    CHECK(gt_npy_write(npy, x, 4, shape, &err) == 0);
    free(x);
    cli_args a;
    cli_args_init(&a);
    cli_args_add(&a, "eval", "--samples", npy, NULL);
    cli_result r;
    cli_run(&a, &r);
    const char *json = r.text ? strrchr(r.text, '{') : NULL;
    cJSON *o = json ? cJSON_Parse(json) : NULL;
    CHECK_RUN(&a, &r, r.code == 0 && o != NULL);
    CHECK(o && cJSON_IsNull(cJSON_GetObjectItem(o, "fid")) &&
          cJSON_IsNull(cJSON_GetObjectItem(o, "precision")) && cJSON_IsNull(cJSON_GetObjectItem(o, "recall")));
    cJSON_Delete(o);
    cli_result_free(&r);
    cli_scratch_remove(dir);
}

/* A NUL byte cut the line silently; an absurd batch was reported as "batch size -1". */
TEST(ini_nul_bytes_and_absurd_batches_are_errors) {
    char dir[64];
    if (!cli_scratch_new(dir)) return;
    static const char ini[] = "[train]\nsteps = 5\0 junk\n";
    const char *path = cli_path(dir, "nul.ini");
    CHECK(cli_write_file(path, ini, sizeof ini - 1));
    cli_args a;
    cli_args_init(&a);
    cli_args_add(&a, "train", "--config", path, "--out", cli_path(dir, "run"), NULL);
    cli_run_fails_saying(&a, "nul.ini:2", "NUL byte", NULL);
    cli_args_tiny_ring(&a, cli_path(dir, "run"));
    cli_args_add(&a, "train.batch=9223372036854775807", NULL);
    cli_run_fails_saying(&a, "[train] batch", "9223372036854775807", "<= 1048576", NULL);
    cli_scratch_remove(dir);
}

/* Found by fuzz/fuzz_jsonl: an ablation outcome whose mode count is missing cast NaN to int
 * (undefined behaviour); now an error naming the field. */
TEST(fuzz_regression_outcome_without_a_mode_count) {
    char dir[64];
    if (!cli_scratch_new(dir)) return;
    static const char json[] = "{\"trained\": true, \"scored\": true, \"result\": {\"kind\": "
                               "\"points\", \"n\": 2500, \"mixture\": \"ring\", \"medos_covered\": 8, "
                               "\"n_modes\": 8, \"pct_high_quality\": 90.5, \"reverse_kl\": 0.01}}\n";
    const char *path = cli_path(dir, "ablate.json");
    CHECK(cli_write_file(path, json, sizeof json - 1));
    gt_ablate_outcome o;
    gt_error err = {{0}};
    CHECK(gt_ablate_outcome_read(path, &o, &err) < 0 && strstr(err.msg, "\"modes_covered\""));
    if (!strstr(err.msg, "modes_covered")) fprintf(stderr, "  '%s'\n", err.msg);
    cli_scratch_remove(dir);
}

int main(void) {
    RUN_TESTS(T(checksums_name_what_was_damaged), T(files_without_checksums_stay_readable),
              T(counters_out_of_range_are_refused), T(unknown_checkpoint_format_names_both_versions),
              T(npy_headers_are_matched_exactly),
              T(eval_of_no_points_is_an_error), T(eval_of_nan_images_gives_valid_json),
              T(ini_nul_bytes_and_absurd_batches_are_errors),
              T(fuzz_regression_outcome_without_a_mode_count));
}
