/* Memory: overflow-checked sizes, aligned allocation, wiping of secrets.
 *
 * mem_alloc returns 64-byte aligned memory owned by the caller, released
 * with mem_free (or mem_free_wipe for buffers that held secrets). */
#ifndef PARLEY_UTIL_MEM_H
#define PARLEY_UTIL_MEM_H

#include "util/err.h"

#include <stddef.h>
#include <stdint.h>

/* *out = a * b; returns 0, or PARLEY_E_NOMEM if it overflows size_t. */
static inline int size_mul(size_t *out, size_t a, size_t b) {
    if (__builtin_mul_overflow(a, b, out)) return PARLEY_E_NOMEM;
    return 0;
}
static inline int size_add(size_t *out, size_t a, size_t b) {
    if (__builtin_add_overflow(a, b, out)) return PARLEY_E_NOMEM;
    return 0;
}

/* Aligned, uninitialised; NULL (with err_msg set) on failure or overflow.
 * A zero-byte request returns a valid, freeable pointer. */
void *mem_alloc(size_t count, size_t size);
void *mem_calloc(size_t count, size_t size);
void mem_free(void *p);
/* Wipe `size` bytes, then free. */
void mem_free_wipe(void *p, size_t size);
/* Wipe memory in a way the compiler cannot elide. */
void mem_wipe(void *p, size_t size);

#endif
