/* The portable bit transpose, bit by bit (reference code only; the dispatch
 * is ot/transpose.c). */
#include "ot/transpose.h"

#include <string.h>

void bit_transpose_ref(uint8_t *out, const uint8_t *in, size_t rows, size_t cols) {
    size_t in_rb = cols / 8, out_rb = rows / 8;
    memset(out, 0, cols * out_rb);
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++) {
            unsigned b = (in[r * in_rb + c / 8] >> (c % 8)) & 1;
            out[c * out_rb + r / 8] |= (uint8_t)(b << (r % 8));
        }
}
