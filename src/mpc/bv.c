/* Packed bit vectors; see bv.h. */
#include "mpc/bv.h"

#include <string.h>

void bv_from_bytes(uint64_t *v, const uint8_t *b, size_t n) {
    size_t nw = bv_words(n);
    for (size_t w = 0; w < nw; w++) {
        size_t i0 = w * 64, cnt = n - i0 < 64 ? n - i0 : 64;
        uint64_t x = 0;
        for (size_t j = 0; j < cnt; j++) x |= (uint64_t)(b[i0 + j] & 1) << j;
        v[w] = x;
    }
}

void bv_to_bytes(uint8_t *b, const uint64_t *v, size_t n) {
    for (size_t i = 0; i < n; i++) b[i] = (uint8_t)bv_get(v, i);
}

void bv_extract(uint64_t *dst, const uint64_t *src, size_t off, size_t n) {
    size_t nw = bv_words(n), s = off / 64;
    unsigned sh = (unsigned)(off % 64);
    size_t last = bv_words(off + n); /* words of src we may read */
    for (size_t w = 0; w < nw; w++) {
        uint64_t lo = src[s + w];
        uint64_t hi = (sh && s + w + 1 < last) ? src[s + w + 1] : 0;
        dst[w] = sh ? (lo >> sh) | (hi << (64 - sh)) : lo;
    }
    bv_trim(dst, n);
}

void bv_put(bitw *w, const uint64_t *v, size_t n) {
    size_t full = n / 64;
    for (size_t i = 0; i < full; i++) bitw_put(w, v[i], 64);
    if (n % 64) bitw_put(w, v[full], (unsigned)(n % 64));
}

void bv_take(bitr *r, uint64_t *v, size_t n) {
    size_t full = n / 64;
    for (size_t i = 0; i < full; i++) v[i] = bitr_get(r, 64);
    if (n % 64) v[full] = bitr_get(r, (unsigned)(n % 64));
}
