/* HE-mode linear layers: the two-flight protocol of lin_he.h over the plan
 * of plan.h.
 *
 * Work is split across the party's lanes twice per layer, the same way on
 * both sides: the input ciphertexts (C encrypts and sends, S parses, adds
 * its share, transforms), then the output ciphertexts (S computes and sends,
 * C decrypts), ordered output-group first so that a lane reuses each
 * transformed weight polynomial for all the tiles in its range. S's lanes
 * share the transformed inputs read-only. If the transformed inputs of a
 * layer would exceed LIN_HE_MEM bytes, the tiles are processed in chunks,
 * two flights each. */
#include "lin/he/lin_he.h"

#include "lin/he/plan.h"
#include "lin/ot/lin_ot.h"
#include "util/bits.h"
#include "util/mem.h"

#include <math.h>
#include <string.h>

#define LIN_HE_MEM (256u << 20) /* server memory for transformed input ciphertexts */
#define LIN_HE_RUN 4            /* tiles accumulated at once per output group */
#define LIN_HE_MAC_FOLD 65536   /* products per 128-bit accumulator before reducing */
#define LIN_HE_WCHUNK 32        /* weight polynomials transformed and applied together */

typedef struct out_bufs {
    he_u128 *acc;        /* LIN_HE_RUN x (b, a) x HE_L x HE_N */
    he_u128 *tmp;        /* one row */
    he_poly *wp, *B, *A; /* wp: LIN_HE_WCHUNK weight polynomials */
    const he_poly *wpp[LIN_HE_WCHUNK]; /* the chunk's: in wp, or in the model's cache */
    const uint64_t *wrow[LIN_HE_WCHUNK], *xrow[2][LIN_HE_WCHUNK];
    uint32_t *pos;
    size_t *yidx;
    uint64_t *am, *bm, *mk;
    uint8_t *wire;
    /* S, packed plans: a block's ciphertexts before he_pack (gcap each) */
    he_poly *gb, *ga;
    size_t gcap;
    he_pack_work *pw;
} out_bufs;

struct lin_he {
    int role;
    uint64_t layer;                 /* layers run so far: part of every a's seed */
    uint8_t session[HE_SEED_BYTES]; /* C's public seed for the a's of the session */
    he_sk *sk;                      /* C only */
    he_pk *pk;                      /* S only */
    he_gkey *gk;                    /* S only: the Galois keys of packing levels 0..HE_PACK_MAX_LOG-1 */
    /* buffers kept across layers (fresh pages cost more than the work on
     * small layers): S's transformed inputs, and each lane's work space */
    he_poly *in;
    size_t in_cap;      /* polynomials */
    uint64_t mem_limit; /* bytes of transformed inputs per chunk */
    out_bufs *ob[LANES_MAX];
    uint64_t outs;      /* coefficients the session may return in all */
    uint64_t outs_used; /* returned so far (both parties count the same) */
    double h2;          /* the sum of their squared Hellinger bounds (he.h) */
    const lin_he_wcache *wc; /* S: the model's transformed weights (NULL: none) */
    uint64_t wc_layers, wc_polys; /* S: layers and weight polynomials read from it */
};

static void out_free(out_bufs *o);

uint64_t lin_he_setup_bytes(void) {
    return he_pk_bytes() + HE_SEED_BYTES + (uint64_t)HE_PACK_MAX_LOG * he_gkey_bytes();
}

void lin_he_set_chunk_bytes(lin_he *h, uint64_t bytes) {
    h->mem_limit = bytes;
}

void lin_he_set_outputs(lin_he *h, uint64_t outs) {
    PARLEY_CHECK(h->outs_used == 0); /* before the first layer */
    h->outs = outs ? outs : 1;
}

uint64_t lin_he_outputs_used(const lin_he *h) {
    return h->outs_used;
}

double lin_he_stat_bits(const lin_he *h) {
    return he_stat_bits_of(h->h2);
}

int lin_he_setup(party *p, lin_he **out) {
    *out = NULL;
    lin_he *h = mem_calloc(1, sizeof *h);
    size_t nb = (size_t)lin_he_setup_bytes();
    uint8_t *buf = mem_alloc(nb, 1);
    he_pk *pk = mem_alloc(1, sizeof *pk);
    int rc = (!h || !buf || !pk) ? PARLEY_E_NOMEM : 0;
    mpc_lane *L = &p->lanes[0];
    if (rc == 0) {
        h->role = p->role;
        h->mem_limit = LIN_HE_MEM;
        h->outs = LIN_HE_OUTS_DEFAULT;
        if (p->role == MPC_CLIENT) {
            h->sk = mem_alloc(1, sizeof *h->sk);
            if (!h->sk) {
                rc = PARLEY_E_NOMEM;
            } else {
                he_sk_gen(&L->ot.rng, h->sk);
                he_pk_gen(&L->ot.rng, pk, h->sk);
                prg_bytes(&L->ot.rng, h->session, HE_SEED_BYTES);
                he_pk_pack(buf, pk);
                memcpy(buf + he_pk_bytes(), h->session, HE_SEED_BYTES);
                he_gkey *gk = mem_alloc(1, sizeof *gk);
                if (!gk) rc = PARLEY_E_NOMEM;
                for (unsigned m = 0; m < HE_PACK_MAX_LOG && rc == 0; m++) {
                    he_gkey_gen(&L->ot.rng, gk, h->sk, he_pack_galois(m));
                    he_gkey_pack(buf + he_pk_bytes() + HE_SEED_BYTES + m * he_gkey_bytes(), gk);
                }
                mem_free(gk);
                if (rc == 0) rc = chan_send(L->ot.ch, buf, nb);
                if (rc == 0) rc = chan_flush(L->ot.ch);
            }
            mem_free(pk);
        } else {
            rc = chan_recv(L->ot.ch, buf, nb);
            if (rc == 0) rc = he_pk_unpack(pk, buf, he_pk_bytes());
            if (rc == 0) {
                memcpy(h->session, buf + he_pk_bytes(), HE_SEED_BYTES);
                h->pk = pk;
                h->gk = mem_alloc(HE_PACK_MAX_LOG, sizeof *h->gk);
                if (!h->gk) rc = PARLEY_E_NOMEM;
                for (unsigned m = 0; m < HE_PACK_MAX_LOG && rc == 0; m++) {
                    rc = he_gkey_unpack(&h->gk[m],
                                        buf + he_pk_bytes() + HE_SEED_BYTES + m * he_gkey_bytes(),
                                        he_gkey_bytes());
                    if (rc == 0 && h->gk[m].g != he_pack_galois(m))
                        rc = err_set(PARLEY_E_PROTO,
                                     "HE Galois key %u: automorphism X -> X^%u, expected X^%u", m,
                                     h->gk[m].g, he_pack_galois(m));
                }
            } else {
                mem_free(pk);
            }
        }
    } else {
        mem_free(pk);
    }
    mem_free(buf);
    if (rc < 0) {
        lin_he_free(h);
        return err_wrap(rc, "HE set-up");
    }
    *out = h;
    return 0;
}

void lin_he_free(lin_he *h) {
    if (!h) return;
    for (unsigned i = 0; i < LANES_MAX; i++)
        if (h->ob[i]) {
            out_free(h->ob[i]);
            mem_free(h->ob[i]);
        }
    mem_free_wipe(h->in, h->in_cap * sizeof *h->in);
    if (h->sk) {
        he_sk_clear(h->sk);
        mem_free(h->sk);
    }
    mem_free(h->pk);
    mem_free(h->gk);
    mem_free_wipe(h, sizeof *h);
}

/* ---- one layer ---- */

typedef struct run {
    lin_he *h;
    const lin_he_plan *pl;
    const uint64_t *x, *w;
    uint64_t *y;
    he_encoder enc;
    uint64_t layer;
    uint64_t u0, nu;      /* the chunk of units */
    he_poly *in_b, *in_a; /* S: transformed inputs of the chunk, nu * ncb each */
    /* S: the layer's weight polynomials in the NTT domain from the model's
     * cache (NULL: made here), (og, cb) at wc[wc_off[og] + cb - cb_lo[og]] */
    const he_poly *wc;
    const uint64_t *wc_off;
} run;

/* Phase 1, items = input ciphertexts (unit-major) of the chunk. */
static int job_in(mpc_lane *L, void *v, size_t first, size_t count) {
    run *r = v;
    const lin_he_plan *pl = r->pl;
    chan *ch = L->ot.ch;
    const size_t pb = he_in_bytes(pl->drop);
    uint64_t *m = mem_alloc(HE_N, sizeof *m);
    uint8_t *buf = mem_alloc(pb, 1);
    he_poly *tmp = L->role == MPC_CLIENT ? mem_alloc(1, sizeof *tmp) : NULL;
    int rc = (!m || !buf || (L->role == MPC_CLIENT && !tmp)) ? PARLEY_E_NOMEM : 0;
    for (size_t k = first; k < first + count && rc == 0; k++) {
        uint64_t unit = r->u0 + k / pl->ncb;
        unsigned cb = (unsigned)(k % pl->ncb);
        uint8_t seed[HE_SEED_BYTES];
        he_derive_seed(seed, r->h->session, r->layer, unit * pl->ncb + cb);
        lin_he_plan_gather(pl, m, r->x, unit, cb);
        if (L->role == MPC_CLIENT) {
            he_encrypt_sk(&L->ot.rng, tmp, r->h->sk, seed, &r->enc, m);
            he_in_pack(buf, tmp, pl->drop, &L->ot.rng);
            rc = chan_send(ch, buf, pb);
        } else {
            rc = chan_recv(ch, buf, pb);
            if (rc == 0) {
                he_poly *b = &r->in_b[k];
                rc = he_in_unpack(b, buf, pb, pl->drop);
                if (rc < 0) {
                    rc = err_wrap(rc, "HE layer %llu, input ciphertext %llu",
                                  (unsigned long long)r->layer,
                                  (unsigned long long)(unit * pl->ncb + cb));
                    break;
                }
                he_encode_add(&r->enc, &L->ot.rng, b, NULL, m, HE_N);
                he_poly_ntt(b);
                he_expand_a(&r->in_a[k], seed);
                if (pl->perm) { /* flat plans keep inputs in the automorphism's order */
                    for (int part = 0; part < 2; part++) {
                        he_poly *x = part ? &r->in_a[k] : b;
                        for (int i = 0; i < HE_L; i++) {
                            memcpy(m, x->c[i], HE_N * sizeof *m);
                            for (size_t j = 0; j < HE_N; j++)
                                x->c[i][pl->perm[j]] = m[j];
                        }
                    }
                }
            }
        }
    }
    if (rc == 0 && L->role == MPC_CLIENT) rc = chan_flush(ch);
    mem_free_wipe(m, m ? HE_N * sizeof *m : 0);
    mem_free(buf);
    mem_free_wipe(tmp, tmp ? sizeof *tmp : 0);
    return rc;
}

static void out_free(out_bufs *o) {
    mem_free_wipe(o->acc, o->acc ? (size_t)LIN_HE_RUN * 2 * HE_L * HE_N * sizeof(he_u128) : 0);
    mem_free_wipe(o->wp, o->wp ? LIN_HE_WCHUNK * sizeof *o->wp : 0);
    mem_free_wipe(o->tmp, o->tmp ? HE_N * sizeof *o->tmp : 0);
    mem_free_wipe(o->B, o->B ? sizeof *o->B : 0);
    mem_free_wipe(o->A, o->A ? sizeof *o->A : 0);
    mem_free(o->pos);
    mem_free(o->yidx);
    mem_free_wipe(o->am, o->am ? HE_N * 8 : 0);
    mem_free_wipe(o->bm, o->bm ? HE_N * 8 : 0);
    mem_free_wipe(o->mk, o->mk ? HE_N * 8 : 0);
    mem_free(o->wire);
    mem_free_wipe(o->gb, o->gcap * sizeof *o->gb);
    mem_free_wipe(o->ga, o->gcap * sizeof *o->ga);
    he_pack_work_free(o->pw);
}

static int out_alloc(out_bufs *o, int server) {
    memset(o, 0, sizeof *o);
    if (server) {
        o->acc = mem_alloc((size_t)LIN_HE_RUN * 2 * HE_L * HE_N, sizeof(he_u128));
        o->wp = mem_alloc(LIN_HE_WCHUNK, sizeof *o->wp);
        o->tmp = mem_alloc(HE_N, sizeof *o->tmp);
        o->B = mem_alloc(1, sizeof *o->B);
        o->A = mem_alloc(1, sizeof *o->A);
        if (!o->acc || !o->wp || !o->B || !o->A || !o->tmp) return PARLEY_E_NOMEM;
    }
    o->mk = mem_alloc(HE_N, 8);
    o->pos = mem_alloc(HE_N, sizeof *o->pos);
    o->yidx = mem_alloc(HE_N, sizeof *o->yidx);
    o->am = mem_alloc(HE_N, 8);
    o->bm = mem_alloc(HE_N, 8);
    o->wire = mem_alloc(he_out_bytes(HE_N, 64, 64), 1);
    if (!o->pos || !o->yidx || !o->am || !o->bm || !o->mk || !o->wire) return PARLEY_E_NOMEM;
    return 0;
}

/* S: weight polynomial (og, cb) of the layer in the NTT domain. */
static void wpoly_make(const lin_he_plan *pl, const he_params *P, he_poly *wp, const uint64_t *w,
                       unsigned og, unsigned cb) {
    if (pl->flat) { /* the compact polynomial, pruned transform */
        lin_he_plan_wpoly_compact(pl, wp, w, og, cb);
        for (int i = 0; i < HE_L; i++)
            he_ntt_fwd_pruned(&P->p[i], wp->c[i], pl->logm);
    } else {
        lin_he_plan_wpoly(pl, wp, w, og, cb);
        he_poly_ntt(wp);
    }
}

/* S: the sums of G output groups og0.. on T tiles t0.. of the chunk, into
 * accumulator slots 0..G*T-1 (slot t + g; G > 1 only with T == 1): either
 * one output group on T tiles (each weight polynomial serves T inputs) or
 * G output groups on one tile without convolution groups (each input row
 * is read once for the G sums). */
static void acc_sums(run *r, out_bufs *o, unsigned og0, unsigned G, size_t t0, size_t T) {
    const lin_he_plan *pl = r->pl;
    const he_params *P = he_params_get();
    PARLEY_CHECK(G == 1 || (T == 1 && pl->c.groups == 1));
    const size_t rowsz = (size_t)HE_L * HE_N;
    const unsigned chunk = LIN_HE_WCHUNK / G;
    memset(o->acc, 0, (size_t)G * T * 2 * rowsz * sizeof(he_u128));
    unsigned macs = 0;
    for (unsigned cb0 = pl->cb_lo[og0]; cb0 <= pl->cb_hi[og0]; cb0 += chunk) {
        unsigned cnt = pl->cb_hi[og0] - cb0 + 1;
        if (cnt > chunk) cnt = chunk;
        if (macs + cnt >= LIN_HE_MAC_FOLD) { /* keep the 128-bit sums from overflowing */
            for (size_t t = 0; t < 2 * (size_t)G * T; t++) {
                he_reduce(o->B, o->acc + t * rowsz);
                for (int i = 0; i < HE_L; i++)
                    for (size_t j = 0; j < HE_N; j++)
                        o->acc[t * rowsz + (size_t)i * HE_N + j] = o->B->c[i][j];
            }
            macs = 0;
        }
        macs += cnt;
        for (unsigned g = 0; g < G; g++)
            for (unsigned q = 0; q < cnt; q++) {
                unsigned og = og0 + g;
                if (r->wc) { /* transformed before the input */
                    o->wpp[g * cnt + q] = &r->wc[r->wc_off[og] + cb0 + q - pl->cb_lo[og]];
                    continue;
                }
                he_poly *wp = &o->wp[g * cnt + q];
                wpoly_make(pl, P, wp, r->w, og, cb0 + q);
                o->wpp[g * cnt + q] = wp;
            }
        /* every product of the chunk in one pass over each accumulator row */
        for (size_t t = 0; t < T; t++) {
            size_t in0 = (t0 + t) * pl->ncb + cb0;
            /* the b and a parts against the same weight rows, read once */
            for (int i = 0; i < HE_L; i++) {
                he_u128 *accs[2][LIN_HE_RUN];
                for (int part = 0; part < 2; part++) {
                    const he_poly *src = part ? r->in_a : r->in_b;
                    for (unsigned g = 0; g < G; g++)
                        accs[part][g] =
                            o->acc + (2 * (t + g) + (size_t)part) * rowsz + (size_t)i * HE_N;
                    for (unsigned q = 0; q < cnt; q++)
                        o->xrow[part][q] = src[in0 + q].c[i];
                }
                for (unsigned q = 0; q < G * cnt; q++)
                    o->wrow[q] = o->wpp[q]->c[i];
                he_mac_rows_multi2(accs[0], accs[1], o->wrow, o->xrow[0], o->xrow[1], G, cnt);
            }
        }
    }
}

/* S: re-randomise slot t's sums with a public-key encryption of zero and
 * bring them to the coefficient domain in (B, A); CBD noise on a and on
 * the n positions pos of b (pos NULL: all). */
static void acc_finish(mpc_lane *L, run *r, out_bufs *o, size_t t, he_poly *B, he_poly *A,
                       const uint32_t *pos, size_t n) {
    const lin_he_plan *pl = r->pl;
    const size_t rowsz = (size_t)HE_L * HE_N;
    he_u128 *ab = o->acc + 2 * t * rowsz, *aa = ab + rowsz;
    if (pl->perm) /* back from the automorphism's order: acc[j] = acc~[perm[j]] */
        for (size_t row = 0; row < 2 * HE_L; row++) {
            he_u128 *x = ab + row * HE_N;
            memcpy(o->tmp, x, HE_N * sizeof *x);
            for (size_t j = 0; j < HE_N; j++)
                x[j] = o->tmp[pl->perm[j]];
        }
    he_enc_zero_pk_ntt(&L->ot.rng, ab, aa, r->h->pk);
    he_reduce(B, ab);
    he_reduce(A, aa);
    he_poly_intt(B);
    he_poly_intt(A);
    he_add_cbd(&L->ot.rng, A, NULL, HE_N);
    he_add_cbd(&L->ot.rng, B, pos, pos ? n : HE_N);
}

/* S: flood the n kept coefficients pos of B, draw its share r there (into
 * y at yidx) and encode -r: the ciphertext carries W*x - r. */
static void out_mask(mpc_lane *L, run *r, out_bufs *o, he_poly *B, const uint32_t *pos,
                     const size_t *yidx, size_t n) {
    const lin_he_plan *pl = r->pl;
    const uint64_t lmask = bits_mask(pl->l);
    he_flood(&L->ot.rng, B, pos, n, pl->bud.beta);
    prg_ring(&L->ot.rng, o->mk, n, pl->l);
    for (size_t j = 0; j < n; j++) {
        r->y[yidx[j]] = o->mk[j];
        o->mk[j] = (0 - o->mk[j]) & lmask;
    }
    he_encode_add(&r->enc, NULL, B, pos, o->mk, n);
}

/* S: switch a and the nt kept coefficients o->pos of b to 2^ka and 2^kb
 * (from Q, or from q0*q1 for a packed ciphertext) and send. */
static int out_wire(mpc_lane *L, run *r, out_bufs *o, const he_poly *B, const he_poly *A,
                    size_t nt, int packed) {
    const lin_he_plan *pl = r->pl;
    void (*ms)(uint64_t *, const he_poly *, const uint32_t *, size_t, unsigned) =
        packed ? he_modswitch01 : he_modswitch;
    ms(o->am, A, NULL, HE_N, pl->bud.ka);
    ms(o->bm, B, o->pos, nt, pl->bud.kb);
    he_out_pack(o->wire, o->am, o->bm, nt, pl->bud.ka, pl->bud.kb);
    return chan_send(L->ot.ch, o->wire, he_out_bytes(nt, pl->bud.ka, pl->bud.kb));
}

/* S: the output ciphertexts of items [k, k + n) (unpacked plans). Either
 * one output group on n tiles, or, when the layer is one tile (nu == 1)
 * without groups, n output groups on that tile. */
static int out_server_run(mpc_lane *L, run *r, out_bufs *o, size_t k, size_t n) {
    const lin_he_plan *pl = r->pl;
    const int multi = r->nu == 1 && n > 1;
    if (multi)
        acc_sums(r, o, (unsigned)(k / r->nu), (unsigned)n, 0, 1);
    else
        acc_sums(r, o, (unsigned)(k / r->nu), 1, (size_t)(k % r->nu), n);
    for (size_t t = 0; t < n; t++) {
        uint64_t unit = r->u0 + (k + t) % r->nu;
        unsigned og = (unsigned)((k + t) / r->nu);
        size_t nt = lin_he_plan_targets(pl, o->pos, o->yidx, og, unit);
        acc_finish(L, r, o, t, o->B, o->A, o->pos, nt);
        out_mask(L, r, o, o->B, o->pos, o->yidx, nt);
        TRY(out_wire(L, r, o, o->B, o->A, nt, 0));
    }
    return 0;
}

/* S: returned ciphertext k of a packed plan: block bk = k / nu of Cw
 * output groups on tile k % nu. Each group's sums are re-randomised (so
 * the a's the key switches decompose are pseudorandom to C), flooded and
 * masked at its outputs as an unpacked one would be, and rescaled to
 * q0*q1; the block is packed there (group i's outputs move to their
 * positions + i), switched to 2^ka / 2^kb and sent as one ciphertext. */
static int out_server_block(mpc_lane *L, run *r, out_bufs *o, size_t k) {
    const lin_he_plan *pl = r->pl;
    const unsigned bk = (unsigned)(k / r->nu);
    const size_t t = k % r->nu;
    const uint64_t unit = r->u0 + t;
    const unsigned og0 = bk * pl->Cw;
    const unsigned nm = pl->nog - og0 < pl->Cw ? pl->nog - og0 : pl->Cw;
    if (o->gcap < pl->Cw) {
        mem_free_wipe(o->gb, o->gcap * sizeof *o->gb);
        mem_free_wipe(o->ga, o->gcap * sizeof *o->ga);
        o->gcap = 0;
        o->gb = mem_alloc(pl->Cw, sizeof *o->gb);
        o->ga = mem_alloc(pl->Cw, sizeof *o->ga);
        if (!o->gb || !o->ga) return err_set(PARLEY_E_NOMEM, "HE packing buffers");
        o->gcap = pl->Cw;
    }
    if (!o->pw && !(o->pw = he_pack_work_new()))
        return err_set(PARLEY_E_NOMEM, "HE packing buffers");
    const unsigned per = pl->c.groups == 1 ? LIN_HE_RUN : 1;
    size_t nt = 0;
    for (unsigned i0 = 0; i0 < nm; i0 += per) {
        unsigned G = nm - i0 < per ? nm - i0 : per;
        acc_sums(r, o, og0 + i0, G, t, 1);
        for (unsigned g = 0; g < G; g++) {
            unsigned i = i0 + g;
            he_poly *B = &o->gb[i], *A = &o->ga[i];
            uint32_t *pos = o->pos + nt;
            size_t *yidx = o->yidx + nt;
            size_t n = lin_he_plan_targets(pl, pos, yidx, og0 + i, unit);
            acc_finish(L, r, o, g, B, A, pos, n);
            out_mask(L, r, o, B, pos, yidx, n);
            he_rescale01(B, A);
            for (size_t j = 0; j < n; j++) /* where the pack puts them */
                pos[j] += i;
            nt += n;
        }
    }
    if (nm > 1) he_pack(o->gb, o->ga, nm, bits_ceil_log2(nm), r->h->gk, o->pw);
    return out_wire(L, r, o, &o->gb[0], &o->ga[0], nt, 1);
}

/* Phase 2, items = returned ciphertexts (output-group-major, or block-major
 * for packed plans) of the chunk. */
static int job_out(mpc_lane *L, void *v, size_t first, size_t count) {
    run *r = v;
    const lin_he_plan *pl = r->pl;
    const int server = L->role == MPC_SERVER;
    out_bufs *op = r->h->ob[L->index];
    int rc = 0;
    if (!op) {
        op = mem_alloc(1, sizeof *op);
        if (!op) return PARLEY_E_NOMEM;
        rc = out_alloc(op, server);
        if (rc < 0) {
            out_free(op);
            mem_free(op);
            return rc;
        }
        r->h->ob[L->index] = op; /* kept for the next layers, freed with h */
    }
    const size_t end = first + count;
    for (size_t k = first; k < end && rc == 0;) {
        if (server && pl->pk) {
            rc = out_server_block(L, r, op, k);
            k++;
        } else if (server) {
            size_t stop = k + LIN_HE_RUN;
            if (r->nu > 1 || pl->c.groups > 1) { /* one output group per run */
                size_t og_end = (k / r->nu + 1) * r->nu;
                if (stop > og_end) stop = og_end;
            }
            if (stop > end) stop = end;
            rc = out_server_run(L, r, op, k, stop - k);
            k = stop;
        } else {
            unsigned og = (unsigned)(k / r->nu);
            uint64_t unit = r->u0 + k % r->nu;
            size_t nt = pl->pk ? lin_he_plan_block_targets(pl, op->pos, op->yidx, og, unit)
                               : lin_he_plan_targets(pl, op->pos, op->yidx, og, unit);
            size_t nb = he_out_bytes(nt, pl->bud.ka, pl->bud.kb);
            rc = chan_recv(L->ot.ch, op->wire, nb);
            if (rc == 0)
                rc = he_out_unpack(op->am, op->bm, nt, pl->bud.ka, pl->bud.kb, op->wire, nb);
            if (rc == 0)
                rc = he_out_decrypt(op->mk, NULL, r->h->sk, op->am, op->bm, op->pos, nt, pl->bud.ka,
                                    pl->bud.kb, pl->l);
            if (rc < 0) {
                rc = err_wrap(rc, "HE layer %llu, output ciphertext %llu",
                              (unsigned long long)r->layer, (unsigned long long)k);
                break;
            }
            for (size_t j = 0; j < nt; j++)
                r->y[op->yidx[j]] = op->mk[j];
            k++;
        }
    }
    if (rc == 0 && server) rc = chan_flush(L->ot.ch);
    return rc;
}

/* ---- S's weight polynomials transformed before the input (lin_he.h) ---- */

/* The plan of a checked layer: the convolution it runs as. */
static int he_plan(lin_he_plan *pl, const lin_shape *checked, unsigned l, uint64_t outs) {
    lin_conv cv = lin_he_as_conv(checked);
    return lin_he_plan_make(pl, &cv, l, outs);
}

typedef struct wc_entry {
    const uint64_t *w; /* the layer's weights: the key, with the plan's inputs */
    lin_conv c;        /* the checked convolution the layer runs as */
    unsigned l;
    uint64_t outs;
    uint64_t n;     /* weight polynomials: the plan's wpolys, (og, cb) order */
    uint64_t *off;  /* per output group: its first polynomial */
    he_poly *polys; /* in the NTT domain (flat plans: the compact polynomial's) */
} wc_entry;

struct lin_he_wcache {
    wc_entry *e;
    size_t n, cap;
    uint64_t bytes; /* of the polynomials */
};

int lin_he_wcache_new(lin_he_wcache **out) {
    *out = mem_calloc(1, sizeof **out);
    return *out ? 0 : PARLEY_E_NOMEM;
}

void lin_he_wcache_free(lin_he_wcache *c) {
    if (!c) return;
    for (size_t i = 0; i < c->n; i++) { /* the weights are S's secret */
        mem_free_wipe(c->e[i].polys, c->e[i].n * sizeof(he_poly));
        mem_free(c->e[i].off);
    }
    mem_free_wipe(c->e, c->cap * sizeof *c->e);
    mem_free_wipe(c, sizeof *c);
}

uint64_t lin_he_wcache_bytes(const lin_he_wcache *c) {
    return c ? c->bytes : 0;
}

size_t lin_he_wcache_layers(const lin_he_wcache *c) {
    return c ? c->n : 0;
}

/* A SCALE (one private factor per channel) or an FC runs over OT when that
 * moves fewer bytes (docs/PROTOCOLS.md §7): a scale's HE form is a
 * depthwise convolution whose ciphertexts carry one product per
 * coefficient, an FC's a 1x1 convolution over the batch, which fills few
 * coefficients when the batch is small; OT's orientation B carries each
 * weight bit's correlation for a whole channel in one OT. Convolutions stay
 * in HE (their OT form moves one to two orders of magnitude more). Public
 * data alone decide, alike on both sides: 1 by OT, 0 by HE, < 0 an error
 * of the HE plan. */
static int he_plan(lin_he_plan *pl, const lin_shape *checked, unsigned l, uint64_t outs);

static int ot_choice(const lin_shape *checked, unsigned l, uint64_t he_bytes, lin_plan **ot) {
    *ot = NULL;
    if (checked->kind != LIN_SCALE && checked->kind != LIN_FC) return 0;
    if (lin_ot_plan(ot, checked, l, LIN_OT_AUTO) < 0) {
        err_clear(); /* OT cannot take it: HE decides */
        return 0;
    }
    if ((*ot)->bytes < he_bytes) return 1;
    lin_ot_ops.free(*ot);
    *ot = NULL;
    return 0;
}

static int by_ot_of(const lin_shape *s, unsigned l, uint64_t outs) {
    if (s->kind != LIN_SCALE && s->kind != LIN_FC) return 0;
    lin_shape c = *s;
    TRY(lin_check(&c));
    lin_he_plan pl;
    TRY(he_plan(&pl, &c, l, outs ? outs : LIN_HE_OUTS_DEFAULT));
    lin_plan *ot;
    int r = ot_choice(&c, l, pl.bytes_c2s + pl.bytes_s2c, &ot);
    lin_he_plan_free(&pl);
    if (ot) lin_ot_ops.free(ot);
    return r;
}

/* The plan a session with `outs` outputs makes for layer s (as ops_plan). */
static int wc_plan(lin_he_plan *pl, const lin_shape *s, unsigned l, uint64_t outs) {
    lin_shape c = *s;
    TRY(lin_check(&c));
    return he_plan(pl, &c, l, outs ? outs : LIN_HE_OUTS_DEFAULT);
}

int lin_he_wcache_cost(const lin_shape *s, unsigned l, uint64_t outs, uint64_t *bytes,
                       double *ns) {
    lin_he_plan pl;
    *bytes = 0;
    if (ns) *ns = 0;
    int by_ot = by_ot_of(s, l, outs);
    if (by_ot < 0) return by_ot;
    if (by_ot) return 0; /* no weight polynomials to keep */
    TRY(wc_plan(&pl, s, l, outs));
    *bytes = pl.wpolys * sizeof(he_poly);
    /* the transform it saves per inference: a full NTT per polynomial, or
     * the pruned transform's stages (as the planner prices them) */
    if (ns) *ns = (double)pl.wpolys * (double)lin_he_wpoly_ns(pl.flat, (uint64_t)pl.Ow * pl.Cw);
    lin_he_plan_free(&pl);
    return 0;
}

int lin_he_wcache_add(lin_he_wcache *c, const lin_shape *s, unsigned l, uint64_t outs,
                      const uint64_t *w) {
    return lin_he_wcache_add_keyed(c, s, l, outs, w, w);
}

int lin_he_wcache_add_keyed(lin_he_wcache *c, const lin_shape *s, unsigned l, uint64_t outs,
                            const uint64_t *w, const uint64_t *key) {
    PARLEY_CHECK(c && w && key);
    int by_ot = by_ot_of(s, l, outs);
    if (by_ot < 0) return by_ot;
    if (by_ot) return 0;
    lin_he_plan pl;
    TRY(wc_plan(&pl, s, l, outs));
    int rc = 0;
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 16;
        wc_entry *e = mem_calloc(cap, sizeof *e);
        if (!e) {
            rc = PARLEY_E_NOMEM;
        } else {
            if (c->n) memcpy(e, c->e, c->n * sizeof *e);
            mem_free_wipe(c->e, c->cap * sizeof *c->e);
            c->e = e;
            c->cap = cap;
        }
    }
    wc_entry en = {.w = key, .c = pl.c, .l = l, .outs = pl.outs, .n = pl.wpolys};
    if (rc == 0) {
        en.polys = mem_alloc(en.n, sizeof *en.polys);
        en.off = mem_alloc(pl.nog, sizeof *en.off);
        if (!en.polys || !en.off) rc = PARLEY_E_NOMEM;
    }
    if (rc == 0) {
        const he_params *P = he_params_get();
        uint64_t k = 0;
        for (unsigned og = 0; og < pl.nog; og++) {
            en.off[og] = k;
            for (unsigned cb = pl.cb_lo[og]; cb <= pl.cb_hi[og]; cb++)
                wpoly_make(&pl, P, &en.polys[k++], w, og, cb);
        }
        PARLEY_CHECK(k == en.n);
        c->e[c->n++] = en;
        c->bytes += en.n * sizeof *en.polys;
    } else {
        mem_free(en.polys);
        mem_free(en.off);
    }
    lin_he_plan_free(&pl);
    return rc;
}

void lin_he_use_wcache(lin_he *h, const lin_he_wcache *c) {
    h->wc = h->role == MPC_SERVER ? c : NULL;
}

uint64_t lin_he_wcache_layers_used(const lin_he *h) {
    return h->wc_layers;
}

uint64_t lin_he_wcache_polys_used(const lin_he *h) {
    return h->wc_polys;
}

static int conv_same(const lin_conv *a, const lin_conv *b) {
    return a->N == b->N && a->C == b->C && a->H == b->H && a->W == b->W && a->O == b->O &&
           a->kh == b->kh && a->kw == b->kw && a->sh == b->sh && a->sw == b->sw &&
           a->pt == b->pt && a->pl == b->pl && a->pb == b->pb && a->pr == b->pr &&
           a->dh == b->dh && a->dw == b->dw && a->groups == b->groups && a->wbits == b->wbits &&
           a->OH == b->OH && a->OW == b->OW;
}

/* The cache's polynomials for these weights under this plan: the same
 * weights (pointer) and the same inputs of the planner (so the same plan). */
static const wc_entry *wc_find(const lin_he_wcache *c, const lin_he_plan *pl, const uint64_t *w) {
    if (!c || !w) return NULL;
    for (size_t i = 0; i < c->n; i++) {
        const wc_entry *e = &c->e[i];
        if (e->w == w && e->l == pl->l && e->outs == pl->outs && conv_same(&e->c, &pl->c)) {
            PARLEY_CHECK(e->n == pl->wpolys);
            return e;
        }
    }
    return NULL;
}

/* One convolution on shares, planned for the session's outputs (h->outs). */
static int conv_run(party *p, lin_he *h, uint64_t *y, const uint64_t *x, const lin_he_plan *pl,
                    const uint64_t *w, const uint64_t *key) {
    PARLEY_CHECK(pl->outs == h->outs);
    const uint64_t nout = (uint64_t)pl->c.N * pl->c.O * pl->c.OH * pl->c.OW;
    if (nout > h->outs - h->outs_used) /* both parties, before any byte */
        return err_set(PARLEY_E_ARG,
                       "HE layer %llu returns %llu coefficients, but only %llu of the %llu the "
                       "session declared are left (its flood would fall short of %d bits per "
                       "inference)",
                       (unsigned long long)h->layer, (unsigned long long)nout,
                       (unsigned long long)(h->outs - h->outs_used), (unsigned long long)h->outs,
                       HE_STAT_BITS);
    run r = {.h = h, .pl = pl, .x = x, .w = w, .y = y, .layer = h->layer++};
    const wc_entry *wce = p->role == MPC_SERVER ? wc_find(h->wc, pl, key ? key : w) : NULL;
    if (wce) {
        r.wc = wce->polys;
        r.wc_off = wce->off;
    }
    he_encoder_init(&r.enc, pl->l);
    uint64_t per_unit = (uint64_t)pl->ncb * 2 * sizeof(he_poly);
    uint64_t chunk = h->mem_limit / per_unit;
    if (chunk < 1) chunk = 1;
    int rc = 0;
    for (uint64_t u0 = 0; u0 < pl->units && rc == 0; u0 += chunk) {
        r.u0 = u0;
        r.nu = pl->units - u0 < chunk ? pl->units - u0 : chunk;
        if (p->role == MPC_SERVER) {
            size_t need = 2 * (size_t)(r.nu * pl->ncb);
            if (need > h->in_cap) {
                mem_free_wipe(h->in, h->in_cap * sizeof *h->in);
                h->in_cap = 0;
                h->in = mem_alloc(need, sizeof *h->in);
                if (h->in) h->in_cap = need;
            }
            if (!h->in) {
                rc = party_fail(p,
                                err_set(PARLEY_E_NOMEM, "HE layer inputs (%zu polynomials)", need));
                break;
            }
            r.in_b = h->in;
            r.in_a = h->in + r.nu * pl->ncb;
        }
        if (rc == 0) rc = party_run(p, r.nu * pl->ncb, 1, job_in, &r);
        if (rc == 0) rc = party_run(p, r.nu * pl->nbk, 1, job_out, &r);
    }
    if (rc == 0) {
        if (wce) {
            h->wc_layers++;
            h->wc_polys += wce->n;
        }
        h->outs_used += nout;
        h->h2 += (double)nout * exp2(pl->bud.log2_h2);
        /* each coefficient is within 2^-81/outs and at most outs are returned */
        PARLEY_CHECK(h->h2 <= ldexp(1.0, -2 * HE_STAT_BITS - 1) * (1 + 1e-9));
    }
    return rc;
}

/* A 1x1 convolution, stride 1, no padding. */
static lin_conv conv_1x1(unsigned N, unsigned C, unsigned H, unsigned O, unsigned groups,
                         unsigned wbits) {
    return (lin_conv){.N = N,
                      .C = C,
                      .H = H,
                      .W = 1,
                      .O = O,
                      .kh = 1,
                      .kw = 1,
                      .sh = 1,
                      .sw = 1,
                      .dh = 1,
                      .dw = 1,
                      .groups = groups,
                      .wbits = wbits};
}

lin_conv lin_he_fc_as_conv(const lin_fc *f) {
    return conv_1x1(1, f->K, f->N, f->O, 1, f->wbits);
}

lin_conv lin_he_scale_as_conv(const lin_scale *s) {
    return conv_1x1(s->N, s->C, s->S, s->C, s->C, s->wbits);
}

lin_conv lin_he_as_conv(const lin_shape *s) {
    if (s->kind == LIN_FC) return lin_he_fc_as_conv(&s->p.fc);
    if (s->kind == LIN_SCALE) return lin_he_scale_as_conv(&s->p.scale);
    return s->p.conv;
}

/* An FC runs with the batch as the spatial axis: x'[k][n] = x[n][k],
 * y[n][o] = y'[o][n]. */
static int fc_run(party *p, lin_he *h, uint64_t *y, const uint64_t *x, const lin_fc *f,
                  const lin_he_plan *pl, const uint64_t *w, const uint64_t *key) {
    size_t nk = (size_t)f->N * f->K, no = (size_t)f->N * f->O;
    uint64_t *xt = mem_alloc(nk, 8), *yt = mem_alloc(no, 8);
    int rc = (!xt || !yt) ? party_fail(p, err_set(PARLEY_E_NOMEM, "HE fc transposes")) : 0;
    if (rc == 0) {
        for (size_t n = 0; n < f->N; n++)
            for (size_t k = 0; k < f->K; k++)
                xt[k * f->N + n] = x[n * f->K + k];
        rc = conv_run(p, h, yt, xt, pl, w, key);
    }
    if (rc == 0)
        for (size_t n = 0; n < f->N; n++)
            for (size_t o = 0; o < f->O; o++)
                y[n * f->O + o] = yt[o * f->N + n];
    mem_free_wipe(xt, xt ? nk * 8 : 0);
    mem_free_wipe(yt, yt ? no * 8 : 0);
    return rc;
}

/* ---- the back-end ---- */

typedef struct he_layer_plan {
    lin_plan base;
    lin_he_plan conv; /* the convolution the layer runs as */
    lin_plan *ot;     /* a SCALE or FC run over OT instead (ot_choice), or NULL */
} he_layer_plan;

static void plan_free(lin_plan *pl) {
    if (!pl) return;
    he_layer_plan *hp = (he_layer_plan *)pl;
    lin_he_plan_free(&hp->conv);
    if (hp->ot) lin_ot_ops.free(hp->ot);
    mem_free(pl);
}

static int ops_plan(void *ctx, uint64_t outs, lin_plan **out, const lin_shape *s, unsigned l) {
    const lin_he *h = ctx; /* running: the session's declared outputs rule */
    if (h) outs = h->outs;
    else if (!outs) outs = LIN_HE_OUTS_DEFAULT;
    *out = NULL;
    lin_shape c = *s;
    TRY(lin_check(&c));
    he_layer_plan *pl = mem_calloc(1, sizeof *pl);
    if (!pl) return PARLEY_E_NOMEM;
    int rc = he_plan(&pl->conv, &c, l, outs);
    if (rc < 0) {
        mem_free(pl);
        return rc;
    }
    pl->base.s = c;
    pl->base.l = l;
    pl->base.bytes = pl->conv.bytes_c2s + pl->conv.bytes_s2c;
    pl->base.h2 = (double)pl->conv.c.N * pl->conv.c.O * pl->conv.c.OH * pl->conv.c.OW *
                  exp2(pl->conv.bud.log2_h2);
    if (ot_choice(&c, l, pl->base.bytes, &pl->ot)) {
        pl->base.bytes = pl->ot->bytes;
        pl->base.h2 = 0; /* OT's views are exactly simulatable */
    }
    *out = &pl->base;
    return 0;
}

static int ops_run(void *ctx, party *p, const lin_plan *pl, uint64_t *y, const uint64_t *x,
                   const uint64_t *w) {
    lin_he *h = ctx;
    const he_layer_plan *hp = (const he_layer_plan *)pl;
    PARLEY_CHECK(h && h->role == p->role);
    if (hp->ot) return lin_ot_ops.run(NULL, p, hp->ot, y, x, w);
    if (pl->s.kind == LIN_FC) return fc_run(p, h, y, x, &pl->s.p.fc, &hp->conv, w, pl->wkey);
    return conv_run(p, h, y, x, &hp->conv, w, pl->wkey);
}

/* The client's ciphertexts, then the server's answers: one flight each
 * way on every lane that has work (the flight model takes the lanes'
 * messages as one). */
static void ops_flights(const lin_plan *pl, unsigned lanes, fsim *fs) {
    const he_layer_plan *hp = (const he_layer_plan *)pl;
    if (hp->ot) {
        lin_ot_ops.flights(hp->ot, lanes, fs);
        return;
    }
    const lin_he_plan *c = &hp->conv;
    fsim_msg(fs, MPC_CLIENT, c->bytes_c2s);
    fsim_msg(fs, MPC_SERVER, c->bytes_s2c);
}

static int ops_setup(party *p, void **ctx) {
    lin_he *h;
    TRY(lin_he_setup(p, &h));
    *ctx = h;
    return 0;
}

static void ops_teardown(void *ctx) { lin_he_free(ctx); }

/* The client's key message: one flight, which the input's share joins
 * (nothing is read in between); its bytes are the set-up's. */
static uint64_t ops_setup_cost(fsim *fs) {
    if (fs) fsim_msg(fs, MPC_CLIENT, 0);
    return lin_he_setup_bytes();
}

static void ops_set_outputs(void *ctx, uint64_t outs) { lin_he_set_outputs(ctx, outs); }
static double ops_stat_bits(const void *ctx) { return lin_he_stat_bits(ctx); }
static void ops_use_prepared(void *ctx, const void *prep) { lin_he_use_wcache(ctx, prep); }

const lin_ops lin_he_ops = {.name = "HE",
                            .setup = ops_setup,
                            .teardown = ops_teardown,
                            .setup_cost = ops_setup_cost,
                            .set_outputs = ops_set_outputs,
                            .stat_bits = ops_stat_bits,
                            .use_prepared = ops_use_prepared,
                            .plan = ops_plan,
                            .run = ops_run,
                            .free = plan_free,
                            .flights = ops_flights,
                            .leaf_sender = MPC_CLIENT};

int lin_he_conv_info(lin_he_info *out, const lin_conv *c, unsigned l, uint64_t outs) {
    lin_he_plan pl;
    TRY(lin_he_plan_make(&pl, c, l, outs));
    lin_he_info i = {.Cp = pl.Cp,
                     .Eh = pl.Eh,
                     .Ew = pl.Ew,
                     .Cw = pl.Cw,
                     .Hw = pl.Hw,
                     .Ww = pl.Ww,
                     .Ow = pl.Ow,
                     .in_cts = pl.in_cts,
                     .out_cts = pl.out_cts,
                     .wpolys = pl.wpolys,
                     .products = pl.products,
                     .bytes_c2s = pl.bytes_c2s,
                     .bytes_s2c = pl.bytes_s2c,
                     .ka = pl.bud.ka,
                     .kb = pl.bud.kb,
                     .beta = pl.bud.beta,
                     .margin_bits = pl.bud.margin_bits,
                     .drop = pl.drop,
                     .outputs = (uint64_t)pl.c.N * pl.c.O * pl.c.OH * pl.c.OW,
                     .log2_h2 = pl.bud.log2_h2};
    *out = i;
    lin_he_plan_free(&pl);
    return 0;
}
