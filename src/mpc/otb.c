/* Both-direction OT batches on the lane's backend; see otb.h. */
#include "mpc/otb.h"

#include "mpc/flights.h"

#include "util/bits.h"
#include "util/mem.h"

#include <string.h>

static void task_of(const otb_job *j, ot_task *t, mpc_lane *L) {
    memset(t, 0, sizeof *t);
    int silent = L->ot.backend == OT_BACKEND_SILENT;
    static const int kinds[] = {0, OT_TASK_KK, OT_TASK_OT, OT_TASK_COT, OT_TASK_RROT};
    PARLEY_CHECK(j->kind >= OTB_KK && j->kind <= OTB_RROT && (silent || j->kind != OTB_RROT));
    t->kind = kinds[j->kind];
    t->n = j->n;
    t->N = j->N;
    t->l = j->l;
    t->ls = j->ls;
    t->M = j->M;
    if (j->sender == L->role) {
        if (silent)
            t->fer = &L->ot.fer_s;
        else
            t->s = j->kind == OTB_KK ? &L->ot.kk_s : &L->ot.iknp_s;
        t->gen = j->gen;
        t->genw = (size_t)j->N * j->l <= 64 ? j->genw : NULL;
        PARLEY_CHECK(j->kind != OTB_KK || t->genw || t->gen || j->msgs);
        t->gen_ctx = j->gen_ctx;
        t->msgs = j->msgs;
        t->x = j->x;
        t->delta = j->delta;
    } else {
        if (silent)
            t->fer = &L->ot.fer_r;
        else
            t->r = j->kind == OTB_KK ? &L->ot.kk_r : &L->ot.iknp_r;
        t->choices = j->choices;
        t->out = j->out;
    }
}

int otb_run(mpc_lane *L, const otb_job *jobs, size_t njobs) {
    size_t nr = 0, ns = 0;
    for (size_t i = 0; i < njobs; i++) {
        size_t c = (jobs[i].n + OTE_CHUNK - 1) / OTE_CHUNK;
        if (jobs[i].sender == L->role)
            ns += c;
        else
            nr += c;
    }
    ot_task *tasks = mem_calloc(njobs ? njobs : 1, sizeof *tasks);
    ot_chunk *R = mem_alloc(nr ? nr : 1, sizeof *R), *S = mem_alloc(ns ? ns : 1, sizeof *S);
    int rc = (!tasks || !R || !S) ? err_set(PARLEY_E_NOMEM, "out of memory for OT") : 0;
    if (rc == 0) {
        size_t ir = 0, is = 0;
        for (size_t i = 0; i < njobs; i++) {
            task_of(&jobs[i], &tasks[i], L);
            int snd = jobs[i].sender == L->role;
            for (size_t c = 0; c * OTE_CHUNK < jobs[i].n; c++) {
                ot_chunk st = {&tasks[i], c};
                if (snd)
                    S[is++] = st;
                else
                    R[ir++] = st;
            }
        }
        if (L->ot.backend == OT_BACKEND_SILENT)
            rc = silent_steps_run(&L->ot.fer_s, &L->ot.fer_r, L->ot.ch, R, nr, S, ns, &L->ot.sil);
        else
            rc = ot_steps_run(L->ot.ch, R, nr, S, ns);
    }
    for (size_t i = 0; tasks && i < njobs; i++) ot_task_free(&tasks[i]);
    mem_free(tasks);
    mem_free(R);
    mem_free(S);
    return rc;
}

/* Sender bits per OT. */
static uint64_t job_per(const otb_job *j) {
    uint64_t per = 0;
    if (j->kind == OTB_KK)
        per = (uint64_t)j->N * j->l;
    else if (j->kind == OTB_OT)
        per = 2 * (uint64_t)j->l;
    else if (j->kind == OTB_RROT)
        per = 0;
    else
        for (size_t k = 0; k < j->M; k++) per += j->ls[k];
    return per;
}

uint64_t otb_job_cots(const otb_job *j) {
    return (uint64_t)j->n * silent_cots_per_ot(j->kind == OTB_KK ? OT_TASK_KK : OT_TASK_OT, j->N);
}

void otb_job_bytes_split(int backend, const otb_job *j, uint64_t *by_receiver,
                         uint64_t *by_sender) {
    uint64_t per = job_per(j);
    if (backend == OT_BACKEND_SILENT) {
        silent_job_bytes_split(
            j->n, j->kind == OTB_RROT ? 0 : (unsigned)(otb_job_cots(j) / (j->n ? j->n : 1)), per,
            by_receiver, by_sender);
        return;
    }
    PARLEY_CHECK(j->kind != OTB_RROT);
    uint64_t w = j->kind == OTB_KK ? 256 : 128;
    *by_receiver = *by_sender = 0;
    /* Per chunk: the extension matrix, then the packed corrections. */
    for (size_t i0 = 0; i0 < j->n; i0 += OTE_CHUNK) {
        size_t mm = j->n - i0 < OTE_CHUNK ? j->n - i0 : OTE_CHUNK;
        *by_receiver += w * ote_padded(mm) / 8;
        *by_sender += bits_bytes(mm * per);
    }
}

uint64_t otb_job_bytes(int backend, const otb_job *j) {
    uint64_t r, s;
    otb_job_bytes_split(backend, j, &r, &s);
    return r + s;
}

uint64_t otb_job_cost(const ot_costing *oc, const otb_job *j) {
    if (oc->backend == OT_BACKEND_SILENT && oc->cots) *oc->cots += otb_job_cots(j);
    if (oc->fs) fsim_job(oc->fs, j);
    return otb_job_bytes(oc->backend, j);
}
