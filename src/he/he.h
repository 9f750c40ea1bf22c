/* RLWE / BFV with coefficient encoding and a power-of-two plaintext modulus
 * (docs/PROTOCOLS.md §7; Cheetah, Huang et al., USENIX Security 2022).
 *
 * Ring R_Q = Z_Q[X]/(X^N + 1), N = 8192, Q = q0*q1*q2 ~ 2^144 held in RNS
 * form (three NTT-friendly 48-bit primes, q_i = 1 mod 2N). The ring is the
 * one that leaves room for flooding every returned coefficient of a whole
 * inference to 40 bits of statistical security at 128-bit computational
 * security (docs/SECURITY-HE.md). Plaintexts live in Z_t[X]/(X^N+1)
 * with t = 2^l, 1 <= l <= HE_L_MAX, so additive shares mod 2^l are encrypted
 * as they are. A ciphertext (b, a) encrypts m under the ternary secret s when
 *     b + a*s = round(Q*m/t) + e   (mod Q),
 * and decrypts to round(t*(b + a*s)/Q) mod t. Since t does not divide Q the
 * encoding rounds; a plaintext product w*ct then carries w*(e + rounding),
 * which the noise bounds below count (see docs/SECURITY-HE.md).
 *
 * Layout: a polynomial is HE_L rows of HE_N residues (he_poly), each row
 * either in coefficient order or in the NTT domain (bit-reversed evaluation
 * order, as the forward transform leaves it). Residues are kept in [0, q_i).
 * The NTT and the multiply-accumulate kernels have a portable tier
 * (he/ntt_ref.c) and an AVX2 tier (he/ntt_avx2.c), dispatched by he/ntt.c
 * (util/cpu.h: PARLEY_CPU=none forces the portable one; tests force each
 * and compare).
 *
 * What the layers use:
 *   client: he_sk_gen, he_pk_gen, he_encrypt_sk (seeded symmetric encryption:
 *           only b travels, a comes from a public seed), he_out_decrypt;
 *   server: he_expand_a, he_ntt_fwd/inv, he_mac (plaintext x ciphertext
 *           products accumulated lazily in 128 bits), he_enc_zero_pk
 *           (re-randomisation with a public-key encryption of zero),
 *           he_flood, he_modswitch (to the powers of two 2^ka and 2^kb that
 *           travel back).
 * Every fallible parser of peer bytes (public key, input ciphertexts, output
 * ciphertexts) checks sizes and that every residue is below its modulus and
 * returns PARLEY_E_PROTO with a message.
 *
 * Secrets: he_sk holds the ternary secret in both forms; he_sk_clear wipes
 * it. Randomness always comes from a caller's prg (seeded from the OS in
 * production, from fixed seeds in tests). */
#ifndef PARLEY_HE_HE_H
#define PARLEY_HE_HE_H

#include "crypto/prg.h"
#include "util/err.h"

#include <stddef.h>
#include <stdint.h>

#define HE_LOGN 13
#define HE_N (1u << HE_LOGN)
#define HE_L 3         /* RNS primes */
#define HE_L_MAX 52    /* largest plaintext width l: 2^ka with ka = l + HE_KA_EXTRA <= 2^64 */
#define HE_CBD_ETA 21  /* centred binomial noise: sigma = sqrt(21/2) = 3.24, |e| <= 21 */
#define HE_KA_EXTRA 11 /* the a part returns with ka = l + 11 bits */
#define HE_KB_EXTRA 2  /* kept coefficients of b return with kb = l + 2 bits */
#define HE_SEED_BYTES 16

typedef unsigned __int128 he_u128;

/* One NTT prime with its tables (Harvey butterflies with Shoup constants). */
typedef struct he_prime {
    uint64_t q;
    unsigned bits;                   /* q < 2^bits */
    uint64_t r0, r1;                 /* floor(2^128 / q), low and high words (Barrett) */
    uint64_t psi;                    /* primitive 2N-th root of unity */
    uint64_t ninv, ninv_s;           /* N^-1 mod q and its Shoup constant */
    uint64_t rt[HE_N], rt_s[HE_N];   /* psi^bitrev(i), forward order, and Shoup */
    uint64_t irt[HE_N], irt_s[HE_N]; /* psi^-bitrev(i) */
    /* Modulus switching to 2^k, k = 1..64: 2^k = hk*q + pk, pk < q. */
    uint64_t ms_h[65], ms_p[65], ms_ps[65];
    uint64_t crt, crt_s; /* (Q/q_i)^-1 mod q_i and Shoup */
    uint64_t other_mod;  /* Q/q_i mod q_i (the other primes' product, reduced) */
} he_prime;

/* Multi-word integers below 2^(64*HE_W), little-endian 64-bit words: Q and
 * what modulus switching compares against it. */
#define HE_W (HE_L + 1)

typedef struct he_params {
    he_prime p[HE_L];
    uint64_t Q[HE_W];          /* Q = prod q_i */
    uint64_t Qhat[HE_L][HE_W]; /* Q/q_i */
    uint64_t Qodd[HE_L][HE_W]; /* (2j+1)*Q, j < HE_L: where sum_i R_i*Q/q_i rounds up */
    double log2Q;
    unsigned logq_bits; /* sum of the primes' bit sizes (wire width of the residues of a coefficient) */
    uint64_t q0_inv_mod_q1, q0_inv_mod_q1_s; /* Garner on the first two primes: q0^-1 mod q1 */
    /* Key switching's special prime P (not a factor of Q; he/galois.c) */
    he_prime sp;
    /* The packing level q0*q1 (he_rescale01, he_modswitch01) */
    uint64_t q2_inv[2], q2_inv_s[2]; /* q2^-1 mod q0, q1 and Shoup */
    he_u128 Q01;                     /* q0*q1 */
    uint64_t crt01[2], crt01_s[2];   /* (q0q1/q_i)^-1 mod q_i and Shoup */
    uint64_t sp_mod[HE_L], sp_mod_s[HE_L]; /* P mod q_i and Shoup */
    uint64_t sp_inv[HE_L], sp_inv_s[HE_L]; /* P^-1 mod q_i and Shoup */
} he_params;

/* The parameter set (computed once, thread-safe, read-only after). */
const he_params *he_params_get(void);

/* A polynomial in RNS form. */
typedef struct he_poly {
    uint64_t c[HE_L][HE_N];
} __attribute__((aligned(64))) he_poly; /* rows 64-byte aligned: the AVX2 tier needs 32 */

/* ---- modular arithmetic on one prime ---- */

static inline uint64_t he_mulhi(uint64_t a, uint64_t b) {
    return (uint64_t)(((he_u128)a * b) >> 64);
}
/* Shoup's constant of w: floor(w * 2^64 / q). */
static inline uint64_t he_shoup(uint64_t w, uint64_t q) {
    return (uint64_t)(((he_u128)w << 64) / q);
}
/* w*y mod q in [0, 2q) for any 64-bit y, given ws = he_shoup(w, q). */
static inline uint64_t he_mul_shoup_lazy(uint64_t w, uint64_t ws, uint64_t y, uint64_t q) {
    return w * y - he_mulhi(ws, y) * q;
}
static inline uint64_t he_mul_shoup(uint64_t w, uint64_t ws, uint64_t y, uint64_t q) {
    uint64_t r = he_mul_shoup_lazy(w, ws, y, q);
    return r >= q ? r - q : r;
}
/* x mod q for any 128-bit x (Barrett with floor(2^128/q)). */
static inline uint64_t he_red128(he_u128 x, const he_prime *p) {
    uint64_t x0 = (uint64_t)x, x1 = (uint64_t)(x >> 64);
    he_u128 t = (he_u128)x0 * p->r0;
    he_u128 t2 = (he_u128)x0 * p->r1 + (uint64_t)(t >> 64);
    he_u128 t3 = (he_u128)x1 * p->r0 + (uint64_t)t2;
    uint64_t qh = x1 * p->r1 + (uint64_t)(t2 >> 64) + (uint64_t)(t3 >> 64);
    uint64_t r = x0 - qh * p->q;
    return r >= p->q ? r - p->q : r;
}
static inline uint64_t he_mulmod(uint64_t a, uint64_t b, const he_prime *p) {
    return he_red128((he_u128)a * b, p);
}
static inline uint64_t he_addmod(uint64_t a, uint64_t b, uint64_t q) {
    uint64_t r = a + b;
    return r >= q ? r - q : r;
}
static inline uint64_t he_submod(uint64_t a, uint64_t b, uint64_t q) {
    return a >= b ? a - b : a + q - b;
}
/* A signed value (|v| < 2^63) reduced into [0, q). */
/* Without a branch on v (a server weight is secret): |v| mod q, negated
 * mod q when v < 0. */
static inline uint64_t he_from_signed(int64_t v, uint64_t q) {
    uint64_t neg = (uint64_t)(v >> 63);                /* all ones if v < 0 */
    uint64_t a = ((uint64_t)v ^ neg) - neg;            /* |v|, 2^63 for INT64_MIN */
    uint64_t r = a % q;
    uint64_t nz = 0 - (uint64_t)((r | (0 - r)) >> 63); /* all ones if r != 0 */
    return (r & ~neg) | ((q - r) & nz & neg);
}

/* One prime's part of a modulus switch to 2^k (he_modswitch,
 * he_modswitch01): with y = c * (M/q)^-1 mod q for the modulus M the
 * residue c belongs to, 2^k y / q = h y + qh + r/q (2^k = h q + p,
 * p y = qh q + r, r < q). Adds h y + qh to *A and r/q, in 64.64 fixed
 * point from below (within 2^-63), to *f; returns r. No branch on y. */
static inline uint64_t he_ms_term(const he_prime *p, uint64_t y, unsigned k, uint64_t *A,
                                  he_u128 *f) {
    uint64_t qh = he_mulhi(p->ms_ps[k], y);
    uint64_t r = p->ms_p[k] * y - qh * p->q;
    uint64_t ge = 0 - (uint64_t)(r >= p->q);
    r -= p->q & ge;
    qh -= ge; /* + 1 when r was reduced */
    *A += p->ms_h[k] * y + qh;
    /* r * floor(2^128/q) / 2^64 = r * r1 + (r * r0) >> 64 */
    *f += (he_u128)r * p->r1 + he_mulhi(r, p->r0);
    return r;
}

/* ---- multi-word integers (HE_W words, little-endian) ---- */
/* acc += a * m (mod 2^(64*HE_W)). */
static inline void he_w_muladd(uint64_t *acc, const uint64_t *a, uint64_t m) {
    uint64_t carry = 0;
    for (int i = 0; i < HE_W; i++) {
        he_u128 t = (he_u128)a[i] * m + acc[i] + carry;
        acc[i] = (uint64_t)t;
        carry = (uint64_t)(t >> 64);
    }
}
/* -1, 0, 1 as a < b, a == b, a > b. */
static inline int he_w_cmp(const uint64_t *a, const uint64_t *b) {
    for (int i = HE_W - 1; i >= 0; i--)
        if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
    return 0;
}
/* a -= b (a >= b). */
static inline void he_w_sub(uint64_t *a, const uint64_t *b) {
    uint64_t borrow = 0;
    for (int i = 0; i < HE_W; i++) {
        uint64_t d = a[i] - b[i] - borrow;
        borrow = a[i] < b[i] || (a[i] == b[i] && borrow);
        a[i] = d;
    }
}
/* a mod q. */
static inline uint64_t he_w_mod(const uint64_t *a, const he_prime *p) {
    uint64_t r = 0;
    for (int i = HE_W - 1; i >= 0; i--)
        r = he_red128(((he_u128)r << 64) | a[i], p);
    return r;
}

/* ---- NTT (negacyclic, length N) ----
 * Forward: coefficient order in, bit-reversed evaluation order out.
 * Inverse: the reverse. Inputs in [0, q), outputs in [0, q). Tiers (the
 * _ref functions are the portable one, callable directly as the tests'
 * oracle; he/ntt_tiers.h has the others). */
void he_ntt_fwd(const he_prime *p, uint64_t *a);
void he_ntt_inv(const he_prime *p, uint64_t *a);
void he_ntt_fwd_ref(const he_prime *p, uint64_t *a);
void he_ntt_inv_ref(const he_prime *p, uint64_t *a);
/* Forward NTT of a polynomial whose coefficients are zero from 2^logm on
 * (0 <= logm <= HE_LOGN): the first HE_LOGN - logm stages only copy, so
 * they are replaced by replication and the cost is logm/HE_LOGN of a full
 * transform. Same output as he_ntt_fwd. */
void he_ntt_fwd_pruned(const he_prime *p, uint64_t *a, unsigned logm);
void he_ntt_fwd_pruned_ref(const he_prime *p, uint64_t *a, unsigned logm);
/* The NTT-domain permutation of the automorphism X -> X^k (k odd): for
 * f(X) = g(X^k), NTT(f)[j] = NTT(g)[perm[j]]. */
void he_auto_perm(uint32_t *perm, unsigned k);
/* All rows of a polynomial. */
void he_poly_ntt(he_poly *a);
void he_poly_intt(he_poly *a);

/* acc[i][j] += x[i][j] * y[i][j] over all rows, 128-bit lazy accumulators
 * (rows of HE_N he_u128). At most 2^17 products per accumulator between
 * reductions (each is below 2^96 with 48-bit primes; the bound holds up to
 * 55-bit primes). */
void he_mac(he_u128 *acc, const he_poly *x, const he_poly *y);
void he_mac_ref(he_u128 *acc, const he_poly *x, const he_poly *y);
/* One row (one prime): acc[j] += sum_k w[k][j] * x[k][j] for j < HE_N,
 * k < count. The whole sum for a coefficient is formed in registers before
 * it touches acc, so a product of many ciphertexts streams its operands once
 * and the accumulators once (acc may be unaligned; w[k], x[k] 32-byte
 * aligned). Operands are residues of the ciphertext primes (below 2^48,
 * which the FMA tier needs; the IFMA tier below 2^52, the others 2^55), at most 2^17
 * products per accumulator between reductions. */
void he_mac_rows(he_u128 *acc, const uint64_t *const *w, const uint64_t *const *x, size_t count);
/* G sums over the same x rows at once: acc[g][j] += sum_k w[g*count + k][j] *
 * x[k][j]; each x row is read from memory once for all G (it stays in L1
 * while the G sums of a few coefficients are formed). */
void he_mac_rows_multi(he_u128 *const *acc, const uint64_t *const *w, const uint64_t *const *x,
                       size_t G, size_t count);
void he_mac_rows_multi_ref(he_u128 *const *acc, const uint64_t *const *w, const uint64_t *const *x,
                           size_t G, size_t count);
/* The same w rows against two sets of x rows (a ciphertext's b and a
 * parts): he_mac_rows_multi(acc0, w, x0, G, count) and (acc1, w, x1, G,
 * count), with each w row read once for both where the tier fuses them. */
void he_mac_rows_multi2(he_u128 *const *acc0, he_u128 *const *acc1, const uint64_t *const *w,
                        const uint64_t *const *x0, const uint64_t *const *x1, size_t G,
                        size_t count);
/* out = acc mod q_i, row by row. */
void he_reduce(he_poly *out, const he_u128 *acc);

/* ---- sampling ---- */
/* Uniform ternary coefficients {-1, 0, 1}. */
void he_sample_ternary(prg *g, int8_t *s, size_t n);
/* Centred binomial with eta = HE_CBD_ETA. */
void he_sample_cbd(prg *g, int8_t *e, size_t n);
/* A uniform polynomial in the NTT domain from a public seed (the `a` of a
 * seeded ciphertext or of the public key). */
void he_expand_a(he_poly *out, const uint8_t seed[HE_SEED_BYTES]);
/* One row of such a polynomial: N residues uniform mod p->q from g. */
void he_expand_row(prg *g, const he_prime *p, uint64_t *row);
/* seed for the a of ciphertext (layer, index) of a session. */
void he_derive_seed(uint8_t out[HE_SEED_BYTES], const uint8_t session[HE_SEED_BYTES],
                    uint64_t layer, uint64_t index);
/* Signed coefficients into RNS form. */
void he_poly_from_small(he_poly *out, const int8_t *v);
/* x = the integer in [0, Q) whose residues are coefficient j of a (CRT). */
void he_crt_coeff(uint64_t x[HE_W], const he_poly *a, size_t j);

/* ---- keys ---- */
typedef struct he_sk {
    int8_t s[HE_N]; /* ternary secret, coefficient form */
    he_poly s_ntt;  /* the same in the NTT domain */
} he_sk;
typedef struct he_pk {
    uint8_t seed[HE_SEED_BYTES]; /* a_pk = he_expand_a(seed) */
    he_poly b;                   /* b_pk = -a_pk*s + e, NTT domain */
    he_poly a;                   /* expanded a_pk (not serialised) */
} he_pk;

void he_sk_gen(prg *g, he_sk *sk);
void he_sk_clear(he_sk *sk);
void he_pk_gen(prg *g, he_pk *pk, const he_sk *sk);

/* ---- encoding: round(Q*m/t) with t = 2^l ----
 * Adds round(Q*m[j]/t) to coefficient pos[j] of b (coefficient domain) for
 * j < n (pos == NULL: positions 0..n-1). m[j] is taken mod 2^l. With g,
 * the rounding is randomised (up with probability equal to the fraction),
 * so the rounding error is zero-mean and independent across coefficients;
 * with g == NULL it rounds to nearest. 1 <= l <= HE_L_MAX. */
typedef struct he_encoder {
    unsigned l;
    uint64_t ql;                   /* Q mod 2^l */
    uint64_t qh[HE_L], qh_s[HE_L]; /* floor(Q/2^l) mod q_i and Shoup */
} he_encoder;
void he_encoder_init(he_encoder *e, unsigned l);
void he_encode_add(const he_encoder *e, prg *g, he_poly *b, const uint32_t *pos, const uint64_t *m,
                   size_t n);

/* ---- symmetric seeded encryption (client) ----
 * b = -a*s + e + round(Q*m/t) with a = he_expand_a(seed), m[0..N-1] (NULL:
 * zero), rounding randomised. b in coefficient domain. */
void he_encrypt_sk(prg *g, he_poly *b, const he_sk *sk, const uint8_t seed[HE_SEED_BYTES],
                   const he_encoder *enc, const uint64_t *m);

/* ---- public-key encryption of zero (server re-randomisation) ----
 * With ct = (b, a) as 128-bit NTT-domain accumulators (HE_L rows each):
 * adds u*pk.b and u*pk.a (u ternary, fresh), i.e. the NTT part of
 * Enc_pk(0) = (u*b_pk + e1, u*a_pk + e2). The coefficient-domain part
 * (e1 on b, e2 on a) is he_add_noise after reduction and inverse NTT. */
void he_enc_zero_pk_ntt(prg *g, he_u128 *acc_b, he_u128 *acc_a, const he_pk *pk);
/* b += e (CBD) at positions pos[0..n-1] (pos == NULL: all N). */
void he_add_cbd(prg *g, he_poly *b, const uint32_t *pos, size_t n);

/* ---- noise flooding ----
 * b += f at each position, f = u1 + u2 + u3 - (3*2^beta - 4)/2 with the u_i
 * independent and uniform on [0, 2^beta): a piecewise-quadratic bell on
 * [-(3*2^beta - 4)/2, (3*2^beta - 2)/2], |f| < 1.5*2^beta, 1 <= beta <= 120.
 * Its shifts are close in Hellinger distance (docs/SECURITY-HE.md): for an
 * integer v, H^2(f + v, f) < 1.5 v^2 / 4^beta. */
#define HE_FLOOD_BETA_MAX 120
void he_flood(prg *g, he_poly *b, const uint32_t *pos, size_t n, unsigned beta);

/* ---- modulus switching to a power of two ----
 * out[j] = round(2^k * c / Q) mod 2^k for the coefficient pos[j] of a
 * (coefficient domain), 1 <= k <= 64 (pos == NULL: all N). Exact. */
void he_modswitch(uint64_t *out, const he_poly *a, const uint32_t *pos, size_t n, unsigned k);

/* ---- decryption ----
 * Full decryption of (b, a), both in coefficient domain: m[j] = round(t*(b +
 * a*s)/Q) mod t, t = 2^l (tests). */
int he_decrypt(uint64_t *m, const he_sk *sk, const he_poly *b, const he_poly *a, unsigned l) WUR;
/* The returned form: a' (N coefficients mod 2^ka) and the kept b'
 * coefficients (mod 2^kb) at pos[0..n-1]:
 *   m[j] = round((b'[j]*2^(ka-kb) + (a'*s)[pos[j]]) / 2^(ka-l)) mod 2^l.
 * Requires l <= kb <= ka <= 64. phase (optional) receives the exact
 * (b'*2^(ka-kb) + a'*s) mod 2^ka, for noise measurements. */
int he_out_decrypt(uint64_t *m, uint64_t *phase, const he_sk *sk, const uint64_t *a_ms,
                   const uint64_t *b_ms, const uint32_t *pos, size_t n, unsigned ka, unsigned kb,
                   unsigned l) WUR;

/* ---- noise budget ----
 * For a layer whose every output coefficient is sum_j w_j * ct_j over at most
 * `taps` plaintext coefficients with |w_j| <= 2^(wbits-1), returned at
 * t = 2^l, in a session that returns at most `outs` coefficients in all
 * (every coefficient of every layer of the inference): the flooding width
 * beta and the return widths ka, kb. beta makes the squared Hellinger
 * distance between a returned coefficient and one whose noise does not
 * depend on the weights at most 2^-(2 HE_STAT_BITS + 1) / outs; these add
 * up over the whole session, whose statistical distance is then at most
 * sqrt(2 * 2^-(2 HE_STAT_BITS + 1)) = 2^-HE_STAT_BITS (he_stat_bits_of).
 * Fails with PARLEY_E_UNSUPPORTED if
 * decryption could fail (the message names the bits missing). Pure
 * function of public values: both parties get the same answer. Derivation
 * in docs/SECURITY-HE.md. The input ciphertexts travel with `drop` low bits
 * of b dropped (he_in_pack), which adds to their noise. */
#define HE_STAT_BITS 40 /* statistical security of a whole inference, bits */
#define HE_COMP_BITS 128 /* computational security of the ring (HE Standard, N = 8192, log2 Q <= 218) */
typedef struct he_budget {
    unsigned ka, kb, beta;
    double log2_wnoise; /* root-mean-square bound on the weight-dependent noise, log2 */
    double log2_det;    /* worst-case bound on the noise before flooding, log2 */
    double log2_h2;     /* squared Hellinger distance of one returned coefficient, log2 (<= -81 - log2 outs) */
    double margin_bits; /* log2 of (allowed / worst-case) phase error at decryption */
} he_budget;
int he_budget_for(he_budget *b, unsigned l, unsigned wbits, uint64_t taps, uint64_t outs,
                  unsigned drop) WUR;
/* The same for outputs returned packed 2^pack_log to a ciphertext
 * (he_pack; 0: not packed): the key switches' noise joins the worst case. */
int he_budget_for_pack(he_budget *b, unsigned l, unsigned wbits, uint64_t taps, uint64_t outs,
                       unsigned drop, unsigned pack_log) WUR;
/* The statistical security, bits, of a view whose returned coefficients'
 * squared Hellinger bounds add up to h2: -log2 sqrt(2 h2) (INFINITY for 0). */
double he_stat_bits_of(double h2);
/* The worst-case phase error at decryption, in units of 2^-ka (for tests). */
double he_budget_phase_bound(const he_budget *b);

/* ---- Galois keys, automorphisms and packing (he/galois.c) ----
 * Packing works at the smaller modulus q0*q1 (he_rescale01 drops q2
 * after the server has flooded and masked; he_modswitch01 then switches to
 * the powers of two that travel). The automorphism tau_g: X -> X^g (g odd,
 * 1 < g < 2N) maps a ciphertext of m under s to one of tau_g(m) under
 * tau_g(s); a Galois key for g switches it back to s. Key switching is
 * hybrid with one digit per prime (q0, q1) and the special prime P
 * (he_params.sp, 54 bits): for digit i the key holds, modulo q0*q1*P and in
 * the NTT domain,
 *     (b_i, a_i),  b_i = -a_i*s + e_i + P*[Q'/q_i * (Q'/q_i)^-1 mod q_i]*tau_g(s)
 * (Q' = q0*q1), whose gadget term is P*tau_g(s) in row i and zero in the
 * others; the switch of a sums [a]_{q_i} (centred) times the keys and
 * divides by P with rounding, adding at most HE_KS_BOUND per coefficient
 * (docs/SECURITY-HE.md, "Output packing").
 *
 * Packing (he_pack): 2^k ciphertexts at level q0*q1 whose coefficients at
 * positions = 0 mod 2^k hold values (anything elsewhere) become one whose
 * coefficient p + i holds ciphertext i's coefficient p, with 2^k - 1
 * automorphisms and key switches and the keys of he_pack_galois(m), m < k
 * (docs/PROTOCOLS.md §7, "Output packing"). */
#define HE_KS_DIGITS 2                  /* q0, q1 */
#define HE_KS_ROWS (HE_KS_DIGITS + 1)   /* q0, q1, then P */
#define HE_PACK_MAX_LOG 6               /* at most 2^6 ciphertexts in one pack */
/* Worst-case noise one key switch adds to a coefficient (units of the
 * level q0*q1): 2 N (q/2) eta / P (digits times key noise) + (N + 1)/2
 * (the division's rounding) < 6790, rounded up (2^12.8). */
#define HE_KS_BOUND 7000.0
/* Worst-case error of he_rescale01 (units of q0*q1): (1 + ||s||_1)/2 + 1. */
#define HE_RESCALE_BOUND ((HE_N + 3) / 2.0)
typedef struct he_polyx {
    uint64_t c[HE_KS_ROWS][HE_N];
} __attribute__((aligned(64))) he_polyx;
typedef struct he_gkey {
    uint32_t g;                  /* the automorphism X -> X^g */
    uint8_t seed[HE_SEED_BYTES]; /* the a_i are expanded from it */
    he_polyx b[HE_KS_DIGITS];    /* NTT domain */
    he_polyx a[HE_KS_DIGITS];    /* expanded (not serialised) */
    he_polyx bs[HE_KS_DIGITS], as[HE_KS_DIGITS]; /* their Shoup constants (not serialised) */
} he_gkey;
/* The Galois element of packing level m: N/2^m + 1. */
uint32_t he_pack_galois(unsigned m);
/* The client makes the key for g from its secret (fresh seed and noise). */
void he_gkey_gen(prg *g, he_gkey *k, const he_sk *sk, uint32_t galois);
/* "PGK2", g (4 bytes), the seed, then the b_i row by row (each prime's
 * residues at its bit width). */
size_t he_gkey_bytes(void);
void he_gkey_pack(uint8_t *out, const he_gkey *k);
/* Exact length, magic, g odd with 1 < g < 2N, every residue below its
 * modulus; else PARLEY_E_PROTO naming the offender. Expands the a_i. */
int he_gkey_unpack(he_gkey *k, const uint8_t *in, size_t len) WUR;
/* Level q0*q1: rows 0 and 1 of an he_poly (row 2 is left as it is). */
/* Drop q2 from (b, a), coefficient domain: c <- (c - centred(c mod q2)) / q2
 * in rows 0 and 1. A ciphertext of m at Q becomes one of m at q0*q1 with
 * at most HE_RESCALE_BOUND more noise. */
void he_rescale01(he_poly *b, he_poly *a);
/* As he_modswitch, from the level q0*q1 (rows 0 and 1). Exact. */
void he_modswitch01(uint64_t *out, const he_poly *a, const uint32_t *pos, size_t n, unsigned k);
/* tau_g of one polynomial at level q0*q1, coefficient domain (out != in). */
void he_auto_coeff(he_poly *out, const he_poly *in, uint32_t g);
/* tau_g of a level-q0*q1 ciphertext, switched back to s. */
void he_ct_auto(he_poly *b, he_poly *a, const he_gkey *k);
/* Scratch for he_pack (he_pack_work_new; NULL to he_pack: its own). */
typedef struct he_pack_work he_pack_work;
he_pack_work *he_pack_work_new(void);
void he_pack_work_free(he_pack_work *w);
/* Pack n <= 2^k level-q0*q1 ciphertexts (bs[i], as[i]), coefficient
 * domain, into (bs[0], as[0]) (the others are overwritten; missing ones
 * count as zero). keys[m] must be the key of he_pack_galois(m) for m < k;
 * k <= HE_PACK_MAX_LOG. Added noise at most (2^k - 1) * HE_KS_BOUND. */
void he_pack(he_poly *bs, he_poly *as, size_t n, unsigned k, const he_gkey *keys,
             he_pack_work *w);
/* The key switches he_pack makes for n ciphertexts with k = ceil(log2 n)
 * (n = 2^k: 2^k - 1; n = 1: none). */
uint64_t he_pack_switches(size_t n);

/* ---- wire formats (little-endian, bit-packed) ----
 * An RNS polynomial: N residues of q0 (p[0].bits bits each), then N of q1. */
size_t he_poly_bytes(void);
void he_poly_pack(uint8_t *out, const he_poly *a);
/* Checks that every residue is below its modulus; PARLEY_E_PROTO naming
 * the first offender otherwise. len must be he_poly_bytes(). */
int he_poly_unpack(he_poly *a, const uint8_t *in, size_t len) WUR;

/* An input ciphertext's b (coefficient domain), as the client sends it.
 * drop = 0: RNS residues (he_poly_pack). 1 <= drop <= HE_DROP_MAX: each
 * coefficient as the integer b mod Q rounded to a multiple of 2^drop
 * (randomly: up with probability equal to the fraction, from g) and divided
 * by 2^drop, he_in_bits(drop) bits each. The server multiplies back by
 * 2^drop: b gains delta with |delta| < 2^drop, zero mean given b,
 * independent across coefficients, variance at most 4^(drop-1), which
 * he_budget_for counts as input noise. So the low bits of b, below the
 * noise the budget allows, never travel. */
#define HE_DROP_MAX 63
unsigned he_in_bits(unsigned drop);
size_t he_in_bytes(unsigned drop);
void he_in_pack(uint8_t *out, const he_poly *b, unsigned drop, prg *g);
/* Exact length and every value in range, else PARLEY_E_PROTO naming the
 * offender; b comes back in RNS form. */
int he_in_unpack(he_poly *b, const uint8_t *in, size_t len, unsigned drop) WUR;

/* Public key message: "PHK1", seed of a_pk, b_pk (NTT domain). */
size_t he_pk_bytes(void);
void he_pk_pack(uint8_t *out, const he_pk *pk);
int he_pk_unpack(he_pk *pk, const uint8_t *in, size_t len) WUR; /* also expands pk->a */

/* A returned ciphertext: N values of ka bits, then n values of kb bits. */
size_t he_out_bytes(size_t n, unsigned ka, unsigned kb);
void he_out_pack(uint8_t *out, const uint64_t *a_ms, const uint64_t *b_ms, size_t n, unsigned ka,
                 unsigned kb);
int he_out_unpack(uint64_t *a_ms, uint64_t *b_ms, size_t n, unsigned ka, unsigned kb,
                  const uint8_t *in, size_t len) WUR;

#endif
