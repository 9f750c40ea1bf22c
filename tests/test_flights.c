/* The flight model (src/mpc/flights.h): single messages and rounds, lanes,
 * the OT schedules of src/ot/sched.c and src/ot/silent.c replayed chunk by
 * chunk, the streamed COTs of src/ot/cotv.c, and the protocols' flights
 * where nl.h states them. (tests/linkem_flights.sh holds a whole
 * inference's prediction against the link emulator.) */
#include "harness.h"

#include "mpc/arith.h"
#include "mpc/flights.h"
#include "mpc/mill.h"
#include "mpc/otb.h"
#include "nl/lane.h"
#include "nl/nl.h"
#include "ot/ferret.h"
#include "ot/ot.h"
#include "util/err.h"

static fsim *make(int backend, unsigned lanes) {
    fsim *s = NULL;
    if (fsim_new(&s, backend, lanes, NULL) < 0) return NULL;
    return s;
}

/* One otb_run of a job each way (n OTs, (N choose 1)), or one way. */
static uint64_t run_jobs(fsim *s, size_t n_server_sends, size_t n_client_sends) {
    otb_job a = {.kind = OTB_KK, .sender = MPC_SERVER, .n = n_server_sends, .N = 16, .l = 2};
    otb_job b = {.kind = OTB_KK, .sender = MPC_CLIENT, .n = n_client_sends, .N = 16, .l = 2};
    uint64_t f0 = fsim_flights(s);
    fsim_job(s, &a);
    fsim_job(s, &b);
    fsim_otb_run(s);
    return fsim_flights(s) - f0;
}

TEST(messages_and_rounds) {
    fsim *s = make(OT_BACKEND_IKNP, 1);
    REQUIRE(s);
    fsim_msg(s, MPC_CLIENT, 10);
    CHECK_EQ(fsim_flights(s), 1);
    fsim_msg(s, MPC_CLIENT, 10); /* a second send before any answer: the same flight */
    CHECK_EQ(fsim_flights(s), 1);
    fsim_msg(s, MPC_SERVER, 20); /* the answer */
    CHECK_EQ(fsim_flights(s), 2);
    fsim_round(s, 5); /* both send, each reads the other's */
    CHECK_EQ(fsim_flights(s), 3);
    fsim_round(s, 5);
    CHECK_EQ(fsim_flights(s), 4);
    uint64_t sent[2];
    fsim_sent(s, sent);
    CHECK_EQ(sent[MPC_SERVER], 20 + 2 * 5);
    CHECK_EQ(sent[MPC_CLIENT], 2 * 10 + 2 * 5);
    CHECK_EQ(fsim_status(s), 0);
    fsim_free(s);
}

/* An OT exchange is two flights (matrices, corrections) whichever way the
 * jobs go, as long as the look-ahead covers them; a second exchange right
 * after a one-way one overlaps its first flight with the last one. */
TEST(otb_run_two_flights) {
    size_t ns[][2] = {{1000, 0}, {0, 1000}, {1000, 1000}, {OT_AHEAD * OTE_CHUNK, 5000}};
    for (size_t i = 0; i < 4; i++) {
        fsim *s = make(OT_BACKEND_IKNP, 1);
        REQUIRE(s);
        CHECK_EQ(run_jobs(s, ns[i][0], ns[i][1]), 2);
        fsim_free(s);
    }
    fsim *s = make(OT_BACKEND_IKNP, 1);
    REQUIRE(s);
    CHECK_EQ(run_jobs(s, 1000, 0), 2); /* S answers last: the client waits for it */
    CHECK_EQ(run_jobs(s, 0, 1000), 1); /* S's matrices left with its answers */
    CHECK_EQ(run_jobs(s, 0, 0), 0);
    CHECK_EQ(fsim_status(s), 0);
    fsim_free(s);
}

/* The schedule as sched.c has it: a party that has no more chunks to send
 * goes on beginning chunks OT_AHEAD ahead and reading answers OT_DELAY
 * behind, and reads the rest only once it has begun every chunk, so a
 * one-way job of k chunks costs two flights per OT_AHEAD + OT_DELAY + 1
 * chunks: 2 ceil(k / 65). (Before, it read every answer once its own sends
 * were done, and paid two flights per chunk past the look-ahead: 2 + 2(k -
 * 33). When the schedule changes, this is the case that must change with
 * it.) */
TEST(otb_run_one_way_past_the_lookahead) {
    const size_t ks[] = {1, 33, 48, 65, 66, 130, 131, 200};
    const size_t w = OT_AHEAD + OT_DELAY + 1;
    for (size_t t = 0; t < sizeof ks / sizeof ks[0]; t++) {
        fsim *s = make(OT_BACKEND_IKNP, 1);
        REQUIRE(s);
        size_t k = ks[t];
        uint64_t f = run_jobs(s, k * OTE_CHUNK, 0);
        CHECK_MSG(f == 2 * ((k + w - 1) / w), "%zu chunks: %llu flights", k, (unsigned long long)f);
        CHECK_EQ(fsim_status(s), 0);
        fsim_free(s);
    }
}

/* The silent backend's schedule runs A = D = OT_AHEAD_SILENT chunks ahead:
 * a one-way job of k chunks that its stock covers costs two flights per
 * 2 OT_AHEAD_SILENT + 1 = 129 chunks, so a whole Ferret batch of (16
 * choose 1)-OTs (64 chunks) is one window (it took two with 65). COT_8 jobs
 * of one COT per OT; the first run's batches are made first, alike for
 * every k. */
static uint64_t silent_one_way(size_t chunks) {
    fsim *s = NULL;
    if (fsim_new(&s, OT_BACKEND_SILENT, 1, &FERRET_DEFAULT) < 0) return 0;
    static const unsigned l8 = 8;
    otb_job a = {.kind = OTB_COT, .sender = MPC_SERVER, .n = chunks * OTE_CHUNK, .ls = &l8,
                 .M = 1};
    fsim_job(s, &a);
    fsim_otb_run(s);
    uint64_t f = fsim_status(s) == 0 ? fsim_flights(s) : 0;
    fsim_free(s);
    return f;
}

TEST(silent_one_way_lookahead) {
    const size_t w = 2 * OT_AHEAD_SILENT + 1;
    CHECK_EQ(w, 129u);
    CHECK(ferret_usable(&FERRET_DEFAULT) >= 250 * OTE_CHUNK); /* one batch covers them all */
    uint64_t f1 = silent_one_way(1);
    REQUIRE(f1 > 0);
    const size_t ks[] = {1, 64, 65, 128, 129, 130, 200, 250};
    for (size_t t = 0; t < sizeof ks / sizeof ks[0]; t++) {
        size_t k = ks[t];
        uint64_t f = silent_one_way(k);
        CHECK_MSG(f == f1 + 2 * ((k + w - 1) / w) - 2, "%zu chunks: %llu flights (1 chunk: %llu)",
                  k, (unsigned long long)f, (unsigned long long)f1);
    }
}

/* Silent: the first run of a lane makes a batch each way first (one
 * flight, both directions at once); later runs draw on the stock, and a
 * run that leaves a direction below its pool's room makes its next batch
 * at its end, the trees riding on flights already going, so no later run
 * stops for a refill: two flights each (docs/PROTOCOLS.md §2.4). */
TEST(silent_refills) {
    fsim *s = NULL;
    REQUIRE(fsim_new(&s, OT_BACKEND_SILENT, 1, &FERRET_TOY) == 0);
    size_t per = 1000; /* KK16 OTs take 4 COTs each */
    const uint64_t u = ferret_usable(&FERRET_TOY), room = cot_pool_room(ferret_n(&FERRET_TOY));
    REQUIRE(room > 4 * per && u > room + 4 * per);
    uint64_t left = u, made = 2; /* the first run's refill, each way */
    size_t ahead = 0;
    for (size_t runs = 0; runs < 64; runs++) {
        uint64_t f = run_jobs(s, per, per);
        CHECK_MSG(f == (runs ? 2u : 3u), "run %zu: %llu flights", runs, (unsigned long long)f);
        left -= 4 * per;
        if (left < room) { /* made ahead, both directions */
            left += u;
            made += 2;
            ahead++;
        }
        CHECK_EQ(fsim_batches(s), made);
    }
    CHECK(ahead >= 2);
    CHECK_EQ(fsim_status(s), 0);
    fsim_free(s);
}

/* iknp_cotv: the receiver keeps COTV_AHEAD chunks in flight, so
 * COTV_AHEAD chunks per round trip: 2 * ceil(k / COTV_AHEAD) flights. */
TEST(cotv_chunks_ahead) {
    for (size_t k = 1; k <= 3 * COTV_AHEAD + 1; k++) {
        fsim *s = make(OT_BACKEND_IKNP, 1);
        REQUIRE(s);
        fsim_cotv(s, MPC_CLIENT, k, 100, 200);
        CHECK_MSG(fsim_flights(s) == 2 * ((k + COTV_AHEAD - 1) / COTV_AHEAD), "%zu chunks: %llu flights", k,
                  (unsigned long long)fsim_flights(s));
        fsim_free(s);
    }
}

/* Lanes run side by side: the slowest sets the pace. */
TEST(lanes_join) {
    fsim *s = make(OT_BACKEND_IKNP, 3);
    REQUIRE(s);
    fsim_fork(s);
    fsim_lane(s, 0);
    fsim_round(s, 5);
    fsim_lane(s, 1);
    fsim_round(s, 5);
    fsim_round(s, 5);
    fsim_round(s, 5);
    fsim_lane(s, 2);
    fsim_msg(s, MPC_SERVER, 20);
    fsim_join(s);
    CHECK_EQ(fsim_flights(s), 3);
    fsim_free(s);
}

/* The protocols' flights where nl.h and mill.h state them (each step an
 * exchange both ways): mill(k) = 2 + ceil(log2 ceil(k / 4)), ReLU = mill(l -
 * 1) + 2, ReLU + truncation = mill + 2. */
TEST(protocols_as_documented) {
    unsigned ks[] = {4, 8, 12, 31, 36, 63};
    for (size_t i = 0; i < sizeof ks / sizeof *ks; i++) {
        fsim *s = make(OT_BACKEND_IKNP, 1);
        REQUIRE(s);
        ot_costing oc = {.backend = OT_BACKEND_IKNP, .fs = s};
        (void)mpc_wrap_bytes(&oc, 1000, ks[i], 4);
        unsigned q = (ks[i] + 3) / 4, lv = 0;
        while ((1u << lv) < q)
            lv++;
        CHECK_MSG(fsim_flights(s) == 2 + lv, "mill(%u): %llu flights", ks[i],
                  (unsigned long long)fsim_flights(s));
        fsim_free(s);
    }
    struct {
        unsigned l, s;
        uint64_t flights;
    } cases[] = {{32, 0, 7}, {37, 0, 8}, {37, 12, 8}, {32, 9, 7}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        for (unsigned lanes = 1; lanes <= 2; lanes++) {
            fsim *s = make(OT_BACKEND_IKNP, lanes);
            REQUIRE(s);
            ot_costing oc = {.backend = OT_BACKEND_IKNP, .fs = s};
            if (cases[i].s)
                (void)nl_relu_trunc_bytes(&oc, 4096, cases[i].l, cases[i].s, lanes);
            else
                (void)nl_relu_bytes(&oc, 4096, cases[i].l, lanes);
            CHECK_MSG(fsim_flights(s) == cases[i].flights, "l = %u, s = %u, %u lanes: %llu",
                      cases[i].l, cases[i].s, lanes, (unsigned long long)fsim_flights(s));
            fsim_free(s);
        }
}

/* On the silent backend the MUX is one flight (mpc_cot1): a ReLU is its
 * DReLU's flights plus one (two on IKNP), and ReLU + truncation's narrow
 * form is its MSB-and-carry millionaire plus two, as the wide form on
 * IKNP. Each on a fresh model, one lane, so both start with the first
 * batch each way. */
static uint64_t flights_of(int be, int what, unsigned l, unsigned s) {
    fsim *f = make(be, 1);
    if (!f) return 0;
    ot_costing oc = {.backend = be, .fs = f};
    mill_shape b[2] = {{4096, l - 1, 1, 0, nl_carry_split(be, l, s, 0), 0}, {4096, s, 1, 0, 0, 0}};
    if (what == 0) (void)mpc_msb_bytes(&oc, 4096, l, 0);
    if (what == 1) (void)nl_relu_bytes(&oc, 4096, l, 1);
    if (what == 2) (void)mill_bytes(&oc, b, b[0].split ? 1 : 2, 0);
    if (what == 3) (void)nl_relu_trunc_bytes(&oc, 4096, l, s, 1);
    uint64_t r = fsim_flights(f);
    fsim_free(f);
    return r;
}

TEST(mux_one_flight_on_silent) {
    static const unsigned ls[] = {8, 32, 37, 63};
    for (int silent = 0; silent < 2; silent++)
        for (size_t i = 0; i < 4; i++) {
            int be = silent ? OT_BACKEND_SILENT : OT_BACKEND_IKNP;
            unsigned l = ls[i];
            uint64_t msb = flights_of(be, 0, l, 0), relu = flights_of(be, 1, l, 0);
            CHECK_MSG(msb > 0 && relu == msb + (silent ? 1 : 2), "%s, l = %u: %llu then %llu",
                      silent ? "silent" : "iknp", l, (unsigned long long)msb,
                      (unsigned long long)relu);
            uint64_t mc = flights_of(be, 2, l, 5), rt = flights_of(be, 3, l, 5);
            CHECK_MSG(mc > 0 && rt == mc + 2, "%s, l = %u, s = 5: %llu then %llu",
                      silent ? "silent" : "iknp", l, (unsigned long long)mc,
                      (unsigned long long)rt);
        }
}

/* The bytes by direction add up to the byte functions' totals (with, on
 * the silent backend, the first batch each way on every lane), and go the
 * way the protocols send them: on IKNP the client's 256-bit KK13 rows for
 * the millionaire's leaves outweigh the server's answers; on the silent
 * backend the server's answers dominate. */
TEST(bytes_by_direction) {
    for (int silent = 0; silent < 2; silent++)
        for (unsigned lanes = 1; lanes <= 3; lanes++) {
            int be = silent ? OT_BACKEND_SILENT : OT_BACKEND_IKNP;
            fsim *s = make(be, lanes);
            REQUIRE(s);
            ot_costing oc = {.backend = be, .fs = s};
            uint64_t b = nl_relu_trunc_bytes(&oc, 5000, 37, 12, lanes), sent[2];
            fsim_sent(s, sent);
            CHECK_EQ(sent[0] + sent[1],
                     b + (silent ? 2 * lanes * ferret_batch_bytes(&FERRET_DEFAULT) : 0));
            if (silent)
                CHECK(sent[MPC_SERVER] - lanes * ferret_batch_bytes(&FERRET_DEFAULT) >
                      sent[MPC_CLIENT] - lanes * ferret_batch_bytes(&FERRET_DEFAULT));
            else
                CHECK(sent[MPC_CLIENT] > sent[MPC_SERVER]);
            fsim_free(s);
        }
}

TEST(bad_arguments) {
    fsim *s = NULL;
    CHECK(fsim_new(&s, OT_BACKEND_IKNP, 0, NULL) == PARLEY_E_ARG && s == NULL);
    CHECK(fsim_new(&s, OT_BACKEND_IKNP, 65, NULL) == PARLEY_E_ARG && s == NULL);
    /* Costing without a model feeds nothing. */
    ot_costing oc = {.backend = OT_BACKEND_IKNP};
    otb_cost_run(&oc);
    otb_cost_round(&oc, 1);
    CHECK(nl_relu_bytes(&oc, 1000, 32, 1) > 0);
}
