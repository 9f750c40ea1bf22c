/* Several connections ("lanes") per session, one per thread.
 *
 * The client opens `n` connections and starts each with a 16-byte lane
 * hello: magic "PRLN", wire version, lane index, lane count and a random
 * 64-bit session tag, so the server can tell which connection is which and
 * that all belong to one session. */
#ifndef PARLEY_NET_LANES_H
#define PARLEY_NET_LANES_H

#include "net/chan.h"

#define LANES_MAX 64
#define LANE_HELLO_BYTES 16
#define LANE_WIRE_VERSION 1

typedef struct lane_hello {
    unsigned index;
    unsigned count;
    uint64_t tag;
} lane_hello;

void lane_hello_encode(uint8_t out[LANE_HELLO_BYTES], const lane_hello *h);
/* Parse and validate peer bytes; PARLEY_E_PROTO with a message on bad input. */
int lane_hello_parse(lane_hello *out, const uint8_t *buf, size_t len) WUR;

/* Server: accept `n` lanes of one session, ordered by index. On failure all
 * accepted channels are closed. */
int lanes_accept(chan **lanes, unsigned n, chan_listener *l, int timeout_ms) WUR;
/* Client: open `n` lanes to host:port. */
int lanes_connect(chan **lanes, unsigned n, const char *host, int port, int timeout_ms) WUR;

/* A server that shares one port between sessions' control connections and
 * lanes: accept until `n` lanes carrying `tag` (the session's, announced to
 * its client) have arrived or timeout_ms has passed. A connection that is
 * not a lane (its first bytes are not a lane hello: another client's
 * control connection) goes to other(ctx, c), which takes it over; a lane
 * of another session, or a connection that says nothing for a few seconds,
 * is closed and the wait goes on. */
typedef void (*lanes_other_fn)(void *ctx, chan *c);
int lanes_accept_session(chan **lanes, unsigned n, chan_listener *l, int timeout_ms, uint64_t tag,
                         lanes_other_fn other, void *ctx) WUR;
/* Client: open `n` lanes carrying the session's tag. */
int lanes_connect_tag(chan **lanes, unsigned n, const char *host, int port, int timeout_ms,
                      uint64_t tag) WUR;
void lanes_close(chan **lanes, unsigned n);

#endif
