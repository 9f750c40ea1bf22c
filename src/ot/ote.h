/* The core of OT extension shared by IKNP (w = 128) and KK13 (w = 256).
 *
 * The receiver holds w pairs of base-OT keys (k0_j, k1_j), the sender the
 * key k_{s_j, j} for its secret w-bit row s. For a chunk of m OTs (m a
 * multiple of 128) the receiver expands each key into an m-bit column with
 * AES-CTR, sends u_j = G(k0_j) ^ G(k1_j) ^ c_j, and keeps t_j = G(k0_j);
 * the sender computes q_j = G(k_{s_j, j}) ^ s_j*u_j. After transposing,
 * row i satisfies q_i = t_i ^ (c_i & s), where c_i is the receiver's row
 * correlation: all-ones times the choice bit (IKNP) or the Walsh-Hadamard
 * codeword of the choice (KK13). Wire: w bits per OT, receiver to sender.
 *
 * Both states advance in lock step; `index` counts extended OTs and feeds
 * the hash tweaks so no tweak is used twice within an instance. */
#ifndef PARLEY_OT_OTE_H
#define PARLEY_OT_OTE_H

#include "crypto/block.h"
#include "crypto/prg.h"
#include "net/chan.h"

#define OTE_CHUNK 8192 /* OTs per extension step: keeps matrices in L2 */

typedef struct ote_sender {
    unsigned w;       /* 128 or 256 */
    block s[2];       /* secret row, w bits */
    aes_key *keys;    /* w column keys k_{s_j, j} */
    uint64_t ctr;     /* column PRG position, in blocks */
    uint64_t index;   /* OTs extended so far */
    crh h;
    uint8_t *scratch; /* w * OTE_CHUNK / 8 bytes */
    block *kk_cs;     /* KK13 only: C(k) & s for k < 256, two blocks each */
} ote_sender;

typedef struct ote_receiver {
    unsigned w;
    aes_key *k0, *k1;
    uint64_t ctr;
    uint64_t index;
    crh h;
    uint8_t *scratch; /* 2 * w * OTE_CHUNK / 8 bytes */
} ote_receiver;

/* s_bits: w bits one per byte; keys[j] = k_{s_j, j}. Copies, so the caller
 * wipes its own copy. */
int ote_sender_init(ote_sender *s, unsigned w, const uint8_t *s_bits, const block *keys) WUR;
int ote_receiver_init(ote_receiver *r, unsigned w, const block (*keys)[2]) WUR;
void ote_sender_clear(ote_sender *s);
void ote_receiver_clear(ote_receiver *r);

/* Number of OTs a call for n actually extends (n rounded up to 128). */
static inline size_t ote_padded(size_t n) { return (n + 127) & ~(size_t)127; }

/* Receiver, one chunk of m <= OTE_CHUNK OTs (m a multiple of 128): sends u
 * and writes the rows t (m rows of w/128 blocks). The row correlation is
 * r_bits (m packed bits, IKNP: c_i = r_i * 1^w) or, if kk_choices is given,
 * the Walsh-Hadamard codeword of each choice byte (KK13). */
int ote_recv_chunk(ote_receiver *r, chan *ch, block *t, const uint8_t *r_bits,
                   const uint8_t *kk_choices, size_t m) WUR;
/* Sender, one chunk: receives u and writes the rows q. */
int ote_send_chunk(ote_sender *s, chan *ch, block *q, size_t m) WUR;

#endif
