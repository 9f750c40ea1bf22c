/* Constant-time checks, run under valgrind's memcheck (tests/CMakeLists.txt,
 * as libsecp256k1's ctime_tests): every secret is marked undefined, so a
 * branch or a memory address that depends on one is reported as a use of
 * an uninitialised value, and the test fails. Outputs are marked defined
 * again only to check them against plaintext. Outside valgrind the marks
 * do nothing and the cases are ordinary correctness tests.
 *
 * What is checked (the promises of docs/SECURITY-*.md and the sources):
 *   - nl/ctdiv.h: ctdiv_u and ctdiv_floor on a secret dividend;
 *   - AES in every tier this machine has, and the PRG and the hash built on
 *     it, on a secret key and secret data;
 *   - the HE arithmetic on secret residues in both NTT tiers: he_ntt_fwd,
 *     he_ntt_inv, he_ntt_fwd_pruned, he_mac, he_mac_rows_multi, he_reduce;
 *   - whole two-party runs with each party's PRG seed (so all of its
 *     randomness: keys, Delta, choice bits, masks) and inputs secret, where
 *     only what a party sends becomes public (the send system call): the
 *     lane set-up (Chou-Orlandi base OT with its constant-time select of
 *     bG or bG + A, IKNP, KK13 or Ferret's first batch), then ReLU,
 *     truncation and division (through ctdiv) on secret shares on either
 *     OT backend: the millionaire, AND triples, B2A and MUX over IKNP COTs,
 *     the KK13 receiver's constant-time select among N fields, silent COTs
 *     and Ferret's tree rebuild at secret punctured positions;
 *   - the 4-bit VOLE's batches (ot/vole4.h): the receiver's tree rebuild
 *     at secret punctured positions and its sums of secret nibbles; and
 *     the same ReLU, truncation and division with the millionaire's
 *     leaves on 4-bit VOLE pools (ot_lane_opts.vole4);
 *   - an HE-mode fully-connected layer with secret weights and shares (key
 *     generation, encryption, the products, flooding, decryption), run
 *     twice: its weight polynomials transformed during the layer, then
 *     before it (the server's weight cache, lin_he_wcache).
 * tests/ctime.supp lists where secrets legitimately become public or are
 * handled by libsodium, the two audited range checks, and the HE places
 * that are known not to be branch-free yet (to be fixed; each entry goes
 * with its fix). Memcheck sees branches and addresses, not variable-latency
 * instructions (division): ctdiv's point is that x never reaches a divide
 * instruction, which the disassembly check beside this test (CTest
 * ctime.no_divide_*) looks for. */
#include "harness.h"
#include "twoparty.h"

#include "crypto/aes_tiers.h"
#include "he/ntt_tiers.h"
#include "lin/he/lin_he.h"
#include "nl/ctdiv.h"
#include "nl/nl.h"
#include "ot/lane.h"
#include "ot/vole4.h"
#include "util/bits.h"
#include "util/mem.h"

#include <pthread.h>
#include <string.h>
#include <valgrind/memcheck.h>

#define SECRET(p, n) VALGRIND_MAKE_MEM_UNDEFINED((p), (n))
#define PUBLIC(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))

/* ---- nl/ctdiv.h ---- */

/* Kept out of line so the disassembly check finds exactly these. */
__attribute__((noinline)) uint64_t ctime_ctdiv_u(const ctdiv *c, uint64_t x) {
    return ctdiv_u(c, x);
}
__attribute__((noinline)) int64_t ctime_ctdiv_floor(const ctdiv *c, int64_t v) {
    return ctdiv_floor(c, v);
}

TEST(ctdiv) {
    prg g;
    harness_prg(&g, 1);
    const uint64_t ds[] = {1, 2, 3, 7, 9, 10, 1000, 4097, (1ULL << 37) + 5, ~0ULL};
    for (size_t k = 0; k < sizeof ds / sizeof *ds; k++) {
        ctdiv c;
        ctdiv_init(&c, ds[k]); /* d is public */
        for (unsigned i = 0; i < harness_iters(64); i++) {
            uint64_t x = prg_u64(&g) >> (i % 64), y;
            int64_t v = (int64_t)prg_u64(&g) >> (i % 64), z;
            uint64_t xs = x;
            int64_t vs = v;
            SECRET(&xs, sizeof xs);
            SECRET(&vs, sizeof vs);
            y = ctime_ctdiv_u(&c, xs);
            z = ctime_ctdiv_floor(&c, vs);
            PUBLIC(&y, sizeof y);
            PUBLIC(&z, sizeof z);
            CHECK_EQ(y, x / ds[k]);
            int64_t q = ds[k] > INT64_MAX ? (v < 0 ? -1 : 0) : v / (int64_t)ds[k];
            if (ds[k] <= INT64_MAX && v % (int64_t)ds[k] != 0 && v < 0) q -= 1;
            CHECK_EQ(z, q);
        }
    }
    prg_clear(&g);
}

/* ---- AES, PRG, hash ---- */

TEST(aes_prg_hash) {
    for (unsigned t = 0; t < AES_TIERS; t++) {
        if (!harness_tier("aes", aes_tiers, t)) continue;
        uint8_t key[16];
        block in[37], out[37], want[37];
        prg g;
        harness_prg(&g, 2);
        prg_bytes(&g, key, sizeof key);
        prg_blocks(&g, in, 37);
        aes_key k;
        aes_expand(&k, key); /* the expected output, computed in public */
        aes_ref_ecb(&k, want, in, 37);
        aes_clear(&k);
        SECRET(key, sizeof key);
        SECRET(in, sizeof in);
        aes_expand(&k, key);
        aes_ecb(&k, out, in, 37);
        aes_ctr(&k, out, 5, 37);
        aes_ecb(&k, out, in, 37);
        PUBLIC(out, sizeof out);
        CHECK(memcmp(out, want, sizeof out) == 0);
        /* a PRG on a secret seed, and the hash of secret blocks */
        prg s;
        block seed = prg_block(&g);
        SECRET(&seed, sizeof seed);
        prg_seed(&s, seed);
        uint64_t r[40];
        prg_ring(&s, r, 40, 37);
        uint8_t bits[40];
        prg_bits(&s, bits, 40);
        crh h;
        crh_init(&h);
        crh_hash(&h, out, in, 37, 11, 3);
        crh_clear(&h);
        prg_clear(&s);
        aes_clear(&k);
        prg_clear(&g);
    }
}

/* ---- HE arithmetic ---- */

TEST(he_arith) {
    const he_params *P = he_params_get();
    he_poly *x = mem_alloc(1, sizeof *x), *y = mem_alloc(1, sizeof *y);
    he_u128 *acc = mem_calloc((size_t)HE_L * HE_N, sizeof(he_u128));
    REQUIRE(x && y && acc);
    prg g;
    harness_prg(&g, 3);
    for (unsigned t = 0; t < NTT_TIERS; t++) {
        if (!harness_tier("ntt", ntt_tiers, t)) continue;
        for (int i = 0; i < HE_L; i++)
            for (size_t j = 0; j < HE_N; j++) {
                x->c[i][j] = prg_u64(&g) % P->p[i].q;
                y->c[i][j] = prg_u64(&g) % P->p[i].q;
            }
        SECRET(x, sizeof *x);
        SECRET(y, sizeof *y);
        he_poly_ntt(x);
        he_mac(acc, x, y);
        const uint64_t *w[2] = {x->c[0], y->c[0]}, *v[2] = {y->c[0], x->c[0]};
        he_u128 *accs[1] = {acc};
        he_mac_rows_multi(accs, w, v, 1, 2);
        he_reduce(y, acc);
        he_poly_intt(y);
        he_ntt_fwd_pruned(&P->p[1], x->c[1], 5);
        PUBLIC(x, sizeof *x);
        PUBLIC(y, sizeof *y);
        PUBLIC(acc, (size_t)HE_L * HE_N * sizeof(he_u128));
        for (size_t j = 0; j < HE_N; j++)
            CHECK(y->c[0][j] < P->p[0].q);
    }
    prg_clear(&g);
    mem_free(x);
    mem_free(y);
    mem_free(acc);
}

/* ---- whole protocols ---- */

/* Both parties on two threads over in-process channels, each party's seed
 * (all of its randomness) secret, then fn. */
typedef int (*ct_party_fn)(party *p, void *arg);
typedef struct ct_job {
    ct_party_fn fn;
    void *arg;
    int role, backend, rc;
    chan *ch;
    const vole4_params *vole4; /* silent: the leaves on 4-bit VOLE pools */
} ct_job;

static void *ct_main(void *v) {
    ct_job *j = v;
    block seed = harness_block(0x71 + (uint64_t)j->role);
    SECRET(&seed, sizeof seed);
    ot_lane_opts o = {.backend = j->backend, .ferret = &FERRET_TOY, .vole4 = j->vole4};
    party p;
    j->rc = party_setup_ex(&p, j->role, &j->ch, 1, seed, &o);
    if (j->rc == 0) {
        j->rc = j->fn(&p, j->arg);
        party_clear(&p);
    }
    if (j->rc != 0) chan_abort(j->ch);
    return NULL;
}

static int ct_run_v4(ct_party_fn fn, void *arg, int backend, const vole4_params *v4) {
    chan *c[2];
    TRY(chan_pair(&c[0], &c[1]));
    ct_job jobs[2];
    pthread_t th[2];
    for (int r = 0; r < 2; r++) {
        jobs[r] = (ct_job){fn, arg, r, backend, 0, c[r], v4};
        chan_set_timeout(c[r], 600000);
        pthread_create(&th[r], NULL, ct_main, &jobs[r]);
    }
    for (int r = 0; r < 2; r++)
        pthread_join(th[r], NULL);
    chan_close(c[0]);
    chan_close(c[1]);
    return jobs[0].rc ? jobs[0].rc : jobs[1].rc;
}

static int ct_run(ct_party_fn fn, void *arg, int backend) {
    return ct_run_v4(fn, arg, backend, NULL);
}

/* ReLU, truncation and division (d = 9, through ctdiv) of secret shares,
 * one after the other on one party. */
typedef struct nl_case {
    size_t n;
    unsigned l, s;
    uint64_t d;
    uint64_t *x[2], *y[3][2];
} nl_case;

static int nl_party(party *p, void *arg) {
    nl_case *c = arg;
    int r = p->role;
    SECRET(c->x[r], c->n * 8);
    int rc = nl_relu(p, c->y[0][r], c->x[r], c->n, c->l);
    if (rc == 0) rc = nl_trunc(p, c->y[1][r], c->x[r], c->n, c->l, c->s);
    if (rc == 0) rc = nl_div(p, c->y[2][r], c->x[r], c->n, c->l, c->d);
    for (int k = 0; k < 3; k++)
        PUBLIC(c->y[k][r], c->n * 8);
    PUBLIC(c->x[r], c->n * 8);
    return rc;
}

static void nl_run(int backend, const vole4_params *v4) {
    nl_case c = {.n = 300, .l = 37, .s = 12, .d = 9};
    prg g;
    harness_prg(&g, 10);
    for (int r = 0; r < 2; r++) {
        c.x[r] = mem_alloc(c.n, 8);
        for (int k = 0; k < 3; k++)
            c.y[k][r] = mem_alloc(c.n, 8);
        prg_ring(&g, c.x[r], c.n, c.l);
    }
    REQUIRE_OK(ct_run_v4(nl_party, &c, backend, v4));
    uint64_t m = bits_mask(c.l);
    int64_t d = (int64_t)c.d;
    for (size_t i = 0; i < c.n; i++) {
        int64_t v = bits_signed((c.x[0][i] + c.x[1][i]) & m, c.l);
        int64_t want[3] = {v > 0 ? v : 0, v >> c.s, v >= 0 ? v / d : -((-v + d - 1) / d)};
        for (int k = 0; k < 3; k++)
            CHECK_EQ((c.y[k][0][i] + c.y[k][1][i]) & m, (uint64_t)want[k] & m);
    }
    for (int r = 0; r < 2; r++) {
        mem_free(c.x[r]);
        for (int k = 0; k < 3; k++)
            mem_free(c.y[k][r]);
    }
    prg_clear(&g);
}

TEST(nl_iknp) {
    nl_run(OT_BACKEND_IKNP, NULL);
}
TEST(nl_silent) {
    nl_run(OT_BACKEND_SILENT, NULL);
}
/* The same with the millionaire's leaves on 4-bit VOLE pools: the
 * (16 choose 1)-OT's receiver on secret choices and nibbles. */
TEST(nl_silent_vole4) {
    nl_run(OT_BACKEND_SILENT, &VOLE4_TOY);
}

/* The 4-bit VOLE (ot/vole4.h): its first base from secret COTs, then two
 * batches of the toy set, the server sending: the receiver rebuilds its
 * trees at secret punctured positions and sums secret nibbles. */
typedef struct v4_case {
    block delta, *v, *w;
    uint8_t *u;
} v4_case;

static int v4_party(party *p, void *arg) {
    v4_case *c = arg;
    const vole4_params *vp = &VOLE4_TOY;
    int snd = p->role == MPC_SERVER;
    ot_lane *ln = &p->lanes[0].ot;
    chan *ch = ln->ch;
    cot_pool *pool = ot_lane_cots(ln, snd);
    size_t m = vole4_m(vp), n = vole4_n(vp), nc = vole4_cots(vp);
    block *cots = mem_alloc(4 * m, sizeof(block)), *out = mem_alloc(n, sizeof(block));
    uint8_t *outu = mem_alloc(n, 1);
    vole4 f;
    memset(&f, 0, sizeof f);
    int rc = snd ? silent_rcot_send(pool, ch, cots, 4 * m) : silent_rcot_recv(pool, ch, cots, 4 * m);
    if (rc == 0) {
        vole4_from_cots(cots, m, out, outu);
        block seed = harness_block(0x74), code = harness_block(0x75);
        SECRET(&seed, sizeof seed);
        rc = vole4_init(&f, vp, snd, pool->delta, out, snd ? NULL : outu, seed, code);
    }
    for (int b = 0; b < 2 && rc == 0; b++) {
        rc = snd ? silent_rcot_send(pool, ch, cots, nc) : silent_rcot_recv(pool, ch, cots, nc);
        if (rc == 0 && snd) {
            rc = vole4_send_trees(&f, ch, cots, out);
            if (rc == 0) rc = chan_flush(ch);
            if (rc == 0) vole4_send_finish(&f, out);
        } else if (rc == 0) {
            rc = vole4_recv_batch(&f, ch, cots, out, outu);
        }
    }
    if (rc == 0) {
        PUBLIC(out, n * sizeof(block));
        PUBLIC(outu, n);
        memcpy(snd ? c->v : c->w, out, n * sizeof(block));
        if (snd) {
            c->delta = pool->delta;
            PUBLIC(&c->delta, sizeof c->delta);
        } else {
            memcpy(c->u, outu, n);
        }
    }
    vole4_clear(&f);
    mem_free(cots);
    mem_free(out);
    mem_free(outu);
    return rc;
}

TEST(vole4_silent) {
    size_t n = vole4_n(&VOLE4_TOY);
    v4_case c = {.v = mem_alloc(n, sizeof(block)), .w = mem_alloc(n, sizeof(block)),
                 .u = mem_alloc(n, 1)};
    REQUIRE_OK(ct_run(v4_party, &c, OT_BACKEND_SILENT));
    block D[16];
    vole4_table(c.delta, D);
    for (size_t i = 0; i < n; i++) CHECK(block_eq(c.w[i], block_xor(c.v[i], D[c.u[i] & 15])));
    mem_free(c.v);
    mem_free(c.w);
    mem_free(c.u);
}

/* An HE-mode fully-connected layer: the server's weights, both parties'
 * shares and both seeds secret (key generation, encryption, the products,
 * flooding, decryption). */
typedef struct fc_case {
    lin_fc f;
    unsigned l;
    uint64_t *w, *x[2], *y[2], *yc[2]; /* yc: the layer again, S's weights transformed first */
    uint64_t cache_used;
} fc_case;

static int fc_party(party *p, void *arg) {
    fc_case *c = arg;
    int r = p->role;
    size_t nx = (size_t)c->f.N * c->f.K, nw = (size_t)c->f.K * c->f.O;
    SECRET(c->x[r], nx * 8);
    if (r == MPC_SERVER) SECRET(c->w, nw * 8);
    lin_he *h;
    TRY(lin_he_setup(p, &h));
    lin_backend be = lin_he_backend(h, 0);
    lin_shape sh = {LIN_FC, .p.fc = c->f};
    int rc = lin_run(&be, p, c->y[r], c->x[r], &sh, r == MPC_SERVER ? c->w : NULL, c->l);
    /* again, with the weight polynomials made before the input and read
     * from the cache (lin_he_wcache) */
    lin_he_wcache *wc = NULL;
    if (rc == 0 && r == MPC_SERVER) {
        rc = lin_he_wcache_new(&wc);
        if (rc == 0) rc = lin_he_wcache_add(wc, &sh, c->l, 0, c->w);
        if (rc < 0) party_fail(p, rc);
        lin_he_use_wcache(h, wc);
    }
    if (rc == 0)
        rc = lin_run(&be, p, c->yc[r], c->x[r], &sh, r == MPC_SERVER ? c->w : NULL, c->l);
    if (r == MPC_SERVER) c->cache_used = lin_he_wcache_polys_used(h);
    lin_he_wcache_free(wc);
    lin_he_free(h);
    PUBLIC(c->y[r], (size_t)c->f.N * c->f.O * 8);
    PUBLIC(c->yc[r], (size_t)c->f.N * c->f.O * 8);
    PUBLIC(c->x[r], nx * 8);
    if (r == MPC_SERVER) PUBLIC(c->w, nw * 8);
    return rc;
}

TEST(he_fc) {
    /* 40 -> 64: large enough that HE computes it (an FC that OT does in
     * fewer bytes runs over OT, lin_he.h) */
    fc_case c = {.f = {.N = 1, .K = 40, .O = 64, .wbits = 8}, .l = 37};
    size_t nx = 40, nw = 40 * 64, ny = 64;
    prg g;
    harness_prg(&g, 20);
    c.w = mem_alloc(nw, 8);
    uint64_t *x = mem_alloc(nx, 8), *want = mem_alloc(ny, 8);
    for (int r = 0; r < 2; r++) {
        c.x[r] = mem_alloc(nx, 8);
        c.y[r] = mem_alloc(ny, 8);
        c.yc[r] = mem_alloc(ny, 8);
        prg_ring(&g, c.x[r], nx, c.l);
    }
    for (size_t i = 0; i < nw; i++)
        c.w[i] = (uint64_t)((int64_t)(prg_u64(&g) % 256) - 128) & bits_mask(c.l);
    for (size_t i = 0; i < nx; i++)
        x[i] = (c.x[0][i] + c.x[1][i]) & bits_mask(c.l);
    lin_fc_plain(want, x, &c.f, c.w, c.l);
    REQUIRE_OK(ct_run(fc_party, &c, OT_BACKEND_SILENT));
    for (size_t i = 0; i < ny; i++) {
        CHECK_EQ((c.y[0][i] + c.y[1][i]) & bits_mask(c.l), want[i]);
        CHECK_EQ((c.yc[0][i] + c.yc[1][i]) & bits_mask(c.l), want[i]);
    }
    CHECK(c.cache_used > 0);
    for (int r = 0; r < 2; r++) {
        mem_free(c.x[r]);
        mem_free(c.y[r]);
        mem_free(c.yc[r]);
    }
    mem_free(c.w);
    mem_free(x);
    mem_free(want);
    prg_clear(&g);
}

/* The check itself: code that branches on a secret, and code that indexes a
 * table by one, must be reported (tests/CMakeLists.txt expects these two
 * cases to fail under valgrind). */
__attribute__((noinline)) static unsigned canary_branchy(unsigned v) {
    return v & 1 ? 3 : v * 7 + 1;
}

TEST(canary_branch) {
    volatile unsigned sink = 0;
    for (unsigned i = 0; i < 8; i++) {
        unsigned v = i * 0x9e37u;
        SECRET(&v, sizeof v);
        unsigned r = canary_branchy(v);
        if (r == 0) sink++; /* the branch on the secret result */
    }
    (void)sink;
}

TEST(canary_index) {
    static const uint8_t table[256] = {1, 2, 3};
    volatile unsigned sink = 0;
    for (unsigned i = 0; i < 8; i++) {
        uint8_t v = (uint8_t)(i * 37);
        SECRET(&v, sizeof v);
        uint8_t r = table[v]; /* the address depends on the secret */
        PUBLIC(&r, sizeof r);
        sink += r;
    }
    (void)sink;
}
