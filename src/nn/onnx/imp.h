/* Internals of the ONNX importer shared by import.c (symbols, constants,
 * attributes, the model), ops.c (operators that become layers) and fold.c
 * (operators evaluated on constants at import time). Not a public header. */
#ifndef PARLEY_NN_ONNX_IMP_H
#define PARLEY_NN_ONNX_IMP_H

#include "nn/onnx/onnx.h"
#include "nn/strmap.h"
#include "onnx.pb-c.h"

#define MAX_ATTR_VALUE (1 << 20) /* kernels, strides, pads, dilations */
#define MAX_SHAPE_CONST 64       /* elements of a shape/axes/pads constant */

/* SYM_SKIP: an output of a node parley could not import; the nodes that
 * read it are skipped, so that one load lists every unsupported node. */
enum { SYM_VALUE, SYM_CONST, SYM_NONE, SYM_SKIP };

/* A constant known at import time. Data comes from a TensorProto, or from
 * an array (owned when `own` is set, else borrowed from something that
 * outlives the import). */
typedef struct ctensor {
    nn_shape shape;
    size_t n;
    int is_int;
    int dtype; /* ONNX data type when src is set */
    const Onnx__TensorProto *src;
    const float *f;
    const int64_t *i;
    void *own;
} ctensor;

typedef struct sym {
    int kind;
    unsigned value;
    ctensor c;
    const char *why; /* SYM_NONE */
} sym;

/* Unsupported nodes found so far, grouped by operator and reason. */
#define IMP_MAX_GROUPS 16
#define IMP_GROUP_NAMES 3
typedef struct imp_group {
    char op[48], why[200];
    char names[IMP_GROUP_NAMES][48];
    unsigned count;
} imp_group;

typedef struct imp {
    fgraph *g;
    const onnx_opts *opts;
    const Onnx__GraphProto *graph;
    strmap map;
    sym *syms;
    unsigned nsyms, capsyms;
    int64_t opset;
    const Onnx__NodeProto *node;
    unsigned node_index;
    char nname[QNET_MAX_NAME + 1];
    char gen[QNET_MAX_NAME + 32]; /* scratch for generated value names */
    imp_group groups[IMP_MAX_GROUPS];
    unsigned ngroups, nbad, nbad_other; /* nbad_other: in groups past the table */
    unsigned nskipped;                  /* supported nodes skipped behind them */
    char first_bad[512];                /* the first one's whole message */
} imp;

const char *imp_str(const char *s);
void imp_printable(char *dst, size_t cap, const char *src);
/* "node 'name' (Op): why" with `code`. */
int imp_err(imp *m, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Constants. */
unsigned imp_dtype_size(int t);
const char *imp_dtype_name(int t);
int imp_dtype_is_float(int t);
int imp_const_from_proto(ctensor *c, const Onnx__TensorProto *t, const char *what);
double imp_const_f(const ctensor *c, size_t i);
int64_t imp_d2i(double v);
int64_t imp_const_i(const ctensor *c, size_t i);
float *imp_const_floats(const ctensor *c);

/* Symbols: the node's inputs and outputs. */
int imp_bind(imp *m, const char *name, const sym *s);
int imp_bind_const(imp *m, const char *name, const ctensor *c); /* takes c->own */
int imp_has_in(imp *m, unsigned k);
int imp_in_sym(imp *m, unsigned k, sym **s);
int imp_in_value(imp *m, unsigned k, unsigned *v);
int imp_in_const(imp *m, unsigned k, const ctensor **c);
int imp_in_ints(imp *m, unsigned k, int64_t *v, size_t *n, size_t cap);
const nn_shape *imp_in_shape(imp *m, unsigned k);
const char *imp_out_name(imp *m, unsigned k);
int imp_out_value(imp *m, unsigned k, const nn_shape *shape, unsigned *v);
int imp_out_alias(imp *m, unsigned k, const sym *src);
int imp_outs_unavailable(imp *m, unsigned from, const char *why);
const char *imp_gen_name(imp *m, const char *suffix);
int imp_add_node(imp *m, fnode **n, qop op, const unsigned *in, unsigned nin, unsigned out);
const nn_shape *imp_vshape(imp *m, unsigned v);
const char *imp_shp(char *buf, size_t cap, const nn_shape *s);

/* Attributes of the current node. */
const Onnx__AttributeProto *imp_attr(imp *m, const char *name);
int imp_attr_i(imp *m, const char *name, int64_t def, int64_t *v);
int imp_attr_i_range(imp *m, const char *name, int64_t def, int64_t lo, int64_t hi, int64_t *v);
int imp_attr_f(imp *m, const char *name, double def, double *v);
int imp_attr_ints(imp *m, const char *name, const int64_t **v, size_t *n);
int imp_attr_s(imp *m, const char *name, const char *def, char *buf, size_t cap);
int imp_attrs_allowed(imp *m, const char *const *ok);
int imp_axis_norm(imp *m, int64_t a, unsigned r, int end, unsigned *out);

/* Operators: the ONNX op_type each importer takes, in tables that end
 * with {NULL, NULL}: those that become layers (ops.c), those evaluated on
 * constants at import time (fold.c). */
typedef struct imp_op {
    const char *name;
    int (*fn)(imp *m);
} imp_op;
extern const imp_op imp_layer_ops[], imp_fold_ops[];
/* A layer of element-wise kind k on the node's one computed input. */
int imp_elementwise(imp *m, qop k);
/* Arithmetic and Concat of constants (fold.c, for ops.c). */
int imp_fold_arith(imp *m, const ctensor *a, const ctensor *b, char op);
int imp_fold_concat(imp *m, unsigned axis);

#endif
