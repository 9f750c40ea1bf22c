/* KK13 1-out-of-N OT (Kolesnikov-Kumaresan 2013) for N <= 256.
 *
 * Rows are 256 bits with the Walsh-Hadamard code (distance 128) as row
 * correlation; the sender's pad for message k is G(q_i ^ (C(k) & s), i),
 * which equals the receiver's G(t_i, i) exactly for k = c_i. G hashes the
 * whole 256-bit row in one correlation-robust chain (docs/SECURITY-OT.md,
 * "KK13 pads"):
 *
 *   G(x, i) = H(x_lo ^ H(x_hi, (KK_TW_IN, i)), (KK_TW_OUT, i))
 *
 * with the tweakable hash H of crypto/prg.h and i the instance's OT index
 * (no tweak repeats). Hashing the halves apart, H(lo) ^ H(hi), would let
 * an attacker who knows pads search the 2^64 values of each half's share
 * of s on its own; in the chain the inner output is unknown until the hi
 * half is guessed, so the lo half can only be tested after it: a guess of
 * all 128 bits at once. */
#include "ot/ot.h"
#include "ot/task_impl.h"

#include "util/bits.h"
#include "util/mem.h"

/* Tweak high words of the two calls: bits 63 and 62 together, which no
 * other hash of src/ot uses (IKNP stays below 2^62, its streamed COTs use
 * 2^63 | index with index < 2^62, the silent flavours 2^62 | block, Ferret's
 * trees 2^62 | 2^61). */
#define KK_TW_IN (3ULL << 62)
#define KK_TW_OUT ((3ULL << 62) | 1)

typedef struct kk_buf {
    size_t cap;       /* rows per chunk: OTE_CHUNK, or fewer for a small n */
    block *rows;      /* cap rows of two blocks */
    block *h2;        /* 2 * KK_SUB blocks: pads and the chain's scratch */
    uint64_t *pads;   /* KK_SUB * N */
    uint8_t *wire;
} kk_buf;

/* Rows are hashed KK_SUB at a time, all N pads of those rows, so the
 * offsets, hashes and pads stay in L1; tweaks are those of whole-chunk
 * hashing (index + row). */
#define KK_SUB 128

/* Buffers as large as a chunk of this call needs (small calls stay cheap). */
static size_t kk_cap(size_t n) { return n < OTE_CHUNK ? ote_padded(n ? n : 1) : OTE_CHUNK; }

static void kk_buf_free(kk_buf *b, size_t N) {
    if (b->rows) mem_free_wipe(b->rows, 2 * b->cap * sizeof(block));
    if (b->h2) mem_free_wipe(b->h2, 2 * KK_SUB * sizeof(block));
    if (b->pads) mem_free_wipe(b->pads, (size_t)KK_SUB * N * sizeof(uint64_t));
    mem_free(b->wire);
}

static int kk_buf_alloc(kk_buf *b, size_t n, size_t N, unsigned l) {
    memset(b, 0, sizeof *b);
    b->cap = kk_cap(n);
    b->rows = mem_alloc(2 * b->cap, sizeof(block));
    b->h2 = mem_alloc(2 * KK_SUB, sizeof(block));
    b->pads = mem_alloc((size_t)KK_SUB * N, sizeof(uint64_t));
    b->wire = mem_alloc(bits_bytes(b->cap * N * l) + 16, 1);
    if (!b->rows || !b->h2 || !b->pads || !b->wire) {
        kk_buf_free(b, N);
        return PARLEY_E_NOMEM;
    }
    return 0;
}

/* 128-bit lanes for the XOR passes (one SSE operation each where the
 * target has them, two word operations elsewhere). */
typedef uint64_t kk_v2 __attribute__((vector_size(16)));

static inline kk_v2 kk_ld(const block *p) {
    kk_v2 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void kk_st(block *p, kk_v2 v) { memcpy(p, &v, sizeof v); }

/* out[i] = G(rows[i] ^ off, idx + i) for i < mm (off = NULL: no offset);
 * tmp holds mm blocks. */
void kk_pad_hash(crh *h, block *out, block *tmp, const block *rows, const block *off, size_t mm,
                 uint64_t idx) {
    kk_v2 olo = {0, 0}, ohi = {0, 0};
    if (off) olo = kk_ld(&off[0]), ohi = kk_ld(&off[1]);
    for (size_t i = 0; i < mm; i++) kk_st(&tmp[i], kk_ld(&rows[2 * i + 1]) ^ ohi);
    crh_hash(h, tmp, tmp, mm, idx, KK_TW_IN);
    for (size_t i = 0; i < mm; i++) kk_st(&tmp[i], kk_ld(&tmp[i]) ^ kk_ld(&rows[2 * i]) ^ olo);
    crh_hash(h, out, tmp, mm, idx, KK_TW_OUT);
}

/* The receiver's pads: out[i] = low l bits of G(t_i). */
static void kk_hash(crh *h, kk_buf *b, uint64_t *pads, size_t mm, uint64_t idx, unsigned l) {
    uint64_t mask = bits_mask(l);
    for (size_t j0 = 0; j0 < mm; j0 += KK_SUB) {
        size_t sub = mm - j0 < KK_SUB ? mm - j0 : KK_SUB;
        kk_pad_hash(h, b->h2, b->h2 + KK_SUB, b->rows + 2 * j0, NULL, sub, idx + j0);
        for (size_t i = 0; i < sub; i++) pads[j0 + i] = b->h2[i].w[0] & mask;
    }
}

static void kk_check(size_t N, unsigned l) { PARLEY_CHECK(N >= 2 && N <= 256 && l >= 1 && l <= 64); }

/* ---- chunk steps (ot_task) ---- */

typedef struct kk_impl {
    kk_buf b;       /* send: (N, l); begin: (1, 1) */
    uint64_t *msg;  /* send: cap * N */
    uint8_t *cpad;  /* begin: cap choices */
    uint8_t *wire;  /* end: corrections of one chunk */
    size_t N, cap;
} kk_impl;

static void kk_task_free(ot_task *t) {
    kk_impl *k = t->impl;
    if (!k) return;
    if (k->b.rows) kk_buf_free(&k->b, k->N);
    if (k->msg) mem_free_wipe(k->msg, k->cap * t->N * sizeof(uint64_t));
    if (k->cpad) mem_free_wipe(k->cpad, k->cap);
    mem_free(k->wire);
    mem_free(k);
    t->impl = NULL;
}

static kk_impl *kk_impl_get(ot_task *t) {
    if (!t->impl) {
        kk_impl *k = mem_calloc(1, sizeof *k);
        if (!k) return NULL;
        k->cap = kk_cap(t->n);
        t->impl = k;
    }
    return t->impl;
}

typedef struct kk_copy {
    const uint64_t *msgs;
    unsigned N;
} kk_copy;

static void kk_copy_gen(void *vctx, uint64_t *out, size_t first, size_t mm) {
    const kk_copy *c = vctx;
    memcpy(out, c->msgs + first * c->N, mm * c->N * sizeof *out);
}

/* Sender, chunk c: read the extension matrix, hash the N pads of every row
 * and send the masked messages. */
static int kk_task_send(ot_task *t, chan *ch, size_t c) {
    ote_sender *s = t->src;
    unsigned N = t->N, l = t->l;
    kk_check(N, l);
    PARLEY_CHECK(s->w == 256 && s->kk_cs);
    kk_impl *k = kk_impl_get(t);
    if (!k) return PARLEY_E_NOMEM;
    if (!k->msg) {
        k->N = N;
        TRY(kk_buf_alloc(&k->b, t->n, N, l));
        k->msg = mem_alloc(k->cap * N, sizeof(uint64_t));
        if (!k->msg) return PARLEY_E_NOMEM;
    }
    kk_buf *b = &k->b;
    size_t i0 = c * OTE_CHUNK, n = t->n;
    size_t mm = n - i0 < OTE_CHUNK ? n - i0 : OTE_CHUNK, m = ote_padded(mm);
    uint64_t idx = s->index, mask = bits_mask(l);
    unsigned word = N * l <= 64; /* a whole OT's corrections fit one word */
    TRY(ote_send_chunk(s, ch, b->rows, m));
    bitw wr = bitw_start(b->wire);
    if (word && t->genw) {
        /* One word per OT: messages packed by the generator, pads folded
         * in as they are hashed. */
        uint64_t *mw = k->msg, *pw = b->pads;
        t->genw(t->gen_ctx, mw, i0, mm);
        for (size_t j0 = 0; j0 < mm; j0 += KK_SUB) {
            size_t sub = mm - j0 < KK_SUB ? mm - j0 : KK_SUB;
            const block *rows = b->rows + 2 * j0;
            memset(pw, 0, sub * sizeof *pw);
            for (unsigned q = 0; q < N; q++) {
                kk_pad_hash(&s->h, b->h2, b->h2 + KK_SUB, rows, s->kk_cs + 2 * q, sub, idx + j0);
                for (size_t i = 0; i < sub; i++) pw[i] |= (b->h2[i].w[0] & mask) << (q * l);
            }
            for (size_t i = 0; i < sub; i++) bitw_put(&wr, mw[j0 + i] ^ pw[i], N * l);
        }
    } else {
        if (t->gen) {
            t->gen(t->gen_ctx, k->msg, i0, mm);
        } else {
            kk_copy cp = {t->msgs, N};
            kk_copy_gen(&cp, k->msg, i0, mm);
        }
        for (size_t j0 = 0; j0 < mm; j0 += KK_SUB) {
            size_t sub = mm - j0 < KK_SUB ? mm - j0 : KK_SUB;
            const block *rows = b->rows + 2 * j0;
            for (unsigned q = 0; q < N; q++) {
                kk_pad_hash(&s->h, b->h2, b->h2 + KK_SUB, rows, s->kk_cs + 2 * q, sub, idx + j0);
                for (size_t i = 0; i < sub; i++) b->pads[i * N + q] = b->h2[i].w[0];
            }
            const uint64_t *mg = k->msg + j0 * N;
            for (size_t i = 0; i < sub; i++) {
                const uint64_t *pd = b->pads + i * N, *mi = mg + i * N;
                if (word) {
                    uint64_t w = 0;
                    for (unsigned q = 0; q < N; q++) w |= ((mi[q] ^ pd[q]) & mask) << (q * l);
                    bitw_put(&wr, w, N * l);
                } else {
                    for (unsigned q = 0; q < N; q++) bitw_put(&wr, mi[q] ^ pd[q], l);
                }
            }
        }
    }
    bitw_end(&wr);
    return chan_send(ch, b->wire, bits_bytes(mm * N * l));
}

/* Receiver, chunk c: send the extension matrix with the choices' codewords
 * and keep the pads H(t_i) in out. */
static int kk_task_begin(ot_task *t, chan *ch, size_t c) {
    ote_receiver *r = t->src;
    unsigned N = t->N, l = t->l;
    kk_check(N, l);
    PARLEY_CHECK(r->w == 256);
    kk_impl *k = kk_impl_get(t);
    if (!k) return PARLEY_E_NOMEM;
    if (!k->cpad) {
        k->N = 1;
        TRY(kk_buf_alloc(&k->b, t->n, 1, 1));
        k->cpad = mem_calloc(k->cap, 1);
        if (!k->cpad) return PARLEY_E_NOMEM;
    }
    size_t i0 = c * OTE_CHUNK, n = t->n;
    size_t mm = n - i0 < OTE_CHUNK ? n - i0 : OTE_CHUNK, m = ote_padded(mm);
    uint64_t idx = r->index;
    for (size_t i = 0; i < mm; i++) {
        PARLEY_CHECK(t->choices[i0 + i] < N);
        k->cpad[i] = t->choices[i0 + i];
    }
    memset(k->cpad + mm, 0, m - mm);
    TRY(ote_recv_chunk(r, ch, k->b.rows, NULL, k->cpad, m));
    kk_hash(&r->h, &k->b, t->out + i0, mm, idx, l);
    return 0;
}

/* Receiver, chunk c: read the sender's masked messages, unmask the chosen
 * one. */
static int kk_task_end(ot_task *t, chan *ch, size_t c) {
    unsigned N = t->N, l = t->l;
    kk_check(N, l);
    kk_impl *k = kk_impl_get(t);
    if (!k) return PARLEY_E_NOMEM;
    if (!k->wire && !(k->wire = mem_alloc(bits_bytes(k->cap * N * l) + 16, 1))) return PARLEY_E_NOMEM;
    size_t i0 = c * OTE_CHUNK, n = t->n;
    size_t mm = n - i0 < OTE_CHUNK ? n - i0 : OTE_CHUNK, nb = bits_bytes(mm * N * l);
    TRY(chan_recv(ch, k->wire, nb));
    bitr rd = bitr_start(k->wire, nb);
    uint64_t mask = bits_mask(l);
    const uint8_t *choices = t->choices;
    uint64_t *out = t->out;
    for (size_t i = i0; i < i0 + mm; i++) {
        uint64_t pick = 0;
        if (N * l <= 64) {
            /* All N fields in one word; shifts take the same time for
             * every amount, so the choice does not leak. */
            uint64_t v = bitr_get(&rd, N * l);
            pick = (v >> (choices[i] * l)) & mask;
        } else {
            /* Constant-time select of field c_i among the N fields. */
            for (unsigned q = 0; q < N; q++) {
                uint64_t v = bitr_get(&rd, l);
                uint64_t eq = (uint64_t)(q ^ choices[i]);
                uint64_t sel = ((eq | (0 - eq)) >> 63) - 1; /* all-ones iff q == c_i */
                pick |= v & sel;
            }
        }
        out[i] ^= pick;
    }
    return 0;
}

const ot_steps kk_steps = {kk_task_begin, kk_task_send, kk_task_end, kk_task_free, NULL};

/* ---- whole calls: the steps in a loop ---- */

static int run_steps(ot_task *t, chan *ch, ot_task_step step) {
    return ot_task_run(t, ch, step, kk_task_free);
}

int kkot_send_gen(ote_sender *s, chan *ch, size_t n, unsigned N, unsigned l, kk_gen_fn gen,
                  void *ctx) {
    kk_check(N, l);
    ot_task t = {.kind = OT_TASK_KK, .n = n, .N = N, .l = l, .src = s, .gen = gen, .gen_ctx = ctx};
    return run_steps(&t, ch, kk_task_send);
}

int kkot_send(ote_sender *s, chan *ch, const uint64_t *msgs, size_t n, unsigned N, unsigned l) {
    kk_check(N, l);
    ot_task t = {.kind = OT_TASK_KK, .n = n, .N = N, .l = l, .src = s, .msgs = msgs};
    TRY(run_steps(&t, ch, kk_task_send));
    return chan_flush(ch);
}

int kkot_recv_begin(ote_receiver *r, chan *ch, uint64_t *out, const uint8_t *choices, size_t n,
                    unsigned N, unsigned l) {
    kk_check(N, l);
    ot_task t = {.kind = OT_TASK_KK, .n = n, .N = N, .l = l, .src = r, .choices = choices, .out = out};
    return run_steps(&t, ch, kk_task_begin);
}

int kkot_recv_end(chan *ch, uint64_t *out, const uint8_t *choices, size_t n, unsigned N,
                  unsigned l) {
    kk_check(N, l);
    ot_task t = {.kind = OT_TASK_KK, .n = n, .N = N, .l = l, .choices = choices, .out = out};
    return run_steps(&t, ch, kk_task_end);
}

int kkot_recv(ote_receiver *r, chan *ch, uint64_t *out, const uint8_t *choices, size_t n,
              unsigned N, unsigned l) {
    TRY(kkot_recv_begin(r, ch, out, choices, n, N, l));
    TRY(chan_flush(ch));
    return kkot_recv_end(ch, out, choices, n, N, l);
}
