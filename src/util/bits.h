/* Bit tricks over Z_2^l values held in uint64_t, and bit packing.
 *
 * Ring elements of width l (1 <= l <= 64) are stored in uint64_t and kept
 * reduced (high bits zero). Packed streams put value i at bit offset i*l,
 * least significant bit first, so n values take ceil(n*l/8) bytes. */
#ifndef PARLEY_UTIL_BITS_H
#define PARLEY_UTIL_BITS_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t bits_mask(unsigned l) { return l >= 64 ? ~0ULL : (1ULL << l) - 1; }

static inline size_t bits_bytes(size_t nbits) { return (nbits + 7) / 8; }

/* ceil(log2 v): the smallest k with 2^k >= v (0 for v <= 1, 64 above 2^63). */
static inline unsigned bits_ceil_log2(uint64_t v) {
    return v <= 1 ? 0 : 64 - (unsigned)__builtin_clzll(v - 1);
}

static inline int bit_get(const uint8_t *v, size_t i) { return (v[i >> 3] >> (i & 7)) & 1; }
static inline void bit_set(uint8_t *v, size_t i, int b) {
    v[i >> 3] = (uint8_t)((v[i >> 3] & ~(1u << (i & 7))) | ((unsigned)(b & 1) << (i & 7)));
}

/* Sign-extend the low l bits of x to a signed 64-bit value. */
static inline int64_t bits_signed(uint64_t x, unsigned l) {
    if (l >= 64) return (int64_t)x;
    uint64_t m = 1ULL << (l - 1);
    x &= bits_mask(l);
    return (int64_t)((x ^ m) - m);
}

/* Streaming bit writer/reader for mixed widths (1 <= l <= 64). The writer
 * must be finished with bitw_end; the reader never reads past `end`. */
typedef struct bitw {
    uint8_t *p;
    unsigned __int128 acc;
    unsigned have;
} bitw;

static inline bitw bitw_start(uint8_t *p) {
    bitw w = {p, 0, 0};
    return w;
}
static inline void bitw_put(bitw *w, uint64_t v, unsigned l) {
    w->acc |= (unsigned __int128)(v & bits_mask(l)) << w->have;
    w->have += l;
    if (w->have >= 64) {
        uint64_t lo = (uint64_t)w->acc;
        __builtin_memcpy(w->p, &lo, 8);
        w->p += 8;
        w->acc >>= 64;
        w->have -= 64;
    }
}
static inline void bitw_end(bitw *w) {
    while (w->have > 0) {
        *w->p++ = (uint8_t)w->acc;
        w->acc >>= 8;
        w->have = w->have > 8 ? w->have - 8 : 0;
    }
}

typedef struct bitr {
    const uint8_t *p, *end;
    unsigned __int128 acc;
    unsigned have;
} bitr;

static inline bitr bitr_start(const uint8_t *p, size_t nbytes) {
    bitr r = {p, p + nbytes, 0, 0};
    return r;
}
static inline uint64_t bitr_get(bitr *r, unsigned l) {
    while (r->have < l) {
        if (r->end - r->p >= 8) {
            uint64_t w;
            __builtin_memcpy(&w, r->p, 8);
            r->acc |= (unsigned __int128)w << r->have;
            r->p += 8;
            r->have += 64;
        } else if (r->p < r->end) {
            r->acc |= (unsigned __int128)*r->p++ << r->have;
            r->have += 8;
        } else {
            r->have = l; /* past the end: zeros */
        }
    }
    uint64_t v = (uint64_t)r->acc & bits_mask(l);
    r->acc = l >= 64 ? r->acc >> 64 : r->acc >> l;
    r->have -= l;
    return v;
}

/* Pack n l-bit values (taken mod 2^l) into out (bits_bytes(n*l) bytes). */
void bits_pack(uint8_t *out, const uint64_t *in, size_t n, unsigned l);
/* Unpack n l-bit values from in. */
void bits_unpack(uint64_t *out, const uint8_t *in, size_t n, unsigned l);
/* Pack/unpack single bits held one per byte (values 0/1). */
void bits_pack1(uint8_t *out, const uint8_t *in, size_t n);
void bits_unpack1(uint8_t *out, const uint8_t *in, size_t n);

#endif
