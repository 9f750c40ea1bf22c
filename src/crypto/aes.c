/* The AES dispatch: the best built tier the CPU has (util/cpu.h). */
#include "crypto/aes_tiers.h"

#include "util/mem.h"

#include <string.h>

/* The wide tiers use AES-NI's key expansion, so VAES is built only with it. */
const cpu_tier aes_tiers[AES_TIERS] = {
    [AES_TIER_REF] = {"ref", 0, 1},
    [AES_TIER_NI] = {"aes-ni", CPU_SSE41 | CPU_AES, PARLEY_HAVE_AESNI},
    [AES_TIER_VAES256] = {"vaes-avx2", CPU_SSE41 | CPU_AES | CPU_AVX2 | CPU_VAES,
                          (PARLEY_HAVE_AESNI && PARLEY_HAVE_AVX2)},
    [AES_TIER_VAES] = {"vaes", CPU_SSE41 | CPU_AES | CPU_AVX512F | CPU_VAES,
                       (PARLEY_HAVE_AESNI && PARLEY_HAVE_AVX512)},
};

enum aes_tier aes_tier(void) {
    return (enum aes_tier)cpu_best(aes_tiers, AES_TIERS);
}

void aes_expand(aes_key *k, const uint8_t key[16]) {
    memset(k, 0, sizeof *k);
    memcpy(k->raw, key, 16);
#if PARLEY_HAVE_AESNI
    /* Whenever the process may use AES-NI, not only while it is the chosen
     * tier: a key outlives a change of tier (tests). */
    if (cpu_covers(cpu_available(), aes_tiers[AES_TIER_NI].needs)) aes_ni_expand(k->rk, key);
#endif
}

void aes_clear(aes_key *k) {
    aes_ref_free(k);
    mem_wipe(k, sizeof *k);
}

/* Each tier's operations (its file's functions), indexed as aes_tiers. */
typedef struct aes_ops {
    void (*ecb)(aes_key *k, block *out, const block *in, size_t n);
    void (*ctr)(aes_key *k, block *out, uint64_t ctr, size_t n);
    void (*tmmo)(aes_key *k, block *out, const block *in, size_t n, uint64_t tweak_lo,
                 uint64_t tweak_hi);
} aes_ops;

static const aes_ops aes_tier_ops[AES_TIERS] = {
    [AES_TIER_REF] = {aes_ref_ecb, aes_ref_ctr, aes_ref_tmmo},
#if PARLEY_HAVE_AESNI
    [AES_TIER_NI] = {aes_ni_ecb, aes_ni_ctr, aes_ni_tmmo},
#endif
#if PARLEY_HAVE_AESNI && PARLEY_HAVE_AVX2
    [AES_TIER_VAES256] = {aes_vaes256_ecb, aes_vaes256_ctr, aes_vaes256_tmmo},
#endif
#if PARLEY_HAVE_AESNI && PARLEY_HAVE_AVX512
    [AES_TIER_VAES] = {aes_vaes_ecb, aes_vaes_ctr, aes_vaes_tmmo},
#endif
};

void aes_ecb(aes_key *k, block *out, const block *in, size_t n) {
    aes_tier_ops[aes_tier()].ecb(k, out, in, n);
}

void aes_ctr(aes_key *k, block *out, uint64_t ctr, size_t n) {
    aes_tier_ops[aes_tier()].ctr(k, out, ctr, n);
}

void aes_tmmo(aes_key *k, block *out, const block *in, size_t n, uint64_t tweak_lo,
              uint64_t tweak_hi) {
    aes_tier_ops[aes_tier()].tmmo(k, out, in, n, tweak_lo, tweak_hi);
}
