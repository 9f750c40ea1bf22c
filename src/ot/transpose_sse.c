/* SSE bit transpose: gather one byte from each of 16 rows, then eight
 * movemasks peel off the 8 output rows of those 16 bits (MSB first).
 * Compiled with -msse4.1 (CMake option PARLEY_SIMD_SSE41: the byte gathers
 * become pinsrb); ot/transpose.c calls it when util/cpu.h reports SSE4.1. */
#include "ot/transpose_tiers.h"

#include <immintrin.h>
#include <string.h>

void bit_transpose_sse(uint8_t *out, const uint8_t *in, size_t rows, size_t cols) {
    size_t in_rb = cols / 8, out_rb = rows / 8;
    for (size_t r = 0; r < rows; r += 16) {
        const uint8_t *src = in + r * in_rb;
        for (size_t cb = 0; cb < in_rb; cb++) {
            __m128i v = _mm_set_epi8(
                (char)src[15 * in_rb + cb], (char)src[14 * in_rb + cb], (char)src[13 * in_rb + cb],
                (char)src[12 * in_rb + cb], (char)src[11 * in_rb + cb], (char)src[10 * in_rb + cb],
                (char)src[9 * in_rb + cb], (char)src[8 * in_rb + cb], (char)src[7 * in_rb + cb],
                (char)src[6 * in_rb + cb], (char)src[5 * in_rb + cb], (char)src[4 * in_rb + cb],
                (char)src[3 * in_rb + cb], (char)src[2 * in_rb + cb], (char)src[1 * in_rb + cb],
                (char)src[0 * in_rb + cb]);
            uint8_t *dst = out + (cb * 8) * out_rb + r / 8;
            for (int bit = 7; bit >= 0; bit--) {
                uint16_t m = (uint16_t)_mm_movemask_epi8(v);
                memcpy(dst + (size_t)bit * out_rb, &m, 2);
                v = _mm_slli_epi64(v, 1);
            }
        }
    }
}
