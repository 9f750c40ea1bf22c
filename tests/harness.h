/* A small test harness: cases registered with TEST(name), selectable by
 * name on the command line, a printed seed accepted back with --seed or
 * PARLEY_TEST_SEED, an iteration factor for the randomized cases (--iters
 * or PARLEY_TEST_ITERS), and a closing "N passed, N failed" line.
 *
 * The seed defaults to 1; `make test` and CI draw a fresh one per run and
 * print it (README: replaying a failure). Everything random in a case comes
 * from harness_prg / harness_block, so the seed replays the whole case. */
#ifndef PARLEY_TESTS_HARNESS_H
#define PARLEY_TESTS_HARNESS_H

#include "crypto/prg.h"
#include "util/cpu.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>

typedef void (*test_fn)(void);
void harness_register(const char *name, test_fn fn);
void harness_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int harness_failed(void);
uint64_t harness_seed(void);
/* The number of random trials for a case that runs `base` by default:
 * base times the run's iteration factor (1 unless --iters / PARLEY_TEST_ITERS
 * asks for more), saturating. */
unsigned harness_iters(unsigned base);
/* Force tier t of a SIMD family (util/cpu.h) for the rest of the case:
 * returns 1 if this build has it and this CPU offers it (the tiers may then
 * use only its features), else prints why not and returns 0. Every case
 * starts with all features available again. */
int harness_tier(const char *family, const cpu_tier *tiers, unsigned t);
/* A PRG seeded from the run's seed and a label, so each case is reproducible
 * on its own. */
void harness_prg(prg *p, uint64_t label);
block harness_block(uint64_t label);

#define TEST(name)                                                                                 \
    static void test_##name(void);                                                                 \
    __attribute__((constructor)) static void register_##name(void) {                               \
        harness_register(#name, test_##name);                                                      \
    }                                                                                              \
    static void test_##name(void)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) harness_fail(__FILE__, __LINE__, "%s", #cond);                                \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                       \
    do {                                                                                           \
        if (!(cond)) harness_fail(__FILE__, __LINE__, __VA_ARGS__);                                \
    } while (0)

#define CHECK_EQ(a, b)                                                                             \
    do {                                                                                           \
        uint64_t ca_ = (uint64_t)(a), cb_ = (uint64_t)(b);                                         \
        if (ca_ != cb_)                                                                            \
            harness_fail(__FILE__, __LINE__, "%s == %s: 0x%" PRIx64 " != 0x%" PRIx64, #a, #b, ca_, \
                         cb_);                                                                     \
    } while (0)

/* Stop the current case if it has failed (avoid cascades). */
#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            harness_fail(__FILE__, __LINE__, "%s", #cond);                                         \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define REQUIRE_OK(expr)                                                                           \
    do {                                                                                           \
        int rq_ = (expr);                                                                          \
        if (rq_ != 0) {                                                                            \
            harness_fail(__FILE__, __LINE__, "%s returned %d: %s", #expr, rq_, err_msg());         \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#endif
