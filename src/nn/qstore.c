/* Tensor buffers of one run; see qstore in qnet.h. The liveness rule (a
 * tensor lives from its layer's start to the end of its last reader, the
 * output to the end) is written once, here: the interpreters use it to
 * allocate, qnet_stats to count. */
#include "nn/qnet.h"

#include "util/mem.h"

#include <string.h>

/* What a counting store's entries point at: "live", no memory. */
static uint64_t counted;

int qstore_init(qstore *st, const qnet *net) {
    memset(st, 0, sizeof *st);
    st->net = net;
    st->buf = mem_calloc(net->ntensors, sizeof *st->buf);
    return st->buf ? 0 : PARLEY_E_NOMEM;
}

int qstore_out(qstore *st, uint64_t **buf, unsigned t) {
    PARLEY_CHECK(t < st->net->ntensors);
    if (!st->buf[t]) {
        st->buf[t] = st->counting ? &counted : mem_alloc(st->net->t[t].size, sizeof(uint64_t));
        if (!st->buf[t]) return PARLEY_E_NOMEM;
        st->live += st->net->t[t].size;
        if (st->live > st->peak) st->peak = st->live;
    }
    *buf = st->buf[t];
    return 0;
}

static void release(qstore *st, unsigned t) {
    if (!st->buf[t]) return;
    if (!st->counting) mem_free_wipe(st->buf[t], st->net->t[t].size * sizeof(uint64_t));
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

uint64_t qstore_count(const qnet *net) {
    qstore st;
    uint64_t *b;
    if (qstore_init(&st, net) < 0) return 0;
    st.counting = 1;
    int rc = qstore_out(&st, &b, net->input); /* nothing is allocated: cannot fail */
    for (unsigned i = 0; i < net->nlayers && rc == 0; i++) {
        rc = qstore_out(&st, &b, net->layers[i].out);
        qstore_done(&st, i);
    }
    uint64_t peak = st.peak;
    qstore_free(&st);
    return peak;
}
