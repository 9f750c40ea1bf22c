/* Lane-level forms of the non-linear layers (nl.h): each runs the whole
 * composed protocol for its n elements on one lane. The layer functions of
 * nl.h split a batch over the lanes and call these; other layers' code may
 * call them directly inside its own party_run jobs. Contracts and costs as
 * in nl.h; arguments are not re-checked here. */
#ifndef PARLEY_NL_LANE_H
#define PARLEY_NL_LANE_H

#include "mpc/otb.h"

/* The top bit of an l-bit share. */
static inline unsigned nl_top(uint64_t x, unsigned l) { return (unsigned)(x >> (l - 1)) & 1; }

/* The wrap correction of faithful truncation (docs/PROTOCOLS.md §5.3) from the two parties' top
 * bits (ms, mc) and the MSB of the shared value: +1 when both top bits are set and
 * the MSB is clear, -1 when neither is set and the MSB is set, else 0. */
static inline int64_t nl_wrap_corr(unsigned ms, unsigned mc, unsigned msb) {
    return (int64_t)(ms & mc & !msb) - (int64_t)(!ms & !mc & msb);
}

/* The wrap correction shared mod 2^w, from one (4 choose 1)-OT_w that S
 * sends, indexed by C's (b share, m_C): b the MSB of x, shared. nl_corr_job
 * makes the job: S draws its share into r (w bits), C's choices go to ch
 * (n bytes) and its share arrives in r. k must live until the job has run. */
typedef struct nl_corr_ctx {
    const uint8_t *b;
    const uint64_t *x;
    uint64_t *r;
    unsigned l, w;
} nl_corr_ctx;
void nl_corr_gen(void *vctx, uint64_t *out, size_t first, size_t mm);
otb_job nl_corr_job(mpc_lane *L, nl_corr_ctx *k, uint8_t *ch, size_t n);

/* s if one millionaire on the l - 1 bits of MSB(x), split at s (mill.h),
 * gives the carry of the low s bits too, with no round more and for less
 * than the two comparisons apart (m: digit bits, on a backend), else 0:
 * then truncation runs the two as two batches. */
unsigned nl_carry_split(int backend, unsigned l, unsigned s, unsigned m);
/* Whether that split millionaire also gives the carry as additive shares
 * mod 2^k, its B2A riding in the AND rounds after the carry's subtree
 * (mill_inst.lo_a): a split, one-flight COTs of k bits, a round left. */
int nl_carry_b2a(int backend, unsigned l, unsigned s, unsigned m, unsigned k);

/* Whether nl_relu_trunc computes y mod 2^(l-s) and extends it with its MSB
 * known to be 0 (relu.c, docs/PROTOCOLS.md §5.4) on a backend: where it
 * has random OTs (mpc_cot1) and 1 <= s < l. */
int nl_relu_trunc_narrow(int backend, unsigned l, unsigned s);
/* Whether nl_trunc runs its correction and carry as one-flight COTs
 * (mpc_cot1, relu.c) on a backend: random OTs, l <= 63, 1 <= s <= l. */
int nl_trunc_one_flight(int backend, unsigned l, unsigned s);

int nl_relu_lane(mpc_lane *L, uint64_t *y, const uint64_t *x, size_t n, unsigned l) WUR;
/* y = v mod 2^l from shares v mod 2^k (bits above k ignored) of a value
 * below 2^(k-1), its top bit known to be 0: with m_P the shares' top bits
 * the wrap is m_S | m_C = m_S + m_C - m_S m_C, one COT of l - k bits in
 * one flight (S sends m_S, C chooses m_C). Needs mpc_cot1_ok(backend, l -
 * k) when k < l; k >= l is a local reduction. 1 <= k. Cost:
 * nl_extend_msb0_bytes (nl.h). */
int nl_extend_msb0_lane(mpc_lane *L, uint64_t *y, const uint64_t *v, size_t n, unsigned k,
                        unsigned l) WUR;
int nl_relu_flip_lane(mpc_lane *L, uint64_t *y, const uint64_t *x, const uint64_t *xd,
                      unsigned wd, const uint8_t *flip, size_t n, unsigned l) WUR;
int nl_trunc_lane(mpc_lane *L, uint64_t *y, const uint64_t *x, size_t n, unsigned l, unsigned s) WUR;
int nl_relu_trunc_lane(mpc_lane *L, uint64_t *y, const uint64_t *x, size_t n, unsigned l,
                       unsigned s) WUR;
int nl_trunc_reduce_lane(mpc_lane *L, uint64_t *y, const uint64_t *x, size_t n, unsigned l,
                         unsigned s) WUR;
int nl_extend_lane(mpc_lane *L, uint64_t *y, unsigned l2, const uint64_t *x, size_t n, unsigned l,
                   int is_signed) WUR;
/* Division with divisor d[i * dstride] for element i (dstride 0: one d). */
int nl_div_lane(mpc_lane *L, uint64_t *y, const uint64_t *x, const uint64_t *d, size_t dstride,
                size_t n, unsigned l) WUR;

/* The width division's comparisons need for divisor d: the smallest e with
 * 6d <= 2^e (65 if no e <= 64 fits). */
unsigned nl_div_width(uint64_t d);

#endif
