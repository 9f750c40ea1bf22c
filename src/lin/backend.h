/* One interface for the secure linear layers, whatever computes them.
 *
 * A back-end (lin/ot over correlated OT, lin/he over RLWE) is a table of
 * operations, chosen once per session from the session's mode (nn/exec.h,
 * exec_lin_ops: the only place that looks at the mode). A lin_backend is
 * the table and the back-end's session state (e.g. the HE keys):
 *
 *   setup     the session's set-up, both parties, before the first layer
 *             (HE: the client's keys); teardown frees what it made, and
 *             setup_cost prices it (bytes, and its flights in the model).
 *             A back-end without session state leaves the three NULL.
 *   set_outputs, stat_bits  a back-end whose statistical security is spent
 *             per returned value (HE's flood): the session declares how
 *             many values all its linear layers return, before the first
 *             one, and reads what the run spent. NULL for one whose views
 *             are exactly simulatable (OT).
 *   plan  from public data alone (the shape, l), alike on both sides: the
 *         checked shape, the exact wire bytes of the run, and whatever the
 *         run needs (OT: the cheaper orientation's geometry; HE: the
 *         ciphertext packing). Pricing a layer (the cost model) is planning
 *         it and reading plan->bytes.
 *   run   one layer on shares: S passes its weights w, C passes NULL; both
 *         pass their share x and get their share y of W*x mod 2^l (y must
 *         not overlap x). The bias is not part of it.
 *   free  the plan.
 *   flights  replay run's messages in the flight model (critical flights).
 *
 * Callers above src/lin use the lin_* functions below, which also hold the
 * rules every back-end shares: S's weights must fit the public wbits
 * (checked before anything is sent; if not, S aborts its lanes, so C stops
 * with PARLEY_E_CLOSED instead of waiting, and S keeps a message naming the
 * weight's index); a shape or l the back-end cannot take fails on both
 * sides alike, before any byte. Adding a back-end: implement the
 * operations (docs/ARCHITECTURE.md). */
#ifndef PARLEY_LIN_BACKEND_H
#define PARLEY_LIN_BACKEND_H

#include "lin/lin.h"
#include "mpc/flights.h"
#include "mpc/party.h"

/* What every back-end's plan starts with (back-ends extend it). */
typedef struct lin_plan {
    lin_shape s;    /* checked copy (a convolution's OH, OW filled) */
    unsigned l;     /* ring width */
    uint64_t bytes; /* exact wire bytes of run: both directions, all lanes */
    double h2;      /* squared Hellinger bound of what run reveals (HE: the
                     * layer's outputs times the flood's bound per output,
                     * which add up over a session, he_stat_bits_of; 0 for
                     * OT, whose views are exactly simulatable) */
    /* S: what identifies the weights to a back-end's prepared weights
     * (use_prepared), NULL: the weights' address. Set by lin_run_keyed
     * for weights made afresh each run (merged siblings, nn/exec.h). */
    const uint64_t *wkey;
} lin_plan;

typedef struct lin_ops {
    const char *name; /* "OT", "HE": the mode's name in messages */
    /* The session's set-up on p's lanes (both parties): *ctx gets the
     * session state. PARLEY_E_* with the message set; nothing to tear down
     * then. */
    int (*setup)(party *p, void **ctx);
    /* Free the session state, wiping its secrets. NULL is fine. */
    void (*teardown)(void *ctx);
    /* The set-up's wire bytes, both directions. fs (if not NULL): replay
     * its messages in the flight model without their bytes (the set-up is
     * reported apart from the inference). */
    uint64_t (*setup_cost)(fsim *fs);
    /* Declare the values all the session's linear layers will return
     * (before the first layer; ctx: the session state), and the
     * statistical security of what the session returned so far, bits
     * (infinity before any layer). */
    void (*set_outputs)(void *ctx, uint64_t outs);
    double (*stat_bits)(const void *ctx);
    /* The model's weights made ready before the session (the back-end's
     * own object, e.g. HE's transformed weight polynomials): S's layers
     * whose weights it holds read them from prep instead of making them.
     * NULL for a back-end without such work. */
    void (*use_prepared)(void *ctx, const void *prep);
    /* PARLEY_E_ARG (bad shape, l, wbits > l) or PARLEY_E_UNSUPPORTED
     * naming the limit; *out is freed with free. ctx: the session state
     * (may be NULL when only pricing); outs: lin_backend's. */
    int (*plan)(void *ctx, uint64_t outs, lin_plan **out, const lin_shape *s, unsigned l);
    int (*run)(void *ctx, party *p, const lin_plan *pl, uint64_t *y, const uint64_t *x,
               const uint64_t *w);
    void (*free)(lin_plan *pl);
    /* The flight model (mpc/flights.h): replay run's messages on `lanes`
     * lanes, from the plan alone. */
    void (*flights)(const lin_plan *pl, unsigned lanes, fsim *fs);
    /* Who sends the millionaire's leaf OTs in the session's non-linear
     * layers (mpc_lane.leaf_sender, mill.h): the party whose inputs are
     * ready later, so that the other's first message leaves at once. HE:
     * MPC_CLIENT (S's share of a layer's output is its own mask, known
     * before C has decrypted); 0 (MPC_SERVER) otherwise. */
    int leaf_sender;
} lin_ops;

typedef struct lin_backend {
    const lin_ops *ops;
    void *ctx;
    /* Outputs all the session's linear layers return together: a back-end
     * whose statistical security is spent per returned value (HE's flood)
     * spreads its 2^-40 over them (docs/SECURITY-HE.md). 0: the back-end's
     * default for a session of unknown size. */
    uint64_t outs;
} lin_backend;

/* The session's back-end: *be = ops with its session state, after ops'
 * set-up on p (both parties, before the first layer; none for a back-end
 * without state). On error *be holds nothing to tear down. */
int lin_setup(lin_backend *be, const lin_ops *ops, party *p) WUR;
/* Free the session state (wiping it); *be is empty after. */
void lin_teardown(lin_backend *be);
/* Wire bytes of ops' set-up (0 without one), replayed in fs (if not NULL)
 * as its setup_cost says. */
uint64_t lin_setup_cost(const lin_ops *ops, fsim *fs);
/* Whether the back-end spends statistical security per returned value
 * (set_outputs, stat_bits). */
static inline int lin_spends_outputs(const lin_ops *ops) { return ops->set_outputs != NULL; }
/* Declare the outputs of all the session's linear layers: be->outs, and
 * the session state's if it has one (before the first layer). */
void lin_set_outputs(lin_backend *be, uint64_t outs);
/* S: the session's layers use prep, the model's weights made ready by
 * the back-end before the session (NULL: none; ignored by a back-end
 * without such work). Before the first layer. */
void lin_use_prepared(lin_backend *be, const void *prep);
/* The statistical security of what the session returned so far, bits: 0
 * for a back-end that does not spend it per value (its views are exact),
 * or with no session state. */
double lin_stat_bits(const lin_backend *be);

/* Plan, check S's weights, run, free: one layer. */
int lin_run(const lin_backend *be, party *p, uint64_t *y, const uint64_t *x, const lin_shape *s,
            const uint64_t *w, unsigned l) WUR;
/* lin_run with the weights known to prepared weights as `key` (S; the
 * address of weights that outlive the session) instead of w's address. */
int lin_run_keyed(const lin_backend *be, party *p, uint64_t *y, const uint64_t *x,
                  const lin_shape *s, const uint64_t *w, const uint64_t *key, unsigned l) WUR;
/* Check S's weights against the plan's wbits, then run the plan. */
int lin_run_plan(const lin_backend *be, party *p, const lin_plan *pl, uint64_t *y,
                 const uint64_t *x, const uint64_t *w) WUR;
/* Exact wire bytes of a layer (plan and free), or the plan's error; h2
 * (optional) gets the plan's squared Hellinger bound. */
int lin_bytes(const lin_backend *be, uint64_t *bytes, double *h2, const lin_shape *s,
              unsigned l) WUR;
/* The same, also replaying the layer on `lanes` lanes in the flight model
 * fs (if not NULL). */
int lin_cost(const lin_backend *be, uint64_t *bytes, double *h2, const lin_shape *s, unsigned l,
             unsigned lanes, fsim *fs) WUR;

#endif
