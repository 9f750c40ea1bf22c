/* Softmax over an axis (act3.h): one walk of the stages for both forms,
 * the secure one when a party is given, so the two cannot differ. */
#include "nl/act3.h"

#include "nl/act2.h"
#include "nl/nl.h"

#include "util/bits.h"
#include "util/mem.h"

#include <string.h>

static unsigned ceil_log2(size_t n) {
    unsigned k = 0;
    while (k < 63 && ((size_t)1 << k) < n)
        k++;
    return k;
}

/* The reciprocal's domain for a row sum: [2^(s-1), 2^(s + c + 1)). */
static void sum_domain(size_t cols, unsigned s, unsigned *lo, unsigned *hi) {
    *lo = s - 1;
    *hi = s + ceil_log2(cols) + 1;
}

int nl_softmax_check(size_t cols, unsigned l, unsigned s) {
    unsigned lo, hi, c = ceil_log2(cols);
    if (cols >= 1 && cols <= UINT32_MAX && s >= 6 && l <= 64) {
        sum_domain(cols, s, &lo, &hi);
        if (nl_exp_check(l, s) == 0 && nl_recip_check(l, s, lo, hi) == 0) return 0;
    }
    return err_set(PARLEY_E_ARG,
                   "Softmax over %zu elements needs a scale s >= 6 and l >= s + %u (here l = %u, "
                   "s = %u)",
                   cols, c + 3 > 5 ? c + 3 : 5, l, s);
}

/* The pool that takes the max of each row of cols. */
static nl_pool row_pool(size_t rows, size_t cols) {
    nl_pool pool = {.N = (unsigned)rows, .C = 1, .H = 1, .W = (unsigned)cols, .kh = 1,
                    .kw = (unsigned)cols, .sh = 1, .sw = 1, .dh = 1, .dw = 1};
    return pool;
}

/* Rows from the strided layout (to_rows) or back. */
static void rows_move(uint64_t *dst, const uint64_t *src, size_t outer, size_t cols, size_t inner,
                      int to_rows) {
    for (size_t o = 0; o < outer; o++)
        for (size_t j = 0; j < cols; j++)
            for (size_t k = 0; k < inner; k++) {
                size_t r = (o * inner + k) * cols + j, t = (o * cols + j) * inner + k;
                if (to_rows)
                    dst[r] = src[t];
                else
                    dst[t] = src[r];
            }
}

static int softmax_run(party *p, uint64_t *y, const uint64_t *x, size_t outer, size_t cols,
                       size_t inner, unsigned l, unsigned s) {
    TRY(nl_softmax_check(cols, l, s));
    size_t rows = outer * inner, n = rows * cols, words = 3 * n + 3 * rows;
    if (n == 0) return 0;
    if (rows > UINT32_MAX) return err_set(PARLEY_E_ARG, "Softmax: %zu rows", rows);
    uint64_t *buf = mem_alloc(words, sizeof *buf), m = bits_mask(l);
    if (!buf) {
        int rc = err_set(PARLEY_E_NOMEM, "out of memory for a Softmax");
        return p ? party_fail(p, rc) : rc;
    }
    uint64_t *X = buf, *E = buf + n, *B = buf + 2 * n, *M = buf + 3 * n, *S = M + rows,
             *R = S + rows;
    unsigned lo, hi;
    sum_domain(cols, s, &lo, &hi);
    nl_pool pool = row_pool(rows, cols);
    int rc = nl_pool_check(&pool);
    rows_move(X, x, outer, cols, inner, 1);
    if (rc == 0) {
        if (p)
            rc = nl_maxpool_ex(p, M, X, &pool, l, NL_POOL_TREE, 0);
        else
            nl_maxpool_plain(M, X, &pool, l);
    }
    for (size_t i = 0; rc == 0 && i < n; i++)
        X[i] = (X[i] - M[i / cols]) & m;
    if (rc == 0) {
        if (p)
            rc = nl_exp(p, E, X, n, l, s);
        else
            nl_exp_plain(E, X, n, l, s);
    }
    for (size_t r = 0; rc == 0 && r < rows; r++) {
        uint64_t t = 0;
        for (size_t j = 0; j < cols; j++)
            t += E[r * cols + j];
        S[r] = t & m;
    }
    if (rc == 0) {
        if (p)
            rc = nl_recip(p, R, S, rows, l, s, lo, hi);
        else
            nl_recip_plain(R, S, rows, l, s, lo, hi);
    }
    for (size_t i = 0; rc == 0 && i < n; i++)
        B[i] = R[i / cols];
    if (rc == 0) {
        if (p)
            rc = nl_mul_trunc(p, X, E, B, n, l, s);
        else
            nl_mul_trunc_plain(X, E, B, n, l, s);
    }
    if (rc == 0) rows_move(y, X, outer, cols, inner, 0);
    mem_free_wipe(buf, words * sizeof *buf);
    return rc;
}

int nl_softmax(party *p, uint64_t *y, const uint64_t *x, size_t outer, size_t cols, size_t inner,
               unsigned l, unsigned s) {
    return softmax_run(p, y, x, outer, cols, inner, l, s);
}

int nl_softmax_plain(uint64_t *y, const uint64_t *x, size_t outer, size_t cols, size_t inner,
                     unsigned l, unsigned s) {
    return softmax_run(NULL, y, x, outer, cols, inner, l, s);
}

uint64_t nl_softmax_bytes(const ot_costing *oc, size_t outer, size_t cols, size_t inner,
                          unsigned l, unsigned s, unsigned lanes) {
    size_t rows = outer * inner, n = rows * cols;
    if (nl_softmax_check(cols, l, s) < 0 || n == 0 || rows > UINT32_MAX) return 0;
    unsigned lo, hi;
    sum_domain(cols, s, &lo, &hi);
    nl_pool pool = row_pool(rows, cols);
    if (nl_pool_check(&pool) < 0) return 0;
    return nl_maxpool_bytes(oc, &pool, l, NL_POOL_TREE, 0, lanes) + nl_exp_bytes(oc, n, l, s, lanes) +
           nl_recip_bytes(oc, rows, l, s, lo, hi, lanes) + nl_mul_trunc_bytes(oc, n, l, s, lanes);
}
