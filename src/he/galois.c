/* Galois keys, automorphisms, key switching and packing; see he.h for the
 * contracts, docs/PROTOCOLS.md §7 ("Output packing") for the packing tree
 * and docs/SECURITY-HE.md for the noise and the assumptions.
 *
 * Rows 0..HE_L-1 of an he_polyx are the primes of Q, row HE_L the special
 * prime P. Everything a key switch computes from the ciphertext (its
 * digits, their signs) is done without branches on the values: on the
 * server they derive from the weights. */
#include "he/he.h"

#include "util/bits.h"
#include "util/mem.h"

#include <string.h>

static const uint8_t gk_magic[4] = {'P', 'G', 'K', '1'};

/* The prime of row r. */
static const he_prime *row_prime(const he_params *P, int r) {
    return r < HE_L ? &P->p[r] : &P->sp;
}

/* v (|v| <= 1, or any small signed value below every prime) mod q. */
static void small_row(uint64_t *row, const int8_t *v, uint64_t q) {
    for (size_t j = 0; j < HE_N; j++) {
        int64_t x = v[j];
        uint64_t neg = (uint64_t)(x >> 63);
        uint64_t mag = ((uint64_t)x ^ neg) - neg;
        row[j] = (mag & ~neg) | ((q - mag) & neg & (0 - (uint64_t)(mag != 0)));
    }
}

/* The centred value of v in [0, qv) (|.| <= qv/2 < every prime) mod q. */
static inline uint64_t centred_mod(uint64_t v, uint64_t qv, uint64_t q) {
    uint64_t neg = 0 - (uint64_t)(v > (qv >> 1));
    uint64_t mag = (v & ~neg) | ((qv - v) & neg);
    return (mag & ~neg) | ((q - mag) & neg);
}

uint32_t he_pack_galois(unsigned m) {
    PARLEY_CHECK(m < HE_LOGN);
    return (HE_N >> m) + 1;
}

/* tau_g on signed coefficients. */
static void auto_small(int8_t *out, const int8_t *in, uint32_t g) {
    for (uint32_t i = 0; i < HE_N; i++) {
        uint32_t e = (uint32_t)(((uint64_t)i * g) & (2 * HE_N - 1));
        if (e < HE_N)
            out[e] = in[i];
        else
            out[e - HE_N] = (int8_t)-in[i];
    }
}

void he_auto_coeff(he_poly *out, const he_poly *in, uint32_t g) {
    PARLEY_CHECK((g & 1) && g < 2 * HE_N && out != in);
    const he_params *P = he_params_get();
    for (int r = 0; r < HE_L; r++) {
        const uint64_t q = P->p[r].q;
        for (uint32_t i = 0; i < HE_N; i++) {
            uint32_t e = (uint32_t)(((uint64_t)i * g) & (2 * HE_N - 1));
            if (e < HE_N) /* the positions are public: g alone decides them */
                out->c[r][e] = in->c[r][i];
            else
                out->c[r][e - HE_N] = he_submod(0, in->c[r][i], q);
        }
    }
}

/* The a_i of a key: digit i's rows from a seed derived from the key's. */
static void expand_key_a(he_gkey *k) {
    const he_params *P = he_params_get();
    for (int i = 0; i < HE_L; i++) {
        uint8_t sd[HE_SEED_BYTES];
        he_derive_seed(sd, k->seed, UINT64_MAX, (uint64_t)i);
        block s;
        memcpy(s.b, sd, HE_SEED_BYTES);
        prg g;
        prg_seed(&g, s);
        for (int r = 0; r < HE_KS_ROWS; r++)
            he_expand_row(&g, row_prime(P, r), k->a[i].c[r]);
        prg_clear(&g);
    }
}

void he_gkey_gen(prg *g, he_gkey *k, const he_sk *sk, uint32_t galois) {
    PARLEY_CHECK((galois & 1) && galois > 1 && galois < 2 * HE_N);
    const he_params *P = he_params_get();
    k->g = galois;
    prg_bytes(g, k->seed, HE_SEED_BYTES);
    expand_key_a(k);
    /* the secret in every row (NTT domain), and tau_g(s) in the rows of Q */
    he_polyx *s = mem_alloc(1, sizeof *s);
    he_poly *st = mem_alloc(1, sizeof *st);
    PARLEY_CHECK(s && st);
    int8_t *small = mem_alloc(HE_N, 1);
    PARLEY_CHECK(small);
    for (int r = 0; r < HE_KS_ROWS; r++) {
        const he_prime *p = row_prime(P, r);
        small_row(s->c[r], sk->s, p->q);
        he_ntt_fwd(p, s->c[r]);
    }
    auto_small(small, sk->s, galois);
    he_poly_from_small(st, small);
    he_poly_ntt(st);
    for (int i = 0; i < HE_L; i++) {
        he_sample_cbd(g, small, HE_N);
        for (int r = 0; r < HE_KS_ROWS; r++) {
            const he_prime *p = row_prime(P, r);
            uint64_t *b = k->b[i].c[r];
            small_row(b, small, p->q);
            he_ntt_fwd(p, b);
            for (size_t j = 0; j < HE_N; j++) {
                uint64_t as = he_mulmod(k->a[i].c[r][j], s->c[r][j], p);
                b[j] = he_submod(b[j], as, p->q);
            }
            if (r == i) /* the gadget term: P * tau_g(s) in row i only */
                for (size_t j = 0; j < HE_N; j++)
                    b[j] = he_addmod(
                        b[j], he_mul_shoup(P->sp_mod[i], P->sp_mod_s[i], st->c[i][j], p->q),
                        p->q);
        }
    }
    mem_wipe(small, HE_N);
    mem_wipe(s, sizeof *s);
    mem_wipe(st, sizeof *st);
    mem_free(small);
    mem_free(s);
    mem_free(st);
}

static unsigned key_row_bits(void) {
    const he_params *P = he_params_get();
    return P->logq_bits + P->sp.bits;
}

size_t he_gkey_bytes(void) {
    return sizeof gk_magic + 4 + HE_SEED_BYTES + bits_bytes((size_t)HE_L * HE_N * key_row_bits());
}

void he_gkey_pack(uint8_t *out, const he_gkey *k) {
    const he_params *P = he_params_get();
    memcpy(out, gk_magic, sizeof gk_magic);
    for (int b = 0; b < 4; b++)
        out[4 + b] = (uint8_t)(k->g >> (8 * b));
    memcpy(out + 8, k->seed, HE_SEED_BYTES);
    bitw w = bitw_start(out + 8 + HE_SEED_BYTES);
    for (int i = 0; i < HE_L; i++)
        for (int r = 0; r < HE_KS_ROWS; r++) {
            const unsigned bits = row_prime(P, r)->bits;
            for (size_t j = 0; j < HE_N; j++)
                bitw_put(&w, k->b[i].c[r][j], bits);
        }
    bitw_end(&w);
}

int he_gkey_unpack(he_gkey *k, const uint8_t *in, size_t len) {
    const he_params *P = he_params_get();
    if (len != he_gkey_bytes())
        return err_set(PARLEY_E_PROTO, "HE Galois key: %zu bytes, expected %zu", len,
                       he_gkey_bytes());
    if (memcmp(in, gk_magic, sizeof gk_magic) != 0)
        return err_set(PARLEY_E_PROTO, "HE Galois key: bad magic (not a parley Galois key, "
                                       "version 1)");
    uint32_t g = 0;
    for (int b = 0; b < 4; b++)
        g |= (uint32_t)in[4 + b] << (8 * b);
    if (!(g & 1) || g <= 1 || g >= 2 * HE_N)
        return err_set(PARLEY_E_PROTO,
                       "HE Galois key: automorphism X -> X^%u (must be odd, between 3 and %u)",
                       g, 2 * HE_N - 1);
    k->g = g;
    memcpy(k->seed, in + 8, HE_SEED_BYTES);
    bitr rd = bitr_start(in + 8 + HE_SEED_BYTES, len - 8 - HE_SEED_BYTES);
    for (int i = 0; i < HE_L; i++)
        for (int r = 0; r < HE_KS_ROWS; r++) {
            const he_prime *p = row_prime(P, r);
            for (size_t j = 0; j < HE_N; j++) {
                uint64_t v = bitr_get(&rd, p->bits);
                if (v >= p->q)
                    return err_set(PARLEY_E_PROTO,
                                   "HE Galois key: digit %d, residue %d, coefficient %zu is not "
                                   "below its modulus",
                                   i, r, j);
                k->b[i].c[r][j] = v;
            }
        }
    /* (N * bits is a multiple of 8: no padding bits to check) */
    expand_key_a(k);
    return 0;
}

/* A key switch's scratch: the digits in every row (NTT domain), two
 * accumulators, one row. */
typedef struct ks_work {
    he_polyx dig[HE_L];
    he_u128 acc[HE_N];
    he_polyx c[2];
} ks_work;

/* c <- (c - centred(c mod P)) / P in the rows of Q, all in the
 * coefficient domain (c arrives in the NTT domain, every row): the
 * subtraction needs no transform of the lifted remainder. */
static void mod_down(he_polyx *c) {
    const he_params *P = he_params_get();
    he_ntt_inv(&P->sp, c->c[HE_L]);
    for (int r = 0; r < HE_L; r++) {
        const he_prime *p = &P->p[r];
        he_ntt_inv(p, c->c[r]);
        for (size_t j = 0; j < HE_N; j++)
            c->c[r][j] = he_mul_shoup(
                P->sp_inv[r], P->sp_inv_s[r],
                he_submod(c->c[r][j], centred_mod(c->c[HE_L][j], P->sp.q, p->q), p->q), p->q);
    }
}

static void keyswitch_w(he_poly *b, he_poly *a, const he_gkey *k, ks_work *w) {
    const he_params *P = he_params_get();
    for (int i = 0; i < HE_L; i++) {
        const uint64_t qi = P->p[i].q;
        for (int r = 0; r < HE_KS_ROWS; r++) {
            const he_prime *p = row_prime(P, r);
            uint64_t *d = w->dig[i].c[r];
            if (r == i)
                memcpy(d, a->c[i], HE_N * sizeof *d);
            else
                for (size_t j = 0; j < HE_N; j++)
                    d[j] = centred_mod(a->c[i][j], qi, p->q);
            he_ntt_fwd(p, d);
        }
    }
    for (int part = 0; part < 2; part++)
        for (int r = 0; r < HE_KS_ROWS; r++) {
            const he_prime *p = row_prime(P, r);
            const uint64_t *kr[HE_L], *dr[HE_L];
            for (int i = 0; i < HE_L; i++) {
                kr[i] = part ? k->a[i].c[r] : k->b[i].c[r];
                dr[i] = w->dig[i].c[r];
            }
            memset(w->acc, 0, sizeof w->acc);
            he_mac_rows(w->acc, kr, dr, HE_L);
            for (size_t j = 0; j < HE_N; j++)
                w->c[part].c[r][j] = he_red128(w->acc[j], p);
        }
    mod_down(&w->c[0]);
    mod_down(&w->c[1]);
    for (int r = 0; r < HE_L; r++) {
        const uint64_t q = P->p[r].q;
        for (size_t j = 0; j < HE_N; j++)
            b->c[r][j] = he_addmod(b->c[r][j], w->c[0].c[r][j], q);
        memcpy(a->c[r], w->c[1].c[r], HE_N * sizeof a->c[r][0]);
    }
}

static ks_work *ks_work_new(void) {
    ks_work *w = mem_alloc(1, sizeof *w);
    PARLEY_CHECK(w);
    return w;
}

static void ks_work_free(ks_work *w) {
    mem_wipe(w, sizeof *w);
    mem_free(w);
}

void he_keyswitch(he_poly *b, he_poly *a, const he_gkey *k) {
    ks_work *w = ks_work_new();
    keyswitch_w(b, a, k, w);
    ks_work_free(w);
}

/* tau_g of (b, a) switched back, with t[0..1] as scratch. */
static void ct_auto_w(he_poly *b, he_poly *a, const he_gkey *k, he_poly *t, ks_work *w) {
    he_auto_coeff(&t[0], b, k->g);
    he_auto_coeff(&t[1], a, k->g);
    keyswitch_w(&t[0], &t[1], k, w);
    memcpy(b, &t[0], sizeof *b);
    memcpy(a, &t[1], sizeof *a);
}

void he_ct_auto(he_poly *b, he_poly *a, const he_gkey *k) {
    he_poly *t = mem_alloc(2, sizeof *t);
    PARLEY_CHECK(t);
    ks_work *w = ks_work_new();
    ct_auto_w(b, a, k, t, w);
    ks_work_free(w);
    mem_wipe(t, 2 * sizeof *t);
    mem_free(t);
}

/* out = X^s * in (negacyclic), 0 < s < N. */
static void mul_monomial(he_poly *out, const he_poly *in, size_t s) {
    const he_params *P = he_params_get();
    for (int r = 0; r < HE_L; r++) {
        const uint64_t q = P->p[r].q;
        for (size_t j = 0; j + s < HE_N; j++)
            out->c[r][j + s] = in->c[r][j];
        for (size_t j = HE_N - s; j < HE_N; j++)
            out->c[r][j + s - HE_N] = he_submod(0, in->c[r][j], q);
    }
}

static void poly_add(he_poly *x, const he_poly *y) {
    const he_params *P = he_params_get();
    for (int r = 0; r < HE_L; r++)
        for (size_t j = 0; j < HE_N; j++)
            x->c[r][j] = he_addmod(x->c[r][j], y->c[r][j], P->p[r].q);
}

static void poly_sub(he_poly *x, const he_poly *y) {
    const he_params *P = he_params_get();
    for (int r = 0; r < HE_L; r++)
        for (size_t j = 0; j < HE_N; j++)
            x->c[r][j] = he_submod(x->c[r][j], y->c[r][j], P->p[r].q);
}

void he_pack(he_poly *bs, he_poly *as, size_t n, unsigned k, const he_gkey *keys) {
    PARLEY_CHECK(k <= HE_PACK_MAX_LOG && n >= 1 && n <= ((size_t)1 << k));
    const he_params *P = he_params_get();
    /* scale by 2^-k: the tree multiplies every kept value by 2^k */
    for (int r = 0; r < HE_L; r++) {
        const he_prime *p = &P->p[r];
        uint64_t inv = 1, half = (p->q + 1) / 2;
        for (unsigned m = 0; m < k; m++)
            inv = he_mulmod(inv, half, p);
        uint64_t inv_s = he_shoup(inv, p->q);
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < HE_N; j++) {
                bs[i].c[r][j] = he_mul_shoup(inv, inv_s, bs[i].c[r][j], p->q);
                as[i].c[r][j] = he_mul_shoup(inv, inv_s, as[i].c[r][j], p->q);
            }
    }
    he_poly *t = mem_alloc(6, sizeof *t); /* X^s O (b, a), E - X^s O, ct_auto's */
    PARLEY_CHECK(t);
    ks_work *w = ks_work_new();
    size_t live = n;
    for (unsigned m = k; m-- > 0;) {
        const size_t half = (size_t)1 << m;
        const he_gkey *key = &keys[m];
        PARLEY_CHECK(key->g == he_pack_galois(m));
        for (size_t i = 0; i < half && i < live; i++) {
            he_poly *ub = &t[2], *ua = &t[3];
            memcpy(ub, &bs[i], sizeof *ub);
            memcpy(ua, &as[i], sizeof *ua);
            if (i + half < live) {
                mul_monomial(&t[0], &bs[i + half], half);
                mul_monomial(&t[1], &as[i + half], half);
                poly_add(&bs[i], &t[0]);
                poly_add(&as[i], &t[1]);
                poly_sub(ub, &t[0]);
                poly_sub(ua, &t[1]);
            }
            ct_auto_w(ub, ua, key, &t[4], w);
            poly_add(&bs[i], ub);
            poly_add(&as[i], ua);
        }
        if (live > half) live = half;
    }
    ks_work_free(w);
    mem_wipe(t, 6 * sizeof *t);
    mem_free(t);
}
