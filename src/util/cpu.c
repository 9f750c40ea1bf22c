/* CPU features: cpuid once, PARLEY_CPU, and the tests' restriction; see cpu.h. */
#include "util/cpu.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

static const struct {
    const char *name;
    unsigned bit;
} cpu_feature_names[] = {
    {"sse4.1", CPU_SSE41},    {"aes", CPU_AES},           {"avx2", CPU_AVX2},
    {"avx512f", CPU_AVX512F}, {"avx512bw", CPU_AVX512BW}, {"avx512vbmi", CPU_AVX512VBMI},
    {"vaes", CPU_VAES},       {"avx512ifma", CPU_IFMA},   {"fma", CPU_FMA},
};
#define NFEATURES (sizeof cpu_feature_names / sizeof *cpu_feature_names)

static unsigned detect(void) {
    unsigned f = 0;
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (c & (1u << 19)) f |= CPU_SSE41;
    if (c & (1u << 25)) f |= CPU_AES;
    int fma = (c >> 12) & 1;
    /* The wide registers count only if the OS saves them (OSXSAVE, then
     * XCR0: SSE and AVX state for AVX2; also the opmask and both halves of
     * the ZMM state for AVX-512). */
    unsigned xcr0 = 0;
    if (c & (1u << 27)) {
        unsigned lo, hi;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        (void)hi;
        xcr0 = lo;
    }
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return f;
    if ((xcr0 & 0x06) == 0x06) {
        if (b & (1u << 5)) f |= CPU_AVX2;
        /* VAES on YMM registers needs only the AVX state; its 512-bit form
         * also needs AVX512F, which the tier using it asks for too. */
        if (c & (1u << 9)) f |= CPU_VAES;
        if (fma) f |= CPU_FMA;
    }
    if ((xcr0 & 0xe6) == 0xe6) {
        if (b & (1u << 16)) f |= CPU_AVX512F;
        if (b & (1u << 30)) f |= CPU_AVX512BW;
        if (c & (1u << 1)) f |= CPU_AVX512VBMI;
        if (b & (1u << 21)) f |= CPU_IFMA;
    }
#endif
    return f;
}

/* PARLEY_CPU: the features the process may use. */
static unsigned env_mask(void) {
    const char *e = getenv("PARLEY_CPU");
    if (!e || !e[0] || strcmp(e, "all") == 0) return CPU_ALL;
    if (strcmp(e, "none") == 0) return 0;
    unsigned m = 0;
    const char *p = e;
    while (*p) {
        size_t len = strcspn(p, ",");
        size_t k = 0;
        while (k < NFEATURES && (strlen(cpu_feature_names[k].name) != len ||
                                 strncmp(p, cpu_feature_names[k].name, len) != 0))
            k++;
        if (k == NFEATURES) {
            fprintf(stderr,
                    "parley: PARLEY_CPU='%s': unknown feature '%.*s' (use none, all, or a "
                    "comma-separated list of sse4.1, aes, avx2, avx512f, avx512bw, avx512vbmi, "
                    "vaes, avx512ifma, fma)\n",
                    e, (int)len, p);
            exit(2);
        }
        m |= cpu_feature_names[k].bit;
        p += len;
        if (*p == ',') p++;
    }
    return m;
}

static unsigned detected, available;
static unsigned current; /* available & the tests' restriction */
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init(void) {
    detected = detect();
    available = detected & env_mask();
    __atomic_store_n(&current, available, __ATOMIC_RELEASE);
}

unsigned cpu_detected(void) {
    pthread_once(&once, init);
    return detected;
}

unsigned cpu_available(void) {
    pthread_once(&once, init);
    return available;
}

unsigned cpu_features(void) {
    pthread_once(&once, init);
    return __atomic_load_n(&current, __ATOMIC_ACQUIRE);
}

void cpu_restrict(unsigned mask) {
    pthread_once(&once, init);
    __atomic_store_n(&current, available & mask, __ATOMIC_RELEASE);
}

void cpu_names(char *buf, size_t cap, unsigned mask) {
    if (cap == 0) return;
    buf[0] = 0;
    size_t used = 0;
    for (size_t k = 0; k < NFEATURES; k++) {
        if (!(mask & cpu_feature_names[k].bit)) continue;
        int w =
            snprintf(buf + used, cap - used, "%s%s", used ? "," : "", cpu_feature_names[k].name);
        if (w < 0 || (size_t)w >= cap - used) return;
        used += (size_t)w;
    }
    if (!used) snprintf(buf, cap, "none");
}
