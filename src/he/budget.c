/* The noise budget of a returned ciphertext; see he.h and
 * docs/SECURITY-HE.md for the derivation.
 *
 * Noise of an input ciphertext after the server adds its share:
 * nu = e + eps_C + eps_S, e centred binomial (eta = 21), eps_* zero-mean
 * randomised roundings in (-1, 1): sub-Gaussian with variance proxy
 * eta/2 + 1/4 + 1/4 = 11 and |nu| < eta + 2. A returned coefficient carries
 * sum_j w_j nu_j over at most `taps` weights, plus the re-randomisation
 * noise u*e_pk + e1 + e2*s (|.| <= 2*N*eta + eta, independent of w). The
 * flood 2^beta is 2^40 times the high-probability bound of both. Decryption
 * then needs (2^beta + worst case)*2^ka/Q + 2^9 (a-rounding, Hoeffding,
 * failure 2^-183) + 2^(ka-kb-1) (b-rounding) < 2^(ka-l-1). */
#include "he/he.h"

#include <math.h>

#define HE_FLOOD_SIGMA 40  /* statistical security of the flood, bits */
#define HE_TAIL_TAU 9.49   /* sqrt(2 ln 2^65): P(|X| > tau*proxy) <= 2^-64 */
#define HE_AROUND_LOG2 9.0 /* a-rounding bound 2^9 */

int he_budget_for(he_budget *b, unsigned l, unsigned wbits, uint64_t taps) {
    if (l < 1 || l > HE_L_MAX)
        return err_set(PARLEY_E_UNSUPPORTED, "HE mode: ring width l = %u outside 1..%d", l,
                       HE_L_MAX);
    if (wbits < 1 || wbits > 64)
        return err_set(PARLEY_E_UNSUPPORTED, "HE mode: weight width %u outside 1..64", wbits);
    if (taps == 0) taps = 1;
    const he_params *P = he_params_get();
    const double log2Q = log2((double)P->Q);
    const double wmax = ldexp(1.0, (int)wbits - 1), eta = HE_CBD_ETA;
    const double b_pk = 2.0 * HE_N * eta + eta;
    const double b_sub = HE_TAIL_TAU * sqrt(11.0 * (double)taps) * wmax;
    const double b_det = (double)taps * wmax * (eta + 2.0) + b_pk + 0.5;
    b->ka = l + HE_KA_EXTRA;
    b->kb = l + HE_KB_EXTRA;
    b->log2_wnoise = log2(b_sub);
    b->log2_det = log2(b_det);
    double need = HE_FLOOD_SIGMA + log2(b_sub + b_pk);
    b->beta = (unsigned)ceil(need + 1e-9);
    /* allowed noise before switching, in units of 1 (mod Q) */
    double room = ldexp(1.0, (int)(b->ka - l - 1)) - ldexp(1.0, (int)HE_AROUND_LOG2) -
                  ldexp(1.0, (int)(b->ka - b->kb - 1));
    double log2_allowed = log2(room) + log2Q - (double)b->ka;
    double worst = ldexp(1.0, (int)b->beta) + b_det;
    b->margin_bits = log2_allowed - log2(worst);
    if (b->margin_bits < 0.01)
        return err_set(PARLEY_E_UNSUPPORTED,
                       "HE mode: noise budget exceeded by %.1f bits at l = %u, wbits = %u, "
                       "%llu taps (use a smaller l or fewer weight bits)",
                       -b->margin_bits, l, wbits, (unsigned long long)taps);
    return 0;
}

double he_budget_phase_bound(const he_budget *b) {
    const he_params *P = he_params_get();
    double worst = ldexp(1.0, (int)b->beta) + ldexp(1.0, 0) * exp2(b->log2_det);
    return worst * exp2((double)b->ka - log2((double)P->Q)) + ldexp(1.0, (int)HE_AROUND_LOG2) +
           ldexp(1.0, (int)(b->ka - b->kb - 1));
}
