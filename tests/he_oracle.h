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
 * signed bits over inputs sent with `drop` bits dropped, flooded uniformly
 * on 2^(beta+1) integers, is within M / 2^(beta+1) of the flood alone,
 * M = sqrt((11 + 4^(drop-1)) taps 4^(wbits-1) + 14 N + 10.5) + 1 (input
 * noise variance 11 and the dropped bits' rounding, re-randomisation
 * 14 N + 10.5, roundings 1). */
static inline double oracle_sd(unsigned beta, unsigned wbits, uint64_t taps, unsigned drop) {
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

/* Adds to *sd_new the layer's share of the statistical distance of an
 * inference returning `outs` coefficients in all (count copies of the
 * layer), with the planner's beta, and to *sd_old the same with the old
 * per-coefficient beta; *sd_code gets the planner's own figure. 0 or the
 * planner's error. */
static inline int oracle_layer(const lin_conv *c, unsigned l, uint64_t outs, unsigned count,
                               double *sd_new, double *sd_old, double *sd_code) {
    lin_he_info info;
    int rc = lin_he_conv_info(&info, c, l, outs);
    if (rc < 0) return rc;
    uint64_t taps = oracle_taps(c, &info);
    double n = (double)info.outputs * count;
    *sd_new += n * oracle_sd(info.beta, c->wbits, taps, info.drop);
    *sd_old += n * oracle_sd(oracle_old_beta(c->wbits, taps), c->wbits, taps, 0);
    *sd_code += n * exp2(info.log2_sd);
    return 0;
}

#endif
