/* Packed bit vectors: n Boolean shares in ceil(n/64) words, bit i of the
 * vector at bit i%64 of word i/64, tail bits zero. The protocols of
 * src/mpc compute on whole words (64 elements per operation) and put these
 * vectors on the wire as they are; the byte-per-bit arrays of the public
 * API are converted at the edges. */
#ifndef PARLEY_MPC_BV_H
#define PARLEY_MPC_BV_H

#include "util/bits.h"

#include <stddef.h>
#include <stdint.h>

static inline size_t bv_words(size_t n) { return (n + 63) / 64; }
static inline unsigned bv_get(const uint64_t *v, size_t i) { return (unsigned)(v[i >> 6] >> (i & 63)) & 1; }
static inline void bv_set(uint64_t *v, size_t i, unsigned b) {
    v[i >> 6] = (v[i >> 6] & ~(1ULL << (i & 63))) | ((uint64_t)(b & 1) << (i & 63));
}
/* Zero the bits past n in the last word. */
static inline void bv_trim(uint64_t *v, size_t n) {
    if (n % 64) v[n / 64] &= (1ULL << (n % 64)) - 1;
}

/* Bits 0..31 of x moved to the even positions 0, 2, ..., 62. */
static inline uint64_t bv_spread2(uint64_t x) {
    x &= 0xffffffffULL;
    x = (x | (x << 16)) & 0x0000ffff0000ffffULL;
    x = (x | (x << 8)) & 0x00ff00ff00ff00ffULL;
    x = (x | (x << 4)) & 0x0f0f0f0f0f0f0f0fULL;
    x = (x | (x << 2)) & 0x3333333333333333ULL;
    return (x | (x << 1)) & 0x5555555555555555ULL;
}

/* v = the n bytes b (0/1) packed; b = v unpacked. */
void bv_from_bytes(uint64_t *v, const uint8_t *b, size_t n);
void bv_to_bytes(uint8_t *b, const uint64_t *v, size_t n);
/* dst = bits [off, off + n) of src (tail zeroed). */
void bv_extract(uint64_t *dst, const uint64_t *src, size_t off, size_t n);
/* Append the n bits of v to a bit stream / read n bits from one. */
void bv_put(bitw *w, const uint64_t *v, size_t n);
void bv_take(bitr *r, uint64_t *v, size_t n);

#endif
