/* The SIMD tiers (util/cpu.h): every tier of every family that this build
 * has and this CPU offers is forced in turn and compared with the portable
 * reference on random inputs, at lengths around each tier's steps and tails;
 * the dispatch must pick the forced tier. Tiers that cannot run here are
 * named as skipped. Also the feature mask itself and PARLEY_CPU. */
#include "harness.h"

#include "crypto/aes_tiers.h"
#include "he/ntt_tiers.h"
#include "ot/transpose_tiers.h"
#include "util/bits.h"
#include "util/mem.h"

#include <fenv.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#define SSE_CSR() _mm_getcsr() /* fegetround reads the x87 word, not the SSE one */
#else
#define SSE_CSR() 0u
#endif

/* ---- the feature mask ---- */

TEST(cpu_mask) {
    unsigned det = cpu_detected(), av = cpu_available();
    char names[128];
    cpu_names(names, sizeof names, det);
    printf("  detected: %s\n", names);
    CHECK((av & ~det) == 0);
    CHECK_EQ(cpu_features(), av);
    cpu_restrict(CPU_AES | CPU_AVX2);
    CHECK_EQ(cpu_features(), av & (CPU_AES | CPU_AVX2));
    cpu_restrict(0);
    CHECK_EQ(cpu_features(), 0);
    CHECK_EQ(aes_tier(), AES_TIER_REF);
    CHECK_EQ(ntt_tier(), NTT_TIER_REF);
    CHECK_EQ(transpose_tier(1024, 1024), TRANSPOSE_TIER_REF);
    cpu_restrict(CPU_ALL);
    CHECK_EQ(cpu_features(), av);
    cpu_names(names, sizeof names, 0);
    CHECK(strcmp(names, "none") == 0);
    cpu_names(names, sizeof names, CPU_SSE41 | CPU_AVX2 | CPU_VAES);
    CHECK(strcmp(names, "sse4.1,avx2,vaes") == 0);
    cpu_names(names, 8, CPU_ALL); /* cut at the buffer, still a string */
    CHECK(strlen(names) < 8);
}

/* Run by CTest with PARLEY_CPU set (tests/CMakeLists.txt): the process may
 * use exactly the named features the CPU has. */
TEST(cpu_env) {
    const char *e = getenv("PARLEY_CPU");
    if (!e) {
        printf("  (PARLEY_CPU not set: nothing to check)\n");
        return;
    }
    unsigned want = CPU_ALL;
    if (strcmp(e, "none") == 0)
        want = 0;
    else if (strcmp(e, "sse4.1,aes") == 0)
        want = CPU_SSE41 | CPU_AES;
    else if (strcmp(e, "avx2") == 0)
        want = CPU_AVX2;
    else if (strcmp(e, "avx2,fma") == 0)
        want = CPU_AVX2 | CPU_FMA;
    CHECK_EQ(cpu_available(), cpu_detected() & want);
    /* the HE transforms: on doubles only where FMA is allowed */
    if (ntt_tiers[NTT_TIER_FMA].built && cpu_covers(cpu_detected(), CPU_AVX2 | CPU_FMA) &&
        (want == CPU_AVX2 || want == (CPU_AVX2 | CPU_FMA)))
        CHECK_EQ(ntt_tier(), want == CPU_AVX2 ? NTT_TIER_AVX2 : NTT_TIER_FMA);
    if (want == 0) {
        CHECK_EQ(aes_tier(), AES_TIER_REF);
        CHECK_EQ(ntt_tier(), NTT_TIER_REF);
        CHECK_EQ(transpose_tier(1024, 1024), TRANSPOSE_TIER_REF);
    }
}

/* ---- AES ---- */

TEST(aes_tiers_match_ref) {
    static const size_t sizes[] = {0,  1,  2,  3,  4,  5,  7,  8,    9,
                                   15, 16, 17, 19, 31, 32, 33, 1000, 8192};
    enum { NS = sizeof sizes / sizeof *sizes };
    prg p;
    harness_prg(&p, 1);
    for (unsigned t = 0; t < AES_TIERS; t++) {
        if (!harness_tier("aes", aes_tiers, t)) continue;
        CHECK_EQ(aes_tier(), t);
        for (unsigned it = 0; it < harness_iters(1); it++)
            for (size_t s = 0; s < NS; s++) {
                size_t n = sizes[s];
                block *in = mem_alloc(n + 1, 16), *a = mem_alloc(n + 1, 16),
                      *b = mem_alloc(n + 1, 16);
                REQUIRE(in && a && b);
                uint8_t key[16];
                prg_bytes(&p, key, 16);
                aes_key k;
                aes_expand(&k, key);
                const block sentinel = block_make(0xdead, 0xbeef);
                /* ECB, with a sentinel past the end (masked tails must not
                 * store beyond n) and in place */
                prg_blocks(&p, in, n);
                a[n] = sentinel;
                aes_ecb(&k, a, in, n);
                aes_ref_ecb(&k, b, in, n);
                CHECK_MSG(memcmp(a, b, n * 16) == 0, "aes %s ecb n=%zu", aes_tiers[t].name, n);
                CHECK(block_eq(a[n], sentinel));
                memcpy(a, in, n * 16);
                aes_ecb(&k, a, a, n);
                CHECK(memcmp(a, b, n * 16) == 0);
                /* CTR, with counters about to wrap in 64 bits */
                uint64_t ctr = s % 2 ? ~0ULL - 5 : prg_u64(&p);
                aes_ctr(&k, a, ctr, n);
                aes_ref_ctr(&k, b, ctr, n);
                CHECK_MSG(memcmp(a, b, n * 16) == 0, "aes %s ctr n=%zu", aes_tiers[t].name, n);
                CHECK(block_eq(a[n], sentinel));
                /* the fused hash, tweaks about to wrap, and in place */
                uint64_t tlo = s % 2 ? ~0ULL - 2 : prg_u64(&p), thi = prg_u64(&p);
                prg_blocks(&p, in, n);
                aes_tmmo(&k, a, in, n, tlo, thi);
                aes_ref_tmmo(&k, b, in, n, tlo, thi);
                CHECK_MSG(memcmp(a, b, n * 16) == 0, "aes %s tmmo n=%zu", aes_tiers[t].name, n);
                CHECK(block_eq(a[n], sentinel));
                aes_tmmo(&k, in, in, n, tlo, thi);
                CHECK(memcmp(in, b, n * 16) == 0);
                aes_clear(&k);
                mem_free(in);
                mem_free(a);
                mem_free(b);
            }
    }
    prg_clear(&p);
}

/* The packed hashes of a (16 choose 1)-OT sender: every tier against the
 * reference (one aes_ref_tmmo per hash), for every N with short and
 * widest messages, odd counts (the fused tier's passes of 8 pairs split
 * inputs), choices of every value, tweaks about to wrap; nothing written
 * past n. */
TEST(aes_tmmo_pack_tiers_match_ref) {
    static const unsigned Ns[] = {2, 3, 4, 5, 7, 8, 9, 15, 16};
    static const size_t sizes[] = {0, 1, 2, 3, 5, 8, 17, 255, 256, 1001};
    prg p;
    harness_prg(&p, 21);
    enum { MAXN = 1001 };
    block *in = mem_alloc(MAXN, 16), D[16];
    uint8_t *d = mem_alloc(MAXN, 1);
    uint64_t *a = mem_alloc(MAXN + 1, 8), *b = mem_alloc(MAXN + 1, 8);
    REQUIRE(in && d && a && b);
    for (unsigned t = 0; t < AES_TIERS; t++) {
        if (!harness_tier("aes", aes_tiers, t)) continue;
        for (size_t x = 0; x < sizeof Ns / sizeof *Ns; x++)
            for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
                unsigned N = Ns[x], lw = 64 / N;
                unsigned ls[] = {1, 2, lw};
                size_t n = sizes[s];
                for (int w = 0; w < 3; w++) {
                    unsigned l = ls[w];
                    uint8_t key[16];
                    prg_bytes(&p, key, 16);
                    aes_key k;
                    aes_expand(&k, key);
                    prg_blocks(&p, in, n);
                    prg_blocks(&p, D, 16);
                    prg_bytes(&p, d, n);
                    for (size_t i = 0; i < n; i++) d[i] &= 15u;
                    uint64_t tlo = s % 2 ? ~0ULL - 3 : prg_u64(&p), thi = prg_u64(&p);
                    a[n] = 0x5e5e;
                    aes_tmmo_pack(&k, a, in, d, D, n, N, l, tlo, thi);
                    aes_ref_tmmo_pack(&k, b, in, d, D, n, N, l, tlo, thi);
                    CHECK_MSG(memcmp(a, b, n * 8) == 0, "aes %s tmmo_pack N=%u l=%u n=%zu",
                              aes_tiers[t].name, N, l, n);
                    CHECK_EQ(a[n], 0x5e5e);
                    /* the reference itself: one input's fields by hand */
                    if (n > 0 && t == 0) {
                        unsigned j = N - 1;
                        block xk = block_xor(in[n - 1], D[j ^ d[n - 1]]), o;
                        aes_ref_tmmo(&k, &o, &xk, 1, tlo + n - 1, thi);
                        CHECK_EQ((b[n - 1] >> (j * l)) & bits_mask(l), o.w[0] & bits_mask(l));
                    }
                    aes_clear(&k);
                }
            }
    }
    mem_free(in);
    mem_free(d);
    mem_free(a);
    mem_free(b);
    prg_clear(&p);
}

/* A KK sender's pads on COTs: every tier against the reference, every L,
 * odd counts (the fused tier takes 8 / L OTs per pass), the COTs of one
 * OT a stride apart as the OT flavours lay them out, tweaks about to
 * wrap, masks of every kind; nothing written past n. */
TEST(aes_tmmo_kk_tiers_match_ref) {
    static const size_t sizes[] = {0, 1, 2, 3, 7, 8, 9, 255, 256, 1001};
    prg p;
    harness_prg(&p, 22);
    enum { MAXN = 1001, MAXL = 8 };
    block *q = mem_alloc(MAXN * MAXL + 3, 16);
    uint8_t *d = mem_alloc(MAXN * MAXL, 1);
    uint64_t *a = mem_alloc(MAXN + 1, 8), *b = mem_alloc(MAXN + 1, 8), mj[MAXL];
    REQUIRE(q && d && a && b);
    for (unsigned t = 0; t < AES_TIERS; t++) {
        if (!harness_tier("aes", aes_tiers, t)) continue;
        for (unsigned L = 1; L <= MAXL; L++)
            for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
                size_t n = sizes[s], stride = n + s % 3; /* a gap between the COTs of j */
                uint8_t key[16];
                prg_bytes(&p, key, 16);
                aes_key k;
                aes_expand(&k, key);
                prg_blocks(&p, q, stride * L + 1);
                prg_bytes(&p, d, n * L);
                for (size_t i = 0; i < n * L; i++) d[i] &= 1u;
                for (unsigned j = 0; j < L; j++) /* all-zero, all-one and random masks */
                    mj[j] = j == 0 ? 0 : j == 1 ? ~0ULL : prg_u64(&p);
                block delta = block_make(prg_u64(&p), prg_u64(&p) | 1);
                uint64_t tlo = s % 2 ? ~0ULL - 5 : prg_u64(&p), thi = prg_u64(&p);
                a[n] = 0x5e5e;
                aes_tmmo_kk(&k, a, q, stride, d, delta, mj, n, L, tlo, thi);
                aes_ref_tmmo_kk(&k, b, q, stride, d, delta, mj, n, L, tlo, thi);
                CHECK_MSG(memcmp(a, b, n * 8) == 0, "aes %s tmmo_kk L=%u n=%zu", aes_tiers[t].name,
                          L, n);
                CHECK_EQ(a[n], 0x5e5e);
                /* the reference itself, by hand: the last OT's last COT, mask all-ones
                 * (j = 1) or the pads of both keys */
                if (n > 0 && t == 0 && L == 2) {
                    size_t i = n - 1;
                    uint64_t want = 0;
                    for (unsigned j = 0; j < 2; j++) {
                        block k0 = q[j * stride + i], o0, o1;
                        if (d[i * 2 + j]) k0 = block_xor(k0, delta);
                        block k1 = block_xor(k0, delta);
                        aes_ref_tmmo(&k, &o0, &k0, 1, tlo + j * stride + i, thi);
                        aes_ref_tmmo(&k, &o1, &k1, 1, tlo + j * stride + i, thi);
                        want ^= j == 0 ? o0.w[0] : o1.w[0];
                    }
                    CHECK_EQ(b[i], want);
                }
                aes_clear(&k);
            }
    }
    mem_free(q);
    mem_free(d);
    mem_free(a);
    mem_free(b);
    prg_clear(&p);
}

/* A key expanded under one tier serves under every other (tests and
 * PARLEY_CPU change tiers while keys live). */
TEST(aes_key_across_tiers) {
    prg p;
    harness_prg(&p, 2);
    uint8_t key[16];
    prg_bytes(&p, key, 16);
    block in[40], want[40], got[40];
    prg_blocks(&p, in, 40);
    aes_key k;
    cpu_restrict(0);
    aes_expand(&k, key);
    aes_ref_ecb(&k, want, in, 40);
    for (unsigned t = 0; t < AES_TIERS; t++) {
        if (!harness_tier("aes", aes_tiers, t)) continue;
        aes_ecb(&k, got, in, 40);
        CHECK_MSG(memcmp(got, want, sizeof want) == 0, "aes tier %s", aes_tiers[t].name);
    }
    aes_clear(&k);
    prg_clear(&p);
}

/* ---- NTT ---- */

static void rand_mod(prg *g, uint64_t *a, size_t n, uint64_t q) {
    for (size_t i = 0; i < n; i++)
        a[i] = prg_u64(g) % q;
}

TEST(ntt_tiers_match_ref) {
    const he_params *P = he_params_get();
    prg g;
    harness_prg(&g, 3);
    he_poly *x = mem_alloc(1, sizeof *x), *y = mem_alloc(1, sizeof *y),
            *z = mem_alloc(1, sizeof *z);
    he_u128 *acc1 = mem_alloc((size_t)HE_L * HE_N, sizeof(he_u128)),
            *acc2 = mem_alloc((size_t)HE_L * HE_N, sizeof(he_u128));
    REQUIRE(x && y && z && acc1 && acc2);
    for (unsigned t = 0; t < NTT_TIERS; t++) {
        if (!harness_tier("ntt", ntt_tiers, t)) continue;
        CHECK_EQ(ntt_tier(), t);
        unsigned rounds = 3 + harness_iters(1);
        for (unsigned round = 0; round < rounds; round++) {
            for (int i = 0; i < HE_L; i++) {
                uint64_t q = P->p[i].q;
                rand_mod(&g, x->c[i], HE_N, q);
                rand_mod(&g, y->c[i], HE_N, q);
                if (round == 0) /* the largest residues */
                    for (size_t j = 0; j < HE_N; j++)
                        x->c[i][j] = y->c[i][j] = q - 1;
                if (round == 1) /* zeros and ones */
                    for (size_t j = 0; j < HE_N; j++)
                        x->c[i][j] = j % 3 == 0;
            }
            for (int i = 0; i < HE_L; i++) {
                const he_prime *pr = &P->p[i];
                memcpy(z->c[i], x->c[i], HE_N * 8);
                he_ntt_fwd(pr, z->c[i]);
                he_ntt_fwd_ref(pr, x->c[i]);
                CHECK_MSG(memcmp(z->c[i], x->c[i], HE_N * 8) == 0, "ntt %s fwd prime %d",
                          ntt_tiers[t].name, i);
                he_ntt_inv(pr, z->c[i]);
                he_ntt_inv_ref(pr, x->c[i]);
                CHECK_MSG(memcmp(z->c[i], x->c[i], HE_N * 8) == 0, "ntt %s inv prime %d",
                          ntt_tiers[t].name, i);
            }
            /* the pruned transform at every support size */
            for (unsigned logm = 0; logm <= HE_LOGN; logm += round == 0 ? 1 : 5) {
                const he_prime *pr = &P->p[round % HE_L];
                memset(z->c[0], 0, HE_N * 8);
                rand_mod(&g, z->c[0], (size_t)1 << logm, pr->q);
                memcpy(z->c[1], z->c[0], HE_N * 8);
                he_ntt_fwd_pruned(pr, z->c[0], logm);
                he_ntt_fwd_pruned_ref(pr, z->c[1], logm);
                CHECK_MSG(memcmp(z->c[0], z->c[1], HE_N * 8) == 0, "ntt %s pruned logm %u",
                          ntt_tiers[t].name, logm);
            }
            /* multiply-accumulate, accumulators near the top of their range */
            for (size_t j = 0; j < (size_t)HE_L * HE_N; j++)
                acc1[j] = acc2[j] = round == 0 ? ~(he_u128)0 - ((he_u128)1 << 111) - j
                                               : ((he_u128)prg_u64(&g) << 40) | prg_u64(&g);
            he_mac(acc1, x, y);
            he_mac_ref(acc2, x, y);
            CHECK_MSG(memcmp(acc1, acc2, (size_t)HE_L * HE_N * sizeof(he_u128)) == 0,
                      "ntt %s mac round %u", ntt_tiers[t].name, round);
        }
    }
    mem_free(x);
    mem_free(y);
    mem_free(z);
    mem_free(acc1);
    mem_free(acc2);
    prg_clear(&g);
}

/* Every tier under every rounding mode a program may set: the FMA tier
 * computes on doubles (it sets rounding to nearest for its run and must
 * give the mode back). */
TEST(ntt_tiers_any_rounding) {
    const he_params *P = he_params_get();
    prg g;
    harness_prg(&g, 5);
    enum { K = 3 };
    uint64_t *buf = mem_alloc((size_t)(2 * K + 2) * HE_N, 8);
    he_u128 *want = mem_alloc(HE_N, sizeof(he_u128)), *got = mem_alloc(HE_N, sizeof(he_u128));
    REQUIRE(buf && want && got);
    const int modes[] = {FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO};
    const uint64_t *w[K], *x[K];
    for (size_t i = 0; i < K; i++) {
        w[i] = buf + i * HE_N;
        x[i] = buf + (K + i) * HE_N;
    }
    uint64_t *y = buf + 2 * K * HE_N, *z = y + HE_N;
    for (unsigned t = 0; t < NTT_TIERS; t++) {
        if (!harness_tier("ntt", ntt_tiers, t)) continue;
        for (size_t mi = 0; mi < sizeof modes / sizeof *modes; mi++) {
            for (int i = 0; i < HE_L; i++) {
                const he_prime *pr = &P->p[i];
                rand_mod(&g, buf, (size_t)2 * K * HE_N, pr->q);
                for (size_t j = 0; j < HE_N; j++) /* the largest products too */
                    buf[j] = buf[K * HE_N + j] = pr->q - 1;
                memcpy(y, x[1], HE_N * 8);
                memcpy(z, x[1], HE_N * 8);
                REQUIRE(fesetround(modes[mi]) == 0);
                unsigned csr = SSE_CSR();
                he_ntt_fwd(pr, y);
                CHECK_EQ(SSE_CSR(), csr);
                he_ntt_fwd_ref(pr, z);
                CHECK_MSG(memcmp(y, z, HE_N * 8) == 0, "ntt %s fwd, mode %zu", ntt_tiers[t].name,
                          mi);
                he_ntt_inv(pr, y);
                CHECK_EQ(SSE_CSR(), csr);
                he_ntt_inv_ref(pr, z);
                CHECK_MSG(memcmp(y, z, HE_N * 8) == 0, "ntt %s inv, mode %zu", ntt_tiers[t].name,
                          mi);
                memset(want, 0, HE_N * sizeof(he_u128));
                memset(got, 0, HE_N * sizeof(he_u128));
                he_u128 *ga[1] = {got}, *wa[1] = {want};
                he_mac_rows_multi(ga, w, x, 1, K);
                CHECK_EQ(SSE_CSR(), csr);
                REQUIRE(fesetround(FE_TONEAREST) == 0);
                he_mac_rows_multi_ref(wa, w, x, 1, K);
                CHECK_MSG(memcmp(want, got, HE_N * sizeof(he_u128)) == 0,
                          "ntt %s products, mode %zu", ntt_tiers[t].name, mi);
            }
        }
    }
    REQUIRE(fesetround(FE_TONEAREST) == 0);
    mem_free(buf);
    mem_free(want);
    mem_free(got);
    prg_clear(&g);
}

/* Sums of products over more terms than the AVX2 kernel's 128-term stride,
 * several outputs at once, and a count below the stride; and the fused
 * pair of them over two sets of x rows (he_mac_rows_multi2). */
TEST(mac_rows_tiers_match_ref) {
    const he_params *P = he_params_get();
    prg g;
    harness_prg(&g, 4);
    enum { G = 3, K = 130 };
    uint64_t *buf = mem_alloc((size_t)(G * K + K) * HE_N, 8);
    he_u128 *want = mem_alloc((size_t)G * HE_N, sizeof(he_u128)),
            *got = mem_alloc((size_t)G * HE_N, sizeof(he_u128));
    REQUIRE(buf && want && got);
    const uint64_t *w[G * K], *x[K];
    for (size_t i = 0; i < (size_t)(G * K + K); i++)
        rand_mod(&g, buf + i * HE_N, HE_N, P->p[1].q);
    for (size_t j = 0; j < HE_N; j++)
        buf[j] = buf[(size_t)G * K * HE_N + j] = P->p[1].q - 1; /* w[0] and x[0] */
    for (size_t i = 0; i < G * K; i++)
        w[i] = buf + i * HE_N;
    for (size_t i = 0; i < K; i++)
        x[i] = buf + (G * K + i) * HE_N;
    he_u128 *want2 = mem_alloc((size_t)G * HE_N, sizeof(he_u128)),
            *got2 = mem_alloc((size_t)G * HE_N, sizeof(he_u128));
    REQUIRE(want2 && got2);
    he_u128 *wa[G], *ga[G], *wa2[G], *ga2[G];
    for (size_t gi = 0; gi < G; gi++) {
        wa[gi] = want + gi * HE_N;
        ga[gi] = got + gi * HE_N;
        wa2[gi] = want2 + gi * HE_N;
        ga2[gi] = got2 + gi * HE_N;
    }
    /* round 1: every operand q - 1, the largest products and sums */
    for (int round = 0; round < 2; round++)
        for (unsigned t = 0; t < NTT_TIERS; t++) {
            if (!harness_tier("ntt", ntt_tiers, t)) continue;
            if (round == 1)
                for (size_t i = 0; i < (size_t)(G * K + K) * HE_N; i++)
                    buf[i] = P->p[1].q - 1;
            const size_t counts[] = {1, 7, 128, K};
            for (size_t c = 0; c < sizeof counts / sizeof *counts; c++) {
                for (size_t j = 0; j < (size_t)G * HE_N; j++)
                    want[j] = got[j] = (he_u128)j << 70;
                he_mac_rows_multi(ga, w, x, G, counts[c]);
                he_mac_rows_multi_ref(wa, w, x, G, counts[c]);
                CHECK_MSG(memcmp(want, got, (size_t)G * HE_N * sizeof(he_u128)) == 0,
                          "ntt %s mac_rows_multi count %zu round %d", ntt_tiers[t].name, counts[c],
                          round);
                he_mac_rows(got, w, x, counts[c]);
                he_mac_rows_multi_ref(wa, w, x, 1, counts[c]);
                CHECK(memcmp(want, got, HE_N * sizeof(he_u128)) == 0);
                /* the fused pair (b and a parts): x, and w's first rows as the
                 * second part */
                for (size_t j = 0; j < (size_t)G * HE_N; j++) {
                    want[j] = got[j] = (he_u128)j << 70;
                    want2[j] = got2[j] = ((he_u128)j << 71) | j;
                }
                he_mac_rows_multi2(ga, ga2, w, x, w, G, counts[c]);
                he_mac_rows_multi_ref(wa, w, x, G, counts[c]);
                he_mac_rows_multi_ref(wa2, w, w, G, counts[c]);
                CHECK_MSG(memcmp(want, got, (size_t)G * HE_N * sizeof(he_u128)) == 0 &&
                              memcmp(want2, got2, (size_t)G * HE_N * sizeof(he_u128)) == 0,
                          "ntt %s mac_rows_multi2 count %zu round %d", ntt_tiers[t].name, counts[c],
                          round);
            }
        }
    mem_free(buf);
    mem_free(want);
    mem_free(got);
    mem_free(want2);
    mem_free(got2);
    prg_clear(&g);
}

/* ---- bit transpose ---- */

static const size_t shapes[][2] = {{16, 8},     {48, 24},   {64, 8},     {128, 128},
                                   {192, 136},  {256, 384}, {64, 512},   {256, 1024},
                                   {128, 1032}, {512, 520}, {128, 8192}, {8192, 8}};
#define NSHAPES (sizeof shapes / sizeof *shapes)

TEST(transpose_tiers_match_ref) {
    prg p;
    harness_prg(&p, 5);
    for (unsigned t = 0; t < TRANSPOSE_TIERS; t++) {
        if (!harness_tier("transpose", transpose_tiers, t)) continue;
        for (unsigned it = 0; it < harness_iters(1); it++)
            for (size_t s = 0; s < NSHAPES; s++) {
                size_t rows = shapes[s][0], cols = shapes[s][1], bytes = rows * cols / 8;
                /* AVX-512 takes only shapes whose tiles pay; the rest go to
                 * the best tier below it */
                unsigned want = t;
                if (t == TRANSPOSE_TIER_AVX512 && !(rows % 64 == 0 && cols >= 512))
                    want = cpu_best(transpose_tiers, TRANSPOSE_TIER_AVX512);
                CHECK_EQ(transpose_tier(rows, cols), want);
                uint8_t *in = mem_alloc(bytes, 1), *a = mem_alloc(bytes + 64, 1),
                        *b = mem_alloc(bytes, 1);
                REQUIRE(in && a && b);
                prg_bytes(&p, in, bytes);
                memset(a + bytes, 0x5a, 64);
                bit_transpose(a, in, rows, cols);
                bit_transpose_ref(b, in, rows, cols);
                CHECK_MSG(memcmp(a, b, bytes) == 0, "transpose %s %zu x %zu",
                          transpose_tiers[t].name, rows, cols);
                for (int k = 0; k < 64; k++)
                    CHECK_EQ(a[bytes + k], 0x5a);
#if PARLEY_HAVE_AVX512
                /* the AVX-512 tiles also on the shapes the dispatch gives
                 * to another tier (column tails, one tile of rows) */
                if (t == TRANSPOSE_TIER_AVX512 && rows % 64 == 0) {
                    bit_transpose_avx512(a, in, rows, cols);
                    CHECK_MSG(memcmp(a, b, bytes) == 0, "avx512 tiles %zu x %zu", rows, cols);
                    for (int k = 0; k < 64; k++)
                        CHECK_EQ(a[bytes + k], 0x5a);
                }
#endif
                mem_free(in);
                mem_free(a);
                mem_free(b);
            }
    }
    prg_clear(&p);
}

/* The reference against the definition, and transposing twice. */
TEST(transpose_ref_definition) {
    prg p;
    harness_prg(&p, 6);
    for (size_t s = 0; s < NSHAPES; s++) {
        size_t rows = shapes[s][0], cols = shapes[s][1], bytes = rows * cols / 8;
        uint8_t *in = mem_alloc(bytes, 1), *a = mem_alloc(bytes, 1), *b = mem_alloc(bytes, 1);
        REQUIRE(in && a && b);
        prg_bytes(&p, in, bytes);
        bit_transpose_ref(a, in, rows, cols);
        for (size_t r = 0; r < rows; r += 7)
            for (size_t c = 0; c < cols; c += 5)
                CHECK_EQ((in[r * (cols / 8) + c / 8] >> (c % 8)) & 1,
                         (a[c * (rows / 8) + r / 8] >> (r % 8)) & 1);
        bit_transpose_ref(b, a, cols, rows);
        CHECK(memcmp(b, in, bytes) == 0);
        mem_free(in);
        mem_free(a);
        mem_free(b);
    }
    prg_clear(&p);
}
