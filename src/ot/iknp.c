/* IKNP flavours: random, chosen-message and correlated OT (docs/PROTOCOLS.md §2.2).
 *
 * Pads come from the tweakable hash: for OT i and output block j,
 * H(row, (index + i, j)). The sender's two pads use q_i and q_i ^ s; the
 * receiver's pad uses t_i, equal to the sender's pad of its choice. */
#include "ot/ot.h"
#include "ot/task_impl.h"

#include "util/bits.h"
#include "util/mem.h"

typedef struct iknp_buf {
    size_t cap;  /* rows per chunk: OTE_CHUNK, or fewer for a small n */
    block *rows; /* cap rows */
    block *alt;  /* cap rows (q ^ s) */
    block *p0, *p1, *tmp; /* cap * nblk pads */
    uint8_t *bits;        /* choice bits / wire buffer */
    size_t nblk;
} iknp_buf;

/* Buffers as large as a chunk of this call needs (small calls stay cheap). */
static size_t iknp_cap(size_t n) { return n < OTE_CHUNK ? ote_padded(n ? n : 1) : OTE_CHUNK; }

static void iknp_buf_free(iknp_buf *b) {
    size_t pads = b->cap * b->nblk * sizeof(block);
    if (b->rows) mem_free_wipe(b->rows, b->cap * sizeof(block));
    if (b->alt) mem_free_wipe(b->alt, b->cap * sizeof(block));
    if (b->p0) mem_free_wipe(b->p0, pads);
    if (b->p1) mem_free_wipe(b->p1, pads);
    if (b->tmp) mem_free_wipe(b->tmp, b->cap * sizeof(block));
    mem_free(b->bits);
}

/* wire_bits_per_ot: the largest per-OT correction payload. */
static int iknp_buf_alloc(iknp_buf *b, size_t n, size_t nblk, size_t wire_bits_per_ot) {
    memset(b, 0, sizeof *b);
    b->nblk = nblk ? nblk : 1;
    b->cap = iknp_cap(n);
    size_t wire;
    if (size_mul(&wire, b->cap, wire_bits_per_ot) < 0) return PARLEY_E_NOMEM;
    wire = wire / 8 + 16;
    b->rows = mem_alloc(b->cap, sizeof(block));
    b->alt = mem_alloc(b->cap, sizeof(block));
    b->p0 = mem_alloc(b->cap * b->nblk, sizeof(block));
    b->p1 = mem_alloc(b->cap * b->nblk, sizeof(block));
    b->tmp = mem_alloc(b->cap, sizeof(block));
    b->bits = mem_alloc(wire > b->cap / 8 ? wire : b->cap / 8, 1);
    if (!b->rows || !b->alt || !b->p0 || !b->p1 || !b->tmp || !b->bits) {
        iknp_buf_free(b);
        return PARLEY_E_NOMEM;
    }
    return 0;
}

/* out[i*nblk + j] = H(rows[i], (idx + i, j)). */
static void hash_rows(crh *h, block *out, const block *rows, size_t m, size_t nblk, uint64_t idx,
                      block *tmp) {
    if (nblk == 1) {
        crh_hash(h, out, rows, m, idx, 0);
        return;
    }
    for (size_t j = 0; j < nblk; j++) {
        crh_hash(h, tmp, rows, m, idx, j);
        for (size_t i = 0; i < m; i++) out[i * nblk + j] = tmp[i];
    }
}

static size_t sum_widths(const unsigned *ls, size_t M) {
    size_t L = 0;
    for (size_t k = 0; k < M; k++) {
        PARLEY_CHECK(ls[k] >= 1 && ls[k] <= 64);
        L += ls[k];
    }
    return L;
}

/* Pack choice bytes into m bits (zero padding past mm). */
static void pack_choices(uint8_t *bits, const uint8_t *choices, size_t mm, size_t m) {
    memset(bits, 0, m / 8);
    for (size_t i = 0; i < mm; i++) bits[i >> 3] |= (uint8_t)((choices[i] & 1) << (i & 7));
}

/* Receiver's first half for every IKNP flavour: extend, hash t_i and hand
 * each chunk's pads to `take`. */
typedef void (*pad_fn)(void *ctx, size_t first, size_t mm, const block *pads, size_t nblk);

/* One chunk (OTs c*OTE_CHUNK ...) of the receiver's first half. */
static int recv_pads_chunk(ote_receiver *r, chan *ch, iknp_buf *b, const uint8_t *choices,
                           size_t n, size_t c, pad_fn take, void *ctx) {
    PARLEY_CHECK(r->w == 128);
    size_t i0 = c * OTE_CHUNK, mm = n - i0 < OTE_CHUNK ? n - i0 : OTE_CHUNK, m = ote_padded(mm);
    uint64_t idx = r->index;
    pack_choices(b->bits, choices + i0, mm, m);
    TRY(ote_recv_chunk(r, ch, b->rows, b->bits, NULL, m));
    hash_rows(&r->h, b->p0, b->rows, mm, b->nblk, idx, b->tmp);
    take(ctx, i0, mm, b->p0, b->nblk);
    return 0;
}

static int iknp_recv_pads(ote_receiver *r, chan *ch, const uint8_t *choices, size_t n, size_t nblk,
                          pad_fn take, void *ctx) {
    iknp_buf b;
    TRY(iknp_buf_alloc(&b, n, nblk, 0));
    int rc = 0;
    for (size_t c = 0; c * OTE_CHUNK < n && rc == 0; c++)
        rc = recv_pads_chunk(r, ch, &b, choices, n, c, take, ctx);
    iknp_buf_free(&b);
    return rc;
}

/* Sender's half: extend, hash q_i and q_i ^ s, hand both pads to `take`,
 * which writes `wire_bits` bits per OT of corrections into the wire buffer. */
typedef void (*pad2_fn)(void *ctx, uint8_t *wire, size_t first, size_t mm, const block *p0,
                        const block *p1, size_t nblk);

static int send_pads_chunk(ote_sender *s, chan *ch, iknp_buf *b, size_t n, size_t c,
                           size_t wire_bits, pad2_fn take, void *ctx) {
    PARLEY_CHECK(s->w == 128);
    size_t i0 = c * OTE_CHUNK, mm = n - i0 < OTE_CHUNK ? n - i0 : OTE_CHUNK, m = ote_padded(mm);
    uint64_t idx = s->index;
    TRY(ote_send_chunk(s, ch, b->rows, m));
    for (size_t i = 0; i < mm; i++) b->alt[i] = block_xor(b->rows[i], s->s[0]);
    hash_rows(&s->h, b->p0, b->rows, mm, b->nblk, idx, b->tmp);
    hash_rows(&s->h, b->p1, b->alt, mm, b->nblk, idx, b->tmp);
    take(ctx, b->bits, i0, mm, b->p0, b->p1, b->nblk);
    if (wire_bits) return chan_send(ch, b->bits, bits_bytes(mm * wire_bits));
    return 0;
}

static int iknp_send_pads(ote_sender *s, chan *ch, size_t n, size_t nblk, size_t wire_bits,
                          pad2_fn take, void *ctx, int flush) {
    iknp_buf b;
    TRY(iknp_buf_alloc(&b, n, nblk, wire_bits));
    int rc = 0;
    for (size_t c = 0; c * OTE_CHUNK < n && rc == 0; c++)
        rc = send_pads_chunk(s, ch, &b, n, c, wire_bits, take, ctx);
    if (rc == 0 && flush) rc = chan_flush(ch);
    iknp_buf_free(&b);
    return rc;
}

/* ---- random OT ---- */

typedef struct rot_ctx {
    block (*out2)[2];
    block *out;
} rot_ctx;

static void rot_take_recv(void *vctx, size_t first, size_t mm, const block *pads, size_t nblk) {
    rot_ctx *c = vctx;
    memcpy(c->out + first, pads, mm * sizeof(block));
}

static void rot_take_send(void *vctx, uint8_t *wire, size_t first, size_t mm, const block *p0,
                          const block *p1, size_t nblk) {
    rot_ctx *c = vctx;
    for (size_t i = 0; i < mm; i++) {
        c->out2[first + i][0] = p0[i];
        c->out2[first + i][1] = p1[i];
    }
}

int iknp_rot_send(ote_sender *s, chan *ch, block (*out)[2], size_t n) {
    rot_ctx c = {.out2 = out};
    return iknp_send_pads(s, ch, n, 1, 0, rot_take_send, &c, 1);
}

int iknp_rot_recv(ote_receiver *r, chan *ch, block *out, const uint8_t *choices, size_t n) {
    rot_ctx c = {.out = out};
    TRY(iknp_recv_pads(r, ch, choices, n, 1, rot_take_recv, &c));
    return chan_flush(ch);
}

/* ---- correlated OT, M widths per OT ---- */

typedef struct cot_ctx {
    uint64_t *x;
    const uint64_t *delta;
    const unsigned *ls;
    size_t M;
} cot_ctx;

static void cot_take_recv(void *vctx, size_t first, size_t mm, const block *pads, size_t nblk) {
    cot_ctx *c = vctx;
    for (size_t i = 0; i < mm; i++) {
        bitr rd = bitr_start((const uint8_t *)&pads[i * nblk], nblk * 16);
        uint64_t *o = c->x + (first + i) * c->M;
        for (size_t k = 0; k < c->M; k++) o[k] = bitr_get(&rd, c->ls[k]);
    }
}

static void cot_take_send(void *vctx, uint8_t *wire, size_t first, size_t mm, const block *p0,
                          const block *p1, size_t nblk) {
    cot_ctx *c = vctx;
    bitw wr = bitw_start(wire);
    for (size_t i = 0; i < mm; i++) {
        bitr r0 = bitr_start((const uint8_t *)&p0[i * nblk], nblk * 16);
        bitr r1 = bitr_start((const uint8_t *)&p1[i * nblk], nblk * 16);
        uint64_t *x = c->x + (first + i) * c->M;
        const uint64_t *d = c->delta + (first + i) * c->M;
        for (size_t k = 0; k < c->M; k++) {
            unsigned l = c->ls[k];
            uint64_t a = bitr_get(&r0, l), b = bitr_get(&r1, l);
            x[k] = a;
            bitw_put(&wr, a + d[k] - b, l); /* receiver with c=1: b + (a + d - b) */
        }
    }
    bitw_end(&wr);
}

/* ---- chosen-message OT ---- */

typedef struct cmot_ctx {
    uint64_t *out;
    const uint64_t *msgs;
    unsigned l;
} cmot_ctx;

static void ot_take_recv(void *vctx, size_t first, size_t mm, const block *pads, size_t nblk) {
    cmot_ctx *c = vctx;
    uint64_t mask = bits_mask(c->l);
    for (size_t i = 0; i < mm; i++) c->out[first + i] = pads[i].w[0] & mask;
}

static void ot_take_send(void *vctx, uint8_t *wire, size_t first, size_t mm, const block *p0,
                         const block *p1, size_t nblk) {
    cmot_ctx *c = vctx;
    bitw wr = bitw_start(wire);
    for (size_t i = 0; i < mm; i++) {
        const uint64_t *m = c->msgs + 2 * (first + i);
        bitw_put(&wr, m[0] ^ p0[i].w[0], c->l);
        bitw_put(&wr, m[1] ^ p1[i].w[0], c->l);
    }
    bitw_end(&wr);
}

/* ---- chunk steps (ot_task) for COT and chosen-message OT ---- */

typedef struct iknp_impl {
    iknp_buf b;     /* begin / send */
    int have_b;
    uint8_t *wire;  /* end: corrections of one chunk */
} iknp_impl;

static void iknp_task_free(ot_task *t) {
    iknp_impl *k = t->impl;
    if (!k) return;
    if (k->have_b) iknp_buf_free(&k->b);
    mem_free(k->wire);
    mem_free(k);
    t->impl = NULL;
}

static size_t task_bits(const ot_task *t) {
    return t->kind == OT_TASK_COT ? sum_widths(t->ls, t->M) : 2 * (size_t)t->l;
}

static iknp_impl *iknp_impl_get(ot_task *t, int with_buf, size_t wire_bits) {
    if (!t->impl && !(t->impl = mem_calloc(1, sizeof(iknp_impl)))) return NULL;
    iknp_impl *k = t->impl;
    if (with_buf && !k->have_b) {
        size_t nblk = t->kind == OT_TASK_COT ? (sum_widths(t->ls, t->M) + 127) / 128 : 1;
        if (iknp_buf_alloc(&k->b, t->n, nblk, wire_bits) < 0) return NULL;
        k->have_b = 1;
    }
    return k;
}

static int iknp_task_begin(ot_task *t, chan *ch, size_t c) {
    iknp_impl *k = iknp_impl_get(t, 1, 0);
    if (!k) return PARLEY_E_NOMEM;
    if (t->kind == OT_TASK_COT) {
        cot_ctx x = {t->out, NULL, t->ls, t->M};
        return recv_pads_chunk(t->src, ch, &k->b, t->choices, t->n, c, cot_take_recv, &x);
    }
    PARLEY_CHECK(t->l >= 1 && t->l <= 64);
    cmot_ctx x = {t->out, NULL, t->l};
    return recv_pads_chunk(t->src, ch, &k->b, t->choices, t->n, c, ot_take_recv, &x);
}

static int iknp_task_send(ot_task *t, chan *ch, size_t c) {
    size_t bits = task_bits(t);
    iknp_impl *k = iknp_impl_get(t, 1, bits);
    if (!k) return PARLEY_E_NOMEM;
    if (t->kind == OT_TASK_COT) {
        cot_ctx x = {t->x, t->delta, t->ls, t->M};
        return send_pads_chunk(t->src, ch, &k->b, t->n, c, bits, cot_take_send, &x);
    }
    PARLEY_CHECK(t->l >= 1 && t->l <= 64);
    cmot_ctx x = {NULL, t->msgs, t->l};
    return send_pads_chunk(t->src, ch, &k->b, t->n, c, bits, ot_take_send, &x);
}

/* Apply the sender's corrections to chunk c: COT out += c_i * d; chosen
 * message out ^= the chosen masked message. */
static int iknp_task_end(ot_task *t, chan *ch, size_t c) {
    size_t bits = task_bits(t);
    iknp_impl *k = iknp_impl_get(t, 0, 0);
    if (!k) return PARLEY_E_NOMEM;
    if (!k->wire && !(k->wire = mem_alloc(bits_bytes(iknp_cap(t->n) * bits) + 16, 1)))
        return PARLEY_E_NOMEM;
    size_t i0 = c * OTE_CHUNK, n = t->n;
    size_t mm = n - i0 < OTE_CHUNK ? n - i0 : OTE_CHUNK, nb = bits_bytes(mm * bits);
    TRY(chan_recv(ch, k->wire, nb));
    bitr rd = bitr_start(k->wire, nb);
    const uint8_t *choices = t->choices;
    uint64_t *out = t->out;
    if (t->kind == OT_TASK_COT) {
        ot_task_cot_correct(t, &rd, i0, mm);
    } else {
        unsigned l = t->l;
        for (size_t i = i0; i < i0 + mm; i++) {
            uint64_t c0 = bitr_get(&rd, l), c1 = bitr_get(&rd, l);
            uint64_t mask = 0 - (uint64_t)(choices[i] & 1);
            out[i] ^= (c0 & ~mask) | (c1 & mask);
        }
    }
    return 0;
}

const ot_steps iknp_steps = {iknp_task_begin, iknp_task_send, iknp_task_end, iknp_task_free, NULL};

/* ---- whole calls: the steps in a loop ---- */

static int run_steps(ot_task *t, chan *ch, ot_task_step step) {
    return ot_task_run(t, ch, step, iknp_task_free);
}

int iknp_cot_send_defer(ote_sender *s, chan *ch, uint64_t *x, const uint64_t *delta, size_t n,
                        const unsigned *ls, size_t M) {
    (void)sum_widths(ls, M);
    ot_task t = {.kind = OT_TASK_COT, .n = n, .ls = ls, .M = M, .src = s, .x = x, .delta = delta};
    return run_steps(&t, ch, iknp_task_send);
}

int iknp_cot_send(ote_sender *s, chan *ch, uint64_t *x, const uint64_t *delta, size_t n,
                  const unsigned *ls, size_t M) {
    TRY(iknp_cot_send_defer(s, ch, x, delta, n, ls, M));
    return chan_flush(ch);
}

int iknp_cot_recv_begin(ote_receiver *r, chan *ch, uint64_t *out, const uint8_t *choices, size_t n,
                        const unsigned *ls, size_t M) {
    (void)sum_widths(ls, M);
    ot_task t = {.kind = OT_TASK_COT, .n = n, .ls = ls, .M = M, .src = r, .choices = choices, .out = out};
    return run_steps(&t, ch, iknp_task_begin);
}

int iknp_cot_recv_end(chan *ch, uint64_t *out, const uint8_t *choices, size_t n, const unsigned *ls,
                      size_t M) {
    (void)sum_widths(ls, M);
    ot_task t = {.kind = OT_TASK_COT, .n = n, .ls = ls, .M = M, .choices = choices, .out = out};
    return run_steps(&t, ch, iknp_task_end);
}

int iknp_cot_recv(ote_receiver *r, chan *ch, uint64_t *out, const uint8_t *choices, size_t n,
                  const unsigned *ls, size_t M) {
    TRY(iknp_cot_recv_begin(r, ch, out, choices, n, ls, M));
    TRY(chan_flush(ch));
    return iknp_cot_recv_end(ch, out, choices, n, ls, M);
}

int iknp_ot_send_defer(ote_sender *s, chan *ch, const uint64_t *msgs, size_t n, unsigned l) {
    PARLEY_CHECK(l >= 1 && l <= 64);
    ot_task t = {.kind = OT_TASK_OT, .n = n, .l = l, .src = s, .msgs = msgs};
    return run_steps(&t, ch, iknp_task_send);
}

int iknp_ot_send(ote_sender *s, chan *ch, const uint64_t *msgs, size_t n, unsigned l) {
    TRY(iknp_ot_send_defer(s, ch, msgs, n, l));
    return chan_flush(ch);
}

int iknp_ot_recv_begin(ote_receiver *r, chan *ch, uint64_t *out, const uint8_t *choices, size_t n,
                       unsigned l) {
    PARLEY_CHECK(l >= 1 && l <= 64);
    ot_task t = {.kind = OT_TASK_OT, .n = n, .l = l, .src = r, .choices = choices, .out = out};
    return run_steps(&t, ch, iknp_task_begin);
}

int iknp_ot_recv_end(chan *ch, uint64_t *out, const uint8_t *choices, size_t n, unsigned l) {
    PARLEY_CHECK(l >= 1 && l <= 64);
    ot_task t = {.kind = OT_TASK_OT, .n = n, .l = l, .choices = choices, .out = out};
    return run_steps(&t, ch, iknp_task_end);
}

int iknp_ot_recv(ote_receiver *r, chan *ch, uint64_t *out, const uint8_t *choices, size_t n,
                 unsigned l) {
    TRY(iknp_ot_recv_begin(r, ch, out, choices, n, l));
    TRY(chan_flush(ch));
    return iknp_ot_recv_end(ch, out, choices, n, l);
}

/* ---- raw rows ---- */

/* The raw rows of n OTs, chunk by chunk, into rows: the receiver's (r,
 * with its choices) or the sender's (s). */
static int raw_rows(ote_receiver *r, ote_sender *s, chan *ch, block *rows, const uint8_t *choices,
                    size_t n) {
    iknp_buf b;
    TRY(iknp_buf_alloc(&b, n, 1, 0));
    int rc = 0;
    for (size_t i0 = 0; i0 < n && rc == 0; i0 += OTE_CHUNK) {
        size_t mm = n - i0 < OTE_CHUNK ? n - i0 : OTE_CHUNK, m = ote_padded(mm);
        if (r) {
            pack_choices(b.bits, choices + i0, mm, m);
            rc = ote_recv_chunk(r, ch, b.rows, b.bits, NULL, m);
        } else {
            rc = ote_send_chunk(s, ch, b.rows, m);
        }
        if (rc == 0) memcpy(rows + i0, b.rows, mm * sizeof(block));
    }
    iknp_buf_free(&b);
    return rc;
}

int iknp_raw_recv(ote_receiver *r, chan *ch, block *t, const uint8_t *choices, size_t n) {
    PARLEY_CHECK(r->w == 128);
    return raw_rows(r, NULL, ch, t, choices, n);
}

int iknp_raw_send(ote_sender *s, chan *ch, block *q, size_t n) {
    PARLEY_CHECK(s->w == 128);
    return raw_rows(NULL, s, ch, q, NULL, n);
}
