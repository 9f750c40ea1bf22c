/* Silent 4-bit VOLE: correlations whose receiver holds a nibble, made
 * from the same primal LPN code as ferret's COTs (ot/lpn.h), semi-honest.
 *
 * Correlation i: the sender holds a block v_i, the receiver a nibble
 * u_i < 16 and the block w_i = v_i ^ u_i * Delta, where Delta is the
 * sender's COT Delta of the lane direction and u * Delta means
 * u_0 Delta ^ u_1 x Delta ^ u_2 x^2 Delta ^ u_3 x^3 Delta in GF(2^128)
 * (vole4_table). Every nonzero u gives a nonzero field element
 * sum u_i x^i, so each of the 15 offsets u * Delta is as unpredictable as
 * Delta. One correlation is a random (16 choose 1)-OT: the sender's keys
 * H(v ^ j * Delta) for j < 16, the receiver's H(w), its choice u. Four
 * COTs make the same OT (vole4_from_cots), so a millionaire's 4-bit leaf
 * costs one correlation instead of four COTs (docs/PROTOCOLS.md §2.7).
 *
 * A batch makes n = t * 2^h correlations from m = k + t base correlations
 * of the batch before and t * h COTs of the same direction (sender q,
 * receiver t with the choice in bit 0, as silent_rcot_* hands them out):
 *
 *   trees   t single-point VOLEs in the original GGM form. Tree j's
 *           leaves are outputs j 2^h .. (j + 1) 2^h - 1; its children are
 *           AES_g0(s) ^ s and AES_g1(s) ^ s under two fixed public keys.
 *           For level d the sender sends the XOR K0 of the level's left
 *           nodes masked with H(q_d) and the XOR K1 of its right nodes
 *           masked with H(q_d ^ Delta): the receiver, choice b_d, learns
 *           K_{b_d}, so its punctured path takes side 1 - b_d. Last, the
 *           sender sends c_j = (XOR of the leaves) ^ y_j for the tree's
 *           base correlation (y_j; receiver beta_j, z_j = y_j ^ beta_j *
 *           Delta): the receiver's punctured leaf is c_j ^ (the other
 *           leaves) ^ z_j = leaf ^ beta_j * Delta, its nibble beta_j.
 *           Every other nibble of the tree is 0. 2 h + 1 blocks per tree.
 *   LPN     output i ^= XOR of the base's blocks (and, on the receiver,
 *           nibbles) at row b n + i's ten positions below k.
 *
 * Each bit plane of the receiver's nibbles is a binary LPN sample with the
 * same code and regular noise in the trees whose beta has that bit set:
 * docs/SECURITY-OT.md ("4-bit VOLE") gives the argument and the estimate
 * for VOLE4_H10K18.
 *
 * The first m outputs of a batch become the next batch's base. One
 * message flight per batch, sender to receiver: t (2 h + 1) 16 bytes.
 * The receiver rebuilds its trees without branching or indexing on its
 * punctured positions. A peer that sends garbage only yields wrong
 * correlations (semi-honest); a short or closed channel is an error. */
#ifndef PARLEY_OT_VOLE4_H
#define PARLEY_OT_VOLE4_H

#include "crypto/block.h"
#include "crypto/prg.h"
#include "net/chan.h"
#include "ot/cotpool.h"
#include "ot/ferret.h"
#include "ot/lpn.h"

typedef struct vole4_params {
    const char *name;
    unsigned t;    /* trees */
    unsigned h;    /* tree depth */
    unsigned logk; /* LPN secret length k = 2^logk */
} vole4_params;

extern const vole4_params VOLE4_H10K18; /* production */
extern const vole4_params VOLE4_TOY;    /* tests only: insecure */
/* (A pool hands out at most COT_POOL_CARRY at once, so a batch has at
 * least that many usable correlations.) */

static inline size_t vole4_n(const vole4_params *p) {
    return (size_t)p->t << p->h;
}
static inline size_t vole4_k(const vole4_params *p) {
    return (size_t)1 << p->logk;
}
/* Base correlations a batch consumes (the first m of its outputs are the
 * next batch's base). */
static inline size_t vole4_m(const vole4_params *p) {
    return vole4_k(p) + p->t;
}
static inline size_t vole4_usable(const vole4_params *p) {
    return vole4_n(p) - vole4_m(p);
}
/* COTs a batch consumes. */
static inline size_t vole4_cots(const vole4_params *p) {
    return (size_t)p->t * p->h;
}
static inline uint64_t vole4_batch_bytes(const vole4_params *p) {
    return (uint64_t)p->t * (2 * p->h + 1) * 16;
}
/* Whether a (N choose 1)-OT takes a 4-bit VOLE correlation when its lane
 * has the pools (4 < N <= 16), and the choice bits it then sends: d = c ^
 * u, 4 bits whatever N. Below N = 16 that costs more bytes than the log2 N
 * COTs and bits the OT takes otherwise (at N = 8, 4 bits and a
 * correlation's 2.95 against 3 bits and 3 COTs' making, 2.3) but less CPU
 * (a correlation is made for 1.37 COTs' time). At N <= 4 (the truncations'
 * wrap corrections, S to C in HE mode) the bytes are twice the COTs' for
 * little CPU, and those few OTs would make a whole pool of the other
 * direction fill (a batch each way and lane, and its memory) for nothing:
 * they stay on COTs. The millionaire's digits are the same on either pool
 * (mill.h). docs/PROTOCOLS.md §2.7 has the figures. */
static inline int vole4_takes(unsigned N) {
    return N > 4 && N <= 16;
}
#define VOLE4_CHOICE_BITS 4

/* The amortised making of `corrs` correlations, rounded up: their share
 * of the batches' bytes and of the Ferret batches (set fp; NULL:
 * FERRET_DEFAULT) that the trees' COTs take. */
uint64_t vole4_gen_bytes(const vole4_params *p, const ferret_params *fp, uint64_t corrs);

typedef struct vole4 {
    const vole4_params *par;
    int sender;
    block D[16];     /* sender: j * Delta */
    block *base;     /* m blocks: v (sender) or w (receiver) */
    uint8_t *baseu;  /* receiver: the m nibbles */
    block *msg;      /* t (2 h + 1) blocks */
    uint64_t batches;
    aes_key g0, g1;  /* the trees' fixed public keys */
    aes_key lpn;     /* the code key */
    crh h;           /* the level masks' hash */
    prg rng;         /* sender: tree seeds */
    cot_pool *pool;  /* vole4_attach: the pool it fills ... */
    cot_pool *cots;  /* ... and the COT pool of the same side and direction */
    block *tc;       /* a batch's tree COTs */
    block *room;     /* sender: the batch's room in the pool, from trees to finish */
} vole4;

/* D[j] = j * Delta for j < 16. */
void vole4_table(block delta, block D[16]);

/* Correlations from COTs: output i from COTs 4i .. 4i + 3 (sender q,
 * receiver t with choice bit 0): v = XOR x^j q_{4i+j}, w likewise from the
 * t's, u = the four choice bits (receiver; outu may be NULL on the
 * sender). A lane direction's first base. */
void vole4_from_cots(const block *cots, size_t n, block *out, uint8_t *outu);

/* One side of a direction. base/baseu: the m first base correlations
 * (copied; baseu NULL on the sender). delta: the sender's COT Delta
 * (ignored by the receiver). seed: the sender's tree seeds. code: the code
 * key, the same on both sides and fresh for the direction (as ferret's:
 * ot/lane_silent.c). */
int vole4_init(vole4 *f, const vole4_params *p, int sender, block delta, const block *base,
               const uint8_t *baseu, block seed, block code) WUR;
void vole4_clear(vole4 *f);

/* Make f the producer of pool (cot_pool_init_vole4 with vole4_n(p) entries
 * a batch and, on the sender, the same Delta) through its refill hook
 * (vole4_refill), taking each batch's tree COTs from cots, the COT pool
 * of the same side and direction (whose own refill, when it runs short,
 * happens inside this one: its trees go first, in the same flight). */
int vole4_attach(vole4 *f, cot_pool *pool, cot_pool *cots) WUR;
extern const cot_refill vole4_refill;
/* All of it for one side of a direction: the first base from 4 m COTs of
 * cots (taken in-band over ch, both sides alike), vole4_init, a pool
 * (cot_pool_init_vole4 with cots' Delta) and vole4_attach. The pool is
 * empty until its first refill. On failure everything is cleared. */
int vole4_pool_setup(vole4 *f, cot_pool *pool, const vole4_params *p, cot_pool *cots, chan *ch,
                     block seed, block code) WUR;
void vole4_pool_clear(vole4 *f, cot_pool *pool);

/* Sender: expand the trees into out[0 .. n) and send their messages (no
 * flush); then vole4_send_finish completes out. cots: vole4_cots(p) COTs
 * of the direction (q). */
int vole4_send_trees(vole4 *f, chan *ch, const block *cots, block *out) WUR;
void vole4_send_finish(vole4 *f, block *out);
/* Receiver: read the messages and make out[0 .. n), outu[0 .. n). cots:
 * the matching COTs (t). */
int vole4_recv_batch(vole4 *f, chan *ch, const block *cots, block *out, uint8_t *outu) WUR;

#endif
