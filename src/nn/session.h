/* The session (ARCHITECTURE.md "The session"): everything between a server
 * that owns a model and a client that owns an input, in order:
 *   1. control connection: versioned hellos (nn/hello.h); the server's hello
 *      fixes mode, l, s, lanes, what is revealed and the OT backend;
 *   2. the server sends the public model (qnet_public_encode: architecture,
 *      shapes, l, s, weight bit widths — never weights); the client checks
 *      its input's shape and encodes it before any cryptography, and answers
 *      READY or a REJECT naming the mismatch;
 *   3. the client opens the lanes; both set up OT on every lane (and the HE
 *      keys in HE mode);
 *   4. the executor shares the input, runs the layers, reveals the output;
 *   5. the server reports its costs (flights, bytes, seconds) on the control
 *      connection, so the client can print the whole session's figures.
 * Any failure ends the session on both sides with one clear message; the
 * server can go on to the next client. */
#ifndef PARLEY_NN_SESSION_H
#define PARLEY_NN_SESSION_H

#include "net/chan.h"
#include "nn/exec.h"
#include "nn/hello.h"
#include "nn/tensor.h"

typedef struct server_cfg {
    const qnet *net;      /* with weights */
    unsigned mode;        /* MODE_OT / MODE_HE */
    unsigned lanes;       /* 1..LANES_MAX */
    unsigned reveal;      /* REVEAL_LOGITS / REVEAL_LABEL */
    unsigned ot;          /* OT_BACKEND_IKNP / OT_BACKEND_SILENT */
    int hello_timeout_ms; /* waiting for a client's control messages and lanes (0: 30 s) */
    exec_progress_fn progress;
    void *progress_ctx;
} server_cfg;

typedef struct session_result {
    qnet *net; /* client: the public model it received (qnet_free) */
    unsigned mode, lanes, reveal, ot;
    uint64_t *out; /* client: the output (or labels), mod 2^l (mem_free) */
    size_t nout;
    exec_report rep;      /* this party's costs */
    double setup_seconds; /* connection, hello, model, OT (and HE) set-up */
    uint64_t setup_bytes_sent, setup_bytes_recv;
    uint64_t peer_flights; /* client: the server's flights during the inference */
    double peer_seconds;   /* client: the server's time for the inference */
} session_result;

void session_result_free(session_result *r);

/* A server's listener and the control connections of clients that arrived
 * while another session was running (they are served next, in order). */
typedef struct session_server session_server;
/* l stays the caller's; close it after session_server_free. */
int session_server_new(session_server **out, chan_listener *l) WUR;
void session_server_free(session_server *srv);

/* Server: take the next waiting client, or wait up to accept_timeout_ms
 * (-1: forever) for one, and run one whole session with it. */
int session_serve_one(session_server *srv, const server_cfg *cfg, int accept_timeout_ms,
                      session_result *res) WUR;

/* Client: connect to host:port, run one whole session on input x. */
int session_infer(const char *host, int port, const nn_tensor *x, exec_progress_fn progress,
                  void *progress_ctx, session_result *res) WUR;

#endif
