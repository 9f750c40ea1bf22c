/* The transpose dispatch: the best built tier the CPU has (util/cpu.h) that
 * suits the shape; see transpose.h. */
#include "ot/transpose_tiers.h"

#include "util/err.h"

const cpu_tier transpose_tiers[TRANSPOSE_TIERS] = {
    [TRANSPOSE_TIER_REF] = {"ref", 0, 1},
    [TRANSPOSE_TIER_SSE41] = {"sse4.1", CPU_SSE41, PARLEY_HAVE_SSE41},
    [TRANSPOSE_TIER_AVX512] = {"avx512", CPU_AVX512F | CPU_AVX512BW | CPU_AVX512VBMI,
                               PARLEY_HAVE_AVX512},
};

enum transpose_tier transpose_tier(size_t rows, size_t cols) {
    unsigned t = cpu_best(transpose_tiers, TRANSPOSE_TIERS);
    if (t == TRANSPOSE_TIER_AVX512 && !(rows % 64 == 0 && cols >= 512))
        t = cpu_best(transpose_tiers, TRANSPOSE_TIER_AVX512);
    return (enum transpose_tier)t;
}

/* Each tier's transpose (its file's function), indexed as transpose_tiers. */
typedef void (*transpose_fn)(uint8_t *out, const uint8_t *in, size_t rows, size_t cols);
static const transpose_fn transpose_tier_fn[TRANSPOSE_TIERS] = {
    [TRANSPOSE_TIER_REF] = bit_transpose_ref,
#if PARLEY_HAVE_SSE41
    [TRANSPOSE_TIER_SSE41] = bit_transpose_sse,
#endif
#if PARLEY_HAVE_AVX512
    [TRANSPOSE_TIER_AVX512] = bit_transpose_avx512,
#endif
};

void bit_transpose(uint8_t *out, const uint8_t *in, size_t rows, size_t cols) {
    PARLEY_CHECK(rows % 16 == 0 && cols % 8 == 0);
    transpose_tier_fn[transpose_tier(rows, cols)](out, in, rows, cols);
}
