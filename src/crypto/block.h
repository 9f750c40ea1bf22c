/* A 128-bit block: the unit of AES, OT keys and IKNP matrix rows. */
#ifndef PARLEY_CRYPTO_BLOCK_H
#define PARLEY_CRYPTO_BLOCK_H

#include <stdint.h>
#include <string.h>

typedef union block {
    uint64_t w[2]; /* w[0] = low 64 bits */
    uint8_t b[16];
} __attribute__((aligned(16))) block;

static inline block block_xor(block a, block b) {
    block r = {{a.w[0] ^ b.w[0], a.w[1] ^ b.w[1]}};
    return r;
}
static inline block block_and(block a, block b) {
    block r = {{a.w[0] & b.w[0], a.w[1] & b.w[1]}};
    return r;
}
static inline int block_eq(block a, block b) { return a.w[0] == b.w[0] && a.w[1] == b.w[1]; }
static inline block block_make(uint64_t hi, uint64_t lo) {
    block r = {{lo, hi}};
    return r;
}
/* All-ones if bit is 1, zero otherwise (bit must be 0 or 1). */
static inline block block_mask(unsigned bit) {
    uint64_t m = 0 - (uint64_t)bit;
    block r = {{m, m}};
    return r;
}
/* m ? a : b for m all-ones or zero, without a branch. */
static inline block block_sel(block m, block a, block b) {
    block r = {{(a.w[0] & m.w[0]) | (b.w[0] & ~m.w[0]), (a.w[1] & m.w[1]) | (b.w[1] & ~m.w[1])}};
    return r;
}
/* All-ones iff a == b, without a branch. */
static inline uint64_t eq_mask(uint64_t a, uint64_t b) {
    uint64_t d = a ^ b;
    return ((d | (0 - d)) >> 63) - 1;
}

#endif
