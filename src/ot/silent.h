/* The OT flavours of ot.h on silent random COTs: the consumers of a COT
 * pool (ot/cotpool.h), whichever producer fills it (today Ferret,
 * ot/ferret.h).
 *
 * Every flavour derandomises random COTs (b_i, t_i = q_i ^ b_i * Delta):
 * the receiver sends d = c ^ b (one bit per COT), so the sender's key for
 * choice bit x is K^x = q ^ (x ^ d) * Delta and the receiver holds K^c = t.
 * Pads are G(K) = H(K, (u, 0)) || H(K, (u, 1)) || ..., the tweakable hash
 * of ot's crh with u the COT's index in its instance (tweak high word
 * 2^62 | block), as many blocks as the pads need.
 *
 *   flavour                    receiver gets        COTs   wire bits per OT
 *   silent_rot   random OT     G(t_i), 128 bits     1      1
 *   silent_ot    chosen, l     m_{c_i}              1      1 + 2l
 *   silent_cot   COT, M widths x + c*delta          1      1 + sum l_k
 *   silent_kkot  (N choose 1)  m_{c_i}              L      L + N*l
 *    ..._implied (N choose 1)  f(c_i) ^ x_i         L      L + (N-1)*l
 *                (the sender gives f unmasked and gets its share x_i)
 *   RROT         random OT     (b_i, m_{b_i}), l    1      0
 *                (OT_TASK_RROT: the choice is the COT's own bit, so the
 *                receiver sends nothing; for bit triples, src/mpc/bool.c)
 *
 * with L = ceil(log2 N). (N choose 1)-OT_l after Naor-Pinkas's 1-of-N from
 * L 1-of-2 OTs: message k is masked by XOR over the choice bits j of the
 * per-message PRF F_{K_j^{k_j}}(k) = bits [k*l, (k+1)*l) of G(K_j^{k_j}),
 * so every message other than the chosen one carries a slice of a key the
 * receiver lacks that no other message uses. The sender hashes 2L pads of
 * ceil(N*l/128) blocks per OT, the receiver L. N = 2 is the chosen-message
 * OT.
 *
 * Implied message 0 (ot.h's `implied`): the sender's output share is
 * x_i = f(0) ^ P_0, P_0 the pad of message 0, and it sends f(k) ^ x_i ^ P_k
 * for k = 1 .. N-1 only; message 0 would be f(0) ^ x_i ^ P_0 = 0, so the
 * receiver with c_i = 0 takes 0 ^ P_0 = f(0) ^ x_i. Sent messages k != c_i
 * keep a pad slice of their own the receiver lacks; x_i hides under P_0,
 * which the receiver knows only when c_i = 0, and then its own output is
 * x_i ^ f(0), a share (docs/SECURITY-OT.md). One message fewer per OT: a
 * millionaire leaf of 3 bits sends 14 bits of messages instead of 16.
 *
 * On top of these wire bits, the COTs themselves cost their share of the
 * batches that make them (for Ferret, ferret_batch_bytes per ferret_usable
 * COTs), paid when a batch is made (the refill hook) and counted there
 * (silent_stats).
 *
 * Layout: a chunk of mm <= OTE_CHUNK OTs takes L*mm consecutive COTs, bit j
 * of OT i at offset j*mm + i; the receiver's bits go OT by OT (L each),
 * then the sender's corrections OT by OT; chunks are whole bytes (mm is a
 * multiple of 8 except at the end), so a job of n OTs costs exactly
 * bits_bytes(n*L) + bits_bytes(n*per) bytes (silent_job_bytes). */
#ifndef PARLEY_OT_SILENT_H
#define PARLEY_OT_SILENT_H

#include "ot/cotpool.h"
#include "ot/ot.h"

/* COTs per OT of a task kind (OT_TASK_*), N for KK. */
unsigned silent_cots_per_ot(int kind, unsigned N);
/* Exact bytes of a job of n OTs with `per` sender bits per OT (N*l, 2l,
 * sum l_k or 0 for ROT), both directions, without the COT generation;
 * cots_per_ot = 0 for a job whose receiver sends no bits (RROT). */
uint64_t silent_job_bytes(size_t n, unsigned cots_per_ot, uint64_t per);
/* The same, by direction: the receiver's bits and the sender's. */
void silent_job_bytes_split(size_t n, unsigned cots_per_ot, uint64_t per, uint64_t *by_receiver,
                            uint64_t *by_sender);

/* The chunk steps of every flavour (ot_task, ot.h): src is the cot_pool
 * of the task's side; cots = the COTs chunk c takes. */
extern const ot_steps silent_steps;

/* What the silent backend spent on making COTs, per party. */
typedef struct silent_stats {
    uint64_t batches_sent; /* batches this party made as COT sender */
    uint64_t batches_recv;
    uint64_t gen_bytes;      /* bytes this party sent for them */
    uint64_t gen_bytes_recv; /* bytes it received for the batches it got */
    uint64_t extra_flights;  /* flights beyond the two of ot_steps_run */
    uint64_t cots;           /* party_silent_stats: COTs used, both directions (not
                              * those the 4-bit VOLE pools' bases and trees took) */
    uint64_t corrs;          /* party_silent_stats: 4-bit VOLE correlations used */
} silent_stats;

/* ot_steps_run on silent tasks: ps is this party's sender pool (for S),
 * pr its receiver pool (for R); either may be NULL if its list is empty.
 * When the next chunk of a direction needs more COTs than its pool holds,
 * the steps so far finish and both directions that need it refill through
 * their pools' hooks (one flight per party that makes a batch), then the
 * schedule goes on: the same decisions on both sides, since the peer's
 * pools mirror ours. The message of the batch our direction needs next
 * rides on the last flight of the segment before, when there is one. st
 * (may be NULL) accumulates the costs. */
int silent_steps_run(cot_pool *ps, cot_pool *pr, chan *ch, const ot_chunk *R, size_t nr,
                     const ot_chunk *S, size_t ns, silent_stats *st) WUR;
/* The same with a second pool per direction, of 4-bit VOLE correlations
 * (ps4, pr4; NULL where there is none): each task draws on the pool it
 * was bound to, each pool refills when the next chunk on it runs short,
 * and where both have trees to send behind a segment the COTs' go first
 * (and their batch is finished first: the correlations' trees take COTs).
 * A correlations' pool makes a batch ahead of need only after an exchange
 * that drew on it. With ps4 = pr4 = NULL this is silent_steps_run. */
int silent_steps_run4(cot_pool *ps, cot_pool *ps4, cot_pool *pr, cot_pool *pr4, chan *ch,
                      const ot_chunk *R, size_t nr, const ot_chunk *S, size_t ns,
                      silent_stats *st) WUR;

/* Whole calls, one direction (tests, benchmarks): the sender makes batches
 * as needed (one flight each), then the two flights of the OTs. */
int silent_rot_send(cot_pool *f, chan *ch, block (*out)[2], size_t n) WUR;
int silent_rot_recv(cot_pool *f, chan *ch, block *out, const uint8_t *choices, size_t n) WUR;
int silent_ot_send(cot_pool *f, chan *ch, const uint64_t *msgs, size_t n, unsigned l) WUR;
int silent_ot_recv(cot_pool *f, chan *ch, uint64_t *out, const uint8_t *choices, size_t n,
                   unsigned l) WUR;
int silent_cot_send(cot_pool *f, chan *ch, uint64_t *x, const uint64_t *delta, size_t n,
                    const unsigned *ls, size_t M) WUR;
int silent_cot_recv(cot_pool *f, chan *ch, uint64_t *out, const uint8_t *choices, size_t n,
                    const unsigned *ls, size_t M) WUR;
int silent_kkot_send(cot_pool *f, chan *ch, const uint64_t *msgs, size_t n, unsigned N,
                     unsigned l) WUR;
int silent_kkot_recv(cot_pool *f, chan *ch, uint64_t *out, const uint8_t *choices, size_t n,
                     unsigned N, unsigned l) WUR;
/* The same with message 0 implied: msgs are f (n*N), x gets the sender's
 * n shares, out = f(c) ^ x. */
int silent_kkot_send_implied(cot_pool *f, chan *ch, uint64_t *x, const uint64_t *msgs, size_t n,
                             unsigned N, unsigned l) WUR;
int silent_kkot_recv_implied(cot_pool *f, chan *ch, uint64_t *out, const uint8_t *choices,
                             size_t n, unsigned N, unsigned l) WUR;
/* The next n raw random COTs (sender q[i], receiver t[i]; choice = bit 0
 * of t[i]), refilling as needed: no other traffic. */
int silent_rcot_send(cot_pool *f, chan *ch, block *q, size_t n) WUR;
/* The same, but a refill's trees are not flushed: they go with whatever
 * the caller sends next (the 4-bit VOLE's trees, ot/vole4.c), one flight
 * for both. The receiver's side is silent_rcot_recv either way. */
int silent_rcot_send_unflushed(cot_pool *f, chan *ch, block *q, size_t n) WUR;
int silent_rcot_recv(cot_pool *f, chan *ch, block *t, size_t n) WUR;

#endif
