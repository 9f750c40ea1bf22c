/* Local evaluation: the layer steps that need no communication, the same
 * on shares (each party on its own) and in plaintext (nn/ref), in the form
 * of qkind.plain (kind.h). Data movement (CONCAT, RESHAPE, PAD, TRANSPOSE)
 * moves elements; ADD and SHL are additions and shifts mod 2^l; ADDC and
 * CONST add the server's private constants, on the side that holds them
 * (qctx.owner). */
#ifndef PARLEY_NN_QLOCAL_H
#define PARLEY_NN_QLOCAL_H

#include "nn/kind.h"

/* Arithmetic mod 2^l: x0 + x1; x + the owner's constants; the owner's
 * constant alone (the other side holds zeros); x * 2^shift. */
int qlocal_add(const qctx *c);
int qlocal_addc(const qctx *c);
int qlocal_const(const qctx *c);
int qlocal_shl(const qctx *c);

/* Data movement: elements in, the same elements out, rearranged (PAD adds
 * zeros). */
int qlocal_concat(const qctx *c);
int qlocal_reshape(const qctx *c);
int qlocal_pad(const qctx *c);
int qlocal_transpose(const qctx *c);
int qlocal_slice(const qctx *c);    /* a strided box */
int qlocal_upsample(const qctx *c); /* each element repeated p.factor times per dim */
int qlocal_dilate(const qctx *c);   /* p.factor - 1 zeros between elements */
/* Resize mode linear: y at scale 2s from x at s, each output the sum of
 * its neighbours times their public coefficients (qlocal_resize_taps). */
int qlocal_resize_linear(const qctx *c);
/* The source of output o along an axis resized from `in` to `out`
 * elements with scale num / den under mode (QRESIZE_*): the coordinate
 * i0 + r / q, clamped to [0, in - 1]; the neighbours are i0 (weight
 * (q - r) / q) and, when r > 0, i0 + 1 (weight r / q). Exact integers. */
void qlocal_resize_src(unsigned mode, uint64_t num, uint64_t den, uint64_t in, uint64_t o,
                       uint32_t *i0, uint64_t *r, uint64_t *q);
/* The denominator q of that axis (the same for every o); qcheck_resize
 * keeps it below 2^40, so products of two coefficients fit 128 bits. */
uint64_t qlocal_resize_q(unsigned mode, uint64_t num, uint64_t den, uint64_t in);
#define QRESIZE_MAX_Q ((uint64_t)1 << 40)
/* The window sums of p.pool, mod 2^l (no division). */
int qlocal_sumpool(const qctx *c);

/* The owner's private addend, in place on c->y: the bias per output
 * channel of a linear layer (lin_channels), or one constant per element
 * (ADDC, CONST). Nothing on the other side. */
void qlocal_add_private(const qctx *c);

/* ARGMAX geometry: the input is outer x cols x inner, the output outer x
 * inner (indices along cols); rows[(o*inner + k)*cols + j] = x[(o*cols +
 * j)*inner + k] gathers each (o, k) into a row. */
void qlocal_argmax_geom(const qctx *c, size_t *outer, size_t *cols, size_t *inner);
void qlocal_gather_rows(uint64_t *rows, const uint64_t *x, size_t outer, size_t cols, size_t inner);

#endif
