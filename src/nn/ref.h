/* nn/ref: the plaintext fixed-point interpreter, the oracle the secure
 * executor is tested against. It walks a qnet with weights layer by layer
 * with the plaintext definitions of src/lin (lin_*_plain) and src/nl
 * (nl_*_plain), so there is one semantics (qnet.h, docs/PROTOCOLS.md §0).
 * Tensor buffers are freed after their last reader (qstore). */
#ifndef PARLEY_NN_REF_H
#define PARLEY_NN_REF_H

#include "nn/qnet.h"

/* Run the net on the encoded input x (net->t[net->input].size elements
 * mod 2^l). *out (net->t[net->output].size elements) is the caller's to
 * mem_free. peak (may be NULL) gets the most tensor elements held at once. */
int ref_run(const qnet *net, uint64_t **out, uint64_t *peak, const uint64_t *x) WUR;

/* One step: compute layer i's output into st (its inputs must be there);
 * the caller then calls qstore_done. For tools that look at every tensor. */
int ref_layer(const qnet *net, qstore *st, unsigned i) WUR;

/* The same run, checked: every value a layer forms (its outputs, and the
 * window sums an average pool forms before dividing) must be in the ring's
 * signed range, -2^(l-1) <= v < 2^(l-1), the range on which the secure
 * protocols compute what the fixed-point semantics mean (docs/MODELS.md,
 * "Range"). The net runs on exact 64-bit values (a twin at l = 64, private
 * arrays sign-extended), each layer first certified exact by its kind's
 * reach bound (kind.h; a bound of 2^62 or more is refused as unverifiable),
 * then its output compared with the range. A value outside it fails with
 * PARLEY_E_RANGE naming the layer, the magnitude, by how many bits it is out
 * and the --bits it needs; otherwise *out equals ref_run's, bit for bit. */
int ref_run_checked(const qnet *net, uint64_t **out, const uint64_t *x) WUR;

/* Encode a float input, run, and decode the output to floats (values /
 * 2^scale; ArgMax indices as they are). *y is allocated with the output's
 * shape (nn_tensor_free). */
int ref_run_float(const qnet *net, nn_tensor *y, const nn_tensor *x) WUR;
/* The same, with ref_run_checked if checked. */
int ref_run_float_ex(const qnet *net, nn_tensor *y, const nn_tensor *x, int checked) WUR;

/* The largest magnitude of n 64-bit ring values read as signed, exactly
 * (as unsigned). */
uint64_t ref_wide_max(const uint64_t *v, size_t n);

#endif
