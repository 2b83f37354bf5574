/* TensorFlow event files, as TensorBoard reads them: a sequence of records, each
 *   uint64 length (little endian) | uint32 masked CRC-32C of those 8 bytes |
 *   data (length bytes) | uint32 masked CRC-32C of the data,
 * whose data is one serialized tensorflow.Event. The first event holds file_version
 * "brain.Event:2"; the others a Summary of scalars (Summary.Value.simple_value) or images
 * (Summary.Image: PNG bytes, height, width, colorspace). The messages are encoded here with
 * the small wire-format writer of protowire.h (field numbers below), so the format needs no
 * protobuf library. */
#ifndef GT_IO_TFEVENTS_H
#define GT_IO_TFEVENTS_H

#include <stdint.h>

#include "gantry.h"
#include "io/atomic.h"
#include "io/protowire.h"

#define GT_TFEVENTS_VERSION "brain.Event:2"
#define GT_TFEVENTS_PREFIX "events.out.tfevents."

/* Summary.Image.colorspace: 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA. */
enum { GT_TF_GRAY = 1, GT_TF_GRAY_ALPHA = 2, GT_TF_RGB = 3, GT_TF_RGBA = 4 };

/* ---- the messages ---------------------------------------------------------------------- */

/* Appends a Summary.Value {tag, simple_value} to a Summary being built. */
void gt_tf_summary_scalar(gt_pb *summary, const char *tag, float value);
/* Appends a Summary.Value {tag, image {height, width, colorspace, encoded_image_string}}. */
void gt_tf_summary_image(gt_pb *summary, const char *tag, int height, int width, int colorspace,
                         const void *png, size_t png_len);
/* An Event {wall_time, step, summary} into ev (appended). */
void gt_tf_event_summary(gt_pb *ev, double wall_time, int64_t step, const gt_pb *summary);
/* An Event {wall_time, file_version} into ev (appended). */
void gt_tf_event_file_version(gt_pb *ev, double wall_time, const char *version);
/* Appends data framed as one record (length, masked CRCs) to out. */
void gt_tfrecord_frame(gt_pb *out, const void *data, size_t n);

/* ---- the file -------------------------------------------------------------------------- */

typedef struct gt_tfevents {
    int fd;                   /* -1: closed */
    char path[GT_PATH_MAX];
} gt_tfevents;

/* Creates dir/events.out.tfevents.<unix time>.<host name> (TensorFlow's naming), or, when a
 * file of that name exists (two sessions in one second), the same name followed by .1, .2, ...:
 * an existing file is never opened. Writes the file_version event. -1 with err naming the path
 * when the file cannot be made or written (dir must exist). */
int gt_tfevents_open(gt_tfevents *w, const char *dir, gt_error *err);
/* Appends the Event {now, step, summary} as one record with one write, so that the file holds
 * whole records once the call returns. */
int gt_tfevents_write_summary(gt_tfevents *w, int64_t step, const gt_pb *summary, gt_error *err);
/* Closes the file (a closed writer may be closed again). */
void gt_tfevents_close(gt_tfevents *w);

#endif
