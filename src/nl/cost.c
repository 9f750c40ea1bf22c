/* Exact wire bytes of the non-linear layers (the *_bytes functions of nl.h).
 *
 * Each function below retraces one protocol of relu.c, div.c and pool.c
 * from public data alone: the same millionaire batches (mill_bytes), OT
 * jobs (otb_job_bytes: every job padded to 128 OTs per chunk) and AND
 * openings, on the same per-lane split (party_split with the grain the
 * protocol passes to party_run). The per-element formulas of nl.h hold for
 * large batches; these add the padding of every job on every lane, which
 * is what makes small layers and several lanes cost more than n times the
 * formula. A change to a protocol must be mirrored here: tests/test_nl.c
 * compares every function with the bytes measured on the channels.
 *
 * With a flight model in oc (mpc/flights.h) the same walk also marks where
 * each protocol runs its OT jobs (otb_cost_run, after the jobs of one
 * otb_run) and where party_run forks its lanes (over_lanes), so the model
 * sees the messages in the order the protocols send them. */
#include "nl/nl.h"

#include "nl/lane.h"

#include "mpc/arith.h"
#include "mpc/bool.h"
#include "mpc/flights.h"
#include "mpc/mill.h"
#include "util/mem.h"

#include <string.h>

#define GRAIN 128 /* the grain of relu.c and div.c */
#define MM MPC_MILL_M

/* A (N choose 1)-OT_l job; S sends in every one of nl's. */
static uint64_t kk_bytes(const ot_costing *oc, size_t n, unsigned N, unsigned l) {
    otb_job j = {.kind = OTB_KK, .sender = MPC_SERVER, .n = n, .N = N, .l = l};
    return otb_job_cost(oc, &j);
}

/* Sum of f(ctx, first, count) over the lanes party_run would use. */
typedef uint64_t (*lane_cost_fn)(const ot_costing *oc, const void *ctx, size_t first, size_t count);

static uint64_t over_lanes(const ot_costing *oc, size_t n, size_t grain, unsigned lanes,
                           lane_cost_fn f, const void *ctx) {
    if (n == 0 || lanes < 1 || lanes > LANES_MAX) return 0;
    size_t count[LANES_MAX];
    party_split(count, n, grain, lanes);
    uint64_t total = 0;
    size_t first = 0;
    if (oc->fs) fsim_fork(oc->fs);
    for (unsigned i = 0; i < lanes; i++) {
        if (count[i]) {
            if (oc->fs) fsim_lane(oc->fs, i);
            total += f(oc, ctx, first, count[i]);
        }
        first += count[i];
    }
    if (oc->fs) fsim_join(oc->fs);
    return total;
}

/* ---- lane level: relu.c ---- */

/* DReLU (millionaire on wd - 1 bits; wd = l for a ReLU), then one MUX of
 * l bits. */
static uint64_t relu_w_lane(const ot_costing *oc, size_t n, unsigned l, unsigned wd) {
    uint64_t b = mpc_msb_bytes(oc, n, wd, MM) + mpc_mux_bytes(oc, &l, 1, n);
    otb_cost_run(oc);
    return b;
}

static uint64_t relu_lane(const ot_costing *oc, size_t n, unsigned l) {
    return relu_w_lane(oc, n, l, l);
}

/* msb_and_carry: one millionaire call, one split batch or the batches
 * l - 1 and s. */
/* msb_and_carry; with lo_k, the carry's B2A into lo_k bits rides in the
 * millionaire's AND rounds where nl_carry_b2a says it can (relu.c). */
static uint64_t msb_carry_b2a(const ot_costing *oc, size_t n, unsigned l, unsigned s,
                              unsigned lo_k) {
    unsigned split = nl_carry_split(oc->backend, l, s, MM);
    mill_shape b[2] = {{n, l - 1, 1, 0, split, lo_k}, {n, s, 1, 0, 0, 0}};
    return mill_bytes(oc, b, split ? 1 : 2, MM);
}

static uint64_t msb_carry(const ot_costing *oc, size_t n, unsigned l, unsigned s) {
    return msb_carry_b2a(oc, n, l, s, 0);
}

static uint64_t trunc_lane(const ot_costing *oc, size_t n, unsigned l, unsigned s) {
    if (s > l) s = l;
    if (s == 0) return 0;
    if (nl_trunc_one_flight(oc->backend, l, s)) { /* trunc_one_flight */
        cot1_job j[4] = {{.sender = MPC_CLIENT, .n = n, .w = l}, {.sender = MPC_SERVER, .n = n, .w = s},
                         {.sender = MPC_SERVER, .n = n, .w = s}, {.sender = MPC_SERVER, .n = n, .w = s}};
        return msb_carry(oc, n, l, s) + mpc_cot1_bytes(oc, j, 4);
    }
    /* the correction mod 2^s (S sends) and the carry's B2A (C sends) in one run */
    uint64_t b =
        msb_carry(oc, n, l, s) + kk_bytes(oc, n, 4, s) + mpc_b2a_bytes_by(oc, n, l, MPC_CLIENT);
    otb_cost_run(oc);
    return b;
}

uint64_t nl_extend_msb0_bytes(const ot_costing *oc, size_t n, unsigned k, unsigned l) {
    if (k >= l) return 0;
    cot1_job ext = {.sender = MPC_SERVER, .n = n, .w = l - k};
    return mpc_cot1_bytes(oc, &ext, 1);
}

static uint64_t relu_trunc_lane(const ot_costing *oc, size_t n, unsigned l, unsigned s) {
    if (s > l) s = l;
    if (s == 0) return relu_lane(oc, n, l);
    if (nl_relu_trunc_narrow(oc->backend, l, s)) { /* relu_trunc_narrow's two flights */
        unsigned k = l - s;
        cot1_job mux[4] = {{.sender = MPC_SERVER, .n = n, .w = k}, {.sender = MPC_CLIENT, .n = n, .w = k},
                           {.sender = MPC_SERVER, .n = n, .w = k}, {.sender = MPC_SERVER, .n = n, .w = k}};
        if (nl_carry_b2a(oc->backend, l, s, MM, k)) /* the carry as shares: the MUX alone */
            return msb_carry_b2a(oc, n, l, s, k) + mpc_cot1_bytes(oc, mux, 2) +
                   nl_extend_msb0_bytes(oc, n, k, l);
        return msb_carry(oc, n, l, s) + mpc_cot1_bytes(oc, mux, 4) +
               nl_extend_msb0_bytes(oc, n, k, l);
    }
    /* the MUX, then S's two COTs per element of l bits and two of s bits */
    otb_job ja = {.kind = OTB_COT, .sender = MPC_SERVER, .n = 2 * n, .ls = &l, .M = 1};
    otb_job jb = {.kind = OTB_COT, .sender = MPC_SERVER, .n = 2 * n, .ls = &s, .M = 1};
    uint64_t b = msb_carry(oc, n, l, s) + mux_prep_bytes(oc, &l, 1, n) + otb_job_cost(oc, &ja) +
                 otb_job_cost(oc, &jb);
    otb_cost_run(oc); /* the MUX and the correction together */
    return b;
}

static uint64_t trunc_reduce_lane(const ot_costing *oc, size_t n, unsigned l, unsigned s) {
    if (s == 0) return 0;
    uint64_t b = mpc_wrap_bytes(oc, n, s, MM) + mpc_b2a_bytes(oc, n, l - s);
    otb_cost_run(oc);
    return b;
}

static uint64_t extend_lane(const ot_costing *oc, size_t n, unsigned l, unsigned l2) {
    if (l2 <= l) return 0;
    uint64_t b = mpc_wrap_bytes(oc, n, l, MM) + mpc_b2a_bytes(oc, n, l2 - l);
    otb_cost_run(oc);
    return b;
}

/* ---- lane level: div.c ---- */

/* div_ring on n elements whose largest divisor needs e comparison bits:
 * MSB(x), the correction by one (4 choose 1)-OT on max(l, e) bits, the
 * three comparisons on e - 1 bits in one millionaire, their B2A. */
static uint64_t div_ring_bytes(const ot_costing *oc, size_t n, unsigned l, unsigned e) {
    unsigned w = l > e ? l : e;
    uint64_t b = mpc_msb_bytes(oc, n, l, MM) + kk_bytes(oc, n, 4, w);
    otb_cost_run(oc);
    b += mpc_wrap_bytes(oc, 3 * n, e - 1, MM) + mpc_b2a_bytes(oc, 3 * n, l);
    otb_cost_run(oc);
    return b;
}

/* nl_div_lane with divisor d[i * ds] for element i. */
static uint64_t div_lane(const ot_costing *oc, const uint64_t *d, size_t ds, size_t n, unsigned l) {
    if (n == 0) return 0;
    if (ds == 0) {
        uint64_t d0 = d[0];
        if (d0 == 1) return 0;
        if ((d0 & (d0 - 1)) == 0) return trunc_lane(oc, n, l, (unsigned)__builtin_ctzll(d0));
        if (l == 1 || d0 >= 1ULL << (l - 1)) { /* div_large: -MSB(x) */
            uint64_t b = mpc_msb_bytes(oc, n, l, MM) + mpc_b2a_bytes(oc, n, l);
            otb_cost_run(oc);
            return b;
        }
    }
    unsigned e = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned ei = nl_div_width(d[i * ds]);
        if (ei > e) e = ei;
        if (ds == 0) break;
    }
    return div_ring_bytes(oc, n, l, e);
}

/* ---- layer level: element-wise ---- */

enum { C_RELU, C_TRUNC, C_RELU_TRUNC, C_TR, C_EXT, C_MSB, C_RELU_W };

typedef struct ew_cost {
    int kind;
    unsigned l, s, l2;
} ew_cost;

static uint64_t ew_lane(const ot_costing *oc, const void *vctx, size_t first, size_t count) {
    const ew_cost *c = vctx;
    (void)first;
    switch (c->kind) {
    case C_RELU:
        return relu_lane(oc, count, c->l);
    case C_TRUNC:
        return trunc_lane(oc, count, c->l, c->s);
    case C_RELU_TRUNC:
        return relu_trunc_lane(oc, count, c->l, c->s);
    case C_TR:
        return trunc_reduce_lane(oc, count, c->l, c->s);
    case C_EXT:
        return extend_lane(oc, count, c->l, c->l2);
    case C_RELU_W:
        return relu_w_lane(oc, count, c->l, c->l2);
    default:
        return mpc_msb_bytes(oc, count, c->l, MM);
    }
}

static int l_ok(unsigned l) {
    return l >= 1 && l <= 64;
}

static uint64_t ew_bytes(const ot_costing *oc, int kind, size_t n, unsigned l, unsigned s,
                         unsigned l2, unsigned lanes) {
    ew_cost c = {kind, l, s, l2};
    return over_lanes(oc, n, GRAIN, lanes, ew_lane, &c);
}

uint64_t nl_relu_bytes(const ot_costing *oc, size_t n, unsigned l, unsigned lanes) {
    return l_ok(l) ? ew_bytes(oc, C_RELU, n, l, 0, 0, lanes) : 0;
}

uint64_t nl_relu_flip_bytes(const ot_costing *oc, size_t n, unsigned l, unsigned wd,
                            unsigned lanes) {
    if (wd == 0 || wd > l) wd = l;
    return l_ok(l) ? ew_bytes(oc, C_RELU_W, n, l, 0, wd, lanes) : 0;
}

uint64_t nl_trunc_bytes(const ot_costing *oc, size_t n, unsigned l, unsigned s, unsigned lanes) {
    return l_ok(l) ? ew_bytes(oc, C_TRUNC, n, l, s, 0, lanes) : 0;
}

uint64_t nl_relu_trunc_bytes(const ot_costing *oc, size_t n, unsigned l, unsigned s,
                             unsigned lanes) {
    return l_ok(l) ? ew_bytes(oc, C_RELU_TRUNC, n, l, s, 0, lanes) : 0;
}

uint64_t nl_trunc_reduce_bytes(const ot_costing *oc, size_t n, unsigned l, unsigned s,
                               unsigned lanes) {
    return l_ok(l) && s < l ? ew_bytes(oc, C_TR, n, l, s, 0, lanes) : 0;
}

uint64_t nl_extend_bytes(const ot_costing *oc, size_t n, unsigned l, unsigned l2, unsigned lanes) {
    return l_ok(l) && l_ok(l2) ? ew_bytes(oc, C_EXT, n, l, 0, l2, lanes) : 0;
}

/* ---- layer level: division ---- */

typedef struct div_cost {
    const uint64_t *d;
    size_t ds;
    unsigned l;
} div_cost;

static uint64_t div_job_cost(const ot_costing *oc, const void *vctx, size_t first, size_t count) {
    const div_cost *c = vctx;
    return div_lane(oc, c->d + first * c->ds, c->ds, count, c->l);
}

uint64_t nl_div_bytes(const ot_costing *oc, size_t n, unsigned l, uint64_t d, unsigned lanes) {
    if (!l_ok(l) || d == 0) return 0;
    int cheap = (d & (d - 1)) == 0 || l == 1 || d >= 1ULL << (l - 1);
    if (!cheap && nl_div_width(d) > 64) return 0; /* nl_div refuses it */
    div_cost c = {&d, 0, l};
    return over_lanes(oc, n, GRAIN, lanes, div_job_cost, &c);
}

uint64_t nl_div_each_bytes(const ot_costing *oc, const uint64_t *d, size_t n, unsigned l,
                           unsigned lanes) {
    if (!l_ok(l)) return 0;
    for (size_t i = 0; i < n; i++)
        if (d[i] == 0 || nl_div_width(d[i]) > 64) return 0;
    div_cost c = {d, 1, l};
    return over_lanes(oc, n, GRAIN, lanes, div_job_cost, &c);
}

/* Average pooling: the divisors repeat with the output plane; nl_avgpool
 * divides by one d when they are all equal, else element by element. */
typedef struct avg_cost {
    const uint64_t *dv; /* one per output position of a plane */
    size_t plane;
    unsigned l;
} avg_cost;

static uint64_t avg_lane(const ot_costing *oc, const void *vctx, size_t first, size_t count) {
    const avg_cost *c = vctx;
    /* nl_div_each on the slice: the width of its largest divisor counts. */
    unsigned e = 0;
    size_t span = count < c->plane ? count : c->plane;
    for (size_t o = 0; o < span; o++) {
        unsigned ei = nl_div_width(c->dv[(first + o) % c->plane]);
        if (ei > e) e = ei;
    }
    return div_ring_bytes(oc, count, c->l, e);
}

uint64_t nl_avgpool_bytes(const ot_costing *oc, const nl_pool *pool, unsigned l, unsigned lanes) {
    nl_pool P = *pool;
    if (!l_ok(l) || nl_pool_check(&P) < 0) return 0;
    size_t no = nl_pool_out_size(&P), plane = (size_t)P.OH * P.OW;
    uint64_t *dv = mem_alloc(plane, sizeof *dv);
    if (!dv) return 0;
    int uniform = 1;
    for (unsigned i = 0; i < P.OH; i++)
        for (unsigned j = 0; j < P.OW; j++) {
            dv[(size_t)i * P.OW + j] = nl_pool_divisor(&P, i, j);
            if (dv[(size_t)i * P.OW + j] != dv[0]) uniform = 0;
        }
    uint64_t total;
    if (uniform) {
        total = nl_div_bytes(oc, no, l, dv[0], lanes);
    } else {
        avg_cost c = {dv, plane, l};
        total = over_lanes(oc, no, GRAIN, lanes, avg_lane, &c);
    }
    mem_free(dv);
    return total;
}

/* ---- layer level: pool.c ---- */

/* One select_step on n pairs: the comparison (DReLU on lw bits, or for
 * l = 64 without a spare bit the MSB on 64 bits and one AND), then one MUX
 * carrying the value difference (lw bits), the MSB difference (1 bit, l =
 * 64) and the index difference (l bits, argmax). */
static uint64_t select_bytes(const ot_costing *oc, size_t n, unsigned l, unsigned lw, int narrow,
                             int with_ix) {
    if (n == 0) return 0;
    uint64_t b =
        narrow ? mpc_msb_bytes(oc, n, 64, MM) + mpc_and_bytes(oc, n) : mpc_msb_bytes(oc, n, lw, MM);
    unsigned ls[3];
    size_t M = 0;
    ls[M++] = lw;
    if (narrow) ls[M++] = 1;
    if (with_ix) ls[M++] = l;
    b += mpc_mux_bytes(oc, ls, M, n);
    otb_cost_run(oc);
    return b;
}

/* cmp_in_make on n inputs: a one-bit sign extension (l < 64) or the MSBs
 * (l = 64), split with grain 128; nothing for non-negative inputs. */
static uint64_t cmp_in_bytes(const ot_costing *oc, size_t n, unsigned l, int nonneg,
                             unsigned lanes) {
    if (nonneg) return 0;
    if (l < 64) return ew_bytes(oc, C_EXT, n, l, 0, l + 1, lanes);
    return ew_bytes(oc, C_MSB, n, 64, 0, 0, lanes);
}

typedef struct max_cost {
    const nl_pool *P;
    unsigned l, lw;
    int narrow, tree;
    int stage; /* NL_POOL_STAGE_*: the items' candidates */
} max_cost;

/* tour_job on items [first, first + count). Tree: level t compares
 * floor(len/2) pairs of every window still longer than 1. Linear: step j
 * compares one pair of every window longer than j. */
static uint64_t max_lane(const ot_costing *oc, const void *vctx, size_t first, size_t count) {
    const max_cost *c = vctx;
    uint64_t total = 0;
    if (c->tree) {
        uint64_t pairs[65];
        memset(pairs, 0, sizeof pairs);
        for (size_t o = 0; o < count; o++) {
            uint64_t len = (uint64_t)nl_pool_stage_size(c->P, c->stage, first + o);
            for (unsigned t = 0; len > 1; t++) {
                pairs[t] += len / 2;
                len = (len + 1) / 2;
            }
        }
        for (unsigned t = 0; t < 65 && pairs[t]; t++)
            total += select_bytes(oc, (size_t)pairs[t], c->l, c->lw, c->narrow, 0);
        return total;
    }
    uint64_t kmax = 0;
    for (size_t o = 0; o < count; o++) {
        uint64_t k = (uint64_t)nl_pool_stage_size(c->P, c->stage, first + o);
        if (k > kmax) kmax = k;
    }
    /* longer[j] = windows of more than j positions. */
    uint64_t *longer = mem_calloc((size_t)kmax + 1, sizeof *longer);
    if (!longer) return 0;
    for (size_t o = 0; o < count; o++)
        longer[(uint64_t)nl_pool_stage_size(c->P, c->stage, first + o) - 1]++;
    for (uint64_t j = kmax; j-- > 1;)
        longer[j - 1] += longer[j];
    for (uint64_t j = 1; j < kmax; j++)
        total += select_bytes(oc, (size_t)longer[j], c->l, c->lw, c->narrow, 0);
    mem_free(longer);
    return total;
}

typedef struct ext_cost {
    unsigned k, l;
} ext_cost;

static uint64_t ext_lane(const ot_costing *oc, const void *vctx, size_t first, size_t count) {
    const ext_cost *c = vctx;
    (void)first;
    return nl_extend_msb0_bytes(oc, count, c->k, c->l);
}

uint64_t nl_maxpool_bytes(const ot_costing *oc, const nl_pool *pool, unsigned l, int flags,
                          unsigned wb, unsigned lanes) {
    nl_pool P = *pool;
    if (!l_ok(l) || lanes < 1 || lanes > LANES_MAX || nl_pool_check(&P) < 0) return 0;
    int nonneg = (flags & NL_POOL_NONNEG) != 0, tree = (flags & NL_POOL_TREE) != 0;
    int narrow = nl_maxpool_narrow(oc->backend, l, flags, wb);
    nl_pool_sep S;
    if (nl_pool_sep_make(&S, &P, tree) < 0) {
        err_clear();
        return 0;
    }
    if (flags & NL_POOL_DIRECT) S.on = 0;
    max_cost c = {&P, l,
                  narrow   ? wb
                  : nonneg ? l
                  : l < 64 ? l + 1
                           : 64,
                  !nonneg && l == 64, tree, NL_POOL_STAGE_WHOLE};
    uint64_t b = cmp_in_bytes(oc, nl_pool_in_size(&P), l, nonneg, lanes);
    if (S.on) {
        c.stage = NL_POOL_STAGE_COLS;
        b += over_lanes(oc, (size_t)P.N * P.C * S.nur * P.OW, 1, lanes, max_lane, &c);
        c.stage = NL_POOL_STAGE_ROWS;
    }
    b += over_lanes(oc, nl_pool_out_size(&P), 1, lanes, max_lane, &c);
    if (narrow) {
        ext_cost e = {wb, l};
        b += over_lanes(oc, nl_pool_out_size(&P), GRAIN, lanes, ext_lane, &e);
    }
    nl_pool_sep_free(&S);
    return b;
}

typedef struct argmax_cost {
    size_t cols;
    unsigned l;
} argmax_cost;

/* argmax_job on `count` rows: a tree over each row's (value, index) pairs. */
static uint64_t argmax_lane(const ot_costing *oc, const void *vctx, size_t first, size_t count) {
    const argmax_cost *c = vctx;
    (void)first;
    unsigned lw = c->l < 64 ? c->l + 1 : 64;
    uint64_t total = 0;
    for (size_t len = c->cols; len > 1; len = (len + 1) / 2)
        total += select_bytes(oc, count * (len / 2), c->l, lw, c->l == 64, 1);
    return total;
}

uint64_t nl_argmax_bytes(const ot_costing *oc, size_t rows, size_t cols, unsigned l,
                         unsigned lanes) {
    size_t n;
    if (!l_ok(l) || lanes < 1 || lanes > LANES_MAX || cols == 0) return 0;
    if (l < 64 && cols > (1ULL << l)) return 0;
    if (size_mul(&n, rows, cols) < 0) return 0;
    argmax_cost c = {cols, l};
    return cmp_in_bytes(oc, n, l, 0, lanes) + over_lanes(oc, rows, 1, lanes, argmax_lane, &c);
}
