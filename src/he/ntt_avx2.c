/* AVX2 tier of the NTT: the same Harvey butterflies as ntt_ref.c, four lanes at
 * a time. AVX2 has no 64x64-bit multiply, so the Shoup products are built
 * from 32x32->64-bit pieces (_mm256_mul_epu32): the high word of ws*y from
 * four of them, the low words of w*y and qhat*q from three each. Every
 * value stays below 4q < 2^57, so signed 64-bit compares are exact.
 * Compiled with -mavx2 only for this file (CMake option PARLEY_SIMD_AVX2);
 * he/ntt.c calls it when util/cpu.h reports AVX2; tested against the
 * portable tier (ntt_ref.c). */
#include "he/ntt_tiers.h"

#include <immintrin.h>

typedef struct bfly_consts {
    __m256i q, q_hi, q2, q2m1, qm1, lo32;
} bfly_consts;

static inline bfly_consts consts_make(uint64_t q) {
    bfly_consts c;
    c.q = _mm256_set1_epi64x((long long)q);
    c.q_hi = _mm256_set1_epi64x((long long)(q >> 32));
    c.q2 = _mm256_set1_epi64x((long long)(2 * q));
    c.q2m1 = _mm256_set1_epi64x((long long)(2 * q - 1));
    c.qm1 = _mm256_set1_epi64x((long long)(q - 1));
    c.lo32 = _mm256_set1_epi64x(0xffffffffLL);
    return c;
}

/* The 128-bit product of a and b per lane, from four 32x32->64-bit
 * pieces (a_hi = a >> 32, b_hi = b >> 32, lo32 = 2^32 - 1 per lane): its
 * high words; *lo (if not NULL) gets the low ones. */
static inline __m256i mul128(__m256i a, __m256i a_hi, __m256i b, __m256i b_hi, __m256i lo32,
                             __m256i *lo) {
    __m256i ll = _mm256_mul_epu32(a, b);
    __m256i lh = _mm256_mul_epu32(a, b_hi);
    __m256i hl = _mm256_mul_epu32(a_hi, b);
    __m256i hh = _mm256_mul_epu32(a_hi, b_hi);
    __m256i mid = _mm256_add_epi64(_mm256_srli_epi64(ll, 32), _mm256_and_si256(lh, lo32));
    mid = _mm256_add_epi64(mid, _mm256_and_si256(hl, lo32));
    if (lo) *lo = _mm256_or_si256(_mm256_and_si256(ll, lo32), _mm256_slli_epi64(mid, 32));
    __m256i hi = _mm256_add_epi64(hh, _mm256_srli_epi64(lh, 32));
    hi = _mm256_add_epi64(hi, _mm256_srli_epi64(hl, 32));
    return _mm256_add_epi64(hi, _mm256_srli_epi64(mid, 32));
}

/* w*y - mulhi(ws, y)*q mod 2^64, in [0, 2q); w, ws per lane with their high
 * halves given, y_hi = y >> 32. */
static inline __m256i shoup_lazy(__m256i w, __m256i w_hi, __m256i ws, __m256i ws_hi, __m256i y,
                                 const bfly_consts *c) {
    __m256i y_hi = _mm256_srli_epi64(y, 32);
    /* qhat = high 64 bits of ws*y */
    __m256i qh = mul128(y, y_hi, ws, ws_hi, c->lo32, NULL);
    /* w*y mod 2^64 */
    __m256i wy = _mm256_mul_epu32(y, w);
    __m256i cr = _mm256_add_epi64(_mm256_mul_epu32(y_hi, w), _mm256_mul_epu32(y, w_hi));
    wy = _mm256_add_epi64(wy, _mm256_slli_epi64(cr, 32));
    /* qhat*q mod 2^64 */
    __m256i qq = _mm256_mul_epu32(qh, c->q);
    __m256i cq = _mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(qh, 32), c->q),
                                  _mm256_mul_epu32(qh, c->q_hi));
    qq = _mm256_add_epi64(qq, _mm256_slli_epi64(cq, 32));
    return _mm256_sub_epi64(wy, qq);
}

/* v - (v >= bound ? sub : 0) with bound - 1 given (v < 2^63). */
static inline __m256i csub(__m256i v, __m256i bound_m1, __m256i sub) {
    __m256i m = _mm256_cmpgt_epi64(v, bound_m1);
    return _mm256_sub_epi64(v, _mm256_and_si256(m, sub));
}

/* Forward butterfly on lanes: x' = x + wy, y' = x - wy + 2q. */
static inline void fwd_bfly(__m256i *x, __m256i *y, __m256i w, __m256i w_hi, __m256i ws,
                            __m256i ws_hi, const bfly_consts *c) {
    __m256i u = csub(*x, c->q2m1, c->q2);
    __m256i v = shoup_lazy(w, w_hi, ws, ws_hi, *y, c);
    *x = _mm256_add_epi64(u, v);
    *y = _mm256_add_epi64(_mm256_sub_epi64(u, v), c->q2);
}

/* Inverse butterfly: x' = x + y (mod 2q), y' = w(x - y + 2q). */
static inline void inv_bfly(__m256i *x, __m256i *y, __m256i w, __m256i w_hi, __m256i ws,
                            __m256i ws_hi, const bfly_consts *c) {
    __m256i u = *x, v = *y;
    __m256i s = csub(_mm256_add_epi64(u, v), c->q2m1, c->q2);
    __m256i d = _mm256_add_epi64(_mm256_sub_epi64(u, v), c->q2);
    *x = s;
    *y = shoup_lazy(w, w_hi, ws, ws_hi, d, c);
}

/* The butterfly of the forward (inv = 0) or inverse transform; inv is a
 * constant at every call, so each stage below compiles to one loop. */
static inline __attribute__((always_inline)) void bfly(__m256i *x, __m256i *y, __m256i w,
                                                       __m256i w_hi, __m256i ws, __m256i ws_hi,
                                                       const bfly_consts *c, int inv) {
    if (inv)
        inv_bfly(x, y, w, w_hi, ws, ws_hi, c);
    else
        fwd_bfly(x, y, w, w_hi, ws, ws_hi, c);
}

#define LOAD(p) _mm256_load_si256((const __m256i *)(p))
#define STORE(p, v) _mm256_store_si256((__m256i *)(p), v)
#define LOADU(p) _mm256_loadu_si256((const __m256i *)(p))

/* Twiddles for the t = 1 stage: groups g, g+1, g+2, g+3 arranged (g, g+2,
 * g+1, g+3) to match unpacklo/unpackhi. */
static inline __m256i tw_t1(const uint64_t *r) {
    return _mm256_permute4x64_epi64(LOADU(r), _MM_SHUFFLE(3, 1, 2, 0));
}
/* Twiddles for the t = 2 stage: groups g, g+1 as (g, g, g+1, g+1). */
static inline __m256i tw_t2(const uint64_t *r) {
    __m128i v = _mm_loadu_si128((const __m128i *)r);
    return _mm256_permute4x64_epi64(_mm256_castsi128_si256(v), _MM_SHUFFLE(1, 1, 0, 0));
}

/* A stage of m groups with t >= 4 (groups of 2t: x = the first t, y =
 * the next t), twiddles rt[m + i], rs[m + i] broadcast. */
static inline __attribute__((always_inline)) void stage_wide(uint64_t *a, size_t m, size_t t,
                                                             const uint64_t *rt, const uint64_t *rs,
                                                             const bfly_consts *c, int inv) {
    for (size_t i = 0; i < m; i++) {
        const uint64_t w0 = rt[m + i], ws0 = rs[m + i];
        const __m256i w = _mm256_set1_epi64x((long long)w0);
        const __m256i w_hi = _mm256_set1_epi64x((long long)(w0 >> 32));
        const __m256i ws = _mm256_set1_epi64x((long long)ws0);
        const __m256i ws_hi = _mm256_set1_epi64x((long long)(ws0 >> 32));
        uint64_t *x = a + 2 * i * t, *y = x + t;
        for (size_t j = 0; j < t; j += 4) {
            __m256i X = LOAD(x + j), Y = LOAD(y + j);
            bfly(&X, &Y, w, w_hi, ws, ws_hi, c, inv);
            STORE(x + j, X);
            STORE(y + j, Y);
        }
    }
}

/* The t = 2 stage: m groups of four (x0 x1 y0 y1); two groups per step. */
static inline __attribute__((always_inline)) void stage_t2(uint64_t *a, size_t m,
                                                           const uint64_t *rt, const uint64_t *rs,
                                                           const bfly_consts *c, int inv) {
    for (size_t i = 0; i < m; i += 2) {
        uint64_t *g = a + 4 * i;
        __m256i A = LOAD(g), B = LOAD(g + 4);
        __m256i X = _mm256_permute2x128_si256(A, B, 0x20),
                Y = _mm256_permute2x128_si256(A, B, 0x31);
        __m256i w = tw_t2(rt + m + i), ws = tw_t2(rs + m + i);
        bfly(&X, &Y, w, _mm256_srli_epi64(w, 32), ws, _mm256_srli_epi64(ws, 32), c, inv);
        STORE(g, _mm256_permute2x128_si256(X, Y, 0x20));
        STORE(g + 4, _mm256_permute2x128_si256(X, Y, 0x31));
    }
}

/* The t = 1 stage: m groups of two (x y); four groups per step. The
 * forward transform's last stage also reduces [0, 4q) -> [0, q). */
static inline __attribute__((always_inline)) void stage_t1(uint64_t *a, size_t m,
                                                           const uint64_t *rt, const uint64_t *rs,
                                                           const bfly_consts *c, int inv) {
    for (size_t i = 0; i < m; i += 4) {
        uint64_t *g = a + 2 * i;
        __m256i A = LOAD(g), B = LOAD(g + 4);
        __m256i X = _mm256_unpacklo_epi64(A, B), Y = _mm256_unpackhi_epi64(A, B);
        __m256i w = tw_t1(rt + m + i), ws = tw_t1(rs + m + i);
        bfly(&X, &Y, w, _mm256_srli_epi64(w, 32), ws, _mm256_srli_epi64(ws, 32), c, inv);
        if (!inv) {
            X = csub(csub(X, c->q2m1, c->q2), c->qm1, c->q);
            Y = csub(csub(Y, c->q2m1, c->q2), c->qm1, c->q);
        }
        STORE(g, _mm256_unpacklo_epi64(X, Y));
        STORE(g + 4, _mm256_unpackhi_epi64(X, Y));
    }
}

/* Stages from m = HE_N >> logm on. */
static void ntt_fwd_avx2_from(const he_prime *p, uint64_t *a, unsigned logm) {
    const bfly_consts c = consts_make(p->q);
    size_t m = (size_t)HE_N >> logm, t = HE_N / (2 * m);
    if (logm == 0) { /* a constant: only the final reduction (it already is < q) */
        return;
    }
    for (; t >= 4; m <<= 1, t >>= 1)
        stage_wide(a, m, t, p->rt, p->rt_s, &c, 0);
    if (t == 2) {
        stage_t2(a, m, p->rt, p->rt_s, &c, 0);
        m <<= 1;
    }
    stage_t1(a, m, p->rt, p->rt_s, &c, 0);
}

void he_ntt_fwd_avx2(const he_prime *p, uint64_t *a) {
    ntt_fwd_avx2_from(p, a, HE_LOGN);
}

void he_ntt_replicate_avx2(uint64_t *a, unsigned logm) {
    PARLEY_CHECK(logm <= HE_LOGN);
    size_t blk = (size_t)1 << logm;
    if (blk < 4) { /* replicate one or two values into the first vector */
        for (size_t j = blk; j < 4; j++)
            a[j] = a[j - blk];
        blk = 4;
    }
    for (size_t b = blk; b < HE_N; b += blk)
        for (size_t j = 0; j < blk; j += 4)
            STORE(a + b + j, LOAD(a + j));
}

void he_ntt_fwd_pruned_avx2(const he_prime *p, uint64_t *a, unsigned logm) {
    he_ntt_replicate_avx2(a, logm);
    ntt_fwd_avx2_from(p, a, logm);
}

void he_ntt_inv_avx2(const he_prime *p, uint64_t *a) {
    const bfly_consts c = consts_make(p->q);
    size_t m = HE_N / 2;
    stage_t1(a, m, p->irt, p->irt_s, &c, 1);
    m >>= 1;
    stage_t2(a, m, p->irt, p->irt_s, &c, 1);
    m >>= 1;
    for (size_t t = 4; m >= 1; m >>= 1, t <<= 1)
        stage_wide(a, m, t, p->irt, p->irt_s, &c, 1);
    const __m256i n = _mm256_set1_epi64x((long long)p->ninv);
    const __m256i n_hi = _mm256_set1_epi64x((long long)(p->ninv >> 32));
    const __m256i ns = _mm256_set1_epi64x((long long)p->ninv_s);
    const __m256i ns_hi = _mm256_set1_epi64x((long long)(p->ninv_s >> 32));
    for (size_t j = 0; j < HE_N; j += 4) {
        __m256i v = shoup_lazy(n, n_hi, ns, ns_hi, LOAD(a + j), &c);
        STORE(a + j, csub(v, c.qm1, c.q));
    }
}

/* 128-bit lazy multiply-accumulate: the product's four 32x32 pieces are
 * summed into the low and high words with explicit carries. */
void he_mac_avx2(he_u128 *acc, const he_poly *x, const he_poly *y) {
    const __m256i lo32 = _mm256_set1_epi64x(0xffffffffLL);
    const __m256i sign = _mm256_set1_epi64x((long long)0x8000000000000000ULL);
    for (int i = 0; i < HE_L; i++) {
        he_u128 *r = acc + (size_t)i * HE_N;
        const uint64_t *u = x->c[i], *v = y->c[i];
        for (size_t j = 0; j < HE_N; j += 4) {
            __m256i a = LOAD(u + j), b = LOAD(v + j), plo;
            __m256i phi =
                mul128(a, _mm256_srli_epi64(a, 32), b, _mm256_srli_epi64(b, 32), lo32, &plo);
            /* acc (interleaved lo, hi words) += (plo, phi) */
            __m256i A0 = LOADU(r + j),
                    A1 = LOADU(r + j + 2);               /* lo0 hi0 lo1 hi1 | lo2 hi2 lo3 hi3 */
            __m256i alo = _mm256_unpacklo_epi64(A0, A1); /* lo0 lo2 lo1 lo3 */
            __m256i ahi = _mm256_unpackhi_epi64(A0, A1); /* hi0 hi2 hi1 hi3 */
            __m256i pl = _mm256_permute4x64_epi64(plo, _MM_SHUFFLE(3, 1, 2, 0));
            __m256i ph = _mm256_permute4x64_epi64(phi, _MM_SHUFFLE(3, 1, 2, 0));
            __m256i nlo = _mm256_add_epi64(alo, pl);
            /* carry: unsigned nlo < pl */
            __m256i carry =
                _mm256_cmpgt_epi64(_mm256_xor_si256(pl, sign), _mm256_xor_si256(nlo, sign));
            __m256i nhi = _mm256_sub_epi64(_mm256_add_epi64(ahi, ph), carry);
            _mm256_storeu_si256((__m256i *)(r + j), _mm256_unpacklo_epi64(nlo, nhi));
            _mm256_storeu_si256((__m256i *)(r + j + 2), _mm256_unpackhi_epi64(nlo, nhi));
        }
    }
}

/* Eight coefficients at a time, the sum over k kept in registers as four
 * partial sums per lane that cannot overflow for 128 terms: the low and high
 * halves of lo*lo, the cross terms lo*hi + hi*lo (each < 2^32 * 2^30), and
 * hi*hi; they are combined into 128 bits once per batch. */
void he_mac_rows_multi_avx2(he_u128 *const *acc_g, const uint64_t *const *w_g,
                            const uint64_t *const *x, size_t G, size_t count) {
    const __m256i lo32 = _mm256_set1_epi64x(0xffffffffLL);
    for (size_t j0 = 0; j0 < HE_N; j0 += 8)
        for (size_t g = 0; g < G; g++) {
            he_u128 *acc = acc_g[g];
            const uint64_t *const *w = w_g + g * count;
            for (size_t k0 = 0; k0 < count; k0 += 128) {
                size_t k1 = count - k0 < 128 ? count : k0 + 128;
                __m256i ll0 = _mm256_setzero_si256(), lh0 = ll0, md0 = ll0, hh0 = ll0;
                __m256i ll1 = ll0, lh1 = ll0, md1 = ll0, hh1 = ll0;
                for (size_t k = k0; k < k1; k++) {
                    const uint64_t *wk = w[k] + j0, *xk = x[k] + j0;
                    _mm_prefetch((const char *)(wk + 64), _MM_HINT_T0);
                    _mm_prefetch((const char *)(xk + 64), _MM_HINT_T0);
                    __m256i a0 = LOAD(wk), b0 = LOAD(xk), a1 = LOAD(wk + 4), b1 = LOAD(xk + 4);
                    __m256i ah0 = _mm256_srli_epi64(a0, 32), bh0 = _mm256_srli_epi64(b0, 32);
                    __m256i ah1 = _mm256_srli_epi64(a1, 32), bh1 = _mm256_srli_epi64(b1, 32);
                    __m256i p0 = _mm256_mul_epu32(a0, b0), p1 = _mm256_mul_epu32(a1, b1);
                    ll0 = _mm256_add_epi64(ll0, _mm256_and_si256(p0, lo32));
                    lh0 = _mm256_add_epi64(lh0, _mm256_srli_epi64(p0, 32));
                    ll1 = _mm256_add_epi64(ll1, _mm256_and_si256(p1, lo32));
                    lh1 = _mm256_add_epi64(lh1, _mm256_srli_epi64(p1, 32));
                    md0 = _mm256_add_epi64(md0, _mm256_add_epi64(_mm256_mul_epu32(a0, bh0),
                                                                 _mm256_mul_epu32(ah0, b0)));
                    md1 = _mm256_add_epi64(md1, _mm256_add_epi64(_mm256_mul_epu32(a1, bh1),
                                                                 _mm256_mul_epu32(ah1, b1)));
                    hh0 = _mm256_add_epi64(hh0, _mm256_mul_epu32(ah0, bh0));
                    hh1 = _mm256_add_epi64(hh1, _mm256_mul_epu32(ah1, bh1));
                }
                uint64_t L[8], H[8], M[8], HH[8];
                _mm256_storeu_si256((__m256i *)L, ll0);
                _mm256_storeu_si256((__m256i *)(L + 4), ll1);
                _mm256_storeu_si256((__m256i *)H, lh0);
                _mm256_storeu_si256((__m256i *)(H + 4), lh1);
                _mm256_storeu_si256((__m256i *)M, md0);
                _mm256_storeu_si256((__m256i *)(M + 4), md1);
                _mm256_storeu_si256((__m256i *)HH, hh0);
                _mm256_storeu_si256((__m256i *)(HH + 4), hh1);
                for (int j = 0; j < 8; j++)
                    acc[j0 + j] += (he_u128)L[j] + ((he_u128)H[j] << 32) + ((he_u128)M[j] << 32) +
                                   ((he_u128)HH[j] << 64);
            }
        }
}
