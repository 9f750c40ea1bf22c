/* The portable AES tier: OpenSSL's EVP (constant-time on every CPU it
 * supports) for ECB, and counter mode and the fixed-key hash on top of it.
 * Reference code only; the dispatch is crypto/aes.c. */
#include "crypto/aes_tiers.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>

static EVP_CIPHER_CTX *aes_ref_ctx(aes_key *k) {
    if (k->evp) return k->evp;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx || EVP_EncryptInit_ex(ctx, EVP_aes_128_ecb(), NULL, k->raw, NULL) != 1) {
        fprintf(stderr, "parley: OpenSSL cannot set up AES-128\n");
        abort();
    }
    EVP_CIPHER_CTX_set_padding(ctx, 0);
    k->evp = ctx;
    return ctx;
}

void aes_ref_free(aes_key *k) {
    if (k->evp) EVP_CIPHER_CTX_free(k->evp);
    k->evp = NULL;
}

void aes_ref_ecb(aes_key *k, block *out, const block *in, size_t n) {
    EVP_CIPHER_CTX *ctx = aes_ref_ctx(k);
    while (n > 0) {
        size_t m = n > (1u << 20) ? (1u << 20) : n; /* EVP takes an int length */
        int len = 0;
        if (EVP_EncryptUpdate(ctx, out->b, &len, in->b, (int)(m * 16)) != 1 ||
            len != (int)(m * 16)) {
            fprintf(stderr, "parley: OpenSSL AES failed\n");
            abort();
        }
        out += m;
        in += m;
        n -= m;
    }
}

void aes_ref_ctr(aes_key *k, block *out, uint64_t ctr, size_t n) {
    for (size_t i = 0; i < n; i++)
        out[i] = block_make(0, ctr + i);
    aes_ref_ecb(k, out, out, n);
}

void aes_ref_tmmo(aes_key *k, block *out, const block *in, size_t n, uint64_t tweak_lo,
                  uint64_t tweak_hi) {
    block s[64], x[64];
    for (size_t i = 0; i < n; i += 64) {
        size_t m = n - i < 64 ? n - i : 64;
        for (size_t j = 0; j < m; j++) {
            s[j] = aes_sigma(in[i + j]);
            x[j] = block_xor(s[j], block_make(tweak_hi, tweak_lo + i + j));
        }
        aes_ref_ecb(k, x, x, m);
        for (size_t j = 0; j < m; j++)
            out[i + j] = block_xor(x[j], s[j]);
    }
}

void aes_ref_tmmo_pack(aes_key *k, uint64_t *acc, const block *in, const uint8_t *d,
                       const block D[16], size_t n, unsigned N, unsigned l, uint64_t tweak_lo,
                       uint64_t tweak_hi) {
    uint64_t m = l >= 64 ? ~0ULL : (1ULL << l) - 1;
    for (size_t i = 0; i < n; i++) {
        uint64_t a = 0;
        for (unsigned j = 0; j < N; j++) {
            block x = block_xor(in[i], D[(j ^ d[i]) & 15u]), o;
            aes_ref_tmmo(k, &o, &x, 1, tweak_lo + i, tweak_hi);
            a |= (o.w[0] & m) << (j * l);
        }
        acc[i] = a;
    }
}

void aes_ref_tmmo_kk(aes_key *k, uint64_t *acc, const block *q, size_t stride, const uint8_t *d,
                     block delta, const uint64_t *mj, size_t n, unsigned L, uint64_t tweak_lo,
                     uint64_t tweak_hi) {
    for (size_t i = 0; i < n; i++) {
        uint64_t a = 0;
        for (unsigned j = 0; j < L; j++) {
            block k0 = q[j * stride + i], k1, o0, o1;
            if (d[i * L + j] & 1u) k0 = block_xor(k0, delta);
            k1 = block_xor(k0, delta);
            aes_ref_tmmo(k, &o0, &k0, 1, tweak_lo + j * stride + i, tweak_hi);
            aes_ref_tmmo(k, &o1, &k1, 1, tweak_lo + j * stride + i, tweak_hi);
            a ^= (o0.w[0] & ~mj[j]) | (o1.w[0] & mj[j]);
        }
        acc[i] = a;
    }
}
