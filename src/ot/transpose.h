/* Bit-matrix transpose, the hot inner step of OT extension.
 *
 * `in` has `rows` rows of `cols` bits (row-major, cols/8 bytes per row, bit
 * c of a row at byte c/8, bit c%8). `out` gets `cols` rows of `rows` bits.
 * rows must be a multiple of 16 and cols a multiple of 8. The AVX-512
 * version (tiles of 64 x 512) and the SSE version (movemask) are the fast
 * paths; the portable twin is bit by bit. */
#ifndef PARLEY_OT_TRANSPOSE_H
#define PARLEY_OT_TRANSPOSE_H

#include <stddef.h>
#include <stdint.h>

void bit_transpose(uint8_t *out, const uint8_t *in, size_t rows, size_t cols);
void bit_transpose_ref(uint8_t *out, const uint8_t *in, size_t rows, size_t cols);
void bit_transpose_sse(uint8_t *out, const uint8_t *in, size_t rows, size_t cols);
/* rows a multiple of 64; needs AVX-512 F, BW and VBMI. */
void bit_transpose_avx512(uint8_t *out, const uint8_t *in, size_t rows, size_t cols);
int bit_transpose_avx512_available(void);
/* 0 = auto, 1 = SSE, 2 = portable, 3 = AVX-512 where the shape allows
 * (tests). Auto takes AVX-512 for rows % 64 == 0 and cols >= 512. */
void bit_transpose_force(int impl);

#endif
