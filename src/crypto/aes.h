/* AES-128 encryption, batched.
 *
 * Three implementations behind one dispatch chosen once from cpuid: VAES on
 * 512-bit registers (aes_vaes.c), AES-NI (aes_ni.c) and OpenSSL's EVP as
 * the portable, constant-time twin (aes_ref.c). Tests force each tier and compare them. Only encryption is
 * needed: the PRG is counter mode and the hash is Matyas-Meyer-Oseas. */
#ifndef PARLEY_CRYPTO_AES_H
#define PARLEY_CRYPTO_AES_H

#include "crypto/block.h"

#include <stddef.h>

typedef struct aes_key {
    block rk[11];   /* expanded round keys (AES-NI layout) */
    uint8_t raw[16];
    void *evp;      /* lazily created EVP context for the twin */
} aes_key;

enum aes_impl { AES_IMPL_AUTO = 0, AES_IMPL_NI = 1, AES_IMPL_REF = 2, AES_IMPL_VAES = 3 };

/* Select an implementation for the whole process (tests); AUTO = best. */
void aes_force_impl(enum aes_impl impl);
enum aes_impl aes_current_impl(void);
int aes_ni_available(void);
int aes_vaes_available(void);

void aes_expand(aes_key *k, const uint8_t key[16]);
/* Wipe the key and free its twin context. */
void aes_clear(aes_key *k);
/* out[i] = AES_k(in[i]); out may alias in. */
void aes_ecb(aes_key *k, block *out, const block *in, size_t n);
/* out[i] = AES_k(block(ctr + i)) with the counter in the low 64 bits. */
void aes_ctr(aes_key *k, block *out, uint64_t ctr, size_t n);

/* Implementation entry points (used by the dispatch and the tests). */
void aes_ni_expand(block rk[11], const uint8_t key[16]);
void aes_ni_ecb(const block rk[11], block *out, const block *in, size_t n);
void aes_ni_ctr(const block rk[11], block *out, uint64_t ctr, size_t n);
void aes_ni_tmmo(const block rk[11], block *out, const block *in, size_t n, uint64_t tweak_lo,
                 uint64_t tweak_hi);
void aes_vaes_ecb(const block rk[11], block *out, const block *in, size_t n);
void aes_vaes_ctr(const block rk[11], block *out, uint64_t ctr, size_t n);
void aes_vaes_tmmo(const block rk[11], block *out, const block *in, size_t n, uint64_t tweak_lo,
                   uint64_t tweak_hi);
void aes_ref_ecb(aes_key *k, block *out, const block *in, size_t n);

#endif
