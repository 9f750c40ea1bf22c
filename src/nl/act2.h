/* Products of two secret-shared tensors and the activations built on them
 * (docs/MODELS.md, "Products of computed tensors", "HardSwish"). Shares
 * as in nl.h: mod 2^l, 1 <= l <= 64, values kept reduced; the result
 * reconstructs to exactly what the *_plain twin computes on the
 * reconstructed inputs, for every input.
 *
 * Multiplication (nl_mul): z = x * y mod 2^l. Each party multiplies its own
 * shares locally; each cross term x_P * y_Q (P != Q) comes from l
 * correlated OTs, one per bit j of y_Q: Q receives with choice bit j of its
 * share, P sends with correlation x_P mod 2^(l-j), and 2^j times the
 * results sums to x_P * y_Q mod 2^l (COT-based multiplication). Both
 * directions run in one OT exchange.
 *
 *   function            wire bits per element                flights
 *   mul                 2 * sum_{j<l} (128 + l - j)           one OT exchange:
 *                       = 256 l + l (l + 1)                   2 (3 on IKNP at
 *                                                             l >= 37, where the
 *                                                             2l jobs outrun its
 *                                                             look-ahead)
 *   mul_trunc by s      mul + trunc(s) (nl.h)                 mul + mill + 2
 *   hswish              act(clip) (nl.h) + mul + div by hi    act's + mul's + div's
 *
 * (l = 37: mul 10878 bits per element on IKNP.) On the silent backend a COT
 * costs 1 + width bits instead of 128 + width, so mul is 2l + l (l + 1)
 * bits (1480 at l = 37) and 2l COTs per element (otb.h). Lanes split the
 * batch in grains of 128; a lane runs its slice in blocks of
 * NL_MUL_BLOCK elements, one OT exchange per block. */
#ifndef PARLEY_NL_ACT2_H
#define PARLEY_NL_ACT2_H

#include "mpc/otb.h"
#include "nl/plain.h"

#define NL_MUL_BLOCK 8192

/* z = x * y mod 2^l. */
int nl_mul(party *p, uint64_t *z, const uint64_t *x, const uint64_t *y, size_t n,
           unsigned l) WUR;
/* z = floor(signed(x * y mod 2^l) / 2^s) mod 2^l (s = 0: nl_mul), the
 * product then the faithful truncation of nl_trunc, s < l. */
int nl_mul_trunc(party *p, uint64_t *z, const uint64_t *x, const uint64_t *y, size_t n,
                 unsigned l, unsigned s) WUR;
void nl_mul_trunc_plain(uint64_t *z, const uint64_t *x, const uint64_t *y, size_t n, unsigned l,
                        unsigned s);
/* Exact wire bytes as nl.h's *_bytes (both parties, all lanes, without
 * the silent COTs' making); 0 for arguments the function would refuse. */
uint64_t nl_mul_trunc_bytes(const ot_costing *oc, size_t n, unsigned l, unsigned s,
                            unsigned lanes);

/* HardSwish: with a a Clip (NL_ACT_CLIP) from lo = 0 to hi > 0 and beta
 * in a->beta, t = nl_act_plain(x + beta, a) = clip(x + beta, 0, hi), then
 * y = floor(signed(x * t mod 2^l) / hi) (nl_div's floor): for ONNX's
 * HardSwish beta = 3 and hi = 6 at x's scale, x * clip(x + 3, 0, 6) / 6
 * with no rounded constant, so the floor is the only error.
 * nl_hswish_check: PARLEY_E_ARG unless a passes nl_act_check and has that
 * form (hi <= 2^64 / 6 for the division). */
int nl_hswish_check(const nl_actp *a, unsigned l) WUR;
int nl_hswish(party *p, uint64_t *y, const uint64_t *x, size_t n, unsigned l,
              const nl_actp *a) WUR;
void nl_hswish_plain(uint64_t *y, const uint64_t *x, size_t n, unsigned l, const nl_actp *a);
uint64_t nl_hswish_bytes(const ot_costing *oc, size_t n, unsigned l, const nl_actp *a,
                         unsigned lanes);

/* Sigmoid and Tanh at scale s (input and output), for every ring element
 * x, from a table of quadratics on |x| in [0, 2^R), 64 segments of width
 * 2^-g (Sigmoid: R = 4, g = 2; Tanh: R = 3, g = 3):
 *   d = [signed(x) >= 0], a = |x| (2 relu(x) - x), w = a - relu(a - hi)
 *   with hi = 2^(s+R) - 1 (|x| clipped just under 2^R), i = the segment
 *   floor(w / 2^(s-g)) mod 64 (computed on s + R + 1 bits),
 *   u = w - i 2^(s-g), r = floor((floor(a_i u / 2^s) + b_i) u / 2^s) + c_i,
 *   Sigmoid: y = 2^s - r + d (2 r - 2^s)   (sigmoid(-x) = 1 - sigmoid(x))
 *   Tanh:    y = d 2r - r                  (tanh(-x) = -tanh(x))
 * with a_i, b_i, c_i a quadratic fitted to the function on segment i
 * (scripts/make-act-tables, src/nl/act2_tables.h), rounded from scale 40
 * to s in integers. Secure: DReLU, a MUX, a ReLU, truncate-and-reduce on
 * s + R + 1 bits, the coefficients and the segment's start from one
 * (64 choose 1)-OT_l each (S sends the table rotated by its share of i),
 * two products with truncation (nl_mul_trunc), a MUX. Needs s >= g and
 * l >= s + R + 1 (the checks: PARLEY_E_ARG otherwise). */
int nl_sigmoid_check(unsigned l, unsigned s) WUR;
int nl_sigmoid(party *p, uint64_t *y, const uint64_t *x, size_t n, unsigned l, unsigned s) WUR;
void nl_sigmoid_plain(uint64_t *y, const uint64_t *x, size_t n, unsigned l, unsigned s);
uint64_t nl_sigmoid_bytes(const ot_costing *oc, size_t n, unsigned l, unsigned s,
                          unsigned lanes);
int nl_tanh_check(unsigned l, unsigned s) WUR;
int nl_tanh(party *p, uint64_t *y, const uint64_t *x, size_t n, unsigned l, unsigned s) WUR;
void nl_tanh_plain(uint64_t *y, const uint64_t *x, size_t n, unsigned l, unsigned s);
uint64_t nl_tanh_bytes(const ot_costing *oc, size_t n, unsigned l, unsigned s, unsigned lanes);

/* Exp at scale s (input and output) from the same machinery with the table
 * of e^-t on t in [0, 16) (R = 4, g = 2): a = relu(-x) = MUX(d, x) - x,
 * w = a - relu(a - hi), i, u and r as above, y = r: exp(x) for x <= 0
 * (below -16 as at -16, e^-16 < 2^-23). A positive x is outside Exp's
 * domain and gives exp(0) = r at a = 0; the checked reference
 * (ref_run_checked, nn/ref.h) refuses it naming the layer. Secure: as
 * Sigmoid without the last MUX. Same checks (s >= 2, l >= s + 5). */
int nl_exp_check(unsigned l, unsigned s) WUR;
int nl_exp(party *p, uint64_t *y, const uint64_t *x, size_t n, unsigned l, unsigned s) WUR;
void nl_exp_plain(uint64_t *y, const uint64_t *x, size_t n, unsigned l, unsigned s);
uint64_t nl_exp_bytes(const ot_costing *oc, size_t n, unsigned l, unsigned s, unsigned lanes);

/* Reciprocal at scale s (input and output) of x in [2^lo, 2^hi) (integers
 * at scale s; public bounds), normalised by its most significant bit k:
 *   c_j = DReLU(x - 2^(lo+j)) for j = 1..D, D = hi - 1 - lo (c_j = [x >=
 *   2^(lo+j)]: k = lo + sum c_j), Q = 2^D - sum_j c_j 2^(D-j) = 2^(hi-1-k),
 *   x' = floor(x Q / 2^sh), sh = hi - 1 - s   (x' in [2^s, 2^(s+1)): 1..2)
 *   r = the table core on w = x' - 2^s: 1 / (1 + w) from 64 quadratics of
 *       width 1/64 (fit error 1.9e-7)
 *   y = floor(r Q / 2^sh)                     (= r 2^(s-k): 1 / x)
 * Secure: D DReLUs and D MUXes (the bits as ring shares) per element in one
 * batch each, a product with truncation, truncate-and-reduce on s + 1 bits,
 * four (64 choose 1)-OT_l, two products with truncation, and a product with
 * truncation. Needs s >= 6, s < hi <= l - 1, lo < hi and s + D < l - 1 (so
 * that x Q and r Q fit the ring). x outside [2^lo, 2^hi) gives a defined
 * but meaningless value (both forms agree on every ring element). */
int nl_recip_check(unsigned l, unsigned s, unsigned lo, unsigned hi) WUR;
int nl_recip(party *p, uint64_t *y, const uint64_t *x, size_t n, unsigned l, unsigned s,
             unsigned lo, unsigned hi) WUR;
void nl_recip_plain(uint64_t *y, const uint64_t *x, size_t n, unsigned l, unsigned s, unsigned lo,
                    unsigned hi);
uint64_t nl_recip_bytes(const ot_costing *oc, size_t n, unsigned l, unsigned s, unsigned lo,
                        unsigned hi, unsigned lanes);

#endif
