/* The IKNP back-end's chunk steps behind ot_task (ot.h), and what the
 * back-ends' steps share; internal to src/ot (the back-end binds them,
 * ot/lane_iknp.c). */
#ifndef PARLEY_OT_TASK_IMPL_H
#define PARLEY_OT_TASK_IMPL_H

#include "ot/ot.h"
#include "util/bits.h"

/* A COT receiver's end of chunk OTs i0 .. i0+mm-1: out[i*M + q] += the
 * sender's correction (read from rd, width ls[q]) where choice i is 1,
 * mod 2^ls[q]. Branch-free in the choices. */
static inline void ot_task_cot_correct(const ot_task *t, bitr *rd, size_t i0, size_t mm) {
    size_t M = t->M;
    uint64_t *out = t->out;
    for (size_t i = i0; i < i0 + mm; i++) {
        uint64_t mask = 0 - (uint64_t)(t->choices[i] & 1);
        for (size_t q = 0; q < M; q++) {
            unsigned l = t->ls[q];
            out[i * M + q] = (out[i * M + q] + (bitr_get(rd, l) & mask)) & bits_mask(l);
        }
    }
}

/* KK13 (N choose 1)-OT on w = 256 instances: src is an ote_sender (send)
 * or an ote_receiver (begin; end needs none). */
extern const ot_steps kk_steps;
/* IKNP chosen-message OT and COT on w = 128 instances, src as above. */
extern const ot_steps iknp_steps;

#endif
