/* party: set-up over several lanes (and its bytes), the splitter covers
 * [0, n) exactly once on both sides alike and as party_split says, and a
 * failing lane ends the run on both sides. */
#include "harness.h"
#include "twoparty.h"

#include "util/mem.h"

typedef struct split_ctx {
    size_t n, grain;
    uint8_t *seen[2]; /* per role: how often each element was visited */
    int fail_lane;    /* -1: none */
    size_t first[LANES_MAX], count[LANES_MAX]; /* the server's lanes' ranges */
} split_ctx;

/* Each lane sends its range to the peer and checks it gets the same back. */
static int split_job(mpc_lane *L, void *vctx, size_t first, size_t count) {
    split_ctx *c = vctx;
    if (c->fail_lane == (int)L->index && L->role == MPC_CLIENT)
        return err_set(PARLEY_E_PROTO, "lane %u fails on purpose", L->index);
    for (size_t i = first; i < first + count; i++) c->seen[L->role][i]++;
    if (L->role == MPC_SERVER) {
        c->first[L->index] = first;
        c->count[L->index] = count;
    }
    TRY(chan_send_u64(L->ot.ch, first));
    TRY(chan_send_u64(L->ot.ch, count));
    TRY(chan_flush(L->ot.ch));
    uint64_t f, k;
    TRY(chan_recv_u64(L->ot.ch, &f));
    TRY(chan_recv_u64(L->ot.ch, &k));
    if (f != first || k != count) return err_set(PARLEY_E_PROTO, "lanes disagree on the split");
    return 0;
}

static int split_party(party *p, void *arg) {
    split_ctx *c = arg;
    return party_run(p, c->n, c->grain, split_job, c);
}

TEST(split_covers_every_element_once) {
    static const size_t ns[] = {0, 1, 7, 8, 9, 1000, 4097};
    static const size_t grains[] = {1, 8, 128};
    for (unsigned lanes = 1; lanes <= 4; lanes++)
        for (size_t a = 0; a < sizeof ns / sizeof *ns; a++)
            for (size_t g = 0; g < 3; g++) {
                split_ctx c = {ns[a], grains[g], {NULL, NULL}, -1, {0}, {0}};
                c.seen[0] = mem_calloc(c.n + 1, 1);
                c.seen[1] = mem_calloc(c.n + 1, 1);
                REQUIRE_OK(run2_party(split_party, &c, lanes));
                for (size_t i = 0; i < c.n; i++) {
                    CHECK_EQ(c.seen[0][i], 1);
                    CHECK_EQ(c.seen[1][i], 1);
                }
                if (c.n == 0) CHECK_EQ(run2_party_stats[0].bytes_sent, 0);
                /* party_split (what cost models use) is the same split:
                 * contiguous, whole grains but for the last lane with work. */
                size_t count[LANES_MAX], first = 0;
                party_split(count, c.n, c.grain, lanes);
                for (unsigned i = 0; i < lanes; i++) {
                    CHECK_EQ(count[i], c.count[i]);
                    if (count[i]) CHECK_EQ(first, c.first[i]);
                    if (first + count[i] < c.n) CHECK_EQ(count[i] % c.grain, 0);
                    first += count[i];
                }
                CHECK_EQ(first, c.n);
                /* Set-up: the base OTs of every lane, ot_lane_setup_bytes. */
                ot_lane_opts lo = {.backend = test_backend(), .ferret = &FERRET_TOY};
                CHECK_EQ(run2_party_setup_stats[0].bytes_sent + run2_party_setup_stats[1].bytes_sent,
                         lanes * ot_lane_setup_bytes(&lo));
                mem_free(c.seen[0]);
                mem_free(c.seen[1]);
            }
}

TEST(failing_lane_ends_both_sides) {
    split_ctx c = {1000, 1, {NULL, NULL}, 1, {0}, {0}};
    c.seen[0] = mem_calloc(c.n, 1);
    c.seen[1] = mem_calloc(c.n, 1);
    int rc = run2_party(split_party, &c, 3);
    CHECK(rc < 0);
    mem_free(c.seen[0]);
    mem_free(c.seen[1]);
}
