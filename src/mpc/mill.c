/* Millionaires' protocol, with equality; see mill.h. */
#include "mpc/mill.h"

#include "mpc/bool.h"
#include "mpc/bv.h"
#include "mpc/flights.h"
#include "util/mem.h"

#include <string.h>

#define MAXQ 64
#define MAXLV 7

/* The shape of one batch's tree, the same on both sides. Node (t, i) of
 * level t lives in slot i << t; a combine writes its lower child's slot. */
typedef struct mop {
    unsigned level, hi, lo;
    uint8_t gt, eq; /* outputs this node must produce */
} mop;

typedef struct mplan {
    unsigned q, levels;
    unsigned w[MAXQ];
    uint8_t lgt[MAXQ], leq[MAXQ]; /* leaf outputs needed */
    unsigned nops;
    mop op[MAXQ]; /* by level, ascending */
    unsigned t1, t2;
} mplan;

static void plan_make(mplan *p, unsigned k, unsigned m, int want_gt, int want_eq) {
    memset(p, 0, sizeof *p);
    PARLEY_CHECK(k <= 64 && m >= 1 && m <= 8 && (want_gt || want_eq));
    unsigned q = (k + m - 1) / m;
    p->q = q;
    for (unsigned j = 0; j < q; j++) p->w[j] = j + 1 < q ? m : k - (q - 1) * m;
    if (q == 0) return;
    unsigned cnt[MAXLV + 1], L = 0;
    cnt[0] = q;
    while (cnt[L] > 1) {
        cnt[L + 1] = (cnt[L] + 1) / 2;
        L++;
    }
    p->levels = L;
    uint8_t ng[MAXLV + 1][MAXQ], ne[MAXLV + 1][MAXQ];
    memset(ng, 0, sizeof ng);
    memset(ne, 0, sizeof ne);
    ng[L][0] = (uint8_t)want_gt;
    ne[L][0] = (uint8_t)want_eq;
    mop byl[MAXLV + 1][MAXQ];
    unsigned nby[MAXLV + 1] = {0};
    for (unsigned t = L; t >= 1; t--)
        for (unsigned i = 0; i < cnt[t]; i++) {
            unsigned lo = 2 * i, hi = 2 * i + 1;
            ng[t - 1][lo] = ng[t][i];
            ne[t - 1][lo] = ne[t][i];
            if (hi < cnt[t - 1]) {
                ng[t - 1][hi] = ng[t][i];
                ne[t - 1][hi] = ng[t][i] | ne[t][i];
                mop o = {t, hi << (t - 1), i << t, ng[t][i], ne[t][i]};
                byl[t][nby[t]++] = o;
            }
        }
    for (unsigned t = 1; t <= L; t++)
        for (unsigned i = 0; i < nby[t]; i++) {
            mop o = byl[t][i];
            p->op[p->nops++] = o;
            if (o.gt && o.eq)
                p->t2++;
            else
                p->t1++;
        }
    for (unsigned j = 0; j < q; j++) {
        p->lgt[j] = ng[0][j];
        p->leq[j] = ne[0][j];
    }
}

void mill_cost_of(mill_cost *c, int backend, unsigned k, unsigned m, int want_gt, int want_eq) {
    mplan p;
    plan_make(&p, k, m, want_gt, want_eq);
    memset(c, 0, sizeof *c);
    c->q = p.q;
    c->levels = p.levels;
    c->t1 = p.t1;
    c->t2 = p.t2;
    const ot_backend *be = ot_backend_get(backend);
    PARLEY_CHECK(be);
    /* (N choose 1)-OT: 256 extension bits (IKNP) or log2 N choice bits
     * (silent, which also consumes that many COTs). */
    for (unsigned j = 0; j < p.q; j++) {
        unsigned N = 1u << p.w[j];
        c->leaf_bits += (uint64_t)be->ot_bits(OT_TASK_KK, N) + ((uint64_t)(p.lgt[j] + p.leq[j]) << p.w[j]);
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

uint64_t mill_bytes(const ot_costing *oc, const mill_shape *b, size_t nb, unsigned m) {
    /* Leaf groups by (width, gt, eq): width 1..8, so 8 x 2 x 2 slots. */
    uint64_t group[9][2][2];
    memset(group, 0, sizeof group);
    uint64_t t1 = 0, t2 = 0, level_bits[MAXLV + 1];
    memset(level_bits, 0, sizeof level_bits);
    for (size_t i = 0; i < nb; i++) {
        if (b[i].n == 0) continue;
        mplan p;
        plan_make(&p, b[i].k, m, b[i].gt != 0, b[i].eq != 0);
        for (unsigned j = 0; j < p.q; j++) group[p.w[j]][p.lgt[j]][p.leq[j]] += b[i].n;
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
    for (unsigned w = 1; w <= 8; w++)
        for (unsigned g = 0; g < 2; g++)
            for (unsigned e = 0; e < 2; e++) {
                otb_job j = {.kind = OTB_KK,
                             .sender = MPC_SERVER,
                             .n = group[w][g][e],
                             .N = 1u << w,
                             .l = g + e};
                total += otb_job_cost(oc, &j);
            }
    total += tri_bytes(oc, t1, t2);
    otb_cost_run(oc);
    for (unsigned t = 1; t <= MAXLV; t++)
        if (level_bits[t]) {
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
    uint64_t *out;
    unsigned m;
} leaf_group;

static inline uint64_t digit_of(uint64_t v, unsigned j, unsigned m, unsigned w) {
    return (v >> (j * m)) & bits_mask(w);
}

/* S offers, for C's digit y: bit 0 = [x > y] ^ rho_gt (if needed), next
 * bit = [x == y] ^ rho_eq (if needed). */
static void leaf_gen(void *vctx, uint64_t *out, size_t first, size_t mm) {
    leaf_group *g = vctx;
    unsigned N = 1u << g->w, eqsh = g->gt ? 1 : 0;
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
            uint64_t x = digit_of(v[i], s->digit, g->m, g->w);
            uint64_t rg = g->gt ? bv_get(gv, i) : 0, re = g->eq ? bv_get(ev, i) : 0;
            for (uint64_t y = 0; y < N; y++) {
                uint64_t msg = 0;
                if (g->gt) msg = (uint64_t)(x > y) ^ rg;
                if (g->eq) msg |= ((uint64_t)(x == y) ^ re) << eqsh;
                o[y] = msg;
            }
            o += N;
        }
    }
}

/* The same packed (N * l <= 64): over C's digits y, [x > y] is the mask of
 * the low x bits and [x == y] is bit x; message y at bits y*l .. */
static void leaf_genw(void *vctx, uint64_t *out, size_t first, size_t mm) {
    leaf_group *g = vctx;
    unsigned N = 1u << g->w;
    uint64_t all = bits_mask(N);
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
            uint64_t x = digit_of(v[i], s->digit, g->m, g->w);
            uint64_t one = 1ULL << x; /* shifts take the same time for every x */
            uint64_t G = g->gt ? ((one - 1) ^ (0 - (uint64_t)bv_get(gv, i))) & all : 0;
            uint64_t E = g->eq ? (one ^ (0 - (uint64_t)bv_get(ev, i))) & all : 0;
            if (g->gt && g->eq)
                *o++ = bv_spread2(G) | bv_spread2(E) << 1;
            else
                *o++ = g->gt ? G : E;
        }
    }
}

/* Add digit j of a batch to the OT group of its (width, outputs); gs has
 * room for every digit of every batch. */
static int group_add(leaf_group *gs, size_t *ng, inst_state *st, unsigned j, unsigned m) {
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
        g->m = m;
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
    for (size_t i = 0; i < ng; i++) {
        mem_free(gs[i].segs);
        if (gs[i].choices) mem_free_wipe(gs[i].choices, gs[i].n);
        if (gs[i].out) mem_free_wipe(gs[i].out, gs[i].n * 8);
    }
    mem_free(gs);
    mem_free(st);
}

/* ---- the protocol ---- */

static int mill_run(mpc_lane *L, const mill_inst *inst, size_t ninst, unsigned m, inst_state *st,
                    leaf_group *gs, size_t *ngp, tri_pool *tp) {
    int S = L->role == MPC_SERVER;
    size_t T1 = 0, T2 = 0;
    for (size_t i = 0; i < ninst; i++) {
        inst_state *s = &st[i];
        s->in = &inst[i];
        PARLEY_CHECK(inst[i].gt || inst[i].eq);
        plan_make(&s->plan, inst[i].k, m, inst[i].gt != NULL, inst[i].eq != NULL);
        if (inst[i].n == 0) continue;
        s->nw = bv_words(inst[i].n);
        for (unsigned j = 0; j < s->plan.q; j++) {
            if (s->plan.lgt[j] && !(s->gt[j] = mem_calloc(s->nw, 8)))
                return err_set(PARLEY_E_NOMEM, "out of memory for the millionaire");
            if (s->plan.leq[j] && !(s->eq[j] = mem_calloc(s->nw, 8)))
                return err_set(PARLEY_E_NOMEM, "out of memory for the millionaire");
            if (S) { /* S's leaf shares are its random masks */
                if (s->gt[j]) {
                    prg_bytes(&L->ot.rng, s->gt[j], s->nw * 8);
                    bv_trim(s->gt[j], inst[i].n);
                }
                if (s->eq[j]) {
                    prg_bytes(&L->ot.rng, s->eq[j], s->nw * 8);
                    bv_trim(s->eq[j], inst[i].n);
                }
            }
            TRY(group_add(gs, ngp, s, j, m));
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
    /* C chooses with its digits. */
    if (!S)
        for (size_t g = 0; g < ng; g++) {
            leaf_group *G = &gs[g];
            G->choices = mem_alloc(G->n ? G->n : 1, 1);
            G->out = mem_alloc(G->n ? G->n : 1, 8);
            if (!G->choices || !G->out) return err_set(PARLEY_E_NOMEM, "out of memory for the millionaire");
            for (size_t sgi = 0; sgi < G->nseg; sgi++) {
                const seg *sg = &G->segs[sgi];
                const uint64_t *v = sg->st->in->v;
                for (size_t i = 0; i < sg->count; i++)
                    G->choices[sg->start + i] = (uint8_t)digit_of(v[i], sg->digit, m, G->w);
            }
        }
    otb_job *jobs = mem_alloc(ng + 4, sizeof *jobs); /* leaves, then up to 4 triple jobs */
    if (!jobs) return err_set(PARLEY_E_NOMEM, "out of memory for the millionaire");
    size_t nj = 0;
    for (size_t g = 0; g < ng; g++) {
        leaf_group *G = &gs[g];
        otb_job j = {.kind = OTB_KK, .sender = MPC_SERVER, .n = G->n, .N = 1u << G->w,
                     .l = (unsigned)(G->gt + G->eq), .gen = leaf_gen, .genw = leaf_genw, .gen_ctx = G,
                     .choices = G->choices, .out = G->out};
        jobs[nj++] = j;
    }
    int rc = tri_prepare(L, tp, T1, T2, MPC_CLIENT, jobs, &nj);
    if (rc == 0) rc = otb_run(L, jobs, nj);
    mem_free(jobs);
    TRY(rc);
    tri_finish(tp);
    if (!S) /* scatter the received leaf shares */
        for (size_t g = 0; g < ng; g++) {
            leaf_group *G = &gs[g];
            for (size_t sgi = 0; sgi < G->nseg; sgi++) {
                const seg *sg = &G->segs[sgi];
                uint64_t *gv = sg->st->gt[sg->digit], *ev = sg->st->eq[sg->digit];
                const uint64_t *o = G->out + sg->start;
                unsigned sh = G->gt ? 1 : 0;
                for (size_t i = 0; i < sg->count; i++) {
                    if (G->gt) gv[i >> 6] |= (o[i] & 1) << (i & 63);
                    if (G->eq) ev[i >> 6] |= ((o[i] >> sh) & 1) << (i & 63);
                }
            }
        }

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
        rc = and_round(L, gates, ngate);
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
    }
    return 0;
}

int mpc_mill(mpc_lane *L, const mill_inst *inst, size_t ninst, unsigned m) {
    PARLEY_CHECK(m >= 1 && m <= 8);
    size_t maxg = 0;
    for (size_t i = 0; i < ninst; i++) maxg += (inst[i].k + m - 1) / m;
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
    int rc = mill_run(L, inst, ninst, m, st, gs, &ng, &tp);
    tri_free(&tp);
    free_state(st, ninst, gs, ng);
    return rc;
}

int mpc_mill_gt(mpc_lane *L, uint8_t *gt, uint8_t *eq, const uint64_t *v, size_t n, unsigned k,
                unsigned m) {
    mill_inst in = {n, k, v, gt, eq};
    return mpc_mill(L, &in, 1, m);
}

int mpc_mill_eq(mpc_lane *L, uint8_t *eq, const uint64_t *v, size_t n, unsigned k, unsigned m) {
    mill_inst in = {n, k, v, NULL, eq};
    return mpc_mill(L, &in, 1, m);
}
