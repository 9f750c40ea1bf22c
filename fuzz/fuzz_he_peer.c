/* Fuzz everything parley reads from an HE-mode peer. The first byte picks
 * the target:
 *   0  the public-key message (he_pk_unpack)
 *   1  an input ciphertext (he_in_unpack: byte 1 gives the bits dropped;
 *      sizes, every residue < q_i or every value in range)
 *   2  a returned ciphertext (he_out_unpack); bytes 1..4 give ka, kb and
 *      the number of kept coefficients
 *   3  the server side of a whole session: the rest is the client's byte
 *      stream (set-up message, then the input ciphertexts of a small
 *      convolution); the server must finish or fail cleanly (also 5..7)
 *   4  a Galois key (he_gkey_unpack)
 * Whatever the bytes, the result is ok or a clean error: never a crash, a
 * hang or an out-of-bounds access. The corpus (fuzz/corpus/he_peer) is made
 * by fuzz/gen_he_corpus.c. */
#include "he/he.h"
#include "he_peer_conv.h"
#include "lin/he/lin_he.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

static int server_session(const uint8_t *data, size_t size) {
    chan *me, *peer;
    if (chan_pair(&me, &peer) != 0) return 0;
    if (size > (4u << 20)) size = 4u << 20; /* the set-up message is about 2 MB */
    if (chan_send(peer, data, size) != 0 || chan_shutdown(peer) != 0) abort();
    chan_set_timeout(me, 2000);
    mpc_lane lane;
    memset(&lane, 0, sizeof lane);
    lane.role = MPC_SERVER;
    lane.ot.ch = me;
    prg_seed(&lane.ot.rng, block_make(3, 4));
    party p = {.role = MPC_SERVER, .nlanes = 1, .lanes = &lane};
    lin_he *h = NULL;
    int rc = lin_he_setup(&p, &h);
    if (rc == 0) {
        lin_conv c = he_peer_conv();
        uint64_t x[18] = {0}, w[36] = {0}, y[18];
        w[4] = 3;
        lin_backend be = lin_he_backend(h, 0);
        lin_shape s = {LIN_CONV, .p.conv = c};
        rc = lin_run(&be, &p, y, x, &s, w, HE_PEER_L);
    }
    lin_he_free(h);
    prg_clear(&lane.ot.rng);
    chan_close(me);
    chan_close(peer);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const uint8_t *in = data + 1;
    size_t n = size - 1;
    int rc = 0;
    switch (data[0] & 7) {
    case 0: {
        he_pk *pk = mem_alloc(1, sizeof *pk);
        if (!pk) return 0;
        rc = he_pk_unpack(pk, in, n);
        mem_free(pk);
        break;
    }
    case 1: {
        if (n < 1) return 0;
        he_poly *a = mem_alloc(1, sizeof *a);
        if (!a) return 0;
        rc = he_in_unpack(a, in + 1, n - 1, in[0] % (HE_DROP_MAX + 1));
        mem_free(a);
        break;
    }
    case 2: {
        if (n < 4) return 0;
        unsigned ka = in[0], kb = in[1];
        size_t kept = (size_t)in[2] | (size_t)in[3] << 8;
        uint64_t *am = mem_alloc(HE_N, 8), *bm = mem_alloc(kept <= HE_N ? kept + 1 : 1, 8);
        if (am && bm) rc = he_out_unpack(am, bm, kept, ka, kb, in + 4, n - 4);
        mem_free(am);
        mem_free(bm);
        break;
    }
    case 4: {
        he_gkey *k = mem_alloc(1, sizeof *k);
        if (!k) return 0;
        rc = he_gkey_unpack(k, in, n);
        mem_free(k);
        break;
    }
    default:
        rc = server_session(in, n);
        break;
    }
    if (rc > 0) abort();
    return 0;
}
