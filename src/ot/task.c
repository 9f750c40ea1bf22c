/* ot_task: dispatch of the chunk steps to KK13, IKNP or the silent
 * backend; see ot.h. */
#include "ot/silent.h"
#include "ot/task_impl.h"

int ot_task_begin(ot_task *t, chan *ch, size_t c) {
    if (t->fer) return silent_task_begin(t, ch, c);
    return t->kind == OT_TASK_KK ? kk_task_begin(t, ch, c) : iknp_task_begin(t, ch, c);
}

int ot_task_send(ot_task *t, chan *ch, size_t c) {
    if (t->fer) return silent_task_send(t, ch, c);
    return t->kind == OT_TASK_KK ? kk_task_send(t, ch, c) : iknp_task_send(t, ch, c);
}

int ot_task_end(ot_task *t, chan *ch, size_t c) {
    if (t->fer) return silent_task_end(t, ch, c);
    return t->kind == OT_TASK_KK ? kk_task_end(t, ch, c) : iknp_task_end(t, ch, c);
}

void ot_task_free(ot_task *t) {
    if (t->fer)
        silent_task_free(t);
    else if (t->kind == OT_TASK_KK)
        kk_task_free(t);
    else
        iknp_task_free(t);
}
