/* The parameter set of HE mode and its precomputed tables.
 *
 * N = 8192 and Q = q0*q1*q2 with q0 = 2^48 - 0x3fff, q1 = 2^48 - 0x27fff,
 * q2 = 2^48 - 0x5ffff, all prime and = 1 mod 2N (so the negacyclic NTT
 * exists), log2 Q = 143.99: within the HomomorphicEncryption.org standard's
 * bound of 218 bits for N = 8192, ternary secret, 128-bit classical security.
 * The size of Q is what flooding a whole inference needs
 * (docs/SECURITY-HE.md). Key switching (Galois keys, he/galois.c) works
 * modulo q0*q1*P with a special prime P = 2^54 - 0x108000 + 1 = 1 mod 2N
 * (log2 = 150, within the standard's 218 bits).
 * The tables are a pure function of these constants; they are computed once
 * on first use (pthread_once) and read-only afterwards. */
#include "he/he.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

static const uint64_t he_primes[HE_L] = {0xffffffffc001ULL, 0xfffffffd8001ULL, 0xfffffffa0001ULL};
static const uint64_t he_special_prime = 0x3fffffffef8001ULL;

static he_params params;
static pthread_once_t params_once = PTHREAD_ONCE_INIT;

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

static unsigned bitrev(unsigned x, unsigned bits) {
    unsigned r = 0;
    for (unsigned i = 0; i < bits; i++)
        r |= ((x >> i) & 1u) << (bits - 1 - i);
    return r;
}

static void prime_init(he_prime *p, uint64_t q) {
    p->q = q;
    p->bits = 64 - (unsigned)__builtin_clzll(q);
    /* floor(2^128 / q) = floor((2^128 - 1) / q) as q does not divide 2^128 */
    he_u128 ratio = ~(he_u128)0 / q;
    p->r0 = (uint64_t)ratio;
    p->r1 = (uint64_t)(ratio >> 64);
    /* the smallest generator g giving psi = g^((q-1)/2N) with psi^N = -1 */
    uint64_t psi = 0;
    for (uint64_t g = 2; psi == 0; g++) {
        uint64_t c = powmod(g, (q - 1) / (2 * HE_N), q);
        if (powmod(c, HE_N, q) == q - 1) psi = c;
    }
    p->psi = psi;
    uint64_t ipsi = powmod(psi, 2 * HE_N - 1, q);
    for (unsigned i = 0; i < HE_N; i++) {
        unsigned e = bitrev(i, HE_LOGN);
        p->rt[i] = powmod(psi, e, q);
        p->rt_s[i] = he_shoup(p->rt[i], q);
        p->irt[i] = powmod(ipsi, e, q);
        p->irt_s[i] = he_shoup(p->irt[i], q);
    }
    p->ninv = powmod(HE_N, q - 2, q);
    p->ninv_s = he_shoup(p->ninv, q);
    for (unsigned k = 1; k <= 64; k++) {
        he_u128 two_k = (he_u128)1 << k;
        p->ms_h[k] = (uint64_t)(two_k / q); /* < 2^17: q > 2^47 */
        p->ms_p[k] = (uint64_t)(two_k % q);
        p->ms_ps[k] = he_shoup(p->ms_p[k], q);
    }
}

/* out = product of the primes other than `skip` (-1: all of them). */
static void prime_product(uint64_t out[HE_W], int skip) {
    memset(out, 0, HE_W * sizeof *out);
    out[0] = 1;
    for (int i = 0; i < HE_L; i++) {
        if (i == skip) continue;
        uint64_t t[HE_W] = {0};
        he_w_muladd(t, out, he_primes[i]);
        memcpy(out, t, sizeof t);
    }
}

static void params_init(void) {
    for (int i = 0; i < HE_L; i++) {
        /* the FMA tier's products are exact only for residues below 2^48
         * (docs/PROTOCOLS.md §7, "The transforms on doubles") */
        PARLEY_CHECK(he_primes[i] < (uint64_t)1 << 48);
        prime_init(&params.p[i], he_primes[i]);
    }
    prime_product(params.Q, -1);
    params.log2Q = 0;
    params.logq_bits = 0;
    for (int i = 0; i < HE_L; i++) {
        params.log2Q += log2((double)he_primes[i]);
        params.logq_bits += params.p[i].bits;
    }
    for (int i = 0; i < HE_L; i++) {
        he_prime *p = &params.p[i];
        prime_product(params.Qhat[i], i);
        p->other_mod = he_w_mod(params.Qhat[i], p);
        p->crt = powmod(p->other_mod, p->q - 2, p->q);
        p->crt_s = he_shoup(p->crt, p->q);
        memset(params.Qodd[i], 0, sizeof params.Qodd[i]);
        he_w_muladd(params.Qodd[i], params.Q, 2 * (uint64_t)i + 1);
    }
    params.q0_inv_mod_q1 = powmod(he_primes[0] % he_primes[1], he_primes[1] - 2, he_primes[1]);
    params.q0_inv_mod_q1_s = he_shoup(params.q0_inv_mod_q1, he_primes[1]);
    prime_init(&params.sp, he_special_prime);
    params.q2_inv[0] = powmod(he_primes[2] % he_primes[0], he_primes[0] - 2, he_primes[0]);
    params.q2_inv[1] = powmod(he_primes[2] % he_primes[1], he_primes[1] - 2, he_primes[1]);
    for (int i = 0; i < 2; i++)
        params.q2_inv_s[i] = he_shoup(params.q2_inv[i], he_primes[i]);
    /* q0*q1 and the CRT constants of the packing level */
    params.Q01 = (he_u128)he_primes[0] * he_primes[1];
    params.crt01[0] = powmod(he_primes[1] % he_primes[0], he_primes[0] - 2, he_primes[0]);
    params.crt01[1] = powmod(he_primes[0] % he_primes[1], he_primes[1] - 2, he_primes[1]);
    for (int i = 0; i < 2; i++)
        params.crt01_s[i] = he_shoup(params.crt01[i], he_primes[i]);
    for (int i = 0; i < HE_L; i++) {
        const uint64_t q = he_primes[i];
        params.sp_mod[i] = he_special_prime % q;
        params.sp_mod_s[i] = he_shoup(params.sp_mod[i], q);
        params.sp_inv[i] = powmod(params.sp_mod[i], q - 2, q);
        params.sp_inv_s[i] = he_shoup(params.sp_inv[i], q);
    }
}

const he_params *he_params_get(void) {
    pthread_once(&params_once, params_init);
    return &params;
}
