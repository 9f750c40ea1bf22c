/* The AES dispatch: the best built tier the CPU has (util/cpu.h). */
#include "crypto/aes_tiers.h"

#include "util/err.h"
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
    void (*tmmo_pack)(AES_TMMO_PACK_ARGS); /* NULL: tmmo_pack_ecb on the tier's ECB */
    void (*tmmo_kk)(AES_TMMO_KK_ARGS);     /* NULL: tmmo_kk_ecb */
} aes_ops;

static const aes_ops aes_tier_ops[AES_TIERS] = {
    [AES_TIER_REF] = {aes_ref_ecb, aes_ref_ctr, aes_ref_tmmo, aes_ref_tmmo_pack, aes_ref_tmmo_kk},
#if PARLEY_HAVE_AESNI
    [AES_TIER_NI] = {aes_ni_ecb, aes_ni_ctr, aes_ni_tmmo, NULL, NULL},
#endif
#if PARLEY_HAVE_AESNI && PARLEY_HAVE_AVX2
    [AES_TIER_VAES256] = {aes_vaes256_ecb, aes_vaes256_ctr, aes_vaes256_tmmo,
                          aes_vaes256_tmmo_pack, aes_vaes256_tmmo_kk},
#endif
#if PARLEY_HAVE_AESNI && PARLEY_HAVE_AVX512
    [AES_TIER_VAES] = {aes_vaes_ecb, aes_vaes_ctr, aes_vaes_tmmo, NULL, NULL},
#endif
};

#define PACK_GROUP 16 /* inputs per ECB call: 16 N <= 256 blocks */

/* aes_tmmo_pack on a tier's ECB: the hash is AES(sigma(x) ^ t) ^ sigma(x)
 * and sigma is linear, so input i's N AES inputs are sigma(in[i]) ^ t_i ^
 * sigma(D[j ^ d[i]]), one XOR each from a table; one ECB call takes
 * PACK_GROUP inputs' hashes, and only the low words are unmasked. */
static void tmmo_pack_ecb(void (*ecb)(aes_key *, block *, const block *, size_t), aes_key *key,
                          uint64_t *acc, const block *in, const uint8_t *d, const block D[16],
                          size_t n, unsigned N, unsigned l, uint64_t tweak_lo, uint64_t tweak_hi) {
    block sD[16], x[PACK_GROUP * 16], y[PACK_GROUP * 16];
    for (unsigned j = 0; j < 16; j++) sD[j] = aes_sigma(D[j]);
    uint64_t m = l >= 64 ? ~0ULL : (1ULL << l) - 1;
    for (size_t g = 0; g < n; g += PACK_GROUP) {
        size_t gn = n - g < PACK_GROUP ? n - g : PACK_GROUP;
        for (size_t i = 0; i < gn; i++) {
            block s = block_xor(aes_sigma(in[g + i]), block_make(tweak_hi, tweak_lo + g + i));
            unsigned di = d[g + i];
            for (unsigned j = 0; j < N; j++) x[i * N + j] = block_xor(s, sD[(j ^ di) & 15u]);
        }
        ecb(key, y, x, gn * N);
        for (size_t i = 0; i < gn; i++) {
            const block *xi = x + i * N, *yi = y + i * N;
            uint64_t t = tweak_lo + g + i, a = 0;
            for (unsigned j = 0; j < N; j++) a |= ((yi[j].w[0] ^ xi[j].w[0] ^ t) & m) << (j * l);
            acc[g + i] = a;
        }
    }
    mem_wipe(sD, sizeof sD);
    mem_wipe(x, sizeof x);
    mem_wipe(y, sizeof y);
}

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

#define KK_GROUP 32 /* OTs per ECB call: 2 L KK_GROUP <= 512 blocks */

/* aes_tmmo_kk on a tier's ECB, with the AES inputs made as in
 * tmmo_pack_ecb: sigma(q ^ d Delta) ^ t = sigma(q) ^ t ^ d sigma(Delta). */
static void tmmo_kk_ecb(void (*ecb)(aes_key *, block *, const block *, size_t), aes_key *key,
                        uint64_t *acc, const block *q, size_t stride, const uint8_t *d,
                        block delta, const uint64_t *mj, size_t n, unsigned L, uint64_t tweak_lo,
                        uint64_t tweak_hi) {
    block sd = aes_sigma(delta), x[2 * 8 * KK_GROUP], y[2 * 8 * KK_GROUP];
    for (size_t g = 0; g < n; g += KK_GROUP) {
        size_t gn = n - g < KK_GROUP ? n - g : KK_GROUP;
        for (size_t i = 0; i < gn; i++)
            for (unsigned j = 0; j < L; j++) {
                size_t c = j * stride + g + i;
                block s = block_xor(aes_sigma(q[c]), block_make(tweak_hi, tweak_lo + c));
                block m = block_mask(d[(g + i) * L + j] & 1u);
                block *xp = x + 2 * ((size_t)i * L + j);
                xp[0] = block_xor(s, block_and(sd, m));
                xp[1] = block_xor(xp[0], sd);
            }
        ecb(key, y, x, 2 * gn * L);
        for (size_t i = 0; i < gn; i++) {
            uint64_t a = 0;
            for (unsigned j = 0; j < L; j++) {
                size_t c = j * stride + g + i, e = 2 * ((size_t)i * L + j);
                uint64_t t = tweak_lo + c;
                a ^= ((y[e].w[0] ^ x[e].w[0] ^ t) & ~mj[j]) |
                     ((y[e + 1].w[0] ^ x[e + 1].w[0] ^ t) & mj[j]);
            }
            acc[g + i] = a;
        }
    }
    mem_wipe(&sd, sizeof sd);
    mem_wipe(x, sizeof x);
    mem_wipe(y, sizeof y);
}

void aes_tmmo_pack(aes_key *k, uint64_t *acc, const block *in, const uint8_t *d,
                   const block D[16], size_t n, unsigned N, unsigned l, uint64_t tweak_lo,
                   uint64_t tweak_hi) {
    PARLEY_CHECK(N >= 2 && N <= 16 && l >= 1 && (uint64_t)N * l <= 64);
    const aes_ops *o = &aes_tier_ops[aes_tier()];
    if (o->tmmo_pack)
        o->tmmo_pack(k, acc, in, d, D, n, N, l, tweak_lo, tweak_hi);
    else
        tmmo_pack_ecb(o->ecb, k, acc, in, d, D, n, N, l, tweak_lo, tweak_hi);
}

void aes_tmmo_kk(aes_key *k, uint64_t *acc, const block *q, size_t stride, const uint8_t *d,
                 block delta, const uint64_t *mj, size_t n, unsigned L, uint64_t tweak_lo,
                 uint64_t tweak_hi) {
    PARLEY_CHECK(L >= 1 && L <= 8);
    const aes_ops *o = &aes_tier_ops[aes_tier()];
    if (o->tmmo_kk)
        o->tmmo_kk(k, acc, q, stride, d, delta, mj, n, L, tweak_lo, tweak_hi);
    else
        tmmo_kk_ecb(o->ecb, k, acc, q, stride, d, delta, mj, n, L, tweak_lo, tweak_hi);
}
