/* The per-flavour chunk steps behind ot_task (ot.h); internal to src/ot. */
#ifndef PARLEY_OT_TASK_IMPL_H
#define PARLEY_OT_TASK_IMPL_H

#include "ot/ot.h"

int kk_task_begin(ot_task *t, chan *ch, size_t c) WUR;
int kk_task_send(ot_task *t, chan *ch, size_t c) WUR;
int kk_task_end(ot_task *t, chan *ch, size_t c) WUR;
void kk_task_free(ot_task *t);

int iknp_task_begin(ot_task *t, chan *ch, size_t c) WUR;
int iknp_task_send(ot_task *t, chan *ch, size_t c) WUR;
int iknp_task_end(ot_task *t, chan *ch, size_t c) WUR;
void iknp_task_free(ot_task *t);

#endif
