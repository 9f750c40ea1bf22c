/* The plaintext reference interpreter; see ref.h. */
#include "nn/ref.h"

#include "nn/kind.h"

#include "util/bits.h"
#include "util/mem.h"

#include <string.h>

int ref_layer(const qnet *net, qstore *st, unsigned i) {
    const qlayer *L = &net->layers[i];
    uint64_t *y;
    TRY(qstore_out(st, &y, L->out));
    const uint64_t *one[2], **xs = L->nin <= 2 ? one : mem_alloc(L->nin, sizeof *xs);
    if (!xs) return PARLEY_E_NOMEM;
    for (unsigned k = 0; k < L->nin; k++)
        xs[k] = st->buf[L->in[k]];
    qctx c = {
        .net = net, .L = L, .n = net->t[L->out].size, .l = net->l, .y = y, .x = xs, .owner = 1};
    int rc = qkind_step(&c);
    if (xs != one) mem_free(xs);
    return rc;
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
