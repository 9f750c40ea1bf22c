/* Local evaluation; see qlocal.h. */
#include "nn/qlocal.h"

#include "util/bits.h"

#include <string.h>

static uint64_t prod(const nn_shape *s, unsigned from, unsigned to) {
    uint64_t p = 1;
    for (unsigned i = from; i < to && i < s->rank; i++)
        p *= s->d[i];
    return p;
}

static const nn_shape *in_shape(const qctx *c, unsigned k) {
    return &c->net->t[c->L->in[k]].shape;
}

static const nn_shape *out_shape(const qctx *c) {
    return &c->net->t[c->L->out].shape;
}

void qlocal_add_private(const qctx *c) {
    if (!c->owner) return;
    const qlayer *L = c->L;
    uint64_t mask = bits_mask(c->l), *y = c->y;
    if (qkind_of(L->op)->priv == QW_ELEMENTS) {
        for (size_t i = 0; i < c->n; i++)
            y[i] = (y[i] + L->w[i]) & mask;
        return;
    }
    PARLEY_CHECK(L->b);
    size_t nch, per;
    lin_shape s = qlayer_lin(L);
    lin_channels(&s, &nch, &per);
    /* Output is rows of nch channels of per elements (FC: per = 1). */
    for (size_t i = 0; i < c->n; i++)
        y[i] = (y[i] + L->b[(i / per) % nch]) & mask;
}

int qlocal_add(const qctx *c) {
    uint64_t mask = bits_mask(c->l);
    for (size_t i = 0; i < c->n; i++)
        c->y[i] = (c->x[0][i] + c->x[1][i]) & mask;
    return 0;
}

int qlocal_addc(const qctx *c) {
    memcpy(c->y, c->x[0], c->n * sizeof *c->y);
    qlocal_add_private(c);
    return 0;
}

/* A constant is shared as S: the constant, C: zeros. */
int qlocal_const(const qctx *c) {
    memset(c->y, 0, c->n * sizeof *c->y);
    qlocal_add_private(c);
    return 0;
}

int qlocal_shl(const qctx *c) {
    uint64_t mask = bits_mask(c->l);
    for (size_t i = 0; i < c->n; i++)
        c->y[i] = (c->x[0][i] << c->L->p.shift) & mask;
    return 0;
}

int qlocal_reshape(const qctx *c) {
    memcpy(c->y, c->x[0], c->n * sizeof *c->y);
    return 0;
}

static void strides(size_t *st, const nn_shape *s) {
    size_t acc = 1;
    for (unsigned d = s->rank; d-- > 0;) {
        st[d] = acc;
        acc *= s->d[d];
    }
}

int qlocal_concat(const qctx *c) {
    const nn_shape *ys = out_shape(c);
    unsigned a = c->L->p.axis;
    size_t outer = prod(ys, 0, a), inner = prod(ys, a + 1, ys->rank);
    size_t at = 0;
    for (size_t o = 0; o < outer; o++)
        for (unsigned k = 0; k < c->L->nin; k++) {
            size_t len = in_shape(c, k)->d[a] * inner;
            memcpy(c->y + at, c->x[k] + o * len, len * sizeof *c->y);
            at += len;
        }
    return 0;
}

int qlocal_pad(const qctx *c) {
    const nn_shape *xs = in_shape(c, 0);
    const uint64_t *x = c->x[0];
    uint64_t *y = c->y;
    memset(y, 0, c->n * sizeof *y);
    unsigned r = xs->rank;
    if (r == 0) {
        y[0] = x[0];
        return 0;
    }
    size_t yst[NN_MAX_RANK];
    strides(yst, out_shape(c));
    size_t rows = prod(xs, 0, r - 1), len = xs->d[r - 1];
    uint32_t idx[NN_MAX_RANK] = {0};
    const uint32_t *lo = c->L->p.pad.lo;
    for (size_t row = 0; row < rows; row++) {
        size_t off = lo[r - 1];
        for (unsigned d = 0; d + 1 < r; d++)
            off += (idx[d] + lo[d]) * yst[d];
        memcpy(y + off, x + row * len, len * sizeof *y);
        for (unsigned d = r - 1; d-- > 0;) { /* odometer over the leading dims */
            if (++idx[d] < xs->d[d]) break;
            idx[d] = 0;
        }
    }
    return 0;
}

/* y in row-major order from x[off + sum over d of idx[d] * step[d]]: the
 * walk of TRANSPOSE (steps the permuted strides) and SLICE (the strides
 * times the slice's steps, from its start). */
static int gather_strided(const qctx *c, const size_t *step, size_t off) {
    const nn_shape *ys = out_shape(c);
    uint32_t idx[NN_MAX_RANK] = {0};
    for (size_t i = 0; i < c->n; i++) {
        c->y[i] = c->x[0][off];
        for (unsigned d = ys->rank; d-- > 0;) {
            off += step[d];
            if (++idx[d] < ys->d[d]) break;
            off -= step[d] * ys->d[d];
            idx[d] = 0;
        }
    }
    return 0;
}

int qlocal_transpose(const qctx *c) {
    const nn_shape *ys = out_shape(c);
    unsigned r = ys->rank;
    size_t xst[NN_MAX_RANK], step[NN_MAX_RANK];
    strides(xst, in_shape(c, 0));
    for (unsigned d = 0; d < r; d++)
        step[d] = xst[c->L->p.perm[d]];
    return gather_strided(c, step, 0);
}

/* ---- SLICE, UPSAMPLE, DILATE, SUMPOOL ---- */

int qlocal_slice(const qctx *c) {
    const nn_shape *ys = out_shape(c);
    unsigned r = ys->rank;
    size_t xst[NN_MAX_RANK], step[NN_MAX_RANK], off = 0;
    strides(xst, in_shape(c, 0));
    for (unsigned d = 0; d < r; d++) {
        step[d] = c->L->p.slice.step[d] * xst[d];
        off += c->L->p.slice.start[d] * xst[d];
    }
    return gather_strided(c, step, off);
}

int qlocal_upsample(const qctx *c) {
    const nn_shape *ys = out_shape(c);
    unsigned r = ys->rank;
    const uint32_t *f = c->L->p.factor;
    size_t xst[NN_MAX_RANK];
    strides(xst, in_shape(c, 0));
    uint32_t idx[NN_MAX_RANK] = {0};
    for (size_t i = 0; i < c->n; i++) {
        size_t off = 0;
        for (unsigned d = 0; d < r; d++)
            off += (size_t)(idx[d] / f[d]) * xst[d];
        c->y[i] = c->x[0][off];
        for (unsigned d = r; d-- > 0;) {
            if (++idx[d] < ys->d[d]) break;
            idx[d] = 0;
        }
    }
    return 0;
}

int qlocal_dilate(const qctx *c) {
    const nn_shape *xs = in_shape(c, 0);
    unsigned r = xs->rank;
    const uint32_t *f = c->L->p.factor;
    size_t yst[NN_MAX_RANK], nx = c->net->t[c->L->in[0]].size;
    strides(yst, out_shape(c));
    memset(c->y, 0, c->n * sizeof *c->y);
    uint32_t idx[NN_MAX_RANK] = {0};
    for (size_t i = 0; i < nx; i++) {
        size_t off = 0;
        for (unsigned d = 0; d < r; d++)
            off += (size_t)idx[d] * f[d] * yst[d];
        c->y[off] = c->x[0][i];
        for (unsigned d = r; d-- > 0;) {
            if (++idx[d] < xs->d[d]) break;
            idx[d] = 0;
        }
    }
    return 0;
}

/* ---- RESIZE_LINEAR (ops-move3) ---- */

/* ONNX's "length_resized" is in * scale before the floor: one element
 * exactly when in * num == den. */
uint64_t qlocal_resize_q(unsigned mode, uint64_t num, uint64_t den, uint64_t in) {
    int one = (unsigned __int128)in * num == den;
    if (mode == QRESIZE_HALF_PIXEL || (mode == QRESIZE_PYTORCH_HALF_PIXEL && !one)) return 2 * num;
    if (mode == QRESIZE_ALIGN_CORNERS && !one) return in * num - den;
    if (mode == QRESIZE_ASYMMETRIC) return num;
    return 1;
}

void qlocal_resize_src(unsigned mode, uint64_t num, uint64_t den, uint64_t in, uint64_t o,
                       uint32_t *i0, uint64_t *r, uint64_t *q) {
    __int128 P = 0, Q = qlocal_resize_q(mode, num, den, in);
    int one = (unsigned __int128)in * num == den;
    if (mode == QRESIZE_HALF_PIXEL || (mode == QRESIZE_PYTORCH_HALF_PIXEL && !one)) {
        P = (__int128)(2 * o + 1) * den - num; /* ((o + 1/2) den / num - 1/2), over 2 num */
    } else if (mode == QRESIZE_ALIGN_CORNERS && !one) {
        P = (__int128)o * (in - 1) * den; /* o (in - 1) / (in num / den - 1) */
    } else if (mode == QRESIZE_ASYMMETRIC) {
        P = (__int128)o * den;
    }
    *q = (uint64_t)Q;
    *i0 = 0;
    *r = 0;
    if (P <= 0) return; /* clamped to 0 */
    __int128 x0 = P / Q;
    if (x0 >= (__int128)in - 1) {
        *i0 = (uint32_t)(in - 1); /* clamped to in - 1 */
        return;
    }
    *i0 = (uint32_t)x0;
    *r = (uint64_t)(P - x0 * Q);
}

/* y[o] = sum over the neighbours n of round(w_n * 2^s) * x[n] mod 2^l,
 * w_n the product over the interpolated axes of (q - r) / q or r / q,
 * rounded half up (the weights are positive) with exact integers, so both
 * parties and the reference form the same coefficients on any machine. */
int qlocal_resize_linear(const qctx *c) {
    const nn_shape *xs = in_shape(c, 0), *ys = out_shape(c);
    const uint32_t *num = c->L->p.resize.num, *den = c->L->p.resize.den;
    unsigned r = ys->rank, ax[QRESIZE_MAX_AXES], na = 0, s = c->net->s;
    for (unsigned d = 0; d < r; d++)
        if (num[d] != den[d]) {
            PARLEY_CHECK(na < QRESIZE_MAX_AXES); /* qcheck_resize */
            ax[na++] = d;
        }
    size_t xst[NN_MAX_RANK];
    strides(xst, xs);
    uint64_t mask = bits_mask(c->l);
    uint32_t idx[NN_MAX_RANK] = {0};
    for (size_t i = 0; i < c->n; i++) {
        size_t base = 0;
        for (unsigned d = 0; d < r; d++)
            if (num[d] == den[d]) base += (size_t)idx[d] * xst[d];
        uint32_t i0[QRESIZE_MAX_AXES];
        uint64_t rr[QRESIZE_MAX_AXES], q[QRESIZE_MAX_AXES];
        for (unsigned k = 0; k < na; k++)
            qlocal_resize_src(c->L->p.resize.mode, num[ax[k]], den[ax[k]], xs->d[ax[k]],
                              idx[ax[k]], &i0[k], &rr[k], &q[k]);
        uint64_t acc = 0;
        for (unsigned t = 0; t < 1u << na; t++) {
            unsigned __int128 wn = 1, wd = 1;
            size_t off = base;
            for (unsigned k = 0; k < na && wn; k++) {
                unsigned bit = t >> k & 1;
                wn *= bit ? rr[k] : q[k] - rr[k];
                wd *= q[k];
                off += (size_t)(i0[k] + bit) * xst[ax[k]];
            }
            if (!wn) continue; /* a neighbour past the edge has weight 0 */
            uint64_t w = (uint64_t)(((wn << (s + 1)) + wd) / (2 * wd));
            acc += w * c->x[0][off];
        }
        c->y[i] = acc & mask;
        for (unsigned d = r; d-- > 0;) {
            if (++idx[d] < ys->d[d]) break;
            idx[d] = 0;
        }
    }
    return 0;
}

int qlocal_sumpool(const qctx *c) {
    nl_pool_sums(c->y, c->x[0], &c->L->p.pool, c->l); /* the window sums mod 2^l */
    return 0;
}

void qlocal_argmax_geom(const qctx *c, size_t *outer, size_t *cols, size_t *inner) {
    const nn_shape *xs = in_shape(c, 0);
    unsigned a = c->L->p.argmax.axis;
    *outer = prod(xs, 0, a);
    *cols = xs->d[a];
    *inner = prod(xs, a + 1, xs->rank);
}

void qlocal_gather_rows(uint64_t *rows, const uint64_t *x, size_t outer, size_t cols,
                        size_t inner) {
    for (size_t o = 0; o < outer; o++)
        for (size_t j = 0; j < cols; j++)
            for (size_t k = 0; k < inner; k++)
                rows[(o * inner + k) * cols + j] = x[(o * cols + j) * inner + k];
}
