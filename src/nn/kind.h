/* Layer-kind traits: everything parley knows about one kind of layer, in
 * one entry of one table (nn/kinds.c), read by every part of nn that
 * handles layers — the checks (qcheck.c), the public-model wire format
 * (qnet_wire.c), the statistics and dump (qnet.c), the quantizer
 * (quant.c), the graph folding (graph.c), the plaintext reference
 * (ref.c), the secure executor (exec.c) and the cost model (cost.c). None
 * of them switches on the kind.
 *
 * Kinds come in classes, which decide what a step is:
 *   QK_LOCAL        no communication: both parties apply the same step to
 *                   their shares (data movement, additions, shifts; the
 *                   server also adds its private constants), and the
 *                   plaintext reference applies it to values: `step`.
 *   QK_ELEMENTWISE  y[i] = f(x[i]) by a protocol of src/nl, given as data:
 *                   the protocol, its plaintext twin and its exact cost
 *                   (`ew`, or `ew_shift` when f takes the layer's p.shift).
 *                   Same shape in and out; no code in this table.
 *   QK_PROTOCOL     any other protocol of src/nl (pools, ArgMax): `step`
 *                   (secure when qctx.p is set, else plaintext) and
 *                   `bytes`.
 *   QK_LINEAR       a linear layer with the server's private weights: the
 *                   session's linear back-end (lin/backend.h) runs it, the
 *                   server adds the bias; the entry names the lin kind.
 * Adding a kind: docs/ARCHITECTURE.md (with a worked example). */
#ifndef PARLEY_NN_KIND_H
#define PARLEY_NN_KIND_H

#include "lin/backend.h"
#include "mpc/otb.h"
#include "nn/qnet.h"

enum { QK_LOCAL, QK_ELEMENTWISE, QK_PROTOCOL, QK_LINEAR };

/* The output's scale, from the first input's (or s without inputs). */
enum {
    QS_SAME,   /* the input's */
    QS_DOUBLE, /* linear: input s, output 2s */
    QS_DOWN,   /* the input's minus p.shift */
    QS_UP,     /* the input's plus p.shift, at most 2s */
    QS_INDEX,  /* 0: indices */
};

/* When the output is known to be non-negative from the architecture alone
 * (max pooling then compares without a sign extension). */
enum {
    QN_NEVER,
    QN_ALWAYS,      /* below 2^(l-1), or 2^(l-1-shift) for a QS_DOWN kind */
    QN_IF_INPUTS,   /* when every input is; below the largest input bound */
    QN_SUMS_INPUTS, /* when every input is, without a narrower bound (sums) */
};

/* Per-element counts a kind adds to qnet_stats (each output element is
 * one). */
enum { QC_RELU = 1, QC_TRUNC = 2, QC_DIVISION = 4 };

/* The private arrays a layer holds on the server. */
enum {
    QW_NONE,
    QW_LINEAR,   /* w: the lin weights (lin_weight_count); b: one per channel */
    QW_ELEMENTS, /* w: one constant per output element; no b */
    QW_CHANNELS, /* w and b: one each per channel of p.lin.scale (BN_RELU) */
};

/* What a step sees. Evaluating: y, x, owner, and p for a secure step
 * (NULL: plaintext), with lin and nonneg. Costing: oc, lanes, lin, nonneg. */
typedef struct qctx {
    const qnet *net;
    const qlayer *L;
    size_t n;   /* output elements */
    unsigned l; /* ring width */
    uint64_t *y;
    const uint64_t *const *x; /* the L->nin input buffers */
    int owner;                /* this side holds L->w and L->b (server; reference) */
    party *p;                 /* secure steps; NULL in plaintext */
    const lin_backend *lin;   /* the session's linear back-end */
    const uint8_t *nonneg;    /* exec_nonneg_tensors */
    const uint8_t *width;     /* exec_width_tensors (NULL in plaintext) */
    const ot_costing *oc;     /* costing */
    unsigned lanes;
    double *h2; /* costing: the linear layers' squared Hellinger bounds are added here (or NULL) */
} qctx;

/* An element-wise protocol of src/nl and its twins, with the signatures
 * src/nl uses: without a parameter (ew), or with the layer's p.shift
 * (ew_shift). */
typedef struct qew {
    int (*run)(party *p, uint64_t *y, const uint64_t *x, size_t n, unsigned l);
    void (*plain)(uint64_t *y, const uint64_t *x, size_t n, unsigned l);
    uint64_t (*bytes)(const ot_costing *oc, size_t n, unsigned l, unsigned lanes);
} qew;
typedef struct qew_shift {
    int (*run)(party *p, uint64_t *y, const uint64_t *x, size_t n, unsigned l, unsigned s);
    void (*plain)(uint64_t *y, const uint64_t *x, size_t n, unsigned l, unsigned s);
    uint64_t (*bytes)(const ot_costing *oc, size_t n, unsigned l, unsigned s, unsigned lanes);
} qew_shift;

/* An element-wise protocol with the public constants of an activation
 * (p.act). */
typedef struct qew_act {
    int (*run)(party *p, uint64_t *y, const uint64_t *x, size_t n, unsigned l, const nl_actp *a);
    void (*plain)(uint64_t *y, const uint64_t *x, size_t n, unsigned l, const nl_actp *a);
    uint64_t (*bytes)(const ot_costing *oc, size_t n, unsigned l, const nl_actp *a, unsigned lanes);
} qew_act;

typedef struct qkind {
    const char *name; /* on reports and in JSON */
    /* An element-wise kind: the ONNX operator that imports as it (one
     * computed input, no attributes, output of the same shape), or NULL. */
    const char *onnx;
    int cls; /* QK_* */
    unsigned nin_min, nin_max;
    int scale;    /* QS_* */
    int nonneg;   /* QN_* */
    int priv;     /* QW_* */
    lin_kind lin; /* QK_LINEAR */
    /* QK_LINEAR: the default public bound on the real weights, |w| <
     * 2^wlog2 (quant_wbits). */
    unsigned wlog2;
    /* Public parameters on the wire: wire_n u32 fields from byte wire_off
     * of qparams. */
    unsigned short wire_off, wire_n;
    /* The shape rule and parameter checks beyond the generic ones (input
     * count, indices, scales, weights: qcheck.c); lerr-style errors. NULL:
     * the output has the first input's shape. */
    int (*check)(const qnet *net, const qlayer *L, unsigned i);
    int counts; /* QC_* */
    /* Add other counts to st (NULL: none). */
    void (*stats)(qnet_stats *st, const qnet *net, const qlayer *L);
    /* The parameters worth a glance, after the shapes (NULL: none). */
    void (*dump)(FILE *f, const qlayer *L);
    /* QK_ELEMENTWISE: the protocol (one of the two forms). */
    qew ew;
    qew_shift ew_shift;
    qew_act ew_act;
    unsigned act; /* an activation kind's nl_act op (NL_ACT_*) */
    /* Kinds with public real constants (fnode.c): turn them into p's ring
     * constants for an input at scale sc (the net's s, ring l); errors
     * name what does not fit. */
    int (*quant)(qparams *p, const double *c, unsigned sc, unsigned s, unsigned l);
    /* QK_LOCAL, QK_PROTOCOL: the step; QK_PROTOCOL: its exact wire bytes
     * (both directions, all lanes). */
    int (*step)(const qctx *c);
    uint64_t (*bytes)(const qctx *c);
    /* A public bound on the output's values from the inputs' (w, one per
     * tensor, exec_width_tensors): every output value in [-2^(v-1),
     * 2^(v-1)) for the v returned, 1..l. NULL: none (l). */
    unsigned (*width)(const qlayer *L, const uint8_t *w, unsigned l);
    /* The range check of the reference (ref_run_checked) runs the net on
     * exact signed values, 64-bit; a kind whose step can form values larger
     * than its inputs' gives here, from the inputs' largest magnitudes
     * inmax[k] and the layer's private arrays (sign-extended, c->l = 64), an
     * upper bound on every value its 64-bit step forms (*bound), and the
     * largest magnitude of a value formed inside the step that must fit the
     * ring as its output must (*inner: an average pool's window sums; 0 if
     * none). NULL: no value exceeds the inputs' (or the layer's constants,
     * which fit the ring). */
    void (*reach)(const qctx *c, const double *inmax, double *bound, uint64_t *inner);
    /* The checked reference's domain check, on the same wide values as
     * reach: NULL if every input is in the kind's domain, else why not
     * (a message the caller prefixes with the layer). NULL: any input. */
    const char *(*domain)(const qctx *c, char *why, size_t len);
    /* What reach's *inner is, for the range check's message (NULL: "a
     * window sum"). */
    const char *inner_what;
} qkind;

/* Most u32 fields of a kind's public parameters on the wire. */
#define QKIND_MAX_WIRE 32

/* The entry of kind op, or NULL if op is not a kind (e.g. from the peer). */
const qkind *qkind_find(int op);
/* The entry of a kind known to be valid (a checked net's); aborts if not. */
const qkind *qkind_of(qop op);
/* The element-wise kind whose .onnx is op_type, or 0. */
qop qkind_by_onnx(const char *op_type);
/* A linear kind's shape from its parameters (QK_LINEAR only). */
lin_shape qkind_lin(const qkind *k, const qparams *p);
/* Element counts of the private arrays of a layer of kind k with
 * parameters p and `out` output elements: weights (or constants) and
 * biases. */
void qkind_private(const qkind *k, const qparams *p, size_t out, size_t *nw, size_t *nb);
/* The output scale a kind gives an input at scale `in` (s: the net's). */
unsigned qkind_out_scale(const qkind *k, unsigned in, unsigned s, const qparams *p);

/* The step of any layer (ref.c in plaintext, exec.c on shares when c->p
 * is set): QK_LINEAR through c->lin with the owner adding its bias, the
 * others their protocol or local step. */
int qkind_step(const qctx *c);
/* Its exact wire bytes (cost.c): 0 for a local layer; a linear back-end's
 * refusal is returned as its error. */
int qkind_bytes(uint64_t *b, const qctx *c);

/* Shape rules (qcheck.c), in the form of qkind.check. */
int qcheck_conv(const qnet *net, const qlayer *L, unsigned i);
int qcheck_fc(const qnet *net, const qlayer *L, unsigned i);
int qcheck_scale(const qnet *net, const qlayer *L, unsigned i);
int qcheck_pool(const qnet *net, const qlayer *L, unsigned i);
int qcheck_add(const qnet *net, const qlayer *L, unsigned i);
int qcheck_concat(const qnet *net, const qlayer *L, unsigned i);
int qcheck_reshape(const qnet *net, const qlayer *L, unsigned i);
int qcheck_pad(const qnet *net, const qlayer *L, unsigned i);
int qcheck_transpose(const qnet *net, const qlayer *L, unsigned i);
int qcheck_argmax(const qnet *net, const qlayer *L, unsigned i);
int qcheck_const(const qnet *net, const qlayer *L, unsigned i);
int qcheck_act(const qnet *net, const qlayer *L, unsigned i);
int qcheck_slice(const qnet *net, const qlayer *L, unsigned i);
int qcheck_upsample(const qnet *net, const qlayer *L, unsigned i);
int qcheck_dilate(const qnet *net, const qlayer *L, unsigned i);
int qcheck_hswish(const qnet *net, const qlayer *L, unsigned i);
int qcheck_mul(const qnet *net, const qlayer *L, unsigned i);
int qcheck_table(const qnet *net, const qlayer *L, unsigned i);
int qcheck_resize(const qnet *net, const qlayer *L, unsigned i);
int qcheck_softmax(const qnet *net, const qlayer *L, unsigned i);
/* SOFTMAX's rows: outer x cols x inner of the input shape xs. */
void qkind_softmax_geom(const nn_shape *xs, const qparams *p, size_t *outer, size_t *cols,
                        size_t *inner);

#endif
