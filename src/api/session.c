/* The public API (include/parley.h): reports, servers and clients, over
 * nn/session (one whole session per connection) and net/link, net/tls
 * (TLS 1.3, tokens, caps) — the same calls `parley serve` and `parley
 * infer` make. */
#include "api/api.h"

#include "he/he.h"
#include "net/link.h"
#include "nn/prep.h"
#include "nn/session.h"
#include "ot/lane.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/timer.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <math.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CONNECT_TIMEOUT_MS 10000

/* ---- reports ---- */

/* r from a session's result; net is the model the party ran (the client's
 * public copy, or the server's). */
static int report_fill(parley_report *r, int role, const session_result *s, const qnet *net) {
    memset(r, 0, sizeof *r);
    r->role = role;
    r->mode = (int)s->mode;
    r->ot = (int)s->ot;
    r->leaves = (int)s->leaves;
    r->reveal = (int)s->reveal;
    r->threads = s->lanes;
    if (net) {
        r->bits = net->l;
        r->scale = net->s;
    }
    const exec_report *e = &s->rep;
    r->seconds = e->seconds;
    r->setup_seconds = s->setup_seconds;
    r->bytes_sent = e->bytes_sent;
    r->bytes_recv = e->bytes_recv;
    r->setup_bytes = s->setup_bytes_sent + s->setup_bytes_recv;
    r->rounds = e->flights + (role == PARLEY_ROLE_CLIENT ? s->peer_flights : 0);
    r->critical_flights = e->critical_flights;
    r->frame_bytes = s->link.overhead_sent + s->link.overhead_recv;
    r->stash_peak_bytes = s->link.stash_peak;
    r->peer_seconds = s->peer_seconds;
    r->statistical_bits = s->mode == MODE_HE ? e->he_stat_bits : 0;
    snprintf(r->transport, sizeof r->transport, "%s", s->transport);
    snprintf(r->peer, sizeof r->peer, "%s", s->peer);
    r->batch = s->batch;
    r->link_bytes_sent = s->setup_bytes_sent + e->bytes_sent + s->link.overhead_sent;
    r->link_bytes_recv = s->setup_bytes_recv + e->bytes_recv + s->link.overhead_recv;
    r->computational_bits = s->mode == MODE_HE ? HE_COMP_BITS : 0;
    if (net) {
        qnet_stats st;
        qnet_stats_get(&st, net);
        r->macs = st.macs;
        r->relus = st.relus;
        r->softmax_dropped = net->softmax_dropped;
    }
    if (!net || !e->layers || e->nlayers != net->nlayers) return 0;
    r->layers = mem_calloc(e->nlayers ? e->nlayers : 1, sizeof *r->layers);
    if (!r->layers) return PARLEY_E_NOMEM;
    r->nlayers = e->nlayers;
    for (unsigned i = 0; i < e->nlayers; i++) {
        parley_layer_report *L = &r->layers[i];
        const exec_layer_stat *st = &e->layers[i];
        snprintf(L->kind, sizeof L->kind, "%s", qop_name(net->layers[i].op));
        snprintf(L->name, sizeof L->name, "%s", net->layers[i].name ? net->layers[i].name : "");
        L->seconds = st->seconds;
        L->bytes_sent = st->bytes;
        L->bytes_recv = st->bytes_recv;
        L->flights = st->flights;
        L->critical_flights = st->critical_flights;
    }
    return 0;
}

void parley_report_free(parley_report *r) {
    if (!r) return;
    mem_free(r->layers);
    memset(r, 0, sizeof *r);
}

/* A JSON text built into a caller's buffer, counting what does not fit. */
typedef struct jbuf {
    char *b;
    size_t cap, len;
} jbuf;

static void jb_printf(jbuf *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jb_printf(jbuf *j, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *at = j->len < j->cap ? j->b + j->len : NULL;
    int n = vsnprintf(at, at ? j->cap - j->len : 0, fmt, ap);
    va_end(ap);
    if (n > 0) j->len += (size_t)n;
}

static void jb_put(void *v, const char *p, size_t n) {
    jb_printf(v, "%.*s", (int)n, p);
}

static void jb_str(jbuf *j, const char *s) {
    json_str(jb_put, j, s);
}

/* The inference's bytes by the party that sent them: bytes_server and
 * bytes_client, from this party's sent and received. */
static void by_party(const parley_report *r, uint64_t sent, uint64_t recv, uint64_t *srv,
                     uint64_t *cli) {
    int client = r->role == PARLEY_ROLE_CLIENT;
    *srv = client ? recv : sent;
    *cli = client ? sent : recv;
}

int parley_report_json(const parley_report *r, char *buf, size_t cap) {
    if (!r) return err_set(PARLEY_E_ARG, "the report is NULL");
    if (!buf && cap) return err_set(PARLEY_E_ARG, "buf is NULL with cap %zu", cap);
    jbuf j = {.b = buf, .cap = cap};
    if (cap) buf[0] = 0;
    int client = r->role == PARLEY_ROLE_CLIENT;
    uint64_t bs, bc;
    by_party(r, r->bytes_sent, r->bytes_recv, &bs, &bc);
    jb_printf(&j,
              "{\"role\":\"%s\",\"mode\":\"%s\",\"ot\":\"%s\",\"leaves\":\"%s\","
              "\"reveal\":\"%s\",\"bits\":%u,"
              "\"scale\":%u,\"threads\":%u,\"batch\":%u,\"seconds\":%.6f,\"setup_seconds\":%.6f,"
              "\"bytes_sent\":%llu,\"bytes_recv\":%llu,\"bytes_server\":%llu,"
              "\"bytes_client\":%llu,\"setup_bytes\":%llu,\"rounds\":%llu,"
              "\"critical_flights\":%llu,\"frame_bytes\":%llu,\"stash_peak_bytes\":%llu,"
              "\"link_bytes_sent\":%llu,\"link_bytes_recv\":%llu,\"peer_seconds\":%.6f,"
              "\"server_seconds\":%.6f,\"layers_count\":%u,\"macs\":%llu,\"relus\":%llu,",
              client ? "client" : "server", r->mode == PARLEY_MODE_HE ? "he" : "ot",
              ot_backend_name(r->ot), r->leaves == PARLEY_LEAVES_VOLE4 ? "vole4" : "cot",
              r->reveal == PARLEY_REVEAL_LABEL ? "label" : "logits",
              r->bits, r->scale, r->threads, r->batch, r->seconds, r->setup_seconds,
              (unsigned long long)r->bytes_sent, (unsigned long long)r->bytes_recv,
              (unsigned long long)bs, (unsigned long long)bc, (unsigned long long)r->setup_bytes,
              (unsigned long long)r->rounds, (unsigned long long)r->critical_flights,
              (unsigned long long)r->frame_bytes, (unsigned long long)r->stash_peak_bytes,
              (unsigned long long)r->link_bytes_sent, (unsigned long long)r->link_bytes_recv,
              r->peer_seconds, client ? r->peer_seconds : r->seconds, r->nlayers,
              (unsigned long long)r->macs, (unsigned long long)r->relus);
    if (r->mode == PARLEY_MODE_HE) { /* infinite (nothing returned) is JSON's null */
        if (isfinite(r->statistical_bits))
            jb_printf(&j, "\"statistical_bits\":%.2f,", r->statistical_bits);
        else
            jb_printf(&j, "\"statistical_bits\":null,");
        jb_printf(&j, "\"computational_bits\":%u,", r->computational_bits);
    }
    jb_printf(&j, "\"softmax_dropped\":%s,\"transport\":", r->softmax_dropped ? "true" : "false");
    jb_str(&j, r->transport);
    jb_printf(&j, ",\"peer\":");
    jb_str(&j, r->peer);
    jb_printf(&j, ",\"layers\":[");
    for (unsigned i = 0; i < r->nlayers && r->layers; i++) {
        const parley_layer_report *L = &r->layers[i];
        by_party(r, L->bytes_sent, L->bytes_recv, &bs, &bc);
        jb_printf(&j, "%s{\"kind\":", i ? "," : "");
        jb_str(&j, L->kind);
        jb_printf(&j, ",\"op\":");
        jb_str(&j, L->kind);
        jb_printf(&j, ",\"name\":");
        jb_str(&j, L->name);
        jb_printf(&j,
                  ",\"seconds\":%.6f,\"bytes\":%llu,\"bytes_sent\":%llu,\"bytes_recv\":%llu,"
                  "\"bytes_server\":%llu,\"bytes_client\":%llu,\"flights\":%llu,"
                  "\"critical_flights\":%llu",
                  L->seconds, (unsigned long long)(L->bytes_sent + L->bytes_recv),
                  (unsigned long long)L->bytes_sent, (unsigned long long)L->bytes_recv,
                  (unsigned long long)bs, (unsigned long long)bc, (unsigned long long)L->flights,
                  (unsigned long long)L->critical_flights);
        if (client) jb_printf(&j, ",\"flights_client\":%llu", (unsigned long long)L->flights);
        jb_printf(&j, "}");
    }
    jb_printf(&j, "]}");
    if (j.len > (size_t)0x7fffffff) return err_set(PARLEY_E_NOMEM, "the report is too long");
    return (int)j.len;
}

/* ---- the link's options: TLS, token, caps ---- */

typedef struct link_cfg {
    link_opts lo;
    tls_ctx *tls;
    uint8_t tok[LINK_TOKEN_BYTES];
} link_cfg;

static void link_cfg_free(link_cfg *c) {
    tls_ctx_free(c->tls);
    mem_wipe(c->tok, sizeof c->tok);
    memset(c, 0, sizeof *c);
}

static int link_cfg_make(link_cfg *c, int server, const char *cert, const char *key,
                         const char *ca, const char *pin, const char *token_file,
                         size_t max_stash) {
    memset(c, 0, sizeof *c);
    if (max_stash && max_stash < LINK_MAX_STASH_MIN)
        return err_set(PARLEY_E_ARG, "max_stash is %zu bytes: at least %zu (16 MiB), or 0",
                       max_stash, (size_t)LINK_MAX_STASH_MIN);
    c->lo.max_stash = max_stash;
    int tls = server ? cert || key || ca : ca || pin;
    if (tls) {
        tls_opts t = {.server = server, .cert = cert, .key = key, .ca = ca, .pin = pin};
        int rc = tls_ctx_new(&c->tls, &t);
        if (rc < 0) {
            link_cfg_free(c);
            return rc;
        }
        c->lo.tls = c->tls;
    }
    if (token_file) {
        int rc = tls_token_file(c->tok, token_file);
        if (rc < 0) {
            link_cfg_free(c);
            return rc;
        }
        c->lo.token = c->tok;
    }
    return 0;
}

/* Plaintext leaves this machine only when asked for by name: 0 if the
 * link is secured (or plaintext allowed) or host is loopback, else
 * PARLEY_E_ARG "refusing to <what> <host> in plaintext: <fix>". */
static int plaintext_allowed(const char *host, int secured, const char *what, const char *fix) {
    if (secured) return 0;
    int lb = net_is_loopback(host);
    if (lb < 0) return lb;
    if (lb != 1) return err_set(PARLEY_E_ARG, "refusing to %s %s in plaintext: %s", what, host, fix);
    return 0;
}

/* ---- servers ---- */

/* A session running in one of this process's serve calls: a duplicate of
 * its socket, so parley_server_abort can shut the connection down (the
 * duplicate stays open until the session is unlisted: its number cannot be
 * reused meanwhile). */
typedef struct running {
    int fd;
    struct running *next;
} running;

struct parley_server {
    const parley_model *m;
    server_cfg cfg;
    link_cfg lc;
    chan_listener *l;
    int stop_rd, stop_wr; /* a pipe: parley_server_stop writes a byte, waits poll it */
    atomic_int stopped, aborted;
    int insecure;
    parley_session_fn cb;
    void *cb_ctx;
    lin_he_wcache *wc; /* HE mode: the weights transformed here, for every session */
    prep_stats wcs;    /* ... and what it took */
    pthread_mutex_t mu; /* guards sessions */
    running *sessions;
};

void parley_server_opts_init(parley_server_opts *o) {
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->he_weight_cache_mib = PREP_HE_CACHE_MIB_DEFAULT;
}

/* The served model at another batch, loaded from the model's file for one
 * session (each session has its own). */
typedef struct batch_ctx {
    const parley_model *m;
    qnet *net;
} batch_ctx;

static int batch_net(void *ctx, unsigned batch, const qnet **out) {
    batch_ctx *b = ctx;
    qnet_free(b->net);
    b->net = NULL;
    TRY(api_model_at_batch(&b->net, b->m, batch));
    *out = b->net;
    return 0;
}

int parley_server_new(parley_server **out, const parley_model *m, const parley_server_opts *in) {
    if (!out) return err_set(PARLEY_E_ARG, "the server pointer (s) is NULL");
    *out = NULL;
    if (!m) return err_set(PARLEY_E_ARG, "the model (m) is NULL");
    parley_server_opts o;
    parley_server_opts_init(&o);
    if (in) TRY(api_opts_in(&o, sizeof o, in, "parley_server_opts"));
    if (!o.tls_cert != !o.tls_key)
        return err_set(PARLEY_E_ARG, "TLS needs both tls_cert and tls_key (%s is missing)",
                       o.tls_cert ? "tls_key" : "tls_cert");
    if (o.tls_client_ca && !o.tls_cert)
        return err_set(PARLEY_E_ARG, "tls_client_ca needs tls_cert and tls_key");
    if (o.handshake_timeout_ms < 0)
        return err_set(PARLEY_E_ARG, "handshake_timeout_ms is %d: 0 (30 s) or more",
                       o.handshake_timeout_ms);
    if (o.idle_timeout_ms < 0)
        return err_set(PARLEY_E_ARG, "idle_timeout_ms is %d: 0 (300 s) or more",
                       o.idle_timeout_ms);
    if (o.max_batch > HELLO_MAX_BATCH)
        return err_set(PARLEY_E_ARG, "max_batch is %u: at most %u", o.max_batch, HELLO_MAX_BATCH);
    TRY(api_check_samples(m, o.calibration, o.ncalibration, o.calibration_names));
    parley_server *s = mem_calloc(1, sizeof *s);
    if (!s) return PARLEY_E_NOMEM;
    s->stop_rd = s->stop_wr = -1;
    int rc = link_cfg_make(&s->lc, 1, o.tls_cert, o.tls_key, o.tls_client_ca, NULL, o.token_file,
                           o.max_stash);
    int p[2];
    if (rc == 0 && pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
        rc = err_set(PARLEY_E_IO, "pipe: %s", strerror(errno));
    if (rc == 0 && m->o.mode == PARLEY_MODE_HE &&
        (rc = prep_he_wcache(m->net, (uint64_t)o.he_weight_cache_mib << 20, &s->wc, &s->wcs)) <
            0) {
        err_wrap(rc, "the HE weight cache (he_weight_cache_mib = %u)", o.he_weight_cache_mib);
        close(p[0]);
        close(p[1]);
    }
    if (rc < 0) {
        link_cfg_free(&s->lc);
        mem_free(s);
        return rc;
    }
    s->stop_rd = p[0];
    s->stop_wr = p[1];
    s->m = m;
    s->cb = o.on_session;
    s->cb_ctx = o.on_session_ctx;
    s->cfg = (server_cfg){.net = m->net,
                          .mode = (unsigned)m->o.mode,
                          .lanes = m->o.threads,
                          .reveal = (unsigned)m->o.reveal,
                          .ot = (unsigned)m->o.ot,
                          .leaves = (unsigned)m->o.leaves,
                          .hello_timeout_ms = o.handshake_timeout_ms,
                          .idle_timeout_ms = o.idle_timeout_ms,
                          .max_batch = o.max_batch,
                          .batch_net = m->path ? batch_net : NULL,
                          .link = &s->lc.lo,
                          .lin_prepared = s->wc};
    atomic_init(&s->stopped, 0);
    atomic_init(&s->aborted, 0);
    pthread_mutex_init(&s->mu, NULL);
    s->insecure = o.insecure; /* parley_server_listen knows the address */
    *out = s;
    return 0;
}

int parley_server_listen(parley_server *s, const char *host, int port, int *bound_port) {
    if (!s) return err_set(PARLEY_E_ARG, "the server (s) is NULL");
    if (s->l) return err_set(PARLEY_E_ARG, "the server is already listening");
    if (port < 0 || port > 65535)
        return err_set(PARLEY_E_ARG, "port %d is out of range (0..65535; 0: any free port)", port);
    if (!host || !host[0]) host = "127.0.0.1";
    TRY(plaintext_allowed(host, s->lc.tls || s->insecure, "serve",
                          "give a TLS certificate and key (TLS 1.3), or allow it (insecure) if "
                          "the network between the parties is trusted"));
    TRY(chan_listen(&s->l, host, port));
    if (bound_port) *bound_port = chan_listener_port(s->l);
    return 0;
}

void parley_server_he_cache(const parley_server *s, uint64_t *bytes, uint64_t *model_bytes,
                            unsigned *layers, unsigned *linear_layers, double *seconds) {
    prep_stats z = {0};
    const prep_stats *st = s ? &s->wcs : &z;
    if (bytes) *bytes = st->bytes;
    if (model_bytes) *model_bytes = st->total;
    if (layers) *layers = st->cached;
    if (linear_layers) *linear_layers = st->layers;
    if (seconds) *seconds = st->seconds;
}

const char *parley_server_pin(const parley_server *s) {
    return s && s->lc.tls ? tls_ctx_pin(s->lc.tls) : "";
}

int parley_server_fd(const parley_server *s) {
    return s && s->l ? chan_listener_fd(s->l) : -1;
}

/* List a running session (a duplicate of its socket in *node), or 0 with
 * node->fd = -1 if the socket cannot be duplicated (it then cannot be
 * aborted). A server aborted meanwhile shuts it down at once. */
static void running_add(parley_server *s, running *node, int fd) {
    node->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (node->fd < 0) return;
    pthread_mutex_lock(&s->mu);
    node->next = s->sessions;
    s->sessions = node;
    if (atomic_load(&s->aborted)) shutdown(node->fd, SHUT_RDWR);
    pthread_mutex_unlock(&s->mu);
}

static void running_remove(parley_server *s, running *node) {
    if (node->fd < 0) return;
    pthread_mutex_lock(&s->mu);
    for (running **p = &s->sessions; *p; p = &(*p)->next)
        if (*p == node) {
            *p = node->next;
            break;
        }
    pthread_mutex_unlock(&s->mu);
    close(node->fd);
}

/* One session on an accepted socket, its report and the callback. */
static int serve_fd(parley_server *s, int fd, const char *peer, parley_report *report) {
    session_result res;
    batch_ctx bc = {.m = s->m};
    server_cfg cfg = s->cfg;
    cfg.batch_ctx = &bc;
    running node;
    running_add(s, &node, fd);
    int rc = session_serve_conn(&cfg, fd, peer, &res);
    running_remove(s, &node);
    qnet_free(bc.net);
    if (rc < 0 && atomic_load(&s->aborted))
        rc = err_set(PARLEY_E_STOPPED, "the server was stopped now (parley_server_abort): the "
                                       "session was ended (%s)",
                     err_msg());
    char keep[512];
    snprintf(keep, sizeof keep, "%s", err_msg());
    parley_report rep;
    int rrc = report_fill(&rep, PARLEY_ROLE_SERVER, &res, s->m->net);
    session_result_free(&res);
    if (rc < 0) err_set(rc, "%s", keep); /* parley_last_error() in the callback */
    if (s->cb) s->cb(s->cb_ctx, rc, &rep);
    if (report)
        *report = rep;
    else
        parley_report_free(&rep);
    if (rc < 0) return err_set(rc, "%s", keep);
    return rrc;
}

int parley_server_serve_connection(parley_server *s, int fd, const char *peer,
                                   parley_report *report) {
    if (report) memset(report, 0, sizeof *report);
    if (!s) {
        if (fd >= 0) close(fd);
        return err_set(PARLEY_E_ARG, "the server (s) is NULL");
    }
    if (fd < 0) return err_set(PARLEY_E_ARG, "fd is %d, not a socket", fd);
    if (atomic_load(&s->stopped)) {
        close(fd);
        return err_set(PARLEY_E_STOPPED, "the server was stopped");
    }
    api_sigpipe g;
    api_sigpipe_block(&g);
    int rc = serve_fd(s, fd, peer, report);
    api_sigpipe_restore(&g);
    return rc;
}

int parley_server_refuse_connection(parley_server *s, int fd, const char *line, int timeout_ms) {
    int rc = 0;
    if (!s)
        rc = err_set(PARLEY_E_ARG, "the server (s) is NULL");
    else if (!line)
        rc = err_set(PARLEY_E_ARG, "the line is NULL");
    else if (fd < 0)
        return err_set(PARLEY_E_ARG, "fd is %d, not a socket", fd);
    if (rc < 0) {
        if (fd >= 0) close(fd);
        return rc;
    }
    api_sigpipe g;
    api_sigpipe_block(&g);
    rc = session_refuse_conn(&s->cfg, fd, line, timeout_ms > 0 ? timeout_ms : 0);
    api_sigpipe_restore(&g);
    return rc;
}

int parley_server_accept(parley_server *s, int *fd, char *peer, size_t cap, int timeout_ms) {
    if (fd) *fd = -1;
    if (peer && cap) peer[0] = 0;
    if (!s) return err_set(PARLEY_E_ARG, "the server (s) is NULL");
    if (!fd) return err_set(PARLEY_E_ARG, "the fd pointer is NULL");
    if (!s->l)
        return err_set(PARLEY_E_ARG, "the server is not listening: call parley_server_listen first");
    double t0 = time_now();
    for (;;) {
        if (atomic_load(&s->stopped)) return err_set(PARLEY_E_STOPPED, "the server was stopped");
        int wait = -1;
        if (timeout_ms >= 0) {
            double left = timeout_ms - (time_now() - t0) * 1e3;
            wait = left <= 0 ? 0 : (int)left + 1;
        }
        struct pollfd p[2] = {{.fd = chan_listener_fd(s->l), .events = POLLIN},
                              {.fd = s->stop_rd, .events = POLLIN}};
        int r = poll(p, 2, wait);
        if (r < 0) {
            if (errno == EINTR) continue;
            return err_set(PARLEY_E_IO, "poll: %s", strerror(errno));
        }
        if (p[1].revents) continue; /* stopped (the byte stays, for every waiting thread) */
        if (r == 0 && timeout_ms >= 0 && (time_now() - t0) * 1e3 >= timeout_ms)
            return err_set(PARLEY_E_TIMEOUT, "no client within %d ms", timeout_ms);
        if (r == 0) continue;
        char who[64];
        int rc = net_accept(s->l, fd, who, sizeof who, 0);
        if (rc == PARLEY_E_TIMEOUT) continue; /* another thread took the client */
        if (rc < 0) return rc;
        if (peer && cap) snprintf(peer, cap, "%s", who);
        return 0;
    }
}

/* Wait for a client (or a stop) and serve it. *ran says whether a session
 * ran: if not, a failure is the listener's or a stop. */
static int serve_next(parley_server *s, parley_report *report, int *ran) {
    *ran = 0;
    if (report) memset(report, 0, sizeof *report);
    int fd;
    char peer[64];
    TRY(parley_server_accept(s, &fd, peer, sizeof peer, -1));
    *ran = 1;
    api_sigpipe g;
    api_sigpipe_block(&g);
    int rc = serve_fd(s, fd, peer, report);
    api_sigpipe_restore(&g);
    return rc;
}

int parley_server_serve_one(parley_server *s, parley_report *report) {
    int ran;
    return serve_next(s, report, &ran);
}

int parley_server_serve(parley_server *s) {
    for (;;) {
        int ran;
        int rc = serve_next(s, NULL, &ran);
        if (!ran) return rc; /* a stop, or the listener failed */
        /* a session's outcome went to on_session; the server goes on */
    }
}

void parley_server_stop(parley_server *s) {
    if (!s) return;
    atomic_store(&s->stopped, 1);
    int saved = errno; /* async-signal-safe: errno kept, write() only */
    (void)!write(s->stop_wr, "x", 1);
    errno = saved;
}

void parley_server_abort(parley_server *s) {
    if (!s) return;
    parley_server_stop(s);
    pthread_mutex_lock(&s->mu);
    atomic_store(&s->aborted, 1);
    for (running *r = s->sessions; r; r = r->next)
        shutdown(r->fd, SHUT_RDWR);
    pthread_mutex_unlock(&s->mu);
}

void parley_server_free(parley_server *s) {
    if (!s) return;
    chan_listener_close(s->l);
    if (s->stop_rd >= 0) close(s->stop_rd);
    if (s->stop_wr >= 0) close(s->stop_wr);
    link_cfg_free(&s->lc);
    lin_he_wcache_free(s->wc); /* wiped: the weights are the server's secret */
    pthread_mutex_destroy(&s->mu);
    mem_free(s);
}

/* ---- clients ---- */

void parley_client_opts_init(parley_client_opts *o) {
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
}

static int client_opts(parley_client_opts *o, const parley_client_opts *in) {
    parley_client_opts_init(o);
    if (in) TRY(api_opts_in(o, sizeof *o, in, "parley_client_opts"));
    int tls = o->tls_ca || o->tls_pin;
    if (!tls && (o->tls_cert || o->tls_key || o->tls_name))
        return err_set(PARLEY_E_ARG, "tls_cert, tls_key and tls_name need tls_ca or tls_pin");
    if (!o->tls_cert != !o->tls_key)
        return err_set(PARLEY_E_ARG, "a client certificate needs both tls_cert and tls_key");
    if (o->connect_timeout_ms < 0)
        return err_set(PARLEY_E_ARG, "connect_timeout_ms is %d: 0 (10 s) or more",
                       o->connect_timeout_ms);
    return 0;
}

/* One client session on a connected socket (taken), with the link's
 * options made (before connecting, so bad options fail at once). */
static int progress(void *ctx, const qnet *net, unsigned i, const exec_layer_stat *st,
                    double elapsed, uint64_t bytes) {
    const parley_client_opts *o = ctx;
    const qlayer *L = &net->layers[i];
    o->progress(o->progress_ctx, i, net->nlayers, qop_name(L->op), L->name ? L->name : "", elapsed,
                bytes);
    return 0;
}

static int infer_fd(int fd, const char *host, const nn_tensor *x, link_cfg *lc,
                    const parley_client_opts *o, parley_tensor *output, parley_report *report) {
    client_cfg cfg = {.link = &lc->lo,
                      .max_model_memory = o->max_model_memory,
                      .progress = o->progress ? progress : NULL,
                      .progress_ctx = (void *)o};
    session_result res;
    int rc = session_infer_conn(&cfg, fd, host, x, &res);
    if (rc == 0)
        rc = api_tensor_out(output, res.net, res.reveal == REVEAL_LABEL, res.out, res.nout);
    char keep[512];
    snprintf(keep, sizeof keep, "%s", err_msg());
    if (report) {
        int rrc = report_fill(report, PARLEY_ROLE_CLIENT, &res, res.net);
        if (rc == 0) rc = rrc;
    }
    session_result_free(&res);
    if (rc < 0) {
        parley_tensor_free(output);
        return err_set(rc, "%s", keep);
    }
    return 0;
}

static int client_link(link_cfg *lc, const parley_client_opts *o) {
    TRY(link_cfg_make(lc, 0, o->tls_cert, o->tls_key, o->tls_ca, o->tls_pin, o->token_file,
                      o->max_stash));
    lc->lo.server_name = o->tls_name;
    return 0;
}

/* The arguments every client call checks. */
static int client_args(nn_tensor *x, parley_client_opts *o, const parley_tensor *input,
                       parley_tensor *output, parley_report *report,
                       const parley_client_opts *in) {
    if (report) memset(report, 0, sizeof *report);
    TRY(api_tensor_out_check(output, "the output tensor"));
    TRY(api_tensor_in(x, input, "the input tensor"));
    return client_opts(o, in);
}

int parley_infer(const char *host, int port, const parley_tensor *input, parley_tensor *output,
                 parley_report *report, const parley_client_opts *in) {
    nn_tensor x;
    parley_client_opts o;
    TRY(client_args(&x, &o, input, output, report, in));
    if (!host || !host[0]) return err_set(PARLEY_E_ARG, "the server's host is %s", host ? "empty" : "NULL");
    if (port <= 0 || port > 65535)
        return err_set(PARLEY_E_ARG, "port %d is out of range (1..65535)", port);
    TRY(plaintext_allowed(host, o.tls_ca || o.tls_pin || o.insecure, "connect to",
                          "check the server with a CA or its key's pin (TLS 1.3), or allow it "
                          "(insecure) if the network is trusted"));
    link_cfg lc;
    TRY(client_link(&lc, &o));
    api_sigpipe g;
    api_sigpipe_block(&g);
    int fd;
    int rc = net_connect(&fd, host, port,
                         o.connect_timeout_ms ? o.connect_timeout_ms : CONNECT_TIMEOUT_MS);
    if (rc == 0) rc = infer_fd(fd, host, &x, &lc, &o, output, report);
    api_sigpipe_restore(&g);
    link_cfg_free(&lc);
    return rc;
}

int parley_infer_fd(int fd, const char *host, const parley_tensor *input, parley_tensor *output,
                    parley_report *report, const parley_client_opts *in) {
    nn_tensor x;
    parley_client_opts o;
    link_cfg lc;
    int rc = fd < 0 ? err_set(PARLEY_E_ARG, "fd is %d, not a socket", fd)
                    : client_args(&x, &o, input, output, report, in);
    if (rc == 0) rc = client_link(&lc, &o);
    if (rc < 0) {
        if (fd >= 0) close(fd);
        return rc;
    }
    api_sigpipe g;
    api_sigpipe_block(&g);
    rc = infer_fd(fd, host, &x, &lc, &o, output, report);
    api_sigpipe_restore(&g);
    link_cfg_free(&lc);
    return rc;
}
