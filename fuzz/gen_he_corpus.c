/* Writes the seed corpus of fuzz_he_peer into the directory given (not part
 * of the build; run once after a wire-format change):
 *   cc -O1 -Isrc -Iinclude fuzz/gen_he_corpus.c build/libparley_core.a \
 *      -lsodium -lcrypto -lpthread -lm -o /tmp/gen && /tmp/gen fuzz/corpus/he_peer
 * Files: a valid key message, bad magic, short; an input ciphertext with a
 * residue equal to its modulus, one with bits dropped and the same with a
 * value out of range; a returned ciphertext with and without padding
 * errors; Galois keys (short, valid, an even automorphism); an honest
 * client's session stream (keys, Galois keys, input ciphertexts), the same
 * with one residue out of range, and one cut short. */
#include "he/he.h"
#include "he_peer_conv.h"
#include "lin/he/lin_he.h"
#include "lin/he/plan.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *dir;

static void put(const char *name, uint8_t mode, const uint8_t *buf, size_t n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(&mode, 1, 1, f) != 1 || (n && fwrite(buf, 1, n, f) != n)) {
        perror(path);
        exit(1);
    }
    fclose(f);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: gen_he_corpus DIR\n");
        return 2;
    }
    dir = argv[1];
    prg g;
    prg_seed(&g, block_make(7, 7));
    he_sk *sk = mem_alloc(1, sizeof *sk);
    he_pk *pk = mem_alloc(1, sizeof *pk);
    he_poly *b = mem_alloc(1, sizeof *b);
    size_t pkb = he_pk_bytes(), pb = he_poly_bytes();
    uint8_t *buf = mem_alloc(pkb + HE_SEED_BYTES + HE_PACK_MAX_LOG * he_gkey_bytes() + 8 * pb + 1, 1);
    he_sk_gen(&g, sk);
    he_pk_gen(&g, pk, sk);
    he_pk_pack(buf, pk);
    put("pk_valid", 0, buf, pkb);
    put("pk_short", 0, buf, 100);
    buf[1] = 'X';
    put("pk_bad_magic", 0, buf, pkb);
    /* a ciphertext whose first residue of q1 equals q1 */
    memcpy(b, &pk->b, sizeof *b);
    b->c[1][0] = he_params_get()->p[1].q;
    buf[0] = 0; /* no bits dropped: RNS residues */
    he_poly_pack(buf + 1, b);
    put("poly_residue_eq_q", 1, buf, pb + 1);
    /* 20 bits dropped: valid, and with the value of coefficient 3 all ones */
    b->c[1][0] = 0;
    buf[0] = 20;
    he_in_pack(buf + 1, b, 20, &g);
    put("in_drop_valid", 1, buf, he_in_bytes(20) + 1);
    memset(buf + 1 + 3 * he_in_bits(20) / 8 + 1, 0xff, 40);
    put("in_drop_out_of_range", 1, buf, he_in_bytes(20) + 1);
    /* returned ciphertexts: ka = 49, kb = 40, 9 kept (5 padding bits) */
    uint64_t am[HE_N], bm[9];
    prg_ring(&g, am, HE_N, 49);
    prg_ring(&g, bm, 9, 40);
    size_t ob = he_out_bytes(9, 49, 40);
    buf[0] = 49;
    buf[1] = 40;
    buf[2] = 9;
    buf[3] = 0;
    he_out_pack(buf + 4, am, bm, 9, 49, 40);
    put("out_valid", 2, buf, 4 + ob);
    buf[4 + ob - 1] |= 0x80;
    put("out_bad_padding", 2, buf, 4 + ob);
    /* Galois keys: a short one (committed), a valid one and one with an
     * even automorphism (full length, not committed: 590 KB each) */
    {
        he_gkey *gk = mem_alloc(1, sizeof *gk);
        uint8_t *kb = mem_alloc(he_gkey_bytes(), 1);
        he_gkey_gen(&g, gk, sk, he_pack_galois(1));
        he_gkey_pack(kb, gk);
        put("gkey_short", 4, kb, 100);
        put("gkey_valid", 4, kb, he_gkey_bytes());
        kb[4] = 2;
        put("gkey_even_g", 4, kb, he_gkey_bytes());
        mem_free(gk);
        mem_free(kb);
    }
    /* the honest client's stream for fuzz_he_peer's convolution */
    lin_conv c = he_peer_conv();
    lin_he_plan pl;
    if (lin_he_plan_make(&pl, &c, HE_PEER_L, LIN_HE_OUTS_DEFAULT) != 0 || pl.in_cts > 8) return 1;
    uint8_t session[HE_SEED_BYTES];
    prg_bytes(&g, session, sizeof session);
    he_pk_pack(buf, pk);
    memcpy(buf + pkb, session, HE_SEED_BYTES);
    size_t len = pkb + HE_SEED_BYTES;
    { /* the Galois keys of the packing levels */
        he_gkey *gk = mem_alloc(1, sizeof *gk);
        for (unsigned lv = 0; lv < HE_PACK_MAX_LOG; lv++) {
            he_gkey_gen(&g, gk, sk, he_pack_galois(lv));
            he_gkey_pack(buf + len, gk);
            len += he_gkey_bytes();
        }
        mem_free(gk);
    }
    he_encoder enc;
    he_encoder_init(&enc, HE_PEER_L);
    uint64_t x[18], m[HE_N];
    prg_ring(&g, x, 18, HE_PEER_L);
    for (uint64_t k = 0; k < pl.in_cts; k++) {
        uint8_t seed[HE_SEED_BYTES];
        he_derive_seed(seed, session, 0, k);
        lin_he_plan_gather(&pl, m, x, k / pl.ncb, (unsigned)(k % pl.ncb));
        he_encrypt_sk(&g, b, sk, seed, &enc, m);
        he_in_pack(buf + len, b, pl.drop, &g);
        len += he_in_bytes(pl.drop);
    }
    put("session_valid", 3, buf, len);
    put("session_short", 3, buf, pkb + HE_SEED_BYTES + 77);
    /* a value of the first input ciphertext all ones: too large */
    memset(buf + pkb + HE_SEED_BYTES + HE_PACK_MAX_LOG * he_gkey_bytes() + 7 * 8, 0xff, 40);
    put("session_bad_residue", 3, buf, len);
    lin_he_plan_free(&pl);
    return 0;
}
