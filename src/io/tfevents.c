/* TensorFlow event files (tfevents.h): the Event and Summary messages in the wire format, the
 * record framing with masked CRC-32C, and a file that only ever grows by whole records. */
#include "io/tfevents.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "io/crc32c.h"

/* Field numbers of tensorflow/core/util/event.proto and tensorflow/core/framework/summary.proto
 * (the same in tensorboard/compat/proto); the .proto files of tests/tensorboard/ repeat them
 * for the reader that checks these files. */
enum {
    EVENT_WALL_TIME = 1,      /* double */
    EVENT_STEP = 2,           /* int64 */
    EVENT_FILE_VERSION = 3,   /* string (oneof what) */
    EVENT_SUMMARY = 5,        /* Summary (oneof what) */
    SUMMARY_VALUE = 1,        /* repeated Summary.Value */
    VALUE_TAG = 1,            /* string */
    VALUE_SIMPLE_VALUE = 2,   /* float (oneof value) */
    VALUE_IMAGE = 4,          /* Summary.Image (oneof value) */
    IMAGE_HEIGHT = 1,         /* int32 */
    IMAGE_WIDTH = 2,          /* int32 */
    IMAGE_COLORSPACE = 3,     /* int32 */
    IMAGE_ENCODED = 4,        /* bytes: the PNG file */
};

/* ---- the messages ---------------------------------------------------------------------- */

void gt_tf_summary_scalar(gt_pb *summary, const char *tag, float value) {
    gt_pb v;
    gt_pb_init(&v);
    gt_pb_string(&v, VALUE_TAG, tag);
    gt_pb_float(&v, VALUE_SIMPLE_VALUE, value);
    gt_pb_message(summary, SUMMARY_VALUE, &v);
    gt_pb_free(&v);
}

void gt_tf_summary_image(gt_pb *summary, const char *tag, int height, int width, int colorspace,
                         const void *png, size_t png_len) {
    gt_pb img, v;
    gt_pb_init(&img);
    gt_pb_init(&v);
    gt_pb_varint(&img, IMAGE_HEIGHT, (uint64_t)height);
    gt_pb_varint(&img, IMAGE_WIDTH, (uint64_t)width);
    gt_pb_varint(&img, IMAGE_COLORSPACE, (uint64_t)colorspace);
    gt_pb_bytes(&img, IMAGE_ENCODED, png, png_len);
    gt_pb_string(&v, VALUE_TAG, tag);
    gt_pb_message(&v, VALUE_IMAGE, &img);
    gt_pb_message(summary, SUMMARY_VALUE, &v);
    gt_pb_free(&img);
    gt_pb_free(&v);
}

void gt_tf_event_summary(gt_pb *ev, double wall_time, int64_t step, const gt_pb *summary) {
    gt_pb_double(ev, EVENT_WALL_TIME, wall_time);
    gt_pb_varint(ev, EVENT_STEP, (uint64_t)step);
    gt_pb_message(ev, EVENT_SUMMARY, summary);
}

void gt_tf_event_file_version(gt_pb *ev, double wall_time, const char *version) {
    gt_pb_double(ev, EVENT_WALL_TIME, wall_time);
    gt_pb_string(ev, EVENT_FILE_VERSION, version);
}

static void put_u32_le(gt_pb *out, uint32_t v) {
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    gt_pb_raw(out, b, sizeof b);
}

void gt_tfrecord_frame(gt_pb *out, const void *data, size_t n) {
    unsigned char len[8];
    for (int i = 0; i < 8; i++) len[i] = (unsigned char)((uint64_t)n >> (8 * i));
    gt_pb_raw(out, len, sizeof len);
    put_u32_le(out, gt_crc32c_mask(gt_crc32c(len, sizeof len)));
    gt_pb_raw(out, data, n);
    put_u32_le(out, gt_crc32c_mask(gt_crc32c(data, n)));
}

/* ---- the file -------------------------------------------------------------------------- */

static double wall_clock_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int write_failed(const gt_tfevents *w, int errnum, gt_error *err) {
    return gt_error_set(err, "cannot write the TensorBoard events file '%s': %s%s", w->path,
                        strerror(errnum), gt_errno_hint(errnum));
}

/* The event framed as one record, written with one write() (looping only on a short write). */
static int write_record(gt_tfevents *w, const gt_pb *ev, gt_error *err) {
    gt_pb rec;
    gt_pb_init(&rec);
    gt_tfrecord_frame(&rec, ev->data, ev->len);
    int rc = 0;
    if (ev->failed || rec.failed) {
        rc = gt_error_set(err, "cannot write the TensorBoard events file '%s': out of memory",
                          w->path);
    }
    for (size_t done = 0; rc == 0 && done < rec.len;) {
        ssize_t n = write(w->fd, rec.data + done, rec.len - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) rc = write_failed(w, n < 0 ? errno : EIO, err);
        else done += (size_t)n;
    }
    gt_pb_free(&rec);
    return rc;
}

/* dir/events.out.tfevents.<time>.<host>[.k], created exclusively: the first k (from 0, no
 * suffix) whose name is free. */
static int create_unique(gt_tfevents *w, const char *dir, gt_error *err) {
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) != 0 || !host[0]) snprintf(host, sizeof host, "localhost");
    long long now = (long long)time(NULL);
    for (int k = 0; k < 1000; k++) {
        char suffix[16] = "";
        if (k) snprintf(suffix, sizeof suffix, ".%d", k);
        if (snprintf(w->path, sizeof w->path, "%s/" GT_TFEVENTS_PREFIX "%lld.%s%s", dir, now, host,
                     suffix) >= (int)sizeof w->path)
            return gt_error_set(err, "%s: path too long for a TensorBoard events file", dir);
        w->fd = open(w->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (w->fd >= 0) return 0;
        if (errno != EEXIST)
            return gt_error_set(err, "cannot create the TensorBoard events file '%s': %s%s",
                                w->path, strerror(errno), gt_errno_hint(errno));
    }
    return gt_error_set(err, "cannot create a TensorBoard events file in '%s': 1,000 files of this "
                        "second (%s) exist", dir, w->path);
}

int gt_tfevents_open(gt_tfevents *w, const char *dir, gt_error *err) {
    w->fd = -1;
    if (create_unique(w, dir, err) < 0) return -1;
    gt_pb ev;
    gt_pb_init(&ev);
    gt_tf_event_file_version(&ev, wall_clock_s(), GT_TFEVENTS_VERSION);
    int rc = write_record(w, &ev, err);
    gt_pb_free(&ev);
    if (rc < 0) gt_tfevents_close(w);
    return rc;
}

int gt_tfevents_write_summary(gt_tfevents *w, int64_t step, const gt_pb *summary, gt_error *err) {
    gt_pb ev;
    gt_pb_init(&ev);
    gt_tf_event_summary(&ev, wall_clock_s(), step, summary);
    int rc = write_record(w, &ev, err);
    gt_pb_free(&ev);
    return rc;
}

void gt_tfevents_close(gt_tfevents *w) {
    if (w->fd >= 0) close(w->fd);
    w->fd = -1;
}
