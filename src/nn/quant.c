/* Quantization of a float graph; see quant.h. */
#include "nn/quant.h"

#include "nn/kind.h"

#include "util/bits.h"
#include "util/mem.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int nerr(const fnode *n, int code, const char *why) {
    return err_set(code, "node '%s' (%s): %s", n->name, qop_name(n->op), why);
}

/* round(v * 2^sc) mod 2^l; the index (never the value) of a misfit. */
static int quantize(uint64_t *q, const float *v, size_t n, unsigned l, unsigned sc,
                    const fnode *node, const char *what) {
    double lim = ldexp(1.0, (int)l - 1), f = ldexp(1.0, (int)sc);
    uint64_t mask = bits_mask(l);
    for (size_t i = 0; i < n; i++) {
        double r = round((double)v[i] * f);
        if (!isfinite(r) || r >= lim || r < -lim)
            return err_set(PARLEY_E_UNSUPPORTED,
                           "node '%s': %s %zu is not finite or does not fit in l = %u bits at "
                           "scale %u (use a larger --bits or a smaller --scale)",
                           node->name, what, i, l, sc);
        q[i] = (uint64_t)(int64_t)r & mask;
    }
    return 0;
}

static char *str_dup(const char *a, const char *b) {
    size_t na = strlen(a), nb = b ? strlen(b) : 0;
    if (na + nb > QNET_MAX_NAME) na = QNET_MAX_NAME - nb;
    char *d = mem_alloc(na + nb + 1, 1);
    if (!d) return NULL;
    memcpy(d, a, na);
    if (nb) memcpy(d + na, b, nb);
    d[na + nb] = 0;
    return d;
}

typedef struct qbuild {
    qnet *net;
    unsigned cap_t, cap_l;
} qbuild;

static int add_tensor(qbuild *B, unsigned *id, const char *name, const char *suffix,
                      const nn_shape *shape, size_t size, unsigned scale) {
    qnet *net = B->net;
    PARLEY_CHECK(net->ntensors < B->cap_t);
    qtensor *T = &net->t[net->ntensors];
    T->name = str_dup(name, suffix);
    if (!T->name) return PARLEY_E_NOMEM;
    T->shape = *shape;
    T->size = size;
    T->scale = scale;
    *id = net->ntensors++;
    return 0;
}

static int add_layer(qbuild *B, qlayer **out, qop op, const char *name, const char *suffix,
                     const unsigned *in, unsigned nin, unsigned o) {
    qnet *net = B->net;
    PARLEY_CHECK(net->nlayers < B->cap_l);
    qlayer *L = &net->layers[net->nlayers];
    memset(L, 0, sizeof *L);
    L->op = op;
    L->name = str_dup(name, suffix);
    L->in = mem_alloc(nin, sizeof *L->in);
    net->nlayers++; /* owned by net from here, so qnet_free releases it */
    if (!L->name || !L->in) return PARLEY_E_NOMEM;
    if (nin) memcpy(L->in, in, nin * sizeof *in);
    L->nin = nin;
    L->out = o;
    *out = L;
    return 0;
}

unsigned quant_wbits(unsigned l, unsigned s, qop op) {
    unsigned w = s + qkind_of(op)->wlog2 + 1;
    return w < l ? w : l;
}

int quant_check_ls(unsigned l, unsigned s) {
    if (l < 8 || l > 64)
        return err_set(PARLEY_E_ARG,
                       "ring width l = %u (--bits) is outside 8..64; the scale s (--scale) must "
                       "then be in 1..(l - 2) / 2",
                       l);
    if (s < 1 || 2 * s + 2 > l)
        return err_set(PARLEY_E_ARG,
                       "scale s = %u (--scale) is outside 1..%u, the range at l = %u (--bits): "
                       "%s",
                       s, (l - 2) / 2, l,
                       s ? "products have scale 2s and need 2 bits of head-room, 2s + 2 <= l"
                         : "s = 0 keeps no fraction (every weight below 0.5 would become 0)");
    return 0;
}

int quant_precision_notes(fgraph *g, unsigned s) {
    double f = ldexp(1.0, (int)s);
    for (unsigned i = 0; i < g->nn; i++) {
        const fnode *n = &g->n[i];
        if (!qop_is_linear(n->op) || !n->w) continue;
        size_t nw, nb;
        fnode_private(g, n, &nw, &nb);
        double e2 = 0, w2 = 0;
        for (size_t j = 0; j < nw; j++) {
            double w = n->w[j], d = w - round(w * f) / f;
            e2 += d * d;
            w2 += w * w;
        }
        if (w2 > 0 && e2 > 0.0025 * w2)
            TRY(fgraph_note(g,
                            "node '%s': its weights lose %.0f%% (relative RMS) to rounding at "
                            "scale s = %u; a larger --scale keeps more of them",
                            n->name, 100 * sqrt(e2 / w2), s));
    }
    return 0;
}

/* A linear layer's weights at scale s and biases at 2s, within the public
 * wbits (the policy, not a measure of these weights: that would leak). */
static int quant_weights(qnet *net, qlayer *L, const fgraph *g, const fnode *n, unsigned wbits) {
    unsigned l = net->l, s = net->s;
    size_t nw, nb, bad;
    fnode_private(g, n, &nw, &nb);
    L->w = mem_alloc(nw ? nw : 1, sizeof(uint64_t));
    L->b = mem_calloc(nb ? nb : 1, sizeof(uint64_t));
    if (!L->w || !L->b) return PARLEY_E_NOMEM;
    TRY(quantize(L->w, n->w, nw, l, s, n, "weight"));
    size_t nz = 0, fz = 0;
    float big = 0;
    for (size_t i = 0; i < nw; i++) {
        nz += L->w[i] == 0;
        fz += n->w[i] == 0;
        if (fabsf(n->w[i]) > big) big = fabsf(n->w[i]);
    }
    if (nw && nz == nw && fz < nw)
        return err_set(PARLEY_E_UNSUPPORTED,
                       "node '%s': every weight rounds to 0 at scale s = %u (the largest is %.3g; "
                       "it needs s >= %d): use a larger --scale",
                       n->name, s, (double)big, (int)ceil(-log2(2.0 * big)));
    if (n->b) TRY(quantize(L->b, n->b, nb, l, 2 * s, n, "bias"));
    *lin_wbits_of(&L->p.lin, qkind_of(L->op)->lin) = wbits;
    lin_shape sh = qlayer_lin(L);
    if (!lin_weights_fit(&sh, L->w, l, &bad))
        return err_set(PARLEY_E_UNSUPPORTED,
                       "node '%s': weight %zu does not fit the public weight width wbits = %u "
                       "(real weights in [-%g, %g) at scale s = %u)%s; serve it with a larger "
                       "--wbits (at most l = %u)",
                       n->name, bad, wbits, ldexp(1.0, (int)wbits - (int)s - 1),
                       ldexp(1.0, (int)wbits - (int)s - 1), s,
                       n->took_bn ? ", its weights times the factors of the batch norm before "
                                    "its Relu"
                                  : "",
                       l);
    return 0;
}

/* Truncate node n's 2s-scale result `acc` by s into n's output value, or,
 * when that value's only reader is a Relu, into the Relu's (one fused
 * RELU_TRUNC layer; the Relu node is then skipped). */
static int emit_trunc(qbuild *B, const fgraph *g, const fnode *n, unsigned acc,
                      const unsigned *uses, const unsigned *reader, unsigned *tid,
                      unsigned char *skip) {
    unsigned v = n->out, s = B->net->s, o;
    int fuse = uses[v] == 1 && v != g->output && g->n[reader[v]].op == QOP_RELU;
    unsigned dv = fuse ? g->n[reader[v]].out : v;
    const fvalue *dst = &g->v[dv];
    qlayer *L;
    TRY(add_tensor(B, &o, dst->name, NULL, &dst->shape, dst->size, s));
    TRY(add_layer(B, &L, fuse ? QOP_RELU_TRUNC : QOP_TRUNC, n->name,
                  fuse ? "/relu_trunc" : "/trunc", &acc, 1, o));
    L->p.shift = s;
    tid[dv] = o;
    if (fuse) skip[reader[v]] = 1;
    return 0;
}

/* Emit layer i (and first the deferred layers it reads) into order. */
static void sched_emit(const qnet *net, unsigned i, const int *producer, unsigned char *state,
                       unsigned *order, unsigned *no) {
    const qlayer *L = &net->layers[i];
    for (unsigned k = 0; k < L->nin; k++) {
        int p = producer[L->in[k]];
        if (p >= 0 && state[p] == 1) sched_emit(net, (unsigned)p, producer, state, order, no);
    }
    state[i] = 2;
    order[(*no)++] = i;
}

/* Element-wise layers (ReLU-truncations, activations) run as late as they
 * can: each just before its first reader, the deferred inputs of a layer
 * in input order. Siblings that feed one layer (a Concat of two branches'
 * ReLUs, as in SqueezeNet's fire modules) then sit side by side, where the
 * executor runs them as one protocol call (exec_group_end): one layer's
 * flights instead of two. A topological order still; the results do not
 * change. */
static int schedule_elementwise(qnet *net) {
    unsigned nl = net->nlayers;
    if (nl < 2) return 0;
    int *producer = mem_alloc(net->ntensors, sizeof *producer);
    unsigned char *state = mem_calloc(nl, 1); /* 0 waiting, 1 deferred, 2 emitted */
    unsigned *order = mem_alloc(nl, sizeof *order), no = 0;
    qlayer *tmp = mem_alloc(nl, sizeof *tmp);
    int rc = producer && state && order && tmp ? 0 : PARLEY_E_NOMEM;
    if (rc == 0) {
        for (unsigned t = 0; t < net->ntensors; t++) producer[t] = -1;
        for (unsigned i = 0; i < nl; i++) producer[net->layers[i].out] = (int)i;
        for (unsigned i = 0; i < nl; i++) {
            const qlayer *L = &net->layers[i];
            if (qkind_of(L->op)->cls == QK_ELEMENTWISE && L->out != net->output)
                state[i] = 1;
            else
                sched_emit(net, i, producer, state, order, &no);
        }
        for (unsigned i = 0; i < nl; i++) /* read by nothing later: keep their place */
            if (state[i] == 1) sched_emit(net, i, producer, state, order, &no);
        PARLEY_CHECK(no == nl);
        for (unsigned i = 0; i < nl; i++) tmp[i] = net->layers[order[i]];
        memcpy(net->layers, tmp, nl * sizeof *tmp);
    }
    mem_free(producer);
    mem_free(state);
    mem_free(order);
    mem_free(tmp);
    return rc;
}

int quant_net(qnet **out, const fgraph *g, unsigned l, unsigned s, unsigned wbits) {
    *out = NULL;
    TRY(quant_check_ls(l, s));
    if (wbits > l) return err_set(PARLEY_E_ARG, "weight width wbits = %u exceeds l = %u", wbits, l);
    unsigned *uses, *reader = mem_alloc(g->nv ? g->nv : 1, sizeof *reader);
    if (!reader) return PARLEY_E_NOMEM;
    if (fgraph_uses(g, &uses) < 0) {
        mem_free(reader);
        return PARLEY_E_NOMEM;
    }
    for (unsigned i = 0; i < g->nn; i++)
        for (unsigned k = 0; k < g->n[i].nin; k++)
            reader[g->n[i].in[k]] = i;

    int rc = PARLEY_E_NOMEM;
    qbuild B = {0};
    unsigned *tid = mem_alloc(g->nv ? g->nv : 1, sizeof *tid);
    unsigned char *skip = mem_calloc(g->nn ? g->nn : 1, 1);
    qnet *net = mem_calloc(1, sizeof *net);
    if (!tid || !skip || !net) goto done;
    B.net = net;
    net->l = l;
    net->s = s;
    net->has_weights = 1;
    B.cap_t = g->nv + 3 * g->nn;
    B.cap_l = 4 * g->nn;
    net->t = mem_calloc(B.cap_t ? B.cap_t : 1, sizeof *net->t);
    net->layers = mem_calloc(B.cap_l ? B.cap_l : 1, sizeof *net->layers);
    if (!net->t || !net->layers) goto done;

    /* Input first; other values as their producers come. */
    const fvalue *in = &g->v[g->input];
    if ((rc = add_tensor(&B, &tid[g->input], in->name, NULL, &in->shape, in->size, s)) < 0)
        goto done;

    for (unsigned i = 0; i < g->nn; i++) {
        const fnode *n = &g->n[i];
        if (skip[i]) continue;
        unsigned *tin = mem_alloc(n->nin, sizeof *tin);
        if (!tin) {
            rc = PARLEY_E_NOMEM;
            goto done;
        }
        for (unsigned k = 0; k < n->nin; k++)
            tin[k] = tid[n->in[k]];
        const fvalue *ov = &g->v[n->out];
        unsigned sc_in = n->nin ? net->t[tin[0]].scale : s;
        qlayer *L;
        rc = 0;
        /* Linear layers and the local linear maps with public
         * coefficients: input at s, output at 2s, truncated after. */
        int at_2s = qkind_of(n->op)->scale == QS_DOUBLE;
        if (at_2s && sc_in != s)
            rc = nerr(n, PARLEY_E_UNSUPPORTED, "its input is not a fixed-point value (an index?)");
        int deferred_add =
            n->op == QOP_ADD && (net->t[tin[0]].scale == 2 * s || net->t[tin[1]].scale == 2 * s);
        for (unsigned k = 1; k < n->nin && rc == 0 && !deferred_add; k++)
            if (net->t[tin[k]].scale != sc_in)
                rc = nerr(n, PARLEY_E_UNSUPPORTED, "operands have different scales");
        if (rc < 0) {
            mem_free(tin);
            goto done;
        }
        if (at_2s) {
            unsigned acc;
            rc = add_tensor(&B, &acc, ov->name, "@2s", &ov->shape, ov->size, 2 * s);
            if (rc == 0) rc = add_layer(&B, &L, n->op, n->name, NULL, tin, n->nin, acc);
            if (rc == 0) L->p = n->p;
            if (rc == 0 && qop_is_linear(n->op))
                rc = quant_weights(net, L, g, n, wbits ? wbits : quant_wbits(l, s, n->op));
            /* A linear output whose only reader is an Add stays at 2s: the
             * Add lifts its other operand to 2s and truncates the sum once
             * (one truncation instead of two; floor(a/2^s) + b equals
             * floor((a + b*2^s)/2^s) exactly). */
            unsigned v = n->out;
            if (rc == 0 && uses[v] == 1 && v != g->output && g->n[reader[v]].op == QOP_ADD) {
                tid[v] = acc;
                mem_free(tin);
                continue;
            }
            if (rc == 0) rc = emit_trunc(&B, g, n, acc, uses, reader, tid, skip);
        } else if (deferred_add) {
            /* Lift s-scale operands to 2s, add, truncate once (fused with a
             * Relu that is the only reader). */
            unsigned opnd[2], acc;
            for (unsigned k = 0; k < 2 && rc == 0; k++) {
                opnd[k] = tin[k];
                unsigned sk = net->t[tin[k]].scale;
                if (sk == 2 * s) continue;
                if (sk != s) {
                    rc = nerr(n, PARLEY_E_UNSUPPORTED, "operands have different scales");
                    break;
                }
                const qtensor *T = &net->t[tin[k]];
                nn_shape shp = T->shape;
                size_t sz = T->size;
                rc = add_tensor(&B, &opnd[k], T->name, "@2s", &shp, sz, 2 * s);
                if (rc == 0)
                    rc = add_layer(&B, &L, QOP_SHL, n->name, k ? "/lift1" : "/lift0", &tin[k], 1,
                                   opnd[k]);
                if (rc == 0) L->p.shift = s;
            }
            if (rc == 0) rc = add_tensor(&B, &acc, ov->name, "@2s", &ov->shape, ov->size, 2 * s);
            if (rc == 0) rc = add_layer(&B, &L, QOP_ADD, n->name, NULL, opnd, 2, acc);
            if (rc == 0) rc = emit_trunc(&B, g, n, acc, uses, reader, tid, skip);
        } else {
            const qkind *k = qkind_of(n->op);
            unsigned o, sc = qkind_out_scale(k, sc_in, s, &n->p);
            rc = add_tensor(&B, &o, ov->name, NULL, &ov->shape, ov->size, sc);
            if (rc == 0) rc = add_layer(&B, &L, n->op, n->name, NULL, tin, n->nin, o);
            if (rc == 0) {
                L->p = n->p;
                if (k->quant && (rc = k->quant(&L->p, n->c, sc_in, s, l)) < 0)
                    rc = err_wrap(rc, "node '%s'", n->name);
                if (rc == 0 && k->priv == QW_CHANNELS) {
                    /* BN_RELU: sign bits, and addends at the input's scale. */
                    size_t nw, nb;
                    fnode_private(g, n, &nw, &nb);
                    L->w = mem_alloc(nw ? nw : 1, sizeof(uint64_t));
                    L->b = mem_alloc(nb ? nb : 1, sizeof(uint64_t));
                    /* within l - 1 bits, so that x + b cannot wrap where
                     * x is bounded (kinds.c, bn_relu_step) */
                    rc = L->w && L->b ? quantize(L->b, n->b, nb, l - 1, sc_in, n,
                                               "addend (one bit below the ring)")
                                      : PARLEY_E_NOMEM;
                    for (size_t c = 0; rc == 0 && c < nb; c++)
                        L->b[c] = (uint64_t)bits_signed(L->b[c], l - 1) & bits_mask(l);
                    for (size_t c = 0; rc == 0 && c < nw; c++) L->w[c] = n->w[c] < 0;
                }
                if (rc == 0 && k->priv == QW_ELEMENTS) {
                    L->w = mem_alloc(ov->size, sizeof(uint64_t));
                    rc = L->w ? quantize(L->w, n->w, ov->size, l, sc_in, n, "constant element")
                              : PARLEY_E_NOMEM;
                }
                tid[n->out] = o;
            }
        }
        mem_free(tin);
        if (rc < 0) goto done;
    }
    net->input = tid[g->input];
    net->output = tid[g->output];
    net->softmax_dropped = g->softmax_dropped ? 1 : 0;
    rc = schedule_elementwise(net);
    if (rc == 0) rc = qnet_check(net);
    if (rc < 0) rc = err_wrap(PARLEY_E_UNSUPPORTED, "the model cannot be represented");
done:
    mem_free(uses);
    mem_free(reader);
    mem_free(tid);
    mem_free(skip);
    if (rc < 0) {
        qnet_free(net);
        return rc;
    }
    *out = net;
    return 0;
}
