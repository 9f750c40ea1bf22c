/* BFV operations: sampling, keys, encoding with t = 2^l, seeded symmetric
 * encryption, public-key encryption of zero, flooding, modulus switching
 * and decryption; see he.h for the contracts and docs/SECURITY-HE.md for
 * the noise bounds they feed. */
#include "he/he.h"

#include "util/bits.h"
#include "util/mem.h"

#include <sodium.h>
#include <string.h>

#define RAND_CHUNK 512 /* 64-bit words drawn from a prg at a time */

/* ---- sampling ---- */

void he_sample_ternary(prg *g, int8_t *s, size_t n) {
    uint8_t buf[RAND_CHUNK];
    size_t have = 0, used = 0;
    for (size_t i = 0; i < n;) {
        if (used == have) {
            prg_bytes(g, buf, sizeof buf);
            have = sizeof buf;
            used = 0;
        }
        uint8_t v = buf[used++];
        if (v >= 255) continue; /* 255 = 3 * 85: reject to stay uniform */
        s[i++] = (int8_t)(v % 3) - 1;
    }
    mem_wipe(buf, sizeof buf);
}

/* Bits set in x (SWAR: the portable build cannot assume POPCNT). */
static inline int popcount64(uint64_t x) {
    x = x - ((x >> 1) & 0x5555555555555555ULL);
    x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
    return (int)((x * 0x0101010101010101ULL) >> 56);
}

void he_sample_cbd(prg *g, int8_t *e, size_t n) {
    uint64_t buf[RAND_CHUNK];
    const uint64_t m = (1ULL << HE_CBD_ETA) - 1;
    for (size_t i = 0; i < n; i += RAND_CHUNK) {
        size_t k = n - i < RAND_CHUNK ? n - i : RAND_CHUNK;
        prg_bytes(g, buf, k * sizeof *buf);
        for (size_t j = 0; j < k; j++) {
            uint64_t x = buf[j];
            e[i + j] = (int8_t)(popcount64(x & m) - popcount64((x >> HE_CBD_ETA) & m));
        }
    }
    mem_wipe(buf, sizeof buf);
}

/* Uniform mod q from 64-bit draws: accept v below the largest multiple of q
 * (rejects fewer than 2^-9 of the draws), then reduce. Each row starts a
 * fresh draw, so rows never share a word. */
void he_expand_row(prg *g, const he_prime *p, uint64_t *row) {
    uint64_t buf[RAND_CHUNK];
    size_t have = 0, used = 0;
    const uint64_t lim = (UINT64_MAX / p->q) * p->q;
    for (size_t j = 0; j < HE_N;) {
        if (used == have) {
            size_t want = HE_N - j + 8 < RAND_CHUNK ? HE_N - j + 8 : RAND_CHUNK;
            prg_bytes(g, buf, want * sizeof *buf);
            have = want;
            used = 0;
        }
        uint64_t v = buf[used++];
        if (v < lim) row[j++] = he_red128(v, p);
    }
}

void he_expand_a(he_poly *out, const uint8_t seed[HE_SEED_BYTES]) {
    const he_params *P = he_params_get();
    block s;
    memcpy(s.b, seed, HE_SEED_BYTES);
    prg g;
    prg_seed(&g, s);
    for (int i = 0; i < HE_L; i++)
        he_expand_row(&g, &P->p[i], out->c[i]);
    prg_clear(&g);
}

void he_derive_seed(uint8_t out[HE_SEED_BYTES], const uint8_t session[HE_SEED_BYTES],
                    uint64_t layer, uint64_t index) {
    uint8_t msg[24] = "parley-a";
    for (int k = 0; k < 8; k++) {
        msg[8 + k] = (uint8_t)(layer >> (8 * k));
        msg[16 + k] = (uint8_t)(index >> (8 * k));
    }
    crypto_init();
    crypto_generichash(out, HE_SEED_BYTES, msg, sizeof msg, session, HE_SEED_BYTES);
}

void he_poly_from_small(he_poly *out, const int8_t *v) {
    const he_params *P = he_params_get();
    for (int i = 0; i < HE_L; i++) {
        const uint64_t q = P->p[i].q;
        for (size_t j = 0; j < HE_N; j++) {
            int64_t x = v[j];
            out->c[i][j] = x < 0 ? q - (uint64_t)(-x) : (uint64_t)x;
        }
    }
}

void he_crt_coeff(uint64_t x[HE_W], const he_poly *a, size_t j) {
    const he_params *P = he_params_get();
    memset(x, 0, HE_W * sizeof *x);
    for (int i = 0; i < HE_L; i++) {
        const he_prime *p = &P->p[i];
        he_w_muladd(x, P->Qhat[i], he_mul_shoup(p->crt, p->crt_s, a->c[i][j], p->q));
    }
    /* The sum is below HE_L * Q: HE_L - 1 subtractions of Q, each kept
     * only if it does not borrow, without a branch (x is a secret-derived
     * value of the client's ciphertext before its low bits are dropped). */
    for (int k = 0; k + 1 < HE_L; k++) {
        uint64_t t[HE_W], borrow = 0;
        for (int i = 0; i < HE_W; i++) {
            uint64_t d = x[i] - P->Q[i];
            uint64_t b1 = x[i] < P->Q[i];
            t[i] = d - borrow;
            borrow = b1 | (d < borrow);
        }
        uint64_t keep = borrow - 1; /* all ones when x >= Q */
        for (int i = 0; i < HE_W; i++)
            x[i] = (t[i] & keep) | (x[i] & ~keep);
    }
}

/* ---- keys ---- */

void he_sk_gen(prg *g, he_sk *sk) {
    he_sample_ternary(g, sk->s, HE_N);
    he_poly_from_small(&sk->s_ntt, sk->s);
    he_poly_ntt(&sk->s_ntt);
}

void he_sk_clear(he_sk *sk) {
    mem_wipe(sk, sizeof *sk);
}

void he_pk_gen(prg *g, he_pk *pk, const he_sk *sk) {
    const he_params *P = he_params_get();
    prg_bytes(g, pk->seed, HE_SEED_BYTES);
    he_expand_a(&pk->a, pk->seed);
    int8_t e[HE_N];
    he_sample_cbd(g, e, HE_N);
    he_poly_from_small(&pk->b, e);
    mem_wipe(e, sizeof e);
    he_poly_ntt(&pk->b);
    for (int i = 0; i < HE_L; i++) {
        const he_prime *p = &P->p[i];
        for (size_t j = 0; j < HE_N; j++) {
            uint64_t as = he_mulmod(pk->a.c[i][j], sk->s_ntt.c[i][j], p);
            pk->b.c[i][j] = he_submod(pk->b.c[i][j], as, p->q);
        }
    }
}

/* ---- encoding ---- */

void he_encoder_init(he_encoder *e, unsigned l) {
    PARLEY_CHECK(l >= 1 && l <= HE_L_MAX);
    const he_params *P = he_params_get();
    e->l = l;
    e->ql = P->Q[0] & bits_mask(l); /* l <= 52 < 64 */
    uint64_t qh[HE_W];              /* floor(Q / 2^l) */
    for (int i = 0; i < HE_W; i++)
        qh[i] = (P->Q[i] >> l) | (i + 1 < HE_W ? P->Q[i + 1] << (64 - l) : 0);
    for (int i = 0; i < HE_L; i++) {
        e->qh[i] = he_w_mod(qh, &P->p[i]);
        e->qh_s[i] = he_shoup(e->qh[i], P->p[i].q);
    }
}

/* Q*m/2^l = qh*m + ql*m/2^l with qh = floor(Q/2^l), ql = Q mod 2^l: the
 * first term is an integer, the second below 2^l, so only ql*m (< 2^104)
 * is rounded, up with probability frac or at one half. */
void he_encode_add(const he_encoder *e, prg *g, he_poly *b, const uint32_t *pos, const uint64_t *m,
                   size_t n) {
    const he_params *P = he_params_get();
    const unsigned l = e->l;
    const uint64_t mask = bits_mask(l), half = 1ULL << (l - 1);
    uint64_t rnd[RAND_CHUNK];
    for (size_t j0 = 0; j0 < n; j0 += RAND_CHUNK) {
        size_t k = n - j0 < RAND_CHUNK ? n - j0 : RAND_CHUNK;
        if (g) prg_bytes(g, rnd, k * sizeof *rnd);
        for (size_t j = 0; j < k; j++) {
            uint64_t mj = m[j0 + j] & mask;
            he_u128 prod = (he_u128)e->ql * mj;
            uint64_t fl = (uint64_t)(prod >> l), frac = (uint64_t)prod & mask;
            uint64_t up = g ? (uint64_t)((rnd[j] & mask) < frac) : (uint64_t)(frac >= half);
            uint64_t small = fl + up; /* <= 2^l, below q unless l > 47 */
            size_t at = pos ? pos[j0 + j] : j0 + j;
            for (int i = 0; i < HE_L; i++) {
                const uint64_t q = P->p[i].q;
                uint64_t v = he_mul_shoup(e->qh[i], e->qh_s[i], mj, q);
                /* small < 2^53: reduced without a divide or a branch */
                v = he_addmod(v, he_red128(small, &P->p[i]), q);
                b->c[i][at] = he_addmod(b->c[i][at], v, q);
            }
        }
    }
    mem_wipe(rnd, sizeof rnd);
}

/* ---- encryption ---- */

void he_encrypt_sk(prg *g, he_poly *b, const he_sk *sk, const uint8_t seed[HE_SEED_BYTES],
                   const he_encoder *enc, const uint64_t *m) {
    const he_params *P = he_params_get();
    he_expand_a(b, seed);
    for (int i = 0; i < HE_L; i++) {
        const he_prime *p = &P->p[i];
        for (size_t j = 0; j < HE_N; j++)
            b->c[i][j] = he_mulmod(b->c[i][j], sk->s_ntt.c[i][j], p);
    }
    he_poly_intt(b); /* b = a*s */
    int8_t e[HE_N];
    he_sample_cbd(g, e, HE_N);
    for (int i = 0; i < HE_L; i++) {
        const uint64_t q = P->p[i].q;
        for (size_t j = 0; j < HE_N; j++) {
            uint64_t ej = e[j] < 0 ? q - (uint64_t)(-e[j]) : (uint64_t)e[j];
            b->c[i][j] = he_submod(ej, b->c[i][j], q); /* e - a*s */
        }
    }
    mem_wipe(e, sizeof e);
    if (m) he_encode_add(enc, g, b, NULL, m, HE_N);
}

void he_enc_zero_pk_ntt(prg *g, he_u128 *acc_b, he_u128 *acc_a, const he_pk *pk) {
    const he_params *P = he_params_get();
    int8_t u[HE_N];
    he_sample_ternary(g, u, HE_N);
    for (int i = 0; i < HE_L; i++) {
        const he_prime *p = &P->p[i];
        uint64_t row[HE_N] __attribute__((aligned(64)));
        for (size_t j = 0; j < HE_N; j++)
            row[j] = u[j] < 0 ? p->q - 1 : (uint64_t)u[j];
        he_ntt_fwd(p, row);
        he_u128 *rb = acc_b + (size_t)i * HE_N, *ra = acc_a + (size_t)i * HE_N;
        for (size_t j = 0; j < HE_N; j++) {
            rb[j] += (he_u128)row[j] * pk->b.c[i][j];
            ra[j] += (he_u128)row[j] * pk->a.c[i][j];
        }
        mem_wipe(row, sizeof row);
    }
    mem_wipe(u, sizeof u);
}

void he_add_cbd(prg *g, he_poly *b, const uint32_t *pos, size_t n) {
    const he_params *P = he_params_get();
    int8_t e[RAND_CHUNK];
    for (size_t j0 = 0; j0 < n; j0 += RAND_CHUNK) {
        size_t k = n - j0 < RAND_CHUNK ? n - j0 : RAND_CHUNK;
        he_sample_cbd(g, e, k);
        for (size_t j = 0; j < k; j++) {
            size_t at = pos ? pos[j0 + j] : j0 + j;
            for (int i = 0; i < HE_L; i++) {
                const uint64_t q = P->p[i].q;
                uint64_t v = e[j] < 0 ? q - (uint64_t)(-e[j]) : (uint64_t)e[j];
                b->c[i][at] = he_addmod(b->c[i][at], v, q);
            }
        }
    }
    mem_wipe(e, sizeof e);
}

void he_flood(prg *g, he_poly *b, const uint32_t *pos, size_t n, unsigned beta) {
    PARLEY_CHECK(beta >= 1 && beta <= HE_FLOOD_BETA_MAX);
    const he_params *P = he_params_get();
    uint64_t rnd[6 * (RAND_CHUNK / 2)];
    const he_u128 mask = ((he_u128)1 << beta) - 1;
    /* the centre: 3 * 2^beta is even, so this is an integer */
    const he_u128 centre = (3 * ((he_u128)1 << beta) - 4) / 2;
    for (size_t j0 = 0; j0 < n; j0 += RAND_CHUNK / 2) {
        size_t k = n - j0 < RAND_CHUNK / 2 ? n - j0 : RAND_CHUNK / 2;
        prg_bytes(g, rnd, 6 * k * sizeof *rnd);
        for (size_t j = 0; j < k; j++) {
            const uint64_t *q = rnd + 6 * j;
            he_u128 r = ((((he_u128)q[1] << 64) | q[0]) & mask) +
                        ((((he_u128)q[3] << 64) | q[2]) & mask) +
                        ((((he_u128)q[5] << 64) | q[4]) & mask);
            /* f = r - centre, as a sign and a magnitude */
            int neg = r < centre;
            he_u128 mag = neg ? centre - r : r - centre;
            size_t at = pos ? pos[j0 + j] : j0 + j;
            for (int i = 0; i < HE_L; i++) {
                const he_prime *p = &P->p[i];
                uint64_t v = he_red128(mag, p);
                v = neg ? he_submod(0, v, p->q) : v;
                b->c[i][at] = he_addmod(b->c[i][at], v, p->q);
            }
        }
    }
    mem_wipe(rnd, sizeof rnd);
}

/* ---- modulus switching ----
 * c/Q = sum_i y_i/q_i mod 1 with y_i = c_i*(Q/q_i)^-1 mod q_i (CRT), so
 * 2^k*c/Q = sum_i (A_i + R_i/q_i) mod 2^k with 2^k*y_i = A_i*q_i + R_i, and
 * the result is sum_i A_i + round(sum_i R_i/q_i). The fractions are added in
 * 64-bit fixed point first (each R_i/q_i from below, within 2^-63, through
 * the Barrett constant floor(2^128/q_i)); only when that sum is within
 * 2*HE_L units of one half does the exact comparison of
 * sum_i R_i*(Q/q_i) with (2j+1)*Q/2 decide (Q is odd: no ties). */
static uint64_t frac_round_exact(const he_params *P, const uint64_t *R) {
    uint64_t x2[HE_W] = {0};
    for (int i = 0; i < HE_L; i++)
        he_w_muladd(x2, P->Qhat[i], 2 * R[i]); /* 2*R_i < 2^64 */
    uint64_t up = 0;
    for (int j = 0; j < HE_L; j++)
        up += he_w_cmp(x2, P->Qodd[j]) > 0;
    return up;
}

void he_modswitch(uint64_t *out, const he_poly *a, const uint32_t *pos, size_t n, unsigned k) {
    PARLEY_CHECK(k >= 1 && k <= 64);
    const he_params *P = he_params_get();
    const uint64_t mask = bits_mask(k);
    for (size_t j = 0; j < n; j++) {
        size_t at = pos ? pos[j] : j;
        uint64_t A = 0, R[HE_L];
        he_u128 f = 0; /* sum of R_i/q_i, 64.64 fixed point, from below */
        for (int i = 0; i < HE_L; i++) {
            const he_prime *p = &P->p[i];
            uint64_t y = he_mul_shoup(p->crt, p->crt_s, a->c[i][at], p->q);
            R[i] = he_ms_term(p, y, k, &A, &f);
        }
        /* the true sum lies in [f, f + 2*HE_L) units of 2^-64 */
        uint64_t fi = (uint64_t)(f >> 64), ff = (uint64_t)f, rnd;
        const uint64_t half = 1ULL << 63;
        if (ff >= half)
            rnd = fi + 1;
        else if (ff < half - 2 * HE_L)
            rnd = fi;
        else
            rnd = frac_round_exact(P, R);
        out[j] = (A + rnd) & mask;
    }
}

/* ---- decryption ---- */

int he_decrypt(uint64_t *m, const he_sk *sk, const he_poly *b, const he_poly *a, unsigned l) {
    const he_params *P = he_params_get();
    he_poly *t = mem_alloc(1, sizeof *t);
    if (!t) return PARLEY_E_NOMEM;
    memcpy(t, a, sizeof *t);
    he_poly_ntt(t);
    for (int i = 0; i < HE_L; i++) {
        const he_prime *p = &P->p[i];
        for (size_t j = 0; j < HE_N; j++)
            t->c[i][j] = he_mulmod(t->c[i][j], sk->s_ntt.c[i][j], p);
    }
    he_poly_intt(t);
    for (int i = 0; i < HE_L; i++)
        for (size_t j = 0; j < HE_N; j++)
            t->c[i][j] = he_addmod(t->c[i][j], b->c[i][j], P->p[i].q);
    he_modswitch(m, t, NULL, HE_N, l);
    mem_free_wipe(t, sizeof *t);
    return 0;
}

/* (a'*s)[pos] mod 2^64 for a' given mod 2^ka: directly when few positions
 * are asked for (N additions each), else through the NTT over the first two
 * primes and a centred CRT lift (|a'*s| < N*2^ka <= 2^77 < q0*q1/2). */
static int out_as(uint64_t *v, const he_sk *sk, const uint64_t *a_ms, const uint32_t *pos,
                  size_t n) {
    if (n <= 16) {
        for (size_t j = 0; j < n; j++) {
            size_t k = pos[j];
            uint64_t acc = 0;
            for (size_t i = 0; i <= k; i++)
                acc += a_ms[i] * (uint64_t)(int64_t)sk->s[k - i];
            for (size_t i = k + 1; i < HE_N; i++) /* X^N = -1 */
                acc -= a_ms[i] * (uint64_t)(int64_t)sk->s[HE_N + k - i];
            v[j] = acc;
        }
        return 0;
    }
    const he_params *P = he_params_get();
    he_poly *t = mem_alloc(1, sizeof *t);
    if (!t) return PARLEY_E_NOMEM;
    for (int i = 0; i < 2; i++) {
        const he_prime *p = &P->p[i];
        for (size_t j = 0; j < HE_N; j++)
            t->c[i][j] = he_red128(a_ms[j], p);
        he_ntt_fwd(p, t->c[i]);
        for (size_t j = 0; j < HE_N; j++)
            t->c[i][j] = he_mulmod(t->c[i][j], sk->s_ntt.c[i][j], p);
        he_ntt_inv(p, t->c[i]);
    }
    const uint64_t q0 = P->p[0].q, q1 = P->p[1].q;
    const he_u128 Q01 = (he_u128)q0 * q1;
    /* CRT to the centred value, without a branch on it (it is the
     * client's secret phase) */
    for (size_t j = 0; j < n; j++) {
        uint64_t c0 = t->c[0][pos[j]], c1 = t->c[1][pos[j]];
        uint64_t c0r = c0 % q1;
        uint64_t d = c1 - c0r, under = 0 - (uint64_t)(c1 < c0r); /* a borrow: add q1 */
        d += q1 & under;
        uint64_t h = he_mul_shoup(P->q0_inv_mod_q1, P->q0_inv_mod_q1_s, d, q1);
        he_u128 x = (he_u128)c0 + (he_u128)q0 * h; /* in [0, q0*q1) */
        uint64_t hi = 0 - (uint64_t)(x > Q01 / 2);
        v[j] = (uint64_t)x - ((uint64_t)Q01 & hi);
    }
    mem_free_wipe(t, sizeof *t);
    return 0;
}

int he_out_decrypt(uint64_t *m, uint64_t *phase, const he_sk *sk, const uint64_t *a_ms,
                   const uint64_t *b_ms, const uint32_t *pos, size_t n, unsigned ka, unsigned kb,
                   unsigned l) {
    PARLEY_CHECK(l >= 1 && l <= kb && kb <= ka && ka <= 64 && l < ka);
    uint64_t *v = mem_alloc(n ? n : 1, sizeof *v);
    if (!v) return PARLEY_E_NOMEM;
    int rc = out_as(v, sk, a_ms, pos, n);
    if (rc == 0) {
        const uint64_t mka = bits_mask(ka), ml = bits_mask(l);
        const unsigned sh = ka - l, up = ka - kb;
        for (size_t j = 0; j < n; j++) {
            uint64_t ph = ((b_ms[j] << up) + v[j]) & mka;
            if (phase) phase[j] = ph;
            /* round(ph / 2^sh) mod 2^l; ph + 2^(sh-1) may carry past 2^ka,
             * which the final mask drops (mod 2^l) */
            uint64_t r = (ph >> sh) + ((ph >> (sh - 1)) & 1);
            m[j] = r & ml;
        }
    }
    mem_free_wipe(v, (n ? n : 1) * sizeof *v);
    return rc;
}
