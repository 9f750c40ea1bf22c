/* Linear layers over correlated OT (docs/PROTOCOLS.md §6, CrypTFlow2's SCI_OT).
 *
 * W*x on shares, W the server's (S): W*x = W*x_S + W*x_C. S computes W*x_S
 * locally (src/lin/ot/local.c); W*x_C is a sum of products, one COT per bit:
 *
 *   orientation A  C is the COT receiver. For every input entry x_C[k] that
 *                  some output reads and every bit i < l of it, one COT with
 *                  choice bit i of x_C[k] whose correlations are the
 *                  weights of column k of the layer's matrix (W[o,k] for
 *                  every output o that reads x[k]) times 2^i: only the low
 *                  l - i bits of W mod 2^(l-i) are sent. Per entry
 *                  l*128 + M*l(l+1)/2 bits (M = the outputs reading it):
 *                  703 bits per multiply-accumulate at l = 37.
 *   orientation B  S is the COT receiver. For every weight that some output
 *                  uses and every bit t < wbits of its two's complement
 *                  (bit wbits-1 weighs -2^(wbits-1)), one COT with that bit
 *                  as choice whose correlations are C's shares of the
 *                  inputs the weight multiplies times 2^t, l - t bits each.
 *                  Per weight wbits*128 + M*(wbits*l - wbits(wbits-1)/2)
 *                  bits: cheaper whenever wbits < about (l+1)/2 and the
 *                  weights are reused over many outputs.
 *
 * Zero padding and input entries or kernel taps that no output reads are
 * public and cost nothing. Each COT's sender keeps -2^bit * x, its receiver
 * x + c*delta; summed into the output positions they give additive shares
 * of W*x_C. Both parties pick the same orientation from public data alone:
 * the exact wire bytes of each (lin_ot_*_bytes), the cheaper one (A on a
 * tie), unless the caller forces one.
 *
 * The back-end (backend.h) plans each layer in the cheaper orientation:
 * both parties pick it from public data alone, the exact wire bytes of
 * each (A on a tie); lin_ot_plan can force one. The run takes the party
 * first; S passes its weights w (C passes NULL); both pass the same plan
 * and their share x; both get their share y of W*x mod 2^l (y must not
 * overlap x). The bias is not part of it: S adds the bias to its y,
 * nothing else is needed. The entries are split across the party's lanes
 * in groups that are whole multiples of 128 OTs, so the bytes do not
 * depend on the number of lanes. Flights: one each way per lane (the lanes
 * run in parallel); wire bytes exactly the plan's. Memory per lane: one
 * accumulator of the output's size plus O(M) and the OT buffers (about 2
 * MiB), whatever the number of OTs.
 *
 * Errors: PARLEY_E_ARG for a bad shape, l (1..64), wbits > l or
 * orientation, on both sides alike before anything is sent (and, from
 * lin_run, weights outside the declared wbits: backend.h);
 * PARLEY_E_NOMEM; channel errors. */
#ifndef PARLEY_LIN_OT_LIN_OT_H
#define PARLEY_LIN_OT_LIN_OT_H

#include "lin/backend.h"

enum { LIN_OT_AUTO = 0, LIN_OT_A = 1, LIN_OT_B = 2 };

/* The OT back-end: plans in the cheaper orientation; no session state. */
extern const lin_ops lin_ot_ops;
static inline lin_backend lin_ot_backend(void) {
    return (lin_backend){&lin_ot_ops, NULL, 0};
}

/* A plan in the given orientation (LIN_OT_A, LIN_OT_B) or the cheaper one
 * (LIN_OT_AUTO); both parties must ask for the same. Cost: O(entries of
 * the orientations priced), no communication. Free with lin_ot_ops.free;
 * run with lin_run_plan. A valid layer whose outputs all read only padding
 * has bytes 0 (nothing is sent). */
int lin_ot_plan(lin_plan **out, const lin_shape *s, unsigned l, int orientation) WUR;
/* The orientation a plan runs (LIN_OT_A or LIN_OT_B). */
int lin_ot_plan_orientation(const lin_plan *pl);

#endif
