/* AES-128 with AES-NI: key expansion, ECB and CTR eight blocks at a time,
 * and the tweakable fixed-key hash of Guo-Katz-Wang-Yu (S&P 2020) fused into
 * one pass. Compiled with -maes -msse4.1 (CMake option PARLEY_SIMD_AESNI);
 * crypto/aes.c calls it only when util/cpu.h reports AES-NI and SSE4.1. */
#include "crypto/aes_tiers.h"

#include <immintrin.h>

static inline __m128i expand_step(__m128i key, __m128i gen) {
    gen = _mm_shuffle_epi32(gen, 0xff);
    key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
    key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
    key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
    return _mm_xor_si128(key, gen);
}

#define EXPAND(i, rcon)                                                                            \
    k[i] = expand_step(k[i - 1], _mm_aeskeygenassist_si128(k[i - 1], rcon))

void aes_ni_expand(block rk[11], const uint8_t key[16]) {
    __m128i k[11];
    k[0] = _mm_loadu_si128((const __m128i *)key);
    EXPAND(1, 0x01);
    EXPAND(2, 0x02);
    EXPAND(3, 0x04);
    EXPAND(4, 0x08);
    EXPAND(5, 0x10);
    EXPAND(6, 0x20);
    EXPAND(7, 0x40);
    EXPAND(8, 0x80);
    EXPAND(9, 0x1b);
    EXPAND(10, 0x36);
    for (int i = 0; i < 11; i++) _mm_store_si128((__m128i *)&rk[i], k[i]);
}

/* Encrypt 8 blocks in place, interleaved so the AES unit stays busy. Fully
 * unrolled: at -O2 gcc keeps the loops and the blocks in memory, which
 * costs a factor of about three. */
static inline void enc8(const __m128i *k, __m128i x[8]) {
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++) x[j] = _mm_xor_si128(x[j], k[0]);
#pragma GCC unroll 9
    for (int r = 1; r < 10; r++)
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) x[j] = _mm_aesenc_si128(x[j], k[r]);
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++) x[j] = _mm_aesenclast_si128(x[j], k[10]);
}

static inline __m128i enc1(const __m128i *k, __m128i x) {
    x = _mm_xor_si128(x, k[0]);
    for (int r = 1; r < 10; r++) x = _mm_aesenc_si128(x, k[r]);
    return _mm_aesenclast_si128(x, k[10]);
}

static inline void load_keys(__m128i k[11], const block rk[11]) {
    for (int i = 0; i < 11; i++) k[i] = _mm_load_si128((const __m128i *)&rk[i]);
}

/* Block i of the input: in[i] (ECB), or the counter block (0, ctr + i)
 * (CTR: ctr_mode set). */
static inline __m128i block_in(const block *in, uint64_t ctr, size_t i, int ctr_mode) {
    return ctr_mode ? _mm_set_epi64x(0, (long long)(ctr + i))
                    : _mm_loadu_si128((const __m128i *)&in[i]);
}

/* out[i] = AES_k(block_in(i)), eight blocks at a time. ctr_mode is a
 * constant at both calls, so each compiles to its own loop. */
static inline __attribute__((always_inline)) void ecb_ctr(aes_key *key, block *out, const block *in,
                                                          uint64_t ctr, size_t n, int ctr_mode) {
    __m128i k[11];
    load_keys(k, key->rk);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i x[8];
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++)
            x[j] = block_in(in, ctr, i + (size_t)j, ctr_mode);
        enc8(k, x);
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) _mm_storeu_si128((__m128i *)&out[i + j], x[j]);
    }
    for (; i < n; i++)
        _mm_storeu_si128((__m128i *)&out[i], enc1(k, block_in(in, ctr, i, ctr_mode)));
}

void aes_ni_ecb(aes_key *key, block *out, const block *in, size_t n) {
    ecb_ctr(key, out, in, 0, n, 0);
}

void aes_ni_ctr(aes_key *key, block *out, uint64_t ctr, size_t n) {
    ecb_ctr(key, out, NULL, ctr, n, 1);
}

/* sigma(x) = (x_hi ^ x_lo) || x_hi: a linear orthomorphism. */
static inline __m128i sigma(__m128i x) {
    __m128i hi = _mm_unpackhi_epi64(x, x);                      /* (lo: x.hi, hi: x.hi) */
    __m128i lo_hi = _mm_unpacklo_epi64(_mm_setzero_si128(), x); /* (lo: 0, hi: x.lo) */
    return _mm_xor_si128(hi, lo_hi);
}

void aes_ni_tmmo(aes_key *key, block *out, const block *in, size_t n, uint64_t tweak_lo,
                 uint64_t tweak_hi) {
    __m128i k[11];
    load_keys(k, key->rk);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i s[8], x[8];
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) {
            s[j] = sigma(_mm_loadu_si128((const __m128i *)&in[i + j]));
            x[j] = _mm_xor_si128(s[j], _mm_set_epi64x((long long)tweak_hi,
                                                      (long long)(tweak_lo + i + (size_t)j)));
        }
        enc8(k, x);
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) _mm_storeu_si128((__m128i *)&out[i + j], _mm_xor_si128(x[j], s[j]));
    }
    for (; i < n; i++) {
        __m128i s = sigma(_mm_loadu_si128((const __m128i *)&in[i]));
        __m128i x = _mm_xor_si128(s, _mm_set_epi64x((long long)tweak_hi, (long long)(tweak_lo + i)));
        _mm_storeu_si128((__m128i *)&out[i], _mm_xor_si128(enc1(k, x), s));
    }
}
