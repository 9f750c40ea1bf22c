/* Wrap, MSB, DReLU, MSB-to-wrap, B2A and MUX; see arith.h. */
#include "mpc/arith.h"

#include "mpc/flights.h"
#include "mpc/mill.h"
#include "util/bits.h"
#include "util/mem.h"

#include <string.h>

void mpc_wrap_input(uint64_t *v, const uint64_t *x, size_t n, unsigned k, int role) {
    uint64_t mk = bits_mask(k);
    for (size_t i = 0; i < n; i++) v[i] = role == MPC_SERVER ? x[i] & mk : mk - (x[i] & mk);
}

int mpc_wrap(mpc_lane *L, uint8_t *w, const uint64_t *x, size_t n, unsigned k) {
    uint64_t *v = mem_alloc(n ? n : 1, 8);
    if (!v) return err_set(PARLEY_E_NOMEM, "out of memory for wrap");
    mpc_wrap_input(v, x, n, k, L->role);
    int rc = mpc_mill_gt(L, w, NULL, v, n, k, mpc_m(L));
    mem_free_wipe(v, (n ? n : 1) * 8);
    return rc;
}

int mpc_msb(mpc_lane *L, uint8_t *b, const uint64_t *x, size_t n, unsigned l) {
    PARLEY_CHECK(l >= 1 && l <= 64);
    TRY(mpc_wrap(L, b, x, n, l - 1));
    for (size_t i = 0; i < n; i++) b[i] ^= (uint8_t)((x[i] >> (l - 1)) & 1);
    return 0;
}

int mpc_drelu(mpc_lane *L, uint8_t *b, const uint64_t *x, size_t n, unsigned l) {
    TRY(mpc_msb(L, b, x, n, l));
    if (L->role == MPC_SERVER)
        for (size_t i = 0; i < n; i++) b[i] ^= 1;
    return 0;
}

uint64_t mpc_wrap_bytes(const ot_costing *oc, size_t n, unsigned k, unsigned m) {
    mill_shape b = {n, k, 1, 0, 0, 0};
    return mill_bytes(oc, &b, 1, m);
}

uint64_t mpc_msb_bytes(const ot_costing *oc, size_t n, unsigned l, unsigned m) {
    return mpc_wrap_bytes(oc, n, l - 1, m);
}

/* ---- MSB to wrap ---- */

typedef struct m2w_ctx {
    const uint8_t *msb, *r;
    const uint64_t *x;
    unsigned l;
} m2w_ctx;

static void m2w_gen(void *vctx, uint64_t *out, size_t first, size_t mm) {
    const m2w_ctx *c = vctx;
    for (size_t i = 0; i < mm; i++) {
        size_t e = first + i;
        unsigned bs = c->msb[e] & 1, ms = (unsigned)(c->x[e] >> (c->l - 1)) & 1;
        for (unsigned ch = 0; ch < 4; ch++) {
            unsigned msb = bs ^ (ch & 1), mc = ch >> 1, x = ms ^ mc;
            unsigned w = (x & (msb ^ 1)) | ((x ^ 1) & ms & mc); /* no branch on secrets */
            out[i * 4 + ch] = w ^ c->r[e];
        }
    }
}

int mpc_msb_to_wrap(mpc_lane *L, uint8_t *w, const uint8_t *msb, const uint64_t *x, size_t n,
                    unsigned l) {
    PARLEY_CHECK(l >= 1 && l <= 64);
    int S = L->role == MPC_SERVER;
    uint8_t *ch = mem_alloc(n ? n : 1, 1);
    uint64_t *out = mem_alloc(n ? n : 1, 8);
    int rc = (!ch || !out) ? err_set(PARLEY_E_NOMEM, "out of memory for MSB-to-wrap") : 0;
    m2w_ctx c = {msb, w, x, l};
    if (rc == 0) {
        if (S) {
            prg_bits(&L->ot.rng, w, n); /* S's share is its mask */
        } else {
            for (size_t i = 0; i < n; i++)
                ch[i] = (uint8_t)((msb[i] & 1) | ((x[i] >> (l - 1)) & 1) << 1);
        }
        otb_job j = {.kind = OTB_KK, .sender = MPC_SERVER, .n = n, .N = 4, .l = 1,
                     .gen = m2w_gen, .gen_ctx = &c, .choices = ch, .out = out};
        rc = otb_run(L, &j, 1);
        if (rc == 0 && !S)
            for (size_t i = 0; i < n; i++) w[i] = (uint8_t)(out[i] & 1);
    }
    if (ch) mem_free_wipe(ch, n ? n : 1);
    if (out) mem_free_wipe(out, (n ? n : 1) * 8);
    return rc;
}

/* ---- B2A ---- */

void b2a_free(b2a_state *s) {
    if (s->buf) mem_free_wipe(s->buf, (s->n ? s->n : 1) * 8);
    if (s->delta) mem_free_wipe(s->delta, (s->n ? s->n : 1) * 8);
    s->buf = s->delta = NULL;
}

int b2a_prep(mpc_lane *L, b2a_state *s, const uint8_t *b, size_t n, unsigned k, int sender,
             otb_job *jobs, size_t *nj) {
    PARLEY_CHECK(k >= 1 && k <= 64);
    memset(s, 0, sizeof *s);
    s->n = n;
    s->k = k;
    s->sender = sender;
    s->b = b;
    if (k == 1) return 0; /* XOR shares are additive shares mod 2 */
    s->buf = mem_alloc(n ? n : 1, 8);
    if (L->role == sender) s->delta = mem_alloc(n ? n : 1, 8);
    if (!s->buf || (L->role == sender && !s->delta)) {
        b2a_free(s);
        return err_set(PARLEY_E_NOMEM, "out of memory for B2A");
    }
    uint64_t mk = bits_mask(k);
    if (L->role == sender)
        for (size_t i = 0; i < n; i++) s->delta[i] = (0 - 2 * (uint64_t)(b[i] & 1)) & mk;
    static const unsigned widths[65] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12,
                                        13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
                                        26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38,
                                        39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51,
                                        52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64};
    otb_job j = {.kind = OTB_COT, .sender = sender, .n = n, .ls = &widths[k], .M = 1,
                 .x = s->buf, .delta = s->delta, .choices = b, .out = s->buf};
    jobs[(*nj)++] = j;
    return 0;
}

/* Sender: y = b - x; receiver: y = b + (x - 2 b_S b_C). */
void b2a_finish(mpc_lane *L, b2a_state *s, uint64_t *y) {
    uint64_t mk = bits_mask(s->k);
    if (s->k == 1) {
        for (size_t i = 0; i < s->n; i++) y[i] = s->b[i] & 1;
    } else if (L->role == s->sender) {
        for (size_t i = 0; i < s->n; i++) y[i] = ((uint64_t)(s->b[i] & 1) - s->buf[i]) & mk;
    } else {
        for (size_t i = 0; i < s->n; i++) y[i] = ((uint64_t)(s->b[i] & 1) + s->buf[i]) & mk;
    }
    b2a_free(s);
}

/* Whether mpc_b2a runs its COT in one flight (mpc_cot1) on a backend. */
static int b2a_in_one_flight(int backend, unsigned k) {
    return k >= 2 && mpc_cot1_ok(backend, k);
}

/* b2a_prep's COT as one mpc_cot1 job: S sends -2 b_S, C chooses with b_C;
 * y = b_P + this party's share of -2 b_S b_C. */
static int b2a_one_flight(mpc_lane *L, uint64_t *y, const uint8_t *b, size_t n, unsigned k) {
    uint64_t *u = mem_alloc(n ? n : 1, 8);
    if (!u) return err_set(PARLEY_E_NOMEM, "out of memory for B2A");
    for (size_t i = 0; i < n; i++) u[i] = 0 - 2 * (uint64_t)(b[i] & 1);
    cot1_job j = {.sender = MPC_SERVER, .n = n, .w = k, .u = u, .b = b, .out = y};
    int rc = mpc_cot1(L, &j, 1);
    if (rc == 0)
        for (size_t i = 0; i < n; i++) y[i] = ((uint64_t)(b[i] & 1) + y[i]) & bits_mask(k);
    mem_free_wipe(u, (n ? n : 1) * 8);
    return rc;
}

int mpc_b2a(mpc_lane *L, uint64_t *y, const uint8_t *b, size_t n, unsigned k) {
    PARLEY_CHECK(k >= 1 && k <= 64);
    if (b2a_in_one_flight(L->ot.be->id, k)) return b2a_one_flight(L, y, b, n, k);
    b2a_state s;
    otb_job j[1];
    size_t nj = 0;
    TRY(b2a_prep(L, &s, b, n, k, MPC_SERVER, j, &nj));
    int rc = otb_run(L, j, nj);
    if (rc < 0) {
        b2a_free(&s);
        return rc;
    }
    b2a_finish(L, &s, y);
    return 0;
}

uint64_t mpc_b2a_bytes_by(const ot_costing *oc, size_t n, unsigned k, int sender) {
    if (k <= 1) return 0;
    otb_job j = {.kind = OTB_COT, .sender = sender, .n = n, .ls = &k, .M = 1};
    return otb_job_cost(oc, &j);
}

uint64_t mpc_b2a_bytes(const ot_costing *oc, size_t n, unsigned k) {
    if (!b2a_in_one_flight(oc->backend, k)) {
        uint64_t b = mpc_b2a_bytes_by(oc, n, k, MPC_SERVER);
        otb_cost_run(oc);
        return b;
    }
    cot1_job j = {.sender = MPC_SERVER, .n = n, .w = k};
    return mpc_cot1_bytes(oc, &j, 1);
}

/* ---- MUX ---- */

void mux_free(mux_state *s) {
    size_t sz = (s->n ? s->n : 1) * s->M * 8;
    if (s->xs) mem_free_wipe(s->xs, sz);
    if (s->delta) mem_free_wipe(s->delta, sz);
    if (s->out) mem_free_wipe(s->out, sz);
    s->xs = s->delta = s->out = NULL;
}

int mux_prep(mpc_lane *L, mux_state *s, const uint8_t *b, const uint64_t *const *x,
             const unsigned *ls, size_t M, size_t n, otb_job *jobs, size_t *nj) {
    PARLEY_CHECK(M >= 1 && M <= 4);
    memset(s, 0, sizeof *s);
    s->n = n;
    s->M = M;
    s->b = b;
    for (size_t j = 0; j < M; j++) {
        PARLEY_CHECK(ls[j] >= 1 && ls[j] <= 64);
        s->ls[j] = ls[j];
        s->x[j] = x[j];
    }
    size_t cnt = (n ? n : 1) * M;
    s->xs = mem_alloc(cnt, 8);
    s->delta = mem_alloc(cnt, 8);
    s->out = mem_alloc(cnt, 8);
    if (!s->xs || !s->delta || !s->out) {
        mux_free(s);
        return err_set(PARLEY_E_NOMEM, "out of memory for MUX");
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t f = 1 - 2 * (uint64_t)(b[i] & 1); /* 1 - 2 b_P */
        for (size_t j = 0; j < M; j++) s->delta[i * M + j] = (x[j][i] * f) & bits_mask(ls[j]);
    }
    /* Both directions; each party sends in one and receives in the other. */
    for (int snd = 0; snd < 2; snd++) {
        otb_job jb = {.kind = OTB_COT, .sender = snd, .n = n, .ls = s->ls, .M = M, .x = s->xs,
                      .delta = s->delta, .choices = b, .out = s->out};
        jobs[(*nj)++] = jb;
    }
    return 0;
}

void mux_finish(mpc_lane *L, mux_state *s, uint64_t *const *y, int add) {
    size_t M = s->M;
    for (size_t i = 0; i < s->n; i++) {
        uint64_t bp = s->b[i] & 1;
        for (size_t j = 0; j < M; j++) {
            uint64_t v = s->x[j][i] * bp - s->xs[i * M + j] + s->out[i * M + j];
            y[j][i] = ((add ? y[j][i] : 0) + v) & bits_mask(s->ls[j]);
        }
    }
    mux_free(s);
}

uint64_t mux_prep_bytes(const ot_costing *oc, const unsigned *ls, size_t M, size_t n) {
    otb_job j0 = {.kind = OTB_COT, .sender = MPC_SERVER, .n = n, .ls = ls, .M = M};
    otb_job j1 = {.kind = OTB_COT, .sender = MPC_CLIENT, .n = n, .ls = ls, .M = M};
    return otb_job_cost(oc, &j0) + otb_job_cost(oc, &j1); /* one each way */
}

/* Whether mpc_mux runs its COTs in one flight (mpc_cot1) on a backend. */
static int mux_in_one_flight(int backend, const unsigned *ls, size_t M) {
    for (size_t j = 0; j < M; j++)
        if (!mpc_cot1_ok(backend, ls[j])) return 0;
    return 1;
}

/* mpc_mux's jobs in one flight: for each vector, P sends (1 - 2 b_P) x_P
 * and the peer chooses with b_O, as mux_prep's COTs. */
static size_t mux_cot1_jobs(cot1_job *jobs, const uint8_t *b, const uint64_t *corr,
                            uint64_t *out, const unsigned *ls, size_t M, size_t n) {
    size_t nj = 0;
    for (size_t j = 0; j < M; j++)
        for (int snd = 0; snd < 2; snd++) {
            cot1_job c = {.sender = snd, .n = n, .w = ls[j], .u = corr ? corr + j * n : NULL,
                          .b = b, .out = out ? out + (2 * j + (size_t)snd) * n : NULL};
            jobs[nj++] = c;
        }
    return nj;
}

uint64_t mpc_mux_bytes(const ot_costing *oc, const unsigned *ls, size_t M, size_t n) {
    if (!mux_in_one_flight(oc->backend, ls, M)) {
        uint64_t b = mux_prep_bytes(oc, ls, M, n);
        otb_cost_run(oc);
        return b;
    }
    cot1_job jobs[8];
    return mpc_cot1_bytes(oc, jobs, mux_cot1_jobs(jobs, NULL, NULL, NULL, ls, M, n));
}

static int mux_one_flight(mpc_lane *L, uint64_t *const *y, const uint8_t *b,
                          const uint64_t *const *x, const unsigned *ls, size_t M, size_t n) {
    size_t cnt = (n ? n : 1) * M;
    uint64_t *corr = mem_alloc(cnt, 8), *out = mem_alloc(2 * cnt, 8);
    int rc = (!corr || !out) ? err_set(PARLEY_E_NOMEM, "out of memory for MUX") : 0;
    if (rc == 0) {
        for (size_t j = 0; j < M; j++)
            for (size_t i = 0; i < n; i++)
                corr[j * n + i] = x[j][i] * (1 - 2 * (uint64_t)(b[i] & 1));
        cot1_job jobs[8];
        rc = mpc_cot1(L, jobs, mux_cot1_jobs(jobs, b, corr, out, ls, M, n));
    }
    if (rc == 0)
        for (size_t j = 0; j < M; j++)
            for (size_t i = 0; i < n; i++) {
                uint64_t v = x[j][i] * (b[i] & 1) + out[2 * j * n + i] + out[(2 * j + 1) * n + i];
                y[j][i] = v & bits_mask(ls[j]);
            }
    if (corr) mem_free_wipe(corr, cnt * 8);
    if (out) mem_free_wipe(out, 2 * cnt * 8);
    return rc;
}

int mpc_mux(mpc_lane *L, uint64_t *const *y, const uint8_t *b, const uint64_t *const *x,
            const unsigned *ls, size_t M, size_t n) {
    PARLEY_CHECK(M >= 1 && M <= 4);
    if (mux_in_one_flight(L->ot.be->id, ls, M)) return mux_one_flight(L, y, b, x, ls, M, n);
    mux_state s;
    otb_job j[2];
    size_t nj = 0;
    TRY(mux_prep(L, &s, b, x, ls, M, n, j, &nj));
    int rc = otb_run(L, j, nj);
    if (rc < 0) {
        mux_free(&s);
        return rc;
    }
    mux_finish(L, &s, y, 0);
    return 0;
}

/* ---- COTs in one flight (see arith.h) ---- */

/* The bits this party sends in an mpc_cot1 call: w per element where it
 * sends, 1 where it receives. */
static uint64_t cot1_bits(const cot1_job *jobs, size_t nj, int role) {
    uint64_t bits = 0;
    for (size_t k = 0; k < nj; k++)
        bits += (uint64_t)jobs[k].n * (jobs[k].sender == role ? jobs[k].w : 1);
    return bits;
}

/* The random OT of element i of a job whose OTs start at rot (RROT's
 * layouts, otb.h): the sender's R0 and R1, or the receiver's R_e and e. */
static void cot1_rot(const uint64_t *rot, size_t i, unsigned w, int sender, uint64_t *r,
                     uint64_t *s) {
    uint64_t mw = bits_mask(w);
    if (sender && w > 32) {
        *r = rot[2 * i];
        *s = rot[2 * i + 1];
    } else {
        *r = rot[i] & mw;
        *s = (rot[i] >> w) & (sender ? mw : 1);
    }
}

int mpc_cot1_ok(int backend, unsigned w) {
    const ot_backend *be = ot_backend_get(backend);
    return be && (be->caps & OT_CAP_RANDOM_OT) && w >= 1 && w <= MPC_COT1_MAXW;
}

/* Words of RROT output a job takes on this side (RROT's layouts, otb.h):
 * two per OT where it sends with w > 32, else one. */
static size_t cot1_words(const cot1_job *j, int me) {
    return j->n * (j->sender == me && j->w > 32 ? 2 : 1);
}

uint64_t cot1_msg_bits(const cot1_job *jobs, size_t nj, int role) {
    return cot1_bits(jobs, nj, role);
}

size_t cot1_rot_jobs(const cot1_job *jobs, size_t nj, otb_job *rj) {
    size_t nr = 0;
    for (size_t k = 0; k < nj; k++)
        if (jobs[k].n) {
            otb_job j = {.kind = OTB_RROT, .sender = jobs[k].sender, .n = jobs[k].n,
                         .l = jobs[k].w};
            rj[nr++] = j;
        }
    return nr;
}

int cot1_prep(mpc_lane *L, cot1_state *st, const cot1_job *jobs, size_t nj, otb_job *rj,
              size_t *nr) {
    int me = L->role;
    st->rot = NULL;
    st->words = 0;
    for (size_t k = 0; k < nj; k++) {
        PARLEY_CHECK(mpc_cot1_ok(L->ot.be->id, jobs[k].w));
        st->words += cot1_words(&jobs[k], me);
    }
    if (st->words == 0) return 0;
    st->rot = mem_alloc(st->words, 8);
    if (!st->rot) return err_set(PARLEY_E_NOMEM, "out of memory for %zu COT words", st->words);
    size_t at = 0; /* the job's first word in rot */
    for (size_t k = 0; k < nj; k++) {
        if (jobs[k].n) {
            otb_job j = {.kind = OTB_RROT, .sender = jobs[k].sender, .n = jobs[k].n,
                         .l = jobs[k].w, .x = st->rot + at, .out = st->rot + at};
            rj[(*nr)++] = j;
        }
        at += cot1_words(&jobs[k], me);
    }
    return 0;
}

void cot1_put(const cot1_state *st, const cot1_job *jobs, size_t nj, int me, bitw *bw) {
    size_t at = 0;
    for (size_t k = 0; k < nj; k++) {
        const cot1_job *j = &jobs[k];
        int snd = j->sender == me;
        uint64_t mw = bits_mask(j->w), a, b;
        for (size_t i = 0; i < j->n; i++) {
            cot1_rot(st->rot + at, i, j->w, snd, &a, &b);
            if (snd) /* z = u - (R1 - R0) */
                bitw_put(bw, (j->u[i] - b + a) & mw, j->w);
            else /* f = b ^ e */
                bitw_put(bw, (j->b[i] ^ b) & 1, 1);
        }
        at += cot1_words(j, me);
    }
}

void cot1_take(const cot1_state *st, const cot1_job *jobs, size_t nj, int me, bitr *br) {
    size_t at = 0;
    for (size_t k = 0; k < nj; k++) {
        const cot1_job *j = &jobs[k];
        int snd = j->sender == me;
        uint64_t mw = bits_mask(j->w), a, e;
        for (size_t i = 0; i < j->n; i++) {
            cot1_rot(st->rot + at, i, j->w, snd, &a, &e);
            if (snd) { /* (1 - 2f)(-R0) + f u */
                uint64_t f = bitr_get(br, 1);
                j->out[i] = (f ? a + j->u[i] : 0 - a) & mw;
            } else { /* (1 - 2f)(R_e + e z) */
                uint64_t z = bitr_get(br, j->w), f = (j->b[i] ^ e) & 1, v = a + e * z;
                j->out[i] = (f ? 0 - v : v) & mw;
            }
        }
        at += cot1_words(j, me);
    }
}

void cot1_free(cot1_state *st) {
    if (st->rot) mem_free_wipe(st->rot, st->words * 8);
    st->rot = NULL;
    st->words = 0;
}

int mpc_cot1(mpc_lane *L, const cot1_job *jobs, size_t nj) {
    PARLEY_CHECK(nj <= 8);
    int me = L->role;
    size_t total = 0;
    for (size_t k = 0; k < nj; k++) total += jobs[k].n;
    if (total == 0) return 0;
    size_t nb_mine = bits_bytes(cot1_bits(jobs, nj, me));
    size_t nb_theirs = bits_bytes(cot1_bits(jobs, nj, 1 - me));
    cot1_state st;
    otb_job rj[8];
    size_t nr = 0;
    TRY(cot1_prep(L, &st, jobs, nj, rj, &nr));
    uint8_t *wire = mem_alloc(nb_mine + nb_theirs + 16, 1);
    if (!wire) {
        cot1_free(&st);
        return err_set(PARLEY_E_NOMEM, "out of memory for %zu COTs", total);
    }
    int rc = otb_run(L, rj, nr);
    uint8_t *in = wire + nb_mine + 8;
    if (rc == 0) {
        bitw bw = bitw_start(wire);
        cot1_put(&st, jobs, nj, me, &bw);
        bitw_end(&bw);
        rc = mpc_swap(L, wire, nb_mine, in, nb_theirs);
    }
    if (rc == 0) {
        bitr br = bitr_start(in, nb_theirs);
        cot1_take(&st, jobs, nj, me, &br);
    }
    cot1_free(&st);
    mem_free_wipe(wire, nb_mine + nb_theirs + 16);
    return rc;
}

uint64_t mpc_cot1_bytes(const ot_costing *oc, const cot1_job *jobs, size_t nj) {
    PARLEY_CHECK(nj <= 8);
    otb_job rj[8];
    size_t nr = cot1_rot_jobs(jobs, nj, rj);
    if (nr == 0) return 0;
    for (size_t k = 0; k < nr; k++) (void)otb_job_cost(oc, &rj[k]);
    otb_cost_run(oc);
    uint64_t bs = bits_bytes(cot1_bits(jobs, nj, MPC_SERVER));
    uint64_t bc = bits_bytes(cot1_bits(jobs, nj, MPC_CLIENT));
    otb_cost_round2(oc, bs, bc);
    return bs + bc;
}
