/* MaxPool and ArgMax by comparison tournaments (PROTOCOLS.md §5).
 *
 * max(a, b) = b + ReLU(a - b). On l-bit values a - b can overflow (2^(l-1)
 * - 1 against -2^(l-1)), and plain.h compares exactly, so every input is
 * first sign-extended by one bit (a millionaire on l bits; the B2A of one
 * bit is free) and all comparisons run on l + 1 bits, where differences of
 * l-bit values always fit. The result is reduced back to l bits. This is
 * why l <= 63 here.
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
#include "util/bits.h"
#include "util/mem.h"

#include <string.h>

/* out = b + ReLU(a - b) over lw bits, for n pairs. */
static int max_step(mpc_lane *L, uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n,
                    unsigned lw) {
    uint64_t mk = bits_mask(lw);
    uint64_t *u = mem_alloc(n ? n : 1, 8);
    if (!u) return err_set(PARLEY_E_NOMEM, "out of memory for max");
    for (size_t i = 0; i < n; i++) u[i] = (a[i] - b[i]) & mk;
    int rc = nl_relu_lane(L, u, u, n, lw);
    if (rc == 0)
        for (size_t i = 0; i < n; i++) out[i] = (b[i] + u[i]) & mk;
    mem_free_wipe(u, (n ? n : 1) * 8);
    return rc;
}

typedef struct pool_args {
    uint64_t *y;
    const uint64_t *ext; /* inputs extended to l + 1 bits */
    const nl_pool *pool;
    unsigned l;
    int tree;
} pool_args;

/* Candidates of outputs [first, first + count): cand[off[o] .. off[o+1]). */
static int gather(const nl_pool *P, const uint64_t *ext, size_t first, size_t count, uint64_t **cand,
                  size_t **off) {
    size_t plane = (size_t)P->OH * P->OW, total = 0;
    *off = mem_alloc(count + 1, sizeof **off);
    if (!*off) return err_set(PARLEY_E_NOMEM, "out of memory for pooling");
    for (size_t o = 0; o < count; o++) {
        size_t q = (first + o) % plane;
        unsigned a0, a1, b0, b1;
        nl_pool_window(P, (unsigned)(q / P->OW), (unsigned)(q % P->OW), &a0, &a1, &b0, &b1);
        (*off)[o] = total;
        total += (size_t)(a1 - a0) * (b1 - b0);
    }
    (*off)[count] = total;
    *cand = mem_alloc(total ? total : 1, 8);
    if (!*cand) {
        mem_free(*off);
        return err_set(PARLEY_E_NOMEM, "out of memory for pooling");
    }
    for (size_t o = 0; o < count; o++) {
        size_t g = first + o, nc = g / plane, q = g % plane;
        unsigned i = (unsigned)(q / P->OW), j = (unsigned)(q % P->OW);
        unsigned a0, a1, b0, b1;
        nl_pool_window(P, i, j, &a0, &a1, &b0, &b1);
        const uint64_t *xp = ext + nc * P->H * P->W;
        size_t k = (*off)[o];
        for (unsigned a = a0; a < a1; a++)
            for (unsigned b = b0; b < b1; b++) {
                size_t r = (size_t)i * P->sh - P->pt + (size_t)a * P->dh;
                size_t c = (size_t)j * P->sw - P->pl + (size_t)b * P->dw;
                (*cand)[k++] = xp[r * P->W + c];
            }
    }
    return 0;
}

static int maxpool_job(mpc_lane *L, void *ctx, size_t first, size_t count) {
    const pool_args *A = ctx;
    unsigned lw = A->l + 1;
    uint64_t *cand;
    size_t *off;
    TRY(gather(A->pool, A->ext, first, count, &cand, &off));
    size_t total = off[count];
    uint64_t *a = mem_alloc(total ? total : 1, 8), *b = mem_alloc(total ? total : 1, 8);
    size_t *len = mem_alloc(count ? count : 1, sizeof *len);
    int rc = (!a || !b || !len) ? err_set(PARLEY_E_NOMEM, "out of memory for max pooling") : 0;
    if (rc == 0 && !A->tree) {
        /* cand[off[o]] holds the running maximum of window o. */
        size_t kmax = 0;
        for (size_t o = 0; o < count; o++)
            if (off[o + 1] - off[o] > kmax) kmax = off[o + 1] - off[o];
        for (size_t j = 1; j < kmax && rc == 0; j++) {
            size_t m = 0;
            for (size_t o = 0; o < count; o++)
                if (off[o + 1] - off[o] > j) {
                    a[m] = cand[off[o]];
                    b[m++] = cand[off[o] + j];
                }
            rc = max_step(L, a, a, b, m, lw);
            m = 0;
            for (size_t o = 0; o < count && rc == 0; o++)
                if (off[o + 1] - off[o] > j) cand[off[o]] = a[m++];
        }
    } else if (rc == 0) {
        /* Tree: each level halves every window's list in place. */
        for (size_t o = 0; o < count; o++) len[o] = off[o + 1] - off[o];
        for (;;) {
            size_t m = 0;
            for (size_t o = 0; o < count; o++)
                for (size_t k = 0; k + 1 < len[o]; k += 2) {
                    a[m] = cand[off[o] + k];
                    b[m++] = cand[off[o] + k + 1];
                }
            if (m == 0) break;
            rc = max_step(L, a, a, b, m, lw);
            if (rc < 0) break;
            m = 0;
            for (size_t o = 0; o < count; o++) {
                size_t k2 = 0;
                for (size_t k = 0; k < len[o]; k += 2)
                    cand[off[o] + k2++] = k + 1 < len[o] ? a[m++] : cand[off[o] + k];
                len[o] = k2;
            }
        }
    }
    if (rc == 0)
        for (size_t o = 0; o < count; o++) A->y[first + o] = cand[off[o]] & bits_mask(A->l);
    mem_free_wipe(cand, (total ? total : 1) * 8);
    mem_free(off);
    if (a) mem_free_wipe(a, (total ? total : 1) * 8);
    if (b) mem_free_wipe(b, (total ? total : 1) * 8);
    mem_free(len);
    return rc;
}

static int check_cmp_width(unsigned l, const char *what) {
    if (l < 1 || l > 63)
        return err_set(PARLEY_E_ARG, "%s needs a ring width in 1..63 (one bit for exact "
                                     "comparisons), got %u", what, l);
    return 0;
}

int nl_maxpool_ex(party *p, uint64_t *y, const uint64_t *x, const nl_pool *pool, unsigned l,
                  int tree) {
    TRY(check_cmp_width(l, "max pooling"));
    size_t nin = nl_pool_in_size(pool), nout = nl_pool_out_size(pool);
    uint64_t *ext = mem_alloc(nin ? nin : 1, 8);
    if (!ext) return err_set(PARLEY_E_NOMEM, "out of memory for max pooling");
    int rc = nl_extend(p, ext, l + 1, x, nin, l, 1);
    pool_args A = {y, ext, pool, l, tree};
    if (rc == 0) rc = party_run(p, nout, 1, maxpool_job, &A);
    mem_free_wipe(ext, (nin ? nin : 1) * 8);
    return rc;
}

int nl_maxpool(party *p, uint64_t *y, const uint64_t *x, const nl_pool *pool, unsigned l) {
    return nl_maxpool_ex(p, y, x, pool, l, 1);
}

/* ---- ArgMax ---- */

typedef struct argmax_args {
    uint64_t *idx;
    const uint64_t *ext;
    size_t cols;
    unsigned l;
} argmax_args;

static int argmax_job(mpc_lane *L, void *ctx, size_t first, size_t count) {
    const argmax_args *A = ctx;
    unsigned lw = A->l + 1, l = A->l;
    size_t cols = A->cols, total = count * cols, half = count * ((cols + 1) / 2);
    uint64_t mw = bits_mask(lw), mk = bits_mask(l);
    uint64_t *v = mem_alloc(total, 8), *ix = mem_alloc(total, 8);
    uint64_t *u = mem_alloc(half, 8), *di = mem_alloc(half, 8), *rv = mem_alloc(half, 8),
             *ri = mem_alloc(half, 8);
    uint8_t *d = mem_alloc(half, 1);
    int rc = (!v || !ix || !u || !di || !rv || !ri || !d)
                 ? err_set(PARLEY_E_NOMEM, "out of memory for argmax")
                 : 0;
    if (rc == 0) {
        memcpy(v, A->ext + first * cols, total * 8);
        for (size_t k = 0; k < total; k++) /* public indices: S holds them */
            ix[k] = L->role == MPC_SERVER ? (k % cols) & mk : 0;
    }
    size_t len = cols;
    while (rc == 0 && len > 1) {
        size_t m = 0, pairs = len / 2;
        for (size_t r = 0; r < count; r++)
            for (size_t k = 0; k < pairs; k++) {
                size_t lo = r * cols + 2 * k, hi = lo + 1;
                u[m] = (v[lo] - v[hi]) & mw;
                di[m] = (ix[lo] - ix[hi]) & mk;
                m++;
            }
        rc = mpc_drelu(L, d, u, m, lw); /* [left >= right]: ties keep the left */
        if (rc < 0) break;
        uint64_t *ys[2] = {rv, ri};
        const uint64_t *xs[2] = {u, di};
        unsigned ls[2] = {lw, l};
        rc = mpc_mux(L, ys, d, xs, ls, 2, m);
        if (rc < 0) break;
        m = 0;
        for (size_t r = 0; r < count; r++) {
            size_t k2 = 0;
            for (size_t k = 0; k < len; k += 2, k2++) {
                size_t lo = r * cols + k, dst = r * cols + k2;
                if (k + 1 < len) {
                    v[dst] = (v[lo + 1] + rv[m]) & mw;
                    ix[dst] = (ix[lo + 1] + ri[m]) & mk;
                    m++;
                } else {
                    v[dst] = v[lo];
                    ix[dst] = ix[lo];
                }
            }
        }
        len = (len + 1) / 2;
    }
    if (rc == 0)
        for (size_t r = 0; r < count; r++) A->idx[first + r] = ix[r * cols];
    if (v) mem_free_wipe(v, total * 8);
    if (ix) mem_free_wipe(ix, total * 8);
    if (u) mem_free_wipe(u, half * 8);
    if (di) mem_free_wipe(di, half * 8);
    if (rv) mem_free_wipe(rv, half * 8);
    if (ri) mem_free_wipe(ri, half * 8);
    if (d) mem_free_wipe(d, half);
    return rc;
}

int nl_argmax(party *p, uint64_t *idx, const uint64_t *x, size_t rows, size_t cols, unsigned l) {
    TRY(check_cmp_width(l, "argmax"));
    if (cols == 0) return err_set(PARLEY_E_ARG, "argmax over rows of zero columns");
    if (l < 63 && cols > (1ULL << l))
        return err_set(PARLEY_E_ARG, "argmax over %zu columns: the index does not fit %u bits", cols, l);
    size_t n;
    if (size_mul(&n, rows, cols) < 0) return err_set(PARLEY_E_ARG, "argmax: tensor too large");
    uint64_t *ext = mem_alloc(n ? n : 1, 8);
    if (!ext) return err_set(PARLEY_E_NOMEM, "out of memory for argmax");
    int rc = nl_extend(p, ext, l + 1, x, n, l, 1);
    argmax_args A = {idx, ext, cols, l};
    if (rc == 0) rc = party_run(p, rows, 1, argmax_job, &A);
    mem_free_wipe(ext, (n ? n : 1) * 8);
    return rc;
}
