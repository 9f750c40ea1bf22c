/* What the GGM tree rebuilds of ferret.c and vole4.c share. */
#ifndef PARLEY_OT_GGM_H
#define PARLEY_OT_GGM_H

#include "crypto/block.h"

#include <stddef.h>
#include <stdint.h>

/* A level of 2m nodes just expanded from m parents, the punctured parent
 * `path` kept at zero: its child on side b (mb = block_mask(b)) becomes
 * sib, its other child (the next punctured node) zero. A masked pass over
 * the whole level, without a branch or an index on path or b. */
static inline void ggm_put_sibling(block *lv, size_t m, uint64_t path, block mb, block sib) {
    block v0 = block_and(sib, block_xor(mb, block_mask(1))), v1 = block_and(sib, mb);
    for (size_t x = 0; x < m; x++) {
        uint64_t e = eq_mask(x, path);
        block em = {{e, e}};
        lv[2 * x] = block_sel(em, v0, lv[2 * x]);
        lv[2 * x + 1] = block_sel(em, v1, lv[2 * x + 1]);
    }
}

#endif
