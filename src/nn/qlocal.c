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
