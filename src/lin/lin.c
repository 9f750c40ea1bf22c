/* Shapes and plaintext reference of the linear layers; see lin.h. */
#include "lin/lin.h"

#include "lin/ot/local.h"

#include "util/bits.h"
#include "util/mem.h"

#include <string.h>

static int shape_err(const char *what, const char *why) {
    return err_set(PARLEY_E_ARG, "%s: %s", what, why);
}

/* Product of the sizes fits in size_t (with room for 64-bit elements). */
static int sizes_fit(const unsigned *v, int n) {
    size_t t = sizeof(uint64_t);
    for (int i = 0; i < n; i++)
        if (size_mul(&t, t, v[i]) < 0) return 0;
    return 1;
}

/* Every size non-zero, and the weight width in 1..64. */
static int sizes_and_wbits(const char *what, const unsigned *v, int n, unsigned wbits) {
    for (int i = 0; i < n; i++)
        if (!v[i]) return shape_err(what, "a size is zero");
    if (wbits < 1 || wbits > 64) return shape_err(what, "weight bit width outside 1..64");
    return 0;
}

int lin_conv_check(lin_conv *c) {
    const unsigned sz[] = {c->N, c->C, c->H, c->W, c->O, c->kh, c->kw};
    TRY(sizes_and_wbits("conv", sz, 7, c->wbits));
    if (!c->sh || !c->sw) return shape_err("conv", "a stride is zero");
    if (!c->dh || !c->dw) return shape_err("conv", "a dilation is zero");
    if (!c->groups || c->C % c->groups || c->O % c->groups)
        return shape_err("conv", "channels are not a multiple of the groups");
    uint64_t eh = (uint64_t)c->dh * (c->kh - 1) + 1, ew = (uint64_t)c->dw * (c->kw - 1) + 1;
    uint64_t ph = (uint64_t)c->H + c->pt + c->pb, pw = (uint64_t)c->W + c->pl + c->pr;
    if (eh > ph || ew > pw) return shape_err("conv", "the kernel is larger than the padded input");
    uint64_t oh = (ph - eh) / c->sh + 1, ow = (pw - ew) / c->sw + 1;
    if (oh > UINT32_MAX || ow > UINT32_MAX) return shape_err("conv", "output too large");
    c->OH = (unsigned)oh;
    c->OW = (unsigned)ow;
    unsigned in[] = {c->N, c->C, c->H, c->W}, out[] = {c->N, c->O, c->OH, c->OW},
             wt[] = {c->O, c->C / c->groups, c->kh, c->kw};
    if (!sizes_fit(in, 4) || !sizes_fit(out, 4) || !sizes_fit(wt, 4))
        return shape_err("conv", "tensor too large");
    return 0;
}

int lin_fc_check(const lin_fc *f) {
    unsigned a[] = {f->N, f->K}, b[] = {f->O, f->K}, c[] = {f->N, f->O};
    TRY(sizes_and_wbits("fc", (const unsigned[]){f->N, f->K, f->O}, 3, f->wbits));
    if (!sizes_fit(a, 2) || !sizes_fit(b, 2) || !sizes_fit(c, 2))
        return shape_err("fc", "tensor too large");
    return 0;
}

int lin_scale_check(const lin_scale *s) {
    unsigned a[] = {s->N, s->C, s->S};
    TRY(sizes_and_wbits("scale", a, 3, s->wbits));
    return sizes_fit(a, 3) ? 0 : shape_err("scale", "tensor too large");
}

int lin_check(lin_shape *s) {
    switch (s->kind) {
    case LIN_CONV:
        return lin_conv_check(&s->p.conv);
    case LIN_FC:
        return lin_fc_check(&s->p.fc);
    case LIN_SCALE:
        return lin_scale_check(&s->p.scale);
    default:
        return shape_err("linear layer", "unknown kind");
    }
}

const char *lin_kind_name(lin_kind k) {
    static const char *const names[LIN_KINDS_] = {"conv", "fc", "scale"};
    return (unsigned)k < LIN_KINDS_ ? names[k] : "?";
}

/* Every size of a checked shape, in one place. */
typedef struct lin_dims {
    size_t in, out, weights, nch, per;
    uint64_t macs;
} lin_dims;

static lin_dims dims(const lin_shape *s) {
    lin_dims d = {0};
    if (s->kind == LIN_CONV) {
        const lin_conv *c = &s->p.conv;
        d.in = lin_conv_in_size(c);
        d.out = lin_conv_out_size(c);
        d.weights = lin_conv_weight_size(c);
        d.nch = c->O;
        d.per = (size_t)c->OH * c->OW;
        d.macs = lin_conv_macs(c);
    } else if (s->kind == LIN_FC) {
        const lin_fc *f = &s->p.fc;
        d.in = (size_t)f->N * f->K;
        d.out = (size_t)f->N * f->O;
        d.weights = (size_t)f->O * f->K;
        d.nch = f->O;
        d.per = 1;
        d.macs = (uint64_t)f->N * f->K * f->O;
    } else {
        const lin_scale *c = &s->p.scale;
        d.in = d.out = d.macs = (size_t)c->N * c->C * c->S;
        d.weights = d.nch = c->C;
        d.per = c->S;
    }
    return d;
}

size_t lin_in_size(const lin_shape *s) {
    return dims(s).in;
}
size_t lin_out_size(const lin_shape *s) {
    return dims(s).out;
}
size_t lin_weight_count(const lin_shape *s) {
    return dims(s).weights;
}
uint64_t lin_macs(const lin_shape *s) {
    return dims(s).macs;
}
void lin_channels(const lin_shape *s, size_t *nch, size_t *per) {
    lin_dims d = dims(s);
    *nch = d.nch;
    *per = d.per;
}

unsigned *lin_wbits_of(lin_params *p, lin_kind k) {
    return k == LIN_CONV ? &p->conv.wbits : k == LIN_FC ? &p->fc.wbits : &p->scale.wbits;
}

unsigned lin_wbits(const lin_shape *s) {
    return *lin_wbits_of((lin_params *)&s->p, s->kind);
}

size_t lin_conv_in_size(const lin_conv *c) {
    return (size_t)c->N * c->C * c->H * c->W;
}
size_t lin_conv_out_size(const lin_conv *c) {
    return (size_t)c->N * c->O * c->OH * c->OW;
}
size_t lin_conv_weight_size(const lin_conv *c) {
    return (size_t)c->O * (c->C / c->groups) * c->kh * c->kw;
}
uint64_t lin_conv_macs(const lin_conv *c) {
    return (uint64_t)lin_conv_out_size(c) * (c->C / c->groups) * c->kh * c->kw;
}

unsigned lin_weight_bits(const uint64_t *w, size_t n, unsigned l) {
    unsigned b = 1;
    for (size_t i = 0; i < n; i++) {
        int64_t v = bits_signed(w[i], l);
        /* bits of v as a signed integer: v in [-2^(b-1), 2^(b-1)) */
        uint64_t mag = v < 0 ? ~(uint64_t)v : (uint64_t)v;
        unsigned need = 1 + (mag ? 64 - (unsigned)__builtin_clzll(mag) : 0);
        if (need > b) b = need;
    }
    return b > l ? l : b;
}

int lin_weights_fit(const lin_shape *s, const uint64_t *w, unsigned l, size_t *bad) {
    unsigned wb = lin_wbits(s);
    size_t n = lin_weight_count(s);
    for (size_t i = 0; i < n; i++)
        if (lin_weight_bits(&w[i], 1, l) > wb) {
            *bad = i;
            return 0;
        }
    return 1;
}

int lin_plain(uint64_t *y, const uint64_t *x, const lin_shape *s, const uint64_t *w,
              unsigned l) {
    if (s->kind == LIN_SCALE) {
        lin_scale_plain(y, x, &s->p.scale, w, l);
        return 0;
    }
    if (s->kind == LIN_CONV)
        TRY(lin_local_conv(y, x, &s->p.conv, w));
    else
        lin_local_fc(y, x, &s->p.fc, w);
    uint64_t mask = bits_mask(l);
    for (size_t i = 0, n = lin_out_size(s); i < n; i++)
        y[i] &= mask;
    return 0;
}

/* The first output column j whose tap q = j * sw + q0 is >= lo, and the end
 * of those with q < hi (a tap's valid columns form one run). */
static unsigned conv_cols(int64_t q0, unsigned sw, unsigned ow, int64_t lo, int64_t hi,
                          unsigned *end) {
    int64_t a = lo - q0 <= 0 ? 0 : (lo - q0 + sw - 1) / sw;
    int64_t b = hi - q0 <= 0 ? 0 : (hi - q0 + sw - 1) / sw;
    if (b > ow) b = ow;
    if (a > b) a = b;
    *end = (unsigned)b;
    return (unsigned)a;
}

/* Weight by weight over whole output rows (the sums wrap mod 2^64 and are
 * reduced at the end, so the order of the products does not matter): each
 * inner loop walks an input row and an output row, which the compiler
 * vectorises, where the per-output loop over taps strode across planes. */
void lin_conv_plain(uint64_t *y, const uint64_t *x, const lin_conv *c, const uint64_t *w,
                    unsigned l) {
    uint64_t mask = bits_mask(l);
    unsigned cg = c->C / c->groups, og = c->O / c->groups;
    size_t plane = (size_t)c->OH * c->OW, iplane = (size_t)c->H * c->W;
    for (unsigned n = 0; n < c->N; n++)
        for (unsigned o = 0; o < c->O; o++) {
            uint64_t *yp = y + ((size_t)n * c->O + o) * plane;
            memset(yp, 0, plane * sizeof *yp);
            unsigned g = o / og;
            for (unsigned ci = 0; ci < cg; ci++) {
                const uint64_t *xp = x + ((size_t)n * c->C + g * cg + ci) * iplane;
                for (unsigned a = 0; a < c->kh; a++)
                    for (unsigned b = 0; b < c->kw; b++) {
                        uint64_t wv = w[(((size_t)o * cg + ci) * c->kh + a) * c->kw + b];
                        if (!wv) continue;
                        int64_t q0 = (int64_t)b * c->dw - c->pl;
                        unsigned j1, j0 = conv_cols(q0, c->sw, c->OW, 0, c->W, &j1);
                        if (j0 >= j1) continue;
                        for (unsigned i = 0; i < c->OH; i++) {
                            int64_t r = (int64_t)i * c->sh - c->pt + (int64_t)a * c->dh;
                            if (r < 0 || r >= c->H) continue;
                            const uint64_t *xr = xp + (size_t)r * c->W;
                            uint64_t *yr = yp + (size_t)i * c->OW;
                            if (c->sw == 1)
                                for (unsigned j = j0; j < j1; j++)
                                    yr[j] += wv * xr[(int64_t)j + q0];
                            else
                                for (unsigned j = j0; j < j1; j++)
                                    yr[j] += wv * xr[(int64_t)j * c->sw + q0];
                        }
                    }
            }
            for (size_t k = 0; k < plane; k++)
                yp[k] &= mask;
        }
}

void lin_fc_plain(uint64_t *y, const uint64_t *x, const lin_fc *f, const uint64_t *w, unsigned l) {
    uint64_t mask = bits_mask(l);
    for (unsigned n = 0; n < f->N; n++)
        for (unsigned o = 0; o < f->O; o++) {
            uint64_t acc = 0;
            const uint64_t *xr = x + (size_t)n * f->K, *wr = w + (size_t)o * f->K;
            for (unsigned k = 0; k < f->K; k++)
                acc += xr[k] * wr[k];
            y[(size_t)n * f->O + o] = acc & mask;
        }
}

void lin_scale_plain(uint64_t *y, const uint64_t *x, const lin_scale *s, const uint64_t *g,
                     unsigned l) {
    uint64_t mask = bits_mask(l);
    for (unsigned n = 0; n < s->N; n++)
        for (unsigned ch = 0; ch < s->C; ch++) {
            size_t base = ((size_t)n * s->C + ch) * s->S;
            for (unsigned k = 0; k < s->S; k++)
                y[base + k] = (x[base + k] * g[ch]) & mask;
        }
}

/* ---- sibling convolutions, and a shortcut's two convolutions, as one ---- */

/* c (a copy of x with its channels set) gets the union of x's and y's
 * windows over one input geometry (the same H, W and strides): output row
 * oh reads input rows oh*sh - pt .. oh*sh - pt + kh - 1 in each, and the
 * larger wbits. 1 if c is a valid convolution with x's output size, else
 * 0. */
static int union_window(lin_conv *c, const lin_conv *x, const lin_conv *y) {
    unsigned pt = x->pt > y->pt ? x->pt : y->pt, pl = x->pl > y->pl ? x->pl : y->pl;
    uint64_t eh = (uint64_t)pt - x->pt + x->kh, eh2 = (uint64_t)pt - y->pt + y->kh;
    uint64_t ew = (uint64_t)pl - x->pl + x->kw, ew2 = (uint64_t)pl - y->pl + y->kw;
    if (eh2 > eh) eh = eh2;
    if (ew2 > ew) ew = ew2;
    /* bottom and right padding that give the same output size (none where
     * the last window already ends inside the input: a stride that does
     * not divide leaves the input's last rows unread, as in a and b) */
    int64_t pb = ((int64_t)x->OH - 1) * x->sh + (int64_t)eh - x->H - pt;
    int64_t pr = ((int64_t)x->OW - 1) * x->sw + (int64_t)ew - x->W - pl;
    if (pb < 0) pb = 0;
    if (pr < 0) pr = 0;
    if (pb > UINT32_MAX || pr > UINT32_MAX || eh > UINT32_MAX || ew > UINT32_MAX) return 0;
    c->kh = (unsigned)eh;
    c->kw = (unsigned)ew;
    c->pt = pt;
    c->pl = pl;
    c->pb = (unsigned)pb;
    c->pr = (unsigned)pr;
    c->wbits = x->wbits > y->wbits ? x->wbits : y->wbits;
    if (lin_conv_check(c) < 0) {
        err_clear();
        return 0;
    }
    return c->OH == x->OH && c->OW == x->OW;
}

/* Two dense undilated convolutions over one input geometry (the same H, W
 * and strides) with the same batch and output size. */
static int same_geometry(const lin_conv *x, const lin_conv *y) {
    return x->N == y->N && x->H == y->H && x->W == y->W && x->sh == y->sh && x->sw == y->sw &&
           x->OH == y->OH && x->OW == y->OW && x->groups == 1 && y->groups == 1 && x->dh == 1 &&
           x->dw == 1 && y->dh == 1 && y->dw == 1;
}

int lin_merge(lin_shape *m, const lin_shape *a, const lin_shape *b) {
    if (a->kind != LIN_CONV || b->kind != LIN_CONV) return 0;
    const lin_conv *x = &a->p.conv, *y = &b->p.conv;
    if (!same_geometry(x, y) || x->C != y->C || (uint64_t)x->O + y->O > UINT32_MAX) return 0;
    lin_shape t = {.kind = LIN_CONV};
    lin_conv *c = &t.p.conv;
    *c = *x;
    c->O = x->O + y->O;
    if (!union_window(c, x, y)) return 0;
    *m = t;
    return 1;
}

/* x as the sum merge reads it: a dense 1x1 convolution without padding or
 * dilation is the 1x1 stride-1 convolution of its input subsampled by its
 * strides (an OH x OW image); any other is itself. 1 if reduced. */
static int sum_reduce(lin_conv *r, const lin_conv *x) {
    *r = *x;
    if (x->kh != 1 || x->kw != 1 || x->groups != 1 || x->dh != 1 || x->dw != 1 || x->pt ||
        x->pl || x->pb || x->pr)
        return 0;
    r->H = x->OH;
    r->W = x->OW;
    r->sh = r->sw = 1;
    return 1;
}

int lin_sum_merge(lin_shape *m, const lin_shape *a, const lin_shape *b) {
    if (a->kind != LIN_CONV || b->kind != LIN_CONV) return 0;
    lin_conv x, y;
    sum_reduce(&x, &a->p.conv);
    sum_reduce(&y, &b->p.conv);
    if (!same_geometry(&x, &y) || x.O != y.O || (uint64_t)x.C + y.C > UINT32_MAX) return 0;
    lin_shape t = {.kind = LIN_CONV};
    lin_conv *c = &t.p.conv;
    *c = x;
    c->C = x.C + y.C;
    if (!union_window(c, &x, &y)) return 0;
    *m = t;
    return 1;
}

/* Channels c0 .. c0 + x.C - 1 of every batch item of xm (m's input) from
 * the input xs of x, subsampled where the merge reduced x. */
static void sum_part(uint64_t *xm, const lin_conv *c, unsigned c0, const lin_conv *x,
                     const uint64_t *xs) {
    lin_conv r;
    int red = sum_reduce(&r, x);
    size_t per = (size_t)c->H * c->W;
    PARLEY_CHECK(r.H == c->H && r.W == c->W);
    for (size_t n = 0; n < x->N; n++)
        for (size_t ch = 0; ch < x->C; ch++) {
            const uint64_t *src = xs + (n * x->C + ch) * x->H * x->W;
            uint64_t *dst = xm + (n * c->C + c0 + ch) * per;
            if (!red) {
                memcpy(dst, src, per * sizeof *dst);
                continue;
            }
            for (size_t i = 0; i < c->H; i++)
                for (size_t j = 0; j < c->W; j++)
                    dst[i * c->W + j] = src[i * x->sh * x->W + j * x->sw];
        }
}

void lin_sum_input(uint64_t *xm, const lin_shape *m, const lin_shape *a, const uint64_t *xa,
                   const lin_shape *b, const uint64_t *xb) {
    const lin_conv *c = &m->p.conv, *x = &a->p.conv, *y = &b->p.conv;
    PARLEY_CHECK(m->kind == LIN_CONV && a->kind == LIN_CONV && b->kind == LIN_CONV &&
                 c->C == x->C + y->C && c->N == x->N && c->N == y->N);
    sum_part(xm, c, 0, x, xa);
    sum_part(xm, c, x->C, y, xb);
}

/* x's weights wx into channels c0 .. c0 + x.C - 1 of every output channel
 * of wm, at x's window's place in m's. */
static void sum_weights_part(uint64_t *wm, const lin_conv *c, unsigned c0, const lin_conv *x,
                             const uint64_t *wx) {
    lin_conv r;
    sum_reduce(&r, x);
    PARLEY_CHECK(c->pt >= r.pt && c->pl >= r.pl && c->pt - r.pt + r.kh <= c->kh &&
                 c->pl - r.pl + r.kw <= c->kw && c->O == r.O);
    unsigned di = c->pt - r.pt, dj = c->pl - r.pl;
    for (size_t o = 0; o < c->O; o++)
        for (size_t ch = 0; ch < r.C; ch++)
            for (size_t i = 0; i < r.kh; i++)
                for (size_t j = 0; j < r.kw; j++)
                    wm[((o * c->C + c0 + ch) * c->kh + di + i) * c->kw + dj + j] =
                        wx[((o * r.C + ch) * r.kh + i) * r.kw + j];
}

void lin_sum_weights(uint64_t *wm, const lin_shape *m, const lin_shape *a, const uint64_t *wa,
                     const lin_shape *b, const uint64_t *wb) {
    const lin_conv *c = &m->p.conv, *x = &a->p.conv, *y = &b->p.conv;
    PARLEY_CHECK(c->C == x->C + y->C);
    sum_weights_part(wm, c, 0, x, wa);
    sum_weights_part(wm, c, x->C, y, wb);
}

void lin_merge_weights(uint64_t *wm, const lin_shape *m, unsigned o_off, const lin_shape *a,
                       const uint64_t *wa) {
    const lin_conv *c = &m->p.conv, *x = &a->p.conv;
    PARLEY_CHECK(m->kind == LIN_CONV && a->kind == LIN_CONV && o_off + x->O <= c->O &&
                 x->C == c->C && c->pt >= x->pt && c->pl >= x->pl &&
                 c->pt - x->pt + x->kh <= c->kh && c->pl - x->pl + x->kw <= c->kw);
    unsigned di = c->pt - x->pt, dj = c->pl - x->pl;
    for (size_t o = 0; o < x->O; o++)
        for (size_t ch = 0; ch < x->C; ch++)
            for (size_t i = 0; i < x->kh; i++)
                for (size_t j = 0; j < x->kw; j++)
                    wm[(((o_off + o) * c->C + ch) * c->kh + di + i) * c->kw + dj + j] =
                        wa[((o * x->C + ch) * x->kh + i) * x->kw + j];
}
