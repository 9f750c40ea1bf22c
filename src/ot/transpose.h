/* Bit-matrix transpose, the hot inner step of OT extension.
 *
 * `in` has `rows` rows of `cols` bits (row-major, cols/8 bytes per row, bit
 * c of a row at byte c/8, bit c%8). `out` gets `cols` rows of `rows` bits.
 * rows must be a multiple of 16 and cols a multiple of 8. The SSE version
 * (movemask) is the fast path; the portable twin is bit by bit. */
#ifndef PARLEY_OT_TRANSPOSE_H
#define PARLEY_OT_TRANSPOSE_H

#include <stddef.h>
#include <stdint.h>

void bit_transpose(uint8_t *out, const uint8_t *in, size_t rows, size_t cols);
void bit_transpose_ref(uint8_t *out, const uint8_t *in, size_t rows, size_t cols);
void bit_transpose_sse(uint8_t *out, const uint8_t *in, size_t rows, size_t cols);
/* 0 = auto, 1 = SSE, 2 = portable (tests). */
void bit_transpose_force(int impl);

#endif
