/* The session driver; see session.h. */
#include "nn/session.h"
#include "nn/cost.h"

#include "util/mem.h"
#include "util/timer.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define CONTROL_TIMEOUT_MS 30000
#define CONNECT_TIMEOUT_MS 10000 /* retrying while the server starts */
#define ALLOC_OVERHEAD 160       /* one small allocation: 64-byte rounding and malloc's own */

struct session_server {
    chan_listener *l;
};

int session_server_new(session_server **out, chan_listener *l) {
    session_server *s = mem_calloc(1, sizeof *s);
    if (!s) return PARLEY_E_NOMEM;
    s->l = l;
    *out = s;
    return 0;
}

void session_server_free(session_server *srv) { mem_free(srv); }

void session_result_free(session_result *r) {
    if (!r) return;
    qnet_free(r->net);
    if (r->out) mem_free_wipe(r->out, r->nout * sizeof *r->out);
    exec_report_free(&r->rep);
    memset(r, 0, sizeof *r);
}

/* ---- what a public model costs a client ---- */

/* Bytes of decoded description per byte of it, at most: the decoder
 * (nn/qnet_wire.c) reads every count against the bytes left, and a tensor
 * takes at least 3 bytes on the wire and a layer at least 10; each owns up
 * to two allocations (name; input list), and names and input lists take at
 * most their wire bytes again. */
static uint64_t decode_per_byte(void) {
    uint64_t t = sizeof(qtensor) + 2 * ALLOC_OVERHEAD, l = sizeof(qlayer) + 2 * ALLOC_OVERHEAD;
    return (t + 2) / 3 + (l + 9) / 10 + 2;
}

uint64_t session_decode_bound(size_t desc_bytes) {
    return (uint64_t)desc_bytes * decode_per_byte() + 4 * ALLOC_OVERHEAD;
}

uint64_t session_model_memory(const qnet *net, size_t desc_bytes) {
    qnet_stats st;
    qnet_stats_get(&st, net);
    /* the tensor store at its fullest, the encoded input the client keeps
     * beside it, and the revealed output */
    uint64_t elems = st.peak_elems + net->t[net->input].size + net->t[net->output].size;
    return session_decode_bound(desc_bytes) + 8 * elems;
}

/* ---- both parties ---- */

static uint64_t mib_up(uint64_t b) { return (b + (1 << 20) - 1) >> 20; }

static void add_stats(session_result *res, chan *c) {
    const chan_stats *s = chan_get_stats(c);
    res->setup_bytes_sent += s->bytes_sent;
    res->setup_bytes_recv += s->bytes_recv;
}

/* The lanes' options: both parties choose them alike, from the public
 * model and what the hello agreed (cost_session_ferret and
 * cost_session_vole4; cost_predict prices the same). */
static void lane_opts_of(ot_lane_opts *oo, cost_opts *co, const qnet *net, unsigned mode,
                         unsigned nlanes, unsigned reveal, unsigned ot, unsigned leaves) {
    *co = (cost_opts){.mode = (int)mode,
                      .lanes = nlanes,
                      .reveal_label = reveal == REVEAL_LABEL,
                      .ot = (int)ot,
                      .vole4 = cost_session_vole4((int)ot, leaves)};
    co->ferret = cost_session_ferret(net, co);
    *oo = (ot_lane_opts){.backend = (int)ot, .ferret = co->ferret, .vole4 = co->vole4};
}

/* The silent pools' budgets (cost_session_budgets), both parties alike. */
static int set_budgets(party *p, const qnet *net, const cost_opts *co) {
    if (co->ot != OT_BACKEND_SILENT) return 0;
    ot_budgets *b = mem_alloc(1, sizeof *b);
    if (!b) return err_set(PARLEY_E_NOMEM, "out of memory for the OT pools' budgets");
    int rc = cost_session_budgets(net, co, b);
    if (rc == 0) party_set_budgets(p, b);
    else err_wrap(rc, "the OT pools' budgets");
    mem_free(b);
    return rc;
}

uint64_t session_ot_memory(const qnet *net, unsigned mode, unsigned nlanes, unsigned reveal,
                           unsigned ot, unsigned leaves) {
    ot_lane_opts oo;
    cost_opts co;
    lane_opts_of(&oo, &co, net, mode, nlanes, reveal, ot, leaves);
    return (uint64_t)nlanes * ot_lane_memory(&oo);
}

/* Set up the party on the lanes and the mode's linear back-end (HE: the
 * keys), run the executor. */
static int run_party(session_result *res, int role, chan **lanes, unsigned nlanes, const qnet *net,
                     unsigned mode, unsigned reveal, unsigned ot, unsigned leaves,
                     const uint64_t *x, const void *prep, exec_progress_fn progress, void *pctx,
                     double t0) {
    block seed;
    rand_os(&seed, sizeof seed);
    party p;
    ot_lane_opts oo;
    cost_opts co;
    lane_opts_of(&oo, &co, net, mode, nlanes, reveal, ot, leaves);
    int rc = party_setup_ex(&p, role, lanes, nlanes, seed, &oo);
    mem_wipe(&seed, sizeof seed);
    if (rc < 0) return err_wrap(rc, "setting up oblivious transfer");
    if ((rc = set_budgets(&p, net, &co)) < 0) {
        party_clear(&p);
        return rc;
    }
    const lin_ops *ops = exec_lin_ops((int)mode);
    lin_backend lin = {0};
    if (!ops)
        rc = err_set(PARLEY_E_ARG, "mode %u is neither OT nor HE", mode);
    else if ((rc = lin_setup(&lin, ops, &p)) < 0)
        err_wrap(rc, "setting up the %s linear layers", ops->name);
    if (rc == 0) lin_use_prepared(&lin, prep);
    if (rc == 0) {
        chan_stats st;
        party_stats(&p, &st);
        res->setup_bytes_sent += st.bytes_sent;
        res->setup_bytes_recv += st.bytes_recv;
        res->setup_seconds = time_now() - t0;
        exec_opts o = {.lin = &lin,
                       .reveal_label = reveal == REVEAL_LABEL,
                       .progress = progress,
                       .progress_ctx = pctx};
        rc = exec_infer(&p, net, &o, x, &res->out, &res->nout, &res->rep);
    }
    lin_teardown(&lin);
    party_clear(&p);
    return rc;
}

static void lanes_of(chan **lanes, net_link *lk, unsigned n, int timeout_ms) {
    for (unsigned i = 0; i < n; i++) {
        lanes[i] = link_chan(lk, 1 + i);
        chan_set_timeout(lanes[i], timeout_ms > 0 ? timeout_ms : CHAN_DEFAULT_TIMEOUT_MS);
    }
}

/* ---- the server ---- */

/* The batch of a tensor: its first dimension when it has more than one (a
 * vector has no batch axis: its shape is checked whole after the hello). */
static unsigned lead_dim(const nn_shape *sh) {
    return sh->rank >= 2 ? (unsigned)sh->d[0] : 1;
}

/* The model for a client that brings n inputs, or a REJECT naming why not. */
static int net_for_batch(const server_cfg *cfg, chan *ctl, unsigned n, const qnet **out) {
    const qnet *net = cfg->net;
    unsigned max = cfg->max_batch ? cfg->max_batch : 1;
    int rc = 0;
    if (n != lead_dim(&net->t[net->input].shape) && cfg->batch_net && n <= max) {
        rc = cfg->batch_net(cfg->batch_ctx, n, &net);
        if (rc < 0) {
            (void)ctl_reject(ctl, "the server cannot take a batch of %u: %s", n, err_msg());
            return rc;
        }
    }
    const nn_shape *in = &net->t[net->input].shape;
    if (n == lead_dim(in)) {
        *out = net;
        return 0;
    }
    char sh[128];
    nn_shape_str(sh, sizeof sh, in);
    if (cfg->batch_net && n > max) {
        (void)ctl_reject(ctl, "a batch of %u inputs is over this server's limit of %u "
                              "(parley serve --max-batch)", n, max);
        return err_set(PARLEY_E_LIMIT, "the client's batch of %u is over the limit %u", n, max);
    }
    (void)ctl_reject(ctl, "the client's input has a batch of %u, the model expects %s (its "
                          "batch is fixed)", n, sh);
    return err_set(PARLEY_E_MISMATCH,
                   "the client's batch of %u does not fit the model's input shape %s (its "
                   "batch is fixed)", n, sh);
}

static int serve_link(const server_cfg *cfg, net_link *lk, session_result *res, double t0) {
    int tmo = cfg->hello_timeout_ms > 0 ? cfg->hello_timeout_ms : CONTROL_TIMEOUT_MS;
    chan *ctl = link_chan(lk, 0);
    chan_set_timeout(ctl, tmo);
    uint8_t *msg = NULL, *model = NULL;
    size_t len = 0, mlen = 0;
    session_hello h;
    int rc = ctl_recv(ctl, CTL_HELLO, 0, &msg, &len);
    if (rc == 0) rc = hello_parse(&h, msg, len);
    if (rc == 0 && h.version != SESSION_VERSION) {
        rc = err_set(PARLEY_E_MISMATCH, "the client speaks protocol version %u, this server %u",
                     h.version, SESSION_VERSION);
        (void)ctl_reject(ctl, "this server speaks protocol version %u, the client %u",
                         SESSION_VERSION, h.version);
    } else if (rc == 0 && h.kind != HELLO_CLIENT) {
        rc = err_set(PARLEY_E_PROTO, "the peer is not a parley client");
        (void)ctl_reject(ctl, "expected a client hello");
    }
    const qnet *net = cfg->net;
    if (rc == 0) rc = net_for_batch(cfg, ctl, hello_batch(&h), &net);
    if (rc == 0) {
        res->batch = hello_batch(&h);
        session_hello sh = {.kind = HELLO_SERVER,
                            .version = SESSION_VERSION,
                            .mode = cfg->mode,
                            .l = net->l,
                            .s = net->s,
                            .lanes = cfg->lanes,
                            .reveal = cfg->reveal,
                            .ot = cfg->ot,
                            .batch = res->batch,
                            .leaves = cfg->leaves};
        uint8_t b[HELLO_BYTES];
        hello_encode(b, &sh);
        rc = ctl_send(ctl, CTL_HELLO, b, sizeof b);
    }
    if (rc == 0) rc = qnet_public_encode(net, &model, &mlen);
    if (rc == 0 && mlen > CTL_MAX_MODEL)
        rc = err_set(PARLEY_E_UNSUPPORTED, "the public model is %zu bytes, over the limit %u", mlen,
                     CTL_MAX_MODEL);
    if (rc == 0) rc = ctl_send(ctl, CTL_MODEL, model, mlen);
    mem_free(model);
    mem_free(msg);
    msg = NULL;
    if (rc == 0) rc = ctl_recv(ctl, CTL_READY, 0, &msg, &len); /* or the client's REJECT */
    mem_free(msg);
    add_stats(res, ctl);
    if (rc == 0) {
        chan *lanes[LANES_MAX];
        lanes_of(lanes, lk, cfg->lanes, cfg->idle_timeout_ms);
        rc = run_party(res, MPC_SERVER, lanes, cfg->lanes, net, cfg->mode, cfg->reveal, cfg->ot,
                       cfg->leaves, NULL, cfg->lin_prepared, cfg->progress, cfg->progress_ctx,
                       t0);
        if (rc == PARLEY_E_NOMEM) {
            /* This side's own limit (serve's --session-memory): the client
             * would see only its lanes close, so it is told why (peer_why). */
            char keep[CTL_MAX_REJECT];
            snprintf(keep, sizeof keep, "%s", err_msg());
            (void)ctl_reject(ctl, "its session ran out of memory: %s", keep);
            err_set(rc, "%s", keep);
        }
        if (rc == 0) {
            uint64_t v[3] = {res->rep.flights, res->rep.bytes_sent,
                             (uint64_t)(res->rep.seconds * 1e6)};
            uint8_t b[CTL_REPORT_BYTES];
            for (int i = 0; i < 24; i++)
                b[i] = (uint8_t)(v[i / 8] >> (8 * (i % 8)));
            rc = ctl_send(ctl, CTL_REPORT, b, sizeof b);
        }
    }
    return rc;
}

int session_serve_conn(const server_cfg *cfg, int fd, const char *peer, session_result *res) {
    memset(res, 0, sizeof *res);
    double t0 = time_now();
    res->mode = cfg->mode;
    res->lanes = cfg->lanes;
    res->reveal = cfg->reveal;
    res->ot = cfg->ot;
    res->leaves = cfg->leaves;
    snprintf(res->peer, sizeof res->peer, "%s", peer ? peer : "");
    link_opts lo = cfg->link ? *cfg->link : (link_opts){0};
    lo.timeout_ms = cfg->hello_timeout_ms > 0 ? cfg->hello_timeout_ms : CONTROL_TIMEOUT_MS;
    net_link *lk;
    TRY(link_server(&lk, fd, &lo));
    snprintf(res->transport, sizeof res->transport, "%s", link_desc(lk));
    int rc = serve_link(cfg, lk, res, t0);
    if (rc < 0) link_abort(lk); /* the client must not wait for us */
    link_get_stats(lk, &res->link);
    char keep[512];
    snprintf(keep, sizeof keep, "%s", err_msg());
    link_close(lk);
    return rc < 0 ? err_set(rc, "%s", keep) : 0;
}

int session_refuse_conn(const server_cfg *cfg, int fd, const char *line, int timeout_ms) {
    link_opts lo = cfg->link ? *cfg->link : (link_opts){0};
    lo.timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
    net_link *lk;
    TRY(link_server(&lk, fd, &lo));
    chan *ctl = link_chan(lk, 0);
    chan_set_timeout(ctl, lo.timeout_ms);
    uint8_t *msg = NULL;
    size_t len = 0;
    /* Read the hello first, so the client is waiting for the answer (not
     * still sending) when the connection ends. */
    int rc = ctl_recv(ctl, CTL_HELLO, 0, &msg, &len);
    mem_free(msg);
    if (rc == 0) rc = ctl_reject(ctl, "%s", line);
    link_close(lk);
    return rc;
}

int session_serve_one(session_server *srv, const server_cfg *cfg, int accept_timeout_ms,
                      session_result *res) {
    memset(res, 0, sizeof *res);
    int fd;
    char peer[64];
    TRY(net_accept(srv->l, &fd, peer, sizeof peer, accept_timeout_ms < 0 ? -1 : accept_timeout_ms));
    return session_serve_conn(cfg, fd, peer, res);
}

/* ---- the client ---- */

/* The lanes closed under the client: a server that failed on its own
 * (out of memory) said why on the control stream before closing; its line
 * joins rc's message. A server that did not, or is gone, leaves the
 * message as it is, at once or after PEER_WHY_MS. */
#define PEER_WHY_MS 2000
static int peer_why(chan *ctl, int rc) {
    char mine[512];
    snprintf(mine, sizeof mine, "%s", err_msg());
    chan_set_timeout(ctl, PEER_WHY_MS);
    uint8_t *msg = NULL;
    size_t len = 0;
    int r = ctl_recv(ctl, CTL_REPORT, 0, &msg, &len);
    mem_free(msg);
    const char *why = err_msg();
    if (r == PARLEY_E_MISMATCH && !strncmp(why, CTL_REFUSED, strlen(CTL_REFUSED))) {
        char line[CTL_MAX_REJECT + 32];
        snprintf(line, sizeof line, "%s", why + strlen(CTL_REFUSED));
        return err_set(rc, "%s; the server: %s", mine, line);
    }
    return err_set(rc, "%s", mine);
}

static int client_link(const client_cfg *cfg, net_link *lk, const nn_tensor *x, session_result *res,
                       double t0) {
    chan *ctl = link_chan(lk, 0);
    chan_set_timeout(ctl, CHAN_DEFAULT_TIMEOUT_MS); /* the server may be busy loading */
    uint64_t cap = cfg->max_model_memory ? cfg->max_model_memory : SESSION_MAX_MODEL_MEMORY_DEFAULT;
    unsigned batch = lead_dim(&x->shape);
    if (batch == 0 || batch > HELLO_MAX_BATCH)
        return err_set(PARLEY_E_LIMIT, "the input's batch of %u is outside 1..%u", batch,
                       HELLO_MAX_BATCH);
    session_hello h = {.kind = HELLO_CLIENT, .version = SESSION_VERSION, .batch = batch};
    uint8_t b[HELLO_BYTES];
    hello_encode(b, &h);
    uint8_t *msg = NULL;
    size_t len = 0;
    uint64_t *xq = NULL;
    int rc = ctl_send(ctl, CTL_HELLO, b, sizeof b);
    if (rc == 0) rc = ctl_recv(ctl, CTL_HELLO, 0, &msg, &len);
    if (rc == 0) rc = hello_parse(&h, msg, len);
    if (rc == 0 && h.version != SESSION_VERSION)
        rc = err_set(PARLEY_E_MISMATCH, "the server speaks protocol version %u, this client %u",
                     h.version, SESSION_VERSION);
    if (rc == 0 && h.kind != HELLO_SERVER)
        rc = err_set(PARLEY_E_PROTO, "the peer is not a parley server");
    if (rc == 0 && hello_batch(&h) != batch)
        rc = err_set(PARLEY_E_PROTO, "the server agreed a batch of %u, the client asked for %u",
                     hello_batch(&h), batch);
    if (rc == 0) res->batch = batch;
    mem_free(msg);
    msg = NULL;
    /* The description may not make us allocate more than the cap: its size
     * bounds the decoder's allocations before anything is allocated. */
    uint64_t max_desc = (cap > 4 * ALLOC_OVERHEAD ? cap - 4 * ALLOC_OVERHEAD : 0) / decode_per_byte();
    if (rc == 0) {
        rc = ctl_recv(ctl, CTL_MODEL, max_desc < CTL_MAX_MODEL ? (size_t)max_desc : 0, &msg, &len);
        if (rc == PARLEY_E_LIMIT) {
            rc = err_set(PARLEY_E_LIMIT,
                         "the server's model description is too large: decoding it could take "
                         "more than this client's cap of %llu MiB (--max-model-memory raises it)",
                         (unsigned long long)(cap >> 20));
            (void)ctl_reject(ctl, "the client refused the model: its description is over the "
                                  "client's memory cap of %llu MiB",
                             (unsigned long long)(cap >> 20));
        }
    }
    if (rc == 0) rc = qnet_public_decode(&res->net, msg, len);
    mem_free(msg);
    msg = NULL;
    if (rc == 0 && (res->net->l != h.l || res->net->s != h.s))
        rc = err_set(PARLEY_E_PROTO, "the server's model and hello disagree on l and s");
    if (rc == 0) {
        /* the model's tensors and the lanes' OT pools, which the server's
         * lanes and leaves choose */
        uint64_t model = session_model_memory(res->net, len),
                 pools = session_ot_memory(res->net, h.mode, h.lanes, h.reveal, h.ot, h.leaves),
                 need = model + pools;
        if (need > cap) {
            rc = err_set(PARLEY_E_LIMIT,
                         "the server's session would take %llu MiB of this client's memory (the "
                         "model %llu, the OT pools of %u lanes %llu), over its cap of %llu MiB "
                         "(--max-model-memory raises it)",
                         (unsigned long long)mib_up(need), (unsigned long long)mib_up(model),
                         h.lanes, (unsigned long long)mib_up(pools),
                         (unsigned long long)(cap >> 20));
            (void)ctl_reject(ctl, "the client refused the model: the session would take %llu "
                                  "MiB of the client's memory, over its cap of %llu MiB",
                             (unsigned long long)mib_up(need), (unsigned long long)(cap >> 20));
        }
    }
    if (rc == 0) {
        res->mode = h.mode;
        res->lanes = h.lanes;
        res->reveal = h.reveal;
        res->ot = h.ot;
        res->leaves = h.leaves;
        const qtensor *in = &res->net->t[res->net->input];
        char want[128], got[128];
        if (!nn_shape_eq(&in->shape, &x->shape)) {
            nn_shape_str(want, sizeof want, &in->shape);
            nn_shape_str(got, sizeof got, &x->shape);
            rc = err_set(PARLEY_E_MISMATCH, "the input has shape %s, the model expects %s", got,
                         want);
            (void)ctl_reject(ctl, "the client's input has shape %s, the model expects %s", got,
                             want);
        } else {
            xq = mem_alloc(in->size, sizeof *xq);
            rc = xq ? qnet_encode_input(res->net, xq, x) : PARLEY_E_NOMEM;
            if (rc < 0) (void)ctl_reject(ctl, "the client cannot use its input: %s", err_msg());
        }
    }
    if (rc == 0) rc = ctl_send(ctl, CTL_READY, NULL, 0);
    add_stats(res, ctl);
    if (rc == 0) {
        chan *lanes[LANES_MAX];
        lanes_of(lanes, lk, h.lanes, 0);
        rc = run_party(res, MPC_CLIENT, lanes, h.lanes, res->net, h.mode, h.reveal, h.ot,
                       h.leaves, xq, NULL, cfg->progress, cfg->progress_ctx, t0);
        if (rc == PARLEY_E_CLOSED) rc = peer_why(ctl, rc);
        if (rc == 0) rc = ctl_recv(ctl, CTL_REPORT, 0, &msg, &len);
        if (rc == 0 && len != CTL_REPORT_BYTES)
            rc = err_set(PARLEY_E_PROTO, "the server's report is %zu bytes, not %d", len,
                         CTL_REPORT_BYTES);
        if (rc == 0) {
            uint64_t v[3] = {0, 0, 0};
            for (int i = 0; i < 24; i++)
                v[i / 8] |= (uint64_t)msg[i] << (8 * (i % 8));
            res->peer_flights = v[0];
            res->peer_seconds = (double)v[2] * 1e-6;
        }
        mem_free(msg);
        msg = NULL;
    }
    if (xq) mem_free_wipe(xq, res->net->t[res->net->input].size * sizeof *xq);
    return rc;
}

int session_infer_conn(const client_cfg *cfg, int fd, const char *host, const nn_tensor *x,
                       session_result *res) {
    memset(res, 0, sizeof *res);
    double t0 = time_now();
    link_opts lo = cfg->link ? *cfg->link : (link_opts){0};
    if (lo.tls && !lo.server_name) lo.server_name = host;
    if (lo.timeout_ms <= 0) lo.timeout_ms = CHAN_DEFAULT_TIMEOUT_MS; /* the server may be busy */
    net_link *lk;
    TRY(link_client(&lk, fd, &lo));
    snprintf(res->transport, sizeof res->transport, "%s", link_desc(lk));
    int rc = client_link(cfg, lk, x, res, t0);
    if (rc < 0) link_abort(lk);
    link_get_stats(lk, &res->link);
    char keep[512];
    snprintf(keep, sizeof keep, "%s", err_msg());
    link_close(lk);
    return rc < 0 ? err_set(rc, "%s", keep) : 0;
}

int session_infer_ex(const client_cfg *cfg, const char *host, int port, const nn_tensor *x,
                     session_result *res) {
    memset(res, 0, sizeof *res);
    int fd;
    TRY(net_connect(&fd, host, port, CONNECT_TIMEOUT_MS));
    return session_infer_conn(cfg, fd, host, x, res);
}

int session_infer(const char *host, int port, const nn_tensor *x, exec_progress_fn progress,
                  void *pctx, session_result *res) {
    client_cfg cfg = {.progress = progress, .progress_ctx = pctx};
    return session_infer_ex(&cfg, host, port, x, res);
}
