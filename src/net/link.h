/* A link: the one connection of a session (TCP, optionally TLS 1.3), which
 * carries all of the session's streams as frames (net/frame.h): stream 0
 * is the control stream, streams 1..LANES_MAX the lanes' streams. Each
 * stream is used through the chan API (net/chan.h), unchanged: protocol
 * code does not know it shares a connection.
 *
 * Vocabulary. A *link* (net_link) is a connection; a *stream* is one ordered byte
 * stream inside it (a `chan`); a *lane* is one thread's share of a
 * session's work: a stream plus the OT and PRG state used on it
 * (ot/lane.h, mpc/party.h). "Lane" means nothing else.
 *
 * The design (docs/SECURITY.md, "Transport"):
 *   - one I/O thread per link owns the socket (and the TLS object, which
 *     OpenSSL does not allow two threads to use at once). Lanes hand it
 *     their bytes and wait until they are written; it reads whatever
 *     arrives, whichever lane it is for, into that lane's receive buffer
 *     (or straight into the buffer the lane is waiting to fill);
 *   - lanes run at the same time: frames carry at most FRAME_PAYLOAD_MAX
 *     bytes and the I/O thread takes them from the lanes in turn (smaller
 *     slices when several lanes have bytes to send);
 *   - per-stream flow control bounds what a peer can make us buffer: every
 *     stream starts with a window of the receiver's choosing, and credit
 *     comes back as the lane consumes. When both sides are blocked sending
 *     on one stream (two large flights at once, the case the old
 *     one-connection-per-lane channel solved by stashing), each grants the
 *     other more, up to its receive-stash cap; past the cap the session
 *     fails with PARLEY_E_LIMIT and a message naming the option that
 *     raises it. Nothing a peer sends is buffered beyond what was granted.
 *
 * Set-up: the server peeks at the first bytes of an accepted connection:
 * a TLS ClientHello (TLS server), or a link hello (plaintext server);
 * anything else is refused with one line (a plaintext client of a TLS
 * server, or a TLS client of a plaintext server, is told so). Then each
 * side sends its link hello; the server checks the client's token (if it
 * demands one) and answers with its own hello or a refusal line. */
#ifndef PARLEY_NET_LINK_H
#define PARLEY_NET_LINK_H

#include "net/chan.h"
#include "net/frame.h"
#include "net/tls.h"

/* The default receive-stash cap of a link: all streams' buffered bytes
 * together (--max-stash). Every stream's window is cap / (2 x streams),
 * at most LINK_WINDOW_DEFAULT; the other half is what two sides blocked
 * sending at once may grant each other. */
#define LINK_MAX_STASH_DEFAULT ((size_t)512 << 20)
#define LINK_MAX_STASH_MIN ((size_t)16 << 20)
#define LINK_WINDOW_DEFAULT (4u << 20)
#define LINK_SETUP_TIMEOUT_MS 30000

typedef struct net_link net_link;

typedef struct link_opts {
    size_t max_stash;        /* 0: LINK_MAX_STASH_DEFAULT; at least LINK_MAX_STASH_MIN */
    int timeout_ms;          /* set-up (TLS handshake and hellos); 0: LINK_SETUP_TIMEOUT_MS */
    const tls_ctx *tls;      /* NULL: plaintext */
    const char *server_name; /* client with TLS: the name the server's certificate must carry */
    const uint8_t *token;    /* client: the token digest it presents; server: the one it
                              * demands (NULL: none) */
} link_opts;

/* What a link cost beyond its streams' payload (which chan_stats count). */
typedef struct link_stats {
    uint64_t frames_sent, frames_recv;
    uint64_t overhead_sent, overhead_recv; /* frame headers and the link hellos */
    uint64_t stash_peak;                   /* most bytes buffered at once, all streams */
} link_stats;

/* Server: set up a link on the accepted socket fd (taken: closed on
 * failure). Client: on the connected socket fd (taken). Each fails with
 * one clear message (and tells the peer why where it can). */
int link_server(net_link **out, int fd, const link_opts *o) WUR;
int link_client(net_link **out, int fd, const link_opts *o) WUR;
/* Two linked ends in this process over a socketpair (tests, benchmarks). */
int link_pair(net_link **a, net_link **b, size_t max_stash) WUR;

/* Stream `id` (0..LINK_STREAMS_MAX-1) of the link; owned by the link. */
chan *link_chan(net_link *lk, unsigned id);
void link_get_stats(const net_link *lk, link_stats *out);
/* "plaintext" or the TLS version and cipher. */
const char *link_desc(const net_link *lk);
/* Fail every stream at once and stop (the peer sees the connection end). */
void link_abort(net_link *lk);
/* Send what is queued (within a few seconds), close the connection and
 * free the link and its streams (NULL is fine). */
void link_close(net_link *lk);

/* Sockets. net_accept: wait up to timeout_ms (-1: forever) for a
 * connection; *fd is the caller's; peer (may be NULL) gets "host:port". */
int net_accept(chan_listener *l, int *fd, char *peer, size_t cap, int timeout_ms) WUR;
/* Connect, retrying refused attempts until timeout_ms has passed. */
int net_connect(int *fd, const char *host, int port, int timeout_ms) WUR;
/* 1 if every address host resolves to is a loopback address, else 0;
 * negative if it does not resolve. */
int net_is_loopback(const char *host);

#endif
