/* The protocol buffer wire format (protowire.h): keys, varints, fixed-width little-endian
 * numbers and length-delimited fields appended to a growing buffer. */
#include "io/protowire.h"

#include <stdlib.h>
#include <string.h>

void gt_pb_init(gt_pb *b) { memset(b, 0, sizeof *b); }

void gt_pb_free(gt_pb *b) {
    free(b->data);
    gt_pb_init(b);
}

/* Room for n more bytes (doubling); false, marking the buffer failed, when memory runs out. */
static bool reserve(gt_pb *b, size_t n) {
    if (b->failed) return false;
    if (b->len + n <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + n) cap *= 2;
    unsigned char *bigger = realloc(b->data, cap);
    if (!bigger) {
        b->failed = true;
        return false;
    }
    b->data = bigger;
    b->cap = cap;
    return true;
}

void gt_pb_raw(gt_pb *b, const void *p, size_t n) {
    if (n == 0 || !reserve(b, n)) return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void gt_pb_put_varint(gt_pb *b, uint64_t v) {
    unsigned char buf[10];
    size_t n = 0;
    do {
        buf[n] = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (v) buf[n] |= 0x80;  /* more groups follow */
        n++;
    } while (v);
    gt_pb_raw(b, buf, n);
}

static void put_key(gt_pb *b, int field, int wire_type) {
    gt_pb_put_varint(b, (uint64_t)field << 3 | (uint64_t)wire_type);
}

/* The low `bytes` bytes of bits, least significant first. */
static void put_little_endian(gt_pb *b, uint64_t bits, int bytes) {
    unsigned char buf[8];
    for (int i = 0; i < bytes; i++) buf[i] = (unsigned char)(bits >> (8 * i));
    gt_pb_raw(b, buf, (size_t)bytes);
}

void gt_pb_varint(gt_pb *b, int field, uint64_t v) {
    put_key(b, field, GT_PB_VARINT);
    gt_pb_put_varint(b, v);
}

void gt_pb_double(gt_pb *b, int field, double v) {
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    put_key(b, field, GT_PB_FIXED64);
    put_little_endian(b, bits, 8);
}

void gt_pb_float(gt_pb *b, int field, float v) {
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    put_key(b, field, GT_PB_FIXED32);
    put_little_endian(b, bits, 4);
}

void gt_pb_bytes(gt_pb *b, int field, const void *p, size_t n) {
    put_key(b, field, GT_PB_LEN);
    gt_pb_put_varint(b, n);
    gt_pb_raw(b, p, n);
}

void gt_pb_string(gt_pb *b, int field, const char *s) { gt_pb_bytes(b, field, s, strlen(s)); }

void gt_pb_message(gt_pb *b, int field, const gt_pb *sub) {
    if (sub->failed) b->failed = true;
    gt_pb_bytes(b, field, sub->data, sub->len);
}
