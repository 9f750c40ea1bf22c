/* The IKNP back-end's chunk steps behind ot_task (ot.h); internal to
 * src/ot (the back-end binds them, ot/lane_iknp.c). */
#ifndef PARLEY_OT_TASK_IMPL_H
#define PARLEY_OT_TASK_IMPL_H

#include "ot/ot.h"

/* KK13 (N choose 1)-OT on w = 256 instances: src is an ote_sender (send)
 * or an ote_receiver (begin; end needs none). */
extern const ot_steps kk_steps;
/* IKNP chosen-message OT and COT on w = 128 instances, src as above. */
extern const ot_steps iknp_steps;

#endif
