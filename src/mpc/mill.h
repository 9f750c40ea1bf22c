/* The millionaires' protocol of CrypTFlow2 (paper §3, docs/PROTOCOLS.md §4), its
 * variant that also returns equality, and equality alone.
 *
 * S holds x, C holds y, both k-bit (0 <= k <= 64); the outputs are XOR
 * shares of [x > y] and/or [x == y]. The values are cut into q = ceil(k/m)
 * digits of m bits, least significant first (the last one r = k - (q-1)m
 * bits). For every digit S offers, indexed by C's digit j, the bits
 * ([x_i > j] ^ rho_gt, [x_i == j] ^ rho_eq) in one (2^w choose 1)-OT, w the
 * digit's width, carrying only the bits the tree below will read (digit 0
 * of a comparison needs no equality). The tree combines neighbours,
 * gt = gt_hi ^ (eq_hi & gt_lo) and eq = eq_hi & eq_lo, level by level, with
 * every element and every instance of a level in one message; a node that
 * needs both uses a correlated triple pair (both ANDs share eq_hi).
 *
 * Leaf sender: S by default. On backends with random OTs a lane may make
 * C the sender (mpc_lane.leaf_sender; ot_costing.leaf_sender for the cost
 * functions): both parties then use the complements of their digits, so
 * that C's table over S's digit j, ([~y_i > j], [~y_i == j]) at j = ~x_i,
 * is ([x_i > y_i], [x_i == y_i]) and the tree is unchanged. Same bytes; S's
 * first message (its choices) needs nothing from C, which saves a flight
 * where S's inputs are ready first (after an HE layer, lin_ops.leaf_sender).
 *
 * Rounds: the leaf OTs (S sends) and the triple OTs (C sends) run as one
 * exchange of 2 flights per party (silent backend: 1, as its triples need
 * no message; plus a flight per COT batch it makes), then ceil(log2 q) AND
 * rounds.
 *
 * Wire bits per element, comparison only (gt), q >= 2, w_i digit widths:
 *   leaves   (256 + 2^w_0) + sum_{i>=1} (256 + 2 * 2^w_i)
 *   triples  T1 single ANDs: T1 * (256 + 32) / 2; T2 pairs: T2 * (256 + 16)
 *   openings 4 * T1 + 6 * T2
 * with T1 + 2 T2 = 2q - 2 - ceil(log2 q) ANDs (mill_cost gives the exact
 * counts). k = 31, m = 4: 3828 bits (the paper's count: 3836, docs/PROTOCOLS.md §4).
 *
 * Digits: m bits each when asked (1..8); by default (m = 0) the layout
 * costs the backend least without more rounds than m = 4: q digits of
 * even widths, q up to 2^levels. On the silent backend a leaf of w bits
 * costs w + (2^w - 1) * (bits) (message 0 implied: S's leaf shares are the
 * ones the OT chooses, otb.h) and no extension rows, and COTs are priced
 * at their making's 0.78 bits plus 2 bits of CPU (mill.c,
 * MILL_COT_CPU_BITS); that is 3-bit digits wherever the level budget leaves
 * room: k = 36 in twelve digits of 3, 255 bits + 58 COTs where digits of 4
 * take 331 + 52 (300 bits against 371 with the COTs' making); k = 31 keeps
 * 4 (eight digits fill three levels), 276 + 45. On IKNP digits stay within
 * 4 bits (KK13's sender hashes each of
 * a digit's 2^w messages) and the layout is m = 4's but for spreading the
 * bits evenly. */
#ifndef PARLEY_MPC_MILL_H
#define PARLEY_MPC_MILL_H

#include "mpc/otb.h"

/* One comparison batch: n elements of k bits; v is this party's input (S:
 * x, C: y; bits above k ignored). gt and/or eq receive this party's shares,
 * one byte per bit; either may be NULL, not both. With split (0 < split <
 * k, gt wanted) lo also receives [x mod 2^split > y mod 2^split]: the low
 * split bits and the rest are cut into digits (and trees) of their own and
 * the low bits are the digits below one node of the tree, whose gt is
 * saved on the way, so the low comparison takes no leaf of its own. With m
 * = 1..8 the split must fall on such a node; mill_split_ok says where. */
typedef struct mill_inst {
    size_t n;
    unsigned k;
    const uint64_t *v;
    uint8_t *gt, *eq;
    unsigned split;
    uint8_t *lo;
    /* With split, lo_k > 0 and lo_a: lo_a also receives the low part's bit
     * as additive shares mod 2^lo_k (its B2A), made by one one-flight COT
     * (S sends -2 lo_S, C chooses with lo_C; arith.h) whose message rides in
     * the AND round after the low part's tree ends: no flight of its own,
     * 1 + lo_k bits and one COT per element. Needs mill_lo_b2a_ok; at most
     * one batch of a call. */
    unsigned lo_k;
    uint64_t *lo_a;
} mill_inst;

/* Run several batches together (all leaves in one OT exchange, the tree
 * levels side by side): rounds are those of the deepest. m = digit bits,
 * 1..8 (CrypTFlow2 uses 4), or 0 (MPC_MILL_AUTO, the default): the digit
 * widths that cost the lane's backend least without more tree levels than
 * m = 4 takes (docs/PROTOCOLS.md §4). */
int mpc_mill(mpc_lane *L, const mill_inst *inst, size_t ninst, unsigned m) WUR;

/* Shorthands: [x > y] (and [x == y] if eq != NULL); [x == y] alone. */
int mpc_mill_gt(mpc_lane *L, uint8_t *gt, uint8_t *eq, const uint64_t *v, size_t n, unsigned k,
                unsigned m) WUR;
int mpc_mill_eq(mpc_lane *L, uint8_t *eq, const uint64_t *v, size_t n, unsigned k, unsigned m) WUR;

/* Per-element cost of one batch on an OT backend (OT_BACKEND_*): OTs by
 * kind and triples, and the exact bits for large n (no padding). On the
 * silent backend a (2^w choose 1)-OT costs w + 2^w * l bits instead of
 * 256 + 2^w * l (k = 31, m = 4: 536 bits instead of 3828), and the
 * element consumes `cots` silent COTs, each of which costs its share of
 * the batches that make them on top (otb.h). */
typedef struct mill_cost {
    unsigned q, levels;
    unsigned t1, t2;     /* single ANDs, correlated pairs */
    uint64_t leaf_bits;  /* per element */
    double bits;         /* per element: leaves + triples + openings */
    double cots;         /* per element, silent backend: COTs consumed */
} mill_cost;
void mill_cost_of(mill_cost *c, int backend, unsigned k, unsigned m, int want_gt, int want_eq);
/* The same for a gt comparison split as mill_inst's (with the low part). */
void mill_cost_split(mill_cost *c, int backend, unsigned k, unsigned m, unsigned split);

/* The public shape of one batch of an mpc_mill call: n elements of k bits,
 * which outputs are wanted. */
typedef struct mill_shape {
    size_t n;
    unsigned k;
    int gt, eq;
    unsigned split;
    unsigned lo_k; /* mill_inst's: the low part's B2A width, or 0 */
} mill_shape;
/* Whether a gt comparison on k bits can be split at `split` with digits m
 * on a backend (mpc_mill refuses the others), and its AND rounds (split 0:
 * none). */
int mill_split_ok(int backend, unsigned k, unsigned m, unsigned split);
unsigned mill_levels(int backend, unsigned k, unsigned m, unsigned split);
/* Whether a split batch can take its low part's B2A into lo_k bits inside
 * its AND rounds (mill_inst.lo_a): one-flight COTs of lo_k bits on the
 * backend, and an AND round left after the low part's tree. */
int mill_lo_b2a_ok(int backend, unsigned k, unsigned m, unsigned split, unsigned lo_k);

/* Exact wire bytes, both parties, of one mpc_mill call on these batches:
 * the leaf OTs grouped as mpc_mill groups them (one KK13 job per digit
 * width and output set, over all batches), the triple jobs, and one
 * opening per tree level; every OT job padded as otb_job_bytes pads it. */
uint64_t mill_bytes(const ot_costing *oc, const mill_shape *b, size_t nb, unsigned m);

#endif
