/* Aligned allocation and wiping; see mem.h. */
#include "util/mem.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define MEM_HUGE ((size_t)2 << 20)
#define MEM_HUGE_MIN ((size_t)4 << 20)

void *mem_alloc(size_t count, size_t size) {
    size_t bytes;
    if (size_mul(&bytes, count, size) < 0 || bytes > SIZE_MAX - 64) {
        err_set(PARLEY_E_NOMEM, "allocation of %zu x %zu bytes overflows", count, size);
        return NULL;
    }
    bytes = (bytes + 63) & ~(size_t)63;
    if (bytes == 0) bytes = 64;
    void *p;
    if (bytes >= MEM_HUGE_MIN) {
        /* Large buffers (COT pools, a layer's shares) on huge pages where
         * the kernel offers them: one fault per 2 MiB instead of one per
         * 4 KiB on first touch (docs/BENCHMARKS.md, the silent ReLU's
         * profile). */
        bytes = (bytes + MEM_HUGE - 1) & ~(size_t)(MEM_HUGE - 1);
        p = aligned_alloc(MEM_HUGE, bytes);
#ifdef MADV_HUGEPAGE
        if (p) (void)madvise(p, bytes, MADV_HUGEPAGE);
#endif
    } else {
        p = aligned_alloc(64, bytes);
    }
    if (!p) err_set(PARLEY_E_NOMEM, "out of memory allocating %zu bytes", bytes);
    return p;
}

void *mem_calloc(size_t count, size_t size) {
    void *p = mem_alloc(count, size);
    if (p) memset(p, 0, count * size);
    return p;
}

void mem_free(void *p) { free(p); }

void mem_wipe(void *p, size_t size) {
    if (p && size) sodium_memzero(p, size);
}

void mem_free_wipe(void *p, size_t size) {
    mem_wipe(p, size);
    free(p);
}
