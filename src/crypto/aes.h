/* AES-128 encryption, batched.
 *
 * Tiers (util/cpu.h): VAES on 512-bit registers (aes_vaes.c), AES-NI
 * (aes_ni.c), and the portable reference, OpenSSL's EVP, constant-time on
 * every CPU it supports (aes_ref.c); crypto/aes.c dispatches. Only
 * encryption is needed: the PRG is counter mode and the hash is
 * Matyas-Meyer-Oseas. */
#ifndef PARLEY_CRYPTO_AES_H
#define PARLEY_CRYPTO_AES_H

#include "crypto/block.h"

#include <stddef.h>

typedef struct aes_key {
    block rk[11];   /* expanded round keys (AES-NI layout) */
    uint8_t raw[16];
    void *evp;      /* lazily created EVP context of the reference tier */
} aes_key;

void aes_expand(aes_key *k, const uint8_t key[16]);
/* Wipe the key and free its reference context. */
void aes_clear(aes_key *k);
/* out[i] = AES_k(in[i]); out may alias in. */
void aes_ecb(aes_key *k, block *out, const block *in, size_t n);
/* out[i] = AES_k(block(ctr + i)) with the counter in the low 64 bits. */
void aes_ctr(aes_key *k, block *out, uint64_t ctr, size_t n);
/* sigma(x_hi || x_lo) = (x_hi ^ x_lo) || x_hi: the orthomorphism of the
 * fixed-key hashes (aes_tmmo below, ferret's trees); linear over XOR. */
static inline block aes_sigma(block x) {
    return block_make(x.w[1] ^ x.w[0], x.w[1]);
}

/* The tweakable fixed-key hash of Guo-Katz-Wang-Yu under k (prg.h's crh):
 * out[i] = AES_k(sigma(in[i]) ^ t_i) ^ sigma(in[i]), t_i = (tweak_hi,
 * tweak_lo + i), sigma(x) = (x_hi ^ x_lo, x_hi); out may alias in. */
void aes_tmmo(aes_key *k, block *out, const block *in, size_t n, uint64_t tweak_lo,
              uint64_t tweak_hi);

/* The hashes of a (16 choose 1)-OT sender whose N messages of l bits fit
 * one word: acc[i] = the OR over j < N of the low l bits of
 * aes_tmmo(in[i] ^ D[j ^ d[i]]) shifted to bit j * l, all N hashes of
 * input i under the tweak (tweak_hi, tweak_lo + i). 2 <= N <= 16, l >= 1,
 * N * l <= 64, d[i] < 16; D is any table of 16 blocks (ot/vole4.h's
 * j * Delta). d[i] may be public, D is not: D is read only at indices
 * d[i] ^ j. */
void aes_tmmo_pack(aes_key *k, uint64_t *acc, const block *in, const uint8_t *d,
                   const block D[16], size_t n, unsigned N, unsigned l, uint64_t tweak_lo,
                   uint64_t tweak_hi);

/* The pads of a KK sender on COTs whose N messages fit one word: OT i's
 * L COTs are q[j * stride + i] (j < L), the receiver's bits d[i * L + j];
 * COT (i, j)'s two keys k0 = q ^ d Delta and k1 = k0 ^ Delta are hashed
 * with aes_tmmo under the tweak (tweak_hi, tweak_lo + j * stride + i),
 * and acc[i] = the XOR over j of (H(k0) & ~mj[j]) | (H(k1) & mj[j]) (low
 * words): message x's field is masked by the XOR of pads with j's bit of
 * x chosen. 1 <= L <= 8, d[.] in {0, 1}. d may be public, Delta is not:
 * nothing branches on it or indexes by it. */
void aes_tmmo_kk(aes_key *k, uint64_t *acc, const block *q, size_t stride, const uint8_t *d,
                 block delta, const uint64_t *mj, size_t n, unsigned L, uint64_t tweak_lo,
                 uint64_t tweak_hi);

/* The tiers' own entry points (the reference tier is the tests' oracle):
 * crypto/aes_tiers.h. */

#endif
