/* Bit-matrix transpose, the hot inner step of OT extension.
 *
 * `in` has `rows` rows of `cols` bits (row-major, cols/8 bytes per row, bit
 * c of a row at byte c/8, bit c%8). `out` gets `cols` rows of `rows` bits.
 * rows must be a multiple of 16 and cols a multiple of 8. Tiers
 * (util/cpu.h): AVX-512 (tiles of 64 x 512, transpose_avx512.c), SSE4.1
 * (movemask, transpose_sse.c), and the portable one, bit by bit
 * (transpose_ref.c); ot/transpose.c dispatches. */
#ifndef PARLEY_OT_TRANSPOSE_H
#define PARLEY_OT_TRANSPOSE_H

#include <stddef.h>
#include <stdint.h>

void bit_transpose(uint8_t *out, const uint8_t *in, size_t rows, size_t cols);
/* The portable tier, callable directly (the tests' oracle). */
void bit_transpose_ref(uint8_t *out, const uint8_t *in, size_t rows, size_t cols);

#endif
