/* The interleaved schedule of chunk steps in both directions; see ot.h
 * (ot_steps_run). */
#include "ot/ot.h"

/* Iteration i: begin R[i + A] (and all before), send S[i], end R[i - D]; A =
 * D = ahead.
 * Each step waits only for peer steps of earlier iterations (our begins
 * for its sends, our sends for its ends), so neither side can block the
 * other for good, and the data of the two directions flows at once. */
int ot_steps_run(chan *ch, const ot_chunk *R, size_t nr, const ot_chunk *S, size_t ns) {
    return ot_steps_run_hook(ch, R, nr, S, ns, NULL, NULL);
}

int ot_steps_run_hook(chan *ch, const ot_chunk *R, size_t nr, const ot_chunk *S, size_t ns,
                      int (*last_send)(void *ctx), void *ctx) {
    _Static_assert(OT_AHEAD == OT_DELAY, "the schedule reads in the order the peer writes");
    return ot_steps_run_ahead(ch, R, nr, S, ns, OT_AHEAD, last_send, ctx);
}

int ot_steps_run_ahead(chan *ch, const ot_chunk *R, size_t nr, const ot_chunk *S, size_t ns,
                       size_t ahead, int (*last_send)(void *ctx), void *ctx) {
    size_t ib = 0, ie = 0;
    int f1 = nr == 0, f2 = ns == 0, hooked = last_send == NULL;
    for (size_t i = 0; ie < nr || i < ns; i++) {
        while (ib < nr && ib <= i + ahead) {
            TRY(ot_task_begin(R[ib].t, ch, R[ib].c));
            ib++;
        }
        if (ib == nr && !f1) { /* the last matrix: our first flight ends */
            if (!hooked && i >= ns) { /* ... and it is the last thing we send */
                TRY(last_send(ctx));
                hooked = 1;
            }
            TRY(chan_flush(ch));
            f1 = 1;
        }
        if (i < ns) {
            TRY(ot_task_send(S[i].t, ch, S[i].c));
            if (i + 1 == ns) { /* the last corrections: our second flight ends */
                if (!hooked && ib == nr) {
                    TRY(last_send(ctx));
                    hooked = 1;
                }
                TRY(chan_flush(ch));
                f2 = 1;
            }
        }
        while (ie < nr && ie < ib && (ie + ahead <= i || (i + 1 >= ns && ib == nr))) {
            TRY(ot_task_end(R[ie].t, ch, R[ie].c));
            ie++;
        }
    }
    return f1 && f2 ? 0 : chan_flush(ch);
}
