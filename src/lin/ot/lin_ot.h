/* Linear layers over correlated OT (PROTOCOLS.md §6, CrypTFlow2's SCI_OT).
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
 * Calls: party first; S passes its weights w (C passes NULL); both pass the
 * same shape and l (1..64) and their share x; both get their share y of
 * W*x mod 2^l (y must not overlap x). The bias is not part of it: S adds
 * the bias to its y, nothing else is needed. The entries are split across
 * the party's lanes in groups that are whole multiples of 128 OTs, so the
 * bytes do not depend on the number of lanes. Flights: one each way per
 * lane (the lanes run in parallel); wire bytes exactly lin_ot_*_bytes.
 * Memory per lane: one accumulator of the output's size plus O(M) and the
 * OT buffers (about 2 MiB), whatever the number of OTs.
 *
 * Errors: PARLEY_E_ARG for a bad shape, l, wbits > l, orientation, or
 * weights outside the declared wbits (S only: S then aborts its lanes'
 * channels so C stops with PARLEY_E_CLOSED instead of waiting);
 * PARLEY_E_NOMEM; channel errors. */
#ifndef PARLEY_LIN_OT_LIN_OT_H
#define PARLEY_LIN_OT_LIN_OT_H

#include "lin/lin.h"
#include "mpc/party.h"

enum { LIN_OT_AUTO = 0, LIN_OT_A = 1, LIN_OT_B = 2 };

int lin_ot_conv(party *p, uint64_t *y, const uint64_t *x, const lin_conv *c, const uint64_t *w,
                unsigned l) WUR;
int lin_ot_fc(party *p, uint64_t *y, const uint64_t *x, const lin_fc *f, const uint64_t *w,
              unsigned l) WUR;
int lin_ot_scale(party *p, uint64_t *y, const uint64_t *x, const lin_scale *s, const uint64_t *g,
                 unsigned l) WUR;

/* The same with the orientation forced (LIN_OT_A, LIN_OT_B) or LIN_OT_AUTO;
 * both parties must pass the same. */
int lin_ot_conv_as(party *p, uint64_t *y, const uint64_t *x, const lin_conv *c, const uint64_t *w,
                   unsigned l, int orientation) WUR;
int lin_ot_fc_as(party *p, uint64_t *y, const uint64_t *x, const lin_fc *f, const uint64_t *w,
                 unsigned l, int orientation) WUR;
int lin_ot_scale_as(party *p, uint64_t *y, const uint64_t *x, const lin_scale *s, const uint64_t *g,
                    unsigned l, int orientation) WUR;

/* Exact wire bytes of a layer, both directions and all lanes together, in
 * the given orientation (LIN_OT_AUTO: the one the layer would pick). 0 for
 * an invalid shape, l or orientation (or if memory for the geometry tables
 * runs out), and for a valid layer whose outputs all read only padding
 * (nothing is sent). Cost: O(entries of the orientation), no
 * communication. */
uint64_t lin_ot_conv_bytes(const lin_conv *c, unsigned l, int orientation);
uint64_t lin_ot_fc_bytes(const lin_fc *f, unsigned l, int orientation);
uint64_t lin_ot_scale_bytes(const lin_scale *s, unsigned l, int orientation);

/* For the flight model (mpc/flights.h): the extension chunks of the
 * busiest of `lanes` lanes in the orientation AUTO picks, who extends them
 * (*receiver: MPC_CLIENT in orientation A, MPC_SERVER in B) and the bytes
 * the receiver sends (*rx; the sender sends the rest of lin_ot_*_bytes);
 * each chunk costs about one flight. 0 (outputs untouched) for an invalid
 * layer or one that sends nothing. */
size_t lin_ot_conv_chunks(const lin_conv *c, unsigned l, unsigned lanes, int *receiver,
                          uint64_t *rx);
size_t lin_ot_fc_chunks(const lin_fc *f, unsigned l, unsigned lanes, int *receiver, uint64_t *rx);
size_t lin_ot_scale_chunks(const lin_scale *s, unsigned l, unsigned lanes, int *receiver,
                           uint64_t *rx);

/* The orientation AUTO picks (LIN_OT_A or LIN_OT_B); LIN_OT_A if invalid. */
int lin_ot_conv_pick(const lin_conv *c, unsigned l);
int lin_ot_fc_pick(const lin_fc *f, unsigned l);
int lin_ot_scale_pick(const lin_scale *s, unsigned l);

#endif
