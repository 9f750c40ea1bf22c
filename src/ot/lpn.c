/* The primal LPN encoding; see lpn.h. */
#include "ot/lpn.h"

#include "util/mem.h"

#define LPN_SUB 64 /* outputs per position batch */

_Static_assert(LPN_D == 10, "the encoding cuts ten fields");

#define LPN_FIELDS(F, a, c, e, g)                                                                  \
    do {                                                                                           \
        F(a);                                                                                      \
        F(a >> 24);                                                                                \
        F(a >> 48 | c << 16);                                                                      \
        F(c >> 8);                                                                                 \
        F(c >> 32);                                                                                \
        F(c >> 56 | e << 8);                                                                       \
        F(e >> 16);                                                                                \
        F(e >> 40);                                                                                \
        F(g);                                                                                      \
        F(g >> 24);                                                                                \
    } while (0)

#define LPN_GATHER(v) acc = block_xor(acc, B[(uint32_t)(v)&km])
#define LPN_GATHER_U(v)                                                                            \
    do {                                                                                           \
        uint32_t q_ = (uint32_t)(v)&km;                                                            \
        acc = block_xor(acc, B[q_]);                                                               \
        au ^= U[q_];                                                                               \
    } while (0)
#define LPN_PREFETCH(v) __builtin_prefetch(&B[(uint32_t)(v)&km])

/* The base (k blocks, a few MiB) is larger than L2, so each gather is a
 * trip to L3: the positions of output x + LPN_AHEAD are prefetched while
 * output x is summed, and the next LPN_SUB outputs' positions are made
 * before this block is summed so the look-ahead crosses blocks. Positions
 * are cut and gathered in registers: storing them first costs half as
 * much again. The nibbles (k bytes) stay in L2 and are not prefetched. */
#define LPN_AHEAD 8

static inline __attribute__((always_inline)) void
encode(aes_key *key, uint64_t r0, const block *B, const uint8_t *U, size_t k, block *out,
       uint8_t *ou, size_t n, const int with_u) {
    uint32_t km = (uint32_t)(k - 1);
    block r[2][2 * LPN_SUB];
    size_t b = n < LPN_SUB ? n : LPN_SUB;
    aes_ctr(key, r[0], 2 * r0, 2 * b);
    for (size_t i0 = 0, j = 0; i0 < n; i0 += LPN_SUB, j ^= 1) {
        const block *cur = r[j], *nxt = r[j ^ 1];
        b = n - i0 < LPN_SUB ? n - i0 : LPN_SUB;
        size_t b1 = n - i0 - b < LPN_SUB ? n - i0 - b : LPN_SUB;
        if (b1) aes_ctr(key, r[j ^ 1], 2 * (r0 + i0 + LPN_SUB), 2 * b1);
        for (size_t x = 0; x < b; x++) {
            size_t y = x + LPN_AHEAD;
            const block *ry = y < b ? cur + 2 * y : y - b < b1 ? nxt + 2 * (y - b) : NULL;
            if (ry) {
                LPN_FIELDS(LPN_PREFETCH, ry[0].w[0], ry[0].w[1], ry[1].w[0], ry[1].w[1]);
            }
            uint64_t a = cur[2 * x].w[0], c = cur[2 * x].w[1], e = cur[2 * x + 1].w[0],
                     g = cur[2 * x + 1].w[1];
            block acc = out[i0 + x];
            if (with_u) {
                uint8_t au = ou[i0 + x];
                LPN_FIELDS(LPN_GATHER_U, a, c, e, g);
                ou[i0 + x] = au;
            } else {
                LPN_FIELDS(LPN_GATHER, a, c, e, g);
            }
            out[i0 + x] = acc;
        }
    }
    mem_wipe(r, sizeof r);
}

void lpn_encode(aes_key *key, uint64_t r0, const block *base, size_t k, block *out, size_t n) {
    encode(key, r0, base, NULL, k, out, NULL, n, 0);
}

void lpn_encode_u(aes_key *key, uint64_t r0, const block *base, const uint8_t *baseu, size_t k,
                  block *out, uint8_t *outu, size_t n) {
    encode(key, r0, base, baseu, k, out, outu, n, 1);
}

void lpn_row(aes_key *key, uint64_t r, size_t k, uint32_t pos[LPN_D]) {
    uint32_t km = (uint32_t)(k - 1);
    block rb[2];
    aes_ctr(key, rb, 2 * r, 2);
    uint64_t a = rb[0].w[0], c = rb[0].w[1], e = rb[1].w[0], g = rb[1].w[1];
    unsigned j = 0;
#define LPN_POS(v) pos[j++] = (uint32_t)(v)&km
    LPN_FIELDS(LPN_POS, a, c, e, g);
#undef LPN_POS
    mem_wipe(rb, sizeof rb);
}
