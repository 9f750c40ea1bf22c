/* Division of secret values by a public divisor in constant time: the
 * divide instruction's latency depends on its operands, and the timing of
 * a computation on a share would tell the peer about x. Granlund and
 * Montgomery (PLDI 1994, fig. 4.1): with 2^(k-1) < d <= 2^k and
 * m = floor(2^64 (2^k - d) / d) + 1,
 *   floor(x / d) = (t + ((x - t) >> min(k, 1))) >> max(k - 1, 0),  t = mulhi(m, x),
 * exact for every 64-bit x and 1 <= d < 2^64. Only ctdiv_init divides (by
 * the public d). */
#ifndef PARLEY_NL_CTDIV_H
#define PARLEY_NL_CTDIV_H

#include "util/bits.h"

#include <stdint.h>

typedef struct ctdiv {
    uint64_t d, m;
    unsigned s1, s2;
} ctdiv;

static inline void ctdiv_init(ctdiv *c, uint64_t d) {
    unsigned k = bits_ceil_log2(d);
    uint64_t gap = k == 64 ? 0 - d : (1ULL << k) - d; /* 2^k - d */
    c->d = d;
    c->m = (uint64_t)((((unsigned __int128)gap) << 64) / d) + 1;
    c->s1 = k < 1 ? k : 1;
    c->s2 = k > 1 ? k - 1 : 0;
}

/* floor(x / d). */
static inline uint64_t ctdiv_u(const ctdiv *c, uint64_t x) {
    uint64_t t = (uint64_t)(((unsigned __int128)c->m * x) >> 64);
    return (t + ((x - t) >> c->s1)) >> c->s2;
}

/* floor(v / d) for signed v: for v < 0 it is ~(~v / d). */
static inline int64_t ctdiv_floor(const ctdiv *c, int64_t v) {
    uint64_t neg = (uint64_t)(v >> 63);
    return (int64_t)(neg ^ ctdiv_u(c, (uint64_t)v ^ neg));
}

#endif
