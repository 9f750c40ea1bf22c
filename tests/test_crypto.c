/* crypto: AES against FIPS-197, the AES-NI path against its OpenSSL twin,
 * the PRG, the hash, and the base OT (including a peer sending junk). */
#include "harness.h"
#include "twoparty.h"

#include "crypto/baseot.h"
#include "util/mem.h"

static void hex(uint8_t *out, const char *h, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(h + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
}

static void fips197_case(enum aes_impl impl) {
    static const char *vec[][3] = {
        /* FIPS-197 Appendix B and Appendix C.1 */
        {"2b7e151628aed2a6abf7158809cf4f3c", "3243f6a8885a308d313198a2e0370734",
         "3925841d02dc09fbdc118597196a0b32"},
        {"000102030405060708090a0b0c0d0e0f", "00112233445566778899aabbccddeeff",
         "69c4e0d86a7b0430d8cdb78070b4c55a"},
    };
    aes_force_impl(impl);
    for (int v = 0; v < 2; v++) {
        uint8_t key[16];
        block in, want, out;
        hex(key, vec[v][0], 16);
        hex(in.b, vec[v][1], 16);
        hex(want.b, vec[v][2], 16);
        aes_key k;
        aes_expand(&k, key);
        aes_ecb(&k, &out, &in, 1);
        CHECK_MSG(block_eq(out, want), "FIPS-197 vector %d, impl %d", v, (int)impl);
        aes_clear(&k);
    }
    aes_force_impl(AES_IMPL_AUTO);
}

TEST(aes_fips197_ni) {
    if (!aes_ni_available()) {
        printf("  (no AES-NI on this CPU: only the twin is tested)\n");
        return;
    }
    fips197_case(AES_IMPL_NI);
}

TEST(aes_fips197_ref) { fips197_case(AES_IMPL_REF); }

TEST(aes_fips197_vaes) {
    if (!aes_vaes_available()) {
        printf("  (no VAES/AVX-512 on this CPU: tier not tested)\n");
        return;
    }
    fips197_case(AES_IMPL_VAES);
    CHECK_EQ(aes_current_impl(), AES_IMPL_VAES); /* AUTO picks the widest tier */
}

/* The VAES tier against the twin, for lengths around its 16- and 4-block
 * steps (masked tails), tweaks near 2^64 (the counter wraps in 64 bits). */
TEST(aes_vaes_matches_twin) {
    if (!aes_vaes_available()) return;
    prg p;
    harness_prg(&p, 4);
    size_t sizes[] = {0, 1, 2, 3, 4, 5, 15, 16, 17, 19, 31, 32, 33, 1000, 8192};
    for (int s = 0; s < 15; s++) {
        size_t n = sizes[s];
        block *in = mem_alloc(n + 1, 16), *a = mem_alloc(n + 1, 16), *b = mem_alloc(n + 1, 16);
        prg_blocks(&p, in, n);
        uint8_t key[16];
        prg_bytes(&p, key, 16);
        aes_key k;
        aes_expand(&k, key);
        /* A sentinel past the end must survive the masked stores. */
        a[n] = block_make(0xdead, 0xbeef);
        aes_vaes_ecb(k.rk, a, in, n);
        aes_ref_ecb(&k, b, in, n);
        CHECK(memcmp(a, b, n * 16) == 0);
        CHECK(block_eq(a[n], block_make(0xdead, 0xbeef)));
        uint64_t ctr = s % 2 ? ~0ULL - 5 : prg_u64(&p);
        aes_vaes_ctr(k.rk, a, ctr, n);
        aes_ni_ctr(k.rk, b, ctr, n);
        CHECK(memcmp(a, b, n * 16) == 0);
        crh h;
        crh_init(&h);
        prg_blocks(&p, in, n);
        aes_vaes_tmmo(h.pi.rk, a, in, n, s % 2 ? ~0ULL - 2 : 77, 5);
        crh_hash_ref(&h, b, in, n, s % 2 ? ~0ULL - 2 : 77, 5);
        CHECK(memcmp(a, b, n * 16) == 0);
        CHECK(block_eq(a[n], block_make(0xdead, 0xbeef)));
        crh_clear(&h);
        aes_clear(&k);
        mem_free(in);
        mem_free(a);
        mem_free(b);
    }
}

TEST(aes_ni_matches_twin) {
    if (!aes_ni_available()) return;
    prg p;
    harness_prg(&p, 3);
    size_t sizes[] = {0, 1, 7, 8, 9, 15, 16, 17, 1000};
    for (int s = 0; s < 9; s++) {
        size_t n = sizes[s];
        block *in = mem_alloc(n, 16), *a = mem_alloc(n, 16), *b = mem_alloc(n, 16);
        prg_blocks(&p, in, n);
        uint8_t key[16];
        prg_bytes(&p, key, 16);
        aes_key k;
        aes_expand(&k, key);
        aes_ni_ecb(k.rk, a, in, n);
        aes_ref_ecb(&k, b, in, n);
        CHECK(memcmp(a, b, n * 16) == 0);
        uint64_t ctr = prg_u64(&p);
        aes_ni_ctr(k.rk, a, ctr, n);
        for (size_t i = 0; i < n; i++) in[i] = block_make(0, ctr + i);
        aes_ref_ecb(&k, b, in, n);
        CHECK(memcmp(a, b, n * 16) == 0);
        /* The hash: fused AES-NI form against the twin. */
        crh h;
        crh_init(&h);
        prg_blocks(&p, in, n);
        aes_ni_tmmo(h.pi.rk, a, in, n, 77, 5);
        crh_hash_ref(&h, b, in, n, 77, 5);
        CHECK(memcmp(a, b, n * 16) == 0);
        crh_clear(&h);
        aes_clear(&k);
        mem_free(in);
        mem_free(a);
        mem_free(b);
    }
}

TEST(hash_definition) {
    /* H(x, i) = pi(sigma(x) ^ i) ^ sigma(x), sigma(x) = (x_hi ^ x_lo) || x_hi. */
    crh h;
    crh_init(&h);
    block x = block_make(0x0123456789abcdefULL, 0xfedcba9876543210ULL), out, tw;
    crh_hash(&h, &out, &x, 1, 9, 4);
    block s = block_make(x.w[1] ^ x.w[0], x.w[1]);
    tw = block_xor(s, block_make(4, 9));
    aes_ref_ecb(&h.pi, &tw, &tw, 1);
    CHECK(block_eq(out, block_xor(tw, s)));
    /* Different tweaks give different outputs. */
    block o2;
    crh_hash(&h, &o2, &x, 1, 10, 4);
    CHECK(!block_eq(out, o2));
    crh_clear(&h);
}

TEST(prg_deterministic) {
    prg a, b;
    prg_seed(&a, block_make(1, 2));
    prg_seed(&b, block_make(1, 2));
    uint8_t x[100], y[100];
    prg_bytes(&a, x, 37);
    prg_bytes(&a, x + 37, 63);
    prg_bytes(&b, y, 37);
    prg_bytes(&b, y + 37, 63);
    CHECK(memcmp(x, y, 100) == 0);
    uint64_t r[1000];
    prg_ring(&a, r, 1000, 5);
    int seen[32] = {0};
    for (int i = 0; i < 1000; i++) {
        CHECK(r[i] < 32);
        seen[r[i]] = 1;
    }
    for (int i = 0; i < 32; i++) CHECK(seen[i]);
    uint8_t bits[64];
    prg_bits(&a, bits, 64);
    int ones = 0;
    for (int i = 0; i < 64; i++) {
        CHECK(bits[i] <= 1);
        ones += bits[i];
    }
    CHECK(ones > 10 && ones < 54);
    uint8_t os1[32], os2[32];
    rand_os(os1, 32);
    rand_os(os2, 32);
    CHECK(memcmp(os1, os2, 32) != 0);
    prg_clear(&a);
    prg_clear(&b);
}

typedef struct bot {
    size_t n;
    uint8_t *choices;
    block (*keys_s)[2];
    block *keys_r;
    int corrupt; /* receiver sends an invalid point */
} bot;

static int bot_party(int who, chan *ch, void *arg) {
    bot *b = arg;
    prg rng;
    harness_prg(&rng, 10 + (uint64_t)who);
    int rc;
    if (who == 0) {
        baseot_sender s;
        rc = baseot_send_begin(&s, ch, &rng);
        if (rc == 0) rc = chan_flush(ch);
        if (rc == 0) rc = baseot_send_finish(&s, ch, b->keys_s, b->n);
    } else if (!b->corrupt) {
        rc = baseot_recv(ch, b->keys_r, b->choices, b->n, &rng);
        if (rc == 0) rc = chan_flush(ch);
    } else {
        uint8_t A[32], junk[32];
        memset(junk, 0xff, 32); /* not a canonical ristretto255 encoding */
        rc = chan_recv(ch, A, 32);
        for (size_t i = 0; rc == 0 && i < b->n; i++) rc = chan_send(ch, junk, 32);
        if (rc == 0) rc = chan_flush(ch);
    }
    prg_clear(&rng);
    return rc;
}

TEST(base_ot) {
    size_t sizes[] = {0, 1, 128, 256};
    for (int s = 0; s < 4; s++) {
        bot b = {sizes[s], mem_alloc(sizes[s], 1), mem_alloc(sizes[s], 32),
                 mem_alloc(sizes[s], 16), 0};
        prg p;
        harness_prg(&p, 4);
        prg_bits(&p, b.choices, b.n);
        REQUIRE_OK(run2(bot_party, &b));
        for (size_t i = 0; i < b.n; i++) {
            CHECK(block_eq(b.keys_r[i], b.keys_s[i][b.choices[i]]));
            CHECK(!block_eq(b.keys_r[i], b.keys_s[i][1 - b.choices[i]]));
            if (i) CHECK(!block_eq(b.keys_s[i][0], b.keys_s[i - 1][0]));
        }
        CHECK_EQ(run2_stats[0].bytes_sent, 32);
        CHECK_EQ(run2_stats[1].bytes_sent, 32 * b.n);
        mem_free(b.choices);
        mem_free(b.keys_s);
        mem_free(b.keys_r);
        prg_clear(&p);
    }
}

TEST(base_ot_rejects_invalid_points) {
    bot b = {4, mem_calloc(4, 1), mem_alloc(4, 32), mem_alloc(4, 16), 1};
    int rc = run2(bot_party, &b);
    CHECK_EQ(rc, PARLEY_E_PROTO);
    CHECK(strstr(err_msg(), "invalid group element") != NULL);
    mem_free(b.choices);
    mem_free(b.keys_s);
    mem_free(b.keys_r);
}
