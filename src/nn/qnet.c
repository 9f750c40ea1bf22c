/* The quantized network as a whole: ownership, sizes and statistics, the
 * dump, and the encoding of the client's input; see qnet.h. The checks are
 * in qcheck.c, the local steps in qlocal.c, the buffers in qstore.c, and
 * what each layer kind is in kinds.c. */
#include "nn/kind.h"

#include "util/bits.h"
#include "util/mem.h"

#include <math.h>
#include <string.h>

void qnet_free(qnet *net) {
    if (!net) return;
    for (unsigned i = 0; i < net->ntensors && net->t; i++)
        mem_free(net->t[i].name);
    for (unsigned i = 0; i < net->nlayers && net->layers; i++) {
        qlayer *L = &net->layers[i];
        mem_free(L->name);
        mem_free(L->in);
        /* Weights are the server's secret. (Only a checked net has them, so
         * their counts can be read.) */
        if (L->w || L->b) {
            size_t nw, nb;
            qlayer_private(net, L, &nw, &nb);
            mem_free_wipe(L->w, L->w ? nw * sizeof(uint64_t) : 0);
            mem_free_wipe(L->b, L->b ? nb * sizeof(uint64_t) : 0);
        }
    }
    mem_free(net->t);
    mem_free(net->layers);
    mem_free(net);
}

void qlayer_private(const qnet *net, const qlayer *L, size_t *nw, size_t *nb) {
    const qkind *k = qkind_find(L->op); /* a half-decoded net may hold anything */
    *nw = *nb = 0;
    if (k) qkind_private(k, &L->p, net->t[L->out].size, nw, nb);
}

/* ---- statistics and the dump --------------------------------------------- */

void qlayer_stats(qnet_stats *st, const qnet *net, const qlayer *L) {
    const qkind *k = qkind_of(L->op);
    memset(st, 0, sizeof *st);
    size_t nw, nb;
    qlayer_private(net, L, &nw, &nb);
    st->weights = nw + nb;
    size_t n = net->t[L->out].size;
    if (k->cls == QK_LINEAR) {
        lin_shape s = qlayer_lin(L);
        st->macs = lin_macs(&s);
    }
    st->relus = k->counts & QC_RELU ? n : 0;
    st->truncs = k->counts & QC_TRUNC ? n : 0;
    st->divisions = k->counts & QC_DIVISION ? n : 0;
    if (k->stats) k->stats(st, net, L);
}

void qnet_stats_get(qnet_stats *st, const qnet *net) {
    memset(st, 0, sizeof *st);
    for (unsigned i = 0; i < net->nlayers; i++) {
        qnet_stats one;
        qlayer_stats(&one, net, &net->layers[i]);
        st->macs += one.macs;
        st->relus += one.relus;
        st->truncs += one.truncs;
        st->pool_cmps += one.pool_cmps;
        st->divisions += one.divisions;
        st->argmax_cmps += one.argmax_cmps;
        st->weights += one.weights;
    }
    st->peak_elems = qstore_count(net);
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
        if (qkind_of(L->op)->dump) qkind_of(L->op)->dump(f, L);
        fprintf(f, "\n");
    }
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
