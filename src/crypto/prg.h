/* Randomness: the OS source (libsodium, fails closed) and an AES-CTR PRG.
 *
 * Every party seeds its PRGs from the OS in production; tests seed them
 * from a fixed value so a whole two-party run replays exactly. A prg is
 * owned by one thread. */
#ifndef PARLEY_CRYPTO_PRG_H
#define PARLEY_CRYPTO_PRG_H

#include "crypto/aes.h"

#include <stddef.h>
#include <stdint.h>

/* Initialise libsodium once (idempotent, thread-safe); aborts if it cannot:
 * parley never runs without a randomness source. */
void crypto_init(void);
/* Fill buf from the operating system. */
void rand_os(void *buf, size_t n);

typedef struct prg {
    aes_key key;
    uint64_t ctr;
} prg;

void prg_seed(prg *p, block seed);
void prg_seed_os(prg *p);
/* A fresh seed drawn from p (to derive independent PRGs). */
block prg_block(prg *p);
void prg_blocks(prg *p, block *out, size_t n);
void prg_bytes(prg *p, void *out, size_t n);
uint64_t prg_u64(prg *p);
/* n values uniform in [0, 2^l). */
void prg_ring(prg *p, uint64_t *out, size_t n, unsigned l);
/* n bits, one per byte (0/1). */
void prg_bits(prg *p, uint8_t *out, size_t n);
void prg_clear(prg *p);

/* The correlation-robust hash H(x, i) = pi(sigma(x) ^ i) ^ sigma(x) of
 * Guo-Katz-Wang-Yu, pi = AES under a fixed public key, with a 128-bit tweak
 * i = (tweak_hi, tweak_lo + index). One crh per thread. */
typedef struct crh {
    aes_key pi;
} crh;

void crh_init(crh *h);
void crh_clear(crh *h);
/* out[i] = H(in[i], (tweak_hi, tweak_lo + i)); out may alias in. */
void crh_hash(crh *h, block *out, const block *in, size_t n, uint64_t tweak_lo, uint64_t tweak_hi);
/* aes_tmmo_pack (aes.h) under h: a (16 choose 1)-OT sender's N hashes of
 * each input, their low l bits packed in a word. */
void crh_hash_pack(crh *h, uint64_t *acc, const block *in, const uint8_t *d, const block D[16],
                   size_t n, unsigned N, unsigned l, uint64_t tweak_lo, uint64_t tweak_hi);
/* aes_tmmo_kk (aes.h) under h: a KK sender's pads on COTs, packed. */
void crh_hash_kk(crh *h, uint64_t *acc, const block *q, size_t stride, const uint8_t *d,
                 block delta, const uint64_t *mj, size_t n, unsigned L, uint64_t tweak_lo,
                 uint64_t tweak_hi);

#endif
