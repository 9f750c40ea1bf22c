/* Linear layers in HE mode: convolution, fully-connected and per-channel
 * scale by BFV with coefficient encoding (docs/PROTOCOLS.md §7, Cheetah).
 *
 * Same contract as every linear back-end (src/lin/backend.h): S passes
 * the weights, C passes NULL; both pass the same public shape, ring width l
 * and weight width; x is this party's share and y receives this party's
 * share of W*x mod 2^l. Results are exact (bit for bit the plaintext
 * reference).
 *
 * A scale or FC whose OT form (lin/ot/lin_ot.h, the cheaper orientation)
 * moves fewer bytes than its HE form runs over OT instead: the plan decides from
 * public data, alike on both sides, carries the OT plan, and its bytes,
 * flights and sd (0: nothing is flooded) are OT's; the weight cache keeps
 * nothing for it.
 *
 * Protocol for one layer (all three layer kinds are convolutions here: FC
 * is a 1x1 convolution with the batch as its spatial axis, scale a
 * depthwise 1x1 convolution):
 *   1. C encrypts its share block by block (seeded symmetric encryption:
 *      only b travels) and sends the ciphertexts.            1 flight C->S
 *   2. S adds its own share to each ciphertext, multiplies by the weight
 *      polynomials in the NTT domain, sums over channel blocks, adds a
 *      public-key encryption of zero, its mask -r and flooding noise on the
 *      coefficients that hold outputs, switches to 2^ka (a) and 2^kb (kept
 *      b coefficients) and sends.                             1 flight S->C
 *   C decrypts W*x - r; S's share is r. S never computes W*x_S apart.
 * A packed plan (plan.h, pk > 0) returns one ciphertext per block of Cw
 * output groups on a tile: S floods and masks each as above, drops q2 and
 * packs the block with C's Galois keys (he_pack); C decrypts the block's
 * outputs at their positions (docs/PROTOCOLS.md §7, "Output packing").
 * Wire bytes: nin * he_in_bytes(drop) (C->S: 147456 bytes with drop = 0,
 * 1024 fewer per bit dropped) + sum over returned ciphertexts of
 * ceil((8192*ka + kept*kb)/8) (S->C), ka = l + 11, kb = l + 2 — exactly
 * the plan's bytes, independent of the number of lanes. Two flights per layer
 * on every lane that has work.
 *
 * Statistical security per inference: the flood of each layer is sized so
 * that all the coefficients the session returns — every output of every
 * linear layer of the model — are together within 2^-40 of a view that does
 * not depend on the weights (he_budget_for, docs/SECURITY-HE.md). For that
 * both parties declare the session's total (lin_he_set_outputs; the
 * executor does, from the public model) before the first layer; a session
 * that would return more is refused, on both sides, before the layer
 * starts.
 *
 * Supported: 1 <= l <= 52 subject to the noise budget (he_budget_for: the
 * largest l shrinks as weight bits, fan-in and the session's outputs grow;
 * at ResNet50's largest fan-in and output count, l = 37 takes weights of up
 * to 35 bits, l = 44 up to 28, l = 52 up to 20), every shape lin_conv_check accepts whose kernel window after the
 * stride decomposition fits in N = 8192 coefficients (so kernels 1..11
 * with any stride and padding, dilation up to 8 at stride 1), groups incl.
 * depthwise, batch >= 1. PARLEY_E_UNSUPPORTED names the limit otherwise.
 *
 * Set-up (lin_he_setup, both parties): C makes the secret key and sends the
 * public key, a session seed for the a's and the Galois keys of the
 * HE_PACK_MAX_LOG packing levels: 1 flight, lin_he_setup_bytes(). The lin_he object then serves every layer of the session; the
 * parties must call the layers in the same order. */
#ifndef PARLEY_LIN_HE_LIN_HE_H
#define PARLEY_LIN_HE_LIN_HE_H

#include "lin/backend.h"

typedef struct lin_he lin_he;

int lin_he_setup(party *p, lin_he **out) WUR;
/* Wipes the secret key. NULL is fine. */
void lin_he_free(lin_he *h);
/* The coefficients the session will return in all (the sum of the outputs
 * of its linear layers, batch included); both parties, before the first
 * layer. Without it a session may return LIN_HE_OUTS_DEFAULT. */
#define LIN_HE_OUTS_DEFAULT (1ULL << 32)
void lin_he_set_outputs(lin_he *h, uint64_t outs);
/* The session so far: coefficients returned, and the statistical security
 * of all of them together, -log2 of the bound on their statistical
 * distance from a weight-independent view, sqrt(2 * the sum of their
 * squared Hellinger bounds) (he_stat_bits_of; infinity before any layer; at
 * least HE_STAT_BITS = 40 by construction). Both parties compute the same
 * figure from public values. */
uint64_t lin_he_outputs_used(const lin_he *h);
double lin_he_stat_bits(const lin_he *h);
/* The server keeps the transformed input ciphertexts of at most this many
 * bytes at once (default 256 MiB); a layer that needs more runs in chunks of
 * tiles, two flights each. Both parties must set the same value (tests use
 * it to exercise chunking on small layers). */
void lin_he_set_chunk_bytes(lin_he *h, uint64_t bytes);
/* Bytes of the set-up message. */
uint64_t lin_he_setup_bytes(void);

/* S's weight polynomials transformed before the input (docs/PROTOCOLS.md
 * §7, "Weights made ready before the input"). A layer's weight polynomials
 * in the NTT domain depend only on the weights and the public plan (shape,
 * l and the session's declared outputs), so the server can make them once
 * per model load, before any client connects, and every session's layers
 * read them instead of transforming on the fly; the result is the same,
 * bit for bit. Each polynomial takes sizeof(he_poly) = 192 KiB.
 *
 * A cache holds layers keyed by their weights' address and the planner's
 * inputs: a layer run with other weights, shape, l or outputs misses and is
 * transformed on the fly as without a cache. It must not outlive the
 * weights. Read-only once made: sessions (threads, or forked processes
 * sharing its pages copy-on-write) use it at once. Freeing wipes it (the
 * weights are S's secret). */
typedef struct lin_he_wcache lin_he_wcache;
int lin_he_wcache_new(lin_he_wcache **out) WUR;
void lin_he_wcache_free(lin_he_wcache *c);
/* What caching layer s would take (bytes) and save per inference (ns of
 * server CPU, estimated as the planner does) in a session declaring outs
 * outputs (0: LIN_HE_OUTS_DEFAULT); the planner's error for a layer HE
 * cannot run. */
int lin_he_wcache_cost(const lin_shape *s, unsigned l, uint64_t outs, uint64_t *bytes,
                       double *ns) WUR;
/* Transform layer s's weights w (S's, kept by the caller for the cache's
 * life) into the cache. */
int lin_he_wcache_add(lin_he_wcache *c, const lin_shape *s, unsigned l, uint64_t outs,
                      const uint64_t *w) WUR;
/* The same for weights made afresh for each run (merged siblings,
 * lin_run_keyed): the layer is found by `key` (weights that outlive the
 * cache) and its shape; w is read only now. */
int lin_he_wcache_add_keyed(lin_he_wcache *c, const lin_shape *s, unsigned l, uint64_t outs,
                            const uint64_t *w, const uint64_t *key) WUR;
uint64_t lin_he_wcache_bytes(const lin_he_wcache *c); /* of its polynomials */
size_t lin_he_wcache_layers(const lin_he_wcache *c);
/* S: the session's layers read their weights' polynomials from c (NULL:
 * none); the client's side ignores it. Before the first layer. */
void lin_he_use_wcache(lin_he *h, const lin_he_wcache *c);
/* S: the layers, and their weight polynomials, the session read from the
 * cache so far. */
uint64_t lin_he_wcache_layers_used(const lin_he *h);
uint64_t lin_he_wcache_polys_used(const lin_he *h);

/* The HE back-end (lin/backend.h): its setup is lin_he_setup (ctx: the
 * lin_he; teardown lin_he_free, setup_cost lin_he_setup_bytes),
 * set_outputs and stat_bits are lin_he_set_outputs and lin_he_stat_bits,
 * use_prepared lin_he_use_wcache (prep: a lin_he_wcache).
 * run needs the session's lin_he (ctx),
 * whose declared outputs (lin_he_set_outputs) size the flood; plan and
 * pricing do not (ctx may be NULL: the backend's outs, or
 * LIN_HE_OUTS_DEFAULT). FC runs as a 1x1 convolution with the batch as
 * its spatial axis, scale as a depthwise 1x1 one. The plan's sd is the
 * layer's share of the session's statistical distance: its outputs times
 * the bound per coefficient. */
extern const lin_ops lin_he_ops;
static inline lin_backend lin_he_backend(lin_he *h, uint64_t outs) {
    return (lin_backend){&lin_he_ops, h, outs};
}

/* What the planner chose for a convolution (benchmarks, reports). */
typedef struct lin_he_info {
    unsigned Cp, Eh, Ew;       /* channels and kernel window after the stride decomposition */
    unsigned Cw, Hw, Ww, Ow;   /* block: channels, tile height/width, output channels */
    uint64_t in_cts, out_cts;  /* ciphertexts each way */
    uint64_t wpolys, products; /* weight polynomials transformed, ciphertext products */
    uint64_t bytes_c2s, bytes_s2c;
    unsigned ka, kb, beta;
    double margin_bits;
    unsigned drop;    /* low bits of the inputs' b left off the wire */
    uint64_t outputs; /* coefficients returned: N*O*OH*OW */
    double log2_h2;   /* squared Hellinger bound per returned coefficient, log2 (he.h) */
} lin_he_info;
int lin_he_conv_info(lin_he_info *out, const lin_conv *c, unsigned l, uint64_t outs) WUR;

/* The convolutions HE mode runs a fully-connected layer (the batch as the
 * spatial axis, 1x1 kernel) and an element-wise layer (depthwise 1x1) as;
 * lin_he_as_conv: any checked linear layer. */
lin_conv lin_he_fc_as_conv(const lin_fc *f);
lin_conv lin_he_scale_as_conv(const lin_scale *s);
lin_conv lin_he_as_conv(const lin_shape *s);

#endif
