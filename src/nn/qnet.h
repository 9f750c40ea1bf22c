/* The quantized network ("qnet"): the integer program both interpreters
 * walk, nn/ref in plaintext and nn/exec on shares.
 *
 * Every value is a tensor of ring elements mod 2^l (uint64_t, row-major,
 * dimension 0 the batch N >= 1, NCHW where a layer has channels) at a known
 * scale: the real number v is the signed integer v * 2^scale. The layers
 * run in order; each names its input tensors, its output tensor, its public
 * parameters (shapes, windows, shifts) and, on the server only, its private
 * parameters (weights, biases, constants). The semantics are
 * docs/PROTOCOLS.md §0; nn/ref implements them with lin_*_plain and nl_*_plain:
 *
 *   CONV, FC, SCALE   y = W*x + b mod 2^l (lin_conv/lin_fc/lin_scale, then
 *                     the server adds b). x at scale s, W at s, b at 2s,
 *                     y at 2s, not truncated. b is one per output channel
 *                     (SCALE: per channel c of N x C x S).
 *   TRUNC             y = floor(signed(x) / 2^shift)        (scale -= shift)
 *   RELU              y = max(0, signed(x))
 *   RELU_TRUNC        y = floor(max(0, signed(x)) / 2^shift): the quantizer
 *                     emits it when a linear output feeds only a ReLU (relu
 *                     and floor truncation commute exactly)
 *   MAXPOOL, AVGPOOL  nl_maxpool_plain / nl_avgpool_plain on nl_pool (a 1-D
 *                     pool on N x C x W has H = kh = 1; GlobalAveragePool is
 *                     a window of the whole image)
 *   ADD               y = x0 + x1 (same shape, same scale)
 *   ADDC              y = x + c, c a server constant with one value per
 *                     element of y, at y's scale
 *   CONCAT            along p.axis; RESHAPE: same elements, new shape;
 *   PAD               zeros around (p.pad.lo/hi per dimension);
 *   TRANSPOSE         y = x permuted (y dim i = x dim p.perm[i])
 *   SHL               y = x * 2^shift mod 2^l (scale += shift): lifts the
 *                     s-scale operand of an ADD whose other operand is a
 *                     linear output still at 2s, so the sum is truncated
 *                     once (local on shares)
 *   ARGMAX            index of the first maximum along p.argmax.axis,
 *                     scale 0 (keepdims keeps that axis as 1)
 *   CLIP, LEAKY_RELU, HARD_SIGMOID
 *                     nl_act_plain with p.act: piecewise-linear activations
 *                     with public constants (docs/MODELS.md)
 *   SLICE             y[i] = x[p.slice.start + i * p.slice.step] in every
 *                     dimension (steps >= 1): Slice and each output of Split
 *   UPSAMPLE          y[i] = x[floor(i / p.factor)] in every dimension:
 *                     nearest-neighbour Resize/Upsample by integer factors
 *   DILATE            y[i * p.factor] = x[i], zeros elsewhere (the output is
 *                     (n - 1) * f + 1 long): a ConvTranspose's strides
 *                     before the CONV it becomes
 *   SUMPOOL           the window sums of p.pool (no division): ReduceSum
 *                     over spatial axes
 *   HARD_SWISH        nl_hswish_plain with p.act (a clip from 0 to 6 at sc,
 *                     beta 3): floor(x * clip(x + 3, 0, 6) / 6)
 *   MUL               y = floor(signed(x0 * x1 mod 2^l) / 2^shift), the
 *                     operands broadcast numpy-style to y's shape, both at
 *                     y's scale = shift (nl_mul_trunc_plain)
 *   SIGMOID, TANH     nl_sigmoid_plain, nl_tanh_plain at scale p.shift =
 *                     the input's
 *                     (docs/MODELS.md)
 *   RESIZE_LINEAR     y = sum over the (up to 4) neighbours of w * x mod 2^l,
 *                     w = the interpolation coefficient rounded at scale s
 *                     (public, from p.resize and the shapes), x at s, y at
 *                     2s, truncated after like a linear layer's output
 *                     (qlocal_resize_linear; docs/MODELS.md)
 *   EXP               nl_exp_plain at scale p.shift = the input's: exp(x)
 *                     for x <= 0; a positive input is outside its domain
 *                     (the checked reference refuses it)
 *   SOFTMAX           nl_softmax_plain over p.softmax.axis (flat: the dims
 *                     from axis on as one, ONNX opsets < 13) at scale
 *                     p.softmax.shift = the input's
 *   BN_RELU           z = x + b[c], then y = max(z, 0), or min(z, 0) where
 *                     the server's sign bit w[c] is 1, per channel c of N x
 *                     C x S (p.lin.scale, wbits 1): what is left of a
 *                     BatchNormalization before a Relu whose factors went
 *                     into the convolutions after it (nn/graph.h); b at the
 *                     input's scale, w and b private
 *   CONST             no input: a server constant at scale s (shared as
 *                     S: the constant, C: zeros), e.g. a constant operand
 *                     of a Concat
 * Data movement (CONCAT, RESHAPE, PAD, TRANSPOSE, SLICE, UPSAMPLE, DILATE),
 * ADD, ADDC, CONST, SHL and SUMPOOL are local on shares: one step
 * (nn/qlocal.c) serves both interpreters.
 *
 * Public vs private: everything in this struct except the w and b arrays
 * is public (the architecture, l, s and each linear layer's wbits, which
 * is a public policy, never measured from the weights: nn/quant.h); the
 * server sends it to the client with qnet_public_encode, and the decoded
 * qnet has no weights (has_weights = 0). */
#ifndef PARLEY_NN_QNET_H
#define PARLEY_NN_QNET_H

#include "lin/lin.h"
#include "nl/plain.h"
#include "nn/tensor.h"

#include <stdio.h>

/* Layer kinds. What each one is (its checks, shape rule, cost, plaintext
 * and secure steps, wire encoding) is one entry of the traits table in
 * nn/kinds.c (nn/kind.h); docs/ARCHITECTURE.md says how to add one. The
 * values are on the wire: append, never renumber. */
typedef enum qop {
    QOP_CONV = 1,
    QOP_FC,
    QOP_SCALE,
    QOP_TRUNC,
    QOP_RELU,
    QOP_RELU_TRUNC,
    QOP_MAXPOOL,
    QOP_AVGPOOL,
    QOP_ADD,
    QOP_ADDC,
    QOP_CONCAT,
    QOP_RESHAPE,
    QOP_PAD,
    QOP_TRANSPOSE,
    QOP_ARGMAX,
    QOP_CONST,
    QOP_SHL,
    QOP_CLIP,       /* Clip / ReLU6: min(max(x, lo), hi), public bounds */
    QOP_LEAKY_RELU, /* LeakyRelu, PRelu with one public slope */
    QOP_HARD_SIGMOID,
    /* data movement and sums, local on shares (ops-move) */
    QOP_SLICE,    /* Slice, Split: a strided box of the input */
    QOP_UPSAMPLE, /* Resize/Upsample nearest by integer factors */
    QOP_DILATE,   /* zeros between elements (ConvTranspose's strides) */
    QOP_SUMPOOL,  /* ReduceSum over spatial axes: window sums */
    QOP_HARD_SWISH, /* x * HardSigmoid(x) (nl/act2.h) */
    QOP_MUL,        /* product of two computed tensors, broadcast, truncated */
    QOP_SIGMOID,    /* nl_sigmoid_plain at the input's scale (p.shift) */
    QOP_TANH,       /* nl_tanh_plain at the input's scale (p.shift) */
    /* linear maps with public coefficients, local on shares (ops-move3) */
    QOP_RESIZE_LINEAR, /* Resize mode linear: public coefficients, output at 2s */
    QOP_EXP,        /* nl_exp_plain at the input's scale (p.shift), x <= 0 (ops-smooth) */
    QOP_SOFTMAX,    /* nl_softmax_plain over p.softmax.axis (ops-smooth) */
    QOP_BN_RELU,    /* a batch norm's ReLU, its factors in the next convs (graph.c) */
    QOP_END_ /* one past the last kind */
} qop;

/* The kind's name ("conv", ...; "?" for a value outside the table). */
const char *qop_name(qop op);
/* CONV, FC, SCALE: the layers with private weights and a 2s output. */
int qop_is_linear(qop op);

#define QNET_MAX_NAME 255
#define QNET_MAX_TENSORS (1u << 20)
#define QNET_MAX_LAYERS (1u << 20)
#define QNET_MAX_INPUTS (1u << 16)               /* inputs of one CONCAT */
#define QNET_MAX_TOTAL_ELEMS ((uint64_t)1 << 32) /* all tensors together */
#define QNET_MAX_LAYER_MACS ((uint64_t)1 << 36)  /* one CONV or FC */

typedef struct qtensor {
    char *name;
    nn_shape shape;
    size_t size;    /* element count */
    unsigned scale; /* fractional bits: s, 2s, or 0 for indices */
    int producer;   /* layer index; -1 for the network input */
    int last_use;   /* index of the last layer that reads it; -1 if none */
} qtensor;

/* The public parameters of a layer, one member per kind that has any; the
 * float graph (graph.h) uses the same type. Every member is made of
 * 32-bit unsigned fields only: the wire encoding is a run of them
 * (nn/kinds.c says which). */
typedef union qparams {
    lin_params lin; /* CONV (lin.conv), FC (lin.fc: N = product of the leading
                       dims, K the last), SCALE (lin.scale: N = dim 0, C = dim
                       1, S = the rest) */
    unsigned shift; /* TRUNC, RELU_TRUNC, SHL, MUL, SIGMOID, TANH, EXP */
    nl_pool pool;   /* MAXPOOL, AVGPOOL */
    unsigned axis;  /* CONCAT */
    struct {
        uint32_t lo[NN_MAX_RANK], hi[NN_MAX_RANK];
    } pad;                      /* PAD */
    unsigned perm[NN_MAX_RANK]; /* TRANSPOSE */
    struct {
        unsigned axis, keepdims;
    } argmax;   /* ARGMAX */
    struct {
        uint32_t start[NN_MAX_RANK], step[NN_MAX_RANK];
    } slice;                      /* SLICE: y[i] = x[start + i * step] per dim */
    uint32_t factor[NN_MAX_RANK]; /* UPSAMPLE: y[i] = x[i / f]; DILATE: y[i * f] = x[i] */
    nl_actp act; /* CLIP, LEAKY_RELU, HARD_SIGMOID, HARD_SWISH (nl/plain.h) */
    struct {
        uint32_t mode;                           /* QRESIZE_* */
        uint32_t num[NN_MAX_RANK], den[NN_MAX_RANK]; /* the scale of each axis, num / den */
    } resize; /* RESIZE_LINEAR */
    struct {
        unsigned axis, flat, shift;
    } softmax; /* SOFTMAX: over axis (flat: over all dims from axis on), at scale shift */
} qparams;

/* RESIZE_LINEAR's coordinate transformation (ONNX Resize's
 * coordinate_transformation_mode): the source coordinate of output o. */
enum {
    QRESIZE_HALF_PIXEL,         /* (o + 1/2) / scale - 1/2 */
    QRESIZE_PYTORCH_HALF_PIXEL, /* the same, 0 when the output has one element */
    QRESIZE_ALIGN_CORNERS,      /* o (in - 1) / (out - 1) */
    QRESIZE_ASYMMETRIC,         /* o / scale */
    QRESIZE_MODES_
};
/* Axes RESIZE_LINEAR may interpolate (num != den); the others are copied. */
#define QRESIZE_MAX_AXES 2

typedef struct qlayer {
    qop op;
    char *name; /* the ONNX node it came from */
    unsigned nin;
    unsigned *in; /* tensor indices */
    unsigned out;
    qparams p;
    /* Private (server only; NULL on the client): CONV/FC weights (O x C/g x
     * kh x kw, O x K), SCALE gamma (C), ADDC and CONST constant (one per
     * output element), BN_RELU sign bits (C), all mod 2^l; b: CONV/FC/SCALE
     * bias (one per output channel), BN_RELU addend (C). */
    uint64_t *w;
    uint64_t *b;
} qlayer;

typedef struct qnet {
    unsigned l, s;
    unsigned ntensors, nlayers;
    qtensor *t;
    qlayer *layers;
    unsigned input, output; /* the client's input tensor, the network's output */
    unsigned softmax_dropped; /* public: the model ended in a Softmax, dropped (the output is
                               * its logits); on the wire as bit 0 of the flags byte */
    int has_weights;
} qnet;

void qnet_free(qnet *net);

/* Element counts of a layer's private arrays (known from public data):
 * weights or constants (*nw), biases (*nb); 0 for a kind that is none. */
void qlayer_private(const qnet *net, const qlayer *L, size_t *nw, size_t *nb);

/* Validate a whole net and fill in producer/last_use: l and s, every
 * index, every shape against its layer's parameters (lin_*_check,
 * nl_pool_check), every scale, the order (a tensor is produced once, before
 * it is read), the size caps, and (if has_weights) that the private arrays
 * are present and reduced mod 2^l. PARLEY_E_FORMAT naming the layer. */
int qnet_check(qnet *net) WUR;

/* The public model: everything but w and b. *buf is the caller's to
 * mem_free. Decoding validates untrusted bytes completely (counts, sizes and
 * indices before any allocation, then qnet_check) and gives a qnet without
 * weights; PARLEY_E_FORMAT on bad input. */
int qnet_public_encode(const qnet *net, uint8_t **buf, size_t *len) WUR;
int qnet_public_decode(qnet **out, const uint8_t *buf, size_t len) WUR;

/* Sizes and costs, for reports and `parley inspect`. */
typedef struct qnet_stats {
    uint64_t macs;        /* multiply-accumulates of CONV/FC/SCALE */
    uint64_t relus;       /* elements through RELU and RELU_TRUNC */
    uint64_t truncs;      /* elements truncated (TRUNC and RELU_TRUNC) */
    uint64_t pool_cmps;   /* comparisons of the MAXPOOL layers as they run (nl_pool_sep) */
    uint64_t divisions;   /* AVGPOOL outputs (one division each) */
    uint64_t argmax_cmps; /* ARGMAX comparisons */
    uint64_t weights;     /* private elements (weights, biases, constants) */
    uint64_t peak_elems;  /* most tensor elements alive at once (qstore's rule) */
} qnet_stats;
void qnet_stats_get(qnet_stats *st, const qnet *net);
/* The counts of one layer alone (peak_elems 0). */
void qlayer_stats(qnet_stats *st, const qnet *net, const qlayer *L);

/* One line per layer: index, kind, name, input and output shapes, scales
 * and the public parameters that matter (window, stride, wbits). */
void qnet_dump(FILE *f, const qnet *net);

/* A linear layer's shape (CONV, FC, SCALE; lin/lin.h). */
lin_shape qlayer_lin(const qlayer *L);

/* Fixed-point encoding of the client's input: round(v * 2^s) mod 2^l,
 * rounding half away from zero. The shape must equal the input tensor's;
 * a value that is not finite or whose encoding does not fit in l signed
 * bits is an error naming its index (not its value). */
int qnet_encode_input(const qnet *net, uint64_t *x, const nn_tensor *in) WUR;
/* Real values of tensor t: signed(v) / 2^scale. */
void qnet_decode(const qnet *net, float *y, unsigned t, const uint64_t *v);

/* Tensor buffers of one run, freed after their last reader: the executor
 * allocates each layer's output with qstore_out, runs the layer, then calls
 * qstore_done, which wipes and frees every tensor whose last reader that
 * layer was (never the network output). qstore_count walks a net by the
 * same rule without allocating anything (qnet_stats' peak). */
typedef struct qstore {
    const qnet *net;
    uint64_t **buf;
    uint64_t live, peak; /* elements allocated now / at most */
    int counting;        /* qstore_count's store: buf entries only mark what is live */
} qstore;

int qstore_init(qstore *st, const qnet *net) WUR;
/* The buffer of tensor t, allocated (uninitialised) if it has none. */
int qstore_out(qstore *st, uint64_t **buf, unsigned t) WUR;
void qstore_done(qstore *st, unsigned layer);
/* Hand the buffer of t to the caller (to mem_free_wipe with the size). */
uint64_t *qstore_take(qstore *st, unsigned t);
void qstore_free(qstore *st);
/* The most tensor elements a run holds at once, input included (0 if
 * memory for the store's table runs out). */
uint64_t qstore_count(const qnet *net);

#endif
