/* Division by a public integer (CrypTFlow2's Div_ring, docs/PROTOCOLS.md §5.6) and
 * average pooling on it.
 *
 * With 2^l = N1 d + N0, x_P = q_P d + r_P, m_P = msb(x_P), s_P = signed(x_P),
 * t_P = r_P - m_P N0 and corr as in truncation (signed(x) = s_S + s_C +
 * corr 2^l):
 *   floor(signed(x) / d) = sum_P (floor(s_P / d) - floor(t_P / d))
 *                          + corr N1 + floor(A / d),
 *   A = r_S + r_C - (m_S + m_C - corr) N0,  -2d < A < 2d,
 *   floor(A / d) = 1 - [A < d] - [A < 0] - [A < -d].
 * Steps: MSB(x) (millionaire on l-1 bits); corr shared mod 2^max(l, e) by one
 * (4 choose 1)-OT indexed by C's (MSB share, m_C), e = ceil(log2 6d) so that
 * A - d, A, A + d fit in e signed bits; the three MSBs over Z_{2^e} in one
 * millionaire batch of 3n on e-1 bits; one B2A per bit. All terms but
 * floor(A / d) are local. The derivation needs no bound on d other than
 * e <= 64 (the word); d = 1, powers of two (truncation) and d >= 2^(l-1)
 * (the result is -MSB(x)) take cheaper exact paths. */
#include "nl/lane.h"
#include "nl/nl.h"
#include "nl/ctdiv.h"

#include "mpc/arith.h"
#include "mpc/mill.h"
#include "util/bits.h"
#include "util/mem.h"

#include <string.h>

#define GRAIN 128

/* Smallest e with 6d <= 2^e (65 if none fits in 64 bits). */
unsigned nl_div_width(uint64_t d) {
    unsigned __int128 six = (unsigned __int128)d * 6;
    return six > UINT64_MAX ? 65 : bits_ceil_log2((uint64_t)six);
}

/* Element i of a batch: its divisor, N0 = 2^l mod d and r = x mod d. cd
 * starts set up for d[0] and must be walked in order of i. */
typedef struct div_el {
    uint64_t d, n0, r;
} div_el;

static div_el div_el_at(ctdiv *cd, const uint64_t *d, size_t ds, size_t i, uint64_t x, unsigned l) {
    div_el e;
    e.d = d[i * ds];
    if (ds && i) ctdiv_init(cd, e.d);
    e.n0 = (uint64_t)(((unsigned __int128)1 << l) % e.d); /* public */
    uint64_t xi = x & bits_mask(l);
    e.r = xi - e.d * ctdiv_u(cd, xi);
    return e;
}

static int div_ring(mpc_lane *L, uint64_t *y, const uint64_t *x, const uint64_t *d, size_t ds,
                    size_t n, unsigned l) {
    int S = L->role == MPC_SERVER;
    unsigned e = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned ei = nl_div_width(d[i * ds]);
        if (ei > e) e = ei;
        if (ds == 0) break;
    }
    PARLEY_CHECK(e <= 64);
    unsigned w = l > e ? l : e;
    uint64_t mk = bits_mask(l), me = bits_mask(e);
    size_t n3 = 3 * n;
    uint8_t *b = mem_alloc(n ? n : 1, 1), *ch = mem_alloc(n ? n : 1, 1);
    uint8_t *cb = mem_alloc(n3 ? n3 : 1, 1);
    uint64_t *corr = mem_alloc(n ? n : 1, 8), *a = mem_alloc(n3 ? n3 : 1, 8);
    uint64_t *v = mem_alloc(n3 ? n3 : 1, 8), *ca = mem_alloc(n3 ? n3 : 1, 8);
    int rc = (!b || !ch || !cb || !corr || !a || !v || !ca)
                 ? err_set(PARLEY_E_NOMEM, "out of memory for division")
                 : 0;
    if (rc == 0) rc = mpc_msb(L, b, x, n, l);
    if (rc == 0) {
        nl_corr_ctx k = {b, x, corr, l, w};
        otb_job j = nl_corr_job(L, &k, ch, n);
        rc = otb_run(L, &j, 1);
    }
    if (rc == 0) {
        /* A_P, then A_P + d, A_P, A_P - d (S adds the constants). */
        ctdiv cd;
        ctdiv_init(&cd, d[0]);
        for (size_t i = 0; i < n; i++) {
            div_el el = div_el_at(&cd, d, ds, i, x[i], l);
            uint64_t A = el.r - nl_top(x[i], l) * el.n0 + corr[i] * el.n0;
            uint64_t dd = S ? el.d : 0;
            a[3 * i] = (A + dd) & me;
            a[3 * i + 1] = A & me;
            a[3 * i + 2] = (A - dd) & me;
        }
        mpc_wrap_input(v, a, n3, e - 1, L->role);
        rc = mpc_mill_gt(L, cb, NULL, v, n3, e - 1, mpc_m(L));
    }
    if (rc == 0) {
        for (size_t i = 0; i < n3; i++) cb[i] ^= (uint8_t)nl_top(a[i], e);
        rc = mpc_b2a(L, ca, cb, n3, l);
    }
    if (rc == 0) {
        ctdiv cd;
        ctdiv_init(&cd, d[0]);
        for (size_t i = 0; i < n; i++) {
            div_el el = div_el_at(&cd, d, ds, i, x[i], l);
            uint64_t N1 = (uint64_t)(((unsigned __int128)1 << l) / el.d); /* mod 2^64 is enough */
            /* t = r - m N0 in (-d, d); floor(t / d) = -[t < 0] = t >> 63. */
            int64_t t = (int64_t)el.r - (int64_t)(el.n0 & (0 - (uint64_t)nl_top(x[i], l)));
            uint64_t out = (uint64_t)ctdiv_floor(&cd, bits_signed(x[i], l)) - (uint64_t)(t >> 63) +
                           corr[i] * N1 - ca[3 * i] - ca[3 * i + 1] - ca[3 * i + 2] + (S ? 1 : 0);
            y[i] = out & mk;
        }
    }
    size_t n1 = n ? n : 1, n31 = n3 ? n3 : 1;
    if (b) mem_free_wipe(b, n1);
    if (ch) mem_free_wipe(ch, n1);
    if (cb) mem_free_wipe(cb, n31);
    if (corr) mem_free_wipe(corr, n1 * 8);
    if (a) mem_free_wipe(a, n31 * 8);
    if (v) mem_free_wipe(v, n31 * 8);
    if (ca) mem_free_wipe(ca, n31 * 8);
    return rc;
}

/* -MSB(x): floor(signed(x) / d) for d >= 2^(l-1). */
static int div_large(mpc_lane *L, uint64_t *y, const uint64_t *x, size_t n, unsigned l) {
    uint8_t *b = mem_alloc(n ? n : 1, 1);
    if (!b) return err_set(PARLEY_E_NOMEM, "out of memory for division");
    int rc = mpc_msb(L, b, x, n, l);
    if (rc == 0) rc = mpc_b2a(L, y, b, n, l);
    if (rc == 0)
        for (size_t i = 0; i < n; i++) y[i] = (0 - y[i]) & bits_mask(l);
    mem_free_wipe(b, n ? n : 1);
    return rc;
}

int nl_div_lane(mpc_lane *L, uint64_t *y, const uint64_t *x, const uint64_t *d, size_t ds,
                size_t n, unsigned l) {
    if (n == 0) return 0; /* both sides alike: nothing is sent */
    if (ds == 0) {
        uint64_t d0 = d[0];
        if (d0 == 1) {
            for (size_t i = 0; i < n; i++) y[i] = x[i] & bits_mask(l);
            return 0;
        }
        if ((d0 & (d0 - 1)) == 0) return nl_trunc_lane(L, y, x, n, l, (unsigned)__builtin_ctzll(d0));
        if (l >= 2 && d0 >= 1ULL << (l - 1)) return div_large(L, y, x, n, l);
        if (l == 1) return div_large(L, y, x, n, l);
    }
    return div_ring(L, y, x, d, ds, n, l);
}

/* ---- layer level ---- */

typedef struct div_args {
    uint64_t *y;
    const uint64_t *x, *d;
    size_t ds;
    unsigned l;
} div_args;

static int div_job(mpc_lane *L, void *ctx, size_t first, size_t count) {
    const div_args *a = ctx;
    return nl_div_lane(L, a->y + first, a->x + first, a->d + first * a->ds, a->ds, count, a->l);
}

static int check_div(uint64_t d, unsigned l) {
    if (d == 0) return err_set(PARLEY_E_ARG, "division by zero");
    int cheap = (d & (d - 1)) == 0 || l == 1 || d >= 1ULL << (l - 1);
    if (!cheap && nl_div_width(d) > 64)
        return err_set(PARLEY_E_ARG,
                       "division by %llu at %u bits needs 6d <= 2^64 (the comparison width)",
                       (unsigned long long)d, l);
    return 0;
}

int nl_div(party *p, uint64_t *y, const uint64_t *x, size_t n, unsigned l, uint64_t d) {
    if (l < 1 || l > 64) return err_set(PARLEY_E_ARG, "ring width %u is not in 1..64", l);
    TRY(check_div(d, l));
    div_args a = {y, x, &d, 0, l};
    return party_run(p, n, GRAIN, div_job, &a);
}

int nl_div_each(party *p, uint64_t *y, const uint64_t *x, const uint64_t *d, size_t n, unsigned l) {
    if (l < 1 || l > 64) return err_set(PARLEY_E_ARG, "ring width %u is not in 1..64", l);
    for (size_t i = 0; i < n; i++) {
        if (d[i] == 0) return err_set(PARLEY_E_ARG, "division by zero at element %zu", i);
        if (nl_div_width(d[i]) > 64)
            return err_set(PARLEY_E_ARG, "divisor %llu at element %zu exceeds 2^64/6",
                           (unsigned long long)d[i], i);
    }
    div_args a = {y, x, d, 1, l};
    return party_run(p, n, GRAIN, div_job, &a);
}

/* ---- average pooling ---- */

int nl_avgpool(party *p, uint64_t *y, const uint64_t *x, const nl_pool *pool, unsigned l) {
    if (l < 1 || l > 64) return err_set(PARLEY_E_ARG, "ring width %u is not in 1..64", l);
    size_t no = nl_pool_out_size(pool), plane = (size_t)pool->OH * pool->OW;
    uint64_t *sum = mem_alloc(no ? no : 1, 8), *dv = mem_alloc(plane ? plane : 1, 8);
    uint64_t *dall = NULL;
    int rc = (!sum || !dv) ? err_set(PARLEY_E_NOMEM, "out of memory for average pooling") : 0;
    int uniform = 1;
    if (rc == 0) {
        for (unsigned i = 0; i < pool->OH; i++)
            for (unsigned j = 0; j < pool->OW; j++) {
                dv[(size_t)i * pool->OW + j] = nl_pool_divisor(pool, i, j);
                if (dv[(size_t)i * pool->OW + j] != dv[0]) uniform = 0;
            }
        nl_pool_sums(sum, x, pool, l);
        if (uniform) {
            rc = nl_div(p, y, sum, no, l, plane ? dv[0] : 1);
        } else {
            dall = mem_alloc(no, 8);
            if (!dall) rc = err_set(PARLEY_E_NOMEM, "out of memory for average pooling");
            for (size_t o = 0; o < no && rc == 0; o++) dall[o] = dv[o % plane];
            if (rc == 0) rc = nl_div_each(p, y, sum, dall, no, l);
        }
    }
    if (sum) mem_free_wipe(sum, (no ? no : 1) * 8);
    mem_free(dv);
    mem_free(dall);
    return rc;
}
