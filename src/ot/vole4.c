/* Silent 4-bit VOLE; see vole4.h. */
#include "ot/vole4.h"

#include "ot/silent.h"
#include "util/ct.h"
#include "ot/ggm.h"
#include "util/mem.h"

#include <string.h>

/* 2340 trees of 2^10 over the same n and k as FERRET_H11K18; each bit
 * plane has noise in about half the trees (docs/SECURITY-OT.md, "4-bit
 * VOLE"). */
const vole4_params VOLE4_H10K18 = {"h10k18", 2340, 10, 18};
const vole4_params VOLE4_TOY = {"toy", 40, 11, 12};

uint64_t vole4_gen_bytes(const vole4_params *p, const ferret_params *fp, uint64_t corrs) {
    if (!fp) fp = &FERRET_DEFAULT;
    /* corrs (V uF + c F) / (uV uF): V, c a batch's bytes and tree COTs,
     * F, uF and uV a Ferret batch's bytes and the two usable counts */
    unsigned __int128 uf = ferret_usable(fp), uv = vole4_usable(p), den = uv * uf;
    unsigned __int128 num = (unsigned __int128)corrs *
                            (vole4_batch_bytes(p) * uf + vole4_cots(p) * ferret_batch_bytes(fp));
    return (uint64_t)((num + den - 1) / den);
}

#define GGM_SUB 64       /* parents expanded per AES call */
#define VOLE4_TW ((uint64_t)5 << 60) /* the level masks' tweak domain */

/* Fixed public keys of the trees' PRG (hex digits of pi and of sqrt 2). */
static const uint8_t key_g0[16] = {0x24, 0x3f, 0x6a, 0x88, 0x85, 0xa3, 0x08, 0xd3,
                                   0x13, 0x19, 0x8a, 0x2e, 0x03, 0x70, 0x73, 0x44};
static const uint8_t key_g1[16] = {0x6a, 0x09, 0xe6, 0x67, 0xf3, 0xbc, 0xc9, 0x08,
                                   0xb2, 0xfb, 0x13, 0x66, 0xea, 0x95, 0x7d, 0x3e};

/* x * a in GF(2^128) mod x^128 + x^7 + x^2 + x + 1, without a branch. */
static inline block gf_x(block a) {
    uint64_t c = 0 - (a.w[1] >> 63);
    block r = {{a.w[0] << 1 ^ (c & 0x87), a.w[1] << 1 | a.w[0] >> 63}};
    return r;
}

void vole4_table(block delta, block D[16]) {
    block x[4];
    x[0] = delta;
    for (int i = 1; i < 4; i++) x[i] = gf_x(x[i - 1]);
    D[0] = block_make(0, 0);
    for (unsigned j = 1; j < 16; j++) {
        unsigned low = j & (0u - j); /* lowest set bit */
        unsigned i = (unsigned)__builtin_ctz(j);
        D[j] = block_xor(D[j ^ low], x[i]);
    }
    mem_wipe(x, sizeof x);
}

void vole4_from_cots(const block *cots, size_t n, block *out, uint8_t *outu) {
    for (size_t i = 0; i < n; i++) {
        const block *c = cots + 4 * i;
        /* Horner: ((c3 x + c2) x + c1) x + c0 */
        block a = c[3];
        for (int j = 2; j >= 0; j--) a = block_xor(gf_x(a), c[j]);
        out[i] = a;
        if (outu)
            outu[i] = (uint8_t)((c[0].w[0] & 1) | (c[1].w[0] & 1) << 1 | (c[2].w[0] & 1) << 2 |
                                (c[3].w[0] & 1) << 3);
    }
}

int vole4_init(vole4 *f, const vole4_params *p, int sender, block delta, const block *base,
               const uint8_t *baseu, block seed, block code) {
    memset(f, 0, sizeof *f);
    PARLEY_CHECK(p->h >= 1 && p->h <= 24 && p->logk >= 1 && p->logk <= 24 && p->t >= 1);
    PARLEY_CHECK(vole4_n(p) > vole4_m(p) && vole4_usable(p) >= COT_POOL_CARRY);
    PARLEY_CHECK(sender || baseu);
    f->par = p;
    f->sender = sender;
    size_t m = vole4_m(p);
    f->base = mem_alloc(m, sizeof(block));
    f->msg = mem_alloc((size_t)p->t * (2 * p->h + 1), sizeof(block));
    f->baseu = sender ? NULL : mem_alloc(m, 1);
    if (!f->base || !f->msg || (!sender && !f->baseu)) {
        vole4_clear(f);
        return err_set(PARLEY_E_NOMEM, "out of memory for %zu 4-bit VOLE base correlations", m);
    }
    memcpy(f->base, base, m * sizeof(block));
    if (!sender) memcpy(f->baseu, baseu, m);
    if (sender) vole4_table(delta, f->D);
    aes_expand(&f->g0, key_g0);
    aes_expand(&f->g1, key_g1);
    aes_expand(&f->lpn, code.b);
    crh_init(&f->h);
    prg_seed(&f->rng, seed);
    return 0;
}

void vole4_clear(vole4 *f) {
    const vole4_params *p = f->par;
    if (!p) return;
    size_t m = vole4_m(p);
    if (f->base) mem_free_wipe(f->base, m * sizeof(block));
    if (f->baseu) mem_free_wipe(f->baseu, m);
    if (f->msg) mem_free_wipe(f->msg, (size_t)p->t * (2 * p->h + 1) * sizeof(block));
    if (f->tc) mem_free_wipe(f->tc, vole4_cots(p) * sizeof(block));
    aes_clear(&f->g0);
    aes_clear(&f->g1);
    aes_clear(&f->lpn);
    crh_clear(&f->h);
    prg_clear(&f->rng);
    mem_wipe(f, sizeof *f);
}

/* lv[0 .. 2m) = the children of lv[0 .. m), in place (parents taken from
 * the top): child 2x = AES_g0(s) ^ s, child 2x + 1 = AES_g1(s) ^ s. *s0 and
 * *s1: the XOR of the left and of the right children. */
static void ggm_level(vole4 *f, block *lv, size_t m, block *scr, block *s0, block *s1) {
    block *par = scr, *c0 = scr + GGM_SUB, *c1 = scr + 2 * GGM_SUB;
    block a = block_make(0, 0), b = block_make(0, 0);
    size_t p = m;
    while (p > 0) {
        size_t n = p < GGM_SUB ? p : GGM_SUB;
        p -= n;
        memcpy(par, lv + p, n * sizeof(block));
        aes_ecb(&f->g0, c0, par, n);
        aes_ecb(&f->g1, c1, par, n);
        for (size_t x = 0; x < n; x++) {
            block l = block_xor(c0[x], par[x]), r = block_xor(c1[x], par[x]);
            lv[2 * (p + x)] = l;
            lv[2 * (p + x) + 1] = r;
            a = block_xor(a, l);
            b = block_xor(b, r);
        }
    }
    *s0 = a;
    *s1 = b;
}

static size_t tree_msgs(const vole4_params *p) {
    return 2 * (size_t)p->h + 1;
}

/* The level masks of tree j, level d: tweak (VOLE4_TW | batch, tree * h +
 * d), so no two masks of a direction share a tweak. */
static void level_masks(vole4 *f, const block *q, size_t cnt, uint64_t lo, block *out) {
    crh_hash(&f->h, out, q, cnt, lo, VOLE4_TW | f->batches);
}

int vole4_send_trees(vole4 *f, chan *ch, const block *cots, block *out) {
    PARLEY_CHECK(f->sender);
    const vole4_params *p = f->par;
    unsigned h = p->h;
    size_t k = vole4_k(p), tm = tree_msgs(p);
    block scr[3 * GGM_SUB], qd[24], hm0[24], hm1[24];
    for (unsigned j = 0; j < p->t; j++) {
        const block *q = cots + (size_t)j * h;
        block *msg = f->msg + (size_t)j * tm;
        block *lv = out + ((size_t)j << h);
        /* Both masks of a level share its tweak: the receiver can compute
         * only the one of its choice. */
        level_masks(f, q, h, (uint64_t)j * h, hm0);
        for (unsigned d = 0; d < h; d++) qd[d] = block_xor(q[d], f->D[1]);
        level_masks(f, qd, h, (uint64_t)j * h, hm1);
        lv[0] = prg_block(&f->rng);
        for (unsigned d = 0; d < h; d++) {
            block s0, s1;
            ggm_level(f, lv, (size_t)1 << d, scr, &s0, &s1);
            msg[2 * d] = block_xor(s0, hm0[d]);
            msg[2 * d + 1] = block_xor(s1, hm1[d]);
        }
        block sum = f->base[k + j];
        for (size_t x = 0; x < (size_t)1 << h; x++) sum = block_xor(sum, lv[x]);
        msg[2 * h] = sum;
    }
    mem_wipe(scr, sizeof scr);
    mem_wipe(qd, sizeof qd);
    mem_wipe(hm0, sizeof hm0);
    mem_wipe(hm1, sizeof hm1);
    return chan_send(ch, f->msg, p->t * tm * sizeof(block));
}

/* The batch is done: its first m outputs are the next base. */
static void batch_end(vole4 *f, const block *out, const uint8_t *outu) {
    size_t m = vole4_m(f->par);
    memcpy(f->base, out, m * sizeof(block));
    if (outu) memcpy(f->baseu, outu, m);
    f->batches++;
}

void vole4_send_finish(vole4 *f, block *out) {
    PARLEY_CHECK(f->sender);
    const vole4_params *p = f->par;
    lpn_encode(&f->lpn, f->batches * vole4_n(p), f->base, vole4_k(p), out, vole4_n(p));
    batch_end(f, out, NULL);
}

/* Rebuild tree j: K[d] = the learned sum of side b[d] of level d + 1, so
 * the punctured path takes side 1 - b[d]. The path node is kept at zero
 * while its level is expanded (its children are then the constants
 * z0 = AES_g0(0), z1 = AES_g1(0)) and every write near it is a masked pass
 * over the whole level. Returns the path (the punctured leaf's index). */
static uint64_t ggm_rebuild(vole4 *f, block *lv, const block *K, const unsigned *b, block z0,
                            block z1, block *scr) {
    unsigned h = f->par->h;
    lv[0] = block_make(0, 0);
    uint64_t path = 0;
    for (unsigned d = 0; d < h; d++) {
        size_t m = (size_t)1 << d;
        block s0, s1;
        ggm_level(f, lv, m, scr, &s0, &s1);
        /* The path node's children added z0 and z1 to the sums. */
        block mb = block_mask(b[d]);
        block sib = block_xor(K[d], block_sel(mb, block_xor(s1, z1), block_xor(s0, z0)));
        ggm_put_sibling(lv, m, path, mb, sib);
        path = 2 * path + (1 ^ b[d]);
    }
    return path;
}

int vole4_recv_batch(vole4 *f, chan *ch, const block *cots, block *out, uint8_t *outu) {
    PARLEY_CHECK(!f->sender);
    const vole4_params *p = f->par;
    unsigned h = p->h;
    size_t k = vole4_k(p), tm = tree_msgs(p), nl = (size_t)1 << h;
    TRY(chan_recv(ch, f->msg, p->t * tm * sizeof(block)));
    block scr[3 * GGM_SUB], K[24], hm[24], z0, z1, zero = block_make(0, 0);
    unsigned b[24];
    aes_ecb(&f->g0, &z0, &zero, 1);
    aes_ecb(&f->g1, &z1, &zero, 1);
    for (unsigned j = 0; j < p->t; j++) {
        const block *tc = cots + (size_t)j * h;
        const block *msg = f->msg + (size_t)j * tm;
        level_masks(f, tc, h, (uint64_t)j * h, hm);
        for (unsigned d = 0; d < h; d++) {
            b[d] = (unsigned)(tc[d].w[0] & 1);
            block mb = block_mask(b[d]);
            K[d] = block_xor(block_sel(mb, msg[2 * d + 1], msg[2 * d]), hm[d]);
        }
        block *lv = out + ((size_t)j << h);
        uint8_t *lu = outu + ((size_t)j << h);
        uint64_t path = ggm_rebuild(f, lv, K, b, z0, z1, scr);
        block sum = block_xor(msg[2 * h], f->base[k + j]);
        for (size_t x = 0; x < nl; x++) sum = block_xor(sum, lv[x]); /* the path leaf is 0 */
        uint8_t beta = f->baseu[k + j];
        for (size_t x = 0; x < nl; x++) {
            uint64_t e = eq_mask(x, path);
            block em = {{e, e}};
            lv[x] = block_sel(em, sum, lv[x]);
            lu[x] = (uint8_t)(beta & e);
        }
    }
    mem_wipe(scr, sizeof scr);
    mem_wipe(K, sizeof K);
    mem_wipe(hm, sizeof hm);
    mem_wipe(b, sizeof b);
    lpn_encode_u(&f->lpn, f->batches * vole4_n(p), f->base, f->baseu, vole4_k(p), out, outu,
                 vole4_n(p));
    batch_end(f, out, outu);
    return 0;
}

/* ---- as a pool's producer ---- */

int vole4_attach(vole4 *f, cot_pool *pool, cot_pool *cots) {
    PARLEY_CHECK(pool->nib && pool->sender == f->sender && cots->sender == f->sender &&
                 !cots->nib && pool->batch == vole4_n(f->par));
    /* The same Delta, compared without a branch on it: only the verdict
     * (always "equal") is made public. */
    uint64_t diff = (pool->delta.w[0] ^ cots->delta.w[0]) | (pool->delta.w[1] ^ cots->delta.w[1]);
    unsigned same = (unsigned)(eq_mask(diff, 0) & 1);
    ct_declassify(&same, sizeof same);
    PARLEY_CHECK(!f->sender || same);
    if (!f->tc && !(f->tc = mem_alloc(vole4_cots(f->par), sizeof(block))))
        return err_set(PARLEY_E_NOMEM, "out of memory for a 4-bit VOLE batch's tree COTs");
    f->pool = pool;
    f->cots = cots;
    cot_pool_set_refill(pool, &vole4_refill, f);
    return 0;
}

static int hook_send(void *ctx, chan *ch) {
    vole4 *f = ctx;
    block *out = cot_pool_fill_begin(f->pool);
    if (!out) return PARLEY_E_NOMEM;
    TRY(silent_rcot_send_unflushed(f->cots, ch, f->tc, vole4_cots(f->par)));
    f->room = out;
    return vole4_send_trees(f, ch, f->tc, out);
}

static void hook_finish(void *ctx) {
    vole4 *f = ctx;
    PARLEY_CHECK(f->room);
    vole4_send_finish(f, f->room);
    cot_pool_fill_end(f->pool, vole4_m(f->par));
    f->room = NULL;
}

static int hook_recv(void *ctx, chan *ch) {
    vole4 *f = ctx;
    block *out = cot_pool_fill_begin(f->pool);
    if (!out) return PARLEY_E_NOMEM;
    TRY(silent_rcot_recv(f->cots, ch, f->tc, vole4_cots(f->par)));
    TRY(vole4_recv_batch(f, ch, f->tc, out, cot_pool_nibbles(f->pool, out)));
    cot_pool_fill_end(f->pool, vole4_m(f->par));
    return 0;
}

static uint64_t hook_bytes(const void *ctx) {
    return vole4_batch_bytes(((const vole4 *)ctx)->par);
}

const cot_refill vole4_refill = {hook_send, hook_finish, hook_recv, hook_bytes};

int vole4_pool_setup(vole4 *f, cot_pool *pool, const vole4_params *p, cot_pool *cots, chan *ch,
                     block seed, block code) {
    memset(f, 0, sizeof *f);
    int snd = cots->sender;
    size_t m = vole4_m(p);
    cot_pool_init_vole4(pool, snd, cots->delta, vole4_n(p));
    block *c = mem_alloc(4 * m, sizeof(block)), *base = mem_alloc(m, sizeof(block));
    uint8_t *bu = mem_alloc(m, 1);
    int rc = c && base && bu ? 0 : err_set(PARLEY_E_NOMEM, "out of memory for a 4-bit VOLE base");
    if (rc == 0)
        rc = snd ? silent_rcot_send(cots, ch, c, 4 * m) : silent_rcot_recv(cots, ch, c, 4 * m);
    if (rc == 0) {
        vole4_from_cots(c, m, base, bu);
        rc = vole4_init(f, p, snd, cots->delta, base, snd ? NULL : bu, seed, code);
    }
    if (rc == 0) rc = vole4_attach(f, pool, cots);
    if (c) mem_free_wipe(c, 4 * m * sizeof(block));
    if (base) mem_free_wipe(base, m * sizeof(block));
    if (bu) mem_free_wipe(bu, m);
    if (rc < 0) vole4_pool_clear(f, pool);
    return rc;
}

void vole4_pool_clear(vole4 *f, cot_pool *pool) {
    vole4_clear(f);
    cot_pool_clear(pool);
}
