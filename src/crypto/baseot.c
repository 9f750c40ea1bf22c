/* Chou-Orlandi base OT over ristretto255; see baseot.h.
 *
 * Sender: A = aG. Receiver, choice c: B = bG + c*A. Keys: sender
 * k0 = H(i, A, B, aB), k1 = H(i, A, B, aB - aA); receiver k_c = H(i, A, B, bA).
 * Every point from the peer is checked to be a valid, non-identity encoding. */
#include "crypto/baseot.h"

#include "util/ct.h"
#include "util/mem.h"

#include <sodium.h>

static void baseot_kdf(block *out, uint64_t i, const uint8_t A[32], const uint8_t B[32],
                       const uint8_t P[32]) {
    static const char domain[] = "parley/baseot/v1";
    uint8_t idx[8];
    for (int j = 0; j < 8; j++) idx[j] = (uint8_t)(i >> (8 * j));
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 16);
    crypto_generichash_update(&st, (const uint8_t *)domain, sizeof domain - 1);
    crypto_generichash_update(&st, idx, 8);
    crypto_generichash_update(&st, A, 32);
    crypto_generichash_update(&st, B, 32);
    crypto_generichash_update(&st, P, 32);
    crypto_generichash_final(&st, out->b, 16);
    mem_wipe(&st, sizeof st);
}

/* A uniform non-zero scalar. Whether a draw was zero is made public
 * (ct_declassify): it happens with probability 2^-252. */
static void random_scalar(uint8_t s[32], prg *rng) {
    uint8_t wide[64];
    int zero;
    do {
        prg_bytes(rng, wide, sizeof wide);
        crypto_core_ristretto255_scalar_reduce(s, wide);
        zero = sodium_is_zero(s, 32);
        ct_declassify(&zero, sizeof zero);
    } while (zero);
    mem_wipe(wide, sizeof wide);
}

/* A status of libsodium computed from secrets: whether a product is the
 * identity, which for a non-zero scalar and a valid point of prime order
 * never happens; public (ct_declassify). */
static int public_status(int rc) {
    ct_declassify(&rc, sizeof rc);
    return rc;
}

int baseot_send_begin(baseot_sender *s, chan *ch, prg *rng) {
    crypto_init();
    random_scalar(s->a, rng);
    crypto_scalarmult_ristretto255_base(s->A, s->a);
    if (public_status(crypto_scalarmult_ristretto255(s->aA, s->a, s->A)) != 0)
        return err_set(PARLEY_E_PROTO, "base OT: degenerate sender key");
    return chan_send(ch, s->A, 32);
}

int baseot_recv(chan *ch, block *keys, const uint8_t *choices, size_t n, prg *rng) {
    uint8_t A[32];
    crypto_init();
    TRY(chan_recv(ch, A, 32));
    if (!crypto_core_ristretto255_is_valid_point(A) || sodium_is_zero(A, 32))
        return err_set(PARLEY_E_PROTO, "base OT: the peer sent an invalid group element");
    uint8_t *Bs = mem_alloc(n ? n : 1, 32);
    uint8_t(*bs)[32] = mem_alloc(n ? n : 1, 32);
    if (!Bs || !bs) {
        mem_free(Bs);
        mem_free(bs);
        return PARLEY_E_NOMEM;
    }
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t bG[32], bGA[32];
        random_scalar(bs[i], rng);
        crypto_scalarmult_ristretto255_base(bG, bs[i]);
        crypto_core_ristretto255_add(bGA, bG, A);
        /* Constant-time select of bG or bG + A by the choice bit. */
        uint8_t m = (uint8_t)(0 - (choices[i] & 1));
        for (int j = 0; j < 32; j++) Bs[32 * i + j] = (uint8_t)((bG[j] & ~m) | (bGA[j] & m));
    }
    rc = chan_send(ch, Bs, 32 * n);
    for (size_t i = 0; i < n && rc == 0; i++) {
        uint8_t P[32];
        if (public_status(crypto_scalarmult_ristretto255(P, bs[i], A)) != 0) {
            rc = err_set(PARLEY_E_PROTO, "base OT: degenerate shared point");
            break;
        }
        baseot_kdf(&keys[i], i, A, Bs + 32 * i, P);
        mem_wipe(P, 32);
    }
    mem_free_wipe(bs, 32 * (n ? n : 1));
    mem_free(Bs);
    return rc;
}

int baseot_send_finish(baseot_sender *s, chan *ch, block (*keys)[2], size_t n) {
    uint8_t *Bs = mem_alloc(n ? n : 1, 32);
    if (!Bs) return PARLEY_E_NOMEM;
    int rc = chan_recv(ch, Bs, 32 * n);
    for (size_t i = 0; i < n && rc == 0; i++) {
        const uint8_t *B = Bs + 32 * i;
        uint8_t P0[32], P1[32];
        if (!crypto_core_ristretto255_is_valid_point(B) ||
            public_status(crypto_scalarmult_ristretto255(P0, s->a, B)) != 0) {
            rc = err_set(PARLEY_E_PROTO, "base OT: the peer sent an invalid group element");
            break;
        }
        crypto_core_ristretto255_sub(P1, P0, s->aA);
        baseot_kdf(&keys[i][0], i, s->A, B, P0);
        baseot_kdf(&keys[i][1], i, s->A, B, P1);
        mem_wipe(P0, 32);
        mem_wipe(P1, 32);
    }
    mem_free(Bs);
    mem_wipe(s, sizeof *s);
    return rc;
}
