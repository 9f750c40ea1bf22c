/* net: channels over socketpair and loopback TCP, counters, concurrency,
 * and every failure mode a peer can cause. */
#include "harness.h"
#include "twoparty.h"

#include "net/lanes.h"
#include "util/mem.h"

#include <pthread.h>
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

/* Lanes: several connections of one session, matched by index and tag. */
typedef struct lanes_job {
    int port;
    unsigned n;
    int rc;
    chan *lanes[LANES_MAX];
} lanes_job;

static void *lanes_client(void *v) {
    lanes_job *j = v;
    j->rc = lanes_connect(j->lanes, j->n, "127.0.0.1", j->port, 5000);
    for (unsigned i = 0; j->rc == 0 && i < j->n; i++) {
        j->rc = chan_send_u64(j->lanes[i], 100 + i);
        if (j->rc == 0) j->rc = chan_flush(j->lanes[i]);
    }
    return NULL;
}

TEST(lanes_connect_accept) {
    chan_listener *l;
    REQUIRE_OK(chan_listen(&l, "127.0.0.1", 0));
    lanes_job j = {chan_listener_port(l), 4, 0, {0}};
    pthread_t th;
    pthread_create(&th, NULL, lanes_client, &j);
    chan *lanes[LANES_MAX];
    int rc = lanes_accept(lanes, 4, l, 5000);
    pthread_join(th, NULL);
    REQUIRE_OK(rc);
    REQUIRE_OK(j.rc);
    for (unsigned i = 0; i < 4; i++) {
        uint64_t v = 0;
        CHECK(chan_recv_u64(lanes[i], &v) == 0 && v == 100 + i);
        CHECK_EQ(chan_get_stats(lanes[i])->bytes_recv, 8); /* hello not counted */
    }
    lanes_close(lanes, 4);
    lanes_close(j.lanes, 4);
    /* A client that opens a different number of lanes is refused. */
    lanes_job j2 = {chan_listener_port(l), 2, 0, {0}};
    pthread_create(&th, NULL, lanes_client, &j2);
    rc = lanes_accept(lanes, 3, l, 5000);
    pthread_join(th, NULL);
    CHECK_EQ(rc, PARLEY_E_MISMATCH);
    lanes_close(j2.lanes, 2);
    chan_listener_close(l);
}

TEST(lane_hello_rejects_bad_bytes) {
    lane_hello h = {2, 4, 0x1122334455667788ULL}, g;
    uint8_t buf[LANE_HELLO_BYTES];
    lane_hello_encode(buf, &h);
    REQUIRE_OK(lane_hello_parse(&g, buf, sizeof buf));
    CHECK(g.index == 2 && g.count == 4 && g.tag == h.tag);
    CHECK(lane_hello_parse(&g, buf, 15) == PARLEY_E_PROTO);
    uint8_t bad[LANE_HELLO_BYTES];
    memcpy(bad, buf, sizeof bad);
    bad[0] = 'X';
    CHECK(lane_hello_parse(&g, bad, sizeof bad) == PARLEY_E_PROTO);
    CHECK(strstr(err_msg(), "magic") != NULL);
    memcpy(bad, buf, sizeof bad);
    bad[4] = 9;
    CHECK(lane_hello_parse(&g, bad, sizeof bad) == PARLEY_E_PROTO);
    CHECK(strstr(err_msg(), "version") != NULL);
    memcpy(bad, buf, sizeof bad);
    bad[5] = 4; /* index == count */
    CHECK(lane_hello_parse(&g, bad, sizeof bad) == PARLEY_E_PROTO);
    memcpy(bad, buf, sizeof bad);
    bad[6] = 0;
    CHECK(lane_hello_parse(&g, bad, sizeof bad) == PARLEY_E_PROTO);
    memcpy(bad, buf, sizeof bad);
    bad[6] = LANES_MAX + 1;
    CHECK(lane_hello_parse(&g, bad, sizeof bad) == PARLEY_E_PROTO);
    memcpy(bad, buf, sizeof bad);
    bad[7] = 1;
    CHECK(lane_hello_parse(&g, bad, sizeof bad) == PARLEY_E_PROTO);
}

/* A stranger that connects and sends garbage gets a protocol error, not a
 * crash; one that connects and says nothing times out. */
static void *garbage_client(void *v) {
    int port = *(int *)v;
    chan *c;
    if (chan_connect(&c, "127.0.0.1", port, 5000) == 0) {
        if (chan_send(c, "GET / HTTP/1.0\r\n\r\n", 18) == 0 && chan_flush(c) < 0)
            fprintf(stderr, "  (flush failed: %s)\n", err_msg());
        usleep(100000);
        chan_close(c);
    }
    return NULL;
}

TEST(lanes_reject_garbage) {
    chan_listener *l;
    REQUIRE_OK(chan_listen(&l, "127.0.0.1", 0));
    int port = chan_listener_port(l);
    pthread_t th;
    pthread_create(&th, NULL, garbage_client, &port);
    chan *lanes[1];
    int rc = lanes_accept(lanes, 1, l, 5000);
    pthread_join(th, NULL);
    CHECK_EQ(rc, PARLEY_E_PROTO);
    chan_listener_close(l);
}
