/* mpc: bit triples, AND, the millionaire (with equality, and equality
 * alone), wrap, MSB, DReLU, MSB-to-wrap, B2A and MUX against their
 * plaintext definitions: exhaustive for small widths (every value and every
 * share split), random and edge values for wide ones, the sizes of the
 * issue, and exact wire bytes where the formula is exact. */
#include "harness.h"
#include "twoparty.h"

#include "mpc/arith.h"
#include "mpc/bool.h"
#include "mpc/mill.h"
#include "mpc/otb.h"
#include "ot/lane.h"
#include "util/bits.h"
#include "util/mem.h"

#include <string.h>

static const size_t sizes[] = {0, 1, 7, 8, 9, 1000};
#define NSIZES (sizeof sizes / sizeof *sizes)
static const unsigned wide[] = {2, 16, 31, 32, 37, 41, 63, 64};
#define NWIDE (sizeof wide / sizeof *wide)

/* A two-party call: fn runs on lane 0 of each party with its role. */
typedef struct call {
    int (*fn)(mpc_lane *L, struct call *c);
    void *u;
} call;

static int call_party(party *p, void *arg) {
    call *c = arg;
    return c->fn(&p->lanes[0], c);
}

static int run_call(int (*fn)(mpc_lane *, call *), void *u) {
    call c = {fn, u};
    return run2_party(call_party, &c, 1);
}

/* Bytes both ways, without the silent backend's batches (run2_party checks
 * those against ferret_batch_bytes). */
static uint64_t bytes_both(void) {
    return run2_party_stats[0].bytes_sent + run2_party_stats[1].bytes_sent - run2_party_gen_bytes();
}

/* Exact bytes of OT jobs on the run's backend. */
static uint64_t kk_bytes(size_t n, unsigned N, unsigned l) {
    otb_job j = {.kind = OTB_KK, .n = n, .N = N, .l = l};
    return otb_job_bytes(test_backend(), &j);
}
static uint64_t cot_bytes(size_t n, const unsigned *ls, size_t M) {
    otb_job j = {.kind = OTB_COT, .n = n, .ls = ls, .M = M};
    return otb_job_bytes(test_backend(), &j);
}

/* Split x (mod 2^l) into s[0] + s[1]. */
static void share(prg *g, uint64_t *s0, uint64_t *s1, const uint64_t *x, size_t n, unsigned l) {
    prg_ring(g, s0, n, l);
    for (size_t i = 0; i < n; i++) s1[i] = (x[i] - s0[i]) & bits_mask(l);
}

/* Edge values of width l first, then random ones. */
static void fill_edges(prg *g, uint64_t *x, size_t n, unsigned l) {
    uint64_t h = l ? 1ULL << (l - 1) : 0, m = bits_mask(l);
    uint64_t e[] = {0, 1, m, h, h - 1, h + 1, m - 1, 2};
    prg_ring(g, x, n, l);
    for (size_t i = 0; i < n && i < 8; i++) x[i] = e[i] & m;
}

/* ---- triples and AND ---- */

typedef struct tri_t {
    size_t n;
    uint8_t *v[2][5]; /* a, b, c, d, e per role */
    int corr;
} tri_t;

static int tri_fn(mpc_lane *L, call *c) {
    tri_t *t = c->u;
    uint8_t **v = t->v[L->role];
    return t->corr ? mpc_triples_corr(L, v[0], v[1], v[2], v[3], v[4], t->n)
                   : mpc_triples(L, v[0], v[1], v[2], t->n);
}

TEST(bit_triples) {
    for (int corr = 0; corr < 2; corr++)
        for (size_t s = 0; s < NSIZES; s++) {
            tri_t t = {.n = sizes[s], .corr = corr};
            for (int r = 0; r < 2; r++)
                for (int k = 0; k < 5; k++) t.v[r][k] = mem_calloc(t.n + 1, 1);
            REQUIRE_OK(run_call(tri_fn, &t));
            unsigned ones[5] = {0};
            for (size_t i = 0; i < t.n; i++) {
                unsigned x[5];
                for (int k = 0; k < 5; k++) {
                    x[k] = t.v[0][k][i] ^ t.v[1][k][i];
                    CHECK(t.v[0][k][i] <= 1 && t.v[1][k][i] <= 1);
                    ones[k] += x[k];
                }
                CHECK_EQ(x[2], x[0] & x[1]);
                if (corr) CHECK_EQ(x[4], x[0] & x[3]);
            }
            if (t.n == 1000) CHECK(ones[0] > 400 && ones[0] < 600 && ones[1] > 400);
            /* One (16 choose 1)-OT_2 per two triples, one (8 choose 1)-OT_2 per pair. */
            size_t ots = corr ? t.n : (t.n + 1) / 2;
            /* Silent: random OTs on the COTs' own choice bits, nothing on
             * the wire but the COTs' making. */
            if (test_backend() == OT_BACKEND_IKNP)
                CHECK_EQ(bytes_both(), ots ? 32 * ote_padded(ots) + bits_bytes(ots * (corr ? 16 : 32)) : 0);
            else
                CHECK_EQ(bytes_both(), 0);
            for (int r = 0; r < 2; r++)
                for (int k = 0; k < 5; k++) mem_free(t.v[r][k]);
        }
}

typedef struct and_t {
    size_t n;
    uint8_t *x[2], *y[2], *z[2];
} and_t;

static int and_fn(mpc_lane *L, call *c) {
    and_t *t = c->u;
    int r = L->role;
    return mpc_and(L, t->z[r], t->x[r], t->y[r], t->n);
}

TEST(and_gates) {
    prg g;
    harness_prg(&g, 1);
    for (size_t s = 0; s < NSIZES; s++) {
        and_t t = {.n = sizes[s]};
        for (int r = 0; r < 2; r++) {
            t.x[r] = mem_alloc(t.n + 1, 1);
            t.y[r] = mem_alloc(t.n + 1, 1);
            t.z[r] = mem_alloc(t.n + 1, 1);
            prg_bits(&g, t.x[r], t.n);
            prg_bits(&g, t.y[r], t.n);
        }
        REQUIRE_OK(run_call(and_fn, &t));
        for (size_t i = 0; i < t.n; i++)
            CHECK_EQ(t.z[0][i] ^ t.z[1][i], (t.x[0][i] ^ t.x[1][i]) & (t.y[0][i] ^ t.y[1][i]));
        size_t ots = (t.n + 1) / 2;
        uint64_t tri = test_backend() == OT_BACKEND_IKNP ? kk_bytes(ots, 16, 2) : 0;
        CHECK_EQ(bytes_both(), tri + (t.n ? 2 * bits_bytes(2 * t.n) : 0));
        ot_costing oc = {.backend = test_backend()};
        CHECK_EQ(mpc_and_bytes(&oc, t.n), bytes_both());
        for (int r = 0; r < 2; r++) {
            mem_free(t.x[r]);
            mem_free(t.y[r]);
            mem_free(t.z[r]);
        }
    }
    prg_clear(&g);
}

/* ---- millionaire ---- */

typedef struct mill_t {
    size_t n;
    unsigned k, m;
    unsigned split;              /* the fourth batch's (0 < split < k), 0: none */
    unsigned lo_k;               /* and its low part's B2A into lo_k bits (mill_lo_b2a_ok), 0: none */
    int leaf_sender;             /* mpc_lane.leaf_sender for the run */
    uint64_t *lo_a[2];
    uint64_t *v[2];              /* S: x, C: y */
    uint8_t *gt[2][4], *eq[2][4]; /* batches: gt, gt+eq, eq, gt split (eq[.][3]: its lo) */
} mill_t;

/* A split for k bits that falls inside and off the digit boundaries as k
 * and m vary (mill.h: 0 < split < k). */
static unsigned split_for(unsigned k) { return k >= 2 ? k * 2 / 5 + 1 : 0; }

static int mill_fn(mpc_lane *L, call *c) {
    mill_t *t = c->u;
    int r = L->role;
    L->leaf_sender = t->leaf_sender;
    mill_inst in[4] = {{.n = t->n, .k = t->k, .v = t->v[r], .gt = t->gt[r][0]},
                       {.n = t->n, .k = t->k, .v = t->v[r], .gt = t->gt[r][1], .eq = t->eq[r][1]},
                       {.n = t->n, .k = t->k, .v = t->v[r], .eq = t->eq[r][2]},
                       {.n = t->n, .k = t->k, .v = t->v[r], .gt = t->gt[r][3], .split = t->split,
                        .lo = t->eq[r][3], .lo_k = t->lo_k, .lo_a = t->lo_k ? t->lo_a[r] : NULL}};
    return mpc_mill(L, in, t->split ? 4 : 3, t->m);
}

static void mill_check(mill_t *t) {
    uint64_t mk = bits_mask(t->k);
    for (size_t i = 0; i < t->n; i++) {
        uint64_t x = t->v[0][i] & mk, y = t->v[1][i] & mk;
        unsigned gt = x > y, eq = x == y;
        CHECK_MSG((t->gt[0][0][i] ^ t->gt[1][0][i]) == gt, "k=%u m=%u x=%llx y=%llx gt", t->k, t->m,
                  (unsigned long long)x, (unsigned long long)y);
        CHECK_EQ(t->gt[0][1][i] ^ t->gt[1][1][i], gt);
        CHECK_MSG((t->eq[0][1][i] ^ t->eq[1][1][i]) == eq, "k=%u m=%u x=%llx y=%llx eq", t->k, t->m,
                  (unsigned long long)x, (unsigned long long)y);
        CHECK_EQ(t->eq[0][2][i] ^ t->eq[1][2][i], eq);
        if (t->split) {
            uint64_t ms = bits_mask(t->split);
            CHECK_EQ(t->gt[0][3][i] ^ t->gt[1][3][i], gt);
            CHECK_MSG((t->eq[0][3][i] ^ t->eq[1][3][i]) == ((x & ms) > (y & ms)),
                      "k=%u m=%u split=%u x=%llx y=%llx low gt", t->k, t->m, t->split,
                      (unsigned long long)x, (unsigned long long)y);
            if (t->lo_k) /* the same bit as shares mod 2^lo_k */
                CHECK_MSG(((t->lo_a[0][i] + t->lo_a[1][i]) & bits_mask(t->lo_k)) ==
                              (uint64_t)((x & ms) > (y & ms)),
                          "k=%u m=%u split=%u lo_k=%u x=%llx y=%llx low gt's B2A", t->k, t->m,
                          t->split, t->lo_k, (unsigned long long)x, (unsigned long long)y);
        }
        if (harness_failed()) return;
    }
}

/* mill_bytes of mill_fn's batches without a run. */
static uint64_t mill_bytes_of_shape(const mill_t *t) {
    mill_shape b[4] = {{t->n, t->k, 1, 0, 0, 0}, {t->n, t->k, 1, 1, 0, 0}, {t->n, t->k, 0, 1, 0, 0},
                       {t->n, t->k, 1, 0, t->split, t->lo_k}};
    ot_costing oc = {.backend = test_backend(), .leaf_sender = t->leaf_sender};
    return mill_bytes(&oc, b, t->split ? 4 : 3, t->m);
}

/* mill_bytes of mill_fn's three batches; on the silent backend the COTs
 * they consume must be what both parties' instances handed out. */
static uint64_t mill_bytes_of(const mill_t *t) {
    mill_shape b[4] = {{t->n, t->k, 1, 0, 0, 0}, {t->n, t->k, 1, 1, 0, 0}, {t->n, t->k, 0, 1, 0, 0},
                       {t->n, t->k, 1, 0, t->split, t->lo_k}};
    uint64_t cots = 0;
    ot_costing oc = {.backend = test_backend(), .cots = &cots, .leaf_sender = t->leaf_sender};
    uint64_t bytes = mill_bytes(&oc, b, t->split ? 4 : 3, t->m);
    CHECK_EQ(run2_party_sil[0].cots, cots);
    CHECK_EQ(run2_party_sil[1].cots, cots);
    return bytes;
}

/* The B2A width tried with a split of k bits: varied with k, 1 to 63. */
static unsigned lo_k_for(unsigned k) { return k % 3 == 0 ? 63 : k % 3 == 1 ? k + 2 : 1; }

static void mill_alloc(mill_t *t) {
    unsigned sp = split_for(t->k), lk = lo_k_for(t->k);
    t->split = mill_split_ok(test_backend(), t->k, t->m, sp) ? sp : 0;
    t->lo_k = t->split && mill_lo_b2a_ok(test_backend(), t->k, t->m, sp, lk) ? lk : 0;
    for (int r = 0; r < 2; r++) {
        t->lo_a[r] = mem_alloc(t->n + 1, 8);
        t->v[r] = mem_alloc(t->n + 1, 8);
        for (int b = 0; b < 4; b++) {
            t->gt[r][b] = mem_alloc(t->n + 1, 1);
            t->eq[r][b] = mem_alloc(t->n + 1, 1);
        }
    }
}

static void mill_free(mill_t *t) {
    for (int r = 0; r < 2; r++) {
        mem_free(t->lo_a[r]);
        mem_free(t->v[r]);
        for (int b = 0; b < 4; b++) {
            mem_free(t->gt[r][b]);
            mem_free(t->eq[r][b]);
        }
    }
}

/* Every pair (x, y) of k-bit values, k = 0..8, with digit size m; the
 * leaf OTs sent by `sender` (mpc_lane.leaf_sender). */
static void mill_exhaustive_by(unsigned m, int sender) {
    for (unsigned k = 0; k <= 8; k++) {
        mill_t t = {.n = (size_t)1 << (2 * k), .k = k, .m = m, .leaf_sender = sender};
        mill_alloc(&t);
        for (size_t i = 0; i < t.n; i++) {
            t.v[0][i] = i >> k;
            t.v[1][i] = i & bits_mask(k);
        }
        REQUIRE_OK(run_call(mill_fn, &t));
        mill_check(&t);
        CHECK_EQ(bytes_both(), mill_bytes_of(&t));
        mill_free(&t);
        if (harness_failed()) return;
    }
}

static void mill_exhaustive(unsigned m) { mill_exhaustive_by(m, MPC_SERVER); }

TEST(mill_exhaustive_auto) { mill_exhaustive(0); }
/* C sending the leaves (on backends with random OTs; S elsewhere): the
 * complemented digits give the same outputs, and the same bytes as S
 * sending them. */
TEST(mill_exhaustive_client_leaves) {
    mill_exhaustive_by(0, MPC_CLIENT);
    mill_exhaustive_by(3, MPC_CLIENT);
    mill_t a = {.n = 1000, .k = 31, .m = 0, .leaf_sender = MPC_SERVER}, b = a;
    b.leaf_sender = MPC_CLIENT;
    CHECK_EQ(mill_bytes_of_shape(&a), mill_bytes_of_shape(&b));
}
TEST(mill_exhaustive_m1) { mill_exhaustive(1); }
TEST(mill_exhaustive_m2) { mill_exhaustive(2); }
TEST(mill_exhaustive_m3) { mill_exhaustive(3); }
TEST(mill_exhaustive_m4) { mill_exhaustive(4); }

TEST(mill_wide_random_and_edges) {
    prg g;
    harness_prg(&g, 2);
    static const unsigned ms[] = {0, 4, 3, 8};
    for (unsigned it = 0; it < harness_iters(1); it++) /* PARLEY_TEST_ITERS */
    for (size_t w = 0; w < NWIDE; w++)
        for (size_t s = 0; s < NSIZES; s++) {
            mill_t t = {.n = sizes[s] + 64, .k = wide[w], .m = ms[(w + s) % 4]};
            mill_alloc(&t);
            fill_edges(&g, t.v[0], t.n, t.k);
            fill_edges(&g, t.v[1], t.n, t.k);
            /* Every pair of edge values, then near-equal values. */
            for (size_t i = 0; i < 64 && i < t.n; i++) {
                uint64_t e[8];
                fill_edges(&g, e, 8, t.k);
                t.v[0][i] = e[i / 8];
                t.v[1][i] = e[i % 8];
            }
            for (size_t i = 64; i < t.n; i += 3) t.v[1][i] = t.v[0][i] ^ (1ULL << (i % t.k));
            for (size_t i = 65; i < t.n; i += 5) t.v[1][i] = t.v[0][i];
            /* Bits above k are ignored. */
            if (t.k < 64) t.v[0][t.n - 1] |= 1ULL << 63;
            REQUIRE_OK(run_call(mill_fn, &t));
            mill_check(&t);
            CHECK_EQ(bytes_both(), mill_bytes_of(&t));
            mill_free(&t);
            if (harness_failed()) return;
        }
    prg_clear(&g);
}

typedef struct millb_t {
    size_t n;
    unsigned k, m;
    uint64_t *v[2];
    uint8_t *gt[2];
} millb_t;

static int millb_fn(mpc_lane *L, call *c) {
    millb_t *t = c->u;
    return mpc_mill_gt(L, t->gt[L->role], NULL, t->v[L->role], t->n, t->k, t->m);
}

/* With n a multiple of 128 the wire cost is exactly the formula. */
TEST(mill_bytes_match_formula) {
    prg g;
    harness_prg(&g, 3);
    /* digits of 4, then the automatic ones (mill.h) */
    static const unsigned ks[] = {31, 36, 12, 63, 5, 36, 31, 37};
    for (int i = 0; i < 8; i++) {
        millb_t t = {.n = 1024, .k = ks[i], .m = i < 5 ? 4 : 0};
        for (int r = 0; r < 2; r++) {
            t.v[r] = mem_alloc(t.n, 8);
            t.gt[r] = mem_alloc(t.n, 1);
            prg_ring(&g, t.v[r], t.n, t.k);
        }
        REQUIRE_OK(run_call(millb_fn, &t));
        for (size_t j = 0; j < t.n; j++)
            CHECK_EQ(t.gt[0][j] ^ t.gt[1][j], t.v[0][j] > t.v[1][j]);
        mill_cost c;
        int be = test_backend();
        mill_cost_of(&c, be, t.k, t.m, 1, 0);
        CHECK_EQ(bytes_both() * 8, (uint64_t)(c.bits * (double)t.n));
        /* The OT exchange is 2 flights per party; 1 on the silent backend,
         * whose triples need no message (C sends the leaves' choice bits,
         * S the masked leaves), plus the flights of its refills. */
        uint64_t ex = be == OT_BACKEND_IKNP ? 2 : 1;
        CHECK_EQ(run2_party_stats[0].flights, ex + c.levels + run2_party_sil[0].extra_flights);
        CHECK_EQ(run2_party_stats[1].flights, ex + c.levels + run2_party_sil[1].extra_flights);
        int iknp = be == OT_BACKEND_IKNP;
        if (t.k == 31) CHECK_EQ((uint64_t)c.bits, iknp ? 3828 : 276); /* the same digits either way */
        if (t.k == 36) CHECK_EQ((uint64_t)c.bits, iknp ? 4280 : t.m ? 331 : 255); /* message 0 implied */
        if (t.k == 37 && !t.m) CHECK_EQ((uint64_t)c.bits, iknp ? 4798 : 264); /* 4818 : 340 at m = 4 */
        if (t.k == 31 && !iknp) CHECK_EQ((uint64_t)c.cots, 45);
        if (t.k == 36 && !iknp) CHECK_EQ((uint64_t)c.cots, t.m ? 52 : 58);
        if (!t.m) { /* no more rounds than digits of 4 */
            mill_cost c4;
            mill_cost_of(&c4, be, t.k, 4, 1, 0);
            CHECK(c.levels <= c4.levels);
            CHECK(c.bits + c.cots * otb_gen_bits_per_cot(be) <=
                  c4.bits + c4.cots * otb_gen_bits_per_cot(be));
        }
        for (int r = 0; r < 2; r++) {
            mem_free(t.v[r]);
            mem_free(t.gt[r]);
        }
    }
    prg_clear(&g);
}

/* A split batch (the MSB's comparison with truncation's carry, l = 37, s =
 * 12) on the automatic digits: the bytes and rounds of mill_cost_split, the
 * low part's leaves shared with the whole, no round more than the plain
 * comparison, and for less than the two comparisons apart (on the silent
 * backend no more than the plain comparison: twelve 3-bit digits, the low
 * four a node of the tree). */
TEST(mill_split_bytes_and_rounds) {
    prg g;
    harness_prg(&g, 4);
    int be = test_backend();
    REQUIRE(mill_split_ok(be, 36, 0, 12));
    mill_t t = {.n = 1024, .k = 36, .m = 0};
    mill_alloc(&t);
    t.split = 12;
    t.lo_k = 0; /* first the comparison alone */
    for (int r = 0; r < 2; r++) prg_ring(&g, t.v[r], t.n, t.k);
    for (size_t i = 0; i < 64; i++) t.v[1][i] = t.v[0][i] ^ (i & 1 ? 0 : 1ULL << (i % 36));
    REQUIRE_OK(run_call(mill_fn, &t));
    mill_check(&t);
    CHECK_EQ(bytes_both(), mill_bytes_of(&t));
    mill_cost c, c1, c2;
    mill_cost_split(&c, be, 36, 0, 12);
    mill_cost_of(&c1, be, 36, 0, 1, 0);
    mill_cost_of(&c2, be, 12, 0, 1, 0);
    CHECK_EQ(mill_levels(be, 36, 0, 12), c.levels);
    CHECK(c.levels <= c1.levels);
    CHECK(c.bits < c1.bits + c2.bits);
    if (be == OT_BACKEND_SILENT) {
        CHECK_EQ((uint64_t)c.bits, (uint64_t)c1.bits);
        CHECK_EQ((uint64_t)c.bits, 255);
        CHECK_EQ((uint64_t)c.cots, 58);
    }
    /* The carry's B2A into 25 bits (ReLU-truncation at (37, 12)) inside
     * the AND rounds: on the silent backend 1 + 25 bits and one COT more,
     * and no flight more than the comparison alone. */
    if (mill_lo_b2a_ok(be, 36, 0, 12, 25)) {
        uint64_t plain = bytes_both(), f0[2] = {run2_party_stats[0].flights, run2_party_stats[1].flights};
        t.lo_k = 25;
        REQUIRE_OK(run_call(mill_fn, &t));
        mill_check(&t);
        CHECK_EQ(bytes_both(), mill_bytes_of(&t));
        CHECK(bytes_both() * 8 >= plain * 8 + 26 * t.n && bytes_both() * 8 <= plain * 8 + 26 * t.n + 16);
        CHECK_EQ(run2_party_stats[0].flights, f0[0]);
        CHECK_EQ(run2_party_stats[1].flights, f0[1]);
        t.lo_k = 0;
    } else {
        CHECK(be != OT_BACKEND_SILENT);
    }
    /* Digits of 4: 12 is no node of their tree. */
    CHECK(!mill_split_ok(be, 36, 4, 12));
    CHECK(mill_split_ok(be, 36, 4, 8));
    mill_free(&t);
    prg_clear(&g);
}

/* ---- wrap, MSB, DReLU, MSB-to-wrap ---- */

typedef struct ring_t {
    size_t n;
    unsigned l;
    uint64_t *x[2];
    uint8_t *w[2], *msb[2], *dr[2], *w2[2];
} ring_t;

static int ring_fn(mpc_lane *L, call *c) {
    ring_t *t = c->u;
    int r = L->role;
    TRY(mpc_wrap(L, t->w[r], t->x[r], t->n, t->l));
    TRY(mpc_msb(L, t->msb[r], t->x[r], t->n, t->l));
    TRY(mpc_drelu(L, t->dr[r], t->x[r], t->n, t->l));
    return mpc_msb_to_wrap(L, t->w2[r], t->msb[r], t->x[r], t->n, t->l);
}

static void ring_run(ring_t *t) {
    for (int r = 0; r < 2; r++) {
        t->w[r] = mem_alloc(t->n + 1, 1);
        t->msb[r] = mem_alloc(t->n + 1, 1);
        t->dr[r] = mem_alloc(t->n + 1, 1);
        t->w2[r] = mem_alloc(t->n + 1, 1);
    }
    int rc = run_call(ring_fn, t);
    CHECK_EQ(rc, 0);
    uint64_t mk = bits_mask(t->l);
    for (size_t i = 0; i < t->n && rc == 0; i++) {
        uint64_t a = t->x[0][i], b = t->x[1][i], x = (a + b) & mk;
        unsigned wrap = t->l == 64 ? (a + b < a) : ((a + b) >> t->l) & 1;
        unsigned msb = (unsigned)(x >> (t->l - 1)) & 1;
        CHECK_MSG((t->w[0][i] ^ t->w[1][i]) == wrap, "l=%u shares %llx %llx wrap", t->l,
                  (unsigned long long)a, (unsigned long long)b);
        CHECK_EQ(t->msb[0][i] ^ t->msb[1][i], msb);
        CHECK_EQ(t->dr[0][i] ^ t->dr[1][i], !msb);
        CHECK_EQ(t->w2[0][i] ^ t->w2[1][i], wrap);
        if (harness_failed()) break;
    }
    for (int r = 0; r < 2; r++) {
        mem_free(t->w[r]);
        mem_free(t->msb[r]);
        mem_free(t->dr[r]);
        mem_free(t->w2[r]);
    }
}

TEST(wrap_msb_drelu_exhaustive) {
    for (unsigned l = 1; l <= 8; l++) {
        ring_t t = {.n = (size_t)1 << (2 * l), .l = l};
        for (int r = 0; r < 2; r++) t.x[r] = mem_alloc(t.n, 8);
        for (size_t i = 0; i < t.n; i++) { /* every value, every split */
            uint64_t v = i >> l, s = i & bits_mask(l);
            t.x[0][i] = s;
            t.x[1][i] = (v - s) & bits_mask(l);
        }
        ring_run(&t);
        for (int r = 0; r < 2; r++) mem_free(t.x[r]);
        if (harness_failed()) return;
    }
}

TEST(wrap_msb_drelu_wide) {
    prg g;
    harness_prg(&g, 4);
    for (unsigned it = 0; it < harness_iters(1); it++) /* PARLEY_TEST_ITERS */
    for (size_t w = 0; w < NWIDE; w++)
        for (size_t s = 0; s < NSIZES; s++) {
            ring_t t = {.n = sizes[s] + 16, .l = wide[w]};
            uint64_t *x = mem_alloc(t.n, 8);
            for (int r = 0; r < 2; r++) t.x[r] = mem_alloc(t.n, 8);
            fill_edges(&g, x, t.n, t.l);
            share(&g, t.x[0], t.x[1], x, t.n, t.l);
            /* Shares that are themselves edge values. */
            fill_edges(&g, t.x[0], 8, t.l);
            for (size_t i = 0; i < 8; i++) t.x[1][8 + i] = t.x[0][i];
            ring_run(&t);
            mem_free(x);
            for (int r = 0; r < 2; r++) mem_free(t.x[r]);
            if (harness_failed()) return;
        }
    prg_clear(&g);
}

/* ---- B2A and MUX ---- */

typedef struct conv_t {
    size_t n;
    unsigned k;
    uint8_t *b[2];
    uint64_t *y[2];
} conv_t;

static int b2a_fn(mpc_lane *L, call *c) {
    conv_t *t = c->u;
    return mpc_b2a(L, t->y[L->role], t->b[L->role], t->n, t->k);
}

TEST(b2a) {
    prg g;
    harness_prg(&g, 5);
    static const unsigned ks[] = {1, 2, 7, 31, 32, 37, 63, 64};
    for (int w = 0; w < 8; w++)
        for (size_t s = 0; s < NSIZES; s++) {
            conv_t t = {.n = sizes[s], .k = ks[w]};
            for (int r = 0; r < 2; r++) {
                t.b[r] = mem_alloc(t.n + 1, 1);
                t.y[r] = mem_alloc(t.n + 1, 8);
                prg_bits(&g, t.b[r], t.n);
            }
            REQUIRE_OK(run_call(b2a_fn, &t));
            for (size_t i = 0; i < t.n; i++) {
                CHECK(t.y[0][i] <= bits_mask(t.k) && t.y[1][i] <= bits_mask(t.k));
                CHECK_EQ((t.y[0][i] + t.y[1][i]) & bits_mask(t.k), t.b[0][i] ^ t.b[1][i]);
            }
            CHECK_EQ(bytes_both(), t.k == 1 ? 0 : cot_bytes(t.n, &t.k, 1));
            ot_costing oc = {.backend = test_backend()};
            CHECK_EQ(mpc_b2a_bytes(&oc, t.n, t.k), bytes_both());
            if (test_backend() == OT_BACKEND_IKNP)
                CHECK_EQ(t.k == 1 ? 0 : cot_bytes(t.n, &t.k, 1),
                         t.k == 1 || !t.n ? 0 : 16 * ote_padded(t.n) + bits_bytes(t.n * t.k));
            for (int r = 0; r < 2; r++) {
                mem_free(t.b[r]);
                mem_free(t.y[r]);
            }
        }
    prg_clear(&g);
}

typedef struct mux_t {
    size_t n, M;
    unsigned ls[2];
    uint8_t *b[2];
    uint64_t *x[2][2], *y[2][2];
} mux_t;

static int mux_fn(mpc_lane *L, call *c) {
    mux_t *t = c->u;
    int r = L->role;
    return mpc_mux(L, t->y[r], t->b[r], (const uint64_t *const *)t->x[r], t->ls, t->M, t->n);
}

TEST(mux) {
    prg g;
    harness_prg(&g, 6);
    static const unsigned ls[] = {1, 2, 8, 31, 32, 37, 63, 64};
    for (int w = 0; w < 8; w++)
        for (size_t s = 0; s < NSIZES; s++) {
            mux_t t = {.n = sizes[s], .M = 1 + (size_t)(w % 2), .ls = {ls[w], ls[7 - w]}};
            for (int r = 0; r < 2; r++) {
                t.b[r] = mem_alloc(t.n + 1, 1);
                prg_bits(&g, t.b[r], t.n);
                for (int j = 0; j < 2; j++) {
                    t.x[r][j] = mem_alloc(t.n + 1, 8);
                    t.y[r][j] = mem_alloc(t.n + 1, 8);
                    fill_edges(&g, t.x[r][j], t.n, t.ls[j]);
                }
            }
            REQUIRE_OK(run_call(mux_fn, &t));
            size_t L = 0;
            for (size_t j = 0; j < t.M; j++) {
                uint64_t mk = bits_mask(t.ls[j]);
                L += t.ls[j];
                for (size_t i = 0; i < t.n; i++) {
                    unsigned b = t.b[0][i] ^ t.b[1][i];
                    uint64_t x = (t.x[0][j][i] + t.x[1][j][i]) & mk;
                    CHECK_EQ((t.y[0][j][i] + t.y[1][j][i]) & mk, b ? x : 0);
                }
            }
            /* silent, widths up to 63: one flight of mpc_cot1, each party
             * sending its correlations and its choice bits in one message */
            int one = mpc_cot1_ok(test_backend(), t.ls[0]) &&
                      (t.M < 2 || mpc_cot1_ok(test_backend(), t.ls[1]));
            CHECK_EQ(bytes_both(),
                     one ? 2 * bits_bytes(t.n * (L + t.M)) : 2 * cot_bytes(t.n, t.ls, t.M));
            ot_costing oc = {.backend = test_backend()};
            CHECK_EQ(mpc_mux_bytes(&oc, t.ls, t.M, t.n), bytes_both());
            if (test_backend() == OT_BACKEND_IKNP)
                CHECK_EQ(2 * cot_bytes(t.n, t.ls, t.M),
                         t.n ? 2 * (16 * ote_padded(t.n) + bits_bytes(t.n * L)) : 0);
            for (int r = 0; r < 2; r++) {
                mem_free(t.b[r]);
                for (int j = 0; j < 2; j++) {
                    mem_free(t.x[r][j]);
                    mem_free(t.y[r][j]);
                }
            }
        }
    prg_clear(&g);
}

/* ---- COTs in one flight (silent backend) ---- */

typedef struct cot1_t {
    cot1_job j[3];
    uint64_t *u[3], *out[2][3];
    uint8_t *b[3];
} cot1_t;

static int cot1_fn(mpc_lane *L, call *c) {
    cot1_t *t = c->u;
    cot1_job j[3];
    for (int k = 0; k < 3; k++) {
        j[k] = t->j[k];
        j[k].out = t->out[L->role][k];
    }
    return mpc_cot1(L, j, 3);
}

/* Both directions side by side, widths 1..63 (each job's own; above 32 the
 * sender's random OTs take two words each), random
 * correlations with bits above the width set and choices with bits above
 * bit 0 set (ignored): the shares add up to b * u mod 2^w, and the bytes
 * are 1 + w bits per element as mpc_cot1_bytes says. IKNP has no random
 * OTs, so no mpc_cot1 (nl_relu_trunc_narrow is false there). */
TEST(cot1) {
    if (!(ot_backend_get(test_backend())->caps & OT_CAP_RANDOM_OT)) return;
    prg g;
    harness_prg(&g, 7);
    static const unsigned ws[] = {1, 2, 12, 25, 31, 32, 33, 44, 63};
    enum { NW = sizeof ws / sizeof *ws };
    for (int w = 0; w < NW; w++)
        for (size_t s = 0; s < NSIZES; s++) {
            cot1_t t;
            memset(&t, 0, sizeof t);
            for (int k = 0; k < 3; k++) {
                size_t n = k == 2 ? sizes[(s + 3) % NSIZES] : sizes[s];
                t.u[k] = mem_alloc(n + 1, 8);
                t.b[k] = mem_alloc(n + 1, 1);
                prg_ring(&g, t.u[k], n, 64);
                prg_bytes(&g, t.b[k], n);
                for (int r = 0; r < 2; r++) t.out[r][k] = mem_alloc(n + 1, 8);
                cot1_job j = {.sender = k == 1 ? MPC_CLIENT : MPC_SERVER, .n = n,
                              .w = k == 2 ? ws[NW - 1 - w] : ws[w], .u = t.u[k], .b = t.b[k]};
                t.j[k] = j;
            }
            REQUIRE_OK(run_call(cot1_fn, &t));
            uint64_t bits = 0;
            for (int k = 0; k < 3; k++) {
                uint64_t mw = bits_mask(t.j[k].w);
                for (size_t i = 0; i < t.j[k].n; i++) {
                    CHECK(t.out[0][k][i] <= mw && t.out[1][k][i] <= mw);
                    CHECK_EQ((t.out[0][k][i] + t.out[1][k][i]) & mw,
                             (t.b[k][i] & 1) ? t.u[k][i] & mw : 0);
                }
                bits += t.j[k].n * (uint64_t)(1 + t.j[k].w);
            }
            ot_costing oc = {.backend = test_backend()};
            CHECK_EQ(mpc_cot1_bytes(&oc, t.j, 3), bytes_both());
            CHECK(bytes_both() >= bits / 8 && bytes_both() <= bits / 8 + 2);
            for (int k = 0; k < 3; k++) {
                mem_free(t.u[k]);
                mem_free(t.b[k]);
                for (int r = 0; r < 2; r++) mem_free(t.out[r][k]);
            }
        }
    prg_clear(&g);
}

/* Random OTs (OTB_RROT) both ways in one otb_run, in words and, for l <= 3,
 * in bytes (x8, out8: how the bit triples take them): the receiver's
 * message is the sender's message at the receiver's random choice, the
 * choices and messages are not constant, and nothing goes on the wire but
 * the COTs' making. */
typedef struct rrot_t {
    size_t n;
    uint64_t *x[2][6], *out[2][6]; /* per role, per job */
    uint8_t *x8[2][6], *out8[2][6];
} rrot_t;

static const unsigned rrot_l[6] = {1, 2, 3, 1, 3, 40};

static int rrot_fn(mpc_lane *L, call *c) {
    rrot_t *t = c->u;
    int r = L->role;
    otb_job j[6];
    for (int k = 0; k < 6; k++) {
        j[k] = (otb_job){.kind = OTB_RROT, .sender = k & 1, .n = t->n, .l = rrot_l[k]};
        if (k < 3) {
            j[k].x8 = t->x8[r][k];
            j[k].out8 = t->out8[r][k];
        } else {
            j[k].x = t->x[r][k];
            j[k].out = t->out[r][k];
        }
    }
    return otb_run(L, j, 6);
}

TEST(random_ot_words_and_bytes) {
    if (!(ot_backend_get(test_backend())->caps & OT_CAP_RANDOM_OT)) return;
    for (size_t s = 0; s < NSIZES; s++) {
        rrot_t t = {.n = sizes[s]};
        for (int r = 0; r < 2; r++)
            for (int k = 0; k < 6; k++) {
                t.x[r][k] = mem_calloc(2 * t.n + 2, 8);
                t.out[r][k] = mem_calloc(t.n + 1, 8);
                t.x8[r][k] = mem_calloc(t.n + 1, 1);
                t.out8[r][k] = mem_calloc(t.n + 1, 1);
            }
        REQUIRE_OK(run_call(rrot_fn, &t));
        for (int k = 0; k < 6; k++) {
            unsigned l = rrot_l[k];
            int snd = k & 1, rcv = 1 - snd;
            uint64_t ml = bits_mask(l), ones = 0, m1s = 0;
            for (size_t i = 0; i < t.n; i++) {
                uint64_t m0, m1, o;
                if (k < 3) {
                    CHECK(t.x8[snd][k][i] >> (2 * l) == 0 && t.out8[rcv][k][i] >> (l + 1) == 0);
                    m0 = t.x8[snd][k][i] & ml;
                    m1 = t.x8[snd][k][i] >> l;
                    o = t.out8[rcv][k][i];
                } else if (l <= 32) {
                    m0 = t.x[snd][k][i] & ml;
                    m1 = t.x[snd][k][i] >> l;
                    o = t.out[rcv][k][i];
                } else {
                    m0 = t.x[snd][k][2 * i];
                    m1 = t.x[snd][k][2 * i + 1];
                    o = t.out[rcv][k][i];
                }
                uint64_t b = o >> l;
                CHECK(b <= 1 && m1 <= ml);
                CHECK_EQ(o & ml, b ? m1 : m0);
                ones += b;
                m1s += m1 & 1;
            }
            if (t.n == 1000) {
                CHECK_MSG(ones > 400 && ones < 600, "job %d: %llu choices of 1000 set", k,
                          (unsigned long long)ones);
                CHECK_MSG(m1s > 400 && m1s < 600, "job %d: %llu low bits of 1000 set", k,
                          (unsigned long long)m1s);
            }
        }
        CHECK_EQ(bytes_both(), 0);
        for (int r = 0; r < 2; r++)
            for (int k = 0; k < 6; k++) {
                mem_free(t.x[r][k]);
                mem_free(t.out[r][k]);
                mem_free(t.x8[r][k]);
                mem_free(t.out8[r][k]);
            }
    }
}

/* ---- the pools' budgets (cot_pool_set_budget) ----
 *
 * One exchange of random OTs from S that takes the stock the set-up left
 * and all but 1000 of a fresh batch (a refill the exchange needs), so
 * the exchange ends with 1000 COTs, fewer than the pool's room. Without a
 * budget the pool then makes its next batch ahead of need, which nothing
 * uses; with the exchange's own count as budget it does not; with a
 * budget of more it does; with a budget of 0 (wrong) it does not, and the
 * refill the exchange needs still happens. Each time the receiver holds
 * the sender's message at its choice. */
enum { BUDGET_NONE, BUDGET_EXACT, BUDGET_MORE, BUDGET_ZERO };

typedef struct budget_t {
    int budget;     /* BUDGET_*: none, the exchange's takes, 5000 more, or 0 */
    size_t n;       /* the exchange's OTs (the same on both sides) */
    uint64_t *x, *out;
    uint64_t fills[2]; /* batches each side's pool made during the exchange and after */
    size_t left[2];    /* its stock at the end */
} budget_t;

static int budget_fn(mpc_lane *L, call *c) {
    budget_t *t = c->u;
    int r = L->role;
    ot_lane *ln = &L->ot;
    cot_pool *pool = ln->be->instance(ln, r == MPC_SERVER ? OT_INST_COTS_SEND : OT_INST_COTS_RECV);
    const size_t usable = ferret_usable(&FERRET_TOY);
    t->n = cot_pool_avail(pool) + usable - 1000;
    if (t->budget != BUDGET_NONE) {
        uint64_t b = t->budget == BUDGET_ZERO ? 0 : t->n + (t->budget == BUDGET_MORE ? 5000 : 0);
        uint64_t dir[2] = {b, 0}, none[2] = {0, 0};
        ln->be->budget(ln, r == MPC_SERVER ? dir : none, r == MPC_SERVER ? none : dir);
    }
    uint64_t f0 = pool->fills;
    otb_job j = {.kind = OTB_RROT, .sender = MPC_SERVER, .n = t->n, .l = 8};
    if (r == MPC_SERVER)
        j.x = t->x;
    else
        j.out = t->out;
    TRY(otb_run(L, &j, 1));
    t->fills[r] = pool->fills - f0;
    t->left[r] = cot_pool_avail(pool);
    return 0;
}

TEST(budgets_skip_batches_nothing_uses) {
    if (test_backend() != OT_BACKEND_SILENT) return;
    const size_t usable = ferret_usable(&FERRET_TOY), cap = 16 * usable;
    const uint64_t want_fills[] = {2, 1, 2, 1}; /* by BUDGET_* */
    for (int k = BUDGET_NONE; k <= BUDGET_ZERO; k++) {
        budget_t t = {.budget = k, .x = mem_calloc(cap, 8), .out = mem_calloc(cap, 8)};
        REQUIRE(t.x && t.out);
        REQUIRE_OK(run_call(budget_fn, &t));
        CHECK_MSG(t.n + 1000 >= usable && t.n < cap, "%zu OTs", t.n);
        if (t.n >= cap) return; /* the arrays were too short: the check above failed */
        for (int r = 0; r < 2; r++) {
            CHECK_MSG(t.fills[r] == want_fills[k], "case %d, party %d: %llu batches, want %llu", k,
                      r, (unsigned long long)t.fills[r], (unsigned long long)want_fills[k]);
            CHECK_EQ(t.left[r], want_fills[k] == 2 ? 1000 + usable : 1000);
        }
        size_t bad = 0, ones = 0;
        for (size_t i = 0; i < t.n; i++) {
            uint64_t b = t.out[i] >> 8, m = b ? t.x[i] >> 8 : t.x[i] & 0xff;
            bad += b > 1 || (t.out[i] & 0xff) != m;
            ones += b;
        }
        CHECK_MSG(bad == 0, "case %d: %zu of %zu OTs wrong", k, bad, t.n);
        CHECK(ones > t.n / 3 && ones < 2 * t.n / 3);
        mem_free(t.x);
        mem_free(t.out);
    }
}

/* ---- several lanes ---- */

typedef struct lanes_t {
    size_t n;
    unsigned l;
    uint64_t *x[2];
    uint8_t *b[2];
} lanes_t;

static int lanes_job(mpc_lane *L, void *ctx, size_t first, size_t count) {
    lanes_t *t = ctx;
    return mpc_drelu(L, t->b[L->role] + first, t->x[L->role] + first, count, t->l);
}

static int lanes_party(party *p, void *arg) {
    lanes_t *t = arg;
    return party_run(p, t->n, 1, lanes_job, t);
}

TEST(drelu_on_three_lanes) {
    prg g;
    harness_prg(&g, 7);
    lanes_t t = {.n = 1001, .l = 37};
    uint64_t *x = mem_alloc(t.n, 8);
    for (int r = 0; r < 2; r++) {
        t.x[r] = mem_alloc(t.n, 8);
        t.b[r] = mem_alloc(t.n, 1);
    }
    fill_edges(&g, x, t.n, t.l);
    share(&g, t.x[0], t.x[1], x, t.n, t.l);
    REQUIRE_OK(run2_party(lanes_party, &t, 3));
    for (size_t i = 0; i < t.n; i++)
        CHECK_EQ(t.b[0][i] ^ t.b[1][i], bits_signed(x[i], t.l) >= 0);
    mem_free(x);
    for (int r = 0; r < 2; r++) {
        mem_free(t.x[r]);
        mem_free(t.b[r]);
    }
    prg_clear(&g);
}
