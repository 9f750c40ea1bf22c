/* Wire formats of HE mode and their validating parsers; see he.h.
 * Every parser checks the exact length first, then every residue against
 * its modulus (or every padding bit against zero), so no bytes from the
 * peer reach the arithmetic unchecked. */
#include "he/he.h"

#include "util/bits.h"
#include "util/mem.h"

#include <string.h>

static const uint8_t pk_magic[4] = {'P', 'H', 'K', '1'};

size_t he_poly_bytes(void) {
    const he_params *P = he_params_get();
    return bits_bytes((size_t)HE_N * P->logq_bits);
}

void he_poly_pack(uint8_t *out, const he_poly *a) {
    const he_params *P = he_params_get();
    bitw w = bitw_start(out);
    for (int i = 0; i < HE_L; i++)
        for (size_t j = 0; j < HE_N; j++)
            bitw_put(&w, a->c[i][j], P->p[i].bits);
    bitw_end(&w);
}

int he_poly_unpack(he_poly *a, const uint8_t *in, size_t len) {
    const he_params *P = he_params_get();
    size_t want = he_poly_bytes();
    if (len != want)
        return err_set(PARLEY_E_PROTO, "HE polynomial: %zu bytes, expected %zu", len, want);
    bitr r = bitr_start(in, len);
    for (int i = 0; i < HE_L; i++)
        for (size_t j = 0; j < HE_N; j++) {
            uint64_t v = bitr_get(&r, P->p[i].bits);
            if (v >= P->p[i].q)
                return err_set(
                    PARLEY_E_PROTO,
                    "HE polynomial: coefficient %zu of residue %d is not below its modulus", j, i);
            a->c[i][j] = v;
        }
    /* (N * logq_bits is a multiple of 8: no padding bits to check) */
    return 0;
}

/* ---- input ciphertexts ---- */

/* The largest value sent with `drop` bits dropped: floor((Q - 1 + 2^drop
 * - 1) / 2^drop), from b <= Q - 1 and the rounding offset <= 2^drop - 1. */
static void in_max(uint64_t m[HE_W], unsigned drop) {
    const he_params *P = he_params_get();
    uint64_t add[HE_W] = {(1ULL << drop) - 2};
    memcpy(m, P->Q, HE_W * sizeof *m);
    uint64_t carry = 0;
    for (int i = 0; i < HE_W; i++) {
        he_u128 t = (he_u128)m[i] + add[i] + carry;
        m[i] = (uint64_t)t;
        carry = (uint64_t)(t >> 64);
    }
    for (int i = 0; i < HE_W; i++)
        m[i] = (m[i] >> drop) | (i + 1 < HE_W ? m[i + 1] << (64 - drop) : 0);
}

unsigned he_in_bits(unsigned drop) {
    PARLEY_CHECK(drop <= HE_DROP_MAX);
    if (drop == 0) return he_params_get()->logq_bits;
    uint64_t m[HE_W];
    in_max(m, drop);
    int top = HE_W - 1;
    while (top > 0 && m[top] == 0)
        top--;
    return 64 * (unsigned)top + (64 - (unsigned)__builtin_clzll(m[top]));
}

size_t he_in_bytes(unsigned drop) {
    return bits_bytes((size_t)HE_N * he_in_bits(drop));
}

void he_in_pack(uint8_t *out, const he_poly *b, unsigned drop, prg *g) {
    if (drop == 0) {
        he_poly_pack(out, b);
        return;
    }
    PARLEY_CHECK(drop <= HE_DROP_MAX);
    const unsigned bits = he_in_bits(drop);
    const uint64_t mask = (1ULL << drop) - 1;
    uint64_t rnd[512];
    bitw w = bitw_start(out);
    for (size_t j0 = 0; j0 < HE_N; j0 += 512) {
        prg_bytes(g, rnd, sizeof rnd);
        for (size_t j = j0; j < j0 + 512; j++) {
            uint64_t x[HE_W];
            he_crt_coeff(x, b, j);
            /* floor((x + r) / 2^drop), r uniform below 2^drop */
            uint64_t carry = rnd[j - j0] & mask;
            for (int i = 0; i < HE_W; i++) {
                uint64_t t = x[i] + carry;
                carry = t < carry;
                x[i] = t;
            }
            for (int i = 0; i < HE_W; i++)
                x[i] = (x[i] >> drop) | (i + 1 < HE_W ? x[i + 1] << (64 - drop) : 0);
            for (unsigned k = 0, left = bits; left > 0; k++) {
                unsigned n = left < 64 ? left : 64;
                bitw_put(&w, x[k], n);
                left -= n;
            }
        }
    }
    bitw_end(&w);
    mem_wipe(rnd, sizeof rnd);
}

int he_in_unpack(he_poly *b, const uint8_t *in, size_t len, unsigned drop) {
    if (drop == 0) return he_poly_unpack(b, in, len);
    if (drop > HE_DROP_MAX)
        return err_set(PARLEY_E_PROTO, "HE input ciphertext: %u dropped bits", drop);
    const he_params *P = he_params_get();
    const unsigned bits = he_in_bits(drop);
    size_t want = he_in_bytes(drop);
    if (len != want)
        return err_set(PARLEY_E_PROTO, "HE input ciphertext: %zu bytes, expected %zu", len, want);
    uint64_t max[HE_W];
    in_max(max, drop);
    /* (x * 2^drop) mod q_i = sum_k x_k * (2^(64k + drop) mod q_i): HE_L
     * products below 2^(64 + 48) each, the sum below 2^128 */
    uint64_t pw[HE_L][HE_L];
    for (int i = 0; i < HE_L; i++) {
        const he_prime *p = &P->p[i];
        uint64_t v = he_red128((he_u128)1 << drop, p);
        for (int k = 0; k < HE_L; k++) {
            pw[i][k] = v;
            v = he_red128((he_u128)v << 64, p);
        }
    }
    bitr r = bitr_start(in, len);
    for (size_t j = 0; j < HE_N; j++) {
        uint64_t x[HE_W] = {0};
        for (unsigned k = 0, left = bits; left > 0; k++) {
            unsigned n = left < 64 ? left : 64;
            x[k] = bitr_get(&r, n);
            left -= n;
        }
        if (he_w_cmp(x, max) > 0)
            return err_set(PARLEY_E_PROTO, "HE input ciphertext: coefficient %zu out of range", j);
        for (int i = 0; i < HE_L; i++) {
            he_u128 t = 0;
            for (int k = 0; k < HE_L; k++)
                t += (he_u128)x[k] * pw[i][k];
            b->c[i][j] = he_red128(t, &P->p[i]);
        }
    }
    /* (N = 8192 values: no padding bits to check) */
    return 0;
}

size_t he_pk_bytes(void) {
    return sizeof pk_magic + HE_SEED_BYTES + he_poly_bytes();
}

void he_pk_pack(uint8_t *out, const he_pk *pk) {
    memcpy(out, pk_magic, sizeof pk_magic);
    memcpy(out + sizeof pk_magic, pk->seed, HE_SEED_BYTES);
    he_poly_pack(out + sizeof pk_magic + HE_SEED_BYTES, &pk->b);
}

int he_pk_unpack(he_pk *pk, const uint8_t *in, size_t len) {
    if (len != he_pk_bytes())
        return err_set(PARLEY_E_PROTO, "HE public key: %zu bytes, expected %zu", len,
                       he_pk_bytes());
    if (memcmp(in, pk_magic, sizeof pk_magic) != 0)
        return err_set(PARLEY_E_PROTO, "HE public key: bad magic (not a parley HE key, version 1)");
    memcpy(pk->seed, in + sizeof pk_magic, HE_SEED_BYTES);
    int rc = he_poly_unpack(&pk->b, in + sizeof pk_magic + HE_SEED_BYTES, he_poly_bytes());
    if (rc < 0) return err_wrap(rc, "HE public key");
    he_expand_a(&pk->a, pk->seed);
    return 0;
}

size_t he_out_bytes(size_t n, unsigned ka, unsigned kb) {
    return bits_bytes((size_t)HE_N * ka + n * kb);
}

void he_out_pack(uint8_t *out, const uint64_t *a_ms, const uint64_t *b_ms, size_t n, unsigned ka,
                 unsigned kb) {
    bitw w = bitw_start(out);
    for (size_t j = 0; j < HE_N; j++)
        bitw_put(&w, a_ms[j], ka);
    for (size_t j = 0; j < n; j++)
        bitw_put(&w, b_ms[j], kb);
    bitw_end(&w);
}

int he_out_unpack(uint64_t *a_ms, uint64_t *b_ms, size_t n, unsigned ka, unsigned kb,
                  const uint8_t *in, size_t len) {
    if (ka < 1 || ka > 64 || kb < 1 || kb > ka)
        return err_set(PARLEY_E_PROTO, "HE ciphertext: bad widths ka = %u, kb = %u", ka, kb);
    if (n > HE_N) return err_set(PARLEY_E_PROTO, "HE ciphertext: %zu kept coefficients > N", n);
    size_t want = he_out_bytes(n, ka, kb);
    if (len != want)
        return err_set(PARLEY_E_PROTO, "HE ciphertext: %zu bytes, expected %zu", len, want);
    bitr r = bitr_start(in, len);
    for (size_t j = 0; j < HE_N; j++)
        a_ms[j] = bitr_get(&r, ka);
    for (size_t j = 0; j < n; j++)
        b_ms[j] = bitr_get(&r, kb);
    size_t used = (size_t)HE_N * ka + n * kb, pad = want * 8 - used;
    if (pad && (in[want - 1] >> (8 - pad)) != 0)
        return err_set(PARLEY_E_PROTO, "HE ciphertext: non-zero padding bits");
    return 0;
}
