/* Bit packing of l-bit values; see bits.h. */
#include "util/bits.h"

#include <string.h>

void bits_pack(uint8_t *out, const uint64_t *in, size_t n, unsigned l) {
    bitw w = bitw_start(out);
    for (size_t i = 0; i < n; i++) bitw_put(&w, in[i], l);
    bitw_end(&w);
}

void bits_unpack(uint64_t *out, const uint8_t *in, size_t n, unsigned l) {
    bitr r = bitr_start(in, bits_bytes(n * l));
    for (size_t i = 0; i < n; i++) out[i] = bitr_get(&r, l);
}

void bits_pack1(uint8_t *out, const uint8_t *in, size_t n) {
    memset(out, 0, bits_bytes(n));
    for (size_t i = 0; i < n; i++) out[i >> 3] |= (uint8_t)((in[i] & 1) << (i & 7));
}

void bits_unpack1(uint8_t *out, const uint8_t *in, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = (in[i >> 3] >> (i & 7)) & 1;
}
