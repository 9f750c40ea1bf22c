/* The small convolution whose server side fuzz_he_peer runs on the bytes it
 * is given, and whose honest client stream gen_he_corpus writes into the
 * seed corpus: one definition, so the two cannot drift apart. */
#ifndef PARLEY_FUZZ_HE_PEER_CONV_H
#define PARLEY_FUZZ_HE_PEER_CONV_H

#include "lin/lin.h"

#define HE_PEER_L 16 /* ring width */

static inline lin_conv he_peer_conv(void) {
    /* 2x3x3 input, 2 output channels, 3x3 kernel, padding 1, 4-bit weights */
    return (lin_conv){.N = 1, .C = 2, .H = 3, .W = 3, .O = 2, .kh = 3, .kw = 3, .sh = 1, .sw = 1,
                      .pt = 1, .pl = 1, .pb = 1, .pr = 1, .dh = 1, .dw = 1, .groups = 1,
                      .wbits = 4};
}

#endif
