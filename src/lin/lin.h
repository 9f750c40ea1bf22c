/* Linear layers with the server's private weights: shapes and the plaintext
 * reference every secure implementation is tested against.
 *
 * A linear layer maps a tensor x (shared between the parties, values mod
 * 2^l) to W*x mod 2^l, where W belongs to the server (S). Shapes, the ring
 * width l and the weights' bit width `wbits` are public (part of the public
 * model description); the weight values are not. Bias, truncation and the
 * fixed-point scale are not part of these layers: the server adds a bias to
 * its share locally, and src/nl truncates.
 *
 * Secure implementations (same contract, same outputs), behind the one
 * interface of backend.h:
 *   src/lin/ot  COT-based (docs/PROTOCOLS.md §6, SCI_OT)
 *   src/lin/he  RLWE-based (docs/PROTOCOLS.md §7, HE mode)
 * S passes W, C passes NULL; both pass the same shape; both get their
 * additive share of the output.
 *
 * Layouts (row-major, C order):
 *   conv   x: N x C x H x W,  W: O x (C/groups) x kh x kw,  y: N x O x OH x OW
 *   fc     x: N x K,          W: O x K,                      y: N x O
 *   scale  x: N x C x S,      g: C,                          y[n,c,s] = g[c]*x[n,c,s]
 * Weights are signed integers stored mod 2^l with
 * -2^(wbits-1) <= signed(w) < 2^(wbits-1), 1 <= wbits <= l. */
#ifndef PARLEY_LIN_LIN_H
#define PARLEY_LIN_LIN_H

#include "util/err.h"

#include <stddef.h>
#include <stdint.h>

typedef struct lin_conv {
    unsigned N, C, H, W;     /* input: batch, channels, height, width */
    unsigned O;              /* output channels */
    unsigned kh, kw;         /* kernel */
    unsigned sh, sw;         /* strides (>= 1) */
    unsigned pt, pl, pb, pr; /* zero padding: top, left, bottom, right */
    unsigned dh, dw;         /* dilations (>= 1) */
    unsigned groups;         /* C and O are multiples of it (C = O = groups: depthwise) */
    unsigned wbits;          /* public bound on the weights' signed bit width */
    unsigned OH, OW;         /* output size, filled in by lin_conv_check */
} lin_conv;

typedef struct lin_fc {
    unsigned N, K, O;
    unsigned wbits;
} lin_fc;

typedef struct lin_scale {
    unsigned N, C, S; /* S = elements per channel (H*W) */
    unsigned wbits;
} lin_scale;

/* Any linear layer: its kind and its shape. Code above src/lin (the
 * network's layers, the cost model) holds one of these and never looks at
 * the kind; the functions below and the back-ends (backend.h) do. */
typedef enum lin_kind { LIN_CONV, LIN_FC, LIN_SCALE, LIN_KINDS_ } lin_kind;
typedef union lin_params {
    lin_conv conv;
    lin_fc fc;
    lin_scale scale;
} lin_params;
typedef struct lin_shape {
    lin_kind kind;
    lin_params p;
} lin_shape;

/* Validate a shape (non-zero sizes, group divisibility, the kernel fits in
 * the padded input, sizes whose products fit in size_t, 1 <= wbits <= 64)
 * and compute a convolution's OH, OW. PARLEY_E_ARG with a message naming
 * the problem. */
int lin_check(lin_shape *s) WUR;
int lin_conv_check(lin_conv *c) WUR;
int lin_fc_check(const lin_fc *f) WUR;
int lin_scale_check(const lin_scale *s) WUR;

/* "conv", "fc", "scale". */
const char *lin_kind_name(lin_kind k);
/* Element counts (after a successful check): input, output, weights. */
size_t lin_in_size(const lin_shape *s);
size_t lin_out_size(const lin_shape *s);
size_t lin_weight_count(const lin_shape *s);
size_t lin_conv_in_size(const lin_conv *c);
size_t lin_conv_out_size(const lin_conv *c);
size_t lin_conv_weight_size(const lin_conv *c);
/* Multiply-accumulates of the layer (for cost models and reports). */
uint64_t lin_macs(const lin_shape *s);
uint64_t lin_conv_macs(const lin_conv *c);
/* The output as rows of *nch channels of *per elements each (conv: O x
 * OH*OW; fc: O x 1; scale: C x S), repeated over the batch: a bias has one
 * value per channel. */
void lin_channels(const lin_shape *s, size_t *nch, size_t *per);
/* The public weight width of the shape, and a pointer to set it. */
unsigned lin_wbits(const lin_shape *s);
unsigned *lin_wbits_of(lin_params *p, lin_kind k);

/* The smallest wbits that holds every weight w[0..n-1] (mod 2^l) as a
 * signed integer. */
unsigned lin_weight_bits(const uint64_t *w, size_t n, unsigned l);
/* Whether every weight fits the shape's wbits; if not, *bad gets the index
 * of the first that does not (its index, never its value). */
int lin_weights_fit(const lin_shape *s, const uint64_t *w, unsigned l, size_t *bad);

/* Two convolutions that read the same input as one (docs/PROTOCOLS.md §7,
 * "Sibling convolutions as one"): *m gets a convolution whose output is
 * a's channels then b's, each output position reading the same input
 * window in both. That holds when both are dense (groups 1), undilated,
 * with the same batch, input, strides and output size, and each kernel
 * fits the union of the two windows (the smaller one is embedded with
 * zero taps, e.g. a 1x1 at the centre of a 3x3 padded by 1). m's wbits is
 * the larger, its kernel and padding the union's. 1 and *m checked, or 0
 * (m untouched) if they cannot merge. */
int lin_merge(lin_shape *m, const lin_shape *a, const lin_shape *b);
/* Write a's weights wa into output channels o_off .. o_off + a.O - 1 of
 * the merged weights wm (m from lin_merge, a one of what it merged, the
 * others' channels untouched; taps outside a's kernel left as they are:
 * zero wm first). */
void lin_merge_weights(uint64_t *wm, const lin_shape *m, unsigned o_off, const lin_shape *a,
                       const uint64_t *wa);

/* a(x_a) + b(x_b) as one convolution over the channels of both inputs. A
 * dense 1x1 convolution without padding or dilation is first read as the
 * 1x1 stride-1 convolution of its input subsampled by its strides (an
 * OH x OW image); then a and b must be dense undilated convolutions over
 * one input geometry (the same H, W and strides) with the same batch,
 * output channels and output size, and m is the convolution over their
 * a.C + b.C channels, a's first, each kernel at its place in the union of
 * the two windows (a ResNet50 shortcut: two 1x1s at strides 1 and 2; a
 * ResNet18 one: a 3x3 "same" convolution and a 1x1 of stride 2), with the
 * larger wbits. 1 and *m checked, or 0 (m untouched). docs/PROTOCOLS.md
 * §7, "A projection shortcut's sum as one convolution". */
int lin_sum_merge(lin_shape *m, const lin_shape *a, const lin_shape *b);
/* m's input (lin_in_size(m) values) from a's input xa and b's xb, each
 * subsampled where lin_sum_merge reads it so, channels side by side per
 * batch item. */
void lin_sum_input(uint64_t *xm, const lin_shape *m, const lin_shape *a, const uint64_t *xa,
                   const lin_shape *b, const uint64_t *xb);
/* m's weights (lin_weight_count(m); zero wm first: taps outside a kernel
 * are left as they are): a's wa on channels 0 .. a.C - 1 of every output
 * channel, b's wb after them. */
void lin_sum_weights(uint64_t *wm, const lin_shape *m, const lin_shape *a, const uint64_t *wa,
                     const lin_shape *b, const uint64_t *wb);

/* The plaintext product mod 2^l (1 <= l <= 64) that the executor's
 * plaintext runs use (parley plain, run's range check): convolutions and
 * fully connected layers by the register-blocked products of
 * lin/ot/local.h, then reduced. y must not alias x. PARLEY_E_NOMEM (a
 * convolution's im2col tile). */
int lin_plain(uint64_t *y, const uint64_t *x, const lin_shape *s, const uint64_t *w,
              unsigned l) WUR;
/* The reference loops, mod 2^l (1 <= l <= 64), which the tests hold every
 * product against (lin_plain's included). y must not alias x. */
void lin_conv_plain(uint64_t *y, const uint64_t *x, const lin_conv *c, const uint64_t *w,
                    unsigned l);
void lin_fc_plain(uint64_t *y, const uint64_t *x, const lin_fc *f, const uint64_t *w, unsigned l);
void lin_scale_plain(uint64_t *y, const uint64_t *x, const lin_scale *s, const uint64_t *g,
                     unsigned l);

#endif
