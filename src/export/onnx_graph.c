/* The ONNX graph builder (onnx_graph.h): protobuf-c messages allocated as the graph grows, each
 * allocation recorded so that ox_graph_free releases them all; values are names with shapes. */
#include "export/onnx_graph.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/atomic.h"

typedef struct { char *name; ox_shape shape; } ox_value;

struct ox_graph {
    gt_error *err;
    bool failed;
    ox_value *values;                 /* by handle; values[0] is the empty name */
    int n_values, cap_values;
    Onnx__NodeProto **nodes;
    size_t n_nodes, cap_nodes;
    Onnx__TensorProto **inits;
    size_t n_inits, cap_inits;
    Onnx__ValueInfoProto **inputs, **outputs;
    size_t n_inputs, cap_inputs, n_outputs, cap_outputs;
    void **owned;                     /* every allocation of the graph */
    size_t n_owned, cap_owned;
};

/* Grows *items (of `size` bytes each) to hold one more; false when memory runs out. */
static bool grow(void **items, size_t *cap, size_t n, size_t size) {
    if (n < *cap) return true;
    size_t next = *cap ? 2 * *cap : 16;
    void *p = realloc(*items, next * size);
    if (!p) return false;
    *items = p;
    *cap = next;
    return true;
}

/* A zeroed block owned by the graph (NULL after an error). */
static void *ox_alloc(ox_graph *g, size_t size) {
    if (g->failed) return NULL;
    void *p = calloc(1, size ? size : 1);
    if (!p || !grow((void **)&g->owned, &g->cap_owned, g->n_owned, sizeof *g->owned)) {
        free(p);
        ox_fail(g, "out of memory while building the ONNX graph");
        return NULL;
    }
    g->owned[g->n_owned++] = p;
    return p;
}

static char *ox_strdup(ox_graph *g, const char *s) {
    char *p = ox_alloc(g, strlen(s) + 1);
    if (p) strcpy(p, s);
    return p;
}

gt_sym ox_fail(ox_graph *g, const char *fmt, ...) {
    if (!g->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(g->err->msg, sizeof g->err->msg, fmt, ap);
        va_end(ap);
        g->failed = true;
    }
    return -1;
}

bool ox_failed(const ox_graph *g) { return g->failed; }

ox_graph *ox_graph_new(gt_error *err) {
    ox_graph *g = calloc(1, sizeof *g);
    if (!g) {
        gt_error_set(err, "out of memory while building the ONNX graph");
        return NULL;
    }
    g->err = err;
    g->values = calloc(16, sizeof *g->values);
    g->cap_values = 16;
    if (!g->values) {
        free(g);
        gt_error_set(err, "out of memory while building the ONNX graph");
        return NULL;
    }
    g->values[0].name = "";
    g->n_values = 1;
    return g;
}

void ox_graph_free(ox_graph *g) {
    if (!g) return;
    for (size_t i = 0; i < g->n_owned; i++) free(g->owned[i]);
    free(g->owned);
    free(g->values);
    free(g->nodes);
    free(g->inits);
    free(g->inputs);
    free(g->outputs);
    free(g);
}

ox_shape ox_shape_make(int ndim, const int64_t *d) {
    ox_shape s = {.ndim = ndim};
    for (int i = 0; i < ndim && i < OX_MAX_DIMS; i++) s.d[i] = d[i];
    return s;
}

ox_shape ox_shape_of(const ox_graph *g, gt_sym v) {
    ox_shape none = {0};
    return v > 0 && v < g->n_values ? g->values[v].shape : none;
}

static bool name_taken(const ox_graph *g, const char *name) {
    for (int i = 1; i < g->n_values; i++)
        if (strcmp(g->values[i].name, name) == 0) return true;
    return false;
}

/* A new value named `base` (made unique with a suffix when taken). */
static gt_sym new_value(ox_graph *g, const char *base, ox_shape s) {
    if (g->failed) return -1;
    if (s.ndim > OX_MAX_DIMS) return ox_fail(g, "ONNX export: value '%s' has %d dimensions", base, s.ndim);
    char name[160];
    snprintf(name, sizeof name, "%s", base);
    for (int k = g->n_values; name_taken(g, name); k++) snprintf(name, sizeof name, "%s_%d", base, k);
    size_t cap = (size_t)g->cap_values;
    if (!grow((void **)&g->values, &cap, (size_t)g->n_values, sizeof *g->values))
        return ox_fail(g, "out of memory while building the ONNX graph");
    g->cap_values = (int)cap;
    char *copy = ox_strdup(g, name);
    if (!copy) return -1;
    g->values[g->n_values] = (ox_value){copy, s};
    return g->n_values++;
}

static bool valid(const ox_graph *g, gt_sym v) { return v >= 0 && v < g->n_values; }

/* ---- initializers ---- */

static gt_sym add_initializer(ox_graph *g, const char *name, ox_shape s, int type, const void *data,
                              size_t bytes) {
    gt_sym v = new_value(g, name, s);
    Onnx__TensorProto *t = ox_alloc(g, sizeof *t);
    int64_t *dims = ox_alloc(g, (size_t)s.ndim * sizeof *dims);
    uint8_t *raw = ox_alloc(g, bytes);
    if (v < 0 || !t || !dims || !raw) return -1;
    if (!grow((void **)&g->inits, &g->cap_inits, g->n_inits, sizeof *g->inits))
        return ox_fail(g, "out of memory while building the ONNX graph");
    onnx__tensor_proto__init(t);
    memcpy(dims, s.d, (size_t)s.ndim * sizeof *dims);
    memcpy(raw, data, bytes);   /* raw_data is little-endian, as x86 and ARM store it */
    t->n_dims = (size_t)s.ndim;
    t->dims = dims;
    t->has_data_type = 1;
    t->data_type = type;
    t->name = g->values[v].name;
    t->has_raw_data = 1;
    t->raw_data.len = bytes;
    t->raw_data.data = raw;
    g->inits[g->n_inits++] = t;
    return v;
}

gt_sym ox_init_f32(ox_graph *g, const char *name, ox_shape s, const float *data) {
    size_t n = 1;
    for (int i = 0; i < s.ndim; i++) n *= (size_t)s.d[i];
    return add_initializer(g, name, s, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, data, n * sizeof *data);
}

gt_sym ox_init_i64(ox_graph *g, const char *name, int64_t n, const int64_t *v) {
    ox_shape s = {.ndim = 1, .d = {n}};
    return add_initializer(g, name, s, ONNX__TENSOR_PROTO__DATA_TYPE__INT64, v, (size_t)n * sizeof *v);
}

gt_sym ox_scalar(ox_graph *g, float v) {
    ox_shape s = {.ndim = 0};
    char name[32];
    snprintf(name, sizeof name, "const_%.9g", (double)v);
    return add_initializer(g, name, s, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, &v, sizeof v);
}

/* ---- attributes ---- */

static Onnx__AttributeProto *new_attr(ox_graph *g, const char *name, Onnx__AttributeProto__AttributeType type) {
    Onnx__AttributeProto *a = ox_alloc(g, sizeof *a);
    char *copy = ox_strdup(g, name);
    if (!a || !copy) return NULL;
    onnx__attribute_proto__init(a);
    a->name = copy;
    a->has_type = 1;
    a->type = type;
    return a;
}

Onnx__AttributeProto *ox_attr_int(ox_graph *g, const char *name, int64_t v) {
    Onnx__AttributeProto *a = new_attr(g, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    if (a) a->has_i = 1, a->i = v;
    return a;
}

Onnx__AttributeProto *ox_attr_ints(ox_graph *g, const char *name, int n, const int64_t *v) {
    Onnx__AttributeProto *a = new_attr(g, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    int64_t *copy = ox_alloc(g, (size_t)n * sizeof *copy);
    if (!a || !copy) return NULL;
    memcpy(copy, v, (size_t)n * sizeof *copy);
    a->n_ints = (size_t)n;
    a->ints = copy;
    return a;
}

Onnx__AttributeProto *ox_attr_float(ox_graph *g, const char *name, float v) {
    Onnx__AttributeProto *a = new_attr(g, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    if (a) a->has_f = 1, a->f = v;
    return a;
}

Onnx__AttributeProto *ox_attr_string(ox_graph *g, const char *name, const char *v) {
    Onnx__AttributeProto *a = new_attr(g, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    char *copy = ox_strdup(g, v);
    if (!a || !copy) return NULL;
    a->has_s = 1;
    a->s.len = strlen(copy);
    a->s.data = (uint8_t *)copy;
    return a;
}

/* ---- nodes ---- */

static gt_sym add_node(ox_graph *g, const char *op, int n_in, const gt_sym *in, int n_attr,
                       Onnx__AttributeProto *const *attr, const char *out_name, ox_shape out) {
    if (g->failed) return -1;
    for (int i = 0; i < n_in; i++)
        if (!valid(g, in[i])) return ox_fail(g, "ONNX export: %s node given an invalid value", op);
    for (int i = 0; i < n_attr; i++)
        if (!attr[i]) return -1;
    char base[64];
    snprintf(base, sizeof base, "%s%zu", out_name ? out_name : op, out_name ? (size_t)0 : g->n_nodes);
    gt_sym v = new_value(g, out_name ? out_name : base, out);
    Onnx__NodeProto *node = ox_alloc(g, sizeof *node);
    char **inputs = ox_alloc(g, (size_t)n_in * sizeof *inputs);
    char **outputs = ox_alloc(g, sizeof *outputs);
    Onnx__AttributeProto **attrs = ox_alloc(g, (size_t)n_attr * sizeof *attrs);
    char *op_copy = ox_strdup(g, op);
    if (v < 0 || !node || !inputs || !outputs || !attrs || !op_copy) return -1;
    if (!grow((void **)&g->nodes, &g->cap_nodes, g->n_nodes, sizeof *g->nodes))
        return ox_fail(g, "out of memory while building the ONNX graph");
    onnx__node_proto__init(node);
    for (int i = 0; i < n_in; i++) inputs[i] = g->values[in[i]].name;
    outputs[0] = g->values[v].name;
    for (int i = 0; i < n_attr; i++) attrs[i] = attr[i];
    node->n_input = (size_t)n_in;
    node->input = inputs;
    node->n_output = 1;
    node->output = outputs;
    node->name = g->values[v].name;
    node->op_type = op_copy;
    node->n_attribute = (size_t)n_attr;
    node->attribute = attrs;
    g->nodes[g->n_nodes++] = node;
    return v;
}

gt_sym ox_node(ox_graph *g, const char *op, int n_in, const gt_sym *in, int n_attr,
               Onnx__AttributeProto *const *attr, ox_shape out) {
    return add_node(g, op, n_in, in, n_attr, attr, NULL, out);
}

/* ---- inputs and outputs ---- */

static Onnx__ValueInfoProto *value_info(ox_graph *g, const char *name, int elem_type, ox_shape s) {
    Onnx__ValueInfoProto *vi = ox_alloc(g, sizeof *vi);
    Onnx__TypeProto *type = ox_alloc(g, sizeof *type);
    Onnx__TypeProto__Tensor *tensor = ox_alloc(g, sizeof *tensor);
    Onnx__TensorShapeProto *shape = ox_alloc(g, sizeof *shape);
    Onnx__TensorShapeProto__Dimension **dims = ox_alloc(g, (size_t)s.ndim * sizeof *dims);
    if (!vi || !type || !tensor || !shape || !dims) return NULL;
    for (int i = 0; i < s.ndim; i++) {
        dims[i] = ox_alloc(g, sizeof *dims[i]);
        if (!dims[i]) return NULL;
        onnx__tensor_shape_proto__dimension__init(dims[i]);
        if (s.d[i] == OX_BATCH) {
            dims[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            dims[i]->dim_param = "N";
        } else {
            dims[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            dims[i]->dim_value = s.d[i];
        }
    }
    onnx__tensor_shape_proto__init(shape);
    shape->n_dim = (size_t)s.ndim;
    shape->dim = dims;
    onnx__type_proto__tensor__init(tensor);
    tensor->has_elem_type = 1;
    tensor->elem_type = elem_type;
    tensor->shape = shape;
    onnx__type_proto__init(type);
    type->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    type->tensor_type = tensor;
    onnx__value_info_proto__init(vi);
    vi->name = ox_strdup(g, name);
    vi->type = type;
    return vi->name ? vi : NULL;
}

gt_sym ox_input(ox_graph *g, const char *name, int elem_type, ox_shape s) {
    if (g->failed) return -1;
    if (name_taken(g, name)) return ox_fail(g, "ONNX export: input '%s' declared twice", name);
    gt_sym v = new_value(g, name, s);
    Onnx__ValueInfoProto *vi = value_info(g, name, elem_type, s);
    if (v < 0 || !vi) return -1;
    if (!grow((void **)&g->inputs, &g->cap_inputs, g->n_inputs, sizeof *g->inputs))
        return ox_fail(g, "out of memory while building the ONNX graph");
    g->inputs[g->n_inputs++] = vi;
    return v;
}

void ox_output(ox_graph *g, const char *name, gt_sym v) {
    if (g->failed) return;
    ox_shape s = ox_shape_of(g, v);
    gt_sym out = add_node(g, "Identity", 1, &v, 0, NULL, name, s);
    if (out < 0) return;
    if (strcmp(g->values[out].name, name) != 0) {
        ox_fail(g, "ONNX export: output name '%s' is taken", name);
        return;
    }
    Onnx__ValueInfoProto *vi = value_info(g, name, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, s);
    if (!vi) return;
    if (!grow((void **)&g->outputs, &g->cap_outputs, g->n_outputs, sizeof *g->outputs)) {
        ox_fail(g, "out of memory while building the ONNX graph");
        return;
    }
    g->outputs[g->n_outputs++] = vi;
}

/* ---- the model ---- */

int ox_graph_write(ox_graph *g, const char *path, const char *doc) {
    if (g->failed) return -1;
    Onnx__GraphProto graph = ONNX__GRAPH_PROTO__INIT;
    graph.name = "gantry_generator";
    graph.n_node = g->n_nodes;
    graph.node = g->nodes;
    graph.n_initializer = g->n_inits;
    graph.initializer = g->inits;
    graph.n_input = g->n_inputs;
    graph.input = g->inputs;
    graph.n_output = g->n_outputs;
    graph.output = g->outputs;
    Onnx__OperatorSetIdProto opset = ONNX__OPERATOR_SET_ID_PROTO__INIT;
    opset.domain = "";
    opset.has_version = 1;
    opset.version = OX_OPSET;
    Onnx__OperatorSetIdProto *opsets[1] = {&opset};
    Onnx__ModelProto model = ONNX__MODEL_PROTO__INIT;
    model.has_ir_version = 1;
    model.ir_version = OX_IR_VERSION;
    model.n_opset_import = 1;
    model.opset_import = opsets;
    model.producer_name = "gantry";
    model.producer_version = "0.1.0";
    model.doc_string = (char *)doc;
    model.graph = &graph;
    size_t size = onnx__model_proto__get_packed_size(&model);
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return ox_fail(g, "%s: out of memory for %zu bytes of ONNX", path, size);
    onnx__model_proto__pack(&model, buf);
    gt_atomic a;
    FILE *f = gt_atomic_open(path, &a, g->err);
    if (!f) {
        free(buf);
        g->failed = true;
        return -1;
    }
    fwrite(buf, 1, size, f);
    free(buf);
    if (gt_atomic_commit(&a, g->err) < 0) {
        g->failed = true;
        return -1;
    }
    return 0;
}
