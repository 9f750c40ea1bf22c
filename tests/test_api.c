/* The public C API (include/parley.h) through libparley.so alone: this
 * program includes only parley.h and links only the shared library, as an
 * application does. Every case asserts results: bit-exact secure outputs
 * against parley_plain, exact predicted bytes against a real session's,
 * error codes and messages for bad arguments.
 *
 * The inputs are random from a printed seed (PARLEY_TEST_SEED), so a run
 * replays; the sessions' own randomness is the OS's, as in production (the
 * API has no seed to give), and does not change any output. */
#include <parley.h>

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef PARLEY_SOURCE_DIR
#define PARLEY_SOURCE_DIR "."
#endif
#define DIGITS PARLEY_SOURCE_DIR "/examples/digits.onnx"

static int failed;
static uint64_t seed_state;

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "%s:%d: CHECK(%s) failed (last error: %s)\n", __FILE__, __LINE__, #c,  \
                    parley_last_error());                                                          \
            failed = 1;                                                                            \
        }                                                                                          \
    } while (0)
/* A status and a message that must name what is wrong. */
#define CHECK_ERR(expr, code, needle)                                                              \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        const char *m_ = parley_last_error();                                                      \
        if (rc_ != (code) || !strstr(m_, needle)) {                                                \
            fprintf(stderr, "%s:%d: %s = %d (%s), want %d (%s) with \"%s\"\n", __FILE__, __LINE__, \
                    #expr, rc_, m_, (code), parley_strerror(code), needle);                        \
            failed = 1;                                                                            \
        }                                                                                          \
    } while (0)

static uint64_t rnd(void) { /* splitmix64 */
    uint64_t z = (seed_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A random input of the model's shape, values in [-1, 1) and a few edge
 * values (0, -1, the largest below 1). */
static float *random_input(parley_tensor *x, const parley_model *m) {
    parley_model_info info = {.size = sizeof info};
    if (parley_model_describe(m, &info) != PARLEY_OK) return NULL;
    memset(x, 0, sizeof *x);
    x->rank = info.input_rank;
    size_t n = 1;
    for (unsigned i = 0; i < info.input_rank; i++)
        n *= (x->shape[i] = info.input_shape[i]);
    float *d = malloc(n * sizeof *d);
    for (size_t i = 0; i < n; i++)
        d[i] = (float)((double)(rnd() >> 11) / 9007199254740992.0 * 2 - 1);
    d[0] = 0;
    if (n > 2) d[1] = -1, d[2] = 0.99999f;
    x->data = d;
    x->count = n;
    return d;
}

static parley_model *load(int mode, int ot, unsigned threads, int reveal) {
    parley_model_opts o;
    parley_model_opts_init(&o);
    o.mode = mode;
    o.ot = ot;
    o.threads = threads;
    o.reveal = reveal;
    parley_model *m = NULL;
    int rc = parley_model_load(&m, DIGITS, &o);
    CHECK(rc == PARLEY_OK && m);
    return m;
}

/* ---- a server in a thread ---- */

typedef struct served {
    parley_server *srv;
    pthread_t t;
    int rc, fd;
    parley_report rep;
    char msg[512]; /* the serve call's message */
} served;

static void *serve_main(void *v) {
    served *s = v;
    s->rc = s->fd >= 0 ? parley_server_serve_connection(s->srv, s->fd, "test peer", &s->rep)
                       : parley_server_serve_one(s->srv, &s->rep);
    snprintf(s->msg, sizeof s->msg, "%s", parley_last_error());
    return NULL;
}

static void serve_start(served *s, parley_server *srv, int fd) {
    memset(s, 0, sizeof *s);
    s->srv = srv;
    s->fd = fd;
    pthread_create(&s->t, NULL, serve_main, s);
}

static int same_ring(const parley_tensor *a, const parley_tensor *b) {
    if (a->count != b->count || a->rank != b->rank || a->scale != b->scale) return 0;
    if (memcmp(a->shape, b->shape, a->rank * sizeof a->shape[0])) return 0;
    if (memcmp(a->ring, b->ring, a->count * sizeof *a->ring)) return 0;
    for (size_t i = 0; i < a->count; i++) /* data is ring / 2^scale */
        if (a->data[i] != b->data[i] || a->data[i] != (float)ldexp((double)a->ring[i], -(int)a->scale))
            return 0;
    return 1;
}

/* One secure session of m over loopback against plain: bit-exact, and
 * (IKNP) the bytes both ways equal the prediction. */
/* The leaves' OT the sessions of secure_vs_plain must report (both sides,
 * and in the client's JSON). */
static int want_leaves = PARLEY_LEAVES_COT;
/* The client's options in secure_vs_plain (NULL: the defaults). */
static const parley_client_opts *vs_client;

static void secure_vs_plain(parley_model *m, int check_bytes, const parley_server_opts *so) {
    parley_tensor x, ref = {0}, y = {0};
    float *d = random_input(&x, m);
    CHECK(d != NULL);
    if (!d) return;
    CHECK(parley_plain(m, &x, &ref) == PARLEY_OK);
    parley_server *srv = NULL;
    int port = 0;
    CHECK(parley_server_new(&srv, m, so) == PARLEY_OK);
    CHECK(parley_server_listen(srv, "127.0.0.1", 0, &port) == PARLEY_OK);
    CHECK(port > 0);
    served s;
    serve_start(&s, srv, -1);
    parley_report rep = {0};
    int rc = parley_infer("127.0.0.1", port, &x, &y, &rep, vs_client);
    pthread_join(s.t, NULL);
    CHECK(rc == PARLEY_OK);
    CHECK(s.rc == PARLEY_OK);
    CHECK(same_ring(&y, &ref));
    parley_model_info info = {.size = sizeof info};
    CHECK(parley_model_describe(m, &info) == PARLEY_OK);
    const parley_cost *c = rep.mode == PARLEY_MODE_HE ? &info.he : &info.ot;
    CHECK(c->supported);
    if (check_bytes) {
        uint64_t wire = rep.bytes_sent + rep.bytes_recv;
        if (wire != c->bytes)
            fprintf(stderr, "the session moved %" PRIu64 " bytes, predicted %" PRIu64 "\n", wire,
                    c->bytes);
        CHECK(wire == c->bytes);
        CHECK(s.rep.bytes_sent == rep.bytes_recv && s.rep.bytes_recv == rep.bytes_sent);
    }
    /* each direction's bytes, with the silent COTs' batches whole as the
     * run makes them, equal the prediction's on either back-end */
    parley_prediction pr;
    CHECK(parley_model_predict(m, rep.mode, NULL, &pr) == PARLEY_OK);
    if (pr.client_sent_bytes != rep.bytes_sent || pr.server_sent_bytes != rep.bytes_recv)
        fprintf(stderr, "the client sent %" PRIu64 " and received %" PRIu64 " bytes, predicted %" PRIu64
                        " and %" PRIu64 "\n",
                rep.bytes_sent, rep.bytes_recv, pr.client_sent_bytes, pr.server_sent_bytes);
    CHECK(pr.client_sent_bytes == rep.bytes_sent && pr.server_sent_bytes == rep.bytes_recv);
    CHECK(pr.client_sent_bytes + pr.server_sent_bytes >= pr.bytes - pr.cot_making_bytes);
    parley_prediction_free(&pr);
    /* both sides' reports */
    CHECK(rep.role == PARLEY_ROLE_CLIENT && s.rep.role == PARLEY_ROLE_SERVER);
    CHECK(rep.leaves == want_leaves && s.rep.leaves == want_leaves);
    char js[8192];
    CHECK(parley_report_json(&rep, js, sizeof js) < (int)sizeof js);
    CHECK(strstr(js, want_leaves == PARLEY_LEAVES_VOLE4 ? "\"leaves\":\"vole4\""
                                                         : "\"leaves\":\"cot\"") != NULL);
    CHECK(rep.nlayers == info.layers && s.rep.nlayers == info.layers);
    CHECK(rep.bits == 37 && rep.scale == 12 && rep.rounds > 0 && rep.seconds > 0);
    CHECK(!strcmp(rep.transport, "plaintext"));
    CHECK(strstr(s.rep.peer, "127.0.0.1") != NULL);
    if (rep.mode == PARLEY_MODE_HE)
        CHECK(rep.statistical_bits >= 40 && fabs(rep.statistical_bits - info.he.statistical_bits) < 1e-9);
    parley_report_free(&rep);
    parley_report_free(&s.rep);
    parley_tensor_free(&y);
    parley_tensor_free(&ref);
    free(d);
    parley_server_free(srv);
}

/* ---- cases ---- */

static void case_secure_ot(void) {
    parley_model *m = load(PARLEY_MODE_OT, PARLEY_OT_IKNP, 1, PARLEY_REVEAL_LOGITS);
    if (m) secure_vs_plain(m, 1, NULL);
    parley_model_free(m);
}

static void case_secure_ot_silent(void) {
    parley_model *m = load(PARLEY_MODE_OT, PARLEY_OT_SILENT, 2, PARLEY_REVEAL_LOGITS);
    if (m) secure_vs_plain(m, 0, NULL); /* silent: COT batches are made where a lane runs short */
    parley_model_free(m);
}

/* The leaves on 4-bit VOLE (parley_model_opts.leaves), in both modes: the
 * output is plain's and each direction's bytes are the prediction's. */
static void case_secure_leaves_vole4(void) {
    for (int mode = PARLEY_MODE_OT; mode <= PARLEY_MODE_HE; mode++) {
        parley_model_opts o;
        parley_model_opts_init(&o);
        CHECK(o.leaves == PARLEY_LEAVES_COT);
        o.mode = mode;
        o.threads = 1;
        o.leaves = PARLEY_LEAVES_VOLE4;
        parley_model *m = NULL;
        CHECK(parley_model_load(&m, DIGITS, &o) == PARLEY_OK && m);
        want_leaves = PARLEY_LEAVES_VOLE4;
        if (m) secure_vs_plain(m, 0, NULL);
        want_leaves = PARLEY_LEAVES_COT;
        parley_model_free(m);
    }
}

/* parley_model_info.ot_memory: none with IKNP; with 4-bit VOLE leaves
 * about 233 MiB per lane on the default set, lanes times one lane's; and
 * it is what a client counts against max_model_memory: a cap under it is
 * refused naming the pools, one 64 MiB over it runs. */
static void case_ot_memory(void) {
    uint64_t one = 0;
    for (int mode = PARLEY_MODE_OT; mode <= PARLEY_MODE_HE; mode++)
        for (unsigned t = 1; t <= 3; t += 2)
            for (int k = 0; k < 3; k++) { /* IKNP, silent on COTs, silent with vole4 leaves */
                parley_model_opts o;
                parley_model_opts_init(&o);
                o.mode = mode;
                o.threads = t;
                o.ot = k ? PARLEY_OT_SILENT : PARLEY_OT_IKNP;
                o.leaves = k == 2 ? PARLEY_LEAVES_VOLE4 : PARLEY_LEAVES_COT;
                parley_model *m = NULL;
                CHECK(parley_model_load(&m, DIGITS, &o) == PARLEY_OK && m);
                if (!m) continue;
                parley_model_info info = {.size = sizeof info};
                CHECK(parley_model_describe_brief(m, &info) == PARLEY_OK);
                if (k == 0) CHECK(info.ot_memory == 0);
                /* COTs: at most the default set's 114 MiB a lane (a small
                 * session takes the small set) */
                if (k == 1)
                    CHECK(info.ot_memory > 0 && info.ot_memory <= t * ((uint64_t)115 << 20));
                if (k == 2 && t == 1) {
                    one = info.ot_memory;
                    CHECK(one > ((uint64_t)200 << 20) && one < ((uint64_t)260 << 20));
                }
                if (k == 2 && t == 3) CHECK(info.ot_memory == 3 * one);
                parley_model_free(m);
            }
    /* a client's cap: under the pools refused, naming them; 64 MiB over
     * them the session runs (secure_vs_plain's checks) */
    parley_model_opts o;
    parley_model_opts_init(&o);
    o.threads = 1;
    o.leaves = PARLEY_LEAVES_VOLE4;
    parley_model *m = NULL;
    CHECK(parley_model_load(&m, DIGITS, &o) == PARLEY_OK && m);
    if (!m) return;
    parley_model_info info = {.size = sizeof info};
    CHECK(parley_model_describe_brief(m, &info) == PARLEY_OK);
    parley_client_opts co;
    parley_client_opts_init(&co);
    co.max_model_memory = info.ot_memory;
    parley_tensor x, y = {0};
    float *d = random_input(&x, m);
    parley_server *srv = NULL;
    int port = 0;
    CHECK(parley_server_new(&srv, m, NULL) == PARLEY_OK);
    CHECK(parley_server_listen(srv, "127.0.0.1", 0, &port) == PARLEY_OK);
    served s;
    serve_start(&s, srv, -1);
    CHECK_ERR(parley_infer("127.0.0.1", port, &x, &y, NULL, &co), PARLEY_E_LIMIT, "OT pools");
    pthread_join(s.t, NULL);
    CHECK(s.rc != PARLEY_OK);
    parley_report_free(&s.rep);
    free(d);
    parley_server_free(srv);
    co.max_model_memory = info.ot_memory + ((uint64_t)64 << 20);
    vs_client = &co;
    want_leaves = PARLEY_LEAVES_VOLE4;
    secure_vs_plain(m, 0, NULL);
    want_leaves = PARLEY_LEAVES_COT;
    vs_client = NULL;
    parley_model_free(m);
}

static void case_secure_he(void) {
    parley_model *m = load(PARLEY_MODE_HE, PARLEY_OT_IKNP, 2, PARLEY_REVEAL_LOGITS);
    if (!m) return;
    /* the default weight cache holds this whole model; off, none of it */
    parley_server *srv = NULL;
    uint64_t b = 1, all = 0;
    unsigned nl = 0, nall = 0;
    double sec = -1;
    CHECK(parley_server_new(&srv, m, NULL) == PARLEY_OK);
    parley_server_he_cache(srv, &b, &all, &nl, &nall, &sec);
    CHECK(all > 0 && b == all && nall >= 2 && nl == nall && sec >= 0);
    parley_server_free(srv);
    secure_vs_plain(m, 1, NULL);
    parley_server_opts so;
    parley_server_opts_init(&so);
    CHECK(so.he_weight_cache_mib == 512);
    so.he_weight_cache_mib = 0;
    CHECK(parley_server_new(&srv, m, &so) == PARLEY_OK);
    uint64_t all0 = 0;
    parley_server_he_cache(srv, &b, &all0, &nl, NULL, NULL);
    CHECK(b == 0 && nl == 0 && all0 == all);
    parley_server_free(srv);
    secure_vs_plain(m, 1, &so);
    parley_model_free(m);
    /* OT mode makes none */
    m = load(PARLEY_MODE_OT, PARLEY_OT_IKNP, 1, PARLEY_REVEAL_LOGITS);
    if (!m) return;
    CHECK(parley_server_new(&srv, m, NULL) == PARLEY_OK);
    parley_server_he_cache(srv, &b, &all, &nl, &nall, NULL);
    CHECK(b == 0 && all == 0 && nl == 0 && nall == 0);
    parley_server_free(srv);
    parley_model_free(m);
}

static void case_secure_label(void) {
    parley_model *m = load(PARLEY_MODE_OT, PARLEY_OT_IKNP, 1, PARLEY_REVEAL_LABEL);
    if (!m) return;
    parley_tensor x, ref = {0};
    float *d = random_input(&x, m);
    CHECK(parley_plain(m, &x, &ref) == PARLEY_OK);
    CHECK(ref.count == 1 && ref.rank == 2 && ref.shape[1] == 1 && ref.scale == 0);
    CHECK(ref.ring[0] >= 0 && ref.ring[0] < 10 && ref.data[0] == (float)ref.ring[0]);
    /* the label is the first maximum of the logits */
    parley_model *ml = load(PARLEY_MODE_OT, PARLEY_OT_IKNP, 1, PARLEY_REVEAL_LOGITS);
    parley_tensor lg = {0};
    CHECK(parley_plain(ml, &x, &lg) == PARLEY_OK);
    int64_t best = 0;
    for (size_t i = 1; i < lg.count; i++)
        if (lg.ring[i] > lg.ring[best]) best = (int64_t)i;
    CHECK(ref.ring[0] == best);
    parley_tensor_free(&lg);
    parley_model_free(ml);
    parley_tensor_free(&ref);
    free(d);
    secure_vs_plain(m, 1, NULL);
    parley_model_free(m);
}

/* An application's own socket on both sides (a socketpair). */
static void case_serve_connection(void) {
    parley_model *m = load(PARLEY_MODE_OT, PARLEY_OT_SILENT, 1, PARLEY_REVEAL_LOGITS);
    if (!m) return;
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    parley_server *srv;
    CHECK(parley_server_new(&srv, m, NULL) == PARLEY_OK);
    parley_tensor x, ref = {0}, y = {0};
    float *d = random_input(&x, m);
    CHECK(parley_plain(m, &x, &ref) == PARLEY_OK);
    served s;
    serve_start(&s, srv, sv[0]);
    parley_report rep = {0};
    CHECK(parley_infer_fd(sv[1], NULL, &x, &y, &rep, NULL) == PARLEY_OK);
    pthread_join(s.t, NULL);
    CHECK(s.rc == PARLEY_OK);
    CHECK(!strcmp(s.rep.peer, "test peer"));
    CHECK(same_ring(&y, &ref));
    /* the sockets were taken: both are closed */
    CHECK(close(sv[0]) != 0 && close(sv[1]) != 0);
    parley_report_free(&rep);
    parley_report_free(&s.rep);
    parley_tensor_free(&y);
    parley_tensor_free(&ref);
    free(d);
    parley_server_free(srv);
    parley_model_free(m);
}

/* Two clients at once, each served by its own thread of one server. */
typedef struct client_run {
    int port, rc;
    parley_tensor *x, *y;
    pthread_t t;
    parley_report *rep; /* may be NULL */
    char msg[512];
} client_run;

static void *client_main(void *v) {
    client_run *c = v;
    c->rc = parley_infer("127.0.0.1", c->port, c->x, c->y, c->rep, NULL);
    snprintf(c->msg, sizeof c->msg, "%s", parley_last_error());
    return NULL;
}

static void case_concurrent(void) {
    parley_model *m = load(PARLEY_MODE_OT, PARLEY_OT_IKNP, 1, PARLEY_REVEAL_LOGITS);
    if (!m) return;
    parley_server *srv;
    int port = 0;
    CHECK(parley_server_new(&srv, m, NULL) == PARLEY_OK);
    CHECK(parley_server_listen(srv, NULL, 0, &port) == PARLEY_OK);
    served s[2];
    serve_start(&s[0], srv, -1);
    serve_start(&s[1], srv, -1);
    parley_tensor x[2], ref[2] = {{0}}, y[2] = {{0}};
    float *d[2];
    client_run c[2];
    for (int k = 0; k < 2; k++) {
        d[k] = random_input(&x[k], m);
        CHECK(parley_plain(m, &x[k], &ref[k]) == PARLEY_OK);
        c[k] = (client_run){.port = port, .x = &x[k], .y = &y[k]};
    }
    for (int k = 0; k < 2; k++)
        pthread_create(&c[k].t, NULL, client_main, &c[k]);
    for (int k = 0; k < 2; k++) {
        pthread_join(c[k].t, NULL);
        pthread_join(s[k].t, NULL);
    }
    for (int k = 0; k < 2; k++) {
        CHECK(c[k].rc == PARLEY_OK && s[k].rc == PARLEY_OK);
        CHECK(same_ring(&y[k], &ref[k]));
        parley_report_free(&s[k].rep);
        parley_tensor_free(&y[k]);
        parley_tensor_free(&ref[k]);
        free(d[k]);
    }
    parley_server_free(srv);
    parley_model_free(m);
}

/* parley_server_stop from another thread wakes a waiting serve call, and
 * every later call returns PARLEY_E_STOPPED at once; parley_server_serve
 * returns it too, after reporting each session to on_session. */
typedef struct seen {
    int sessions, last;
} seen;

static void on_session(void *ctx, int status, const parley_report *r) {
    seen *s = ctx;
    s->sessions++;
    s->last = status;
    (void)r;
}

static void *stop_later(void *v) {
    served *s = v;
    usleep(100 * 1000);
    parley_server_stop(s->srv);
    return NULL;
}

static void *serve_all(void *v) {
    served *s = v;
    s->rc = parley_server_serve(s->srv);
    return NULL;
}

static void case_stop(void) {
    parley_model *m = load(PARLEY_MODE_OT, PARLEY_OT_IKNP, 1, PARLEY_REVEAL_LOGITS);
    if (!m) return;
    parley_server *srv;
    int port = 0;
    CHECK(parley_server_new(&srv, m, NULL) == PARLEY_OK);
    CHECK_ERR(parley_server_serve_one(srv, NULL), PARLEY_E_ARG, "parley_server_listen first");
    CHECK(parley_server_listen(srv, "127.0.0.1", 0, &port) == PARLEY_OK);
    CHECK_ERR(parley_server_listen(srv, "127.0.0.1", 0, &port), PARLEY_E_ARG, "already listening");
    served s;
    serve_start(&s, srv, -1);
    usleep(100 * 1000);
    parley_server_stop(srv);
    pthread_join(s.t, NULL);
    CHECK(s.rc == PARLEY_E_STOPPED);
    CHECK_ERR(parley_server_serve_one(srv, NULL), PARLEY_E_STOPPED, "stopped");
    parley_server_free(srv);

    /* serve until stopped: a session whose input does not fit goes to
     * on_session with the client's refusal, and the server goes on */
    seen sn = {0, 0};
    parley_server_opts so;
    parley_server_opts_init(&so);
    so.on_session = on_session;
    so.on_session_ctx = &sn;
    CHECK(parley_server_new(&srv, m, &so) == PARLEY_OK);
    CHECK(parley_server_listen(srv, "127.0.0.1", 0, &port) == PARLEY_OK);
    memset(&s, 0, sizeof s);
    s.srv = srv;
    pthread_create(&s.t, NULL, serve_all, &s);
    float v[3] = {0, 0, 0};
    parley_tensor bad = {.rank = 1, .shape = {3}, .data = v}, y = {0};
    CHECK_ERR(parley_infer("127.0.0.1", port, &bad, &y, NULL, NULL), PARLEY_E_MISMATCH,
              "the input has shape [3], the model expects [1,1,8,8]");
    CHECK(y.data == NULL && y.ring == NULL);
    for (int i = 0; i < 100 && sn.sessions < 1; i++) /* the server notes the refusal */
        usleep(20 * 1000);
    parley_server_stop(srv);
    pthread_join(s.t, NULL);
    CHECK(s.rc == PARLEY_E_STOPPED);
    CHECK(sn.sessions == 1 && sn.last == PARLEY_E_MISMATCH);
    parley_server_free(srv);
    parley_model_free(m);
}


/* Stopping while a session runs. parley_server_stop lets it finish: the
 * client's output is exact, the serve call returns PARLEY_OK and the next
 * one PARLEY_E_STOPPED. parley_server_abort ends it at once: both sides
 * fail, the serve call returns PARLEY_E_STOPPED naming the abort, within
 * seconds. The client's progress callback (called after each layer) stops
 * the server after the first layer, so the stop falls inside the session. */
typedef struct stopper {
    parley_server *srv;
    int abort;
    unsigned calls, last, layers;
} stopper;

static void stop_in_progress(void *ctx, unsigned layer, unsigned layers, const char *kind,
                             const char *name, double seconds, uint64_t bytes) {
    stopper *st = ctx;
    if (st->calls++ == 0) {
        if (st->abort)
            parley_server_abort(st->srv);
        else
            parley_server_stop(st->srv);
    }
    st->last = layer;
    st->layers = layers;
    CHECK(kind && kind[0] && name && seconds >= 0 && bytes > 0);
}

static void case_stop_now(void) {
    parley_model *m = load(PARLEY_MODE_OT, PARLEY_OT_IKNP, 1, PARLEY_REVEAL_LOGITS);
    if (!m) return;
    parley_tensor x, ref = {0};
    float *d = random_input(&x, m);
    CHECK(parley_plain(m, &x, &ref) == PARLEY_OK);
    for (int ab = 0; ab < 2; ab++) {
        parley_server *srv = NULL;
        int port = 0;
        CHECK(parley_server_new(&srv, m, NULL) == PARLEY_OK);
        CHECK(parley_server_listen(srv, "127.0.0.1", 0, &port) == PARLEY_OK);
        stopper st = {.srv = srv, .abort = ab};
        parley_client_opts co;
        parley_client_opts_init(&co);
        co.progress = stop_in_progress;
        co.progress_ctx = &st;
        served s;
        serve_start(&s, srv, -1);
        parley_tensor y = {0};
        parley_report rep = {0};
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int rc = parley_infer("127.0.0.1", port, &x, &y, &rep, &co);
        pthread_join(s.t, NULL);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double sec = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
        CHECK(st.calls >= 1 && st.layers == 15);
        if (!ab) { /* graceful: the session finished, exact, every layer reported */
            CHECK(rc == PARLEY_OK && s.rc == PARLEY_OK);
            CHECK(same_ring(&y, &ref));
            CHECK(st.calls == 15 && st.last == 14);
        } else { /* now: both ended, well before the last layer */
            CHECK(rc < 0 && y.data == NULL && y.ring == NULL);
            CHECK(s.rc == PARLEY_E_STOPPED && strstr(s.msg, "parley_server_abort"));
            CHECK(st.calls < 15);
            CHECK(sec < 10);
            if (s.rc != PARLEY_E_STOPPED)
                fprintf(stderr, "abort: server %d (%s), client %d\n", s.rc, s.msg, rc);
        }
        CHECK_ERR(parley_server_serve_one(srv, NULL), PARLEY_E_STOPPED, "stopped");
        parley_report_free(&rep);
        parley_report_free(&s.rep);
        parley_tensor_free(&y);
        parley_server_free(srv);
    }
    parley_tensor_free(&ref);
    free(d);
    parley_model_free(m);
}

/* JSON text of a report, or NULL. */
static char *report_json(const parley_report *r) {
    int n = parley_report_json(r, NULL, 0);
    CHECK(n > 2);
    if (n <= 2) return NULL;
    char *b = malloc((size_t)n + 1);
    CHECK(parley_report_json(r, b, (size_t)n + 1) == n && (int)strlen(b) == n);
    return b;
}

/* An application's own accept loop: parley_server_accept (with a timeout,
 * and woken by a stop), a refusal with a line the client gets, a session
 * on the accepted socket; both reports carry what `parley infer --json`
 * printed (the same keys) and the session's totals on the connection. */
static void case_accept_refuse(void) {
    parley_model *m = load(PARLEY_MODE_HE, PARLEY_OT_SILENT, 2, PARLEY_REVEAL_LOGITS);
    if (!m) return;
    parley_server *srv = NULL;
    int port = 0, fd = -1;
    char peer[64];
    CHECK(parley_server_new(&srv, m, NULL) == PARLEY_OK);
    CHECK(parley_server_fd(srv) == -1);
    CHECK_ERR(parley_server_accept(srv, &fd, peer, sizeof peer, 0), PARLEY_E_ARG,
              "parley_server_listen first");
    CHECK(parley_server_listen(srv, "127.0.0.1", 0, &port) == PARLEY_OK);
    CHECK(parley_server_fd(srv) >= 0);
    CHECK_ERR(parley_server_accept(srv, &fd, peer, sizeof peer, 50), PARLEY_E_TIMEOUT,
              "no client within 50 ms");
    CHECK(fd == -1);
    parley_tensor x, ref = {0}, y = {0};
    float *d = random_input(&x, m);
    CHECK(parley_plain(m, &x, &ref) == PARLEY_OK);
    /* refused with a line */
    client_run c = {.port = port, .x = &x, .y = &y};
    pthread_create(&c.t, NULL, client_main, &c);
    CHECK(parley_server_accept(srv, &fd, peer, sizeof peer, 10000) == PARLEY_OK);
    CHECK(fd >= 0 && !strncmp(peer, "127.0.0.1:", 10));
    CHECK(parley_server_refuse_connection(srv, fd, "server busy: 3 running, try again", 0) ==
          PARLEY_OK);
    pthread_join(c.t, NULL);
    CHECK(c.rc < 0 && strstr(c.msg, "server busy: 3 running, try again") && y.data == NULL);
    /* served on the accepted socket */
    parley_report crep = {0};
    c = (client_run){.port = port, .x = &x, .y = &y, .rep = &crep};
    pthread_create(&c.t, NULL, client_main, &c);
    CHECK(parley_server_accept(srv, &fd, peer, sizeof peer, -1) == PARLEY_OK);
    served s;
    serve_start(&s, srv, fd);
    pthread_join(c.t, NULL);
    pthread_join(s.t, NULL);
    CHECK(c.rc == PARLEY_OK && s.rc == PARLEY_OK && same_ring(&y, &ref));
    const parley_report *sr = &s.rep;
    CHECK(crep.batch == 1 && sr->batch == 1);
    CHECK(crep.computational_bits == 128 && sr->computational_bits == 128);
    CHECK(crep.macs > 0 && crep.macs == sr->macs && crep.relus == sr->relus);
    /* the connection's totals: more than the inference's, and what one
     * side sent the other received */
    CHECK(sr->link_bytes_sent > sr->bytes_sent + sr->setup_bytes / 4);
    CHECK(crep.link_bytes_recv == sr->link_bytes_sent);
    CHECK(crep.link_bytes_sent == sr->link_bytes_recv);
    if (crep.link_bytes_recv != sr->link_bytes_sent)
        fprintf(stderr, "link bytes: client received %" PRIu64 ", server sent %" PRIu64 "\n",
                crep.link_bytes_recv, sr->link_bytes_sent);
    /* JSON: the keys parley infer --json printed, by the party that sent */
    char *cj = report_json(&crep), *sj = report_json(sr);
    static const char *const keys[] = {
        "\"mode\":\"he\"", "\"ot\":\"silent\"", "\"bits\":37", "\"scale\":12", "\"threads\":2",
        "\"seconds\":", "\"setup_seconds\":", "\"bytes_server\":", "\"bytes_client\":",
        "\"rounds\":", "\"critical_flights\":", "\"setup_bytes\":", "\"transport\":\"plaintext\"",
        "\"frame_bytes\":", "\"stash_peak_bytes\":", "\"layers_count\":15", "\"macs\":",
        "\"relus\":", "\"server_seconds\":", "\"computational_bits\":128", "\"batch\":1",
        "\"layers\":[{\"kind\":\"conv\",\"op\":\"conv\",\"name\":", "\"bytes\":"};
    for (size_t i = 0; cj && sj && i < sizeof keys / sizeof *keys; i++) {
        if (!strstr(cj, keys[i]) || !strstr(sj, keys[i]))
            fprintf(stderr, "report JSON without %s\n", keys[i]);
        CHECK(strstr(cj, keys[i]) && strstr(sj, keys[i]));
    }
    char want[96];
    snprintf(want, sizeof want, "\"bytes_server\":%" PRIu64 ",\"bytes_client\":%" PRIu64 ",",
             crep.bytes_recv, crep.bytes_sent);
    CHECK(cj && strstr(cj, want) && sj && strstr(sj, want));
    CHECK(cj && strstr(cj, "\"flights_client\":") && sj && !strstr(sj, "\"flights_client\":"));
    CHECK(cj && strstr(cj, "\"statistical_bits\":4") &&
          strstr(cj, ",\"computational_bits\":128,"));
    free(cj);
    free(sj);
    /* a stop wakes a waiting accept */
    served w = {.srv = srv};
    pthread_create(&w.t, NULL, stop_later, &w);
    CHECK_ERR(parley_server_accept(srv, &fd, peer, sizeof peer, -1), PARLEY_E_STOPPED, "stopped");
    pthread_join(w.t, NULL);
    parley_report_free(&crep);
    parley_report_free(&s.rep);
    parley_tensor_free(&y);
    parley_tensor_free(&ref);
    free(d);
    parley_server_free(srv);
    parley_model_free(m);
}

/* The (bits, scale) rule of the command and the loader, one message. */
static void case_check_ring(void) {
    CHECK(parley_check_ring(37, 12) == PARLEY_OK);
    CHECK(parley_check_ring(64, 31) == PARLEY_OK);
    CHECK(parley_check_ring(8, 3) == PARLEY_OK);
    CHECK_ERR(parley_check_ring(37, 0), PARLEY_E_ARG, "s = 0 keeps no fraction");
    CHECK_ERR(parley_check_ring(8, 4), PARLEY_E_ARG, "scale s = 4 (--scale) is outside 1..3");
    CHECK_ERR(parley_check_ring(65, 12), PARLEY_E_ARG, "ring width l = 65 (--bits) is outside 8..64");
    CHECK_ERR(parley_check_ring(7, 1), PARLEY_E_ARG, "ring width l = 7");
}

/* The digits model at (bits, scale) with the default rest. */
static parley_model *load_at(unsigned bits, unsigned scale) {
    parley_model_opts o;
    parley_model_opts_init(&o);
    o.bits = bits;
    o.scale = scale;
    parley_model *m = NULL;
    CHECK(parley_model_load(&m, DIGITS, &o) == PARLEY_OK && m);
    return m;
}

static size_t argmax_of(const parley_tensor *t) {
    size_t b = 0;
    for (size_t i = 1; i < t->count; i++)
        if (t->data[i] > t->data[b]) b = i;
    return b;
}

/* parley_calibrate: on the digits model's samples it recommends the
 * smallest l among the candidates that meet the tolerance and every top-1;
 * the samples then run at it exactly (parley_plain checks every value) with
 * the labels of the most precise run; every layer keeps the margin. An
 * input times 1e4, which wraps at the default (37, 12), gets l > 37 and
 * runs there. Bad arguments are refused by name. */
static void case_calibrate(void) {
    parley_tensor x[2] = {{0}}, big = {0};
    CHECK(parley_tensor_load_npy(&x[0], PARLEY_SOURCE_DIR "/examples/digit-0.npy") == PARLEY_OK);
    CHECK(parley_tensor_load_npy(&x[1], PARLEY_SOURCE_DIR "/examples/digit-3.npy") == PARLEY_OK);
    CHECK(parley_tensor_load_npy(&big, PARLEY_SOURCE_DIR "/tests/data/digit-0x1e4.npy") ==
          PARLEY_OK);
    parley_calibrate_opts o;
    parley_calibrate_opts_init(&o);
    CHECK(o.size == sizeof o && o.margin == 2 && o.tolerance == 0.01 && o.smin == 4 &&
          o.smax == 24);
    parley_calibration c;
    int rc = parley_calibrate(&c, DIGITS, x, 2, NULL);
    CHECK(rc == PARLEY_OK);
    if (rc != PARLEY_OK) goto out;
    CHECK(parley_check_ring(c.bits, c.scale) == PARLEY_OK);
    CHECK(c.samples == 2 && c.rows == 2 && c.ncandidates == 21 && c.largest_output > 0);
    CHECK(c.recommended < c.ncandidates);
    CHECK(c.candidates[c.recommended].s == c.scale && c.candidates[c.recommended].bits == c.bits);
    CHECK(c.ref_scale >= c.scale && c.ref_scale <= 24);
    for (unsigned i = 0; i < c.ncandidates; i++) {
        const parley_calibrate_candidate *k = &c.candidates[i];
        CHECK(k->s == 4 + i);
        if (!k->ok) continue;
        CHECK(k->bits >= k->need + 2 && k->bits >= 2 * k->s + 2 && k->top1 <= 2);
        if (k->s == c.ref_scale) CHECK(k->error == 0 && k->top1 == 2);
        /* nothing smaller met the tolerance and every label */
        if (k->bits < c.bits) CHECK(k->error > 0.01 * c.largest_output || k->top1 < 2);
    }
    CHECK(c.candidates[c.recommended].error <= 0.01 * c.largest_output &&
          c.candidates[c.recommended].top1 == 2);
    parley_model *m = load_at(c.bits, c.scale), *ref = load_at(64, c.ref_scale);
    parley_model_info info = {.size = sizeof info};
    CHECK(m && parley_model_describe_brief(m, &info) == PARLEY_OK);
    CHECK(c.nlayers == info.layers && c.nlayers > 0);
    unsigned widest = 0;
    for (unsigned i = 0; i < c.nlayers; i++) {
        const parley_calibrate_layer *y = &c.layers[i];
        parley_layer_info li = {.size = sizeof li};
        CHECK(parley_model_layer(m, i, &li) == PARLEY_OK && !strcmp(li.kind, y->kind) &&
              !strcmp(li.name, y->name));
        CHECK(y->headroom == (int)c.bits - (int)y->bits && y->headroom >= 2);
        CHECK(y->max_abs >= 0 && y->bits >= 1);
        if (y->bits > widest) widest = y->bits;
    }
    CHECK(widest == c.candidates[c.recommended].need);
    for (int k = 0; k < 2 && m && ref; k++) {
        parley_tensor y = {0}, yr = {0};
        CHECK(parley_plain(m, &x[k], &y) == PARLEY_OK);
        CHECK(parley_plain(ref, &x[k], &yr) == PARLEY_OK);
        CHECK(y.count == yr.count && y.count > 0 && argmax_of(&y) == argmax_of(&yr));
        parley_tensor_free(&y);
        parley_tensor_free(&yr);
    }
    parley_model_free(m);
    parley_model_free(ref);
    parley_calibration_free(&c);
    CHECK(c.candidates == NULL && c.layers == NULL && c.bits == 0);

    /* The large input wraps at (37, 12); its recommendation holds it. */
    parley_model *def = load_at(37, 12);
    parley_tensor y = {0};
    CHECK_ERR(parley_plain(def, &big, &y), PARLEY_E_RANGE, "");
    parley_model_free(def);
    o.input_names = (const char *const[]){"digit-0x1e4.npy"};
    CHECK(parley_calibrate(&c, DIGITS, &big, 1, &o) == PARLEY_OK);
    CHECK(c.bits > 37 && parley_check_ring(c.bits, c.scale) == PARLEY_OK);
    m = load_at(c.bits, c.scale);
    CHECK(m && parley_plain(m, &big, &y) == PARLEY_OK);
    parley_tensor_free(&y);
    parley_model_free(m);
    parley_calibration_free(&c);

    /* Bad arguments. */
    CHECK_ERR(parley_calibrate(NULL, DIGITS, x, 2, NULL), PARLEY_E_ARG, "calibration");
    CHECK_ERR(parley_calibrate(&c, NULL, x, 2, NULL), PARLEY_E_ARG, "onnx_path");
    CHECK_ERR(parley_calibrate(&c, DIGITS, x, 0, NULL), PARLEY_E_ARG, "at least one");
    CHECK_ERR(parley_calibrate(&c, DIGITS, NULL, 1, NULL), PARLEY_E_ARG, "at least one");
    CHECK_ERR(parley_calibrate(&c, DIGITS, x, 65, NULL), PARLEY_E_ARG, "at most 64");
    CHECK_ERR(parley_calibrate(&c, "/nonexistent/cal.onnx", x, 1, NULL), PARLEY_E_IO, "cal.onnx");
    parley_calibrate_opts_init(&o);
    o.tolerance = 1;
    CHECK_ERR(parley_calibrate(&c, DIGITS, x, 1, &o), PARLEY_E_ARG, "tolerance");
    parley_calibrate_opts_init(&o);
    o.smin = 9, o.smax = 8;
    CHECK_ERR(parley_calibrate(&c, DIGITS, x, 1, &o), PARLEY_E_ARG, "smin <= smax");
    parley_calibrate_opts_init(&o);
    o.margin = 17;
    CHECK_ERR(parley_calibrate(&c, DIGITS, x, 1, &o), PARLEY_E_ARG, "margin");
    o.margin = 2;
    o.size = 0;
    CHECK_ERR(parley_calibrate(&c, DIGITS, x, 1, &o), PARLEY_E_ARG, "size");
    parley_tensor bad = x[0];
    bad.data = NULL;
    CHECK_ERR(parley_calibrate(&c, DIGITS, &bad, 1, NULL), PARLEY_E_ARG, "input 0");
    CHECK(c.candidates == NULL && c.layers == NULL && c.ncandidates == 0);
    parley_calibration_free(NULL);
out:
    parley_tensor_free(&x[0]);
    parley_tensor_free(&x[1]);
    parley_tensor_free(&big);
}

/* The server's check of its (l, s) on calibration samples
 * (parley_server_opts.calibration): at the default (37, 12) the digits
 * input times 1e4 wraps, and parley_server_new refuses with PARLEY_E_RANGE
 * naming the sample, the layer, the bits it is out by and exactly the pair
 * parley_calibrate recommends on the same samples; at that pair the
 * samples pass. A model loaded from bytes still refuses (no file to
 * calibrate: the message says to run calibrate). Unnamed samples are
 * numbered; bad arguments are refused by name. parley_calibrate skips the
 * candidate scales the importer refuses, with the reason. */
static void case_server_calibration(void) {
    parley_tensor x[2] = {{0}}, y = {0};
    CHECK(parley_tensor_load_npy(&x[0], PARLEY_SOURCE_DIR "/examples/digit-0.npy") == PARLEY_OK);
    CHECK(parley_tensor_load_npy(&x[1], PARLEY_SOURCE_DIR "/tests/data/digit-0x1e4.npy") ==
          PARLEY_OK);
    const char *names[2] = {"small.npy", "big.npy"};
    parley_calibrate_opts co;
    parley_calibrate_opts_init(&co);
    co.input_names = names;
    parley_calibration c;
    CHECK(parley_calibrate(&c, DIGITS, x, 2, &co) == PARLEY_OK);
    parley_model *def = load_at(37, 12), *rec = load_at(c.bits, c.scale);
    parley_server *s = (parley_server *)&y; /* overwritten with NULL on failure */
    parley_server_opts o;
    parley_server_opts_init(&o);
    CHECK(o.calibration == NULL && o.ncalibration == 0 && o.calibration_names == NULL);
    o.calibration = x;
    o.ncalibration = 2;
    o.calibration_names = names;
    char want[160];
    snprintf(want, sizeof want, "on the 2 samples parley calibrate recommends --bits %u --scale %u",
             c.bits, c.scale);
    if (def && rec) {
        CHECK_ERR(parley_server_new(&s, def, &o), PARLEY_E_RANGE,
                  "calibration sample 'big.npy' does not fit (l, s) = (37, 12): layer 0 '/0/Conv' "
                  "(conv)");
        CHECK(s == NULL);
        CHECK(strstr(parley_last_error(), want) != NULL);
        CHECK(strstr(parley_last_error(), "bits: the result would wrap around") != NULL);
        /* the first sample alone fits the default; both fit the recommendation */
        o.ncalibration = 1;
        CHECK(parley_server_new(&s, def, &o) == PARLEY_OK && s != NULL);
        parley_server_free(s);
        o.ncalibration = 2;
        CHECK(parley_server_new(&s, rec, &o) == PARLEY_OK && s != NULL);
        parley_server_free(s);
        CHECK(parley_plain(rec, &x[1], &y) == PARLEY_OK);
        parley_tensor_free(&y);
        /* unnamed: by index */
        o.calibration_names = NULL;
        CHECK_ERR(parley_server_new(&s, def, &o), PARLEY_E_RANGE, "calibration sample 1 does not fit");
        /* bad arguments */
        o.ncalibration = 65;
        CHECK_ERR(parley_server_new(&s, def, &o), PARLEY_E_ARG, "at most 64");
        o.ncalibration = 1;
        o.calibration = NULL;
        CHECK_ERR(parley_server_new(&s, def, &o), PARLEY_E_ARG, "calibration is NULL");
        parley_tensor bad = x[0];
        bad.data = NULL;
        o.calibration = &bad;
        CHECK_ERR(parley_server_new(&s, def, &o), PARLEY_E_ARG, "calibration sample 0");
        bad = x[0];
        bad.shape[2] = 4;
        bad.count = 0;
        CHECK_ERR(parley_server_new(&s, def, &o), PARLEY_E_ARG, "the model expects [1,1,8,8]");
    }
    /* From bytes: refused all the same, the message says what to run. */
    FILE *fp = fopen(DIGITS, "rb");
    static unsigned char buf[1 << 20];
    size_t len = fp ? fread(buf, 1, sizeof buf, fp) : 0;
    if (fp) fclose(fp);
    parley_model *b = NULL;
    CHECK(parley_model_load_bytes(&b, buf, len, NULL) == PARLEY_OK);
    o.calibration = x;
    o.ncalibration = 2;
    o.calibration_names = names;
    if (b) CHECK_ERR(parley_server_new(&s, b, &o), PARLEY_E_RANGE, "run parley calibrate");
    parley_model_free(b);
    parley_model_free(def);
    parley_model_free(rec);
    parley_calibration_free(&c);

    /* Candidates the importer refuses are skipped with the reason: batch.onnx's
     * last Gemm has weights up to 0.125, all 0 at s = 1 and 2. */
    parley_tensor xb = {0};
    CHECK(parley_tensor_load_npy(&xb, PARLEY_SOURCE_DIR "/tests/data/batch.input.npy") ==
          PARLEY_OK);
    parley_calibrate_opts_init(&co);
    co.smin = 1;
    co.smax = 8;
    CHECK(parley_calibrate(&c, PARLEY_SOURCE_DIR "/tests/data/batch.onnx", &xb, 1, &co) ==
          PARLEY_OK);
    CHECK(c.ncandidates == 8 && c.scale >= 3);
    for (unsigned i = 0; i < c.ncandidates; i++) {
        const parley_calibrate_candidate *k = &c.candidates[i];
        if (k->s <= 2)
            CHECK(!k->ok && strstr(k->why, "every weight rounds to 0 at scale s = ") != NULL);
        else
            CHECK(k->ok && k->why[0] == 0);
    }
    parley_calibration_free(&c);
    co.smax = 2;
    CHECK_ERR(parley_calibrate(&c, PARLEY_SOURCE_DIR "/tests/data/batch.onnx", &xb, 1, &co),
              PARLEY_E_UNSUPPORTED, "refused at every candidate scale s = 1..2");
    parley_tensor_free(&xb);
    parley_tensor_free(&x[0]);
    parley_tensor_free(&x[1]);
}

/* TLS 1.3 with the server's key pin, and a token. */
static void case_tls(void) {
    char dir[] = "/tmp/parley-api-tls-XXXXXX", cmd[512], f[4][256];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(cmd, sizeof cmd, "sh %s/tests/make-certs.sh %s", PARLEY_SOURCE_DIR, dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "tls: cannot make certificates (openssl)\n");
        failed = 1;
        return;
    }
    const char *names[4] = {"server.pem", "server.key", "token", "token2"};
    for (int i = 0; i < 4; i++)
        snprintf(f[i], sizeof f[i], "%s/%s", dir, names[i]);
    parley_model *m = load(PARLEY_MODE_OT, PARLEY_OT_SILENT, 1, PARLEY_REVEAL_LOGITS);
    parley_server_opts so;
    parley_server_opts_init(&so);
    so.tls_cert = f[0];
    so.tls_key = f[1];
    so.token_file = f[2];
    parley_server *srv;
    int port = 0;
    CHECK(parley_server_new(&srv, m, &so) == PARLEY_OK);
    CHECK(!strncmp(parley_server_pin(srv), "sha256:", 7) && strlen(parley_server_pin(srv)) == 71);
    CHECK(parley_server_listen(srv, "127.0.0.1", 0, &port) == PARLEY_OK);
    parley_tensor x, ref = {0}, y = {0};
    float *d = random_input(&x, m);
    CHECK(parley_plain(m, &x, &ref) == PARLEY_OK);
    parley_client_opts co;
    parley_client_opts_init(&co);
    co.tls_pin = parley_server_pin(srv);
    co.token_file = f[3]; /* the wrong token: refused, the server goes on */
    served s;
    serve_start(&s, srv, -1);
    CHECK_ERR(parley_infer("127.0.0.1", port, &x, &y, NULL, &co), PARLEY_E_AUTH, "token");
    pthread_join(s.t, NULL);
    CHECK(s.rc == PARLEY_E_AUTH);
    co.token_file = f[2];
    serve_start(&s, srv, -1);
    parley_report rep = {0};
    CHECK(parley_infer("127.0.0.1", port, &x, &y, &rep, &co) == PARLEY_OK);
    pthread_join(s.t, NULL);
    CHECK(s.rc == PARLEY_OK);
    CHECK(same_ring(&y, &ref));
    CHECK(!strncmp(rep.transport, "TLSv1.3", 7));
    parley_report_free(&rep);
    parley_report_free(&s.rep);
    parley_tensor_free(&y);
    parley_tensor_free(&ref);
    free(d);
    parley_server_free(srv);
    parley_model_free(m);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

/* Loading from bytes is loading from the file; describe and layers. */
static void case_model(void) {
    FILE *fp = fopen(DIGITS, "rb");
    CHECK(fp != NULL);
    if (!fp) return;
    static unsigned char buf[1 << 20];
    size_t len = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    parley_model *a = load(PARLEY_MODE_OT, PARLEY_OT_SILENT, 2, PARLEY_REVEAL_LOGITS), *b = NULL;
    CHECK(parley_model_load_bytes(&b, buf, len, NULL) == PARLEY_OK);
    if (!a || !b) return;
    parley_model_info ia = {.size = sizeof ia}, ib = {.size = sizeof ib};
    CHECK(parley_model_describe(a, &ia) == PARLEY_OK);
    CHECK(parley_model_describe(b, &ib) == PARLEY_OK);
    CHECK(!memcmp(&ia, &ib, offsetof(parley_model_info, input_name)));
    CHECK(!strcmp(ia.input_name, ib.input_name) && !strcmp(ia.output_name, ib.output_name));
    CHECK(ia.input_name[0] && ia.output_name[0]);
    CHECK(ia.layers == 15 && ia.bits == 37 && ia.scale == 12);
    CHECK(ia.input_rank == 4 && ia.input_shape[2] == 8 && ia.input_shape[3] == 8);
    CHECK(ia.output_rank == 2 && ia.output_shape[0] == 1 && ia.output_shape[1] == 10);
    CHECK(ia.macs > 0 && ia.relus > 0 && ia.params > 0 && ia.public_model_bytes > 0);
    CHECK(ia.ot.supported && ia.he.supported && ia.ot.bytes > 0 && ia.he.bytes > 0);
    CHECK(ia.ot.setup_bytes > 0 && ia.ot.critical_flights > 0 && ia.ot.statistical_bits == 0);
    CHECK(ia.he.statistical_bits >= 40);
    /* brief: the same but the predictions */
    parley_model_info br;
    memset(&br, 0xAB, sizeof br);
    br.size = sizeof br;
    CHECK(parley_model_describe_brief(a, &br) == PARLEY_OK);
    CHECK(!br.ot.supported && !br.he.supported && br.ot.bytes == 0 && br.he.why[0] == 0);
    br.ot = ia.ot;
    br.he = ia.he;
    CHECK(!memcmp(&br, &ia, sizeof br));
    /* the detailed prediction agrees with the description's */
    for (int mode = 0; mode < 2; mode++) {
        parley_prediction p;
        const parley_cost *c = mode ? &ia.he : &ia.ot;
        CHECK(parley_model_predict(a, mode ? PARLEY_MODE_HE : PARLEY_MODE_OT, NULL, &p) ==
              PARLEY_OK);
        CHECK(p.supported && p.bytes == c->bytes && p.setup_bytes == c->setup_bytes &&
              p.critical_flights == c->critical_flights && p.nlayers == 15 && !p.timed);
        uint64_t sum = p.input_bytes + p.label_bytes + p.reveal_bytes + p.cot_making_bytes, lin = 0;
        for (unsigned i = 0; i < p.nlayers; i++)
            sum += p.layer_bytes[i];
        lin = p.linear_bytes + p.nonlinear_bytes;
        CHECK(sum == p.bytes && lin + p.input_bytes + p.label_bytes + p.reveal_bytes +
                                        p.cot_making_bytes == p.bytes);
        CHECK(mode ? p.computational_bits == 128 && p.he_ring_n >= 4096 && p.he_log2_q > 100
                   : p.computational_bits == 0 && p.returned_coefficients == 0);
        parley_prediction_free(&p);
        CHECK(p.layer_bytes == NULL && p.nlayers == 0);
    }
    parley_link wan;
    CHECK(parley_link_parse(&wan, "wan") == PARLEY_OK && wan.rtt_ms == 80 && wan.mbytes_per_s == 40 &&
          wan.up_mbytes_per_s == 0 && wan.down_mbytes_per_s == 0);
    CHECK_ERR(parley_link_parse(&wan, "fast"), PARLEY_E_ARG, "fast");
    parley_link lan = {.rtt_ms = 0.8, .mbytes_per_s = 377};
    parley_prediction pl, pw;
    CHECK(parley_model_predict(a, PARLEY_MODE_OT, &lan, &pl) == PARLEY_OK);
    CHECK(parley_model_predict(a, PARLEY_MODE_OT, &wan, &pw) == PARLEY_OK);
    CHECK(pl.timed && pw.timed && pw.seconds > pl.seconds && pl.seconds > 0);
    CHECK(pw.latency_seconds > pl.latency_seconds && pw.compute_seconds == pl.compute_seconds);
    parley_prediction_free(&pl);
    parley_prediction_free(&pw);
    /* a link whose directions differ: "RTT,UP,DOWN", up the client's */
    parley_link as, same, upo, downo;
    CHECK(parley_link_parse(&as, "80,5,40") == PARLEY_OK && as.rtt_ms == 80 &&
          as.mbytes_per_s == 0 && as.up_mbytes_per_s == 5 && as.down_mbytes_per_s == 40);
    CHECK(parley_link_parse(&same, "80,40,40") == PARLEY_OK && same.mbytes_per_s == 40 &&
          same.up_mbytes_per_s == 0 && same.down_mbytes_per_s == 0);
    CHECK(parley_link_parse(&upo, "0,5,0") == PARLEY_OK && upo.mbytes_per_s == 0 &&
          upo.up_mbytes_per_s == 5 && upo.down_mbytes_per_s == 0);
    CHECK(parley_link_parse(&downo, "0,0,40") == PARLEY_OK && downo.up_mbytes_per_s == 0 &&
          downo.down_mbytes_per_s == 40);
    static const char *const badnet[] = {"80",     "80,",      "80,5,",  "80,5,40,1", "80,-5,40",
                                         "80,5,x", "80,5;40", ",5,40",  "80,,40",    "80,5,1e7"};
    for (unsigned i = 0; i < sizeof badnet / sizeof *badnet; i++)
        CHECK_ERR(parley_link_parse(&as, badnet[i]), PARLEY_E_ARG, badnet[i]);
    CHECK(parley_link_parse(&as, "80,5,40") == PARLEY_OK);
    for (int mode = 0; mode < 2; mode++) {
        int md = mode ? PARLEY_MODE_HE : PARLEY_MODE_OT;
        parley_prediction ps, pa, pu, pd, pv;
        CHECK(parley_model_predict(a, md, &same, &ps) == PARLEY_OK);
        CHECK(parley_model_predict(a, md, &wan, &pv) == PARLEY_OK);
        CHECK(parley_model_predict(a, md, &as, &pa) == PARLEY_OK);
        CHECK(parley_model_predict(a, md, &upo, &pu) == PARLEY_OK);
        CHECK(parley_model_predict(a, md, &downo, &pd) == PARLEY_OK);
        /* the same rate each way, spelt either way, is the same link */
        CHECK(ps.seconds == pv.seconds && ps.transfer_seconds == pv.transfer_seconds);
        /* one direction limited, the other not: the transfer is exactly
         * that direction's bytes over its rate, layer by layer or not */
        double tu = (double)pu.client_sent_bytes / 5e6, td = (double)pd.server_sent_bytes / 40e6;
        CHECK(fabs(pu.transfer_seconds - tu) <= 1e-9 * tu && tu > 0);
        CHECK(fabs(pd.transfer_seconds - td) <= 1e-9 * td && td > 0);
        /* a slower uplink: more than 40 MB/s each way, less than 5 */
        parley_link five = {.rtt_ms = 80, .mbytes_per_s = 5};
        parley_prediction p5;
        CHECK(parley_model_predict(a, md, &five, &p5) == PARLEY_OK);
        CHECK(pa.transfer_seconds > ps.transfer_seconds && pa.transfer_seconds < p5.transfer_seconds);
        CHECK(pa.transfer_seconds >= tu && pa.latency_seconds == ps.latency_seconds &&
              pa.compute_seconds == ps.compute_seconds);
        double sum = pa.compute_seconds + pa.transfer_seconds + pa.latency_seconds, lsum = 0;
        for (unsigned i = 0; i < pa.nlayers; i++)
            lsum += pa.layer_seconds[i];
        CHECK(fabs(pa.seconds - sum) <= 1e-9 * sum && lsum <= pa.seconds * (1 + 1e-9));
        parley_prediction *all[] = {&ps, &pa, &pu, &pd, &pv, &p5};
        for (unsigned i = 0; i < 6; i++)
            parley_prediction_free(all[i]);
    }
    parley_link badlinks[] = {{.rtt_ms = 80, .mbytes_per_s = 40, .up_mbytes_per_s = -1},
                              {.rtt_ms = 80, .mbytes_per_s = 40, .down_mbytes_per_s = NAN},
                              {.rtt_ms = INFINITY, .mbytes_per_s = 40},
                              {.rtt_ms = 80, .mbytes_per_s = -INFINITY}};
    for (unsigned i = 0; i < sizeof badlinks / sizeof *badlinks; i++) {
        CHECK_ERR(parley_model_predict(a, PARLEY_MODE_OT, &badlinks[i], &pl), PARLEY_E_ARG,
                  "finite, 0 or more");
        CHECK(pl.layer_bytes == NULL && !pl.timed);
    }
    CHECK_ERR(parley_model_predict(a, 7, NULL, &pl), PARLEY_E_ARG, "mode is 7");
    /* a caller built against an older, shorter info gets its part only */
    struct {
        parley_model_info i;
        unsigned char guard[8];
    } small;
    memset(&small, 0xAB, sizeof small);
    small.i.size = offsetof(parley_model_info, input_rank);
    CHECK(parley_model_describe(a, &small.i) == PARLEY_OK);
    CHECK(small.i.layers == 15 && small.i.input_rank == 0xABABABABu && small.guard[0] == 0xAB);
    uint64_t macs = 0;
    for (unsigned i = 0; i < ia.layers; i++) {
        parley_layer_info li = {.size = sizeof li};
        CHECK(parley_model_layer(a, i, &li) == PARLEY_OK);
        CHECK(li.kind && li.kind[0] && li.name && li.rank >= 1);
        macs += li.macs;
    }
    CHECK(macs == ia.macs);
    parley_layer_info li = {.size = sizeof li};
    CHECK_ERR(parley_model_layer(a, 15, &li), PARLEY_E_ARG, "the model has 15 layers");
    /* plain on both: the same ring values */
    parley_tensor x, ya = {0}, yb = {0};
    float *d = random_input(&x, a);
    CHECK(parley_plain(a, &x, &ya) == PARLEY_OK);
    CHECK(parley_plain(b, &x, &yb) == PARLEY_OK);
    CHECK(same_ring(&ya, &yb) && ya.count == 10 && ya.scale == 12);
    /* ... and a model at another width and scale gives values at its
     * scale, about the same values */
    parley_model_opts o;
    parley_model_opts_init(&o);
    o.bits = 28;
    o.scale = 8;
    parley_model *c = NULL;
    parley_tensor yc = {0};
    CHECK(parley_model_load(&c, DIGITS, &o) == PARLEY_OK);
    CHECK(parley_plain(c, &x, &yc) == PARLEY_OK);
    CHECK(yc.scale == 8 && yc.count == 10 && same_ring(&yc, &yc));
    for (size_t i = 0; i < yc.count && yc.ring; i++) /* the same values at 2^-8 precision */
        CHECK(fabs((double)yc.data[i] - (double)ya.data[i]) < 1.0);
    /* the reference is checked: on an input 10^4 times larger a value would
     * leave the ring (and wrap around in a secure run too), which is
     * PARLEY_E_RANGE naming the layer and the width it needs, never a
     * wrapped output */
    float *big = malloc(x.count * sizeof *big);
    for (size_t i = 0; i < x.count; i++)
        big[i] = x.data[i] * 1e4f;
    big[0] = 1e4f; /* at least one large value, whatever the seed */
    parley_tensor xb = x, yw = {0};
    xb.data = big;
    CHECK_ERR(parley_plain(a, &xb, &yw), PARLEY_E_RANGE, "the result would wrap around. Needs --bits");
    CHECK(yw.data == NULL && yw.ring == NULL);
    free(big);
    /* npy round trip */
    char path[] = "/tmp/parley-api-npy-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    parley_tensor back = {0};
    CHECK(parley_tensor_save_npy(&ya, path) == PARLEY_OK);
    CHECK(parley_tensor_load_npy(&back, path) == PARLEY_OK);
    CHECK(back.count == 10 && back.rank == 2 && !memcmp(back.data, ya.data, 10 * sizeof(float)));
    CHECK(back.ring == NULL);
    CHECK_ERR(parley_tensor_load_npy(&back, path), PARLEY_E_ARG, "already holds data");
    unlink(path);
    CHECK_ERR(parley_tensor_load_npy(&yc, path), PARLEY_E_ARG, "already holds data");
    parley_tensor_free(&back);
    CHECK_ERR(parley_tensor_load_npy(&back, path), PARLEY_E_IO, path);
    parley_tensor_free(&ya);
    parley_tensor_free(&yb);
    parley_tensor_free(&yc);
    free(d);
    parley_model_free(a);
    parley_model_free(b);
    parley_model_free(c);
}

/* Bad arguments: a status and a message naming what is wrong, never a
 * crash. */
static void case_bad_args(void) {
    parley_model *m = NULL;
    parley_model_opts o;
    CHECK_ERR(parley_model_load(NULL, DIGITS, NULL), PARLEY_E_ARG, "(m) is NULL");
    CHECK_ERR(parley_model_load(&m, NULL, NULL), PARLEY_E_ARG, "(onnx_path) is NULL");
    CHECK(m == NULL);
    CHECK_ERR(parley_model_load(&m, "/nonexistent/model.onnx", NULL), PARLEY_E_IO,
              "/nonexistent/model.onnx");
    CHECK(m == NULL);
    CHECK_ERR(parley_model_load(&m, PARLEY_SOURCE_DIR "/examples/digit-0.npy", NULL),
              PARLEY_E_FORMAT, "digit-0.npy");
    CHECK_ERR(parley_model_load_bytes(&m, NULL, 10, NULL), PARLEY_E_ARG, "NULL");
    CHECK_ERR(parley_model_load_bytes(&m, "x", 0, NULL), PARLEY_E_ARG, "empty");
    CHECK_ERR(parley_model_load_bytes(&m, "not a model", 11, NULL), PARLEY_E_FORMAT,
              "the ONNX model in memory");
    static const struct {
        const char *field;
        long v;
        const char *needle;
    } bad[] = {
        {"bits", 7, "bits (the ring width l) is 7"},
        {"bits", 65, "bits (the ring width l) is 65"},
        {"scale", 0, "scale (s) is 0: it must be 1..31"},
        {"scale", 32, "scale (s) is 32"},
        {"scale", 31, "scale 31 is too large for bits 37"},
        {"scale", 20, "scale 20 is too large for bits 37"},
        {"wbits", 38, "wbits is 38"},
        {"mode", 2, "mode is 2"},
        {"ot", -1, "ot is -1"},
        {"threads", 0, "threads is 0"},
        {"threads", 65, "threads is 65"},
        {"reveal", 3, "reveal is 3"},
        {"leaves", 2, "leaves is 2"},
        {"leaves", -1, "leaves is -1"},
        {"leaves_iknp", PARLEY_LEAVES_VOLE4, "needs ot = PARLEY_OT_SILENT"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        parley_model_opts_init(&o);
        const char *f = bad[i].field;
        long v = bad[i].v;
        if (!strcmp(f, "bits")) o.bits = (unsigned)v;
        if (!strcmp(f, "scale")) o.scale = (unsigned)v;
        if (!strcmp(f, "wbits")) o.wbits = (unsigned)v;
        if (!strcmp(f, "mode")) o.mode = (int)v;
        if (!strcmp(f, "ot")) o.ot = (int)v;
        if (!strcmp(f, "threads")) o.threads = (unsigned)v;
        if (!strcmp(f, "reveal")) o.reveal = (int)v;
        if (!strncmp(f, "leaves", 6)) o.leaves = (int)v;
        if (!strcmp(f, "leaves_iknp")) o.ot = PARLEY_OT_IKNP;
        CHECK_ERR(parley_model_load(&m, DIGITS, &o), PARLEY_E_ARG, bad[i].needle);
        CHECK(m == NULL);
    }
    /* the size field */
    memset(&o, 0, sizeof o);
    CHECK_ERR(parley_model_load(&m, DIGITS, &o), PARLEY_E_ARG, "parley_model_opts_init");
    struct {
        parley_model_opts o;
        int future;
    } newer;
    memset(&newer, 0, sizeof newer);
    parley_model_opts_init(&newer.o);
    newer.o.size = sizeof newer;
    newer.future = 1;
    CHECK_ERR(parley_model_load(&m, DIGITS, &newer.o), PARLEY_E_UNSUPPORTED, "does not know");
    newer.future = 0; /* unknown fields left zero: fine */
    CHECK(parley_model_load(&m, DIGITS, &newer.o) == PARLEY_OK);
    if (!m) return;
    CHECK(strcmp(parley_version(), PARLEY_VERSION_STRING) == 0);

    /* describe, plain */
    parley_model_info info = {.size = sizeof info};
    CHECK_ERR(parley_model_describe(NULL, &info), PARLEY_E_ARG, "(m) is NULL");
    CHECK_ERR(parley_model_describe(m, NULL), PARLEY_E_ARG, "info");
    info.size = 0;
    CHECK_ERR(parley_model_describe(m, &info), PARLEY_E_ARG, "sizeof(parley_model_info)");
    float v[64] = {0};
    parley_tensor x = {.rank = 4, .shape = {1, 1, 8, 8}, .data = v}, y = {0};
    CHECK_ERR(parley_plain(NULL, &x, &y), PARLEY_E_ARG, "(m) is NULL");
    CHECK_ERR(parley_plain(m, NULL, &y), PARLEY_E_ARG, "the input tensor is NULL");
    CHECK_ERR(parley_plain(m, &x, NULL), PARLEY_E_ARG, "the output tensor is NULL");
    parley_tensor nodata = x;
    nodata.data = NULL;
    CHECK_ERR(parley_plain(m, &nodata, &y), PARLEY_E_ARG, "data is NULL");
    parley_tensor wrong = {.rank = 2, .shape = {8, 8}, .data = v};
    CHECK_ERR(parley_plain(m, &wrong, &y), PARLEY_E_ARG,
              "the input has shape [8,8], the model expects [1,1,8,8]");
    wrong = (parley_tensor){.rank = 9, .data = v};
    CHECK_ERR(parley_plain(m, &wrong, &y), PARLEY_E_ARG, "rank 9");
    wrong = (parley_tensor){.rank = 4, .shape = {1, 1, 8, 8}, .count = 63, .data = v};
    CHECK_ERR(parley_plain(m, &wrong, &y), PARLEY_E_ARG, "count is 63");
    wrong = (parley_tensor){.rank = 4, .shape = {1, 0, 8, 8}, .data = v};
    CHECK_ERR(parley_plain(m, &wrong, &y), PARLEY_E_ARG, "the input tensor");
    v[5] = NAN;
    CHECK_ERR(parley_plain(m, &x, &y), PARLEY_E_ARG, "input element 5 is not finite");
    v[5] = 1e30f; /* does not fit in l bits: an error, never a wrapped value */
    CHECK_ERR(parley_plain(m, &x, &y), PARLEY_E_ARG, "input element 5 ");
    CHECK(y.data == NULL);
    v[5] = 0;
    CHECK(parley_plain(m, &x, &y) == PARLEY_OK);
    CHECK_ERR(parley_plain(m, &x, &y), PARLEY_E_ARG, "already holds data");
    parley_tensor_free(&y);
    parley_tensor_free(NULL);

    /* servers */
    parley_server *srv = NULL;
    parley_server_opts so;
    parley_server_opts_init(&so);
    CHECK_ERR(parley_server_new(NULL, m, NULL), PARLEY_E_ARG, "(s) is NULL");
    CHECK_ERR(parley_server_new(&srv, NULL, NULL), PARLEY_E_ARG, "(m) is NULL");
    so.tls_cert = "/nonexistent/cert.pem";
    CHECK_ERR(parley_server_new(&srv, m, &so), PARLEY_E_ARG, "tls_key is missing");
    so.tls_key = "/nonexistent/key.pem";
    CHECK(parley_server_new(&srv, m, &so) < 0);
    CHECK(strstr(parley_last_error(), "/nonexistent/") != NULL);
    parley_server_opts_init(&so);
    so.tls_client_ca = "/nonexistent/ca.pem";
    CHECK_ERR(parley_server_new(&srv, m, &so), PARLEY_E_ARG, "tls_client_ca needs tls_cert");
    parley_server_opts_init(&so);
    so.max_stash = 1000;
    CHECK_ERR(parley_server_new(&srv, m, &so), PARLEY_E_ARG, "max_stash is 1000");
    CHECK(srv == NULL);
    CHECK(parley_server_new(&srv, m, NULL) == PARLEY_OK);
    CHECK_ERR(parley_server_listen(NULL, NULL, 0, NULL), PARLEY_E_ARG, "(s) is NULL");
    CHECK_ERR(parley_server_listen(srv, NULL, 70000, NULL), PARLEY_E_ARG, "port 70000");
    CHECK_ERR(parley_server_listen(srv, "0.0.0.0", 0, NULL), PARLEY_E_ARG,
              "refusing to serve 0.0.0.0 in plaintext");
    CHECK_ERR(parley_server_serve_one(NULL, NULL), PARLEY_E_ARG, "(s) is NULL");
    CHECK_ERR(parley_server_serve(NULL), PARLEY_E_ARG, "(s) is NULL");
    CHECK_ERR(parley_server_serve_connection(srv, -1, NULL, NULL), PARLEY_E_ARG, "fd is -1");
    CHECK(!strcmp(parley_server_pin(srv), ""));
    parley_server_stop(NULL);
    parley_server_free(NULL);
    parley_server_free(srv);

    /* clients */
    parley_client_opts co;
    parley_client_opts_init(&co);
    CHECK_ERR(parley_infer(NULL, 1, &x, &y, NULL, NULL), PARLEY_E_ARG, "host is NULL");
    CHECK_ERR(parley_infer("127.0.0.1", 0, &x, &y, NULL, NULL), PARLEY_E_ARG, "port 0");
    CHECK_ERR(parley_infer("127.0.0.1", 1, NULL, &y, NULL, NULL), PARLEY_E_ARG,
              "the input tensor is NULL");
    CHECK_ERR(parley_infer("127.0.0.1", 1, &x, NULL, NULL, NULL), PARLEY_E_ARG,
              "the output tensor is NULL");
    CHECK_ERR(parley_infer("192.0.2.1", 7311, &x, &y, NULL, NULL), PARLEY_E_ARG,
              "refusing to connect to 192.0.2.1 in plaintext");
    co.tls_name = "localhost";
    CHECK_ERR(parley_infer("127.0.0.1", 1, &x, &y, NULL, &co), PARLEY_E_ARG,
              "need tls_ca or tls_pin");
    parley_client_opts_init(&co);
    co.tls_pin = "1234";
    CHECK_ERR(parley_infer("127.0.0.1", 1, &x, &y, NULL, &co), PARLEY_E_ARG, "64 hex digits");
    parley_client_opts_init(&co);
    co.connect_timeout_ms = 300;
    { /* a port nobody listens on */
        parley_server *tmp;
        int port = 0;
        CHECK(parley_server_new(&tmp, m, NULL) == PARLEY_OK);
        CHECK(parley_server_listen(tmp, NULL, 0, &port) == PARLEY_OK);
        parley_server_free(tmp);
        CHECK_ERR(parley_infer("127.0.0.1", port, &x, &y, NULL, &co), PARLEY_E_REFUSED,
                  "nobody is listening");
    }
    CHECK_ERR(parley_infer_fd(-1, NULL, &x, &y, NULL, NULL), PARLEY_E_ARG, "fd is -1");
    CHECK(y.data == NULL);

    /* reports */
    char buf[8];
    CHECK_ERR(parley_report_json(NULL, buf, sizeof buf), PARLEY_E_ARG, "report is NULL");
    parley_report r = {0};
    r.role = PARLEY_ROLE_CLIENT;
    snprintf(r.transport, sizeof r.transport, "a \"quoted\" name");
    int need = parley_report_json(&r, NULL, 0);
    CHECK(need > 0);
    CHECK_ERR(parley_report_json(&r, NULL, 5), PARLEY_E_ARG, "buf is NULL");
    CHECK(parley_report_json(&r, buf, sizeof buf) == need);
    CHECK(strlen(buf) == sizeof buf - 1 && !strncmp(buf, "{\"role\"", 7));
    char *full = malloc((size_t)need + 1);
    CHECK(parley_report_json(&r, full, (size_t)need + 1) == need && (int)strlen(full) == need);
    CHECK(strstr(full, "\"transport\":\"a \\\"quoted\\\" name\"") != NULL);
    CHECK(full[need - 1] == '}');
    free(full);
    parley_report_free(&r);
    parley_report_free(NULL);
    CHECK(!strcmp(parley_strerror(PARLEY_E_STOPPED), "the server was stopped"));
    parley_model_free(m);
    parley_model_free(NULL);
}

/* The error message is the calling thread's own. */
static void *fail_in_thread(void *v) {
    parley_model *m;
    (void)parley_model_load(&m, "/nonexistent/other.onnx", NULL);
    return v;
}

static void case_last_error_thread_local(void) {
    parley_model *m;
    CHECK_ERR(parley_model_load(&m, "/nonexistent/mine.onnx", NULL), PARLEY_E_IO, "mine.onnx");
    pthread_t t;
    pthread_create(&t, NULL, fail_in_thread, NULL);
    pthread_join(t, NULL);
    CHECK(strstr(parley_last_error(), "mine.onnx") != NULL);
}

static const struct {
    const char *name;
    void (*fn)(void);
} cases[] = {
    {"bad_args", case_bad_args},
    {"last_error_thread_local", case_last_error_thread_local},
    {"model", case_model},
    {"secure_ot", case_secure_ot},
    {"secure_ot_silent", case_secure_ot_silent},
    {"secure_leaves_vole4", case_secure_leaves_vole4},
    {"ot_memory", case_ot_memory},
    {"secure_he", case_secure_he},
    {"secure_label", case_secure_label},
    {"serve_connection", case_serve_connection},
    {"concurrent", case_concurrent},
    {"stop", case_stop},
    {"stop_now", case_stop_now},
    {"accept_refuse", case_accept_refuse},
    {"check_ring", case_check_ring},
    {"calibrate", case_calibrate},
    {"server_calibration", case_server_calibration},
    {"tls", case_tls},
};

int main(int argc, char **argv) {
    const char *e = getenv("PARLEY_TEST_SEED");
    uint64_t seed = e ? strtoull(e, NULL, 10) : 1;
    seed_state = seed;
    printf("test_api: seed %" PRIu64 " (replay: PARLEY_TEST_SEED=%" PRIu64 ")\n", seed, seed);
    int ran = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int want = argc < 2;
        for (int a = 1; a < argc; a++)
            want |= !strcmp(argv[a], cases[i].name);
        if (!want) continue;
        int before = failed;
        failed = 0;
        cases[i].fn();
        printf("%s %s\n", failed ? "FAIL" : "ok  ", cases[i].name);
        failed |= before;
        ran++;
    }
    if (!ran) {
        fprintf(stderr, "test_api: no case named %s\n", argc > 1 ? argv[1] : "");
        return 2;
    }
    return failed ? 1 : 0;
}
