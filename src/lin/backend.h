/* One interface for the secure linear layers, whatever computes them.
 *
 * A back-end (lin/ot over correlated OT, lin/he over RLWE) is a table of
 * three operations, chosen once per session (a lin_backend: the table and
 * the back-end's session state, e.g. the HE keys):
 *
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
 * Callers above src/lin use lin_run / lin_bytes, which also hold the rules
 * every back-end shares: S's weights must fit the public wbits (checked
 * before anything is sent; if not, S aborts its lanes, so C stops with
 * PARLEY_E_CLOSED instead of waiting, and S keeps a message naming the
 * weight's index); a shape or l the back-end cannot take fails on both
 * sides alike, before any byte. Adding a back-end: implement the three
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
    double sd;      /* statistical distance of what run reveals (HE: the
                     * layer's outputs times the flood's bound per output;
                     * 0 for OT, whose views are exactly simulatable) */
} lin_plan;

typedef struct lin_ops {
    const char *name;
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

/* Plan, check S's weights, run, free: one layer. */
int lin_run(const lin_backend *be, party *p, uint64_t *y, const uint64_t *x, const lin_shape *s,
            const uint64_t *w, unsigned l) WUR;
/* Check S's weights against the plan's wbits, then run the plan. */
int lin_run_plan(const lin_backend *be, party *p, const lin_plan *pl, uint64_t *y,
                 const uint64_t *x, const uint64_t *w) WUR;
/* Exact wire bytes of a layer (plan and free), or the plan's error; sd
 * (optional) gets the plan's statistical distance. */
int lin_bytes(const lin_backend *be, uint64_t *bytes, double *sd, const lin_shape *s,
              unsigned l) WUR;
/* The same, also replaying the layer on `lanes` lanes in the flight model
 * fs (if not NULL). */
int lin_cost(const lin_backend *be, uint64_t *bytes, double *sd, const lin_shape *s, unsigned l,
             unsigned lanes, fsim *fs) WUR;

#endif
