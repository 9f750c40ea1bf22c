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
    size_t i = 0;
    /* eight bits at once: bit 0 of byte k of w goes to bit 56 + k of the
     * product (k = 0..7 in 8k + 56 - 7m only for m = k; every other
     * product bit lands on its own position below 56 or past 63, so no
     * carry reaches the top byte) */
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, in + i, 8);
        w &= 0x0101010101010101ULL;
        out[i >> 3] = (uint8_t)((w * 0x0102040810204080ULL) >> 56);
    }
    if (i < n) {
        uint8_t v = 0;
        for (size_t s = 0; i + s < n; s++) v |= (uint8_t)((in[i + s] & 1) << s);
        out[i >> 3] = v;
    }
}

void bits_unpack1(uint8_t *out, const uint8_t *in, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = (in[i >> 3] >> (i & 7)) & 1;
}
