/* The negacyclic NTT and the multiply-accumulate kernels: the portable
 * tier (reference code only; the dispatch is he/ntt.c).
 *
 * Harvey's lazy butterflies ("Faster arithmetic for number-theoretic
 * transforms", 2014) with Shoup's precomputed quotients: values stay in
 * [0, 4q) through the forward transform and [0, 2q) through the inverse,
 * and are reduced once at the end (q < 2^62 keeps 4q in a word). The
 * forward transform is Cooley-Tukey with the powers of psi in bit-reversed
 * order folded in (no separate twisting), the inverse Gentleman-Sande. */
#include "he/he.h"

#include <string.h>

/* Stages from m = HE_N >> logm on (earlier ones replaced by replication). */
static void ntt_fwd_ref_from(const he_prime *p, uint64_t *a, unsigned logm) {
    const uint64_t q = p->q, q2 = 2 * q;
    size_t m0 = (size_t)HE_N >> logm, t = HE_N / (2 * m0);
    for (size_t m = m0; m < HE_N; m <<= 1, t >>= 1) {
        for (size_t i = 0; i < m; i++) {
            const uint64_t w = p->rt[m + i], ws = p->rt_s[m + i];
            uint64_t *x = a + 2 * i * t, *y = x + t;
            for (size_t j = 0; j < t; j++) {
                uint64_t u = x[j];
                u -= (u >= q2) ? q2 : 0;
                uint64_t v = he_mul_shoup_lazy(w, ws, y[j], q);
                x[j] = u + v;
                y[j] = u - v + q2;
            }
        }
    }
    for (size_t j = 0; j < HE_N; j++) {
        uint64_t u = a[j];
        u -= (u >= q2) ? q2 : 0;
        a[j] = u - ((u >= q) ? q : 0);
    }
}

void he_ntt_fwd_ref(const he_prime *p, uint64_t *a) {
    ntt_fwd_ref_from(p, a, HE_LOGN);
}

/* Replicate the first 2^logm coefficients over the whole array: what the
 * first HE_LOGN - logm stages do when the rest is zero (y = 0 in every
 * butterfly: x' = x, y' = x). */
static void ntt_replicate(uint64_t *a, unsigned logm) {
    size_t blk = (size_t)1 << logm;
    for (size_t b = blk; b < HE_N; b += blk)
        memcpy(a + b, a, blk * sizeof *a);
}

void he_ntt_fwd_pruned_ref(const he_prime *p, uint64_t *a, unsigned logm) {
    PARLEY_CHECK(logm <= HE_LOGN);
    ntt_replicate(a, logm);
    ntt_fwd_ref_from(p, a, logm);
}

void he_ntt_inv_ref(const he_prime *p, uint64_t *a) {
    const uint64_t q = p->q, q2 = 2 * q;
    size_t t = 1;
    for (size_t m = HE_N / 2; m >= 1; m >>= 1, t <<= 1) {
        for (size_t i = 0; i < m; i++) {
            const uint64_t w = p->irt[m + i], ws = p->irt_s[m + i];
            uint64_t *x = a + 2 * i * t, *y = x + t;
            for (size_t j = 0; j < t; j++) {
                uint64_t u = x[j], v = y[j];
                uint64_t s = u + v;
                s -= (s >= q2) ? q2 : 0;
                x[j] = s;
                y[j] = he_mul_shoup_lazy(w, ws, u - v + q2, q);
            }
        }
    }
    for (size_t j = 0; j < HE_N; j++)
        a[j] = he_mul_shoup(p->ninv, p->ninv_s, a[j], q);
}

void he_mac_ref(he_u128 *acc, const he_poly *x, const he_poly *y) {
    for (int i = 0; i < HE_L; i++) {
        he_u128 *r = acc + (size_t)i * HE_N;
        const uint64_t *u = x->c[i], *v = y->c[i];
        for (size_t j = 0; j < HE_N; j++)
            r[j] += (he_u128)u[j] * v[j];
    }
}

void he_mac_rows_multi_ref(he_u128 *const *acc, const uint64_t *const *w, const uint64_t *const *x,
                           size_t G, size_t count) {
    for (size_t j0 = 0; j0 < HE_N; j0 += 8)
        for (size_t g = 0; g < G; g++) {
            he_u128 s[8] = {0};
            for (size_t k = 0; k < count; k++)
                for (size_t j = 0; j < 8; j++)
                    s[j] += (he_u128)w[g * count + k][j0 + j] * x[k][j0 + j];
            for (size_t j = 0; j < 8; j++)
                acc[g][j0 + j] += s[j];
        }
}
