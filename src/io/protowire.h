/* A small writer of the protocol buffer wire format, enough to encode messages whose schema the
 * caller knows (TensorBoard's Event and Summary): each field is a key (field number << 3 | wire
 * type) as a varint, then its value: a varint (type 0), 8 little-endian bytes (type 1), a length
 * and bytes (type 2: strings, bytes and embedded messages) or 4 little-endian bytes (type 5).
 * Messages are built into a growing buffer; running out of memory marks it failed and makes
 * every later write a no-op, so callers check once at the end. */
#ifndef GT_IO_PROTOWIRE_H
#define GT_IO_PROTOWIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct gt_pb {
    unsigned char *data;
    size_t len, cap;
    bool failed;  /* an allocation failed: data is incomplete */
} gt_pb;

enum { GT_PB_VARINT = 0, GT_PB_FIXED64 = 1, GT_PB_LEN = 2, GT_PB_FIXED32 = 5 };

void gt_pb_init(gt_pb *b);
void gt_pb_free(gt_pb *b);
/* Appends raw bytes (no key): for framing around messages. */
void gt_pb_raw(gt_pb *b, const void *p, size_t n);
/* v as a base-128 varint, low groups first (1 to 10 bytes), no key. */
void gt_pb_put_varint(gt_pb *b, uint64_t v);
/* int32, int64, uint64, bool, enum fields (negative values take 10 bytes, two's complement). */
void gt_pb_varint(gt_pb *b, int field, uint64_t v);
/* double fields: the IEEE 754 bits, little endian. */
void gt_pb_double(gt_pb *b, int field, double v);
/* float fields: the IEEE 754 bits, little endian. */
void gt_pb_float(gt_pb *b, int field, float v);
/* bytes fields: length then the bytes. */
void gt_pb_bytes(gt_pb *b, int field, const void *p, size_t n);
/* string fields (UTF-8, without the NUL). */
void gt_pb_string(gt_pb *b, int field, const char *s);
/* An embedded message: the encoding of sub as a length-delimited field. */
void gt_pb_message(gt_pb *b, int field, const gt_pb *sub);

#endif
