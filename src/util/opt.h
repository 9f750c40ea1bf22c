/* Parsing of numeric command-line option values, shared by the parley
 * command, the benchmark program and the test harness. */
#ifndef PARLEY_UTIL_OPT_H
#define PARLEY_UTIL_OPT_H

#include <stdint.h>

/* A decimal unsigned integer in [lo, hi]: digits only (no sign, no spaces,
 * no base prefix), nothing after them, no overflow. Returns 0 and sets *out,
 * or -1 and leaves *out alone. */
int opt_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);
/* The same for an unsigned. */
int opt_uint(const char *s, unsigned lo, unsigned hi, unsigned *out);

#endif
