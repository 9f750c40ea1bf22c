/* The plaintext semantics of the non-linear layers (docs/PROTOCOLS.md §0): the
 * definition the secure protocols of src/nl are tested against and the
 * reference interpreter (src/nn) runs. Values are ring elements mod 2^l
 * (1 <= l <= 64) read as signed integers.
 *
 *   relu     y = max(0, signed(x))
 *   trunc    y = floor(signed(x) / 2^s)                (arithmetic shift)
 *   div      y = floor(signed(x) / d), d >= 1 public
 *   maxpool  max of signed values over the window's in-image positions;
 *            padded positions are skipped
 *   avgpool  floor(sum of the window / d) with d from nl_pool_divisor
 *   argmax   index of the first maximum of each row
 *
 * Pool windows follow ONNX (and PyTorch, which exports to it): output size
 * floor((H + pt + pb - ((kh-1)*dh + 1)) / sh) + 1, or its ceiling with
 * ceil_mode, where a last window that would start at or past H + pt (in the
 * right padding) is dropped. Every window must hold at least one in-image
 * position (nl_pool_check). */
#ifndef PARLEY_NL_PLAIN_H
#define PARLEY_NL_PLAIN_H

#include "util/err.h"

#include <stddef.h>
#include <stdint.h>

typedef struct nl_pool {
    unsigned N, C, H, W;        /* input NCHW */
    unsigned kh, kw;            /* window */
    unsigned sh, sw;            /* strides (>= 1) */
    unsigned pt, pl, pb, pr;    /* padding: top, left, bottom, right */
    unsigned dh, dw;            /* dilations (>= 1) */
    unsigned ceil_mode;         /* 0/1 */
    unsigned count_include_pad; /* avgpool only: 0/1 */
    unsigned OH, OW;            /* output size, filled in by nl_pool_check */
} nl_pool;

/* Validate and compute OH, OW; PARLEY_E_ARG with a message naming the
 * problem (zero sizes, pads not smaller than the window, an empty window). */
int nl_pool_check(nl_pool *p) WUR;
size_t nl_pool_in_size(const nl_pool *p);
size_t nl_pool_out_size(const nl_pool *p);

/* The in-image positions of the window of output (i, j): rows [*r0, *r1)
 * stepping by dh and columns [*c0, *c1) stepping by dw, given as the first
 * and one-past-last window offsets a, b (row = i*sh - pt + a*dh). */
void nl_pool_window(const nl_pool *p, unsigned i, unsigned j, unsigned *a0, unsigned *a1,
                    unsigned *b0, unsigned *b1);
/* The divisor of average pooling at output (i, j): kh*kw clipped to the
 * padded image (H + pt + pb, W + pl + pr) with count_include_pad, else the
 * number of in-image positions of the window. */
uint64_t nl_pool_divisor(const nl_pool *p, unsigned i, unsigned j);

void nl_relu_plain(uint64_t *y, const uint64_t *x, size_t n, unsigned l);
void nl_trunc_plain(uint64_t *y, const uint64_t *x, size_t n, unsigned l, unsigned s);
/* ReLU, then truncation by s (they commute exactly): nl_relu_trunc's twin. */
void nl_relu_trunc_plain(uint64_t *y, const uint64_t *x, size_t n, unsigned l, unsigned s);
void nl_div_plain(uint64_t *y, const uint64_t *x, size_t n, unsigned l, uint64_t d);
void nl_maxpool_plain(uint64_t *y, const uint64_t *x, const nl_pool *p, unsigned l);
void nl_avgpool_plain(uint64_t *y, const uint64_t *x, const nl_pool *p, unsigned l);
/* idx[r] = index of the first maximum of row r of x (rows x cols). */
void nl_argmax_plain(uint64_t *idx, const uint64_t *x, size_t rows, size_t cols, unsigned l);

#endif
