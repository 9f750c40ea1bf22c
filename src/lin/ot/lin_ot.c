/* OT-mode linear layers (docs/PROTOCOLS.md §6); see lin_ot.h.
 *
 * A layer is seen as a bipartite map between input entries, weights and
 * output positions: every multiply-accumulate is a triple (input k, weight
 * u, output p). Orientation A groups the triples by input entry (one entry
 * = one x_C[k], l COTs), orientation B by weight (one entry = one weight,
 * wbits COTs); an entry's M correlations are its triples in a fixed order
 * that both parties enumerate alike. The COTs run on iknp_cotv: per OT the
 * sender gives the correlations (A: weights; B: C's input shares) and both
 * sides fold their outputs, times +-2^bit, into a per-entry sum that is
 * scattered into the lane's accumulator after the entry's last bit. */
#include "lin/ot/lin_ot.h"

#include "lin/ot/local.h"
#include "ot/ot.h"
#include "util/bits.h"
#include "util/mem.h"

#include <stdio.h>
#include <string.h>

/* One spatial dimension of a convolution (rows: d = 0, columns: d = 1). */
typedef struct conv_dim {
    size_t in, k, s, p, dil, out;
    /* every tap a: the outputs i in [lo[a], hi[a]) read input row
     * i*s - p + a*dil (an empty range: the tap only ever sees padding) */
    size_t *lo, *hi;
    size_t ntaps, *taps; /* B: the taps with a non-empty range */
    /* A: the input rows some output reads, and per used row u the (tap,
     * output) pairs reading it, at [off[u], off[u+1]) of tap[] / outi[] */
    size_t nused, *used, *off, *tap, *outi;
    size_t maxlen; /* A: most pairs of a row; B: widest range */
} conv_dim;

typedef struct lin_map {
    lin_kind kind;
    int orient;
    unsigned l, per; /* COTs per entry: l (A) or wbits (B) */
    size_t nent, M_max, out_size;
    lin_conv cv;
    lin_fc fc;
    lin_scale sc;
    conv_dim dim[2];
} lin_map;

static void dim_free(conv_dim *d) {
    mem_free(d->lo);
    mem_free(d->hi);
    mem_free(d->taps);
    mem_free(d->used);
    mem_free(d->off);
    mem_free(d->tap);
    mem_free(d->outi);
    memset(d, 0, sizeof *d);
}

static void map_free(lin_map *m) {
    dim_free(&m->dim[0]);
    dim_free(&m->dim[1]);
}

static int dim_build(conv_dim *d, int orient) {
    d->lo = mem_alloc(d->k, sizeof(size_t));
    d->hi = mem_alloc(d->k, sizeof(size_t));
    if (!d->lo || !d->hi) return PARLEY_E_NOMEM;
    size_t pairs = 0;
    for (size_t a = 0; a < d->k; a++) {
        /* 0 <= i*s - p + a*dil < in and 0 <= i < out */
        int64_t off = (int64_t)a * (int64_t)d->dil - (int64_t)d->p;
        int64_t lo = off >= 0 ? 0 : (-off + (int64_t)d->s - 1) / (int64_t)d->s;
        int64_t top = (int64_t)d->in - 1 - off; /* i*s <= top */
        int64_t hi = top < 0 ? 0 : top / (int64_t)d->s + 1;
        if (hi > (int64_t)d->out) hi = (int64_t)d->out;
        if (hi < lo) hi = lo;
        d->lo[a] = (size_t)lo;
        d->hi[a] = (size_t)hi;
        pairs += (size_t)(hi - lo);
    }
    if (orient == LIN_OT_B) {
        d->taps = mem_alloc(d->k, sizeof(size_t));
        if (!d->taps) return PARLEY_E_NOMEM;
        for (size_t a = 0; a < d->k; a++)
            if (d->hi[a] > d->lo[a]) {
                d->taps[d->ntaps++] = a;
                if (d->hi[a] - d->lo[a] > d->maxlen) d->maxlen = d->hi[a] - d->lo[a];
            }
        return 0;
    }
    /* A: bucket the (tap, output) pairs by the input row they read. */
    size_t *cnt = mem_calloc(d->in + 1, sizeof(size_t));
    d->tap = mem_alloc(pairs + 1, sizeof(size_t));
    d->outi = mem_alloc(pairs + 1, sizeof(size_t));
    d->used = mem_alloc(d->in, sizeof(size_t));
    d->off = mem_alloc(d->in + 1, sizeof(size_t));
    if (!cnt || !d->tap || !d->outi || !d->used || !d->off) {
        mem_free(cnt);
        return PARLEY_E_NOMEM;
    }
    for (size_t a = 0; a < d->k; a++)
        for (size_t i = d->lo[a]; i < d->hi[a]; i++)
            cnt[i * d->s + a * d->dil - d->p]++;
    size_t at = 0;
    for (size_t h = 0; h < d->in; h++)
        if (cnt[h]) {
            d->used[d->nused] = h;
            d->off[d->nused++] = at;
            if (cnt[h] > d->maxlen) d->maxlen = cnt[h];
            size_t c = cnt[h];
            cnt[h] = at; /* now: the next free slot of row h */
            at += c;
        }
    d->off[d->nused] = at;
    for (size_t a = 0; a < d->k; a++) /* a ascending within each row */
        for (size_t i = d->lo[a]; i < d->hi[a]; i++) {
            size_t slot = cnt[i * d->s + a * d->dil - d->p]++;
            d->tap[slot] = a;
            d->outi[slot] = i;
        }
    mem_free(cnt);
    return 0;
}

/* The map of a checked shape in one orientation. M_max and nent fit in
 * size_t because they are bounded by tensor sizes times small factors. */
static int map_make(lin_map *m, const lin_shape *s, unsigned l, int orient) {
    memset(m, 0, sizeof *m);
    m->kind = s->kind;
    m->orient = orient;
    m->l = l;
    m->per = orient == LIN_OT_A ? l : lin_wbits(s);
    m->out_size = lin_out_size(s);
    if (s->kind == LIN_FC) {
        const lin_fc *f = &s->p.fc;
        m->fc = *f;
        m->nent = orient == LIN_OT_A ? (size_t)f->N * f->K : (size_t)f->O * f->K;
        m->M_max = orient == LIN_OT_A ? f->O : f->N;
        return 0;
    }
    if (s->kind == LIN_SCALE) {
        const lin_scale *c = &s->p.scale;
        m->sc = *c;
        m->nent = orient == LIN_OT_A ? m->out_size : c->C;
        m->M_max = orient == LIN_OT_A ? 1 : (size_t)c->N * c->S;
        return 0;
    }
    const lin_conv *c = &s->p.conv;
    m->cv = *c;
    conv_dim *r = &m->dim[0], *q = &m->dim[1];
    *r = (conv_dim){.in = c->H, .k = c->kh, .s = c->sh, .p = c->pt, .dil = c->dh, .out = c->OH};
    *q = (conv_dim){.in = c->W, .k = c->kw, .s = c->sw, .p = c->pl, .dil = c->dw, .out = c->OW};
    if (dim_build(r, orient) < 0 || dim_build(q, orient) < 0) {
        map_free(m);
        return err_set(PARLEY_E_NOMEM, "conv geometry tables");
    }
    size_t cg = c->C / c->groups, og = c->O / c->groups;
    if (orient == LIN_OT_A) {
        m->nent = (size_t)c->N * c->C * r->nused * q->nused;
        m->M_max = og * r->maxlen * q->maxlen;
    } else {
        m->nent = (size_t)c->O * cg * r->ntaps * q->ntaps;
        m->M_max = (size_t)c->N * r->maxlen * q->maxlen;
    }
    return 0;
}

/* Number of triples of entry e. */
static size_t map_count(const lin_map *m, size_t e) {
    const conv_dim *r = &m->dim[0], *q = &m->dim[1];
    switch (m->kind) {
    case LIN_CONV:
        if (m->orient == LIN_OT_A) {
            size_t wu = e % q->nused, hu = (e / q->nused) % r->nused;
            return (m->cv.O / m->cv.groups) * (r->off[hu + 1] - r->off[hu]) *
                   (q->off[wu + 1] - q->off[wu]);
        } else {
            size_t bu = q->taps[e % q->ntaps], au = r->taps[(e / q->ntaps) % r->ntaps];
            return (size_t)m->cv.N * (r->hi[au] - r->lo[au]) * (q->hi[bu] - q->lo[bu]);
        }
    case LIN_FC:
        return m->orient == LIN_OT_A ? m->fc.O : m->fc.N;
    default:
        return m->orient == LIN_OT_A ? 1 : (size_t)m->sc.N * m->sc.S;
    }
}

/* The operand entry e decomposes: A: its input index; B: its weight index. */
static size_t map_src(const lin_map *m, size_t e) {
    const conv_dim *r = &m->dim[0], *q = &m->dim[1];
    if (m->kind != LIN_CONV) return e; /* fc: n*K + k or o*K + k; scale: e or c */
    const lin_conv *c = &m->cv;
    if (m->orient == LIN_OT_A) {
        size_t wu = e % q->nused, t = e / q->nused, hu = t % r->nused, nc = t / r->nused;
        return (nc * c->H + r->used[hu]) * c->W + q->used[wu];
    }
    size_t bu = e % q->ntaps, t = e / q->ntaps, au = t % r->ntaps, oc = t / r->ntaps;
    return (oc * c->kh + r->taps[au]) * c->kw + q->taps[bu];
}

/* Entry e's triples: output positions pos[] and the other operand idx[]
 * (A: weight indices; B: input indices). Returns M. */
static size_t map_list(const lin_map *m, size_t e, size_t *pos, size_t *idx) {
    size_t M = 0;
    if (m->kind == LIN_FC) {
        const lin_fc *f = &m->fc;
        if (m->orient == LIN_OT_A) {
            size_t n = e / f->K, k = e % f->K;
            for (size_t o = 0; o < f->O; o++, M++) {
                pos[M] = n * f->O + o;
                idx[M] = o * f->K + k;
            }
        } else {
            size_t o = e / f->K, k = e % f->K;
            for (size_t n = 0; n < f->N; n++, M++) {
                pos[M] = n * f->O + o;
                idx[M] = n * f->K + k;
            }
        }
        return M;
    }
    if (m->kind == LIN_SCALE) {
        const lin_scale *s = &m->sc;
        if (m->orient == LIN_OT_A) {
            pos[0] = e;
            idx[0] = (e / s->S) % s->C;
            return 1;
        }
        for (size_t n = 0; n < s->N; n++)
            for (size_t k = 0; k < s->S; k++, M++)
                pos[M] = idx[M] = (n * s->C + e) * s->S + k;
        return M;
    }
    const lin_conv *c = &m->cv;
    const conv_dim *r = &m->dim[0], *q = &m->dim[1];
    size_t cg = c->C / c->groups, og = c->O / c->groups, OHW = (size_t)c->OH * c->OW;
    if (m->orient == LIN_OT_A) {
        size_t wu = e % q->nused, t = e / q->nused, hu = t % r->nused;
        t /= r->nused;
        size_t ch = t % c->C, n = t / c->C, g = ch / cg, ci = ch % cg;
        for (size_t o = g * og; o < (g + 1) * og; o++)
            for (size_t pr = r->off[hu]; pr < r->off[hu + 1]; pr++) {
                size_t bp = (n * c->O + o) * OHW + r->outi[pr] * c->OW;
                size_t bw = ((o * cg + ci) * c->kh + r->tap[pr]) * c->kw;
                for (size_t pq = q->off[wu]; pq < q->off[wu + 1]; pq++, M++) {
                    pos[M] = bp + q->outi[pq];
                    idx[M] = bw + q->tap[pq];
                }
            }
        return M;
    }
    size_t b = q->taps[e % q->ntaps], t = e / q->ntaps, a = r->taps[t % r->ntaps];
    t /= r->ntaps;
    size_t ci = t % cg, o = t / cg, ch = (o / og) * cg + ci;
    for (size_t n = 0; n < c->N; n++)
        for (size_t i = r->lo[a]; i < r->hi[a]; i++) {
            size_t row = i * c->sh + a * c->dh - c->pt;
            size_t bp = (n * c->O + o) * OHW + i * c->OW;
            size_t bx = ((n * c->C + ch) * c->H + row) * c->W + b * c->dw - c->pl;
            for (size_t j = q->lo[b]; j < q->hi[b]; j++, M++) {
                pos[M] = bp + j;
                idx[M] = bx + j * c->sw;
            }
        }
    return M;
}

/* ---- cost ---- */

/* The OTs of entries [e0, e1), each entry's `per` OTs in turn, in groups
 * of 128 (the last may be shorter): fn(ctx, correction bits of the group,
 * its OTs). The corrections of OT k of an entry are M * (l - k) bits, M
 * its count. O(entries). */
static void map_groups(const lin_map *m, size_t e0, size_t e1,
                       void (*fn)(void *ctx, uint64_t bits, unsigned ots), void *ctx) {
    uint64_t P[65]; /* P[k] = sum_{bit < k} (l - bit) */
    P[0] = 0;
    for (unsigned k = 0; k < m->per; k++)
        P[k + 1] = P[k] + (m->l - k);
    uint64_t group = 0;
    unsigned fill = 0; /* OTs in the current group */
    for (size_t e = e0; e < e1; e++) {
        uint64_t M = map_count(m, e);
        for (unsigned k = 0; k < m->per;) {
            unsigned take = m->per - k < 128 - fill ? m->per - k : 128 - fill;
            group += M * (P[k + take] - P[k]);
            fill += take;
            k += take;
            if (fill == 128) {
                fn(ctx, group, 128);
                group = 0;
                fill = 0;
            }
        }
    }
    if (fill) fn(ctx, group, fill);
}

static void add_group_bytes(void *ctx, uint64_t bits, unsigned ots) {
    (void)ots;
    *(uint64_t *)ctx += (bits + 7) / 8;
}

/* Exact bytes of iknp_cotv over the map's OTs (entry-major, bit-minor; bit
 * i has width l - i): 16 per OT padded to 128, plus each group of 128
 * OTs' correction bits rounded up to bytes. O(entries). */
static uint64_t map_bytes(const lin_map *m) {
    uint64_t bytes = 0;
    map_groups(m, 0, m->nent, add_group_bytes, &bytes);
    uint64_t ots = (uint64_t)m->nent * m->per;
    return bytes + 16 * ((ots + 127) / 128 * 128);
}

/* A lane's chunks so far, and the one being filled. */
typedef struct chunk_count {
    size_t chunks, mm;
    uint64_t bits;
} chunk_count;

static void add_group_chunk(void *ctx, uint64_t bits, unsigned ots) {
    chunk_count *c = ctx;
    c->mm += ots;
    c->bits += bits;
    if (c->mm == OTE_CHUNK || c->bits >= COTV_CHUNK_BITS) {
        c->chunks++;
        c->mm = 0;
        c->bits = 0;
    }
}

/* The extension chunks each lane's iknp_cotv cuts its OTs into (cotv.c's
 * plan_chunk: whole groups of 128 OTs until OTE_CHUNK OTs or
 * COTV_CHUNK_BITS of corrections), on run_map's split of the entries; the
 * largest count over the lanes. A lane's slice starts on a group. */
static size_t map_chunks(const lin_map *m, unsigned lanes) {
    size_t count[LANES_MAX], first = 0, most = 0;
    unsigned g = m->per, b = 128;
    while (b) { /* gcd, for run_map's grain */
        unsigned t = g % b;
        g = b;
        b = t;
    }
    party_split(count, m->nent, 128 / g, lanes);
    for (unsigned i = 0; i < lanes; i++) {
        chunk_count c = {0, 0, 0};
        map_groups(m, first, first + count[i], add_group_chunk, &c);
        if (c.mm) c.chunks++; /* the last, partly filled */
        if (c.chunks > most) most = c.chunks;
        first += count[i];
    }
    return most;
}

/* ---- the protocol ---- */

typedef struct map_run {
    const lin_map *m;
    int role;
    const uint64_t *x, *w; /* this party's share; S's weights (NULL at C) */
    uint64_t **acc;        /* one accumulator per lane */
} map_run;

typedef struct lane_st {
    const lin_map *m;
    const uint64_t *ops; /* operand indexed by idx[]: A weights, B inputs (sender) */
    const uint64_t *chs; /* operand holding the choice bits (receiver) */
    int sender;
    size_t first; /* the lane's first entry */
    uint64_t *acc;
    size_t cur, M;
    size_t *pos, *idx;
    uint64_t *tmp; /* the current entry's sum over its bits so far */
    uint64_t *dv;  /* sender: the current entry's correlations */
} lane_st;

static void ensure_entry(lane_st *st, size_t e) {
    if (st->cur == e) return;
    st->M = map_list(st->m, e, st->pos, st->idx);
    st->cur = e;
    /* The sender's correlations are the same for all the entry's bits. */
    if (st->sender)
        for (size_t j = 0; j < st->M; j++)
            st->dv[j] = st->ops[st->idx[j]];
}

static void cb_shape(void *ctx, size_t i, size_t *M, unsigned *b) {
    lane_st *st = ctx;
    *M = map_count(st->m, st->first + i / st->m->per);
    *b = st->m->l - (unsigned)(i % st->m->per);
}

static const uint64_t *cb_delta(void *ctx, size_t i, size_t M) {
    lane_st *st = ctx;
    ensure_entry(st, st->first + i / st->m->per);
    PARLEY_CHECK(M == st->M);
    return st->dv;
}

static void cb_choices(void *ctx, size_t first, size_t count, uint8_t *c) {
    lane_st *st = ctx;
    unsigned per = st->m->per, bit = (unsigned)(first % per);
    size_t e = st->first + first / per;
    uint64_t v = st->chs[map_src(st->m, e)];
    for (size_t k = 0; k < count; k++) {
        c[k] = (uint8_t)((v >> bit) & 1);
        if (++bit == per && k + 1 < count) {
            bit = 0;
            v = st->chs[map_src(st->m, ++e)];
        }
    }
}

static void cb_out(void *ctx, size_t i, const uint64_t *v, size_t M, unsigned b) {
    lane_st *st = ctx;
    unsigned per = st->m->per, bit = (unsigned)(i % per);
    ensure_entry(st, st->first + i / per);
    PARLEY_CHECK(M == st->M);
    /* B: the top bit of a two's complement weight weighs -2^(wbits-1). */
    int neg = st->m->orient == LIN_OT_B && bit == per - 1;
    uint64_t *t = st->tmp;
    if (bit == 0) {
        if (neg)
            for (size_t j = 0; j < M; j++)
                t[j] = 0 - v[j];
        else
            memcpy(t, v, M * sizeof *t);
    } else if (neg) {
        for (size_t j = 0; j < M; j++)
            t[j] -= v[j] << bit;
    } else {
        for (size_t j = 0; j < M; j++)
            t[j] += v[j] << bit;
    }
    if (bit + 1 < per) return;
    /* Sender keeps -x, receiver x + c*delta: the sum is c*delta. */
    uint64_t *acc = st->acc;
    const size_t *pos = st->pos;
    if (st->sender)
        for (size_t j = 0; j < M; j++)
            acc[pos[j]] -= t[j];
    else
        for (size_t j = 0; j < M; j++)
            acc[pos[j]] += t[j];
}

static int lin_job(mpc_lane *L, void *vctx, size_t first, size_t count) {
    const map_run *R = vctx;
    const lin_map *m = R->m;
    size_t mv = m->M_max ? m->M_max : 1;
    lane_st st = {.m = m, .first = first, .acc = R->acc[L->index], .cur = SIZE_MAX};
    st.sender = (m->orient == LIN_OT_A) == (R->role == MPC_SERVER);
    if (m->orient == LIN_OT_A) {
        st.ops = R->w; /* S */
        st.chs = R->x; /* C */
    } else {
        st.ops = R->x; /* C */
        st.chs = R->w; /* S */
    }
    st.pos = mem_alloc(mv, sizeof(size_t));
    st.idx = mem_alloc(mv, sizeof(size_t));
    st.tmp = mem_alloc(mv, sizeof(uint64_t));
    st.dv = mem_alloc(mv, sizeof(uint64_t));
    int rc;
    if (!st.pos || !st.idx || !st.tmp || !st.dv) {
        rc = err_set(PARLEY_E_NOMEM, "linear layer lane buffers (%zu triples per entry)", mv);
    } else {
        cotv_io io = {&st, m->M_max, cb_shape, cb_delta, cb_choices, cb_out};
        size_t n = count * m->per;
        rc = st.sender ? iknp_cotv_send(&L->ot.iknp_s, L->ot.ch, n, &io)
                       : iknp_cotv_recv(&L->ot.iknp_r, L->ot.ch, n, &io);
    }
    mem_free(st.pos);
    mem_free(st.idx);
    mem_free_wipe(st.tmp, mv * sizeof(uint64_t));
    mem_free_wipe(st.dv, mv * sizeof(uint64_t));
    return rc;
}

static unsigned gcd_u(unsigned a, unsigned b) {
    while (b) {
        unsigned t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* The server's W*x_S, mod 2^64. */
static int local_product(uint64_t *y, const uint64_t *x, const lin_map *m, const uint64_t *w) {
    if (m->kind == LIN_CONV) return lin_local_conv(y, x, &m->cv, w);
    if (m->kind == LIN_FC)
        lin_local_fc(y, x, &m->fc, w);
    else
        lin_local_scale(y, x, &m->sc, w);
    return 0;
}

/* Run the map m: y = this party's share of W*x mod 2^l. */
static int run_map(party *p, uint64_t *y, const uint64_t *x, const uint64_t *w, const lin_map *m) {
    size_t out = m->out_size;
    uint64_t *acc[LANES_MAX] = {NULL};
    int rc = 0;
    if (p->role == MPC_SERVER)
        rc = local_product(y, x, m, w);
    else
        memset(y, 0, out * sizeof *y);
    acc[0] = y;
    for (unsigned i = 1; i < p->nlanes && rc == 0; i++)
        if (!(acc[i] = mem_calloc(out, sizeof(uint64_t))))
            rc = err_set(PARLEY_E_NOMEM, "linear layer accumulator of %zu values", out);
    if (rc < 0) {
        party_fail(p, rc);
    } else {
        map_run R = {m, p->role, x, w, acc};
        rc = party_run(p, m->nent, 128 / gcd_u(m->per, 128), lin_job, &R);
    }
    uint64_t mask = bits_mask(m->l);
    for (unsigned i = 1; i < p->nlanes; i++) {
        if (acc[i] && rc == 0)
            for (size_t k = 0; k < out; k++)
                y[k] += acc[i][k];
        mem_free_wipe(acc[i], acc[i] ? out * sizeof(uint64_t) : 0);
    }
    for (size_t k = 0; k < out; k++)
        y[k] &= mask;
    return rc;
}

/* ---- the back-end ---- */

typedef struct ot_plan {
    lin_plan base;
    lin_map m; /* the orientation the plan runs */
} ot_plan;

static void plan_free(lin_plan *pl) {
    if (!pl) return;
    map_free(&((ot_plan *)pl)->m);
    mem_free(pl);
}

int lin_ot_plan(lin_plan **out, const lin_shape *s, unsigned l, int orientation) {
    *out = NULL;
    lin_shape c = *s;
    const char *what = lin_kind_name(s->kind);
    TRY(lin_check(&c));
    if (l < 1 || l > 64) return err_set(PARLEY_E_ARG, "%s: ring width %u outside 1..64", what, l);
    if (lin_wbits(&c) > l)
        return err_set(PARLEY_E_ARG, "%s: weight width %u exceeds the ring width %u", what,
                       lin_wbits(&c), l);
    if (orientation != LIN_OT_AUTO && orientation != LIN_OT_A && orientation != LIN_OT_B)
        return err_set(PARLEY_E_ARG, "%s: unknown orientation %d", what, orientation);
    ot_plan *pl = mem_calloc(1, sizeof *pl);
    if (!pl) return PARLEY_E_NOMEM;
    pl->base.s = c;
    pl->base.l = l;
    /* AUTO: price both orientations, keep the cheaper (A on a tie). */
    int first = orientation == LIN_OT_B ? LIN_OT_B : LIN_OT_A;
    int rc = map_make(&pl->m, &c, l, first);
    if (rc == 0) pl->base.bytes = map_bytes(&pl->m);
    if (rc == 0 && orientation == LIN_OT_AUTO) {
        lin_map b;
        rc = map_make(&b, &c, l, LIN_OT_B);
        uint64_t bb = rc == 0 ? map_bytes(&b) : 0;
        if (rc == 0 && bb < pl->base.bytes) {
            map_free(&pl->m);
            pl->m = b;
            pl->base.bytes = bb;
        } else if (rc == 0) {
            map_free(&b);
        }
    }
    if (rc < 0) {
        plan_free(&pl->base);
        return rc;
    }
    *out = &pl->base;
    return 0;
}

int lin_ot_plan_orientation(const lin_plan *pl) {
    return ((const ot_plan *)pl)->m.orient;
}

static int ops_plan(void *ctx, uint64_t outs, lin_plan **out, const lin_shape *s, unsigned l) {
    (void)ctx;
    (void)outs;
    return lin_ot_plan(out, s, l, LIN_OT_AUTO);
}

static int ops_run(void *ctx, party *p, const lin_plan *pl, uint64_t *y, const uint64_t *x,
                   const uint64_t *w) {
    (void)ctx;
    return run_map(p, y, x, w, &((const ot_plan *)pl)->m);
}

/* The layer's COT-with-vectors calls on the lanes (run_map's split): the
 * chunks of the busiest lane (two flights per COTV_AHEAD chunks, cotv
 * keeping that many in flight), extended by C in orientation A and by S in B; the
 * extension matrices are what the receiver sends (map_bytes), the
 * corrections the rest. */
static void ops_flights(const lin_plan *pl, unsigned lanes, fsim *fs) {
    const lin_map *m = &((const ot_plan *)pl)->m;
    size_t k = 0;
    uint64_t rx = 0;
    int recv = m->orient == LIN_OT_A ? MPC_CLIENT : MPC_SERVER;
    if (pl->bytes) {
        k = map_chunks(m, lanes);
        rx = 16 * (((uint64_t)m->nent * m->per + 127) / 128 * 128);
    }
    fsim_fork(fs);
    fsim_lane(fs, 0);
    fsim_cotv(fs, recv, k, rx, pl->bytes > rx ? pl->bytes - rx : 0);
    fsim_join(fs);
}

/* No session state: the lanes' OT set-up serves every layer. */
const lin_ops lin_ot_ops = {
    .name = "OT", .plan = ops_plan, .run = ops_run, .free = plan_free, .flights = ops_flights};
