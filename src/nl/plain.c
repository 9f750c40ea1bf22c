/* Plaintext semantics of the non-linear layers; see plain.h. */
#include "nl/plain.h"

#include "util/bits.h"
#include "util/mem.h"

static int pool_err(const char *why) {
    return err_set(PARLEY_E_ARG, "pool: %s", why);
}

/* Output length along one axis (ONNX / PyTorch rule). */
static int64_t pool_len(unsigned in, unsigned k, unsigned s, unsigned p0, unsigned p1, unsigned d,
                        unsigned ceil_mode) {
    int64_t ext = (int64_t)d * (k - 1) + 1, span = (int64_t)in + p0 + p1 - ext;
    if (span < 0) return -1;
    int64_t out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
    if (ceil_mode && (out - 1) * (int64_t)s >= (int64_t)in + p0) out--;
    return out;
}

int nl_pool_check(nl_pool *p) {
    if (!p->N || !p->C || !p->H || !p->W || !p->kh || !p->kw) return pool_err("a size is zero");
    if (!p->sh || !p->sw) return pool_err("a stride is zero");
    if (!p->dh || !p->dw) return pool_err("a dilation is zero");
    if (p->ceil_mode > 1 || p->count_include_pad > 1) return pool_err("flags must be 0 or 1");
    if (p->pt >= p->kh * p->dh || p->pb >= p->kh * p->dh || p->pl >= p->kw * p->dw ||
        p->pr >= p->kw * p->dw)
        return pool_err("padding must be smaller than the window");
    int64_t oh = pool_len(p->H, p->kh, p->sh, p->pt, p->pb, p->dh, p->ceil_mode);
    int64_t ow = pool_len(p->W, p->kw, p->sw, p->pl, p->pr, p->dw, p->ceil_mode);
    if (oh < 1 || ow < 1) return pool_err("the window is larger than the padded input");
    if (oh > UINT32_MAX || ow > UINT32_MAX) return pool_err("output too large");
    p->OH = (unsigned)oh;
    p->OW = (unsigned)ow;
    size_t t;
    if (size_mul(&t, (size_t)p->N * p->C, (size_t)p->H * p->W) < 0 ||
        size_mul(&t, t, sizeof(uint64_t)) < 0)
        return pool_err("tensor too large");
    /* Every window must see the image (dilated windows can fall between rows). */
    for (unsigned i = 0; i < p->OH; i++) {
        unsigned a0, a1, b0, b1;
        nl_pool_window(p, i, 0, &a0, &a1, &b0, &b1);
        if (a0 >= a1) return pool_err("a window holds no input row");
    }
    for (unsigned j = 0; j < p->OW; j++) {
        unsigned a0, a1, b0, b1;
        nl_pool_window(p, 0, j, &a0, &a1, &b0, &b1);
        if (b0 >= b1) return pool_err("a window holds no input column");
    }
    return 0;
}

size_t nl_pool_in_size(const nl_pool *p) {
    return (size_t)p->N * p->C * p->H * p->W;
}
size_t nl_pool_out_size(const nl_pool *p) {
    return (size_t)p->N * p->C * p->OH * p->OW;
}

/* Window offsets k in [0, K) with 0 <= start + k*d < in. */
static void axis_range(int64_t start, unsigned K, unsigned d, unsigned in, unsigned *k0,
                       unsigned *k1) {
    int64_t lo = start < 0 ? (-start + d - 1) / d : 0;
    int64_t hi = ((int64_t)in - 1 - start) < 0 ? 0 : ((int64_t)in - 1 - start) / d + 1;
    if (hi > K) hi = K;
    if (lo > hi) lo = hi;
    *k0 = (unsigned)lo;
    *k1 = (unsigned)hi;
}

void nl_pool_window(const nl_pool *p, unsigned i, unsigned j, unsigned *a0, unsigned *a1,
                    unsigned *b0, unsigned *b1) {
    axis_range((int64_t)i * p->sh - p->pt, p->kh, p->dh, p->H, a0, a1);
    axis_range((int64_t)j * p->sw - p->pl, p->kw, p->dw, p->W, b0, b1);
}

uint64_t nl_pool_divisor(const nl_pool *p, unsigned i, unsigned j) {
    if (!p->count_include_pad) {
        unsigned a0, a1, b0, b1;
        nl_pool_window(p, i, j, &a0, &a1, &b0, &b1);
        return (uint64_t)(a1 - a0) * (b1 - b0);
    }
    /* Positions of the window inside the padded image [-pt, H + pb). */
    unsigned a0, a1, b0, b1;
    axis_range((int64_t)i * p->sh, p->kh, p->dh, p->H + p->pt + p->pb, &a0, &a1);
    axis_range((int64_t)j * p->sw, p->kw, p->dw, p->W + p->pl + p->pr, &b0, &b1);
    return (uint64_t)(a1 - a0) * (b1 - b0);
}

void nl_relu_plain(uint64_t *y, const uint64_t *x, size_t n, unsigned l) {
    for (size_t i = 0; i < n; i++)
        y[i] = bits_signed(x[i], l) > 0 ? x[i] & bits_mask(l) : 0;
}

void nl_relu_flip_plain(uint64_t *y, const uint64_t *x, const uint8_t *flip, size_t n, unsigned l) {
    for (size_t i = 0; i < n; i++) {
        int64_t v = bits_signed(x[i], l);
        int keep = flip && (flip[i] & 1) ? v < 0 : v > 0;
        y[i] = keep ? x[i] & bits_mask(l) : 0;
    }
}

void nl_trunc_plain(uint64_t *y, const uint64_t *x, size_t n, unsigned l, unsigned s) {
    for (size_t i = 0; i < n; i++) {
        int64_t v = bits_signed(x[i], l);
        y[i] = (uint64_t)(s >= 64 ? (v < 0 ? -1 : 0) : v >> s) & bits_mask(l);
    }
}

void nl_relu_trunc_plain(uint64_t *y, const uint64_t *x, size_t n, unsigned l, unsigned s) {
    nl_relu_plain(y, x, n, l);
    nl_trunc_plain(y, y, n, l, s);
}

/* floor(v / d) for signed v and d >= 1, without overflow. */
static int64_t floor_div(int64_t v, uint64_t d) {
    if (v >= 0) return (int64_t)((uint64_t)v / d);
    uint64_t m = (uint64_t)(-(v + 1)); /* -v - 1 >= 0 */
    return -(int64_t)(m / d) - 1;
}

void nl_div_plain(uint64_t *y, const uint64_t *x, size_t n, unsigned l, uint64_t d) {
    PARLEY_CHECK(d >= 1);
    for (size_t i = 0; i < n; i++)
        y[i] = (uint64_t)floor_div(bits_signed(x[i], l), d) & bits_mask(l);
}

typedef void (*pool_fold)(uint64_t *acc, uint64_t v, unsigned l, int first);

static void fold_max(uint64_t *acc, uint64_t v, unsigned l, int first) {
    if (first || bits_signed(v, l) > bits_signed(*acc, l)) *acc = v;
}
static void fold_sum(uint64_t *acc, uint64_t v, unsigned l, int first) {
    *acc = ((first ? 0 : *acc) + v) & bits_mask(l);
}

static void pool_plain(uint64_t *y, const uint64_t *x, const nl_pool *p, unsigned l, pool_fold f,
                       int divide) {
    for (size_t nc = 0; nc < (size_t)p->N * p->C; nc++) {
        const uint64_t *xp = x + nc * p->H * p->W;
        for (unsigned i = 0; i < p->OH; i++)
            for (unsigned j = 0; j < p->OW; j++) {
                unsigned a0, a1, b0, b1;
                nl_pool_window(p, i, j, &a0, &a1, &b0, &b1);
                uint64_t acc = 0;
                int first = 1;
                for (unsigned a = a0; a < a1; a++)
                    for (unsigned b = b0; b < b1; b++) {
                        f(&acc, xp[nl_pool_tap(p, i, j, a, b)] & bits_mask(l), l, first);
                        first = 0;
                    }
                if (divide) nl_div_plain(&acc, &acc, 1, l, nl_pool_divisor(p, i, j));
                y[(nc * p->OH + i) * p->OW + j] = acc;
            }
    }
}

void nl_maxpool_plain(uint64_t *y, const uint64_t *x, const nl_pool *p, unsigned l) {
    pool_plain(y, x, p, l, fold_max, 0);
}

void nl_avgpool_plain(uint64_t *y, const uint64_t *x, const nl_pool *p, unsigned l) {
    pool_plain(y, x, p, l, fold_sum, 1);
}

void nl_pool_sums(uint64_t *y, const uint64_t *x, const nl_pool *p, unsigned l) {
    pool_plain(y, x, p, l, fold_sum, 0);
}

void nl_argmax_plain(uint64_t *idx, const uint64_t *x, size_t rows, size_t cols, unsigned l) {
    for (size_t r = 0; r < rows; r++) {
        size_t best = 0;
        for (size_t c = 1; c < cols; c++)
            if (bits_signed(x[r * cols + c], l) > bits_signed(x[r * cols + best], l)) best = c;
        idx[r] = best;
    }
}

int nl_act_check(const nl_actp *a, unsigned l) {
    uint64_t m = bits_mask(l);
    if (a->op < NL_ACT_CLIP || a->op > NL_ACT_HSIG) return err_set(PARLEY_E_ARG, "activation: unknown kind %u", a->op);
    if (a->has > (NL_ACT_LO | NL_ACT_HI) || (a->op == NL_ACT_HSIG && a->has != (NL_ACT_LO | NL_ACT_HI)))
        return err_set(PARLEY_E_ARG, "activation: bad bounds");
    if (a->shift >= l) return err_set(PARLEY_E_ARG, "activation: shift %u not below l = %u", a->shift, l);
    if ((nl_act_get(a->alpha) | nl_act_get(a->beta) | nl_act_get(a->lo) | nl_act_get(a->hi)) & ~m)
        return err_set(PARLEY_E_ARG, "activation: a constant is not reduced mod 2^%u", l);
    if (a->has == (NL_ACT_LO | NL_ACT_HI) &&
        bits_signed(nl_act_get(a->lo), l) > bits_signed(nl_act_get(a->hi), l))
        return err_set(PARLEY_E_ARG, "activation: the lower bound exceeds the upper");
    return 0;
}

/* The secure protocol (nl/act.c) computes exactly these steps on shares. */
void nl_act_plain(uint64_t *y, const uint64_t *x, size_t n, unsigned l, const nl_actp *a) {
    uint64_t m = bits_mask(l), al = nl_act_get(a->alpha), be = nl_act_get(a->beta);
    uint64_t lo = nl_act_get(a->lo), hi = nl_act_get(a->hi);
    for (size_t i = 0; i < n; i++) {
        uint64_t z = x[i] & m, r, t;
        if (a->op == NL_ACT_LEAKY) {
            nl_relu_plain(&r, &z, 1, l);
            t = (al * (z - r)) & m;
            nl_trunc_plain(&t, &t, 1, l, a->shift);
            z = (r + t) & m;
        } else if (a->op == NL_ACT_HSIG) {
            t = (al * z) & m;
            nl_trunc_plain(&t, &t, 1, l, a->shift);
            z = (t + be) & m;
        }
        uint64_t v = z;
        if (a->has & NL_ACT_LO) {
            t = (z - lo) & m;
            nl_relu_plain(&t, &t, 1, l);
            v = (lo + t) & m;
        }
        if (a->has & NL_ACT_HI) {
            t = (z - hi) & m;
            nl_relu_plain(&t, &t, 1, l);
            v = (v - t) & m;
        }
        y[i] = v;
    }
}
