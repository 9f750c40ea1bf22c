/* Both-direction OT batches; see otb.h. */
#include "mpc/otb.h"

#include "util/bits.h"
#include "util/mem.h"

#include <string.h>

/* Look-ahead of the interleaved schedule, in chunks of OTE_CHUNK OTs: how
 * far our extension matrices run ahead of the peer's answers (A), and how
 * long the corrections wait before we read them (D). The peer's data is
 * buffered for at most about A + D chunks (8 MB of KK13 matrices for
 * A = 32) instead of whole jobs (256 MB for 2^20 ReLUs), and A chunks of
 * slack hide the latency. */
#define OTB_AHEAD 32
#define OTB_DELAY 32

typedef struct step {
    ot_task *t;
    size_t c;
} step;

static void task_of(const otb_job *j, ot_task *t, mpc_lane *L) {
    memset(t, 0, sizeof *t);
    t->kind = j->kind == OTB_KK ? OT_TASK_KK : j->kind == OTB_OT ? OT_TASK_OT : OT_TASK_COT;
    t->n = j->n;
    t->N = j->N;
    t->l = j->l;
    t->ls = j->ls;
    t->M = j->M;
    if (j->sender == L->role) {
        t->s = j->kind == OTB_KK ? &L->ot.kk_s : &L->ot.iknp_s;
        t->gen = j->gen;
        t->genw = (size_t)j->N * j->l <= 64 ? j->genw : NULL;
        PARLEY_CHECK(j->kind != OTB_KK || t->genw || t->gen || t->msgs);
        t->gen_ctx = j->gen_ctx;
        t->msgs = j->msgs;
        t->x = j->x;
        t->delta = j->delta;
    } else {
        t->r = j->kind == OTB_KK ? &L->ot.kk_r : &L->ot.iknp_r;
        t->choices = j->choices;
        t->out = j->out;
    }
}

/* Iteration i: begin R[i + A] (and all before), send S[i], end R[i - D].
 * Each step waits only for peer steps of earlier iterations (our begins
 * for its sends, our sends for its ends), so neither side can block the
 * other for good, and the data of the two directions flows at once. */
static int run_interleaved(mpc_lane *L, step *R, size_t nr, step *S, size_t ns) {
    chan *ch = L->ot.ch;
    size_t ib = 0, ie = 0;
    int f1 = nr == 0, f2 = ns == 0;
    for (size_t i = 0; ie < nr || i < ns; i++) {
        while (ib < nr && ib <= i + OTB_AHEAD) {
            TRY(ot_task_begin(R[ib].t, ch, R[ib].c));
            ib++;
        }
        if (ib == nr && !f1) { /* the last matrix: our first flight ends */
            TRY(chan_flush(ch));
            f1 = 1;
        }
        if (i < ns) {
            TRY(ot_task_send(S[i].t, ch, S[i].c));
            if (i + 1 == ns) { /* the last corrections: our second flight ends */
                TRY(chan_flush(ch));
                f2 = 1;
            }
        }
        while (ie < nr && ie < ib && (ie + OTB_DELAY <= i || i + 1 >= ns)) {
            TRY(ot_task_end(R[ie].t, ch, R[ie].c));
            ie++;
        }
    }
    return f1 && f2 ? 0 : chan_flush(ch);
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
    step *R = mem_alloc(nr ? nr : 1, sizeof *R), *S = mem_alloc(ns ? ns : 1, sizeof *S);
    int rc = (!tasks || !R || !S) ? err_set(PARLEY_E_NOMEM, "out of memory for OT") : 0;
    if (rc == 0) {
        size_t ir = 0, is = 0;
        for (size_t i = 0; i < njobs; i++) {
            task_of(&jobs[i], &tasks[i], L);
            int snd = jobs[i].sender == L->role;
            for (size_t c = 0; c * OTE_CHUNK < jobs[i].n; c++) {
                step st = {&tasks[i], c};
                if (snd)
                    S[is++] = st;
                else
                    R[ir++] = st;
            }
        }
        rc = run_interleaved(L, R, nr, S, ns);
    }
    for (size_t i = 0; tasks && i < njobs; i++) ot_task_free(&tasks[i]);
    mem_free(tasks);
    mem_free(R);
    mem_free(S);
    return rc;
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
