/* The server's local part of a linear layer, W*x_S, in the clear.
 *
 * Products mod 2^64 (uint64_t wraps), so the caller reduces mod 2^l once
 * at the end. Convolutions go through a bounded im2col panel (a tile of
 * output positions at a time, at most a few MiB whatever the image size)
 * and a register-blocked product; lin_*_plain in src/lin is the reference
 * they are tested against. */
#ifndef PARLEY_LIN_OT_LOCAL_H
#define PARLEY_LIN_OT_LOCAL_H

#include "lin/lin.h"

/* y (lin_conv_out_size) = conv(x, w) mod 2^64; c checked. PARLEY_E_NOMEM. */
int lin_local_conv(uint64_t *y, const uint64_t *x, const lin_conv *c, const uint64_t *w) WUR;
/* y (N x O) = x (N x K) * w^T (w: O x K) mod 2^64. */
void lin_local_fc(uint64_t *y, const uint64_t *x, const lin_fc *f, const uint64_t *w);
/* y[n,c,s] = g[c] * x[n,c,s] mod 2^64. */
void lin_local_scale(uint64_t *y, const uint64_t *x, const lin_scale *s, const uint64_t *g);

#endif
