/* Batched oblivious transfer: the flavours built on OT extension.
 *
 * Choices are one byte per OT (a bit, or 0..N-1 for 1-out-of-N). Values of
 * width l (1 <= l <= 64) live in uint64_t, reduced mod 2^l, and travel
 * bit-packed. Every call takes n >= 0 OTs, rounds n up to a multiple of 128
 * inside the extension, and costs a constant number of flights:
 *
 *   flavour                         receiver gets               wire bits/OT
 *   iknp_rot     random OT          H(t_i) = m_{c_i}            128
 *   iknp_ot      chosen message     m_{c_i}                     128 + 2l
 *   iknp_cot     correlated (add.)  x_i + c_i*delta_i           128 + sum l_k
 *   kkot         1-out-of-N, KK13   m_{c_i}                     256 + N*l
 *
 * For COT the sender *outputs* x_i (pseudo-random) and inputs delta_i.
 * Messages and correlations are laid out per OT: msgs[i*N + k],
 * delta[i*M + k].
 *
 * The receiver side comes in two halves so a party can be receiver in one
 * instance and sender in the other at the same time: _begin sends the
 * extension matrix, _end reads the sender's corrections. The plain _recv
 * does both with a flush between. Sender calls flush before returning; the
 * _defer / _gen senders do not, so several OTs sent back to back form one
 * message flight (the caller flushes). */
#ifndef PARLEY_OT_OT_H
#define PARLEY_OT_OT_H

#include "ot/ote.h"

/* Random OT: sender gets out[i][0], out[i][1]; receiver out[i] = out[i][c_i]. */
int iknp_rot_send(ote_sender *s, chan *ch, block (*out)[2], size_t n) WUR;
int iknp_rot_recv(ote_receiver *r, chan *ch, block *out, const uint8_t *choices, size_t n) WUR;

/* Chosen-message OT with l-bit messages msgs[2i], msgs[2i+1]. */
int iknp_ot_send(ote_sender *s, chan *ch, const uint64_t *msgs, size_t n, unsigned l) WUR;
int iknp_ot_send_defer(ote_sender *s, chan *ch, const uint64_t *msgs, size_t n, unsigned l) WUR;
int iknp_ot_recv_begin(ote_receiver *r, chan *ch, uint64_t *out, const uint8_t *choices, size_t n,
                       unsigned l) WUR;
int iknp_ot_recv_end(chan *ch, uint64_t *out, const uint8_t *choices, size_t n, unsigned l) WUR;
int iknp_ot_recv(ote_receiver *r, chan *ch, uint64_t *out, const uint8_t *choices, size_t n,
                 unsigned l) WUR;

/* Additive correlated OT with M correlations of widths ls[0..M-1] per OT:
 * sender outputs x[i*M+k], receiver out[i*M+k] = x[i*M+k] + c_i*delta[i*M+k]
 * mod 2^ls[k]. */
int iknp_cot_send(ote_sender *s, chan *ch, uint64_t *x, const uint64_t *delta, size_t n,
                  const unsigned *ls, size_t M) WUR;
int iknp_cot_send_defer(ote_sender *s, chan *ch, uint64_t *x, const uint64_t *delta, size_t n,
                        const unsigned *ls, size_t M) WUR;
int iknp_cot_recv_begin(ote_receiver *r, chan *ch, uint64_t *out, const uint8_t *choices, size_t n,
                        const unsigned *ls, size_t M) WUR;
int iknp_cot_recv_end(chan *ch, uint64_t *out, const uint8_t *choices, size_t n, const unsigned *ls,
                      size_t M) WUR;
int iknp_cot_recv(ote_receiver *r, chan *ch, uint64_t *out, const uint8_t *choices, size_t n,
                  const unsigned *ls, size_t M) WUR;

/* Streamed correlated OT with a per-OT layout (for src/lin/ot).
 *
 * OT i (0 <= i < n) carries M_i additive correlations (0 <= M_i <= M_max),
 * all of one width b_i (1..64): the sender outputs x_{i,k} (pseudo-random)
 * and inputs delta_{i,k}; the receiver with choice c_i outputs
 * x_{i,k} + c_i*delta_{i,k} mod 2^b_i. Layout, correlations, choices and
 * outputs pass through callbacks OT by OT, in increasing i, so nothing of
 * size n*M is ever held: memory is O(OTE_CHUNK + M_max) per side, whatever
 * n and sum M_i are.
 *
 * Wire: receiver to sender 16 bytes per OT (n rounded up to 128); sender to
 * receiver the corrections, M_i*b_i bits per OT, bit-packed, the stream
 * padded to a whole byte after every 128 OTs of the call and at its end.
 * So a batch split at multiples of 128 OTs (across lanes, say) costs the
 * same bytes as one call: 16*ote_padded(n) + sum over groups of 128 OTs of
 * ceil(bits of the group / 8). Both sides cut the batch into extension
 * chunks of at most OTE_CHUNK OTs and about 1 MiB of corrections
 * (COTV_CHUNK_BITS: a chunk ends at the first whole group of 128 OTs that
 * reaches it) and pipeline them (the receiver extends chunks k+1 ..
 * k+COTV_AHEAD-1 before it reads the corrections of chunk k), with the
 * receiver's buffered backlog bounded by COTV_AHEAD chunks of corrections
 * (the link's flow control holds the sender back beyond the stream's
 * window). Being COTV_AHEAD chunks ahead, a call of k chunks waits
 * 2 ceil(k / COTV_AHEAD) flights on the critical path (mpc/flights.h counts
 * them), and keeps up to a window's worth of corrections in flight (4 MiB
 * by default: more than a WAN's bandwidth-delay product, 40 MB/s x 80 ms =
 * 3.2 MB, so the stream does not stall on round trips); the receiver's
 * own extensions in flight, at most COTV_AHEAD x 128 KiB = 2 MiB, stay
 * within that window, so it never blocks on them. Memory: COTV_AHEAD
 * chunks of about 210 KiB on the receiver's side.
 *
 * Both parties must describe the same layout (shape). The pads are hashed
 * with tweaks disjoint from the other IKNP flavours, so cotv calls can be
 * mixed with them on one instance. */
#define COTV_CHUNK_BITS ((uint64_t)8 << 20) /* corrections per chunk: 1 MiB */
#define COTV_AHEAD 16 /* chunks the receiver keeps in flight (public for mpc/flights.c) */

typedef struct cotv_io {
    void *ctx;
    size_t M_max; /* bound on every M_i */
    /* Both: the layout of OT i. */
    void (*shape)(void *ctx, size_t i, size_t *M, unsigned *b);
    /* Sender: the M correlations of OT i (any uint64_t; only their low b
     * bits count), valid until the next call. */
    const uint64_t *(*delta)(void *ctx, size_t i, size_t M);
    /* Receiver: the choice bits (0/1) of OTs [first, first + count). */
    void (*choices)(void *ctx, size_t first, size_t count, uint8_t *c);
    /* Both: this side's M outputs of OT i, mod 2^b. */
    void (*out)(void *ctx, size_t i, const uint64_t *v, size_t M, unsigned b);
} cotv_io;

int iknp_cotv_send(ote_sender *s, chan *ch, size_t n, const cotv_io *io) WUR;
int iknp_cotv_recv(ote_receiver *r, chan *ch, size_t n, const cotv_io *io) WUR;

/* KK13 1-out-of-N OT, 2 <= N <= 256, l-bit messages msgs[i*N + k], on
 * w = 256 extension instances. */
int kkot_send(ote_sender *s, chan *ch, const uint64_t *msgs, size_t n, unsigned N, unsigned l) WUR;
/* The same without the closing flush, with the messages made chunk by chunk:
 * gen(ctx, out, first, mm) writes out[i*N + k] for OTs first..first+mm-1
 * (mm <= OTE_CHUNK), so n*N messages never sit in memory at once. */
typedef void (*kk_gen_fn)(void *ctx, uint64_t *out, size_t first, size_t mm);
/* When N*l <= 64: out[i] = all N messages of OT first+i, message k at bit
 * k*l (what goes on the wire, before masking). */
typedef void (*kk_genw_fn)(void *ctx, uint64_t *out, size_t first, size_t mm);
int kkot_send_gen(ote_sender *s, chan *ch, size_t n, unsigned N, unsigned l, kk_gen_fn gen,
                  void *ctx) WUR;
int kkot_recv_begin(ote_receiver *r, chan *ch, uint64_t *out, const uint8_t *choices, size_t n,
                    unsigned N, unsigned l) WUR;
int kkot_recv_end(chan *ch, uint64_t *out, const uint8_t *choices, size_t n, unsigned N,
                  unsigned l) WUR;
int kkot_recv(ote_receiver *r, chan *ch, uint64_t *out, const uint8_t *choices, size_t n,
              unsigned N, unsigned l) WUR;
/* The KK13 pad of a 256-bit row (two blocks: lo, hi), the whole row in one
 * correlation-robust chain (kkot.c; docs/SECURITY-OT.md, "KK13 pads"):
 * out[i] = H(lo ^ H(hi, (KK_TW_IN, idx + i)), (KK_TW_OUT, idx + i)) for the
 * rows rows[2i], rows[2i + 1] each XORed with off[0], off[1] (off may be
 * NULL). tmp: mm blocks of scratch; out may not alias rows. */
void kk_pad_hash(crh *h, block *out, block *tmp, const block *rows, const block *off, size_t mm,
                 uint64_t idx);

/* Raw IKNP rows: random correlated OTs with the sender's secret row s as
 * global Delta (the silent backend's first base COTs, ot/lane_silent.c). The
 * receiver gets t[i] for choice bits choices[i] (one per byte), the sender
 * q[i] = t[i] ^ choices[i] * s. Wire: the extension matrix, receiver to
 * sender, 16 * ote_padded bytes per chunk of OTE_CHUNK; no flush. */
int iknp_raw_recv(ote_receiver *r, chan *ch, block *t, const uint8_t *choices, size_t n) WUR;
int iknp_raw_send(ote_sender *s, chan *ch, block *q, size_t n) WUR;

/* ---- chunked tasks ----
 *
 * One OT job on one side, run one chunk of OTE_CHUNK OTs at a time, so a
 * caller can interleave several jobs of both directions on one channel
 * (ot_run in ot/lane.h) instead of sending one direction's whole extension
 * matrix before reading the other's. For chunk c of a job, the receiver's
 * begin sends its first message (IKNP: the extension matrix; silent: the
 * choice corrections), the sender's send reads it and sends the
 * corrections, the receiver's end reads them. The chunks of one instance
 * must be stepped in the same order on both sides. No step flushes.
 *
 * A task says what to compute, the same on every back-end (the fields of
 * one kind and side, as for the whole calls); the back-end that binds it
 * (ot_backend.bind, ot/lane.h) sets how: its steps and the instance it
 * draws on (src). The whole calls of iknp.c, kkot.c and silent.c are their
 * steps in a loop, so the wire format is the same. */
/* ROT: random OT with the receiver's chosen bit, 128-bit pads. RROT: random
 * OT with the receiver's random choice and l <= 63-bit messages, no wire
 * bits at all: the sender gets x[i] = m0 | m1 << l for l <= 32, else
 * x[2i] = m0 and x[2i + 1] = m1 (x then holds 2n words); the receiver
 * out[i] = m_b | b << l. With l <= 3 the task may give byte arrays x8 and
 * out8 instead, the same values one byte per OT (bit triples: an eighth of
 * the memory). Only back-ends with OT_CAP_RANDOM_OT offer them; on those,
 * KK tasks with l <= 8 may give out8 (and x8 where message 0 is implied)
 * too (the millionaire's leaves). */
enum { OT_TASK_KK = 1, OT_TASK_OT = 2, OT_TASK_COT = 3, OT_TASK_ROT = 4, OT_TASK_RROT = 5 };

typedef struct ot_task ot_task;

/* A back-end's chunk steps (all the back-end-specific code a task runs). */
typedef struct ot_steps {
    int (*begin)(ot_task *t, chan *ch, size_t c); /* receiver */
    int (*send)(ot_task *t, chan *ch, size_t c);  /* sender */
    int (*end)(ot_task *t, chan *ch, size_t c);   /* receiver */
    void (*free)(ot_task *t);                     /* the buffers of the first step */
    /* Random COTs chunk c takes from the task's pool (ot/cotpool.h); NULL
     * for steps that draw on no pool. */
    size_t (*cots)(const ot_task *t, size_t c);
} ot_steps;

struct ot_task {
    int kind; /* OT_TASK_* */
    size_t n;
    unsigned N, l;       /* KK: N messages of l bits; OT, RROT: l */
    const unsigned *ls;  /* COT: M widths */
    size_t M;
    /* sender side */
    kk_gen_fn gen;        /* KK: messages per chunk, or msgs (n*N) */
    kk_genw_fn genw;      /* KK, N*l <= 64: packed messages (preferred over gen) */
    void *gen_ctx;
    const uint64_t *msgs; /* KK (n*N) or OT (n*2) */
    uint64_t *x;          /* COT: sender outputs, n*M; RROT: n (2n if l > 32); KK implied: n */
    uint8_t *x8;          /* RROT, l <= 3; KK implied, l <= 8: bytes instead of x */
    /* KK, both sides (OT_CAP_KK_IMPLIED back-ends only): message 0 is not
     * sent. The sender's messages are unmasked values f(k); it gets x[i],
     * an l-bit share chosen so that message 0 would be all zero, and the
     * receiver gets f(c) ^ x[i]: (N - 1) * l sender bits per OT. */
    int implied;
    const uint64_t *delta;
    block (*rot2)[2];     /* ROT: the sender's pairs */
    /* receiver side */
    const uint8_t *choices;
    uint64_t *out;
    uint8_t *out8; /* RROT, l <= 3; KK, l <= 8: the receiver's outputs as bytes instead of out */
    block *rot1;          /* ROT: the receiver's pads */
    /* set by the back-end that binds the task */
    const ot_steps *steps;
    void *src;  /* the instance it draws on: ote_sender, ote_receiver or cot_pool */
    void *impl; /* buffers, made by the first step */
};

static inline size_t ot_task_chunks(const ot_task *t) { return (t->n + OTE_CHUNK - 1) / OTE_CHUNK; }
static inline int ot_task_begin(ot_task *t, chan *ch, size_t c) { return t->steps->begin(t, ch, c); }
static inline int ot_task_send(ot_task *t, chan *ch, size_t c) { return t->steps->send(t, ch, c); }
static inline int ot_task_end(ot_task *t, chan *ch, size_t c) { return t->steps->end(t, ch, c); }
static inline void ot_task_free(ot_task *t) {
    if (t->steps) t->steps->free(t);
}
/* A whole call on one channel: step(t, ch, c) for every chunk c in turn,
 * up to the first error, then done(t) frees the task's buffers. */
typedef int (*ot_task_step)(ot_task *t, chan *ch, size_t c);
static inline int ot_task_run(ot_task *t, chan *ch, ot_task_step step, void (*done)(ot_task *t)) {
    int rc = 0;
    for (size_t c = 0; c < ot_task_chunks(t) && rc == 0; c++) rc = step(t, ch, c);
    done(t);
    return rc;
}

/* The interleaved schedule of several tasks' chunk steps on one channel:
 * R = the chunks in which this party receives (begin, end), S = those in
 * which it sends, each list in the order both parties agree on (the peer's
 * S is our R). Two message flights per party: the first messages of R,
 * then the corrections of S; the directions run chunk by chunk with a
 * bounded look-ahead so neither side buffers the other's whole data. */
typedef struct ot_chunk {
    ot_task *t;
    size_t c;
} ot_chunk;
/* Look-ahead of the schedule, in chunks of OTE_CHUNK OTs: how far our
 * extension matrices run ahead of the peer's answers (A), and how long the
 * corrections wait before we read them (D). The peer's data is buffered
 * for at most about A + D chunks (8 MB of KK13 matrices for A = 32)
 * instead of whole jobs (256 MB for 2^20 ReLUs), and A chunks of slack
 * hide the latency. (Public for the flight model, mpc/flights.h.) */
#define OT_AHEAD 32
#define OT_DELAY 32
/* The silent backend's A = D: its receivers keep no state per chunk in
 * flight (their pads go straight into the task's outputs) and send at most
 * 8 KiB of choice bits per chunk, so its schedule runs twice as far ahead.
 * With A + D + 1 = 129 a segment of one Ferret batch (64 chunks of (16
 * choose 1)-OTs) is one window, where 65 took two: docs/NETWORK.md. A and
 * D must be equal: both directions' data share one stream, and the peer
 * reads our begin i + A and our step i in the order we wrote them only if
 * its end i - D is our step i. */
#define OT_AHEAD_SILENT 64
int ot_steps_run(chan *ch, const ot_chunk *R, size_t nr, const ot_chunk *S, size_t ns) WUR;
/* The same, calling last_send(ctx) (if not NULL) once this party has sent
 * everything of the schedule (the last step of S and the last begin of R,
 * whichever comes later), before that flight's flush: what it sends rides
 * along and is the last thing the peer reads of the schedule. */
int ot_steps_run_hook(chan *ch, const ot_chunk *R, size_t nr, const ot_chunk *S, size_t ns,
                      int (*last_send)(void *ctx), void *ctx) WUR;
/* The same with A = D = ahead instead of OT_AHEAD and OT_DELAY. */
int ot_steps_run_ahead(chan *ch, const ot_chunk *R, size_t nr, const ot_chunk *S, size_t ns,
                       size_t ahead, int (*last_send)(void *ctx), void *ctx) WUR;

#endif
