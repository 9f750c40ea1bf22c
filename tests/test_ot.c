/* ot: every flavour against its definition, with exact wire counts, for
 * the sizes and widths of the issue (also on the portable AES and transpose;
 * their tiers are compared in test_tiers.c); both parties acting as sender
 * at once. */
#include "harness.h"
#include "twoparty.h"

#include "ot/lane.h"
#include "ot/vole4.h"
#include "util/bits.h"
#include "util/mem.h"

static const size_t sizes[] = {0, 1, 127, 128, 129, 100000};
static const unsigned widths[] = {1, 2, 7, 8, 31, 32, 37, 63, 64};
#define NSIZES (sizeof sizes / sizeof *sizes)
#define NWIDTHS (sizeof widths / sizeof *widths)

/* kk_pad_hash of the row of bytes 0..31 at index 5 (tests kk13_pad_...). */
#define KK_KAT_W0 0x09262602204e0533ULL
#define KK_KAT_W1 0x19ec16f65af60278ULL

/* ---- a lane pair and a job run on it ---- */

typedef struct ot_job ot_job;
typedef int (*ot_step)(int who, ot_lane *ln, ot_job *j);

struct ot_job {
    ot_step step;
    size_t n;
    unsigned l, N;
    const unsigned *ls;
    size_t M;
    uint8_t *choices;
    uint64_t *msgs, *out, *x, *delta;
    block (*r2)[2];
    block *r1;
    chan_stats before[2];
    int skip_setup_check;
    int silent;          /* silent backend with FERRET_TOY */
    uint64_t batches[2]; /* batches each side made as COT sender */
};

static int lane_party(int who, chan *ch, void *arg) {
    ot_job *j = arg;
    ot_lane ln;
    ot_lane_opts o = {.backend = j->silent ? OT_BACKEND_SILENT : OT_BACKEND_IKNP,
                      .ferret = &FERRET_TOY};
    TRY(ot_lane_setup_ex(&ln, ch, harness_block(100 + (uint64_t)who), &o));
    j->before[who] = *chan_get_stats(ch);
    int rc = j->step(who, &ln, j);
    const cot_pool *ps = ot_lane_cots(&ln, 1);
    j->batches[who] = ps ? ps->fills : 0;
    ot_lane_clear(&ln);
    return rc;
}

/* Bytes both ways, set-up excluded. */
static uint64_t job_bytes(const ot_job *j) {
    return run2_stats[0].bytes_sent - j->before[0].bytes_sent + run2_stats[1].bytes_sent -
           j->before[1].bytes_sent;
}

static void job_alloc(ot_job *j, size_t per_ot_vals, unsigned choice_range, uint64_t label) {
    size_t n = j->n;
    prg p;
    harness_prg(&p, label);
    j->choices = mem_alloc(n, 1);
    prg_bytes(&p, j->choices, n);
    for (size_t i = 0; i < n; i++) j->choices[i] = (uint8_t)(j->choices[i] % choice_range);
    j->msgs = mem_alloc(n * per_ot_vals, 8);
    j->delta = mem_alloc(n * per_ot_vals, 8);
    j->out = mem_alloc(n * per_ot_vals, 8);
    j->x = mem_alloc(n * per_ot_vals, 8);
    prg_bytes(&p, j->msgs, n * per_ot_vals * 8);
    prg_bytes(&p, j->delta, n * per_ot_vals * 8);
    prg_clear(&p);
}

static void job_free(ot_job *j) {
    mem_free(j->choices);
    mem_free(j->msgs);
    mem_free(j->delta);
    mem_free(j->out);
    mem_free(j->x);
    mem_free(j->r1);
    mem_free(j->r2);
}

/* ---- random OT ---- */

static int rot_step(int who, ot_lane *ln, ot_job *j) {
    return who == 0 ? iknp_rot_send(&ln->iknp_s, ln->ch, j->r2, j->n)
                      : iknp_rot_recv(&ln->iknp_r, ln->ch, j->r1, j->choices, j->n);
}

TEST(random_ot) {
    for (size_t s = 0; s < NSIZES; s++) {
        ot_job j = {.step = rot_step, .n = sizes[s]};
        job_alloc(&j, 1, 2, 30 + s);
        j.r1 = mem_alloc(j.n, 16);
        j.r2 = mem_alloc(j.n, 32);
        REQUIRE_OK(run2(lane_party, &j));
        for (size_t i = 0; i < j.n; i++) {
            CHECK(block_eq(j.r1[i], j.r2[i][j.choices[i]]));
            CHECK(!block_eq(j.r1[i], j.r2[i][1 - j.choices[i]]));
        }
        CHECK_EQ(job_bytes(&j), 16 * ote_padded(j.n));
        job_free(&j);
    }
}

/* ---- chosen-message OT ---- */

static int cmot_step(int who, ot_lane *ln, ot_job *j) {
    return who == 0 ? iknp_ot_send(&ln->iknp_s, ln->ch, j->msgs, j->n, j->l)
                      : iknp_ot_recv(&ln->iknp_r, ln->ch, j->out, j->choices, j->n, j->l);
}

TEST(chosen_message_ot) {
    for (size_t s = 0; s < NSIZES; s++)
        for (size_t w = 0; w < NWIDTHS; w++) {
            ot_job j = {.step = cmot_step, .n = sizes[s], .l = widths[w]};
            job_alloc(&j, 2, 2, 40 + s * 16 + w);
            for (size_t i = 0; i < 2 * j.n; i++) j.msgs[i] &= bits_mask(j.l);
            REQUIRE_OK(run2(lane_party, &j));
            for (size_t i = 0; i < j.n; i++) CHECK_EQ(j.out[i], j.msgs[2 * i + j.choices[i]]);
            CHECK_EQ(job_bytes(&j), 16 * ote_padded(j.n) + bits_bytes(j.n * 2 * j.l));
            job_free(&j);
            if (harness_failed()) return;
        }
}

/* ---- correlated OT ---- */

static int cot_step(int who, ot_lane *ln, ot_job *j) {
    return who == 0 ? iknp_cot_send(&ln->iknp_s, ln->ch, j->x, j->delta, j->n, j->ls, j->M)
                      : iknp_cot_recv(&ln->iknp_r, ln->ch, j->out, j->choices, j->n, j->ls, j->M);
}

static uint64_t sil_gen(const ot_job *j);

/* The correlation holds for every OT and width; the bytes are IKNP's or the
 * silent backend's exact count, by the job's backend. */
static void check_cot(ot_job *j) {
    uint64_t L = 0;
    for (size_t k = 0; k < j->M; k++) L += j->ls[k];
    for (size_t i = 0; i < j->n; i++)
        for (size_t k = 0; k < j->M; k++) {
            uint64_t m = bits_mask(j->ls[k]), x = j->x[i * j->M + k];
            CHECK(x <= m);
            CHECK_EQ(j->out[i * j->M + k], (x + j->choices[i] * j->delta[i * j->M + k]) & m);
        }
    CHECK_EQ(job_bytes(j), j->silent ? silent_job_bytes(j->n, 1, L) + sil_gen(j)
                                     : 16 * ote_padded(j->n) + bits_bytes(j->n * L));
}

TEST(correlated_ot) {
    for (size_t s = 0; s < NSIZES; s++)
        for (size_t w = 0; w < NWIDTHS; w++) {
            unsigned l = widths[w];
            ot_job j = {.step = cot_step, .n = sizes[s], .ls = &l, .M = 1};
            job_alloc(&j, 1, 2, 60 + s * 16 + w);
            REQUIRE_OK(run2(lane_party, &j));
            check_cot(&j);
            job_free(&j);
            if (harness_failed()) return;
        }
}

TEST(correlated_ot_many_widths) {
    /* Several correlations of different lengths per OT, including more
     * than 128 bits in all (several hash blocks per OT). */
    static const unsigned ls1[] = {37, 36, 35, 1, 64, 2};
    unsigned ls2[40];
    for (int k = 0; k < 40; k++) ls2[k] = 37 - (unsigned)(k % 37);
    struct {
        const unsigned *ls;
        size_t M;
    } cfg[] = {{ls1, 6}, {ls2, 40}};
    for (int c = 0; c < 2; c++)
        for (size_t s = 0; s < NSIZES - 1; s++) {
            ot_job j = {.step = cot_step, .n = sizes[s], .ls = cfg[c].ls, .M = cfg[c].M};
            job_alloc(&j, cfg[c].M, 2, 80 + s + 10 * (uint64_t)c);
            REQUIRE_OK(run2(lane_party, &j));
            check_cot(&j);
            job_free(&j);
        }
}

/* ---- KK13 1-out-of-N ---- */

static int kk_step(int who, ot_lane *ln, ot_job *j) {
    return who == 0 ? kkot_send(ot_lane_kk_sender(ln), ln->ch, j->msgs, j->n, j->N, j->l)
                      : kkot_recv(ot_lane_kk_receiver(ln), ln->ch, j->out, j->choices, j->n, j->N, j->l);
}

static void kk_case(size_t n, unsigned N, unsigned l, uint64_t label) {
    ot_job j = {.step = kk_step, .n = n, .N = N, .l = l};
    job_alloc(&j, N, N, label);
    for (size_t i = 0; i < n * N; i++) j.msgs[i] &= bits_mask(l);
    if (run2(lane_party, &j) != 0) {
        harness_fail(__FILE__, __LINE__, "kkot n=%zu N=%u l=%u: %s", n, N, l, err_msg());
        job_free(&j);
        return;
    }
    for (size_t i = 0; i < n; i++) CHECK_EQ(j.out[i], j.msgs[i * N + j.choices[i]]);
    CHECK_EQ(job_bytes(&j), 32 * ote_padded(n) + bits_bytes(n * N * l));
    job_free(&j);
}

TEST(kk13_one_of_n) {
    static const unsigned Ns[] = {2, 4, 16, 256};
    for (int a = 0; a < 4; a++)
        for (size_t s = 0; s < NSIZES; s++)
            for (size_t w = 0; w < NWIDTHS; w++) {
                /* The largest case only for a few widths: 100000 x 256
                 * messages is 200 MB per width. */
                if (Ns[a] == 256 && sizes[s] == 100000 && widths[w] != 8) continue;
                if (sizes[s] == 100000 && widths[w] != 2 && widths[w] != 8 && widths[w] != 64)
                    continue;
                kk_case(sizes[s], Ns[a], widths[w], 200 + (uint64_t)a * 100 + s * 10 + w);
                if (harness_failed()) return;
            }
    /* N not a power of two. */
    kk_case(1000, 3, 5, 901);
    kk_case(1000, 200, 1, 902);
}

/* The KK13 pad hashes the 256-bit row as one chain, not its halves apart
 * (issue 10.1). The split construction H(lo) ^ H'(hi) satisfies, for any
 * two values of each half at one index, G(a, b) ^ G(a', b) ^ G(a, b') ^
 * G(a', b') = 0 -- the relation that lets a meet-in-the-middle test each
 * half's 64 bits of s on its own. The chain must break it (it holds with
 * probability 2^-128 per quadruple), flipping bits of one half only must
 * change the pad, and the pad must be the chain of the documented tweaks
 * (checked against the portable hash). */
TEST(kk13_pad_hashes_the_whole_row) {
    crh h;
    crh_init(&h);
    prg p;
    harness_prg(&p, 950);
    block out[4], tmp[4];
    for (int rep = 0; rep < 64; rep++) {
        block a[2], b[2], r[8];
        prg_blocks(&p, a, 2); /* a[0], a[1]: two lo halves */
        prg_blocks(&p, b, 2); /* two hi halves */
        uint64_t idx = prg_u64(&p) >> 2;
        for (int x = 0; x < 4; x++) {
            r[2 * x] = a[x & 1];
            r[2 * x + 1] = b[x >> 1];
            kk_pad_hash(&h, &out[x], tmp, &r[2 * x], NULL, 1, idx); /* all four at index idx */
        }
        block sq = block_xor(block_xor(out[0], out[1]), block_xor(out[2], out[3]));
        CHECK_MSG(!block_eq(sq, block_make(0, 0)), "rep %d: the split-half relation holds", rep);
        CHECK(!block_eq(out[0], out[1])); /* lo flipped */
        CHECK(!block_eq(out[0], out[2])); /* hi flipped */
        /* The definition: H(lo ^ H(hi, (3 << 62, idx)), ((3 << 62) | 1, idx)). */
        block inner, outer;
        crh_hash(&h, &inner, &r[1], 1, idx, 3ULL << 62);
        inner = block_xor(inner, r[0]);
        crh_hash(&h, &outer, &inner, 1, idx, (3ULL << 62) | 1);
        CHECK(block_eq(outer, out[0]));
    }
    /* With an offset, and in a batch: pad i uses index idx + i. */
    block rows[2 * 37], off[2], pads[37], scratch[37];
    prg_blocks(&p, rows, 2 * 37);
    prg_blocks(&p, off, 2);
    kk_pad_hash(&h, pads, scratch, rows, off, 37, 1000);
    for (int i = 0; i < 37; i++) {
        block x[2] = {block_xor(rows[2 * i], off[0]), block_xor(rows[2 * i + 1], off[1])}, one;
        kk_pad_hash(&h, &one, tmp, x, NULL, 1, 1000 + (uint64_t)i);
        CHECK(block_eq(one, pads[i]));
    }
    /* A fixed known answer, so the construction cannot drift silently:
     * row bytes 0..31, index 5. */
    uint8_t raw[32];
    for (int i = 0; i < 32; i++) raw[i] = (uint8_t)i;
    block kat[2];
    memcpy(kat, raw, sizeof kat);
    kk_pad_hash(&h, out, tmp, kat, NULL, 1, 5);
    CHECK_MSG(out[0].w[0] == KK_KAT_W0 && out[0].w[1] == KK_KAT_W1, "KAT: %016llx %016llx",
              (unsigned long long)out[0].w[0], (unsigned long long)out[0].w[1]);
    prg_clear(&p);
    crh_clear(&h);
}

/* ---- both parties sending at once ---- */

/* Each who is COT sender in one instance and receiver in the other, with
 * the receiver halves split so both run concurrently: 2 flights each. */
typedef struct both {
    size_t n;
    unsigned l;
    uint8_t *choices[2];
    uint64_t *delta[2], *x[2], *out[2];
    uint64_t flights[2];
} both;

static int both_party(int who, chan *ch, void *arg) {
    both *b = arg;
    ot_lane ln;
    TRY(ot_lane_setup(&ln, ch, harness_block(300 + (uint64_t)who)));
    uint64_t f0 = chan_get_stats(ch)->flights;
    int rc = iknp_cot_recv_begin(&ln.iknp_r, ch, b->out[who], b->choices[who], b->n, &b->l, 1);
    if (rc == 0) rc = chan_flush(ch);
    if (rc == 0) rc = iknp_cot_send(&ln.iknp_s, ch, b->x[who], b->delta[who], b->n, &b->l, 1);
    if (rc == 0) rc = iknp_cot_recv_end(ch, b->out[who], b->choices[who], b->n, &b->l, 1);
    b->flights[who] = chan_get_stats(ch)->flights - f0;
    ot_lane_clear(&ln);
    return rc;
}

TEST(both_directions_at_once) {
    both b = {.n = 50000, .l = 32};
    prg p;
    harness_prg(&p, 400);
    for (int k = 0; k < 2; k++) {
        b.choices[k] = mem_alloc(b.n, 1);
        b.delta[k] = mem_alloc(b.n, 8);
        b.x[k] = mem_alloc(b.n, 8);
        b.out[k] = mem_alloc(b.n, 8);
        prg_bits(&p, b.choices[k], b.n);
        prg_ring(&p, b.delta[k], b.n, b.l);
    }
    REQUIRE_OK(run2(both_party, &b));
    for (int k = 0; k < 2; k++) {
        /* who k sent with delta[k]; who 1-k received with its choices */
        for (size_t i = 0; i < b.n; i++)
            CHECK_EQ(b.out[1 - k][i], (b.x[k][i] + b.choices[1 - k][i] * b.delta[k][i]) & 0xffffffffu);
        CHECK_EQ(b.flights[k], 2);
    }
    for (int k = 0; k < 2; k++) {
        mem_free(b.choices[k]);
        mem_free(b.delta[k]);
        mem_free(b.x[k]);
        mem_free(b.out[k]);
    }
    prg_clear(&p);
}

/* Consecutive calls on one lane keep both sides in step, and the forced
 * portable AES gives the same protocol (a mixed pair interoperates). */
static int sequence_step(int who, ot_lane *ln, ot_job *j) {
    for (int rep = 0; rep < 3; rep++) {
        uint64_t *o = j->out + (size_t)rep * j->n, *x = j->x + (size_t)rep * j->n;
        int rc = who == 0 ? iknp_cot_send(&ln->iknp_s, ln->ch, x, j->delta, j->n, j->ls, 1)
                            : iknp_cot_recv(&ln->iknp_r, ln->ch, o, j->choices, j->n, j->ls, 1);
        TRY(rc);
    }
    return 0;
}

TEST(repeated_calls_and_portable_aes) {
    for (int impl = 0; impl < 2; impl++) {
        cpu_restrict(impl ? 0 : CPU_ALL); /* 1: the portable tiers */
        unsigned l = 20;
        ot_job j = {.step = sequence_step, .n = 1000, .ls = &l, .M = 1};
        job_alloc(&j, 3, 2, 500);
        REQUIRE_OK(run2(lane_party, &j));
        for (int rep = 0; rep < 3; rep++)
            for (size_t i = 0; i < j.n; i++) {
                size_t o = (size_t)rep * j.n + i;
                CHECK_EQ(j.out[o], (j.x[o] + j.choices[i] * j.delta[i]) & bits_mask(l));
            }
        /* Pads differ between calls (fresh OTs each time). */
        CHECK(j.x[0] != j.x[j.n] || j.x[1] != j.x[j.n + 1]);
        job_free(&j);
    }
    cpu_restrict(CPU_ALL);
}

/* ---- streamed COT with a per-OT layout ---- */

/* The whole batch is held here only to check it; the protocol itself sees
 * it through the callbacks. */
typedef struct cotv_case {
    size_t n, M_max, total;
    size_t *M, *off; /* layout and where OT i's values start */
    unsigned *b;
    uint64_t *delta, *x, *out;
    uint8_t *c;
    int calls;       /* consecutive calls on one instance */
    int bad_order[2];
    uint64_t flights[2];
} cotv_case;

typedef struct cotv_side {
    cotv_case *k;
    int who, call;
    size_t next; /* the OT the next out() must be for */
} cotv_side;

static void cv_shape(void *ctx, size_t i, size_t *M, unsigned *b) {
    cotv_side *s = ctx;
    *M = s->k->M[i];
    *b = s->k->b[i];
}
static const uint64_t *cv_delta(void *ctx, size_t i, size_t M) {
    cotv_side *s = ctx;
    return s->k->delta + s->k->off[i];
}
static void cv_choices(void *ctx, size_t first, size_t count, uint8_t *c) {
    cotv_side *s = ctx;
    memcpy(c, s->k->c + first, count);
}
static void cv_out(void *ctx, size_t i, const uint64_t *v, size_t M, unsigned b) {
    cotv_side *s = ctx;
    cotv_case *k = s->k;
    if (i != s->next || M != k->M[i] || b != k->b[i]) s->k->bad_order[s->who] = 1;
    s->next = i + 1;
    uint64_t *dst = (s->who == 0 ? k->x : k->out) + (size_t)s->call * k->total + k->off[i];
    memcpy(dst, v, M * sizeof *v);
}

static int cotv_party(int who, chan *ch, void *arg) {
    cotv_case *k = arg;
    ot_lane ln;
    TRY(ot_lane_setup(&ln, ch, harness_block(700 + (uint64_t)who)));
    chan_reset_stats(ch);
    cotv_side side = {k, who, 0, 0};
    cotv_io io = {&side, k->M_max, cv_shape, cv_delta, cv_choices, cv_out};
    int rc = 0;
    for (int call = 0; call < k->calls && rc == 0; call++) {
        side.call = call;
        side.next = 0;
        rc = who == 0 ? iknp_cotv_send(&ln.iknp_s, ch, k->n, &io)
                      : iknp_cotv_recv(&ln.iknp_r, ch, k->n, &io);
    }
    k->flights[who] = chan_get_stats(ch)->flights;
    ot_lane_clear(&ln);
    return rc;
}

/* n OTs with M_i uniform in [Mlo, Mhi] and b_i in [blo, bhi]. */
static void cotv_run(size_t n, size_t Mlo, size_t Mhi, unsigned blo, unsigned bhi, int calls,
                     uint64_t label) {
    prg p;
    harness_prg(&p, label);
    cotv_case k = {.n = n, .M_max = Mhi, .calls = calls};
    k.M = mem_alloc(n + 1, sizeof(size_t));
    k.off = mem_alloc(n + 1, sizeof(size_t));
    k.b = mem_alloc(n + 1, sizeof(unsigned));
    k.c = mem_alloc(n + 1, 1);
    uint64_t expect = 16 * ote_padded(n), group = 0;
    for (size_t i = 0; i < n; i++) {
        k.M[i] = Mlo + prg_u64(&p) % (Mhi - Mlo + 1);
        k.b[i] = blo + (unsigned)(prg_u64(&p) % (bhi - blo + 1));
        k.off[i] = k.total;
        k.total += k.M[i];
        group += (uint64_t)k.M[i] * k.b[i];
        if ((i + 1) % 128 == 0 || i + 1 == n) expect += bits_bytes(group), group = 0;
    }
    prg_bits(&p, k.c, n);
    k.delta = mem_alloc(k.total + 1, 8);
    k.x = mem_alloc((size_t)calls * k.total + 1, 8);
    k.out = mem_alloc((size_t)calls * k.total + 1, 8);
    prg_bytes(&p, k.delta, k.total * 8); /* not reduced: the sender reduces */
    int rc = run2(cotv_party, &k);
    CHECK_MSG(rc == 0, "cotv n=%zu M=%zu..%zu: %s", n, Mlo, Mhi, err_msg());
    if (rc == 0) {
        CHECK(!k.bad_order[0] && !k.bad_order[1]);
        size_t bad = 0;
        for (int call = 0; call < calls; call++)
            for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < k.M[i]; j++) {
                    size_t o = (size_t)call * k.total + k.off[i] + j;
                    uint64_t m = bits_mask(k.b[i]);
                    if (k.x[o] > m || k.out[o] != ((k.x[o] + k.c[i] * k.delta[k.off[i] + j]) & m))
                        bad++;
                }
        CHECK_EQ(bad, 0);
        CHECK_EQ(run2_stats[0].bytes_sent + run2_stats[1].bytes_sent, (uint64_t)calls * expect);
        /* One flight each way per call (none for the sender if there is
         * nothing to correct). */
        CHECK_EQ(k.flights[1], n ? calls : 0);
        CHECK_EQ(k.flights[0], expect > 16 * ote_padded(n) ? calls : 0);
        /* Fresh pads on every call: the whole first call against the
         * second, when the pads hold at least 64 random bits (a check of
         * four elements failed 1 time in 16 on 1-bit pads). */
        uint64_t padbits = 0;
        for (size_t i = 0; i < n; i++)
            padbits += (uint64_t)k.M[i] * k.b[i];
        if (calls > 1 && padbits >= 64)
            CHECK(memcmp(k.x, k.x + k.total, k.total * sizeof *k.x) != 0);
    }
    mem_free(k.M);
    mem_free(k.off);
    mem_free(k.b);
    mem_free(k.c);
    mem_free(k.delta);
    mem_free(k.x);
    mem_free(k.out);
    prg_clear(&p);
}

TEST(streamed_cot_layouts) {
    static const size_t ns[] = {0, 1, 127, 128, 129, 1000, 20000};
    for (size_t a = 0; a < sizeof ns / sizeof *ns; a++) {
        cotv_run(ns[a], 0, 20, 1, 64, 1, 800 + a);
        if (harness_failed()) return;
    }
    cotv_run(300, 0, 0, 1, 64, 1, 820);      /* no correlations at all */
    cotv_run(1000, 1, 1, 1, 1, 2, 821);      /* one bit per OT, two calls */
    cotv_run(777, 5, 9, 32, 33, 3, 822);     /* the 32/64-bit slot boundary */
    cotv_run(500, 1, 30, 7, 18, 1, 825);     /* the 8/16/32-bit ones */
    cotv_run(5000, 40, 80, 1, 37, 1, 823);   /* a linear layer's widths */
    /* Three chunks with little to correct: each chunk's corrections must
     * reach the receiver before the sender waits for the chunk after. */
    cotv_run(2 * 8192 + 128, 1, 2, 1, 8, 1, 824);
}

TEST(streamed_cot_wide_ots) {
    /* 1100 x 64 bits per OT: chunks of 128 OTs cut by the corrections
     * budget, pads of 550 blocks per OT. */
    cotv_run(300, 1100, 1100, 64, 64, 1, 830);
    cotv_run(200, 1, 3000, 20, 40, 2, 831);
}

/* A sender whose peer disappears mid-extension gets an error, not a hang. */
static int dropout_party(int who, chan *ch, void *arg) {
    ot_lane ln;
    TRY(ot_lane_setup(&ln, ch, harness_block(600 + (uint64_t)who)));
    int rc = 0;
    if (who == 0) {
        size_t n = 1 << 16;
        uint64_t *x = mem_alloc(n, 8), *d = mem_calloc(n, 8);
        unsigned l = 32;
        *(int *)arg = iknp_cot_send(&ln.iknp_s, ch, x, d, n, &l, 1);
        mem_free(x);
        mem_free(d);
    } else {
        /* Half of the first chunk's matrix, then the peer goes away. */
        uint8_t junk[4096] = {0};
        rc = chan_send(ch, junk, sizeof junk);
        if (rc == 0) rc = chan_flush(ch);
    }
    ot_lane_clear(&ln);
    return rc;
}

TEST(peer_drops_mid_extension) {
    int sender_rc = 0;
    REQUIRE_OK(run2_drop(dropout_party, &sender_rc));
    CHECK_EQ(sender_rc, PARLEY_E_CLOSED);
}

/* ---- silent OT (Ferret) ---- */

/* Raw random COTs: the correlation of every output, over several batches
 * (each bootstrapped from the one before), in both directions. */
typedef struct rcot_case {
    const ferret_params *fp;
    size_t total;       /* COTs per direction */
    const size_t *parts; /* request sizes, cycled */
    size_t nparts;
    block *q[2], *t[2]; /* [dir]: the sender's and the receiver's COTs */
    block delta[2];
    uint64_t batches[2], sent[2], flights[2];
    uint64_t setup_sent[2], setup_flights[2]; /* the lane's set-up, per party */
} rcot_case;

static int rcot_party(int who, chan *ch, void *arg) {
    rcot_case *k = arg;
    ot_lane ln;
    ot_lane_opts o = {.backend = OT_BACKEND_SILENT, .ferret = k->fp};
    TRY(ot_lane_setup_ex(&ln, ch, harness_block(1100 + (uint64_t)who), &o));
    k->delta[who] = ot_lane_cots(&ln, 1)->delta;
    k->setup_sent[who] = chan_get_stats(ch)->bytes_sent;
    k->setup_flights[who] = chan_get_stats(ch)->flights;
    chan_reset_stats(ch);
    int rc = 0;
    /* Direction 0: party 0 sends; then direction 1. */
    for (int dir = 0; dir < 2 && rc == 0; dir++)
        for (size_t done = 0, p = 0; done < k->total && rc == 0; p++) {
            size_t n = k->parts[p % k->nparts];
            if (n > k->total - done) n = k->total - done;
            rc = who == dir ? silent_rcot_send(ot_lane_cots(&ln, 1), ch, k->q[dir] + done, n)
                            : silent_rcot_recv(ot_lane_cots(&ln, 0), ch, k->t[dir] + done, n);
            done += n;
        }
    k->batches[who] = ot_lane_cots(&ln, 1)->fills;
    k->sent[who] = chan_get_stats(ch)->bytes_sent;
    k->flights[who] = chan_get_stats(ch)->flights;
    ot_lane_clear(&ln);
    return rc;
}

/* The set-up flights per party of a set that does not boot (the toy
 * set's test runs first and records them). */
static uint64_t rcot_toy_setup_flights;

static void rcot_check(const ferret_params *fp, size_t total, const size_t *parts, size_t nparts) {
    rcot_case k = {.fp = fp, .total = total, .parts = parts, .nparts = nparts};
    for (int d = 0; d < 2; d++) {
        k.q[d] = mem_alloc(total + 1, sizeof(block));
        k.t[d] = mem_alloc(total + 1, sizeof(block));
    }
    int rc = run2(rcot_party, &k);
    CHECK_MSG(rc == 0, "rcot %s: %s", fp->name, err_msg());
    size_t usable = ferret_usable(fp);
    uint64_t want_batches = (total + usable - 1) / usable;
    for (int d = 0; d < 2 && rc == 0; d++) {
        uint64_t bad = 0, lsb = 0, ones = 0, same = 0;
        block D = k.delta[d];
        CHECK(D.w[0] & 1);
        for (size_t i = 0; i < total; i++) {
            block q = k.q[d][i], t = k.t[d][i];
            unsigned b = t.w[0] & 1;
            ones += b;
            lsb += q.w[0] & 1;
            if (!block_eq(t, block_xor(q, block_and(D, block_mask(b))))) bad++;
            if (i && block_eq(q, k.q[d][i - 1])) same++;
        }
        CHECK_MSG(bad == 0 && lsb == 0 && same == 0, "%s dir %d: %llu of %zu outputs wrong", fp->name,
                  d, (unsigned long long)bad, total);
        /* The LPN step spreads the choices: without it only t of n would
         * be 1. */
        if (total >= 10000)
            CHECK_MSG(ones > total * 49 / 100 && ones < total * 51 / 100, "%s: %llu ones of %zu",
                      fp->name, (unsigned long long)ones, total);
        /* The sender makes every batch (one flight, the tree messages);
         * the receiver sends nothing after set-up. */
        CHECK_EQ(k.batches[d], want_batches);
    }
    CHECK_EQ(k.sent[0] + k.sent[1], 2 * want_batches * ferret_batch_bytes(fp));
    CHECK_EQ(k.flights[0] + k.flights[1], 2 * want_batches);
    /* The set-up: exactly what the cost model says, and for a set that
     * boots (ferret_boots) one flight more per party, for the boot batch. */
    CHECK_EQ(k.setup_sent[0] + k.setup_sent[1],
             ot_lane_setup_bytes(&(ot_lane_opts){.backend = OT_BACKEND_SILENT, .ferret = fp}));
    CHECK_EQ(k.setup_flights[0], k.setup_flights[1]);
    if (ferret_boots(fp)) CHECK_EQ(k.setup_flights[0], rcot_toy_setup_flights + 1);
    else rcot_toy_setup_flights = k.setup_flights[0];
    for (int d = 0; d < 2; d++) {
        mem_free(k.q[d]);
        mem_free(k.t[d]);
    }
}

TEST(silent_cot_correlation) {
    /* The sizes of the issue, cycled through four batches of FERRET_TOY. */
    rcot_check(&FERRET_TOY, 0, sizes, NSIZES);
    rcot_check(&FERRET_TOY, 1, sizes + 1, 1);
    rcot_check(&FERRET_TOY, 4 * ferret_usable(&FERRET_TOY) + 129, sizes + 1, NSIZES - 1);
    static const size_t odd[] = {127, 100000, 128, 129, 1};
    rcot_check(&FERRET_TOY, 2 * ferret_usable(&FERRET_TOY) + 1, odd, 5);
}

TEST(silent_cot_production_params) {
    /* FERRET_DEFAULT: the first batch and the first outputs of the second.
     * The parameters are the ones docs/SECURITY-OT.md argues for (and
     * scripts/lpn-estimate checks in the lpn_estimate test). */
    static const size_t parts[] = {100000, 129, 127, 128, 1};
    CHECK_EQ(FERRET_DEFAULT.t, 1170);
    CHECK_EQ(FERRET_DEFAULT.h, 11);
    CHECK_EQ(FERRET_DEFAULT.logk, 18);
    CHECK_EQ(ferret_n(&FERRET_DEFAULT), 2396160);
    CHECK_EQ(ferret_usable(&FERRET_DEFAULT), 2396160 - 262144 - 1170 * 11);
    CHECK_EQ(ferret_batch_bytes(&FERRET_DEFAULT), 205920);
    /* Its first base comes from one FERRET_BOOT batch (ferret.h), whose
     * parameters docs/SECURITY-OT.md argues for too (lpn_estimate_boot):
     * the batch covers the base, from 48,168 IKNP rows instead of 275,014. */
    CHECK_EQ(FERRET_BOOT.t, 2200);
    CHECK_EQ(FERRET_BOOT.h, 7);
    CHECK_EQ(FERRET_BOOT.logk, 15);
    CHECK(ferret_boots(&FERRET_DEFAULT));
    CHECK(!ferret_boots(&FERRET_TOY));
    CHECK_EQ(ferret_first_rows(&FERRET_DEFAULT), 48168);
    CHECK_EQ(ferret_first_rows(&FERRET_TOY), ferret_m(&FERRET_TOY));
    CHECK(ferret_n(&FERRET_BOOT) >= ferret_m(&FERRET_DEFAULT));
    rcot_check(&FERRET_TOY, 1, parts + 4, 1); /* records a set-up without the boot */
    CHECK(rcot_toy_setup_flights > 0);
    rcot_check(&FERRET_DEFAULT, ferret_usable(&FERRET_DEFAULT) + 1000, parts, 5);
}

/* The LPN code is drawn per lane direction from both parties' seeds and
 * per batch (issue 10.3): the sender and the receiver of a direction use
 * the same rows, the two directions of a lane and two sessions use
 * different ones, and so do two batches. */
#define CODE_SAMPLES 48
typedef struct code_case {
    uint64_t seed;                                    /* of this session */
    uint32_t row[2][2][2][CODE_SAMPLES][FERRET_D];   /* [who][we send][batch][sample] */
} code_case;

static int code_party(int who, chan *ch, void *arg) {
    code_case *k = arg;
    ot_lane ln;
    ot_lane_opts o = {.backend = OT_BACKEND_SILENT, .ferret = &FERRET_TOY};
    TRY(ot_lane_setup_ex(&ln, ch, harness_block(k->seed + (uint64_t)who), &o));
    for (int snd = 0; snd < 2; snd++) {
        cot_pool *p = ot_lane_cots(&ln, snd);
        CHECK(p->refill == &ferret_refill);
        ferret *f = p->refill_ctx;
        for (int b = 0; b < 2; b++)
            for (size_t i = 0; i < CODE_SAMPLES; i++)
                ferret_code_row(f, (uint64_t)b, i * 997 % ferret_n(&FERRET_TOY),
                                k->row[who][snd][b][i]);
    }
    ot_lane_clear(&ln);
    return 0;
}

/* Rows equal between two tables of samples. */
static size_t rows_equal(uint32_t (*a)[FERRET_D], uint32_t (*b)[FERRET_D]) {
    size_t eq = 0;
    for (size_t i = 0; i < CODE_SAMPLES; i++) eq += !memcmp(a[i], b[i], sizeof a[i]);
    return eq;
}

TEST(silent_code_per_session_and_batch) {
    static code_case s[2] = {{.seed = 1900}, {.seed = 1950}};
    for (int c = 0; c < 2; c++) REQUIRE_OK(run2(code_party, &s[c]));
    for (int c = 0; c < 2; c++)
        for (int b = 0; b < 2; b++) {
            /* Party 0 sends to party 1 (and back): both see one code. */
            CHECK_EQ(rows_equal(s[c].row[0][1][b], s[c].row[1][0][b]), CODE_SAMPLES);
            CHECK_EQ(rows_equal(s[c].row[1][1][b], s[c].row[0][0][b]), CODE_SAMPLES);
            /* The two directions differ. */
            CHECK_EQ(rows_equal(s[c].row[0][1][b], s[c].row[1][1][b]), 0);
            /* Positions are below k. */
            for (size_t i = 0; i < CODE_SAMPLES; i++)
                for (int d = 0; d < FERRET_D; d++)
                    CHECK(s[c].row[0][1][b][i][d] < ferret_k(&FERRET_TOY));
        }
    for (int c = 0; c < 2; c++) /* batch 0 and batch 1 */
        CHECK_EQ(rows_equal(s[c].row[0][1][0], s[c].row[0][1][1]), 0);
    for (int b = 0; b < 2; b++) /* session 1 and session 2 */
        CHECK_EQ(rows_equal(s[0].row[0][1][b], s[1].row[0][1][b]), 0);
}

/* The COT pool and its refill hook are the whole interface between the
 * silent flavours (and their schedule) and whatever makes the COTs (issue
 * 15.3; a producer that runs ahead, issue 12, plugs in the same way). A
 * producer of the test's own -- COTs drawn from a seed both sides know,
 * one byte of message per batch -- behind two pools runs the flavours
 * through the silent schedule, refilling where a pool runs short. */
#define TOY_BATCH 70000
typedef struct toy_prod {
    cot_pool *pool;
    prg g;       /* the same stream on both sides */
    block delta; /* both sides know it: a test, not a protocol */
    int calls;
} toy_prod;

static void toy_fill(toy_prod *t) {
    block *room = cot_pool_fill_begin(t->pool);
    for (size_t i = 0; i < TOY_BATCH; i++) {
        block q = prg_block(&t->g);
        q.w[0] &= ~(uint64_t)1;
        uint64_t b = prg_u64(&t->g) & 1;
        room[i] = t->pool->sender ? q : block_xor(q, block_and(t->delta, block_mask((unsigned)b)));
    }
    cot_pool_fill_end(t->pool, 0);
    t->calls++;
}
static int toy_send(void *ctx, chan *ch) {
    uint8_t one = 1;
    return chan_send(ch, &one, 1);
}
static void toy_finish(void *ctx) { toy_fill(ctx); }
static int toy_recv(void *ctx, chan *ch) {
    uint8_t one;
    TRY(chan_recv(ch, &one, 1));
    toy_fill(ctx);
    return 0;
}
static uint64_t toy_bytes(const void *ctx) {
    (void)ctx;
    return 1;
}
static const cot_refill toy_refill = {toy_send, toy_finish, toy_recv, toy_bytes};

typedef struct toy_case {
    size_t n;
    uint8_t *ch;             /* party 1's choices (KK, 0..3) */
    uint64_t *msgs, *out;    /* KK (4 choose 1)-OT_9: party 0 sends */
    uint8_t *cc;             /* party 0's COT choices */
    uint64_t *x, *d, *cout;  /* COT_20: party 1 sends */
    int calls[2][2];         /* [who][pool sends] */
    uint64_t gen[2];
} toy_case;

static int toy_party(int who, chan *ch, void *arg) {
    toy_case *k = arg;
    block delta = harness_block(1990);
    delta.w[0] |= 1;
    cot_pool ps, pr;
    toy_prod tp[2];
    cot_pool_init(&ps, 1, delta, TOY_BATCH);
    cot_pool_init(&pr, 0, block_make(0, 0), TOY_BATCH);
    for (int s = 0; s < 2; s++) { /* direction "who sends": seeded by the sender */
        tp[s] = (toy_prod){.pool = s ? &ps : &pr, .delta = delta};
        prg_seed(&tp[s].g, harness_block(2000 + (uint64_t)(s ? who : 1 - who)));
    }
    cot_pool_set_refill(&ps, &toy_refill, &tp[1]);
    cot_pool_set_refill(&pr, &toy_refill, &tp[0]);
    static const unsigned l20 = 20;
    ot_task kk = {.kind = OT_TASK_KK, .n = k->n, .N = 4, .l = 9, .steps = &silent_steps};
    ot_task ct = {.kind = OT_TASK_COT, .n = k->n, .ls = &l20, .M = 1, .steps = &silent_steps};
    if (who == 0) {
        kk.src = &ps, kk.msgs = k->msgs;
        ct.src = &pr, ct.choices = k->cc, ct.out = k->cout;
    } else {
        kk.src = &pr, kk.choices = k->ch, kk.out = k->out;
        ct.src = &ps, ct.x = k->x, ct.delta = k->d;
    }
    size_t nc = ot_task_chunks(&kk);
    ot_chunk *K = mem_alloc(nc, sizeof *K), *C = mem_alloc(nc, sizeof *C);
    for (size_t c = 0; c < nc; c++) K[c] = (ot_chunk){&kk, c}, C[c] = (ot_chunk){&ct, c};
    silent_stats st = {0};
    int rc = who == 0 ? silent_steps_run(&ps, &pr, ch, C, nc, K, nc, &st)
                      : silent_steps_run(&ps, &pr, ch, K, nc, C, nc, &st);
    k->calls[who][0] = tp[0].calls;
    k->calls[who][1] = tp[1].calls;
    k->gen[who] = st.gen_bytes;
    ot_task_free(&kk);
    ot_task_free(&ct);
    mem_free(K);
    mem_free(C);
    for (int s = 0; s < 2; s++) prg_clear(&tp[s].g);
    cot_pool_clear(&ps);
    cot_pool_clear(&pr);
    return rc;
}

/* The pool alone: a fill writes the batch right below the COTs left and
 * moves nothing; its first `keep` blocks are never handed out, its others
 * come next, then the ones left from before, in order; a fill may keep up
 * to the pool's room; indices count every COT handed out; the lowest block
 * written is tracked (cot_pool_clear wipes from there: a pool that never
 * kept COTs beside a new batch leaves its room untouched). */
/* ---- 4-bit VOLE (ot/vole4.h) ---- */

/* The table is linear, injective and nonzero off 0; correlations from
 * COTs satisfy w = v ^ u * Delta. */
TEST(vole4_table_and_cots) {
    prg gs, *g = &gs;
    harness_prg(g, 1330);
    for (int rep = 0; rep < 50; rep++) {
        block delta = prg_block(g), D[16];
        delta.w[0] |= 1;
        vole4_table(delta, D);
        CHECK(block_eq(D[0], block_make(0, 0)));
        CHECK(block_eq(D[1], delta));
        for (unsigned a = 0; a < 16; a++)
            for (unsigned b = 0; b < 16; b++) {
                CHECK(block_eq(D[a ^ b], block_xor(D[a], D[b])));
                if (a != b) CHECK(!block_eq(D[a], D[b]));
            }
        /* x * Delta by hand for a Delta with its top bit set */
        block top = block_make((uint64_t)1 << 63, 3), Dt[16];
        vole4_table(top, Dt);
        CHECK(block_eq(Dt[2], block_make(0, 6 ^ 0x87)));
        enum { N = 64 };
        block q[4 * N], t[4 * N], v[N], w[N];
        uint8_t u[N], us[N];
        for (size_t i = 0; i < 4 * N; i++) {
            q[i] = prg_block(g);
            q[i].w[0] &= ~(uint64_t)1;
            t[i] = block_xor(q[i], block_and(delta, block_mask((unsigned)(prg_u64(g) & 1))));
        }
        vole4_from_cots(q, N, v, us);
        vole4_from_cots(t, N, w, u);
        for (size_t i = 0; i < N; i++) {
            CHECK(u[i] < 16);
            CHECK_EQ(us[i], 0);
            CHECK(block_eq(w[i], block_xor(v[i], D[u[i]])));
            for (unsigned j = 0; j < 4; j++) CHECK_EQ((u[i] >> j) & 1, t[4 * i + j].w[0] & 1);
        }
    }
    prg_clear(g);
}

typedef struct vole4_case {
    const vole4_params *vp;
    unsigned batches;
    int sender;          /* which party sends */
    int tamper;          /* receiver: flip a bit of the last tree's level-0 COT */
    block delta;
    block *v, *w;        /* batches * usable each */
    uint8_t *u;
    uint64_t bytes[2], flights[2];
} vole4_case;

static int vole4_party(int who, chan *ch, void *arg) {
    vole4_case *k = arg;
    const vole4_params *vp = k->vp;
    int snd = who == k->sender;
    ot_lane ln;
    ot_lane_opts o = {.backend = OT_BACKEND_SILENT, .ferret = &FERRET_TOY};
    TRY(ot_lane_setup_ex(&ln, ch, harness_block(1300 + (uint64_t)who), &o));
    cot_pool *pool = snd ? ot_lane_cots(&ln, 1) : ot_lane_cots(&ln, 0);
    if (snd) k->delta = pool->delta;
    size_t m = vole4_m(vp), n = vole4_n(vp), nc = vole4_cots(vp);
    block *c = mem_alloc(4 * m > nc ? 4 * m : nc, sizeof(block));
    block *out = mem_alloc(n, sizeof(block));
    uint8_t *outu = mem_alloc(n, 1);
    vole4 f;
    memset(&f, 0, sizeof f);
    int rc = c && out && outu ? 0 : PARLEY_E_NOMEM;
    /* The first base from 4 m COTs of the direction. */
    if (rc == 0)
        rc = snd ? silent_rcot_send(pool, ch, c, 4 * m) : silent_rcot_recv(pool, ch, c, 4 * m);
    if (rc == 0) {
        vole4_from_cots(c, m, out, outu);
        rc = vole4_init(&f, vp, snd, k->delta, out, snd ? NULL : outu,
                        harness_block(1310 + (uint64_t)who), harness_block(1320));
    }
    for (unsigned b = 0; b < k->batches && rc == 0; b++) {
        rc = snd ? silent_rcot_send(pool, ch, c, nc) : silent_rcot_recv(pool, ch, c, nc);
        if (rc == 0 && !snd && k->tamper && b == 0) c[(size_t)(vp->t - 1) * vp->h].w[1] ^= 1;
        if (rc < 0) break;
        chan_stats s0 = *chan_get_stats(ch);
        if (snd) {
            rc = vole4_send_trees(&f, ch, c, out);
            if (rc == 0) rc = chan_flush(ch);
            if (rc == 0) vole4_send_finish(&f, out);
        } else {
            rc = vole4_recv_batch(&f, ch, c, out, outu);
        }
        k->bytes[who] += chan_get_stats(ch)->bytes_sent - s0.bytes_sent;
        k->flights[who] += chan_get_stats(ch)->flights - s0.flights;
        size_t us = vole4_usable(vp), off = (size_t)b * us;
        if (rc == 0) {
            memcpy((snd ? k->v : k->w) + off, out + m, us * sizeof(block));
            if (!snd) memcpy(k->u + off, outu + m, us);
        }
    }
    vole4_clear(&f);
    mem_free(c);
    mem_free(out);
    mem_free(outu);
    ot_lane_clear(&ln);
    return rc;
}

static void vole4_run(vole4_case *k) {
    size_t tot = (size_t)k->batches * vole4_usable(k->vp);
    k->v = mem_alloc(tot, sizeof(block));
    k->w = mem_alloc(tot, sizeof(block));
    k->u = mem_alloc(tot, 1);
    int rc = run2(vole4_party, k);
    CHECK_MSG(rc == 0, "vole4 %s: %s", k->vp->name, err_msg());
}

static void vole4_free(vole4_case *k) {
    mem_free(k->v);
    mem_free(k->w);
    mem_free(k->u);
}

/* Every correlation of several batches (each made from the one before),
 * with either party sending: w = v ^ u * Delta, the nibbles' bit planes
 * balanced, exact bytes and one flight per batch. */
TEST(vole4_correlation) {
    for (int s = 0; s < 2; s++) {
        vole4_case k = {.vp = &VOLE4_TOY, .batches = 4, .sender = s};
        vole4_run(&k);
        block D[16];
        vole4_table(k.delta, D);
        size_t tot = (size_t)k.batches * vole4_usable(k.vp), bad = 0, ones[4] = {0}, hist[16] = {0};
        for (size_t i = 0; i < tot; i++) {
            if (k.u[i] >= 16 || !block_eq(k.w[i], block_xor(k.v[i], D[k.u[i] & 15]))) bad++;
            for (int j = 0; j < 4; j++) ones[j] += (k.u[i] >> j) & 1;
            hist[k.u[i] & 15]++;
        }
        CHECK_MSG(bad == 0, "sender %d: %zu of %zu correlations wrong", s, bad, tot);
        for (int j = 0; j < 4; j++) /* 311,136 samples: 0.5 +- 0.02 is > 20 sigma */
            CHECK_MSG(ones[j] > tot * 48 / 100 && ones[j] < tot * 52 / 100, "plane %d: %zu of %zu",
                      j, ones[j], tot);
        for (int j = 0; j < 16; j++) CHECK(hist[j] > tot / 32);
        CHECK_EQ(k.bytes[s], k.batches * vole4_batch_bytes(k.vp));
        CHECK_EQ(k.bytes[1 - s], 0);
        CHECK_EQ(k.flights[s], k.batches);
        vole4_free(&k);
    }
}

/* A wrong level mask breaks the correlations of its tree (the test above
 * can fail), and only those: the last tree's leaves are usable outputs
 * (the first m outputs become the next base), and the rest still hold. */
TEST(vole4_tampered_level) {
    vole4_case k = {.vp = &VOLE4_TOY, .batches = 1, .sender = 0, .tamper = 1};
    vole4_run(&k);
    block D[16];
    vole4_table(k.delta, D);
    size_t tot = vole4_usable(k.vp), bad = 0;
    for (size_t i = 0; i < tot; i++)
        if (!block_eq(k.w[i], block_xor(k.v[i], D[k.u[i] & 15]))) bad++;
    CHECK(bad > 0);
    CHECK(bad <= (size_t)1 << k.vp->h);
    vole4_free(&k);
}

/* A sender that goes away before its trees: the receiver gets an error,
 * not correlations. */
static int vole4_drop_party(int who, chan *ch, void *arg) {
    int *rc_recv = arg;
    if (who == 1) return 0; /* the sender: gone */
    vole4 f;
    size_t m = vole4_m(&VOLE4_TOY), n = vole4_n(&VOLE4_TOY);
    block *base = mem_calloc(m, sizeof(block)), *out = mem_alloc(n, sizeof(block));
    block *c = mem_calloc(vole4_cots(&VOLE4_TOY), sizeof(block));
    uint8_t *bu = mem_calloc(m, 1), *ou = mem_alloc(n, 1);
    int rc = vole4_init(&f, &VOLE4_TOY, 0, block_make(0, 0), base, bu, harness_block(1),
                        harness_block(2));
    if (rc == 0) rc = vole4_recv_batch(&f, ch, c, out, ou);
    *rc_recv = rc;
    vole4_clear(&f);
    mem_free(base);
    mem_free(out);
    mem_free(c);
    mem_free(bu);
    mem_free(ou);
    return 0;
}

TEST(vole4_peer_gone) {
    int rc = 0;
    REQUIRE_OK(run2_drop(vole4_drop_party, &rc));
    CHECK_EQ(rc, PARLEY_E_CLOSED);
}

/* (N choose 1)-OT on a pool of 4-bit VOLE correlations (silent.c): one
 * correlation per OT, 4 choice bits, the sender's N keys H(v ^ (j ^ d)
 * Delta). Every output against the chosen message (or, implied, f(c) ^ x),
 * with refills of both generators in the middle; the bytes are exact: the
 * flavour's, the 4-bit VOLE batches' and the Ferret batches' their trees
 * took. */
typedef struct v4kk_case {
    ot_job j;
    int implied;
    int drain;                       /* drain the COT pool to 100 first */
    uint64_t flights[2];             /* each party's flights in the OTs */
    uint64_t wire[2];                /* each party's bytes sent in the OTs */
    uint64_t v4_batches, f_batches;  /* party 0's (the sender's) */
} v4kk_case;

static int v4kk_party(int who, chan *ch, void *arg) {
    v4kk_case *k = arg;
    ot_job *j = &k->j;
    ot_lane ln;
    ot_lane_opts o = {.backend = OT_BACKEND_SILENT, .ferret = &FERRET_TOY};
    TRY(ot_lane_setup_ex(&ln, ch, harness_block(1400 + (uint64_t)who), &o));
    cot_pool *cots = ot_lane_cots(&ln, who == 0);
    vole4 f;
    cot_pool pool;
    int rc = vole4_pool_setup(&f, &pool, &VOLE4_TOY, cots, ch, harness_block(1410 + (uint64_t)who),
                              harness_block(1420));
    if (rc < 0) {
        ot_lane_clear(&ln);
        return rc;
    }
    /* Drained to 100 COTs, the first 4-bit VOLE refill makes a Ferret batch
     * inside its own, in the same flight. */
    if (k->drain) {
        size_t d = cot_pool_avail(cots) - 100;
        block *tmp = mem_alloc(d, sizeof(block));
        rc = tmp ? 0 : PARLEY_E_NOMEM;
        if (rc == 0)
            rc = who == 0 ? silent_rcot_send(cots, ch, tmp, d) : silent_rcot_recv(cots, ch, tmp, d);
        mem_free(tmp);
    }
    uint64_t b0 = chan_get_stats(ch)->bytes_sent, f0 = cots->fills;
    uint64_t fl0 = chan_get_stats(ch)->flights;
    if (rc == 0 && who == 0)
        rc = k->implied ? silent_kkot_send_implied(&pool, ch, j->x, j->msgs, j->n, j->N, j->l)
                        : silent_kkot_send(&pool, ch, j->msgs, j->n, j->N, j->l);
    else if (rc == 0)
        rc = k->implied ? silent_kkot_recv_implied(&pool, ch, j->out, j->choices, j->n, j->N, j->l)
                        : silent_kkot_recv(&pool, ch, j->out, j->choices, j->n, j->N, j->l);
    k->wire[who] = chan_get_stats(ch)->bytes_sent - b0;
    k->flights[who] = chan_get_stats(ch)->flights - fl0;
    if (who == 0) {
        k->v4_batches = pool.fills;
        k->f_batches = cots->fills - f0;
    }
    vole4_pool_clear(&f, &pool);
    ot_lane_clear(&ln);
    return rc;
}

TEST(vole4_one_of_n) {
    static const unsigned Ns[] = {16, 8, 5, 2};
    static const unsigned ls[] = {1, 2, 3, 4, 17, 64};
    static const size_t ns[] = {0, 1, 129, 200000};
    uint64_t last_flights[2] = {0, 0}; /* the undrained run's, per implied */
    for (int a = 0; a < 4; a++)
        for (int w = 0; w < 6; w++)
            for (int z = 0; z < 4; z++)
                for (int imp = 0; imp < 4; imp++) {
                    unsigned N = Ns[a], l = ls[w];
                    size_t n = ns[z];
                    int drain = imp >= 2;
                    if (n == 200000 && (w % 2 || a % 2)) continue;
                    if (drain && n != 200000) continue;
                    v4kk_case k = {.j = {.n = n, .N = N, .l = l}, .implied = imp & 1, .drain = drain};
                    job_alloc(&k.j, N, N, 1430 + (uint64_t)a * 100 + (uint64_t)w * 10 + z);
                    for (size_t i = 0; i < n * N; i++) k.j.msgs[i] &= bits_mask(l);
                    int rc = run2(v4kk_party, &k);
                    CHECK_MSG(rc == 0, "v4 kkot n=%zu N=%u l=%u: %s", n, N, l, err_msg());
                    size_t bad = 0, c0 = 0;
                    for (size_t i = 0; i < n && rc == 0; i++) {
                        uint64_t want = k.j.msgs[i * N + k.j.choices[i]];
                        if (k.implied) want = (want ^ k.j.x[i]) & bits_mask(l);
                        bad += k.j.out[i] != want;
                        c0 += k.j.choices[i] == 0;
                    }
                    CHECK_MSG(bad == 0, "v4 kkot n=%zu N=%u l=%u implied=%d: %zu wrong", n, N, l,
                              k.implied, bad);
                    if (n == 200000) {
                        CHECK(c0 > 0);
                        CHECK(k.v4_batches >= 3); /* 77,784 correlations a toy batch */
                        /* drained: a Ferret batch made inside a 4-bit VOLE
                         * refill, and no flight more than without */
                        if (drain) CHECK(k.f_batches >= 1);
                        if (drain) CHECK_EQ(k.flights[0], last_flights[k.implied]);
                        else last_flights[k.implied] = k.flights[0];
                    }
                    uint64_t per = (uint64_t)(k.implied ? N - 1 : N) * l;
                    CHECK_EQ(k.wire[0] + k.wire[1], silent_job_bytes(n, 4, per) +
                                         k.v4_batches * vole4_batch_bytes(&VOLE4_TOY) +
                                         k.f_batches * ferret_batch_bytes(&FERRET_TOY));
                    job_free(&k.j);
                    if (harness_failed()) return;
                }
}

/* The production set's sizes: n as ferret's, 2.95 bits a correlation. */
TEST(vole4_production_params) {
    const vole4_params *p = &VOLE4_H10K18;
    CHECK_EQ(vole4_n(p), 2396160);
    CHECK_EQ(vole4_n(p), ferret_n(&FERRET_DEFAULT));
    CHECK_EQ(vole4_m(p), 262144 + 2340);
    CHECK_EQ(vole4_cots(p), 23400);
    CHECK_EQ(vole4_batch_bytes(p), 2340 * 21 * 16);
}

TEST(cot_pool_keeps_what_is_left) {
    const size_t batch = 3 * COT_POOL_AHEAD, keep = 1000;
    cot_pool p;
    cot_pool_init(&p, 0, block_make(0, 0), batch);
    CHECK_EQ(p.room, COT_POOL_AHEAD);
    CHECK_EQ(cot_pool_room(COT_POOL_AHEAD), COT_POOL_CARRY); /* small batches: small room */
    uint64_t *q = mem_alloc(batch + COT_POOL_AHEAD, sizeof *q),
             *tmp = mem_alloc(batch + COT_POOL_AHEAD, sizeof *tmp);
    REQUIRE(q && tmp);
    size_t nq = 0; /* the values the pool holds, in hand-out order */
    uint64_t next = 0, handed = 0, idx;
    const size_t leave[3] = {COT_POOL_AHEAD, 5, 0}; /* left for the next fill: the room, ... */
    size_t low = p.room + batch; /* the top */
    for (int f = 0; f < 3; f++) {
        size_t start = p.room + batch - nq - batch; /* right below the nq left */
        low = start < low ? start : low;
        block *b = cot_pool_fill_begin(&p);
        REQUIRE(b != NULL);
        CHECK_EQ((size_t)(b - p.buf), start);
        CHECK_EQ(p.low, low);
        if (f == 0) CHECK_EQ(p.low, p.room); /* nothing kept yet: the room untouched */
        for (size_t i = 0; i < batch; i++) b[i] = block_make(0, next + i);
        cot_pool_fill_end(&p, keep);
        memcpy(tmp, q, nq * sizeof *q); /* the new batch but its first keep, then the rest */
        for (size_t i = keep; i < batch; i++) q[i - keep] = next + i;
        memcpy(q + batch - keep, tmp, nq * sizeof *q);
        nq += batch - keep;
        next += batch;
        CHECK_EQ(cot_pool_avail(&p), nq);
        size_t stop = nq - leave[f], out = 0, bad = 0;
        while (out < stop) { /* takes of an odd size */
            size_t cnt = stop - out < 4093 ? stop - out : 4093;
            const block *t = cot_pool_take(&p, cnt, &idx);
            CHECK_EQ(idx, handed);
            for (size_t i = 0; i < cnt; i++) bad += t[i].w[0] != q[out + i];
            out += cnt;
            handed += cnt;
        }
        CHECK_MSG(bad == 0, "fill %d: %zu of %zu COTs out of order", f, bad, stop);
        memmove(q, q + stop, (nq - stop) * sizeof *q);
        nq -= stop;
    }
    CHECK_EQ(p.fills, 3u);
    CHECK_EQ(cot_pool_avail(&p), 0u);
    mem_free(q);
    mem_free(tmp);
    cot_pool_clear(&p);
}

TEST(silent_flavours_on_a_pool_of_any_producer) {
    toy_case k = {.n = 100000};
    prg g;
    harness_prg(&g, 1980);
    k.ch = mem_alloc(k.n, 1), k.cc = mem_alloc(k.n, 1);
    k.msgs = mem_alloc(4 * k.n, 8), k.out = mem_alloc(k.n, 8);
    k.x = mem_alloc(k.n, 8), k.d = mem_alloc(k.n, 8), k.cout = mem_alloc(k.n, 8);
    prg_bytes(&g, k.ch, k.n);
    prg_bits(&g, k.cc, k.n);
    prg_ring(&g, k.msgs, 4 * k.n, 9);
    prg_ring(&g, k.d, k.n, 20);
    for (size_t i = 0; i < k.n; i++) k.ch[i] &= 3;
    REQUIRE_OK(run2(toy_party, &k));
    size_t bad = 0;
    for (size_t i = 0; i < k.n; i++) {
        bad += k.out[i] != k.msgs[4 * i + k.ch[i]];
        bad += k.cout[i] != ((k.x[i] + k.cc[i] * k.d[i]) & bits_mask(20));
    }
    CHECK_MSG(bad == 0, "%zu wrong", bad);
    /* 2 COTs per KK OT: 200000 from party 0's pool in batches of 70000,
     * 3 fills, the last leaving 10000, below the pool's room (65536), so
     * the exchange's last segment makes a fourth ahead of need; 100000
     * COTs of party 1's, 2 fills, done before the last segment (nothing
     * made ahead); each side's hook ran as often as its peer's, and each
     * batch cost its one byte. */
    CHECK_EQ(cot_pool_room(70000), COT_POOL_CARRY);
    CHECK_EQ(k.calls[0][1], 4);
    CHECK_EQ(k.calls[1][0], 4);
    CHECK_EQ(k.calls[1][1], 2);
    CHECK_EQ(k.calls[0][0], 2);
    CHECK_EQ(k.gen[0], 4);
    CHECK_EQ(k.gen[1], 2);
    mem_free(k.ch), mem_free(k.cc), mem_free(k.msgs), mem_free(k.out);
    mem_free(k.x), mem_free(k.d), mem_free(k.cout);
    prg_clear(&g);
}

/* Every flavour on the silent backend: against its definition, with its
 * exact bytes (the OTs' own plus the batches the sender made). */
static uint64_t sil_gen(const ot_job *j) { return j->batches[0] * ferret_batch_bytes(&FERRET_TOY); }

/* The batches one exchange of n COTs makes from an empty pool: enough to
 * cover them, and one more made ahead when they leave fewer than the
 * pool's room (docs/PROTOCOLS.md §2.4). */
static uint64_t batches_for(size_t n, const ferret_params *fp) {
    if (n == 0) return 0;
    uint64_t u = ferret_usable(fp), b = (n + u - 1) / u;
    return b + (b * u - n < cot_pool_room(ferret_n(fp)) ? 1 : 0);
}

static int srot_step(int who, ot_lane *ln, ot_job *j) {
    return who == 0 ? silent_rot_send(ot_lane_cots(ln, 1), ln->ch, j->r2, j->n)
                    : silent_rot_recv(ot_lane_cots(ln, 0), ln->ch, j->r1, j->choices, j->n);
}

TEST(silent_random_ot) {
    for (size_t s = 0; s < NSIZES; s++) {
        ot_job j = {.step = srot_step, .n = sizes[s], .silent = 1};
        job_alloc(&j, 1, 2, 1030 + s);
        j.r1 = mem_alloc(j.n, 16);
        j.r2 = mem_alloc(j.n, 32);
        REQUIRE_OK(run2(lane_party, &j));
        for (size_t i = 0; i < j.n; i++) {
            CHECK(block_eq(j.r1[i], j.r2[i][j.choices[i]]));
            CHECK(!block_eq(j.r1[i], j.r2[i][1 - j.choices[i]]));
        }
        CHECK_EQ(job_bytes(&j), bits_bytes(j.n) + sil_gen(&j));
        CHECK_EQ(j.batches[0], batches_for(j.n, &FERRET_TOY));
        job_free(&j);
    }
}

static int scmot_step(int who, ot_lane *ln, ot_job *j) {
    return who == 0 ? silent_ot_send(ot_lane_cots(ln, 1), ln->ch, j->msgs, j->n, j->l)
                    : silent_ot_recv(ot_lane_cots(ln, 0), ln->ch, j->out, j->choices, j->n, j->l);
}

TEST(silent_chosen_message_ot) {
    for (size_t s = 0; s < NSIZES; s++)
        for (size_t w = 0; w < NWIDTHS; w++) {
            ot_job j = {.step = scmot_step, .n = sizes[s], .l = widths[w], .silent = 1};
            job_alloc(&j, 2, 2, 1040 + s * 16 + w);
            for (size_t i = 0; i < 2 * j.n; i++) j.msgs[i] &= bits_mask(j.l);
            REQUIRE_OK(run2(lane_party, &j));
            for (size_t i = 0; i < j.n; i++) CHECK_EQ(j.out[i], j.msgs[2 * i + j.choices[i]]);
            CHECK_EQ(job_bytes(&j), silent_job_bytes(j.n, 1, 2 * j.l) + sil_gen(&j));
            job_free(&j);
            if (harness_failed()) return;
        }
}

static int scot_step(int who, ot_lane *ln, ot_job *j) {
    return who == 0 ? silent_cot_send(ot_lane_cots(ln, 1), ln->ch, j->x, j->delta, j->n, j->ls, j->M)
                    : silent_cot_recv(ot_lane_cots(ln, 0), ln->ch, j->out, j->choices, j->n, j->ls, j->M);
}

TEST(silent_correlated_ot) {
    for (size_t s = 0; s < NSIZES; s++)
        for (size_t w = 0; w < NWIDTHS; w++) {
            unsigned l = widths[w];
            ot_job j = {.step = scot_step, .n = sizes[s], .ls = &l, .M = 1, .silent = 1};
            job_alloc(&j, 1, 2, 1060 + s * 16 + w);
            REQUIRE_OK(run2(lane_party, &j));
            check_cot(&j);
            job_free(&j);
            if (harness_failed()) return;
        }
    /* Several widths per OT, more than 128 bits in all. */
    static const unsigned ls1[] = {37, 36, 35, 1, 64, 2};
    unsigned ls2[40];
    for (int k = 0; k < 40; k++) ls2[k] = 37 - (unsigned)(k % 37);
    for (size_t s = 0; s < NSIZES - 1; s++)
        for (int c = 0; c < 2; c++) {
            ot_job j = {.step = scot_step, .n = sizes[s], .ls = c ? ls2 : ls1, .M = c ? 40 : 6,
                        .silent = 1};
            job_alloc(&j, j.M, 2, 1080 + s + 10 * (uint64_t)c);
            REQUIRE_OK(run2(lane_party, &j));
            check_cot(&j);
            job_free(&j);
        }
}

static int skk_step(int who, ot_lane *ln, ot_job *j) {
    return who == 0 ? silent_kkot_send(ot_lane_cots(ln, 1), ln->ch, j->msgs, j->n, j->N, j->l)
                    : silent_kkot_recv(ot_lane_cots(ln, 0), ln->ch, j->out, j->choices, j->n, j->N, j->l);
}

static void skk_case(size_t n, unsigned N, unsigned l, uint64_t label) {
    ot_job j = {.step = skk_step, .n = n, .N = N, .l = l, .silent = 1};
    job_alloc(&j, N, N, label);
    for (size_t i = 0; i < n * N; i++) j.msgs[i] &= bits_mask(l);
    if (run2(lane_party, &j) != 0) {
        harness_fail(__FILE__, __LINE__, "silent kkot n=%zu N=%u l=%u: %s", n, N, l, err_msg());
        job_free(&j);
        return;
    }
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) bad += j.out[i] != j.msgs[i * N + j.choices[i]];
    CHECK_MSG(bad == 0, "silent kkot n=%zu N=%u l=%u: %zu wrong", n, N, l, bad);
    unsigned L = 0;
    while ((1u << L) < N) L++;
    CHECK_EQ(job_bytes(&j), silent_job_bytes(n, L, (uint64_t)N * l) + sil_gen(&j));
    /* Enough COTs for n OTs: one batch per usable COTs, more only when a
     * chunk does not fit what is left (FERRET_CARRY). */
    CHECK(j.batches[0] >= (n * L + ferret_usable(&FERRET_TOY) - 1) / ferret_usable(&FERRET_TOY));
    job_free(&j);
}

TEST(silent_one_of_n) {
    static const unsigned Ns[] = {2, 3, 4, 8, 16, 200, 256};
    for (int a = 0; a < 7; a++)
        for (size_t s = 0; s < NSIZES; s++)
            for (size_t w = 0; w < NWIDTHS; w++) {
                if (sizes[s] == 100000 && (Ns[a] > 16 || (widths[w] != 2 && widths[w] != 37)))
                    continue;
                if (Ns[a] >= 200 && widths[w] != 1 && widths[w] != 8 && widths[w] != 64) continue;
                skk_case(sizes[s], Ns[a], widths[w], 1200 + (uint64_t)a * 100 + s * 10 + w);
                if (harness_failed()) return;
            }
}

/* Message 0 implied (silent.h): the receiver gets f(c) ^ x, x the
 * sender's share, for every choice including 0; one message fewer on the
 * wire; the sender's shares are not constant (they hide under message 0's
 * pad), and every choice value occurs. */
static int skki_step(int who, ot_lane *ln, ot_job *j) {
    return who == 0 ? silent_kkot_send_implied(ot_lane_cots(ln, 1), ln->ch, j->x, j->msgs, j->n,
                                               j->N, j->l)
                    : silent_kkot_recv_implied(ot_lane_cots(ln, 0), ln->ch, j->out, j->choices,
                                               j->n, j->N, j->l);
}

TEST(silent_one_of_n_implied) {
    static const unsigned Ns[] = {2, 3, 4, 8, 16, 32, 200, 256};
    static const unsigned ls[] = {1, 2, 3, 8, 20, 37, 64};
    /* every (N, l) on a few thousand OTs or more, and the small sizes
     * (0, 1, around a chunk boundary of 128) on some */
    for (int a = 0; a < 8; a++)
        for (int w = 0; w < 7 + 5; w++) {
            unsigned N = Ns[a], l = ls[w < 7 ? w : (w + a) % 7];
            size_t n = w >= 7 ? sizes[w - 7] : N >= 200 ? 3000 : (a + w) % 3 == 0 ? 100000 : 4097;
            ot_job j = {.step = skki_step, .n = n, .N = N, .l = l, .silent = 1};
            job_alloc(&j, N, N, 1300 + (uint64_t)a * 10 + (uint64_t)w);
            for (size_t i = 0; i < n * N; i++) j.msgs[i] &= bits_mask(l);
            if (run2(lane_party, &j) != 0) {
                harness_fail(__FILE__, __LINE__, "implied kkot N=%u l=%u: %s", N, l, err_msg());
                job_free(&j);
                return;
            }
            size_t bad = 0, zeros = 0, c0 = 0;
            for (size_t i = 0; i < n; i++) {
                bad += j.out[i] != ((j.msgs[i * N + j.choices[i]] ^ j.x[i]) & bits_mask(l));
                bad += j.x[i] > bits_mask(l);
                zeros += j.x[i] == 0;
                c0 += j.choices[i] == 0;
            }
            CHECK_MSG(bad == 0, "implied kkot n=%zu N=%u l=%u: %zu wrong", n, N, l, bad);
            if (n >= 3000) {
                CHECK(c0 > 0);                         /* choice 0 was exercised */
                if (l >= 8) CHECK(zeros < n / 16 + 1); /* shares look random */
                if (l == 1) CHECK(zeros > n / 4 && zeros < 3 * n / 4);
            }
            unsigned L = 0;
            while ((1u << L) < N) L++;
            CHECK_EQ(job_bytes(&j), silent_job_bytes(n, L, (uint64_t)(N - 1) * l) + sil_gen(&j));
            job_free(&j);
            if (harness_failed()) return;
        }
}

/* Flavours back to back on one lane, over several batches, with the AES
 * reference tiers as well: both sides stay in step and interoperate. */
static int smix_step(int who, ot_lane *ln, ot_job *j) {
    for (int rep = 0; rep < 6; rep++) {
        uint64_t *o = j->out + (size_t)rep * j->n, *x = j->x + (size_t)rep * j->n;
        int rc;
        if (rep % 2)
            rc = who == 0 ? silent_cot_send(ot_lane_cots(ln, 1), ln->ch, x, j->delta, j->n, j->ls, 1)
                          : silent_cot_recv(ot_lane_cots(ln, 0), ln->ch, o, j->choices, j->n, j->ls, 1);
        else
            rc = who == 0 ? silent_kkot_send(ot_lane_cots(ln, 1), ln->ch, j->msgs, j->n, 4, 20)
                          : silent_kkot_recv(ot_lane_cots(ln, 0), ln->ch, o, j->choices, j->n, 4, 20);
        TRY(rc);
    }
    return 0;
}

TEST(silent_repeated_calls_and_portable_aes) {
    for (int impl = 0; impl < 2; impl++) {
        cpu_restrict(impl ? 0 : CPU_ALL); /* 1: the portable tiers */
        unsigned l = 20;
        ot_job j = {.step = smix_step, .n = 30000, .ls = &l, .M = 1, .silent = 1};
        job_alloc(&j, 6, 4, 1500);
        for (size_t i = 0; i < 4 * j.n; i++) j.msgs[i] &= bits_mask(20);
        REQUIRE_OK(run2(lane_party, &j));
        for (int rep = 0; rep < 6; rep++)
            for (size_t i = 0; i < j.n; i++) {
                size_t o = (size_t)rep * j.n + i;
                if (rep % 2)
                    CHECK_EQ(j.out[o], (j.x[o] + (j.choices[i] & 1) * j.delta[i]) & bits_mask(l));
                else
                    CHECK_EQ(j.out[o], j.msgs[4 * i + j.choices[i]]);
            }
        CHECK(j.batches[0] >= 2); /* 180000 OTs of 1 or 2 COTs: batches refilled mid-way */
        job_free(&j);
        if (harness_failed()) break;
    }
    cpu_restrict(CPU_ALL);
}

/* A peer that stops in the middle of a batch (half the tree messages) or
 * of the choice bits: the honest side gets an error, not a hang. */
typedef struct sdrop {
    int honest_sends; /* 0: the honest party 0 receives COTs, 1: it sends them */
    int rc;
} sdrop;

static int sdrop_party(int who, chan *ch, void *arg) {
    sdrop *d = arg;
    ot_lane ln;
    ot_lane_opts o = {.backend = OT_BACKEND_SILENT, .ferret = &FERRET_TOY};
    TRY(ot_lane_setup_ex(&ln, ch, harness_block(1600 + (uint64_t)who), &o));
    int rc = 0;
    if (who == 0) {
        enum { N = 1000 };
        uint64_t *x = mem_calloc(N, 8);
        uint8_t *c = mem_calloc(N, 1);
        unsigned l = 32;
        d->rc = d->honest_sends ? silent_cot_send(ot_lane_cots(&ln, 1), ch, x, x, N, &l, 1)
                                : silent_cot_recv(ot_lane_cots(&ln, 0), ch, x, c, N, &l, 1);
        mem_free(x);
        mem_free(c);
    } else {
        uint8_t junk[4096] = {0};
        size_t half = d->honest_sends ? 50 : ferret_batch_bytes(&FERRET_TOY) / 2;
        for (size_t k = 0; k < half && rc == 0; k += sizeof junk)
            rc = chan_send(ch, junk, half - k < sizeof junk ? half - k : sizeof junk);
        if (rc == 0) rc = chan_flush(ch);
    }
    ot_lane_clear(&ln);
    return rc;
}

TEST(silent_peer_drops_mid_batch) {
    for (int s = 0; s < 2; s++) {
        sdrop d = {.honest_sends = s};
        REQUIRE_OK(run2_drop(sdrop_party, &d));
        CHECK_MSG(d.rc == PARLEY_E_CLOSED, "honest %s: %d", s ? "sender" : "receiver", d.rc);
    }
}

/* Both directions at once on the production parameters. Party 0's
 * (16 choose 1)-OTs take 4 COTs each, so its direction runs short after 64
 * chunks of 8192 while party 1's COTs, one each, fill 150 chunks of the
 * same segment, far beyond the schedule's look-ahead: the next batch's
 * trees, which ride on party 0's last flight, must follow everything it
 * sends in that segment (its choice bits too). */
typedef struct sboth {
    size_t nk, nc;  /* party 0 sends nk (16 choose 1)-OT_1, party 1 nc COT_8 */
    uint8_t *kch;   /* party 1's choices (0..15) */
    uint64_t *kout; /* party 1's outputs */
    uint8_t *cch;   /* party 0's choice bits */
    uint64_t *cx, *cd, *cout;
    uint64_t batches[2];
} sboth;

/* Party 0's messages: message k of OT i is the parity of (i + 7k) >> 2. */
static void sboth_genw(void *ctx, uint64_t *out, size_t first, size_t mm) {
    (void)ctx;
    for (size_t i = 0; i < mm; i++) {
        uint64_t w = 0;
        for (unsigned k = 0; k < 16; k++) w |= (uint64_t)(((first + i + 7 * k) >> 2) & 1) << k;
        out[i] = w;
    }
}

static int sboth_party(int who, chan *ch, void *arg) {
    sboth *b = arg;
    ot_lane ln;
    ot_lane_opts o = {.backend = OT_BACKEND_SILENT, .ferret = &FERRET_DEFAULT};
    TRY(ot_lane_setup_ex(&ln, ch, harness_block(1700 + (uint64_t)who), &o));
    static const unsigned l8 = 8;
    ot_task tk[2] = {{.kind = OT_TASK_KK, .n = b->nk, .N = 16, .l = 1},
                     {.kind = OT_TASK_COT, .n = b->nc, .ls = &l8, .M = 1}};
    uint8_t we[2] = {who == 0, who == 1};
    if (who == 0) {
        tk[0].genw = sboth_genw;
        tk[1].choices = b->cch, tk[1].out = b->cout;
    } else {
        tk[0].choices = b->kch, tk[0].out = b->kout;
        tk[1].x = b->cx, tk[1].delta = b->cd;
    }
    int rc = ot_run(&ln, tk, we, 2);
    b->batches[who] = ot_lane_cots(&ln, 1)->fills;
    ot_lane_clear(&ln);
    return rc;
}

TEST(silent_both_directions_long_segment) {
    sboth b = {.nk = 69 * 8192 + 100, .nc = 150 * 8192};
    prg g;
    harness_prg(&g, 1700);
    b.kch = mem_alloc(b.nk, 1);
    b.kout = mem_alloc(b.nk, 8);
    b.cch = mem_alloc(b.nc, 1);
    b.cx = mem_alloc(b.nc, 8);
    b.cd = mem_alloc(b.nc, 8);
    b.cout = mem_alloc(b.nc, 8);
    prg_bytes(&g, b.kch, b.nk);
    for (size_t i = 0; i < b.nk; i++) b.kch[i] &= 15;
    prg_bits(&g, b.cch, b.nc);
    prg_ring(&g, b.cd, b.nc, 8);
    REQUIRE_OK(run2(sboth_party, &b));
    size_t bad = 0;
    for (size_t i = 0; i < b.nk; i++) bad += b.kout[i] != (((i + 7 * (size_t)b.kch[i]) >> 2) & 1);
    for (size_t i = 0; i < b.nc; i++) bad += b.cout[i] != ((b.cx[i] + b.cch[i] * b.cd[i]) & 0xff);
    CHECK_MSG(bad == 0, "%zu of %zu OTs wrong", bad, b.nk + b.nc);
    CHECK_EQ(b.batches[0], 2); /* 4 * nk COTs: just over one batch */
    CHECK_EQ(b.batches[1], 1);
    mem_free(b.kch);
    mem_free(b.kout);
    mem_free(b.cch);
    mem_free(b.cx);
    mem_free(b.cd);
    mem_free(b.cout);
    prg_clear(&g);
}
