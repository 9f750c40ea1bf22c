/* Silent random correlated OT after Ferret (Yang, Weng, Lan, Zhang, Wang,
 * CCS 2020, "Ferret: Fast Extension for coRRElated oT with small
 * communication"), semi-honest, primal LPN with regular noise.
 *
 * A direction of a lane holds one ferret instance per side: the producer
 * behind that side's COT pool (ot/cotpool.h), which it fills through the
 * pool's fill interface and which reaches it only through its refill hook
 * (ferret_refill). The sender holds a global Delta (bit 0 set); every COT i
 * it hands out is a block q_i with bit 0 clear, and the receiver's matching
 * block is t_i = q_i ^ b_i * Delta, so the receiver's choice bit b_i is
 * bit 0 of t_i. COTs come in batches of n = t * 2^h, made from m = k + t*h
 * base COTs reserved from the batch before (the first batch's base: one
 * FERRET_BOOT batch made from raw IKNP rows, below and ot/lane_silent.c):
 *
 *   MPCOT   t single-point COTs, one per bin of 2^h outputs, in the
 *           half-tree form (Guo et al., Eurocrypt 2023; docs/PROTOCOLS.md
 *           §2.4): the sender's tree has the top nodes s, s ^ Delta for a
 *           fresh s, and below them the children H(x), x ^ H(x) of every
 *           node x (H the circular-correlation-robust hash of fixed-key
 *           AES), so every level sums to Delta. For level i it sends one
 *           block, the XOR K_i^0 of the level's left nodes ^ q of one base
 *           COT: the receiver learns K_i^0 ^ b_i Delta = K_i^{b_i}, so its
 *           punctured path is the complement of its base choice bits (no
 *           message from the receiver). It rebuilds every leaf but the
 *           punctured one, which is Delta ^ the others: the sum of the
 *           others with bit 0 set, bit 0 of every leaf being cleared.
 *   LPN     output i = tree leaf i ^ XOR of 10 base COTs at positions
 *           mod k = 2^logk drawn by AES-CTR under the code key -- the
 *           primal LPN encoding x*A + e with a local linear code. The key
 *           is fresh for every lane direction, from randomness both
 *           parties contribute after the base OTs (ot/lane_silent.c), and
 *           each batch takes its own counter range: no two batches of any
 *           sessions share a matrix.
 *
 * The first m outputs of every batch become the next batch's base; the
 * other n - m go to the pool, handed out in order. Bytes per batch,
 * sender to receiver only: t * h * 16 (ferret_batch_bytes); one
 * message flight, so both directions of a lane refill in one flight each.
 *
 * Parameters (docs/SECURITY-OT.md, scripts/lpn-estimate): FERRET_H11K18,
 * t = 1170 trees of depth h = 11 (n = 2,396,160 outputs, as EMP-OT's
 * ferret_b11) with a secret twice as long, k = 2^18: every attack the
 * estimator models costs at least 2^208 (guess-and-linearise, which binds;
 * 2^227 for BJMM), where k = 2^17 left 2^108 on the same model. 2.12 M
 * COTs per batch for 205,920 bytes: 0.78 bits per COT (1.62 with Ferret's
 * two hashed blocks per level and a last block per tree); 42 MiB per
 * instance. FERRET_TOY is small and insecure, for tests that need many
 * batches quickly: it is never reachable from the session or the command
 * line.
 *
 * Bootstrap (FERRET_BOOT, ot/lane_silent.c): the first base of a lane
 * direction is m = 275,014 COTs for FERRET_DEFAULT, 4.4 MB of IKNP rows.
 * Instead, IKNP makes the base of one batch of a small instance, t = 2200
 * trees of depth h = 7 with k = 2^15 (n = 281,600 outputs from m = 48,168
 * rows: 0.77 MB plus its 246,400 bytes of tree messages), and that batch's
 * outputs, its own reserved base included, are the first base of the
 * production instance under the same Delta; the small instance is then
 * wiped. Every attack the estimator models costs at least 2^346 on it
 * (scripts/lpn-estimate --set h7k15; the hybrid attack binds), and it
 * makes exactly one batch, with a code key of its own. A set whose base
 * the small batch cannot cover, or costs less than it (FERRET_TOY), takes
 * its base from IKNP directly (ferret_boots).
 *
 * Memory: the pool (cot_pool_room(n) + n blocks) and the tree messages are
 * allocated at the first refill; all secrets (base, seeds) are wiped by
 * ferret_clear, the pool's by cot_pool_clear.
 * The receiver rebuilds its trees without branching or indexing on its
 * punctured positions. A peer that sends garbage only yields wrong COTs
 * (semi-honest); a short or closed channel is an error. */
#ifndef PARLEY_OT_FERRET_H
#define PARLEY_OT_FERRET_H

#include "crypto/block.h"
#include "crypto/prg.h"
#include "net/chan.h"
#include "ot/cotpool.h"
#include "ot/lpn.h"

typedef struct ferret_params {
    const char *name;
    unsigned t;    /* trees: the noise weight */
    unsigned h;    /* tree depth: bins of 2^h outputs */
    unsigned logk; /* LPN secret length k = 2^logk */
} ferret_params;

extern const ferret_params FERRET_H11K18; /* production */
#define FERRET_DEFAULT FERRET_H11K18        /* what sessions use */
extern const ferret_params FERRET_TOY; /* tests only: insecure */
extern const ferret_params FERRET_BOOT; /* the first base of a production lane */

#define FERRET_D LPN_D /* base COTs per LPN output (ot/lpn.h) */

static inline size_t ferret_n(const ferret_params *p) {
    return (size_t)p->t << p->h;
}
static inline size_t ferret_k(const ferret_params *p) {
    return (size_t)1 << p->logk;
}
/* Base COTs a batch consumes. */
static inline size_t ferret_m(const ferret_params *p) {
    return ferret_k(p) + (size_t)p->t * p->h;
}
/* COTs a batch hands out. */
static inline size_t ferret_usable(const ferret_params *p) {
    return ferret_n(p) - ferret_m(p);
}
/* Wire bytes of one batch (sender to receiver). */
static inline uint64_t ferret_batch_bytes(const ferret_params *p) {
    return (uint64_t)p->t * p->h * 16;
}
/* Whether p's first base comes from one FERRET_BOOT batch (above) rather
 * than from IKNP rows: the batch covers it and its rows are fewer. */
static inline int ferret_boots(const ferret_params *p) {
    return ferret_n(&FERRET_BOOT) >= ferret_m(p) && ferret_m(&FERRET_BOOT) < ferret_m(p);
}
/* The IKNP rows a lane direction with p starts from. */
static inline size_t ferret_first_rows(const ferret_params *p) {
    return ferret_boots(p) ? ferret_m(&FERRET_BOOT) : ferret_m(p);
}

typedef struct ferret {
    const ferret_params *par;
    int sender;
    block delta;     /* sender: Delta, bit 0 set */
    block *base;     /* m base COTs for the next batch */
    block *msg;      /* t * h blocks: the tree messages */
    cot_pool *pool;  /* where the batches go */
    block *room;     /* sender: the batch's room in the pool, from trees to finish */
    uint64_t batches;
    aes_key g0;          /* fixed public key: the trees' hash */
    aes_key lpn;         /* the code key (public to both sides, fresh per lane direction) */
    prg rng;             /* sender: tree seeds */
} ferret;

/* Set up one side, the producer of pool (initialised with cot_pool_init
 * for ferret_n(p) COTs a batch and, on the sender, the same delta), and
 * register it as the pool's refill hook. base: the m = ferret_m(p) first
 * base COTs (sender: q with bit 0 clear; receiver: t with the choice in bit
 * 0), copied. delta (sender only) must have bit 0 set. seed: the sender's
 * tree seeds (the receiver ignores it). code: the key of the LPN code,
 * the same on both sides of the direction and drawn from both parties'
 * randomness (ot/lane_silent.c); batch b uses the counters from 2 b n on,
 * so every batch has a code of its own. No COTs are available until the
 * first refill. */
int ferret_init(ferret *f, const ferret_params *p, int sender, block delta, const block *base,
                block seed, block code, cot_pool *pool) WUR;
void ferret_clear(ferret *f);

/* The refill hook (cotpool.h) of a ferret: a refill keeps the COTs not yet
 * handed out (up to the pool's room), to be handed out after the new
 * batch's. Sender:
 * ferret_send_trees expands the trees and sends their messages (no flush),
 * ferret_send_finish then computes the batch. Receiver: ferret_recv_batch
 * reads the messages and computes the batch. */
extern const cot_refill ferret_refill;
/* The FERRET_D base positions (< k) that output i of batch `batch` XORs:
 * the code both sides must share (tests). */
void ferret_code_row(ferret *f, uint64_t batch, size_t i, uint32_t pos[FERRET_D]);
int ferret_send_trees(ferret *f, chan *ch) WUR;
void ferret_send_finish(ferret *f);
int ferret_recv_batch(ferret *f, chan *ch) WUR;

#endif
