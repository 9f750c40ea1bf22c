/* AVX2 + FMA tier of the NTT: the same Harvey butterflies as ntt_ref.c, four
 * lanes at a time, on doubles. The ciphertext primes are below 2^48 and every
 * value of the lazy butterflies below 4q < 2^50, so each is exact as a
 * double; a product w*y (w < q, y < 4q) is carried exactly as h + l with
 * h = fl(w*y) and l = fma(w, y, -h), and reduced by a quotient rounded from
 * h * (1/q): docs/PROTOCOLS.md §7 ("The transforms on doubles") gives the
 * bound that makes the result exact. AVX2 has no 64x64-bit integer multiply:
 * ntt_avx2.c builds each product from ten 32x32-bit pieces, this from seven
 * floating-point operations. The array is converted to doubles in place at
 * the start and back at the end (integers below 2^52 through the exponent of
 * 2^52). Primes of 2^48 or more (output packing's special prime) go to the
 * AVX2 integer code.
 * Compiled with -mavx2 -mfma only for this file (CMake option
 * PARLEY_SIMD_AVX2); tested against the reference tier (tests/test_tiers.c). */
#include "he/ntt_tiers.h"

#include <immintrin.h>
#include <string.h>

#define FMA_QMAX ((uint64_t)1 << 48) /* primes below this take the double path */

typedef struct fconsts {
    __m256d q, q2, qinv;
} fconsts;

static inline fconsts fconsts_make(uint64_t q) {
    fconsts c;
    c.q = _mm256_set1_pd((double)q);
    c.q2 = _mm256_set1_pd((double)(2 * q));
    c.qinv = _mm256_set1_pd(1.0 / (double)q);
    return c;
}

/* w*y mod q as a value in (0, 2q): y < 4q, w < q, both integers. */
static inline __m256d mulmod(__m256d w, __m256d y, const fconsts *c) {
    __m256d h = _mm256_mul_pd(w, y);
    __m256d l = _mm256_fmsub_pd(w, y, h); /* w*y - h, exact */
    __m256d k =
        _mm256_round_pd(_mm256_mul_pd(h, c->qinv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256d r = _mm256_fnmadd_pd(k, c->q, h); /* h - k*q, exact: |.| < q + 2^45 */
    return _mm256_add_pd(_mm256_add_pd(r, l), c->q);
}

/* v - (v >= bound ? bound : 0) */
static inline __m256d csub(__m256d v, __m256d bound) {
    __m256d m = _mm256_cmp_pd(v, bound, _CMP_GE_OQ);
    return _mm256_sub_pd(v, _mm256_and_pd(m, bound));
}

static inline __attribute__((always_inline)) void bfly(__m256d *x, __m256d *y, __m256d w,
                                                       const fconsts *c, int inv) {
    if (inv) { /* x' = x + y (mod 2q), y' = w(x - y + 2q) */
        __m256d u = *x, v = *y;
        *x = csub(_mm256_add_pd(u, v), c->q2);
        *y = mulmod(w, _mm256_add_pd(_mm256_sub_pd(u, v), c->q2), c);
    } else { /* x' = x + wy, y' = x - wy + 2q */
        __m256d u = csub(*x, c->q2);
        __m256d v = mulmod(w, *y, c);
        *x = _mm256_add_pd(u, v);
        *y = _mm256_add_pd(_mm256_sub_pd(u, v), c->q2);
    }
}

#define LOADD(p) _mm256_load_pd(p)
#define STORED(p, v) _mm256_store_pd(p, v)

/* Integers below 2^52 to doubles and back, through the exponent of 2^52. */
static inline __m256d to_double(__m256i v) {
    const __m256d m = _mm256_set1_pd(4503599627370496.0); /* 2^52 */
    return _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(v, _mm256_castpd_si256(m))), m);
}
static inline __m256i to_int(__m256d v) {
    const __m256d m = _mm256_set1_pd(4503599627370496.0);
    return _mm256_xor_si256(_mm256_castpd_si256(_mm256_add_pd(v, m)), _mm256_castpd_si256(m));
}

/* Four twiddles as doubles: (g, g+2, g+1, g+3) for the t = 1 stage. */
static inline __m256d tw_t1(const uint64_t *r) {
    __m256i v = _mm256_loadu_si256((const __m256i *)r);
    return to_double(_mm256_permute4x64_epi64(v, _MM_SHUFFLE(3, 1, 2, 0)));
}
/* Two twiddles as (g, g, g+1, g+1) for the t = 2 stage. */
static inline __m256d tw_t2(const uint64_t *r) {
    __m128i v = _mm_loadu_si128((const __m128i *)r);
    return to_double(_mm256_permute4x64_epi64(_mm256_castsi128_si256(v), _MM_SHUFFLE(1, 1, 0, 0)));
}

static inline __attribute__((always_inline)) void
stage_wide(double *a, size_t m, size_t t, const uint64_t *rt, const fconsts *c, int inv) {
    for (size_t i = 0; i < m; i++) {
        const __m256d w = _mm256_set1_pd((double)rt[m + i]);
        double *x = a + 2 * i * t, *y = x + t;
        for (size_t j = 0; j < t; j += 4) {
            __m256d X = LOADD(x + j), Y = LOADD(y + j);
            bfly(&X, &Y, w, c, inv);
            STORED(x + j, X);
            STORED(y + j, Y);
        }
    }
}

static inline __attribute__((always_inline)) void stage_t2(double *a, size_t m, const uint64_t *rt,
                                                           const fconsts *c, int inv) {
    for (size_t i = 0; i < m; i += 2) {
        double *g = a + 4 * i;
        __m256d A = LOADD(g), B = LOADD(g + 4);
        __m256d X = _mm256_permute2f128_pd(A, B, 0x20), Y = _mm256_permute2f128_pd(A, B, 0x31);
        bfly(&X, &Y, tw_t2(rt + m + i), c, inv);
        STORED(g, _mm256_permute2f128_pd(X, Y, 0x20));
        STORED(g + 4, _mm256_permute2f128_pd(X, Y, 0x31));
    }
}

/* The t = 1 stage; the forward transform's also reduces [0, 4q) -> [0, q)
 * and converts back to integers (out), the inverse's reads the integers. */
static inline __attribute__((always_inline)) void stage_t1(double *a, size_t m, const uint64_t *rt,
                                                           const fconsts *c, int inv) {
    for (size_t i = 0; i < m; i += 4) {
        double *g = a + 2 * i;
        __m256d A, B;
        if (inv) {
            A = to_double(_mm256_load_si256((const __m256i *)g));
            B = to_double(_mm256_load_si256((const __m256i *)(g + 4)));
        } else {
            A = LOADD(g);
            B = LOADD(g + 4);
        }
        __m256d X = _mm256_unpacklo_pd(A, B), Y = _mm256_unpackhi_pd(A, B);
        bfly(&X, &Y, tw_t1(rt + m + i), c, inv);
        if (!inv) {
            X = csub(csub(X, c->q2), c->q);
            Y = csub(csub(Y, c->q2), c->q);
            _mm256_store_si256((__m256i *)g, to_int(_mm256_unpacklo_pd(X, Y)));
            _mm256_store_si256((__m256i *)(g + 4), to_int(_mm256_unpackhi_pd(X, Y)));
        } else {
            STORED(g, _mm256_unpacklo_pd(X, Y));
            STORED(g + 4, _mm256_unpackhi_pd(X, Y));
        }
    }
}

/* The bounds above are for rounding to nearest. A program may have set
 * another mode (fesetround), so the kernels set MXCSR's rounding field to
 * nearest for their run and put the caller's back. */
static inline unsigned csr_nearest(void) {
    unsigned csr = _mm_getcsr();
    if (csr & 0x6000u) _mm_setcsr(csr & ~0x6000u);
    return csr;
}
static inline void csr_restore(unsigned csr) {
    if (csr & 0x6000u) _mm_setcsr(csr);
}

/* Stages from m = HE_N >> logm on; a holds integers below q. */
static void fwd_from(const he_prime *p, uint64_t *a, unsigned logm) {
    if (logm == 0) return; /* a constant: it already is < q */
    unsigned csr = csr_nearest();
    const fconsts c = fconsts_make(p->q);
    double *d = (double *)(void *)a;
    size_t m = (size_t)HE_N >> logm, t = HE_N / (2 * m);
    for (size_t j = 0; j < HE_N; j += 4)
        STORED(d + j, to_double(_mm256_load_si256((const __m256i *)(a + j))));
    for (; t >= 4; m <<= 1, t >>= 1)
        stage_wide(d, m, t, p->rt, &c, 0);
    if (t == 2) {
        stage_t2(d, m, p->rt, &c, 0);
        m <<= 1;
    }
    stage_t1(d, m, p->rt, &c, 0);
    csr_restore(csr);
}

void he_ntt_fwd_fma(const he_prime *p, uint64_t *a) {
    if (p->q >= FMA_QMAX) {
        he_ntt_fwd_avx2(p, a);
        return;
    }
    fwd_from(p, a, HE_LOGN);
}

void he_ntt_fwd_pruned_fma(const he_prime *p, uint64_t *a, unsigned logm) {
    if (p->q >= FMA_QMAX) {
        he_ntt_fwd_pruned_avx2(p, a, logm);
        return;
    }
    he_ntt_replicate_avx2(a, logm);
    fwd_from(p, a, logm);
}

void he_ntt_inv_fma(const he_prime *p, uint64_t *a) {
    if (p->q >= FMA_QMAX) {
        he_ntt_inv_avx2(p, a);
        return;
    }
    unsigned csr = csr_nearest();
    const fconsts c = fconsts_make(p->q);
    double *d = (double *)(void *)a;
    size_t m = HE_N / 2;
    stage_t1(d, m, p->irt, &c, 1);
    m >>= 1;
    stage_t2(d, m, p->irt, &c, 1);
    m >>= 1;
    for (size_t t = 4; m >= 1; m >>= 1, t <<= 1)
        stage_wide(d, m, t, p->irt, &c, 1);
    const __m256d n = _mm256_set1_pd((double)p->ninv);
    for (size_t j = 0; j < HE_N; j += 4) {
        __m256d v = csub(mulmod(n, LOADD(d + j), &c), c.q);
        _mm256_store_si256((__m256i *)(a + j), to_int(v));
    }
    csr_restore(csr);
}

/* ---- the products ----
 *
 * A product w*x of residues below 2^48 (so below 2^96) is split exactly
 * into a high part, a multiple of 2^45, and a low part of magnitude at most
 * 2^44: t = fma(w, x, 3*2^96) lies in [2^97, 2^98), where doubles are the
 * multiples of 2^45, so t's bits less those of 3*2^96 count the high part
 * in units of 2^45 (below 2^51), and l = fma(w, x, -(t - 3*2^96)) is the
 * rest, exact. Both are summed as 64-bit integers: the high parts' bits
 * directly (the constant's bits taken off per term at the end; 128 terms
 * stay below 2^58), the low parts through the exponent of 1.5*2^52. Four
 * floating-point operations and two integer additions per four products,
 * where the AVX2 tier takes four 32x32-bit multiplies and eight other
 * operations. */
#define FMA_MAC_BATCH 128

static inline __attribute__((always_inline)) void prod(__m256i *H, __m256i *L, __m256d w,
                                                       __m256d x) {
    const __m256d cH = _mm256_set1_pd(0x1.8p97), cL = _mm256_set1_pd(0x1.8p52);
    __m256d t = _mm256_fmadd_pd(w, x, cH);
    __m256d l = _mm256_fmsub_pd(w, x, _mm256_sub_pd(t, cH));
    *H = _mm256_add_epi64(*H, _mm256_castpd_si256(t));
    *L = _mm256_add_epi64(*L, _mm256_castpd_si256(_mm256_add_pd(l, cL)));
}

/* acc[j] += the sums of nk products in (H, L) for 8 coefficients. */
static inline void mac_flush(he_u128 *acc, const __m256i H[2], const __m256i L[2], size_t nk) {
    uint64_t h[8], l[8];
    _mm256_storeu_si256((__m256i *)h, H[0]);
    _mm256_storeu_si256((__m256i *)(h + 4), H[1]);
    _mm256_storeu_si256((__m256i *)l, L[0]);
    _mm256_storeu_si256((__m256i *)(l + 4), L[1]);
    const double dH = 0x1.8p97, dL = 0x1.8p52;
    uint64_t bH, bL; /* the constants' bits */
    memcpy(&bH, &dH, 8);
    memcpy(&bL, &dL, 8);
    for (int j = 0; j < 8; j++) {
        uint64_t hs = h[j] - nk * bH; /* below 2^58 */
        int64_t ls = (int64_t)(l[j] - nk * bL);
        acc[j] += ((he_u128)hs << 45) + (he_u128)(__int128)ls;
    }
}

/* parts = 1 (x0 only) or 2 (x0 and x1 against the same w rows). */
static inline __attribute__((always_inline)) void
mac_rows(he_u128 *const *acc0, he_u128 *const *acc1, const uint64_t *const *w_g,
         const uint64_t *const *x0, const uint64_t *const *x1, size_t G, size_t count, int parts) {
    unsigned csr = csr_nearest();
    double xb[2][FMA_MAC_BATCH][8] __attribute__((aligned(32)));
    for (size_t j0 = 0; j0 < HE_N; j0 += 8)
        for (size_t k0 = 0; k0 < count; k0 += FMA_MAC_BATCH) {
            size_t nk = count - k0 < FMA_MAC_BATCH ? count - k0 : FMA_MAC_BATCH;
            /* this slice of every x row as doubles, once for all G sums */
            for (int part = 0; part < parts; part++)
                for (size_t k = 0; k < nk; k++) {
                    const uint64_t *x = (part ? x1 : x0)[k0 + k] + j0;
                    _mm_prefetch((const char *)(x + 64), _MM_HINT_T0);
                    STORED(xb[part][k], to_double(_mm256_load_si256((const __m256i *)x)));
                    STORED(xb[part][k] + 4, to_double(_mm256_load_si256((const __m256i *)(x + 4))));
                }
            for (size_t g = 0; g < G; g++) {
                const uint64_t *const *w = w_g + g * count + k0;
                /* the sums' rows, four steps ahead (they are written) */
                for (int part = 0; part < parts; part++) {
                    const he_u128 *a = (part ? acc1 : acc0)[g] + j0 + 32;
                    __builtin_prefetch(a, 1);
                    __builtin_prefetch(a + 4, 1);
                }
                __m256i H[2][2], L[2][2];
                for (int part = 0; part < 2; part++)
                    H[part][0] = H[part][1] = L[part][0] = L[part][1] = _mm256_setzero_si256();
                for (size_t k = 0; k < nk; k++) {
                    const uint64_t *wk = w[k] + j0;
                    _mm_prefetch((const char *)(wk + 64), _MM_HINT_T0);
                    __m256d w0 = to_double(_mm256_load_si256((const __m256i *)wk));
                    __m256d w1 = to_double(_mm256_load_si256((const __m256i *)(wk + 4)));
                    prod(&H[0][0], &L[0][0], w0, LOADD(xb[0][k]));
                    prod(&H[0][1], &L[0][1], w1, LOADD(xb[0][k] + 4));
                    if (parts == 2) {
                        prod(&H[1][0], &L[1][0], w0, LOADD(xb[1][k]));
                        prod(&H[1][1], &L[1][1], w1, LOADD(xb[1][k] + 4));
                    }
                }
                mac_flush(acc0[g] + j0, H[0], L[0], nk);
                if (parts == 2) mac_flush(acc1[g] + j0, H[1], L[1], nk);
            }
        }
    csr_restore(csr);
}

void he_mac_rows_multi_fma(he_u128 *const *acc, const uint64_t *const *w, const uint64_t *const *x,
                           size_t G, size_t count) {
    mac_rows(acc, NULL, w, x, NULL, G, count, 1);
}

void he_mac_rows_multi2_fma(he_u128 *const *acc0, he_u128 *const *acc1, const uint64_t *const *w,
                            const uint64_t *const *x0, const uint64_t *const *x1, size_t G,
                            size_t count) {
    mac_rows(acc0, acc1, w, x0, x1, G, count, 2);
}
