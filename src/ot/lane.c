/* Lane set-up (base OTs, then the back-end's own) and ot_run; see lane.h. */
#include "ot/lane.h"

#include "crypto/baseot.h"
#include "util/mem.h"

#include <string.h>

const ot_backend *ot_backend_get(int id) {
    if (id == OT_BACKEND_IKNP) return &ot_backend_iknp;
    if (id == OT_BACKEND_SILENT) return &ot_backend_silent;
    return NULL;
}

int ot_backend_parse(const char *s) {
    const ot_backend *all[] = {&ot_backend_iknp, &ot_backend_silent};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        if (!strcmp(s, all[i]->name)) return all[i]->id;
    return -1;
}

const char *ot_backend_name(int backend) {
    const ot_backend *be = ot_backend_get(backend);
    return be ? be->name : "?";
}

int ot_lane_setup(ot_lane *ln, chan *ch, block seed) {
    return ot_lane_setup_ex(ln, ch, seed, NULL);
}

int ot_lane_setup_ex(ot_lane *ln, chan *ch, block seed, const ot_lane_opts *o) {
    memset(ln, 0, sizeof *ln);
    ln->ch = ch;
    ln->be = ot_backend_get(o ? o->backend : OT_BACKEND_IKNP);
    PARLEY_CHECK(ln->be);
    prg_seed(&ln->rng, seed);

    baseot_sender bs;
    uint8_t sbits[128];
    block keys_r[128];        /* base-OT receiver keys (for our IKNP sender) */
    block(*keys_s)[2] = NULL; /* base-OT sender keys (for our IKNP receiver) */
    int rc = 0;
    keys_s = mem_alloc(128, sizeof *keys_s);
    if (!keys_s) return PARLEY_E_NOMEM;

    /* 1. Chou-Orlandi, both directions at once: 2 flights each way. */
    prg_bits(&ln->rng, sbits, 128);
    if (ln->be->row_lsb_set) sbits[0] = 1;
    rc = baseot_send_begin(&bs, ch, &ln->rng);
    if (rc == 0) rc = chan_flush(ch);
    if (rc == 0) rc = baseot_recv(ch, keys_r, sbits, 128, &ln->rng);
    if (rc == 0) rc = chan_flush(ch);
    if (rc == 0) rc = baseot_send_finish(&bs, ch, keys_s, 128);
    if (rc == 0) rc = ote_sender_init(&ln->iknp_s, 128, sbits, keys_r);
    if (rc == 0) rc = ote_receiver_init(&ln->iknp_r, 128, (const block(*)[2])keys_s);

    /* 2. The back-end's own (KK13, or the silent backend's first base COTs). */
    if (rc == 0) rc = ln->be->setup(ln, o);

    mem_wipe(sbits, sizeof sbits);
    mem_wipe(keys_r, sizeof keys_r);
    mem_free_wipe(keys_s, 128 * sizeof *keys_s);
    mem_wipe(&bs, sizeof bs);
    if (rc < 0) ot_lane_clear(ln);
    return rc;
}

uint64_t ot_lane_setup_bytes(const ot_lane_opts *o) {
    const ot_backend *be = ot_backend_get(o ? o->backend : OT_BACKEND_IKNP);
    PARLEY_CHECK(be);
    return 2 * (32 + 32 * 128) + be->setup_bytes(o);
}

uint64_t ot_lane_memory(const ot_lane_opts *o) {
    const ot_backend *be = ot_backend_get(o ? o->backend : OT_BACKEND_IKNP);
    PARLEY_CHECK(be);
    return be->memory(o);
}

void ot_lane_clear(ot_lane *ln) {
    if (ln->be) ln->be->clear(ln);
    if (ln->iknp_s.keys) ote_sender_clear(&ln->iknp_s);
    if (ln->iknp_r.k0) ote_receiver_clear(&ln->iknp_r);
    prg_clear(&ln->rng);
    ln->ch = NULL;
    ln->be = NULL;
}

int ot_run(ot_lane *ln, ot_task *tasks, const uint8_t *we_send, size_t ntasks) {
    size_t nr = 0, ns = 0;
    for (size_t i = 0; i < ntasks; i++) {
        ln->be->bind(ln, &tasks[i], we_send[i]);
        if (we_send[i])
            ns += ot_task_chunks(&tasks[i]);
        else
            nr += ot_task_chunks(&tasks[i]);
    }
    ot_chunk *R = mem_alloc(nr ? nr : 1, sizeof *R), *S = mem_alloc(ns ? ns : 1, sizeof *S);
    int rc = (!R || !S) ? err_set(PARLEY_E_NOMEM, "out of memory for OT") : 0;
    if (rc == 0) {
        size_t ir = 0, is = 0;
        for (size_t i = 0; i < ntasks; i++)
            for (size_t c = 0; c < ot_task_chunks(&tasks[i]); c++) {
                ot_chunk st = {&tasks[i], c};
                if (we_send[i])
                    S[is++] = st;
                else
                    R[ir++] = st;
            }
        rc = ln->be->run(ln, R, nr, S, ns);
    }
    for (size_t i = 0; i < ntasks; i++)
        ot_task_free(&tasks[i]);
    mem_free(R);
    mem_free(S);
    return rc;
}
