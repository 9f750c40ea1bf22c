/* Predicted traffic of a secure inference, from the public model alone.
 *
 * cost_predict walks a qnet as nn/exec walks it and adds, for each step,
 * the exact wire bytes of the protocol exec_infer calls there: the input
 * sharing (n*l bits, packed), each linear layer (the bytes of its plan on
 * the mode's linear back-end, lin/backend.h), each non-linear layer
 * (the nl_*_bytes functions, with the lanes' split and padding, the max
 * pools' NL_POOL_TREE and the NL_POOL_NONNEG flag exec_nonneg_tensors
 * derives), the ArgMax that --reveal label appends, and the reveal of the
 * server's output share (m*l bits). Local layers (additions, data
 * movement, constants) cost nothing. The set-up before exec_infer (the
 * base OTs of every lane, the HE keys) is reported apart.
 *
 * Every figure is exact: the sum is what the lanes' channels count during
 * exec_infer (both directions), which tests/test_nn_models.c and the
 * conformance cases check against the executor. Not counted: the session's
 * control connection (hellos, the public model, the server's report; a few
 * hundred bytes plus the model's public encoding).
 *
 * On the silent OT backend the figures are the OTs' own bytes, exact, and
 * `cots` counts the silent COTs they consume; making them costs `gen`
 * more, amortised (cots * ferret_batch_bytes / ferret_usable, rounded up).
 * A run makes whole batches where a lane's direction runs out, and one
 * ahead where an exchange leaves it short and its budget wants more
 * (cost_session_budgets; docs/PROTOCOLS.md §2.4): it
 * sends exactly gen_made for them, the batches the flight model's walk of
 * the schedule makes, which the executor reports apart
 * (exec_layer_stat.gen_*).
 *
 * The critical flights come from the flight model the same walk drives
 * (cost_layer_flights for the linear layers); they are a prediction of
 * the schedule, not of the clock: see docs/NETWORK.md. */
#ifndef PARLEY_NN_COST_H
#define PARLEY_NN_COST_H

#include "nn/qnet.h"
#include "ot/ferret.h"
#include "ot/lane.h"
#include "ot/vole4.h"

typedef struct cost_opts {
    int mode;                    /* MODE_OT or MODE_HE (nn/hello.h) */
    unsigned lanes;              /* 1..LANES_MAX */
    int reveal_label;            /* as exec_opts.reveal_label */
    int ot;                      /* OT_BACKEND_IKNP (0) or OT_BACKEND_SILENT */
    const ferret_params *ferret; /* silent: NULL = FERRET_DEFAULT */
    /* silent: the lanes' 4-bit VOLE pools for the millionaire's leaves
     * (ot_lane_opts.vole4; NULL: none, the leaves on COTs) */
    const vole4_params *vole4;
} cost_opts;

typedef struct cost_report {
    unsigned nlayers;
    uint64_t *layer;            /* bytes of each layer, both directions (mem_free) */
    uint64_t *layer_cots;       /* silent: COTs each layer consumes (mem_free) */
    uint64_t input;             /* the client's input shares */
    uint64_t label;             /* reveal_label: the ArgMax over the output's last axis */
    uint64_t reveal;            /* the server's share of the output (or of the labels) */
    uint64_t total;             /* input + layers + label + reveal: all of exec_infer */
    uint64_t setup;             /* before exec_infer: base OTs on every lane (silent: and
                                 * the first base COTs), HE keys */
    uint64_t cots;              /* silent: the COTs of exec_infer */
    uint64_t corrs;             /* silent, cost_opts.vole4: the 4-bit VOLE correlations of
                                 * exec_infer (one per leaf OT; not in cots) */
    uint64_t gen;               /* silent: their making, amortised (above) */
    uint64_t gen_made;          /* silent: the batches the run makes, whole (above) */
    uint64_t linear, nonlinear; /* layer bytes of CONV/FC/SCALE, and of the others */
    uint64_t by_kind[QOP_END_]; /* layer bytes per kind */
    /* HE mode: coefficients the linear layers return (cost_he_outputs), and
     * the statistical security of the inference in bits, -log2 of the union
     * bound over all of them (docs/SECURITY-HE.md; >= 40) */
    uint64_t he_outputs;
    double he_stat_bits;
    /* Critical flights (mpc/flights.h): one-way messages on the longest
     * chain of waits, lanes side by side, with no computation; the
     * latency of a run is about flights times the one-way delay. */
    uint64_t *layer_flights; /* of each layer (mem_free) */
    uint64_t flights;        /* all of exec_infer: input, layers, label, reveal */
    /* Bytes each party sends ([MPC_SERVER], [MPC_CLIENT]), per layer and
     * in all, the silent COTs' batches where the flight model makes them
     * (so a layer's two sum to layer[i] plus its batches). */
    uint64_t (*layer_sent)[2]; /* (mem_free) */
    uint64_t sent[2];
} cost_report;

/* Fill r (cost_report_free it, also after an error). PARLEY_E_ARG for a
 * bad mode or lane count; PARLEY_E_UNSUPPORTED naming the first layer the
 * mode cannot run (HE: a layer outside the planner's or the noise budget's
 * limits; lin_he.h); PARLEY_E_NOMEM. net must have passed qnet_check (any
 * qnet from the importer or qnet_public_decode has). */
int cost_predict(cost_report *r, const qnet *net, const cost_opts *o) WUR;
void cost_report_free(cost_report *r);

/* The Ferret set a session of net with o's mode, lanes, reveal and OT
 * back-end runs (both parties alike; cost_predict uses it where
 * o->ferret is NULL): NULL (FERRET_DEFAULT), or FERRET_BOOT's small set
 * when the whole inference needs at most one of its batches per lane
 * direction. Such a session skips the production instance: no bootstrap
 * batch in the set-up, no 2.4 M-output batches and 55 MiB pools for a
 * model that uses a few hundred thousand COTs, and fewer bytes in all (its
 * batches replace the set-up's; docs/PROTOCOLS.md §2.4). With o->vole4
 * set it is always the default set. */
const ferret_params *cost_session_ferret(const qnet *net, const cost_opts *o);
/* What the consumers of each lane's pools take during the inference (the
 * flight model's walk without budgets, o->ferret as the session runs it:
 * cost_session_ferret's): the budgets a session on the silent backend
 * gives its pools right after its set-up (party_set_budgets), and which
 * cost_predict's walk applies, both parties alike. The 4-bit VOLE batches
 * of that walk all take their tree COTs, so a COT budget may exceed what a
 * budgeted run takes by the trees of a correlations' batch it no longer
 * makes: at worst a batch more, as without budgets. */
int cost_session_budgets(const qnet *net, const cost_opts *o, ot_budgets *out) WUR;
/* The 4-bit VOLE set of a session on backend ot whose hello agreed
 * `leaves` (LEAVES_*, nn/hello.h): VOLE4_H10K18 for LEAVES_VOLE4 on the
 * silent backend, else NULL. */
const vole4_params *cost_session_vole4(int ot, unsigned leaves);

/* The coefficients an HE-mode inference of net returns: one per output of
 * each linear layer (batch included). What both parties declare to the HE
 * session (lin_he_set_outputs) so that its flood covers the whole
 * inference. */
uint64_t cost_he_outputs(const qnet *net);

#endif
