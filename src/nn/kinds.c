/* The layer-kind traits table; see kind.h. One entry per kind, with the
 * small hooks that tie a protocol of src/nl to a layer just above it. The
 * shape rules live with the other checks (qcheck.c), the local steps with
 * the other local evaluation (qlocal.c). */
#include "nn/kind.h"

#include "nl/act2.h"
#include "nl/act3.h"
#include "nl/nl.h"
#include "nn/qlocal.h"
#include "util/bits.h"
#include "util/mem.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define WIRE(member, n) .wire_off = offsetof(qparams, member), .wire_n = (n)

/* The wire runs below are these structs' fields in declaration order. */
_Static_assert(sizeof(unsigned) == sizeof(uint32_t), "parameters are 32-bit fields");
_Static_assert(sizeof(lin_conv) == 19 * sizeof(uint32_t), "lin_conv is 19 fields");
_Static_assert(sizeof(lin_fc) == 4 * sizeof(uint32_t), "lin_fc is 4 fields");
_Static_assert(sizeof(lin_scale) == 4 * sizeof(uint32_t), "lin_scale is 4 fields");
_Static_assert(sizeof(nl_pool) == 18 * sizeof(uint32_t), "nl_pool is 18 fields");

/* ---- dumps ---- */

static void dump_conv(FILE *f, const qlayer *L) {
    const lin_conv *c = &L->p.lin.conv;
    fprintf(f, "  k %ux%u s %ux%u p %u,%u,%u,%u d %ux%u g %u wbits %u", c->kh, c->kw, c->sh, c->sw,
            c->pt, c->pl, c->pb, c->pr, c->dh, c->dw, c->groups, c->wbits);
}

static void dump_wbits(FILE *f, const qlayer *L) {
    lin_shape s = qlayer_lin(L);
    fprintf(f, "  wbits %u", lin_wbits(&s));
}

static void dump_pool(FILE *f, const qlayer *L) {
    const nl_pool *p = &L->p.pool;
    fprintf(f, "  k %ux%u s %ux%u p %u,%u,%u,%u d %ux%u%s%s", p->kh, p->kw, p->sh, p->sw, p->pt,
            p->pl, p->pb, p->pr, p->dh, p->dw, p->ceil_mode ? " ceil" : "",
            p->count_include_pad ? " count_pad" : "");
}

static void dump_shr(FILE *f, const qlayer *L) {
    fprintf(f, "  >> %u", L->p.shift);
}

static void dump_shl(FILE *f, const qlayer *L) {
    fprintf(f, "  << %u", L->p.shift);
}

static void dump_axis(FILE *f, const qlayer *L) {
    fprintf(f, "  axis %u", L->p.axis);
}

static void dump_argmax(FILE *f, const qlayer *L) {
    fprintf(f, "  axis %u", L->p.argmax.axis);
}

/* ---- pools ---- */

/* Max pooling compares with a tree, and without sign extension on tensors
 * known to be non-negative; at the bound's width where one is known
 * (exec_nonneg_tensors). */
static int maxpool_flags(const qctx *c) {
    return NL_POOL_TREE | (c->nonneg[c->L->in[0]] ? NL_POOL_NONNEG : 0);
}

static int maxpool_step(const qctx *c) {
    if (c->p)
        return nl_maxpool_ex(c->p, c->y, c->x[0], &c->L->p.pool, c->l, maxpool_flags(c),
                             c->nonneg[c->L->in[0]]);
    nl_maxpool_plain(c->y, c->x[0], &c->L->p.pool, c->l);
    return 0;
}

static uint64_t maxpool_bytes(const qctx *c) {
    return nl_maxpool_bytes(c->oc, &c->L->p.pool, c->l, maxpool_flags(c), c->nonneg[c->L->in[0]],
                            c->lanes);
}

/* The comparisons as the layer runs them: one per window element but the
 * first, or fewer where the pool runs separably (nl_pool_sep). */
static void maxpool_stats(qnet_stats *st, const qnet *net, const qlayer *L) {
    const nl_pool *p = &L->p.pool;
    (void)net;
    nl_pool_sep S;
    if (nl_pool_sep_make(&S, p, 1) < 0) {
        err_clear();
        return;
    }
    st->pool_cmps += S.cmps;
    nl_pool_sep_free(&S);
}

static int avgpool_step(const qctx *c) {
    if (c->p) return nl_avgpool(c->p, c->y, c->x[0], &c->L->p.pool, c->l);
    nl_avgpool_plain(c->y, c->x[0], &c->L->p.pool, c->l);
    return 0;
}

static uint64_t avgpool_bytes(const qctx *c) {
    return nl_avgpool_bytes(c->oc, &c->L->p.pool, c->l, c->lanes);
}

/* The window sums are formed in the ring before the division: each must
 * fit it (exactly, in 128 bits, saturated at 2^64 - 1). */
static void avgpool_reach(const qctx *c, const double *inmax, double *bound, uint64_t *inner) {
    const nl_pool *p = &c->L->p.pool;
    const uint64_t *x = c->x[0];
    unsigned __int128 most = 0;
    for (size_t nc = 0; nc < (size_t)p->N * p->C; nc++)
        for (unsigned i = 0; i < p->OH; i++)
            for (unsigned j = 0; j < p->OW; j++) {
                unsigned a0, a1, b0, b1;
                nl_pool_window(p, i, j, &a0, &a1, &b0, &b1);
                __int128 sum = 0;
                for (unsigned a = a0; a < a1; a++)
                    for (unsigned b = b0; b < b1; b++)
                        sum += bits_signed(x[nc * p->H * p->W + nl_pool_tap(p, i, j, a, b)], c->l);
                unsigned __int128 m = sum < 0 ? (unsigned __int128)(-sum) : (unsigned __int128)sum;
                if (m > most) most = m;
            }
    *inner = most > UINT64_MAX ? UINT64_MAX : (uint64_t)most;
    *bound = (double)p->kh * p->kw * inmax[0];
}

/* ---- ArgMax ---- */

/* Along an axis: the rows (outer x inner of them, cols values each) are
 * gathered into a contiguous matrix first when inner > 1 (local). */
static int argmax_step(const qctx *c) {
    size_t outer, cols, inner;
    qlocal_argmax_geom(c, &outer, &cols, &inner);
    const uint64_t *m = c->x[0];
    uint64_t *rows = NULL;
    if (inner > 1) {
        if (!(rows = mem_alloc(outer * inner * cols, sizeof *rows))) return PARLEY_E_NOMEM;
        qlocal_gather_rows(rows, c->x[0], outer, cols, inner);
        m = rows;
    }
    int rc = 0;
    if (c->p)
        rc = nl_argmax(c->p, c->y, m, outer * inner, cols, c->l);
    else
        nl_argmax_plain(c->y, m, outer * inner, cols, c->l);
    if (rows) mem_free_wipe(rows, outer * inner * cols * sizeof *rows);
    return rc;
}

static uint64_t argmax_bytes(const qctx *c) {
    size_t outer, cols, inner;
    qlocal_argmax_geom(c, &outer, &cols, &inner);
    return nl_argmax_bytes(c->oc, outer * inner, cols, c->l, c->lanes);
}

static void argmax_stats(qnet_stats *st, const qnet *net, const qlayer *L) {
    st->argmax_cmps += net->t[L->in[0]].size - net->t[L->out].size;
}

/* ---- reach (the reference's range check; kind.h) ---- */

static double maxabs(const uint64_t *v, size_t n, unsigned l) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double a = fabs((double)bits_signed(v[i], l));
        if (a > m) m = a;
    }
    return m;
}

/* |W x + b| <= (largest L1 norm of a row of W) * max|x| + max|b|. */
static void linear_reach(const qctx *c, const double *inmax, double *bound, uint64_t *inner) {
    lin_shape s = qlayer_lin(c->L);
    size_t nw = lin_weight_count(&s), nch, per;
    lin_channels(&s, &nch, &per);
    size_t row = nch ? nw / nch : 0;
    double most = 0;
    for (size_t o = 0; o < nch; o++) {
        double sum = 0;
        for (size_t k = 0; k < row; k++)
            sum += fabs((double)bits_signed(c->L->w[o * row + k], c->l));
        if (sum > most) most = sum;
    }
    *bound = most * inmax[0] + (c->L->b ? maxabs(c->L->b, nch, c->l) : 0);
    *inner = 0;
}

static void add_reach(const qctx *c, const double *inmax, double *bound, uint64_t *inner) {
    (void)c;
    *bound = inmax[0] + inmax[1];
    *inner = 0;
}

static void addc_reach(const qctx *c, const double *inmax, double *bound, uint64_t *inner) {
    *bound = inmax[0] + maxabs(c->L->w, c->n, c->l);
    *inner = 0;
}

static void shl_reach(const qctx *c, const double *inmax, double *bound, uint64_t *inner) {
    *bound = ldexp(inmax[0], (int)c->L->p.shift);
    *inner = 0;
}

/* ---- a batch norm's ReLU, private signs (BN_RELU; nn/graph.c) ---- */

/* The DReLU's width: the input's public width plus one, for the addend
 * clamped to the input's range (bn_relu_step). */
static unsigned bn_relu_dwidth(const qctx *c) {
    unsigned wx = c->width ? c->width[c->L->in[0]] : c->l;
    return wx < c->l ? wx + 1 : c->l;
}

/* z = x + b[c] (the owner's share; the value in plaintext), then the ReLU
 * with the owner's sign bits as per-element flips (nl_relu_flip). With x
 * public-bounded to [-L, L), L = 2^(wx-1), the DReLU is taken of z' = x +
 * clamp(b, -L, L), which lies in [-2L, 2L): wx + 1 bits. z' >= 0 exactly
 * when z >= 0: they are equal for |b| <= L; for b > L both are >= 0 (z >
 * x + L >= 0), for b < -L both negative (z < x - L < 0); and z does not
 * wrap, the addend fitting l - 1 bits (quant.c). The clamp is the
 * owner's, on its own private addend (docs/PROTOCOLS.md §0). */
static int bn_relu_step(const qctx *c) {
    const lin_scale *sc = &c->L->p.lin.scale;
    size_t n = c->n, nz = n ? n : 1;
    uint64_t m = bits_mask(c->l);
    unsigned wd = c->p ? bn_relu_dwidth(c) : c->l;
    uint64_t *z = mem_alloc(nz, sizeof *z), *zd = wd < c->l ? mem_alloc(nz, sizeof *zd) : NULL;
    uint8_t *flip = c->owner ? mem_alloc(nz, 1) : NULL;
    if (!z || (c->owner && !flip) || (wd < c->l && !zd)) {
        mem_free(z);
        mem_free(zd);
        mem_free(flip);
        return err_set(PARLEY_E_NOMEM, "out of memory for a batch norm's ReLU");
    }
    int64_t lim = wd < c->l ? (int64_t)1 << (wd - 2) : 0; /* 2^(wx-1) */
    /* n = N * C * S (qcheck_scale): plane p of S elements is channel p mod C */
    for (size_t pl = 0, i = 0; pl < n / sc->S; pl++) {
        size_t ch = pl % sc->C;
        uint64_t b = c->owner ? c->L->b[ch] : 0, bd = 0;
        if (zd) {
            int64_t v = bits_signed(b, c->l);
            bd = (uint64_t)(v > lim ? lim : v < -lim ? -lim : v);
        }
        uint8_t f = flip ? (uint8_t)(c->L->w[ch] & 1) : 0;
        for (size_t e = 0; e < sc->S; e++, i++) {
            z[i] = (c->x[0][i] + b) & m;
            if (zd) zd[i] = (c->x[0][i] + bd) & m;
            if (flip) flip[i] = f;
        }
    }
    int rc = 0;
    if (c->p)
        rc = nl_relu_flip(c->p, c->y, z, zd, wd, flip, n, c->l);
    else
        nl_relu_flip_plain(c->y, z, flip, n, c->l);
    mem_free_wipe(z, nz * sizeof *z);
    if (zd) mem_free_wipe(zd, nz * sizeof *zd);
    if (flip) mem_free_wipe(flip, nz);
    return rc;
}

static uint64_t bn_relu_bytes(const qctx *c) {
    return nl_relu_flip_bytes(c->oc, c->n, c->l, bn_relu_dwidth(c), c->lanes);
}

/* ---- public widths (exec_width_tensors) ---- */

/* A truncation by p.shift: the input's width less the shift. */
static unsigned width_shift(const qlayer *L, const uint8_t *w, unsigned l) {
    (void)l;
    unsigned wi = w[L->in[0]];
    return L->p.shift < wi ? wi - L->p.shift : 1;
}

/* ReLU, max pools, padding, data movement: within the widest input. */
static unsigned width_max(const qlayer *L, const uint8_t *w, unsigned l) {
    (void)l;
    unsigned v = 1;
    for (unsigned k = 0; k < L->nin; k++)
        if (w[L->in[k]] > v) v = w[L->in[k]];
    return v;
}

/* An average pool: floor(sum / d) lies within the window's values when
 * the sums cannot wrap, i.e. when K = kh * kw values of the input's width
 * fit l bits (d is at least the values summed). */
static unsigned width_avg(const qlayer *L, const uint8_t *w, unsigned l) {
    unsigned wi = w[L->in[0]];
    uint64_t K = (uint64_t)L->p.pool.kh * L->p.pool.kw;
    return wi + bits_ceil_log2(K) <= l ? wi : l;
}

static void bn_relu_reach(const qctx *c, const double *inmax, double *bound, uint64_t *inner) {
    *bound = inmax[0] + maxabs(c->L->b, c->L->p.lin.scale.C, c->l);
    *inner = 0;
}

/* ---- activations with public constants (nl_act) ---- */

_Static_assert(sizeof(nl_actp) == 11 * sizeof(uint32_t), "nl_actp is 11 fields");

/* round(v * 2^sc), half away from zero, as a ring element; it must fit. */
static int act_const(uint32_t out[2], double v, unsigned sc, unsigned l, const char *what) {
    double r = round(ldexp(v, (int)sc)), lim = ldexp(1.0, (int)l - 1);
    if (!isfinite(r) || r >= lim || r < -lim)
        return err_set(PARLEY_E_UNSUPPORTED,
                       "its %s %g does not fit in l = %u bits at scale %u (use a larger --bits or "
                       "a smaller --scale)",
                       what, v, l, sc);
    nl_act_set(out, (uint64_t)(int64_t)r & bits_mask(l));
    return 0;
}

/* Bounds beyond the ring's range (ONNX's defaults are +-FLT_MAX) are left
 * out: they could not bind on a value that is in range. */
static int act_bound(nl_actp *a, unsigned bit, uint32_t out[2], double v, unsigned sc, unsigned l,
                     const char *what) {
    double lim = ldexp(1.0, (int)l - 1 - (int)sc);
    if (!(v > -lim && v < lim)) return 0;
    a->has |= bit;
    return act_const(out, v, sc, l, what);
}

/* CLIP: c = {min, max}. */
static int clip_quant(qparams *p, const double *c, unsigned sc, unsigned s, unsigned l) {
    (void)s;
    memset(&p->act, 0, sizeof p->act);
    p->act.op = NL_ACT_CLIP;
    if (c[0] > c[1]) return err_set(PARLEY_E_UNSUPPORTED, "its min %g exceeds its max %g", c[0], c[1]);
    TRY(act_bound(&p->act, NL_ACT_LO, p->act.lo, c[0], sc, l, "min"));
    return act_bound(&p->act, NL_ACT_HI, p->act.hi, c[1], sc, l, "max");
}

/* LEAKY_RELU: c = {alpha}, at scale s. */
static int leaky_quant(qparams *p, const double *c, unsigned sc, unsigned s, unsigned l) {
    (void)sc;
    memset(&p->act, 0, sizeof p->act);
    p->act.op = NL_ACT_LEAKY;
    p->act.shift = s;
    return act_const(p->act.alpha, c[0], s, l, "slope");
}

/* HARD_SIGMOID: c = {alpha, beta}; y = clip(alpha x + beta, 0, 1). */
static int hsig_quant(qparams *p, const double *c, unsigned sc, unsigned s, unsigned l) {
    memset(&p->act, 0, sizeof p->act);
    p->act.op = NL_ACT_HSIG;
    p->act.shift = s;
    p->act.has = NL_ACT_LO | NL_ACT_HI;
    TRY(act_const(p->act.alpha, c[0], s, l, "alpha"));
    TRY(act_const(p->act.beta, c[1], sc, l, "beta"));
    TRY(act_const(p->act.lo, 0, sc, l, "lower bound 0"));
    return act_const(p->act.hi, 1, sc, l, "upper bound 1");
}

/* Every value nl_act_plain forms on x, exactly (128 bits, saturated). */
static void act_reach(const qctx *c, const double *inmax, double *bound, uint64_t *inner) {
    const nl_actp *a = &c->L->p.act;
    unsigned l = c->l;
    __int128 al = bits_signed(nl_act_get(a->alpha), l), be = bits_signed(nl_act_get(a->beta), l);
    __int128 lo = bits_signed(nl_act_get(a->lo), l), hi = bits_signed(nl_act_get(a->hi), l);
    unsigned __int128 most = 0;
#define SEE(v)                                                                                     \
    do {                                                                                           \
        __int128 v_ = (v);                                                                         \
        unsigned __int128 m_ = v_ < 0 ? (unsigned __int128)-v_ : (unsigned __int128)v_;             \
        if (m_ > most) most = m_;                                                                  \
    } while (0)
    for (size_t i = 0; i < c->n; i++) {
        __int128 x = bits_signed(c->x[0][i], l), z = x, t;
        if (a->op == NL_ACT_LEAKY) {
            __int128 r = x > 0 ? x : 0;
            SEE(t = al * (x - r));
            z = r + (t >> a->shift);
        } else if (a->op == NL_ACT_HSIG) {
            SEE(t = al * x);
            z = (t >> a->shift) + be;
        }
        SEE(z);
        if (a->has & NL_ACT_LO) SEE(z - lo);
        if (a->has & NL_ACT_HI) SEE(z - hi);
    }
#undef SEE
    *inner = most > UINT64_MAX ? UINT64_MAX : (uint64_t)most;
    *bound = (double)*inner > inmax[0] ? (double)*inner : inmax[0];
}

/* ---- data movement and sums (ops-move) ---- */

static void dump_slice(FILE *f, const qlayer *L) {
    fprintf(f, "  start");
    for (unsigned d = 0; d < NN_MAX_RANK && L->p.slice.step[d]; d++)
        fprintf(f, "%s%u", d ? "," : " ", L->p.slice.start[d]);
    fprintf(f, " step");
    for (unsigned d = 0; d < NN_MAX_RANK && L->p.slice.step[d]; d++)
        fprintf(f, "%s%u", d ? "," : " ", L->p.slice.step[d]);
}

static void dump_factor(FILE *f, const qlayer *L) {
    fprintf(f, "  x");
    for (unsigned d = 0; d < NN_MAX_RANK && L->p.factor[d]; d++)
        fprintf(f, "%s%u", d ? "," : " ", L->p.factor[d]);
}

/* A window sum is at most the window's size times the largest input. */
static void sumpool_reach(const qctx *c, const double *inmax, double *bound, uint64_t *inner) {
    *bound = (double)c->L->p.pool.kh * c->L->p.pool.kw * inmax[0];
    *inner = 0;
}

/* ---- products of computed tensors, HardSwish (nl/act2.h) ---- */

/* HardSwish: the clip's values (on x + beta), then the product x * t. */
static void hswish_reach(const qctx *c, const double *inmax, double *bound, uint64_t *inner) {
    const nl_actp *a = &c->L->p.act;
    int64_t be = bits_signed(nl_act_get(a->beta), c->l), hi = bits_signed(nl_act_get(a->hi), c->l);
    unsigned __int128 most = 0;
    for (size_t i = 0; i < c->n; i++) {
        __int128 x = bits_signed(c->x[0][i], c->l), z = x + be;
        __int128 t = z < 0 ? 0 : z > hi ? hi : z, v = x * t;
        unsigned __int128 mz = z < 0 ? (unsigned __int128)-z : (unsigned __int128)z;
        unsigned __int128 mv = v < 0 ? (unsigned __int128)-v : (unsigned __int128)v;
        if (mz + (unsigned __int128)hi > most) most = mz + (unsigned __int128)hi;
        if (mv > most) most = mv;
    }
    *inner = most > UINT64_MAX ? UINT64_MAX : (uint64_t)most;
    *bound = (double)*inner > inmax[0] ? (double)*inner : inmax[0];
}

/* HARD_SWISH: c = {alpha, beta} (1/6, 1/2); x * clip(alpha x + beta, 0, 1)
 * = x * clip(x + beta/alpha, 0, 1/alpha) * alpha: the clip's bounds 0 and
 * 1/alpha, and beta/alpha, at scale sc. */
static int hswish_quant(qparams *p, const double *c, unsigned sc, unsigned s, unsigned l) {
    (void)s;
    memset(&p->act, 0, sizeof p->act);
    p->act.op = NL_ACT_CLIP;
    p->act.has = NL_ACT_LO | NL_ACT_HI;
    if (!(c[0] > 0)) return err_set(PARLEY_E_UNSUPPORTED, "its alpha %g is not positive", c[0]);
    TRY(act_const(p->act.beta, c[1] / c[0], sc, l, "offset beta / alpha"));
    TRY(act_const(p->act.lo, 0, sc, l, "lower bound 0"));
    return act_const(p->act.hi, 1 / c[0], sc, l, "upper bound 1 / alpha");
}

/* An operand broadcast to the output's shape: x itself when it has the
 * output's size, else a copy in *tmp (to mem_free_wipe, n elements). */
static int mul_operand(const qctx *c, unsigned k, const uint64_t **op, uint64_t **tmp) {
    const nn_shape *from = &c->net->t[c->L->in[k]].shape, *to = &c->net->t[c->L->out].shape;
    *tmp = NULL;
    *op = c->x[k];
    if (c->net->t[c->L->in[k]].size == c->n) return 0;
    if (!(*tmp = mem_alloc(c->n, sizeof **tmp))) return PARLEY_E_NOMEM;
    for (size_t i = 0; i < c->n; i++)
        (*tmp)[i] = c->x[k][nn_broadcast_index(from, to, i)];
    *op = *tmp;
    return 0;
}

static int mul_step(const qctx *c) {
    const uint64_t *op[2];
    uint64_t *tmp[2] = {NULL, NULL};
    int rc = mul_operand(c, 0, &op[0], &tmp[0]);
    if (rc == 0) rc = mul_operand(c, 1, &op[1], &tmp[1]);
    if (rc < 0 && c->p) rc = party_fail(c->p, rc);
    if (rc == 0 && c->p)
        rc = nl_mul_trunc(c->p, c->y, op[0], op[1], c->n, c->l, c->L->p.shift);
    else if (rc == 0)
        nl_mul_trunc_plain(c->y, op[0], op[1], c->n, c->l, c->L->p.shift);
    for (int k = 0; k < 2; k++)
        if (tmp[k]) mem_free_wipe(tmp[k], c->n * sizeof *tmp[k]);
    return rc;
}

static uint64_t mul_bytes(const qctx *c) {
    return nl_mul_trunc_bytes(c->oc, c->n, c->l, c->L->p.shift, c->lanes);
}

/* The products, exactly (128 bits, saturated), must fit the ring. */
static void mul_reach(const qctx *c, const double *inmax, double *bound, uint64_t *inner) {
    const nn_shape *to = &c->net->t[c->L->out].shape;
    const nn_shape *f0 = &c->net->t[c->L->in[0]].shape, *f1 = &c->net->t[c->L->in[1]].shape;
    unsigned __int128 most = 0;
    for (size_t i = 0; i < c->n; i++) {
        __int128 v = (__int128)bits_signed(c->x[0][nn_broadcast_index(f0, to, i)], c->l) *
                     bits_signed(c->x[1][nn_broadcast_index(f1, to, i)], c->l);
        unsigned __int128 m = v < 0 ? (unsigned __int128)-v : (unsigned __int128)v;
        if (m > most) most = m;
    }
    *inner = most > UINT64_MAX ? UINT64_MAX : (uint64_t)most;
    *bound = inmax[0] * inmax[1];
}

/* The product of two values at scale sc is truncated back to sc; Sigmoid
 * works at its input's scale. */
static int shift_quant(qparams *p, const double *c, unsigned sc, unsigned s, unsigned l) {
    (void)c, (void)s, (void)l;
    p->shift = sc;
    return 0;
}

/* ---- linear maps with public coefficients (ops-move3) ---- */

static const char *const resize_modes[QRESIZE_MODES_] = {"half_pixel", "pytorch_half_pixel",
                                                         "align_corners", "asymmetric"};

static void dump_resize(FILE *f, const qlayer *L) {
    fprintf(f, "  linear %s x", resize_modes[L->p.resize.mode % QRESIZE_MODES_]);
    for (unsigned d = 0; d < NN_MAX_RANK && L->p.resize.den[d]; d++)
        fprintf(f, "%s%u/%u", d ? "," : " ", L->p.resize.num[d], L->p.resize.den[d]);
}

/* Each output is at most 4 neighbours times coefficients that sum to
 * 2^s before rounding (each rounding adds at most 1/2). */
static void resize_reach(const qctx *c, const double *inmax, double *bound, uint64_t *inner) {
    *bound = inmax[0] * (ldexp(1.0, (int)c->net->s) + 2);
    *inner = 0;
}

/* Exp computes exp(x) for x <= 0 only (a positive x gives exp(0)). */
static const char *exp_domain(const qctx *c, char *why, size_t len) {
    int64_t most = INT64_MIN;
    for (size_t i = 0; i < c->n; i++)
        if ((int64_t)c->x[0][i] > most) most = (int64_t)c->x[0][i];
    if (c->n == 0 || most <= 0) return NULL;
    unsigned sc = c->net->t[c->L->in[0]].scale;
    snprintf(why, len,
             "an input of Exp is positive (%.6g): parley computes exp(x) for x <= 0 only, as "
             "in a Softmax after its maximum is subtracted (a positive x would give exp(0) = 1)",
             ldexp((double)most, -(int)sc));
    return why;
}

/* ---- Softmax (ops-smooth) ---- */

void qkind_softmax_geom(const nn_shape *xs, const qparams *p, size_t *outer, size_t *cols,
                        size_t *inner) {
    unsigned a = p->softmax.axis;
    *outer = *cols = *inner = 1;
    for (unsigned d = 0; d < xs->rank; d++) {
        if (d < a)
            *outer *= xs->d[d];
        else if (d == a || p->softmax.flat)
            *cols *= xs->d[d];
        else
            *inner *= xs->d[d];
    }
}

static void softmax_geom(const qctx *c, size_t *outer, size_t *cols, size_t *inner) {
    qkind_softmax_geom(&c->net->t[c->L->in[0]].shape, &c->L->p, outer, cols, inner);
}

static int softmax_step(const qctx *c) {
    size_t o, k, in;
    softmax_geom(c, &o, &k, &in);
    unsigned s = c->L->p.softmax.shift;
    if (c->p) return nl_softmax(c->p, c->y, c->x[0], o, k, in, c->l, s);
    return nl_softmax_plain(c->y, c->x[0], o, k, in, c->l, s);
}

static uint64_t softmax_bytes(const qctx *c) {
    size_t o, k, in;
    softmax_geom(c, &o, &k, &in);
    return nl_softmax_bytes(c->oc, o, k, in, c->l, c->L->p.softmax.shift, c->lanes);
}

static int softmax_quant(qparams *p, const double *c, unsigned sc, unsigned s, unsigned l) {
    (void)c, (void)s, (void)l;
    p->softmax.shift = sc;
    return 0;
}

/* x - max over a row must fit the ring (*inner: the widest row's range);
 * the step's other values are below 2^(2s+2) (products) and 2^(s+c+1) (the
 * reciprocal's normalisation, c = log2 of the row length, rounded up). */
static void softmax_reach(const qctx *c, const double *inmax, double *bound, uint64_t *inner) {
    size_t o, k, in;
    softmax_geom(c, &o, &k, &in);
    uint64_t most = 0;
    for (size_t r = 0; r < o * in; r++) {
        int64_t hi = INT64_MIN, lo = INT64_MAX;
        for (size_t j = 0; j < k; j++) {
            int64_t v = (int64_t)c->x[0][((r / in) * k + j) * in + r % in];
            if (v > hi) hi = v;
            if (v < lo) lo = v;
        }
        if (k && (uint64_t)hi - (uint64_t)lo > most) most = (uint64_t)hi - (uint64_t)lo;
    }
    *inner = most;
    unsigned s = c->L->p.softmax.shift, cl = 0;
    while (cl < 40 && ((size_t)1 << cl) < k)
        cl++;
    *bound = fmax(2 * inmax[0], ldexp(1.0, 2 * (int)s + 2) + ldexp(1.0, (int)(s + cl + 1)));
}

/* ---- the table ---- */

#define LINEAR(k) \
    .cls = QK_LINEAR, .lin = (k), .scale = QS_DOUBLE, .priv = QW_LINEAR, .reach = linear_reach
#define EW(f) .cls = QK_ELEMENTWISE, .ew = {f, f##_plain, f##_bytes}
#define EW_SHIFT(f) .cls = QK_ELEMENTWISE, .ew_shift = {f, f##_plain, f##_bytes}, WIRE(shift, 1)
#define EW_ACT_(f, k, q)                                                                           \
    .cls = QK_ELEMENTWISE, .ew_act = {f, f##_plain, f##_bytes}, .act = (k), .quant = (q),          \
    WIRE(act, 11), INPUTS(1, 1)
#define EW_ACT(f, k, q) EW_ACT_(f, k, q), .check = qcheck_act, .reach = act_reach
#define TABLE(f)                                                                                   \
    .cls = QK_ELEMENTWISE, .ew_shift = {f, f##_plain, f##_bytes}, WIRE(shift, 1), INPUTS(1, 1),    \
    .check = qcheck_table, .quant = shift_quant
#define PROTOCOL(f) .cls = QK_PROTOCOL, .step = f##_step, .bytes = f##_bytes
#define LOCAL(f) .cls = QK_LOCAL, .step = qlocal_##f
#define INPUTS(lo, hi) .nin_min = (lo), .nin_max = (hi)

static const qkind kinds[QOP_END_] = {
    /* Weights (batch norms folded in) below 8; a standalone batch norm's
     * factors gamma / sigma can be far larger, and cost little. */
    [QOP_CONV] = {"conv", LINEAR(LIN_CONV), .wlog2 = 3, INPUTS(1, 1), WIRE(lin.conv, 19), .check = qcheck_conv,
                  .dump = dump_conv},
    [QOP_FC] = {"fc", LINEAR(LIN_FC), .wlog2 = 3, INPUTS(1, 1), WIRE(lin.fc, 4), .check = qcheck_fc,
                .dump = dump_wbits},
    [QOP_SCALE] = {"scale", LINEAR(LIN_SCALE), .wlog2 = 11, INPUTS(1, 1), WIRE(lin.scale, 4),
                   .check = qcheck_scale, .dump = dump_wbits},
    [QOP_TRUNC] = {"trunc", EW_SHIFT(nl_trunc), INPUTS(1, 1), .scale = QS_DOWN, .counts = QC_TRUNC,
                   .width = width_shift,
                   .dump = dump_shr},
    [QOP_RELU] = {"relu", "Relu", EW(nl_relu), INPUTS(1, 1), .nonneg = QN_ALWAYS, .width = width_max,
                  .counts = QC_RELU},
    [QOP_RELU_TRUNC] = {"relu_trunc", EW_SHIFT(nl_relu_trunc), INPUTS(1, 1), .scale = QS_DOWN,
                        .width = width_shift,
                        .nonneg = QN_ALWAYS, .counts = QC_RELU | QC_TRUNC, .dump = dump_shr},
    [QOP_MAXPOOL] = {"maxpool", PROTOCOL(maxpool), INPUTS(1, 1), .nonneg = QN_IF_INPUTS, .width = width_max,
                     WIRE(pool, 18), .check = qcheck_pool, .stats = maxpool_stats,
                     .dump = dump_pool},
    [QOP_AVGPOOL] = {"avgpool", PROTOCOL(avgpool), INPUTS(1, 1), .nonneg = QN_SUMS_INPUTS, .width = width_avg,
                     WIRE(pool, 18), .check = qcheck_pool, .counts = QC_DIVISION,
                     .dump = dump_pool, .reach = avgpool_reach},
    [QOP_ADD] = {"add", LOCAL(add), INPUTS(2, 2), .check = qcheck_add, .reach = add_reach},
    [QOP_ADDC] = {"addc", LOCAL(addc), INPUTS(1, 1), .priv = QW_ELEMENTS, .reach = addc_reach},
    [QOP_CONCAT] = {"concat", LOCAL(concat), INPUTS(1, QNET_MAX_INPUTS), .nonneg = QN_IF_INPUTS, .width = width_max,
                    WIRE(axis, 1), .check = qcheck_concat, .dump = dump_axis},
    [QOP_RESHAPE] = {"reshape", LOCAL(reshape), INPUTS(1, 1), .nonneg = QN_IF_INPUTS, .width = width_max,
                     .check = qcheck_reshape},
    [QOP_PAD] = {"pad", LOCAL(pad), INPUTS(1, 1), .nonneg = QN_IF_INPUTS, .width = width_max,
                 WIRE(pad, 2 * NN_MAX_RANK), .check = qcheck_pad},
    [QOP_TRANSPOSE] = {"transpose", LOCAL(transpose), INPUTS(1, 1), .nonneg = QN_IF_INPUTS, .width = width_max,
                       WIRE(perm, NN_MAX_RANK), .check = qcheck_transpose},
    [QOP_ARGMAX] = {"argmax", PROTOCOL(argmax), INPUTS(1, 1), .scale = QS_INDEX, WIRE(argmax, 2),
                    .check = qcheck_argmax, .stats = argmax_stats, .dump = dump_argmax},
    [QOP_CONST] = {"const", LOCAL(const), INPUTS(0, 0), .priv = QW_ELEMENTS, .check = qcheck_const},
    [QOP_SHL] = {"shl", LOCAL(shl), INPUTS(1, 1), .scale = QS_UP, WIRE(shift, 1), .dump = dump_shl,
                 .reach = shl_reach},
    [QOP_CLIP] = {"clip", EW_ACT(nl_act, NL_ACT_CLIP, clip_quant)},
    [QOP_LEAKY_RELU] = {"leaky_relu", EW_ACT(nl_act, NL_ACT_LEAKY, leaky_quant)},
    [QOP_HARD_SIGMOID] = {"hard_sigmoid", EW_ACT(nl_act, NL_ACT_HSIG, hsig_quant)},
    /* data movement and sums (ops-move) */
    [QOP_SLICE] = {"slice", LOCAL(slice), INPUTS(1, 1), .nonneg = QN_IF_INPUTS, .width = width_max,
                   WIRE(slice, 2 * NN_MAX_RANK), .check = qcheck_slice, .dump = dump_slice},
    [QOP_UPSAMPLE] = {"upsample", LOCAL(upsample), INPUTS(1, 1), .nonneg = QN_IF_INPUTS, .width = width_max,
                      WIRE(factor, NN_MAX_RANK), .check = qcheck_upsample, .dump = dump_factor},
    [QOP_DILATE] = {"dilate", LOCAL(dilate), INPUTS(1, 1), .nonneg = QN_IF_INPUTS, .width = width_max,
                    WIRE(factor, NN_MAX_RANK), .check = qcheck_dilate, .dump = dump_factor},
    [QOP_SUMPOOL] = {"sumpool", LOCAL(sumpool), INPUTS(1, 1), WIRE(pool, 18), .check = qcheck_pool,
                     .dump = dump_pool, .reach = sumpool_reach},
    [QOP_HARD_SWISH] = {"hard_swish", EW_ACT_(nl_hswish, NL_ACT_CLIP, hswish_quant),
                        .check = qcheck_hswish, .reach = hswish_reach, .counts = QC_DIVISION},
    [QOP_MUL] = {"mul", PROTOCOL(mul), INPUTS(2, 2), WIRE(shift, 1), .check = qcheck_mul,
                 .quant = shift_quant, .counts = QC_TRUNC, .dump = dump_shr, .reach = mul_reach},
    [QOP_SIGMOID] = {"sigmoid", "Sigmoid", TABLE(nl_sigmoid)},
    [QOP_TANH] = {"tanh", "Tanh", TABLE(nl_tanh)},
    /* linear maps with public coefficients (ops-move3) */
    [QOP_RESIZE_LINEAR] = {"resize_linear", LOCAL(resize_linear), INPUTS(1, 1), .scale = QS_DOUBLE,
                           WIRE(resize, 1 + 2 * NN_MAX_RANK), .check = qcheck_resize,
                           .dump = dump_resize, .reach = resize_reach},
    /* smooth functions (ops-smooth) */
    [QOP_EXP] = {"exp", "Exp", TABLE(nl_exp), .domain = exp_domain},
    [QOP_SOFTMAX] = {"softmax", PROTOCOL(softmax), INPUTS(1, 1), WIRE(softmax, 3),
                     .check = qcheck_softmax, .quant = softmax_quant, .reach = softmax_reach,
                     .inner_what = "a difference from its row's maximum"},
    /* a batch norm folded into the convolutions after its ReLU (graph.c) */
    [QOP_BN_RELU] = {"bn_relu", PROTOCOL(bn_relu), INPUTS(1, 1), .priv = QW_CHANNELS,
                     WIRE(lin.scale, 4), .check = qcheck_scale, .counts = QC_RELU,
                     .reach = bn_relu_reach},
};

const qkind *qkind_find(int op) {
    return op > 0 && op < QOP_END_ && kinds[op].name ? &kinds[op] : NULL;
}

const qkind *qkind_of(qop op) {
    const qkind *k = qkind_find(op);
    PARLEY_CHECK(k && k->wire_n <= QKIND_MAX_WIRE);
    return k;
}

qop qkind_by_onnx(const char *op_type) {
    for (int op = 1; op < QOP_END_; op++)
        if (kinds[op].onnx && strcmp(kinds[op].onnx, op_type) == 0) return (qop)op;
    return 0;
}

const char *qop_name(qop op) {
    const qkind *k = qkind_find(op);
    return k ? k->name : "?";
}

int qop_is_linear(qop op) {
    const qkind *k = qkind_find(op);
    return k && k->cls == QK_LINEAR;
}

lin_shape qkind_lin(const qkind *k, const qparams *p) {
    PARLEY_CHECK(k->cls == QK_LINEAR);
    return (lin_shape){k->lin, p->lin};
}

lin_shape qlayer_lin(const qlayer *L) {
    return qkind_lin(qkind_of(L->op), &L->p);
}

void qkind_private(const qkind *k, const qparams *p, size_t out, size_t *nw, size_t *nb) {
    *nw = *nb = 0;
    if (k->priv == QW_ELEMENTS) {
        *nw = out;
    } else if (k->priv == QW_CHANNELS) {
        *nw = *nb = p->lin.scale.C;
    } else if (k->priv == QW_LINEAR) {
        lin_shape s = qkind_lin(k, p);
        size_t per;
        *nw = lin_weight_count(&s);
        lin_channels(&s, nb, &per);
    }
}

unsigned qkind_out_scale(const qkind *k, unsigned in, unsigned s, const qparams *p) {
    switch (k->scale) {
    case QS_DOUBLE:
        return 2 * s;
    case QS_DOWN:
        return in - p->shift;
    case QS_UP:
        return in + p->shift;
    case QS_INDEX:
        return 0;
    default:
        return in;
    }
}

/* ---- the steps of any kind ---- */

/* A linear layer: the session's back-end (or the plaintext product), then
 * the owner's bias. */
static int linear_step(const qctx *c) {
    lin_shape s = qlayer_lin(c->L);
    if (c->p)
        TRY(lin_run(c->lin, c->p, c->y, c->x[0], &s, c->owner ? c->L->w : NULL, c->l));
    else
        TRY(lin_plain(c->y, c->x[0], &s, c->L->w, c->l));
    qlocal_add_private(c);
    return 0;
}

/* An element-wise protocol in whichever of its two forms. */
static int elementwise_step(const qctx *c, const qkind *k) {
    const uint64_t *x = c->x[0];
    unsigned sh = c->L->p.shift;
    if (k->ew_act.run) {
        if (c->p) return k->ew_act.run(c->p, c->y, x, c->n, c->l, &c->L->p.act);
        k->ew_act.plain(c->y, x, c->n, c->l, &c->L->p.act);
        return 0;
    }
    if (c->p)
        return k->ew.run ? k->ew.run(c->p, c->y, x, c->n, c->l)
                         : k->ew_shift.run(c->p, c->y, x, c->n, c->l, sh);
    if (k->ew.plain)
        k->ew.plain(c->y, x, c->n, c->l);
    else
        k->ew_shift.plain(c->y, x, c->n, c->l, sh);
    return 0;
}

int qkind_step(const qctx *c) {
    const qkind *k = qkind_of(c->L->op);
    if (k->cls == QK_LINEAR) return linear_step(c);
    if (k->cls == QK_ELEMENTWISE) return elementwise_step(c, k);
    return k->step(c); /* protocol; or local: the same step on shares */
}

int qkind_bytes(uint64_t *b, const qctx *c) {
    const qkind *k = qkind_of(c->L->op);
    *b = 0;
    if (k->cls == QK_LINEAR) {
        lin_shape s = qlayer_lin(c->L);
        double h2;
        TRY(lin_cost(c->lin, b, &h2, &s, c->l, c->lanes, c->oc->fs));
        if (c->h2) *c->h2 += h2;
        return 0;
    }
    if (k->cls == QK_ELEMENTWISE && k->ew_act.bytes)
        *b = k->ew_act.bytes(c->oc, c->n, c->l, &c->L->p.act, c->lanes);
    else if (k->cls == QK_ELEMENTWISE)
        *b = k->ew.bytes ? k->ew.bytes(c->oc, c->n, c->l, c->lanes)
                         : k->ew_shift.bytes(c->oc, c->n, c->l, c->L->p.shift, c->lanes);
    if (k->cls == QK_PROTOCOL) *b = k->bytes(c);
    return 0;
}
