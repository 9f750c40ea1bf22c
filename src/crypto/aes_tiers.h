/* The AES tiers (util/cpu.h): their table, the dispatch's choice, and the
 * entry points of the instruction-set files. For crypto/aes.c, the tier
 * files and the tests; everything else calls aes.h. */
#ifndef PARLEY_CRYPTO_AES_TIERS_H
#define PARLEY_CRYPTO_AES_TIERS_H

#include "crypto/aes.h"
#include "util/cpu.h"

enum aes_tier { AES_TIER_REF, AES_TIER_NI, AES_TIER_VAES256, AES_TIER_VAES, AES_TIERS };
extern const cpu_tier aes_tiers[AES_TIERS];
/* The tier aes_ecb, aes_ctr and aes_tmmo use now. */
enum aes_tier aes_tier(void);

/* Every tier's entry points: aes_<tier>_ecb, _ctr and _tmmo, each as
 * aes_ecb, aes_ctr and aes_tmmo (aes.h) on its instructions. */
#define AES_TIER_ENTRIES(tier)                                                                     \
    void aes_##tier##_ecb(aes_key *key, block *out, const block *in, size_t n);                    \
    void aes_##tier##_ctr(aes_key *key, block *out, uint64_t ctr, size_t n);                       \
    void aes_##tier##_tmmo(aes_key *key, block *out, const block *in, size_t n, uint64_t tweak_lo, \
                           uint64_t tweak_hi);

/* aes_tmmo_pack (aes.h): the reference (one aes_ref_tmmo per hash), the
 * tiers' ECB with the inputs made in C (aes.c; AES-NI and 512-bit VAES),
 * and VAES on 256-bit registers with everything in registers. */
#define AES_TMMO_PACK_ARGS                                                                         \
    aes_key *key, uint64_t *acc, const block *in, const uint8_t *d, const block D[16], size_t n,   \
        unsigned N, unsigned l, uint64_t tweak_lo, uint64_t tweak_hi
void aes_ref_tmmo_pack(AES_TMMO_PACK_ARGS);
void aes_vaes256_tmmo_pack(AES_TMMO_PACK_ARGS);
/* aes_tmmo_kk (aes.h), the same three ways. */
#define AES_TMMO_KK_ARGS                                                                           \
    aes_key *key, uint64_t *acc, const block *q, size_t stride, const uint8_t *d, block delta,     \
        const uint64_t *mj, size_t n, unsigned L, uint64_t tweak_lo, uint64_t tweak_hi
void aes_ref_tmmo_kk(AES_TMMO_KK_ARGS);
void aes_vaes256_tmmo_kk(AES_TMMO_KK_ARGS);

/* aes_ref.c: OpenSSL's EVP (the tests' oracle); aes_ref_free frees k's
 * context (aes_clear does). */
AES_TIER_ENTRIES(ref)
void aes_ref_free(aes_key *k);
/* aes_ni.c (-maes -msse4.1): also the key expansion of both wide tiers. */
AES_TIER_ENTRIES(ni)
void aes_ni_expand(block rk[11], const uint8_t key[16]);
/* aes_vaes256.c (-maes -mvaes -mavx2): VAES without AVX-512. */
AES_TIER_ENTRIES(vaes256)
/* aes_vaes.c (-maes -mvaes -mavx512f). */
AES_TIER_ENTRIES(vaes)

#endif
