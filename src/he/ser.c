/* Wire formats of HE mode and their validating parsers; see he.h.
 * Every parser checks the exact length first, then every residue against
 * its modulus (or every padding bit against zero), so no bytes from the
 * peer reach the arithmetic unchecked. */
#include "he/he.h"

#include "util/bits.h"

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
