/* ONNX model builder for tests; see onnx_build.h. */
#include "onnx_build.h"

#include <stdlib.h>
#include <string.h>

#define NEED(cond)                                                                                 \
    do {                                                                                           \
        if (!(cond)) abort();                                                                      \
    } while (0)

static char *keep(mb *b, const char *s) {
    NEED(b->nnames < 4 * MB_MAX);
    char *d = strdup(s);
    NEED(d);
    return b->names[b->nnames++] = d;
}

void mb_init(mb *b, int64_t opset) {
    for (size_t i = 0; i < b->nnames; i++)
        free(b->names[i]); /* the previous model's */
    memset(b, 0, sizeof *b);
    onnx__model_proto__init(&b->model);
    onnx__graph_proto__init(&b->graph);
    onnx__operator_set_id_proto__init(&b->opset);
    b->opset.has_version = 1;
    b->opset.version = opset;
    b->opsets[0] = &b->opset;
    b->model.has_ir_version = 1;
    b->model.ir_version = 7;
    b->model.n_opset_import = 1;
    b->model.opset_import = b->opsets;
    b->model.graph = &b->graph;
    b->graph.node = b->pnodes;
    b->graph.initializer = b->pinits;
    b->graph.input = b->pin;
    b->graph.output = b->pout;
}

static Onnx__ValueInfoProto *vinfo(mb *b, const char *name) {
    NEED(b->nvi < MB_MAX);
    Onnx__ValueInfoProto *v = &b->vi[b->nvi++];
    onnx__value_info_proto__init(v);
    v->name = keep(b, name);
    return v;
}

void mb_input(mb *b, const char *name, int elem_type, unsigned rank, const int64_t *dims) {
    Onnx__ValueInfoProto *v = vinfo(b, name);
    size_t k = b->nvi - 1;
    onnx__type_proto__init(&b->types[k]);
    onnx__type_proto__tensor__init(&b->ttypes[k]);
    onnx__tensor_shape_proto__init(&b->shapes[k]);
    b->types[k].value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    b->types[k].tensor_type = &b->ttypes[k];
    b->ttypes[k].has_elem_type = 1;
    b->ttypes[k].elem_type = elem_type;
    b->ttypes[k].shape = &b->shapes[k];
    b->shapes[k].n_dim = rank;
    b->shapes[k].dim = &b->pdims[b->ndims];
    for (unsigned i = 0; i < rank; i++) {
        NEED(b->ndims < 4 * MB_MAX);
        Onnx__TensorShapeProto__Dimension *d = &b->dims[b->ndims];
        onnx__tensor_shape_proto__dimension__init(d);
        if (dims[i]) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = dims[i];
        } else {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = keep(b, "N");
        }
        b->pdims[b->ndims++] = d;
    }
    v->type = &b->types[k];
    b->graph.input[b->graph.n_input++] = v;
}

void mb_output(mb *b, const char *name) {
    b->graph.output[b->graph.n_output++] = vinfo(b, name);
}

static Onnx__TensorProto *init(mb *b, const char *name, unsigned rank, const int64_t *dims) {
    NEED(b->ninits < MB_MAX && b->ni64 + rank <= 4 * MB_MAX);
    Onnx__TensorProto *t = &b->inits[b->ninits];
    onnx__tensor_proto__init(t);
    t->name = keep(b, name);
    t->n_dims = rank;
    t->dims = &b->i64[b->ni64];
    if (rank) memcpy(t->dims, dims, rank * sizeof *dims);
    b->ni64 += rank;
    t->has_data_type = 1;
    b->graph.initializer[b->graph.n_initializer++] = t;
    b->pinits[b->ninits++] = t;
    return t;
}

static size_t count(unsigned rank, const int64_t *dims) {
    size_t n = 1;
    for (unsigned i = 0; i < rank; i++)
        n *= (size_t)dims[i];
    return n;
}

Onnx__TensorProto *mb_init_f(mb *b, const char *name, unsigned rank, const int64_t *dims,
                             const float *data) {
    Onnx__TensorProto *t = init(b, name, rank, dims);
    t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    t->n_float_data = count(rank, dims);
    t->float_data = (float *)data;
    return t;
}

Onnx__TensorProto *mb_init_i(mb *b, const char *name, unsigned rank, const int64_t *dims,
                             const int64_t *data) {
    Onnx__TensorProto *t = init(b, name, rank, dims);
    size_t n = count(rank, dims);
    NEED(b->ni64 + n <= 4 * MB_MAX);
    t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
    t->n_int64_data = n;
    t->int64_data = &b->i64[b->ni64]; /* copied: callers pass compound literals */
    if (n) memcpy(t->int64_data, data, n * sizeof *data);
    b->ni64 += n;
    return t;
}

static size_t split(mb *b, const char *list, char ***out) {
    size_t n = 0;
    char *tmp[MB_MAX];
    const char *p = list;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char buf[256];
        NEED(len < sizeof buf && n < MB_MAX);
        memcpy(buf, p, len);
        buf[len] = 0;
        tmp[n++] = keep(b, buf);
        p += len + (e ? 1 : 0);
    }
    *out = NULL;
    if (n) {
        NEED(b->nnames + 1 <= 4 * MB_MAX);
        char **arr = malloc(n * sizeof *arr);
        NEED(arr);
        memcpy(arr, tmp, n * sizeof *arr);
        b->names[b->nnames++] = (char *)arr; /* freed with the names */
        *out = arr;
    }
    return n;
}

Onnx__NodeProto *mb_node(mb *b, const char *op, const char *ins, const char *outs) {
    NEED(b->nnodes < MB_MAX);
    Onnx__NodeProto *n = &b->nodes[b->nnodes];
    onnx__node_proto__init(n);
    n->op_type = keep(b, op);
    n->name = keep(b, op); /* named after its operator, as in the messages tests expect */
    n->n_input = split(b, ins, &n->input);
    n->n_output = split(b, outs, &n->output);
    b->pnodes[b->nnodes++] = n;
    b->graph.n_node = b->nnodes;
    return n;
}

static Onnx__AttributeProto *attr(mb *b, Onnx__NodeProto *n, const char *name, int type) {
    NEED(b->nattrs < MB_MAX);
    Onnx__AttributeProto *a = &b->attrs[b->nattrs];
    onnx__attribute_proto__init(a);
    a->name = keep(b, name);
    a->has_type = 1;
    a->type = type;
    if (!n->n_attribute) n->attribute = &b->pattrs[b->nattrs];
    NEED(n->attribute + n->n_attribute == &b->pattrs[b->nattrs]); /* attributes added in a row */
    b->pattrs[b->nattrs++] = a;
    n->n_attribute++;
    return a;
}

void mb_attr_i(mb *b, Onnx__NodeProto *n, const char *name, int64_t v) {
    Onnx__AttributeProto *a = attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    a->has_i = 1;
    a->i = v;
}

void mb_attr_f(mb *b, Onnx__NodeProto *n, const char *name, float v) {
    Onnx__AttributeProto *a = attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    a->has_f = 1;
    a->f = v;
}

void mb_attr_ints(mb *b, Onnx__NodeProto *n, const char *name, size_t k, const int64_t *v) {
    Onnx__AttributeProto *a = attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    NEED(b->ni64 + k <= 4 * MB_MAX);
    a->n_ints = k;
    a->ints = &b->i64[b->ni64];
    memcpy(a->ints, v, k * sizeof *v);
    b->ni64 += k;
}

void mb_attr_s(mb *b, Onnx__NodeProto *n, const char *name, const char *v) {
    Onnx__AttributeProto *a = attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    a->has_s = 1;
    a->s.data = (uint8_t *)keep(b, v);
    a->s.len = strlen(v);
}

uint8_t *mb_pack(mb *b, size_t *len) {
    *len = onnx__model_proto__get_packed_size(&b->model);
    uint8_t *buf = malloc(*len ? *len : 1);
    NEED(buf);
    onnx__model_proto__pack(&b->model, buf);
    return buf;
}
