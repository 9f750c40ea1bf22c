/* Numeric option values; see opt.h. */
#include "util/opt.h"

#include <errno.h>
#include <stdlib.h>

int opt_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out) {
    if (!s || s[0] < '0' || s[0] > '9') return -1; /* strtoull would take " -1" as 2^64 - 1 */
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || *end || x < lo || x > hi) return -1;
    *out = (uint64_t)x;
    return 0;
}

int opt_uint(const char *s, unsigned lo, unsigned hi, unsigned *out) {
    uint64_t x;
    if (opt_u64(s, lo, hi, &x) < 0) return -1;
    *out = (unsigned)x;
    return 0;
}
