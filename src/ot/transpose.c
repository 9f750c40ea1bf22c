/* Portable bit transpose and the dispatch; see transpose.h. */
#include "ot/transpose.h"

#include "util/err.h"

#include <string.h>

static int transpose_impl;

void bit_transpose_force(int impl) { transpose_impl = impl; }

void bit_transpose_ref(uint8_t *out, const uint8_t *in, size_t rows, size_t cols) {
    size_t in_rb = cols / 8, out_rb = rows / 8;
    memset(out, 0, cols * out_rb);
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++) {
            unsigned b = (in[r * in_rb + c / 8] >> (c % 8)) & 1;
            out[c * out_rb + r / 8] |= (uint8_t)(b << (r % 8));
        }
}

void bit_transpose(uint8_t *out, const uint8_t *in, size_t rows, size_t cols) {
    PARLEY_CHECK(rows % 16 == 0 && cols % 8 == 0);
#if defined(__x86_64__)
    if (transpose_impl != 2) {
        bit_transpose_sse(out, in, rows, cols);
        return;
    }
#endif
    bit_transpose_ref(out, in, rows, cols);
}
