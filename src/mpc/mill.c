/* Millionaires' protocol, with equality; see mill.h. */
#include "mpc/mill.h"

#include "mpc/arith.h"
#include "mpc/bool.h"
#include "mpc/bv.h"
#include "mpc/flights.h"
#include "util/bits.h"
#include "util/mem.h"

#include <math.h>
#include <string.h>

#define MAXQ 64
#define MAXLV 8

/* The shape of one batch's tree, the same on both sides. Digit j covers
 * bits off[j] .. off[j] + w[j] - 1; a node lives in the slot of its lowest
 * digit, and a combine writes its lower child's slot. */
typedef struct mop {
    unsigned level, hi, lo;
    uint8_t gt, eq; /* outputs this node must produce */
} mop;

typedef struct mplan {
    unsigned q, levels;
    unsigned w[MAXQ], off[MAXQ];
    uint8_t lgt[MAXQ], leq[MAXQ]; /* leaf outputs needed */
    unsigned nops;
    mop op[MAXQ]; /* by level, ascending */
    unsigned t1, t2;
    unsigned split, tap_level; /* split: the low part's gt is slot 0's after tap_level */
} mplan;

/* Tree nodes while planning: digits 0 .. q-1, then combine o as node q + o. */
typedef struct ptree {
    unsigned hi[MAXQ], lo[MAXQ], level[MAXQ];
} ptree;

static unsigned node_slot(const mplan *p, const ptree *t, unsigned node) {
    while (node >= p->q) node = t->lo[node - p->q];
    return node;
}

/* What a node must output: gt needs the high child's eq. */
static void tree_need(mplan *p, const ptree *t, unsigned node, int gt, int eq) {
    if (node < p->q) {
        p->lgt[node] |= (uint8_t)gt;
        p->leq[node] |= (uint8_t)eq;
        return;
    }
    unsigned o = node - p->q;
    p->op[o].gt |= (uint8_t)gt;
    p->op[o].eq |= (uint8_t)eq;
    tree_need(p, t, t->hi[o], gt, gt | eq);
    tree_need(p, t, t->lo[o], gt, eq);
}

/* The tree over p's digits (widths set): neighbours paired level by level,
 * an odd one carried up; the outputs each node must produce; with tap >= 0
 * the low part is node (tap, 0), digits 0 .. 2^tap - 1, whose gt is also
 * an output. */
static void plan_tree(mplan *p, int want_gt, int want_eq, int tap) {
    ptree t;
    unsigned cur[MAXQ], nc = p->q, lv = 0, tapnode = 0;
    for (unsigned j = 0, o = 0; j < p->q; o += p->w[j], j++) {
        cur[j] = j;
        p->off[j] = o;
    }
    while (nc > 1) {
        lv++;
        unsigned nn = 0;
        for (unsigned i = 0; i + 1 < nc; i += 2) {
            unsigned o = p->nops++;
            t.lo[o] = cur[i];
            t.hi[o] = cur[i + 1];
            t.level[o] = lv;
            cur[nn++] = p->q + o;
        }
        if (nc & 1) cur[nn++] = cur[nc - 1];
        nc = nn;
        if ((int)lv == tap) tapnode = cur[0];
    }
    if (tap >= 0) {
        p->tap_level = (unsigned)tap;
        tree_need(p, &t, tapnode, 1, 0);
    }
    tree_need(p, &t, cur[0], want_gt, want_eq);
    mop ops[MAXQ];
    unsigned nops = 0;
    for (unsigned l = 1; nops < p->nops; l++)
        for (unsigned o = 0; o < p->nops; o++)
            if (t.level[o] == l) {
                mop x = {l, node_slot(p, &t, t.hi[o]), node_slot(p, &t, t.lo[o]), p->op[o].gt,
                         p->op[o].eq};
                ops[nops++] = x;
                p->levels = l;
                if (x.gt && x.eq)
                    p->t2++;
                else
                    p->t1++;
            }
    memcpy(p->op, ops, sizeof ops);
    PARLEY_CHECK(p->levels <= MAXLV);
}

/* B bits in D digits (D <= B <= 8D), the wider ones lowest (digit 0 of a
 * comparison carries one bit per message, not two). */
static void spread(unsigned *w, unsigned B, unsigned D) {
    for (unsigned j = 0; j < D; j++) w[j] = B / D + (j < B % D);
}

static void cost_of_plan(mill_cost *c, const ot_backend *be, const mplan *p);

/* What a COT costs beyond its making's bytes, in bits, for the layout's
 * choice: its CPU (making it, about 20 ns a side, and using it) is worth
 * about 11 bits of a WAN's time (40 MB/s) and 100 of a LAN's (377 MB/s).
 * Measured (docs/BENCHMARKS.md, issue 13's second step): at k = 36,
 * sixteen 2-3-bit digits (8 COTs, 4 leaves and 4 ANDs more than twelve
 * 3-bit digits) ran 8 % slower. At 2 bits a COT the layouts stay those of
 * 1.62-bit COTs, with or without message 0 implied. */
#define MILL_COT_CPU_BITS 2.0

/* The plan's cost on a backend in thousandths of a bit, its COTs at their
 * making's share plus MILL_COT_CPU_BITS: what the automatic layout
 * minimises. */
static uint64_t plan_score(const mplan *p, const ot_backend *be) {
    mill_cost c;
    cost_of_plan(&c, be, p);
    double per_cot = be->gen_bits_per_cot(NULL);
    if (be->caps & OT_CAP_RANDOM_OT) per_cot += MILL_COT_CPU_BITS;
    return (uint64_t)llround((c.bits + c.cots * per_cot) * 1000.0);
}

/* 0, or -1 when no layout has the split. m = 1..8: digits of m bits from
 * bit 0 (the last narrower), split only where it falls on node (t, 0) of
 * that tree. m = 0 (MPC_MILL_AUTO): the digits that cost least on be with
 * no more tree levels than m = 4 would take (a split layout may take up to
 * two more if none fits): q digits of even widths, q up to 2^levels, the
 * split at node (t, 0), 2^t digits below it. Digits stay within 4 bits
 * where OTs are not free of CPU (IKNP: KK13's sender hashes every one of a
 * digit's 2^w messages), within 8 on the silent backend. */
static int plan_make(mplan *p, unsigned k, unsigned m, int want_gt, int want_eq, unsigned split,
                     const ot_backend *be) {
    memset(p, 0, sizeof *p);
    PARLEY_CHECK(k <= 64 && m <= 8 && (want_gt || want_eq));
    PARLEY_CHECK(split < k || (split == 0 && k == 0));
    PARLEY_CHECK(split == 0 || want_gt);
    p->split = split;
    if (k == 0) return 0;
    if (m) {
        p->q = (k + m - 1) / m;
        for (unsigned j = 0; j < p->q; j++) p->w[j] = j + 1 < p->q ? m : k - (p->q - 1) * m;
        int tap = -1;
        for (unsigned t = 0; split && (1u << t) < p->q; t++)
            if ((1u << t) * m == split) tap = (int)t; /* the first 2^t digits are all full */
        if (split && tap < 0) return -1;
        plan_tree(p, want_gt, want_eq, tap);
        return 0;
    }
    unsigned q4 = (k + 3) / 4, l4 = 0, wmax = be->caps & OT_CAP_RANDOM_OT ? 8 : 4;
    while ((1u << l4) < q4) l4++;
    uint64_t best = UINT64_MAX;
    mplan cand;
    for (unsigned budget = l4; budget <= l4 + (split ? 2 : 0) && best == UINT64_MAX; budget++) {
        unsigned qmax = budget >= 6 ? 64 : 1u << budget;
        if (qmax > k) qmax = k;
        for (unsigned q = (k + wmax - 1) / wmax; q <= qmax; q++)
            for (unsigned t = 0; split ? (1u << t) < q : t == 0; t++) {
                memset(&cand, 0, sizeof cand);
                cand.q = q;
                cand.split = split;
                if (split) {
                    unsigned dl = 1u << t, dh = q - dl;
                    if (split < dl || split > wmax * dl || k - split < dh || k - split > wmax * dh)
                        continue;
                    spread(cand.w, split, dl);
                    spread(cand.w + dl, k - split, dh);
                } else {
                    if (k > wmax * q) continue;
                    spread(cand.w, k, q);
                }
                plan_tree(&cand, want_gt, want_eq, split ? (int)t : -1);
                if (cand.levels > budget) continue;
                uint64_t sc = plan_score(&cand, be);
                if (sc < best) {
                    best = sc;
                    *p = cand;
                }
            }
    }
    return best == UINT64_MAX ? -1 : 0;
}

/* The leaf OTs' sender on a backend: the lane's choice where it has random
 * OTs (mill.h), else S. */
static int leaf_sender_on(const ot_backend *be, int want) {
    return (be->caps & OT_CAP_RANDOM_OT) && want == MPC_CLIENT ? MPC_CLIENT : MPC_SERVER;
}

static const ot_backend *backend_of(int backend) {
    const ot_backend *be = ot_backend_get(backend);
    PARLEY_CHECK(be);
    return be;
}

int mill_split_ok(int backend, unsigned k, unsigned m, unsigned split) {
    mplan p;
    return split > 0 && split < k && plan_make(&p, k, m, 1, 0, split, backend_of(backend)) == 0;
}

int mill_lo_b2a_ok(int backend, unsigned k, unsigned m, unsigned split, unsigned lo_k) {
    mplan p;
    return mpc_cot1_ok(backend, lo_k) && mill_split_ok(backend, k, m, split) &&
           plan_make(&p, k, m, 1, 0, split, backend_of(backend)) == 0 && p.tap_level < p.levels;
}

unsigned mill_levels(int backend, unsigned k, unsigned m, unsigned split) {
    mplan p;
    PARLEY_CHECK(plan_make(&p, k, m, 1, 0, split, backend_of(backend)) == 0);
    return p.levels;
}

static void cost_of_plan(mill_cost *c, const ot_backend *be, const mplan *pp) {
    const mplan p = *pp;
    memset(c, 0, sizeof *c);
    c->q = p.q;
    c->levels = p.levels;
    c->t1 = p.t1;
    c->t2 = p.t2;
    /* (N choose 1)-OT: 256 extension bits (IKNP) or log2 N choice bits
     * (silent, which also consumes that many COTs). */
    /* Where the backend has it, message 0 of every leaf is implied (S's
     * leaf shares are chosen by the OT): N - 1 messages. */
    uint64_t imp = (be->caps & OT_CAP_KK_IMPLIED) ? 1 : 0;
    for (unsigned j = 0; j < p.q; j++) {
        unsigned N = 1u << p.w[j];
        c->leaf_bits += (uint64_t)be->ot_bits(OT_TASK_KK, N) +
                        (uint64_t)(p.lgt[j] + p.leq[j]) * (((uint64_t)1 << p.w[j]) - imp);
        c->cots += (double)be->job_cots(OT_TASK_KK, 1, N);
    }
    /* Triples: with free random OTs, no wire bits, two random OTs each
     * (bool.h); else (16 choose 1)-OT_2 per two, (8 choose 1)-OT_2 per
     * pair. */
    c->bits = (double)c->leaf_bits + 4.0 * p.t1 + 6.0 * p.t2;
    if (be->caps & OT_CAP_RANDOM_OT)
        c->cots += (double)be->job_cots(OT_TASK_RROT, 2, 2) * (p.t1 + p.t2);
    else
        c->bits += p.t1 * (be->ot_bits(OT_TASK_KK, 16) + 32) / 2 +
                   p.t2 * (be->ot_bits(OT_TASK_KK, 8) + 16);
}

void mill_cost_of(mill_cost *c, int backend, unsigned k, unsigned m, int want_gt, int want_eq) {
    mplan p;
    PARLEY_CHECK(plan_make(&p, k, m, want_gt, want_eq, 0, backend_of(backend)) == 0);
    cost_of_plan(c, backend_of(backend), &p);
}

void mill_cost_split(mill_cost *c, int backend, unsigned k, unsigned m, unsigned split) {
    mplan p;
    PARLEY_CHECK(plan_make(&p, k, m, 1, 0, split, backend_of(backend)) == 0);
    cost_of_plan(c, backend_of(backend), &p);
}

uint64_t mill_bytes(const ot_costing *oc, const mill_shape *b, size_t nb, unsigned m) {
    /* Leaf groups by (width, gt, eq): width 1..8, so 8 x 2 x 2 slots,
     * listed in the order mill_run makes them (group_add: first use, by
     * batch and digit), which is the order their chunks take the COTs in:
     * on the silent backend it decides where a batch runs out, so the
     * flight model needs it (the bytes do not). */
    uint64_t group[9][2][2];
    unsigned order[9 * 2 * 2], norder = 0;
    memset(group, 0, sizeof group);
    uint64_t t1 = 0, t2 = 0, level_bits[MAXLV + 1];
    memset(level_bits, 0, sizeof level_bits);
    cot1_job b2a = {.sender = MPC_SERVER}; /* the low part's B2A, if asked */
    unsigned b2a_level = 0;
    for (size_t i = 0; i < nb; i++) {
        if (b[i].n == 0) continue;
        mplan p;
        PARLEY_CHECK(plan_make(&p, b[i].k, m, b[i].gt != 0, b[i].eq != 0, b[i].split,
                               backend_of(oc->backend)) == 0);
        if (b[i].lo_k) {
            PARLEY_CHECK(b[i].split && p.tap_level < p.levels && !b2a.n);
            b2a.n = b[i].n;
            b2a.w = b[i].lo_k;
            b2a_level = p.tap_level + 1;
        }
        for (unsigned j = 0; j < p.q; j++) {
            uint64_t *gn = &group[p.w[j]][p.lgt[j]][p.leq[j]];
            if (*gn == 0) order[norder++] = p.w[j] * 4 + p.lgt[j] * 2 + p.leq[j];
            *gn += b[i].n;
        }
        for (unsigned o = 0; o < p.nops; o++) {
            int pair = p.op[o].gt && p.op[o].eq;
            if (pair)
                t2 += b[i].n;
            else
                t1 += b[i].n;
            level_bits[p.op[o].level] += (pair ? 3 : 2) * (uint64_t)b[i].n;
        }
    }
    /* The leaves (S sends), then the triples, in one otb_run (mill_run's
     * order), then one AND round per level. */
    uint64_t total = 0;
    for (unsigned o = 0; o < norder; o++) {
        unsigned w = order[o] / 4, g = (order[o] / 2) & 1, e = order[o] & 1;
        otb_job j = {.kind = OTB_KK,
                     .sender = leaf_sender_on(backend_of(oc->backend), oc->leaf_sender),
                     .n = group[w][g][e],
                     .N = 1u << w,
                     .l = g + e,
                     .implied = otb_kk_implied(oc->backend)};
        total += otb_job_cost(oc, &j);
    }
    total += tri_bytes(oc, t1, t2);
    otb_job rj;
    if (cot1_rot_jobs(&b2a, 1, &rj)) (void)otb_job_cost(oc, &rj);
    otb_cost_run(oc);
    for (unsigned t = 1; t <= MAXLV; t++)
        if (t == b2a_level && b2a.n) { /* the openings and the B2A's message in one */
            uint64_t sb = bits_bytes(level_bits[t] + cot1_msg_bits(&b2a, 1, MPC_SERVER)),
                     cb = bits_bytes(level_bits[t] + cot1_msg_bits(&b2a, 1, MPC_CLIENT));
            otb_cost_round2(oc, sb, cb);
            total += sb + cb;
        } else if (level_bits[t]) {
            otb_cost_round(oc, and_round_bytes(level_bits[t]) / 2);
            total += and_round_bytes(level_bits[t]);
        }
    return total;
}

/* ---- leaves ---- */

typedef struct inst_state {
    const mill_inst *in;
    mplan plan;
    size_t nw;
    uint64_t *gt[MAXQ], *eq[MAXQ];
    uint64_t *lo; /* split: the low part's gt, saved after plan.tap_level */
    uint64_t flip; /* C sends the leaves: the k-bit mask every digit is read through */
    size_t off[MAXQ]; /* triple offset of each op (in its pool) */
} inst_state;

typedef struct seg {
    inst_state *st;
    unsigned digit;
    size_t start, count;
} seg;

typedef struct leaf_group {
    unsigned w;
    uint8_t gt, eq;
    size_t n, nseg, cap, cur;
    seg *segs;
    uint8_t *choices;
    uint64_t *out;  /* the leaf OTs' outputs (this party's shares): words, */
    uint8_t *out8;  /* or bytes where the back-end offers them (otb.h) */
} leaf_group;

static inline uint64_t digit_of(uint64_t v, const mplan *p, unsigned j) {
    return (v >> p->off[j]) & bits_mask(p->w[j]);
}

/* S's messages for one element: its digit x and masks rg, re (0/1). */
typedef void (*leaf_emit)(const leaf_group *g, uint64_t **o, uint64_t x, uint64_t rg, uint64_t re);

/* For C's digit y: bit 0 = [x > y] ^ rho_gt (if needed), next bit =
 * [x == y] ^ rho_eq (if needed); message y in word y. */
static void emit_each(const leaf_group *g, uint64_t **o, uint64_t x, uint64_t rg, uint64_t re) {
    unsigned N = 1u << g->w, eqsh = g->gt ? 1 : 0;
    uint64_t *d = *o;
    for (uint64_t y = 0; y < N; y++) {
        uint64_t msg = 0;
        if (g->gt) msg = (uint64_t)(x > y) ^ rg;
        if (g->eq) msg |= ((uint64_t)(x == y) ^ re) << eqsh;
        d[y] = msg;
    }
    *o = d + N;
}

/* The same packed (N * l <= 64): over C's digits y, [x > y] is the mask of
 * the low x bits and [x == y] is bit x; message y at bits y*l .. */
static void emit_packed(const leaf_group *g, uint64_t **o, uint64_t x, uint64_t rg, uint64_t re) {
    uint64_t all = bits_mask(1u << g->w), one = 1ULL << x; /* shifts take the same time for every x */
    uint64_t G = g->gt ? ((one - 1) ^ (0 - rg)) & all : 0;
    uint64_t E = g->eq ? (one ^ (0 - re)) & all : 0;
    if (g->gt && g->eq)
        *(*o)++ = bv_spread2(G) | bv_spread2(E) << 1;
    else
        *(*o)++ = g->gt ? G : E;
}

/* The group's OTs first .. first + mm - 1, in segment order. */
static inline __attribute__((always_inline)) void leaf_walk(leaf_group *g, uint64_t *out,
                                                            size_t first, size_t mm,
                                                            leaf_emit emit) {
    size_t t = first, end = first + mm;
    uint64_t *o = out;
    while (t < end) {
        while (g->segs[g->cur].start + g->segs[g->cur].count <= t) g->cur++;
        const seg *s = &g->segs[g->cur];
        inst_state *st = s->st;
        const uint64_t *gv = st->gt[s->digit], *ev = st->eq[s->digit], *v = st->in->v;
        size_t stop = s->start + s->count < end ? s->start + s->count : end;
        for (; t < stop; t++) {
            size_t i = t - s->start;
            emit(g, &o, digit_of(v[i] ^ st->flip, &st->plan, s->digit), g->gt ? bv_get(gv, i) : 0,
                 g->eq ? bv_get(ev, i) : 0);
        }
    }
}

static void leaf_gen(void *vctx, uint64_t *out, size_t first, size_t mm) {
    leaf_walk(vctx, out, first, mm, emit_each);
}

static void leaf_genw(void *vctx, uint64_t *out, size_t first, size_t mm) {
    leaf_walk(vctx, out, first, mm, emit_packed);
}

/* Add digit j of a batch to the OT group of its (width, outputs); gs has
 * room for every digit of every batch. */
static int group_add(leaf_group *gs, size_t *ng, inst_state *st, unsigned j) {
    unsigned w = st->plan.w[j];
    uint8_t gt = st->plan.lgt[j], eq = st->plan.leq[j];
    leaf_group *g = NULL;
    for (size_t i = 0; i < *ng; i++)
        if (gs[i].w == w && gs[i].gt == gt && gs[i].eq == eq) g = &gs[i];
    if (!g) {
        g = &gs[(*ng)++];
        memset(g, 0, sizeof *g);
        g->w = w;
        g->gt = gt;
        g->eq = eq;
    }
    if (g->nseg == g->cap) {
        size_t cap = g->cap ? 2 * g->cap : 16;
        seg *ns = mem_alloc(cap, sizeof *ns);
        if (!ns) return err_set(PARLEY_E_NOMEM, "out of memory for the millionaire");
        if (g->segs) memcpy(ns, g->segs, g->nseg * sizeof *ns);
        mem_free(g->segs);
        g->segs = ns;
        g->cap = cap;
    }
    seg s = {st, j, g->n, st->in->n};
    g->segs[g->nseg++] = s;
    g->n += st->in->n;
    return 0;
}

static void free_state(inst_state *st, size_t ninst, leaf_group *gs, size_t ng) {
    for (size_t i = 0; i < ninst; i++)
        for (unsigned j = 0; j < MAXQ; j++) {
            if (st[i].gt[j]) mem_free_wipe(st[i].gt[j], st[i].nw * 8);
            if (st[i].eq[j]) mem_free_wipe(st[i].eq[j], st[i].nw * 8);
        }
    for (size_t i = 0; i < ninst; i++)
        if (st[i].lo) mem_free_wipe(st[i].lo, st[i].nw * 8);
    for (size_t i = 0; i < ng; i++) {
        mem_free(gs[i].segs);
        if (gs[i].choices) mem_free_wipe(gs[i].choices, gs[i].n);
        if (gs[i].out) mem_free_wipe(gs[i].out, gs[i].n * 8);
        if (gs[i].out8) mem_free_wipe(gs[i].out8, gs[i].n);
    }
    mem_free(gs);
    mem_free(st);
}

/* ---- the protocol ---- */

/* The low part's B2A of a batch that asks for it (mill_inst.lo_a): its
 * one-flight COT, run in the AND round of `level`. */
typedef struct lo_b2a {
    const inst_state *st;
    unsigned level;
    cot1_job job;
    cot1_state cs;
    uint8_t *b;
    uint64_t *u, *out;
} lo_b2a;

static void lo_b2a_free(lo_b2a *b) {
    cot1_free(&b->cs);
    size_t n = b->job.n ? b->job.n : 1;
    if (b->b) mem_free_wipe(b->b, n);
    if (b->u) mem_free_wipe(b->u, n * 8);
    if (b->out) mem_free_wipe(b->out, n * 8);
}

/* Save the low parts' gt of the split batches whose low tree ends at level t. */
static void tap_low(inst_state *st, size_t ninst, unsigned t) {
    for (size_t i = 0; i < ninst; i++)
        if (st[i].lo && st[i].plan.tap_level == t) memcpy(st[i].lo, st[i].gt[0], st[i].nw * 8);
}

static int mill_run(mpc_lane *L, const mill_inst *inst, size_t ninst, unsigned m, inst_state *st,
                    leaf_group *gs, size_t *ngp, tri_pool *tp, lo_b2a *ba) {
    int S = L->role == MPC_SERVER, imp = (L->ot.be->caps & OT_CAP_KK_IMPLIED) != 0;
    /* snd: this party sends the leaf OTs (S, or C where the lane says so) */
    int lsnd = leaf_sender_on(L->ot.be, L->leaf_sender), snd = L->role == lsnd;
    size_t T1 = 0, T2 = 0;
    for (size_t i = 0; i < ninst; i++) {
        inst_state *s = &st[i];
        s->in = &inst[i];
        PARLEY_CHECK(inst[i].gt || inst[i].eq);
        PARLEY_CHECK(!inst[i].split || inst[i].lo);
        PARLEY_CHECK(plan_make(&s->plan, inst[i].k, m, inst[i].gt != NULL, inst[i].eq != NULL,
                               inst[i].split, L->ot.be) == 0);
        if (inst[i].n == 0) continue;
        s->nw = bv_words(inst[i].n);
        s->flip = lsnd == MPC_CLIENT ? bits_mask(inst[i].k) : 0;
        if (inst[i].split && !(s->lo = mem_calloc(s->nw, 8)))
            return err_set(PARLEY_E_NOMEM, "out of memory for the millionaire");
        for (unsigned j = 0; j < s->plan.q; j++) {
            if (s->plan.lgt[j] && !(s->gt[j] = mem_calloc(s->nw, 8)))
                return err_set(PARLEY_E_NOMEM, "out of memory for the millionaire");
            if (s->plan.leq[j] && !(s->eq[j] = mem_calloc(s->nw, 8)))
                return err_set(PARLEY_E_NOMEM, "out of memory for the millionaire");
            if (snd && !imp) { /* the sender's leaf shares are its random masks (with
                                * message 0 implied the OT chooses them: below) */
                if (s->gt[j]) {
                    prg_bytes(&L->ot.rng, s->gt[j], s->nw * 8);
                    bv_trim(s->gt[j], inst[i].n);
                }
                if (s->eq[j]) {
                    prg_bytes(&L->ot.rng, s->eq[j], s->nw * 8);
                    bv_trim(s->eq[j], inst[i].n);
                }
            }
            TRY(group_add(gs, ngp, s, j));
        }
        for (unsigned o = 0; o < s->plan.nops; o++) {
            const mop *op = &s->plan.op[o];
            if (op->gt && op->eq) {
                s->off[o] = T2;
                T2 += inst[i].n;
            } else {
                s->off[o] = T1;
                T1 += inst[i].n;
            }
        }
    }
    size_t ng = *ngp;
    /* The leaves' outputs are 1 or 2 bits: a byte each where the back-end
     * writes bytes (an eighth of the memory). */
    int bytes = (L->ot.be->caps & OT_CAP_RANDOM_OT) != 0;
    for (size_t g = 0; g < ng && (!snd || imp); g++) { /* the receiver's, and the sender's from the OTs */
        leaf_group *G = &gs[g];
        size_t n = G->n ? G->n : 1;
        if (bytes ? !(G->out8 = mem_alloc(n, 1)) : !(G->out = mem_alloc(n, 8)))
            return err_set(PARLEY_E_NOMEM, "out of memory for the millionaire");
    }
    /* The receiver chooses with its digits. */
    if (!snd)
        for (size_t g = 0; g < ng; g++) {
            leaf_group *G = &gs[g];
            G->choices = mem_alloc(G->n ? G->n : 1, 1);
            if (!G->choices) return err_set(PARLEY_E_NOMEM, "out of memory for the millionaire");
            for (size_t sgi = 0; sgi < G->nseg; sgi++) {
                const seg *sg = &G->segs[sgi];
                const uint64_t *v = sg->st->in->v;
                for (size_t i = 0; i < sg->count; i++)
                    G->choices[sg->start + i] =
                        (uint8_t)digit_of(v[i] ^ sg->st->flip, &sg->st->plan, sg->digit);
            }
        }
    otb_job *jobs = mem_alloc(ng + 5, sizeof *jobs); /* leaves, up to 4 triple jobs, a B2A */
    if (!jobs) return err_set(PARLEY_E_NOMEM, "out of memory for the millionaire");
    size_t nj = 0;
    for (size_t g = 0; g < ng; g++) {
        leaf_group *G = &gs[g];
        otb_job j = {.kind = OTB_KK, .sender = lsnd, .n = G->n, .N = 1u << G->w,
                     .l = (unsigned)(G->gt + G->eq), .gen = leaf_gen, .genw = leaf_genw, .gen_ctx = G,
                     .choices = G->choices, .out = snd ? NULL : G->out, .x = snd ? G->out : NULL,
                     .out8 = snd ? NULL : G->out8, .x8 = snd ? G->out8 : NULL,
                     .implied = imp};
        jobs[nj++] = j;
    }
    int rc = tri_prepare(L, tp, T1, T2, MPC_CLIENT, jobs, &nj);
    for (size_t i = 0; i < ninst && rc == 0; i++) { /* the low part's B2A, if asked */
        if (!inst[i].lo_a || !inst[i].n) continue;
        PARLEY_CHECK(inst[i].split && !ba->st &&
                     mill_lo_b2a_ok(L->ot.be->id, inst[i].k, m, inst[i].split, inst[i].lo_k));
        size_t n = inst[i].n;
        ba->st = &st[i];
        ba->level = st[i].plan.tap_level + 1;
        ba->b = mem_alloc(n, 1);
        ba->u = mem_alloc(n, 8);
        ba->out = mem_alloc(n, 8);
        if (!ba->b || !ba->u || !ba->out) {
            rc = err_set(PARLEY_E_NOMEM, "out of memory for the millionaire");
            break;
        }
        cot1_job j = {.sender = MPC_SERVER, .n = n, .w = inst[i].lo_k, .u = ba->u, .b = ba->b,
                      .out = ba->out};
        ba->job = j;
        rc = cot1_prep(L, &ba->cs, &ba->job, 1, jobs, &nj);
    }
    if (rc == 0) rc = otb_run(L, jobs, nj);
    mem_free(jobs);
    TRY(rc);
    tri_finish(tp);
    if (!snd || imp) /* scatter the leaf shares the OTs gave */
        for (size_t g = 0; g < ng; g++) {
            leaf_group *G = &gs[g];
            for (size_t sgi = 0; sgi < G->nseg; sgi++) {
                const seg *sg = &G->segs[sgi];
                uint64_t *gv = sg->st->gt[sg->digit], *ev = sg->st->eq[sg->digit];
                const uint64_t *o = G->out ? G->out + sg->start : NULL;
                const uint8_t *o8 = G->out8 ? G->out8 + sg->start : NULL;
                unsigned sh = G->gt ? 1 : 0;
                for (size_t i = 0; i < sg->count; i++) {
                    uint64_t v = o8 ? o8[i] : o[i];
                    if (G->gt) gv[i >> 6] |= (v & 1) << (i & 63);
                    if (G->eq) ev[i >> 6] |= ((v >> sh) & 1) << (i & 63);
                }
            }
        }

    tap_low(st, ninst, 0);

    /* The tree, one AND round per level for all batches. */
    unsigned maxl = 0;
    for (size_t i = 0; i < ninst; i++)
        if (inst[i].n && st[i].plan.levels > maxl) maxl = st[i].plan.levels;
    for (unsigned t = 1; t <= maxl; t++) {
        size_t ngate = 0, twords = 0;
        for (size_t i = 0; i < ninst; i++) {
            if (!inst[i].n) continue;
            for (unsigned o = 0; o < st[i].plan.nops; o++)
                if (st[i].plan.op[o].level == t) {
                    ngate++;
                    twords += 5 * st[i].nw;
                }
        }
        and_gate *gates = mem_alloc(ngate ? ngate : 1, sizeof *gates);
        uint64_t *tv = mem_alloc(twords ? twords : 1, 8);
        if (!gates || !tv) {
            mem_free(gates);
            mem_free(tv);
            return err_set(PARLEY_E_NOMEM, "out of memory for the millionaire");
        }
        size_t gi = 0;
        uint64_t *tp_ = tv;
        for (size_t i = 0; i < ninst; i++) {
            inst_state *s = &st[i];
            size_t n = inst[i].n, nw = s->nw;
            if (!n) continue;
            for (unsigned o = 0; o < s->plan.nops; o++) {
                const mop *op = &s->plan.op[o];
                if (op->level != t) continue;
                and_gate *G = &gates[gi++];
                memset(G, 0, sizeof *G);
                G->n = n;
                uint64_t *a = tp_, *b = tp_ + nw, *c = tp_ + 2 * nw, *d = tp_ + 3 * nw, *e = tp_ + 4 * nw;
                tp_ += 5 * nw;
                G->x = s->eq[op->hi];
                if (op->gt && op->eq) {
                    bv_extract(a, tp->a2, s->off[o], n);
                    bv_extract(b, tp->b2, s->off[o], n);
                    bv_extract(c, tp->c2, s->off[o], n);
                    bv_extract(d, tp->d2, s->off[o], n);
                    bv_extract(e, tp->e2, s->off[o], n);
                    G->y = s->gt[op->lo];
                    G->y2 = s->eq[op->lo];
                    G->z = s->gt[op->lo];
                    G->z2 = s->eq[op->lo];
                    G->d = d;
                    G->e = e;
                } else {
                    bv_extract(a, tp->a1, s->off[o], n);
                    bv_extract(b, tp->b1, s->off[o], n);
                    bv_extract(c, tp->c1, s->off[o], n);
                    G->y = op->gt ? s->gt[op->lo] : s->eq[op->lo];
                    G->z = op->gt ? s->gt[op->lo] : s->eq[op->lo];
                }
                G->a = a;
                G->b = b;
                G->c = c;
            }
        }
        if (ba->st && t == ba->level) { /* the low part is known: its B2A rides along */
            const inst_state *bs = ba->st;
            uint64_t two = S ? 2 : 0;
            for (size_t i = 0; i < bs->in->n; i++) {
                uint64_t bit = (bs->lo[i >> 6] >> (i & 63)) & 1;
                ba->b[i] = (uint8_t)bit;
                ba->u[i] = 0 - two * bit; /* S: -2 lo_S */
            }
            rc = and_round_with(L, gates, ngate, &ba->job, 1, &ba->cs);
            if (rc == 0) {
                uint64_t mk = bits_mask(bs->in->lo_k);
                for (size_t i = 0; i < bs->in->n; i++)
                    bs->in->lo_a[i] = ((uint64_t)ba->b[i] + ba->out[i]) & mk;
            }
        } else {
            rc = and_round(L, gates, ngate);
        }
        mem_free(gates);
        mem_free_wipe(tv, (twords ? twords : 1) * 8);
        TRY(rc);
        for (size_t i = 0; i < ninst; i++) {
            inst_state *s = &st[i];
            if (!inst[i].n) continue;
            for (unsigned o = 0; o < s->plan.nops; o++) {
                const mop *op = &s->plan.op[o];
                if (op->level != t || !op->gt) continue;
                uint64_t *lo = s->gt[op->lo];
                const uint64_t *hi = s->gt[op->hi];
                for (size_t w = 0; w < s->nw; w++) lo[w] ^= hi[w];
            }
        }
        tap_low(st, ninst, t);
    }

    for (size_t i = 0; i < ninst; i++) {
        const mill_inst *in = &inst[i];
        if (st[i].plan.q == 0) { /* k = 0: x == y == 0 */
            if (in->gt) memset(in->gt, 0, in->n);
            if (in->eq) memset(in->eq, S ? 1 : 0, in->n);
            continue;
        }
        if (!in->n) continue;
        if (in->gt) bv_to_bytes(in->gt, st[i].gt[0], in->n);
        if (in->eq) bv_to_bytes(in->eq, st[i].eq[0], in->n);
        if (in->split) bv_to_bytes(in->lo, st[i].lo, in->n);
    }
    return 0;
}

int mpc_mill(mpc_lane *L, const mill_inst *inst, size_t ninst, unsigned m) {
    PARLEY_CHECK(m <= 8);
    size_t maxg = 0; /* digits: at most one per bit */
    for (size_t i = 0; i < ninst; i++) maxg += inst[i].k;
    inst_state *st = mem_calloc(ninst ? ninst : 1, sizeof *st);
    leaf_group *gs = mem_calloc(maxg ? maxg : 1, sizeof *gs);
    if (!st || !gs) {
        mem_free(st);
        mem_free(gs);
        return err_set(PARLEY_E_NOMEM, "out of memory for the millionaire");
    }
    size_t ng = 0;
    tri_pool tp;
    memset(&tp, 0, sizeof tp);
    lo_b2a ba;
    memset(&ba, 0, sizeof ba);
    int rc = mill_run(L, inst, ninst, m, st, gs, &ng, &tp, &ba);
    lo_b2a_free(&ba);
    tri_free(&tp);
    free_state(st, ninst, gs, ng);
    return rc;
}

int mpc_mill_gt(mpc_lane *L, uint8_t *gt, uint8_t *eq, const uint64_t *v, size_t n, unsigned k,
                unsigned m) {
    mill_inst in = {.n = n, .k = k, .v = v, .gt = gt, .eq = eq};
    return mpc_mill(L, &in, 1, m);
}

int mpc_mill_eq(mpc_lane *L, uint8_t *eq, const uint64_t *v, size_t n, unsigned k, unsigned m) {
    mill_inst in = {.n = n, .k = k, .v = v, .eq = eq};
    return mpc_mill(L, &in, 1, m);
}
