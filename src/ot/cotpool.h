/* A pool of random correlated OTs: one direction of a lane, one side.
 *
 * The sender's COT i is a block q_i with bit 0 clear, the receiver's is
 * t_i = q_i ^ b_i * Delta, so the receiver's random choice b_i is bit 0 of
 * t_i; the sender's Delta has bit 0 set. Consumers (the OT flavours of
 * ot/silent.c, and whatever protocol wants raw COTs) take COTs in order with
 * cot_pool_take; both sides of a direction take the same counts at the same
 * points, so index i means the same COT on both.
 *
 * The pool does not know how COTs are made. A producer (ot/ferret.c) fills
 * it through cot_pool_fill_begin / cot_pool_fill_end, and is reached only
 * through the refill hook it registers (cot_refill): the consumers' schedule
 * calls the hook when the pool runs short, the producer never calls back.
 * Today the hook makes one batch in-band, inside the OT exchange that ran
 * short (ot/silent.h, silent_steps_run). A producer that runs ahead of need
 * (a thread per lane filling several batches while the previous layer
 * computes) fits behind the same two interfaces: the pool then holds more
 * than one batch (fill_begin appends instead of compacting) and the hook
 * waits for a batch that is already on its way instead of making one.
 *
 * Memory: room + batch blocks (cot_pool_room), allocated at the first fill;
 * cot_pool_clear wipes the part fills have written (a session whose pool
 * never kept COTs beside a new batch leaves its room untouched, and
 * wiping it would only make the kernel hand out zeroed pages to wipe). The COTs not yet handed out always end at
 * the top of the buffer, and a fill writes the new batch right below them:
 * nothing is moved, the new batch's COTs are handed out first and those
 * left from before after them (both sides alike), and every take is
 * contiguous. A fill may happen while up to room COTs are left (a batch
 * made ahead of need), at most COT_POOL_CARRY when a take runs short. */
#ifndef PARLEY_OT_COTPOOL_H
#define PARLEY_OT_COTPOOL_H

#include "crypto/block.h"
#include "crypto/prg.h"
#include "net/chan.h"

/* The largest take (the largest request the OT flavours make at once: 8192
 * OTs of 8 COTs), and the room of a pool of small batches. */
#define COT_POOL_CARRY 65536
/* What a pool of large batches (at least twice this) may still hold when
 * the next batch is made ahead of need (cot_pool_room): the exchange that
 * leaves it below this makes the batch at its end, its trees riding on the
 * sender's last flight (ot/silent.c), so the next exchange need not stop
 * for one. 2^20 COTs, 16 MiB more per pool. */
#define COT_POOL_AHEAD ((size_t)1 << 20)

/* The refill hook: how a pool's producer makes one batch, in-band. The
 * sender's half is split so its message can ride on a flight the schedule
 * is about to send anyway (send, no flush), while the batch's computation
 * (finish) waits until the COTs are needed. Each call fills the pool of the
 * producer it was registered with (ctx). */
typedef struct cot_refill {
    /* Sender: make a batch's message and send it (no flush). */
    int (*send)(void *ctx, chan *ch);
    /* Sender: compute the batch into the pool (after send). */
    void (*finish)(void *ctx);
    /* Receiver: read a batch's message and compute the batch into the pool. */
    int (*recv)(void *ctx, chan *ch);
    /* Wire bytes of one batch (sender to receiver). */
    uint64_t (*bytes)(const void *ctx);
} cot_refill;

typedef struct cot_pool {
    int sender;
    block delta;     /* sender: Delta (bit 0 set); receiver: zero */
    size_t batch;    /* COTs one fill writes (before the producer keeps its share) */
    size_t room;     /* COTs a fill may keep from before (cot_pool_room(batch)) */
    block *buf;      /* room + batch blocks, made at the first fill */
    size_t pos, end; /* the COTs not yet handed out: buf[pos .. end) */
    size_t low;      /* the lowest block a fill has written: buf[low .. end)
                      * is all that ever held COTs, and all cot_pool_clear
                      * wipes (the rest was never touched) */
    uint64_t used;   /* COTs handed out so far (the consumers' hash tweaks count them) */
    uint64_t fills;  /* batches filled so far */
    crh h;           /* the consumers' hash (one pool per thread) */
    int nib;         /* a pool of 4-bit VOLE correlations (ot/vole4.h), not COTs */
    uint8_t *ubuf;   /* nib receiver: the nibbles u, parallel to buf */
    block D[16];     /* nib sender: j * Delta (vole4_table) */
    const cot_refill *refill;
    void *refill_ctx;
    /* cot_pool_set_budget: the count `used` reaches by the end of the
     * session's consumers (0 with budgeted clear: unknown) */
    uint64_t target;
    int budgeted;
} cot_pool;

/* sender: 1 for the COT sender (delta: bit 0 set), 0 for the receiver. */
void cot_pool_init(cot_pool *p, int sender, block delta, size_t batch);
/* A pool of 4-bit VOLE correlations instead (ot/vole4.h): entry i is the
 * sender's v_i, or the receiver's w_i with its nibble u_i beside it
 * (cot_pool_nibbles). Only the (N choose 1)-OT flavour takes from it
 * (ot/silent.c: one correlation per OT, 4 < N <= 16: vole4_takes). */
void cot_pool_init_vole4(cot_pool *p, int sender, block delta, size_t batch);
void cot_pool_clear(cot_pool *p);
static inline void cot_pool_set_refill(cot_pool *p, const cot_refill *r, void *ctx) {
    p->refill = r;
    p->refill_ctx = ctx;
}

/* The COTs a pool of this batch size keeps room for beside a new batch:
 * COT_POOL_AHEAD where batches are at least twice that, else
 * COT_POOL_CARRY. A fill may happen while at most this many are left. */
static inline size_t cot_pool_room(size_t batch) {
    return batch >= 2 * COT_POOL_AHEAD ? COT_POOL_AHEAD : COT_POOL_CARRY;
}

static inline size_t cot_pool_avail(const cot_pool *p) {
    return p->end - p->pos;
}

/* The budget: the consumers will take `takes` more entries in all (the
 * whole inference, as the flight model walks it: nn/cost.h,
 * cost_session_budgets); both sides of a direction set the same. Only
 * what the schedule makes ahead of need depends on it (ot/silent.c): a
 * pool whose stock already covers the rest of its budget makes no batch
 * ahead, while a take that runs short always refills, so a wrong budget
 * costs a flight, never a result. */
static inline void cot_pool_set_budget(cot_pool *p, uint64_t takes) {
    p->target = p->used + takes;
    p->budgeted = 1;
}
/* Whether the consumers may still want more than the pool holds (always,
 * without a budget). used + avail changes only at fills. */
static inline int cot_pool_wanted(const cot_pool *p) {
    return !p->budgeted || p->used + cot_pool_avail(p) < p->target;
}

/* The next cnt <= min(cot_pool_avail, COT_POOL_CARRY) COTs; *index = the
 * COT count before them (the same on both sides: a tweak base). Valid until
 * the next fill. */
const block *cot_pool_take(cot_pool *p, size_t cnt, uint64_t *index);

/* The nibbles of a receiver's 4-bit VOLE entries starting at b (a pointer
 * a take or a fill returned). */
static inline uint8_t *cot_pool_nibbles(const cot_pool *p, const block *b) {
    return p->ubuf + (b - p->buf);
}

/* Producer: room for the next batch (p->batch blocks), right below the
 * COTs not yet handed out (at most p->room of them); NULL if out of memory
 * (error set). No take may happen until cot_pool_fill_end. */
block *cot_pool_fill_begin(cot_pool *p);
/* Producer: the batch is written; its first `keep` COTs are the producer's
 * (never handed out), the rest are handed out next, then the COTs left
 * from before. */
void cot_pool_fill_end(cot_pool *p, size_t keep);

/* The hook, counted: bytes sent by refill_send go to *sent if not NULL. */
int cot_pool_refill_send(cot_pool *p, chan *ch, uint64_t *sent) WUR;
void cot_pool_refill_finish(cot_pool *p);
int cot_pool_refill_recv(cot_pool *p, chan *ch) WUR;
static inline uint64_t cot_pool_batch_bytes(const cot_pool *p) {
    return p->refill->bytes(p->refill_ctx);
}

#endif
