/* ReLU, faithful truncation (sign unknown, and fused with ReLU where the
 * sign is known), truncate-and-reduce and zero/sign extension
 * (docs/PROTOCOLS.md §5.2 to §5.5). Costs are in nl.h.
 *
 * Truncation: with m_P = msb(x_P), s_P = signed(x_P),
 *   floor(signed(x) / 2^s) = (s_S >> s) + (s_C >> s) + c + corr * 2^(l-s)
 * where c is the carry of the low s bits of the shares and corr in
 * {-1, 0, 1} is -1 if m_S = m_C = 0 and MSB(x) = 1, +1 if m_S = m_C = 1 and
 * MSB(x) = 0. The MSB (carry of the low l-1 bits) and c come from one
 * millionaire call (one split batch, mill.h, where that adds no round).
 * Unknown sign: c becomes arithmetic by B2A (C sends)
 * and corr (mod 2^s: it is scaled by 2^(l-s)) comes from one (4 choose 1)-OT_s
 * indexed by C's (MSB share, m_C) (S sends), in one exchange. Fused with
 * ReLU: d = DReLU = !MSB leaves corr = m_S m_C, and
 * y = d (t_S + t_C + c + m_S m_C 2^(l-s)) comes from the MUX and four COTs
 * from S in its exchange (nl_relu_trunc_lane); where the backend has random
 * OTs, y is made mod 2^(l-s) only, where the last term vanishes, and
 * extended with its MSB known to be 0 (relu_trunc_narrow). */
#include "nl/nl.h"

#include "nl/lane.h"

#include "mpc/arith.h"
#include "mpc/mill.h"
#include "util/bits.h"
#include "util/mem.h"

#include <string.h>

#define GRAIN 128 /* lane slices of whole OT blocks: no padding per lane */

/* floor(signed(x) / 2^s) mod 2^l, for s <= l. */
static inline uint64_t ashr(uint64_t x, unsigned l, unsigned s) {
    int64_t v = bits_signed(x, l);
    int64_t r = s >= 64 ? (v < 0 ? -1 : 0) : v >> s;
    return (uint64_t)r & bits_mask(l);
}


static int check_l(unsigned l) {
    if (l < 1 || l > 64) return err_set(PARLEY_E_ARG, "ring width %u is not in 1..64", l);
    return 0;
}

/* A lane's scratch: allocations freed (and wiped) together. */
typedef struct scratch {
    void *p[16];
    size_t sz[16];
    unsigned n;
} scratch;

static void *scr_alloc(scratch *s, size_t count, size_t size) {
    PARLEY_CHECK(s->n < 16);
    size_t bytes;
    if (size_mul(&bytes, count ? count : 1, size) < 0) return NULL;
    void *p = mem_alloc(bytes, 1);
    if (!p) return NULL;
    s->p[s->n] = p;
    s->sz[s->n++] = bytes;
    return p;
}

static void scr_free(scratch *s) {
    for (unsigned i = 0; i < s->n; i++) mem_free_wipe(s->p[i], s->sz[i]);
    s->n = 0;
}

static int oom(const char *what) { return err_set(PARLEY_E_NOMEM, "out of memory for %s", what); }

/* ---- ReLU ---- */

int nl_relu_lane(mpc_lane *L, uint64_t *y, const uint64_t *x, size_t n, unsigned l) {
    return nl_relu_flip_lane(L, y, x, x, l, NULL, n, l);
}

/* The side holding flip XORs it into its share of DReLU(x): the MUX then
 * selects x where [x >= 0] xor flip, which is x > 0 (flip 0) or x < 0
 * (flip 1), up to x = 0, where both give 0 (nl.h). */
int nl_relu_flip_lane(mpc_lane *L, uint64_t *y, const uint64_t *x, const uint64_t *xd,
                      unsigned wd, const uint8_t *flip, size_t n, unsigned l) {
    uint8_t *b = mem_alloc(n ? n : 1, 1);
    if (!b) return oom("ReLU");
    int rc = mpc_drelu(L, b, xd, n, wd);
    if (rc == 0 && flip)
        for (size_t i = 0; i < n; i++) b[i] ^= flip[i] & 1;
    if (rc == 0) rc = mpc_mux(L, &y, b, &x, &l, 1, n);
    mem_free_wipe(b, n ? n : 1);
    return rc;
}

/* ---- the MSB and carry millionaire shared by the truncations ---- */

unsigned nl_carry_split(int backend, unsigned l, unsigned s, unsigned m) {
    if (l < 2 || s == 0 || s >= l - 1 || !mill_split_ok(backend, l - 1, m, s)) return 0;
    if (mill_levels(backend, l - 1, m, s) > mill_levels(backend, l - 1, m, 0)) return 0;
    mill_cost one, a, b;
    mill_cost_split(&one, backend, l - 1, m, s);
    mill_cost_of(&a, backend, l - 1, m, 1, 0);
    mill_cost_of(&b, backend, s, m, 1, 0);
    double g = otb_gen_bits_per_cot(backend);
    return one.bits + one.cots * g <= a.bits + a.cots * g + b.bits + b.cots * g ? s : 0;
}

int nl_carry_b2a(int backend, unsigned l, unsigned s, unsigned m, unsigned k) {
    unsigned split = nl_carry_split(backend, l, s, m);
    return split && mill_lo_b2a_ok(backend, l - 1, m, split, k);
}

/* msb = MSB(x), c = carry of the low s bits, in one millionaire: the carry
 * is the comparison of the low s bits of the MSB's inputs (the input of C,
 * 2^(l-1) - 1 - x_C, has 2^s - 1 - x_C mod 2^s there), so one split batch
 * gives both where that costs no round (nl_carry_split), else two batches.
 * With ca (only where nl_carry_b2a(.., k)), ca also receives the carry as
 * additive shares mod 2^k. */
static int msb_and_carry_b2a(mpc_lane *L, scratch *sc, uint8_t *msb, uint8_t *c, uint64_t *ca,
                             unsigned k, const uint64_t *x, size_t n, unsigned l, unsigned s) {
    uint64_t *v0 = scr_alloc(sc, n, 8), *v1 = scr_alloc(sc, n, 8);
    if (!v0 || !v1) return oom("truncation");
    unsigned split = nl_carry_split(L->ot.be->id, l, s, mpc_m(L));
    PARLEY_CHECK(!ca || split);
    mpc_wrap_input(v0, x, n, l - 1, L->role);
    mpc_wrap_input(v1, x, n, s, L->role);
    mill_inst in[2] = {{.n = n, .k = l - 1, .v = v0, .gt = msb, .split = split, .lo = c,
                        .lo_k = ca ? k : 0, .lo_a = ca},
                       {.n = n, .k = s, .v = v1, .gt = c}};
    TRY(mpc_mill(L, in, split ? 1 : 2, mpc_m(L)));
    for (size_t i = 0; i < n; i++) msb[i] ^= (uint8_t)nl_top(x[i], l);
    return 0;
}

static int msb_and_carry(mpc_lane *L, scratch *sc, uint8_t *msb, uint8_t *c, const uint64_t *x,
                         size_t n, unsigned l, unsigned s) {
    return msb_and_carry_b2a(L, sc, msb, c, NULL, 0, x, n, l, s);
}

/* corr = nl_wrap_corr(m_S, m_C, MSB) as shares mod 2^w (see lane.h). */
void nl_corr_gen(void *vctx, uint64_t *out, size_t first, size_t mm) {
    const nl_corr_ctx *k = vctx;
    uint64_t mw = bits_mask(k->w);
    for (size_t i = 0; i < mm; i++) {
        size_t e = first + i;
        unsigned bs = k->b[e] & 1, ms = nl_top(k->x[e], k->l);
        for (unsigned ch = 0; ch < 4; ch++) {
            int64_t corr = nl_wrap_corr(ms, ch >> 1, bs ^ (ch & 1));
            out[i * 4 + ch] = ((uint64_t)corr - k->r[e]) & mw;
        }
    }
}

otb_job nl_corr_job(mpc_lane *L, nl_corr_ctx *k, uint8_t *ch, size_t n) {
    if (L->role == MPC_SERVER)
        prg_ring(&L->ot.rng, k->r, n, k->w); /* S's share of corr */
    else
        for (size_t i = 0; i < n; i++) ch[i] = (uint8_t)((k->b[i] & 1) | nl_top(k->x[i], k->l) << 1);
    otb_job j = {.kind = OTB_KK, .sender = MPC_SERVER, .n = n, .N = 4, .l = k->w,
                 .gen = nl_corr_gen, .gen_ctx = k, .choices = ch, .out = k->r};
    return j;
}

int nl_trunc_one_flight(int backend, unsigned l, unsigned s) {
    return s >= 1 && s <= l && mpc_cot1_ok(backend, l); /* widths l and s */
}

/* Unknown sign in one flight (docs/PROTOCOLS.md §5.3): with b = MSB(x)
 * shared, b_C = beta, m_C = mu (C's bits) and S's b_S, m_S,
 *   corr = m_S mu (1 - b) - (1 - m_S)(1 - mu) b,  b = b_S + beta (1 - 2 b_S),
 * is S's constant -(1 - m_S) b_S plus mu A + beta B + (mu beta) C with
 *   A = m_S (1 - b_S) + (1 - m_S) b_S, B = -(1 - m_S)(1 - 2 b_S),
 *   C = (1 - 2 b_S)(1 - 2 m_S):
 * three COTs of s bits from S, C choosing mu, beta, mu beta, beside the
 * carry's B2A (C sends -2 c_C, S chooses c_S), all in one mpc_cot1 flight. */
static int trunc_one_flight(mpc_lane *L, uint64_t *y, const uint64_t *x, size_t n, unsigned l,
                            unsigned s) {
    uint64_t mk = bits_mask(l), ms = bits_mask(s);
    int S = L->role == MPC_SERVER;
    scratch sc = {0};
    uint8_t *b = scr_alloc(&sc, n, 1), *c = scr_alloc(&sc, n, 1), *mb = scr_alloc(&sc, n, 1),
            *mu = scr_alloc(&sc, n, 1);
    uint64_t *u = scr_alloc(&sc, 4 * n, 8), *o = scr_alloc(&sc, 4 * n, 8);
    int rc = (!b || !c || !mb || !mu || !u || !o) ? oom("truncation") : 0;
    if (rc == 0) rc = msb_and_carry(L, &sc, b, c, x, n, l, s);
    if (rc == 0) {
        for (size_t i = 0; i < n; i++) {
            uint64_t bp = b[i] & 1, mp = nl_top(x[i], l), cp = c[i] & 1;
            b[i] = (uint8_t)bp;
            mu[i] = (uint8_t)mp;
            mb[i] = (uint8_t)(mp & bp);
            c[i] = (uint8_t)cp;
            if (S) {
                u[n + i] = mp * (1 - bp) + (1 - mp) * bp;         /* A */
                u[2 * n + i] = 0 - (1 - mp) * (1 - 2 * bp);       /* B */
                u[3 * n + i] = (1 - 2 * bp) * (1 - 2 * mp);       /* C */
            } else {
                u[i] = 0 - 2 * cp; /* the carry's B2A */
            }
        }
        cot1_job jobs[4] = {
            {.sender = MPC_CLIENT, .n = n, .w = l, .u = u, .b = c, .out = o},
            {.sender = MPC_SERVER, .n = n, .w = s, .u = u + n, .b = mu, .out = o + n},
            {.sender = MPC_SERVER, .n = n, .w = s, .u = u + 2 * n, .b = b, .out = o + 2 * n},
            {.sender = MPC_SERVER, .n = n, .w = s, .u = u + 3 * n, .b = mb, .out = o + 3 * n},
        };
        rc = mpc_cot1(L, jobs, 4);
    }
    if (rc == 0)
        for (size_t i = 0; i < n; i++) {
            uint64_t corr = o[n + i] + o[2 * n + i] + o[3 * n + i];
            if (S) corr -= (1 - (uint64_t)mu[i]) * b[i];
            uint64_t ca = c[i] + o[i]; /* c_P + share of -2 c_S c_C */
            y[i] = (ashr(x[i], l, s) + ca + ((corr & ms) << (l - s))) & mk;
        }
    scr_free(&sc);
    return rc;
}

/* Unknown sign: corr * 2^(l-s) needs corr mod 2^s only. */
int nl_trunc_lane(mpc_lane *L, uint64_t *y, const uint64_t *x, size_t n, unsigned l, unsigned s) {
    if (s > l) s = l;
    uint64_t mk = bits_mask(l);
    if (s == 0) {
        for (size_t i = 0; i < n; i++) y[i] = x[i] & mk;
        return 0;
    }
    if (nl_trunc_one_flight(L->ot.be->id, l, s)) return trunc_one_flight(L, y, x, n, l, s);
    scratch sc = {0};
    uint8_t *msb = scr_alloc(&sc, n, 1), *c = scr_alloc(&sc, n, 1), *ch = scr_alloc(&sc, n, 1);
    uint64_t *r = scr_alloc(&sc, n, 8), *ca = scr_alloc(&sc, n, 8);
    int rc = (!msb || !c || !ch || !r || !ca) ? oom("truncation") : 0;
    if (rc == 0) rc = msb_and_carry(L, &sc, msb, c, x, n, l, s);
    b2a_state bs;
    memset(&bs, 0, sizeof bs);
    if (rc == 0) {
        otb_job jobs[2];
        size_t nj = 0;
        nl_corr_ctx k = {msb, x, r, l, s};
        jobs[nj++] = nl_corr_job(L, &k, ch, n);
        rc = b2a_prep(L, &bs, c, n, l, MPC_CLIENT, jobs, &nj);
        if (rc == 0) rc = otb_run(L, jobs, nj);
        if (rc == 0) {
            b2a_finish(L, &bs, ca);
            for (size_t i = 0; i < n; i++)
                y[i] = (ashr(x[i], l, s) + ca[i] + ((r[i] & bits_mask(s)) << (l - s))) & mk;
        }
    }
    b2a_free(&bs);
    scr_free(&sc);
    return rc;
}

/* Known sign (docs/PROTOCOLS.md §5.4): with d = DReLU, t_P = s_P >> s and
 * g = m_S m_C (d = 1 leaves corr = g),
 *   y = d (t_S + t_C + c + g 2^(l-s)).
 * The MUX takes v_P = t_P + c_P, which leaves, as c = c_S + c_C - 2 c_S c_C,
 *   y - MUX(d, v) = 2^(l-s) d m_S m_C - 2 d c_S c_C,
 * and with d = d_S + d_C - 2 d_S d_C each product is linear in C's bits
 * c_C, c_C d_C, m_C, m_C d_C, with S's coefficients:
 *   d c_S c_C = (c_S d_S) c_C + c_S (1 - 2 d_S) (c_C d_C),
 *   d m_S m_C = (m_S d_S) m_C + m_S (1 - 2 d_S) (m_C d_C):
 * four COTs from S, C choosing with those bits, S's correlations the
 * coefficients (l bits for the carry's, s bits for g's), in the MUX's
 * exchange. */
int nl_relu_trunc_narrow(int backend, unsigned l, unsigned s) {
    return s >= 1 && s < l && mpc_cot1_ok(backend, l - s) && mpc_cot1_ok(backend, s);
}

/* The narrow form with the carry made additive inside the millionaire
 * (nl_carry_b2a; docs/PROTOCOLS.md §5.4): the split millionaire gives d's
 * XOR shares and c's shares mod 2^k, its B2A's COT riding in an AND round
 * after the carry's subtree, so v_P = t_P + c_P is this party's share of
 * floor(x / 2^s) mod 2^k and y = d v is the MUX alone: two COTs of k bits
 * in one flight instead of the MUX's and the carry's four, then the
 * extension. 3 (1 + k) + (1 + s) bits and 4 COTs, the same flights. */
static int relu_trunc_carry_b2a(mpc_lane *L, uint64_t *y, const uint64_t *x, size_t n, unsigned l,
                                unsigned s) {
    unsigned k = l - s;
    uint64_t mk = bits_mask(k);
    int S = L->role == MPC_SERVER;
    scratch sc = {0};
    uint8_t *d = scr_alloc(&sc, n, 1), *c = scr_alloc(&sc, n, 1);
    uint64_t *ca = scr_alloc(&sc, n, 8), *v = scr_alloc(&sc, n, 8), *u = scr_alloc(&sc, n, 8),
             *o = scr_alloc(&sc, 2 * n, 8);
    int rc = (!d || !c || !ca || !v || !u || !o) ? oom("ReLU with truncation") : 0;
    if (rc == 0) rc = msb_and_carry_b2a(L, &sc, d, c, ca, k, x, n, l, s);
    if (rc == 0) {
        for (size_t i = 0; i < n; i++) {
            uint64_t dp = (d[i] ^ (S ? 1 : 0)) & 1;
            d[i] = (uint8_t)dp; /* DReLU = !MSB: S flips its share */
            v[i] = (ashr(x[i], l, s) + ca[i]) & mk;
            u[i] = v[i] * (1 - 2 * dp); /* the MUX's correlation, this party's */
        }
        cot1_job mux[2] = {
            {.sender = MPC_SERVER, .n = n, .w = k, .u = u, .b = d, .out = o},
            {.sender = MPC_CLIENT, .n = n, .w = k, .u = u, .b = d, .out = o + n},
        };
        rc = mpc_cot1(L, mux, 2);
    }
    if (rc == 0) {
        for (size_t i = 0; i < n; i++) v[i] = (d[i] * v[i] + o[i] + o[n + i]) & mk;
        rc = nl_extend_msb0_lane(L, y, v, n, k, l);
    }
    scr_free(&sc);
    return rc;
}

/* Known sign, narrow (docs/PROTOCOLS.md §5.4): y = relu(floor(x / 2^s)) is
 * below 2^(k-1), k = l - s, so y mod 2^k determines it. Mod 2^k the
 * correction term g 2^(l-s) vanishes, leaving
 *   y = d (v_S + v_C) - 2 d c_S c_C,  v_P = t_P + c_P,
 * in four COTs of k bits in one flight (mpc_cot1): the MUX's two,
 *   d v_S = d_S v_S + d_C ((1 - 2 d_S) v_S)   (S sends, C chooses d_C),
 *   d v_C = d_C v_C + d_S ((1 - 2 d_C) v_C)   (C sends, S chooses d_S),
 * and the carry's two as in nl_relu_trunc_lane. With y'_P the shares mod
 * 2^k and m_P their top bits, y'_S + y'_C = y + 2^k w where, as y < 2^(k-1),
 * w = m_S | m_C = m_S + m_C - m_S m_C: one COT of s bits (S sends m_S, C
 * chooses m_C) in a second flight gives w mod 2^s, all that 2^k w mod 2^l
 * needs (nl_extend_msb0_lane). 4 (1 + k) + (1 + s) bits and 5 COTs against
 * the wide form's 4 (1 + l) + 2 (1 + s) and 6, in as many flights. */
static int relu_trunc_narrow(mpc_lane *L, uint64_t *y, const uint64_t *x, size_t n, unsigned l,
                             unsigned s) {
    unsigned k = l - s;
    uint64_t mk = bits_mask(k);
    int S = L->role == MPC_SERVER;
    if (nl_carry_b2a(L->ot.be->id, l, s, mpc_m(L), k)) return relu_trunc_carry_b2a(L, y, x, n, l, s);
    scratch sc = {0};
    uint8_t *d = scr_alloc(&sc, n, 1), *c = scr_alloc(&sc, n, 1), *cd = scr_alloc(&sc, n, 1);
    /* u: this party's correlations, the MUX's, and S's two of the carry */
    uint64_t *v = scr_alloc(&sc, n, 8), *u = scr_alloc(&sc, S ? 3 * n : n, 8),
             *o = scr_alloc(&sc, 4 * n, 8);
    int rc = (!d || !c || !cd || !v || !u || !o) ? oom("ReLU with truncation") : 0;
    if (rc == 0) rc = msb_and_carry(L, &sc, d, c, x, n, l, s);
    if (rc == 0) {
        for (size_t i = 0; i < n; i++) {
            uint64_t dp = (d[i] ^ (S ? 1 : 0)) & 1, cp = c[i] & 1;
            uint64_t sg = 1 - 2 * dp; /* 1 - 2 d_P */
            d[i] = (uint8_t)dp;       /* DReLU = !MSB: S flips its share */
            cd[i] = (uint8_t)(cp & dp);
            v[i] = (ashr(x[i], l, s) + cp) & mk;
            u[i] = v[i] * sg; /* the MUX's correlation, this party's */
            if (S) {
                u[n + i] = 0 - 2 * (cp & dp);
                u[2 * n + i] = 0 - 2 * cp * sg;
            }
        }
        cot1_job mux[4] = {
            {.sender = MPC_SERVER, .n = n, .w = k, .u = u, .b = d, .out = o},
            {.sender = MPC_CLIENT, .n = n, .w = k, .u = u, .b = d, .out = o + n},
            {.sender = MPC_SERVER, .n = n, .w = k, .u = S ? u + n : NULL, .b = c, .out = o + 2 * n},
            {.sender = MPC_SERVER, .n = n, .w = k, .u = S ? u + 2 * n : NULL, .b = cd,
             .out = o + 3 * n},
        };
        rc = mpc_cot1(L, mux, 4);
    }
    if (rc == 0) {
        for (size_t i = 0; i < n; i++)
            v[i] = (d[i] * v[i] + o[i] + o[n + i] + o[2 * n + i] + o[3 * n + i]) & mk;
        rc = nl_extend_msb0_lane(L, y, v, n, k, l);
    }
    scr_free(&sc);
    return rc;
}

int nl_extend_msb0_lane(mpc_lane *L, uint64_t *y, const uint64_t *v, size_t n, unsigned k,
                        unsigned l) {
    if (k >= l) {
        for (size_t i = 0; i < n; i++) y[i] = v[i] & bits_mask(l);
        return 0;
    }
    unsigned w = l - k;
    uint64_t mw = bits_mask(w), mk = bits_mask(k);
    scratch sc = {0};
    uint8_t *m = scr_alloc(&sc, n, 1);
    uint64_t *u = scr_alloc(&sc, n, 8), *o = scr_alloc(&sc, n, 8), *vk = scr_alloc(&sc, n, 8);
    int rc = (!m || !u || !o || !vk) ? oom("an extension") : 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        vk[i] = v[i] & mk;
        m[i] = (uint8_t)(vk[i] >> (k - 1)); /* this party's top bit */
        u[i] = m[i];
    }
    cot1_job ext = {.sender = MPC_SERVER, .n = n, .w = w, .u = u, .b = m, .out = o};
    if (rc == 0) rc = mpc_cot1(L, &ext, 1);
    if (rc == 0)
        for (size_t i = 0; i < n; i++) {
            uint64_t wr = (m[i] - o[i]) & mw; /* this party's share of m_S + m_C - m_S m_C */
            y[i] = (vk[i] - (wr << k)) & bits_mask(l);
        }
    scr_free(&sc);
    return rc;
}

enum { RT_OTS = 2 }; /* COTs per element in each of the two jobs */

int nl_relu_trunc_lane(mpc_lane *L, uint64_t *y, const uint64_t *x, size_t n, unsigned l,
                       unsigned s) {
    if (s > l) s = l;
    if (s == 0) return nl_relu_lane(L, y, x, n, l);
    if (nl_relu_trunc_narrow(L->ot.be->id, l, s)) return relu_trunc_narrow(L, y, x, n, l, s);
    uint64_t mk = bits_mask(l), msk = bits_mask(s);
    int S = L->role == MPC_SERVER;
    size_t n2 = RT_OTS * n;
    scratch sc = {0};
    uint8_t *d = scr_alloc(&sc, n, 1), *c = scr_alloc(&sc, n, 1);
    uint8_t *cha = scr_alloc(&sc, n2, 1), *chb = scr_alloc(&sc, n2, 1);
    uint64_t *t = scr_alloc(&sc, n, 8), *xa = scr_alloc(&sc, n2, 8), *xb = scr_alloc(&sc, n2, 8);
    uint64_t *da = scr_alloc(&sc, n2, 8), *db = scr_alloc(&sc, n2, 8);
    int rc = (!d || !c || !cha || !chb || !t || !xa || !xb || !da || !db)
                 ? oom("ReLU with truncation")
                 : 0;
    if (rc == 0) rc = msb_and_carry(L, &sc, d, c, x, n, l, s);
    mux_state ms;
    memset(&ms, 0, sizeof ms);
    if (rc == 0) {
        for (size_t i = 0; i < n; i++) {
            unsigned dp = (d[i] ^ (S ? 1 : 0)) & 1, cp = c[i] & 1, mp = nl_top(x[i], l);
            d[i] = (uint8_t)dp; /* DReLU = !MSB: S flips its share */
            t[i] = (ashr(x[i], l, s) + cp) & mk;
            if (S) {
                uint64_t sg = 1 - 2 * (uint64_t)dp; /* 1 - 2 d_S */
                da[2 * i] = (0 - 2 * (uint64_t)(cp & dp)) & mk;
                da[2 * i + 1] = (0 - 2 * (uint64_t)cp * sg) & mk;
                db[2 * i] = (uint64_t)(mp & dp);
                db[2 * i + 1] = ((uint64_t)mp * sg) & msk;
            } else {
                cha[2 * i] = (uint8_t)cp;
                cha[2 * i + 1] = (uint8_t)(cp & dp);
                chb[2 * i] = (uint8_t)mp;
                chb[2 * i + 1] = (uint8_t)(mp & dp);
            }
        }
        otb_job jobs[4];
        size_t nj = 0;
        const uint64_t *tx = t;
        unsigned wl = l, ws = s;
        rc = mux_prep(L, &ms, d, &tx, &l, 1, n, jobs, &nj);
        otb_job ja = {.kind = OTB_COT, .sender = MPC_SERVER, .n = n2, .ls = &wl, .M = 1, .x = xa,
                      .delta = da, .choices = cha, .out = xa};
        otb_job jb = {.kind = OTB_COT, .sender = MPC_SERVER, .n = n2, .ls = &ws, .M = 1, .x = xb,
                      .delta = db, .choices = chb, .out = xb};
        jobs[nj++] = ja;
        jobs[nj++] = jb;
        if (rc == 0) rc = otb_run(L, jobs, nj);
        if (rc == 0) {
            /* S holds -x of each COT, C x + choice * correlation. */
            for (size_t i = 0; i < n; i++) {
                uint64_t a = xa[2 * i] + xa[2 * i + 1], b = xb[2 * i] + xb[2 * i + 1];
                if (S) {
                    a = 0 - a;
                    b = 0 - b;
                }
                y[i] = a + ((b & msk) << (l - s));
            }
            mux_finish(L, &ms, &y, 1);
            for (size_t i = 0; i < n; i++) y[i] &= mk;
        }
    }
    mux_free(&ms);
    scr_free(&sc);
    return rc;
}

/* y = top l - s bits of x = (x_S >> s) + (x_C >> s) + carry, mod 2^(l-s). */
int nl_trunc_reduce_lane(mpc_lane *L, uint64_t *y, const uint64_t *x, size_t n, unsigned l,
                         unsigned s) {
    uint64_t mo = bits_mask(l - s);
    if (s == 0) {
        for (size_t i = 0; i < n; i++) y[i] = x[i] & mo;
        return 0;
    }
    scratch sc = {0};
    uint8_t *c = scr_alloc(&sc, n, 1);
    uint64_t *v = scr_alloc(&sc, n, 8), *ca = scr_alloc(&sc, n, 8);
    int rc = (!c || !v || !ca) ? oom("truncate-and-reduce") : 0;
    if (rc == 0) {
        mpc_wrap_input(v, x, n, s, L->role);
        rc = mpc_mill_gt(L, c, NULL, v, n, s, mpc_m(L));
    }
    if (rc == 0) rc = mpc_b2a(L, ca, c, n, l - s);
    if (rc == 0)
        for (size_t i = 0; i < n; i++) y[i] = (((x[i] & bits_mask(l)) >> s) + ca[i]) & mo;
    scr_free(&sc);
    return rc;
}

/* Signed: shift into [0, 2^l) by adding 2^(l-1) (S), extend, shift back.
 * x_S + x_C = x + 2^l w, so y = x_S + x_C - 2^l B2A(w) mod 2^l2; only
 * w mod 2^(l2-l) matters, and for l2 = l + 1 the XOR shares already are
 * additive shares mod 2. */
int nl_extend_lane(mpc_lane *L, uint64_t *y, unsigned l2, const uint64_t *x, size_t n, unsigned l,
                   int is_signed) {
    uint64_t mk = bits_mask(l), m2 = bits_mask(l2);
    if (l2 <= l) {
        for (size_t i = 0; i < n; i++) y[i] = x[i] & m2;
        return 0;
    }
    uint64_t off = (is_signed && L->role == MPC_SERVER) ? 1ULL << (l - 1) : 0;
    scratch sc = {0};
    uint8_t *w = scr_alloc(&sc, n, 1);
    uint64_t *xs = scr_alloc(&sc, n, 8), *wa = scr_alloc(&sc, n, 8);
    int rc = (!w || !xs || !wa) ? oom("extension") : 0;
    if (rc == 0) {
        for (size_t i = 0; i < n; i++) xs[i] = (x[i] + off) & mk;
        rc = mpc_wrap(L, w, xs, n, l);
    }
    if (rc == 0) rc = mpc_b2a(L, wa, w, n, l2 - l);
    if (rc == 0)
        for (size_t i = 0; i < n; i++) y[i] = (xs[i] - (wa[i] << l) - off) & m2;
    scr_free(&sc);
    return rc;
}

/* ---- layer level: split across lanes ---- */

typedef struct ew_args {
    uint64_t *y;
    uint8_t *b;
    const uint64_t *x;
    const uint8_t *flip; /* K_RELU: this side's private flips, or NULL */
    const uint64_t *xd;  /* K_RELU: the DReLU's input at width l2, or NULL (x at l) */
    unsigned l, s, l2;
    int sgn, kind;
} ew_args;

enum { K_RELU, K_DRELU, K_TRUNC, K_RELU_TRUNC, K_TR, K_EXT };

static int ew_job(mpc_lane *L, void *ctx, size_t first, size_t count) {
    const ew_args *a = ctx;
    uint64_t *y = a->y + first;
    const uint64_t *x = a->x + first;
    switch (a->kind) {
    case K_RELU:
        return nl_relu_flip_lane(L, y, x, a->xd ? a->xd + first : x, a->xd ? a->l2 : a->l,
                                 a->flip ? a->flip + first : NULL, count, a->l);
    case K_DRELU:
        return mpc_drelu(L, a->b + first, x, count, a->l);
    case K_TRUNC:
        return nl_trunc_lane(L, y, x, count, a->l, a->s);
    case K_RELU_TRUNC:
        return nl_relu_trunc_lane(L, y, x, count, a->l, a->s);
    case K_TR:
        return nl_trunc_reduce_lane(L, y, x, count, a->l, a->s);
    default:
        return nl_extend_lane(L, y, a->l2, x, count, a->l, a->sgn);
    }
}

static int ew_run(party *p, size_t n, ew_args *a) { return party_run(p, n, GRAIN, ew_job, a); }

int nl_relu(party *p, uint64_t *y, const uint64_t *x, size_t n, unsigned l) {
    TRY(check_l(l));
    ew_args a = {.y = y, .x = x, .l = l, .kind = K_RELU};
    return ew_run(p, n, &a);
}

int nl_relu_flip(party *p, uint64_t *y, const uint64_t *x, const uint64_t *xd, unsigned wd,
                 const uint8_t *flip, size_t n, unsigned l) {
    TRY(check_l(l));
    if (xd && (wd < 1 || wd > l))
        return err_set(PARLEY_E_ARG, "a DReLU width of %u bits under a ring of %u", wd, l);
    ew_args a = {.y = y, .x = x, .flip = flip, .xd = xd, .l = l, .l2 = wd, .kind = K_RELU};
    return ew_run(p, n, &a);
}

int nl_drelu(party *p, uint8_t *b, const uint64_t *x, size_t n, unsigned l) {
    TRY(check_l(l));
    ew_args a = {.b = b, .x = x, .l = l, .kind = K_DRELU};
    return ew_run(p, n, &a);
}

int nl_trunc(party *p, uint64_t *y, const uint64_t *x, size_t n, unsigned l, unsigned s) {
    TRY(check_l(l));
    ew_args a = {.y = y, .x = x, .l = l, .s = s, .kind = K_TRUNC};
    return ew_run(p, n, &a);
}

int nl_relu_trunc(party *p, uint64_t *y, const uint64_t *x, size_t n, unsigned l, unsigned s) {
    TRY(check_l(l));
    ew_args a = {.y = y, .x = x, .l = l, .s = s, .kind = K_RELU_TRUNC};
    return ew_run(p, n, &a);
}

int nl_trunc_reduce(party *p, uint64_t *y, const uint64_t *x, size_t n, unsigned l, unsigned s) {
    TRY(check_l(l));
    if (s >= l)
        return err_set(PARLEY_E_ARG, "truncate-and-reduce by %u bits needs more than %u bits", s, l);
    ew_args a = {.y = y, .x = x, .l = l, .s = s, .kind = K_TR};
    return ew_run(p, n, &a);
}

int nl_extend(party *p, uint64_t *y, unsigned l2, const uint64_t *x, size_t n, unsigned l,
              int is_signed) {
    TRY(check_l(l));
    TRY(check_l(l2));
    ew_args a = {.y = y, .x = x, .l = l, .l2 = l2, .sgn = is_signed, .kind = K_EXT};
    return ew_run(p, n, &a);
}
