/* The session (docs/ARCHITECTURE.md "The session"): everything between a server
 * that owns a model and a client that owns an input, over one connection
 * (a link, net/link.h: TLS 1.3 when configured), in order:
 *   1. the link's set-up: TLS handshake, link hellos, the client's token;
 *   2. on the control stream, versioned hellos (nn/hello.h); the server's
 *      hello fixes mode, l, s, lanes, what is revealed and the OT backend;
 *   3. the server sends the public model (qnet_public_encode: architecture,
 *      shapes, l, s, weight bit widths — never weights); the client checks
 *      what decoding and running it would make it allocate against its cap,
 *      checks its input's shape and encodes it before any cryptography, and
 *      answers READY or a REJECT naming the mismatch;
 *   4. both set up OT on every lane's stream (and the HE keys in HE mode);
 *   5. the executor shares the input, runs the layers, reveals the output;
 *   6. the server reports its costs (flights, bytes, seconds) on the control
 *      stream, so the client can print the whole session's figures.
 * Any failure ends the session on both sides with one clear message; the
 * server can go on to the next client.
 *
 * session_serve_conn and session_infer_conn run one whole session on one
 * connected socket each, so a server can run sessions in whatever processes
 * or threads it likes (one per accepted connection). */
#ifndef PARLEY_NN_SESSION_H
#define PARLEY_NN_SESSION_H

#include "net/link.h"
#include "nn/exec.h"
#include "nn/hello.h"
#include "nn/tensor.h"

/* What a client lets a server's session make it allocate by default: the
 * decoded description, the tensors the executor holds at once, and the
 * lanes' OT pools (ot_lane_memory) the server's lanes and OT choose
 * (--max-model-memory). */
#define SESSION_MAX_MODEL_MEMORY_DEFAULT ((uint64_t)2 << 30)

typedef struct server_cfg {
    const qnet *net;      /* with weights */
    unsigned mode;        /* MODE_OT / MODE_HE */
    unsigned lanes;       /* 1..LANES_MAX */
    unsigned reveal;      /* REVEAL_LOGITS / REVEAL_LABEL */
    unsigned ot;          /* OT_BACKEND_IKNP / OT_BACKEND_SILENT */
    unsigned leaves;      /* LEAVES_COT / LEAVES_VOLE4 (silent only; nn/hello.h) */
    int hello_timeout_ms; /* a client's link set-up and control messages (0: 30 s) */
    const link_opts *link; /* TLS, token, stash cap; NULL: plaintext with the defaults */
    int idle_timeout_ms;   /* a lane whose peer sends nothing this long fails (0:
                            * CHAN_DEFAULT_TIMEOUT_MS) */
    /* Batches. A client brings N inputs (the leading dimension of its
     * input); net serves N equal to its input's leading dimension. Another
     * N up to max_batch (0: 1) asks batch_net for the model at batch N
     * (NULL: refused); a model whose batch is fixed comes back with another
     * leading dimension and is refused. What batch_net returns stays its
     * own. */
    unsigned max_batch;
    int (*batch_net)(void *ctx, unsigned batch, const qnet **out);
    void *batch_ctx;
    exec_progress_fn progress;
    void *progress_ctx;
    /* The mode's back-end's work on net's weights made before the session
     * (HE: nn/prep.h's weight cache; lin_use_prepared), or NULL. */
    const void *lin_prepared;
} server_cfg;

typedef struct client_cfg {
    const link_opts *link;     /* NULL: plaintext with the defaults */
    uint64_t max_model_memory; /* bytes; 0: SESSION_MAX_MODEL_MEMORY_DEFAULT */
    exec_progress_fn progress;
    void *progress_ctx;
} client_cfg;

typedef struct session_result {
    qnet *net; /* client: the public model it received (qnet_free) */
    unsigned mode, lanes, reveal, ot, leaves;
    uint64_t *out; /* client: the output (or labels), mod 2^l (mem_free) */
    size_t nout;
    exec_report rep;      /* this party's costs */
    double setup_seconds; /* connection, hello, model, OT (and HE) set-up */
    uint64_t setup_bytes_sent, setup_bytes_recv;
    uint64_t peer_flights; /* client: the server's flights during the inference */
    double peer_seconds;   /* client: the server's time for the inference */
    link_stats link;       /* the session's link: framing overhead, peak receive stash */
    char transport[96];    /* "plaintext" or the TLS version and cipher */
    char peer[64];         /* server: the client's address */
    unsigned batch;        /* the inputs of the session (0: the hellos did not agree one) */
} session_result;

void session_result_free(session_result *r);

/* Server: one whole session on the accepted socket fd (taken). peer (may
 * be NULL) names the client in messages. */
int session_serve_conn(const server_cfg *cfg, int fd, const char *peer, session_result *res) WUR;
/* Client: one whole session on the connected socket fd (taken); the
 * batch it asks for is x's leading dimension (1 for a scalar). host is
 * the name the server's certificate must carry when cfg's link has TLS
 * with a CA (cfg->link->server_name, if set, wins). */
int session_infer_conn(const client_cfg *cfg, int fd, const char *host, const nn_tensor *x,
                       session_result *res) WUR;

/* Server: refuse the client on the accepted socket fd (taken) with one
 * line (a busy or stopping server): set up the link, read the client's
 * hello, answer with a REJECT carrying `line`, which the client prints.
 * Takes at most timeout_ms (0: 5 s). 0 once the line is sent. */
int session_refuse_conn(const server_cfg *cfg, int fd, const char *line, int timeout_ms) WUR;

/* A server's listener. l stays the caller's; close it after
 * session_server_free. */
typedef struct session_server session_server;
int session_server_new(session_server **out, chan_listener *l) WUR;
void session_server_free(session_server *srv);
/* Server: wait up to accept_timeout_ms (-1: forever) for the next client
 * and run one whole session with it. */
int session_serve_one(session_server *srv, const server_cfg *cfg, int accept_timeout_ms,
                      session_result *res) WUR;

/* Client: connect to host:port and run one whole session on input x. */
int session_infer_ex(const client_cfg *cfg, const char *host, int port, const nn_tensor *x,
                     session_result *res) WUR;
/* The same, plaintext, with the defaults. */
int session_infer(const char *host, int port, const nn_tensor *x, exec_progress_fn progress,
                  void *progress_ctx, session_result *res) WUR;

/* What the public model net, received as a description of desc_bytes
 * bytes, makes a client allocate at most: the decoded description and the
 * executor's tensors alive at once. */
uint64_t session_model_memory(const qnet *net, size_t desc_bytes);
/* What one party's OT pools hold in a session of net with these choices
 * (the hello's): nlanes x ot_lane_memory of the lanes' options. */
uint64_t session_ot_memory(const qnet *net, unsigned mode, unsigned nlanes, unsigned reveal,
                           unsigned ot, unsigned leaves);
/* The decoded description alone, bounded from its size before decoding. */
uint64_t session_decode_bound(size_t desc_bytes);

#endif
