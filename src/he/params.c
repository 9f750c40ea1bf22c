/* The parameter set of HE mode and its precomputed tables.
 *
 * N = 4096 and Q = q0*q1 with q0 = 2^55 - 0x4bfff and q1 = 2^54 + 0x6001,
 * both prime and = 1 mod 2N (so the negacyclic NTT exists), log2 Q = 108.99:
 * within the HomomorphicEncryption.org standard's bound of 109 bits for
 * N = 4096, ternary secret, 128-bit classical security (docs/SECURITY-HE.md).
 * The tables are a pure function of these constants; they are computed once
 * on first use (pthread_once) and read-only afterwards. */
#include "he/he.h"

#include <pthread.h>

static const uint64_t he_primes[HE_L] = {36028797018652673ULL, 18014398509506561ULL};

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
        p->ms_h[k] = (uint64_t)(two_k / q); /* < 2^10: q > 2^54 */
        p->ms_p[k] = (uint64_t)(two_k % q);
        p->ms_ps[k] = he_shoup(p->ms_p[k], q);
    }
}

static void params_init(void) {
    for (int i = 0; i < HE_L; i++)
        prime_init(&params.p[i], he_primes[i]);
    params.Q = (he_u128)he_primes[0] * he_primes[1];
    params.logq_bits = params.p[0].bits + params.p[1].bits;
    for (int i = 0; i < HE_L; i++) {
        he_prime *p = &params.p[i];
        uint64_t other = he_primes[1 - i] % p->q;
        p->other_mod = other;
        p->crt = powmod(other, p->q - 2, p->q);
        p->crt_s = he_shoup(p->crt, p->q);
    }
    params.q0_inv_mod_q1 = powmod(he_primes[0] % he_primes[1], he_primes[1] - 2, he_primes[1]);
    params.q0_inv_mod_q1_s = he_shoup(params.q0_inv_mod_q1, he_primes[1]);
}

const he_params *he_params_get(void) {
    pthread_once(&params_once, params_init);
    return &params;
}
