/* The transpose tiers (util/cpu.h): their table, the dispatch's choice for a
 * shape, and the instruction-set files' entry points. For ot/transpose.c,
 * the tier files and the tests; everything else calls transpose.h. */
#ifndef PARLEY_OT_TRANSPOSE_TIERS_H
#define PARLEY_OT_TRANSPOSE_TIERS_H

#include "ot/transpose.h"
#include "util/cpu.h"

enum transpose_tier {
    TRANSPOSE_TIER_REF,
    TRANSPOSE_TIER_SSE41,
    TRANSPOSE_TIER_AVX512,
    TRANSPOSE_TIERS
};
extern const cpu_tier transpose_tiers[TRANSPOSE_TIERS];
/* The tier bit_transpose uses now for a rows x cols matrix: AVX-512 only
 * where its tiles pay (rows % 64 == 0 and cols >= 512), else the best below. */
enum transpose_tier transpose_tier(size_t rows, size_t cols);

/* transpose_sse.c (-msse4.1). */
void bit_transpose_sse(uint8_t *out, const uint8_t *in, size_t rows, size_t cols);
/* transpose_avx512.c (-mavx512f -mavx512bw -mavx512vbmi): rows a multiple
 * of 64, any cols (a multiple of 8). */
void bit_transpose_avx512(uint8_t *out, const uint8_t *in, size_t rows, size_t cols);

#endif
