/* Softmax over one axis of a secret-shared tensor (docs/MODELS.md, "Exp,
 * Reciprocal and Softmax"), from the protocols of nl.h and act2.h; the
 * result reconstructs to exactly what nl_softmax_plain computes on the
 * reconstructed input, for every input.
 *
 * The tensor is outer x cols x inner (row-major); each of the outer *
 * inner rows of cols elements (stride inner) at scale s is replaced by
 *   m = max of the row            (nl_maxpool, a tree of comparisons)
 *   e_j = exp(x_j - m)            (nl_exp: x_j - m <= 0, its domain)
 *   S = sum_j e_j                 (local; in [2^(s-1), cols 2^s])
 *   r = 1 / S                     (nl_recip on [2^(s-1), 2^(s+c+1)),
 *                                  c = ceil(log2 cols))
 *   y_j = floor(e_j r / 2^s)      (nl_mul_trunc)
 * Needs s >= 6 and l >= s + max(5, c + 3) (nl_softmax_check).
 *
 *   cost                          flights
 *   maxpool (tree, one window of cols per row) + exp(n) + recip(rows)
 *   + mul_trunc(n, s): each stage's bytes, exactly (nl_softmax_bytes)
 *                                 their sum, one stage after another */
#ifndef PARLEY_NL_ACT3_H
#define PARLEY_NL_ACT3_H

#include "mpc/otb.h"
#include "nl/plain.h"

int nl_softmax_check(size_t cols, unsigned l, unsigned s) WUR;
int nl_softmax(party *p, uint64_t *y, const uint64_t *x, size_t outer, size_t cols, size_t inner,
               unsigned l, unsigned s) WUR;
/* The plaintext twin; PARLEY_E_ARG as nl_softmax_check, PARLEY_E_NOMEM. */
int nl_softmax_plain(uint64_t *y, const uint64_t *x, size_t outer, size_t cols, size_t inner,
                     unsigned l, unsigned s) WUR;
/* Exact wire bytes as nl.h's *_bytes; 0 for arguments nl_softmax refuses. */
uint64_t nl_softmax_bytes(const ot_costing *oc, size_t outer, size_t cols, size_t inner,
                          unsigned l, unsigned s, unsigned lanes);

#endif
