/* The pool of random COTs; see cotpool.h. */
#include "ot/cotpool.h"

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

void cot_pool_clear(cot_pool *p) {
    if (p->buf) mem_free_wipe(p->buf, (p->room + p->batch) * sizeof(block));
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
    if (!p->buf) {
        p->buf = mem_alloc(p->room + p->batch, sizeof(block));
        if (!p->buf) {
            err_set(PARLEY_E_NOMEM, "out of memory for a silent-OT batch (%zu COTs)", p->batch);
            return NULL;
        }
        p->pos = p->end = p->room;
    }
    size_t left = cot_pool_avail(p);
    PARLEY_CHECK(left <= p->room);
    memmove(p->buf + p->room - left, p->buf + p->pos, left * sizeof(block));
    p->pos = p->room - left;
    p->end = p->room;
    return p->buf + p->room;
}

void cot_pool_fill_end(cot_pool *p, size_t keep) {
    PARLEY_CHECK(keep <= p->batch);
    size_t left = cot_pool_avail(p);
    memmove(p->buf + p->room + keep - left, p->buf + p->pos, left * sizeof(block));
    p->pos = p->room + keep - left;
    p->end = p->room + p->batch;
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
