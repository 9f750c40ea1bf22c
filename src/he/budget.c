/* The noise budget of a returned ciphertext; see he.h and
 * docs/SECURITY-HE.md for the derivation.
 *
 * Noise of an input ciphertext after the server adds its share:
 * nu = e + eps_C + eps_S + delta, e centred binomial (eta = 21), eps_*
 * zero-mean randomised roundings in (-1, 1), delta the randomised rounding
 * of b to a multiple of 2^drop on the wire (he_in_pack; |delta| < 2^drop,
 * zero mean given b): zero mean, uncorrelated across coefficients,
 * variance at most eta/2 + 1/4 + 1/4 + 4^(drop-1) = 11 + 4^(drop-1)
 * (11 for drop = 0), |nu| < eta + 2 + 2^drop. A returned coefficient carries
 * sum_j w_j nu_j over at most `taps` weights (variance at most
 * var(nu) * taps * 2^(2(wbits-1))), the re-randomisation noise
 * u*e_pk + e1 + e2*s (zero mean; over u, e1 and e2, for any key of the
 * client, variance at most (2/3)N eta^2 + eta/2 + N eta/2; |.| <= 2*N*eta
 * + eta) and at most 1 of roundings (the mask's encoding and the output's).
 * Its root mean square M is at most the square root of the variances plus
 * 1, whatever the layers before returned. The flood (he_flood, three
 * uniforms on 2^beta integers) moved by an integer v is within squared
 * Hellinger distance 1.5 v^2 / 4^beta of itself, so a returned coefficient
 * is within 1.5 M^2 / 4^beta: beta is the least integer that makes this
 * 2^-81 / outs. These add up over the session's `outs` coefficients to
 * 2^-81, a statistical distance of at most sqrt(2 * 2^-81) = 2^-40.
 * Packing 2^k outputs into one ciphertext (after rescaling to q0*q1,
 * HE_RESCALE_BOUND, then he_pack) adds at most q2 * (HE_RESCALE_BOUND +
 * (2^k - 1) * HE_KS_BOUND) to the worst case; the server re-randomises each
 * output before packing, so that noise is a function of pseudorandom a's
 * and the client's key, not of the weights, and needs no flood.
 * Decryption then needs (1.5 * 2^beta + worst case)*2^ka/Q + 2^9
 * (a-rounding, Hoeffding, failure 2^-91 per coefficient) + 2^(ka-kb-1)
 * (b-rounding) < 2^(ka-l-1). */
#include "he/he.h"

#include <math.h>

#define HE_AROUND_LOG2 9.0 /* a-rounding bound 2^9 */
#define HE_H2_BITS (2.0 * HE_STAT_BITS + 1.0) /* the session's squared Hellinger bound: 2^-81 */

int he_budget_for(he_budget *b, unsigned l, unsigned wbits, uint64_t taps, uint64_t outs,
                  unsigned drop) {
    return he_budget_for_pack(b, l, wbits, taps, outs, drop, 0);
}

int he_budget_for_pack(he_budget *b, unsigned l, unsigned wbits, uint64_t taps, uint64_t outs,
                       unsigned drop, unsigned pack_log) {
    if (pack_log > HE_PACK_MAX_LOG)
        return err_set(PARLEY_E_UNSUPPORTED, "HE mode: packing 2^%u ciphertexts (at most 2^%d)",
                       pack_log, HE_PACK_MAX_LOG);
    if (l < 1 || l > HE_L_MAX)
        return err_set(PARLEY_E_UNSUPPORTED, "HE mode: ring width l = %u outside 1..%d", l,
                       HE_L_MAX);
    if (wbits < 1 || wbits > 64)
        return err_set(PARLEY_E_UNSUPPORTED, "HE mode: weight width %u outside 1..64", wbits);
    if (drop > HE_DROP_MAX)
        return err_set(PARLEY_E_UNSUPPORTED, "HE mode: %u dropped bits, at most %d", drop,
                       HE_DROP_MAX);
    if (taps == 0) taps = 1;
    if (outs == 0) outs = 1;
    const he_params *P = he_params_get();
    const double wmax = ldexp(1.0, (int)wbits - 1), eta = HE_CBD_ETA, n = HE_N;
    const double var_nu = 11.0 + (drop ? ldexp(1.0, 2 * ((int)drop - 1)) : 0.0);
    const double nu_max = eta + 2.0 + (drop ? ldexp(1.0, (int)drop) : 0.0);
    const double var_w = var_nu * (double)taps * wmax * wmax;
    const double var_pk = n * (2.0 * eta * eta / 3.0 + eta / 2.0) + eta / 2.0;
    const double mean = sqrt(var_w + var_pk) + 1.0;
    /* packed outputs are rescaled to q0*q1 (HE_RESCALE_BOUND) and packed
     * there ((2^k - 1) * HE_KS_BOUND at most): q2 times that in units of Q.
     * It depends on the re-randomised a's alone, not on the weights (he.h) */
    const double b_det = (double)taps * wmax * nu_max + 2.0 * n * eta + eta + 1.0 +
                         (pack_log ? (double)P->p[2].q *
                                         (HE_RESCALE_BOUND +
                                          (ldexp(1.0, (int)pack_log) - 1.0) * HE_KS_BOUND)
                                   : 0.0);
    b->ka = l + HE_KA_EXTRA;
    b->kb = l + HE_KB_EXTRA;
    b->log2_wnoise = 0.5 * log2(var_w);
    b->log2_det = log2(b_det);
    /* 1.5 mean^2 / 4^beta <= 2^-HE_H2_BITS / outs */
    double need = log2(mean) + 0.5 * (log2(1.5) + HE_H2_BITS + log2((double)outs));
    double beta = ceil(need - 1e-9);
    if (beta < 1) beta = 1;
    if (beta > HE_FLOOD_BETA_MAX)
        return err_set(PARLEY_E_UNSUPPORTED,
                       "HE mode: flooding %llu coefficients to %d bits at wbits = %u, %llu taps "
                       "needs %.0f bits of flood (at most %d)",
                       (unsigned long long)outs, HE_STAT_BITS, wbits, (unsigned long long)taps,
                       beta, HE_FLOOD_BETA_MAX);
    b->beta = (unsigned)beta;
    b->log2_h2 = log2(1.5) + 2.0 * (log2(mean) - beta);
    /* allowed noise before switching, in units of 1 (mod Q) */
    double room = ldexp(1.0, (int)(b->ka - l - 1)) - ldexp(1.0, (int)HE_AROUND_LOG2) -
                  ldexp(1.0, (int)(b->ka - b->kb - 1));
    double log2_allowed = log2(room) + P->log2Q - (double)b->ka;
    double worst = 1.5 * ldexp(1.0, (int)b->beta) + b_det;
    b->margin_bits = log2_allowed - log2(worst);
    if (b->margin_bits < 0.01)
        return err_set(PARLEY_E_UNSUPPORTED,
                       "HE mode: noise budget exceeded by %.1f bits at l = %u, wbits = %u, "
                       "%llu taps, %llu coefficients per inference (use a smaller l or fewer "
                       "weight bits)",
                       -b->margin_bits, l, wbits, (unsigned long long)taps,
                       (unsigned long long)outs);
    return 0;
}

double he_stat_bits_of(double h2) {
    return h2 > 0 ? -0.5 * log2(2.0 * h2) : INFINITY;
}

double he_budget_phase_bound(const he_budget *b) {
    const he_params *P = he_params_get();
    double worst = 1.5 * ldexp(1.0, (int)b->beta) + exp2(b->log2_det);
    return worst * exp2((double)b->ka - P->log2Q) + ldexp(1.0, (int)HE_AROUND_LOG2) +
           ldexp(1.0, (int)(b->ka - b->kb - 1));
}
