/* Bit triples and AND; see bool.h. */
#include "mpc/bool.h"

#include "mpc/arith.h"
#include "mpc/flights.h"

#include "mpc/bv.h"
#include "util/mem.h"

#include <string.h>

/* The sender's messages, without tables indexed by its secret bits: as a
 * bit vector over the receiver's choices ch, (a ^ alpha(ch)) is the
 * constant pattern of alpha's bit in ch, complemented when a = 1. Two
 * triples, choice (alpha0, beta0, alpha1, beta1): patterns 0xaaaa, 0xcccc,
 * 0xf0f0, 0xff00. */
static inline uint32_t ones(unsigned bit) { return 0u - (uint32_t)(bit & 1); }

/* Two triples per OT; message ch (two bits) at bits 2ch, 2ch + 1. */
static void gen16w(void *vctx, uint64_t *out, size_t first, size_t mm) {
    const tri_pool *t = vctx;
    for (size_t i = 0; i < mm; i++) {
        size_t o = first + i, j0 = 2 * o, j1 = 2 * o + 1;
        uint32_t m0 = ((0xaaaau ^ ones(bv_get(t->a1, j0))) & (0xccccu ^ ones(bv_get(t->b1, j0)))) ^
                      ones(bv_get(t->c1, j0));
        uint32_t m1 = 0;
        if (j1 < t->n1)
            m1 = ((0xf0f0u ^ ones(bv_get(t->a1, j1))) & (0xff00u ^ ones(bv_get(t->b1, j1)))) ^
                 ones(bv_get(t->c1, j1));
        out[i] = bv_spread2(m0 & 0xffff) | bv_spread2(m1 & 0xffff) << 1;
    }
}

/* Correlated pair, choice (alpha, beta, delta): patterns 0xaa, 0xcc, 0xf0. */
static void gen8w(void *vctx, uint64_t *out, size_t first, size_t mm) {
    const tri_pool *t = vctx;
    for (size_t i = 0; i < mm; i++) {
        size_t j = first + i;
        uint32_t a = 0xaau ^ ones(bv_get(t->a2, j));
        uint32_t m0 = (a & (0xccu ^ ones(bv_get(t->b2, j)))) ^ ones(bv_get(t->c2, j));
        uint32_t m1 = (a & (0xf0u ^ ones(bv_get(t->d2, j)))) ^ ones(bv_get(t->e2, j));
        out[i] = bv_spread2(m0 & 0xff) | bv_spread2(m1 & 0xff) << 1;
    }
}

/* n random bits from g; with g NULL, room for n bits (tri_finish_silent
 * writes them). */
static uint64_t *bv_rand(prg *g, size_t n) {
    size_t nw = bv_words(n);
    uint64_t *v = mem_alloc(nw ? nw : 1, sizeof *v);
    if (!v || !g) return v;
    prg_bytes(g, v, nw * sizeof *v);
    bv_trim(v, n);
    return v;
}

void tri_free(tri_pool *t) {
    uint64_t **vs[] = {&t->a1, &t->b1, &t->c1, &t->a2, &t->b2, &t->c2, &t->d2, &t->e2};
    size_t w1 = bv_words(t->n1) * 8, w2 = bv_words(t->n2) * 8;
    for (size_t i = 0; i < 8; i++)
        if (*vs[i]) {
            mem_free_wipe(*vs[i], i < 3 ? w1 : w2);
            *vs[i] = NULL;
        }
    if (t->ch1) mem_free_wipe(t->ch1, (t->n1 + 1) / 2);
    if (t->ch2) mem_free_wipe(t->ch2, t->n2);
    if (t->o1) mem_free_wipe(t->o1, (t->n1 + 1) / 2 * 8);
    if (t->o2) mem_free_wipe(t->o2, t->n2 * 8);
    uint8_t **ss[] = {&t->s1, &t->r1, &t->s2, &t->r2};
    for (size_t i = 0; i < 4; i++)
        if (*ss[i]) {
            mem_free_wipe(*ss[i], i < 2 ? t->n1 : t->n2);
            *ss[i] = NULL;
        }
    t->ch1 = t->ch2 = NULL;
    t->o1 = t->o2 = NULL;
}

/* Silent backend: four random-OT jobs, in the same order on both sides. */
static int tri_prepare_silent(tri_pool *t, otb_job *jobs, size_t *njobs) {
    size_t n1 = t->n1, n2 = t->n2;
    t->silent = 1;
    t->s1 = mem_alloc(n1 ? n1 : 1, 1);
    t->r1 = mem_alloc(n1 ? n1 : 1, 1);
    t->s2 = mem_alloc(n2 ? n2 : 1, 1);
    t->r2 = mem_alloc(n2 ? n2 : 1, 1);
    if (!t->s1 || !t->r1 || !t->s2 || !t->r2) {
        tri_free(t);
        return err_set(PARLEY_E_NOMEM, "out of memory for %zu + %zu bit triples", n1, n2);
    }
    for (int snd = 0; snd < 2; snd++) {
        otb_job j1 = {.kind = OTB_RROT, .sender = snd, .n = n1, .l = 1, .x8 = t->s1, .out8 = t->r1};
        otb_job j2 = {.kind = OTB_RROT, .sender = snd, .n = n2, .l = 2, .x8 = t->s2, .out8 = t->r2};
        if (n1) jobs[(*njobs)++] = j1;
        if (n2) jobs[(*njobs)++] = j2;
    }
    return 0;
}

/* Shares from the random OTs (see bool.h): for a triple, a = m0 ^ m1 of
 * the OT we sent, b = the choice of the one we received, c = a b ^ m0 ^
 * m_r; for a pair, (b, d) = m0 ^ m1 (2 bits), a = the choice. */
static void tri_finish_silent(tri_pool *t) {
    memset(t->a1, 0, bv_words(t->n1) * 8);
    memset(t->b1, 0, bv_words(t->n1) * 8);
    memset(t->c1, 0, bv_words(t->n1) * 8);
    for (size_t j = 0; j < t->n1; j++) {
        unsigned x = t->s1[j], y = t->r1[j];
        unsigned m0 = x & 1, a = m0 ^ ((x >> 1) & 1), b = (y >> 1) & 1;
        bv_set(t->a1, j, a);
        bv_set(t->b1, j, b);
        bv_set(t->c1, j, (a & b) ^ m0 ^ (y & 1));
    }
    uint64_t *v2[] = {t->a2, t->b2, t->c2, t->d2, t->e2};
    for (int k = 0; k < 5; k++) memset(v2[k], 0, bv_words(t->n2) * 8);
    for (size_t j = 0; j < t->n2; j++) {
        unsigned x = t->s2[j], y = t->r2[j];
        unsigned m0 = x & 3, bd = m0 ^ ((x >> 2) & 3), a = (y >> 2) & 1, my = y & 3;
        unsigned b = bd & 1, d = bd >> 1;
        bv_set(t->a2, j, a);
        bv_set(t->b2, j, b);
        bv_set(t->d2, j, d);
        bv_set(t->c2, j, (a & b) ^ (m0 & 1) ^ (my & 1));
        bv_set(t->e2, j, (a & d) ^ (m0 >> 1) ^ (my >> 1));
    }
}

int tri_prepare(mpc_lane *L, tri_pool *t, size_t n1, size_t n2, int sender, otb_job *jobs,
                size_t *njobs) {
    memset(t, 0, sizeof *t);
    t->n1 = n1;
    t->n2 = n2;
    t->sender = sender;
    /* Random shares; on the silent backend the random OTs give them all
     * (tri_finish_silent), so the PRG is not run for them. */
    prg *g = (L->ot.be->caps & OT_CAP_RANDOM_OT) ? NULL : &L->ot.rng;
    t->a1 = bv_rand(g, n1);
    t->b1 = bv_rand(g, n1);
    t->c1 = bv_rand(g, n1); /* the sender's c shares are its masks */
    t->a2 = bv_rand(g, n2);
    t->b2 = bv_rand(g, n2);
    t->c2 = bv_rand(g, n2);
    t->d2 = bv_rand(g, n2);
    t->e2 = bv_rand(g, n2);
    if (L->ot.be->caps & OT_CAP_RANDOM_OT) { /* random OTs for free: the cheaper triples */
        if (!t->a1 || !t->b1 || !t->c1 || !t->a2 || !t->b2 || !t->c2 || !t->d2 || !t->e2) {
            tri_free(t);
            return err_set(PARLEY_E_NOMEM, "out of memory for %zu + %zu bit triples", n1, n2);
        }
        return tri_prepare_silent(t, jobs, njobs);
    }
    size_t ot1 = (n1 + 1) / 2;
    int recv = L->role != sender;
    if (recv) {
        t->ch1 = mem_alloc(ot1 ? ot1 : 1, 1);
        t->ch2 = mem_alloc(n2 ? n2 : 1, 1);
        t->o1 = mem_alloc(ot1 ? ot1 : 1, 8);
        t->o2 = mem_alloc(n2 ? n2 : 1, 8);
    }
    if (!t->a1 || !t->b1 || !t->c1 || !t->a2 || !t->b2 || !t->c2 || !t->d2 || !t->e2 ||
        (recv && (!t->ch1 || !t->ch2 || !t->o1 || !t->o2))) {
        tri_free(t);
        return err_set(PARLEY_E_NOMEM, "out of memory for %zu + %zu bit triples", n1, n2);
    }
    if (recv) {
        for (size_t o = 0; o < ot1; o++) {
            size_t j0 = 2 * o, j1 = 2 * o + 1;
            unsigned c = bv_get(t->a1, j0) | bv_get(t->b1, j0) << 1;
            if (j1 < n1) c |= bv_get(t->a1, j1) << 2 | bv_get(t->b1, j1) << 3;
            t->ch1[o] = (uint8_t)c;
        }
        for (size_t j = 0; j < n2; j++)
            t->ch2[j] = (uint8_t)(bv_get(t->a2, j) | bv_get(t->b2, j) << 1 | bv_get(t->d2, j) << 2);
    }
    otb_job j1 = {.kind = OTB_KK, .sender = sender, .n = ot1, .N = 16, .l = 2,
                  .genw = gen16w, .gen_ctx = t, .choices = t->ch1, .out = t->o1};
    otb_job j2 = {.kind = OTB_KK, .sender = sender, .n = n2, .N = 8, .l = 2,
                  .genw = gen8w, .gen_ctx = t, .choices = t->ch2, .out = t->o2};
    if (ot1) jobs[(*njobs)++] = j1;
    if (n2) jobs[(*njobs)++] = j2;
    return 0;
}

void tri_finish(tri_pool *t) {
    if (t->silent) {
        tri_finish_silent(t);
        return;
    }
    if (!t->o1) return; /* sender: nothing to do */
    memset(t->c1, 0, bv_words(t->n1) * 8);
    for (size_t j = 0; j < t->n1; j++) bv_set(t->c1, j, (unsigned)(t->o1[j / 2] >> (j % 2)) & 1);
    memset(t->c2, 0, bv_words(t->n2) * 8);
    memset(t->e2, 0, bv_words(t->n2) * 8);
    for (size_t j = 0; j < t->n2; j++) {
        bv_set(t->c2, j, (unsigned)t->o2[j] & 1);
        bv_set(t->e2, j, (unsigned)(t->o2[j] >> 1) & 1);
    }
}

int and_round(mpc_lane *L, const and_gate *g, size_t ng) {
    return and_round_with(L, g, ng, NULL, 0, NULL);
}

int and_round_with(mpc_lane *L, const and_gate *g, size_t ng, const cot1_job *cj, size_t nc,
                   const cot1_state *cs) {
    int me = L->role;
    size_t total = 0, words = 0;
    for (size_t i = 0; i < ng; i++) {
        size_t k = g[i].y2 ? 3 : 2;
        total += k * g[i].n;
        words += k * bv_words(g[i].n);
    }
    uint64_t cmine = nc ? cot1_msg_bits(cj, nc, me) : 0, ctheirs = nc ? cot1_msg_bits(cj, nc, 1 - me) : 0;
    if (total == 0 && cmine + ctheirs == 0) return 0;
    size_t nb = bits_bytes(total + cmine), nt = bits_bytes(total + ctheirs);
    uint64_t *mine = mem_alloc(words ? words : 1, 8), *theirs = mem_alloc(words ? words : 1, 8);
    uint8_t *wire = mem_alloc(nb + 16, 1), *in = mem_alloc(nt + 16, 1);
    int rc = (!mine || !theirs || !wire || !in) ? err_set(PARLEY_E_NOMEM, "out of memory for AND")
                                                : 0;
    if (rc == 0) {
        /* Open e = x ^ a, f = y ^ b (and f2 = y2 ^ d). */
        bitw w = bitw_start(wire);
        uint64_t *p = mine;
        for (size_t i = 0; i < ng; i++) {
            const and_gate *q = &g[i];
            size_t nw = bv_words(q->n);
            for (size_t k = 0; k < nw; k++) {
                p[k] = q->x[k] ^ q->a[k];
                p[nw + k] = q->y[k] ^ q->b[k];
                if (q->y2) p[2 * nw + k] = q->y2[k] ^ q->d[k];
            }
            size_t vec = q->y2 ? 3 : 2;
            for (size_t v = 0; v < vec; v++) {
                bv_trim(p + v * nw, q->n);
                bv_put(&w, p + v * nw, q->n);
            }
            p += vec * nw;
        }
        if (nc) cot1_put(cs, cj, nc, me, &w);
        bitw_end(&w);
        rc = mpc_swap(L, wire, nb, in, nt);
    }
    if (rc == 0) {
        bitr r = bitr_start(in, nt);
        uint64_t *t = theirs;
        for (size_t i = 0; i < ng; i++) {
            size_t nw = bv_words(g[i].n), vec = g[i].y2 ? 3 : 2;
            for (size_t v = 0; v < vec; v++) bv_take(&r, t + v * nw, g[i].n);
            t += vec * nw;
        }
        if (nc) cot1_take(cs, cj, nc, me, &r);
        /* z = c ^ (e & b) ^ (f & a) ^ [server](e & f). */
        uint64_t own = L->role == MPC_SERVER ? ~0ULL : 0;
        uint64_t *p = mine;
        t = theirs;
        for (size_t i = 0; i < ng; i++) {
            const and_gate *q = &g[i];
            size_t nw = bv_words(q->n);
            for (size_t k = 0; k < nw; k++) {
                uint64_t e = p[k] ^ t[k], f = p[nw + k] ^ t[nw + k];
                uint64_t z = q->c[k] ^ (e & q->b[k]) ^ (f & q->a[k]) ^ (e & f & own);
                if (q->y2) {
                    uint64_t f2 = p[2 * nw + k] ^ t[2 * nw + k];
                    q->z2[k] = q->e[k] ^ (e & q->d[k]) ^ (f2 & q->a[k]) ^ (e & f2 & own);
                }
                q->z[k] = z;
            }
            bv_trim(q->z, q->n);
            if (q->y2) bv_trim(q->z2, q->n);
            size_t vec = q->y2 ? 3 : 2;
            p += vec * nw;
            t += vec * nw;
        }
    }
    if (mine) mem_free_wipe(mine, (words ? words : 1) * 8);
    if (theirs) mem_free_wipe(theirs, (words ? words : 1) * 8);
    if (wire) mem_free_wipe(wire, nb + 16);
    if (in) mem_free_wipe(in, nt + 16);
    return rc;
}

uint64_t tri_bytes(const ot_costing *oc, uint64_t n1, uint64_t n2) {
    if (ot_backend_get(oc->backend)->caps & OT_CAP_RANDOM_OT) { /* one random OT each way */
        otb_job j1 = {.kind = OTB_RROT, .n = (size_t)n1, .l = 1};
        otb_job j2 = {.kind = OTB_RROT, .n = (size_t)n2, .l = 2};
        uint64_t b = 0;
        for (int way = 0; way < 2; way++) { /* in tri_prepare_silent's order */
            j1.sender = j2.sender = way;
            b += otb_job_cost(oc, &j1) + otb_job_cost(oc, &j2);
        }
        return b;
    }
    /* C is the OT sender wherever the protocols make triples (mill.c,
     * run_pool). */
    otb_job j1 = {.kind = OTB_KK, .sender = MPC_CLIENT, .n = (size_t)((n1 + 1) / 2), .N = 16, .l = 2};
    otb_job j2 = {.kind = OTB_KK, .sender = MPC_CLIENT, .n = (size_t)n2, .N = 8, .l = 2};
    return otb_job_cost(oc, &j1) + otb_job_cost(oc, &j2);
}

uint64_t and_round_bytes(uint64_t bits) { return 2 * ((bits + 7) / 8); }

uint64_t mpc_and_bytes(const ot_costing *oc, size_t n) {
    if (n == 0) return 0;
    uint64_t b = tri_bytes(oc, n, 0);
    otb_cost_run(oc);                                         /* the triples */
    otb_cost_round(oc, and_round_bytes(2 * (uint64_t)n) / 2); /* the opening */
    return b + and_round_bytes(2 * (uint64_t)n);
}

/* ---- public byte-per-bit forms ---- */

static int run_pool(mpc_lane *L, tri_pool *t, size_t n1, size_t n2) {
    otb_job jobs[4];
    size_t nj = 0;
    TRY(tri_prepare(L, t, n1, n2, MPC_CLIENT, jobs, &nj));
    int rc = otb_run(L, jobs, nj);
    if (rc < 0) {
        tri_free(t);
        return rc;
    }
    tri_finish(t);
    return 0;
}

int mpc_triples(mpc_lane *L, uint8_t *a, uint8_t *b, uint8_t *c, size_t n) {
    tri_pool t;
    TRY(run_pool(L, &t, n, 0));
    bv_to_bytes(a, t.a1, n);
    bv_to_bytes(b, t.b1, n);
    bv_to_bytes(c, t.c1, n);
    tri_free(&t);
    return 0;
}

int mpc_triples_corr(mpc_lane *L, uint8_t *a, uint8_t *b, uint8_t *c, uint8_t *d, uint8_t *e,
                     size_t n) {
    tri_pool t;
    TRY(run_pool(L, &t, 0, n));
    bv_to_bytes(a, t.a2, n);
    bv_to_bytes(b, t.b2, n);
    bv_to_bytes(c, t.c2, n);
    bv_to_bytes(d, t.d2, n);
    bv_to_bytes(e, t.e2, n);
    tri_free(&t);
    return 0;
}

int mpc_and(mpc_lane *L, uint8_t *z, const uint8_t *x, const uint8_t *y, size_t n) {
    if (n == 0) return 0;
    tri_pool t;
    TRY(run_pool(L, &t, n, 0));
    size_t nw = bv_words(n);
    uint64_t *xv = mem_calloc(nw, 8), *yv = mem_calloc(nw, 8), *zv = mem_calloc(nw, 8);
    int rc = (!xv || !yv || !zv) ? err_set(PARLEY_E_NOMEM, "out of memory for AND") : 0;
    if (rc == 0) {
        bv_from_bytes(xv, x, n);
        bv_from_bytes(yv, y, n);
        and_gate g = {.n = n, .x = xv, .y = yv, .a = t.a1, .b = t.b1, .c = t.c1, .z = zv};
        rc = and_round(L, &g, 1);
        if (rc == 0) bv_to_bytes(z, zv, n);
    }
    if (xv) mem_free_wipe(xv, nw * 8);
    if (yv) mem_free_wipe(yv, nw * 8);
    if (zv) mem_free_wipe(zv, nw * 8);
    tri_free(&t);
    return 0 > rc ? rc : 0;
}
