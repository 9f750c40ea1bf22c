/* util: bit packing, sign extension, overflow-checked sizes, allocation. */
#include "harness.h"

#include "util/bits.h"
#include "util/mem.h"
#include "util/opt.h"

static const unsigned widths[] = {1, 2, 3, 7, 8, 9, 31, 32, 33, 37, 41, 63, 64};
static const size_t sizes[] = {0, 1, 7, 8, 9, 127, 128, 129, 1000};

TEST(pack_roundtrip) {
    prg p;
    harness_prg(&p, 1);
    for (size_t wi = 0; wi < sizeof widths / sizeof *widths; wi++)
        for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
            unsigned l = widths[wi];
            size_t n = sizes[si];
            uint64_t *v = mem_alloc(n, 8), *w = mem_alloc(n, 8);
            uint8_t *buf = mem_alloc(bits_bytes(n * l) + 1, 1);
            prg_bytes(&p, v, n * 8); /* unreduced: pack must reduce */
            buf[bits_bytes(n * l)] = 0xA5;
            bits_pack(buf, v, n, l);
            CHECK_EQ(buf[bits_bytes(n * l)], 0xA5); /* no write past the end */
            bits_unpack(w, buf, n, l);
            for (size_t i = 0; i < n; i++) CHECK_EQ(w[i], v[i] & bits_mask(l));
            /* Bit i*l+j of the stream is bit j of value i. */
            for (size_t i = 0; i < n && i < 50; i++)
                for (unsigned j = 0; j < l; j++)
                    CHECK_EQ(bit_get(buf, i * l + j), (v[i] >> j) & 1);
            mem_free(v);
            mem_free(w);
            mem_free(buf);
        }
    prg_clear(&p);
}

TEST(mixed_width_stream) {
    prg p;
    harness_prg(&p, 2);
    uint64_t vals[300];
    unsigned ls[300];
    uint8_t buf[300 * 8 + 8];
    prg_bytes(&p, vals, sizeof vals);
    bitw w = bitw_start(buf);
    size_t total = 0;
    for (int i = 0; i < 300; i++) {
        ls[i] = 1 + (unsigned)(vals[i] % 64);
        bitw_put(&w, vals[i], ls[i]);
        total += ls[i];
    }
    bitw_end(&w);
    CHECK_EQ(w.p - buf, bits_bytes(total));
    bitr r = bitr_start(buf, bits_bytes(total));
    for (int i = 0; i < 300; i++) CHECK_EQ(bitr_get(&r, ls[i]), vals[i] & bits_mask(ls[i]));
    /* Reading past the end yields zeros, never out-of-bounds bytes. */
    CHECK_EQ(bitr_get(&r, 64), 0);
}

TEST(pack1) {
    uint8_t in[19], packed[3], out[19];
    for (int i = 0; i < 19; i++) in[i] = (uint8_t)((i * 7) % 3 == 0);
    bits_pack1(packed, in, 19);
    bits_unpack1(out, packed, 19);
    for (int i = 0; i < 19; i++) CHECK_EQ(out[i], in[i]);
}

/* bits_pack1 as n bitw_put(.., 1) calls write it: every pattern of eight
 * bits (the word-at-once path), bytes with junk above bit 0 (only bit 0
 * counts), every tail length; and back. */
TEST(pack1_every_byte) {
    enum { N = 256 * 8 + 7 };
    static uint8_t in[N], packed[N / 8 + 1], want[N / 8 + 9], out[N];
    for (int i = 0; i < N; i++) in[i] = (uint8_t)((((i / 8) >> (i % 8)) & 1) | (i * 37 & 0xfe));
    for (size_t n = N - 8; n <= N; n++) {
        bitw w = bitw_start(want);
        for (size_t i = 0; i < n; i++) bitw_put(&w, in[i] & 1, 1);
        bitw_end(&w);
        memset(packed, 0xa5, sizeof packed);
        bits_pack1(packed, in, n);
        CHECK_MSG(memcmp(packed, want, bits_bytes(n)) == 0, "n=%zu", n);
        bits_unpack1(out, packed, n);
        for (size_t i = 0; i < n; i++) CHECK_EQ(out[i], in[i] & 1);
    }
}

TEST(signed_values) {
    CHECK_EQ(bits_signed(0, 1), 0);
    CHECK_EQ(bits_signed(1, 1), (uint64_t)-1);
    CHECK_EQ(bits_signed(0x7f, 8), 127);
    CHECK_EQ(bits_signed(0x80, 8), (uint64_t)-128);
    CHECK_EQ(bits_signed(0xff, 8), (uint64_t)-1);
    CHECK_EQ(bits_signed((1ULL << 36), 37), (uint64_t)-(1LL << 36));
    CHECK_EQ(bits_signed(~0ULL, 64), (uint64_t)-1);
    CHECK_EQ(bits_signed(0x8000000000000000ULL, 64), 0x8000000000000000ULL);
    CHECK_EQ(bits_mask(64), ~0ULL);
    CHECK_EQ(bits_mask(1), 1);
}

TEST(sizes_and_alloc) {
    size_t out;
    CHECK(size_mul(&out, SIZE_MAX / 2, 3) == PARLEY_E_NOMEM);
    CHECK(size_mul(&out, 1u << 20, 1u << 10) == 0 && out == (size_t)1 << 30);
    CHECK(size_add(&out, SIZE_MAX, 1) == PARLEY_E_NOMEM);
    void *p = mem_alloc(SIZE_MAX / 4, 8);
    CHECK(p == NULL);
    CHECK(strstr(err_msg(), "overflow") != NULL);
    p = mem_alloc(0, 8);
    CHECK(p != NULL && ((uintptr_t)p & 63) == 0);
    mem_free(p);
    uint8_t *z = mem_calloc(100, 1);
    REQUIRE(z);
    for (int i = 0; i < 100; i++) CHECK_EQ(z[i], 0);
    memset(z, 0x55, 100);
    mem_wipe(z, 100);
    for (int i = 0; i < 100; i++) CHECK_EQ(z[i], 0);
    mem_free(z);
}

TEST(error_messages) {
    CHECK(err_set(PARLEY_E_PROTO, "bad %s", "thing") == PARLEY_E_PROTO);
    CHECK(strcmp(err_msg(), "bad thing") == 0);
    CHECK(err_wrap(PARLEY_E_PROTO, "reading %d", 3) == PARLEY_E_PROTO);
    CHECK(strcmp(err_msg(), "reading 3: bad thing") == 0);
    CHECK(strcmp(parley_strerror(PARLEY_E_CLOSED), "peer closed the connection") == 0);
}

/* ceil(log2 v) against its definition (the smallest k with 2^k >= v), at
 * every power of two and its neighbours and at random values. */
static unsigned ceil_log2_def(uint64_t v) {
    unsigned k = 0;
    while (k < 64 && ((uint64_t)1 << k) < v) k++;
    return k;
}

TEST(ceil_log2) {
    CHECK_EQ(bits_ceil_log2(0), 0);
    CHECK_EQ(bits_ceil_log2(1), 0);
    CHECK_EQ(bits_ceil_log2(2), 1);
    CHECK_EQ(bits_ceil_log2(3), 2);
    CHECK_EQ(bits_ceil_log2(UINT64_MAX), 64);
    for (unsigned k = 1; k < 64; k++) {
        uint64_t p2 = (uint64_t)1 << k;
        CHECK_EQ(bits_ceil_log2(p2), k);
        CHECK_EQ(bits_ceil_log2(p2 - 1), ceil_log2_def(p2 - 1));
        CHECK_EQ(bits_ceil_log2(p2 + 1), k + 1);
    }
    prg p;
    harness_prg(&p, 9);
    for (unsigned i = 0; i < harness_iters(1000); i++) {
        uint64_t v = prg_u64(&p) >> (prg_u64(&p) % 64);
        CHECK_EQ(bits_ceil_log2(v), ceil_log2_def(v));
    }
    prg_clear(&p);
}

/* The option parser: decimal digits only, the range inclusive, and nothing
 * written on an error. */
TEST(opt_parse) {
    uint64_t x = 77;
    CHECK(opt_u64("0", 0, 10, &x) == 0 && x == 0);
    CHECK(opt_u64("10", 0, 10, &x) == 0 && x == 10);
    CHECK(opt_u64("010", 0, 10, &x) == 0 && x == 10); /* decimal, not octal */
    CHECK(opt_u64("18446744073709551615", 0, UINT64_MAX, &x) == 0 && x == UINT64_MAX);
    x = 77;
    const char *bad[] = {"", "-1", " 5", "+5", "5 ", "0x10", "1e3", "18446744073709551616",
                         "99999999999999999999999", "11", "abc"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK_MSG(opt_u64(bad[i], 0, 10, &x) < 0 && x == 77, "'%s' accepted", bad[i]);
    CHECK(opt_u64("4", 5, 9, &x) < 0 && x == 77);
    CHECK(opt_u64(NULL, 0, 10, &x) < 0);
    unsigned u = 3;
    CHECK(opt_uint("64", 8, 64, &u) == 0 && u == 64);
    CHECK(opt_uint("65", 8, 64, &u) < 0 && u == 64);
    CHECK(opt_uint("4294967296", 0, UINT32_MAX, &u) < 0 && u == 64);
}
