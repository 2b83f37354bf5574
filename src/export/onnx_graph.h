/* An ONNX graph under construction, over the messages protobuf-c generates from onnx.proto:
 * values are handles (gt_sym) with a name and a static shape whose first axis is the batch
 * (dynamic, "N", written -1); nodes, initializers, inputs and outputs are appended in order
 * and the whole model is packed and written atomically at the end. Every allocation belongs to
 * the graph and goes with ox_graph_free. The first error (a bad value, a failed write) is kept
 * in the graph's gt_error, and every later call returns -1 without doing anything. */
#ifndef GT_EXPORT_ONNX_GRAPH_H
#define GT_EXPORT_ONNX_GRAPH_H

#include <stdbool.h>
#include <stdint.h>

#include "gantry.h"
#include "onnx.pb-c.h"

/* The opset gantry writes: ONNX Runtime (1.20) and Debian 12's onnx 1.12 checker both take it,
 * and it has LayerNormalization. IR version 8 is the one onnx 1.12 writes for it. */
#define OX_OPSET 17
#define OX_IR_VERSION 8
#define OX_MAX_DIMS 6
#define OX_BATCH (-1)     /* the dynamic batch axis in a shape */
#define OX_EMPTY 0        /* the handle of an omitted optional input ("") */

typedef int gt_sym;
typedef struct ox_graph ox_graph;

typedef struct {
    int ndim;
    int64_t d[OX_MAX_DIMS];  /* d[0] = OX_BATCH for batched values */
} ox_shape;

ox_graph *ox_graph_new(gt_error *err);
void ox_graph_free(ox_graph *g);
/* Records the first error (formatted) and returns -1. */
gt_sym ox_fail(ox_graph *g, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
bool ox_failed(const ox_graph *g);
ox_shape ox_shape_of(const ox_graph *g, gt_sym v);
ox_shape ox_shape_make(int ndim, const int64_t *d);

/* A float32 initializer of the given shape (data copied); the name is made unique. */
gt_sym ox_init_f32(ox_graph *g, const char *name, ox_shape s, const float *data);
gt_sym ox_init_i64(ox_graph *g, const char *name, int64_t n, const int64_t *v);  /* 1-D */
gt_sym ox_scalar(ox_graph *g, float v);   /* a 0-d float32 constant */

/* Attributes of a node. */
Onnx__AttributeProto *ox_attr_int(ox_graph *g, const char *name, int64_t v);
Onnx__AttributeProto *ox_attr_ints(ox_graph *g, const char *name, int n, const int64_t *v);
Onnx__AttributeProto *ox_attr_float(ox_graph *g, const char *name, float v);
Onnx__AttributeProto *ox_attr_string(ox_graph *g, const char *name, const char *v);

/* A node of operator `op` on n_in inputs (OX_EMPTY for an omitted one) with n_attr attributes;
 * returns its one output, which has shape `out`. */
gt_sym ox_node(ox_graph *g, const char *op, int n_in, const gt_sym *in, int n_attr,
               Onnx__AttributeProto *const *attr, ox_shape out);
#define OX_IN(...) (int)(sizeof((gt_sym[]){__VA_ARGS__}) / sizeof(gt_sym)), (gt_sym[]){__VA_ARGS__}
#define OX_ATTR(...)                                                                           \
    (int)(sizeof((Onnx__AttributeProto *[]){__VA_ARGS__}) / sizeof(Onnx__AttributeProto *)), \
        (Onnx__AttributeProto *[]){__VA_ARGS__}
#define OX_NO_ATTR 0, NULL

/* A graph input of element type ONNX__TENSOR_PROTO__DATA_TYPE__* (OX_BATCH axes named "N"). */
gt_sym ox_input(ox_graph *g, const char *name, int elem_type, ox_shape s);
/* Names the value v as a float32 graph output (through an Identity node). */
void ox_output(ox_graph *g, const char *name, gt_sym v);
/* Packs the model (opset OX_OPSET, IR OX_IR_VERSION, doc as its doc_string) and writes it to
 * path atomically. -1 with the graph's error set on failure. */
int ox_graph_write(ox_graph *g, const char *path, const char *doc);

#endif
