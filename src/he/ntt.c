/* The NTT family's dispatch (util/cpu.h: the best built tier the CPU has)
 * and what is the same in every tier: the automorphism permutation, whole
 * polynomials, and the final reduction. */
#include "he/ntt_tiers.h"

const cpu_tier ntt_tiers[NTT_TIERS] = {
    [NTT_TIER_REF] = {"ref", 0, 1},
    [NTT_TIER_AVX2] = {"avx2", CPU_AVX2, PARLEY_HAVE_AVX2},
    /* the transforms and the products on doubles; he_mac stays the AVX2 tier's */
    [NTT_TIER_FMA] = {"avx2-fma", CPU_AVX2 | CPU_FMA, PARLEY_HAVE_AVX2},
    /* AVX2 too: the primes it does not take go to the AVX2 tier */
    [NTT_TIER_IFMA] = {"avx512ifma", CPU_AVX2 | CPU_AVX512F | CPU_IFMA, PARLEY_HAVE_AVX512},
};

enum ntt_tier ntt_tier(void) {
    return (enum ntt_tier)cpu_best(ntt_tiers, NTT_TIERS);
}

/* Each tier's kernels (its file's functions), indexed as ntt_tiers. */
typedef struct ntt_ops {
    void (*fwd)(const he_prime *p, uint64_t *a);
    void (*inv)(const he_prime *p, uint64_t *a);
    void (*fwd_pruned)(const he_prime *p, uint64_t *a, unsigned logm);
    void (*mac)(he_u128 *acc, const he_poly *x, const he_poly *y);
    void (*mac_rows_multi)(he_u128 *const *acc, const uint64_t *const *w, const uint64_t *const *x,
                           size_t G, size_t count);
    /* NULL: mac_rows_multi twice */
    void (*mac_rows_multi2)(he_u128 *const *acc0, he_u128 *const *acc1, const uint64_t *const *w,
                            const uint64_t *const *x0, const uint64_t *const *x1, size_t G,
                            size_t count);
} ntt_ops;

static const ntt_ops ntt_tier_ops[NTT_TIERS] = {
    [NTT_TIER_REF] = {he_ntt_fwd_ref, he_ntt_inv_ref, he_ntt_fwd_pruned_ref, he_mac_ref,
                      he_mac_rows_multi_ref},
#if PARLEY_HAVE_AVX2
    [NTT_TIER_AVX2] = {he_ntt_fwd_avx2, he_ntt_inv_avx2, he_ntt_fwd_pruned_avx2, he_mac_avx2,
                       he_mac_rows_multi_avx2},
    [NTT_TIER_FMA] = {he_ntt_fwd_fma, he_ntt_inv_fma, he_ntt_fwd_pruned_fma, he_mac_avx2,
                      he_mac_rows_multi_fma, he_mac_rows_multi2_fma},
#endif
#if PARLEY_HAVE_AVX512
    [NTT_TIER_IFMA] = {he_ntt_fwd_ifma, he_ntt_inv_ifma, he_ntt_fwd_pruned_ifma, he_mac_ifma,
                       he_mac_rows_multi_ifma, he_mac_rows_multi2_ifma},
#endif
};

void he_ntt_fwd(const he_prime *p, uint64_t *a) {
    ntt_tier_ops[ntt_tier()].fwd(p, a);
}

void he_ntt_inv(const he_prime *p, uint64_t *a) {
    ntt_tier_ops[ntt_tier()].inv(p, a);
}

void he_ntt_fwd_pruned(const he_prime *p, uint64_t *a, unsigned logm) {
    ntt_tier_ops[ntt_tier()].fwd_pruned(p, a, logm);
}

void he_mac(he_u128 *acc, const he_poly *x, const he_poly *y) {
    ntt_tier_ops[ntt_tier()].mac(acc, x, y);
}

void he_mac_rows_multi(he_u128 *const *acc, const uint64_t *const *w, const uint64_t *const *x,
                       size_t G, size_t count) {
    ntt_tier_ops[ntt_tier()].mac_rows_multi(acc, w, x, G, count);
}

void he_mac_rows_multi2(he_u128 *const *acc0, he_u128 *const *acc1, const uint64_t *const *w,
                        const uint64_t *const *x0, const uint64_t *const *x1, size_t G,
                        size_t count) {
    const ntt_ops *o = &ntt_tier_ops[ntt_tier()];
    if (o->mac_rows_multi2) {
        o->mac_rows_multi2(acc0, acc1, w, x0, x1, G, count);
        return;
    }
    o->mac_rows_multi(acc0, w, x0, G, count);
    o->mac_rows_multi(acc1, w, x1, G, count);
}

void he_mac_rows(he_u128 *acc, const uint64_t *const *w, const uint64_t *const *x, size_t count) {
    he_mac_rows_multi(&acc, w, x, 1, count);
}

void he_auto_perm(uint32_t *perm, unsigned k) {
    PARLEY_CHECK(k & 1);
    /* index j evaluates at psi^(2 br(j) + 1); X -> X^k moves the point to
     * psi^((2 br(j) + 1) k) */
    for (uint32_t j = 0; j < HE_N; j++) {
        uint32_t br = 0;
        for (unsigned b = 0; b < HE_LOGN; b++)
            br |= ((j >> b) & 1u) << (HE_LOGN - 1 - b);
        uint32_t e = (uint32_t)(((uint64_t)(2 * br + 1) * k) % (2 * HE_N));
        uint32_t v = (e - 1) / 2, r = 0;
        for (unsigned b = 0; b < HE_LOGN; b++)
            r |= ((v >> b) & 1u) << (HE_LOGN - 1 - b);
        perm[j] = r;
    }
}

void he_poly_ntt(he_poly *a) {
    const he_params *P = he_params_get();
    for (int i = 0; i < HE_L; i++)
        he_ntt_fwd(&P->p[i], a->c[i]);
}

void he_poly_intt(he_poly *a) {
    const he_params *P = he_params_get();
    for (int i = 0; i < HE_L; i++)
        he_ntt_inv(&P->p[i], a->c[i]);
}

void he_reduce(he_poly *out, const he_u128 *acc) {
    const he_params *P = he_params_get();
    for (int i = 0; i < HE_L; i++) {
        const he_u128 *r = acc + (size_t)i * HE_N;
        for (size_t j = 0; j < HE_N; j++)
            out->c[i][j] = he_red128(r[j], &P->p[i]);
    }
}
