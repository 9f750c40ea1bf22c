/* Checks of a quantized net: qnet_check, the one place that decides
 * whether a net is well formed (the quantizer runs it on what it built, the
 * public-model decoder on what came from the peer), and the shape rules of
 * the kinds (kind.h). The rules every layer shares are here once, driven
 * by its kind's traits: the input count, indices and order, the output
 * scale, the size caps, and the server's private arrays. */
#include "nn/kind.h"

#include "nl/act2.h"
#include "nn/qlocal.h"
#include "nl/act3.h"
#include "nn/quant.h"

#include "util/bits.h"

#include <stdio.h>

static int lerr(const qnet *net, unsigned i, const char *why) {
    const qlayer *L = &net->layers[i];
    return err_set(PARLEY_E_FORMAT, "layer %u (%s%s%s): %s", i, qop_name(L->op), L->name ? " " : "",
                   L->name ? L->name : "", why);
}

static int name_ok(const char *s) {
    if (!s) return 0;
    size_t n = 0;
    for (; s[n]; n++)
        if ((unsigned char)s[n] < 0x20 || (unsigned char)s[n] > 0x7e || n >= QNET_MAX_NAME)
            return 0;
    return 1;
}

static uint64_t prod(const nn_shape *s, unsigned from, unsigned to) {
    uint64_t p = 1;
    for (unsigned i = from; i < to && i < s->rank; i++)
        p *= s->d[i];
    return p;
}

static const qtensor *in_t(const qnet *net, const qlayer *L, unsigned k) {
    return &net->t[L->in[k]];
}

static const qtensor *out_t(const qnet *net, const qlayer *L) {
    return &net->t[L->out];
}

/* ---- shape rules of the kinds ---- */

/* A window over X = N x C x H x W, or N x C x W (H = 1, a 1-D window):
 * the sizes the layer declares (in[] = N, C, H, W) must be X's. */
static int window_in(const qnet *net, unsigned i, const qtensor *X, const unsigned in[4],
                     int window_1d, const char *not_1d) {
    const nn_shape *s = &X->shape;
    if (s->rank != 3 && s->rank != 4) return lerr(net, i, "input is not N x C x (H x) W");
    unsigned h = s->rank == 4 ? s->d[2] : 1;
    if (in[0] != s->d[0] || in[1] != s->d[1] || in[2] != h || in[3] != s->d[s->rank - 1])
        return lerr(net, i, "shape does not match the input");
    if (s->rank == 3 && !window_1d) return lerr(net, i, not_1d);
    return 0;
}

/* ... and the output N x O x (OH x) OW as the window gives it (OH, OW; the
 * layer declares dOH, dOW). */
static int window_out(const qnet *net, const qlayer *L, unsigned i, unsigned O, unsigned OH,
                      unsigned OW, unsigned dOH, unsigned dOW) {
    const nn_shape *xs = &in_t(net, L, 0)->shape, *ys = &out_t(net, L)->shape;
    if (OH != dOH || OW != dOW) return lerr(net, i, "output size does not match the window");
    int ok = ys->rank == xs->rank && ys->d[0] == xs->d[0] && ys->d[1] == O &&
             ys->d[ys->rank - 1] == OW && (xs->rank == 4 ? ys->d[2] == OH : OH == 1);
    return ok ? 0 : lerr(net, i, "output shape does not match the layer");
}

int qcheck_conv(const qnet *net, const qlayer *L, unsigned i) {
    lin_conv cv = L->p.lin.conv;
    const unsigned in[4] = {cv.N, cv.C, cv.H, cv.W};
    TRY(window_in(net, i, in_t(net, L, 0), in, cv.kh == 1 && !cv.pt && !cv.pb,
                  "a 1-D convolution has a 2-D window"));
    if (lin_conv_check(&cv) < 0) return err_wrap(PARLEY_E_FORMAT, "layer %u", i);
    TRY(window_out(net, L, i, cv.O, cv.OH, cv.OW, L->p.lin.conv.OH, L->p.lin.conv.OW));
    if (lin_conv_macs(&cv) > QNET_MAX_LAYER_MACS)
        return lerr(net, i, "too many multiply-accumulates");
    return 0;
}

int qcheck_fc(const qnet *net, const qlayer *L, unsigned i) {
    const qtensor *X = in_t(net, L, 0), *Y = out_t(net, L);
    const lin_fc *f = &L->p.lin.fc;
    if (X->shape.rank < 1) return lerr(net, i, "input is a scalar");
    unsigned r = X->shape.rank;
    if (f->K != X->shape.d[r - 1] || f->N != prod(&X->shape, 0, r - 1))
        return lerr(net, i, "shape does not match the input");
    if (lin_fc_check(f) < 0) return err_wrap(PARLEY_E_FORMAT, "layer %u", i);
    if (Y->shape.rank != r || Y->shape.d[r - 1] != f->O)
        return lerr(net, i, "output shape does not match the layer");
    for (unsigned k = 0; k + 1 < r; k++)
        if (Y->shape.d[k] != X->shape.d[k])
            return lerr(net, i, "output shape does not match the layer");
    if ((uint64_t)f->N * f->K * f->O > QNET_MAX_LAYER_MACS)
        return lerr(net, i, "too many multiply-accumulates");
    return 0;
}

int qcheck_scale(const qnet *net, const qlayer *L, unsigned i) {
    const lin_scale *sc = &L->p.lin.scale;
    const nn_shape *xs = &in_t(net, L, 0)->shape;
    if (xs->rank < 2) return lerr(net, i, "input has no channel dimension");
    if (sc->N != xs->d[0] || sc->C != xs->d[1] || sc->S != prod(xs, 2, 8))
        return lerr(net, i, "shape does not match the input");
    if (lin_scale_check(sc) < 0) return err_wrap(PARLEY_E_FORMAT, "layer %u", i);
    if (!nn_shape_eq(xs, &out_t(net, L)->shape)) return lerr(net, i, "output shape differs");
    return 0;
}

int qcheck_pool(const qnet *net, const qlayer *L, unsigned i) {
    nl_pool p = L->p.pool;
    const unsigned in[4] = {p.N, p.C, p.H, p.W};
    TRY(window_in(net, i, in_t(net, L, 0), in,
                  p.kh == 1 && !p.pt && !p.pb && p.dh == 1 && p.sh == 1,
                  "a 1-D pool has a 2-D window"));
    if (nl_pool_check(&p) < 0) return err_wrap(PARLEY_E_FORMAT, "layer %u", i);
    TRY(window_out(net, L, i, p.C, p.OH, p.OW, L->p.pool.OH, L->p.pool.OW));
    /* Division by the window size on shares needs 2^l > 6d. */
    if (L->op == QOP_AVGPOOL && (unsigned __int128)p.kh * p.kw * 6 >= (unsigned __int128)1
                                                                          << net->l)
        return lerr(net, i, "window too large for division in the ring (need 2^l > 6d)");
    return 0;
}

int qcheck_add(const qnet *net, const qlayer *L, unsigned i) {
    const qtensor *X = in_t(net, L, 0), *X1 = in_t(net, L, 1), *Y = out_t(net, L);
    if (!nn_shape_eq(&X->shape, &Y->shape) || !nn_shape_eq(&X1->shape, &Y->shape))
        return lerr(net, i, "operand shapes differ");
    if (X1->scale != X->scale) return lerr(net, i, "operand scales differ");
    return 0;
}

int qcheck_concat(const qnet *net, const qlayer *L, unsigned i) {
    const qtensor *Y = out_t(net, L);
    unsigned a = L->p.axis, r = Y->shape.rank;
    if (a >= r) return lerr(net, i, "axis out of range");
    uint64_t sum = 0;
    for (unsigned k = 0; k < L->nin; k++) {
        const qtensor *Xk = in_t(net, L, k);
        if (Xk->shape.rank != r || Xk->scale != Y->scale)
            return lerr(net, i, "operands differ in rank or scale");
        for (unsigned d = 0; d < r; d++)
            if (d != a && Xk->shape.d[d] != Y->shape.d[d])
                return lerr(net, i, "operand shapes differ off the axis");
        sum += Xk->shape.d[a];
    }
    if (sum != Y->shape.d[a]) return lerr(net, i, "output size along the axis is not the sum");
    return 0;
}

int qcheck_reshape(const qnet *net, const qlayer *L, unsigned i) {
    if (in_t(net, L, 0)->size != out_t(net, L)->size) return lerr(net, i, "element counts differ");
    return 0;
}

int qcheck_pad(const qnet *net, const qlayer *L, unsigned i) {
    const nn_shape *xs = &in_t(net, L, 0)->shape, *ys = &out_t(net, L)->shape;
    if (xs->rank != ys->rank) return lerr(net, i, "ranks differ");
    for (unsigned d = 0; d < xs->rank; d++)
        if ((uint64_t)xs->d[d] + L->p.pad.lo[d] + L->p.pad.hi[d] != ys->d[d])
            return lerr(net, i, "output shape does not match the pads");
    for (unsigned d = xs->rank; d < NN_MAX_RANK; d++)
        if (L->p.pad.lo[d] || L->p.pad.hi[d]) return lerr(net, i, "pads past the rank");
    return 0;
}

int qcheck_transpose(const qnet *net, const qlayer *L, unsigned i) {
    const nn_shape *xs = &in_t(net, L, 0)->shape, *ys = &out_t(net, L)->shape;
    unsigned r = xs->rank, seen = 0;
    if (ys->rank != r) return lerr(net, i, "ranks differ");
    for (unsigned d = 0; d < r; d++) {
        unsigned p = L->p.perm[d];
        if (p >= r || (seen >> p & 1)) return lerr(net, i, "not a permutation");
        seen |= 1u << p;
        if (ys->d[d] != xs->d[p]) return lerr(net, i, "output shape is not permuted");
    }
    for (unsigned d = r; d < NN_MAX_RANK; d++)
        if (L->p.perm[d]) return lerr(net, i, "permutation entries past the rank");
    return 0;
}

/* Parameters past the rank are zero (one encoding per layer). */
static int zero_past(const uint32_t *v, unsigned r) {
    for (unsigned d = r; d < NN_MAX_RANK; d++)
        if (v[d]) return 0;
    return 1;
}

int qcheck_slice(const qnet *net, const qlayer *L, unsigned i) {
    const nn_shape *xs = &in_t(net, L, 0)->shape, *ys = &out_t(net, L)->shape;
    unsigned r = xs->rank;
    if (ys->rank != r) return lerr(net, i, "ranks differ");
    for (unsigned d = 0; d < r; d++) {
        uint64_t st = L->p.slice.step[d];
        if (st < 1) return lerr(net, i, "a step is zero");
        if (L->p.slice.start[d] + (ys->d[d] - 1) * st >= xs->d[d])
            return lerr(net, i, "the slice leaves the input");
    }
    if (!zero_past(L->p.slice.start, r) || !zero_past(L->p.slice.step, r))
        return lerr(net, i, "slice entries past the rank");
    return 0;
}

/* UPSAMPLE: y = x * f; DILATE: y = (x - 1) * f + 1, in every dimension. */
static int check_factors(const qnet *net, const qlayer *L, unsigned i, int dilate) {
    const nn_shape *xs = &in_t(net, L, 0)->shape, *ys = &out_t(net, L)->shape;
    unsigned r = xs->rank;
    if (ys->rank != r) return lerr(net, i, "ranks differ");
    for (unsigned d = 0; d < r; d++) {
        uint64_t f = L->p.factor[d];
        if (f < 1) return lerr(net, i, "a factor is zero");
        if ((dilate ? (xs->d[d] - 1) * f + 1 : xs->d[d] * f) != ys->d[d])
            return lerr(net, i, "output shape does not match the factors");
    }
    if (!zero_past(L->p.factor, r)) return lerr(net, i, "factors past the rank");
    return 0;
}

int qcheck_upsample(const qnet *net, const qlayer *L, unsigned i) {
    return check_factors(net, L, i, 0);
}

int qcheck_dilate(const qnet *net, const qlayer *L, unsigned i) {
    return check_factors(net, L, i, 1);
}

/* RESIZE_LINEAR: a known mode; per axis a scale num / den (both in
 * 1..2^31 - 1) with out = floor(in * num / den); at most QRESIZE_MAX_AXES
 * axes interpolated (num != den); zeros past the rank. */
int qcheck_resize(const qnet *net, const qlayer *L, unsigned i) {
    const nn_shape *xs = &in_t(net, L, 0)->shape, *ys = &out_t(net, L)->shape;
    const uint32_t *num = L->p.resize.num, *den = L->p.resize.den;
    unsigned r = xs->rank, na = 0;
    if (ys->rank != r) return lerr(net, i, "ranks differ");
    if (L->p.resize.mode >= QRESIZE_MODES_) return lerr(net, i, "unknown coordinate mode");
    for (unsigned d = 0; d < r; d++) {
        if (num[d] < 1 || den[d] < 1 || num[d] > INT32_MAX || den[d] > INT32_MAX)
            return lerr(net, i, "a scale is outside 1..2^31 - 1");
        if ((uint64_t)xs->d[d] * num[d] / den[d] != ys->d[d])
            return lerr(net, i, "output shape does not match the scales");
        na += num[d] != den[d];
        if (num[d] != den[d] &&
            qlocal_resize_q(L->p.resize.mode, num[d], den[d], xs->d[d]) >= QRESIZE_MAX_Q)
            return lerr(net, i, "a coordinate's denominator reaches 2^40");
    }
    if (na > QRESIZE_MAX_AXES) return lerr(net, i, "more than 2 axes interpolated");
    if (!zero_past(num, r) || !zero_past(den, r)) return lerr(net, i, "scales past the rank");
    return 0;
}

int qcheck_argmax(const qnet *net, const qlayer *L, unsigned i) {
    const nn_shape *xs = &in_t(net, L, 0)->shape;
    unsigned a = L->p.argmax.axis, r = xs->rank;
    if (r < 1 || a >= r || L->p.argmax.keepdims > 1) return lerr(net, i, "bad axis");
    nn_shape e = *xs;
    if (L->p.argmax.keepdims) {
        e.d[a] = 1;
    } else {
        for (unsigned d = a; d + 1 < r; d++)
            e.d[d] = e.d[d + 1];
        e.rank--;
    }
    if (!nn_shape_eq(&e, &out_t(net, L)->shape)) return lerr(net, i, "output shape does not match");
    if ((uint64_t)xs->d[a] > bits_mask(net->l - 1)) return lerr(net, i, "too many classes");
    return 0;
}

int qcheck_const(const qnet *net, const qlayer *L, unsigned i) {
    if (out_t(net, L)->scale != net->s) return lerr(net, i, "a constant must be at scale s");
    return 0;
}

/* lerr with the last error's message (copied: lerr writes the same
 * buffer). */
static int lerr_last(const qnet *net, unsigned i) {
    char why[256];
    snprintf(why, sizeof why, "%s", err_msg());
    return lerr(net, i, why);
}

/* An activation: same shape as its input, its constants well formed at l
 * and of its kind, alpha at scale s. */
int qcheck_act(const qnet *net, const qlayer *L, unsigned i) {
    const nl_actp *a = &L->p.act;
    if (!nn_shape_eq(&in_t(net, L, 0)->shape, &out_t(net, L)->shape))
        return lerr(net, i, "output shape differs");
    if (a->op != qkind_of(L->op)->act) return lerr(net, i, "activation of another kind");
    if (a->shift != (a->op == NL_ACT_CLIP ? 0 : net->s)) return lerr(net, i, "slope not at scale s");
    if (nl_act_check(a, net->l) < 0) return lerr_last(net, i);
    return 0;
}

/* HardSwish: a clip from 0 to a positive bound (nl/act2.h). */
int qcheck_hswish(const qnet *net, const qlayer *L, unsigned i) {
    TRY(qcheck_act(net, L, i));
    if (nl_hswish_check(&L->p.act, net->l) < 0) return lerr_last(net, i);
    return 0;
}

/* A product: the operands broadcast to the output's shape, both at the
 * output's scale, which is the shift (the product's 2sc back to sc). */
int qcheck_mul(const qnet *net, const qlayer *L, unsigned i) {
    const qtensor *X = in_t(net, L, 0), *X1 = in_t(net, L, 1), *Y = out_t(net, L);
    nn_shape b;
    if (nn_shape_broadcast(&b, &X->shape, &X1->shape) < 0 || !nn_shape_eq(&b, &Y->shape))
        return lerr(net, i, "operand shapes do not broadcast to the output's");
    if (X1->scale != X->scale) return lerr(net, i, "operand scales differ");
    if (L->p.shift != X->scale || L->p.shift >= net->l)
        return lerr(net, i, "the shift is not the operands' scale");
    return 0;
}

/* Sigmoid, Tanh, Exp: at the input's scale, which their tables fit. */
int qcheck_table(const qnet *net, const qlayer *L, unsigned i) {
    if (L->p.shift != in_t(net, L, 0)->scale) return lerr(net, i, "the scale is not the input's");
    int rc = L->op == QOP_TANH  ? nl_tanh_check(net->l, L->p.shift)
             : L->op == QOP_EXP ? nl_exp_check(net->l, L->p.shift)
                                : nl_sigmoid_check(net->l, L->p.shift);
    if (rc < 0) return lerr_last(net, i);
    return 0;
}

/* Softmax: the same shape, an axis of it, at the input's scale, whose row
 * length the reciprocal's domain fits. */
int qcheck_softmax(const qnet *net, const qlayer *L, unsigned i) {
    const nn_shape *xs = &in_t(net, L, 0)->shape;
    if (!nn_shape_eq(xs, &out_t(net, L)->shape)) return lerr(net, i, "output shape differs");
    if (L->p.softmax.axis >= xs->rank || L->p.softmax.flat > 1) return lerr(net, i, "bad axis");
    if (L->p.softmax.shift != in_t(net, L, 0)->scale)
        return lerr(net, i, "the scale is not the input's");
    size_t outer, cols, inner;
    qkind_softmax_geom(xs, &L->p, &outer, &cols, &inner);
    if (nl_softmax_check(cols, net->l, L->p.softmax.shift) < 0) return lerr_last(net, i);
    return 0;
}

/* ---- the rules every layer shares ---- */

/* The output scale the kind's rule gives. */
static int check_scale(const qnet *net, const qlayer *L, const qkind *k, unsigned i) {
    const qtensor *Y = out_t(net, L), *X = L->nin ? in_t(net, L, 0) : Y;
    unsigned s = net->s;
    switch (k->scale) {
    case QS_DOUBLE:
        if (X->scale != s || Y->scale != 2 * s) return lerr(net, i, "scales must be s -> 2s");
        return 0;
    case QS_DOWN:
        if (L->p.shift > X->scale || Y->scale != X->scale - L->p.shift)
            return lerr(net, i, "shift does not match the scales");
        return 0;
    case QS_UP:
        if (L->p.shift >= net->l || Y->scale != X->scale + L->p.shift || Y->scale > 2 * s)
            return lerr(net, i, "shift does not match the scales");
        return 0;
    case QS_INDEX:
        if (Y->scale != 0) return lerr(net, i, "indices must have scale 0");
        return 0;
    default:
        if (Y->scale != X->scale) return lerr(net, i, "output scale differs from the input's");
        return 0;
    }
}

static int weights_ok(const qnet *net, const uint64_t *v, size_t n) {
    if (!v) return 0;
    uint64_t mask = bits_mask(net->l);
    for (size_t i = 0; i < n; i++)
        if (v[i] & ~mask) return 0;
    return 1;
}

/* The private arrays: their sizes bound what a layer may ask of the other
 * party's memory; with weights, present, reduced, and within wbits. */
static int check_private(const qnet *net, const qlayer *L, const qkind *k, unsigned i) {
    size_t nw, nb;
    qkind_private(k, &L->p, out_t(net, L)->size, &nw, &nb);
    if (k->cls == QK_LINEAR) {
        lin_shape s = qlayer_lin(L);
        if (lin_wbits(&s) > net->l) return lerr(net, i, "weight width exceeds l");
    }
    if (nw > NN_MAX_ELEMS) return lerr(net, i, "too many weights");
    if (!net->has_weights) return 0;
    if (nw && !weights_ok(net, L->w, nw)) return lerr(net, i, "weights missing or not mod 2^l");
    if (nb && !weights_ok(net, L->b, nb)) return lerr(net, i, "biases missing or not mod 2^l");
    if (k->priv == QW_LINEAR) {
        lin_shape s = qlayer_lin(L);
        size_t bad;
        if (!lin_weights_fit(&s, L->w, net->l, &bad))
            return lerr(net, i, "weights wider than the declared wbits");
    }
    return 0;
}

static int check_layer(qnet *net, unsigned i) {
    qlayer *L = &net->layers[i];
    const qkind *k = qkind_find(L->op);
    if (!k) return lerr(net, i, "unknown layer kind");
    if (!name_ok(L->name)) return lerr(net, i, "bad name");
    if (L->nin < k->nin_min || L->nin > k->nin_max) return lerr(net, i, "wrong number of inputs");
    if (L->nin && !L->in) return lerr(net, i, "no inputs");
    if (L->out >= net->ntensors) return lerr(net, i, "output index out of range");
    for (unsigned j = 0; j < L->nin; j++) {
        unsigned t = L->in[j];
        if (t >= net->ntensors) return lerr(net, i, "input index out of range");
        if (t != net->input && (net->t[t].producer < 0 || net->t[t].producer >= (int)i))
            return lerr(net, i, "reads a tensor that is not computed before it");
        if (t == L->out) return lerr(net, i, "reads its own output");
    }
    if (L->out == net->input || net->t[L->out].producer >= 0)
        return lerr(net, i, "writes a tensor computed elsewhere");
    net->t[L->out].producer = (int)i;
    if (k->check) {
        TRY(k->check(net, L, i));
    } else if (!nn_shape_eq(&in_t(net, L, 0)->shape, &out_t(net, L)->shape)) {
        return lerr(net, i, "output shape differs");
    }
    TRY(check_scale(net, L, k, i));
    return check_private(net, L, k, i);
}

int qnet_check(qnet *net) {
    if (quant_check_ls(net->l, net->s) < 0) return err_wrap(PARLEY_E_FORMAT, "the model's (l, s)");
    if (net->ntensors < 1 || net->ntensors > QNET_MAX_TENSORS || net->nlayers > QNET_MAX_LAYERS)
        return err_set(PARLEY_E_FORMAT, "bad tensor or layer count");
    if (net->input >= net->ntensors || net->output >= net->ntensors)
        return err_set(PARLEY_E_FORMAT, "input or output index out of range");
    uint64_t total = 0;
    for (unsigned i = 0; i < net->ntensors; i++) {
        qtensor *T = &net->t[i];
        if (!name_ok(T->name)) return err_set(PARLEY_E_FORMAT, "tensor %u: bad name", i);
        size_t n;
        if (nn_shape_check(&n, &T->shape) < 0) return err_wrap(PARLEY_E_FORMAT, "tensor %u", i);
        if (T->size != n) return err_set(PARLEY_E_FORMAT, "tensor %u: size does not match", i);
        if (T->scale > 2 * net->s) return err_set(PARLEY_E_FORMAT, "tensor %u: scale above 2s", i);
        total += n;
        if (total > QNET_MAX_TOTAL_ELEMS)
            return err_set(PARLEY_E_FORMAT, "tensors hold more than %llu elements in all",
                           (unsigned long long)QNET_MAX_TOTAL_ELEMS);
        T->producer = -1;
        T->last_use = -1;
    }
    if (net->t[net->input].scale != net->s)
        return err_set(PARLEY_E_FORMAT, "the input is not at scale s");
    for (unsigned i = 0; i < net->nlayers; i++)
        TRY(check_layer(net, i));
    for (unsigned i = 0; i < net->ntensors; i++)
        if (i != net->input && net->t[i].producer < 0)
            return err_set(PARLEY_E_FORMAT, "tensor %u (%s) is never computed", i, net->t[i].name);
    for (unsigned i = 0; i < net->nlayers; i++)
        for (unsigned k = 0; k < net->layers[i].nin; k++)
            net->t[net->layers[i].in[k]].last_use = (int)i;
    return 0;
}
