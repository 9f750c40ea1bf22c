/* The public plan of an HE convolution: how a convolution with strides,
 * dilation, padding and groups becomes stride-1 products of polynomials,
 * and how its tensors are cut into ciphertexts. A pure function of the
 * public shape and l, computed identically by both parties.
 *
 * Stride decomposition (polyphase). Output row i reads padded input rows
 * i*sh + a*dh for the taps a < kh. Writing a*dh = u*sh + r (0 <= r < sh),
 * the rows of residue r form a sub-image x_r[m] = x_pad[m*sh + r] and the
 * tap becomes offset u of a stride-1 kernel. So the layer is a stride-1
 * convolution over C' = C * (#row residues) * (#column residues) channels
 * with a window Eh x Ew (Eh = floor((kh-1)*dh/sh) + 1), some taps
 * structurally zero. Nothing is materialised: the index maps below read the
 * original tensors.
 *
 * Coefficient encoding (Cheetah, generalised to Ow output channels per
 * polynomial). A block of Cw channels, Hw x Ww positions of the sub-images
 * is the polynomial x(X) = sum x[c,i,j] X^(c*Hw*Ww + i*Ww + j); the kernels
 * of Ow output channels are
 *   w(X) = sum w[o',c,u,v] X^(o'*S + Off - (c*Hw*Ww + u*Ww + v)),
 *   S = Cw*Hw*Ww, Off = (Cw-1)*Hw*Ww + (Eh-1)*Ww + (Ew-1).
 * With Ow*S <= N, coefficient o'*S + Off + i*Ww + j of x*w is the output
 * (o', i, j) of the block for i <= Hw-Eh, j <= Ww-Ew: no other product
 * term and no wrap-around reaches it. Tiles overlap by the window (halo);
 * products are summed over the channel blocks of a group.
 *
 * Flat blocks (1x1 windows only). With no window there is no halo, so a
 * block may be any run of Pu consecutive positions of the (row-major)
 * sub-image; the channel stride P' is Pu rounded up to odd. The weight
 * polynomial is then W~(X^P') with W~ of degree < Ow*Cw, and since X -> X^P'
 * is an automorphism for odd P', its transform is a permutation of the
 * transform of W~, which the pruned NTT computes in log2(Ow*Cw)/12 of the
 * time. The server keeps its inputs and sums in the permuted order (perm).
 *
 * Packed outputs (pk > 0, Cw = 2^pk). The channels of a block interleave:
 * x(X) = sum x[c,i,j] X^(c + Cw*(i*Ww + j)), and the kernels are
 *   w(X) = sum w[o',c,u,v] X^(Cw*(o'*Hw*Ww + (Eh-1)*Ww + Ew-1 - u*Ww - v) - c)
 * (a negative exponent e stands for -X^(N+e)). A product term lands on a
 * multiple of Cw only when its two channels agree, and then it is the
 * layout above with one channel in the ring of Y = X^Cw; so the outputs
 * sit at Cw*(o'*Hw*Ww + (Eh-1)*Ww + Ew-1 + i*Ww + j) (flat: Cw*(o'*Ww + j),
 * Ww = the run length), all = 0 mod Cw. Every output ciphertext is one of a
 * group of Cw consecutive output groups on one tile; the server packs the
 * group (he_pack) and ciphertext i of it returns its outputs at positions
 * + i: one a part for Cw ciphertexts' outputs. */
#ifndef PARLEY_LIN_HE_PLAN_H
#define PARLEY_LIN_HE_PLAN_H

#include "he/he.h"
#include "lin/lin.h"

typedef struct lin_he_plan {
    lin_conv c; /* checked copy (OH, OW filled) */
    unsigned l;
    uint64_t outs; /* coefficients the session returns in all (the flood's bound covers them) */
    /* stride decomposition */
    unsigned nrh, nrw;  /* row / column residues used */
    unsigned *rh, *rw;  /* their values */
    unsigned R;         /* nrh * nrw */
    unsigned Cp;        /* C * R */
    unsigned Eh, Ew;    /* window after decomposition */
    unsigned Hi, Wi;    /* sub-image size read: OH + Eh - 1, OW + Ew - 1 */
    int *tap_h, *tap_w; /* tap_h[ih*Eh + u] = original kernel row a, or -1 */
    unsigned cpg, opg;  /* input / output channels per group */
    uint64_t taps;      /* weights per output: (C/groups)*kh*kw */
    /* blocking */
    int flat;       /* flat blocks: Hw = 1, Ww = P', ow = Pu */
    unsigned logm;  /* flat: the compact weight polynomial has degree < 2^logm */
    uint32_t *perm; /* flat: NTT-domain permutation of X -> X^P' */
    unsigned pk;    /* packed outputs: Cw = 2^pk, groups of Cw output groups (0: not packed) */
    unsigned nbk;   /* packed: output blocks, ceil(nog / Cw) (unpacked: nog) */
    unsigned Cw, Hw, Ww, Ow;
    unsigned oh, ow;         /* outputs per tile */
    unsigned th, tw;         /* tiles */
    unsigned ncb, nog;       /* channel blocks, output-channel groups */
    uint64_t units;          /* N * th * tw */
    unsigned *cb_lo, *cb_hi; /* per output group: the channel blocks it reads */
    uint64_t wpolys;         /* sum over og of (cb_hi - cb_lo + 1) */
    uint64_t in_cts, out_cts, products; /* out_cts: returned (packed: units * nbk) */
    uint64_t bytes_c2s, bytes_s2c;
    unsigned drop; /* low bits of the inputs' b left off the wire (he_in_pack) */
    he_budget bud;
    unsigned S, Off;
} lin_he_plan;

/* The planner's estimate of one weight polynomial's transform, ns: a full
 * NTT, or for flat blocks (flat) the pruned one of a polynomial of degree
 * < owcw = Ow*Cw. */
uint64_t lin_he_wpoly_ns(int flat, uint64_t owcw);

/* Tests: k > 0 makes the planner consider only packed plans with Cw = 2^k,
 * -1 only unpacked ones, 0 (the default) both. Process-wide; both parties
 * of a two-party test share it. */
void lin_he_plan_force_pack(int k);

/* Build the plan for a session that returns `outs` coefficients in all
 * (he_budget_for); PARLEY_E_ARG / PARLEY_E_UNSUPPORTED with a message. */
int lin_he_plan_make(lin_he_plan *pl, const lin_conv *c, unsigned l, uint64_t outs) WUR;
void lin_he_plan_free(lin_he_plan *pl);

/* The input block (unit, cb) of a tensor with the layer's input layout
 * into m[0..N-1] (other coefficients zero). */
void lin_he_plan_gather(const lin_he_plan *pl, uint64_t *m, const uint64_t *x, uint64_t unit,
                        unsigned cb);
/* The weight polynomial (og, cb), signed coefficients reduced into RNS
 * (coefficient domain). */
void lin_he_plan_wpoly(const lin_he_plan *pl, he_poly *wp, const uint64_t *w, unsigned og,
                       unsigned cb);
/* Flat blocks: the compact weight polynomial W~ (coefficient k = o'*Cw +
 * Cw-1-c), RNS, coefficient domain. */
void lin_he_plan_wpoly_compact(const lin_he_plan *pl, he_poly *wp, const uint64_t *w, unsigned og,
                               unsigned cb);
/* The kept coefficients of output ciphertext (og, unit): positions in the
 * polynomial and indices into y. Returns their number (<= N). Packed
 * plans: the positions before packing (= 0 mod Cw); see
 * lin_he_plan_block_targets. */
size_t lin_he_plan_targets(const lin_he_plan *pl, uint32_t *pos, size_t *yidx, unsigned og,
                           uint64_t unit);

/* Packed plans: the kept coefficients of returned ciphertext (block bk,
 * unit): output group bk*Cw + i at its positions + i, for every group of
 * the block in order. Returns their number (<= N). */
size_t lin_he_plan_block_targets(const lin_he_plan *pl, uint32_t *pos, size_t *yidx, unsigned bk,
                                 uint64_t unit);

#endif
