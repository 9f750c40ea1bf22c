/* Portable bit transpose and the dispatch; see transpose.h. */
#include "ot/transpose.h"

#include "util/err.h"

#include <string.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

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

/* AVX-512 F, BW and VBMI, with the OS saving the ZMM state (XCR0 bits 1,
 * 2, 5-7), by cpuid. */
int bit_transpose_avx512_available(void) {
#if defined(__x86_64__)
    static int cached = -1;
    int c = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (c >= 0) return c;
    unsigned a, b, cx, d, ok = 0;
    if (__get_cpuid_count(1, 0, &a, &b, &cx, &d) && (cx & (1u << 27))) {
        unsigned lo, hi;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        (void)hi;
        if ((lo & 0xe6) == 0xe6 && __get_cpuid_count(7, 0, &a, &b, &cx, &d))
            ok = (b & (1u << 16)) && (b & (1u << 30)) && (cx & (1u << 1)); /* F, BW, VBMI */
    }
    __atomic_store_n(&cached, (int)ok, __ATOMIC_RELAXED);
    return (int)ok;
#else
    return 0;
#endif
}

void bit_transpose(uint8_t *out, const uint8_t *in, size_t rows, size_t cols) {
    PARLEY_CHECK(rows % 16 == 0 && cols % 8 == 0);
#if defined(__x86_64__)
    if ((transpose_impl == 0 || transpose_impl == 3) && rows % 64 == 0 &&
        (cols >= 512 || transpose_impl == 3) && bit_transpose_avx512_available()) {
        bit_transpose_avx512(out, in, rows, cols);
        return;
    }
    if (transpose_impl != 2) {
        bit_transpose_sse(out, in, rows, cols);
        return;
    }
#endif
    bit_transpose_ref(out, in, rows, cols);
}
