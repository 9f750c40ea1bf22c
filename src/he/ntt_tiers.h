/* The NTT tiers (util/cpu.h): their table, the dispatch's choice, and the
 * AVX2 file's entry points. For he/ntt.c, the tier files and the tests;
 * everything else calls he.h. */
#ifndef PARLEY_HE_NTT_TIERS_H
#define PARLEY_HE_NTT_TIERS_H

#include "he/he.h"
#include "util/cpu.h"

enum ntt_tier { NTT_TIER_REF, NTT_TIER_AVX2, NTT_TIER_FMA, NTT_TIER_IFMA, NTT_TIERS };
extern const cpu_tier ntt_tiers[NTT_TIERS];
/* The tier he_ntt_*, he_mac and he_mac_rows* use now. */
enum ntt_tier ntt_tier(void);

/* ntt_avx2.c (-mavx2): the same results as the _ref functions of he.h. */
void he_ntt_fwd_avx2(const he_prime *p, uint64_t *a);
void he_ntt_inv_avx2(const he_prime *p, uint64_t *a);
void he_ntt_fwd_pruned_avx2(const he_prime *p, uint64_t *a, unsigned logm);
/* The pruned transform's first step: the 2^logm values of the support
 * copied over the whole row (the FMA tier's pruned transform shares it). */
void he_ntt_replicate_avx2(uint64_t *a, unsigned logm);
void he_mac_avx2(he_u128 *acc, const he_poly *x, const he_poly *y);
void he_mac_rows_multi_avx2(he_u128 *const *acc, const uint64_t *const *w, const uint64_t *const *x,
                            size_t G, size_t count);

/* ntt_fma.c (-mavx2 -mfma): the transforms and the products on doubles, the
 * same results; transforms for primes of 48 bits or more go to the AVX2
 * functions, and so does he_mac. The products need operands below 2^48. */
void he_ntt_fwd_fma(const he_prime *p, uint64_t *a);
void he_ntt_inv_fma(const he_prime *p, uint64_t *a);
void he_ntt_fwd_pruned_fma(const he_prime *p, uint64_t *a, unsigned logm);
void he_mac_rows_multi_fma(he_u128 *const *acc, const uint64_t *const *w, const uint64_t *const *x,
                           size_t G, size_t count);
void he_mac_rows_multi2_fma(he_u128 *const *acc0, he_u128 *const *acc1, const uint64_t *const *w,
                            const uint64_t *const *x0, const uint64_t *const *x1, size_t G,
                            size_t count);

/* ntt_ifma.c (-mavx512f -mavx512ifma): the same results; primes of 50 bits
 * or more, he_mac and the one-part products go to the AVX2 functions (the
 * reference ones without them): the HE layers use the two-part products. */
void he_ntt_fwd_ifma(const he_prime *p, uint64_t *a);
void he_ntt_inv_ifma(const he_prime *p, uint64_t *a);
void he_ntt_fwd_pruned_ifma(const he_prime *p, uint64_t *a, unsigned logm);
void he_mac_ifma(he_u128 *acc, const he_poly *x, const he_poly *y);
void he_mac_rows_multi_ifma(he_u128 *const *acc, const uint64_t *const *w, const uint64_t *const *x,
                            size_t G, size_t count);
void he_mac_rows_multi2_ifma(he_u128 *const *acc0, he_u128 *const *acc1, const uint64_t *const *w,
                             const uint64_t *const *x0, const uint64_t *const *x1, size_t G,
                             size_t count);

#endif
