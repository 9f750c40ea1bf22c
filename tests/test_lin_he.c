/* src/lin/he: HE-mode convolution, fully-connected and scale layers against
 * the plaintext reference, bit for bit: random and odd shapes (strides,
 * padding, dilation, groups, depthwise, batch), every width from l = 1,
 * edge values, one to three lanes, exact byte counts, malformed peer
 * messages rejected with PARLEY_E_PROTO, unsupported parameters refused on
 * both sides. The distinct layer shapes of SqueezeNet 1.1, ResNet50 and
 * DenseNet121 run in the cases slow_squeezenet, slow_resnet50 and
 * slow_densenet121 (CTest label "slow", not in the default run: `make
 * test-slow`); a representative subset of them always runs
 * (imagenet_sample). */
#include "harness.h"
#include "twoparty.h"

#include "he/he.h"
#include "he_oracle.h"
#include "lin/he/lin_he.h"
#include "lin/he/plan.h"
#include "lin/ot/lin_ot.h"
#include "mpc/flights.h"
#include "util/bits.h"
#include "util/mem.h"

#include <math.h>
#include <string.h>

enum { K_CONV, K_FC, K_SCALE };

typedef struct lcase {
    int kind;
    uint64_t chunk_bytes; /* 0: default */
    lin_conv c;
    lin_fc f;
    lin_scale s;
    unsigned l;
    uint64_t outs; /* declared to the session (0: not declared) */
    uint64_t *x[2], *w, *y[2], *ref;
    size_t nx, nw, ny;
    int rc[2];
    uint64_t bytes[2], flights[2];
    double stat_bits[2]; /* each party's lin_he_stat_bits after the layer */
    char msg[2][256]; /* each side's message when rc < 0 */
    /* S's weight cache (lin_he_wcache): 0 none; 1 made for the layer's
     * weights with the plan of ring width cache_l (0: l) and the declared
     * outs; its polynomials, and what the layer read from it */
    int cache;
    unsigned cache_l;
    uint64_t cache_polys, cache_used;
} lcase;

#define CONV(c) ((lin_shape){LIN_CONV, .p.conv = (c)})
#define FC(f) ((lin_shape){LIN_FC, .p.fc = (f)})
#define SCALE(v) ((lin_shape){LIN_SCALE, .p.scale = (v)})

/* One layer on the HE back-end of the session's keys h. */
static int he_run(party *p, lin_he *h, uint64_t *y, const uint64_t *x, lin_shape sh,
                  const uint64_t *w, unsigned l) {
    lin_backend be = lin_he_backend(h, 0);
    return lin_run(&be, p, y, x, &sh, w, l);
}

/* Exact bytes of a layer; 0 if the planner refuses it. */
static uint64_t he_bytes(lin_shape sh, unsigned l) {
    lin_backend be = lin_he_backend(NULL, 0);
    uint64_t b;
    if (lin_bytes(&be, &b, NULL, &sh, l) < 0) {
        err_clear();
        return 0;
    }
    return b;
}

static int lcase_party(party *p, void *v) {
    lcase *t = v;
    int me = p->role;
    lin_he *h;
    TRY(lin_he_setup(p, &h));
    if (t->chunk_bytes) lin_he_set_chunk_bytes(h, t->chunk_bytes);
    if (t->outs) lin_he_set_outputs(h, t->outs);
    const uint64_t *w = me == MPC_SERVER ? t->w : NULL;
    int rc;
    lin_shape sh = t->kind == K_CONV ? CONV(t->c) : t->kind == K_FC ? FC(t->f) : SCALE(t->s);
    lin_he_wcache *wc = NULL;
    if (t->cache && me == MPC_SERVER) {
        unsigned cl = t->cache_l ? t->cache_l : t->l;
        uint64_t b = 0;
        int crc = lin_he_wcache_new(&wc);
        if (crc == 0) crc = lin_he_wcache_add(wc, &sh, cl, t->outs, w);
        if (crc == 0) crc = lin_he_wcache_cost(&sh, cl, t->outs, &b, NULL);
        if (crc < 0) {
            lin_he_wcache_free(wc);
            lin_he_free(h);
            return party_fail(p, crc); /* the client must not wait */
        }
        t->cache_polys = lin_he_wcache_bytes(wc) / sizeof(he_poly);
        CHECK_EQ(b, lin_he_wcache_bytes(wc));
    }
    lin_he_use_wcache(h, wc); /* the client's side ignores it */
    chan_stats s0, s1;
    party_stats(p, &s0);
    rc = he_run(p, h, t->y[me], t->x[me], sh, w, t->l);
    if (me == MPC_SERVER) t->cache_used = lin_he_wcache_polys_used(h);
    lin_he_wcache_free(wc);
    if (rc < 0) snprintf(t->msg[me], sizeof t->msg[me], "%s", err_msg());
    party_stats(p, &s1);
    t->bytes[me] = s1.bytes_sent - s0.bytes_sent;
    t->flights[me] = s1.flights - s0.flights;
    t->rc[me] = rc;
    t->stat_bits[me] = lin_he_stat_bits(h);
    lin_he_free(h);
    return rc;
}

/* Fill weights of signed width wbits: random, or (edge) alternating the two
 * extremes. */
static void fill_weights(prg *g, uint64_t *w, size_t n, unsigned wbits, unsigned l, int edge) {
    uint64_t span = wbits >= 64 ? 0 : 1ULL << wbits;
    for (size_t i = 0; i < n; i++) {
        int64_t v;
        if (edge)
            v = (i & 1) ? -(int64_t)(span / 2) : (int64_t)(span / 2) - 1;
        else
            v = (int64_t)(prg_u64(g) % span) - (int64_t)(span / 2);
        w[i] = (uint64_t)v & bits_mask(l);
    }
}

/* Run one layer between two parties and compare with the reference. */
static int run_case(lcase *t, unsigned lanes, prg *g, int edge) {
    size_t nx, nw, ny;
    if (t->kind == K_CONV) {
        if (lin_conv_check(&t->c) < 0) return -1;
        nx = lin_conv_in_size(&t->c);
        nw = lin_conv_weight_size(&t->c);
        ny = lin_conv_out_size(&t->c);
    } else if (t->kind == K_FC) {
        nx = (size_t)t->f.N * t->f.K;
        nw = (size_t)t->f.O * t->f.K;
        ny = (size_t)t->f.N * t->f.O;
    } else {
        nx = ny = (size_t)t->s.N * t->s.C * t->s.S;
        nw = t->s.C;
    }
    unsigned wbits = t->kind == K_CONV ? t->c.wbits : t->kind == K_FC ? t->f.wbits : t->s.wbits;
    uint64_t *x = mem_alloc(nx, 8);
    t->x[0] = mem_alloc(nx, 8);
    t->x[1] = mem_alloc(nx, 8);
    t->w = mem_alloc(nw, 8);
    t->y[0] = mem_alloc(ny, 8);
    t->y[1] = mem_alloc(ny, 8);
    t->ref = mem_alloc(ny, 8);
    PARLEY_CHECK(x && t->x[0] && t->x[1] && t->w && t->y[0] && t->y[1] && t->ref);
    uint64_t mask = bits_mask(t->l);
    prg_ring(g, x, nx, t->l);
    if (edge)
        for (size_t i = 0; i < nx; i++)
            x[i] = (i % 3 == 0) ? mask : (i % 3 == 1) ? (mask >> 1) + 1 : 1;
    prg_ring(g, t->x[0], nx, t->l);
    for (size_t i = 0; i < nx; i++)
        t->x[1][i] = (x[i] - t->x[0][i]) & mask;
    fill_weights(g, t->w, nw, wbits, t->l, edge);
    if (t->kind == K_CONV)
        lin_conv_plain(t->ref, x, &t->c, t->w, t->l);
    else if (t->kind == K_FC)
        lin_fc_plain(t->ref, x, &t->f, t->w, t->l);
    else
        lin_scale_plain(t->ref, x, &t->s, t->w, t->l);
    t->nx = nx;
    t->nw = nw;
    t->ny = ny;
    int rc = run2_party(lcase_party, t, lanes);
    size_t bad = 0;
    if (rc == 0)
        for (size_t i = 0; i < ny; i++)
            bad += ((t->y[0][i] + t->y[1][i]) & mask) != t->ref[i];
    mem_free(x);
    mem_free(t->x[0]);
    mem_free(t->x[1]);
    mem_free(t->w);
    mem_free(t->y[0]);
    mem_free(t->y[1]);
    mem_free(t->ref);
    if (rc != 0) return rc;
    return bad ? 1 : 0;
}

static lin_conv conv(unsigned N, unsigned C, unsigned H, unsigned W, unsigned O, unsigned k,
                     unsigned s, unsigned p, unsigned d, unsigned groups, unsigned wbits) {
    lin_conv c = {.N = N,
                  .C = C,
                  .H = H,
                  .W = W,
                  .O = O,
                  .kh = k,
                  .kw = k,
                  .sh = s,
                  .sw = s,
                  .pt = p,
                  .pl = p,
                  .pb = p,
                  .pr = p,
                  .dh = d,
                  .dw = d,
                  .groups = groups,
                  .wbits = wbits};
    return c;
}

static void check_conv(lin_conv c, unsigned l, unsigned lanes, prg *g, int edge) {
    lcase t = {.kind = K_CONV, .c = c, .l = l};
    int rc = run_case(&t, lanes, g, edge);
    CHECK_MSG(rc == 0,
              "conv N%u C%u %ux%u O%u k%ux%u s%u,%u p%u,%u,%u,%u d%u,%u g%u wbits %u, l = %u, %u "
              "lanes: %s",
              c.N, c.C, c.H, c.W, c.O, c.kh, c.kw, c.sh, c.sw, c.pt, c.pl, c.pb, c.pr, c.dh, c.dw,
              c.groups, c.wbits, l, lanes, rc > 0 ? "wrong outputs" : err_msg());
    if (rc == 0) {
        uint64_t want = he_bytes(CONV(c), l);
        CHECK_EQ(t.bytes[0] + t.bytes[1], want);
    }
}

/* ---- small shapes (always run) ---- */

TEST(conv_basic) {
    prg g;
    harness_prg(&g, 1);
    check_conv(conv(1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 4), 8, 1, &g, 0);     /* 1x1x1 */
    check_conv(conv(1, 3, 8, 8, 4, 3, 1, 1, 1, 1, 6), 16, 1, &g, 0);    /* same padding */
    check_conv(conv(2, 5, 9, 7, 3, 3, 1, 0, 1, 1, 8), 32, 2, &g, 0);    /* batch 2, valid */
    check_conv(conv(1, 2, 13, 11, 3, 5, 2, 2, 1, 1, 8), 37, 2, &g, 0);  /* stride 2 */
    check_conv(conv(1, 3, 17, 17, 2, 7, 2, 3, 1, 1, 10), 37, 1, &g, 0); /* ResNet stem, small */
    check_conv(conv(1, 4, 10, 10, 5, 1, 2, 0, 1, 1, 8), 32, 3, &g, 0);  /* 1x1 stride 2 */
    check_conv(conv(1, 3, 9, 9, 3, 3, 3, 0, 1, 1, 6), 20, 2, &g, 0);    /* stride = kernel */
}

TEST(conv_odd_shapes) {
    prg g;
    harness_prg(&g, 2);
    check_conv(conv(1, 2, 12, 12, 3, 3, 1, 2, 2, 1, 6), 24, 1, &g, 0);  /* dilation 2 */
    check_conv(conv(1, 2, 15, 14, 2, 3, 2, 1, 3, 1, 6), 24, 2, &g, 0);  /* dilation 3, stride 2 */
    check_conv(conv(1, 4, 8, 8, 4, 3, 1, 1, 1, 4, 6), 24, 1, &g, 0);    /* depthwise */
    check_conv(conv(2, 6, 7, 7, 9, 3, 2, 1, 1, 3, 6), 24, 2, &g, 0);    /* groups 3 */
    check_conv(conv(1, 3, 30, 30, 2, 11, 4, 2, 1, 1, 6), 24, 1, &g, 0); /* AlexNet-like 11x11/4 */
    lin_conv c = conv(1, 3, 11, 9, 4, 3, 1, 0, 1, 1, 6);
    c.kh = 2;
    c.kw = 4;
    c.sh = 1;
    c.sw = 3;
    c.pt = 0;
    c.pl = 3;
    c.pb = 2;
    c.pr = 1; /* asymmetric everything */
    check_conv(c, 24, 2, &g, 0);
    /* a 1-D convolution too wide for one ciphertext: tiles along W */
    check_conv(conv(1, 2, 1, 5000, 2, 1, 1, 0, 1, 1, 6), 24, 2, &g, 0);
    lin_conv d = conv(1, 2, 1, 9000, 1, 1, 1, 0, 1, 1, 6);
    d.kw = 5;
    d.pl = d.pr = 2;
    check_conv(d, 24, 1, &g, 0);
}

TEST(conv_all_widths) {
    prg g;
    harness_prg(&g, 3);
    for (unsigned l = 1; l <= 49; l += (l < 8 ? 1 : 7)) {
        unsigned wb = l < 6 ? l : 6;
        check_conv(conv(1, 3, 6, 6, 2, 3, 1, 1, 1, 1, wb), l, 1 + l % 2, &g, 0);
    }
    check_conv(conv(1, 2, 5, 5, 2, 3, 1, 1, 1, 1, 1), 49, 1, &g, 0);
}

TEST(conv_edge_values) {
    prg g;
    harness_prg(&g, 4);
    check_conv(conv(1, 64, 6, 6, 8, 3, 1, 1, 1, 1, 14), 37, 2, &g, 1);
    check_conv(conv(1, 16, 5, 5, 4, 3, 1, 1, 1, 1, 4), 4, 1, &g, 1);
    check_conv(conv(1, 3, 4, 4, 2, 3, 1, 1, 1, 1, 1), 1, 1, &g, 1);
    check_conv(conv(1, 8, 4, 4, 3, 1, 1, 0, 1, 1, 24), 32, 1, &g, 1);
    check_conv(conv(1, 4, 3, 3, 2, 3, 1, 1, 1, 1, 16), 16, 1, &g, 1); /* wbits = l */
}

/* The bytes of the cheaper of a layer's HE form (as a convolution) and its
 * OT form, counting which won (OT on a strict win only). */
static uint64_t cheaper_of(lin_shape sh, unsigned l, unsigned *n_ot, unsigned *n_he) {
    lin_conv c = lin_he_as_conv(&sh);
    lin_he_plan pl;
    if (lin_he_plan_make(&pl, &c, l, LIN_HE_OUTS_DEFAULT) < 0) return 0;
    uint64_t heb = pl.bytes_c2s + pl.bytes_s2c;
    lin_he_plan_free(&pl);
    lin_plan *op;
    if (lin_ot_plan(&op, &sh, l, LIN_OT_AUTO) < 0) return 0;
    uint64_t otb = op->bytes;
    lin_ot_ops.free(op);
    *n_ot += otb < heb;
    *n_he += otb >= heb;
    return otb < heb ? otb : heb;
}

TEST(fc_and_scale) {
    prg g;
    harness_prg(&g, 5);
    /* An FC, like a SCALE below, runs over OT where that is cheaper. */
    lin_fc fcs[] = {{1, 1, 1, 8}, {1, 100, 10, 10}, {3, 64, 17, 12}, {1, 5000, 3, 8},
                    {1, 2048, 1000, 14}};
    unsigned fc_ot = 0, fc_he = 0;
    for (size_t i = 0; i < sizeof fcs / sizeof *fcs; i++) {
        lcase t = {.kind = K_FC, .f = fcs[i], .l = 32};
        int rc = run_case(&t, 1 + (unsigned)i % 2, &g, i == 2);
        CHECK_MSG(rc == 0, "fc %u x %u -> %u: %s", fcs[i].N, fcs[i].K, fcs[i].O,
                  rc > 0 ? "wrong" : err_msg());
        uint64_t want = cheaper_of(FC(fcs[i]), 32, &fc_ot, &fc_he);
        CHECK_EQ(he_bytes(FC(fcs[i]), 32), want);
        if (rc == 0) CHECK_EQ(t.bytes[0] + t.bytes[1], want);
    }
    CHECK(fc_ot >= 1 && fc_he >= 1);
    /* A SCALE runs over OT where that moves fewer bytes than its HE
     * form (a depthwise convolution), over HE otherwise: both kinds here. */
    lin_scale scs[] = {{1, 1, 1, 8},     {1, 16, 49, 10}, {2, 5, 300, 12},
                       {1, 3, 5000, 8},  {1, 2, 4000, 14}};
    unsigned by_ot = 0, by_he = 0;
    for (size_t i = 0; i < sizeof scs / sizeof *scs; i++) {
        lcase t = {.kind = K_SCALE, .s = scs[i], .l = 37};
        int rc = run_case(&t, 1 + (unsigned)i % 3, &g, i == 1);
        CHECK_MSG(rc == 0, "scale %u x %u x %u: %s", scs[i].N, scs[i].C, scs[i].S,
                  rc > 0 ? "wrong" : err_msg());
        unsigned o0 = by_ot;
        uint64_t want = cheaper_of(SCALE(scs[i]), 37, &by_ot, &by_he);
        CHECK_EQ(he_bytes(SCALE(scs[i]), 37), want);
        if (rc == 0) CHECK_EQ(t.bytes[0] + t.bytes[1], want);
        /* HE: one flight each way; OT: its own flights (lin_ot.h) */
        if (rc == 0 && by_ot == o0) CHECK_EQ(t.flights[0] + t.flights[1], 2);
    }
    CHECK(by_ot >= 3 && by_he >= 1);
}

TEST(flights_and_lanes) {
    prg g;
    harness_prg(&g, 6);
    lcase t = {.kind = K_CONV, .c = conv(1, 8, 12, 12, 16, 3, 1, 1, 1, 1, 8), .l = 32};
    REQUIRE(run_case(&t, 1, &g, 0) == 0);
    CHECK_EQ(t.flights[0] + t.flights[1], 2); /* one flight each way */
    uint64_t b1 = t.bytes[0] + t.bytes[1];
    lcase u = {.kind = K_CONV, .c = t.c, .l = 32};
    REQUIRE(run_case(&u, 3, &g, 0) == 0);
    CHECK_EQ(u.bytes[0] + u.bytes[1], b1);         /* lanes do not change the bytes */
    CHECK(u.flights[0] <= 1 && u.flights[1] <= 1); /* per lane */
}

/* Layers larger than the server's buffer run in chunks of tiles, two
 * flights each, with the same result and bytes. */
TEST(chunked_layers) {
    prg g;
    harness_prg(&g, 9);
    lin_conv c = conv(2, 4, 120, 120, 6, 3, 1, 1, 1, 1, 8);        /* batch 2, several tiles */
    lcase t = {.kind = K_CONV, .c = c, .l = 32, .chunk_bytes = 1}; /* one tile per chunk */
    REQUIRE(run_case(&t, 2, &g, 0) == 0);
    CHECK_EQ(t.bytes[0] + t.bytes[1], he_bytes(CONV(c), 32));
    lin_he_plan pl;
    REQUIRE_OK(lin_he_plan_make(&pl, &c, 32, LIN_HE_OUTS_DEFAULT));
    CHECK(pl.units > 3);
    CHECK(t.flights[1] >= pl.units / 2); /* the client's lanes sent once per chunk */
    lin_he_plan_free(&pl);
}

/* S's weight polynomials transformed before the input: every kind of plan
 * (tiles, flat 1x1 blocks, strides, groups, depthwise, batch, chunks, FC,
 * scale, several output groups on one tile) reads all its polynomials from
 * the cache, with the same result, bit for bit, and the same bytes; a cache
 * made for another plan (another l) is not read. */
TEST(weight_cache) {
    prg g;
    harness_prg(&g, 12);
    lin_conv cs[] = {
        conv(1, 3, 8, 8, 4, 3, 1, 1, 1, 1, 6),     /* tiles */
        conv(2, 5, 9, 7, 3, 3, 1, 0, 1, 1, 8),     /* batch 2 */
        conv(1, 2, 13, 11, 3, 5, 2, 2, 1, 1, 8),   /* stride 2 */
        conv(1, 40, 7, 7, 24, 1, 1, 0, 1, 1, 10),  /* flat 1x1 */
        conv(1, 4, 10, 10, 5, 1, 2, 0, 1, 1, 8),   /* 1x1 stride 2 */
        conv(1, 4, 8, 8, 4, 3, 1, 1, 1, 4, 6),     /* depthwise */
        conv(2, 6, 7, 7, 9, 3, 2, 1, 1, 3, 6),     /* groups 3 */
        conv(1, 64, 6, 6, 8, 3, 1, 1, 1, 1, 14),   /* channel blocks */
        conv(1, 300, 3, 3, 200, 3, 1, 1, 1, 1, 8), /* one tile, many output groups */
    };
    for (size_t i = 0; i < sizeof cs / sizeof *cs; i++) {
        lcase t = {.kind = K_CONV, .c = cs[i], .l = 24 + (unsigned)i, .cache = 1};
        int rc = run_case(&t, 1 + (unsigned)i % 2, &g, i == 7);
        CHECK_MSG(rc == 0, "conv %zu with the cache: %s", i, rc > 0 ? "wrong" : err_msg());
        lin_he_plan pl;
        REQUIRE_OK(lin_he_plan_make(&pl, &t.c, t.l, LIN_HE_OUTS_DEFAULT));
        CHECK_EQ(t.cache_polys, pl.wpolys);
        CHECK_EQ(t.cache_used, pl.wpolys);
        CHECK_EQ(t.bytes[0] + t.bytes[1], he_bytes(CONV(t.c), t.l));
        lin_he_plan_free(&pl);
    }
    /* in chunks of tiles, two flights each */
    lcase ch = {.kind = K_CONV, .c = conv(2, 4, 120, 120, 6, 3, 1, 1, 1, 1, 8), .l = 32,
                .chunk_bytes = 1, .cache = 1};
    REQUIRE(run_case(&ch, 2, &g, 0) == 0);
    CHECK(ch.cache_used > 0 && ch.cache_used == ch.cache_polys);
    lin_fc f = {3, 64, 17, 12};
    lcase tf = {.kind = K_FC, .f = f, .l = 32, .cache = 1};
    REQUIRE(run_case(&tf, 2, &g, 0) == 0);
    CHECK(tf.cache_used > 0 && tf.cache_used == tf.cache_polys);
    lin_scale sc = {1, 2, 4000, 14}; /* a SCALE that HE computes */
    lcase ts = {.kind = K_SCALE, .s = sc, .l = 37, .cache = 1, .outs = 9000};
    REQUIRE(run_case(&ts, 3, &g, 0) == 0);
    CHECK(ts.cache_used > 0 && ts.cache_used == ts.cache_polys);
    /* one that runs over OT: nothing to cache, still exact */
    lin_scale so = {2, 5, 300, 12};
    lcase tso = {.kind = K_SCALE, .s = so, .l = 37, .cache = 1, .outs = 3000};
    REQUIRE(run_case(&tso, 2, &g, 0) == 0);
    CHECK_EQ(tso.cache_polys, 0);
    CHECK_EQ(tso.cache_used, 0);
    /* a cache for another plan: transformed on the fly, still exact */
    lcase m = {.kind = K_CONV, .c = cs[0], .l = 24, .cache = 1, .cache_l = 25};
    REQUIRE(run_case(&m, 1, &g, 0) == 0);
    CHECK(m.cache_polys > 0);
    CHECK_EQ(m.cache_used, 0);
    /* declared outputs are part of the plan too */
    lcase o = {.kind = K_CONV, .c = cs[0], .l = 24, .cache = 1, .outs = 256};
    REQUIRE(run_case(&o, 1, &g, 0) == 0);
    CHECK(o.cache_used > 0);
}

/* Packed outputs (plan.h, pk > 0), forced at every k from 1 to
 * HE_PACK_MAX_LOG: tiles with halos, flat 1x1 runs (compact weights),
 * strides, dilation, groups and depthwise (one group at a time), batch,
 * asymmetric padding, many output groups (full and short blocks), a 1-D
 * layer in several runs, edge values, l = 1 to 49, one to three lanes: bit
 * for bit the reference and exactly the plan's bytes; then chunks of tiles
 * with the weight cache, an FC and a SCALE. */
TEST(packed_layouts) {
    prg g;
    harness_prg(&g, 30);
    lin_conv asym = conv(1, 3, 11, 9, 4, 3, 1, 0, 1, 1, 6);
    asym.kh = 2;
    asym.kw = 4;
    asym.sw = 3;
    asym.pl = 3;
    asym.pb = 2;
    asym.pr = 1;
    const struct {
        lin_conv c;
        unsigned l, lanes;
        int edge, all_k; /* all_k: every k, else k = 1, 3, 6 */
    } cs[] = {
        {conv(1, 3, 8, 8, 4, 3, 1, 1, 1, 1, 6), 16, 1, 0, 1},      /* tiles, same padding */
        {conv(2, 5, 9, 7, 3, 3, 1, 0, 1, 1, 8), 32, 2, 0, 0},      /* batch 2 */
        {conv(1, 2, 13, 11, 3, 5, 2, 2, 1, 1, 8), 37, 2, 0, 0},    /* stride 2 */
        {conv(1, 40, 7, 7, 24, 1, 1, 0, 1, 1, 10), 37, 1, 0, 1},   /* flat 1x1 */
        {conv(1, 4, 10, 10, 5, 1, 2, 0, 1, 1, 8), 32, 3, 0, 0},    /* 1x1 stride 2 */
        {conv(1, 4, 8, 8, 4, 3, 1, 1, 1, 4, 6), 24, 1, 0, 0},      /* depthwise */
        {conv(2, 6, 7, 7, 9, 3, 2, 1, 1, 3, 6), 24, 2, 0, 0},      /* groups 3 */
        {conv(1, 2, 12, 12, 3, 3, 1, 2, 2, 1, 6), 24, 1, 0, 0},    /* dilation 2 */
        {conv(1, 300, 3, 3, 200, 3, 1, 1, 1, 1, 8), 37, 2, 0, 1},  /* many output groups */
        {conv(1, 64, 6, 6, 8, 3, 1, 1, 1, 1, 14), 37, 2, 1, 0},    /* edge values */
        {conv(1, 3, 4, 4, 2, 3, 1, 1, 1, 1, 1), 1, 1, 1, 0},       /* l = 1 */
        {conv(1, 2, 5, 5, 2, 3, 1, 1, 1, 1, 1), 49, 1, 0, 0},      /* l = 49 */
        {asym, 24, 2, 0, 0},                                       /* asymmetric */
        {conv(1, 2, 1, 5000, 2, 1, 1, 0, 1, 1, 6), 24, 2, 0, 0},   /* 1-D, several runs */
        {conv(1, 256, 7, 7, 300, 1, 1, 0, 1, 1, 12), 37, 2, 0, 0}, /* ResNet-like 1x1 */
    };
    for (unsigned k = 1; k <= HE_PACK_MAX_LOG; k++) {
        lin_he_plan_force_pack((int)k);
        for (size_t i = 0; i < sizeof cs / sizeof *cs; i++) {
            if (!cs[i].all_k && k != 1 && k != 3 && k != HE_PACK_MAX_LOG) continue;
            lin_he_plan pl;
            REQUIRE_OK(lin_he_plan_make(&pl, &cs[i].c, cs[i].l, LIN_HE_OUTS_DEFAULT));
            CHECK_MSG(pl.pk == k && pl.Cw == 1u << k, "case %zu: pk %u, asked %u", i, pl.pk, k);
            CHECK(pl.out_cts == pl.units * ((pl.nog + pl.Cw - 1) / pl.Cw));
            lin_he_plan_free(&pl);
            check_conv(cs[i].c, cs[i].l, cs[i].lanes, &g, cs[i].edge);
        }
    }
    lin_he_plan_force_pack(2);
    lcase ch = {.kind = K_CONV, .c = conv(2, 4, 40, 40, 6, 3, 1, 1, 1, 1, 8), .l = 32,
                .chunk_bytes = 1, .cache = 1};
    REQUIRE(run_case(&ch, 2, &g, 0) == 0);
    CHECK(ch.cache_used > 0 && ch.cache_used == ch.cache_polys);
    CHECK_EQ(ch.bytes[0] + ch.bytes[1], he_bytes(CONV(ch.c), 32));
    lin_fc f = {3, 64, 17, 12};
    lcase tf = {.kind = K_FC, .f = f, .l = 32};
    REQUIRE(run_case(&tf, 2, &g, 0) == 0);
    lin_scale sc = {1, 2, 4000, 14};
    lcase ts = {.kind = K_SCALE, .s = sc, .l = 37, .outs = 9000};
    REQUIRE(run_case(&ts, 3, &g, 0) == 0);
    lin_he_plan_force_pack(0);
}

/* A packed plan's returned ciphertexts: within a block the positions are
 * distinct and below N, and over all blocks and tiles every output element
 * is returned exactly once. */
TEST(packed_plan_invariants) {
    lin_conv cs[] = {conv(1, 64, 14, 14, 64, 3, 1, 1, 1, 1, 14),
                     conv(1, 256, 7, 7, 300, 1, 1, 0, 1, 1, 14),
                     conv(2, 32, 9, 9, 32, 3, 2, 1, 1, 32, 10),
                     conv(1, 3, 40, 40, 16, 7, 2, 3, 1, 1, 14)};
    for (unsigned k = 1; k <= HE_PACK_MAX_LOG; k++) {
        lin_he_plan_force_pack((int)k);
        for (size_t i = 0; i < sizeof cs / sizeof *cs; i++) {
            lin_he_plan pl;
            REQUIRE_OK(lin_he_plan_make(&pl, &cs[i], 37, LIN_HE_OUTS_DEFAULT));
            CHECK_EQ(pl.pk, k);
            size_t ny = lin_conv_out_size(&pl.c);
            uint8_t *seen = mem_calloc(ny, 1), *used = mem_alloc(HE_N, 1);
            uint32_t *pos = mem_alloc(HE_N, 4);
            size_t *yidx = mem_alloc(HE_N, sizeof *yidx);
            REQUIRE(seen && used && pos && yidx);
            for (unsigned bk = 0; bk < pl.nbk; bk++)
                for (uint64_t u = 0; u < pl.units; u++) {
                    size_t n = lin_he_plan_block_targets(&pl, pos, yidx, bk, u);
                    memset(used, 0, HE_N);
                    int clash = 0;
                    for (size_t j = 0; j < n; j++) {
                        CHECK(pos[j] < HE_N);
                        CHECK(yidx[j] < ny);
                        if (pos[j] < HE_N) clash += used[pos[j]]++ != 0;
                        if (yidx[j] < ny) seen[yidx[j]]++;
                    }
                    CHECK_MSG(clash == 0, "k %u case %zu block %u: %d positions shared", k, i, bk,
                              clash);
                }
            size_t missing = 0;
            for (size_t y = 0; y < ny; y++)
                missing += seen[y] != 1;
            CHECK_EQ(missing, 0);
            mem_free(seen);
            mem_free(used);
            mem_free(pos);
            mem_free(yidx);
            lin_he_plan_free(&pl);
        }
    }
    lin_he_plan_force_pack(0);
}

/* The planner: every target is a distinct coefficient and no two output
 * elements share one; blocks fit in N. */
TEST(plan_invariants) {
    lin_conv cs[] = {
        conv(1, 64, 56, 56, 64, 3, 1, 1, 1, 1, 14), conv(1, 3, 224, 224, 64, 7, 2, 3, 1, 1, 14),
        conv(1, 2048, 7, 7, 512, 1, 1, 0, 1, 1, 14), conv(2, 32, 9, 9, 32, 3, 2, 1, 1, 32, 10)};
    for (size_t k = 0; k < sizeof cs / sizeof *cs; k++) {
        lin_he_plan pl;
        REQUIRE_OK(lin_he_plan_make(&pl, &cs[k], 37, LIN_HE_OUTS_DEFAULT));
        CHECK((uint64_t)pl.Ow * pl.Cw * pl.Hw * pl.Ww <= HE_N);
        size_t ny = lin_conv_out_size(&pl.c);
        uint8_t *seen = mem_calloc(ny, 1);
        uint32_t *pos = mem_alloc(HE_N, 4);
        size_t *yidx = mem_alloc(HE_N, sizeof *yidx);
        REQUIRE(seen && pos && yidx);
        for (unsigned og = 0; og < pl.nog; og++)
            for (uint64_t u = 0; u < pl.units; u++) {
                size_t n = lin_he_plan_targets(&pl, pos, yidx, og, u);
                for (size_t j = 0; j < n; j++) {
                    CHECK(pos[j] < HE_N);
                    CHECK(yidx[j] < ny);
                    if (yidx[j] < ny) seen[yidx[j]]++;
                    if (j) CHECK(pos[j] > pos[j - 1]);
                }
            }
        size_t missing = 0;
        for (size_t i = 0; i < ny; i++)
            missing += seen[i] != 1;
        CHECK_EQ(missing, 0);
        mem_free(seen);
        mem_free(pos);
        mem_free(yidx);
        lin_he_plan_free(&pl);
    }
}

/* ---- refusals ---- */

TEST(unsupported_refused_before_talking) {
    lin_he_info info;
    lin_conv c = conv(1, 512, 7, 7, 512, 3, 1, 1, 1, 1, 30);
    CHECK(lin_he_conv_info(&info, &c, 49, LIN_HE_OUTS_DEFAULT) == PARLEY_E_UNSUPPORTED);
    CHECK(strstr(err_msg(), "noise budget") != NULL);
    c.wbits = 8;
    CHECK(lin_he_conv_info(&info, &c, 53, LIN_HE_OUTS_DEFAULT) == PARLEY_E_UNSUPPORTED);
    c.wbits = 40;
    CHECK(lin_he_conv_info(&info, &c, 37, LIN_HE_OUTS_DEFAULT) == PARLEY_E_ARG);  /* wbits > l */
    lin_conv d = conv(1, 1, 200, 200, 1, 11, 1, 0, 9, 1, 4); /* window 91x91 > N */
    CHECK(lin_he_conv_info(&info, &d, 32, LIN_HE_OUTS_DEFAULT) == PARLEY_E_UNSUPPORTED);
    CHECK_EQ(he_bytes(CONV(d), 32), 0);
    /* a full run: both sides fail at once, nothing is sent */
    prg g;
    harness_prg(&g, 7);
    lcase t = {.kind = K_CONV, .c = conv(1, 4, 4, 4, 4, 3, 1, 1, 1, 1, 8), .l = 60};
    CHECK(run_case(&t, 1, &g, 0) == PARLEY_E_UNSUPPORTED);
    CHECK(t.rc[0] == PARLEY_E_UNSUPPORTED && t.rc[1] == PARLEY_E_UNSUPPORTED);
    CHECK_EQ(t.bytes[0] + t.bytes[1], 0);
}

TEST(weights_outside_wbits_refused) {
    prg g;
    harness_prg(&g, 8);
    lcase t = {.kind = K_CONV, .c = conv(1, 2, 4, 4, 2, 3, 1, 1, 1, 1, 4), .l = 16};
    REQUIRE_OK(lin_conv_check(&t.c));
    /* run_case fills weights within wbits; shrink wbits after the fact */
    size_t nx = lin_conv_in_size(&t.c), nw = lin_conv_weight_size(&t.c),
           ny = lin_conv_out_size(&t.c);
    t.x[0] = mem_calloc(nx, 8);
    t.x[1] = mem_calloc(nx, 8);
    t.w = mem_calloc(nw, 8);
    t.y[0] = mem_alloc(ny, 8);
    t.y[1] = mem_alloc(ny, 8);
    REQUIRE(t.x[0] && t.x[1] && t.w && t.y[0] && t.y[1]);
    t.w[3] = 8; /* needs 5 signed bits */
    int rc = run2_party(lcase_party, &t, 1);
    CHECK(rc != 0);
    CHECK(t.rc[0] == PARLEY_E_ARG);
    CHECK(t.rc[1] < 0); /* the client sees the session end instead of waiting */
    /* The server says why: aborting its lanes must not replace the reason
     * with "the channel was aborted". */
    CHECK_MSG(strstr(t.msg[0], "weight 3 needs more than the declared 4 bits") != NULL,
              "server: %s", t.msg[0]);
    CHECK_MSG(strstr(t.msg[0], "aborted") == NULL, "server: %s", t.msg[0]);
    mem_free(t.x[0]);
    mem_free(t.x[1]);
    mem_free(t.w);
    mem_free(t.y[0]);
    mem_free(t.y[1]);
}

/* The session's declared coefficients: the flood covers them at 40 bits
 * together, both parties state the same level, and a layer that would
 * return more than declared is refused on both sides before any byte. */
TEST(session_outputs_declared) {
    prg g;
    harness_prg(&g, 11);
    lin_conv c = conv(1, 3, 8, 8, 4, 3, 1, 1, 1, 1, 6); /* 256 outputs */
    lcase t = {.kind = K_CONV, .c = c, .l = 24, .outs = 256};
    REQUIRE(run_case(&t, 1, &g, 0) == 0);
    lin_he_info info;
    REQUIRE_OK(lin_he_conv_info(&info, &c, 24, 256));
    CHECK_EQ(info.outputs, 256);
    double want = oracle_bits(256.0 * exp2(info.log2_h2));
    CHECK(want >= HE_STAT_BITS);
    CHECK(fabs(t.stat_bits[0] - want) < 1e-9 && fabs(t.stat_bits[1] - want) < 1e-9);
    CHECK(oracle_bits(256.0 * oracle_h2(info.beta, 6, oracle_taps(&c, &info), info.drop)) >=
          HE_STAT_BITS);
    /* a larger session floods more per coefficient (here: drops fewer bits
     * of the inputs, so the same flood covers less noise): 2^32 times the
     * coefficients, each 2^32 times closer in squared Hellinger distance,
     * 16 bits less noise (give or take the rounding of beta and drop) */
    lin_he_info big;
    REQUIRE_OK(lin_he_conv_info(&big, &c, 24, 1ULL << 40));
    CHECK(info.log2_h2 <= -2 * HE_STAT_BITS - 1 - 8);
    CHECK(big.log2_h2 <= -2 * HE_STAT_BITS - 1 - 40);
    CHECK_MSG(big.drop + 15 <= info.drop && big.drop + 17 >= info.drop, "drop %u at 2^8, %u at 2^40",
              info.drop, big.drop);
    /* one coefficient more than declared */
    lcase u = {.kind = K_CONV, .c = c, .l = 24, .outs = 255};
    CHECK(run_case(&u, 1, &g, 0) == PARLEY_E_ARG);
    CHECK(u.rc[0] == PARLEY_E_ARG && u.rc[1] == PARLEY_E_ARG);
    CHECK(strstr(err_msg(), "declared") != NULL);
    CHECK_EQ(u.bytes[0] + u.bytes[1], 0);
}

/* ---- the session's set-up through the back-end interface ---- */

typedef struct setup_case {
    const lin_ops *ops;
    uint64_t sent[2];
    int has_ctx[2];
    double stat_bits[2];
} setup_case;

static int setup_party(party *p, void *v) {
    setup_case *t = v;
    chan_stats s0, s1;
    party_stats(p, &s0);
    lin_backend be;
    TRY(lin_setup(&be, t->ops, p));
    party_stats(p, &s1);
    t->sent[p->role] = s1.bytes_sent - s0.bytes_sent;
    t->has_ctx[p->role] = be.ctx != NULL;
    lin_set_outputs(&be, 256);
    t->stat_bits[p->role] = lin_stat_bits(&be);
    lin_teardown(&be);
    return be.ops == NULL && be.ctx == NULL ? 0 : PARLEY_E_ARG; /* emptied */
}

/* lin_setup and lin_setup_cost agree with what goes on the wire, and the
 * flight model counts HE's key message as one flight of no inference
 * bytes; OT has nothing to set up and spends no statistical security. */
TEST(backend_setup_priced) {
    setup_case he = {.ops = &lin_he_ops};
    REQUIRE_OK(run2_party(setup_party, &he, 1));
    CHECK_EQ(he.sent[MPC_CLIENT] + he.sent[MPC_SERVER], lin_he_setup_bytes());
    CHECK_EQ(lin_setup_cost(&lin_he_ops, NULL), lin_he_setup_bytes());
    CHECK(he.has_ctx[0] && he.has_ctx[1]);
    CHECK(isinf(he.stat_bits[0]) && isinf(he.stat_bits[1])); /* no layer yet */
    CHECK(lin_spends_outputs(&lin_he_ops));
    setup_case ot = {.ops = &lin_ot_ops};
    REQUIRE_OK(run2_party(setup_party, &ot, 1));
    CHECK_EQ(ot.sent[0] + ot.sent[1], 0);
    CHECK_EQ(lin_setup_cost(&lin_ot_ops, NULL), 0);
    CHECK(!ot.has_ctx[0] && !ot.has_ctx[1]);
    CHECK(ot.stat_bits[0] == 0 && ot.stat_bits[1] == 0);
    CHECK(!lin_spends_outputs(&lin_ot_ops));
    const lin_ops *ops[2] = {&lin_ot_ops, &lin_he_ops};
    for (int i = 0; i < 2; i++) {
        fsim *fs;
        REQUIRE_OK(fsim_new(&fs, OT_BACKEND_IKNP, 1, NULL));
        uint64_t b = lin_setup_cost(ops[i], fs), sent[2];
        fsim_sent(fs, sent);
        CHECK_EQ(b, i ? lin_he_setup_bytes() : 0);
        CHECK_EQ(fsim_flights(fs), (uint64_t)i);
        CHECK_EQ(sent[0] + sent[1], 0);
        fsim_free(fs);
    }
}

/* ---- malformed peer messages ---- */

typedef struct bad {
    int what; /* 0: bad key magic, 1: residue >= q in an input ct, 2: short input, 3: output padding
               */
    int rc[2];
} bad;

static int bad_party(party *p, void *v) {
    bad *b = v;
    int me = p->role;
    lin_conv c = b->what == 3 ? conv(1, 2, 3, 3, 1, 3, 1, 1, 1, 1, 4) /* 9 outputs: padding */
                              : conv(1, 2, 4, 4, 2, 3, 1, 1, 1, 1, 4);
    uint64_t x[32] = {0}, w[36] = {0}, y[32];
    chan *ch = p->lanes[0].ot.ch;
    lin_he *h = NULL;
    int rc;
    if (b->what == 0) {
        if (me == MPC_CLIENT) {
            size_t n = (size_t)lin_he_setup_bytes();
            uint8_t *buf = mem_calloc(n, 1);
            memcpy(buf, "XXXX", 4);
            rc = chan_send(ch, buf, n);
            if (rc == 0) rc = chan_flush(ch);
            mem_free(buf);
        } else {
            rc = lin_he_setup(p, &h);
        }
        b->rc[me] = rc;
        lin_he_free(h);
        return 0;
    }
    rc = lin_he_setup(p, &h);
    if (rc < 0) return rc;
    lin_he_plan pl;
    if (lin_he_plan_make(&pl, &c, 16, LIN_HE_OUTS_DEFAULT) < 0) abort();
    if (b->what == 1 || b->what == 2) {
        if (me == MPC_CLIENT) {
            size_t n = (size_t)pl.bytes_c2s;
            uint8_t *buf = mem_alloc(n, 1);
            memset(buf, 0xff, n); /* every value all ones: out of range */
            rc = chan_send(ch, buf, b->what == 1 ? n : n / 2);
            if (rc == 0) rc = chan_flush(ch);
            if (b->what == 2) chan_abort(ch); /* and go away */
            mem_free(buf);
        } else {
            rc = he_run(p, h, y, x, CONV(c), w, 16);
        }
    } else {
        if (me == MPC_SERVER) {
            /* read the input, answer with non-zero padding everywhere */
            size_t n = (size_t)pl.bytes_c2s;
            uint8_t *buf = mem_alloc(n, 1);
            rc = chan_recv(ch, buf, n);
            mem_free(buf);
            size_t total = (size_t)pl.bytes_s2c;
            buf = mem_alloc(total, 1);
            memset(buf, 0xff, total);
            if (rc == 0) rc = chan_send(ch, buf, total);
            if (rc == 0) rc = chan_flush(ch);
            mem_free(buf);
        } else {
            rc = he_run(p, h, y, x, CONV(c), NULL, 16);
        }
    }
    lin_he_plan_free(&pl);
    b->rc[me] = rc;
    lin_he_free(h);
    return 0;
}

TEST(malformed_rejected) {
    bad b = {.what = 0};
    REQUIRE_OK(run2_party(bad_party, &b, 1));
    CHECK_EQ(b.rc[0], (uint64_t)(int64_t)PARLEY_E_PROTO);
    b = (bad){.what = 1};
    REQUIRE_OK(run2_party(bad_party, &b, 1));
    CHECK_EQ(b.rc[0], (uint64_t)(int64_t)PARLEY_E_PROTO);
    b = (bad){.what = 2};
    REQUIRE_OK(run2_party(bad_party, &b, 1));
    CHECK(b.rc[0] < 0); /* a peer that leaves mid-message ends the layer */
    b = (bad){.what = 3};
    REQUIRE_OK(run2_party(bad_party, &b, 1));
    CHECK_EQ(b.rc[1], (uint64_t)(int64_t)PARLEY_E_PROTO);
}

/* ---- the ImageNet networks ---- */

typedef struct shape {
    int kind;
    lin_conv c;
    lin_scale s;
    lin_fc f;
} shape;

#define MAX_SHAPES 256
static shape shapes[MAX_SHAPES];
static unsigned counts[MAX_SHAPES]; /* how often the network uses each */
static size_t nshapes;

static void add_conv(unsigned C, unsigned H, unsigned O, unsigned k, unsigned s, unsigned p,
                     unsigned wbits) {
    shape x = {.kind = K_CONV, .c = conv(1, C, H, H, O, k, s, p, 1, 1, wbits)};
    for (size_t i = 0; i < nshapes; i++)
        if (shapes[i].kind == K_CONV && memcmp(&shapes[i].c, &x.c, sizeof x.c) == 0) {
            counts[i]++;
            return;
        }
    PARLEY_CHECK(nshapes < MAX_SHAPES);
    counts[nshapes] = 1;
    shapes[nshapes++] = x;
}
static void add_scale(unsigned C, unsigned S, unsigned wbits) {
    shape x = {.kind = K_SCALE, .s = {1, C, S, wbits}};
    for (size_t i = 0; i < nshapes; i++)
        if (shapes[i].kind == K_SCALE && memcmp(&shapes[i].s, &x.s, sizeof x.s) == 0) {
            counts[i]++;
            return;
        }
    counts[nshapes] = 1;
    shapes[nshapes++] = x;
}
static void add_fc(unsigned K, unsigned O, unsigned wbits) {
    shape x = {.kind = K_FC, .f = {1, K, O, wbits}};
    counts[nshapes] = 1;
    shapes[nshapes++] = x;
}

/* SqueezeNet 1.1 (torchvision), l = 32, s = 9. */
static void squeezenet(unsigned wb) {
    add_conv(3, 224, 64, 3, 2, 0, wb);
    static const unsigned fire[][4] = {{64, 16, 64, 55},   {128, 16, 64, 55},  {128, 32, 128, 27},
                                       {256, 32, 128, 27}, {256, 48, 192, 13}, {384, 48, 192, 13},
                                       {384, 64, 256, 13}, {512, 64, 256, 13}};
    for (size_t i = 0; i < 8; i++) {
        unsigned cin = fire[i][0], sq = fire[i][1], e = fire[i][2], h = fire[i][3];
        add_conv(cin, h, sq, 1, 1, 0, wb);
        add_conv(sq, h, e, 1, 1, 0, wb);
        add_conv(sq, h, e, 3, 1, 1, wb);
    }
    add_conv(512, 13, 1000, 1, 1, 0, wb);
}

/* ResNet50: torchvision (v1.5, stride in the 3x3) and the original v1
 * (stride in the first 1x1), l = 37, s = 12. */
static void resnet50_v(unsigned wb, int v1) {
    {
        add_conv(3, 224, 64, 7, 2, 3, wb);
        unsigned H = 56, cin = 64;
        static const unsigned st[4][2] = {{64, 3}, {128, 4}, {256, 6}, {512, 3}};
        for (int s = 0; s < 4; s++)
            for (unsigned b = 0; b < st[s][1]; b++) {
                unsigned w = st[s][0], str = (b == 0 && s > 0) ? 2 : 1, Ho = (H - 1) / str + 1;
                if (!v1) {
                    add_conv(cin, H, w, 1, 1, 0, wb);
                    add_conv(w, H, w, 3, str, 1, wb);
                } else {
                    add_conv(cin, H, w, 1, str, 0, wb);
                    add_conv(w, Ho, w, 3, 1, 1, wb);
                }
                add_conv(w, Ho, 4 * w, 1, 1, 0, wb);
                if (b == 0) add_conv(cin, H, 4 * w, 1, str, 0, wb);
                cin = 4 * w;
                H = Ho;
            }
    }
}
static void resnet50(unsigned wb) {
    resnet50_v(wb, 0);
    resnet50_v(wb, 1);
    add_fc(2048, 1000, wb);
}

/* DenseNet121 (torchvision), l = 32, s = 11: BN before each 1x1 conv is a
 * scale layer (it follows a concatenation); the BN after it is folded. */
static void densenet121(unsigned wb) {
    add_conv(3, 224, 64, 7, 2, 3, wb);
    unsigned H = 56, c = 64;
    static const unsigned blocks[4] = {6, 12, 24, 16};
    for (int bi = 0; bi < 4; bi++) {
        for (unsigned j = 0; j < blocks[bi]; j++) {
            add_scale(c, H * H, wb);
            add_conv(c, H, 128, 1, 1, 0, wb);
            add_conv(128, H, 32, 3, 1, 1, wb);
            c += 32;
        }
        add_scale(c, H * H, wb);
        if (bi < 3) {
            add_conv(c, H, c / 2, 1, 1, 0, wb);
            c /= 2;
            H /= 2;
        }
    }
    add_fc(1024, 1000, wb);
}

static void run_shapes(unsigned l, size_t first, size_t step, size_t limit) {
    prg g;
    harness_prg(&g, 100 + l);
    size_t done = 0;
    for (size_t i = first; i < nshapes && done < limit; i += step, done++) {
        lcase t = {
            .kind = shapes[i].kind, .c = shapes[i].c, .s = shapes[i].s, .f = shapes[i].f, .l = l};
        int rc = run_case(&t, 2, &g, 0);
        const lin_conv *c = &shapes[i].c;
        if (t.kind == K_CONV)
            CHECK_MSG(rc == 0, "conv C%u H%u O%u k%u s%u p%u (l = %u): %s", c->C, c->H, c->O, c->kh,
                      c->sh, c->pt, l, rc > 0 ? "wrong outputs" : err_msg());
        else
            CHECK_MSG(rc == 0, "%s layer %zu (l = %u): %s", t.kind == K_FC ? "fc" : "scale", i, l,
                      rc > 0 ? "wrong outputs" : err_msg());
    }
}

/* Realistic weight widths: the fixed-point scale plus two bits. */
TEST(slow_squeezenet) {
    nshapes = 0;
    squeezenet(11);
    run_shapes(32, 0, 1, MAX_SHAPES);
}
TEST(slow_resnet50) {
    nshapes = 0;
    resnet50(14);
    run_shapes(37, 0, 1, MAX_SHAPES);
}
TEST(slow_densenet121) {
    nshapes = 0;
    densenet121(13);
    run_shapes(32, 0, 1, MAX_SHAPES);
}
/* A representative subset that always runs: ResNet50's last stage (its
 * largest fan-in), its FC, SqueezeNet's last fire module, DenseNet's widest
 * scale layer. */
TEST(imagenet_sample) {
    nshapes = 0;
    add_conv(512, 7, 512, 3, 1, 1, 14);
    add_conv(2048, 7, 512, 1, 1, 0, 14);
    add_fc(2048, 1000, 14);
    run_shapes(37, 0, 1, MAX_SHAPES);
    nshapes = 0;
    add_conv(64, 13, 256, 3, 1, 1, 11);
    add_conv(512, 13, 64, 1, 1, 0, 11);
    add_scale(1024, 49, 13);
    run_shapes(32, 0, 1, MAX_SHAPES);
}

/* The largest fan-in of the three networks with every weight at an extreme
 * of 15 bits and inputs at the extremes: the worst case the noise budget
 * is sized for, through the whole protocol. */
TEST(largest_fanin_worst_case) {
    prg g;
    harness_prg(&g, 10);
    lin_conv c = conv(1, 512, 7, 7, 512, 3, 1, 1, 1, 1, 15);
    lcase t = {.kind = K_CONV, .c = c, .l = 37};
    int rc = run_case(&t, 2, &g, 1);
    CHECK_MSG(rc == 0, "conv: %s", rc > 0 ? "wrong outputs" : err_msg());
    lin_fc f = {1, 2048, 1000, 15};
    lcase u = {.kind = K_FC, .f = f, .l = 37};
    rc = run_case(&u, 2, &g, 1);
    CHECK_MSG(rc == 0, "fc: %s", rc > 0 ? "wrong outputs" : err_msg());
}

/* ---- statistical security of a whole inference ----
 *
 * For each ImageNet network at its (l, wbits): the coefficients an
 * inference returns (checked against `parley inspect` of the ONNX models),
 * every layer planned for that session, and the squared Hellinger bounds
 * of all of them added up by an independent statement of the bound
 * (he_oracle.h) from the planner's beta: at least 40 bits, and the
 * planner's own figure agrees. With the first version's per-coefficient
 * beta and uniform flood the union bound is below 40 bits (2^-41 per
 * coefficient, 2^21 to 2^24 coefficients). */
static void network_security(const char *name, unsigned l, uint64_t want_outs) {
    uint64_t outs = 0;
    for (size_t i = 0; i < nshapes; i++) {
        lin_conv c = shapes[i].kind == K_CONV  ? shapes[i].c
                     : shapes[i].kind == K_FC ? lin_he_fc_as_conv(&shapes[i].f)
                                              : lin_he_scale_as_conv(&shapes[i].s);
        REQUIRE_OK(lin_conv_check(&c));
        outs += (uint64_t)counts[i] * lin_conv_out_size(&c);
    }
    CHECK_MSG(outs == want_outs, "%s: %llu coefficients, the model returns %llu", name,
              (unsigned long long)outs, (unsigned long long)want_outs);
    double h2_new = 0, sd_old = 0, h2_code = 0;
    for (size_t i = 0; i < nshapes; i++) {
        lin_conv c = shapes[i].kind == K_CONV  ? shapes[i].c
                     : shapes[i].kind == K_FC ? lin_he_fc_as_conv(&shapes[i].f)
                                              : lin_he_scale_as_conv(&shapes[i].s);
        REQUIRE_OK(oracle_layer(&c, l, outs, counts[i], &h2_new, &sd_old, &h2_code));
    }
    double bits = oracle_bits(h2_new), old = -log2(sd_old), code = oracle_bits(h2_code);
    printf("  %s: 2^%.2f coefficients; statistical security %.2f bits (planner: %.2f), "
           "per-coefficient sizing: %.2f bits\n",
           name, log2((double)outs), bits, code, old);
    CHECK(bits >= HE_STAT_BITS);
    CHECK(fabs(code - bits) < 1e-6);
    CHECK(old < HE_STAT_BITS);
}

TEST(inference_statistical_security) {
    nshapes = 0;
    squeezenet(11);
    network_security("SqueezeNet 1.1 (32, 9)", 32, 2589352);
    nshapes = 0;
    resnet50_v(15, 0);
    add_fc(2048, 1000, 15);
    network_security("ResNet50 (37, 12)", 37, 11114984);
    nshapes = 0;
    densenet121(14);
    network_security("DenseNet121 (32, 11)", 32, 17449704);
}
