/* session: whole secure inferences over loopback TCP between a server
 * thread (session_serve_one) and client threads (session_infer), and every
 * way a session can go wrong — another protocol version, garbage, an input
 * of the wrong shape, a client that goes away before or during the
 * inference — each ending with a clear message on both sides while the
 * server goes on to serve the next client. */
#include "harness.h"

#include "net/link.h"
#include "nn/cost.h"
#include "nn/model.h"
#include "nn/npy.h"
#include "nn/ref.h"
#include "nn/session.h"
#include "ot/lane.h"
#include "util/mem.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MODEL PARLEY_SOURCE_DIR "/examples/digits.onnx"
#define INPUT PARLEY_SOURCE_DIR "/examples/digit-0.npy"

typedef struct server {
    chan_listener *l;
    session_server *srv;
    server_cfg cfg;
    int sessions;
    int rc[8];
    char msg[8][512];
    pthread_t th;
} server;

static void *server_main(void *v) {
    server *s = v;
    for (int k = 0; k < s->sessions; k++) {
        session_result r;
        s->rc[k] = session_serve_one(s->srv, &s->cfg, 20000, &r);
        snprintf(s->msg[k], sizeof s->msg[k], "%s", s->rc[k] ? err_msg() : "");
        session_result_free(&r);
    }
    return NULL;
}

/* A server thread for `sessions` clients with configuration cfg. */
static int server_start_cfg(server *s, const server_cfg *cfg, int sessions) {
    memset(s, 0, sizeof *s);
    TRY(chan_listen(&s->l, "127.0.0.1", 0));
    TRY(session_server_new(&s->srv, s->l));
    s->cfg = *cfg;
    s->sessions = sessions;
    pthread_create(&s->th, NULL, server_main, s);
    return 0;
}

static int server_start_link(server *s, qnet *net, unsigned mode, unsigned lanes,
                             unsigned reveal, unsigned ot, int sessions, const link_opts *lo) {
    server_cfg c = {.net = net, .mode = mode, .lanes = lanes, .reveal = reveal, .ot = ot,
                    .hello_timeout_ms = 3000, .link = lo};
    return server_start_cfg(s, &c, sessions);
}

static int server_start_ot(server *s, qnet *net, unsigned mode, unsigned lanes, unsigned reveal,
                           unsigned ot, int sessions) {
    return server_start_link(s, net, mode, lanes, reveal, ot, sessions, NULL);
}

static int server_start(server *s, qnet *net, unsigned mode, unsigned lanes, unsigned reveal,
                        int sessions) {
    return server_start_ot(s, net, mode, lanes, reveal, OT_BACKEND_IKNP, sessions);
}

static void server_stop(server *s) {
    pthread_join(s->th, NULL);
    session_server_free(s->srv);
    chan_listener_close(s->l);
}

/* A good client: the output equals the reference's. */
static void good_client(server *s, const qnet *net, const nn_tensor *x, const uint64_t *want) {
    session_result r;
    int rc = session_infer("127.0.0.1", chan_listener_port(s->l), x, NULL, NULL, &r);
    CHECK_MSG(rc == 0, "client: %s", err_msg());
    if (rc == 0) {
        size_t n = net->t[net->output].size;
        if (r.reveal == REVEAL_LABEL) {
            uint64_t lab;
            nl_argmax_plain(&lab, want, 1, n, net->l);
            CHECK_EQ(r.nout, 1);
            CHECK_EQ(r.out[0], lab);
        } else {
            CHECK_EQ(r.nout, n);
            for (size_t i = 0; i < n && i < r.nout; i++)
                CHECK_EQ(r.out[i], want[i]);
        }
        CHECK(r.rep.bytes_sent > 0 && r.rep.bytes_recv > 0 && r.peer_flights > 0);
        /* The chain of waits: at least the reveal, at most every flight of
         * both parties; the layers' shares add up to no more than it. */
        uint64_t sum = 0;
        for (unsigned i = 0; i < r.rep.nlayers; i++)
            sum += r.rep.layers[i].critical_flights;
        CHECK_MSG(r.rep.critical_flights >= 1 &&
                      r.rep.critical_flights <= r.rep.flights + r.peer_flights &&
                      sum <= r.rep.critical_flights,
                  "critical %llu, flights %llu + %llu, layers %llu",
                  (unsigned long long)r.rep.critical_flights, (unsigned long long)r.rep.flights,
                  (unsigned long long)r.peer_flights, (unsigned long long)sum);
        CHECK(r.link.overhead_sent > 0 && r.link.frames_recv > 0);
    }
    session_result_free(&r);
}

typedef struct fixture {
    qnet *net;
    nn_tensor x;
    uint64_t *want;
} fixture;

static int fixture_load(fixture *f) {
    memset(f, 0, sizeof *f);
    TRY(nn_model_load(&f->net, NULL, MODEL, 37, 12, 1));
    TRY(npy_load(&f->x, INPUT));
    uint64_t *xq = mem_alloc(f->x.n, sizeof *xq);
    if (!xq) return PARLEY_E_NOMEM;
    int rc = qnet_encode_input(f->net, xq, &f->x);
    if (rc == 0) rc = ref_run(f->net, &f->want, NULL, xq);
    mem_free(xq);
    return rc;
}

static void fixture_free(fixture *f) {
    qnet_free(f->net);
    nn_tensor_free(&f->x);
    mem_free(f->want);
}

TEST(sessions_one_after_another) {
    fixture f;
    REQUIRE_OK(fixture_load(&f));
    static const unsigned modes[] = {MODE_OT, MODE_HE};
    for (int m = 0; m < 2; m++)
        for (unsigned reveal = 0; reveal < 2; reveal++) {
            server s;
            REQUIRE_OK(server_start(&s, f.net, modes[m], 1 + reveal, reveal, 2));
            good_client(&s, f.net, &f.x, f.want);
            good_client(&s, f.net, &f.x, f.want);
            server_stop(&s);
            CHECK_MSG(s.rc[0] == 0 && s.rc[1] == 0, "server: %s %s", s.msg[0], s.msg[1]);
        }
    fixture_free(&f);
}

/* The server's hello picks the OT backend; the client follows it. Silent
 * sessions run FERRET_DEFAULT on every lane, in both modes. */
TEST(sessions_on_the_silent_backend) {
    fixture f;
    REQUIRE_OK(fixture_load(&f));
    static const unsigned modes[] = {MODE_OT, MODE_HE};
    for (int m = 0; m < 2; m++) {
        server s;
        REQUIRE_OK(server_start_ot(&s, f.net, modes[m], 2, REVEAL_LOGITS, OT_BACKEND_SILENT, 1));
        session_result r;
        int rc = session_infer("127.0.0.1", chan_listener_port(s.l), &f.x, NULL, NULL, &r);
        CHECK_MSG(rc == 0, "client: %s", err_msg());
        if (rc == 0) {
            CHECK_EQ(r.ot, OT_BACKEND_SILENT);
            size_t n = f.net->t[f.net->output].size;
            CHECK_EQ(r.nout, n);
            for (size_t i = 0; i < n && i < r.nout; i++) CHECK_EQ(r.out[i], f.want[i]);
        }
        session_result_free(&r);
        server_stop(&s);
        CHECK_MSG(s.rc[0] == 0, "server: %s", s.msg[0]);
    }
    fixture_free(&f);
}

/* A server that asks for the leaves on 4-bit VOLE (server_cfg.leaves):
 * the client follows its hello, the output is the reference's, and the
 * client's bytes each way and the critical flights are what cost_predict
 * says for that session (the production sets: the small Ferret set is
 * not taken with these pools), in both modes. */
TEST(sessions_with_leaves_on_vole4) {
    fixture f;
    REQUIRE_OK(fixture_load(&f));
    static const unsigned modes[] = {MODE_OT, MODE_HE};
    for (int m = 0; m < 2; m++) {
        server s;
        server_cfg c = {.net = f.net, .mode = modes[m], .lanes = 1, .ot = OT_BACKEND_SILENT,
                        .leaves = LEAVES_VOLE4, .hello_timeout_ms = 3000};
        REQUIRE_OK(server_start_cfg(&s, &c, 1));
        session_result r;
        int rc = session_infer("127.0.0.1", chan_listener_port(s.l), &f.x, NULL, NULL, &r);
        CHECK_MSG(rc == 0, "client: %s", err_msg());
        if (rc == 0) {
            CHECK_EQ(r.ot, OT_BACKEND_SILENT);
            CHECK_EQ(r.leaves, LEAVES_VOLE4);
            size_t n = f.net->t[f.net->output].size;
            CHECK_EQ(r.nout, n);
            for (size_t i = 0; i < n && i < r.nout; i++) CHECK_EQ(r.out[i], f.want[i]);
            cost_opts o = {.mode = (int)modes[m],
                           .lanes = 1,
                           .ot = OT_BACKEND_SILENT,
                           .vole4 = cost_session_vole4(OT_BACKEND_SILENT, LEAVES_VOLE4)};
            CHECK(o.vole4 == &VOLE4_H10K18);
            CHECK(cost_session_ferret(f.net, &o) == NULL);
            cost_report p;
            REQUIRE_OK(cost_predict(&p, f.net, &o));
            CHECK(p.corrs > 0);
            CHECK_EQ(r.rep.bytes_sent, p.sent[MPC_CLIENT]);
            CHECK_EQ(r.rep.bytes_recv, p.sent[MPC_SERVER]);
            CHECK_EQ(r.rep.critical_flights, p.flights);
            cost_report_free(&p);
        }
        session_result_free(&r);
        server_stop(&s);
        CHECK_MSG(s.rc[0] == 0, "server: %s", s.msg[0]);
    }
    fixture_free(&f);
}

/* Byte `at` of hello h's encoding set to each value of cs in turn: a value
 * that parses re-encodes to the same bytes (its field read back), one that
 * does not is refused with a message containing `refused`. */
typedef struct byte_case {
    uint8_t v;
    const char *refused; /* NULL: parses */
} byte_case;

static void hello_byte(const session_hello *h, unsigned at, const byte_case *cs, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint8_t b[HELLO_BYTES], again[HELLO_BYTES];
        hello_encode(b, h);
        b[at] = cs[i].v;
        session_hello g;
        int rc = hello_parse(&g, b, sizeof b);
        if (cs[i].refused) {
            CHECK_MSG(rc == PARLEY_E_PROTO && strstr(err_msg(), cs[i].refused),
                      "byte %u = %u: %d %s", at, cs[i].v, rc, err_msg());
            continue;
        }
        CHECK_MSG(rc == 0, "byte %u = %u: %s", at, cs[i].v, err_msg());
        hello_encode(again, &g);
        CHECK_MSG(rc != 0 || memcmp(again, b, sizeof b) == 0, "byte %u = %u: read back otherwise",
                  at, cs[i].v);
    }
}

#define HELLO_BYTE(h, at, ...)                                                                   \
    hello_byte(h, at, (const byte_case[]){__VA_ARGS__},                                          \
               sizeof((const byte_case[]){__VA_ARGS__}) / sizeof(byte_case))

/* Byte 12 of the hello is the OT backend: known values round-trip (0, what
 * peers before the backend byte sent, is IKNP), others are refused, and
 * so are IKNP with the leaves on 4-bit VOLE and a client hello that sets
 * it. */
TEST(hello_ot_backend_byte) {
    session_hello h = {.kind = HELLO_SERVER, .version = SESSION_VERSION, .mode = MODE_HE, .l = 37,
                       .s = 12, .lanes = 2, .reveal = REVEAL_LABEL, .ot = OT_BACKEND_SILENT};
    uint8_t b[HELLO_BYTES];
    hello_encode(b, &h);
    CHECK_EQ(b[12], OT_BACKEND_SILENT);
    HELLO_BYTE(&h, 12, {OT_BACKEND_SILENT, NULL}, {OT_BACKEND_IKNP, NULL}, {2, "OT backend"});
    h.leaves = LEAVES_VOLE4;
    HELLO_BYTE(&h, 12, {OT_BACKEND_SILENT, NULL}, {OT_BACKEND_IKNP, "silent"});
    session_hello c = {.kind = HELLO_CLIENT, .version = SESSION_VERSION};
    HELLO_BYTE(&c, 12, {0, NULL}, {1, "carries parameters"});
}

/* Byte 15 of the server's hello is the leaves' OT: both round-trip on the
 * silent backend; another value, 4-bit VOLE with IKNP, and a client hello
 * that sets it are refused, each naming what is wrong. */
TEST(hello_leaves_byte) {
    session_hello h = {.kind = HELLO_SERVER, .version = SESSION_VERSION, .mode = MODE_OT, .l = 32,
                       .s = 9, .lanes = 1, .ot = OT_BACKEND_SILENT, .leaves = LEAVES_VOLE4};
    uint8_t b[HELLO_BYTES];
    hello_encode(b, &h);
    CHECK_EQ(b[15], LEAVES_VOLE4);
    HELLO_BYTE(&h, 15, {LEAVES_VOLE4, NULL}, {LEAVES_COT, NULL}, {2, "leaves"});
    h.ot = OT_BACKEND_IKNP;
    h.leaves = LEAVES_COT;
    HELLO_BYTE(&h, 15, {LEAVES_COT, NULL}, {LEAVES_VOLE4, "silent"});
    session_hello c = {.kind = HELLO_CLIENT, .version = SESSION_VERSION};
    HELLO_BYTE(&c, 15, {0, NULL}, {LEAVES_VOLE4, "carries parameters"});
}

/* Bytes 13-14 of the hello are the batch (little-endian); batch 1 is sent
 * as 0, as peers before batches sent it, and both read back as 1. */
TEST(hello_batch_bytes) {
    session_hello c = {.kind = HELLO_CLIENT, .version = SESSION_VERSION, .batch = 1}, g;
    uint8_t b[HELLO_BYTES];
    hello_encode(b, &c);
    CHECK(b[13] == 0 && b[14] == 0);
    REQUIRE_OK(hello_parse(&g, b, sizeof b));
    CHECK_EQ(hello_batch(&g), 1);
    c.batch = 397;
    hello_encode(b, &c);
    CHECK(b[13] == (397 & 255) && b[14] == 1);
    REQUIRE_OK(hello_parse(&g, b, sizeof b));
    CHECK_EQ(hello_batch(&g), 397);
    c.batch = HELLO_MAX_BATCH;
    hello_encode(b, &c);
    REQUIRE_OK(hello_parse(&g, b, sizeof b));
    CHECK_EQ(hello_batch(&g), HELLO_MAX_BATCH);
}

/* Raw bytes from a misbehaving client on the control stream (after a good
 * link set-up); returns what the server answered (the first control
 * message) in *type, or -1. */
static void raw_client(int port, const void *bytes, size_t n, int *type, char *answer, size_t cap) {
    chan *c;
    *type = -1;
    answer[0] = 0;
    if (chan_connect(&c, "127.0.0.1", port, 5000) != 0) return;
    chan_set_timeout(c, 5000);
    if (chan_send(c, bytes, n) == 0 && chan_flush(c) == 0) {
        uint8_t *p;
        size_t len;
        int rc = ctl_recv(c, CTL_HELLO, 0, &p, &len);
        if (rc == PARLEY_E_MISMATCH) {
            *type = CTL_REJECT;
            snprintf(answer, cap, "%s", err_msg());
        } else if (rc == 0) {
            *type = CTL_HELLO;
            mem_free(p);
        }
    }
    chan_close(c);
}

TEST(bad_clients_then_a_good_one) {
    fixture f;
    REQUIRE_OK(fixture_load(&f));
    server s;
    REQUIRE_OK(server_start(&s, f.net, MODE_OT, 2, REVEAL_LOGITS, 5));
    int port = chan_listener_port(s.l), type;
    char answer[512];

    /* 1. another protocol version: a REJECT naming both versions */
    session_hello h = {.kind = HELLO_CLIENT, .version = SESSION_VERSION + 6};
    uint8_t msg[8 + HELLO_BYTES] = {CTL_HELLO, 0, 0, 0, HELLO_BYTES, 0, 0, 0};
    hello_encode(msg + 8, &h);
    raw_client(port, msg, sizeof msg, &type, answer, sizeof answer);
    CHECK_EQ(type, CTL_REJECT);
    char v1[32], v2[32];
    snprintf(v1, sizeof v1, "version %d", SESSION_VERSION);
    snprintf(v2, sizeof v2, "%d", SESSION_VERSION + 6);
    CHECK_MSG(strstr(answer, v1) && strstr(answer, v2), "answer: %s", answer);

    /* 2. garbage: no answer, the server drops the connection */
    const char junk[] = "GET / HTTP/1.1\r\n\r\n";
    raw_client(port, junk, sizeof junk - 1, &type, answer, sizeof answer);
    CHECK_EQ(type, -1);

    /* 3. an input of the wrong shape: the client says so, before any OT */
    nn_tensor bad;
    nn_shape sh = {.rank = 4, .d = {1, 1, 8, 9}};
    REQUIRE_OK(nn_tensor_alloc(&bad, &sh));
    memset(bad.data, 0, bad.n * sizeof *bad.data);
    session_result r;
    int rc = session_infer("127.0.0.1", port, &bad, NULL, NULL, &r);
    CHECK(rc == PARLEY_E_MISMATCH);
    CHECK_MSG(strstr(err_msg(), "[1,1,8,9]") && strstr(err_msg(), "[1,1,8,8]"), "client: %s",
              err_msg());
    session_result_free(&r);
    nn_tensor_free(&bad);

    /* 4. a client that says hello and goes away */
    h.version = SESSION_VERSION;
    hello_encode(msg + 8, &h);
    raw_client(port, msg, sizeof msg, &type, answer, sizeof answer);
    CHECK_EQ(type, CTL_HELLO);

    /* 5. and the server still serves a good client */
    good_client(&s, f.net, &f.x, f.want);
    server_stop(&s);
    snprintf(v2, sizeof v2, "version %d", SESSION_VERSION + 6);
    CHECK_MSG(s.rc[0] == PARLEY_E_MISMATCH && strstr(s.msg[0], v2), "1: %s", s.msg[0]);
    CHECK_MSG(s.rc[1] == PARLEY_E_PROTO, "2: %d %s", s.rc[1], s.msg[1]);
    CHECK_MSG(s.rc[2] == PARLEY_E_MISMATCH && strstr(s.msg[2], "[1,1,8,9]"), "3: %s", s.msg[2]);
    CHECK_MSG(s.rc[3] < 0, "4: %s", s.msg[3]);
    CHECK_MSG(s.rc[4] == 0, "5: %s", s.msg[4]);
    fixture_free(&f);
}

/* A client that stops after a few layers: the server's session fails at
 * once (no timeout wait) and the next client is served. */
static int stop_after_2(void *ctx, const qnet *net, unsigned layer, const exec_layer_stat *st,
                        double elapsed, uint64_t bytes) {
    (void)ctx, (void)net, (void)st, (void)elapsed, (void)bytes;
    return layer >= 1;
}

TEST(client_dies_midway) {
    fixture f;
    REQUIRE_OK(fixture_load(&f));
    server s;
    REQUIRE_OK(server_start(&s, f.net, MODE_OT, 2, REVEAL_LOGITS, 2));
    session_result r;
    int rc = session_infer("127.0.0.1", chan_listener_port(s.l), &f.x, stop_after_2, NULL, &r);
    CHECK(rc == PARLEY_E_ARG);
    session_result_free(&r);
    good_client(&s, f.net, &f.x, f.want);
    server_stop(&s);
    CHECK_MSG(s.rc[0] < 0, "the server did not notice: %d", s.rc[0]);
    CHECK_MSG(s.rc[1] == 0, "%s", s.msg[1]);
    fixture_free(&f);
}

TEST(hello_round_trip_and_checks) {
    session_hello h = {.kind = HELLO_SERVER,
                       .version = SESSION_VERSION,
                       .mode = MODE_HE,
                       .l = 37,
                       .s = 12,
                       .lanes = 4,
                       .reveal = REVEAL_LABEL},
                  g;
    uint8_t b[HELLO_BYTES];
    hello_encode(b, &h);
    REQUIRE_OK(hello_parse(&g, b, sizeof b));
    CHECK(memcmp(&g, &h, sizeof g) == 0);
    CHECK(hello_parse(&g, b, sizeof b - 1) == PARLEY_E_PROTO);
    uint8_t c[HELLO_BYTES];
    memcpy(c, b, sizeof c);
    c[9] = 40; /* s >= l */
    CHECK(hello_parse(&g, c, sizeof c) == PARLEY_E_PROTO);
    memcpy(c, b, sizeof c);
    c[10] = 0; /* no lanes */
    CHECK(hello_parse(&g, c, sizeof c) == PARLEY_E_PROTO);
    memcpy(c, b, sizeof c);
    c[0] = 'X';
    CHECK(hello_parse(&g, c, sizeof c) == PARLEY_E_PROTO);
    uint8_t hdr[8] = {CTL_MODEL, 0, 0, 0, 0xff, 0xff, 0xff, 0xff};
    unsigned t;
    size_t n;
    CHECK(ctl_header_parse(&t, &n, hdr) == PARLEY_E_PROTO); /* over the cap */
    hdr[0] = 77;
    CHECK(ctl_header_parse(&t, &n, hdr) == PARLEY_E_PROTO); /* unknown type */
}

/* Clients that arrive together: one is served while the others wait in the
 * listener's backlog, then the next. A silent stranger that connected first
 * costs one failed session (the hello timeout), nothing more. */
typedef struct client_job {
    server *s;
    fixture *f;
    pthread_t th;
} client_job;

static void *client_main(void *v) {
    client_job *j = v;
    good_client(j->s, j->f->net, &j->f->x, j->f->want);
    return NULL;
}

TEST(clients_at_once) {
    fixture f;
    REQUIRE_OK(fixture_load(&f));
    server s;
    REQUIRE_OK(server_start(&s, f.net, MODE_OT, 3, REVEAL_LOGITS, 4));
    chan *stranger = NULL;
    REQUIRE_OK(chan_connect(&stranger, "127.0.0.1", chan_listener_port(s.l), 5000));
    client_job j[3];
    for (int k = 0; k < 3; k++) {
        j[k] = (client_job){&s, &f, 0};
        pthread_create(&j[k].th, NULL, client_main, &j[k]);
    }
    for (int k = 0; k < 3; k++)
        pthread_join(j[k].th, NULL);
    chan_close(stranger);
    server_stop(&s);
    CHECK_MSG(s.rc[0] == PARLEY_E_TIMEOUT, "the stranger's session: %d %s", s.rc[0], s.msg[0]);
    for (int k = 1; k < 4; k++)
        CHECK_MSG(s.rc[k] == 0, "session %d: %s", k, s.msg[k]);
    fixture_free(&f);
}

/* The length of net's public description, as the server sends it. */
static int public_len(const qnet *net, size_t *len) {
    uint8_t *desc;
    TRY(qnet_public_encode(net, &desc, len));
    mem_free(desc);
    return 0;
}

/* The client's cap on what the server's model makes it allocate: a
 * description too large to decode under the cap, then a model whose
 * tensors would go past it, are refused before anything is allocated, with
 * the option that raises the cap; the server hears why and serves the next
 * client. */
TEST(model_memory_cap) {
    fixture f;
    REQUIRE_OK(fixture_load(&f));
    size_t len;
    REQUIRE_OK(public_len(f.net, &len));
    uint64_t decode = session_decode_bound(len), all = session_model_memory(f.net, len);
    REQUIRE(decode < all);
    server s;
    REQUIRE_OK(server_start(&s, f.net, MODE_OT, 1, REVEAL_LOGITS, 3));
    uint64_t caps[2] = {decode - 1, all - 1};
    for (int k = 0; k < 2; k++) {
        client_cfg cfg = {.max_model_memory = caps[k]};
        session_result r;
        int rc = session_infer_ex(&cfg, "127.0.0.1", chan_listener_port(s.l), &f.x, &r);
        CHECK_MSG(rc == PARLEY_E_LIMIT && strstr(err_msg(), "--max-model-memory"), "%d: %d %s", k,
                  rc, err_msg());
        session_result_free(&r);
    }
    good_client(&s, f.net, &f.x, f.want);
    server_stop(&s);
    for (int k = 0; k < 2; k++)
        CHECK_MSG(s.rc[k] == PARLEY_E_MISMATCH && strstr(s.msg[k], "client refused the model"),
                  "server %d: %s", k, s.msg[k]);
    CHECK_MSG(s.rc[2] == 0, "%s", s.msg[2]);
    fixture_free(&f);
}

/* The cap counts the OT pools the server's lanes make the client hold: a
 * silent server with 3 lanes and the leaves on 4-bit VOLE needs 3 x
 * ot_lane_memory more than the model, so a cap just under the sum is
 * refused (naming the pools and the option), and the sum is taken. */
TEST(model_memory_cap_counts_ot_pools) {
    fixture f;
    REQUIRE_OK(fixture_load(&f));
    size_t len;
    REQUIRE_OK(public_len(f.net, &len));
    ot_lane_opts oo = {.backend = OT_BACKEND_SILENT, .vole4 = &VOLE4_H10K18};
    uint64_t pools = 3 * ot_lane_memory(&oo), all = session_model_memory(f.net, len) + pools;
    ot_lane_opts cots = {.backend = OT_BACKEND_SILENT}, iknp = {.backend = OT_BACKEND_IKNP};
    CHECK(ot_lane_memory(&cots) > (100u << 20) && ot_lane_memory(&oo) > 2 * (100u << 20));
    CHECK_EQ(ot_lane_memory(&iknp), 0);
    server s;
    server_cfg c = {.net = f.net, .mode = MODE_HE, .lanes = 3, .ot = OT_BACKEND_SILENT,
                    .leaves = LEAVES_VOLE4, .hello_timeout_ms = 3000};
    REQUIRE_OK(server_start_cfg(&s, &c, 2));
    uint64_t caps[2] = {all - 1, all};
    for (int k = 0; k < 2; k++) {
        client_cfg cfg = {.max_model_memory = caps[k]};
        session_result r;
        int rc = session_infer_ex(&cfg, "127.0.0.1", chan_listener_port(s.l), &f.x, &r);
        if (k == 0)
            CHECK_MSG(rc == PARLEY_E_LIMIT && strstr(err_msg(), "the OT pools of 3 lanes") &&
                          strstr(err_msg(), "--max-model-memory"),
                      "%d %s", rc, err_msg());
        else
            CHECK_MSG(rc == 0 && r.nout == f.net->t[f.net->output].size &&
                          memcmp(r.out, f.want, r.nout * sizeof *r.out) == 0,
                      "%d %s", rc, err_msg());
        session_result_free(&r);
    }
    server_stop(&s);
    CHECK_MSG(s.rc[0] == PARLEY_E_MISMATCH && strstr(s.msg[0], "client refused the model"), "%s",
              s.msg[0]);
    CHECK_MSG(s.rc[1] == 0, "%s", s.msg[1]);
    fixture_free(&f);
}

/* A whole session over TLS 1.3 (certificates made by tests/make-certs.sh):
 * the output is the reference's, the report says which TLS. */
TEST(session_over_tls) {
    char dir[64] = "/tmp/parley-certs-XXXXXX", cmd[512], path[4][128];
    REQUIRE(mkdtemp(dir) != NULL);
    snprintf(cmd, sizeof cmd, "sh %s/tests/make-certs.sh %s", PARLEY_SOURCE_DIR, dir);
    REQUIRE(system(cmd) == 0);
    const char *names[4] = {"server.pem", "server.key", "ca.pem", "token"};
    for (int i = 0; i < 4; i++)
        snprintf(path[i], sizeof path[i], "%s/%s", dir, names[i]);
    fixture f;
    REQUIRE_OK(fixture_load(&f));
    tls_ctx *st, *ct;
    uint8_t tok[32];
    REQUIRE_OK(tls_ctx_new(&st, &(tls_opts){.server = 1, .cert = path[0], .key = path[1]}));
    REQUIRE_OK(tls_ctx_new(&ct, &(tls_opts){.ca = path[2]}));
    REQUIRE_OK(tls_token_file(tok, path[3]));
    link_opts so = {.tls = st, .token = tok}, co = {.tls = ct, .token = tok};
    server s;
    REQUIRE_OK(server_start_link(&s, f.net, MODE_HE, 2, REVEAL_LOGITS, OT_BACKEND_IKNP, 1, &so));
    client_cfg cfg = {.link = &co};
    session_result r;
    int rc = session_infer_ex(&cfg, "localhost", chan_listener_port(s.l), &f.x, &r);
    CHECK_MSG(rc == 0, "client: %s", err_msg());
    if (rc == 0) {
        size_t n = f.net->t[f.net->output].size;
        CHECK_EQ(r.nout, n);
        for (size_t i = 0; i < n && i < r.nout; i++)
            CHECK_EQ(r.out[i], f.want[i]);
        CHECK_MSG(strstr(r.transport, "TLSv1.3"), "transport %s", r.transport);
    }
    session_result_free(&r);
    server_stop(&s);
    CHECK_MSG(s.rc[0] == 0, "server: %s", s.msg[0]);
    tls_ctx_free(st);
    tls_ctx_free(ct);
    fixture_free(&f);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}
