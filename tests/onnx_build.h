/* Building small ONNX models in C for the tests, with the protobuf-c
 * bindings the importer uses. Storage is fixed-size inside the builder, so
 * a test declares one `mb` (static: it is large), fills it and packs it. */
#ifndef PARLEY_TESTS_ONNX_BUILD_H
#define PARLEY_TESTS_ONNX_BUILD_H

#include "onnx.pb-c.h"

#include <stddef.h>
#include <stdint.h>

#define MB_MAX 64

typedef struct mb {
    Onnx__ModelProto model;
    Onnx__GraphProto graph;
    Onnx__OperatorSetIdProto opset, *opsets[1];
    Onnx__NodeProto nodes[MB_MAX], *pnodes[MB_MAX];
    Onnx__AttributeProto attrs[MB_MAX], *pattrs[MB_MAX];
    Onnx__TensorProto inits[MB_MAX], *pinits[MB_MAX];
    Onnx__ValueInfoProto vi[MB_MAX], *pin[MB_MAX], *pout[MB_MAX];
    Onnx__TypeProto types[MB_MAX];
    Onnx__TypeProto__Tensor ttypes[MB_MAX];
    Onnx__TensorShapeProto shapes[MB_MAX];
    Onnx__TensorShapeProto__Dimension dims[4 * MB_MAX], *pdims[4 * MB_MAX];
    char *names[4 * MB_MAX];
    int64_t i64[4 * MB_MAX];
    size_t nnodes, nattrs, ninits, nvi, ndims, nnames, ni64;
} mb;

void mb_init(mb *b, int64_t opset);
/* dims[i] == 0 makes dimension i symbolic. */
void mb_input(mb *b, const char *name, int elem_type, unsigned rank, const int64_t *dims);
void mb_output(mb *b, const char *name);
/* A float initializer (data is referenced, not copied: keep it alive until
 * mb_pack); an int64 initializer (data copied). */
Onnx__TensorProto *mb_init_f(mb *b, const char *name, unsigned rank, const int64_t *dims,
                             const float *data);
Onnx__TensorProto *mb_init_i(mb *b, const char *name, unsigned rank, const int64_t *dims,
                             const int64_t *data);
/* Inputs and outputs as comma-separated names ("x,W,B"; "" for none). */
Onnx__NodeProto *mb_node(mb *b, const char *op, const char *ins, const char *outs);
void mb_attr_i(mb *b, Onnx__NodeProto *n, const char *name, int64_t v);
void mb_attr_f(mb *b, Onnx__NodeProto *n, const char *name, float v);
void mb_attr_ints(mb *b, Onnx__NodeProto *n, const char *name, size_t k, const int64_t *v);
void mb_attr_s(mb *b, Onnx__NodeProto *n, const char *name, const char *v);
/* Serialize (malloc'd, the caller frees); the model stays valid until the
 * next mb_init. */
uint8_t *mb_pack(mb *b, size_t *len);

#endif
