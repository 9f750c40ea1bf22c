/* Quantization: a float graph (graph.h) to the integer program (qnet.h),
 * per PROTOCOLS.md §0 at ring width l and scale s:
 *   - weights round(w * 2^s), biases round(b * 2^2s), constants added to a
 *     tensor round(c * 2^s), rounding half away from zero; each must fit in
 *     l signed bits;
 *   - every CONV/FC/SCALE output (scale 2s) is truncated by s right after
 *     the layer: a RELU_TRUNC when the output feeds only a Relu (and is not
 *     the network output), else a TRUNC;
 *   - each linear layer's wbits = lin_weight_bits of its quantized weights,
 *     unless the caller gives one (the weights are then checked against it).
 * l must be 8..64 and leave head-room: 2s + 2 <= l. Errors name the node. */
#ifndef PARLEY_NN_QUANT_H
#define PARLEY_NN_QUANT_H

#include "nn/graph.h"

/* wbits: 1..l, or 0 for the width the weights need. */
int quant_net(qnet **out, const fgraph *g, unsigned l, unsigned s, unsigned wbits) WUR;

#endif
