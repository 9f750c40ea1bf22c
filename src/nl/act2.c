/* Products of two secret-shared tensors (COT-based multiplication),
 * HardSwish on them, and Sigmoid and Tanh from tables of quadratics; see
 * act2.h for the protocols and their costs. The comparisons, truncations
 * and MUXes are nl.h's and mpc/arith.h's: this file adds the product and
 * the table lookup. */
#include "nl/act2.h"

#include "nl/nl.h"

#include "mpc/arith.h"
#include "mpc/flights.h"
#include "nl/act2_tables.h"
#include "util/bits.h"
#include "util/mem.h"

#include <string.h>

#define GRAIN 128 /* lane slices of whole OT blocks */

/* COT widths 0..64, for the jobs' ls pointers. */
static const unsigned widths[65] = {
    0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
    22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43,
    44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64};

/* The 2l jobs of one block of n products: for bit j, S sends then C sends,
 * n COTs of width l - j each. A party sends with correlation x_P mod
 * 2^(l-j) (delta) and gets its random xs; it receives with choice bit j of
 * its y_P and gets out = xs' + bit * delta'. */
static void mul_jobs(otb_job *jobs, size_t n, unsigned l, uint64_t *xs, const uint64_t *delta,
                     const uint8_t *ch, uint64_t *out) {
    for (unsigned j = 0; j < l; j++)
        for (int snd = 0; snd < 2; snd++) {
            otb_job jb = {.kind = OTB_COT, .sender = snd, .n = n, .ls = &widths[l - j], .M = 1};
            jb.x = xs ? xs + (size_t)j * n : NULL;
            jb.delta = delta ? delta + (size_t)j * n : NULL;
            jb.choices = ch ? ch + (size_t)j * n : NULL;
            jb.out = out ? out + (size_t)j * n : NULL;
            jobs[2 * j + snd] = jb;
        }
}

/* z = x * y mod 2^l on one lane, n <= NL_MUL_BLOCK. */
static int mul_block(mpc_lane *L, uint64_t *z, const uint64_t *x, const uint64_t *y, size_t n,
                     unsigned l) {
    size_t cnt = n * l, words = 3 * cnt;
    uint64_t m = bits_mask(l);
    uint64_t *buf = mem_alloc(words, sizeof *buf);
    uint8_t *ch = mem_alloc(cnt, 1);
    otb_job jobs[128];
    int rc = PARLEY_E_NOMEM;
    if (!buf || !ch) {
        rc = err_set(PARLEY_E_NOMEM, "out of memory for a product");
        goto done;
    }
    uint64_t *xs = buf, *delta = buf + cnt, *out = buf + 2 * cnt;
    for (unsigned j = 0; j < l; j++)
        for (size_t i = 0; i < n; i++) {
            delta[(size_t)j * n + i] = x[i] & bits_mask(l - j);
            ch[(size_t)j * n + i] = (uint8_t)((y[i] >> j) & 1);
        }
    mul_jobs(jobs, n, l, xs, delta, ch, out);
    if ((rc = otb_run(L, jobs, 2 * (size_t)l)) < 0) goto done;
    for (size_t i = 0; i < n; i++) {
        uint64_t v = x[i] * y[i];
        for (unsigned j = 0; j < l; j++)
            v += (out[(size_t)j * n + i] - xs[(size_t)j * n + i]) << j;
        z[i] = v & m;
    }
done:
    if (buf) mem_free_wipe(buf, words * sizeof *buf);
    if (ch) mem_free_wipe(ch, cnt);
    return rc;
}

typedef struct mul_ctx {
    uint64_t *z;
    const uint64_t *x, *y;
    unsigned l;
} mul_ctx;

static int mul_lane(mpc_lane *L, void *arg, size_t first, size_t count) {
    const mul_ctx *c = arg;
    for (size_t b = 0; b < count; b += NL_MUL_BLOCK) {
        size_t k = count - b < NL_MUL_BLOCK ? count - b : NL_MUL_BLOCK;
        TRY(mul_block(L, c->z + first + b, c->x + first + b, c->y + first + b, k, c->l));
    }
    return 0;
}

static int check_l(unsigned l) {
    if (l < 1 || l > 64) return err_set(PARLEY_E_ARG, "ring width %u is not in 1..64", l);
    return 0;
}

int nl_mul(party *p, uint64_t *z, const uint64_t *x, const uint64_t *y, size_t n, unsigned l) {
    TRY(check_l(l));
    mul_ctx c = {z, x, y, l};
    return party_run(p, n, GRAIN, mul_lane, &c);
}

int nl_mul_trunc(party *p, uint64_t *z, const uint64_t *x, const uint64_t *y, size_t n,
                 unsigned l, unsigned s) {
    TRY(check_l(l));
    if (s >= l) return err_set(PARLEY_E_ARG, "product: shift %u not below l = %u", s, l);
    if (s == 0 || n == 0) return nl_mul(p, z, x, y, n, l);
    uint64_t *t = mem_alloc(n, sizeof *t);
    if (!t) return party_fail(p, err_set(PARLEY_E_NOMEM, "out of memory for a product"));
    int rc = nl_mul(p, t, x, y, n, l);
    if (rc == 0) rc = nl_trunc(p, z, t, n, l, s);
    mem_free_wipe(t, n * sizeof *t);
    return rc;
}

void nl_mul_trunc_plain(uint64_t *z, const uint64_t *x, const uint64_t *y, size_t n, unsigned l,
                        unsigned s) {
    uint64_t m = bits_mask(l);
    for (size_t i = 0; i < n; i++) {
        uint64_t t = (x[i] * y[i]) & m;
        nl_trunc_plain(&z[i], &t, 1, l, s);
    }
}

/* One lane's blocks: the jobs of each, then its exchange. */
static uint64_t mul_lane_bytes(const ot_costing *oc, size_t count, unsigned l) {
    otb_job jobs[128];
    uint64_t b = 0;
    for (size_t k0 = 0; k0 < count; k0 += NL_MUL_BLOCK) {
        size_t k = count - k0 < NL_MUL_BLOCK ? count - k0 : NL_MUL_BLOCK;
        mul_jobs(jobs, k, l, NULL, NULL, NULL, NULL);
        for (unsigned j = 0; j < 2 * l; j++)
            b += otb_job_cost(oc, &jobs[j]);
        otb_cost_run(oc);
    }
    return b;
}

/* Sum of f over the slices party_run makes (grain GRAIN), with the flight
 * model's fork, lanes and join. */
static uint64_t lanes_bytes(const ot_costing *oc, size_t n, unsigned l, unsigned lanes,
                            uint64_t (*f)(const ot_costing *, size_t, unsigned)) {
    if (n == 0 || lanes < 1 || lanes > LANES_MAX) return 0;
    size_t count[LANES_MAX];
    party_split(count, n, GRAIN, lanes);
    uint64_t total = 0;
    if (oc->fs) fsim_fork(oc->fs);
    for (unsigned i = 0; i < lanes; i++) {
        if (!count[i]) continue;
        if (oc->fs) fsim_lane(oc->fs, i);
        total += f(oc, count[i], l);
    }
    if (oc->fs) fsim_join(oc->fs);
    return total;
}

static uint64_t mul_bytes(const ot_costing *oc, size_t n, unsigned l, unsigned lanes) {
    if (l < 1 || l > 64) return 0;
    return lanes_bytes(oc, n, l, lanes, mul_lane_bytes);
}

uint64_t nl_mul_trunc_bytes(const ot_costing *oc, size_t n, unsigned l, unsigned s,
                            unsigned lanes) {
    if (s >= l) return 0;
    uint64_t b = mul_bytes(oc, n, l, lanes);
    return s ? b + nl_trunc_bytes(oc, n, l, s, lanes) : b;
}

/* ---- HardSwish ---- */

int nl_hswish_check(const nl_actp *a, unsigned l) {
    TRY(nl_act_check(a, l));
    uint64_t hi = nl_act_get(a->hi);
    if (a->op != NL_ACT_CLIP || a->has != (NL_ACT_LO | NL_ACT_HI) || nl_act_get(a->lo) != 0 ||
        hi == 0 || hi >= (1ULL << (l - 1)) || hi > UINT64_MAX / 6)
        return err_set(PARLEY_E_ARG, "HardSwish: its clip must be from 0 to a positive bound");
    return 0;
}

/* z = x + beta, the server's share alone adding it. */
static void hswish_shift(uint64_t *z, const uint64_t *x, size_t n, unsigned l, const nl_actp *a,
                         int add) {
    uint64_t m = bits_mask(l), be = add ? nl_act_get(a->beta) : 0;
    for (size_t i = 0; i < n; i++)
        z[i] = (x[i] + be) & m;
}

int nl_hswish(party *p, uint64_t *y, const uint64_t *x, size_t n, unsigned l, const nl_actp *a) {
    TRY(nl_hswish_check(a, l));
    if (n == 0) return 0;
    uint64_t *t = mem_alloc(2 * n, sizeof *t);
    if (!t) return party_fail(p, err_set(PARLEY_E_NOMEM, "out of memory for HardSwish"));
    hswish_shift(t + n, x, n, l, a, p->role == MPC_SERVER);
    int rc = nl_act(p, t, t + n, n, l, a);
    if (rc == 0) rc = nl_mul(p, t + n, x, t, n, l);
    if (rc == 0) rc = nl_div(p, y, t + n, n, l, nl_act_get(a->hi));
    mem_free_wipe(t, 2 * n * sizeof *t);
    return rc;
}

void nl_hswish_plain(uint64_t *y, const uint64_t *x, size_t n, unsigned l, const nl_actp *a) {
    uint64_t m = bits_mask(l);
    for (size_t i = 0; i < n; i++) {
        uint64_t z, t;
        hswish_shift(&z, &x[i], 1, l, a, 1);
        nl_act_plain(&t, &z, 1, l, a);
        t = (x[i] * t) & m;
        nl_div_plain(&y[i], &t, 1, l, nl_act_get(a->hi));
    }
}

uint64_t nl_hswish_bytes(const ot_costing *oc, size_t n, unsigned l, const nl_actp *a,
                         unsigned lanes) {
    if (nl_hswish_check(a, l) < 0 || n == 0) return 0;
    return nl_act_bytes(oc, n, l, a, lanes) + mul_bytes(oc, n, l, lanes) +
           nl_div_bytes(oc, n, l, nl_act_get(a->hi), lanes);
}

/* ---- Sigmoid and Tanh: tables of quadratics (act2.h) ---- */

#define TAB_N 64 /* segments */

/* How a table function extends from its table's side to all x. */
enum {
    TAB_SIG, /* f(-x) = 1 - f(x) (Sigmoid) */
    TAB_ODD, /* f(-x) = -f(x) (Tanh) */
    TAB_EXP, /* the table is f(-t) for t = relu(-x): x > 0 is taken as 0 (Exp) */
};

/* A smooth function by its table: |x| (TAB_EXP: relu(-x)) clipped under
 * 2^R, segments of width 2^-seg (2^(R + seg) = TAB_N of them), and its
 * symmetry. */
typedef struct tabfn {
    const int64_t (*tab)[3];
    unsigned R, seg;
    int shape; /* TAB_* */
    const char *name;
} tabfn;

static const tabfn SIGMOID = {sig_table, 4, 2, TAB_SIG, "Sigmoid"};
static const tabfn TANH = {tanh_table, 3, 3, TAB_ODD, "Tanh"};
static const tabfn EXP = {exp_table, 4, 2, TAB_EXP, "Exp"};
/* Reciprocal's core only (tab_core): 1 / (1 + w) for w in [0, 1). */
static const tabfn RECIP = {recip_table, 0, 6, TAB_EXP, "Reciprocal"};

static int tab_check(const tabfn *f, unsigned l, unsigned s) {
    if (l < 1 || l > 64 || s < f->seg || l < s + f->R + 1)
        return err_set(PARLEY_E_ARG, "%s needs a scale s >= %u and l >= s + %u bits (here l = %u, s = %u)",
                       f->name, f->seg, f->R + 1, l, s);
    return 0;
}

int nl_sigmoid_check(unsigned l, unsigned s) {
    return tab_check(&SIGMOID, l, s);
}

int nl_tanh_check(unsigned l, unsigned s) {
    return tab_check(&TANH, l, s);
}

int nl_exp_check(unsigned l, unsigned s) {
    return tab_check(&EXP, l, s);
}

/* Entry k of segment i at scale s, mod 2^l: a, b, c (the scale-40
 * constant rounded half away from zero, in integers) or the segment's
 * start i 2^(s - seg). */
static uint64_t tab_entry(const tabfn *f, unsigned i, unsigned k, unsigned l, unsigned s) {
    if (k == 3) return (uint64_t)i << (s - f->seg);
    int64_t v = f->tab[i][k], h = (int64_t)1 << (39 - s);
    int64_t q = v >= 0 ? (v + h) >> (40 - s) : -((-v + h) >> (40 - s));
    return (uint64_t)q & bits_mask(l);
}

/* The clip: |x| just under 2^R. */
static uint64_t tab_hi(const tabfn *f, unsigned s) {
    return ((uint64_t)1 << (s + f->R)) - 1;
}

/* The final step's constants: y = MUX(d, 2r - off) + add - r. */
static uint64_t tab_one(const tabfn *f, unsigned s) {
    return f->shape == TAB_SIG ? (uint64_t)1 << s : 0;
}

/* The first step's factor: a = MUX(d, f x) - x, |x| (f = 2) or relu(-x)
 * (f = 1). */
static uint64_t tab_fold(const tabfn *f) {
    return f->shape == TAB_EXP ? 1 : 2;
}

/* The table's core: r from w (in [0, 2^(s+R)) on the functions' paths):
 * the segment i = floor(w / 2^(s-seg)) mod TAB_N on s + R + 1 bits, then
 * the quadratic in u = w - start. */
static uint64_t tab_core_plain(const tabfn *f, uint64_t w, unsigned l, unsigned s) {
    uint64_t m = bits_mask(l), q, t, wr = w & bits_mask(s + f->R + 1);
    nl_trunc_plain(&q, &wr, 1, s + f->R + 1, s - f->seg);
    unsigned i = (unsigned)(q & (TAB_N - 1));
    uint64_t u = (w - tab_entry(f, i, 3, l, s)) & m, a = tab_entry(f, i, 0, l, s);
    nl_mul_trunc_plain(&t, &a, &u, 1, l, s);
    t = (t + tab_entry(f, i, 1, l, s)) & m;
    nl_mul_trunc_plain(&t, &t, &u, 1, l, s);
    return (t + tab_entry(f, i, 2, l, s)) & m;
}

static void tab_plain(const tabfn *f, uint64_t *y, const uint64_t *x, size_t n, unsigned l,
                      unsigned s) {
    uint64_t m = bits_mask(l), one = tab_one(f, s);
    for (size_t k = 0; k < n; k++) {
        uint64_t xv = x[k] & m, r, e, t;
        nl_relu_plain(&r, &xv, 1, l);
        uint64_t ax = (tab_fold(f) * r - xv) & m;
        t = (ax - tab_hi(f, s)) & m;
        nl_relu_plain(&e, &t, 1, l);
        uint64_t rr = tab_core_plain(f, (ax - e) & m, l, s), d = bits_signed(xv, l) >= 0;
        y[k] = f->shape == TAB_EXP ? rr : (d * (2 * rr - one) + one - rr) & m;
    }
}

void nl_sigmoid_plain(uint64_t *y, const uint64_t *x, size_t n, unsigned l, unsigned s) {
    tab_plain(&SIGMOID, y, x, n, l, s);
}

void nl_tanh_plain(uint64_t *y, const uint64_t *x, size_t n, unsigned l, unsigned s) {
    tab_plain(&TANH, y, x, n, l, s);
}

void nl_exp_plain(uint64_t *y, const uint64_t *x, size_t n, unsigned l, unsigned s) {
    tab_plain(&EXP, y, x, n, l, s);
}

/* Lane steps on the DReLU bits d. MUX: y = MUX(d, f x - off) + add - g x,
 * where the server alone subtracts off and adds add. */
typedef struct sig_ctx {
    const uint8_t *d;
    uint64_t *y;
    const uint64_t *x;
    uint64_t f, g, off, add;
    unsigned l, s;
    const tabfn *fn;
    const uint8_t *idx; /* LUT: this party's share of the segment, mod TAB_N */
    uint64_t *tab[4];   /* LUT: the four entries' shares */
} sig_ctx;

static int sig_mux_lane(mpc_lane *L, void *arg, size_t first, size_t n) {
    const sig_ctx *c = arg;
    uint64_t m = bits_mask(c->l), *v = mem_alloc(n ? n : 1, sizeof *v);
    if (!v) return err_set(PARLEY_E_NOMEM, "out of memory for a table function");
    int srv = L->role == MPC_SERVER;
    for (size_t i = 0; i < n; i++)
        v[i] = (c->f * c->x[first + i] - (srv ? c->off : 0)) & m;
    uint64_t *y = c->y + first;
    const uint64_t *vv = v;
    int rc = mpc_mux(L, &y, c->d + first, &vv, &c->l, 1, n);
    for (size_t i = 0; rc == 0 && i < n; i++)
        y[i] = (y[i] + (srv ? c->add : 0) - c->g * c->x[first + i]) & m;
    mem_free_wipe(v, (n ? n : 1) * sizeof *v);
    return rc;
}

/* The server's messages for entry k: for the client's choice j, the entry
 * of segment (j + its own share) mod TAB_N, minus its share r. */
typedef struct sig_gen {
    const sig_ctx *c;
    size_t first;
    unsigned k;
} sig_gen;

static void sig_lut_gen(void *ctx, uint64_t *out, size_t first, size_t mm) {
    const sig_gen *g = ctx;
    const sig_ctx *c = g->c;
    uint64_t m = bits_mask(c->l);
    for (size_t e = 0; e < mm; e++) {
        size_t at = g->first + first + e;
        for (unsigned j = 0; j < TAB_N; j++)
            out[e * TAB_N + j] = (tab_entry(c->fn, (j + c->idx[at]) & (TAB_N - 1), g->k, c->l,
                                            c->s) -
                                  c->tab[g->k][at]) &
                                 m;
    }
}

static int sig_lut_lane(mpc_lane *L, void *arg, size_t first, size_t n) {
    const sig_ctx *c = arg;
    otb_job jobs[4];
    sig_gen g[4];
    for (unsigned k = 0; k < 4; k++) {
        g[k] = (sig_gen){c, first, k};
        if (L->role == MPC_SERVER) prg_ring(&L->ot.rng, c->tab[k] + first, n, c->l);
        jobs[k] = (otb_job){.kind = OTB_KK, .sender = MPC_SERVER, .n = n, .N = TAB_N, .l = c->l,
                            .gen = sig_lut_gen, .gen_ctx = &g[k], .choices = c->idx + first,
                            .out = c->tab[k] + first};
    }
    return otb_run(L, jobs, 4);
}

/* Scratch for a protocol: words of 64 bits and bytes, both or neither
 * (the party failed with what ran out). */
static int scratch(party *p, uint64_t **buf, size_t words, uint8_t **b, size_t bytes,
                   const char *what) {
    *buf = mem_alloc(words, sizeof **buf);
    *b = mem_alloc(bytes, 1);
    if (*buf && *b) return 0;
    mem_free(*buf);
    mem_free(*b);
    return party_fail(p, err_set(PARLEY_E_NOMEM, "out of memory for %s", what));
}

/* The core on shares: r from w (tab_core_plain), n >= 1; w is
 * overwritten. */
static int tab_core(const tabfn *f, party *p, uint64_t *r, uint64_t *w, size_t n, unsigned l,
                    unsigned s) {
    uint64_t m = bits_mask(l);
    size_t words = 6 * n;
    uint64_t *buf;
    uint8_t *idx;
    TRY(scratch(p, &buf, words, &idx, n, "a table function"));
    uint64_t *e = buf, *t = buf + n;
    uint64_t *tab[4] = {buf + 2 * n, buf + 3 * n, buf + 4 * n, buf + 5 * n};
    for (size_t i = 0; i < n; i++)
        t[i] = w[i] & bits_mask(s + f->R + 1);
    /* the segment: floor(w / 2^(s-seg)) on s + R + 1 bits, mod TAB_N */
    int rc = nl_trunc_reduce(p, e, t, n, s + f->R + 1, s - f->seg);
    for (size_t i = 0; rc == 0 && i < n; i++)
        idx[i] = (uint8_t)(e[i] & (TAB_N - 1));
    sig_ctx c = {.idx = idx, .tab = {tab[0], tab[1], tab[2], tab[3]}, .l = l, .s = s, .fn = f};
    if (rc == 0) rc = party_run(p, n, GRAIN, sig_lut_lane, &c);
    /* u = w - start; ((a u >> s) + b) u >> s + c */
    for (size_t i = 0; rc == 0 && i < n; i++)
        w[i] = (w[i] - tab[3][i]) & m;
    if (rc == 0) rc = nl_mul_trunc(p, t, tab[0], w, n, l, s);
    for (size_t i = 0; rc == 0 && i < n; i++)
        t[i] = (t[i] + tab[1][i]) & m;
    if (rc == 0) rc = nl_mul_trunc(p, e, t, w, n, l, s);
    for (size_t i = 0; rc == 0 && i < n; i++)
        r[i] = (e[i] + tab[2][i]) & m;
    mem_free_wipe(buf, words * sizeof *buf);
    mem_free_wipe(idx, n);
    return rc;
}

static int tab_run(const tabfn *f, party *p, uint64_t *y, const uint64_t *x, size_t n, unsigned l,
                   unsigned s) {
    TRY(tab_check(f, l, s));
    if (n == 0) return 0;
    uint64_t m = bits_mask(l);
    size_t words = 4 * n;
    uint64_t *buf;
    uint8_t *d;
    TRY(scratch(p, &buf, words, &d, n, "a table function"));
    uint64_t *ax = buf, *e = buf + n, *w = buf + 2 * n, *t = buf + 3 * n;
    int srv = p->role == MPC_SERVER;
    /* |x| = MUX(d, 2x) - x (Exp: relu(-x) = MUX(d, x) - x), then clipped:
     * w = |x| - relu(|x| - hi) */
    int rc = nl_drelu(p, d, x, n, l);
    sig_ctx c = {.d = d, .y = ax, .x = x, .f = tab_fold(f), .g = 1, .l = l, .s = s};
    if (rc == 0) rc = party_run(p, n, GRAIN, sig_mux_lane, &c);
    for (size_t i = 0; rc == 0 && i < n; i++)
        t[i] = (ax[i] - (srv ? tab_hi(f, s) : 0)) & m;
    if (rc == 0) rc = nl_relu(p, e, t, n, l);
    for (size_t i = 0; rc == 0 && i < n; i++)
        w[i] = (ax[i] - e[i]) & m;
    uint64_t *r = f->shape == TAB_EXP ? y : t; /* Exp: y = r */
    if (rc == 0) rc = tab_core(f, p, r, w, n, l, s);
    /* y = 1 - r + MUX(d, 2r - 1) (Sigmoid), MUX(d, 2r) - r (Tanh) */
    c = (sig_ctx){.d = d, .y = y, .x = t, .f = 2, .g = 1, .off = tab_one(f, s),
                  .add = tab_one(f, s), .l = l, .s = s};
    if (rc == 0 && f->shape != TAB_EXP) rc = party_run(p, n, GRAIN, sig_mux_lane, &c);
    mem_free_wipe(buf, words * sizeof *buf);
    mem_free_wipe(d, n);
    return rc;
}

int nl_sigmoid(party *p, uint64_t *y, const uint64_t *x, size_t n, unsigned l, unsigned s) {
    return tab_run(&SIGMOID, p, y, x, n, l, s);
}

int nl_tanh(party *p, uint64_t *y, const uint64_t *x, size_t n, unsigned l, unsigned s) {
    return tab_run(&TANH, p, y, x, n, l, s);
}

int nl_exp(party *p, uint64_t *y, const uint64_t *x, size_t n, unsigned l, unsigned s) {
    return tab_run(&EXP, p, y, x, n, l, s);
}

/* Per lane: the MUX's jobs and its exchange. */
static uint64_t sig_mux_lane_bytes(const ot_costing *oc, size_t n, unsigned l) {
    uint64_t b = mpc_mux_bytes(oc, &l, 1, n);
    otb_cost_run(oc);
    return b;
}

static uint64_t sig_lut_lane_bytes(const ot_costing *oc, size_t n, unsigned l) {
    uint64_t b = 0;
    for (unsigned k = 0; k < 4; k++) {
        otb_job j = {.kind = OTB_KK, .sender = MPC_SERVER, .n = n, .N = TAB_N, .l = l};
        b += otb_job_cost(oc, &j);
    }
    otb_cost_run(oc);
    return b;
}

static uint64_t sig_drelu_lane_bytes(const ot_costing *oc, size_t n, unsigned l) {
    return mpc_msb_bytes(oc, n, l, MPC_MILL_M);
}

static uint64_t tab_core_bytes(const tabfn *f, const ot_costing *oc, size_t n, unsigned l,
                               unsigned s, unsigned lanes) {
    uint64_t b = nl_trunc_reduce_bytes(oc, n, s + f->R + 1, s - f->seg, lanes);
    b += lanes_bytes(oc, n, l, lanes, sig_lut_lane_bytes);
    b += nl_mul_trunc_bytes(oc, n, l, s, lanes);
    return b + nl_mul_trunc_bytes(oc, n, l, s, lanes);
}

static uint64_t tab_bytes(const tabfn *f, const ot_costing *oc, size_t n, unsigned l, unsigned s,
                          unsigned lanes) {
    if (tab_check(f, l, s) < 0 || n == 0 || lanes < 1 || lanes > LANES_MAX) return 0;
    uint64_t b = lanes_bytes(oc, n, l, lanes, sig_drelu_lane_bytes);
    b += lanes_bytes(oc, n, l, lanes, sig_mux_lane_bytes);
    b += nl_relu_bytes(oc, n, l, lanes);
    b += tab_core_bytes(f, oc, n, l, s, lanes);
    if (f->shape != TAB_EXP) b += lanes_bytes(oc, n, l, lanes, sig_mux_lane_bytes);
    return b;
}

uint64_t nl_sigmoid_bytes(const ot_costing *oc, size_t n, unsigned l, unsigned s,
                          unsigned lanes) {
    return tab_bytes(&SIGMOID, oc, n, l, s, lanes);
}

uint64_t nl_tanh_bytes(const ot_costing *oc, size_t n, unsigned l, unsigned s, unsigned lanes) {
    return tab_bytes(&TANH, oc, n, l, s, lanes);
}

uint64_t nl_exp_bytes(const ot_costing *oc, size_t n, unsigned l, unsigned s, unsigned lanes) {
    return tab_bytes(&EXP, oc, n, l, s, lanes);
}

/* ---- Reciprocal: normalisation by the MSB, table, back (act2.h) ---- */

int nl_recip_check(unsigned l, unsigned s, unsigned lo, unsigned hi) {
    if (l > 64 || s < RECIP.seg || lo >= hi || hi < s + 1 || hi > l - 1 ||
        s + (hi - 1 - lo) >= l - 1)
        return err_set(PARLEY_E_ARG,
                       "Reciprocal of x in [2^%u, 2^%u) at scale %u needs s >= %u, lo < hi, "
                       "s < hi <= l - 1 and s + hi - 1 - lo < l - 1 (here l = %u)",
                       lo, hi, s, RECIP.seg, l);
    return 0;
}

/* The normaliser: Q = 2^D - sum_j c_j 2^(D-j), c_j = DReLU(x - 2^(lo+j)) on
 * the ring (= [x >= 2^(lo+j)] for x >= 0) for j = 1..D, D = hi - 1 - lo:
 * Q = 2^(hi-1-k) for k = msb(x) in the domain. */
static uint64_t recip_q_plain(uint64_t x, unsigned l, unsigned lo, unsigned hi) {
    unsigned D = hi - 1 - lo;
    uint64_t q = 1ULL << D;
    for (unsigned j = 1; j <= D; j++)
        q -= (uint64_t)(bits_signed((x - (1ULL << (lo + j))) & bits_mask(l), l) >= 0) << (D - j);
    return q & bits_mask(l);
}

void nl_recip_plain(uint64_t *y, const uint64_t *x, size_t n, unsigned l, unsigned s, unsigned lo,
                    unsigned hi) {
    uint64_t m = bits_mask(l);
    unsigned sh = hi - 1 - s;
    for (size_t i = 0; i < n; i++) {
        uint64_t xv = x[i] & m, q = recip_q_plain(xv, l, lo, hi), xn, r;
        nl_mul_trunc_plain(&xn, &xv, &q, 1, l, sh);
        r = tab_core_plain(&RECIP, (xn - (1ULL << s)) & m, l, s);
        nl_mul_trunc_plain(&y[i], &r, &q, 1, l, sh);
    }
}

int nl_recip(party *p, uint64_t *y, const uint64_t *x, size_t n, unsigned l, unsigned s,
             unsigned lo, unsigned hi) {
    TRY(nl_recip_check(l, s, lo, hi));
    if (n == 0) return 0;
    unsigned D = hi - 1 - lo, sh = hi - 1 - s;
    uint64_t m = bits_mask(l);
    size_t words = 2 * (size_t)D * n + 2 * n, nc = D ? (size_t)D * n : 1;
    uint64_t *buf;
    uint8_t *c;
    TRY(scratch(p, &buf, words, &c, nc, "a reciprocal"));
    uint64_t *v = buf, *b = buf + (size_t)D * n, *q = b + (size_t)D * n, *t = q + n;
    int srv = p->role == MPC_SERVER;
    /* c_j = [x >= 2^(lo+j)], all D thresholds in one batch */
    for (unsigned j = 1; j <= D; j++)
        for (size_t i = 0; i < n; i++)
            v[(size_t)(j - 1) * n + i] = (x[i] - (srv ? 1ULL << (lo + j) : 0)) & m;
    int rc = nl_drelu(p, c, v, (size_t)D * n, l);
    /* as ring shares: b = MUX(c, 1) (the server's 1; off = -1, f = g = 0) */
    sig_ctx mc = {.d = c, .y = b, .x = v, .off = m, .l = l, .s = s};
    if (rc == 0) rc = party_run(p, (size_t)D * n, GRAIN, sig_mux_lane, &mc);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        uint64_t qi = srv ? 1ULL << D : 0;
        for (unsigned j = 1; j <= D; j++)
            qi -= b[(size_t)(j - 1) * n + i] << (D - j);
        q[i] = qi & m;
    }
    /* x' = x Q / 2^sh in [2^s, 2^(s+1)), then 1 / x' and back */
    if (rc == 0) rc = nl_mul_trunc(p, t, x, q, n, l, sh);
    for (size_t i = 0; rc == 0 && i < n; i++)
        t[i] = (t[i] - (srv ? 1ULL << s : 0)) & m;
    if (rc == 0) rc = tab_core(&RECIP, p, t, t, n, l, s);
    if (rc == 0) rc = nl_mul_trunc(p, y, t, q, n, l, sh);
    mem_free_wipe(buf, words * sizeof *buf);
    mem_free_wipe(c, nc);
    return rc;
}

uint64_t nl_recip_bytes(const ot_costing *oc, size_t n, unsigned l, unsigned s, unsigned lo,
                        unsigned hi, unsigned lanes) {
    if (nl_recip_check(l, s, lo, hi) < 0 || n == 0 || lanes < 1 || lanes > LANES_MAX) return 0;
    size_t nd = (size_t)(hi - 1 - lo) * n;
    unsigned sh = hi - 1 - s;
    uint64_t b = lanes_bytes(oc, nd, l, lanes, sig_drelu_lane_bytes);
    b += lanes_bytes(oc, nd, l, lanes, sig_mux_lane_bytes);
    b += nl_mul_trunc_bytes(oc, n, l, sh, lanes);
    b += tab_core_bytes(&RECIP, oc, n, l, s, lanes);
    return b + nl_mul_trunc_bytes(oc, n, l, sh, lanes);
}
