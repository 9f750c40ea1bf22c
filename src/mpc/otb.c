/* Both-direction OT batches; see otb.h. */
#include "mpc/otb.h"

#include "util/bits.h"

#include <string.h>

static int job_begin(mpc_lane *L, const otb_job *j) {
    switch (j->kind) {
    case OTB_KK:
        return kkot_recv_begin(&L->ot.kk_r, L->ot.ch, j->out, j->choices, j->n, j->N, j->l);
    case OTB_OT:
        return iknp_ot_recv_begin(&L->ot.iknp_r, L->ot.ch, j->out, j->choices, j->n, j->l);
    default:
        return iknp_cot_recv_begin(&L->ot.iknp_r, L->ot.ch, j->out, j->choices, j->n, j->ls, j->M);
    }
}

typedef struct kk_given {
    const uint64_t *msgs;
    unsigned N;
} kk_given;

static void given_gen(void *vctx, uint64_t *out, size_t first, size_t mm) {
    const kk_given *g = vctx;
    memcpy(out, g->msgs + first * g->N, mm * g->N * sizeof *out);
}

static int job_send(mpc_lane *L, const otb_job *j) {
    switch (j->kind) {
    case OTB_KK:
        if (j->gen) return kkot_send_gen(&L->ot.kk_s, L->ot.ch, j->n, j->N, j->l, j->gen, j->gen_ctx);
        {
            kk_given g = {j->msgs, j->N};
            return kkot_send_gen(&L->ot.kk_s, L->ot.ch, j->n, j->N, j->l, given_gen, &g);
        }
    case OTB_OT:
        return iknp_ot_send_defer(&L->ot.iknp_s, L->ot.ch, j->msgs, j->n, j->l);
    default:
        return iknp_cot_send_defer(&L->ot.iknp_s, L->ot.ch, j->x, j->delta, j->n, j->ls, j->M);
    }
}

static int job_end(mpc_lane *L, const otb_job *j) {
    switch (j->kind) {
    case OTB_KK:
        return kkot_recv_end(L->ot.ch, j->out, j->choices, j->n, j->N, j->l);
    case OTB_OT:
        return iknp_ot_recv_end(L->ot.ch, j->out, j->choices, j->n, j->l);
    default:
        return iknp_cot_recv_end(L->ot.ch, j->out, j->choices, j->n, j->ls, j->M);
    }
}

int otb_run(mpc_lane *L, const otb_job *jobs, size_t njobs) {
    for (size_t i = 0; i < njobs; i++)
        if (jobs[i].n && jobs[i].sender != L->role) TRY(job_begin(L, &jobs[i]));
    TRY(chan_flush(L->ot.ch));
    for (size_t i = 0; i < njobs; i++)
        if (jobs[i].n && jobs[i].sender == L->role) TRY(job_send(L, &jobs[i]));
    TRY(chan_flush(L->ot.ch));
    for (size_t i = 0; i < njobs; i++)
        if (jobs[i].n && jobs[i].sender != L->role) TRY(job_end(L, &jobs[i]));
    return 0;
}

uint64_t otb_job_bytes(const otb_job *j) {
    uint64_t w = j->kind == OTB_KK ? 256 : 128, per = 0, total = 0;
    if (j->kind == OTB_KK) per = (uint64_t)j->N * j->l;
    else if (j->kind == OTB_OT) per = 2 * (uint64_t)j->l;
    else
        for (size_t k = 0; k < j->M; k++) per += j->ls[k];
    /* Per chunk: the extension matrix, then the packed corrections. */
    for (size_t i0 = 0; i0 < j->n; i0 += OTE_CHUNK) {
        size_t mm = j->n - i0 < OTE_CHUNK ? j->n - i0 : OTE_CHUNK;
        total += w * ote_padded(mm) / 8 + bits_bytes(mm * per);
    }
    return total;
}
