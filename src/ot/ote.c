/* OT extension core (IKNP / KK13 matrix step); see ote.h. */
#include "ot/ote.h"

#include "ot/transpose.h"
#include "util/mem.h"

int ote_sender_init(ote_sender *s, unsigned w, const uint8_t *s_bits, const block *keys) {
    PARLEY_CHECK(w == 128 || w == 256);
    memset(s, 0, sizeof *s);
    s->w = w;
    s->keys = mem_alloc(w, sizeof(aes_key));
    s->scratch = mem_alloc((size_t)w * OTE_CHUNK / 8, 1);
    if (!s->keys || !s->scratch) {
        ote_sender_clear(s);
        return PARLEY_E_NOMEM;
    }
    for (unsigned j = 0; j < w; j++) {
        aes_expand(&s->keys[j], keys[j].b);
        s->s[j / 128].w[(j % 128) / 64] |= (uint64_t)(s_bits[j] & 1) << (j % 64);
    }
    crh_init(&s->h);
    if (w == 256) {
        /* Walsh-Hadamard codeword C(k), bit j = parity(k & j), masked by s. */
        s->kk_cs = mem_calloc(512, sizeof(block));
        if (!s->kk_cs) {
            ote_sender_clear(s);
            return PARLEY_E_NOMEM;
        }
        for (unsigned k = 0; k < 256; k++)
            for (unsigned j = 0; j < 256; j++)
                if (__builtin_parity(k & j))
                    s->kk_cs[2 * k + j / 128].w[(j % 128) / 64] |= 1ULL << (j % 64);
        for (unsigned k = 0; k < 512; k++) s->kk_cs[k] = block_and(s->kk_cs[k], s->s[k % 2]);
    }
    return 0;
}

int ote_receiver_init(ote_receiver *r, unsigned w, const block (*keys)[2]) {
    PARLEY_CHECK(w == 128 || w == 256);
    memset(r, 0, sizeof *r);
    r->w = w;
    r->k0 = mem_alloc(w, sizeof(aes_key));
    r->k1 = mem_alloc(w, sizeof(aes_key));
    r->scratch = mem_alloc((size_t)2 * w * OTE_CHUNK / 8, 1);
    if (!r->k0 || !r->k1 || !r->scratch) {
        ote_receiver_clear(r);
        return PARLEY_E_NOMEM;
    }
    for (unsigned j = 0; j < w; j++) {
        aes_expand(&r->k0[j], keys[j][0].b);
        aes_expand(&r->k1[j], keys[j][1].b);
    }
    crh_init(&r->h);
    return 0;
}

static void clear_keys(aes_key *k, unsigned w) {
    if (!k) return;
    for (unsigned j = 0; j < w; j++) aes_clear(&k[j]);
    mem_free(k);
}

void ote_sender_clear(ote_sender *s) {
    clear_keys(s->keys, s->w);
    if (s->scratch) mem_free_wipe(s->scratch, (size_t)s->w * OTE_CHUNK / 8);
    if (s->kk_cs) mem_free_wipe(s->kk_cs, 512 * sizeof(block));
    crh_clear(&s->h);
    mem_wipe(s, sizeof *s);
}

void ote_receiver_clear(ote_receiver *r) {
    clear_keys(r->k0, r->w);
    clear_keys(r->k1, r->w);
    if (r->scratch) mem_free_wipe(r->scratch, (size_t)2 * r->w * OTE_CHUNK / 8);
    crh_clear(&r->h);
    mem_wipe(r, sizeof *r);
}

/* Columns of the KK13 codeword matrix: bit j of C(x) is parity(x & j), so
 * column j is the XOR of the bit-planes R_b of the choices over the bits b
 * of j; each column is one XOR away from an earlier one. */
static void kk_codeword_columns(block *cols, const uint8_t *choices, size_t m, block *planes) {
    size_t nb = m / 128; /* blocks per column */
    /* planes: 8 rows of m bits = transpose of the m x 8 choice matrix. */
    bit_transpose((uint8_t *)planes, choices, m, 8);
    memset(cols, 0, nb * sizeof(block)); /* column 0 */
    for (unsigned j = 1; j < 256; j++) {
        unsigned b = (unsigned)__builtin_ctz(j);
        const block *prev = cols + (size_t)(j & (j - 1)) * nb;
        const block *pl = planes + (size_t)b * nb;
        block *dst = cols + (size_t)j * nb;
        for (size_t k = 0; k < nb; k++) dst[k] = block_xor(prev[k], pl[k]);
    }
}

int ote_recv_chunk(ote_receiver *r, chan *ch, block *t, const uint8_t *r_bits,
                   const uint8_t *kk_choices, size_t m) {
    PARLEY_CHECK(m % 128 == 0 && m <= OTE_CHUNK);
    size_t nb = m / 128, w = r->w;
    block *tcols = (block *)r->scratch;       /* w columns of m bits */
    block *u = tcols + w * nb;                /* w columns of m bits */
    block planes[8 * OTE_CHUNK / 128];
    if (kk_choices) kk_codeword_columns(u, kk_choices, m, planes);
    for (size_t j = 0; j < w; j++) {
        block *g0 = tcols + j * nb, *uj = u + j * nb;
        block g1[OTE_CHUNK / 128];
        aes_ctr(&r->k0[j], g0, r->ctr, nb);
        aes_ctr(&r->k1[j], g1, r->ctr, nb);
        if (kk_choices) {
            for (size_t k = 0; k < nb; k++) uj[k] = block_xor(block_xor(g0[k], g1[k]), uj[k]);
        } else {
            const block *rb = (const block *)r_bits;
            for (size_t k = 0; k < nb; k++) {
                block rk;
                memcpy(&rk, &rb[k], sizeof rk);
                uj[k] = block_xor(block_xor(g0[k], g1[k]), rk);
            }
        }
    }
    r->ctr += nb;
    r->index += m;
    TRY(chan_send(ch, u, w * m / 8));
    bit_transpose((uint8_t *)t, (const uint8_t *)tcols, w, m);
    return 0;
}

int ote_send_chunk(ote_sender *s, chan *ch, block *q, size_t m) {
    PARLEY_CHECK(m % 128 == 0 && m <= OTE_CHUNK);
    size_t nb = m / 128, w = s->w;
    block *cols = (block *)s->scratch;
    TRY(chan_recv(ch, cols, w * m / 8));
    for (size_t j = 0; j < w; j++) {
        block g[OTE_CHUNK / 128];
        aes_ctr(&s->keys[j], g, s->ctr, nb);
        unsigned sj = (unsigned)(s->s[j / 128].w[(j % 128) / 64] >> (j % 64)) & 1;
        block mask = block_mask(sj);
        block *cj = cols + j * nb;
        for (size_t k = 0; k < nb; k++) cj[k] = block_xor(g[k], block_and(cj[k], mask));
    }
    s->ctr += nb;
    s->index += m;
    bit_transpose((uint8_t *)q, (const uint8_t *)cols, w, m);
    return 0;
}
