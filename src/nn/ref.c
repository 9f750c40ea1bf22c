/* The plaintext reference interpreter; see ref.h. */
#include "nn/ref.h"

#include "util/bits.h"
#include "util/mem.h"

#include <string.h>

int ref_layer(const qnet *net, qstore *st, unsigned i) {
    const qlayer *L = &net->layers[i];
    unsigned l = net->l;
    uint64_t *y;
    TRY(qstore_out(st, &y, L->out));
    const uint64_t *x = L->nin ? st->buf[L->in[0]] : NULL;
    size_t n = net->t[L->out].size;
    switch (L->op) {
    case QOP_CONV:
        lin_conv_plain(y, x, &L->p.conv, L->w, l);
        qnet_add_private(net, L, y);
        break;
    case QOP_FC:
        lin_fc_plain(y, x, &L->p.fc, L->w, l);
        qnet_add_private(net, L, y);
        break;
    case QOP_SCALE:
        lin_scale_plain(y, x, &L->p.scale, L->w, l);
        qnet_add_private(net, L, y);
        break;
    case QOP_TRUNC:
        nl_trunc_plain(y, x, n, l, L->p.shift);
        break;
    case QOP_SHL:
        qnet_shl(net, L, y, x);
        break;
    case QOP_RELU:
        nl_relu_plain(y, x, n, l);
        break;
    case QOP_RELU_TRUNC:
        nl_relu_plain(y, x, n, l);
        nl_trunc_plain(y, y, n, l, L->p.shift);
        break;
    case QOP_MAXPOOL:
        nl_maxpool_plain(y, x, &L->p.pool, l);
        break;
    case QOP_AVGPOOL:
        nl_avgpool_plain(y, x, &L->p.pool, l);
        break;
    case QOP_ADD:
        qnet_add(net, L, y, x, st->buf[L->in[1]]);
        break;
    case QOP_ADDC:
        memcpy(y, x, n * sizeof *y);
        qnet_add_private(net, L, y);
        break;
    case QOP_CONST:
        memset(y, 0, n * sizeof *y);
        qnet_add_private(net, L, y);
        break;
    case QOP_CONCAT: {
        const uint64_t **xs = mem_alloc(L->nin, sizeof *xs);
        if (!xs) return PARLEY_E_NOMEM;
        for (unsigned k = 0; k < L->nin; k++)
            xs[k] = st->buf[L->in[k]];
        qnet_move(net, L, y, xs);
        mem_free(xs);
        break;
    }
    case QOP_RESHAPE:
    case QOP_PAD:
    case QOP_TRANSPOSE:
        qnet_move(net, L, y, &x);
        break;
    case QOP_ARGMAX: {
        size_t outer, cols, inner;
        qnet_argmax_geom(net, L, &outer, &cols, &inner);
        if (inner == 1) {
            nl_argmax_plain(y, x, outer, cols, l);
            break;
        }
        /* Gather each (outer, inner) column into a row: local on shares. */
        uint64_t *rows = mem_alloc(outer * inner * cols, sizeof *rows);
        if (!rows) return PARLEY_E_NOMEM;
        for (size_t o = 0; o < outer; o++)
            for (size_t c = 0; c < cols; c++)
                for (size_t k = 0; k < inner; k++)
                    rows[(o * inner + k) * cols + c] = x[(o * cols + c) * inner + k];
        nl_argmax_plain(y, rows, outer * inner, cols, l);
        mem_free(rows);
        break;
    }
    default:
        return err_set(PARLEY_E_ARG, "layer %u: unknown kind", i);
    }
    return 0;
}

int ref_run(const qnet *net, uint64_t **out, uint64_t *peak, const uint64_t *x) {
    *out = NULL;
    if (!net->has_weights) return err_set(PARLEY_E_ARG, "the reference needs a model with weights");
    qstore st;
    TRY(qstore_init(&st, net));
    uint64_t *in;
    int rc = qstore_out(&st, &in, net->input);
    if (rc == 0) memcpy(in, x, net->t[net->input].size * sizeof *in);
    for (unsigned i = 0; i < net->nlayers && rc == 0; i++) {
        rc = ref_layer(net, &st, i);
        qstore_done(&st, i);
    }
    if (rc == 0) {
        if (peak) *peak = st.peak;
        *out = qstore_take(&st, net->output);
    }
    qstore_free(&st);
    return rc;
}

int ref_run_float(const qnet *net, nn_tensor *y, const nn_tensor *x) {
    memset(y, 0, sizeof *y);
    uint64_t *in = mem_alloc(net->t[net->input].size, sizeof *in), *out;
    if (!in) return PARLEY_E_NOMEM;
    int rc = qnet_encode_input(net, in, x);
    if (rc == 0) rc = ref_run(net, &out, NULL, in);
    mem_free_wipe(in, net->t[net->input].size * sizeof *in);
    if (rc < 0) return rc;
    const qtensor *T = &net->t[net->output];
    rc = nn_tensor_alloc(y, &T->shape);
    if (rc == 0) qnet_decode(net, y->data, net->output, out);
    mem_free_wipe(out, T->size * sizeof *out);
    return rc;
}
