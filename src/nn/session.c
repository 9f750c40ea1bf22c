/* The session driver; see session.h. */
#include "nn/session.h"

#include "lin/he/lin_he.h"
#include "net/lanes.h"
#include "util/mem.h"
#include "util/timer.h"

#include <stdio.h>
#include <string.h>

#define CONTROL_TIMEOUT_MS 30000
#define CONNECT_TIMEOUT_MS 10000 /* retrying while the server starts */
#define PENDING_MAX 16

struct session_server {
    chan_listener *l;
    chan *pending[PENDING_MAX];
    unsigned npending;
};

int session_server_new(session_server **out, chan_listener *l) {
    session_server *s = mem_calloc(1, sizeof *s);
    if (!s) return PARLEY_E_NOMEM;
    s->l = l;
    *out = s;
    return 0;
}

void session_server_free(session_server *srv) {
    if (!srv) return;
    for (unsigned i = 0; i < srv->npending; i++)
        chan_close(srv->pending[i]);
    mem_free(srv);
}

/* A client's control connection that arrived during another session. */
static void stash(void *ctx, chan *c) {
    session_server *s = ctx;
    if (s->npending == PENDING_MAX) {
        chan_close(c); /* too many waiting: this one must retry */
        return;
    }
    s->pending[s->npending++] = c;
}

void session_result_free(session_result *r) {
    if (!r) return;
    qnet_free(r->net);
    if (r->out) mem_free_wipe(r->out, r->nout * sizeof *r->out);
    exec_report_free(&r->rep);
    memset(r, 0, sizeof *r);
}

static void add_stats(session_result *res, chan *c) {
    const chan_stats *s = chan_get_stats(c);
    res->setup_bytes_sent += s->bytes_sent;
    res->setup_bytes_recv += s->bytes_recv;
}

/* Set up the party on the lanes (and HE keys), run the executor. */
static int run_party(session_result *res, int role, chan **lanes, unsigned nlanes, const qnet *net,
                     unsigned mode, unsigned reveal, unsigned ot, const uint64_t *x,
                     exec_progress_fn progress, void *pctx, double t0) {
    block seed;
    rand_os(&seed, sizeof seed);
    party p;
    ot_lane_opts oo = {.backend = (int)ot};
    int rc = party_setup_ex(&p, role, lanes, nlanes, seed, &oo);
    mem_wipe(&seed, sizeof seed);
    if (rc < 0) return err_wrap(rc, "setting up oblivious transfer");
    lin_he *he = NULL;
    if (mode == MODE_HE) {
        rc = lin_he_setup(&p, &he);
        if (rc < 0) err_wrap(rc, "setting up the HE keys");
    }
    if (rc == 0) {
        chan_stats st;
        party_stats(&p, &st);
        res->setup_bytes_sent += st.bytes_sent;
        res->setup_bytes_recv += st.bytes_recv;
        res->setup_seconds = time_now() - t0;
        exec_opts o = {.mode = (int)mode,
                       .he = he,
                       .reveal_label = reveal == REVEAL_LABEL,
                       .progress = progress,
                       .progress_ctx = pctx};
        rc = exec_infer(&p, net, &o, x, &res->out, &res->nout, &res->rep);
    }
    lin_he_free(he);
    party_clear(&p);
    return rc;
}

int session_serve_one(session_server *srv, const server_cfg *cfg, int accept_timeout_ms,
                      session_result *res) {
    memset(res, 0, sizeof *res);
    chan *ctl = NULL;
    chan_listener *l = srv->l;
    if (srv->npending) {
        ctl = srv->pending[0];
        memmove(srv->pending, srv->pending + 1, --srv->npending * sizeof *srv->pending);
    } else {
        TRY(chan_accept(l, &ctl, accept_timeout_ms < 0 ? 0x7fffffff : accept_timeout_ms));
    }
    double t0 = time_now();
    chan_set_timeout(ctl, cfg->hello_timeout_ms > 0 ? cfg->hello_timeout_ms : CONTROL_TIMEOUT_MS);
    res->mode = cfg->mode;
    res->lanes = cfg->lanes;
    res->reveal = cfg->reveal;
    res->ot = cfg->ot;
    uint8_t *msg = NULL, *model = NULL;
    size_t len = 0, mlen = 0;
    session_hello h;
    int rc = frame_recv(ctl, FRAME_HELLO, &msg, &len);
    if (rc == 0) rc = hello_parse(&h, msg, len);
    if (rc == 0 && h.version != SESSION_VERSION) {
        rc = err_set(PARLEY_E_MISMATCH, "the client speaks protocol version %u, this server %u",
                     h.version, SESSION_VERSION);
        (void)frame_reject(ctl, "this server speaks protocol version %u, the client %u",
                           SESSION_VERSION, h.version);
    } else if (rc == 0 && h.kind != HELLO_CLIENT) {
        rc = err_set(PARLEY_E_PROTO, "the peer is not a parley client");
        (void)frame_reject(ctl, "expected a client hello");
    }
    if (rc == 0) {
        session_hello sh = {.kind = HELLO_SERVER,
                            .version = SESSION_VERSION,
                            .mode = cfg->mode,
                            .l = cfg->net->l,
                            .s = cfg->net->s,
                            .lanes = cfg->lanes,
                            .reveal = cfg->reveal,
                            .ot = cfg->ot};
        uint8_t b[HELLO_BYTES];
        hello_encode(b, &sh);
        rc = frame_send(ctl, FRAME_HELLO, b, sizeof b);
    }
    if (rc == 0) rc = qnet_public_encode(cfg->net, &model, &mlen);
    if (rc == 0 && mlen > FRAME_MAX_MODEL)
        rc = err_set(PARLEY_E_UNSUPPORTED, "the public model is %zu bytes, over the limit %u", mlen,
                     FRAME_MAX_MODEL);
    if (rc == 0) rc = frame_send(ctl, FRAME_MODEL, model, mlen);
    mem_free(model);
    mem_free(msg);
    msg = NULL;
    if (rc == 0) rc = frame_recv(ctl, FRAME_READY, &msg, &len); /* or the client's REJECT */
    mem_free(msg);
    chan *lanes[LANES_MAX] = {0};
    uint64_t tag;
    rand_os(&tag, sizeof tag);
    if (rc == 0) {
        uint8_t b[FRAME_LANES_BYTES];
        for (int i = 0; i < 8; i++)
            b[i] = (uint8_t)(tag >> (8 * i));
        rc = frame_send(ctl, FRAME_LANES, b, sizeof b);
    }
    if (rc == 0)
        rc = lanes_accept_session(lanes, cfg->lanes, l,
                                  cfg->hello_timeout_ms > 0 ? cfg->hello_timeout_ms
                                                            : CONTROL_TIMEOUT_MS,
                                  tag, stash, srv);
    add_stats(res, ctl);
    if (rc == 0) {
        for (unsigned i = 0; i < cfg->lanes; i++)
            chan_set_timeout(lanes[i], CHAN_DEFAULT_TIMEOUT_MS);
        rc = run_party(res, MPC_SERVER, lanes, cfg->lanes, cfg->net, cfg->mode, cfg->reveal,
                       cfg->ot, NULL, cfg->progress, cfg->progress_ctx, t0);
        lanes_close(lanes, cfg->lanes);
        if (rc == 0) {
            uint64_t v[3] = {res->rep.flights, res->rep.bytes_sent,
                             (uint64_t)(res->rep.seconds * 1e6)};
            uint8_t b[FRAME_REPORT_BYTES];
            for (int i = 0; i < 24; i++)
                b[i] = (uint8_t)(v[i / 8] >> (8 * (i % 8)));
            rc = frame_send(ctl, FRAME_REPORT, b, sizeof b);
        }
    }
    chan_close(ctl);
    return rc;
}

int session_infer(const char *host, int port, const nn_tensor *x, exec_progress_fn progress,
                  void *pctx, session_result *res) {
    memset(res, 0, sizeof *res);
    double t0 = time_now();
    chan *ctl = NULL;
    TRY(chan_connect(&ctl, host, port, CONNECT_TIMEOUT_MS));
    chan_set_timeout(ctl, CHAN_DEFAULT_TIMEOUT_MS); /* the server may be busy loading */
    session_hello h = {.kind = HELLO_CLIENT, .version = SESSION_VERSION};
    uint8_t b[HELLO_BYTES];
    hello_encode(b, &h);
    uint8_t *msg = NULL;
    size_t len = 0;
    uint64_t *xq = NULL;
    int rc = frame_send(ctl, FRAME_HELLO, b, sizeof b);
    if (rc == 0) rc = frame_recv(ctl, FRAME_HELLO, &msg, &len);
    if (rc == 0) rc = hello_parse(&h, msg, len);
    if (rc == 0 && h.version != SESSION_VERSION)
        rc = err_set(PARLEY_E_MISMATCH, "the server speaks protocol version %u, this client %u",
                     h.version, SESSION_VERSION);
    if (rc == 0 && h.kind != HELLO_SERVER)
        rc = err_set(PARLEY_E_PROTO, "the peer is not a parley server");
    mem_free(msg);
    msg = NULL;
    if (rc == 0) rc = frame_recv(ctl, FRAME_MODEL, &msg, &len);
    if (rc == 0) rc = qnet_public_decode(&res->net, msg, len);
    mem_free(msg);
    msg = NULL;
    if (rc == 0 && (res->net->l != h.l || res->net->s != h.s))
        rc = err_set(PARLEY_E_PROTO, "the server's model and hello disagree on l and s");
    if (rc == 0) {
        res->mode = h.mode;
        res->lanes = h.lanes;
        res->reveal = h.reveal;
        res->ot = h.ot;
        const qtensor *in = &res->net->t[res->net->input];
        char want[128], got[128];
        if (!nn_shape_eq(&in->shape, &x->shape)) {
            nn_shape_str(want, sizeof want, &in->shape);
            nn_shape_str(got, sizeof got, &x->shape);
            rc = err_set(PARLEY_E_MISMATCH, "the input has shape %s, the model expects %s", got,
                         want);
            (void)frame_reject(ctl, "the client's input has shape %s, the model expects %s", got,
                               want);
        } else {
            xq = mem_alloc(in->size, sizeof *xq);
            rc = xq ? qnet_encode_input(res->net, xq, x) : PARLEY_E_NOMEM;
            if (rc < 0) (void)frame_reject(ctl, "the client cannot use its input: %s", err_msg());
        }
    }
    if (rc == 0) rc = frame_send(ctl, FRAME_READY, NULL, 0);
    uint64_t tag = 0;
    if (rc == 0) rc = frame_recv(ctl, FRAME_LANES, &msg, &len);
    if (rc == 0 && len != FRAME_LANES_BYTES)
        rc = err_set(PARLEY_E_PROTO, "the server's lane tag is %zu bytes, not %d", len,
                     FRAME_LANES_BYTES);
    for (size_t i = 0; rc == 0 && i < 8; i++)
        tag |= (uint64_t)msg[i] << (8 * i);
    mem_free(msg);
    msg = NULL;
    chan *lanes[LANES_MAX] = {0};
    if (rc == 0) rc = lanes_connect_tag(lanes, h.lanes, host, port, CONTROL_TIMEOUT_MS, tag);
    add_stats(res, ctl);
    if (rc == 0) {
        rc = run_party(res, MPC_CLIENT, lanes, h.lanes, res->net, h.mode, h.reveal, h.ot, xq,
                       progress, pctx, t0);
        lanes_close(lanes, h.lanes);
        if (rc == 0) rc = frame_recv(ctl, FRAME_REPORT, &msg, &len);
        if (rc == 0 && len != FRAME_REPORT_BYTES)
            rc = err_set(PARLEY_E_PROTO, "the server's report is %zu bytes, not %d", len,
                         FRAME_REPORT_BYTES);
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
    chan_close(ctl);
    return rc;
}
