/* AES-128 with VAES on 256-bit registers (two blocks per instruction, 16
 * in flight): ECB, CTR and the tweakable fixed-key hash, with the same
 * results as aes_ni.c. For CPUs with VAES but without AVX-512 (AMD Zen 3,
 * Intel Alder Lake), where AES-NI's 128-bit instructions use half of the
 * AES units' width. Compiled with -maes -mvaes -mavx2 (CMake option
 * PARLEY_SIMD_AVX2, with PARLEY_SIMD_AESNI for the key expansion);
 * crypto/aes.c calls it only when util/cpu.h reports VAES, AVX2, AES-NI
 * and SSE4.1, and prefers the 512-bit tier (aes_vaes.c) where AVX-512F is
 * there too. */
#include "crypto/aes_tiers.h"

#include "util/mem.h"

#include <immintrin.h>

static inline void load_keys(__m256i k[11], const block rk[11]) {
    for (int i = 0; i < 11; i++)
        k[i] = _mm256_broadcastsi128_si256(_mm_load_si128((const __m128i *)&rk[i]));
}

/* Encrypt 8 registers (16 blocks) in place, interleaved so that the AES
 * units stay busy. Fully unrolled: with loops gcc keeps the blocks in
 * memory. */
static inline __attribute__((always_inline)) void enc16(const __m256i k[11], __m256i x[8]) {
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++) x[j] = _mm256_xor_si256(x[j], k[0]);
#pragma GCC unroll 9
    for (int r = 1; r < 10; r++)
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) x[j] = _mm256_aesenc_epi128(x[j], k[r]);
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++) x[j] = _mm256_aesenclast_epi128(x[j], k[10]);
}

static inline __m256i enc2(const __m256i k[11], __m256i x) {
    x = _mm256_xor_si256(x, k[0]);
#pragma GCC unroll 9
    for (int r = 1; r < 10; r++) x = _mm256_aesenc_epi128(x, k[r]);
    return _mm256_aesenclast_epi128(x, k[10]);
}

/* One block in the low lane of k's keys. */
static inline __m128i enc1(const __m256i k[11], __m128i x) {
    x = _mm_xor_si128(x, _mm256_castsi256_si128(k[0]));
    for (int r = 1; r < 10; r++) x = _mm_aesenc_si128(x, _mm256_castsi256_si128(k[r]));
    return _mm_aesenclast_si128(x, _mm256_castsi256_si128(k[10]));
}

/* out[i] = AES_k(in[i]) (ECB), or AES_k of the counter block (0, ctr + i)
 * (CTR: ctr_mode set; the low 64 bits count, as in aes_ni_ctr). ctr_mode
 * is a constant at both calls, so each compiles to its own loop. */
static inline __attribute__((always_inline)) void ecb_ctr(aes_key *key, block *out, const block *in,
                                                          uint64_t ctr, size_t n, int ctr_mode) {
    __m256i k[11];
    load_keys(k, key->rk);
    __m256i c = _mm256_set_epi64x(0, (long long)(ctr + 1), 0, (long long)ctr);
    const __m256i two = _mm256_set_epi64x(0, 2, 0, 2);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i x[8];
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) {
            if (ctr_mode) {
                x[j] = c;
                c = _mm256_add_epi64(c, two);
            } else {
                x[j] = _mm256_loadu_si256((const __m256i *)&in[i + 2 * (size_t)j]);
            }
        }
        enc16(k, x);
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) _mm256_storeu_si256((__m256i *)&out[i + 2 * (size_t)j], x[j]);
    }
    for (; i + 2 <= n; i += 2) {
        __m256i x = ctr_mode ? c : _mm256_loadu_si256((const __m256i *)&in[i]);
        _mm256_storeu_si256((__m256i *)&out[i], enc2(k, x));
        c = _mm256_add_epi64(c, two);
    }
    if (i < n) {
        __m128i x = ctr_mode ? _mm256_castsi256_si128(c) : _mm_loadu_si128((const __m128i *)&in[i]);
        _mm_storeu_si128((__m128i *)&out[i], enc1(k, x));
    }
}

void aes_vaes256_ecb(aes_key *key, block *out, const block *in, size_t n) {
    ecb_ctr(key, out, in, 0, n, 0);
}

void aes_vaes256_ctr(aes_key *key, block *out, uint64_t ctr, size_t n) {
    ecb_ctr(key, out, NULL, ctr, n, 1);
}

/* sigma(x) = (x_hi ^ x_lo) || x_hi in every 128-bit lane. */
static inline __m256i sigma2(__m256i x) {
    __m256i hi = _mm256_unpackhi_epi64(x, x);
    __m256i lo_hi = _mm256_unpacklo_epi64(_mm256_setzero_si256(), x);
    return _mm256_xor_si256(hi, lo_hi);
}

void aes_vaes256_tmmo(aes_key *key, block *out, const block *in, size_t n, uint64_t tweak_lo,
                      uint64_t tweak_hi) {
    __m256i k[11];
    load_keys(k, key->rk);
    long long th = (long long)tweak_hi;
    __m256i t = _mm256_set_epi64x(th, (long long)(tweak_lo + 1), th, (long long)tweak_lo);
    const __m256i two = _mm256_set_epi64x(0, 2, 0, 2);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i s[8], x[8];
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) {
            s[j] = sigma2(_mm256_loadu_si256((const __m256i *)&in[i + 2 * (size_t)j]));
            x[j] = _mm256_xor_si256(s[j], t);
            t = _mm256_add_epi64(t, two);
        }
        enc16(k, x);
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++)
            _mm256_storeu_si256((__m256i *)&out[i + 2 * (size_t)j], _mm256_xor_si256(x[j], s[j]));
    }
    for (; i + 2 <= n; i += 2) {
        __m256i s = sigma2(_mm256_loadu_si256((const __m256i *)&in[i]));
        __m256i x = enc2(k, _mm256_xor_si256(s, t));
        _mm256_storeu_si256((__m256i *)&out[i], _mm256_xor_si256(x, s));
        t = _mm256_add_epi64(t, two);
    }
    if (i < n) {
        __m128i s = _mm256_castsi256_si128(sigma2(_mm256_castsi128_si256(
            _mm_loadu_si128((const __m128i *)&in[i]))));
        __m128i x = enc1(k, _mm_xor_si128(s, _mm256_castsi256_si128(t)));
        _mm_storeu_si128((__m128i *)&out[i], _mm_xor_si128(x, s));
    }
}

/* The end of a pass of the packed kernels below: the 8 registers x (x0
 * their copies, t their tweaks in both lanes) through the rounds, then for
 * each of the R groups of K registers the word acc[r] = the XOR over the
 * group of the hash outputs' low words AES(x) ^ x0 ^ t (= AES(x) ^
 * sigma(key)), each masked by M[j] and shifted by SH[j] per lane, lanes 0
 * and 2 folded; stored for r < re only. R and K are constants where it is
 * inlined. */
static inline __attribute__((always_inline)) void
pass_out(const __m256i k[11], __m256i x[8], const __m256i x0[8], const __m256i t[8],
         const __m256i *M, const __m256i *SH, const unsigned R, const unsigned K, unsigned re,
         uint64_t *acc) {
    enc16(k, x);
#pragma GCC unroll 8
    for (unsigned r = 0; r < R; r++) {
        __m256i a = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (unsigned j = 0; j < K; j++) {
            unsigned e = r * K + j;
            __m256i o = _mm256_xor_si256(_mm256_xor_si256(x[e], x0[e]), t[e]);
            a = _mm256_xor_si256(a, _mm256_sllv_epi64(_mm256_and_si256(o, M[j]), SH[j]));
        }
        __m128i f = _mm_xor_si128(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
        if (r < re) acc[r] = (uint64_t)_mm_cvtsi128_si64(f);
    }
}

/* R = 8 / P inputs per AES pass of 8 registers (P pairs each; P a power
 * of two, the pairs past an input's N masked out by M): see
 * aes_vaes256_tmmo_pack. P is a constant at each call, so every loop here
 * unrolls and the pass lives in registers. */
static inline __attribute__((always_inline)) void
pack_run(const __m256i k[11], __m256i T[2][8], const __m256i M[8], const __m256i SH[8],
         uint64_t *acc, const block *in, const uint8_t *d, size_t n, const unsigned P,
         uint64_t tweak_lo, uint64_t tweak_hi) {
    const unsigned R = 8 / P;
    for (size_t i = 0; i < n; i += R) {
        unsigned re = n - i < R ? (unsigned)(n - i) : R;
        __m256i x[8], x0[8], tw[8];
#pragma GCC unroll 8
        for (unsigned r = 0; r < R; r++) {
            __m256i s = _mm256_setzero_si256(), t = s;
            unsigned di = 0;
            if (r < re) { /* sigma(in) ^ t in both lanes (past the end: zeros, not stored) */
                __m256i v =
                    _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)&in[i + r]));
                long long lo = (long long)(tweak_lo + i + r), hi = (long long)tweak_hi;
                t = _mm256_set_epi64x(hi, lo, hi, lo);
                s = _mm256_xor_si256(sigma2(v), t);
                di = d[i + r] & 15u;
            }
#pragma GCC unroll 8
            for (unsigned p = 0; p < P; p++) {
                x[r * P + p] = x0[r * P + p] = _mm256_xor_si256(s, T[di & 1][p ^ (di >> 1)]);
                tw[r * P + p] = t;
            }
        }
        /* the fields are disjoint, so their XOR is their OR */
        pass_out(k, x, x0, tw, M, SH, R, P, re, acc + i);
    }
}

/* aes_tmmo_pack with the AES inputs made and the outputs reduced in
 * registers. An input's hashes go in pairs (keys 2p and 2p + 1 in one
 * register): D[2p ^ d] and D[(2p + 1) ^ d] are the pair q = p ^ (d >> 1)
 * of the table, in order for even d and swapped for odd d, so a pair is
 * one XOR with T[d & 1][q] (sigma applied: the hash's sigma is linear).
 * The pairs per input are rounded up to a power of two (1, 2, 4 or 8),
 * the hashes past N masked out: for the powers of two that the
 * millionaire's digits use, nothing is wasted. */
void aes_vaes256_tmmo_pack(aes_key *key, uint64_t *acc, const block *in, const uint8_t *d,
                           const block D[16], size_t n, unsigned N, unsigned l, uint64_t tweak_lo,
                           uint64_t tweak_hi) {
    __m256i k[11], M[8], SH[8];
    __m256i T[2][8]; /* secret (sigma of j Delta): wiped at the end */
    load_keys(k, key->rk);
    for (int q = 0; q < 8; q++) {
        __m128i a = _mm256_castsi256_si128(
                    sigma2(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)&D[2 * q])))),
                b = _mm256_castsi256_si128(sigma2(
                    _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)&D[2 * q + 1]))));
        T[0][q] = _mm256_set_m128i(b, a);
        T[1][q] = _mm256_set_m128i(a, b);
    }
    const long long m = (long long)(l >= 64 ? ~0ULL : (1ULL << l) - 1);
    for (unsigned p = 0; p < 8; p++) {
        unsigned j0 = 2 * p, j1 = 2 * p + 1;
        M[p] = _mm256_set_epi64x(0, j1 < N ? m : 0, 0, j0 < N ? m : 0);
        SH[p] = _mm256_set_epi64x(0, j1 < N ? (long long)(j1 * l) : 0, 0,
                                  j0 < N ? (long long)(j0 * l) : 0);
    }
    unsigned P = (N + 1) / 2;
    if (P <= 1)
        pack_run(k, T, M, SH, acc, in, d, n, 1, tweak_lo, tweak_hi);
    else if (P <= 2)
        pack_run(k, T, M, SH, acc, in, d, n, 2, tweak_lo, tweak_hi);
    else if (P <= 4)
        pack_run(k, T, M, SH, acc, in, d, n, 4, tweak_lo, tweak_hi);
    else
        pack_run(k, T, M, SH, acc, in, d, n, 8, tweak_lo, tweak_hi);
    mem_wipe(T, sizeof T);
}

/* aes_tmmo_kk in registers: a COT's two keys share a register (lane 0 k0,
 * lane 1 k1), sigma(q) ^ t in both lanes XORed with TD[d] = (d sigma(Delta),
 * (1 ^ d) sigma(Delta)); R = 8 / L OTs per AES pass (L COTs each), the pads
 * masked by (~mj, mj) per lane and XORed in a register per OT. L is a
 * constant at each call. */
static inline __attribute__((always_inline)) void
kk_run(const __m256i k[11], const __m256i TD[2], const uint64_t *mj, uint64_t *acc,
       const block *q, size_t stride, const uint8_t *d, size_t n, const unsigned L,
       uint64_t tweak_lo, uint64_t tweak_hi) {
    const unsigned R = 8 / L;
    __m256i MJ[8], Z[8]; /* no shifts */
    for (unsigned j = 0; j < L; j++) {
        MJ[j] = _mm256_set_epi64x(0, (long long)mj[j], 0, (long long)~mj[j]);
        Z[j] = _mm256_setzero_si256();
    }
    for (size_t i = 0; i < n; i += R) {
        unsigned re = n - i < R ? (unsigned)(n - i) : R;
        __m256i x[8], x0[8], t[8];
#pragma GCC unroll 8
        for (unsigned r = 0; r < R; r++)
#pragma GCC unroll 8
            for (unsigned j = 0; j < L; j++) {
                unsigned e = r * L + j;
                x[e] = x0[e] = t[e] = _mm256_setzero_si256();
                if (r < re) { /* past the end: zeros, hashed and not stored */
                    size_t c = j * stride + i + r;
                    long long lo = (long long)(tweak_lo + c), hi = (long long)tweak_hi;
                    t[e] = _mm256_set_epi64x(hi, lo, hi, lo);
                    __m256i v =
                        _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)&q[c]));
                    x[e] = x0[e] = _mm256_xor_si256(_mm256_xor_si256(sigma2(v), t[e]),
                                                    TD[d[(i + r) * L + j] & 1u]);
                }
            }
        pass_out(k, x, x0, t, MJ, Z, R, L, re, acc + i);
    }
}

void aes_vaes256_tmmo_kk(aes_key *key, uint64_t *acc, const block *q, size_t stride,
                         const uint8_t *d, block delta, const uint64_t *mj, size_t n, unsigned L,
                         uint64_t tweak_lo, uint64_t tweak_hi) {
    __m256i k[11];
    __m256i TD[2]; /* secret (sigma(Delta)): wiped at the end */
    load_keys(k, key->rk);
    __m128i sd = _mm256_castsi256_si128(
        sigma2(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)&delta))));
    TD[0] = _mm256_set_m128i(sd, _mm_setzero_si128());
    TD[1] = _mm256_set_m128i(_mm_setzero_si128(), sd);
    switch (L) {
    case 1: kk_run(k, TD, mj, acc, q, stride, d, n, 1, tweak_lo, tweak_hi); break;
    case 2: kk_run(k, TD, mj, acc, q, stride, d, n, 2, tweak_lo, tweak_hi); break;
    case 3: kk_run(k, TD, mj, acc, q, stride, d, n, 3, tweak_lo, tweak_hi); break;
    case 4: kk_run(k, TD, mj, acc, q, stride, d, n, 4, tweak_lo, tweak_hi); break;
    case 5: kk_run(k, TD, mj, acc, q, stride, d, n, 5, tweak_lo, tweak_hi); break;
    case 6: kk_run(k, TD, mj, acc, q, stride, d, n, 6, tweak_lo, tweak_hi); break;
    case 7: kk_run(k, TD, mj, acc, q, stride, d, n, 7, tweak_lo, tweak_hi); break;
    default: kk_run(k, TD, mj, acc, q, stride, d, n, 8, tweak_lo, tweak_hi); break;
    }
    mem_wipe(TD, sizeof TD);
}
