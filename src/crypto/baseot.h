/* Semi-honest 1-out-of-2 base OT: Chou-Orlandi ("the simplest protocol for
 * oblivious transfer") over ristretto255 with libsodium.
 *
 * Split in phases so both parties can run one instance in each direction at
 * once: every party calls baseot_send_begin for the instance it sends in,
 * flushes, calls baseot_recv for the instance it receives in, flushes, then
 * baseot_send_finish. Two message flights in each direction.
 *
 * Wire: sender 32 bytes, receiver 32 bytes per OT. Keys are 128-bit,
 * derived with BLAKE2b over (domain, index, A, B, shared point). */
#ifndef PARLEY_CRYPTO_BASEOT_H
#define PARLEY_CRYPTO_BASEOT_H

#include "crypto/block.h"
#include "crypto/prg.h"
#include "net/chan.h"

typedef struct baseot_sender {
    uint8_t a[32]; /* secret scalar */
    uint8_t A[32]; /* a*G */
    uint8_t aA[32];
} baseot_sender;

/* Sender: draw a, send A. */
int baseot_send_begin(baseot_sender *s, chan *ch, prg *rng) WUR;
/* Receiver: read A, send B_i for choice bits c (one per byte, 0/1), output
 * keys[i] = k_{c_i}. */
int baseot_recv(chan *ch, block *keys, const uint8_t *choices, size_t n, prg *rng) WUR;
/* Sender: read the B_i, output keys[i][0], keys[i][1]. Wipes s. */
int baseot_send_finish(baseot_sender *s, chan *ch, block (*keys)[2], size_t n) WUR;

#endif
