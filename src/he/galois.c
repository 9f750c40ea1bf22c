/* Galois keys, automorphisms, key switching and packing at the level
 * q0*q1; see he.h for the contracts, docs/PROTOCOLS.md §7 ("Output
 * packing") for the packing tree and docs/SECURITY-HE.md for the noise and
 * the assumptions.
 *
 * Rows 0 and 1 of an he_polyx are q0 and q1, row 2 the special prime P.
 * Everything computed from a ciphertext (its digits, their signs, the
 * rescaling and modulus switching) is done without branches on the values:
 * on the server they derive from the weights. */
#include "he/he.h"

#include "util/bits.h"
#include "util/ct.h"
#include "util/mem.h"

#include <string.h>

static const uint8_t gk_magic[4] = {'P', 'G', 'K', '2'};

/* The prime of key row r. */
static const he_prime *row_prime(const he_params *P, int r) {
    return r < HE_KS_DIGITS ? &P->p[r] : &P->sp;
}

/* v (a small signed value, below every prime) mod q. */
static void small_row(uint64_t *row, const int8_t *v, uint64_t q) {
    for (size_t j = 0; j < HE_N; j++) {
        int64_t x = v[j];
        uint64_t neg = (uint64_t)(x >> 63);
        uint64_t mag = ((uint64_t)x ^ neg) - neg;
        row[j] = (mag & ~neg) | ((q - mag) & neg & (0 - (uint64_t)(mag != 0)));
    }
}

/* The centred value of v in [0, qv) (|.| <= qv/2 < q) mod q. */
static inline uint64_t centred_mod(uint64_t v, uint64_t qv, uint64_t q) {
    uint64_t neg = 0 - (uint64_t)(v > (qv >> 1));
    uint64_t mag = (v & ~neg) | ((qv - v) & neg);
    return (mag & ~neg) | ((q - mag) & neg & (0 - (uint64_t)(mag != 0)));
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
    for (int r = 0; r < HE_KS_DIGITS; r++) {
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

void he_rescale01(he_poly *b, he_poly *a) {
    const he_params *P = he_params_get();
    const uint64_t q2 = P->p[2].q;
    for (int part = 0; part < 2; part++) {
        he_poly *x = part ? a : b;
        for (int r = 0; r < 2; r++) {
            const uint64_t q = P->p[r].q;
            for (size_t j = 0; j < HE_N; j++)
                x->c[r][j] = he_mul_shoup(
                    P->q2_inv[r], P->q2_inv_s[r],
                    he_submod(x->c[r][j], centred_mod(x->c[2][j], q2, q), q), q);
        }
    }
}

/* floor(x * 2^k / D), x < D < 2^97, 1 <= k <= 64, and whether the
 * remainder is at least D/2: long division, one bit at a time, without
 * branches on x. */
static uint64_t div_round(he_u128 x, he_u128 D, unsigned k) {
    he_u128 r = x;
    uint64_t q = 0;
    for (unsigned i = 0; i < k; i++) {
        r <<= 1;
        he_u128 ge = 0 - (he_u128)(r >= D);
        q = (q << 1) | (uint64_t)(ge & 1);
        r -= D & ge;
    }
    /* round half up: 2r >= D */
    return q + (uint64_t)((r << 1) >= D);
}

void he_modswitch01(uint64_t *out, const he_poly *a, const uint32_t *pos, size_t n, unsigned k) {
    PARLEY_CHECK(k >= 1 && k <= 64);
    const he_params *P = he_params_get();
    const uint64_t mask = bits_mask(k);
    for (size_t j = 0; j < n; j++) {
        size_t at = pos ? pos[j] : j;
        /* x/(q0 q1) = y0/q0 + y1/q1 mod 1, y_i = c_i * (q0 q1 / q_i)^-1 mod q_i */
        uint64_t A = 0;
        he_u128 f = 0; /* sum of r_i/q_i, 64.64 fixed point, from below */
        for (int i = 0; i < 2; i++) {
            const he_prime *p = &P->p[i];
            he_ms_term(p, he_mul_shoup(P->crt01[i], P->crt01_s[i], a->c[i][at], p->q), k, &A, &f);
        }
        /* the true sum lies in [f, f + 4) units of 2^-64 */
        uint64_t fi = (uint64_t)(f >> 64), ff = (uint64_t)f;
        const uint64_t half = 1ULL << 63;
        if (ff >= half || ff < half - 4) {
            out[j] = (A + fi + (uint64_t)(ff >= half)) & mask;
        } else { /* within 2^-62 of a tie (probability 2^-62): divide exactly */
            const he_prime *p0 = &P->p[0], *p1 = &P->p[1];
            uint64_t c0 = a->c[0][at], c1 = a->c[1][at];
            uint64_t t = he_mul_shoup(P->q0_inv_mod_q1, P->q0_inv_mod_q1_s,
                                      he_submod(c1, he_red128(c0, p1), p1->q), p1->q);
            he_u128 x = (he_u128)c0 + (he_u128)p0->q * t;
            out[j] = div_round(x, P->Q01, k) & mask;
        }
    }
}

/* The Shoup constants of a key's rows (the key switch multiplies by them). */
static void key_shoup(he_gkey *k) {
    const he_params *P = he_params_get();
    for (int i = 0; i < HE_KS_DIGITS; i++)
        for (int r = 0; r < HE_KS_ROWS; r++) {
            const uint64_t q = row_prime(P, r)->q;
            for (size_t j = 0; j < HE_N; j++) {
                k->bs[i].c[r][j] = he_shoup(k->b[i].c[r][j], q);
                k->as[i].c[r][j] = he_shoup(k->a[i].c[r][j], q);
            }
        }
}

/* The a_i of a key: digit i's rows from a seed derived from the key's. */
static void expand_key_a(he_gkey *k) {
    const he_params *P = he_params_get();
    for (int i = 0; i < HE_KS_DIGITS; i++) {
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
    ct_declassify(k->seed, HE_SEED_BYTES); /* sent with the key: its a_i are public */
    expand_key_a(k);
    /* the secret in every row (NTT domain), and tau_g(s) in the rows of q0, q1 */
    he_polyx *s = mem_alloc(2, sizeof *s);
    int8_t *small = mem_alloc(HE_N, 1);
    PARLEY_CHECK(s && small);
    he_polyx *st = s + 1;
    for (int r = 0; r < HE_KS_ROWS; r++) {
        const he_prime *p = row_prime(P, r);
        small_row(s->c[r], sk->s, p->q);
        he_ntt_fwd(p, s->c[r]);
    }
    auto_small(small, sk->s, galois);
    for (int r = 0; r < HE_KS_DIGITS; r++) {
        small_row(st->c[r], small, P->p[r].q);
        he_ntt_fwd(&P->p[r], st->c[r]);
    }
    for (int i = 0; i < HE_KS_DIGITS; i++) {
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
            if (r == i) { /* the gadget term: P * tau_g(s) in row i only */
                uint64_t pm = P->sp.q % p->q, pms = he_shoup(pm, p->q);
                for (size_t j = 0; j < HE_N; j++)
                    b[j] = he_addmod(b[j], he_mul_shoup(pm, pms, st->c[r][j], p->q), p->q);
            }
        }
    }
    /* the key is public (the client sends it): its Shoup constants, which
     * only a party that switches with it needs, are computed in the open */
    ct_declassify(k->b, sizeof k->b);
    key_shoup(k);
    mem_wipe(small, HE_N);
    mem_wipe(s, 2 * sizeof *s);
    mem_free(small);
    mem_free(s);
}

static unsigned key_row_bits(void) {
    const he_params *P = he_params_get();
    return P->p[0].bits + P->p[1].bits + P->sp.bits;
}

size_t he_gkey_bytes(void) {
    return sizeof gk_magic + 4 + HE_SEED_BYTES +
           bits_bytes((size_t)HE_KS_DIGITS * HE_N * key_row_bits());
}

void he_gkey_pack(uint8_t *out, const he_gkey *k) {
    const he_params *P = he_params_get();
    memcpy(out, gk_magic, sizeof gk_magic);
    for (int b = 0; b < 4; b++)
        out[4 + b] = (uint8_t)(k->g >> (8 * b));
    memcpy(out + 8, k->seed, HE_SEED_BYTES);
    bitw w = bitw_start(out + 8 + HE_SEED_BYTES);
    for (int i = 0; i < HE_KS_DIGITS; i++)
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
                                       "version 2)");
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
    for (int i = 0; i < HE_KS_DIGITS; i++)
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
    key_shoup(k);
    return 0;
}

/* A key switch's and the tree's scratch. */
struct he_pack_work {
    he_polyx dig[HE_KS_DIGITS]; /* the digits in every row, NTT domain */
    he_polyx c[2];              /* the two sums */
    he_u128 acc[HE_N];
    he_poly t[4]; /* tau(U) switched (b, a); U = E - X^s O (b, a) */
};

he_pack_work *he_pack_work_new(void) {
    return mem_alloc(1, sizeof(he_pack_work));
}

void he_pack_work_free(he_pack_work *w) {
    if (!w) return;
    mem_wipe(w, sizeof *w);
    mem_free(w);
}

/* The centred value of v in [0, P) reduced mod p (|.| may exceed p);
 * one_s = he_shoup(1, p). */
static inline uint64_t centred_mod_big(uint64_t v, uint64_t P, const he_prime *p,
                                       uint64_t one_s) {
    uint64_t neg = 0 - (uint64_t)(v > (P >> 1));
    uint64_t mag = he_mul_shoup(1, one_s, (v & ~neg) | ((P - v) & neg), p->q);
    return (mag & ~neg) | ((p->q - mag) & neg & (0 - (uint64_t)(mag != 0)));
}

/* c <- (c - centred(c mod P)) / P in rows q0, q1, all in the coefficient
 * domain (c arrives in the NTT domain, every row): the subtraction needs no
 * transform of the lifted remainder. */
static void mod_down(he_polyx *c) {
    const he_params *P = he_params_get();
    he_ntt_inv(&P->sp, c->c[HE_KS_DIGITS]);
    for (int r = 0; r < HE_KS_DIGITS; r++) {
        const he_prime *p = &P->p[r];
        const uint64_t one_s = he_shoup(1, p->q);
        he_ntt_inv(p, c->c[r]);
        for (size_t j = 0; j < HE_N; j++)
            c->c[r][j] = he_mul_shoup(P->sp_inv[r], P->sp_inv_s[r],
                                      he_submod(c->c[r][j],
                                                centred_mod_big(c->c[HE_KS_DIGITS][j], P->sp.q, p,
                                                                one_s),
                                                p->q),
                                      p->q);
    }
}

static void keyswitch_w(he_poly *b, he_poly *a, const he_gkey *k, he_pack_work *w) {
    const he_params *P = he_params_get();
    for (int i = 0; i < HE_KS_DIGITS; i++) {
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
            const uint64_t *k0 = part ? k->a[0].c[r] : k->b[0].c[r];
            const uint64_t *k1 = part ? k->a[1].c[r] : k->b[1].c[r];
            const uint64_t *s0 = part ? k->as[0].c[r] : k->bs[0].c[r];
            const uint64_t *s1 = part ? k->as[1].c[r] : k->bs[1].c[r];
            const uint64_t *d0 = w->dig[0].c[r], *d1 = w->dig[1].c[r];
            uint64_t *out = w->c[part].c[r];
            const uint64_t q = p->q;
            for (size_t j = 0; j < HE_N; j++) { /* two lazy products in [0, 2q) each */
                uint64_t v = he_mul_shoup_lazy(k0[j], s0[j], d0[j], q) +
                             he_mul_shoup_lazy(k1[j], s1[j], d1[j], q);
                v = v >= 2 * q ? v - 2 * q : v;
                out[j] = v >= q ? v - q : v;
            }
        }
    mod_down(&w->c[0]);
    mod_down(&w->c[1]);
    for (int r = 0; r < HE_KS_DIGITS; r++) {
        const uint64_t q = P->p[r].q;
        for (size_t j = 0; j < HE_N; j++)
            b->c[r][j] = he_addmod(b->c[r][j], w->c[0].c[r][j], q);
        memcpy(a->c[r], w->c[1].c[r], HE_N * sizeof a->c[r][0]);
    }
}

/* tau_g(U) switched back to s, into w->t[0] (b) and w->t[1] (a). */
static void auto_switch(const he_poly *ub, const he_poly *ua, const he_gkey *k, he_pack_work *w) {
    he_auto_coeff(&w->t[0], ub, k->g);
    he_auto_coeff(&w->t[1], ua, k->g);
    keyswitch_w(&w->t[0], &w->t[1], k, w);
}

void he_ct_auto(he_poly *b, he_poly *a, const he_gkey *k) {
    he_pack_work *w = he_pack_work_new();
    PARLEY_CHECK(w);
    auto_switch(b, a, k, w);
    for (int r = 0; r < HE_KS_DIGITS; r++) {
        memcpy(b->c[r], w->t[0].c[r], sizeof b->c[r]);
        memcpy(a->c[r], w->t[1].c[r], sizeof a->c[r]);
    }
    he_pack_work_free(w);
}

/* One pass over a row of E, O: E += X^s O and U = E - X^s O
 * (negacyclic, 0 < s < N); without O, U = E. */
static void fold_row(uint64_t *e, const uint64_t *o, uint64_t *u, size_t s, uint64_t q) {
    if (!o) {
        memcpy(u, e, HE_N * sizeof *u);
        return;
    }
    for (size_t j = 0; j + s < HE_N; j++) {
        uint64_t x = e[j + s], y = o[j];
        e[j + s] = he_addmod(x, y, q);
        u[j + s] = he_submod(x, y, q);
    }
    for (size_t j = HE_N - s; j < HE_N; j++) { /* X^N = -1 */
        uint64_t x = e[j + s - HE_N], y = o[j];
        e[j + s - HE_N] = he_submod(x, y, q);
        u[j + s - HE_N] = he_addmod(x, y, q);
    }
}

/* E += tau_g(U) switched back to s. */
static void add_auto(he_poly *eb, he_poly *ea, const he_poly *ub, const he_poly *ua,
                     const he_gkey *k, he_pack_work *w) {
    const he_params *P = he_params_get();
    auto_switch(ub, ua, k, w);
    for (int r = 0; r < HE_KS_DIGITS; r++) {
        const uint64_t q = P->p[r].q;
        for (size_t j = 0; j < HE_N; j++) {
            eb->c[r][j] = he_addmod(eb->c[r][j], w->t[0].c[r][j], q);
            ea->c[r][j] = he_addmod(ea->c[r][j], w->t[1].c[r][j], q);
        }
    }
}

void he_pack(he_poly *bs, he_poly *as, size_t n, unsigned k, const he_gkey *keys,
             he_pack_work *w) {
    PARLEY_CHECK(k <= HE_PACK_MAX_LOG && n >= 1 && n <= ((size_t)1 << k));
    const he_params *P = he_params_get();
    he_pack_work *own = NULL;
    if (!w) {
        w = own = he_pack_work_new();
        PARLEY_CHECK(w);
    }
    /* scale by 2^-k: the tree multiplies every kept value by 2^k */
    for (int r = 0; r < HE_KS_DIGITS; r++) {
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
    he_poly *ub = &w->t[2], *ua = &w->t[3];
    size_t live = n;
    for (unsigned m = k; m-- > 0;) {
        const size_t half = (size_t)1 << m;
        const he_gkey *key = &keys[m];
        PARLEY_CHECK(key->g == he_pack_galois(m));
        for (size_t i = 0; i < half && i < live; i++) {
            const int pair = i + half < live;
            for (int r = 0; r < HE_KS_DIGITS; r++) {
                const uint64_t q = P->p[r].q;
                fold_row(bs[i].c[r], pair ? bs[i + half].c[r] : NULL, ub->c[r], half, q);
                fold_row(as[i].c[r], pair ? as[i + half].c[r] : NULL, ua->c[r], half, q);
            }
            add_auto(&bs[i], &as[i], ub, ua, key, w);
        }
        if (live > half) live = half;
    }
    he_pack_work_free(own);
}

uint64_t he_pack_switches(size_t n) {
    unsigned k = n > 1 ? bits_ceil_log2(n) : 0;
    uint64_t cnt = 0;
    size_t live = n;
    for (unsigned m = k; m-- > 0;) {
        size_t half = (size_t)1 << m;
        cnt += live < half ? live : half;
        if (live > half) live = half;
    }
    return cnt;
}
