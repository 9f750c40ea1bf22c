/* Test harness; see harness.h. */
#include "harness.h"

#include "util/err.h"
#include "util/opt.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TESTS 512

static struct {
    const char *name;
    test_fn fn;
} tests[MAX_TESTS];
static int ntests;
static int cur_failures;
static uint64_t run_seed = 1;
static unsigned run_iters = 1;

void harness_register(const char *name, test_fn fn) {
    if (ntests == MAX_TESTS) abort();
    tests[ntests].name = name;
    tests[ntests].fn = fn;
    ntests++;
}

void harness_fail(const char *file, int line, const char *fmt, ...) {
    if (__atomic_fetch_add(&cur_failures, 1, __ATOMIC_RELAXED) >= 20) return; /* enough said */
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "  FAIL %s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

int harness_failed(void) { return __atomic_load_n(&cur_failures, __ATOMIC_RELAXED) != 0; }
uint64_t harness_seed(void) { return run_seed; }

unsigned harness_iters(unsigned base) {
    uint64_t n = (uint64_t)base * run_iters;
    return n > UINT32_MAX ? UINT32_MAX : (unsigned)n;
}

int harness_tier(const char *family, const cpu_tier *tiers, unsigned t) {
    if (!tiers[t].built) {
        printf("  (%s tier %s: not in this build)\n", family, tiers[t].name);
        return 0;
    }
    if (!cpu_covers(cpu_available(), tiers[t].needs)) {
        printf("  (%s tier %s: %s)\n", family, tiers[t].name,
               cpu_covers(cpu_detected(), tiers[t].needs) ? "left out by PARLEY_CPU"
                                                          : "not on this CPU");
        return 0;
    }
    cpu_restrict(tiers[t].needs);
    return 1;
}

/* A seed or an iteration factor from the command line or the environment;
 * a bad value stops the run (a test that silently ran with other inputs than
 * asked for would replay nothing). */
static void parse_knob(const char *what, const char *v, uint64_t lo, uint64_t hi, uint64_t *out) {
    if (opt_u64(v, lo, hi, out) < 0) {
        fprintf(stderr, "%s must be a decimal integer in %llu..%llu, got '%s'\n", what,
                (unsigned long long)lo, (unsigned long long)hi, v);
        exit(2);
    }
}

block harness_block(uint64_t label) {
    return block_make(run_seed * 0x9e3779b97f4a7c15ULL + 0x1234, label);
}

void harness_prg(prg *p, uint64_t label) { prg_seed(p, harness_block(label)); }

int main(int argc, char **argv) {
    uint64_t iters = 1;
    const char *env = getenv("PARLEY_TEST_SEED");
    if (env && env[0]) parse_knob("PARLEY_TEST_SEED", env, 0, UINT64_MAX, &run_seed);
    env = getenv("PARLEY_TEST_ITERS");
    if (env && env[0]) parse_knob("PARLEY_TEST_ITERS", env, 1, 1000000, &iters);
    const char *only[MAX_TESTS];
    int nonly = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            parse_knob("--seed", argv[++i], 0, UINT64_MAX, &run_seed);
        } else if (strcmp(argv[i], "--iters") == 0 && i + 1 < argc) {
            parse_knob("--iters", argv[++i], 1, 1000000, &iters);
        } else if (strcmp(argv[i], "--list") == 0) {
            for (int t = 0; t < ntests; t++) printf("%s\n", tests[t].name);
            return 0;
        } else if (nonly < MAX_TESTS) {
            only[nonly++] = argv[i];
        }
    }
    run_iters = (unsigned)iters;
    if (run_iters == 1)
        printf("seed %" PRIu64 " (replay with --seed %" PRIu64 ")\n", run_seed, run_seed);
    else
        printf("seed %" PRIu64 ", iterations x%u (replay with --seed %" PRIu64 " --iters %u)\n",
               run_seed, run_iters, run_seed, run_iters);
    int passed = 0, failed = 0;
    for (int t = 0; t < ntests; t++) {
        int want = nonly == 0;
        for (int k = 0; k < nonly; k++)
            if (strcmp(only[k], tests[t].name) == 0) want = 1;
        if (!want) continue;
        cur_failures = 0;
        err_clear();
        cpu_restrict(CPU_ALL);
        tests[t].fn();
        cpu_restrict(CPU_ALL);
        if (cur_failures) {
            printf("FAIL %s\n", tests[t].name);
            failed++;
        } else {
            printf("ok   %s\n", tests[t].name);
            passed++;
        }
        fflush(stdout);
    }
    if (passed + failed == 0 && nonly > 0) {
        fprintf(stderr, "no test named %s\n", only[0]);
        return 2;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
