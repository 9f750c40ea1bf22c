/* OT flavours on silent random COTs, their chunk steps and the schedule
 * with refills; see silent.h. */
#include "ot/silent.h"

#include "ot/task_impl.h"
#include "util/bits.h"
#include "util/mem.h"

#include <string.h>

/* Tweak high word of the pads: bit 62 and the pad's block number. The tree
 * messages of ferret.c use bits 62 and 61 together, IKNP stays below 2^62
 * or sets bit 63; the low word is the COT's index in its instance. */
#define SIL_TW ((uint64_t)1 << 62)
#define SIL_SUB 256 /* OTs hashed per pass */

unsigned silent_cots_per_ot(int kind, unsigned N) {
    return kind == OT_TASK_KK ? bits_ceil_log2(N) : 1;
}

void silent_job_bytes_split(size_t n, unsigned cots_per_ot, uint64_t per, uint64_t *by_receiver,
                            uint64_t *by_sender) {
    /* RROT (cots_per_ot = 0): no choice bits */
    *by_receiver = cots_per_ot ? bits_bytes((uint64_t)n * cots_per_ot) : 0;
    *by_sender = bits_bytes((uint64_t)n * per);
}

uint64_t silent_job_bytes(size_t n, unsigned cots_per_ot, uint64_t per) {
    uint64_t r, s;
    silent_job_bytes_split(n, cots_per_ot, per, &r, &s);
    return r + s;
}

/* A task as (N choose 1)-OT_l with L COTs per OT, B pad blocks per key,
 * `per` sender bits per OT. */
typedef struct sview {
    int kind;
    unsigned N, l, L, B;
    unsigned cb; /* the receiver's choice bits per OT on the wire */
    int v4;      /* KK on a pool of 4-bit VOLE correlations: one per OT */
    uint64_t per;
    int packed; /* KK/OT with N*l <= 64: an OT's messages in one word */
    int implied; /* KK: message 0 not sent (per = (N - 1) * l) */
} sview;

static void view_of(const ot_task *t, sview *v) {
    memset(v, 0, sizeof *v);
    v->kind = t->kind;
    v->L = 1;
    v->B = 1;
    v->cb = 1;
    PARLEY_CHECK(t->kind == OT_TASK_KK || !((const cot_pool *)t->src)->nib);
    switch (t->kind) {
    case OT_TASK_KK:
        PARLEY_CHECK(t->N >= 2 && t->N <= 256 && t->l >= 1 && t->l <= 64);
        v->N = t->N;
        v->l = t->l;
        v->L = bits_ceil_log2(t->N);
        v->cb = v->L;
        if (((const cot_pool *)t->src)->nib) { /* key j = H(v ^ (j ^ d) Delta) */
            PARLEY_CHECK(t->N <= 16);
            v->v4 = 1;
            v->L = 1;
            v->cb = 4;
        }
        break;
    case OT_TASK_OT:
        PARLEY_CHECK(t->l >= 1 && t->l <= 64);
        v->N = 2;
        v->l = t->l;
        break;
    case OT_TASK_COT:
        for (size_t k = 0; k < t->M; k++) {
            PARLEY_CHECK(t->ls[k] >= 1 && t->ls[k] <= 64);
            v->per += t->ls[k];
        }
        v->B = (unsigned)((v->per + 127) / 128);
        if (v->B == 0) v->B = 1;
        return;
    case OT_TASK_RROT:
        PARLEY_CHECK(t->l >= 1 && t->l <= 63);
        v->l = t->l;
        return;
    default:
        PARLEY_CHECK(t->kind == OT_TASK_ROT);
        return;
    }
    v->per = (uint64_t)v->N * v->l;
    v->B = v->v4 ? 1 : (unsigned)((v->per + 127) / 128); /* v4: a block per key */
    v->packed = v->per <= 64;
    if (t->kind == OT_TASK_KK && t->implied) {
        v->implied = 1;
        v->per -= v->l;
    }
}

static size_t chunk_len(const ot_task *t, size_t c) {
    size_t i0 = c * OTE_CHUNK;
    return t->n - i0 < OTE_CHUNK ? t->n - i0 : OTE_CHUNK;
}

static size_t silent_task_cots(const ot_task *t, size_t c) {
    if (((const cot_pool *)t->src)->nib) return chunk_len(t, c); /* one correlation per OT */
    return (size_t)silent_cots_per_ot(t->kind, t->N) * chunk_len(t, c);
}

/* The b bits at bit offset off of p (b <= 64; 16 bytes readable at
 * p + off/8). */
static inline uint64_t bits_at(const uint8_t *p, size_t off, unsigned b) {
    unsigned __int128 w;
    memcpy(&w, p + (off >> 3), 16);
    return (uint64_t)(w >> (off & 7)) & bits_mask(b);
}

/* Output i of a task, in its words or bytes (x8, out8: RROT and KK with
 * short messages, ot.h). */
static inline void out_put(const ot_task *t, size_t i, uint64_t v) {
    if (t->out8)
        t->out8[i] = (uint8_t)v;
    else
        t->out[i] = v;
}
static inline void x_put(const ot_task *t, size_t i, uint64_t v) {
    if (t->x8)
        t->x8[i] = (uint8_t)v;
    else
        t->x[i] = v;
}

/* ---- buffers ---- */

typedef struct sil_impl {
    size_t cap;    /* OTs per chunk */
    uint8_t *wire; /* one chunk's data, either direction */
    size_t wire_cap;
    uint8_t *d;     /* sender: the receiver's bits, cap * L, one per byte */
    block *key;     /* SIL_SUB keys */
    block *g0, *g1; /* SIL_SUB * B + 1 pad blocks */
    block *tmp;     /* SIL_SUB blocks */
    uint64_t *acc;  /* sender KK/OT: SIL_SUB pads (packed) or SIL_SUB * N */
    uint64_t *msg;  /* sender KK/OT: cap * N messages */
    size_t acc_n, msg_n, g_n;
    uint64_t mj[8]; /* packed: the slices of the messages k with bit j set */
} sil_impl;

static void silent_task_free(ot_task *t) {
    sil_impl *k = t->impl;
    if (!k) return;
    if (k->wire) mem_free_wipe(k->wire, k->wire_cap);
    if (k->d) mem_free_wipe(k->d, k->cap * 8);
    if (k->key) mem_free_wipe(k->key, SIL_SUB * sizeof(block));
    if (k->g0) mem_free_wipe(k->g0, k->g_n * sizeof(block));
    if (k->g1) mem_free_wipe(k->g1, k->g_n * sizeof(block));
    if (k->tmp) mem_free_wipe(k->tmp, SIL_SUB * sizeof(block));
    if (k->acc) mem_free_wipe(k->acc, k->acc_n * 8);
    if (k->msg) mem_free_wipe(k->msg, k->msg_n * 8);
    mem_free_wipe(k, sizeof *k);
    t->impl = NULL;
}

static sil_impl *impl_get(ot_task *t, const sview *v) {
    if (t->impl) return t->impl;
    sil_impl *k = mem_calloc(1, sizeof *k);
    if (!k) return NULL;
    t->impl = k;
    k->cap = t->n < OTE_CHUNK ? t->n : OTE_CHUNK;
    uint64_t a = (uint64_t)k->cap * v->cb, b = (uint64_t)k->cap * v->per;
    k->wire_cap = bits_bytes(a > b ? a : b) + 16;
    k->g_n = (size_t)SIL_SUB * v->B + 1;
    k->wire = mem_alloc(k->wire_cap, 1);
    k->d = mem_alloc(k->cap, 8); /* L <= 8 bytes per OT */
    k->key = mem_alloc(SIL_SUB, sizeof(block));
    k->g0 = mem_calloc(k->g_n, sizeof(block));
    k->g1 = mem_calloc(k->g_n, sizeof(block));
    k->tmp = mem_alloc(SIL_SUB, sizeof(block));
    if (!k->wire || !k->d || !k->key || !k->g0 || !k->g1 || !k->tmp) {
        silent_task_free(t);
        return NULL;
    }
    if (v->kind == OT_TASK_KK || v->kind == OT_TASK_OT) {
        k->acc_n = (size_t)SIL_SUB * (v->packed ? 1 : v->N);
        k->msg_n = k->cap * v->N;
        k->acc = mem_alloc(k->acc_n, 8);
        k->msg = mem_alloc(k->msg_n, 8);
        if (!k->acc || !k->msg) {
            silent_task_free(t);
            return NULL;
        }
        if (v->packed)
            for (unsigned j = 0; j < v->L; j++)
                for (unsigned q = 0; q < v->N; q++)
                    if ((q >> j) & 1) k->mj[j] |= bits_mask(v->l) << (q * v->l);
    }
    return k;
}

/* g[i*B + b] = H(key[i], (u0 + i, b)) for i < cnt, b < B. */
static void pads(crh *h, block *g, const block *key, size_t cnt, unsigned B, uint64_t u0,
                 block *tmp) {
    if (B == 1) {
        crh_hash(h, g, key, cnt, u0, SIL_TW);
        return;
    }
    for (unsigned b = 0; b < B; b++) {
        crh_hash(h, tmp, key, cnt, u0, SIL_TW | b);
        for (size_t i = 0; i < cnt; i++)
            g[i * B + b] = tmp[i];
    }
}

/* Field c of the N fields of l bits at p, without a branch or an index on
 * c (the receiver's choice). */
static inline uint64_t pick_field(const uint8_t *p, unsigned c, unsigned N, unsigned l,
                                  int packed) {
    if (packed) {
        uint64_t w;
        memcpy(&w, p, 8);
        return (w >> (c * l)) & bits_mask(l); /* shifts take the same time for every amount */
    }
    uint64_t v = 0;
    for (unsigned q = 0; q < N; q++)
        v |= bits_at(p, (size_t)q * l, l) & eq_mask(q, c);
    return v;
}

/* ---- steps ---- */

/* What every step starts with: the task's view and its buffers (made by
 * the first step). */
static int step_open(ot_task *t, sview *v, sil_impl **k) {
    view_of(t, v);
    *k = impl_get(t, v);
    return *k ? 0 : err_set(PARLEY_E_NOMEM, "out of memory for silent OT");
}

/* Receiver, chunk c: take the COTs, send d = choice ^ b, keep the pads of
 * its own keys in out. */
static int silent_task_begin(ot_task *t, chan *ch, size_t c) {
    sview v;
    sil_impl *k;
    TRY(step_open(t, &v, &k));
    size_t i0 = c * OTE_CHUNK, mm = chunk_len(t, c);
    cot_pool *pool = t->src;
    uint64_t u0;
    const block *cot = cot_pool_take(pool, (size_t)v.L * mm, &u0);
    crh *h = &pool->h;
    if (v.kind == OT_TASK_RROT) { /* the choice is the COT's: nothing to send */
        for (size_t s0 = 0; s0 < mm; s0 += SIL_SUB) {
            size_t cnt = mm - s0 < SIL_SUB ? mm - s0 : SIL_SUB;
            pads(h, k->g0, cot + s0, cnt, 1, u0 + s0, k->tmp);
            for (size_t i = 0; i < cnt; i++)
                out_put(t, i0 + s0 + i,
                        (k->g0[i].w[0] & bits_mask(v.l)) | (cot[s0 + i].w[0] & 1) << v.l);
        }
        return 0;
    }
    const uint8_t *chs = t->choices + i0;
    bitw w = bitw_start(k->wire);
    if (v.v4) { /* d = c ^ u; the key is H(w) */
        const uint8_t *U = cot_pool_nibbles(pool, cot);
        for (size_t i = 0; i < mm; i++) {
            PARLEY_CHECK(chs[i] < v.N);
            bitw_put(&w, (chs[i] ^ U[i]) & 15u, 4);
        }
        bitw_end(&w);
        TRY(chan_send(ch, k->wire, bits_bytes(mm * 4)));
        for (size_t s0 = 0; s0 < mm; s0 += SIL_SUB) {
            size_t cnt = mm - s0 < SIL_SUB ? mm - s0 : SIL_SUB;
            crh_hash(h, k->g0, cot + s0, cnt, u0 + s0, SIL_TW);
            for (size_t i = 0; i < cnt; i++)
                out_put(t, i0 + s0 + i, k->g0[i].w[0] & bits_mask(v.l));
        }
        return 0;
    }
    for (size_t i = 0; i < mm; i++) { /* d, one bit per byte, then packed */
        unsigned x = chs[i];
        if (v.kind == OT_TASK_KK)
            PARLEY_CHECK(x < v.N);
        else
            x &= 1;
        for (unsigned j = 0; j < v.L; j++)
            k->d[i * v.L + j] = (uint8_t)(((x >> j) ^ (unsigned)cot[j * mm + i].w[0]) & 1);
    }
    bits_pack1(k->wire, k->d, mm * v.L);
    TRY(chan_send(ch, k->wire, bits_bytes(mm * v.L)));
    for (size_t s0 = 0; s0 < mm; s0 += SIL_SUB) {
        size_t cnt = mm - s0 < SIL_SUB ? mm - s0 : SIL_SUB;
        pads(h, k->g0, cot + s0, cnt, v.B, u0 + s0, k->tmp);
        for (unsigned j = 1; j < v.L; j++) {
            pads(h, k->g1, cot + j * mm + s0, cnt, v.B, u0 + j * mm + s0, k->tmp);
            for (size_t x = 0; x < cnt * v.B; x++)
                k->g0[x] = block_xor(k->g0[x], k->g1[x]);
        }
        const uint8_t *g = (const uint8_t *)k->g0;
        size_t gb = (size_t)v.B * 16;
        if (v.kind == OT_TASK_ROT) {
            memcpy(t->rot1 + i0 + s0, k->g0, cnt * sizeof(block));
        } else if (v.kind == OT_TASK_COT) {
            for (size_t i = 0; i < cnt; i++) {
                uint64_t *o = t->out + (i0 + s0 + i) * t->M;
                size_t off = 0;
                for (size_t q = 0; q < t->M; q++) {
                    o[q] = bits_at(g + i * gb, off, t->ls[q]);
                    off += t->ls[q];
                }
            }
        } else {
            for (size_t i = 0; i < cnt; i++) {
                unsigned x = v.kind == OT_TASK_KK ? chs[s0 + i] : chs[s0 + i] & 1u;
                out_put(t, i0 + s0 + i, pick_field(g + i * gb, x, v.N, v.l, v.packed));
            }
        }
    }
    return 0;
}

/* Sender, chunk c: read d, take the COTs, hash both keys of every COT and
 * send the masked messages (or corrections). */
static int silent_task_send(ot_task *t, chan *ch, size_t c) {
    sview v;
    sil_impl *k;
    TRY(step_open(t, &v, &k));
    size_t i0 = c * OTE_CHUNK, mm = chunk_len(t, c);
    if (v.kind == OT_TASK_RROT) { /* random choices: K^0 = q, K^1 = q ^ Delta */
        memset(k->d, 0, mm);
    } else {
        size_t nb = bits_bytes(mm * v.cb);
        TRY(chan_recv(ch, k->wire, nb));
        bitr r = bitr_start(k->wire, nb);
        if (v.v4)
            for (size_t x = 0; x < mm; x++) k->d[x] = (uint8_t)bitr_get(&r, 4);
        else
            bits_unpack1(k->d, k->wire, mm * v.L);
    }
    cot_pool *pool = t->src;
    uint64_t u0;
    const block *cot = cot_pool_take(pool, (size_t)v.L * mm, &u0);
    block D = pool->delta;
    int kk = v.kind == OT_TASK_KK || v.kind == OT_TASK_OT;
    unsigned N = v.N, l = v.l;
    if (kk) { /* this chunk's messages: packed words, or N per OT */
        if (v.kind == OT_TASK_KK && v.packed && t->genw) {
            t->genw(t->gen_ctx, k->msg, i0, mm);
        } else {
            if (v.kind == OT_TASK_KK && t->gen)
                t->gen(t->gen_ctx, k->msg, i0, mm);
            else
                memcpy(k->msg, t->msgs + i0 * N, mm * N * sizeof(uint64_t));
            if (v.packed)
                for (size_t i = 0; i < mm; i++) { /* word i overwrites entries already read */
                    uint64_t wd = 0;
                    for (unsigned q = 0; q < N; q++)
                        wd |= (k->msg[i * N + q] & bits_mask(l)) << (q * l);
                    k->msg[i] = wd;
                }
        }
    }
    crh *h = &pool->h;
    bitw w = bitw_start(k->wire);
    size_t gb = (size_t)v.B * 16;
    for (size_t s0 = 0; s0 < mm; s0 += SIL_SUB) {
        size_t cnt = mm - s0 < SIL_SUB ? mm - s0 : SIL_SUB;
        if (kk && !v.packed) /* packed: crh_hash_pack or crh_hash_kk writes every word */
            memset(k->acc, 0, cnt * N * sizeof(uint64_t));
        if (v.v4 && v.packed) /* key j: v ^ (j ^ d) Delta, all under the correlation's tweak */
            crh_hash_pack(h, k->acc, cot + s0, k->d + s0, pool->D, cnt, N, l, u0 + s0, SIL_TW);
        for (unsigned j = 0; v.v4 && !v.packed && j < N; j++) { /* key j: v ^ (j ^ d) Delta */
            for (size_t i = 0; i < cnt; i++)
                k->key[i] = block_xor(cot[s0 + i], pool->D[(j ^ k->d[s0 + i]) & 15u]);
            crh_hash(h, k->g0, k->key, cnt, u0 + s0, SIL_TW);
            uint64_t ml = bits_mask(l);
            for (size_t i = 0; i < cnt; i++) k->acc[i * N + j] ^= k->g0[i].w[0] & ml;
        }
        int kkp = kk && v.packed && !v.v4; /* both pads of every COT in one pass */
        if (kkp)
            crh_hash_kk(h, k->acc, cot + s0, mm, k->d + s0 * v.L, D, k->mj, cnt, v.L, u0 + s0,
                        SIL_TW);
        for (unsigned j = 0; !v.v4 && !kkp && j < v.L; j++) {
            const block *q = cot + j * mm + s0;
            for (size_t i = 0; i < cnt; i++)
                k->key[i] = block_xor(q[i], block_and(D, block_mask(k->d[(s0 + i) * v.L + j])));
            uint64_t u = u0 + j * mm + s0;
            pads(h, k->g0, k->key, cnt, v.B, u, k->tmp);
            for (size_t i = 0; i < cnt; i++)
                k->key[i] = block_xor(k->key[i], D);
            pads(h, k->g1, k->key, cnt, v.B, u, k->tmp);
            if (!kk) break; /* one COT per OT */
            const uint8_t *g0 = (const uint8_t *)k->g0, *g1 = (const uint8_t *)k->g1;
            for (size_t i = 0; i < cnt; i++) /* messages past a word (packed: crh_hash_kk) */
                for (unsigned x = 0; x < N; x++) {
                    const uint8_t *g = ((x >> j) & 1) ? g1 : g0;
                    k->acc[i * N + x] ^= bits_at(g + i * gb, (size_t)x * l, l);
                }
        }
        if (v.kind == OT_TASK_ROT) {
            for (size_t i = 0; i < cnt; i++) {
                t->rot2[i0 + s0 + i][0] = k->g0[i];
                t->rot2[i0 + s0 + i][1] = k->g1[i];
            }
        } else if (v.kind == OT_TASK_RROT) {
            uint64_t mk = bits_mask(v.l);
            for (size_t i = 0; i < cnt; i++) {
                size_t e = i0 + s0 + i;
                if (v.l <= 32) {
                    x_put(t, e, (k->g0[i].w[0] & mk) | (k->g1[i].w[0] & mk) << v.l);
                } else { /* two words */
                    t->x[2 * e] = k->g0[i].w[0] & mk;
                    t->x[2 * e + 1] = k->g1[i].w[0] & mk;
                }
            }
        } else if (v.kind == OT_TASK_COT) {
            const uint8_t *g0 = (const uint8_t *)k->g0, *g1 = (const uint8_t *)k->g1;
            for (size_t i = 0; i < cnt; i++) {
                size_t e = (i0 + s0 + i) * t->M, off = 0;
                for (size_t q = 0; q < t->M; q++) {
                    unsigned lq = t->ls[q];
                    uint64_t a = bits_at(g0 + i * gb, off, lq), b = bits_at(g1 + i * gb, off, lq);
                    t->x[e + q] = a;
                    bitw_put(&w, a + t->delta[e + q] - b, lq); /* c = 1: b + (a + d - b) */
                    off += lq;
                }
            }
        } else if (v.implied && v.packed) {
            /* rho = field 0 of msg ^ pads; every field ^= rho; field 0 (now
             * zero) is not sent */
            uint64_t rep = 0, ml = bits_mask(l);
            for (unsigned q = 0; q < N; q++) rep |= (uint64_t)1 << (q * l);
            for (size_t i = 0; i < cnt; i++) {
                uint64_t wd = k->msg[s0 + i] ^ k->acc[i], rho = wd & ml;
                x_put(t, i0 + s0 + i, rho);
                bitw_put(&w, (wd ^ rho * rep) >> l, (unsigned)v.per);
            }
        } else if (v.implied) {
            for (size_t i = 0; i < cnt; i++) {
                const uint64_t *m = k->msg + (s0 + i) * N, *a = k->acc + i * N;
                uint64_t rho = m[0] ^ a[0];
                x_put(t, i0 + s0 + i, rho);
                for (unsigned x = 1; x < N; x++) bitw_put(&w, m[x] ^ a[x] ^ rho, l);
            }
        } else if (v.packed) {
            for (size_t i = 0; i < cnt; i++)
                bitw_put(&w, k->msg[s0 + i] ^ k->acc[i], (unsigned)v.per);
        } else {
            for (size_t i = 0; i < cnt; i++)
                for (unsigned x = 0; x < N; x++)
                    bitw_put(&w, k->msg[(s0 + i) * N + x] ^ k->acc[i * N + x], l);
        }
    }
    bitw_end(&w);
    if (v.per) TRY(chan_send(ch, k->wire, bits_bytes(mm * v.per)));
    return 0;
}

/* Receiver, chunk c: read the sender's data, unmask the chosen message or
 * add the correction. */
static int silent_task_end(ot_task *t, chan *ch, size_t c) {
    sview v;
    view_of(t, &v);
    if (!v.per) return 0;
    sil_impl *k;
    TRY(step_open(t, &v, &k));
    size_t i0 = c * OTE_CHUNK, mm = chunk_len(t, c), nb = bits_bytes(mm * v.per);
    TRY(chan_recv(ch, k->wire, nb));
    bitr rd = bitr_start(k->wire, nb);
    const uint8_t *chs = t->choices;
    if (v.kind == OT_TASK_COT) {
        ot_task_cot_correct(t, &rd, i0, mm);
        return 0;
    }
    unsigned N = v.N, l = v.l;
    for (size_t i = i0; i < i0 + mm; i++) {
        unsigned x = v.kind == OT_TASK_KK ? chs[i] : chs[i] & 1u;
        uint64_t pick = 0;
        if (v.packed) {
            /* implied: field 0 is zero and not on the wire */
            uint64_t wd = bitr_get(&rd, (unsigned)v.per);
            if (v.implied) wd <<= l;
            pick = (wd >> (x * l)) & bits_mask(l);
        } else {
            for (unsigned q = v.implied ? 1 : 0; q < N; q++)
                pick |= bitr_get(&rd, l) & eq_mask(q, x);
        }
        if (t->out8)
            t->out8[i] ^= (uint8_t)pick;
        else
            t->out[i] ^= pick;
    }
    return 0;
}

const ot_steps silent_steps = {silent_task_begin, silent_task_send, silent_task_end,
                               silent_task_free, silent_task_cots};

/* ---- the schedule with refills ---- */

/* A direction's pools: [0] the COTs, [1] the 4-bit VOLE correlations
 * (NULL when the lane has none); a task draws on the one it was bound to. */
typedef struct sched_dir {
    cot_pool *p[2];
} sched_dir;

static int pool_of(const sched_dir *d, const ot_chunk *c) {
    return c->t->src == d->p[0] ? 0 : 1;
}

typedef struct trees_ctx {
    sched_dir *ps;
    chan *ch;
    silent_stats *st;
    int want[2]; /* the pools whose next batch's trees ride on the last flight */
    int sent[2]; /* trees sent, the batch not yet finished */
} trees_ctx;

static int send_one(trees_ctx *c, int k) {
    if (k == 1 && c->sent[0]) { /* the correlations' trees take COTs: finish those first */
        cot_pool_refill_finish(c->ps->p[0]);
        c->sent[0] = 0;
    }
    TRY(cot_pool_refill_send(c->ps->p[k], c->ch, c->st ? &c->st->gen_bytes : NULL));
    if (c->st) c->st->batches_sent++;
    c->sent[k] = 1;
    return 0;
}

/* Send the messages of our direction's next batches (no flush). */
static int send_trees(void *vctx) {
    trees_ctx *c = vctx;
    for (int k = 0; k < 2; k++)
        if (c->want[k]) TRY(send_one(c, k));
    return 0;
}

static void finish_one(trees_ctx *c, int k) {
    if (!c->sent[k]) return;
    cot_pool_refill_finish(c->ps->p[k]);
    c->sent[k] = 0;
}

/* Read the peer's trees of our receiving direction's next batch and make
 * it, counted. */
static int recv_batch(cot_pool *pr, chan *ch, silent_stats *st) {
    TRY(cot_pool_refill_recv(pr, ch));
    if (st) {
        st->batches_recv++;
        st->gen_bytes_recv += cot_pool_batch_bytes(pr);
    }
    return 0;
}

/* The chunks from j on that fit what the direction's pools hold: returns
 * the first that does not (or n); a[] is left with what remains. */
static size_t fit(const sched_dir *d, const ot_chunk *L, size_t j, size_t n, size_t a[2]) {
    for (int k = 0; k < 2; k++) a[k] = d->p[k] ? cot_pool_avail(d->p[k]) : 0;
    for (size_t need; j < n; j++) {
        int k = pool_of(d, &L[j]);
        if ((need = silent_task_cots(L[j].t, L[j].c)) > a[k]) break;
        a[k] -= need;
    }
    return j;
}

static int steps_run(sched_dir *ps, sched_dir *pr, chan *ch, const ot_chunk *R, size_t nr,
                     const ot_chunk *S, size_t ns, silent_stats *st) {
    size_t is = 0, ir = 0;
    trees_ctx tc = {ps, ch, st, {0, 0}, {0, 0}};
    int used_s[2] = {0, 0}, used_r[2] = {0, 0};
    for (int seg = 0; is < ns || ir < nr; seg++) {
        /* Flights of refills and of every segment after the first are the
         * backend's extra; the first segment's are the OTs' own. */
        uint64_t fl0 = chan_get_stats(ch)->flights;
        int ks = is < ns ? pool_of(ps, &S[is]) : 0, kr = ir < nr ? pool_of(pr, &R[ir]) : 0;
        int ref_s = is < ns && silent_task_cots(S[is].t, S[is].c) > cot_pool_avail(ps->p[ks]);
        int ref_r = ir < nr && silent_task_cots(R[ir].t, R[ir].c) > cot_pool_avail(pr->p[kr]);
        if (ref_s && !tc.sent[ks]) {
            TRY(send_one(&tc, ks));
            TRY(chan_flush(ch));
        }
        if (ref_r) TRY(recv_batch(pr->p[kr], ch, st));
        if (ref_s) finish_one(&tc, ks);
        for (int k = 0; k < 2; k++) finish_one(&tc, k); /* none is left pending */
        /* The steps that fit the COTs at hand; a refill always makes room
         * for at least one (COT_POOL_CARRY bounds a chunk). */
        size_t as[2], ar[2];
        size_t js = fit(ps, S, is, ns, as), jr = fit(pr, R, ir, nr, ar);
        PARLEY_CHECK(js > is || jr > ir);
        for (size_t j = is; j < js; j++) used_s[pool_of(ps, &S[j])] = 1;
        for (size_t j = ir; j < jr; j++) used_r[pool_of(pr, &R[j])] = 1;
        /* If our direction runs short right after this segment, its next
         * batch's trees ride on the segment's last flight of ours (the
         * receiver reads them once the segment is done). */
        tc.want[0] = tc.want[1] = 0;
        if (js < ns && js > is) tc.want[pool_of(ps, &S[js])] = 1;
        /* The exchange's last segment: a pool it leaves with fewer COTs
         * than its room makes its next batch ahead of need, the trees sent
         * behind the COT sender's last message of the segment and read by
         * the receiver right after the segment, so the next exchange starts
         * with a batch in stock instead of stopping for one
         * (docs/PROTOCOLS.md §2.4). The correlations' pool does so only
         * after an exchange that drew on it, and no pool does once its
         * stock covers the rest of its budget (cot_pool_set_budget). */
        int last = js == ns && jr == nr, ahead_s[2] = {0, 0}, ahead_r[2] = {0, 0};
        for (int k = 0; k < 2; k++) {
            ahead_s[k] = last && js > is && ps->p[k] && as[k] < ps->p[k]->room &&
                         (k == 0 || used_s[1]) && cot_pool_wanted(ps->p[k]);
            ahead_r[k] = last && jr > ir && pr->p[k] && ar[k] < pr->p[k]->room &&
                         (k == 0 || used_r[1]) && cot_pool_wanted(pr->p[k]);
            if (ahead_s[k]) tc.want[k] = 1;
        }
        int hook = tc.want[0] || tc.want[1];
        uint64_t fl1 = chan_get_stats(ch)->flights;
        TRY(ot_steps_run_ahead(ch, R + ir, jr - ir, S + is, js - is, OT_AHEAD_SILENT,
                               hook ? send_trees : NULL, &tc));
        if (st) st->extra_flights += (seg ? chan_get_stats(ch)->flights : fl1) - fl0;
        for (int k = 0; k < 2; k++)
            if (ahead_s[k]) finish_one(&tc, k);
        for (int k = 0; k < 2; k++)
            if (ahead_r[k]) TRY(recv_batch(pr->p[k], ch, st));
        is = js;
        ir = jr;
    }
    return 0;
}

int silent_steps_run(cot_pool *ps, cot_pool *pr, chan *ch, const ot_chunk *R, size_t nr,
                     const ot_chunk *S, size_t ns, silent_stats *st) {
    return silent_steps_run4(ps, NULL, pr, NULL, ch, R, nr, S, ns, st);
}

int silent_steps_run4(cot_pool *ps, cot_pool *ps4, cot_pool *pr, cot_pool *pr4, chan *ch,
                      const ot_chunk *R, size_t nr, const ot_chunk *S, size_t ns,
                      silent_stats *st) {
    PARLEY_CHECK((ps || ns == 0) && (pr || nr == 0));
    sched_dir ds = {{ps, ps4}}, dr = {{pr, pr4}};
    return steps_run(&ds, &dr, ch, R, nr, S, ns, st);
}

/* ---- whole calls ---- */

static int run_task(ot_task *t, chan *ch, int sender) {
    t->steps = &silent_steps;
    size_t nc = ot_task_chunks(t);
    ot_chunk *st = mem_alloc(nc ? nc : 1, sizeof *st);
    if (!st) return err_set(PARLEY_E_NOMEM, "out of memory for silent OT");
    for (size_t c = 0; c < nc; c++)
        st[c] = (ot_chunk){t, c};
    int rc = sender ? silent_steps_run(t->src, NULL, ch, NULL, 0, st, nc, NULL)
                    : silent_steps_run(NULL, t->src, ch, st, nc, NULL, 0, NULL);
    ot_task_free(t);
    mem_free(st);
    return rc;
}

int silent_rot_send(cot_pool *f, chan *ch, block (*out)[2], size_t n) {
    ot_task t = {.kind = OT_TASK_ROT, .n = n, .src = f, .rot2 = out};
    return run_task(&t, ch, 1);
}

int silent_rot_recv(cot_pool *f, chan *ch, block *out, const uint8_t *choices, size_t n) {
    ot_task t = {.kind = OT_TASK_ROT, .n = n, .src = f, .choices = choices, .rot1 = out};
    return run_task(&t, ch, 0);
}

int silent_ot_send(cot_pool *f, chan *ch, const uint64_t *msgs, size_t n, unsigned l) {
    ot_task t = {.kind = OT_TASK_OT, .n = n, .l = l, .src = f, .msgs = msgs};
    return run_task(&t, ch, 1);
}

int silent_ot_recv(cot_pool *f, chan *ch, uint64_t *out, const uint8_t *choices, size_t n,
                   unsigned l) {
    ot_task t = {.kind = OT_TASK_OT, .n = n, .l = l, .src = f, .choices = choices, .out = out};
    return run_task(&t, ch, 0);
}

int silent_cot_send(cot_pool *f, chan *ch, uint64_t *x, const uint64_t *delta, size_t n,
                    const unsigned *ls, size_t M) {
    ot_task t = {.kind = OT_TASK_COT, .n = n, .ls = ls, .M = M, .src = f, .x = x, .delta = delta};
    return run_task(&t, ch, 1);
}

int silent_cot_recv(cot_pool *f, chan *ch, uint64_t *out, const uint8_t *choices, size_t n,
                    const unsigned *ls, size_t M) {
    ot_task t = {
        .kind = OT_TASK_COT, .n = n, .ls = ls, .M = M, .src = f, .choices = choices, .out = out};
    return run_task(&t, ch, 0);
}

int silent_kkot_send(cot_pool *f, chan *ch, const uint64_t *msgs, size_t n, unsigned N, unsigned l) {
    ot_task t = {.kind = OT_TASK_KK, .n = n, .N = N, .l = l, .src = f, .msgs = msgs};
    return run_task(&t, ch, 1);
}

int silent_kkot_recv(cot_pool *f, chan *ch, uint64_t *out, const uint8_t *choices, size_t n,
                     unsigned N, unsigned l) {
    ot_task t = {
        .kind = OT_TASK_KK, .n = n, .N = N, .l = l, .src = f, .choices = choices, .out = out};
    return run_task(&t, ch, 0);
}

int silent_kkot_send_implied(cot_pool *f, chan *ch, uint64_t *x, const uint64_t *msgs, size_t n,
                             unsigned N, unsigned l) {
    ot_task t = {.kind = OT_TASK_KK, .n = n, .N = N, .l = l, .src = f, .msgs = msgs, .x = x,
                 .implied = 1};
    return run_task(&t, ch, 1);
}

int silent_kkot_recv_implied(cot_pool *f, chan *ch, uint64_t *out, const uint8_t *choices,
                             size_t n, unsigned N, unsigned l) {
    ot_task t = {.kind = OT_TASK_KK, .n = n, .N = N, .l = l, .src = f, .choices = choices,
                 .out = out, .implied = 1};
    return run_task(&t, ch, 0);
}

/* The next n raw COTs, refilling whenever the pool is empty (the
 * sender's trees flushed as a flight of their own, or left to ride on the
 * caller's next one). */
static int rcot_take(cot_pool *f, chan *ch, block *out, size_t n, int flush) {
    for (size_t done = 0; done < n;) {
        if (cot_pool_avail(f) == 0) {
            if (f->sender) {
                TRY(cot_pool_refill_send(f, ch, NULL));
                if (flush) TRY(chan_flush(ch));
                cot_pool_refill_finish(f);
            } else {
                TRY(cot_pool_refill_recv(f, ch));
            }
        }
        size_t take = cot_pool_avail(f) < n - done ? cot_pool_avail(f) : n - done;
        if (take > COT_POOL_CARRY) take = COT_POOL_CARRY;
        uint64_t u;
        memcpy(out + done, cot_pool_take(f, take, &u), take * sizeof(block));
        done += take;
    }
    return 0;
}

int silent_rcot_send(cot_pool *f, chan *ch, block *q, size_t n) {
    PARLEY_CHECK(f->sender);
    return rcot_take(f, ch, q, n, 1);
}

int silent_rcot_send_unflushed(cot_pool *f, chan *ch, block *q, size_t n) {
    PARLEY_CHECK(f->sender);
    return rcot_take(f, ch, q, n, 0);
}

int silent_rcot_recv(cot_pool *f, chan *ch, block *t, size_t n) {
    PARLEY_CHECK(!f->sender);
    return rcot_take(f, ch, t, n, 1);
}
