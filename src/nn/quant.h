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
 * (l, s) must be in the domain of quant_check_ls. A linear layer whose
 * weights are not all zero but all round to 0 is refused (its output would
 * be its bias alone). Errors name the node. */
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

/* The (l, s) parley accepts, one rule for every command (plain, run, serve,
 * inspect) and for the public model a client receives:
 *   8 <= l <= 64, and 1 <= s <= (l - 2) / 2.
 * Products of two values at scale s have scale 2s and need 2 bits of
 * head-room (2s + 2 <= l); s = 0 keeps no fraction at all (every weight in
 * (-0.5, 0.5) becomes 0). PARLEY_E_ARG with a message giving the allowed
 * ranges. */
int quant_check_ls(unsigned l, unsigned s) WUR;

/* Notes for the user (fgraph_note) on the precision of the weights at scale
 * s: one line per linear node whose weights lose more than 5% (relative
 * RMS) to rounding, with the error and the advice to raise --scale. */
int quant_precision_notes(fgraph *g, unsigned s) WUR;

/* wbits: 1..l for every linear layer, or 0 for quant_wbits(l, s, kind). */
int quant_net(qnet **out, const fgraph *g, unsigned l, unsigned s, unsigned wbits) WUR;

#endif
