/* Products of two secret-shared tensors (COT-based multiplication) and
 * HardSwish on them; see act2.h for the protocol and its cost. The
 * truncation and the HardSigmoid are nl.h's (nl_trunc, nl_act): this file
 * only adds the product. */
#include "nl/act2.h"

#include "nl/nl.h"

#include "mpc/flights.h"
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

static uint64_t mul_bytes(const ot_costing *oc, size_t n, unsigned l, unsigned lanes) {
    if (n == 0 || l < 1 || l > 64 || lanes < 1 || lanes > LANES_MAX) return 0;
    size_t count[LANES_MAX];
    party_split(count, n, GRAIN, lanes);
    uint64_t total = 0;
    if (oc->fs) fsim_fork(oc->fs);
    for (unsigned i = 0; i < lanes; i++) {
        if (!count[i]) continue;
        if (oc->fs) fsim_lane(oc->fs, i);
        total += mul_lane_bytes(oc, count[i], l);
    }
    if (oc->fs) fsim_join(oc->fs);
    return total;
}

uint64_t nl_mul_trunc_bytes(const ot_costing *oc, size_t n, unsigned l, unsigned s,
                            unsigned lanes) {
    if (s >= l) return 0;
    uint64_t b = mul_bytes(oc, n, l, lanes);
    return s ? b + nl_trunc_bytes(oc, n, l, s, lanes) : b;
}

/* ---- HardSwish ---- */

/* k with hi = 2^k. */
static unsigned hswish_k(const nl_actp *a) {
    return (unsigned)__builtin_ctzll(nl_act_get(a->hi));
}

int nl_hswish_check(const nl_actp *a, unsigned l) {
    TRY(nl_act_check(a, l));
    uint64_t hi = nl_act_get(a->hi);
    if (a->op != NL_ACT_HSIG || nl_act_get(a->lo) != 0 || hi == 0 || (hi & (hi - 1)) ||
        hi >= (1ULL << (l - 1)))
        return err_set(PARLEY_E_ARG, "HardSwish: its bounds must be 0 and a power of two");
    return 0;
}

int nl_hswish(party *p, uint64_t *y, const uint64_t *x, size_t n, unsigned l, const nl_actp *a) {
    TRY(nl_hswish_check(a, l));
    if (n == 0) return 0;
    uint64_t *h = mem_alloc(n, sizeof *h);
    if (!h) return party_fail(p, err_set(PARLEY_E_NOMEM, "out of memory for HardSwish"));
    int rc = nl_act(p, h, x, n, l, a);
    if (rc == 0) rc = nl_mul_trunc(p, y, x, h, n, l, hswish_k(a));
    mem_free_wipe(h, n * sizeof *h);
    return rc;
}

void nl_hswish_plain(uint64_t *y, const uint64_t *x, size_t n, unsigned l, const nl_actp *a) {
    uint64_t m = bits_mask(l);
    unsigned k = hswish_k(a);
    for (size_t i = 0; i < n; i++) {
        uint64_t h, xr = x[i] & m;
        nl_act_plain(&h, &xr, 1, l, a);
        nl_mul_trunc_plain(&y[i], &xr, &h, 1, l, k);
    }
}

uint64_t nl_hswish_bytes(const ot_costing *oc, size_t n, unsigned l, const nl_actp *a,
                         unsigned lanes) {
    if (nl_hswish_check(a, l) < 0 || n == 0) return 0;
    return nl_act_bytes(oc, n, l, a, lanes) + nl_mul_trunc_bytes(oc, n, l, hswish_k(a), lanes);
}
