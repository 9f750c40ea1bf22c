/* nl: every layer function against src/nl/plain.h, bit for bit: all values
 * and all share splits for l <= 8 (every s, every extension, many divisors),
 * edge and random values for the wide widths of the issue, the sizes of the
 * issue, several lanes, pools of 2x2, 3x3 (strides 1 and 2, padding) and
 * 13x13 windows, exact wire bytes of the fused paths, and the argument
 * checks. */
#include "harness.h"
#include "twoparty.h"

#include "mpc/flights.h"
#include "mpc/mill.h"
#include "mpc/otb.h"
#include "nl/ctdiv.h"
#include "nl/lane.h"
#include "nl/nl.h"
#include "util/bits.h"
#include "util/mem.h"

/* How the *_bytes predictions are costed on this run's backend; the COTs
 * they count (silent) go to pred_cots, which check_cots compares with what
 * both parties' instances handed out. */
static uint64_t pred_cots;
#define OC (&(ot_costing){.backend = test_backend(), .cots = &pred_cots})

static int check_cots(const char *what) {
    uint64_t a = run2_party_sil[0].cots, b = run2_party_sil[1].cots;
    CHECK_MSG(a == pred_cots && b == pred_cots, "%s: %llu and %llu COTs used, predicted %llu", what,
              (unsigned long long)a, (unsigned long long)b, (unsigned long long)pred_cots);
    return a != pred_cots || b != pred_cots;
}

static const size_t sizes[] = {0, 1, 7, 8, 9, 1000};
#define NSIZES (sizeof sizes / sizeof *sizes)
static const unsigned wide[] = {2, 16, 31, 32, 37, 41, 63, 64};
#define NWIDE (sizeof wide / sizeof *wide)

enum { OP_RELU, OP_RELU_FLIP, OP_TRUNC, OP_RELU_TRUNC, OP_TR, OP_EXT_U, OP_EXT_S, OP_DIV, OP_DIV_EACH, OP_ACT };

typedef struct ew {
    int op;
    unsigned m; /* millionaire digit bits (0: default) */
    size_t n;
    unsigned l, s, l2;
    uint64_t d;
    const uint64_t *dv;
    const nl_actp *act;
    const uint8_t *flip; /* OP_RELU_FLIP: the flips, held by party flip_role */
    int flip_role;
    uint64_t *xd[2];     /* OP_RELU_FLIP: the DReLU's input at width wd, or NULL */
    unsigned wd;
    uint64_t *x[2], *y[2];
} ew;

static int ew_party(party *p, void *arg) {
    ew *t = arg;
    int r = p->role;
    for (unsigned i = 0; i < p->nlanes; i++) p->lanes[i].mill_m = t->m;
    switch (t->op) {
    case OP_RELU:
        return nl_relu(p, t->y[r], t->x[r], t->n, t->l);
    case OP_RELU_FLIP:
        return nl_relu_flip(p, t->y[r], t->x[r], t->xd[0] ? t->xd[r] : NULL, t->wd,
                            r == t->flip_role ? t->flip : NULL, t->n, t->l);
    case OP_TRUNC:
        return nl_trunc(p, t->y[r], t->x[r], t->n, t->l, t->s);
    case OP_RELU_TRUNC:
        return nl_relu_trunc(p, t->y[r], t->x[r], t->n, t->l, t->s);
    case OP_TR:
        return nl_trunc_reduce(p, t->y[r], t->x[r], t->n, t->l, t->s);
    case OP_EXT_U:
    case OP_EXT_S:
        return nl_extend(p, t->y[r], t->l2, t->x[r], t->n, t->l, t->op == OP_EXT_S);
    case OP_DIV:
        return nl_div(p, t->y[r], t->x[r], t->n, t->l, t->d);
    case OP_ACT:
        return nl_act(p, t->y[r], t->x[r], t->n, t->l, t->act);
    default:
        return nl_div_each(p, t->y[r], t->x[r], t->dv, t->n, t->l);
    }
}

/* The plaintext result for element i of value x. */
static uint64_t ew_plain(const ew *t, uint64_t x, size_t i) {
    uint64_t y;
    switch (t->op) {
    case OP_RELU:
        nl_relu_plain(&y, &x, 1, t->l);
        return y;
    case OP_RELU_FLIP:
        nl_relu_flip_plain(&y, &x, &t->flip[i], 1, t->l);
        return y;
    case OP_TRUNC:
        nl_trunc_plain(&y, &x, 1, t->l, t->s);
        return y;
    case OP_RELU_TRUNC:
        nl_relu_plain(&y, &x, 1, t->l);
        nl_trunc_plain(&y, &y, 1, t->l, t->s);
        return y;
    case OP_TR:
        nl_trunc_plain(&y, &x, 1, t->l, t->s);
        return y & bits_mask(t->l - t->s);
    case OP_EXT_U:
        return x & bits_mask(t->l2);
    case OP_EXT_S:
        return (uint64_t)bits_signed(x, t->l) & bits_mask(t->l2);
    case OP_DIV:
        nl_div_plain(&y, &x, 1, t->l, t->d);
        return y;
    case OP_ACT:
        nl_act_plain(&y, &x, 1, t->l, t->act);
        return y;
    default:
        nl_div_plain(&y, &x, 1, t->l, t->dv[i]);
        return y;
    }
}

static unsigned out_width(const ew *t) {
    if (t->op == OP_TR) return t->l - t->s;
    if (t->op == OP_EXT_U || t->op == OP_EXT_S) return t->l2;
    return t->l;
}

/* The exact bytes nl.h predicts for this call. */
static uint64_t ew_predict(const ew *t, unsigned lanes) {
    switch (t->op) {
    case OP_RELU: return nl_relu_bytes(OC, t->n, t->l, lanes);
    case OP_RELU_FLIP: return nl_relu_flip_bytes(OC, t->n, t->l, t->xd[0] ? t->wd : 0, lanes);
    case OP_TRUNC: return nl_trunc_bytes(OC, t->n, t->l, t->s, lanes);
    case OP_RELU_TRUNC: return nl_relu_trunc_bytes(OC, t->n, t->l, t->s, lanes);
    case OP_TR: return nl_trunc_reduce_bytes(OC, t->n, t->l, t->s, lanes);
    case OP_EXT_U:
    case OP_EXT_S: return nl_extend_bytes(OC, t->n, t->l, t->l2, lanes);
    case OP_DIV: return nl_div_bytes(OC, t->n, t->l, t->d, lanes);
    case OP_ACT: return nl_act_bytes(OC, t->n, t->l, t->act, lanes);
    default: return nl_div_each_bytes(OC, t->dv, t->n, t->l, lanes);
    }
}

/* Both parties' bytes of the last run2_party, without the silent batches
 * (run2_party checks those against ferret_batch_bytes). */
static uint64_t measured_bytes(void) {
    return run2_party_stats[0].bytes_sent + run2_party_stats[1].bytes_sent - run2_party_gen_bytes();
}

/* Run on the given shares and compare with plain; returns 0 if all match.
 * With the default millionaire digits, the bytes must be the prediction. */
static int ew_check(ew *t, unsigned lanes) {
    for (int r = 0; r < 2; r++) t->y[r] = mem_alloc(t->n + 1, 8);
    int rc = run2_party(ew_party, t, lanes);
    CHECK_MSG(rc == 0, "op %d l=%u s=%u: %s", t->op, t->l, t->s, err_msg());
    unsigned lo = out_width(t);
    int bad = rc != 0;
    /* the byte functions cost the default digits, and COTs only */
    if (rc == 0 && t->m == 0 && !run2_party_vole4) {
        pred_cots = 0;
        uint64_t want = ew_predict(t, lanes), got = measured_bytes();
        bad |= check_cots("element-wise");
        CHECK_MSG(got == want, "op %d l=%u s=%u l2=%u d=%llu n=%zu lanes=%u: %llu bytes, predicted %llu",
                  t->op, t->l, t->s, t->l2, (unsigned long long)t->d, t->n, lanes,
                  (unsigned long long)got, (unsigned long long)want);
        bad |= got != want;
    }
    for (size_t i = 0; i < t->n && !bad; i++) {
        uint64_t x = (t->x[0][i] + t->x[1][i]) & bits_mask(t->l);
        uint64_t want = ew_plain(t, x, i), got = (t->y[0][i] + t->y[1][i]) & bits_mask(lo);
        if (got != want || t->y[0][i] > bits_mask(lo) || t->y[1][i] > bits_mask(lo)) {
            harness_fail(__FILE__, __LINE__,
                         "op %d l=%u s=%u l2=%u d=%llu: x=0x%llx (shares 0x%llx 0x%llx) got 0x%llx "
                         "want 0x%llx",
                         t->op, t->l, t->s, t->l2,
                         (unsigned long long)(t->dv ? t->dv[i] : t->d), (unsigned long long)x,
                         (unsigned long long)t->x[0][i], (unsigned long long)t->x[1][i],
                         (unsigned long long)got, (unsigned long long)want);
            bad = 1;
        }
    }
    for (int r = 0; r < 2; r++) mem_free(t->y[r]);
    return bad;
}

/* All values x times all splits x_S (4^l elements). */
static void exhaustive_shares(ew *t) {
    t->n = (size_t)1 << (2 * t->l);
    for (int r = 0; r < 2; r++) t->x[r] = mem_alloc(t->n, 8);
    for (size_t i = 0; i < t->n; i++) {
        uint64_t v = i >> t->l, s = i & bits_mask(t->l);
        t->x[0][i] = s;
        t->x[1][i] = (v - s) & bits_mask(t->l);
    }
}

/* Edge values (0, +-1, 2^(l-1), 2^(l-1) - 1, -2^(l-1), ...) then random,
 * with random splits; a few shares are themselves edge values. */
static void edge_shares(ew *t, prg *g, size_t n) {
    t->n = n;
    for (int r = 0; r < 2; r++) t->x[r] = mem_alloc(n + 1, 8);
    uint64_t m = bits_mask(t->l), h = 1ULL << (t->l - 1);
    uint64_t e[] = {0, 1, m, h, h - 1, h + 1, m - 1, 2, 3, h - 2};
    uint64_t *x = mem_alloc(n + 1, 8);
    prg_ring(g, x, n, t->l);
    for (size_t i = 0; i < n; i++) {
        if (i < 20) x[i] = e[i % 10] & m;
        if (i % 7 == 3) x[i] = (x[i] >> (t->l / 2)) & m; /* small magnitudes */
        if (i % 7 == 5) x[i] = (0 - (x[i] >> (t->l / 2))) & m;
    }
    prg_ring(g, t->x[0], n, t->l);
    for (size_t i = 10; i < n && i < 20; i++) t->x[0][i] = e[(i * 3) % 10] & m;
    for (size_t i = 0; i < n; i++) t->x[1][i] = (x[i] - t->x[0][i]) & m;
    mem_free(x);
}

static void ew_free(ew *t) {
    for (int r = 0; r < 2; r++) mem_free(t->x[r]);
}

/* ---- ReLU ---- */

TEST(relu_exhaustive) {
    for (unsigned l = 1; l <= 8; l++) {
        ew t = {.op = OP_RELU, .l = l};
        exhaustive_shares(&t);
        int bad = ew_check(&t, 1);
        ew_free(&t);
        if (bad) return;
    }
}

TEST(relu_wide) {
    prg g;
    harness_prg(&g, 10);
    for (unsigned it = 0; it < harness_iters(1); it++) /* PARLEY_TEST_ITERS */
    for (size_t w = 0; w < NWIDE; w++)
        for (size_t s = 0; s < NSIZES; s++) {
            ew t = {.op = OP_RELU, .l = wide[w]};
            edge_shares(&t, &g, sizes[s] < 20 ? sizes[s] : sizes[s]);
            int bad = ew_check(&t, s == 5 ? 3 : 1);
            ew_free(&t);
            if (bad) return;
        }
    prg_clear(&g);
}

/* The leaves on 4-bit VOLE (ot_lane_opts.vole4, the toy set so batches
 * of both generators run out in the middle): ReLU, truncation and
 * ReLU-truncation against plaintext, every value and split at small l,
 * edge and random values at the widths of the networks, one and two
 * lanes. Bytes are not checked: the cost model counts COTs only. */
TEST(leaves_on_vole4) {
    run2_party_vole4 = &VOLE4_TOY;
    static const int ops[] = {OP_RELU, OP_TRUNC, OP_RELU_TRUNC};
    int bad = 0;
    for (int o = 0; o < 3 && !bad; o++)
        for (unsigned l = 2; l <= 6 && !bad; l += 2) {
            ew t = {.op = ops[o], .l = l, .s = ops[o] == OP_RELU ? 0 : 1};
            exhaustive_shares(&t);
            bad = ew_check(&t, 1 + (l & 2) / 2);
            ew_free(&t);
        }
    prg g;
    harness_prg(&g, 40);
    static const unsigned ls[] = {17, 32, 37, 64};
    for (int o = 0; o < 3 && !bad; o++)
        for (size_t w = 0; w < 4 && !bad; w++) {
            ew t = {.op = ops[o], .l = ls[w], .s = ops[o] == OP_RELU ? 0 : 12};
            edge_shares(&t, &g, w == 1 ? 100000 : 3000);
            bad = ew_check(&t, w == 1 ? 2 : 1);
            ew_free(&t);
        }
    prg_clear(&g);
    run2_party_vole4 = NULL;
}

/* ReLU with one party's private flips (a batch norm's signs): min(x, 0)
 * where flipped, whichever party holds them, every value and split at
 * small l, edge and random values at every width. */
static uint8_t *random_flips(prg *g, size_t n) {
    uint8_t *f = mem_alloc(n + 1, 1);
    prg_bytes(g, f, n + 1);
    for (size_t i = 0; i <= n; i++) f[i] &= (uint8_t)(1 | (i & 2) << 6); /* junk above bit 0 */
    return f;
}

TEST(relu_flip_exhaustive) {
    prg g;
    harness_prg(&g, 31);
    for (unsigned l = 1; l <= 8; l++)
        for (int role = 0; role < 2; role++) {
            ew t = {.op = OP_RELU_FLIP, .l = l, .flip_role = role};
            exhaustive_shares(&t);
            uint8_t *f = random_flips(&g, t.n);
            t.flip = f;
            int bad = ew_check(&t, 1);
            ew_free(&t);
            mem_free(f);
            if (bad) return;
        }
    prg_clear(&g);
}

TEST(relu_flip_wide) {
    prg g;
    harness_prg(&g, 32);
    for (size_t w = 0; w < NWIDE; w++)
        for (size_t s = 0; s < NSIZES; s++) {
            ew t = {.op = OP_RELU_FLIP, .l = wide[w], .flip_role = (int)(s & 1)};
            edge_shares(&t, &g, sizes[s]);
            uint8_t *f = random_flips(&g, t.n);
            t.flip = f;
            int bad = ew_check(&t, s == 5 ? 3 : 1);
            ew_free(&t);
            mem_free(f);
            if (bad) return;
        }
    prg_clear(&g);
}

/* The DReLU taken at a narrower width wd of a second input with x's sign
 * (a batch norm's ReLU on bounded inputs): x in [-2^(wd-1), 2^(wd-1)),
 * edges included, as its own DReLU input, at several (l, wd) and n = 0, 1
 * and 1000, either party holding the flips; bytes as nl_relu_flip_bytes. */
TEST(relu_flip_narrow) {
    prg g;
    harness_prg(&g, 34);
    static const unsigned lw[][2] = {{8, 2}, {8, 5}, {16, 9}, {32, 22}, {37, 26}, {64, 40}, {64, 63}};
    for (size_t k = 0; k < 3 * (sizeof lw / sizeof *lw); k++) {
        unsigned l = lw[k / 3][0], wd = lw[k / 3][1];
        ew t = {.op = OP_RELU_FLIP, .l = l, .wd = wd, .flip_role = (int)(k & 1)};
        size_t n = (size_t[]){0, 1, 1000}[k % 3];
        t.n = n;
        uint64_t m = bits_mask(l), h = 1ULL << (wd - 1), *x = mem_alloc(n + 1, 8);
        prg_ring(&g, x, n, 64);
        uint64_t e[] = {0, 1, h - 1, 0 - h, 0 - (uint64_t)1, h - 2, 2 - h};
        for (size_t i = 0; i < n; i++) {
            int64_t v = (int64_t)(x[i] % (2 * h)) - (int64_t)h; /* in [-h, h) */
            x[i] = (i < 7 ? e[i] : (uint64_t)v) & m;
        }
        for (int r = 0; r < 2; r++) t.x[r] = mem_alloc(n + 1, 8);
        prg_ring(&g, t.x[0], n, l);
        for (size_t i = 0; i < n; i++) t.x[1][i] = (x[i] - t.x[0][i]) & m;
        t.xd[0] = t.x[0];
        t.xd[1] = t.x[1];
        uint8_t *f = random_flips(&g, n);
        t.flip = f;
        int bad = ew_check(&t, k % 2 ? 2 : 1);
        ew_free(&t);
        mem_free(f);
        mem_free(x);
        if (bad) return;
    }
    prg_clear(&g);
}

/* ---- truncation ---- */

static void trunc_exhaustive(int op) {
    for (unsigned l = 1; l <= 8; l++)
        for (unsigned s = 0; s <= l + 1; s++) {
            if (op == OP_TR && s >= l) continue;
            ew t = {.op = op, .l = l, .s = s};
            exhaustive_shares(&t);
            int bad = ew_check(&t, 1);
            ew_free(&t);
            if (bad) return;
        }
}

TEST(trunc_exhaustive) { trunc_exhaustive(OP_TRUNC); }
TEST(relu_trunc_exhaustive) { trunc_exhaustive(OP_RELU_TRUNC); }
TEST(trunc_reduce_exhaustive) { trunc_exhaustive(OP_TR); }

static void trunc_wide(int op, uint64_t label) {
    prg g;
    harness_prg(&g, label);
    for (unsigned it = 0; it < harness_iters(1); it++) /* PARLEY_TEST_ITERS */
    for (size_t w = 0; w < NWIDE; w++) {
        unsigned l = wide[w];
        unsigned ss[] = {0, 1, 12, l / 2, l - 1, l, 9, 11};
        for (int k = 0; k < 8; k++) {
            unsigned s = ss[k] > l ? l : ss[k];
            if (op == OP_TR && s >= l) continue;
            ew t = {.op = op, .l = l, .s = s};
            edge_shares(&t, &g, sizes[(w + (size_t)k) % NSIZES] + 40);
            int bad = ew_check(&t, k == 3 ? 2 : 1);
            ew_free(&t);
            if (bad) return;
        }
    }
    prg_clear(&g);
}

TEST(trunc_wide) { trunc_wide(OP_TRUNC, 11); }
TEST(relu_trunc_wide) { trunc_wide(OP_RELU_TRUNC, 12); }
TEST(trunc_reduce_wide) { trunc_wide(OP_TR, 13); }

TEST(trunc_sizes) {
    prg g;
    harness_prg(&g, 14);
    for (size_t s = 0; s < NSIZES; s++)
        for (int op = OP_TRUNC; op <= OP_RELU_TRUNC; op++) {
            ew t = {.op = op, .l = 37, .s = 12};
            edge_shares(&t, &g, sizes[s]);
            int bad = ew_check(&t, 1 + (unsigned)(s % 3));
            ew_free(&t);
            if (bad) return;
        }
    prg_clear(&g);
}

/* Every layer's millionaires with digits of 1, 2, 3 and 4 bits (the
 * default picks its own, mill.h). */
TEST(digit_sizes_exhaustive) {
    static const int ops[] = {OP_RELU, OP_TRUNC, OP_RELU_TRUNC, OP_EXT_S, OP_DIV};
    for (unsigned m = 1; m <= 4; m++)
        for (unsigned l = 1; l <= 6; l++)
            for (int k = 0; k < 5; k++) {
                ew t = {.op = ops[k], .m = m, .l = l, .s = l / 2, .l2 = l + 3, .d = 3 + l};
                exhaustive_shares(&t);
                int bad = ew_check(&t, 1);
                ew_free(&t);
                if (bad) return;
            }
}

/* ---- extension ---- */

static void extend_exhaustive(unsigned lo, unsigned hi) {
    for (unsigned l = lo; l <= hi; l++) {
        unsigned l2s[] = {l, l + 1, l + 2, l + 5, 16, 64, l > 1 ? l - 1 : 1};
        for (int k = 0; k < 7; k++)
            for (int op = OP_EXT_U; op <= OP_EXT_S; op++) {
                ew t = {.op = op, .l = l, .l2 = l2s[k]};
                exhaustive_shares(&t);
                int bad = ew_check(&t, 1);
                ew_free(&t);
                if (bad) return;
            }
    }
}

TEST(extend_exhaustive_to_7_bits) { extend_exhaustive(1, 7); }
TEST(extend_exhaustive_8_bits) { extend_exhaustive(8, 8); }

TEST(extend_wide) {
    prg g;
    harness_prg(&g, 15);
    for (unsigned it = 0; it < harness_iters(1); it++) /* PARLEY_TEST_ITERS */
    for (size_t w = 0; w < NWIDE; w++) {
        unsigned l = wide[w];
        unsigned l2s[] = {l + 1, l + 7, 64, 37};
        for (int k = 0; k < 4; k++)
            for (int op = OP_EXT_U; op <= OP_EXT_S; op++) {
                unsigned l2 = l2s[k] > 64 ? 64 : l2s[k];
                ew t = {.op = op, .l = l, .l2 = l2};
                edge_shares(&t, &g, sizes[(w + (size_t)k) % NSIZES] + 30);
                int bad = ew_check(&t, 1);
                ew_free(&t);
                if (bad) return;
            }
    }
    prg_clear(&g);
}

/* ---- division ---- */

/* The constant-time divider against the divide instruction. */
TEST(ctdiv_matches_division) {
    prg g;
    harness_prg(&g, 18);
    uint64_t ds[64] = {1, 2, 3, 5, 6, 7, 9, 10, 49, 169, 255, 256, 257, 641, 65535, 65537,
                       (1ULL << 32) - 1, (1ULL << 32) + 1, (1ULL << 63) - 1, 1ULL << 63,
                       (1ULL << 63) + 1, ~0ULL, ~0ULL - 1, 3074457345618258602ULL};
    for (int i = 24; i < 64; i++) ds[i] = prg_u64(&g) >> (i % 60);
    for (int i = 0; i < 64; i++) {
        if (!ds[i]) ds[i] = 11;
        ctdiv c;
        ctdiv_init(&c, ds[i]);
        uint64_t xs[] = {0, 1, ds[i] - 1, ds[i], ds[i] + 1, ~0ULL, ~0ULL - 1, 1ULL << 63,
                         (1ULL << 63) - 1, 2 * ds[i], 2 * ds[i] - 1};
        for (int k = 0; k < 11 + 2000; k++) {
            uint64_t x = k < 11 ? xs[k] : prg_u64(&g) >> (k % 64);
            CHECK_MSG(ctdiv_u(&c, x) == x / ds[i], "%llu / %llu", (unsigned long long)x,
                      (unsigned long long)ds[i]);
            int64_t v = (int64_t)x;
            __int128 q = (__int128)v / ds[i];
            if ((__int128)v % ds[i] != 0 && v < 0) q--;
            CHECK_EQ(ctdiv_floor(&c, v), (int64_t)q);
        }
        if (harness_failed()) return;
    }
    prg_clear(&g);
}

static const uint64_t divisors[] = {1, 2, 3, 9, 49, 169, 4, 8, 64, 5, 7, 255, 256, 1000};
#define NDIV (sizeof divisors / sizeof *divisors)

static void div_exhaustive(unsigned lo, unsigned hi) {
    for (unsigned l = lo; l <= hi; l++)
        for (size_t k = 0; k < NDIV; k++) {
            ew t = {.op = OP_DIV, .l = l, .d = divisors[k]};
            exhaustive_shares(&t);
            int bad = ew_check(&t, 1);
            ew_free(&t);
            if (bad) return;
        }
}

TEST(div_exhaustive_to_7_bits) { div_exhaustive(1, 7); }
TEST(div_exhaustive_8_bits) { div_exhaustive(8, 8); }

/* One divisor per element: the general Div_ring path for every d,
 * including d = 1, powers of two and d > 2^l. */
TEST(div_each_exhaustive) {
    for (unsigned l = 1; l <= 8; l++) {
        ew t = {.op = OP_DIV_EACH, .l = l};
        exhaustive_shares(&t);
        uint64_t *dv = mem_alloc(t.n, 8);
        for (size_t i = 0; i < t.n; i++) dv[i] = divisors[(i * 7 + i / 5) % NDIV];
        t.dv = dv;
        int bad = ew_check(&t, 1);
        ew_free(&t);
        mem_free(dv);
        if (bad) return;
    }
}

TEST(div_wide) {
    prg g;
    harness_prg(&g, 16);
    for (unsigned it = 0; it < harness_iters(1); it++) /* PARLEY_TEST_ITERS */
    for (size_t w = 0; w < NWIDE; w++) {
        unsigned l = wide[w];
        uint64_t ds[] = {1, 2, 3, 9, 49, 169, 1ULL << (l / 2), (1ULL << (l - 1)) + 1,
                         l < 62 ? (1ULL << (l - 1)) - 1 : (1ULL << 61) - 1, 1ULL << (l - 1)};
        for (int k = 0; k < 10; k++) {
            if (ds[k] == 0) continue;
            ew t = {.op = OP_DIV, .l = l, .d = ds[k]};
            edge_shares(&t, &g, sizes[(w + (size_t)k) % NSIZES] + 30);
            int bad = ew_check(&t, k == 4 ? 2 : 1);
            ew_free(&t);
            if (bad) return;
        }
        /* Mixed divisors in one batch. */
        ew t = {.op = OP_DIV_EACH, .l = l};
        edge_shares(&t, &g, 300);
        uint64_t *dv = mem_alloc(t.n, 8);
        for (size_t i = 0; i < t.n; i++) dv[i] = ds[i % 6] + (i % 3);
        t.dv = dv;
        int bad = ew_check(&t, 2);
        ew_free(&t);
        mem_free(dv);
        if (bad) return;
    }
    prg_clear(&g);
}

/* ---- wire cost of the fused paths (n a multiple of 128: no padding) ---- */

/* The formulas' pieces on the run's backend (without the silent COTs'
 * making, which the byte counts below leave out as well). */
static uint64_t mill_bits(unsigned k) {
    mill_cost c;
    mill_cost_of(&c, test_backend(), k, 0, 1, 0); /* the default: automatic digits */
    return (uint64_t)c.bits;
}

/* The MSB on k bits with the carry of the low s bits (mill.h's split). */
static uint64_t mill_split_bits(unsigned k, unsigned s) {
    mill_cost c;
    mill_cost_split(&c, test_backend(), k, 0, s);
    return (uint64_t)c.bits;
}
static uint64_t cot(unsigned w) { return (uint64_t)otb_cot_bits(test_backend(), w); }
static uint64_t kk(unsigned N, unsigned l) { return (uint64_t)otb_kk_bits(test_backend(), N, l); }

/* Bytes both ways in the last run2_party, without the silent batches. */
static uint64_t ot_bytes(void) {
    return run2_party_stats[0].bytes_sent + run2_party_stats[1].bytes_sent - run2_party_gen_bytes();
}

TEST(bytes_match_formulas) {
    prg g;
    harness_prg(&g, 17);
    struct {
        int op;
        unsigned l, s;
        uint64_t bits;
    } cases[] = {
        {OP_RELU, 32, 0, mill_bits(31) + 2 * cot(32)},
        {OP_RELU, 37, 0, mill_bits(36) + 2 * cot(37)},
        {OP_RELU_TRUNC, 37, 12,
         mill_split_bits(36, 12) +
             (nl_carry_b2a(test_backend(), 37, 12, 0, 25)
                  ? cot(25) + 2 * cot(25) + cot(12) /* the carry's B2A in the tree, the MUX, the
                                                       extension */
              : nl_relu_trunc_narrow(test_backend(), 37, 12)
                  ? 4 * cot(25) + cot(12) /* y mod 2^25, then its extension */
                  : 4 * cot(37) + 2 * cot(12))},
        {OP_TRUNC, 37, 12,
         mill_split_bits(36, 12) + cot(37) +
             (nl_trunc_one_flight(test_backend(), 37, 12) ? 3 * cot(12) /* one flight */
                                                          : kk(4, 12))},
        {OP_TR, 37, 12, mill_bits(12) + cot(25)},
        /* d = 9: e = ceil(log2 54) = 6 */
        {OP_DIV, 37, 9, mill_bits(36) + kk(4, 37) + 3 * mill_bits(5) + 3 * cot(37)},
    };
    int iknp = test_backend() == OT_BACKEND_IKNP;
    CHECK_EQ(cases[0].bits, iknp ? 4148 : 342); /* was 357 before message 0 implied */
    CHECK_EQ(cases[1].bits, iknp ? 4610 : 331); /* was 4610 : 424, then 354 */
    CHECK_EQ(cases[2].bits, iknp ? 5730 : 346); /* was 6306 : 823, then 456, 433, 372 */
    CHECK_EQ(cases[3].bits, iknp ? 5259 : 332); /* was 5993 : 636, then 366, 343 */
    for (int c = 0; c < 6; c++) {
        ew t = {.op = cases[c].op, .l = cases[c].l, .s = cases[c].s, .d = cases[c].s};
        edge_shares(&t, &g, 1024);
        CHECK(!ew_check(&t, 1));
        uint64_t bytes = ot_bytes();
        CHECK_MSG(bytes * 8 == cases[c].bits * t.n, "case %d: %llu bits per element, want %llu", c,
                  (unsigned long long)(bytes * 8 / t.n), (unsigned long long)cases[c].bits);
        ew_free(&t);
    }
    prg_clear(&g);
}

/* The *_bytes functions against the channels' counts (ew_check compares
 * them) on the sizes around the OT padding, narrow to full widths: 0, 1,
 * 127, 128 and 129 on one lane, 1000 on three (uneven slices: 384, 384,
 * 232), and a job over OTE_CHUNK. */
static void bytes_sizes(const int *opl, size_t nops, uint64_t label) {
    prg g;
    harness_prg(&g, label);
    static const size_t ns[] = {0, 1, 127, 128, 129, 1000};
    static const unsigned ls[] = {1, 17, 37, 64};
    uint64_t *dv = mem_alloc(8321, 8);
    for (size_t i = 0; i < 8321; i++) dv[i] = 1 + (i * 7) % 300;
    for (size_t o = 0; o < nops; o++)
        for (size_t li = 0; li < sizeof ls / sizeof *ls; li++)
            for (size_t k = 0; k <= sizeof ns / sizeof *ns; k++) {
                unsigned l = ls[li];
                int op = opl[o] & 0xff;
                if (k == sizeof ns / sizeof *ns && (l != 37 || o > 0)) continue;
                size_t n = k < sizeof ns / sizeof *ns ? ns[k] : 8321;
                unsigned s = op == OP_TR ? (l > 5 ? 5 : l - 1) : 12;
                if (op == OP_TR && l == 1) continue;
                ew t = {.op = op, .l = l, .s = s, .l2 = l + 3 > 64 ? 64 : l + 3,
                        .d = (uint64_t)(opl[o] >> 8), .dv = dv};
                edge_shares(&t, &g, n);
                int bad = ew_check(&t, n == 1000 ? 3 : 1);
                ew_free(&t);
                if (bad) {
                    mem_free(dv);
                    return;
                }
            }
    mem_free(dv);
    prg_clear(&g);
}

TEST(bytes_predicted_relu_trunc) {
    static const int ops[] = {OP_RELU, OP_TRUNC, OP_RELU_TRUNC, OP_TR, OP_EXT_S};
    bytes_sizes(ops, 5, 18);
}

TEST(bytes_predicted_div) {
    static const int ops[] = {OP_DIV | 9 << 8, OP_DIV_EACH, OP_DIV | 49 << 8, OP_DIV | 64 << 8,
                              OP_DIV | 1 << 8};
    bytes_sizes(ops, 5, 19);
}

/* ---- pools ---- */

typedef struct pool_t {
    nl_pool P;
    unsigned l;
    int kind; /* 0 max tree, 1 max linear, 2 avg, 3 max tree on non-negative inputs,
               * 4 max tree never separable */
    unsigned wb; /* kind 3: the inputs' bound (nl_maxpool_ex), or 0 */
    uint64_t *x[2], *y[2];
} pool_t;

static int pool_party(party *p, void *arg) {
    pool_t *t = arg;
    int r = p->role;
    if (t->kind == 2) return nl_avgpool(p, t->y[r], t->x[r], &t->P, t->l);
    if (t->kind == 3) return nl_maxpool_ex(p, t->y[r], t->x[r], &t->P, t->l, NL_POOL_TREE | NL_POOL_NONNEG, t->wb);
    if (t->kind == 4) return nl_maxpool_ex(p, t->y[r], t->x[r], &t->P, t->l, NL_POOL_TREE | NL_POOL_DIRECT, 0);
    return nl_maxpool_ex(p, t->y[r], t->x[r], &t->P, t->l, t->kind == 0 ? NL_POOL_TREE : 0, 0);
}

static int pool_run(pool_t *t, prg *g, const uint64_t *x, unsigned lanes) {
    if (nl_pool_check(&t->P) < 0) {
        harness_fail(__FILE__, __LINE__, "pool shape: %s", err_msg());
        return 1;
    }
    size_t nin = nl_pool_in_size(&t->P), nout = nl_pool_out_size(&t->P);
    uint64_t mk = bits_mask(t->l);
    for (int r = 0; r < 2; r++) {
        t->x[r] = mem_alloc(nin, 8);
        t->y[r] = mem_alloc(nout, 8);
    }
    prg_ring(g, t->x[0], nin, t->l);
    for (size_t i = 0; i < nin; i++) t->x[1][i] = (x[i] - t->x[0][i]) & mk;
    uint64_t *want = mem_alloc(nout, 8);
    if (t->kind == 2)
        nl_avgpool_plain(want, x, &t->P, t->l);
    else
        nl_maxpool_plain(want, x, &t->P, t->l);
    int rc = run2_party(pool_party, t, lanes);
    CHECK_MSG(rc == 0, "pool: %s", err_msg());
    int bad = rc != 0;
    if (rc == 0) {
        static const int flags[] = {NL_POOL_TREE, 0, 0, NL_POOL_TREE | NL_POOL_NONNEG,
                                    NL_POOL_TREE | NL_POOL_DIRECT};
        pred_cots = 0;
        uint64_t pred = t->kind == 2 ? nl_avgpool_bytes(OC, &t->P, t->l, lanes)
                                     : nl_maxpool_bytes(OC, &t->P, t->l, flags[t->kind], t->kind == 3 ? t->wb : 0, lanes);
        CHECK_MSG(measured_bytes() == pred, "pool kind %d l=%u k=%ux%u lanes=%u: %llu bytes, predicted %llu",
                  t->kind, t->l, t->P.kh, t->P.kw, lanes, (unsigned long long)measured_bytes(),
                  (unsigned long long)pred);
        bad |= measured_bytes() != pred;
        bad |= check_cots("pool");
    }
    for (size_t o = 0; o < nout && !bad; o++) {
        uint64_t got = (t->y[0][o] + t->y[1][o]) & mk;
        if (got != want[o]) {
            harness_fail(__FILE__, __LINE__, "pool kind %d l=%u k=%ux%u s=%u: out %zu got 0x%llx want 0x%llx",
                         t->kind, t->l, t->P.kh, t->P.kw, t->P.sh, o, (unsigned long long)got,
                         (unsigned long long)want[o]);
            bad = 1;
        }
    }
    mem_free(want);
    for (int r = 0; r < 2; r++) {
        mem_free(t->x[r]);
        mem_free(t->y[r]);
    }
    return bad;
}

/* 128 windows of 2x2, stride 2: every OT batch (512 extensions, 256 then
 * 128 comparisons) is a multiple of 128, so the bytes are the formula:
 * per input mill(l), per comparison mill(l) + 2(128 + l + 1). */
TEST(maxpool_bytes_match_formula) {
    prg g;
    harness_prg(&g, 26);
    pool_t t = {.P = {.N = 1, .C = 1, .H = 2, .W = 256, .kh = 2, .kw = 2, .sh = 2, .sw = 2, .dh = 1,
                      .dw = 1},
                .l = 37, .kind = 0};
    REQUIRE_OK(nl_pool_check(&t.P));
    uint64_t *x = mem_alloc(512, 8);
    prg_ring(&g, x, 512, t.l);
    CHECK(!pool_run(&t, &g, x, 1));
    uint64_t want = 512 * mill_bits(37) + 384 * (mill_bits(37) + 2 * cot(38));
    CHECK_EQ(ot_bytes() * 8, want);
    mem_free(x);
    prg_clear(&g);
}

/* Non-negative inputs (a ReLU's output): every pair of values in [0,
 * 2^(l-1)) for l <= 7, edge pairs for l in {16, 32, 37, 63, 64}, and the
 * bytes: per comparison mill(l-1) + 2(128 + l), no per-input extension. */
TEST(maxpool_nonneg) {
    prg g;
    harness_prg(&g, 27);
    static const unsigned ls[] = {1, 2, 3, 5, 7, 16, 32, 37, 63, 64};
    for (size_t li = 0; li < sizeof ls / sizeof *ls; li++) {
        unsigned l = ls[li];
        size_t half = l > 1 ? (size_t)1 << ((l - 1) < 6 ? (l - 1) : 6) : 1, pairs = half * half;
        pool_t t = {.P = {.N = 1, .C = 1, .H = 1, .W = (unsigned)(2 * pairs), .kh = 1, .kw = 2,
                          .sh = 1, .sw = 2, .dh = 1, .dw = 1},
                    .l = l, .kind = 3};
        uint64_t *x = mem_alloc(2 * pairs, 8);
        uint64_t top = l > 1 ? (1ULL << (l - 1)) - 1 : 0; /* the largest non-negative value */
        for (size_t i = 0; i < pairs; i++) {
            uint64_t a = i / half, b = i % half;
            if (l > 7) { /* edges: 0, 1, top, top - 1 and random */
                uint64_t e[6] = {0, 1, top, top - 1, prg_u64(&g) & top, prg_u64(&g) & top};
                a = e[a % 6];
                b = e[b % 6];
            }
            x[2 * i] = a;
            x[2 * i + 1] = b;
        }
        int bad = pool_run(&t, &g, x, l == 37 ? 2 : 1);
        mem_free(x);
        if (bad) return;
    }
    /* Bytes on 128 windows of 2x2 (every batch a multiple of 128 OTs). */
    pool_t t = {.P = {.N = 1, .C = 1, .H = 2, .W = 256, .kh = 2, .kw = 2, .sh = 2, .sw = 2, .dh = 1,
                      .dw = 1},
                .l = 37, .kind = 3};
    REQUIRE_OK(nl_pool_check(&t.P));
    uint64_t *x = mem_alloc(512, 8);
    prg_ring(&g, x, 512, 36);
    CHECK(!pool_run(&t, &g, x, 1));
    CHECK_EQ(ot_bytes() * 8, 384 * (mill_bits(36) + 2 * cot(37)));
    mem_free(x);
    prg_clear(&g);
}

/* Inputs below a public bound 2^(wb-1) (a ReLU-truncation's output): the
 * tournament runs mod 2^wb and the outputs are extended (silent backend;
 * IKNP keeps the l-bit comparisons). Every pair of values at wb <= 5 under
 * l = 8; edges (0, 1, the largest value, ties) and random values in 3x3
 * stride-2 pools on odd sizes (separable) and 2x2 ones, one and three
 * lanes, at (l, wb) from (8, 2) to (64, 63); the bytes as predicted, and
 * below the unbounded pool's where it narrows. */
TEST(maxpool_bounded) {
    prg g;
    harness_prg(&g, 33);
    for (unsigned wb = 2; wb <= 5; wb++) {
        size_t half = (size_t)1 << (wb - 1), pairs = half * half;
        pool_t t = {.P = {.N = 1, .C = 1, .H = 1, .W = (unsigned)(2 * pairs), .kh = 1, .kw = 2,
                          .sh = 1, .sw = 2, .dh = 1, .dw = 1},
                    .l = 8, .kind = 3, .wb = wb};
        uint64_t *x = mem_alloc(2 * pairs, 8);
        for (size_t i = 0; i < pairs; i++) {
            x[2 * i] = i / half;
            x[2 * i + 1] = i % half;
        }
        int bad = pool_run(&t, &g, x, 1);
        mem_free(x);
        if (bad) return;
    }
    static const unsigned lw[][2] = {{8, 2}, {8, 7}, {16, 9}, {32, 23}, {32, 21}, {37, 25},
                                     {41, 3}, {63, 40}, {64, 52}, {64, 63}};
    for (size_t k = 0; k < sizeof lw / sizeof *lw; k++)
        for (int shape = 0; shape < 2; shape++) {
            unsigned l = lw[k][0], wb = lw[k][1];
            pool_t t = {.P = {.N = 1, .C = 3, .H = shape ? 8 : 9, .W = shape ? 10 : 11,
                              .kh = shape ? 2 : 3, .kw = shape ? 2 : 3, .sh = 2, .sw = 2, .dh = 1,
                              .dw = 1},
                        .l = l, .kind = 3, .wb = wb};
            REQUIRE_OK(nl_pool_check(&t.P));
            size_t nin = nl_pool_in_size(&t.P);
            uint64_t top = (1ULL << (wb - 1)) - 1, *x = mem_alloc(nin, 8);
            prg_ring(&g, x, nin, 64);
            for (size_t i = 0; i < nin; i++) {
                x[i] &= top;
                if (i % 5 == 0) x[i] = (uint64_t[]){0, 1, top, top - 1, top}[(i / 5) % 5] & top;
            }
            int bad = pool_run(&t, &g, x, k % 3 == 1 ? 3 : 1);
            if (!bad && nl_maxpool_narrow(test_backend(), l, NL_POOL_NONNEG, wb)) {
                uint64_t nb = nl_maxpool_bytes(OC, &t.P, l, NL_POOL_TREE | NL_POOL_NONNEG, wb, 1),
                         wb0 = nl_maxpool_bytes(OC, &t.P, l, NL_POOL_TREE | NL_POOL_NONNEG, 0, 1);
                CHECK_MSG(nb < wb0, "l=%u wb=%u: %llu bytes bounded, %llu not", l, wb,
                          (unsigned long long)nb, (unsigned long long)wb0);
            }
            mem_free(x);
            if (bad) return;
        }
    prg_clear(&g);
}

static void fill_vals(prg *g, uint64_t *x, size_t n, unsigned l, int mode) {
    uint64_t m = bits_mask(l), h = 1ULL << (l - 1);
    uint64_t e[] = {0, 1, m, h, h - 1, h + 1};
    prg_ring(g, x, n, l);
    for (size_t i = 0; i < n; i++) {
        if (mode == 1 && i % 3 == 0) x[i] = e[(i / 3) % 6] & m; /* edges, including ties */
        if (mode == 2) x[i] &= 3;                                /* many ties */
    }
}

/* Every pair of values as a 1x2 window (stride 2): all of them for l <= 6. */
TEST(maxpool_all_pairs) {
    prg g;
    harness_prg(&g, 20);
    for (unsigned l = 1; l <= 6; l++)
        for (int kind = 0; kind < 2; kind++) {
            size_t pairs = (size_t)1 << (2 * l);
            pool_t t = {.P = {.N = 1, .C = 1, .H = 1, .W = (unsigned)(2 * pairs), .kh = 1, .kw = 2,
                              .sh = 1, .sw = 2, .dh = 1, .dw = 1},
                        .l = l, .kind = kind};
            uint64_t *x = mem_alloc(2 * pairs, 8);
            for (size_t i = 0; i < pairs; i++) {
                x[2 * i] = i >> l;
                x[2 * i + 1] = i & bits_mask(l);
            }
            int bad = pool_run(&t, &g, x, 1);
            mem_free(x);
            if (bad) return;
        }
    prg_clear(&g);
}

/* l = 64 compares through tracked MSBs (no spare bit): every pair of a set
 * of extreme and ordinary 64-bit values, both orders, linear and tree, and
 * triples in 1x3 windows. */
TEST(maxpool_64_bit_pairs) {
    prg g;
    harness_prg(&g, 25);
    const uint64_t h = 1ULL << 63;
    uint64_t e[16] = {0, 1, ~0ULL, h, h - 1, h + 1, ~0ULL - 1, 2, h - 2, 12345, 0 - 12345ULL,
                      1ULL << 62, (1ULL << 62) - 1, h + (1ULL << 62), 0, 0};
    e[14] = prg_u64(&g);
    e[15] = prg_u64(&g);
    for (unsigned w = 2; w <= 3; w++)
        for (int kind = 0; kind < 2; kind++) {
            size_t nw = w == 2 ? 256 : 4096, nin = nw * w;
            pool_t t = {.P = {.N = 1, .C = 1, .H = 1, .W = (unsigned)nin, .kh = 1, .kw = w, .sh = 1,
                              .sw = w, .dh = 1, .dw = 1},
                        .l = 64, .kind = kind};
            uint64_t *x = mem_alloc(nin, 8);
            for (size_t i = 0; i < nw; i++)
                for (unsigned k = 0; k < w; k++) x[i * w + k] = e[(i >> (4 * k)) & 15];
            int bad = pool_run(&t, &g, x, 1);
            mem_free(x);
            if (bad) return;
        }
    prg_clear(&g);
}

static void pool_shapes(int kind, uint64_t label) {
    prg g;
    harness_prg(&g, label);
    struct {
        unsigned C, H, W, k, s, pad, ceil, cip, dil;
    } sh[] = {
        {2, 6, 6, 2, 2, 0, 0, 0, 1},   {1, 7, 7, 3, 1, 0, 0, 0, 1},  {2, 7, 9, 3, 2, 1, 0, 0, 1},
        {1, 13, 13, 13, 1, 0, 0, 0, 1}, {1, 15, 14, 13, 1, 6, 0, 1, 1}, {1, 8, 8, 3, 2, 1, 1, 1, 1},
        {1, 9, 9, 3, 2, 1, 1, 0, 1},   {1, 9, 9, 3, 1, 2, 0, 1, 2},   {3, 5, 5, 2, 1, 1, 0, 1, 1},
    };
    static const unsigned ls[] = {16, 37, 63, 64, 31};
    for (size_t c = 0; c < sizeof sh / sizeof *sh; c++) {
        pool_t t = {.P = {.N = 1, .C = sh[c].C, .H = sh[c].H, .W = sh[c].W, .kh = sh[c].k,
                          .kw = sh[c].k, .sh = sh[c].s, .sw = sh[c].s, .pt = sh[c].pad,
                          .pl = sh[c].pad, .pb = sh[c].pad, .pr = sh[c].pad, .dh = sh[c].dil,
                          .dw = sh[c].dil, .ceil_mode = sh[c].ceil, .count_include_pad = sh[c].cip},
                    .l = ls[c % 5], .kind = kind};
        REQUIRE_OK(nl_pool_check(&t.P));
        size_t nin = nl_pool_in_size(&t.P);
        uint64_t *x = mem_alloc(nin, 8);
        fill_vals(&g, x, nin, t.l, (int)(c % 3));
        int bad = pool_run(&t, &g, x, 1 + (unsigned)(c % 3));
        mem_free(x);
        if (bad) return;
    }
    prg_clear(&g);
}

/* Overlapping windows run separably (nl_pool_sep): a 3x3 pool at stride 2
 * takes about 6 comparisons per output instead of 8, in no more rounds,
 * exact either way; at stride 3 (no overlap) and 2x2 at stride 2 the pool
 * runs as before. */
TEST(maxpool_separable) {
    prg g;
    harness_prg(&g, 28);
    struct {
        unsigned H, k, s, pad, on;
    } sh[] = {{15, 3, 2, 1, 1}, {16, 3, 2, 0, 1}, {9, 3, 3, 0, 0}, {8, 2, 2, 0, 0}, {11, 3, 1, 1, 1}};
    for (size_t c = 0; c < sizeof sh / sizeof *sh; c++) {
        nl_pool P = {.N = 1, .C = 3, .H = sh[c].H, .W = sh[c].H + 2, .kh = sh[c].k, .kw = sh[c].k,
                     .sh = sh[c].s, .sw = sh[c].s, .pt = sh[c].pad, .pl = sh[c].pad,
                     .pb = sh[c].pad, .pr = sh[c].pad, .dh = 1, .dw = 1};
        REQUIRE_OK(nl_pool_check(&P));
        nl_pool_sep S;
        REQUIRE_OK(nl_pool_sep_make(&S, &P, 1));
        uint64_t direct = 0;
        for (unsigned i = 0; i < P.OH; i++)
            for (unsigned j = 0; j < P.OW; j++) {
                unsigned a0, a1, b0, b1;
                nl_pool_window(&P, i, j, &a0, &a1, &b0, &b1);
                direct += (uint64_t)(a1 - a0) * (b1 - b0) - 1;
            }
        direct *= P.C;
        int on = S.on;
        CHECK_EQ((unsigned)on, sh[c].on);
        if (on) CHECK(S.cmps * 10 <= direct * 8); /* at least a fifth fewer */
        else CHECK_EQ(S.cmps, direct);
        nl_pool_sep_free(&S);
        size_t nin = nl_pool_in_size(&P);
        uint64_t *x = mem_alloc(nin, 8);
        fill_vals(&g, x, nin, 37, (int)(c % 3));
        uint64_t bytes[2], fl[2];
        for (int k = 0; k < 2; k++) { /* separable (or not), then direct */
            pool_t t = {.P = P, .l = 37, .kind = k ? 4 : 0};
            if (pool_run(&t, &g, x, 1 + (unsigned)(c % 2))) {
                mem_free(x);
                return;
            }
            bytes[k] = ot_bytes();
            fl[k] = run2_party_stats[0].flights;
        }
        if (on) CHECK(bytes[0] < bytes[1]);
        else CHECK_EQ(bytes[0], bytes[1]);
        if (test_backend() == OT_BACKEND_IKNP) CHECK(fl[0] <= fl[1]);
        mem_free(x);
    }
    prg_clear(&g);
}

TEST(maxpool_tree_shapes) { pool_shapes(0, 21); }
TEST(maxpool_linear_shapes) { pool_shapes(1, 22); }
TEST(avgpool_shapes) { pool_shapes(2, 23); }

/* Average pooling where the divisor varies by position (count_include_pad
 * = 0 with padding), all values at l = 6 over a 2x2 window. */
TEST(avgpool_exhaustive_small) {
    prg g;
    harness_prg(&g, 24);
    for (unsigned l = 1; l <= 6; l++) {
        pool_t t = {.P = {.N = 1, .C = 64, .H = 4, .W = 4, .kh = 3, .kw = 3, .sh = 1, .sw = 1,
                          .pt = 1, .pl = 1, .pb = 1, .pr = 1, .dh = 1, .dw = 1},
                    .l = l, .kind = 2};
        REQUIRE_OK(nl_pool_check(&t.P));
        size_t nin = nl_pool_in_size(&t.P);
        uint64_t *x = mem_alloc(nin, 8);
        for (size_t i = 0; i < nin; i++) x[i] = (i * 37 + i / 16) & bits_mask(l);
        int bad = pool_run(&t, &g, x, 1);
        mem_free(x);
        if (bad) return;
    }
    prg_clear(&g);
}

/* ---- argmax ---- */

typedef struct am_t {
    size_t rows, cols;
    unsigned l;
    uint64_t *x[2], *y[2];
} am_t;

static int am_party(party *p, void *arg) {
    am_t *t = arg;
    return nl_argmax(p, t->y[p->role], t->x[p->role], t->rows, t->cols, t->l);
}

static int am_run(am_t *t, prg *g, const uint64_t *x, unsigned lanes) {
    size_t n = t->rows * t->cols;
    uint64_t mk = bits_mask(t->l);
    for (int r = 0; r < 2; r++) {
        t->x[r] = mem_alloc(n + 1, 8);
        t->y[r] = mem_alloc(t->rows + 1, 8);
    }
    prg_ring(g, t->x[0], n, t->l);
    for (size_t i = 0; i < n; i++) t->x[1][i] = (x[i] - t->x[0][i]) & mk;
    uint64_t *want = mem_alloc(t->rows + 1, 8);
    nl_argmax_plain(want, x, t->rows, t->cols, t->l);
    int rc = run2_party(am_party, t, lanes);
    CHECK_MSG(rc == 0, "argmax: %s", err_msg());
    int bad = rc != 0;
    if (rc == 0) {
        pred_cots = 0;
        uint64_t pred = nl_argmax_bytes(OC, t->rows, t->cols, t->l, lanes);
        CHECK_MSG(measured_bytes() == pred, "argmax %zux%zu l=%u lanes=%u: %llu bytes, predicted %llu",
                  t->rows, t->cols, t->l, lanes, (unsigned long long)measured_bytes(),
                  (unsigned long long)pred);
        bad |= measured_bytes() != pred;
        bad |= check_cots("argmax");
    }
    for (size_t r = 0; r < t->rows && !bad; r++) {
        uint64_t got = (t->y[0][r] + t->y[1][r]) & mk;
        if (got != want[r]) {
            harness_fail(__FILE__, __LINE__, "argmax l=%u cols=%zu row %zu: got %llu want %llu", t->l,
                         t->cols, r, (unsigned long long)got, (unsigned long long)want[r]);
            bad = 1;
        }
    }
    mem_free(want);
    for (int r = 0; r < 2; r++) {
        mem_free(t->x[r]);
        mem_free(t->y[r]);
    }
    return bad;
}

TEST(argmax_all_pairs_and_triples) {
    prg g;
    harness_prg(&g, 30);
    for (unsigned l = 2; l <= 5; l++)
        for (size_t cols = 2; cols <= 3; cols++) {
            size_t rows = (size_t)1 << (cols * l);
            am_t t = {.rows = rows, .cols = cols, .l = l};
            uint64_t *x = mem_alloc(rows * cols, 8);
            for (size_t r = 0; r < rows; r++)
                for (size_t c = 0; c < cols; c++) x[r * cols + c] = (r >> (c * l)) & bits_mask(l);
            int bad = am_run(&t, &g, x, 1);
            mem_free(x);
            if (bad) return;
        }
    prg_clear(&g);
}

TEST(argmax_shapes) {
    prg g;
    harness_prg(&g, 31);
    struct {
        size_t rows, cols;
        unsigned l;
        int mode;
    } c[] = {{1, 1, 8, 0},  {5, 10, 37, 1},  {3, 1000, 32, 0}, {7, 9, 63, 1},
             {9, 17, 16, 2}, {1, 1000, 12, 2}, {2, 2, 1, 0},    {100, 10, 37, 1},
             {6, 11, 64, 1}, {2, 300, 64, 0},  {3, 7, 64, 2}};
    for (size_t k = 0; k < sizeof c / sizeof *c; k++) {
        am_t t = {.rows = c[k].rows, .cols = c[k].cols, .l = c[k].l};
        uint64_t *x = mem_alloc(t.rows * t.cols, 8);
        fill_vals(&g, x, t.rows * t.cols, t.l, c[k].mode);
        int bad = am_run(&t, &g, x, 1 + (unsigned)(k % 3));
        mem_free(x);
        if (bad) return;
    }
    prg_clear(&g);
}

/* Pool and argmax bytes (pool_run and am_run compare them with the
 * prediction) where the OT padding differs from lane to lane: outputs not
 * a multiple of the lanes, windows clipped by padding, every kind. */
TEST(bytes_predicted_pools) {
    prg g;
    harness_prg(&g, 32);
    for (int kind = 0; kind < 4; kind++)
        for (unsigned l = 37; l <= 64; l += 27) {
            pool_t t = {.P = {.N = 1, .C = 3, .H = 11, .W = 10, .kh = 3, .kw = 3, .sh = 2, .sw = 2,
                              .pt = 1, .pl = 1, .pb = 1, .pr = 1, .dh = 1, .dw = 1},
                        .l = l, .kind = kind};
            REQUIRE_OK(nl_pool_check(&t.P));
            size_t nin = nl_pool_in_size(&t.P);
            uint64_t *x = mem_alloc(nin, 8);
            fill_vals(&g, x, nin, l, kind == 3 ? 0 : 1);
            if (kind == 3)
                for (size_t i = 0; i < nin; i++) x[i] &= bits_mask(l - 1); /* non-negative */
            int bad = pool_run(&t, &g, x, 3);
            mem_free(x);
            if (bad) return;
        }
    static const size_t shapes[][2] = {{0, 10}, {129, 10}, {1, 1}, {2, 129}};
    for (size_t k = 0; k < 4; k++) {
        am_t t = {.rows = shapes[k][0], .cols = shapes[k][1], .l = 37};
        uint64_t *x = mem_alloc(t.rows * t.cols + 1, 8);
        fill_vals(&g, x, t.rows * t.cols, t.l, 1);
        int bad = am_run(&t, &g, x, 3);
        mem_free(x);
        if (bad) return;
    }
    CHECK_EQ(nl_argmax_bytes(OC, 1, 0, 37, 1), 0); /* refused */
    CHECK_EQ(nl_relu_bytes(OC, 100, 65, 1), 0);
    CHECK_EQ(nl_relu_bytes(OC, 100, 37, 0), 0);
    CHECK_EQ(nl_div_bytes(OC, 100, 37, 0, 1), 0);
    prg_clear(&g);
}

/* ---- a failing peer ---- */

/* The client fails before sending anything; the server, already inside the
 * protocol, must return an error (the lanes are shut down), not hang. */
static int half_fails(party *p, void *arg) {
    ew *t = arg;
    if (p->role == MPC_CLIENT) return nl_relu(p, t->y[1], t->x[1], t->n, 65);
    return nl_relu_trunc(p, t->y[0], t->x[0], t->n, 37, 12);
}

TEST(failing_peer_ends_both_sides) {
    prg g;
    harness_prg(&g, 40);
    ew t = {.op = OP_RELU, .l = 37};
    edge_shares(&t, &g, 5000);
    for (int r = 0; r < 2; r++) t.y[r] = mem_alloc(t.n, 8);
    for (unsigned lanes = 1; lanes <= 3; lanes += 2) {
        int rc = run2_party(half_fails, &t, lanes);
        CHECK(rc < 0);
    }
    for (int r = 0; r < 2; r++) mem_free(t.y[r]);
    ew_free(&t);
    prg_clear(&g);
}

/* ---- argument checks ---- */

static int bad_args(party *p, void *arg) {
    uint64_t x[4] = {0}, y[4];
    nl_pool P = {.N = 1, .C = 1, .H = 2, .W = 2, .kh = 2, .kw = 2, .sh = 1, .sw = 1, .dh = 1, .dw = 1};
    int *ok = arg;
    if (nl_pool_check(&P) < 0) return -1;
    ok[p->role] = nl_div(p, y, x, 4, 32, 0) == PARLEY_E_ARG &&
                  nl_div(p, y, x, 4, 64, (1ULL << 62) + 1) == PARLEY_E_ARG &&
                  nl_div(p, y, x, 4, 63, (1ULL << 62) - 1) == PARLEY_E_ARG &&
                  nl_trunc_reduce(p, y, x, 4, 8, 8) == PARLEY_E_ARG &&
                  nl_relu(p, y, x, 4, 65) == PARLEY_E_ARG && nl_relu(p, y, x, 4, 0) == PARLEY_E_ARG &&
                  nl_maxpool(p, y, x, &P, 0) == PARLEY_E_ARG &&
                  nl_argmax(p, y, x, 1, 4, 65) == PARLEY_E_ARG &&
                  nl_argmax(p, y, x, 1, 4, 1) == PARLEY_E_ARG &&
                  nl_argmax(p, y, x, 4, 0, 8) == PARLEY_E_ARG;
    return 0;
}

TEST(bad_arguments_are_errors) {
    int ok[2] = {0, 0};
    REQUIRE_OK(run2_party(bad_args, ok, 1));
    CHECK(ok[0] && ok[1]);
    CHECK_EQ(run2_party_stats[0].bytes_sent + run2_party_stats[1].bytes_sent, 0);
}

/* ---- piecewise-linear activations (nl_act) ---- */

/* A random activation of kind op at l: bounds lo <= hi drawn from edge and
 * random values (equal bounds and the ends of the range included), a slope
 * of either sign at a shift below l. */
static void act_random(nl_actp *a, prg *g, unsigned op, unsigned l, unsigned k) {
    uint64_t m = bits_mask(l), h = 1ULL << (l - 1);
    uint64_t e[] = {0, 1, m, h, h - 1, 2, m - 1, prg_u64(g) & m, prg_u64(g) & m};
    memset(a, 0, sizeof *a);
    a->op = op;
    a->has = op == NL_ACT_HSIG ? 3 : op == NL_ACT_LEAKY ? k % 2 * 3 : 1 + k % 3;
    uint64_t lo = e[prg_u64(g) % 9], hi = e[prg_u64(g) % 9];
    if (bits_signed(lo, l) > bits_signed(hi, l)) {
        uint64_t t = lo;
        lo = hi, hi = t;
    }
    if (k % 5 == 4) hi = lo; /* a point */
    nl_act_set(a->lo, lo);
    nl_act_set(a->hi, hi);
    nl_act_set(a->beta, prg_u64(g) & m);
    if (op != NL_ACT_CLIP) {
        a->shift = (unsigned)(prg_u64(g) % l);
        nl_act_set(a->alpha, (k % 2 ? prg_u64(g) : prg_u64(g) >> (64 - l / 2 - 1)) & m);
    }
    REQUIRE_OK(nl_act_check(a, l));
}

TEST(act_exhaustive) {
    prg g;
    harness_prg(&g, 31);
    for (unsigned l = 2; l <= 6; l++)
        for (unsigned op = NL_ACT_CLIP; op <= NL_ACT_HSIG; op++)
            for (unsigned k = 0; k < 3; k++) {
                nl_actp a;
                act_random(&a, &g, op, l, k + l);
                ew t = {.op = OP_ACT, .l = l, .act = &a};
                exhaustive_shares(&t);
                CHECK_MSG(ew_check(&t, 1) == 0, "act %u at l = %u", op, l);
                ew_free(&t);
            }
}

/* Wide rings, odd sizes and lanes; the inputs include the bounds
 * themselves, their neighbours, 0 and the ends of the range. */
TEST(act_wide) {
    prg g;
    harness_prg(&g, 32);
    static const unsigned ls[] = {8, 16, 37, 63, 64};
    static const size_t ns[] = {1, 9, 300};
    for (size_t li = 0; li < 5; li++)
        for (unsigned op = NL_ACT_CLIP; op <= NL_ACT_HSIG; op++)
            for (size_t ni = 0; ni < 3; ni++) {
                unsigned l = ls[li];
                nl_actp a;
                act_random(&a, &g, op, l, (unsigned)(ni + li));
                ew t = {.op = OP_ACT, .l = l, .act = &a};
                edge_shares(&t, &g, ns[ni]);
                uint64_t m = bits_mask(l), lo = nl_act_get(a.lo), hi = nl_act_get(a.hi);
                uint64_t pts[] = {lo, lo - 1, lo + 1, hi, hi - 1, hi + 1, 0, 1ULL << (l - 1)};
                for (size_t i = 0; i < 8 && i + 1 < t.n; i++)
                    t.x[1][i + 1] = (pts[i] - t.x[0][i + 1]) & m;
                CHECK_MSG(ew_check(&t, ni == 2 ? 3 : 1) == 0, "act %u at l = %u", op, l);
                ew_free(&t);
            }
}

/* The flight model (mpc/flights.h) against the run's longest chain of
 * messages, at the production Ferret set's batch sizes: where a batch runs
 * out depends on the order in which the jobs' chunks take their COTs, and
 * the millionaire's leaf groups once went to the model in another order
 * than the protocol's (width first, not first use), which FERRET_TOY's
 * small batches did not show and SqueezeNet did (2 flights off on four
 * layers). Sizes that run out of the first batch at different points,
 * three calls in a row so that the stock carries over, 1 and 2 lanes. */
static int rt3_party(party *p, void *arg) {
    ew *t = arg;
    int r = p->role;
    for (int k = 0; k < 3; k++) TRY(nl_relu_trunc(p, t->y[r], t->x[r], t->n - 1000 * (size_t)k, t->l, t->s));
    return 0;
}
/* The deeper of the two parties' flight depths in the last run2_party,
 * set-up excluded. */
static uint64_t run_depth(void) {
    uint64_t d = 0;
    for (int r = 0; r < 2; r++) {
        uint64_t dr = run2_party_stats[r].depth - run2_party_setup_stats[r].depth;
        if (dr > d) d = dr;
    }
    return d;
}

/* rt3_party's last call against plaintext (the ReLU-truncation of its
 * first n - 2000 elements) if the run went through, then t's buffers
 * freed. */
static void rt3_check_free(ew *t, int ran) {
    for (size_t i = 0; ran && i < t->n - 2000; i++) {
        uint64_t x = (t->x[0][i] + t->x[1][i]) & bits_mask(t->l), want;
        nl_relu_plain(&want, &x, 1, t->l);
        nl_trunc_plain(&want, &want, 1, t->l, t->s);
        if (((t->y[0][i] + t->y[1][i]) & bits_mask(t->l)) != want) {
            CHECK_MSG(0, "n = %zu: element %zu wrong", t->n, i);
            break;
        }
    }
    for (int r = 0; r < 2; r++) {
        mem_free(t->x[r]);
        mem_free(t->y[r]);
    }
}

/* The flight model and the byte functions with the leaves on 4-bit VOLE
 * (fsim_new4, ot_costing.vole4): three ReLU-truncations in a row on
 * toy-set lanes, so both kinds of batch run out in the middle of calls
 * and stocks carry over between them, and once on the production sets;
 * the flights, the bytes without the batches, the batches' bytes, the
 * set-up's bytes (ot_lane_setup_bytes), and the COTs and correlations
 * used (without the COTs the correlations' bases and trees took), each
 * exact. */
TEST(predicted_with_vole4) {
    prg g;
    harness_prg(&g, 98);
    static const struct {
        size_t n;
        unsigned lanes, l, s;
        int production; /* FERRET_DEFAULT and VOLE4_H10K18, not the toy sets */
    } cs[] = {{20000, 1, 32, 9, 0},
              {83000, 1, 37, 12, 0},
              {120000, 2, 32, 9, 0},
              {7000, 1, 16, 4, 0},
              {250000, 1, 32, 9, 0},
              {90000, 1, 32, 9, 1}};
    for (size_t c = 0; c < sizeof cs / sizeof *cs; c++) {
        const ferret_params *fp = cs[c].production ? &FERRET_DEFAULT : &FERRET_TOY;
        const vole4_params *vp = cs[c].production ? &VOLE4_H10K18 : &VOLE4_TOY;
        run2_party_ferret = fp;
        run2_party_vole4 = vp;
        ew t = {.op = OP_RELU_TRUNC, .l = cs[c].l, .s = cs[c].s};
        edge_shares(&t, &g, cs[c].n);
        for (int r = 0; r < 2; r++) t.y[r] = mem_alloc(t.n, 8);
        fsim *fs;
        REQUIRE_OK(fsim_new4(&fs, OT_BACKEND_SILENT, cs[c].lanes, fp, vp));
        uint64_t cots = 0, corrs = 0;
        ot_costing oc = {
            .backend = OT_BACKEND_SILENT, .fs = fs, .vole4 = 1, .cots = &cots, .corrs = &corrs};
        uint64_t bytes = 0;
        for (int k = 0; k < 3; k++)
            bytes += nl_relu_trunc_bytes(&oc, t.n - 1000 * (size_t)k, t.l, t.s, cs[c].lanes);
        uint64_t model = fsim_flights(fs), gen = fsim_gen_bytes(fs);
        CHECK_EQ(fsim_status(fs), 0);
        fsim_free(fs);
        int rc = run2_party(rt3_party, &t, cs[c].lanes);
        CHECK_MSG(rc == 0, "%s", err_msg());
        uint64_t d = run_depth();
        printf("  n = %zu, %u lanes, (%u, %u): flights %llu predicted, %llu measured; batches' "
               "bytes %llu, %llu\n",
               t.n, cs[c].lanes, t.l, t.s, (unsigned long long)model, (unsigned long long)d,
               (unsigned long long)gen, (unsigned long long)run2_party_gen_bytes());
        CHECK_EQ(d, model);
        CHECK_EQ(measured_bytes(), bytes);
        CHECK_EQ(run2_party_gen_bytes(), gen);
        for (int r = 0; r < 2; r++) {
            CHECK_EQ(run2_party_sil[r].cots, cots);
            CHECK_EQ(run2_party_sil[r].corrs, corrs);
        }
        CHECK(corrs > 0);
        ot_lane_opts lo = {.backend = OT_BACKEND_SILENT, .ferret = fp, .vole4 = vp};
        CHECK_EQ(run2_party_setup_stats[0].bytes_sent + run2_party_setup_stats[1].bytes_sent,
                 cs[c].lanes * ot_lane_setup_bytes(&lo));
        rt3_check_free(&t, rc == 0);
    }
    run2_party_vole4 = NULL;
    run2_party_ferret = NULL;
    prg_clear(&g);
}

TEST(flights_predicted_production_ferret) {
    prg g;
    harness_prg(&g, 99);
    static const struct {
        size_t n;
        unsigned lanes;
    } cs[] = {{83000, 1}, {119000, 1}, {164000, 2}};
    run2_party_ferret = &FERRET_DEFAULT;
    for (size_t c = 0; c < sizeof cs / sizeof *cs; c++) {
        ew t = {.op = OP_RELU_TRUNC, .l = 32, .s = 9};
        edge_shares(&t, &g, cs[c].n);
        for (int r = 0; r < 2; r++) t.y[r] = mem_alloc(t.n, 8);
        fsim *fs;
        REQUIRE_OK(fsim_new(&fs, test_backend(), cs[c].lanes, &FERRET_DEFAULT));
        ot_costing oc = {.backend = test_backend(), .fs = fs};
        for (int k = 0; k < 3; k++)
            (void)nl_relu_trunc_bytes(&oc, t.n - 1000 * (size_t)k, t.l, t.s, cs[c].lanes);
        uint64_t model = fsim_flights(fs);
        fsim_free(fs);
        int rc = run2_party(rt3_party, &t, cs[c].lanes);
        CHECK_MSG(rc == 0, "%s", err_msg());
        uint64_t d = run_depth();
        printf("  n = %zu, %u lanes: %llu flights predicted, %llu measured\n", t.n, cs[c].lanes,
               (unsigned long long)model, (unsigned long long)d);
        CHECK_EQ(d, model);
        rt3_check_free(&t, rc == 0);
    }
    run2_party_ferret = NULL;
    prg_clear(&g);
}
