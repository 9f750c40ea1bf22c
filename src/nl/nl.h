/* The non-linear layers of CrypTFlow2 on additive shares (docs/PROTOCOLS.md §5).
 *
 * Every function takes the party first; x and y are this party's shares mod
 * 2^l (1 <= l <= 64, values kept reduced), and the result reconstructs to
 * exactly what src/nl/plain.h computes on the reconstructed input, for every
 * input. The batch is split over the party's lanes (party_run, grain 128)
 * and each lane runs the whole composed protocol on its slice; the costs
 * below are per element and per lane.
 *
 * Notation: mill(k) = the millionaire on k bits with the default
 * (automatic) digits (mill.h; 3828 bits at k = 31, 4280 at k = 36, 1144 at
 * k = 12, with 2 + ceil(log2 ceil(k/4)) flights per party); C = 128 + width
 * for a COT; KK(N, w) = 256 + N*w.
 * "Flights" are per party; both parties send in each, so a flight is one
 * one-way latency and the round trips are about flights / 2. On the silent
 * backend a MUX or a B2A that runs alone takes one flight, not two
 * (mpc_cot1): relu, maxpool's and argmax's steps, nl_act's MUX,
 * trunc_reduce, extend and div take one flight fewer than below (trunc:
 * see its line).
 *
 *   function        wire bits per element               flights per party
 *   relu            mill(l-1) + 2(128 + l)               mill + 2
 *   trunc           msbc(l, s) + (128 + l) + KK(4, s)    mill + 2
 *                   (silent, l <= 63: the correction as three COTs of s
 *                   bits in one flight, msbc(l, s) + (1 + l) + 3(1 + s),
 *                   mill + 1; docs/PROTOCOLS.md §5.3)
 *   relu_trunc      msbc(l, s) + 4(128 + l) + 2(128 + s) mill + 2
 *                   (silent, s < l: the narrow form, y mod 2^k,
 *                   k = l - s, then its extension, msbc(l, s) +
 *                   4(1 + k) + (1 + s), same flights; with the carry's
 *                   B2A inside the split millionaire (nl_carry_b2a),
 *                   msbc(l, s) + 3(1 + k) + (1 + s); docs/PROTOCOLS.md §5.4)
 *                   where msbc(l, s) is MSB(x) with the carry of the low s
 *                   bits: one millionaire on l - 1 bits split at s
 *                   (mill.h; 4790 bits at (37, 12), 278 on the silent
 *                   backend) where that costs no round over mill(l-1)
 *                   (nl_carry_split, nl/lane.h), else mill(l-1) + mill(s)
 *   trunc_reduce    mill(s) + (128 + l - s)              mill + 2
 *   extend l->l2    mill(l) + (128 + l2 - l)             mill + 2
 *                   (l2 = l + 1: mill(l) only, the B2A   (l2 = l + 1: mill)
 *                   of one bit is free)
 *   div by d        mill(l-1) + KK(4, max(l, e)) +       mill + 2 + mill + 2
 *                   3 mill(e-1) + 3(128 + l),
 *                   e = ceil(log2 6d)
 *   act (nl_act)    clip: relu on 2n (one batch; n per bound   mill + 2 each
 *                   present); leaky: relu + trunc(shift)      stage, in order
 *                   then the clip's; hsig: trunc(shift) then
 *                   the clip's relu on 2n
 *   maxpool         per input: mill(l) (one-bit sign extension, so that
 *                   differences cannot overflow); per comparison
 *                   mill(l) + 2(128 + l + 1). K - 1 comparisons per window
 *                   of K positions, in K - 1 sequential steps (linear) or
 *                   ceil(log2 K) (tree). Inputs known to be non-negative
 *                   (NL_POOL_NONNEG): no extension, per comparison
 *                   mill(l-1) + 2(128 + l); below 2^(wb-1) (silent,
 *                   nl_maxpool_narrow): per comparison mill(wb-1) +
 *                   2(1 + wb), per output 1 + (l - wb) (the extension)
 *   argmax          as maxpool with a tree, the MUX carrying the index too:
 *                   per comparison mill(l) + 2(128 + 2l + 1)
 *   (l = 64 has no spare bit: per input MSB = mill(63); per comparison
 *   mill(63) + one AND (148 + 4 bits, 3 more flights) + 2(128 + 64 + 1),
 *   plus 64 bits per MUX for argmax's index)
 *
 * ReLU at l = 32: 4148 bits, l = 37: 4610 bits (docs/PROTOCOLS.md §5.2: 4220
 * and 4692 with chosen-message MUX); relu_trunc at l = 37, s = 12: 5730 bits
 * (6306 before the split millionaire and the COT correction, §5.4).
 *
 * On the silent OT backend (ot/silent.h) the same formulas hold with
 * C = 1 + width and KK(N, w) = log2 N + N*w, mill(k) without the triples'
 * OTs, with message 0 of every leaf implied, and on its own digits (mill.h:
 * 276 bits at k = 31, 255 at k = 36, 75 at k = 12), and the
 * flights grow by the COT batches made on the way; each element also
 * consumes silent COTs (one per C, log2 N per KK, mill.h's `cots` per
 * millionaire), each costing 0.78 bits amortised (otb_gen_bits_per_cot,
 * FERRET_DEFAULT, half-trees; 1.62 with Ferret's trees until 2026-12-05):
 *
 *   function               bits + COTs       with the COTs' making
 *   relu, l = 32           342 + 47          379   (4148 on IKNP; was 433)
 *   relu, l = 37           331 + 60          378   (4610; was 424 + 54, 512;
 *                                                   354 + 60, 451)
 *   relu_trunc, 37, s = 12 346 + 62          394   (5730; was 823 + 73, 942;
 *                                                   456 + 64, 560; 433 + 64, 483;
 *                                                   372 + 63, 421)
 *   trunc, 37, s = 12      332 + 62          380   (5259; was 636 + 71, 751;
 *                                                   366 + 61, 465; 343 + 61, 390)
 *   (the "was" before the last: COTs at 1.62 bits, every leaf message sent)
 *
 * Any function with n == 0 sends nothing. */
#ifndef PARLEY_NL_NL_H
#define PARLEY_NL_NL_H

#include "mpc/otb.h"
#include "nl/plain.h"

/* y = relu(x) = max(0, signed(x)). */
int nl_relu(party *p, uint64_t *y, const uint64_t *x, size_t n, unsigned l) WUR;
/* y = relu(x), or min(x, 0) where flip[i] is 1: the ReLU of x * (1 - 2
 * flip[i]), times that sign again. flip is one party's private bits (the
 * side that holds them passes them, the other NULL), XORed into its share
 * of DReLU(x): the same protocol and cost as nl_relu (a batch norm's
 * private signs before a ReLU, nn/graph.c). With xd != NULL the DReLU is
 * taken of xd at width wd (1 <= wd <= l; shares mod 2^wd, higher bits
 * ignored) instead: xd must be below 2^(wd-1) in magnitude, signed, and
 * have x's sign wherever x != 0 ([xd >= 0] = [x >= 0]); the millionaire
 * then runs on wd - 1 bits (nl_relu_flip_bytes). */
int nl_relu_flip(party *p, uint64_t *y, const uint64_t *x, const uint64_t *xd, unsigned wd,
                 const uint8_t *flip, size_t n, unsigned l) WUR;
/* b = DReLU(x) = [signed(x) >= 0], XOR shares one byte per element. */
int nl_drelu(party *p, uint8_t *b, const uint64_t *x, size_t n, unsigned l) WUR;
/* y = floor(signed(x) / 2^s), faithful (exact) truncation with the sign
 * unknown; s >= l gives -1/0 (as plain). */
int nl_trunc(party *p, uint64_t *y, const uint64_t *x, size_t n, unsigned l, unsigned s) WUR;
/* y = relu(trunc(x)) = trunc(relu(x)), fused: the truncation's sign comes
 * from the ReLU's DReLU bits, and the MUX and the correction share one OT
 * exchange. */
int nl_relu_trunc(party *p, uint64_t *y, const uint64_t *x, size_t n, unsigned l, unsigned s) WUR;
/* Truncate and reduce: y = floor(signed(x) / 2^s) mod 2^(l-s), i.e. the top
 * l - s bits of x, as shares mod 2^(l-s). Needs s < l. */
int nl_trunc_reduce(party *p, uint64_t *y, const uint64_t *x, size_t n, unsigned l, unsigned s) WUR;
/* Extend from l to l2 bits: y = x (is_signed: signed(x)) mod 2^l2. l2 <= l
 * is a local reduction. */
int nl_extend(party *p, uint64_t *y, unsigned l2, const uint64_t *x, size_t n, unsigned l,
              int is_signed) WUR;
/* y = floor(signed(x) / d), d >= 1 public (CrypTFlow2's Div_ring; d = 1,
 * powers of two and d >= 2^(l-1) take cheaper exact paths). Needs
 * 6d <= 2^64 otherwise: PARLEY_E_ARG (only l >= 63 with d > 2^64/6). */
int nl_div(party *p, uint64_t *y, const uint64_t *x, size_t n, unsigned l, uint64_t d) WUR;
/* The same with a public divisor per element, all in one batch (the
 * comparisons run on the width of the largest divisor). */
int nl_div_each(party *p, uint64_t *y, const uint64_t *x, const uint64_t *d, size_t n,
                unsigned l) WUR;

/* y = the piecewise-linear activation a of x (nl_act_plain; a checked
 * with nl_act_check at l). */
int nl_act(party *p, uint64_t *y, const uint64_t *x, size_t n, unsigned l, const nl_actp *a) WUR;

/* Pools over an NCHW tensor; pool must have passed nl_pool_check. x has
 * nl_pool_in_size elements, y nl_pool_out_size. */
int nl_maxpool(party *p, uint64_t *y, const uint64_t *x, const nl_pool *pool, unsigned l) WUR;
/* flags: NL_POOL_TREE for the ceil(log2 K) tree (else the linear scan,
 * K - 1 steps); NL_POOL_NONNEG when every input is known to be non-negative
 * (signed, as after a ReLU): then a - b always fits l signed bits, the
 * comparisons run on l bits and the per-input sign extension (mill(l) per
 * input) is skipped. With NL_POOL_NONNEG and a negative input the result is
 * undefined. */
enum { NL_POOL_TREE = 1, NL_POOL_NONNEG = 2, NL_POOL_DIRECT = 4 /* never separable */ };
/* wb: 0, or a public bound with NL_POOL_NONNEG: every input is below
 * 2^(wb-1) (as a ReLU-truncation's output, below 2^(l-1-s): wb = l - s).
 * Where nl_maxpool_narrow says so the comparisons and MUXes run mod 2^wb
 * (mill(wb - 1) instead of mill(l - 1)) and each output is extended to l
 * bits once, its top bit known to be 0 (one COT of l - wb bits). An input
 * at or above the bound gives an undefined result. */
int nl_maxpool_ex(party *p, uint64_t *y, const uint64_t *x, const nl_pool *pool, unsigned l,
                  int flags, unsigned wb) WUR;
/* Whether nl_maxpool_ex runs at wb bits on a backend: NL_POOL_NONNEG, 2 <=
 * wb < l and one-flight COTs of l - wb bits (mpc_cot1_ok). */
int nl_maxpool_narrow(int backend, unsigned l, int flags, unsigned wb);
/* A max pool whose windows overlap runs separably where that saves
 * comparisons without adding rounds: first the maximum over each window's
 * columns for every input row some window uses (per output column), then
 * over each window's rows of those (docs/PROTOCOLS.md §5.7). From the
 * public shape alone, alike on both sides; nl_maxpool_bytes follows it. */
typedef struct nl_pool_sep {
    int on;        /* separable */
    unsigned nur;  /* input rows some window uses */
    unsigned *ur;  /* those rows, ascending (nur) */
    unsigned *slot;/* row -> its index in ur (H entries; unused rows: UINT_MAX) */
    uint64_t cmps; /* comparisons of the whole layer, as it runs */
} nl_pool_sep;
/* pool checked (nl_pool_check); tree as NL_POOL_TREE. 0, or PARLEY_E_NOMEM. */
int nl_pool_sep_make(nl_pool_sep *s, const nl_pool *pool, int tree) WUR;
void nl_pool_sep_free(nl_pool_sep *s);
/* The candidates of item g of a max pool's tournament (nl_maxpool and
 * nl_maxpool_bytes alike): WHOLE, output g's whole window; COLS, item g =
 * (n*C + c, used row, output column) of the separable first stage, that
 * window's columns; ROWS, output g's window rows (the second stage). */
enum { NL_POOL_STAGE_WHOLE, NL_POOL_STAGE_COLS, NL_POOL_STAGE_ROWS };
size_t nl_pool_stage_size(const nl_pool *pool, int stage, size_t g);

/* Window sums locally, then division by nl_pool_divisor in one batch. */
int nl_avgpool(party *p, uint64_t *y, const uint64_t *x, const nl_pool *pool, unsigned l) WUR;
/* idx[r] = shares mod 2^l of the index of the first maximum of row r of
 * x (rows x cols, cols >= 1 and cols <= 2^l). */
int nl_argmax(party *p, uint64_t *idx, const uint64_t *x, size_t rows, size_t cols, unsigned l) WUR;

/* Exact wire bytes, both parties and all lanes together, of one call of
 * the function of the same name on a party with `lanes` lanes (1 ..
 * LANES_MAX) and the default millionaire digits (4 bits), on oc's OT
 * backend; what the channels count, not an estimate — on the silent
 * backend without the COTs' making, whose count they add to oc (otb.h).
 * They add to the per-element formulas above the padding of every OT job
 * to 128 OTs on IKNP (per job, per chunk of OTE_CHUNK and per lane:
 * party_run splits elements in grains of 128, the pools and argmax by
 * windows and rows) and of every opening to whole bytes. 0 for arguments
 * the function would refuse (and for n == 0); pool shapes are checked with
 * nl_pool_check; 0 too if memory for the linear max pool's window table
 * runs out. Cost O(n) at most, no communication. */
uint64_t nl_relu_bytes(const ot_costing *oc, size_t n, unsigned l, unsigned lanes);
/* nl_relu_flip with its DReLU at width wd (0: l). */
uint64_t nl_relu_flip_bytes(const ot_costing *oc, size_t n, unsigned l, unsigned wd,
                            unsigned lanes);
uint64_t nl_trunc_bytes(const ot_costing *oc, size_t n, unsigned l, unsigned s, unsigned lanes);
uint64_t nl_relu_trunc_bytes(const ot_costing *oc, size_t n, unsigned l, unsigned s,
                             unsigned lanes);
uint64_t nl_trunc_reduce_bytes(const ot_costing *oc, size_t n, unsigned l, unsigned s,
                               unsigned lanes);
uint64_t nl_extend_bytes(const ot_costing *oc, size_t n, unsigned l, unsigned l2, unsigned lanes);
uint64_t nl_div_bytes(const ot_costing *oc, size_t n, unsigned l, uint64_t d, unsigned lanes);
uint64_t nl_div_each_bytes(const ot_costing *oc, const uint64_t *d, size_t n, unsigned l,
                           unsigned lanes);
uint64_t nl_act_bytes(const ot_costing *oc, size_t n, unsigned l, const nl_actp *a,
                      unsigned lanes);
uint64_t nl_avgpool_bytes(const ot_costing *oc, const nl_pool *pool, unsigned l, unsigned lanes);
/* flags and wb as for nl_maxpool_ex (nl_maxpool is NL_POOL_TREE, 0). */
uint64_t nl_maxpool_bytes(const ot_costing *oc, const nl_pool *pool, unsigned l, int flags,
                          unsigned wb, unsigned lanes);
uint64_t nl_argmax_bytes(const ot_costing *oc, size_t rows, size_t cols, unsigned l,
                         unsigned lanes);
/* One lane's nl_extend_msb0_lane (nl/lane.h) on n elements. */
uint64_t nl_extend_msb0_bytes(const ot_costing *oc, size_t n, unsigned k, unsigned l);

#endif
