/* The secure executor: walks a qnet on additive shares (docs/ARCHITECTURE.md).
 *
 * Both parties call exec_infer with the same public qnet; the server's copy
 * holds the weights. Each layer is its kind's secure step (nn/kind.h):
 * linear layers go to the session's linear back-end (src/lin, OT or HE
 * mode, chosen once), the non-linear ones to their protocols in src/nl,
 * data movement and additions are local (nn/qlocal.c). Because every
 * protocol is exact, the output shares reconstruct to exactly what nn/ref
 * computes on the same input.
 *
 * Around the run: the client's input becomes shares and the server's
 * output share goes to the client (docs/PROTOCOLS.md §8). */
#ifndef PARLEY_NN_EXEC_H
#define PARLEY_NN_EXEC_H

#include "lin/backend.h"
#include "mpc/party.h"
#include "nn/qnet.h"

typedef struct exec_layer_stat {
    double seconds;
    uint64_t bytes;      /* sent by this party during the layer, all lanes */
    uint64_t bytes_recv; /* received by this party during the layer */
    uint64_t flights;    /* the busiest lane's flights */
    /* The one-way messages on the longest chain of waits that the layer
     * added (net/frame.h: the chain counter); what latency costs it. */
    uint64_t critical_flights;
    /* Silent OT backend: of bytes and bytes_recv, what made COT batches
     * (ot/silent.h), paid where a lane's batch ran out (nn/cost.h). */
    uint64_t gen_sent, gen_recv;
} exec_layer_stat;

typedef struct exec_report {
    unsigned nlayers;        /* = net->nlayers */
    exec_layer_stat *layers; /* one per layer (mem_free) */
    double seconds;          /* the whole run, input sharing and reveal included */
    uint64_t bytes_sent, bytes_recv, flights;
    uint64_t critical_flights;   /* of the whole run, as in exec_layer_stat */
    uint64_t gen_sent, gen_recv; /* silent OT: of those, the COT batches */
    /* HE mode: statistical security of the inference's returned
     * coefficients, bits (lin_he_stat_bits; the client computes it from the
     * public model and parameters) */
    double he_stat_bits;
} exec_report;

/* Called after each layer (e.g. a progress line); a non-zero return cancels
 * the inference (PARLEY_E_ARG, "cancelled"). */
typedef int (*exec_progress_fn)(void *ctx, const qnet *net, unsigned layer,
                                const exec_layer_stat *st, double elapsed, uint64_t bytes);

typedef struct exec_opts {
    /* The session's linear back-end, set up (lin_setup with
     * exec_lin_ops(mode)); NULL: lin/ot, which needs no set-up. */
    const lin_backend *lin;
    int reveal_label; /* append an ArgMax over the last axis of the output */
    exec_progress_fn progress;
    void *progress_ctx;
} exec_opts;

/* Client: x = its input (net->t[net->input] elements, mod 2^l). Server: x
 * = NULL. The whole inference: share the input, run every layer, reveal the
 * output to the client. Client: *y gets the output (mem_free), *ny its
 * element count (with reveal_label: one index per row of the output).
 * Server: *y = NULL. rep (optional) gets this party's costs. */
int exec_infer(party *p, const qnet *net, const exec_opts *o, const uint64_t *x, uint64_t **y,
               size_t *ny, exec_report *rep) WUR;
void exec_report_free(exec_report *rep);

/* Layers that run side by side: the last index j >= i such that layers i
 * .. j are element-wise layers (QK_ELEMENTWISE) of one kind with the same
 * public parameters, none of which reads another's output (i itself if
 * there is none). The executor runs them as one protocol call on their
 * inputs laid end to end, so the group costs one layer's flights; the
 * quantizer puts such siblings next to each other (quant.c). Its traffic,
 * flights and time are reported on layer i, and nothing on i + 1 .. j, by
 * the executor and the cost model alike. *elems (if not NULL) gets the
 * group's output elements in all. */
unsigned exec_group_end(const qnet *net, unsigned i, size_t *elems);

/* Linear layers that run as one (docs/PROTOCOLS.md §7), *kind saying how:
 * - EXEC_LIN_SIBLINGS: the last index j >= i such that layers i .. j are
 *   convolutions reading the same tensor that lin_merge merges into one
 *   (*m, their output channels in layer order) and that lin's back-end
 *   prices below the layers apart, each added one cheaper than the merge
 *   so far and it apart. The executor runs the merge as one layer (S's
 *   weights embedded), each layer getting its channels of the output and
 *   its own bias.
 * - else EXEC_LIN_SUM: j = i + 1, where layers i and i + 1 are
 *   convolutions that lin_sum_merge merges (*m) whose outputs only layer
 *   i + 2, an Add, reads (a projection shortcut's sum), and lin's back-end
 *   prices the merge below the two apart. The executor runs the merge on
 *   both inputs side by side (lin_sum_input): layer i's output is the sum
 *   with both biases, layer i + 1's zero, so the Add gives the same ring
 *   values.
 * i itself if neither (m untouched, *kind 0). From public data alone,
 * alike on both sides. The cost model prices the step on layer i and
 * nothing on the others. */
enum { EXEC_LIN_SIBLINGS = 1, EXEC_LIN_SUM = 2 };
unsigned exec_lin_group_end(const qnet *net, unsigned i, const lin_backend *lin, lin_shape *m,
                            int *kind);
/* What runs as one step from layer i, for the executor and the cost model
 * alike: exec_group_end's element-wise siblings (*elems: their output
 * elements), or else exec_lin_group_end's merged convolutions (*lin_group
 * its kind, *merged their shape; 0 for neither); the last layer of the
 * step. */
unsigned exec_step_end(const qnet *net, unsigned i, const lin_backend *lin, size_t *elems,
                       lin_shape *merged, int *lin_group);
/* S: the merged weights of layers i .. j (m and kind from
 * exec_lin_group_end), in *wm (*nw of them; mem_free_wipe them). 0 or
 * PARLEY_E_NOMEM. */
int exec_lin_group_weights(const qnet *net, unsigned i, unsigned j, const lin_shape *m, int kind,
                           uint64_t **wm, size_t *nw) WUR;

/* The linear back-end (lin/backend.h) of a session's mode (nn/hello.h):
 * MODE_OT lin/ot, MODE_HE lin/he; NULL for another value. The one place
 * the mode is looked at: the session sets the back-end up (lin_setup) and
 * the cost model prices it from what this returns. */
const lin_ops *exec_lin_ops(int mode);

/* Tensors whose every value is known, from the architecture alone, to be
 * non-negative: ReLU outputs and what pools, padding and data movement make
 * of them. One byte per tensor (mem_free; NULL if out of memory): 0, or wb
 * in 1..l when every value is in [0, 2^(wb-1)): l after a ReLU, l - s after
 * a ReLU-truncation by s, the largest of the inputs' through max pools,
 * padding and data movement, l again after an average pool (its window
 * sums). Max pooling on them compares without a sign extension
 * (NL_POOL_NONNEG), and at wb bits where nl_maxpool_narrow allows. */
uint8_t *exec_nonneg_tensors(const qnet *net);
/* Signed bounds from the architecture alone: for every tensor a width w in
 * 1..l with every value in [-2^(w-1), 2^(w-1)): l - s after a truncation
 * by s of an l-bit value (a Conv's output), the largest of the inputs'
 * through ReLUs, max pools, padding and data movement, an average pool's
 * input's where its window sums cannot wrap, l otherwise (qkind.width).
 * A batch norm's ReLU takes its DReLU at that width plus one (kinds.c).
 * One byte per tensor (mem_free); NULL if out of memory. */
uint8_t *exec_width_tensors(const qnet *net);

#endif
