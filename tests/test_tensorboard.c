/* TensorBoard logging (train.tensorboard, issue 20): CRC-32C against published check values,
 * the protocol buffer wire writer and the Event / Summary encodings against bytes worked out by
 * hand from the format, the record framing, unique file names, clear errors; and, end to end,
 * runs whose events files an independent reader (tests/tensorboard/read_events.py: classes
 * protoc generates from TensorBoard's protos, its own CRC-32C) finds to hold exactly the numbers
 * of metrics.jsonl and the sample grids, a resume adding a file and leaving the first as it was. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli_support.h"
#include "io/crc32c.h"
#include "io/image.h"
#include "io/protowire.h"
#include "io/tfevents.h"
#include "test.h"
#include "train/outputs.h"
#include "train/tensorboard.h"

#define READER "tests/tensorboard/read_events.py"
#define PYTHON "/usr/bin/python3"

/* ---- CRC-32C -------------------------------------------------------------------------------- */

/* The check value of the CRC catalogue and the test vectors of RFC 3720 (iSCSI), B.4. */
TEST(crc32c_matches_the_published_check_values) {
    CHECK(gt_crc32c("123456789", 9) == 0xE3069283u);
    CHECK(gt_crc32c("", 0) == 0);
    unsigned char zeros[32] = {0}, ones[32], up[32], down[32];
    for (int i = 0; i < 32; i++) {
        ones[i] = 0xff;
        up[i] = (unsigned char)i;
        down[i] = (unsigned char)(31 - i);
    }
    CHECK(gt_crc32c(zeros, 32) == 0x8A9136AAu);
    CHECK(gt_crc32c(ones, 32) == 0x62A8AB43u);
    CHECK(gt_crc32c(up, 32) == 0x46DD794Eu);
    CHECK(gt_crc32c(down, 32) == 0x113FDB5Cu);
    /* extending over a split gives the CRC of the whole */
    CHECK(gt_crc32c_extend(gt_crc32c("12345", 5), "6789", 4) == 0xE3069283u);
}

/* mask(c) = rotr(c, 15) + 0xa282ead8: a bit 15 lands at bit 0, bit 0 at bit 17. */
TEST(crc32c_mask_rotates_by_15_and_adds_the_constant) {
    CHECK(gt_crc32c_mask(0) == 0xa282ead8u);
    CHECK(gt_crc32c_mask(1u << 15) == 0xa282ead8u + 1);
    CHECK(gt_crc32c_mask(1) == 0xa282ead8u + (1u << 17));
    CHECK(gt_crc32c_mask(0xffffffffu) == 0xa282ead7u); /* wraps modulo 2^32 */
}

/* ---- the wire writer ------------------------------------------------------------------------ */

static bool bytes_are(const gt_pb *b, const unsigned char *want, size_t n) {
    bool same = !b->failed && b->len == n && memcmp(b->data, want, n) == 0;
    if (!same) {
        fprintf(stderr, "  got %zu bytes:", b->len);
        for (size_t i = 0; i < b->len; i++) fprintf(stderr, " %02x", b->data[i]);
        fprintf(stderr, "\n");
    }
    return same;
}
#define CHECK_BYTES(b, ...)                                                  \
    do {                                                                     \
        static const unsigned char want_[] = {__VA_ARGS__};                  \
        CHECK(bytes_are((b), want_, sizeof want_));                          \
    } while (0)

/* The examples of the protocol buffer encoding guide (150 in field 1: 08 96 01; "testing" in
 * field 2; a message holding the first in field 3) and the edges of each wire type. */
TEST(the_wire_writer_encodes_keys_varints_fixed_and_length_delimited_fields) {
    gt_pb b, sub;
    gt_pb_init(&b);
    gt_pb_varint(&b, 1, 150);
    CHECK_BYTES(&b, 0x08, 0x96, 0x01);
    gt_pb_init(&sub);
    gt_pb_raw(&sub, b.data, b.len);
    gt_pb_free(&b);
    gt_pb_message(&b, 3, &sub);
    CHECK_BYTES(&b, 0x1a, 0x03, 0x08, 0x96, 0x01);
    gt_pb_free(&b);
    gt_pb_free(&sub);
    gt_pb_string(&b, 2, "testing");
    CHECK_BYTES(&b, 0x12, 0x07, 't', 'e', 's', 't', 'i', 'n', 'g');
    gt_pb_free(&b);
    gt_pb_put_varint(&b, 0);
    gt_pb_put_varint(&b, 127);
    gt_pb_put_varint(&b, 128);
    gt_pb_put_varint(&b, 300);
    CHECK_BYTES(&b, 0x00, 0x7f, 0x80, 0x01, 0xac, 0x02);
    gt_pb_free(&b);
    gt_pb_put_varint(&b, UINT64_MAX);  /* also int64 -1: ten bytes */
    CHECK_BYTES(&b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01);
    gt_pb_free(&b);
    gt_pb_varint(&b, 16, 1);  /* field 16: a two-byte key, 16 << 3 = 128 */
    CHECK_BYTES(&b, 0x80, 0x01, 0x01);
    gt_pb_free(&b);
    gt_pb_float(&b, 2, 1.0f);  /* 0x3f800000, little endian */
    gt_pb_float(&b, 2, -2.5f); /* 0xc0200000 */
    CHECK_BYTES(&b, 0x15, 0x00, 0x00, 0x80, 0x3f, 0x15, 0x00, 0x00, 0x20, 0xc0);
    gt_pb_free(&b);
    gt_pb_double(&b, 1, 1.0); /* 0x3ff0000000000000 */
    CHECK_BYTES(&b, 0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f);
    gt_pb_free(&b);
    gt_pb_bytes(&b, 4, "", 0);
    CHECK_BYTES(&b, 0x22, 0x00);
    gt_pb_free(&b);
    /* a long field: its length takes two bytes (300: ac 02) */
    char big[300];
    memset(big, 'x', sizeof big);
    gt_pb_bytes(&b, 1, big, sizeof big);
    CHECK(b.len == 3 + 300 && b.data[0] == 0x0a && b.data[1] == 0xac && b.data[2] == 0x02 &&
          b.data[302] == 'x');
    gt_pb_free(&b);
}

/* ---- the messages and the framing ---------------------------------------------------------- */

/* Event {wall_time 1.5, step 7, summary {value {tag "a/b", simple_value 2}}}, by hand:
 * Value = 0a 03 "a/b" 15 <2.0f> (10 bytes); Summary = 0a 0a Value (12); Event = 09 <1.5> 10 07
 * 2a 0c Summary. */
TEST(a_scalar_event_has_the_bytes_of_event_and_summary_proto) {
    gt_pb summary, ev;
    gt_pb_init(&summary);
    gt_pb_init(&ev);
    gt_tf_summary_scalar(&summary, "a/b", 2.0f);
    gt_tf_event_summary(&ev, 1.5, 7, &summary);
    CHECK_BYTES(&ev, 0x09, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f, 0x10, 0x07, 0x2a, 0x0c, 0x0a, 0x0a, 0x0a,
                0x03, 'a', '/', 'b', 0x15, 0x00, 0x00, 0x00, 0x40);
    gt_pb_free(&summary);
    gt_pb_free(&ev);
}

/* Summary {value {tag "s", image {height 2, width 3, colorspace 1, encoded_image_string "PNG"}}}:
 * Image = 08 02 10 03 18 01 22 03 "PNG" (11); Value = 0a 01 "s" 22 0b Image (16). And
 * Event {wall_time 0, file_version "brain.Event:2"}. */
TEST(image_and_file_version_events_have_the_bytes_of_the_protos) {
    gt_pb summary, ev;
    gt_pb_init(&summary);
    gt_pb_init(&ev);
    gt_tf_summary_image(&summary, "s", 2, 3, GT_TF_GRAY, "PNG", 3);
    CHECK_BYTES(&summary, 0x0a, 0x10, 0x0a, 0x01, 's', 0x22, 0x0b, 0x08, 0x02, 0x10, 0x03, 0x18,
                0x01, 0x22, 0x03, 'P', 'N', 'G');
    gt_tf_event_file_version(&ev, 0.0, GT_TFEVENTS_VERSION);
    CHECK_BYTES(&ev, 0x09, 0, 0, 0, 0, 0, 0, 0, 0, 0x1a, 0x0d, 'b', 'r', 'a', 'i', 'n', '.', 'E',
                'v', 'e', 'n', 't', ':', '2');
    gt_pb_free(&summary);
    gt_pb_free(&ev);
}

static uint32_t u32_le(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* length (8 bytes LE) | mask(crc(length)) | data | mask(crc(data)) */
TEST(a_record_is_framed_with_its_length_and_two_masked_crcs) {
    gt_pb rec;
    gt_pb_init(&rec);
    gt_tfrecord_frame(&rec, "abc", 3);
    static const unsigned char len3[8] = {3, 0, 0, 0, 0, 0, 0, 0};
    CHECK(rec.len == 8 + 4 + 3 + 4);
    CHECK(memcmp(rec.data, len3, 8) == 0);
    CHECK(u32_le(rec.data + 8) == gt_crc32c_mask(gt_crc32c(len3, 8)));
    CHECK(memcmp(rec.data + 12, "abc", 3) == 0);
    CHECK(u32_le(rec.data + 15) == gt_crc32c_mask(gt_crc32c("abc", 3)));
    gt_pb_free(&rec);
}

/* ---- the file ------------------------------------------------------------------------------- */

static void host_name(char *host, size_t cap) {
    if (gethostname(host, cap - 1) != 0 || !host[0]) snprintf(host, cap, "localhost");
    host[cap - 1] = '\0';
}

/* A file named for this second or the next exists already (a session started in the same second):
 * the writer takes the next free name and leaves the existing file alone. */
TEST(an_events_file_never_reuses_an_existing_name) {
    char dir[64], host[256], name[512];
    if (!cli_scratch_new(dir)) return;
    host_name(host, sizeof host);
    long long now = (long long)time(NULL);
    for (int s = 0; s < 2; s++) {
        snprintf(name, sizeof name, "%s/" GT_TFEVENTS_PREFIX "%lld.%s", dir, now + s, host);
        CHECK(cli_write_file(name, "old", 3));
    }
    gt_tfevents a, b;
    gt_error err;
    CHECK(gt_tfevents_open(&a, dir, &err) == 0);
    CHECK(gt_tfevents_open(&b, dir, &err) == 0);
    CHECK(strcmp(a.path, b.path) != 0);
    CHECK(strstr(a.path, host) && strrchr(a.path, '.')[1] >= '1' && strrchr(a.path, '.')[1] <= '9');
    for (int s = 0; s < 2; s++) {
        snprintf(name, sizeof name, "%s/" GT_TFEVENTS_PREFIX "%lld.%s", dir, now + s, host);
        CHECK(cli_has_bytes(name, "old", 3));
    }
    /* each new file holds the file_version record: 12 bytes, the event (wall_time: 9 bytes,
     * then 1a 0d "brain.Event:2"), 4 bytes */
    size_t len;
    unsigned char *text = (unsigned char *)cli_read_file(a.path, &len);
    CHECK(text && len == 16 + 24 && text[0] == 24 && text[12] == 0x09 && text[21] == 0x1a &&
          memcmp(text + 23, GT_TFEVENTS_VERSION, 13) == 0);
    free(text);
    gt_tfevents_close(&a);
    gt_tfevents_close(&b);
    gt_tfevents_close(&b); /* twice is harmless */
    cli_scratch_remove(dir);
}

static bool says(const gt_error *e, const char *text) {
    bool ok = strstr(e->msg, text) != NULL;
    if (!ok) fprintf(stderr, "  message: %s\n  expected it to name: %s\n", e->msg, text);
    return ok;
}

/* Failures name the file: a folder that is missing, a full disk, a grid that is no PNG. */
TEST(errors_name_the_events_file_and_the_cause) {
    char dir[64];
    if (!cli_scratch_new(dir)) return;
    gt_error err;
    gt_tfevents w;
    const char *missing = cli_path(dir, "missing");
    CHECK(gt_tfevents_open(&w, missing, &err) == -1 && says(&err, missing) &&
          says(&err, "does not exist"));
    CHECK(gt_tfevents_open(&w, dir, &err) == 0);
    int fd = w.fd;
    w.fd = open("/dev/full", O_WRONLY);
    gt_pb summary;
    gt_pb_init(&summary);
    gt_tf_summary_scalar(&summary, "loss/d_loss", 1.0f);
    if (w.fd >= 0)
        CHECK(gt_tfevents_write_summary(&w, 1, &summary, &err) == -1 && says(&err, w.path) &&
              says(&err, "disk is full"));
    gt_pb_free(&summary);
    gt_tfevents_close(&w);
    close(fd);
    /* the train layer: run_dir/tb cannot be made; a sample grid that is not a PNG */
    const char *blocked = cli_path(dir, "blocked");
    CHECK(cli_mkdir(blocked) && cli_write_file(cli_path(blocked, "tb"), "x", 1));
    CHECK(gt_tensorboard_open(blocked, &err) == NULL && says(&err, "tb"));
    gt_tensorboard *tb = gt_tensorboard_open(dir, &err);
    CHECK(tb != NULL);
    const char *fake = cli_path(dir, "fake.png");
    CHECK(cli_write_file(fake, "not a png at all, but long enough to hold a header", 50));
    if (tb) {
        CHECK(gt_tensorboard_log_png(tb, 1, fake, &err) == -1 && says(&err, fake));
        CHECK(gt_tensorboard_log_png(tb, 1, cli_path(dir, "none.png"), &err) == -1 &&
              says(&err, "none.png"));
        CHECK(gt_tensorboard_log_metrics(tb, "{\"d_loss\": 1}", &err) == -1 && says(&err, "step"));
    }
    gt_tensorboard_close(tb);
    cli_scratch_remove(dir);
}

TEST(metric_names_map_to_the_documented_groups) {
    static const struct { const char *name; bool eval; const char *tag; } cases[] = {
        {"d_loss", false, "loss/d_loss"},        {"g_loss", false, "loss/g_loss"},
        {"penalty", false, "loss/penalty"},      {"pl_penalty", false, "loss/pl_penalty"},
        {"d_grad_norm", false, "grad/d_grad_norm"}, {"g_grad_norm", false, "grad/g_grad_norm"},
        {"d_real", false, "d/d_real"},           {"d_acc_fake", false, "d/d_acc_fake"},
        {"lr_g", false, "run/lr_g"},             {"images_per_s", false, "run/images_per_s"},
        {"elapsed_s", false, "run/elapsed_s"},   {"noise_sigma", false, "trick/noise_sigma"},
        {"augment_p", false, "trick/augment_p"}, {"overfit", false, "trick/overfit"},
        {"d_train_real", false, "trick/d_train_real"}, {"alpha", false, "trick/alpha"},
        {"fid", true, "eval/fid"},               {"eval_n", true, "eval/eval_n"},
        {"modes_covered", true, "eval/modes_covered"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[64];
        const char *tag = gt_tensorboard_tag(cases[i].name, cases[i].eval, buf, sizeof buf);
        if (strcmp(tag, cases[i].tag) != 0)
            fprintf(stderr, "  %s -> %s, expected %s\n", cases[i].name, tag, cases[i].tag);
        CHECK(strcmp(tag, cases[i].tag) == 0);
    }
}

/* Every line must parse for its numbers to reach TensorBoard: a score that came out NaN or
 * infinite (an evaluation's FID, say) is written null, not "nan". */
TEST(non_finite_numbers_are_written_as_json_null) {
    char buf[32];
    CHECK(strcmp(gt_run_json_number(buf, NAN), "null") == 0);
    CHECK(strcmp(gt_run_json_number(buf, -INFINITY), "null") == 0);
    CHECK(strcmp(gt_run_json_number(buf, 1.5), "1.5") == 0);
    CHECK(strcmp(gt_run_json_number(buf, 1234567.0), "1.23457e+06") == 0);
}

/* ---- the independent reader ----------------------------------------------------------------- */

/* Runs the reader on a run folder; true when it found everything as it should be. A missing
 * protoc or Python protobuf module skips the case (CI installs both). */
static bool reader_agrees(const char *run, int files) {
    if (access(PYTHON, X_OK) != 0) {
        TEST_SKIP("needs %s with python3-protobuf and protoc (apt-get install python3-protobuf "
                  "protobuf-compiler)", PYTHON);
        return false;
    }
    char cmd[1024], out[8192] = "";
    snprintf(cmd, sizeof cmd, PYTHON " " READER " '%s' %d 2>&1", run, files);
    FILE *p = popen(cmd, "r");
    if (!p) {
        CHECK(p != NULL);
        return false;
    }
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (code == 77) {
        TEST_SKIP("%s", out);
        return false;
    }
    if (code != 0) fprintf(stderr, "  %s\n%s", cmd, out);
    CHECK(code == 0 && strstr(out, "ok: "));
    return code == 0;
}

/* A run folder written through the library, without training: a line of every group, an
 * evaluation line, a warning (no number), a null, and an RGB grid. */
TEST(the_reader_finds_every_number_of_a_metrics_line_and_an_rgb_grid) {
    char dir[64];
    if (!cli_scratch_new(dir)) return;
    gt_error err;
    const char *samples = cli_path(dir, "samples");
    CHECK(cli_mkdir(samples));
    gt_tensorboard *tb = gt_tensorboard_open(dir, &err);
    CHECK(tb != NULL);
    if (!tb) return;
    static const char *const lines[] = {
        "{\"step\": 3, \"d_loss\": 0.5, \"g_loss\": 1e-7, \"penalty\": null, \"d_grad_norm\": 3.25, "
        "\"d_real\": -0.125, \"lr_g\": 0.0002, \"noise_sigma\": 0.1, \"resolution\": 16, "
        "\"images\": 123456789, \"elapsed_s\": 1.5}",
        "{\"step\": 3, \"eval_n\": 2500, \"modes_covered\": 7, \"reverse_kl\": 0.0123}",
        "{\"step\": 4, \"warning\": \"D overpowers G\"}",
        "{\"step\": 5, \"g_loss\": -3.4e+38, \"overfit\": 0.3333333}",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        CHECK(gt_run_append_metrics(dir, tb, lines[i], &err) == 0);
    float x[2 * 3 * 4 * 5];
    for (int i = 0; i < 2 * 3 * 4 * 5; i++) x[i] = (float)(i % 7) / 3.0f - 1.0f;
    const char *grid = cli_path(samples, "step-000005.png");
    CHECK(gt_png_write_grid(grid, x, 2, 3, 4, 5, 2, &err) == 0);
    CHECK(gt_tensorboard_log_png(tb, 5, grid, &err) == 0);
    CHECK(gt_tensorboard_log_png(tb, 5, grid, &err) == 0); /* the same step again: logged once */
    gt_tensorboard_close(tb);
    reader_agrees(dir, 1);
    cli_scratch_remove(dir);
}

static void tensorboard_run(cli_args *a, const char *run, const char *steps) {
    cli_args_tiny_ring(a, run);
    cli_args_add(a, steps, "train.tensorboard=true", "train.log_every=3", "train.eval_every=6",
                 "train.sample_every=6", "noise.sigma=0.1", "penalty.r1=1", NULL);
}

static char *only_events_file(const char *run) {
    char tb[600], cmd[700];
    snprintf(tb, sizeof tb, "%s/tb", run);
    snprintf(cmd, sizeof cmd, "ls '%s'", tb);
    FILE *p = popen(cmd, "r");
    char name[400] = "";
    if (p && !fgets(name, sizeof name, p)) name[0] = '\0';
    if (p) pclose(p);
    name[strcspn(name, "\n")] = '\0';
    if (!name[0]) return NULL;
    char *path = malloc(strlen(tb) + strlen(name) + 2);
    if (path) sprintf(path, "%s/%s", tb, name);
    return path;
}

/* A trained run with train.tensorboard = true: the reader finds every number of metrics.jsonl
 * (losses, gradients, D's readings, the tricks' values, evaluations) and every sample grid; a
 * resume adds a second file and the first keeps every byte. */
TEST(a_run_logs_metrics_and_grids_and_a_resume_adds_a_file) {
    char dir[64];
    if (!cli_scratch_new(dir)) return;
    const char *run = cli_path(dir, "run");
    cli_args a;
    tensorboard_run(&a, run, "train.steps=12");
    CHECK(cli_run_ok(&a));
    CHECK(cli_count_names(cli_path(run, "tb"), GT_TFEVENTS_PREFIX) == 1);
    if (!reader_agrees(run, 1)) {
        cli_scratch_remove(dir);
        return;
    }
    char *first = only_events_file(run);
    size_t len = 0;
    char *before = first ? cli_read_file(first, &len) : NULL;
    CHECK(before != NULL);
    cli_args r;
    cli_args_init(&r);
    cli_args_add(&r, "train", "--resume", run, "--quiet", "train.steps=24", NULL);
    CHECK(cli_run_ok(&r));
    CHECK(cli_count_names(cli_path(run, "tb"), GT_TFEVENTS_PREFIX) == 2);
    CHECK(first && before && cli_has_bytes(first, before, len));
    reader_agrees(run, 2);
    free(first);
    free(before);
    cli_scratch_remove(dir);
}

/* Off by default: no tb folder. */
TEST(without_the_key_no_events_file_is_written) {
    char dir[64];
    if (!cli_scratch_new(dir)) return;
    const char *run = cli_path(dir, "run");
    cli_args a;
    cli_args_tiny_ring(&a, run);
    cli_args_add(&a, "train.steps=3", "train.eval_every=0", NULL);
    CHECK(cli_run_ok(&a));
    CHECK(cli_exists(cli_path(run, "metrics.jsonl")) && !cli_exists(cli_path(run, "tb")));
    cli_scratch_remove(dir);
}

/* RUNDIR/tb taken by a file: the run refuses to start, naming it. */
TEST(a_run_whose_tb_folder_cannot_be_made_fails_naming_it) {
    char dir[64];
    if (!cli_scratch_new(dir)) return;
    const char *run = cli_path(dir, "run");
    CHECK(cli_mkdir(run) && cli_write_file(cli_path(run, "tb"), "x", 1));
    cli_args a;
    tensorboard_run(&a, run, "train.steps=3");
    cli_run_fails_saying(&a, cli_path(run, "tb"), "not a folder", NULL);
    cli_scratch_remove(dir);
}

int main(void) {
    RUN_TESTS(T(crc32c_matches_the_published_check_values),
              T(crc32c_mask_rotates_by_15_and_adds_the_constant),
              T(the_wire_writer_encodes_keys_varints_fixed_and_length_delimited_fields),
              T(a_scalar_event_has_the_bytes_of_event_and_summary_proto),
              T(image_and_file_version_events_have_the_bytes_of_the_protos),
              T(a_record_is_framed_with_its_length_and_two_masked_crcs),
              T(an_events_file_never_reuses_an_existing_name),
              T(errors_name_the_events_file_and_the_cause),
              T(metric_names_map_to_the_documented_groups),
              T(non_finite_numbers_are_written_as_json_null),
              T(the_reader_finds_every_number_of_a_metrics_line_and_an_rgb_grid),
              T(a_run_logs_metrics_and_grids_and_a_resume_adds_a_file),
              T(without_the_key_no_events_file_is_written),
              T(a_run_whose_tb_folder_cannot_be_made_fails_naming_it));
}
