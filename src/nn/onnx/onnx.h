/* ONNX import: an ONNX model (protobuf, parsed with protobuf-c from the C
 * code generated at build time from Debian's onnx.proto) to a float graph
 * (graph.h), with shapes inferred and folding done.
 *
 * Supported: opsets 7-17 of the default domain, and the older definitions
 * of the same operators as ONNX's test data uses them (opsets 1-6: legacy
 * broadcast attributes, Reshape-1's shape attribute, Pad-1's paddings,
 * consumed_inputs); raw_data and typed data fields;
 * initializers listed as graph inputs or not; exactly one graph input that
 * is not an initializer (the client's input: float or double, a fixed
 * shape, except that a symbolic dimension 0 takes the batch size from the
 * options) and exactly one output. Operators: Conv, Gemm, MatMul with a
 * constant operand, Add, BatchNormalization, Relu, MaxPool, AveragePool,
 * GlobalAveragePool, GlobalMaxPool, Concat, Flatten, Reshape, Squeeze,
 * Unsqueeze, Transpose, Pad (constant 0), Identity, Dropout (inference),
 * Constant, ArgMax, Slice and Split, Gather (constant indices), Tile,
 * Expand, Resize/Upsample (nearest by whole factors; linear),
 * ReduceMean/ReduceSum (spatial axes), ConvTranspose, the
 * piecewise-linear activations, Sigmoid, Tanh, Exp, Softmax (a final
 * one is dropped with a note: the label does not change; elsewhere a
 * layer). docs/MODELS.md lists the attributes.
 *
 * Anything else fails with PARLEY_E_UNSUPPORTED, one message that lists
 * every unsupported node of the model (operator, node names, count, why);
 * a malformed file fails at once with PARLEY_E_FORMAT. */
#ifndef PARLEY_NN_ONNX_ONNX_H
#define PARLEY_NN_ONNX_ONNX_H

#include "nn/graph.h"

#define ONNX_MAX_FILE ((size_t)2 << 30)
#define ONNX_MAX_DEPTH 32
#define ONNX_OPSET_MIN 1
#define ONNX_OPSET_MAX 17

/* A graph input to treat as a constant (ONNX's node tests pass weights as
 * inputs). */
typedef struct onnx_const {
    const char *name;
    const nn_tensor *value;
} onnx_const;

typedef struct onnx_opts {
    unsigned batch; /* size of a symbolic dimension 0 of the input; 0 means 1 */
    const onnx_const *consts;
    size_t nconsts;
} onnx_opts;

/* opts may be NULL. On success *out is the caller's (fgraph_free). */
int onnx_import(fgraph **out, const uint8_t *buf, size_t len, const onnx_opts *opts) WUR;
int onnx_import_file(fgraph **out, const char *path, const onnx_opts *opts) WUR;

/* A serialized TensorProto (ONNX test data: input_0.pb, output_0.pb) as a
 * float tensor; integer types are converted. */
int onnx_tensor_parse(nn_tensor *out, const uint8_t *buf, size_t len) WUR;

/* Refuse protobuf nesting deeper than max_depth (see wire.c). */
int onnx_check_depth(const uint8_t *buf, size_t len, unsigned max_depth) WUR;

#endif
