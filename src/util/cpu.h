/* CPU features and the SIMD tiers built on them.
 *
 * Three families of code come in tiers, each tier a file compiled with its
 * own instruction-set flags (CMake options PARLEY_SIMD_*) next to a portable
 * reference file that is always built:
 *
 *   family      tiers (reference first)           files
 *   aes         ref, aes-ni, vaes-avx2, vaes      crypto/aes_ref.c, aes_ni.c, aes_vaes256.c,
 *                                                 aes_vaes.c
 *   ntt         ref, avx2, avx2-fma, avx512ifma   he/ntt_ref.c, ntt_avx2.c, ntt_fma.c,
 *                                                 ntt_ifma.c
 *   transpose   ref, sse4.1, avx512               ot/transpose_ref.c, transpose_sse.c,
 *                                                 transpose_avx512.c
 *
 * Each family has one dispatch (crypto/aes.c, he/ntt.c, ot/transpose.c) that
 * takes the best tier that is built and whose features cpu_features() has
 * (cpu_best). cpuid is read here, once. What the tiers may use can be
 * narrowed, and that is the one way to force a tier:
 *   - for a process, PARLEY_CPU=<features> (a comma-separated list of the
 *     names below, or "none" for the reference code only);
 *   - in a test, cpu_restrict(mask) (tests/test_tiers.c forces each tier in
 *     turn and compares it with the reference).
 * The tiers give the same bytes; only speed differs. */
#ifndef PARLEY_UTIL_CPU_H
#define PARLEY_UTIL_CPU_H

#include <stddef.h>

enum cpu_feature {
    CPU_SSE41 = 1u << 0,      /* "sse4.1" */
    CPU_AES = 1u << 1,        /* "aes": AES-NI */
    CPU_AVX2 = 1u << 2,       /* "avx2", with the OS saving the YMM state */
    CPU_AVX512F = 1u << 3,    /* "avx512f", with the OS saving the ZMM state */
    CPU_AVX512BW = 1u << 4,   /* "avx512bw" */
    CPU_AVX512VBMI = 1u << 5, /* "avx512vbmi" */
    CPU_VAES = 1u << 6,       /* "vaes" */
    CPU_IFMA = 1u << 7,       /* "avx512ifma": 52-bit multiply-add (with the ZMM state) */
    CPU_FMA = 1u << 8,        /* "fma": fused multiply-add on doubles (with the YMM state) */
    CPU_ALL = (1u << 9) - 1,
};

/* The features of this CPU and OS (cpuid and xgetbv, read once; 0 on a CPU
 * parley has no tiers for). */
unsigned cpu_detected(void);
/* What this process may use: cpu_detected() less what PARLEY_CPU leaves
 * out. A bad PARLEY_CPU stops the process with a message. */
unsigned cpu_available(void);
/* What the tiers use now: cpu_available() less what cpu_restrict took. */
unsigned cpu_features(void);
/* Let the tiers use only the features in mask (CPU_ALL: all available
 * again). Process-wide; for tests, between operations. */
void cpu_restrict(unsigned mask);
/* Write the names of the features in mask ("sse4.1,aes,avx2"; "none"). */
void cpu_names(char *buf, size_t cap, unsigned mask);

static inline int cpu_covers(unsigned have, unsigned need) {
    return (have & need) == need;
}

/* One tier of a family. A family lists its tiers from the reference (index
 * 0: needs nothing, always built) up to the fastest. */
typedef struct cpu_tier {
    const char *name;
    unsigned needs; /* the features its code is compiled for */
    int built;      /* its file is in this build */
} cpu_tier;

/* The best of tiers[0..n-1] that is built and whose needs the current
 * features cover (0, the reference, if none). */
static inline unsigned cpu_best(const cpu_tier *tiers, unsigned n) {
    unsigned f = cpu_features();
    for (unsigned t = n; t-- > 1;)
        if (tiers[t].built && cpu_covers(f, tiers[t].needs)) return t;
    return 0;
}

/* Which tiers are compiled in (0 or 1; set by CMake, see PARLEY_SIMD_*). */
#ifndef PARLEY_HAVE_SSE41
#define PARLEY_HAVE_SSE41 0
#endif
#ifndef PARLEY_HAVE_AESNI
#define PARLEY_HAVE_AESNI 0
#endif
#ifndef PARLEY_HAVE_AVX2
#define PARLEY_HAVE_AVX2 0
#endif
#ifndef PARLEY_HAVE_AVX512
#define PARLEY_HAVE_AVX512 0
#endif

#endif
