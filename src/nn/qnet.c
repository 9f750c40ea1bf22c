/* The quantized network: validation, costs, data movement and buffers; see
 * qnet.h. qnet_check is the one place that decides whether a net is well
 * formed: the quantizer runs it on what it built, and the public-model
 * decoder runs it on what came from the peer. */
#include "nn/qnet.h"

#include "util/bits.h"
#include "util/mem.h"

#include <math.h>
#include <string.h>

static const char *const qop_names[QOP_END_] = {
    [QOP_CONV] = "conv",       [QOP_FC] = "fc",
    [QOP_SCALE] = "scale",     [QOP_TRUNC] = "trunc",
    [QOP_RELU] = "relu",       [QOP_RELU_TRUNC] = "relu_trunc",
    [QOP_MAXPOOL] = "maxpool", [QOP_AVGPOOL] = "avgpool",
    [QOP_ADD] = "add",         [QOP_ADDC] = "addc",
    [QOP_CONCAT] = "concat",   [QOP_RESHAPE] = "reshape",
    [QOP_PAD] = "pad",         [QOP_TRANSPOSE] = "transpose",
    [QOP_ARGMAX] = "argmax",   [QOP_CONST] = "const", [QOP_SHL] = "shl",
};

const char *qop_name(qop op) {
    return op > 0 && op < QOP_END_ && qop_names[op] ? qop_names[op] : "?";
}

int qop_is_linear(qop op) {
    return op == QOP_CONV || op == QOP_FC || op == QOP_SCALE;
}

void qnet_free(qnet *net) {
    if (!net) return;
    for (unsigned i = 0; i < net->ntensors && net->t; i++)
        mem_free(net->t[i].name);
    for (unsigned i = 0; i < net->nlayers && net->layers; i++) {
        qlayer *L = &net->layers[i];
        mem_free(L->name);
        mem_free(L->in);
        /* Weights are the server's secret. */
        if (L->w) mem_free_wipe(L->w, qlayer_weight_count(net, L) * sizeof(uint64_t));
        if (L->b) mem_free_wipe(L->b, qlayer_bias_count(net, L) * sizeof(uint64_t));
    }
    mem_free(net->t);
    mem_free(net->layers);
    mem_free(net);
}

size_t qlayer_weight_count(const qnet *net, const qlayer *L) {
    switch (L->op) {
    case QOP_CONV:
        return lin_conv_weight_size(&L->p.conv);
    case QOP_FC:
        return (size_t)L->p.fc.O * L->p.fc.K;
    case QOP_SCALE:
        return L->p.scale.C;
    case QOP_ADDC:
    case QOP_CONST:
        return net->t[L->out].size;
    default:
        return 0;
    }
}

size_t qlayer_bias_count(const qnet *net, const qlayer *L) {
    (void)net;
    switch (L->op) {
    case QOP_CONV:
        return L->p.conv.O;
    case QOP_FC:
        return L->p.fc.O;
    case QOP_SCALE:
        return L->p.scale.C;
    default:
        return 0;
    }
}

/* ---- validation ---------------------------------------------------------- */

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

/* The N x C x H x W view of a rank-4 tensor, or N x C x 1 x W of rank 3. */
static int nchw(const nn_shape *s, unsigned *n, unsigned *c, unsigned *h, unsigned *w) {
    if (s->rank == 4) {
        *n = s->d[0], *c = s->d[1], *h = s->d[2], *w = s->d[3];
        return 1;
    }
    if (s->rank == 3) {
        *n = s->d[0], *c = s->d[1], *h = 1, *w = s->d[2];
        return 1;
    }
    return 0;
}

static int shape_is_nchw(const nn_shape *s, unsigned rank, unsigned n, unsigned c, unsigned h,
                         unsigned w) {
    if (s->rank != rank) return 0;
    if (rank == 4) return s->d[0] == n && s->d[1] == c && s->d[2] == h && s->d[3] == w;
    return h == 1 && s->d[0] == n && s->d[1] == c && s->d[2] == w;
}

static int weights_ok(const qnet *net, const qlayer *L, const uint64_t *v, size_t n) {
    if (!v) return 0;
    uint64_t mask = bits_mask(net->l);
    for (size_t i = 0; i < n; i++)
        if (v[i] & ~mask) return 0;
    return 1;
}

static int check_layer(qnet *net, unsigned i) {
    qlayer *L = &net->layers[i];
    if (L->op <= 0 || L->op >= QOP_END_) return lerr(net, i, "unknown layer kind");
    if (!name_ok(L->name)) return lerr(net, i, "bad name");
    unsigned want = L->op == QOP_ADD ? 2 : L->op == QOP_CONST ? 0 : 1;
    if (L->op == QOP_CONCAT ? (L->nin < 1 || L->nin > QNET_MAX_INPUTS) : L->nin != want)
        return lerr(net, i, "wrong number of inputs");
    if (L->nin && !L->in) return lerr(net, i, "no inputs");
    if (L->out >= net->ntensors) return lerr(net, i, "output index out of range");
    for (unsigned k = 0; k < L->nin; k++) {
        unsigned t = L->in[k];
        if (t >= net->ntensors) return lerr(net, i, "input index out of range");
        if (t != net->input && (net->t[t].producer < 0 || net->t[t].producer >= (int)i))
            return lerr(net, i, "reads a tensor that is not computed before it");
        if (t == L->out) return lerr(net, i, "reads its own output");
    }
    if (L->out == net->input || net->t[L->out].producer >= 0)
        return lerr(net, i, "writes a tensor computed elsewhere");
    net->t[L->out].producer = (int)i;

    const qtensor *Y = &net->t[L->out], *X = L->nin ? &net->t[L->in[0]] : Y;
    unsigned s = net->s, l = net->l;
    unsigned n, c, h, w;
    switch (L->op) {
    case QOP_CONST:
        if (Y->scale != s) return lerr(net, i, "a constant must be at scale s");
        break;
    case QOP_CONV: {
        lin_conv cv = L->p.conv;
        if (!nchw(&X->shape, &n, &c, &h, &w)) return lerr(net, i, "input is not N x C x (H x) W");
        if (cv.N != n || cv.C != c || cv.H != h || cv.W != w)
            return lerr(net, i, "shape does not match the input");
        if (X->shape.rank == 3 && (cv.kh != 1 || cv.pt || cv.pb))
            return lerr(net, i, "a 1-D convolution has a 2-D window");
        if (lin_conv_check(&cv) < 0) return err_wrap(PARLEY_E_FORMAT, "layer %u", i);
        if (cv.OH != L->p.conv.OH || cv.OW != L->p.conv.OW)
            return lerr(net, i, "output size does not match the window");
        if (!shape_is_nchw(&Y->shape, X->shape.rank, n, cv.O, cv.OH, cv.OW))
            return lerr(net, i, "output shape does not match the layer");
        if (cv.wbits > l) return lerr(net, i, "weight width exceeds l");
        break;
    }
    case QOP_FC: {
        const lin_fc *f = &L->p.fc;
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
        if (f->wbits > l) return lerr(net, i, "weight width exceeds l");
        break;
    }
    case QOP_SCALE: {
        const lin_scale *sc = &L->p.scale;
        if (X->shape.rank < 2) return lerr(net, i, "input has no channel dimension");
        if (sc->N != X->shape.d[0] || sc->C != X->shape.d[1] || sc->S != prod(&X->shape, 2, 8))
            return lerr(net, i, "shape does not match the input");
        if (lin_scale_check(sc) < 0) return err_wrap(PARLEY_E_FORMAT, "layer %u", i);
        if (!nn_shape_eq(&X->shape, &Y->shape)) return lerr(net, i, "output shape differs");
        if (sc->wbits > l) return lerr(net, i, "weight width exceeds l");
        break;
    }
    case QOP_TRUNC:
    case QOP_RELU_TRUNC:
        if (L->p.shift > X->scale || Y->scale != X->scale - L->p.shift)
            return lerr(net, i, "shift does not match the scales");
        if (!nn_shape_eq(&X->shape, &Y->shape)) return lerr(net, i, "output shape differs");
        break;
    case QOP_SHL:
        if (L->p.shift >= l || Y->scale != X->scale + L->p.shift || Y->scale > 2 * s)
            return lerr(net, i, "shift does not match the scales");
        if (!nn_shape_eq(&X->shape, &Y->shape)) return lerr(net, i, "output shape differs");
        break;
    case QOP_RELU:
    case QOP_ADDC:
        if (!nn_shape_eq(&X->shape, &Y->shape)) return lerr(net, i, "output shape differs");
        break;
    case QOP_MAXPOOL:
    case QOP_AVGPOOL: {
        nl_pool p = L->p.pool;
        if (!nchw(&X->shape, &n, &c, &h, &w)) return lerr(net, i, "input is not N x C x (H x) W");
        if (p.N != n || p.C != c || p.H != h || p.W != w)
            return lerr(net, i, "shape does not match the input");
        if (X->shape.rank == 3 && (p.kh != 1 || p.pt || p.pb || p.dh != 1 || p.sh != 1))
            return lerr(net, i, "a 1-D pool has a 2-D window");
        if (nl_pool_check(&p) < 0) return err_wrap(PARLEY_E_FORMAT, "layer %u", i);
        if (p.OH != L->p.pool.OH || p.OW != L->p.pool.OW)
            return lerr(net, i, "output size does not match the window");
        if (!shape_is_nchw(&Y->shape, X->shape.rank, n, c, p.OH, p.OW))
            return lerr(net, i, "output shape does not match the layer");
        /* Division by the window size on shares needs 2^l > 6d. */
        if (L->op == QOP_AVGPOOL && (unsigned __int128)p.kh * p.kw * 6 >= (unsigned __int128)1 << l)
            return lerr(net, i, "window too large for division in the ring (need 2^l > 6d)");
        break;
    }
    case QOP_ADD: {
        const qtensor *X1 = &net->t[L->in[1]];
        if (!nn_shape_eq(&X->shape, &Y->shape) || !nn_shape_eq(&X1->shape, &Y->shape))
            return lerr(net, i, "operand shapes differ");
        if (X1->scale != X->scale) return lerr(net, i, "operand scales differ");
        break;
    }
    case QOP_CONCAT: {
        unsigned a = L->p.axis, r = Y->shape.rank;
        if (a >= r) return lerr(net, i, "axis out of range");
        uint64_t sum = 0;
        for (unsigned k = 0; k < L->nin; k++) {
            const qtensor *Xk = &net->t[L->in[k]];
            if (Xk->shape.rank != r || Xk->scale != Y->scale)
                return lerr(net, i, "operands differ in rank or scale");
            for (unsigned d = 0; d < r; d++)
                if (d != a && Xk->shape.d[d] != Y->shape.d[d])
                    return lerr(net, i, "operand shapes differ off the axis");
            sum += Xk->shape.d[a];
        }
        if (sum != Y->shape.d[a]) return lerr(net, i, "output size along the axis is not the sum");
        break;
    }
    case QOP_RESHAPE:
        if (X->size != Y->size) return lerr(net, i, "element counts differ");
        break;
    case QOP_PAD:
        if (X->shape.rank != Y->shape.rank) return lerr(net, i, "ranks differ");
        for (unsigned d = 0; d < X->shape.rank; d++)
            if ((uint64_t)X->shape.d[d] + L->p.pad.lo[d] + L->p.pad.hi[d] != Y->shape.d[d])
                return lerr(net, i, "output shape does not match the pads");
        for (unsigned d = X->shape.rank; d < NN_MAX_RANK; d++)
            if (L->p.pad.lo[d] || L->p.pad.hi[d]) return lerr(net, i, "pads past the rank");
        break;
    case QOP_TRANSPOSE: {
        unsigned r = X->shape.rank, seen = 0;
        if (Y->shape.rank != r) return lerr(net, i, "ranks differ");
        for (unsigned d = 0; d < r; d++) {
            unsigned p = L->p.perm[d];
            if (p >= r || (seen >> p & 1)) return lerr(net, i, "not a permutation");
            seen |= 1u << p;
            if (Y->shape.d[d] != X->shape.d[p]) return lerr(net, i, "output shape is not permuted");
        }
        for (unsigned d = r; d < NN_MAX_RANK; d++)
            if (L->p.perm[d]) return lerr(net, i, "permutation entries past the rank");
        break;
    }
    case QOP_ARGMAX: {
        unsigned a = L->p.argmax.axis, r = X->shape.rank;
        if (r < 1 || a >= r || L->p.argmax.keepdims > 1) return lerr(net, i, "bad axis");
        nn_shape e = X->shape;
        if (L->p.argmax.keepdims) {
            e.d[a] = 1;
        } else {
            for (unsigned d = a; d + 1 < r; d++)
                e.d[d] = e.d[d + 1];
            e.rank--;
        }
        if (!nn_shape_eq(&e, &Y->shape)) return lerr(net, i, "output shape does not match");
        if (Y->scale != 0) return lerr(net, i, "indices must have scale 0");
        if ((uint64_t)X->shape.d[a] > bits_mask(l - 1)) return lerr(net, i, "too many classes");
        break;
    }
    default:
        break;
    }
    /* Scales: linear layers take s and give 2s; the rest keep theirs. */
    if (qop_is_linear(L->op)) {
        if (X->scale != s || Y->scale != 2 * s) return lerr(net, i, "scales must be s -> 2s");
    } else if (L->op != QOP_TRUNC && L->op != QOP_RELU_TRUNC && L->op != QOP_ARGMAX &&
               L->op != QOP_SHL) {
        if (Y->scale != X->scale) return lerr(net, i, "output scale differs from the input's");
    }
    /* Bound what a layer may ask of the other party's memory and time. */
    if (qlayer_weight_count(net, L) > NN_MAX_ELEMS) return lerr(net, i, "too many weights");
    if (L->op == QOP_CONV && lin_conv_macs(&L->p.conv) > QNET_MAX_LAYER_MACS)
        return lerr(net, i, "too many multiply-accumulates");
    if (L->op == QOP_FC && (uint64_t)L->p.fc.N * L->p.fc.K * L->p.fc.O > QNET_MAX_LAYER_MACS)
        return lerr(net, i, "too many multiply-accumulates");
    if (net->has_weights) {
        size_t nw = qlayer_weight_count(net, L), nb = qlayer_bias_count(net, L);
        if (nw && !weights_ok(net, L, L->w, nw))
            return lerr(net, i, "weights missing or not mod 2^l");
        if (nb && !weights_ok(net, L, L->b, nb))
            return lerr(net, i, "biases missing or not mod 2^l");
        unsigned wb = L->op == QOP_CONV    ? L->p.conv.wbits
                      : L->op == QOP_FC    ? L->p.fc.wbits
                      : L->op == QOP_SCALE ? L->p.scale.wbits
                                           : 0;
        if (wb && lin_weight_bits(L->w, nw, l) > wb)
            return lerr(net, i, "weights wider than the declared wbits");
    }
    return 0;
}

int qnet_check(qnet *net) {
    if (net->l < 8 || net->l > 64)
        return err_set(PARLEY_E_FORMAT, "ring width l = %u outside 8..64", net->l);
    if (2 * net->s + 2 > net->l)
        return err_set(PARLEY_E_FORMAT,
                       "scale s = %u leaves no head-room in l = %u bits (need 2s + 2 <= l)", net->s,
                       net->l);
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

/* ---- costs --------------------------------------------------------------- */

void qnet_stats_get(qnet_stats *st, const qnet *net) {
    memset(st, 0, sizeof *st);
    uint64_t live = net->t[net->input].size;
    st->peak_elems = live;
    for (unsigned i = 0; i < net->nlayers; i++) {
        const qlayer *L = &net->layers[i];
        const qtensor *Y = &net->t[L->out], *X = L->nin ? &net->t[L->in[0]] : Y;
        st->weights += qlayer_weight_count(net, L) + qlayer_bias_count(net, L);
        switch (L->op) {
        case QOP_CONV:
            st->macs += lin_conv_macs(&L->p.conv);
            break;
        case QOP_FC:
            st->macs += (uint64_t)L->p.fc.N * L->p.fc.K * L->p.fc.O;
            break;
        case QOP_SCALE:
            st->macs += Y->size;
            break;
        case QOP_RELU:
            st->relus += Y->size;
            break;
        case QOP_RELU_TRUNC:
            st->relus += Y->size;
            st->truncs += Y->size;
            break;
        case QOP_TRUNC:
            st->truncs += Y->size;
            break;
        case QOP_MAXPOOL: {
            const nl_pool *p = &L->p.pool;
            for (unsigned a = 0; a < p->OH; a++)
                for (unsigned b = 0; b < p->OW; b++) {
                    unsigned a0, a1, b0, b1;
                    nl_pool_window(p, a, b, &a0, &a1, &b0, &b1);
                    st->pool_cmps += ((uint64_t)(a1 - a0) * (b1 - b0) - 1) * p->N * p->C;
                }
            break;
        }
        case QOP_AVGPOOL:
            st->divisions += Y->size;
            break;
        case QOP_ARGMAX:
            st->argmax_cmps += X->size - Y->size;
            break;
        default:
            break;
        }
        live += Y->size;
        if (live > st->peak_elems) st->peak_elems = live;
        for (unsigned k = 0; k < L->nin; k++) {
            unsigned t = L->in[k];
            int dup = 0;
            for (unsigned j = 0; j < k; j++)
                dup |= L->in[j] == t;
            if (!dup && net->t[t].last_use == (int)i && t != net->output) live -= net->t[t].size;
        }
        if (Y->last_use < 0 && L->out != net->output) live -= Y->size;
    }
}

void qnet_dump(FILE *f, const qnet *net) {
    char a[128], b[128];
    fprintf(f, "l = %u, s = %u; input %s %s\n", net->l, net->s, net->t[net->input].name,
            nn_shape_str(a, sizeof a, &net->t[net->input].shape));
    for (unsigned i = 0; i < net->nlayers; i++) {
        const qlayer *L = &net->layers[i];
        const qtensor *Y = &net->t[L->out];
        fprintf(f, "%4u %-10s %-28.28s %s@%u -> %s@%u", i, qop_name(L->op), L->name,
                L->nin ? nn_shape_str(a, sizeof a, &net->t[L->in[0]].shape) : "-",
                L->nin ? net->t[L->in[0]].scale : 0, nn_shape_str(b, sizeof b, &Y->shape),
                Y->scale);
        if (L->nin > 1) fprintf(f, " (+%u inputs)", L->nin - 1);
        switch (L->op) {
        case QOP_CONV: {
            const lin_conv *c = &L->p.conv;
            fprintf(f, "  k %ux%u s %ux%u p %u,%u,%u,%u d %ux%u g %u wbits %u", c->kh, c->kw, c->sh,
                    c->sw, c->pt, c->pl, c->pb, c->pr, c->dh, c->dw, c->groups, c->wbits);
            break;
        }
        case QOP_FC:
            fprintf(f, "  wbits %u", L->p.fc.wbits);
            break;
        case QOP_SCALE:
            fprintf(f, "  wbits %u", L->p.scale.wbits);
            break;
        case QOP_MAXPOOL:
        case QOP_AVGPOOL: {
            const nl_pool *p = &L->p.pool;
            fprintf(f, "  k %ux%u s %ux%u p %u,%u,%u,%u d %ux%u%s%s", p->kh, p->kw, p->sh, p->sw,
                    p->pt, p->pl, p->pb, p->pr, p->dh, p->dw, p->ceil_mode ? " ceil" : "",
                    p->count_include_pad ? " count_pad" : "");
            break;
        }
        case QOP_TRUNC:
        case QOP_RELU_TRUNC:
            fprintf(f, "  >> %u", L->p.shift);
            break;
        case QOP_SHL:
            fprintf(f, "  << %u", L->p.shift);
            break;
        case QOP_CONCAT:
            fprintf(f, "  axis %u", L->p.axis);
            break;
        case QOP_ARGMAX:
            fprintf(f, "  axis %u", L->p.argmax.axis);
            break;
        default:
            break;
        }
        fprintf(f, "\n");
    }
}

/* ---- data movement and local arithmetic ---------------------------------- */

static void strides(size_t *st, const nn_shape *s) {
    size_t acc = 1;
    for (unsigned d = s->rank; d-- > 0;) {
        st[d] = acc;
        acc *= s->d[d];
    }
}

static void move_concat(const qnet *net, const qlayer *L, uint64_t *y, const uint64_t *const *x) {
    const nn_shape *ys = &net->t[L->out].shape;
    unsigned a = L->p.axis;
    size_t outer = prod(ys, 0, a), inner = prod(ys, a + 1, ys->rank);
    size_t at = 0;
    for (size_t o = 0; o < outer; o++)
        for (unsigned k = 0; k < L->nin; k++) {
            size_t len = net->t[L->in[k]].shape.d[a] * inner;
            memcpy(y + at, x[k] + o * len, len * sizeof *y);
            at += len;
        }
}

static void move_pad(const qnet *net, const qlayer *L, uint64_t *y, const uint64_t *x) {
    const nn_shape *xs = &net->t[L->in[0]].shape, *ys = &net->t[L->out].shape;
    memset(y, 0, net->t[L->out].size * sizeof *y);
    unsigned r = xs->rank;
    if (r == 0) {
        y[0] = x[0];
        return;
    }
    size_t yst[NN_MAX_RANK];
    strides(yst, ys);
    size_t rows = prod(xs, 0, r - 1), len = xs->d[r - 1];
    uint32_t idx[NN_MAX_RANK] = {0};
    for (size_t row = 0; row < rows; row++) {
        size_t off = L->p.pad.lo[r - 1];
        for (unsigned d = 0; d + 1 < r; d++)
            off += (idx[d] + L->p.pad.lo[d]) * yst[d];
        memcpy(y + off, x + row * len, len * sizeof *y);
        for (unsigned d = r - 1; d-- > 0;) { /* odometer over the leading dims */
            if (++idx[d] < xs->d[d]) break;
            idx[d] = 0;
        }
    }
}

static void move_transpose(const qnet *net, const qlayer *L, uint64_t *y, const uint64_t *x) {
    const nn_shape *xs = &net->t[L->in[0]].shape, *ys = &net->t[L->out].shape;
    unsigned r = ys->rank;
    size_t xst[NN_MAX_RANK], step[NN_MAX_RANK];
    strides(xst, xs);
    for (unsigned d = 0; d < r; d++)
        step[d] = xst[L->p.perm[d]];
    uint32_t idx[NN_MAX_RANK] = {0};
    size_t n = net->t[L->out].size, off = 0;
    for (size_t i = 0; i < n; i++) {
        y[i] = x[off];
        for (unsigned d = r; d-- > 0;) {
            off += step[d];
            if (++idx[d] < ys->d[d]) break;
            off -= step[d] * ys->d[d];
            idx[d] = 0;
        }
    }
}

void qnet_move(const qnet *net, const qlayer *L, uint64_t *y, const uint64_t *const *x) {
    switch (L->op) {
    case QOP_RESHAPE:
        memcpy(y, x[0], net->t[L->out].size * sizeof *y);
        break;
    case QOP_CONCAT:
        move_concat(net, L, y, x);
        break;
    case QOP_PAD:
        move_pad(net, L, y, x[0]);
        break;
    case QOP_TRANSPOSE:
        move_transpose(net, L, y, x[0]);
        break;
    default:
        PARLEY_CHECK(!"qnet_move: not a data-movement layer");
    }
}

void qnet_shl(const qnet *net, const qlayer *L, uint64_t *y, const uint64_t *x) {
    uint64_t mask = bits_mask(net->l);
    size_t n = net->t[L->out].size;
    for (size_t i = 0; i < n; i++) y[i] = (x[i] << L->p.shift) & mask;
}

void qnet_add(const qnet *net, const qlayer *L, uint64_t *y, const uint64_t *x0,
              const uint64_t *x1) {
    uint64_t mask = bits_mask(net->l);
    size_t n = net->t[L->out].size;
    for (size_t i = 0; i < n; i++)
        y[i] = (x0[i] + x1[i]) & mask;
}

void qnet_add_private(const qnet *net, const qlayer *L, uint64_t *y) {
    uint64_t mask = bits_mask(net->l);
    size_t n = net->t[L->out].size, per, nch;
    switch (L->op) {
    case QOP_CONV:
        nch = L->p.conv.O;
        per = (size_t)L->p.conv.OH * L->p.conv.OW;
        break;
    case QOP_FC:
        nch = L->p.fc.O;
        per = 1;
        break;
    case QOP_SCALE:
        nch = L->p.scale.C;
        per = L->p.scale.S;
        break;
    case QOP_ADDC:
    case QOP_CONST:
        for (size_t i = 0; i < n; i++)
            y[i] = (y[i] + L->w[i]) & mask;
        return;
    default:
        PARLEY_CHECK(!"qnet_add_private: layer has no private addend");
    }
    PARLEY_CHECK(L->b);
    /* Output is rows of nch channels of per elements (FC: per = 1). */
    for (size_t i = 0; i < n; i++)
        y[i] = (y[i] + L->b[(i / per) % nch]) & mask;
}

void qnet_argmax_geom(const qnet *net, const qlayer *L, size_t *outer, size_t *cols,
                      size_t *inner) {
    const nn_shape *xs = &net->t[L->in[0]].shape;
    unsigned a = L->p.argmax.axis;
    *outer = prod(xs, 0, a);
    *cols = xs->d[a];
    *inner = prod(xs, a + 1, xs->rank);
}

/* ---- encoding ------------------------------------------------------------ */

int qnet_encode_input(const qnet *net, uint64_t *x, const nn_tensor *in) {
    const qtensor *T = &net->t[net->input];
    char a[128], b[128];
    if (!nn_shape_eq(&in->shape, &T->shape))
        return err_set(PARLEY_E_ARG, "input shape %s does not match the model's input %s",
                       nn_shape_str(a, sizeof a, &in->shape), nn_shape_str(b, sizeof b, &T->shape));
    double lim = ldexp(1.0, (int)net->l - 1), sc = ldexp(1.0, (int)T->scale);
    uint64_t mask = bits_mask(net->l);
    for (size_t i = 0; i < T->size; i++) {
        double v = round((double)in->data[i] * sc);
        if (!isfinite(v) || v >= lim || v < -lim)
            return err_set(PARLEY_E_ARG,
                           "input element %zu is not finite or does not fit in l = %u bits at "
                           "scale %u",
                           i, net->l, T->scale);
        x[i] = (uint64_t)(int64_t)v & mask;
    }
    return 0;
}

void qnet_decode(const qnet *net, float *y, unsigned t, const uint64_t *v) {
    const qtensor *T = &net->t[t];
    double sc = ldexp(1.0, -(int)T->scale);
    for (size_t i = 0; i < T->size; i++)
        y[i] = (float)((double)bits_signed(v[i], net->l) * sc);
}

/* ---- buffers ------------------------------------------------------------- */

int qstore_init(qstore *st, const qnet *net) {
    memset(st, 0, sizeof *st);
    st->net = net;
    st->buf = mem_calloc(net->ntensors, sizeof *st->buf);
    return st->buf ? 0 : PARLEY_E_NOMEM;
}

int qstore_out(qstore *st, uint64_t **buf, unsigned t) {
    PARLEY_CHECK(t < st->net->ntensors);
    if (!st->buf[t]) {
        st->buf[t] = mem_alloc(st->net->t[t].size, sizeof(uint64_t));
        if (!st->buf[t]) return PARLEY_E_NOMEM;
        st->live += st->net->t[t].size;
        if (st->live > st->peak) st->peak = st->live;
    }
    *buf = st->buf[t];
    return 0;
}

static void release(qstore *st, unsigned t) {
    if (!st->buf[t]) return;
    mem_free_wipe(st->buf[t], st->net->t[t].size * sizeof(uint64_t));
    st->buf[t] = NULL;
    st->live -= st->net->t[t].size;
}

void qstore_done(qstore *st, unsigned layer) {
    const qnet *net = st->net;
    const qlayer *L = &net->layers[layer];
    for (unsigned k = 0; k < L->nin; k++)
        if (net->t[L->in[k]].last_use == (int)layer && L->in[k] != net->output)
            release(st, L->in[k]);
    if (net->t[L->out].last_use < 0 && L->out != net->output) release(st, L->out);
}

uint64_t *qstore_take(qstore *st, unsigned t) {
    uint64_t *b = st->buf[t];
    if (b) st->live -= st->net->t[t].size;
    st->buf[t] = NULL;
    return b;
}

void qstore_free(qstore *st) {
    if (!st->buf) return;
    for (unsigned t = 0; t < st->net->ntensors; t++)
        release(st, t);
    mem_free(st->buf);
    st->buf = NULL;
}
