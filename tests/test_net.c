/* net: channels over socketpair and loopback TCP, counters, concurrency,
 * and every failure mode a peer can cause; links that carry many streams
 * (fairness, flow control, the receive-stash cap, the chain counter), the
 * frame and link-hello parsers on bad bytes, and TLS 1.3 with certificates
 * made by the test (tests/make-certs.sh). */
#include "harness.h"
#include "twoparty.h"

#include "net/link.h"
#include "util/mem.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Each who sends `n` bytes of a pattern and receives the other's, both at
 * once: exercises the no-deadlock rule with messages far larger than the
 * socket buffers. */
typedef struct xfer {
    size_t n;
    size_t pieces;
    int bad[2];
} xfer;

static int xfer_party(int who, chan *ch, void *arg) {
    xfer *x = arg;
    uint8_t *out = mem_alloc(x->n, 1), *in = mem_alloc(x->n, 1);
    if (!out || !in) return PARLEY_E_NOMEM;
    for (size_t i = 0; i < x->n; i++) out[i] = (uint8_t)(i * 31 + (size_t)who);
    size_t piece = x->n / x->pieces + 1;
    int rc = 0;
    for (size_t off = 0; off < x->n && rc == 0; off += piece)
        rc = chan_send(ch, out + off, off + piece > x->n ? x->n - off : piece);
    if (rc == 0) rc = chan_flush(ch);
    if (rc == 0) rc = chan_recv(ch, in, x->n);
    for (size_t i = 0; rc == 0 && i < x->n; i++)
        if (in[i] != (uint8_t)(i * 31 + (size_t)(1 - who))) {
            x->bad[who] = 1;
            break;
        }
    mem_free(out);
    mem_free(in);
    return rc;
}

TEST(bidirectional_large) {
    size_t sizes[] = {0, 1, 100, 65536, 1 << 20, 24 << 20};
    size_t pieces[] = {1, 7, 1000};
    for (size_t s = 0; s < 6; s++)
        for (size_t p = 0; p < 3; p++) {
            xfer x = {sizes[s], pieces[p], {0, 0}};
            REQUIRE_OK(run2(xfer_party, &x));
            CHECK(!x.bad[0] && !x.bad[1]);
            CHECK_EQ(run2_stats[0].bytes_sent, sizes[s]);
            CHECK_EQ(run2_stats[0].bytes_recv, sizes[s]);
            CHECK_EQ(run2_stats[1].bytes_sent, sizes[s]);
            CHECK_EQ(run2_stats[0].flights, sizes[s] ? 1 : 0);
        }
}

TEST(tcp_loopback) {
    xfer x = {8 << 20, 3, {0, 0}};
    REQUIRE_OK(run2_tcp(xfer_party, &x));
    CHECK(!x.bad[0] && !x.bad[1]);
    CHECK_EQ(run2_stats[1].bytes_recv, 8 << 20);
}

/* Ping-pong: flights count message flights, one per flush with data. */
static int pingpong_party(int who, chan *ch, void *arg) {
    int rounds = *(int *)arg;
    uint64_t v = 0;
    for (int r = 0; r < rounds; r++) {
        if ((r & 1) == who) {
            TRY(chan_send_u64(ch, (uint64_t)r * 1000 + 7));
            TRY(chan_flush(ch));
            TRY(chan_flush(ch)); /* an empty flush is not a flight */
        } else {
            TRY(chan_recv_u64(ch, &v));
            if (v != (uint64_t)r * 1000 + 7) return err_set(PARLEY_E_PROTO, "bad value");
        }
    }
    return 0;
}

TEST(flights_and_values) {
    int rounds = 9;
    REQUIRE_OK(run2(pingpong_party, &rounds));
    CHECK_EQ(run2_stats[0].flights, 5);
    CHECK_EQ(run2_stats[1].flights, 4);
    CHECK_EQ(run2_stats[0].bytes_sent, 40);
    CHECK_EQ(run2_stats[1].bytes_recv, 40);
}

/* A receiver that never flushes before waiting must not deadlock: recv
 * drains pending sends. */
static int noflush_party(int who, chan *ch, void *arg) {
    uint64_t v;
    TRY(chan_send_u64(ch, 42 + (uint64_t)who));
    TRY(chan_recv_u64(ch, &v));
    return v == 43 - (uint64_t)who ? 0 : err_set(PARLEY_E_PROTO, "bad value");
}

TEST(recv_drains_pending_sends) { REQUIRE_OK(run2(noflush_party, NULL)); }

/* Failure modes: the peer disconnects mid-batch, or sends a truncated
 * message, or goes silent. The other side gets a clear error, no hang. */
typedef struct fault {
    int mode; /* 0 = disconnect mid-batch, 1 = truncated, 2 = silent */
    int rc_victim;
    char msg[256];
} fault;

static int fault_party(int who, chan *ch, void *arg) {
    fault *f = arg;
    if (who == 0) { /* the misbehaving peer */
        uint8_t buf[4096] = {0};
        if (f->mode == 0) {
            TRY(chan_send(ch, buf, sizeof buf));
            TRY(chan_flush(ch));
            return 0; /* the caller closes ch */
        }
        if (f->mode == 1) {
            TRY(chan_send(ch, buf, 10)); /* announces 16 below, sends 10 */
            TRY(chan_flush(ch));
            return 0;
        }
        uint64_t dummy;
        chan_set_timeout(ch, 2000);
        int rc = chan_recv_u64(ch, &dummy); /* waits until the victim gives up */
        return rc == 0 ? err_set(PARLEY_E_PROTO, "the victim sent data") : 0;
    }
    /* the victim */
    if (f->mode == 2) chan_set_timeout(ch, 200);
    size_t want = f->mode == 0 ? 1 << 20 : f->mode == 1 ? 16 : 8;
    uint8_t *buf = mem_alloc(want, 1);
    f->rc_victim = chan_recv(ch, buf, want);
    snprintf(f->msg, sizeof f->msg, "%s", err_msg());
    /* The error is sticky. */
    if (f->rc_victim < 0 && chan_recv(ch, buf, 1) != f->rc_victim) f->rc_victim = 99;
    mem_free(buf);
    return 0;
}

/* The runner closes who 0's channel only after both threads return, so
 * run the faulty peer in a thread of its own that closes its end itself. */
typedef struct solo {
    fault *f;
    chan *ch;
} solo;

static void *solo_main(void *v) {
    solo *s = v;
    (void)fault_party(0, s->ch, s->f);
    chan_close(s->ch);
    return NULL;
}

static void run_fault(fault *f) {
    chan *a, *b;
    if (chan_pair(&a, &b) != 0) return;
    solo s = {f, a};
    pthread_t th;
    pthread_create(&th, NULL, solo_main, &s);
    chan_set_timeout(b, 10000);
    (void)fault_party(1, b, f);
    chan_close(b);
    pthread_join(th, NULL);
}

TEST(peer_disconnects_mid_batch) {
    fault f = {0, 0, ""};
    run_fault(&f);
    CHECK_EQ(f.rc_victim, PARLEY_E_CLOSED);
    CHECK_MSG(strstr(f.msg, "closed") != NULL, "message: %s", f.msg);
}

TEST(truncated_message) {
    fault f = {1, 0, ""};
    run_fault(&f);
    CHECK_EQ(f.rc_victim, PARLEY_E_CLOSED);
    CHECK_MSG(strstr(f.msg, "6 of 16") != NULL, "message: %s", f.msg);
}

TEST(silent_peer_times_out) {
    fault f = {2, 0, ""};
    run_fault(&f);
    CHECK_EQ(f.rc_victim, PARLEY_E_TIMEOUT);
    CHECK_MSG(strstr(f.msg, "200 ms") != NULL, "message: %s", f.msg);
}

TEST(send_to_closed_peer) {
    chan *a, *b;
    REQUIRE_OK(chan_pair(&a, &b));
    chan_close(b);
    uint8_t *buf = mem_calloc(8 << 20, 1);
    int rc = chan_send(a, buf, 8 << 20);
    if (rc == 0) rc = chan_flush(a);
    CHECK_EQ(rc, PARLEY_E_CLOSED);
    CHECK(chan_status(a) == PARLEY_E_CLOSED);
    mem_free(buf);
    chan_close(a);
}

TEST(connect_refused) {
    chan_listener *l;
    REQUIRE_OK(chan_listen(&l, "127.0.0.1", 0));
    int port = chan_listener_port(l);
    chan_listener_close(l); /* now nobody listens there */
    chan *c = NULL;
    int rc = chan_connect(&c, "127.0.0.1", port, 300);
    CHECK_EQ(rc, PARLEY_E_REFUSED);
    CHECK(strstr(err_msg(), "nobody is listening") != NULL);
    CHECK(c == NULL);
}

TEST(port_in_use_and_bad_args) {
    chan_listener *l, *l2 = NULL;
    REQUIRE_OK(chan_listen(&l, "127.0.0.1", 0));
    CHECK(chan_listen(&l2, "127.0.0.1", chan_listener_port(l)) == PARLEY_E_IO);
    CHECK(strstr(err_msg(), "already in use") != NULL);
    chan_listener_close(l);
    CHECK(chan_listen(&l2, "127.0.0.1", 70000) == PARLEY_E_ARG);
    chan *c;
    CHECK(chan_connect(&c, "no-such-host.invalid", 1, 100) == PARLEY_E_ARG);
}

TEST(accept_times_out) {
    chan_listener *l;
    REQUIRE_OK(chan_listen(&l, "127.0.0.1", 0));
    chan *c;
    CHECK_EQ(chan_accept(l, &c, 100), PARLEY_E_TIMEOUT);
    chan_listener_close(l);
}


/* ---- links: many streams on one connection ---- */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void fill(uint8_t *p, size_t n, unsigned salt) {
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 131 + salt * 7 + (i >> 13));
}

static int same(const uint8_t *p, size_t n, unsigned salt) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != (uint8_t)(i * 131 + salt * 7 + (i >> 13))) return 0;
    return 1;
}

/* One side of one stream: send n bytes (salt = who, stream) in `pieces`
 * sends and one flush, and receive the peer's n bytes — both at once. */
typedef struct swap {
    chan *ch;
    unsigned who, stream;
    size_t n, pieces;
    int rc, bad;
    char msg[256];
} swap;

static void *swap_main(void *v) {
    swap *w = v;
    uint8_t *out = mem_alloc(w->n ? w->n : 1, 1), *in = mem_alloc(w->n ? w->n : 1, 1);
    fill(out, w->n, w->who * 100 + w->stream);
    size_t piece = w->n / w->pieces + 1;
    int rc = 0;
    for (size_t off = 0; off < w->n && rc == 0; off += piece)
        rc = chan_send(w->ch, out + off, off + piece > w->n ? w->n - off : piece);
    if (rc == 0) rc = chan_flush(w->ch);
    if (rc == 0) rc = chan_recv(w->ch, in, w->n);
    if (rc == 0 && !same(in, w->n, (1 - w->who) * 100 + w->stream)) w->bad = 1;
    w->rc = rc;
    snprintf(w->msg, sizeof w->msg, "%s", rc ? err_msg() : "");
    mem_free(out);
    mem_free(in);
    return NULL;
}

/* Every stream of a link exchanges a large flight both ways, all at once:
 * no deadlock, every byte where it belongs, counters exact, and the
 * framing counted apart from the payload. */
TEST(streams_at_once) {
    net_link *a, *b;
    REQUIRE_OK(link_pair(&a, &b, 0));
    enum { NS = 5 };
    size_t sizes[NS] = {24 << 20, 1, 3 << 20, 100000, 9 << 20};
    swap w[2][NS];
    pthread_t th[2][NS];
    for (unsigned s = 0; s < NS; s++)
        for (unsigned who = 0; who < 2; who++) {
            w[who][s] = (swap){.ch = link_chan(who ? b : a, s), .who = who, .stream = s,
                               .n = sizes[s], .pieces = 1 + s * 5};
            chan_set_timeout(w[who][s].ch, 60000);
            pthread_create(&th[who][s], NULL, swap_main, &w[who][s]);
        }
    for (unsigned s = 0; s < NS; s++)
        for (unsigned who = 0; who < 2; who++)
            pthread_join(th[who][s], NULL);
    uint64_t total = 0;
    for (unsigned s = 0; s < NS; s++)
        for (unsigned who = 0; who < 2; who++) {
            CHECK_MSG(w[who][s].rc == 0 && !w[who][s].bad, "side %u stream %u: %d %s", who, s,
                      w[who][s].rc, w[who][s].msg);
            const chan_stats *st = chan_get_stats(w[who][s].ch);
            CHECK_EQ(st->bytes_sent, sizes[s]);
            CHECK_EQ(st->bytes_recv, sizes[s]);
            CHECK_EQ(st->flights, 1);
            if (who == 0) total += sizes[s];
        }
    link_stats ls;
    link_get_stats(a, &ls);
    /* every frame costs its header; data needs at least one frame per
     * FRAME_PAYLOAD_MAX bytes */
    CHECK_EQ(ls.overhead_sent, ls.frames_sent * FRAME_HEADER_BYTES);
    CHECK(ls.frames_sent >= total / FRAME_PAYLOAD_MAX);
    CHECK(ls.frames_recv > 0 && ls.overhead_recv == ls.frames_recv * FRAME_HEADER_BYTES);
    link_close(a);
    link_close(b);
}

/* A lane with a large flight that its reader takes slowly does not hold up
 * another lane: 40 round trips on stream 2 finish while stream 1's 48 MiB
 * (read 1 MiB every 15 ms) is still crossing. */
typedef struct slow {
    chan *ch;
    int reader;
    size_t n;
    double done;
    int rc;
} slow;

static void *slow_main(void *v) {
    slow *s = v;
    uint8_t *buf = mem_alloc(s->n, 1);
    int rc = 0;
    if (!s->reader) {
        fill(buf, s->n, 5);
        rc = chan_send(s->ch, buf, s->n);
        if (rc == 0) rc = chan_flush(s->ch);
    } else {
        for (size_t off = 0; off < s->n && rc == 0; off += 1 << 20) {
            struct timespec nap = {0, 15 * 1000 * 1000};
            nanosleep(&nap, NULL);
            rc = chan_recv(s->ch, buf + off, 1 << 20);
        }
        if (rc == 0 && !same(buf, s->n, 5)) rc = err_set(PARLEY_E_PROTO, "bad bytes");
    }
    s->done = now_s();
    s->rc = rc;
    mem_free(buf);
    return NULL;
}

typedef struct pp {
    chan *ch;
    int who, rounds;
    double done;
    int rc;
} pp;

static void *pp_main(void *v) {
    pp *p = v;
    int rc = 0;
    for (int r = 0; r < p->rounds && rc == 0; r++) {
        uint64_t x = 0;
        if ((r & 1) == p->who) {
            rc = chan_send_u64(p->ch, (uint64_t)r);
            if (rc == 0) rc = chan_flush(p->ch);
        } else {
            rc = chan_recv_u64(p->ch, &x);
            if (rc == 0 && x != (uint64_t)r) rc = err_set(PARLEY_E_PROTO, "bad value");
        }
    }
    p->done = now_s();
    p->rc = rc;
    return NULL;
}

TEST(lanes_do_not_starve) {
    net_link *a, *b;
    REQUIRE_OK(link_pair(&a, &b, 0));
    slow big[2] = {{link_chan(a, 1), 0, 48 << 20, 0, 0}, {link_chan(b, 1), 1, 48 << 20, 0, 0}};
    pp small[2] = {{link_chan(a, 2), 0, 40, 0, 0}, {link_chan(b, 2), 1, 40, 0, 0}};
    pthread_t th[4];
    double t0 = now_s();
    for (int i = 0; i < 2; i++) {
        pthread_create(&th[i], NULL, slow_main, &big[i]);
        pthread_create(&th[2 + i], NULL, pp_main, &small[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    CHECK_MSG(big[0].rc == 0 && big[1].rc == 0, "big flight: %d %d", big[0].rc, big[1].rc);
    CHECK_MSG(small[0].rc == 0 && small[1].rc == 0, "round trips: %d %d", small[0].rc,
              small[1].rc);
    double pp_end = small[0].done > small[1].done ? small[0].done : small[1].done;
    CHECK_MSG(pp_end < big[1].done, "the round trips took %.3f s, the big flight %.3f s",
              pp_end - t0, big[1].done - t0);
    /* The slow reader's link buffered no more than its window allows. */
    link_stats ls;
    link_get_stats(b, &ls);
    CHECK_MSG(ls.stash_peak <= 2 * (uint64_t)LINK_WINDOW_DEFAULT, "stash peak %llu",
              (unsigned long long)ls.stash_peak);
    link_close(a);
    link_close(b);
}

/* Both sides send a flight larger than the receive-stash cap at once on
 * one stream: the session fails on both sides, with PARLEY_E_LIMIT and the
 * option that raises the cap on the side that ran out, and nothing hangs.
 * Under the default cap the same exchange goes through. */
TEST(stash_cap) {
    for (int big_cap = 0; big_cap < 2; big_cap++) {
        net_link *a, *b;
        REQUIRE_OK(link_pair(&a, &b, big_cap ? 0 : LINK_MAX_STASH_MIN));
        swap w[2];
        pthread_t th[2];
        for (unsigned who = 0; who < 2; who++) {
            w[who] = (swap){.ch = link_chan(who ? b : a, 3), .who = who, .stream = 3,
                            .n = 40 << 20, .pieces = 1};
            chan_set_timeout(w[who].ch, 20000);
            pthread_create(&th[who], NULL, swap_main, &w[who]);
        }
        for (unsigned who = 0; who < 2; who++)
            pthread_join(th[who], NULL);
        if (big_cap) {
            CHECK_MSG(w[0].rc == 0 && w[1].rc == 0 && !w[0].bad && !w[1].bad, "%s / %s",
                      w[0].msg, w[1].msg);
        } else {
            CHECK(w[0].rc < 0 && w[1].rc < 0);
            int limit = w[0].rc == PARLEY_E_LIMIT ? 0 : w[1].rc == PARLEY_E_LIMIT ? 1 : -1;
            CHECK_MSG(limit >= 0, "no side hit the cap: %s / %s", w[0].msg, w[1].msg);
            if (limit >= 0)
                CHECK_MSG(strstr(w[limit].msg, "--max-stash") && strstr(w[limit].msg, "lane 2"),
                          "%s", w[limit].msg);
            link_stats ls;
            link_get_stats(a, &ls);
            CHECK(ls.stash_peak <= LINK_MAX_STASH_MIN);
        }
        link_close(a);
        link_close(b);
    }
}

/* The chain counter: a flight's depth is one more than the deepest it
 * waited for; flights sent back to back count once. */
static int chain_party(int who, chan *ch, void *arg) {
    (void)arg;
    uint64_t v;
    if (who == 0) {
        for (int k = 0; k < 5; k++) { /* five flights, no answer in between */
            TRY(chan_send_u64(ch, 1));
            TRY(chan_flush(ch));
        }
    } else {
        for (int k = 0; k < 5; k++)
            TRY(chan_recv_u64(ch, &v));
        if (chan_depth(ch) != 1) return err_set(PARLEY_E_PROTO, "depth %llu after the burst",
                                                (unsigned long long)chan_depth(ch));
    }
    for (int r = 0; r < 6; r++) { /* six one-way messages, each waiting for the last */
        if ((r & 1) != who) {
            TRY(chan_send_u64(ch, 2));
            TRY(chan_flush(ch));
        } else {
            TRY(chan_recv_u64(ch, &v));
        }
    }
    return 0;
}

TEST(chain_counter) {
    REQUIRE_OK(run2(chain_party, NULL));
    /* 1 for the burst, 6 for the round trips */
    CHECK_EQ(run2_stats[0].depth, 7);
    CHECK_EQ(run2_stats[1].depth, 7);
    CHECK_EQ(run2_stats[0].flights, 5 + 3);
}

/* party_run's fork and join: work after a join depends on every lane, so
 * a lane that did nothing goes on from the deepest. */
static int chain_job(mpc_lane *L, void *ctx, size_t first, size_t count) {
    (void)first, (void)count;
    int rounds = L->index == 0 ? *(int *)ctx : 1;
    chan *ch = L->ot.ch;
    uint64_t v;
    for (int r = 0; r < rounds; r++) {
        if ((r & 1) == L->role) {
            TRY(chan_send_u64(ch, 3));
            TRY(chan_flush(ch));
        } else {
            TRY(chan_recv_u64(ch, &v));
        }
    }
    return 0;
}

static int chain_party2(party *p, void *arg) {
    (void)arg;
    chan_stats s0, s1;
    party_stats(p, &s0);
    int four = 4, one = 1;
    TRY(party_run(p, 2, 1, chain_job, &four)); /* lane 0: 4 flights; lane 1: 1 */
    TRY(party_run(p, 2, 1, chain_job, &one));  /* every lane: 1 more */
    party_stats(p, &s1);
    uint64_t d = s1.depth - s0.depth;
    for (unsigned i = 0; i < p->nlanes; i++)
        if (chan_depth(p->lanes[i].ot.ch) != chan_depth(p->lanes[0].ot.ch))
            return err_set(PARLEY_E_PROTO, "lanes disagree after the join");
    /* The client (role 1) consumed the last flight of the chain: 4 + 1. */
    if (p->role == MPC_CLIENT && d != 5)
        return err_set(PARLEY_E_PROTO, "critical flights %llu, expected 5", (unsigned long long)d);
    return 0;
}

TEST(chain_counter_joins_lanes) { REQUIRE_OK(run2_party(chain_party2, NULL, 2)); }

/* ---- the frame and link-hello parsers ---- */

TEST(frame_parser_rejects_bad_bytes) {
    frame_hdr f = {.kind = FRAME_DATA, .stream = 7, .len = 1000, .arg = 0x0102030405060708ULL}, g;
    uint8_t h[FRAME_HEADER_BYTES], bad[FRAME_HEADER_BYTES];
    frame_encode(h, &f);
    REQUIRE_OK(frame_parse(&g, h));
    CHECK(g.kind == f.kind && g.stream == f.stream && g.len == f.len && g.arg == f.arg);
    struct {
        int at;
        uint8_t v;
        const char *why;
    } cases[] = {{0, 0, "kind"},         {0, 9, "kind"},        {1, LINK_STREAMS_MAX, "stream"},
                 {2, 1, "reserved"},     {3, 1, "reserved"},    {4, 0, "outside"},
                 {7, 1, "outside"}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        memcpy(bad, h, sizeof bad);
        bad[cases[k].at] = cases[k].v;
        if (cases[k].at == 4) bad[5] = bad[6] = bad[7] = 0; /* length 0 */
        CHECK_MSG(frame_parse(&g, bad) == PARLEY_E_PROTO && strstr(err_msg(), cases[k].why),
                  "case %zu: %s", k, err_msg());
    }
    frame_hdr c = {.kind = FRAME_CREDIT, .stream = 0, .len = 4096};
    frame_encode(bad, &c);
    REQUIRE_OK(frame_parse(&g, bad));
    bad[8] = 1; /* a credit carries no argument */
    CHECK(frame_parse(&g, bad) == PARLEY_E_PROTO);
    frame_hdr e = {.kind = FRAME_END, .stream = 3};
    frame_encode(bad, &e);
    REQUIRE_OK(frame_parse(&g, bad));
    bad[4] = 1; /* an end has no length */
    CHECK(frame_parse(&g, bad) == PARLEY_E_PROTO);
    frame_hdr blk = {.kind = FRAME_BLOCKED, .stream = 3, .arg = 12345};
    frame_encode(bad, &blk);
    REQUIRE_OK(frame_parse(&g, bad));
    CHECK_EQ(g.arg, 12345);
}

TEST(link_hello_parser_rejects_bad_bytes) {
    link_hello h = {.version = LINK_VERSION, .kind = LINK_HELLO_CLIENT, .window = 1 << 20,
                    .has_token = 1},
               g;
    memset(h.token, 0xab, sizeof h.token);
    uint8_t b[LINK_HELLO_BYTES], bad[LINK_HELLO_BYTES];
    link_hello_encode(b, &h);
    REQUIRE_OK(link_hello_parse(&g, b));
    CHECK(g.kind == LINK_HELLO_CLIENT && g.window == (1u << 20) && g.has_token &&
          g.token[31] == 0xab);
    memcpy(bad, b, sizeof bad);
    bad[0] = 'Q';
    CHECK(link_hello_parse(&g, bad) == PARLEY_E_PROTO && strstr(err_msg(), "magic"));
    memcpy(bad, b, sizeof bad);
    bad[4] = 7; /* another version parses, for the caller to name both */
    REQUIRE_OK(link_hello_parse(&g, bad));
    CHECK_EQ(g.version, 7);
    memcpy(bad, b, sizeof bad);
    bad[6] = 9;
    CHECK(link_hello_parse(&g, bad) == PARLEY_E_PROTO);
    memcpy(bad, b, sizeof bad);
    bad[7] = 2;
    CHECK(link_hello_parse(&g, bad) == PARLEY_E_PROTO);
    memcpy(bad, b, sizeof bad);
    bad[8] = bad[9] = bad[10] = bad[11] = 0; /* window 0 */
    CHECK(link_hello_parse(&g, bad) == PARLEY_E_PROTO && strstr(err_msg(), "window"));
    memcpy(bad, b, sizeof bad);
    bad[12] = 1;
    CHECK(link_hello_parse(&g, bad) == PARLEY_E_PROTO);
    link_hello s = {.version = LINK_VERSION, .kind = LINK_HELLO_SERVER, .window = 1 << 20};
    link_hello_encode(b, &s);
    REQUIRE_OK(link_hello_parse(&g, b));
    b[40] = 1; /* a server hello carries no token */
    CHECK(link_hello_parse(&g, b) == PARLEY_E_PROTO);
    link_hello r = {.version = LINK_VERSION, .kind = LINK_HELLO_REFUSAL, .refusal_len = 20,
                    .status = PARLEY_E_AUTH};
    link_hello_encode(b, &r);
    REQUIRE_OK(link_hello_parse(&g, b));
    CHECK(g.status == PARLEY_E_AUTH && g.refusal_len == 20);
    b[8] = 0xff, b[9] = 0xff; /* a refusal line past its cap */
    CHECK(link_hello_parse(&g, b) == PARLEY_E_PROTO);
}

/* ---- a link fed bad frames by a raw peer ---- */

typedef struct raw_srv {
    int fd;
    net_link *lk;
    int rc;
} raw_srv;

static void *raw_srv_main(void *v) {
    raw_srv *r = v;
    link_opts o = {.timeout_ms = 5000};
    r->rc = link_server(&r->lk, r->fd, &o);
    return NULL;
}

/* A server link on one end of a socketpair; the raw peer's end in *peer,
 * past the hellos. */
static int raw_link(net_link **lk, int *peer) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) return PARLEY_E_IO;
    raw_srv r = {sv[0], NULL, 0};
    pthread_t th;
    pthread_create(&th, NULL, raw_srv_main, &r);
    link_hello h = {.version = LINK_VERSION, .kind = LINK_HELLO_CLIENT, .window = 1 << 20};
    uint8_t b[LINK_HELLO_BYTES];
    link_hello_encode(b, &h);
    ssize_t w = write(sv[1], b, sizeof b);
    size_t got = 0;
    while (w == (ssize_t)sizeof b && got < sizeof b) {
        ssize_t k = read(sv[1], b + got, sizeof b - got);
        if (k <= 0) break;
        got += (size_t)k;
    }
    pthread_join(th, NULL);
    if (r.rc < 0 || got != sizeof b) {
        close(sv[1]);
        return r.rc < 0 ? r.rc : PARLEY_E_IO;
    }
    *lk = r.lk;
    *peer = sv[1];
    return 0;
}

static void put_frame(int fd, unsigned kind, unsigned stream, uint32_t len, uint64_t arg,
                      size_t payload) {
    frame_hdr f = {.kind = kind, .stream = stream, .len = len, .arg = arg};
    uint8_t h[FRAME_HEADER_BYTES];
    frame_encode(h, &f);
    if (kind > FRAME_ABORT || stream >= LINK_STREAMS_MAX) h[0] = (uint8_t)kind, h[1] = (uint8_t)stream;
    ssize_t w = send(fd, h, sizeof h, MSG_NOSIGNAL);
    static uint8_t zeros[FRAME_PAYLOAD_MAX];
    while (w >= 0 && payload > 0) {
        size_t k = payload < sizeof zeros ? payload : sizeof zeros;
        w = send(fd, zeros, k, MSG_NOSIGNAL);
        payload -= k;
    }
}

TEST(link_rejects_bad_frames) {
    struct {
        const char *why;
        int code;
    } cases[] = {
        {"unknown kind", PARLEY_E_PROTO},   {"past the last stream", PARLEY_E_PROTO},
        {"outside", PARLEY_E_PROTO},         {"window allows", PARLEY_E_PROTO},
        {"went back", PARLEY_E_PROTO},       {"never given", PARLEY_E_PROTO},
        {"after ending", PARLEY_E_PROTO},    {"expected bytes", PARLEY_E_CLOSED},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        net_link *lk;
        int fd;
        REQUIRE_OK(raw_link(&lk, &fd));
        chan *c = link_chan(lk, 0);
        chan_set_timeout(c, 5000);
        size_t want = 100;
        switch (k) {
        case 0:
            put_frame(fd, 9, 0, 0, 0, 0);
            break;
        case 1:
            put_frame(fd, FRAME_DATA, LINK_STREAMS_MAX, 1, 0, 1);
            break;
        case 2: { /* a data frame longer than a frame may be */
            uint8_t h[FRAME_HEADER_BYTES] = {FRAME_DATA, 0, 0, 0, 0, 0, 0x10, 0};
            ssize_t w = send(fd, h, sizeof h, MSG_NOSIGNAL);
            (void)w;
            break;
        }
        case 3: /* more than the window: the peer overruns its credit */
            for (size_t sent = 0; sent <= LINK_WINDOW_DEFAULT; sent += FRAME_PAYLOAD_MAX)
                put_frame(fd, FRAME_DATA, 0, FRAME_PAYLOAD_MAX, 1, FRAME_PAYLOAD_MAX);
            want = LINK_WINDOW_DEFAULT + FRAME_PAYLOAD_MAX;
            break;
        case 4:
            put_frame(fd, FRAME_DATA, 0, 10, 5, 10);
            put_frame(fd, FRAME_DATA, 0, 10, 3, 10);
            break;
        case 5:
            put_frame(fd, FRAME_BLOCKED, 0, 0, (uint64_t)LINK_WINDOW_DEFAULT + 1, 0);
            break;
        case 6:
            put_frame(fd, FRAME_END, 0, 0, 0, 0);
            put_frame(fd, FRAME_DATA, 0, 10, 0, 10);
            break;
        default: /* a truncated frame, then the end of the connection */
            put_frame(fd, FRAME_DATA, 0, 50, 0, 0);
            ssize_t w = send(fd, "0123456789", 10, MSG_NOSIGNAL);
            (void)w;
            shutdown(fd, SHUT_WR);
            break;
        }
        usleep(100000); /* let the link see all of it first */
        uint8_t *buf = mem_alloc(want, 1);
        int rc = chan_recv(c, buf, want);
        CHECK_MSG(rc == cases[k].code && strstr(err_msg(), cases[k].why), "case %zu (%s): %d %s", k,
                  cases[k].why, rc, err_msg());
        mem_free(buf);
        close(fd);
        link_close(lk);
    }
}

/* A peer that connects and says nothing, or speaks another protocol,
 * is refused at set-up with a message naming what it sent. */
TEST(link_setup_refusals) {
    for (int k = 0; k < 3; k++) {
        int sv[2];
        REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
        if (k == 1) {
            ssize_t w = write(sv[1], "GET / HTTP/1.0\r\n\r\n", 18);
            (void)w;
        }
        if (k == 2) { /* a parley 0.1 client: its control hello frame */
            uint8_t old[24] = {1, 0, 0, 0, 16, 0, 0, 0, 'P', 'R', 'L', 'Y', 1};
            ssize_t w = write(sv[1], old, sizeof old);
            (void)w;
        }
        net_link *lk = NULL;
        link_opts o = {.timeout_ms = 300};
        int rc = link_server(&lk, sv[0], &o);
        if (k == 0) CHECK_MSG(rc == PARLEY_E_TIMEOUT && strstr(err_msg(), "300 ms"), "%s", err_msg());
        if (k == 1)
            CHECK_MSG(rc == PARLEY_E_PROTO && strstr(err_msg(), "not a parley client") &&
                          strstr(err_msg(), "47 45 54 20"),
                      "%s", err_msg());
        if (k == 2) {
            CHECK_MSG(rc == PARLEY_E_MISMATCH && strstr(err_msg(), "protocol 1"), "%s", err_msg());
            uint8_t ans[256] = {0};
            ssize_t r = read(sv[1], ans, sizeof ans - 1);
            /* the old client reads a REJECT in its own format */
            CHECK_MSG(r > 8 && ans[0] == 2 && strstr((char *)ans + 8, "upgrade"), "answer %zd", r);
        }
        CHECK(lk == NULL);
        close(sv[1]);
    }
}

/* ---- TLS 1.3 ---- */

static char cert_dir[64];

static int certs(void) {
    if (cert_dir[0]) return 0;
    snprintf(cert_dir, sizeof cert_dir, "/tmp/parley-certs-XXXXXX");
    if (!mkdtemp(cert_dir)) return err_set(PARLEY_E_IO, "mkdtemp");
    char cmd[512];
    snprintf(cmd, sizeof cmd, "sh %s/tests/make-certs.sh %s", PARLEY_SOURCE_DIR, cert_dir);
    if (system(cmd) != 0) return err_set(PARLEY_E_IO, "tests/make-certs.sh failed");
    return 0;
}

static void certs_rm(void) {
    if (!cert_dir[0]) return;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf %s", cert_dir);
    if (system(cmd) != 0) fprintf(stderr, "  (could not remove %s)\n", cert_dir);
    cert_dir[0] = 0;
}

static const char *cf(const char *name) {
    static char buf[8][128];
    static int k;
    char *b = buf[k++ % 8];
    snprintf(b, 128, "%s/%s", cert_dir, name);
    return b;
}

typedef struct tls_run {
    const link_opts *so, *co;
    chan_listener *l;
    int src, crc;
    char smsg[512], cmsg[512];
    size_t bulk; /* bytes each way on two streams once the link is up */
    int bad;
} tls_run;

static int tls_bulk(net_link *lk, tls_run *t, unsigned who) {
    if (!t->bulk) {
        chan *c = link_chan(lk, 0);
        uint64_t v = 0;
        if (who == 0) {
            TRY(chan_recv_u64(c, &v));
            TRY(chan_send_u64(c, v + 1));
            return chan_flush(c);
        }
        TRY(chan_send_u64(c, 41));
        TRY(chan_flush(c));
        TRY(chan_recv_u64(c, &v));
        return v == 42 ? 0 : err_set(PARLEY_E_PROTO, "bad answer");
    }
    swap w[2];
    pthread_t th[2];
    for (unsigned s = 0; s < 2; s++) {
        w[s] = (swap){.ch = link_chan(lk, 1 + s), .who = who, .stream = 1 + s, .n = t->bulk,
                      .pieces = 3};
        pthread_create(&th[s], NULL, swap_main, &w[s]);
    }
    int rc = 0;
    for (unsigned s = 0; s < 2; s++) {
        pthread_join(th[s], NULL);
        if (w[s].bad) t->bad = 1;
        if (w[s].rc && !rc) rc = err_set(w[s].rc, "%s", w[s].msg);
    }
    return rc;
}

static void *tls_srv_main(void *v) {
    tls_run *t = v;
    int fd;
    net_link *lk = NULL;
    t->src = net_accept(t->l, &fd, NULL, 0, 10000);
    if (t->src == 0) t->src = link_server(&lk, fd, t->so);
    if (t->src == 0) t->src = tls_bulk(lk, t, 0);
    snprintf(t->smsg, sizeof t->smsg, "%s", t->src ? err_msg() : "");
    link_close(lk);
    return NULL;
}

static void tls_go(tls_run *t) {
    if (chan_listen(&t->l, "127.0.0.1", 0) < 0) {
        t->src = t->crc = -99;
        return;
    }
    pthread_t th;
    pthread_create(&th, NULL, tls_srv_main, t);
    int fd;
    net_link *lk = NULL;
    t->crc = net_connect(&fd, "127.0.0.1", chan_listener_port(t->l), 10000);
    if (t->crc == 0) t->crc = link_client(&lk, fd, t->co);
    if (t->crc == 0) t->crc = tls_bulk(lk, t, 1);
    snprintf(t->cmsg, sizeof t->cmsg, "%s", t->crc ? err_msg() : "");
    link_close(lk);
    pthread_join(th, NULL);
    chan_listener_close(t->l);
}

TEST(tls_links) {
    REQUIRE_OK(certs());
    tls_ctx *srv, *cli_ca, *cli_pin, *cli_both, *cli_cert;
    REQUIRE_OK(tls_ctx_new(&srv, &(tls_opts){.server = 1, .cert = cf("server.pem"),
                                              .key = cf("server.key")}));
    char pin[80];
    snprintf(pin, sizeof pin, "%s", tls_ctx_pin(srv));
    CHECK(strncmp(pin, "sha256:", 7) == 0 && strlen(pin) == 7 + 64);
    REQUIRE_OK(tls_ctx_new(&cli_ca, &(tls_opts){.ca = cf("ca.pem")}));
    REQUIRE_OK(tls_ctx_new(&cli_pin, &(tls_opts){.pin = pin}));
    REQUIRE_OK(tls_ctx_new(&cli_both, &(tls_opts){.ca = cf("ca.pem"), .pin = pin + 7}));
    REQUIRE_OK(tls_ctx_new(&cli_cert, &(tls_opts){.ca = cf("ca.pem"), .cert = cf("client.pem"),
                                                  .key = cf("client.key")}));
    tls_ctx *srv_cc;
    REQUIRE_OK(tls_ctx_new(&srv_cc, &(tls_opts){.server = 1, .cert = cf("server.pem"),
                                                 .key = cf("server.key"), .ca = cf("ca.pem")}));
    uint8_t tok[32];
    REQUIRE_OK(tls_token_file(tok, cf("token")));
    link_opts so = {.tls = srv, .timeout_ms = 5000}, socc = {.tls = srv_cc, .timeout_ms = 5000},
              stok = {.tls = srv, .timeout_ms = 5000, .token = tok};
    struct {
        const link_opts *so;
        link_opts co;
        size_t bulk;
    } ok[] = {
        {&so, {.tls = cli_ca, .server_name = "localhost"}, 0},
        {&so, {.tls = cli_ca, .server_name = "127.0.0.1"}, 0},
        {&so, {.tls = cli_pin}, 0},
        {&so, {.tls = cli_both, .server_name = "localhost"}, 12 << 20},
        {&socc, {.tls = cli_cert, .server_name = "localhost"}, 0},
        {&stok, {.tls = cli_ca, .server_name = "localhost", .token = tok}, 0},
    };
    for (size_t k = 0; k < sizeof ok / sizeof ok[0]; k++) {
        tls_run t = {.so = ok[k].so, .co = &ok[k].co, .bulk = ok[k].bulk};
        tls_go(&t);
        CHECK_MSG(t.src == 0 && t.crc == 0 && !t.bad, "case %zu: server %d %s / client %d %s", k,
                  t.src, t.smsg, t.crc, t.cmsg);
    }
    tls_ctx_free(srv);
    tls_ctx_free(srv_cc);
    tls_ctx_free(cli_ca);
    tls_ctx_free(cli_pin);
    tls_ctx_free(cli_both);
    tls_ctx_free(cli_cert);
    certs_rm();
}

/* Every refusal: one clear line on each side, the right status. */
TEST(tls_refusals) {
    REQUIRE_OK(certs());
    tls_ctx *srv, *srv_cc, *srv_wrong, *cli_ca, *cli_other, *cli_badpin, *cli_rogue, *cli_pin;
    REQUIRE_OK(tls_ctx_new(&srv, &(tls_opts){.server = 1, .cert = cf("server.pem"),
                                              .key = cf("server.key")}));
    REQUIRE_OK(tls_ctx_new(&srv_cc, &(tls_opts){.server = 1, .cert = cf("server.pem"),
                                                 .key = cf("server.key"), .ca = cf("ca.pem")}));
    REQUIRE_OK(tls_ctx_new(&srv_wrong, &(tls_opts){.server = 1, .cert = cf("wrongname.pem"),
                                                    .key = cf("wrongname.key")}));
    REQUIRE_OK(tls_ctx_new(&cli_ca, &(tls_opts){.ca = cf("ca.pem")}));
    REQUIRE_OK(tls_ctx_new(&cli_other, &(tls_opts){.ca = cf("other-ca.pem")}));
    REQUIRE_OK(tls_ctx_new(&cli_badpin, &(tls_opts){.pin = "00112233445566778899aabbccddeeff"
                                                           "00112233445566778899aabbccddeeff"}));
    REQUIRE_OK(tls_ctx_new(&cli_rogue, &(tls_opts){.ca = cf("ca.pem"), .cert = cf("rogue.pem"),
                                                   .key = cf("rogue.key")}));
    REQUIRE_OK(tls_ctx_new(&cli_pin, &(tls_opts){.pin = tls_ctx_pin(srv)}));
    uint8_t tok[32], tok2[32];
    REQUIRE_OK(tls_token_file(tok, cf("token")));
    REQUIRE_OK(tls_token_file(tok2, cf("token2")));
    link_opts plain = {.timeout_ms = 5000};
    link_opts so = {.tls = srv, .timeout_ms = 5000}, socc = {.tls = srv_cc, .timeout_ms = 5000},
              sow = {.tls = srv_wrong, .timeout_ms = 5000},
              stok = {.tls = srv, .timeout_ms = 5000, .token = tok};
    struct {
        const link_opts *so;
        link_opts co;
        int src, crc;
        const char *smsg, *cmsg;
    } bad[] = {
        /* the server's certificate from a CA the client does not trust */
        {&so, {.tls = cli_other, .server_name = "localhost"}, PARLEY_E_AUTH, PARLEY_E_AUTH,
         "did not accept this server's certificate", "not trusted"},
        /* a certificate for another name */
        {&sow, {.tls = cli_ca, .server_name = "localhost"}, PARLEY_E_AUTH, PARLEY_E_AUTH,
         "did not accept", "not trusted: hostname mismatch"},
        /* the wrong pin */
        {&so, {.tls = cli_badpin}, PARLEY_E_AUTH, PARLEY_E_AUTH, "did not accept",
         "does not match --tls-pin"},
        /* a plaintext client to a TLS server */
        {&so, plain, PARLEY_E_AUTH, PARLEY_E_AUTH, "does not speak TLS", "TLS only"},
        /* a TLS client to a plaintext server */
        {&plain, {.tls = cli_pin}, PARLEY_E_PROTO, PARLEY_E_PROTO, "speaks TLS",
         "does not speak TLS"},
        /* no client certificate where one is demanded */
        {&socc, {.tls = cli_ca, .server_name = "localhost"}, PARLEY_E_AUTH, PARLEY_E_AUTH,
         "presented no certificate", "only clients with a certificate"},
        /* a client certificate from another CA */
        {&socc, {.tls = cli_rogue, .server_name = "localhost"}, PARLEY_E_AUTH, PARLEY_E_AUTH,
         "client's certificate is not trusted", "did not accept this client's certificate"},
        /* no token, the wrong token */
        {&stok, {.tls = cli_pin}, PARLEY_E_AUTH, PARLEY_E_AUTH, "no token", "its token"},
        {&stok, {.tls = cli_pin, .token = tok2}, PARLEY_E_AUTH, PARLEY_E_AUTH, "token is wrong",
         "token is not this server's"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        tls_run t = {.so = bad[k].so, .co = &bad[k].co};
        tls_go(&t);
        CHECK_MSG(t.src == bad[k].src && strstr(t.smsg, bad[k].smsg), "case %zu server: %d %s", k,
                  t.src, t.smsg);
        CHECK_MSG(t.crc == bad[k].crc && strstr(t.cmsg, bad[k].cmsg), "case %zu client: %d %s", k,
                  t.crc, t.cmsg);
    }
    tls_ctx *x;
    CHECK(tls_ctx_new(&x, &(tls_opts){.pin = "abc"}) == PARLEY_E_ARG && strstr(err_msg(), "64 hex"));
    CHECK(tls_ctx_new(&x, &(tls_opts){.server = 1, .cert = cf("server.pem"),
                                      .key = cf("client.key")}) == PARLEY_E_ARG &&
          strstr(err_msg(), "does not belong"));
    CHECK(tls_ctx_new(&x, &(tls_opts){.server = 1, .cert = cf("nope.pem"),
                                      .key = cf("server.key")}) == PARLEY_E_ARG &&
          strstr(err_msg(), "nope.pem"));
    CHECK(tls_ctx_new(&x, &(tls_opts){0}) == PARLEY_E_ARG); /* a client that checks nothing */
    tls_ctx_free(srv);
    tls_ctx_free(srv_cc);
    tls_ctx_free(srv_wrong);
    tls_ctx_free(cli_ca);
    tls_ctx_free(cli_other);
    tls_ctx_free(cli_badpin);
    tls_ctx_free(cli_rogue);
    tls_ctx_free(cli_pin);
    certs_rm();
}

/* chan_peek shows what is coming without taking or counting it. */
static int peek_party(int who, chan *ch, void *arg) {
    (void)arg;
    if (who == 0) {
        TRY(chan_send(ch, "0123456789", 10));
        return chan_flush(ch);
    }
    char a[4], b[10];
    TRY(chan_peek(ch, a, 4));
    if (memcmp(a, "0123", 4) != 0 || chan_get_stats(ch)->bytes_recv != 0)
        return err_set(PARLEY_E_PROTO, "peek took or counted bytes");
    TRY(chan_recv(ch, b, 10));
    return memcmp(b, "0123456789", 10) == 0 ? 0 : err_set(PARLEY_E_PROTO, "bad bytes");
}

TEST(peek_takes_nothing) {
    REQUIRE_OK(run2(peek_party, NULL));
    CHECK_EQ(run2_stats[1].bytes_recv, 10);
}
