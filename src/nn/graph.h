/* The float graph: a network as the ONNX importer understands it, before
 * quantization. Nodes are in execution order and already normalised to the
 * layer kinds of the quantized net (qnet.h): a Gemm or MatMul with a
 * constant operand is an FC, a BatchNormalization a SCALE, an Add of a
 * constant an ADDC, Flatten/Reshape/Squeeze/Unsqueeze a RESHAPE, Identity
 * and Dropout nothing at all. Values are the tensors computed at run time
 * from the one network input, with shapes inferred at load; constants
 * (weights) live inside the nodes that use them, as floats.
 *
 * fgraph_optimize folds what docs/PROTOCOLS.md §0 prescribes be folded before
 * rounding: a SCALE (BatchNormalization) that directly follows a CONV or FC
 * into its weights and bias, an ADDC of a per-channel constant (a bias added
 * by a separate Add) into the preceding CONV/FC bias, a zero PAD that
 * only feeds a CONV into the convolution's padding, and a SCALE that only
 * a Relu reads, whose output only convolutions without padding read (a
 * pre-activation block, as in DenseNet), into those convolutions: the
 * factors g multiply their weights, and the SCALE and the Relu become one
 * BN_RELU (z = x + beta / g, then the Relu with the sign of g, which stays
 * private; qnet.h). The folds are decided from the graph's structure
 * alone, never from the weights, so the public model says nothing about
 * them. quant_net (quant.h) then turns the graph into a qnet. */
#ifndef PARLEY_NN_GRAPH_H
#define PARLEY_NN_GRAPH_H

#include "nn/qnet.h"

typedef struct fnode {
    qop op;     /* CONV, FC, SCALE, RELU, MAXPOOL, AVGPOOL, ADD, ADDC, CONCAT,
                   RESHAPE, PAD, TRANSPOSE, ARGMAX, CONST (never TRUNC/RELU_TRUNC) */
    char *name; /* the ONNX node's name, or "<op_type>_<index>" */
    unsigned nin;
    unsigned *in; /* value indices */
    unsigned out;
    qparams p; /* public parameters, as in qlayer (wbits set by the quantizer) */
    /* Constants: CONV/FC weights, SCALE gamma, ADDC addend and CONST value
     * (one per output element); b: CONV/FC bias (O; may be NULL) and SCALE beta (C). */
    float *w;
    float *b;
    /* The public real constants of an activation (CLIP: lo, hi; LEAKY_RELU:
     * alpha; HARD_SIGMOID: alpha, beta), quantized by its kind's .quant. */
    double c[4];
    int dead; /* removed by fgraph_optimize */
    /* CONV: a batch norm's factors were folded into the weights from
     * before a Relu (fold_bn_relu; named in a refusal of the weights). */
    int took_bn;
} fnode;

typedef struct fvalue {
    char *name;
    nn_shape shape;
    size_t size;
    int producer; /* node index; -1 for the network input */
} fvalue;

typedef struct fgraph {
    fvalue *v;
    unsigned nv, capv;
    fnode *n;
    unsigned nn, capn;
    unsigned input, output;
    char *notes; /* messages for the user, one per line (e.g. a dropped Softmax); may be NULL */
    int softmax_dropped; /* the model's final Softmax was dropped: the output is its logits */
} fgraph;

int fgraph_new(fgraph **out) WUR;
void fgraph_free(fgraph *g);

/* Room for `values` values in all, so that pointers into g->v stay valid
 * while fewer are added (the importer reserves before each node). */
int fgraph_reserve(fgraph *g, unsigned values) WUR;
/* Add a value (name copied and made printable, shape checked). */
int fgraph_value(fgraph *g, unsigned *id, const char *name, const nn_shape *shape) WUR;
/* Append a node reading `nin` values and writing value `out`; the returned
 * pointer stays valid until the next fgraph_node call. */
int fgraph_node(fgraph *g, fnode **node, qop op, const char *name, const unsigned *in, unsigned nin,
                unsigned out) WUR;
/* Add a line to g->notes. */
int fgraph_note(fgraph *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Element counts of a node's constants: w (*nw), b (*nb). */
void fnode_private(const fgraph *g, const fnode *n, size_t *nw, size_t *nb);

/* uses[v] = how many node inputs read value v, plus one for the network
 * output; *uses (g->nv entries) is the caller's to mem_free. */
int fgraph_uses(const fgraph *g, unsigned **uses) WUR;

/* Fold BN/bias/pad (see above), then drop dead nodes. */
int fgraph_optimize(fgraph *g) WUR;

#endif
