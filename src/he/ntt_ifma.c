/* AVX-512 IFMA tier of the NTT and the products' multiply-accumulate: the
 * same Harvey butterflies as ntt_ref.c, eight lanes at a time, each Shoup
 * product three 52-bit multiply-adds (vpmadd52luq/huq) where the AVX2 tier
 * builds it from ten 32-bit multiplies.
 *
 * With beta = 2^52, w < q and ws = floor(w*beta/q) (the tables' 64-bit
 * Shoup constant shifted right by 12), y < beta: qhat = floor(ws*y/beta)
 * and w*y - qhat*q lies in [0, 2q), so it is the difference of the two
 * products' low 52 bits mod 2^52. The butterflies keep values below 4q, so
 * this needs 4q <= 2^52: primes below 2^50 (the ciphertext primes, 48
 * bits). A larger prime (the key-switching prime, he/galois.c) goes to the
 * AVX2 tier, or the reference code in a build without it.
 *
 * Compiled with -mavx512f -mavx512ifma for this file only (CMake option
 * PARLEY_SIMD_AVX512); he/ntt.c calls it when util/cpu.h reports AVX-512F
 * and IFMA; tested against the reference tier (tests/test_tiers.c,
 * tests/test_he.c). Every result is reduced to [0, q) as in the other
 * tiers, so the bytes are the same. */
#include "he/ntt_tiers.h"

#include <immintrin.h>

#define IFMA_QMAX (1ULL << 50)
#define M52 ((1ULL << 52) - 1)

typedef struct ifma_consts {
    __m512i q, q2, m52;
} ifma_consts;

static inline ifma_consts consts_make(uint64_t q) {
    ifma_consts c = {_mm512_set1_epi64((long long)q), _mm512_set1_epi64((long long)(2 * q)),
                     _mm512_set1_epi64((long long)M52)};
    return c;
}

/* w*y mod q in [0, 2q), ws the 52-bit Shoup constant of w, y < 2^52. */
static inline __m512i shoup52(__m512i w, __m512i ws, __m512i y, const ifma_consts *c) {
    const __m512i z = _mm512_setzero_si512();
    __m512i qh = _mm512_madd52hi_epu64(z, ws, y);
    __m512i wy = _mm512_madd52lo_epu64(z, w, y);
    __m512i qq = _mm512_madd52lo_epu64(z, qh, c->q);
    return _mm512_and_si512(_mm512_sub_epi64(wy, qq), c->m52);
}

/* v - (v >= bound ? bound : 0) */
static inline __m512i csub(__m512i v, __m512i bound) {
    return _mm512_mask_sub_epi64(v, _mm512_cmpge_epu64_mask(v, bound), v, bound);
}

static inline __attribute__((always_inline)) void bfly(__m512i *x, __m512i *y, __m512i w,
                                                       __m512i ws, const ifma_consts *c, int inv) {
    if (inv) { /* x' = x + y (mod 2q), y' = w(x - y + 2q) */
        __m512i u = *x, v = *y;
        *x = csub(_mm512_add_epi64(u, v), c->q2);
        *y = shoup52(w, ws, _mm512_add_epi64(_mm512_sub_epi64(u, v), c->q2), c);
    } else { /* x' = x + wy, y' = x - wy + 2q */
        __m512i u = csub(*x, c->q2);
        __m512i v = shoup52(w, ws, *y, c);
        *x = _mm512_add_epi64(u, v);
        *y = _mm512_add_epi64(_mm512_sub_epi64(u, v), c->q2);
    }
}

#define LOAD(p) _mm512_loadu_si512((const void *)(p))
#define STORE(p, v) _mm512_storeu_si512((void *)(p), v)
#define IDX(a, b, c, d, e, f, g, h) _mm512_set_epi64(h, g, f, e, d, c, b, a)

/* A stage of m groups with t >= 8 (x = the first t of a group of 2t, y the
 * next t), the group's twiddle broadcast. */
static inline __attribute__((always_inline)) void stage_wide(uint64_t *a, size_t m, size_t t,
                                                             const uint64_t *rt, const uint64_t *rs,
                                                             const ifma_consts *c, int inv) {
    for (size_t i = 0; i < m; i++) {
        const __m512i w = _mm512_set1_epi64((long long)rt[m + i]);
        const __m512i ws = _mm512_set1_epi64((long long)(rs[m + i] >> 12));
        uint64_t *x = a + 2 * i * t, *y = x + t;
        for (size_t j = 0; j < t; j += 8) {
            __m512i X = LOAD(x + j), Y = LOAD(y + j);
            bfly(&X, &Y, w, ws, c, inv);
            STORE(x + j, X);
            STORE(y + j, Y);
        }
    }
}

/* Stages with t = 4, 2, 1: two vectors (16 values, 16/(2t) groups) per
 * step, gathered into X and Y by ix, iy and scattered back by ia, ib; the
 * twiddles of the step's groups, tw[k] for lane k, by itw from rt[m + i]. */
static inline __attribute__((always_inline)) void stage_narrow(
    uint64_t *a, size_t m, size_t t, const uint64_t *rt, const uint64_t *rs,
    const ifma_consts *c, int inv, int reduce, __m512i ix, __m512i iy, __m512i ia, __m512i ib,
    __m512i itw) {
    const size_t gps = 8 / t; /* groups per step */
    const __m512i q = c->q;
    for (size_t i = 0; i < m; i += gps) {
        uint64_t *g = a + 2 * t * i;
        __m512i A = LOAD(g), B = LOAD(g + 8);
        __m512i X = _mm512_permutex2var_epi64(A, ix, B), Y = _mm512_permutex2var_epi64(A, iy, B);
        __m512i r = _mm512_maskz_loadu_epi64((__mmask8)((1u << gps) - 1), rt + m + i);
        __m512i s = _mm512_maskz_loadu_epi64((__mmask8)((1u << gps) - 1), rs + m + i);
        __m512i w = _mm512_permutexvar_epi64(itw, r);
        __m512i ws = _mm512_srli_epi64(_mm512_permutexvar_epi64(itw, s), 12);
        bfly(&X, &Y, w, ws, c, inv);
        if (reduce) { /* the forward transform's end: [0, 4q) -> [0, q) */
            X = csub(csub(X, c->q2), q);
            Y = csub(csub(Y, c->q2), q);
        }
        STORE(g, _mm512_permutex2var_epi64(X, ia, Y));
        STORE(g + 8, _mm512_permutex2var_epi64(X, ib, Y));
    }
}

static inline __attribute__((always_inline)) void stage_t4(uint64_t *a, size_t m,
                                                           const uint64_t *rt, const uint64_t *rs,
                                                           const ifma_consts *c, int inv) {
    /* A = x0..3 y0..3 of group g, B the same of g + 1 */
    stage_narrow(a, m, 4, rt, rs, c, inv, 0, IDX(0, 1, 2, 3, 8, 9, 10, 11),
                 IDX(4, 5, 6, 7, 12, 13, 14, 15), IDX(0, 1, 2, 3, 8, 9, 10, 11),
                 IDX(4, 5, 6, 7, 12, 13, 14, 15), IDX(0, 0, 0, 0, 1, 1, 1, 1));
}

static inline __attribute__((always_inline)) void stage_t2(uint64_t *a, size_t m,
                                                           const uint64_t *rt, const uint64_t *rs,
                                                           const ifma_consts *c, int inv) {
    /* four groups (x0 x1 y0 y1) */
    stage_narrow(a, m, 2, rt, rs, c, inv, 0, IDX(0, 1, 4, 5, 8, 9, 12, 13),
                 IDX(2, 3, 6, 7, 10, 11, 14, 15), IDX(0, 1, 8, 9, 2, 3, 10, 11),
                 IDX(4, 5, 12, 13, 6, 7, 14, 15), IDX(0, 0, 1, 1, 2, 2, 3, 3));
}

static inline __attribute__((always_inline)) void stage_t1(uint64_t *a, size_t m,
                                                           const uint64_t *rt, const uint64_t *rs,
                                                           const ifma_consts *c, int inv) {
    /* eight groups (x y) */
    stage_narrow(a, m, 1, rt, rs, c, inv, !inv, IDX(0, 2, 4, 6, 8, 10, 12, 14),
                 IDX(1, 3, 5, 7, 9, 11, 13, 15), IDX(0, 8, 1, 9, 2, 10, 3, 11),
                 IDX(4, 12, 5, 13, 6, 14, 7, 15), IDX(0, 1, 2, 3, 4, 5, 6, 7));
}

/* Stages from m = HE_N >> logm on (logm >= 4: at least 16 values per
 * block, which the pruned entry below makes sure of). */
static void ntt_fwd_from(const he_prime *p, uint64_t *a, unsigned logm) {
    const ifma_consts c = consts_make(p->q);
    size_t m = (size_t)HE_N >> logm, t = HE_N / (2 * m);
    for (; t >= 8; m <<= 1, t >>= 1)
        stage_wide(a, m, t, p->rt, p->rt_s, &c, 0);
    if (t == 4) {
        stage_t4(a, m, p->rt, p->rt_s, &c, 0);
        m <<= 1;
        t = 2;
    }
    if (t == 2) {
        stage_t2(a, m, p->rt, p->rt_s, &c, 0);
        m <<= 1;
    }
    stage_t1(a, m, p->rt, p->rt_s, &c, 0);
}

/* The tiers for the primes this one does not take. */
#if PARLEY_HAVE_AVX2
#define FALLBACK(f) f##_avx2
#else
#define FALLBACK(f) f##_ref
#endif

void he_ntt_fwd_ifma(const he_prime *p, uint64_t *a) {
    if (p->q >= IFMA_QMAX) {
        FALLBACK(he_ntt_fwd)(p, a);
        return;
    }
    ntt_fwd_from(p, a, HE_LOGN);
}

void he_ntt_fwd_pruned_ifma(const he_prime *p, uint64_t *a, unsigned logm) {
    PARLEY_CHECK(logm <= HE_LOGN);
    if (p->q >= IFMA_QMAX || logm < 4) { /* a short support: the transform is mostly copies */
        FALLBACK(he_ntt_fwd_pruned)(p, a, logm);
        return;
    }
    size_t blk = (size_t)1 << logm;
    for (size_t b = blk; b < HE_N; b += blk)
        for (size_t j = 0; j < blk; j += 8)
            STORE(a + b + j, LOAD(a + j));
    ntt_fwd_from(p, a, logm);
}

void he_ntt_inv_ifma(const he_prime *p, uint64_t *a) {
    if (p->q >= IFMA_QMAX) {
        FALLBACK(he_ntt_inv)(p, a);
        return;
    }
    const ifma_consts c = consts_make(p->q);
    size_t m = HE_N / 2;
    stage_t1(a, m, p->irt, p->irt_s, &c, 1);
    m >>= 1;
    stage_t2(a, m, p->irt, p->irt_s, &c, 1);
    m >>= 1;
    stage_t4(a, m, p->irt, p->irt_s, &c, 1);
    m >>= 1;
    for (size_t t = 8; m >= 1; m >>= 1, t <<= 1)
        stage_wide(a, m, t, p->irt, p->irt_s, &c, 1);
    const __m512i n = _mm512_set1_epi64((long long)p->ninv);
    const __m512i ns = _mm512_set1_epi64((long long)(p->ninv_s >> 12));
    for (size_t j = 0; j < HE_N; j += 8)
        STORE(a + j, csub(shoup52(n, ns, LOAD(a + j), &c), c.q));
}

/* The sums over k are kept as the products' low and high 52-bit halves
 * (the full product is lo + hi*2^52, both operands below 2^48 < 2^52):
 * each lane adds less than 2^52 per term, so up to 4096 terms fit; they
 * are added into 128 bits every 128 terms, the AVX2 kernel's stride, so
 * that tests/test_tiers.c crosses a batch's end. */
#define IFMA_MAC_BATCH 128

/* One set of x rows: the AVX2 kernel (the HE layers use the pair below). */
void he_mac_rows_multi_ifma(he_u128 *const *acc, const uint64_t *const *w, const uint64_t *const *x,
                            size_t G, size_t count) {
    FALLBACK(he_mac_rows_multi)(acc, w, x, G, count);
}

void he_mac_ifma(he_u128 *acc, const he_poly *x, const he_poly *y) {
    FALLBACK(he_mac)(acc, x, y);
}

/* he_mac_rows_multi over two sets of x rows, each w row loaded once:
 * sixteen coefficients at a time, each part's low and high halves in
 * registers. */
void he_mac_rows_multi2_ifma(he_u128 *const *acc0, he_u128 *const *acc1, const uint64_t *const *w_g,
                             const uint64_t *const *x0, const uint64_t *const *x1, size_t G,
                             size_t count) {
    for (size_t j0 = 0; j0 < HE_N; j0 += 16)
        for (size_t g = 0; g < G; g++) {
            const uint64_t *const *w = w_g + g * count;
            for (size_t k0 = 0; k0 < count; k0 += IFMA_MAC_BATCH) {
                size_t k1 = count - k0 < IFMA_MAC_BATCH ? count : k0 + IFMA_MAC_BATCH;
                __m512i l0 = _mm512_setzero_si512(), h0 = l0, l1 = l0, h1 = l0;
                __m512i m0 = l0, n0 = l0, m1 = l0, n1 = l0;
                for (size_t k = k0; k < k1; k++) {
                    const uint64_t *wk = w[k] + j0, *ak = x0[k] + j0, *bk = x1[k] + j0;
                    _mm_prefetch((const char *)(wk + 64), _MM_HINT_T0);
                    _mm_prefetch((const char *)(ak + 64), _MM_HINT_T0);
                    _mm_prefetch((const char *)(bk + 64), _MM_HINT_T0);
                    __m512i w0 = LOAD(wk), w1 = LOAD(wk + 8);
                    __m512i a0 = LOAD(ak), a1 = LOAD(ak + 8), b0 = LOAD(bk), b1 = LOAD(bk + 8);
                    l0 = _mm512_madd52lo_epu64(l0, w0, a0);
                    h0 = _mm512_madd52hi_epu64(h0, w0, a0);
                    l1 = _mm512_madd52lo_epu64(l1, w1, a1);
                    h1 = _mm512_madd52hi_epu64(h1, w1, a1);
                    m0 = _mm512_madd52lo_epu64(m0, w0, b0);
                    n0 = _mm512_madd52hi_epu64(n0, w0, b0);
                    m1 = _mm512_madd52lo_epu64(m1, w1, b1);
                    n1 = _mm512_madd52hi_epu64(n1, w1, b1);
                }
                uint64_t L[16], H[16], M[16], N[16];
                _mm512_storeu_si512((void *)L, l0);
                _mm512_storeu_si512((void *)(L + 8), l1);
                _mm512_storeu_si512((void *)H, h0);
                _mm512_storeu_si512((void *)(H + 8), h1);
                _mm512_storeu_si512((void *)M, m0);
                _mm512_storeu_si512((void *)(M + 8), m1);
                _mm512_storeu_si512((void *)N, n0);
                _mm512_storeu_si512((void *)(N + 8), n1);
                he_u128 *p0 = acc0[g] + j0, *p1 = acc1[g] + j0;
                for (int j = 0; j < 16; j++) {
                    p0[j] += (he_u128)L[j] + ((he_u128)H[j] << 52);
                    p1[j] += (he_u128)M[j] + ((he_u128)N[j] << 52);
                }
            }
        }
}
