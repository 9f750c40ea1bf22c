/* Constant-time checking. tests/test_ctime.c runs parley under valgrind's
 * memcheck with every secret marked undefined, so that a branch or a memory
 * address computed from a secret is reported (libsecp256k1's ctime_tests).
 * ct_declassify marks bytes computed from secrets that may be public: a
 * result the protocol reveals, or a check whose outcome is the same for all
 * but a negligible fraction of secrets (a zero scalar, a degenerate point).
 * Each use says why. Without valgrind's headers at build time, and outside
 * valgrind, it does nothing. */
#ifndef PARLEY_UTIL_CT_H
#define PARLEY_UTIL_CT_H

#if defined(PARLEY_HAVE_VALGRIND) && PARLEY_HAVE_VALGRIND
#include <valgrind/memcheck.h>
#define ct_declassify(p, n) ((void)VALGRIND_MAKE_MEM_DEFINED((p), (n)))
#else
#define ct_declassify(p, n) ((void)(p), (void)(n))
#endif

#endif
