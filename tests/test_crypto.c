/* crypto: AES against FIPS-197 in every tier, the PRG, the hash, and the
 * base OT (including a peer sending junk). */
#include "harness.h"
#include "twoparty.h"

#include "crypto/aes_tiers.h"
#include "crypto/baseot.h"
#include "util/mem.h"

static void hex(uint8_t *out, const char *h, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(h + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
}

/* FIPS-197 Appendix B and C.1, in every AES tier this build and CPU have
 * (tests/test_tiers.c compares the tiers with the reference at length). */
TEST(aes_fips197) {
    static const char *vec[][3] = {
        {"2b7e151628aed2a6abf7158809cf4f3c", "3243f6a8885a308d313198a2e0370734",
         "3925841d02dc09fbdc118597196a0b32"},
        {"000102030405060708090a0b0c0d0e0f", "00112233445566778899aabbccddeeff",
         "69c4e0d86a7b0430d8cdb78070b4c55a"},
    };
    for (unsigned t = 0; t < AES_TIERS; t++) {
        if (!harness_tier("aes", aes_tiers, t)) continue;
        for (int v = 0; v < 2; v++) {
            uint8_t key[16];
            block in, want, out;
            hex(key, vec[v][0], 16);
            hex(in.b, vec[v][1], 16);
            hex(want.b, vec[v][2], 16);
            aes_key k;
            aes_expand(&k, key);
            aes_ecb(&k, &out, &in, 1);
            CHECK_MSG(block_eq(out, want), "FIPS-197 vector %d, tier %s", v, aes_tiers[t].name);
            aes_clear(&k);
        }
    }
    /* With every feature available, the widest tier built and present. */
    cpu_restrict(CPU_ALL);
    unsigned best = 0;
    for (unsigned t = 1; t < AES_TIERS; t++)
        if (aes_tiers[t].built && cpu_covers(cpu_available(), aes_tiers[t].needs)) best = t;
    CHECK_EQ(aes_tier(), best);
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
