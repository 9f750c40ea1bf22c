/* Both-direction OT batches on the lane's back-end (ot_run), and their
 * costs from the back-ends' tables; see otb.h. */
#include "mpc/otb.h"

#include "mpc/flights.h"

#include "util/bits.h"
#include "util/mem.h"

#include <string.h>

static const int task_kind[] = {0, OT_TASK_KK, OT_TASK_OT, OT_TASK_COT, OT_TASK_RROT};

static int kind_of(const otb_job *j) {
    PARLEY_CHECK(j->kind >= OTB_KK && j->kind <= OTB_RROT);
    return task_kind[j->kind];
}

/* The task of job j on the side that sends (we_send) or receives. */
static void task_of(const otb_job *j, ot_task *t, int we_send) {
    memset(t, 0, sizeof *t);
    t->kind = kind_of(j);
    t->n = j->n;
    t->N = j->N;
    t->l = j->l;
    t->ls = j->ls;
    t->M = j->M;
    t->implied = j->implied;
    if (we_send) {
        t->gen = j->gen;
        t->genw = (size_t)j->N * j->l <= 64 ? j->genw : NULL;
        PARLEY_CHECK(j->kind != OTB_KK || t->genw || t->gen || j->msgs);
        t->gen_ctx = j->gen_ctx;
        t->msgs = j->msgs;
        t->x = j->x;
        t->x8 = j->x8;
        t->delta = j->delta;
    } else {
        t->choices = j->choices;
        t->out = j->out;
        t->out8 = j->out8;
    }
}

int otb_run(mpc_lane *L, const otb_job *jobs, size_t njobs) {
    ot_task *tasks = mem_calloc(njobs ? njobs : 1, sizeof *tasks);
    uint8_t *we = mem_alloc(njobs ? njobs : 1, 1);
    int rc = (!tasks || !we) ? err_set(PARLEY_E_NOMEM, "out of memory for OT") : 0;
    if (rc == 0) {
        for (size_t i = 0; i < njobs; i++) {
            PARLEY_CHECK(!jobs[i].implied ||
                         (jobs[i].kind == OTB_KK && (L->ot.be->caps & OT_CAP_KK_IMPLIED)));
            PARLEY_CHECK(!(jobs[i].x8 || jobs[i].out8) ||
                         ((L->ot.be->caps & OT_CAP_RANDOM_OT) &&
                          ((jobs[i].kind == OTB_RROT && jobs[i].l <= 3) ||
                           (jobs[i].kind == OTB_KK && jobs[i].l <= 8))));
            we[i] = jobs[i].sender == L->role;
            task_of(&jobs[i], &tasks[i], we[i]);
        }
        rc = ot_run(&L->ot, tasks, we, njobs);
    }
    mem_free(tasks);
    mem_free(we);
    return rc;
}

/* Sender bits per OT. */
static uint64_t job_per(const otb_job *j) {
    uint64_t per = 0;
    if (j->kind == OTB_KK)
        per = (uint64_t)(j->N - (j->implied ? 1 : 0)) * j->l;
    else if (j->kind == OTB_OT)
        per = 2 * (uint64_t)j->l;
    else if (j->kind == OTB_RROT)
        per = 0;
    else
        for (size_t k = 0; k < j->M; k++) per += j->ls[k];
    return per;
}

static const ot_backend *backend_of(int backend) {
    const ot_backend *be = ot_backend_get(backend);
    PARLEY_CHECK(be);
    return be;
}

uint64_t otb_job_cots(int backend, const otb_job *j) {
    return backend_of(backend)->job_cots(kind_of(j), j->n, j->N);
}

void otb_job_bytes_split(int backend, const otb_job *j, uint64_t *by_receiver,
                         uint64_t *by_sender) {
    backend_of(backend)->job_bytes(kind_of(j), j->n, j->N, job_per(j), by_receiver, by_sender);
}

uint64_t otb_job_bytes(int backend, const otb_job *j) {
    uint64_t r, s;
    otb_job_bytes_split(backend, j, &r, &s);
    return r + s;
}

int otb_job_on_vole4(const otb_job *j) {
    return j->kind == OTB_KK && vole4_takes(j->N);
}

uint64_t otb_vole4_choice_bytes(const otb_job *j) {
    return bits_bytes((uint64_t)j->n * VOLE4_CHOICE_BITS);
}

uint64_t otb_job_cost(const ot_costing *oc, const otb_job *j) {
    int v4 = oc->vole4 && oc->backend == OT_BACKEND_SILENT && otb_job_on_vole4(j);
    if (oc->cots && !v4) *oc->cots += otb_job_cots(oc->backend, j);
    if (oc->corrs && v4) *oc->corrs += j->n;
    if (oc->fs) fsim_job(oc->fs, j);
    if (!v4) return otb_job_bytes(oc->backend, j);
    uint64_t r, s;
    otb_job_bytes_split(oc->backend, j, &r, &s);
    return otb_vole4_choice_bytes(j) + s;
}

double otb_cot_bits(int backend, unsigned width) {
    return backend_of(backend)->ot_bits(OT_TASK_COT, 2) + width;
}

double otb_kk_bits(int backend, unsigned N, unsigned l) {
    return backend_of(backend)->ot_bits(OT_TASK_KK, N) + (double)N * l;
}

int otb_kk_implied(int backend) { return (backend_of(backend)->caps & OT_CAP_KK_IMPLIED) != 0; }

double otb_gen_bits_per_cot(int backend) { return backend_of(backend)->gen_bits_per_cot(NULL); }
