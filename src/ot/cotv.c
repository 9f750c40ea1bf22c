/* Streamed IKNP correlated OT with a per-OT layout (see ot.h, iknp_cotv).
 *
 * The linear layers of docs/PROTOCOLS.md §6 need COTs whose number of
 * correlations varies per OT (conv borders) and can be large (10^4 values
 * per OT when the weights are bit-decomposed), over batches of 10^7 OTs:
 * iknp_cot would hold n*M values. Here correlations and outputs pass
 * through callbacks OT by OT, and the batch runs in extension chunks cut by
 * the layout (at most OTE_CHUNK OTs and about COTV_CHUNK_BITS of
 * corrections, whole groups of 128 OTs), pipelined COTV_AHEAD chunks
 * ahead.
 *
 * Pads: OT i's pad is the hash of its row under consecutive tweaks
 * (2^63 | chunk start index, running block number within the chunk), and
 * its M values of width b are bits [k*b, (k+1)*b) of it: hashing is the
 * largest cost, so the pads are bit-dense, and a value is extracted with an
 * unaligned load, a shift and a mask. The other IKNP flavours use tweaks
 * with a high word below 2^63, so the tweak spaces are disjoint. */
#include "ot/ot.h"

#include "util/bits.h"
#include "util/mem.h"

#define COTV_HASH_BLOCKS 1024               /* pad blocks hashed per batch */
#define COTV_WIRE_FLUSH ((size_t)1 << 16)   /* hand corrections to the channel */
#define COTV_TWEAK_HI ((uint64_t)1 << 63)

static size_t pad_blocks(size_t M, unsigned b) {
    return (M * b + 127) / 128;
}

/* The b bits at bit offset off of p (b <= 64; 16 bytes readable at p +
 * off/8). */
static inline uint64_t bits_at(const uint8_t *p, size_t off, unsigned b, uint64_t mask) {
    if (b <= 56) {
        uint64_t w;
        memcpy(&w, p + (off >> 3), 8);
        return (w >> (off & 7)) & mask;
    }
    unsigned __int128 w;
    memcpy(&w, p + (off >> 3), 16);
    return (uint64_t)(w >> (off & 7)) & mask;
}

/* One extension chunk: OTs [first, first + mm) of the call. */
typedef struct cotv_chunk {
    size_t first, mm, m; /* m = mm rounded up to 128 */
    uint64_t idx;        /* the instance's OT index at the chunk's start */
    size_t *M;           /* layout, mm entries */
    uint8_t *b;
    block *rows; /* m rows (t or q) */
    uint8_t *c;  /* receiver: the choices */
} cotv_chunk;

/* Buffers of one side. */
typedef struct cotv_buf {
    cotv_chunk k[COTV_AHEAD]; /* receiver: a ring of chunks in flight; sender: k[0] */
    block *p0, *p1; /* pads: pad_cap blocks each (p1: sender only) */
    size_t pad_cap;
    uint64_t *vals; /* nvals = M_max (at least 1) */
    size_t nvals;
    uint8_t *wire; /* sender: corrections; receiver: one OT's corrections */
    size_t wire_cap;
    uint8_t *bits; /* receiver: packed choices of a chunk */
} cotv_buf;

static void chunk_free(cotv_chunk *k) {
    mem_free(k->M);
    mem_free(k->b);
    mem_free_wipe(k->rows, OTE_CHUNK * sizeof(block));
    mem_free_wipe(k->c, OTE_CHUNK);
}

static void cotv_buf_free(cotv_buf *B) {
    for (int i = 0; i < COTV_AHEAD; i++)
        chunk_free(&B->k[i]);
    mem_free_wipe(B->p0, (B->pad_cap + 1) * sizeof(block));
    mem_free_wipe(B->p1, (B->pad_cap + 1) * sizeof(block));
    mem_free_wipe(B->vals, B->nvals * sizeof(uint64_t));
    mem_free_wipe(B->wire, B->wire_cap);
    mem_free_wipe(B->bits, OTE_CHUNK / 8);
    memset(B, 0, sizeof *B);
}

static int cotv_buf_alloc(cotv_buf *B, const cotv_io *io, int sender) {
    memset(B, 0, sizeof *B);
    PARLEY_CHECK(io->M_max <= SIZE_MAX / 256);
    size_t mv = io->M_max ? io->M_max : 1;
    B->nvals = mv;
    B->pad_cap = pad_blocks(mv, 64);
    if (B->pad_cap < COTV_HASH_BLOCKS) B->pad_cap = COTV_HASH_BLOCKS;
    int nk = sender ? 1 : COTV_AHEAD;
    for (int i = 0; i < nk; i++) {
        cotv_chunk *k = &B->k[i];
        k->M = mem_alloc(OTE_CHUNK, sizeof(size_t));
        k->b = mem_alloc(OTE_CHUNK, 1);
        k->rows = mem_alloc(OTE_CHUNK, sizeof(block));
        if (!sender) k->c = mem_alloc(OTE_CHUNK, 1);
        if (!k->M || !k->b || !k->rows || (!sender && !k->c)) goto nomem;
    }
    B->p0 = mem_alloc(B->pad_cap + 1, sizeof(block)); /* + 1: bits_at's slack */
    if (sender) B->p1 = mem_alloc(B->pad_cap + 1, sizeof(block));
    B->vals = mem_alloc(mv, sizeof(uint64_t));
    B->wire_cap = mv * 8 + 32 + (sender ? COTV_WIRE_FLUSH : 0);
    B->wire = mem_alloc(B->wire_cap, 1);
    if (!sender) B->bits = mem_alloc(OTE_CHUNK / 8, 1);
    if (!B->p0 || (sender && !B->p1) || !B->vals || !B->wire || (!sender && !B->bits)) goto nomem;
    return 0;
nomem:
    cotv_buf_free(B);
    return err_set(PARLEY_E_NOMEM, "streamed COT buffers (%zu correlations per OT)", io->M_max);
}

/* Cut the next chunk starting at OT `first`: whole groups of 128 OTs until
 * OTE_CHUNK OTs or COTV_CHUNK_BITS of corrections. Both sides cut alike. */
static void plan_chunk(const cotv_io *io, cotv_chunk *k, size_t first, size_t n) {
    uint64_t bits = 0;
    size_t mm = 0;
    while (first + mm < n && mm < OTE_CHUNK) {
        size_t M;
        unsigned b;
        io->shape(io->ctx, first + mm, &M, &b);
        PARLEY_CHECK(M <= io->M_max && b >= 1 && b <= 64);
        k->M[mm] = M;
        k->b[mm] = (uint8_t)b;
        bits += (uint64_t)M * b;
        mm++;
        if (mm % 128 == 0 && bits >= COTV_CHUNK_BITS) break;
    }
    k->first = first;
    k->mm = mm;
    k->m = ote_padded(mm);
}

/* The OTs [i0, *i1) of chunk k whose pads fit in cap blocks (at least one
 * OT): rep0 gets each OT's row once per pad block, rep1 (if given) the row
 * xor s. Returns the number of blocks. */
static size_t gather_rows(const cotv_chunk *k, size_t i0, size_t cap, size_t *i1, block *rep0,
                          block *rep1, block s) {
    size_t nb = 0, i = i0;
    while (i < k->mm) {
        size_t kb = pad_blocks(k->M[i], k->b[i]);
        if (i > i0 && nb + kb > cap) break;
        block r = k->rows[i];
        for (size_t j = 0; j < kb; j++)
            rep0[nb + j] = r;
        if (rep1) {
            block rs = block_xor(r, s);
            for (size_t j = 0; j < kb; j++)
                rep1[nb + j] = rs;
        }
        nb += kb;
        i++;
    }
    *i1 = i;
    return nb;
}

/* ---- sender ---- */

/* The corrections stream: whole bytes in buf..p, fewer than 64 bits
 * pending in acc. */
typedef struct wire_out {
    uint8_t *buf, *p;
    uint64_t acc;
    unsigned have;
} wire_out;

static int wire_drain(wire_out *o, chan *ch) {
    size_t k = (size_t)(o->p - o->buf);
    o->p = o->buf;
    return k ? chan_send(ch, o->buf, k) : 0;
}

/* Close the group of 128 OTs: pad the stream to a whole byte. */
static void wire_align(wire_out *o) {
    for (; o->have > 0; o->have = o->have > 8 ? o->have - 8 : 0) {
        *o->p++ = (uint8_t)o->acc;
        o->acc >>= 8;
    }
    o->acc = 0;
}

static int send_chunk(ote_sender *s, chan *ch, const cotv_io *io, cotv_buf *B, wire_out *o) {
    cotv_chunk *k = &B->k[0];
    k->idx = s->index;
    TRY(ote_send_chunk(s, ch, k->rows, k->m));
    uint64_t hi = COTV_TWEAK_HI | k->idx, boff = 0;
    uint64_t *x = B->vals;
    for (size_t i0 = 0, i1; i0 < k->mm; i0 = i1) {
        size_t nb = gather_rows(k, i0, B->pad_cap, &i1, B->p0, B->p1, s->s[0]);
        crh_hash(&s->h, B->p0, B->p0, nb, boff, hi);
        crh_hash(&s->h, B->p1, B->p1, nb, boff, hi);
        boff += nb;
        const block *a = B->p0, *c = B->p1;
        for (size_t i = i0; i < i1; i++) {
            size_t M = k->M[i], gi = k->first + i;
            unsigned b = k->b[i];
            uint64_t mask = bits_mask(b);
            if (M) {
                const uint64_t *d = io->delta(io->ctx, gi, M);
                const uint8_t *pa = (const uint8_t *)a, *pc = (const uint8_t *)c;
                uint64_t acc = o->acc;
                unsigned have = o->have;
                uint8_t *p = o->p;
                for (size_t j = 0, off = 0; j < M; j++, off += b) {
                    uint64_t u = bits_at(pa, off, b, mask);
                    /* c=1 gets pad1 + (x + d - pad1) = x + d */
                    uint64_t y = (u + d[j] - bits_at(pc, off, b, mask)) & mask;
                    x[j] = u;
                    acc |= y << have; /* append y to the stream (have < 64) */
                    have += b;
                    if (have >= 64) {
                        memcpy(p, &acc, 8); /* little-endian, as everywhere on the wire */
                        p += 8;
                        have -= 64;
                        acc = have ? y >> (b - have) : 0;
                    }
                }
                o->acc = acc;
                o->have = have;
                o->p = p;
            }
            io->out(io->ctx, gi, x, M, b);
            size_t kb = pad_blocks(M, b);
            a += kb;
            c += kb;
            if ((gi + 1) % 128 == 0) wire_align(o);
            if ((size_t)(o->p - o->buf) >= COTV_WIRE_FLUSH) TRY(wire_drain(o, ch));
        }
    }
    /* The receiver reads this chunk before it extends the one COTV_AHEAD
     * after it: hand it all to the channel (a chunk ends on a group of 128, so no
     * bits are left in the writer unless it is the last). */
    return wire_drain(o, ch);
}

int iknp_cotv_send(ote_sender *s, chan *ch, size_t n, const cotv_io *io) {
    PARLEY_CHECK(s->w == 128);
    if (n == 0) return 0;
    cotv_buf B;
    TRY(cotv_buf_alloc(&B, io, 1));
    wire_out o = {B.wire, B.wire, 0, 0};
    int rc = 0;
    for (size_t first = 0; first < n && rc == 0; first += B.k[0].mm) {
        plan_chunk(io, &B.k[0], first, n);
        rc = send_chunk(s, ch, io, &B, &o);
    }
    if (rc == 0) {
        wire_align(&o);
        rc = wire_drain(&o, ch);
    }
    if (rc == 0) rc = chan_flush(ch);
    cotv_buf_free(&B);
    return rc;
}

/* ---- receiver ---- */

/* Extend chunk k: ask for its choices and send u. */
static int recv_extend(ote_receiver *r, chan *ch, const cotv_io *io, cotv_buf *B, cotv_chunk *k) {
    io->choices(io->ctx, k->first, k->mm, k->c);
    memset(B->bits, 0, k->m / 8);
    for (size_t i = 0; i < k->mm; i++)
        B->bits[i >> 3] |= (uint8_t)((k->c[i] & 1) << (i & 7));
    k->idx = r->index;
    return ote_recv_chunk(r, ch, k->rows, B->bits, NULL, k->m);
}

/* The corrections are read OT by OT, exactly the bytes each needs; the
 * last byte read may hold the next OT's first bits: its top `have` bits. */
typedef struct wire_in {
    uint8_t last;
    unsigned have; /* 0..7 */
} wire_in;

/* Read chunk k's corrections and output x + c*delta. */
static int recv_finish(ote_receiver *r, chan *ch, const cotv_io *io, cotv_buf *B, cotv_chunk *k,
                       wire_in *in) {
    uint64_t hi = COTV_TWEAK_HI | k->idx, boff = 0;
    uint64_t *v = B->vals;
    for (size_t i0 = 0, i1; i0 < k->mm; i0 = i1) {
        size_t nb = gather_rows(k, i0, B->pad_cap, &i1, B->p0, NULL, block_make(0, 0));
        crh_hash(&r->h, B->p0, B->p0, nb, boff, hi);
        boff += nb;
        const block *a = B->p0;
        for (size_t i = i0; i < i1; i++) {
            size_t M = k->M[i], gi = k->first + i;
            unsigned b = k->b[i];
            uint64_t mask = bits_mask(b), cm = 0 - (uint64_t)(k->c[i] & 1);
            uint64_t need = (uint64_t)M * b;
            size_t nbytes = need > in->have ? (size_t)((need - in->have + 7) / 8) : 0;
            /* wire[0] = the carried byte, then the new bytes; value j of
             * the OT starts at bit 8 - have + j*b. */
            uint8_t *w = B->wire;
            w[0] = in->last;
            if (nbytes) TRY(chan_recv(ch, w + 1, nbytes));
            const uint8_t *pa = (const uint8_t *)a;
            size_t off = 8 - in->have;
            for (size_t j = 0; j < M; j++, off += b)
                v[j] = (bits_at(pa, j * b, b, mask) + (bits_at(w, off, b, mask) & cm)) & mask;
            in->last = w[nbytes];
            in->have = (unsigned)(8 * (1 + nbytes) - off);
            io->out(io->ctx, gi, v, M, b);
            a += pad_blocks(M, b);
            if ((gi + 1) % 128 == 0) in->have = 0; /* the rest of the byte is padding */
        }
    }
    return 0;
}

int iknp_cotv_recv(ote_receiver *r, chan *ch, size_t n, const cotv_io *io) {
    PARLEY_CHECK(r->w == 128);
    if (n == 0) return 0;
    cotv_buf B;
    TRY(cotv_buf_alloc(&B, io, 0));
    wire_in in = {0, 0};
    int rc = 0;
    /* A ring of COTV_AHEAD chunks: chunk j lives in B.k[j % COTV_AHEAD].
     * Extend the first COTV_AHEAD, then per chunk read its corrections and
     * extend the one COTV_AHEAD later in its place, so the sender always
     * has COTV_AHEAD - 1 extensions to answer while we read one answer:
     * two flights per COTV_AHEAD chunks on the critical path, not per two. */
    size_t ext = 0, next = 0; /* chunks extended; the first OT not yet extended */
    for (; rc == 0 && ext < COTV_AHEAD && next < n; ext++) {
        cotv_chunk *k = &B.k[ext % COTV_AHEAD];
        plan_chunk(io, k, next, n);
        next += k->mm;
        rc = recv_extend(r, ch, io, &B, k);
        if (rc == 0 && next == n) rc = chan_flush(ch);
    }
    for (size_t done = 0; rc == 0 && done < ext; done++) {
        cotv_chunk *k = &B.k[done % COTV_AHEAD];
        rc = recv_finish(r, ch, io, &B, k, &in);
        if (rc == 0 && next < n) { /* reuse k's buffers for chunk done + COTV_AHEAD */
            plan_chunk(io, k, next, n);
            next += k->mm;
            ext++;
            rc = recv_extend(r, ch, io, &B, k);
            if (rc == 0 && next == n) rc = chan_flush(ch);
        }
    }
    cotv_buf_free(&B);
    return rc;
}
