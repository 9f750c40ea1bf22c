/* nl/act2 and nl/act3: the product of two secret-shared tensors
 * (nl_mul_trunc), HardSwish (nl_hswish), the table functions (Sigmoid,
 * Tanh, Exp), Reciprocal and Softmax against their plaintext twins, bit for
 * bit (the table functions, Reciprocal and Softmax also against float, at
 * their stated bounds): every
 * pair of values and every pair of splits at l <= 4 (every shift), every
 * value and split of HardSwish at l <= 6, edge and random values at the wide
 * widths, sizes across the OT padding and the lanes' blocks; the wire bytes
 * equal the *_bytes predictions (and the silent COTs theirs) on every run,
 * and act2.h's per-element formula on a large batch. */
#include "harness.h"
#include "twoparty.h"

#include "mpc/flights.h"
#include "nl/act2.h"
#include "nl/act3.h"
#include "util/bits.h"
#include "util/mem.h"

#include <math.h>

static uint64_t pred_cots;
#define OC (&(ot_costing){.backend = test_backend(), .cots = &pred_cots})

typedef struct mt {
    size_t n;
    unsigned l, s;
    const nl_actp *a; /* HardSwish when set, else the product */
    int sig;          /* 1: Sigmoid, 2: Tanh, 3: Exp, 4: Reciprocal, at scale s */
    unsigned lo, hi;  /* Reciprocal's domain [2^lo, 2^hi) */
    uint64_t *x[2], *y[2], *z[2];
} mt;

static int mt_party(party *p, void *arg) {
    mt *t = arg;
    int r = p->role;
    if (t->sig == 4) return nl_recip(p, t->z[r], t->x[r], t->n, t->l, t->s, t->lo, t->hi);
    if (t->sig == 3) return nl_exp(p, t->z[r], t->x[r], t->n, t->l, t->s);
    if (t->sig == 2) return nl_tanh(p, t->z[r], t->x[r], t->n, t->l, t->s);
    if (t->sig) return nl_sigmoid(p, t->z[r], t->x[r], t->n, t->l, t->s);
    if (t->a) return nl_hswish(p, t->z[r], t->x[r], t->n, t->l, t->a);
    return nl_mul_trunc(p, t->z[r], t->x[r], t->y[r], t->n, t->l, t->s);
}

static uint64_t measured_bytes(void) {
    return run2_party_stats[0].bytes_sent + run2_party_stats[1].bytes_sent - run2_party_gen_bytes();
}

static uint64_t mt_predict(const mt *t, unsigned lanes) {
    if (t->sig == 4) return nl_recip_bytes(OC, t->n, t->l, t->s, t->lo, t->hi, lanes);
    if (t->sig == 3) return nl_exp_bytes(OC, t->n, t->l, t->s, lanes);
    if (t->sig == 2) return nl_tanh_bytes(OC, t->n, t->l, t->s, lanes);
    if (t->sig) return nl_sigmoid_bytes(OC, t->n, t->l, t->s, lanes);
    return t->a ? nl_hswish_bytes(OC, t->n, t->l, t->a, lanes)
                : nl_mul_trunc_bytes(OC, t->n, t->l, t->s, lanes);
}

/* Run, compare with the twin and the bytes with the prediction; 0 if all
 * match. */
static int mt_check(mt *t, unsigned lanes) {
    uint64_t m = bits_mask(t->l);
    for (int r = 0; r < 2; r++) t->z[r] = mem_alloc(t->n + 1, 8);
    int rc = run2_party(mt_party, t, lanes);
    CHECK_MSG(rc == 0, "l=%u s=%u: %s", t->l, t->s, err_msg());
    int bad = rc != 0;
    if (rc == 0) {
        pred_cots = 0;
        uint64_t want = mt_predict(t, lanes), got = measured_bytes();
        uint64_t c0 = run2_party_sil[0].cots, c1 = run2_party_sil[1].cots;
        CHECK_MSG(got == want, "%s l=%u s=%u n=%zu lanes=%u: %llu bytes, predicted %llu",
                  t->a ? "hswish" : "mul", t->l, t->s, t->n, lanes, (unsigned long long)got,
                  (unsigned long long)want);
        CHECK_MSG(c0 == pred_cots && c1 == pred_cots, "%llu and %llu COTs, predicted %llu",
                  (unsigned long long)c0, (unsigned long long)c1, (unsigned long long)pred_cots);
        bad |= got != want || c0 != pred_cots || c1 != pred_cots;
    }
    for (size_t i = 0; i < t->n && !bad; i++) {
        uint64_t x = (t->x[0][i] + t->x[1][i]) & m, y = 0, want;
        if (t->sig == 4) {
            nl_recip_plain(&want, &x, 1, t->l, t->s, t->lo, t->hi);
        } else if (t->sig == 3) {
            nl_exp_plain(&want, &x, 1, t->l, t->s);
        } else if (t->sig == 2) {
            nl_tanh_plain(&want, &x, 1, t->l, t->s);
        } else if (t->sig) {
            nl_sigmoid_plain(&want, &x, 1, t->l, t->s);
        } else if (t->a) {
            nl_hswish_plain(&want, &x, 1, t->l, t->a);
        } else {
            y = (t->y[0][i] + t->y[1][i]) & m;
            nl_mul_trunc_plain(&want, &x, &y, 1, t->l, t->s);
        }
        uint64_t got = (t->z[0][i] + t->z[1][i]) & m;
        if (got != want || t->z[0][i] > m || t->z[1][i] > m) {
            harness_fail(__FILE__, __LINE__,
                         "%s l=%u s=%u: x=0x%llx y=0x%llx (shares 0x%llx 0x%llx) got 0x%llx want "
                         "0x%llx",
                         t->a ? "hswish" : "mul", t->l, t->s, (unsigned long long)x,
                         (unsigned long long)y, (unsigned long long)t->x[0][i],
                         (unsigned long long)t->x[1][i], (unsigned long long)got,
                         (unsigned long long)want);
            bad = 1;
        }
    }
    for (int r = 0; r < 2; r++) mem_free(t->z[r]);
    return bad;
}

static void mt_free(mt *t) {
    for (int r = 0; r < 2; r++) {
        mem_free(t->x[r]);
        mem_free(t->y[r]);
        t->x[r] = t->y[r] = NULL;
    }
}

static void mt_alloc(mt *t, size_t n) {
    t->n = n;
    for (int r = 0; r < 2; r++) {
        t->x[r] = mem_alloc(n + 1, 8);
        t->y[r] = mem_alloc(n + 1, 8);
    }
}

/* Edge values (0, +-1, +-2^(l-1), small magnitudes) and random ones, with
 * random splits, a few of them edge values themselves. */
static void edge_values(uint64_t *v[2], prg *g, size_t n, unsigned l, unsigned rot) {
    uint64_t m = bits_mask(l), h = 1ULL << (l - 1);
    uint64_t e[] = {0, 1, m, h, h - 1, h + 1, m - 1, 2, 3, h - 2, 1ULL << (l / 2)};
    uint64_t *x = mem_alloc(n + 1, 8);
    prg_ring(g, x, n, l);
    for (size_t i = 0; i < n; i++) {
        if (i < 33) x[i] = e[(i * rot + i / 11) % 11] & m;
        if (i % 5 == 3) x[i] = (x[i] >> (l / 2)) & m;
        if (i % 5 == 4) x[i] = (0 - (x[i] >> (l / 2))) & m;
    }
    prg_ring(g, v[0], n, l);
    for (size_t i = 40; i < n && i < 51; i++) v[0][i] = e[i % 11] & m;
    for (size_t i = 0; i < n; i++) v[1][i] = (x[i] - v[0][i]) & m;
    mem_free(x);
}

/* Every x, y and every split of each: 2^(4l) products. */
TEST(mul_exhaustive) {
    for (unsigned l = 1; l <= 4; l++)
        for (unsigned s = 0; s < l; s++) {
            mt t = {.l = l, .s = s};
            size_t n = (size_t)1 << (4 * l);
            mt_alloc(&t, n);
            uint64_t m = bits_mask(l);
            for (size_t i = 0; i < n; i++) {
                uint64_t x = i & m, xs = (i >> l) & m, y = (i >> 2 * l) & m, ys = (i >> 3 * l) & m;
                t.x[0][i] = xs, t.x[1][i] = (x - xs) & m;
                t.y[0][i] = ys, t.y[1][i] = (y - ys) & m;
            }
            CHECK_MSG(mt_check(&t, 1 + l % 2) == 0, "mul at l = %u, s = %u", l, s);
            mt_free(&t);
        }
}

/* Wide rings; sizes across the OT padding (127..129), a lane's block
 * (NL_MUL_BLOCK) and several lanes. */
TEST(mul_wide) {
    prg g;
    harness_prg(&g, 71);
    static const unsigned ls[] = {8, 16, 31, 37, 63, 64};
    static const size_t ns[] = {1, 9, 129, 1000};
    for (size_t li = 0; li < 6; li++)
        for (size_t ni = 0; ni < 4; ni++) {
            unsigned l = ls[li], s = (unsigned)((li + ni) % 3 == 0 ? 0 : prg_u64(&g) % l);
            mt t = {.l = l, .s = s};
            mt_alloc(&t, ns[ni]);
            edge_values(t.x, &g, t.n, l, 1);
            edge_values(t.y, &g, t.n, l, 3);
            CHECK_MSG(mt_check(&t, 1 + (unsigned)(ni % 3)) == 0, "mul at l = %u, s = %u", l, s);
            mt_free(&t);
        }
    prg_clear(&g);
}

TEST(mul_blocks) {
    prg g;
    harness_prg(&g, 72);
    static const size_t ns[] = {NL_MUL_BLOCK, NL_MUL_BLOCK + 1};
    for (size_t ni = 0; ni < 2; ni++) {
        mt t = {.l = 37, .s = 12};
        mt_alloc(&t, ns[ni]);
        edge_values(t.x, &g, t.n, t.l, 1);
        edge_values(t.y, &g, t.n, t.l, 3);
        CHECK(mt_check(&t, 1) == 0);
        mt_free(&t);
    }
    prg_clear(&g);
}

/* act2.h's formula: 2 sum_{j<l} (C + l - j) bits per element, C the COT's
 * fixed part (128 on IKNP, 1 on silent): 10878 at l = 37 on IKNP. */
TEST(mul_bytes_formula) {
    prg g;
    harness_prg(&g, 73);
    static const unsigned ls[] = {16, 37, 64};
    for (size_t li = 0; li < 3; li++) {
        unsigned l = ls[li];
        uint64_t bits = 0;
        for (unsigned j = 0; j < l; j++)
            bits += 2 * (uint64_t)otb_cot_bits(test_backend(), l - j);
        uint64_t c = test_backend() == OT_BACKEND_IKNP ? 128 : 1;
        CHECK_EQ(bits, 2 * c * l + (uint64_t)l * (l + 1));
        if (l == 37) CHECK_EQ(bits, test_backend() == OT_BACKEND_IKNP ? 10878 : 1480);
        mt t = {.l = l, .s = 0};
        mt_alloc(&t, 1024);
        edge_values(t.x, &g, t.n, l, 1);
        edge_values(t.y, &g, t.n, l, 3);
        CHECK(mt_check(&t, 1) == 0);
        CHECK_MSG(measured_bytes() * 8 == bits * t.n, "l = %u: %llu bits per element, want %llu", l,
                  (unsigned long long)(measured_bytes() * 8 / t.n), (unsigned long long)bits);
        mt_free(&t);
    }
    prg_clear(&g);
}

/* A HardSwish at l: ONNX's at the fixed point k (clip from 0 to 6 * 2^k,
 * beta 3 * 2^k), or a random positive bound and beta. */
static void hswish_params(nl_actp *a, prg *g, unsigned l, unsigned k, int onnx) {
    memset(a, 0, sizeof *a);
    a->op = NL_ACT_CLIP;
    a->has = NL_ACT_LO | NL_ACT_HI;
    uint64_t m = bits_mask(l), hi = 6ULL << k, be = 3ULL << k;
    if (!onnx) {
        uint64_t most = (1ULL << (l - 1)) - 1; /* below 2^(l-1), and 6 hi fits 64 bits */
        if (most > UINT64_MAX / 6) most = UINT64_MAX / 6;
        hi = 1 + prg_u64(g) % most;
        be = prg_u64(g) & m;
    }
    nl_act_set(a->beta, be & m);
    nl_act_set(a->hi, hi);
}

TEST(hswish_exhaustive) {
    prg g;
    harness_prg(&g, 74);
    for (unsigned l = 2; l <= 6; l++)
        for (unsigned k = 0; k + 4 <= l; k++)
            for (int onnx = 0; onnx < 2; onnx++) {
                nl_actp a;
                hswish_params(&a, &g, l, k, onnx);
                REQUIRE_OK(nl_hswish_check(&a, l));
                mt t = {.l = l, .s = k, .a = &a};
                size_t n = (size_t)1 << (2 * l);
                mt_alloc(&t, n);
                for (size_t i = 0; i < n; i++) {
                    uint64_t v = i >> l, s = i & bits_mask(l);
                    t.x[0][i] = s, t.x[1][i] = (v - s) & bits_mask(l);
                }
                CHECK_MSG(mt_check(&t, 1) == 0, "hswish at l = %u, k = %u", l, k);
                mt_free(&t);
            }
    prg_clear(&g);
}

TEST(hswish_wide) {
    prg g;
    harness_prg(&g, 75);
    static const unsigned ls[] = {8, 16, 37, 64};
    for (size_t li = 0; li < 4; li++)
        for (int onnx = 0; onnx < 2; onnx++) {
            unsigned l = ls[li], k = l == 8 ? 3 : l == 16 ? 6 : l == 37 ? 12 : 20;
            nl_actp a;
            hswish_params(&a, &g, l, k, onnx);
            mt t = {.l = l, .s = k, .a = &a};
            mt_alloc(&t, 300);
            edge_values(t.x, &g, t.n, l, 1);
            /* around the breakpoints -3 and 3 */
            uint64_t m = bits_mask(l), three = 3ULL << k;
            REQUIRE_OK(nl_hswish_check(&a, l));
            uint64_t pts[] = {three, three - 1, three + 1, -three, -three - 1, -three + 1};
            for (size_t i = 0; i < 6; i++)
                t.x[1][60 + i] = (pts[i] - t.x[0][60 + i]) & m;
            CHECK_MSG(mt_check(&t, 1 + (unsigned)li % 3) == 0, "hswish at l = %u", l);
            mt_free(&t);
        }
    prg_clear(&g);
}

/* Arguments refused on both sides before any byte. */
static int bad_args(party *p, void *arg) {
    uint64_t x[4] = {0}, y[4];
    nl_actp a;
    memset(&a, 0, sizeof a);
    a.op = NL_ACT_CLIP, a.has = 3;
    nl_act_set(a.lo, 1); /* the clip must start at 0 */
    nl_act_set(a.hi, 3);
    int *ok = arg;
    ok[p->role] = nl_mul_trunc(p, y, x, x, 4, 16, 16) == PARLEY_E_ARG &&
                  nl_mul(p, y, x, x, 4, 65) == PARLEY_E_ARG &&
                  nl_hswish(p, y, x, 4, 16, &a) == PARLEY_E_ARG &&
                  nl_exp(p, y, x, 4, 8, 4) == PARLEY_E_ARG && /* l < s + 5 */
                  nl_exp(p, y, x, 4, 16, 1) == PARLEY_E_ARG;  /* s < 2 */
    return 0;
}

TEST(bad_arguments) {
    int ok[2] = {0, 0};
    REQUIRE_OK(run2_party(bad_args, ok, 1));
    CHECK(ok[0] && ok[1]);
    CHECK_EQ(run2_party_stats[0].bytes_sent + run2_party_stats[1].bytes_sent, 0);
}

/* act2.h's flights: the product is one OT exchange (on IKNP 2 flights, 3
 * once its 2l jobs outrun the exchange's look-ahead), the truncation adds
 * nl.h's. The flight model retraces them, and the run's longest chain of
 * messages (after the set-up's) is what it predicts. */
TEST(mul_flights) {
    prg g;
    harness_prg(&g, 76);
    static const unsigned ls[] = {16, 37, 64};
    for (unsigned lanes = 1; lanes <= 2; lanes++)
        for (size_t li = 0; li < 3; li++)
            for (unsigned s = 0; s <= 12; s += 12) {
                unsigned l = ls[li];
                fsim *fs;
                REQUIRE_OK(fsim_new(&fs, test_backend(), lanes, &FERRET_TOY)); /* run2_party's */
                ot_costing oc = {.backend = test_backend(), .fs = fs};
                (void)nl_mul_trunc_bytes(&oc, 1000, l, s, lanes);
                uint64_t model = fsim_flights(fs);
                fsim_free(fs);
                if (s == 0 && test_backend() == OT_BACKEND_IKNP) CHECK_EQ(model, l > 16 ? 3 : 2);
                mt t = {.l = l, .s = s};
                mt_alloc(&t, 1000);
                edge_values(t.x, &g, t.n, t.l, 1);
                edge_values(t.y, &g, t.n, t.l, 3);
                CHECK(mt_check(&t, lanes) == 0);
                uint64_t d = 0;
                for (int r = 0; r < 2; r++) {
                    uint64_t dr = run2_party_stats[r].depth - run2_party_setup_stats[r].depth;
                    if (dr > d) d = dr;
                }
                printf("  l = %u, s = %u, %u lanes: %llu flights predicted, %llu measured\n", l,
                       s, lanes, (unsigned long long)model, (unsigned long long)d);
                CHECK_EQ(d, model);
                mt_free(&t);
            }
    prg_clear(&g);
}

static const char *const tab_names[] = {"", "sigmoid", "tanh", "exp", "recip"};

/* Sigmoid, Tanh and Exp: every value of the ring at small l (random
 * splits, a few lanes), edge and random values at the wide rings. */
TEST(table_all_values) {
    prg g;
    harness_prg(&g, 77);
    static const unsigned ls[][2] = {{7, 3}, {8, 3}, {10, 4}, {12, 5}};
    for (int f = 1; f <= 3; f++)
        for (size_t k = 0; k < 4; k++) {
            mt t = {.l = ls[k][0], .s = ls[k][1] - (f != 2 && k == 0), .sig = f};
            uint64_t m = bits_mask(t.l);
            mt_alloc(&t, (size_t)1 << t.l);
            prg_ring(&g, t.x[0], t.n, t.l);
            for (size_t i = 0; i < t.n; i++) t.x[1][i] = (i - t.x[0][i]) & m;
            CHECK_MSG(mt_check(&t, 1 + (unsigned)k % 2) == 0, "%s at l = %u, s = %u",
                      tab_names[f], t.l, t.s);
            mt_free(&t);
        }
    prg_clear(&g);
}

TEST(table_wide) {
    prg g;
    harness_prg(&g, 78);
    static const unsigned ls[][2] = {{16, 6}, {37, 12}, {41, 15}, {64, 20}};
    static const size_t ns[] = {1, 129, 300, 1000};
    for (int f = 1; f <= 3; f++)
        for (size_t k = 0; k < 4; k++) {
            mt t = {.l = ls[k][0], .s = ls[k][1], .sig = f};
            mt_alloc(&t, ns[k]);
            edge_values(t.x, &g, t.n, t.l, 1);
            /* the segments' ends and the clip around +-2^R */
            unsigned R = f != 2 ? 4 : 3, sg = f != 2 ? 2 : 3;
            uint64_t m = bits_mask(t.l), q = 1ULL << (t.s - sg), hi = 1ULL << (t.s + R);
            uint64_t pts[] = {q, q - 1, 5 * q + 1, hi, hi - 1, hi + 1, -hi, -hi + 1, -q, 0};
            for (size_t i = 0; i < 10 && 60 + i < t.n; i++)
                t.x[1][60 + i] = (pts[i] - t.x[0][60 + i]) & m;
            CHECK_MSG(mt_check(&t, 1 + (unsigned)k % 3) == 0, "%s at l = %u, s = %u",
                      tab_names[f], t.l, t.s);
            mt_free(&t);
        }
    prg_clear(&g);
}

/* The stated error bounds against float (docs/MODELS.md), for every ring
 * element x (its real value x / 2^s): Sigmoid 1.7e-5 + 1.91 * 2^-s, Tanh
 * 3.3e-5 + 1.70 * 2^-s, Exp (x <= 0, its domain) 1.2e-4 + 1.75 * 2^-s; all of them at
 * (24, 8) and (12, 6), every 2^-s step of [-20, 20] at (37, 12) and every
 * 16th at (64, 20). */
#define EXP_BOUND(s) (1.2e-4 + 1.75 * ldexp(1.0, -(int)(s)))
TEST(table_error_bound) {
    static const unsigned ls[][3] = {{24, 8, 1}, {12, 6, 1}, {37, 12, 1}, {64, 20, 16}};
    for (int f = 1; f <= 3; f++)
        for (size_t k = 0; k < 4; k++) {
            unsigned l = ls[k][0], s = ls[k][1];
            uint64_t m = bits_mask(l), step = ls[k][2];
            int64_t lim = k < 2 ? ((int64_t)1 << (l - 1)) : (int64_t)20 << s;
            double worst = 0, at = 0,
                   bound = f == 1   ? 1.7e-5 + 1.91 * ldexp(1.0, -(int)s)
                           : f == 2 ? 3.3e-5 + 1.70 * ldexp(1.0, -(int)s)
                                    : EXP_BOUND(s);
            for (int64_t v = -lim; v < (f == 3 ? 1 : lim); v += (int64_t)step) {
                uint64_t x = (uint64_t)v & m, y;
                double xr = ldexp((double)v, -(int)s);
                if (f == 1)
                    nl_sigmoid_plain(&y, &x, 1, l, s);
                else if (f == 2)
                    nl_tanh_plain(&y, &x, 1, l, s);
                else
                    nl_exp_plain(&y, &x, 1, l, s);
                double e = fabs(ldexp((double)bits_signed(y, l), -(int)s) -
                                (f == 1 ? 1 / (1 + exp(-xr)) : f == 2 ? tanh(xr) : exp(xr)));
                if (e > worst) worst = e, at = xr;
            }
            printf("  %s (%u, %u): max error %.3g = %.2f x 2^-%u at x = %g (bound %.3g)\n",
                   tab_names[f], l, s, worst, ldexp(worst, (int)s), s, at, bound);
            CHECK_MSG(worst <= bound, "(%u, %u): error %g above %g", l, s, worst, bound);
        }
}

/* The table functions' flights: the flight model retraces every stage
 * (DReLU, MUX, ReLU, truncate-and-reduce, the table's OTs, two products
 * with truncation, MUX; Reciprocal's DReLUs, MUX and products around the
 * table) as the run's longest chain of messages shows. */
TEST(table_flights) {
    prg g;
    harness_prg(&g, 79);
    for (int f = 1; f <= 4; f++)
        for (unsigned lanes = 1; lanes <= 2; lanes++) {
            unsigned l = 37, s = 12;
            fsim *fs;
            REQUIRE_OK(fsim_new(&fs, test_backend(), lanes, &FERRET_TOY));
            ot_costing oc = {.backend = test_backend(), .fs = fs};
            (void)(f == 1   ? nl_sigmoid_bytes(&oc, 700, l, s, lanes)
                   : f == 2 ? nl_tanh_bytes(&oc, 700, l, s, lanes)
                   : f == 3 ? nl_exp_bytes(&oc, 700, l, s, lanes)
                            : nl_recip_bytes(&oc, 700, l, s, 11, 17, lanes));
            uint64_t model = fsim_flights(fs);
            fsim_free(fs);
            mt t = {.l = l, .s = s, .sig = f, .lo = 11, .hi = 17};
            mt_alloc(&t, 700);
            edge_values(t.x, &g, t.n, t.l, 1);
            CHECK(mt_check(&t, lanes) == 0);
            uint64_t d = 0;
            for (int r = 0; r < 2; r++) {
                uint64_t dr = run2_party_stats[r].depth - run2_party_setup_stats[r].depth;
                if (dr > d) d = dr;
            }
            printf("  %s, %u lanes: %llu flights predicted, %llu measured\n",
                   tab_names[f], lanes, (unsigned long long)model,
                   (unsigned long long)d);
            CHECK_EQ(d, model);
            mt_free(&t);
        }
    prg_clear(&g);
}

/* ONNX's HardSwish has no rounded constant: for every ring element x
 * whose product x * clip(x + 3, 0, 6) fits the ring (the range check's
 * domain), y is its floor divided by 6 at the scale, within one unit below
 * the real value: all such x at (24, 8), [-20, 20] at (37, 12). */
TEST(hswish_error_bound) {
    static const unsigned ls[][2] = {{24, 8}, {37, 12}};
    for (size_t k = 0; k < 2; k++) {
        unsigned l = ls[k][0], s = ls[k][1];
        nl_actp a;
        hswish_params(&a, NULL, l, s, 1);
        uint64_t m = bits_mask(l);
        int64_t lim = k == 0 ? ((int64_t)1 << (l - 1)) : (int64_t)20 << s;
        double worst = 0, u = ldexp(1.0, -(int)s);
        for (int64_t v = -lim; v < lim; v++) {
            uint64_t x = (uint64_t)v & m, y;
            nl_hswish_plain(&y, &x, 1, l, &a);
            double xr = ldexp((double)v, -(int)s), want = xr * fmin(fmax(xr + 3, 0), 6) / 6;
            double d = want - ldexp((double)bits_signed(y, l), -(int)s);
            int64_t fit = ((int64_t)1 << (l - 1)) / (6LL << s);
            if (v < fit && v > -fit && (d < 0 || d >= u))
                worst = fmax(worst, fabs(d) / u + 1);
        }
        CHECK_MSG(worst == 0, "(%u, %u): an output off by %g units", l, s, worst);
    }
}

/* Reciprocal: every value of the ring (inside the domain or not) at
 * small l with random splits; edge values, the thresholds 2^j and their
 * neighbours, and random values of the domain at the wide rings. */
TEST(recip_all_values) {
    prg g;
    harness_prg(&g, 80);
    /* the last: D = 0, one binade, no comparison */
    static const unsigned ls[][4] = {{12, 6, 5, 9}, {14, 6, 4, 11}, {13, 7, 6, 8}, {12, 6, 6, 7}};
    for (size_t k = 0; k < 4; k++) {
        mt t = {.l = ls[k][0], .s = ls[k][1], .lo = ls[k][2], .hi = ls[k][3], .sig = 4};
        uint64_t m = bits_mask(t.l);
        mt_alloc(&t, (size_t)1 << t.l);
        prg_ring(&g, t.x[0], t.n, t.l);
        for (size_t i = 0; i < t.n; i++) t.x[1][i] = (i - t.x[0][i]) & m;
        CHECK_MSG(mt_check(&t, 1 + (unsigned)k % 2) == 0, "recip at l = %u, s = %u", t.l, t.s);
        mt_free(&t);
    }
    prg_clear(&g);
}

TEST(recip_wide) {
    prg g;
    harness_prg(&g, 81);
    static const unsigned ls[][4] = {{37, 12, 11, 17}, {64, 20, 19, 30}, {40, 12, 3, 27}};
    static const size_t ns[] = {300, 129, 1000};
    for (size_t k = 0; k < 3; k++) {
        mt t = {.l = ls[k][0], .s = ls[k][1], .lo = ls[k][2], .hi = ls[k][3], .sig = 4};
        mt_alloc(&t, ns[k]);
        edge_values(t.x, &g, t.n, t.l, 1);
        uint64_t m = bits_mask(t.l), span = (1ULL << t.hi) - (1ULL << t.lo);
        for (size_t i = 33; i < t.n; i++) {
            uint64_t x = (1ULL << t.lo) + prg_u64(&g) % span;
            unsigned j = t.lo + (unsigned)(i % (t.hi - t.lo));
            if (i % 3 == 0) x = (1ULL << j) - (i % 2);
            t.x[1][i] = (x - t.x[0][i]) & m;
        }
        CHECK_MSG(mt_check(&t, 1 + (unsigned)k % 3) == 0, "recip at l = %u, s = %u", t.l, t.s);
        mt_free(&t);
    }
    prg_clear(&g);
}

/* The stated bound (act2.h, docs/MODELS.md): for every x of the domain
 * [2^lo, 2^hi), |y - 2^(2s) / x| <= 2 + 2^(s-22) units at scale s when
 * x >= 2^s (1 / x <= 1; the 2^(s-22): the fit's 1.9e-7), that many times
 * 2^(s-k) below (k = msb(x)). All of them at (24, 8), (37, 12) and (16, 6),
 * every 997th at (64, 20). */
TEST(recip_error_bound) {
    static const unsigned ls[][5] = {
        {24, 8, 2, 16, 1}, {37, 12, 11, 22, 1}, {16, 6, 3, 9, 1}, {64, 20, 19, 30, 997}};
    for (size_t k = 0; k < 4; k++) {
        unsigned l = ls[k][0], s = ls[k][1], lo = ls[k][2], hi = ls[k][3];
        double worst = 0, at = 0, bound = 2 + ldexp(1.0, (int)s - 22);
        for (uint64_t x = 1ULL << lo; x < 1ULL << hi; x += ls[k][4]) {
            uint64_t y;
            nl_recip_plain(&y, &x, 1, l, s, lo, hi);
            unsigned msb = 63 - (unsigned)__builtin_clzll(x);
            double e = fabs((double)bits_signed(y, l) - ldexp(1.0, 2 * (int)s) / (double)x);
            if (msb < s) e = ldexp(e, (int)msb - (int)s);
            if (e > worst) worst = e, at = ldexp((double)x, -(int)s);
        }
        printf("  recip (%u, %u) on [2^%u, 2^%u): max error %.3f units (scaled below 1) at x = %g, "
               "bound %.3f\n",
               l, s, lo, hi, worst, at, bound);
        CHECK_MSG(worst <= bound, "(%u, %u): error %g units", l, s, worst);
    }
}

/* ---- Softmax (nl/act3.h) ---- */

typedef struct smt {
    size_t outer, cols, inner;
    unsigned l, s;
    uint64_t *x[2], *y[2];
} smt;

static int sm_party(party *p, void *arg) {
    smt *t = arg;
    int r = p->role;
    return nl_softmax(p, t->y[r], t->x[r], t->outer, t->cols, t->inner, t->l, t->s);
}

/* Rows of values at scale s: random within +-2^(s+4) (a few rows the
 * whole ring's half range, so differences reach the ring's edge), with
 * ties, equal rows and single large entries; secure vs the twin, bit for
 * bit, and the bytes as predicted. */
static int sm_check(smt *t, prg *g, unsigned lanes) {
    size_t n = t->outer * t->cols * t->inner;
    uint64_t m = bits_mask(t->l), *x = mem_alloc(n + 1, 8), *want = mem_alloc(n + 1, 8);
    for (int r = 0; r < 2; r++) {
        t->x[r] = mem_alloc(n + 1, 8);
        t->y[r] = mem_alloc(n + 1, 8);
    }
    unsigned span = t->s + 5 < t->l - 2 ? t->s + 5 : t->l - 2;
    for (size_t i = 0; i < n; i++) {
        x[i] = (prg_u64(g) & bits_mask(span)) - (1ULL << (span - 1));
        if (i % 7 == 3) x[i] = x[i ? i - 1 : 0];
        if (i % 11 == 5) x[i] = (1ULL << (t->s + 3)) + (i % 3);
        x[i] &= m;
    }
    if (n > 0) x[0] = (1ULL << (t->l - 2)) - 1; /* a wide row: x - m reaches -2^(l-2) */
    if (n > 1) x[n - 1] = (0 - (1ULL << (t->l - 2))) & m;
    prg_ring(g, t->x[0], n, t->l);
    for (size_t i = 0; i < n; i++) t->x[1][i] = (x[i] - t->x[0][i]) & m;
    int rc = run2_party(sm_party, t, lanes), bad = rc != 0;
    CHECK_MSG(rc == 0, "%s", err_msg());
    if (rc == 0) {
        pred_cots = 0;
        uint64_t pred = nl_softmax_bytes(OC, t->outer, t->cols, t->inner, t->l, t->s, lanes);
        uint64_t got = measured_bytes();
        CHECK_MSG(got == pred, "softmax %zux%zux%zu l=%u s=%u: %llu bytes, predicted %llu",
                  t->outer, t->cols, t->inner, t->l, t->s, (unsigned long long)got,
                  (unsigned long long)pred);
        bad |= got != pred;
        CHECK_EQ(nl_softmax_plain(want, x, t->outer, t->cols, t->inner, t->l, t->s), 0);
        for (size_t i = 0; i < n && !bad; i++)
            if (((t->y[0][i] + t->y[1][i]) & m) != want[i]) {
                harness_fail(__FILE__, __LINE__, "softmax l=%u s=%u: element %zu: 0x%llx, want 0x%llx",
                             t->l, t->s, i, (unsigned long long)((t->y[0][i] + t->y[1][i]) & m),
                             (unsigned long long)want[i]);
                bad = 1;
            }
    }
    for (int r = 0; r < 2; r++) {
        mem_free(t->x[r]);
        mem_free(t->y[r]);
    }
    mem_free(x);
    mem_free(want);
    return bad;
}

TEST(softmax_secure_equals_plain) {
    prg g;
    harness_prg(&g, 82);
    static const size_t shapes[][3] = {{1, 1, 1}, {3, 2, 1}, {2, 10, 3}, {1, 5, 7}, {4, 3, 1},
                                       {1, 130, 1}, {2, 17, 2}};
    static const unsigned ls[][2] = {{12, 6}, {37, 12}, {64, 20}, {20, 8}, {16, 7}, {37, 12},
                                     {40, 14}};
    for (size_t k = 0; k < 7; k++) {
        smt t = {.outer = shapes[k][0], .cols = shapes[k][1], .inner = shapes[k][2],
                 .l = ls[k][0], .s = ls[k][1]};
        CHECK_MSG(sm_check(&t, &g, 1 + (unsigned)k % 2) == 0, "shape %zu", k);
    }
    prg_clear(&g);
}

/* Against float softmax p on random rows in [-6, 6): each output within
 * 2.5e-4 p + (cols p + 4) 1.75 2^-s (docs/MODELS.md: the Exp's fit, relative,
 * on e_j and on the sum; its floors, 1.75 units each, on e_j and on all
 * cols of the sum; the reciprocal's 2 units and the product's floor). */
TEST(softmax_error_bound) {
    prg g;
    harness_prg(&g, 83);
    static const unsigned ls[][2] = {{37, 12}, {24, 8}, {64, 20}};
    static const size_t colss[] = {2, 10, 100, 1000};
    for (size_t k = 0; k < 3; k++)
        for (size_t c = 0; c < 4; c++) {
            unsigned l = ls[k][0], s = ls[k][1];
            size_t cols = colss[c], rows = 20;
            uint64_t m = bits_mask(l), *x = mem_alloc(rows * cols, 8), *y = mem_alloc(rows * cols, 8);
            for (size_t i = 0; i < rows * cols; i++)
                x[i] = ((prg_u64(&g) % (12ULL << s)) - (6ULL << s)) & m;
            CHECK_EQ(nl_softmax_plain(y, x, rows, cols, 1, l, s), 0);
            double u = ldexp(1.0, -(int)s), worst = 0, bound = 0;
            for (size_t r = 0; r < rows; r++) {
                double mx = -1e300, sum = 0;
                for (size_t j = 0; j < cols; j++) mx = fmax(mx, (double)bits_signed(x[r * cols + j], l));
                for (size_t j = 0; j < cols; j++)
                    sum += exp(ldexp((double)bits_signed(x[r * cols + j], l) - mx, -(int)s));
                for (size_t j = 0; j < cols; j++) {
                    double p = exp(ldexp((double)bits_signed(x[r * cols + j], l) - mx, -(int)s)) / sum;
                    double e = fabs(ldexp((double)bits_signed(y[r * cols + j], l), -(int)s) - p);
                    double b = 2.5e-4 * p + ((double)cols * p + 4) * 1.75 * u;
                    CHECK_MSG(e <= b, "(%u, %u) cols %zu: %g above %g", l, s, cols, e, b);
                    if (e > worst) worst = e, bound = b;
                }
            }
            printf("  softmax (%u, %u) over %zu: max error %.3g = %.2f x 2^-%u (its bound %.3g)\n", l,
                   s, cols, worst, ldexp(worst, (int)s), s, bound);
            mem_free(x);
            mem_free(y);
        }
    prg_clear(&g);
}

/* Softmax's flights: the flight model retraces the max tree, the Exp, the
 * reciprocal and the product as the run's longest chain of messages shows. */
TEST(softmax_flights) {
    prg g;
    harness_prg(&g, 84);
    for (unsigned lanes = 1; lanes <= 2; lanes++) {
        smt t = {.outer = 3, .cols = 37, .inner = 2, .l = 37, .s = 12};
        fsim *fs;
        REQUIRE_OK(fsim_new(&fs, test_backend(), lanes, &FERRET_TOY));
        ot_costing oc = {.backend = test_backend(), .fs = fs};
        (void)nl_softmax_bytes(&oc, t.outer, t.cols, t.inner, t.l, t.s, lanes);
        uint64_t model = fsim_flights(fs);
        fsim_free(fs);
        CHECK(sm_check(&t, &g, lanes) == 0);
        uint64_t d = 0;
        for (int r = 0; r < 2; r++) {
            uint64_t dr = run2_party_stats[r].depth - run2_party_setup_stats[r].depth;
            if (dr > d) d = dr;
        }
        printf("  softmax, %u lanes: %llu flights predicted, %llu measured\n", lanes,
               (unsigned long long)model, (unsigned long long)d);
        CHECK_EQ(d, model);
    }
    prg_clear(&g);
}
