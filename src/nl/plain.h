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
/* The offset in one channel's H x W plane of window position (a, b) of
 * output (i, j), for a, b in nl_pool_window's ranges. */
static inline size_t nl_pool_tap(const nl_pool *p, unsigned i, unsigned j, unsigned a, unsigned b) {
    size_t r = (size_t)i * p->sh - p->pt + (size_t)a * p->dh;
    size_t c = (size_t)j * p->sw - p->pl + (size_t)b * p->dw;
    return r * p->W + c;
}
/* The divisor of average pooling at output (i, j): kh*kw clipped to the
 * padded image (H + pt + pb, W + pl + pr) with count_include_pad, else the
 * number of in-image positions of the window. */
uint64_t nl_pool_divisor(const nl_pool *p, unsigned i, unsigned j);

/* Piecewise-linear activations with public constants (docs/MODELS.md,
 * "Piecewise-linear activations"), on x at some scale sc, mod 2^l:
 *   NL_ACT_CLIP    z = x
 *   NL_ACT_LEAKY   r = relu(x); z = r + floor(alpha * (x - r) / 2^shift)
 *   NL_ACT_HSIG    z = floor(alpha * x / 2^shift) + beta
 * then y = (lo + relu(z - lo) if has & NL_ACT_LO, else z)
 *          - (relu(z - hi) if has & NL_ACT_HI, else 0),
 * i.e. min(max(z, lo), hi) while every value stays in the signed range.
 * alpha is at scale `shift` (the net's s), beta, lo and hi at sc; every
 * constant a ring element mod 2^l, stored as two 32-bit words (the public
 * model carries 32-bit fields), low word first. */
enum { NL_ACT_CLIP = 1, NL_ACT_LEAKY, NL_ACT_HSIG };
enum { NL_ACT_LO = 1, NL_ACT_HI = 2 };
typedef struct nl_actp {
    unsigned op, has, shift;
    uint32_t alpha[2], beta[2], lo[2], hi[2];
} nl_actp;
static inline uint64_t nl_act_get(const uint32_t v[2]) {
    return v[0] | (uint64_t)v[1] << 32;
}
static inline void nl_act_set(uint32_t v[2], uint64_t c) {
    v[0] = (uint32_t)c;
    v[1] = (uint32_t)(c >> 32);
}
/* PARLEY_E_ARG unless a is well formed at l: a known op, has within
 * NL_ACT_LO | NL_ACT_HI (both for HSIG), shift < l, constants reduced mod
 * 2^l, lo <= hi (signed) when both are present. */
int nl_act_check(const nl_actp *a, unsigned l) WUR;
void nl_act_plain(uint64_t *y, const uint64_t *x, size_t n, unsigned l, const nl_actp *a);

void nl_relu_plain(uint64_t *y, const uint64_t *x, size_t n, unsigned l);
/* nl_relu_flip's twin: max(x, 0), or min(x, 0) where flip[i] & 1 (flip
 * may be NULL: none). */
void nl_relu_flip_plain(uint64_t *y, const uint64_t *x, const uint8_t *flip, size_t n, unsigned l);
void nl_trunc_plain(uint64_t *y, const uint64_t *x, size_t n, unsigned l, unsigned s);
/* ReLU, then truncation by s (they commute exactly): nl_relu_trunc's twin. */
void nl_relu_trunc_plain(uint64_t *y, const uint64_t *x, size_t n, unsigned l, unsigned s);
void nl_div_plain(uint64_t *y, const uint64_t *x, size_t n, unsigned l, uint64_t d);
void nl_maxpool_plain(uint64_t *y, const uint64_t *x, const nl_pool *p, unsigned l);
void nl_avgpool_plain(uint64_t *y, const uint64_t *x, const nl_pool *p, unsigned l);
/* The window sums mod 2^l (linear: also on shares, as nl_avgpool does). */
void nl_pool_sums(uint64_t *y, const uint64_t *x, const nl_pool *p, unsigned l);
/* idx[r] = index of the first maximum of row r of x (rows x cols). */
void nl_argmax_plain(uint64_t *idx, const uint64_t *x, size_t rows, size_t cols, unsigned l);

#endif
