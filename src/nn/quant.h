/* Quantization: a float graph (graph.h) to the integer program (qnet.h),
 * per docs/PROTOCOLS.md §0 at ring width l and scale s:
 *   - weights round(w * 2^s), biases round(b * 2^2s), constants added to a
 *     tensor round(c * 2^s), rounding half away from zero; each must fit in
 *     l signed bits;
 *   - every CONV/FC/SCALE output (scale 2s) is truncated by s right after
 *     the layer: a RELU_TRUNC when the output feeds only a Relu (and is not
 *     the network output), else a TRUNC;
 *   - every linear layer's wbits (the public bound on its weights' signed
 *     width, part of the public model) is one public policy: quant_wbits(l,
 *     s), or the server's explicit choice. It is never measured from the
 *     weights (that would tell the client a statistic of them); the
 *     weights are checked against it and a model whose weights exceed it
 *     is refused, naming the node and the weight's index.
 * l must be 8..64 and leave head-room: 2s + 2 <= l. Errors name the node. */
#ifndef PARLEY_NN_QUANT_H
#define PARLEY_NN_QUANT_H

#include "nn/graph.h"

/* The default policy, per kind of linear layer (its traits' wlog2): real
 * weights of magnitude below 2^wlog2, i.e. wbits = s + wlog2 + 1 signed
 * bits at scale s, at most l. Convolutions and fully-connected layers,
 * batch norms folded in: |w| < 8 (s + 4 bits; the ImageNet networks of
 * docs/BENCHMARKS.md need at most s + 1). Per-channel scales (a batch norm
 * that could not be folded, a Mul by a constant): |g| < 2048 (s + 12 bits;
 * gamma / sigma grows large where a channel's variance is small, and these
 * layers are a small part of the bytes). docs/BENCHMARKS.md gives what the
 * policy costs. */
unsigned quant_wbits(unsigned l, unsigned s, qop op);

/* wbits: 1..l for every linear layer, or 0 for quant_wbits(l, s, kind). */
int quant_net(qnet **out, const fgraph *g, unsigned l, unsigned s, unsigned wbits) WUR;

#endif
