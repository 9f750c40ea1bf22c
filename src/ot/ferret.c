/* Ferret silent random COT: MPCOT from GGM trees, then primal LPN; see
 * ferret.h. */
#include "ot/ferret.h"

#include "ot/lpn.h"
#include "ot/ggm.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

const ferret_params FERRET_H11K18 = {"h11k18", 1170, 11, 18};
const ferret_params FERRET_TOY = {"toy", 32, 12, 12};
const ferret_params FERRET_BOOT = {"h7k15", 2200, 7, 15};

#define GGM_SUB 64 /* parents expanded per AES call */

/* The fixed public key of the trees' hash (hex digits of e). */
static const uint8_t key_g0[16] = {0xb7, 0xe1, 0x51, 0x62, 0x8a, 0xed, 0x2a, 0x6a,
                                   0xbf, 0x71, 0x58, 0x80, 0x9c, 0xf4, 0xf3, 0xc7};

static const block lsb_clear = {{~(uint64_t)1, ~(uint64_t)0}};

/* The base, aligned to 2 MiB and on huge pages where the kernel offers
 * them: lpn_encode's gathers are random over its first k blocks (4 MiB for
 * k = 2^18), and with 4 KiB pages most of them would also miss the TLB. */
static block *base_alloc(size_t m) {
    void *p = NULL;
    if (posix_memalign(&p, (size_t)1 << 21, m * sizeof(block)) != 0) return NULL;
#ifdef MADV_HUGEPAGE
    (void)madvise(p, m * sizeof(block), MADV_HUGEPAGE);
#endif
    return p;
}

static size_t msg_blocks(const ferret_params *p) {
    return (size_t)p->t * p->h;
}

int ferret_init(ferret *f, const ferret_params *p, int sender, block delta, const block *base,
                block seed, block code, cot_pool *pool) {
    memset(f, 0, sizeof *f);
    PARLEY_CHECK(p->h >= 1 && p->h <= 24 && p->logk >= 1 && p->logk <= 24 && p->t >= 1);
    PARLEY_CHECK(ferret_n(p) > ferret_m(p) && ferret_usable(p) >= COT_POOL_CARRY);
    PARLEY_CHECK(!sender || (delta.w[0] & 1));
    PARLEY_CHECK(pool->sender == sender && pool->batch == ferret_n(p) &&
                 block_eq(pool->delta, sender ? delta : block_make(0, 0)));
    f->par = p;
    f->sender = sender;
    f->delta = sender ? delta : block_make(0, 0);
    f->pool = pool;
    size_t m = ferret_m(p);
    f->base = base_alloc(m);
    if (!f->base) return err_set(PARLEY_E_NOMEM, "out of memory for %zu silent-OT base COTs", m);
    memcpy(f->base, base, m * sizeof(block));
    aes_expand(&f->g0, key_g0);
    aes_expand(&f->lpn, code.b);
    prg_seed(&f->rng, seed);
    cot_pool_set_refill(pool, &ferret_refill, f);
    return 0;
}

void ferret_clear(ferret *f) {
    if (!f->par) return;
    const ferret_params *p = f->par;
    if (f->base) mem_free_wipe(f->base, ferret_m(p) * sizeof(block));
    if (f->msg) mem_free_wipe(f->msg, msg_blocks(p) * sizeof(block));
    aes_clear(&f->g0);
    aes_clear(&f->lpn);
    prg_clear(&f->rng);
    mem_wipe(f, sizeof *f);
}

/* ---- refill: keep the leftover, make the batch in the pool's room ---- */

/* The room for the batch in the pool (right below the COTs left);
 * NULL if out of memory. */
static block *refill_begin(ferret *f) {
    if (!f->msg && !(f->msg = mem_alloc(msg_blocks(f->par), sizeof(block)))) {
        err_set(PARLEY_E_NOMEM, "out of memory for a silent-OT batch (%zu COTs)", ferret_n(f->par));
        return NULL;
    }
    return cot_pool_fill_begin(f->pool);
}

/* The code (ot/lpn.h): batch b's output i is row b n + i. */
static void ferret_lpn(ferret *f, block *out) {
    lpn_encode(&f->lpn, f->batches * ferret_n(f->par), f->base, ferret_k(f->par), out,
               ferret_n(f->par));
}

void ferret_code_row(ferret *f, uint64_t batch, size_t i, uint32_t pos[FERRET_D]) {
    PARLEY_CHECK(i < ferret_n(f->par));
    lpn_row(&f->lpn, batch * ferret_n(f->par) + i, ferret_k(f->par), pos);
}

/* The batch is done: its first m COTs are the next base, the rest go to
 * the pool's consumers. */
static void refill_end(ferret *f, const block *out) {
    memcpy(f->base, out, ferret_m(f->par) * sizeof(block));
    cot_pool_fill_end(f->pool, ferret_m(f->par));
    f->room = NULL;
    f->batches++;
}

/* ---- GGM trees, half-tree form ---- */

/* H(x) = AES_g0(sigma(x)) ^ sigma(x), sigma(x_hi || x_lo) = (x_hi ^ x_lo)
 * || x_hi: the circular-correlation-robust hash of fixed-key AES
 * (docs/SECURITY-OT.md). A node's left child is H(x), its right child
 * x ^ H(x), so the children of every node sum to it and every level of a
 * tree sums to its two top nodes, s and s ^ Delta: to Delta. sigma is
 * aes_sigma (crypto/aes.h). */

/* lv[0 .. 2m) = the children of lv[0 .. m), in place: child 2x is H(s),
 * child 2x + 1 is s ^ H(s) for s = lv[x]. Parents are taken from the top
 * so no unread parent is overwritten. */
static void ggm_expand(ferret *f, block *lv, size_t m, block *scr) {
    block *par = scr, *sg = scr + GGM_SUB, *c0 = scr + 2 * GGM_SUB;
    size_t p = m;
    while (p > 0) {
        size_t b = p < GGM_SUB ? p : GGM_SUB;
        p -= b;
        for (size_t x = 0; x < b; x++) {
            par[x] = lv[p + x];
            sg[x] = aes_sigma(par[x]);
        }
        aes_ecb(&f->g0, c0, sg, b);
        for (size_t x = 0; x < b; x++) {
            block l = block_xor(c0[x], sg[x]);
            lv[2 * (p + x)] = l;
            lv[2 * (p + x) + 1] = block_xor(par[x], l);
        }
    }
}

/* The XOR of the left (even) nodes of a level of 2m, and of the right. */
static void level_sums(const block *lv, size_t m, block *s0, block *s1) {
    block a = block_make(0, 0), b = block_make(0, 0);
    for (size_t x = 0; x < m; x++) {
        a = block_xor(a, lv[2 * x]);
        b = block_xor(b, lv[2 * x + 1]);
    }
    *s0 = a;
    *s1 = b;
}

/* Tree j's top level is s, s ^ Delta for a fresh s, so every level sums
 * to Delta and the left sum K0 of a level determines the right one, K0 ^
 * Delta. Level d + 1's message is K0 ^ q_d for the tree's base COT d
 * (sender q_d, receiver t_d = q_d ^ b_d Delta): the receiver learns
 * K0 ^ b_d Delta, the sum of side b_d, and no hash is needed. The leaves
 * sum to Delta, which is what fixes the punctured leaf: no last message.
 * One block per level and one AES call per node (Guo, Yang, Wang, Zhang,
 * Xie, Liu, Zhao, "Half-Tree", Eurocrypt 2023). */
int ferret_send_trees(ferret *f, chan *ch) {
    PARLEY_CHECK(f->sender);
    block *out = refill_begin(f);
    if (!out) return PARLEY_E_NOMEM;
    f->room = out;
    const ferret_params *p = f->par;
    unsigned h = p->h;
    size_t k = ferret_k(p);
    block scr[3 * GGM_SUB];
    for (unsigned j = 0; j < p->t; j++) {
        const block *tb = f->base + k + (size_t)j * h;
        block *msg = f->msg + (size_t)j * h;
        block *lv = out + ((size_t)j << h);
        lv[0] = prg_block(&f->rng);
        lv[1] = block_xor(lv[0], f->delta);
        msg[0] = block_xor(lv[0], tb[0]);
        for (unsigned d = 1; d < h; d++) {
            size_t m = (size_t)1 << d;
            ggm_expand(f, lv, m, scr);
            block s0, s1;
            level_sums(lv, m, &s0, &s1);
            msg[d] = block_xor(s0, tb[d]);
        }
        for (size_t x = 0; x < (size_t)1 << h; x++) lv[x] = block_and(lv[x], lsb_clear);
    }
    mem_wipe(scr, sizeof scr);
    return chan_send(ch, f->msg, msg_blocks(p) * sizeof(block));
}

void ferret_send_finish(ferret *f) {
    PARLEY_CHECK(f->room); /* ferret_send_trees made the leaves there */
    ferret_lpn(f, f->room);
    refill_end(f, f->room);
}

/* Rebuild tree j of the receiver: K[d] = the learned sum of level d + 1 on
 * side b[d] (bit 0 of the base COT), so the punctured path takes the other
 * side at every level. The path node is kept at zero while its level is
 * expanded (its children are then the constant z = H(0) on both sides)
 * and every write near it is a masked pass over the whole level. The
 * sender's leaves, bit 0 cleared, sum to Delta ^ 1, so the punctured leaf
 * is the sum of the others with bit 0 set: the sender's leaf ^ Delta. */
static void ggm_rebuild(ferret *f, block *lv, const block *K, const uint64_t *b, block z,
                        block *scr) {
    unsigned h = f->par->h;
    block m0 = block_mask((unsigned)b[0]);
    lv[0] = block_and(K[0], block_xor(m0, block_mask(1)));
    lv[1] = block_and(K[0], m0);
    uint64_t path = 1 ^ b[0];
    for (unsigned d = 1; d < h; d++) {
        size_t m = (size_t)1 << d;
        ggm_expand(f, lv, m, scr);
        block s0, s1;
        level_sums(lv, m, &s0, &s1);
        block mb = block_mask((unsigned)b[d]);
        block sib = block_xor(K[d], block_xor(block_sel(mb, s1, s0), z));
        ggm_put_sibling(lv, m, path, mb, sib);
        path = 2 * path + (1 ^ b[d]);
    }
    size_t nl = (size_t)1 << h;
    block sum = block_make(0, 0);
    for (size_t x = 0; x < nl; x++) {
        lv[x] = block_and(lv[x], lsb_clear);
        sum = block_xor(sum, lv[x]);
    }
    block w = block_xor(sum, block_make(0, 1));
    for (size_t x = 0; x < nl; x++) {
        uint64_t e = eq_mask(x, path);
        block em = {{e, e}};
        lv[x] = block_sel(em, w, lv[x]);
    }
}

int ferret_recv_batch(ferret *f, chan *ch) {
    PARLEY_CHECK(!f->sender);
    block *out = refill_begin(f);
    if (!out) return PARLEY_E_NOMEM;
    const ferret_params *p = f->par;
    unsigned h = p->h;
    size_t k = ferret_k(p);
    TRY(chan_recv(ch, f->msg, msg_blocks(p) * sizeof(block)));
    block scr[3 * GGM_SUB], K[24], z, zero = block_make(0, 0);
    uint64_t b[24];
    aes_ecb(&f->g0, &z, &zero, 1); /* H(0) = AES_g0(sigma(0)) ^ sigma(0) = AES_g0(0) */
    for (unsigned j = 0; j < p->t; j++) {
        const block *tb = f->base + k + (size_t)j * h;
        const block *msg = f->msg + (size_t)j * h;
        for (unsigned d = 0; d < h; d++) {
            b[d] = tb[d].w[0] & 1;
            K[d] = block_xor(msg[d], tb[d]);
        }
        ggm_rebuild(f, out + ((size_t)j << h), K, b, z, scr);
    }
    mem_wipe(scr, sizeof scr);
    mem_wipe(K, sizeof K);
    mem_wipe(b, sizeof b);
    ferret_lpn(f, out);
    refill_end(f, out);
    return 0;
}

/* ---- the hook ---- */

static int hook_send(void *ctx, chan *ch) { return ferret_send_trees(ctx, ch); }
static void hook_finish(void *ctx) { ferret_send_finish(ctx); }
static int hook_recv(void *ctx, chan *ch) { return ferret_recv_batch(ctx, ch); }
static uint64_t hook_bytes(const void *ctx) {
    return ferret_batch_bytes(((const ferret *)ctx)->par);
}

const cot_refill ferret_refill = {hook_send, hook_finish, hook_recv, hook_bytes};
