/* OS randomness, the AES-CTR PRG and the fixed-key hash; see prg.h. */
#include "crypto/prg.h"

#include "util/bits.h"
#include "util/mem.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

void crypto_init(void) {
    if (sodium_init() < 0) { /* sodium_init is itself thread-safe and idempotent */
        fprintf(stderr, "parley: libsodium cannot initialise; no randomness, stopping\n");
        abort();
    }
}

void rand_os(void *buf, size_t n) {
    crypto_init();
    randombytes_buf(buf, n);
}

void prg_seed(prg *p, block seed) {
    aes_expand(&p->key, seed.b);
    p->ctr = 0;
    mem_wipe(&seed, sizeof seed);
}

void prg_seed_os(prg *p) {
    block s;
    rand_os(&s, sizeof s);
    prg_seed(p, s);
    mem_wipe(&s, sizeof s);
}

void prg_blocks(prg *p, block *out, size_t n) {
    aes_ctr(&p->key, out, p->ctr, n);
    p->ctr += n;
}

block prg_block(prg *p) {
    block b;
    prg_blocks(p, &b, 1);
    return b;
}

void prg_bytes(prg *p, void *out, size_t n) {
    uint8_t *o = out;
    block tmp[64];
    while (n > 0) {
        size_t nb = (n + 15) / 16;
        if (nb > 64) nb = 64;
        prg_blocks(p, tmp, nb);
        size_t k = nb * 16 < n ? nb * 16 : n;
        memcpy(o, tmp, k);
        o += k;
        n -= k;
    }
    mem_wipe(tmp, sizeof tmp);
}

uint64_t prg_u64(prg *p) {
    uint64_t v;
    prg_bytes(p, &v, sizeof v);
    return v;
}

void prg_ring(prg *p, uint64_t *out, size_t n, unsigned l) {
    prg_bytes(p, out, n * sizeof *out);
    uint64_t m = bits_mask(l);
    for (size_t i = 0; i < n; i++) out[i] &= m;
}

void prg_bits(prg *p, uint8_t *out, size_t n) {
    prg_bytes(p, out, n);
    for (size_t i = 0; i < n; i++) out[i] &= 1;
}

void prg_clear(prg *p) { aes_clear(&p->key); p->ctr = 0; }

/* The fixed public key of pi (the first 16 bytes of the hex digits of pi). */
static const uint8_t crh_fixed_key[16] = {0x24, 0x3f, 0x6a, 0x88, 0x85, 0xa3, 0x08, 0xd3,
                                          0x13, 0x19, 0x8a, 0x2e, 0x03, 0x70, 0x73, 0x44};

void crh_init(crh *h) { aes_expand(&h->pi, crh_fixed_key); }
void crh_clear(crh *h) { aes_clear(&h->pi); }

void crh_hash(crh *h, block *out, const block *in, size_t n, uint64_t tweak_lo, uint64_t tweak_hi) {
    aes_tmmo(&h->pi, out, in, n, tweak_lo, tweak_hi);
}

void crh_hash_pack(crh *h, uint64_t *acc, const block *in, const uint8_t *d, const block D[16],
                   size_t n, unsigned N, unsigned l, uint64_t tweak_lo, uint64_t tweak_hi) {
    aes_tmmo_pack(&h->pi, acc, in, d, D, n, N, l, tweak_lo, tweak_hi);
}

void crh_hash_kk(crh *h, uint64_t *acc, const block *q, size_t stride, const uint8_t *d,
                 block delta, const uint64_t *mj, size_t n, unsigned L, uint64_t tweak_lo,
                 uint64_t tweak_hi) {
    aes_tmmo_kk(&h->pi, acc, q, stride, d, delta, mj, n, L, tweak_lo, tweak_hi);
}
