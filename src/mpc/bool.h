/* Boolean building blocks: bit triples from 1-out-of-N OT, and AND
 * (docs/PROTOCOLS.md §3).
 *
 * A bit triple is (a, b, c) XOR-shared with c = a & b. One (16 choose 1)-OT_2
 * gives two triples: the receiver's choice is its four share bits
 * (a0, b0, a1, b1), the sender offers both products masked by its own c
 * shares. A correlated pair (a, b, c = a & b), (a, d, e = a & d) shares its
 * first operand and comes from one (8 choose 1)-OT_2; it serves two ANDs with
 * a common input, as at the millionaire tree's nodes.
 *
 * On the silent backend triples come from random OTs whose choice is the
 * COT's own bit (OTB_RROT, no wire bits), one each way per triple: with
 * P's random messages (m0, m1) and the peer's choice r, the peer holds
 * m_r = m0 ^ r * (m0 ^ m1), an XOR sharing of r * a_P for a_P = m0 ^ m1.
 * So P's a is m0 ^ m1 of the OT it sends, its b the choice of the OT it
 * receives, and c_P = a_P b_P ^ m0 ^ m_{r'} covers both cross terms. A
 * correlated pair takes 2-bit messages: the sender's m0 ^ m1 is its (b, d),
 * the receiver's choice its a.
 *
 *                        IKNP/KK13                   silent
 *   n triples            ceil(n/2) * (256 + 32) bits 0 bits, 2n COTs
 *   n correlated pairs   n * (256 + 16) bits         0 bits, 2n COTs
 *                        2 flights                   (the COTs' making)
 *   AND, per gate        4 bits (each party opens x^a and y^b), 1 round;
 *   AND pair, per pair   6 bits (x^a once, y^b, y2^d)
 *
 * Internally everything is packed (bv.h); the public functions take one
 * byte per bit. */
#ifndef PARLEY_MPC_BOOL_H
#define PARLEY_MPC_BOOL_H

#include "mpc/otb.h"

/* A pool of triples made in one OT exchange, bits packed: n1 triples
 * (a1, b1, c1) and n2 correlated pairs (a2, b2, c2), (a2, d2, e2). */
typedef struct tri_pool {
    size_t n1, n2;
    uint64_t *a1, *b1, *c1;
    uint64_t *a2, *b2, *c2, *d2, *e2;
    int sender; /* who is the OT sender */
    /* receiver scratch */
    uint8_t *ch1, *ch2;
    uint64_t *o1, *o2;
    /* silent backend: the random OTs this party sends (s) and receives (r) */
    int silent;
    uint8_t *s1, *r1, *s2, *r2; /* one byte per OT (OTB_RROT's x8, out8) */
} tri_pool;

/* Allocate the pool, draw this party's random shares and append its OT
 * jobs to jobs[*njobs...] (up to two; four on the silent backend, which
 * ignores `sender`); after otb_run, tri_finish completes the shares.
 * `sender` picks the direction. */
int tri_prepare(mpc_lane *L, tri_pool *t, size_t n1, size_t n2, int sender, otb_job *jobs,
                size_t *njobs) WUR;
void tri_finish(tri_pool *t);
void tri_free(tri_pool *t);

/* One round of AND gates on packed vectors. A gate computes z = x & y with
 * the triple (a, b, c); with y2 set it is a correlated pair that also
 * computes z2 = x & y2 with (a, d, e). z and z2 may alias x, y or y2. The
 * triple vectors are word-aligned, n bits. */
typedef struct and_gate {
    size_t n;
    const uint64_t *x, *y, *y2;
    const uint64_t *a, *b, *c, *d, *e;
    uint64_t *z, *z2;
} and_gate;
int and_round(mpc_lane *L, const and_gate *g, size_t ng) WUR;
/* The same round carrying one-flight COTs too (arith.h, cot1_prep's
 * parts): each party's message is its openings then its COT message, in
 * one flight; nc == 0 is and_round. */
struct cot1_job;
struct cot1_state;
int and_round_with(mpc_lane *L, const and_gate *g, size_t ng, const struct cot1_job *cj, size_t nc,
                   const struct cot1_state *cs) WUR;

/* Public forms, one byte per bit. The triple makers run one OT exchange
 * (sender: the client); mpc_and makes its triples and then opens. */
int mpc_triples(mpc_lane *L, uint8_t *a, uint8_t *b, uint8_t *c, size_t n) WUR;
int mpc_triples_corr(mpc_lane *L, uint8_t *a, uint8_t *b, uint8_t *c, uint8_t *d, uint8_t *e,
                     size_t n) WUR;
/* z = x & y, elementwise: triples (2 flights) then one opening round. */
int mpc_and(mpc_lane *L, uint8_t *z, const uint8_t *x, const uint8_t *y, size_t n) WUR;

/* Exact wire bytes, both parties: the OT jobs of a pool of n1 triples and
 * n2 correlated pairs; one and_round whose gates open `bits` bits per party
 * in all (2n per gate, 3n per pair gate); mpc_and on n elements. */
uint64_t tri_bytes(const ot_costing *oc, uint64_t n1, uint64_t n2);
uint64_t and_round_bytes(uint64_t bits);
uint64_t mpc_and_bytes(const ot_costing *oc, size_t n);

#endif
