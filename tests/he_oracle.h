/* An independent statement, for tests, of the flooding bound of
 * docs/SECURITY-HE.md, and of the per-coefficient sizing HE mode used
 * before it (so a test can show that the old sizing falls short of 40 bits
 * for a whole inference). */
#ifndef PARLEY_TESTS_HE_ORACLE_H
#define PARLEY_TESTS_HE_ORACLE_H

#include "he/he.h"
#include "lin/he/lin_he.h"

#include <math.h>

/* A returned coefficient whose weight noise sums `taps` weights of wbits
 * signed bits over inputs sent with `drop` bits dropped, flooded with the
 * sum of three uniforms on 2^beta integers, is within squared Hellinger
 * distance 1.5 M^2 / 4^beta of the flood alone, M the root mean square of
 * its noise: M = sqrt((11 + 4^(drop-1)) taps 4^(wbits-1) + 304.5 N + 10.5)
 * + 1 (input noise variance 11 and the dropped bits' rounding;
 * re-randomisation (2/3) 21^2 N + 10.5 N + 10.5 for the worst key;
 * roundings 1). The bounds of a session add up, and its statistical
 * distance is at most sqrt(2 * sum). */
static inline double oracle_h2(unsigned beta, unsigned wbits, uint64_t taps, unsigned drop) {
    double w = ldexp(1.0, (int)wbits - 1), var = 11.0 + (drop ? ldexp(1.0, 2 * (int)drop - 2) : 0);
    double m = sqrt(var * (double)taps * w * w + 304.5 * HE_N + 10.5) + 1.0;
    return 1.5 * m * m / ldexp(1.0, 2 * (int)beta);
}

/* Statistical security, bits, of a session whose bounds add up to h2. */
static inline double oracle_bits(double h2) {
    return -0.5 * log2(2.0 * h2);
}

/* The flood of the versions before 2026-12-05: uniform on 2^(beta+1)
 * integers, within M / 2^(beta+1) of itself moved by noise of mean absolute
 * value M = sqrt((11 + 4^(drop-1)) taps 4^(wbits-1) + 14 N + 10.5) + 1 (the
 * key averaged), added up over the session (union bound). */
static inline double oracle_sd_uniform(unsigned beta, unsigned wbits, uint64_t taps,
                                       unsigned drop) {
    double w = ldexp(1.0, (int)wbits - 1), var = 11.0 + (drop ? ldexp(1.0, 2 * (int)drop - 2) : 0);
    double m = sqrt(var * (double)taps * w * w + 14.0 * HE_N + 10.5) + 1.0;
    return m / ldexp(1.0, (int)beta + 1);
}

/* The first version's flood: 2^-41 per coefficient of the high-probability
 * bound 9.49 sqrt(11 taps) 2^(wbits-1) plus the worst-case re-randomisation
 * noise at N = 4096. */
static inline unsigned oracle_old_beta(unsigned wbits, uint64_t taps) {
    double w = ldexp(1.0, (int)wbits - 1);
    return (unsigned)ceil(40.0 + log2(9.49 * sqrt(11.0 * (double)taps) * w + 2.0 * 4096 * 21 + 21) +
                          1e-9);
}

/* Weights summed into one returned coefficient of the planned layer c. */
static inline uint64_t oracle_taps(const lin_conv *c, const lin_he_info *info) {
    return (uint64_t)info->Ow * (c->C / c->groups) * c->kh * c->kw;
}

/* Adds to *h2_new the layer's share of the squared Hellinger bound of an
 * inference returning `outs` coefficients in all (count copies of the
 * layer), with the planner's beta, and to *sd_old the statistical distance
 * of the first version's uniform flood at its per-coefficient beta;
 * *h2_code gets the planner's own figure. 0 or the planner's error. */
static inline int oracle_layer(const lin_conv *c, unsigned l, uint64_t outs, unsigned count,
                               double *h2_new, double *sd_old, double *h2_code) {
    lin_he_info info;
    int rc = lin_he_conv_info(&info, c, l, outs);
    if (rc < 0) return rc;
    uint64_t taps = oracle_taps(c, &info);
    double n = (double)info.outputs * count;
    *h2_new += n * oracle_h2(info.beta, c->wbits, taps, info.drop);
    *sd_old += n * oracle_sd_uniform(oracle_old_beta(c->wbits, taps), c->wbits, taps, 0);
    *h2_code += n * exp2(info.log2_h2);
    return 0;
}

#endif
