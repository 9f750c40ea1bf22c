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

/* Encode a float input, run, and decode the output to floats (values /
 * 2^scale; ArgMax indices as they are). *y is allocated with the output's
 * shape (nn_tensor_free). */
int ref_run_float(const qnet *net, nn_tensor *y, const nn_tensor *x) WUR;

#endif
