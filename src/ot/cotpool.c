/* The pool of random COTs; see cotpool.h. */
#include "ot/cotpool.h"

#include "ot/vole4.h"
#include "util/mem.h"

#include <string.h>

void cot_pool_init(cot_pool *p, int sender, block delta, size_t batch) {
    memset(p, 0, sizeof *p);
    PARLEY_CHECK(!sender || (delta.w[0] & 1));
    p->sender = sender;
    p->delta = sender ? delta : block_make(0, 0);
    p->batch = batch;
    p->room = cot_pool_room(batch);
    crh_init(&p->h);
}

void cot_pool_init_vole4(cot_pool *p, int sender, block delta, size_t batch) {
    cot_pool_init(p, sender, delta, batch);
    p->nib = 1;
    if (sender) vole4_table(delta, p->D);
}

void cot_pool_clear(cot_pool *p) {
    if (p->buf) {
        mem_wipe(p->buf + p->low, (p->end - p->low) * sizeof(block));
        mem_free(p->buf);
    }
    if (p->ubuf) {
        mem_wipe(p->ubuf + p->low, p->end - p->low);
        mem_free(p->ubuf);
    }
    crh_clear(&p->h);
    mem_wipe(p, sizeof *p);
}

const block *cot_pool_take(cot_pool *p, size_t cnt, uint64_t *index) {
    PARLEY_CHECK(cnt <= cot_pool_avail(p) && cnt <= COT_POOL_CARRY);
    const block *r = p->buf ? p->buf + p->pos : NULL;
    *index = p->used;
    p->pos += cnt;
    p->used += cnt;
    return r;
}

block *cot_pool_fill_begin(cot_pool *p) {
    const size_t top = p->room + p->batch;
    if (!p->buf) {
        p->buf = mem_alloc(top, sizeof(block));
        if (p->buf && p->nib && !p->sender && !(p->ubuf = mem_alloc(top, 1))) {
            mem_free(p->buf);
            p->buf = NULL;
        }
        if (!p->buf) {
            err_set(PARLEY_E_NOMEM, "out of memory for a silent-OT batch (%zu COTs)", p->batch);
            return NULL;
        }
        p->pos = p->end = p->low = top;
    }
    /* The COTs not yet handed out are buf[pos .. top): at most room of
     * them, so the batch fits right below them. */
    PARLEY_CHECK(p->end == top && cot_pool_avail(p) <= p->room);
    if (p->pos - p->batch < p->low) p->low = p->pos - p->batch;
    return p->buf + p->pos - p->batch;
}

void cot_pool_fill_end(cot_pool *p, size_t keep) {
    PARLEY_CHECK(keep <= p->batch);
    p->pos = p->pos - p->batch + keep;
    p->fills++;
}

int cot_pool_refill_send(cot_pool *p, chan *ch, uint64_t *sent) {
    PARLEY_CHECK(p->sender && p->refill);
    uint64_t b0 = chan_get_stats(ch)->bytes_sent;
    TRY(p->refill->send(p->refill_ctx, ch));
    if (sent) *sent += chan_get_stats(ch)->bytes_sent - b0;
    return 0;
}

void cot_pool_refill_finish(cot_pool *p) {
    PARLEY_CHECK(p->sender && p->refill);
    p->refill->finish(p->refill_ctx);
}

int cot_pool_refill_recv(cot_pool *p, chan *ch) {
    PARLEY_CHECK(!p->sender && p->refill);
    return p->refill->recv(p->refill_ctx, ch);
}
