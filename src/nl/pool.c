/* MaxPool and ArgMax by comparison tournaments (docs/PROTOCOLS.md §5.7, §5.8).
 *
 * max(a, b) = b + ReLU(a - b). On l-bit values a - b can overflow (2^(l-1)
 * - 1 against -2^(l-1)), and plain.h compares exactly, so every input is
 * first sign-extended by one bit (a millionaire on l bits; the B2A of one
 * bit is free) and all comparisons run on l + 1 bits, where differences of
 * l-bit values always fit. The result is reduced back to l bits. At l = 64
 * there is no spare bit: see the comparison step below.
 *
 * MaxPool batches every window of the layer: the linear scan takes K - 1
 * steps for K positions, the tree ceil(log2 K) levels (same bytes, fewer
 * rounds). ArgMax runs a tree over (value, index) pairs per row: one DReLU
 * per pair and one MUX carrying both the value difference and the index
 * difference; on a tie the left (lower-index) candidate wins, so the result
 * is the first maximum as in plain.h. */
#include "nl/lane.h"
#include "nl/nl.h"

#include "mpc/arith.h"
#include "mpc/bool.h"
#include "util/bits.h"
#include "util/mem.h"

#include <limits.h>
#include <string.h>

#define GRAIN 128 /* the outputs' extension: lane slices of whole OT blocks */

/* ---- one comparison step on n pairs (a, b) ----
 *
 * ge = [a >= b] (signed), then every field f becomes b.f + ge * (a.f - b.f)
 * in one MUX. For l <= 63 the values are sign-extended to l + 1 bits and
 * ge = DReLU(a - b) there. For l = 64 there is no spare bit: each candidate
 * carries its MSB as a Boolean share, and
 *   ge = (msb_a ^ msb_b) ? msb_b : !MSB(a - b)
 *      = !MSB(a - b) ^ ((msb_a ^ msb_b) & (msb_b ^ !MSB(a - b))),
 * one AND more; the new MSB is msb_b ^ ge * (msb_a ^ msb_b), a 1-bit field
 * of the same MUX. */
typedef struct cand {
    uint64_t *v;  /* value shares (l + 1 bits, or 64) */
    uint8_t *m;   /* l = 64: MSB shares */
    uint64_t *ix; /* argmax: index shares mod 2^l, else NULL */
} cand;

/* lw: the comparison width (l + 1, or l for non-negative inputs, or 64 with
 * MSBs carried when a->m is set). */
static int select_step(mpc_lane *L, cand *out, const cand *a, const cand *b, size_t n, unsigned l,
                       unsigned lw) {
    uint64_t mw = bits_mask(lw), mk = bits_mask(l);
    int S = L->role == MPC_SERVER, narrow = a->m != NULL;
    size_t nn = n ? n : 1;
    uint64_t *u = mem_alloc(nn, 8), *di = mem_alloc(nn, 8), *pv = mem_alloc(nn, 8);
    uint64_t *ru = mem_alloc(nn, 8), *rp = mem_alloc(nn, 8), *ri = mem_alloc(nn, 8);
    uint8_t *ge = mem_alloc(nn, 1), *p = mem_alloc(nn, 1), *q = mem_alloc(nn, 1), *t = mem_alloc(nn, 1);
    int rc = (!u || !di || !pv || !ru || !rp || !ri || !ge || !p || !q || !t)
                 ? err_set(PARLEY_E_NOMEM, "out of memory for max")
                 : 0;
    if (rc == 0) {
        for (size_t i = 0; i < n; i++) u[i] = (a->v[i] - b->v[i]) & mw;
        if (!narrow) {
            rc = mpc_drelu(L, ge, u, n, lw);
        } else {
            rc = mpc_msb(L, ge, u, n, 64); /* ge holds MSB(a - b) for now */
            for (size_t i = 0; i < n && rc == 0; i++) {
                p[i] = a->m[i] ^ b->m[i];
                q[i] = (uint8_t)(b->m[i] ^ ge[i] ^ (S ? 1 : 0));
            }
            if (rc == 0) rc = mpc_and(L, t, p, q, n);
            for (size_t i = 0; i < n && rc == 0; i++) ge[i] = (uint8_t)(ge[i] ^ (S ? 1 : 0) ^ t[i]);
        }
    }
    if (rc == 0) {
        uint64_t *ys[3];
        const uint64_t *xs[3];
        unsigned ls[3];
        size_t M = 0;
        ys[M] = ru;
        xs[M] = u;
        ls[M++] = lw;
        if (narrow) {
            for (size_t i = 0; i < n; i++) pv[i] = p[i];
            ys[M] = rp;
            xs[M] = pv;
            ls[M++] = 1;
        }
        if (a->ix) {
            for (size_t i = 0; i < n; i++) di[i] = (a->ix[i] - b->ix[i]) & mk;
            ys[M] = ri;
            xs[M] = di;
            ls[M++] = l;
        }
        rc = mpc_mux(L, ys, ge, xs, ls, M, n);
    }
    if (rc == 0)
        for (size_t i = 0; i < n; i++) {
            out->v[i] = (b->v[i] + ru[i]) & mw;
            if (narrow) out->m[i] = (uint8_t)(b->m[i] ^ (rp[i] & 1));
            if (a->ix) out->ix[i] = (b->ix[i] + ri[i]) & mk;
        }
    uint64_t *w64[] = {u, di, pv, ru, rp, ri};
    for (int k = 0; k < 6; k++)
        if (w64[k]) mem_free_wipe(w64[k], nn * 8);
    uint8_t *w8[] = {ge, p, q, t};
    for (int k = 0; k < 4; k++)
        if (w8[k]) mem_free_wipe(w8[k], nn);
    return rc;
}

/* Candidate arrays of n entries (m and ix only where used). */
static int cand_alloc(cand *c, size_t n, int with_m, int with_ix) {
    size_t nn = n ? n : 1;
    c->v = mem_alloc(nn, 8);
    c->m = with_m ? mem_alloc(nn, 1) : NULL;
    c->ix = with_ix ? mem_alloc(nn, 8) : NULL;
    if (!c->v || (with_m && !c->m) || (with_ix && !c->ix))
        return err_set(PARLEY_E_NOMEM, "out of memory for pooling");
    return 0;
}

static void cand_free(cand *c, size_t n) {
    size_t nn = n ? n : 1;
    if (c->v) mem_free_wipe(c->v, nn * 8);
    if (c->m) mem_free_wipe(c->m, nn);
    if (c->ix) mem_free_wipe(c->ix, nn * 8);
    memset(c, 0, sizeof *c);
}

static void cand_copy(cand *d, size_t di, const cand *s, size_t si) {
    d->v[di] = s->v[si];
    if (d->m) d->m[di] = s->m[si];
    if (d->ix) d->ix[di] = s->ix[si];
}

/* The comparison inputs of a layer: values sign-extended to l + 1 bits, or
 * for l = 64 the values with their MSBs; non-negative inputs (in [0,
 * 2^(l-1)), so every difference fits l signed bits) as they are. */
typedef struct cmp_in {
    uint64_t *v;
    uint8_t *m;
    size_t n;
    unsigned lw; /* the width comparisons run on */
} cmp_in;

typedef struct msb_args {
    uint8_t *m;
    const uint64_t *x;
} msb_args;

static int msb_job(mpc_lane *L, void *ctx, size_t first, size_t count) {
    const msb_args *a = ctx;
    return mpc_msb(L, a->m + first, a->x + first, count, 64);
}

static int cmp_in_make(party *p, cmp_in *c, const uint64_t *x, size_t n, unsigned l, int nonneg) {
    memset(c, 0, sizeof *c);
    c->n = n;
    c->lw = nonneg ? l : l < 64 ? l + 1 : 64;
    c->v = mem_alloc(n ? n : 1, 8);
    if (!c->v) return err_set(PARLEY_E_NOMEM, "out of memory for comparisons");
    if (nonneg) {
        memcpy(c->v, x, n * 8);
        return 0;
    }
    if (l < 64) return nl_extend(p, c->v, l + 1, x, n, l, 1);
    memcpy(c->v, x, n * 8);
    c->m = mem_alloc(n ? n : 1, 1);
    if (!c->m) return err_set(PARLEY_E_NOMEM, "out of memory for comparisons");
    msb_args a = {c->m, x};
    return party_run(p, n, 128, msb_job, &a);
}

static void cmp_in_free(cmp_in *c) {
    size_t nn = c->n ? c->n : 1;
    if (c->v) mem_free_wipe(c->v, nn * 8);
    if (c->m) mem_free_wipe(c->m, nn);
    memset(c, 0, sizeof *c);
}

/* ---- the separable plan ---- */

/* Rounds of one window of k positions: the tree's levels or the scan's
 * steps. */
static unsigned win_rounds(uint64_t k, int tree) {
    return tree ? bits_ceil_log2(k) : (unsigned)(k - 1);
}

int nl_pool_sep_make(nl_pool_sep *s, const nl_pool *P, int tree) {
    memset(s, 0, sizeof *s);
    s->slot = mem_alloc(P->H, sizeof *s->slot);
    s->ur = mem_alloc(P->H, sizeof *s->ur);
    if (!s->slot || !s->ur) {
        nl_pool_sep_free(s);
        return err_set(PARLEY_E_NOMEM, "out of memory for max pooling");
    }
    for (unsigned r = 0; r < P->H; r++) s->slot[r] = UINT_MAX;
    /* comparisons and rounds per channel plane, direct and separable */
    uint64_t direct = 0, rows = 0, cols = 0, rd = 0, ra = 0, rb = 0;
    for (unsigned i = 0; i < P->OH; i++) {
        unsigned a0, a1, b0, b1;
        nl_pool_window(P, i, 0, &a0, &a1, &b0, &b1);
        for (unsigned a = a0; a < a1; a++) s->slot[(size_t)i * P->sh - P->pt + (size_t)a * P->dh] = 0;
        uint64_t ka = a1 - a0;
        rows += (ka - 1) * P->OW;
        if (win_rounds(ka, tree) > ra) ra = win_rounds(ka, tree);
        for (unsigned j = 0; j < P->OW; j++) {
            nl_pool_window(P, i, j, &a0, &a1, &b0, &b1);
            uint64_t k = ka * (b1 - b0);
            direct += k - 1;
            if (win_rounds(k, tree) > rd) rd = win_rounds(k, tree);
        }
    }
    for (unsigned r = 0; r < P->H; r++)
        if (s->slot[r] == 0) {
            s->slot[r] = s->nur;
            s->ur[s->nur++] = r;
        }
    for (unsigned j = 0; j < P->OW; j++) {
        unsigned a0, a1, b0, b1;
        nl_pool_window(P, 0, j, &a0, &a1, &b0, &b1);
        cols += (uint64_t)(b1 - b0 - 1) * s->nur;
        if (win_rounds(b1 - b0, tree) > rb) rb = win_rounds(b1 - b0, tree);
    }
    s->on = cols + rows < direct && ra + rb <= rd;
    s->cmps = (s->on ? cols + rows : direct) * P->N * P->C;
    return 0;
}

void nl_pool_sep_free(nl_pool_sep *s) {
    mem_free(s->slot);
    mem_free(s->ur);
    memset(s, 0, sizeof *s);
}

/* ---- tournaments over lists of candidates ---- */

/* Where the candidates of items [first, first + count) are:
 * pos[off[o] .. off[o+1]) in the source array. */
typedef int (*win_list_fn)(const void *ctx, size_t first, size_t count, size_t **pos,
                           size_t **off);

typedef struct tour_args {
    const cand *src;
    cand *dst; /* item g's maximum at g */
    unsigned l, lw;
    int tree;
    win_list_fn list;
    const void *lctx;
} tour_args;

typedef struct pool_lists {
    const nl_pool *P;
    const nl_pool_sep *S;
} pool_lists;

size_t nl_pool_stage_size(const nl_pool *P, int stage, size_t g) {
    size_t q = g % ((size_t)P->OH * P->OW);
    unsigned i = stage == NL_POOL_STAGE_COLS ? 0 : (unsigned)(q / P->OW);
    unsigned j = stage == NL_POOL_STAGE_ROWS ? 0 : (unsigned)(g % P->OW);
    unsigned a0, a1, b0, b1;
    nl_pool_window(P, i, j, &a0, &a1, &b0, &b1);
    if (stage == NL_POOL_STAGE_COLS) return b1 - b0;
    if (stage == NL_POOL_STAGE_ROWS) return a1 - a0;
    return (size_t)(a1 - a0) * (b1 - b0);
}

/* Lists of count items of a stage: sizes from nl_pool_stage_size, then
 * filled by fill(ctx, g, out). */
static int lists_make(size_t first, size_t count, size_t **pos, size_t **off, int stage,
                      void (*fill)(const pool_lists *, size_t, size_t *), const pool_lists *pl) {
    size_t total = 0;
    *off = mem_alloc(count + 1, sizeof **off);
    if (!*off) return err_set(PARLEY_E_NOMEM, "out of memory for pooling");
    for (size_t o = 0; o < count; o++) {
        (*off)[o] = total;
        total += nl_pool_stage_size(pl->P, stage, first + o);
    }
    (*off)[count] = total;
    *pos = mem_alloc(total ? total : 1, sizeof **pos);
    if (!*pos) {
        mem_free(*off);
        return err_set(PARLEY_E_NOMEM, "out of memory for pooling");
    }
    for (size_t o = 0; o < count; o++) fill(pl, first + o, *pos + (*off)[o]);
    return 0;
}

/* Direct: output g's whole window, in the input. */
static void direct_fill(const pool_lists *pl, size_t g, size_t *pos) {
    const nl_pool *P = pl->P;
    size_t plane = (size_t)P->OH * P->OW, nc = g / plane, q = g % plane, k = 0;
    unsigned i = (unsigned)(q / P->OW), j = (unsigned)(q % P->OW), a0, a1, b0, b1;
    nl_pool_window(P, i, j, &a0, &a1, &b0, &b1);
    for (unsigned a = a0; a < a1; a++)
        for (unsigned b = b0; b < b1; b++) pos[k++] = nc * P->H * P->W + nl_pool_tap(P, i, j, a, b);
}
static int direct_list(const void *ctx, size_t first, size_t count, size_t **pos, size_t **off) {
    return lists_make(first, count, pos, off, NL_POOL_STAGE_WHOLE, direct_fill, ctx);
}

/* Separable, first stage: item g = (nc, used row u, output column j), the
 * window's columns of input row ur[u]. */
static void cols_fill(const pool_lists *pl, size_t g, size_t *pos) {
    const nl_pool *P = pl->P;
    unsigned j = (unsigned)(g % P->OW), a0, a1, b0, b1;
    size_t t = g / P->OW, u = t % pl->S->nur, nc = t / pl->S->nur, k = 0;
    size_t row = nc * P->H * P->W + (size_t)pl->S->ur[u] * P->W;
    nl_pool_window(P, 0, j, &a0, &a1, &b0, &b1);
    for (unsigned b = b0; b < b1; b++) pos[k++] = row + (size_t)j * P->sw - P->pl + (size_t)b * P->dw;
}
static int cols_list(const void *ctx, size_t first, size_t count, size_t **pos, size_t **off) {
    return lists_make(first, count, pos, off, NL_POOL_STAGE_COLS, cols_fill, ctx);
}

/* Second stage: output g = (nc, i, j), the first stage's maxima of the
 * window's rows. */
static void rows_fill(const pool_lists *pl, size_t g, size_t *pos) {
    const nl_pool *P = pl->P;
    size_t plane = (size_t)P->OH * P->OW, nc = g / plane, q = g % plane, k = 0;
    unsigned i = (unsigned)(q / P->OW), j = (unsigned)(q % P->OW), a0, a1, b0, b1;
    nl_pool_window(P, i, 0, &a0, &a1, &b0, &b1);
    for (unsigned a = a0; a < a1; a++) {
        size_t r = (size_t)i * P->sh - P->pt + (size_t)a * P->dh;
        pos[k++] = (nc * pl->S->nur + pl->S->slot[r]) * P->OW + j;
    }
}
static int rows_list(const void *ctx, size_t first, size_t count, size_t **pos, size_t **off) {
    return lists_make(first, count, pos, off, NL_POOL_STAGE_ROWS, rows_fill, ctx);
}

static int tour_job(mpc_lane *L, void *ctx, size_t first, size_t count) {
    const tour_args *A = ctx;
    int wm = A->src->m != NULL;
    size_t *pos, *off;
    TRY(A->list(A->lctx, first, count, &pos, &off));
    size_t total = off[count];
    cand c = {0}, a = {0}, b = {0};
    int rc = cand_alloc(&c, total, wm, 0);
    if (rc == 0) rc = cand_alloc(&a, total, wm, 0);
    if (rc == 0) rc = cand_alloc(&b, total, wm, 0);
    size_t *len = mem_alloc(count ? count : 1, sizeof *len);
    if (rc == 0 && !len) rc = err_set(PARLEY_E_NOMEM, "out of memory for max pooling");
    for (size_t k = 0; k < total && rc == 0; k++) cand_copy(&c, k, A->src, pos[k]);
    if (rc == 0 && !A->tree) {
        /* c[off[o]] holds the running maximum of window o. */
        size_t kmax = 0;
        for (size_t o = 0; o < count; o++)
            if (off[o + 1] - off[o] > kmax) kmax = off[o + 1] - off[o];
        for (size_t j = 1; j < kmax && rc == 0; j++) {
            size_t m = 0;
            for (size_t o = 0; o < count; o++)
                if (off[o + 1] - off[o] > j) {
                    cand_copy(&a, m, &c, off[o]);
                    cand_copy(&b, m++, &c, off[o] + j);
                }
            rc = select_step(L, &a, &a, &b, m, A->l, A->lw);
            m = 0;
            for (size_t o = 0; o < count && rc == 0; o++)
                if (off[o + 1] - off[o] > j) cand_copy(&c, off[o], &a, m++);
        }
    } else if (rc == 0) {
        /* Tree: each level halves every window's list in place. */
        for (size_t o = 0; o < count; o++) len[o] = off[o + 1] - off[o];
        for (;;) {
            size_t m = 0;
            for (size_t o = 0; o < count; o++)
                for (size_t k = 0; k + 1 < len[o]; k += 2) {
                    cand_copy(&a, m, &c, off[o] + k);
                    cand_copy(&b, m++, &c, off[o] + k + 1);
                }
            if (m == 0) break;
            rc = select_step(L, &a, &a, &b, m, A->l, A->lw);
            if (rc < 0) break;
            m = 0;
            for (size_t o = 0; o < count; o++) {
                size_t k2 = 0;
                for (size_t k = 0; k < len[o]; k += 2, k2++) {
                    if (k + 1 < len[o])
                        cand_copy(&c, off[o] + k2, &a, m++);
                    else
                        cand_copy(&c, off[o] + k2, &c, off[o] + k);
                }
                len[o] = k2;
            }
        }
    }
    if (rc == 0)
        for (size_t o = 0; o < count; o++) cand_copy(A->dst, first + o, &c, off[o]);
    cand_free(&c, total);
    cand_free(&a, total);
    cand_free(&b, total);
    mem_free(pos);
    mem_free(off);
    mem_free(len);
    return rc;
}

static int check_width(unsigned l) {
    if (l < 1 || l > 64) return err_set(PARLEY_E_ARG, "ring width %u is not in 1..64", l);
    return 0;
}

int nl_maxpool_narrow(int backend, unsigned l, int flags, unsigned wb) {
    return (flags & NL_POOL_NONNEG) && wb >= 2 && wb < l && mpc_cot1_ok(backend, l - wb);
}

typedef struct ext_args {
    uint64_t *y;
    const uint64_t *v;
    unsigned k, l;
} ext_args;

static int ext_job(mpc_lane *L, void *ctx, size_t first, size_t count) {
    const ext_args *a = ctx;
    return nl_extend_msb0_lane(L, a->y + first, a->v + first, count, a->k, a->l);
}

int nl_maxpool_ex(party *p, uint64_t *y, const uint64_t *x, const nl_pool *pool, unsigned l,
                  int flags, unsigned wb) {
    TRY(check_width(l));
    size_t nin = nl_pool_in_size(pool), nout = nl_pool_out_size(pool);
    int tree = (flags & NL_POOL_TREE) != 0;
    /* Inputs below 2^(wb-1): the tournament runs mod 2^wb, the outputs are
     * extended once (docs/PROTOCOLS.md §5.7). */
    int narrow = p->nlanes && nl_maxpool_narrow(p->lanes[0].ot.be->id, l, flags, wb);
    nl_pool_sep S;
    TRY(nl_pool_sep_make(&S, pool, tree));
    if (flags & NL_POOL_DIRECT) S.on = 0;
    cmp_in in;
    int rc = cmp_in_make(p, &in, x, nin, narrow ? wb : l, (flags & NL_POOL_NONNEG) != 0);
    int wm = in.m != NULL;
    cand src = {in.v, in.m, NULL}, mid = {0}, out = {0};
    pool_lists pl = {pool, &S};
    size_t nmid = (size_t)pool->N * pool->C * S.nur * pool->OW;
    if (rc == 0) rc = cand_alloc(&out, nout, wm, 0);
    if (rc == 0 && S.on) {
        rc = cand_alloc(&mid, nmid, wm, 0);
        tour_args A1 = {&src, &mid, l, in.lw, tree, cols_list, &pl};
        if (rc == 0) rc = party_run(p, nmid, 1, tour_job, &A1);
        tour_args A2 = {&mid, &out, l, in.lw, tree, rows_list, &pl};
        if (rc == 0) rc = party_run(p, nout, 1, tour_job, &A2);
    } else if (rc == 0) {
        tour_args A = {&src, &out, l, in.lw, tree, direct_list, &pl};
        rc = party_run(p, nout, 1, tour_job, &A);
    }
    if (rc == 0 && narrow) {
        ext_args E = {y, out.v, wb, l};
        rc = party_run(p, nout, GRAIN, ext_job, &E);
    } else if (rc == 0) {
        for (size_t o = 0; o < nout; o++) y[o] = out.v[o] & bits_mask(l);
    }
    cand_free(&mid, nmid);
    cand_free(&out, nout);
    cmp_in_free(&in);
    nl_pool_sep_free(&S);
    return rc;
}

int nl_maxpool(party *p, uint64_t *y, const uint64_t *x, const nl_pool *pool, unsigned l) {
    return nl_maxpool_ex(p, y, x, pool, l, NL_POOL_TREE, 0);
}

/* ---- ArgMax ---- */

typedef struct argmax_args {
    uint64_t *idx;
    const cmp_in *in;
    size_t cols;
    unsigned l;
} argmax_args;

static int argmax_job(mpc_lane *L, void *ctx, size_t first, size_t count) {
    const argmax_args *A = ctx;
    unsigned l = A->l;
    int wm = A->in->m != NULL;
    size_t cols = A->cols, total = count * cols, half = count * ((cols + 1) / 2);
    cand c = {0}, a = {0}, b = {0};
    int rc = cand_alloc(&c, total, wm, 1);
    if (rc == 0) rc = cand_alloc(&a, half, wm, 1);
    if (rc == 0) rc = cand_alloc(&b, half, wm, 1);
    if (rc == 0) {
        memcpy(c.v, A->in->v + first * cols, total * 8);
        if (wm) memcpy(c.m, A->in->m + first * cols, total);
        for (size_t k = 0; k < total; k++) /* public indices: S holds them */
            c.ix[k] = L->role == MPC_SERVER ? (k % cols) & bits_mask(l) : 0;
    }
    /* Tree per row; the left (lower-index) candidate wins ties. */
    size_t len = cols;
    while (rc == 0 && len > 1) {
        size_t m = 0;
        for (size_t r = 0; r < count; r++)
            for (size_t k = 0; k + 1 < len; k += 2) {
                cand_copy(&a, m, &c, r * cols + k);
                cand_copy(&b, m++, &c, r * cols + k + 1);
            }
        rc = select_step(L, &a, &a, &b, m, l, A->in->lw);
        if (rc < 0) break;
        m = 0;
        for (size_t r = 0; r < count; r++) {
            size_t k2 = 0;
            for (size_t k = 0; k < len; k += 2, k2++) {
                if (k + 1 < len)
                    cand_copy(&c, r * cols + k2, &a, m++);
                else
                    cand_copy(&c, r * cols + k2, &c, r * cols + k);
            }
        }
        len = (len + 1) / 2;
    }
    if (rc == 0)
        for (size_t r = 0; r < count; r++) A->idx[first + r] = c.ix[r * cols];
    cand_free(&c, total);
    cand_free(&a, half);
    cand_free(&b, half);
    return rc;
}

int nl_argmax(party *p, uint64_t *idx, const uint64_t *x, size_t rows, size_t cols, unsigned l) {
    TRY(check_width(l));
    if (cols == 0) return err_set(PARLEY_E_ARG, "argmax over rows of zero columns");
    if (l < 64 && cols > (1ULL << l))
        return err_set(PARLEY_E_ARG, "argmax over %zu columns: the index does not fit %u bits", cols, l);
    size_t n;
    if (size_mul(&n, rows, cols) < 0) return err_set(PARLEY_E_ARG, "argmax: tensor too large");
    cmp_in in;
    int rc = cmp_in_make(p, &in, x, n, l, 0);
    argmax_args A = {idx, &in, cols, l};
    if (rc == 0) rc = party_run(p, rows, 1, argmax_job, &A);
    cmp_in_free(&in);
    return rc;
}
