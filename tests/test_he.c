/* src/he: parameters, the NTT against schoolbook multiplication (both tiers),
 * the 128-bit reduction, encoding and encryption round trips for every l,
 * plaintext x ciphertext products, re-randomisation, flooding, modulus
 * switching against a long-division reference, the returned form, noise
 * margins at the largest layers, the parsers' rejection of malformed
 * bytes, and Galois keys: automorphisms with key switching, the packing
 * tree for every size up to 2^HE_PACK_MAX_LOG, their noise against the
 * bounds, and the key's wire form. */
#include "harness.h"

#include "he/ntt_tiers.h"
#include "util/bits.h"
#include "util/mem.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

static uint64_t powmod(uint64_t b, uint64_t e, uint64_t q) {
    uint64_t r = 1;
    b %= q;
    while (e) {
        if (e & 1) r = (uint64_t)((he_u128)r * b % q);
        b = (uint64_t)((he_u128)b * b % q);
        e >>= 1;
    }
    return r;
}

static int is_prime(uint64_t n) {
    if (n < 2) return 0;
    static const uint64_t small[] = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37};
    for (size_t i = 0; i < sizeof small / sizeof *small; i++)
        if (n % small[i] == 0) return n == small[i];
    uint64_t d = n - 1;
    int s = 0;
    while ((d & 1) == 0) {
        d >>= 1;
        s++;
    }
    for (size_t i = 0; i < sizeof small / sizeof *small; i++) { /* deterministic below 2^64 */
        uint64_t x = powmod(small[i], d, n);
        if (x == 1 || x == n - 1) continue;
        int comp = 1;
        for (int r = 1; r < s && comp; r++) {
            x = (uint64_t)((he_u128)x * x % n);
            if (x == n - 1) comp = 0;
        }
        if (comp) return 0;
    }
    return 1;
}

static void rand_mod(prg *g, uint64_t *a, size_t n, uint64_t q) {
    for (size_t i = 0; i < n; i++)
        a[i] = prg_u64(g) % q;
}

/* Schoolbook negacyclic product mod q. */
static void schoolbook(uint64_t *c, const uint64_t *a, const uint64_t *b, uint64_t q) {
    memset(c, 0, HE_N * sizeof *c);
    for (size_t i = 0; i < HE_N; i++)
        for (size_t j = 0; j < HE_N; j++) {
            uint64_t p = (uint64_t)((he_u128)a[i] * b[j] % q);
            size_t k = i + j;
            if (k < HE_N)
                c[k] = (c[k] + p) % q;
            else
                c[k - HE_N] = (c[k - HE_N] + q - p) % q;
        }
}

static he_poly *poly_new(void) {
    he_poly *p = mem_calloc(1, sizeof *p);
    PARLEY_CHECK(p);
    return p;
}

/* ---- parameters ---- */

TEST(params) {
    const he_params *P = he_params_get();
    for (int i = 0; i < HE_L; i++) {
        const he_prime *p = &P->p[i];
        CHECK(is_prime(p->q));
        CHECK_EQ(p->q % (2 * HE_N), 1);
        CHECK(p->q < (1ULL << 62)); /* Harvey: 4q fits a word */
        CHECK_EQ(powmod(p->psi, HE_N, p->q), p->q - 1);
        CHECK_EQ((he_u128)p->ninv * HE_N % p->q, 1);
        CHECK_EQ((he_u128)p->crt * p->other_mod % p->q, 1);
        CHECK_EQ(p->rt[1], powmod(p->psi, HE_N / 2, p->q));
    }
    /* HE Standard, 128-bit classical, ternary secret: N = 8192 allows
     * log2 Q <= 218; and Q is what the words say */
    CHECK_EQ(HE_N, 8192);
    CHECK(P->log2Q <= 218.0);
    CHECK(P->log2Q > 143.9 && P->log2Q < 144.0);
    uint64_t Q[HE_W] = {1};
    for (int i = 0; i < HE_L; i++) {
        uint64_t t[HE_W] = {0}, hat[HE_W] = {1}, t2[HE_W];
        he_w_muladd(t, Q, P->p[i].q);
        memcpy(Q, t, sizeof t);
        for (int k = 0; k < HE_L; k++) { /* Q/q_i */
            if (k == i) continue;
            memset(t2, 0, sizeof t2);
            he_w_muladd(t2, hat, P->p[k].q);
            memcpy(hat, t2, sizeof t2);
        }
        CHECK(memcmp(hat, P->Qhat[i], sizeof hat) == 0);
        CHECK_EQ(he_w_mod(hat, &P->p[i]), P->p[i].other_mod);
        CHECK_EQ(he_w_mod(P->Q, &P->p[i]), 0);
    }
    CHECK(memcmp(Q, P->Q, sizeof Q) == 0);
    CHECK_EQ(he_poly_bytes() * 8, (size_t)HE_N * P->logq_bits);
}

TEST(red128) {
    const he_params *P = he_params_get();
    prg g;
    harness_prg(&g, 1);
    for (int i = 0; i < HE_L; i++) {
        const he_prime *p = &P->p[i];
        he_u128 edge[] = {0,
                          1,
                          p->q - 1,
                          p->q,
                          (he_u128)p->q * p->q - 1,
                          ~(he_u128)0,
                          ~(he_u128)0 - p->q,
                          (he_u128)1 << 127};
        for (size_t k = 0; k < sizeof edge / sizeof *edge; k++)
            CHECK_EQ(he_red128(edge[k], p), (uint64_t)(edge[k] % p->q));
        for (int k = 0; k < 20000; k++) {
            he_u128 x = ((he_u128)prg_u64(&g) << 64) | prg_u64(&g);
            if (k & 1) x >>= (prg_u64(&g) % 128);
            CHECK_EQ(he_red128(x, p), (uint64_t)(x % p->q));
        }
        for (int k = 0; k < 2000; k++) {
            uint64_t w = prg_u64(&g) % p->q, y = prg_u64(&g), ws = he_shoup(w, p->q);
            CHECK_EQ(he_mul_shoup(w, ws, y % (4 * p->q), p->q),
                     (uint64_t)((he_u128)w * (y % (4 * p->q)) % p->q));
        }
    }
}

/* ---- NTT ---- */

static void ntt_vs_schoolbook(enum ntt_tier tier) {
    if (!harness_tier("ntt", ntt_tiers, tier)) return;
    const he_params *P = he_params_get();
    prg g;
    harness_prg(&g, 2 + tier);
    uint64_t *a = mem_alloc(HE_N, 8), *b = mem_alloc(HE_N, 8), *c = mem_alloc(HE_N, 8),
             *d = mem_alloc(HE_N, 8);
    REQUIRE(a && b && c && d);
    for (int i = 0; i <= HE_L; i++) { /* and the special prime (he/galois.c) */
        const he_prime *p = i < HE_L ? &P->p[i] : &P->sp;
        for (int round = 0; round < 3; round++) {
            rand_mod(&g, a, HE_N, p->q);
            rand_mod(&g, b, HE_N, p->q);
            if (round == 1) /* extremes */
                for (size_t j = 0; j < HE_N; j++) {
                    a[j] = j & 1 ? p->q - 1 : 0;
                    b[j] = p->q - 1;
                }
            if (round == 2) { /* a monomial times a sparse polynomial */
                memset(a, 0, HE_N * 8);
                a[HE_N - 1] = 3;
                memset(b, 0, HE_N * 8);
                b[1] = 1;
                b[17] = p->q - 5;
            }
            schoolbook(c, a, b, p->q);
            memcpy(d, a, HE_N * 8);
            he_ntt_fwd(p, d);
            for (size_t j = 0; j < HE_N; j++)
                CHECK(d[j] < p->q);
            he_ntt_fwd(p, b);
            for (size_t j = 0; j < HE_N; j++)
                d[j] = he_mulmod(d[j], b[j], p);
            he_ntt_inv(p, d);
            int bad = 0;
            for (size_t j = 0; j < HE_N; j++)
                bad += d[j] != c[j];
            CHECK_MSG(bad == 0, "prime %d round %d: %d coefficients differ", i, round, bad);
            /* round trip */
            memcpy(d, a, HE_N * 8);
            he_ntt_fwd(p, d);
            he_ntt_inv(p, d);
            CHECK(memcmp(d, a, HE_N * 8) == 0);
        }
    }
    mem_free(a);
    mem_free(b);
    mem_free(c);
    mem_free(d);
    prg_clear(&g); /* the reference AES tier holds an OpenSSL context */
}

TEST(ntt_schoolbook_ref) {
    ntt_vs_schoolbook(NTT_TIER_REF);
}
TEST(ntt_schoolbook_avx2) {
    ntt_vs_schoolbook(NTT_TIER_AVX2);
}
TEST(ntt_schoolbook_ifma) {
    ntt_vs_schoolbook(NTT_TIER_IFMA);
}

/* The evaluation order: output k of the forward NTT is a(psi^(2*bitrev(k)+1)). */
TEST(ntt_evaluation_points) {
    const he_params *P = he_params_get();
    const he_prime *p = &P->p[0];
    uint64_t *a = mem_calloc(HE_N, 8);
    REQUIRE(a);
    a[1] = 1; /* a(X) = X */
    he_ntt_fwd_ref(p, a);
    for (unsigned k = 0; k < HE_N; k += 97) {
        unsigned br = 0;
        for (unsigned b = 0; b < HE_LOGN; b++)
            br |= ((k >> b) & 1u) << (HE_LOGN - 1 - b);
        CHECK_EQ(a[k], powmod(p->psi, 2 * br + 1, p->q));
    }
    mem_free(a);
}

/* ---- sampling ---- */

TEST(samplers) {
    prg g;
    harness_prg(&g, 6);
    enum { n = 1 << 16 };
    int8_t *v = mem_alloc(n, 1);
    REQUIRE(v);
    he_sample_ternary(&g, v, n);
    long cnt[3] = {0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        CHECK(v[i] >= -1 && v[i] <= 1);
        cnt[v[i] + 1]++;
    }
    for (int k = 0; k < 3; k++)
        CHECK(labs(cnt[k] - n / 3) < n / 50);
    he_sample_cbd(&g, v, n);
    double sum = 0, sq = 0;
    for (size_t i = 0; i < n; i++) {
        CHECK(v[i] >= -HE_CBD_ETA && v[i] <= HE_CBD_ETA);
        sum += v[i];
        sq += (double)v[i] * v[i];
    }
    CHECK(fabs(sum / n) < 0.1);
    CHECK(fabs(sq / n - HE_CBD_ETA / 2.0) < 0.5);
    mem_free(v);
    /* the a of a seed is reproducible and below the moduli */
    he_poly *a = poly_new(), *b = poly_new();
    uint8_t seed[HE_SEED_BYTES] = {1, 2, 3};
    he_expand_a(a, seed);
    he_expand_a(b, seed);
    CHECK(memcmp(a, b, sizeof *a) == 0);
    seed[15] = 1;
    he_expand_a(b, seed);
    CHECK(memcmp(a, b, sizeof *a) != 0);
    const he_params *P = he_params_get();
    for (int i = 0; i < HE_L; i++)
        for (size_t j = 0; j < HE_N; j++)
            CHECK(a->c[i][j] < P->p[i].q);
    uint8_t s1[HE_SEED_BYTES], s2[HE_SEED_BYTES];
    he_derive_seed(s1, seed, 1, 2);
    he_derive_seed(s2, seed, 2, 1);
    CHECK(memcmp(s1, s2, HE_SEED_BYTES) != 0);
    mem_free(a);
    mem_free(b);
}

/* Coefficient j of b as a centred integer (|value| < 2^121 assumed), by
 * CRT over all primes; *big set if it is not that small. */
static double centred(const he_poly *b, size_t j, int *big) {
    const he_params *P = he_params_get();
    uint64_t x[HE_W];
    he_crt_coeff(x, b, j);
    /* x < 2^121 is positive, Q - x < 2^121 negative */
    int neg = x[HE_W - 1] != 0 || x[2] != 0 || (x[1] >> 57) != 0;
    uint64_t m[HE_W];
    memcpy(m, neg ? P->Q : x, sizeof m);
    if (neg) he_w_sub(m, x);
    *big = m[2] || m[3] || (m[1] >> 57);
    double v = ldexp((double)m[1], 64) + (double)m[0];
    return neg ? -v : v;
}

/* ---- encryption ---- */

static void edge_message(prg *g, uint64_t *m, unsigned l) {
    uint64_t mask = bits_mask(l);
    prg_ring(g, m, HE_N, l);
    m[0] = 0;
    m[1] = mask;
    m[2] = 1;
    m[3] = (mask >> 1) + 1; /* -2^(l-1) */
    m[4] = mask >> 1;
}

TEST(encrypt_roundtrip_all_l) {
    prg g;
    harness_prg(&g, 7);
    he_sk *sk = mem_alloc(1, sizeof *sk);
    he_poly *b = poly_new(), *a = poly_new();
    uint64_t *m = mem_alloc(HE_N, 8), *d = mem_alloc(HE_N, 8);
    REQUIRE(sk && m && d);
    he_sk_gen(&g, sk);
    uint8_t seed[HE_SEED_BYTES];
    for (unsigned l = 1; l <= HE_L_MAX; l++) {
        he_encoder enc;
        he_encoder_init(&enc, l);
        edge_message(&g, m, l);
        prg_bytes(&g, seed, sizeof seed);
        he_encrypt_sk(&g, b, sk, seed, &enc, m);
        he_expand_a(a, seed);
        he_poly_intt(a);
        REQUIRE_OK(he_decrypt(d, sk, b, a, l));
        int bad = 0;
        for (size_t j = 0; j < HE_N; j++)
            bad += d[j] != m[j];
        CHECK_MSG(bad == 0, "l = %u: %d coefficients wrong", l, bad);
        /* the nearest rounding decrypts too */
        he_encrypt_sk(&g, b, sk, seed, &enc, NULL);
        he_encode_add(&enc, NULL, b, NULL, m, HE_N);
        REQUIRE_OK(he_decrypt(d, sk, b, a, l));
        CHECK(memcmp(d, m, HE_N * 8) == 0);
    }
    he_sk_clear(sk);
    mem_free(sk);
    mem_free(a);
    mem_free(b);
    mem_free(m);
    mem_free(d);
}

/* Negacyclic product mod 2^l of m and a small signed w. */
static void product_plain(uint64_t *y, const uint64_t *m, const int64_t *w, unsigned l) {
    memset(y, 0, HE_N * 8);
    for (size_t i = 0; i < HE_N; i++) {
        if (!w[i]) continue;
        for (size_t j = 0; j < HE_N; j++) {
            uint64_t p = m[j] * (uint64_t)w[i];
            size_t k = i + j;
            if (k < HE_N)
                y[k] += p;
            else
                y[k - HE_N] -= p;
        }
    }
    for (size_t k = 0; k < HE_N; k++)
        y[k] &= bits_mask(l);
}

/* Encrypt, add a plaintext share, multiply by w in the NTT domain (through
 * the lazy accumulators), re-randomise with the public key, flood, switch
 * down, pack, parse and decrypt the kept coefficients: the whole path of a
 * returned ciphertext. */
#define DROP_MAX_FIT 0xffu /* product_path: the most bits the budget lets the input drop */

static void product_path(unsigned l, unsigned wbits, size_t nnz, int worst, uint64_t outs,
                         unsigned drop) {
    const he_params *P = he_params_get();
    prg g;
    harness_prg(&g, 100 + l * 64 + wbits);
    he_sk *sk = mem_alloc(1, sizeof *sk);
    he_pk *pk = mem_alloc(1, sizeof *pk);
    he_poly *b = poly_new(), *a = poly_new(), *w = poly_new();
    he_u128 *acc = mem_calloc(2 * HE_L * HE_N, sizeof(he_u128));
    uint64_t *m = mem_alloc(HE_N, 8), *xs = mem_alloc(HE_N, 8), *y = mem_alloc(HE_N, 8),
             *am = mem_alloc(HE_N, 8), *bm = mem_alloc(HE_N, 8), *d = mem_alloc(HE_N, 8),
             *ph = mem_alloc(HE_N, 8);
    int64_t *ws = mem_calloc(HE_N, 8);
    uint32_t *pos = mem_alloc(HE_N, 4);
    uint8_t *wire = mem_alloc(he_out_bytes(HE_N, 64, 64), 1);
    REQUIRE(sk && pk && acc && m && xs && y && am && bm && d && ph && ws && pos && wire);
    he_sk_gen(&g, sk);
    he_pk_gen(&g, pk, sk);
    he_encoder enc;
    he_encoder_init(&enc, l);
    edge_message(&g, m, l);
    prg_ring(&g, xs, HE_N, l);
    /* weights: nnz taps of magnitude up to 2^(wbits-1) (worst: all at -2^(wbits-1)) */
    for (size_t k = 0; k < nnz; k++) {
        size_t at = (size_t)(prg_u64(&g) % HE_N);
        int64_t lim = (int64_t)1 << (wbits - 1);
        ws[at] = worst ? -lim : (int64_t)(prg_u64(&g) % (2 * (uint64_t)lim)) - lim;
    }
    uint8_t seed[HE_SEED_BYTES];
    prg_bytes(&g, seed, sizeof seed);
    he_budget bud;
    if (drop == DROP_MAX_FIT) /* as the planner does: keep a bit of margin */
        for (drop = HE_DROP_MAX; drop > 0; drop--)
            if (he_budget_for(&bud, l, wbits, nnz, outs, drop) == 0 && bud.margin_bits >= 1) break;
    REQUIRE_OK(he_budget_for(&bud, l, wbits, nnz, outs, drop));
    he_encrypt_sk(&g, b, sk, seed, &enc, m);
    { /* the client's b over the wire, `drop` low bits off */
        size_t nin = he_in_bytes(drop);
        uint8_t *in = mem_alloc(nin, 1);
        REQUIRE(in);
        he_in_pack(in, b, drop, &g);
        REQUIRE_OK(he_in_unpack(b, in, nin, drop));
        mem_free(in);
    }
    he_encode_add(&enc, &g, b, NULL, xs, HE_N); /* server's share */
    he_poly_ntt(b);
    he_expand_a(a, seed);
    for (int i = 0; i < HE_L; i++)
        for (size_t j = 0; j < HE_N; j++)
            w->c[i][j] = he_from_signed(ws[j], P->p[i].q);
    he_poly_ntt(w);
    he_mac(acc, w, b);
    he_mac(acc + HE_L * HE_N, w, a);
    he_enc_zero_pk_ntt(&g, acc, acc + HE_L * HE_N, pk);
    he_reduce(b, acc);
    he_reduce(a, acc + HE_L * HE_N);
    he_poly_intt(b);
    he_poly_intt(a);
    he_add_cbd(&g, a, NULL, HE_N);
    /* keep every third coefficient */
    size_t n = 0;
    for (uint32_t j = 0; j < HE_N; j += 3)
        pos[n++] = j;
    he_add_cbd(&g, b, pos, n);
    he_flood(&g, b, pos, n, bud.beta);
    double pre_noise = 0;
    /* the noise of the kept coefficients before switching: b + a*s minus
     * the encoding of the product; the flood is there at its full width
     * (three uniforms on 2^beta values summed and centred exceed 0.8 of
     * their reach 1.5*2^beta with probability 2 * 0.3^3/6 = 0.009, so among
     * n = 2731 draws none does with probability e^-24), and nothing else is
     * near it */
    for (size_t j = 0; j < HE_N; j++)
        xs[j] = (xs[j] + m[j]) & bits_mask(l);
    product_plain(y, xs, ws, l);
    {
        he_poly *ph2 = poly_new();
        memcpy(ph2, a, sizeof *ph2);
        he_poly_ntt(ph2);
        for (int i = 0; i < HE_L; i++)
            for (size_t j = 0; j < HE_N; j++)
                ph2->c[i][j] = he_mulmod(ph2->c[i][j], sk->s_ntt.c[i][j], &P->p[i]);
        he_poly_intt(ph2);
        for (int i = 0; i < HE_L; i++)
            for (size_t j = 0; j < HE_N; j++)
                ph2->c[i][j] = he_addmod(ph2->c[i][j], b->c[i][j], P->p[i].q);
        uint64_t *neg = mem_alloc(n, 8);
        REQUIRE(neg);
        for (size_t j = 0; j < n; j++)
            neg[j] = (0 - y[pos[j]]) & bits_mask(l);
        he_encode_add(&enc, NULL, ph2, pos, neg, n);
        double fw = 1.5 * ldexp(1.0, (int)bud.beta);
        int big = 0;
        for (size_t j = 0; j < n; j++) {
            int b2;
            double v = fabs(centred(ph2, pos[j], &b2));
            big |= b2;
            if (v > pre_noise) pre_noise = v;
        }
        CHECK(!big);
        CHECK_MSG(pre_noise >= fw * 0.8 && pre_noise <= fw + exp2(bud.log2_det) + 2,
                  "noise before switching 2^%.2f, flood 2^%u", log2(pre_noise), bud.beta);
        mem_free(neg);
        mem_free(ph2);
    }
    he_modswitch(am, a, NULL, HE_N, bud.ka);
    he_modswitch(bm, b, pos, n, bud.kb);
    size_t nb = he_out_bytes(n, bud.ka, bud.kb);
    he_out_pack(wire, am, bm, n, bud.ka, bud.kb);
    memset(am, 0, HE_N * 8);
    REQUIRE_OK(he_out_unpack(am, bm, n, bud.ka, bud.kb, wire, nb));
    REQUIRE_OK(he_out_decrypt(d, ph, sk, am, bm, pos, n, bud.ka, bud.kb, l));
    int bad = 0;
    double worst_noise = 0;
    for (size_t j = 0; j < n; j++) {
        bad += d[j] != y[pos[j]];
        /* phase - y*2^(ka-l), centred mod 2^ka */
        uint64_t diff = (ph[j] - (y[pos[j]] << (bud.ka - l))) & bits_mask(bud.ka);
        int64_t e = (int64_t)bits_signed(diff, bud.ka);
        double ae = fabs((double)e);
        if (ae > worst_noise) worst_noise = ae;
    }
    CHECK_MSG(bad == 0, "l = %u, wbits = %u, taps = %zu: %d of %zu coefficients wrong", l, wbits,
              nnz, bad, n);
    double limit = ldexp(1.0, (int)(bud.ka - l - 1)), bound = he_budget_phase_bound(&bud);
    CHECK(worst_noise <= bound);
    CHECK(bound < limit);

    printf("  l=%u wbits=%u taps=%zu drop=%u: beta=%u (noise before switching 2^%.2f), noise "
           "2^%.1f, bound 2^%.1f, limit 2^%.1f (margin %.1f bits)\n",
           l, wbits, nnz, drop, bud.beta, log2(pre_noise), log2(worst_noise + 1), log2(bound),
           log2(limit), bud.margin_bits);
    he_sk_clear(sk);
    mem_free(sk);
    mem_free(pk);
    mem_free(b);
    mem_free(a);
    mem_free(w);
    mem_free(acc);
    mem_free(m);
    mem_free(xs);
    mem_free(y);
    mem_free(am);
    mem_free(bm);
    mem_free(d);
    mem_free(ph);
    mem_free(ws);
    mem_free(pos);
    mem_free(wire);
}

TEST(product_small_l) {
    for (unsigned l = 1; l <= 8; l++)
        product_path(l, l < 4 ? l : 4, 9, 0, 1, l % 2 ? 0 : DROP_MAX_FIT);
}
TEST(product_l32) {
    product_path(32, 10, 200, 0, 1ULL << 21, 0);
    product_path(32, 10, 200, 0, 1ULL << 21, DROP_MAX_FIT);
}
TEST(product_l37) {
    product_path(37, 13, 1000, 0, 1ULL << 24, 0);
    product_path(37, 13, 1000, 0, 1ULL << 24, 1);
    product_path(37, 13, 1000, 0, 1ULL << 24, DROP_MAX_FIT);
}
TEST(product_l44) {
    product_path(44, 8, 300, 0, 1ULL << 30, DROP_MAX_FIT);
}
TEST(product_l52) {
    product_path(52, 2, 64, 0, 1ULL << 32, DROP_MAX_FIT);
}

/* Noise margins at the largest layers of the three networks: the worst
 * per-coefficient tap counts (ResNet50's 3x3x512 conv with two output
 * channels per ciphertext; DenseNet's 1x1x1024 at l = 32), with every
 * weight at the most negative value, flooded for a session of 2^32
 * coefficients (more than any of the networks returns). */
TEST(noise_margin_largest_layers) {
    product_path(37, 15, 4608 * 2, 1, 1ULL << 32, 0);
    product_path(37, 15, 4608 * 2, 1, 1ULL << 32, DROP_MAX_FIT);
    product_path(32, 14, 4096 * 2, 1, 1ULL << 32, DROP_MAX_FIT);
}

TEST(budget_limits) {
    he_budget b;
    REQUIRE_OK(he_budget_for(&b, 37, 13, 4608 * 8, 1, 0));
    CHECK(b.ka == 48 && b.kb == 39);
    CHECK(b.beta >= 40 && b.beta <= 72);
    he_budget x;
    CHECK(he_budget_for(&x, 52, 45, 100000, 1, 0) == PARLEY_E_UNSUPPORTED);
    CHECK(strstr(err_msg(), "noise budget") != NULL);
    REQUIRE_OK(he_budget_for(&x, 52, 1, 1, 1ULL << 32, 0)); /* the widest ring, small weights */
    CHECK(he_budget_for(&x, 53, 2, 1, 1, 0) == PARLEY_E_UNSUPPORTED);
    CHECK(he_budget_for(&x, 0, 2, 1, 1, 0) == PARLEY_E_UNSUPPORTED);
    /* monotone: more taps or more coefficients per inference never lower beta */
    he_budget c;
    REQUIRE_OK(he_budget_for(&c, 37, 13, 4608 * 16, 1, 0));
    CHECK(c.beta >= b.beta);
    uint64_t outs = 1;
    unsigned prev = 0;
    for (int k = 0; k <= 40; k++, outs <<= 1) {
        REQUIRE_OK(he_budget_for(&c, 37, 15, 65536, outs, 0));
        CHECK(c.beta >= prev);
        prev = c.beta;
        /* the flood covers outs coefficients at 2^-40 together: squared
         * Hellinger bounds adding up to at most 2^-81 */
        CHECK(c.log2_h2 + log2((double)outs) <= -2 * HE_STAT_BITS - 1 + 1e-9);
        CHECK(he_stat_bits_of(exp2(c.log2_h2) * (double)outs) >= HE_STAT_BITS - 1e-9);
    }
    /* a flood that would not fit the ring is refused with the reason; the
     * bell flood's bound grows with the square root of the coefficients, so
     * at l = 37 even 2^64 of them fit (the uniform flood's union bound did
     * not), at l = 52 they do not */
    REQUIRE_OK(he_budget_for(&x, 37, 15, 65536, UINT64_MAX, 0));
    CHECK(he_budget_for(&x, 52, 15, 65536, UINT64_MAX, 0) == PARLEY_E_UNSUPPORTED);
    CHECK(strstr(err_msg(), "noise budget") != NULL || strstr(err_msg(), "flood") != NULL);
}

/* The flood is three uniforms on [0, 2^beta) summed and centred: every draw
 * in [-(3L - 4)/2, (3L - 2)/2], L = 2^beta; for small ranges every value
 * appears (beta <= 3: the rarest has probability 1/512, missed by 8192
 * draws with probability e^-16); for wide ones both tails reach 0.8 of the
 * range (probability 0.0045 a draw each way, missed with e^-37), the
 * spread is that of the sum (standard deviation sqrt((L^2 - 1)/4), within
 * 5 %), and two thirds of the draws fall within L/2 of the centre, as for
 * the bell (within 0.02: four standard deviations of the fraction). A
 * uniform flood of the same reach fails the last check (1/3). Centred
 * values come back by CRT over all primes. */
TEST(flood_width) {
    prg g;
    harness_prg(&g, 13);
    he_poly *b = poly_new();
    static const unsigned betas[] = {1, 2, 3, 5, 8, 40, 63, 64, 65, 87, 100, 120};
    for (size_t t = 0; t < sizeof betas / sizeof *betas; t++) {
        const unsigned beta = betas[t];
        memset(b, 0, sizeof *b);
        he_flood(&g, b, NULL, HE_N, beta);
        const double L = ldexp(1.0, (int)beta), fmin = -(3 * L - 4) / 2, fmax = (3 * L - 2) / 2;
        double lo = 0, hi = 0, sum2 = 0;
        int outside = 0;
        size_t central = 0;
        for (size_t j = 0; j < HE_N; j++) {
            int big;
            double v = centred(b, j, &big);
            if (big || v < fmin || v > fmax) outside++;
            if (v < lo) lo = v;
            if (v > hi) hi = v;
            sum2 += v * v;
            if (fabs(v) <= L / 2) central++;
        }
        CHECK_MSG(outside == 0, "beta = %u: %d draws outside [%g, %g]", beta, outside, fmin, fmax);
        if (beta <= 3) {
            CHECK_MSG(lo == fmin && hi == fmax, "beta = %u: draws span [%g, %g]", beta, lo, hi);
        } else if (beta >= 8) {
            CHECK_MSG(lo <= 0.8 * fmin && hi >= 0.8 * fmax, "beta = %u: draws span [%g, %g] of [%g, %g]",
                      beta, lo, hi, fmin, fmax);
            double sd = sqrt(sum2 / HE_N), want = sqrt((L * L - 1) / 4);
            CHECK_MSG(fabs(sd / want - 1) < 0.05, "beta = %u: spread %g, expected %g", beta, sd,
                      want);
            double frac = (double)central / HE_N;
            CHECK_MSG(fabs(frac - 2.0 / 3.0) < 0.02, "beta = %u: %.4f of the draws within L/2",
                      beta, frac);
        }
    }
    mem_free(b);
}

/* The flood's Hellinger bound (docs/SECURITY-HE.md, "Flooding"), exactly
 * on small ranges: the law of three uniforms on [0, L) summed, from the
 * counts of the triples, and for shifts v the squared Hellinger distance
 * H^2(f + v, f) = 1 - sum_z sqrt(p(z - v) p(z)) below 1.5 v^2 / L^2, with
 * J = sum_z (sqrt p(z+1) - sqrt p(z))^2 below 3 / L^2 on the way; a
 * uniform flood on 3L values, for contrast, is |v| / 3L away (linear in
 * v, which is what made K coefficients cost log2 K bits). */
TEST(flood_hellinger) {
    static const unsigned Ls[] = {2, 4, 8, 64, 1024};
    for (size_t t = 0; t < sizeof Ls / sizeof *Ls; t++) {
        const unsigned L = Ls[t], n = 3 * L - 2;
        double *p = mem_calloc(n, sizeof *p);
        REQUIRE(p);
        for (unsigned a = 0; a < L; a++) /* pairs, then triples: O(L^2) */
            for (unsigned b2 = 0; b2 < L; b2++)
                p[a + b2] += 1.0;
        for (unsigned z = n; z-- > 0;) { /* p[z] = sum of the pair counts at z - L + 1 .. z */
            double sum = 0;
            for (unsigned c = 0; c < L && c <= z; c++)
                sum += p[z - c];
            p[z] = sum;
        }
        if (L == 4) { /* the counts of triples with each sum */
            static const double c4[] = {1, 3, 6, 10, 12, 12, 10, 6, 3, 1};
            for (unsigned z = 0; z < n; z++)
                CHECK(p[z] == c4[z]);
        }
        double total = 0, J = 0, prev = 0, worst = 0;
        for (unsigned z = 0; z < n; z++) {
            p[z] /= (double)L * L * L;
            total += p[z];
            J += (sqrt(p[z]) - prev) * (sqrt(p[z]) - prev);
            prev = sqrt(p[z]);
        }
        J += prev * prev; /* past the top */
        CHECK(fabs(total - 1) < 1e-12);
        CHECK_MSG(J < 3.0 / ((double)L * L), "L = %u: J = %g, bound %g", L, J, 3.0 / ((double)L * L));
        const unsigned vs[] = {1, 2, 3, 7, L / 2 ? L / 2 : 1, L};
        for (size_t k = 0; k < sizeof vs / sizeof *vs; k++) {
            const unsigned v = vs[k];
            double bc = 0;
            for (unsigned z = v; z < n; z++)
                bc += sqrt(p[z - v] * p[z]);
            double h2 = 1 - bc, bound = 1.5 * (double)v * v / ((double)L * L);
            CHECK_MSG(h2 < bound || bound >= 1, "L = %u, v = %u: H^2 = %g, bound %g", L, v, h2,
                      bound);
            if (h2 / bound > worst) worst = h2 / bound;
            if (L >= 64 && v <= 7) /* the uniform's distance is linear: far above for small v */
                CHECK(h2 < (double)v / (3.0 * L) / 4);
        }
        printf("  L = %u: J L^2 = %.3f (bound 3), largest H^2 / (1.5 v^2 / L^2) = %.3f\n", L,
               J * L * L, worst);
        mem_free(p);
    }
}

/* ---- modulus switching against long division ---- */

#define MSW 6 /* words of the reference's numbers: 2*x*2^64 + Q < 2^(64*MSW) */

/* a <<= 1 over n words. */
static void w_shl1(uint64_t *a, int n) {
    for (int i = n - 1; i > 0; i--)
        a[i] = (a[i] << 1) | (a[i - 1] >> 63);
    a[0] <<= 1;
}
static int w_ge(const uint64_t *a, const uint64_t *b, int n) {
    for (int i = n - 1; i >= 0; i--)
        if (a[i] != b[i]) return a[i] > b[i];
    return 1;
}
static void w_sub(uint64_t *a, const uint64_t *b, int n) {
    uint64_t borrow = 0;
    for (int i = 0; i < n; i++) {
        uint64_t t = a[i] - b[i] - borrow;
        borrow = (a[i] < b[i]) || (a[i] - b[i] < borrow);
        a[i] = t;
    }
}
static void w_add(uint64_t *a, const uint64_t *b, int n) {
    uint64_t carry = 0;
    for (int i = 0; i < n; i++) {
        he_u128 t = (he_u128)a[i] + b[i] + carry;
        a[i] = (uint64_t)t;
        carry = (uint64_t)(t >> 64);
    }
}

/* round(2^k * x / Q) mod 2^k = floor((2*x*2^k + Q) / 2Q) mod 2^k, by
 * schoolbook binary long division (x < Q given in HE_W words). */
static uint64_t ms_reference(const uint64_t *x, unsigned k) {
    const he_params *P = he_params_get();
    uint64_t num[MSW] = {0}, d[MSW] = {0}, rem[MSW] = {0};
    memcpy(num, x, HE_W * 8);
    for (unsigned s = 0; s <= k; s++) /* 2 * x * 2^k */
        w_shl1(num, MSW);
    memcpy(d, P->Q, HE_W * 8);
    w_add(num, d, MSW);
    w_shl1(d, MSW); /* 2Q */
    uint64_t quo = 0;
    for (int bit = 64 * MSW - 1; bit >= 0; bit--) {
        w_shl1(rem, MSW);
        rem[0] |= (num[bit / 64] >> (bit % 64)) & 1;
        quo <<= 1;
        if (w_ge(rem, d, MSW)) {
            w_sub(rem, d, MSW);
            quo |= 1;
        }
    }
    return quo & bits_mask(k);
}

/* A uniform x < Q. */
static void rand_below_q(prg *g, uint64_t *x) {
    const he_params *P = he_params_get();
    do {
        for (int i = 0; i < HE_W; i++)
            x[i] = prg_u64(g);
        int top = (int)(P->log2Q / 64); /* the word Q's top bit is in */
        for (int i = top + 1; i < HE_W; i++)
            x[i] = 0;
        x[top] &= bits_mask((unsigned)ceil(P->log2Q) - 64 * (unsigned)top);
    } while (he_w_cmp(x, P->Q) >= 0);
}

/* floor(m * Q / 2^(k+1)) for odd m: the x that put 2^k*x/Q within
 * 2^k/Q of a half-integer, where the fixed-point sum cannot decide. */
static void near_tie(uint64_t *x, uint64_t m, unsigned k) {
    const he_params *P = he_params_get();
    uint64_t t[MSW] = {0}, r[MSW] = {0};
    memcpy(t, P->Q, HE_W * 8);
    /* r = Q * m (m small) */
    he_u128 carry = 0;
    for (int i = 0; i < MSW; i++) {
        he_u128 v = (he_u128)t[i] * m + carry;
        r[i] = (uint64_t)v;
        carry = v >> 64;
    }
    /* >> (k + 1) */
    unsigned sh = k + 1, ws = sh / 64, bs = sh % 64;
    for (int i = 0; i < HE_W; i++) {
        uint64_t lo = (size_t)i + ws < MSW ? r[i + ws] : 0;
        uint64_t hi = (size_t)i + ws + 1 < MSW ? r[i + ws + 1] : 0;
        x[i] = bs ? (lo >> bs) | (hi << (64 - bs)) : lo;
    }
}

TEST(modswitch_exact) {
    const he_params *P = he_params_get();
    prg g;
    harness_prg(&g, 8);
    he_poly *a = poly_new();
    uint64_t(*xs)[HE_W] = mem_alloc(HE_N, sizeof *xs);
    uint64_t *out = mem_alloc(HE_N, 8);
    REQUIRE(xs && out);
    unsigned ks[] = {1, 2, 13, 32, 37, 40, 49, 52, 63, 64};
    for (size_t t = 0; t < sizeof ks / sizeof *ks; t++) {
        const unsigned k = ks[t];
        for (size_t j = 0; j < HE_N; j++) {
            uint64_t *x = xs[j];
            memset(x, 0, HE_W * 8);
            if (j == 0) {
                /* 0 */
            } else if (j == 1 || j == 2 || j == 3) { /* Q-1, (Q-1)/2, (Q+1)/2 */
                memcpy(x, P->Q, HE_W * 8);
                uint64_t one[HE_W] = {1};
                w_sub(x, one, HE_W);
                if (j >= 2) {
                    for (int i = 0; i < HE_W; i++) /* >> 1 */
                        x[i] = (x[i] >> 1) | (i + 1 < HE_W ? x[i + 1] << 63 : 0);
                    if (j == 3) w_add(x, one, HE_W);
                }
            } else if (j < 4 + 16) { /* ties within 2^k/Q, around 1/2 .. 15/2 */
                near_tie(x, 2 * ((j - 4) / 2 % (k < 3 ? 2 : 8)) + 1, k);
                if (j & 1) {
                    uint64_t one[HE_W] = {1};
                    w_add(x, one, HE_W);
                }
            } else {
                rand_below_q(&g, x);
            }
            for (int i = 0; i < HE_L; i++)
                a->c[i][j] = he_w_mod(x, &P->p[i]);
        }
        he_modswitch(out, a, NULL, HE_N, k);
        int bad = 0;
        for (size_t j = 0; j < HE_N; j += (j < 64 ? 1 : 61))
            bad += out[j] != ms_reference(xs[j], k);
        CHECK_MSG(bad == 0, "k = %u: %d wrong", k, bad);
    }
    mem_free(a);
    mem_free(xs);
    mem_free(out);
}

/* ---- parsers ---- */

TEST(serialise_roundtrip_and_reject) {
    const he_params *P = he_params_get();
    prg g;
    harness_prg(&g, 9);
    he_sk *sk = mem_alloc(1, sizeof *sk);
    he_pk *pk = mem_alloc(1, sizeof *pk), *pk2 = mem_alloc(1, sizeof *pk2);
    size_t nb = he_pk_bytes();
    uint8_t *buf = mem_alloc(nb, 1);
    REQUIRE(sk && pk && pk2 && buf);
    he_sk_gen(&g, sk);
    he_pk_gen(&g, pk, sk);
    he_pk_pack(buf, pk);
    REQUIRE_OK(he_pk_unpack(pk2, buf, nb));
    CHECK(memcmp(&pk->b, &pk2->b, sizeof pk->b) == 0);
    CHECK(memcmp(&pk->a, &pk2->a, sizeof pk->a) == 0);
    /* short, long, bad magic */
    CHECK(he_pk_unpack(pk2, buf, nb - 1) == PARLEY_E_PROTO);
    CHECK(he_pk_unpack(pk2, buf, 0) == PARLEY_E_PROTO);
    buf[0] ^= 1;
    CHECK(he_pk_unpack(pk2, buf, nb) == PARLEY_E_PROTO);
    buf[0] ^= 1;
    /* a residue equal to its modulus (first coefficient of residue 1) */
    he_poly *x = poly_new();
    memcpy(x, &pk->b, sizeof *x);
    uint8_t *pb = mem_alloc(he_poly_bytes(), 1);
    REQUIRE(pb);
    he_poly_pack(pb, x);
    REQUIRE_OK(he_poly_unpack(x, pb, he_poly_bytes()));
    x->c[1][5] = P->p[1].q; /* packs (48 bits) but is not a residue */
    he_poly_pack(pb, x);
    CHECK(he_poly_unpack(x, pb, he_poly_bytes()) == PARLEY_E_PROTO);
    CHECK(strstr(err_msg(), "not below its modulus") != NULL);
    x->c[1][5] = 0;
    x->c[0][HE_N - 1] = (1ULL << P->p[0].bits) - 1; /* all ones */
    he_poly_pack(pb, x);
    CHECK(he_poly_unpack(x, pb, he_poly_bytes()) == PARLEY_E_PROTO);
    CHECK(he_poly_unpack(x, pb, he_poly_bytes() + 1) == PARLEY_E_PROTO);
    /* returned ciphertexts: lengths, widths, padding */
    uint64_t am[HE_N], bm[3] = {1, 2, 3};
    for (size_t j = 0; j < HE_N; j++)
        am[j] = j;
    size_t ob = he_out_bytes(3, 49, 41); /* 8192*49 + 123 bits: 5 padding bits */
    uint8_t *o = mem_alloc(ob, 1);
    REQUIRE(o);
    he_out_pack(o, am, bm, 3, 49, 41);
    uint64_t am2[HE_N], bm2[3];
    REQUIRE_OK(he_out_unpack(am2, bm2, 3, 49, 41, o, ob));
    CHECK(memcmp(am, am2, sizeof am) == 0 && memcmp(bm, bm2, sizeof bm) == 0);
    CHECK(he_out_unpack(am2, bm2, 3, 49, 41, o, ob - 1) == PARLEY_E_PROTO);
    o[ob - 1] |= 0x80;
    CHECK(he_out_unpack(am2, bm2, 3, 49, 41, o, ob) == PARLEY_E_PROTO);
    CHECK(he_out_unpack(am2, bm2, 3, 49, 50, o, ob) == PARLEY_E_PROTO);
    CHECK(he_out_unpack(am2, bm2, 3, 0, 0, o, ob) == PARLEY_E_PROTO);
    he_sk_clear(sk);
    mem_free(sk);
    mem_free(pk);
    mem_free(pk2);
    mem_free(buf);
    mem_free(x);
    mem_free(pb);
    mem_free(o);
}

/* Input ciphertexts with low bits dropped: what the server gets back is b
 * plus a rounding delta with |delta| < 2^drop and mean near zero; the
 * largest value that can be sent is accepted, one more is refused, and so
 * is a wrong length. */
TEST(input_drop_roundtrip) {
    const he_params *P = he_params_get();
    prg g;
    harness_prg(&g, 14);
    he_sk *sk = mem_alloc(1, sizeof *sk);
    he_poly *b = poly_new(), *c = poly_new(), *d = poly_new();
    REQUIRE(sk);
    he_sk_gen(&g, sk);
    uint8_t seed[HE_SEED_BYTES] = {1};
    he_encoder enc;
    he_encoder_init(&enc, 37);
    he_encrypt_sk(&g, b, sk, seed, &enc, NULL);
    CHECK_EQ(he_in_bytes(0), he_poly_bytes());
    static const unsigned drops[] = {1, 2, 20, 47, 63};
    for (size_t t = 0; t < sizeof drops / sizeof *drops; t++) {
        const unsigned drop = drops[t];
        size_t n = he_in_bytes(drop);
        CHECK_EQ(n * 8, (size_t)HE_N * he_in_bits(drop));
        CHECK(he_in_bits(drop) == 144 - drop || he_in_bits(drop) == 145 - drop);
        uint8_t *in = mem_alloc(n + 1, 1);
        REQUIRE(in);
        he_in_pack(in, b, drop, &g);
        REQUIRE_OK(he_in_unpack(c, in, n, drop));
        double sum = 0;
        int bad = 0;
        for (int i = 0; i < HE_L; i++)
            for (size_t j = 0; j < HE_N; j++)
                d->c[i][j] = he_submod(c->c[i][j], b->c[i][j], P->p[i].q);
        for (size_t j = 0; j < HE_N; j++) {
            int big;
            double v = centred(d, j, &big);
            bad += big || fabs(v) >= ldexp(1.0, (int)drop);
            sum += v;
        }
        CHECK_MSG(bad == 0, "drop %u: %d coefficients off by 2^drop or more", drop, bad);
        /* delta has standard deviation below 2^(drop-1): the mean of N draws
         * stays within 8 standard errors */
        CHECK_MSG(fabs(sum / HE_N) < 8 * ldexp(1.0, (int)drop - 1) / sqrt((double)HE_N) + 1,
                  "drop %u: mean %g", drop, sum / HE_N);
        CHECK(he_in_unpack(c, in, n - 1, drop) == PARLEY_E_PROTO);
        CHECK(he_in_unpack(c, in, n + 1, drop) == PARLEY_E_PROTO);
        /* coefficient 5 at the largest value, then one more */
        const unsigned bits = he_in_bits(drop);
        uint64_t max[HE_W] = {0};
        memcpy(max, P->Q, sizeof P->Q);
        uint64_t add[HE_W] = {(1ULL << drop) - 2};
        w_add(max, add, HE_W);
        for (unsigned k = 0; k < drop; k++) /* >> drop */
            for (int i = 0; i < HE_W; i++)
                max[i] = (max[i] >> 1) | (i + 1 < HE_W ? max[i + 1] << 63 : 0);
        for (int one = 0; one < 2; one++) {
            uint64_t v[HE_W];
            memcpy(v, max, sizeof v);
            if (one) {
                uint64_t o[HE_W] = {1};
                w_add(v, o, HE_W);
            }
            bitw w = bitw_start(in);
            for (size_t j = 0; j < HE_N; j++)
                for (unsigned k = 0, left = bits; left > 0; k++) {
                    unsigned m = left < 64 ? left : 64;
                    bitw_put(&w, j == 5 ? v[k] : 0, m);
                    left -= m;
                }
            bitw_end(&w);
            int rc = he_in_unpack(c, in, n, drop);
            CHECK_MSG(one ? rc == PARLEY_E_PROTO : rc == 0, "drop %u, largest value%s: %d", drop,
                      one ? " + 1" : "", rc);
        }
        mem_free(in);
    }
    he_sk_clear(sk);
    mem_free(sk);
    mem_free(b);
    mem_free(c);
    mem_free(d);
}

/* Decryption of the returned form: the direct path (few positions) and the
 * NTT path agree. */
TEST(out_decrypt_paths_agree) {
    prg g;
    harness_prg(&g, 10);
    he_sk *sk = mem_alloc(1, sizeof *sk);
    REQUIRE(sk);
    he_sk_gen(&g, sk);
    uint64_t am[HE_N], bm[HE_N], d1[HE_N], d2[HE_N], p1[HE_N], p2[HE_N];
    uint32_t pos[HE_N];
    prg_ring(&g, am, HE_N, 49);
    prg_ring(&g, bm, HE_N, 40);
    for (uint32_t j = 0; j < HE_N; j++)
        pos[j] = (j * 7 + 3) % HE_N;
    REQUIRE_OK(he_out_decrypt(d1, p1, sk, am, bm, pos, HE_N, 49, 40, 37));
    for (size_t j = 0; j < HE_N; j += 16) {
        size_t k = HE_N - j < 16 ? HE_N - j : 16;
        REQUIRE_OK(he_out_decrypt(d2 + j, p2 + j, sk, am, bm + j, pos + j, k, 49, 40, 37));
    }
    CHECK(memcmp(d1, d2, sizeof d1) == 0);
    CHECK(memcmp(p1, p2, sizeof p1) == 0);
    he_sk_clear(sk);
    mem_free(sk);
}

/* The pruned forward NTT equals the full one on polynomials with short
 * support, in both tiers and for every support size. */
TEST(ntt_pruned) {
    const he_params *P = he_params_get();
    prg g;
    harness_prg(&g, 11);
    uint64_t *a = mem_alloc(HE_N, 8), *b = mem_alloc(HE_N, 8);
    REQUIRE(a && b);
    for (unsigned impl = 0; impl < NTT_TIERS; impl++) {
        if (!harness_tier("ntt", ntt_tiers, impl)) continue;
        for (int i = 0; i < HE_L; i++)
            for (unsigned logm = 0; logm <= HE_LOGN; logm++) {
                memset(a, 0, HE_N * 8);
                rand_mod(&g, a, (size_t)1 << logm, P->p[i].q);
                memcpy(b, a, HE_N * 8);
                he_ntt_fwd(&P->p[i], a);
                he_ntt_fwd_pruned(&P->p[i], b, logm);
                CHECK_MSG(memcmp(a, b, HE_N * 8) == 0, "tier %u prime %d logm %u", impl, i, logm);
            }
    }
    mem_free(a);
    mem_free(b);
    prg_clear(&g);
}

/* NTT(g(X^k))[j] = NTT(g)[perm[j]] for odd k. */
TEST(ntt_automorphism) {
    const he_params *P = he_params_get();
    const he_prime *p = &P->p[1];
    prg g;
    harness_prg(&g, 12);
    uint64_t *a = mem_calloc(HE_N, 8), *f = mem_calloc(HE_N, 8);
    uint32_t *perm = mem_alloc(HE_N, 4);
    REQUIRE(a && f && perm);
    unsigned ks[] = {1, 3, 49, 99, 197, 4095, 8191};
    for (size_t t = 0; t < sizeof ks / sizeof *ks; t++) {
        unsigned k = ks[t];
        memset(a, 0, HE_N * 8);
        memset(f, 0, HE_N * 8);
        size_t m = HE_N / k < 40 ? HE_N / k : 40; /* support where i*k < N, and a wrapping one */
        rand_mod(&g, a, k == 1 ? HE_N : m + (k > 1000 ? 3 : 0), p->q);
        for (size_t i = 0; i < HE_N; i++) {
            if (!a[i]) continue;
            uint64_t e = (uint64_t)i * k % (2 * HE_N); /* X^(ik) = +-X^(ik mod N) */
            if (e < HE_N)
                f[e] = he_addmod(f[e], a[i], p->q);
            else
                f[e - HE_N] = he_submod(f[e - HE_N], a[i], p->q);
        }
        he_ntt_fwd(p, a);
        he_ntt_fwd(p, f);
        he_auto_perm(perm, k);
        int bad = 0;
        for (size_t j = 0; j < HE_N; j++)
            bad += f[j] != a[perm[j]];
        CHECK_MSG(bad == 0, "k = %u: %d wrong", k, bad);
    }
    mem_free(a);
    mem_free(f);
    mem_free(perm);
}

/* The multi-term, multi-output MAC equals repeated single products, in both
 * tiers, including batches longer than the kernel's 128-term stride. */
TEST(mac_rows_multi) {
    const he_params *P = he_params_get();
    prg g;
    harness_prg(&g, 13);
    enum { G = 3, K = 130 };
    uint64_t *buf = mem_alloc((size_t)(G * K + K) * HE_N, 8);
    he_u128 *ref = mem_calloc((size_t)G * HE_N, sizeof(he_u128));
    he_u128 *got = mem_alloc((size_t)G * HE_N, sizeof(he_u128));
    REQUIRE(buf && ref && got);
    const uint64_t *w[G * K], *x[K];
    for (size_t i = 0; i < (size_t)(G * K + K); i++) {
        rand_mod(&g, buf + i * HE_N, HE_N, P->p[0].q);
        if (i == 0)
            for (size_t j = 0; j < HE_N; j++)
                buf[j] = P->p[0].q - 1;
    }
    for (size_t i = 0; i < G * K; i++)
        w[i] = buf + i * HE_N;
    for (size_t i = 0; i < K; i++)
        x[i] = buf + (G * K + i) * HE_N;
    for (size_t gi = 0; gi < G; gi++)
        for (size_t k = 0; k < K; k++)
            for (size_t j = 0; j < HE_N; j++)
                ref[gi * HE_N + j] += (he_u128)w[gi * K + k][j] * x[k][j];
    for (unsigned impl = 0; impl < NTT_TIERS; impl++) {
        if (!harness_tier("ntt", ntt_tiers, impl)) continue;
        for (size_t j = 0; j < (size_t)G * HE_N; j++)
            got[j] = (he_u128)j << 70;
        he_u128 *accs[G];
        for (size_t gi = 0; gi < G; gi++)
            accs[gi] = got + gi * HE_N;
        he_mac_rows_multi(accs, w, x, G, K);
        int bad = 0;
        for (size_t j = 0; j < (size_t)G * HE_N; j++)
            bad += got[j] != ref[j] + ((he_u128)j << 70);
        CHECK_MSG(bad == 0, "tier %u: %d wrong", impl, bad);
    }
    mem_free(buf);
    mem_free(ref);
    mem_free(got);
}

/* ---- Galois keys, key switching and packing ---- */

/* The phase b + a*s of a level-q0*q1 ciphertext (rows 0 and 1,
 * coefficient domain), in rows 0 and 1 of ph. */
static void phase01(he_poly *ph, const he_sk *sk, const he_poly *b, const he_poly *a) {
    const he_params *P = he_params_get();
    he_poly *as = poly_new();
    for (int i = 0; i < 2; i++) {
        memcpy(as->c[i], a->c[i], sizeof as->c[i]);
        he_ntt_fwd(&P->p[i], as->c[i]);
        for (size_t j = 0; j < HE_N; j++)
            as->c[i][j] = he_mulmod(as->c[i][j], sk->s_ntt.c[i][j], &P->p[i]);
        he_ntt_inv(&P->p[i], as->c[i]);
        for (size_t j = 0; j < HE_N; j++)
            ph->c[i][j] = he_addmod(as->c[i][j], b->c[i][j], P->p[i].q);
    }
    mem_free(as);
}

/* Decryption at the level q0*q1: round(t * phase / (q0 q1)) mod t. */
static void decrypt01(uint64_t *m, const he_sk *sk, const he_poly *b, const he_poly *a,
                      unsigned l) {
    he_poly *ph = poly_new();
    phase01(ph, sk, b, a);
    he_modswitch01(m, ph, NULL, HE_N, l);
    mem_free(ph);
}

/* The largest |noise| of a level-q0*q1 ciphertext of zero. */
static double zero_noise_max01(const he_sk *sk, const he_poly *b, const he_poly *a) {
    const he_params *P = he_params_get();
    he_poly *ph = poly_new();
    phase01(ph, sk, b, a);
    double worst = 0;
    for (size_t j = 0; j < HE_N; j++) {
        uint64_t c0 = ph->c[0][j], c1 = ph->c[1][j];
        uint64_t t = (uint64_t)(((he_u128)((c1 + P->p[1].q - c0 % P->p[1].q) % P->p[1].q) *
                                 P->q0_inv_mod_q1) %
                                P->p[1].q);
        he_u128 x = (he_u128)c0 + (he_u128)P->p[0].q * t;
        he_u128 mag = x <= P->Q01 / 2 ? x : P->Q01 - x;
        if ((double)mag > worst) worst = (double)mag;
    }
    mem_free(ph);
    return worst;
}

/* tau_g(m) mod 2^l. */
static void auto_plain(uint64_t *out, const uint64_t *m, uint32_t g, unsigned l) {
    for (uint32_t i = 0; i < HE_N; i++) {
        uint32_t e = (uint32_t)(((uint64_t)i * g) % (2 * HE_N));
        if (e < HE_N)
            out[e] = m[i];
        else
            out[e - HE_N] = (0 - m[i]) & bits_mask(l);
    }
}

/* A fresh encryption of m (NULL: zero) under sk at width l, rescaled to
 * the level q0*q1, both parts in coefficient form. */
static void encrypt01(prg *g, he_poly *b, he_poly *a, const he_sk *sk, unsigned l,
                      const uint64_t *m) {
    he_encoder enc;
    he_encoder_init(&enc, l);
    uint8_t seed[HE_SEED_BYTES];
    prg_bytes(g, seed, sizeof seed);
    he_encrypt_sk(g, b, sk, seed, &enc, m);
    he_expand_a(a, seed);
    he_poly_intt(a);
    he_rescale01(b, a);
}

/* Modulus switching from q0*q1 against an independent exact reference
 * (two 128-bit divisions), for random values, the extremes and values
 * next to a rounding tie, at k = 1 .. 64; and rescaling from Q keeps the
 * message for every l. */
TEST(modswitch01_exact) {
    const he_params *P = he_params_get();
    prg g;
    harness_prg(&g, 20);
    const he_u128 D = P->Q01;
    he_poly *a = poly_new();
    uint64_t *out = mem_alloc(HE_N, 8);
    he_u128 *xs = mem_alloc(HE_N, sizeof *xs);
    REQUIRE(out && xs);
    const unsigned ks[] = {1, 11, 32, 33, 48, 49, 63, 64};
    for (size_t ki = 0; ki < sizeof ks / sizeof *ks; ki++) {
        unsigned k = ks[ki];
        for (size_t j = 0; j < HE_N; j++) {
            he_u128 x = (((he_u128)prg_u64(&g) << 64) | prg_u64(&g)) % D;
            if (j == 0) x = 0;
            if (j == 1) x = D - 1;
            if (j >= 2 && j < 40) { /* x*2^k near (v + 1/2) D: a tie within a few units */
                he_u128 v = (he_u128)(prg_u64(&g) >> (64 - (k < 63 ? k : 63)));
                /* x = ceil((2v+1) D / 2^(k+1)) + delta, computed only where it fits */
                if (k <= 30) x = ((2 * v + 1) * D >> (k + 1)) + (he_u128)(j % 3) - 1;
                if (x >= D) x = D - 1;
            }
            xs[j] = x;
            a->c[0][j] = (uint64_t)(x % P->p[0].q);
            a->c[1][j] = (uint64_t)(x % P->p[1].q);
        }
        he_modswitch01(out, a, NULL, HE_N, k);
        int bad = 0;
        for (size_t j = 0; j < HE_N; j++) {
            he_u128 x = xs[j], q, r;
            if (k <= 32) {
                he_u128 y = x << k;
                q = y / D;
                r = y % D;
            } else {
                he_u128 y = x << 32;
                he_u128 q1 = y / D, r1 = y % D;
                he_u128 y2 = r1 << (k - 32);
                q = (q1 << (k - 32)) + y2 / D;
                r = y2 % D;
            }
            uint64_t want = (uint64_t)(q + (2 * r >= D)) & bits_mask(k);
            bad += out[j] != want;
        }
        CHECK_MSG(bad == 0, "k = %u: %d values wrong", k, bad);
    }
    he_sk *sk = mem_alloc(1, sizeof *sk);
    he_poly *b = poly_new();
    uint64_t *m = mem_alloc(HE_N, 8), *d = mem_alloc(HE_N, 8);
    REQUIRE(sk && m && d);
    he_sk_gen(&g, sk);
    for (unsigned l = 1; l <= HE_L_MAX; l++) {
        edge_message(&g, m, l);
        encrypt01(&g, b, a, sk, l, m);
        decrypt01(d, sk, b, a, l);
        CHECK_MSG(memcmp(d, m, HE_N * 8) == 0, "l = %u: rescaled ciphertext decrypts wrong", l);
    }
    encrypt01(&g, b, a, sk, 37, NULL);
    double nz = zero_noise_max01(sk, b, a);
    CHECK_MSG(nz <= HE_RESCALE_BOUND + 1, "rescaled noise %.0f above %.0f", nz,
              HE_RESCALE_BOUND + 1);
    he_sk_clear(sk);
    mem_free(sk);
    mem_free(a);
    mem_free(b);
    mem_free(m);
    mem_free(d);
    mem_free(out);
    mem_free(xs);
}

/* An automorphism with its key switch decrypts to tau_g(m) for the edge
 * messages at l = 1, 37 and 52, for the packing elements and others; the
 * noise it adds stays below HE_KS_BOUND. */
TEST(galois_keyswitch) {
    prg g;
    harness_prg(&g, 21);
    he_sk *sk = mem_alloc(1, sizeof *sk);
    he_gkey *key = mem_alloc(1, sizeof *key);
    he_poly *b = poly_new(), *a = poly_new();
    uint64_t *m = mem_alloc(HE_N, 8), *d = mem_alloc(HE_N, 8), *want = mem_alloc(HE_N, 8);
    REQUIRE(sk && key && m && d && want);
    he_sk_gen(&g, sk);
    const uint32_t gs[] = {HE_N + 1, HE_N / 2 + 1, HE_N / 64 + 1, 3, 5, 2 * HE_N - 1};
    const unsigned ls[] = {1, 37, HE_L_MAX};
    for (size_t gi = 0; gi < sizeof gs / sizeof *gs; gi++) {
        he_gkey_gen(&g, key, sk, gs[gi]);
        for (size_t li = 0; li < sizeof ls / sizeof *ls; li++) {
            unsigned l = ls[li];
            edge_message(&g, m, l);
            encrypt01(&g, b, a, sk, l, m);
            he_ct_auto(b, a, key);
            decrypt01(d, sk, b, a, l);
            auto_plain(want, m, gs[gi], l);
            int bad = 0;
            for (size_t j = 0; j < HE_N; j++)
                bad += d[j] != want[j];
            CHECK_MSG(bad == 0, "g = %u, l = %u: %d coefficients wrong", gs[gi], l, bad);
        }
        encrypt01(&g, b, a, sk, 37, NULL);
        double fresh = zero_noise_max01(sk, b, a);
        he_ct_auto(b, a, key);
        double after = zero_noise_max01(sk, b, a);
        CHECK_MSG(after <= fresh + HE_KS_BOUND, "g = %u: noise %.0f -> %.0f (bound +%.0f)", gs[gi],
                  fresh, after, HE_KS_BOUND);
        printf("  g = %5u: noise %.0f -> %.0f (bound +%.0f)\n", gs[gi], fresh, after, HE_KS_BOUND);
    }
    he_sk_clear(sk);
    mem_free(sk);
    mem_free(key);
    mem_free(b);
    mem_free(a);
    mem_free(m);
    mem_free(d);
    mem_free(want);
}

/* he_pack for every k up to HE_PACK_MAX_LOG, with all 2^k, one fewer and a
 * single ciphertext: each input holds a random message in every
 * coefficient (so the positions that are not = 0 mod 2^k carry garbage the
 * tree must cancel), and the packed ciphertext decrypts, at every one of
 * its N positions, to input i's coefficient p at p + i (zero for inputs
 * left out). Also at l = 1 and l = 52, and the noise of 2^6 packed
 * encryptions of zero against the bound. */
TEST(pack_tree) {
    prg g;
    harness_prg(&g, 22);
    const size_t NMAX = (size_t)1 << HE_PACK_MAX_LOG;
    he_sk *sk = mem_alloc(1, sizeof *sk);
    he_gkey *keys = mem_alloc(HE_PACK_MAX_LOG, sizeof *keys);
    he_poly *bs = mem_alloc(NMAX, sizeof *bs), *as = mem_alloc(NMAX, sizeof *as);
    uint64_t *m = mem_alloc(NMAX * HE_N, 8), *d = mem_alloc(HE_N, 8);
    he_pack_work *w = he_pack_work_new();
    REQUIRE(sk && keys && bs && as && m && d && w);
    he_sk_gen(&g, sk);
    for (unsigned k = 0; k < HE_PACK_MAX_LOG; k++)
        he_gkey_gen(&g, &keys[k], sk, he_pack_galois(k));
    struct {
        unsigned k, l;
        size_t n;
    } cases[3 * (HE_PACK_MAX_LOG + 1) + 2];
    size_t nc = 0;
    for (unsigned k = 0; k <= HE_PACK_MAX_LOG; k++) {
        cases[nc++] = (typeof(cases[0])){k, 37, (size_t)1 << k};
        if (k >= 1) cases[nc++] = (typeof(cases[0])){k, 32, ((size_t)1 << k) - 1};
        if (k >= 2) cases[nc++] = (typeof(cases[0])){k, 37, 1};
    }
    cases[nc++] = (typeof(cases[0])){3, 1, 8};
    cases[nc++] = (typeof(cases[0])){3, HE_L_MAX, 5};
    for (size_t c = 0; c < nc; c++) {
        const unsigned k = cases[c].k, l = cases[c].l;
        const size_t n = cases[c].n, K = (size_t)1 << k;
        for (size_t i = 0; i < n; i++) {
            edge_message(&g, m + i * HE_N, l);
            encrypt01(&g, &bs[i], &as[i], sk, l, m + i * HE_N);
        }
        he_pack(bs, as, n, k, keys, c & 1 ? w : NULL);
        decrypt01(d, sk, &bs[0], &as[0], l);
        int bad = 0;
        for (size_t p = 0; p < HE_N; p += K)
            for (size_t i = 0; i < K; i++)
                bad += d[p + i] != (i < n ? m[i * HE_N + p] : 0);
        CHECK_MSG(bad == 0, "k = %u, n = %zu, l = %u: %d coefficients wrong", k, n, l, bad);
    }
    /* the planner's count: 2^k - 1 for a full tree; n = 3, 5: k = 2, 3
     * levels of min(live, 2^m) */
    for (unsigned k = 0; k <= HE_PACK_MAX_LOG; k++)
        CHECK_EQ(he_pack_switches((size_t)1 << k), ((uint64_t)1 << k) - 1);
    CHECK_EQ(he_pack_switches(3), 3);
    CHECK_EQ(he_pack_switches(5), 7);
    double fresh = 0;
    for (size_t i = 0; i < NMAX; i++) {
        encrypt01(&g, &bs[i], &as[i], sk, 37, NULL);
        double f = zero_noise_max01(sk, &bs[i], &as[i]);
        if (f > fresh) fresh = f;
    }
    he_pack(bs, as, NMAX, HE_PACK_MAX_LOG, keys, w);
    double noise = zero_noise_max01(sk, &bs[0], &as[0]);
    double bound = fresh + (double)(NMAX - 1) * HE_KS_BOUND;
    CHECK_MSG(noise <= bound, "noise %.0f above the bound %.0f", noise, bound);
    printf("  2^%d packed: noise %.0f (log2 %.1f), bound %.0f (log2 %.1f)\n", HE_PACK_MAX_LOG,
           noise, log2(noise), bound, log2(bound));
    he_pack_work_free(w);
    he_sk_clear(sk);
    mem_free(sk);
    mem_free(keys);
    mem_free(bs);
    mem_free(as);
    mem_free(m);
    mem_free(d);
}

/* The Galois key's wire form round-trips (the a_i come back from the seed)
 * and the parser refuses a wrong length, a bad magic, an even, too small
 * or too large automorphism, and a residue at its modulus in the special
 * prime's row. */
TEST(gkey_serialise_reject) {
    const he_params *P = he_params_get();
    prg g;
    harness_prg(&g, 23);
    he_sk *sk = mem_alloc(1, sizeof *sk);
    he_gkey *k = mem_alloc(1, sizeof *k), *k2 = mem_alloc(1, sizeof *k2);
    size_t nb = he_gkey_bytes();
    uint8_t *buf = mem_alloc(nb + 1, 1);
    REQUIRE(sk && k && k2 && buf);
    CHECK(nb == 4 + 4 + HE_SEED_BYTES + (size_t)2 * HE_N * (48 + 48 + 54) / 8);
    he_sk_gen(&g, sk);
    he_gkey_gen(&g, k, sk, he_pack_galois(2));
    he_gkey_pack(buf, k);
    REQUIRE_OK(he_gkey_unpack(k2, buf, nb));
    CHECK(k2->g == k->g && memcmp(k->b, k2->b, sizeof k->b) == 0 &&
          memcmp(k->a, k2->a, sizeof k->a) == 0);
    CHECK(he_gkey_unpack(k2, buf, nb - 1) == PARLEY_E_PROTO);
    CHECK(he_gkey_unpack(k2, buf, nb + 1) == PARLEY_E_PROTO);
    CHECK(he_gkey_unpack(k2, buf, 0) == PARLEY_E_PROTO);
    buf[1] ^= 1;
    CHECK(he_gkey_unpack(k2, buf, nb) == PARLEY_E_PROTO);
    CHECK(strstr(err_msg(), "magic") != NULL);
    buf[1] ^= 1;
    const uint32_t bad_g[] = {0, 1, 2, HE_N, 2 * HE_N + 1, 0xffffffffu};
    for (size_t i = 0; i < sizeof bad_g / sizeof *bad_g; i++) {
        for (int b = 0; b < 4; b++)
            buf[4 + b] = (uint8_t)(bad_g[i] >> (8 * b));
        CHECK_MSG(he_gkey_unpack(k2, buf, nb) == PARLEY_E_PROTO, "g = %u accepted", bad_g[i]);
        CHECK(strstr(err_msg(), "automorphism") != NULL);
    }
    k->b[1].c[2][7] = P->sp.q;
    he_gkey_pack(buf, k);
    CHECK(he_gkey_unpack(k2, buf, nb) == PARLEY_E_PROTO);
    CHECK(strstr(err_msg(), "not below its modulus") != NULL);
    he_sk_clear(sk);
    mem_free(sk);
    mem_free(k);
    mem_free(k2);
    mem_free(buf);
}
